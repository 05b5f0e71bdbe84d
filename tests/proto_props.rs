//! Property tests of every message (DESIGN §7), with the random values
//! the message table generates (`Message::arbitrary_of`, feature
//! `proptest`), so that a new message is covered without an edit here:
//!
//! 1. every message round-trips: encoded (copied, or in parts) and decoded
//!    (copied, or from a shared buffer), it comes back equal; every strict
//!    prefix of its payload is an error, and so is a byte appended;
//! 2. mutated and random payloads, under every code, never panic, and what
//!    decodes is in canonical form: re-encoded, it decodes to the same
//!    value and re-encodes to the same bytes.
//!
//! What decoding allocates on such payloads is counted in
//! `decode_alloc.rs`. Seeds are fixed: every run checks the same cases.

use std::io::IoSlice;
use std::sync::Arc;

use neonet::proto::encoding::packet_io_slices;
use neonet::proto::DecodeErrorKind;
use neonet::proto::{DecodeError, Message, MESSAGE_CODES};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};

/// Random values per message type.
const CASES_PER_MESSAGE: u32 = 256;

/// A runner of `cases` cases with a fixed seed.
fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        rng_seed: RngSeed::Fixed(0x6e65_6f36),
        failure_persistence: None,
        ..Config::default()
    })
}

/// The bytes a vectored write of `slices` sends.
fn concat(slices: &[IoSlice<'_>]) -> Vec<u8> {
    slices.iter().flat_map(|s| s.iter().copied()).collect()
}

/// The payload of `m` by `encode_into`, checked against its `encoded_len`
/// and against `encode_parts` (+ `packet_io_slices`).
fn encode(m: &Message) -> Vec<u8> {
    let mut buf = vec![0x5a]; // encode_into appends
    m.encode_into(&mut buf);
    assert_eq!(buf[0], 0x5a, "encode_into overwrote the buffer");
    buf.remove(0);
    assert_eq!(buf.len(), m.encoded_len(), "encoded_len of {}", m.name());
    let mut parts = vec![0x5a];
    let segs = m.encode_parts(&mut parts);
    let bytes = concat(&packet_io_slices(&parts, &segs));
    assert!(bytes[1..] == buf[..], "{}: encode_parts differs", m.name());
    buf
}

/// Decodes `payload` as `code` with `decode` and with `decode_shared` (the
/// payload after 0, 5 or 10 other bytes of a shared buffer), which must
/// agree, and no window may outlive the value.
fn decode_both(code: u16, payload: &[u8]) -> Result<Message, DecodeError> {
    let res = Message::decode(code, payload);
    let offset = payload.len() % 3 * 5;
    let mut packet = vec![0xa5; offset];
    packet.extend_from_slice(payload);
    let packet = Arc::new(packet);
    let shared = Message::decode_shared(code, &packet, offset);
    assert_eq!(
        shared, res,
        "{code:#06x}: decode_shared differs from decode"
    );
    drop(shared);
    assert_eq!(Arc::strong_count(&packet), 1, "a window outlived its value");
    res
}

/// Decodes `payload` as `code`: it may fail, naming the code; if it
/// decodes, the value is in canonical form.
fn decode_canonically(code: u16, payload: &[u8]) {
    match decode_both(code, payload) {
        Ok(m) => {
            assert_eq!(m.code(), code);
            let canonical = encode(&m);
            let again = decode_both(code, &canonical).expect("a canonical payload decodes");
            assert_eq!(again, m, "{code:#06x}: not canonical");
            assert!(
                encode(&again) == canonical,
                "{code:#06x}: encoding not stable"
            );
        }
        Err(e) => {
            assert_eq!(e.code(), code);
            assert!(e.to_string().contains(&format!("{code:#06x}")), "{e}");
        }
    }
}

#[test]
fn every_message_round_trips() {
    for &code in MESSAGE_CODES {
        let strategy = Message::arbitrary_of(code).expect("known code");
        runner(CASES_PER_MESSAGE)
            .run(&strategy, |m| {
                let bytes = encode(&m);
                prop_assert_eq!(decode_both(code, &bytes), Ok(m.clone()));

                // every strict prefix is truncated: the first 200, and the
                // last 16 (large object data cut short)
                let len = bytes.len();
                let tail = len.saturating_sub(16).max(len.min(200));
                for n in (0..len.min(200)).chain(tail..len) {
                    prop_assert!(decode_both(code, &bytes[..n]).is_err(), "prefix {}", n);
                }

                let mut long = bytes;
                long.push(0);
                let err = decode_both(code, &long).unwrap_err();
                prop_assert_eq!(err.kind(), &DecodeErrorKind::TrailingBytes { count: 1 });
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{code:#06x}: {e}"));
    }
}

#[test]
fn mutated_payloads_decode_canonically_or_fail() {
    let mutations = vec((any::<prop::sample::Index>(), 1..=255u8), 1..4);
    let other = prop::sample::select(MESSAGE_CODES);
    runner(50_000)
        .run(
            &(any::<Message>(), mutations, other),
            |(m, mutations, other)| {
                let mut bytes = encode(&m);
                if bytes.is_empty() {
                    return Ok(());
                }
                for (at, x) in mutations {
                    let i = at.index(bytes.len());
                    bytes[i] ^= x;
                }
                decode_canonically(m.code(), &bytes);
                decode_canonically(other, &bytes);
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn random_payloads_decode_canonically_or_fail() {
    runner(2000)
        .run(&vec(any::<u8>(), 0..96), |junk| {
            for &code in MESSAGE_CODES {
                decode_canonically(code, &junk);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn unknown_codes_are_errors() {
    runner(2000)
        .run(&any::<u16>(), |code| {
            prop_assume!(!MESSAGE_CODES.contains(&code));
            let err = Message::decode(code, &[]).unwrap_err();
            prop_assert_eq!(err.kind(), &DecodeErrorKind::UnknownCode);
            prop_assert!(Message::arbitrary_of(code).is_none());
            Ok(())
        })
        .unwrap();
}
