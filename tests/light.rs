//! Lightweight mode (DESIGN §8): `send1`, `ask1`, `recv1` / `Request`.
//!
//! 1. `send1` forgets its connection: the peer's answer to it is answered
//!    "connection closed";
//! 2. after `recv1`, further packets on that connection are answered
//!    "connection closed", and the request leaves no tombstone;
//! 3. `ask1` answered by the right type, by `Error`, by another type, and
//!    woken with the link's error when the peer closes the link;
//! 4. many threads of `ask1` against several threads of `recv1` over one
//!    link, every answer checked against its request;
//! 5. closing the link (locally, or the peer closing it) while requests
//!    are in flight: no panic, no hang, only allowed errors.

#[macro_use]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use common::{conns, pair, Kind};
use neonet::error::REPLY_CLOSED;
use neonet::error::REPLY_REFUSED;
use neonet::proto::{
    AnswerObject, Checksum, Error, ErrorCode, GetObject, Message, Msg, Ping, Pong, INVALID_TID,
};
use neonet::{ErrorKind, NodeLink, Packet};

/// Generous bound on a test that blocks on the network; a hang fails the
/// test instead of blocking the run forever. Never asserts a duration.
const WATCHDOG: Duration = Duration::from_secs(120);

kind_tests!(
    [unix, tcp],
    WATCHDOG;
    send1_answer_is_refused,
    recv1_closes_receiving,
    recv1_bad_request,
    ask1_answers,
    ask1_woken_when_peer_closes,
    many_threads,
    race_local_close,
    race_peer_close,
);

/// The link's own "connection closed" reply (DESIGN §4).
fn conn_closed() -> Message {
    Message::Error(Error {
        code: ErrorCode::PROTOCOL_ERROR,
        message: REPLY_CLOSED.into(),
    })
}

const EMPTY: (usize, usize) = (0, 0);

/// What the servers answer to `get`: every field derived from the request.
fn answer_for(get: &GetObject) -> AnswerObject {
    AnswerObject {
        oid: get.oid,
        serial: get.at,
        next_serial: INVALID_TID,
        compression: get.oid % 2 == 1,
        checksum: Checksum(std::array::from_fn(|i| {
            (get.oid as u8).wrapping_add(i as u8)
        })),
        data: get.oid.to_be_bytes().to_vec().into(),
        data_serial: get.before,
    }
}

/// A request unique to (thread, iteration).
fn request(thread: usize, i: usize) -> GetObject {
    let oid = ((thread as u64) << 32) | i as u64;
    GetObject {
        oid,
        at: oid ^ 0x5555_0000_0000_0000,
        before: oid.wrapping_mul(3) | 0x8000_0000_0000_0000,
    }
}

/// 1. `send1` forgets its connection at once: an answer to it is answered
///    "connection closed". For `Ping` and for an `Error` message.
fn send1_answer_is_refused(kind: Kind) {
    let (client, server) = pair(kind);
    let sent: [Message; 2] = [
        Ping {}.into(),
        Error {
            code: ErrorCode::NOT_READY,
            message: "not ready".into(),
        }
        .into(),
    ];
    for msg in &sent {
        match msg {
            Message::Ping(m) => client.send1(m).unwrap(),
            Message::Error(m) => client.send1(m).unwrap(),
            _ => unreachable!(),
        }
        // Nothing of the connection stays on our side.
        assert_eq!(conns(&client), EMPTY);
        let s = server.accept().unwrap();
        assert_eq!(s.id() % 2, 1, "a client connection has an odd id");
        assert_eq!(&s.recv().unwrap(), msg);
        s.send(&Pong {}).unwrap();
        assert_eq!(s.recv().unwrap(), conn_closed(), "answer to {msg:?}");
    }

    // The same from the server side (even ids).
    // (The two connections accepted above were closed with tombstones.)
    let before = conns(&server);
    server.send1(&Ping {}).unwrap();
    assert_eq!(conns(&server), before);
    let c = client.accept().unwrap();
    assert_eq!(c.id() % 2, 0, "a server connection has an even id");
    assert_eq!(c.recv().unwrap(), Message::Ping(Ping {}));
    c.send(&Pong {}).unwrap();
    assert_eq!(c.recv().unwrap(), conn_closed());
}

/// 2. After `recv1`, receiving on the connection is closed: what the peer
///    sends next on it is answered "connection closed", while the reply
///    still goes out; the request leaves no tombstone.
fn recv1_closes_receiving(kind: Kind) {
    let (client, server) = pair(kind);
    let get = request(1, 1);
    let c = client.new_conn().unwrap();
    c.send(&get).unwrap();
    c.send(&Ping {}).unwrap();

    let req = server.recv().unwrap();
    assert_eq!(req.conn_id(), c.id());
    assert_eq!(req.msg(), &Message::GetObject(get.clone()));
    assert_eq!(req.msg_as::<GetObject>().unwrap(), get);
    match req.msg_as::<Ping>().unwrap_err().kind() {
        ErrorKind::UnexpectedMessage { got, expected } => {
            assert_eq!((*got, *expected), ("GetObject", "Ping"))
        }
        k => panic!("expected UnexpectedMessage, got {k:?}"),
    }

    // The second packet (queued or still in flight when recv1 closed
    // receiving) is answered once.
    assert_eq!(c.recv().unwrap(), conn_closed());
    // The reply still goes out.
    req.reply(&answer_for(&get)).unwrap();
    assert_eq!(c.recv().unwrap(), Message::AnswerObject(answer_for(&get)));
    // And a packet sent after that is answered "connection closed" too.
    c.send(&Ping {}).unwrap();
    assert_eq!(c.recv().unwrap(), conn_closed());

    // Forgetting the request leaves no tombstone (and no live conn).
    assert_eq!(server.stats().live_conns, 1);
    req.close();
    assert_eq!(conns(&server), EMPTY);

    // The same with a request dropped without an answer; a packet sent
    // while it is held is refused.
    let c2 = client.new_conn().unwrap();
    c2.send(&Ping {}).unwrap();
    let req = server.recv().unwrap();
    assert_eq!(req.msg(), &Message::Ping(Ping {}));
    c2.send(&Pong {}).unwrap();
    assert_eq!(c2.recv().unwrap(), conn_closed());
    drop(req);
    assert_eq!(conns(&server), EMPTY);
}

/// 3. `ask1` answered by the right type, by `Error` (a `Peer` error with
///    its code and text) and by another type (`UnexpectedMessage`).
fn ask1_answers(kind: Kind) {
    let (client, server) = pair(kind);
    thread::scope(|scope| {
        let served = scope.spawn(|| {
            let req = server.recv().unwrap();
            let get = req.msg_as::<GetObject>().unwrap();
            req.reply(&answer_for(&get)).unwrap();

            let req = server.recv().unwrap();
            let get = req.msg_as::<GetObject>().unwrap();
            req.reply(&Error {
                code: ErrorCode::OID_DOES_NOT_EXIST,
                message: format!("oid {:#x} does not exist", get.oid),
            })
            .unwrap();

            let req = server.recv().unwrap();
            req.reply(&Pong {}).unwrap();
        });

        let get = request(3, 1);
        let ans = client.ask1(&get).unwrap();
        assert_eq!(ans, answer_for(&get));
        assert_eq!(conns(&client), EMPTY, "ask1 forgets its connection");

        let get = request(3, 2);
        let err = client.ask1(&get).unwrap_err();
        match err.kind() {
            ErrorKind::Peer { code, message } => {
                assert_eq!(*code, ErrorCode::OID_DOES_NOT_EXIST, "{err}");
                assert_eq!(*message, format!("oid {:#x} does not exist", get.oid));
            }
            k => panic!("expected Peer, got {k:?} ({err})"),
        }

        let err = client.ask1(&request(3, 3)).unwrap_err();
        match err.kind() {
            ErrorKind::UnexpectedMessage { got, expected } => {
                assert_eq!((*got, *expected), ("Pong", "AnswerObject"), "{err}")
            }
            k => panic!("expected UnexpectedMessage, got {k:?} ({err})"),
        }
        assert_eq!(conns(&client), EMPTY);
        served.join().unwrap();
    });

    // A server that stopped accepting refuses the request: the link's own
    // reply, as a Peer error.
    server.close_accept();
    let err = client.ask1(&request(3, 4)).unwrap_err();
    match err.kind() {
        ErrorKind::Peer { code, message } => {
            assert_eq!(*code, ErrorCode::PROTOCOL_ERROR, "{err}");
            assert_eq!(message, REPLY_REFUSED, "{err}");
        }
        k => panic!("expected Peer, got {k:?} ({err})"),
    }
    let err = server.recv().unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::LinkNoListen), "{err}");
    assert_eq!(conns(&client), EMPTY);
}

/// 2'. A server loop `while let Ok(req) = server.recv()` over a peer that
///     sends an unknown code, then a truncated `GetObject`, then a valid
///     one: the loop serves the valid one; the bad ones are answered
///     `PROTOCOL_ERROR` naming what was wrong, counted, and leave no
///     tombstone.
fn recv1_bad_request(kind: Kind) {
    let (client, server) = pair(kind);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    thread::scope(|scope| {
        let server = &server;
        let served = scope.spawn(move || {
            let mut n = 0;
            while let Ok(req) = server.recv() {
                if let Message::GetObject(get) = req.msg() {
                    req.reply(&answer_for(get)).unwrap();
                    n += 1;
                }
                drop(req);
                done_tx.send(()).unwrap();
            }
            n
        });
        let unknown = client.new_conn().unwrap();
        unknown.send_pkt(Packet::new(0, 0x1234, b"")).unwrap();
        let truncated = client.new_conn().unwrap();
        truncated
            .send_pkt(Packet::new(0, GetObject::CODE, &[1, 2, 3]))
            .unwrap();
        let get = request(4, 1);
        let ans = client.ask1(&get).unwrap();
        assert_eq!(ans, answer_for(&get));
        for (conn, what) in [(&unknown, "0x1234"), (&truncated, "GetObject")] {
            match conn.recv().unwrap() {
                Message::Error(e) => {
                    assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
                    assert!(e.message.contains(what), "{what}: {}", e.message);
                }
                m => panic!("expected a PROTOCOL_ERROR answer, got {m:?}"),
            }
        }
        // The loop is done with the request (the bad ones never reached it).
        done_rx.recv().unwrap();
        let stats = server.stats();
        assert_eq!(stats.bad_requests, 2);
        assert_eq!((stats.live_conns, stats.tombstones), (0, 0));
        client.close();
        assert_eq!(served.join().unwrap(), 1);
    });
}

/// 3'. A client blocked in `ask1` when the peer closes the link wakes with
///     the link's error: the I/O error that took the link down (first
///     `recv` after it) or `LinkDown`.
fn ask1_woken_when_peer_closes(kind: Kind) {
    let (client, server) = pair(kind);
    thread::scope(|scope| {
        let asker = scope.spawn(|| client.ask1(&request(5, 5)));
        // The request arrived: the client is in (or about to be in) recv.
        let req = server.recv().unwrap();
        common::until_blocked(|| client.blocked_recvs(), 1);
        server.close();
        drop(req);
        let err = asker.join().unwrap().unwrap_err();
        match err.kind() {
            ErrorKind::Io(e) => {
                // The first recv after the link went down reports the
                // cause: the peer closed the stream.
                assert!(
                    matches!(
                        e.kind(),
                        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
                    ),
                    "{err}"
                );
            }
            ErrorKind::LinkDown => {}
            k => panic!("expected Io or LinkDown, got {k:?} ({err})"),
        }
        // Later calls fail at once, with LinkDown.
        let err = client.ask1(&request(5, 6)).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::LinkDown), "{err}");
    });
}

/// Serves `recv1` until the link fails; returns how many requests it
/// answered. `drop_every`: drop every n-th request (by oid) unanswered.
fn serve(server: &NodeLink, drop_every: Option<u64>, strict: bool) -> usize {
    let mut served = 0;
    loop {
        let req = match server.recv() {
            Ok(req) => req,
            Err(e) => {
                assert_allowed("recv1", &e);
                return served;
            }
        };
        let get = req.msg_as::<GetObject>().expect("a GetObject");
        if drop_every.is_some_and(|n| get.oid % n == n - 1) {
            drop(req);
            continue;
        }
        match req.reply(&answer_for(&get)) {
            Ok(()) => served += 1,
            Err(e) if !strict => assert_allowed("reply", &e),
            Err(e) => panic!("reply: {e}"),
        }
    }
}

/// Errors allowed when the link is closed or goes down under us.
#[track_caller]
fn assert_allowed(op: &str, e: &neonet::Error) {
    assert!(
        matches!(
            e.kind(),
            ErrorKind::LinkClosed | ErrorKind::LinkDown | ErrorKind::Io(_) | ErrorKind::ClosedConn
        ),
        "{op}: unexpected error kind {:?} ({e})",
        e.kind()
    );
}

/// 4. 8 threads × 5 000 `ask1` against 2 threads of `recv1`, over one
///    link; every answer matches its request.
fn many_threads(kind: Kind) {
    const CLIENTS: usize = 8;
    const SERVERS: usize = 2;
    const ROUNDS: usize = 5_000;
    let (client, server) = pair(kind);
    thread::scope(|scope| {
        let servers: Vec<_> = (0..SERVERS)
            .map(|_| scope.spawn(|| serve(&server, None, true)))
            .collect();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|t| {
                let client = &client;
                scope.spawn(move || {
                    for i in 0..ROUNDS {
                        let get = request(t, i);
                        let ans = client
                            .ask1(&get)
                            .unwrap_or_else(|e| panic!("thread {t} request {i}: {e}"));
                        assert_eq!(ans, answer_for(&get), "thread {t} request {i}");
                    }
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        assert_eq!(client.stats().live_conns, 0);
        // Wakes the servers blocked in recv1.
        server.close();
        let served: usize = servers.into_iter().map(|s| s.join().unwrap()).sum();
        assert_eq!(served, CLIENTS * ROUNDS);
    });
}

/// Which link the race test closes.
#[derive(Debug, Clone, Copy)]
enum Closing {
    /// The askers' own link: `close()` under their feet.
    Local,
    /// The servers' link: for the askers, the link goes down.
    Peer,
}

fn race_local_close(kind: Kind) {
    race(kind, Closing::Local);
}

fn race_peer_close(kind: Kind) {
    race(kind, Closing::Peer);
}

/// 5. `close()` while requests are in flight: askers in `ask1`, servers in
///    `recv1`/`reply`, some requests dropped unanswered. Every call
///    returns, with Ok or an allowed error; nothing panics or hangs.
fn race(kind: Kind, closing: Closing) {
    const REPEAT: usize = 200;
    const CLIENTS: usize = 3;
    const SERVERS: usize = 2;
    const ROUNDS: usize = 4;
    let oks = AtomicUsize::new(0);
    let errs = AtomicUsize::new(0);
    for rep in 0..REPEAT {
        let (client, server) = pair(kind);
        let start = Barrier::new(CLIENTS + SERVERS + 1);
        // How long the closer lets the requests run: 0 to ~2000 yields,
        // varying with the repetition (only a delay).
        let delay = (rep * 7919) % 2000;
        thread::scope(|scope| {
            for _ in 0..SERVERS {
                scope.spawn(|| {
                    start.wait();
                    // Every 3rd request is dropped without an answer.
                    serve(&server, Some(3), false);
                });
            }
            for t in 0..CLIENTS {
                let (client, start, oks, errs) = (&client, &start, &oks, &errs);
                scope.spawn(move || {
                    start.wait();
                    for i in 0..ROUNDS {
                        let get = request(t, rep * ROUNDS + i);
                        match client.ask1(&get) {
                            Ok(ans) => {
                                assert_eq!(ans, answer_for(&get));
                                oks.fetch_add(1, SeqCst);
                            }
                            Err(e) => {
                                assert_allowed("ask1", &e);
                                errs.fetch_add(1, SeqCst);
                            }
                        }
                    }
                });
            }
            start.wait();
            for _ in 0..delay {
                thread::yield_now();
            }
            match closing {
                Closing::Local => client.close(),
                Closing::Peer => server.close(),
            }
        });
        // Both ends fail cleanly afterwards.
        for link in [&client, &server] {
            let err = link.ask1(&request(9, rep)).unwrap_err();
            assert_allowed("ask1 after close", &err);
        }
        client.close();
        server.close();
    }
    // Not an assertion on timing: just what the run covered.
    eprintln!(
        "race {kind:?} {closing:?}: {} answers, {} errors",
        oks.load(SeqCst),
        errs.load(SeqCst)
    );
}
