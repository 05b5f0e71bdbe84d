//! TLS links end to end: dialing, accepting an incoming stream, and
//! telling a TLS client from a plain one by its first byte.

use std::net::TcpStream;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use super::{TlsConfig, TlsError, TlsSocket, TlsStream};
use crate::error::{Error, ErrorKind, HandshakeError, Result};
use crate::handshake::{io_err, AnyLink, Dialects};
use crate::stream::{peek_first_byte, TLS_HANDSHAKE_BYTE};

/// How an incoming stream starts (see [`sniff`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamStart {
    /// A TLS ClientHello.
    Tls,
    /// Anything else: a plain NEO handshake (or no NEO at all); the byte.
    Plain(u8),
}

/// Looks at the first byte the peer sent, without consuming it, waiting
/// at most `timeout` for it (`TimedOut` then; `UnexpectedEof` if the
/// peer closed before sending anything). A listener uses it to tell a TLS
/// client from a plain one before handshaking either way.
pub(crate) fn sniff(stream: &impl AsFd, timeout: Option<Duration>) -> std::io::Result<StreamStart> {
    let b = peek_first_byte(stream, timeout)?;
    Ok(if b == TLS_HANDSHAKE_BYTE {
        StreamStart::Tls
    } else {
        StreamStart::Plain(b)
    })
}

/// The server side of a TLS link, for a stream a listener accepted:
/// checks that the peer starts TLS (a plain client is refused with
/// [`TlsError::PlainClient`]), runs the TLS handshake as server, then
/// NEO's inside, in the client's dialect (told by the first byte of the
/// plaintext, as [`AnyLink::handshake_as_server`] does on a plain
/// socket); `timeout` bounds all of it. Returns the link, server role.
/// On error the stream is closed.
pub fn accept_link_tls(
    stream: TcpStream,
    config: &TlsConfig,
    timeout: Option<Duration>,
) -> Result<AnyLink> {
    accept_any(stream, config, false, timeout, Dialects::default())
}

/// The server side of a stream accepted by an end with TLS configured:
/// TLS or, if `plain_ok`, plain (told by the first byte, `0x16` for TLS),
/// then NEO's handshake in the client's dialect; `timeout` bounds all of
/// it. A plain client where TLS is required is refused with
/// [`TlsError::PlainClient`]: the stream is closed without a word, as
/// NEO/py does.
pub(crate) fn accept_any<S: TlsSocket>(
    sock: S,
    config: &TlsConfig,
    plain_ok: bool,
    timeout: Option<Duration>,
    dialects: Dialects,
) -> Result<AnyLink> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let (local, peer) = (sock.local_addr(), sock.peer_addr());
    let fail = |e| crate::handshake::failed(&local, &peer, e);
    match sniff(&sock, timeout).map_err(|e| fail(io_err(e)))? {
        StreamStart::Tls => {
            let tls = TlsStream::accept(sock, config, left(deadline))
                .inspect_err(|e| log::debug!("{e}"))?;
            AnyLink::handshake_as_server(tls, left(deadline), dialects).map_err(tls_cause)
        }
        StreamStart::Plain(_) if plain_ok => {
            AnyLink::handshake_as_server(sock, left(deadline), dialects)
        }
        StreamStart::Plain(b) => Err(fail(HandshakeError::Tls(TlsError::PlainClient(b)))),
    }
}

/// What is left until `deadline`.
fn left(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

/// A TLS failure met during NEO's handshake (the peer refusing our
/// certificate after its TLS 1.3 handshake ended on our side, typically)
/// comes as an I/O error: report it as the TLS failure it is.
pub(crate) fn tls_cause(e: Error) -> Error {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    fn streams() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        (a, l.accept().unwrap().0)
    }

    #[test]
    fn sniff_tells_tls_from_plain_without_consuming() {
        let (mut client, server) = streams();
        client.write_all(&[TLS_HANDSHAKE_BYTE, 3, 1]).unwrap();
        assert_eq!(sniff(&server, None).unwrap(), StreamStart::Tls);
        let (mut client, server) = streams();
        client.write_all(&6u32.to_be_bytes()).unwrap();
        assert_eq!(sniff(&server, None).unwrap(), StreamStart::Plain(0));
        // Not consumed: the same byte again.
        assert_eq!(sniff(&server, None).unwrap(), StreamStart::Plain(0));
    }

    #[test]
    fn sniff_gives_up_on_silent_and_closed_peers() {
        let (_silent, ours) = streams();
        let e = sniff(&ours, Some(Duration::from_millis(20))).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        let (gone, ours) = streams();
        drop(gone);
        let e = sniff(&ours, None).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
    }
}
