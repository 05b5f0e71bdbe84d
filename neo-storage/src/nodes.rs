//! The nodes the master told this node about (`NotifyNodeInformation`),
//! which decide whether a client may identify.

use std::collections::HashMap;

use neonet::neopy::{Address, NodeId, NodeInfo, NodeState, NodeType};

/// What is known of one node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeEntry {
    /// Its type.
    pub node_type: NodeType,
    /// Its state.
    pub state: NodeState,
    /// The time the master identified it: a client gives it back when it
    /// identifies, so that a node the master forgot is told apart.
    pub id_timestamp: Option<f64>,
    /// Where it listens, if it does.
    pub address: Option<Address>,
}

/// The nodes of the cluster, by id, and the time of the master's last
/// notification.
#[derive(Debug, Clone, Default)]
pub struct NodeTable {
    nodes: HashMap<NodeId, NodeEntry>,
    timestamp: f64,
}

/// What a client identifying with `(nid, id_timestamp)` gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCheck {
    /// Known and running: accept it.
    Known,
    /// The master has not told about it yet: wait for its notification.
    NotYet,
    /// The master does not know it (any more), or it is not running.
    Unknown,
}

impl NodeTable {
    /// Forgets everything (a new master session starts).
    pub fn clear(&mut self) {
        *self = NodeTable::default();
    }

    /// Applies `NotifyNodeInformation(timestamp, nodes)`; returns the state
    /// it gives node `me`, if it mentions it.
    pub fn update(&mut self, timestamp: f64, nodes: &[NodeInfo], me: NodeId) -> Option<NodeState> {
        self.timestamp = timestamp;
        let mut mine = None;
        for n in nodes {
            let Some(nid) = n.uuid else { continue };
            if nid == me {
                mine = Some(n.state);
            }
            if n.state == NodeState::UNKNOWN {
                self.nodes.remove(&nid);
            } else {
                let entry = NodeEntry {
                    node_type: n.node_type,
                    state: n.state,
                    id_timestamp: n.id_timestamp,
                    address: n.address.clone(),
                };
                self.nodes.insert(nid, entry);
            }
        }
        mine
    }

    /// Whether node `nid` of type `node_type`, identified by the master at
    /// `id_timestamp`, may identify (NEO/py's `NodeManager.getByUUID(uuid,
    /// id_timestamp)`): a client must be running, a storage (which
    /// replicates from this node) only known.
    pub fn check_peer(
        &self,
        nid: NodeId,
        node_type: NodeType,
        id_timestamp: Option<f64>,
    ) -> ClientCheck {
        match self.nodes.get(&nid) {
            Some(n) if n.id_timestamp == id_timestamp => {
                if n.state == NodeState::RUNNING || node_type == NodeType::STORAGE {
                    ClientCheck::Known
                } else {
                    ClientCheck::Unknown
                }
            }
            _ if id_timestamp.is_some_and(|t| self.timestamp < t) => ClientCheck::NotYet,
            _ => ClientCheck::Unknown,
        }
    }

    /// The entry of `nid`.
    pub fn get(&self, nid: NodeId) -> Option<&NodeEntry> {
        self.nodes.get(&nid)
    }
}
