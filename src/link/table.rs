//! The connection table of a link: live connections by id, tombstones of
//! closed ones, id allocation (DESIGN §2) and a free list of connection
//! objects for reuse.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::conn::ConnState;
use crate::link::LinkRole;

/// How many closed connection objects a link keeps for reuse. Enough for
/// the requests in flight of a busy link; a bound so a burst does not pin
/// memory forever.
const FREE_LIST_MAX: usize = 128;

/// Number of ids of one parity: the most connections one side can open.
pub(crate) const IDS_PER_PARITY: usize = 1 << 31;

/// Hashes a connection id with one multiplication: SipHash was a visible
/// part of the per-packet cost (callgrind). A peer can choose the ids of the
/// connections it opens and so make them collide, but every link has a
/// table of its own: such a peer only slows down its own link.
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
        // Fibonacci hashing: spreads sequential ids over the high bits,
        // which the table uses.
        self.0 = (self.0 ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type IdMap<V> = HashMap<u32, V, BuildHasherDefault<IdHasher>>;

/// What the table knows of an id.
pub(crate) enum Entry {
    /// A connection in use.
    Live(Arc<ConnState>),
    /// A connection the peer opened and we closed, until this deadline:
    /// later packets to it are answered "connection closed" instead of
    /// opening a new connection.
    Tombstone(Instant),
}

/// The connection table. Lives under the link's table mutex, which is never
/// held across a blocking call.
pub(crate) struct ConnTable {
    role: LinkRole,
    entries: IdMap<Entry>,
    /// Tombstones by deadline, soonest first (a min-heap: `keep_closed`
    /// can change, so creation order is not expiry order). Expired ones are
    /// dropped whenever the table is used, so they never accumulate.
    tombstones: BinaryHeap<Reverse<(Instant, u32)>>,
    next_id: u32,
    /// Live connections we opened (ids of our parity).
    ours: usize,
    /// At most this many of ours: `IDS_PER_PARITY`, lower only in tests.
    limit: usize,
    free: Vec<Arc<ConnState>>,
}

/// Error of `ConnTable::new_conn`.
pub(crate) struct NoFreeId;

impl ConnTable {
    pub(crate) fn new(role: LinkRole) -> ConnTable {
        ConnTable {
            role,
            entries: IdMap::default(),
            tombstones: BinaryHeap::new(),
            next_id: role.first_id(),
            ours: 0,
            limit: IDS_PER_PARITY,
            free: Vec::new(),
        }
    }

    /// Whether `id` has our parity (we allocate it).
    pub(crate) fn is_ours(&self, id: u32) -> bool {
        self.role.owns(id)
    }

    /// What the table holds for `id`, after dropping expired tombstones.
    pub(crate) fn get(&mut self, id: u32) -> Option<&Entry> {
        self.purge_expired();
        self.entries.get(&id)
    }

    /// A new connection with the next free id of our parity.
    pub(crate) fn new_conn(&mut self) -> Result<Arc<ConnState>, NoFreeId> {
        if self.ours >= self.limit {
            return Err(NoFreeId);
        }
        // Terminates: fewer than 2^31 ids of our parity are in use, and
        // tombstones only hold ids of the peer's parity.
        let id = loop {
            let id = self.next_id;
            self.next_id = id.wrapping_add(2);
            if !self.entries.contains_key(&id) {
                break id;
            }
        };
        self.ours += 1;
        Ok(self.insert_live(id))
    }

    /// A new connection for `id`, opened by the peer.
    pub(crate) fn new_peer_conn(&mut self, id: u32) -> Arc<ConnState> {
        debug_assert!(!self.is_ours(id));
        self.insert_live(id)
    }

    fn insert_live(&mut self, id: u32) -> Arc<ConnState> {
        let conn = self.take_free(id);
        self.entries.insert(id, Entry::Live(conn.clone()));
        conn
    }

    /// A reset connection object: a recycled one if nobody else still
    /// holds it, else a new one.
    fn take_free(&mut self, id: u32) -> Arc<ConnState> {
        if let Some(c) = self.free.last() {
            // Only the table can hand out new references to a freed conn,
            // and it is locked: a count of 1 cannot grow under us.
            if Arc::strong_count(c) == 1 {
                let c = self.free.pop().expect("checked");
                c.reset(id);
                return c;
            }
        }
        Arc::new(ConnState::new(id))
    }

    /// Forgets `conn` if it is still the live one for its id; leaves a
    /// tombstone for `keep` if the peer opened it and `keep` is set.
    pub(crate) fn remove(&mut self, conn: &Arc<ConnState>, keep: Option<Duration>) {
        let id = conn.id();
        match self.entries.get(&id) {
            Some(Entry::Live(c)) if Arc::ptr_eq(c, conn) => {}
            _ => return,
        }
        if self.is_ours(id) {
            self.entries.remove(&id);
            self.ours -= 1;
            return;
        }
        match keep {
            Some(keep) if !keep.is_zero() => {
                let deadline = Instant::now() + keep;
                self.entries.insert(id, Entry::Tombstone(deadline));
                self.tombstones.push(Reverse((deadline, id)));
                self.purge_expired();
            }
            _ => {
                self.entries.remove(&id);
            }
        }
    }

    /// Keeps `conn` for reuse by a later connection.
    pub(crate) fn recycle(&mut self, conn: Arc<ConnState>) {
        if self.free.len() < FREE_LIST_MAX {
            self.free.push(conn);
        }
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

    /// Every live connection, and the table emptied (link closed).
    pub(crate) fn drain_live(&mut self) -> Vec<Arc<ConnState>> {
        self.tombstones.clear();
        self.ours = 0;
        self.free.clear();
        self.entries
            .drain()
            .filter_map(|(_, e)| match e {
                Entry::Live(c) => Some(c),
                Entry::Tombstone(_) => None,
            })
            .collect()
    }

    /// Every live connection (to wake them).
    pub(crate) fn live(&self) -> Vec<Arc<ConnState>> {
        self.entries
            .values()
            .filter_map(|e| match e {
                Entry::Live(c) => Some(c.clone()),
                Entry::Tombstone(_) => None,
            })
            .collect()
    }

    /// (live connections, tombstones), after dropping expired tombstones.
    pub(crate) fn counts(&mut self) -> (usize, usize) {
        self.purge_expired();
        let live = self
            .entries
            .values()
            .filter(|e| matches!(e, Entry::Live(_)))
            .count();
        (live, self.entries.len() - live)
    }

    /// Tests: the next id to try (must have our parity).
    pub(crate) fn set_next_id(&mut self, id: u32) {
        assert!(self.is_ours(id), "conn id {id} does not have our parity");
        self.next_id = id;
    }

    /// Tests: at most `limit` connections of ours at once.
    pub(crate) fn set_limit(&mut self, limit: usize) {
        self.limit = limit.min(IDS_PER_PARITY);
    }
}
