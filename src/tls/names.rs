//! What a TLS session negotiated and what its alerts say, in neonet's own
//! types: the TLS library's types would make its major versions ours.
//! Each is the registry's number (IANA's TLS parameters) with its name.

use std::fmt;

/// A TLS protocol version a session negotiated (see
/// [`TlsStream::protocol_version`](super::TlsStream::protocol_version)).
/// Which ones a node offers is [`TlsVersions`](super::TlsVersions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.2: what NEO/py on Python 3.11 speaks.
    Tls12,
    /// TLS 1.3.
    Tls13,
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

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsVersion::Tls12 => "TLS 1.2",
            TlsVersion::Tls13 => "TLS 1.3",
        })
    }
}

/// A TLS cipher suite: its number in the IANA registry, with constants
/// for the suites neonet offers (see
/// [`TlsStream::cipher_suite`](super::TlsStream::cipher_suite)). Displays
/// as its IANA name, e.g. `TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CipherSuite(u16);

/// The suites neonet offers (those of its crypto provider, `ring`), with
/// their IANA names.
const SUITES: [(CipherSuite, &str); 9] = [
    (
        CipherSuite::TLS_AES_128_GCM_SHA256,
        "TLS_AES_128_GCM_SHA256",
    ),
    (
        CipherSuite::TLS_AES_256_GCM_SHA384,
        "TLS_AES_256_GCM_SHA384",
    ),
    (
        CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
        "TLS_CHACHA20_POLY1305_SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
];

impl CipherSuite {
    /// TLS 1.3, AES-128-GCM, SHA-256 (0x1301).
    pub const TLS_AES_128_GCM_SHA256: CipherSuite = CipherSuite(0x1301);
    /// TLS 1.3, AES-256-GCM, SHA-384 (0x1302).
    pub const TLS_AES_256_GCM_SHA384: CipherSuite = CipherSuite(0x1302);
    /// TLS 1.3, ChaCha20-Poly1305, SHA-256 (0x1303).
    pub const TLS_CHACHA20_POLY1305_SHA256: CipherSuite = CipherSuite(0x1303);
    /// TLS 1.2, ECDHE with an ECDSA certificate, AES-128-GCM (0xc02b).
    pub const TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: CipherSuite = CipherSuite(0xc02b);
    /// TLS 1.2, ECDHE with an ECDSA certificate, AES-256-GCM (0xc02c):
    /// what NEO/py negotiates with an EC certificate.
    pub const TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: CipherSuite = CipherSuite(0xc02c);
    /// TLS 1.2, ECDHE with an ECDSA certificate, ChaCha20-Poly1305 (0xcca9).
    pub const TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: CipherSuite = CipherSuite(0xcca9);
    /// TLS 1.2, ECDHE with an RSA certificate, AES-128-GCM (0xc02f).
    pub const TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: CipherSuite = CipherSuite(0xc02f);
    /// TLS 1.2, ECDHE with an RSA certificate, AES-256-GCM (0xc030):
    /// what NEO/py negotiates with an RSA certificate.
    pub const TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: CipherSuite = CipherSuite(0xc030);
    /// TLS 1.2, ECDHE with an RSA certificate, ChaCha20-Poly1305 (0xcca8).
    pub const TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: CipherSuite = CipherSuite(0xcca8);

    /// The suite numbered `id` in the IANA registry.
    pub const fn from_id(id: u16) -> CipherSuite {
        CipherSuite(id)
    }

    /// Its number in the IANA registry.
    pub const fn id(self) -> u16 {
        self.0
    }

    /// Its IANA name, for the suites neonet offers (`None` for others).
    pub fn name(self) -> Option<&'static str> {
        SUITES.iter().find(|(s, _)| *s == self).map(|(_, n)| *n)
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "cipher suite {:#06x}", self.0),
        }
    }
}

impl fmt::Debug for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A TLS alert: how a TLS end tells its peer why it ends the session. A
/// peer that refused us says why with one
/// ([`TlsError::PeerRefused`](super::TlsError::PeerRefused)). The
/// alerts of TLS 1.2 and 1.3 (RFC 5246, RFC 8446 and their extensions),
/// which OpenSSL (NEO/py) and rustls send; any other is `Other` with its
/// number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsAlert {
    /// `close_notify` (0): the peer ended the session.
    CloseNotify,
    /// `unexpected_message` (10).
    UnexpectedMessage,
    /// `bad_record_mac` (20): a record failed to decrypt.
    BadRecordMac,
    /// `decryption_failed` (21, TLS 1.0 only).
    DecryptionFailed,
    /// `record_overflow` (22).
    RecordOverflow,
    /// `decompression_failure` (30).
    DecompressionFailure,
    /// `handshake_failure` (40): no cipher suite in common, or a
    /// certificate refused without a more precise alert.
    HandshakeFailure,
    /// `no_certificate` (41, SSL 3.0 only).
    NoCertificate,
    /// `bad_certificate` (42).
    BadCertificate,
    /// `unsupported_certificate` (43).
    UnsupportedCertificate,
    /// `certificate_revoked` (44).
    CertificateRevoked,
    /// `certificate_expired` (45): expired or not valid yet.
    CertificateExpired,
    /// `certificate_unknown` (46).
    CertificateUnknown,
    /// `illegal_parameter` (47).
    IllegalParameter,
    /// `unknown_ca` (48): the certificate is not signed by the peer's CA.
    UnknownCa,
    /// `access_denied` (49).
    AccessDenied,
    /// `decode_error` (50).
    DecodeError,
    /// `decrypt_error` (51).
    DecryptError,
    /// `export_restriction` (60, TLS 1.0 only).
    ExportRestriction,
    /// `protocol_version` (70): no TLS version in common.
    ProtocolVersion,
    /// `insufficient_security` (71).
    InsufficientSecurity,
    /// `internal_error` (80).
    InternalError,
    /// `inappropriate_fallback` (86).
    InappropriateFallback,
    /// `user_canceled` (90).
    UserCanceled,
    /// `no_renegotiation` (100).
    NoRenegotiation,
    /// `missing_extension` (109).
    MissingExtension,
    /// `unsupported_extension` (110).
    UnsupportedExtension,
    /// `certificate_unobtainable` (111).
    CertificateUnobtainable,
    /// `unrecognized_name` (112).
    UnrecognizedName,
    /// `bad_certificate_status_response` (113).
    BadCertificateStatusResponse,
    /// `bad_certificate_hash_value` (114).
    BadCertificateHashValue,
    /// `unknown_psk_identity` (115).
    UnknownPskIdentity,
    /// `certificate_required` (116): the peer requires a client
    /// certificate and we sent none.
    CertificateRequired,
    /// `no_application_protocol` (120).
    NoApplicationProtocol,
    /// `ech_required` (121).
    EchRequired,
    /// Any other alert: its number.
    Other(u8),
}

/// Every named alert, its number and its name in the registry.
const ALERTS: [(TlsAlert, u8, &str); 35] = {
    use TlsAlert as A;
    [
        (A::CloseNotify, 0, "close_notify"),
        (A::UnexpectedMessage, 10, "unexpected_message"),
        (A::BadRecordMac, 20, "bad_record_mac"),
        (A::DecryptionFailed, 21, "decryption_failed"),
        (A::RecordOverflow, 22, "record_overflow"),
        (A::DecompressionFailure, 30, "decompression_failure"),
        (A::HandshakeFailure, 40, "handshake_failure"),
        (A::NoCertificate, 41, "no_certificate"),
        (A::BadCertificate, 42, "bad_certificate"),
        (A::UnsupportedCertificate, 43, "unsupported_certificate"),
        (A::CertificateRevoked, 44, "certificate_revoked"),
        (A::CertificateExpired, 45, "certificate_expired"),
        (A::CertificateUnknown, 46, "certificate_unknown"),
        (A::IllegalParameter, 47, "illegal_parameter"),
        (A::UnknownCa, 48, "unknown_ca"),
        (A::AccessDenied, 49, "access_denied"),
        (A::DecodeError, 50, "decode_error"),
        (A::DecryptError, 51, "decrypt_error"),
        (A::ExportRestriction, 60, "export_restriction"),
        (A::ProtocolVersion, 70, "protocol_version"),
        (A::InsufficientSecurity, 71, "insufficient_security"),
        (A::InternalError, 80, "internal_error"),
        (A::InappropriateFallback, 86, "inappropriate_fallback"),
        (A::UserCanceled, 90, "user_canceled"),
        (A::NoRenegotiation, 100, "no_renegotiation"),
        (A::MissingExtension, 109, "missing_extension"),
        (A::UnsupportedExtension, 110, "unsupported_extension"),
        (A::CertificateUnobtainable, 111, "certificate_unobtainable"),
        (A::UnrecognizedName, 112, "unrecognized_name"),
        (
            A::BadCertificateStatusResponse,
            113,
            "bad_certificate_status_response",
        ),
        (
            A::BadCertificateHashValue,
            114,
            "bad_certificate_hash_value",
        ),
        (A::UnknownPskIdentity, 115, "unknown_psk_identity"),
        (A::CertificateRequired, 116, "certificate_required"),
        (A::NoApplicationProtocol, 120, "no_application_protocol"),
        (A::EchRequired, 121, "ech_required"),
    ]
};

impl TlsAlert {
    /// The alert numbered `code` (`Other(code)` if it has no name here).
    pub fn from_code(code: u8) -> TlsAlert {
        ALERTS
            .iter()
            .find(|(_, c, _)| *c == code)
            .map_or(TlsAlert::Other(code), |(a, _, _)| *a)
    }

    /// Its number in the registry.
    pub fn code(self) -> u8 {
        match self {
            TlsAlert::Other(code) => code,
            named => ALERTS
                .iter()
                .find(|(a, _, _)| *a == named)
                .map(|(_, c, _)| *c)
                .expect("every named alert is in the table"),
        }
    }

    /// Its name in the registry (`unknown_ca`, ...); `None` for `Other`.
    pub fn name(self) -> Option<&'static str> {
        ALERTS
            .iter()
            .find(|(a, _, _)| *a == self)
            .map(|(_, _, n)| *n)
    }

    /// From the TLS library's alert, by number.
    pub(crate) fn from_rustls(alert: rustls::AlertDescription) -> TlsAlert {
        TlsAlert::from_code(u8::from(alert))
    }

    /// What the alert tells about why a peer refused us, in NEO's terms;
    /// `None` if it tells nothing more than its name.
    pub(crate) fn refusal_reason(self) -> Option<&'static str> {
        use TlsAlert as A;
        Some(match self {
            A::CertificateRequired => "it requires a client certificate and we sent none",
            A::UnknownCa => "our certificate is not signed by its CA (unknown CA)",
            A::CertificateExpired => "our certificate has expired or is not valid yet",
            A::BadCertificate | A::UnsupportedCertificate | A::CertificateUnknown => {
                "our certificate is invalid"
            }
            A::CertificateRevoked => "our certificate is revoked",
            A::ProtocolVersion => "no TLS version in common",
            A::HandshakeFailure => {
                "handshake failure (no cipher suite in common, or our certificate)"
            }
            _ => return None,
        })
    }
}

impl fmt::Display for TlsAlert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "alert {}", self.code()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(provider.cipher_suites.len(), SUITES.len());
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
