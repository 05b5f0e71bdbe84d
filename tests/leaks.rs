//! Everything a link spawned is gone after `close()` returns: no thread, no
//! file descriptor (DESIGN §5). A dropped link does not wait for its
//! reader thread: that ends by itself, and the descriptors close with it.
//!
//! A test binary of its own with a single test, so that no other test
//! creates threads or descriptors while this one counts them.

mod common;

use std::io::Write;
use std::thread;

use common::*;
use neonet::{ErrorKind, LinkRole, NodeLink, Packet};

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
            // Counting works: one reader thread and two descriptors per
            // link (the stream and the reader's waker).
            assert_eq!(threads(), threads0 + 2, "{kind:?}: reader threads");
            assert_eq!(fds(), fds0 + 4, "{kind:?}: descriptors");
            let conns = traffic(&client, &server);
            match round {
                // close(), conns dropped after.
                0 => {
                    client.close();
                    server.close();
                }
                // Dropped, conns still alive: the readers end by
                // themselves, closing the descriptors as they go.
                1 => {
                    drop(client);
                    drop(server);
                    assert!(
                        wait_until(TEST_LIMIT, || threads() == threads0 && fds() == fds0),
                        "{kind:?}: a dropped link's reader thread and descriptors: \
                         {} threads (of {threads0}), {} descriptors (of {fds0})",
                        threads(),
                        fds()
                    );
                }
                // One closed while a thread is blocked in recv on it, the
                // other then down by itself, then closed.
                _ => thread::scope(|s| {
                    let r = s.spawn(|| conns[0].recv_pkt());
                    until_blocked(|| client.blocked_recvs(), 1);
                    client.close();
                    assert_kind(r.join().unwrap(), ErrorKind::LinkClosed);
                    assert_kind(server.accept(), ErrorKind::LinkDown);
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
        assert_io_kind(s.recv_pkt(), std::io::ErrorKind::UnexpectedEof);
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
