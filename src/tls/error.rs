//! What a TLS failure is called: the reasons a TLS link could not be set
//! up or went down, named in NEO's terms (whose certificate, which CA).

use std::io;

use rustls::CertificateError;

use super::TlsAlert;

/// Why TLS failed (ARCHITECTURE.md, "TLS"). Carried by
/// [`HandshakeError::Tls`](crate::HandshakeError::Tls) when a link could
/// not be set up, and by [`ErrorKind::Tls`](crate::ErrorKind::Tls) when a
/// TLS link went down (the first receive on each connection reports it)
/// or a send met the failed session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    /// our certificate, for the reason the alert names), or ended it with
    /// one on a link that was up.
    #[error("the peer refused the TLS session: {}", refusal(*.0))]
    PeerRefused(TlsAlert),
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
    /// Any other TLS protocol failure: a corrupt or forged record, no
    /// common protocol version or cipher suite, a message out of place.
    #[error("TLS: {reason}{}", alert_suffix(*.alert))]
    Protocol {
        /// What was wrong, as the TLS library says it.
        reason: String,
        /// The alert TLS names this failure with, which went to the peer
        /// if the stream still took it; `None` where the library's reason
        /// does not tell one alert.
        alert: Option<TlsAlert>,
    },
}

/// What an alert from the peer tells about why it refused us.
fn refusal(alert: TlsAlert) -> String {
    match alert.refusal_reason() {
        Some(why) => format!("{why} (alert {alert})"),
        None => format!("alert {alert}"),
    }
}

fn alert_suffix(alert: Option<TlsAlert>) -> String {
    alert.map(|a| format!(" (alert {a})")).unwrap_or_default()
}

impl TlsError {
    /// The reason the TLS library gives, in our terms.
    pub(crate) fn from_rustls(e: rustls::Error) -> TlsError {
        use CertificateError as C;
        match e {
            rustls::Error::NoCertificatesPresented => TlsError::NoPeerCertificate,
            rustls::Error::AlertReceived(alert) => {
                TlsError::PeerRefused(TlsAlert::from_rustls(alert))
            }
            rustls::Error::InvalidCertificate(c) => match c {
                C::UnknownIssuer => TlsError::UnknownCa,
                C::Expired | C::ExpiredContext { .. } => TlsError::Expired,
                C::NotValidYet | C::NotValidYetContext { .. } => TlsError::NotYetValid,
                other => TlsError::BadCertificate(other.to_string()),
            },
            other => TlsError::Protocol {
                reason: other.to_string(),
                alert: alert_for(&other),
            },
        }
    }
}

/// The alert a TLS end sends for failure `e`, where the failure's kind
/// tells one (the mapping rustls applies when it sends them; its other
/// failures each send one of several alerts, and those are left out).
fn alert_for(e: &rustls::Error) -> Option<TlsAlert> {
    use rustls::{AlertDescription as A, Error as E};
    let alert = match e {
        E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => {
            A::UnexpectedMessage
        }
        E::InvalidMessage(m) => A::from(*m),
        E::DecryptError => A::BadRecordMac,
        E::PeerSentOversizedRecord => A::RecordOverflow,
        E::NoApplicationProtocol => A::NoApplicationProtocol,
        _ => return None,
    };
    Some(TlsAlert::from_rustls(alert))
}

impl TlsError {
    /// As an `io::Error` (kind `InvalidData`), for the stream's callers:
    /// the link reports it as the cause that took it down.
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }

    /// An error of the TLS session's own I/O interface, with our reason:
    /// once a session failed, its plaintext writer reports that failure
    /// as an `io::Error` carrying the library's error, which must not
    /// reach our callers (its type is no part of our API).
    pub(crate) fn session_io(e: io::Error) -> io::Error {
        match e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
            Some(tls) => TlsError::from_rustls(tls.clone()).into_io(),
            None => e,
        }
    }

    /// The `TlsError` inside an `io::Error` made by [`TlsError::into_io`].
    pub(crate) fn from_io(e: &io::Error) -> Option<&TlsError> {
        e.get_ref()?.downcast_ref::<TlsError>()
    }
}
