//! Everything rustls reports, in our terms: neonet's API names TLS
//! versions, cipher suites, alerts and failures with types of its own
//! (`names.rs`, `error.rs`), so that rustls' major versions are not ours.

use std::io;

use rustls::CertificateError;

use crate::error::{TlsAlert, TlsError, TlsVersion};

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
}

impl TlsVersion {
    /// From the TLS library's version; `None` for a version neonet never
    /// offers (only 1.2 and 1.3 can be negotiated).
    pub(crate) fn from_rustls(v: rustls::ProtocolVersion) -> Option<TlsVersion> {
        match v {
            rustls::ProtocolVersion::TLSv1_2 => Some(TlsVersion::Tls12),
            rustls::ProtocolVersion::TLSv1_3 => Some(TlsVersion::Tls13),
            _ => None,
        }
    }
}

impl TlsAlert {
    /// From the TLS library's alert, by number.
    pub(crate) fn from_rustls(alert: rustls::AlertDescription) -> TlsAlert {
        TlsAlert::from_code(u8::from(alert))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::CipherSuite;

    /// Every number maps to one alert and back, and the library's alerts
    /// map to ours by number and name.
    #[test]
    fn alerts_round_trip() {
        for code in 0..=u8::MAX {
            let alert = TlsAlert::from_code(code);
            assert_eq!(alert.code(), code);
            assert_eq!(alert.name().is_some(), !matches!(alert, TlsAlert::Other(_)));
            let theirs = rustls::AlertDescription::from(code);
            assert_eq!(TlsAlert::from_rustls(theirs), alert);
        }
        assert_eq!(
            TlsAlert::from_rustls(rustls::AlertDescription::UnknownCA),
            TlsAlert::UnknownCa
        );
        assert_eq!(TlsAlert::UnknownCa.to_string(), "unknown_ca");
        assert_eq!(TlsAlert::Other(200).to_string(), "alert 200");
    }

    /// Every suite the library offers has its registry name here (the
    /// library says `TLS13_` where the registry says `TLS_`).
    #[test]
    fn suites_are_named_as_the_registry() {
        let provider = rustls::crypto::ring::default_provider();
        assert_eq!(provider.cipher_suites.len(), crate::error::SUITES.len());
        for s in &provider.cipher_suites {
            let ours = CipherSuite::from_id(u16::from(s.suite()));
            let theirs = s.suite().as_str().expect("named");
            let iana = theirs.replacen("TLS13_", "TLS_", 1);
            assert_eq!(ours.name(), Some(iana.as_str()), "{theirs}");
        }
        assert_eq!(CipherSuite::from_id(0x1234).name(), None);
        assert_eq!(
            CipherSuite::from_id(0x1234).to_string(),
            "cipher suite 0x1234"
        );
    }
}
