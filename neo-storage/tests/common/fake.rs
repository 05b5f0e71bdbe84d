//! A fake NEO/py master and fake clients, on neonet links, to drive a
//! node: the master takes it to operation as NEO/py's does; a client
//! identifies as NEO/py's client does.

use std::collections::BTreeMap;
use std::time::Duration;

use neonet::neopy::{
    self, Address, CellChange, CellInfo, CellState, ClusterState, Message, NodeInfo, NodeState,
    NodeType,
};
use neonet::{Dialer, NeoPy};
use neonet::{LinkListener, NodeLink};

use neo_storage::{Config, Node};

use super::{TestDb, CLUSTER};

/// The master's node id (NEO/py's first master id).
pub const MASTER_NID: i32 = -268_435_455;

/// A bound on waits, so that a broken test fails instead of hanging;
/// nothing asserts on it.
pub const BOUND: Duration = Duration::from_secs(60);

/// A listening fake master.
#[derive(Debug)]
pub struct FakeMaster {
    /// Its listener.
    pub listener: LinkListener,
    /// The node list timestamp it sends next.
    pub clock: f64,
}

/// The master's side of one session with the node.
#[derive(Debug)]
pub struct Session {
    /// The link.
    pub link: NodeLink<NeoPy>,
    /// The node id it gave the node.
    pub nid: i32,
    /// Its next node list timestamp.
    pub clock: f64,
}

impl FakeMaster {
    /// A master on a port of its own.
    pub fn new() -> FakeMaster {
        FakeMaster {
            listener: LinkListener::bind("127.0.0.1:0").unwrap(),
            clock: 1000.0,
        }
    }

    /// Its address.
    pub fn addr(&self) -> String {
        self.listener.local_addr().as_tcp().unwrap().to_string()
    }

    /// A node config for `db`, with this master.
    pub fn config(&self, db: &TestDb) -> Config {
        self.config_at(&db.path)
    }

    /// A node config for the database at `path` (a new node's if there
    /// is none), with this master.
    pub fn config_at(&self, path: &std::path::Path) -> Config {
        let mut c = Config::new(CLUSTER, "127.0.0.1:0", vec![self.addr()], path.into());
        c.backoff_min = Duration::from_millis(1);
        c.backoff_max = Duration::from_millis(20);
        c
    }

    /// Accepts the node's link and answers its identification, giving it
    /// its own node id (or, if it has none, [`super::NID`]).
    pub fn accept(&self) -> Session {
        let link = self.listener.accept().unwrap().into_neopy().unwrap();
        link.set_recv_timeout(Some(BOUND));
        let req = link.recv_timeout(BOUND).unwrap();
        let Message::RequestIdentification(ident) = req.msg() else {
            panic!("{:?}", req.msg())
        };
        assert_eq!(
            (ident.node_type, ident.name.as_str()),
            (NodeType::STORAGE, super::CLUSTER)
        );
        // A new node gets the id of the test databases.
        let nid = ident.uuid.unwrap_or(super::NID);
        req.reply(&neopy::AcceptIdentification {
            node_type: NodeType::MASTER,
            uuid: Some(MASTER_NID),
            your_uuid: Some(nid),
        })
        .unwrap();
        Session {
            link,
            nid,
            clock: self.clock,
        }
    }

    /// Accepts the node and takes it to operation with `rows`.
    pub fn start(&self, rows: Vec<Vec<CellInfo>>) -> Session {
        let mut s = self.accept();
        s.drive_to_operation(rows);
        s
    }
}

/// `rows` of `partitions` partitions, each with one cell of `nid` in `state`.
pub fn rows(partitions: u32, nid: i32, state: CellState) -> Vec<Vec<CellInfo>> {
    (0..partitions)
        .map(|_| vec![CellInfo { uuid: nid, state }])
        .collect()
}

impl Session {
    /// Recovery, verification, operation, as NEO/py's master does; ends
    /// when the node sent `NotifyReady`.
    pub fn drive_to_operation(&mut self, rows: Vec<Vec<CellInfo>>) {
        self.node_state(self.nid, NodeType::STORAGE, NodeState::PENDING, None);
        let l = &self.link;
        l.ask1(&neopy::AskRecovery {}).unwrap();
        self.node_state(self.nid, NodeType::STORAGE, NodeState::RUNNING, None);
        let l = &self.link;
        l.send1(&neopy::NotifyClusterInformation {
            state: ClusterState::VERIFYING,
        })
        .unwrap();
        l.send1(&neopy::SendPartitionTable {
            ptid: Some(1),
            num_replicas: 0,
            row_list: rows,
        })
        .unwrap();
        assert!(l
            .ask1(&neopy::AskLockedTransactions {})
            .unwrap()
            .tid_dict
            .is_empty());
        l.ask1(&neopy::AskLastIDs {}).unwrap();
        l.ask1(&neopy::AskPackOrders { pack_id: 1 }).unwrap();
        l.send1(&neopy::NotifyClusterInformation {
            state: ClusterState::RUNNING,
        })
        .unwrap();
        l.send1(&neopy::StartOperation { backup: false }).unwrap();
        self.expect_notification("NotifyReady");
    }

    /// Waits for a notification from the node, skipping `NotifyPackCompleted`.
    pub fn expect_notification(&self, name: &str) -> Message {
        loop {
            let req = self.link.recv_timeout(BOUND).unwrap();
            if req.msg().name() == name {
                return req.into_msg();
            }
            assert_eq!(req.msg().name(), "NotifyPackCompleted");
        }
    }

    /// Tells the node about node `nid`; returns the id timestamp given.
    pub fn node_state(
        &mut self,
        nid: i32,
        node_type: NodeType,
        state: NodeState,
        id_timestamp: Option<f64>,
    ) -> Option<f64> {
        self.clock += 1.0;
        let info = NodeInfo {
            node_type,
            address: None,
            uuid: Some(nid),
            state,
            id_timestamp,
        };
        self.link
            .send1(&neopy::NotifyNodeInformation {
                timestamp: self.clock,
                node_list: vec![info],
            })
            .unwrap();
        id_timestamp
    }

    /// Tells the node a client `nid` runs; its id timestamp.
    pub fn add_client(&mut self, nid: i32) -> f64 {
        let ts = self.clock + 0.5;
        self.node_state(nid, NodeType::CLIENT, NodeState::RUNNING, Some(ts));
        ts
    }

    /// Tells the node that the cell of node `nid` in partition `offset`
    /// is now in `state`: partition table `ptid`, with `num_replicas`.
    pub fn change_cell(
        &self,
        (ptid, num_replicas): (i64, u32),
        offset: u32,
        nid: i32,
        state: CellState,
    ) {
        let change = CellChange {
            offset,
            uuid: nid,
            state,
        };
        self.link
            .send1(&neopy::NotifyPartitionChanges {
                ptid,
                num_replicas,
                cell_list: vec![change],
            })
            .unwrap();
    }

    /// A barrier: everything sent before was handled.
    pub fn ping(&self) {
        self.link.ask1(&neopy::Ping {}).unwrap();
    }
}

/// A client: a NEO/py link to the node.
#[derive(Debug)]
pub struct Client {
    /// The link.
    pub link: NodeLink<NeoPy>,
}

impl Client {
    /// Dials the node.
    pub fn dial(node: &Node) -> Client {
        let link = neonet::Dialer::new(node.addr())
            .dialect::<NeoPy>()
            .dial()
            .unwrap();
        link.set_recv_timeout(Some(BOUND));
        Client { link }
    }

    /// Identifies as client `nid` with `id_timestamp`.
    pub fn identify(
        &self,
        nid: i32,
        id_timestamp: f64,
    ) -> neonet::Result<neopy::AcceptIdentification> {
        self.link.ask1(&identification(nid, Some(id_timestamp)))
    }

    /// Dials and identifies as a client the master just announced.
    pub fn connect(node: &Node, master: &mut Session, nid: i32) -> Client {
        let ts = master.add_client(nid);
        master.ping();
        let c = Client::dial(node);
        let a = c.identify(nid, ts).unwrap();
        assert_eq!(
            (a.node_type, a.uuid, a.your_uuid),
            (NodeType::STORAGE, Some(master.nid), Some(nid))
        );
        c
    }

    /// `AskObject`.
    pub fn load(
        &self,
        oid: u64,
        at: Option<u64>,
        before: Option<u64>,
    ) -> neonet::Result<neopy::AnswerObject> {
        self.link.ask1(&neopy::AskObject { oid, at, before })
    }
}

/// A client's `RequestIdentification`.
pub fn identification(nid: i32, id_timestamp: Option<f64>) -> neopy::RequestIdentification {
    neopy::RequestIdentification {
        node_type: NodeType::CLIENT,
        uuid: Some(nid),
        address: None::<Address>,
        name: CLUSTER.into(),
        id_timestamp,
        extra: BTreeMap::new(),
    }
}

/// The code and message of a peer error.
pub fn peer_err<T: std::fmt::Debug>(r: neonet::Result<T>) -> (neopy::ErrorCode, String) {
    let e = r.unwrap_err();
    let (code, msg) = e
        .peer_error()
        .unwrap_or_else(|| panic!("not a peer error: {e}"));
    (code, msg.to_string())
}

/// Waits until `cond` holds (state a test observes, never a time): a
/// bound only fails a broken test.
pub fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + BOUND;
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        // Polls the state: the node's threads need the cores.
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
