//! The sending side of a link: no writer thread; senders write under one
//! mutex so that packets never interleave.
//!
//! Small packets go through the [`Outbox`](super::outbox::Outbox): a
//! sender queues its packet, then writes the whole queue if the writer lock
//! is free, and otherwise leaves it to the holder, which looks at the
//! queue again after releasing the lock — for at most `FLUSH_ROUNDS`
//! rounds, after which it hands off (see `outbox`). Large packets (object
//! data) are written straight from where they are, with `writev`, after
//! the queue.

use std::io::{self, IoSlice};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::MutexGuard;

use super::limits::Counters;
use super::outbox::{Pushed, MAX_PACKETS};
use super::Shared;
use crate::codec::wire::Wire;
use crate::codec::{Msg, Segments};
use crate::error::ErrorKind;
use crate::packet::MAX_PACKET_SIZE;
use crate::proto::packet_io_slices;
use crate::proto::BIG_FIELD;
use crate::stream::{
    write_all, write_all_until, write_all_vectored, write_nonblocking, LinkStream,
};

/// What the writer lock guards.
pub(super) struct Writer {
    /// `None` once the link is closed or down.
    pub(super) stream: Option<Arc<dyn LinkStream>>,
    /// Our own packet, encoded here.
    buf: Vec<u8>,
    /// What we took from the outbox, swapped with its queue, so both
    /// allocations are reused; `queued[sent..]` is what a non-blocking
    /// write left unwritten, which every writer writes first. Apart from
    /// `buf`, so that a panic while encoding our packet cannot lose other
    /// senders' packets.
    queued: Vec<u8>,
    sent: usize,
}

impl Writer {
    pub(super) fn new(stream: Arc<dyn LinkStream>) -> Writer {
        Writer {
            stream: Some(stream),
            buf: Vec::new(),
            queued: Vec::new(),
            sent: 0,
        }
    }
}

/// Send buffers larger than this are freed after use, so that one big
/// message does not pin its size for the life of the link.
const SEND_BUF_KEEP: usize = 1 << 20;

/// Packets below this size are queued; larger ones are written in place.
/// Below `BIG_FIELD`, a message borrows nothing: it is all in the queue.
const QUEUE_BELOW: usize = BIG_FIELD;

/// How many times a sender writes the queue for others after its own
/// packet before it hands off (see `outbox`): bounded work per `send`.
pub(super) const FLUSH_ROUNDS: usize = 4;

impl Shared {
    /// Sends `msg` on connection `id` (on a NEO/py link: with msg_id
    /// `id`). A message of the other dialect's table is refused.
    pub(crate) fn write_msg<M: Msg>(&self, id: u32, msg: &M) -> Result<(), ErrorKind> {
        let size = <M::Dialect as Wire>::packet_size(id, msg);
        if size > MAX_PACKET_SIZE as u64 {
            return Err(ErrorKind::PacketTooBig { size });
        }
        // A packet queued (below `QUEUE_BELOW` = `BIG_FIELD`) has no field
        // large enough to be borrowed: the encoder copies all of it.
        self.send(size < QUEUE_BELOW as u64, |buf, _| {
            <M::Dialect as Wire>::encode_packet_parts(buf, id, msg, true)
        })
    }

    /// Sends one whole packet (`bytes`); a large one is not copied.
    pub(crate) fn write(&self, bytes: &[u8]) -> Result<(), ErrorKind> {
        self.send(bytes.len() < QUEUE_BELOW, |buf, copy| {
            if copy {
                buf.extend_from_slice(bytes);
                Vec::new()
            } else {
                vec![(buf.len(), bytes)]
            }
        })
    }

    /// Sends the packet that `encode` appends to a buffer: copying all of
    /// it if told to, else possibly borrowing large parts (returned as
    /// segments). With the writer free, we write (the queue first, then
    /// our packet); else a `small` packet is queued for the holder to
    /// write (or, after a hand-off, for us); else we wait for the writer.
    fn send<'a>(
        &self,
        small: bool,
        encode: impl FnOnce(&mut Vec<u8>, bool) -> Segments<'a>,
    ) -> Result<(), ErrorKind> {
        self.check_up()?;
        let mut encode = Some(encode);
        let w = match self.writer.try_lock() {
            Some(w) => w,
            None if small => {
                let pushed = self.outbox.push(MAX_PACKETS, |q| {
                    let segs = (encode.take().expect("once"))(q, true);
                    debug_assert!(segs.is_empty(), "a copying encoder borrows nothing");
                });
                match pushed {
                    Pushed::Queued { handoff: false } => return self.flush(),
                    Pushed::Queued { handoff: true } => {
                        let mut w = self.writer.lock();
                        self.write_queue(&mut w, false)?;
                        drop(w);
                        return self.flush();
                    }
                    Pushed::Sealed => return Err(ErrorKind::LinkClosed),
                    Pushed::Full => self.writer.lock(),
                }
            }
            None => self.writer.lock(),
        };
        self.write_locked(w, |buf| (encode.take().expect("once"))(buf, false))?;
        // Packets queued while we wrote: see `flush`.
        self.flush()
    }

    /// Writes what is queued, then the packet `encode` appends to an empty
    /// buffer (with the segments it borrows), in one (vectored) write.
    fn write_locked<'a>(
        &self,
        mut w: MutexGuard<'_, Writer>,
        encode: impl FnOnce(&mut Vec<u8>) -> Segments<'a>,
    ) -> Result<(), ErrorKind> {
        let Writer {
            stream,
            buf,
            queued,
            sent,
        } = &mut *w;
        let Some(stream) = stream.as_deref() else {
            return Err(self.closed_kind());
        };
        // We may have waited for the writer while the link went down.
        self.check_up()?;
        self.write_rest(stream, queued, sent)?;
        buf.clear();
        let segs = encode(buf);
        // `pending` is a hint read without the queue's lock: a packet it
        // misses was queued by a sender that failed to take the writer lock
        // from us, and our caller's `flush` writes it.
        if self.outbox.pending() {
            // A fresh holder: no hand-off in force.
            self.outbox.take(queued, Some(false));
        }
        let res = match (queued.is_empty(), segs.is_empty()) {
            (true, true) => write_all(stream, buf),
            (true, false) => write_all_vectored(stream, &mut packet_io_slices(buf, &segs)),
            (false, true) => {
                write_all_vectored(stream, &mut [IoSlice::new(queued), IoSlice::new(buf)])
            }
            (false, false) => {
                let mut slices = vec![IoSlice::new(queued)];
                slices.extend(packet_io_slices(buf, &segs));
                write_all_vectored(stream, &mut slices)
            }
        };
        release(buf);
        release(queued);
        drop(w);
        res.map_err(|e| self.write_failed(e))
    }

    /// Writes `queued[sent..]`, what a non-blocking write left behind,
    /// blocking.
    fn write_rest(
        &self,
        stream: &dyn LinkStream,
        queued: &mut Vec<u8>,
        sent: &mut usize,
    ) -> Result<(), ErrorKind> {
        if *sent < queued.len() {
            write_all(stream, &queued[*sent..]).map_err(|e| self.write_failed(e))?;
            release(queued);
            *sent = 0;
            self.outbox.set_rest(0);
        }
        Ok(())
    }

    /// Writes the rest of a non-blocking write, then the queue, blocking;
    /// sets the hand-off flag to `handoff` (see `outbox`).
    pub(super) fn write_queue(&self, w: &mut Writer, handoff: bool) -> Result<(), ErrorKind> {
        let Writer {
            stream,
            queued,
            sent,
            ..
        } = w;
        let Some(stream) = stream.as_deref() else {
            return Err(self.closed_kind());
        };
        self.write_rest(stream, queued, sent)?;
        self.outbox.take(queued, Some(handoff));
        let res = write_all(stream, queued);
        release(queued);
        res.map_err(|e| self.write_failed(e))
    }

    /// At close: writes the rest of a non-blocking write, the queue, then
    /// what the stream itself holds and the end of its session
    /// ([`LinkStream::finish`]), by `deadline`. Everything whose `send`
    /// returned `Ok` is then on the wire.
    pub(super) fn write_all_queued(&self, w: &mut Writer, deadline: Instant) -> io::Result<()> {
        let Writer {
            stream,
            queued,
            sent,
            ..
        } = w;
        let Some(stream) = stream.as_deref() else {
            return Ok(());
        };
        write_all_until(stream, &queued[*sent..], deadline)?;
        *sent = 0;
        self.outbox.set_rest(0);
        self.outbox.take(queued, None);
        let res = write_all_until(stream, queued, deadline);
        release(queued);
        res?;
        stream.finish(deadline)
    }

    /// Writes the queue, unless another thread holds the writer lock: that
    /// one looks at the queue again after releasing the lock, as we do
    /// here, so a queued packet is never left behind. After
    /// `FLUSH_ROUNDS`, hands off instead of looking again.
    fn flush(&self) -> Result<(), ErrorKind> {
        for round in 1..=FLUSH_ROUNDS {
            // Under the queue's lock: see `Outbox::is_empty`.
            if self.outbox.is_empty() {
                return Ok(());
            }
            let Some(mut w) = self.writer.try_lock() else {
                return Ok(());
            };
            // The last round hands off: whoever queues after its `take`
            // writes the queue itself, so we need not look again.
            self.write_queue(&mut w, round == FLUSH_ROUNDS)?;
        }
        Ok(())
    }

    /// The kind a failed write reports: `LinkClosed` if we are closing,
    /// `Timeout` if the write timeout expired, else the I/O error itself
    /// (a write that hit it reports it), which takes the link down.
    fn write_failed(&self, e: io::Error) -> ErrorKind {
        if self.has(super::CLOSED) {
            return ErrorKind::LinkClosed;
        }
        let kind = match e.kind() {
            // A blocking write that hit the stream's write timeout.
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ErrorKind::Timeout,
            _ => ErrorKind::io(e),
        };
        self.go_down(kind.clone(), false);
        kind
    }

    /// Queues a "connection closed"/"refused" reply and writes it if that
    /// is possible without blocking (the reader thread calls this). O(1)
    /// whatever is queued; dropped and counted past the reply limit.
    pub(super) fn reply(&self, id: u32, text: &str) {
        if !self
            .outbox
            .push_reply(self.wire.encode_reply, id, text, self.limits.reply_bytes())
        {
            Counters::bump(&self.counters.dropped_replies);
            return;
        }
        self.flush_unless_stuck();
    }

    /// Queues a packet of the link's own (a keepalive ping) like a reply.
    pub(super) fn queue_own_packet(&self, encode: impl FnOnce(&mut Vec<u8>)) {
        if self.outbox.push(self.limits.reply_bytes(), encode) == Pushed::Full {
            Counters::bump(&self.counters.dropped_replies);
            return;
        }
        self.flush_unless_stuck();
    }

    /// Writes what waits, without blocking, unless the socket was full at
    /// the last try: then the reader writes it when the socket has room
    /// (it polls for that), and trying on every reply would cost a syscall
    /// offering the whole rest each time.
    fn flush_unless_stuck(&self) {
        if !self.outbox.stuck() {
            self.try_flush();
        }
    }

    /// Writes what waits if the writer lock is free and the socket has
    /// room, without ever blocking (the reader thread calls this; a failure
    /// has taken the link down, which the reader sees). While the socket
    /// is full it does nothing (O(1)): the reader polls for room.
    pub(super) fn try_flush(&self) {
        if !self.outbox.unsent() {
            return;
        }
        let Some(mut w) = self.writer.try_lock() else {
            return;
        };
        let Writer {
            stream,
            queued,
            sent,
            ..
        } = &mut *w;
        let Some(stream) = stream.as_deref() else {
            return;
        };
        // Twice at most: the rest of an earlier write, then the queue.
        for _ in 0..2 {
            if *sent == queued.len() {
                if !self.outbox.pending() {
                    return;
                }
                self.outbox.take(queued, None);
                *sent = 0;
            }
            match write_nonblocking(stream, &queued[*sent..]) {
                Ok(n) => *sent += n,
                Err(e) => {
                    self.write_failed(e);
                    return;
                }
            }
            if *sent < queued.len() {
                self.outbox.set_rest(queued.len() - *sent);
                // The reader writes the rest when the socket has room; it
                // may be asleep without watching for that (we are not it).
                self.wake_reader();
                return;
            }
            release(queued);
            *sent = 0;
            self.outbox.set_rest(0);
        }
    }
}

/// Empties a send buffer after a write, freeing it if it grew large.
fn release(buf: &mut Vec<u8>) {
    buf.clear();
    if buf.capacity() > SEND_BUF_KEEP {
        *buf = Vec::new();
    }
}
