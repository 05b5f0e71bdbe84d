//! A connection: one of the many independent exchanges multiplexed over a
//! link (DESIGN §3).

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use crate::error::{Error, ErrorKind, Result};
use crate::link::Shared;
use crate::packet::{Packet, HEADER_SIZE};
use crate::proto::{
    message_name, Answer, AnswerError, Ask, DecodeError, Message, Msg, Payload, BIG_FIELD,
};
use crate::wait;

/// What a connection's receive queue carries.
pub(crate) enum Item {
    /// A packet from the peer.
    Pkt(Packet),
    /// Wakes a blocked receiver after close or link down. A receiver that
    /// takes it puts it back, so that every blocked receiver wakes. Sent
    /// only while a receiver waits (see `ConnState::waiters`).
    Wake,
}

const CLOSED: u8 = 1;
const RECV_CLOSED: u8 = 2;
/// The first `recv` after the link went down reported the cause.
const DOWN_REPORTED: u8 = 4;

/// The state of a connection shared by its `Conn` handle, the link's table
/// and the reader thread. Reused for later connections (DESIGN §8): every
/// field can be reset.
pub(crate) struct ConnState {
    id: AtomicU32,
    flags: AtomicU8,
    /// How many receivers wait in the queue (polling or blocked). A waker
    /// pushes `Item::Wake` only if some do: in light mode, three of them
    /// per round trip were pushed for nobody and drained on reuse.
    waiters: AtomicUsize,
    tx: Sender<Item>,
    rx: Receiver<Item>,
}

impl ConnState {
    pub(crate) fn new(id: u32) -> ConnState {
        // Unbounded: the reader thread must never block on a slow receiver
        // (no head-of-line blocking between connections).
        let (tx, rx) = crossbeam_channel::unbounded();
        ConnState {
            id: AtomicU32::new(id),
            flags: AtomicU8::new(0),
            waiters: AtomicUsize::new(0),
            tx,
            rx,
        }
    }

    /// Prepares a recycled connection for `id`. Called with the only
    /// reference to it, under the table lock.
    pub(crate) fn reset(&self, id: u32) {
        while self.rx.try_recv().is_ok() {}
        self.id.store(id, SeqCst);
        self.flags.store(0, SeqCst);
    }

    pub(crate) fn id(&self) -> u32 {
        self.id.load(SeqCst)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.flags.load(SeqCst) & CLOSED != 0
    }

    pub(crate) fn is_recv_closed(&self) -> bool {
        self.flags.load(SeqCst) & (CLOSED | RECV_CLOSED) != 0
    }

    /// Sets `flag`; true if this call set it.
    fn set(&self, flag: u8) -> bool {
        self.flags.fetch_or(flag, SeqCst) & flag == 0
    }

    /// Queues a packet for the receivers. Unbounded, so it never blocks.
    pub(crate) fn push(&self, pkt: Packet) {
        // The channel cannot be disconnected: we hold both ends.
        let _ = self.tx.send(Item::Pkt(pkt));
    }

    /// Wakes the receivers waiting in the queue, if any. Sound without a
    /// lock because both sides use `SeqCst`: the waker changed the flags or
    /// the link's state before looking at `waiters`, a waiter counted
    /// itself before looking at them (see `Conn::wait_item`), so at least
    /// one of the two sees the other.
    pub(crate) fn wake(&self) {
        if self.waiters.load(SeqCst) > 0 {
            let _ = self.tx.send(Item::Wake);
        }
    }

    /// Empties the queue; returns how many packets it held. Wakes any
    /// blocked receiver again, as the queue may have held its wake-up.
    pub(crate) fn drain(&self) -> usize {
        let mut n = 0;
        while let Ok(item) = self.rx.try_recv() {
            n += matches!(item, Item::Pkt(_)) as usize;
        }
        self.wake();
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
pub struct Conn {
    state: Arc<ConnState>,
    link: Arc<Shared>,
    /// Closing leaves a tombstone if the peer opened the connection; light
    /// mode forgets the id instead (DESIGN §8).
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

    /// Closing will forget the id, leaving no tombstone (light mode).
    pub(crate) fn forget_on_close(&mut self) {
        self.tombstone = false;
    }

    /// The connection id (DESIGN §2).
    pub fn id(&self) -> u32 {
        self.state.id()
    }

    /// Sends a packet on this connection; its conn id is set to ours.
    ///
    /// Returns once the packet is written to the stream, or, if another
    /// thread is writing at that moment and the packet is small, once it
    /// is queued for that thread to write right after (in order: what one
    /// thread sends on a connection arrives in the order it was sent).
    /// An error of that later write takes the link down, which every
    /// later operation reports.
    pub fn send_pkt(&self, mut pkt: Packet) -> Result<()> {
        self.check_open()?;
        pkt.set_conn_id(self.id());
        self.link
            .write(pkt.as_bytes())
            .map_err(|k| self.err("send", k))
    }

    /// Fails with `ClosedConn` if the connection is closed (the link's
    /// state is checked by the write itself).
    fn check_open(&self) -> Result<()> {
        if self.state.is_closed() {
            return Err(self.err("send", ErrorKind::ClosedConn));
        }
        Ok(())
    }

    /// Sends a message; returns like [`Conn::send_pkt`].
    pub fn send<M: Msg>(&self, msg: &M) -> Result<()> {
        self.check_open()?;
        self.link
            .write_msg(self.id(), msg)
            .map_err(|k| self.err("send", k))
    }

    /// Receives the next message, whatever it is.
    pub fn recv(&self) -> Result<Message> {
        let pkt = self.recv_pkt()?;
        decode_message(pkt).map_err(|e| self.err("decode", ErrorKind::Decode(e)))
    }

    /// Receives the next message, which must be an `M`; anything else is
    /// `UnexpectedMessage`.
    pub fn expect<M: Msg>(&self) -> Result<M> {
        let pkt = self.recv_pkt()?;
        decode_as::<M>(pkt).map_err(|k| self.err("decode", k))
    }

    /// Sends the request `req` and receives its answer, of the type the
    /// message table gives it ([`Ask::Answer`]: e.g. `AnswerObject` for
    /// `GetObject`, `()` for a request acknowledged with `Error(ACK)`). An
    /// `Error` answer (other than that `ACK`) is `ErrorKind::Peer` with the
    /// peer's code and text; anything else is `UnexpectedMessage`.
    pub fn ask<R: Ask>(&self, req: &R) -> Result<R::Answer> {
        self.send(req)?;
        let pkt = self.recv_pkt()?;
        decode_answer::<R::Answer>(pkt).map_err(|k| self.err("decode", k))
    }

    /// Receives the next packet, blocking until one arrives or the
    /// connection or link is closed.
    pub fn recv_pkt(&self) -> Result<Packet> {
        loop {
            if self.state.is_recv_closed() {
                return Err(self.err("recv", ErrorKind::ClosedConn));
            }
            let item = match self.state.rx.try_recv() {
                Ok(item) => item,
                Err(_) if !self.link.is_up() => return Err(self.recv_err()),
                Err(_) => self.wait_item()?,
            };
            match item {
                Item::Pkt(pkt) if self.state.is_recv_closed() => {
                    // It was queued when receiving was closed.
                    self.link.reply_closed(self.id());
                    drop(pkt);
                }
                Item::Pkt(pkt) => return Ok(pkt),
                Item::Wake => {
                    self.state.wake();
                    if self.state.is_recv_closed() || !self.link.is_up() {
                        return Err(self.recv_err());
                    }
                    // A stale wake-up (spurious): wait again.
                }
            }
        }
    }

    /// Waits for the next item of the queue, counted as a waiter so that
    /// a close or the link going down wakes us (see `ConnState::wake`).
    fn wait_item(&self) -> Result<Item> {
        self.state.waiters.fetch_add(1, SeqCst);
        // Closed or down before we were counted: nobody will wake us.
        let item = if self.state.is_recv_closed() || !self.link.is_up() {
            None
        } else {
            wait::recv(&self.state.rx, self.link.spin()).ok()
        };
        self.state.waiters.fetch_sub(1, SeqCst);
        match item {
            Some(item) => Ok(item),
            None if self.state.is_recv_closed() || !self.link.is_up() => Err(self.recv_err()),
            None => unreachable!("conn holds both ends of its queue"),
        }
    }

    fn recv_err(&self) -> Error {
        if self.state.is_recv_closed() {
            return self.err("recv", ErrorKind::ClosedConn);
        }
        self.err("recv", self.link.down_kind_for_recv(&self.state))
    }

    /// Stops receiving: blocked `recv`s wake with `ClosedConn`; packets
    /// already queued and later ones are answered "connection closed".
    /// Sending still works. Idempotent.
    pub fn close_recv(&self) {
        if self.state.set(RECV_CLOSED) {
            self.discard_queue();
        }
    }

    /// Closes both directions. Blocked `recv`s wake with `ClosedConn`;
    /// later `send`/`recv` fail with `ClosedConn`. Idempotent.
    pub fn close(&self) {
        self.close_and(false);
    }

    /// Closes the connection; with `recycle` (on drop), also hands its
    /// object to the link for reuse, under the same table lock.
    fn close_and(&self, recycle: bool) {
        if !self.state.set(CLOSED) {
            if recycle {
                self.link.recycle(self.state.clone());
            }
            return;
        }
        self.link.forget(&self.state, self.tombstone, recycle);
        if !self.state.set(RECV_CLOSED) {
            // close_recv already answered what was queued; just wake.
            self.state.wake();
            return;
        }
        self.discard_queue();
    }

    /// Drops what is queued (answering "connection closed" once, if
    /// anything was) and wakes blocked receivers.
    fn discard_queue(&self) {
        if self.state.drain() > 0 {
            self.link.reply_closed(self.id());
        }
    }

    /// An error of operation `op` on this connection.
    pub(crate) fn err(&self, op: &'static str, kind: ErrorKind) -> Error {
        Error::new(&self.link.addrs, Some(self.id()), op, kind)
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Not reused before this handle's reference is gone: the table
        // reuses only objects nobody else holds.
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

/// Decodes `pkt` as an `M`; anything else is `UnexpectedMessage`.
pub(crate) fn decode_as<M: Msg>(pkt: Packet) -> Result<M, ErrorKind> {
    let code = pkt.msg_code();
    if code == M::CODE {
        return with_payload(pkt, M::decode_payload).map_err(ErrorKind::Decode);
    }
    Err(unexpected(code, M::NAME))
}

/// Decodes `pkt` as the answer `A` to a request: an `Error` message (but
/// the `ACK` that `()` expects) is `ErrorKind::Peer`.
pub(crate) fn decode_answer<A: Answer>(pkt: Packet) -> Result<A, ErrorKind> {
    let code = pkt.msg_code();
    with_payload(pkt, |payload| A::from_answer(code, payload)).map_err(|e| match e {
        AnswerError::Peer(e) => ErrorKind::Peer {
            code: e.code,
            message: e.message,
        },
        AnswerError::Unexpected(code) => unexpected(code, A::ANSWER_NAME),
        AnswerError::Decode(e) => ErrorKind::Decode(e),
    })
}

/// The error for a message of code `code` where `expected` was expected.
fn unexpected(code: u16, expected: &'static str) -> ErrorKind {
    match message_name(code) {
        Some(got) => ErrorKind::UnexpectedMessage { got, expected },
        // Not a message we know: the decode error names the code.
        None => ErrorKind::Decode(DecodeError::unknown_code(code)),
    }
}

/// Decodes `pkt` as whichever message its code says.
pub(crate) fn decode_message(pkt: Packet) -> Result<Message, DecodeError> {
    let code = pkt.msg_code();
    with_payload(pkt, |payload| Message::decode_payload(code, payload))
}

/// Hands a packet's payload to a decoder: a big one as the shared packet
/// buffer, so that its large fields (object data) share it instead of
/// being copied out of it; a small one as a slice, which costs no extra
/// allocation.
fn with_payload<T>(pkt: Packet, decode: impl FnOnce(Payload<'_>) -> T) -> T {
    if pkt.payload().len() < BIG_FIELD {
        return decode(Payload::Bytes(pkt.payload()));
    }
    decode(Payload::Shared(&Arc::new(pkt.into_bytes()), HEADER_SIZE))
}
