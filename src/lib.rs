//! neonet: the link layer of NEO, a distributed ZODB storage.
//!
//! A [`NodeLink`] is one end of a link between two nodes over one stream
//! socket (TCP, or a Unix socket). It multiplexes many independent
//! connections ([`Conn`]) over that stream, each carrying NEO protocol
//! packets. Each link has one reader thread that reads packets and hands
//! them to the connections' receive queues; senders write under a mutex.
//! Everything is blocking and thread-safe; there is no async runtime.
//!
//! A link speaks one of two wire [`Dialect`]s: protocol 6 (NEO/go's binary
//! encoding, messages of [`proto`]), or NEO/py's protocol 5 over msgpack
//! (messages of [`neopy`]), which offers the light operations only
//! (`send1`, `ask1`, `recv1_as`, `Request::reply`). The dialer picks one
//! ([`dial_link_with`]); a [`LinkListener`] serves both on one port.
//!
//! ```
//! use neonet::{NodeLink, Packet};
//!
//! let (client, server) = NodeLink::pair().unwrap();
//! let conn = client.new_conn().unwrap();
//! conn.send_pkt(Packet::new(0, 0x0002, b"")).unwrap();
//! let peer = server.accept().unwrap();
//! let ping = peer.recv_pkt().unwrap();
//! assert_eq!(ping.msg_code(), 0x0002);
//! peer.send_pkt(Packet::new(0, 0x8002, b"")).unwrap();
//! assert_eq!(conn.recv_pkt().unwrap().msg_code(), 0x8002);
//! ```

#![warn(missing_docs, missing_debug_implementations)]

pub(crate) mod codec;
mod conn;
pub mod error;
mod handshake;
mod light;
mod link;
mod listener;
pub mod neopy;
pub mod packet;
pub mod proto;
pub mod stream;
pub mod tls;
mod wait;

pub use codec::{Dialect, LinkAsk, LinkMessages, LinkMsg};
pub use conn::Conn;
pub use error::{Error, ErrorKind, HandshakeError, LinkAddrs, Result};
pub use handshake::{
    dial_link, dial_link_timeout, dial_link_unix, dial_link_unix_with, dial_link_with,
    dial_link_with_timeout, HandshakeStream, DEFAULT_HANDSHAKE_TIMEOUT, PROTOCOL_VERSION,
};
pub use light::Request;
pub use link::limits::{Limits, PACKET_OVERHEAD};
pub use link::{
    LinkRole, LinkStats, NodeLink, CLOSE_FLUSH_LIMIT, KEEP_CLOSED, REPLY_CLOSED, REPLY_REFUSED,
};
pub use listener::{
    LinkListener, ListenerOptions, ListenerStats, DEFAULT_BACKLOG,
    DEFAULT_LISTEN_HANDSHAKE_TIMEOUT, DEFAULT_MAX_PENDING,
};
pub use packet::{Packet, ANSWER_BIT, HEADER_SIZE, MAX_PACKET_SIZE};
pub use stream::LinkStream;
pub use wait::DEFAULT_SPIN;

/// The README's examples, compiled and run as doc-tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
