//! Bytes waiting for the writer: the link's own packets (replies to the
//! peer, "connection closed" and "connection refused"; keepalive pings)
//! and the small packets of senders that found the writer busy.
//!
//! The link's own packets come from the reader thread, which must never
//! block on a write: if the peer is not reading at that moment and its
//! receive buffer is full, a reader blocked in `write` on both ends would
//! deadlock the link. So they are queued here and written only when that
//! cannot block: by the reader with non-blocking writes (when the socket
//! has room: it polls for that), or by the next sender. Queueing one costs
//! O(1) whatever is queued; past the reply limit they are dropped and
//! counted (the peer learns the same when it next uses the connection).
//!
//! Senders queue small packets here too when the writer lock is taken,
//! and return at once: the holder looks at the queue again after
//! releasing the lock and writes what came meanwhile, several packets in
//! one syscall if several came. What this buys is mostly that senders do
//! not wait for each other: with 8 threads asking over one TCP link, a
//! write still carries ~1 packet, yet the rate went from ~100k to ~120k
//! requests/s, as no thread spins or sleeps on the lock any more. So that
//! no holder is kept writing for others forever, it does so for a bounded
//! number of rounds, then *hands off*: senders that queue after that take
//! the writer lock themselves (see `writer`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

use parking_lot::Mutex;

use super::EncodeReply;

pub(crate) use crate::error::{REPLY_CLOSED, REPLY_REFUSED};

/// Senders stop queueing beyond this many bytes and wait for the writer
/// instead: a peer that does not read must slow senders down, not grow
/// our memory.
pub(super) const MAX_PACKETS: usize = 256 * 1024;

/// The queue, under its lock.
#[derive(Default)]
struct Queue {
    /// Whole packets, in order.
    bytes: Vec<u8>,
    /// The writer's holder stopped writing for others: whoever queues now
    /// must take the writer lock (see the module docs).
    handoff: bool,
    /// The link is closing: nothing more is accepted.
    sealed: bool,
}

/// What `push` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pushed {
    /// Queued; with `handoff`, the caller must write the queue itself.
    Queued { handoff: bool },
    /// Not queued: the limit is reached.
    Full,
    /// Not queued: the link is closing.
    Sealed,
}

/// Packets waiting to be written. Bytes that a non-blocking write left
/// unwritten are not here but with the writer (`Writer::queued`), which
/// every writer writes first; `stuck` and `rest` say so without its lock.
#[derive(Default)]
pub(super) struct Outbox {
    queue: Mutex<Queue>,
    /// Whether `queue` is not empty, readable without the lock.
    pending: AtomicBool,
    /// Whether a non-blocking write left bytes behind (the socket was
    /// full): the reader then polls for room.
    stuck: AtomicBool,
    /// How many bytes it left.
    rest: AtomicUsize,
}

impl Outbox {
    /// Whether bytes wait in the queue (a hint: they may be taken at any
    /// moment).
    pub(super) fn pending(&self) -> bool {
        self.pending.load(SeqCst)
    }

    /// Whether a non-blocking write left bytes behind.
    pub(super) fn stuck(&self) -> bool {
        self.stuck.load(SeqCst)
    }

    /// Whether anything at all waits to be written.
    pub(super) fn unsent(&self) -> bool {
        self.pending() || self.stuck()
    }

    /// Records what a non-blocking write left behind (0: nothing). Call
    /// under the writer lock.
    pub(super) fn set_rest(&self, rest: usize) {
        self.rest.store(rest, SeqCst);
        self.stuck.store(rest > 0, SeqCst);
    }

    /// Appends a packet with `encode` unless `limit` bytes wait already
    /// (what a non-blocking write left included) or the link is closing.
    pub(super) fn push(&self, limit: usize, encode: impl FnOnce(&mut Vec<u8>)) -> Pushed {
        let mut queue = self.queue.lock();
        if queue.sealed {
            return Pushed::Sealed;
        }
        if queue.bytes.len() + self.rest.load(SeqCst) >= limit {
            return Pushed::Full;
        }
        // A panic in `encode` (a hand-written `Msg` can panic) must not
        // leave half a packet in front of other senders' packets.
        let rollback = Rollback {
            len: queue.bytes.len(),
            queue: &mut queue.bytes,
        };
        encode(rollback.queue);
        std::mem::forget(rollback);
        self.pending.store(true, SeqCst);
        Pushed::Queued {
            handoff: queue.handoff,
        }
    }

    /// Queues the link's `Error{PROTOCOL_ERROR, text}` on id `id`, as
    /// `encode` writes it in the link's dialect (on a NEO/py link:
    /// answering the request `id`); false if it was dropped (`limit`
    /// reached, or closing).
    pub(super) fn push_reply(
        &self,
        encode: EncodeReply,
        id: u32,
        text: &str,
        limit: usize,
    ) -> bool {
        self.push(limit, |q| encode(q, id, text)) != Pushed::Full
    }

    /// Moves everything queued into `buf`, replacing what it held (its
    /// allocation becomes the queue's: no allocation in steady state).
    /// Sets the hand-off flag if `handoff` says so. Call under the writer
    /// lock, so that the bytes go out in order.
    pub(super) fn take(&self, buf: &mut Vec<u8>, handoff: Option<bool>) {
        buf.clear();
        let mut queue = self.queue.lock();
        std::mem::swap(&mut queue.bytes, buf);
        if let Some(h) = handoff {
            queue.handoff = h;
        }
        self.pending.store(false, SeqCst);
    }

    /// Whether the queue is empty, synchronised with `push` through the
    /// queue's lock: a writer that releases the writer lock and then sees
    /// an empty queue knows that any later `push` is followed by a sender
    /// that will find the writer lock free.
    pub(super) fn is_empty(&self) -> bool {
        self.queue.lock().bytes.is_empty()
    }

    /// Bytes waiting to be written: queued, and left by a non-blocking
    /// write.
    pub(super) fn unsent_bytes(&self) -> usize {
        self.queue.lock().bytes.len() + self.rest.load(SeqCst)
    }

    /// Refuses every later `push`: the link is closing, and what is queued
    /// now is all that `close` will write.
    pub(super) fn seal(&self) {
        self.queue.lock().sealed = true;
    }
}

/// Truncates the queue back to `len` unless forgotten: see `push`.
struct Rollback<'a> {
    queue: &'a mut Vec<u8>,
    len: usize,
}

impl Drop for Rollback<'_> {
    fn drop(&mut self) {
        self.queue.truncate(self.len);
    }
}
