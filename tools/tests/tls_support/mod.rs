//! Certificates for the tools' TLS tests, made here with rcgen (a CA and
//! node certificates; nothing checked in expires). The part of the
//! library's `tests/tls_support` these tests need, in a copy of their own.
#![allow(dead_code)] // each test binary uses its own part

use std::sync::OnceLock;

use neonet::tls::TlsConfig;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A certificate authority.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

/// A node's certificate and key, PEM.
#[derive(Clone)]
pub struct Node {
    pub cert: String,
    pub key: String,
}

impl Ca {
    /// A new self-signed CA named `name`.
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Ca {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A node certificate as NEO's are (ECDSA P-256): usable as server and
    /// as client, whose name nobody checks; valid (rcgen's default: 1975
    /// to 4096).
    pub fn node(&self) -> Node {
        let mut params = CertificateParams::new(vec!["node.neo.invalid".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "neo node");
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Node {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// A configuration for a node with certificate `node`.
    pub fn config(&self, node: &Node) -> TlsConfig {
        TlsConfig::from_pem(
            self.pem.as_bytes(),
            node.cert.as_bytes(),
            node.key.as_bytes(),
        )
        .expect("TlsConfig::from_pem")
    }
}

/// One cluster for the tests that need nothing special: its CA and two
/// nodes. Made once per test binary.
pub struct Cluster {
    pub ca: Ca,
    pub client: TlsConfig,
    pub server: TlsConfig,
}

/// The shared [`Cluster`].
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let ca = Ca::new("neo test CA");
        let client = ca.config(&ca.node());
        let server = ca.config(&ca.node());
        Cluster { ca, client, server }
    })
}
