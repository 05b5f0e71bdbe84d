//! Link and connection life cycle (DESIGN §2–§4): opening, accepting,
//! exchanging, closing, and what every operation reports once the link or
//! the connection is closed or down.

#[macro_use]
mod common;

use std::io;
use std::sync::mpsc;
use std::thread::{self, Scope, ScopedJoinHandle};

use common::*;
use neonet::Op;
use neonet::{Conn, ErrorKind, LinkRole, NodeLink, Packet};

// ---- 1. close / close_accept vs a blocked accept ----

/// Three threads block in `link.accept()`, then `wake(link)`: each fails
/// with `want`, from "accept". Returns their errors.
fn wake_blocked_accepts(
    link: &NodeLink,
    wake: fn(&NodeLink),
    want: ErrorKind,
) -> Vec<neonet::Error> {
    thread::scope(|s| {
        let acceptors: Vec<_> = (0..3).map(|_| s.spawn(|| link.accept())).collect();
        until_blocked(|| link.blocked_accepts(), 3);
        wake(link);
        acceptors
            .into_iter()
            .map(|a| {
                let e = assert_kind(a.join().unwrap(), want.clone());
                assert_eq!(e.op(), Op::Accept);
                e
            })
            .collect()
    })
}

kind_test!(close_wakes_blocked_accepts, |kind| {
    let (_client, server) = pair(kind);
    for e in wake_blocked_accepts(&server, NodeLink::close, ErrorKind::LinkClosed) {
        assert_eq!(e.conn_id(), None);
    }
    assert_kind(server.accept(), ErrorKind::LinkClosed);
    // Idempotent.
    server.close();
    assert_kind(server.accept(), ErrorKind::LinkClosed);
});

kind_test!(close_accept_wakes_blocked_accepts, |kind| {
    let (client, server) = pair(kind);
    wake_blocked_accepts(&server, NodeLink::close_accept, ErrorKind::LinkNoListen);
    assert_kind(server.accept(), ErrorKind::LinkNoListen);
    assert_kind(server.accept(), ErrorKind::LinkNoListen);
    // Idempotent.
    server.close_accept();
    assert_kind(server.accept(), ErrorKind::LinkNoListen);

    // Not accepting does not stop connections we open ourselves.
    exchange(&server, &client, b"still works", b"yes");
});

// ---- 2. conn.close vs a blocked recv; send after close ----

kind_test!(conn_close_wakes_blocked_recv, |kind| {
    let (client, server) = pair(kind);

    // A connection we opened.
    let c = client.new_conn().unwrap();
    thread::scope(|s| {
        let receivers: Vec<_> = (0..2).map(|_| s.spawn(|| c.recv_pkt())).collect();
        until_blocked(|| client.blocked_recvs(), 2);
        c.close();
        for r in receivers {
            let e = assert_kind(r.join().unwrap(), ErrorKind::ClosedConn);
            assert_eq!(e.op(), Op::Recv);
            assert_eq!(e.conn_id(), Some(c.id()));
        }
    });
    let e = assert_kind(c.send_pkt(Packet::new(0, 2, b"x")), ErrorKind::ClosedConn);
    assert_eq!(e.op(), Op::Send);
    assert_eq!(e.conn_id(), Some(c.id()));
    assert_kind(c.recv_pkt(), ErrorKind::ClosedConn);
    c.close(); // idempotent
    assert_kind(c.recv_pkt(), ErrorKind::ClosedConn);

    // A connection the peer opened.
    let (_pc, sc) = open_and_accept(&client, &server, 2, b"first");
    thread::scope(|s| {
        let r = s.spawn(|| sc.recv_pkt());
        until_blocked(|| server.blocked_recvs(), 1);
        sc.close();
        assert_kind(r.join().unwrap(), ErrorKind::ClosedConn);
    });
    assert_kind(sc.send_pkt(Packet::new(0, 2, b"x")), ErrorKind::ClosedConn);
    assert_kind(sc.recv_pkt(), ErrorKind::ClosedConn);

    // The link itself is unaffected.
    let (_c2, _s2) = open_and_accept(&client, &server, 2, b"other");
});

kind_test!(close_recv_wakes_blocked_recv_send_still_works, |kind| {
    let (client, server) = pair(kind);
    let c = client.new_conn().unwrap();
    thread::scope(|s| {
        let r = s.spawn(|| c.recv_pkt());
        until_blocked(|| client.blocked_recvs(), 1);
        c.close_recv();
        assert_kind(r.join().unwrap(), ErrorKind::ClosedConn);
    });
    assert_kind(c.recv_pkt(), ErrorKind::ClosedConn);
    c.close_recv(); // idempotent
    c.send_pkt(Packet::new(0, 2, b"one way")).unwrap();
    let sc = server.accept().unwrap();
    assert_eq!(sc.id(), c.id());
    assert_eq!(sc.recv_pkt().unwrap().payload(), b"one way");
    c.close();
    assert_kind(c.send_pkt(Packet::new(0, 2, b"x")), ErrorKind::ClosedConn);
});

// ---- 3. link.close vs a blocked recv and a blocked send ----

/// Spawns in `s` a receiver blocked in `a.recv_pkt()` and a sender that
/// sends packets of `LARGE` bytes on `b` until a send fails, and returns
/// once the sender is in `write` (`large_writes` says so), where it stays:
/// the raw peer does not read. Returns the receiver and the sender (whose
/// result is the error that ended its sends).
fn spawn_blocked_recv_and_send<'scope, 'env>(
    s: &'scope Scope<'scope, 'env>,
    a: &'env Conn,
    b: &'env Conn,
    large_writes: &mpsc::Receiver<()>,
) -> (
    ScopedJoinHandle<'scope, neonet::Result<Packet>>,
    ScopedJoinHandle<'scope, neonet::Error>,
) {
    let r = s.spawn(move || a.recv_pkt());
    let w = s.spawn(move || {
        let big = vec![0xa5; LARGE];
        loop {
            if let Err(e) = b.send_pkt(Packet::new(0, 0x20, &big)) {
                return e;
            }
        }
    });
    large_writes.recv().expect("the sender writes");
    (r, w)
}

kind_test!(link_close_wakes_blocked_recv_and_send, |kind| {
    // The peer is a raw stream that never reads: sends end up blocked.
    let (link, _peer, watch) = link_with_watched_peer(kind, LinkRole::Client);
    let a = link.new_conn().unwrap();
    let b = link.new_conn().unwrap();
    thread::scope(|s| {
        let (r, w) = spawn_blocked_recv_and_send(s, &a, &b, &watch.large_writes);
        link.close();
        let e = assert_kind(r.join().unwrap(), ErrorKind::LinkClosed);
        assert_eq!((e.op(), e.conn_id()), (Op::Recv, Some(a.id())));
        let e = w.join().unwrap();
        assert!(
            matches!(e.kind(), ErrorKind::LinkClosed),
            "blocked send after close: {:?} ({e})",
            e.kind()
        );
        assert_eq!((e.op(), e.conn_id()), (Op::Send, Some(b.id())));
    });
    assert_kind(a.recv_pkt(), ErrorKind::LinkClosed);
    assert_kind(b.send_pkt(Packet::new(0, 2, b"x")), ErrorKind::LinkClosed);
    assert_kind(link.new_conn(), ErrorKind::LinkClosed);
});

// ---- 4. the peer closes the link ----

kind_test!(peer_close_takes_link_down, |kind| {
    let (client, server) = pair(kind);

    // a: opened by the peer and accepted; b: ours, blocked in recv;
    // u: ours, first recv only after the link is down; x: ours, closed
    // before; y: ours, closed after the link went down; z: closed after
    // our own close.
    let (pc, a) = open_and_accept(&client, &server, 2, b"hello");
    let b = server.new_conn().unwrap();
    let u = server.new_conn().unwrap();
    let x = server.new_conn().unwrap();
    let y = server.new_conn().unwrap();
    let z = server.new_conn().unwrap();
    x.close();

    thread::scope(|s| {
        let ra = s.spawn(|| a.recv_pkt());
        let rb = s.spawn(|| b.recv_pkt());
        let acc = s.spawn(|| server.accept());
        until_blocked(|| server.blocked_recvs(), 2);
        until_blocked(|| server.blocked_accepts(), 1);
        client.close();
        let e = assert_io_kind(ra.join().unwrap(), io::ErrorKind::UnexpectedEof);
        assert_eq!((e.op(), e.conn_id()), (Op::Recv, Some(a.id())));
        assert_io_kind(rb.join().unwrap(), io::ErrorKind::UnexpectedEof);
        assert_kind(acc.join().unwrap(), ErrorKind::LinkDown);
    });

    // Later receives on the same conns: LinkDown.
    assert_kind(a.recv_pkt(), ErrorKind::LinkDown);
    assert_kind(b.recv_pkt(), ErrorKind::LinkDown);
    // First receive on a conn that had not received yet: the cause.
    assert_io_kind(u.recv_pkt(), io::ErrorKind::UnexpectedEof);
    assert_kind(u.recv_pkt(), ErrorKind::LinkDown);
    // Link operations and sends: LinkDown.
    assert_kind(server.accept(), ErrorKind::LinkDown);
    assert_kind(server.new_conn(), ErrorKind::LinkDown);
    let e = assert_kind(a.send_pkt(Packet::new(0, 2, b"x")), ErrorKind::LinkDown);
    assert_eq!(e.op(), Op::Send);
    assert_kind(b.send_pkt(Packet::new(0, 2, b"x")), ErrorKind::LinkDown);
    // Closed conns: ClosedConn, closed before or after the link went down.
    y.close();
    for c in [&x, &y] {
        assert_kind(c.recv_pkt(), ErrorKind::ClosedConn);
        assert_kind(c.send_pkt(Packet::new(0, 2, b"x")), ErrorKind::ClosedConn);
    }

    // Our own close: LinkClosed from now on.
    server.close();
    assert_kind(server.accept(), ErrorKind::LinkClosed);
    assert_kind(server.new_conn(), ErrorKind::LinkClosed);
    assert_kind(a.recv_pkt(), ErrorKind::LinkClosed);
    assert_kind(u.recv_pkt(), ErrorKind::LinkClosed);
    assert_kind(a.send_pkt(Packet::new(0, 2, b"x")), ErrorKind::LinkClosed);
    z.close();
    for c in [&x, &y, &z] {
        assert_kind(c.recv_pkt(), ErrorKind::ClosedConn);
        assert_kind(c.send_pkt(Packet::new(0, 2, b"x")), ErrorKind::ClosedConn);
    }
    // The peer's own view: closed locally.
    assert_kind(client.new_conn(), ErrorKind::LinkClosed);
    assert_kind(pc.recv_pkt(), ErrorKind::LinkClosed);
});

kind_test!(first_recv_after_down_reports_cause_once_per_conn, |kind| {
    // A conn with packets still queued when the link goes down delivers
    // them first, then reports the cause once, then LinkDown.
    let (client, server) = pair(kind);
    let c = client.new_conn().unwrap();
    for i in 0..3u8 {
        c.send_pkt(Packet::new(0, 2, &[i])).unwrap();
    }
    let s = server.accept().unwrap();
    assert_eq!(s.recv_pkt().unwrap().payload(), [0]);
    // A second conn, accepted only after the peer's three packets were
    // routed (the reader handles packets in order), syncs us with it.
    let m = client.new_conn().unwrap();
    m.send_pkt(Packet::new(0, 2, b"marker")).unwrap();
    let sm = server.accept().unwrap();
    client.close();
    assert_eq!(s.recv_pkt().unwrap().payload(), [1]);
    assert_eq!(s.recv_pkt().unwrap().payload(), [2]);
    assert_io_kind(s.recv_pkt(), io::ErrorKind::UnexpectedEof);
    assert_kind(s.recv_pkt(), ErrorKind::LinkDown);
    assert_eq!(sm.recv_pkt().unwrap().payload(), b"marker");
    assert_io_kind(sm.recv_pkt(), io::ErrorKind::UnexpectedEof);
    assert_kind(sm.recv_pkt(), ErrorKind::LinkDown);
});

// ---- 5. accept and exchange, ids ----

fn round_trip(from: &neonet::Conn, to: &neonet::Conn, req: &[u8], resp: &[u8]) {
    // The id given to Packet::new is overwritten by send_pkt.
    from.send_pkt(Packet::new(0xdead_beef, 0x20, req)).unwrap();
    let p = to.recv_pkt().unwrap();
    assert_eq!(
        (p.conn_id(), p.msg_code(), p.payload()),
        (from.id(), 0x20, req)
    );
    to.send_pkt(Packet::new(0xdead_beef, 0x8020, resp)).unwrap();
    let p = from.recv_pkt().unwrap();
    assert_eq!(
        (p.conn_id(), p.msg_code(), p.payload()),
        (from.id(), 0x8020, resp)
    );
}

kind_test!(accept_and_exchange, |kind| {
    let (client, server) = pair(kind);
    assert_eq!(client.role(), LinkRole::Client);
    assert_eq!(server.role(), LinkRole::Server);
    let mut keep = Vec::new();

    // Connections opened by the client: 1, then 3.
    for want in [1u32, 3] {
        let c = client.new_conn().unwrap();
        assert_eq!(c.id(), want);
        let req = format!("request 1 on {want}");
        c.send_pkt(Packet::new(0, 0x20, req.as_bytes())).unwrap();
        let s = server.accept().unwrap();
        assert_eq!(s.id(), want);
        let p = s.recv_pkt().unwrap();
        assert_eq!((p.conn_id(), p.payload()), (want, req.as_bytes()));
        s.send_pkt(Packet::new(0, 0x8020, b"answer 1")).unwrap();
        let p = c.recv_pkt().unwrap();
        assert_eq!(
            (p.conn_id(), p.msg_code(), p.payload()),
            (want, 0x8020, &b"answer 1"[..])
        );
        round_trip(&c, &s, b"request 2", &payload(u64::from(want), 1000));
        keep.push((c, s));
    }

    // Connections opened by the server: 0, then 2.
    for want in [0u32, 2] {
        let s = server.new_conn().unwrap();
        assert_eq!(s.id(), want);
        s.send_pkt(Packet::new(0, 0x20, b"server request 1"))
            .unwrap();
        let c = client.accept().unwrap();
        assert_eq!(c.id(), want);
        let p = c.recv_pkt().unwrap();
        assert_eq!((p.conn_id(), p.payload()), (want, &b"server request 1"[..]));
        c.send_pkt(Packet::new(0, 0x8020, b"client answer 1"))
            .unwrap();
        let p = s.recv_pkt().unwrap();
        assert_eq!((p.conn_id(), p.payload()), (want, &b"client answer 1"[..]));
        round_trip(
            &s,
            &c,
            &payload(u64::from(want) + 100, 3000),
            b"client answer 2",
        );
        keep.push((s, c));
    }

    // All four still work, in any order.
    for (a, b) in keep.iter().rev() {
        round_trip(a, b, b"again", b"again answered");
    }
    assert_eq!(client.stats().live_conns, 4);
    assert_eq!(server.stats().live_conns, 4);
});

// ---- 8. replies in reverse order ----

kind_test!(replies_in_reverse_order, |kind| {
    let (client, server) = pair(kind);
    let conns: Vec<_> = (0..3).map(|_| client.new_conn().unwrap()).collect();
    let mut peers = Vec::new();
    for round in 0..20u32 {
        for c in &conns {
            let req = format!("req {round} on {}", c.id());
            c.send_pkt(Packet::new(0, 0x20, req.as_bytes())).unwrap();
        }
        if round == 0 {
            peers = (0..3).map(|_| server.accept().unwrap()).collect();
        }
        thread::scope(|s| {
            let receivers: Vec<_> = conns
                .iter()
                .map(|c| s.spawn(move || c.recv_pkt()))
                .collect();
            if round == 0 {
                // The receivers block before any reply is sent.
                until_blocked(|| client.blocked_recvs(), 3);
            }
            reply_reversed(&peers, round);
            for (c, r) in conns.iter().zip(receivers) {
                let p = r.join().unwrap().unwrap();
                let want = format!("resp {round} on {}", c.id());
                assert_eq!((p.conn_id(), p.payload()), (c.id(), want.as_bytes()));
            }
        });
    }
});

/// Each peer receives its request and the answers go out last first.
fn reply_reversed(peers: &[neonet::Conn], round: u32) {
    let mut reqs = Vec::new();
    for s in peers {
        let p = s.recv_pkt().unwrap();
        assert_eq!(p.payload(), format!("req {round} on {}", s.id()).as_bytes());
        reqs.push(p);
    }
    for s in peers.iter().rev() {
        let resp = format!("resp {round} on {}", s.id());
        s.send_pkt(Packet::new(0, 0x8020, resp.as_bytes())).unwrap();
    }
}

// ---- ids: wrap-around and TooManyConns ----

kind_test!(conn_ids_wrap_around, |kind| {
    let (client, server) = pair(kind);

    client.set_next_conn_id(u32::MAX);
    let a = client.new_conn().unwrap();
    assert_eq!(a.id(), u32::MAX);
    let b = client.new_conn().unwrap();
    assert_eq!(b.id(), 1);
    let c = client.new_conn().unwrap();
    assert_eq!(c.id(), 3);
    // Ids in use are skipped: u32::MAX, 1 and 3 are live.
    client.set_next_conn_id(u32::MAX - 2);
    let d = client.new_conn().unwrap();
    assert_eq!(d.id(), u32::MAX - 2);
    let e = client.new_conn().unwrap();
    assert_eq!(e.id(), 5);

    // The wrapped ids work on the wire.
    let mut peers = Vec::new();
    for conn in [&a, &b, &e] {
        conn.send_pkt(Packet::new(0, 0x20, &conn.id().to_be_bytes()))
            .unwrap();
        let s = server.accept().unwrap();
        assert_eq!(s.id(), conn.id());
        let first = s.recv_pkt().unwrap();
        assert_eq!(
            (first.conn_id(), first.payload()),
            (conn.id(), &conn.id().to_be_bytes()[..])
        );
        round_trip(conn, &s, b"ping", b"pong");
        peers.push(s);
    }

    // Server side: even ids wrap to 0.
    server.set_next_conn_id(u32::MAX - 1);
    let s1 = server.new_conn().unwrap();
    assert_eq!(s1.id(), u32::MAX - 1);
    let s2 = server.new_conn().unwrap();
    assert_eq!(s2.id(), 0);
    s1.send_pkt(Packet::new(0, 0x20, b"from the top")).unwrap();
    let c1 = client.accept().unwrap();
    assert_eq!(c1.id(), u32::MAX - 1);
    assert_eq!(c1.recv_pkt().unwrap().payload(), b"from the top");
    round_trip(&s1, &c1, b"x", b"y");
});

#[test]
fn too_many_conns() {
    let (client, server) = unix_pair();
    client.set_conn_limit(2);
    let a = client.new_conn().unwrap();
    let b = client.new_conn().unwrap();
    let e = assert_kind(client.new_conn(), ErrorKind::TooManyConns);
    assert_eq!(e.op(), Op::NewConn);
    assert_kind(client.new_conn(), ErrorKind::TooManyConns);

    // Closing one frees a slot.
    a.close();
    let c = client.new_conn().unwrap();
    assert_eq!(c.id(), 5);
    assert_kind(client.new_conn(), ErrorKind::TooManyConns);
    // Dropping closes too.
    drop(b);
    let d = client.new_conn().unwrap();
    assert_kind(client.new_conn(), ErrorKind::TooManyConns);

    // Connections the peer opens are not ours: they do not count.
    let peer_opened: Vec<_> = (0..3)
        .map(|_| {
            let s = server.new_conn().unwrap();
            s.send_pkt(Packet::new(0, 2, b"hi")).unwrap();
            s
        })
        .collect();
    let accepted: Vec<_> = (0..3).map(|_| client.accept().unwrap()).collect();
    assert_eq!(accepted.len(), peer_opened.len());
    assert_kind(client.new_conn(), ErrorKind::TooManyConns);
    // And ours still work.
    for conn in [&c, &d] {
        conn.send_pkt(Packet::new(0, 2, b"first")).unwrap();
        let s = server.accept().unwrap();
        assert_eq!(s.id(), conn.id());
        assert_eq!(s.recv_pkt().unwrap().payload(), b"first");
        round_trip(conn, &s, b"req", b"resp");
    }
}

// ---- more on closing and errors ----

kind_test!(concurrent_closes_all_return_closed, |kind| {
    let (client, server) = pair(kind);
    let c = client.new_conn().unwrap();
    thread::scope(|s| {
        let r = s.spawn(|| c.recv_pkt());
        let closers: Vec<_> = (0..4).map(|_| s.spawn(|| client.close())).collect();
        for h in closers {
            h.join().unwrap();
        }
        // Whichever close returned, the link is closed.
        assert_kind(client.new_conn(), ErrorKind::LinkClosed);
        assert_kind(r.join().unwrap(), ErrorKind::LinkClosed);
    });
    drop(server);
});

kind_test!(errors_name_link_conn_and_op, |kind| {
    let (client, _server) = pair(kind);
    let c = client.new_conn().unwrap();
    c.close();
    let e = assert_kind(c.send_pkt(Packet::new(0, 2, b"x")), ErrorKind::ClosedConn);
    assert_eq!((e.op(), e.conn_id()), (Op::Send, Some(1)));
    assert_eq!(e.addrs().local, client.addrs().local);
    assert_eq!(e.addrs().peer, client.addrs().peer);
    let text = e.to_string();
    let (local, peer) = (
        client.addrs().local.to_string(),
        client.addrs().peer.to_string(),
    );
    for part in ["conn 1", "send", &local, &peer] {
        assert!(text.contains(part), "{text:?} does not name {part:?}");
    }
    if kind == Kind::Tcp {
        let loopback = |a: &neonet::Addr| a.as_tcp().is_some_and(|a| a.ip().is_loopback());
        assert!(loopback(&client.addrs().local), "{:?}", client.addrs());
        assert!(loopback(&client.addrs().peer), "{:?}", client.addrs());
    }
    client.close();
    let e = assert_kind(client.accept(), ErrorKind::LinkClosed);
    assert_eq!((e.op(), e.conn_id()), (Op::Accept, None));
    let e = assert_kind(client.new_conn(), ErrorKind::LinkClosed);
    assert_eq!((e.op(), e.conn_id()), (Op::NewConn, None));
});

#[test]
fn send_reports_its_own_io_error() {
    // The raw peer shuts down its reading side: our writes fail with EPIPE
    // while our reads see nothing (socketpair semantics).
    let (link, peer) = link_with_raw_peer(Kind::Unix, LinkRole::Client);
    let (a, b) = (link.new_conn().unwrap(), link.new_conn().unwrap());
    match &peer {
        Raw::Unix(s) => s.shutdown(std::net::Shutdown::Read).unwrap(),
        Raw::Tcp(_) => unreachable!(),
    }
    let e = assert_io_kind(
        a.send_pkt(Packet::new(0, 2, b"x")),
        io::ErrorKind::BrokenPipe,
    );
    assert_eq!((e.op(), e.conn_id()), (Op::Send, Some(a.id())));
    // The link is down now; the cause was no receive error, so receives
    // report LinkDown.
    assert_kind(a.send_pkt(Packet::new(0, 2, b"x")), ErrorKind::LinkDown);
    assert_kind(b.send_pkt(Packet::new(0, 2, b"x")), ErrorKind::LinkDown);
    assert_kind(b.recv_pkt(), ErrorKind::LinkDown);
    assert_kind(link.new_conn(), ErrorKind::LinkDown);
    assert_kind(link.accept(), ErrorKind::LinkDown);
}

kind_test!(peer_gone_while_send_blocked, |kind| {
    // A sender blocked because the peer does not read, then the peer goes
    // away: the send reports the I/O error it hit, the link goes down.
    let (link, peer, watch) = link_with_watched_peer(kind, LinkRole::Client);
    let a = link.new_conn().unwrap();
    let b = link.new_conn().unwrap();
    thread::scope(|s| {
        let (r, w) = spawn_blocked_recv_and_send(s, &a, &b, &watch.large_writes);
        drop(peer);
        let e = w.join().unwrap();
        assert!(
            matches!(e.kind(), ErrorKind::Io(_)),
            "blocked send: {:?} ({e})",
            e.kind()
        );
        assert_eq!(e.op(), Op::Send);
        // Whichever saw the failure first took the link down: the reader
        // (its cause, EOF, or a reset as the peer closed with unread data
        // on TCP, is what the first recv reports) or the sender (then the
        // link is down for no receive error: LinkDown).
        let e = r.join().unwrap().unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::LinkDown)
                || matches!(e.kind(), ErrorKind::Io(io) if matches!(io.kind(),
                    io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset)),
            "first recv after the peer went away: {:?} ({e})",
            e.kind()
        );
    });
    assert_kind(a.recv_pkt(), ErrorKind::LinkDown);
    assert_kind(b.send_pkt(Packet::new(0, 2, b"x")), ErrorKind::LinkDown);
    assert_kind(link.accept(), ErrorKind::LinkDown);
});
