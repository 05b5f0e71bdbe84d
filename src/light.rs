//! Lightweight mode (DESIGN §8): one request, at most one reply, on a
//! connection of its own. This is how NEO/py talks, and the hot path of a
//! storage server, so it reuses connection objects and send buffers and
//! takes no lock beyond the link's table and writer mutexes.

use std::fmt;

use crate::conn::{decode_message, Conn};
use crate::error::{ErrorKind, Result};
use crate::link::NodeLink;
use crate::proto::{Ask, Message, Msg};

impl NodeLink {
    /// Sends `msg` on a new connection and forgets the connection.
    pub fn send1<M: Msg>(&self, msg: &M) -> Result<()> {
        let conn = self.new_conn()?;
        conn.send(msg)
    }

    /// Sends the request `req` on a new connection, waits for its one
    /// answer and forgets the connection. The answer's type is the one the
    /// message table gives `req` ([`Ask::Answer`]); an `Error` answer
    /// (other than the `ACK` of a request answered by `()`) is
    /// `ErrorKind::Peer`.
    pub fn ask1<R: Ask>(&self, req: &R) -> Result<R::Answer> {
        let conn = self.new_conn()?;
        conn.ask(req)
    }

    /// Accepts a connection the peer opened and takes its first message.
    /// Receiving on it is closed at once: further packets the peer sends on
    /// it are answered "connection closed".
    pub fn recv1(&self) -> Result<Request> {
        let mut conn = self.accept()?;
        let pkt = conn.recv_pkt()?;
        conn.close_recv();
        let msg = decode_message(pkt).map_err(|e| conn.err("decode", ErrorKind::Decode(e)))?;
        conn.forget_on_close();
        Ok(Request { conn, msg })
    }
}

/// A request received with [`NodeLink::recv1`]. Answer it with
/// [`reply`](Request::reply); dropping it forgets its connection (no
/// tombstone: the peer expects at most one reply).
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
                "decode",
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

    /// The id of the request's connection.
    pub fn conn_id(&self) -> u32 {
        self.conn.id()
    }

    /// Sends the answer.
    pub fn reply<M: Msg>(&self, resp: &M) -> Result<()> {
        self.conn.send(resp)
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
