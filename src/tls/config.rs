//! The TLS configuration of a node, from PEM files as NEO's `--ca`,
//! `--cert` and `--key`: both ends present a certificate signed by the
//! cluster's CA and verify the peer's chain against it; host names are
//! not checked (as NEO/py: a node's address is no name).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, Resumption};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{NoServerSessionStorage, ParsedCertificate, WebPkiClientVerifier};
use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme,
    SupportedProtocolVersion,
};

use super::TlsError;

/// Which TLS versions a node offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsVersions {
    /// TLS 1.3, and 1.2 for peers that speak nothing newer (the default).
    #[default]
    Tls12And13,
    /// TLS 1.2 only: what NEO/py on Python 3.11 negotiates.
    Tls12Only,
}

impl TlsVersions {
    fn protocols(self) -> &'static [&'static SupportedProtocolVersion] {
        static BOTH: [&SupportedProtocolVersion; 2] =
            [&rustls::version::TLS13, &rustls::version::TLS12];
        static TLS12: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
        match self {
            TlsVersions::Tls12And13 => &BOTH,
            TlsVersions::Tls12Only => &TLS12,
        }
    }
}

/// A node's TLS configuration: its certificate and key, the CA that signs
/// every node's certificate, and the TLS versions it offers. Cheap to
/// clone; serves both the dialing (client) and accepting (server) side.
///
/// ```no_run
/// use neonet::tls::{TlsConfig, TlsVersions};
/// let tls = TlsConfig::from_pem_files("ca.crt", "node.crt", "node.key")?;
/// let neopy = tls.with_versions(TlsVersions::Tls12Only)?; // as NEO/py
/// # Ok::<(), neonet::tls::TlsError>(())
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    material: Arc<Material>,
    versions: TlsVersions,
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
}

/// What the configurations are built from, kept to rebuild them with
/// other versions.
struct Material {
    roots: Arc<RootCertStore>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl TlsConfig {
    /// Reads the CA certificate(s), our certificate chain (ours first) and
    /// our private key (PKCS#8, PKCS#1 or SEC1) from PEM files.
    pub fn from_pem_files(
        ca: impl AsRef<Path>,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<TlsConfig, TlsError> {
        let read = |what: &str, path: &Path| {
            std::fs::read(path)
                .map_err(|e| TlsError::Config(format!("{what} {}: {e}", path.display())))
        };
        let ca = read("CA file", ca.as_ref())?;
        let cert = read("certificate file", cert.as_ref())?;
        let key = read("key file", key.as_ref())?;
        TlsConfig::from_pem(&ca, &cert, &key)
    }

    /// Like [`from_pem_files`](TlsConfig::from_pem_files), from the files'
    /// contents.
    pub fn from_pem(ca: &[u8], cert: &[u8], key: &[u8]) -> Result<TlsConfig, TlsError> {
        let material = Material {
            roots: Arc::new(parse_roots(ca)?),
            chain: parse_certs("certificate", cert)?,
            key: PrivateKeyDer::from_pem_slice(key)
                .map_err(|e| TlsError::Config(format!("private key: {e}")))?,
        };
        TlsConfig::build(Arc::new(material), TlsVersions::default())
    }

    /// The same certificates, offering `versions`.
    pub fn with_versions(&self, versions: TlsVersions) -> Result<TlsConfig, TlsError> {
        TlsConfig::build(self.material.clone(), versions)
    }

    /// The TLS versions offered.
    pub fn versions(&self) -> TlsVersions {
        self.versions
    }

    pub(crate) fn client_config(&self) -> Arc<ClientConfig> {
        self.client.clone()
    }

    pub(crate) fn server_config(&self) -> Arc<ServerConfig> {
        self.server.clone()
    }

    fn build(material: Arc<Material>, versions: TlsVersions) -> Result<TlsConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client = client_config(&material, &provider, versions)?;
        let server = server_config(&material, &provider, versions)?;
        Ok(TlsConfig {
            material,
            versions,
            client: Arc::new(client),
            server: Arc::new(server),
        })
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("versions", &self.versions)
            .field("ca_certs", &self.material.roots.len())
            .field("chain_len", &self.material.chain.len())
            .finish_non_exhaustive()
    }
}

fn config_err(what: &str) -> impl Fn(rustls::Error) -> TlsError + '_ {
    move |e| TlsError::Config(format!("{what}: {e}"))
}

/// The dialing side: presents our chain, checks the server's against the
/// CA, no session resumption (links live long; nothing to gain).
fn client_config(
    m: &Material,
    provider: &Arc<CryptoProvider>,
    versions: TlsVersions,
) -> Result<ClientConfig, TlsError> {
    let verifier = CaVerifier {
        roots: m.roots.clone(),
        provider: provider.clone(),
    };
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions.protocols())
        .map_err(config_err("client"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(m.chain.clone(), m.key.clone_key())
        .map_err(config_err("certificate and key"))?;
    config.resumption = Resumption::disabled();
    Ok(config)
}

/// The accepting side: presents our chain, requires the client's and
/// checks it against the CA; no session tickets or cache.
fn server_config(
    m: &Material,
    provider: &Arc<CryptoProvider>,
    versions: TlsVersions,
) -> Result<ServerConfig, TlsError> {
    let verifier = WebPkiClientVerifier::builder_with_provider(m.roots.clone(), provider.clone())
        .build()
        .map_err(|e| TlsError::Config(format!("CA: {e}")))?;
    let mut config = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions.protocols())
        .map_err(config_err("server"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(m.chain.clone(), m.key.clone_key())
        .map_err(config_err("certificate and key"))?;
    // Tickets would be written after the handshake, by the reader's side.
    config.send_tls13_tickets = 0;
    config.session_storage = Arc::new(NoServerSessionStorage {});
    Ok(config)
}

fn parse_certs(what: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Config(format!("{what}: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError::Config(format!("{what}: no PEM certificate")));
    }
    Ok(certs)
}

fn parse_roots(pem: &[u8]) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in parse_certs("CA", pem)? {
        roots.add(cert).map_err(config_err("CA certificate"))?;
    }
    Ok(roots)
}

/// Checks the server's chain against the CA, and its validity period, but
/// not its name: NEO/py does not, as nodes are known by address and a
/// certificate is the cluster's, not a host's.
#[derive(Debug)]
struct CaVerifier {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for CaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        let algs = self.provider.signature_verification_algorithms.all;
        verify_server_cert_signed_by_trust_anchor(&cert, &self.roots, intermediates, now, algs)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
