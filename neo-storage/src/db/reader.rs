//! One connection and the queries of the read path (and the reads the
//! transaction manager, verification and replication need).
//!
//! The queries are NEO/py's (`neo/storage/database/sqlite.py`), so that
//! they use the same indexes: `obj` by (partition, oid, tid), `trans` by
//! (partition, tid). Statements are prepared once per connection and kept
//! in its cache. Oids and tids are SQLite's signed 64-bit integers; NEO
//! never uses values of 2^63 and above (NEO/py's `MAX_TID` is 2^63 − 1),
//! and bounds past it are clamped ([`sql_int`]).

use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::info::{connect, sqlite_err};
use super::DbError;

/// An object record (`obj` joined with `data`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRecord {
    /// The record's tid (its serial).
    pub serial: u64,
    /// 1 for zlib, 0 for none; `None` when the record has no data.
    pub compression: Option<u8>,
    /// SHA-1 of the stored bytes; `None` when the record has no data (its
    /// object's creation was undone).
    pub hash: Option<Vec<u8>>,
    /// The stored bytes, as the client gets them; `None` as for `hash`.
    pub data: Option<Vec<u8>>,
    /// For a record made by undo: the tid whose data it reuses.
    pub value_tid: Option<u64>,
    /// The tid of the object's next record, if any.
    pub next_serial: Option<u64>,
}

/// A transaction record (`trans`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnRecord {
    /// The oids it changed, 8 bytes each, big-endian, concatenated.
    pub oids: Vec<u8>,
    /// `user` of the ZODB transaction.
    pub user: Vec<u8>,
    /// `description`.
    pub description: Vec<u8>,
    /// `extension`, pickled.
    pub ext: Vec<u8>,
    /// Whether a pack changed it.
    pub packed: bool,
}

/// A row of `pack`: a pack order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackOrderRow {
    /// The pack id (the tid of the pack transaction).
    pub id: u64,
    /// Not signed (`None`), rejected or approved.
    pub approved: Option<bool>,
    /// Whether only some oids are packed.
    pub partial: bool,
    /// Those oids, concatenated as in `trans.oids`.
    pub oids: Option<Vec<u8>>,
    /// The tid to pack at.
    pub pack_tid: u64,
}

/// What undo needs to know of an object around the transaction undone
/// (NEO/py's `_getObjectHistoryForUndo`): the tid of the record before it,
/// and the (tid, value_tid) of each record after it, in tid order.
pub type UndoHistory = (Option<u64>, Vec<(u64, Option<u64>)>);

/// A NEO tid or oid as an SQLite integer, bounds past 2^63 − 1 clamped.
pub fn sql_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// One connection to a NEO/py database, with its statements; it only
/// reads (`query_only`).
#[derive(Debug)]
pub struct Reader {
    conn: Connection,
    /// Set while the connection keeps one read transaction across
    /// queries ([`Reader::keep_snapshot`]).
    snapshot: Option<Snapshot>,
}

/// A read transaction kept open while nothing is committed: each
/// statement outside a transaction begins and ends a read transaction of
/// its own (the WAL index read under the shared-memory mutex every
/// connection takes, the first page checked again), which costs more than
/// the lookup of a small object.
///
/// A read transaction kept open also keeps the WAL from being
/// checkpointed past it and from starting over: a snapshot is kept only
/// after [`QUIET`] without a commit (the writer checkpoints once idle,
/// [`super::writer`]), and whenever something is committed the reader
/// goes back to a transaction per statement, so that commits find the
/// WAL as they do without snapshots.
#[derive(Debug)]
struct Snapshot {
    commits: Commits,
    /// The commit count the open read transaction began after, if one is
    /// open.
    held: Cell<Option<u64>>,
}

/// How long after the last commit readers keep read transactions open
/// again.
pub const QUIET: Duration = Duration::from_millis(200);

/// The count of the writer's commits, which tells a kept read transaction
/// that it would not see everything committed, and when the last was.
#[derive(Debug, Clone)]
pub struct Commits(Arc<CommitsInner>);

#[derive(Debug)]
struct CommitsInner {
    count: AtomicU64,
    /// Time of the last commit, in ns since `base`.
    last: AtomicU64,
    base: Instant,
}

impl Default for Commits {
    fn default() -> Commits {
        Commits(Arc::new(CommitsInner {
            count: AtomicU64::new(0),
            last: AtomicU64::new(0),
            base: Instant::now(),
        }))
    }
}

impl Commits {
    /// Counts one commit: called once it is done, before anything that
    /// follows from it (an answer, an unlock) is made known.
    pub fn committed(&self) {
        let c = &self.0;
        c.last.store(nanos(c.base.elapsed()), Ordering::Release);
        c.count.fetch_add(1, Ordering::Release);
    }

    /// The count now.
    pub fn now(&self) -> u64 {
        self.0.count.load(Ordering::Acquire)
    }

    /// Whether the last commit is at least [`QUIET`] old.
    fn quiet(&self) -> bool {
        let c = &self.0;
        let last = c.last.load(Ordering::Acquire);
        nanos(c.base.elapsed()).saturating_sub(last) >= nanos(QUIET)
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The query of an object record (`obj` LEFT JOIN `data`), ending with
/// `$tail`: a literal, so that the hot path builds no string.
macro_rules! object_sql {
    ($tail:literal) => {
        concat!(
            "SELECT tid, compression, data.hash, value, value_tid, ",
            "(SELECT o.tid FROM obj AS o WHERE o.partition=obj.partition AND o.oid=obj.oid ",
            "AND o.tid>obj.tid ORDER BY o.tid LIMIT 1) ",
            "FROM obj LEFT JOIN data ON obj.data_id = data.id WHERE partition=? AND oid=?",
            $tail
        )
    };
}

impl Reader {
    /// Opens a connection to `path` (already checked by
    /// [`open`](super::open)) that only reads.
    pub fn open(path: &Path) -> Result<Reader, DbError> {
        let conn = connect(path)?;
        conn.pragma_update(None, "query_only", true)
            .map_err(|e| sqlite_err(path, e))?;
        Reader::with(conn).map_err(|e| sqlite_err(path, e))
    }

    /// Wraps `conn` (the writer's, which reads too).
    pub(super) fn with(conn: Connection) -> rusqlite::Result<Reader> {
        conn.set_prepared_statement_cache_capacity(64);
        // Reads go through the OS page cache, mapped, instead of being
        // copied into each connection's own cache: every serving thread
        // then shares one copy of the hot pages.
        conn.pragma_update(None, "mmap_size", 1i64 << 40)?;
        Ok(Reader {
            conn,
            snapshot: None,
        })
    }

    /// The connection.
    pub(super) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// From now on, once nothing was committed for [`QUIET`], queries
    /// share one read transaction until the next commit counted by
    /// `commits` (every query still sees everything committed before it
    /// starts), or until [`release_snapshot`](Self::release_snapshot):
    /// whoever sets this releases the snapshot before waiting long.
    pub fn keep_snapshot(&mut self, commits: &Commits) {
        self.release_snapshot();
        self.snapshot = Some(Snapshot {
            commits: commits.clone(),
            held: Cell::new(None),
        });
    }

    /// Ends the read transaction kept open, if any; queries still share
    /// the next one.
    pub fn release_snapshot(&self) {
        if let Some(s) = &self.snapshot {
            s.held.set(None);
            if !self.conn.is_autocommit() {
                // Fails only with a statement in progress, which no method
                // leaves behind; the next query ends it then.
                if let Err(e) = self.conn.execute_batch("COMMIT") {
                    log::warn!("ending a read transaction: {e}");
                }
            }
        }
    }

    /// Whether a read transaction is kept open now.
    pub fn holds_snapshot(&self) -> bool {
        self.snapshot
            .as_ref()
            .is_some_and(|s| s.held.get().is_some())
    }

    /// Stops keeping read transactions open.
    pub fn drop_snapshot(&mut self) {
        self.release_snapshot();
        self.snapshot = None;
    }

    /// The connection, for a query: with a kept snapshot, a read
    /// transaction open since the last commit (or a new one).
    fn db(&self) -> rusqlite::Result<&Connection> {
        if let Some(s) = &self.snapshot {
            let now = s.commits.now();
            // SQLite ends a transaction itself on some errors.
            let open = !self.conn.is_autocommit();
            if !(open && s.held.get() == Some(now)) {
                s.held.set(None);
                if open {
                    self.conn.execute_batch("COMMIT")?;
                }
                if s.commits.quiet() {
                    // Deferred: the snapshot is taken by the first read,
                    // after `now` was read, so it sees every commit counted
                    // up to `now`.
                    self.conn.execute_batch("BEGIN")?;
                    s.held.set(Some(now));
                }
            }
        }
        Ok(&self.conn)
    }

    /// The record of `oid` at exactly `at`, or else the last one before
    /// `before`, or else the last one; with the serial of the next record
    /// (one statement: a subquery on the same index).
    pub fn object(
        &self,
        partition: u32,
        oid: u64,
        at: Option<u64>,
        before: Option<u64>,
    ) -> rusqlite::Result<Option<ObjectRecord>> {
        let (p, o) = (partition, sql_int(oid));
        let row = |r: &Row<'_>| object_record(r);
        if let Some(at) = at {
            self.db()?
                .prepare_cached(object_sql!(" AND tid=?"))?
                .query_row(params![p, o, sql_int(at)], row)
                .optional()
        } else if let Some(before) = before {
            self.db()?
                .prepare_cached(object_sql!(" AND tid<? ORDER BY tid DESC LIMIT 1"))?
                .query_row(params![p, o, sql_int(before)], row)
                .optional()
        } else {
            self.db()?
                .prepare_cached(object_sql!(" ORDER BY tid DESC LIMIT 1"))?
                .query_row(params![p, o], row)
                .optional()
        }
    }

    /// The tid of the last record of `oid`, if it has any.
    pub fn last_serial(&self, partition: u32, oid: u64) -> rusqlite::Result<Option<u64>> {
        self.db()?
            .prepare_cached(
                "SELECT tid FROM obj WHERE partition=? AND oid=? ORDER BY tid DESC LIMIT 1",
            )?
            .query_row(params![partition, sql_int(oid)], |r| r.get::<_, i64>(0))
            .optional()
            .map(|t| t.map(|t| t as u64))
    }

    /// (serial, size of the stored data or 0) of the records of `oid`,
    /// newest first, skipping `offset`, at most `length`.
    pub fn history(
        &self,
        partition: u32,
        oid: u64,
        offset: i64,
        length: i64,
    ) -> rusqlite::Result<Vec<(u64, i64)>> {
        let mut stmt = self.db()?.prepare_cached(
            "SELECT tid, LENGTH(value) FROM obj LEFT JOIN data ON obj.data_id = data.id \
             WHERE partition=? AND oid=? ORDER BY tid DESC LIMIT ?,?",
        )?;
        let rows = stmt.query_map(params![partition, sql_int(oid), offset, length], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, Option<i64>>(1)?.unwrap_or(0),
            ))
        })?;
        rows.collect()
    }

    /// The transaction `tid`, if committed here.
    pub fn transaction(&self, partition: u32, tid: u64) -> rusqlite::Result<Option<TxnRecord>> {
        self.db()?
            .prepare_cached(
                "SELECT oids, user, description, ext, packed FROM trans WHERE partition=? AND tid=?",
            )?
            .query_row(params![partition, sql_int(tid)], |r| {
                Ok(TxnRecord {
                    oids: r.get(0)?,
                    user: r.get(1)?,
                    description: r.get(2)?,
                    ext: r.get(3)?,
                    packed: r.get(4)?,
                })
            })
            .optional()
    }

    /// Tids of `partitions`, newest first, skipping `offset`, at most
    /// `length`.
    pub fn tids(&self, partitions: &[u32], offset: i64, length: i64) -> rusqlite::Result<Vec<u64>> {
        let list: Vec<String> = partitions.iter().map(u32::to_string).collect();
        let sql = format!(
            "SELECT tid FROM trans WHERE partition IN ({}) ORDER BY tid DESC LIMIT ?,?",
            list.join(",")
        );
        let mut stmt = self.db()?.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![offset, length], |r| r.get::<_, i64>(0))?;
        rows.map(|t| t.map(|t| t as u64)).collect()
    }

    /// Tids of `partition` in `min..=max`, oldest first, at most `length`.
    pub fn tids_from(
        &self,
        partition: u32,
        min: u64,
        max: u64,
        length: u32,
    ) -> rusqlite::Result<Vec<u64>> {
        let mut stmt = self.db()?.prepare_cached(
            "SELECT tid FROM trans WHERE partition=? AND ?<=tid AND tid<=? ORDER BY tid ASC LIMIT ?",
        )?;
        let rows = stmt.query_map(
            params![partition, sql_int(min), sql_int(max), length],
            |r| r.get::<_, i64>(0),
        )?;
        rows.map(|t| t.map(|t| t as u64)).collect()
    }

    /// The oids of `partition` from `min_oid` on, as of `tid`, at most
    /// `length`, each with whether its record then has data.
    pub fn oids_from(
        &self,
        partition: u32,
        min_oid: u64,
        tid: u64,
        length: u32,
    ) -> rusqlite::Result<Vec<(u64, bool)>> {
        let mut stmt = self.db()?.prepare_cached(
            "SELECT oid, data_id FROM obj JOIN (\
             SELECT partition, oid, MAX(tid) AS tid FROM obj \
             WHERE partition=? AND oid>=? AND tid<=? GROUP BY oid ORDER BY oid LIMIT ?\
             ) AS t USING (partition, oid, tid)",
        )?;
        let rows = stmt.query_map(
            params![partition, sql_int(min_oid), sql_int(tid), length],
            |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, Option<i64>>(1)?.is_some(),
                ))
            },
        )?;
        rows.collect()
    }

    /// What undo needs to know of `oid` around `undo_tid` ([`UndoHistory`]),
    /// or `None` if `oid` has no record at `undo_tid`.
    pub fn undo_history(
        &self,
        partition: u32,
        oid: u64,
        undo_tid: u64,
    ) -> rusqlite::Result<Option<UndoHistory>> {
        let (o, u) = (sql_int(oid), sql_int(undo_tid));
        let mut stmt = self.db()?.prepare_cached(
            "SELECT tid FROM obj WHERE partition=? AND oid=? AND tid<=? ORDER BY tid DESC LIMIT 2",
        )?;
        let two: Vec<i64> = stmt
            .query_map(params![partition, o, u], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if two.first() != Some(&u) {
            return Ok(None);
        }
        let mut stmt = self.db()?.prepare_cached(
            "SELECT tid, value_tid FROM obj WHERE partition=? AND oid=? AND tid>? ORDER BY tid",
        )?;
        let after = stmt
            .query_map(params![partition, o, u], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, Option<i64>>(1)?.map(|t| t as u64),
                ))
            })?
            .collect::<Result<_, _>>()?;
        Ok(Some((two.get(1).map(|&t| t as u64), after)))
    }

    /// The last committed tid of `partition`.
    pub fn last_tid(&self, partition: u32) -> rusqlite::Result<Option<u64>> {
        self.db()?
            .prepare_cached("SELECT MAX(tid) FROM trans WHERE partition=?")?
            .query_row(params![partition], |r| r.get::<_, Option<i64>>(0))
            .map(|t| t.map(|t| t as u64))
    }

    /// The first committed tid of `partition`.
    pub fn first_tid(&self, partition: u32) -> rusqlite::Result<Option<u64>> {
        self.db()?
            .prepare_cached("SELECT MIN(tid) FROM trans WHERE partition=?")?
            .query_row(params![partition], |r| r.get::<_, Option<i64>>(0))
            .map(|t| t.map(|t| t as u64))
    }

    /// The largest tid and oid of the object records of `partition`.
    pub fn last_object_ids(&self, partition: u32) -> rusqlite::Result<(Option<u64>, Option<u64>)> {
        self.db()?
            .prepare_cached("SELECT MAX(tid), MAX(oid) FROM obj WHERE partition=?")?
            .query_row(params![partition], |r| {
                Ok((
                    r.get::<_, Option<i64>>(0)?.map(|t| t as u64),
                    r.get::<_, Option<i64>>(1)?.map(|o| o as u64),
                ))
            })
    }

    /// The tid under which transaction `ttid` was committed, if it was.
    pub fn final_tid(&self, partition: u32, ttid: u64) -> rusqlite::Result<Option<u64>> {
        let t = sql_int(ttid);
        self.db()?
            .prepare_cached(
                "SELECT tid FROM trans WHERE partition=? AND tid>=? AND ttid=? LIMIT 1",
            )?
            .query_row(params![partition, t, t], |r| r.get::<_, i64>(0))
            .optional()
            .map(|t| t.map(|t| t as u64))
    }

    /// The pack orders of id ≥ `min_id` whose id falls in one of
    /// `partitions` (of `np`), by id.
    pub fn pack_orders(
        &self,
        min_id: u64,
        np: u32,
        partitions: &[u32],
    ) -> rusqlite::Result<Vec<PackOrderRow>> {
        let list: Vec<String> = partitions.iter().map(u32::to_string).collect();
        let sql = format!(
            "SELECT tid, approved, partial, oids, pack_tid FROM pack \
             WHERE tid >= ? AND tid % {np} IN ({}) ORDER BY tid",
            list.join(",")
        );
        let mut stmt = self.db()?.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![sql_int(min_id)], |r| {
            Ok(PackOrderRow {
                id: r.get::<_, i64>(0)? as u64,
                approved: r.get(1)?,
                partial: r.get(2)?,
                oids: r.get(3)?,
                pack_tid: r.get::<_, Option<i64>>(4)?.unwrap_or(0) as u64,
            })
        })?;
        rows.collect()
    }

    /// NEO/py's `getUnfinishedTIDDict`: the transactions voted here and
    /// not unlocked (`tobj`, `ttrans`), by ttid, with the tid of those
    /// locked (`ttrans.tid`).
    pub fn unfinished(&self) -> rusqlite::Result<Vec<(u64, Option<u64>)>> {
        let mut out = std::collections::BTreeMap::new();
        let mut stmt = self.db()?.prepare_cached("SELECT DISTINCT tid FROM tobj")?;
        for ttid in stmt.query_map([], |r| r.get::<_, i64>(0))? {
            out.insert(ttid? as u64, None);
        }
        let mut stmt = self.db()?.prepare_cached("SELECT ttid, tid FROM ttrans")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Option<i64>>(1)?))
        })?;
        for row in rows {
            let (ttid, tid) = row?;
            out.insert(ttid, tid.map(|t| t as u64));
        }
        Ok(out.into_iter().collect())
    }

    /// Whether `oid` has a record at `tid` (what an undo reuses), and its
    /// data id (`None` inside: the record has no data).
    pub fn data_id(
        &self,
        partition: u32,
        oid: u64,
        tid: u64,
    ) -> rusqlite::Result<Option<Option<i64>>> {
        self.db()?
            .prepare_cached("SELECT data_id FROM obj WHERE partition=? AND oid=? AND tid=?")?
            .query_row(params![partition, sql_int(oid), sql_int(tid)], |r| r.get(0))
            .optional()
    }

    /// NEO/py's `getReplicationObjectList`: (serial, oid) of the records of
    /// `partition` from (`min_tid`, `min_oid`) to `max_tid`, by tid then
    /// oid, at most `length`.
    pub fn replication_objects(
        &self,
        partition: u32,
        min_tid: u64,
        max_tid: u64,
        length: u32,
        min_oid: u64,
    ) -> rusqlite::Result<Vec<(u64, u64)>> {
        if max_tid < min_tid || length == 0 {
            return Ok(Vec::new());
        }
        let pair = |r: &Row<'_>| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64));
        let mut out: Vec<(u64, u64)> = self
            .conn
            .prepare_cached(
                "SELECT tid, oid FROM obj WHERE partition=? AND tid=? AND ?<=oid \
                 ORDER BY tid ASC, oid ASC LIMIT ?",
            )?
            .query_map(
                params![partition, sql_int(min_tid), sql_int(min_oid), length],
                pair,
            )?
            .collect::<Result<_, _>>()?;
        let left = length as usize - out.len();
        if left > 0 {
            let mut stmt = self.db()?.prepare_cached(
                "SELECT tid, oid FROM obj WHERE partition=? AND ?<tid AND tid<=? \
                 ORDER BY tid ASC, oid ASC LIMIT ?",
            )?;
            let rows = stmt.query_map(
                params![partition, sql_int(min_tid), sql_int(max_tid), left as i64],
                pair,
            )?;
            for row in rows {
                out.push(row?);
            }
        }
        Ok(out)
    }

    /// NEO/py's `fetchObject`: the record of `oid` at exactly `tid`, for
    /// replication (no next serial).
    pub fn fetch_object(
        &self,
        partition: u32,
        oid: u64,
        tid: u64,
    ) -> rusqlite::Result<Option<ObjectRecord>> {
        self.db()?
            .prepare_cached(
                "SELECT tid, compression, data.hash, value, value_tid, NULL \
                 FROM obj LEFT JOIN data ON obj.data_id = data.id \
                 WHERE partition=? AND oid=? AND tid=?",
            )?
            .query_row(
                params![partition, sql_int(oid), sql_int(tid)],
                object_record,
            )
            .optional()
    }

    /// The transaction `tid` with its ttid and the pack order it carries,
    /// for replication (NEO/py's `getTransaction`).
    pub fn replication_transaction(
        &self,
        partition: u32,
        tid: u64,
    ) -> rusqlite::Result<Option<(TxnRecord, u64, Option<PackOrderRow>)>> {
        self.db()?
            .prepare_cached(
                "SELECT trans.oids, user, description, ext, packed, ttid, \
                 approved, partial, pack.oids, pack_tid \
                 FROM trans LEFT JOIN pack USING (tid) WHERE partition=? AND tid=?",
            )?
            .query_row(params![partition, sql_int(tid)], |r| {
                let txn = TxnRecord {
                    oids: r.get(0)?,
                    user: r.get(1)?,
                    description: r.get(2)?,
                    ext: r.get(3)?,
                    packed: r.get(4)?,
                };
                let pack = r
                    .get::<_, Option<bool>>(7)?
                    .map(|partial| -> rusqlite::Result<_> {
                        Ok(PackOrderRow {
                            id: tid,
                            approved: r.get(6)?,
                            partial,
                            oids: r.get(8)?,
                            pack_tid: r.get::<_, Option<i64>>(9)?.unwrap_or(0) as u64,
                        })
                    });
                Ok((txn, r.get::<_, i64>(5)? as u64, pack.transpose()?))
            })
            .optional()
    }

    /// This node's cells as saved: partition, `pt.tid` (`-state`, or the
    /// tid an OUT_OF_DATE cell is replicated up to).
    pub fn own_cells(&self, nid: i32) -> rusqlite::Result<Vec<(u32, i64)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT partition, tid FROM pt WHERE nid=? ORDER BY partition")?;
        let rows = stmt.query_map([nid], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }

    /// The last pack completed on this node's cell of `partition`
    /// (`pt.pack`), if the cell has one.
    pub fn cell_pack(&self, partition: u32, nid: i32) -> rusqlite::Result<Option<u64>> {
        self.db()?
            .prepare_cached("SELECT pack FROM pt WHERE partition=? AND nid=?")?
            .query_row(params![partition, nid], |r| r.get::<_, Option<i64>>(0))
            .optional()
            .map(|p| p.flatten().map(|p| p as u64))
    }
}

fn object_record(r: &Row<'_>) -> rusqlite::Result<ObjectRecord> {
    Ok(ObjectRecord {
        serial: r.get::<_, i64>(0)? as u64,
        compression: r.get::<_, Option<i64>>(1)?.map(|c| c as u8),
        hash: r.get(2)?,
        data: r.get(3)?,
        value_tid: r.get::<_, Option<i64>>(4)?.map(|t| t as u64),
        next_serial: r.get::<_, Option<i64>>(5)?.map(|t| t as u64),
    })
}
