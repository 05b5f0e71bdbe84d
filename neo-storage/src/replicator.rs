//! Replication, as the node whose cells are out of date (NEO/py's
//! `Replicator`, `neo/storage/replicator.py`).
//!
//! A cell out of date (a new one, or one of a node that was down) takes
//! writes at once, without locks (see [`crate::tm`]), after the node asked
//! the master which transactions are being committed
//! (`AskUnfinishedTransactions`): every transaction begun after that
//! answer comes to it in full. What was committed before is fetched from
//! a node with a readable cell, partition by partition, in chunks of
//! [`FETCH_COUNT`] transactions then object records, each chunk streamed
//! by the source (`AddTransaction`/`AddObject` under our request's
//! msg_id, then the answer). Once a partition is replicated up to the
//! master's last tid and the transactions that were unfinished are
//! finished, the master is told (`NotifyReplicationDone`) and makes the
//! cell UP_TO_DATE.
//!
//! It runs in a thread of its own while the node is operational; the
//! master session tells it about table changes and finished
//! transactions.

mod fetch;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use neonet::neopy::{Address, AskUnfinishedTransactions, CellChange, CellState, NodeId, NodeState};
use parking_lot::Mutex;

use crate::commit;
use crate::db::Reader;
use crate::net::{self, Link, LinkTimes, Tls};
use crate::state::Shared;

/// Items asked per chunk (NEO/py's `FETCH_COUNT`).
pub const FETCH_COUNT: u32 = 1000;

/// NEO's `INVALID_TID`: "unfinished transactions not known yet".
const INVALID_TID: u64 = u64::MAX;

/// How long to wait before trying a partition again when no source is
/// available or replication failed.
const RETRY: Duration = Duration::from_secs(1);

/// How to reach other storages.
#[derive(Debug, Clone)]
pub struct Dial {
    /// TLS, when the cluster uses it.
    pub tls: Option<Tls>,
    /// This node's address, given when it identifies.
    pub address: Address,
    /// Time limits of the links.
    pub times: LinkTimes,
}

/// What the master session tells the replicator.
#[derive(Debug)]
enum Event {
    Changes(Vec<CellChange>),
    Finished(u64, Option<u64>),
    Stop,
}

/// The running replicator.
#[derive(Debug)]
pub struct Handle {
    tx: Sender<Event>,
    source: Arc<Mutex<Option<Arc<Link>>>>,
    thread: Option<JoinHandle<()>>,
}

/// Starts replicating this node's cells that are out of date (the node
/// became operational).
pub fn start(shared: &Arc<Shared>, dial: Dial) {
    stop(shared);
    let (tx, rx) = crossbeam_channel::unbounded();
    let source = Arc::new(Mutex::new(None));
    let rep = Replicator {
        shared: shared.clone(),
        dial,
        rx,
        source: source.clone(),
        parts: BTreeMap::new(),
        replicate: BTreeMap::new(),
        ttids: BTreeSet::new(),
        current: None,
        link: None,
        turn: 0,
    };
    let spawned = std::thread::Builder::new()
        .name("neo-storage replicator".into())
        .spawn(move || rep.run());
    match spawned {
        Ok(thread) => {
            *shared.replicator.lock() = Some(Handle {
                tx,
                source,
                thread: Some(thread),
            })
        }
        Err(e) => log::error!("cannot start the replicator: {e}"),
    }
}

/// Stops replicating (the master session ended or operation stopped).
pub fn stop(shared: &Arc<Shared>) {
    let Some(mut h) = shared.replicator.lock().take() else {
        return;
    };
    let _ = h.tx.send(Event::Stop);
    if let Some(link) = h.source.lock().take() {
        net::close(&link);
    }
    if let Some(t) = h.thread.take() {
        let _ = t.join();
    }
}

/// The master changed cells.
pub fn partition_changes(shared: &Arc<Shared>, cells: &[CellChange]) {
    tell(shared, Event::Changes(cells.to_vec()));
}

/// A transaction finished: committed (`max_tid`: the master's last tid)
/// or aborted.
pub fn transaction_finished(shared: &Arc<Shared>, ttid: u64, max_tid: Option<u64>) {
    tell(shared, Event::Finished(ttid, max_tid));
}

fn tell(shared: &Shared, event: Event) {
    if let Some(h) = shared.replicator.lock().as_ref() {
        let _ = h.tx.send(event);
    }
}

/// A partition this node has a cell of.
#[derive(Debug, Clone, Copy)]
struct Part {
    /// Replication of its transactions resumes there.
    next_trans: u64,
    /// Replication of its object records resumes there.
    next_obj: u64,
    /// The last of the transactions that were unfinished when it started
    /// (`INVALID_TID`: not known yet), if any is left.
    max_ttid: Option<u64>,
}

/// Why a replication stopped.
#[derive(Debug)]
enum Stopped {
    /// The node stops replicating.
    Stop,
    /// The partition went, or the source failed: try again later.
    Abort(String),
}

struct Replicator {
    shared: Arc<Shared>,
    dial: Dial,
    rx: Receiver<Event>,
    source: Arc<Mutex<Option<Arc<Link>>>>,
    parts: BTreeMap<u32, Part>,
    /// Partitions to replicate, up to which tid.
    replicate: BTreeMap<u32, u64>,
    /// Transactions that were unfinished when a replication started.
    ttids: BTreeSet<u64>,
    /// The partition being replicated.
    current: Option<u32>,
    /// The link to the source, and its node.
    link: Option<(NodeId, Arc<Link>)>,
    /// Rotates the choice of sources.
    turn: usize,
}

impl Replicator {
    fn run(mut self) {
        let mut reader = match self.shared.pool().take() {
            Ok(r) => r,
            Err(e) => return log::error!("replicator: {e}"),
        };
        if let Err(e) = self.main(&mut reader) {
            log::debug!("replicator: {e:?}");
        }
        if let Some((_, link)) = self.link.take() {
            net::close(&link);
        }
        self.shared.pool().give(reader);
    }

    fn main(&mut self, r: &mut Reader) -> Result<(), Stopped> {
        self.populate(r)?;
        loop {
            while let Ok(event) = self.rx.try_recv() {
                self.handle(event, r)?;
            }
            match self.next_partition() {
                Some(offset) => self.replicate_partition(offset, r)?,
                None => match self.rx.recv_timeout(RETRY) {
                    Ok(event) => self.handle(event, r)?,
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return Err(Stopped::Stop),
                },
            }
        }
    }

    /// NEO/py's `populate`: the cells this node has, as its database saved
    /// them; those out of date start replicating.
    fn populate(&mut self, r: &Reader) -> Result<(), Stopped> {
        let nid = self.shared.nid().ok_or(Stopped::Stop)?;
        let cells = r
            .own_cells(nid)
            .map_err(|e| Stopped::Abort(e.to_string()))?;
        let mut outdated = Vec::new();
        for (offset, tid) in cells {
            let part = if tid >= 0 {
                outdated.push(offset);
                let next = if tid == 0 { 0 } else { tid as u64 + 1 };
                Part {
                    next_trans: next,
                    next_obj: next,
                    max_ttid: Some(INVALID_TID),
                }
            } else {
                Part {
                    next_trans: 0,
                    next_obj: 0,
                    max_ttid: None,
                }
            };
            self.parts.insert(offset, part);
        }
        if !outdated.is_empty() {
            self.replicating(&outdated)?;
        }
        Ok(())
    }

    fn handle(&mut self, event: Event, r: &Reader) -> Result<(), Stopped> {
        match event {
            Event::Stop => Err(Stopped::Stop),
            Event::Finished(ttid, max_tid) => {
                self.transaction_finished(ttid, max_tid, r);
                Ok(())
            }
            Event::Changes(cells) => self.partition_changes(&cells, r),
        }
    }

    /// NEO/py's `TransactionManager.replicating`: stores to these
    /// partitions take no lock from now on, and the master says which
    /// transactions are unfinished (`setUnfinishedTIDList`).
    fn replicating(&mut self, offsets: &[u32]) -> Result<(), Stopped> {
        self.shared.tm.lock().replicating(offsets);
        let link = self.shared.master_link().ok_or(Stopped::Stop)?;
        let ask = AskUnfinishedTransactions {
            offset_list: offsets.to_vec(),
        };
        let a = net::ask(&link, &ask).map_err(|e| Stopped::Abort(e.to_string()))?;
        self.ttids.extend(&a.ttid_list);
        let max_ttid = a.ttid_list.iter().max().copied();
        for &offset in offsets {
            if let Some(p) = self.parts.get_mut(&offset) {
                p.max_ttid = max_ttid;
            }
            self.replicate.insert(offset, a.max_tid);
        }
        log::info!(
            "replicating partitions {offsets:?} up to {:016x} ({} unfinished transactions)",
            a.max_tid,
            a.ttid_list.len()
        );
        Ok(())
    }

    /// NEO/py's `transactionFinished`.
    fn transaction_finished(&mut self, ttid: u64, max_tid: Option<u64>, r: &Reader) {
        if !self.ttids.remove(&ttid) {
            return;
        }
        let min_ttid = self.ttids.first().copied().unwrap_or(INVALID_TID);
        let mut done = Vec::new();
        for (&offset, p) in self.parts.iter_mut() {
            let Some(max_ttid) = p.max_ttid else { continue };
            if let Some(tid) = max_tid {
                self.replicate.insert(offset, tid);
            }
            if max_ttid < min_ttid {
                // No unfinished transaction left for this partition.
                if self.current != Some(offset) && !self.replicate.contains_key(&offset) {
                    done.push((offset, max_ttid));
                }
                p.max_ttid = None;
            }
        }
        for (offset, tid) in done {
            self.replicated(offset, tid, r);
        }
    }

    /// Tells the transaction manager `offset` is replicated (it tells the
    /// master once every lockless write there is locked).
    fn replicated(&self, offset: u32, tid: u64, r: &Reader) {
        let view = self.shared.view();
        let mut out = Vec::new();
        {
            let mut st = self.shared.tm.lock();
            st.replicated(offset, tid, r, &view, &mut out);
            self.shared.tm.released(&st);
        }
        commit::send_out(&self.shared, out);
    }

    /// NEO/py's `notifyPartitionChanges` (and the transaction manager's
    /// `discarded`, `readable`).
    fn partition_changes(&mut self, cells: &[CellChange], r: &Reader) -> Result<(), Stopped> {
        let me = self.shared.nid();
        let (mut added, mut discarded, mut readable) = (Vec::new(), Vec::new(), Vec::new());
        for c in cells.iter().filter(|c| Some(c.uuid) == me) {
            match c.state {
                CellState::DISCARDED | CellState::CORRUPTED => {
                    if self.parts.remove(&c.offset).is_some() {
                        self.replicate.remove(&c.offset);
                        discarded.push(c.offset);
                    }
                }
                // A new cell (NEO/py asserts it is one). One this node has
                // already is the same change read twice: `populate` found
                // it saved before its event came, and asked for it then.
                CellState::OUT_OF_DATE if self.parts.contains_key(&c.offset) => {}
                CellState::OUT_OF_DATE => {
                    self.parts.insert(
                        c.offset,
                        Part {
                            next_trans: 0,
                            next_obj: 0,
                            max_ttid: Some(INVALID_TID),
                        },
                    );
                    added.push(c.offset);
                }
                _ => readable.push(c.offset),
            }
        }
        if !discarded.is_empty() {
            self.discarded(&discarded, r);
        }
        if !readable.is_empty() {
            self.shared.tm.lock().readable(&readable);
        }
        if !added.is_empty() {
            self.replicating(&added)?;
        }
        Ok(())
    }

    fn discarded(&mut self, offsets: &[u32], r: &Reader) {
        let view = self.shared.view();
        let mut out = Vec::new();
        {
            let mut st = self.shared.tm.lock();
            st.discarded(offsets, r, &view, &mut out);
            let offsets = offsets.to_vec();
            let dropped = self.shared.writer().submit(
                false,
                move |w| w.drop_partitions_temporary(&offsets),
                |(), _| {},
            );
            if dropped.is_err() {
                log::debug!("replicator: the writer stopped");
            }
            self.shared.tm.released(&st);
        }
        commit::send_out(&self.shared, out);
    }

    /// NEO/py's `_nextPartition`: the partition furthest behind, those
    /// without unfinished transactions first.
    fn next_partition(&self) -> Option<u32> {
        if self.current.is_some() {
            return None;
        }
        self.replicate.keys().copied().min_by_key(|o| {
            let p = self.parts.get(o);
            (
                p.map_or(0, |p| p.next_obj),
                p.is_some_and(|p| p.max_ttid.is_some()),
            )
        })
    }

    /// A running node with a readable cell of `offset`, and its address.
    fn source(&mut self, offset: u32) -> Option<(NodeId, Address)> {
        let me = self.shared.nid();
        let nodes = self.shared.nodes();
        let candidates: Vec<(NodeId, Address)> = self
            .shared
            .pt()
            .readable_nodes(offset)
            .into_iter()
            .filter(|&n| Some(n) != me)
            .filter_map(|n| {
                let e = nodes.get(n)?;
                (e.state == NodeState::RUNNING).then(|| Some((n, e.address.clone()?)))?
            })
            .collect();
        if candidates.is_empty() {
            return None;
        }
        self.turn += 1;
        Some(candidates[self.turn % candidates.len()].clone())
    }

    /// Replicates `offset` from a source up to the tid the master gave.
    fn replicate_partition(&mut self, offset: u32, r: &mut Reader) -> Result<(), Stopped> {
        let Some((nid, addr)) = self.source(offset) else {
            log::debug!("partition {offset}: no source to replicate from yet");
            return self.wait_a_while(r);
        };
        let link = match self.connect(nid, &addr) {
            Ok(link) => link,
            Err(e) => {
                log::warn!("replication of partition {offset}: storage {nid}: {e}");
                return self.wait_a_while(r);
            }
        };
        let tid = self.replicate.remove(&offset).expect("chosen");
        self.current = Some(offset);
        let fetched = self.fetch(offset, tid, &link, r);
        self.current = None;
        match fetched {
            Ok(()) => self.finish(offset, tid, r),
            Err(Stopped::Abort(why)) => {
                log::warn!("replication of partition {offset} aborted: {why}");
                if self.parts.contains_key(&offset) {
                    self.replicate.entry(offset).or_insert(tid);
                }
                self.drop_link();
                self.wait_a_while(r)
            }
            Err(stop) => Err(stop),
        }
    }

    /// Waits for an event, or a moment.
    fn wait_a_while(&mut self, r: &Reader) -> Result<(), Stopped> {
        match self.rx.recv_timeout(RETRY) {
            Ok(event) => self.handle(event, r),
            Err(RecvTimeoutError::Timeout) => Ok(()),
            Err(RecvTimeoutError::Disconnected) => Err(Stopped::Stop),
        }
    }

    /// NEO/py's `finish`.
    fn finish(&mut self, offset: u32, tid: u64, r: &Reader) -> Result<(), Stopped> {
        let nid = self.shared.nid().ok_or(Stopped::Stop)?;
        self.shared
            .writer()
            .run(true, move |w| w.update_cell_tid(offset, nid, tid))
            .map_err(|_| Stopped::Stop)?;
        let Some(p) = self.parts.get_mut(&offset) else {
            return Ok(());
        };
        p.next_obj = tid + 1;
        log::info!("partition {offset} replicated up to {tid:016x}");
        if p.max_ttid.is_some() || self.replicate.contains_key(&offset) {
            log::debug!("unfinished transactions: {:?}", self.ttids);
        } else {
            self.replicated(offset, tid, r);
        }
        Ok(())
    }

    fn drop_link(&mut self) {
        if let Some((_, link)) = self.link.take() {
            net::close(&link);
        }
        self.source.lock().take();
    }
}
