//! NEO protocol messages and their binary "N" encoding (ARCHITECTURE.md, "Messages").
//!
//! # What a message is
//!
//! A message is what one packet carries: a 16-bit *code* in the packet
//! header tells which message it is (bit `0x8000`, `ANSWER_BIT`, is set on
//! answers, and a request and its answer share the low bits), and the
//! payload is the message's fields, one after the other, in the binary N
//! encoding: fixed-width big-endian integers, strings and byte blobs as a
//! u32 length then the bytes, lists as a u32 count then the items, maps as
//! a u32 count then (key, value) pairs, bool as one byte. The header itself
//! (connection id, code, length) is framing and is handled by the packet
//! layer, not here.
//!
//! This module has the whole protocol of NEO/go, version 6: 102 messages,
//! their nested structs (`NodeInfo`, `RowInfo`, ...) and enumerations
//! (`NodeType`, `NodeState`, `CellState`, `ClusterState`, `ErrorCode`).
//! Names are NEO's; fields are the snake_case names of NEO/go's schema.
//! Every message type implements [`Msg`] (its code, name, encoded length,
//! encoding and decoding), and [`Message`] is the enum of all of them, for a
//! receiver that does not know in advance what will come.
//!
//! # Groups
//!
//! The message table (`table/`) is split by what the messages are for:
//!
//! | group | what for |
//! |-------|----------|
//! | link | identification (`RequestIdentification`), `Ping`, `Error`, `CloseClient` |
//! | cluster | nodes and cluster state, as the master tells them; start and stop of operation |
//! | partition | the partition table: who holds which partition |
//! | recovery | what a master asks storage nodes when the cluster starts |
//! | commit | two-phase commit of transactions, locks, conflicts, deadlocks |
//! | read | loading objects, transaction and object history, undo |
//! | replication | storage nodes copying and checking partitions |
//! | admin | what `neoctl` asks the admin node and the master |
//!
//! # Requests and answers
//!
//! The answer to the request of code `c` is the message of code
//! `c | ANSWER_BIT`; eight requests have none and are answered with
//! `Error(ACK)`; other messages are notifications. Each request's
//! [`Ask::Answer`] says what answers it, so `Conn::ask` and
//! `NodeLink::ask1` return it without annotations; see [`Ask`].
//!
//! # Large data without copies
//!
//! Object data (`AnswerObject::data`, `StoreObject::data`, `AddObject::data`,
//! `AnswerRebaseObject::data`, up to 64 MiB) is a [`Data`]: bytes that are
//! either owned or a window into the shared buffer of the packet they
//! arrived in. Blobs of at least [`BIG_FIELD`] (32 KiB) bytes are never
//! copied in user space on the way through:
//!
//! - **Sending.** [`Msg::encode_parts`] (and [`encode_packet_parts`] for a
//!   whole packet) writes the small fields into the caller's buffer and
//!   *borrows* the large blobs from the message, returning them as segments
//!   `(position in the buffer, bytes)`; [`packet_io_slices`] turns buffer
//!   and segments into the `IoSlice`s of one vectored write. The wire bytes
//!   are the same as [`Msg::encode_into`]'s, which copies everything (simple,
//!   and cheapest for small messages).
//! - **Receiving.** [`Msg::decode_shared`] decodes a payload that is the
//!   tail of a shared packet buffer (`Arc<Vec<u8>>`): a large [`Data`] is
//!   a window into that buffer (the decoded message keeps it alive), where
//!   [`Msg::decode`] copies. Smaller blobs are copied by both, so that a
//!   few bytes never pin a packet buffer. Other blob fields (`Vec<u8>`) are
//!   borrowed when sending but always copied when received.
//!
//! # Guarantees
//!
//! - `encode_into` appends exactly `encoded_len()` bytes, straight into the
//!   caller's buffer (no intermediate copies of large fields);
//!   `encode_parts` writes the same bytes, split between the buffer and the
//!   borrowed segments.
//! - Encoding is canonical, as NEO/go's: maps sorted by key, bools 0 or 1,
//!   "no time" as `ffffffffffffffff`, an `Address` with an empty host
//!   without its port. Decoding accepts what NEO/go accepts: maps in any
//!   order (a repeated key keeps the last value), any non-zero bool byte as
//!   `true`, any NaN (or -∞) as "no time", text that is not UTF-8 (invalid
//!   sequences become U+FFFD; transaction metadata, which must stay exact,
//!   is `Vec<u8>`). So a value that decodes re-encodes to the canonical
//!   form of its payload, and `decode(encode(v)) == v` for every value
//!   `v` in canonical form (an `Address { host: "", port: 5 }` is not: it
//!   comes back with port 0).
//! - One strictness more than NEO/go: the whole payload must be consumed
//!   (NEO/go ignores trailing bytes; no encoder writes them).
//! - Decoding never panics, and allocates at most [`DECODE_GROWTH`] (4)
//!   bytes per payload byte plus [`DECODE_ALLOWANCE`] (1 MiB): lengths and
//!   counts are checked against the remaining bytes, and allocations
//!   against that budget, before anything is allocated (see
//!   `codec.rs`); beyond it, decoding fails with
//!   [`DecodeErrorKind::TooMuchMemory`] naming the field. The same budget,
//!   by the same code, bounds [`neopy`](crate::neopy)'s decoding.
//!   `decode_shared` accepts and rejects exactly what `decode` does, with
//!   the same errors, and gives equal values.
//!
//! # Adding a message
//!
//! Add an entry to its group in the table (see `table.rs`):
//!
//! ```text
//! /// Ask for the last transaction id.
//! LastTransaction = 0x0038, ask AnswerLastTransaction {}
//! /// Answer to [`LastTransaction`].
//! AnswerLastTransaction = 0x8038, answer {
//!     /// The last committed transaction.
//!     tid: Tid,
//! }
//! ```
//!
//! That generates the struct, its [`Msg`] and [`Ask`]/[`Answer`] impls, the
//! [`Message`] variant, the dispatch by code, [`Value`] and random values;
//! the tests cover it from there (the vectors of `tests/vectors/all.tsv`
//! name it, the property tests go through [`MESSAGE_CODES`]). Field types
//! must implement `Field` (`codec.rs`); the integers, `bool`, `String`,
//! `Vec<T>` (a list; `Vec<u8>` is a byte blob), `BTreeMap<K, V>`, [`Data`]
//! (a byte blob that may share the packet buffer: use it for object data)
//! and the types of this module already do. A nested struct is an entry
//! of `records.rs`.
//!
//! # Random messages for property tests
//!
//! With the cargo feature `proptest`, every message and [`Message`]
//! implement `proptest::arbitrary::Arbitrary`, and
//! `Message::arbitrary_of(code)` gives random messages of one code: values
//! in canonical form, leaning towards edge values. The table generates
//! them, so a new message has them at once. The crate's own integration
//! tests get the feature through a dev-dependency of the crate on itself.

#[cfg(feature = "proptest")]
mod arbitrary;
pub(crate) mod codec;
mod data;
pub mod encoding;
mod records;
mod table;
mod types;
mod value;

pub use crate::codec::{Answer, AnswerError, Ask, Msg, Payload};
pub use codec::{DecodeError, DecodeErrorKind, BIG_FIELD, DECODE_ALLOWANCE, DECODE_GROWTH};
pub use data::Data;
pub use encoding::{encode_packet, encode_packet_parts, packet_io_slices, packet_size};
pub use records::*;
pub use table::*;
pub use types::{
    Address, CellState, Checksum, ClusterState, ErrorCode, IdTime, NodeState, NodeType, NodeUUID,
};
pub use value::Value;

/// The protocol version of this dialect: the word of its handshake.
pub const PROTOCOL_VERSION: u32 = 6;

/// Object id.
pub type Oid = u64;

/// Transaction id.
pub type Tid = u64;

/// Partition table id (version); 0 means "none".
pub type PTid = u64;

/// "No transaction" (e.g. `GetObject::at` when not given).
pub const INVALID_TID: Tid = u64::MAX;

/// "No object".
pub const INVALID_OID: Oid = u64::MAX;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::HEADER_SIZE;
    use codec::DecodeErrorKind;
    use std::io::IoSlice;
    use std::sync::Arc;

    /// An `AnswerObject` with `n` bytes of patterned data.
    fn answer(n: usize) -> AnswerObject {
        AnswerObject {
            oid: 1,
            serial: 2,
            next_serial: 3,
            compression: true,
            checksum: Checksum([7; 20]),
            data: (0..n).map(|i| (i % 251) as u8).collect(),
            data_serial: 4,
        }
    }

    /// The bytes a vectored write of `slices` sends.
    fn concat(slices: &[IoSlice<'_>]) -> Vec<u8> {
        slices.iter().flat_map(|s| s.iter().copied()).collect()
    }

    #[test]
    fn encode_parts_borrows_big_data_only() {
        for n in [0, 5, BIG_FIELD - 1, BIG_FIELD, 1 << 20] {
            let m = answer(n);
            let mut copied = vec![0x11, 0x22]; // both append
            m.encode_into(&mut copied);
            let mut buf = vec![0x11, 0x22];
            let segs = m.encode_parts(&mut buf);
            if n >= BIG_FIELD {
                // oid, serial, next_serial, compression, checksum, length
                let at = 2 + 8 * 3 + 1 + 20 + 4;
                assert_eq!(segs, [(at, &m.data[..])], "{n} bytes");
                assert_eq!(segs[0].1.as_ptr(), m.data.as_ptr(), "borrowed");
                assert_eq!(buf.len(), 2 + m.encoded_len() - n);
            } else {
                assert!(segs.is_empty(), "{n} bytes borrowed");
                assert_eq!(buf, copied);
            }
            let slices = packet_io_slices(&buf, &segs);
            assert_eq!(concat(&slices), copied, "{n} bytes");
            assert!(slices.iter().all(|s| !s.is_empty()));
        }
    }

    #[test]
    fn encode_packet_parts_is_encode_packet() {
        for n in [3, BIG_FIELD + 3] {
            let m = answer(n);
            let mut whole = Vec::new();
            encode_packet(&mut whole, 7, &m);
            assert_eq!(whole.len() as u64, packet_size(7, &m));
            let mut buf = Vec::new();
            let segs = encode_packet_parts(&mut buf, 7, &m);
            assert_eq!(segs.len(), usize::from(n >= BIG_FIELD));
            assert_eq!(concat(&packet_io_slices(&buf, &segs)), whole);
            // the header announces the whole payload, borrowed part included
            let hdr = crate::packet::Header::decode(buf[..HEADER_SIZE].try_into().unwrap());
            assert_eq!(hdr.msg_len as usize, m.encoded_len());
            assert_eq!((hdr.conn_id, hdr.msg_code), (7, AnswerObject::CODE));
        }
        // a message without blobs: everything in the buffer, one slice
        let mut buf = Vec::new();
        let segs = encode_packet_parts(&mut buf, 1, &Ping {});
        assert!(segs.is_empty());
        assert_eq!(packet_io_slices(&buf, &segs).len(), 1);
    }

    #[test]
    fn packet_io_slices_interleaves_in_order() {
        let buf = b"abcdef";
        let (x, y, z) = (&b"X"[..], &b"YY"[..], &b"Z"[..]);
        let slices = packet_io_slices(buf, &[(0, x), (3, y), (3, z), (6, x)]);
        assert_eq!(concat(&slices), b"XabcYYZdefX");
        assert_eq!(slices.len(), 6);
        assert!(packet_io_slices(b"", &[]).is_empty());
        assert_eq!(concat(&packet_io_slices(b"", &[(0, y)])), b"YY");
    }

    #[test]
    #[should_panic(expected = "segment positions decrease")]
    fn packet_io_slices_refuses_disorder() {
        let _ = packet_io_slices(b"abc", &[(2, &b"x"[..]), (1, &b"y"[..])]);
    }

    /// The packet of `m` as a shared buffer.
    fn shared_packet<M: Msg>(m: &M) -> Arc<Vec<u8>> {
        let mut buf = Vec::new();
        encode_packet(&mut buf, 1, m);
        Arc::new(buf)
    }

    #[test]
    fn decode_shared_windows_big_data() {
        let m = answer(BIG_FIELD);
        let buf = shared_packet(&m);
        let got = AnswerObject::decode_shared(&buf, HEADER_SIZE).unwrap();
        assert_eq!(got, m);
        assert_eq!(Ok(&got), AnswerObject::decode(&buf[HEADER_SIZE..]).as_ref());
        assert!(got.data.is_shared());
        assert_eq!(Arc::strong_count(&buf), 2, "the data shares the packet");
        assert_eq!(got.data.as_ptr(), buf[buf.len() - 8 - BIG_FIELD..].as_ptr());
        let by_code = Message::decode_shared(AnswerObject::CODE, &buf, HEADER_SIZE).unwrap();
        assert_eq!(Arc::strong_count(&buf), 3);
        assert_eq!(by_code, Message::AnswerObject(got.clone()));
        drop((got, by_code));
        assert_eq!(Arc::strong_count(&buf), 1);

        // decode copies
        let copied = AnswerObject::decode(&buf[HEADER_SIZE..]).unwrap();
        assert!(!copied.data.is_shared());
        assert_eq!(Arc::strong_count(&buf), 1);
    }

    #[test]
    fn decode_shared_copies_small_data() {
        let m = answer(BIG_FIELD - 1);
        let buf = shared_packet(&m);
        let got = AnswerObject::decode_shared(&buf, HEADER_SIZE).unwrap();
        assert_eq!(got, m);
        assert!(!got.data.is_shared());
        assert_eq!(Arc::strong_count(&buf), 1, "small data does not pin");
    }

    #[test]
    fn decode_shared_errors_are_decode_errors() {
        let m = answer(BIG_FIELD);
        let buf = shared_packet(&m);
        let payload = &buf[HEADER_SIZE..];

        // every truncation point, trailing junk: the same error as decode,
        // and no window outlives a failed decode
        let mut cuts: Vec<usize> = (0..80).collect();
        cuts.extend([payload.len() - 9, payload.len() - 8, payload.len() - 1]);
        for cut in cuts {
            let short = Arc::new(buf[..HEADER_SIZE + cut].to_vec());
            let want = AnswerObject::decode(&payload[..cut]).unwrap_err();
            assert_eq!(
                AnswerObject::decode_shared(&short, HEADER_SIZE),
                Err(want.clone())
            );
            assert_eq!(
                Message::decode_shared(AnswerObject::CODE, &short, HEADER_SIZE),
                Err(want)
            );
            assert_eq!(Arc::strong_count(&short), 1);
        }
        let mut long = buf.to_vec();
        long.push(0);
        let long = Arc::new(long);
        let err = AnswerObject::decode_shared(&long, HEADER_SIZE).unwrap_err();
        assert_eq!(err.kind(), &DecodeErrorKind::TrailingBytes { count: 1 });

        // the offset: at the end is an empty payload; beyond it, truncated
        assert_eq!(
            Ping::decode_shared(&buf, buf.len()),
            Ok(Ping {}),
            "empty payload"
        );
        for offset in [buf.len() + 1, usize::MAX] {
            let err = Message::decode_shared(Ping::CODE, &buf, offset).unwrap_err();
            assert_eq!(
                err.kind(),
                &DecodeErrorKind::Truncated {
                    needed: offset,
                    remaining: buf.len()
                }
            );
            assert_eq!(err.name(), Some("Ping"));
            assert!(AnswerObject::decode_shared(&buf, offset).is_err());
        }

        // an unknown code names the code, whatever the offset
        let err = Message::decode_shared(0x1234, &buf, usize::MAX).unwrap_err();
        assert_eq!(err.to_string(), "unknown message code 0x1234");
    }
}
