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
use std::path::Path;
use std::time::{Duration, Instant};

use crate::addr::{Addr, ToLinkAddrs};
use crate::codec::Dialect;
use crate::error::{Error, ErrorKind, HandshakeError, Op, Result};
use crate::link::{LinkRole, NodeLink};
use crate::neopy::{self, HandshakeMismatch, HandshakeProgress};
use crate::stream::{write_all, LinkStream};
use crate::tls::{TlsError, TLS_HANDSHAKE_BYTE};

/// The NEO protocol version we speak by default.
pub const PROTOCOL_VERSION: u32 = 6;

/// How long `dial_link` waits for the peer's version by default.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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

impl NodeLink {
    /// Handshakes over `stream` with protocol version 6 and returns the
    /// link. On error the stream is closed.
    pub fn handshake<S: HandshakeStream>(
        stream: S,
        role: LinkRole,
        timeout: Option<Duration>,
    ) -> Result<NodeLink> {
        NodeLink::handshake_version(stream, role, timeout, PROTOCOL_VERSION)
    }

    /// Handshakes over `stream` announcing `version` (the peer must send
    /// the same) and returns the link. On error the stream is closed.
    pub fn handshake_version<S: HandshakeStream>(
        stream: S,
        role: LinkRole,
        timeout: Option<Duration>,
        version: u32,
    ) -> Result<NodeLink> {
        let deadline = timeout.map(|t| Instant::now() + t);
        finish(stream, role, Dialect::Proto6, |s| {
            exchange(s, version, deadline)
        })
    }

    /// Handshakes over `stream` in `dialect` (protocol 6: version 6;
    /// NEO/py: `["NEO", 5]`) and returns the link, speaking that dialect.
    /// On error the stream is closed; the error names what the peer sent
    /// (`HandshakeError::VersionMismatch`, `HandshakeError::NotNeo`).
    pub fn handshake_with<S: HandshakeStream>(
        stream: S,
        role: LinkRole,
        timeout: Option<Duration>,
        dialect: Dialect,
    ) -> Result<NodeLink> {
        let deadline = timeout.map(|t| Instant::now() + t);
        finish(stream, role, dialect, |s| match dialect {
            Dialect::Proto6 => exchange(s, PROTOCOL_VERSION, deadline),
            Dialect::NeoPy => exchange_neopy(s, deadline),
        })
    }

    /// The server side of a link in whichever dialect the client speaks:
    /// looks at the client's first byte without consuming it (waiting for
    /// it within `timeout`, [`HandshakeStream::peek_first_byte`]), then
    /// handshakes in that dialect, as server. `0x92` starts NEO/py's
    /// handshake; `0x16` a TLS ClientHello, which a plain end refuses
    /// ([`TlsError::TlsClient`](crate::tls::TlsError::TlsClient)); anything
    /// else is taken for protocol 6's (whose version word starts with
    /// `0x00`), so that a client of another version or protocol gets our
    /// version word and a `VersionMismatch`, as with
    /// [`handshake`](Self::handshake). A client that sends nothing, or a
    /// TLS client, gets our version word too (and `Timeout`, or the TLS
    /// error). Over a [`TlsStream`](crate::tls::TlsStream) the byte
    /// looked at is the first of the plaintext: the dialects are told
    /// apart inside TLS as outside.
    pub fn handshake_as_server<S: HandshakeStream>(
        stream: S,
        timeout: Option<Duration>,
    ) -> Result<NodeLink> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let dialect = match sniff(&stream, deadline) {
            Ok(d) => d,
            Err(e) => return Err(failed(&stream.local_addr(), &stream.peer_addr(), e)),
        };
        NodeLink::handshake_with(stream, LinkRole::Server, left(deadline), dialect)
    }
}

/// What is left until `deadline` (zero once passed).
fn left(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

/// Runs `exchange` on `stream`, then makes the link of `dialect`; on
/// error the stream is dropped (closed) and the error names the link.
fn finish<S: HandshakeStream>(
    stream: S,
    role: LinkRole,
    dialect: Dialect,
    exchange: impl FnOnce(&S) -> Result<(), HandshakeError>,
) -> Result<NodeLink> {
    let (local, peer) = (stream.local_addr(), stream.peer_addr());
    let fail = |e| failed(&local, &peer, e);
    exchange(&stream).map_err(fail)?;
    // The link's reader blocks for as long as the link lives.
    stream.set_io_timeout(None).map_err(|e| fail(io_err(e)))?;
    NodeLink::new_with(stream, role, dialect)
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

/// The dialect of a client, by its first byte (see
/// [`NodeLink::handshake_as_server`]). A client that sent nothing by
/// `deadline`, that hung up, or that starts TLS fails, after our version
/// word was written: to a client that is not one of ours, we are a
/// protocol 6 server, which always writes its word (and a TLS client
/// reports a peer that does not speak TLS).
fn sniff<S: HandshakeStream>(
    stream: &S,
    deadline: Option<Instant>,
) -> Result<Dialect, HandshakeError> {
    let refuse = |e: HandshakeError| {
        // Best effort, and it cannot block long: 4 bytes into an empty
        // socket buffer.
        let _ = stream.set_io_timeout(Some(Duration::from_millis(100)));
        let _ = write_all(stream, &PROTOCOL_VERSION.to_be_bytes());
        Err(e)
    };
    match stream.peek_first_byte(left(deadline)) {
        Ok(b) if b == Dialect::NeoPy.handshake_first_byte() => Ok(Dialect::NeoPy),
        Ok(TLS_HANDSHAKE_BYTE) => refuse(HandshakeError::Tls(TlsError::TlsClient)),
        Ok(_) => Ok(Dialect::Proto6),
        Err(e) if e.kind() == io::ErrorKind::Unsupported => Err(io_err(e)),
        Err(e) => refuse(io_err(e)),
    }
}

/// NEO/py's handshake: writes ours, reads the peer's 6 bytes and checks
/// them as they come (an HTTP client is refused at its first byte).
fn exchange_neopy<S: HandshakeStream>(
    stream: &S,
    deadline: Option<Instant>,
) -> Result<(), HandshakeError> {
    set_deadline(stream, deadline)?;
    // As for protocol 6: read even if the write failed, to report what
    // the peer sent.
    let written = write_all(stream, &neopy::HANDSHAKE).map_err(io_err);
    let mut got = [0u8; neopy::HANDSHAKE.len()];
    let mut n = 0;
    loop {
        match neopy::check_handshake(&got[..n]) {
            Ok(HandshakeProgress::Done) => return written,
            Ok(HandshakeProgress::Incomplete { .. }) => {}
            Err(HandshakeMismatch::VersionMismatch { peer, ours }) => {
                return Err(HandshakeError::VersionMismatch {
                    peer: u32::from(peer),
                    ours: u32::from(ours),
                })
            }
            Err(HandshakeMismatch::NotNeo { got }) => return Err(HandshakeError::NotNeo { got }),
        }
        set_deadline(stream, deadline)?;
        match stream.read(&mut got[n..]) {
            Ok(0) => return Err(HandshakeError::UnexpectedEof),
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e)),
        }
    }
}

/// Writes our version, reads and checks the peer's.
fn exchange<S: HandshakeStream>(
    stream: &S,
    version: u32,
    deadline: Option<Instant>,
) -> Result<(), HandshakeError> {
    set_deadline(stream, deadline)?;
    // A peer that already hung up makes the write fail; read anyway, so
    // that what it sent before (a mismatching version) is what we report.
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

/// Connects to `addr` and handshakes as client in protocol 6, waiting at
/// most `DEFAULT_HANDSHAKE_TIMEOUT` for the connection and for the peer's
/// version. `addr` is anything std resolves to TCP addresses (TCP_NODELAY
/// is set), or an [`Addr`] such as a listener's
/// [`local_addr`](crate::LinkListener::local_addr), TCP or Unix.
///
/// ```
/// use neonet::{dial_link, LinkListener};
///
/// let listener = LinkListener::bind("127.0.0.1:0")?;
/// let client = dial_link(listener.local_addr())?;
/// let server = listener.accept()?;
/// assert_eq!(client.addrs().peer, server.addrs().local);
/// # Ok::<(), neonet::Error>(())
/// ```
pub fn dial_link(addr: impl ToLinkAddrs) -> Result<NodeLink> {
    dial_link_timeout(addr, DEFAULT_HANDSHAKE_TIMEOUT)
}

/// Like [`dial_link`], with `timeout` bounding the connect (per address
/// tried) and the handshake.
pub fn dial_link_timeout(addr: impl ToLinkAddrs, timeout: Duration) -> Result<NodeLink> {
    dial_link_with_timeout(addr, Dialect::Proto6, timeout)
}

/// Connects to `addr` (as [`dial_link`]) and handshakes as client in
/// `dialect`, waiting at most `DEFAULT_HANDSHAKE_TIMEOUT` for the peer's
/// handshake: `dial_link_with(master, Dialect::NeoPy)` to talk to a
/// NEO/py node.
pub fn dial_link_with(addr: impl ToLinkAddrs, dialect: Dialect) -> Result<NodeLink> {
    dial_link_with_timeout(addr, dialect, DEFAULT_HANDSHAKE_TIMEOUT)
}

/// Like [`dial_link_with`], with `timeout` bounding the connect (per
/// address tried) and the handshake.
pub fn dial_link_with_timeout(
    addr: impl ToLinkAddrs,
    dialect: Dialect,
    timeout: Duration,
) -> Result<NodeLink> {
    let t = Some(timeout);
    match connect(addr, timeout)? {
        Connected::Tcp(s) => NodeLink::handshake_with(s, LinkRole::Client, t, dialect),
        Connected::Unix(s) => NodeLink::handshake_with(s, LinkRole::Client, t, dialect),
    }
}

/// Connects to the Unix socket at `path` and handshakes as client.
pub fn dial_link_unix(path: impl AsRef<Path>) -> Result<NodeLink> {
    dial_link(Addr::from(path.as_ref()))
}

/// Connects to the Unix socket at `path` and handshakes as client in
/// `dialect`.
pub fn dial_link_unix_with(path: impl AsRef<Path>, dialect: Dialect) -> Result<NodeLink> {
    dial_link_with(Addr::from(path.as_ref()), dialect)
}

/// A stream `connect` opened.
pub(crate) enum Connected {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// Connects to the first of `addr`'s addresses that answers within
/// `timeout` (TCP_NODELAY on for TCP).
pub(crate) fn connect(addr: impl ToLinkAddrs, timeout: Duration) -> Result<Connected> {
    let dial_err = |peer: Addr, e: io::Error| {
        log::debug!("neonet: dial {peer}: {e}");
        Error::at(Addr::Unknown, peer, Op::Dial, ErrorKind::io(e))
    };
    let addrs = addr
        .to_link_addrs()
        .map_err(|e| dial_err(Addr::Unknown, e))?;
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to dial");
    for a in &addrs {
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

/// Connects over TCP like [`connect`]; a Unix address is an error.
pub(crate) fn connect_tcp(addr: impl ToLinkAddrs, timeout: Duration) -> Result<TcpStream> {
    match connect(addr, timeout)? {
        Connected::Tcp(s) => Ok(s),
        Connected::Unix(s) => {
            let e = io::Error::new(io::ErrorKind::InvalidInput, "not a TCP address");
            let peer = Addr::from_unix(s.peer_addr());
            Err(Error::at(Addr::Unknown, peer, Op::Dial, ErrorKind::io(e)))
        }
    }
}
