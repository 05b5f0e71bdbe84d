//! Every call into neonet, in one place: dialing, listening, receiving,
//! answering, streamed answers.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use neonet::neopy::{self, Message};
use neonet::tls::TlsConfig;
use neonet::{
    AnswerStream, Ask, Dialects, Dialer, LinkListener, ListenerOptions, Msg, NeoPy, NodeLink,
    Request, Streamed,
};

/// One link to a peer (the master, or a client).
pub type Link = NodeLink<NeoPy>;

/// A request or notification a peer sent, to answer with [`reply`].
pub type Req = Request<NeoPy>;

/// A link error (neonet's).
pub type NetError = neonet::Error;

/// TLS settings: NEO's `--ca --cert --key`.
pub type Tls = TlsConfig;

/// Time limits set on every link.
#[derive(Debug, Clone, Copy)]
pub struct LinkTimes {
    /// After this long with nothing received, the link pings the peer...
    pub keepalive_idle: Duration,
    /// ...and goes down if nothing comes within this.
    pub keepalive_timeout: Duration,
    /// A write that makes no progress for this long takes the link down.
    pub write: Duration,
    /// Bound on waiting for an answer to our own request.
    pub answer: Duration,
    /// How long the link's waiters poll before sleeping (`None`: neonet's
    /// default).
    pub spin: Option<Duration>,
}

impl Default for LinkTimes {
    fn default() -> LinkTimes {
        LinkTimes {
            keepalive_idle: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(30),
            write: Duration::from_secs(30),
            answer: Duration::from_secs(30),
            spin: None,
        }
    }
}

/// Reads the three PEM files of a TLS node.
pub fn load_tls(ca: &Path, cert: &Path, key: &Path) -> Result<Tls, neonet::tls::TlsError> {
    TlsConfig::from_pem_files(ca, cert, key)
}

/// Dials `addr` in NEO/py's dialect, over TLS when given; `timeout`
/// bounds the connect and the handshakes.
pub fn dial(addr: &str, tls: Option<&Tls>, timeout: Duration) -> Result<Link, NetError> {
    let dialer = Dialer::new(addr).dialect::<NeoPy>().timeout(timeout);
    match tls {
        Some(t) => dialer.tls(t).dial(),
        None => dialer.dial(),
    }
}

/// Sets the time limits of `link`.
pub fn set_times(link: &Link, times: &LinkTimes) {
    link.set_keepalive(Some((times.keepalive_idle, times.keepalive_timeout)));
    // Fails only on a link already down, which the next receive reports.
    let _ = link.set_write_timeout(Some(times.write));
    link.set_recv_timeout(Some(times.answer));
    if let Some(spin) = times.spin {
        link.set_spin(spin);
    }
}

/// Listens on `addr` for NEO/py's dialect only, TLS only when given (as
/// NEO/py).
pub fn listen(addr: &str, tls: Option<&Tls>) -> Result<LinkListener, NetError> {
    let opts = ListenerOptions {
        tls: tls.cloned(),
        dialects: Dialects::NeoPy,
        ..Default::default()
    };
    LinkListener::bind_with(addr, opts)
}

/// The address a listener is bound to.
pub fn local_addr(listener: &LinkListener) -> Option<SocketAddr> {
    listener.local_addr().as_tcp()
}

/// The next link of `listener`; `None` once it is closed.
pub fn accept(listener: &LinkListener) -> Option<Link> {
    loop {
        match listener.accept().map(neonet::AnyLink::into_neopy) {
            Ok(Some(link)) => return Some(link),
            // Not served: the listener refuses protocol 6.
            Ok(None) => {}
            Err(e) if matches!(e.kind(), neonet::ErrorKind::ListenerClosed) => return None,
            Err(e) => log::debug!("accept: {e}"),
        }
    }
}

/// Stops a listener.
pub fn close_listener(listener: &LinkListener) {
    listener.close();
}

/// What waiting for the peer's next packet gave.
#[derive(Debug)]
pub enum Recv {
    /// A request or notification.
    Req(Req),
    /// Nothing within the time given; the link is still up.
    Idle,
    /// The link is closed or down.
    Gone(NetError),
}

/// Waits at most `timeout` for the peer's next request or notification.
pub fn recv(link: &Link, timeout: Duration) -> Recv {
    match link.recv_timeout(timeout) {
        Ok(req) => Recv::Req(req),
        Err(e) if e.is_timeout() && link.is_up() => Recv::Idle,
        Err(e) => Recv::Gone(e),
    }
}

/// Answers `req` with `msg`.
pub fn reply<M: Msg<Dialect = NeoPy>>(req: &Req, msg: &M) -> Result<(), NetError> {
    req.reply(msg)
}

/// Answers `req` with `Error(code, message)`.
pub fn reply_error(req: &Req, code: neopy::ErrorCode, message: String) -> Result<(), NetError> {
    req.reply(&neopy::Error { code, message })
}

/// Sends request `msg` and waits for its answer (bounded by the link's
/// answer time).
pub fn ask<R: Ask<Dialect = NeoPy>>(link: &Link, msg: &R) -> Result<R::Answer, NetError> {
    link.ask1(msg)
}

/// One message of a streamed answer: an item, then the answer.
pub type Item<A> = Streamed<Message, A>;

/// Sends request `msg`, whose answer the peer streams (NEO/py's
/// `AskFetchTransactions`/`AskFetchObjects`: `AddTransaction`/`AddObject`
/// under our msg_id, then the answer); take them in order with
/// [`next_item`].
pub fn ask_stream<R: Ask<Dialect = NeoPy>>(
    link: &Link,
    msg: &R,
) -> Result<AnswerStream<R>, NetError> {
    link.ask_stream(msg)
}

/// The next message of a streamed answer (bounded by the link's answer
/// time).
pub fn next_item<R: Ask<Dialect = NeoPy>>(
    stream: &mut AnswerStream<R>,
) -> Result<Item<R::Answer>, NetError> {
    stream.recv()
}

/// Sends `msg` under `req`'s msg_id, before its answer (a streamed
/// answer).
pub fn send_under<M: Msg<Dialect = NeoPy>>(req: &Req, msg: &M) -> Result<(), NetError> {
    req.send(msg)
}

/// Sends notification `msg`, with our next msg_id.
pub fn send<M: Msg<Dialect = NeoPy>>(link: &Link, msg: &M) -> Result<(), NetError> {
    link.send1(msg)
}

/// Closes `link` (what was sent is written first).
pub fn close(link: &Link) {
    link.close();
}

/// Whether `link` is still up.
pub fn is_up(link: &Link) -> bool {
    link.is_up()
}

/// The peer's address, for logs.
pub fn peer(link: &Link) -> String {
    link.addrs().peer.to_string()
}

/// Whether `e` is the peer's `Error` answer, and its code and message.
pub fn peer_error(e: &NetError) -> Option<(neopy::ErrorCode, &str)> {
    e.peer_error()
}

/// `e` with its causes (neonet's `Display` says what failed, its
/// `source()` why: "dial: I/O error: Connection refused").
pub fn describe(e: &NetError) -> String {
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// A client link without threads, for the load benchmark: one blocking
/// socket, on which each request is written and its answer read by the
/// asking thread itself. A [`Link`] hands every packet from its reader
/// thread to the receiver, two thread wake-ups per round trip on each
/// side; with several loading threads on few cores, that CPU is taken
/// from the storage measured. Plain TCP only; it answers the storage's
/// `Ping` and drops its other notifications (a client that only loads
/// gets none).
#[derive(Debug)]
pub struct BlockingLink {
    stream: std::net::TcpStream,
    /// Bytes read and not yet taken: `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    out: Vec<u8>,
    next_id: u32,
    scanner: neopy::Scanner,
}

/// Size of a [`BlockingLink`]'s read buffer: a small answer comes in one
/// read.
const BLOCKING_READ: usize = 64 * 1024;

impl BlockingLink {
    /// Connects to `addr` (within `timeout`) and exchanges NEO/py's
    /// handshake.
    pub fn dial(addr: &str, timeout: Duration) -> std::io::Result<BlockingLink> {
        use std::io::{Error, ErrorKind, Read, Write};
        use std::net::ToSocketAddrs;
        let sa = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "no address"))?;
        let mut stream = std::net::TcpStream::connect_timeout(&sa, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.write_all(&neopy::HANDSHAKE)?;
        let mut peer = [0u8; neopy::HANDSHAKE.len()];
        stream.read_exact(&mut peer)?;
        // Six bytes read: the handshake is whole, ours or not.
        if let Err(e) = neopy::check_handshake(&peer) {
            return Err(Error::new(ErrorKind::InvalidData, e));
        }
        Ok(BlockingLink {
            stream,
            buf: vec![0; BLOCKING_READ],
            start: 0,
            end: 0,
            out: Vec::new(),
            next_id: 0,
            scanner: neopy::Scanner::new(),
        })
    }

    /// Sends request `msg` and reads until its answer.
    pub fn ask<R: Ask<Dialect = NeoPy>>(&mut self, msg: &R) -> std::io::Result<R::Answer> {
        use std::io::{Error, ErrorKind, Write};
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.out.clear();
        neonet::encode_packet(&mut self.out, id, msg);
        self.stream.write_all(&self.out)?;
        loop {
            let head = self.next_packet()?;
            let packet = &self.buf[self.start..self.start + head.len];
            self.start += head.len;
            if head.msg_id == id && head.is_answer() {
                let payload = neonet::Payload::Bytes(&packet[head.args_offset..]);
                return <R::Answer as neonet::Answer<NeoPy>>::from_answer(head.code, payload)
                    .map_err(|e| Error::new(ErrorKind::InvalidData, e));
            }
            if head.code == <neopy::Ping as Msg>::CODE {
                self.out.clear();
                neonet::encode_packet(&mut self.out, head.msg_id, &neopy::Pong {});
                self.stream.write_all(&self.out)?;
            }
        }
    }

    /// Reads until the buffer holds a whole packet from `start`.
    fn next_packet(&mut self) -> std::io::Result<neopy::PacketHead> {
        use std::io::{Error, ErrorKind, Read};
        loop {
            let need = match self.scanner.scan(&self.buf[self.start..self.end]) {
                Ok(neopy::Scan::Complete(head)) => return Ok(head),
                Ok(neopy::Scan::Incomplete { need }) => need,
                Err(e) => return Err(Error::new(ErrorKind::InvalidData, e)),
            };
            // The packet's first bytes to the front (usually none: the
            // last answer was all that had come).
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if need > self.buf.len() {
                self.buf.resize(need, 0);
            }
            match self.stream.read(&mut self.buf[self.end..])? {
                0 => return Err(Error::new(ErrorKind::UnexpectedEof, "the peer closed")),
                n => self.end += n,
            }
        }
    }
}
