//! A connection: one of the many independent exchanges multiplexed over a
//! link (ARCHITECTURE.md, "Connections"): the public handle, [`Conn`], and
//! the link's operations that give one (`new_conn`, `accept`). Its state,
//! shared with the link's table and reader, is `link/state.rs`.

use std::fmt;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::codec::{decode_answer, decode_as, decode_message, Dialect, Msg};
use crate::error::{Error, ErrorKind, Op, Result};
use crate::link::state::{ConnState, CLOSED, OVERFLOW, OVERFLOW_REPORTED, RECV_CLOSED};
use crate::link::{NodeLink, Shared};
use crate::packet::Packet;
use crate::proto::Proto6;
use crate::proto::{Ask, Message};
use crate::queue::WaitError;
use crate::wait;

/// The connections of a link, in any dialect (light mode and streamed
/// answers open theirs too).
impl<D: Dialect> NodeLink<D> {
    /// `new_conn` in any dialect: the connection of one light operation.
    pub(crate) fn new_conn_light(&self) -> Result<Conn> {
        self.new_conn_of(false)
    }

    /// A new connection in any dialect, a conversation if `stream` (see
    /// [`ask_stream`](Self::ask_stream)).
    pub(crate) fn new_conn_of(&self, stream: bool) -> Result<Conn> {
        let state = self
            .shared()
            .new_conn_state(stream)
            .map_err(|k| self.err(Op::NewConn, k))?;
        Ok(Conn::new(state, self.shared().clone()))
    }

    /// `accept` waiting until `deadline` at most.
    pub(crate) fn accept_until(&self, deadline: Option<Instant>) -> Result<Conn> {
        let state = self
            .shared()
            .accept_state(deadline)
            .map_err(|k| self.err(Op::Accept, k))?;
        Ok(Conn::new(state, self.shared().clone()))
    }
}

/// Connections: protocol 6 only (NEO/py has one-packet exchanges, see
/// light mode and [`ask_stream`](NodeLink::ask_stream)).
impl NodeLink<Proto6> {
    /// Opens a connection with the next id of our parity. Nothing is sent.
    pub fn new_conn(&self) -> Result<Conn> {
        self.new_conn_light()
    }

    /// Blocks until the peer opens a connection, and returns it with its
    /// first packet queued.
    pub fn accept(&self) -> Result<Conn> {
        self.accept_until(None)
    }

    /// A connection the peer opened if one waits, without blocking:
    /// `Ok(None)` if none does.
    pub fn try_accept(&self) -> Result<Option<Conn>> {
        wait::none_if_empty(self.accept_until(Some(Instant::now())))
    }

    /// Like [`accept`](Self::accept), giving up with `ErrorKind::Timeout`
    /// after `timeout` (the link stays usable), so that a server loop can
    /// wake up periodically.
    pub fn accept_timeout(&self, timeout: Duration) -> Result<Conn> {
        self.accept_until(wait::deadline(Some(timeout)))
    }

    /// Like [`accept`](Self::accept), giving up at `deadline`.
    pub fn accept_deadline(&self, deadline: Instant) -> Result<Conn> {
        self.accept_until(Some(deadline))
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
        decode_as::<M>(pkt).map_err(|e| self.err(Op::Expect, e.into()))
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
        decode_answer::<R>(pkt).map_err(|e| self.err(Op::Ask, e.into()))
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
            let got = self
                .state
                .rx
                .recv(self.link.spin(), deadline, &self.link.recv_sleepers);
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
    /// `NodeLink::recv`): nobody else can be waiting, so the queue stays connected
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
