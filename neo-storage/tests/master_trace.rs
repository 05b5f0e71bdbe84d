//! NEO/py's traces replayed byte for byte to the node: each packet a
//! peer sent is sent as recorded, and each packet the node sends must be
//! the bytes NEO/py's storage sent. `new-cluster.tsv` is replayed whole,
//! from an empty database: the master's autostart, a ZODB client's two
//! commits, and a second storage replicating from the node (its
//! `AddTransaction`/`AddObject` streams). `restart.tsv` on the database
//! those commits leave. The one packet compared by value is the node's
//! `RequestIdentification` to the master: it carries the node's address
//! and the host and device of its database.

mod common;

use std::collections::HashMap;
use std::net::TcpListener;

use common::fake::wait_until;
use common::raw::{trace, RawPeer, TraceRow};
use common::*;
use neo_storage::{Config, Node};
use neonet::neopy::{self, CellState, ClusterState, Message};

/// The cluster name of the traces.
const EXP: &str = "exp";

fn start(db: &std::path::Path, master: &TcpListener) -> Node {
    let addr = master.local_addr().unwrap().to_string();
    Node::start(Config::new(EXP, "127.0.0.1:0", vec![addr], db.into())).unwrap()
}

/// Replays `rows` (every peer's; those of `peers` already connected,
/// the others dialed when their handshake comes) and returns the last
/// msg_id the master used.
fn replay(peers: &mut HashMap<String, RawPeer>, rows: &[TraceRow], node: &Node) -> u32 {
    let mut last_id = 0;
    for row in rows {
        if row.name == "HANDSHAKE" {
            if !peers.contains_key(&row.peer) {
                peers.insert(row.peer.clone(), RawPeer::dial(node.addr()));
            }
            continue;
        }
        let peer = peers.get_mut(&row.peer).expect("a peer that connected");
        if row.direction == "recv" {
            peer.write(&row.bytes);
            if row.peer.starts_with("master") {
                last_id = neopy_head(&row.bytes).msg_id;
            }
            if row.name == "NotifyUnlockInformation" {
                // The next stores are based on this commit: NEO/py's
                // storage unlocks before it reads the next packet.
                wait_until("unlocked", || node.shared().tm.lock().txns.is_empty());
            }
            continue;
        }
        let got = peer
            .recv()
            .unwrap_or_else(|| panic!("row {}: the node closed the link", row.seq));
        if row.name == "RequestIdentification" {
            check_identification(&got.msg(), node, &row.msg());
        } else {
            assert_eq!(
                hex(&got.bytes),
                hex(&row.bytes),
                "row {} ({})",
                row.seq,
                row.name
            );
        }
    }
    last_id
}

fn neopy_head(bytes: &[u8]) -> neopy::PacketHead {
    match neopy::Scanner::new().scan(bytes).unwrap() {
        neopy::Scan::Complete(head) => head,
        other => panic!("{other:?}"),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The node's identification to the master: as NEO/py's storage's
/// (`expected`), but with the node's own address, host and device.
fn check_identification(msg: &Message, node: &Node, expected: &Message) {
    let (Message::RequestIdentification(r), Message::RequestIdentification(e)) = (msg, expected)
    else {
        panic!("{msg:?}")
    };
    assert_eq!(
        (r.node_type, r.uuid, r.name.as_str(), r.id_timestamp),
        (e.node_type, e.uuid, e.name.as_str(), e.id_timestamp)
    );
    let addr = r.address.as_ref().unwrap();
    assert_eq!(
        (addr.host.as_str(), addr.port),
        ("127.0.0.1", node.addr().port())
    );
    let keys = |m: &std::collections::BTreeMap<String, neopy::Value>| {
        m.keys().cloned().collect::<Vec<_>>()
    };
    assert_eq!(keys(&r.extra), keys(&e.extra));
    assert_eq!(r.extra["new_nid"], e.extra["new_nid"]);
}

/// A `Ping` after the replay, answered once everything before it was
/// handled.
fn barrier(peer: &mut RawPeer, msg_id: u32) {
    peer.send(msg_id, &neopy::Ping {});
    let pong = peer.recv().unwrap();
    assert_eq!((pong.head.msg_id, pong.head.code), (msg_id, 0x8002));
}

/// The table both traces end with: ptid 6, 2 partitions, node 1
/// UP_TO_DATE and node 2 OUT_OF_DATE in each.
fn check_final_table(node: &Node) {
    let pt = node.pt();
    assert_eq!((pt.ptid(), pt.replicas(), pt.partitions()), (Some(6), 1, 2));
    assert_eq!(
        pt.cells_of(1),
        vec![(0, CellState::UP_TO_DATE), (1, CellState::UP_TO_DATE)]
    );
    assert_eq!(
        pt.cells_of(2),
        vec![(0, CellState::OUT_OF_DATE), (1, CellState::OUT_OF_DATE)]
    );
}

/// Replays `name` to a node started on `db`.
fn replay_trace(db: &std::path::Path, name: &str) {
    let master = TcpListener::bind("127.0.0.1:0").unwrap();
    let node = start(db, &master);
    let rows = trace(name);
    let master_name = rows
        .iter()
        .find(|r| r.peer.starts_with("master"))
        .unwrap()
        .peer
        .clone();
    let mut peers = HashMap::from([(master_name.clone(), RawPeer::accept(&master))]);
    let last = replay(&mut peers, &rows, &node);
    barrier(peers.get_mut(&master_name).unwrap(), last + 1);
    assert!(node.is_operational());
    assert_eq!(node.cluster_state(), Some(ClusterState::RUNNING));
    check_final_table(&node);
    node.stop();
}

#[test]
fn new_cluster_then_restart() {
    let dir = TempDir::new();
    let db = dir.path("s.sqlite");
    // A new node: it creates its database, is given node id 1, takes two
    // commits and feeds a second storage.
    replay_trace(&db, "new-cluster.tsv");
    // Restarted on the database those commits left.
    replay_trace(&db, "restart.tsv");
}
