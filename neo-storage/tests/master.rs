//! The master session: the master going away and coming back, several
//! masters, being declared down, refusals, StopOperation, a new node id,
//! what a read-only node refuses; and the database lock.

mod common;

use common::fake::*;
use common::*;
use neo_storage::db::DbError;
use neo_storage::{Exit, Node, StartError};
use neonet::neopy::{self, CellState, ErrorCode, Message, NodeState, NodeType};

#[test]
fn master_goes_away_and_comes_back() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let master = FakeMaster::new();
    let node = Node::start(master.config(&db)).unwrap();
    let mut s = master.start(rows(1, NID, CellState::UP_TO_DATE));
    let c = Client::connect(&node, &mut s, 5);
    assert!(node.is_operational());
    s.link.close();
    // The node comes back by itself; by then it stopped serving and closed
    // its client links, as NEO/py's storage does.
    let mut s = master.accept();
    assert!(!node.is_operational());
    assert!(c.load(0, None, None).is_err());
    let refused = Client::dial(&node);
    assert_eq!(peer_err(refused.identify(5, 1.0)).0, ErrorCode::NOT_READY);
    s.drive_to_operation(rows(1, NID, CellState::UP_TO_DATE));
    let c = Client::connect(&node, &mut s, 6);
    assert_eq!(c.load(0, None, None).unwrap().serial, T2);
}

#[test]
fn recovery_answers_from_the_database() {
    let dir = TempDir::new();
    let db = standard(&dir, 2);
    db.cell(1, 2, -1, None);
    db.config("ptid", Some("9"));
    db.config("replicas", Some("1"));
    let master = FakeMaster::new();
    let node = Node::start(master.config(&db)).unwrap();
    let s = master.accept();
    let r = s.link.ask1(&neopy::AskRecovery {}).unwrap();
    assert_eq!(
        (r.ptid, r.backup_tid, r.truncate_tid),
        (Some(9), None, None)
    );
    let pt = s.link.ask1(&neopy::AskPartitionTable {}).unwrap();
    let cells: Vec<Vec<(i32, CellState)>> = pt
        .row_list
        .iter()
        .map(|r| r.iter().map(|c| (c.uuid, c.state)).collect())
        .collect();
    assert_eq!((pt.ptid, pt.num_replicas), (9, 1));
    assert_eq!(
        cells,
        vec![
            vec![(NID, CellState::UP_TO_DATE)],
            vec![(NID, CellState::UP_TO_DATE), (2, CellState::UP_TO_DATE)]
        ]
    );
    // Verification with the database's own table.
    let ids = s.link.ask1(&neopy::AskLastIDs {}).unwrap();
    assert_eq!((ids.ltid, ids.loid, ids.ftid), (Some(T4), Some(2), T1));
    let Message::NotifyPackCompleted(p) = s.expect_notification("NotifyPackCompleted") else {
        unreachable!()
    };
    assert_eq!(p.pack_id, 0);
    assert!(s
        .link
        .ask1(&neopy::AskPackOrders { pack_id: 1 })
        .unwrap()
        .pack_list
        .is_empty());
    assert!(!node.is_operational());
}

#[test]
fn several_masters_are_tried_in_turn() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let master = FakeMaster::new();
    // A port nobody listens on any more, first.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let mut config = master.config(&db);
    config.masters.insert(0, dead);
    let node = Node::start(config).unwrap();
    let mut s = master.start(rows(1, NID, CellState::UP_TO_DATE));
    let c = Client::connect(&node, &mut s, 5);
    assert_eq!(c.load(0, None, None).unwrap().serial, T2);
}

#[test]
fn declared_down_shuts_down() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let master = FakeMaster::new();
    let node = Node::start(master.config(&db)).unwrap();
    let mut s = master.start(rows(1, NID, CellState::UP_TO_DATE));
    s.node_state(NID, NodeType::STORAGE, NodeState::DOWN, None);
    assert_eq!(node.wait(), Exit::Down(NodeState::DOWN));
}

#[test]
fn declared_unknown_shuts_down() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let master = FakeMaster::new();
    let node = Node::start(master.config(&db)).unwrap();
    let mut s = master.accept();
    s.node_state(NID, NodeType::STORAGE, NodeState::UNKNOWN, None);
    assert_eq!(node.wait(), Exit::Down(NodeState::UNKNOWN));
    // Nothing was erased: the database serves again.
    assert!(neo_storage::db::open(&db.path, CLUSTER).is_ok());
}

#[test]
fn a_refused_identification_is_retried() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let master = FakeMaster::new();
    let node = Node::start(master.config(&db)).unwrap();
    let link = master.listener.accept().unwrap().into_neopy().unwrap();
    let req = link.recv_timeout(BOUND).unwrap();
    req.reply(&neopy::Error {
        code: ErrorCode::NOT_READY,
        message: "recovering".into(),
    })
    .unwrap();
    let mut s = master.start(rows(1, NID, CellState::UP_TO_DATE));
    let c = Client::connect(&node, &mut s, 5);
    assert_eq!(c.load(0, None, None).unwrap().serial, T2);
}

#[test]
fn wrong_partition_table_id_reconnects() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let master = FakeMaster::new();
    let node = Node::start(master.config(&db)).unwrap();
    let s = master.start(rows(1, NID, CellState::UP_TO_DATE));
    s.change_cell((5, 0), 0, 2, CellState::OUT_OF_DATE);
    // The node drops the session (its table is unchanged) and comes back.
    let s2 = master.accept();
    assert_eq!(node.pt().ptid(), Some(1));
    assert_eq!(node.pt().cells_of(2), vec![]);
    drop(s);
    s2.ping();
}

#[test]
fn stop_operation_closes_clients() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let master = FakeMaster::new();
    let node = Node::start(master.config(&db)).unwrap();
    let mut s = master.start(rows(1, NID, CellState::UP_TO_DATE));
    let c = Client::connect(&node, &mut s, 5);
    s.link.send1(&neopy::StopOperation {}).unwrap();
    s.ping();
    assert!(!node.is_operational());
    assert!(c.load(0, None, None).is_err());
    s.link
        .send1(&neopy::StartOperation { backup: false })
        .unwrap();
    s.expect_notification("NotifyReady");
    let c = Client::connect(&node, &mut s, 6);
    assert_eq!(c.load(0, None, None).unwrap().serial, T2);
}

#[test]
fn the_master_gives_another_node_id() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let master = FakeMaster::new();
    let node = Node::start(master.config(&db)).unwrap();
    let link = master.listener.accept().unwrap().into_neopy().unwrap();
    let req = link.recv_timeout(BOUND).unwrap();
    let accept = neopy::AcceptIdentification {
        node_type: NodeType::MASTER,
        uuid: Some(MASTER_NID),
        your_uuid: Some(4),
    };
    req.reply(&accept).unwrap();
    let mut s = Session {
        link,
        nid: 4,
        clock: 1000.0,
    };
    s.ping();
    assert_eq!(node.nid(), Some(4));
    // Its saved cells are now node 4's.
    assert_eq!(node.pt().cells_of(4), vec![(0, CellState::UP_TO_DATE)]);
    s.drive_to_operation(rows(1, 4, CellState::UP_TO_DATE));
    let c = Client::connect(&node, &mut s, 5); // checks AcceptIdentification's node id
    assert_eq!(c.load(0, None, None).unwrap().serial, T2);
    drop(c);
    node.stop();
    // Saved, as NEO/py's setUUID does: the id and the cells.
    let info = neo_storage::db::open(&db.path, CLUSTER).unwrap();
    assert_eq!(info.nid, Some(4));
    assert_eq!(
        info.rows
            .iter()
            .map(|r| (r.partition, r.nid))
            .collect::<Vec<_>>(),
        vec![(0, 4)]
    );
}

#[test]
fn what_the_master_asks_that_this_node_refuses() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let master = FakeMaster::new();
    let node = Node::start(master.config(&db)).unwrap();
    let s = master.start(rows(1, NID, CellState::UP_TO_DATE));
    assert_eq!(
        s.link.ask1(&neopy::AskFinalTID { ttid: T2 }).unwrap().tid,
        Some(T2)
    );
    // Not committed: `AnswerFinalTID(None)`, as NEO/py answers.
    assert_eq!(
        s.link
            .ask1(&neopy::AskFinalTID { ttid: T2 + 2 })
            .unwrap()
            .tid,
        None
    );
    assert_eq!(
        peer_err(s.link.ask1(&neopy::Truncate { tid: T1 })),
        (
            ErrorCode::BACKEND_NOT_IMPLEMENTED,
            "neo-storage does not implement Truncate".into()
        )
    );
    // A notification it has no use for is ignored; the session goes on.
    s.link.send1(&neopy::NotifyPackSigned::default()).unwrap();
    s.ping();
    assert!(node.is_operational());
    // Locking a transaction it does not know: NEO/py's protocol error,
    // after which the node drops the master and comes back.
    let lock = s.link.ask1(&neopy::AskLockInformation {
        ttid: T4 + 1,
        tid: T4 + 2,
        pack: false,
    });
    assert_eq!(
        peer_err(lock),
        (
            ErrorCode::PROTOCOL_ERROR,
            format!("unknown ttid {:016x}", T4 + 1)
        )
    );
    let s = master.accept();
    assert!(!node.is_operational());
    // Unlocking one it does not know: the same.
    s.link
        .send1(&neopy::NotifyUnlockInformation { ttid: T4 + 1 })
        .unwrap();
    let _s = master.accept();
}

#[test]
fn one_node_per_database() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let master = FakeMaster::new();
    let node = Node::start(master.config(&db)).unwrap();
    let Err(StartError::Db(DbError::Locked(_))) = Node::start(master.config(&db)) else {
        panic!("a second node started")
    };
    node.stop();
    // Released with the node.
    let again = Node::start(master.config(&db)).unwrap();
    assert_eq!(again.stop(), Exit::Stopped);
}

#[test]
fn start_errors() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let master = FakeMaster::new();
    let mut config = master.config(&db);
    config.masters.clear();
    assert!(matches!(Node::start(config), Err(StartError::NoMaster)));
    let mut config = master.config(&db);
    config.bind = "127.0.0.1:99999".into();
    assert!(matches!(
        Node::start(config),
        Err(StartError::Listen { .. })
    ));
    let mut config = master.config(&db);
    config.cluster = "prod".into();
    assert!(matches!(
        Node::start(config),
        Err(StartError::Db(DbError::ClusterName { .. }))
    ));
}
