//! The one thread that writes, with group commit.
//!
//! Every write is a job sent to the writer thread. The thread takes every
//! job queued, runs them in one SQLite transaction and commits once, so
//! that the votes and locks of concurrent transactions share one `fsync`
//! (WAL mode, `synchronous=FULL` when a job must be durable, `NORMAL`
//! otherwise: an unlock survives the process being killed, and after a
//! power loss the master's verification finishes it, as NEO/py's
//! deferred commit). Only then does each job's continuation run: a vote
//! is answered once it is on disk.
//!
//! A failed write stops the thread (the node cannot keep its promises
//! any more): the failure callback runs, and the jobs queued are dropped,
//! so that whoever waits sees [`WriterGone`].

use std::collections::HashMap;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;

use super::info::{connect, sqlite_err};
use super::{Commits, DbError, Reader};

/// The writer's connection, with what NEO/py's storage keeps beside its
/// own: the next data id of each partition and the number of partitions.
#[derive(Debug)]
pub struct WriteConn {
    reader: Reader,
    pub(super) data_ids: HashMap<u32, i64>,
    pub(super) np: Option<u64>,
}

impl WriteConn {
    pub(super) fn conn(&self) -> &rusqlite::Connection {
        self.reader.conn()
    }

    /// The connection, for reads.
    pub fn reader(&self) -> &Reader {
        &self.reader
    }
}

/// What runs after a job's commit, on the writer's connection (which sees
/// everything committed).
type After = Box<dyn FnOnce(&Reader) + Send>;

/// A job's writes; what runs after its commit.
type Run = Box<dyn FnOnce(&mut WriteConn) -> rusqlite::Result<After> + Send>;

/// A write.
struct Job {
    durable: bool,
    run: Run,
}

/// The writer is gone: a write failed, or the node stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the database writer stopped")]
pub struct WriterGone;

/// How long the writer waits for more after a commit before it
/// checkpoints the WAL itself: before readers keep read transactions open
/// again ([`super::reader::QUIET`] later), which would keep the next
/// commits from starting the WAL over.
const CHECKPOINT_IDLE: Duration = Duration::from_millis(50);

/// A passive checkpoint (it waits for no reader): the WAL copied into the
/// database as far as readers allow, so that readers that begin next read
/// the database alone and the next commit starts the WAL over.
fn checkpoint(wc: &WriteConn) {
    let done = wc
        .conn()
        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        });
    log::trace!("idle checkpoint (WAL frames, checkpointed): {done:?}");
}

/// The most jobs committed together: bounds the latency of the first.
const MAX_BATCH: usize = 512;

/// The handle to the writer thread.
#[derive(Debug)]
pub struct Writer {
    tx: Mutex<Option<Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    /// Opens the database at `path` for writing (in WAL mode) and starts
    /// the thread; each commit is counted in `commits`; `on_failure` runs
    /// if a write fails.
    pub fn start(
        path: &Path,
        commits: Commits,
        on_failure: impl Fn(String) + Send + 'static,
    ) -> Result<Writer, DbError> {
        let conn = connect(path)?;
        let err = |e| sqlite_err(path, e);
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(err)?;
        log::debug!("journal mode {mode}");
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        let reader = Reader::with(conn).map_err(err)?;
        let wc = WriteConn {
            reader,
            data_ids: HashMap::new(),
            np: None,
        };
        let (tx, rx) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("neo-storage writer".into())
            .spawn(move || run(wc, &rx, &commits, &on_failure))
            .map_err(|e| DbError::Create {
                path: path.into(),
                source: e,
            })?;
        Ok(Writer {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues `f`, to run in the writer's next transaction; `after` gets
    /// its result once that transaction is committed (durably if
    /// `durable`).
    pub fn submit<T: Send + 'static>(
        &self,
        durable: bool,
        f: impl FnOnce(&mut WriteConn) -> rusqlite::Result<T> + Send + 'static,
        after: impl FnOnce(T, &Reader) + Send + 'static,
    ) -> Result<(), WriterGone> {
        let run: Run = Box::new(move |w: &mut WriteConn| -> rusqlite::Result<After> {
            let t = f(w)?;
            Ok(Box::new(move |r: &Reader| after(t, r)))
        });
        let tx = self.tx.lock();
        let tx = tx.as_ref().ok_or(WriterGone)?;
        tx.send(Job { durable, run }).map_err(|_| WriterGone)
    }

    /// Runs `f` in the writer's next transaction and waits for its
    /// commit.
    pub fn run<T: Send + 'static>(
        &self,
        durable: bool,
        f: impl FnOnce(&mut WriteConn) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, WriterGone> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.submit(durable, f, move |t, _| {
            let _ = tx.send(t);
        })?;
        rx.recv().map_err(|_| WriterGone)
    }

    /// Stops the thread once the jobs queued are done, and sets the
    /// database back to NEO/py's rollback journal if no other connection
    /// is open.
    pub fn close(&self) {
        self.tx.lock().take();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.close();
    }
}

fn run(mut wc: WriteConn, rx: &Receiver<Job>, commits: &Commits, on_failure: &dyn Fn(String)) {
    let mut durable_mode = true;
    // Something was committed since the last checkpoint.
    let mut dirty = false;
    loop {
        let first = if dirty {
            match rx.recv_timeout(CHECKPOINT_IDLE) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    checkpoint(&wc);
                    dirty = false;
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(job) => job,
                Err(_) => break,
            }
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match commit(&mut wc, batch, &mut durable_mode) {
            Ok(afters) => {
                // Before the continuations: what they answer or unlock is
                // then seen by every read that follows.
                commits.committed();
                dirty = true;
                for after in afters {
                    after(&wc.reader);
                }
            }
            Err(e) => {
                log::error!("database write failed: {e}");
                on_failure(format!("database write failed: {e}"));
                return;
            }
        }
    }
    // Back to NEO/py's default journal: fails (and stays WAL, which
    // NEO/py reads as well) while another connection is open.
    let mode = wc
        .conn()
        .query_row("PRAGMA journal_mode=DELETE", [], |r| r.get::<_, String>(0));
    log::debug!("journal mode at exit: {mode:?}");
}

/// Runs `batch` in one transaction and commits it; the continuations.
fn commit(
    wc: &mut WriteConn,
    batch: Vec<Job>,
    durable_mode: &mut bool,
) -> rusqlite::Result<Vec<After>> {
    let durable = batch.iter().any(|j| j.durable);
    if durable != *durable_mode {
        let mode = if durable { "FULL" } else { "NORMAL" };
        wc.conn().pragma_update(None, "synchronous", mode)?;
        *durable_mode = durable;
    }
    wc.conn().execute_batch("BEGIN IMMEDIATE")?;
    let mut afters = Vec::with_capacity(batch.len());
    for job in batch {
        match (job.run)(wc) {
            Ok(after) => afters.push(after),
            Err(e) => {
                let _ = wc.conn().execute_batch("ROLLBACK");
                // The cached counters may be past what was rolled back.
                wc.data_ids.clear();
                return Err(e);
            }
        }
    }
    wc.conn().execute_batch("COMMIT")?;
    Ok(afters)
}
