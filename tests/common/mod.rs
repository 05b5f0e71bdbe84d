//! Helpers shared by the integration tests: pairs of links over a
//! socketpair and over TCP loopback, a watching stream wrapper, and a
//! hand-written raw peer that speaks the wire format (DESIGN §1) directly.
//!
//! Every test binary uses only some of these helpers.
#![allow(dead_code)]

use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::BorrowedFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use neonet::packet::Header;
use neonet::packet::HEADER_SIZE;
use neonet::{Conn, ErrorKind, LinkListener, LinkRole, LinkStream, NodeLink, Packet};
use neonet::{Dialer, Proto6};

/// Message code of the `Error` message (DESIGN §7).
pub const ERROR_MSG: u16 = 0x8000;
/// `PROTOCOL_ERROR` error code.
pub const PROTOCOL_ERROR: u32 = 6;

/// How long a test waits for a thread to block before acting on it. Only a
/// delay: no assertion depends on it having passed.
pub const LET_BLOCK: Duration = Duration::from_millis(100);

/// The kinds of link pair the tests run over: every concurrency test runs
/// over `Unix` and `Tcp`; some also over `Dialed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `UnixStream::pair()`.
    Unix,
    /// TCP over 127.0.0.1, TCP_NODELAY on both ends.
    Tcp,
    /// `dial_link` to a `LinkListener` on 127.0.0.1 (with handshake). Has
    /// no raw streams: only [`pair`] takes it.
    Dialed,
}

/// (client, server) links over a socketpair (`NodeLink::<Proto6>::pair()`).
pub fn unix_pair() -> (NodeLink, NodeLink) {
    NodeLink::<Proto6>::pair().expect("NodeLink::pair")
}

/// Two connected TCP streams over loopback: (dialer, accepted), nodelay on.
pub fn tcp_streams() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let dialer = TcpStream::connect(addr).expect("connect");
    let (accepted, _) = listener.accept().expect("accept");
    dialer.set_nodelay(true).expect("nodelay");
    accepted.set_nodelay(true).expect("nodelay");
    (dialer, accepted)
}

/// (client, server) links over TCP loopback, no handshake.
pub fn tcp_pair() -> (NodeLink, NodeLink) {
    let (dialer, accepted) = tcp_streams();
    let client = NodeLink::<Proto6>::new(dialer, LinkRole::Client).expect("client link");
    let server = NodeLink::<Proto6>::new(accepted, LinkRole::Server).expect("server link");
    (client, server)
}

/// (client, server) links dialed to a `LinkListener` on TCP loopback and
/// accepted by it (with handshake); the listener is closed afterwards.
pub fn dialed_pair() -> (NodeLink, NodeLink) {
    let listener = LinkListener::bind("127.0.0.1:0").expect("listen");
    let client = Dialer::new(listener.local_addr())
        .dial()
        .expect("dial_link");
    let server = listener
        .accept()
        .expect("listener accept")
        .into_proto6()
        .expect("protocol 6");
    listener.close();
    (client, server)
}

/// (client, server) links over the given kind of stream.
pub fn pair(kind: Kind) -> (NodeLink, NodeLink) {
    match kind {
        Kind::Unix => unix_pair(),
        Kind::Tcp => tcp_pair(),
        Kind::Dialed => dialed_pair(),
    }
}

/// Opens a connection on `opener` and sends `payload` on it (message code
/// `code`); `acceptor` accepts it and receives that payload (checked).
/// Returns (opened, accepted).
#[track_caller]
pub fn open_and_accept(
    opener: &NodeLink,
    acceptor: &NodeLink,
    code: u16,
    payload: &[u8],
) -> (Conn, Conn) {
    let opened = opener.new_conn().unwrap();
    opened.send_pkt(Packet::new(0, code, payload)).unwrap();
    let accepted = acceptor.accept().unwrap();
    assert_eq!(accepted.recv_pkt().unwrap().payload(), payload);
    (opened, accepted)
}

/// One exchange on a new connection: `opener` sends `req` (code 2),
/// `acceptor` accepts it and answers `resp` (code 0x8002); both checked.
#[track_caller]
pub fn exchange(opener: &NodeLink, acceptor: &NodeLink, req: &[u8], resp: &[u8]) {
    let (c, s) = open_and_accept(opener, acceptor, 2, req);
    s.send_pkt(Packet::new(0, 0x8002, resp)).unwrap();
    assert_eq!(c.recv_pkt().unwrap().payload(), resp);
}

/// A link's (live connections, tombstones).
pub fn conns(link: &NodeLink) -> (usize, usize) {
    let s = link.stats();
    (s.live_conns, s.tombstones)
}

/// How long a test body may run before the watchdog declares it hung.
pub const TEST_LIMIT: Duration = Duration::from_secs(30);

/// Defines a module `$name` with one test per kind listed (`unix`, `tcp`,
/// `dialed`: see [`Kind`]), each running `$body` with `$kind` bound to
/// that kind, under a [`watchdog`] of `$limit` so that a deadlock fails
/// the test instead of hanging it. Without a list and a limit: `unix` and
/// `tcp`, [`TEST_LIMIT`]. Use with `#[macro_use] mod common;`.
#[allow(unused_macros)]
macro_rules! kind_test {
    (@kind unix) => {
        $crate::common::Kind::Unix
    };
    (@kind tcp) => {
        $crate::common::Kind::Tcp
    };
    (@kind dialed) => {
        $crate::common::Kind::Dialed
    };
    ($name:ident, |$kind:ident| $body:block) => {
        kind_test!($name, [unix, tcp], $crate::common::TEST_LIMIT, |$kind| $body);
    };
    ($name:ident, [$($test:ident),+ $(,)?], $limit:expr, |$kind:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(
                #[test]
                fn $test() {
                    $crate::common::watchdog($limit, move || {
                        #[allow(unused_variables)]
                        let $kind = kind_test!(@kind $test);
                        $body
                    })
                }
            )+
        }
    };
}

/// For each `$check`, a [`kind_test!`] module `$check` whose tests (one
/// per kind in `$kinds`, e.g. `[unix, tcp, dialed]`) call `$check(kind)`
/// under a [`watchdog`] of `$limit`.
#[allow(unused_macros)]
macro_rules! kind_tests {
    ($kinds:tt, $limit:expr; $($check:ident),+ $(,)?) => {
        $(
            kind_test!($check, $kinds, $limit, |kind| {
                super::$check(kind)
            });
        )+
    };
}

/// One end of a raw stream, used by a hand-written peer.
#[derive(Debug)]
pub enum Raw {
    /// A Unix-domain stream.
    Unix(UnixStream),
    /// A TCP stream.
    Tcp(TcpStream),
}

impl Raw {
    /// The socket, as the crate's `LinkStream` for its type.
    fn socket(&self) -> &dyn LinkStream {
        match self {
            Raw::Unix(s) => s,
            Raw::Tcp(s) => s,
        }
    }

    /// Bounds blocking reads (so a broken link fails a test instead of
    /// hanging it).
    pub fn set_read_timeout(&self, t: Option<Duration>) {
        match self {
            Raw::Unix(s) => s.set_read_timeout(t),
            Raw::Tcp(s) => s.set_read_timeout(t),
        }
        .expect("set_read_timeout")
    }
}

impl Read for &Raw {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // `&UnixStream` and `&TcpStream` are `Read` and `Write` themselves.
        match *self {
            Raw::Unix(s) => s.read(buf),
            Raw::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for &Raw {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match *self {
            Raw::Unix(s) => s.write(buf),
            Raw::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Two connected raw streams of the given kind: (dialer, accepted).
pub fn raw_streams(kind: Kind) -> (Raw, Raw) {
    match kind {
        Kind::Unix => {
            let (a, b) = UnixStream::pair().expect("socketpair");
            (Raw::Unix(a), Raw::Unix(b))
        }
        Kind::Tcp => {
            let (a, b) = tcp_streams();
            (Raw::Tcp(a), Raw::Tcp(b))
        }
        Kind::Dialed => panic!("raw_streams: a dialed link has no raw streams"),
    }
}

/// A link over `raw` with the given role.
pub fn link_over(raw: Raw, role: LinkRole) -> NodeLink {
    NodeLink::<Proto6>::new(raw, role).expect("NodeLink::new")
}

/// The raw stream as the crate's own `LinkStream` for its socket type, so
/// that a link over a [`Raw`] runs exactly the production code path.
impl neonet::stream::TestStream for Raw {}

impl LinkStream for Raw {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.socket().read(buf)
    }

    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.socket().try_read(buf)
    }

    fn readable(&self) -> io::Result<bool> {
        self.socket().readable()
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.socket().write(buf)
    }

    fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.socket().write_vectored(bufs)
    }

    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.socket().try_write(buf)
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.socket().fd()
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket().set_write_timeout(timeout)
    }

    fn shutdown(&self) -> io::Result<()> {
        self.socket().shutdown()
    }

    fn local_addr(&self) -> neonet::Addr {
        self.socket().local_addr()
    }

    fn peer_addr(&self) -> neonet::Addr {
        self.socket().peer_addr()
    }
}

/// A link with `role` whose peer is a hand-written raw stream: (link, peer).
/// The raw peer's reads time out after 30 s so that a broken link fails the
/// test rather than hanging it.
pub fn link_with_raw_peer(kind: Kind, role: LinkRole) -> (NodeLink, Raw) {
    let (link, peer, _) = link_with_watched_peer(kind, role);
    (link, peer)
}

/// Like [`link_with_raw_peer`], the link's stream wrapped in a
/// [`WatchedStream`]: (link, peer, what the wrapper reports).
pub fn link_with_watched_peer(kind: Kind, role: LinkRole) -> (NodeLink, Raw, Watch) {
    let (a, b) = raw_streams(kind);
    // The link takes the role matching its side of the connection.
    let (ours, peer) = match role {
        LinkRole::Client => (a, b),
        LinkRole::Server => (b, a),
    };
    peer.set_read_timeout(Some(Duration::from_secs(30)));
    let (link, watch) = watched_link_over(ours, role);
    (link, peer, watch)
}

/// A link over `raw` wrapped in a [`WatchedStream`], and its reports.
pub fn watched_link_over(raw: Raw, role: LinkRole) -> (NodeLink, Watch) {
    let (stream, watch) = WatchedStream::new(raw);
    (
        NodeLink::<Proto6>::new(stream, role).expect("NodeLink::new"),
        watch,
    )
}

/// A write of at least this many bytes blocks while the peer does not
/// read: it is larger than the socket buffers can take without the peer
/// reading (a few MiB over TCP loopback, less over a socketpair).
pub const LARGE: usize = 16 << 20;

thread_local! {
    /// Blocking writes (`write`, `write_vectored`) this thread made through
    /// any [`WatchedStream`].
    pub static THREAD_WRITES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// What a [`WatchedStream`] reports.
#[derive(Debug)]
pub struct Watch {
    /// Calls of `read`/`try_read` that returned data.
    pub reads: Arc<AtomicUsize>,
    /// Calls of `try_write` (non-blocking writes: the link's replies).
    pub try_writes: Arc<AtomicUsize>,
    /// Bytes offered to `try_write`, all calls together.
    pub try_write_bytes: Arc<AtomicUsize>,
    /// One message per write of at least [`LARGE`] bytes, sent just before
    /// the write: from then on the writer is in `write` (and stays there
    /// while the peer does not read).
    pub large_writes: mpsc::Receiver<()>,
}

/// A `LinkStream` that forwards everything to `S`, counting the reads that
/// returned data and reporting the large writes (see [`Watch`]).
#[derive(Debug)]
pub struct WatchedStream<S> {
    inner: S,
    reads: Arc<AtomicUsize>,
    try_writes: Arc<AtomicUsize>,
    try_write_bytes: Arc<AtomicUsize>,
    large_writes: mpsc::SyncSender<()>,
}

impl<S> WatchedStream<S> {
    /// Wraps `inner`; returns the wrapper and its reports.
    pub fn new(inner: S) -> (WatchedStream<S>, Watch) {
        let reads = Arc::new(AtomicUsize::new(0));
        let try_writes = Arc::new(AtomicUsize::new(0));
        let try_write_bytes = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::sync_channel(16);
        let stream = WatchedStream {
            inner,
            reads: reads.clone(),
            try_writes: try_writes.clone(),
            try_write_bytes: try_write_bytes.clone(),
            large_writes: tx,
        };
        let watch = Watch {
            reads,
            try_writes,
            try_write_bytes,
            large_writes: rx,
        };
        (stream, watch)
    }

    fn count(&self, res: io::Result<usize>) -> io::Result<usize> {
        if matches!(res, Ok(n) if n > 0) {
            self.reads.fetch_add(1, Ordering::SeqCst);
        }
        res
    }

    fn report(&self, len: usize) {
        THREAD_WRITES.with(|n| n.set(n.get() + 1));
        if len >= LARGE {
            // Nobody listening, or full: the report is not needed.
            let _ = self.large_writes.try_send(());
        }
    }
}

impl<S: LinkStream> neonet::stream::TestStream for WatchedStream<S> {}

impl<S: LinkStream> LinkStream for WatchedStream<S> {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.count(self.inner.read(buf))
    }

    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.count(self.inner.try_read(buf))
    }

    fn readable(&self) -> io::Result<bool> {
        self.inner.readable()
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.report(buf.len());
        self.inner.write(buf)
    }

    fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.report(bufs.iter().map(|b| b.len()).sum());
        self.inner.write_vectored(bufs)
    }

    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.try_writes.fetch_add(1, Ordering::SeqCst);
        self.try_write_bytes.fetch_add(buf.len(), Ordering::SeqCst);
        self.inner.try_write(buf)
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.inner.fd()
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_write_timeout(timeout)
    }

    fn shutdown(&self) -> io::Result<()> {
        self.inner.shutdown()
    }

    fn local_addr(&self) -> neonet::Addr {
        self.inner.local_addr()
    }

    fn peer_addr(&self) -> neonet::Addr {
        self.inner.peer_addr()
    }
}

/// The wire bytes of a packet with these header fields and payload, laid
/// out here by hand after DESIGN §1 (not with the crate's encoder, so that
/// tests comparing with it check the crate).
pub fn raw_packet(conn_id: u32, msg_code: u16, payload: &[u8]) -> Vec<u8> {
    let msg_len = u32::try_from(payload.len()).expect("payload fits in msg_len");
    let mut b = Vec::with_capacity(HEADER_SIZE + payload.len());
    b.extend_from_slice(&conn_id.to_be_bytes());
    b.extend_from_slice(&msg_code.to_be_bytes());
    b.extend_from_slice(&msg_len.to_be_bytes());
    b.extend_from_slice(payload);
    b
}

/// Writes one packet on a raw stream.
pub fn write_raw_packet(mut w: impl Write, conn_id: u32, msg_code: u16, payload: &[u8]) {
    w.write_all(&raw_packet(conn_id, msg_code, payload))
        .expect("raw peer: write packet");
}

/// Reads one whole packet from a raw stream.
pub fn read_raw_packet(mut r: impl Read) -> io::Result<Packet> {
    let mut hdr = [0u8; HEADER_SIZE];
    r.read_exact(&mut hdr)?;
    let hdr = Header::decode(&hdr);
    let mut payload = vec![0u8; hdr.msg_len as usize];
    r.read_exact(&mut payload)?;
    Ok(Packet::new(hdr.conn_id, hdr.msg_code, &payload))
}

/// Reads our handshake word (version 6) from a raw peer whose handshake
/// was refused, then checks that the stream was closed: EOF, or a reset
/// as what the peer sent was left unread.
#[track_caller]
pub fn assert_version_word_then_closed(mut r: impl Read) {
    let mut word = [0u8; 4];
    r.read_exact(&mut word).unwrap();
    assert_eq!(word, [0, 0, 0, 6]);
    let mut rest = [0u8; 16];
    match r.read(&mut rest) {
        Ok(n) => assert_eq!(n, 0),
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset),
    }
}

/// Reads from a raw stream until EOF; returns the bytes read before it.
pub fn read_to_eof(mut r: impl Read) -> io::Result<Vec<u8>> {
    let mut all = Vec::new();
    r.read_to_end(&mut all)?;
    Ok(all)
}

/// Decodes the payload of an `Error` message by hand: u32 code, u32 text
/// length, text bytes (all big-endian). Panics if it is not one.
pub fn decode_error_reply(pkt: &Packet) -> (u32, String) {
    assert_eq!(
        pkt.msg_code(),
        ERROR_MSG,
        "not an Error message: {pkt:?} payload {:?}",
        pkt.payload()
    );
    let p = pkt.payload();
    assert!(p.len() >= 8, "Error payload too short: {p:?}");
    let code = u32::from_be_bytes(p[0..4].try_into().unwrap());
    let len = u32::from_be_bytes(p[4..8].try_into().unwrap()) as usize;
    assert_eq!(p.len(), 8 + len, "Error payload length mismatch: {p:?}");
    let text = String::from_utf8(p[8..].to_vec()).expect("Error text is UTF-8");
    (code, text)
}

/// Asserts that `pkt` is the link's own reply `text` on connection `id`.
#[track_caller]
pub fn assert_reply(pkt: &Packet, id: u32, text: &str) {
    assert_eq!(pkt.conn_id(), id, "reply on the wrong id: {pkt:?}");
    assert_eq!(
        decode_error_reply(pkt),
        (PROTOCOL_ERROR, text.to_string()),
        "unexpected reply on id {id}"
    );
}

/// Asserts that `res` failed with exactly `want` (compared by variant);
/// returns the error.
#[track_caller]
pub fn assert_kind<T: fmt::Debug>(res: neonet::Result<T>, want: ErrorKind) -> neonet::Error {
    match res {
        Ok(v) => panic!("expected error {want:?}, got Ok({v:?})"),
        Err(e) => {
            assert!(
                same_kind(e.kind(), &want),
                "expected {want:?}, got {:?} ({e})",
                e.kind()
            );
            e
        }
    }
}

/// Asserts that `res` failed with an I/O error (`ErrorKind::Io`) of kind
/// `want`; returns the error.
#[track_caller]
pub fn assert_io_kind<T: fmt::Debug>(res: neonet::Result<T>, want: io::ErrorKind) -> neonet::Error {
    match res {
        Ok(v) => panic!("expected I/O error {want:?}, got Ok({v:?})"),
        Err(e) => {
            assert!(
                matches!(e.kind(), ErrorKind::Io(io) if io.kind() == want),
                "expected Io({want:?}), got {:?} ({e})",
                e.kind()
            );
            e
        }
    }
}

/// Whether two kinds are the same variant (and, for `PacketTooBig`, the
/// same size; for `Io`, the same `io::ErrorKind`).
pub fn same_kind(a: &ErrorKind, b: &ErrorKind) -> bool {
    match (a, b) {
        (ErrorKind::PacketTooBig { size: x }, ErrorKind::PacketTooBig { size: y }) => x == y,
        (ErrorKind::Io(x), ErrorKind::Io(y)) => x.kind() == y.kind(),
        _ => std::mem::discriminant(a) == std::mem::discriminant(b),
    }
}

/// Panics seen in link reader threads (named "neonet-reader") of this
/// process. Such a panic is always a bug of the link, and it leaves every
/// operation on that link blocked for good: the watchdog uses this count
/// to fail fast instead of waiting out its whole limit.
static READER_PANICS: AtomicUsize = AtomicUsize::new(0);

/// Installs (once) a panic hook that counts reader-thread panics, then
/// does what the previous hook did (print, or capture for libtest).
fn count_reader_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if thread::current().name() == Some("neonet-reader") {
                READER_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

/// How long a test may still run after a reader thread panicked before
/// the watchdog gives up on it. Tests that do not depend on the panicked
/// link finish well within it.
const AFTER_READER_PANIC: Duration = Duration::from_secs(5);

/// Runs `f` in a thread and waits for its result for at most `limit`;
/// panics if it did not finish in time (a deadlock) or if it panicked.
/// Also gives up early if a link reader thread panicked meanwhile and `f`
/// still has not finished `AFTER_READER_PANIC` later (its link is dead).
pub fn watchdog<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    count_reader_panics();
    let panics0 = READER_PANICS.load(Ordering::SeqCst);
    let (tx, rx) = mpsc::channel();
    // Named after the test, so that its panics say which test failed.
    let name = thread::current().name().unwrap_or("watchdog").to_string();
    let handle = thread::Builder::new()
        .name(name)
        .spawn(move || {
            let v = f();
            let _ = tx.send(());
            v
        })
        .expect("spawn watched thread");
    let start = Instant::now();
    let mut reader_panic_seen: Option<Instant> = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(()) => return handle.join().expect("watched thread panicked"),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // The thread panicked: propagate its panic.
                return match handle.join() {
                    Ok(v) => v,
                    Err(p) => std::panic::resume_unwind(p),
                };
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if start.elapsed() >= limit {
            panic!("watchdog: not finished within {limit:?} (deadlock?)");
        }
        if READER_PANICS.load(Ordering::SeqCst) != panics0 {
            let seen = *reader_panic_seen.get_or_insert_with(Instant::now);
            if seen.elapsed() >= AFTER_READER_PANIC {
                panic!(
                    "watchdog: a neonet-reader thread panicked (see its message) \
                     and this test has not finished {AFTER_READER_PANIC:?} later"
                );
            }
        }
    }
}

/// Polls `cond` until it holds or `limit` passes; returns whether it held.
/// For states that become true asynchronously (e.g. the reader thread
/// having queued a packet); the caller asserts the result.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Deterministic pseudo-random bytes for payload `(seed)` of length `len`.
pub fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        // xorshift64*
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let take = (len - out.len()).min(8);
        out.extend_from_slice(&v.to_le_bytes()[..take]);
    }
    out
}

// ---- counting what a process holds (for the leak tests) ----

fn count(dir: &str) -> usize {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .count()
}

/// `PF_EXITING` in a task's flags (field 9 of /proc/.../stat): the task is
/// in the kernel's `do_exit`, its user code is over.
const PF_EXITING: u64 = 0x4;

/// Threads of this process that are not exiting.
///
/// `pthread_join` (so `JoinHandle::join`, so `close()`) returns as soon as
/// the kernel clears the thread's tid in `do_exit` (CLONE_CHILD_CLEARTID),
/// which comes before the task leaves /proc/self/task: for a few
/// microseconds after a join, the joined thread may still be listed, with
/// PF_EXITING set. Such a thread is gone as far as anything in user space
/// can tell; every other task is counted, with no waiting or retrying.
pub fn threads() -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let path = entry.expect("task entry").path().join("stat");
        // A task that vanished meanwhile is gone.
        let Ok(stat) = std::fs::read_to_string(&path) else {
            continue;
        };
        // Fields after the command name (which may hold spaces): state is
        // the first, flags the seventh.
        let rest = &stat[stat.rfind(')').expect("stat format") + 1..];
        let flags: u64 = rest
            .split_whitespace()
            .nth(6)
            .and_then(|f| f.parse().ok())
            .unwrap_or_else(|| panic!("{}: bad stat {stat:?}", path.display()));
        if flags & PF_EXITING == 0 {
            n += 1;
        }
    }
    n
}

/// Open descriptors of this process.
pub fn fds() -> usize {
    count("/proc/self/fd")
}

/// Raises this process's soft limit on open descriptors to its hard limit,
/// for tests that open a thousand streams (a fresh machine may start at
/// 1024).
pub fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut l = getrlimit(Resource::Nofile);
    l.current = l.maximum;
    let _ = setrlimit(Resource::Nofile, l);
}

/// Waits until `count()` (a link's `blocked_recvs` or `blocked_accepts`
/// test hook) reaches `n`: the threads a test wants asleep before it acts
/// are asleep, observed rather than hoped for after a delay.
#[track_caller]
pub fn until_blocked(count: impl Fn() -> usize, n: usize) {
    assert!(
        wait_until(TEST_LIMIT, || count() >= n),
        "{} of {n} threads blocked",
        count()
    );
}
