//! The lifecycle of connection objects (ARCHITECTURE.md, "Receive queues
//! close themselves"): a packet goes only to the connection it was sent
//! on, even when the object that held one connection is reused for the
//! next, and nothing stays counted as queued once every connection is
//! gone.
//!
//! 1. The refusal race: a raw peer opens connections and sends a second
//!    packet on each while the link stops accepting; afterwards, new
//!    connections (which reuse the refused ones' objects) must receive
//!    nothing that was sent on another id. Run in a loop; `ConnState::reset`
//!    asserts the queue it reuses is empty (in debug builds, and in the
//!    crate's own tests in release, which build with `test-hooks`).
//! 2. A property test: random sequences of new_conn / accept / close /
//!    close_recv / close_accept / peer packets against a model, checking
//!    the same invariant and the link's replies.

#[macro_use]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use neonet::error::REPLY_CLOSED;
use neonet::error::REPLY_REFUSED;
use neonet::proto::{Msg, Ping, Pong};
use neonet::{LinkRole, NodeLink, Packet};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};

/// Message code of the raw peer's packets (any request code will do).
const CODE: u16 = 0x0001;

/// Message code of `Pong`.
const PONG: u16 = <Pong as Msg>::CODE;

/// The payload that identifies the packet sent on `id` (as its `n`th).
fn tag(id: u32, n: u8) -> Vec<u8> {
    let mut p = id.to_be_bytes().to_vec();
    p.push(n);
    p
}

/// Asserts that `pkt`, received on connection `id`, was sent on it.
#[track_caller]
fn assert_sent_on(pkt: &Packet, id: u32) {
    assert_eq!(pkt.conn_id(), id, "a packet of another connection: {pkt:?}");
    assert_eq!(
        &pkt.payload()[..4],
        &id.to_be_bytes(),
        "payload of another connection on {id}: {:?}",
        pkt.payload()
    );
}

/// Takes what `conn` holds without waiting: every packet must be its own.
fn take_all(conn: &neonet::Conn) -> usize {
    conn.set_recv_timeout(Some(Duration::ZERO));
    let mut n = 0;
    while let Ok(pkt) = conn.recv_pkt() {
        assert_sent_on(&pkt, conn.id());
        n += 1;
    }
    n
}

/// Reads the link's replies until the one on `probe` (the reader has
/// handled everything sent before it); returns the others as (id, text).
fn replies_until(peer: &Raw, probe: u32) -> Vec<(u32, String)> {
    let mut got = Vec::new();
    loop {
        let pkt = read_raw_packet(peer).expect("peer: read reply");
        let (_, text) = decode_error_reply(&pkt);
        if pkt.conn_id() == probe {
            return got;
        }
        got.push((pkt.conn_id(), text));
    }
}

/// One round of the refusal race on a fresh link: the peer (a client,
/// odd ids) opens `conns` connections and sends a second packet on each
/// while the link stops accepting (with an acceptor racing every other
/// round). Every third round the reader's hook makes the link stop
/// accepting just as the reader is about to queue on one of them, so that
/// the race happens for sure. Then our new connections, which reuse the
/// refused ones' objects, must be empty, an `ask1` must get its own
/// answer, and nothing may stay counted as queued.
fn refusal_round(round: usize, conns: u32) {
    let (link, peer) = link_with_raw_peer(Kind::Unix, LinkRole::Server);
    let link = Arc::new(link);
    let ids = || (0..conns).map(|i| 2 * i + 1);
    for id in ids() {
        write_raw_packet(&peer, id, CODE, &tag(id, 0));
    }
    // Every connection is queued for accept before the race starts.
    let probe = 1_000_000;
    write_raw_packet(&peer, probe, CODE, &tag(probe, 0));
    assert_eq!(replies_until(&peer, probe), vec![]);
    if round.is_multiple_of(3) {
        close_accept_at(&link, 2 * (round as u32 % conns) + 1);
    }
    thread::scope(|s| {
        let acceptor = round.is_multiple_of(2).then(|| {
            s.spawn(|| {
                while let Ok(conn) = link.accept() {
                    take_all(&conn);
                }
            })
        });
        // All second packets at once: the reader routes them one after
        // the other while the refusals below run.
        let second: Vec<u8> = ids()
            .flat_map(|id| raw_packet(id, CODE, &tag(id, 1)))
            .collect();
        (&peer).write_all(&second).expect("peer: write");
        for _ in 0..round % 61 {
            thread::yield_now();
        }
        link.close_accept();
        if let Some(a) = acceptor {
            a.join().expect("acceptor");
        }
    });
    // An id of our parity that does not exist: its "connection closed"
    // comes after the reader handled everything the peer sent before.
    write_raw_packet(&peer, probe, CODE, &tag(probe, 0));
    for (id, text) in replies_until(&peer, probe) {
        assert!(id % 2 == 1 && id < 2 * conns, "reply on {id}: {text}");
    }
    link.set_before_queue_hook(None);
    // New connections take the freed objects first.
    let ours: Vec<_> = (0..conns + 8).map(|_| link.new_conn().unwrap()).collect();
    for conn in &ours {
        assert_eq!(take_all(conn), 0, "round {round}: conn {}", conn.id());
    }
    drop(ours);
    ask_ping(&link, &peer);
    assert_eq!(
        link.stats().queued_bytes,
        0,
        "round {round}: queued bytes left with no connection"
    );
    link.close();
}

/// `ask1(Ping)` answered by the raw peer: the answer must be its own.
fn ask_ping(link: &NodeLink, peer: &Raw) {
    thread::scope(|s| {
        s.spawn(|| {
            let ping = read_raw_packet(peer).expect("peer: read ping");
            write_raw_packet(peer, ping.conn_id(), PONG, &[]);
        });
        link.ask1(&Ping {}).expect("ask1 gets its own answer");
    });
}

#[test]
fn a_refused_connection_never_reaches_a_reused_one() {
    watchdog(Duration::from_secs(120), || {
        // Bounded in rounds and in time: a slow (debug) build runs fewer.
        let start = Instant::now();
        for round in 0..1000 {
            refusal_round(round, 1 + (round as u32 % 128));
            if start.elapsed() > Duration::from_secs(10) {
                break;
            }
        }
    });
}

// ---- the property test ----

/// One step of a random sequence.
#[derive(Debug, Clone)]
enum Op {
    /// Our side opens a connection.
    NewConn,
    /// Our side accepts one, if any is queued.
    Accept,
    /// Our side takes what connection `n` (of ours, mod count) holds.
    Recv(usize),
    /// Our side closes connection `n`.
    Close(usize),
    /// Our side closes receiving on connection `n`.
    CloseRecv(usize),
    /// Our side drops connection `n` (the object may be reused).
    Drop(usize),
    /// Our side stops accepting.
    CloseAccept,
    /// The peer sends on the peer connection `n` (mod 8: ids 1..15).
    PeerSend(u32),
    /// The peer sends on our connection `n`.
    PeerAnswer(usize),
    /// The peer sends again on every connection waiting for accept, and
    /// our side stops accepting when the reader is about to queue the
    /// packet of the `n`th (mod count): the refusal race, made to happen
    /// with the reader's hook.
    RaceCloseAccept(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::NewConn),
        3 => Just(Op::Accept),
        3 => (0..8usize).prop_map(Op::Recv),
        2 => (0..8usize).prop_map(Op::Close),
        1 => (0..8usize).prop_map(Op::CloseRecv),
        2 => (0..8usize).prop_map(Op::Drop),
        1 => Just(Op::CloseAccept),
        6 => (0..24u32).prop_map(Op::PeerSend),
        3 => (0..8usize).prop_map(Op::PeerAnswer),
        2 => (0..8usize).prop_map(Op::RaceCloseAccept),
    ]
}

/// What the model knows of one connection the test holds.
struct Held {
    conn: neonet::Conn,
    /// Receiving was closed (close or close_recv).
    recv_closed: bool,
    /// Packets the peer sent on it that it has not taken.
    expected: usize,
}

/// The model: the connections we hold, the state of each peer id.
struct Model {
    held: Vec<Held>,
    /// Peer ids whose connection we accepted and hold open, by id.
    peer_open: BTreeSet<u32>,
    /// Peer ids queued for accept (sent on, not accepted yet), in the
    /// order they came, with the packets each holds.
    pending: Vec<(u32, usize)>,
    /// Peer ids we closed: later packets are answered "connection closed".
    peer_closed: BTreeSet<u32>,
    accepting: bool,
    /// Replies the peer must get, per id: texts in order.
    replies: Vec<(u32, &'static str)>,
    /// Ids refused in a race: each gets "connection refused" once, and
    /// the packet of the race may get another reply (refused, or closed
    /// if it came in while the connection was being freed).
    /// With how many packets the peer sent on each since.
    raced: BTreeMap<u32, usize>,
    sent: u8,
}

impl Model {
    fn index(&self, n: usize) -> Option<usize> {
        (!self.held.is_empty()).then(|| n % self.held.len())
    }
}

/// Runs `ops` against a fresh link with a raw peer, checking the
/// delivery invariant at every receive and the link's replies at the end.
fn run_ops(ops: &[Op]) {
    let (link, peer) = link_with_raw_peer(Kind::Unix, LinkRole::Server);
    let link = Arc::new(link);
    link.set_keep_closed(Duration::from_secs(3600));
    let mut m = Model {
        held: Vec::new(),
        peer_open: BTreeSet::new(),
        pending: Vec::new(),
        peer_closed: BTreeSet::new(),
        accepting: true,
        replies: Vec::new(),
        raced: BTreeMap::new(),
        sent: 0,
    };
    let mut probe = 1_000_000u32;
    let sync = |probe: &mut u32| {
        // Probes are ids of our parity, far from real ones.
        *probe += 2;
        write_raw_packet(&peer, *probe, CODE, &tag(*probe, 0));
        replies_until(&peer, *probe)
    };
    let mut got = Vec::new();
    for op in ops {
        step(&link, &peer, &mut m, op);
        // Let the reader handle what the peer sent before the next step.
        got.extend(sync(&mut probe));
        if matches!(op, Op::RaceCloseAccept(_)) {
            link.set_before_queue_hook(None);
            // The refused connections' objects are free: new connections
            // take them, and must find them empty.
            let reuse: Vec<_> = (0..80).map(|_| link.new_conn().unwrap()).collect();
            for conn in &reuse {
                assert_eq!(take_all(conn), 0, "reused conn {}", conn.id());
            }
        }
    }
    while let Some(h) = m.held.pop() {
        finish(&mut m, h);
        got.extend(sync(&mut probe));
    }
    // What still waits for accept is refused: nothing stays queued.
    step(&link, &peer, &mut m, &Op::CloseAccept);
    got.extend(sync(&mut probe));
    let (raced, got): (Vec<_>, Vec<_>) = got
        .into_iter()
        .partition(|(id, _)| m.raced.contains_key(id));
    check_raced(&m.raced, &raced);
    let want: Vec<_> = m.replies.iter().map(|(i, t)| (*i, t.to_string())).collect();
    assert_eq!(got, want, "replies the peer got");
    assert_eq!(link.stats().queued_bytes, 0, "queued bytes left");
    link.close();
}

/// The replies on ids refused in a race: "connection refused" first, at
/// most one more for the packet of the race (refused, or closed if it came
/// while the connection was being freed), then "refused" for each packet
/// sent later.
#[track_caller]
fn check_raced(ids: &BTreeMap<u32, usize>, replies: &[(u32, String)]) {
    for (id, &later) in ids {
        let texts: Vec<&str> = replies
            .iter()
            .filter(|r| r.0 == *id)
            .map(|r| r.1.as_str())
            .collect();
        let ok = match texts.split_first() {
            Some((&first, rest)) if first == REPLY_REFUSED && rest.len() >= later => {
                let (race, after) = rest.split_at(rest.len() - later);
                race.len() <= 1
                    && race
                        .iter()
                        .all(|t| [REPLY_REFUSED, REPLY_CLOSED].contains(t))
                    && after.iter().all(|t| *t == REPLY_REFUSED)
            }
            _ => false,
        };
        assert!(
            ok,
            "replies on raced id {id} ({later} sent later): {texts:?}"
        );
    }
}

/// Makes the link stop accepting from its reader thread, when the reader
/// is about to queue a packet on connection `id` (once).
fn close_accept_at(link: &Arc<NodeLink>, id: u32) {
    let weak = Arc::downgrade(link);
    link.set_before_queue_hook(Some(Arc::new(move |at| {
        if let Some(link) = weak.upgrade().filter(|_| at == id) {
            link.close_accept();
        }
    })));
}

/// Closes a held connection at the end, keeping the model right.
fn finish(m: &mut Model, h: Held) {
    take_expected(&h, h.expected);
    if h.conn.id() % 2 == 1 {
        m.peer_open.remove(&h.conn.id());
        m.peer_closed.insert(h.conn.id());
    }
    drop(h);
}

/// Takes exactly `n` packets from a held connection, each its own.
#[track_caller]
fn take_expected(h: &Held, n: usize) {
    if h.recv_closed {
        return;
    }
    assert_eq!(take_all(&h.conn), n, "packets on conn {}", h.conn.id());
}

fn step(link: &Arc<NodeLink>, peer: &Raw, m: &mut Model, op: &Op) {
    match *op {
        Op::NewConn => {
            if m.held.len() < 8 {
                let conn = link.new_conn().unwrap();
                m.held.push(Held {
                    conn,
                    recv_closed: false,
                    expected: 0,
                });
            }
        }
        Op::Accept => {
            let Some(&(id, n)) = m.pending.first() else {
                return;
            };
            if !m.accepting || m.held.len() >= 8 {
                return;
            }
            let conn = link.accept().unwrap();
            assert_eq!(conn.id(), id, "accepted out of order");
            m.pending.remove(0);
            m.peer_open.insert(id);
            m.held.push(Held {
                conn,
                recv_closed: false,
                expected: n,
            });
        }
        Op::Recv(n) => {
            if let Some(i) = m.index(n) {
                let h = &mut m.held[i];
                take_expected(h, h.expected);
                h.expected = 0;
            }
        }
        Op::Close(n) | Op::CloseRecv(n) | Op::Drop(n) => {
            let Some(i) = m.index(n) else { return };
            let h = &mut m.held[i];
            let id = h.conn.id();
            let peers = id % 2 == 1;
            if !h.recv_closed && h.expected > 0 {
                // Discarded: answered "connection closed" once.
                m.replies.push((id, REPLY_CLOSED));
            }
            h.recv_closed = true;
            h.expected = 0;
            match op {
                Op::CloseRecv(_) => h.conn.close_recv(),
                Op::Close(_) => {
                    h.conn.close();
                    let h = m.held.remove(i);
                    drop(h);
                    if peers {
                        m.peer_open.remove(&id);
                        m.peer_closed.insert(id);
                    }
                }
                _ => {
                    m.held.remove(i);
                    if peers {
                        m.peer_open.remove(&id);
                        m.peer_closed.insert(id);
                    }
                }
            }
        }
        Op::CloseAccept => {
            link.close_accept();
            if m.accepting {
                for (id, _) in std::mem::take(&mut m.pending) {
                    m.replies.push((id, REPLY_REFUSED));
                }
            }
            m.accepting = false;
        }
        Op::PeerSend(n) => {
            let id = 2 * n + 1;
            m.sent = m.sent.wrapping_add(1);
            write_raw_packet(peer, id, CODE, &tag(id, m.sent));
            if let Some(later) = m.raced.get_mut(&id) {
                // Refused: no entry, the link answers "refused" again.
                *later += 1;
                return;
            }
            if m.peer_closed.contains(&id) {
                m.replies.push((id, REPLY_CLOSED));
            } else if let Some(h) = m.held.iter_mut().find(|h| h.conn.id() == id) {
                if h.recv_closed {
                    m.replies.push((id, REPLY_CLOSED));
                } else {
                    h.expected += 1;
                }
            } else if let Some(q) = m.pending.iter_mut().find(|q| q.0 == id) {
                q.1 += 1;
            } else if m.accepting {
                m.pending.push((id, 1));
            } else {
                m.replies.push((id, REPLY_REFUSED));
            }
        }
        Op::RaceCloseAccept(n) => {
            if !m.accepting || m.pending.is_empty() {
                return;
            }
            let ids: Vec<u32> = m.pending.drain(..).map(|(id, _)| id).collect();
            close_accept_at(link, ids[n % ids.len()]);
            let second: Vec<u8> = ids
                .iter()
                .flat_map(|&id| raw_packet(id, CODE, &tag(id, 0xff)))
                .collect();
            (&*peer).write_all(&second).expect("peer: write");
            m.accepting = false;
            m.raced.extend(ids.into_iter().map(|id| (id, 0)));
        }
        Op::PeerAnswer(n) => {
            let Some(i) = m.index(n) else { return };
            let id = m.held[i].conn.id();
            if id % 2 == 1 {
                return;
            }
            m.sent = m.sent.wrapping_add(1);
            write_raw_packet(peer, id, CODE, &tag(id, m.sent));
            let h = &mut m.held[i];
            if h.recv_closed {
                m.replies.push((id, REPLY_CLOSED));
            } else {
                h.expected += 1;
            }
        }
    }
}

#[test]
fn connection_lifecycle_matches_the_model() {
    watchdog(Duration::from_secs(120), || {
        let config = Config {
            cases: 200,
            rng_seed: RngSeed::Fixed(18),
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        runner
            .run(&proptest::collection::vec(op(), 1..60), |ops| {
                run_ops(&ops);
                Ok(())
            })
            .unwrap();
    });
}
