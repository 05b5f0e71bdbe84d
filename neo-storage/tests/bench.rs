//! neo-load's client side (`neo_storage::bench`) against the node, with
//! a fake master that serves clients as NEO/py's does: identification,
//! the node list and partition table, the last transaction.

mod common;

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use common::fake::*;
use common::*;
use neo_storage::{bench, Node};
use neonet::neopy::{self, Address, CellState, NodeInfo, NodeState, NodeType};
use parking_lot::Mutex;

/// Serves `clients` client identifications on `master`: each gets a node
/// id, is announced to the storage (`session`), and gets the node list and
/// table, then its AskLastTransaction is answered.
fn serve_clients(
    master: &FakeMaster,
    session: &Mutex<Session>,
    node: &Node,
    clients: usize,
) -> Vec<neonet::NodeLink<neonet::NeoPy>> {
    let next = AtomicI32::new(-536_870_911);
    let storage = NodeInfo {
        node_type: NodeType::STORAGE,
        address: Some(Address {
            host: "127.0.0.1".into(),
            port: node.addr().port(),
        }),
        uuid: Some(NID),
        state: NodeState::RUNNING,
        id_timestamp: None,
    };
    let mut links = Vec::new();
    for _ in 0..clients {
        let link = master.listener.accept().unwrap().into_neopy().unwrap();
        let req = link.recv_timeout(BOUND).unwrap();
        let nid = next.fetch_add(1, Ordering::Relaxed);
        req.reply(&neopy::AcceptIdentification {
            node_type: NodeType::MASTER,
            uuid: Some(MASTER_NID),
            your_uuid: Some(nid),
        })
        .unwrap();
        let ts = {
            let mut s = session.lock();
            let ts = s.add_client(nid);
            s.ping();
            ts
        };
        let me = NodeInfo {
            node_type: NodeType::CLIENT,
            address: None,
            uuid: Some(nid),
            state: NodeState::RUNNING,
            id_timestamp: Some(ts),
        };
        link.send1(&neopy::NotifyNodeInformation {
            timestamp: ts,
            node_list: vec![storage.clone(), me],
        })
        .unwrap();
        link.send1(&neopy::SendPartitionTable {
            ptid: Some(1),
            num_replicas: 0,
            row_list: rows(2, NID, CellState::UP_TO_DATE),
        })
        .unwrap();
        let req = link.recv_timeout(BOUND).unwrap();
        assert_eq!(req.msg().name(), "AskLastTransaction");
        req.reply(&neopy::AnswerLastTransaction { ltid: T4 })
            .unwrap();
        links.push(link);
    }
    links
}

#[test]
fn neo_load_lists_and_loads_every_object() {
    let dir = TempDir::new();
    let mut db = standard(&dir, 2);
    for oid in 3..40 {
        db.obj(oid, T4, Rec::Raw(b"more"));
    }
    let master = FakeMaster::new();
    let node = Node::start(master.config(&db)).unwrap();
    let session = Arc::new(Mutex::new(master.start(rows(
        2,
        NID,
        CellState::UP_TO_DATE,
    ))));
    let addr = master.addr();
    std::thread::scope(|s| {
        // One client to list, then 1 and 3 threads of clients of their own.
        let served = s.spawn(|| serve_clients(&master, &session, &node, 1 + 1 + 3));
        let (_link, cluster) = bench::connect(&addr, CLUSTER, None).unwrap();
        assert_eq!(
            (
                cluster.ltid,
                cluster.pt.partitions(),
                cluster.storages.len()
            ),
            (T4, 2, 1)
        );
        let oids = bench::list_oids(&cluster).unwrap();
        // oid 1's creation was undone: not listed.
        assert_eq!(oids, [0].into_iter().chain(2..40).collect::<Vec<u64>>());
        let one = bench::load(&addr, &cluster, &oids, 1, 100).unwrap();
        assert_eq!((one.threads, one.loads), (1, 100));
        let three = bench::load(&addr, &cluster, &oids, 3, 100).unwrap();
        assert_eq!((three.threads, three.loads), (3, 100));
        assert!(three.rate() > 0.0);
        served.join().unwrap();
    });
}
