//! Replication, as the node whose cells are readable (NEO/py's
//! `StorageOperationHandler`, server side): another storage asks for the
//! transactions and object records of a partition in chunks, and each
//! chunk is streamed as NEO/py streams it, one `AddTransaction` or
//! `AddObject` per item under the request's msg_id, then the answer,
//! which lists what the asker has and must delete.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use neonet::neopy::{
    AddObject, AddTransaction, AnswerFetchObjects, AnswerFetchTransactions, AskFetchObjects,
    AskFetchTransactions, Checksum, ErrorCode, Message, PackInfo, Pong,
};

use crate::commit::ZERO_HASH;
use crate::db::Reader;
use crate::net::{self, Link, NetError, Recv, Req};
use crate::pt::is_readable;
use crate::reads::{split_oids, ReadError};
use crate::state::Shared;

/// Why a fetch is not answered with data.
enum Refused {
    /// An `Error` answer; the link stays.
    Error(ErrorCode, String),
    /// A protocol error: answered, then the link is closed.
    Protocol(String),
    /// The database failed (answered NOT_READY).
    Read(ReadError),
}

impl From<rusqlite::Error> for Refused {
    fn from(e: rusqlite::Error) -> Refused {
        Refused::Read(e.into())
    }
}

impl From<ReadError> for Refused {
    fn from(e: ReadError) -> Refused {
        Refused::Read(e)
    }
}

/// Serves a storage's link until it goes.
pub fn serve(shared: &Arc<Shared>, link: &Arc<Link>, reader: &mut Reader) {
    loop {
        let req = match net::recv(link, Duration::from_secs(3600)) {
            Recv::Req(req) => req,
            Recv::Idle => continue,
            Recv::Gone(_) => return,
        };
        let stop = || shared.is_stopping() || !net::is_up(link);
        let done = match req.msg() {
            Message::AskFetchTransactions(a) => {
                shared.tm.wait_tid_unlocked(a.max_tid, stop);
                transactions(shared, &req, a, reader)
            }
            Message::AskFetchObjects(a) => objects(shared, &req, a, reader),
            Message::Ping(_) => net::reply(&req, &Pong {}).map_err(Into::into),
            other => Err(Refused::Protocol(format!(
                "unexpected packet: {} from a storage",
                other.name()
            ))),
        };
        match done {
            Ok(()) => {}
            Err(Refused::Error(code, m)) => {
                let _ = net::reply_error(&req, code, m);
            }
            Err(Refused::Read(e)) => {
                log::error!("replication: {e}");
                let (code, m) = e.code_message();
                let _ = net::reply_error(&req, code, m);
            }
            Err(Refused::Protocol(m)) => {
                log::warn!("storage {}: {m}", net::peer(link));
                if neonet::neopy::answer_name(req.msg().code()).is_some() {
                    let _ = net::reply_error(&req, ErrorCode::PROTOCOL_ERROR, m);
                }
                return;
            }
        }
    }
}

impl From<NetError> for Refused {
    fn from(e: NetError) -> Refused {
        Refused::Protocol(format!("link: {e}"))
    }
}

/// NEO/py's `checkFeedingConnection`: this node's cell of `partition`
/// must be readable.
fn feeding(shared: &Shared, partition: u32) -> Result<(), Refused> {
    let readable = shared
        .nid()
        .and_then(|nid| shared.pt().cell(partition, nid))
        .is_some_and(is_readable);
    if readable {
        return Ok(());
    }
    Err(Refused::Error(
        ErrorCode::REPLICATION_ERROR,
        format!("partition {partition} not readable"),
    ))
}

/// `AskFetchTransactions`: the transactions of the range the asker does
/// not have, streamed, then those it has and must delete.
fn transactions(
    shared: &Shared,
    req: &Req,
    a: &AskFetchTransactions,
    r: &Reader,
) -> Result<(), Refused> {
    feeding(shared, a.partition)?;
    let mut theirs: BTreeSet<u64> = a.tid_list.iter().copied().collect();
    let completed_pack = match a.ask_pack_info {
        true => Some(
            r.cell_pack(a.partition, shared.nid().unwrap_or(0))?
                .unwrap_or(0),
        ),
        false => None,
    };
    let mut tids = r.tids_from(
        a.partition,
        a.min_tid,
        a.max_tid,
        a.length.saturating_add(1),
    )?;
    let next_tid = (tids.len() > a.length as usize)
        .then(|| tids.pop())
        .flatten();
    for tid in tids {
        if theirs.remove(&tid) {
            continue;
        }
        let Some((t, ttid, pack)) = r.replication_transaction(a.partition, tid)? else {
            let m = format!("partition {} dropped", a.partition);
            return Err(Refused::Error(ErrorCode::REPLICATION_ERROR, m));
        };
        let pack = match pack {
            Some(p) => Some(PackInfo {
                approved: p.approved,
                partial: p.partial,
                oid_list: p.oids.map(|o| split_oids(tid, &o)).transpose()?,
                pack_tid: p.pack_tid,
            }),
            None => None,
        };
        let add = AddTransaction {
            tid,
            user: t.user,
            desc: t.description,
            ext: t.ext,
            packed: t.packed,
            ttid,
            oid_list: split_oids(tid, &t.oids)?,
            pack,
        };
        net::send_under(req, &add)?;
    }
    let answer = AnswerFetchTransactions {
        next_tid,
        tid_list: theirs.into_iter().collect(),
        completed_pack,
    };
    Ok(net::reply(req, &answer)?)
}

/// `AskFetchObjects`: the object records of the range the asker does not
/// have, streamed, then those it has and must delete.
fn objects(shared: &Shared, req: &Req, a: &AskFetchObjects, r: &Reader) -> Result<(), Refused> {
    feeding(shared, a.partition)?;
    if shared.tm.lock().is_locked_tid(a.max_tid) {
        return Err(Refused::Protocol(
            "transactions must be fetched before objects".into(),
        ));
    }
    let mut theirs: BTreeMap<u64, BTreeSet<u64>> = a
        .object_dict
        .iter()
        .map(|(serial, oids)| (*serial, oids.iter().copied().collect()))
        .collect();
    let mut list = r.replication_objects(
        a.partition,
        a.min_tid,
        a.max_tid,
        a.length.saturating_add(1),
        a.min_oid,
    )?;
    let next = (list.len() > a.length as usize)
        .then(|| list.pop())
        .flatten();
    for (serial, oid) in list {
        if let Some(oids) = theirs.get_mut(&serial) {
            if oids.remove(&oid) {
                if oids.is_empty() {
                    theirs.remove(&serial);
                }
                continue;
            }
        }
        let Some(rec) = r.fetch_object(a.partition, oid, serial)? else {
            let m = format!("partition {} dropped or truncated", a.partition);
            return Err(Refused::Error(ErrorCode::REPLICATION_ERROR, m));
        };
        let (compression, checksum, data) = match (rec.compression, rec.hash, rec.data) {
            (Some(c), Some(h), Some(d)) => (c, checksum(&h)?, d),
            // Its creation undone: no data.
            _ => (0, ZERO_HASH, Vec::new()),
        };
        let add = AddObject {
            oid,
            serial,
            compression,
            checksum,
            data: data.into(),
            data_serial: rec.value_tid,
        };
        net::send_under(req, &add)?;
    }
    let answer = AnswerFetchObjects {
        next_tid: next.map(|n| n.0),
        next_oid: next.map(|n| n.1),
        object_dict: theirs
            .into_iter()
            .map(|(serial, oids)| (serial, oids.into_iter().collect()))
            .collect(),
    };
    Ok(net::reply(req, &answer)?)
}

fn checksum(hash: &[u8]) -> Result<Checksum, Refused> {
    let bytes = <[u8; 20]>::try_from(hash)
        .map_err(|_| ReadError::Corrupt(format!("a hash of {} bytes", hash.len())))?;
    Ok(Checksum(bytes))
}
