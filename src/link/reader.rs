//! The reader thread of a link: reads packets with a read-ahead buffer and
//! hands each to its connection's queue, opens the connections the peer
//! initiates, answers packets for closed ones, enforces the memory limits
//! (`limits`), and runs dead-peer detection (`keepalive`).
//!
//! It never blocks on anything but the stream: queues are unbounded
//! channels bounded by the limits (a full connection overflows rather
//! than stalling the others), and replies go through the outbox without
//! blocking. When nothing is readable it polls for a short while, then
//! sleeps in `poll` on the stream and on a waker of its own, with a
//! timeout only if keepalive is on.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use rustix::event::{eventfd, poll, EventfdFlags, PollFd, PollFlags, Timespec};

use super::keepalive::Keepalive;
use super::limits::{cost, Counters, Limits};
use super::table::{AcceptTx, Entry};
use super::{Shared, CLOSED, NO_ACCEPT, REPLY_CLOSED, REPLY_REFUSED};
use crate::conn::ConnState;
use crate::error::ErrorKind;
use crate::packet::{Header, Packet, HEADER_SIZE};
use crate::proto::{self, Msg};
use crate::stream::LinkStream;
use crate::wait;

/// Size of the read-ahead buffer. A packet that fits is read together with
/// its header in one `read`, and several small packets share one `read`.
const READ_AHEAD: usize = 64 * 1024;

/// Spawns the reader thread of a link.
pub(super) fn spawn(
    shared: Arc<Shared>,
    stream: Arc<dyn LinkStream>,
) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("neonet-reader".into())
        .spawn(move || run(&shared, &*stream))
}

/// A waker for the reader's `poll`: an eventfd.
pub(super) fn new_waker() -> io::Result<OwnedFd> {
    Ok(eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?)
}

/// Wakes the reader sleeping in `poll`.
pub(super) fn wake(waker: &OwnedFd) {
    // Fails only if the counter is saturated: the reader is awake then.
    let _ = rustix::io::write(waker, &1u64.to_ne_bytes());
}

fn run(shared: &Shared, stream: &dyn LinkStream) {
    let _guard = DownOnPanic(shared);
    let waker = shared.waker.lock().clone();
    let mut rx = Reader {
        buf: ReadAhead::new(),
        waiter: Waiter {
            keepalive: Keepalive::new(),
            waker,
        },
    };
    let cause = loop {
        match rx.next_packet(shared, stream) {
            Ok(pkt) => route(shared, pkt),
            Err(kind) => break kind,
        }
    };
    // A local close shut the stream down to wake us: that is no failure.
    if !shared.has(CLOSED) {
        shared.go_down(cause, true);
    }
    // Nobody may close this link soon (a listener's backlog): let go of
    // the descriptors now. The stream closes when its last reference, ours
    // included, is dropped.
    shared.stream.lock().take();
    shared.writer.lock().stream = None;
    shared.waker.lock().take();
}

/// Takes the link down if the reader thread panics: without it, a bug in
/// the reader would leave the link up with every `recv` and `accept`
/// blocked forever; with it they fail promptly.
struct DownOnPanic<'a>(&'a Shared);

impl Drop for DownOnPanic<'_> {
    fn drop(&mut self) {
        if thread::panicking() && !self.0.has(CLOSED) {
            let e = io::Error::other("neonet reader thread panicked");
            self.0.go_down(ErrorKind::io(e), true);
        }
    }
}

/// Where a packet goes.
enum Route {
    Deliver(Arc<ConnState>, Sender<Packet>),
    Accept(Arc<ConnState>, Sender<Packet>, AcceptTx),
    Reply(&'static str),
    /// Refused because a limit is reached.
    Refuse,
    /// The answer to a keepalive ping of ours: consumed.
    Consume,
}

/// Hands a packet to its connection, or opens one, or answers the peer.
fn route(shared: &Shared, pkt: Packet) {
    let id = pkt.conn_id();
    let limits = shared.limits.get();
    let route = {
        let mut table = shared.table.lock();
        let ours = table.is_ours(id);
        let full = shared.accept_rx.len() >= limits.accept_backlog
            || table.peer_conns() >= limits.peer_conns;
        let known = match table.get(id) {
            Some(Entry::Live(l)) => Some(match &l.tx {
                Some(tx) => Route::Deliver(l.conn.clone(), tx.clone()),
                None => Route::Reply(REPLY_CLOSED),
            }),
            Some(Entry::Tombstone(_)) => Some(Route::Reply(REPLY_CLOSED)),
            Some(Entry::Ping) => Some(Route::Consume),
            None => None,
        };
        match known {
            Some(Route::Consume) => {
                table.remove_ping(id);
                Route::Consume
            }
            Some(route) => route,
            // Ours but unknown: addressed to a connection that is gone.
            None if ours => Route::Reply(REPLY_CLOSED),
            None if shared.has(NO_ACCEPT) => Route::Reply(REPLY_REFUSED),
            None if full => Route::Refuse,
            None => match table.new_peer_conn(id, shared.recv_timeout.get()) {
                Some((conn, tx, atx)) => Route::Accept(conn, tx, atx),
                None => Route::Reply(REPLY_REFUSED),
            },
        }
    };
    // The table lock is released: waking a receiver may be a syscall.
    match route {
        Route::Deliver(conn, tx) => deliver(shared, &conn, tx, pkt, &limits),
        Route::Accept(conn, tx, atx) => accept(shared, conn, tx, atx, pkt, &limits),
        Route::Reply(text) => shared.reply(id, text),
        Route::Refuse => {
            Counters::bump(&shared.counters.refused);
            log::debug!(
                "neonet {}: conn {id}: refused (limit reached)",
                shared.addrs
            );
            shared.reply(id, REPLY_REFUSED);
        }
        Route::Consume => {}
    }
}

/// Answers `pkt` with one of the link's replies, unless it is an `Error`
/// itself: an answer to an answer tells nothing, and two links that
/// answered each other's "connection closed" would never stop.
fn answer(shared: &Shared, pkt: &Packet, text: &str) {
    if pkt.msg_code() != <proto::Error as Msg>::CODE {
        shared.reply(pkt.conn_id(), text);
    }
}

/// Queues a packet on a live connection, within the limits.
fn deliver(
    shared: &Shared,
    conn: &Arc<ConnState>,
    tx: Sender<Packet>,
    pkt: Packet,
    limits: &Limits,
) {
    let id = pkt.conn_id();
    if conn.is_recv_closed() {
        answer(shared, &pkt, REPLY_CLOSED);
        return;
    }
    if !push(shared, conn, &tx, pkt, limits) {
        drop(tx);
        shared.overflow(conn, "connection queue limit");
        return;
    }
    drop(tx);
    // Receiving may have been closed between the check and the push, after
    // the closer drained the queue: drain it again so nothing is left
    // unanswered in a queue nobody reads.
    if conn.is_recv_closed() && conn.drain(shared) > 0 {
        shared.reply(id, REPLY_CLOSED);
    }
    check_link_limit(shared, limits);
}

/// Queues the first packet of a connection the peer opened, then the
/// connection for `accept`.
fn accept(
    shared: &Shared,
    conn: Arc<ConnState>,
    tx: Sender<Packet>,
    atx: AcceptTx,
    pkt: Packet,
    limits: &Limits,
) {
    // An empty queue always takes a packet.
    push(shared, &conn, &tx, pkt, limits);
    drop(tx);
    // Cannot fail: the link holds the accept queue's receiver.
    let _ = atx.send(conn);
    drop(atx);
    // close_accept may have drained the queue between our check and the
    // send: drain again so nothing stays stuck in it.
    if shared.has(NO_ACCEPT) {
        shared.refuse_queued();
    }
    check_link_limit(shared, limits);
}

/// Counts and queues `pkt` on `conn`, unless that takes the connection
/// over its limit.
fn push(
    shared: &Shared,
    conn: &ConnState,
    tx: &Sender<Packet>,
    pkt: Packet,
    limits: &Limits,
) -> bool {
    let c = cost(&pkt);
    if !conn.admit(c, limits.conn_queue_bytes) {
        return false;
    }
    shared.counters.queued.fetch_add(c, SeqCst);
    // Cannot fail: the connection object holds the receiver.
    let _ = tx.send(pkt);
    true
}

fn check_link_limit(shared: &Shared, limits: &Limits) {
    if shared.counters.queued.load(SeqCst) > limits.link_queue_bytes {
        shared.overflow_largest(limits.link_queue_bytes);
    }
}

/// The reader's state: the read-ahead buffer, and what it needs to wait.
struct Reader {
    buf: ReadAhead,
    waiter: Waiter,
}

/// What the reader needs to wait for bytes: its keepalive timer, its
/// waker.
struct Waiter {
    keepalive: Keepalive,
    waker: Option<Arc<OwnedFd>>,
}

impl Reader {
    /// Reads the next whole packet.
    fn next_packet(
        &mut self,
        shared: &Shared,
        stream: &dyn LinkStream,
    ) -> Result<Packet, ErrorKind> {
        self.fill(shared, stream, HEADER_SIZE)?;
        let b = &self.buf;
        let hdr_bytes = &b.buf[b.start..b.start + HEADER_SIZE];
        let hdr = Header::decode(hdr_bytes.try_into().expect("header size"));
        // Checked before anything of that size is allocated.
        if !hdr.size_ok() {
            return Err(ErrorKind::PacketTooBig {
                size: hdr.packet_size(),
            });
        }
        let size = hdr.packet_size() as usize;
        if size > self.buf.buf.len() {
            return self.read_big(shared, stream, size);
        }
        self.fill(shared, stream, size)?;
        Ok(self.buf.take(size))
    }

    /// Reads until at least `n` bytes are buffered.
    fn fill(
        &mut self,
        shared: &Shared,
        stream: &dyn LinkStream,
        n: usize,
    ) -> Result<(), ErrorKind> {
        while self.buf.len() < n {
            self.buf.make_room(n);
            let b = &mut self.buf;
            b.end += self.waiter.read_some(shared, stream, &mut b.buf[b.end..])?;
        }
        Ok(())
    }

    /// Reads a packet larger than the read-ahead buffer straight into its
    /// own buffer: the payload is copied once, by the kernel.
    fn read_big(
        &mut self,
        shared: &Shared,
        stream: &dyn LinkStream,
        size: usize,
    ) -> Result<Packet, ErrorKind> {
        // A zeroed allocation this large comes fresh from the kernel
        // (calloc → mmap): no memset, and pages are only committed as the
        // kernel copies data into them, so a peer that announces a big
        // packet and sends nothing costs address space, not memory.
        let mut bytes = vec![0u8; size];
        // Everything buffered belongs to this packet: it is larger than the
        // buffer.
        let mut filled = self.buf.len();
        bytes[..filled].copy_from_slice(&self.buf.buf[self.buf.start..self.buf.end]);
        (self.buf.start, self.buf.end) = (0, 0);
        while filled < size {
            filled += self
                .waiter
                .read_some(shared, stream, &mut bytes[filled..])?;
        }
        Ok(Packet::from_wire(bytes))
    }
}

impl Waiter {
    /// Reads at least one byte: polls for a while, then sleeps.
    fn read_some(
        &mut self,
        shared: &Shared,
        stream: &dyn LinkStream,
        dst: &mut [u8],
    ) -> Result<usize, ErrorKind> {
        loop {
            let res = match stream.try_read(dst) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    match self.wait(shared, stream, dst)? {
                        Some(res) => res,
                        None => continue,
                    }
                }
                res => res,
            };
            match res {
                Ok(0) => {
                    return Err(ErrorKind::io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "peer closed the link",
                    )))
                }
                Ok(n) => {
                    self.keepalive.received();
                    return Ok(n);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                    ) => {}
                Err(e) => return Err(ErrorKind::io(e)),
            }
        }
    }

    /// Nothing to read right now: polls for the spin budget, then sleeps
    /// until the stream is readable. Returns the result of a read, or
    /// `None` to try reading again.
    fn wait(
        &mut self,
        shared: &Shared,
        stream: &dyn LinkStream,
        dst: &mut [u8],
    ) -> Result<Option<io::Result<usize>>, ErrorKind> {
        let polled = wait::spin_until(shared.spin(), 0, || match stream.readable() {
            Ok(false) => None,
            Ok(true) => match stream.try_read(dst) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
                res => Some(res),
            },
            Err(e) => Some(Err(e)),
        });
        if polled.is_some() {
            return Ok(polled);
        }
        match (stream.fd(), &self.waker) {
            (Some(fd), Some(waker)) => {
                let waker = waker.clone();
                self.sleep(shared, stream, fd, waker.as_fd())?;
                Ok(None)
            }
            // Cannot poll this stream: block in read (no keepalive).
            _ => Ok(Some(stream.read(dst))),
        }
    }

    /// Sleeps in `poll` until the stream is readable, the waker rings, or
    /// keepalive must act; writes stuck replies when the socket has room.
    fn sleep(
        &mut self,
        shared: &Shared,
        stream: &dyn LinkStream,
        fd: BorrowedFd<'_>,
        waker: BorrowedFd<'_>,
    ) -> Result<(), ErrorKind> {
        let setting = *shared.keepalive.lock();
        let limit = self.keepalive.sleep_limit(setting, Instant::now());
        let stuck = shared.outbox.stuck() || stream.wants_write();
        let ready = poll_two(fd, stuck, waker, limit).map_err(ErrorKind::io)?;
        if ready.waker {
            let mut b = [0u8; 8];
            let _ = rustix::io::read(waker, &mut b);
        }
        if ready.write {
            // The stream's own bytes first: ours come after them.
            stream.flush_own().map_err(ErrorKind::io)?;
            shared.try_flush();
        }
        if !(ready.read || ready.write || ready.waker) {
            self.keepalive.expired(shared, setting, Instant::now())?;
        }
        Ok(())
    }
}

/// What `poll_two` found.
#[derive(Default)]
struct Ready {
    read: bool,
    write: bool,
    waker: bool,
}

/// `poll` on the stream (readable, and writable if `write`) and the waker,
/// for up to `timeout`. Errors and hang-ups of the stream count as
/// readable: the read that follows reports them.
fn poll_two(
    fd: BorrowedFd<'_>,
    write: bool,
    waker: BorrowedFd<'_>,
    timeout: Option<Duration>,
) -> io::Result<Ready> {
    let mut flags = PollFlags::IN;
    if write {
        flags |= PollFlags::OUT;
    }
    let mut fds = [PollFd::new(&fd, flags), PollFd::new(&waker, PollFlags::IN)];
    let ts = timeout.map(|t| Timespec {
        tv_sec: t.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: i64::from(t.subsec_nanos()),
    });
    match poll(&mut fds, ts.as_ref()) {
        Ok(_) => {}
        Err(rustix::io::Errno::INTR) => return Ok(Ready::default()),
        Err(e) => return Err(e.into()),
    }
    let got = fds[0].revents();
    let bad = got.intersects(PollFlags::ERR | PollFlags::HUP | PollFlags::NVAL);
    Ok(Ready {
        read: bad || got.contains(PollFlags::IN),
        write: write && got.contains(PollFlags::OUT),
        waker: fds[1].revents().contains(PollFlags::IN),
    })
}

/// The read-ahead buffer: bytes `start..end` are read but not consumed.
struct ReadAhead {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl ReadAhead {
    fn new() -> ReadAhead {
        ReadAhead {
            buf: vec![0; READ_AHEAD].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    /// Bytes read and not consumed.
    fn len(&self) -> usize {
        self.end - self.start
    }

    /// Makes room for `n` bytes from `start`: moves the partial packet to
    /// the front if it would not fit.
    fn make_room(&mut self, n: usize) {
        if self.start + n > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
    }

    /// Consumes the `size` bytes of a whole packet.
    fn take(&mut self, size: usize) -> Packet {
        let bytes = self.buf[self.start..self.start + size].to_vec();
        self.start += size;
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        Packet::from_wire(bytes)
    }
}
