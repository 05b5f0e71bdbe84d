//! A new node's whole life with a fake master: identification without a
//! node id, autostart, commits, the table changing, a stop with
//! transactions voted and locked, a restart on its database, the
//! master's verification (`AskLockedTransactions`, `ValidateTransaction`)
//! and what is served after it.

mod common;

use common::fake::*;
use common::*;
use neo_storage::reads::MAX_TID;
use neo_storage::Node;
use neonet::neopy::{
    self, CellInfo, CellState, ClusterState, ErrorCode, Message, NodeState, NodeType, ValueRef,
};

const T1: (u64, u64) = (0x03d0_0000_0000_1000, 0x03d0_0000_0000_1001);
const T2: (u64, u64) = (0x03d0_0000_0000_2000, 0x03d0_0000_0000_2001);
const T3: (u64, u64) = (0x03d0_0000_0000_3000, 0x03d0_0000_0000_3001);

fn two_partitions() -> Vec<Vec<CellInfo>> {
    rows(2, NID, CellState::UP_TO_DATE)
}

/// The strings of an `extra` value that is an array of `bin`.
fn bins(v: &neopy::Value) -> Vec<String> {
    let ValueRef::Array(items) = v.view() else {
        panic!("{v:?}")
    };
    items
        .map(|i| String::from_utf8(i.as_bin().unwrap().to_vec()).unwrap())
        .collect()
}

/// Accepts the new node: it identifies without an id, with NEO/py's
/// `extra`, and gets `NID`.
fn accept_new(master: &FakeMaster, node: &Node, db: &std::path::Path) -> Session {
    let link = master.listener.accept().unwrap().into_neopy().unwrap();
    let req = link.recv_timeout(BOUND).unwrap();
    let Message::RequestIdentification(ident) = req.msg() else {
        panic!("{:?}", req.msg())
    };
    let addr = ident.address.clone().unwrap();
    assert_eq!(
        (
            ident.node_type,
            ident.uuid,
            ident.name.as_str(),
            ident.id_timestamp
        ),
        (NodeType::STORAGE, None, CLUSTER, None)
    );
    assert_eq!(
        (addr.host.as_str(), addr.port),
        ("127.0.0.1", node.addr().port())
    );
    let keys: Vec<&str> = ident.extra.keys().map(String::as_str).collect();
    assert_eq!(keys, ["devpath", "new_nid"]);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(db).unwrap().dev().to_string();
    assert_eq!(
        bins(&ident.extra["devpath"]),
        [host.trim().to_string(), dev]
    );
    assert!(bins(&ident.extra["new_nid"]).is_empty());
    req.reply(&neopy::AcceptIdentification {
        node_type: NodeType::MASTER,
        uuid: Some(MASTER_NID),
        your_uuid: Some(NID),
    })
    .unwrap();
    Session {
        link,
        nid: NID,
        clock: master.clock,
    }
}

/// Autostart of a new cluster, as NEO/py's master runs it (`-A 1`).
fn autostart(s: &mut Session) {
    s.node_state(NID, NodeType::STORAGE, NodeState::PENDING, None);
    let r = s.link.ask1(&neopy::AskRecovery {}).unwrap();
    assert_eq!((r.ptid, r.backup_tid, r.truncate_tid), (None, None, None));
    s.node_state(NID, NodeType::STORAGE, NodeState::RUNNING, None);
    verification(s, 1, two_partitions(), &[]);
    let ids = s.link.ask1(&neopy::AskLastIDs {}).unwrap();
    assert_eq!((ids.ltid, ids.loid, ids.ftid), (None, None, MAX_TID));
    operation(s);
}

/// `SendPartitionTable`, then `AskLockedTransactions`, which must list
/// `locked`; each locked one is validated.
fn verification(
    s: &Session,
    ptid: i64,
    row_list: Vec<Vec<CellInfo>>,
    locked: &[(u64, Option<u64>)],
) {
    let l = &s.link;
    l.send1(&neopy::NotifyClusterInformation {
        state: ClusterState::VERIFYING,
    })
    .unwrap();
    l.send1(&neopy::SendPartitionTable {
        ptid: Some(ptid),
        num_replicas: 0,
        row_list,
    })
    .unwrap();
    let got = l.ask1(&neopy::AskLockedTransactions {}).unwrap().tid_dict;
    assert_eq!(got.into_iter().collect::<Vec<_>>(), locked);
    for &(ttid, tid) in locked {
        if let Some(tid) = tid {
            l.send1(&neopy::ValidateTransaction { ttid, tid }).unwrap();
        }
    }
}

fn operation(s: &Session) {
    let l = &s.link;
    l.ask1(&neopy::AskPackOrders { pack_id: 1 }).unwrap();
    l.send1(&neopy::NotifyClusterInformation {
        state: ClusterState::RUNNING,
    })
    .unwrap();
    l.send1(&neopy::StartOperation { backup: false }).unwrap();
    s.expect_notification("NotifyReady");
}

fn sql(db: &std::path::Path, q: &str) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut stmt = c.prepare(q).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        Ok((0..n)
            .map(|i| match r.get_ref(i).unwrap() {
                rusqlite::types::ValueRef::Null => "NULL".to_string(),
                rusqlite::types::ValueRef::Integer(x) => x.to_string(),
                rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into(),
                other => format!("{other:?}"),
            })
            .collect::<Vec<_>>()
            .join("|"))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

#[test]
fn a_new_nodes_life() {
    let dir = TempDir::new();
    let db = dir.path("storage.sqlite");
    let master = FakeMaster::new();
    let node = Node::start(master.config_at(&db)).unwrap();
    let mut s = accept_new(&master, &node, &db);
    autostart(&mut s);
    assert_eq!(node.nid(), Some(NID));
    let c = Client::connect(&node, &mut s, 5);
    // T1 committed; T2 voted only; T3 voted and locked (its answer sent:
    // the master may have told the client it is committed).
    s.commit(&node, &c, T1.0, T1.1, &[(0, 0, b"root"), (1, 0, b"one")]);
    assert_eq!(c.store(2, 0, b"two, never committed", T2.0), None);
    c.store_txn(T2.0, &[2]);
    assert_eq!(c.store(1, T1.1, b"one, locked", T3.0), None);
    assert_eq!(c.store(3, 0, b"three", T3.0), None);
    c.store_txn(T3.0, &[1, 3]);
    s.lock(T3.0, T3.1);
    // The table changes: saved as NEO/py saves it.
    s.change_cell((2, 1), 1, 2, CellState::OUT_OF_DATE);
    s.ping();
    drop(c);
    node.stop();
    // Stopped: NEO/py's journal back, its configuration and table.
    assert_eq!(sql(&db, "PRAGMA journal_mode"), ["delete"]);
    assert_eq!(
        sql(&db, "SELECT * FROM config ORDER BY name"),
        ["name|test", "nid|1", "ptid|2", "replicas|1", "version|4"]
    );
    assert_eq!(
        sql(&db, "SELECT * FROM pt ORDER BY partition, nid"),
        ["0|1|-1|0", "1|1|-1|0", "1|2|0|NULL"]
    );
    restart(&master, &db);
}

/// The node restarted on its database: recovery from what it saved, the
/// locked transaction validated, the voted one dropped.
fn restart(master: &FakeMaster, db: &std::path::Path) {
    let node = Node::start(master.config_at(db)).unwrap();
    let mut s = master.accept();
    assert_eq!(s.nid, NID);
    let r = s.link.ask1(&neopy::AskRecovery {}).unwrap();
    assert_eq!(r.ptid, Some(2));
    let pt = s.link.ask1(&neopy::AskPartitionTable {}).unwrap();
    let cells: Vec<Vec<(i32, CellState)>> = pt
        .row_list
        .iter()
        .map(|r| r.iter().map(|c| (c.uuid, c.state)).collect())
        .collect();
    assert_eq!(
        (pt.ptid, pt.num_replicas, cells),
        (
            2,
            1,
            vec![
                vec![(NID, CellState::UP_TO_DATE)],
                vec![(NID, CellState::UP_TO_DATE), (2, CellState::OUT_OF_DATE)]
            ]
        )
    );
    verification(&s, 2, pt.row_list, &[(T2.0, None), (T3.0, Some(T3.1))]);
    let ids = s.link.ask1(&neopy::AskLastIDs {}).unwrap();
    assert_eq!((ids.ltid, ids.loid, ids.ftid), (Some(T3.1), Some(3), T1.1));
    operation(&s);
    let c = Client::connect(&node, &mut s, 6);
    let o = c.load(1, None, None).unwrap();
    assert_eq!((o.serial, o.data.as_slice()), (T3.1, &b"one, locked"[..]));
    assert_eq!(c.load(3, None, None).unwrap().serial, T3.1);
    assert_eq!(
        peer_err(c.load(2, None, None)).0,
        ErrorCode::OID_DOES_NOT_EXIST
    );
    let tids = c
        .link
        .ask1(&neopy::AskTIDs {
            first: 0,
            last: 10,
            partition: neo_storage::reads::INVALID_PARTITION,
        })
        .unwrap();
    assert_eq!(tids.tid_list, vec![T3.1, T1.1]);
    // What T2 voted is gone, data included.
    node.shared().writer().run(false, |_| Ok(())).unwrap();
    assert_eq!(sql(db, "SELECT COUNT(*) FROM tobj"), ["0"]);
    assert_eq!(sql(db, "SELECT COUNT(*) FROM ttrans"), ["0"]);
    assert_eq!(sql(db, "SELECT COUNT(*) FROM data"), ["4"]);
}
