//! The read requests, answered from the database as NEO/py's storage
//! answers them (`neo/storage/handlers/client.py` over
//! `neo/storage/database/manager.py` and `sqlite.py`): same answers, same
//! errors with the same codes and messages.

use std::collections::BTreeMap;

use neonet::neopy::{
    AnswerLastIDs, AnswerLastTransaction, AnswerOIDsFrom, AnswerObject, AnswerObjectHistory,
    AnswerObjectUndoSerial, AnswerPackOrders, AnswerTIDs, AnswerTIDsFrom,
    AnswerTransactionInformation, Checksum, Data, ErrorCode, HistoryEntry, PackOrder, UndoSerial,
};

use crate::db::{ObjectRecord, Reader, UndoHistory};
use crate::pt::PtView;

/// NEO's `MAX_TID`: the first tid of a node without transactions.
pub const MAX_TID: u64 = 0x7fff_ffff_ffff_ffff;

/// NEO's `INVALID_PARTITION`: `AskTIDs` for every partition the node serves.
pub const INVALID_PARTITION: u32 = 0xffff_ffff;

/// Why a read is answered with `Error`.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The id's partition is not one this node serves (NEO/py's
    /// `NonReadableCell`): the client asks another storage.
    #[error("non-readable cell")]
    NonReadable,
    /// The object has no record at all (or none before the bound asked).
    #[error("oid {} does not exist", dump(*.0))]
    OidDoesNotExist(u64),
    /// The object exists, but not at the serial asked.
    #[error("oid {} not found", dump(*.0))]
    OidNotFound(u64),
    /// No such transaction here.
    #[error("tid {} does not exist", dump(*.0))]
    TidNotFound(u64),
    /// A range with `first >= last` (NEO/py's `ProtocolError`, after which
    /// it closes the link).
    #[error("invalid offsets")]
    InvalidOffsets,
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The database holds a value NEO/py would not have written.
    #[error("corrupt database: {0}")]
    Corrupt(String),
}

impl ReadError {
    /// The `Error` code and message NEO/py answers for this.
    pub fn code_message(&self) -> (ErrorCode, String) {
        match self {
            ReadError::NonReadable => (ErrorCode::NON_READABLE_CELL, String::new()),
            ReadError::OidDoesNotExist(oid) => (ErrorCode::OID_DOES_NOT_EXIST, dump(*oid)),
            ReadError::OidNotFound(oid) => (ErrorCode::OID_NOT_FOUND, dump(*oid)),
            ReadError::TidNotFound(tid) => (
                ErrorCode::TID_NOT_FOUND,
                format!("{} does not exist", dump(*tid)),
            ),
            ReadError::InvalidOffsets => (ErrorCode::PROTOCOL_ERROR, "invalid offsets".into()),
            // NEO/py's storage would stop on these; a client that gets
            // NOT_READY asks another storage.
            ReadError::Db(_) | ReadError::Corrupt(_) => (ErrorCode::NOT_READY, self.to_string()),
        }
    }

    /// Whether NEO/py closes the link after answering (a protocol error).
    pub fn closes_link(&self) -> bool {
        matches!(self, ReadError::InvalidOffsets)
    }
}

/// NEO/py's `dump` of an 8-byte id: 16 hex digits.
pub fn dump(id: u64) -> String {
    format!("{id:016x}")
}

/// The partition of `id`, if this node serves it.
fn readable_partition(view: &PtView, id: u64) -> Result<u32, ReadError> {
    match view.partition_of(id) {
        Some(p) if view.is_readable(p) => Ok(p),
        _ => Err(ReadError::NonReadable),
    }
}

/// `AskObject(oid, at, before)`: the record at exactly `at`, or else the
/// last before `before`, or else the last; the serial of the next record.
/// No record: OID_NOT_FOUND if a bound was given and the object has other
/// records, OID_DOES_NOT_EXIST otherwise. A record without data (its
/// creation undone) has a zero checksum and empty data.
pub fn object(
    r: &Reader,
    v: &PtView,
    oid: u64,
    at: Option<u64>,
    before: Option<u64>,
) -> Result<AnswerObject, ReadError> {
    let p = readable_partition(v, oid)?;
    let Some(rec) = r.object(p, oid, at, before)? else {
        let bounded = at.is_some() || before.is_some();
        return Err(if bounded && r.last_serial(p, oid)?.is_some() {
            ReadError::OidNotFound(oid)
        } else {
            ReadError::OidDoesNotExist(oid)
        });
    };
    answer_object(oid, rec)
}

fn answer_object(oid: u64, rec: ObjectRecord) -> Result<AnswerObject, ReadError> {
    let (checksum, data) = match (rec.hash, rec.data) {
        (Some(hash), Some(data)) => (checksum(oid, &hash)?, Data::from(data)),
        _ => (Checksum::default(), Data::default()),
    };
    Ok(AnswerObject {
        oid,
        serial: rec.serial,
        next_serial: rec.next_serial,
        compression: rec.compression,
        checksum,
        data,
        data_serial: rec.value_tid,
    })
}

fn checksum(oid: u64, hash: &[u8]) -> Result<Checksum, ReadError> {
    let bytes = <[u8; 20]>::try_from(hash).map_err(|_| {
        ReadError::Corrupt(format!("hash of {} is {} bytes", dump(oid), hash.len()))
    })?;
    Ok(Checksum(bytes))
}

/// `AskObjectHistory(oid, first, last)`: (serial, data size) of the
/// records, newest first, from the `first`-th to before the `last`-th.
pub fn history(
    r: &Reader,
    v: &PtView,
    oid: u64,
    first: i64,
    last: i64,
) -> Result<AnswerObjectHistory, ReadError> {
    if first >= last {
        return Err(ReadError::InvalidOffsets);
    }
    let p = readable_partition(v, oid)?;
    let rows = r.history(p, oid, first, last - first)?;
    if rows.is_empty() {
        return Err(ReadError::OidNotFound(oid));
    }
    let history_list = rows
        .into_iter()
        .map(|(serial, size)| HistoryEntry { serial, size })
        .collect();
    Ok(AnswerObjectHistory { oid, history_list })
}

/// `AskTransactionInformation(tid)`.
pub fn transaction(
    r: &Reader,
    v: &PtView,
    tid: u64,
) -> Result<AnswerTransactionInformation, ReadError> {
    let p = readable_partition(v, tid)?;
    let t = r.transaction(p, tid)?.ok_or(ReadError::TidNotFound(tid))?;
    Ok(AnswerTransactionInformation {
        tid,
        user: t.user,
        desc: t.description,
        ext: t.ext,
        packed: t.packed,
        oid_list: split_oids(tid, &t.oids)?,
    })
}

/// An `oids` column: 8-byte big-endian oids, concatenated.
pub fn split_oids(tid: u64, oids: &[u8]) -> Result<Vec<u64>, ReadError> {
    if !oids.len().is_multiple_of(8) {
        let what = format!("invalid oids length for tid {}: {}", dump(tid), oids.len());
        return Err(ReadError::Corrupt(what));
    }
    let oid = |c: &[u8]| u64::from_be_bytes(c.try_into().expect("8-byte chunk"));
    Ok(oids.chunks_exact(8).map(oid).collect())
}

/// `AskTIDs(first, last, partition)`: tids newest first, from the
/// `first`-th to before the `last`-th, of `partition` or, with
/// [`INVALID_PARTITION`], of every partition this node serves.
pub fn tids(
    r: &Reader,
    v: &PtView,
    first: i64,
    last: i64,
    partition: u32,
) -> Result<AnswerTIDs, ReadError> {
    if first >= last {
        return Err(ReadError::InvalidOffsets);
    }
    let partitions = if partition == INVALID_PARTITION {
        v.readable()
    } else {
        vec![partition]
    };
    if partitions.is_empty() {
        return Ok(AnswerTIDs::default());
    }
    if !partitions.iter().all(|&p| v.is_readable(p)) {
        return Err(ReadError::NonReadable);
    }
    let tid_list = r.tids(&partitions, first, last - first)?;
    Ok(AnswerTIDs { tid_list })
}

/// `AskTIDsFrom(min, max, length, partition)`: tids of `partition` in
/// `min..=max`, oldest first. As NEO/py, no check that the partition is
/// served (the client asks a node whose cell is readable).
pub fn tids_from(
    r: &Reader,
    min: u64,
    max: u64,
    length: u32,
    partition: u32,
) -> Result<AnswerTIDsFrom, ReadError> {
    let tid_list = r.tids_from(partition, min, max, length)?;
    Ok(AnswerTIDsFrom { tid_list })
}

/// `AskOIDsFrom(partition, length, min_oid, tid)`: the oids of
/// `partition` from `min_oid` that exist as of `tid`, and where to go on
/// (`None` when fewer than `length` were found).
pub fn oids_from(
    r: &Reader,
    v: &PtView,
    partition: u32,
    length: u32,
    min_oid: u64,
    tid: u64,
) -> Result<AnswerOIDsFrom, ReadError> {
    if !v.is_readable(partition) {
        return Err(ReadError::NonReadable);
    }
    let rows = r.oids_from(partition, min_oid, tid, length)?;
    let next_oid = match rows.last() {
        Some(&(oid, _)) if rows.len() >= length as usize => {
            Some(oid.wrapping_add(u64::from(v.partitions())))
        }
        _ => None,
    };
    let oid_list = rows.into_iter().filter(|r| r.1).map(|r| r.0).collect();
    Ok(AnswerOIDsFrom { next_oid, oid_list })
}

/// `AskObjectUndoSerial(ttid, ltid, undone_tid, oids)`: for each oid
/// changed by `undone_tid`, the serial its undo starts from, the data
/// serial to restore and whether that is current. `current(oid)` is what
/// the transaction `ttid` stored for it already, if it did: the undo
/// starts from there.
pub fn undo_serials(
    r: &Reader,
    v: &PtView,
    ltid: u64,
    undone_tid: u64,
    oids: &[u64],
    current: impl Fn(u64) -> Option<u64>,
) -> Result<AnswerObjectUndoSerial, ReadError> {
    let mut object_tid_dict = BTreeMap::new();
    for &oid in oids {
        let p = readable_partition(v, oid)?;
        let Some(history) = r.undo_history(p, oid, undone_tid)? else {
            continue; // nothing of this oid to undo at undone_tid
        };
        match find_undo(history, ltid, undone_tid, current(oid)) {
            Some(serial) => object_tid_dict.insert(oid, serial),
            None => return Err(ReadError::OidNotFound(oid)),
        };
    }
    Ok(AnswerObjectUndoSerial { object_tid_dict })
}

/// NEO/py's `findUndoTID`: `None` if the client's snapshot (before
/// `ltid`) does not see the undone record. `current_tid` is the serial of
/// what the undoing transaction stored for the object already, if it did.
/// Undo-identical records (`value_tid`) are followed so that the
/// greatest data serial is returned.
pub fn find_undo(
    history: UndoHistory,
    ltid: u64,
    undo_tid: u64,
    current_tid: Option<u64>,
) -> Option<UndoSerial> {
    let (mut undone_tid, after) = history;
    let mut undo_tid = undo_tid;
    let current = match current_tid {
        Some(c) => c,
        // NEO/py: no ltid (ZERO_TID) sees everything.
        None => match after.iter().rev().find(|(tid, _)| ltid == 0 || *tid < ltid) {
            Some(&(tid, _)) => tid,
            None if ltid != 0 && ltid <= undo_tid => return None,
            None => undo_tid,
        },
    };
    let mut is_current = current == undo_tid;
    for (tid, data_tid) in after {
        match data_tid {
            Some(d) if Some(d) == undone_tid => undone_tid = Some(tid),
            Some(d) if d == undo_tid => {
                if current == tid {
                    is_current = true;
                } else {
                    undo_tid = tid;
                }
            }
            _ => {}
        }
    }
    Some(UndoSerial {
        current_serial: current,
        undo_serial: undone_tid,
        is_current,
    })
}

/// `AskLastTransaction` to this node: the last tid it has committed in
/// the partitions it serves (0 without any). NEO/py's storage does not
/// answer it (the master does); this node does, for tools.
pub fn last_transaction(r: &Reader, v: &PtView) -> Result<AnswerLastTransaction, ReadError> {
    Ok(AnswerLastTransaction {
        ltid: last_tid(r, v)?.unwrap_or(0),
    })
}

fn last_tid(r: &Reader, v: &PtView) -> Result<Option<u64>, ReadError> {
    let mut last = None;
    for p in v.readable() {
        last = last.max(r.last_tid(p)?);
    }
    Ok(last)
}

/// `AskLastIDs` from the master: the last tid (of objects or
/// transactions) and the last oid in the partitions this node serves,
/// and its first tid ([`MAX_TID`] without any).
pub fn last_ids(r: &Reader, v: &PtView) -> Result<AnswerLastIDs, ReadError> {
    let (mut ltid, mut loid, mut ftid) = (None, None, None::<u64>);
    for p in v.readable() {
        let (t, o) = r.last_object_ids(p)?;
        ltid = ltid.max(t);
        loid = loid.max(o);
        let first = r.first_tid(p)?.unwrap_or(MAX_TID);
        ftid = Some(ftid.map_or(first, |f| f.min(first)));
    }
    Ok(AnswerLastIDs {
        ltid: ltid.max(last_tid(r, v)?),
        loid,
        ftid: ftid.unwrap_or(MAX_TID),
    })
}

/// `AskPackOrders(pack_id)` from the master: the pack orders from
/// `pack_id` on, of the partitions this node serves.
pub fn pack_orders(r: &Reader, v: &PtView, min_id: u64) -> Result<AnswerPackOrders, ReadError> {
    let readable = v.readable();
    if readable.is_empty() {
        return Ok(AnswerPackOrders::default());
    }
    let mut pack_list = Vec::new();
    for row in r.pack_orders(min_id, v.partitions(), &readable)? {
        let oid_list = row.oids.map(|o| split_oids(row.id, &o)).transpose()?;
        pack_list.push(PackOrder {
            pack_id: row.id,
            approved: row.approved,
            partial: row.partial,
            oid_list,
            pack_tid: row.pack_tid,
        });
    }
    Ok(AnswerPackOrders { pack_list })
}

/// `AskFinalTID(ttid)` from the master: the tid under which `ttid` was
/// committed.
pub fn final_tid(r: &Reader, v: &PtView, ttid: u64) -> Result<Option<u64>, ReadError> {
    let p = readable_partition(v, ttid)?;
    Ok(r.final_tid(p, ttid)?)
}
