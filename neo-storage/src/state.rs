//! What the master session and the serving threads share.
//!
//! The read path takes no lock: each serving thread keeps the partition
//! view it last saw ([`ViewCache`]) and looks at one atomic counter per
//! request to know whether the master changed the table since.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use neonet::neopy::{ClusterState, NodeId, NodeInfo, NodeState, NodeType};
use parking_lot::{Condvar, Mutex};

use crate::db::{ReaderPool, Writer};
use crate::net::{self, Link};
use crate::nodes::{ClientCheck, NodeTable};
use crate::pt::{PartitionTable, PtView};
use crate::tm::Tm;

/// `Shared::nid` without a node id.
const NO_NID: i64 = i64::MIN;

/// The latest [`PtView`], published by the master session.
#[derive(Debug, Default)]
pub struct ViewCell {
    version: AtomicU64,
    current: Mutex<Arc<PtView>>,
}

impl ViewCell {
    fn publish(&self, view: PtView) {
        let mut cur = self.current.lock();
        *cur = Arc::new(view);
        self.version.fetch_add(1, Ordering::Release);
    }

    fn load(&self) -> (u64, Arc<PtView>) {
        let cur = self.current.lock();
        (self.version.load(Ordering::Acquire), cur.clone())
    }
}

/// A serving thread's copy of the view: refreshed only when the master
/// changed the table.
#[derive(Debug)]
pub struct ViewCache {
    version: u64,
    view: Arc<PtView>,
}

impl ViewCache {
    /// The view as of now.
    pub fn current(&mut self, cell: &ViewCell) -> &PtView {
        if cell.version.load(Ordering::Acquire) != self.version {
            (self.version, self.view) = cell.load();
        }
        &self.view
    }
}

/// The state of the node.
#[derive(Debug)]
pub struct Shared {
    /// The cluster name.
    pub cluster: String,
    nid: AtomicI64,
    operational: AtomicBool,
    stopping: AtomicBool,
    pt: Mutex<PartitionTable>,
    view: ViewCell,
    nodes: Mutex<NodeTable>,
    nodes_changed: Condvar,
    cluster_state: Mutex<Option<ClusterState>>,
    clients: Mutex<HashMap<u64, Arc<Link>>>,
    next_client: AtomicU64,
    client_nids: Mutex<HashMap<NodeId, Arc<Link>>>,
    /// The transactions being committed.
    pub tm: Tm,
    writer: OnceLock<Writer>,
    pool: OnceLock<Arc<ReaderPool>>,
    master_link: Mutex<Option<Arc<Link>>>,
    failure: Mutex<Option<String>>,
    /// The replicator, while the node is operational.
    pub replicator: Mutex<Option<crate::replicator::Handle>>,
}

impl Shared {
    /// The state of node `nid` of `cluster` (`None`: the master gives
    /// it one), with the partition table its database saved.
    pub fn new(cluster: &str, nid: Option<NodeId>, pt: PartitionTable) -> Shared {
        let shared = Shared {
            cluster: cluster.into(),
            nid: AtomicI64::new(nid.map_or(NO_NID, i64::from)),
            operational: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            pt: Mutex::new(pt),
            view: ViewCell::default(),
            nodes: Mutex::new(NodeTable::default()),
            nodes_changed: Condvar::new(),
            cluster_state: Mutex::new(None),
            clients: Mutex::new(HashMap::new()),
            next_client: AtomicU64::new(0),
            client_nids: Mutex::new(HashMap::new()),
            tm: Tm::default(),
            writer: OnceLock::new(),
            pool: OnceLock::new(),
            master_link: Mutex::new(None),
            failure: Mutex::new(None),
            replicator: Mutex::new(None),
        };
        shared.publish_view();
        shared
    }

    /// This node's id, once it has one.
    pub fn nid(&self) -> Option<NodeId> {
        match self.nid.load(Ordering::Acquire) {
            NO_NID => None,
            n => Some(n as NodeId),
        }
    }

    /// Takes the id the master gave; this node's cells are renumbered
    /// (in the database too: the caller saves it first).
    pub fn set_nid(&self, nid: NodeId) {
        let old = self.nid.swap(i64::from(nid), Ordering::AcqRel);
        if old != i64::from(nid) {
            if old != NO_NID {
                self.pt.lock().renumber(old as NodeId, nid);
            }
            self.publish_view();
        }
    }

    /// Sets the database writer (once, at start).
    pub fn set_writer(&self, writer: Writer) {
        if self.writer.set(writer).is_err() {
            panic!("the writer is set once");
        }
    }

    /// The database writer.
    pub fn writer(&self) -> &Writer {
        self.writer.get().expect("the writer is set at start")
    }

    /// Sets the connection pool (once, at start).
    pub fn set_pool(&self, pool: Arc<ReaderPool>) {
        if self.pool.set(pool).is_err() {
            panic!("the pool is set once");
        }
    }

    /// The database connections that read.
    pub fn pool(&self) -> &Arc<ReaderPool> {
        self.pool.get().expect("the pool is set at start")
    }

    /// The link to the master, while a session runs.
    pub fn master_link(&self) -> Option<Arc<Link>> {
        self.master_link.lock().clone()
    }

    /// Sets (or clears) the link to the master.
    pub fn set_master_link(&self, link: Option<Arc<Link>>) {
        *self.master_link.lock() = link;
    }

    /// The node cannot go on (a write failed): it stops, and says why.
    pub fn fail(&self, why: String) {
        self.failure.lock().get_or_insert(why);
        self.set_stopping();
        self.set_operational(false);
        if let Some(link) = self.master_link() {
            net::close(&link);
        }
    }

    /// Why the node failed, if it did.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().clone()
    }

    /// Whether the node serves clients (between `StartOperation` and the
    /// end of the master session or `StopOperation`).
    pub fn is_operational(&self) -> bool {
        self.operational.load(Ordering::Acquire)
    }

    /// Starts or stops serving; stopping closes every client link, as
    /// NEO/py's storage does.
    pub fn set_operational(&self, on: bool) {
        self.operational.store(on, Ordering::Release);
        if !on {
            self.close_clients();
        }
    }

    /// Whether the node is shutting down.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Marks the node as shutting down.
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Release);
        self.nodes_changed.notify_all();
        self.tm.wake();
    }

    /// Runs `f` on the partition table, then publishes the new view.
    pub fn with_pt<R>(&self, f: impl FnOnce(&mut PartitionTable) -> R) -> R {
        let r = f(&mut self.pt.lock());
        self.publish_view();
        r
    }

    /// A copy of the partition table.
    pub fn pt(&self) -> PartitionTable {
        self.pt.lock().clone()
    }

    fn publish_view(&self) {
        let pt = self.pt.lock();
        let view = match self.nid() {
            Some(nid) => pt.view(nid),
            None => pt.view_of_none(),
        };
        self.view.publish(view);
    }

    /// The view as of now.
    pub fn view(&self) -> Arc<PtView> {
        self.view.load().1
    }

    /// A cache of the view for one serving thread.
    pub fn view_cache(&self) -> ViewCache {
        let (version, view) = self.view.load();
        ViewCache { version, view }
    }

    /// The published view.
    pub fn view_cell(&self) -> &ViewCell {
        &self.view
    }

    /// The cluster state the master last announced.
    pub fn cluster_state(&self) -> Option<ClusterState> {
        *self.cluster_state.lock()
    }

    /// Records the cluster state.
    pub fn set_cluster_state(&self, state: Option<ClusterState>) {
        *self.cluster_state.lock() = state;
    }

    /// Forgets the nodes (a new master session).
    pub fn clear_nodes(&self) {
        self.nodes.lock().clear();
    }

    /// Applies `NotifyNodeInformation`; the state it gives this node.
    pub fn update_nodes(&self, timestamp: f64, list: &[NodeInfo]) -> Option<NodeState> {
        let me = self.nid().unwrap_or(NodeId::MIN);
        let mine = self.nodes.lock().update(timestamp, list, me);
        self.nodes_changed.notify_all();
        mine
    }

    /// Whether node `nid` (a client or a storage) may identify; waits
    /// until `deadline` for the master to tell about it if it has not yet.
    pub fn check_peer(
        &self,
        nid: NodeId,
        node_type: NodeType,
        id_timestamp: Option<f64>,
        deadline: Instant,
    ) -> ClientCheck {
        let mut nodes = self.nodes.lock();
        loop {
            let check = nodes.check_peer(nid, node_type, id_timestamp);
            if check != ClientCheck::NotYet || self.is_stopping() {
                return check;
            }
            if self
                .nodes_changed
                .wait_until(&mut nodes, deadline)
                .timed_out()
            {
                return nodes.check_peer(nid, node_type, id_timestamp);
            }
        }
    }

    /// Registers a client link, to be closed when the node stops serving.
    pub fn add_client(&self, link: Arc<Link>) -> u64 {
        let id = self.next_client.fetch_add(1, Ordering::Relaxed);
        self.clients.lock().insert(id, link);
        id
    }

    /// Forgets a client link.
    pub fn remove_client(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    /// Records that `link` is client `nid`'s (for `NotifyDeadlock`).
    pub fn set_client_nid(&self, nid: NodeId, link: Arc<Link>) {
        self.client_nids.lock().insert(nid, link);
    }

    /// Forgets client `nid`'s link, if it is `link`.
    pub fn remove_client_nid(&self, nid: NodeId, link: &Arc<Link>) {
        let mut nids = self.client_nids.lock();
        if nids.get(&nid).is_some_and(|l| Arc::ptr_eq(l, link)) {
            nids.remove(&nid);
        }
    }

    /// The link of client `nid`.
    pub fn client_link(&self, nid: NodeId) -> Option<Arc<Link>> {
        self.client_nids.lock().get(&nid).cloned()
    }

    /// The nodes the master told about.
    pub fn nodes(&self) -> NodeTable {
        self.nodes.lock().clone()
    }

    /// The number of client links.
    pub fn clients(&self) -> usize {
        self.clients.lock().len()
    }

    /// Closes every client link (their threads then end).
    pub fn close_clients(&self) {
        let links: Vec<_> = self.clients.lock().values().cloned().collect();
        for link in links {
            net::close(&link);
        }
    }
}
