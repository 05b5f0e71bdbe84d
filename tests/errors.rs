//! Errors say where and what once: the text of an error of each kind, with
//! its whole cause chain (as `{:#}` of anyhow prints it), repeats nothing,
//! and every public call reports itself as the operation. The predicates
//! (`is_timeout`, `is_closed`, `is_peer_gone`) hold for every case they
//! name and no other, and every public error type is a
//! `std::error::Error`.

mod common;
mod tls_support;

use std::error::Error as _;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::*;
use neonet::proto::{AnswerObject, ErrorCode, GetObject, Ping, Pong, SetClusterState};
use neonet::tls::{accept_link_tls, TlsAlert, TlsError};
use neonet::{Dialer, Proto6};
use neonet::{Error, ErrorKind, HandshakeError, LinkListener, LinkRole, NodeLink, Op, Packet};
use tls_support::{cluster, links_over, tls_streams_over, Relay};

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

    // TLS failing on a link that was up: garbage where a record should be.
    let (client, server, relay) = relayed_tls_links();
    let c = server.new_conn().unwrap();
    relay.inject(b"GARBAGE: no TLS record");
    let e = c.recv_pkt().unwrap_err();
    assert_eq!(e.op(), Op::Recv);
    check(
        e,
        ErrorKind::Tls(TlsError::Protocol {
            reason: String::new(),
            alert: None,
        }),
    );
    drop((client, server, relay));

    assert!(seen.len() >= 15, "{} kinds checked", seen.len());
}

/// TLS links through a relay that can inject bytes towards the server:
/// (client, server, relay).
fn relayed_tls_links() -> (NodeLink, NodeLink, Relay) {
    let (a, b, relay) = Relay::new();
    let c = cluster();
    let (client, server) = tls_streams_over(a, b, &c.client, &c.server);
    let (client, server) = links_over(client, server);
    (client, server, relay)
}

/// The kind of `res`'s error, which must be a timeout.
#[track_caller]
fn assert_timeout<T: std::fmt::Debug>(res: neonet::Result<T>, op: Op, want: &ErrorKind) {
    let e = res.expect_err("must time out");
    assert!(
        same_kind(e.kind(), want),
        "{:?}, expected {want:?} ({e})",
        e.kind()
    );
    assert_eq!(e.op(), op, "{e}");
    assert!(e.is_timeout(), "{e}");
    assert!(e.kind().is_timeout(), "{e}");
    assert!(!e.is_closed() && !e.is_peer_gone(), "{e}");
}

/// A TCP listener whose accept queue is full: it drops the next
/// connection's SYN, so that a connect to it times out. (Linux takes
/// `backlog + 1` connections, and drops SYNs past that unless
/// `net.ipv4.tcp_abort_on_overflow` is set, which it is not by default; a
/// listening socket's backlog can be lowered by listening again.)
fn full_listener() -> (TcpListener, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    rustix::net::listen(&l, 0).unwrap();
    let queued = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    (l, queued)
}

#[test]
fn is_timeout_holds_for_every_timeout() {
    const SHORT: Duration = Duration::from_millis(20);
    let timeout = ErrorKind::Timeout;
    let handshake = ErrorKind::Handshake(HandshakeError::Timeout);

    // A receive and an accept: the link stays up.
    let (client, server) = unix_pair();
    let c = client.new_conn().unwrap();
    c.set_recv_timeout(Some(SHORT));
    assert_timeout(c.recv_pkt(), Op::Recv, &timeout);
    assert_timeout(server.accept_timeout(SHORT), Op::Accept, &timeout);
    assert_timeout(server.recv_timeout(SHORT), Op::Recv1, &timeout);
    assert!(client.is_up() && server.is_up());

    // The write timeout, with a peer that reads nothing: the link goes
    // down.
    let (link, _peer) = link_with_raw_peer(Kind::Unix, LinkRole::Client);
    link.set_write_timeout(Some(SHORT)).unwrap();
    let c = link.new_conn().unwrap();
    assert_timeout(
        c.send_pkt(Packet::new(0, 0x20, &vec![0; LARGE])),
        Op::Send,
        &timeout,
    );
    assert!(!link.is_up());

    // A connect that gets no answer.
    let (full, _queued) = full_listener();
    let e = ErrorKind::io(std::io::ErrorKind::TimedOut.into());
    assert_timeout(
        Dialer::new(full.local_addr().unwrap())
            .timeout(SHORT)
            .dial(),
        Op::Dial,
        &e,
    );

    // A peer that accepts and says nothing: NEO's handshake, and TLS's.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    assert_timeout(
        Dialer::new(addr).timeout(SHORT).dial(),
        Op::Handshake,
        &handshake,
    );
    let tls = &cluster().client;
    assert_timeout(
        Dialer::new(addr).tls(tls).timeout(SHORT).dial(),
        Op::Handshake,
        &handshake,
    );

    // A TLS client that says nothing, or starts a ClientHello and stops.
    for first in [&b""[..], &[0x16][..]] {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        client.write_all(first).unwrap();
        let (accepted, _) = l.accept().unwrap();
        let res = accept_link_tls(accepted, &cluster().server, Some(SHORT));
        assert_timeout(res, Op::Handshake, &handshake);
    }

    // Nothing else is a timeout.
    let (client, _server) = unix_pair();
    client.close();
    let e = client.new_conn().unwrap_err();
    assert!(!e.is_timeout(), "{e}");
    let refused = Dialer::new(unused_addr()).dial().unwrap_err();
    assert!(!refused.is_timeout(), "{refused}");
}

/// An address nobody listens on.
fn unused_addr() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[test]
fn is_closed_holds_for_what_this_end_closed() {
    let closed = |e: &Error| {
        assert!(e.is_closed(), "{e}");
        assert!(e.kind().is_closed(), "{e}");
        assert!(!e.is_timeout() && !e.is_peer_gone(), "{e}");
    };
    let (client, server) = unix_pair();
    let c = client.new_conn().unwrap();
    c.close();
    closed(&assert_kind(c.recv_pkt(), ErrorKind::ClosedConn));
    server.close_accept();
    closed(&assert_kind(server.accept(), ErrorKind::LinkNoListen));
    client.close();
    closed(&assert_kind(client.new_conn(), ErrorKind::LinkClosed));
    let l = LinkListener::bind("127.0.0.1:0").unwrap();
    l.close();
    closed(&assert_kind(l.accept(), ErrorKind::ListenerClosed));

    // The peer closing is not this end closing.
    let (link, peer) = link_with_raw_peer(Kind::Unix, LinkRole::Client);
    let c = link.new_conn().unwrap();
    drop(peer);
    let cause = assert_io_kind(c.recv_pkt(), std::io::ErrorKind::UnexpectedEof);
    assert!(!cause.is_closed(), "{cause}");
    let down = assert_kind(c.recv_pkt(), ErrorKind::LinkDown);
    assert!(!down.is_closed(), "{down}");
}

#[test]
fn is_peer_gone_holds_when_the_peer_hung_up() {
    let gone = |e: &Error| {
        assert!(e.is_peer_gone(), "{e}");
        assert!(e.kind().is_peer_gone(), "{e}");
        assert!(!e.is_timeout() && !e.is_closed(), "{e}");
    };
    // On a link: the first receive reports it; later ones `LinkDown`.
    for kind in [Kind::Unix, Kind::Tcp] {
        let (link, peer) = link_with_raw_peer(kind, LinkRole::Client);
        let c = link.new_conn().unwrap();
        drop(peer);
        gone(&assert_io_kind(
            c.recv_pkt(),
            std::io::ErrorKind::UnexpectedEof,
        ));
        let down = assert_kind(c.recv_pkt(), ErrorKind::LinkDown);
        assert!(!down.is_peer_gone(), "{down}");
    }

    // During the handshake: the peer accepts and hangs up.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let t = std::thread::spawn(move || drop(l.accept().unwrap()));
    let e = Dialer::new(addr).dial().unwrap_err();
    t.join().unwrap();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Handshake(HandshakeError::UnexpectedEof)
        ),
        "{e}"
    );
    gone(&e);

    // A TLS peer that closes the socket without ending its session.
    let (client, server, relay) = relayed_tls_links();
    let c = server.new_conn().unwrap();
    drop(relay);
    gone(&assert_io_kind(
        c.recv_pkt(),
        std::io::ErrorKind::UnexpectedEof,
    ));
    drop(client);
}

#[test]
fn tls_failures_say_which_alert() {
    // Our own names for what the TLS library negotiates and sends.
    assert_eq!(TlsAlert::from_code(48), TlsAlert::UnknownCa);
    assert_eq!(TlsAlert::UnknownCa.code(), 48);
    assert_eq!(TlsAlert::from_code(200), TlsAlert::Other(200));
    let refused = TlsError::PeerRefused(TlsAlert::UnknownCa);
    assert_eq!(
        refused.to_string(),
        "the peer refused the TLS session: our certificate is not signed by its CA \
         (unknown CA) (alert unknown_ca)"
    );
    let protocol = TlsError::Protocol {
        reason: "decryption failed".into(),
        alert: Some(TlsAlert::BadRecordMac),
    };
    assert_eq!(
        protocol.to_string(),
        "TLS: decryption failed (alert bad_record_mac)"
    );
}

/// Every public error type is an error: `Display`, `Error`, and it can
/// cross threads (as `Box<dyn Error + Send + Sync>`).
#[test]
fn every_error_type_is_an_error() {
    fn is_error<E: std::error::Error + Send + Sync + 'static>(e: E) -> String {
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(e);
        boxed.to_string()
    }
    let (client, _server) = unix_pair();
    client.close();
    is_error(client.new_conn().unwrap_err());
    is_error(ErrorKind::LinkDown);
    is_error(HandshakeError::Timeout);
    is_error(TlsError::TlsClient);
    is_error(decode_error());
    is_error(neonet::neopy::Message::decode(0x7777, &[]).unwrap_err());
    let mut scanner = neonet::neopy::Scanner::default();
    is_error(scanner.scan(&[0xc1]).unwrap_err());
    is_error(neonet::neopy::check_handshake(b"GET / HTTP").unwrap_err());

    // The answers a request did not expect: protocol 6's and NEO/py's.
    // One AnswerError for both dialects: the same kinds, the same text.
    use neonet::proto::{Answer, AnswerError, Msg, Payload};
    use neonet::{NeoPy, Proto6};
    let unexpected =
        <() as Answer<Proto6>>::from_answer(Pong::CODE, Payload::Bytes(&[])).unwrap_err();
    assert_eq!(
        unexpected,
        AnswerError::Unexpected {
            code: Pong::CODE,
            got: Some("Pong"),
            expected: "Error (ACK)"
        }
    );
    assert_eq!(
        is_error(unexpected),
        "unexpected message: got Pong (0x8002), expected Error (ACK)"
    );
    let unknown = <() as Answer<NeoPy>>::from_answer(0x7777, Payload::Bytes(&[])).unwrap_err();
    assert_eq!(
        is_error(unknown),
        "unexpected message: got an unknown message (0x7777), expected Error (ACK)"
    );
    let peer = AnswerError::Peer {
        code: ErrorCode::NOT_READY,
        message: "not ready".into(),
    };
    assert_eq!(is_error(peer), "peer error NOT_READY: not ready");
    let decode =
        <() as Answer<Proto6>>::from_answer(neonet::proto::Error::CODE, Payload::Bytes(&[0]))
            .unwrap_err();
    assert_eq!(is_error(decode.clone()), decode_error_text(&decode));
}

/// The text of the decode error inside `e`.
fn decode_error_text(e: &neonet::proto::AnswerError) -> String {
    match e {
        neonet::proto::AnswerError::Decode(d) => d.to_string(),
        other => panic!("not a decode error: {other:?}"),
    }
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
