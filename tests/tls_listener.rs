//! TLS links through a `LinkListener` with TLS (DESIGN §11), in both
//! dialects: the listener tells TLS from plain by the first byte on the
//! socket, then the dialect by the first byte of the plaintext.
//!
//! 1. request/reply from either side, 8 threads × 1000 `ask1`, a 16 MiB
//!    `AnswerObject` both ways (protocol 6's, and NEO/py's);
//! 2. `close()` from either side with threads blocked in `recv`, `send`
//!    and `accept` (the link's and the listener's): the kinds of DESIGN §4;
//! 3. a plain client on a TLS listener is refused, counted and logged as
//!    such, and so is a TLS client on a plain listener; the listener
//!    serves good clients afterwards; `allow_plain` serves both;
//! 4. TLS handshakes are pending handshakes like the others: bounded by
//!    the handshake timeout, displaced by newer clients, ended by `close`;
//! 5. keepalive over TLS: a live link stays up, a silent peer is found.

#[macro_use]
mod common;
mod tls_support;

use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, Once};
use std::thread;
use std::time::Duration;

use common::{assert_io_kind, assert_kind, payload, until_blocked, wait_until, watchdog};
use neonet::neopy;
use neonet::proto::{AnswerObject, Checksum, GetObject, Message, Pong, INVALID_TID};
use neonet::tls::{TlsError, TlsStream};
use neonet::{
    Addr, AnyLink, Dialect, Dialer, ErrorKind, HandshakeError, LinkListener, LinkStream,
    ListenerOptions, NeoPy, NodeLink, Op, Proto6,
};
use tls_support::*;

/// Bounds each test: a deadlock fails it. Never asserts a duration.
const LIMIT: Duration = Duration::from_secs(120);

/// Bounds the tests whose handshakes would otherwise end by a 60 s
/// handshake timeout: they pass only if something else ends them.
const SHORT_LIMIT: Duration = Duration::from_secs(30);

/// Runs the generic test `$f` in both dialects.
macro_rules! both {
    ($f:ident) => {
        $f::<Proto6>();
        $f::<NeoPy>();
    };
}

/// What the tests do in each dialect: its requests, answers and sends.
trait Speak: Dialect {
    /// The link of this dialect an `AnyLink` is.
    fn from_any(link: AnyLink) -> NodeLink<Self>;
    /// Serves `n` requests, answering each with `len` bytes of data.
    fn serve(link: &NodeLink<Self>, n: usize, len: usize);
    /// Asks request (thread, i) and checks the whole answer.
    fn ask(link: &NodeLink<Self>, thread: usize, i: usize, len: usize);
    /// A large message with `send1`.
    fn send_large(link: &NodeLink<Self>, data: &[u8]) -> neonet::Result<()>;
    /// An `ask1` nobody answers.
    fn ask1_unanswered(link: &NodeLink<Self>) -> neonet::Result<()>;
    /// Answers one request if it is a `Ping`: 1 if it was.
    fn answer_ping(link: &NodeLink<Self>) -> neonet::Result<usize>;
    /// The handshake bytes of this dialect.
    fn hello() -> Vec<u8>;
}

impl Speak for Proto6 {
    fn from_any(link: AnyLink) -> NodeLink<Proto6> {
        link.into_proto6().expect("a protocol 6 link")
    }
    fn serve(link: &NodeLink<Proto6>, n: usize, len: usize) {
        for _ in 0..n {
            let req = link.recv().unwrap();
            let get = req.msg_as::<GetObject>().unwrap();
            req.reply(&answer_for(&get, len)).unwrap();
        }
    }
    fn ask(link: &NodeLink<Proto6>, thread: usize, i: usize, len: usize) {
        let get = request(thread, i);
        let ans: AnswerObject = link.ask1(&get).unwrap();
        assert_eq!(ans.data.len(), len);
        assert_eq!(ans, answer_for(&get, len), "thread {thread} ask {i}");
    }
    fn send_large(link: &NodeLink<Proto6>, data: &[u8]) -> neonet::Result<()> {
        link.send1(&AnswerObject {
            data: data.to_vec().into(),
            ..Default::default()
        })
    }
    fn ask1_unanswered(link: &NodeLink<Proto6>) -> neonet::Result<()> {
        link.ask1(&request(9, 9)).map(drop)
    }
    fn answer_ping(link: &NodeLink<Proto6>) -> neonet::Result<usize> {
        let req = link.recv()?;
        match req.msg() {
            Message::Ping(_) => req.reply(&Pong {}).map(|()| 1),
            _ => Ok(0),
        }
    }
    fn hello() -> Vec<u8> {
        6u32.to_be_bytes().to_vec()
    }
}

impl Speak for NeoPy {
    fn from_any(link: AnyLink) -> NodeLink<NeoPy> {
        link.into_neopy().expect("a NEO/py link")
    }
    fn serve(link: &NodeLink<NeoPy>, n: usize, len: usize) {
        for _ in 0..n {
            let req = link.recv().unwrap();
            let ask = req.msg_as::<neopy::AskObject>().unwrap();
            req.reply(&answer_for_py(&ask, len)).unwrap();
        }
    }
    fn ask(link: &NodeLink<NeoPy>, thread: usize, i: usize, len: usize) {
        let req = request_py(thread, i);
        let ans: neopy::AnswerObject = link.ask1(&req).unwrap();
        assert_eq!(ans.data.len(), len);
        assert_eq!(ans, answer_for_py(&req, len), "thread {thread} ask {i}");
    }
    fn send_large(link: &NodeLink<NeoPy>, data: &[u8]) -> neonet::Result<()> {
        link.send1(&neopy::AskStoreObject {
            data: data.to_vec().into(),
            ..Default::default()
        })
    }
    fn ask1_unanswered(link: &NodeLink<NeoPy>) -> neonet::Result<()> {
        link.ask1(&request_py(9, 9)).map(drop)
    }
    fn answer_ping(link: &NodeLink<NeoPy>) -> neonet::Result<usize> {
        let req = link.recv()?;
        match req.msg() {
            neopy::Message::Ping(_) => req.reply(&neopy::Pong {}).map(|()| 1),
            _ => Ok(0),
        }
    }
    fn hello() -> Vec<u8> {
        neopy::HANDSHAKE.to_vec()
    }
}

// ---- links through a TLS listener ----

/// A listener on 127.0.0.1 requiring TLS with the shared cluster's
/// server certificate.
fn tls_listener() -> LinkListener {
    LinkListener::bind_tls("127.0.0.1:0", &cluster().server).expect("bind_tls")
}

/// A TLS client of the shared cluster dials `listener` in dialect `D`,
/// and the listener hands its link out: (client, server), both speaking
/// it.
fn dial<D: Speak>(listener: &LinkListener) -> (NodeLink<D>, NodeLink<D>) {
    let client = Dialer::new(listener.local_addr())
        .dialect::<D>()
        .tls(&cluster().client)
        .dial()
        .expect("dial with TLS");
    let server = D::from_any(listener.accept().expect("accept"));
    assert_eq!(client.addrs().local, server.addrs().peer);
    (client, server)
}

/// (client, server) TLS links in dialect `D` through a TLS listener, which
/// is closed afterwards.
fn tls_links<D: Speak>() -> (NodeLink<D>, NodeLink<D>) {
    let listener = tls_listener();
    let links = dial::<D>(&listener);
    listener.close();
    links
}

/// The request unique to (thread, iteration), as protocol 6's `GetObject`.
fn request(thread: usize, i: usize) -> GetObject {
    let oid = ((thread as u64) << 32) | i as u64;
    GetObject {
        oid,
        at: oid ^ 0x5555_0000_0000_0000,
        before: oid.wrapping_mul(3),
    }
}

/// The same request as NEO/py's `AskObject`.
fn request_py(thread: usize, i: usize) -> neopy::AskObject {
    let get = request(thread, i);
    neopy::AskObject {
        oid: get.oid,
        at: Some(get.at),
        before: Some(get.before),
    }
}

/// What the servers answer to `get`: every field derived from it, `len`
/// bytes of data.
fn answer_for(get: &GetObject, len: usize) -> AnswerObject {
    AnswerObject {
        oid: get.oid,
        serial: get.at,
        next_serial: INVALID_TID,
        compression: false,
        checksum: checksum(get.oid),
        data: payload(get.oid, len).into(),
        data_serial: get.before,
    }
}

/// The same answer in NEO/py's dialect.
fn answer_for_py(ask: &neopy::AskObject, len: usize) -> neopy::AnswerObject {
    neopy::AnswerObject {
        oid: ask.oid,
        serial: ask.at.unwrap_or_default(),
        next_serial: None,
        compression: Some(0),
        checksum: checksum(ask.oid),
        data: payload(ask.oid, len).into(),
        data_serial: ask.before,
    }
}

fn checksum(oid: u64) -> Checksum {
    Checksum(std::array::from_fn(|i| (oid as u8).wrapping_add(i as u8)))
}

// ---- 1. request/reply, many threads, large messages ----

fn request_reply_both_ways<D: Speak>() {
    let (client, server) = tls_links::<D>();
    for (asker, answerer) in [(&client, &server), (&server, &client)] {
        thread::scope(|s| {
            s.spawn(|| D::serve(answerer, 10, 100));
            for i in 0..10 {
                D::ask(asker, 0, i, 100);
            }
        });
    }
}

#[test]
fn request_reply_both_ways_in_both_dialects() {
    watchdog(LIMIT, || {
        both!(request_reply_both_ways);
    });
}

#[test]
fn eight_threads_thousand_asks_each_in_both_dialects() {
    const THREADS: usize = 8;
    const ASKS: usize = 1000;
    fn run<D: Speak>() {
        let (client, server) = tls_links::<D>();
        thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| D::serve(&server, THREADS * ASKS / 2, 64));
            }
            for t in 0..THREADS {
                let client = &client;
                s.spawn(move || {
                    for i in 0..ASKS {
                        D::ask(client, t, i, 64);
                    }
                });
            }
        });
    }
    watchdog(LIMIT, || {
        both!(run);
    });
}

#[test]
fn sixteen_mib_answer_both_ways_in_both_dialects() {
    const BIG: usize = 16 << 20;
    fn run<D: Speak>() {
        let (client, server) = tls_links::<D>();
        for (asker, answerer) in [(&client, &server), (&server, &client)] {
            thread::scope(|s| {
                s.spawn(|| D::serve(answerer, 1, BIG));
                D::ask(asker, 7, 7, BIG);
            });
        }
    }
    watchdog(LIMIT, || {
        both!(run);
    });
}

// ---- 2. closing ----

/// A TLS client of the shared cluster that handshakes (TLS, then NEO's in
/// `dialect`) with a listener, then never reads again: what the server
/// sends piles up in the socket buffers, and a large send blocks.
struct SilentTlsClient {
    tls: TlsStream,
    /// The same socket, to see bytes arrive without reading them.
    tcp: TcpStream,
}

impl SilentTlsClient {
    fn dial<D: Speak>(addr: &Addr) -> SilentTlsClient {
        let tcp = TcpStream::connect(addr.as_tcp().unwrap()).unwrap();
        let peek = tcp.try_clone().unwrap();
        let tls = TlsStream::connect(tcp, &cluster().client, Some(HANDSHAKE_LIMIT)).unwrap();
        let hello = D::hello();
        let mut sent = 0;
        while sent < hello.len() {
            sent += tls.write(&hello[sent..]).unwrap();
        }
        let mut got = vec![0u8; hello.len()];
        let mut read = 0;
        while read < got.len() {
            let n = tls.read(&mut got[read..]).unwrap();
            assert_ne!(n, 0, "the listener hung up during the handshake");
            read += n;
        }
        assert_eq!(got, hello, "the listener's handshake");
        SilentTlsClient { tls, tcp: peek }
    }

    /// Blocks until bytes the server sent after the handshake reach our
    /// socket (left unread).
    fn until_bytes_arrive(&self) {
        self.tcp.set_read_timeout(Some(common::TEST_LIMIT)).unwrap();
        let n = self.tcp.peek(&mut [0u8; 1]).expect("bytes from the server");
        assert_eq!(n, 1, "the server hung up");
    }
}

/// Sends messages of `LARGE` bytes with `send1` until a send fails;
/// returns that error.
fn send_large_until_error<D: Speak>(link: &NodeLink<D>) -> neonet::Error {
    let data = payload(1, common::LARGE);
    loop {
        if let Err(e) = D::send_large(link, &data) {
            return e;
        }
    }
}

/// Waits for one request (`recv`).
fn recv_any<D: Speak>(link: &NodeLink<D>) -> neonet::Result<()> {
    link.recv().map(drop)
}

fn local_close_wakes_blocked<D: Speak>() {
    let dialect = D::NAME;
    let listener = tls_listener();
    let peer = SilentTlsClient::dial::<D>(listener.local_addr());
    let link = D::from_any(listener.accept().unwrap());
    thread::scope(|s| {
        let sender = s.spawn(|| send_large_until_error(&link));
        let asker = s.spawn(|| D::ask1_unanswered(&link));
        let receiver = s.spawn(|| recv_any(&link));
        // The first large send cannot end while the peer does not
        // read: once its bytes arrive, the sender is in it.
        peer.until_bytes_arrive();
        until_blocked(|| link.blocked_recvs(), 1);
        until_blocked(|| link.blocked_accepts(), 1);
        link.close();
        let e = sender.join().unwrap();
        assert!(
            matches!(e.kind(), ErrorKind::LinkClosed),
            "{dialect}: blocked send after close: {:?} ({e})",
            e.kind()
        );
        assert_eq!(e.op(), Op::Send1);
        let e = assert_kind(asker.join().unwrap(), ErrorKind::LinkClosed);
        assert_eq!(e.op(), Op::Ask1, "{dialect}");
        let e = assert_kind(receiver.join().unwrap(), ErrorKind::LinkClosed);
        assert_eq!(e.op(), Op::RecvRequest, "{dialect}");
    });
    assert_kind(D::ask1_unanswered(&link), ErrorKind::LinkClosed);
    assert_kind(recv_any(&link), ErrorKind::LinkClosed);
}

#[test]
fn local_close_wakes_blocked_recv_send_accept() {
    watchdog(LIMIT, || {
        both!(local_close_wakes_blocked);
    });
}

#[test]
fn local_close_wakes_blocked_conn_recv_and_accept() {
    // Protocol 6 has connections: a receive on one, and `accept`.
    watchdog(LIMIT, || {
        let (client, server) = tls_links::<Proto6>();
        let conn = server.new_conn().unwrap();
        thread::scope(|s| {
            let r = s.spawn(|| conn.recv_pkt());
            let acc = s.spawn(|| server.accept());
            until_blocked(|| server.blocked_recvs(), 1);
            until_blocked(|| server.blocked_accepts(), 1);
            server.close();
            let e = assert_kind(r.join().unwrap(), ErrorKind::LinkClosed);
            assert_eq!((e.op(), e.conn_id()), (Op::Recv, Some(conn.id())));
            let e = assert_kind(acc.join().unwrap(), ErrorKind::LinkClosed);
            assert_eq!(e.op(), Op::Accept);
        });
        // The client sees its peer gone.
        assert_kind(client.accept(), ErrorKind::LinkDown);
    });
}

fn peer_close_wakes<D: Speak>() {
    let dialect = D::NAME;
    for closer_is_client in [true, false] {
        let (client, server) = tls_links::<D>();
        let (closer, other) = match closer_is_client {
            true => (client, server),
            false => (server, client),
        };
        let case = format!("{dialect}, closer is client: {closer_is_client}");
        thread::scope(|s| {
            let asker = s.spawn(|| D::ask1_unanswered(&other));
            let receiver = s.spawn(|| recv_any(&other));
            until_blocked(|| other.blocked_recvs(), 1);
            until_blocked(|| other.blocked_accepts(), 1);
            closer.close();
            // The first receive after the link went down by a
            // receive error reports it (DESIGN §4).
            let e = assert_io_kind(asker.join().unwrap(), io::ErrorKind::UnexpectedEof);
            assert_eq!(e.op(), Op::Ask1, "{case}");
            let e = assert_kind(receiver.join().unwrap(), ErrorKind::LinkDown);
            assert_eq!(e.op(), Op::RecvRequest, "{case}");
        });
        assert_kind(D::ask1_unanswered(&other), ErrorKind::LinkDown);
        assert_kind(recv_any(&other), ErrorKind::LinkDown);
        other.close();
        assert_kind(recv_any(&other), ErrorKind::LinkClosed);
    }
}

#[test]
fn peer_close_wakes_blocked_recv_and_accept() {
    watchdog(LIMIT, || {
        both!(peer_close_wakes);
    });
}

fn peer_hangup_wakes<D: Speak>() {
    let dialect = D::NAME;
    let listener = tls_listener();
    let peer = SilentTlsClient::dial::<D>(listener.local_addr());
    let link = D::from_any(listener.accept().unwrap());
    thread::scope(|s| {
        let sender = s.spawn(|| send_large_until_error(&link));
        peer.until_bytes_arrive();
        drop(peer);
        let e = sender.join().unwrap();
        // What the kernel says about a peer that is gone with our
        // bytes unread: reset or broken pipe, as over plain TCP.
        assert!(
            matches!(e.kind(), ErrorKind::Io(io) if matches!(
                io.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            )),
            "{dialect}: blocked send after the peer hung up: {:?} ({e})",
            e.kind()
        );
        assert_eq!(e.op(), Op::Send1);
    });
    assert_kind(recv_any(&link), ErrorKind::LinkDown);
}

#[test]
fn peer_hangup_wakes_blocked_send() {
    watchdog(LIMIT, || {
        both!(peer_hangup_wakes);
    });
}

#[test]
fn close_wakes_blocked_listener_accept() {
    watchdog(LIMIT, || {
        let listener = tls_listener();
        thread::scope(|s| {
            let acc = s.spawn(|| listener.accept());
            let it = s.spawn(|| listener.incoming().count());
            until_blocked(|| listener.blocked_accepts(), 2);
            listener.close();
            let e = assert_kind(acc.join().unwrap(), ErrorKind::ListenerClosed);
            assert_eq!(e.op(), Op::Accept);
            assert_eq!(it.join().unwrap(), 0);
        });
        assert_kind(listener.accept(), ErrorKind::ListenerClosed);
    });
}

// ---- 3. plain and TLS clients ----

/// What the listeners of this test binary logged.
static LOGGED: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }

    fn log(&self, record: &log::Record) {
        LOGGED.lock().unwrap().push(record.args().to_string());
    }

    fn flush(&self) {}
}

/// Captures the log (once per test binary).
fn capture_log() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        log::set_logger(&Capture).expect("the only logger");
        log::set_max_level(log::LevelFilter::Info);
    });
}

/// Waits until `listener` logged a line containing `what`.
#[track_caller]
fn until_logged(listener: &LinkListener, what: &str) {
    let who = format!("neonet listener {}:", listener.local_addr());
    let found = wait_until(common::TEST_LIMIT, || {
        let logged = LOGGED.lock().unwrap();
        logged
            .iter()
            .any(|l| l.starts_with(&who) && l.contains(what))
    });
    assert!(found, "{who} did not log {what:?}");
}

/// Waits until `listener` counted `n` failed handshakes.
#[track_caller]
fn until_failed(listener: &LinkListener, n: u64) {
    let counted = wait_until(common::TEST_LIMIT, || listener.stats().failed >= n);
    assert!(counted, "{n} failed handshakes: {:?}", listener.stats());
    assert_eq!(listener.stats().failed, n);
}

/// A request and its answer over (client, server) in their dialect.
fn exchange<D: Speak>(client: &NodeLink<D>, server: &NodeLink<D>) {
    thread::scope(|s| {
        s.spawn(|| D::serve(server, 1, 10));
        D::ask(client, 1, 1, 10);
    });
}

/// Dials `listener` in dialect `D` without TLS.
fn dial_plain<D: Speak>(listener: &LinkListener) -> neonet::Result<NodeLink<D>> {
    Dialer::new(listener.local_addr()).dialect::<D>().dial()
}

/// Dials `listener` in dialect `D` with TLS.
fn dial_tls<D: Speak>(listener: &LinkListener) -> neonet::Result<NodeLink<D>> {
    Dialer::new(listener.local_addr())
        .dialect::<D>()
        .tls(&cluster().client)
        .dial()
}

#[test]
fn plain_client_on_tls_listener_is_refused() {
    capture_log();
    watchdog(LIMIT, || {
        let listener = tls_listener();
        let dials: [fn(&LinkListener) -> neonet::Result<()>; 2] = [
            |l| dial_plain::<Proto6>(l).map(drop),
            |l| dial_plain::<NeoPy>(l).map(drop),
        ];
        for (n, dial) in dials.into_iter().enumerate() {
            let e = dial(&listener).expect_err("refused");
            // Closed without a word, as NEO/py does.
            assert!(
                matches!(
                    e.kind(),
                    ErrorKind::Handshake(HandshakeError::UnexpectedEof)
                ),
                "{n}: {e}"
            );
            until_failed(&listener, n as u64 + 1);
        }
        let first = format!(
            "plain (non-TLS) client on a TLS listener: first byte {:#04x}",
            neopy::HANDSHAKE_FIRST_BYTE
        );
        until_logged(&listener, &first);
        until_logged(
            &listener,
            "plain (non-TLS) client on a TLS listener: first byte 0x00",
        );
        // The listener still serves TLS clients, in both dialects.
        let (client, server) = dial::<Proto6>(&listener);
        exchange(&client, &server);
        let (client, server) = dial::<NeoPy>(&listener);
        exchange(&client, &server);
        let stats = listener.stats();
        assert_eq!((stats.handshaked, stats.failed), (2, 2));
    });
}

#[test]
fn tls_client_on_plain_listener_is_refused() {
    capture_log();
    watchdog(LIMIT, || {
        let listener = LinkListener::bind("127.0.0.1:0").unwrap();
        let dials: [fn(&LinkListener) -> neonet::Result<()>; 2] = [
            |l| dial_tls::<Proto6>(l).map(drop),
            |l| dial_tls::<NeoPy>(l).map(drop),
        ];
        for (n, dial) in dials.into_iter().enumerate() {
            let dialect = n;
            let e = dial(&listener).expect_err("refused");
            // The plain listener answers our ClientHello with its version
            // word before it hangs up.
            assert!(
                matches!(
                    e.kind(),
                    ErrorKind::Handshake(HandshakeError::Tls(TlsError::NotTls(first)))
                        if first == &[0, 0, 0, 6]
                ),
                "{dialect}: {e}"
            );
            until_failed(&listener, n as u64 + 1);
        }
        until_logged(&listener, "TLS client on a plain (non-TLS) listener");
        // The listener still serves plain clients, in both dialects.
        fn plain<D: Speak>(listener: &LinkListener) {
            let client = dial_plain::<D>(listener).unwrap();
            let server = D::from_any(listener.accept().unwrap());
            exchange(&client, &server);
        }
        plain::<Proto6>(&listener);
        plain::<NeoPy>(&listener);
        let stats = listener.stats();
        assert_eq!((stats.handshaked, stats.failed), (2, 2));
    });
}

#[test]
fn allow_plain_serves_plain_and_tls_clients() {
    watchdog(LIMIT, || {
        let opts = ListenerOptions {
            tls: Some(cluster().server.clone()),
            allow_plain: true,
            ..Default::default()
        };
        let listener = LinkListener::bind_with("127.0.0.1:0", opts).unwrap();
        fn both_ways<D: Speak>(listener: &LinkListener) {
            let (client, server) = dial::<D>(listener);
            exchange(&client, &server);
            let client = dial_plain::<D>(listener).unwrap();
            let server = D::from_any(listener.accept().unwrap());
            exchange(&client, &server);
        }
        both_ways::<Proto6>(&listener);
        both_ways::<NeoPy>(&listener);
        let stats = listener.stats();
        assert_eq!((stats.handshaked, stats.failed), (4, 0));
    });
}

// ---- 4. TLS handshakes in progress ----

/// A client that starts TLS with `listener` and stops halfway: it sends a
/// whole ClientHello, waits for the server's first answer, then says
/// nothing. The listener's TLS handshake with it is in progress.
fn stuck_tls_client(listener: &LinkListener) -> TcpStream {
    let c = cluster();
    let config = raw_client_config(&c.ca, None);
    let name = rustls::pki_types::ServerName::try_from("node.neo.invalid").unwrap();
    let mut hello = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let mut tcp = TcpStream::connect(listener.local_addr().as_tcp().unwrap()).unwrap();
    while hello.wants_write() {
        hello.write_tls(&mut tcp).unwrap();
    }
    tcp.set_read_timeout(Some(common::TEST_LIMIT)).unwrap();
    let n = tcp.peek(&mut [0u8; 1]).expect("the server's answer");
    assert_eq!(n, 1, "the server hung up at once");
    tcp
}

/// Reads until the listener hangs up.
#[track_caller]
fn assert_hung_up(mut s: &TcpStream) {
    s.set_read_timeout(Some(common::TEST_LIMIT)).unwrap();
    let mut rest = Vec::new();
    match s.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}"),
    }
}

#[test]
fn tls_handshake_is_bounded_by_the_handshake_timeout() {
    capture_log();
    watchdog(LIMIT, || {
        let opts = ListenerOptions {
            tls: Some(cluster().server.clone()),
            handshake_timeout: Duration::from_millis(300),
            ..Default::default()
        };
        let listener = LinkListener::bind_with("127.0.0.1:0", opts).unwrap();
        let stuck = stuck_tls_client(&listener);
        assert_hung_up(&stuck);
        until_failed(&listener, 1);
        until_logged(&listener, "handshake: timeout");
        let (client, server) = dial::<Proto6>(&listener);
        exchange(&client, &server);
    });
}

#[test]
fn a_new_client_displaces_the_oldest_pending_tls_handshake() {
    watchdog(SHORT_LIMIT, || {
        let opts = ListenerOptions {
            tls: Some(cluster().server.clone()),
            handshake_timeout: Duration::from_secs(60),
            max_pending: 2,
            ..Default::default()
        };
        let listener = LinkListener::bind_with("127.0.0.1:0", opts).unwrap();
        let mut stuck: Vec<TcpStream> = (0..2).map(|_| stuck_tls_client(&listener)).collect();
        assert_eq!(listener.stats().displaced, 0);
        // Both slots are held by stuck TLS handshakes: a new client
        // displaces the oldest instead of waiting 60 s, in either dialect.
        fn displace<D: Speak>(listener: &LinkListener, stuck: &mut Vec<TcpStream>, n: usize) {
            let (client, server) = dial::<D>(listener);
            exchange(&client, &server);
            assert_hung_up(&stuck[n]);
            assert_eq!(listener.stats().displaced, n as u64 + 1);
            // Both slots held again.
            stuck.push(stuck_tls_client(listener));
        }
        displace::<Proto6>(&listener, &mut stuck, 0);
        displace::<NeoPy>(&listener, &mut stuck, 1);
        let stats = listener.stats();
        assert_eq!((stats.displaced, stats.failed), (2, 0));
    });
}

#[test]
fn close_ends_tls_handshakes_in_progress() {
    watchdog(SHORT_LIMIT, || {
        let opts = ListenerOptions {
            tls: Some(cluster().server.clone()),
            handshake_timeout: Duration::from_secs(60),
            ..Default::default()
        };
        let listener = LinkListener::bind_with("127.0.0.1:0", opts).unwrap();
        let stuck: Vec<TcpStream> = (0..3).map(|_| stuck_tls_client(&listener)).collect();
        // Returns once every handshake thread ended: well before their
        // 60 s timeout, or the watchdog fails the test.
        listener.close();
        for s in &stuck {
            assert_hung_up(s);
        }
        assert_eq!(listener.stats().failed, 0, "ended by close: no failure");
    });
}

// ---- 5. keepalive ----

fn keepalive_keeps_up<D: Speak>() {
    let dialect = D::NAME;
    let (client, server) = tls_links::<D>();
    client.set_keepalive(Some((Duration::from_millis(20), Duration::from_secs(20))));
    let answered = AtomicUsize::new(0);
    thread::scope(|s| {
        let srv = s.spawn(|| answer_pings(&server, &answered));
        let pinged = wait_until(common::TEST_LIMIT, || answered.load(SeqCst) >= 3);
        assert!(pinged, "{dialect}: the link did not ping");
        assert!(client.stats().pings >= 3);
        // Still up, and still carries requests.
        assert!(client.is_up());
        client.close();
        srv.join().unwrap();
    });
}

#[test]
fn keepalive_keeps_a_live_tls_link_up() {
    watchdog(LIMIT, || {
        both!(keepalive_keeps_up);
    });
}

/// Answers the peer's `Ping`s (the application's job) until the link
/// ends, counting them.
fn answer_pings<D: Speak>(link: &NodeLink<D>, answered: &AtomicUsize) {
    while let Ok(n) = D::answer_ping(link) {
        answered.fetch_add(n, SeqCst);
    }
}

fn keepalive_takes_down<D: Speak>() {
    let dialect = D::NAME;
    let listener = tls_listener();
    // A peer that reads everything and answers nothing.
    let peer = SilentTlsClient::dial::<D>(listener.local_addr());
    let link = D::from_any(listener.accept().unwrap());
    let drained = thread::spawn(move || {
        let mut n = 0;
        let mut buf = [0u8; 4096];
        while let Ok(k @ 1..) = peer.tls.read(&mut buf) {
            n += k;
        }
        n
    });
    thread::scope(|s| {
        let asker = s.spawn(|| D::ask1_unanswered(&link));
        until_blocked(|| link.blocked_recvs(), 1);
        link.set_keepalive(Some((Duration::from_millis(10), Duration::from_millis(50))));
        assert_kind(asker.join().unwrap(), ErrorKind::Timeout);
    });
    assert!(!link.is_up(), "{dialect}");
    assert_kind(recv_any(&link), ErrorKind::LinkDown);
    // The peer got the request and a ping, then saw the link close.
    drop(link);
    assert!(drained.join().unwrap() > 0, "{dialect}");
}

#[test]
fn keepalive_takes_down_a_silent_tls_peer() {
    watchdog(LIMIT, || {
        both!(keepalive_takes_down);
    });
}

#[test]
fn dial_link_tls_speaks_protocol_6() {
    watchdog(LIMIT, || {
        let listener = tls_listener();
        let client = Dialer::new(listener.local_addr())
            .tls(&cluster().client)
            .dial()
            .unwrap();
        let server = Proto6::from_any(listener.accept().unwrap());
        exchange(&client, &server);
    });
}
