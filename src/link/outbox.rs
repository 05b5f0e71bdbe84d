//! Bytes waiting for the writer: the link's own replies to the peer
//! (DESIGN §4: "connection closed" and "connection refused") and the small
//! packets of senders that found the writer busy.
//!
//! Replies come from the reader thread, which must never block on a
//! write: if the peer is not reading at that moment and its receive buffer
//! is full, a reader blocked in `write` on both ends would deadlock the
//! link. So they are queued here and written only when that cannot block:
//! by the reader with non-blocking writes, or by the next sender.
//!
//! Senders queue small packets here too when the writer lock is taken,
//! and return at once: the holder looks at the queue again after
//! releasing the lock and writes what came meanwhile, several packets in
//! one syscall if several came. What this buys is mostly that senders do
//! not wait for each other: with 8 threads asking over one TCP link, a
//! write still carries ~1 packet (a loopback TCP write takes about as long
//! as the next packet takes to come), yet the rate went from ~100k to
//! ~120k requests/s, as no thread spins or sleeps on the lock any more.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use parking_lot::Mutex;

use crate::proto::{encode_packet, Error, ErrorCode};

/// Text of the reply to a packet for a connection that is closed.
pub const REPLY_CLOSED: &str = "connection closed";
/// Text of the reply to a connection opened while we do not accept.
pub const REPLY_REFUSED: &str = "connection refused";

/// Replies beyond this many queued bytes are dropped: a peer that floods
/// us with packets for closed connections while not reading must not make
/// us buffer without bound. Replies are notifications; the peer learns the
/// same when it next uses the connection.
const MAX_REPLIES: usize = 1 << 20;

/// Senders stop queueing beyond this many bytes and wait for the writer
/// instead: a peer that does not read must slow senders down, not grow
/// our memory. Below `MAX_REPLIES`, so replies still find room.
pub(super) const MAX_PACKETS: usize = 256 * 1024;

/// Whole packets waiting to be written, in order. The bytes at the front
/// may be the rest of a packet partially written by a non-blocking write:
/// whoever writes next writes them first (every writer takes the queue
/// under the writer lock before writing anything of its own).
#[derive(Default)]
pub(super) struct Outbox {
    queue: Mutex<Vec<u8>>,
    /// Whether `queue` is not empty, readable without the lock.
    pending: AtomicBool,
    /// Whether the front of `queue` is what a non-blocking write left
    /// (the socket was full): then only the reader's retries or a later
    /// sender will write it.
    stuck: AtomicBool,
}

impl Outbox {
    /// Whether bytes wait (a hint: they may be taken at any moment).
    pub(super) fn pending(&self) -> bool {
        self.pending.load(SeqCst)
    }

    /// Whether a non-blocking write left bytes behind (see `stuck`).
    pub(super) fn stuck(&self) -> bool {
        self.stuck.load(SeqCst)
    }

    /// Appends a packet with `encode` unless `limit` bytes wait already.
    pub(super) fn push(&self, limit: usize, encode: impl FnOnce(&mut Vec<u8>)) -> bool {
        let mut queue = self.queue.lock();
        if queue.len() >= limit {
            return false;
        }
        // A panic in `encode` (a hand-written `Msg` can panic) must not
        // leave half a packet in front of other senders' packets.
        let rollback = Rollback {
            len: queue.len(),
            queue: &mut queue,
        };
        encode(rollback.queue);
        std::mem::forget(rollback);
        self.pending.store(true, SeqCst);
        true
    }

    /// Queues an `Error{PROTOCOL_ERROR, text}` packet on connection `id`;
    /// dropped if too much waits already (see `MAX_REPLIES`).
    pub(super) fn push_reply(&self, id: u32, text: &str) {
        let reply = Error {
            code: ErrorCode::PROTOCOL_ERROR,
            message: text.into(),
        };
        self.push(MAX_REPLIES, |q| encode_packet(q, id, &reply));
    }

    /// Moves everything queued into `buf`, replacing what it held (its
    /// allocation becomes the queue's: no allocation in steady state).
    /// Call under the writer lock, so that the bytes go out in order.
    pub(super) fn take(&self, buf: &mut Vec<u8>) {
        buf.clear();
        let mut queue = self.queue.lock();
        std::mem::swap(&mut *queue, buf);
        self.pending.store(false, SeqCst);
        self.stuck.store(false, SeqCst);
    }

    /// Whether the queue is empty, synchronised with `push` through the
    /// queue's lock: a writer that releases the writer lock and then sees
    /// an empty queue knows that any later `push` is followed by a sender
    /// that will find the writer lock free.
    pub(super) fn is_empty(&self) -> bool {
        self.queue.lock().is_empty()
    }

    /// Puts back the unwritten `rest` of what `take` gave, in front of
    /// what was queued since. Call under the writer lock.
    pub(super) fn put_back(&self, rest: &[u8]) {
        if rest.is_empty() {
            return;
        }
        let mut queue = self.queue.lock();
        queue.splice(0..0, rest.iter().copied());
        self.pending.store(true, SeqCst);
        self.stuck.store(true, SeqCst);
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
