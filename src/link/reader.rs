//! The reader thread of a link (DESIGN §5): reads packets with a
//! read-ahead buffer and hands each to its connection's queue, opens the
//! connections the peer initiates, and answers packets for closed ones.

use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::table::Entry;
use super::{Shared, CLOSED, NO_ACCEPT, REPLY_CLOSED, REPLY_REFUSED};
use crate::conn::ConnState;
use crate::error::ErrorKind;
use crate::packet::{Header, Packet, HEADER_SIZE};
use crate::stream::LinkStream;
use crate::wait;

/// Size of the read-ahead buffer. A packet that fits is read together with
/// its header in one `read`, and several small packets share one `read`.
const READ_AHEAD: usize = 64 * 1024;

/// While replies wait for room in the socket (a non-blocking write of ours
/// left bytes behind), the reader polls instead of sleeping in `read`, at
/// this interval, so they go out when the peer drains its side even if
/// nothing else is sent.
const REPLY_RETRY: Duration = Duration::from_millis(1);

/// Spawns the reader thread of a link.
pub(super) fn spawn(
    shared: Arc<Shared>,
    stream: Arc<dyn LinkStream>,
) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("neonet-reader".into())
        .spawn(move || run(&shared, &*stream))
}

fn run(shared: &Shared, stream: &dyn LinkStream) {
    let _guard = DownOnPanic(shared);
    let mut rx = ReadAhead::new();
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

/// Hands a packet to its connection, or opens one, or answers the peer.
fn route(shared: &Shared, pkt: Packet) {
    enum Route {
        Deliver(Arc<ConnState>),
        Accept(Arc<ConnState>),
        Reply(&'static str),
    }
    let id = pkt.conn_id();
    let route = {
        let mut table = shared.table.lock();
        let ours = table.is_ours(id);
        match table.get(id) {
            Some(Entry::Live(c)) => Route::Deliver(c.clone()),
            Some(Entry::Tombstone(_)) => Route::Reply(REPLY_CLOSED),
            // Ours but unknown: addressed to a connection that is gone.
            None if ours => Route::Reply(REPLY_CLOSED),
            None if shared.has(NO_ACCEPT) => Route::Reply(REPLY_REFUSED),
            None => Route::Accept(table.new_peer_conn(id)),
        }
    };
    // The table lock is released: waking a receiver may be a syscall.
    match route {
        Route::Deliver(conn) => deliver(shared, &conn, pkt),
        Route::Accept(conn) => {
            conn.push(pkt);
            shared.queue_accept(conn);
        }
        Route::Reply(text) => shared.reply(id, text),
    }
}

/// Queues a packet on a live connection.
fn deliver(shared: &Shared, conn: &ConnState, pkt: Packet) {
    let id = pkt.conn_id();
    if conn.is_recv_closed() {
        shared.reply(id, REPLY_CLOSED);
        return;
    }
    conn.push(pkt);
    // Receiving may have been closed between the check and the push, after
    // the closer drained the queue: drain it again so nothing is left
    // unanswered in a queue nobody reads.
    if conn.is_recv_closed() && conn.drain() > 0 {
        shared.reply(id, REPLY_CLOSED);
    }
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

    /// Reads the next whole packet.
    fn next_packet(
        &mut self,
        shared: &Shared,
        stream: &dyn LinkStream,
    ) -> Result<Packet, ErrorKind> {
        self.fill(shared, stream, HEADER_SIZE)?;
        let hdr_bytes = &self.buf[self.start..self.start + HEADER_SIZE];
        let hdr = Header::decode(hdr_bytes.try_into().expect("header size"));
        // Checked before anything of that size is allocated.
        if !hdr.size_ok() {
            return Err(ErrorKind::PacketTooBig {
                size: hdr.packet_size(),
            });
        }
        let size = hdr.packet_size() as usize;
        if size > self.buf.len() {
            return self.read_big(shared, stream, size);
        }
        self.fill(shared, stream, size)?;
        let bytes = self.buf[self.start..self.start + size].to_vec();
        self.start += size;
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        Ok(Packet::from_wire(bytes))
    }

    /// Reads until at least `n` bytes are buffered.
    fn fill(
        &mut self,
        shared: &Shared,
        stream: &dyn LinkStream,
        n: usize,
    ) -> Result<(), ErrorKind> {
        while self.end - self.start < n {
            if self.start + n > self.buf.len() {
                // Move the partial packet to the front to make room.
                self.buf.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, self.end - self.start);
            }
            self.end += read_some(shared, stream, &mut self.buf[self.end..])?;
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
        let mut filled = self.end - self.start;
        bytes[..filled].copy_from_slice(&self.buf[self.start..self.end]);
        (self.start, self.end) = (0, 0);
        while filled < size {
            filled += read_some(shared, stream, &mut bytes[filled..])?;
        }
        Ok(Packet::from_wire(bytes))
    }
}

/// Reads at least one byte: polls for a while, then blocks in `read`.
fn read_some(shared: &Shared, stream: &dyn LinkStream, dst: &mut [u8]) -> Result<usize, ErrorKind> {
    loop {
        let res = match stream.try_read(dst) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_read(shared, stream, dst),
            res => res,
        };
        match res {
            Ok(0) => {
                return Err(ErrorKind::io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "peer closed the link",
                )))
            }
            Ok(n) => return Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) => {}
            Err(e) => return Err(ErrorKind::io(e)),
        }
    }
}

/// Nothing to read right now: flush replies, poll, then block.
fn wait_read(shared: &Shared, stream: &dyn LinkStream, dst: &mut [u8]) -> io::Result<usize> {
    if shared.outbox.stuck() {
        shared.try_flush();
        if shared.outbox.stuck() {
            // Do not sleep in read with replies unsent (see REPLY_RETRY).
            thread::sleep(REPLY_RETRY);
            return Err(io::ErrorKind::WouldBlock.into());
        }
    }
    let polled = wait::spin_until(shared.spin(), 0, || match stream.readable() {
        Ok(false) => None,
        Ok(true) => match stream.try_read(dst) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            res => Some(res),
        },
        Err(e) => Some(Err(e)),
    });
    match polled {
        Some(res) => res,
        None => stream.read(dst),
    }
}
