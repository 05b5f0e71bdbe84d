//! Link establishment (DESIGN §6): the protocol version exchange that
//! starts every link, and dialing.
//!
//! Each side writes its version as a 4-byte big-endian word, then reads the
//! peer's. Writing first means two sides handshaking at once never wait on
//! each other, and that a peer with another version always sees ours
//! before we hang up, so both report the mismatch rather than a closed
//! stream.

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, HandshakeError, LinkAddrs, Result};
use crate::link::{LinkRole, NodeLink};
use crate::stream::{write_all, LinkStream};

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
        let addrs = LinkAddrs::new(stream.local_addr(), stream.peer_addr());
        let fail =
            |e: HandshakeError| Error::new(&addrs, None, "handshake", ErrorKind::Handshake(e));
        exchange(&stream, version, timeout).map_err(fail)?;
        // The link's reader blocks for as long as the link lives.
        stream.set_io_timeout(None).map_err(|e| fail(io_err(e)))?;
        NodeLink::new(stream, role)
    }
}

/// Writes our version, reads and checks the peer's.
fn exchange<S: HandshakeStream>(
    stream: &S,
    version: u32,
    timeout: Option<Duration>,
) -> Result<(), HandshakeError> {
    let deadline = timeout.map(|t| Instant::now() + t);
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
/// `UnexpectedEof` however the kernel tells it (EOF, reset, broken pipe).
pub(crate) fn io_err(e: io::Error) -> HandshakeError {
    use io::ErrorKind as K;
    match e.kind() {
        K::WouldBlock | K::TimedOut => HandshakeError::Timeout,
        K::UnexpectedEof | K::ConnectionReset | K::BrokenPipe => HandshakeError::UnexpectedEof,
        _ => HandshakeError::Io(std::sync::Arc::new(e)),
    }
}

/// Connects to `addr` over TCP (TCP_NODELAY on) and handshakes as client,
/// waiting at most `DEFAULT_HANDSHAKE_TIMEOUT` for the peer's version.
pub fn dial_link(addr: impl ToSocketAddrs) -> Result<NodeLink> {
    dial_link_timeout(addr, DEFAULT_HANDSHAKE_TIMEOUT)
}

/// Like [`dial_link`], with `timeout` bounding the connect (per address
/// tried) and the handshake.
pub fn dial_link_timeout(addr: impl ToSocketAddrs, timeout: Duration) -> Result<NodeLink> {
    let stream = connect_tcp(addr, timeout)?;
    NodeLink::handshake(stream, LinkRole::Client, Some(timeout))
}

/// Connects to `addr` over TCP (the first of its addresses that answers
/// within `timeout`), TCP_NODELAY on.
pub(crate) fn connect_tcp(addr: impl ToSocketAddrs, timeout: Duration) -> Result<TcpStream> {
    let dial_err = |peer: String, e: io::Error| {
        Error::new(&LinkAddrs::new("?", peer), None, "dial", ErrorKind::io(e))
    };
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| dial_err("?".into(), e))?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to dial");
    for a in &addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(stream) => {
                stream
                    .set_nodelay(true)
                    .map_err(|e| dial_err(a.to_string(), e))?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    let peer = addrs.first().map_or_else(|| "?".into(), |a| a.to_string());
    Err(dial_err(peer, last))
}

/// Connects to the Unix socket at `path` and handshakes as client.
pub fn dial_link_unix(path: impl AsRef<Path>) -> Result<NodeLink> {
    let path = path.as_ref();
    let stream = UnixStream::connect(path).map_err(|e| {
        let addrs = LinkAddrs::new("?", path.display().to_string());
        Error::new(&addrs, None, "dial", ErrorKind::io(e))
    })?;
    NodeLink::handshake(stream, LinkRole::Client, Some(DEFAULT_HANDSHAKE_TIMEOUT))
}
