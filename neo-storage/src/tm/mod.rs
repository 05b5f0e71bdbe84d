//! The transactions being committed, their write locks and read locks:
//! NEO/py's `TransactionManager` (`neo/storage/transactions.py`), rule for
//! rule.
//!
//! A store or check takes the object's write lock, checking that the
//! serial it is based on is still the last one (else: a conflict, the
//! client resolves it). A younger transaction finding the lock taken
//! waits (its request is queued, and answered when the lock is freed);
//! an older one asks the younger to give the lock back (`NotifyDeadlock`,
//! answered by `AskRelockObject`), which is how NEO avoids deadlocks
//! between clients storing overlapping objects in different orders.
//! Locking a transaction (the master's `AskLockInformation`) read-locks
//! its objects until it is unlocked: a load of them waits, so that no
//! client reads an object's old revision once the commit returned.
//!
//! The state is one mutex, taken per write request and briefly by reads
//! only while a transaction is locked (an atomic count says when). What
//! must go out (answers to queued requests, `NotifyDeadlock`) is returned
//! as [`Out`], and sent once the mutex is released.

mod locks;
mod queue;
mod replication;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use neonet::neopy::{NodeId, RelockConflict};
use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::db::{ObjectRecord, StoredData};
use crate::net::{Link, Req};
use crate::pt::PtView;

pub use locks::{NotLocked, StoreArgs};
pub use queue::Event;

/// NEO's `ZERO_TID`: in an answer to a store or check, "done without
/// taking a lock" (or ignored).
pub const ZERO_TID: u64 = 0;

/// The reads the lock rules need.
pub trait Records {
    /// The tid of the last record of `oid`, if any.
    fn last_serial(&self, partition: u32, oid: u64) -> rusqlite::Result<Option<u64>>;
    /// The record of `oid` at `tid`.
    fn record(&self, partition: u32, oid: u64, tid: u64) -> rusqlite::Result<Option<ObjectRecord>>;
}

impl Records for crate::db::Reader {
    fn last_serial(&self, partition: u32, oid: u64) -> rusqlite::Result<Option<u64>> {
        crate::db::Reader::last_serial(self, partition, oid)
    }
    fn record(&self, partition: u32, oid: u64, tid: u64) -> rusqlite::Result<Option<ObjectRecord>> {
        self.fetch_object(partition, oid, tid)
    }
}

/// Who asked, to be answered later: the request and its link.
#[derive(Debug)]
pub struct Waiter {
    /// The request.
    pub req: Req,
    /// Its link (a queued request of a link gone is dropped).
    pub link: Arc<Link>,
}

/// Why a store or relock is answered with an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The undone record is gone (packed): NEO/py's `UndoPackError`.
    #[error("Could not undo for oid {}", crate::reads::dump(*.0))]
    UndoPack(u64),
    /// The partition is not this node's (NEO/py's `NonReadableCell`).
    #[error("non-readable cell")]
    NonReadable,
    /// The database failed.
    #[error("database: {0}")]
    Db(String),
}

/// Something to send once the state is unlocked.
#[derive(Debug)]
pub enum Out {
    /// `AnswerStoreObject(conflict)`, or an error.
    Store(Waiter, Result<Option<u64>, StoreError>),
    /// `AnswerCheckCurrentSerial(conflict)`.
    Check(Waiter, Result<Option<u64>, StoreError>),
    /// `AnswerRelockObject(conflict)`, or an error.
    Relock(Waiter, Result<Option<RelockConflict>, StoreError>),
    /// `NotifyDeadlock(ttid, oid)` to client `uuid`.
    Deadlock {
        /// The client.
        uuid: NodeId,
        /// Its transaction.
        ttid: u64,
        /// The object to relock.
        oid: u64,
    },
    /// `NotifyReplicationDone(partition, tid)` to the master.
    ReplicationDone {
        /// The partition.
        partition: u32,
        /// Replicated up to this tid.
        tid: u64,
    },
}

/// An object stored in a transaction: its data and, for an undo, the
/// serial whose data it reuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The data (moved to the database at vote: then `Nothing`).
    pub data: StoredData,
    /// NEO/py's `value_serial` (`data_serial` of the store).
    pub value_serial: Option<u64>,
}

/// A transaction being committed (NEO/py's `Transaction`).
#[derive(Debug)]
pub struct Txn {
    /// The client that stores it.
    pub uuid: NodeId,
    /// The serial each store or check was based on.
    pub serial_dict: HashMap<u64, u64>,
    /// What each store stored.
    pub store_dict: BTreeMap<u64, Stored>,
    /// Oids stored or checked without a lock (the partition was being
    /// replicated).
    pub lockless: HashSet<u64>,
    /// Oids for which this transaction was asked to relock.
    pub deadlock: HashSet<u64>,
    /// 0: not voted; 1: voted (objects only); 2: voted with its metadata.
    pub voted: u8,
    /// Its tid, once locked.
    pub tid: Option<u64>,
    /// Whether it carries a pack order.
    pub pack: bool,
}

impl Txn {
    fn new(uuid: NodeId) -> Txn {
        Txn {
            uuid,
            serial_dict: HashMap::new(),
            store_dict: BTreeMap::new(),
            lockless: HashSet::new(),
            deadlock: HashSet::new(),
            voted: 0,
            tid: None,
            pack: false,
        }
    }
}

/// The state behind the mutex.
#[derive(Debug, Default)]
pub struct State {
    /// The transactions, by ttid.
    pub txns: BTreeMap<u64, Txn>,
    /// Write locks: the ttid holding each oid.
    store_locks: HashMap<u64, u64>,
    /// Read locks of locked transactions: the ttid holding each oid.
    load_locks: HashMap<u64, u64>,
    queue: queue::Queue,
    /// Partitions being replicated: stores there take no lock.
    replicating: HashSet<u32>,
    /// Partitions replicated (with the tid, until the master is told).
    replicated: HashMap<u32, Option<u64>>,
    /// How many transactions are locked.
    locked: usize,
}

/// The transaction manager.
#[derive(Debug, Default)]
pub struct Tm {
    state: Mutex<State>,
    /// How many transactions are locked: reads check locks only then.
    locked: AtomicUsize,
    unlocked: Condvar,
    waiting_reads: AtomicUsize,
}

/// The state, locked.
pub type Guard<'a> = MutexGuard<'a, State>;

impl Tm {
    /// The state, locked.
    pub fn lock(&self) -> Guard<'_> {
        self.state.lock()
    }

    /// Publishes the count of locked transactions and wakes the reads
    /// waiting for an unlock; call after releasing anything.
    pub fn released(&self, st: &State) {
        self.locked.store(st.locked, Ordering::Release);
        self.unlocked.notify_all();
    }

    /// Forgets everything (a new master session: NEO/py makes a new
    /// manager); the requests queued are dropped.
    pub fn reset(&self) {
        let mut st = self.state.lock();
        *st = State::default();
        self.released(&st);
    }

    /// Waits while `oid` is read-locked (NEO/py delays `AskObject` and
    /// `AskObjectHistory` then) or `stop` says to give up.
    pub fn wait_load_unlocked(&self, oid: u64, stop: impl Fn() -> bool) {
        self.wait_while(|st| st.load_locks.contains_key(&oid), stop);
    }

    /// Waits while a transaction of tid ≤ `max_tid` is locked (NEO/py's
    /// `isLockedTid`, which delays `AskTIDsFrom`, `AskOIDsFrom` and
    /// replication).
    pub fn wait_tid_unlocked(&self, max_tid: u64, stop: impl Fn() -> bool) {
        self.wait_while(|st| st.is_locked_tid(max_tid), stop);
    }

    fn wait_while(&self, locked: impl Fn(&State) -> bool, stop: impl Fn() -> bool) {
        if self.locked.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut st = self.state.lock();
        if !locked(&st) {
            return;
        }
        self.waiting_reads.fetch_add(1, Ordering::AcqRel);
        while locked(&st) && !stop() {
            // Bounded so that `stop` is seen even if nobody notifies.
            self.unlocked
                .wait_for(&mut st, std::time::Duration::from_millis(200));
        }
        self.waiting_reads.fetch_sub(1, Ordering::AcqRel);
    }

    /// How many reads wait for a transaction to be unlocked.
    pub fn waiting_reads(&self) -> usize {
        self.waiting_reads.load(Ordering::Acquire)
    }

    /// Wakes the waiting reads (the node stops).
    pub fn wake(&self) {
        self.unlocked.notify_all();
    }
}

impl State {
    /// NEO/py's `register`: the transaction of client `uuid`, created if
    /// new.
    pub fn register(&mut self, uuid: NodeId, ttid: u64) {
        self.txns.entry(ttid).or_insert_with(|| Txn::new(uuid));
    }

    /// NEO/py's `isLockedTid`.
    pub fn is_locked_tid(&self, tid: u64) -> bool {
        self.txns.values().any(|t| t.tid.is_some_and(|t| t <= tid))
    }

    /// What a running transaction stored for `oid` (NEO/py's
    /// `getObjectFromTransaction`).
    pub fn stored(&self, ttid: u64, oid: u64) -> Option<&Stored> {
        self.txns.get(&ttid)?.store_dict.get(&oid)
    }

    /// NEO/py's `lock`: transaction `ttid` gets `tid`, and its objects are
    /// read-locked; whether it voted its metadata here (then `ttrans`
    /// gets the tid), `None` for an unknown ttid.
    pub fn lock_txn(&mut self, ttid: u64, tid: u64) -> Option<u8> {
        let txn = self.txns.get_mut(&ttid)?;
        if txn.tid.is_none() {
            self.locked += 1;
        }
        txn.tid = Some(tid);
        for &oid in txn.store_dict.keys() {
            self.load_locks.insert(oid, ttid);
        }
        Some(txn.voted)
    }

    /// NEO/py's `abort`: forgets transaction `ttid` and frees its locks
    /// (a locked one only with `even_if_locked`: its unlock), then runs
    /// the requests that waited for them. Whether the transaction voted
    /// and was not locked: its voted rows must go from the database.
    pub fn abort(
        &mut self,
        ttid: u64,
        even_if_locked: bool,
        db: &dyn Records,
        view: &PtView,
        out: &mut Vec<Out>,
    ) -> bool {
        let Some(txn) = self.txns.get(&ttid) else {
            return false;
        };
        let locked = txn.tid.is_some();
        if locked && !even_if_locked {
            return false;
        }
        let txn = self.txns.remove(&ttid).expect("present");
        for oid in txn.serial_dict.keys() {
            if locked {
                self.load_locks.remove(oid);
            }
            if self.store_locks.get(oid) == Some(&ttid) {
                self.store_locks.remove(oid);
            }
        }
        if locked {
            self.locked -= 1;
        }
        if !self.replicated.is_empty() {
            self.notify_replicated(db, view, out);
        }
        self.run_queue(db, view, out);
        !locked && txn.voted > 0
    }

    /// NEO/py's `abortFor`: the transactions of client `uuid` (voted ones
    /// too with `even_if_voted`), not locked; the ttids whose voted rows
    /// must go from the database.
    pub fn abort_for(
        &mut self,
        uuid: NodeId,
        even_if_voted: bool,
        db: &dyn Records,
        view: &PtView,
        out: &mut Vec<Out>,
    ) -> Vec<u64> {
        let ttids: Vec<u64> = self
            .txns
            .iter()
            .filter(|(_, t)| t.uuid == uuid && (even_if_voted || t.voted == 0))
            .map(|(&ttid, _)| ttid)
            .collect();
        ttids
            .into_iter()
            .filter(|&ttid| self.abort(ttid, false, db, view, out))
            .collect()
    }

    /// The number of partitions, as of `view`.
    fn partition(view: &PtView, oid: u64) -> u32 {
        view.partition_of(oid).unwrap_or(0)
    }
}
