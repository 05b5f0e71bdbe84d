//! Certificates for the TLS row, made in-process at each run: a CA and a
//! node certificate it signs, as NEO's are (usable as server and as
//! client; the name is not checked). Nothing is shipped, so nothing
//! expires.

use neonet::tls::TlsConfig;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A TLS configuration for both ends of a loopback link: a new CA, and
/// one node certificate (ECDSA P-256) that both ends present.
pub fn loopback() -> Result<TlsConfig, String> {
    let e = |e: rcgen::Error| format!("making certificates: {e}");
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    ca.distinguished_name
        .push(DnType::CommonName, "neonet-rtt CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca_key = KeyPair::generate().map_err(e)?;
    let ca_pem = ca.self_signed(&ca_key).map_err(e)?.pem();
    let issuer = Issuer::new(ca, ca_key);

    let mut node = CertificateParams::new(vec!["node.neo.invalid".to_string()]).map_err(e)?;
    node.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let node_key = KeyPair::generate().map_err(e)?;
    let node_pem = node.signed_by(&node_key, &issuer).map_err(e)?.pem();
    TlsConfig::from_pem(
        ca_pem.as_bytes(),
        node_pem.as_bytes(),
        node_key.serialize_pem().as_bytes(),
    )
    .map_err(|e| e.to_string())
}
