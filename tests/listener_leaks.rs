//! After a listener and its links are closed, none of their threads or
//! descriptors remain. A test binary of its own: it counts the process's
//! threads and descriptors, which other tests running at once would change.

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::{fds, threads};
use neonet::{Addr, Dialer};
use neonet::{LinkListener, ListenerOptions, Packet};

#[test]
fn listener_and_links_leave_nothing_behind() {
    let (threads0, fds0) = (threads(), fds());
    let path = std::env::temp_dir().join(format!("neonet-leaks-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    {
        let opts = ListenerOptions {
            handshake_timeout: Duration::from_secs(30),
            ..Default::default()
        };
        let tcp = LinkListener::bind_with("127.0.0.1:0", opts.clone()).unwrap();
        let unix = LinkListener::bind_unix_with(&path, opts).unwrap();
        // Silent clients keep handshakes pending until close.
        let silent: Vec<TcpStream> = (0..3)
            .map(|_| TcpStream::connect(tcp.local_addr().as_tcp().unwrap()).unwrap())
            .collect();
        let mut links = Vec::new();
        for _ in 0..3 {
            let c = Dialer::new(tcp.local_addr()).dial().unwrap();
            let s = tcp.accept().unwrap().into_proto6().unwrap();
            links.push((c, s));
            let c = Dialer::new(Addr::from(&path)).dial().unwrap();
            let s = unix.accept().unwrap().into_proto6().unwrap();
            links.push((c, s));
        }
        for (c, s) in &links {
            let conn = c.new_conn().unwrap();
            conn.send_pkt(Packet::new(0, 2, b"x")).unwrap();
            let peer = s.accept().unwrap();
            peer.recv_pkt().unwrap();
        }
        // A link dialed but never taken from the listener.
        let _untaken = Dialer::new(tcp.local_addr()).dial().unwrap();
        tcp.close();
        unix.close();
        for (c, s) in &links {
            c.close();
            s.close();
        }
        drop(silent);
    }
    assert_eq!(threads(), threads0, "threads left behind");
    assert_eq!(fds(), fds0, "descriptors left behind");
}
