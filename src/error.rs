//! Errors of link and connection operations.
//!
//! Every error says *where* it happened (the link's two addresses, the
//! connection id if any, the [operation](Op)) and *what* happened (an
//! [`ErrorKind`] that callers match on). Its `Display` says each of these
//! once; an underlying cause (an `io::Error`) is its
//! [`source`](std::error::Error::source), not repeated in the text, so that
//! a printer of the whole chain (`{:#}` with anyhow) says it once too.

use std::fmt;
use std::io;
use std::sync::Arc;

use crate::addr::Addr;
use crate::neopy::handshake::Hex;
use crate::proto::ErrorCode;

/// The local and peer address of a link, shared by every error of that
/// link.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinkAddrs {
    /// Local address of the link's stream.
    pub local: Addr,
    /// Peer address of the link's stream.
    pub peer: Addr,
}

impl LinkAddrs {
    /// Addresses of a link's two ends.
    pub fn new(local: Addr, peer: Addr) -> LinkAddrs {
        LinkAddrs { local, peer }
    }
}

impl fmt::Display for LinkAddrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} - {}", self.local, self.peer)
    }
}

/// The operation that failed: one per public call of the crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// Setting up a link over a stream (`NodeLink::new`, `NodeLink::pair`).
    NewLink,
    /// `dial_link` and its variants: connecting.
    Dial,
    /// `LinkListener::bind`.
    Listen,
    /// The version handshake of a new link (dialing or accepting).
    Handshake,
    /// `NodeLink::accept` or `LinkListener::accept`.
    Accept,
    /// `NodeLink::new_conn`.
    NewConn,
    /// `Conn::send`, `Conn::send_pkt`.
    Send,
    /// `Conn::recv`, `Conn::recv_pkt`.
    Recv,
    /// `Conn::expect`.
    Expect,
    /// `Conn::ask`.
    Ask,
    /// `NodeLink::send1`.
    Send1,
    /// `NodeLink::ask1`.
    Ask1,
    /// `NodeLink::ask_stream`, `AnswerStream::recv`.
    AskStream,
    /// `NodeLink::recv1`.
    Recv1,
    /// `Request::reply`.
    Reply,
    /// `NodeLink::set_write_timeout`.
    SetWriteTimeout,
}

impl Op {
    /// The operation's name, as in error messages ("recv", "ask1", ...).
    pub fn name(self) -> &'static str {
        match self {
            Op::NewLink => "newlink",
            Op::Dial => "dial",
            Op::Listen => "listen",
            Op::Handshake => "handshake",
            Op::Accept => "accept",
            Op::NewConn => "newconn",
            Op::Send => "send",
            Op::Recv => "recv",
            Op::Expect => "expect",
            Op::Ask => "ask",
            Op::Send1 => "send1",
            Op::Ask1 => "ask1",
            Op::AskStream => "ask_stream",
            Op::Recv1 => "recv1",
            Op::Reply => "reply",
            Op::SetWriteTimeout => "set_write_timeout",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the version handshake of a new link failed.
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
    /// An I/O error on the stream (its `source`).
    #[error("I/O error")]
    Io(#[source] Arc<io::Error>),
    /// TLS could not be set up: the reason says whose certificate or
    /// which side was refused, and why.
    #[error(transparent)]
    Tls(crate::tls::TlsError),
    /// What the peer sent is no NEO handshake of the dialect expected: its
    /// first bytes, at most 6. (A NEO/py handshake of another version is
    /// `VersionMismatch`, with the versions.)
    #[error("not a NEO stream: got {}", Hex(.got))]
    NotNeo {
        /// The peer's first bytes.
        got: Vec<u8>,
    },
}

/// What went wrong: the kind callers match on.
///
/// ```
/// use std::time::Duration;
/// use neonet::proto::Ping;
/// use neonet::{ErrorKind, NodeLink};
///
/// let (client, _server) = NodeLink::pair()?;
/// client.set_recv_timeout(Some(Duration::from_millis(10)));
/// match client.ask1(&Ping {}) {
///     Ok(_pong) => {}
///     Err(e) => match e.kind() {
///         // Nobody answered in time: the link is still usable.
///         ErrorKind::Timeout => {}
///         // The peer answered with an Error message.
///         ErrorKind::Peer { code, message } => eprintln!("{code}: {message}"),
///         // Closed or down: reconnect.
///         ErrorKind::LinkClosed | ErrorKind::LinkDown => {}
///         _ => return Err(e),
///     },
/// }
/// # Ok::<(), neonet::Error>(())
/// ```
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
    /// No free connection id of our parity.
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
    /// An I/O error on the link's stream, which is the error's `source` (a
    /// peer that closed the stream is `UnexpectedEof`).
    #[error("I/O error")]
    Io(#[source] Arc<io::Error>),
    /// TLS failed on a link that was up: a record that does not decrypt,
    /// an alert from the peer, ... The link went down; the first receive
    /// on each connection reports this, as does a send that met the
    /// failed session. (A TLS failure while setting a link up is
    /// [`HandshakeError::Tls`].)
    #[error(transparent)]
    Tls(crate::tls::TlsError),
    /// The link handshake failed: why.
    #[error(transparent)]
    Handshake(HandshakeError),
    /// A packet could not be decoded as a message: which, and what was
    /// wrong.
    #[error(transparent)]
    Decode(crate::proto::DecodeError),
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
    Framing(crate::neopy::FramingError),
}

impl ErrorKind {
    /// The kind of a failed I/O on a link's stream: `Io`, or `Tls` for the
    /// failure of a TLS stream's session (which it reports as an
    /// `io::Error` carrying the [`TlsError`](crate::tls::TlsError)).
    pub fn io(err: io::Error) -> ErrorKind {
        match crate::tls::TlsError::from_io(&err) {
            Some(tls) => ErrorKind::Tls(tls.clone()),
            None => ErrorKind::Io(Arc::new(err)),
        }
    }

    /// Whether a time limit expired: a receive or accept timeout
    /// (`Timeout`; the link and connection stay usable), the write timeout
    /// or keepalive (`Timeout`; the link went down), a handshake that did
    /// not complete in time (`HandshakeError::Timeout`, TLS's included),
    /// or an I/O call that timed out (`TimedOut`, or `WouldBlock` from a
    /// blocking call with a time limit: a connect that timed out).
    pub fn is_timeout(&self) -> bool {
        match self {
            ErrorKind::Timeout | ErrorKind::Handshake(HandshakeError::Timeout) => true,
            kind => matches!(
                kind.io_kind(),
                Some(io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
            ),
        }
    }

    /// Whether this end closed what the operation needed: the link
    /// (`LinkClosed`, after [`NodeLink::close`](crate::NodeLink::close)
    /// or drop), the connection (`ClosedConn`), the listener
    /// (`ListenerClosed`), or accepting (`LinkNoListen`, after
    /// [`close_accept`](crate::NodeLink::close_accept)). Never an error
    /// of the peer's.
    pub fn is_closed(&self) -> bool {
        matches!(
            self,
            ErrorKind::LinkClosed
                | ErrorKind::ClosedConn
                | ErrorKind::ListenerClosed
                | ErrorKind::LinkNoListen
        )
    }

    /// Whether the peer hung up: it closed the stream (`UnexpectedEof`:
    /// end of stream, TLS's included), reset it or stopped reading it
    /// (`ConnectionReset`, `ConnectionAborted`, `BrokenPipe`), or closed
    /// it during the handshake (`HandshakeError::UnexpectedEof`). This is
    /// the cause a link reports once (on the first receive of each
    /// connection); later operations on the link report `LinkDown`.
    pub fn is_peer_gone(&self) -> bool {
        use io::ErrorKind as K;
        match self {
            ErrorKind::Handshake(HandshakeError::UnexpectedEof) => true,
            kind => matches!(
                kind.io_kind(),
                Some(K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe)
            ),
        }
    }

    /// The TLS failure, if this is one (of a link that was up, or of its
    /// handshake).
    pub fn tls_error(&self) -> Option<&crate::tls::TlsError> {
        match self {
            ErrorKind::Tls(e) | ErrorKind::Handshake(HandshakeError::Tls(e)) => Some(e),
            _ => None,
        }
    }

    /// The I/O error, if this is one (of the link, or of its handshake).
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            ErrorKind::Io(e) | ErrorKind::Handshake(HandshakeError::Io(e)) => Some(e),
            _ => None,
        }
    }

    /// The `io::ErrorKind` if this is an I/O error.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        self.io_error().map(io::Error::kind)
    }
}

/// An error of a link or connection operation.
///
/// Display reads like
/// `neonet 127.0.0.1:1 - 127.0.0.1:2: conn 3: recv: link is down`: where
/// (the link, the connection if any, the operation), then what (the
/// [`ErrorKind`]); an I/O error that caused it is its `source`.
///
/// ```
/// use neonet::{ErrorKind, NodeLink, Op};
///
/// let (client, _server) = NodeLink::pair()?;
/// let conn = client.new_conn()?;
/// conn.close();
/// let err = conn.recv_pkt().unwrap_err();
/// assert!(matches!(err.kind(), ErrorKind::ClosedConn));
/// assert_eq!((err.op(), err.conn_id()), (Op::Recv, Some(conn.id())));
/// assert_eq!(err.to_string(), "neonet unix:@ - unix:@: conn 1: recv: connection is closed");
/// # Ok::<(), neonet::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Error {
    /// Shared with the link: building an error on a hot path (a closed
    /// connection) copies no address.
    addrs: Arc<LinkAddrs>,
    conn_id: Option<u32>,
    op: Op,
    kind: ErrorKind,
}

impl Error {
    /// An error of operation `op` on a link (and one of its connections if
    /// `conn_id` is given).
    pub(crate) fn new(
        addrs: &Arc<LinkAddrs>,
        conn_id: Option<u32>,
        op: Op,
        kind: ErrorKind,
    ) -> Error {
        Error {
            addrs: addrs.clone(),
            conn_id,
            op,
            kind,
        }
    }

    /// An error of operation `op` before there was a link (dial, listen,
    /// handshake), between these addresses.
    pub(crate) fn at(local: Addr, peer: Addr, op: Op, kind: ErrorKind) -> Error {
        Error::new(&Arc::new(LinkAddrs::new(local, peer)), None, op, kind)
    }

    /// The same error, reported as operation `op` (the public call that
    /// made the failing step).
    pub(crate) fn with_op(mut self, op: Op) -> Error {
        self.op = op;
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The operation that failed.
    pub fn op(&self) -> Op {
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

    /// Whether a time limit expired: a receive, accept, write or
    /// keepalive timeout, a connect or a handshake (TLS's included) that
    /// timed out. See [`ErrorKind::is_timeout`].
    pub fn is_timeout(&self) -> bool {
        self.kind.is_timeout()
    }

    /// Whether this end closed the link, connection or listener the
    /// operation needed (see [`ErrorKind::is_closed`]).
    pub fn is_closed(&self) -> bool {
        self.kind.is_closed()
    }

    /// Whether the peer hung up (see [`ErrorKind::is_peer_gone`]).
    pub fn is_peer_gone(&self) -> bool {
        self.kind.is_peer_gone()
    }

    /// The TLS failure that caused this error, if any (a TLS link that
    /// went down, or a TLS handshake that failed).
    pub fn tls_error(&self) -> Option<&crate::tls::TlsError> {
        self.kind.tls_error()
    }

    /// The I/O error that caused this one, if any.
    pub fn io_error(&self) -> Option<&io::Error> {
        self.kind.io_error()
    }

    /// The peer's `Error` answer (code and text), if that is what this is.
    pub fn peer_error(&self) -> Option<(ErrorCode, &str)> {
        match &self.kind {
            ErrorKind::Peer { code, message } => Some((*code, message)),
            _ => None,
        }
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
    /// The underlying cause (an `io::Error`), never the error's own kind:
    /// that is already in its text.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.kind)
    }
}

/// Result of neonet operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
