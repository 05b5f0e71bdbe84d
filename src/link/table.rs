//! The connection table of a link: live connections by id with the
//! sender of each one's receive queue, tombstones of closed ones, id
//! allocation (see the crate docs, "Connection ids"), the accept queue's
//! sender, and a free list of connection objects for reuse.
//!
//! Entries are keyed by the connection's id for those we open, and by
//! [`PEER`]` | id` for those the peer opens. On a protocol 6 link the
//! parity of ids keeps the two apart already; on a NEO/py link each
//! side numbers its requests from 0, so the peer's request 5 and
//! our request 5 are two different exchanges, and the key tells them
//! apart. There, our ids follow one another (+1, not +2), and an entry
//! of the peer's is one request or notification waiting for `NodeLink::recv`,
//! keyed by a sequence number above its id, as NEO/py's msg_ids repeat
//! (`peer_key`).
//!
//! The table owns the only long-lived sender of every queue: dropping it
//! is how a queue closes (see `conn`'s module docs). The reader thread
//! clones one for the packet it delivers, outside the table lock.

use std::cmp::Reverse;
use std::collections::{hash_map, BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::state::{ConnKind, ConnState};
use crate::codec::wire::Wire;
use crate::link::LinkRole;
use crate::packet::Packet;
use crate::queue::QueueTx;

/// Set in the table key of a connection the peer opened (see the module
/// docs).
pub(crate) const PEER: u64 = 1 << 32;

/// The sequence numbers of NEO/py peer keys: 31 bits above `PEER`.
const PEER_SEQ_MASK: u32 = (1 << 31) - 1;

/// How many closed connection objects a link keeps for reuse. Enough for
/// the requests in flight of a busy link; a bound so a burst does not pin
/// memory forever.
const FREE_LIST_MAX: usize = 128;

/// Number of ids of one parity: the most connections one side can open.
pub(crate) const IDS_PER_PARITY: usize = 1 << 31;

/// Hashes a connection id with one multiplication and a rotation: SipHash
/// was a visible part of the per-packet cost (callgrind). The table
/// (hashbrown) picks buckets with the *low* bits of the hash, where a
/// product of odd numbers keeps the id's parity: all ids of one side would
/// fall in half of the buckets. The rotation brings the product's high
/// bits, which sequential ids spread best, down to where they are used.
/// A peer can choose the ids of the connections it opens and so make them
/// collide, but every link has a table of its own: such a peer only slows
/// down its own link.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u32(&mut self, id: u32) {
        self.write_u64(u64::from(id));
    }

    fn write_u64(&mut self, v: u64) {
        // Fibonacci hashing: spreads sequential ids over the high bits.
        self.0 = (self.0 ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0.rotate_left(32)
    }
}

type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// A connection in use.
pub(crate) struct Live {
    pub(crate) conn: Arc<ConnState>,
    /// The sender of its receive queue; `None` once receiving is closed
    /// (which woke its receivers).
    pub(crate) tx: Option<QueueTx<Packet>>,
}

/// What the table knows of an id.
pub(crate) enum Entry {
    /// A connection in use.
    Live(Live),
    /// A connection the peer opened and we closed, until this deadline:
    /// later packets to it are answered "connection closed" instead of
    /// opening a new connection.
    Tombstone(Instant),
    /// A keepalive `Ping` of the link itself: its answer is consumed.
    Ping,
}

/// The accept queue's sender.
pub(crate) type AcceptTx = QueueTx<Arc<ConnState>>;

/// The connection table. Lives under the link's table mutex, which is never
/// held across a blocking call.
pub(crate) struct ConnTable {
    /// How our ids follow one another: 2 (by parity, protocol 6) or 1 (in
    /// sequence, NEO/py).
    step: u32,
    /// The link never answers what comes to our exchanges (NEO/py).
    ours_quiet: bool,
    entries: IdMap<Entry>,
    /// Tombstones by deadline, soonest first (a min-heap: `keep_closed`
    /// can change, so creation order is not expiry order). Expired ones are
    /// dropped whenever the table is used, so they never accumulate.
    tombstones: BinaryHeap<Reverse<(Instant, u64)>>,
    next_id: u32,
    /// Live connections we opened (ids of our parity), keepalive pings
    /// included.
    ours: usize,
    /// Live connections the peer opened.
    theirs: usize,
    /// At most this many of ours: `IDS_PER_PARITY`, lower only in tests.
    limit: usize,
    /// Closed connection objects whose queue is still connected, with its
    /// sender, for reuse.
    free: Vec<(Arc<ConnState>, QueueTx<Packet>)>,
    /// The accept queue's sender; `None` once we stopped accepting.
    accept_tx: Option<AcceptTx>,
    /// Set when the link closed or went down: nothing is added any more,
    /// so no queue can be left open on a dead link.
    dead: bool,
    /// The link's count of queued bytes (see `ConnState::reset`).
    queued: Arc<AtomicUsize>,
    /// The next sequence number of a NEO/py peer key (see `peer_key`).
    peer_seq: u32,
}

/// Error of `ConnTable::new_conn`.
pub(crate) struct NoFreeId;

impl ConnTable {
    /// A table for the `role` end of a link of dialect `W`.
    pub(crate) fn new<W: Wire>(
        role: LinkRole,
        accept_tx: AcceptTx,
        queued: Arc<AtomicUsize>,
    ) -> ConnTable {
        ConnTable {
            step: W::ID_STEP,
            ours_quiet: W::OURS_QUIET,
            entries: IdMap::default(),
            tombstones: BinaryHeap::new(),
            next_id: W::first_id(role),
            ours: 0,
            theirs: 0,
            limit: IDS_PER_PARITY,
            free: Vec::new(),
            accept_tx: Some(accept_tx),
            dead: false,
            queued,
            peer_seq: 0,
        }
    }

    /// What the table holds for `key`, after dropping expired tombstones.
    pub(crate) fn get(&mut self, key: u64) -> Option<&Entry> {
        self.purge_expired();
        self.entries.get(&key)
    }

    /// A new connection with the next free id of ours, whose receives are
    /// bounded by `timeout`; a conversation if `stream` (see
    /// `conn::STREAM`).
    pub(crate) fn new_conn(
        &mut self,
        timeout: Option<Duration>,
        stream: bool,
    ) -> Result<Arc<ConnState>, NoFreeId> {
        let id = self.alloc_id()?;
        let quiet = self.ours_quiet;
        Ok(self.insert_live(u64::from(id), timeout, ConnKind { quiet, stream }))
    }

    /// An id of ours for a keepalive `Ping`.
    pub(crate) fn new_ping(&mut self) -> Option<u32> {
        let id = self.alloc_id().ok()?;
        self.entries.insert(u64::from(id), Entry::Ping);
        Some(id)
    }

    /// Forgets a keepalive `Ping` (answered, or replaced by the next).
    pub(crate) fn remove_ping(&mut self, id: u32) {
        let key = u64::from(id);
        if matches!(self.entries.get(&key), Some(Entry::Ping)) {
            self.entries.remove(&key);
            self.ours -= 1;
        }
    }

    /// The next free id of ours, counted as ours: the next of our parity
    /// (protocol 6), or simply the next (NEO/py).
    fn alloc_id(&mut self) -> Result<u32, NoFreeId> {
        if self.ours >= self.limit || self.dead {
            return Err(NoFreeId);
        }
        let step = self.step;
        // Terminates: fewer than 2^31 ids of ours are in use, and
        // tombstones and the peer's entries have other keys.
        let id = loop {
            let id = self.next_id;
            self.next_id = id.wrapping_add(step);
            if !self.entries.contains_key(&u64::from(id)) {
                break id;
            }
        };
        self.ours += 1;
        Ok(id)
    }

    /// A new connection for `id`, opened by the peer, with the accept
    /// queue's sender to queue it on; `None` if we do not accept (or the
    /// link is dead). `keyed`: later packets with its id are looked up
    /// under it (protocol 6); else it is an exchange of one packet
    /// (NEO/py), keyed apart whatever its id. `quiet`: the link never
    /// answers it (a NEO/py notification, which expects no answer).
    pub(crate) fn new_peer_conn(
        &mut self,
        id: u32,
        keyed: bool,
        timeout: Option<Duration>,
        quiet: bool,
    ) -> Option<(Arc<ConnState>, QueueTx<Packet>, AcceptTx)> {
        let accept_tx = self.accept_tx.clone()?;
        let key = self.peer_key(id, keyed);
        self.theirs += 1;
        let kind = ConnKind {
            quiet,
            stream: false,
        };
        let (conn, tx) = self.take_free(key, timeout, kind);
        let live = Live {
            conn: conn.clone(),
            tx: Some(tx.clone()),
        };
        self.entries.insert(key, Entry::Live(live));
        Some((conn, tx, accept_tx))
    }

    /// The key of a new connection the peer opens with `id`. `keyed`
    /// (protocol 6): the id itself (the router made sure it is free).
    /// Else (NEO/py) the peer's packets are each an exchange of their own,
    /// never looked up by id, and their ids may repeat while an earlier
    /// one is still held (a peer that streams notifications under one
    /// msg_id, or reuses an id): a sequence number above the id keeps each
    /// apart, while the low 32 bits stay the msg_id a reply carries.
    fn peer_key(&mut self, id: u32, keyed: bool) -> u64 {
        let id = u64::from(id);
        if keyed {
            debug_assert!(!self.entries.contains_key(&(PEER | id)));
            return PEER | id;
        }
        loop {
            let key = PEER | (u64::from(self.peer_seq) << 33) | id;
            self.peer_seq = (self.peer_seq + 1) & PEER_SEQ_MASK;
            if !self.entries.contains_key(&key) {
                return key;
            }
        }
    }

    /// Live connections the peer opened.
    pub(crate) fn peer_conns(&self) -> usize {
        self.theirs
    }

    fn insert_live(
        &mut self,
        key: u64,
        timeout: Option<Duration>,
        kind: ConnKind,
    ) -> Arc<ConnState> {
        let (conn, tx) = self.take_free(key, timeout, kind);
        let live = Live {
            conn: conn.clone(),
            tx: Some(tx),
        };
        self.entries.insert(key, Entry::Live(live));
        conn
    }

    /// A reset connection object: a recycled one if nobody else still
    /// holds it, else a new one.
    fn take_free(
        &mut self,
        key: u64,
        timeout: Option<Duration>,
        kind: ConnKind,
    ) -> (Arc<ConnState>, QueueTx<Packet>) {
        if let Some((c, _)) = self.free.last() {
            // Only the table can hand out new references to a freed conn,
            // and it is locked: a count of 1 cannot grow under us.
            if Arc::strong_count(c) == 1 {
                let (c, tx) = self.free.pop().expect("checked");
                c.reset(key, timeout, kind, &self.queued);
                return (c, tx);
            }
        }
        ConnState::new(key, timeout, kind)
    }

    /// The live entry of `conn`, if it is still the one for its id.
    fn live_mut(&mut self, conn: &Arc<ConnState>) -> Option<&mut Live> {
        match self.entries.get_mut(&conn.key()) {
            Some(Entry::Live(l)) if Arc::ptr_eq(&l.conn, conn) => Some(l),
            _ => None,
        }
    }

    /// Closes `conn`'s queue (drops its sender), waking its receivers;
    /// it stays in the table.
    pub(crate) fn disconnect(&mut self, conn: &Arc<ConnState>) -> Option<QueueTx<Packet>> {
        self.live_mut(conn).and_then(|l| l.tx.take())
    }

    /// Forgets `conn` if it is still the live one for its id; leaves a
    /// tombstone for `keep` if the peer opened it and `keep` is set; keeps
    /// the object for reuse if asked and its queue is still connected.
    /// Returns the sender if it was not kept, for the caller to drop
    /// outside the lock (dropping the last one wakes receivers).
    pub(crate) fn remove(
        &mut self,
        conn: &Arc<ConnState>,
        keep: Option<Duration>,
        recycle: bool,
    ) -> Option<QueueTx<Packet>> {
        let key = conn.key();
        // One lookup: this is on the per-request path.
        let hash_map::Entry::Occupied(mut entry) = self.entries.entry(key) else {
            return None;
        };
        let tx = match entry.get_mut() {
            Entry::Live(l) if Arc::ptr_eq(&l.conn, conn) => l.tx.take(),
            _ => return None,
        };
        // Ours need no tombstone (their parity, or the answer bit, tells),
        // except a conversation whose peer may go on streaming under it.
        let keep = keep.filter(|k| !k.is_zero() && (key & PEER != 0 || conn.is_stream()));
        match keep {
            Some(keep) => {
                let deadline = Instant::now() + keep;
                entry.insert(Entry::Tombstone(deadline));
                self.tombstones.push(Reverse((deadline, key)));
            }
            None => {
                entry.remove();
            }
        }
        if key & PEER == 0 {
            self.ours -= 1;
        } else {
            self.theirs -= 1;
        }
        if keep.is_some() {
            self.purge_expired();
        }
        match tx {
            Some(tx) if recycle && !self.dead && self.free.len() < FREE_LIST_MAX => {
                self.free.push((conn.clone(), tx));
                None
            }
            tx => tx,
        }
    }

    /// Forgets the tombstone of `key`, if it has one (the answer that
    /// ends a conversation we gave up came).
    pub(crate) fn remove_tombstone(&mut self, key: u64) {
        if matches!(self.entries.get(&key), Some(Entry::Tombstone(_))) {
            self.entries.remove(&key);
        }
    }

    /// Stops accepting: returns the accept queue's sender to drop.
    pub(crate) fn stop_accepting(&mut self) -> Option<AcceptTx> {
        self.accept_tx.take()
    }

    fn purge_expired(&mut self) {
        let Some(&Reverse((first, _))) = self.tombstones.peek() else {
            return;
        };
        let now = Instant::now();
        if first > now {
            return;
        }
        while let Some(&Reverse((deadline, id))) = self.tombstones.peek() {
            if deadline > now {
                break;
            }
            self.tombstones.pop();
            // The id may have been reused since: remove only this tombstone.
            if matches!(self.entries.get(&id), Some(Entry::Tombstone(d)) if *d == deadline) {
                self.entries.remove(&id);
            }
        }
    }

    /// The link closed or went down: empties the table and marks it dead.
    /// Returns the queues' senders (dropping them wakes every receiver)
    /// and the accept queue's.
    pub(crate) fn kill(&mut self) -> (Vec<QueueTx<Packet>>, Option<AcceptTx>) {
        self.dead = true;
        self.tombstones.clear();
        self.ours = 0;
        self.theirs = 0;
        self.free.clear();
        let txs = self
            .entries
            .drain()
            .filter_map(|(_, e)| match e {
                Entry::Live(l) => l.tx,
                _ => None,
            })
            .collect();
        (txs, self.accept_tx.take())
    }

    /// The live connections holding queued bytes, most first.
    pub(crate) fn by_queued(&self) -> Vec<(usize, Arc<ConnState>)> {
        let mut v: Vec<_> = self
            .entries
            .values()
            .filter_map(|e| match e {
                // A conversation holds no more than its limit: the reader
                // waits for room rather than overflowing it.
                Entry::Live(l) if l.tx.is_some() && l.conn.queued() > 0 && !l.conn.is_stream() => {
                    Some((l.conn.queued(), l.conn.clone()))
                }
                _ => None,
            })
            .collect();
        v.sort_unstable_by_key(|e| std::cmp::Reverse(e.0));
        v
    }

    /// (live connections, tombstones), after dropping expired tombstones.
    pub(crate) fn counts(&mut self) -> (usize, usize) {
        self.purge_expired();
        let tombstones = self
            .entries
            .values()
            .filter(|e| matches!(e, Entry::Tombstone(_)))
            .count();
        let pings = self
            .entries
            .values()
            .filter(|e| matches!(e, Entry::Ping))
            .count();
        (self.entries.len() - tombstones - pings, tombstones)
    }

    /// Tests: the next id to try (must have our parity on a protocol 6
    /// link).
    #[cfg(feature = "test-hooks")]
    pub(crate) fn set_next_id(&mut self, id: u32) {
        assert!(
            // Our ids all have the parity of the next one.
            self.step == 1 || id % 2 == self.next_id % 2,
            "conn id {id} does not have our parity"
        );
        self.next_id = id;
    }

    /// Tests: at most `limit` connections of ours at once.
    #[cfg(feature = "test-hooks")]
    pub(crate) fn set_limit(&mut self, limit: usize) {
        self.limit = limit.min(IDS_PER_PARITY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    /// Ids of either parity, taken in sequence as a side allocates them,
    /// spread over the buckets a table of that size picks by the low bits.
    #[test]
    fn ids_of_one_parity_use_all_buckets() {
        let build = BuildHasherDefault::<IdHasher>::default();
        for first in [0u32, 1] {
            let buckets: HashSet<u64> = (0..1024u32)
                .map(|i| build.hash_one(first + 2 * i) & 1023)
                .collect();
            // A multiply-only hash reaches 512 at most here (the buckets
            // of one parity); a random one about 647 (1024 × (1 − 1/e)).
            assert!(
                buckets.len() > 600,
                "parity {first}: {} buckets",
                buckets.len()
            );
        }
    }
}
