//! The database layer: opening (a new node's database, each refused
//! case), and every read as NEO/py answers it, on databases in NEO/py's
//! schema.

mod common;

use common::*;
use neo_storage::db::{self, DbError, Reader};
use neo_storage::pt::{PartitionTable, PtView};
use neo_storage::reads::{self, ReadError, MAX_TID};
use neonet::neopy::{CellState, ErrorCode, UndoSerial};

fn view(db: &TestDb) -> (Reader, PtView) {
    let info = db::open(&db.path, CLUSTER).unwrap();
    let view = PartitionTable::from_db(&info).view(info.nid.unwrap());
    (Reader::open(&db.path).unwrap(), view)
}

fn file_bytes(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn open_reads_node_and_table() {
    let dir = TempDir::new();
    let db = standard(&dir, 3);
    db.cell(1, 2, -0, None); // another node's OUT_OF_DATE cell
    db.config("ptid", Some("7"));
    db.config("replicas", Some("1"));
    let info = db::open(&db.path, CLUSTER).unwrap();
    assert_eq!(
        (info.nid, info.ptid, info.replicas, info.partitions()),
        (Some(NID), Some(7), 1, 3)
    );
    let pt = PartitionTable::from_db(&info);
    assert_eq!(pt.cells_of(2), vec![(1, CellState::OUT_OF_DATE)]);
    assert_eq!(pt.view(NID).readable(), vec![0, 1, 2]);
}

/// Opens `path`, expecting an error, and checks the file is unchanged.
fn refused(path: &std::path::Path, cluster: &str) -> DbError {
    let before = path.exists().then(|| file_bytes(path));
    let err = db::open(path, cluster).unwrap_err();
    assert_eq!(
        path.exists().then(|| file_bytes(path)),
        before,
        "the file changed"
    );
    err
}

/// The tables and indexes of a database, and its `config`.
fn schema_of(path: &std::path::Path) -> (Vec<String>, Vec<(String, String)>) {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut s = c
        .prepare("SELECT name FROM sqlite_master ORDER BY name")
        .unwrap();
    let names = s
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut s = c
        .prepare("SELECT name, value FROM config ORDER BY name")
        .unwrap();
    let config = s
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    (names, config)
}

#[test]
fn a_new_node_gets_neopy_schema() {
    let dir = TempDir::new();
    let path = dir.path("new.sqlite");
    let info = db::open(&path, CLUSTER).unwrap();
    assert_eq!(
        (
            info.nid,
            info.ptid,
            info.replicas,
            info.partitions(),
            info.created
        ),
        (None, None, 0, 0, true)
    );
    let (names, config) = schema_of(&path);
    let tables = [
        "_obj_i1", "_obj_i2", "config", "data", "obj", "pack", "pt", "tobj", "trans", "ttrans",
    ];
    let names: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| !n.starts_with("sqlite_autoindex"))
        .collect();
    assert_eq!(names, tables);
    assert_eq!(
        config,
        vec![
            ("name".to_string(), CLUSTER.to_string()),
            ("version".into(), "4".into())
        ]
    );
    // Opened again: the same database, not new any more.
    assert!(!db::open(&path, CLUSTER).unwrap().created);
    // An empty file is a new node's too.
    let empty = dir.path("empty.sqlite");
    std::fs::write(&empty, b"").unwrap();
    assert!(db::open(&empty, CLUSTER).unwrap().created);
    assert_eq!(schema_of(&empty), schema_of(&path));
}

#[test]
fn a_database_that_cannot_be_created() {
    let dir = TempDir::new();
    let err = db::open(&dir.path("no/such/dir/s.sqlite"), CLUSTER).unwrap_err();
    assert!(matches!(err, DbError::Create { .. }), "{err}");
}

#[test]
fn a_database_without_cluster_name_takes_it() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    db.config("name", None);
    db::open(&db.path, CLUSTER).unwrap();
    assert!(schema_of(&db.path)
        .1
        .contains(&("name".to_string(), CLUSTER.to_string())));
}

#[test]
fn not_sqlite() {
    let dir = TempDir::new();
    let path = dir.path("text");
    std::fs::write(&path, vec![b'x'; 4096]).unwrap();
    assert!(matches!(refused(&path, CLUSTER), DbError::NotSqlite { .. }));
}

#[test]
fn sqlite_but_not_neo() {
    let dir = TempDir::new();
    let path = dir.path("other.sqlite");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    let err = refused(&path, CLUSTER);
    assert!(
        matches!(
            err,
            DbError::NotNeo {
                table: "config",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_missing_table() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    db.exec("DROP TABLE tobj");
    assert!(matches!(
        refused(&db.path, CLUSTER),
        DbError::NotNeo { table: "tobj", .. }
    ));
}

#[test]
fn other_schema_version() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    db.config("version", Some("3"));
    let err = refused(&db.path, CLUSTER);
    assert!(
        matches!(&err, DbError::Version { found: Some(v), .. } if v == "3"),
        "{err}"
    );
    db.config("version", None);
    assert!(matches!(
        refused(&db.path, CLUSTER),
        DbError::Version { found: None, .. }
    ));
}

#[test]
fn other_cluster() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let err = refused(&db.path, "prod");
    assert!(
        matches!(&err, DbError::ClusterName { found: Some(f), expected, .. } if f == CLUSTER && expected == "prod"),
        "{err}"
    );
}

#[test]
fn uncommitted_transactions_are_kept_for_verification() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    db.exec(
        "INSERT INTO tobj VALUES (0, 5, 999, NULL, NULL); \
         INSERT INTO tobj VALUES (0, 6, 999, NULL, NULL); \
         INSERT INTO tobj VALUES (0, 5, 777, NULL, NULL); \
         INSERT INTO ttrans VALUES (0, 1000, 0, x'', x'', x'', x'', 777); \
         INSERT INTO ttrans VALUES (0, NULL, 0, x'', x'', x'', x'', 555)",
    );
    db::open(&db.path, CLUSTER).unwrap();
    let r = Reader::open(&db.path).unwrap();
    assert_eq!(
        r.unfinished().unwrap(),
        vec![(555, None), (777, Some(1000)), (999, None)]
    );
}

#[test]
fn no_node_id_yet() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    db.config("nid", None);
    assert_eq!(db::open(&db.path, CLUSTER).unwrap().nid, None);
}

#[test]
fn bad_values_and_pending_work() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    db.config("nid", Some("one"));
    assert!(matches!(
        refused(&db.path, CLUSTER),
        DbError::BadValue { what: "nid", .. }
    ));
    db.config("nid", Some("1"));
    db.config("truncate_tid", Some("0000000000000001"));
    assert!(matches!(
        refused(&db.path, CLUSTER),
        DbError::Pending {
            what: "truncate_tid",
            ..
        }
    ));
    db.config("truncate_tid", None);
    db.config("backup_tid", Some("0000000000000001"));
    assert!(matches!(
        refused(&db.path, CLUSTER),
        DbError::Pending {
            what: "backup_tid",
            ..
        }
    ));
}

#[test]
fn load_current_before_at() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let (r, v) = view(&db);
    let cur = reads::object(&r, &v, 0, None, None).unwrap();
    assert_eq!(
        (cur.serial, cur.next_serial, &cur.data[..]),
        (T2, None, &b"root-2"[..])
    );
    assert_eq!(
        (cur.compression, cur.checksum.0, cur.data_serial),
        (Some(0), sha1(b"root-2"), None)
    );
    // before: strictly below; the record's next serial is given.
    let old = reads::object(&r, &v, 0, None, Some(T2)).unwrap();
    assert_eq!(
        (old.serial, old.next_serial, &old.data[..]),
        (T1, Some(T2), &b"root-1"[..])
    );
    let at_bound = reads::object(&r, &v, 0, None, Some(T2 + 1)).unwrap();
    assert_eq!(at_bound.serial, T2);
    // at: exactly.
    let at = reads::object(&r, &v, 0, Some(T1), None).unwrap();
    assert_eq!((at.serial, at.next_serial), (T1, Some(T2)));
    // at wins over before, as in NEO/py.
    assert_eq!(
        reads::object(&r, &v, 0, Some(T1), Some(T4)).unwrap().serial,
        T1
    );
}

fn code(e: ReadError) -> (ErrorCode, String) {
    e.code_message()
}

#[test]
fn load_missing() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let (r, v) = view(&db);
    let no = |at, before| code(reads::object(&r, &v, 9, at, before).unwrap_err());
    let dne = (
        ErrorCode::OID_DOES_NOT_EXIST,
        "0000000000000009".to_string(),
    );
    assert_eq!(no(None, None), dne);
    assert_eq!(no(Some(T1), None), dne);
    assert_eq!(no(None, Some(T4)), dne);
    // The object exists, not at or before what was asked: OID_NOT_FOUND.
    let nf = (ErrorCode::OID_NOT_FOUND, "0000000000000000".to_string());
    assert_eq!(
        code(reads::object(&r, &v, 0, None, Some(T1)).unwrap_err()),
        nf
    );
    assert_eq!(
        code(reads::object(&r, &v, 0, Some(T3), None).unwrap_err()),
        nf
    );
}

#[test]
fn load_compressed_undone_and_undo() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let (r, v) = view(&db);
    let one = reads::object(&r, &v, 1, Some(T1), None).unwrap();
    assert_eq!(
        (one.compression, one.checksum.0, one.next_serial),
        (Some(1), sha1(&zlib(ONE)), Some(T3))
    );
    assert_eq!(&one.data[..], &zlib(ONE)[..]);
    // Creation undone: a record without data.
    let gone = reads::object(&r, &v, 1, None, None).unwrap();
    assert_eq!(
        (
            gone.serial,
            gone.compression,
            gone.checksum.0,
            gone.data.len()
        ),
        (T3, None, [0; 20], 0)
    );
    // Undo: the data of T2, and data_serial T2.
    let undo = reads::object(&r, &v, 2, None, None).unwrap();
    assert_eq!(
        (undo.serial, &undo.data[..], undo.data_serial),
        (T4, &b"two-a"[..], Some(T2))
    );
}

#[test]
fn big_record() {
    let dir = TempDir::new();
    let mut db = standard(&dir, 1);
    let big: Vec<u8> = (0..16 << 20)
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    db.obj(7, T4, Rec::Raw(&big));
    let (r, v) = view(&db);
    let got = reads::object(&r, &v, 7, None, None).unwrap();
    assert_eq!((got.data.len(), got.checksum.0), (16 << 20, sha1(&big)));
}

#[test]
fn partitions_not_served() {
    let dir = TempDir::new();
    let db = standard(&dir, 3);
    db.cell(1, NID, 0, None); // this node's cell 1: OUT_OF_DATE (tid 0)
    db.cell(2, NID, -3, None); // CORRUPTED
    db.cell(2, 2, -1, None);
    let (r, v) = view(&db);
    assert_eq!(v.readable(), vec![0]);
    let nr = (ErrorCode::NON_READABLE_CELL, String::new());
    assert_eq!(code(reads::object(&r, &v, 1, None, None).unwrap_err()), nr);
    assert_eq!(code(reads::object(&r, &v, 2, None, None).unwrap_err()), nr);
    assert_eq!(reads::object(&r, &v, 0, None, None).unwrap().serial, T2);
    // T1 is in partition T1 % 3.
    let part = |t: u64| (t % 3) as u32;
    for t in [T1, T2, T3, T4] {
        let got = reads::transaction(&r, &v, t);
        assert_eq!(got.is_ok(), part(t) == 0, "{t:x}");
    }
    assert_eq!(code(reads::tids(&r, &v, 0, 10, 1).unwrap_err()), nr);
    assert_eq!(
        code(reads::oids_from(&r, &v, 2, 10, 0, T4).unwrap_err()),
        nr
    );
    assert_eq!(code(reads::history(&r, &v, 1, 0, 5).unwrap_err()), nr);
    assert_eq!(
        code(reads::undo_serials(&r, &v, T4 + 1, T3, &[1], |_| None).unwrap_err()),
        nr
    );
}

#[test]
fn no_table_serves_nothing() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    db.exec("DELETE FROM pt");
    let (r, v) = view(&db);
    assert_eq!(v.partitions(), 0);
    assert!(matches!(
        reads::object(&r, &v, 0, None, None),
        Err(ReadError::NonReadable)
    ));
    let ids = reads::last_ids(&r, &v).unwrap();
    assert_eq!((ids.ltid, ids.loid, ids.ftid), (None, None, MAX_TID));
}

#[test]
fn history() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let (r, v) = view(&db);
    let h = reads::history(&r, &v, 2, 0, 10).unwrap();
    let got: Vec<_> = h.history_list.iter().map(|e| (e.serial, e.size)).collect();
    assert_eq!(got, vec![(T4, 5), (T3, 5), (T2, 5)]);
    let h = reads::history(&r, &v, 2, 1, 2).unwrap();
    assert_eq!(
        h.history_list.iter().map(|e| e.serial).collect::<Vec<_>>(),
        vec![T3]
    );
    // An undone creation has size 0.
    let h = reads::history(&r, &v, 1, 0, 1).unwrap();
    assert_eq!((h.history_list[0].serial, h.history_list[0].size), (T3, 0));
    assert_eq!(
        code(reads::history(&r, &v, 9, 0, 1).unwrap_err()),
        (ErrorCode::OID_NOT_FOUND, "0000000000000009".into())
    );
    assert_eq!(
        code(reads::history(&r, &v, 2, 3, 4).unwrap_err()).0,
        ErrorCode::OID_NOT_FOUND
    );
    let bad = reads::history(&r, &v, 2, 1, 1).unwrap_err();
    assert!(bad.closes_link());
    assert_eq!(
        code(bad),
        (ErrorCode::PROTOCOL_ERROR, "invalid offsets".into())
    );
}

#[test]
fn transaction_information() {
    let dir = TempDir::new();
    let db = standard(&dir, 2);
    let (r, v) = view(&db);
    let t = reads::transaction(&r, &v, T2).unwrap();
    assert_eq!(
        (t.tid, &t.user[..], &t.desc[..], &t.ext[..], t.packed),
        (
            T2,
            &b"bob"[..],
            &b"change"[..],
            &b"\x80\x03}q\x00."[..],
            false
        )
    );
    assert_eq!(t.oid_list, vec![0, 2]);
    let e = code(reads::transaction(&r, &v, T2 + 2).unwrap_err());
    assert_eq!(
        e,
        (
            ErrorCode::TID_NOT_FOUND,
            format!("{:016x} does not exist", T2 + 2)
        )
    );
    db.exec(&format!(
        "UPDATE trans SET oids=x'0102' WHERE tid={}",
        T1 as i64
    ));
    let (r, v) = view(&db); // readers take the file as immutable: a new one sees the change
    let corrupt = reads::transaction(&r, &v, T1).unwrap_err();
    assert!(matches!(corrupt, ReadError::Corrupt(_)));
    assert_eq!(code(corrupt).0, ErrorCode::NOT_READY);
}

#[test]
fn tids_and_tids_from() {
    let dir = TempDir::new();
    let db = standard(&dir, 2);
    let (r, v) = view(&db);
    let all = reads::tids(&r, &v, 0, 10, reads::INVALID_PARTITION)
        .unwrap()
        .tid_list;
    assert_eq!(all, vec![T4, T3, T2, T1]);
    assert_eq!(
        reads::tids(&r, &v, 1, 3, reads::INVALID_PARTITION)
            .unwrap()
            .tid_list,
        vec![T3, T2]
    );
    let p0: Vec<u64> = [T4, T3, T2, T1]
        .into_iter()
        .filter(|t| t % 2 == 0)
        .collect();
    assert_eq!(reads::tids(&r, &v, 0, 10, 0).unwrap().tid_list, p0);
    assert!(reads::tids(&r, &v, 2, 2, 0).unwrap_err().closes_link());
    let from = |min, max, len, p| reads::tids_from(&r, min, max, len, p).unwrap().tid_list;
    let p1: Vec<u64> = [T1, T2, T3, T4]
        .into_iter()
        .filter(|t| t % 2 == 1)
        .collect();
    assert_eq!(from(0, MAX_TID, 100, 1), p1);
    assert_eq!(from(T1, T3, 100, 0).len() + from(T1, T3, 100, 1).len(), 3);
    assert_eq!(from(T2, T2, 100, (T2 % 2) as u32), vec![T2]);
    assert_eq!(from(0, MAX_TID, 1, 1).len(), 1);
    assert_eq!(
        from(0, u64::MAX, 100, 1),
        p1,
        "a bound past 2^63 is clamped"
    );
}

#[test]
fn oids_from() {
    let dir = TempDir::new();
    let mut db = standard(&dir, 1);
    for oid in 3..8 {
        db.obj(oid, T4, Rec::Raw(b"x"));
    }
    let (r, v) = view(&db);
    // oid 1 exists but its last record as of T4 has no data: left out.
    let a = reads::oids_from(&r, &v, 0, 100, 0, T4).unwrap();
    assert_eq!((a.next_oid, a.oid_list), (None, vec![0, 2, 3, 4, 5, 6, 7]));
    // As of T2, oid 1 had data and 3..8 did not exist.
    let a = reads::oids_from(&r, &v, 0, 100, 0, T2).unwrap();
    assert_eq!(a.oid_list, vec![0, 1, 2]);
    // length reached: where to go on is the last oid + partitions.
    let a = reads::oids_from(&r, &v, 0, 3, 2, T4).unwrap();
    assert_eq!((a.next_oid, a.oid_list), (Some(5), vec![2, 3, 4]));
}

#[test]
fn undo_serials() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let (r, v) = view(&db);
    let snapshot = T4 + 1;
    // Undoing T2 on oid 0: T2 is current; the data before it is T1's.
    let a = reads::undo_serials(&r, &v, snapshot, T2, &[0], |_| None).unwrap();
    let u = |cur, undo, is_current| UndoSerial {
        current_serial: cur,
        undo_serial: undo,
        is_current,
    };
    assert_eq!(a.object_tid_dict.get(&0), Some(&u(T2, Some(T1), true)));
    // Undoing T1 on oid 1: not current (T3 came after).
    let a = reads::undo_serials(&r, &v, snapshot, T1, &[1], |_| None).unwrap();
    assert_eq!(a.object_tid_dict.get(&1), Some(&u(T3, None, false)));
    // Undoing T3 on oid 2: T4 is undo-identical to T2, before T3.
    let a = reads::undo_serials(&r, &v, snapshot, T3, &[2], |_| None).unwrap();
    assert_eq!(a.object_tid_dict.get(&2), Some(&u(T4, Some(T4), false)));
    // An oid that T2 did not change is left out.
    assert!(reads::undo_serials(&r, &v, snapshot, T2, &[1], |_| None)
        .unwrap()
        .object_tid_dict
        .is_empty());
    // A snapshot that does not see the undone transaction: OID_NOT_FOUND.
    let e = code(reads::undo_serials(&r, &v, T2, T2, &[0], |_| None).unwrap_err());
    assert_eq!(e, (ErrorCode::OID_NOT_FOUND, "0000000000000000".into()));
}

#[test]
fn find_undo_follows_undo_identical_records() {
    // NEO/py's docstring example: 10, 20 (=10), 30 (=10), 40 (=20).
    let h = (None, vec![(20, Some(10)), (30, Some(10)), (40, Some(20))]);
    let got = reads::find_undo(h, 100, 10, None).unwrap();
    assert_eq!(
        (got.current_serial, got.undo_serial, got.is_current),
        (40, None, true)
    );
    let got = reads::find_undo((Some(5), vec![]), 100, 10, None).unwrap();
    assert_eq!(
        (got.current_serial, got.undo_serial, got.is_current),
        (10, Some(5), true)
    );
    assert!(reads::find_undo((Some(5), vec![]), 10, 10, None).is_none());
    // No ltid (ZERO_TID): everything is seen.
    let got = reads::find_undo((Some(5), vec![(20, None)]), 0, 10, None).unwrap();
    assert_eq!((got.current_serial, got.is_current), (20, false));
    // What the undoing transaction stored already is where it starts.
    let got = reads::find_undo((Some(5), vec![(20, Some(10))]), 15, 10, Some(99)).unwrap();
    assert_eq!(
        (got.current_serial, got.undo_serial, got.is_current),
        (99, Some(5), false)
    );
}

#[test]
fn last_ids_last_transaction_pack_orders() {
    let dir = TempDir::new();
    let db = standard(&dir, 2);
    let (r, v) = view(&db);
    let ids = reads::last_ids(&r, &v).unwrap();
    assert_eq!((ids.ltid, ids.loid, ids.ftid), (Some(T4), Some(2), T1));
    assert_eq!(reads::last_transaction(&r, &v).unwrap().ltid, T4);
    assert!(reads::pack_orders(&r, &v, 0).unwrap().pack_list.is_empty());
    db.exec(&format!(
        "INSERT INTO pack VALUES ({}, 1, 1, x'0000000000000002', {})",
        T4 as i64, T3 as i64
    ));
    let (r, v) = view(&db); // readers take the file as immutable: a new one sees the change
    let p = reads::pack_orders(&r, &v, 1).unwrap().pack_list;
    assert_eq!(p.len(), 1);
    assert_eq!(
        (
            p[0].pack_id,
            p[0].approved,
            p[0].partial,
            p[0].oid_list.clone(),
            p[0].pack_tid
        ),
        (T4, Some(true), true, Some(vec![2]), T3)
    );
    assert!(reads::pack_orders(&r, &v, T4 + 1)
        .unwrap()
        .pack_list
        .is_empty());
    assert_eq!(reads::final_tid(&r, &v, T2).unwrap(), Some(T2));
    // Not committed: no tid, as NEO/py answers (`None`).
    assert_eq!(reads::final_tid(&r, &v, T2 + 2).unwrap(), None);
}
