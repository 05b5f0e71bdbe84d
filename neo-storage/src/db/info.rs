//! Opening a database: the checks, and what the node reads once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::{DbError, SCHEMA_VERSION, TABLES};

/// A row of NEO/py's `pt` table: one cell of the partition table as the
/// storage last saved it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PtRow {
    /// The partition (row of the table).
    pub partition: u32,
    /// The node holding the cell.
    pub nid: i32,
    /// The cell state (NEO's `CellStates` value: 0 OUT_OF_DATE, 1
    /// UP_TO_DATE, 2 FEEDING, 3 CORRUPTED). The column holds `-state`, or
    /// for this node's OUT_OF_DATE cells a tid ≥ 0 to replicate from.
    pub state: u8,
    /// The last pack completed on the cell (NEO/py's `pt.pack`), kept for
    /// this node's cells.
    pub pack: Option<u64>,
}

/// What the node reads from its database once, at start.
#[derive(Debug, Clone, PartialEq)]
pub struct DbInfo {
    /// The database file.
    pub path: PathBuf,
    /// The cluster name (`config.name`).
    pub name: String,
    /// This node's id (`config.nid`).
    pub nid: i32,
    /// The id of the saved partition table (`config.ptid`), if any.
    pub ptid: Option<i64>,
    /// The number of replicas (`config.replicas`; 0 if unset).
    pub replicas: u32,
    /// The saved partition table, by partition then node id (NEO/py's
    /// `SELECT * FROM pt` order, its primary key).
    pub rows: Vec<PtRow>,
}

impl DbInfo {
    /// The number of partitions: 1 + the largest partition of `pt` (0 for
    /// an empty table).
    pub fn partitions(&self) -> u32 {
        self.rows.iter().map(|r| r.partition + 1).max().unwrap_or(0)
    }
}

/// Opens the database at `path` read-only, checks that it is a NEO/py
/// storage database of schema version 4 of cluster `cluster`, with no
/// uncommitted transaction and a node id, and reads its [`DbInfo`].
pub fn open(path: &Path, cluster: &str) -> Result<DbInfo, DbError> {
    let conn = connect(path)?;
    check_tables(&conn, path)?;
    let config = read_config(&conn, path)?;
    let get = |k: &str| config.get(k).cloned();
    let version = get("version");
    if version.as_deref() != Some(&SCHEMA_VERSION.to_string()) {
        return Err(DbError::Version {
            path: path.into(),
            found: version,
        });
    }
    let name = get("name");
    if name.as_deref() != Some(cluster) {
        return Err(DbError::ClusterName {
            path: path.into(),
            found: name,
            expected: cluster.into(),
        });
    }
    check_finished(&conn, path)?;
    let nid = get("nid").ok_or_else(|| DbError::NoNid(path.into()))?;
    for what in ["truncate_tid", "backup_tid"] {
        if config.contains_key(what) {
            return Err(DbError::Pending {
                path: path.into(),
                what,
            });
        }
    }
    Ok(DbInfo {
        path: path.into(),
        name: cluster.into(),
        nid: parse(path, "nid", &nid)?,
        ptid: get("ptid").map(|v| parse(path, "ptid", &v)).transpose()?,
        replicas: get("replicas")
            .map(|v| parse(path, "replicas", &v))
            .transpose()?
            .unwrap_or(0),
        rows: read_pt(&conn, path)?,
    })
}

/// A read-only connection to an existing file (SQLite would create a
/// missing one only with `SQLITE_OPEN_CREATE`, which is not given).
pub(super) fn connect(path: &Path) -> Result<Connection, DbError> {
    if !path.is_file() {
        return Err(DbError::Missing(path.into()));
    }
    // NO_MUTEX: a connection is used by one thread at a time (it moves
    // between threads through the pool), so SQLite's own mutex is waste.
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Connection::open_with_flags(path, flags).map_err(|e| sqlite_err(path, e))
}

/// A read-only connection for serving: the file is opened *immutable*,
/// so that SQLite takes no file lock and checks no change counter per
/// query (two `fcntl` and an `fstat` each, most of a small read's cost).
/// That holds because nothing writes the file while the node serves it:
/// the node holds NEO/py's lock on it ([`crate::lock`]), and [`open`]
/// checked it first with SQLite's usual locking.
pub(super) fn connect_immutable(path: &Path) -> Result<Connection, DbError> {
    if !path.is_file() {
        return Err(DbError::Missing(path.into()));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let uri = format!("file:{}?immutable=1", uri_path(path));
    Connection::open_with_flags(uri, flags).map_err(|e| sqlite_err(path, e))
}

/// `path` with the characters that mean something in a URI escaped.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Maps an SQLite error on `path`: "not a database" is told apart.
pub(super) fn sqlite_err(path: &Path, e: rusqlite::Error) -> DbError {
    let path = path.into();
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => DbError::NotSqlite { path, source: e },
        _ => DbError::Sqlite { path, source: e },
    }
}

fn check_tables(conn: &Connection, path: &Path) -> Result<(), DbError> {
    let err = |e| sqlite_err(path, e);
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type='table'")
        .map_err(err)?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    match TABLES.iter().find(|t| !names.iter().any(|n| n == *t)) {
        Some(table) => Err(DbError::NotNeo {
            path: path.into(),
            table,
        }),
        None => Ok(()),
    }
}

fn read_config(conn: &Connection, path: &Path) -> Result<HashMap<String, String>, DbError> {
    let err = |e| sqlite_err(path, e);
    let mut stmt = conn
        .prepare("SELECT name, value FROM config WHERE value IS NOT NULL")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, text(r, 1)?)))
        .map_err(err)?;
    rows.collect::<Result<_, _>>().map_err(err)
}

/// A `config.value`: TEXT as NEO/py writes it, or whatever SQLite holds,
/// as text.
fn text(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<String> {
    use rusqlite::types::ValueRef;
    Ok(match r.get_ref(i)? {
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Integer(n) => n.to_string(),
        ValueRef::Real(x) => x.to_string(),
        ValueRef::Null => String::new(),
    })
}

fn check_finished(conn: &Connection, path: &Path) -> Result<(), DbError> {
    let count = |table: &str| -> Result<u64, DbError> {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n as u64)
        .map_err(|e| sqlite_err(path, e))
    };
    let (ttrans, tobj) = (count("ttrans")?, count("tobj")?);
    if ttrans + tobj > 0 {
        return Err(DbError::Unfinished {
            path: path.into(),
            ttrans,
            tobj,
        });
    }
    Ok(())
}

fn read_pt(conn: &Connection, path: &Path) -> Result<Vec<PtRow>, DbError> {
    let err = |e| sqlite_err(path, e);
    let mut stmt = conn
        .prepare("SELECT partition, nid, tid, pack FROM pt ORDER BY partition, nid")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })
        .map_err(err)?;
    let mut out = Vec::new();
    for row in rows {
        let (partition, nid, tid, pack) = row.map_err(err)?;
        out.push(pt_row(path, partition, nid, tid, pack)?);
    }
    Ok(out)
}

/// A `pt` row: the state is `-tid` for a negative `tid`, OUT_OF_DATE (0)
/// otherwise (NEO/py's `getPartitionTable`: `max(0, -tid)`).
fn pt_row(
    path: &Path,
    partition: i64,
    nid: i64,
    tid: i64,
    pack: Option<i64>,
) -> Result<PtRow, DbError> {
    let bad = |what, value: i64| DbError::BadValue {
        path: path.into(),
        what,
        value: value.to_string(),
    };
    let state = if tid < 0 { -tid } else { 0 };
    Ok(PtRow {
        partition: u32::try_from(partition).map_err(|_| bad("pt.partition", partition))?,
        nid: i32::try_from(nid).map_err(|_| bad("pt.nid", nid))?,
        state: u8::try_from(state).map_err(|_| bad("pt.tid", tid))?,
        pack: pack.map(|p| p as u64),
    })
}

fn parse<T: std::str::FromStr>(path: &Path, what: &'static str, value: &str) -> Result<T, DbError> {
    value.trim().parse().map_err(|_| DbError::BadValue {
        path: path.into(),
        what,
        value: value.into(),
    })
}
