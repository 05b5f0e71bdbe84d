//! Helpers of the TLS tests: certificates made here with rcgen (a CA,
//! node certificates, EC or RSA, valid or expired; nothing checked in
//! expires), pairs of TLS streams and links, a relay that counts records
//! and can break the stream, and a peer driven with rustls by hand.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use neonet::tls::{accept_link_tls, TlsConfig, TlsSocket, TlsStream};
use neonet::{Dialer, Proto6};
use neonet::{LinkRole, NodeLink};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// Bounds every handshake of the tests: a hang fails instead of blocking.
pub const HANDSHAKE_LIMIT: Duration = Duration::from_secs(20);

/// An RSA key for the RSA certificates: ring, rcgen's backend here, cannot
/// make RSA keys. A key does not expire; the certificates are made from
/// it at test time. Made with `openssl genpkey -algorithm RSA -pkeyopt
/// rsa_keygen_bits:2048`.
const RSA_KEY: &str = include_str!("rsa-2048.pem");

/// The kind of key of a node certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// ECDSA P-256.
    Ec,
    /// RSA 2048.
    Rsa,
}

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

    /// A node certificate, valid (rcgen's default: 1975 to 4096).
    pub fn node(&self, key: Key) -> Node {
        self.node_params(key, |_| {})
    }

    /// A node certificate that expired in 2001.
    pub fn expired_node(&self) -> Node {
        self.node_params(Key::Ec, |p| {
            p.not_before = rcgen::date_time_ymd(2000, 1, 1);
            p.not_after = rcgen::date_time_ymd(2001, 1, 1);
        })
    }

    /// A node certificate as NEO's are: usable as server and as client,
    /// whose name nobody checks.
    fn node_params(&self, key: Key, adjust: impl FnOnce(&mut CertificateParams)) -> Node {
        let mut params = CertificateParams::new(vec!["node.neo.invalid".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "neo node");
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        adjust(&mut params);
        let key = match key {
            Key::Ec => KeyPair::generate().unwrap(),
            Key::Rsa => KeyPair::from_pem(RSA_KEY).unwrap(),
        };
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
/// nodes with EC certificates. Made once per test binary.
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
        let client = ca.config(&ca.node(Key::Ec));
        let server = ca.config(&ca.node(Key::Ec));
        Cluster { ca, client, server }
    })
}

/// A TCP listener on 127.0.0.1, any port.
pub fn listen() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0")
}

/// Accepts one TCP stream on `listener` in a thread and hands it to
/// `serve`; returns the thread.
pub fn serve_one<T: Send + 'static>(
    listener: TcpListener,
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> JoinHandle<T> {
    thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        serve(stream)
    })
}

/// (client, server) TLS links over TCP loopback: `dial_link_tls` against
/// `accept_link_tls`.
pub fn link_pair(client: &TlsConfig, server: &TlsConfig) -> (NodeLink, NodeLink) {
    let listener = listen();
    let addr = listener.local_addr().unwrap();
    let server = server.clone();
    let accepted = serve_one(listener, move |s| {
        accept_link_tls(s, &server, Some(HANDSHAKE_LIMIT))
    });
    let client = Dialer::new(addr).tls(client).dial().expect("dial_link_tls");
    let server = accepted.join().unwrap().expect("accept_link_tls");
    let server = server.into_proto6().expect("protocol 6");
    (client, server)
}

/// (client, server) TLS links of the shared cluster.
pub fn tls_pair() -> (NodeLink, NodeLink) {
    let c = cluster();
    link_pair(&c.client, &c.server)
}

/// Two connected TCP streams over loopback: (dialer, accepted), nodelay.
pub fn tcp_streams() -> (TcpStream, TcpStream) {
    let listener = listen();
    let dialer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    dialer.set_nodelay(true).unwrap();
    accepted.set_nodelay(true).unwrap();
    (dialer, accepted)
}

/// TLS handshakes over connected sockets `(a, b)`, `a` the client:
/// (client stream, server stream), no NEO handshake.
pub fn tls_streams_over<S: TlsSocket + Send>(
    a: S,
    b: S,
    client: &TlsConfig,
    server: &TlsConfig,
) -> (TlsStream<S>, TlsStream<S>) {
    thread::scope(|s| {
        let srv = s.spawn(|| TlsStream::accept(b, server, Some(HANDSHAKE_LIMIT)));
        let cli = TlsStream::connect(a, client, Some(HANDSHAKE_LIMIT)).expect("connect");
        (cli, srv.join().unwrap().expect("accept"))
    })
}

/// TLS streams of the shared cluster over TCP loopback.
pub fn tls_tcp_streams() -> (TlsStream<TcpStream>, TlsStream<TcpStream>) {
    let (a, b) = tcp_streams();
    let c = cluster();
    tls_streams_over(a, b, &c.client, &c.server)
}

/// NEO's handshake on both ends of a stream pair at once: (client link,
/// server link).
pub fn links_over<S: neonet::HandshakeStream + Send>(a: S, b: S) -> (NodeLink, NodeLink) {
    thread::scope(|s| {
        let srv =
            s.spawn(|| NodeLink::<Proto6>::handshake(b, LinkRole::Server, Some(HANDSHAKE_LIMIT)));
        let cli =
            NodeLink::<Proto6>::handshake(a, LinkRole::Client, Some(HANDSHAKE_LIMIT)).unwrap();
        (cli, srv.join().unwrap().unwrap())
    })
}

/// Writes the client's NEO handshake word and reads the server's, on a
/// raw TLS stream (version 6).
pub fn neo_handshake_raw(s: &mut (impl Read + Write)) {
    s.write_all(&6u32.to_be_bytes()).unwrap();
    let mut word = [0u8; 4];
    s.read_exact(&mut word).unwrap();
    assert_eq!(word, 6u32.to_be_bytes());
}

// ---- a relay between a client and a server socket ----

/// A relay between a client socket and a server socket (Unix streams):
/// forwards everything, counts the TLS records going to the server, and
/// on demand cuts a record short and hangs up, or lets the test write
/// its own bytes to the server.
pub struct Relay {
    /// TLS records forwarded to the server so far.
    pub records: Arc<AtomicUsize>,
    /// When set, the next record to the server is cut in half, then the
    /// relay hangs up on the server.
    pub truncate_next: Arc<AtomicBool>,
    to_server: UnixStream,
    threads: Vec<JoinHandle<()>>,
}

impl Relay {
    /// Sockets for a client and a server with a relay between them:
    /// (client end, server end, relay).
    pub fn new() -> (UnixStream, UnixStream, Relay) {
        let (client, relay_c) = UnixStream::pair().unwrap();
        let (relay_s, server) = UnixStream::pair().unwrap();
        let records = Arc::new(AtomicUsize::new(0));
        let truncate_next = Arc::new(AtomicBool::new(false));
        let to_server = relay_s.try_clone().unwrap();
        let up = {
            let (from, to) = (relay_c.try_clone().unwrap(), relay_s.try_clone().unwrap());
            let (records, truncate) = (records.clone(), truncate_next.clone());
            thread::spawn(move || forward_records(from, to, &records, &truncate))
        };
        let down = thread::spawn(move || forward_bytes(relay_s, relay_c));
        let relay = Relay {
            records,
            truncate_next,
            to_server,
            threads: vec![up, down],
        };
        (client, server, relay)
    }

    /// Writes `bytes` to the server as if the client had sent them.
    pub fn inject(&self, bytes: &[u8]) {
        (&self.to_server).write_all(bytes).unwrap();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.to_server.shutdown(std::net::Shutdown::Both);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Forwards TLS records from `from` to `to`, one whole record per write,
/// counting them; cuts one short if asked.
fn forward_records(
    mut from: UnixStream,
    mut to: UnixStream,
    records: &AtomicUsize,
    truncate: &AtomicBool,
) {
    let mut head = [0u8; 5];
    loop {
        if from.read_exact(&mut head).is_err() {
            break;
        }
        let len = u16::from_be_bytes([head[3], head[4]]) as usize;
        let mut record = head.to_vec();
        record.resize(5 + len, 0);
        if from.read_exact(&mut record[5..]).is_err() {
            break;
        }
        if truncate.load(SeqCst) {
            let _ = to.write_all(&record[..5 + len / 2]);
            break;
        }
        if to.write_all(&record).is_err() {
            break;
        }
        records.fetch_add(1, SeqCst);
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
    let _ = from.shutdown(std::net::Shutdown::Both);
}

/// Forwards bytes from `from` to `to` until either end closes.
fn forward_bytes(mut from: UnixStream, mut to: UnixStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(std::net::Shutdown::Both);
    let _ = from.shutdown(std::net::Shutdown::Both);
}

// ---- peers driven with rustls directly ----

/// A rustls client configuration that checks the server against `ca`
/// (names included: the node certificates name `node.neo.invalid`) and
/// presents `node`, or no certificate at all.
pub fn raw_client_config(ca: &Ca, node: Option<&Node>) -> rustls::ClientConfig {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.pem().as_bytes()).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    match node {
        None => builder.with_no_client_auth(),
        Some(n) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(n.cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(n.key.as_bytes()).unwrap(),
            )
            .unwrap(),
    }
}

/// A rustls client over TCP to `addr`, handshake done (it may still be
/// refused by the server right after, as TLS 1.3 allows).
pub fn raw_client(
    addr: std::net::SocketAddr,
    config: rustls::ClientConfig,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let name = rustls::pki_types::ServerName::try_from("node.neo.invalid").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(HANDSHAKE_LIMIT)).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    while s.conn.is_handshaking() {
        if s.conn.complete_io(&mut s.sock).is_err() {
            break;
        }
    }
    s
}
