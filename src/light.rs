//! Lightweight mode (ARCHITECTURE.md, "Connection ids"): one request, at most one reply, on a
//! connection of its own. This is how NEO/py talks, and the hot path of a
//! storage server, so it reuses connection objects and send buffers and
//! takes no lock beyond the link's table and writer mutexes.
//!
//! It is also all that a NEO/py link offers: there, the
//! "connection" of a light operation is one exchange of that dialect, our
//! request and its answer by msg_id, or the peer's request and our reply.
//! The operations take messages of either table ([`LinkMsg`],
//! [`LinkAsk`]); one of the other dialect than the link's is refused with
//! `ErrorKind::WrongDialect`.

use std::fmt;
use std::time::{Duration, Instant};

use crate::codec::{Dialect, LinkAsk, LinkMessages, LinkMsg};
use crate::conn::Conn;
use crate::error::{Error, ErrorKind, Op, Result};
use crate::link::NodeLink;
use crate::proto::{self, DecodeError, ErrorCode, Message};
use crate::{neopy, wait};

impl NodeLink {
    /// Sends `msg` on a new connection and forgets the connection. On a
    /// NEO/py link: sends it with the next msg_id of ours.
    pub fn send1<M: LinkMsg>(&self, msg: &M) -> Result<()> {
        self.check_dialect(M::DIALECT, Op::Send1)?;
        let send1 = |e: Error| e.with_op(Op::Send1);
        let conn = self.new_conn_light().map_err(send1)?;
        conn.send_any(msg).map_err(send1)
    }

    /// Sends the request `req` on a new connection, waits for its one
    /// answer and forgets the connection. The answer's type is the one the
    /// message table gives `req` ([`LinkAsk::Answer`]: e.g.
    /// `proto::AnswerObject` for `proto::GetObject`, `neopy::AnswerObject`
    /// for `neopy::AskObject`); an `Error` answer (other than the `ACK` of
    /// a request answered by `()`) is `ErrorKind::Peer`. The wait is
    /// bounded by the link's receive timeout
    /// ([`set_recv_timeout`](Self::set_recv_timeout)): past it, `Timeout`,
    /// and an answer that comes later is answered "connection closed"
    /// (protocol 6) or dropped and counted in
    /// [`LinkStats::stray_answers`](crate::LinkStats::stray_answers)
    /// (NEO/py).
    ///
    /// ```
    /// use neonet::{neopy, Dialect, NodeLink};
    ///
    /// let (client, server) = NodeLink::pair_with(Dialect::NeoPy)?;
    /// std::thread::spawn(move || {
    ///     let req = server.recv1_as::<neopy::Message>()?;
    ///     let ask: neopy::AskObject = req.msg_as()?;
    ///     req.reply(&neopy::AnswerObject { oid: ask.oid, ..Default::default() })
    /// });
    /// let obj = client.ask1(&neopy::AskObject { oid: 7, at: None, before: Some(9) })?;
    /// assert_eq!(obj.oid, 7); // a neopy::AnswerObject
    /// # Ok::<(), neonet::Error>(())
    /// ```
    pub fn ask1<R: LinkAsk>(&self, req: &R) -> Result<R::Answer> {
        self.check_dialect(R::DIALECT, Op::Ask1)?;
        let ask1 = |e: Error| e.with_op(Op::Ask1);
        let conn = self.new_conn_light().map_err(ask1)?;
        conn.send_any(req).map_err(ask1)?;
        let pkt = conn.recv_pkt().map_err(ask1)?;
        R::link_decode_answer(pkt).map_err(|k| conn.err(Op::Ask1, k))
    }

    /// Accepts a connection the peer opened and takes its first message,
    /// a protocol 6 message (on a NEO/py link, use
    /// [`recv1_as`](Self::recv1_as)). Receiving on it is closed at once:
    /// further packets the peer sends on it are answered "connection
    /// closed".
    ///
    /// A request that cannot be decoded (unknown code, malformed payload)
    /// is answered `Error(PROTOCOL_ERROR, what was wrong)`, counted in the
    /// stats (`bad_requests`), and skipped: one bad request never ends a
    /// server loop.
    pub fn recv1(&self) -> Result<Request> {
        self.recv1_until(None)
    }

    /// Like [`recv1`](Self::recv1), giving up with `ErrorKind::Timeout`
    /// after `timeout` (the link stays usable), so that a server loop can
    /// wake up periodically.
    pub fn recv1_timeout(&self, timeout: Duration) -> Result<Request> {
        self.recv1_until(wait::deadline(Some(timeout)))
    }

    /// Like [`recv1`](Self::recv1), for the message table `M` of the
    /// link's dialect: `recv1_as::<neopy::Message>()` on a NEO/py link
    /// (where it takes the peer's next request or notification),
    /// `recv1_as::<proto::Message>()` (= `recv1`) on a protocol 6 link.
    /// With the other table than the link's: `ErrorKind::WrongDialect`.
    ///
    /// Why a type to name rather than `recv1` returning whichever table the
    /// link speaks: a server loop matches `req.msg()` against one table's
    /// messages, and `reply` takes that table's messages only
    /// ([`Request::reply`]), so the compiler checks both; the link's
    /// dialect is known only at run time (a listener serves both), so
    /// asking for the wrong one is an error then. `recv1` keeps its type
    /// (`Request` is `Request<proto::Message>`), so protocol 6 code is
    /// unchanged.
    ///
    /// On a NEO/py link, a bad request is answered only if it names an
    /// answer (a notification expects nothing).
    pub fn recv1_as<M: LinkMessages>(&self) -> Result<Request<M>> {
        self.recv1_until(None)
    }

    /// Like [`recv1_as`](Self::recv1_as), giving up with
    /// `ErrorKind::Timeout` after `timeout`.
    pub fn recv1_as_timeout<M: LinkMessages>(&self, timeout: Duration) -> Result<Request<M>> {
        self.recv1_until(wait::deadline(Some(timeout)))
    }

    fn recv1_until<M: LinkMessages>(&self, deadline: Option<Instant>) -> Result<Request<M>> {
        self.recv1_loop(deadline).map_err(|e| e.with_op(Op::Recv1))
    }

    fn recv1_loop<M: LinkMessages>(&self, deadline: Option<Instant>) -> Result<Request<M>> {
        self.check_dialect(M::DIALECT, Op::Recv1)?;
        loop {
            let mut conn = self.accept_until(deadline)?;
            // A light connection never leaves a tombstone, whatever happens.
            conn.forget_on_close();
            let pkt = match conn.recv_pkt_until(deadline) {
                Ok(pkt) => pkt,
                // This connection alone failed (it overflowed): next.
                Err(_) if self.shared().is_up() => continue,
                Err(e) => return Err(e),
            };
            conn.close_recv_owned();
            match M::link_decode(pkt) {
                Ok(msg) => return Ok(Request { conn, msg }),
                Err(e) => self.refuse_bad_request(&conn, &e),
            }
        }
    }

    /// Fails `op` with `WrongDialect` if `msg` is not the link's dialect.
    pub(crate) fn check_dialect(&self, msg: Dialect, op: Op) -> Result<()> {
        let link = self.dialect();
        if msg == link {
            return Ok(());
        }
        Err(self.err(op, ErrorKind::WrongDialect { link, msg }))
    }

    /// Answers a request `recv1` could not decode.
    fn refuse_bad_request(&self, conn: &Conn, e: &DecodeError) {
        self.shared().count_bad_request();
        log::debug!(
            "neonet {}: conn {}: bad request: {e}",
            self.addrs(),
            conn.id()
        );
        let (code, message) = (ErrorCode::PROTOCOL_ERROR, e.to_string());
        // The link may be going down: recv1's next accept reports it.
        let _ = match self.dialect() {
            Dialect::Proto6 => conn.send(&proto::Error { code, message }),
            Dialect::NeoPy if conn.answers_closed() => {
                conn.send_any(&neopy::Error { code, message })
            }
            // A notification (or an unknown code): nothing waits for an
            // answer.
            Dialect::NeoPy => Ok(()),
        };
    }
}

/// A request received with [`NodeLink::recv1`] (or
/// [`recv1_as`](NodeLink::recv1_as)), whose message is one of the table
/// `M`: [`proto::Message`] by default, [`neopy::Message`] on a NEO/py
/// link. Answer it with [`reply`](Request::reply); dropping it forgets its
/// connection (no tombstone: the peer expects at most one reply).
///
/// ```
/// use neonet::proto::{AnswerLastTransaction, LastTransaction, Message};
/// use neonet::NodeLink;
///
/// let (client, server) = NodeLink::pair()?;
/// std::thread::spawn(move || {
///     while let Ok(req) = server.recv1() {
///         if let Message::LastTransaction(_) = req.msg() {
///             let _ = req.reply(&AnswerLastTransaction { tid: 0x03d3 });
///         }
///     }
/// });
/// assert_eq!(client.ask1(&LastTransaction {})?.tid, 0x03d3);
/// # Ok::<(), neonet::Error>(())
/// ```
pub struct Request<M: LinkMessages = Message> {
    conn: Conn,
    msg: M,
}

impl<M: LinkMessages> Request<M> {
    /// The request message.
    pub fn msg(&self) -> &M {
        &self.msg
    }

    /// The request message, decoded as a `T` (`UnexpectedMessage` if it
    /// is another one).
    pub fn msg_as<T: LinkMsg<Set = M>>(&self) -> Result<T> {
        // Checked before cloning: a mismatch clones nothing.
        let unexpected = || {
            let got = self.msg.link_name();
            self.conn.err(
                Op::Recv1,
                ErrorKind::UnexpectedMessage {
                    got,
                    expected: T::link_name(),
                },
            )
        };
        if self.msg.link_code() != T::link_code() {
            return Err(unexpected());
        }
        T::link_from_set(self.msg.clone()).map_err(|_| unexpected())
    }

    /// The request message, taken out of the request (the connection is
    /// forgotten: there is nothing to reply on any more).
    pub fn into_msg(self) -> M {
        self.msg
    }

    /// The id of the request's connection (on a NEO/py link: the request's
    /// msg_id, which the reply carries).
    pub fn conn_id(&self) -> u32 {
        self.conn.id()
    }

    /// Sends the answer, a message of the request's table (on a NEO/py
    /// link: with the request's msg_id).
    pub fn reply<R: LinkMsg<Set = M>>(&self, resp: &R) -> Result<()> {
        self.conn.send_any(resp).map_err(|e| e.with_op(Op::Reply))
    }

    /// Sends a message under the request's id before the answer: a
    /// streamed answer, as NEO/py's storages answer `AskFetchObjects` with
    /// `AddObject`s before `AnswerFetchObjects` (the asker takes them with
    /// [`NodeLink::ask_stream`]). Send as many as needed, then
    /// [`reply`](Self::reply). Each returns as `Conn::send` does: a peer
    /// that reads slowly slows the sender down.
    pub fn send<T: LinkMsg<Set = M>>(&self, msg: &T) -> Result<()> {
        self.conn.send_any(msg)
    }

    /// Forgets the request's connection (as dropping it does).
    pub fn close(self) {}
}

impl<M: LinkMessages> fmt::Debug for Request<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("conn", &self.conn)
            .field("msg", &self.msg)
            .finish()
    }
}
