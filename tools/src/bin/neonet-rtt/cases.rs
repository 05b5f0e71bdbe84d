//! Round-trip cases shared by `neonet-rtt` and `benches/rtt.rs`: each sets
//! up a pair of endpoints and a serving thread once, then runs any number
//! of round trips on demand, so that several cases can be measured
//! interleaved in one process.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use neonet::proto::{AnswerObject, GetObject, Message, Ping, Pong};
use neonet::{neopy, Dialect, LinkRole, LinkStream, NeoPy, NodeLink, Packet, Proto6};

/// How long the `*_spin` raw cases busy-poll before a blocking read.
pub const RAW_SPIN: Duration = Duration::from_micros(20);

/// A round trip that can be run `n` times in a row.
pub trait Case: Send {
    /// Runs `n` round trips and returns the time they took.
    fn run(&mut self, n: usize) -> Duration;
}

/// A connected TCP loopback pair with TCP_NODELAY on both ends.
pub fn tcp_pair() -> io::Result<(TcpStream, TcpStream)> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let c = TcpStream::connect(l.local_addr()?)?;
    let (s, _) = l.accept()?;
    c.set_nodelay(true)?;
    s.set_nodelay(true)?;
    Ok((c, s))
}

/// How a raw case waits for data.
#[derive(Clone, Copy, Debug)]
pub enum Wait {
    /// Blocking reads only.
    Block,
    /// Busy-polls for that long, then blocks (the floor with 2 threads).
    Spin(Duration),
    /// Polls for that long yielding the CPU between polls, then blocks: how
    /// a link waits, as it has more threads than the machine has cores.
    SpinYield(Duration),
}

/// Polls `poll` as `wait` says; `None` once the polling time is over.
fn poll_for<T>(wait: Wait, mut poll: impl FnMut() -> Option<T>) -> Option<T> {
    let (budget, yielding) = match wait {
        Wait::Block => return None,
        Wait::Spin(d) => (d, false),
        Wait::SpinYield(d) => (d, true),
    };
    let start = Instant::now();
    loop {
        if let Some(v) = poll() {
            return Some(v);
        }
        if start.elapsed() >= budget {
            return None;
        }
        if yielding {
            thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

/// Reads at least one byte, polling first as `wait` says. A yielding
/// poll checks readiness first, as a link's reader does: a `recv` per poll
/// would contend for the socket lock with the kernel and the writer.
fn read_some<S: LinkStream>(s: &S, buf: &mut [u8], wait: Wait) -> io::Result<usize> {
    let check_first = matches!(wait, Wait::SpinYield(_));
    let polled = poll_for(wait, || {
        if check_first && !s.readable().unwrap_or(true) {
            return None;
        }
        match s.try_read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            r => Some(r),
        }
    });
    polled.unwrap_or_else(|| s.read(buf))
}

/// A thread echoing every byte it reads on `server`, until end of stream.
fn spawn_echo<S: LinkStream>(server: S, wait: Wait) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut b = [0u8; 1];
        while let Ok(1) = read_some(&server, &mut b, wait) {
            if server.write(&b).is_err() {
                break;
            }
        }
    })
}

/// 1-byte ping-pong between two threads over a raw stream.
pub struct RawPingPong<S: LinkStream> {
    client: S,
    wait: Wait,
    server: Option<JoinHandle<()>>,
}

impl<S: LinkStream> RawPingPong<S> {
    /// Starts the echoing thread on `server`.
    pub fn new(client: S, server: S, wait: Wait) -> RawPingPong<S> {
        let server = spawn_echo(server, wait);
        RawPingPong {
            client,
            wait,
            server: Some(server),
        }
    }
}

impl<S: LinkStream> Case for RawPingPong<S> {
    fn run(&mut self, n: usize) -> Duration {
        let mut b = [0u8; 1];
        let start = Instant::now();
        for _ in 0..n {
            self.client.write(&b).expect("raw write");
            assert_eq!(
                read_some(&self.client, &mut b, self.wait).expect("raw read"),
                1
            );
        }
        start.elapsed()
    }
}

impl<S: LinkStream> Drop for RawPingPong<S> {
    fn drop(&mut self) {
        let _ = self.client.shutdown();
        if let Some(h) = self.server.take() {
            let _ = h.join();
        }
    }
}

fn raw_wait(spin: bool) -> Wait {
    if spin {
        Wait::Spin(RAW_SPIN)
    } else {
        Wait::Block
    }
}

/// Raw TCP loopback ping-pong.
pub fn raw_tcp(spin: bool) -> io::Result<RawPingPong<TcpStream>> {
    let (c, s) = tcp_pair()?;
    Ok(RawPingPong::new(c, s, raw_wait(spin)))
}

/// The four threads of a link round trip over TCP, without the link (see
/// [`RawWithReader::both_sides`]), polling as a link does.
pub fn model_tcp() -> io::Result<RawWithReader<TcpStream>> {
    let (c, s) = tcp_pair()?;
    Ok(RawWithReader::both_sides(c, s, LINK_WAIT))
}

/// The same over a socketpair.
pub fn model_unix() -> io::Result<RawWithReader<UnixStream>> {
    let (c, s) = UnixStream::pair()?;
    Ok(RawWithReader::both_sides(c, s, LINK_WAIT))
}

/// How a link's threads wait.
// How long a link polls before it sleeps, by default (`NodeLink::set_spin`).
const LINK_WAIT: Wait = Wait::SpinYield(Duration::from_micros(50));

/// Raw socketpair ping-pong.
pub fn raw_unix(spin: bool) -> io::Result<RawPingPong<UnixStream>> {
    let (c, s) = UnixStream::pair()?;
    Ok(RawPingPong::new(c, s, raw_wait(spin)))
}

/// The answer a server gives to `GetObject` in every benchmark.
pub fn answer_for(req: &GetObject) -> AnswerObject {
    AnswerObject {
        oid: req.oid,
        serial: req.at,
        data_serial: req.before,
        ..Default::default()
    }
}

/// Serves light-mode requests on `link` until it fails: `GetObject` is
/// answered with `answer_for`, `Ping` with `Pong`.
pub fn serve_light(link: &NodeLink) {
    while let Ok(req) = link.recv() {
        let sent = match req.msg() {
            Message::GetObject(g) => req.reply(&answer_for(g)),
            Message::Ping(_) => req.reply(&Pong {}),
            _ => Ok(()),
        };
        if sent.is_err() {
            break;
        }
    }
}

/// The answer a NEO/py server gives to `AskObject`: as `answer_for`.
pub fn answer_for_py(req: &neopy::AskObject) -> neopy::AnswerObject {
    neopy::AnswerObject {
        oid: req.oid,
        serial: req.at.unwrap_or_default(),
        data_serial: req.before,
        ..Default::default()
    }
}

/// Serves light-mode requests on a NEO/py link until it fails: `AskObject`
/// is answered with `answer_for_py`, `Ping` with `Pong`.
pub fn serve_light_py(link: &NodeLink<NeoPy>) {
    while let Ok(req) = link.recv() {
        let sent = match req.msg() {
            neopy::Message::AskObject(a) => req.reply(&answer_for_py(a)),
            neopy::Message::Ping(_) => req.reply(&neopy::Pong {}),
            _ => Ok(()),
        };
        if sent.is_err() {
            break;
        }
    }
}

/// A dialect's object request, for the cases and modes that run in
/// either: a link's dialect is its type, so what differs is chosen by it
/// (at compile time, as the link's own code is).
pub trait AskObjects: Dialect {
    /// Serves light-mode requests on `link` until it fails: objects are
    /// answered as `answer_for` does, `Ping` with `Pong`.
    fn serve(link: &NodeLink<Self>);

    /// Asks object number `i` with `ask1` (`GetObject`, or `AskObject` for
    /// NEO/py) and checks the answer.
    fn ask_object(link: &NodeLink<Self>, i: u64) -> neonet::Result<()>;
}

impl AskObjects for Proto6 {
    fn serve(link: &NodeLink<Proto6>) {
        serve_light(link)
    }

    fn ask_object(link: &NodeLink<Proto6>, i: u64) -> neonet::Result<()> {
        ask_object(link, i)
    }
}

impl AskObjects for NeoPy {
    fn serve(link: &NodeLink<NeoPy>) {
        serve_light_py(link)
    }

    fn ask_object(link: &NodeLink<NeoPy>, i: u64) -> neonet::Result<()> {
        ask_object_py(link, i)
    }
}

/// Asks `AskObject` number `i` with `ask1` over a NEO/py link and checks
/// the answer.
pub fn ask_object_py(link: &NodeLink<NeoPy>, i: u64) -> neonet::Result<()> {
    let req = neopy::AskObject {
        oid: i,
        at: Some(i.wrapping_add(1)),
        before: Some(i.wrapping_add(2)),
    };
    let a: neopy::AnswerObject = link.ask1(&req)?;
    if (a.oid, Some(a.serial), a.data_serial) != (req.oid, req.at, req.before) {
        panic!("answer {a:?} does not match request {req:?}");
    }
    Ok(())
}

/// Asks `GetObject` number `i` with `ask1` and checks the answer.
pub fn ask_object(link: &NodeLink, i: u64) -> neonet::Result<()> {
    let req = GetObject {
        oid: i,
        at: i.wrapping_add(1),
        before: i.wrapping_add(2),
    };
    let a: AnswerObject = link.ask1(&req)?;
    if (a.oid, a.serial, a.data_serial) != (req.oid, req.at, req.before) {
        panic!("answer {a:?} does not match request {req:?}");
    }
    Ok(())
}

/// A client link and a server link, in dialect `D`, with serving threads.
pub struct LinkPair<D: Dialect = Proto6> {
    /// The asking side.
    pub client: NodeLink<D>,
    server: Option<std::sync::Arc<NodeLink<D>>>,
    servers: Vec<JoinHandle<()>>,
}

impl<D: Dialect> LinkPair<D> {
    /// Links over `c`/`s` with `nserve` threads running `serve` on the
    /// server link.
    pub fn new<S, F>(c: S, s: S, nserve: usize, serve: F) -> neonet::Result<LinkPair<D>>
    where
        S: LinkStream,
        F: Fn(&NodeLink<D>) + Clone + Send + 'static,
    {
        let client = NodeLink::new(c, LinkRole::Client)?;
        let server = std::sync::Arc::new(NodeLink::new(s, LinkRole::Server)?);
        let servers = (0..nserve)
            .map(|_| {
                let (server, serve) = (server.clone(), serve.clone());
                thread::spawn(move || serve(&server))
            })
            .collect();
        Ok(LinkPair {
            client,
            server: Some(server),
            servers,
        })
    }

    /// Over TCP loopback.
    pub fn tcp<F>(nserve: usize, serve: F) -> neonet::Result<LinkPair<D>>
    where
        F: Fn(&NodeLink<D>) + Clone + Send + 'static,
    {
        // The machine cannot measure anything without loopback sockets.
        let (c, s) = tcp_pair().expect("a TCP loopback pair");
        LinkPair::new(c, s, nserve, serve)
    }

    /// Over a socketpair.
    pub fn unix<F>(nserve: usize, serve: F) -> neonet::Result<LinkPair<D>>
    where
        F: Fn(&NodeLink<D>) + Clone + Send + 'static,
    {
        let (c, s) = UnixStream::pair().expect("a socketpair");
        LinkPair::new(c, s, nserve, serve)
    }
}

impl<D: Dialect> Drop for LinkPair<D> {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.close();
        }
        for h in self.servers.drain(..) {
            let _ = h.join();
        }
        self.client.close();
    }
}

/// `ask1` of `GetObject` → `AnswerObject` round trips (`AskObject` →
/// `AnswerObject` in NEO/py's dialect).
pub struct Ask1<D: AskObjects = Proto6>(pub LinkPair<D>, u64);

impl Ask1<Proto6> {
    /// Over TCP loopback.
    pub fn tcp() -> neonet::Result<Ask1> {
        Ok(Ask1(LinkPair::tcp(1, serve_light)?, 0))
    }
    /// Over a socketpair.
    pub fn unix() -> neonet::Result<Ask1> {
        Ok(Ask1(LinkPair::unix(1, serve_light)?, 0))
    }
}

impl Ask1<NeoPy> {
    /// Over TCP loopback, in NEO/py's dialect: `AskObject` →
    /// `AnswerObject` over a msgpack link.
    pub fn tcp_msgpack() -> neonet::Result<Ask1<NeoPy>> {
        Ok(Ask1(LinkPair::tcp(1, serve_light_py)?, 0))
    }
}

impl Ask1<Proto6> {
    /// Over TLS over TCP loopback (protocol 6), both ends with `tls`: the
    /// cost of TLS, next to [`Ask1::tcp`].
    pub fn tcp_tls(tls: &neonet::tls::TlsConfig) -> neonet::Result<Ask1> {
        use neonet::tls::TlsStream;
        let limit = Some(Duration::from_secs(10));
        let (c, s) = tcp_pair().expect("a TCP loopback pair");
        let server = {
            let tls = tls.clone();
            thread::spawn(move || TlsStream::accept(s, &tls, limit))
        };
        let client = TlsStream::connect(c, tls, limit)?;
        let server = server.join().expect("the TLS server thread")?;
        Ok(Ask1(LinkPair::new(client, server, 1, serve_light)?, 0))
    }
}

impl<D: AskObjects> Case for Ask1<D> {
    fn run(&mut self, n: usize) -> Duration {
        let start = Instant::now();
        for _ in 0..n {
            self.1 += 1;
            D::ask_object(&self.0.client, self.1).expect("ask1");
        }
        start.elapsed()
    }
}

/// Echoes every packet of the first connection the peer opens.
pub fn serve_echo(link: &NodeLink) {
    let Ok(conn) = link.accept() else { return };
    while let Ok(pkt) = conn.recv_pkt() {
        if conn.send_pkt(pkt).is_err() {
            break;
        }
    }
}

/// Answers every `Ping` of the first connection with a `Pong`.
pub fn serve_pong(link: &NodeLink) {
    let Ok(conn) = link.accept() else { return };
    while let Ok(Message::Ping(_)) = conn.recv() {
        if conn.send(&Pong {}).is_err() {
            break;
        }
    }
}

/// Round trips on one long-lived connection; `round` does one of them.
pub struct OneConn {
    conn: neonet::Conn,
    round: fn(&neonet::Conn),
    _pair: LinkPair,
}

impl OneConn {
    /// `send(Ping)` / `expect::<Pong>()`, against `serve_pong`.
    pub fn ping_pong(pair: LinkPair) -> neonet::Result<OneConn> {
        OneConn::new(pair, |conn| {
            conn.send(&Ping {}).expect("send");
            conn.expect::<Pong>().expect("recv");
        })
    }

    /// `send_pkt` / `recv_pkt` of a small packet, against `serve_echo`.
    pub fn echo(pair: LinkPair) -> neonet::Result<OneConn> {
        OneConn::new(pair, |conn| {
            conn.send_pkt(Packet::new(0, 2, b"12345678")).expect("send");
            conn.recv_pkt().expect("recv");
        })
    }

    fn new(pair: LinkPair, round: fn(&neonet::Conn)) -> neonet::Result<OneConn> {
        let conn = pair.client.new_conn()?;
        Ok(OneConn {
            conn,
            round,
            _pair: pair,
        })
    }
}

impl Case for OneConn {
    fn run(&mut self, n: usize) -> Duration {
        let start = Instant::now();
        for _ in 0..n {
            (self.round)(&self.conn);
        }
        start.elapsed()
    }
}

/// A raw ping-pong whose client side has a dedicated reader thread that
/// hands every byte read to the client over a channel: the cost of the
/// hand-off alone, without any link logic.
pub struct RawWithReader<S: LinkStream> {
    client: std::sync::Arc<S>,
    rx: crossbeam_channel::Receiver<u8>,
    wait: Wait,
    threads: Vec<JoinHandle<()>>,
}

impl<S: LinkStream> RawWithReader<S> {
    /// Starts the echo thread on `server` and the reader thread on `client`.
    pub fn new(client: S, server: S, wait: Wait) -> RawWithReader<S> {
        let echo = spawn_echo(server, wait);
        RawWithReader::with_reader(client, wait, echo)
    }

    /// Like [`RawWithReader::new`], and the server side too has a reader
    /// thread that hands each byte to the echoing thread over a channel:
    /// the four threads of a link round trip (asker, server's reader,
    /// server, asker's reader) with no link logic at all. What it costs
    /// over the raw ping-pong is the floor of a link's round trip.
    pub fn both_sides(client: S, server: S, wait: Wait) -> RawWithReader<S> {
        let server = std::sync::Arc::new(server);
        let (server_reader, rx) = spawn_reader(server.clone(), wait);
        let echo = thread::spawn(move || {
            while let Some(b) = poll_for(wait, || rx.try_recv().ok()).or_else(|| rx.recv().ok()) {
                if server.write(&[b]).is_err() {
                    break;
                }
            }
        });
        let mut this = RawWithReader::with_reader(client, wait, echo);
        this.threads.push(server_reader);
        this
    }

    /// Starts the reader thread on `client`; `server` is the thread(s)
    /// answering.
    fn with_reader(client: S, wait: Wait, server: JoinHandle<()>) -> RawWithReader<S> {
        let client = std::sync::Arc::new(client);
        let (reader, rx) = spawn_reader(client.clone(), wait);
        RawWithReader {
            client,
            rx,
            wait,
            threads: vec![server, reader],
        }
    }
}

/// A thread that reads `stream` byte by byte (polling as `wait` says) and
/// hands each byte over a channel, until EOF or until nobody listens.
fn spawn_reader<S: LinkStream>(
    stream: std::sync::Arc<S>,
    wait: Wait,
) -> (JoinHandle<()>, crossbeam_channel::Receiver<u8>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let reader = thread::spawn(move || {
        let mut b = [0u8; 1];
        while let Ok(1) = read_some(&*stream, &mut b, wait) {
            if tx.send(b[0]).is_err() {
                break;
            }
        }
    });
    (reader, rx)
}

impl<S: LinkStream> Case for RawWithReader<S> {
    fn run(&mut self, n: usize) -> Duration {
        let start = Instant::now();
        for _ in 0..n {
            self.client.write(&[1]).expect("raw write");
            if poll_for(self.wait, || self.rx.try_recv().ok()).is_none() {
                self.rx.recv().expect("reader thread");
            }
        }
        start.elapsed()
    }
}

impl<S: LinkStream> Drop for RawWithReader<S> {
    fn drop(&mut self) {
        let _ = self.client.shutdown();
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
    }
}

/// Serves `GetObject` with an `AnswerObject` carrying `size` bytes of data
/// (the same buffer every time: the server's cost is the link's alone).
pub fn serve_bulk(size: usize) -> impl Fn(&NodeLink) + Clone + Send + 'static {
    move |link: &NodeLink| {
        let mut answer = AnswerObject {
            data: (0..size).map(|i| i as u8).collect(),
            ..Default::default()
        };
        while let Ok(req) = link.recv() {
            let Message::GetObject(g) = req.msg() else {
                continue;
            };
            (answer.oid, answer.serial, answer.data_serial) = (g.oid, g.at, g.before);
            if req.reply(&answer).is_err() {
                break;
            }
        }
    }
}

/// `ask1` of an object of `size` bytes: bulk transfer over a link.
pub struct BulkLink(LinkPair, usize);

impl BulkLink {
    /// Over TCP loopback.
    pub fn tcp(size: usize) -> neonet::Result<BulkLink> {
        Ok(BulkLink(LinkPair::tcp(1, serve_bulk(size))?, size))
    }
}

impl Case for BulkLink {
    fn run(&mut self, n: usize) -> Duration {
        let start = Instant::now();
        for i in 0..n as u64 {
            let req = GetObject {
                oid: i,
                at: 0,
                before: 0,
            };
            let a: AnswerObject = self.0.client.ask1(&req).expect("ask1");
            assert_eq!(a.data.len(), self.1);
        }
        start.elapsed()
    }
}

/// The same bytes over raw TCP: an 8-byte request, `size` bytes back.
pub struct BulkRaw {
    client: TcpStream,
    buf: Vec<u8>,
    server: Option<JoinHandle<()>>,
}

impl BulkRaw {
    /// Over TCP loopback.
    pub fn tcp(size: usize) -> io::Result<BulkRaw> {
        let (c, s) = tcp_pair()?;
        let server = thread::spawn(move || {
            let data: Vec<u8> = (0..size).map(|i| i as u8).collect();
            let mut req = [0u8; 8];
            while io::Read::read_exact(&mut &s, &mut req).is_ok() {
                if io::Write::write_all(&mut &s, &data).is_err() {
                    break;
                }
            }
        });
        Ok(BulkRaw {
            client: c,
            buf: vec![0; size],
            server: Some(server),
        })
    }
}

impl Case for BulkRaw {
    fn run(&mut self, n: usize) -> Duration {
        let start = Instant::now();
        for _ in 0..n {
            io::Write::write_all(&mut &self.client, &[0; 8]).expect("raw write");
            io::Read::read_exact(&mut &self.client, &mut self.buf).expect("raw read");
        }
        start.elapsed()
    }
}

impl Drop for BulkRaw {
    fn drop(&mut self) {
        let _ = self.client.shutdown(std::net::Shutdown::Both);
        if let Some(h) = self.server.take() {
            let _ = h.join();
        }
    }
}

/// `threads` client threads doing `ask1` at once over one link, against
/// `threads` serving threads (at least 2).
pub struct Parallel {
    pair: std::sync::Arc<LinkPair>,
    threads: usize,
}

impl Parallel {
    /// Over a socketpair or TCP loopback.
    pub fn new(threads: usize, tcp: bool) -> neonet::Result<Parallel> {
        let nserve = 2;
        let pair = if tcp {
            LinkPair::tcp(nserve, serve_light)?
        } else {
            LinkPair::unix(nserve, serve_light)?
        };
        Ok(Parallel {
            pair: std::sync::Arc::new(pair),
            threads,
        })
    }
}

impl Case for Parallel {
    /// Runs `n` requests in all, split among the client threads.
    fn run(&mut self, n: usize) -> Duration {
        let per = n.div_ceil(self.threads) as u64;
        let start = Instant::now();
        thread::scope(|s| {
            for t in 0..self.threads as u64 {
                let pair = &self.pair;
                s.spawn(move || {
                    for i in 0..per {
                        ask_object(&pair.client, (t << 40) | i).expect("ask1");
                    }
                });
            }
        });
        start.elapsed()
    }
}
