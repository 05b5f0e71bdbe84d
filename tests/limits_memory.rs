//! What a hostile peer can make a link hold, measured as the process's
//! resident memory (RSS, from /proc/self/status): a flood of connections
//! nobody accepts, and 1 GiB sent to a connection nobody reads. A test
//! binary of its own, with one test running the cases in turn, so that
//! nothing else allocates while it measures. Each case measures the peak
//! of resident memory (VmHWM, reset before the case) above where it began.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;

use common::*;
use neonet::error::REPLY_REFUSED;
use neonet::proto::{Ping, Pong};
use neonet::{ErrorKind, LinkRole, Packet};

const MIB: usize = 1 << 20;

/// A field of /proc/self/status in bytes (`VmRSS`: resident memory now,
/// `VmHWM`: its peak).
fn status(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    kb * 1024
}

/// Resets the peak of resident memory to the current value, and returns
/// that value: what a case then adds at its worst is `peak() - start`.
fn reset_peak() -> usize {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the RSS peak");
    status("VmRSS")
}

/// The peak of resident memory since `reset_peak`.
fn peak() -> usize {
    status("VmHWM")
}

#[test]
fn hostile_peers_hold_bounded_memory() {
    for kind in [Kind::Unix, Kind::Tcp] {
        watchdog(TEST_LIMIT * 4, move || {
            unaccepted_connections(kind);
            unread_connection(kind);
        });
    }
}

/// 200 000 packets each opening a connection that nobody accepts (1.9 MiB
/// on the wire): RSS grows by less than 32 MiB, the excess is refused
/// ("connection refused" reaches the peer), and an `ask1` on the same link
/// works during and after the flood.
fn unaccepted_connections(kind: Kind) {
    const N: u32 = 200_000;
    let (link, peer) = link_with_raw_peer(kind, LinkRole::Server);
    let rss0 = reset_peak();
    let peer_writes = Mutex::new(());
    let refused = AtomicUsize::new(0);
    let pongs = AtomicUsize::new(0);
    let flooding = AtomicBool::new(true);
    thread::scope(|s| {
        // The peer: counts the refusals, answers our pings.
        let reader = s.spawn(|| loop {
            let Ok(p) = read_raw_packet(&peer) else {
                return;
            };
            if p.msg_code() == 0x8000 {
                let (_, text) = decode_error_reply(&p);
                assert_eq!(text, REPLY_REFUSED);
                refused.fetch_add(1, Ordering::SeqCst);
            } else {
                assert_eq!(p.msg_code(), 0x0002, "a Ping");
                let _w = peer_writes.lock().unwrap();
                write_raw_packet(&peer, p.conn_id(), 0x8002, b"");
                pongs.fetch_add(1, Ordering::SeqCst);
            }
        });
        s.spawn(|| {
            for chunk in (0..N).collect::<Vec<_>>().chunks(1000) {
                let mut b = Vec::new();
                for &i in chunk {
                    b.extend_from_slice(&raw_packet(2 * i + 1, 0x20, b""));
                }
                let _w = peer_writes.lock().unwrap();
                std::io::Write::write_all(&mut &peer, &b).unwrap();
            }
            flooding.store(false, Ordering::SeqCst);
        });
        // During the flood.
        let mut asked = 0;
        while flooding.load(Ordering::SeqCst) || asked == 0 {
            let _: Pong = link.ask1(&Ping {}).unwrap();
            asked += 1;
        }
        let backlog = link.limits().accept_backlog;
        let want = N as usize - backlog;
        assert!(
            wait_until(TEST_LIMIT, || refused.load(Ordering::SeqCst)
                + link.stats().dropped_replies as usize
                >= want),
            "{} refusals received",
            refused.load(Ordering::SeqCst)
        );
        let grown = peak().saturating_sub(rss0);
        let st = link.stats();
        eprintln!(
            "{kind:?}: {N} unaccepted connections: peak RSS +{:.1} MiB; {} refused \
             ({} replies dropped), {} live, {asked} ask1 during",
            grown as f64 / MIB as f64,
            st.refused,
            st.dropped_replies,
            st.live_conns
        );
        assert_eq!(st.refused as usize, want);
        assert_eq!(st.live_conns, backlog);
        assert!(grown < 32 * MIB, "RSS grew by {grown} bytes");
        // After.
        let _: Pong = link.ask1(&Ping {}).unwrap();
        link.close();
        reader.join().unwrap();
    });
}

/// 1 GiB sent to one connection the application never reads, while
/// another connection does 1000 request/reply rounds: every round
/// completes, the flooded connection reports `Overflow`, and RSS grows by
/// less than twice the per-connection limit.
fn unread_connection(kind: Kind) {
    const TOTAL: usize = 1 << 30;
    const CHUNK: usize = MIB;
    let (client, server) = pair(kind);
    let limit = server.limits().conn_queue_bytes;
    let rss0 = reset_peak();
    let (flood, flooded) = open_and_accept(&client, &server, 0x20, b"first");
    let chunk = vec![0x5a; CHUNK];
    thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..TOTAL / CHUNK {
                flood.send_pkt(Packet::new(0, 0x20, &chunk)).unwrap();
            }
        });
        // The other connection is served meanwhile.
        let srv = s.spawn(|| {
            let conn = server.accept().unwrap();
            for _ in 0..1000 {
                let _: Ping = conn.expect().unwrap();
                conn.send(&Pong {}).unwrap();
            }
        });
        let conn = client.new_conn().unwrap();
        for _ in 0..1000 {
            let _: Pong = conn.ask(&Ping {}).unwrap();
        }
        srv.join().unwrap();
    });
    let grown = peak().saturating_sub(rss0);
    eprintln!(
        "{kind:?}: 1 GiB to an unread connection: peak RSS +{:.1} MiB, {} overflow(s)",
        grown as f64 / MIB as f64,
        server.stats().overflows
    );
    assert_kind(flooded.recv_pkt(), ErrorKind::Overflow);
    assert_eq!(server.stats().overflows, 1);
    assert!(grown < 2 * limit, "RSS grew by {grown} bytes");
}
