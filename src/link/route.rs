//! Where the reader thread puts each packet: on its connection's queue,
//! on a new connection for `accept`, or nowhere (answered or dropped). The
//! table lock is held only to decide; queueing, waking a receiver and
//! replying happen after it is released.
//!
//! - **Protocol 6**: by connection id. An unknown id of the peer's parity
//!   opens a connection; an unknown id of ours, or a closed connection's,
//!   is answered "connection closed" (ARCHITECTURE.md, "Reading").
//! - **NEO/py** (ARCHITECTURE.md, "Dialects"): by the answer bit. An
//!   answer goes to our `ask1` waiting with that id; with none waiting (it timed out), it is
//!   dropped and counted: NEO/py, whose requests never time out one by
//!   one, answers such an answer `Error(PROTOCOL_ERROR)` and closes the
//!   link, but for us a late answer is normal. A notification under the
//!   msg_id of a conversation of ours (`ask_stream`) is part of its
//!   streamed answer and goes to it. Any other packet is a request or
//!   notification of the peer, a new "connection" for `NodeLink::recv`, keyed
//!   apart from our ids and from each other (`ConnTable::peer_key`: NEO/py
//!   reuses msg_ids, so a repeated one is never a reason to refuse). Only
//!   requests are ever answered by the link ("connection refused"): an
//!   answer to an answer or to a notification would be taken by NEO/py as
//!   one to a request of its own.

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

use super::limits::{cost, Counters, Limits};
use super::state::ConnState;
use super::table::{AcceptTx, ConnTable, Entry, PEER};
use super::{Shared, NO_ACCEPT, REPLY_CLOSED, REPLY_REFUSED};
use crate::codec::wire::{Addressed, Wire};
use crate::packet::{Packet, ANSWER_BIT};
use crate::queue::QueueTx;

/// Where a packet goes.
enum Route {
    Deliver(Arc<ConnState>, QueueTx<Packet>),
    Accept(Arc<ConnState>, QueueTx<Packet>, AcceptTx),
    /// Answered with this text if the dialect lets the link answer it;
    /// else dropped (and counted if it is an answer: `stray`).
    Reply(&'static str),
    /// Refused because a limit is reached; answered "connection refused"
    /// if the dialect lets the link answer it.
    Refuse,
    /// The answer to a keepalive ping of ours: consumed.
    Consume,
    /// Nothing to do (a NEO/py notification while we do not accept, or
    /// for a conversation that stopped receiving): dropped and logged.
    Ignore,
}

/// Hands a packet to its connection, or opens one, or answers the peer.
pub(super) fn route<W: Wire>(shared: &Shared, pkt: Packet) {
    let id = pkt.conn_id();
    let limits = shared.limits.get();
    let route = {
        let mut table = shared.table.lock();
        match W::address(shared.role, &pkt) {
            Addressed::Ours(id) => to_ours(&mut table, id),
            Addressed::StreamOrPeer(id) => match to_stream(&mut table, id) {
                Some(route) => route,
                None => to_peer(shared, &mut table, None, &pkt, &limits, W::answerable),
            },
            Addressed::Peer(id) => to_peer(shared, &mut table, id, &pkt, &limits, W::answerable),
        }
    };
    // The table lock is released: waking a receiver may be a syscall.
    let answerable = W::answerable(&pkt);
    match route {
        Route::Deliver(conn, tx) => deliver(shared, &conn, tx, pkt, &limits),
        Route::Accept(conn, tx, atx) => accept(shared, conn, tx, atx, pkt, &limits),
        Route::Reply(text) if answerable => shared.reply(id, text),
        // What cannot be answered: an answer to nothing of ours is counted.
        Route::Reply(_) if pkt.is_answer() => stray(shared, &pkt),
        Route::Reply(_) => ignore(shared, &pkt),
        Route::Refuse => {
            Counters::bump(&shared.counters.refused);
            log::debug!(
                "neonet {}: conn {id}: refused (limit reached)",
                shared.addrs
            );
            if answerable {
                shared.reply(id, REPLY_REFUSED);
            }
        }
        Route::Consume => {}
        Route::Ignore => ignore(shared, &pkt),
    }
}

/// Whether a new connection of the peer's would go over a limit.
fn full(shared: &Shared, table: &ConnTable, limits: &Limits) -> bool {
    shared.accept_rx.len() >= limits.accept_backlog || table.peer_conns() >= limits.peer_conns
}

/// To an exchange of ours: its queue, or "connection closed" if it is gone
/// (for a packet the dialect lets the link answer; else dropped).
fn to_ours(table: &mut ConnTable, id: u32) -> Route {
    match table.get(u64::from(id)) {
        Some(Entry::Live(l)) => match &l.tx {
            Some(tx) => Route::Deliver(l.conn.clone(), tx.clone()),
            None => Route::Reply(REPLY_CLOSED),
        },
        Some(Entry::Ping) => {
            table.remove_ping(id);
            Route::Consume
        }
        Some(Entry::Tombstone(_)) => {
            // The end of a conversation we gave up: it is over.
            table.remove_tombstone(u64::from(id));
            Route::Reply(REPLY_CLOSED)
        }
        None => Route::Reply(REPLY_CLOSED),
    }
}

/// To the conversation of ours with this id, if there is one (a
/// notification of its streamed answer, ARCHITECTURE.md, "Dialects");
/// `None` if there is none.
fn to_stream(table: &mut ConnTable, id: u32) -> Option<Route> {
    match table.get(u64::from(id)) {
        Some(Entry::Live(l)) if l.conn.is_stream() => Some(match &l.tx {
            Some(tx) => Route::Deliver(l.conn.clone(), tx.clone()),
            None => Route::Ignore,
        }),
        // A conversation we gave up: the rest of its stream.
        Some(Entry::Tombstone(_)) => Some(Route::Ignore),
        _ => None,
    }
}

/// To an exchange of the peer's: the one with `id` if it exists, else a
/// new one for `accept` (refused if we do not accept or a limit is
/// reached).
fn to_peer(
    shared: &Shared,
    table: &mut ConnTable,
    id: Option<u32>,
    pkt: &Packet,
    limits: &Limits,
    answerable: fn(&Packet) -> bool,
) -> Route {
    if let Some(id) = id {
        match table.get(PEER | u64::from(id)) {
            Some(Entry::Live(l)) => {
                return match &l.tx {
                    Some(tx) => Route::Deliver(l.conn.clone(), tx.clone()),
                    None => Route::Reply(REPLY_CLOSED),
                }
            }
            Some(Entry::Tombstone(_)) => return Route::Reply(REPLY_CLOSED),
            _ => {}
        }
    }
    if shared.has(NO_ACCEPT) {
        return Route::Reply(REPLY_REFUSED);
    }
    // Looked at only for a new connection: not per packet.
    if full(shared, table, limits) {
        return Route::Refuse;
    }
    // The link never answers what it may not answer now (a NEO/py
    // notification) on this connection later either.
    let quiet = !answerable(pkt);
    match table.new_peer_conn(
        pkt.conn_id(),
        id.is_some(),
        shared.recv_timeout.get(),
        quiet,
    ) {
        Some((conn, tx, atx)) => Route::Accept(conn, tx, atx),
        None => Route::Reply(REPLY_REFUSED),
    }
}

/// A packet nobody receives and the link may not answer: dropped, logged.
fn ignore(shared: &Shared, pkt: &Packet) {
    log::debug!(
        "neonet {}: {:#06x} on id {}, which nobody receives: dropped",
        shared.addrs,
        pkt.msg_code(),
        pkt.conn_id()
    );
}

/// An answer to no request of ours: dropped, counted.
fn stray(shared: &Shared, pkt: &Packet) {
    Counters::bump(&shared.counters.stray_answers);
    log::debug!(
        "neonet {}: answer {:#06x} for msg_id {}, which no request waits for: dropped",
        shared.addrs,
        pkt.msg_code(),
        pkt.conn_id()
    );
}

/// Queues a packet on a live connection, within the limits.
fn deliver(
    shared: &Shared,
    conn: &Arc<ConnState>,
    tx: QueueTx<Packet>,
    pkt: Packet,
    limits: &Limits,
) {
    #[cfg(feature = "test-hooks")]
    shared.hooks.before_queue(conn.id());
    if conn.is_recv_closed() {
        if !conn.answers_closed() {
            // NEO/py: the answer to an ask1 that gave up.
            stray(shared, &pkt);
        } else if is_error(&pkt) {
            // Never answered: see `Wire::answerable`.
        } else {
            shared.reply(pkt.conn_id(), REPLY_CLOSED);
        }
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
        shared.reply_closed(conn);
    }
    if conn.is_stream() {
        // Back-pressure instead of an overflow: nothing of a conversation
        // is dropped, and the peer's writes wait while we do.
        shared.wait_for_room(conn, limits.conn_queue_bytes);
    }
    check_link_limit(shared, limits);
}

/// Queues the first packet of a connection the peer opened, then the
/// connection for `accept`.
fn accept(
    shared: &Shared,
    conn: Arc<ConnState>,
    tx: QueueTx<Packet>,
    atx: AcceptTx,
    pkt: Packet,
    limits: &Limits,
) {
    // An empty queue always takes a packet.
    push(shared, &conn, &tx, pkt, limits);
    drop(tx);
    // Cannot fail: the link holds the accept queue's receiver.
    atx.send(conn);
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
    tx: &QueueTx<Packet>,
    pkt: Packet,
    limits: &Limits,
) -> bool {
    let c = cost(&pkt);
    if !conn.admit(c, limits.conn_queue_bytes) {
        return false;
    }
    shared.counters.queued.fetch_add(c, SeqCst);
    // Cannot fail: the connection object holds the receiver.
    tx.send(pkt);
    true
}

fn check_link_limit(shared: &Shared, limits: &Limits) {
    if shared.counters.queued.load(SeqCst) > limits.link_queue_bytes {
        shared.overflow_largest(limits.link_queue_bytes);
    }
}

/// Whether `pkt` is an `Error` (code `0x8000` in both dialects), which the
/// link never answers.
fn is_error(pkt: &Packet) -> bool {
    pkt.msg_code() == ANSWER_BIT
}
