//! Who may join a TLS link (DESIGN §11), and errors that name why not.
//!
//! 1. mutual TLS is enforced: a client without a certificate, with one
//!    from another CA, or with an expired one is refused, and both ends
//!    say why; the same for the server's certificate;
//! 2. a plain client on a TLS server is refused as such, and a TLS client
//!    reaching a plain server reports it; `sniff` tells them apart;
//! 3. configurations: from files, and the errors of bad PEM or a key that
//!    is not the certificate's.

#[macro_use]
mod common;
mod tls_support;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::watchdog;
use neonet::tls::{
    accept_link_tls, sniff, StreamStart, TlsAlert, TlsConfig, TlsError, TlsStream, TlsVersion,
    TLS_HANDSHAKE_BYTE,
};
use neonet::Dialer;
use neonet::Op;
use neonet::{AnyLink, Error, ErrorKind, HandshakeError, LinkListener, LinkRole, NodeLink};
use rustls::AlertDescription;
use tls_support::*;

const LIMIT: Duration = Duration::from_secs(60);

/// The `TlsError` of a failed handshake; panics if it is not one.
#[track_caller]
fn tls_error<T: std::fmt::Debug>(res: neonet::Result<T>) -> (TlsError, Error) {
    let e = res.expect_err("the handshake must fail");
    assert_eq!(e.op(), Op::Handshake, "{e}");
    match e.kind() {
        ErrorKind::Handshake(HandshakeError::Tls(t)) => (t.clone(), e),
        k => panic!("expected a TLS handshake error, got {k:?} ({e})"),
    }
}

/// A client with `client` dials a server with `server`: (the client's
/// result, the server's).
fn connect(
    client: &TlsConfig,
    server: &TlsConfig,
) -> (neonet::Result<NodeLink>, neonet::Result<AnyLink>) {
    let listener = listen();
    let addr = listener.local_addr().unwrap();
    let server = server.clone();
    let accepted = serve_one(listener, move |s| {
        accept_link_tls(s, &server, Some(HANDSHAKE_LIMIT))
    });
    let dialed = Dialer::new(addr).tls(client).dial();
    // The client may have finished first (TLS 1.3): its link drops now,
    // so a server that accepted it is not left waiting.
    let dialed = dialed.inspect(NodeLink::close);
    (dialed, accepted.join().unwrap())
}

// ---- 1. mutual TLS ----

#[test]
fn client_without_certificate_is_refused() {
    watchdog(LIMIT, || {
        let c = cluster();
        let listener = listen();
        let addr = listener.local_addr().unwrap();
        let server = c.server.clone();
        let accepted = serve_one(listener, move |s| {
            accept_link_tls(s, &server, Some(HANDSHAKE_LIMIT))
        });
        let mut client = raw_client(addr, raw_client_config(&c.ca, None));
        let (err, e) = tls_error(accepted.join().unwrap());
        assert!(matches!(err, TlsError::NoPeerCertificate), "{err:?}");
        assert!(e.to_string().contains("sent no certificate"), "{e}");
        // The client hears why.
        let mut buf = [0u8; 1];
        let got = client.read(&mut buf).expect_err("refused");
        let alert = got
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>());
        assert_eq!(
            alert,
            Some(&rustls::Error::AlertReceived(
                AlertDescription::CertificateRequired
            )),
            "{got}"
        );
    });
}

#[test]
fn client_certificate_from_another_ca_is_refused() {
    watchdog(LIMIT, || {
        let c = cluster();
        // A client whose certificate another CA signed; it trusts ours,
        // so that only its own certificate is wrong.
        let other = Ca::new("another CA");
        let node = other.node(Key::Ec);
        let stranger = TlsConfig::from_pem(
            c.ca.pem().as_bytes(),
            node.cert.as_bytes(),
            node.key.as_bytes(),
        )
        .unwrap();
        let (dialed, accepted) = connect(&stranger, &c.server);
        let (err, e) = tls_error(accepted);
        assert!(matches!(err, TlsError::UnknownCa), "{err:?}");
        assert!(e.to_string().contains("not signed by our CA"), "{e}");
        let (err, e) = tls_error(dialed);
        assert!(
            matches!(err, TlsError::PeerRefused(TlsAlert::UnknownCa)),
            "{err:?}"
        );
        assert!(
            e.to_string()
                .contains("our certificate is not signed by its CA"),
            "{e}"
        );
    });
}

/// A link set up by hand over a `TlsStream` (not by `dial_link_tls`)
/// reports a refusal that comes during NEO's handshake as the TLS failure
/// it is: with TLS 1.3 the client's TLS handshake ends before the server
/// checked its certificate, so the alert comes while NEO's handshake
/// reads.
#[test]
fn refusal_during_neo_handshake_is_a_tls_error() {
    watchdog(LIMIT, || {
        let c = cluster();
        let other = Ca::new("another CA");
        let node = other.node(Key::Ec);
        let stranger = TlsConfig::from_pem(
            c.ca.pem().as_bytes(),
            node.cert.as_bytes(),
            node.key.as_bytes(),
        )
        .unwrap();
        let listener = listen();
        let addr = listener.local_addr().unwrap();
        let server = c.server.clone();
        let accepted = serve_one(listener, move |s| {
            accept_link_tls(s, &server, Some(HANDSHAKE_LIMIT))
        });
        let tcp = TcpStream::connect(addr).unwrap();
        let tls = TlsStream::connect(tcp, &stranger, Some(HANDSHAKE_LIMIT)).unwrap();
        assert_eq!(tls.protocol_version(), Some(TlsVersion::Tls13));
        let (err, e) = tls_error(NodeLink::<neonet::Proto6>::handshake(
            tls,
            LinkRole::Client,
            Some(HANDSHAKE_LIMIT),
        ));
        assert_eq!(err, TlsError::PeerRefused(TlsAlert::UnknownCa), "{e}");
        assert_eq!(e.tls_error(), Some(&err));
        let (err, _) = tls_error(accepted.join().unwrap());
        assert_eq!(err, TlsError::UnknownCa);
    });
}

#[test]
fn expired_client_certificate_is_refused() {
    watchdog(LIMIT, || {
        let c = cluster();
        let expired = c.ca.config(&c.ca.expired_node());
        let (dialed, accepted) = connect(&expired, &c.server);
        let (err, e) = tls_error(accepted);
        assert!(matches!(err, TlsError::Expired), "{err:?}");
        assert!(e.to_string().contains("has expired"), "{e}");
        let (err, _) = tls_error(dialed);
        assert!(
            matches!(err, TlsError::PeerRefused(TlsAlert::CertificateExpired)),
            "{err:?}"
        );
    });
}

#[test]
fn server_certificate_is_checked_too() {
    watchdog(LIMIT, || {
        let c = cluster();
        // A server whose certificate another CA signed (it trusts ours).
        let other = Ca::new("another CA");
        let node = other.node(Key::Ec);
        let stranger = TlsConfig::from_pem(
            c.ca.pem().as_bytes(),
            node.cert.as_bytes(),
            node.key.as_bytes(),
        )
        .unwrap();
        let (dialed, accepted) = connect(&c.client, &stranger);
        let (err, _) = tls_error(dialed);
        assert!(matches!(err, TlsError::UnknownCa), "{err:?}");
        let (err, _) = tls_error(accepted);
        assert!(
            matches!(err, TlsError::PeerRefused(TlsAlert::UnknownCa)),
            "{err:?}"
        );

        // A server whose certificate expired.
        let expired = c.ca.config(&c.ca.expired_node());
        let (dialed, accepted) = connect(&c.client, &expired);
        let (err, _) = tls_error(dialed);
        assert!(matches!(err, TlsError::Expired), "{err:?}");
        let (err, _) = tls_error(accepted);
        assert!(
            matches!(err, TlsError::PeerRefused(TlsAlert::CertificateExpired)),
            "{err:?}"
        );
    });
}

#[test]
fn names_are_not_checked() {
    watchdog(LIMIT, || {
        // Node certificates name `node.neo.invalid`; we dial 127.0.0.1.
        let (client, server) = tls_pair();
        common::exchange(&client, &server, b"hello", b"world");
    });
}

// ---- 2. plain and TLS ----

#[test]
fn plain_client_on_tls_server_is_refused() {
    watchdog(LIMIT, || {
        let c = cluster();
        let listener = listen();
        let addr = listener.local_addr().unwrap();
        let server = c.server.clone();
        let accepted = serve_one(listener, move |s| {
            accept_link_tls(s, &server, Some(HANDSHAKE_LIMIT))
        });
        let dialed = Dialer::new(addr).dial();
        let (err, e) = tls_error(accepted.join().unwrap());
        assert!(matches!(err, TlsError::PlainClient(0x00)), "{err:?}");
        assert!(
            e.to_string()
                .contains("plain (non-TLS) client on a TLS listener"),
            "{e}"
        );
        // The plain client sees the stream close during its handshake.
        let e = dialed.expect_err("refused");
        assert!(
            matches!(
                e.kind(),
                ErrorKind::Handshake(HandshakeError::UnexpectedEof)
            ),
            "{e}"
        );
    });
}

#[test]
fn tls_client_on_plain_server_reports_it() {
    watchdog(LIMIT, || {
        let listener = LinkListener::bind("127.0.0.1:0").unwrap();
        let (err, e) = tls_error(
            Dialer::new(listener.local_addr())
                .tls(&cluster().client)
                .dial(),
        );
        // The plain server answers our ClientHello with its version word.
        assert!(
            matches!(&err, TlsError::NotTls(first) if first == &[0, 0, 0, 6]),
            "{err:?}"
        );
        assert!(e.to_string().contains("does not speak TLS"), "{e}");
        listener.close();
    });
}

#[test]
fn sniff_tells_tls_from_plain() {
    watchdog(LIMIT, || {
        // A TLS client: its ClientHello starts with 0x16.
        let listener = listen();
        let addr = listener.local_addr().unwrap();
        let sniffed = serve_one(listener, |s| {
            let start = sniff(&s, Some(HANDSHAKE_LIMIT)).unwrap();
            // Not consumed: the byte is still there.
            let mut first = [0u8; 1];
            (&s).read_exact(&mut first).unwrap();
            (start, first[0])
        });
        let _ = Dialer::new(addr).tls(&cluster().client).dial();
        let (start, first) = sniffed.join().unwrap();
        assert_eq!((start, first), (StreamStart::Tls, TLS_HANDSHAKE_BYTE));
        assert!(start.require_tls().is_ok());
        let err = start.require_plain().unwrap_err();
        assert!(matches!(err, TlsError::TlsClient), "{err:?}");
        assert!(err
            .to_string()
            .contains("TLS client on a plain (non-TLS) listener"));

        // A plain NEO client: its version word starts with 0x00.
        let listener = listen();
        let addr = listener.local_addr().unwrap();
        let sniffed = serve_one(listener, |s| sniff(&s, Some(HANDSHAKE_LIMIT)).unwrap());
        let mut plain = TcpStream::connect(addr).unwrap();
        plain.write_all(&6u32.to_be_bytes()).unwrap();
        let start = sniffed.join().unwrap();
        assert_eq!(start, StreamStart::Plain(0));
        assert!(start.require_plain().is_ok());
        assert!(matches!(start.require_tls(), Err(TlsError::PlainClient(0))));
    });
}

#[test]
fn sniff_gives_up_on_silent_and_closed_peers() {
    watchdog(LIMIT, || {
        let (silent, _peer) = tcp_streams();
        let e = sniff(&silent, Some(Duration::from_millis(50))).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);

        let (ours, peer) = tcp_streams();
        drop(peer);
        let e = sniff(&ours, Some(HANDSHAKE_LIMIT)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    });
}

#[test]
fn garbage_starting_like_tls_is_a_tls_error() {
    watchdog(LIMIT, || {
        let listener = listen();
        let addr = listener.local_addr().unwrap();
        let server = cluster().server.clone();
        let accepted = serve_one(listener, move |s| {
            accept_link_tls(s, &server, Some(HANDSHAKE_LIMIT))
        });
        let mut hostile = TcpStream::connect(addr).unwrap();
        let mut bytes = vec![TLS_HANDSHAKE_BYTE, 3, 1, 0, 64];
        bytes.extend(common::payload(3, 64));
        hostile.write_all(&bytes).unwrap();
        let (err, _) = tls_error(accepted.join().unwrap());
        assert!(
            matches!(
                err,
                TlsError::Protocol {
                    alert: Some(TlsAlert::DecodeError),
                    ..
                }
            ),
            "{err:?}"
        );
    });
}

// ---- 3. configurations ----

#[test]
fn config_from_files() {
    let c = cluster();
    let node = c.ca.node(Key::Rsa);
    let dir = std::env::temp_dir().join(format!("neonet-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca, cert, key) = (
        dir.join("ca.crt"),
        dir.join("node.crt"),
        dir.join("node.key"),
    );
    std::fs::write(&ca, c.ca.pem()).unwrap();
    std::fs::write(&cert, &node.cert).unwrap();
    std::fs::write(&key, &node.key).unwrap();
    let from_files = TlsConfig::from_pem_files(&ca, &cert, &key);
    let missing = TlsConfig::from_pem_files(dir.join("nope.crt"), &cert, &key);
    std::fs::remove_dir_all(&dir).unwrap();

    let from_files = from_files.unwrap();
    watchdog(LIMIT, move || {
        let (client, server) = link_pair(&from_files, &cluster().server);
        common::exchange(&client, &server, b"from", b"files");
    });
    let err = missing.unwrap_err();
    assert!(matches!(err, TlsError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("nope.crt"), "{err}");
}

#[test]
fn config_errors_say_what_is_wrong() {
    let c = cluster();
    let node = c.ca.node(Key::Ec);
    let other = c.ca.node(Key::Ec);
    // (CA, certificate, key, what the error names)
    type Case<'a> = (&'a [u8], &'a [u8], &'a [u8], &'a str);
    let cases: [Case; 4] = [
        (b"not pem", node.cert.as_bytes(), node.key.as_bytes(), "CA"),
        (
            c.ca.pem().as_bytes(),
            b"",
            node.key.as_bytes(),
            "certificate",
        ),
        (
            c.ca.pem().as_bytes(),
            node.cert.as_bytes(),
            b"",
            "private key",
        ),
        // Another node's key: not the certificate's.
        (
            c.ca.pem().as_bytes(),
            node.cert.as_bytes(),
            other.key.as_bytes(),
            "key",
        ),
    ];
    for (ca, cert, key, what) in cases {
        let err = TlsConfig::from_pem(ca, cert, key).unwrap_err();
        assert!(matches!(err, TlsError::Config(_)), "{what}: {err:?}");
        assert!(err.to_string().contains(what), "{what}: {err}");
    }
}
