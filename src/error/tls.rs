//! What a TLS failure is called: the reasons a TLS link could not be set
//! up or went down, named in NEO's terms (whose certificate, which CA).

use std::io;

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
    /// As an `io::Error` (kind `InvalidData`), for the stream's callers:
    /// the link reports it as the cause that took it down.
    #[cfg(feature = "tls")]
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }

    /// The `TlsError` inside an `io::Error` made by [`TlsError::into_io`].
    pub(crate) fn from_io(e: &io::Error) -> Option<&TlsError> {
        e.get_ref()?.downcast_ref::<TlsError>()
    }
}
