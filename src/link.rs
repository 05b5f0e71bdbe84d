//! NodeLink: one end of a link between two nodes, multiplexing many
//! connections over one stream (ARCHITECTURE.md, "Links").

#[cfg(feature = "test-hooks")]
mod hooks;
mod keepalive;
pub(crate) mod limits;
mod outbox;
mod reader;
mod route;
pub(crate) mod state;
pub(crate) mod table;
mod writer;

use std::fmt;
use std::marker::PhantomData;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::addr::Addr;
use crate::codec::Dialect;
use crate::error::{Error, ErrorKind, LinkAddrs, Op, Result};
use crate::proto::Proto6;
use crate::queue::{QueueRx, WaitError};
use crate::stream::LinkStream;
use crate::wait::{self, AtomicTimeout};
use limits::{Counters, LimitCells, Limits};
use state::ConnState;
use table::{ConnTable, NoFreeId};

pub(crate) use outbox::{REPLY_CLOSED, REPLY_REFUSED};

/// How long a connection the peer opened is remembered after we close it.
pub(crate) const KEEP_CLOSED: Duration = Duration::from_secs(60);

pub use crate::codec::LinkRole;

/// Counts of a link (see [`NodeLink::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkStats {
    /// Connections in use.
    pub live_conns: usize,
    /// Ids of closed connections kept for `KEEP_CLOSED`.
    pub tombstones: usize,
    /// Bytes queued on all connections and not yet received (payloads
    /// plus [`PACKET_OVERHEAD`](crate::Limits::PACKET_OVERHEAD) each).
    pub queued_bytes: usize,
    /// Bytes of packets sent (their `send` returned) but not yet written
    /// to the stream: queued for the writer, or left by a non-blocking
    /// write while the socket was full.
    pub unsent_bytes: usize,
    /// Connections that overflowed (see [`Limits`]).
    pub overflows: u64,
    /// Connections the peer opened that were refused because a limit was
    /// reached (not those refused after `close_accept`).
    pub refused: u64,
    /// Replies of the link itself dropped because too many waited.
    pub dropped_replies: u64,
    /// Requests `NodeLink::recv` could not decode (answered `PROTOCOL_ERROR`).
    pub bad_requests: u64,
    /// Keepalive pings sent.
    pub pings: u64,
    /// Answers that came for no request of ours, dropped (NEO/py links:
    /// the late answer of an `ask1` that timed out, typically; protocol 6
    /// links answer those "connection closed" instead).
    pub stray_answers: u64,
    /// Times the reader waited for a conversation's receiver to make room
    /// ([`AnswerStream`](crate::AnswerStream): back-pressure instead of an
    /// overflow).
    pub stream_waits: u64,
}

// Link state bits.
const CLOSED: u8 = 1;
const DOWN: u8 = 2;
const NO_ACCEPT: u8 = 4;

/// Why the link went down.
struct DownCause {
    kind: ErrorKind,
    /// It was the reader that failed, or the peer that stopped answering
    /// (reported by the first `recv` on each connection).
    from_recv: bool,
}

/// How long `close` waits at most for what was sent to be written, when
/// no write timeout is set.
pub(crate) const CLOSE_FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// The state of a link shared by its handle, its connections and its
/// reader thread.
/// Appends the link's own `Error(PROTOCOL_ERROR, text)` on id `id`, in
/// its dialect.
pub(crate) type EncodeReply = fn(buf: &mut Vec<u8>, id: u32, text: &str);

/// What the link encodes itself, in its dialect: the one indirection to
/// the dialect outside the reader thread (which is monomorphised), chosen
/// once per link. Code that may run on any thread (a refusal, a
/// connection closed with packets queued) replies through it.
pub(crate) struct WireOps {
    pub(crate) encode_reply: EncodeReply,
    pub(crate) encode_ping: fn(buf: &mut Vec<u8>, id: u32),
}

impl WireOps {
    fn of<D: Dialect>() -> WireOps {
        WireOps {
            encode_reply: D::encode_reply,
            encode_ping: D::encode_ping,
        }
    }
}

pub(crate) struct Shared {
    pub(crate) role: LinkRole,
    pub(crate) wire: WireOps,
    pub(crate) addrs: Arc<LinkAddrs>,
    state: AtomicU8,
    down: OnceLock<DownCause>,
    table: Mutex<ConnTable>,
    /// Connections the peer opened, waiting for `accept`. Its sender is
    /// in the table.
    accept_rx: QueueRx<Arc<ConnState>>,
    writer: Mutex<writer::Writer>,
    /// Packets waiting for the writer (see `outbox`).
    outbox: outbox::Outbox,
    /// The stream, to shut it down on close without waiting for a sender
    /// blocked in `write` under the writer lock.
    stream: Mutex<Option<Arc<dyn LinkStream>>>,
    /// Wakes the reader thread from its `poll` (a setting changed); taken
    /// and closed by the reader when it ends.
    waker: Mutex<Option<Arc<OwnedFd>>>,
    keep_closed: AtomicTimeout,
    spin: AtomicTimeout,
    recv_timeout: AtomicTimeout,
    write_timeout: AtomicTimeout,
    /// `(idle, timeout)` of dead-peer detection, or `None`.
    keepalive: Mutex<Option<(Duration, Duration)>>,
    /// Whether `keepalive` is `Some`, readable without its lock.
    keepalive_on: std::sync::atomic::AtomicBool,
    limits: LimitCells,
    counters: Counters,
    /// Threads asleep in a receive on one of the link's connections, and
    /// in `accept` (counted for tests only).
    pub(crate) recv_sleepers: wait::Sleepers,
    accept_sleepers: wait::Sleepers,
    /// The reader waits here for a conversation's receiver to make room
    /// (`wait_for_room`); `room_waiting` says it does, readable without
    /// the lock.
    room: Mutex<()>,
    room_cv: Condvar,
    room_waiting: AtomicBool,
    #[cfg(feature = "test-hooks")]
    hooks: hooks::Hooks,
}

/// One end of a link. Safe to use from many threads at once; dropping it
/// closes the link without waiting (see its `Drop`; [`close`](Self::close)
/// writes everything promised first).
///
/// ```
/// use neonet::{NodeLink, Packet};
/// let (client, server) = NodeLink::pair().unwrap();
/// let c = client.new_conn().unwrap();
/// c.send_pkt(Packet::new(0, 2, b"ping")).unwrap();
/// let s = server.accept().unwrap();
/// assert_eq!(s.recv_pkt().unwrap().payload(), b"ping");
/// ```
pub struct NodeLink<D: Dialect = Proto6> {
    shared: Arc<Shared>,
    /// The reader thread, joined by the first `close`; later closers wait
    /// on this lock until it is done.
    reader: Mutex<Option<JoinHandle<()>>>,
    dialect: PhantomData<D>,
}

impl<D: Dialect> NodeLink<D> {
    /// A link of dialect `D` over an established stream (after the
    /// handshake of that dialect, see
    /// [`NodeLink::handshake`](crate::NodeLink::handshake)). Spawns the
    /// link's reader thread.
    pub fn new<S: LinkStream>(stream: S, role: LinkRole) -> Result<NodeLink<D>> {
        let stream: Arc<dyn LinkStream> = Arc::new(stream);
        let addrs = Arc::new(LinkAddrs::new(stream.local_addr(), stream.peer_addr()));
        let new_err = |e: std::io::Error| Error::new(&addrs, None, Op::NewLink, ErrorKind::io(e));
        let waker = reader::new_waker().map_err(new_err)?;
        let (accept_tx, accept_rx) = crate::queue::unbounded();
        let counters = Counters::default();
        let shared = Arc::new(Shared {
            role,
            wire: WireOps::of::<D>(),
            addrs: addrs.clone(),
            state: AtomicU8::new(0),
            down: OnceLock::new(),
            table: Mutex::new(ConnTable::new::<D>(
                role,
                accept_tx,
                counters.queued.clone(),
            )),
            accept_rx,
            writer: Mutex::new(writer::Writer::new(stream.clone())),
            outbox: outbox::Outbox::default(),
            stream: Mutex::new(Some(stream.clone())),
            waker: Mutex::new(Some(Arc::new(waker))),
            keep_closed: AtomicTimeout::new(Some(KEEP_CLOSED)),
            spin: AtomicTimeout::new(Some(wait::DEFAULT_SPIN)),
            recv_timeout: AtomicTimeout::new(None),
            write_timeout: AtomicTimeout::new(None),
            keepalive: Mutex::new(None),
            keepalive_on: std::sync::atomic::AtomicBool::new(false),
            limits: LimitCells::new(Limits::default()),
            counters,
            recv_sleepers: wait::Sleepers::default(),
            accept_sleepers: wait::Sleepers::default(),
            room: Mutex::new(()),
            room_cv: Condvar::new(),
            room_waiting: AtomicBool::new(false),
            #[cfg(feature = "test-hooks")]
            hooks: hooks::Hooks::default(),
        });
        log::debug!("neonet {addrs}: link up ({role:?}, {})", D::NAME);
        let reader = reader::spawn::<D>(shared.clone(), stream).map_err(new_err)?;
        Ok(NodeLink {
            shared,
            reader: Mutex::new(Some(reader)),
            dialect: PhantomData,
        })
    }

    /// A connected (client, server) pair of links of dialect `D` over a
    /// socketpair, for tests and for embedding two nodes in one process.
    pub fn pair() -> Result<(NodeLink<D>, NodeLink<D>)> {
        let (a, b) = UnixStream::pair().map_err(|e| {
            let unnamed = Addr::Unix(None);
            Error::at(unnamed.clone(), unnamed, Op::NewLink, ErrorKind::io(e))
        })?;
        Ok((
            NodeLink::new(a, LinkRole::Client)?,
            NodeLink::new(b, LinkRole::Server)?,
        ))
    }

    /// Whether the link is still usable: neither closed nor down.
    pub fn is_up(&self) -> bool {
        self.shared.is_up()
    }

    /// Our role on this link.
    pub fn role(&self) -> LinkRole {
        self.shared.role
    }

    /// Local and peer address of the link's stream.
    pub fn addrs(&self) -> &LinkAddrs {
        &self.shared.addrs
    }

    /// Stops accepting: blocked `accept`s wake with `LinkNoListen`;
    /// connections queued for accept and later ones are refused
    /// ("connection refused"). Idempotent.
    pub fn close_accept(&self) {
        self.shared.state.fetch_or(NO_ACCEPT, SeqCst);
        // Closes the accept queue: wakes blocked acceptors.
        let tx = self.shared.table.lock().stop_accepting();
        drop(tx);
        self.shared.refuse_queued();
    }

    /// Closes the link: writes out what senders were promised (every
    /// packet whose `send` returned `Ok`; for at most the write timeout,
    /// or 5 s), wakes every blocked operation on the link
    /// and its connections (they fail with `LinkClosed`), closes the stream
    /// and joins the reader thread. Packets still arriving are dropped.
    /// Idempotent; returns once all that is done.
    pub fn close(&self) {
        let mut reader = self.reader.lock();
        let first = self.shared.state.fetch_or(CLOSED, SeqCst) & CLOSED == 0;
        // The reader may wait for a conversation's room: it must not.
        self.shared.wake_room();
        if first && !self.shared.has(DOWN) {
            let bound = self.shared.write_timeout.get().unwrap_or(CLOSE_FLUSH_LIMIT);
            self.shared.flush_on_close(Instant::now() + bound);
        }
        // Wakes the reader and any sender blocked in write: whatever they
        // wait for, nothing else may keep close from returning.
        self.shared.shut_down_stream();
        if let Some(handle) = reader.take() {
            let _ = handle.join();
        }
        self.shared.release();
    }

    /// Counts of the connection table, of queued bytes, and of what the
    /// limits and keepalive did.
    pub fn stats(&self) -> LinkStats {
        let (live_conns, tombstones) = self.shared.table.lock().counts();
        let c = &self.shared.counters;
        LinkStats {
            live_conns,
            tombstones,
            queued_bytes: c.queued.load(SeqCst),
            unsent_bytes: self.shared.outbox.unsent_bytes(),
            overflows: c.overflows.load(Relaxed),
            refused: c.refused.load(Relaxed),
            dropped_replies: c.dropped_replies.load(Relaxed),
            bad_requests: c.bad_requests.load(Relaxed),
            pings: c.pings.load(Relaxed),
            stray_answers: c.stray_answers.load(Relaxed),
            stream_waits: c.stream_waits.load(Relaxed),
        }
    }

    /// The memory limits of this link.
    pub fn limits(&self) -> Limits {
        self.shared.limits.get()
    }

    /// Sets the memory limits of this link (they apply to packets that
    /// arrive from now on).
    pub fn set_limits(&self, limits: Limits) {
        self.shared.limits.set(limits);
    }

    /// Sets how long closed connections opened by the peer are remembered
    /// (`KEEP_CLOSED` by default; shorter in tests). Applies to
    /// connections closed from now on.
    pub fn set_keep_closed(&self, keep: Duration) {
        self.shared.keep_closed.set(Some(keep));
    }

    /// Sets how long waiters (the reader thread, `recv`, `accept`) poll
    /// before they sleep (50 µs unless set).
    /// Zero disables polling.
    pub fn set_spin(&self, spin: Duration) {
        self.shared.spin.set(Some(spin));
    }

    /// Sets the receive timeout of connections created from now on (by
    /// `new_conn`, `accept`, `ask1`, `NodeLink::recv`): see
    /// [`Conn::set_recv_timeout`](crate::Conn::set_recv_timeout). `None` (the default): no bound.
    pub fn set_recv_timeout(&self, timeout: Option<Duration>) {
        self.shared.recv_timeout.set(timeout);
    }

    /// Bounds every write to the stream: one that makes no progress for
    /// `timeout` takes the link down with `ErrorKind::Timeout` (a packet
    /// partly written cannot be taken back), and every blocked sender and
    /// receiver then fails. `None` (the default): no bound. Fails if the
    /// stream cannot bound its writes.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        self.shared.write_timeout.set(timeout);
        let stream = self.shared.stream.lock().clone();
        match stream {
            Some(s) => s
                .set_write_timeout(timeout)
                .map_err(|e| self.err(Op::SetWriteTimeout, ErrorKind::io(e))),
            None => Err(self.err(Op::SetWriteTimeout, self.shared.closed_kind())),
        }
    }

    /// Dead-peer detection: with `Some((idle, timeout))`, after `idle` with
    /// nothing received the link sends `Ping` on a new connection of its
    /// own (and consumes the answer), and if nothing at all is received
    /// within `timeout` after that, the link goes down with
    /// `ErrorKind::Timeout` (the first receive on each connection reports
    /// it). `None` (the default): off. The reader thread sleeps in between,
    /// so an idle link still costs no CPU. The link never answers the
    /// peer's `Ping` itself: NEO uses it as a barrier behind earlier
    /// requests, so that is the application's job. Needs a stream with a
    /// descriptor ([`LinkStream::fd`]).
    pub fn set_keepalive(&self, keepalive: Option<(Duration, Duration)>) {
        *self.shared.keepalive.lock() = keepalive;
        self.shared.keepalive_on.store(keepalive.is_some(), SeqCst);
        self.shared.wake_reader();
    }

    /// Test hook (feature `test-hooks`): threads asleep in a receive on one
    /// of this link's connections (`ask1`'s included).
    #[cfg(feature = "test-hooks")]
    pub fn blocked_recvs(&self) -> usize {
        self.shared.recv_sleepers.count()
    }

    /// Test hook (feature `test-hooks`): threads asleep in `accept` (or
    /// `NodeLink::recv`) on this link.
    #[cfg(feature = "test-hooks")]
    pub fn blocked_accepts(&self) -> usize {
        self.shared.accept_sleepers.count()
    }

    /// Test hook (feature `test-hooks`): the next connection id `new_conn`
    /// tries (our parity).
    #[cfg(feature = "test-hooks")]
    pub fn set_next_conn_id(&self, id: u32) {
        self.shared.table.lock().set_next_id(id);
    }

    /// Test hook (feature `test-hooks`): at most `limit` connections of
    /// ours at once, to reach `TooManyConns` without opening 2^31 of them.
    #[cfg(feature = "test-hooks")]
    pub fn set_conn_limit(&self, limit: usize) {
        self.shared.table.lock().set_limit(limit);
    }

    /// Test hook (feature `test-hooks`): `hook(id)` runs on the reader
    /// thread after it looked up connection `id` for a packet and before
    /// it queues the packet on it (`None`: no hook). Races that need the
    /// reader between the two happen every time with it.
    #[cfg(feature = "test-hooks")]
    pub fn set_before_queue_hook(&self, hook: Option<std::sync::Arc<dyn Fn(u32) + Send + Sync>>) {
        self.shared.hooks.set_before_queue(hook);
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(crate) fn err(&self, op: Op, kind: ErrorKind) -> Error {
        Error::new(&self.shared.addrs, None, op, kind)
    }
}

/// Dropping a link closes it without waiting for the peer or for the
/// reader thread: unlike [`close`](NodeLink::close), it writes only what
/// the stream takes at once of what senders were promised (and TLS's
/// `close_notify`), and it does not join the reader. The stream is shut
/// down, which ends a sender's blocked write at once (the only thing drop
/// may wait for, to let go of the stream) and the reader by itself; the
/// descriptors close when the reader ends.
impl<D: Dialect> Drop for NodeLink<D> {
    fn drop(&mut self) {
        let Some(reader) = self.reader.get_mut().take() else {
            // `close` did all of it.
            return;
        };
        let first = self.shared.state.fetch_or(CLOSED, SeqCst) & CLOSED == 0;
        self.shared.wake_room();
        if first && !self.shared.has(DOWN) {
            // Sealed first: a sender that comes later fails instead of
            // queueing what nobody would write.
            self.shared.outbox.seal();
            self.shared.try_flush();
        }
        // As `close` does, without the join: the shut-down stream wakes
        // the reader (and any sender blocked in write), and the reader
        // drops the last reference to the stream as it ends.
        self.shared.shut_down_stream();
        self.shared.release();
        drop(reader);
    }
}

impl<D: Dialect> fmt::Debug for NodeLink<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeLink")
            .field("dialect", &D::NAME)
            .field("role", &self.shared.role)
            .field("addrs", &self.shared.addrs)
            .field("state", &self.shared.state.load(SeqCst))
            .finish()
    }
}

impl Shared {
    fn has(&self, bits: u8) -> bool {
        self.state.load(SeqCst) & bits != 0
    }

    /// Neither closed nor down.
    pub(crate) fn is_up(&self) -> bool {
        !self.has(CLOSED | DOWN)
    }

    /// `LinkClosed` or `LinkDown`, whichever the link is (`LinkDown` if
    /// neither).
    fn closed_kind(&self) -> ErrorKind {
        if self.has(CLOSED) {
            ErrorKind::LinkClosed
        } else {
            ErrorKind::LinkDown
        }
    }

    /// `LinkClosed` or `LinkDown` if the link can no longer be used.
    pub(crate) fn check_up(&self) -> Result<(), ErrorKind> {
        if self.is_up() {
            Ok(())
        } else {
            Err(self.closed_kind())
        }
    }

    /// The kind a `recv` on `conn` reports when the link is not up: the
    /// cause itself for the first `recv` after a receive error, else
    /// `LinkClosed` / `LinkDown`.
    pub(crate) fn down_kind_for_recv(&self, conn: &ConnState) -> ErrorKind {
        if self.has(CLOSED) {
            return ErrorKind::LinkClosed;
        }
        match self.down.get() {
            Some(c) if c.from_recv && conn.first_down_report() => c.kind.clone(),
            _ => ErrorKind::LinkDown,
        }
    }

    pub(crate) fn spin(&self) -> Duration {
        self.spin.get().unwrap_or_default()
    }

    pub(crate) fn new_conn_state(&self, stream: bool) -> Result<Arc<ConnState>, ErrorKind> {
        self.check_up()?;
        let timeout = self.recv_timeout.get();
        // A dead table (closed or down meanwhile) refuses too.
        self.table
            .lock()
            .new_conn(timeout, stream)
            .map_err(|NoFreeId| self.check_up().err().unwrap_or(ErrorKind::TooManyConns))
    }

    pub(crate) fn accept_state(
        &self,
        deadline: Option<Instant>,
    ) -> Result<Arc<ConnState>, ErrorKind> {
        loop {
            // What the peer sent before its link went down is still its
            // to give (NEO/py's last notifications before it closes, such
            // as a node declared DOWN): handed out before the link is
            // reported down. Closing or no longer accepting drops it.
            if self.gives_queued() && !self.is_up() {
                if let Some(c) = self.accept_rx.take() {
                    return Ok(c);
                }
            }
            self.check_accepting()?;
            match self
                .accept_rx
                .recv(self.spin(), deadline, &self.accept_sleepers)
            {
                Ok(c) => {
                    if self.gives_queued() {
                        return Ok(c);
                    }
                    self.refuse(c);
                }
                Err(WaitError::Timeout) => return Err(ErrorKind::Timeout),
                // Closed by close_accept, close or down: say which.
                Err(WaitError::Closed) => {
                    self.check_accepting()?;
                    return Err(ErrorKind::LinkDown);
                }
            }
        }
    }

    /// Whether a connection queued for accept is handed out: not once
    /// this end closed or stopped accepting (then it is refused).
    fn gives_queued(&self) -> bool {
        !self.has(CLOSED | NO_ACCEPT)
    }

    fn check_accepting(&self) -> Result<(), ErrorKind> {
        self.check_up()?;
        if self.has(NO_ACCEPT) {
            return Err(ErrorKind::LinkNoListen);
        }
        Ok(())
    }

    /// Refuses every connection queued for accept.
    fn refuse_queued(&self) {
        while let Some(c) = self.accept_rx.take() {
            self.refuse(c);
        }
    }

    /// Refuses a connection the peer opened that was queued for `accept`
    /// (we stopped accepting): nothing of it is kept. (Refusals because of
    /// a limit never reach the queue: the router counts those.)
    fn refuse(&self, conn: Arc<ConnState>) {
        let id = conn.id();
        // Before it leaves the table: see `ConnState::reset`.
        conn.mark_closed();
        let tx = self.table.lock().remove(&conn, None, true);
        drop(tx);
        conn.drain(self);
        if self.is_up() && conn.answers_closed() {
            self.reply(id, REPLY_REFUSED);
        }
    }

    /// Removes a closing connection from the table, leaving a tombstone
    /// if asked, and keeps its object for reuse if asked (one lock for
    /// both: this is on the per-request path of light mode).
    pub(crate) fn forget(&self, conn: &Arc<ConnState>, tombstone: bool, recycle: bool) {
        let keep = tombstone.then(|| self.keep_closed.get().unwrap_or_default());
        let tx = self.table.lock().remove(conn, keep, recycle);
        // Dropped outside the lock: the last sender wakes the receivers.
        drop(tx);
    }

    /// Closes `conn`'s queue, waking its receivers.
    pub(crate) fn disconnect(&self, conn: &Arc<ConnState>) {
        let tx = self.table.lock().disconnect(conn);
        drop(tx);
    }

    /// `bytes` were taken out of a queue: wakes the reader if it waits
    /// for room.
    pub(crate) fn unqueued(&self, bytes: usize) {
        self.counters.queued.fetch_sub(bytes, SeqCst);
        // Pairs with `wait_for_room`: the count is taken off before the
        // flag is read, and the reader sets the flag before it reads the
        // count, so one of the two sees the other.
        if self.room_waiting.load(SeqCst) {
            self.wake_room();
        }
    }

    /// Wakes the reader waiting for room (`wait_for_room`).
    fn wake_room(&self) {
        let _room = self.room.lock();
        self.room_cv.notify_all();
    }

    /// The reader thread, after queueing on a conversation: while it holds
    /// more than `limit`, waits until its receiver took it down to half,
    /// or stopped receiving, or the link ends. Nothing more is read from
    /// the stream meanwhile, so the peer's writes wait too: a conversation
    /// is bounded without losing anything (DESIGN §10).
    pub(crate) fn wait_for_room(&self, conn: &ConnState, limit: usize) {
        if conn.queued() <= limit {
            return;
        }
        Counters::bump(&self.counters.stream_waits);
        let mut room = self.room.lock();
        self.room_waiting.store(true, SeqCst);
        while conn.queued() > limit / 2 && !conn.is_recv_closed() && self.is_up() {
            self.room_cv.wait(&mut room);
        }
        self.room_waiting.store(false, SeqCst);
    }

    /// Drops `conn`'s queue because it went over a limit: its receivers
    /// get `Overflow`, the peer "connection closed".
    pub(crate) fn overflow(&self, conn: &Arc<ConnState>, why: &str) {
        if !conn.set_overflow() {
            return;
        }
        self.disconnect(conn);
        let dropped = conn.drain(self);
        Counters::bump(&self.counters.overflows);
        log::warn!(
            "neonet {}: conn {}: overflow ({why}): {dropped} queued packets dropped",
            self.addrs,
            conn.id()
        );
        self.reply_closed(conn);
    }

    /// The link holds more than its limit: the connections holding the
    /// most overflow until it holds at most 7/8 of it (see `Limits`).
    pub(crate) fn overflow_largest(&self, limit: usize) {
        let target = limit / 8 * 7;
        let by_size = self.table.lock().by_queued();
        for (_, conn) in by_size {
            if self.counters.queued.load(SeqCst) <= target {
                break;
            }
            self.overflow(&conn, "link queue limit");
        }
    }

    /// Answers "connection closed" on `conn`, unless the link never
    /// answers it (a NEO/py link answers only the peer's requests).
    pub(crate) fn reply_closed(&self, conn: &ConnState) {
        if self.is_up() && conn.answers_closed() {
            self.reply(conn.id(), REPLY_CLOSED);
        }
    }

    /// Takes the link down because of `kind` (the first cause is kept),
    /// and wakes everything blocked on it.
    fn go_down(&self, kind: ErrorKind, from_recv: bool) {
        if self.down.set(DownCause { kind, from_recv }).is_ok() && !self.has(CLOSED) {
            let cause = &self.down.get().expect("just set").kind;
            match cause.io_error() {
                Some(io) => log::info!("neonet {}: link down: {cause}: {io}", self.addrs),
                None => log::info!("neonet {}: link down: {cause}", self.addrs),
            }
        }
        self.state.fetch_or(DOWN, SeqCst);
        self.wake_room();
        // Wakes the reader and senders blocked in write, and the peer sees
        // the link close. Gone only if it was shut down already.
        if let Some(stream) = self.stream.lock().as_ref() {
            let _ = stream.shutdown();
        }
        self.kill_table();
    }

    /// Shuts the stream down and lets go of it. A stream leaves
    /// `self.stream` only shut down: whoever ends the link first (close,
    /// or the reader after the link went down) interrupts every write
    /// blocked on it, so no thread that waits for the writer can wait
    /// forever.
    pub(crate) fn shut_down_stream(&self) {
        if let Some(stream) = self.stream.lock().take() {
            let _ = stream.shutdown();
        }
    }

    /// Empties the table and closes every queue: every blocked `recv` and
    /// `accept` wakes, and sees the link closed or down.
    fn kill_table(&self) {
        let (txs, accept_tx) = self.table.lock().kill();
        drop((txs, accept_tx));
    }

    /// After close: drop everything the link held.
    fn release(&self) {
        // The reader's reference is gone with it: this drops the last one
        // and closes the descriptor.
        self.writer.lock().stream = None;
        self.kill_table();
        while self.accept_rx.take().is_some() {}
    }

    /// Graceful close: writes what senders were promised — what waits
    /// for the writer, then what the stream itself still holds (TLS), and
    /// ends the stream's session — by `deadline`. Senders that come later
    /// fail (the outbox is sealed).
    fn flush_on_close(&self, deadline: Instant) {
        self.outbox.seal();
        // Only what waits was promised: a sender still in its own write has
        // not returned `Ok`, and the shutdown that follows ends its write
        // (it fails with `LinkClosed`). Waiting for it would make every
        // close with a blocked sender take the whole bound.
        let owed = self.outbox.unsent() || self.stream_wants_write();
        let writer = match owed {
            true => self.writer.try_lock_until(deadline),
            false => self.writer.try_lock(),
        };
        let Some(mut w) = writer else {
            if owed {
                log::warn!(
                    "neonet {}: close: writer busy, queued packets dropped",
                    self.addrs
                );
            }
            return;
        };
        let res = self.write_all_queued(&mut w, deadline);
        if let Err(e) = res {
            log::warn!(
                "neonet {}: close: queued packets not written: {e}",
                self.addrs
            );
        }
    }

    /// Whether the stream holds bytes of its own it accepted (TLS).
    fn stream_wants_write(&self) -> bool {
        self.stream.lock().as_ref().is_some_and(|s| s.wants_write())
    }

    /// The keepalive setting (its lock taken only when it is on).
    pub(crate) fn keepalive(&self) -> Option<(Duration, Duration)> {
        if self.keepalive_on.load(SeqCst) {
            *self.keepalive.lock()
        } else {
            None
        }
    }

    /// Counts a request `NodeLink::recv` could not decode.
    pub(crate) fn count_bad_request(&self) {
        Counters::bump(&self.counters.bad_requests);
    }

    /// Wakes the reader thread so that it reads its settings again.
    fn wake_reader(&self) {
        if let Some(w) = self.waker.lock().as_ref() {
            reader::wake(w);
        }
    }
}
