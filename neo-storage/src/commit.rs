//! Two-phase commit, as NEO/py's storage takes part in it
//! (`handlers/client.py`, `handlers/master.py` over `transactions.py`):
//! the client's stores, checks, relocks and vote; the master's lock,
//! unlock and abort. The lock rules are the transaction manager's
//! ([`crate::tm`]); the writes go through the database writer, and a vote
//! or a lock is answered once it is on disk.

use std::sync::Arc;

use neonet::neopy::{
    AnswerCheckCurrentSerial, AnswerInformationLocked, AnswerRelockObject, AnswerStoreObject,
    AnswerStoreTransaction, AnswerVoteTransaction, AskStoreObject, AskStoreTransaction, Checksum,
    ErrorCode, NodeId, NotifyDeadlock, NotifyReplicationDone, PackRequest,
};

use crate::db::{NewObject, Reader, StoredData, TxnMeta, WriteConn};
use crate::net::{self, Link, Req};
use crate::serve::Flow;
use crate::state::Shared;
use crate::tm::{Event, Out, State, StoreArgs, StoreError, Stored, Waiter};

/// NEO/py's `UNDO_PACK_ERROR` (13), which neonet's `ErrorCode` does not
/// name.
pub const UNDO_PACK_ERROR: ErrorCode = ErrorCode::UNDO_PACK_ERROR;

/// NEO's `ZERO_HASH`: the checksum of "no data".
pub const ZERO_HASH: Checksum = Checksum([0; 20]);

/// A request refused as NEO/py refuses it: an `Error` answer, and for a
/// protocol error the link closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// NEO/py's `ProtocolError`: answered, then the link is closed.
    #[error("{0}")]
    Protocol(String),
    /// Answered `Error(code, message)`; the link stays.
    #[error("{1}")]
    Error(ErrorCode, String),
}

/// SHA-1 of `data`: NEO's checksum.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data);
    d.as_ref().try_into().expect("20 bytes")
}

/// The data of a store, its checksum verified (NEO/py's
/// `askStoreObject`): no data and a zero checksum is a deletion.
pub fn stored_data(a: &AskStoreObject) -> Result<Stored, Refused> {
    if a.compression > 1 {
        return Err(Refused::Protocol("invalid compression value".into()));
    }
    let bytes = if !a.data.is_empty() || a.checksum != ZERO_HASH {
        if sha1(&a.data) != a.checksum.0 {
            return Err(Refused::Protocol("invalid checksum".into()));
        }
        StoredData::Bytes {
            compression: a.compression,
            hash: a.checksum.0,
            data: a.data.clone(),
        }
    } else {
        StoredData::Nothing
    };
    let data = match a.data_serial {
        Some(tid) => StoredData::Undo(
            tid,
            Some(Box::new(bytes)).filter(|b| **b != StoredData::Nothing),
        ),
        None => bytes,
    };
    Ok(Stored {
        data,
        value_serial: a.data_serial,
    })
}

/// A client's write requests, on the thread of its link.
pub struct ClientWrites<'a> {
    /// The node.
    pub shared: &'a Arc<Shared>,
    /// The client.
    pub uuid: NodeId,
    /// Its link.
    pub link: &'a Arc<Link>,
    /// The thread's connection.
    pub reader: &'a Reader,
}

impl ClientWrites<'_> {
    /// `AskStoreObject`: answered now, or once the lock it waits for is
    /// freed.
    pub fn store(&self, req: Req, a: &AskStoreObject) -> Flow {
        match self.checked_store(a) {
            Ok(args) => {
                self.run(Event::Store(args), req);
                Flow::Go
            }
            Err(r) => refused(&req, r),
        }
    }

    fn checked_store(&self, a: &AskStoreObject) -> Result<StoreArgs, Refused> {
        let ttid = a
            .ttid
            .ok_or_else(|| Refused::Protocol("store without a transaction".into()))?;
        self.shared.tm.lock().register(self.uuid, ttid);
        let stored = stored_data(a)?;
        if let Some(tid) = a.data_serial {
            self.check_undone(a.oid, tid)?;
        }
        Ok(StoreArgs {
            ttid,
            oid: a.oid,
            serial: a.serial,
            stored,
        })
    }

    /// An undo reuses the data of a record this node must have if its
    /// cell is readable (NEO/py's `UndoPackError` otherwise).
    fn check_undone(&self, oid: u64, tid: u64) -> Result<(), Refused> {
        let view = self.shared.view();
        let Some(p) = view.partition_of(oid).filter(|&p| view.is_readable(p)) else {
            return Ok(());
        };
        match self.reader.data_id(p, oid, tid) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(Refused::Error(
                UNDO_PACK_ERROR,
                StoreError::UndoPack(oid).to_string(),
            )),
            Err(e) => Err(Refused::Error(ErrorCode::NOT_READY, e.to_string())),
        }
    }

    /// `AskCheckCurrentSerial`.
    pub fn check(&self, req: Req, ttid: u64, oid: u64, serial: u64) {
        self.shared.tm.lock().register(self.uuid, ttid);
        self.run(Event::Check { ttid, oid, serial }, req);
    }

    /// `AskRelockObject` (deadlock avoidance).
    pub fn relock(&self, req: Req, ttid: u64, oid: u64) {
        self.run(
            Event::Relock {
                ttid,
                oid,
                unlock: true,
            },
            req,
        );
    }

    fn run(&self, event: Event, req: Req) {
        let waiter = Waiter {
            req,
            link: self.link.clone(),
        };
        let view = self.shared.view();
        let mut out = Vec::new();
        {
            let mut st = self.shared.tm.lock();
            st.handle(event, waiter, self.reader, &view, &mut out);
        }
        send_out(self.shared, out);
    }

    /// `AskStoreTransaction` (`txn` given) or `AskVoteTransaction`: the
    /// transaction's rows are written to `tobj`/`ttrans`, and the request
    /// is answered once they are on disk.
    pub fn vote(&self, req: Req, ttid: u64, txn: Option<&AskStoreTransaction>) -> Flow {
        if txn.is_some() {
            self.shared.tm.lock().register(self.uuid, ttid);
        }
        let mut st = self.shared.tm.lock();
        let job = match vote_job(&mut st, ttid, txn) {
            Ok(job) => job,
            Err(r) => return refused(&req, r),
        };
        let answer_store = txn.is_some();
        let submitted = self.shared.writer().submit(
            true,
            move |w| job.write(w),
            move |(), _| {
                let _ = if answer_store {
                    net::reply(&req, &AnswerStoreTransaction {})
                } else {
                    net::reply(&req, &AnswerVoteTransaction {})
                };
            },
        );
        drop(st);
        // The writer stopped: the node fails, and this link goes with it.
        match submitted {
            Ok(()) => Flow::Go,
            Err(_) => Flow::Close,
        }
    }
}

/// Answers a refused request as NEO/py: an error, and after a protocol
/// error the link closed.
pub fn refused(req: &Req, r: Refused) -> Flow {
    match r {
        Refused::Protocol(m) => {
            log::warn!("{}: {m}", req.msg().name());
            let _ = net::reply_error(req, ErrorCode::PROTOCOL_ERROR, m);
            Flow::Close
        }
        Refused::Error(code, m) => {
            let _ = net::reply_error(req, code, m);
            Flow::Go
        }
    }
}

/// What a vote writes.
struct VoteJob {
    ttid: u64,
    objects: Vec<NewObject>,
    meta: Option<TxnMeta>,
    pack: Option<PackRequest>,
}

impl VoteJob {
    fn write(&self, w: &mut WriteConn) -> rusqlite::Result<()> {
        w.store_transaction(self.ttid, &self.objects, self.meta.as_ref(), true)?;
        if let Some(p) = &self.pack {
            let oids = p.oid_list.as_deref();
            let partial = oids.is_some_and(|o| !o.is_empty());
            w.store_pack_order(self.ttid, None, partial, oids, p.pack_tid)?;
        }
        Ok(())
    }
}

/// NEO/py's `vote`: marks the transaction voted and takes its stores'
/// data out of memory, for the writer.
fn vote_job(
    st: &mut State,
    ttid: u64,
    txn: Option<&AskStoreTransaction>,
) -> Result<VoteJob, Refused> {
    let t = st
        .txns
        .get_mut(&ttid)
        .ok_or_else(|| Refused::Protocol(format!("unknown ttid {ttid:016x}")))?;
    let meta = match txn {
        Some(a) => {
            let packed = a
                .pack
                .as_ref()
                .and_then(|p| p.oid_list.as_ref())
                .map_or(0, Vec::len);
            if a.oid_list.len() >= 0x200000 || packed >= 0x200000 {
                return Err(Refused::Protocol(
                    "Too many modified OIDs (the default storage backend has a limitation of 2^21-1)"
                        .into(),
                ));
            }
            t.voted = 2;
            t.pack = a.pack.is_some();
            Some(TxnMeta {
                oids: a.oid_list.clone(),
                user: a.user.clone(),
                desc: a.desc.clone(),
                ext: a.ext.clone(),
                packed: false,
                ttid,
            })
        }
        None => {
            t.voted = 1;
            None
        }
    };
    let objects = t
        .store_dict
        .iter_mut()
        .map(|(&oid, s)| NewObject {
            oid,
            data: std::mem::replace(&mut s.data, StoredData::Nothing),
            value_tid: s.value_serial,
        })
        .collect();
    Ok(VoteJob {
        ttid,
        objects,
        meta,
        pack: txn.and_then(|a| a.pack.clone()),
    })
}

/// `AskLockInformation(ttid, tid, pack)` from the master: answered once
/// the lock is on disk (if this node has the transaction's metadata).
pub fn lock(
    shared: &Arc<Shared>,
    req: Req,
    ttid: u64,
    tid: u64,
    pack: bool,
) -> Result<(), Refused> {
    let mut st = shared.tm.lock();
    let Some(voted) = st.lock_txn(ttid, tid) else {
        let r = Refused::Protocol(format!("unknown ttid {ttid:016x}"));
        refused(&req, r.clone());
        return Err(r);
    };
    shared.tm.released(&st);
    let answer = AnswerInformationLocked { ttid };
    if voted != 2 {
        drop(st);
        let _ = net::reply(&req, &answer);
        return Ok(());
    }
    let submitted = shared.writer().submit(
        true,
        move |w| w.lock(tid, ttid, pack),
        move |(), _| {
            let _ = net::reply(&req, &answer);
        },
    );
    drop(st);
    submitted.map_err(|e| Refused::Error(ErrorCode::NOT_READY, e.to_string()))
}

/// `NotifyUnlockInformation(ttid)` from the master: the transaction is
/// committed; once that is written, its locks go and readers see it.
pub fn unlock(shared: &Arc<Shared>, ttid: u64) -> Result<(), Refused> {
    let st = shared.tm.lock();
    let t = st
        .txns
        .get(&ttid)
        .ok_or_else(|| Refused::Protocol(format!("unknown ttid {ttid:016x}")))?;
    let tid = t
        .tid
        .ok_or_else(|| Refused::Protocol(format!("{ttid:016x} is not locked")))?;
    let (trans, obj, pack) = (t.voted == 2, !t.store_dict.is_empty(), t.pack);
    let s = shared.clone();
    let submitted = shared.writer().submit(
        false,
        move |w| w.unlock(tid, ttid, trans, obj, pack),
        move |(), r: &Reader| finished(&s, ttid, true, r),
    );
    drop(st);
    submitted.map_err(|e| Refused::Error(ErrorCode::NOT_READY, e.to_string()))
}

/// NEO/py's `abort` (and `notifyTransactionFinished`): the transaction
/// goes with its locks (a locked one only with `even_if_locked`), and
/// what it voted goes from the database.
pub fn finished(shared: &Arc<Shared>, ttid: u64, even_if_locked: bool, r: &Reader) {
    let view = shared.view();
    let mut out = Vec::new();
    let drop_rows;
    {
        let mut st = shared.tm.lock();
        drop_rows = st.abort(ttid, even_if_locked, r, &view, &mut out);
        if drop_rows {
            drop_voted(shared, &[ttid]);
        }
        shared.tm.released(&st);
    }
    send_out(shared, out);
}

/// NEO/py's `abortFor`: the transactions of client `uuid` that are not
/// locked (voted ones too with `even_if_voted`).
pub fn abort_for(shared: &Arc<Shared>, uuid: NodeId, even_if_voted: bool, r: &Reader) {
    let view = shared.view();
    let mut out = Vec::new();
    {
        let mut st = shared.tm.lock();
        let voted = st.abort_for(uuid, even_if_voted, r, &view, &mut out);
        drop_voted(shared, &voted);
        shared.tm.released(&st);
    }
    send_out(shared, out);
}

/// Deletes what aborted transactions voted (not durably: if it is lost,
/// the node drops it when the cluster is next operational).
fn drop_voted(shared: &Shared, ttids: &[u64]) {
    for &ttid in ttids {
        if shared
            .writer()
            .submit(false, move |w| w.abort(ttid), |(), _| {})
            .is_err()
        {
            log::debug!("abort of {ttid:016x}: the writer stopped");
        }
    }
}

/// Sends what the transaction manager produced.
pub fn send_out(shared: &Shared, out: Vec<Out>) {
    for o in out {
        let sent = match o {
            Out::Store(w, r) => answer_conflict(&w, r, |conflict| AnswerStoreObject { conflict }),
            Out::Check(w, r) => {
                answer_conflict(&w, r, |conflict| AnswerCheckCurrentSerial { conflict })
            }
            Out::Relock(w, Ok(conflict)) => net::reply(&w.req, &AnswerRelockObject { conflict }),
            Out::Relock(w, Err(e)) => reply_store_error(&w, &e),
            Out::Deadlock { uuid, ttid, oid } => match shared.client_link(uuid) {
                Some(link) => net::send(&link, &NotifyDeadlock { ttid, oid }),
                None => Ok(()),
            },
            Out::ReplicationDone { partition, tid } => match shared.master_link() {
                Some(link) => net::send(
                    &link,
                    &NotifyReplicationDone {
                        offset: partition,
                        tid,
                    },
                ),
                None => Ok(()),
            },
        };
        if let Err(e) = sent {
            log::debug!("answer not sent: {e}");
        }
    }
}

fn answer_conflict<M: neonet::Msg<Dialect = neonet::NeoPy>>(
    w: &Waiter,
    r: Result<Option<u64>, StoreError>,
    answer: impl FnOnce(Option<u64>) -> M,
) -> Result<(), net::NetError> {
    match r {
        Ok(c) => net::reply(&w.req, &answer(c)),
        Err(e) => reply_store_error(w, &e),
    }
}

fn reply_store_error(w: &Waiter, e: &StoreError) -> Result<(), net::NetError> {
    let code = match e {
        StoreError::UndoPack(_) => UNDO_PACK_ERROR,
        StoreError::NonReadable => ErrorCode::NON_READABLE_CELL,
        StoreError::Db(_) => ErrorCode::NOT_READY,
    };
    let message = match e {
        StoreError::NonReadable => String::new(),
        e => e.to_string(),
    };
    net::reply_error(&w.req, code, message)
}
