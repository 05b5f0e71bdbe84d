//! LinkListener and dialing (DESIGN §6) over TCP and Unix sockets.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use neonet::Op;
use neonet::{Addr, Dialer};
use neonet::{ErrorKind, LinkListener, ListenerOptions, NodeLink};

fn exchange(client: &NodeLink, server: &NodeLink) {
    common::exchange(client, server, b"ping", b"pong");
}

/// A fresh socket path in a directory of this test's own.
fn sock_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("neonet-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

/// Waits (bounded) until `cond` holds; the wait is the synchronisation,
/// the assertion is made by the caller on the condition itself.
#[track_caller]
fn wait_until(what: &str, cond: impl FnMut() -> bool) {
    assert!(
        common::wait_until(Duration::from_secs(30), cond),
        "never happened: {what}"
    );
}

#[test]
fn tcp_dial_and_accept() {
    let l = LinkListener::bind("127.0.0.1:0").unwrap();
    let client = Dialer::new(l.local_addr()).dial().unwrap();
    let server = l.accept().unwrap().into_proto6().unwrap();
    assert_eq!(client.role(), neonet::LinkRole::Client);
    assert_eq!(server.role(), neonet::LinkRole::Server);
    exchange(&client, &server);
    exchange(&client, &server);
    assert_eq!(l.stats().handshaked, 1);
}

#[test]
fn unix_dial_and_accept() {
    let path = sock_path("unix_dial_and_accept");
    let l = LinkListener::bind_unix(&path).unwrap();
    let client = Dialer::new(Addr::from(&path)).dial().unwrap();
    let server = l.accept().unwrap().into_proto6().unwrap();
    exchange(&client, &server);
    l.close();
    assert!(!path.exists(), "socket file removed on close");
}

#[test]
fn dial_refused_is_an_io_error() {
    // Bind then drop: nothing listens on that port any more.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let e = Dialer::new(addr).dial().unwrap_err();
    assert_eq!(e.op(), Op::Dial);
    assert_eq!(
        e.kind().io_kind(),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
}

#[test]
fn silent_clients_do_not_block_others() {
    // Handshakes time out long after any dial would have given up: a
    // listener that handshook one client at a time could not serve the
    // real client behind the 5 silent ones.
    let opts = ListenerOptions {
        handshake_timeout: Duration::from_secs(60),
        ..Default::default()
    };
    let l = LinkListener::bind_with("127.0.0.1:0", opts).unwrap();
    let _silent: Vec<TcpStream> = (0..5)
        .map(|_| TcpStream::connect(l.local_addr().as_tcp().unwrap()).unwrap())
        .collect();
    let client = Dialer::new(l.local_addr()).dial().unwrap();
    let server = l.accept().unwrap().into_proto6().unwrap();
    exchange(&client, &server);
    assert_eq!(l.stats().failed, 0, "the silent ones are still pending");
}

#[test]
fn silent_clients_are_dropped_after_the_handshake_timeout() {
    let opts = ListenerOptions {
        handshake_timeout: Duration::from_millis(500),
        ..Default::default()
    };
    let l = LinkListener::bind_with("127.0.0.1:0", opts).unwrap();
    let silent: Vec<TcpStream> = (0..5)
        .map(|_| TcpStream::connect(l.local_addr().as_tcp().unwrap()).unwrap())
        .collect();
    // Each gets our version word, then the stream closes.
    for mut s in silent {
        let mut got = Vec::new();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.read_to_end(&mut got).unwrap();
        assert_eq!(got, [0, 0, 0, 6]);
    }
    wait_until("5 failed handshakes counted", || l.stats().failed == 5);
}

#[test]
fn http_client_is_refused() {
    let l = LinkListener::bind("127.0.0.1:0").unwrap();
    let mut s = TcpStream::connect(l.local_addr().as_tcp().unwrap()).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    // Our version word, then the listener hangs up (reset: the request was
    // left unread).
    common::assert_version_word_then_closed(&mut s);
    wait_until("failed handshake counted", || l.stats().failed == 1);
    assert_eq!(l.stats().handshaked, 0);
}

#[test]
fn close_wakes_blocked_accept() {
    for unix in [false, true] {
        let path = sock_path("close_wakes_blocked_accept");
        let l = if unix {
            LinkListener::bind_unix(&path).unwrap()
        } else {
            LinkListener::bind("127.0.0.1:0").unwrap()
        };
        let (tx, rx) = mpsc::channel();
        thread::scope(|s| {
            s.spawn(|| tx.send(l.accept().map(|_| ())).unwrap());
            thread::sleep(Duration::from_millis(100)); // let accept block
            l.close();
            let e = rx.recv().unwrap().unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::ListenerClosed), "{e}");
        });
        let e = l.accept().unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::ListenerClosed), "{e}");
        // Nothing listens any more.
        if unix {
            assert!(UnixStream::connect(&path).is_err());
        }
    }
}

#[test]
fn a_new_client_displaces_the_oldest_pending_handshake() {
    let opts = ListenerOptions {
        handshake_timeout: Duration::from_secs(60),
        max_pending: 2,
        ..Default::default()
    };
    let l = LinkListener::bind_with("127.0.0.1:0", opts).unwrap();
    let mut silent: Vec<TcpStream> = Vec::new();
    for n in 1..=2 {
        let mut s = TcpStream::connect(l.local_addr().as_tcp().unwrap()).unwrap();
        // The first byte of a version word: the listener, which serves
        // both dialects, knows the client's from it and writes its own
        // word, then waits for the rest. Our version word back: the
        // handshake is pending (in that order).
        s.write_all(&[0]).unwrap();
        let mut word = [0u8; 4];
        s.read_exact(&mut word).unwrap();
        silent.push(s);
        assert_eq!(l.stats().displaced, 0, "{n} pending");
    }
    // Both slots are held by silent clients: a third client displaces the
    // oldest instead of waiting for the 60 s handshake timeout.
    let client = Dialer::new(l.local_addr()).dial().unwrap();
    let server = l.accept().unwrap().into_proto6().unwrap();
    exchange(&client, &server);
    assert_eq!(l.stats().displaced, 1);
    // The oldest silent client was hung up on; the other is still pending.
    silent[0]
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    assert_eq!(silent[0].read(&mut [0u8; 1]).unwrap(), 0, "oldest closed");
    assert_eq!(l.stats().failed, 0, "displaced is no failure");
}

#[test]
fn many_silent_clients_do_not_starve_a_real_one() {
    // 500 clients that connect and say nothing, with a handshake timeout
    // far beyond the test: the real client behind them is served (it
    // cannot be thanks to timeouts expiring).
    common::raise_fd_limit();
    let opts = ListenerOptions {
        handshake_timeout: Duration::from_secs(60),
        ..Default::default()
    };
    let l = LinkListener::bind_with("127.0.0.1:0", opts).unwrap();
    let _silent: Vec<TcpStream> = (0..500)
        .map(|_| TcpStream::connect(l.local_addr().as_tcp().unwrap()).unwrap())
        .collect();
    let client = Dialer::new(l.local_addr()).dial().unwrap();
    let server = l.accept().unwrap().into_proto6().unwrap();
    exchange(&client, &server);
    assert_eq!(l.stats().failed, 0);
}

#[test]
fn closing_the_listener_leaves_accepted_links_working() {
    // close() ends pending handshakes by shutting their streams down: a
    // handshake that just finished must not be among them.
    for _ in 0..50 {
        let l = LinkListener::bind("127.0.0.1:0").unwrap();
        let client = Dialer::new(l.local_addr()).dial().unwrap();
        let server = l.accept().unwrap().into_proto6().unwrap();
        l.close();
        exchange(&client, &server);
    }
}

#[test]
fn incoming_yields_links_until_closed() {
    let l = LinkListener::bind("127.0.0.1:0").unwrap();
    let clients: Vec<_> = (0..3)
        .map(|_| Dialer::new(l.local_addr()).dial().unwrap())
        .collect();
    let (tx, rx) = mpsc::channel();
    thread::scope(|s| {
        let served = s.spawn(|| {
            for link in l.incoming() {
                tx.send(link).unwrap();
            }
        });
        let links: Vec<_> = (0..3).map(|_| rx.recv().unwrap()).collect();
        // Each link handed out is one of the clients'.
        for c in &clients {
            assert!(links.iter().any(|s| s.addrs().peer == c.addrs().local));
        }
        l.close();
        // The iteration ends with the listener.
        served.join().unwrap();
    });
}
