//! What decoding allocates, counted by a global allocator that wraps the
//! system one (DESIGN §5.1, §7): decoding a payload of `n` bytes never
//! allocates more than `DECODE_GROWTH × n + DECODE_ALLOWANCE` bytes at
//! once, whatever the payload:
//!
//! 1. one `RequestIdentification` whose `dev_path` holds 16 M empty
//!    strings (a 64 MiB payload, which as a `Vec<String>` would take
//!    384 MiB) is refused, and nothing large is allocated;
//! 2. payloads of every kind of list and map whose items are larger in
//!    memory than on the wire (empty strings, addresses, rows, map entries
//!    in any order; text that is not UTF-8), small and large;
//! 3. random, mutated and forged payloads under every code.
//!
//! A test binary of its own: the allocator counts per thread, so the tests
//! may run in parallel.

use std::collections::BTreeMap;

use neonet::proto::DecodeErrorKind;
use neonet::proto::{
    AnswerObjectUndoSerial, CheckReplicas, DecodeError, FetchObjects, KnownMaster, Message, Msg,
    NodeUUID, NotPrimaryMaster, Replicate, RequestIdentification, RowInfo, SendPartitionTable,
    UndoSerial, DECODE_ALLOWANCE, DECODE_GROWTH, MESSAGE_CODES,
};
use neonet::{HEADER_SIZE, MAX_PACKET_SIZE};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};

mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

/// The most bytes held at once while `f` ran (its result dropped inside),
/// beyond what was held before.
fn measure<T>(f: impl FnOnce() -> T) -> usize {
    counting_alloc::peak_held(f)
}

/// The allocation budget of a payload of `len` bytes.
fn budget(len: usize) -> usize {
    DECODE_GROWTH * len + DECODE_ALLOWANCE
}

/// Decodes `payload` as `code` (copying, and from a shared buffer),
/// asserting that neither allocates beyond the budget; the result, and
/// the most the copying decoding held at once.
#[track_caller]
fn decode_within_budget(code: u16, payload: &[u8]) -> (Result<(), DecodeError>, usize) {
    let mut res = None;
    let peak = measure(|| res = Some(Message::decode(code, payload).map(drop)));
    assert!(
        peak <= budget(payload.len()),
        "{code:#06x}: {peak} bytes for {} of payload",
        payload.len()
    );
    let shared = std::sync::Arc::new(payload.to_vec());
    let shared_peak = measure(|| Message::decode_shared(code, &shared, 0));
    assert!(
        shared_peak <= budget(payload.len()),
        "{code:#06x} shared: {shared_peak} bytes"
    );
    (res.unwrap(), peak)
}

fn encode<M: Msg>(m: &M) -> Vec<u8> {
    let mut b = Vec::new();
    m.encode_into(&mut b);
    b
}

/// 1. The attack of issue 10: a 64 MiB packet of empty strings.
#[test]
fn sixteen_million_empty_dev_paths_are_refused_without_allocating() {
    let fixed = encode(&RequestIdentification::default()).len();
    let count = (MAX_PACKET_SIZE - HEADER_SIZE - fixed) / 4;
    assert!(count > 16_000_000);
    let req = RequestIdentification {
        dev_path: vec![String::new(); count],
        ..Default::default()
    };
    let payload = encode(&req);
    drop(req);
    assert_eq!(payload.len(), fixed + 4 * count);

    let mut res = None;
    let peak = measure(|| res = Some(RequestIdentification::decode(&payload)));
    let err = res.unwrap().unwrap_err();
    assert_eq!(err.field(), Some("dev_path"));
    assert!(
        matches!(err.kind(), DecodeErrorKind::TooMuchMemory { needed, .. }
            if *needed == count * std::mem::size_of::<String>()),
        "{err}"
    );
    // nothing of the list was allocated: not even the payload's size
    assert!(peak < 4096, "{peak} bytes allocated");
    eprintln!(
        "{count} empty dev_path strings, {} bytes of payload: refused, {peak} bytes allocated",
        payload.len()
    );
}

/// Payloads of `n` items that are small on the wire and large in memory,
/// one per kind of list or map, named.
fn degenerate(n: usize) -> Vec<(&'static str, u16, Vec<u8>)> {
    let tids = || (0..n as u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    vec![
        (
            "empty dev_path strings",
            RequestIdentification::CODE,
            encode(&RequestIdentification {
                dev_path: vec![String::new(); n],
                ..Default::default()
            }),
        ),
        (
            "empty addresses",
            NotPrimaryMaster::CODE,
            encode(&NotPrimaryMaster {
                primary: NodeUUID(1),
                known_master_list: vec![KnownMaster::default(); n],
            }),
        ),
        (
            "empty rows",
            SendPartitionTable::CODE,
            encode(&SendPartitionTable {
                ptid: 1,
                num_replicas: 1,
                row_list: vec![RowInfo::default(); n],
            }),
        ),
        (
            "map of tid to empty oid lists",
            FetchObjects::CODE,
            encode(&FetchObjects {
                obj_known_dict: tids().map(|t| (t, Vec::new())).collect(),
                ..Default::default()
            }),
        ),
        (
            "map of partition to empty string",
            Replicate::CODE,
            encode(&Replicate {
                source_dict: (0..n as u32).map(|p| (p, String::new())).collect(),
                ..Default::default()
            }),
        ),
        (
            "map of partition to node",
            CheckReplicas::CODE,
            encode(&CheckReplicas {
                partition_dict: (0..n as u32).map(|p| (p, NodeUUID(1))).collect(),
                ..Default::default()
            }),
        ),
        (
            "map of oid to undo serials",
            AnswerObjectUndoSerial::CODE,
            encode(&AnswerObjectUndoSerial {
                object_tid_dict: tids().map(|t| (t, UndoSerial::default())).collect(),
            }),
        ),
        (
            "map in scrambled order",
            FetchObjects::CODE,
            scrambled_map(n),
        ),
        ("text that is not UTF-8", 0x8000, not_utf8(n)),
    ]
}

/// A `FetchObjects` whose map of `n` empty oid lists comes in an order that
/// is neither ascending nor descending (a B-tree's nodes fill less).
fn scrambled_map(n: usize) -> Vec<u8> {
    let mut b = encode(&FetchObjects::default());
    b.truncate(b.len() - 4); // the empty map's count
    b.extend_from_slice(&(n as u32).to_be_bytes());
    for i in 0..n as u64 {
        let key = (i * 7919 + i / 11 * 104_729) % (n as u64 * 4 + 1);
        b.extend_from_slice(&key.to_be_bytes());
        b.extend_from_slice(&[0; 4]);
    }
    b
}

/// An `Error` whose message is `n` bytes of 0xff: each one becomes U+FFFD,
/// 3 bytes.
fn not_utf8(n: usize) -> Vec<u8> {
    let mut b = vec![0, 0, 0, 6];
    b.extend_from_slice(&(n as u32).to_be_bytes());
    b.resize(8 + n, 0xff);
    b
}

/// 2. Every kind of degenerate payload, from what the allowance covers to
///    far beyond it: within the budget, accepted or not.
#[test]
fn degenerate_payloads_stay_within_the_budget() {
    for n in [10, 1_000, 30_000, 300_000, 3_000_000] {
        for (what, code, payload) in degenerate(n) {
            let (res, peak) = decode_within_budget(code, &payload);
            let outcome = match res {
                Ok(_) => "decoded".to_string(),
                Err(e) => {
                    assert!(
                        matches!(e.kind(), DecodeErrorKind::TooMuchMemory { .. }),
                        "{what}: {e}"
                    );
                    "refused".to_string()
                }
            };
            eprintln!(
                "{n:>9} {what:<34} {:>9} bytes: {outcome}, {:.2} x payload allocated",
                payload.len(),
                peak as f64 / payload.len() as f64
            );
        }
    }
}

/// Small messages of every kind are decoded whatever their ratio: the
/// allowance covers them.
#[test]
fn small_degenerate_payloads_are_decoded() {
    for (what, code, payload) in degenerate(1_000) {
        assert!(decode_within_budget(code, &payload).0.is_ok(), "{what}");
    }
}

/// 3. Random values of every message, mutated or cut, and random bytes,
///    under every code; and each value with a count forged to the most
///    its payload could announce.
#[test]
fn random_and_mutated_payloads_stay_within_the_budget() {
    let mut runner = TestRunner::new(Config {
        cases: 20_000,
        rng_seed: RngSeed::Fixed(0x0061_6c6c_6f63),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        any::<Message>(),
        vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        any::<prop::sample::Index>(),
        prop::sample::select(MESSAGE_CODES),
    );
    runner
        .run(&strategy, |(m, mutations, cut, other)| {
            let mut bytes = encode_message(&m);
            for (at, x) in mutations {
                if !bytes.is_empty() {
                    let i = at.index(bytes.len());
                    bytes[i] ^= x;
                }
            }
            let _ = decode_within_budget(m.code(), &bytes);
            let _ = decode_within_budget(other, &bytes);
            let cut = cut.index(bytes.len() + 1);
            let _ = decode_within_budget(m.code(), &bytes[..cut]);
            // a u32 at any position set to the largest count that the
            // rest of the payload passes the wire-size check for
            if bytes.len() >= 4 {
                let i = cut.min(bytes.len() - 4);
                let count = ((bytes.len() - i - 4) as u32).max(1);
                bytes[i..i + 4].copy_from_slice(&count.to_be_bytes());
                let _ = decode_within_budget(m.code(), &bytes);
            }
            Ok(())
        })
        .unwrap();
}

fn encode_message(m: &Message) -> Vec<u8> {
    let mut b = Vec::new();
    m.encode_into(&mut b);
    b
}

/// The counting itself: a test that could not fail would prove nothing.
#[test]
fn the_counter_sees_allocations() {
    let peak = measure(|| vec![0u8; 1 << 20]);
    assert!(peak >= 1 << 20, "{peak}");
    let map: BTreeMap<u64, u64> = (0..1000).map(|i| (i, i)).collect();
    assert!(measure(|| map.clone()) >= 1000 * 16);
}
