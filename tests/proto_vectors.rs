//! The whole protocol against NEO/go's own encoder (DESIGN §7):
//!
//! 1. every payload of `tests/vectors/all.tsv` (a zero, a small and a full
//!    value of each of the 102 messages) decodes to exactly its JSON value,
//!    and that value encodes to exactly the payload;
//! 2. the message table is the schema (`tests/vectors/schema.tsv`): the
//!    same codes and names, fields of the same names and wire types in the
//!    same order (checked through the values of 1, whose comparison walks
//!    the schema's types);
//! 3. the encoding rules that the schema's header calls out: maps given
//!    unsorted or with a repeated key, `Address` with an empty host, "no
//!    time", NaNs that are not the canonical one, any non-zero byte as
//!    `true`.
//!
//! No message is named in 1 and 2: the vectors and the schema name them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IoSlice;
use std::sync::Arc;

use neonet::proto::encoding::packet_io_slices;
use neonet::proto::{
    message_name, Address, CheckReplicas, IdTime, Message, Msg, NodeUUID, NotifyNodeInformation,
    RequestIdentification, StartOperation, Value, MESSAGE_CODES,
};
use serde_json::Value as Json;

const SCHEMA: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/schema.tsv"
));

const ALL: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/all.tsv"
));

/// The messages of protocol version 6.
const MESSAGES: usize = 102;

/// A field of the schema: name and type (e.g. `list<RowInfo>`).
type Fields = Vec<(String, String)>;

/// What `schema.tsv` says.
#[derive(Default)]
struct Schema {
    /// Code → (name, fields).
    messages: BTreeMap<u16, (String, Fields)>,
    /// Nested struct name → fields.
    structs: BTreeMap<String, Fields>,
    /// Enumeration names.
    enums: BTreeSet<String>,
}

/// `"a:u32, b:list<T>"` as fields.
fn parse_fields(s: &str) -> Fields {
    split_top(s.trim(), ',')
        .into_iter()
        .filter(|f| !f.is_empty())
        .map(|f| {
            let (name, ty) = f.split_once(':').expect("name:type");
            (name.trim().to_string(), ty.trim().to_string())
        })
        .collect()
}

/// `s` split at each `sep` outside of `<...>`, parts trimmed.
fn split_top(s: &str, sep: char) -> Vec<String> {
    let (mut parts, mut depth, mut cur) = (Vec::new(), 0, String::new());
    for c in s.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            _ => {}
        }
        if c == sep && depth == 0 {
            parts.push(cur.trim().to_string());
            cur.clear();
        } else {
            cur.push(c);
        }
    }
    parts.push(cur.trim().to_string());
    parts
}

fn schema() -> Schema {
    let mut schema = Schema::default();
    for line in SCHEMA.lines() {
        if let Some(rest) = line.strip_prefix("# struct ") {
            let (name, fields) = rest.split_once('\t').expect("struct line");
            schema
                .structs
                .insert(name.to_string(), parse_fields(fields));
        } else if let Some(rest) = line.strip_prefix("# enum ") {
            let (name, _) = rest.split_once('\t').expect("enum line");
            schema.enums.insert(name.to_string());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let cols: Vec<&str> = line.split('\t').collect();
            let code = u16::from_str_radix(cols[1], 16).expect("hex code");
            let fields = parse_fields(cols.get(2).copied().unwrap_or(""));
            schema.messages.insert(code, (cols[0].to_string(), fields));
        }
    }
    schema
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd-length hex {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// A JSON integer: a number, or a decimal string beyond 2^53.
fn json_int(j: &Json) -> Option<i128> {
    match j {
        Json::Number(n) => n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Asserts that `v` is the JSON value `j` of schema type `ty`, by the
/// conventions of the schema's header; `at` says where, for failures.
fn check(schema: &Schema, ty: &str, j: &Json, v: &Value, at: &str) {
    let fail = || -> ! { panic!("{at}: {ty}: got {v:?}, want {j}") };
    match ty {
        "bool" => {
            if *v != Value::Bool(j.as_bool().expect("JSON bool")) {
                fail()
            }
        }
        "u8" | "u16" | "u32" | "u64" | "i8" | "i32" | "i64" | "Oid" | "Tid" | "PTid"
        | "NodeUUID" => {
            if !is_int(j, v) {
                fail()
            }
        }
        _ if schema.enums.contains(ty) => {
            if !is_int(j, v) {
                fail()
            }
        }
        "string" => {
            let want = j.as_str().expect("JSON string");
            match v {
                Value::Str(s) if s == want => {}
                // text kept as bytes (transaction metadata)
                Value::Bytes(b) if b == want.as_bytes() => {}
                _ => fail(),
            }
        }
        "bytes" | "Checksum" => {
            if *v != Value::Bytes(unhex(j.as_str().expect("JSON hex"))) {
                fail()
            }
        }
        "IdTime" => match (v, j) {
            (Value::Float(f), Json::String(s)) if s == "NaN" && f.is_nan() => {}
            (Value::Float(f), Json::Number(n))
                if Some(f.to_bits()) == n.as_f64().map(f64::to_bits) => {}
            _ => fail(),
        },
        _ if ty.starts_with("list<") => {
            let item = &ty[5..ty.len() - 1];
            let (Value::List(items), Json::Array(want)) = (v, j) else {
                fail()
            };
            assert_eq!(items.len(), want.len(), "{at}: {ty}: length");
            for (i, (v, j)) in items.iter().zip(want).enumerate() {
                check(schema, item, j, v, &format!("{at}[{i}]"));
            }
        }
        _ if ty.starts_with("map<") => {
            let kv = split_top(&ty[4..ty.len() - 1], ',');
            let (Value::Map(entries), Json::Array(want)) = (v, j) else {
                fail()
            };
            assert_eq!(entries.len(), want.len(), "{at}: {ty}: length");
            for (i, ((k, v), j)) in entries.iter().zip(want).enumerate() {
                let pair = j.as_array().expect("[key, value]");
                check(schema, &kv[0], &pair[0], k, &format!("{at}[{i}].key"));
                check(schema, &kv[1], &pair[1], v, &format!("{at}[{i}].value"));
            }
        }
        _ => {
            let fields = schema
                .structs
                .get(ty)
                .unwrap_or_else(|| panic!("{at}: unknown type {ty}"));
            check_struct(schema, fields, j, v, at);
        }
    }
}

/// Whether `v` is the JSON integer `j`.
fn is_int(j: &Json, v: &Value) -> bool {
    *v == Value::Int(json_int(j).expect("JSON integer"))
}

/// Asserts that `v` is a struct of exactly `fields`, in order, with the
/// values of the JSON object `j`.
fn check_struct(schema: &Schema, fields: &Fields, j: &Json, v: &Value, at: &str) {
    let Value::Struct(got) = v else {
        panic!("{at}: not a struct: {v:?}")
    };
    let names: Vec<&str> = got.iter().map(|(n, _)| *n).collect();
    let want: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, want, "{at}: field names and order");
    let obj = j.as_object().expect("JSON object");
    assert_eq!(obj.len(), fields.len(), "{at}: JSON fields");
    for ((name, ty), (_, v)) in fields.iter().zip(got) {
        check(schema, ty, &obj[name], v, &format!("{at}.{name}"));
    }
}

/// The bytes a vectored write of `slices` sends.
fn concat(slices: &[IoSlice<'_>]) -> Vec<u8> {
    slices.iter().flat_map(|s| s.iter().copied()).collect()
}

/// One line of `all.tsv`.
struct Vector {
    name: String,
    code: u16,
    what: String,
    payload: Vec<u8>,
    json: Json,
}

fn vectors() -> Vec<Vector> {
    ALL.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 6, "{line}");
            let payload = unhex(cols[4]);
            assert_eq!(payload.len(), cols[3].parse::<usize>().unwrap(), "{line}");
            Vector {
                name: cols[0].to_string(),
                code: u16::from_str_radix(cols[1], 16).unwrap(),
                what: format!("{} {}", cols[0], cols[2]),
                payload,
                json: serde_json::from_str(cols[5]).expect("JSON value"),
            }
        })
        .collect()
}

#[test]
fn every_vector_decodes_to_its_value_and_back() {
    let schema = schema();
    let vectors = vectors();
    assert_eq!(vectors.len(), 3 * MESSAGES);
    for v in &vectors {
        let what = &v.what;
        let (name, fields) = &schema.messages[&v.code];
        assert_eq!(name, &v.name, "{what}");

        // decode: exactly the JSON value, by both decoders
        let m = Message::decode(v.code, &v.payload).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(m.name(), v.name, "{what}");
        check_struct(&schema, fields, &v.json, &m.to_value(), what);
        let mut packet = vec![0xa5; 10];
        packet.extend_from_slice(&v.payload);
        let packet = Arc::new(packet);
        assert_eq!(
            Message::decode_shared(v.code, &packet, 10).as_ref(),
            Ok(&m),
            "{what}"
        );

        // encode: exactly the payload, copied or in parts
        assert_eq!(m.encoded_len(), v.payload.len(), "{what}");
        let mut buf = Vec::new();
        m.encode_into(&mut buf);
        assert!(buf == v.payload, "{what}: encoding differs");
        let mut buf = Vec::new();
        let segs = m.encode_parts(&mut buf);
        assert!(
            concat(&packet_io_slices(&buf, &segs)) == v.payload,
            "{what}: parts differ"
        );
    }
}

#[test]
fn the_table_is_the_schema() {
    let schema = schema();
    assert_eq!(schema.messages.len(), MESSAGES);
    let table: BTreeSet<u16> = MESSAGE_CODES.iter().copied().collect();
    let schema_codes: BTreeSet<u16> = schema.messages.keys().copied().collect();
    assert_eq!(table, schema_codes);
    assert_eq!(MESSAGE_CODES.len(), MESSAGES, "a code twice in the table");
    for (code, (name, _)) in &schema.messages {
        assert_eq!(message_name(*code), Some(name.as_str()), "{code:#06x}");
    }
    // every message has its three vectors (and so had its fields checked)
    let mut seen: BTreeMap<u16, usize> = BTreeMap::new();
    for v in vectors() {
        *seen.entry(v.code).or_default() += 1;
    }
    assert!(seen.values().all(|&n| n == 3), "{seen:?}");
    assert_eq!(seen.len(), MESSAGES);
}

// ---- the schema header's encoding rules ----

/// `m` encoded.
fn encode<M: Msg>(m: &M) -> Vec<u8> {
    let mut b = Vec::new();
    m.encode_into(&mut b);
    b
}

#[test]
fn maps_are_written_sorted_and_read_in_any_order() {
    let m = CheckReplicas {
        partition_dict: [(2, NodeUUID(-1)), (1, NodeUUID(5))].into(),
        min_tid: 3,
        max_tid: 4,
    };
    let sorted: Vec<u8> = [
        &[0, 0, 0, 2][..],
        &[0, 0, 0, 1, 0, 0, 0, 5],
        &[0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff],
        &3u64.to_be_bytes(),
        &4u64.to_be_bytes(),
    ]
    .concat();
    assert_eq!(encode(&m), sorted);

    // unsorted, and key 2 twice: the last value wins
    let unsorted: Vec<u8> = [
        &[0, 0, 0, 3][..],
        &[0, 0, 0, 2, 0, 0, 0, 9],
        &[0, 0, 0, 1, 0, 0, 0, 5],
        &[0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff],
        &3u64.to_be_bytes(),
        &4u64.to_be_bytes(),
    ]
    .concat();
    let got = CheckReplicas::decode(&unsorted).unwrap();
    assert_eq!(got, m);
    assert_eq!(encode(&got), sorted);
}

#[test]
fn address_with_an_empty_host_has_no_port() {
    let node = |host: &str, port| NotifyNodeInformation {
        id_time: IdTime::from_f64(1.0),
        node_list: vec![neonet::proto::NodeInfo {
            addr: Address::new(host, port),
            ..Default::default()
        }],
    };
    // empty host: no port on the wire, whatever the port; decoded as 0
    let b = encode(&node("", 5551));
    assert_eq!(b, encode(&node("", 0)));
    assert_eq!(b.len(), 8 + 4 + 1 + 4 + 4 + 1 + 8);
    assert_eq!(NotifyNodeInformation::decode(&b), Ok(node("", 0)));
    // a host with port 0 does write the port
    let b = encode(&node("h", 0));
    assert_eq!(b.len(), 8 + 4 + 1 + 4 + 1 + 2 + 4 + 1 + 8);
    assert_eq!(NotifyNodeInformation::decode(&b), Ok(node("h", 0)));
}

/// A `RequestIdentification` whose `id_time` has the bits `bits`.
fn identification(bits: [u8; 8]) -> Vec<u8> {
    let mut b = encode(&RequestIdentification::default());
    // node_type, uuid, empty address, empty cluster name, then id_time
    b[13..21].copy_from_slice(&bits);
    b
}

#[test]
fn no_time_is_the_canonical_nan_and_any_nan_reads_as_it() {
    assert_eq!(IdTime::from_f64(f64::NEG_INFINITY), IdTime::NONE);
    let none = RequestIdentification {
        id_time: IdTime::NONE,
        ..Default::default()
    };
    assert_eq!(encode(&none), identification([0xff; 8]));
    for bits in [
        0xffff_ffff_ffff_ffff_u64,
        0x7ff8_0000_0000_0000, // Rust's and Go's NaN
        0x7ff0_0000_0000_0001, // a signalling NaN
        0xfff8_0000_0000_0000, // -NaN
        0xfff0_0000_0000_0000, // -inf: NEO/go's "no time" in memory
    ] {
        let got = RequestIdentification::decode(&identification(bits.to_be_bytes())).unwrap();
        assert_eq!(got.id_time, IdTime::NONE, "{bits:#018x}");
        assert_eq!(encode(&got), identification([0xff; 8]), "{bits:#018x}");
    }
    // +inf and -0.0 are times, written as their bits
    for t in [f64::INFINITY, -0.0, 0.1] {
        let b = identification(t.to_bits().to_be_bytes());
        let got = RequestIdentification::decode(&b).unwrap();
        assert_eq!(got.id_time.get().map(f64::to_bits), Some(t.to_bits()));
        assert_eq!(encode(&got), b);
    }
}

#[test]
fn any_non_zero_byte_is_true() {
    assert_eq!(encode(&StartOperation { backup: true }), [1]);
    assert_eq!(encode(&StartOperation { backup: false }), [0]);
    for b in 1..=255u8 {
        let got = StartOperation::decode(&[b]).unwrap();
        assert!(got.backup, "{b:#04x}");
        assert_eq!(encode(&got), [1]);
    }
    assert_eq!(
        StartOperation::decode(&[0]),
        Ok(StartOperation { backup: false })
    );
}
