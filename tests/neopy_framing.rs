//! Framing of the msgpack dialect (DESIGN §10): the scanner finds where
//! each packet ends whatever the reads it arrives in, refuses a packet over
//! 64 MiB from its announced lengths without allocating, and refuses
//! malformed packets with the exact error; it never panics on any input,
//! and agrees with a full msgpack decode on where a packet ends.

mod counting_alloc;
mod neopy_common;

use counting_alloc::{allocated, Counting};
use neonet::neopy::*;
use neonet::packet::MAX_PACKET_SIZE;
use neonet::proto::DecodeErrorKind;
use neopy_common::{scan_one, vectors};
use proptest::prelude::*;

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Feed `packet` to a fresh scanner in two reads, split after `k` bytes.
fn scan_split(packet: &[u8], k: usize) -> Result<Scan, FramingError> {
    let mut s = Scanner::new();
    match s.scan(&packet[..k]) {
        Ok(Scan::Incomplete { need }) => {
            assert!(need > k, "need {need} after {k} bytes");
            assert!(need <= packet.len(), "need {need} > {} bytes", packet.len());
        }
        other => panic!("{k} of {} bytes: {other:?}", packet.len()),
    }
    s.scan(packet)
}

#[test]
fn every_vector_split_at_every_byte() {
    for v in vectors() {
        let head = scan_one(&v.bytes);
        for k in 0..v.bytes.len() {
            assert_eq!(
                scan_split(&v.bytes, k),
                Ok(Scan::Complete(head)),
                "line {} at {k}",
                v.line
            );
        }
    }
}

#[test]
fn every_vector_arriving_byte_by_byte() {
    for v in vectors() {
        let head = scan_one(&v.bytes);
        let mut s = Scanner::new();
        let mut last_need = 0;
        for k in 0..v.bytes.len() {
            let Ok(Scan::Incomplete { need }) = s.scan(&v.bytes[..k]) else {
                panic!("line {} complete after {k} bytes", v.line)
            };
            assert!(need >= last_need, "need went down");
            last_need = need;
        }
        assert_eq!(s.scan(&v.bytes), Ok(Scan::Complete(head)));
    }
}

#[test]
fn a_big_object_announces_its_size_with_its_header() {
    // the captured AnswerObject of 1 MiB: once the data's bin header is in,
    // the scanner knows the packet's exact size (one nil follows the data)
    let v = vectors()
        .into_iter()
        .find(|v| v.name == "AnswerObject" && v.bytes.len() > 1 << 20)
        .unwrap();
    let data_start = v.bytes.len() - 1 - 1_048_650;
    let mut s = Scanner::new();
    assert_eq!(
        s.scan(&v.bytes[..data_start]),
        Ok(Scan::Incomplete {
            need: v.bytes.len()
        })
    );
}

#[test]
fn a_hundred_packets_in_one_buffer() {
    let vectors = vectors();
    let picked: Vec<_> = vectors.iter().cycle().take(100).collect();
    let buf: Vec<u8> = picked
        .iter()
        .flat_map(|v| v.bytes.iter().copied())
        .collect();
    let mut s = Scanner::new();
    let mut at = 0;
    for v in &picked {
        let Ok(Scan::Complete(head)) = s.scan(&buf[at..]) else {
            panic!("line {}", v.line)
        };
        assert_eq!(head, scan_one(&v.bytes));
        at += head.len;
    }
    assert_eq!(at, buf.len());
    assert_eq!(s.scan(&buf[at..]), Ok(Scan::Incomplete { need: 1 }));
}

/// `[1, 0x8020, [<p64 oid>, <bin32 of len bytes, header only>`: an
/// AnswerObject whose first arguments arrived.
fn announcing_bin(len: u32) -> Vec<u8> {
    let mut p = vec![
        0x93, 0x01, 0xcd, 0x80, 0x20, 0x97, 0xc4, 8, 0, 0, 0, 0, 0, 0, 0, 1,
    ];
    p.push(0xc6);
    p.extend_from_slice(&len.to_be_bytes());
    p
}

#[test]
fn a_packet_announcing_100_mib_fails_at_once_without_allocating() {
    let header = announcing_bin(100 << 20);
    let (bytes, r) = allocated(|| Scanner::new().scan(&header));
    // the bin's header (5 bytes) was read at 16: its bytes, and 5 more
    // values of at least one byte, would follow
    let size = 21 + (100 << 20) + 5;
    assert_eq!(r, Err(FramingError::TooBig { size }));
    assert_eq!(bytes, 0, "nothing allocated");
    assert_eq!(
        r.unwrap_err().to_string(),
        format!("packet too big: at least {size} bytes > max 67108864")
    );
}

#[test]
fn the_size_limit_is_64_mib_exactly() {
    // [0, 0x8020, [bin]] with the bin filling the packet to the limit
    let fits = |total: usize| {
        let mut p = vec![0x93, 0x00, 0xcd, 0x80, 0x20, 0x91, 0xc6];
        p.extend_from_slice(&((total - 11) as u32).to_be_bytes());
        Scanner::new().scan(&p)
    };
    assert_eq!(
        fits(MAX_PACKET_SIZE),
        Ok(Scan::Incomplete {
            need: MAX_PACKET_SIZE
        })
    );
    assert_eq!(
        fits(MAX_PACKET_SIZE + 1),
        Err(FramingError::TooBig {
            size: MAX_PACKET_SIZE as u64 + 1
        })
    );
}

#[test]
fn counts_bound_the_size_too() {
    // an array of 2^32-1 items needs at least that many bytes
    let p = [0x93, 0x00, 0x06, 0xdd, 0xff, 0xff, 0xff, 0xff];
    let (bytes, r) = allocated(|| Scanner::new().scan(&p));
    assert_eq!(
        r,
        Err(FramingError::TooBig {
            size: 8 + u64::from(u32::MAX)
        })
    );
    assert_eq!(bytes, 0);
    // a map of 2^31 entries: twice as many values
    let p = [0x93, 0x00, 0x06, 0x91, 0xdf, 0x80, 0x00, 0x00, 0x00];
    assert_eq!(
        Scanner::new().scan(&p),
        Err(FramingError::TooBig {
            size: 9 + (1 << 32)
        })
    );
}

#[test]
fn malformed_packets() {
    let scan = |p: &[u8]| Scanner::new().scan(p);
    let not_a_packet = |marker| Err(FramingError::NotAPacket { marker });
    // not an array of 3
    assert_eq!(scan(&[0x92, 0x00, 0x02]), not_a_packet(0x92));
    assert_eq!(scan(&[0x94]), not_a_packet(0x94));
    assert_eq!(scan(&[0x80]), not_a_packet(0x80));
    assert_eq!(scan(b"GET / HTTP/1.1\r\n"), not_a_packet(b'G'));
    assert_eq!(scan(&[0xdc, 0x00, 0x02]), not_a_packet(0xdc));
    assert_eq!(scan(&[0xc1]), Err(FramingError::Reserved { offset: 0 }));
    // ... but any array form of 3 elements is one
    assert!(
        matches!(scan(&[0xdc, 0x00, 0x03, 0x00, 0x02, 0x90]), Ok(Scan::Complete(h)) if h.len == 6)
    );
    // the head
    let bad = |field, ty, offset| Err(FramingError::BadHead { field, ty, offset });
    assert_eq!(scan(&[0x93, 0xff, 0x02, 0x90]), bad("msg_id", "u32", 1));
    assert_eq!(
        scan(&[0x93, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0x90]),
        bad("msg_id", "u32", 1)
    );
    assert_eq!(scan(&[0x93, 0xc0, 0x02, 0x90]), bad("msg_id", "u32", 1));
    assert_eq!(
        scan(&[0x93, 0x00, 0xce, 0, 1, 0, 0, 0x90]),
        bad("code", "u16", 2)
    );
    assert_eq!(scan(&[0x93, 0x00, 0xa1, b'x', 0x90]), bad("code", "u16", 2));
    assert_eq!(
        scan(&[0x93, 0x00, 0x02, 0x80]),
        Err(FramingError::ArgsNotArray { marker: 0x80 })
    );
    assert_eq!(
        scan(&[0x93, 0x00, 0x02, 0xc0]),
        Err(FramingError::ArgsNotArray { marker: 0xc0 })
    );
    // wider integer forms are fine in the head
    assert!(matches!(
        scan(&[0x93, 0xd2, 0, 0, 0, 7, 0xd1, 0, 2, 0x90]),
        Ok(Scan::Complete(PacketHead {
            msg_id: 7,
            code: 2,
            args_offset: 9,
            len: 10
        }))
    ));
    // the reserved byte anywhere
    assert_eq!(
        scan(&[0x93, 0x00, 0x02, 0x92, 0x00, 0xc1]),
        Err(FramingError::Reserved { offset: 5 })
    );
    // nesting: the packet, args and 30 more arrays are fine, 31 are not
    let nested = |n: usize| {
        let mut p = vec![0x93, 0x00, 0x06, 0x91];
        p.extend(std::iter::repeat_n(0x91, n));
        p.push(0xc0);
        p
    };
    assert!(matches!(
        scan(&nested(MAX_DEPTH - 2)),
        Ok(Scan::Complete(_))
    ));
    assert_eq!(
        scan(&nested(MAX_DEPTH - 1)),
        Err(FramingError::TooDeep {
            offset: 4 + MAX_DEPTH - 2
        })
    );
}

#[test]
fn the_scanner_starts_afresh_after_an_error() {
    let mut s = Scanner::new();
    assert!(s.scan(&[0x92]).is_err());
    assert!(matches!(
        s.scan(&[0x93, 0x00, 0x02, 0x90]),
        Ok(Scan::Complete(_))
    ));
}

/// Where one msgpack value ends in `bytes`, by an independent reader
/// (`rmpv`'s), if it reads one.
fn rmpv_value_end(bytes: &[u8]) -> Option<usize> {
    let mut rest = bytes;
    rmpv::decode::read_value(&mut rest).ok()?;
    Some(bytes.len() - rest.len())
}

/// A vector packet with some bytes changed, inserted or removed.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let small: Vec<Vec<u8>> = vectors()
        .into_iter()
        .filter(|v| v.bytes.len() < 4096)
        .map(|v| v.bytes)
        .collect();
    (
        proptest::sample::select(small),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..4),
    )
        .prop_map(|(mut p, edits)| {
            for (at, byte, op) in edits {
                match op {
                    0 if !p.is_empty() => {
                        let i = at.index(p.len());
                        p[i] = byte;
                    }
                    1 => {
                        let i = at.index(p.len() + 1);
                        p.insert(i, byte);
                    }
                    _ if !p.is_empty() => {
                        let i = at.index(p.len());
                        p.remove(i);
                    }
                    _ => {}
                }
            }
            p
        })
}

/// Check the scanner on `input`: fed in the reads `splits` cut it into,
/// it gives the one-shot answer, and a complete packet ends where a full
/// msgpack decode ends. Returns the one-shot answer.
fn check_scanner(input: &[u8], splits: &[prop::sample::Index]) -> Result<Scan, FramingError> {
    let whole = Scanner::new().scan(input);
    // resumed over growing prefixes: the same answer
    let mut cuts: Vec<usize> = splits.iter().map(|i| i.index(input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut s = Scanner::new();
    let mut result = None;
    for &k in cuts.iter().chain([input.len()].iter()) {
        match s.scan(&input[..k]) {
            Ok(Scan::Incomplete { need }) => assert!(need > k),
            done => {
                result = Some(done);
                break;
            }
        }
    }
    let resumed = result.unwrap_or_else(|| s.scan(input));
    assert_eq!(whole, resumed, "one read or many");
    if let Ok(Scan::Complete(head)) = whole {
        assert!(head.len <= input.len());
        assert_eq!(rmpv_value_end(input), Some(head.len), "msgpack disagrees");
    }
    whole
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(input in proptest::collection::vec(any::<u8>(), 0..256),
                    splits in proptest::collection::vec(any::<prop::sample::Index>(), 0..8)) {
        let (bytes, _) = allocated(|| check_scanner(&input, &splits));
        // the checks themselves allocate a little (sorting the cuts, rmpv);
        // a scanner that allocated per byte would show.
        prop_assert!(bytes <= 64 * 1024);
    }

    #[test]
    fn mutated_packets(input in mutated(),
                       splits in proptest::collection::vec(any::<prop::sample::Index>(), 0..8)) {
        let r = check_scanner(&input, &splits);
        // and the packet ends where the decoder of its message ends too:
        // one byte more is one trailing byte
        if let Ok(Scan::Complete(head)) = r {
            let args = &input[head.args_offset..head.len];
            if Message::decode(head.code, args).is_ok() {
                let longer = [args, &[0xc0]].concat();
                let err = Message::decode(head.code, &longer).unwrap_err();
                prop_assert_eq!(err.kind(), &DecodeErrorKind::TrailingBytes { count: 1 });
            }
        }
    }

    #[test]
    fn truncated_packets(v in proptest::sample::select(vectors().into_iter().filter(|v| v.bytes.len() < 4096).map(|v| v.bytes).collect::<Vec<_>>()),
                         cut in any::<prop::sample::Index>()) {
        let k = cut.index(v.len());
        let is_incomplete = matches!(Scanner::new().scan(&v[..k]), Ok(Scan::Incomplete { .. }));
        prop_assert!(is_incomplete);
    }
}
