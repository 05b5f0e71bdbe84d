//! Streamed answers (DESIGN §10): a request whose answer comes after any
//! number of other messages under the same id.
//!
//! NEO/py's storages answer the replication requests `AskFetchTransactions`
//! and `AskFetchObjects` with a stream of `AddTransaction` / `AddObject`
//! notifications carrying the *requester's* msg_id, then the answer. The
//! asking side opens the exchange with [`NodeLink::ask_stream`] and takes
//! its messages in order with [`AnswerStream::recv`]; the serving side
//! sends them with [`Request::send`](crate::Request::send) before its
//! [`reply`](crate::Request::reply).
//!
//! Memory stays bounded without losing anything: when a conversation
//! holds more than the per-connection limit
//! ([`Limits::conn_queue_bytes`](crate::Limits::conn_queue_bytes)), the
//! link's reader stops reading until the receiver has taken it down to
//! half (counted in [`LinkStats::stream_waits`](crate::LinkStats::stream_waits)),
//! so the peer's writes wait instead of the queue growing. Meanwhile
//! nothing else arrives on that link: a conversation is for a link that
//! carries it (NEO/py opens a link per replication source), or one read
//! promptly.

use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use crate::codec::{decode_answer, decode_message, Ask, Dialect, MessageOf};
use crate::conn::Conn;
use crate::error::{Error, Op, Result};
use crate::link::NodeLink;
use crate::wait;
use crate::ErrorKind;

/// One message of a streamed answer: a message the peer sent under the
/// request's id before its answer, or the answer, which ends it.
#[derive(Debug, Clone, PartialEq)]
pub enum Streamed<M, A> {
    /// A message before the answer (e.g. `neopy::Message::AddObject`), of
    /// the request's table.
    Item(M),
    /// The answer: nothing comes after it.
    Answer(A),
}

/// The messages the peer sends in answer to one request, in order, the
/// answer last (see [`NodeLink::ask_stream`]). Dropping it forgets the
/// exchange: later messages of it are dropped (NEO/py) or answered
/// "connection closed" (protocol 6).
pub struct AnswerStream<R: Ask> {
    conn: Conn,
    /// The answer came: the exchange is over.
    done: bool,
    request: PhantomData<fn() -> R>,
}

impl<D: Dialect> NodeLink<D> {
    /// Sends the request `req` and returns its exchange, whose messages
    /// [`AnswerStream::recv`] gives in order: what the peer sends under
    /// the request's id before the answer (NEO/py's storages answer
    /// `AskFetchObjects` with `AddObject`s, then `AnswerFetchObjects`),
    /// then the answer. On a NEO/py link, only the peer's notifications
    /// under that msg_id come to it (its requests are its own); on a
    /// protocol 6 link, every packet of the request's connection. The
    /// receives are bounded by the link's receive timeout, as `ask1`'s.
    ///
    /// ```
    /// use neonet::{neopy, NeoPy, NodeLink, Streamed};
    ///
    /// let (client, server) = NodeLink::<NeoPy>::pair()?;
    /// std::thread::spawn(move || {
    ///     let req = server.recv()?;
    ///     for oid in 0..3 {
    ///         req.send(&neopy::AddObject { oid, ..Default::default() })?;
    ///     }
    ///     req.reply(&neopy::AnswerFetchObjects::default())
    /// });
    /// let mut objects = client.ask_stream(&neopy::AskFetchObjects::default())?;
    /// let mut oids = Vec::new();
    /// loop {
    ///     match objects.recv()? {
    ///         Streamed::Item(neopy::Message::AddObject(obj)) => oids.push(obj.oid),
    ///         Streamed::Item(other) => panic!("unexpected {other:?}"),
    ///         Streamed::Answer(_end) => break,
    ///     }
    /// }
    /// assert_eq!(oids, [0, 1, 2]);
    /// # Ok::<(), neonet::Error>(())
    /// ```
    pub fn ask_stream<R: Ask<Dialect = D>>(&self, req: &R) -> Result<AnswerStream<R>> {
        let op = |e: Error| e.with_op(Op::AskStream);
        // Dropped before its answer, it leaves a tombstone (for the link's
        // `keep_closed`), so that the rest of the stream is dropped rather
        // than taken for the peer's own notifications.
        let conn = self.new_conn_of(true).map_err(op)?;
        conn.send_any(req).map_err(op)?;
        Ok(AnswerStream {
            conn,
            done: false,
            request: PhantomData,
        })
    }
}

impl<R: Ask> AnswerStream<R> {
    /// The next message: an item, or the answer (then every later call
    /// fails with `ClosedConn`). Blocks until one comes, bounded by the
    /// link's receive timeout (`Timeout`; the exchange stays usable). An
    /// item that cannot be decoded is `Decode` (the next call goes on);
    /// an `Error` answer is `ErrorKind::Peer`.
    pub fn recv(&mut self) -> Result<Streamed<MessageOf<R>, R::Answer>> {
        let deadline = wait::deadline(self.conn.default_recv_timeout());
        self.recv_until(deadline)
    }

    /// The next message if one is there, without waiting: `Ok(None)` if
    /// none is.
    pub fn try_recv(&mut self) -> Result<Option<Streamed<MessageOf<R>, R::Answer>>> {
        wait::none_if_empty(self.recv_until(Some(Instant::now())))
    }

    /// Like [`recv`](Self::recv), waiting at most `timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Streamed<MessageOf<R>, R::Answer>> {
        self.recv_until(wait::deadline(Some(timeout)))
    }

    /// Like [`recv`](Self::recv), waiting until `deadline` at most.
    pub fn recv_deadline(
        &mut self,
        deadline: Instant,
    ) -> Result<Streamed<MessageOf<R>, R::Answer>> {
        self.recv_until(Some(deadline))
    }

    fn recv_until(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<Streamed<MessageOf<R>, R::Answer>> {
        let pkt = self
            .conn
            .recv_pkt_until(deadline)
            .map_err(|e| e.with_op(Op::AskStream))?;
        if !pkt.is_answer() {
            let item = decode_message::<MessageOf<R>>(pkt)
                .map_err(|e| self.conn.err(Op::AskStream, ErrorKind::Decode(e)))?;
            return Ok(Streamed::Item(item));
        }
        self.done = true;
        // Nothing of the exchange comes after its answer: its id needs no
        // tombstone.
        self.conn.close_recv_owned();
        self.conn.forget_on_close();
        decode_answer::<R>(pkt)
            .map(Streamed::Answer)
            .map_err(|k| self.conn.err(Op::AskStream, k))
    }

    /// Whether the answer came.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The id of the exchange (on a NEO/py link: the request's msg_id).
    pub fn id(&self) -> u32 {
        self.conn.id()
    }
}

impl<R: Ask> fmt::Debug for AnswerStream<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnswerStream")
            .field("request", &R::NAME)
            .field("conn", &self.conn)
            .field("done", &self.done)
            .finish()
    }
}
