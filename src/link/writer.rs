//! The sending side of a link (DESIGN §5): no writer thread; senders write
//! under one mutex so that packets never interleave.
//!
//! Small packets go through the [`Outbox`](super::outbox::Outbox): a
//! sender queues its packet, then writes the whole queue if the writer lock
//! is free, and otherwise leaves it to the holder, which looks at the
//! queue again after releasing the lock. Large packets (object data) are
//! written straight from where they are, with `writev`, after the queue.

use std::io::{self, IoSlice};
use std::sync::Arc;

use parking_lot::MutexGuard;

use super::outbox::MAX_PACKETS;
use super::Shared;
use crate::error::ErrorKind;
use crate::packet::MAX_PACKET_SIZE;
use crate::proto::BIG_FIELD;
use crate::proto::{encode_packet_parts, packet_io_slices, packet_size, Msg};
use crate::stream::{write_all, write_all_vectored, write_nonblocking, LinkStream};

/// What the writer lock guards.
pub(super) struct Writer {
    /// `None` once the link is closed.
    pub(super) stream: Option<Arc<dyn LinkStream>>,
    /// Our own packet, encoded here.
    buf: Vec<u8>,
    /// What we took from the outbox, swapped with its queue, so both
    /// allocations are reused. Apart from `buf`, so that a panic while
    /// encoding our packet cannot lose other senders' packets.
    queued: Vec<u8>,
}

impl Writer {
    pub(super) fn new(stream: Arc<dyn LinkStream>) -> Writer {
        Writer {
            stream: Some(stream),
            buf: Vec::new(),
            queued: Vec::new(),
        }
    }
}

/// Send buffers larger than this are freed after use, so that one big
/// message does not pin its size for the life of the link.
const SEND_BUF_KEEP: usize = 1 << 20;

/// Packets below this size are queued; larger ones are written in place.
/// Below `BIG_FIELD`, a message borrows nothing: it is all in the queue.
const QUEUE_BELOW: usize = BIG_FIELD;

/// How `flush` may write.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Senders: until everything is written.
    Blocking,
    /// The reader thread: only what the socket takes at once.
    NonBlocking,
}

/// The borrowed parts of an encoded packet: `(position, bytes)` segments,
/// see [`packet_io_slices`].
type Segments<'a> = Vec<(usize, &'a [u8])>;

impl Shared {
    /// Sends `msg` on connection `id`.
    pub(crate) fn write_msg<M: Msg>(&self, id: u32, msg: &M) -> Result<(), ErrorKind> {
        let size = packet_size(msg);
        if size > MAX_PACKET_SIZE as u64 {
            return Err(ErrorKind::PacketTooBig { size });
        }
        // A packet queued (below `QUEUE_BELOW` = `BIG_FIELD`) has no field
        // large enough to be borrowed: the encoder copies all of it.
        self.send(size < QUEUE_BELOW as u64, |buf, _| {
            encode_packet_parts(buf, id, msg)
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
    /// write; else we wait for the writer.
    fn send<'a>(
        &self,
        small: bool,
        encode: impl FnOnce(&mut Vec<u8>, bool) -> Segments<'a>,
    ) -> Result<(), ErrorKind> {
        self.check_up()?;
        let mut encode = Some(encode);
        let w = match self.writer.try_lock() {
            Some(w) => w,
            None if small && self.queue(|q| (encode.take().expect("once"))(q, true)) => {
                return self.flush(Mode::Blocking);
            }
            None => self.writer.lock(),
        };
        self.write_locked(w, |buf| (encode.take().expect("once"))(buf, false))?;
        // Packets queued while we wrote: see `flush`.
        self.flush(Mode::Blocking)
    }

    /// Queues a small packet, unless the queue is full.
    fn queue<'a>(&self, encode: impl FnOnce(&mut Vec<u8>) -> Segments<'a>) -> bool {
        self.outbox.push(MAX_PACKETS, |q| {
            let segs = encode(q);
            debug_assert!(segs.is_empty(), "a copying encoder borrows nothing");
        })
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
        } = &mut *w;
        let Some(stream) = stream.as_deref() else {
            return Err(ErrorKind::LinkClosed);
        };
        buf.clear();
        let segs = encode(buf);
        // `pending` is a hint read without the queue's lock: a packet it
        // misses was queued by a sender that failed to take the writer lock
        // from us, and our caller's `flush` writes it.
        if self.outbox.pending() {
            self.outbox.take(queued);
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

    /// Writes the queue, unless another thread holds the writer lock: that
    /// one looks at the queue again after releasing the lock, as we do
    /// here, so a queued packet is never left behind.
    fn flush(&self, mode: Mode) -> Result<(), ErrorKind> {
        loop {
            // Under the queue's lock: see `Outbox::is_empty`.
            if self.outbox.is_empty() {
                return Ok(());
            }
            let Some(mut w) = self.writer.try_lock() else {
                return Ok(());
            };
            let Writer { stream, queued, .. } = &mut *w;
            let Some(stream) = stream.as_deref() else {
                return Err(ErrorKind::LinkClosed);
            };
            self.outbox.take(queued);
            let res = match mode {
                Mode::Blocking => write_all(stream, queued).map(|()| true),
                Mode::NonBlocking => write_nonblocking(stream, queued).map(|n| {
                    self.outbox.put_back(&queued[n..]);
                    n == queued.len()
                }),
            };
            release(queued);
            drop(w);
            let all_written = res.map_err(|e| self.write_failed(e))?;
            if !all_written {
                // The socket is full: the reader polls until the rest is
                // out (see `reader::REPLY_RETRY`) rather than block here.
                return Ok(());
            }
        }
    }

    /// The kind a failed write reports: `LinkClosed` if we are closing,
    /// else the I/O error itself, which takes the link down.
    fn write_failed(&self, e: io::Error) -> ErrorKind {
        if self.has(super::CLOSED) {
            return ErrorKind::LinkClosed;
        }
        let kind = ErrorKind::io(e);
        self.go_down(kind.clone(), false);
        kind
    }

    /// Queues a "connection closed"/"refused" reply and writes it if that
    /// is possible without blocking (the reader thread calls this).
    pub(super) fn reply(&self, id: u32, text: &str) {
        self.outbox.push_reply(id, text);
        self.try_flush();
    }

    /// Writes what waits in the queue if the writer lock is free and the
    /// socket has room, without ever blocking (the reader thread calls
    /// this; a failure has taken the link down, which the reader sees).
    pub(super) fn try_flush(&self) {
        if self.outbox.pending() {
            let _ = self.flush(Mode::NonBlocking);
        }
    }
}

/// Empties the send buffer after a write, freeing it if it grew large.
fn release(buf: &mut Vec<u8>) {
    buf.clear();
    if buf.capacity() > SEND_BUF_KEEP {
        *buf = Vec::new();
    }
}
