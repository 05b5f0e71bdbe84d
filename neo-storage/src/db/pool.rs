//! Connections reused across links.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use super::{Commits, DbError, Reader};

/// Idle connections (that only read) to one database. A serving thread takes one
/// when its link starts and gives it back when the link ends, so that a
/// connection and its prepared statements outlive the links that used it;
/// the lock is taken only then, never per request.
#[derive(Debug)]
pub struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Reader>>,
    commits: Commits,
}

impl ReaderPool {
    /// A pool of connections to the database at `path`.
    pub fn new(path: &Path) -> ReaderPool {
        ReaderPool {
            path: path.into(),
            idle: Mutex::new(Vec::new()),
            commits: Commits::default(),
        }
    }

    /// An idle connection, or a new one.
    pub fn take(&self) -> Result<Reader, DbError> {
        match self.idle.lock().pop() {
            Some(r) => Ok(r),
            None => Reader::open(&self.path),
        }
    }

    /// Gives back a connection taken with [`take`](Self::take) (its
    /// snapshot, if it kept one, released).
    pub fn give(&self, mut reader: Reader) {
        reader.drop_snapshot();
        self.idle.lock().push(reader);
    }

    /// The count of commits of the database's writer, for
    /// [`Reader::keep_snapshot`].
    pub fn commits(&self) -> &Commits {
        &self.commits
    }

    /// Closes the idle connections.
    pub fn clear(&self) {
        self.idle.lock().clear();
    }

    /// How many connections are idle.
    pub fn idle(&self) -> usize {
        self.idle.lock().len()
    }
}
