//! Link establishment (ARCHITECTURE.md, "The shape"): the protocol version exchange that
//! starts every link, and dialing.
//!
//! Each side writes its version as a 4-byte big-endian word, then reads the
//! peer's. Writing first means two sides handshaking at once never wait on
//! each other, and that a peer with another version always sees ours
//! before we hang up, so both report the mismatch rather than a closed
//! stream.

use std::io;
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::addr::{Addr, ToLinkAddrs};
use crate::error::{Error, ErrorKind, HandshakeError, Op, Result};
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
        let (local, peer) = (stream.local_addr(), stream.peer_addr());
        let fail = |e: HandshakeError| {
            log::info!("neonet {local} - {peer}: handshake failed: {e}");
            Error::at(
                local.clone(),
                peer.clone(),
                Op::Handshake,
                ErrorKind::Handshake(e),
            )
        };
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

/// Connects to `addr` and handshakes as client, waiting at most
/// `DEFAULT_HANDSHAKE_TIMEOUT` for the connection and for the peer's
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
    match connect(addr, timeout)? {
        Connected::Tcp(s) => NodeLink::handshake(s, LinkRole::Client, Some(timeout)),
        Connected::Unix(s) => NodeLink::handshake(s, LinkRole::Client, Some(timeout)),
    }
}

/// Connects to the Unix socket at `path` and handshakes as client.
pub fn dial_link_unix(path: impl AsRef<Path>) -> Result<NodeLink> {
    dial_link(Addr::from(path.as_ref()))
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
    Err(dial_err(
        addrs.first().cloned().unwrap_or(Addr::Unknown),
        last,
    ))
}

/// Connects over TCP like [`connect`]; a Unix address is an error.
pub(crate) fn connect_tcp(addr: impl ToLinkAddrs, timeout: Duration) -> Result<TcpStream> {
    match connect(addr, timeout)? {
        Connected::Tcp(s) => Ok(s),
        Connected::Unix(s) => {
            let e = io::Error::new(io::ErrorKind::InvalidInput, "not a TCP address");
            Err(Error::at(
                Addr::Unknown,
                s.peer_addr()
                    .map_or(Addr::Unknown, |a| Addr::from_unix(Ok(a))),
                Op::Dial,
                ErrorKind::io(e),
            ))
        }
    }
}
