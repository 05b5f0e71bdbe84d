//! The state of a connection, shared by its [`Conn`](crate::Conn) handle,
//! the link's table and the reader thread (ARCHITECTURE.md,
//! "Connections").
//!
//! # Receive queues close themselves
//!
//! Each connection's receive queue (`queue`) has one long-lived sender,
//! which belongs to the link's connection table (the reader thread
//! borrows a clone per packet). Closing the connection, closing receiving,
//! an overflow, or the link going down drops that sender: every receiver
//! blocked on the queue wakes with "disconnected" and reads the reason
//! from the connection's flags and the link's state, which were set
//! before. There is no wake-up token to send, count or put back.
//!
//! Connection objects (with their channel) are reused for later
//! connections, as light mode opens one per request: only an object whose
//! queue is still connected can be, which is why dropping a `Conn` (no
//! other thread can be receiving on it then) keeps the sender, and only
//! an explicit `close`/`close_recv` (others may be blocked) drops it.

use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use super::limits::cost;
use super::Shared;
use crate::packet::Packet;
use crate::queue::{QueueRx, QueueTx};
use crate::wait::AtomicTimeout;

pub(crate) const CLOSED: u8 = 1;
pub(crate) const RECV_CLOSED: u8 = 2;
/// The first `recv` after the link went down reported the cause.
pub(crate) const DOWN_REPORTED: u8 = 4;
/// The queue went over its limit and was dropped (implies `RECV_CLOSED`).
pub(crate) const OVERFLOW: u8 = 8;
/// The first `recv` after the overflow reported it.
pub(crate) const OVERFLOW_REPORTED: u8 = 16;
/// The link never answers packets of this connection itself ("connection
/// closed"): on a NEO/py link, where only requests are answered, our
/// requests' connections (their packets are answers) and the peer's
/// notifications.
pub(crate) const QUIET: u8 = 32;
/// A conversation of ours ([`AnswerStream`](crate::AnswerStream)): on a
/// NEO/py link, the peer's notifications under its msg_id come to it; a
/// full queue makes the reader wait for room instead of overflowing.
pub(crate) const STREAM: u8 = 64;

/// How a new connection object starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ConnKind {
    /// See `QUIET`.
    pub(crate) quiet: bool,
    /// See `STREAM`.
    pub(crate) stream: bool,
}

impl ConnKind {
    fn flags(self) -> u8 {
        (if self.quiet { QUIET } else { 0 }) | (if self.stream { STREAM } else { 0 })
    }
}

/// The state of a connection shared by its `Conn` handle, the link's table
/// and the reader thread. Reused for later connections: every field can be
/// reset.
pub(crate) struct ConnState {
    /// The key of the connection in the link's table: its id, with
    /// `table::PEER` set if the peer opened it.
    key: AtomicU64,
    pub(crate) flags: AtomicU8,
    /// Bytes queued and not yet received, as counted by `limits::cost`:
    /// added by the reader thread before it queues a packet, taken off by
    /// whoever takes it out.
    queued: AtomicUsize,
    /// Bound on each receive.
    pub(crate) recv_timeout: AtomicTimeout,
    pub(crate) rx: QueueRx<Packet>,
}

impl ConnState {
    /// A new connection object and the sender of its queue (kept by the
    /// link's table), for table key `key`; `quiet`: see `QUIET`.
    pub(crate) fn new(
        key: u64,
        recv_timeout: Option<Duration>,
        kind: ConnKind,
    ) -> (Arc<ConnState>, QueueTx<Packet>) {
        let (tx, rx) = crate::queue::unbounded();
        let state = ConnState {
            key: AtomicU64::new(key),
            flags: AtomicU8::new(kind.flags()),
            queued: AtomicUsize::new(0),
            recv_timeout: AtomicTimeout::new(recv_timeout),
            rx,
        };
        (Arc::new(state), tx)
    }

    /// Prepares a recycled connection for table key `key`. Called with
    /// the only reference to it, under the table lock, so no packet can
    /// reach it any more (ARCHITECTURE.md, "Reusing connection objects").
    /// Every path that freed it marked it closed first, so whoever queued
    /// a packet on it after that emptied the queue again; a reused object
    /// starts from an empty queue and zero accounting all the same,
    /// taking anything left off the link's count (`link_queued`).
    pub(crate) fn reset(
        &self,
        key: u64,
        recv_timeout: Option<Duration>,
        kind: ConnKind,
        link_queued: &AtomicUsize,
    ) {
        // The lifecycle rule (ARCHITECTURE.md, "Reusing connection
        // objects"): checked in debug builds and in the crate's own tests,
        // which build with `test-hooks` in release too.
        #[cfg(any(debug_assertions, feature = "test-hooks"))]
        assert!(self.rx.is_empty(), "a freed connection still held packets");
        while let Some(pkt) = self.rx.take() {
            link_queued.fetch_sub(cost(&pkt), SeqCst);
        }
        self.queued.store(0, SeqCst);
        self.key.store(key, SeqCst);
        self.flags.store(kind.flags(), SeqCst);
        self.recv_timeout.set(recv_timeout);
    }

    /// The connection's id (on a NEO/py link: the msg_id of its request).
    pub(crate) fn id(&self) -> u32 {
        // The low 32 bits of the key: see `table::PEER`.
        self.key.load(SeqCst) as u32
    }

    /// The connection's key in the link's table.
    pub(crate) fn key(&self) -> u64 {
        self.key.load(SeqCst)
    }

    /// Whether the link answers "connection closed" on it (see `QUIET`).
    pub(crate) fn answers_closed(&self) -> bool {
        self.flags.load(SeqCst) & QUIET == 0
    }

    /// Whether it is a conversation of ours (see `STREAM`).
    pub(crate) fn is_stream(&self) -> bool {
        self.flags.load(SeqCst) & STREAM != 0
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.flags.load(SeqCst) & CLOSED != 0
    }

    pub(crate) fn is_recv_closed(&self) -> bool {
        self.flags.load(SeqCst) & (CLOSED | RECV_CLOSED) != 0
    }

    /// Marks the connection closed in both directions, before the link
    /// frees it (a refusal): a reader that queues a packet on it after
    /// that sees it closed and empties the queue again.
    pub(crate) fn mark_closed(&self) {
        self.flags.fetch_or(CLOSED | RECV_CLOSED, SeqCst);
    }

    /// Sets `flag`; true if this call set it.
    pub(crate) fn set(&self, flag: u8) -> bool {
        self.flags.fetch_or(flag, SeqCst) & flag == 0
    }

    /// Bytes queued and not yet received.
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(SeqCst)
    }

    /// Counts a packet of `cost` the reader is about to queue, unless that
    /// would take the queue over `limit`; an empty queue always takes one,
    /// and a conversation's every one (the reader waits for room after
    /// queueing instead). Only the reader thread adds, so the check cannot
    /// race with another.
    pub(crate) fn admit(&self, cost: usize, limit: usize) -> bool {
        let queued = self.queued.load(SeqCst);
        if queued != 0 && queued.saturating_add(cost) > limit && !self.is_stream() {
            return false;
        }
        self.queued.fetch_add(cost, SeqCst);
        true
    }

    /// Marks the connection overflowed (receiving closed); true if this
    /// call did it.
    pub(crate) fn set_overflow(&self) -> bool {
        let old = self.flags.fetch_or(OVERFLOW | RECV_CLOSED, SeqCst);
        old & (OVERFLOW | RECV_CLOSED | CLOSED) == 0
    }

    /// Takes a packet's count off this queue and the link's.
    pub(crate) fn uncount(&self, pkt: &Packet, link: &Shared) {
        let c = cost(pkt);
        self.queued.fetch_sub(c, SeqCst);
        link.unqueued(c);
    }

    /// Empties the queue; returns how many packets it held.
    pub(crate) fn drain(&self, link: &Shared) -> usize {
        let mut n = 0;
        while let Some(pkt) = self.rx.take() {
            self.uncount(&pkt, link);
            n += 1;
        }
        n
    }

    /// Whether this `recv` is the first on this conn to see the link down.
    pub(crate) fn first_down_report(&self) -> bool {
        self.set(DOWN_REPORTED)
    }
}
