//! TLS links end to end: dialing, accepting an incoming stream, and
//! telling a TLS client from a plain one by its first byte.

use std::net::TcpStream;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use super::socket::peek_first_byte;
use super::{TlsConfig, TlsError, TlsStream};
use crate::addr::ToLinkAddrs;
use crate::error::{Error, ErrorKind, HandshakeError, Op, Result};
use crate::handshake::{connect_tcp, io_err, DEFAULT_HANDSHAKE_TIMEOUT};
use crate::link::{LinkRole, NodeLink};
use crate::stream::LinkStream;

/// The first byte of a TLS ClientHello (a handshake record).
pub const TLS_HANDSHAKE_BYTE: u8 = 0x16;

/// How an incoming stream starts (see [`sniff`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStart {
    /// A TLS ClientHello.
    Tls,
    /// Anything else: a plain NEO handshake (or no NEO at all); the byte.
    Plain(u8),
}

impl StreamStart {
    /// For an end that requires TLS: a plain start is a
    /// [`TlsError::PlainClient`].
    pub fn require_tls(self) -> std::result::Result<(), TlsError> {
        match self {
            StreamStart::Tls => Ok(()),
            StreamStart::Plain(b) => Err(TlsError::PlainClient(b)),
        }
    }

    /// For an end without TLS: a TLS start is a [`TlsError::TlsClient`].
    pub fn require_plain(self) -> std::result::Result<(), TlsError> {
        match self {
            StreamStart::Tls => Err(TlsError::TlsClient),
            StreamStart::Plain(_) => Ok(()),
        }
    }
}

/// Looks at the first byte the peer sent, without consuming it, waiting
/// at most `timeout` for it (`TimedOut` then; `UnexpectedEof` if the
/// peer closed before sending anything). A listener uses it to tell a TLS
/// client from a plain one before handshaking either way.
pub fn sniff(stream: &impl AsFd, timeout: Option<Duration>) -> std::io::Result<StreamStart> {
    let b = peek_first_byte(stream, timeout)?;
    Ok(if b == TLS_HANDSHAKE_BYTE {
        StreamStart::Tls
    } else {
        StreamStart::Plain(b)
    })
}

/// Connects to `addr` over TCP (TCP_NODELAY on), runs the TLS handshake
/// as client, then NEO's handshake (ARCHITECTURE.md, "The shape") inside TLS; waits at most
/// `DEFAULT_HANDSHAKE_TIMEOUT` for all of it.
pub fn dial_link_tls(addr: impl ToLinkAddrs, config: &TlsConfig) -> Result<NodeLink> {
    dial_link_tls_timeout(addr, config, DEFAULT_HANDSHAKE_TIMEOUT)
}

/// Like [`dial_link_tls`], with `timeout` bounding the connect (per
/// address tried) and the two handshakes together.
pub fn dial_link_tls_timeout(
    addr: impl ToLinkAddrs,
    config: &TlsConfig,
    timeout: Duration,
) -> Result<NodeLink> {
    let tcp = connect_tcp(addr, timeout)?;
    let deadline = Instant::now() + timeout;
    let tls = TlsStream::connect(tcp, config, Some(timeout))?;
    neo_handshake(tls, LinkRole::Client, Some(deadline))
}

/// The server side of a TLS link, for a stream a listener accepted:
/// checks that the peer starts TLS (a plain client is refused with
/// [`TlsError::PlainClient`]), runs the TLS handshake as server, then
/// NEO's inside; `timeout` bounds all of it. Returns the link, server
/// role. On error the stream is closed.
pub fn accept_link_tls(
    stream: TcpStream,
    config: &TlsConfig,
    timeout: Option<Duration>,
) -> Result<NodeLink> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let (local, peer) = (
        LinkStream::local_addr(&stream),
        LinkStream::peer_addr(&stream),
    );
    let fail = |e| {
        Error::at(
            local.clone(),
            peer.clone(),
            Op::Handshake,
            ErrorKind::Handshake(e),
        )
    };
    let start = sniff(&stream, timeout).map_err(|e| fail(io_err(e)))?;
    start
        .require_tls()
        .map_err(|e| fail(HandshakeError::Tls(e)))?;
    let tls = TlsStream::accept(stream, config, left(deadline))?;
    neo_handshake(tls, LinkRole::Server, deadline)
}

/// NEO's handshake inside TLS, by `deadline`.
fn neo_handshake(tls: TlsStream, role: LinkRole, deadline: Option<Instant>) -> Result<NodeLink> {
    NodeLink::handshake(tls, role, left(deadline)).map_err(tls_cause)
}

/// What is left until `deadline`.
fn left(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

/// A TLS failure met during NEO's handshake (the peer refusing our
/// certificate after its TLS 1.3 handshake ended on our side, typically)
/// comes as an I/O error: report it as the TLS failure it is.
fn tls_cause(e: Error) -> Error {
    let tls = match e.kind() {
        ErrorKind::Handshake(HandshakeError::Io(io)) => TlsError::from_io(io).cloned(),
        _ => None,
    };
    match tls {
        Some(t) => Error::at(
            e.addrs().local.clone(),
            e.addrs().peer.clone(),
            e.op(),
            ErrorKind::Handshake(HandshakeError::Tls(t)),
        ),
        None => e,
    }
}
