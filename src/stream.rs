//! The byte stream a link runs over.
//!
//! A link reads from one thread (its reader) while senders write from
//! others, so every operation takes `&self`, like `&TcpStream` does.
//! [`LinkStream`] is sealed: a wrong implementation (a `try_read` that
//! blocks, a `readable` that lies, a `finish` that keeps bytes) would hang
//! or corrupt a link, so the streams are the crate's own — `TcpStream`,
//! `UnixStream` and [`TlsStream`](crate::tls::TlsStream) over either.

use std::fmt;
use std::io::{self, IoSlice};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::net::{RecvFlags, SendFlags};

use crate::addr::Addr;

/// A bidirectional byte stream usable by a [`NodeLink`](crate::NodeLink).
///
/// The blocking operations (`read`, `write`) must work while another thread
/// is in the other direction. The `try_*` operations must never block: they
/// return `io::ErrorKind::WouldBlock` when nothing can be done now. The link
/// uses them so that its reader thread can poll for a short while before it
/// sleeps, and so that replies it sends to the peer on its own never block
/// the reader (ARCHITECTURE.md, "Writing").
///
/// Sealed: implemented by `TcpStream`, `UnixStream` and
/// [`TlsStream`](crate::tls::TlsStream), and by nothing outside the crate:
///
/// ```compile_fail
/// use std::io;
/// use neonet::{Addr, LinkStream};
///
/// #[derive(Debug)]
/// struct Mine;
///
/// impl LinkStream for Mine {
///     fn read(&self, _: &mut [u8]) -> io::Result<usize> { Ok(0) }
///     fn try_read(&self, _: &mut [u8]) -> io::Result<usize> { Ok(0) }
///     fn write(&self, b: &[u8]) -> io::Result<usize> { Ok(b.len()) }
///     fn try_write(&self, b: &[u8]) -> io::Result<usize> { Ok(b.len()) }
///     fn shutdown(&self) -> io::Result<()> { Ok(()) }
///     fn local_addr(&self) -> Addr { Addr::Unknown }
///     fn peer_addr(&self) -> Addr { Addr::Unknown }
/// }
/// ```
pub trait LinkStream: sealed::Sealed + Send + Sync + fmt::Debug + 'static {
    /// Read some bytes, blocking until at least one is available.
    /// `Ok(0)` means end of stream.
    fn read(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// Read some bytes if any are available now; `WouldBlock` otherwise.
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// Whether a read would return data (or end of stream) now, without
    /// reading. The reader thread polls with this, not with `try_read`:
    /// on Linux, `poll` reads socket state without taking the socket lock,
    /// while every `recv` takes it and so delays the kernel delivering
    /// data into the socket and our own senders writing to it. The default
    /// says yes, which makes the reader poll with `try_read`.
    fn readable(&self) -> io::Result<bool> {
        Ok(true)
    }

    /// Write some bytes, blocking until at least one is written.
    fn write(&self, buf: &[u8]) -> io::Result<usize>;

    /// Write some bytes from `bufs`, in order, blocking until at least one
    /// is written (`writev`). Lets large message fields go out without
    /// being copied into the send buffer. The default writes the first
    /// non-empty buffer.
    fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match bufs.iter().find(|b| !b.is_empty()) {
            Some(b) => self.write(b),
            None => Ok(0),
        }
    }

    /// Write some bytes if there is room now; `WouldBlock` otherwise.
    fn try_write(&self, buf: &[u8]) -> io::Result<usize>;

    /// The descriptor whose readiness is this stream's (its socket), if
    /// there is one. The reader thread then sleeps in `poll` on it (and on
    /// a waker of its own) instead of in `read`, which gives it time
    /// limits (dead-peer detection, see
    /// [`NodeLink::set_keepalive`](crate::NodeLink::set_keepalive)) and
    /// lets it write replies as soon as the socket has room. A stream
    /// that buffers (TLS) must return buffered data from `try_read` first:
    /// the reader polls the descriptor only after `try_read` said
    /// `WouldBlock`. The default has none: the reader then blocks in
    /// `read`, without keepalive.
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    /// Whether a `try_read` that returned fewer bytes than asked left
    /// nothing to read: then the reader thread waits for the descriptor
    /// at once instead of trying a read that would say `WouldBlock`. True
    /// for sockets, whose bytes only the kernel holds; the default says
    /// no (a stream with a buffer of its own, TLS, is read until
    /// `WouldBlock`).
    fn short_read_drains(&self) -> bool {
        false
    }

    /// Whether the stream holds bytes of its own to write once the socket
    /// has room (TLS: records its non-blocking writes left behind, or
    /// that its reader made, such as alerts). The reader thread then
    /// sleeps until the socket is writable too and calls
    /// [`flush_own`](Self::flush_own). The default holds none.
    fn wants_write(&self) -> bool {
        false
    }

    /// Writes what [`wants_write`](Self::wants_write) said waits, without
    /// blocking (what the socket does not take still waits).
    fn flush_own(&self) -> io::Result<()> {
        Ok(())
    }

    /// Bounds every later blocking `write`: one that moves no byte for
    /// `timeout` fails with `WouldBlock` or `TimedOut` (`None`: no
    /// bound). Used for the link's write timeout and to bound a graceful
    /// close. The default cannot and says `Unsupported`.
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        let _ = timeout;
        Err(io::ErrorKind::Unsupported.into())
    }

    /// Writes out everything this stream accepted and still holds, then
    /// the end of its session if it has one, blocking until `deadline` at
    /// most (`TimedOut` past it). A TLS stream holds ciphertext of records
    /// its writes made that the socket has not taken yet (a non-blocking
    /// write returns once a record is made), and ends its session with
    /// `close_notify`. [`NodeLink::close`](crate::NodeLink::close) calls
    /// it after the link's own queue is written and before
    /// [`shutdown`](Self::shutdown), so that every packet whose `send`
    /// returned `Ok` is on the wire when the stream closes. The default
    /// holds nothing: a socket's kernel buffer needs no flushing.
    fn finish(&self, deadline: Instant) -> io::Result<()> {
        let _ = deadline;
        Ok(())
    }

    /// Shut down both directions, so that a thread blocked in `read` or
    /// `write` returns. The descriptor is closed when the stream is dropped.
    fn shutdown(&self) -> io::Result<()>;

    /// Local address, for errors and logs.
    fn local_addr(&self) -> Addr;

    /// Peer address, for errors and logs.
    fn peer_addr(&self) -> Addr;
}

/// `recv(MSG_DONTWAIT)`: a non-blocking read on a socket left in blocking
/// mode, so that writers sharing the socket keep blocking semantics.
fn recv_dontwait(fd: impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    // rustix returns (bytes filled, bytes the datagram had): same for streams.
    Ok(rustix::net::recv(fd, buf, RecvFlags::DONTWAIT)?.0)
}

/// `poll(POLLIN)` with a zero timeout. Errors and hang-ups count as
/// readable: the read that follows reports them.
fn poll_readable(fd: impl AsFd) -> io::Result<bool> {
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    poll_fds(&mut fds, Some(Duration::ZERO))?;
    Ok(readable_in(fds[0].revents()))
}

/// `poll` on `fds` for up to `timeout` (`None`: no limit); returns how many
/// have events. A signal is no error: it returns 0, as a timeout does (the
/// callers look again).
pub(crate) fn poll_fds(fds: &mut [PollFd<'_>], timeout: Option<Duration>) -> io::Result<usize> {
    let ts = timeout.map(|t| Timespec {
        tv_sec: t.as_secs().try_into().unwrap_or(i64::MAX),
        tv_nsec: t.subsec_nanos().into(),
    });
    match poll(fds, ts.as_ref()) {
        Ok(n) => Ok(n),
        Err(rustix::io::Errno::INTR) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Whether `poll`'s events say a read would not block: data, or an error
/// or hang-up that the read reports.
pub(crate) fn readable_in(events: PollFlags) -> bool {
    events.intersects(PollFlags::IN | PollFlags::ERR | PollFlags::HUP | PollFlags::NVAL)
}

/// `send(MSG_DONTWAIT | MSG_NOSIGNAL)`, the write-side counterpart.
fn send_dontwait(fd: impl AsFd, buf: &[u8]) -> io::Result<usize> {
    Ok(rustix::net::send(
        fd,
        buf,
        SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
    )?)
}

/// Only the crate's streams are [`LinkStream`]s. The crate's own tests
/// wrap streams to steer their I/O; the `test-hooks` feature lets them
/// (`neonet::stream::TestStream`), and is no part of the API.
pub(crate) mod sealed {
    /// The seal of [`LinkStream`](super::LinkStream).
    pub trait Sealed {}
}

#[cfg(feature = "test-hooks")]
#[doc(hidden)]
pub use sealed::Sealed as TestStream;

/// Implements `LinkStream` for a std socket type whose `&T` is Read + Write.
macro_rules! impl_socket_stream {
    ($ty:ty, $fmt_addr:expr, $readable:expr) => {
        impl sealed::Sealed for $ty {}

        impl LinkStream for $ty {
            fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
                io::Read::read(&mut &*self, buf)
            }
            fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
                recv_dontwait(self, buf)
            }
            fn readable(&self) -> io::Result<bool> {
                $readable(self)
            }
            fn write(&self, buf: &[u8]) -> io::Result<usize> {
                io::Write::write(&mut &*self, buf)
            }
            fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                io::Write::write_vectored(&mut &*self, bufs)
            }
            fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                send_dontwait(self, buf)
            }
            fn short_read_drains(&self) -> bool {
                true
            }
            fn fd(&self) -> Option<BorrowedFd<'_>> {
                Some(self.as_fd())
            }
            fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
                // std refuses a zero timeout: the smallest it takes instead.
                let t = timeout.map(|t| t.max(Duration::from_micros(1)));
                <$ty>::set_write_timeout(self, t)
            }
            fn shutdown(&self) -> io::Result<()> {
                <$ty>::shutdown(self, Shutdown::Both)
            }
            fn local_addr(&self) -> Addr {
                $fmt_addr(<$ty>::local_addr(self))
            }
            fn peer_addr(&self) -> Addr {
                $fmt_addr(<$ty>::peer_addr(self))
            }
        }
    };
}

impl_socket_stream!(TcpStream, Addr::from_tcp, poll_readable);
// A Unix stream's recv locks only our side's receive queue, which neither
// our senders (they append to the peer's) nor the kernel hold for long:
// polling with recv itself saves a syscall per poll.
impl_socket_stream!(UnixStream, Addr::from_unix, |_: &UnixStream| Ok(true));

/// Write all of `buf` with blocking writes.
pub(crate) fn write_all(stream: &dyn LinkStream, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match stream.write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Write all of `bufs` with blocking vectored writes.
pub(crate) fn write_all_vectored(
    stream: &dyn LinkStream,
    mut bufs: &mut [IoSlice<'_>],
) -> io::Result<()> {
    // Skip leading empty slices so that an Ok(0) below means no progress.
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        match stream.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Write all of `buf` with blocking writes, by `deadline`: each write is
/// bounded by the time left (the stream's write timeout, where it can set
/// one), and the time left is looked at again after each. `TimedOut` past
/// the deadline.
pub(crate) fn write_all_until(
    stream: &dyn LinkStream,
    mut buf: &[u8],
    deadline: Instant,
) -> io::Result<()> {
    while !buf.is_empty() {
        let left = time_left(deadline)?;
        // A stream that cannot bound its writes still gets everything
        // written if the peer reads.
        let _ = stream.set_write_timeout(Some(left));
        match stream.write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The time left until `deadline`; `TimedOut` if none is.
pub(crate) fn time_left(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "not written within the time limit",
        ));
    }
    Ok(left)
}

/// Writes as much of `buf` as the stream takes without blocking; returns
/// how much that was.
pub(crate) fn write_nonblocking(stream: &dyn LinkStream, buf: &[u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match stream.try_write(&buf[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// The first byte of a TLS ClientHello (a handshake record).
pub(crate) const TLS_HANDSHAKE_BYTE: u8 = 0x16;

/// Blocks until `fd` is readable (or, if `out`, writable), or `timeout`
/// passes (`WouldBlock`, as a socket read timeout reports it); returns
/// whether it is readable. Errors and hang-ups count as readable: the
/// read that follows reports them.
pub(crate) fn wait_ready(fd: impl AsFd, out: bool, timeout: Option<Duration>) -> io::Result<bool> {
    let mut events = PollFlags::IN;
    if out {
        events |= PollFlags::OUT;
    }
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let mut fds = [PollFd::new(&fd, events)];
        if poll_fds(&mut fds, left)? > 0 {
            return Ok(readable_in(fds[0].revents()));
        }
        // Nothing: the time is up, or a signal came (look again).
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
    }
}

/// The first byte the peer sent, left unread, waiting at most `timeout`
/// for it (`TimedOut` then; `UnexpectedEof` if the peer closed first).
pub(crate) fn peek_first_byte(fd: impl AsFd, timeout: Option<Duration>) -> io::Result<u8> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l.is_zero()) {
            return Err(io::ErrorKind::TimedOut.into());
        }
        match wait_ready(&fd, false, left) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::ErrorKind::TimedOut.into())
            }
            res => res?,
        };
        let mut byte = [0u8; 1];
        match rustix::net::recv(&fd, &mut byte, RecvFlags::PEEK | RecvFlags::DONTWAIT) {
            Ok((0, _)) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => return Ok(byte[0]),
            Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}
