//! The TLS handshake that starts a TLS link, before NEO's own
//! (ARCHITECTURE.md, "TLS"): blocking, bounded by one deadline, and reporting a peer that
//! answers with something other than TLS as such.

use std::io::{self, IoSlice};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, Connection, ServerConnection};

use super::stream::{Rx, TlsStream};
use super::{TlsConfig, TlsError, TlsSocket};
use crate::error::{HandshakeError, Result};
use crate::handshake::{io_err, set_deadline};
use crate::stream::LinkStream;

/// How many of the peer's first bytes an error about a peer that is not
/// TLS shows.
const FIRST_BYTES: usize = 8;

/// TLS record types (handshake, alert, ...): the first byte of anything
/// a TLS peer sends.
const TLS_RECORD_TYPES: std::ops::RangeInclusive<u8> = 0x14..=0x18;

impl<S: TlsSocket> TlsStream<S> {
    /// Runs the TLS handshake over `sock` as the client (the end that
    /// dialed), within `timeout`. On error the socket is closed.
    pub fn connect(sock: S, config: &TlsConfig, timeout: Option<Duration>) -> Result<Self> {
        // No name is checked (see `CaVerifier`), and an address sends no
        // SNI: any address will do.
        let name = ServerName::IpAddress(IpAddr::V4(Ipv4Addr::UNSPECIFIED).into());
        let session = ClientConnection::new(config.client_config(), name);
        run(sock, session.map(Connection::Client), timeout)
    }

    /// Runs the TLS handshake over `sock` as the server (the end that
    /// accepted), within `timeout`. On error the socket is closed.
    pub fn accept(sock: S, config: &TlsConfig, timeout: Option<Duration>) -> Result<Self> {
        let session = ServerConnection::new(config.server_config());
        run(sock, session.map(Connection::Server), timeout)
    }
}

fn run<S: TlsSocket>(
    sock: S,
    session: std::result::Result<Connection, rustls::Error>,
    timeout: Option<Duration>,
) -> Result<TlsStream<S>> {
    let (local, peer) = (sock.local_addr(), sock.peer_addr());
    let fail = |e| crate::handshake::failed(&local, &peer, e);
    let mut session = session.map_err(|e| fail(HandshakeError::Tls(TlsError::from_rustls(e))))?;
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut rx = Rx::new();
    let mut first = Vec::new();
    drive(&sock, &mut session, &mut rx, &mut first, deadline)
        .and_then(|()| sock.set_io_timeout(None).map_err(io_err))
        .map_err(|e| fail(not_tls(e, &first, &session)))?;
    Ok(TlsStream::new(sock, session, rx))
}

/// Exchanges handshake records until the session is set up. Bytes that
/// came after the handshake (the peer's first data) stay in `rx`; the
/// peer's first bytes are kept in `first`.
fn drive<S: TlsSocket>(
    sock: &S,
    session: &mut Connection,
    rx: &mut Rx,
    first: &mut Vec<u8>,
    deadline: Option<Instant>,
) -> std::result::Result<(), HandshakeError> {
    loop {
        while session.wants_write() {
            set_deadline(sock, deadline)?;
            session.write_tls(&mut Writer(sock)).map_err(io_err)?;
        }
        if !session.is_handshaking() {
            return Ok(());
        }
        set_deadline(sock, deadline)?;
        let n = loop {
            match rx.fill(|b| sock.read(b)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                res => break res.map_err(io_err)?,
            }
        };
        let seen = rx.data();
        let more = seen.len().min(FIRST_BYTES.saturating_sub(first.len()));
        first.extend_from_slice(&seen[..more]);
        absorb(sock, session, rx)?;
        if n == 0 && session.is_handshaking() {
            return Err(HandshakeError::UnexpectedEof);
        }
    }
}

/// Gives the session what was read, while it is still handshaking. On a
/// TLS error, writes the alert the session made (if the socket takes it)
/// so that the peer learns why.
fn absorb<S: TlsSocket>(
    sock: &S,
    session: &mut Connection,
    rx: &mut Rx,
) -> std::result::Result<(), HandshakeError> {
    while session.is_handshaking() && rx.feed(session).map_err(io_err)? {
        match session.process_new_packets() {
            Ok(state) => {
                rx.plain = state.plaintext_bytes_to_read();
                rx.closed = state.peer_has_closed();
            }
            Err(e) => {
                let _ = session.write_tls(&mut Writer(sock));
                return Err(HandshakeError::Tls(TlsError::from_rustls(e)));
            }
        }
    }
    Ok(())
}

/// A failed handshake whose peer's first bytes are not TLS is reported
/// as such, whatever the session made of them.
fn not_tls(e: HandshakeError, first: &[u8], session: &Connection) -> HandshakeError {
    match first.first() {
        Some(b) if !TLS_RECORD_TYPES.contains(b) => HandshakeError::Tls(match session {
            Connection::Client(_) => TlsError::NotTls(first.to_vec()),
            Connection::Server(_) => TlsError::PlainClient(*b),
        }),
        _ => e,
    }
}

/// The socket as `io::Write`, for the session's handshake records.
struct Writer<'a, S>(&'a S);

impl<S: LinkStream> io::Write for Writer<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
