//! Load: many threads on one link, no head-of-line blocking, and a
//! connection table that stays small over many open/close cycles
//! (DESIGN §3, §5). Every test runs under a watchdog; none asserts a time.

#[macro_use]
mod common;

use std::io;
use std::thread;
use std::time::Duration;

use common::*;
use neonet::{ErrorKind, LinkStats, NodeLink, Packet};

/// A stress test's watchdog: generous, it only catches deadlocks.
const STRESS_LIMIT: Duration = Duration::from_secs(60);

kind_tests!([unix, tcp], STRESS_LIMIT; many_threads, many_threads_no_spin, open_close_cycles_keep_table_small);

// ---- 9. no head-of-line blocking ----

kind_test!(no_head_of_line_blocking, |kind| {
    const FLOOD: u64 = 10_000;
    let (client, server) = pair(kind);
    // 10 000 packets for a connection nobody reads (about 1.2 MB: more
    // than the socket buffers hold, so a reader that waited for this
    // connection's receiver would stop the link).
    let flood = client.new_conn().unwrap();
    for i in 0..FLOOD {
        flood
            .send_pkt(Packet::new(0, 0x20, &payload(i, 100 + (i % 50) as usize)))
            .unwrap();
    }
    let idle = server.accept().unwrap();
    assert_eq!(idle.id(), flood.id());

    // Another connection's exchange goes through meanwhile.
    let c = client.new_conn().unwrap();
    let mut s = None;
    for round in 0..100u64 {
        let req = payload(1_000_000 + round, 64);
        c.send_pkt(Packet::new(0, 0x20, &req)).unwrap();
        let sc = s.get_or_insert_with(|| server.accept().unwrap());
        assert_eq!(sc.id(), c.id());
        assert_eq!(sc.recv_pkt().unwrap().payload(), req);
        sc.send_pkt(Packet::new(0, 0x8020, &req[..8])).unwrap();
        assert_eq!(c.recv_pkt().unwrap().payload(), &req[..8]);
    }

    // The flood is all there, in order.
    for i in 0..FLOOD {
        let p = idle.recv_pkt().unwrap();
        assert_eq!(
            p.payload(),
            payload(i, 100 + (i % 50) as usize),
            "flood packet {i}"
        );
    }
});

kind_test!(no_head_of_line_blocking_while_flooding, |kind| {
    // The same with the flood still being sent while the other
    // connection exchanges.
    let (client, server) = pair(kind);
    let flood = client.new_conn().unwrap();
    flood.send_pkt(Packet::new(0, 0x20, b"start")).unwrap();
    let idle = server.accept().unwrap();
    thread::scope(|s| {
        s.spawn(|| {
            for i in 0..10_000u64 {
                flood
                    .send_pkt(Packet::new(0, 0x20, &payload(i, 200)))
                    .unwrap();
            }
        });
        let (c, sc) = open_and_accept(&client, &server, 0x20, b"hello");
        for round in 0..200u64 {
            let req = payload(round, 32);
            sc.send_pkt(Packet::new(0, 0x20, &req)).unwrap();
            assert_eq!(c.recv_pkt().unwrap().payload(), req);
            c.send_pkt(Packet::new(0, 0x8020, &req[..4])).unwrap();
            assert_eq!(sc.recv_pkt().unwrap().payload(), &req[..4]);
        }
    });
    assert_eq!(idle.recv_pkt().unwrap().payload(), b"start");
    for i in 0..10_000u64 {
        assert_eq!(idle.recv_pkt().unwrap().payload(), payload(i, 200));
    }
});

kind_test!(concurrent_senders_on_one_conn_do_not_interleave, |kind| {
    // Four threads send on the same connection at once, packets of every
    // size: each arrives whole, and each thread's packets in its order.
    const SENDERS: u32 = 4;
    const EACH: u32 = 300;
    let (client, server) = pair(kind);
    let (c, s) = open_and_accept(&client, &server, 0x20, b"open");
    thread::scope(|sc| {
        for t in 0..SENDERS {
            let c = &c;
            sc.spawn(move || {
                for r in 0..EACH {
                    c.send_pkt(Packet::new(0, 0x20, &request(t, r))).unwrap();
                }
            });
        }
        let mut next = [0u32; SENDERS as usize];
        for _ in 0..SENDERS * EACH {
            let p = s.recv_pkt().unwrap();
            let t = u32::from_be_bytes(p.payload()[0..4].try_into().unwrap());
            let r = u32::from_be_bytes(p.payload()[4..8].try_into().unwrap());
            assert!(t < SENDERS, "garbage packet");
            assert_eq!(r, next[t as usize], "packets of thread {t} out of order");
            assert!(
                p.payload() == request(t, r),
                "packet {r} of thread {t} corrupted"
            );
            next[t as usize] += 1;
        }
    });
});

// ---- close racing receivers that are about to wait ----

/// How many times a close races a fresh pair of receivers: the window
/// where a lost wake-up would happen is a few instructions wide, and
/// 20000 races hit it reliably when it exists (checked by reopening it).
const RACES: usize = 20_000;

kind_test!(close_racing_receivers_never_leaves_one_blocked, |kind| {
    // Receivers start waiting while another thread closes their connection
    // (no delay: the close lands before, during or after they start to
    // wait). Every one of them returns ClosedConn; one left blocked would
    // hang the test until the watchdog fails it.
    let (client, _server) = pair(kind);
    for i in 0..RACES {
        let c = client.new_conn().unwrap();
        thread::scope(|s| {
            let receivers: Vec<_> = (0..2).map(|_| s.spawn(|| c.recv_pkt())).collect();
            if i % 2 == 0 {
                c.close();
            } else {
                c.close_recv();
            }
            for r in receivers {
                assert_kind(r.join().unwrap(), ErrorKind::ClosedConn);
            }
        });
    }
});

kind_test!(
    link_down_racing_receivers_never_leaves_one_blocked,
    |kind| {
        // The same with the link going down (the peer closes it) while the
        // receivers start waiting: each returns an error.
        for _ in 0..200 {
            let (client, server) = pair(kind);
            let conns: Vec<_> = (0..4).map(|_| client.new_conn().unwrap()).collect();
            thread::scope(|s| {
                let receivers: Vec<_> = conns.iter().map(|c| s.spawn(|| c.recv_pkt())).collect();
                server.close();
                for r in receivers {
                    // The first recv on each conn reports the cause (§4).
                    assert_io_kind(r.join().unwrap(), io::ErrorKind::UnexpectedEof);
                }
            });
        }
    }
);

kind_test!(concurrent_new_conn_ids_are_unique, |kind| {
    let (client, _server) = pair(kind);
    let ids = std::sync::Mutex::new(Vec::new());
    thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                let mut keep = Vec::new();
                for i in 0..1000 {
                    let c = client.new_conn().unwrap();
                    ids.lock().unwrap().push(c.id());
                    // Keep half of them open.
                    if i % 2 == 0 {
                        keep.push(c);
                    }
                }
                keep
            });
        }
    });
    let mut ids = ids.into_inner().unwrap();
    assert!(ids.iter().all(|id| id % 2 == 1), "client ids must be odd");
    ids.sort_unstable();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "an id was handed out twice");
    assert_eq!(client.stats().live_conns, 0);
});

// ---- 11. many threads over one link ----

const THREADS: u32 = 8;
const ROUNDS: u32 = 2_000;

/// Payload length of round `r` of thread `t`: mostly small, sometimes
/// empty, now and then larger than the 64 KiB read-ahead buffer.
fn size_of(t: u32, r: u32) -> usize {
    let x = (u64::from(t) * 7919 + u64::from(r) * 104_729) % 100_003;
    if r % 97 == 13 {
        65_536 + (x as usize % 10_000)
    } else if r % 50 == 7 {
        0
    } else {
        1 + x as usize % 3000
    }
}

/// The request of round `r` of thread `t`: its (t, r) then a body unique
/// to them.
fn request(t: u32, r: u32) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&t.to_be_bytes());
    p.extend_from_slice(&r.to_be_bytes());
    p.extend_from_slice(&payload(u64::from(t) << 32 | u64::from(r), size_of(t, r)));
    p
}

/// The answer to a request: its bytes reversed.
fn answer(req: &[u8]) -> Vec<u8> {
    req.iter().rev().copied().collect()
}

fn many_threads(kind: Kind) {
    let (client, server) = pair(kind);
    many_threads_rounds(client, server, ROUNDS);
}

fn many_threads_rounds(client: NodeLink, server: NodeLink, rounds: u32) {
    thread::scope(|s| {
        // Servers: each accepts one connection and answers its requests,
        // checking each against what that thread must send in that round.
        for _ in 0..THREADS {
            s.spawn(|| {
                let conn = server.accept().unwrap();
                let mut thread_id = None;
                for r in 0..rounds {
                    let p = conn.recv_pkt().unwrap();
                    assert_eq!(p.conn_id(), conn.id());
                    assert_eq!(p.msg_code(), 0x20);
                    let t = u32::from_be_bytes(p.payload()[0..4].try_into().unwrap());
                    assert_eq!(
                        *thread_id.get_or_insert(t),
                        t,
                        "requests of two threads on one conn"
                    );
                    assert!(
                        p.payload() == request(t, r),
                        "request {r} of thread {t} corrupted"
                    );
                    conn.send_pkt(Packet::new(0, 0x8020, &answer(p.payload())))
                        .unwrap();
                }
            });
        }
        // Clients: one connection each, ROUNDS round trips.
        for t in 0..THREADS {
            let client = &client;
            s.spawn(move || {
                let conn = client.new_conn().unwrap();
                assert_eq!(conn.id() % 2, 1);
                for r in 0..rounds {
                    let req = request(t, r);
                    conn.send_pkt(Packet::new(0, 0x20, &req)).unwrap();
                    let p = conn.recv_pkt().unwrap();
                    assert_eq!((p.conn_id(), p.msg_code()), (conn.id(), 0x8020));
                    assert!(
                        p.payload() == answer(&req),
                        "answer {r} of thread {t} corrupted"
                    );
                }
            });
        }
    });
    assert_eq!(conns(&client), (0, 0));
    assert_eq!(server.stats().live_conns, 0);
}

/// The same without any polling before sleeping: every hand-off goes
/// through the blocking paths (a lost wake-up shows as a deadlock).
fn many_threads_no_spin(kind: Kind) {
    let (client, server) = pair(kind);
    client.set_spin(Duration::ZERO);
    server.set_spin(Duration::ZERO);
    many_threads_rounds(client, server, 500);
}

// ---- 7. many open/close cycles leave the table small ----

const CYCLES: u32 = 100_000;

/// The peer (client) opens a connection and sends one packet, we (server)
/// accept it, receive and close it; `CYCLES` times. Returns the largest
/// table seen along the way.
fn open_close_cycles(client: &NodeLink, server: &NodeLink) -> LinkStats {
    server.set_keep_closed(Duration::from_millis(1));
    let mut max = LinkStats::default();
    for i in 0..CYCLES {
        let c = client.new_conn().unwrap();
        assert_eq!(c.id(), 2 * i + 1);
        c.send_pkt(Packet::new(0, 0x20, &i.to_be_bytes())).unwrap();
        let s = server.accept().unwrap();
        assert_eq!(s.id(), c.id());
        assert_eq!(s.recv_pkt().unwrap().payload(), i.to_be_bytes());
        s.close();
        drop(c);
        if i % 1000 == 0 {
            let st = server.stats();
            max.live_conns = max.live_conns.max(st.live_conns);
            max.tombstones = max.tombstones.max(st.tombstones);
        }
    }
    max
}

fn open_close_cycles_keep_table_small(kind: Kind) {
    let (client, server) = pair(kind);
    let max = open_close_cycles(&client, &server);
    // With a 1 ms keep, only the connections closed in the last moments
    // have a tombstone: a few hundred at most at any pace, against
    // 100 000 if expired ones accumulated.
    assert!(max.live_conns <= 1, "live connections grew: {max:?}");
    assert!(max.tombstones < 5_000, "tombstones accumulate: {max:?}");
    let end = server.stats();
    assert_eq!(end.live_conns, 0, "{end:?}");
    assert!(end.tombstones < 5_000, "tombstones accumulate: {end:?}");
    assert_eq!(conns(&client), (0, 0));
    // They all expire.
    assert!(
        wait_until(Duration::from_secs(10), || server.stats().tombstones == 0),
        "tombstones left: {:?}",
        server.stats()
    );
    // The link still works.
    open_and_accept(&client, &server, 0x20, b"still alive");
}
