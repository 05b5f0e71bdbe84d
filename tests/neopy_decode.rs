//! The decoders of the msgpack dialect under hostile input (DESIGN §10,
//! §5.1): random, mutated and truncated arguments never panic, are refused
//! with the exact error where the input says so, and never allocate more
//! than the decode budget of both dialects (4 bytes per input byte, plus
//! 1 MiB), counted by allocator — in all, not just at once (the worst
//! shapes are in `decode_alloc.rs`); and what decodes re-encodes to
//! something that decodes to the same message.

mod counting_alloc;
mod neopy_common;

use std::sync::Arc;

use counting_alloc::{allocated, Counting};
use neonet::neopy::*;
use neonet::proto::{DecodeErrorKind, DECODE_ALLOWANCE, DECODE_GROWTH};
use neopy_common::{scan_one, vectors};
use proptest::prelude::*;

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The decode budget of `n` bytes of arguments.
fn alloc_bound(n: usize) -> usize {
    DECODE_GROWTH * n + DECODE_ALLOWANCE
}

/// Decode `args` as message `code`, both ways, checking the allocation
/// bound and that both ways agree; on success, check that the message
/// re-encodes to arguments that decode to it again.
fn check_decode(code: u16, args: &[u8]) -> Result<Message, neonet::proto::DecodeError> {
    let (bytes, copied) = allocated(|| Message::decode(code, args));
    assert!(
        bytes <= alloc_bound(args.len()),
        "{bytes} bytes allocated decoding {} bytes of {:?}",
        args.len(),
        message_name(code)
    );
    // the shared buffer is the caller's; only decoding is counted
    let buf = Arc::new(args.to_vec());
    let (bytes, shared) = allocated(|| Message::decode_shared(code, &buf, 0));
    assert!(bytes <= alloc_bound(args.len()));
    assert_eq!(copied, shared);
    if let Ok(m) = &copied {
        let mut again = Vec::new();
        m.encode_into(&mut again);
        assert_eq!(again.len(), m.encoded_len());
        assert_eq!(Message::decode(code, &again).as_ref(), Ok(m));
    }
    copied
}

#[test]
fn every_prefix_of_every_vector_is_refused() {
    for v in vectors().into_iter().filter(|v| v.bytes.len() < 1 << 16) {
        let head = scan_one(&v.bytes);
        let args = &v.bytes[head.args_offset..];
        for k in 0..args.len() {
            let err = check_decode(v.code, &args[..k]).unwrap_err();
            assert_eq!(err.code(), v.code);
            assert!(
                matches!(
                    err.kind(),
                    DecodeErrorKind::Truncated { .. } | DecodeErrorKind::LengthTooLarge { .. }
                ),
                "line {} cut at {k}: {err}",
                v.line
            );
        }
    }
}

#[test]
fn large_object_data_truncated_allocates_nothing_of_its_size() {
    // the 1 MiB AnswerObject, cut 1 byte short: refused before the copy
    let v = vectors()
        .into_iter()
        .find(|v| v.name == "AnswerObject" && v.bytes.len() > 1 << 20)
        .unwrap();
    let head = scan_one(&v.bytes);
    let args = &v.bytes[head.args_offset..v.bytes.len() - 2];
    let (bytes, r) = allocated(|| AnswerObject::decode(args));
    let err = r.unwrap_err();
    assert_eq!(err.field(), Some("data"));
    assert_eq!(
        err.kind(),
        &DecodeErrorKind::LengthTooLarge {
            len: 1_048_650,
            item_size: 1,
            remaining: 1_048_649
        }
    );
    assert!(bytes < 1024, "{bytes} bytes allocated");
}

#[test]
fn exact_errors() {
    let err = |code, args: &[u8]| Message::decode(code, args).unwrap_err();
    // unknown code
    let e = err(0x1234, &[0x90]);
    assert_eq!(e.kind(), &DecodeErrorKind::UnknownCode);
    assert_eq!(e.to_string(), "unknown message code 0x1234");
    // wrong arity
    let e = err(AskObject::CODE, &[0x92, 0xc0, 0xc0]);
    assert_eq!(
        e.kind(),
        &DecodeErrorKind::Msgpack(MsgpackError::ArrayArity {
            expected: 3,
            got: 2
        })
    );
    assert_eq!(e.field(), None);
    // a p64 of 7 bytes, named by field
    let e = err(
        AskObject::CODE,
        &[0x93, 0xc4, 7, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0xc0],
    );
    assert_eq!(
        (e.field(), e.kind()),
        (
            Some("oid"),
            &DecodeErrorKind::Msgpack(MsgpackError::BinLength {
                expected: 8,
                got: 7
            })
        )
    );
    assert_eq!(
        e.to_string(),
        "decode AskObject (0x0020): field oid: bin of 7 bytes, expected 8"
    );
    // an enum of another ext type
    let e = err(AskNodeList::CODE, &[0x91, 0xd4, 3, 1]);
    assert_eq!(
        e.kind(),
        &DecodeErrorKind::Msgpack(MsgpackError::BadExt {
            expected: 4,
            got: 3
        })
    );
    // an int out of range: a port of 65536
    let e = err(
        NotifyUpstreamAdmin::CODE,
        &[0x91, 0x92, 0xc4, 1, b'h', 0xce, 0, 1, 0, 0],
    );
    assert_eq!(
        e.kind(),
        &DecodeErrorKind::Msgpack(MsgpackError::IntOutOfRange { value: 65536 })
    );
    // a type mismatch
    let e = err(Ping::CODE, &[0x80]);
    assert_eq!(
        e.kind(),
        &DecodeErrorKind::Msgpack(MsgpackError::UnexpectedType {
            expected: "array",
            marker: 0x80
        })
    );
    // trailing bytes after the arguments
    let e = err(Ping::CODE, &[0x90, 0x90]);
    assert_eq!(e.kind(), &DecodeErrorKind::TrailingBytes { count: 1 });
}

#[test]
fn str_where_bin_is_expected() {
    // Error [5, "oops"] with a msgpack str, as a non-NEO/py encoder may
    // write it: decodes, and re-encodes as NEO/py would (a bin)
    let m = Error::decode(&[0x92, 0x05, 0xa4, b'o', b'o', b'p', b's']).unwrap();
    assert_eq!(
        m,
        Error {
            code: ErrorCode::OID_DOES_NOT_EXIST,
            message: "oops".into()
        }
    );
    let mut b = Vec::new();
    m.encode_into(&mut b);
    assert_eq!(b, [0x92, 0x05, 0xc4, 4, b'o', b'o', b'p', b's']);
}

/// The arguments of a vector, with some bytes changed, inserted or removed.
fn mutated_args() -> impl Strategy<Value = (u16, Vec<u8>)> {
    let small: Vec<(u16, Vec<u8>)> = vectors()
        .into_iter()
        .filter(|v| v.bytes.len() < 4096)
        .map(|v| (v.code, v.bytes[scan_one(&v.bytes).args_offset..].to_vec()))
        .collect();
    (
        proptest::sample::select(small),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..4),
    )
        .prop_map(|((code, mut args), edits)| {
            for (at, byte, op) in edits {
                match op {
                    0 if !args.is_empty() => {
                        let i = at.index(args.len());
                        args[i] = byte;
                    }
                    1 => {
                        let i = at.index(args.len() + 1);
                        args.insert(i, byte);
                    }
                    _ if !args.is_empty() => {
                        let i = at.index(args.len());
                        args.remove(i);
                    }
                    _ => {}
                }
            }
            (code, args)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn mutated_arguments((code, args) in mutated_args()) {
        let _ = check_decode(code, &args);
    }

    #[test]
    fn random_arguments(code in proptest::sample::select(MESSAGE_CODES.to_vec()),
                        args in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = check_decode(code, &args);
    }

    #[test]
    fn random_codes(code in any::<u16>(), args in proptest::collection::vec(any::<u8>(), 0..64)) {
        let r = check_decode(code, &args);
        if message_name(code).is_none() {
            let err = r.unwrap_err();
            prop_assert_eq!(err.kind(), &DecodeErrorKind::UnknownCode);
        }
    }
}
