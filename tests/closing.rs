//! `close()` keeps its promises (DESIGN §3.1, §4): it returns within its
//! bound whatever the peer and other threads do, what was promised
//! reaches the peer, and blocked senders and receivers fail with
//! `LinkClosed`.
//!
//! 1. A sender blocked in a large write to a peer that does not read,
//!    small packets queued behind it, then `close()` while the peer
//!    half-closes and keeps its socket open: `close()` returns.
//! 2. Both ends closing at once, a thousand rounds, over a socketpair and
//!    TCP, with a receiver blocked on each end.
//! 3. Plain and TLS over the same steered socket, whose non-blocking
//!    writes take little: every packet the link promised (its replies
//!    included) reaches the peer after `close()`, and the TLS peer sees
//!    `close_notify` (a clean end of the session).
//! 4. Dropping a link never waits: with a sender blocked in a large write
//!    to a peer that reads nothing, packets queued behind it and a write
//!    timeout longer than the test may run, the drop returns, the
//!    blocked sender and receiver fail with `LinkClosed`, and the peer
//!    reads to the end of the stream.

#[macro_use]
mod common;
mod tls_support;

use std::io::{self, IoSlice, Read};
use std::net::Shutdown;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicIsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::*;
use neonet::tls::TlsStream;
use neonet::Proto6;
use neonet::{ErrorKind, HandshakeStream, LinkRole, LinkStream, NodeLink, Packet, REPLY_CLOSED};
use tls_support::*;

// ---- 1. a blocked sender, the peer half-closing ----

/// Message code of the test's packets.
const CODE: u16 = 0x0001;

fn close_returns_with_a_blocked_sender_and_a_half_closed_peer(kind: Kind) {
    let (link, peer, watch) = link_with_watched_peer(kind, LinkRole::Client);
    thread::scope(|s| {
        let big = link.new_conn().unwrap();
        let sender = s.spawn(move || big.send_pkt(Packet::new(0, CODE, &vec![0; LARGE])));
        watch.large_writes.recv().expect("large write");
        // Small packets queue behind it: their `send` returns Ok.
        for _ in 0..10 {
            link.new_conn()
                .unwrap()
                .send_pkt(Packet::new(0, CODE, b"small"))
                .unwrap();
        }
        let waiting = link.new_conn().unwrap();
        let receiver = s.spawn(move || waiting.recv_pkt());
        until_blocked(|| link.blocked_recvs(), 1);
        let closer = s.spawn(|| link.close());
        // Once close is under way, the peer stops sending (FIN) but keeps
        // its socket open and reads nothing.
        assert!(wait_until(TEST_LIMIT, || !link.is_up()));
        peer_half_close(&peer);
        closer.join().unwrap();
        assert_kind(sender.join().unwrap(), ErrorKind::LinkClosed);
        assert_kind(receiver.join().unwrap(), ErrorKind::LinkClosed);
    });
    drop(peer);
}

fn peer_half_close(peer: &Raw) {
    match peer {
        Raw::Unix(s) => s.shutdown(Shutdown::Write),
        Raw::Tcp(s) => s.shutdown(Shutdown::Write),
    }
    .expect("half-close");
}

kind_tests!([unix, tcp], TEST_LIMIT; close_returns_with_a_blocked_sender_and_a_half_closed_peer);

// ---- 2. both ends closing at once ----

fn both_ends_close_at_once(kind: Kind) {
    for round in 0..1000u32 {
        let (a, b) = pair(kind);
        let start = Barrier::new(2);
        thread::scope(|s| {
            for link in [&a, &b] {
                let start = &start;
                s.spawn(move || {
                    // Some traffic in flight, a receiver blocked on each
                    // end, then both close together.
                    let c = link.new_conn().unwrap();
                    c.send_pkt(Packet::new(0, CODE, &round.to_be_bytes()))
                        .unwrap();
                    let (acceptor, sender) = thread::scope(|s2| {
                        let waiting = s2.spawn(|| {
                            let c = link.new_conn().unwrap();
                            c.recv_pkt()
                        });
                        // Writes in flight (and a writer held) as both
                        // ends close.
                        let sender = s2.spawn(|| {
                            let c = link.new_conn()?;
                            loop {
                                c.send_pkt(Packet::new(0, CODE, &[7; 64 << 10]))?;
                            }
                        });
                        until_blocked(|| link.blocked_recvs(), 1);
                        start.wait();
                        link.close();
                        (waiting.join().unwrap(), sender.join().unwrap())
                    });
                    let sender: neonet::Result<()> = sender;
                    match sender.map_err(|e| e.kind().clone()) {
                        Err(ErrorKind::LinkClosed | ErrorKind::LinkDown) => {}
                        Err(ErrorKind::Io(e)) if peer_gone(e.kind()) => {}
                        other => panic!("round {round}: sender: {other:?}"),
                    }
                    // The peer's close may take the link down before
                    // ours closes it: then the receiver gets the cause.
                    match acceptor.map_err(|e| e.kind().clone()) {
                        Err(ErrorKind::LinkClosed | ErrorKind::LinkDown) => {}
                        Err(ErrorKind::Io(e)) if peer_gone(e.kind()) => {}
                        other => panic!("round {round}: {other:?}"),
                    }
                });
            }
        });
    }
}

/// What a receive reports when the peer closed first.
fn peer_gone(kind: io::ErrorKind) -> bool {
    use io::ErrorKind::*;
    matches!(kind, UnexpectedEof | ConnectionReset | BrokenPipe)
}

kind_tests!([unix, tcp], Duration::from_secs(120); both_ends_close_at_once);

// ---- 3. what non-blocking writes left, plain and TLS ----

/// A Unix socket whose non-blocking writes take at most `budget` bytes in
/// all (a negative budget: no limit), then would block, while blocking
/// writes take everything: a peer that reads slowly, as the link's
/// replies (written without blocking) see it.
#[derive(Debug)]
struct Steered {
    sock: UnixStream,
    budget: Arc<AtomicIsize>,
}

impl Steered {
    fn new(sock: UnixStream) -> (Steered, Arc<AtomicIsize>) {
        let budget = Arc::new(AtomicIsize::new(-1));
        let s = Steered {
            sock,
            budget: budget.clone(),
        };
        (s, budget)
    }
}

impl LinkStream for Steered {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        LinkStream::read(&self.sock, buf)
    }
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.try_read(buf)
    }
    fn readable(&self) -> io::Result<bool> {
        self.sock.readable()
    }
    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        LinkStream::write(&self.sock, buf)
    }
    fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        LinkStream::write_vectored(&self.sock, bufs)
    }
    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        let budget = self.budget.load(SeqCst);
        if budget < 0 {
            return self.sock.try_write(buf);
        }
        let take = buf.len().min(budget as usize);
        if take == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.sock.try_write(&buf[..take])?;
        self.budget.fetch_sub(n as isize, SeqCst);
        Ok(n)
    }
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.sock.fd()
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        LinkStream::set_write_timeout(&self.sock, timeout)
    }
    fn shutdown(&self) -> io::Result<()> {
        LinkStream::shutdown(&self.sock)
    }
    fn local_addr(&self) -> neonet::Addr {
        LinkStream::local_addr(&self.sock)
    }
    fn peer_addr(&self) -> neonet::Addr {
        LinkStream::peer_addr(&self.sock)
    }
}

impl HandshakeStream for Steered {
    fn set_io_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_io_timeout(timeout)
    }
}

impl AsFd for Steered {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

/// The peer's side of the stream: a plain socket or a TLS session.
enum PeerEnd {
    Plain(UnixStream),
    Tls(Box<TlsStream<UnixStream>>),
}

impl Read for &PeerEnd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            PeerEnd::Plain(s) => LinkStream::read(s, buf),
            PeerEnd::Tls(s) => LinkStream::read(&**s, buf),
        }
    }
}

impl PeerEnd {
    fn send(&self, bytes: &[u8]) {
        let s: &dyn LinkStream = match self {
            PeerEnd::Plain(s) => s,
            PeerEnd::Tls(s) => &**s,
        };
        let mut rest = bytes;
        while !rest.is_empty() {
            rest = &rest[s.write(rest).expect("peer: write")..];
        }
    }
}

/// A client link over a steered socket, plain or inside TLS, and the
/// peer's end; the budget of the socket's non-blocking writes.
fn steered_link(tls: bool) -> (NodeLink, PeerEnd, Arc<AtomicIsize>) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let (steered, budget) = Steered::new(ours);
    if !tls {
        let link = NodeLink::<Proto6>::new(steered, LinkRole::Client).unwrap();
        return (link, PeerEnd::Plain(theirs), budget);
    }
    let c = cluster();
    let (client, server) = thread::scope(|s| {
        let srv = s.spawn(|| TlsStream::accept(theirs, &c.server, Some(HANDSHAKE_LIMIT)));
        let cli = TlsStream::connect(steered, &c.client, Some(HANDSHAKE_LIMIT)).unwrap();
        (cli, srv.join().unwrap().unwrap())
    });
    let link = NodeLink::<Proto6>::new(client, LinkRole::Client).unwrap();
    (link, PeerEnd::Tls(Box::new(server)), budget)
}

/// The peer sends `n` packets to connections of ours that do not exist
/// (the link answers each "connection closed" itself, writing without
/// blocking to a socket that takes only a few bytes of it), then the link
/// closes: the peer gets every reply, then a clean end of the stream
/// (TLS: `close_notify`).
fn replies_reach_the_peer_after_close(tls: bool) {
    const N: u32 = 20;
    let (link, peer, budget) = steered_link(tls);
    budget.store(10, SeqCst);
    let sent: Vec<u8> = (0..N)
        .flat_map(|i| raw_packet(2 * i + 1001, CODE, b"gone?"))
        .chain(raw_packet(2, CODE, b"sync"))
        .collect();
    peer.send(&sent);
    // The reader handled the N packets (queued their replies) before it
    // opened connection 2.
    let sync = link.accept().unwrap();
    assert_eq!(sync.recv_pkt().unwrap().payload(), b"sync");
    // The socket took what it would.
    assert!(wait_until(TEST_LIMIT, || budget.load(SeqCst) == 0));
    link.close();
    for i in 0..N {
        let pkt = read_raw_packet(&peer).expect("a reply the link promised");
        assert_reply(&pkt, 2 * i + 1001, REPLY_CLOSED);
    }
    let mut rest = Vec::new();
    let end = (&peer).read_to_end(&mut rest);
    assert!(
        matches!(end, Ok(0)),
        "the stream ends cleanly after the replies: {end:?}, {} more bytes",
        rest.len()
    );
    drop(sync);
}

#[test]
fn plain_replies_reach_the_peer_after_close() {
    watchdog(TEST_LIMIT, || replies_reach_the_peer_after_close(false));
}

#[test]
fn tls_replies_reach_the_peer_after_close_then_close_notify() {
    watchdog(TEST_LIMIT, || replies_reach_the_peer_after_close(true));
}

// ---- 4. dropping a link never waits ----

fn drop_never_waits_for_a_blocked_sender(kind: Kind) {
    let (link, peer, watch) = link_with_watched_peer(kind, LinkRole::Client);
    // A drop that flushed would wait this long for the peer: far past the
    // test's watchdog.
    link.set_write_timeout(Some(Duration::from_secs(3600)))
        .unwrap();
    thread::scope(|s| {
        let big = link.new_conn().unwrap();
        let sender = s.spawn(move || big.send_pkt(Packet::new(0, CODE, &vec![0; LARGE])));
        watch.large_writes.recv().expect("large write");
        for _ in 0..10 {
            link.new_conn()
                .unwrap()
                .send_pkt(Packet::new(0, CODE, b"small"))
                .unwrap();
        }
        let waiting = link.new_conn().unwrap();
        let receiver = s.spawn(move || waiting.recv_pkt());
        until_blocked(|| link.blocked_recvs(), 1);
        drop(link);
        assert_kind(sender.join().unwrap(), ErrorKind::LinkClosed);
        assert_kind(receiver.join().unwrap(), ErrorKind::LinkClosed);
    });
    // The stream was shut down: the peer reads what got through, then the
    // end of the stream.
    read_to_eof(&peer).expect("the peer reads to the end");
}

kind_tests!([unix, tcp], TEST_LIMIT; drop_never_waits_for_a_blocked_sender);
