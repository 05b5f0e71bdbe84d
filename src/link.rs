//! NodeLink: one end of a link between two nodes, multiplexing many
//! connections over one stream (DESIGN §2–§5).

mod outbox;
mod reader;
pub(crate) mod table;
mod writer;

use std::fmt;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

use crate::conn::{Conn, ConnState};
use crate::error::{Error, ErrorKind, LinkAddrs, Result};
use crate::stream::LinkStream;
use crate::wait;
use table::{ConnTable, NoFreeId};

pub use outbox::{REPLY_CLOSED, REPLY_REFUSED};

/// How long a connection the peer opened is remembered after we close it.
pub const KEEP_CLOSED: Duration = Duration::from_secs(60);

/// Which end of the link we are (DESIGN §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRole {
    /// The end that dialed: opens connections with odd ids.
    Client,
    /// The end that accepted: opens connections with even ids.
    Server,
}

impl LinkRole {
    /// The first id of a connection we open.
    pub fn first_id(self) -> u32 {
        match self {
            LinkRole::Server => 0,
            LinkRole::Client => 1,
        }
    }

    /// Whether connection `id` is one this end opens.
    pub fn owns(self, id: u32) -> bool {
        id % 2 == self.first_id()
    }
}

/// Counts of a link's connection table (see [`NodeLink::stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStats {
    /// Connections in use.
    pub live_conns: usize,
    /// Ids of closed connections kept for `KEEP_CLOSED`.
    pub tombstones: usize,
}

// Link state bits.
const CLOSED: u8 = 1;
const DOWN: u8 = 2;
const NO_ACCEPT: u8 = 4;

/// Why the link went down.
struct DownCause {
    kind: ErrorKind,
    /// It was the reader that failed (reported by the first `recv` on
    /// each connection, DESIGN §4).
    from_recv: bool,
}

/// What the accept queue carries.
enum Accepted {
    Conn(Arc<ConnState>),
    /// Wakes blocked acceptors; put back by whoever takes it.
    Wake,
}

/// The state of a link shared by its handle, its connections and its
/// reader thread.
pub(crate) struct Shared {
    pub(crate) role: LinkRole,
    pub(crate) addrs: LinkAddrs,
    state: AtomicU8,
    down: OnceLock<DownCause>,
    table: Mutex<ConnTable>,
    accept_tx: Sender<Accepted>,
    accept_rx: Receiver<Accepted>,
    writer: Mutex<writer::Writer>,
    /// Packets waiting for the writer (see `outbox`).
    outbox: outbox::Outbox,
    /// The stream, to shut it down on close without waiting for a sender
    /// blocked in `write` under the writer lock.
    stream: Mutex<Option<Arc<dyn LinkStream>>>,
    keep_closed: AtomicDuration,
    spin: AtomicDuration,
}

/// One end of a link. Safe to use from many threads at once; dropping it
/// closes the link.
///
/// ```
/// use neonet::{NodeLink, Packet};
/// let (client, server) = NodeLink::pair().unwrap();
/// let c = client.new_conn().unwrap();
/// c.send_pkt(Packet::new(0, 2, b"ping")).unwrap();
/// let s = server.accept().unwrap();
/// assert_eq!(s.recv_pkt().unwrap().payload(), b"ping");
/// ```
pub struct NodeLink {
    shared: Arc<Shared>,
    /// The reader thread, joined by the first `close`; later closers wait
    /// on this lock until it is done.
    reader: Mutex<Option<JoinHandle<()>>>,
}

impl NodeLink {
    /// A link over an established stream (after the handshake, see
    /// [`NodeLink::handshake`](crate::NodeLink::handshake)). Spawns the
    /// link's reader thread.
    pub fn new<S: LinkStream>(stream: S, role: LinkRole) -> Result<NodeLink> {
        let stream: Arc<dyn LinkStream> = Arc::new(stream);
        let addrs = LinkAddrs::new(stream.local_addr(), stream.peer_addr());
        let (accept_tx, accept_rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            role,
            addrs,
            state: AtomicU8::new(0),
            down: OnceLock::new(),
            table: Mutex::new(ConnTable::new(role)),
            accept_tx,
            accept_rx,
            writer: Mutex::new(writer::Writer::new(stream.clone())),
            outbox: outbox::Outbox::default(),
            stream: Mutex::new(Some(stream.clone())),
            keep_closed: AtomicDuration::new(KEEP_CLOSED),
            spin: AtomicDuration::new(wait::DEFAULT_SPIN),
        });
        let reader = reader::spawn(shared.clone(), stream)
            .map_err(|e| Error::new(&shared.addrs, None, "newlink", ErrorKind::io(e)))?;
        Ok(NodeLink {
            shared,
            reader: Mutex::new(Some(reader)),
        })
    }

    /// A connected (client, server) pair of links over a socketpair, for
    /// tests and for embedding two nodes in one process.
    pub fn pair() -> Result<(NodeLink, NodeLink)> {
        let (a, b) = UnixStream::pair().map_err(|e| {
            let addrs = LinkAddrs::new("socketpair", "socketpair");
            Error::new(&addrs, None, "newlink", ErrorKind::io(e))
        })?;
        Ok((
            NodeLink::new(a, LinkRole::Client)?,
            NodeLink::new(b, LinkRole::Server)?,
        ))
    }

    /// Our role on this link.
    pub fn role(&self) -> LinkRole {
        self.shared.role
    }

    /// Local and peer address of the link's stream.
    pub fn addrs(&self) -> &LinkAddrs {
        &self.shared.addrs
    }

    /// Opens a connection with the next id of our parity. Nothing is sent.
    pub fn new_conn(&self) -> Result<Conn> {
        let state = self
            .shared
            .new_conn_state()
            .map_err(|k| self.err("newconn", k))?;
        Ok(Conn::new(state, self.shared.clone()))
    }

    /// Blocks until the peer opens a connection, and returns it with its
    /// first packet queued.
    pub fn accept(&self) -> Result<Conn> {
        let state = self
            .shared
            .accept_state()
            .map_err(|k| self.err("accept", k))?;
        Ok(Conn::new(state, self.shared.clone()))
    }

    /// Stops accepting: blocked `accept`s wake with `LinkNoListen`;
    /// connections queued for accept and later ones are refused
    /// ("connection refused"). Idempotent.
    pub fn close_accept(&self) {
        self.shared.state.fetch_or(NO_ACCEPT, SeqCst);
        self.shared.refuse_queued();
    }

    /// Closes the link: wakes every blocked operation on it and its
    /// connections (they fail with `LinkClosed`), closes the stream and
    /// joins the reader thread. Idempotent; returns once all that is done.
    pub fn close(&self) {
        let mut reader = self.reader.lock();
        self.shared.state.fetch_or(CLOSED, SeqCst);
        if let Some(stream) = self.shared.stream.lock().take() {
            // Wakes the reader and any sender blocked in write.
            let _ = stream.shutdown();
        }
        if let Some(handle) = reader.take() {
            let _ = handle.join();
        }
        // The reader's reference is gone with it: this drops the last one
        // and closes the descriptor.
        self.shared.writer.lock().stream = None;
        // Wakes every blocked accept and recv.
        self.shared.release_all();
    }

    /// Counts of the connection table.
    pub fn stats(&self) -> LinkStats {
        let (live_conns, tombstones) = self.shared.table.lock().counts();
        LinkStats {
            live_conns,
            tombstones,
        }
    }

    /// Sets how long closed connections opened by the peer are remembered
    /// (`KEEP_CLOSED` by default; shorter in tests). Applies to
    /// connections closed from now on.
    pub fn set_keep_closed(&self, keep: Duration) {
        self.shared.keep_closed.set(keep);
    }

    /// Sets how long waiters (the reader thread, `recv`, `accept`) poll
    /// before they sleep ([`DEFAULT_SPIN`](crate::DEFAULT_SPIN) unless set).
    /// Zero disables polling.
    pub fn set_spin(&self, spin: Duration) {
        self.shared.spin.set(spin);
    }

    /// For tests: the next connection id `new_conn` tries (our parity).
    #[doc(hidden)]
    pub fn set_next_conn_id(&self, id: u32) {
        self.shared.table.lock().set_next_id(id);
    }

    /// For tests: at most `limit` connections of ours at once, to reach
    /// `TooManyConns` without opening 2^31 of them.
    #[doc(hidden)]
    pub fn set_conn_limit(&self, limit: usize) {
        self.shared.table.lock().set_limit(limit);
    }

    fn err(&self, op: &'static str, kind: ErrorKind) -> Error {
        Error::new(&self.shared.addrs, None, op, kind)
    }
}

impl Drop for NodeLink {
    fn drop(&mut self) {
        self.close();
    }
}

impl fmt::Debug for NodeLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeLink")
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

    /// `LinkClosed` or `LinkDown` if the link can no longer be used.
    pub(crate) fn check_up(&self) -> Result<(), ErrorKind> {
        if self.has(CLOSED) {
            Err(ErrorKind::LinkClosed)
        } else if self.has(DOWN) {
            Err(ErrorKind::LinkDown)
        } else {
            Ok(())
        }
    }

    /// The kind a `recv` on `conn` reports when the link is not up: the
    /// cause itself for the first `recv` after a receive error, else
    /// `LinkClosed` / `LinkDown` (DESIGN §4).
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
        self.spin.get()
    }

    fn new_conn_state(&self) -> Result<Arc<ConnState>, ErrorKind> {
        self.check_up()?;
        let state = self
            .table
            .lock()
            .new_conn()
            .map_err(|NoFreeId| ErrorKind::TooManyConns)?;
        // A close that raced with us cleared the table before we inserted.
        if let Err(k) = self.check_up() {
            self.table.lock().remove(&state, None);
            return Err(k);
        }
        Ok(state)
    }

    fn accept_state(&self) -> Result<Arc<ConnState>, ErrorKind> {
        loop {
            self.check_accepting()?;
            match wait::recv(&self.accept_rx, self.spin()) {
                Ok(Accepted::Conn(c)) => {
                    if self.check_accepting().is_ok() {
                        return Ok(c);
                    }
                    self.refuse(c);
                }
                Ok(Accepted::Wake) => {
                    let _ = self.accept_tx.send(Accepted::Wake);
                    self.check_accepting()?;
                }
                Err(_) => unreachable!("the link holds both ends of its accept queue"),
            }
        }
    }

    fn check_accepting(&self) -> Result<(), ErrorKind> {
        self.check_up()?;
        if self.has(NO_ACCEPT) {
            return Err(ErrorKind::LinkNoListen);
        }
        Ok(())
    }

    /// Queues a connection the peer opened for `accept`; refuses it if we
    /// stopped accepting meanwhile.
    fn queue_accept(&self, conn: Arc<ConnState>) {
        let _ = self.accept_tx.send(Accepted::Conn(conn));
        // close_accept may have drained the queue between our check and
        // the send: drain again so nothing stays stuck in it.
        if self.has(NO_ACCEPT) {
            self.refuse_queued();
        }
    }

    /// Refuses every connection queued for accept.
    fn refuse_queued(&self) {
        while let Ok(item) = self.accept_rx.try_recv() {
            if let Accepted::Conn(c) = item {
                self.refuse(c);
            }
        }
        let _ = self.accept_tx.send(Accepted::Wake);
    }

    /// Refuses a connection the peer opened: nothing of it is kept.
    fn refuse(&self, conn: Arc<ConnState>) {
        let id = conn.id();
        {
            let mut table = self.table.lock();
            table.remove(&conn, None);
        }
        conn.drain();
        self.recycle(conn);
        if self.is_up() {
            self.reply(id, REPLY_REFUSED);
        }
    }

    /// Removes a closing connection from the table, leaving a tombstone
    /// if asked, and keeps its object for reuse if asked (one lock for
    /// both: this is on the per-request path of light mode).
    pub(crate) fn forget(&self, conn: &Arc<ConnState>, tombstone: bool, recycle: bool) {
        let up = self.is_up();
        let keep = (tombstone && up).then(|| self.keep_closed.get());
        let mut table = self.table.lock();
        table.remove(conn, keep);
        if recycle && up {
            table.recycle(conn.clone());
        }
    }

    /// Keeps a closed connection object for reuse.
    pub(crate) fn recycle(&self, conn: Arc<ConnState>) {
        if self.is_up() {
            self.table.lock().recycle(conn);
        }
    }

    /// Answers "connection closed" on `id`.
    pub(crate) fn reply_closed(&self, id: u32) {
        if self.is_up() {
            self.reply(id, REPLY_CLOSED);
        }
    }

    /// Takes the link down because of `kind` (the first cause is kept),
    /// and wakes everything blocked on it.
    fn go_down(&self, kind: ErrorKind, from_recv: bool) {
        let _ = self.down.set(DownCause { kind, from_recv });
        self.state.fetch_or(DOWN, SeqCst);
        // Wakes the reader and senders blocked in write, and the peer sees
        // the link close. Gone only if a local close shut it down already.
        if let Some(stream) = self.stream.lock().as_ref() {
            let _ = stream.shutdown();
        }
        self.wake_all();
    }

    /// Wakes every blocked `accept` and `recv`.
    fn wake_all(&self) {
        let live = self.table.lock().live();
        for c in live {
            c.wake();
        }
        let _ = self.accept_tx.send(Accepted::Wake);
    }

    /// After close: drop everything the link held for its connections.
    fn release_all(&self) {
        let live = self.table.lock().drain_live();
        for c in live {
            c.wake();
        }
        while let Ok(item) = self.accept_rx.try_recv() {
            drop(item);
        }
        let _ = self.accept_tx.send(Accepted::Wake);
    }
}

/// A `Duration` settable while other threads read it (in nanoseconds,
/// saturating at `u64::MAX`: 584 years).
struct AtomicDuration(AtomicU64);

impl AtomicDuration {
    fn new(d: Duration) -> AtomicDuration {
        AtomicDuration(AtomicU64::new(Self::nanos(d)))
    }

    fn get(&self) -> Duration {
        Duration::from_nanos(self.0.load(SeqCst))
    }

    fn set(&self, d: Duration) {
        self.0.store(Self::nanos(d), SeqCst);
    }

    fn nanos(d: Duration) -> u64 {
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
    }
}
