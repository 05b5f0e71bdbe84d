//! neonet: the link layer of NEO, a distributed ZODB storage.
//!
//! NEO's nodes (masters, storages, clients, admins) talk over *links*: one
//! stream between two nodes (TCP, a Unix socket, or TLS over TCP), on
//! which many independent *connections* carry NEO's messages. neonet
//! establishes links, multiplexes the connections, and speaks NEO's wire
//! formats: protocol 6 as NEO/go encodes it ([`proto`]), and protocol 5 as
//! today's NEO/py encodes it in msgpack ([`neopy`]). It is blocking and
//! thread-safe, with no async runtime.
//!
//! # Links
//!
//! A [`NodeLink<D>`](NodeLink) is one end of a link speaking the wire
//! [`Dialect`] `D`. You get one by dialing ([`Dialer`]), from a
//! [`LinkListener`] (an [`AnyLink`]: it serves both dialects), over a
//! stream you made ([`NodeLink::handshake`]), or as a connected pair over
//! a socketpair for tests ([`NodeLink::pair`]). Each link has exactly
//! one *reader thread*, which reads every packet the peer sends (with one
//! `read` per packet in the common case) and hands it to the connection it
//! belongs to; senders write from their own threads, one at a time.
//! [`NodeLink::close`] writes what was promised, stops the reader and
//! closes the stream; nothing the link started is left behind. Dropping a
//! link closes it without waiting: what the socket does not take at once
//! is dropped, and the reader thread ends by itself.
//!
//! **Platform:** Linux. The reader thread sleeps in `poll` on its socket
//! and an `eventfd` (Linux-only), non-blocking reads and writes on
//! blocking sockets use `MSG_DONTWAIT`, and a listener ends a blocked
//! `accept` by shutting its socket down, which only Linux does.
//!
//! # Connections and their ids
//!
//! A [`Conn`] is one exchange over a link: [`NodeLink::new_conn`] opens
//! one, [`NodeLink::accept`] takes one the peer opened (its first packet
//! is waiting on it). Send and receive packets ([`Conn::send_pkt`],
//! [`Conn::recv_pkt`]) or messages ([`Conn::send`], [`Conn::recv`],
//! [`Conn::expect`], [`Conn::ask`]). Connection ids tell who opened a
//! connection: the end that dialed (the *client*) uses odd ids, the one
//! that accepted (the *server*) even ones. A packet for a connection that
//! is gone is answered "connection closed" by the link itself.
//!
//! A link speaks one of two wire dialects, which is its type:
//! [`Proto6`] (NEO/go's binary encoding, messages of [`proto`]) or
//! [`NeoPy`] (NEO/py's protocol 5 over msgpack, messages of [`neopy`]),
//! which has the light operations and streamed answers but no
//! connections. A message of the other dialect does not compile. The
//! dialer picks one ([`Dialer::dialect`]); a [`LinkListener`] serves both
//! on one port.
//!
//! ```
//! use neonet::proto::{Ping, Pong};
//! use neonet::{NodeLink, Proto6};
//!
//! let (client, server) = NodeLink::<Proto6>::pair()?;
//! let conn = client.new_conn()?;            // id 1: the client's first
//! conn.send(&Ping {})?;
//! let peer = server.accept()?;              // the same connection, server side
//! let _: Ping = peer.expect()?;
//! peer.send(&Pong {})?;
//! let _: Pong = conn.expect()?;
//! # Ok::<(), neonet::Error>(())
//! ```
//!
//! # Light mode: one request, one answer
//!
//! NEO/py opens a connection per request. [`NodeLink::ask1`] sends a
//! request on a new connection and returns its answer, typed by the
//! message table (an [`AnswerObject`](proto::AnswerObject) for a
//! [`GetObject`](proto::GetObject)); [`NodeLink::recv`] gives a server
//! the next [`Request`], which it answers with [`Request::reply`]. A
//! request that cannot be decoded is answered with an error by the link
//! and skipped, so one bad request never ends a server loop. This is the
//! fast path: connection objects and buffers are reused.
//!
//! # Time limits
//!
//! No wait has to be forever. Every receive comes in crossbeam's four
//! forms: `recv` (bounded by the connection's default,
//! [`Conn::set_recv_timeout`], or [`NodeLink::set_recv_timeout`] for the
//! connections a link creates, `ask1`'s included), `try_recv` (no wait),
//! `recv_timeout` and `recv_deadline` — on [`Conn`], for light-mode
//! requests ([`NodeLink::recv`]), for connections
//! ([`NodeLink::accept_timeout`], ...) and for streamed answers
//! ([`AnswerStream`]). Writes are bounded with
//! [`NodeLink::set_write_timeout`], dead peers detected with
//! [`NodeLink::set_keepalive`]. A receive that times out
//! returns [`ErrorKind::Timeout`] and the link stays usable. A storage
//! server's loop and a client:
//!
//! ```
//! use std::time::Duration;
//! use neonet::proto::{AnswerObject, GetObject, Message, Pong};
//! use neonet::{ErrorKind, NodeLink, Proto6};
//!
//! let (client, server) = NodeLink::<Proto6>::pair()?;
//! let serving = std::thread::spawn(move || loop {
//!     let req = match server.recv_timeout(Duration::from_secs(1)) {
//!         Ok(req) => req,
//!         // Nothing came for a second: a chance to do housekeeping.
//!         Err(e) if e.is_timeout() => continue,
//!         Err(_) => return, // the link is gone
//!     };
//!     let _ = match req.msg() {
//!         Message::GetObject(get) => req.reply(&AnswerObject {
//!             oid: get.oid,
//!             serial: get.at,
//!             ..Default::default()
//!         }),
//!         // NEO uses Ping as a barrier: the application answers it.
//!         Message::Ping(_) => req.reply(&Pong {}),
//!         _ => Ok(()),
//!     };
//! });
//!
//! client.set_recv_timeout(Some(Duration::from_secs(5)));
//! match client.ask1(&GetObject { oid: 7, at: 8, before: 9 }) {
//!     Ok(obj) => assert_eq!((obj.oid, obj.serial), (7, 8)),
//!     Err(e) if matches!(e.kind(), ErrorKind::Timeout) => { /* try another storage */ }
//!     Err(e) => return Err(e),
//! }
//! client.close();
//! serving.join().unwrap();
//! # Ok::<(), neonet::Error>(())
//! ```
//!
//! # Limits
//!
//! Whatever the peer sends, a link holds a bounded amount of memory
//! ([`Limits`]): a connection whose unread packets exceed its limit
//! *overflows* (its receivers get [`ErrorKind::Overflow`]) instead of
//! growing, new connections past the accept backlog are refused, and the
//! link's own replies are dropped rather than queued without end. The
//! reader never waits for the application, so a connection nobody reads
//! never stops the others. [`NodeLink::stats`] shows what was held and
//! dropped. A [`LinkListener`] bounds its pending handshakes and its
//! backlog of links nobody accepted yet the same way.
//!
//! # Errors
//!
//! Every [`Error`] says where (the link's addresses, the connection id,
//! the [operation](Op)) and what ([`ErrorKind`], which you match on); an
//! I/O error that caused it is its `source()`. Closing is not an error
//! kind of its own: an operation on a closed connection is
//! [`ErrorKind::ClosedConn`], on a closed link [`ErrorKind::LinkClosed`],
//! on a link that went down by itself [`ErrorKind::LinkDown`] (the first
//! receive on each connection reports the cause instead: an I/O error,
//! [`ErrorKind::Tls`] for a TLS failure, ...). Predicates answer the
//! usual questions whichever kind reports it: [`Error::is_timeout`] (a
//! receive, accept, write, keepalive, connect or handshake timeout),
//! [`Error::is_closed`] (this end closed it), [`Error::is_peer_gone`] (the
//! peer hung up).
//!
//! # Logging
//!
//! neonet logs through the [`log`](https://docs.rs/log) facade and installs
//! no logger: why a link went down, why a handshake failed, overflows and
//! refusals. Choose a logger (e.g. `env_logger`) in your application.

#![forbid(unsafe_code)]
// docs.rs (see Cargo.toml): badges saying which feature an item needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, missing_debug_implementations)]

mod addr;
pub(crate) mod codec;
mod conn;
mod conversation;
mod dial;
pub mod error;
mod handshake;
mod light;
mod link;
mod listener;
#[cfg(feature = "neopy")]
#[cfg_attr(docsrs, doc(cfg(feature = "neopy")))]
pub mod neopy;
pub mod packet;
pub mod proto;
mod queue;
pub mod stream;
pub mod tls;
mod wait;

pub use addr::{Addr, ToLinkAddrs};
#[cfg(feature = "test-hooks")]
pub use codec::budget::with_decode_allowance;
pub use codec::{
    encode_packet, encode_packet_parts, packet_size, Answer, AnswerError, Ask, Dialect, MessageOf,
    Messages, Msg, Payload,
};
pub use conn::Conn;
pub use conversation::{AnswerStream, Streamed};
pub use dial::Dialer;
pub use error::{Error, ErrorKind, HandshakeError, LinkAddrs, Op, Result};
pub use handshake::{AnyLink, Dialects, HandshakeStream};
pub use light::Request;
pub use link::limits::Limits;
pub use link::{LinkRole, LinkStats, NodeLink};
pub use listener::{Incoming, LinkListener, ListenerOptions, ListenerStats};
#[cfg(feature = "neopy")]
#[cfg_attr(docsrs, doc(cfg(feature = "neopy")))]
pub use neopy::NeoPy;
pub use packet::Packet;
pub use proto::Proto6;
pub use stream::LinkStream;

/// The README's examples, compiled and run as doc-tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
