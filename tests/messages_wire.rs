//! Wire-level tests of the messages (no networking):
//!
//! 1. the reference vectors of NEO's Go implementation (`tests/vectors/`),
//!    byte for byte, both ways;
//! 2. a hand-rolled property test: random values round-trip, and random,
//!    truncated and corrupted payloads never panic and, when they decode,
//!    re-encode to exactly the same bytes;
//! 3. errors for unknown codes and forged lengths;
//! 4. the zero-copy paths give the same bytes and values as the copying
//!    ones: everywhere above, `encode_parts` + `packet_io_slices` is
//!    checked against `encode_into`, and `decode_shared` against `decode`.

use std::io::IoSlice;
use std::sync::Arc;

use neonet::proto::codec::DecodeErrorKind;
use neonet::proto::*;

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/messages.tsv"
));

/// conn_id of every packet of the vectors.
const VECTOR_CONN_ID: u32 = 1;

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd-length hex {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// The 10-byte packet header (DESIGN §1), built here so that this test
/// depends on nothing but `neonet::proto`.
fn header(conn_id: u32, code: u16, len: usize) -> Vec<u8> {
    let mut h = Vec::with_capacity(10);
    h.extend_from_slice(&conn_id.to_be_bytes());
    h.extend_from_slice(&code.to_be_bytes());
    h.extend_from_slice(&u32::try_from(len).unwrap().to_be_bytes());
    h
}

/// The values of `messages.tsv`, one per line, in order (transcribed from
/// the description in the 4th column).
fn vector_values() -> Vec<Message> {
    let seq20: [u8; 20] = std::array::from_fn(|i| i as u8 + 1);
    vec![
        // Ping{}
        Ping {}.into(),
        // Error{Code:PROTOCOL_ERROR, Message:"x"}
        Error {
            code: ErrorCode::PROTOCOL_ERROR,
            message: "x".into(),
        }
        .into(),
        // GetObject{Oid:1, At:2, Before:3}
        GetObject {
            oid: 1,
            at: 2,
            before: 3,
        }
        .into(),
        // AnswerObject{Oid:1, Serial:2, NextSerial:3, Compression:true,
        //              Checksum:[1..20], Data:"hello", DataSerial:4}
        AnswerObject {
            oid: 1,
            serial: 2,
            next_serial: 3,
            compression: true,
            checksum: Checksum(seq20),
            data: b"hello".to_vec().into(),
            data_serial: 4,
        }
        .into(),
        // Pong{}
        Pong {}.into(),
        // CloseClient{}
        CloseClient {}.into(),
        // Error{Code:ACK, Message:""}
        Error {
            code: ErrorCode::ACK,
            message: String::new(),
        }
        .into(),
        // Error{Code:OID_NOT_FOUND, Message:"no such object"}
        Error {
            code: ErrorCode::OID_NOT_FOUND,
            message: "no such object".into(),
        }
        .into(),
        // RequestIdentification{NodeType:CLIENT, UUID:-0x10000001,
        //   Address:{"127.0.0.1",24601}, ClusterName:"test", IdTime:1.5,
        //   DevPath:["a","bc"], NewNID:[7,8]}
        RequestIdentification {
            node_type: NodeType::CLIENT,
            uuid: NodeUUID(-0x10000001),
            address: Address::new("127.0.0.1", 24601),
            cluster_name: "test".into(),
            id_time: IdTime::from_f64(1.5),
            dev_path: vec!["a".into(), "bc".into()],
            new_nid: vec![7, 8],
        }
        .into(),
        // RequestIdentification{NodeType:STORAGE, UUID:0, Address:{"",0},
        //   ClusterName:"", IdTime:-Inf(=none), DevPath:[], NewNID:[]}
        RequestIdentification {
            node_type: NodeType::STORAGE,
            uuid: NodeUUID(0),
            address: Address::default(),
            cluster_name: String::new(),
            id_time: IdTime::NONE,
            dev_path: vec![],
            new_nid: vec![],
        }
        .into(),
        // AcceptIdentification{NodeType:STORAGE, MyUUID:0x00000001,
        //   YourUUID:-0x10000001}
        AcceptIdentification {
            node_type: NodeType::STORAGE,
            my_uuid: NodeUUID(1),
            your_uuid: NodeUUID(-0x10000001),
        }
        .into(),
        // GetObject{Oid:0x0102030405060708, At:0xffffffffffffffff(INVALID_TID), Before:0}
        GetObject {
            oid: 0x0102030405060708,
            at: INVALID_TID,
            before: 0,
        }
        .into(),
        // AnswerObject{Oid:7, Serial:8, NextSerial:0xffffffffffffffff,
        //   Compression:false, Checksum:[0..0], Data:"", DataSerial:0}
        AnswerObject {
            oid: 7,
            serial: 8,
            next_serial: INVALID_TID,
            compression: false,
            checksum: Checksum([0; 20]),
            data: Data::default(),
            data_serial: 0,
        }
        .into(),
    ]
}

/// Typed checks of one vector: `M`'s own decode and encodings, copying
/// and zero-copy, and the enum conversions. `packet` is the whole packet,
/// whose payload starts at byte 10.
fn check_typed<M: Msg>(value: &Message, packet: &Arc<Vec<u8>>) {
    let payload = &packet[10..];
    let typed = M::from_message(value.clone()).expect("value of the message's type");
    assert_eq!(M::decode(payload).as_ref(), Ok(&typed));
    assert_eq!(M::decode_shared(packet, 10).as_ref(), Ok(&typed));
    assert_eq!(typed.encoded_len(), payload.len());
    let mut buf = Vec::new();
    typed.encode_into(&mut buf);
    assert_eq!(buf, payload);
    let mut buf = Vec::new();
    let segs = typed.encode_parts(&mut buf);
    assert_eq!(concat(&packet_io_slices(&buf, &segs)), payload);
    let mut buf = Vec::new();
    let segs = encode_packet_parts(&mut buf, VECTOR_CONN_ID, &typed);
    assert_eq!(concat(&packet_io_slices(&buf, &segs)), **packet);
    assert_eq!(&typed.into_message(), value);
}

/// The bytes a vectored write of `slices` sends.
fn concat(slices: &[IoSlice<'_>]) -> Vec<u8> {
    slices.iter().flat_map(|s| s.iter().copied()).collect()
}

/// The payload of `m` as `encode_parts` + `packet_io_slices` write it,
/// checked against `encode_into` (`copied`).
fn check_parts(m: &Message, copied: &[u8]) {
    let mut buf = vec![0x5a]; // encode_parts appends: positions count it
    let segs = m.encode_parts(&mut buf);
    let bytes = concat(&packet_io_slices(&buf, &segs));
    assert_eq!(bytes[0], 0x5a, "encode_parts overwrote the buffer");
    assert!(
        bytes[1..] == *copied,
        "{m:?}: encode_parts ({} segments) differs from encode_into",
        segs.len()
    );
    for (pos, seg) in &segs {
        assert!(seg.len() >= BIG_FIELD, "{m:?}: small segment at {pos}");
    }
}

#[test]
fn reference_vectors() {
    let lines: Vec<&str> = VECTORS.lines().filter(|l| !l.trim().is_empty()).collect();
    let values = vector_values();
    assert_eq!(
        lines.len(),
        values.len(),
        "one value per line of messages.tsv"
    );

    for (lineno, (line, value)) in lines.iter().zip(&values).enumerate() {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 4, "line {}: {line:?}", lineno + 1);
        let code = u16::from_str_radix(cols[0], 16).unwrap();
        let len: usize = cols[1].parse().unwrap();
        let packet = unhex(cols[2]);
        let what = format!("line {} ({})", lineno + 1, cols[3]);

        // the hand-built value is the one the line describes
        assert!(cols[3].starts_with(value.name()), "{what}: built {value:?}");
        assert_eq!(value.code(), code, "{what}");
        assert_eq!(message_name(code), Some(value.name()), "{what}");

        // encode: header + payload == the reference bytes
        assert_eq!(value.encoded_len(), len, "{what}: encoded_len");
        let mut buf = header(VECTOR_CONN_ID, value.code(), value.encoded_len());
        value.encode_into(&mut buf);
        assert_eq!(hex(&buf), cols[2], "{what}: encoding");
        check_parts(value, &buf[10..]);

        // decode: the reference payload gives the value back
        assert_eq!(packet.len(), 10 + len, "{what}: vector length");
        let payload = &packet[10..];
        assert_eq!(
            Message::decode(code, payload).as_ref(),
            Ok(value),
            "{what}: decoding"
        );
        let packet = Arc::new(packet);
        assert_eq!(
            Message::decode_shared(code, &packet, 10).as_ref(),
            Ok(value),
            "{what}: shared decoding"
        );

        match value {
            Message::Error(_) => check_typed::<Error>(value, &packet),
            Message::RequestIdentification(_) => {
                check_typed::<RequestIdentification>(value, &packet)
            }
            Message::AcceptIdentification(_) => check_typed::<AcceptIdentification>(value, &packet),
            Message::Ping(_) => check_typed::<Ping>(value, &packet),
            Message::Pong(_) => check_typed::<Pong>(value, &packet),
            Message::CloseClient(_) => check_typed::<CloseClient>(value, &packet),
            Message::GetObject(_) => check_typed::<GetObject>(value, &packet),
            Message::AnswerObject(_) => check_typed::<AnswerObject>(value, &packet),
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

// ---- property test ----

/// xorshift64* — small, deterministic, good enough to shake a decoder.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // xorshift must not start at 0
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn u32(&mut self) -> u32 {
        (self.u64() >> 32) as u32
    }

    fn u8(&mut self) -> u8 {
        (self.u64() >> 56) as u8
    }

    /// Uniform in 0..n (n > 0; the tiny modulo bias does not matter here).
    fn below(&mut self, n: usize) -> usize {
        (self.u64() % n as u64) as usize
    }

    fn bool(&mut self) -> bool {
        self.u64() & 1 == 1
    }

    /// Integers with a bias towards the edge values a codec gets wrong.
    fn edgy_u64(&mut self) -> u64 {
        match self.below(6) {
            0 => 0,
            1 => u64::MAX,
            2 => self.u64() & 0xff,
            _ => self.u64(),
        }
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        self.bytes_exactly(n)
    }

    fn bytes_exactly(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.u8()).collect()
    }

    fn string(&mut self) -> String {
        const CHARS: &[char] = &['a', 'Z', '0', ' ', '.', '\0', 'é', '€', '𝄞', '\u{7f}'];
        let n = self.below(12);
        (0..n)
            .map(|_| {
                if self.bool() {
                    char::from(b' ' + (self.u8() % 95))
                } else {
                    CHARS[self.below(CHARS.len())]
                }
            })
            .collect()
    }

    fn strings(&mut self) -> Vec<String> {
        let n = self.below(5);
        (0..n).map(|_| self.string()).collect()
    }
}

/// A random value of the message with code `code`.
fn random_message(rng: &mut Rng, code: u16) -> Message {
    match message_name(code).expect("known code") {
        "Error" => Error {
            code: ErrorCode(if rng.bool() {
                rng.below(13) as u32
            } else {
                rng.u32()
            }),
            message: rng.string(),
        }
        .into(),
        "RequestIdentification" => {
            // an empty host has no port on the wire: it decodes as port 0
            let host = rng.string();
            let port = if host.is_empty() { 0 } else { rng.u32() as u16 };
            RequestIdentification {
                node_type: NodeType(rng.u8() as i8),
                uuid: NodeUUID(rng.u32() as i32),
                address: Address { host, port },
                cluster_name: rng.string(),
                // any bits: IdTime keeps them as they are
                id_time: match rng.below(3) {
                    0 => IdTime::NONE,
                    1 => IdTime::from_f64(rng.below(1 << 20) as f64 / 7.0),
                    _ => IdTime::from_bits(rng.u64()),
                },
                dev_path: rng.strings(),
                new_nid: (0..rng.below(5)).map(|_| rng.u32()).collect(),
            }
            .into()
        }
        "AcceptIdentification" => AcceptIdentification {
            node_type: NodeType(rng.u8() as i8),
            my_uuid: NodeUUID(rng.u32() as i32),
            your_uuid: NodeUUID(rng.u32() as i32),
        }
        .into(),
        "Ping" => Ping {}.into(),
        "Pong" => Pong {}.into(),
        "CloseClient" => CloseClient {}.into(),
        "GetObject" => GetObject {
            oid: rng.edgy_u64(),
            at: rng.edgy_u64(),
            before: rng.edgy_u64(),
        }
        .into(),
        "AnswerObject" => {
            // mostly small, sometimes a few KiB of data, and sometimes
            // around BIG_FIELD, where encoding starts borrowing it and
            // shared decoding sharing it
            let data = match rng.below(40) {
                0 => rng.bytes(4096),
                1 => {
                    let n = BIG_FIELD - 1 + rng.below(3);
                    rng.bytes_exactly(n)
                }
                2 => rng.bytes(3 * BIG_FIELD),
                _ => rng.bytes(40),
            };
            AnswerObject {
                oid: rng.edgy_u64(),
                serial: rng.edgy_u64(),
                next_serial: rng.edgy_u64(),
                compression: rng.bool(),
                checksum: Checksum(std::array::from_fn(|_| rng.u8())),
                data: data.into(),
                data_serial: rng.edgy_u64(),
            }
            .into()
        }
        name => panic!("no random generator for message {name}: add one"),
    }
}

/// The payload of `m` by `encode_into`, checked against its `encoded_len`
/// and against `encode_parts` (+ `packet_io_slices`).
fn encode(m: &Message) -> Vec<u8> {
    let mut buf = vec![0x5a]; // encode_into appends
    m.encode_into(&mut buf);
    assert_eq!(buf[0], 0x5a, "encode_into overwrote the buffer");
    buf.remove(0);
    assert_eq!(buf.len(), m.encoded_len(), "encoded_len of {m:?}");
    check_parts(m, &buf);
    buf
}

/// Decode `payload` as `code` both with `decode` and with `decode_shared`
/// (from a shared buffer where the payload follows 0, 5 or 10 other bytes);
/// both must give the same result. When the shared decoding succeeds, the
/// data of an `AnswerObject` must be a window into the buffer exactly when
/// it is large.
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
    if let Ok(Message::AnswerObject(a)) = &shared {
        assert_eq!(a.data.is_shared(), a.data.len() >= BIG_FIELD, "{a:?}");
        let windows = usize::from(a.data.is_shared());
        assert_eq!(Arc::strong_count(&packet), 1 + windows);
    }
    drop(shared);
    assert_eq!(Arc::strong_count(&packet), 1, "a window outlived its value");
    res
}

/// Decode `payload` as `code` (see [`decode_both`]); it may fail, but must
/// not panic, and if it succeeds the value must re-encode to exactly
/// `payload`.
fn decode_strictly(code: u16, payload: &[u8]) -> Result<Message, DecodeError> {
    let res = decode_both(code, payload);
    match &res {
        Ok(m) => {
            assert_eq!(m.code(), code);
            assert_eq!(
                encode(m),
                payload,
                "{code:#06x}: {m:?} decoded from bytes it does not re-encode to"
            );
        }
        Err(e) => {
            assert_eq!(e.code(), code);
            assert!(e.to_string().contains(&format!("{code:#06x}")), "{e}");
        }
    }
    res
}

#[test]
fn property_roundtrip_and_robustness() {
    // A fixed number of rounds, not a time bound: every machine checks the
    // same cases.
    for seed in [1u64, 2, 3, 0xdead_beef, 0x5eed_5eed_5eed] {
        let mut rng = Rng::new(seed);
        for _ in 0..PROPERTY_ROUNDS {
            for &code in MESSAGE_CODES {
                // random value: encode -> decode -> equal
                let m = random_message(&mut rng, code);
                let bytes = encode(&m);
                assert_eq!(decode_strictly(code, &bytes).as_ref(), Ok(&m));

                // every strict prefix is truncated, for the message's own
                // code; under the other codes anything but a panic goes.
                // The first 200 and the last 16 (a large blob cut short).
                let len = bytes.len();
                let tail = len.saturating_sub(16).max(len.min(200));
                for n in (0..len.min(200)).chain(tail..len) {
                    assert!(
                        decode_both(code, &bytes[..n]).is_err(),
                        "{m:?}: prefix of {n} bytes decoded"
                    );
                    for &other in MESSAGE_CODES {
                        let _ = decode_strictly(other, &bytes[..n]);
                    }
                }

                // single-byte corruptions, under every code
                for _ in 0..bytes.len().min(64) {
                    let mut bad = bytes.clone();
                    let i = rng.below(bad.len().max(1));
                    if let Some(b) = bad.get_mut(i) {
                        *b ^= rng.u8() | 1;
                    }
                    for &other in MESSAGE_CODES {
                        let _ = decode_strictly(other, &bad);
                    }
                }

                // appended junk is trailing bytes
                let mut long = bytes.clone();
                long.push(rng.u8());
                assert!(decode_both(code, &long).is_err(), "{m:?} + 1 byte");
            }

            // random byte strings under every code
            for _ in 0..8 {
                let junk = rng.bytes(64);
                for &code in MESSAGE_CODES {
                    let _ = decode_strictly(code, &junk);
                }
            }
        }
    }
}

/// Rounds per seed of `property_roundtrip_and_robustness`.
const PROPERTY_ROUNDS: usize = 300;

/// An `AnswerObject` with `n` bytes of patterned data.
fn big_answer(n: usize) -> AnswerObject {
    AnswerObject {
        oid: 1,
        serial: 2,
        next_serial: INVALID_TID,
        compression: false,
        checksum: Checksum([9; 20]),
        data: (0..n).map(|i| (i % 253) as u8).collect(),
        data_serial: 0,
    }
}

#[test]
fn large_data_is_neither_copied_out_nor_in() {
    for n in [BIG_FIELD, BIG_FIELD + 1, 16 << 20] {
        let m = big_answer(n);

        // sending: the data is a borrowed segment, the rest in the buffer
        let mut buf = Vec::new();
        let segs = encode_packet_parts(&mut buf, 3, &m);
        assert_eq!(segs.len(), 1);
        assert_eq!(segs[0].1.as_ptr(), m.data.as_ptr(), "data copied");
        assert_eq!(buf.len() as u64, packet_size(&m) - n as u64);
        let slices = packet_io_slices(&buf, &segs);
        assert_eq!(slices.len(), 3, "header+fields, data, data_serial");
        let packet = concat(&slices);
        let mut whole = Vec::new();
        encode_packet(&mut whole, 3, &m);
        assert!(
            packet == whole,
            "{n} bytes: parts differ from encode_packet"
        );

        // receiving: the data is a window into the packet buffer
        let packet = Arc::new(packet);
        let got = AnswerObject::decode_shared(&packet, 10).unwrap();
        assert!(got == m, "{n} bytes: shared decoding differs");
        assert!(got.data.is_shared());
        assert_eq!(got.data.as_ptr(), packet[packet.len() - 8 - n..].as_ptr());
        assert_eq!(Arc::strong_count(&packet), 2);
        // and it survives the buffer's other holders
        let data = got.data.clone();
        drop((got, packet));
        assert_eq!(data, m.data);
        assert_eq!(data.into_vec(), m.data.clone().into_vec());
    }
}

/// Encodes a default `M`, forges the u32 length `from_end` bytes before
/// the end of its payload to 0xffffffff, and checks that decoding it is a
/// `LengthTooLarge` error naming `field`.
#[track_caller]
fn assert_forged_length<M: Msg + Default>(from_end: usize, field: &str) {
    let m = M::default();
    let mut p = Vec::new();
    m.encode_into(&mut p);
    let at = p.len() - from_end;
    p[at..at + 4].copy_from_slice(&[0xff; 4]);
    let err = M::decode(&p).unwrap_err();
    assert!(matches!(
        err.kind(),
        DecodeErrorKind::LengthTooLarge { len: u32::MAX, .. }
    ));
    assert_eq!(err.field(), Some(field));
}

#[test]
fn forged_lengths_are_decode_errors() {
    // Error: code, then a message length of 0xffffffff in a 20-byte payload
    let mut p = vec![0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff];
    p.resize(20, b'x');
    let err = Message::decode(0x8000, &p).unwrap_err();
    assert_eq!(err.code(), 0x8000);
    assert!(
        matches!(
            err.kind(),
            DecodeErrorKind::LengthTooLarge {
                len: u32::MAX,
                remaining: 12,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("0x8000"), "{err}");
    assert!(err.to_string().contains("Error"), "{err}");

    // RequestIdentification: the host length of the address
    let mut p = vec![2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
    p.resize(20, 0);
    let err = Message::decode(0x0001, &p).unwrap_err();
    assert!(matches!(err.kind(), DecodeErrorKind::LengthTooLarge { .. }));
    assert_eq!(err.field(), Some("address"));

    // RequestIdentification: a count of 0xffffffff strings in dev_path
    // (dev_path count, then new_nid count)
    assert_forged_length::<RequestIdentification>(8, "dev_path");

    // AnswerObject: the data length (then data_serial)
    assert_forged_length::<AnswerObject>(12, "data");

    // 20 bytes of 0xff under every code: an error, never a panic
    for &code in MESSAGE_CODES {
        assert!(Message::decode(code, &[0xff; 20]).is_err(), "{code:#06x}");
    }
}

#[test]
fn bad_bool_and_utf8_are_decode_errors() {
    let mut p = Vec::new();
    AnswerObject::default().encode_into(&mut p);
    p[24] = 2; // compression
    let err = Message::decode(0x8020, &p).unwrap_err();
    assert_eq!(err.kind(), &DecodeErrorKind::BadBool(2));
    assert!(err.to_string().contains("compression"), "{err}");

    let err = Message::decode(0x8000, &[0, 0, 0, 0, 0, 0, 0, 1, 0xc3]).unwrap_err();
    assert_eq!(err.kind(), &DecodeErrorKind::BadUtf8);
}

#[test]
fn unknown_code_is_a_decode_error_naming_it() {
    for code in [0x0004u16, 0x1234, 0x8003, 0xffff] {
        assert_eq!(message_name(code), None);
        let err = Message::decode(code, &[]).unwrap_err();
        assert_eq!(err.code(), code);
        assert_eq!(err.kind(), &DecodeErrorKind::UnknownCode);
        assert!(
            err.to_string().contains(&format!("{code:#06x}")),
            "{err} does not name {code:#06x}"
        );
    }
    assert_eq!(
        Message::decode(0x1234, b"payload").unwrap_err().to_string(),
        "unknown message code 0x1234"
    );
}

#[test]
fn error_code_names() {
    let all = [
        (ErrorCode::ACK, 0, "ACK"),
        (ErrorCode::DENIED, 1, "DENIED"),
        (ErrorCode::NOT_READY, 2, "NOT_READY"),
        (ErrorCode::OID_NOT_FOUND, 3, "OID_NOT_FOUND"),
        (ErrorCode::TID_NOT_FOUND, 4, "TID_NOT_FOUND"),
        (ErrorCode::OID_DOES_NOT_EXIST, 5, "OID_DOES_NOT_EXIST"),
        (ErrorCode::PROTOCOL_ERROR, 6, "PROTOCOL_ERROR"),
        (ErrorCode::REPLICATION_ERROR, 7, "REPLICATION_ERROR"),
        (ErrorCode::CHECKING_ERROR, 8, "CHECKING_ERROR"),
        (
            ErrorCode::BACKEND_NOT_IMPLEMENTED,
            9,
            "BACKEND_NOT_IMPLEMENTED",
        ),
        (ErrorCode::NON_READABLE_CELL, 10, "NON_READABLE_CELL"),
        (ErrorCode::READ_ONLY_ACCESS, 11, "READ_ONLY_ACCESS"),
        (
            ErrorCode::INCOMPLETE_TRANSACTION,
            12,
            "INCOMPLETE_TRANSACTION",
        ),
    ];
    for (c, n, name) in all {
        assert_eq!(c, ErrorCode(n));
        assert_eq!(format!("{c:?}"), name);
    }
    assert_eq!(format!("{:?}", ErrorCode(13)), "ErrorCode(13)");
    // an unknown code round-trips through a message
    let m: Message = Error {
        code: ErrorCode(0xdead_beef),
        message: "?".into(),
    }
    .into();
    assert_eq!(Message::decode(0x8000, &encode(&m)), Ok(m));
}
