//! TLS links (DESIGN §11): NodeLinks over a TlsStream behave as over a
//! plain stream.
//!
//! 1. request/reply in light mode, from either side;
//! 2. 8 threads × 1000 `ask1` over one link, every answer checked;
//! 3. a 16 MiB `AnswerObject` both ways;
//! 4. `close()` from either side with threads blocked in `recv`, `send`
//!    and `accept`: the kinds of DESIGN §4;
//! 5. TLS 1.2 only on one side still connects, with the AES256-GCM-SHA384
//!    suites NEO/py negotiates (EC and RSA certificates); 1.3 otherwise.

#[macro_use]
mod common;
mod tls_support;

use std::io;
use std::thread;
use std::time::Duration;

use common::{assert_io_kind, assert_kind, payload, watchdog, WatchedStream};
use neonet::proto::{AnswerObject, Checksum, GetObject, INVALID_TID};
use neonet::tls::{CipherSuite, TlsStream, TlsVersion, TlsVersions};
use neonet::Op;
use neonet::Proto6;
use neonet::{ErrorKind, LinkRole, NodeLink, Packet};
use tls_support::*;

/// Bounds each test: a deadlock fails it. Never asserts a duration.
const LIMIT: Duration = Duration::from_secs(120);

/// What the servers answer to `get`: every field derived from it, `len`
/// bytes of data.
fn answer_for(get: &GetObject, len: usize) -> AnswerObject {
    AnswerObject {
        oid: get.oid,
        serial: get.at,
        next_serial: INVALID_TID,
        compression: false,
        checksum: Checksum(std::array::from_fn(|i| {
            (get.oid as u8).wrapping_add(i as u8)
        })),
        data: payload(get.oid, len).into(),
        data_serial: get.before,
    }
}

/// A request unique to (thread, iteration).
fn request(thread: usize, i: usize) -> GetObject {
    let oid = ((thread as u64) << 32) | i as u64;
    GetObject {
        oid,
        at: oid ^ 0x5555_0000_0000_0000,
        before: oid.wrapping_mul(3),
    }
}

/// Serves `n` requests with `recv1`, answering each with `len` bytes.
fn serve(link: &NodeLink, n: usize, len: usize) {
    for _ in 0..n {
        let req = link.recv().unwrap();
        let get = req.msg_as::<GetObject>().unwrap();
        req.reply(&answer_for(&get, len)).unwrap();
    }
}

// ---- 1. request/reply ----

#[test]
fn request_reply_both_ways() {
    watchdog(LIMIT, || {
        let (client, server) = tls_pair();
        for (asker, server) in [(&client, &server), (&server, &client)] {
            thread::scope(|s| {
                s.spawn(|| serve(server, 10, 100));
                for i in 0..10 {
                    let get = request(0, i);
                    let ans: AnswerObject = asker.ask1(&get).unwrap();
                    assert_eq!(ans, answer_for(&get, 100));
                }
            });
        }
    });
}

// ---- 2. many threads ----

#[test]
fn eight_threads_thousand_asks_each() {
    const THREADS: usize = 8;
    const ASKS: usize = 1000;
    watchdog(LIMIT, || {
        let (client, server) = tls_pair();
        thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| serve(&server, THREADS * ASKS / 2, 64));
            }
            for t in 0..THREADS {
                let client = &client;
                s.spawn(move || {
                    for i in 0..ASKS {
                        let get = request(t, i);
                        let ans: AnswerObject = client.ask1(&get).unwrap();
                        assert_eq!(ans, answer_for(&get, 64), "thread {t} ask {i}");
                    }
                });
            }
        });
    });
}

// ---- 3. large messages ----

#[test]
fn sixteen_mib_answer_both_ways() {
    const BIG: usize = 16 << 20;
    watchdog(LIMIT, || {
        let (client, server) = tls_pair();
        for (asker, server) in [(&client, &server), (&server, &client)] {
            thread::scope(|s| {
                s.spawn(|| serve(server, 1, BIG));
                let get = request(7, 7);
                let ans: AnswerObject = asker.ask1(&get).unwrap();
                assert_eq!(ans.data.len(), BIG);
                assert_eq!(ans, answer_for(&get, BIG));
            });
        }
    });
}

// ---- 4. closing ----

#[test]
fn local_close_wakes_blocked_recv_send_accept() {
    watchdog(LIMIT, || {
        // The peer is a bare TLS stream that never reads: sends end up
        // blocked in write, holding the socket.
        let (ours, _peer) = tls_tcp_streams();
        let (stream, watch) = WatchedStream::new(ours);
        let link = NodeLink::<Proto6>::new(stream, LinkRole::Client).unwrap();
        let a = link.new_conn().unwrap();
        let b = link.new_conn().unwrap();
        thread::scope(|s| {
            let r = s.spawn(|| a.recv_pkt());
            let acc = s.spawn(|| link.accept());
            let w = s.spawn(|| {
                let big = vec![0xa5; common::LARGE];
                loop {
                    if let Err(e) = b.send_pkt(Packet::new(0, 0x20, &big)) {
                        return e;
                    }
                }
            });
            watch.large_writes.recv().expect("the sender writes");
            common::until_blocked(|| link.blocked_recvs(), 1);
            common::until_blocked(|| link.blocked_accepts(), 1);
            link.close();
            let e = assert_kind(r.join().unwrap(), ErrorKind::LinkClosed);
            assert_eq!((e.op(), e.conn_id()), (Op::Recv, Some(a.id())));
            let e = assert_kind(acc.join().unwrap(), ErrorKind::LinkClosed);
            assert_eq!(e.op(), Op::Accept);
            let e = w.join().unwrap();
            assert!(
                matches!(e.kind(), ErrorKind::LinkClosed),
                "blocked send after close: {:?} ({e})",
                e.kind()
            );
            assert_eq!((e.op(), e.conn_id()), (Op::Send, Some(b.id())));
        });
        assert_kind(a.recv_pkt(), ErrorKind::LinkClosed);
        assert_kind(b.send_pkt(Packet::new(0, 2, b"x")), ErrorKind::LinkClosed);
        assert_kind(link.new_conn(), ErrorKind::LinkClosed);
    });
}

#[test]
fn peer_close_wakes_blocked_recv_and_accept() {
    watchdog(LIMIT, || {
        for closer_is_client in [true, false] {
            let (client, server) = tls_pair();
            let (closer, other) = match closer_is_client {
                true => (client, server),
                false => (server, client),
            };
            let ours = other.new_conn().unwrap();
            thread::scope(|s| {
                let r = s.spawn(|| ours.recv_pkt());
                let acc = s.spawn(|| other.accept());
                common::until_blocked(|| other.blocked_recvs(), 1);
                common::until_blocked(|| other.blocked_accepts(), 1);
                closer.close();
                let e = assert_io_kind(r.join().unwrap(), io::ErrorKind::UnexpectedEof);
                assert_eq!((e.op(), e.conn_id()), (Op::Recv, Some(ours.id())));
                assert_kind(acc.join().unwrap(), ErrorKind::LinkDown);
            });
            assert_kind(ours.recv_pkt(), ErrorKind::LinkDown);
            assert_kind(other.new_conn(), ErrorKind::LinkDown);
            assert_kind(ours.send_pkt(Packet::new(0, 2, b"x")), ErrorKind::LinkDown);
            other.close();
            assert_kind(other.accept(), ErrorKind::LinkClosed);
        }
    });
}

#[test]
fn peer_hangup_wakes_blocked_send() {
    watchdog(LIMIT, || {
        let (ours, peer) = tls_tcp_streams();
        let (stream, watch) = WatchedStream::new(ours);
        let link = NodeLink::<Proto6>::new(stream, LinkRole::Client).unwrap();
        let b = link.new_conn().unwrap();
        thread::scope(|s| {
            let w = s.spawn(|| {
                let big = vec![0x5a; common::LARGE];
                loop {
                    if let Err(e) = b.send_pkt(Packet::new(0, 0x20, &big)) {
                        return e;
                    }
                }
            });
            watch.large_writes.recv().expect("the sender writes");
            drop(peer);
            let e = w.join().unwrap();
            // What the kernel says about a peer that is gone with our
            // bytes unread: reset or broken pipe, as over plain TCP.
            assert!(
                matches!(e.kind(), ErrorKind::Io(io) if matches!(
                    io.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                )),
                "blocked send after the peer hung up: {:?} ({e})",
                e.kind()
            );
            assert_eq!(e.op(), Op::Send);
        });
        assert_kind(link.accept(), ErrorKind::LinkDown);
    });
}

// ---- 5. versions and cipher suites ----

/// TLS streams between nodes of a CA whose certificates have `key`, the
/// client offering `client` versions, the server `server`: the
/// negotiated version and suite, as each side sees them; then a NEO link
/// over them carries an exchange.
fn negotiate(key: Key, client: TlsVersions, server: TlsVersions) -> (TlsVersion, CipherSuite) {
    let ca = Ca::new("versions CA");
    let c = ca.config(&ca.node(key)).with_versions(client).unwrap();
    let s = ca.config(&ca.node(key)).with_versions(server).unwrap();
    let (a, b) = tcp_streams();
    let (ct, st): (TlsStream, TlsStream) = tls_streams_over(a, b, &c, &s);
    let seen = (ct.protocol_version().unwrap(), ct.cipher_suite().unwrap());
    assert_eq!(
        seen,
        (st.protocol_version().unwrap(), st.cipher_suite().unwrap())
    );
    let (cl, sl) = links_over(ct, st);
    thread::scope(|sc| {
        sc.spawn(|| serve(&sl, 1, 1000));
        let get = request(1, 2);
        assert_eq!(cl.ask1(&get).unwrap(), answer_for(&get, 1000));
    });
    seen
}

#[test]
fn tls12_only_on_either_side_negotiates_aes256_gcm_sha384() {
    use TlsVersions::{Tls12And13 as Both, Tls12Only as Only12};
    watchdog(LIMIT, || {
        for (client, server) in [(Only12, Both), (Both, Only12), (Only12, Only12)] {
            assert_eq!(
                negotiate(Key::Ec, client, server),
                (
                    TlsVersion::Tls12,
                    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
                ),
                "EC certificates, client {client:?}, server {server:?}"
            );
            assert_eq!(
                negotiate(Key::Rsa, client, server),
                (
                    TlsVersion::Tls12,
                    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
                ),
                "RSA certificates, client {client:?}, server {server:?}"
            );
        }
    });
}

#[test]
fn tls13_between_our_own_nodes() {
    watchdog(LIMIT, || {
        for key in [Key::Ec, Key::Rsa] {
            let (version, suite) = negotiate(key, TlsVersions::default(), TlsVersions::default());
            assert_eq!(version, TlsVersion::Tls13, "{key:?}");
            assert_eq!(suite, CipherSuite::TLS_AES_256_GCM_SHA384, "{key:?}");
        }
    });
}
