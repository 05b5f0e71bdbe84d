//! The `neo-storage` command: its arguments, and a clear error and exit,
//! with nothing changed on disk, for each database it cannot serve (a
//! missing file is a new node's: that is the node's life, `tests/life.rs`).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neo-storage"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs the node on `db` with a master nobody listens on: it must stop at
/// the database, exit 1 and say why on stderr.
fn refused(db: &Path, cluster: &str) -> String {
    let before = std::fs::read(db).ok();
    let out = run(&[
        "-c",
        cluster,
        "-b",
        "127.0.0.1:0",
        "-m",
        "127.0.0.1:9",
        "-d",
        db.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(std::fs::read(db).ok(), before, "the database changed");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn help_and_argument_errors() {
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("usage: neo-storage -c NAME"));
    let err = |args: &[&str]| {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    assert!(err(&[]).starts_with("neo-storage: -c/--cluster is required"));
    assert!(err(&["-c", "x", "-b", "h:1", "-m", "h:2"])
        .starts_with("neo-storage: -d/--database is required"));
    assert!(
        err(&["-c", "x", "-b", "h:1", "-m", "h:2", "-d", "d", "--ca", "ca"])
            .starts_with("neo-storage: TLS needs all of")
    );
    assert!(err(&["-c", "x", "-b", "h", "-m", "h:2", "-d", "d"])
        .starts_with("neo-storage: bad address \"h\""));
    assert!(err(&["--bogus"]).starts_with("neo-storage: unknown option --bogus"));
    assert!(err(&["-c"]).starts_with("neo-storage: -c needs a value"));
}

#[test]
fn each_bad_database() {
    let dir = TempDir::new();
    let missing = dir.path("no/such/dir.sqlite");
    assert!(refused(&missing, CLUSTER).contains("cannot create the database"));
    assert!(!missing.exists());
    let text = dir.path("text");
    std::fs::write(&text, vec![b'x'; 4096]).unwrap();
    assert!(refused(&text, CLUSTER).contains("not an SQLite database"));
    let other = dir.path("other.sqlite");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    assert!(refused(&other, CLUSTER).contains("not a NEO storage database (no table \"config\")"));
    let db = standard(&dir, 1);
    db.config("version", Some("3"));
    assert!(refused(&db.path, CLUSTER)
        .contains("database schema version Some(\"3\"), this node reads version 4 only"));
    db.config("version", Some("4"));
    assert!(refused(&db.path, "prod").contains("database of cluster Some(\"test\"), not \"prod\""));
    db.config("truncate_tid", Some("0000000000000001"));
    assert!(refused(&db.path, CLUSTER)
        .contains("truncate_tid is set: only NEO/py's storage can serve this database"));
}

#[test]
fn tls_files_missing() {
    let dir = TempDir::new();
    let db = standard(&dir, 1);
    let out = run(&[
        "-c",
        CLUSTER,
        "-b",
        "127.0.0.1:0",
        "-m",
        "127.0.0.1:9",
        "-d",
        db.path.to_str().unwrap(),
        "--ca",
        "/nonexistent/ca",
        "--cert",
        "c",
        "--key",
        "k",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("neo-storage: TLS:"));
}
