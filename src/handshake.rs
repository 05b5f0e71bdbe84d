//! Link establishment (ARCHITECTURE.md, "The shape"): the exchange that
//! starts every link, in the dialect of the link, and dialing.
//!
//! - Protocol 6: each side writes its version as a 4-byte big-endian word,
//!   then reads the peer's.
//! - NEO/py: each side writes `92 a3 4e 45 4f 05` (msgpack of
//!   `["NEO", 5]`), then reads the peer's 6 bytes; 5 equal bytes and
//!   another 6th is a version mismatch, anything else "not a NEO stream".
//!   NEO/py sends no error packet in either case: it closes, and so do we.
//!
//! Writing first means two sides handshaking at once never wait on each
//! other, and that a peer with another version always sees ours before we
//! hang up, so both report the mismatch rather than a closed stream. We
//! read exactly the handshake's bytes: the peer's first packet may follow
//! at once, and is the link reader's.
//!
//! A server that serves both dialects ([`NodeLink::handshake_as_server`],
//! the [`LinkListener`](crate::LinkListener)) cannot write first: it
//! looks at the client's first byte, without consuming it, then
//! handshakes in that client's dialect. Both NEO/go and NEO/py write
//! their handshake without waiting, so this costs them nothing.

use std::io;
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use crate::addr::Addr;
use crate::codec::wire::Wire;
use crate::codec::{Dialect, NeoPy, Proto6};
use crate::error::{Error, ErrorKind, HandshakeError, Op, Result};
use crate::link::{LinkRole, NodeLink};
use crate::stream::{write_all, LinkStream};
use crate::tls::{TlsError, TLS_HANDSHAKE_BYTE};

/// A stream whose blocking reads and writes can be bounded in time, so that
/// a silent peer cannot hold a handshake forever.
pub trait HandshakeStream: LinkStream + Sized {
    /// Bounds every later blocking read and write by `timeout` (`None`:
    /// unbounded).
    fn set_io_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;

    /// The first byte the peer sent, left unread, waiting at most
    /// `timeout` for it (`TimedOut` then; `UnexpectedEof` if the peer
    /// closed before sending anything).
    /// [`NodeLink::handshake_as_server`] tells the client's dialect by it.
    /// The default peeks at the socket ([`LinkStream::fd`]; `Unsupported`
    /// without one); a stream that transforms what it reads (TLS) peeks
    /// at what it would read out.
    fn peek_first_byte(&self, timeout: Option<Duration>) -> io::Result<u8> {
        let Some(fd) = self.fd() else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "no descriptor to peek at",
            ));
        };
        crate::tls::socket::peek_first_byte(fd, timeout)
    }
}

impl HandshakeStream for TcpStream {
    fn set_io_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)?;
        self.set_write_timeout(timeout)
    }
}

impl HandshakeStream for UnixStream {
    fn set_io_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)?;
        self.set_write_timeout(timeout)
    }
}

impl<D: Dialect> NodeLink<D> {
    /// Handshakes over `stream` in dialect `D` (protocol 6: version 6;
    /// NEO/py: `["NEO", 5]`) and returns the link. On error the stream is
    /// closed; the error names what the peer sent
    /// (`HandshakeError::VersionMismatch`, `HandshakeError::NotNeo`).
    /// This is how a stream you made becomes a link; [`Dialer`] connects
    /// and does this.
    pub fn handshake<S: HandshakeStream>(
        stream: S,
        role: LinkRole,
        timeout: Option<Duration>,
    ) -> Result<NodeLink<D>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        finish(stream, role, |s| exchange::<D, S>(s, deadline))
    }
}

impl NodeLink<Proto6> {
    /// Handshakes over `stream` announcing protocol version `version` (the
    /// peer must send the same) and returns the link. On error the stream
    /// is closed.
    pub fn handshake_version<S: HandshakeStream>(
        stream: S,
        role: LinkRole,
        timeout: Option<Duration>,
        version: u32,
    ) -> Result<NodeLink<Proto6>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        finish(stream, role, |s| exchange_version(s, version, deadline))
    }
}

/// A link of either dialect: what a server that serves both gets
/// ([`LinkListener::accept`](crate::LinkListener::accept),
/// [`AnyLink::handshake_as_server`]), telling the dialect by the client's
/// first byte.
///
/// ```
/// use neonet::{AnyLink, Dialer, LinkListener, NeoPy};
///
/// let listener = LinkListener::bind("127.0.0.1:0")?;
/// let _py = Dialer::new(listener.local_addr()).dialect::<NeoPy>().dial()?;
/// match listener.accept()? {
///     AnyLink::NeoPy(link) => drop(link), // serve NEO/py's messages
///     AnyLink::Proto6(link) => drop(link), // serve protocol 6's
/// }
/// # Ok::<(), neonet::Error>(())
/// ```
#[derive(Debug)]
pub enum AnyLink {
    /// A protocol 6 link (NEO/go).
    Proto6(NodeLink<Proto6>),
    /// A NEO/py link.
    NeoPy(NodeLink<NeoPy>),
}

impl AnyLink {
    /// The server side of a link in whichever dialect the client speaks,
    /// among `dialects`: looks at the client's first byte without
    /// consuming it (waiting for it within `timeout`,
    /// [`HandshakeStream::peek_first_byte`]), then handshakes in that
    /// dialect, as server. `0x92` starts NEO/py's handshake; `0x16` a TLS
    /// ClientHello, which a plain end refuses
    /// ([`TlsError::TlsClient`](crate::tls::TlsError::TlsClient)); anything
    /// else is taken for protocol 6's (whose version word starts with
    /// `0x00`), so that a client of another version or protocol gets our
    /// version word and a `VersionMismatch`. A client of a dialect not
    /// among `dialects` gets our handshake (of the one that is) and
    /// fails as a client of another protocol does. A client that sends
    /// nothing, or a TLS client, gets our version word too (and `Timeout`,
    /// or the TLS error). Over a [`TlsStream`](crate::tls::TlsStream) the
    /// byte looked at is the first of the plaintext: the dialects are told
    /// apart inside TLS as outside.
    pub fn handshake_as_server<S: HandshakeStream>(
        stream: S,
        timeout: Option<Duration>,
        dialects: Dialects,
    ) -> Result<AnyLink> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let neopy = match sniff(&stream, deadline, dialects) {
            Ok(d) => d,
            Err(e) => return Err(failed(&stream.local_addr(), &stream.peer_addr(), e)),
        };
        let (role, left) = (LinkRole::Server, left(deadline));
        Ok(if neopy {
            AnyLink::NeoPy(NodeLink::handshake(stream, role, left)?)
        } else {
            AnyLink::Proto6(NodeLink::handshake(stream, role, left)?)
        })
    }

    /// The name of the link's dialect.
    pub fn dialect_name(&self) -> &'static str {
        match self {
            AnyLink::Proto6(_) => Proto6::NAME,
            AnyLink::NeoPy(_) => NeoPy::NAME,
        }
    }

    /// The link's addresses.
    pub fn addrs(&self) -> &crate::LinkAddrs {
        match self {
            AnyLink::Proto6(l) => l.addrs(),
            AnyLink::NeoPy(l) => l.addrs(),
        }
    }

    /// The protocol 6 link, if it is one.
    pub fn into_proto6(self) -> Option<NodeLink<Proto6>> {
        match self {
            AnyLink::Proto6(l) => Some(l),
            AnyLink::NeoPy(_) => None,
        }
    }

    /// The NEO/py link, if it is one.
    pub fn into_neopy(self) -> Option<NodeLink<NeoPy>> {
        match self {
            AnyLink::NeoPy(l) => Some(l),
            AnyLink::Proto6(_) => None,
        }
    }

    /// Closes the link (see [`NodeLink::close`]).
    pub fn close(&self) {
        match self {
            AnyLink::Proto6(l) => l.close(),
            AnyLink::NeoPy(l) => l.close(),
        }
    }

    /// Whether the link is still usable (see [`NodeLink::is_up`]).
    pub fn is_up(&self) -> bool {
        match self {
            AnyLink::Proto6(l) => l.is_up(),
            AnyLink::NeoPy(l) => l.is_up(),
        }
    }
}

/// Which dialects a server serves (see [`AnyLink::handshake_as_server`],
/// [`ListenerOptions::dialects`](crate::ListenerOptions::dialects)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Dialects {
    /// Both, told apart by the client's first byte.
    #[default]
    Both,
    /// Protocol 6 only: a NEO/py client gets our version word and fails.
    Proto6,
    /// NEO/py only: a protocol 6 client gets NEO/py's handshake and fails.
    NeoPy,
}

/// What is left until `deadline` (zero once passed).
fn left(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

/// Runs `exchange` on `stream`, then makes the link of dialect `D`; on
/// error the stream is dropped (closed) and the error names the link.
fn finish<D: Dialect, S: HandshakeStream>(
    stream: S,
    role: LinkRole,
    exchange: impl FnOnce(&S) -> Result<(), HandshakeError>,
) -> Result<NodeLink<D>> {
    let (local, peer) = (stream.local_addr(), stream.peer_addr());
    let fail = |e| failed(&local, &peer, e);
    exchange(&stream).map_err(fail)?;
    // The link's reader blocks for as long as the link lives.
    stream.set_io_timeout(None).map_err(|e| fail(io_err(e)))?;
    NodeLink::new(stream, role)
}

/// The error of a handshake between `local` and `peer` that failed with
/// `e`, logged at debug level (a listener logs its failures itself, at
/// info).
pub(crate) fn failed(local: &Addr, peer: &Addr, e: HandshakeError) -> Error {
    log::debug!("neonet {local} - {peer}: handshake failed: {e}");
    Error::at(
        local.clone(),
        peer.clone(),
        Op::Handshake,
        ErrorKind::Handshake(e),
    )
}

/// Whether a client speaks NEO/py (else protocol 6), by its first byte
/// (see [`AnyLink::handshake_as_server`]). A client that sent nothing by
/// `deadline`, that hung up, or that starts TLS fails, after our
/// handshake was written: to a client that is not one of ours, we are a
/// protocol 6 server (or NEO/py, if that is all we serve), which always
/// writes its handshake first (and a TLS client reports a peer that does
/// not speak TLS). A client of a dialect we do not serve is handshaked in
/// the one we do, and fails there.
fn sniff<S: HandshakeStream>(
    stream: &S,
    deadline: Option<Instant>,
    dialects: Dialects,
) -> Result<bool, HandshakeError> {
    let refuse = |e: HandshakeError| {
        let ours = match dialects {
            Dialects::NeoPy => NeoPy::HANDSHAKE,
            _ => Proto6::HANDSHAKE,
        };
        // Best effort, and it cannot block long: a few bytes into an empty
        // socket buffer.
        let _ = stream.set_io_timeout(Some(Duration::from_millis(100)));
        let _ = write_all(stream, ours);
        Err(e)
    };
    match stream.peek_first_byte(left(deadline)) {
        Ok(TLS_HANDSHAKE_BYTE) => refuse(HandshakeError::Tls(TlsError::TlsClient)),
        Ok(b) => Ok(match dialects {
            Dialects::Both => b == NeoPy::HANDSHAKE[0],
            Dialects::Proto6 => false,
            Dialects::NeoPy => true,
        }),
        Err(e) if e.kind() == io::ErrorKind::Unsupported => Err(io_err(e)),
        Err(e) => refuse(io_err(e)),
    }
}

/// The handshake of dialect `D`: writes ours, reads the peer's and checks
/// it as it comes (an HTTP client is refused at its first byte). Even if
/// the write failed (a peer that already hung up), it reads, so that what
/// the peer sent before (a mismatching version) is what we report.
fn exchange<D: Dialect, S: HandshakeStream>(
    stream: &S,
    deadline: Option<Instant>,
) -> Result<(), HandshakeError> {
    set_deadline(stream, deadline)?;
    let written = write_all(stream, D::HANDSHAKE).map_err(io_err);
    let mut got = [0u8; 16];
    let got = &mut got[..D::HANDSHAKE.len()];
    let mut n = 0;
    while !D::check_handshake(&got[..n])? {
        set_deadline(stream, deadline)?;
        match stream.read(&mut got[n..]) {
            Ok(0) => return Err(HandshakeError::UnexpectedEof),
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    written
}

/// Protocol 6's handshake with another version than 6: writes ours,
/// reads and checks the peer's.
fn exchange_version<S: HandshakeStream>(
    stream: &S,
    version: u32,
    deadline: Option<Instant>,
) -> Result<(), HandshakeError> {
    set_deadline(stream, deadline)?;
    let written = write_all(stream, &version.to_be_bytes()).map_err(io_err);
    let peer = read_word(stream, deadline)?;
    written?;
    if peer != version {
        return Err(HandshakeError::VersionMismatch {
            peer,
            ours: version,
        });
    }
    Ok(())
}

/// Reads the peer's version word.
fn read_word<S: HandshakeStream>(
    stream: &S,
    deadline: Option<Instant>,
) -> Result<u32, HandshakeError> {
    let mut word = [0u8; 4];
    let mut got = 0;
    while got < word.len() {
        set_deadline(stream, deadline)?;
        match stream.read(&mut word[got..]) {
            Ok(0) => return Err(HandshakeError::UnexpectedEof),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    Ok(u32::from_be_bytes(word))
}

/// Bounds the next I/O by what is left until `deadline`.
pub(crate) fn set_deadline<S: HandshakeStream>(
    stream: &S,
    deadline: Option<Instant>,
) -> Result<(), HandshakeError> {
    let Some(deadline) = deadline else {
        return Ok(());
    };
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(HandshakeError::Timeout);
    }
    stream.set_io_timeout(Some(left)).map_err(io_err)
}

/// A handshake error from an I/O error. A blocking call that hit its
/// timeout is `Timeout`; a peer that hung up before its word came is
/// `UnexpectedEof` however the kernel tells it (EOF, reset, broken pipe);
/// a TLS stream's failure (the peer refusing our certificate once its
/// TLS 1.3 handshake ended on our side, typically) is `Tls`.
pub(crate) fn io_err(e: io::Error) -> HandshakeError {
    use io::ErrorKind as K;
    if let Some(tls) = TlsError::from_io(&e) {
        return HandshakeError::Tls(tls.clone());
    }
    match e.kind() {
        K::WouldBlock | K::TimedOut => HandshakeError::Timeout,
        K::UnexpectedEof | K::ConnectionReset | K::BrokenPipe => HandshakeError::UnexpectedEof,
        _ => HandshakeError::Io(std::sync::Arc::new(e)),
    }
}

/// A stream `connect` opened.
pub(crate) enum Connected {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// Connects to the first of `addr`'s addresses that answers within
/// `timeout` (TCP_NODELAY on for TCP).
pub(crate) fn connect(addrs: &[Addr], timeout: Duration) -> Result<Connected> {
    let dial_err = |peer: Addr, e: io::Error| {
        log::debug!("neonet: dial {peer}: {e}");
        Error::at(Addr::Unknown, peer, Op::Dial, ErrorKind::io(e))
    };
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to dial");
    for a in addrs {
        let res = match a {
            Addr::Tcp(t) => TcpStream::connect_timeout(t, timeout).and_then(|s| {
                s.set_nodelay(true)?;
                Ok(Connected::Tcp(s))
            }),
            Addr::Unix(Some(p)) => UnixStream::connect(p).map(Connected::Unix),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "unnamed address",
            )),
        };
        match res {
            Ok(c) => return Ok(c),
            Err(e) => last = e,
        }
    }
    let first = addrs.first().cloned().unwrap_or(Addr::Unknown);
    Err(dial_err(first, last))
}
