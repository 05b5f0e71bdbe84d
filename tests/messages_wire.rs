//! Wire-level tests of the messages (no networking):
//!
//! 1. the reference packets of NEO's Go implementation
//!    (`tests/vectors/messages.tsv`, headers included), byte for byte, both
//!    ways;
//! 2. errors for unknown codes and forged lengths;
//! 3. the zero-copy paths give the same bytes and values as the copying
//!    ones: everywhere above, `encode_parts` + `packet_io_slices` is
//!    checked against `encode_into`, and `decode_shared` against `decode`.
//!
//! The payloads of all 102 messages are in `proto_vectors.rs`; random
//! values and payloads in `proto_props.rs`.

use std::io::IoSlice;
use std::sync::Arc;

use neonet::proto::encoding::*;
use neonet::proto::DecodeErrorKind;
use neonet::proto::*;

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/messages.tsv"
));

/// conn_id of every packet of the vectors.
const VECTOR_CONN_ID: u32 = 1;

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd-length hex {s:?}");
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
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

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
        assert_eq!(buf.len() as u64, packet_size(3, &m) - n as u64);
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
}

#[test]
fn unknown_code_is_a_decode_error_naming_it() {
    for code in [0x0000u16, 0x0043, 0x1234, 0x8003, 0x803f, 0xffff] {
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
        (ErrorCode::UNDO_PACK_ERROR, 13, "UNDO_PACK_ERROR"),
    ];
    for (c, n, name) in all {
        assert_eq!(c, ErrorCode(n));
        assert_eq!(format!("{c:?}"), name);
    }
    assert_eq!(format!("{:?}", ErrorCode(14)), "ErrorCode(14)");
    // an unknown code round-trips through a message
    let m: Message = Error {
        code: ErrorCode(0xdead_beef),
        message: "?".into(),
    }
    .into();
    let mut bytes = Vec::new();
    m.encode_into(&mut bytes);
    assert_eq!(Message::decode(0x8000, &bytes), Ok(m));
}
