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
//!   notification of the peer, a new "connection" for `recv1`, keyed
//!   apart from our ids and from each other (`ConnTable::peer_key`: NEO/py
//!   reuses msg_ids, so a repeated one is never a reason to refuse). Only
//!   requests are ever answered by the link ("connection refused"): an
//!   answer to an answer or to a notification would be taken by NEO/py as
//!   one to a request of its own.

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

use crossbeam_channel::Sender;

use super::limits::{cost, Counters, Limits};
use super::table::{AcceptTx, ConnTable, Entry};
use super::{Shared, NO_ACCEPT, REPLY_CLOSED, REPLY_REFUSED};
use crate::codec::Dialect;
use crate::conn::ConnState;
use crate::neopy;
use crate::packet::Packet;
use crate::proto::{self, Msg};

/// Where a packet goes.
enum Route {
    Deliver(Arc<ConnState>, Sender<Packet>),
    Accept(Arc<ConnState>, Sender<Packet>, AcceptTx),
    Reply(&'static str),
    /// Refused because a limit is reached; answered "connection refused"
    /// if `reply`.
    Refuse {
        reply: bool,
    },
    /// The answer to a keepalive ping of ours: consumed.
    Consume,
    /// An answer to no request of ours (NEO/py): dropped and counted.
    Stray,
    /// Nothing to do (a NEO/py notification while we do not accept, or
    /// for a conversation that stopped receiving): dropped and logged.
    Ignore,
}

/// Hands a packet to its connection, or opens one, or answers the peer.
pub(super) fn route(shared: &Shared, pkt: Packet) {
    let id = pkt.conn_id();
    let limits = shared.limits.get();
    let route = {
        let mut table = shared.table.lock();
        match shared.dialect {
            Dialect::Proto6 => route_binary(shared, &mut table, id, &limits),
            Dialect::NeoPy => route_msgpack(shared, &mut table, &pkt, &limits),
        }
    };
    // The table lock is released: waking a receiver may be a syscall.
    match route {
        Route::Deliver(conn, tx) => deliver(shared, &conn, tx, pkt, &limits),
        Route::Accept(conn, tx, atx) => accept(shared, conn, tx, atx, pkt, &limits),
        Route::Reply(text) => answer(shared, &pkt, text),
        Route::Refuse { reply } => {
            Counters::bump(&shared.counters.refused);
            log::debug!(
                "neonet {}: conn {id}: refused (limit reached)",
                shared.addrs
            );
            if reply {
                answer(shared, &pkt, REPLY_REFUSED);
            }
        }
        Route::Consume => {}
        Route::Ignore => log::debug!(
            "neonet {}: notification {:#06x} (msg_id {id}) nobody receives: dropped",
            shared.addrs,
            pkt.msg_code()
        ),
        Route::Stray => stray(shared, &pkt),
    }
}

/// Whether a new connection of the peer's would go over a limit.
fn full(shared: &Shared, table: &ConnTable, limits: &Limits) -> bool {
    shared.accept_rx.len() >= limits.accept_backlog || table.peer_conns() >= limits.peer_conns
}

/// Protocol 6: by connection id.
fn route_binary(shared: &Shared, table: &mut ConnTable, id: u32, limits: &Limits) -> Route {
    let ours = table.is_ours(id);
    let known = match table.get(table.key_of(id)) {
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
        // Looked at only for a new connection: not per packet.
        None if full(shared, table, limits) => Route::Refuse { reply: true },
        None => match table.new_peer_conn(id, shared.recv_timeout.get(), false) {
            Some((conn, tx, atx)) => Route::Accept(conn, tx, atx),
            None => Route::Reply(REPLY_REFUSED),
        },
    }
}

/// NEO/py: answers by id to our requests, anything else to `recv1`.
fn route_msgpack(shared: &Shared, table: &mut ConnTable, pkt: &Packet, limits: &Limits) -> Route {
    let id = pkt.conn_id();
    if pkt.is_answer() {
        return match table.get(u64::from(id)) {
            Some(Entry::Live(l)) => match &l.tx {
                Some(tx) => Route::Deliver(l.conn.clone(), tx.clone()),
                None => Route::Stray,
            },
            Some(Entry::Ping) => {
                table.remove_ping(id);
                Route::Consume
            }
            Some(Entry::Tombstone(_)) => {
                // The end of a conversation we gave up: it is over.
                table.remove_tombstone(u64::from(id));
                Route::Stray
            }
            None => Route::Stray,
        };
    }
    // A request (it names an answer) is answered when refused; a
    // notification expects nothing.
    let request = neopy::answer_name(pkt.msg_code()).is_some();
    if !request {
        // A notification under the msg_id of a conversation of ours: part
        // of the peer's streamed answer (ARCHITECTURE.md, "Dialects").
        match table.get(u64::from(id)) {
            Some(Entry::Live(l)) if l.conn.is_stream() => {
                return match &l.tx {
                    Some(tx) => Route::Deliver(l.conn.clone(), tx.clone()),
                    None => Route::Ignore,
                };
            }
            // A conversation we gave up: the rest of its stream.
            Some(Entry::Tombstone(_)) => return Route::Ignore,
            _ => {}
        }
    }
    if shared.has(NO_ACCEPT) {
        return if request {
            Route::Reply(REPLY_REFUSED)
        } else {
            Route::Ignore
        };
    }
    if full(shared, table, limits) {
        return Route::Refuse { reply: request };
    }
    // Each packet of the peer's is an exchange of its own, however its
    // msg_id repeats (the table keys them apart: `ConnTable::peer_key`).
    match table.new_peer_conn(id, shared.recv_timeout.get(), !request) {
        Some((conn, tx, atx)) => Route::Accept(conn, tx, atx),
        None => Route::Refuse { reply: request },
    }
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
    #[cfg(feature = "test-hooks")]
    shared.hooks.before_queue(conn.id());
    if conn.is_recv_closed() {
        if conn.answers_closed() {
            answer(shared, &pkt, REPLY_CLOSED);
        } else {
            // NEO/py: the answer to an ask1 that gave up.
            stray(shared, &pkt);
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
