//! Databases in NEO/py's schema (version 4), built as NEO/py's SQLite
//! storage writes them, for the tests.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use rusqlite::{params, Connection};

/// NEO/py's tables, as its `SQLiteDatabaseManager._setup` creates them.
const SCHEMA: &str = "
CREATE TABLE config (name TEXT NOT NULL PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE pt (partition INTEGER NOT NULL, nid INTEGER NOT NULL, tid INTEGER NOT NULL,
    pack INTEGER, PRIMARY KEY (partition, nid)) WITHOUT ROWID;
CREATE TABLE pack (tid INTEGER PRIMARY KEY, approved BOOLEAN, partial BOOLEAN NOT NULL,
    oids BLOB, pack_tid INTEGER);
CREATE TABLE trans (partition INTEGER NOT NULL, tid INTEGER NOT NULL, packed BOOLEAN NOT NULL,
    oids BLOB NOT NULL, user BLOB NOT NULL, description BLOB NOT NULL, ext BLOB NOT NULL,
    ttid INTEGER NOT NULL, PRIMARY KEY (partition, tid)) WITHOUT ROWID;
CREATE TABLE obj (partition INTEGER NOT NULL, oid INTEGER NOT NULL, tid INTEGER NOT NULL,
    data_id INTEGER, value_tid INTEGER, PRIMARY KEY (partition, oid, tid)) WITHOUT ROWID;
CREATE INDEX _obj_i1 ON obj(partition, tid, oid);
CREATE INDEX _obj_i2 ON obj(data_id);
CREATE TABLE data (id INTEGER PRIMARY KEY, hash BLOB NOT NULL, compression INTEGER NOT NULL,
    value BLOB NOT NULL);
CREATE TABLE ttrans (partition INTEGER NOT NULL, tid INTEGER, packed BOOLEAN NOT NULL,
    oids BLOB NOT NULL, user BLOB NOT NULL, description BLOB NOT NULL, ext BLOB NOT NULL,
    ttid INTEGER NOT NULL);
CREATE TABLE tobj (partition INTEGER NOT NULL, oid INTEGER NOT NULL, tid INTEGER NOT NULL,
    data_id INTEGER, value_tid INTEGER, PRIMARY KEY (tid, oid)) WITHOUT ROWID;
";

/// A directory removed with everything in it when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty directory under the system's temporary directory.
    pub fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("neo-storage-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// `name` inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// SHA-1 of `data`: NEO's checksum.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data);
    d.as_ref().try_into().unwrap()
}

/// `data` zlib-compressed, as NEO/py's client compresses records.
pub fn zlib(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// What an object record holds.
#[derive(Debug, Clone)]
pub enum Rec<'a> {
    /// Stored bytes, uncompressed.
    Raw(&'a [u8]),
    /// Stored bytes, zlib (compression 1): the bytes given are the stored ones.
    Zlib(&'a [u8]),
    /// The data of another record of the same object (undo): value_tid.
    Undo(u64),
    /// No data: the object's creation undone (data_id NULL).
    Gone,
}

/// A database being built.
#[derive(Debug)]
pub struct TestDb {
    /// The file.
    pub path: PathBuf,
    conn: Connection,
    partitions: u64,
    next_data: Vec<i64>,
}

impl TestDb {
    /// A database of cluster `cluster`, node `nid`, with `partitions`
    /// partitions whose cells are all this node's, UP_TO_DATE, ptid 1.
    pub fn new(path: &Path, cluster: &str, nid: i32, partitions: u32) -> TestDb {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        let db = TestDb {
            path: path.into(),
            conn,
            partitions: u64::from(partitions),
            next_data: (0..partitions).map(|p| i64::from(p) << 48).collect(),
        };
        for (k, v) in [
            ("version", "4"),
            ("name", cluster),
            ("nid", &nid.to_string()),
            ("ptid", "1"),
            ("replicas", "0"),
        ] {
            db.config(k, Some(v));
        }
        for p in 0..partitions {
            db.cell(p, nid, -1, Some(0));
        }
        db
    }

    /// Sets (or with `None` deletes) a `config` value.
    pub fn config(&self, name: &str, value: Option<&str>) {
        self.conn
            .execute("DELETE FROM config WHERE name=?", [name])
            .unwrap();
        if let Some(v) = value {
            self.conn
                .execute("INSERT INTO config VALUES (?,?)", [name, v])
                .unwrap();
        }
    }

    /// Sets a `pt` row: `tid` is −state, or a tid ≥ 0 for this node's
    /// OUT_OF_DATE cells.
    pub fn cell(&self, partition: u32, nid: i32, tid: i64, pack: Option<i64>) {
        self.conn
            .execute(
                "REPLACE INTO pt VALUES (?,?,?,?)",
                params![partition, nid, tid, pack],
            )
            .unwrap();
    }

    /// Runs `sql` as is.
    pub fn exec(&self, sql: &str) {
        self.conn.execute_batch(sql).unwrap();
    }

    /// Commits transaction `tid` changing `oids`.
    pub fn txn(&self, tid: u64, oids: &[u64], user: &[u8], desc: &[u8], ext: &[u8]) {
        let oid_bytes: Vec<u8> = oids.iter().flat_map(|o| o.to_be_bytes()).collect();
        self.conn
            .execute(
                "INSERT INTO trans VALUES (?,?,?,?,?,?,?,?)",
                params![
                    (tid % self.partitions) as i64,
                    tid as i64,
                    false,
                    oid_bytes,
                    user,
                    desc,
                    ext,
                    tid as i64
                ],
            )
            .unwrap();
    }

    /// Adds the record of `oid` at `tid`.
    pub fn obj(&mut self, oid: u64, tid: u64, rec: Rec<'_>) {
        let p = oid % self.partitions;
        let (data_id, value_tid) = match rec {
            Rec::Raw(d) => (Some(self.data(p, 0, d)), None),
            Rec::Zlib(d) => (Some(self.data(p, 1, d)), None),
            Rec::Undo(from) => (self.data_id(oid, from), Some(from as i64)),
            Rec::Gone => (None, None),
        };
        self.conn
            .execute(
                "INSERT INTO obj VALUES (?,?,?,?,?)",
                params![p as i64, oid as i64, tid as i64, data_id, value_tid],
            )
            .unwrap();
    }

    fn data(&mut self, partition: u64, compression: u8, stored: &[u8]) -> i64 {
        let id = self.next_data[partition as usize];
        self.next_data[partition as usize] += 1;
        self.conn
            .execute(
                "INSERT INTO data VALUES (?,?,?,?)",
                params![id, sha1(stored).to_vec(), compression, stored],
            )
            .unwrap();
        id
    }

    fn data_id(&self, oid: u64, tid: u64) -> Option<i64> {
        self.conn
            .query_row(
                "SELECT data_id FROM obj WHERE oid=? AND tid=?",
                params![oid as i64, tid as i64],
                |r| r.get(0),
            )
            .unwrap()
    }
}
