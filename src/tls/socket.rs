//! What TLS needs from the socket under it beyond [`LinkStream`]: waiting
//! for room to write as well as for data, and peeking at the first byte.

use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::net::RecvFlags;

use crate::handshake::HandshakeStream;
#[cfg(doc)]
use crate::stream::LinkStream;
use crate::stream::{poll_fds, readable_in};

/// The first byte of a TLS ClientHello (a handshake record).
pub(crate) const TLS_HANDSHAKE_BYTE: u8 = 0x16;

/// A socket a [`TlsStream`](super::TlsStream) can run over: a
/// [`HandshakeStream`] with a descriptor to wait on (`TcpStream`,
/// `UnixStream`).
pub trait TlsSocket: HandshakeStream + AsFd {}

impl<T: HandshakeStream + AsFd> TlsSocket for T {}

/// Blocks until `fd` is readable (or, if `out`, writable), or `timeout`
/// passes (`WouldBlock`, as a socket read timeout reports it); returns
/// whether it is readable. Errors and hang-ups count as readable: the
/// read that follows reports them.
pub(super) fn wait(fd: impl AsFd, out: bool, timeout: Option<Duration>) -> io::Result<bool> {
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
        match wait(&fd, false, left) {
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
