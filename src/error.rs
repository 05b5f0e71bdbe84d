//! Errors of link and connection operations (DESIGN §4).
//!
//! Every error says *where* it happened (the link's two addresses, the
//! connection id if any, the operation) and *what* happened (an
//! [`ErrorKind`] that callers match on).

use std::fmt;
use std::io;
use std::sync::Arc;

use crate::proto::ErrorCode;

/// The local and peer address of a link, shared by every error of that link.
///
/// Cheap to clone: errors are built on hot paths (a closed connection), so
/// the addresses are formatted once, when the link is created.
#[derive(Debug, Clone)]
pub struct LinkAddrs {
    /// Local address of the link's stream.
    pub local: Arc<str>,
    /// Peer address of the link's stream.
    pub peer: Arc<str>,
}

impl LinkAddrs {
    /// Addresses from their textual form.
    pub fn new(local: impl Into<Arc<str>>, peer: impl Into<Arc<str>>) -> LinkAddrs {
        LinkAddrs {
            local: local.into(),
            peer: peer.into(),
        }
    }
}

impl fmt::Display for LinkAddrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} - {}", self.local, self.peer)
    }
}

/// Why the version handshake of a new link failed (DESIGN §6).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The peer speaks another protocol version (or another protocol).
    #[error("protocol version mismatch: peer = {peer:08x} ; our side = {ours:08x}")]
    VersionMismatch {
        /// The 4 bytes the peer sent, as a big-endian word.
        peer: u32,
        /// Our protocol version.
        ours: u32,
    },
    /// The peer closed the stream before it sent its whole version word.
    #[error("unexpected EOF")]
    UnexpectedEof,
    /// The handshake did not complete within its timeout.
    #[error("timeout")]
    Timeout,
    /// An I/O error on the stream.
    #[error("{0}")]
    Io(#[source] Arc<io::Error>),
    /// TLS could not be set up: the reason says whose certificate or
    /// which side was refused, and why (DESIGN §11).
    #[error("{0}")]
    Tls(#[source] crate::tls::TlsError),
    /// What the peer sent is no NEO handshake of the dialect expected
    /// (DESIGN §10): its first bytes, at most 6. (A NEO/py handshake of
    /// another version is `VersionMismatch`, with the versions.)
    #[error("not a NEO stream: got {}", Hex(.got))]
    NotNeo {
        /// The peer's first bytes.
        got: Vec<u8>,
    },
}

/// Bytes in hex, for messages.
struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// What went wrong: the kind callers match on.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The link was closed locally with `close()`.
    #[error("link is closed")]
    LinkClosed,
    /// The link went down by itself (I/O error, peer closed, bad packet).
    #[error("link is down")]
    LinkDown,
    /// `accept` after `close_accept`.
    #[error("link is not accepting connections")]
    LinkNoListen,
    /// No free connection id of our parity (DESIGN §2).
    #[error("too many connections")]
    TooManyConns,
    /// The connection was closed (`close`, or `close_recv` for receiving).
    #[error("connection is closed")]
    ClosedConn,
    /// A packet header announced a packet larger than `MAX_PACKET_SIZE`.
    #[error("packet too big: {size} bytes > max {max}", max = crate::packet::MAX_PACKET_SIZE)]
    PacketTooBig {
        /// The size the header announced, header included.
        size: u64,
    },
    /// An I/O error on the link's stream (a peer that closed the stream is
    /// `UnexpectedEof`).
    #[error("{0}")]
    Io(#[source] Arc<io::Error>),
    /// The link handshake failed.
    #[error("handshake: {0}")]
    Handshake(#[source] HandshakeError),
    /// A packet could not be decoded as a message.
    #[error("decode: {0}")]
    Decode(#[source] crate::proto::DecodeError),
    /// A message other than the expected one arrived.
    #[error("unexpected message: got {got}, expected {expected}")]
    UnexpectedMessage {
        /// Name of the message that came.
        got: &'static str,
        /// Name of the message that was expected.
        expected: &'static str,
    },
    /// The peer answered with an `Error` message.
    #[error("peer error {code:?}: {message}")]
    Peer {
        /// The peer's error code.
        code: ErrorCode,
        /// The peer's error text.
        message: String,
    },
    /// A time limit expired: a receive or accept timeout (the link and
    /// connection stay usable), or the write timeout or keepalive (the link
    /// went down).
    #[error("timed out")]
    Timeout,
    /// This connection's receive queue went over its limit and was
    /// dropped (see `Limits`); later receives report `ClosedConn`.
    #[error("receive queue overflow: packets dropped")]
    Overflow,
    /// A listener was closed while an operation waited on it.
    #[error("listener is closed")]
    ListenerClosed,
    /// The peer sent bytes that are no packet of the link's dialect
    /// (malformed msgpack, a head that is not `[msg_id, code, args]`, ...):
    /// the stream cannot be resynchronised, so the link went down.
    #[error("bad packet: {0}")]
    Framing(#[source] crate::neopy::FramingError),
    /// The link's dialect has no connections: on a NEO/py link, `new_conn`
    /// and `accept` fail with this; use `send1`, `ask1`, `recv1`.
    #[error("{dialect} links have no connections: use send1, ask1, recv1")]
    LightOnly {
        /// The link's dialect.
        dialect: crate::Dialect,
    },
    /// A message of one dialect's table used on a link of the other (a
    /// `proto` message on a NEO/py link, or the reverse).
    #[error("a {msg} message on a {link} link")]
    WrongDialect {
        /// The link's dialect.
        link: crate::Dialect,
        /// The message's.
        msg: crate::Dialect,
    },
}

impl ErrorKind {
    /// An `Io` kind from an `io::Error`.
    pub fn io(err: io::Error) -> ErrorKind {
        ErrorKind::Io(Arc::new(err))
    }

    /// The `io::ErrorKind` if this is an I/O error.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            ErrorKind::Io(e) => Some(e.kind()),
            ErrorKind::Handshake(HandshakeError::Io(e)) => Some(e.kind()),
            _ => None,
        }
    }
}

/// An error of a link or connection operation.
///
/// Display reads like `neonet 127.0.0.1:1 - 127.0.0.1:2: conn 3: recv: link is down`.
#[derive(Debug, Clone)]
pub struct Error {
    addrs: LinkAddrs,
    conn_id: Option<u32>,
    op: &'static str,
    kind: ErrorKind,
}

impl Error {
    /// An error of operation `op` on a link (and one of its connections if
    /// `conn_id` is given).
    pub fn new(
        addrs: &LinkAddrs,
        conn_id: Option<u32>,
        op: &'static str,
        kind: ErrorKind,
    ) -> Error {
        Error {
            addrs: addrs.clone(),
            conn_id,
            op,
            kind,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The operation that failed ("accept", "newconn", "send", "recv", ...).
    pub fn op(&self) -> &'static str {
        self.op
    }

    /// The connection the operation was on, if it was a connection operation.
    pub fn conn_id(&self) -> Option<u32> {
        self.conn_id
    }

    /// The link's local and peer addresses.
    pub fn addrs(&self) -> &LinkAddrs {
        &self.addrs
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "neonet {}: ", self.addrs)?;
        if let Some(id) = self.conn_id {
            write!(f, "conn {id}: ")?;
        }
        write!(f, "{}: {}", self.op, self.kind)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.kind)
    }
}

/// Result of neonet operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
