//! Opening a database: creating a new node's, the checks, and what the
//! node reads once.

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
    /// The column as saved: `-state` (NEO's `CellStates` value: 0
    /// OUT_OF_DATE, 1 UP_TO_DATE, 2 FEEDING, 3 CORRUPTED), or for this
    /// node's OUT_OF_DATE cells the tid ≥ 0 it replicated up to.
    pub tid: i64,
    /// The last pack completed on the cell (NEO/py's `pt.pack`), kept for
    /// this node's cells.
    pub pack: Option<u64>,
}

impl PtRow {
    /// The cell state: `-tid` for a negative `tid`, OUT_OF_DATE (0)
    /// otherwise (NEO/py's `getPartitionTable`: `max(0, -tid)`).
    pub fn state(&self) -> u8 {
        if self.tid < 0 {
            (-self.tid) as u8
        } else {
            0
        }
    }
}

/// What the node reads from its database once, at start.
#[derive(Debug, Clone, PartialEq)]
pub struct DbInfo {
    /// The database file.
    pub path: PathBuf,
    /// The cluster name (`config.name`).
    pub name: String,
    /// This node's id (`config.nid`); `None` for a node that never joined
    /// a cluster: the master gives it one.
    pub nid: Option<i32>,
    /// The id of the saved partition table (`config.ptid`), if any.
    pub ptid: Option<i64>,
    /// The number of replicas (`config.replicas`; 0 if unset).
    pub replicas: u32,
    /// The saved partition table, by partition then node id (NEO/py's
    /// `SELECT * FROM pt` order, its primary key).
    pub rows: Vec<PtRow>,
    /// Whether the file was new or empty, and got NEO/py's schema now.
    pub created: bool,
}

impl DbInfo {
    /// The number of partitions: 1 + the largest partition of `pt` (0 for
    /// an empty table).
    pub fn partitions(&self) -> u32 {
        self.rows.iter().map(|r| r.partition + 1).max().unwrap_or(0)
    }
}

/// Creates an empty file at `path` if there is none (a new node's
/// database), so that its lock can be taken before it is opened.
pub fn touch(path: &Path) -> Result<(), DbError> {
    if path.exists() {
        return Ok(());
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map(drop)
        .or_else(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Ok(()),
            _ => Err(DbError::Create {
                path: path.into(),
                source: e,
            }),
        })
}

/// Opens the database at `path` (created if absent), checks that it is a
/// NEO/py storage database of schema version 4 of cluster `cluster`, and
/// reads its [`DbInfo`]. A new or empty file gets NEO/py's schema, and a
/// database without a cluster name gets `cluster` (as NEO/py's storage
/// does); a refused database is left as it was: every check reads only.
pub fn open(path: &Path, cluster: &str) -> Result<DbInfo, DbError> {
    touch(path)?;
    let conn = connect(path)?;
    let created = match check_tables(&conn, path)? {
        Tables::None => {
            super::schema::create(&conn, cluster).map_err(|e| sqlite_err(path, e))?;
            true
        }
        Tables::Neo => false,
    };
    let config = read_config(&conn, path)?;
    let get = |k: &str| config.get(k).cloned();
    let version = get("version");
    if version.as_deref() != Some(&SCHEMA_VERSION.to_string()) {
        return Err(DbError::Version {
            path: path.into(),
            found: version,
        });
    }
    match get("name") {
        Some(name) if name == cluster => {}
        None => set_name(&conn, path, cluster)?,
        found => {
            return Err(DbError::ClusterName {
                path: path.into(),
                found,
                expected: cluster.into(),
            })
        }
    }
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
        nid: get("nid").map(|v| parse(path, "nid", &v)).transpose()?,
        ptid: get("ptid").map(|v| parse(path, "ptid", &v)).transpose()?,
        replicas: get("replicas")
            .map(|v| parse(path, "replicas", &v))
            .transpose()?
            .unwrap_or(0),
        rows: read_pt(&conn, path)?,
        created,
    })
}

fn set_name(conn: &Connection, path: &Path, cluster: &str) -> Result<(), DbError> {
    conn.execute("REPLACE INTO config VALUES ('name', ?)", [cluster])
        .map(drop)
        .map_err(|e| sqlite_err(path, e))
}

/// A read-write connection to an existing file (SQLite would create a
/// missing one only with `SQLITE_OPEN_CREATE`, which is not given).
pub(super) fn connect(path: &Path) -> Result<Connection, DbError> {
    if !path.is_file() {
        return Err(DbError::Missing(path.into()));
    }
    // NO_MUTEX: a connection is used by one thread at a time (it moves
    // between threads through the pool), so SQLite's own mutex is waste.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    // "unix-excl": the first connection takes an exclusive lock on the file
    // for the process, held while any of its connections is open, and the
    // connections of this process then lock each other in memory only, with
    // the WAL index in memory instead of a `-shm` file. Without it, every
    // statement's read transaction locks and unlocks a byte of the `-shm`
    // file (two `fcntl`s per load). The node owns its database anyway (NEO's
    // lock, `crate::lock`): another process cannot use it while the node
    // runs, which this lock now enforces for SQLite clients as well. The
    // files are SQLite's as ever: after a crash, the next process rebuilds
    // the WAL index from the `-wal` file.
    let conn = Connection::open_with_flags_and_vfs(path, flags, c"unix-excl")
        .map_err(|e| sqlite_err(path, e))?;
    // Readers never wait for the writer in WAL mode; this bounds what
    // NEO/py's storage (or a checkpoint) holding the file could make
    // us wait.
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(|e| sqlite_err(path, e))?;
    Ok(conn)
}

/// Maps an SQLite error on `path`: "not a database" is told apart.
pub(super) fn sqlite_err(path: &Path, e: rusqlite::Error) -> DbError {
    let path = path.into();
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => DbError::NotSqlite { path, source: e },
        _ => DbError::Sqlite { path, source: e },
    }
}

/// What tables a database has.
enum Tables {
    /// None at all: a new node's database.
    None,
    /// NEO/py's.
    Neo,
}

fn check_tables(conn: &Connection, path: &Path) -> Result<Tables, DbError> {
    let err = |e| sqlite_err(path, e);
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type='table'")
        .map_err(err)?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    if names.is_empty() {
        return Ok(Tables::None);
    }
    match TABLES.iter().find(|t| !names.iter().any(|n| n == *t)) {
        Some(table) => Err(DbError::NotNeo {
            path: path.into(),
            table,
        }),
        None => Ok(Tables::Neo),
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

/// A `pt` row, its values checked.
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
    if tid < -i64::from(u8::MAX) {
        return Err(bad("pt.tid", tid));
    }
    Ok(PtRow {
        partition: u32::try_from(partition).map_err(|_| bad("pt.partition", partition))?,
        nid: i32::try_from(nid).map_err(|_| bad("pt.nid", nid))?,
        tid,
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
