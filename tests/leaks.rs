//! Everything a link spawned is gone after `close()` returns: no thread, no
//! file descriptor (DESIGN §5).
//!
//! A test binary of its own with a single test, so that no other test
//! creates threads or descriptors while this one counts them.

mod common;

use std::fs;
use std::io::Write;
use std::thread;

use common::*;
use neonet::{ErrorKind, LinkRole, NodeLink, Packet};

fn count(dir: &str) -> usize {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .count()
}

/// `PF_EXITING` in a task's flags (field 9 of /proc/.../stat): the task is
/// in the kernel's `do_exit`, its user code is over.
const PF_EXITING: u64 = 0x4;

/// Threads of this process that are not exiting.
///
/// `pthread_join` (so `JoinHandle::join`, so `close()`) returns as soon as
/// the kernel clears the thread's tid in `do_exit` (CLONE_CHILD_CLEARTID),
/// which comes before the task leaves /proc/self/task: for a few
/// microseconds after a join, the joined thread may still be listed, with
/// PF_EXITING set. Such a thread is gone as far as anything in user space
/// can tell; every other task is counted, with no waiting or retrying.
fn threads() -> usize {
    let mut n = 0;
    for entry in fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let path = entry.expect("task entry").path().join("stat");
        // A task that vanished meanwhile is gone.
        let Ok(stat) = fs::read_to_string(&path) else {
            continue;
        };
        // Fields after the command name (which may hold spaces): state is
        // the first, flags the seventh.
        let rest = &stat[stat.rfind(')').expect("stat format") + 1..];
        let flags: u64 = rest
            .split_whitespace()
            .nth(6)
            .and_then(|f| f.parse().ok())
            .unwrap_or_else(|| panic!("{}: bad stat {stat:?}", path.display()));
        if flags & PF_EXITING == 0 {
            n += 1;
        }
    }
    n
}

fn fds() -> usize {
    count("/proc/self/fd")
}

/// Some connections both ways with traffic, one packet larger than the
/// read-ahead buffer, one connection closed, one left open.
fn traffic(client: &NodeLink, server: &NodeLink) -> Vec<neonet::Conn> {
    let mut keep = Vec::new();
    for i in 0..3u64 {
        let c = client.new_conn().unwrap();
        c.send_pkt(Packet::new(0, 0x20, &payload(i, 100))).unwrap();
        let s = server.accept().unwrap();
        assert_eq!(s.recv_pkt().unwrap().payload(), payload(i, 100));
        s.send_pkt(Packet::new(0, 0x8020, &payload(i, 3000)))
            .unwrap();
        assert_eq!(c.recv_pkt().unwrap().payload(), payload(i, 3000));
        if i == 1 {
            s.close();
        }
        keep.push(c);
        keep.push(s);
    }
    let s = server.new_conn().unwrap();
    s.send_pkt(Packet::new(0, 0x20, &payload(9, 2 << 20)))
        .unwrap();
    let c = client.accept().unwrap();
    assert!(c.recv_pkt().unwrap().payload() == payload(9, 2 << 20));
    keep.push(s);
    keep.push(c);
    keep
}

#[test]
fn no_thread_or_fd_left_after_close() {
    let threads0 = threads();
    let fds0 = fds();

    for round in 0..3 {
        for kind in [Kind::Unix, Kind::Tcp] {
            let (client, server) = pair(kind);
            // Counting works: one reader thread and one descriptor per link.
            assert_eq!(threads(), threads0 + 2, "{kind:?}: reader threads");
            assert_eq!(fds(), fds0 + 2, "{kind:?}: descriptors");
            let conns = traffic(&client, &server);
            match round {
                // close(), conns dropped after.
                0 => {
                    client.close();
                    server.close();
                }
                // Dropped, conns still alive.
                1 => {
                    drop(client);
                    drop(server);
                }
                // One closed while a thread is blocked in recv on it, the
                // other then down by itself, then closed.
                _ => thread::scope(|s| {
                    let r = s.spawn(|| conns[0].recv_pkt());
                    thread::sleep(LET_BLOCK);
                    client.close();
                    assert_kind(r.join().unwrap(), ErrorKind::LinkClosed);
                    assert!(server.accept().is_err());
                    server.close();
                }),
            }
            assert_eq!(
                threads(),
                threads0,
                "{kind:?} round {round}: threads left after close"
            );
            assert_eq!(
                fds(),
                fds0,
                "{kind:?} round {round}: descriptors left after close"
            );
            drop(conns);
            assert_eq!(threads(), threads0);
            assert_eq!(fds(), fds0);
        }
    }

    // A link whose peer is gone (raw stream closed, link down) and a link
    // whose raw peer still holds its end.
    for kind in [Kind::Unix, Kind::Tcp] {
        let (link, peer) = link_with_raw_peer(kind, LinkRole::Server);
        (&peer).write_all(&raw_packet(1, 0x20, b"hi")).unwrap();
        let s = link.accept().unwrap();
        assert_eq!(s.recv_pkt().unwrap().payload(), b"hi");
        drop(peer);
        assert!(s.recv_pkt().is_err());
        link.close();
        assert_eq!(
            threads(),
            threads0,
            "{kind:?}: threads left after a link went down"
        );
        assert_eq!(
            fds(),
            fds0,
            "{kind:?}: descriptors left after a link went down"
        );

        let (link, peer) = link_with_raw_peer(kind, LinkRole::Client);
        let c = link.new_conn().unwrap();
        c.send_pkt(Packet::new(0, 0x20, b"hello")).unwrap();
        link.close();
        assert_eq!(read_raw_packet(&peer).unwrap().payload(), b"hello");
        assert_eq!(threads(), threads0, "{kind:?}: threads left");
        assert_eq!(
            fds(),
            fds0 + 1,
            "{kind:?}: only the raw peer's descriptor is left"
        );
        drop(peer);
        assert_eq!(fds(), fds0);
    }
}
