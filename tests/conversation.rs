//! Streamed answers (DESIGN §10): a NEO/py storage answers
//! `AskFetchObjects` with many `AddObject` notifications under the
//! *requester's* msg_id, then `AnswerFetchObjects`.
//!
//! 1. Asking: a raw NEO/py peer streams 1000 `AddObject`s then the answer
//!    to our `ask_stream`: all 1001 arrive, in order; read slowly, the
//!    link holds at most its per-connection limit (the reader waits for
//!    room, the peer's writes wait) and nothing is refused or dropped.
//! 2. Serving: our server streams 1000 packets then the answer to a raw
//!    NEO/py peer, all under its msg_id.
//! 3. Routing: the peer's notifications that repeat a msg_id all reach
//!    `recv1_as`; a request of the peer's with the msg_id of one of our
//!    conversations is the peer's own; closing the link or dropping the
//!    conversation while the reader waits for room; an `Error` answer, a
//!    timeout.

#[macro_use]
mod common;
mod py_peer;

use std::io::Write;
use std::thread;
use std::time::Duration;

use common::*;
use neonet::neopy::{self, AddObject, AnswerFetchObjects, AskFetchObjects, Message};
use neonet::packet::ANSWER_BIT;
use neonet::proto::ErrorCode;
use neonet::NeoPy;
use neonet::{AnswerStream, ErrorKind, Limits, LinkRole, NodeLink, Streamed};
use py_peer::{link_with_py_peer, PyPeer};

/// Items the peer streams in the big exchanges.
const ITEMS: u64 = 1000;

/// A fetch request for partition `partition`.
fn fetch(partition: u32) -> AskFetchObjects {
    AskFetchObjects {
        partition,
        length: ITEMS as u32,
        ..Default::default()
    }
}

/// The `n`th object of a stream, with `size` bytes of data.
fn object(n: u64, size: usize) -> AddObject {
    AddObject {
        oid: n,
        serial: n + 1,
        data: payload(n, size).into(),
        ..Default::default()
    }
}

/// Reads the peer's fetch request; returns its msg_id.
fn read_fetch(peer: &mut PyPeer) -> u32 {
    let (id, msg) = peer.next_msg();
    assert!(matches!(msg, Message::AskFetchObjects(_)), "{msg:?}");
    id
}

/// Takes the next message of `stream`, which must be the item `n`.
#[track_caller]
fn expect_item(stream: &mut AnswerStream<AskFetchObjects>, n: u64, size: usize) {
    match stream.recv().unwrap() {
        Streamed::Item(Message::AddObject(obj)) => {
            assert_eq!((obj.oid, obj.serial), (n, n + 1), "item {n} out of order");
            assert_eq!(obj.data.as_ref(), payload(n, size).as_slice(), "item {n}");
        }
        other => panic!("item {n}: {other:?}"),
    }
}

/// Streams `ITEMS` objects of `size` bytes then the answer, as a NEO/py
/// storage does, under msg_id `id`.
fn stream_objects(peer: &PyPeer, id: u32, size: usize) {
    for n in 0..ITEMS {
        peer.send(id, &object(n, size));
    }
    let end = AnswerFetchObjects {
        next_tid: Some(7),
        ..Default::default()
    };
    peer.send(id, &end);
}

// ---- 1. asking ----

fn all_items_arrive_in_order_with_bounded_memory(kind: Kind) {
    const SIZE: usize = 4096;
    const LIMIT: usize = 64 << 10;
    let (link, mut peer) = link_with_py_peer(kind, LinkRole::Client);
    link.set_limits(Limits {
        conn_queue_bytes: LIMIT,
        ..Limits::default()
    });
    let mut stream = link.ask_stream(&fetch(3)).unwrap();
    let id = read_fetch(&mut peer);
    assert_eq!(id, stream.id());
    thread::scope(|s| {
        // Its writes block while we do not read: the socket buffers hold
        // far less than the 4 MiB it sends.
        s.spawn(|| stream_objects(&peer, id, SIZE));
        // Read slowly: only once the reader waits for room.
        until(|| link.stats().stream_waits >= 1);
        let most = LIMIT + SIZE + neonet::Limits::PACKET_OVERHEAD + 64;
        for n in 0..ITEMS {
            let queued = link.stats().queued_bytes;
            assert!(queued <= most, "{queued} bytes queued before item {n}");
            expect_item(&mut stream, n, SIZE);
        }
        match stream.recv().unwrap() {
            Streamed::Answer(end) => assert_eq!(end.next_tid, Some(7)),
            other => panic!("the answer: {other:?}"),
        }
    });
    assert!(stream.is_done());
    assert_kind(stream.recv(), ErrorKind::ClosedConn);
    let stats = link.stats();
    assert_eq!(
        (stats.refused, stats.overflows, stats.queued_bytes),
        (0, 0, 0)
    );
    assert!(stats.stream_waits >= 1);
}

kind_tests!([unix, tcp], TEST_LIMIT; all_items_arrive_in_order_with_bounded_memory);

/// Polls `cond` (the link's stats) until it holds.
#[track_caller]
fn until(cond: impl FnMut() -> bool) {
    assert!(wait_until(TEST_LIMIT, cond), "not reached");
}

// ---- 2. serving ----

fn our_server_streams_then_answers(kind: Kind) {
    const SIZE: usize = 100;
    let (link, mut peer) = link_with_py_peer(kind, LinkRole::Server);
    peer.send(41, &fetch(1));
    thread::scope(|s| {
        s.spawn(|| {
            let req = link.recv().unwrap();
            assert_eq!(req.conn_id(), 41);
            for n in 0..ITEMS {
                req.send(&object(n, SIZE)).unwrap();
            }
            req.reply(&AnswerFetchObjects::default()).unwrap();
        });
        for n in 0..ITEMS {
            let (id, msg) = peer.next_msg();
            assert_eq!(id, 41, "item {n} under the request's msg_id");
            match msg {
                Message::AddObject(obj) => assert_eq!(obj.oid, n),
                other => panic!("item {n}: {other:?}"),
            }
        }
        let (head, _) = peer.next();
        assert_eq!(
            (head.msg_id, head.code),
            (41, <AnswerFetchObjects as neopy::Msg>::CODE)
        );
        assert_ne!(head.code & ANSWER_BIT, 0);
    });
}

kind_tests!([unix, tcp], TEST_LIMIT; our_server_streams_then_answers);

/// Our own ends on both sides: what one streams, the other takes.
#[test]
fn neonet_to_neonet() {
    watchdog(TEST_LIMIT, || {
        let (client, server) = NodeLink::<NeoPy>::pair().unwrap();
        thread::scope(|s| {
            s.spawn(|| {
                let req = server.recv().unwrap();
                for n in 0..ITEMS {
                    req.send(&object(n, 10)).unwrap();
                }
                req.reply(&AnswerFetchObjects::default()).unwrap();
            });
            let mut stream = client.ask_stream(&fetch(0)).unwrap();
            for n in 0..ITEMS {
                expect_item(&mut stream, n, 10);
            }
            assert!(matches!(stream.recv().unwrap(), Streamed::Answer(_)));
        });
    });
}

// ---- 3. routing and endings ----

/// A NEO/py peer may send several notifications with one msg_id (it
/// streams, or does not number them): each reaches `recv1_as`, none is
/// refused.
fn repeated_msg_ids_all_reach_recv1(kind: Kind) {
    let (link, peer) = link_with_py_peer(kind, LinkRole::Server);
    for n in 0..5 {
        peer.send(9, &object(n, 3));
    }
    for n in 0..5 {
        let req = link.recv().unwrap();
        assert_eq!(req.conn_id(), 9);
        match req.msg() {
            Message::AddObject(obj) => assert_eq!(obj.oid, n),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(link.stats().refused, 0);
}

kind_tests!([unix, tcp], TEST_LIMIT; repeated_msg_ids_all_reach_recv1);

/// A request of the peer's whose msg_id is that of a conversation of ours
/// is the peer's own: it goes to `recv1_as`, not into the conversation.
fn a_request_with_our_conversation_id_is_the_peers(kind: Kind) {
    let (link, mut peer) = link_with_py_peer(kind, LinkRole::Client);
    let mut stream = link.ask_stream(&fetch(0)).unwrap();
    let id = read_fetch(&mut peer);
    peer.send(id, &neopy::AskLastTransaction {});
    peer.send(id, &object(0, 1));
    peer.send(id, &AnswerFetchObjects::default());
    let req = link.recv().unwrap();
    assert!(matches!(req.msg(), Message::AskLastTransaction(_)));
    assert!(matches!(
        stream.recv().unwrap(),
        Streamed::Item(Message::AddObject(_))
    ));
    assert!(matches!(stream.recv().unwrap(), Streamed::Answer(_)));
}

kind_tests!([unix, tcp], TEST_LIMIT; a_request_with_our_conversation_id_is_the_peers);

/// Close while the reader waits for a conversation's room: close returns,
/// the conversation fails with `LinkClosed`.
fn close_while_the_reader_waits_for_room(kind: Kind) {
    let (link, mut peer) = link_with_py_peer(kind, LinkRole::Client);
    link.set_limits(Limits {
        conn_queue_bytes: 8 << 10,
        ..Limits::default()
    });
    let mut stream = link.ask_stream(&fetch(0)).unwrap();
    let id = read_fetch(&mut peer);
    thread::scope(|s| {
        s.spawn(|| {
            // Its writes fail once the link is closed.
            for n in 0..100 {
                let bytes = py_peer::packet(id, &object(n, 1024));
                if (&peer.raw).write_all(&bytes).is_err() {
                    break;
                }
            }
        });
        until(|| link.stats().stream_waits >= 1);
        link.close();
        // What was queued still comes out, then the end.
        let err = loop {
            match stream.recv() {
                Ok(Streamed::Item(_)) => {}
                other => break other,
            }
        };
        assert_kind(err, ErrorKind::LinkClosed);
    });
}

kind_tests!([unix, tcp], TEST_LIMIT; close_while_the_reader_waits_for_room);

/// Dropping a conversation while the reader waits for its room lets the
/// reader go on: the rest of the stream is dropped, the link serves the
/// next ask.
fn dropping_the_conversation_frees_the_reader(kind: Kind) {
    let (link, mut peer) = link_with_py_peer(kind, LinkRole::Client);
    link.set_limits(Limits {
        conn_queue_bytes: 8 << 10,
        ..Limits::default()
    });
    let stream = link.ask_stream(&fetch(0)).unwrap();
    let id = read_fetch(&mut peer);
    let writer = peer.writer();
    thread::scope(|s| {
        s.spawn(|| {
            for n in 0..100 {
                (&writer)
                    .write_all(&py_peer::packet(id, &object(n, 1024)))
                    .unwrap();
            }
        });
        until(|| link.stats().stream_waits >= 1);
        drop(stream);
        // The link still works: ask1 gets its answer once the peer's
        // stream was read (and dropped).
        let asking = s.spawn(|| link.ask1(&neopy::AskLastTransaction {}));
        let (ask_id, msg) = loop {
            let (i, m) = peer.next_msg();
            if matches!(m, Message::AskLastTransaction(_)) {
                break (i, m);
            }
        };
        let _ = msg;
        peer.send(ask_id, &neopy::AnswerLastTransaction { ltid: 5 });
        assert_eq!(asking.join().unwrap().unwrap().ltid, 5);
    });
    assert_eq!(link.stats().queued_bytes, 0);
}

kind_tests!([unix, tcp], TEST_LIMIT; dropping_the_conversation_frees_the_reader);

/// An `Error` answer ends the exchange as `ErrorKind::Peer`; an exchange
/// that waits past its timeout is `Timeout` and stays usable.
fn error_answer_and_timeout(kind: Kind) {
    let (link, mut peer) = link_with_py_peer(kind, LinkRole::Client);
    let mut stream = link.ask_stream(&fetch(0)).unwrap();
    let id = read_fetch(&mut peer);
    assert_kind(
        stream.recv_timeout(Duration::from_millis(10)),
        ErrorKind::Timeout,
    );
    peer.send(id, &object(0, 1));
    let error = neopy::Error {
        code: ErrorCode::PROTOCOL_ERROR,
        message: "no".into(),
    };
    peer.send(id, &error);
    assert!(matches!(stream.recv().unwrap(), Streamed::Item(_)));
    let e = assert_kind(
        stream.recv(),
        ErrorKind::Peer {
            code: ErrorCode::PROTOCOL_ERROR,
            message: String::new(),
        },
    );
    assert!(e.to_string().contains("no"), "{e}");
}

kind_tests!([unix, tcp], TEST_LIMIT; error_answer_and_timeout);
