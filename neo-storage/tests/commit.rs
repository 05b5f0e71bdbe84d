//! Commits on the wire, as NEO/py's client and master make them: stores,
//! conflicts, checks, undo, votes, locks and unlocks, aborts from either
//! side, two writers on the same objects (NEO/py's deadlock avoidance),
//! reads waiting for an unlock, and bad requests.

mod common;

use common::commit::*;
use common::fake::*;
use common::*;
use neo_storage::commit::ZERO_HASH;
use neo_storage::{Exit, Node};
use neonet::neopy::{self, CellInfo, CellState, ErrorCode, Message, NodeState, NodeType};

/// Tids of the commits, in order (ttid, then tid).
const T1: (u64, u64) = (0x03d0_0000_0000_1000, 0x03d0_0000_0000_1001);
const T2: (u64, u64) = (0x03d0_0000_0000_2000, 0x03d0_0000_0000_2001);
const T3: (u64, u64) = (0x03d0_0000_0000_3000, 0x03d0_0000_0000_3001);

/// A node on a new database, operational, with one partition.
fn new_node(dir: &TempDir) -> (FakeMaster, Session, Node) {
    let master = FakeMaster::new();
    let node = Node::start(master.config_at(&dir.path("new.sqlite"))).unwrap();
    let s = master.start(rows(1, NID, CellState::UP_TO_DATE));
    (master, s, node)
}

fn waiting(node: &Node) -> usize {
    node.shared().tm.lock().waiting()
}

/// Every write queued before this is committed.
fn flush(node: &Node) {
    node.shared().writer().run(false, |_| Ok(())).unwrap();
}

fn count(db: &std::path::Path, table: &str) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn commit_then_read() {
    let dir = TempDir::new();
    let (_m, mut s, node) = new_node(&dir);
    let c = Client::connect(&node, &mut s, 5);
    s.commit(&node, &c, T1.0, T1.1, &[(0, 0, b"root-1"), (1, 0, b"one")]);
    let o = c.load(0, None, None).unwrap();
    assert_eq!((o.serial, o.data.as_slice()), (T1.1, &b"root-1"[..]));
    assert_eq!(o.checksum.0, sha1(b"root-1"));
    let t = c
        .link
        .ask1(&neopy::AskTransactionInformation { tid: T1.1 })
        .unwrap();
    assert_eq!(
        (t.user, t.desc, t.oid_list),
        (b"tester".to_vec(), b"commit".to_vec(), vec![0, 1])
    );
    s.commit(&node, &c, T2.0, T2.1, &[(0, T1.1, b"root-2")]);
    let o = c.load(0, None, None).unwrap();
    assert_eq!((o.serial, o.data.as_slice()), (T2.1, &b"root-2"[..]));
    let o = c.load(0, Some(T1.1), None).unwrap();
    assert_eq!(
        (o.next_serial, o.data.as_slice()),
        (Some(T2.1), &b"root-1"[..])
    );
    assert_eq!(
        c.link.ask1(&neopy::AskLastTransaction {}).unwrap().ltid,
        T2.1
    );
    // Nothing is left of the commits in the temporary tables.
    flush(&node);
    assert_eq!(
        (
            count(&dir.path("new.sqlite"), "tobj"),
            count(&dir.path("new.sqlite"), "ttrans")
        ),
        (0, 0)
    );
}

/// A client that loads without pause keeps its read transaction once
/// nothing was committed for a while (`db::QUIET`): a commit made
/// meanwhile by another client is seen by its very next load.
#[test]
fn a_reader_that_kept_its_snapshot_sees_the_next_commit() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = TempDir::new();
    let (_m, mut s, node) = new_node(&dir);
    let reader = Client::connect(&node, &mut s, 5);
    let writer = Client::connect(&node, &mut s, 6);
    s.commit(&node, &writer, T1.0, T1.1, &[(0, 0, b"root-1")]);
    let unlocked = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let loads = scope.spawn(|| {
            let start = std::time::Instant::now();
            let mut after = 0;
            // Loads until several have started after the unlock.
            while after < 20 {
                let done = unlocked.load(Ordering::SeqCst);
                let o = reader.load(0, None, None).unwrap();
                if done {
                    assert_eq!((o.serial, o.data.as_slice()), (T2.1, &b"root-2"[..]));
                    after += 1;
                }
                assert!(start.elapsed() < BOUND, "no unlock");
            }
        });
        // The reader's snapshot is kept from now on.
        std::thread::sleep(neo_storage::db::QUIET * 2);
        s.commit(&node, &writer, T2.0, T2.1, &[(0, T1.1, b"root-2")]);
        unlocked.store(true, Ordering::SeqCst);
        loads.join().unwrap();
    });
}

#[test]
fn compressed_data_is_kept_as_sent() {
    let dir = TempDir::new();
    let (_m, mut s, node) = new_node(&dir);
    let c = Client::connect(&node, &mut s, 5);
    let z = zlib(&[b'a'; 1000]);
    let mut store = store_req(0, 0, &z, T1.0);
    store.compression = 1;
    assert_eq!(c.link.ask1(&store).unwrap().conflict, None);
    c.store_txn(T1.0, &[0]);
    s.lock(T1.0, T1.1);
    s.unlock(&node, T1.0);
    let o = c.load(0, None, None).unwrap();
    assert_eq!(
        (o.compression, o.checksum.0, o.data.as_slice()),
        (Some(1), sha1(&z), z.as_slice())
    );
}

#[test]
fn conflicts_and_checks() {
    let dir = TempDir::new();
    let (_m, mut s, node) = new_node(&dir);
    let c = Client::connect(&node, &mut s, 5);
    s.commit(&node, &c, T1.0, T1.1, &[(0, 0, b"a"), (1, 0, b"b")]);
    // Based on the creation, which T1 changed: the conflict is T1.
    assert_eq!(c.store(0, 0, b"x", T2.0), Some(T1.1));
    let check = |oid, serial| {
        c.link
            .ask1(&neopy::AskCheckCurrentSerial {
                ttid: T2.0,
                oid,
                serial,
            })
            .unwrap()
            .conflict
    };
    assert_eq!(check(1, 0), Some(T1.1));
    assert_eq!(check(1, T1.1), None);
    // The conflict resolved, the store goes through.
    assert_eq!(c.store(0, T1.1, b"x2", T2.0), None);
    c.store_txn(T2.0, &[0]);
    s.lock(T2.0, T2.1);
    s.unlock(&node, T2.0);
    assert_eq!(c.load(0, None, None).unwrap().data.as_slice(), b"x2");
    assert_eq!(c.load(1, None, None).unwrap().serial, T1.1);
}

#[test]
fn undo_reuses_the_undone_data() {
    let dir = TempDir::new();
    let (_m, mut s, node) = new_node(&dir);
    let c = Client::connect(&node, &mut s, 5);
    s.commit(&node, &c, T1.0, T1.1, &[(0, 0, b"first")]);
    s.commit(&node, &c, T2.0, T2.1, &[(0, T1.1, b"second")]);
    // Undo T2 as NEO/py's client does: ask where to start, then store
    // with data_serial and no data.
    let u = c
        .link
        .ask1(&neopy::AskObjectUndoSerial {
            ttid: T3.0,
            ltid: T2.1 + 1,
            undone_tid: T2.1,
            oid_list: vec![0],
        })
        .unwrap();
    let undo = u.object_tid_dict[&0].clone();
    assert_eq!(
        (undo.current_serial, undo.undo_serial, undo.is_current),
        (T2.1, Some(T1.1), true)
    );
    let store = neopy::AskStoreObject {
        oid: 0,
        serial: T2.1,
        compression: 0,
        checksum: ZERO_HASH,
        data: Default::default(),
        data_serial: Some(T1.1),
        ttid: Some(T3.0),
    };
    assert_eq!(c.link.ask1(&store).unwrap().conflict, None);
    // Within the transaction, the undo starts from what it stored.
    let u = c
        .link
        .ask1(&neopy::AskObjectUndoSerial {
            ttid: T3.0,
            ltid: T2.1 + 1,
            undone_tid: T1.1,
            oid_list: vec![0],
        })
        .unwrap();
    assert_eq!(u.object_tid_dict[&0].current_serial, T1.1);
    c.store_txn(T3.0, &[0]);
    s.lock(T3.0, T3.1);
    s.unlock(&node, T3.0);
    let o = c.load(0, None, None).unwrap();
    assert_eq!(
        (o.serial, o.data.as_slice(), o.data_serial),
        (T3.1, &b"first"[..], Some(T1.1))
    );
    // Undoing from a record that is not there (packed away).
    let mut gone = store.clone();
    gone.serial = T3.1;
    gone.data_serial = Some(T1.1 - 1);
    gone.ttid = Some(T3.0 + 1);
    assert_eq!(
        peer_err(c.link.ask1(&gone)),
        (
            ErrorCode(13),
            "Could not undo for oid 0000000000000000".into()
        )
    );
}

#[test]
fn a_younger_transaction_waits_for_the_lock() {
    let dir = TempDir::new();
    let (_m, mut s, node) = new_node(&dir);
    let a = Client::connect(&node, &mut s, 5);
    let b = Client::connect(&node, &mut s, 6);
    assert_eq!(a.store(0, 0, b"from a", T1.0), None);
    std::thread::scope(|scope| {
        let later = ask_later(scope, &b.link, store_req(0, 0, b"from b", T2.0));
        wait_until("b's store waits", || waiting(&node) == 1);
        // No deadlock is possible: b is younger. a commits; b then
        // learns its conflict.
        a.store_txn(T1.0, &[0]);
        s.lock(T1.0, T1.1);
        s.unlock(&node, T1.0);
        assert_eq!(later.join().unwrap().unwrap().conflict, Some(T1.1));
    });
    assert_eq!(b.store(0, T1.1, b"from b", T2.0), None);
    b.store_txn(T2.0, &[0]);
    s.lock(T2.0, T2.1);
    s.unlock(&node, T2.0);
    assert_eq!(b.load(0, None, None).unwrap().data.as_slice(), b"from b");
}

#[test]
fn deadlock_avoidance() {
    let dir = TempDir::new();
    let (_m, mut s, node) = new_node(&dir);
    let a = Client::connect(&node, &mut s, 5); // older transaction, T1
    let b = Client::connect(&node, &mut s, 6); // younger, T2
                                               // b got to oid 0 first, a to oid 1: each then wants the other's.
    assert_eq!(b.store(0, 0, b"b0", T2.0), None);
    assert_eq!(a.store(1, 0, b"a1", T1.0), None);
    std::thread::scope(|scope| {
        let b_waits = ask_later(scope, &b.link, store_req(1, 0, b"b1", T2.0));
        wait_until("b's store of 1 waits", || waiting(&node) == 1);
        let a_waits = ask_later(scope, &a.link, store_req(0, 0, b"a0", T1.0));
        // a is older: b is asked to give oid 0 back.
        let Message::NotifyDeadlock(d) = b.notification() else {
            panic!("NotifyDeadlock expected")
        };
        assert_eq!((d.ttid, d.oid), (T2.0, 0));
        let relock = ask_later(
            scope,
            &b.link,
            neopy::AskRelockObject { ttid: T2.0, oid: 0 },
        );
        // a gets the lock; b's relock waits behind it.
        assert_eq!(a_waits.join().unwrap().unwrap().conflict, None);
        wait_until("b's relock waits", || waiting(&node) == 2);
        a.store_txn(T1.0, &[0, 1]);
        s.lock(T1.0, T1.1);
        s.unlock(&node, T1.0);
        // Both of b's requests learn the conflict; the relock gives back
        // the data b stored.
        assert_eq!(b_waits.join().unwrap().unwrap().conflict, Some(T1.1));
        let c = relock.join().unwrap().unwrap().conflict.unwrap();
        let data = c.data.unwrap();
        assert_eq!(
            (c.serial, c.conflict, data.data.as_slice(), data.checksum.0),
            (0, T1.1, &b"b0"[..], sha1(b"b0"))
        );
    });
    // b resolves the conflicts and commits.
    assert_eq!(b.store(0, T1.1, b"b0+a0", T2.0), None);
    assert_eq!(b.store(1, T1.1, b"b1+a1", T2.0), None);
    b.store_txn(T2.0, &[0, 1]);
    s.lock(T2.0, T2.1);
    s.unlock(&node, T2.0);
    assert_eq!(b.load(0, None, None).unwrap().data.as_slice(), b"b0+a0");
    assert_eq!(b.load(1, None, None).unwrap().data.as_slice(), b"b1+a1");
}

#[test]
fn aborts_from_the_client_and_the_master() {
    let dir = TempDir::new();
    let db = dir.path("new.sqlite");
    let (_m, mut s, node) = new_node(&dir);
    let a = Client::connect(&node, &mut s, 5);
    let b = Client::connect(&node, &mut s, 6);
    // The client aborts: its lock goes, b's store proceeds.
    assert_eq!(a.store(0, 0, b"a", T1.0), None);
    std::thread::scope(|scope| {
        let later = ask_later(scope, &b.link, store_req(0, 0, b"b", T2.0));
        wait_until("b waits", || waiting(&node) == 1);
        a.link
            .send1(&neopy::AbortTransaction {
                ttid: T1.0,
                uuid_list: vec![],
            })
            .unwrap();
        assert_eq!(later.join().unwrap().unwrap().conflict, None);
    });
    // The master aborts a voted transaction: its rows go.
    b.store_txn(T2.0, &[0]);
    flush(&node);
    assert_eq!(
        (count(&db, "tobj"), count(&db, "ttrans"), count(&db, "data")),
        (1, 1, 1)
    );
    s.link
        .send1(&neopy::AbortTransaction {
            ttid: T2.0,
            uuid_list: vec![],
        })
        .unwrap();
    s.ping();
    flush(&node);
    assert_eq!(
        (count(&db, "tobj"), count(&db, "ttrans"), count(&db, "data")),
        (0, 0, 0)
    );
    // So are the locks: a stores oid 0 again, no wait.
    assert_eq!(a.store(0, 0, b"a", T3.0), None);
}

#[test]
fn a_client_gone_loses_its_transactions() {
    let dir = TempDir::new();
    let (_m, mut s, node) = new_node(&dir);
    let a = Client::connect(&node, &mut s, 5);
    let b = Client::connect(&node, &mut s, 6);
    // Not voted: dropped when its link goes.
    assert_eq!(a.store(0, 0, b"a", T1.0), None);
    std::thread::scope(|scope| {
        let later = ask_later(scope, &b.link, store_req(0, 0, b"b", T2.0));
        wait_until("b waits", || waiting(&node) == 1);
        a.link.close();
        assert_eq!(later.join().unwrap().unwrap().conflict, None);
    });
    // Voted: kept until the master says the client is gone.
    b.store_txn(T2.0, &[0]);
    b.link.close();
    let c = Client::connect(&node, &mut s, 7);
    std::thread::scope(|scope| {
        let later = ask_later(scope, &c.link, store_req(0, 0, b"c", T3.0));
        wait_until("c waits", || waiting(&node) == 1);
        s.node_state(6, NodeType::CLIENT, NodeState::DOWN, None);
        assert_eq!(later.join().unwrap().unwrap().conflict, None);
    });
}

#[test]
fn reads_wait_for_the_unlock() {
    let dir = TempDir::new();
    let (_m, mut s, node) = new_node(&dir);
    let c = Client::connect(&node, &mut s, 5);
    s.commit(&node, &c, T1.0, T1.1, &[(0, 0, b"old")]);
    assert_eq!(c.store(0, T1.1, b"new", T2.0), None);
    c.store_txn(T2.0, &[0]);
    s.lock(T2.0, T2.1);
    // Locked: its final tid is known, and a load of its object waits.
    assert_eq!(
        c.link.ask1(&neopy::AskFinalTID { ttid: T2.0 }).unwrap().tid,
        Some(T2.1)
    );
    let r = Client::connect(&node, &mut s, 6);
    std::thread::scope(|scope| {
        let load = ask_later(
            scope,
            &r.link,
            neopy::AskObject {
                oid: 0,
                at: None,
                before: Some(T2.1 + 1),
            },
        );
        let tids = ask_later(
            scope,
            &c.link,
            neopy::AskTIDsFrom {
                min_tid: 0,
                max_tid: T2.1,
                length: 10,
                partition: 0,
            },
        );
        wait_until("the reads wait", || node.shared().tm.waiting_reads() == 2);
        s.unlock(&node, T2.0);
        let o = load.join().unwrap().unwrap();
        assert_eq!((o.serial, o.data.as_slice()), (T2.1, &b"new"[..]));
        assert_eq!(tids.join().unwrap().unwrap().tid_list, vec![T1.1, T2.1]);
    });
    assert_eq!(
        c.link.ask1(&neopy::AskFinalTID { ttid: T2.0 }).unwrap().tid,
        Some(T2.1)
    );

    // What ZODB's undoLog asks right after its commit returned (the master
    // answers the client before it tells the storages to unlock): the
    // newest transactions and their metadata, which must include it.
    assert_eq!(c.store(0, T2.1, b"newer", T3.0), None);
    c.store_txn(T3.0, &[0]);
    s.lock(T3.0, T3.1);
    std::thread::scope(|scope| {
        let newest = ask_later(
            scope,
            &c.link,
            neopy::AskTIDs {
                first: 0,
                last: 10,
                partition: 0,
            },
        );
        let info = ask_later(
            scope,
            &r.link,
            neopy::AskTransactionInformation { tid: T3.1 },
        );
        wait_until("the reads wait", || node.shared().tm.waiting_reads() == 2);
        s.unlock(&node, T3.0);
        assert_eq!(
            newest.join().unwrap().unwrap().tid_list,
            vec![T3.1, T2.1, T1.1]
        );
        assert_eq!(info.join().unwrap().unwrap().tid, T3.1);
    });
}

#[test]
fn bad_writes_are_protocol_errors() {
    let dir = TempDir::new();
    let (_m, mut s, node) = new_node(&dir);
    let mut refused = |nid: i32, req: neopy::AskStoreObject| {
        let c = Client::connect(&node, &mut s, nid);
        let e = peer_err(c.link.ask1(&req));
        // NEO/py closes the link after a protocol error.
        assert!(c.load(0, None, None).is_err());
        e
    };
    let mut bad = store_req(0, 0, b"data", T1.0);
    bad.checksum.0[0] ^= 1;
    assert_eq!(
        refused(5, bad),
        (ErrorCode::PROTOCOL_ERROR, "invalid checksum".into())
    );
    let mut bad = store_req(0, 0, b"data", T1.0);
    bad.compression = 2;
    assert_eq!(
        refused(6, bad),
        (
            ErrorCode::PROTOCOL_ERROR,
            "invalid compression value".into()
        )
    );
    let mut bad = store_req(0, 0, b"data", T1.0);
    bad.ttid = None;
    assert_eq!(
        refused(7, bad),
        (
            ErrorCode::PROTOCOL_ERROR,
            "store without a transaction".into()
        )
    );
    let c = Client::connect(&node, &mut s, 8);
    assert_eq!(
        peer_err(c.link.ask1(&neopy::AskVoteTransaction { ttid: T3.0 })),
        (
            ErrorCode::PROTOCOL_ERROR,
            format!("unknown ttid {:016x}", T3.0)
        )
    );
}

#[test]
fn stores_to_a_partition_not_served_are_ignored() {
    let dir = TempDir::new();
    let master = FakeMaster::new();
    let node = Node::start(master.config_at(&dir.path("new.sqlite"))).unwrap();
    let two = vec![
        vec![CellInfo {
            uuid: NID,
            state: CellState::UP_TO_DATE,
        }],
        vec![CellInfo {
            uuid: 2,
            state: CellState::UP_TO_DATE,
        }],
    ];
    let mut s = master.start(two);
    let c = Client::connect(&node, &mut s, 5);
    assert_eq!(c.store(1, 0, b"not mine", T1.0), Some(0));
    assert_eq!(c.store(0, 0, b"mine", T1.0), None);
    c.store_txn(T1.0, &[0, 1]);
    s.lock(T1.0, T1.1);
    s.unlock(&node, T1.0);
    assert_eq!(c.load(0, None, None).unwrap().serial, T1.1);
}

#[test]
fn a_failed_write_stops_the_node() {
    let dir = TempDir::new();
    let (_m, mut s, node) = new_node(&dir);
    let c = Client::connect(&node, &mut s, 5);
    assert_eq!(c.store(0, 0, b"x", T1.0), None);
    rusqlite::Connection::open(dir.path("new.sqlite"))
        .unwrap()
        .execute_batch("DROP TABLE ttrans")
        .unwrap();
    // The vote cannot be written: no answer, the node stops.
    assert!(c.link.ask1(&txn_req(T1.0, &[0], "doomed")).is_err());
    let Exit::Failed(why) = node.wait() else {
        panic!("Exit::Failed expected")
    };
    assert!(why.starts_with("database write failed: "), "{why}");
}

#[test]
fn relocks_and_checks_of_what_is_not_there() {
    let dir = TempDir::new();
    let master = FakeMaster::new();
    let node = Node::start(master.config_at(&dir.path("new.sqlite"))).unwrap();
    let two = vec![
        vec![CellInfo {
            uuid: NID,
            state: CellState::UP_TO_DATE,
        }],
        vec![CellInfo {
            uuid: 2,
            state: CellState::UP_TO_DATE,
        }],
    ];
    let mut s = master.start(two);
    let c = Client::connect(&node, &mut s, 5);
    // A relock of a transaction gone, or of an object it did not store:
    // forgotten (NEO/py logs it), nothing to resolve.
    let relock = |ttid, oid| {
        c.link
            .ask1(&neopy::AskRelockObject { ttid, oid })
            .unwrap()
            .conflict
    };
    assert_eq!(relock(T1.0, 0), None);
    assert_eq!(c.store(0, 0, b"x", T1.0), None);
    assert_eq!(relock(T1.0, 2), None);
    // A check in a partition this node does not serve: ignored.
    let check = neopy::AskCheckCurrentSerial {
        ttid: T1.0,
        oid: 1,
        serial: 0,
    };
    assert_eq!(c.link.ask1(&check).unwrap().conflict, Some(0));
    // A store of a transaction the master aborted meanwhile: registered
    // again, as NEO/py does; the abort of a transaction gone is nothing.
    s.link
        .send1(&neopy::AbortTransaction {
            ttid: T2.0,
            uuid_list: vec![],
        })
        .unwrap();
    s.ping();
    assert_eq!(c.store(2, 0, b"y", T1.0), None);
    c.store_txn(T1.0, &[0, 2]);
    s.lock(T1.0, T1.1);
    s.unlock(&node, T1.0);
    assert_eq!(c.load(2, None, None).unwrap().serial, T1.1);
}
