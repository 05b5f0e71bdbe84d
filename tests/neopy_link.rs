//! NEO/py links (DESIGN §10) end to end: the handshake in both directions
//! and on a listener serving both dialects; framing over a real link
//! (packets split at every byte, many in one read, too big, malformed);
//! ids and routing (each side its own counter, answers by id, late
//! answers dropped); light mode with NEO/py's typed messages; the memory
//! limits. Peers are neonet links, or raw sockets that write bytes by hand.

#[macro_use]
mod common;
mod counting_alloc;
mod neopy_common;
mod py_peer;

use py_peer::{link_with_py_peer, packet, PyPeer};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering::Relaxed;
use std::thread;
use std::time::Duration;

use common::{
    assert_kind, raw_streams, read_to_eof, watchdog, Kind, Raw, WatchedStream, LET_BLOCK,
    TEST_LIMIT,
};
use neonet::neopy::{self, Message, Msg, HANDSHAKE};
use neonet::packet::MAX_PACKET_SIZE;
use neonet::proto::ErrorCode;
use neonet::{proto, AnyLink, ErrorKind, HandshakeError, Limits, LinkListener, LinkRole, NodeLink};
use neonet::{Addr, Dialer, NeoPy, Proto6};

// ---- the largest single allocation of the process ----

/// Counts allocations: a link that allocated a packet its peer only
/// announced would show in `counting_alloc::largest()`.
#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

// ---- helpers ----

fn ask_object(oid: u64) -> neopy::AskObject {
    neopy::AskObject {
        oid,
        at: None,
        before: Some(oid + 1),
    }
}

fn answer_object(oid: u64, data: Vec<u8>) -> neopy::AnswerObject {
    neopy::AnswerObject {
        oid,
        serial: oid + 1,
        compression: Some(0),
        data: data.into(),
        ..Default::default()
    }
}

fn np_pair() -> (NodeLink<NeoPy>, NodeLink<NeoPy>) {
    NodeLink::<NeoPy>::pair().unwrap()
}

/// Serves `AskObject` (and `Ping`) on `link` until it goes down.
fn serve_objects(link: &NodeLink<NeoPy>) {
    while let Ok(req) = link.recv() {
        let _ = match req.msg() {
            Message::AskObject(a) => req.reply(&answer_object(a.oid, a.oid.to_be_bytes().into())),
            Message::Ping(_) => req.reply(&neopy::Pong {}),
            _ => Ok(()),
        };
    }
}

fn handshake_kind<T: std::fmt::Debug>(r: neonet::Result<T>) -> HandshakeError {
    match r.map(|_| ()).unwrap_err().kind() {
        ErrorKind::Handshake(h) => h.clone(),
        k => panic!("not a handshake error: {k:?}"),
    }
}

/// `handshake_with(NeoPy)` against a peer that wrote `sent` (then closed
/// if `close`): the error, and what we wrote before closing.
fn handshake_against(sent: &[u8], close: bool) -> (HandshakeError, Vec<u8>) {
    let (a, mut b) = UnixStream::pair().unwrap();
    b.write_all(sent).unwrap();
    if close {
        b.shutdown(std::net::Shutdown::Write).unwrap();
    }
    let timeout = Some(Duration::from_secs(30));
    let k = handshake_kind(NodeLink::<NeoPy>::handshake(a, LinkRole::Client, timeout));
    b.set_read_timeout(timeout).unwrap();
    let mut got = Vec::new();
    // EOF, or a reset (what we did not read of the peer's is discarded).
    let _ = b.read_to_end(&mut got);
    (k, got)
}

// ---- handshake ----

#[test]
fn handshake_both_sides_then_light_mode() {
    let (a, b) = UnixStream::pair().unwrap();
    let t = thread::spawn(move || NodeLink::<NeoPy>::handshake(b, LinkRole::Server, None));
    let client = NodeLink::<NeoPy>::handshake(a, LinkRole::Client, None).unwrap();
    let server = t.join().unwrap().unwrap();
    thread::scope(|s| {
        s.spawn(|| serve_objects(&server));
        assert_eq!(client.ask1(&neopy::Ping {}).unwrap(), neopy::Pong {});
        client.close();
    });
}

#[test]
fn we_write_the_handshake_at_once() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let t = thread::spawn(move || NodeLink::<NeoPy>::handshake(a, LinkRole::Client, None));
    // We read theirs before we write ours: they did not wait for us.
    let mut got = [0u8; 6];
    b.read_exact(&mut got).unwrap();
    assert_eq!(got, HANDSHAKE);
    b.write_all(&HANDSHAKE).unwrap();
    t.join().unwrap().unwrap();
}

#[test]
fn neo_version_4_is_a_version_mismatch() {
    let (k, wrote) = handshake_against(b"\x92\xa3NEO\x04", false);
    assert!(
        matches!(k, HandshakeError::VersionMismatch { peer: 4, ours: 5 }),
        "{k:?}"
    );
    assert_eq!(
        k.to_string(),
        "protocol version mismatch: peer = 00000004 ; our side = 00000005"
    );
    // Ours was written, then the stream closed: no error packet (as NEO/py).
    assert_eq!(wrote, HANDSHAKE);
}

#[test]
fn http_bytes_are_not_a_neo_stream() {
    let (k, wrote) = handshake_against(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false);
    let HandshakeError::NotNeo { got } = &k else {
        panic!("{k:?}")
    };
    // What came, at most the 6 bytes of a handshake, named in the error.
    assert!(!got.is_empty() && b"GET / ".starts_with(got), "{got:?}");
    assert!(
        k.to_string().starts_with("not a NEO stream: got 474554"),
        "{k}"
    );
    assert_eq!(wrote, HANDSHAKE);
}

#[test]
fn eof_after_3_bytes_is_unexpected_eof() {
    let (k, wrote) = handshake_against(&HANDSHAKE[..3], true);
    assert!(matches!(k, HandshakeError::UnexpectedEof), "{k:?}");
    assert_eq!(wrote, HANDSHAKE);
}

#[test]
fn protocol_6_against_neopy_fails_on_both_sides() {
    let (a, b) = UnixStream::pair().unwrap();
    let t = thread::spawn(move || {
        handshake_kind(NodeLink::<NeoPy>::handshake(b, LinkRole::Server, None))
    });
    let p6 = handshake_kind(NodeLink::<Proto6>::handshake(a, LinkRole::Client, None));
    let py = t.join().unwrap();
    // Each names what came: NEO/py's first 4 bytes, protocol 6's word.
    assert!(
        matches!(
            p6,
            HandshakeError::VersionMismatch {
                peer: 0x92a3_4e45,
                ours: 6
            }
        ),
        "{p6:?}"
    );
    assert!(
        matches!(&py, HandshakeError::NotNeo { got } if got == &[0, 0, 0, 6]),
        "{py:?}"
    );
}

#[test]
fn listener_serves_both_dialects_on_one_port() {
    watchdog(TEST_LIMIT, || {
        let l = LinkListener::bind("127.0.0.1:0").unwrap();
        let py = Dialer::new(l.local_addr())
            .dialect::<NeoPy>()
            .dial()
            .unwrap();
        let p6 = Dialer::new(l.local_addr()).dial().unwrap();
        let (s1, s2) = (l.accept().unwrap(), l.accept().unwrap());
        let (s_py, s_p6) = match (s1, s2) {
            (AnyLink::NeoPy(py), AnyLink::Proto6(p6))
            | (AnyLink::Proto6(p6), AnyLink::NeoPy(py)) => (py, p6),
            other => panic!("one of each dialect: {other:?}"),
        };
        assert_eq!(l.stats().handshaked, 2);
        thread::scope(|s| {
            s.spawn(|| serve_objects(&s_py));
            s.spawn(|| {
                while let Ok(req) = s_p6.recv() {
                    let get: proto::GetObject = req.msg_as().unwrap();
                    let ans = proto::AnswerObject {
                        oid: get.oid,
                        ..Default::default()
                    };
                    req.reply(&ans).unwrap();
                }
            });
            assert_eq!(py.ask1(&ask_object(5)).unwrap().oid, 5);
            let get = proto::GetObject {
                oid: 6,
                at: 0,
                before: 0,
            };
            assert_eq!(p6.ask1(&get).unwrap().oid, 6);
            py.close();
            p6.close();
        });
    });
}

#[test]
fn unix_listener_serves_a_neopy_client() {
    watchdog(TEST_LIMIT, || {
        let dir = std::env::temp_dir().join(format!("neonet-neopy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("listener");
        let _ = std::fs::remove_file(&path);
        let l = LinkListener::bind_unix(&path).unwrap();
        let client = neonet::Dialer::new(Addr::from(&path))
            .dialect::<NeoPy>()
            .dial()
            .unwrap();
        let server = l.accept().unwrap().into_neopy().expect("a NEO/py link");
        thread::scope(|s| {
            s.spawn(|| serve_objects(&server));
            assert_eq!(client.ask1(&ask_object(4)).unwrap().oid, 4);
            client.close();
        });
        l.close();
        let _ = std::fs::remove_dir(&dir);
    });
}

#[test]
fn listener_keeps_the_packet_that_follows_the_handshake() {
    // A NEO/py client writes its first request right behind its handshake
    // (trace.tsv): the listener must not read into it.
    watchdog(TEST_LIMIT, || {
        let l = LinkListener::bind("127.0.0.1:0").unwrap();
        let mut raw = TcpStream::connect(l.local_addr().as_tcp().unwrap()).unwrap();
        let mut first = HANDSHAKE.to_vec();
        first.extend(packet(0, &ask_object(3)));
        raw.write_all(&first).unwrap();
        let server = l.accept().unwrap().into_neopy().unwrap();
        let req = server.recv().unwrap();
        assert_eq!(
            (req.conn_id(), req.msg()),
            (0, &Message::AskObject(ask_object(3)))
        );
        req.reply(&answer_object(3, vec![1])).unwrap();
        let mut peer = PyPeer::new(Raw::Tcp(raw));
        let mut hs = [0u8; 6];
        (&peer.raw).read_exact(&mut hs).unwrap();
        assert_eq!(hs, HANDSHAKE);
        assert_eq!(
            peer.next_msg(),
            (0, Message::AnswerObject(answer_object(3, vec![1])))
        );
    });
}

#[test]
fn listener_refuses_another_neopy_version() {
    watchdog(TEST_LIMIT, || {
        let l = LinkListener::bind("127.0.0.1:0").unwrap();
        let mut raw = TcpStream::connect(l.local_addr().as_tcp().unwrap()).unwrap();
        raw.write_all(b"\x92\xa3NEO\x04").unwrap();
        raw.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        // Our handshake, then the listener hangs up.
        let mut got = Vec::new();
        let _ = raw.read_to_end(&mut got);
        assert_eq!(got, HANDSHAKE);
        assert!(common::wait_until(Duration::from_secs(30), || l
            .stats()
            .failed
            == 1));
        assert_eq!(l.stats().handshaked, 0);
    });
}

// ---- framing over a real link ----

kind_test!(packet_split_at_every_byte_boundary, |kind| {
    let (server, peer) = link_with_py_peer(kind, LinkRole::Server);
    let req = ask_object(0x0102_0304_0506);
    let len = packet(0, &req).len();
    for k in 1..len {
        let bytes = packet(k as u32, &req);
        peer.write(&bytes[..k]);
        // Only a delay, so that the halves come in two reads more often.
        thread::sleep(Duration::from_millis(1));
        peer.write(&bytes[k..]);
        let got = server.recv().unwrap();
        assert_eq!(
            (got.conn_id(), got.msg()),
            (k as u32, &Message::AskObject(req.clone()))
        );
    }
    // A packet larger than the read-ahead buffer, byte by byte.
    let big = neopy::AddObject {
        oid: 1,
        data: common::payload(1, 100_000).into(),
        ..Default::default()
    };
    for b in packet(7, &big) {
        peer.write(&[b]);
    }
    let got = server.recv().unwrap();
    assert_eq!((got.conn_id(), got.msg()), (7, &Message::AddObject(big)));
});

kind_test!(hundred_packets_in_one_read, |kind| {
    let (a, b) = raw_streams(kind);
    let (stream, watch) = WatchedStream::new(b);
    let server = NodeLink::<NeoPy>::new(stream, LinkRole::Server).unwrap();
    let all: Vec<u8> = (0..100u32)
        .flat_map(|i| packet(i, &ask_object(u64::from(i))))
        .collect();
    (&a).write_all(&all).unwrap();
    for i in 0..100u32 {
        let got = server.recv().unwrap();
        assert_eq!(
            (got.conn_id(), got.msg()),
            (i, &Message::AskObject(ask_object(u64::from(i))))
        );
    }
    if kind == Kind::Unix {
        // One write of 2.4 KB on a socketpair is read whole.
        assert_eq!(watch.reads.load(Relaxed), 1);
    }
});

kind_test!(
    a_packet_announcing_100_mib_is_too_big_and_never_allocated,
    |kind| {
        let (client, mut peer) = link_with_py_peer(kind, LinkRole::Client);
        thread::scope(|s| {
            let asking = s.spawn(|| client.ask1(&ask_object(1)));
            let (head, _) = peer.next();
            // [id, 0x8020, [bin of 100 MiB ...: the answer's first argument
            let mut bytes = vec![0x93];
            bytes.push(head.msg_id as u8);
            bytes.extend([0xcd, 0x80, 0x20, 0x97, 0xc6]);
            bytes.extend((100u32 << 20).to_be_bytes());
            peer.write(&bytes);
            // The least size: the head (5), the arguments' array (1),
            // the bin's header (5) and bytes, and a byte for each of the
            // 6 more arguments.
            let want = ErrorKind::PacketTooBig {
                size: 11 + (100 << 20) + 6,
            };
            assert_kind(asking.join().unwrap(), want);
        });
        assert!(!client.is_up());
        assert_eq!(read_to_eof(&peer.raw).unwrap(), b"");
        // Nothing in this test binary allocates 64 MiB or more.
        assert!(
            counting_alloc::largest() < MAX_PACKET_SIZE,
            "{} bytes allocated at once",
            counting_alloc::largest()
        );
    }
);

/// Bytes that are no NEO/py packet, and what the link says of each.
fn malformed() -> Vec<(Vec<u8>, neopy::FramingError)> {
    use neopy::FramingError as F;
    vec![
        (vec![0x01], F::NotAPacket { marker: 0x01 }),
        (vec![0x92, 0x00, 0x02], F::NotAPacket { marker: 0x92 }),
        (
            vec![0x93, 0xa1, b'x', 0x02, 0x90],
            F::BadHead {
                field: "msg_id",
                ty: "u32",
                offset: 1,
            },
        ),
        (
            vec![0x93, 0x00, 0xce, 0, 1, 0, 0, 0x90],
            F::BadHead {
                field: "code",
                ty: "u16",
                offset: 2,
            },
        ),
        (
            vec![0x93, 0x00, 0x02, 0xc0],
            F::ArgsNotArray { marker: 0xc0 },
        ),
        (
            vec![0x93, 0x00, 0x02, 0x91, 0xc1],
            F::Reserved { offset: 4 },
        ),
    ]
}

kind_test!(malformed_msgpack_takes_the_link_down, |kind| {
    for (bytes, why) in malformed() {
        let (client, mut peer) = link_with_py_peer(kind, LinkRole::Client);
        thread::scope(|s| {
            let asking = s.spawn(|| client.ask1(&ask_object(1)));
            let _ = peer.next();
            peer.write(&bytes);
            let e = assert_kind(asking.join().unwrap(), ErrorKind::Framing(why.clone()));
            assert!(
                matches!(e.kind(), ErrorKind::Framing(w) if *w == why),
                "{e}"
            );
        });
        assert!(!client.is_up());
        assert_kind(client.ask1(&ask_object(2)), ErrorKind::LinkDown);
        assert_kind(client.recv(), ErrorKind::LinkDown);
        assert_eq!(read_to_eof(&peer.raw).unwrap(), b"");
    }
});

kind_test!(big_answers_end_where_they_end, |kind| {
    // Answers larger than the read-ahead buffer whose last arguments come
    // after the data (the reader learns their size last), each followed
    // at once by the next packet in the same write.
    let (client, mut peer) = link_with_py_peer(kind, LinkRole::Client);
    thread::scope(|s| {
        let asking = s.spawn(|| {
            (0..3u64)
                .map(|i| client.ask1(&ask_object(i)).unwrap())
                .collect::<Vec<_>>()
        });
        for i in 0..3u64 {
            let (head, _) = peer.next();
            let mut ans = answer_object(i, common::payload(i, (1 << 20) + i as usize));
            ans.data_serial = Some(0x0102_0304_0506_0708 + i);
            let mut bytes = packet(head.msg_id, &ans);
            // A notification right behind it, which nobody takes.
            bytes.extend(packet(i as u32, &neopy::CloseClient {}));
            peer.write(&bytes);
        }
        let got = asking.join().unwrap();
        for (i, a) in got.iter().enumerate() {
            assert_eq!(a.data.len(), (1 << 20) + i);
            assert!(
                a.data.as_slice() == common::payload(i as u64, (1 << 20) + i),
                "answer {i}"
            );
            assert_eq!(a.data_serial, Some(0x0102_0304_0506_0708 + i as u64));
        }
    });
    for i in 0..3u32 {
        let n = client.recv().unwrap();
        assert_eq!(
            (n.conn_id(), n.msg()),
            (i, &Message::CloseClient(neopy::CloseClient {}))
        );
    }
});

// ---- ids and routing ----

kind_test!(
    eight_threads_ask_over_one_link_answered_out_of_order,
    |kind| {
        const THREADS: u64 = 8;
        const ASKS: u64 = 1000;
        let (a, b) = raw_streams(kind);
        let client = NodeLink::<NeoPy>::new(a, LinkRole::Client).unwrap();
        let server = NodeLink::<NeoPy>::new(b, LinkRole::Server).unwrap();
        thread::scope(|s| {
            // Each asker waits for its answer before it asks again, so the
            // server has one request of each at a time: it takes all 8, then
            // answers them last first.
            s.spawn(|| {
                for _ in 0..ASKS {
                    let reqs: Vec<_> = (0..THREADS).map(|_| server.recv().unwrap()).collect();
                    for req in reqs.iter().rev() {
                        let a: neopy::AskObject = req.msg_as().unwrap();
                        req.reply(&answer_object(a.oid, a.oid.to_le_bytes().into()))
                            .unwrap();
                    }
                }
            });
            for t in 0..THREADS {
                let client = &client;
                s.spawn(move || {
                    for i in 0..ASKS {
                        let oid = t << 32 | i;
                        let ans = client.ask1(&ask_object(oid)).unwrap();
                        assert_eq!(
                            (ans.oid, ans.data.as_slice()),
                            (oid, &oid.to_le_bytes()[..])
                        );
                    }
                });
            }
        });
        assert_eq!(client.stats().stray_answers, 0);
        assert_eq!(client.stats().live_conns, 0);
    }
);

kind_test!(
    a_peer_request_with_the_id_of_our_request_is_a_new_request,
    |kind| {
        // As in trace.tsv, where the master's first notification has the id of
        // the client's first request: two id spaces.
        let (client, mut peer) = link_with_py_peer(kind, LinkRole::Client);
        thread::scope(|s| {
            let asking = s.spawn(|| client.ask1(&ask_object(7)));
            let (ours, _) = peer.next();
            assert_eq!(ours.msg_id, 0, "our counter starts at 0");
            // The peer's own request 0, while our request 0 waits.
            peer.send(0, &neopy::AskLastTransaction {});
            let req = client.recv().unwrap();
            assert_eq!(
                (req.conn_id(), req.msg()),
                (
                    0,
                    &Message::AskLastTransaction(neopy::AskLastTransaction {})
                )
            );
            req.reply(&neopy::AnswerLastTransaction { ltid: 42 })
                .unwrap();
            assert_eq!(
                peer.next_msg(),
                (
                    0,
                    Message::AnswerLastTransaction(neopy::AnswerLastTransaction { ltid: 42 })
                )
            );
            // Our answer still routes to our ask.
            peer.send(0, &answer_object(7, vec![7]));
            assert_eq!(asking.join().unwrap().unwrap(), answer_object(7, vec![7]));
        });
        // Our next request takes the next id.
        thread::scope(|s| {
            let asking = s.spawn(|| client.ask1(&neopy::Ping {}));
            let (head, _) = peer.next();
            assert_eq!(head.msg_id, 1);
            peer.send(1, &neopy::Pong {});
            asking.join().unwrap().unwrap();
        });
    }
);

kind_test!(a_late_answer_is_dropped_and_counted, |kind| {
    let (client, mut peer) = link_with_py_peer(kind, LinkRole::Client);
    client.set_recv_timeout(Some(Duration::from_millis(50)));
    assert_kind(client.ask1(&ask_object(1)), ErrorKind::Timeout);
    let (late, _) = peer.next();
    peer.send(late.msg_id, &answer_object(1, vec![]));
    // An answer for an id never used, too.
    peer.send(1000, &neopy::Pong {});
    client.set_recv_timeout(Some(Duration::from_secs(30)));
    thread::scope(|s| {
        let asking = s.spawn(|| client.ask1(&neopy::Ping {}));
        // What the link sends next is our next request: no reply to the
        // stray answers (this dialect has none).
        let (head, _) = peer.next();
        assert_eq!((head.msg_id, head.code), (1, neopy::Ping::CODE));
        peer.send(1, &neopy::Pong {});
        asking.join().unwrap().unwrap();
    });
    assert_eq!(client.stats().stray_answers, 2);
    assert!(client.is_up());
});

// ---- light mode ----

#[test]
fn light_mode_with_neopy_messages() {
    let (client, server) = np_pair();
    thread::scope(|s| {
        s.spawn(|| {
            while let Ok(req) = server.recv() {
                let _ = match req.msg() {
                    Message::Truncate(t) if t.tid == 1 => req.reply(&neopy::Error {
                        code: ErrorCode::ACK,
                        message: String::new(),
                    }),
                    Message::Truncate(_) => req.reply(&neopy::Error {
                        code: ErrorCode::NOT_READY,
                        message: "not now".into(),
                    }),
                    Message::AskObject(_) => req.reply(&neopy::Pong {}),
                    Message::CloseClient(_) => server.send1(&neopy::CloseClient {}),
                    _ => Ok(()),
                };
            }
        });
        // The 8 requests answered by Error(ACK) give ().
        client.ask1(&neopy::Truncate { tid: 1 }).unwrap();
        let e = assert_kind(
            client.ask1(&neopy::Truncate { tid: 2 }),
            ErrorKind::Peer {
                code: ErrorCode::NOT_READY,
                message: String::new(),
            },
        );
        assert!(matches!(e.kind(), ErrorKind::Peer { message, .. } if message == "not now"));
        assert_kind(
            client.ask1(&ask_object(1)),
            ErrorKind::UnexpectedMessage {
                got: "",
                expected: "",
            },
        );
        // A notification there, one back.
        client.send1(&neopy::CloseClient {}).unwrap();
        let back = client.recv().unwrap();
        assert_eq!(back.msg(), &Message::CloseClient(neopy::CloseClient {}));
        assert_kind(
            back.msg_as::<neopy::Ping>(),
            ErrorKind::UnexpectedMessage {
                got: "",
                expected: "",
            },
        );
        assert_kind(
            client.recv_timeout(Duration::from_millis(10)),
            ErrorKind::Timeout,
        );
        client.close();
    });
}

// A NEO/py link has no connections, and takes NEO/py's messages only:
// checked by the compiler (the compile_fail examples of `neonet::Dialect`).

kind_test!(a_bad_request_is_answered_and_skipped, |kind| {
    let (server, mut peer) = link_with_py_peer(kind, LinkRole::Server);
    // AskObject with no arguments: a request, answered; a notification
    // with a bad argument: nothing waits for an answer.
    peer.write(&[0x93, 0x05, neopy::AskObject::CODE as u8, 0x90]);
    peer.write(&[0x93, 0x06, neopy::CloseClient::CODE as u8, 0x91, 0x01]);
    peer.send(7, &neopy::Ping {});
    let req = server.recv().unwrap();
    assert_eq!(
        (req.conn_id(), req.msg()),
        (7, &Message::Ping(neopy::Ping {}))
    );
    req.reply(&neopy::Pong {}).unwrap();
    let (id, msg) = peer.next_msg();
    let Message::Error(e) = msg else {
        panic!("{msg:?}")
    };
    assert_eq!((id, e.code), (5, ErrorCode::PROTOCOL_ERROR));
    assert!(e.message.contains("AskObject"), "{}", e.message);
    assert_eq!(peer.next_msg(), (7, Message::Pong(neopy::Pong {})));
    assert_eq!(server.stats().bad_requests, 2);
});

kind_test!(the_accept_backlog_bounds_a_neopy_link, |kind| {
    let (server, mut peer) = link_with_py_peer(kind, LinkRole::Server);
    server.set_limits(Limits {
        accept_backlog: 3,
        ..Limits::default()
    });
    for id in 0..5 {
        peer.send(id, &neopy::Ping {});
    }
    peer.send(5, &neopy::CloseClient {});
    // The requests over the limit are refused with their ids; the
    // notification, which expects nothing, is dropped.
    for id in 3..5 {
        let (got, msg) = peer.next_msg();
        let Message::Error(e) = msg else {
            panic!("{msg:?}")
        };
        assert_eq!(
            (got, e.code, e.message.as_str()),
            (id, ErrorCode::PROTOCOL_ERROR, neonet::error::REPLY_REFUSED)
        );
    }
    assert!(common::wait_until(Duration::from_secs(30), || server
        .stats()
        .refused
        == 3));
    assert_eq!(
        server.stats().queued_bytes,
        3 * (neonet::Limits::PACKET_OVERHEAD + 1)
    );
    for id in 0..3 {
        let req = server.recv().unwrap();
        assert_eq!(req.conn_id(), id);
    }
    assert_eq!(server.stats().queued_bytes, 0);
    // Room again.
    peer.send(9, &neopy::Ping {});
    assert_eq!(server.recv().unwrap().conn_id(), 9);
});

#[test]
fn keepalive_pings_in_the_links_dialect() {
    watchdog(TEST_LIMIT, || {
        let (client, server) = np_pair();
        client.set_keepalive(Some((Duration::from_millis(20), Duration::from_secs(30))));
        // The peer answers its pings as an application does.
        let req = server.recv().unwrap();
        assert_eq!(req.msg(), &Message::Ping(neopy::Ping {}));
        req.reply(&neopy::Pong {}).unwrap();
        assert!(common::wait_until(Duration::from_secs(30), || client
            .stats()
            .pings
            >= 1));
        // The Pong was consumed, not counted as a stray.
        thread::sleep(LET_BLOCK);
        assert_eq!(client.stats().stray_answers, 0);
        assert!(client.is_up());
    });
}

kind_test!(the_link_queue_limit_overflows_neopy_requests, |kind| {
    let (server, mut peer) = link_with_py_peer(kind, LinkRole::Server);
    server.set_limits(Limits {
        link_queue_bytes: 3000,
        ..Limits::default()
    });
    // Five requests of ~1.2 KB each that nobody receives yet: past 3000
    // queued bytes, the largest queued ones overflow, and their askers
    // are answered "connection closed" with their ids.
    let store = |oid| neopy::AskStoreObject {
        oid,
        data: vec![0x5a; 1000].into(),
        ..Default::default()
    };
    for id in 0..5u32 {
        peer.send(id, &store(u64::from(id)));
    }
    let mut closed = Vec::new();
    for _ in 0..3 {
        let (id, msg) = peer.next_msg();
        let Message::Error(e) = msg else {
            panic!("{msg:?}")
        };
        assert_eq!(
            (e.code, e.message.as_str()),
            (ErrorCode::PROTOCOL_ERROR, neonet::error::REPLY_CLOSED)
        );
        closed.push(id);
    }
    assert_eq!(server.stats().overflows, 3);
    assert!(server.stats().queued_bytes <= 3000);
    // The other two are still there for recv1, which skips the dropped.
    let mut got: Vec<u32> = (0..2).map(|_| server.recv().unwrap().conn_id()).collect();
    got.extend(closed);
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2, 3, 4]);
    assert_eq!(server.stats().queued_bytes, 0);
});

kind_test!(close_accept_refuses_neopy_requests, |kind| {
    let (server, mut peer) = link_with_py_peer(kind, LinkRole::Server);
    peer.send(0, &neopy::Ping {});
    peer.send(1, &neopy::CloseClient {});
    assert!(common::wait_until(Duration::from_secs(30), || {
        server.stats().queued_bytes > 0
    }));
    server.close_accept();
    peer.send(2, &neopy::Ping {});
    peer.send(3, &neopy::CloseClient {});
    // Requests queued and later ones are refused with their ids, in
    // order; the notifications expect nothing.
    for want in [0, 2] {
        let (id, msg) = peer.next_msg();
        let Message::Error(e) = msg else {
            panic!("{msg:?}")
        };
        assert_eq!(
            (id, e.message.as_str()),
            (want, neonet::error::REPLY_REFUSED)
        );
    }
    assert_kind(server.recv(), ErrorKind::LinkNoListen);
    // Our own asks still work.
    thread::scope(|s| {
        let asking = s.spawn(|| server.ask1(&neopy::Ping {}));
        let (head, _) = peer.next();
        assert_eq!((head.msg_id, head.code), (0, neopy::Ping::CODE));
        peer.send(0, &neopy::Pong {});
        asking.join().unwrap().unwrap();
    });
});

// ---- any bytes ----

/// Ends the raw peer's sending side: the link sees the end of the stream.
fn shutdown_write(raw: &Raw) {
    let res = match raw {
        Raw::Unix(s) => s.shutdown(std::net::Shutdown::Write),
        Raw::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
    };
    res.expect("shutdown");
}

/// Packets of the vectors, whole, as a hostile peer's raw material.
fn some_packets() -> Vec<Vec<u8>> {
    neopy_common::vectors()
        .into_iter()
        .filter(|v| v.bytes.len() < 4096)
        .map(|v| v.bytes)
        .collect()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever a peer sends, then hanging up: the link takes the requests
    /// it can frame and decode, and goes down with what was wrong (the
    /// end of the stream, bytes that are no packet, a packet too big),
    /// which a waiting `ask1` reports; the reader never panics.
    #[test]
    fn any_bytes_then_eof(
        picks in proptest::collection::vec(0usize..1000, 0..6),
        junk in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        cut in 0usize..4096,
    ) {
        let packets = some_packets();
        let mut bytes: Vec<u8> = picks.iter().flat_map(|&i| packets[i % packets.len()].clone()).collect();
        bytes.extend(&junk);
        // Cut anywhere: the stream may end mid-packet.
        bytes.truncate(cut % (bytes.len() + 1));
        let kind = watchdog(TEST_LIMIT, move || {
            let (client, mut peer) = link_with_py_peer(Kind::Unix, LinkRole::Client);
            thread::scope(|s| {
                let asking = s.spawn(|| client.ask1(&neopy::Ping {}));
                let _ = peer.next();
                peer.write(&bytes);
                shutdown_write(&peer.raw);
                // Requests and notifications that came whole are taken
                // (or skipped, if they do not decode).
                while client.recv_timeout(Duration::from_millis(1)).is_ok() {}
                asking.join().unwrap().map(|_| ()).map_err(|e| e.kind().clone())
            })
        });
        match kind {
            Ok(()) => {}
            Err(ErrorKind::Io(e)) => proptest::prop_assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
            Err(ErrorKind::Framing(_) | ErrorKind::PacketTooBig { .. }) => {}
            // The bytes held an answer with our id 0 that is no Pong.
            Err(ErrorKind::UnexpectedMessage { .. } | ErrorKind::Decode(_) | ErrorKind::Peer { .. }) => {}
            Err(k) => proptest::prop_assert!(false, "{k:?}"),
        }
    }
}

/// A NEO/py peer's last notifications before it closes the link (a
/// master declaring the cluster STOPPING and this node DOWN) reach
/// `recv` in order, and only then is the link reported down.
#[test]
fn notifications_sent_just_before_the_peer_closes_are_received() {
    let (ours, peer) = np_pair();
    peer.send1(&neopy::NotifyClusterInformation {
        state: neopy::ClusterState::STOPPING,
    })
    .unwrap();
    peer.send1(&neopy::Ping {}).unwrap();
    peer.close();
    // Both are queued and the link is down before we look.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while ours.is_up() {
        assert!(
            std::time::Instant::now() < deadline,
            "the link never went down"
        );
        thread::yield_now();
    }
    let first = ours.recv().unwrap();
    assert!(
        matches!(first.msg(), Message::NotifyClusterInformation(n) if n.state == neopy::ClusterState::STOPPING),
        "{:?}",
        first.msg()
    );
    assert!(matches!(ours.recv().unwrap().msg(), Message::Ping(_)));
    let e = ours.recv().unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::LinkDown), "{e}");
}
