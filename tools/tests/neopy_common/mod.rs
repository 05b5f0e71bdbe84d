//! Helpers of the tests that replay NEO/py's trace: the facts copied into
//! `tests/neopy/`, and packets found with the scanner. The part of the
//! library's `tests/neopy_common` these tests need, in a copy of their own.

#![allow(dead_code)] // each test binary uses its own part

use std::sync::Arc;

use neonet::neopy::{PacketHead, Scan, Scanner};

/// A file of `tests/neopy/`.
pub fn fact(name: &str) -> String {
    let path = format!("{}/tests/neopy/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The data lines of a TSV fact, split into columns (comments and the
/// header line left out).
pub fn tsv(name: &str) -> Vec<Vec<String>> {
    fact(name)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("name\t") && !l.is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd-length hex");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// The one packet `bytes` hold, scanned in one go.
pub fn scan_one(bytes: &[u8]) -> PacketHead {
    match Scanner::new().scan(bytes) {
        Ok(Scan::Complete(head)) if head.len == bytes.len() => head,
        other => panic!("not one packet: {other:?}"),
    }
}

/// `bytes` as a shared packet buffer with its head.
pub fn shared(bytes: &[u8]) -> (PacketHead, Arc<Vec<u8>>) {
    (scan_one(bytes), Arc::new(bytes.to_vec()))
}
