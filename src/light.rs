//! Lightweight mode (ARCHITECTURE.md, "Connection ids"): one request, at most one reply, on a
//! connection of its own. This is how NEO/py talks, and the hot path of a
//! storage server, so it reuses connection objects and send buffers and
//! takes no lock beyond the link's table and writer mutexes.
//!
//! It is also all that a NEO/py link offers: there, the
//! "connection" of a light operation is one exchange of that dialect, our
//! request and its answer by msg_id, or the peer's request and our reply.
//! The operations take messages of either table ([`Msg`],
//! [`Ask`]); one of the other dialect than the link's is refused with
//! `ErrorKind::WrongDialect`.

use std::fmt;
use std::time::{Duration, Instant};

use crate::codec::{decode_answer, decode_message, Ask, Dialect, Messages, Msg, Proto6};
use crate::conn::Conn;
use crate::error::{Error, ErrorKind, Op, Result};
use crate::link::NodeLink;
use crate::proto::{DecodeError, ErrorCode};
use crate::wait;

impl<D: Dialect> NodeLink<D> {
    /// Sends `msg` on a new connection and forgets the connection. On a
    /// NEO/py link: sends it with the next msg_id of ours.
    pub fn send1<M: Msg<Dialect = D>>(&self, msg: &M) -> Result<()> {
        let send1 = |e: Error| e.with_op(Op::Send1);
        let conn = self.new_conn_light().map_err(send1)?;
        conn.send_any(msg).map_err(send1)
    }

    /// Sends the request `req` on a new connection, waits for its one
    /// answer and forgets the connection. The answer's type is the one the
    /// message table gives `req` ([`Ask::Answer`]: e.g.
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
    /// use neonet::{neopy, NeoPy, NodeLink};
    ///
    /// let (client, server) = NodeLink::<NeoPy>::pair()?;
    /// std::thread::spawn(move || {
    ///     let req = server.recv()?;
    ///     let ask: neopy::AskObject = req.msg_as()?;
    ///     req.reply(&neopy::AnswerObject { oid: ask.oid, ..Default::default() })
    /// });
    /// let obj = client.ask1(&neopy::AskObject { oid: 7, at: None, before: Some(9) })?;
    /// assert_eq!(obj.oid, 7); // a neopy::AnswerObject
    /// # Ok::<(), neonet::Error>(())
    /// ```
    pub fn ask1<R: Ask<Dialect = D>>(&self, req: &R) -> Result<R::Answer> {
        let ask1 = |e: Error| e.with_op(Op::Ask1);
        let conn = self.new_conn_light().map_err(ask1)?;
        conn.send_any(req).map_err(ask1)?;
        let pkt = conn.recv_pkt().map_err(ask1)?;
        decode_answer::<R>(pkt).map_err(|k| conn.err(Op::Ask1, k))
    }

    /// Takes the next request (or notification) the peer sent, as a
    /// [`Request`] of the link's table: on a protocol 6 link, the first
    /// message of a connection the peer opened (receiving on it is closed
    /// at once: further packets on it are answered "connection closed");
    /// on a NEO/py link, the peer's next packet that is not an answer.
    /// Waits for as long as it takes, as `accept` does (the `_timeout`
    /// and `_deadline` forms bound the wait).
    ///
    /// A request that cannot be decoded (unknown code, malformed payload)
    /// is answered `Error(PROTOCOL_ERROR, what was wrong)` (on NEO/py, if
    /// it is a request: a notification expects nothing), counted in the
    /// stats (`bad_requests`), and skipped: one bad request never ends a
    /// server loop.
    pub fn recv(&self) -> Result<Request<D>> {
        self.recv_until(None)
    }

    /// The next request if one is there, without waiting: `Ok(None)` if
    /// none is.
    pub fn try_recv(&self) -> Result<Option<Request<D>>> {
        wait::none_if_empty(self.recv_until(Some(Instant::now())))
    }

    /// Like [`recv`](Self::recv), giving up with `ErrorKind::Timeout`
    /// after `timeout` (the link stays usable), so that a server loop can
    /// wake up periodically.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Request<D>> {
        self.recv_until(wait::deadline(Some(timeout)))
    }

    /// Like [`recv`](Self::recv), giving up at `deadline`.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<Request<D>> {
        self.recv_until(Some(deadline))
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<Request<D>> {
        self.recv_loop(deadline).map_err(|e| e.with_op(Op::Recv1))
    }

    fn recv_loop(&self, deadline: Option<Instant>) -> Result<Request<D>> {
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
            match decode_message::<D::Message>(pkt) {
                Ok(msg) => return Ok(Request { conn, msg }),
                Err(e) => self.refuse_bad_request(&conn, &e),
            }
        }
    }

    /// Answers a request `recv` could not decode.
    fn refuse_bad_request(&self, conn: &Conn, e: &DecodeError) {
        self.shared().count_bad_request();
        log::debug!(
            "neonet {}: conn {}: bad request: {e}",
            self.addrs(),
            conn.id()
        );
        // A NEO/py notification (or unknown code): nothing waits for an
        // answer. The link may be going down: the next `recv` reports it.
        if conn.answers_closed() {
            let _ = conn.send_any(&D::error(ErrorCode::PROTOCOL_ERROR, e.to_string()));
        }
    }
}

/// A request received with [`NodeLink::recv`], whose message is one of
/// the table of the link's dialect `D`: [`proto::Message`] by default,
/// [`neopy::Message`](crate::neopy::Message) on a NEO/py link. Answer it
/// with [`reply`](Request::reply); dropping it forgets its connection (no
/// tombstone: the peer expects at most one reply).
///
/// ```
/// use neonet::proto::{AnswerLastTransaction, LastTransaction, Message};
/// use neonet::NodeLink;
///
/// let (client, server) = NodeLink::pair()?;
/// std::thread::spawn(move || {
///     while let Ok(req) = server.recv() {
///         if let Message::LastTransaction(_) = req.msg() {
///             let _ = req.reply(&AnswerLastTransaction { tid: 0x03d3 });
///         }
///     }
/// });
/// assert_eq!(client.ask1(&LastTransaction {})?.tid, 0x03d3);
/// # Ok::<(), neonet::Error>(())
/// ```
pub struct Request<D: Dialect = Proto6> {
    conn: Conn,
    msg: D::Message,
}

impl<D: Dialect> Request<D> {
    /// The request message.
    pub fn msg(&self) -> &D::Message {
        &self.msg
    }

    /// The request message, decoded as a `T` (`UnexpectedMessage` if it
    /// is another one).
    pub fn msg_as<T: Msg<Dialect = D>>(&self) -> Result<T> {
        // Checked before cloning: a mismatch clones nothing.
        let unexpected = || {
            let got = self.msg.name();
            self.conn.err(
                Op::Recv1,
                ErrorKind::UnexpectedMessage {
                    got,
                    expected: T::NAME,
                },
            )
        };
        if self.msg.code() != T::CODE {
            return Err(unexpected());
        }
        T::from_message(self.msg.clone()).map_err(|_| unexpected())
    }

    /// The request message, taken out of the request (the connection is
    /// forgotten: there is nothing to reply on any more).
    pub fn into_msg(self) -> D::Message {
        self.msg
    }

    /// The id of the request's connection (on a NEO/py link: the request's
    /// msg_id, which the reply carries).
    pub fn conn_id(&self) -> u32 {
        self.conn.id()
    }

    /// Sends the answer, a message of the link's table (on a NEO/py link:
    /// with the request's msg_id).
    pub fn reply<R: Msg<Dialect = D>>(&self, resp: &R) -> Result<()> {
        self.conn.send_any(resp).map_err(|e| e.with_op(Op::Reply))
    }

    /// Sends a message under the request's id before the answer: a
    /// streamed answer, as NEO/py's storages answer `AskFetchObjects` with
    /// `AddObject`s before `AnswerFetchObjects` (the asker takes them with
    /// [`NodeLink::ask_stream`]). Send as many as needed, then
    /// [`reply`](Self::reply). Each returns as `Conn::send` does: a peer
    /// that reads slowly slows the sender down.
    pub fn send<T: Msg<Dialect = D>>(&self, msg: &T) -> Result<()> {
        self.conn.send_any(msg)
    }

    /// Forgets the request's connection (as dropping it does).
    pub fn close(self) {}
}

impl<D: Dialect> fmt::Debug for Request<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("conn", &self.conn)
            .field("msg", &self.msg)
            .finish()
    }
}
