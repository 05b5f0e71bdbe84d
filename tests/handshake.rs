//! Link handshake (DESIGN §6): version exchange over socketpairs and TCP.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::Duration;

use common::tcp_streams;
use neonet::Op;
use neonet::Proto6;
use neonet::{ErrorKind, HandshakeError, LinkRole, NodeLink};

/// The handshake error kind of a failed handshake.
fn hs_kind(r: neonet::Result<NodeLink>) -> HandshakeError {
    match r.map(|_| ()).unwrap_err().kind() {
        ErrorKind::Handshake(h) => h.clone(),
        k => panic!("not a handshake error: {k:?}"),
    }
}

/// Handshakes both ends of a stream pair at once.
fn handshake_both<S: neonet::HandshakeStream>(
    a: S,
    b: S,
    va: u32,
    vb: u32,
) -> (neonet::Result<NodeLink>, neonet::Result<NodeLink>) {
    let t = thread::spawn(move || NodeLink::handshake_version(b, LinkRole::Server, None, vb));
    let ra = NodeLink::handshake_version(a, LinkRole::Client, None, va);
    (ra, t.join().unwrap())
}

fn exchange(client: &NodeLink, server: &NodeLink) {
    common::exchange(client, server, b"hello", b"world");
}

#[test]
fn handshake_ok_socketpair_and_tcp() {
    let (a, b) = UnixStream::pair().unwrap();
    let (c, s) = handshake_both(a, b, 6, 6);
    exchange(&c.unwrap(), &s.unwrap());

    let (a, b) = tcp_streams();
    let (c, s) = handshake_both(a, b, 6, 6);
    exchange(&c.unwrap(), &s.unwrap());
}

#[test]
fn handshake_writes_version_6() {
    let (a, mut b) = UnixStream::pair().unwrap();
    b.write_all(&[0, 0, 0, 6]).unwrap();
    let link = NodeLink::<Proto6>::handshake(a, LinkRole::Client, None).unwrap();
    let mut word = [0u8; 4];
    b.read_exact(&mut word).unwrap();
    assert_eq!(word, [0, 0, 0, 6]);
    drop(link);
}

#[test]
fn version_mismatch_both_sides() {
    let (a, b) = UnixStream::pair().unwrap();
    let (ra, rb) = handshake_both(a, b, 1, 2);
    let (ea, eb) = (ra.unwrap_err(), rb.unwrap_err());
    for (e, peer, ours) in [(&ea, 2, 1), (&eb, 1, 2)] {
        match e.kind() {
            ErrorKind::Handshake(HandshakeError::VersionMismatch { peer: p, ours: o }) => {
                assert_eq!((*p, *o), (peer, ours));
            }
            k => panic!("{k:?}"),
        }
        assert_eq!(e.op(), Op::Handshake);
    }
    assert_eq!(
        ea.kind().to_string(),
        "protocol version mismatch: peer = 00000002 ; our side = 00000001"
    );
    assert!(ea
        .to_string()
        .ends_with("protocol version mismatch: peer = 00000002 ; our side = 00000001"));
    assert!(eb
        .to_string()
        .ends_with("protocol version mismatch: peer = 00000001 ; our side = 00000002"));
}

#[test]
fn error_names_both_addresses() {
    let (a, b) = tcp_streams();
    let (la, pa) = (a.local_addr().unwrap(), a.peer_addr().unwrap());
    let (ra, _) = handshake_both(a, b, 1, 2);
    let msg = ra.unwrap_err().to_string();
    assert!(
        msg.contains(&la.to_string()) && msg.contains(&pa.to_string()),
        "{msg}"
    );
}

#[test]
fn peer_closes_early_is_unexpected_eof() {
    for sent in [&[][..], &[0, 0][..]] {
        for tcp in [false, true] {
            let r = if tcp {
                let (a, mut b) = tcp_streams();
                b.write_all(sent).unwrap();
                drop(b);
                NodeLink::<Proto6>::handshake(a, LinkRole::Client, Some(Duration::from_secs(30)))
            } else {
                let (a, mut b) = UnixStream::pair().unwrap();
                b.write_all(sent).unwrap();
                drop(b);
                NodeLink::<Proto6>::handshake(a, LinkRole::Client, Some(Duration::from_secs(30)))
            };
            let k = hs_kind(r);
            assert!(
                matches!(k, HandshakeError::UnexpectedEof),
                "sent {sent:?} tcp {tcp}: {k:?}"
            );
        }
    }
}

#[test]
fn silent_peer_times_out() {
    let (a, b) = UnixStream::pair().unwrap();
    let k = hs_kind(NodeLink::<Proto6>::handshake(
        a,
        LinkRole::Server,
        Some(Duration::from_millis(200)),
    ));
    assert!(matches!(k, HandshakeError::Timeout), "{k:?}");
    drop(b);
}

#[test]
fn tls_or_http_peer_is_a_version_mismatch() {
    let (a, mut b) = UnixStream::pair().unwrap();
    // A TLS ClientHello starts with 0x16 0x03 0x01 and a length.
    b.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
    let k = hs_kind(NodeLink::<Proto6>::handshake(a, LinkRole::Server, None));
    assert!(
        matches!(
            k,
            HandshakeError::VersionMismatch {
                peer: 0x1603_0102,
                ours: 6
            }
        ),
        "{k:?}"
    );
    // We wrote our word and closed the stream (with a reset, as the rest
    // of what the peer sent was left unread).
    common::assert_version_word_then_closed(&mut b);
}
