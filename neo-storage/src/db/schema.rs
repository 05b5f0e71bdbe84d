//! NEO/py's schema (version 4), as its `SQLiteDatabaseManager._setup`
//! creates it, for a new node.

use rusqlite::Connection;

/// The tables, in NEO/py's order, each as `CREATE TABLE IF NOT EXISTS`.
const TABLES: [&str; 8] = [
    "CREATE TABLE IF NOT EXISTS config (
                 name TEXT NOT NULL PRIMARY KEY,
                 value TEXT) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS pt (
                 partition INTEGER NOT NULL,
                 nid INTEGER NOT NULL,
                 tid INTEGER NOT NULL,
                 pack INTEGER,
                 PRIMARY KEY (partition, nid)
            ) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS pack (
                 tid INTEGER PRIMARY KEY,
                 approved BOOLEAN, -- NULL if not signed
                 partial BOOLEAN NOT NULL,
                 oids BLOB, -- same format as trans.oids
                 pack_tid INTEGER)",
    "CREATE TABLE IF NOT EXISTS trans (
                 partition INTEGER NOT NULL,
                 tid INTEGER NOT NULL,
                 packed BOOLEAN NOT NULL,
                 oids BLOB NOT NULL,
                 user BLOB NOT NULL,
                 description BLOB NOT NULL,
                 ext BLOB NOT NULL,
                 ttid INTEGER NOT NULL,
                 PRIMARY KEY (partition, tid)
            ) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS obj (
                 partition INTEGER NOT NULL,
                 oid INTEGER NOT NULL,
                 tid INTEGER NOT NULL,
                 data_id INTEGER,
                 value_tid INTEGER,
                 PRIMARY KEY (partition, oid, tid)
            ) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS data (
                 id INTEGER PRIMARY KEY,
                 hash BLOB NOT NULL,
                 compression INTEGER NOT NULL,
                 value BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ttrans (
                 partition INTEGER NOT NULL,
                 tid INTEGER,
                 packed BOOLEAN NOT NULL,
                 oids BLOB NOT NULL,
                 user BLOB NOT NULL,
                 description BLOB NOT NULL,
                 ext BLOB NOT NULL,
                 ttid INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tobj (
                 partition INTEGER NOT NULL,
                 oid INTEGER NOT NULL,
                 tid INTEGER NOT NULL,
                 data_id INTEGER,
                 value_tid INTEGER,
                 PRIMARY KEY (tid, oid)
            ) WITHOUT ROWID",
];

/// The indexes NEO/py adds (`_obj_i1`, `_obj_i2`): `obj` by tid for
/// replication, by data id for pruning.
const INDEXES: [&str; 2] = [
    "CREATE INDEX IF NOT EXISTS _obj_i1 ON obj(partition, tid, oid)",
    "CREATE INDEX IF NOT EXISTS _obj_i2 ON obj(data_id)",
];

/// Creates NEO/py's tables in an empty database, its `config.version`
/// and `config.name`, in one transaction (a crash leaves the file empty,
/// still a new node's).
pub fn create(conn: &Connection, cluster: &str) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    for sql in TABLES.iter().chain(&INDEXES) {
        tx.execute(sql, [])?;
    }
    tx.execute(
        "REPLACE INTO config VALUES ('version', ?)",
        [super::SCHEMA_VERSION.to_string()],
    )?;
    tx.execute("REPLACE INTO config VALUES ('name', ?)", [cluster])?;
    tx.commit()
}
