//! NEO/py's SQLite database (schema version 4), read and written as
//! NEO/py's storage does.
//!
//! [`open`] checks that a file is a NEO/py storage database this node can
//! serve (or gives a new node's file NEO/py's schema) and reads what the
//! node needs from it ([`DbInfo`]: its node id, cluster name, partition
//! table). [`Reader`] is one connection with the queries of the read
//! path; each serving thread owns one (see [`ReaderPool`]). Every write
//! goes through one thread, the [`Writer`], which commits what several
//! threads asked for together (one `fsync` for many votes and locks).
//! The database is in WAL mode while the node runs, so that readers never
//! wait for the writer; the node sets it back to NEO/py's rollback
//! journal when it stops.

mod info;
mod pool;
mod reader;
mod schema;
mod writer;
mod writes;

pub use info::{open, touch, DbInfo, PtRow};
pub use pool::ReaderPool;
pub use reader::{Commits, ObjectRecord, PackOrderRow, Reader, TxnRecord, UndoHistory, QUIET};
pub use writer::{WriteConn, Writer, WriterGone};
pub use writes::{CellRow, NewObject, StoredData, TxnMeta};

use std::path::PathBuf;

/// The schema version this node reads (NEO/py's `SQLiteDatabaseManager.VERSION`).
pub const SCHEMA_VERSION: u32 = 4;

/// The tables of NEO/py's schema.
pub const TABLES: [&str; 8] = [
    "config", "pt", "pack", "trans", "obj", "data", "ttrans", "tobj",
];

/// Why a database cannot be served. Each is reported to the operator as
/// is, and nothing is changed on disk.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No file at the path.
    #[error("{0}: no such database file")]
    Missing(PathBuf),
    /// A new node's database file cannot be created.
    #[error("{path}: cannot create the database: {source}")]
    Create {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not an SQLite database.
    #[error("{path}: not an SQLite database ({source})")]
    NotSqlite {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// An SQLite database, but not a NEO/py storage's: a table is missing.
    #[error("{path}: not a NEO storage database (no table {table:?})")]
    NotNeo {
        /// The file.
        path: PathBuf,
        /// The first missing table.
        table: &'static str,
    },
    /// A NEO/py database of another schema version.
    #[error(
        "{path}: database schema version {found:?}, this node reads version {SCHEMA_VERSION} only"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The version the database records (`config.version`), if any.
        found: Option<String>,
    },
    /// The database belongs to another cluster.
    #[error("{path}: database of cluster {found:?}, not {expected:?}")]
    ClusterName {
        /// The file.
        path: PathBuf,
        /// The name the database records (`config.name`), if any.
        found: Option<String>,
        /// The cluster name given on the command line.
        expected: String,
    },
    /// A value of `config` or `pt` that NEO/py would not have written.
    #[error("{path}: bad {what}: {value:?}")]
    BadValue {
        /// The file.
        path: PathBuf,
        /// Which value.
        what: &'static str,
        /// What was found.
        value: String,
    },
    /// Work NEO/py left for its storage to do, which needs writing:
    /// `truncate_tid` (a truncation to finish) or `backup_tid` (a backup
    /// cluster's database).
    #[error("{path}: {what} is set: only NEO/py's storage can serve this database")]
    Pending {
        /// The file.
        path: PathBuf,
        /// `truncate_tid` or `backup_tid`.
        what: &'static str,
    },
    /// Another process holds the database: a NEO/py storage running on it,
    /// or another neo-storage.
    #[error("{0}: database is locked (a NEO/py storage or another neo-storage runs on it)")]
    Locked(PathBuf),
    /// Any other SQLite error.
    #[error("{path}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
}
