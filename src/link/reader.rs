//! The reader thread of a link: reads packets with a read-ahead buffer,
//! asks the link's codec where each ends (`codec::Framer`: either dialect)
//! and hands each to `route`, which queues it on its connection, opens the
//! connections the peer initiates, answers packets for closed ones and
//! enforces the memory limits (`limits`); runs dead-peer detection
//! (`keepalive`).
//!
//! It never blocks on anything but the stream: queues are unbounded
//! channels bounded by the limits (a full connection overflows rather
//! than stalling the others), and replies go through the outbox without
//! blocking. When nothing is readable it polls for a short while, then
//! sleeps in `poll` on the stream and on a waker of its own, with a
//! timeout only if keepalive is on.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rustix::event::{eventfd, EventfdFlags, PollFd, PollFlags};

use super::keepalive::Keepalive;
use super::route::route;
use super::{Shared, CLOSED};
use crate::codec::wire::Wire;
use crate::codec::Framed;
use crate::error::ErrorKind;
use crate::packet::{Head, Packet};
use crate::stream::{poll_fds, readable_in, LinkStream};
use crate::wait;

/// Size of the read-ahead buffer. A packet that fits is read together with
/// its header in one `read`, and several small packets share one `read`.
const READ_AHEAD: usize = 64 * 1024;

/// Spawns the reader thread of a link.
pub(super) fn spawn<W: Wire>(
    shared: Arc<Shared>,
    stream: Arc<dyn LinkStream>,
) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("neonet-reader".into())
        .spawn(move || run::<W>(&shared, &*stream))
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

/// The reader thread of a link of dialect `W`: everything it does per
/// packet is monomorphised for the dialect (no dispatch).
fn run<W: Wire>(shared: &Shared, stream: &dyn LinkStream) {
    let _guard = DownOnPanic(shared);
    let waker = shared.waker.lock().clone();
    let mut rx = Reader::<W> {
        buf: ReadAhead::new(),
        framer: W::Framer::default(),
        waiter: Waiter {
            keepalive: Keepalive::new(),
            waker,
            drained: false,
        },
    };
    let cause = loop {
        match rx.next_packet(shared, stream) {
            Ok(pkt) => route::<W>(shared, pkt),
            Err(kind) => break kind,
        }
    };
    shared.waker.lock().take();
    // A local close shut the stream down to wake us, or is writing what
    // was promised (the peer may have stopped sending but still read):
    // that is no failure, and `close` lets go of everything itself.
    if shared.has(CLOSED) {
        return;
    }
    shared.go_down(cause, true);
    // Nobody may close this link soon (a listener's backlog): let go of
    // the descriptors now (the stream closes when its last reference, ours
    // included, is dropped). The stream is shut down, so a sender blocked
    // in write returns and lets go of the writer soon.
    shared.shut_down_stream();
    shared.writer.lock().stream = None;
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

/// The reader's state: the read-ahead buffer, the codec that finds where
/// packets end in it, and what it needs to wait.
struct Reader<W: Wire> {
    buf: ReadAhead,
    framer: W::Framer,
    waiter: Waiter,
}

/// What the reader needs to wait for bytes: its keepalive timer, its
/// waker, and whether its last read emptied the stream.
struct Waiter {
    keepalive: Keepalive,
    waker: Option<Arc<OwnedFd>>,
    /// The last read took everything there was (`short_read_drains`): the
    /// next one waits first. In a request-answer exchange the next packet
    /// comes a round trip later, and a read tried at once would only say
    /// `WouldBlock`.
    drained: bool,
}

impl<W: Wire> Reader<W> {
    /// Reads the next whole packet. The codec says where it ends, or how
    /// long it is at least; a read fetches all that is there, so a packet
    /// usually takes one read (and several small ones share it).
    fn next_packet(
        &mut self,
        shared: &Shared,
        stream: &dyn LinkStream,
    ) -> Result<Packet, ErrorKind> {
        loop {
            match W::frame(&mut self.framer, self.buf.bytes())? {
                Framed::Whole { len, head } => return Ok(self.buf.take(len, head)),
                Framed::Need(n) if n > self.buf.buf.len() => {
                    return self.read_big(shared, stream, n)
                }
                Framed::Need(n) => self.fill(shared, stream, n)?,
            }
        }
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
    /// own buffer: the payload is copied once, by the kernel. `need` is
    /// its size, or a least size (a msgpack packet whose last lengths are
    /// still to come): the buffer grows to what the codec says next, and
    /// never past the packet's end, so nothing of the next packet is read
    /// into it.
    fn read_big(
        &mut self,
        shared: &Shared,
        stream: &dyn LinkStream,
        need: usize,
    ) -> Result<Packet, ErrorKind> {
        // A zeroed allocation this large comes fresh from the kernel
        // (calloc → mmap): no memset, and pages are only committed as the
        // kernel copies data into them, so a peer that announces a big
        // packet and sends nothing costs address space, not memory. The
        // codec refused what is over MAX_PACKET_SIZE before we got here.
        let mut bytes = vec![0u8; need];
        // Everything buffered belongs to this packet: it is larger than the
        // buffer.
        let mut filled = self.buf.len();
        bytes[..filled].copy_from_slice(self.buf.bytes());
        (self.buf.start, self.buf.end) = (0, 0);
        loop {
            while filled < bytes.len() {
                filled += self
                    .waiter
                    .read_some(shared, stream, &mut bytes[filled..])?;
            }
            match W::frame(&mut self.framer, &bytes)? {
                Framed::Whole { len, head } => {
                    debug_assert_eq!(len, bytes.len(), "read past the packet's end");
                    return Ok(Packet::framed(bytes, head));
                }
                Framed::Need(n) => bytes.resize(n, 0),
            }
        }
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
            let res = match self.drained {
                true => None,
                false => match stream.try_read(dst) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
                    res => Some(res),
                },
            };
            self.drained = false;
            let res = match res {
                Some(res) => res,
                None => match self.wait(shared, stream, dst)? {
                    Some(res) => res,
                    None => continue,
                },
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
                    self.drained = n < dst.len() && stream.short_read_drains();
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
        // The lock and the clock only with keepalive on: this runs every
        // time the reader goes to sleep.
        let setting = shared.keepalive();
        let limit = match setting {
            Some(_) => self.keepalive.sleep_limit(setting, Instant::now()),
            None => self.keepalive.off(),
        };
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
    poll_fds(&mut fds, timeout)?;
    let got = fds[0].revents();
    Ok(Ready {
        read: readable_in(got),
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

    /// The bytes read and not consumed.
    fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.end]
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
    fn take(&mut self, size: usize, head: Head) -> Packet {
        let pkt = Packet::framed_copy(&self.buf[self.start..], size, head);
        self.start += size;
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        pkt
    }
}
