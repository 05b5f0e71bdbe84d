//! The sending side (DESIGN §5): senders of small packets do not queue up
//! behind a write that is stuck; their packets are written by whoever
//! holds the writer, never left behind, never interleaved, and a peer
//! that does not read slows senders down instead of growing a queue.

#[macro_use]
mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::{mpsc, Arc};
use std::thread;

use common::*;
use neonet::proto::{DecodeError, Message, Msg, Ping};
use neonet::{LinkRole, NodeLink, Packet};

/// A client link whose peer is a raw stream that reads only when told,
/// and the receiver of the link's large-write reports.
fn link_with_silent_peer(kind: Kind) -> (NodeLink, Raw, mpsc::Receiver<()>) {
    let (link, peer, watch) = link_with_watched_peer(kind, LinkRole::Client);
    (link, peer, watch.large_writes)
}

/// Reads packets from the raw peer until `n` came; checks that each
/// connection's packets are whole and in the order of `expected(id, i)`.
fn read_in_order(peer: &Raw, n: usize, expected: impl Fn(u32, usize) -> Vec<u8>) {
    let mut next = std::collections::HashMap::<u32, usize>::new();
    for _ in 0..n {
        let p = read_raw_packet(peer).expect("read packet");
        let i = next.entry(p.conn_id()).or_default();
        assert!(
            p.payload() == expected(p.conn_id(), *i),
            "packet {i} of conn {} is not the one sent in that place",
            p.conn_id()
        );
        *i += 1;
    }
}

kind_test!(small_sends_do_not_wait_for_a_stuck_large_one, |kind| {
    // One thread's large packet is stuck in the socket (the peer does not
    // read). Small sends on another connection return meanwhile (were they
    // waiting for the writer, this test would deadlock: the peer reads only
    // after they return), and reach the peer after the large packet,
    // written by the thread that held the writer when it was done: nobody
    // sends anything after them.
    const SMALL: usize = 100;
    let (link, peer, large_write) = link_with_silent_peer(kind);
    let big = link.new_conn().unwrap();
    let small = link.new_conn().unwrap();
    let (big_id, small_id) = (big.id(), small.id());
    let expected = move |id: u32, i: usize| {
        if id == big_id {
            assert_eq!(i, 0, "one large packet only");
            payload(7, LARGE)
        } else {
            assert_eq!(id, small_id, "packet on an unknown conn");
            payload(i as u64, 100)
        }
    };
    thread::scope(|s| {
        let sender = s.spawn(|| big.send_pkt(Packet::new(0, 0x20, &payload(7, LARGE))));
        large_write.recv().expect("the large write starts");
        for i in 0..SMALL {
            small
                .send_pkt(Packet::new(0, 0x20, &payload(i as u64, 100)))
                .unwrap();
        }
        read_in_order(&peer, 1 + SMALL, expected);
        sender.join().unwrap().unwrap();
    });
});

kind_test!(a_peer_that_does_not_read_slows_senders_down, |kind| {
    // While the large packet is stuck, a sender sends far more small
    // packets than the queue takes: past the limit it waits for the writer
    // (in a thread: it blocks until the peer reads). Everything arrives,
    // whole and in order.
    const SMALL: usize = 4096;
    let (link, peer, large_write) = link_with_silent_peer(kind);
    let big = link.new_conn().unwrap();
    let small = link.new_conn().unwrap();
    let big_id = big.id();
    let expected = move |id: u32, i: usize| {
        if id == big_id {
            payload(7, LARGE)
        } else {
            payload(i as u64, 1000)
        }
    };
    thread::scope(|s| {
        let big_sender = s.spawn(|| big.send_pkt(Packet::new(0, 0x20, &payload(7, LARGE))));
        large_write.recv().expect("the large write starts");
        let small_sender = s.spawn(|| {
            for i in 0..SMALL {
                small.send_pkt(Packet::new(0, 0x20, &payload(i as u64, 1000)))?;
            }
            Ok::<_, neonet::Error>(())
        });
        // 4 MB is past what the queue takes: the sender must be waiting
        // for the writer, which stays stuck until the peer reads. (The
        // delay only gives it time to finish wrongly.)
        thread::sleep(LET_BLOCK);
        assert!(
            !small_sender.is_finished(),
            "4 MB of small packets queued for a peer that does not read"
        );
        read_in_order(&peer, 1 + SMALL, expected);
        big_sender.join().unwrap().unwrap();
        small_sender.join().unwrap().unwrap();
    });
});

kind_test!(many_senders_many_conns_all_arrive_in_order, |kind| {
    // Eight threads, each on its own connection, send small and large
    // packets at once: whoever holds the writer writes the others' small
    // packets too; each connection's packets arrive whole and in order.
    const SENDERS: usize = 8;
    const EACH: usize = 400;
    let size = |t: usize, i: usize| {
        if i.is_multiple_of(97) {
            70_000
        } else {
            10 + (t * 31 + i) % 500
        }
    };
    let (link, peer) = link_with_raw_peer(kind, LinkRole::Client);
    let conns: Vec<_> = (0..SENDERS).map(|_| link.new_conn().unwrap()).collect();
    let ids: Vec<u32> = conns.iter().map(|c| c.id()).collect();
    let expected = move |id: u32, i: usize| {
        let t = ids.iter().position(|&x| x == id).expect("known conn");
        payload((t * EACH + i) as u64, size(t, i))
    };
    thread::scope(|s| {
        for (t, c) in conns.iter().enumerate() {
            s.spawn(move || {
                for i in 0..EACH {
                    let p = payload((t * EACH + i) as u64, size(t, i));
                    c.send_pkt(Packet::new(0, 0x20, &p)).unwrap();
                }
            });
        }
        read_in_order(&peer, SENDERS * EACH, expected);
    });
});

/// A hand-written message whose encoding panics halfway (the `messages!`
/// table never does; a hand-written `Msg` can).
#[derive(Debug, Clone, PartialEq)]
struct Bomb;

impl Msg for Bomb {
    type Dialect = neonet::Proto6;
    const CODE: u16 = 0x7777;
    const NAME: &'static str = "Bomb";
    const FIELDS: &'static [&'static str] = &[];

    fn encoded_len(&self) -> usize {
        8
    }

    fn encode_into(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(b"half");
        panic!("Bomb: encoding fails halfway");
    }

    fn encode_parts<'a>(&'a self, buf: &mut Vec<u8>) -> Vec<(usize, &'a [u8])> {
        self.encode_into(buf);
        Vec::new()
    }

    fn decode(_: &[u8]) -> Result<Self, DecodeError> {
        Ok(Bomb)
    }

    fn decode_shared(_: &Arc<Vec<u8>>, _: usize) -> Result<Self, DecodeError> {
        Ok(Bomb)
    }

    fn into_message(self) -> Message {
        Message::Ping(Ping {})
    }

    fn from_message(m: Message) -> Result<Self, Message> {
        Err(m)
    }
}

/// Sends a `Bomb` on `conn`, expecting the panic.
fn send_bomb(conn: &neonet::Conn) {
    let res = panic::catch_unwind(AssertUnwindSafe(|| conn.send(&Bomb)));
    assert!(res.is_err(), "the Bomb's encoding panics");
}

/// Reads one packet from the raw peer and checks it is a `Ping` on `id`.
fn expect_ping(peer: &Raw, id: u32) {
    let p = read_raw_packet(peer).expect("read packet");
    assert_eq!(
        (p.conn_id(), p.msg_code(), p.payload()),
        (id, Ping::CODE, &[][..])
    );
}

kind_test!(a_panicking_encoder_leaves_nothing_on_the_wire, |kind| {
    // The writer is free: the panic happens while encoding our own packet.
    let (link, peer) = link_with_raw_peer(kind, LinkRole::Client);
    let c = link.new_conn().unwrap();
    send_bomb(&c);
    c.send(&Ping {}).unwrap();
    expect_ping(&peer, c.id());
});

kind_test!(a_panicking_encoder_leaves_nothing_in_the_queue, |kind| {
    // The writer is busy with a stuck large packet: the panic happens while
    // queueing. What is queued after it arrives intact after the large one.
    let (link, peer, large_write) = link_with_silent_peer(kind);
    let big = link.new_conn().unwrap();
    let small = link.new_conn().unwrap();
    thread::scope(|s| {
        let sender = s.spawn(|| big.send_pkt(Packet::new(0, 0x20, &payload(7, LARGE))));
        large_write.recv().expect("the large write starts");
        small.send(&Ping {}).unwrap();
        send_bomb(&small);
        small.send(&Ping {}).unwrap();
        read_in_order(&peer, 1, |_, _| payload(7, LARGE));
        expect_ping(&peer, small.id());
        expect_ping(&peer, small.id());
        sender.join().unwrap().unwrap();
    });
});
