//! Messages over links (DESIGN §7), over a socketpair and over TCP
//! loopback (bare streams, and a link dialed to a `LinkListener`):
//!
//! 1. every message type goes through a connection and comes back equal;
//! 2. `expect` of the wrong type is `UnexpectedMessage` naming both types;
//!    an unknown code and a bad payload are decode errors (and the
//!    connection keeps working);
//! 3. `ask` answered by the right type, by `Error` (a `Peer` error with the
//!    peer's code and text) and by another type (`UnexpectedMessage`);
//! 4. an `AnswerObject` with 8 MiB of data round-trips intact.

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::thread;
use std::time::Duration;

use common::{pair, payload, Kind};
use neonet::proto::{
    AnswerObject, Checksum, Error, ErrorCode, GetObject, Message, Msg, Ping, Pong, INVALID_TID,
    MESSAGE_CODES,
};
use neonet::{ErrorKind, Packet};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

/// Generous bound on a test that blocks on the network; a hang fails the
/// test instead of blocking the run forever. Never asserts a duration.
const WATCHDOG: Duration = Duration::from_secs(120);

kind_tests!(
    [unix, tcp, dialed],
    WATCHDOG;
    every_message_round_trips,
    expect_and_decode_errors,
    ask_answers,
    big_answer_object,
);

fn checksum(seed: u8) -> Checksum {
    Checksum(std::array::from_fn(|i| seed.wrapping_add(i as u8 * 7)))
}

/// One value of every message type: a random one (the strategies of the
/// message table, with a fixed seed), so that a message added to the table
/// is covered without an edit here.
fn one_of_each() -> Vec<Message> {
    let mut runner = TestRunner::deterministic();
    MESSAGE_CODES
        .iter()
        .map(|&code| {
            let strategy = Message::arbitrary_of(code).expect("a known code");
            strategy.new_tree(&mut runner).expect("a value").current()
        })
        .collect()
}

/// 1. Every message type goes from the client to the server and back (on
///    the same connection) unchanged.
fn every_message_round_trips(kind: Kind) {
    let msgs = one_of_each();
    // The list must cover the whole protocol table: a message added to
    // the table must be added here too.
    let sent: BTreeSet<u16> = msgs.iter().map(Message::code).collect();
    let known: BTreeSet<u16> = MESSAGE_CODES.iter().copied().collect();
    assert_eq!(sent.len(), msgs.len(), "two test values of the same type");
    assert_eq!(sent, known, "one_of_each() does not cover MESSAGE_CODES");

    let (client, server) = pair(kind);
    let c = client.new_conn().unwrap();
    for m in &msgs {
        send_message(&c, m);
    }
    let s = server.accept().unwrap();
    assert_eq!(s.id(), c.id());
    for m in &msgs {
        let got = s.recv().unwrap();
        assert_eq!(&got, m, "{} changed on the way to the server", m.name());
        // Echo it back as the value we received.
        send_message(&s, &got);
    }
    for m in &msgs {
        let got = c.recv().unwrap();
        assert_eq!(&got, m, "{} changed on the way back", m.name());
    }
}

/// Sends a `Message` as a packet of its code and encoding (the typed
/// `send` is the same generic code for every type: see
/// `big_answer_object` for it).
fn send_message(c: &neonet::Conn, m: &Message) {
    let mut payload = Vec::new();
    m.encode_into(&mut payload);
    c.send_pkt(Packet::new(0, m.code(), &payload))
        .unwrap_or_else(|e| panic!("send {}: {e}", m.name()));
}

/// Asserts that `res` is `UnexpectedMessage { got, expected }` and that its
/// text names both.
#[track_caller]
fn assert_unexpected<T: std::fmt::Debug>(res: neonet::Result<T>, got: &str, expected: &str) {
    let err = res.expect_err("expected UnexpectedMessage");
    match err.kind() {
        ErrorKind::UnexpectedMessage {
            got: g,
            expected: x,
        } => {
            assert_eq!((*g, *x), (got, expected), "{err}");
        }
        k => panic!("expected UnexpectedMessage, got {k:?} ({err})"),
    }
    let text = err.to_string();
    assert!(
        text.contains(got) && text.contains(expected),
        "error text does not name {got} and {expected}: {text}"
    );
}

/// Asserts that `res` is a decode error for `code`; returns its text.
#[track_caller]
fn assert_decode<T: std::fmt::Debug>(res: neonet::Result<T>, code: u16) -> String {
    let err = res.expect_err("expected a decode error");
    match err.kind() {
        ErrorKind::Decode(d) => assert_eq!(d.code(), code, "{err}"),
        k => panic!("expected Decode, got {k:?} ({err})"),
    }
    err.to_string()
}

/// 2. `expect` of the right and wrong types; unknown codes and bad
///    payloads are decode errors that leave the connection usable.
fn expect_and_decode_errors(kind: Kind) {
    let (client, server) = pair(kind);
    let c = client.new_conn().unwrap();
    let get = GetObject {
        oid: 7,
        at: 8,
        before: 9,
    };

    c.send(&Ping {}).unwrap();
    let s = server.accept().unwrap();
    assert_unexpected(s.expect::<Pong>(), "Ping", "Pong");

    c.send(&get).unwrap();
    assert_eq!(s.expect::<GetObject>().unwrap(), get);

    // The other direction, with an answer type.
    s.send(&Error {
        code: ErrorCode::DENIED,
        message: "nope".into(),
    })
    .unwrap();
    assert_unexpected(c.expect::<AnswerObject>(), "Error", "AnswerObject");

    // An unknown code, with recv and with expect.
    c.send_pkt(Packet::new(0, 0x1234, b"xyz")).unwrap();
    let text = assert_decode(s.recv(), 0x1234);
    assert!(text.contains("0x1234"), "does not name the code: {text}");
    c.send_pkt(Packet::new(0, 0x1234, b"")).unwrap();
    let text = assert_decode(s.expect::<GetObject>(), 0x1234);
    assert!(text.contains("0x1234"), "does not name the code: {text}");

    // A GetObject whose payload is 3 bytes instead of 24.
    c.send_pkt(Packet::new(0, GetObject::CODE, &[1, 2, 3]))
        .unwrap();
    assert_decode(s.recv(), GetObject::CODE);
    c.send_pkt(Packet::new(0, GetObject::CODE, &[1, 2, 3]))
        .unwrap();
    assert_decode(s.expect::<GetObject>(), GetObject::CODE);
    // Trailing bytes are bad too.
    c.send_pkt(Packet::new(0, Ping::CODE, &[0])).unwrap();
    assert_decode(s.recv(), Ping::CODE);

    // Decode errors are local to the message: the connection still works.
    c.send(&get).unwrap();
    assert_eq!(s.recv().unwrap(), Message::GetObject(get.clone()));
    s.send(&Pong {}).unwrap();
    assert_eq!(c.expect::<Pong>().unwrap(), Pong {});
}

fn answer_for(get: &GetObject, data: Vec<u8>) -> AnswerObject {
    AnswerObject {
        oid: get.oid,
        serial: get.at,
        next_serial: INVALID_TID,
        compression: false,
        checksum: checksum(get.oid as u8),
        data: data.into(),
        data_serial: get.before,
    }
}

/// 3. `ask` answered by the right type, by `Error`, by another type.
fn ask_answers(kind: Kind) {
    let (client, server) = pair(kind);
    thread::scope(|scope| {
        let served = scope.spawn(|| {
            // Answer 1: the right type.
            let s = server.accept().unwrap();
            let get = s.expect::<GetObject>().unwrap();
            s.send(&answer_for(&get, payload(get.oid, 100))).unwrap();
            // Answer 2: an error.
            let s = server.accept().unwrap();
            let get = s.expect::<GetObject>().unwrap();
            s.send(&Error {
                code: ErrorCode::OID_NOT_FOUND,
                message: format!("oid {} not found", get.oid),
            })
            .unwrap();
            // Answer 3: another type.
            let s = server.accept().unwrap();
            s.expect::<GetObject>().unwrap();
            s.send(&Pong {}).unwrap();
        });

        let get = GetObject {
            oid: 1,
            at: 2,
            before: 3,
        };
        let c = client.new_conn().unwrap();
        let ans = c.ask(&get).unwrap();
        assert_eq!(ans, answer_for(&get, payload(1, 100)));

        let get = GetObject { oid: 42, ..get };
        let c = client.new_conn().unwrap();
        let err = c.ask(&get).unwrap_err();
        match err.kind() {
            ErrorKind::Peer { code, message } => {
                assert_eq!(*code, ErrorCode::OID_NOT_FOUND, "{err}");
                assert_eq!(message, "oid 42 not found", "{err}");
            }
            k => panic!("expected Peer, got {k:?} ({err})"),
        }
        let text = err.to_string();
        assert!(text.contains("oid 42 not found"), "{text}");

        let c = client.new_conn().unwrap();
        assert_unexpected(c.ask(&get), "Pong", "AnswerObject");
        served.join().unwrap();
    });
}

/// 4. An `AnswerObject` with 8 MiB of patterned data goes through intact,
///    in both directions.
fn big_answer_object(kind: Kind) {
    const SIZE: usize = 8 << 20;
    let (client, server) = pair(kind);
    let get = GetObject {
        oid: 0xb16,
        at: 0x1000,
        before: INVALID_TID,
    };
    let big = answer_for(&get, payload(0xb16, SIZE));
    thread::scope(|scope| {
        let big = &big;
        let server = &server;
        let served = scope.spawn(move || {
            let s = server.accept().unwrap();
            let get = s.expect::<GetObject>().unwrap();
            s.send(&answer_for(&get, payload(get.oid, SIZE))).unwrap();
            // And the same back from the client, on the same connection.
            let echo = s.expect::<AnswerObject>().unwrap();
            assert!(
                echo == *big,
                "8 MiB AnswerObject corrupted (client → server)"
            );
            s.send(&Pong {}).unwrap();
        });
        let c = client.new_conn().unwrap();
        let ans = c.ask(&get).unwrap();
        assert_eq!(ans.data.len(), SIZE);
        // assert! rather than assert_eq!: no 8 MiB debug dump on failure.
        if let Some(i) = (0..SIZE).find(|&i| ans.data[i] != big.data[i]) {
            panic!("8 MiB AnswerObject data differs from byte {i}");
        }
        assert!(ans == *big, "8 MiB AnswerObject fields differ");
        c.send(&ans).unwrap();
        assert_eq!(c.expect::<Pong>().unwrap(), Pong {});
        served.join().unwrap();
    });
}
