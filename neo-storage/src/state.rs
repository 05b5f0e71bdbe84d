//! What the master session and the serving threads share.
//!
//! The read path takes no lock: each serving thread keeps the partition
//! view it last saw ([`ViewCache`]) and looks at one atomic counter per
//! request to know whether the master changed the table since.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use neonet::neopy::{ClusterState, NodeId, NodeInfo, NodeState};
use parking_lot::{Condvar, Mutex};

use crate::net::{self, Link};
use crate::nodes::{ClientCheck, NodeTable};
use crate::pt::{PartitionTable, PtView};

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
    nid: AtomicI32,
    operational: AtomicBool,
    stopping: AtomicBool,
    pt: Mutex<PartitionTable>,
    view: ViewCell,
    nodes: Mutex<NodeTable>,
    nodes_changed: Condvar,
    cluster_state: Mutex<Option<ClusterState>>,
    clients: Mutex<HashMap<u64, Arc<Link>>>,
    next_client: AtomicU64,
}

impl Shared {
    /// The state of node `nid` of `cluster`, with the partition table its
    /// database saved.
    pub fn new(cluster: &str, nid: NodeId, pt: PartitionTable) -> Shared {
        let shared = Shared {
            cluster: cluster.into(),
            nid: AtomicI32::new(nid),
            operational: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            pt: Mutex::new(pt),
            view: ViewCell::default(),
            nodes: Mutex::new(NodeTable::default()),
            nodes_changed: Condvar::new(),
            cluster_state: Mutex::new(None),
            clients: Mutex::new(HashMap::new()),
            next_client: AtomicU64::new(0),
        };
        shared.publish_view();
        shared
    }

    /// This node's id.
    pub fn nid(&self) -> NodeId {
        self.nid.load(Ordering::Acquire)
    }

    /// Takes the id the master gave (NEO/py's storage then renumbers its
    /// cells, in its database; here in memory).
    pub fn set_nid(&self, nid: NodeId) {
        let old = self.nid.swap(nid, Ordering::AcqRel);
        if old != nid {
            self.pt.lock().renumber(old, nid);
            self.publish_view();
        }
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
        let view = self.pt.lock().view(self.nid());
        self.view.publish(view);
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
        let mine = self.nodes.lock().update(timestamp, list, self.nid());
        self.nodes_changed.notify_all();
        mine
    }

    /// Whether client `nid` may identify; waits until `deadline` for the
    /// master to tell about it if it has not yet.
    pub fn check_client(
        &self,
        nid: NodeId,
        id_timestamp: Option<f64>,
        deadline: Instant,
    ) -> ClientCheck {
        let mut nodes = self.nodes.lock();
        loop {
            let check = nodes.check_client(nid, id_timestamp);
            if check != ClientCheck::NotYet || self.is_stopping() {
                return check;
            }
            if self
                .nodes_changed
                .wait_until(&mut nodes, deadline)
                .timed_out()
            {
                return nodes.check_client(nid, id_timestamp);
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
