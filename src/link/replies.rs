//! Replies the link sends to the peer on its own (DESIGN §4): "connection
//! closed" and "connection refused".
//!
//! They are produced by the reader thread, which must never block on a
//! write: if the peer is not reading at that moment and its receive buffer
//! is full, a reader blocked in `write` on both ends would deadlock the
//! link. So replies are queued here and written only when that cannot
//! block: by the reader with non-blocking writes, or by the next sender,
//! which holds the writer lock anyway and writes them before its packet.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use parking_lot::Mutex;

use crate::proto::{encode_packet, Error, ErrorCode};
use crate::stream::{write_all, LinkStream};

/// Text of the reply to a packet for a connection that is closed.
pub const REPLY_CLOSED: &str = "connection closed";
/// Text of the reply to a connection opened while we do not accept.
pub const REPLY_REFUSED: &str = "connection refused";

/// Queued replies beyond this are dropped: a peer that floods us with
/// packets for closed connections while not reading must not make us
/// buffer without bound. Replies are notifications; the peer learns the
/// same when it next uses the connection.
const MAX_QUEUED: usize = 1 << 20;

/// Encoded replies waiting to be written, in order. The bytes at the front
/// may be the rest of a reply partially written already: whoever writes
/// next must write them first, which every writer does under the writer
/// lock.
#[derive(Default)]
pub(crate) struct Replies {
    buf: Mutex<Vec<u8>>,
    pending: AtomicBool,
}

impl Replies {
    pub(crate) fn pending(&self) -> bool {
        self.pending.load(SeqCst)
    }

    /// Queues an `Error{PROTOCOL_ERROR, text}` packet on connection `id`.
    pub(crate) fn queue(&self, id: u32, text: &str) {
        let mut buf = self.buf.lock();
        if buf.len() >= MAX_QUEUED {
            return;
        }
        let reply = Error {
            code: ErrorCode::PROTOCOL_ERROR,
            message: text.into(),
        };
        encode_packet(&mut buf, id, &reply);
        self.pending.store(true, SeqCst);
    }

    /// Writes every queued reply, blocking. Call under the writer lock.
    ///
    /// The bytes are taken out first: holding the queue's lock while
    /// blocked in `write` would block the reader thread in `queue`.
    pub(crate) fn flush_blocking(&self, stream: &dyn LinkStream) -> io::Result<()> {
        if !self.pending() {
            return Ok(());
        }
        let bytes = {
            let mut buf = self.buf.lock();
            self.pending.store(false, SeqCst);
            std::mem::take(&mut *buf)
        };
        write_all(stream, &bytes)
    }

    /// Writes what can be written of the queued replies without blocking.
    /// Call under the writer lock.
    pub(crate) fn flush_nonblocking(&self, stream: &dyn LinkStream) -> io::Result<()> {
        let mut buf = self.buf.lock();
        let mut done = 0;
        let res = loop {
            if done == buf.len() {
                break Ok(());
            }
            match stream.try_write(&buf[done..]) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        buf.drain(..done);
        self.pending.store(!buf.is_empty(), SeqCst);
        res
    }
}
