//! NEO/py's own bytes, both ways (DESIGN §10): every line of
//! `tests/neopy/vectors.tsv` (54 packets captured off the wire of a NEO/py
//! cluster, 143 made by NEO/py's encoder, every packet type at least once)
//! decodes to the arguments its JSON column gives, field by field, and
//! re-encodes to exactly its bytes; and the message table agrees with
//! NEO/py's registry (`packets.tsv`) and schema (`schema.tsv`).
//!
//! The typed values are compared in the JSON form of the vectors: each
//! field type has a `ToJson` here that follows the vectors' conventions
//! (`p64` → `{"p64": hex}`, `bin` → `{"bin": hex}`, enums →
//! `{"enum": name, "value": n}`, named tuples → objects, maps → pairs),
//! and each message is destructured by field name, so the compiler checks
//! that this file names every field of the table.

mod neopy_common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use neonet::neopy::*;
use neonet::proto::encoding::packet_io_slices;
use neopy_common::{hex, shared, tsv, vectors, Vector};
use serde_json::{json, Value as Json};

/// A value in the JSON form of `vectors.tsv`.
trait ToJson {
    fn to_json(&self) -> Json;
}

/// `p64`.
impl ToJson for u64 {
    fn to_json(&self) -> Json {
        json!({ "p64": hex(&self.to_be_bytes()) })
    }
}

macro_rules! numbers {
    ($($t:ty),*) => {$(
        impl ToJson for $t {
            fn to_json(&self) -> Json {
                json!(self)
            }
        }
    )*};
}

numbers!(u8, u16, u32, i32, i64, f64, bool);

fn bin(b: &[u8]) -> Json {
    json!({ "bin": hex(b) })
}

impl ToJson for String {
    fn to_json(&self) -> Json {
        bin(self.as_bytes())
    }
}

impl ToJson for Vec<u8> {
    fn to_json(&self) -> Json {
        bin(self)
    }
}

impl ToJson for Data {
    fn to_json(&self) -> Json {
        bin(self)
    }
}

impl ToJson for Checksum {
    fn to_json(&self) -> Json {
        bin(&self.0)
    }
}

/// A plain integer in `Error`.
impl ToJson for ErrorCode {
    fn to_json(&self) -> Json {
        json!(self.0)
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn to_json(&self) -> Json {
        self.as_ref().map_or(Json::Null, T::to_json)
    }
}

// Lists of anything but bytes (a `Vec<u8>` is a `bin`).
macro_rules! lists {
    ($($t:ty),*) => {$(
        impl ToJson for Vec<$t> {
            fn to_json(&self) -> Json {
                Json::Array(self.iter().map(ToJson::to_json).collect())
            }
        }
    )*};
}

lists!(
    u64,
    u32,
    i32,
    Address,
    NodeInfo,
    CellInfo,
    Vec<CellInfo>,
    CellChange
);
lists!(HistoryEntry, PackOrder, Option<String>);

/// Maps as `[[key, value], ...]`, in wire order (sorted by key).
impl<K: ToJson, V: ToJson> ToJson for BTreeMap<K, V> {
    fn to_json(&self) -> Json {
        Json::Array(
            self.iter()
                .map(|(k, v)| json!([k.to_json(), v.to_json()]))
                .collect(),
        )
    }
}

/// The name of the enum of each ext type, as `schema.tsv` lists them.
fn enum_name(ext: i8) -> &'static str {
    match ext {
        0 => "CellStates",
        1 => "ClusterStates",
        2 => "ErrorCodes",
        3 => "NodeStates",
        4 => "NodeTypes",
        _ => panic!("ext type {ext}"),
    }
}

macro_rules! enums {
    ($($t:ty),*) => {$(
        impl ToJson for $t {
            fn to_json(&self) -> Json {
                json!({ "enum": enum_name(<$t>::EXT_CODE), "value": self.0 })
            }
        }
    )*};
}

enums!(NodeType, NodeState, CellState, ClusterState);

/// `any`, in the vectors' conventions for free-form values.
impl ToJson for Value {
    fn to_json(&self) -> Json {
        self.view().to_json()
    }
}

impl ToJson for ValueRef<'_> {
    fn to_json(&self) -> Json {
        match self {
            ValueRef::Nil => Json::Null,
            ValueRef::Bool(b) => json!(b),
            ValueRef::Int(i) => json!(i),
            ValueRef::UInt(u) => json!(u),
            ValueRef::F32(f) => json!(f),
            ValueRef::F64(f) => json!(f),
            ValueRef::Str(s) => json!({ "str": s }),
            ValueRef::Bin(b) => bin(b),
            ValueRef::Array(items) => Json::Array(items.clone().map(|v| v.to_json()).collect()),
            ValueRef::Map(entries) => Json::Array(
                entries
                    .clone()
                    .map(|(k, v)| json!([k.to_json(), v.to_json()]))
                    .collect(),
            ),
            ValueRef::Ext(ty, payload) => {
                let [value] = payload[..] else {
                    panic!("enum payload {payload:?}")
                };
                json!({ "enum": enum_name(*ty), "value": value })
            }
        }
    }
}

/// Records and messages as JSON objects, by destructuring (so that every
/// field must be named here).
macro_rules! objects {
    ($($t:ident { $($f:ident),* })*) => {$(
        impl ToJson for $t {
            #[allow(unused_mut)]
            fn to_json(&self) -> Json {
                let $t { $($f),* } = self;
                let mut o = serde_json::Map::new();
                $( o.insert(stringify!($f).into(), $f.to_json()); )*
                Json::Object(o)
            }
        }
    )*};
}

objects! {
    Address { host, port }
    NodeInfo { node_type, address, uuid, state, id_timestamp }
    CellInfo { uuid, state }
    CellChange { offset, uuid, state }
    PackRequest { oid_list, pack_tid }
    PackInfo { approved, partial, oid_list, pack_tid }
    PackOrder { pack_id, approved, partial, oid_list, pack_tid }
    ObjectData { compression, checksum, data }
    RelockConflict { serial, conflict, data }
    HistoryEntry { serial, size }
    UndoSerial { current_serial, undo_serial, is_current }
    CheckSource { upstream_name, address }
}

objects! {
    RequestIdentification { node_type, uuid, address, name, id_timestamp, extra }
    Ping {}
    CloseClient {}
    AskPrimary {}
    NotPrimaryMaster { primary, known_master_list }
    NotifyNodeInformation { timestamp, node_list }
    AskRecovery {}
    AskLastIDs {}
    AskPartitionTable {}
    SendPartitionTable { ptid, num_replicas, row_list }
    NotifyPartitionChanges { ptid, num_replicas, cell_list }
    StartOperation { backup }
    StopOperation {}
    AskUnfinishedTransactions { offset_list }
    AskLockedTransactions {}
    AskFinalTID { ttid }
    ValidateTransaction { ttid, tid }
    AskBeginTransaction { tid }
    FailedVote { ttid, uuid_list }
    AskFinishTransaction { ttid, oid_list, deleted, checked, pack }
    AskLockInformation { ttid, tid, pack }
    InvalidateObjects { tid, oid_list }
    InvalidatePartitions { tid, partition_list }
    NotifyUnlockInformation { ttid }
    AskNewOIDs { num_oids }
    NotifyDeadlock { ttid, oid }
    AskRelockObject { ttid, oid }
    AskStoreObject { oid, serial, compression, checksum, data, data_serial, ttid }
    AbortTransaction { ttid, uuid_list }
    AskStoreTransaction { ttid, user, desc, ext, oid_list, pack }
    AskVoteTransaction { ttid }
    AskObject { oid, at, before }
    AskTIDs { first, last, partition }
    AskTransactionInformation { tid }
    AskObjectHistory { oid, first, last }
    AskPartitionList { min_offset, max_offset, uuid }
    AskNodeList { node_type }
    SetNodeState { uuid, state }
    AddPendingNodes { uuid_list }
    TweakPartitionTable { dry_run, uuid_list }
    SetNumReplicas { num_replicas }
    SetClusterState { state }
    Repair { uuid_list, dry_run }
    NotifyRepair { dry_run }
    NotifyClusterInformation { state }
    AskClusterState {}
    AskObjectUndoSerial { ttid, ltid, undone_tid, oid_list }
    AskTIDsFrom { min_tid, max_tid, length, partition }
    AskOIDsFrom { partition, length, min_oid, tid }
    WaitForPack { tid }
    AskPackOrders { pack_id }
    NotifyPackSigned { approved, rejected }
    NotifyPackCompleted { pack_id }
    CheckReplicas { partition_dict, min_tid, max_tid }
    CheckPartition { partition, source, min_tid, max_tid }
    AskCheckTIDRange { partition, length, min_tid, max_tid }
    AskCheckSerialRange { partition, length, min_tid, max_tid, min_oid }
    NotifyPartitionCorrupted { partition, cell_list }
    NotifyReady {}
    AskLastTransaction {}
    AskCheckCurrentSerial { ttid, oid, serial }
    NotifyTransactionFinished { ttid, max_tid }
    Replicate { tid, upstream_name, source_dict }
    NotifyReplicationDone { offset, tid }
    AskFetchTransactions { partition, length, min_tid, max_tid, tid_list, ask_pack_info }
    AskFetchObjects { partition, length, min_tid, max_tid, min_oid, object_dict }
    AddTransaction { tid, user, desc, ext, packed, ttid, oid_list, pack }
    AddObject { oid, serial, compression, checksum, data, data_serial }
    Truncate { tid }
    FlushLog {}
    AskMonitorInformation {}
    NotifyMonitorInformation { info }
    NotifyUpstreamAdmin { addr }
    Error { code, message }
    AcceptIdentification { node_type, uuid, your_uuid }
    Pong {}
    AnswerPrimary { primary_uuid }
    AnswerRecovery { ptid, backup_tid, truncate_tid }
    AnswerLastIDs { ltid, loid, ftid }
    AnswerPartitionTable { ptid, num_replicas, row_list }
    AnswerUnfinishedTransactions { max_tid, ttid_list }
    AnswerLockedTransactions { tid_dict }
    AnswerFinalTID { tid }
    AnswerBeginTransaction { ttid }
    AnswerTransactionFinished { ttid, tid }
    AnswerInformationLocked { ttid }
    AnswerNewOIDs { oid_list }
    AnswerRelockObject { conflict }
    AnswerStoreObject { conflict }
    AnswerStoreTransaction {}
    AnswerVoteTransaction {}
    AnswerObject { oid, serial, next_serial, compression, checksum, data, data_serial }
    AnswerTIDs { tid_list }
    AnswerTransactionInformation { tid, user, desc, ext, packed, oid_list }
    AnswerObjectHistory { oid, history_list }
    AnswerPartitionList { ptid, num_replicas, row_list }
    AnswerNodeList { node_list }
    AnswerTweakPartitionTable { changed, row_list }
    AnswerClusterState { state }
    AnswerObjectUndoSerial { object_tid_dict }
    AnswerTIDsFrom { tid_list }
    AnswerOIDsFrom { next_oid, oid_list }
    WaitedForPack {}
    AnswerPackOrders { pack_list }
    AnswerCheckTIDRange { count, tid_checksum, max_tid }
    AnswerCheckSerialRange { count, tid_checksum, max_tid, oid_checksum, max_oid }
    AnswerLastTransaction { ltid }
    AnswerCheckCurrentSerial { conflict }
    AnswerFetchTransactions { next_tid, tid_list, completed_pack }
    AnswerFetchObjects { next_tid, next_oid, object_dict }
    AnswerMonitorInformation { warning, problem, summary }
}

/// A message's arguments as JSON: the enum dispatched to the structs'
/// `ToJson`.
fn args_json(m: &Message) -> Json {
    macro_rules! dispatch {
        ($($t:ident)*) => {
            match m {
                $( Message::$t(m) => m.to_json(), )*
                _ => panic!("a message this test does not know: {}", m.name()),
            }
        };
    }
    dispatch! {
        RequestIdentification
        Ping
        CloseClient
        AskPrimary
        NotPrimaryMaster
        NotifyNodeInformation
        AskRecovery
        AskLastIDs
        AskPartitionTable
        SendPartitionTable
        NotifyPartitionChanges
        StartOperation
        StopOperation
        AskUnfinishedTransactions
        AskLockedTransactions
        AskFinalTID
        ValidateTransaction
        AskBeginTransaction
        FailedVote
        AskFinishTransaction
        AskLockInformation
        InvalidateObjects
        InvalidatePartitions
        NotifyUnlockInformation
        AskNewOIDs
        NotifyDeadlock
        AskRelockObject
        AskStoreObject
        AbortTransaction
        AskStoreTransaction
        AskVoteTransaction
        AskObject
        AskTIDs
        AskTransactionInformation
        AskObjectHistory
        AskPartitionList
        AskNodeList
        SetNodeState
        AddPendingNodes
        TweakPartitionTable
        SetNumReplicas
        SetClusterState
        Repair
        NotifyRepair
        NotifyClusterInformation
        AskClusterState
        AskObjectUndoSerial
        AskTIDsFrom
        AskOIDsFrom
        WaitForPack
        AskPackOrders
        NotifyPackSigned
        NotifyPackCompleted
        CheckReplicas
        CheckPartition
        AskCheckTIDRange
        AskCheckSerialRange
        NotifyPartitionCorrupted
        NotifyReady
        AskLastTransaction
        AskCheckCurrentSerial
        NotifyTransactionFinished
        Replicate
        NotifyReplicationDone
        AskFetchTransactions
        AskFetchObjects
        AddTransaction
        AddObject
        Truncate
        FlushLog
        AskMonitorInformation
        NotifyMonitorInformation
        NotifyUpstreamAdmin
        Error
        AcceptIdentification
        Pong
        AnswerPrimary
        AnswerRecovery
        AnswerLastIDs
        AnswerPartitionTable
        AnswerUnfinishedTransactions
        AnswerLockedTransactions
        AnswerFinalTID
        AnswerBeginTransaction
        AnswerTransactionFinished
        AnswerInformationLocked
        AnswerNewOIDs
        AnswerRelockObject
        AnswerStoreObject
        AnswerStoreTransaction
        AnswerVoteTransaction
        AnswerObject
        AnswerTIDs
        AnswerTransactionInformation
        AnswerObjectHistory
        AnswerPartitionList
        AnswerNodeList
        AnswerTweakPartitionTable
        AnswerClusterState
        AnswerObjectUndoSerial
        AnswerTIDsFrom
        AnswerOIDsFrom
        WaitedForPack
        AnswerPackOrders
        AnswerCheckTIDRange
        AnswerCheckSerialRange
        AnswerLastTransaction
        AnswerCheckCurrentSerial
        AnswerFetchTransactions
        AnswerFetchObjects
        AnswerMonitorInformation
    }
}

/// Encode `m` into a packet with id `msg_id`, by both paths, checking that
/// they agree.
fn encode(msg_id: u32, m: &Message) -> Vec<u8> {
    let mut whole = Vec::new();
    encode_head(&mut whole, msg_id, m.code());
    m.encode_into(&mut whole);
    let mut buf = Vec::new();
    encode_head(&mut buf, msg_id, m.code());
    let segs = m.encode_parts(&mut buf);
    let parts: Vec<u8> = packet_io_slices(&buf, &segs)
        .iter()
        .flat_map(|s| s.iter().copied())
        .collect();
    assert_eq!(parts, whole, "encode_parts");
    assert_eq!(whole.len() - head_len(msg_id, m.code()), m.encoded_len());
    whole
}

/// Decode a vector's packet, both ways, checking that they agree.
fn decode(v: &Vector) -> Message {
    let (head, buf) = shared(&v.bytes);
    assert_eq!((head.msg_id, head.code), (v.msg_id, v.code));
    assert_eq!(head.is_answer(), v.code & 0x8000 != 0);
    let m = Message::decode_shared(head.code, &buf, head.args_offset)
        .unwrap_or_else(|e| panic!("line {} {}: {e}", v.line, v.name));
    let copied = Message::decode(head.code, &v.bytes[head.args_offset..]).unwrap();
    assert_eq!(copied, m);
    m
}

#[test]
fn every_vector_decodes_to_its_args_and_back_to_its_bytes() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 197);
    for v in &vectors {
        let m = decode(v);
        assert_eq!(m.name(), v.name, "line {}", v.line);
        assert_eq!(m.code(), v.code);
        assert_eq!(args_json(&m), v.args, "line {} {}", v.line, v.name);
        assert!(
            encode(v.msg_id, &m) == v.bytes,
            "line {} {}: bytes differ",
            v.line,
            v.name
        );
    }
    assert_eq!(vectors.iter().filter(|v| v.captured).count(), 54);
}

#[test]
fn every_message_has_a_vector() {
    let named: BTreeSet<&str> = vectors()
        .iter()
        .map(|v| message_name(v.code).unwrap())
        .collect();
    let all: BTreeSet<&str> = MESSAGE_CODES
        .iter()
        .map(|&c| message_name(c).unwrap())
        .collect();
    assert_eq!(all.len(), 111);
    assert_eq!(named, all);
}

#[test]
fn the_table_is_neopys_registry() {
    let mut codes = Vec::new();
    for row in tsv("packets.tsv") {
        let [name, code, kind, answer, ..] = &row[..] else {
            continue; // the ext types at the end
        };
        let Ok(code) = u16::from_str_radix(code.trim_start_matches("0x"), 16) else {
            continue;
        };
        codes.push(code);
        assert_eq!(message_name(code), Some(name.as_str()));
        let expected = match (kind.as_str(), answer.as_str()) {
            ("request", "Error") => Some("Error (ACK)"),
            ("request", answer) => Some(answer),
            _ => None,
        };
        assert_eq!(answer_name(code), expected, "{name}");
    }
    codes.sort_unstable();
    let mut ours = MESSAGE_CODES.to_vec();
    ours.sort_unstable();
    assert_eq!(codes, ours);
    assert_eq!(
        MESSAGE_CODES
            .iter()
            .filter(|&&c| answer_name(c) == Some("Error (ACK)"))
            .count(),
        8
    );
}

#[test]
fn field_names_are_the_schemas() {
    let by_code: BTreeMap<u16, Message> = vectors().iter().map(|v| (v.code, decode(v))).collect();
    for row in tsv("schema.tsv") {
        let code = u16::from_str_radix(row[1].trim_start_matches("0x"), 16).unwrap();
        // top-level names: before each ':' at nesting depth 0
        let mut names = Vec::new();
        let (mut depth, mut word) = (0, String::new());
        for c in row[4].chars() {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                ':' if depth == 0 && !word.is_empty() => names.push(std::mem::take(&mut word)),
                ',' if depth == 0 => word.clear(),
                c if depth == 0 && (c.is_ascii_alphanumeric() || c == '_') => word.push(c),
                _ => {}
            }
            if c == ':' {
                word.clear();
            }
        }
        assert_eq!(by_code[&code].fields(), names, "{}", row[0]);
    }
}

#[test]
fn the_object_read_from_the_cluster() {
    // the captured AnswerObject of oid 2, 1 MiB of incompressible bytes,
    // with the SHA-1 NEO/py computed over them
    let vectors = vectors();
    let v = vectors
        .iter()
        .find(|v| {
            v.captured && v.name == "AnswerObject" && v.args["oid"]["p64"] == "0000000000000002"
        })
        .unwrap();
    let (head, buf) = shared(&v.bytes);
    let m = AnswerObject::decode_shared(&buf, head.args_offset).unwrap();
    assert_eq!(m.oid, 2);
    assert_eq!(m.serial, 0x040d_4148_097b_8644);
    assert_eq!(
        (m.next_serial, m.compression, m.data_serial),
        (None, Some(0), None)
    );
    assert_eq!(m.data.len(), 1_048_650);
    assert!(
        m.data.is_shared(),
        "object data is a window into the packet"
    );
    assert_eq!(
        m.data.as_ptr(),
        buf[buf.len() - 1 - m.data.len()..].as_ptr()
    );
    assert_eq!(
        hex(&m.checksum.0),
        "c3bb62b2bda9cdd31295712fb9ffab802f5a56ee"
    );
    // the Python repr of the same packet in trace.tsv agrees on the head
    assert_eq!((head.msg_id, head.code), (3, AnswerObject::CODE));
    let copied = AnswerObject::decode(&v.bytes[head.args_offset..]).unwrap();
    assert!(!copied.data.is_shared());
    assert_eq!(Arc::strong_count(&buf), 2);
}
