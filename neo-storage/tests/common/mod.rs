//! What the tests share: databases in NEO/py's schema, and the standard
//! one most tests read.
#![allow(dead_code, unused_imports)]

pub mod fake;
pub mod raw;
pub mod testdb;

pub use testdb::{sha1, zlib, Rec, TempDir, TestDb};

/// The cluster name of the test databases.
pub const CLUSTER: &str = "test";
/// The node id of the test databases.
pub const NID: i32 = 1;

/// Tids of the standard database.
pub const T1: u64 = 0x03d0_0000_0000_0100;
/// Second transaction.
pub const T2: u64 = 0x03d0_0000_0000_0201;
/// Third transaction.
pub const T3: u64 = 0x03d0_0000_0000_0302;
/// Fourth transaction.
pub const T4: u64 = 0x03d0_0000_0000_0403;

/// The bytes of oid 1 before compression.
pub const ONE: &[u8] = b"the first object, compressed: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// The standard database, with `partitions` partitions all this node's:
/// - T1 creates oid 0 (raw "root-1") and oid 1 (zlib of [`ONE`]);
/// - T2 changes oid 0 ("root-2") and creates oid 2 ("two-a");
/// - T3 undoes the creation of oid 1 (no data) and changes oid 2 ("two-b");
/// - T4 undoes T3 on oid 2 (data of T2: value_tid T2).
pub fn standard(dir: &TempDir, partitions: u32) -> TestDb {
    let mut db = TestDb::new(&dir.path("storage.sqlite"), CLUSTER, NID, partitions);
    let one = zlib(ONE);
    db.obj(0, T1, Rec::Raw(b"root-1"));
    db.obj(1, T1, Rec::Zlib(&one));
    db.txn(T1, &[0, 1], b"alice", b"create", b"");
    db.obj(0, T2, Rec::Raw(b"root-2"));
    db.obj(2, T2, Rec::Raw(b"two-a"));
    db.txn(T2, &[0, 2], b"bob", b"change", b"\x80\x03}q\x00.");
    db.obj(1, T3, Rec::Gone);
    db.obj(2, T3, Rec::Raw(b"two-b"));
    db.txn(T3, &[1, 2], b"", b"undo create 1", b"");
    db.obj(2, T4, Rec::Undo(T2));
    db.txn(T4, &[2], b"", b"undo T3 on 2", b"");
    db
}
pub mod commit;
