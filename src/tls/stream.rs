//! [`TlsStream`]: one TLS session shared by a link's reader thread, which
//! decrypts, and its senders, which encrypt (ARCHITECTURE.md, "TLS").
//!
//! Three locks, always taken in this order, none ever waited for while a
//! later one is held:
//!
//! - `rx`, the reader's: ciphertext read from the socket and not yet
//!   given to the session. Only the thread reading takes it, so it may be
//!   held across a blocking read.
//! - `tx`, the right to write to the socket, with the ciphertext taken
//!   from the session and not yet written. Senders hold it across a
//!   blocking write; the reader only ever *tries* it, so a sender blocked
//!   on a full socket never blocks the reader.
//! - `session`, the rustls state machine: held to decrypt or encrypt one
//!   record and move bytes in or out of it, never across a socket call.
//!
//! Records get their sequence numbers when the session makes them, so
//! they must reach the socket in the order they were made. Whoever takes
//! ciphertext out of the session holds `tx` and appends it to `tx.out`,
//! which goes out first-in first-out: the order holds, whoever made the
//! record (a sender's data, the reader's alerts, the link's replies).

use std::fmt;
use std::io::{self, IoSlice};
use std::os::fd::BorrowedFd;
use std::sync::atomic::{fence, AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rustls::Connection;

use super::socket::{wait, TlsSocket};
use super::{CipherSuite, TlsError, TlsVersion};
use crate::addr::Addr;
use crate::handshake::HandshakeStream;
use crate::stream::{time_left, write_all_until, LinkStream};

/// Plaintext per record: TLS's maximum. A write of at most this much is
/// one record.
pub(super) const RECORD: usize = 16 * 1024;

/// Plaintext a blocking write encrypts before it writes the ciphertext:
/// several records per syscall, while the session is locked for one
/// record at a time.
const WRITE_BATCH: usize = 8 * RECORD;

/// Size of the reader's ciphertext buffer: several full records per read.
const RX_BUF: usize = 64 * 1024;

/// Ciphertext buffers larger than this are freed after use, so that one
/// big message does not pin its size for the life of the link.
const TX_KEEP: usize = 1 << 20;

/// A TLS session over a socket, usable by a [`NodeLink`](crate::NodeLink)
/// as its [`LinkStream`]: the reader thread decrypts while senders
/// encrypt, neither waiting for the other longer than one record.
///
/// Made by [`TlsStream::connect`] / [`TlsStream::accept`] (the TLS
/// handshake), then [`NodeLink::handshake`](crate::NodeLink::handshake)
/// runs NEO's handshake inside; a [`Dialer`](crate::Dialer) with
/// [`tls`](crate::Dialer::tls) and [`accept_link_tls`](super::accept_link_tls)
/// do all of it.
pub struct TlsStream<S: TlsSocket = std::net::TcpStream> {
    sock: S,
    rx: Mutex<Rx>,
    tx: Mutex<Tx>,
    session: Mutex<Connection>,
    /// The session may hold ciphertext that the reader's side made (an
    /// alert, `close_notify`) and nobody took yet. Set after making it;
    /// cleared by whoever takes the session's output. (The answer to a
    /// key update is no such output: rustls keeps it and puts it before
    /// the next record it encrypts.)
    pending: AtomicBool,
    /// `tx.out` holds ciphertext that a non-blocking write left behind
    /// (the socket was full). Changed only under `tx`.
    stuck: AtomicBool,
    /// Bounds our own waits on the socket, as `set_io_timeout` bounds
    /// its reads and writes.
    timeout: Mutex<Option<Duration>>,
}

/// What a step of decrypting gave.
enum Step<T> {
    /// What was taken of the plaintext (a read: how much, 0 at the end
    /// of the session; a peek: the first byte).
    Plain(T),
    /// Nothing: more ciphertext is needed.
    Empty,
    /// Ciphertext went into the session; no plaintext yet.
    Fed,
}

/// The reader's side.
pub(super) struct Rx {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// Plaintext decrypted and waiting in the session.
    pub(super) plain: usize,
    /// The socket reached end of stream.
    eof: bool,
    /// The session was told so.
    eof_told: bool,
    /// The peer ended the session (`close_notify`).
    pub(super) closed: bool,
}

/// The writing side: `out[sent..]` is ciphertext to write, in order.
#[derive(Default)]
struct Tx {
    out: Vec<u8>,
    sent: usize,
}

impl Rx {
    pub(super) fn new() -> Rx {
        Rx {
            buf: vec![0; RX_BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            plain: 0,
            eof: false,
            eof_told: false,
            closed: false,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Whether the session has nothing to give without more bytes from
    /// the socket: no plaintext, no ciphertext to decrypt, no end to
    /// report. Known without the session's lock: only the reading thread
    /// gives the session ciphertext, and it keeps these counts.
    fn is_drained(&self) -> bool {
        self.plain == 0 && self.is_empty() && !self.eof && !self.closed
    }

    /// The bytes read and not yet given to the session.
    pub(super) fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Reads once from the socket with `read` into free space. Only called
    /// when everything buffered went to the session.
    pub(super) fn fill(
        &mut self,
        read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        debug_assert!(self.is_empty());
        (self.start, self.end) = (0, 0);
        let n = read(&mut self.buf)?;
        self.end = n;
        self.eof |= n == 0;
        Ok(n)
    }

    /// Gives buffered ciphertext to the session (as much as it takes at
    /// once); returns whether it took any.
    pub(super) fn feed(&mut self, session: &mut Connection) -> io::Result<bool> {
        if self.is_empty() {
            if self.eof && !self.eof_told {
                self.eof_told = true;
                session.read_tls(&mut io::empty())?;
                return Ok(true);
            }
            return Ok(false);
        }
        let mut data = &self.buf[self.start..self.end];
        let n = session.read_tls(&mut data)?;
        if n == 0 {
            // The peer closed the session (close_notify): the rest is
            // ignored, as TLS says.
            (self.start, self.end) = (0, 0);
        }
        self.start += n;
        Ok(true)
    }
}

impl<S: TlsSocket> TlsStream<S> {
    /// A stream over `sock` whose handshake is done, with what was read
    /// from the socket and not yet given to the session.
    pub(super) fn new(sock: S, session: Connection, rx: Rx) -> TlsStream<S> {
        TlsStream {
            sock,
            rx: Mutex::new(rx),
            tx: Mutex::new(Tx::default()),
            session: Mutex::new(session),
            pending: AtomicBool::new(false),
            stuck: AtomicBool::new(false),
            timeout: Mutex::new(None),
        }
    }

    /// The negotiated TLS version (`None` only before the handshake
    /// ended, which a stream made by `connect` or `accept` is past).
    pub fn protocol_version(&self) -> Option<TlsVersion> {
        let version = self.session.lock().protocol_version();
        version.and_then(TlsVersion::from_rustls)
    }

    /// The negotiated cipher suite (`None` only before the handshake
    /// ended).
    pub fn cipher_suite(&self) -> Option<CipherSuite> {
        let session = self.session.lock();
        let suite = session.negotiated_cipher_suite()?.suite();
        Some(CipherSuite::from_id(u16::from(suite)))
    }

    // ---- reading (the reader's side) ----

    /// Decrypts what is buffered into `buf`: `Some(n)` with plaintext (or
    /// `Some(0)` at the end of the session), `None` if more ciphertext is
    /// needed. Output the session made meanwhile is left for `flush`.
    fn open(&self, rx: &mut Rx, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.decrypt(rx, |session, rx| read_plain(session, rx, buf))
    }

    /// Decrypts what is buffered until `take` gets something out of the
    /// session's plaintext: `Some` of what it got, `None` if more
    /// ciphertext is needed (`take` says so with `WouldBlock`).
    fn decrypt<T>(
        &self,
        rx: &mut Rx,
        mut take: impl FnMut(&mut Connection, &mut Rx) -> io::Result<T>,
    ) -> io::Result<Option<T>> {
        if rx.is_drained() {
            // Nothing for the session to give: spare the lock (the reader
            // polls here, while senders want the session).
            return Ok(None);
        }
        loop {
            match self.decrypt_step(rx, &mut take)? {
                Step::Plain(got) => return Ok(Some(got)),
                Step::Empty => return Ok(None),
                Step::Fed => {}
            }
        }
    }

    /// One step of `decrypt`, under one hold of the session lock: take
    /// from the plaintext there is, or else give the session what it
    /// takes at once of the ciphertext (at most one record and a bit:
    /// rustls reads 4 KiB at a time) and decrypt it.
    fn decrypt_step<T>(
        &self,
        rx: &mut Rx,
        take: &mut impl FnMut(&mut Connection, &mut Rx) -> io::Result<T>,
    ) -> io::Result<Step<T>> {
        let mut session = self.session.lock();
        let res = if rx.plain > 0 || !rx.feed(&mut session)? {
            match take(&mut session, rx) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Step::Empty),
                res => res.map(Step::Plain),
            }
        } else {
            match session.process_new_packets() {
                Ok(state) => {
                    rx.plain = state.plaintext_bytes_to_read();
                    rx.closed = state.peer_has_closed();
                    Ok(Step::Fed)
                }
                Err(e) => Err(TlsError::from_rustls(e).into_io()),
            }
        };
        if session.wants_write() {
            drop(session);
            self.pending.store(true, SeqCst);
        }
        res
    }

    /// The first byte of plaintext the peer sent, left unread (the next
    /// read returns it), waiting at most `timeout` for it: `TimedOut`
    /// then, `UnexpectedEof` if the peer ended the session first. A
    /// server that serves both dialects tells them apart by it, inside
    /// TLS as on a plain socket ([`HandshakeStream::peek_first_byte`]).
    pub fn peek_plain(&self, timeout: Option<Duration>) -> io::Result<u8> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut rx = self.rx.lock();
        loop {
            let got = self.decrypt(&mut rx, peek_plain);
            self.flush_quietly();
            if let Some(b) = got? {
                return Ok(b);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left.is_some_and(|l| l.is_zero()) {
                return Err(io::ErrorKind::TimedOut.into());
            }
            match wait(&self.sock, false, left) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(io::ErrorKind::TimedOut.into())
                }
                res => res?,
            };
            match rx.fill(|b| self.sock.try_read(b)) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                res => res.map(drop)?,
            }
        }
    }

    /// Reads plaintext, waiting for the socket when none is buffered.
    fn read_blocking(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut rx = self.rx.lock();
        loop {
            let res = self.open(&mut rx, buf);
            self.flush_quietly();
            if let Some(n) = res? {
                return Ok(n);
            }
            self.fill_blocking(&mut rx)?;
        }
    }

    /// Reads ciphertext from the socket, blocking. While ciphertext of
    /// ours waits for room in the socket (and no sender is writing it),
    /// waits for room too and writes it: a reader that slept in `read`
    /// would leave it unsent for as long as the peer sends nothing.
    fn fill_blocking(&self, rx: &mut Rx) -> io::Result<()> {
        loop {
            if !self.flush()? {
                return rx.fill(|b| self.sock.read(b)).map(drop);
            }
            if wait(&self.sock, true, *self.timeout.lock())? {
                match rx.fill(|b| self.sock.try_read(b)) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    res => return res.map(drop),
                }
            }
        }
    }

    // ---- writing ----

    /// Encrypts up to `limit` bytes of `bufs`, one record per hold of the
    /// session lock, appending the ciphertext to `tx.out` after what the
    /// session already held. Returns how much plaintext it took.
    fn seal(&self, tx: &mut Tx, bufs: &[IoSlice<'_>], limit: usize) -> io::Result<usize> {
        // Before taking the session's output: output made after this is
        // flagged again (see `pending`).
        self.pending.store(false, SeqCst);
        let mut cursor = Cursor::new(bufs);
        let mut parts = Vec::new();
        let mut done = 0;
        loop {
            cursor.peek(RECORD.min(limit - done), &mut parts);
            let mut session = self.session.lock();
            let n = match parts.as_slice() {
                [] => Ok(0),
                [one] => io::Write::write(&mut session.writer(), one),
                many => io::Write::write_vectored(&mut session.writer(), many),
            }
            .map_err(TlsError::session_io)?;
            while session.wants_write() {
                session.write_tls(&mut tx.out)?;
            }
            drop(session);
            cursor.advance(n);
            done += n;
            // n == 0: the session takes no more now (it wants its own
            // output written first, e.g. before a key update).
            if parts.is_empty() || n == 0 || done == limit {
                return Ok(done);
            }
        }
    }

    /// Writes all of `tx.out`, blocking.
    fn send_blocking(&self, tx: &mut Tx) -> io::Result<()> {
        while tx.sent < tx.out.len() {
            match self.sock.write(&tx.out[tx.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => tx.sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        tx.clear();
        self.stuck.store(false, SeqCst);
        Ok(())
    }

    /// Writes what the socket takes of `tx.out` without blocking; returns
    /// whether all of it went (else it is `stuck`).
    fn send_nonblocking(&self, tx: &mut Tx) -> io::Result<bool> {
        while tx.sent < tx.out.len() {
            match self.sock.try_write(&tx.out[tx.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => tx.sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.stuck.store(true, SeqCst);
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
        tx.clear();
        self.stuck.store(false, SeqCst);
        Ok(true)
    }

    /// Writes ciphertext that waits (the reader's output, or what a
    /// non-blocking write left) without blocking, unless a sender holds
    /// the socket: that one writes it. Returns whether some is left that
    /// is ours to write when the socket has room.
    fn flush(&self) -> io::Result<bool> {
        loop {
            if !self.pending.load(SeqCst) && !self.stuck.load(SeqCst) {
                return Ok(false);
            }
            // Pairs with the fence in `after_release`: either we get the
            // lock, or its holder sees `pending` once it let go.
            fence(SeqCst);
            let Some(mut tx) = self.tx.try_lock() else {
                // The holder looks at `pending` after releasing the lock,
                // and a blocking holder writes all of `tx.out`.
                return Ok(false);
            };
            self.seal(&mut tx, &[], 0)?;
            let all = self.send_nonblocking(&mut tx)?;
            drop(tx);
            if !all {
                return Ok(true);
            }
        }
    }

    /// `flush`, for the reader between its own steps: an error here is
    /// the socket's and the next read or write reports it.
    fn flush_quietly(&self) {
        let _ = self.flush();
    }

    /// After a blocking write released `tx`: output the reader made while
    /// we held it is ours to write, as the reader only tried the lock.
    fn after_release(&self) {
        // Pairs with the fence in `flush`, after the reader set `pending`
        // and before it tried the lock: either it got the lock, or we see
        // the flag.
        fence(SeqCst);
        while self.pending.load(SeqCst) {
            let Some(mut tx) = self.tx.try_lock() else {
                return;
            };
            let res = self
                .seal(&mut tx, &[], 0)
                .and_then(|_| self.send_blocking(&mut tx));
            drop(tx);
            if res.is_err() {
                // The socket failed: the next read or write reports it.
                return;
            }
            fence(SeqCst);
        }
    }

    /// Sends `close_notify` if that cannot block: no sender is writing and
    /// the socket takes it at once.
    fn close_notify(&self) {
        let Some(mut tx) = self.tx.try_lock() else {
            return;
        };
        self.session.lock().send_close_notify();
        if self.seal(&mut tx, &[], 0).is_ok() {
            let _ = self.send_nonblocking(&mut tx);
        }
    }
}

/// The first byte of the session's plaintext, left there. The end of the
/// session is `UnexpectedEof`: a peek wants a byte.
fn peek_plain(session: &mut Connection, _rx: &mut Rx) -> io::Result<u8> {
    match io::BufRead::fill_buf(&mut session.reader()) {
        Ok([first, ..]) => Ok(*first),
        Ok([]) => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "peer ended the TLS session before sending anything",
        )),
        Err(e) => Err(e),
    }
}

/// Reads plaintext out of the session, keeping `rx.plain` right. The end
/// of the session without `close_notify` is reported as such.
fn read_plain(session: &mut Connection, rx: &mut Rx, buf: &mut [u8]) -> io::Result<usize> {
    match io::Read::read(&mut session.reader(), buf) {
        Ok(n) => {
            rx.plain = rx.plain.saturating_sub(n);
            Ok(n)
        }
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "peer closed the TLS stream without close_notify",
        )),
        Err(e) => Err(e),
    }
}

impl Tx {
    fn clear(&mut self) {
        self.out.clear();
        self.sent = 0;
        if self.out.capacity() > TX_KEEP {
            self.out = Vec::new();
        }
    }
}

/// A position in a list of slices, handing out the next bytes as slices.
struct Cursor<'a, 'b> {
    bufs: &'a [IoSlice<'b>],
    idx: usize,
    off: usize,
}

impl<'a, 'b> Cursor<'a, 'b> {
    fn new(bufs: &'a [IoSlice<'b>]) -> Self {
        Cursor {
            bufs,
            idx: 0,
            off: 0,
        }
    }

    /// Puts into `parts` the next slices, up to `max` bytes in all,
    /// without moving.
    fn peek(&self, max: usize, parts: &mut Vec<IoSlice<'a>>) {
        parts.clear();
        let (mut idx, mut off, mut left) = (self.idx, self.off, max);
        while left > 0 && idx < self.bufs.len() {
            let rest = &self.bufs[idx][off..];
            let take = rest.len().min(left);
            if take > 0 {
                parts.push(IoSlice::new(&rest[..take]));
            }
            left -= take;
            (idx, off) = (idx + 1, 0);
        }
    }

    /// Moves `n` bytes on.
    fn advance(&mut self, mut n: usize) {
        while n > 0 {
            let rest = self.bufs[self.idx].len() - self.off;
            if n < rest {
                self.off += n;
                return;
            }
            n -= rest;
            (self.idx, self.off) = (self.idx + 1, 0);
        }
    }
}

impl<S: TlsSocket> LinkStream for TlsStream<S> {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.read_blocking(buf)
    }

    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut rx = self.rx.lock();
        loop {
            let res = self.open(&mut rx, buf);
            self.flush_quietly();
            if let Some(n) = res? {
                return Ok(n);
            }
            rx.fill(|b| self.sock.try_read(b))?;
        }
    }

    /// Plaintext already decrypted, or ciphertext read and not yet
    /// decrypted, counts: the socket may have nothing more to say.
    fn readable(&self) -> io::Result<bool> {
        self.flush()?;
        {
            if !self.rx.lock().is_drained() {
                return Ok(true);
            }
        }
        self.sock.readable()
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    /// Encrypts up to `WRITE_BATCH` bytes and writes all their ciphertext
    /// before returning.
    fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut tx = self.tx.lock();
        let res = self
            .seal(&mut tx, bufs, WRITE_BATCH)
            .and_then(|n| self.send_blocking(&mut tx).map(|()| n));
        drop(tx);
        self.after_release();
        res
    }

    /// Takes at most one record, and only once the ciphertext earlier
    /// non-blocking writes left is out; what the socket does not take of
    /// it now waits in `tx.out` (see `flush`).
    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        let Some(mut tx) = self.tx.try_lock() else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        if !self.send_nonblocking(&mut tx)? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.seal(&mut tx, &[IoSlice::new(buf)], RECORD)?;
        self.send_nonblocking(&mut tx)?;
        drop(tx);
        // As `after_release`, without blocking.
        self.flush_quietly();
        if n == 0 && !buf.is_empty() {
            // The session took nothing now: that is "try later" here.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.sock.as_fd())
    }

    fn wants_write(&self) -> bool {
        self.pending.load(SeqCst) || self.stuck.load(SeqCst)
    }

    fn flush_own(&self) -> io::Result<()> {
        self.flush().map(drop)
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_write_timeout(timeout)
    }

    /// Writes the ciphertext that waits (what non-blocking writes left,
    /// the reader's own records), then `close_notify`, by `deadline`.
    fn finish(&self, deadline: Instant) -> io::Result<()> {
        let Some(mut tx) = self.tx.try_lock_until(deadline) else {
            return time_left(Instant::now()).map(drop);
        };
        self.session.lock().send_close_notify();
        self.seal(&mut tx, &[], 0)?;
        write_all_until(&self.sock, &tx.out[tx.sent..], deadline)?;
        tx.clear();
        self.stuck.store(false, SeqCst);
        Ok(())
    }

    fn shutdown(&self) -> io::Result<()> {
        self.close_notify();
        self.sock.shutdown()
    }

    fn local_addr(&self) -> Addr {
        self.sock.local_addr()
    }

    fn peer_addr(&self) -> Addr {
        self.sock.peer_addr()
    }
}

impl<S: TlsSocket> HandshakeStream for TlsStream<S> {
    fn set_io_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        *self.timeout.lock() = timeout;
        self.sock.set_io_timeout(timeout)
    }

    /// The first byte of plaintext (see [`TlsStream::peek_plain`]).
    fn peek_first_byte(&self, timeout: Option<Duration>) -> io::Result<u8> {
        self.peek_plain(timeout)
    }
}

impl<S: TlsSocket> fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("local", &self.sock.local_addr())
            .field("peer", &self.sock.peer_addr())
            .finish_non_exhaustive()
    }
}
