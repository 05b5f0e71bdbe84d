//! Everything a TLS link holds is gone after `close()` returns: no thread,
//! no file descriptor (DESIGN §5), whichever side closes, and after a
//! refused handshake too. Dropped links let go of all of it by themselves.
//!
//! A test binary of its own with a single test, so that no other test
//! creates threads or descriptors while this one counts them.

mod common;
mod tls_support;

use common::{assert_kind, fds, threads, wait_until, TEST_LIMIT};
use neonet::proto::Ping;
use neonet::tls::accept_link_tls;
use neonet::Dialer;
use neonet::ErrorKind;
use tls_support::*;

#[test]
fn no_thread_or_fd_left_after_close() {
    // Certificates and configurations first: they hold no descriptor.
    let c = cluster();
    let expired = c.ca.config(&c.ca.expired_node());
    let threads0 = threads();
    let fds0 = fds();

    for closer_is_client in [true, false] {
        let (client, server) = tls_pair();
        // One reader thread and two descriptors per link (the stream and
        // the reader's waker).
        assert_eq!(threads(), threads0 + 2);
        assert_eq!(fds(), fds0 + 4);
        client.send1(&Ping {}).unwrap();
        server.recv().unwrap();
        let (first, second) = match closer_is_client {
            true => (client, server),
            false => (server, client),
        };
        first.close();
        let e = second.accept().unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::LinkDown), "{e}");
        second.close();
        assert_eq!(threads(), threads0, "closer is client: {closer_is_client}");
        assert_eq!(fds(), fds0, "closer is client: {closer_is_client}");
        drop((first, second));
    }

    // Both ends dropped with a connection of each still alive: the
    // readers end by themselves, closing the descriptors as they go.
    let (client, server) = tls_pair();
    client.send1(&Ping {}).unwrap();
    server.recv().unwrap();
    let conns = (client.new_conn().unwrap(), server.new_conn().unwrap());
    drop((client, server));
    assert!(
        wait_until(TEST_LIMIT, || threads() == threads0 && fds() == fds0),
        "dropped: {} threads (of {threads0}), {} descriptors (of {fds0})",
        threads(),
        fds()
    );
    assert_kind(conns.0.recv_pkt(), ErrorKind::LinkClosed);
    drop(conns);

    // A refused handshake on both sides.
    let listener = listen();
    let addr = listener.local_addr().unwrap();
    let server = c.server.clone();
    let accepted = serve_one(listener, move |s| {
        accept_link_tls(s, &server, Some(HANDSHAKE_LIMIT))
    });
    assert!(Dialer::new(addr).tls(&expired).dial().is_err());
    assert!(accepted.join().unwrap().is_err());
    assert_eq!(threads(), threads0);
    assert_eq!(fds(), fds0);
}
