//! Clients on the wire: identification, every read with its edge cases,
//! protocol errors, several partitions, and 8 links loading in parallel.

mod common;

use std::sync::{Arc, Barrier};

use common::fake::*;
use common::*;
use neo_storage::reads::{INVALID_PARTITION, MAX_TID};
use neo_storage::Node;
use neonet::neopy::{self, CellState, ErrorCode, NodeType};

fn running(db: &TestDb, partitions: u32) -> (FakeMaster, Session, Node) {
    let master = FakeMaster::new();
    let node = Node::start(master.config(db)).unwrap();
    let s = master.start(rows(partitions, NID, CellState::UP_TO_DATE));
    (master, s, node)
}

#[test]
fn client_before_operation_is_not_ready() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let master = FakeMaster::new();
    let node = Node::start(master.config(&db)).unwrap();
    let _s = master.accept(); // identified, still recovering
    let c = Client::dial(&node);
    assert_eq!(
        peer_err(c.identify(5, 1.0)),
        (ErrorCode::NOT_READY, "Retry Later".into())
    );
    // NEO/py closes the link after NOT_READY.
    assert!(c.load(0, None, None).is_err());
}

#[test]
fn identification_refusals() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let (_m, mut s, node) = running(&db, 1);
    let ask = |r: neopy::RequestIdentification| Client::dial(&node).link.ask1(&r);
    let mut other = identification(5, Some(1.0));
    other.name = "prod".into();
    assert_eq!(
        peer_err(ask(other)),
        (ErrorCode::PROTOCOL_ERROR, "invalid cluster name".into())
    );
    // Not announced by the master (and its timestamp is in the past).
    assert_eq!(
        peer_err(ask(identification(5, Some(1.0)))),
        (ErrorCode::NOT_READY, "unknown by master".into())
    );
    assert_eq!(
        peer_err(ask(identification(5, None))),
        (ErrorCode::NOT_READY, "unknown by master".into())
    );
    let ts = s.add_client(6);
    s.ping();
    assert_eq!(
        peer_err(ask(identification(6, Some(ts + 1.0)))).0,
        ErrorCode::NOT_READY
    );
    assert_eq!(
        peer_err(ask(identification(NID, Some(ts)))),
        (
            ErrorCode::PROTOCOL_ERROR,
            "uuid conflict or loopback connection".into()
        )
    );
    let mut anon = identification(6, Some(ts));
    anon.uuid = None;
    assert_eq!(peer_err(ask(anon)).0, ErrorCode::PROTOCOL_ERROR);
    let mut admin = identification(6, Some(ts));
    admin.node_type = NodeType::ADMIN;
    assert_eq!(
        peer_err(ask(admin)),
        (
            ErrorCode::PROTOCOL_ERROR,
            "reject non-client-or-storage node".into()
        )
    );
    // A request before identification.
    let c = Client::dial(&node);
    let (code, msg) = peer_err(c.load(0, None, None));
    assert_eq!(
        (code, msg.as_str()),
        (
            ErrorCode::PROTOCOL_ERROR,
            "unexpected packet: AskObject before identification"
        )
    );
    // The client the master knows, with its id timestamp, is accepted.
    let a = Client::dial(&node).identify(6, ts).unwrap();
    assert_eq!(
        (a.node_type, a.uuid, a.your_uuid),
        (NodeType::STORAGE, Some(NID), Some(6))
    );
}

#[test]
fn client_announced_after_it_identifies() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let (_m, mut s, node) = running(&db, 1);
    // Its id timestamp is newer than the master's last notification: the
    // node waits for the notification, whichever comes first.
    let ts = s.clock + 10.0;
    let c = Client::dial(&node);
    let waiting = std::thread::spawn(move || c.identify(7, ts).map(|a| a.your_uuid));
    s.node_state(7, NodeType::CLIENT, neopy::NodeState::RUNNING, Some(ts));
    assert_eq!(waiting.join().unwrap().unwrap(), Some(7));
}

#[test]
fn loads() {
    let dir = TempDir::new();
    let db = standard(&dir, 2);
    let (_m, mut s, node) = running(&db, 2);
    let c = Client::connect(&node, &mut s, 5);
    let cur = c.load(0, None, Some(T4 + 1)).unwrap();
    assert_eq!(
        (cur.oid, cur.serial, cur.next_serial, &cur.data[..]),
        (0, T2, None, &b"root-2"[..])
    );
    assert_eq!(
        (cur.compression, cur.checksum.0, cur.data_serial),
        (Some(0), sha1(b"root-2"), None)
    );
    let old = c.load(0, None, Some(T2)).unwrap();
    assert_eq!((old.serial, old.next_serial), (T1, Some(T2)));
    let at = c.load(0, Some(T1), None).unwrap();
    assert_eq!((at.serial, &at.data[..]), (T1, &b"root-1"[..]));
    let z = c.load(1, Some(T1), None).unwrap();
    assert_eq!(
        (z.compression, &z.data[..], z.checksum.0),
        (Some(1), &zlib(ONE)[..], sha1(&zlib(ONE)))
    );
    let gone = c.load(1, None, None).unwrap();
    assert_eq!(
        (
            gone.serial,
            gone.compression,
            gone.checksum.0,
            gone.data.len()
        ),
        (T3, None, [0; 20], 0)
    );
    let undo = c.load(2, None, None).unwrap();
    assert_eq!(
        (undo.serial, &undo.data[..], undo.data_serial),
        (T4, &b"two-a"[..], Some(T2))
    );
    assert_eq!(
        peer_err(c.load(8, None, None)),
        (ErrorCode::OID_DOES_NOT_EXIST, "0000000000000008".into())
    );
    assert_eq!(
        peer_err(c.load(0, None, Some(T1))),
        (ErrorCode::OID_NOT_FOUND, "0000000000000000".into())
    );
    assert_eq!(
        peer_err(c.load(0, Some(T3), None)),
        (ErrorCode::OID_NOT_FOUND, "0000000000000000".into())
    );
    // The link is still up after errors.
    assert_eq!(c.load(0, None, None).unwrap().serial, T2);
}

#[test]
fn history_transactions_iteration_undo() {
    let dir = TempDir::new();
    let db = standard(&dir, 2);
    let (_m, mut s, node) = running(&db, 2);
    let c = Client::connect(&node, &mut s, 5);
    let l = &c.link;
    let h = l
        .ask1(&neopy::AskObjectHistory {
            oid: 2,
            first: 0,
            last: 2,
        })
        .unwrap();
    assert_eq!(
        h.history_list
            .iter()
            .map(|e| (e.serial, e.size))
            .collect::<Vec<_>>(),
        vec![(T4, 5), (T3, 5)]
    );
    let t = l
        .ask1(&neopy::AskTransactionInformation { tid: T2 })
        .unwrap();
    assert_eq!(
        (t.tid, &t.user[..], &t.desc[..], t.packed, t.oid_list),
        (T2, &b"bob"[..], &b"change"[..], false, vec![0, 2])
    );
    assert_eq!(
        peer_err(l.ask1(&neopy::AskTransactionInformation { tid: 5 })).0,
        ErrorCode::TID_NOT_FOUND
    );
    // undoLog: AskTIDs over every partition served.
    let tids = l
        .ask1(&neopy::AskTIDs {
            first: 0,
            last: 3,
            partition: INVALID_PARTITION,
        })
        .unwrap();
    assert_eq!(tids.tid_list, vec![T4, T3, T2]);
    // iterator: AskTIDsFrom per partition.
    let mut all = Vec::new();
    for partition in 0..2 {
        let r = l
            .ask1(&neopy::AskTIDsFrom {
                min_tid: 0,
                max_tid: MAX_TID,
                length: 100,
                partition,
            })
            .unwrap();
        all.extend(r.tid_list);
    }
    all.sort();
    assert_eq!(all, vec![T1, T2, T3, T4]);
    // oids(): AskOIDsFrom per partition (oid 1's creation was undone).
    let o = l
        .ask1(&neopy::AskOIDsFrom {
            partition: 0,
            length: 1000,
            min_oid: 0,
            tid: T4,
        })
        .unwrap();
    assert_eq!((o.next_oid, o.oid_list), (None, vec![0, 2]));
    let o = l
        .ask1(&neopy::AskOIDsFrom {
            partition: 1,
            length: 1000,
            min_oid: 0,
            tid: T2,
        })
        .unwrap();
    assert_eq!(o.oid_list, vec![1]);
    // undo: AskObjectUndoSerial.
    let u = l
        .ask1(&neopy::AskObjectUndoSerial {
            ttid: T4 + 7,
            ltid: T4 + 1,
            undone_tid: T2,
            oid_list: vec![0, 2],
        })
        .unwrap();
    let got: Vec<_> = u
        .object_tid_dict
        .iter()
        .map(|(o, s)| (*o, s.current_serial, s.undo_serial, s.is_current))
        .collect();
    // oid 2: T4 restored T2's data, so undoing T2 there is current.
    assert_eq!(got, vec![(0, T2, Some(T1), true), (2, T4, None, true)]);
    let nf = l.ask1(&neopy::AskObjectUndoSerial {
        ttid: T4 + 7,
        ltid: T2,
        undone_tid: T2,
        oid_list: vec![0],
    });
    assert_eq!(
        peer_err(nf),
        (ErrorCode::OID_NOT_FOUND, "0000000000000000".into())
    );
    assert_eq!(l.ask1(&neopy::AskLastTransaction {}).unwrap().ltid, T4);
    l.ask1(&neopy::Ping {}).unwrap();
}

#[test]
fn protocol_errors_close_the_link() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let (_m, mut s, node) = running(&db, 1);
    let c = Client::connect(&node, &mut s, 5);
    let bad = c.link.ask1(&neopy::AskObjectHistory {
        oid: 0,
        first: 3,
        last: 3,
    });
    assert_eq!(
        peer_err(bad),
        (ErrorCode::PROTOCOL_ERROR, "invalid offsets".into())
    );
    assert!(
        c.load(0, None, None).is_err(),
        "NEO/py closes the link after a protocol error"
    );
    let c = Client::connect(&node, &mut s, 6);
    let bad = c.link.ask1(&neopy::AskTIDs {
        first: 1,
        last: 0,
        partition: 0,
    });
    assert_eq!(peer_err(bad).0, ErrorCode::PROTOCOL_ERROR);
    let c = Client::connect(&node, &mut s, 7);
    let (code, msg) = peer_err(c.link.ask1(&neopy::AskBeginTransaction { tid: None }));
    assert_eq!(
        (code, msg.as_str()),
        (
            ErrorCode::PROTOCOL_ERROR,
            "unexpected packet: AskBeginTransaction from a client"
        )
    );
    assert!(c.load(0, None, None).is_err());
}

#[test]
fn a_16_mib_record() {
    let dir = TempDir::new();
    let mut db = standard(&dir, 1);
    let big: Vec<u8> = (0..16u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    db.obj(9, T4, Rec::Raw(&big));
    let (_m, mut s, node) = running(&db, 1);
    let c = Client::connect(&node, &mut s, 5);
    let got = c.load(9, None, None).unwrap();
    assert_eq!((got.data.len(), got.checksum.0), (16 << 20, sha1(&big)));
    assert!(got.data[..] == big[..]);
}

#[test]
fn several_partitions() {
    let dir = TempDir::new();
    let db = standard(&dir, 3);
    let master = FakeMaster::new();
    let node = Node::start(master.config(&db)).unwrap();
    // Partition 0 readable, 1 being replicated, 2 another node's.
    let table = vec![
        vec![neopy::CellInfo {
            uuid: NID,
            state: CellState::UP_TO_DATE,
        }],
        vec![
            neopy::CellInfo {
                uuid: NID,
                state: CellState::OUT_OF_DATE,
            },
            neopy::CellInfo {
                uuid: 2,
                state: CellState::UP_TO_DATE,
            },
        ],
        vec![neopy::CellInfo {
            uuid: 2,
            state: CellState::UP_TO_DATE,
        }],
    ];
    let mut s = master.start(table);
    let c = Client::connect(&node, &mut s, 5);
    assert_eq!(c.load(0, None, None).unwrap().serial, T2);
    let nr = (ErrorCode::NON_READABLE_CELL, String::new());
    assert_eq!(peer_err(c.load(1, None, None)), nr);
    assert_eq!(peer_err(c.load(2, None, None)), nr);
    let tids = c
        .link
        .ask1(&neopy::AskTIDs {
            first: 0,
            last: 10,
            partition: INVALID_PARTITION,
        })
        .unwrap();
    assert_eq!(
        tids.tid_list,
        [T4, T3, T2, T1]
            .into_iter()
            .filter(|t| t % 3 == 0)
            .collect::<Vec<_>>()
    );
    // The cell of partition 1 becomes readable: served at once.
    s.change_cell((2, 0), 1, NID, CellState::UP_TO_DATE);
    s.ping();
    assert_eq!(c.load(1, None, None).unwrap().serial, T3);
    // Partition 0 dropped from this node.
    s.change_cell((3, 0), 0, NID, CellState::DISCARDED);
    s.ping();
    assert_eq!(peer_err(c.load(0, None, None)), nr);
}

#[test]
fn eight_links_a_thousand_loads_each() {
    let dir = TempDir::new();
    let mut db = standard(&dir, 4);
    for oid in 10..110u64 {
        db.obj(oid, T4, Rec::Raw(&oid.to_be_bytes()));
    }
    let (_m, mut s, node) = running(&db, 4);
    let clients: Vec<Client> = (0..8)
        .map(|i| Client::connect(&node, &mut s, 100 + i))
        .collect();
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                for n in 0..1000u64 {
                    let oid = 10 + (n * 7 + i as u64) % 100;
                    let a = c.load(oid, None, Some(MAX_TID)).unwrap();
                    assert_eq!(
                        (a.oid, a.serial, &a.data[..]),
                        (oid, T4, &oid.to_be_bytes()[..])
                    );
                }
                c
            })
        })
        .collect();
    let clients: Vec<Client> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!((clients.len(), node.clients()), (8, 8));
}
