//! NEO/py's lock on a database file, which this node takes too.
//!
//! A running NEO/py storage binds the abstract Unix socket
//! `\0neostorage:<st_dev>:<st_ino>` of its database file, and a second
//! one on the same file exits with "database is locked". Taking the same
//! lock keeps NEO/py's storage and neo-storage off each other's database
//! (and two neo-storages off one), whatever path each was given.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::Path;

use crate::db::DbError;

/// The lock, held until dropped.
#[derive(Debug)]
pub struct DbLock {
    _socket: UnixListener,
}

impl DbLock {
    /// Takes the lock of the database at `path`: [`DbError::Locked`] if a
    /// NEO/py storage or another neo-storage holds it.
    pub fn take(path: &Path) -> Result<DbLock, DbError> {
        let meta = std::fs::metadata(path).map_err(|_| DbError::Missing(path.into()))?;
        let name = format!("neostorage:{}:{}", meta.dev(), meta.ino());
        let locked = |_| DbError::Locked(path.into());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).map_err(locked)?;
        let socket = UnixListener::bind_addr(&addr).map_err(locked)?;
        Ok(DbLock { _socket: socket })
    }
}
