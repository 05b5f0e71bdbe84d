//! The writes, as NEO/py's storage makes them (`sqlite.py`, `manager.py`):
//! a vote into `tobj`/`ttrans`, a lock, an unlock into `obj`/`trans`, an
//! abort, the partition table and `config`, and what replication adds
//! and deletes. They run on the writer's connection only ([`WriteConn`]),
//! inside the writer's transaction.

use std::collections::HashMap;

use neonet::neopy::Data;
use rusqlite::{params, OptionalExtension};

use super::reader::sql_int;
use super::WriteConn;

/// The data of an object revision to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredData {
    /// Bytes as the client sent them (possibly zlib-compressed), with
    /// their SHA-1: a new `data` row.
    Bytes {
        /// 1 for zlib, 0 for none.
        compression: u8,
        /// SHA-1 of `data`.
        hash: [u8; 20],
        /// The bytes (as they came in the client's packet).
        data: Data,
    },
    /// No data: the object is deleted (or its creation undone).
    Nothing,
    /// The data of the object's record at this tid (an undo reuses it).
    /// If there is no such record (a cell being replicated may not have it
    /// yet), the bytes given with it, if any.
    Undo(u64, Option<Box<StoredData>>),
}

/// An object revision of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewObject {
    /// The object.
    pub oid: u64,
    /// Its data.
    pub data: StoredData,
    /// For an undo: the tid whose data it reuses (`obj.value_tid`).
    pub value_tid: Option<u64>,
}

/// The metadata of a transaction (a `trans` row).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxnMeta {
    /// The objects it changed.
    pub oids: Vec<u64>,
    /// ZODB's `user`.
    pub user: Vec<u8>,
    /// ZODB's `description`.
    pub desc: Vec<u8>,
    /// ZODB's `extension`, pickled.
    pub ext: Vec<u8>,
    /// Whether a pack changed it.
    pub packed: bool,
    /// Its temporary id.
    pub ttid: u64,
}

/// A cell to save (NEO/py's `_changePartitionTable` rows): `tid` as the
/// `pt.tid` column holds it, `None` to delete the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellRow {
    /// The partition.
    pub partition: u32,
    /// The node.
    pub nid: i32,
    /// `-state`, a tid ≥ 0 for this node's OUT_OF_DATE cells, or `None`:
    /// no cell.
    pub tid: Option<i64>,
    /// `pt.pack`, for this node's new cells.
    pub pack: Option<u64>,
}

fn oids_blob(oids: &[u64]) -> Vec<u8> {
    oids.iter().flat_map(|o| o.to_be_bytes()).collect()
}

impl WriteConn {
    /// The number of partitions (1 + the largest in `pt`), as NEO/py's
    /// `_getPartition` uses it.
    pub fn partitions(&mut self) -> rusqlite::Result<u64> {
        if let Some(np) = self.np {
            return Ok(np);
        }
        let max: Option<i64> = self
            .conn()
            .query_row("SELECT MAX(partition) FROM pt", [], |r| r.get(0))?;
        let np = max.map_or(1, |m| m as u64 + 1);
        self.np = Some(np);
        Ok(np)
    }

    fn partition(&mut self, id: u64) -> rusqlite::Result<u32> {
        Ok((id % self.partitions()?) as u32)
    }

    /// A new `data` row in the id range of `partition` (NEO/py's
    /// `partition << 48 | n`).
    fn insert_data(
        &mut self,
        partition: u32,
        compression: u8,
        hash: &[u8],
        data: &[u8],
    ) -> rusqlite::Result<i64> {
        let id = match self.data_ids.get(&partition) {
            Some(&id) => id,
            None => {
                let base = i64::from(partition) << 48;
                let max: Option<i64> = self.conn().query_row(
                    "SELECT MAX(id) FROM data WHERE ? <= id AND id < ?",
                    params![base, base + (1 << 48)],
                    |r| r.get(0),
                )?;
                max.map_or(base, |m| m + 1)
            }
        };
        self.conn()
            .prepare_cached("INSERT INTO data VALUES (?,?,?,?)")?
            .execute(params![id, hash, compression, data])?;
        self.data_ids.insert(partition, id + 1);
        Ok(id)
    }

    /// NEO/py's `storeData`: the data id of `data` for `oid`.
    fn data_id(&mut self, oid: u64, data: &StoredData) -> rusqlite::Result<Option<i64>> {
        let p = self.partition(oid)?;
        match data {
            StoredData::Bytes {
                compression,
                hash,
                data,
            } => self
                .insert_data(p, *compression, hash, data.as_slice())
                .map(Some),
            StoredData::Nothing => Ok(None),
            StoredData::Undo(tid, fallback) => {
                let found: Option<Option<i64>> = self
                    .conn()
                    .prepare_cached(
                        "SELECT data_id FROM obj WHERE partition=? AND oid=? AND tid=?",
                    )?
                    .query_row(params![p, sql_int(oid), sql_int(*tid)], |r| r.get(0))
                    .optional()?;
                match (found, fallback) {
                    (Some(id), _) => Ok(id),
                    (None, Some(d)) => self.data_id(oid, d),
                    (None, None) => Ok(None),
                }
            }
        }
    }

    /// NEO/py's `storeTransaction`: the objects of transaction `tid`
    /// (the ttid for a vote), and its metadata if given, into
    /// `tobj`/`ttrans` (`temporary`) or `obj`/`trans` (replication).
    pub fn store_transaction(
        &mut self,
        tid: u64,
        objects: &[NewObject],
        txn: Option<&TxnMeta>,
        temporary: bool,
    ) -> rusqlite::Result<()> {
        let t = if temporary { "t" } else { "" };
        for o in objects {
            let p = self.partition(o.oid)?;
            if !temporary && self.has_object(p, o.oid, tid)? {
                // What an interrupted replication already wrote.
                continue;
            }
            let data_id = self.data_id(o.oid, &o.data)?;
            let row = params![
                p,
                sql_int(o.oid),
                sql_int(tid),
                data_id,
                o.value_tid.map(sql_int)
            ];
            let inserted = self
                .conn()
                .prepare_cached(&format!("INSERT OR IGNORE INTO {t}obj VALUES (?,?,?,?,?)"))?
                .execute(row)?;
            if inserted == 0 && temporary {
                // A vote stores each oid once: a second row is a bug.
                return Err(rusqlite::Error::StatementChangedRows(0));
            }
        }
        if let Some(m) = txn {
            let p = self.partition(tid)?;
            self.conn()
                .prepare_cached(&format!(
                    "INSERT OR {} INTO {t}trans VALUES (?,?,?,?,?,?,?,?)",
                    if temporary { "FAIL" } else { "REPLACE" }
                ))?
                .execute(params![
                    p,
                    (!temporary).then_some(sql_int(tid)),
                    m.packed,
                    oids_blob(&m.oids),
                    m.user,
                    m.desc,
                    m.ext,
                    sql_int(m.ttid)
                ])?;
        }
        Ok(())
    }

    fn has_object(&self, partition: u32, oid: u64, tid: u64) -> rusqlite::Result<bool> {
        self.conn()
            .prepare_cached("SELECT 1 FROM obj WHERE partition=? AND oid=? AND tid=?")?
            .query_row(params![partition, sql_int(oid), sql_int(tid)], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
    }

    /// NEO/py's `storePackOrder`.
    pub fn store_pack_order(
        &mut self,
        tid: u64,
        approved: Option<bool>,
        partial: bool,
        oids: Option<&[u64]>,
        pack_tid: u64,
    ) -> rusqlite::Result<()> {
        self.conn()
            .prepare_cached("INSERT OR REPLACE INTO pack VALUES (?,?,?,?,?)")?
            .execute(params![
                sql_int(tid),
                approved,
                partial,
                oids.map(oids_blob),
                sql_int(pack_tid)
            ])
            .map(drop)
    }

    /// NEO/py's `lockTransaction`: the voted transaction `ttid` gets its
    /// tid.
    pub fn lock(&mut self, tid: u64, ttid: u64, pack: bool) -> rusqlite::Result<()> {
        self.conn()
            .prepare_cached("UPDATE ttrans SET tid=? WHERE ttid=?")?
            .execute(params![sql_int(tid), sql_int(ttid)])?;
        if pack {
            self.conn()
                .prepare_cached("UPDATE pack SET approved=1 WHERE tid=?")?
                .execute(params![sql_int(ttid)])?;
        }
        Ok(())
    }

    /// NEO/py's `unlockTransaction`: the transaction moves from
    /// `ttrans`/`tobj` to `trans`/`obj` (its metadata if `trans`, its
    /// objects if `obj`), under its tid.
    pub fn unlock(
        &mut self,
        tid: u64,
        ttid: u64,
        trans: bool,
        obj: bool,
        pack: bool,
    ) -> rusqlite::Result<()> {
        let (tid, ttid) = (sql_int(tid), sql_int(ttid));
        let c = self.conn();
        if trans {
            c.prepare_cached("INSERT OR REPLACE INTO trans SELECT * FROM ttrans WHERE tid=?")?
                .execute([tid])?;
            if pack {
                c.prepare_cached("UPDATE pack SET tid=? WHERE tid=?")?
                    .execute([tid, ttid])?;
            }
            c.prepare_cached("DELETE FROM ttrans WHERE tid=?")?
                .execute([tid])?;
        }
        if obj {
            c.prepare_cached(
                "INSERT OR REPLACE INTO obj \
                 SELECT partition, oid, ?, data_id, value_tid FROM tobj WHERE tid=?",
            )?
            .execute([tid, ttid])?;
            c.prepare_cached("DELETE FROM tobj WHERE tid=?")?
                .execute([ttid])?;
        }
        Ok(())
    }

    /// NEO/py's `abortTransaction` with the release of its data: what
    /// `ttid` voted goes, and its data rows that nothing else uses.
    pub fn abort(&mut self, ttid: u64) -> rusqlite::Result<()> {
        let t = sql_int(ttid);
        let ids = self.ids(
            "SELECT data_id FROM tobj WHERE tid=? AND data_id IS NOT NULL",
            t,
        )?;
        self.conn()
            .prepare_cached("DELETE FROM tobj WHERE tid=?")?
            .execute([t])?;
        self.conn()
            .prepare_cached("DELETE FROM ttrans WHERE ttid=?")?
            .execute([t])?;
        self.prune(&ids)
    }

    /// NEO/py's `dropUnfinishedData`: whatever is left of transactions
    /// that were not validated, once the cluster is operational.
    pub fn drop_unfinished(&mut self) -> rusqlite::Result<()> {
        let mut stmt = self
            .conn()
            .prepare("SELECT data_id FROM tobj WHERE data_id IS NOT NULL")?;
        let ids: Vec<i64> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        drop(stmt);
        self.conn().execute_batch(
            "DELETE FROM tobj; \
             DELETE FROM pack WHERE tid IN (SELECT tid FROM ttrans JOIN pack USING (tid)); \
             DELETE FROM ttrans;",
        )?;
        self.prune(&ids)
    }

    fn ids(&self, sql: &str, arg: i64) -> rusqlite::Result<Vec<i64>> {
        let mut stmt = self.conn().prepare_cached(sql)?;
        let rows = stmt.query_map([arg], |r| r.get(0))?;
        rows.collect()
    }

    /// NEO/py's `_pruneData`: deletes the data rows of `ids` that no
    /// object record (committed or voted) uses.
    fn prune(&self, ids: &[i64]) -> rusqlite::Result<()> {
        let mut stmt = self.conn().prepare_cached(
            "DELETE FROM data WHERE id=? \
             AND NOT EXISTS (SELECT 1 FROM obj WHERE data_id=?) \
             AND NOT EXISTS (SELECT 1 FROM tobj WHERE data_id=?)",
        )?;
        for id in ids {
            stmt.execute([id, id, id])?;
        }
        Ok(())
    }

    /// Sets (`None`: deletes) a `config` value.
    pub fn set_config(&mut self, name: &str, value: Option<&str>) -> rusqlite::Result<()> {
        match value {
            Some(v) => self
                .conn()
                .execute("REPLACE INTO config VALUES (?,?)", [name, v]),
            None => self
                .conn()
                .execute("DELETE FROM config WHERE name=?", [name]),
        }
        .map(drop)
    }

    /// NEO/py's `_changePartitionTable`: saves `cells`; with `reset`, the
    /// rows not among them go.
    pub fn change_partition_table(
        &mut self,
        cells: &[CellRow],
        reset: bool,
    ) -> rusqlite::Result<()> {
        if reset {
            let keep: std::collections::HashSet<(u32, i32)> = cells
                .iter()
                .filter(|c| c.tid.is_some())
                .map(|c| (c.partition, c.nid))
                .collect();
            let mut stmt = self.conn().prepare("SELECT partition, nid FROM pt")?;
            let all: Vec<(u32, i32)> = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            drop(stmt);
            for key in all.into_iter().filter(|k| !keep.contains(k)) {
                self.delete_cell(key.0, key.1)?;
            }
        }
        for c in cells {
            match c.tid {
                None => self.delete_cell(c.partition, c.nid)?,
                Some(tid) => self.save_cell(c, tid)?,
            }
        }
        self.np = None;
        Ok(())
    }

    fn delete_cell(&self, partition: u32, nid: i32) -> rusqlite::Result<()> {
        self.conn()
            .prepare_cached("DELETE FROM pt WHERE partition=? AND nid=?")?
            .execute(params![partition, nid])
            .map(drop)
    }

    /// An existing row keeps its `pack` (NEO/py updates `tid` only).
    fn save_cell(&self, c: &CellRow, tid: i64) -> rusqlite::Result<()> {
        let updated = self
            .conn()
            .prepare_cached("UPDATE pt SET tid=? WHERE partition=? AND nid=?")?
            .execute(params![tid, c.partition, c.nid])?;
        if updated == 0 {
            self.conn()
                .prepare_cached("INSERT INTO pt VALUES (?,?,?,?)")?
                .execute(params![c.partition, c.nid, tid, c.pack.map(sql_int)])?;
        }
        Ok(())
    }

    /// NEO/py's `setUUID`: the node id the master gave, its cells
    /// renumbered.
    pub fn set_nid(&mut self, old: Option<i32>, nid: i32) -> rusqlite::Result<()> {
        if let Some(old) = old.filter(|&o| o != nid) {
            self.conn().execute("DELETE FROM pt WHERE nid=?", [nid])?;
            self.conn()
                .execute("UPDATE pt SET nid=? WHERE nid=?", [nid, old])?;
        }
        self.set_config("nid", Some(&nid.to_string()))
    }

    /// NEO/py's `deleteTransaction` (replication: the source does not
    /// have it).
    pub fn delete_transaction(&mut self, tid: u64) -> rusqlite::Result<()> {
        let p = self.partition(tid)?;
        let t = sql_int(tid);
        self.conn()
            .prepare_cached("DELETE FROM pack WHERE tid=?")?
            .execute([t])?;
        self.conn()
            .prepare_cached("DELETE FROM trans WHERE partition=? AND tid=?")?
            .execute(params![p, t])
            .map(drop)
    }

    /// NEO/py's `deleteObject(oid, serial)` (replication).
    pub fn delete_object(&mut self, oid: u64, serial: u64) -> rusqlite::Result<()> {
        let p = self.partition(oid)?;
        let args = params![p, sql_int(oid), sql_int(serial)];
        let id: Option<Option<i64>> = self
            .conn()
            .prepare_cached("SELECT data_id FROM obj WHERE partition=? AND oid=? AND tid=?")?
            .query_row(args, |r| r.get(0))
            .optional()?;
        self.conn()
            .prepare_cached("DELETE FROM obj WHERE partition=? AND oid=? AND tid=?")?
            .execute(args)?;
        self.prune(&id.flatten().into_iter().collect::<Vec<_>>())
    }

    /// NEO/py's `updateCompletedPackByReplication`: the source's last
    /// pack, if older than this cell's (the packs it missed are redone).
    pub fn update_cell_pack(
        &mut self,
        partition: u32,
        nid: i32,
        pack: u64,
    ) -> rusqlite::Result<()> {
        self.conn()
            .prepare_cached("UPDATE pt SET pack=? WHERE partition=? AND nid=? AND pack>?")?
            .execute(params![sql_int(pack), partition, nid, sql_int(pack)])
            .map(drop)
    }

    /// NEO/py's `dropPartitionsTemporary`: what was voted in partitions
    /// this node lost.
    pub fn drop_partitions_temporary(&mut self, partitions: &[u32]) -> rusqlite::Result<()> {
        for &p in partitions {
            let ids = self.ids(
                "SELECT data_id FROM tobj WHERE partition=? AND data_id IS NOT NULL",
                i64::from(p),
            )?;
            let c = self.conn();
            c.execute("DELETE FROM tobj WHERE partition=?", [p])?;
            c.execute(
                "DELETE FROM pack WHERE tid IN \
                 (SELECT tid FROM ttrans JOIN pack USING (tid) WHERE partition=?)",
                [p],
            )?;
            c.execute("DELETE FROM ttrans WHERE partition=?", [p])?;
            self.prune(&ids)?;
        }
        Ok(())
    }

    /// NEO/py's `updateCellTID`: this node's OUT_OF_DATE cell of
    /// `partition` has everything up to `tid`.
    pub fn update_cell_tid(&mut self, partition: u32, nid: i32, tid: u64) -> rusqlite::Result<()> {
        self.conn()
            .prepare_cached("UPDATE pt SET tid=? WHERE partition=? AND nid=? AND tid>=0")?
            .execute(params![sql_int(tid), partition, nid])
            .map(drop)
    }

    /// NEO/py's `changePartitionTable`: saves the cells the master sent
    /// (`cells`: partition, node, state; with `reset`, the whole table),
    /// with `ptid` and `replicas`, for node `nid`. This node's OUT_OF_DATE
    /// cells keep (or, if they were readable, start from) the tid they
    /// are replicated up to; the data of partitions it lost goes.
    pub fn apply_partition_table(
        &mut self,
        nid: i32,
        ptid: i64,
        replicas: u32,
        cells: &[(u32, i32, u8)],
        reset: bool,
    ) -> rusqlite::Result<()> {
        let mine = self.own_cells(nid)?;
        let mut rows = Vec::with_capacity(cells.len());
        let mut dropped = Vec::new();
        let mut assigned = std::collections::HashSet::new();
        for &(partition, cell_nid, state) in cells {
            let (tid, pack) = if state == DISCARDED {
                if cell_nid == nid {
                    dropped.push(partition);
                }
                (None, None)
            } else if cell_nid != nid {
                (Some(-i64::from(state)), None)
            } else {
                assigned.insert(partition);
                let tid = if state != OUT_OF_DATE {
                    -i64::from(state)
                } else {
                    self.outdated_tid(partition, mine.get(&partition).copied())?
                };
                (Some(tid), Some(0))
            };
            rows.push(CellRow {
                partition,
                nid: cell_nid,
                tid,
                pack,
            });
        }
        if reset {
            let max = cells.iter().map(|c| c.0 + 1).max().unwrap_or(0);
            dropped.extend((0..max).filter(|p| !assigned.contains(p)));
        }
        dropped.retain(|p| !assigned.contains(p));
        self.change_partition_table(&rows, reset)?;
        for p in dropped {
            self.drop_partition(p)?;
        }
        self.set_config("ptid", Some(&ptid.to_string()))?;
        self.set_config("replicas", Some(&replicas.to_string()))
    }

    fn own_cells(&self, nid: i32) -> rusqlite::Result<HashMap<u32, i64>> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT partition, tid FROM pt WHERE nid=?")?;
        let rows = stmt.query_map([nid], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }

    /// The `pt.tid` of this node's OUT_OF_DATE cell of `partition`, given
    /// its previous value: kept if it was out of date already, 0 for a new
    /// cell, the last tid it has if it was readable.
    fn outdated_tid(&self, partition: u32, previous: Option<i64>) -> rusqlite::Result<i64> {
        match previous {
            Some(t) if t >= 0 => Ok(t),
            Some(t) if -t == i64::from(UP_TO_DATE) || -t == i64::from(FEEDING) => {
                let r = self.reader();
                let obj = r.last_object_ids(partition)?.0;
                let trans = r.last_tid(partition)?;
                Ok(obj.max(trans).map_or(0, |t| t as i64))
            }
            _ => Ok(0),
        }
    }

    /// NEO/py's `_dropPartition`, all at once: the objects, data and
    /// transactions of a partition this node lost.
    fn drop_partition(&mut self, partition: u32) -> rusqlite::Result<()> {
        let ids = self.ids(
            "SELECT DISTINCT data_id FROM obj WHERE partition=? AND data_id IS NOT NULL",
            i64::from(partition),
        )?;
        let c = self.conn();
        c.execute("DELETE FROM obj WHERE partition=?", [partition])?;
        c.execute(
            "DELETE FROM pack WHERE tid IN \
             (SELECT tid FROM trans JOIN pack USING (tid) WHERE partition=?)",
            [partition],
        )?;
        c.execute("DELETE FROM trans WHERE partition=?", [partition])?;
        self.prune(&ids)
    }
}

/// NEO's cell states, as `pt` saves them.
const OUT_OF_DATE: u8 = 0;
const UP_TO_DATE: u8 = 1;
const FEEDING: u8 = 2;
/// NEO's `DISCARDED` (never saved: the cell goes).
pub const DISCARDED: u8 = 4;
