//! Errors say where and what once: the text of an error of each kind, with
//! its whole cause chain (as `{:#}` of anyhow prints it), repeats nothing,
//! and every public call reports itself as the operation.

mod common;

use std::error::Error as _;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use neonet::proto::{AnswerObject, ErrorCode, GetObject, Ping, Pong, SetClusterState};
use neonet::{Dialer, Proto6};
use neonet::{Error, ErrorKind, HandshakeError, LinkListener, LinkRole, NodeLink, Op, Packet};

/// The error and its causes, outermost first.
fn chain(e: &Error) -> Vec<String> {
    let mut out = vec![e.to_string()];
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push(c.to_string());
        cause = c.source();
    }
    out
}

/// Asserts that no part of the chain says again what an earlier part
/// said: split at ": ", every piece of text appears once.
#[track_caller]
fn assert_says_once(e: &Error) {
    let chain = chain(e);
    let joined = chain.join(": ");
    let mut seen = Vec::new();
    for piece in joined.split(": ") {
        assert!(!seen.contains(&piece), "{piece:?} repeats in {joined:?}");
        seen.push(piece);
    }
    // A cause is never the error restated.
    for w in chain.windows(2) {
        assert!(!w[0].ends_with(&w[1]), "{joined:?}");
    }
}

#[test]
fn every_kind_says_what_once() {
    let mut seen = Vec::new();
    let mut check = |e: Error, want: ErrorKind| {
        assert!(same_kind(e.kind(), &want), "{:?} for {want:?}", e.kind());
        assert_says_once(&e);
        eprintln!("{}", chain(&e).join(" <- "));
        seen.push(std::mem::discriminant(e.kind()));
    };

    // Link and connection state.
    let (client, server) = unix_pair();
    let c = client.new_conn().unwrap();
    c.close();
    check(c.recv_pkt().unwrap_err(), ErrorKind::ClosedConn);
    server.close_accept();
    check(server.accept().unwrap_err(), ErrorKind::LinkNoListen);
    client.set_conn_limit(0);
    check(client.new_conn().unwrap_err(), ErrorKind::TooManyConns);
    client.close();
    check(client.new_conn().unwrap_err(), ErrorKind::LinkClosed);

    // The peer hangs up: the cause (an I/O error), then LinkDown.
    let (link, peer) = link_with_raw_peer(Kind::Unix, LinkRole::Client);
    let a = link.new_conn().unwrap();
    drop(peer);
    let e = a.recv_pkt().unwrap_err();
    assert!(e.io_error().is_some());
    check(e, ErrorKind::io(std::io::ErrorKind::UnexpectedEof.into()));
    check(a.recv_pkt().unwrap_err(), ErrorKind::LinkDown);

    // A header announcing too much.
    let (link, peer) = link_with_raw_peer(Kind::Unix, LinkRole::Client);
    let a = link.new_conn().unwrap();
    (&peer)
        .write_all(&[0, 0, 0, 1, 0, 2, 0xff, 0xff, 0xff, 0xff])
        .unwrap();
    check(
        a.recv_pkt().unwrap_err(),
        ErrorKind::PacketTooBig {
            size: 10 + 0xffff_ffff,
        },
    );

    // Messages: decode, unexpected, the peer's Error, timeouts.
    let (client, server) = unix_pair();
    let (c, s) = open_and_accept(&client, &server, 0x20, b"first");
    c.send_pkt(Packet::new(0, 0x20, &[1, 2, 3])).unwrap();
    let e = s.recv().unwrap_err();
    assert_eq!(e.op(), Op::Recv);
    check(e, ErrorKind::Decode(decode_error()));
    c.send(&Ping {}).unwrap();
    let e = s.expect::<Pong>().unwrap_err();
    assert_eq!(e.op(), Op::Expect);
    check(
        e,
        ErrorKind::UnexpectedMessage {
            got: "Ping",
            expected: "Pong",
        },
    );
    s.send(&neonet::proto::Error {
        code: ErrorCode::NOT_READY,
        message: "not ready".into(),
    })
    .unwrap();
    c.set_recv_timeout(Some(Duration::from_secs(30)));
    let e = c.ask(&GetObject::default()).unwrap_err();
    assert_eq!(e.op(), Op::Ask);
    assert_eq!(e.peer_error(), Some((ErrorCode::NOT_READY, "not ready")));
    check(
        e,
        ErrorKind::Peer {
            code: ErrorCode::NOT_READY,
            message: String::new(),
        },
    );
    c.set_recv_timeout(Some(Duration::from_millis(10)));
    let e = c.recv_pkt().unwrap_err();
    assert!(e.is_timeout());
    check(e, ErrorKind::Timeout);

    // Overflow.
    server.set_limits(neonet::Limits {
        conn_queue_bytes: 1000,
        ..Default::default()
    });
    let (c, s) = open_and_accept(&client, &server, 0x20, b"x");
    for _ in 0..3 {
        c.send_pkt(Packet::new(0, 0x20, &[0; 600])).unwrap();
    }
    c.recv_pkt().unwrap(); // "connection closed": it overflowed
    check(s.recv_pkt().unwrap_err(), ErrorKind::Overflow);

    // Handshakes and listeners.
    let l = LinkListener::bind("127.0.0.1:0").unwrap();
    let mut raw = TcpStream::connect(l.local_addr().as_tcp().unwrap()).unwrap();
    raw.write_all(&[0, 0, 0, 1]).unwrap();
    let e = dial_over_mismatch();
    assert_eq!(e.op(), Op::Handshake);
    check(
        e,
        ErrorKind::Handshake(HandshakeError::VersionMismatch { peer: 0, ours: 0 }),
    );
    l.close();
    check(l.accept().unwrap_err(), ErrorKind::ListenerClosed);
    let e = Dialer::new(l.local_addr()).dial().unwrap_err();
    assert_eq!(e.op(), Op::Dial);
    check(
        e,
        ErrorKind::io(std::io::ErrorKind::ConnectionRefused.into()),
    );

    assert!(seen.len() >= 14, "{} kinds checked", seen.len());
}

/// A decode error, for its discriminant.
fn decode_error() -> neonet::proto::DecodeError {
    neonet::proto::Message::decode(0x7777, &[]).unwrap_err()
}

/// A dial whose peer answers another version.
fn dial_over_mismatch() -> Error {
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = server.accept().unwrap();
        s.write_all(&[0, 0, 0, 5]).unwrap();
        let _ = read_to_eof(&s);
    });
    let e = Dialer::new(addr).dial().unwrap_err();
    t.join().unwrap();
    e
}

#[test]
fn light_calls_report_themselves() {
    let (client, server) = unix_pair();
    client.set_conn_limit(0);
    assert_eq!(client.send1(&Ping {}).unwrap_err().op(), Op::Send1);
    assert_eq!(client.ask1(&Ping {}).unwrap_err().op(), Op::Ask1);
    client.set_conn_limit(usize::MAX);
    server.set_recv_timeout(Some(Duration::from_millis(10)));
    let e = server.recv_timeout(Duration::from_millis(10)).unwrap_err();
    assert_eq!(e.op(), Op::Recv1);
    std::thread::scope(|s| {
        let srv = s.spawn(|| {
            let req = server.recv().unwrap();
            let e = req.msg_as::<GetObject>().unwrap_err();
            assert_eq!(e.op(), Op::Recv1);
            server.close();
            assert_eq!(
                req.reply(&AnswerObject::default()).unwrap_err().op(),
                Op::Reply
            );
        });
        // An Error-answered request: its answer type is ().
        let e = client.ask1(&SetClusterState::default()).unwrap_err();
        assert_eq!(e.op(), Op::Ask1);
        srv.join().unwrap();
    });
    let (a, _b) = NodeLink::<Proto6>::pair().unwrap();
    a.close();
    let e = a.set_write_timeout(None).unwrap_err();
    assert_eq!(e.op(), Op::SetWriteTimeout);
}

#[test]
fn bind_errors_name_the_address() {
    let l = LinkListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().as_tcp().unwrap();
    let e = LinkListener::bind(addr).unwrap_err();
    assert_eq!(e.op(), Op::Listen);
    assert!(e.to_string().contains(&addr.to_string()), "{e}");
    assert_says_once(&e);
    assert_eq!(
        e.io_error().map(|e| e.kind()),
        Some(std::io::ErrorKind::AddrInUse)
    );
}

#[test]
fn a_unix_listener_address_can_be_dialed() {
    let path = std::env::temp_dir().join(format!("neonet-errors-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let l = LinkListener::bind_unix(&path).unwrap();
    assert_eq!(l.local_addr().as_unix_path(), Some(path.as_path()));
    let client = Dialer::new(l.local_addr()).dial().unwrap();
    let server = l.accept().unwrap().into_proto6().unwrap();
    exchange(&client, &server, b"over", b"unix");
    assert_eq!(client.addrs().peer, *l.local_addr());
}
