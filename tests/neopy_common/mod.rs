//! Helpers shared by the tests of the msgpack dialect: NEO/py's facts as
//! copied into `tests/neopy/`, and packets found with the scanner.

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

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// One line of `vectors.tsv`.
#[derive(Debug)]
pub struct Vector {
    /// 1-based, among the data lines.
    pub line: usize,
    pub name: String,
    pub code: u16,
    pub msg_id: u32,
    pub bytes: Vec<u8>,
    pub args: serde_json::Value,
    pub captured: bool,
}

/// All of `vectors.tsv`.
pub fn vectors() -> Vec<Vector> {
    tsv("vectors.tsv")
        .into_iter()
        .enumerate()
        .map(|(i, c)| Vector {
            line: i + 1,
            name: c[0].clone(),
            code: u16::from_str_radix(c[1].trim_start_matches("0x"), 16).unwrap(),
            msg_id: c[2].parse().unwrap(),
            bytes: unhex(&c[3]),
            args: serde_json::from_str(&c[4]).unwrap(),
            captured: match c[5].as_str() {
                "captured" => true,
                "synthetic" => false,
                other => panic!("origin {other:?}"),
            },
        })
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
