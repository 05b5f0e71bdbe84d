//! What a TLS failure is called: the reasons a TLS link could not be set
//! up or went down, named in NEO's terms (whose certificate, which CA).

use std::io;
use std::sync::Arc;

use rustls::{AlertDescription, CertificateError};

/// Why TLS failed (ARCHITECTURE.md, "TLS"). Carried by
/// [`HandshakeError::Tls`](crate::HandshakeError::Tls) when a link could
/// not be set up, and inside the `io::Error` of
/// [`ErrorKind::Io`](crate::ErrorKind::Io) when a TLS link went down.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The configuration could not be built (PEM files, key, CA).
    #[error("TLS configuration: {0}")]
    Config(String),
    /// The peer presented no certificate: both ends must (mutual TLS).
    #[error("the peer sent no certificate (mutual TLS is required)")]
    NoPeerCertificate,
    /// The peer's certificate is not signed by our CA.
    #[error("the peer's certificate is not signed by our CA (unknown CA)")]
    UnknownCa,
    /// The peer's certificate has expired.
    #[error("the peer's certificate has expired")]
    Expired,
    /// The peer's certificate is not valid yet.
    #[error("the peer's certificate is not valid yet")]
    NotYetValid,
    /// Something else is wrong with the peer's certificate.
    #[error("the peer's certificate is invalid: {0}")]
    BadCertificate(String),
    /// The peer refused the session with an alert (usually: it refused
    /// our certificate, for the reason the alert names).
    #[error("the peer refused the TLS session: {}", alert_reason(*.0))]
    PeerRefused(AlertDescription),
    /// A peer that does not speak TLS connected to an end that requires it
    /// (a plain client on a TLS listener); `0` is the first byte it sent.
    #[error(
        "plain (non-TLS) client on a TLS listener: first byte {0:#04x}, not a TLS ClientHello"
    )]
    PlainClient(u8),
    /// A TLS client connected to an end that does not speak TLS (a TLS
    /// client on a plain listener).
    #[error("TLS client on a plain (non-TLS) listener")]
    TlsClient,
    /// We sent a TLS ClientHello and the peer answered with something that
    /// is not TLS: a plain NEO node, most likely (its first bytes).
    #[error("the peer does not speak TLS: it answered {0:02x?} (a node without TLS?)")]
    NotTls(Vec<u8>),
    /// Any other TLS protocol failure (a corrupt or forged record, no
    /// common protocol version or cipher suite, ...).
    #[error("TLS: {0}")]
    Protocol(Arc<rustls::Error>),
}

/// What an alert from the peer tells about why it refused us.
fn alert_reason(alert: AlertDescription) -> String {
    use AlertDescription as A;
    let why = match alert {
        A::CertificateRequired => "it requires a client certificate and we sent none",
        A::UnknownCA => "our certificate is not signed by its CA (unknown CA)",
        A::CertificateExpired => "our certificate has expired or is not valid yet",
        A::BadCertificate | A::UnsupportedCertificate | A::CertificateUnknown => {
            "our certificate is invalid"
        }
        A::CertificateRevoked => "our certificate is revoked",
        A::ProtocolVersion => "no TLS version in common",
        A::HandshakeFailure => "handshake failure (no cipher suite in common, or our certificate)",
        _ => "",
    };
    if why.is_empty() {
        format!("alert {alert:?}")
    } else {
        format!("{why} (alert {alert:?})")
    }
}

impl From<rustls::Error> for TlsError {
    fn from(e: rustls::Error) -> TlsError {
        use CertificateError as C;
        match e {
            rustls::Error::NoCertificatesPresented => TlsError::NoPeerCertificate,
            rustls::Error::AlertReceived(alert) => TlsError::PeerRefused(alert),
            rustls::Error::InvalidCertificate(c) => match c {
                C::UnknownIssuer => TlsError::UnknownCa,
                C::Expired | C::ExpiredContext { .. } => TlsError::Expired,
                C::NotValidYet | C::NotValidYetContext { .. } => TlsError::NotYetValid,
                other => TlsError::BadCertificate(other.to_string()),
            },
            other => TlsError::Protocol(Arc::new(other)),
        }
    }
}

impl TlsError {
    /// As an `io::Error` (kind `InvalidData`), for the stream's callers:
    /// the link reports it as the cause that took it down.
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }

    /// The `TlsError` inside an `io::Error` made by [`TlsError::into_io`].
    pub(crate) fn from_io(e: &io::Error) -> Option<&TlsError> {
        e.get_ref()?.downcast_ref::<TlsError>()
    }
}
