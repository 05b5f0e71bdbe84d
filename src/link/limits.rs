//! The memory limits of a link and their accounting: what a peer can make
//! us hold, whatever it sends (see ARCHITECTURE.md, "Bounded memory").
//!
//! Everything the reader thread queues for the application is counted, per
//! connection and for the whole link, at its payload size plus a fixed
//! overhead, so that a flood of empty packets is bounded too. The reader
//! checks the limits before queueing and never waits for room: a connection
//! that goes over its limit *overflows* (its queue is dropped and its
//! receivers get `Overflow`), so the connections the application does read
//! keep flowing.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use crate::packet::Packet;

/// What one queued packet counts for beyond its payload: the packet and
/// channel bookkeeping, so that empty packets are not free.
pub(crate) const PACKET_OVERHEAD: usize = 128;

/// The memory limits of a link. Set them with
/// [`NodeLink::set_limits`](crate::NodeLink::set_limits); the defaults
/// serve a storage server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes queued on one connection and not yet received (each packet
    /// counts its payload plus [`PACKET_OVERHEAD`](Limits::PACKET_OVERHEAD)). Over it the
    /// connection overflows: its queue is dropped, its receivers get
    /// `ErrorKind::Overflow` (later ones `ClosedConn`), and the peer is
    /// answered "connection closed", for later packets too. A connection
    /// with an empty queue always takes one packet, so a packet of the
    /// largest size gets through. Default 64 MiB.
    pub conn_queue_bytes: usize,
    /// Bytes queued on all connections of the link (those waiting for
    /// `accept` included). Over it, the connections holding the most
    /// overflow, largest first, until the link holds at most 7/8 of this
    /// (so that the work of finding them is paid once per 1/8 of the limit
    /// a peer sends, not once per packet). Default 256 MiB.
    pub link_queue_bytes: usize,
    /// Connections opened by the peer and waiting for `accept`. A new one
    /// past it is answered "connection refused"; nothing of it is kept.
    /// Default 1024.
    pub accept_backlog: usize,
    /// Live connections opened by the peer (accepted or waiting). A new
    /// one past it is refused the same way. Default 65 536.
    pub peer_conns: usize,
    /// Bytes of the link's own replies ("connection closed" / "connection
    /// refused") waiting to be written while the peer does not read.
    /// Further replies are dropped and counted. Default 1 MiB.
    pub reply_bytes: usize,
}

impl Limits {
    /// What one queued packet counts for beyond its payload, against
    /// [`conn_queue_bytes`](Limits::conn_queue_bytes) and
    /// [`link_queue_bytes`](Limits::link_queue_bytes): the packet and
    /// channel bookkeeping, so that empty packets are not free.
    pub const PACKET_OVERHEAD: usize = PACKET_OVERHEAD;
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            conn_queue_bytes: 64 << 20,
            link_queue_bytes: 256 << 20,
            accept_backlog: 1024,
            peer_conns: 65_536,
            reply_bytes: 1 << 20,
        }
    }
}

/// What a packet counts for in the queues.
pub(crate) fn cost(pkt: &Packet) -> usize {
    pkt.payload().len() + PACKET_OVERHEAD
}

/// The limits, readable by the reader thread on every packet without a
/// lock, and settable from any thread.
#[derive(Debug)]
pub(crate) struct LimitCells {
    conn_queue_bytes: AtomicUsize,
    link_queue_bytes: AtomicUsize,
    accept_backlog: AtomicUsize,
    peer_conns: AtomicUsize,
    reply_bytes: AtomicUsize,
}

impl LimitCells {
    pub(crate) fn new(l: Limits) -> LimitCells {
        LimitCells {
            conn_queue_bytes: AtomicUsize::new(l.conn_queue_bytes),
            link_queue_bytes: AtomicUsize::new(l.link_queue_bytes),
            accept_backlog: AtomicUsize::new(l.accept_backlog),
            peer_conns: AtomicUsize::new(l.peer_conns),
            reply_bytes: AtomicUsize::new(l.reply_bytes),
        }
    }

    pub(crate) fn get(&self) -> Limits {
        Limits {
            conn_queue_bytes: self.conn_queue_bytes.load(Relaxed),
            link_queue_bytes: self.link_queue_bytes.load(Relaxed),
            accept_backlog: self.accept_backlog.load(Relaxed),
            peer_conns: self.peer_conns.load(Relaxed),
            reply_bytes: self.reply_bytes.load(Relaxed),
        }
    }

    pub(crate) fn set(&self, l: Limits) {
        self.conn_queue_bytes.store(l.conn_queue_bytes, Relaxed);
        self.link_queue_bytes.store(l.link_queue_bytes, Relaxed);
        self.accept_backlog.store(l.accept_backlog, Relaxed);
        self.peer_conns.store(l.peer_conns, Relaxed);
        self.reply_bytes.store(l.reply_bytes, Relaxed);
    }

    pub(crate) fn reply_bytes(&self) -> usize {
        self.reply_bytes.load(Relaxed)
    }
}

/// Counters of what the limits did, for [`LinkStats`](crate::LinkStats).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Bytes queued on all connections (as counted by [`cost`]); shared
    /// with the connection table, which takes off what a reused object
    /// still held (see `ConnState::reset`).
    pub(crate) queued: Arc<AtomicUsize>,
    pub(crate) overflows: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) dropped_replies: AtomicU64,
    pub(crate) bad_requests: AtomicU64,
    pub(crate) pings: AtomicU64,
    pub(crate) stray_answers: AtomicU64,
    pub(crate) stream_waits: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }
}
