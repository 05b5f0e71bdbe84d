//! The master's whole sequence of `new-cluster.tsv` and `restart.tsv`
//! (captured from NEO/py's storage), replayed byte for byte to the node:
//! each packet the master sent is sent as recorded, and each packet the
//! node sends must be the bytes NEO/py's storage sent. The exceptions,
//! compared by value: `RequestIdentification` (it carries the node's
//! address, and NEO/py's first start had no node id yet, where a database
//! this node serves has one), and the rows of the two commits that went
//! through NEO/py's storage, which a read-only node cannot take part in.

mod common;

use std::net::TcpListener;

use common::raw::{trace, RawPeer, TraceRow};
use common::*;
use neo_storage::{Config, Node};
use neonet::neopy::{self, CellState, ClusterState, Message, NodeType};

/// The cluster name of the traces.
const EXP: &str = "exp";

/// Rows of a commit through the storage (AskLockInformation and its
/// answer, NotifyUnlockInformation): not for a read-only node.
fn of_a_commit(row: &TraceRow) -> bool {
    matches!(
        row.name.as_str(),
        "AskLockInformation" | "AnswerInformationLocked" | "NotifyUnlockInformation"
    )
}

fn start(db: &TestDb, master: &TcpListener) -> Node {
    let addr = master.local_addr().unwrap().to_string();
    Node::start(Config::new(EXP, "127.0.0.1:0", vec![addr], db.path.clone())).unwrap()
}

/// Replays the master's rows of `rows` to `peer`; returns the last msg_id
/// the master used.
fn replay(peer: &mut RawPeer, rows: &[TraceRow], node: &Node) -> u32 {
    let mut last_id = 0;
    for row in rows
        .iter()
        .filter(|r| r.peer.starts_with("master") && r.name != "HANDSHAKE" && !of_a_commit(r))
    {
        if row.direction == "recv" {
            peer.write(&row.bytes);
            last_id = neopy_head(&row.bytes).msg_id;
            continue;
        }
        let got = peer
            .recv()
            .unwrap_or_else(|| panic!("row {}: the node closed the link", row.seq));
        if row.name == "RequestIdentification" {
            check_identification(&got.msg(), node);
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

fn check_identification(msg: &Message, node: &Node) {
    let Message::RequestIdentification(r) = msg else {
        panic!("{msg:?}")
    };
    assert_eq!(
        (r.node_type, r.uuid, r.name.as_str(), r.id_timestamp),
        (NodeType::STORAGE, Some(NID), EXP, None)
    );
    let addr = r.address.as_ref().unwrap();
    assert_eq!(
        (addr.host.as_str(), addr.port),
        ("127.0.0.1", node.addr().port())
    );
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

#[test]
fn new_cluster() {
    let dir = TempDir::new();
    // A database that joined a cluster (node id 1) but never got a table.
    let db = TestDb::new(&dir.path("s.sqlite"), EXP, NID, 0);
    db.config("ptid", None);
    db.config("replicas", None);
    let master = TcpListener::bind("127.0.0.1:0").unwrap();
    let node = start(&db, &master);
    let mut peer = RawPeer::accept(&master);
    let last = replay(&mut peer, &trace("new-cluster.tsv"), &node);
    barrier(&mut peer, last + 1);
    assert!(node.is_operational());
    assert_eq!(node.cluster_state(), Some(ClusterState::RUNNING));
    check_final_table(&node);
    node.stop();
}

#[test]
fn restart() {
    let dir = TempDir::new();
    // The database of new-cluster.tsv's storage after its two commits.
    let mut db = TestDb::new(&dir.path("s.sqlite"), EXP, NID, 2);
    for p in 0..2 {
        db.cell(p, 2, 0, None);
    }
    db.config("ptid", Some("6"));
    db.config("replicas", Some("1"));
    let (t1, t2) = (0x040d_85cc_8637_c323, 0x040d_85cc_863f_fb67);
    db.obj(0, t1, Rec::Raw(b"root"));
    db.txn(t1, &[0], b"", b"initial database creation", b"");
    for oid in 0..6 {
        db.obj(oid, t2, Rec::Raw(b"x"));
    }
    db.txn(t2, &[0, 1, 2, 3, 4, 5], b"", b"", b"");
    let master = TcpListener::bind("127.0.0.1:0").unwrap();
    let node = start(&db, &master);
    let mut peer = RawPeer::accept(&master);
    let last = replay(&mut peer, &trace("restart.tsv"), &node);
    barrier(&mut peer, last + 1);
    assert!(node.is_operational());
    check_final_table(&node);
    node.stop();
}
