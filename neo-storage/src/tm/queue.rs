//! Requests waiting for a lock (NEO/py's `EventQueue` of the transaction
//! manager): ordered by the ttid of their transaction, oldest first (the
//! older transaction gets a lock first), then by arrival; all are tried
//! again, in that order, whenever a lock is freed.

use super::locks::{NotLocked, StoreArgs};
use super::{Out, Records, State, StoreError, Waiter, ZERO_TID};
use crate::net;
use crate::pt::PtView;

/// A request that takes a write lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `AskStoreObject`.
    Store(StoreArgs),
    /// `AskCheckCurrentSerial`.
    Check {
        /// The transaction.
        ttid: u64,
        /// The object.
        oid: u64,
        /// The serial it must still have.
        serial: u64,
    },
    /// `AskRelockObject`: the first time, the lock is given back first.
    Relock {
        /// The transaction.
        ttid: u64,
        /// The object.
        oid: u64,
        /// Whether to give the lock back first.
        unlock: bool,
    },
}

impl Event {
    fn ttid(&self) -> u64 {
        match self {
            Event::Store(a) => a.ttid,
            Event::Check { ttid, .. } | Event::Relock { ttid, .. } => *ttid,
        }
    }
}

#[derive(Debug)]
struct Queued {
    key: u64,
    seq: u64,
    event: Event,
    waiter: Waiter,
}

/// The requests waiting.
#[derive(Debug, Default)]
pub struct Queue {
    items: Vec<Queued>,
    seq: u64,
}

impl Queue {
    fn push(&mut self, event: Event, waiter: Waiter) {
        self.seq += 1;
        let q = Queued {
            key: event.ttid(),
            seq: self.seq,
            event,
            waiter,
        };
        let at = self
            .items
            .partition_point(|i| (i.key, i.seq) < (q.key, q.seq));
        self.items.insert(at, q);
    }

    /// How many requests wait.
    pub fn len(&self) -> usize {
        self.items.len()
    }
}

/// What trying an event gave.
enum Tried {
    Done(Out),
    Delayed(Event, Waiter),
}

impl State {
    /// Handles `event` now: answered (in `out`), or queued until a lock
    /// is freed.
    pub fn handle(
        &mut self,
        event: Event,
        waiter: Waiter,
        db: &dyn Records,
        view: &PtView,
        out: &mut Vec<Out>,
    ) {
        match self.try_event(event, waiter, db, view, out) {
            Tried::Done(o) => out.push(o),
            Tried::Delayed(event, waiter) => self.queue.push(event, waiter),
        }
    }

    /// How many requests wait for a lock.
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// Tries every queued request again, in order (NEO/py's
    /// `executeQueuedEvents`); those of links gone are dropped.
    pub(super) fn run_queue(&mut self, db: &dyn Records, view: &PtView, out: &mut Vec<Out>) {
        let items = std::mem::take(&mut self.queue.items);
        let mut kept = Vec::with_capacity(items.len());
        for q in items {
            if !net::is_up(&q.waiter.link) {
                continue;
            }
            match self.try_event(q.event, q.waiter, db, view, out) {
                Tried::Done(o) => out.push(o),
                Tried::Delayed(event, waiter) => kept.push(Queued { event, waiter, ..q }),
            }
        }
        // Requests queued while trying (none today) go after, in order.
        for q in std::mem::take(&mut self.queue.items) {
            let at = kept.partition_point(|i| (i.key, i.seq) < (q.key, q.seq));
            kept.insert(at, q);
        }
        self.queue.items = kept;
    }

    fn try_event(
        &mut self,
        event: Event,
        waiter: Waiter,
        db: &dyn Records,
        view: &PtView,
        out: &mut Vec<Out>,
    ) -> Tried {
        let answer = match &event {
            Event::Store(a) => conflict(self.store_object(a, db, view, out)).map(Answer::Store),
            Event::Check { ttid, oid, serial } => {
                conflict(self.check_current_serial(*ttid, *oid, *serial, db, view, out))
                    .map(Answer::Check)
            }
            Event::Relock { ttid, oid, unlock } => {
                match self.relock_object(*ttid, *oid, *unlock, db, view, out) {
                    Ok(c) => Some(Answer::Relock(Ok(c))),
                    Err(NotLocked::Delay) => None,
                    Err(NotLocked::Conflict(t)) => {
                        unreachable!("relock answers conflicts ({t:016x})")
                    }
                    Err(NotLocked::Error(e)) => Some(Answer::Relock(Err(e))),
                }
            }
        };
        match answer {
            Some(Answer::Store(r)) => Tried::Done(Out::Store(waiter, r)),
            Some(Answer::Check(r)) => Tried::Done(Out::Check(waiter, r)),
            Some(Answer::Relock(r)) => Tried::Done(Out::Relock(waiter, r)),
            // Queued: a relock gave the lock back already.
            None => match event {
                Event::Relock { ttid, oid, .. } => Tried::Delayed(
                    Event::Relock {
                        ttid,
                        oid,
                        unlock: false,
                    },
                    waiter,
                ),
                e => Tried::Delayed(e, waiter),
            },
        }
    }
}

/// The answer of a request that was not delayed.
enum Answer {
    Store(Result<Option<u64>, StoreError>),
    Check(Result<Option<u64>, StoreError>),
    Relock(Result<Option<neonet::neopy::RelockConflict>, StoreError>),
}

/// A store's or check's answer: the conflict (`None`: delayed).
fn conflict(r: Result<Option<u64>, NotLocked>) -> Option<Result<Option<u64>, StoreError>> {
    match r {
        Ok(c) => Some(Ok(c)),
        Err(NotLocked::Conflict(t)) => Some(Ok(Some(t))),
        Err(NotLocked::Delay) => None,
        // NEO/py: "unassigned partition", the store is ignored.
        Err(NotLocked::Error(StoreError::NonReadable)) => Some(Ok(Some(ZERO_TID))),
        Err(NotLocked::Error(e)) => Some(Err(e)),
    }
}
