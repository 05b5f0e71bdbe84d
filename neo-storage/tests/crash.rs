//! `kill -9` of the node at every step of a commit, in a loop: the node
//! (the `neo-storage` binary, a child process) commits with a fake master
//! and a fake client, is killed, restarted on its database and verified
//! by the master as NEO/py's does. Every transaction whose lock was
//! answered (the master then tells the client its commit returned) must
//! be there after recovery, and nothing else: no half-written
//! transaction is visible.

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};

use common::commit::*;
use common::fake::*;
use common::*;
use neonet::neopy::{self, CellState, ClusterState, Message, NodeState, NodeType};
use neonet::NeoPy;

/// The steps of a commit, where the node is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    StoreSent,
    VoteSent,
    VoteAnswered,
    LockSent,
    LockAnswered,
    UnlockSent,
    Between,
}

const STEPS: [Step; 7] = [
    Step::StoreSent,
    Step::VoteSent,
    Step::VoteAnswered,
    Step::LockSent,
    Step::LockAnswered,
    Step::UnlockSent,
    Step::Between,
];

/// The objects of a transaction: oid, data.
type Objects = Vec<(u64, Vec<u8>)>;

/// What the master knows: the tid of each committed transaction, by
/// ttid, and for each object its data at each committed tid.
#[derive(Debug, Default)]
struct Model {
    committed: BTreeMap<u64, u64>,
    objects: BTreeMap<u64, BTreeMap<u64, Vec<u8>>>,
    /// The transaction in progress: ttid, tid, its objects.
    pending: Option<(u64, u64, Objects)>,
    next: u64,
}

impl Model {
    fn last_serial(&self, oid: u64) -> u64 {
        self.objects
            .get(&oid)
            .and_then(|h| h.keys().last().copied())
            .unwrap_or(0)
    }

    fn commit_pending(&mut self) {
        let (ttid, tid, objects) = self.pending.take().expect("a commit in progress");
        self.committed.insert(ttid, tid);
        for (oid, data) in objects {
            self.objects.entry(oid).or_default().insert(tid, data);
        }
    }
}

/// The node's process, killed when dropped (a failed test leaves none).
struct Proc(Child);

impl Proc {
    /// `kill -9`, and waits for it to be gone.
    fn kill(&mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(master: &FakeMaster, db: &std::path::Path) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_neo-storage"))
        .args([
            "-c",
            CLUSTER,
            "-b",
            "127.0.0.1:0",
            "-m",
            &master.addr(),
            "-d",
        ])
        .arg(db)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Proc(child)
}

/// Identification, recovery and verification: the transactions the node
/// says are locked are validated (and so committed). The node's address.
fn recover(master: &FakeMaster, model: &mut Model) -> (Session, String) {
    let link = master.listener.accept().unwrap().into_neopy().unwrap();
    link.set_recv_timeout(Some(BOUND));
    let req = link.recv_timeout(BOUND).unwrap();
    let Message::RequestIdentification(ident) = req.msg() else {
        panic!("{:?}", req.msg())
    };
    let a = ident.address.clone().unwrap();
    let addr = format!("{}:{}", a.host, a.port);
    req.reply(&neopy::AcceptIdentification {
        node_type: NodeType::MASTER,
        uuid: Some(MASTER_NID),
        your_uuid: Some(NID),
    })
    .unwrap();
    let mut s = Session {
        link,
        nid: NID,
        clock: 1000.0,
    };
    s.node_state(NID, NodeType::STORAGE, NodeState::RUNNING, None);
    s.link.ask1(&neopy::AskRecovery {}).unwrap();
    s.link
        .send1(&neopy::SendPartitionTable {
            ptid: Some(1),
            num_replicas: 0,
            row_list: rows(1, NID, CellState::UP_TO_DATE),
        })
        .unwrap();
    let locked = s.link.ask1(&neopy::AskLockedTransactions {}).unwrap();
    for (ttid, tid) in locked.tid_dict {
        let Some(tid) = tid else { continue };
        // Locked: committed (its lock was answered), or maybe (the node
        // was killed before answering); the master validates it.
        match model.committed.get(&ttid) {
            Some(&t) => assert_eq!(t, tid),
            None => {
                let (pending_ttid, pending_tid, _) = model.pending.as_ref().expect("in progress");
                assert_eq!((ttid, tid), (*pending_ttid, *pending_tid));
                model.commit_pending();
            }
        }
        s.link
            .send1(&neopy::ValidateTransaction { ttid, tid })
            .unwrap();
    }
    model.pending = None;
    s.link.ask1(&neopy::AskLastIDs {}).unwrap();
    s.link.ask1(&neopy::AskPackOrders { pack_id: 1 }).unwrap();
    s.link
        .send1(&neopy::NotifyClusterInformation {
            state: ClusterState::RUNNING,
        })
        .unwrap();
    s.link
        .send1(&neopy::StartOperation { backup: false })
        .unwrap();
    s.expect_notification("NotifyReady");
    (s, addr)
}

fn client(s: &mut Session, addr: &str, nid: i32) -> Client {
    let ts = s.add_client(nid);
    s.ping();
    let link = neonet::Dialer::new(addr).dialect::<NeoPy>().dial().unwrap();
    link.set_recv_timeout(Some(BOUND));
    let c = Client { link };
    c.identify(nid, ts).unwrap();
    c
}

/// What the node serves is exactly what the model committed.
fn check(c: &Client, model: &Model) {
    let tids = c
        .link
        .ask1(&neopy::AskTIDs {
            first: 0,
            last: 100_000,
            partition: neo_storage::reads::INVALID_PARTITION,
        })
        .unwrap()
        .tid_list;
    let mut expected: Vec<u64> = model.committed.values().copied().collect();
    expected.reverse();
    assert_eq!(tids, expected, "the transactions");
    for (oid, history) in &model.objects {
        for (tid, data) in history {
            let o = c.load(*oid, Some(*tid), None).unwrap();
            assert_eq!(o.data.as_slice(), data.as_slice(), "{oid} at {tid:016x}");
        }
        let last = c.load(*oid, None, None).unwrap();
        assert_eq!(last.serial, model.last_serial(*oid), "{oid}");
    }
}

/// The next transaction: 2 objects of 5 changed (ttid, tid, objects),
/// in progress in the model.
fn next_txn(model: &mut Model) -> (u64, u64, Objects) {
    model.next += 1;
    let ttid = 0x03d0_0000_0000_0000 + model.next * 0x100;
    let objects: Objects = (0..2)
        .map(|k| {
            let data = format!("txn {} obj {k}", model.next).into_bytes();
            ((model.next + k) % 5, data)
        })
        .collect();
    model.pending = Some((ttid, ttid + 1, objects.clone()));
    (ttid, ttid + 1, objects)
}

/// Commits until a request fails: the node was killed meanwhile.
fn commit_until_gone(s: &Session, c: &Client, model: &mut Model) {
    loop {
        let (ttid, tid, objects) = next_txn(model);
        for (oid, data) in &objects {
            let store = store_req(*oid, model.last_serial(*oid), data, ttid);
            match c.link.ask1(&store) {
                Ok(a) => assert_eq!(a.conflict, None),
                Err(_) => return,
            }
        }
        let oids: Vec<u64> = objects.iter().map(|o| o.0).collect();
        if c.link.ask1(&txn_req(ttid, &oids, "crash test")).is_err() {
            return;
        }
        let lock = neopy::AskLockInformation {
            ttid,
            tid,
            pack: false,
        };
        if s.link.ask1(&lock).is_err() {
            return;
        }
        model.commit_pending();
        let unlock = neopy::NotifyUnlockInformation { ttid };
        if s.link.send1(&unlock).is_err() || s.link.ask1(&neopy::Ping {}).is_err() {
            return;
        }
    }
}

/// Commits until the step `kill_at` of the `nth` commit, where the node
/// is killed (nothing waits for what was sent last).
fn commit_until_killed(
    s: &Session,
    c: &Client,
    model: &mut Model,
    child: &mut Proc,
    kill_at: Step,
    nth: usize,
) {
    let at = |step: Step, i: usize| step == kill_at && i == nth;
    for i in 0..=nth {
        let (ttid, tid, objects) = next_txn(model);
        for (oid, data) in &objects {
            let store = store_req(*oid, model.last_serial(*oid), data, ttid);
            if at(Step::StoreSent, i) {
                c.link.send1(&store).unwrap();
                return child.kill();
            }
            assert_eq!(c.link.ask1(&store).unwrap().conflict, None);
        }
        let oids: Vec<u64> = objects.iter().map(|o| o.0).collect();
        let vote = txn_req(ttid, &oids, "crash test");
        if at(Step::VoteSent, i) {
            c.link.send1(&vote).unwrap();
            return child.kill();
        }
        c.link.ask1(&vote).unwrap();
        if at(Step::VoteAnswered, i) {
            return child.kill();
        }
        let lock = neopy::AskLockInformation {
            ttid,
            tid,
            pack: false,
        };
        if at(Step::LockSent, i) {
            s.link.send1(&lock).unwrap();
            return child.kill();
        }
        s.link.ask1(&lock).unwrap();
        // The lock answered: the commit returns to the client.
        model.commit_pending();
        if at(Step::LockAnswered, i) {
            return child.kill();
        }
        s.link
            .send1(&neopy::NotifyUnlockInformation { ttid })
            .unwrap();
        if at(Step::UnlockSent, i) {
            return child.kill();
        }
        s.ping();
        if at(Step::Between, i) {
            return child.kill();
        }
    }
}

#[test]
fn kill_9_at_every_step_of_a_commit() {
    let dir = TempDir::new();
    let db = dir.path("storage.sqlite");
    let master = FakeMaster::new();
    let mut model = Model::default();
    for round in 0..2 * STEPS.len() {
        let mut child = spawn(&master, &db);
        let (mut s, addr) = recover(&master, &mut model);
        let c = client(&mut s, &addr, -(round as i32) - 10);
        check(&c, &model);
        commit_until_killed(
            &s,
            &c,
            &mut model,
            &mut child,
            STEPS[round % STEPS.len()],
            round % 3,
        );
    }
    let mut child = spawn(&master, &db);
    let (mut s, addr) = recover(&master, &mut model);
    let c = client(&mut s, &addr, -100);
    check(&c, &model);
    assert!(model.committed.len() >= STEPS.len());
    child.kill();
}

#[test]
fn kill_9_at_any_moment() {
    let dir = TempDir::new();
    let db = dir.path("storage.sqlite");
    let master = FakeMaster::new();
    let mut model = Model::default();
    for round in 0..8u64 {
        let mut child = spawn(&master, &db);
        let (mut s, addr) = recover(&master, &mut model);
        let c = client(&mut s, &addr, -(round as i32) - 10);
        check(&c, &model);
        // When the kill comes only varies the moment; nothing waits on it.
        let moment = std::time::Duration::from_millis(2 + round * 7 % 40);
        std::thread::scope(|scope| {
            let committing = scope.spawn(|| commit_until_gone(&s, &c, &mut model));
            std::thread::sleep(moment);
            child.kill();
            committing.join().unwrap();
        });
    }
    let mut child = spawn(&master, &db);
    let (mut s, addr) = recover(&master, &mut model);
    let c = client(&mut s, &addr, -100);
    check(&c, &model);
    eprintln!(
        "{} transactions committed across the kills",
        model.committed.len()
    );
    child.kill();
}

/// While the node runs, its database is its own: another process finds
/// it locked (as NEO's lock keeps other storage nodes off it). Once the
/// node is killed, what it voted is there for anyone, read back from its
/// `-wal` file.
#[test]
fn the_database_is_the_node_s_while_it_runs() {
    let dir = TempDir::new();
    let db = dir.path("storage.sqlite");
    let master = FakeMaster::new();
    let mut child = spawn(&master, &db);
    let mut model = Model::default();
    let (mut s, addr) = recover(&master, &mut model);
    let c = client(&mut s, &addr, -10);
    let ttid = 0x03d0_0000_0000_0100;
    assert_eq!(c.store(0, 0, b"voted", ttid), None);
    c.store_txn(ttid, &[0]);
    let other = rusqlite::Connection::open(&db).unwrap();
    other.busy_timeout(std::time::Duration::ZERO).unwrap();
    let count = || other.query_row("SELECT COUNT(*) FROM ttrans", [], |r| r.get::<_, i64>(0));
    let busy = count().unwrap_err().sqlite_error_code();
    assert_eq!(busy, Some(rusqlite::ErrorCode::DatabaseBusy));
    child.kill();
    assert_eq!(count().unwrap(), 1);
}

/// The most a process of the next test may write to one file, in
/// `ulimit -f` blocks (512 bytes in POSIX `sh`, 1024 in some shells): a
/// new node's database fits, a vote of [`TOO_BIG`] bytes does not.
const FILE_LIMIT_BLOCKS: u32 = 2048;

/// More than [`FILE_LIMIT_BLOCKS`] of either size.
const TOO_BIG: usize = 4 << 20;

#[test]
fn a_failed_write_exits_1() {
    let dir = TempDir::new();
    let db = dir.path("storage.sqlite");
    let master = FakeMaster::new();
    // The node holds its database exclusively while it runs, so that the
    // write is made to fail from outside with a file size limit (the
    // disk full, in effect): `write` then fails with EFBIG (SIGXFSZ is
    // ignored, as the shell's `trap` leaves it across `exec`).
    let script = format!("trap '' XFSZ; ulimit -f {FILE_LIMIT_BLOCKS}; exec \"$0\" \"$@\"");
    let child = Command::new("sh")
        .args(["-c", &script, env!("CARGO_BIN_EXE_neo-storage")])
        .args([
            "-c",
            CLUSTER,
            "-b",
            "127.0.0.1:0",
            "-m",
            &master.addr(),
            "-d",
        ])
        .arg(&db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Proc(child);
    let mut model = Model::default();
    let (mut s, addr) = recover(&master, &mut model);
    let c = client(&mut s, &addr, -10);
    // Incompressible, as a store's data is written as sent anyway.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let big: Vec<u8> = (0..TOO_BIG)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    assert_eq!(c.store(0, 0, &big, 0x03d0_0000_0000_0100), None);
    // The vote cannot be written: no answer, the node exits.
    assert!(c
        .link
        .ask1(&txn_req(0x03d0_0000_0000_0100, &[0], "doomed"))
        .is_err());
    let status = child.0.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("neo-storage: database write failed: "),
        "{err}"
    );
}
