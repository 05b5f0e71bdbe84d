//! LinkListener: accepts links over TCP or a Unix socket, in either
//! dialect: each client's first byte tells which (see
//! `AnyLink::handshake_as_server`), so protocol 6 and NEO/py clients share
//! one port, and `link.dialect()` says which one a link speaks. With TLS
//! configured, the first byte on the socket tells TLS (`0x16`) from plain,
//! and the first byte of the plaintext the dialect (ARCHITECTURE.md,
//! "TLS").
//!
//! An acceptor thread takes incoming streams and handshakes each one in a
//! thread of its own, so a client that connects and says nothing delays
//! nobody. What a flood of clients can make us hold is bounded:
//!
//! - handshakes in progress are bounded in time and in number: past
//!   `max_pending`, a new client *displaces* the oldest pending one (whose
//!   stream is shut down), so silent clients cannot starve real ones;
//! - links that passed the handshake wait for `accept` in a backlog of at
//!   most `backlog`; a stream that comes while it is full is closed at
//!   once;
//! - a backlogged link whose peer hung up lets go of its reader thread and
//!   descriptor by itself (the link's reader does that when it ends), and
//!   is dropped from the backlog when room is needed or on `accept`.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

use crate::addr::Addr;
use crate::error::{Error, ErrorKind, Op, Result};
use crate::handshake::{AnyLink, Dialects};
#[cfg(doc)]
use crate::tls::TlsError;
use crate::tls::TlsSocket;
#[cfg(feature = "tls")]
use crate::tls::{accept_any, TlsConfig};
use crate::wait::Sleepers;

/// Default bound on the handshake of an incoming stream.
pub(crate) const DEFAULT_LISTEN_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Default cap on handshakes running at once.
pub(crate) const DEFAULT_MAX_PENDING: usize = 64;

/// Default cap on links that passed the handshake and wait for `accept`.
pub(crate) const DEFAULT_BACKLOG: usize = 128;

/// Settings of a listener. Build them from the default, so that settings
/// added later keep their default:
/// `ListenerOptions { backlog: 16, ..Default::default() }`.
///
/// ```no_run
/// use neonet::tls::TlsConfig;
/// use neonet::{LinkListener, ListenerOptions};
///
/// // TLS required (NEO's --ca --cert --key), both dialects inside it.
/// let tls = TlsConfig::from_pem_files("ca.crt", "node.crt", "node.key")?;
/// let opts = ListenerOptions { tls: Some(tls), ..Default::default() };
/// let listener = LinkListener::bind_with("0.0.0.0:5551", opts)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ListenerOptions {
    /// Bound on the handshake of each incoming stream.
    pub handshake_timeout: Duration,
    /// Cap on handshakes running at once; past it, a new client displaces
    /// the oldest pending one.
    pub max_pending: usize,
    /// Cap on links that passed the handshake and wait for `accept`; a
    /// stream that comes while it is full is closed at once.
    pub backlog: usize,
    /// TLS: with a configuration, a client must start TLS (its first byte
    /// is `0x16`), and NEO's handshake runs inside, in either dialect; a
    /// plain client is refused ([`TlsError::PlainClient`], counted as a
    /// failed handshake and logged) unless `allow_plain`. The TLS
    /// handshake is bounded by `handshake_timeout` and ended by `close`
    /// as any other. Without (the default), a TLS client is refused
    /// ([`TlsError::TlsClient`]).
    #[cfg(feature = "tls")]
    pub tls: Option<TlsConfig>,
    /// With `tls`: serve plain clients too, on the same port (a cluster
    /// moving to TLS). Off by default: NEO refuses them.
    #[cfg(feature = "tls")]
    pub allow_plain: bool,
    /// The dialects served: both by default, told apart by each client's
    /// first byte; one only, and a client of the other fails its
    /// handshake (counted as a failed handshake and logged).
    pub dialects: Dialects,
}

impl Default for ListenerOptions {
    fn default() -> ListenerOptions {
        ListenerOptions {
            handshake_timeout: DEFAULT_LISTEN_HANDSHAKE_TIMEOUT,
            max_pending: DEFAULT_MAX_PENDING,
            backlog: DEFAULT_BACKLOG,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            allow_plain: false,
            dialects: Dialects::default(),
        }
    }
}

/// Counters of a listener.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListenerStats {
    /// Links that passed the handshake.
    pub handshaked: u64,
    /// Accepted streams dropped because their handshake failed (not those
    /// displaced).
    pub failed: u64,
    /// Pending handshakes ended to make room for a newer client.
    pub displaced: u64,
    /// Streams closed at once, or links dropped after their handshake,
    /// because the backlog was full.
    pub rejected: u64,
}

/// The links a listener accepts (see [`LinkListener::incoming`]).
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a LinkListener,
}

impl Iterator for Incoming<'_> {
    type Item = AnyLink;

    fn next(&mut self) -> Option<AnyLink> {
        // `accept` fails only once the listener is closed.
        self.listener.accept().ok()
    }
}

/// The listening socket.
enum Socket {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

/// An accepted stream, not yet handshaked.
enum Accepted {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Accepted {
    /// A second handle on the same socket, to shut the handshake down from
    /// `close`.
    fn try_clone(&self) -> io::Result<Accepted> {
        Ok(match self {
            Accepted::Tcp(s) => Accepted::Tcp(s.try_clone()?),
            Accepted::Unix(s) => Accepted::Unix(s.try_clone()?),
        })
    }

    fn shutdown(&self) {
        let _ = match self {
            Accepted::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            Accepted::Unix(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }

    /// The handshakes of a client, TLS (if `tls`) then NEO's, by
    /// `timeout`.
    fn handshake(self, timeout: Duration, tls: &TlsOptions, dialects: Dialects) -> Result<AnyLink> {
        fn go<S: TlsSocket>(
            s: S,
            t: Duration,
            tls: &TlsOptions,
            dialects: Dialects,
        ) -> Result<AnyLink> {
            #[cfg(feature = "tls")]
            if let Some(config) = &tls.config {
                return accept_any(s, config, tls.allow_plain, Some(t), dialects);
            }
            let _ = tls;
            AnyLink::handshake_as_server(s, Some(t), dialects)
        }
        match self {
            Accepted::Tcp(s) => go(s, timeout, tls, dialects),
            Accepted::Unix(s) => go(s, timeout, tls, dialects),
        }
    }
}

/// A listener's TLS settings (nothing without the `tls` feature).
#[derive(Default)]
struct TlsOptions {
    #[cfg(feature = "tls")]
    config: Option<TlsConfig>,
    #[cfg(feature = "tls")]
    allow_plain: bool,
}

impl TlsOptions {
    fn of(opts: &ListenerOptions) -> TlsOptions {
        let _ = opts;
        TlsOptions {
            #[cfg(feature = "tls")]
            config: opts.tls.clone(),
            #[cfg(feature = "tls")]
            allow_plain: opts.allow_plain,
        }
    }
}

/// A handshake in progress.
struct Pending {
    /// Shut down on `close` so the handshake ends at once.
    stream: Accepted,
    thread: JoinHandle<()>,
}

/// State shared by the listener, its acceptor and handshake threads.
struct Inner {
    socket: Socket,
    addr: Addr,
    closed: AtomicBool,
    handshake_timeout: Duration,
    max_pending: usize,
    backlog: usize,
    tls: TlsOptions,
    dialects: Dialects,
    /// Handshakes in progress, oldest first (ids increase).
    pending: Mutex<BTreeMap<u64, Pending>>,
    /// Threads of finished or displaced handshakes, to be joined. A
    /// finished handshake drops its `Pending` at once: the second handle on
    /// its socket must not outlive the handshake, or the link's peer would
    /// not see the link close.
    finished: Mutex<Vec<JoinHandle<()>>>,
    /// The backlog: links that passed the handshake, waiting for `accept`.
    /// Its lock orders the check of its size with the send, so that it
    /// never grows past `backlog`.
    links_tx: Mutex<Sender<AnyLink>>,
    links_rx: Receiver<AnyLink>,
    handshaked: AtomicU64,
    failed: AtomicU64,
    displaced: AtomicU64,
    rejected: AtomicU64,
}

/// Listens for links and hands out those that passed the handshake.
///
/// Handshakes run in the background, so a client that says nothing delays
/// nobody; what a flood of clients can make it hold is bounded
/// ([`ListenerOptions`]).
///
/// ```
/// use neonet::{AnyLink, Dialer, LinkListener};
/// use neonet::proto::{Message, Ping};
///
/// let listener = LinkListener::bind("127.0.0.1:0")?; // port 0: any free one
/// let client = Dialer::new(listener.local_addr()).dial()?;
/// let AnyLink::Proto6(server) = listener.accept()? else { unreachable!() };
/// client.send1(&Ping {})?;
/// assert_eq!(server.recv()?.msg(), &Message::Ping(Ping {}));
/// # Ok::<(), neonet::Error>(())
/// ```
pub struct LinkListener {
    inner: Arc<Inner>,
    /// Dropped on close: wakes blocked `accept`s.
    close_tx: Mutex<Option<Sender<()>>>,
    close_rx: Receiver<()>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
    /// Threads asleep in `accept` (counted for the tests only).
    accept_sleepers: Sleepers,
}

impl LinkListener {
    /// Listens on a TCP address (port 0 picks a free port).
    pub fn bind(addr: impl ToSocketAddrs) -> Result<LinkListener> {
        LinkListener::bind_with(addr, ListenerOptions::default())
    }

    /// Listens on a Unix socket at `path` (removed again on close).
    pub fn bind_unix(path: impl AsRef<Path>) -> Result<LinkListener> {
        LinkListener::bind_unix_with(path, ListenerOptions::default())
    }

    /// Listens on a TCP address for TLS links only (both dialects inside
    /// TLS): [`bind_with`](Self::bind_with) with
    /// [`ListenerOptions::tls`] set.
    ///
    /// ```no_run
    /// use neonet::tls::TlsConfig;
    /// use neonet::LinkListener;
    ///
    /// let tls = TlsConfig::from_pem_files("ca.crt", "node.crt", "node.key")?;
    /// let listener = LinkListener::bind_tls("0.0.0.0:5551", &tls)?;
    /// for link in listener.incoming() {
    ///     println!("{} speaks {}", link.addrs().peer, link.dialect_name());
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn bind_tls(addr: impl ToSocketAddrs, tls: &TlsConfig) -> Result<LinkListener> {
        let opts = ListenerOptions {
            tls: Some(tls.clone()),
            ..Default::default()
        };
        LinkListener::bind_with(addr, opts)
    }

    /// Like [`bind`](Self::bind), with options.
    pub fn bind_with(addr: impl ToSocketAddrs, opts: ListenerOptions) -> Result<LinkListener> {
        let addrs: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|e| listen_err(Addr::Unknown, e))?
            .collect();
        let first = addrs.first().map_or(Addr::Unknown, |a| Addr::Tcp(*a));
        let l = TcpListener::bind(&addrs[..]).map_err(|e| listen_err(first.clone(), e))?;
        let addr = Addr::Tcp(l.local_addr().map_err(|e| listen_err(first, e))?);
        LinkListener::start(Socket::Tcp(l), addr, opts)
    }

    /// Like [`bind_unix`](Self::bind_unix), with options.
    pub fn bind_unix_with(path: impl AsRef<Path>, opts: ListenerOptions) -> Result<LinkListener> {
        let path = path.as_ref().to_path_buf();
        let addr = Addr::from(path.clone());
        let l = UnixListener::bind(&path).map_err(|e| listen_err(addr.clone(), e))?;
        LinkListener::start(Socket::Unix(l, path), addr, opts)
    }

    fn start(socket: Socket, addr: Addr, opts: ListenerOptions) -> Result<LinkListener> {
        let (links_tx, links_rx) = crossbeam_channel::unbounded();
        let (close_tx, close_rx) = crossbeam_channel::bounded(0);
        let inner = Arc::new(Inner {
            socket,
            addr,
            closed: AtomicBool::new(false),
            handshake_timeout: opts.handshake_timeout,
            max_pending: opts.max_pending.max(1),
            backlog: opts.backlog.max(1),
            tls: TlsOptions::of(&opts),
            dialects: opts.dialects,
            pending: Mutex::new(BTreeMap::new()),
            finished: Mutex::new(Vec::new()),
            links_tx: Mutex::new(links_tx),
            links_rx,
            handshaked: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            displaced: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        });
        let acceptor = {
            let inner = inner.clone();
            thread::Builder::new()
                .name("neonet-acceptor".into())
                .spawn(move || inner.run_acceptor())
        }
        .map_err(|e| listen_err(inner.addr.clone(), e))?;
        Ok(LinkListener {
            inner,
            close_tx: Mutex::new(Some(close_tx)),
            close_rx,
            acceptor: Mutex::new(Some(acceptor)),
            accept_sleepers: Sleepers::default(),
        })
    }

    /// The address we listen on (with the actual port if bound to port 0).
    pub fn local_addr(&self) -> &Addr {
        &self.inner.addr
    }

    /// Blocks until a link passed the handshake and returns it (one whose
    /// peer hung up meanwhile is skipped). After `close` it fails with
    /// `ListenerClosed`.
    pub fn accept(&self) -> Result<AnyLink> {
        loop {
            if self.inner.closed.load(SeqCst) {
                return Err(self.err(ErrorKind::ListenerClosed));
            }
            let asleep = self.accept_sleepers.enter();
            let link = crossbeam_channel::select! {
                recv(self.inner.links_rx) -> link => link.map_err(|_| self.err(ErrorKind::ListenerClosed))?,
                recv(self.close_rx) -> _ => return Err(self.err(ErrorKind::ListenerClosed)),
            };
            drop(asleep);
            if link.is_up() {
                return Ok(link);
            }
        }
    }

    /// The links that pass the handshake, as they come: `accept` in a loop,
    /// ending when the listener is closed.
    ///
    /// ```no_run
    /// use neonet::{AnyLink, LinkListener};
    ///
    /// let listener = LinkListener::bind("127.0.0.1:5551")?;
    /// for link in listener.incoming() {
    ///     let AnyLink::Proto6(link) = link else { continue };
    ///     std::thread::spawn(move || {
    ///         while let Ok(req) = link.recv() {
    ///             // serve req
    /// #           drop(req);
    ///         }
    ///     });
    /// }
    /// # Ok::<(), neonet::Error>(())
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// Test hook (feature `test-hooks`): threads in `accept` (or its
    /// iterator) waiting for a link.
    #[cfg(feature = "test-hooks")]
    pub fn blocked_accepts(&self) -> usize {
        self.accept_sleepers.count()
    }

    /// Handshake counters.
    pub fn stats(&self) -> ListenerStats {
        ListenerStats {
            handshaked: self.inner.handshaked.load(SeqCst),
            failed: self.inner.failed.load(SeqCst),
            displaced: self.inner.displaced.load(SeqCst),
            rejected: self.inner.rejected.load(SeqCst),
        }
    }

    /// Stops listening: wakes blocked `accept`s, ends handshakes in
    /// progress, closes links accepted but not taken, and joins every
    /// thread of the listener. Idempotent.
    pub fn close(&self) {
        self.stop_acceptor();
        drop(self.close_tx.lock().take());
        for link in self.inner.links_rx.try_iter() {
            drop(link);
        }
        if let Socket::Unix(_, path) = &self.inner.socket {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Stops the acceptor and every handshake thread, and joins them.
    fn stop_acceptor(&self) {
        let mut acceptor = self.acceptor.lock();
        self.inner.closed.store(true, SeqCst);
        // Shutting a listening socket down wakes a thread blocked in accept.
        let _ = match &self.inner.socket {
            Socket::Tcp(l) => shutdown_read(l),
            Socket::Unix(l, _) => shutdown_read(l),
        };
        if let Some(h) = acceptor.take() {
            let _ = h.join();
        }
        let pending: Vec<Pending> = std::mem::take(&mut *self.inner.pending.lock())
            .into_values()
            .collect();
        for p in &pending {
            p.stream.shutdown();
        }
        for p in pending {
            let _ = p.thread.join();
        }
        self.inner.join_finished();
    }

    fn err(&self, kind: ErrorKind) -> Error {
        Error::at(self.inner.addr.clone(), Addr::Unknown, Op::Accept, kind)
    }
}

fn shutdown_read(fd: impl AsFd) -> io::Result<()> {
    Ok(rustix::net::shutdown(fd, rustix::net::Shutdown::Read)?)
}

fn listen_err(addr: Addr, e: io::Error) -> Error {
    Error::at(addr, Addr::Unknown, Op::Listen, ErrorKind::io(e))
}

impl Drop for LinkListener {
    fn drop(&mut self) {
        self.close();
    }
}

impl fmt::Debug for LinkListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkListener")
            .field("addr", &self.inner.addr)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Inner {
    fn run_acceptor(self: &Arc<Self>) {
        let mut next_id = 0u64;
        while !self.closed.load(SeqCst) {
            let incoming = match &self.socket {
                Socket::Tcp(l) => l.accept().map(|(s, _)| {
                    // Best effort: a link works without it, only slower.
                    let _ = s.set_nodelay(true);
                    Accepted::Tcp(s)
                }),
                Socket::Unix(l, _) => l.accept().map(|(s, _)| Accepted::Unix(s)),
            };
            match incoming {
                Ok(s) if !self.closed.load(SeqCst) => {
                    self.join_finished();
                    if self.backlog_full() {
                        // Closed at once: nothing of it is kept.
                        self.rejected.fetch_add(1, SeqCst);
                        log::debug!("neonet listener {}: backlog full, stream closed", self.addr);
                        continue;
                    }
                    self.make_room();
                    self.start_handshake(next_id, s);
                    next_id += 1;
                }
                Ok(_) => break,
                Err(e) if self.closed.load(SeqCst) => drop(e),
                // Transient (EMFILE, ECONNABORTED, ...): back off a little.
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// Whether the backlog is full, after dropping the links in it whose
    /// peer hung up (only then: it costs a pass over the backlog).
    fn backlog_full(&self) -> bool {
        let tx = self.links_tx.lock();
        if self.links_rx.len() < self.backlog {
            return false;
        }
        // Taken out and put back in order, without the dead ones. Under the
        // sender's lock, so no handshake adds one meanwhile; an `accept`
        // taking one only makes room.
        let links: Vec<AnyLink> = self.links_rx.try_iter().collect();
        for link in links {
            if link.is_up() {
                let _ = tx.send(link);
            }
        }
        self.links_rx.len() >= self.backlog
    }

    /// With `max_pending` handshakes running, ends the oldest one: a new
    /// client must not wait behind silent ones.
    fn make_room(&self) {
        let mut pending = self.pending.lock();
        if pending.len() < self.max_pending {
            return;
        }
        if let Some((_, oldest)) = pending.pop_first() {
            oldest.stream.shutdown();
            self.finished.lock().push(oldest.thread);
            self.displaced.fetch_add(1, SeqCst);
            log::debug!(
                "neonet listener {}: oldest pending handshake displaced",
                self.addr
            );
        }
    }

    fn join_finished(&self) {
        let finished = std::mem::take(&mut *self.finished.lock());
        for h in finished {
            let _ = h.join();
        }
    }

    fn start_handshake(self: &Arc<Self>, id: u64, stream: Accepted) {
        let Ok(clone) = stream.try_clone() else {
            self.failed.fetch_add(1, SeqCst);
            return;
        };
        // Registered before the thread starts, so it is found when it ends.
        let mut pending = self.pending.lock();
        let inner = self.clone();
        let spawned = thread::Builder::new()
            .name("neonet-handshake".into())
            .spawn(move || inner.handshake(id, stream));
        match spawned {
            Ok(h) => {
                pending.insert(
                    id,
                    Pending {
                        stream: clone,
                        thread: h,
                    },
                );
            }
            Err(_) => {
                self.failed.fetch_add(1, SeqCst);
            }
        }
    }

    fn handshake(&self, id: u64, stream: Accepted) {
        let res = stream.handshake(self.handshake_timeout, &self.tls, self.dialects);
        // Unregister before handing the link out: `close` shuts down the
        // streams of pending handshakes through their second handle, which
        // would kill a link already given to the user. The pending lock
        // also orders us after our registration; if `close` took the entry
        // already, it joins us itself.
        let ours = match self.pending.lock().remove(&id) {
            Some(p) => {
                self.finished.lock().push(p.thread);
                true
            }
            // Displaced, or the listener is closing: not a failure of the
            // client's.
            None => false,
        };
        match res {
            Ok(link) if !self.closed.load(SeqCst) => {
                self.handshaked.fetch_add(1, SeqCst);
                self.queue_link(link);
            }
            Ok(_) => {}
            Err(e) if ours => {
                self.failed.fetch_add(1, SeqCst);
                log::info!("neonet listener {}: handshake failed: {e}", self.addr);
            }
            Err(_) => {}
        }
    }

    /// Puts a link that passed the handshake in the backlog, or closes it
    /// if the backlog is full.
    fn queue_link(&self, link: AnyLink) {
        let tx = self.links_tx.lock();
        if self.links_rx.len() >= self.backlog {
            drop(tx);
            self.rejected.fetch_add(1, SeqCst);
            log::debug!("neonet listener {}: backlog full, link closed", self.addr);
            return;
        }
        let _ = tx.send(link);
    }
}
