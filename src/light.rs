//! Lightweight mode (ARCHITECTURE.md, "Connection ids"): one request, at most one reply, on a
//! connection of its own. This is how NEO/py talks, and the hot path of a
//! storage server, so it reuses connection objects and send buffers and
//! takes no lock beyond the link's table and writer mutexes.

use std::fmt;
use std::time::{Duration, Instant};

use crate::conn::{decode_message, Conn};
use crate::error::{Error, ErrorKind, Op, Result};
use crate::link::NodeLink;
use crate::proto::{self, Ask, DecodeError, ErrorCode, Message, Msg};
use crate::wait;

impl NodeLink {
    /// Sends `msg` on a new connection and forgets the connection.
    pub fn send1<M: Msg>(&self, msg: &M) -> Result<()> {
        let send1 = |e: Error| e.with_op(Op::Send1);
        let conn = self.new_conn().map_err(send1)?;
        conn.send(msg).map_err(send1)
    }

    /// Sends the request `req` on a new connection, waits for its one
    /// answer and forgets the connection. The answer's type is the one the
    /// message table gives `req` ([`Ask::Answer`]); an `Error` answer
    /// (other than the `ACK` of a request answered by `()`) is
    /// `ErrorKind::Peer`. The wait is bounded by the link's receive timeout
    /// ([`set_recv_timeout`](Self::set_recv_timeout)): past it, `Timeout`,
    /// and an answer that comes later is answered "connection closed".
    pub fn ask1<R: Ask>(&self, req: &R) -> Result<R::Answer> {
        let ask1 = |e: Error| e.with_op(Op::Ask1);
        let conn = self.new_conn().map_err(ask1)?;
        conn.ask(req).map_err(ask1)
    }

    /// Accepts a connection the peer opened and takes its first message.
    /// Receiving on it is closed at once: further packets the peer sends on
    /// it are answered "connection closed".
    ///
    /// A request that cannot be decoded (unknown code, malformed payload)
    /// is answered `Error(PROTOCOL_ERROR, what was wrong)`, counted in the
    /// stats (`bad_requests`), and skipped: one bad request never ends a
    /// server loop.
    pub fn recv1(&self) -> Result<Request> {
        self.recv1_until(None).map_err(|e| e.with_op(Op::Recv1))
    }

    /// Like [`recv1`](Self::recv1), giving up with `ErrorKind::Timeout`
    /// after `timeout` (the link stays usable), so that a server loop can
    /// wake up periodically.
    pub fn recv1_timeout(&self, timeout: Duration) -> Result<Request> {
        self.recv1_until(wait::deadline(Some(timeout)))
            .map_err(|e| e.with_op(Op::Recv1))
    }

    fn recv1_until(&self, deadline: Option<Instant>) -> Result<Request> {
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
            match decode_message(pkt) {
                Ok(msg) => return Ok(Request { conn, msg }),
                Err(e) => self.refuse_bad_request(&conn, &e),
            }
        }
    }

    /// Answers a request `recv1` could not decode.
    fn refuse_bad_request(&self, conn: &Conn, e: &DecodeError) {
        self.shared().count_bad_request();
        log::debug!(
            "neonet {}: conn {}: bad request: {e}",
            self.addrs(),
            conn.id()
        );
        let answer = proto::Error {
            code: ErrorCode::PROTOCOL_ERROR,
            message: e.to_string(),
        };
        // The link may be going down: recv1's next accept reports it.
        let _ = conn.send(&answer);
    }
}

/// A request received with [`NodeLink::recv1`]. Answer it with
/// [`reply`](Request::reply); dropping it forgets its connection (no
/// tombstone: the peer expects at most one reply).
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
pub struct Request {
    conn: Conn,
    msg: Message,
}

impl Request {
    /// The request message.
    pub fn msg(&self) -> &Message {
        &self.msg
    }

    /// The request message, decoded as an `M` (`UnexpectedMessage` if it
    /// is another one).
    pub fn msg_as<M: Msg>(&self) -> Result<M> {
        // Checked before cloning: a mismatch clones nothing.
        let unexpected = || {
            let got = self.msg.name();
            self.conn.err(
                Op::Recv1,
                ErrorKind::UnexpectedMessage {
                    got,
                    expected: M::NAME,
                },
            )
        };
        if self.msg.code() != M::CODE {
            return Err(unexpected());
        }
        M::from_message(self.msg.clone()).map_err(|_| unexpected())
    }

    /// The request message, taken out of the request (the connection is
    /// forgotten: there is nothing to reply on any more).
    pub fn into_msg(self) -> Message {
        self.msg
    }

    /// The id of the request's connection.
    pub fn conn_id(&self) -> u32 {
        self.conn.id()
    }

    /// Sends the answer.
    pub fn reply<M: Msg>(&self, resp: &M) -> Result<()> {
        self.conn.send(resp).map_err(|e| e.with_op(Op::Reply))
    }

    /// Forgets the request's connection (as dropping it does).
    pub fn close(self) {}
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("conn", &self.conn)
            .field("msg", &self.msg)
            .finish()
    }
}
