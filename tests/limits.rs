//! The memory limits of a link (see `neonet::Limits`): a connection that
//! goes over its queue limit overflows, the largest ones overflow when the
//! link holds too much, new connections past the accept backlog or the
//! peer-connection limit are refused, replies cost O(1) when the peer does
//! not read, and a sender writes for others a bounded amount. Memory is
//! observed through the link's own count of queued bytes (`stats()`) and
//! work through counted writes; RSS is measured in `limits_memory.rs`.

#[macro_use]
mod common;

use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Mutex};
use std::thread;

use common::*;
use neonet::packet::HEADER_SIZE;
use neonet::Proto6;
use neonet::{ErrorKind, Limits, LinkRole, LinkStream, NodeLink, Packet};
const PACKET_OVERHEAD: usize = neonet::Limits::PACKET_OVERHEAD;
use neonet::error::REPLY_CLOSED;
use neonet::error::REPLY_REFUSED;

kind_tests!(
    [unix, tcp],
    TEST_LIMIT;
    a_conn_over_its_limit_overflows,
    an_empty_queue_takes_one_packet_of_any_size,
    the_largest_conns_overflow_over_the_link_limit,
    accept_backlog_and_peer_conns_are_bounded,
    replies_cost_o1_when_the_peer_does_not_read,
    a_sender_writes_for_others_a_bounded_amount,
);

/// A client's view of the link's reply on `conn`: the next packet must be
/// `Error(PROTOCOL_ERROR, text)`.
#[track_caller]
fn expect_reply(conn: &neonet::Conn, text: &str) {
    let p = conn.recv_pkt().unwrap();
    assert_reply(&p, conn.id(), text);
}

fn limits(f: impl FnOnce(&mut Limits)) -> Limits {
    let mut l = Limits::default();
    f(&mut l);
    l
}

/// A connection whose queue goes over its limit overflows: its queued
/// packets are dropped, its first receive reports `Overflow` and later ones
/// `ClosedConn`, and the peer is answered "connection closed", for later
/// packets too. Other connections go on.
fn a_conn_over_its_limit_overflows(kind: Kind) {
    let (client, server) = pair(kind);
    server.set_limits(limits(|l| l.conn_queue_bytes = 10_000));
    let (a, sa) = open_and_accept(&client, &server, 0x20, b"first");
    let chunk = vec![7u8; 4000];
    // 4128 + 4128 fit, the third goes over: the queue is dropped.
    for _ in 0..3 {
        a.send_pkt(Packet::new(0, 0x20, &chunk)).unwrap();
    }
    expect_reply(&a, REPLY_CLOSED);
    assert_eq!(server.stats().overflows, 1);
    assert_eq!(server.stats().queued_bytes, 0, "its queue was dropped");
    assert_kind(sa.recv_pkt(), ErrorKind::Overflow);
    assert_kind(sa.recv_pkt(), ErrorKind::ClosedConn);
    // Later packets to it are answered "connection closed" too.
    a.send_pkt(Packet::new(0, 0x20, b"more")).unwrap();
    expect_reply(&a, REPLY_CLOSED);
    // Sending on it still works, and other connections are fine.
    sa.send_pkt(Packet::new(0, 0x8020, b"still")).unwrap();
    assert_eq!(a.recv_pkt().unwrap().payload(), b"still");
    exchange(&client, &server, b"other", b"conns");
}

/// The limit never stops a single packet: an empty queue takes one of any
/// size (here 1 MiB against a 1 KiB limit).
fn an_empty_queue_takes_one_packet_of_any_size(kind: Kind) {
    let (client, server) = pair(kind);
    server.set_limits(limits(|l| l.conn_queue_bytes = 1024));
    let big = payload(3, 1 << 20);
    let (a, sa) = open_and_accept(&client, &server, 0x20, &big);
    a.send_pkt(Packet::new(0, 0x20, &big)).unwrap();
    assert_eq!(sa.recv_pkt().unwrap().payload(), &big[..]);
    assert_eq!(server.stats().overflows, 0);
}

/// Connections each under their limit but together over the link's: the
/// largest overflow until the link holds at most 7/8 of its limit; the
/// others keep their packets.
fn the_largest_conns_overflow_over_the_link_limit(kind: Kind) {
    let (client, server) = pair(kind);
    let limit = 400_000;
    server.set_limits(limits(|l| l.link_queue_bytes = limit));
    // Sizes in sending order; the last one takes the link over its limit
    // (410 000 bytes of payload).
    let sizes = [50_000, 60_000, 70_000, 150_000, 80_000];
    let conns: Vec<_> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let c = client.new_conn().unwrap();
            c.send_pkt(Packet::new(0, 0x20, &payload(i as u64, n)))
                .unwrap();
            c
        })
        .collect();
    // The 150 000 one overflowed: that leaves 260 000 + overheads, under
    // 7/8 of the limit, so nothing else did.
    expect_reply(&conns[3], REPLY_CLOSED);
    let st = server.stats();
    assert_eq!(st.overflows, 1, "{st:?}");
    let left: usize = [0, 1, 2, 4]
        .iter()
        .map(|&i| sizes[i] + PACKET_OVERHEAD)
        .sum();
    assert_eq!(st.queued_bytes, left);
    assert!(st.queued_bytes <= limit / 8 * 7);
    for (i, &n) in sizes.iter().enumerate() {
        let s = server.accept().unwrap();
        assert_eq!(s.id(), conns[i].id());
        if i == 3 {
            assert_kind(s.recv_pkt(), ErrorKind::Overflow);
        } else {
            assert_eq!(s.recv_pkt().unwrap().payload(), payload(i as u64, n));
        }
    }
    assert_eq!(server.stats().queued_bytes, 0);
}

/// Past the accept backlog, and past the limit of live connections the
/// peer opened, new connections are refused: nothing of them is kept.
fn accept_backlog_and_peer_conns_are_bounded(kind: Kind) {
    let (client, server) = pair(kind);
    server.set_limits(limits(|l| {
        l.accept_backlog = 3;
        l.peer_conns = 4;
    }));
    let open = |tag: u8| {
        let c = client.new_conn().unwrap();
        c.send_pkt(Packet::new(0, 0x20, &[tag])).unwrap();
        c
    };
    let waiting: Vec<_> = (0..3).map(open).collect();
    let refused = open(3);
    expect_reply(&refused, REPLY_REFUSED);
    assert_eq!(server.stats().refused, 1);
    assert_eq!(conns(&server).0, 3, "the refused one is not kept");
    // Accepted ones leave the backlog, but stay live connections: one
    // more fits under the limit of 4, the next does not.
    let accepted: Vec<_> = waiting
        .iter()
        .map(|c| {
            let s = server.accept().unwrap();
            assert_eq!(s.id(), c.id());
            s
        })
        .collect();
    let fourth = open(4);
    let fifth = open(5);
    expect_reply(&fifth, REPLY_REFUSED);
    assert_eq!(server.stats().refused, 2);
    let s4 = server.accept().unwrap();
    assert_eq!(
        (s4.id(), s4.recv_pkt().unwrap().payload()),
        (fourth.id(), &[4u8][..])
    );
    // Closing one makes room.
    drop(accepted);
    open_and_accept(&client, &server, 0x20, b"room again");
}

/// A peer that does not read, then 400 000 packets to connections that do
/// not exist: each is answered "connection closed", at a cost that does
/// not grow with the replies already waiting (counted in bytes offered to
/// non-blocking writes: once the socket is full, none until it has room),
/// and a packet for a live connection sent after them is delivered.
fn replies_cost_o1_when_the_peer_does_not_read(kind: Kind) {
    const N: usize = 400_000;
    let (link, peer, watch) = link_with_watched_peer(kind, LinkRole::Server);
    // A live connection the peer opened.
    write_raw_packet(&peer, 1, 0x20, b"live");
    let live = link.accept().unwrap();
    assert_eq!(live.recv_pkt().unwrap().payload(), b"live");

    // Ids of the server's parity that were never opened.
    let mut flood = Vec::with_capacity((N + 1) * HEADER_SIZE);
    for i in 0..N as u32 {
        flood.extend_from_slice(&raw_packet(2 * i, 0x20, b""));
    }
    // Sent after the flood: delivered once the reader got through it.
    flood.extend_from_slice(&raw_packet(1, 0x20, b"after"));
    thread::scope(|s| {
        s.spawn(|| (&peer).write_all(&flood).unwrap());
        assert_eq!(live.recv_pkt().unwrap().payload(), b"after");
    });

    let reply_len = raw_packet(0, 0x8000, &[0; 8 + REPLY_CLOSED.len()]).len();
    let offered = watch.try_write_bytes.load(Ordering::SeqCst);
    let calls = watch.try_writes.load(Ordering::SeqCst);
    let st = link.stats();
    eprintln!(
        "{kind:?}: {calls} non-blocking writes offering {offered} bytes for {N} replies \
         of {reply_len} bytes; {} dropped",
        st.dropped_replies
    );
    // Each reply is offered to the socket at most about once; retrying
    // what waits on every reply would offer up to the whole reply queue
    // (1 MiB) each time.
    assert!(offered <= 2 * N * reply_len, "{offered} bytes offered");
    assert!(calls <= 2 * N, "{calls} non-blocking writes");
    assert!(
        st.dropped_replies > 0,
        "the replies did not fill the socket"
    );

    // Let close write what waits, then see the link close.
    let drain = thread::spawn(move || read_to_eof(&peer).map(|b| b.len()));
    link.close();
    drain.join().unwrap().unwrap();
}

/// A stream whose blocking writes wait for the test's permission, and say
/// which thread is about to write.
#[derive(Debug)]
struct GatedStream {
    inner: Raw,
    writing: mpsc::Sender<thread::ThreadId>,
    permits: Mutex<mpsc::Receiver<()>>,
}

impl GatedStream {
    fn gate(&self) {
        self.writing.send(thread::current().id()).unwrap();
        self.permits.lock().unwrap().recv().unwrap();
    }
}

impl neonet::stream::TestStream for GatedStream {}

impl LinkStream for GatedStream {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.try_read(buf)
    }
    fn readable(&self) -> io::Result<bool> {
        self.inner.readable()
    }
    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.gate();
        self.inner.write(buf)
    }
    fn write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.gate();
        self.inner.write_vectored(bufs)
    }
    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.try_write(buf)
    }
    fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.inner.fd()
    }
    fn shutdown(&self) -> io::Result<()> {
        self.inner.shutdown()
    }
    fn local_addr(&self) -> neonet::Addr {
        self.inner.local_addr()
    }
    fn peer_addr(&self) -> neonet::Addr {
        self.inner.peer_addr()
    }
}

/// The writer's holder writes, round after round, what others queued
/// meanwhile — for a bounded number of rounds, after which it hands off:
/// no `send` writes for others indefinitely. Each write waits for the
/// test, which makes a new sender queue a packet before letting it go on,
/// 20 times; every send still makes a bounded number of writes, and every
/// packet arrives, in order.
fn a_sender_writes_for_others_a_bounded_amount(kind: Kind) {
    const ROUNDS: usize = 20;
    // Its own packet and 4 rounds for others (the holder's `FLUSH_ROUNDS`),
    // with one to spare.
    const BOUND: usize = 6;
    let (ours, peer) = raw_streams(kind);
    let (writing_tx, writing) = mpsc::channel();
    let (permit, permits) = mpsc::channel();
    let stream = GatedStream {
        inner: ours,
        writing: writing_tx,
        permits: Mutex::new(permits),
    };
    let link = NodeLink::<Proto6>::new(stream, LinkRole::Client).unwrap();
    let conn = link.new_conn().unwrap();
    let mut writes = std::collections::HashMap::<thread::ThreadId, usize>::new();
    thread::scope(|s| {
        let send = |i: u32| {
            let conn = &conn;
            s.spawn(move || {
                conn.send_pkt(Packet::new(0, 0x20, &i.to_be_bytes()))
                    .unwrap();
                thread::current().id()
            })
        };
        let mut senders = vec![send(0)];
        for i in 1..=ROUNDS as u32 {
            // Someone is in write (the queue was taken for it).
            *writes.entry(writing.recv().unwrap()).or_default() += 1;
            let queued = link.stats().unsent_bytes;
            senders.push(send(i));
            assert!(
                wait_until(TEST_LIMIT, || link.stats().unsent_bytes > queued),
                "packet {i} not queued"
            );
            permit.send(()).unwrap();
        }
        // Let the last writes through.
        let done = s.spawn(|| {
            for h in senders {
                h.join().unwrap();
            }
        });
        while !done.is_finished() {
            if let Ok(id) = writing.recv_timeout(std::time::Duration::from_millis(10)) {
                *writes.entry(id).or_default() += 1;
                permit.send(()).unwrap();
            }
        }
    });
    let most = writes.values().max().copied().unwrap_or(0);
    eprintln!("{kind:?}: writes per sending thread: {writes:?}");
    assert!(most <= BOUND, "one send made {most} writes");
    for i in 0..=ROUNDS as u32 {
        let p = read_raw_packet(&peer).unwrap();
        assert_eq!(p.payload(), i.to_be_bytes(), "packet {i}");
    }
}

#[test]
fn link_limits_can_be_read_back() {
    let (client, _server) = NodeLink::<Proto6>::pair().unwrap();
    assert_eq!(client.limits(), Limits::default());
    let l = limits(|l| l.reply_bytes = 77);
    client.set_limits(l);
    assert_eq!(client.limits(), l);
}
