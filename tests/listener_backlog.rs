//! A listener holds at most its backlog of links nobody accepted, and a
//! backlogged link whose peer hung up lets go of its thread and descriptors
//! before any `accept`. A test binary of its own: it counts the process's
//! threads and descriptors.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{fds, raise_fd_limit, threads, wait_until};
use neonet::proto::PROTOCOL_VERSION;
use neonet::{LinkListener, ListenerOptions};

const CLIENTS: usize = 1000;

/// A client that does the handshake by hand: writes our version, reads the
/// listener's. Returns the stream if the listener took it, `None` if it
/// closed it at once (backlog full).
fn handshake(addr: std::net::SocketAddr) -> Option<TcpStream> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // The listener may have closed it already: then the write or the read
    // fails, or the read sees EOF.
    let _ = s.write_all(&PROTOCOL_VERSION.to_be_bytes());
    let mut word = [0u8; 4];
    match s.read_exact(&mut word) {
        Ok(()) => {
            assert_eq!(word, PROTOCOL_VERSION.to_be_bytes());
            Some(s)
        }
        Err(_) => None,
    }
}

#[test]
fn backlog_is_bounded_and_hung_up_links_are_released() {
    raise_fd_limit();
    let opts = ListenerOptions::default();
    let backlog = opts.backlog;
    let l = LinkListener::bind_with("127.0.0.1:0", opts).unwrap();
    let addr = l.local_addr().as_tcp().unwrap();
    // The listener's own thread and socket are in the baseline.
    let (threads0, fds0) = (threads(), fds());

    let clients: Vec<TcpStream> = (0..CLIENTS).filter_map(|_| handshake(addr)).collect();
    // Some were turned away (at once, or after their handshake if the
    // backlog filled meanwhile).
    let st = l.stats();
    assert!(st.rejected as usize >= CLIENTS - backlog - 64, "{st:?}");
    // Each link held is a reader thread and two descriptors (its stream and
    // its waker); our clients hold one descriptor each.
    assert!(
        wait_until(Duration::from_secs(30), || threads() <= threads0 + backlog),
        "{} threads for at most {backlog} links",
        threads() - threads0
    );
    let fds_links = fds() - fds0 - clients.len();
    assert!(
        fds_links <= 2 * backlog,
        "{fds_links} descriptors for the links"
    );

    // The clients hang up; nobody has called accept.
    drop(clients);
    assert!(
        wait_until(Duration::from_secs(30), || fds() == fds0
            && threads() == threads0),
        "after the clients hung up: {} threads and {} descriptors more than before",
        threads() as isize - threads0 as isize,
        fds() as isize - fds0 as isize
    );
    // And accept hands out none of those dead links.
    let alive = neonet::Dialer::new(l.local_addr()).dial().unwrap();
    let server = l.accept().unwrap();
    assert!(server.is_up());
    drop((alive, server));
}
