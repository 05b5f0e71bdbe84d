//! A connection: one of the many independent exchanges multiplexed over a
//! link (ARCHITECTURE.md, "Connections").
//!
//! # Receive queues close themselves
//!
//! Each connection's receive queue is a crossbeam channel whose only
//! `Sender` belongs to the link's connection table (the reader thread
//! borrows a clone per packet). Closing the connection, closing receiving,
//! an overflow, or the link going down drops that `Sender`: every receiver
//! blocked on the queue wakes with "disconnected" and reads the reason
//! from the connection's flags and the link's state, which were set
//! before. There is no wake-up token to send, count or put back, and a
//! deadline is the channel's own `recv_deadline`.
//!
//! Connection objects (with their channel) are reused for later
//! connections, as light mode opens one per request: only an object whose
//! channel is still connected can be, which is why dropping a `Conn` (no
//! other thread can be receiving on it then) keeps the `Sender`, and only
//! an explicit `close`/`close_recv` (others may be blocked) drops it.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::codec::{decode_answer, decode_as, decode_message, Msg, Proto6};
use crate::error::{Error, ErrorKind, Op, Result};
use crate::link::limits::cost;
use crate::link::Shared;
use crate::packet::Packet;
use crate::proto::{Ask, Message};
use crate::wait::{self, AtomicTimeout, WaitError};

const CLOSED: u8 = 1;
const RECV_CLOSED: u8 = 2;
/// The first `recv` after the link went down reported the cause.
const DOWN_REPORTED: u8 = 4;
/// The queue went over its limit and was dropped (implies `RECV_CLOSED`).
const OVERFLOW: u8 = 8;
/// The first `recv` after the overflow reported it.
const OVERFLOW_REPORTED: u8 = 16;
/// The link never answers packets of this connection itself ("connection
/// closed"): on a NEO/py link, where only requests are answered, our
/// requests' connections (their packets are answers) and the peer's
/// notifications.
const QUIET: u8 = 32;
/// A conversation of ours ([`AnswerStream`](crate::AnswerStream)): on a
/// NEO/py link, the peer's notifications under its msg_id come to it; a
/// full queue makes the reader wait for room instead of overflowing.
const STREAM: u8 = 64;

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
    flags: AtomicU8,
    /// Bytes queued and not yet received, as counted by `limits::cost`:
    /// added by the reader thread before it queues a packet, taken off by
    /// whoever takes it out.
    queued: AtomicUsize,
    /// Bound on each receive.
    recv_timeout: AtomicTimeout,
    rx: Receiver<Packet>,
}

impl ConnState {
    /// A new connection object and the `Sender` of its queue (kept by the
    /// link's table), for table key `key`; `quiet`: see `QUIET`.
    pub(crate) fn new(
        key: u64,
        recv_timeout: Option<Duration>,
        kind: ConnKind,
    ) -> (Arc<ConnState>, Sender<Packet>) {
        // Unbounded: the reader thread must never block on a slow receiver
        // (no head-of-line blocking between connections); the limits bound
        // it instead (`link::limits`).
        let (tx, rx) = crossbeam_channel::unbounded();
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
        debug_assert!(self.rx.is_empty(), "a freed connection still held packets");
        while let Ok(pkt) = self.rx.try_recv() {
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
    fn set(&self, flag: u8) -> bool {
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
    fn uncount(&self, pkt: &Packet, link: &Shared) {
        let c = cost(pkt);
        self.queued.fetch_sub(c, SeqCst);
        link.unqueued(c);
    }

    /// Empties the queue; returns how many packets it held.
    pub(crate) fn drain(&self, link: &Shared) -> usize {
        let mut n = 0;
        while let Ok(pkt) = self.rx.try_recv() {
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

/// A connection over a [`NodeLink`](crate::NodeLink).
///
/// Safe to use from many threads at once (share it by reference or in an
/// `Arc`). Dropping it closes it.
///
/// ```
/// use neonet::proto::{AnswerObject, GetObject};
/// use neonet::NodeLink;
///
/// let (client, server) = NodeLink::pair()?;
/// let conn = client.new_conn()?;
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         let peer = server.accept()?;
///         let get: GetObject = peer.expect()?;
///         peer.send(&AnswerObject { oid: get.oid, ..Default::default() })
///     });
///     // The answer's type comes from the message table.
///     let obj = conn.ask(&GetObject { oid: 1, at: 2, before: 3 })?;
///     assert_eq!(obj.oid, 1);
///     Ok::<(), neonet::Error>(())
/// })?;
/// # Ok::<(), neonet::Error>(())
/// ```
pub struct Conn {
    state: Arc<ConnState>,
    link: Arc<Shared>,
    /// Closing leaves a tombstone if the peer opened the connection; light
    /// mode forgets the id instead.
    tombstone: bool,
}

impl Conn {
    pub(crate) fn new(state: Arc<ConnState>, link: Arc<Shared>) -> Conn {
        Conn {
            state,
            link,
            tombstone: true,
        }
    }

    /// Whether the link answers "connection closed" on it (see `QUIET`):
    /// on a NEO/py link, whether it is a request of the peer's.
    pub(crate) fn answers_closed(&self) -> bool {
        self.state.answers_closed()
    }

    /// Closing will forget the id, leaving no tombstone (light mode).
    pub(crate) fn forget_on_close(&mut self) {
        self.tombstone = false;
    }

    /// The connection id (see the crate docs, "Connection ids").
    pub fn id(&self) -> u32 {
        self.state.id()
    }

    /// Bounds each later receive on this connection that has no bound of
    /// its own (`recv`, `recv_pkt`, `expect`, `ask`): one that waits
    /// longer fails with `ErrorKind::Timeout`, and the connection stays
    /// usable (a packet that comes later goes to the next receive).
    /// `None`: no bound. New connections start with the link's default
    /// ([`NodeLink::set_recv_timeout`](crate::NodeLink::set_recv_timeout)).
    /// The `_timeout` and `_deadline` receives bound themselves.
    pub fn set_recv_timeout(&self, timeout: Option<Duration>) {
        self.state.recv_timeout.set(timeout);
    }

    /// The bound on each receive without one of its own (see
    /// [`Conn::set_recv_timeout`]).
    pub fn default_recv_timeout(&self) -> Option<Duration> {
        self.state.recv_timeout.get()
    }

    /// The deadline of a receive that starts now with the default bound.
    fn default_deadline(&self) -> Option<Instant> {
        wait::deadline(self.state.recv_timeout.get())
    }

    /// Sends a packet on this connection; its conn id is set to ours.
    ///
    /// Returns once the packet is written to the stream, or, if another
    /// thread is writing at that moment and the packet is small, once it
    /// is queued for that thread to write right after (in order: what one
    /// thread sends on a connection arrives in the order it was sent).
    /// An error of that later write takes the link down, which every
    /// later operation reports; a `close` of the link writes what is
    /// queued before it shuts the stream.
    pub fn send_pkt(&self, mut pkt: Packet) -> Result<()> {
        self.check_open()?;
        pkt.set_conn_id(self.id());
        self.link
            .write(pkt.as_bytes())
            .map_err(|k| self.err(Op::Send, k))
    }

    /// Fails with `ClosedConn` if the connection is closed (the link's
    /// state is checked by the write itself).
    fn check_open(&self) -> Result<()> {
        if self.state.is_closed() {
            return Err(self.err(Op::Send, ErrorKind::ClosedConn));
        }
        Ok(())
    }

    /// Sends a message; returns like [`Conn::send_pkt`].
    pub fn send<M: Msg<Dialect = Proto6>>(&self, msg: &M) -> Result<()> {
        self.send_any(msg)
    }

    /// Sends a message of the link's dialect (light mode: any table).
    pub(crate) fn send_any<M: Msg>(&self, msg: &M) -> Result<()> {
        self.check_open()?;
        self.link
            .write_msg(self.id(), msg)
            .map_err(|k| self.err(Op::Send, k))
    }

    /// Receives the next message, whatever it is, waiting at most the
    /// connection's default bound ([`set_recv_timeout`](Self::set_recv_timeout)).
    pub fn recv(&self) -> Result<Message> {
        self.recv_deadline_opt(self.default_deadline())
    }

    /// The next message if one is there, without waiting: `Ok(None)` if
    /// none is.
    pub fn try_recv(&self) -> Result<Option<Message>> {
        wait::none_if_empty(self.recv_deadline(Instant::now()))
    }

    /// Receives the next message, waiting at most `timeout`
    /// (`ErrorKind::Timeout` then; the connection stays usable).
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Message> {
        self.recv_deadline_opt(wait::deadline(Some(timeout)))
    }

    /// Receives the next message, waiting until `deadline` at most.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<Message> {
        self.recv_deadline_opt(Some(deadline))
    }

    fn recv_deadline_opt(&self, deadline: Option<Instant>) -> Result<Message> {
        let pkt = self.recv_pkt_until(deadline)?;
        decode_message::<Message>(pkt).map_err(|e| self.err(Op::Recv, ErrorKind::Decode(e)))
    }

    /// Receives the next message, which must be an `M`; anything else is
    /// `UnexpectedMessage`.
    pub fn expect<M: Msg<Dialect = Proto6>>(&self) -> Result<M> {
        let pkt = self.recv_pkt().map_err(|e| e.with_op(Op::Expect))?;
        decode_as::<M>(pkt).map_err(|k| self.err(Op::Expect, k))
    }

    /// Sends the request `req` and receives its answer, of the type the
    /// message table gives it ([`Ask::Answer`]: e.g. `AnswerObject` for
    /// `GetObject`, `()` for a request acknowledged with `Error(ACK)`). An
    /// `Error` answer (other than that `ACK`) is `ErrorKind::Peer` with the
    /// peer's code and text; anything else is `UnexpectedMessage`.
    pub fn ask<R: Ask<Dialect = Proto6>>(&self, req: &R) -> Result<R::Answer> {
        let ask = |e: Error| e.with_op(Op::Ask);
        self.send(req).map_err(ask)?;
        let pkt = self.recv_pkt().map_err(ask)?;
        decode_answer::<R>(pkt).map_err(|k| self.err(Op::Ask, k))
    }

    /// Receives the next packet, blocking until one arrives, the
    /// connection or link is closed, or the connection's default bound
    /// passes ([`set_recv_timeout`](Self::set_recv_timeout)).
    pub fn recv_pkt(&self) -> Result<Packet> {
        self.recv_pkt_until(self.default_deadline())
    }

    /// The next packet if one is there, without waiting: `Ok(None)` if
    /// none is.
    pub fn try_recv_pkt(&self) -> Result<Option<Packet>> {
        wait::none_if_empty(self.recv_pkt_until(Some(Instant::now())))
    }

    /// Receives the next packet, waiting at most `timeout`.
    pub fn recv_pkt_timeout(&self, timeout: Duration) -> Result<Packet> {
        self.recv_pkt_until(wait::deadline(Some(timeout)))
    }

    /// Receives the next packet, waiting until `deadline` at most.
    pub fn recv_pkt_deadline(&self, deadline: Instant) -> Result<Packet> {
        self.recv_pkt_until(Some(deadline))
    }

    /// Receives the next packet, waiting until `deadline` at most.
    pub(crate) fn recv_pkt_until(&self, deadline: Option<Instant>) -> Result<Packet> {
        loop {
            if self.state.is_recv_closed() {
                return Err(self.recv_err());
            }
            let got = match self.state.rx.try_recv() {
                Ok(pkt) => Ok(pkt),
                Err(TryRecvError::Disconnected) => Err(WaitError::Closed),
                Err(TryRecvError::Empty) => wait::recv(
                    &self.state.rx,
                    self.link.spin(),
                    deadline,
                    &self.link.recv_sleepers,
                ),
            };
            let pkt = match got {
                Ok(pkt) => pkt,
                Err(WaitError::Timeout) => return Err(self.err(Op::Recv, ErrorKind::Timeout)),
                Err(WaitError::Closed) => return Err(self.recv_err()),
            };
            self.state.uncount(&pkt, &self.link);
            if !self.state.is_recv_closed() {
                return Ok(pkt);
            }
            // It was queued when receiving was closed: the closer drained
            // the queue, and we took this one before it could.
            self.link.reply_closed(&self.state);
        }
    }

    /// Why receiving failed: the connection's state first (closed,
    /// overflowed), then the link's (the precedence rules of ARCHITECTURE.md,
    /// "Receive queues close themselves").
    fn recv_err(&self) -> Error {
        let flags = self.state.flags.load(SeqCst);
        let kind = if flags & CLOSED != 0 {
            ErrorKind::ClosedConn
        } else if flags & OVERFLOW != 0 {
            if self.state.set(OVERFLOW_REPORTED) {
                ErrorKind::Overflow
            } else {
                ErrorKind::ClosedConn
            }
        } else if flags & RECV_CLOSED != 0 {
            ErrorKind::ClosedConn
        } else {
            self.link.down_kind_for_recv(&self.state)
        };
        self.err(Op::Recv, kind)
    }

    /// Stops receiving: blocked `recv`s wake with `ClosedConn`; packets
    /// already queued and later ones are answered "connection closed".
    /// Sending still works. Idempotent.
    pub fn close_recv(&self) {
        if self.state.set(RECV_CLOSED) {
            // Wakes the blocked receivers: see the module docs.
            self.link.disconnect(&self.state);
            self.discard_queue();
        }
    }

    /// `close_recv` by the only user of the connection (light mode's
    /// `recv1`): nobody else can be waiting, so the queue stays connected
    /// and the object can be reused.
    pub(crate) fn close_recv_owned(&self) {
        if self.state.set(RECV_CLOSED) {
            self.discard_queue();
        }
    }

    /// Closes both directions. Blocked `recv`s wake with `ClosedConn`;
    /// later `send`/`recv` fail with `ClosedConn`. Idempotent.
    pub fn close(&self) {
        self.close_and(false);
    }

    /// Closes the connection. `dropping` (from `Drop`: no other thread can
    /// use it) keeps the object for reuse if its queue is still connected.
    fn close_and(&self, dropping: bool) {
        if !self.state.set(CLOSED) {
            return;
        }
        let recv_was_open = self.state.set(RECV_CLOSED);
        self.link.forget(&self.state, self.tombstone, dropping);
        if recv_was_open {
            self.discard_queue();
        }
    }

    /// Drops what is queued, answering "connection closed" once if
    /// anything was.
    fn discard_queue(&self) {
        if self.state.drain(&self.link) > 0 {
            self.link.reply_closed(&self.state);
        }
    }

    /// An error of operation `op` on this connection.
    pub(crate) fn err(&self, op: Op, kind: ErrorKind) -> Error {
        Error::new(&self.link.addrs, Some(self.id()), op, kind)
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.close_and(true);
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("id", &self.id())
            .field("link", &self.link.addrs)
            .field("closed", &self.state.is_closed())
            .finish()
    }
}
