//! Replication in both roles, with a fake peer storage on neonet links:
//! the node streams 10 000 records to a peer that fetches a partition
//! from it (source), and fetches 10 000 records a peer streams
//! (target), as NEO/py's storages do it, chunk by chunk (`ask_stream` /
//! `Request::send`); with unfinished transactions, lockless writes, what
//! the asker must delete, and the errors.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::fake::*;
use common::*;
use neo_storage::commit::ZERO_HASH;
use neo_storage::Node;
use neonet::neopy::{
    self, Address, CellInfo, CellState, Checksum, ErrorCode, Message, NodeInfo, NodeState, NodeType,
};
use neonet::{LinkListener, NeoPy, NodeLink, Streamed};

/// The peer storage's node id.
const PEER: i32 = 2;
/// Transactions of the model, and objects per transaction.
const TXNS: u64 = 2000;
const PER_TXN: u64 = 5;

fn tid(i: u64) -> u64 {
    0x03d0_0000_0001_0000 + i * 0x10
}

/// The record of object `k` of transaction `i`.
fn data(i: u64, k: u64) -> Vec<u8> {
    format!("txn {i} object {k}").into_bytes()
}

fn oid(i: u64, k: u64) -> u64 {
    (i * PER_TXN + k) % 3000
}

/// A database with the model's 10 000 records, in one partition.
fn model_db(dir: &TempDir) -> TestDb {
    let mut db = TestDb::new(&dir.path("source.sqlite"), CLUSTER, NID, 1);
    db.exec("BEGIN");
    for i in 0..TXNS {
        let oids: Vec<u64> = (0..PER_TXN).map(|k| oid(i, k)).collect();
        for k in 0..PER_TXN {
            db.obj(oid(i, k), tid(i), Rec::Raw(&data(i, k)));
        }
        db.txn(tid(i), &oids, b"", format!("txn {i}").as_bytes(), b"");
    }
    db.exec("COMMIT");
    db
}

/// Tells the node about the peer storage (running, at `addr`), and
/// about itself with an id timestamp; the peer's.
fn announce_peer(s: &mut Session, addr: Option<std::net::SocketAddr>) -> f64 {
    s.clock += 1.0;
    let ts = s.clock;
    let info = |uuid, address: Option<Address>| NodeInfo {
        node_type: NodeType::STORAGE,
        address,
        uuid: Some(uuid),
        state: NodeState::RUNNING,
        id_timestamp: Some(ts),
    };
    let peer_addr = addr.map(|a| Address {
        host: "127.0.0.1".into(),
        port: a.port(),
    });
    s.link
        .send1(&neopy::NotifyNodeInformation {
            timestamp: s.clock,
            node_list: vec![info(PEER, peer_addr), info(NID, None)],
        })
        .unwrap();
    s.ping();
    ts
}

/// The fake peer identifies with the node as storage `PEER`.
fn peer_link(node: &Node, s: &mut Session) -> NodeLink<NeoPy> {
    let ts = announce_peer(s, None);
    let link = neonet::Dialer::new(node.addr())
        .dialect::<NeoPy>()
        .dial()
        .unwrap();
    link.set_recv_timeout(Some(BOUND));
    let a = link
        .ask1(&neopy::RequestIdentification {
            node_type: NodeType::STORAGE,
            uuid: Some(PEER),
            address: None,
            name: CLUSTER.into(),
            id_timestamp: Some(ts),
            extra: Default::default(),
        })
        .unwrap();
    assert_eq!(
        (a.node_type, a.uuid, a.your_uuid),
        (NodeType::STORAGE, Some(NID), Some(PEER))
    );
    link
}

#[test]
fn the_node_streams_a_partition_to_a_peer() {
    let dir = TempDir::new();
    let db = model_db(&dir);
    let master = FakeMaster::new();
    let node = Node::start(master.config(&db)).unwrap();
    let mut s = master.start(rows(1, NID, CellState::UP_TO_DATE));
    let peer = peer_link(&node, &mut s);
    // Transactions: the peer has the first 10 and one the node lacks.
    let stray = tid(TXNS) + 1;
    let mut have: Vec<u64> = (0..10).map(tid).collect();
    have.push(stray);
    let (mut got, mut min_tid, mut first) = (Vec::new(), 0, true);
    loop {
        let ask = neopy::AskFetchTransactions {
            partition: 0,
            length: 1000,
            min_tid,
            max_tid: tid(TXNS),
            tid_list: if first { have.clone() } else { vec![] },
            ask_pack_info: first,
        };
        let mut stream = peer.ask_stream(&ask).unwrap();
        let answer = loop {
            match stream.recv().unwrap() {
                Streamed::Item(Message::AddTransaction(t)) => {
                    assert_eq!(t.oid_list.len() as u64, PER_TXN);
                    got.push(t.tid)
                }
                Streamed::Item(other) => panic!("{other:?}"),
                Streamed::Answer(a) => break a,
            }
        };
        if first {
            assert_eq!(
                (answer.tid_list, answer.completed_pack),
                (vec![stray], Some(0))
            );
        } else {
            assert_eq!((answer.tid_list, answer.completed_pack), (vec![], None));
        }
        first = false;
        match answer.next_tid {
            Some(next) => min_tid = next,
            None => break,
        }
    }
    assert_eq!(got, (10..TXNS).map(tid).collect::<Vec<_>>());
    stream_objects(&peer);
    // A partition the node does not serve.
    let ask = neopy::AskFetchTransactions {
        partition: 1,
        ..Default::default()
    };
    assert_eq!(
        peer_err(peer.ask_stream(&ask).unwrap().recv()),
        (
            ErrorCode::REPLICATION_ERROR,
            "partition 1 not readable".into()
        )
    );
}

/// Fetches every record of partition 0; the peer has the records of the
/// first transaction, and one the node lacks.
fn stream_objects(peer: &NodeLink<NeoPy>) {
    let mut mine: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    mine.insert(tid(0), (0..PER_TXN).map(|k| oid(0, k)).collect());
    mine.insert(tid(1), vec![2999]);
    let (mut count, mut min_tid, mut min_oid) = (0, 0, 0);
    let mut first = true;
    loop {
        let ask = neopy::AskFetchObjects {
            partition: 0,
            length: 1000,
            min_tid,
            max_tid: tid(TXNS),
            min_oid,
            object_dict: if first { mine.clone() } else { BTreeMap::new() },
        };
        let mut stream = peer.ask_stream(&ask).unwrap();
        let answer = loop {
            match stream.recv().unwrap() {
                Streamed::Item(Message::AddObject(o)) => {
                    let i = (o.serial - tid(0)) / 0x10;
                    let k = (0..PER_TXN).find(|&k| oid(i, k) == o.oid).unwrap();
                    assert_eq!(o.data.as_slice(), data(i, k).as_slice());
                    assert_eq!(
                        (o.checksum.0, o.compression, o.data_serial),
                        (sha1(&data(i, k)), 0, None)
                    );
                    count += 1;
                }
                Streamed::Item(other) => panic!("{other:?}"),
                Streamed::Answer(a) => break a,
            }
        };
        let expected: BTreeMap<u64, Vec<u64>> = if first {
            [(tid(1), vec![2999])].into()
        } else {
            BTreeMap::new()
        };
        assert_eq!(answer.object_dict, expected);
        first = false;
        match (answer.next_tid, answer.next_oid) {
            (Some(t), Some(o)) => (min_tid, min_oid) = (t, o),
            _ => break,
        }
    }
    assert_eq!(count, TXNS * PER_TXN - PER_TXN);
}

#[test]
fn undone_records_stream_without_data() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let master = FakeMaster::new();
    let node = Node::start(master.config(&db)).unwrap();
    let mut s = master.start(rows(1, NID, CellState::UP_TO_DATE));
    let peer = peer_link(&node, &mut s);
    let ask = neopy::AskFetchObjects {
        partition: 0,
        length: 1000,
        min_tid: 0,
        max_tid: T4,
        min_oid: 0,
        object_dict: BTreeMap::new(),
    };
    let mut stream = peer.ask_stream(&ask).unwrap();
    let mut records = Vec::new();
    while let Streamed::Item(Message::AddObject(o)) = stream.recv().unwrap() {
        records.push((o.oid, o.serial, o.checksum, o.data.len(), o.data_serial));
    }
    let one = Checksum(sha1(&zlib(ONE)));
    let sum = |d: &[u8]| Checksum(sha1(d));
    assert_eq!(
        records,
        vec![
            (0, T1, sum(b"root-1"), 6, None),
            (1, T1, one, zlib(ONE).len(), None),
            (0, T2, sum(b"root-2"), 6, None),
            (2, T2, sum(b"two-a"), 5, None),
            (1, T3, ZERO_HASH, 0, None),
            (2, T3, sum(b"two-b"), 5, None),
            (2, T4, sum(b"two-a"), 5, Some(T2)),
        ]
    );
}

/// A fake source storage: serves the model's partition 0 up to tid
/// `upto` (the records of later transactions are not there yet), as
/// NEO/py's storage does; the requests it got.
fn serve_source(link: &NodeLink<NeoPy>, upto: u64, requests: &mut Vec<String>) {
    let tids: Vec<u64> = (0..TXNS).map(tid).filter(|&t| t <= upto).collect();
    let records: BTreeSet<(u64, u64)> = (0..TXNS)
        .filter(|&i| tid(i) <= upto)
        .flat_map(|i| (0..PER_TXN).map(move |k| (tid(i), oid(i, k))))
        .collect();
    loop {
        let Ok(req) = link.recv_timeout(BOUND) else {
            return;
        };
        match req.msg() {
            Message::AskFetchTransactions(a) => {
                requests.push(format!("trans {:016x} {}", a.min_tid, a.tid_list.len()));
                let theirs: BTreeSet<u64> = a.tid_list.iter().copied().collect();
                let mut range: Vec<u64> = tids
                    .iter()
                    .copied()
                    .filter(|&t| a.min_tid <= t && t <= a.max_tid)
                    .take(a.length as usize + 1)
                    .collect();
                let next = (range.len() > a.length as usize)
                    .then(|| range.pop())
                    .flatten();
                for &t in range.iter().filter(|t| !theirs.contains(t)) {
                    let i = (t - tid(0)) / 0x10;
                    req.send(&neopy::AddTransaction {
                        tid: t,
                        desc: format!("txn {i}").into_bytes(),
                        ttid: t - 1,
                        oid_list: (0..PER_TXN).map(|k| oid(i, k)).collect(),
                        ..Default::default()
                    })
                    .unwrap();
                }
                req.reply(&neopy::AnswerFetchTransactions {
                    next_tid: next,
                    tid_list: vec![],
                    completed_pack: a.ask_pack_info.then_some(0),
                })
                .unwrap();
            }
            Message::AskFetchObjects(a) => {
                requests.push(format!("objects {:016x} {:016x}", a.min_tid, a.min_oid));
                let mut range: Vec<(u64, u64)> = records
                    .iter()
                    .copied()
                    .filter(|&(t, o)| {
                        (t == a.min_tid && o >= a.min_oid) || (a.min_tid < t && t <= a.max_tid)
                    })
                    .take(a.length as usize + 1)
                    .collect();
                let next = (range.len() > a.length as usize)
                    .then(|| range.pop())
                    .flatten();
                for (t, o) in range {
                    let i = (t - tid(0)) / 0x10;
                    let k = (0..PER_TXN).find(|&k| oid(i, k) == o).unwrap();
                    let d = data(i, k);
                    req.send(&neopy::AddObject {
                        oid: o,
                        serial: t,
                        compression: 0,
                        checksum: Checksum(sha1(&d)),
                        data: d.into(),
                        data_serial: None,
                    })
                    .unwrap();
                }
                req.reply(&neopy::AnswerFetchObjects {
                    next_tid: next.map(|n| n.0),
                    next_oid: next.map(|n| n.1),
                    object_dict: BTreeMap::new(),
                })
                .unwrap();
                if next.is_none() {
                    return;
                }
            }
            other => panic!("{other:?}"),
        }
    }
}

/// The node's next request or notification to the master, past node
/// and pack notifications.
fn from_node(s: &Session) -> neonet::Request<NeoPy> {
    loop {
        let req = s.link.recv_timeout(BOUND).unwrap();
        if req.msg().name() != "NotifyPackCompleted" {
            return req;
        }
    }
}

/// The node's next request to the master, which must be
/// `AskUnfinishedTransactions` (replication starts with it), and the
/// partitions it asks for.
fn unfinished_asked(s: &Session) -> (neonet::Request<NeoPy>, Vec<u32>) {
    let req = from_node(s);
    let Message::AskUnfinishedTransactions(u) = req.msg() else {
        panic!("{:?}", req.msg())
    };
    let offsets = u.offset_list.clone();
    (req, offsets)
}

/// A new node joins a running cluster (as in NEO/py's join-running
/// trace) and gets an OUT_OF_DATE cell of partition 0.
fn join(master: &FakeMaster, node: &Node, source: &LinkListener) -> Session {
    let mut s = master.accept();
    s.node_state(NID, NodeType::STORAGE, NodeState::PENDING, None);
    let row = vec![vec![CellInfo {
        uuid: PEER,
        state: CellState::UP_TO_DATE,
    }]];
    s.link
        .send1(&neopy::SendPartitionTable {
            ptid: Some(1),
            num_replicas: 1,
            row_list: row,
        })
        .unwrap();
    s.link
        .send1(&neopy::StartOperation { backup: false })
        .unwrap();
    s.expect_notification("NotifyReady");
    announce_peer(&mut s, source.local_addr().as_tcp());
    assert!(node.is_operational());
    s.change_cell((2, 1), 0, NID, CellState::OUT_OF_DATE);
    s
}

/// The peer's side: accepts the node's link and checks its
/// identification.
fn accept_node(source: &LinkListener) -> NodeLink<NeoPy> {
    let link = source.accept().unwrap().into_neopy().unwrap();
    link.set_recv_timeout(Some(BOUND));
    let req = link.recv_timeout(BOUND).unwrap();
    let Message::RequestIdentification(i) = req.msg() else {
        panic!("{:?}", req.msg())
    };
    assert_eq!(
        (i.node_type, i.uuid, i.name.as_str()),
        (NodeType::STORAGE, Some(NID), CLUSTER)
    );
    assert!(i.id_timestamp.is_some());
    req.reply(&neopy::AcceptIdentification {
        node_type: NodeType::STORAGE,
        uuid: Some(PEER),
        your_uuid: Some(NID),
    })
    .unwrap();
    link
}

#[test]
fn the_node_fetches_a_partition_from_a_peer() {
    let dir = TempDir::new();
    let master = FakeMaster::new();
    let source = LinkListener::bind("127.0.0.1:0").unwrap();
    let node = Node::start(master.config_at(&dir.path("new.sqlite"))).unwrap();
    let mut s = join(&master, &node, &source);
    let last = tid(TXNS - 1);
    let (req, offsets) = unfinished_asked(&s);
    assert_eq!(offsets, [0]);
    req.reply(&neopy::AnswerUnfinishedTransactions {
        max_tid: last,
        ttid_list: vec![],
    })
    .unwrap();
    let mut requests = Vec::new();
    serve_source(&accept_node(&source), last, &mut requests);
    // 2 chunks of transactions, 10 of objects.
    assert_eq!(requests.len(), 12, "{requests:?}");
    let req = from_node(&s);
    let Message::NotifyReplicationDone(d) = req.msg() else {
        panic!("{:?}", req.msg())
    };
    assert_eq!((d.offset, d.tid), (0, last));
    up_to_date(&mut s);
    let c = Client::connect(&node, &mut s, 5);
    for i in (0..TXNS).step_by(7) {
        for k in 0..PER_TXN {
            let o = c.load(oid(i, k), Some(tid(i)), None).unwrap();
            assert_eq!(o.data.as_slice(), data(i, k).as_slice());
        }
    }
    let info = c
        .link
        .ask1(&neopy::AskTransactionInformation { tid: last })
        .unwrap();
    assert_eq!(info.desc, format!("txn {}", TXNS - 1).into_bytes());
}

/// The node's replicator can read a cell change twice: saved in the
/// database (which it reads as it starts) and as the change's own event.
/// It replicates the partition once: the change read again asks the
/// master nothing (NEO/py never sees it twice).
#[test]
fn a_cell_change_read_twice_is_replicated_once() {
    let dir = TempDir::new();
    let master = FakeMaster::new();
    let source = LinkListener::bind("127.0.0.1:0").unwrap();
    let node = Node::start(master.config_at(&dir.path("new.sqlite"))).unwrap();
    let s = join(&master, &node, &source);
    let (req, _) = unfinished_asked(&s);
    // The same change again, queued for the replicator (the ping is
    // answered after the change was handed over) before it gets its answer.
    s.change_cell((3, 1), 0, NID, CellState::OUT_OF_DATE);
    s.ping();
    req.reply(&neopy::AnswerUnfinishedTransactions {
        max_tid: tid(TXNS - 1),
        ttid_list: vec![],
    })
    .unwrap();
    // Next, the node dials its source; it must not ask the master again.
    let (dialed_tx, dialed) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || dialed_tx.send(accept_node(&source)));
    let deadline = std::time::Instant::now() + BOUND;
    loop {
        if dialed.try_recv().is_ok() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the node never dialed its source"
        );
        match s.link.recv_timeout(std::time::Duration::from_millis(10)) {
            Ok(req) => assert_ne!(req.msg().name(), "AskUnfinishedTransactions", "asked twice"),
            Err(e) => assert!(e.is_timeout(), "{e}"),
        }
    }
}

fn up_to_date(s: &mut Session) {
    s.change_cell((3, 1), 0, NID, CellState::UP_TO_DATE);
    s.ping();
}

#[test]
fn unfinished_transactions_and_lockless_writes() {
    let dir = TempDir::new();
    let master = FakeMaster::new();
    let source = LinkListener::bind("127.0.0.1:0").unwrap();
    let node = Node::start(master.config_at(&dir.path("new.sqlite"))).unwrap();
    let mut s = join(&master, &node, &source);
    // A transaction is being committed when the node starts replicating:
    // replicated up to `mid` first, the rest once it is finished.
    let (mid, last, unfinished) = (tid(999), tid(TXNS - 1), tid(1000) - 1);
    let (req, _) = unfinished_asked(&s);
    req.reply(&neopy::AnswerUnfinishedTransactions {
        max_tid: mid,
        ttid_list: vec![unfinished],
    })
    .unwrap();
    // A client's store to the partition meanwhile: accepted without lock.
    let c = Client::connect(&node, &mut s, 5);
    assert_eq!(c.store(9999, 0, b"later", last + 0x100), Some(0));
    let link = accept_node(&source);
    let mut requests = Vec::new();
    serve_source(&link, mid, &mut requests);
    s.link
        .send1(&neopy::NotifyTransactionFinished {
            ttid: unfinished,
            max_tid: last,
        })
        .unwrap();
    serve_source(&link, last, &mut requests);
    // The second round resumes where the first ended.
    let resumed = requests
        .iter()
        .position(|r| r.starts_with("trans") && r != &requests[0]);
    assert_eq!(
        requests[resumed.unwrap()],
        format!("trans {:016x} 0", mid + 1)
    );
    // Done only once everything up to `last` is there.
    let req = from_node(&s);
    let Message::NotifyReplicationDone(d) = req.msg() else {
        panic!("{:?}", req.msg())
    };
    assert_eq!((d.offset, d.tid), (0, last));
    up_to_date(&mut s);
    assert_eq!(c.load(oid(1500, 2), None, None).unwrap().serial, tid(1500));
}
