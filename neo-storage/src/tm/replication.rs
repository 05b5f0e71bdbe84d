//! Locks while a cell is replicated (NEO/py's `replicating`,
//! `replicated`, `readable`, `discarded`, `_notifyReplicated`).
//!
//! An OUT_OF_DATE cell takes writes without locks (it lacks the data to
//! check conflicts; a readable cell elsewhere checks them). Once it is
//! replicated, those lockless writes must be locked for real before the
//! master is told (`NotifyReplicationDone`), so that the cell, readable
//! then, checks conflicts by itself.

use std::collections::HashSet;

use super::locks::NotLocked;
use super::{Out, Records, State};
use crate::pt::PtView;

impl State {
    /// Partitions start being replicated: their stores take no lock.
    pub fn replicating(&mut self, partitions: &[u32]) {
        self.replicating.extend(partitions);
    }

    /// `partition` is replicated up to `tid`.
    pub fn replicated(
        &mut self,
        partition: u32,
        tid: u64,
        db: &dyn Records,
        view: &PtView,
        out: &mut Vec<Out>,
    ) {
        self.replicating.remove(&partition);
        self.replicated.insert(partition, Some(tid));
        self.notify_replicated(db, view, out);
    }

    /// The master made these cells readable.
    pub fn readable(&mut self, partitions: &[u32]) {
        for p in partitions {
            self.replicated.remove(p);
        }
    }

    /// These cells were taken from this node: their locks and stores go
    /// (the caller drops their voted rows from the database).
    pub fn discarded(
        &mut self,
        partitions: &[u32],
        db: &dyn Records,
        view: &PtView,
        out: &mut Vec<Out>,
    ) {
        let gone: HashSet<u32> = partitions.iter().copied().collect();
        let of = |oid: &u64| gone.contains(&State::partition(view, *oid));
        for p in partitions {
            self.replicating.remove(p);
            self.replicated.remove(p);
        }
        self.store_locks.retain(|oid, _| !of(oid));
        self.load_locks.retain(|oid, _| !of(oid));
        for txn in self.txns.values_mut() {
            txn.serial_dict.retain(|oid, _| !of(oid));
            txn.store_dict.retain(|oid, _| !of(oid));
            txn.lockless.retain(|oid| !of(oid));
        }
        self.run_queue(db, view, out);
    }

    /// NEO/py's `_notifyReplicated`: once every lockless write of a
    /// replicated partition is locked, tells the master it is replicated.
    pub(super) fn notify_replicated(
        &mut self,
        db: &dyn Records,
        view: &PtView,
        out: &mut Vec<Out>,
    ) {
        let mut notify: HashSet<u32> = self
            .replicated
            .iter()
            .filter(|(_, t)| t.is_some())
            .map(|(&p, _)| p)
            .collect();
        // By ttid: with several stores of one oid, the youngest holds the
        // lock, which delays new transactions.
        for (&ttid, txn) in &self.txns {
            for &oid in &txn.lockless {
                let p = State::partition(view, oid);
                if matches!(self.replicated.get(&p), Some(Some(_))) {
                    if self.store_locks.get(&oid).is_some_and(|&t| t != ttid) {
                        // A lock shared by several lockless stores.
                        notify.remove(&p);
                    }
                    self.store_locks.insert(oid, ttid);
                }
            }
        }
        if notify.is_empty() {
            return;
        }
        for &p in &notify {
            let tid = self
                .replicated
                .insert(p, None)
                .flatten()
                .expect("replicated");
            out.push(Out::ReplicationDone { partition: p, tid });
        }
        let relock: Vec<u64> = self
            .store_locks
            .keys()
            .copied()
            .filter(|&oid| notify.contains(&State::partition(view, oid)))
            .collect();
        for oid in relock {
            let ttid = self.store_locks.remove(&oid).expect("listed");
            let txn = self.txns.get_mut(&ttid).expect("holder");
            txn.lockless.remove(&oid);
            let Some(&serial) = txn.serial_dict.get(&oid) else {
                continue;
            };
            match self.lock_object(ttid, serial, oid, db, view, out) {
                Ok(_) => {}
                Err(NotLocked::Conflict(_)) => {
                    self.unstore(ttid, oid, db, view);
                }
                Err(e) => log::error!("relocking {oid:016x} after replication: {e:?}"),
            }
        }
    }
}
