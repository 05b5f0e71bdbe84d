//! Write locks: NEO/py's `lockObject`, `storeObject`,
//! `checkCurrentSerial`, `relockObject`.

use neonet::neopy::{ObjectData, RelockConflict};

use super::{Out, Records, State, StoreError, Stored, ZERO_TID};
use crate::db::StoredData;
use crate::pt::PtView;

/// Why a lock is not taken now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotLocked {
    /// Another transaction holds it: the request waits (NEO/py's
    /// `DelayEvent`).
    Delay,
    /// The object changed since the serial the store was based on: the
    /// last serial (NEO/py's `ConflictError`).
    Conflict(u64),
    /// An error to answer.
    Error(StoreError),
}

/// What a lock held by a transaction means for another lock request.
enum Held {
    /// Accepted as is: locked (`true`) or lockless.
    Accept(bool),
    /// The same transaction stores again: check against this serial.
    Check(u64),
}

impl From<rusqlite::Error> for NotLocked {
    fn from(e: rusqlite::Error) -> NotLocked {
        NotLocked::Error(StoreError::Db(e.to_string()))
    }
}

/// A store's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreArgs {
    /// The transaction.
    pub ttid: u64,
    /// The object.
    pub oid: u64,
    /// The serial the new revision is based on.
    pub serial: u64,
    /// What is stored.
    pub stored: Stored,
}

impl State {
    /// NEO/py's `lockObject`: takes the write lock of `oid` for `ttid`,
    /// checking that `serial` is current. `Ok(true)`: locked; `Ok(false)`:
    /// accepted without a lock (the partition is being replicated).
    pub(super) fn lock_object(
        &mut self,
        ttid: u64,
        serial: u64,
        oid: u64,
        db: &dyn Records,
        view: &PtView,
        out: &mut Vec<Out>,
    ) -> Result<bool, NotLocked> {
        let partition = State::partition(view, oid);
        if self.replicating.contains(&partition) {
            // Out of date: a readable cell elsewhere checks this one.
            self.txns
                .get_mut(&ttid)
                .expect("registered")
                .lockless
                .insert(oid);
            return Ok(false);
        }
        let previous = match self.store_locks.get(&oid).copied() {
            Some(locked) => match self.locked_by(ttid, locked, oid, out)? {
                Held::Accept(locked) => return Ok(locked),
                Held::Check(previous) => Some(previous),
            },
            None => self.last_serial(partition, oid, db, view)?,
        };
        if let Some(previous) = previous.filter(|&p| p != serial) {
            log::info!("conflict on {oid:016x}:{ttid:016x} with {previous:016x}");
            return Err(NotLocked::Conflict(previous));
        }
        self.store_locks.insert(oid, ttid);
        Ok(true)
    }

    fn is_lockless(&self, ttid: u64, oid: u64) -> bool {
        self.txns[&ttid].lockless.contains(&oid)
    }

    /// The lock of `oid` is held by `locked`: delay, deadlock avoidance,
    /// or (the same transaction again) the serial to check against.
    fn locked_by(
        &mut self,
        ttid: u64,
        locked: u64,
        oid: u64,
        out: &mut Vec<Out>,
    ) -> Result<Held, NotLocked> {
        let other_voted = self.txns[&locked].voted > 0;
        if locked < ttid || other_voted {
            // Younger, or the holder voted (no deadlock possible): wait.
            log::debug!("lock of {oid:016x} for {ttid:016x} delayed by {locked:016x}");
            return Err(NotLocked::Delay);
        }
        if self.is_lockless(ttid, oid) {
            // Locked lockless before: for the cluster, still out of date.
            return Ok(Held::Accept(false));
        }
        if locked != ttid {
            // Older than the holder: it may be waiting for a lock we
            // hold. Ask it to relock, keeping its lock meanwhile.
            let other = self.txns.get_mut(&locked).expect("holder");
            if other.lockless.contains(&oid) {
                self.txns
                    .get_mut(&ttid)
                    .expect("registered")
                    .lockless
                    .insert(oid);
                return Ok(Held::Accept(false));
            }
            if other.deadlock.insert(oid) {
                log::info!("deadlock on {oid:016x}:{ttid:016x} with {locked:016x}");
                out.push(Out::Deadlock {
                    uuid: other.uuid,
                    ttid: locked,
                    oid,
                });
            }
            return Err(NotLocked::Delay);
        }
        // Stored again by the same transaction: after an undo, based on
        // the undo's target.
        let previous = self.txns[&ttid]
            .store_dict
            .get(&oid)
            .and_then(|s| s.value_serial);
        match previous {
            Some(p) => Ok(Held::Check(p)),
            None => {
                log::info!("transaction {ttid:016x} storing {oid:016x} more than once");
                Ok(Held::Accept(true))
            }
        }
    }

    /// NEO/py's `getLastObjectTID`, in a partition being replicated too
    /// once it is replicated.
    fn last_serial(
        &self,
        partition: u32,
        oid: u64,
        db: &dyn Records,
        view: &PtView,
    ) -> Result<Option<u64>, NotLocked> {
        if !view.is_readable(partition) && !self.replicated.contains_key(&partition) {
            // Not (yet) assigned: another cell checks it.
            return Err(NotLocked::Error(StoreError::NonReadable));
        }
        Ok(db.last_serial(partition, oid)?)
    }

    /// NEO/py's `storeObject`: `Ok(None)` stored and locked, `Ok(Some(0))`
    /// stored without a lock, or ignored (unknown transaction).
    pub fn store_object(
        &mut self,
        a: &StoreArgs,
        db: &dyn Records,
        view: &PtView,
        out: &mut Vec<Out>,
    ) -> Result<Option<u64>, NotLocked> {
        if !self.txns.contains_key(&a.ttid) {
            log::info!("forget store of {:016x} by {:016x}: aborted", a.oid, a.ttid);
            return Ok(Some(ZERO_TID));
        }
        let locked = self.lock_object(a.ttid, a.serial, a.oid, db, view, out)?;
        let txn = self.txns.get_mut(&a.ttid).expect("registered");
        if txn.serial_dict.contains_key(&a.oid) {
            self.unstore(a.ttid, a.oid, db, view);
        }
        let txn = self.txns.get_mut(&a.ttid).expect("registered");
        txn.serial_dict.insert(a.oid, a.serial);
        txn.store_dict.insert(a.oid, a.stored.clone());
        Ok((!locked).then_some(ZERO_TID))
    }

    /// NEO/py's `checkCurrentSerial`.
    pub fn check_current_serial(
        &mut self,
        ttid: u64,
        oid: u64,
        serial: u64,
        db: &dyn Records,
        view: &PtView,
        out: &mut Vec<Out>,
    ) -> Result<Option<u64>, NotLocked> {
        if !self.txns.contains_key(&ttid) {
            log::info!("forget check of {oid:016x} by {ttid:016x}: aborted");
            return Ok(Some(ZERO_TID));
        }
        let locked = self.lock_object(ttid, serial, oid, db, view, out)?;
        let txn = self.txns.get_mut(&ttid).expect("registered");
        txn.serial_dict.insert(oid, serial);
        Ok((!locked).then_some(ZERO_TID))
    }

    /// NEO/py's `relockObject`: with `unlock`, gives the lock of `oid`
    /// back first (the requests waiting for it run). A conflict gives the
    /// data back to the client, which may not have it any more.
    pub fn relock_object(
        &mut self,
        ttid: u64,
        oid: u64,
        unlock: bool,
        db: &dyn Records,
        view: &PtView,
        out: &mut Vec<Out>,
    ) -> Result<Option<RelockConflict>, NotLocked> {
        let Some(serial) = self
            .txns
            .get(&ttid)
            .and_then(|t| t.serial_dict.get(&oid).copied())
        else {
            log::info!("forget relock of {oid:016x} by {ttid:016x}");
            return Ok(None);
        };
        if unlock {
            self.txns
                .get_mut(&ttid)
                .expect("registered")
                .deadlock
                .remove(&oid);
            if self.store_locks.get(&oid) == Some(&ttid) {
                self.store_locks.remove(&oid);
            }
            self.run_queue(db, view, out);
        }
        match self.lock_object(ttid, serial, oid, db, view, out) {
            Ok(_) => Ok(None),
            Err(NotLocked::Conflict(conflict)) => {
                let data = self.unstore(ttid, oid, db, view);
                Ok(Some(RelockConflict {
                    serial,
                    conflict,
                    data,
                }))
            }
            Err(e) => Err(e),
        }
    }

    /// NEO/py's `_unstore`: forgets what `ttid` stored or checked for
    /// `oid`; the data it stored, if any.
    pub(super) fn unstore(
        &mut self,
        ttid: u64,
        oid: u64,
        db: &dyn Records,
        view: &PtView,
    ) -> Option<ObjectData> {
        let txn = self.txns.get_mut(&ttid)?;
        txn.serial_dict.remove(&oid);
        let stored = txn.store_dict.remove(&oid)?;
        match stored.data {
            StoredData::Bytes {
                compression,
                hash,
                data,
            } => Some(ObjectData {
                compression,
                checksum: neonet::neopy::Checksum(hash),
                data,
            }),
            StoredData::Nothing => None,
            StoredData::Undo(tid, fallback) => undo_data(
                db,
                State::partition(view, oid),
                oid,
                tid,
                fallback.map(|f| *f),
            ),
        }
    }
}

/// The data an undo store reused: the undone record's, else the bytes it
/// came with.
fn undo_data(
    db: &dyn Records,
    partition: u32,
    oid: u64,
    tid: u64,
    fallback: Option<StoredData>,
) -> Option<ObjectData> {
    if let Ok(Some(r)) = db.record(partition, oid, tid) {
        let (Some(c), Some(h), Some(d)) = (r.compression, r.hash, r.data) else {
            return None;
        };
        return Some(ObjectData {
            compression: c,
            checksum: neonet::neopy::Checksum(h.try_into().ok()?),
            data: d.into(),
        });
    }
    match fallback {
        Some(StoredData::Bytes {
            compression,
            hash,
            data,
        }) => Some(ObjectData {
            compression,
            checksum: neonet::neopy::Checksum(hash),
            data,
        }),
        _ => None,
    }
}
