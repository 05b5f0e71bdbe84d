//! A real NEO/py client reading 4 objects (`tests/neopy/trace.tsv`), replayed
//! through the dialect's pieces: every packet of both links scans and
//! decodes, and ids follow DESIGN §10's rules. (That the tables a client
//! keeps name the storage it asked is the tools crate's test, with the
//! tables: `tools/tests/tables_trace.rs`.)

mod neopy_common;

use std::collections::BTreeMap;

use neonet::neopy::*;
use neopy_common::{shared, tsv, unhex};

/// One packet of the trace.
struct Traced {
    sent: bool,
    peer: String,
    msg_id: u32,
    msg: Message,
}

/// The trace, handshakes checked and left out.
fn trace() -> Vec<Traced> {
    let mut packets = Vec::new();
    for row in tsv("trace.tsv").into_iter().skip(1) {
        let [_seq, _time, dir, peer, msg_id, _code, name, _args, hex] = &row[..] else {
            panic!("row {row:?}")
        };
        let bytes = unhex(hex);
        if name == "HANDSHAKE" {
            assert_eq!(check_handshake(&bytes), Ok(HandshakeProgress::Done));
            continue;
        }
        let (head, buf) = shared(&bytes);
        assert_eq!(head.msg_id.to_string(), *msg_id);
        let msg = Message::decode_shared(head.code, &buf, head.args_offset).unwrap();
        assert_eq!(msg.name(), name);
        packets.push(Traced {
            sent: dir == "send",
            peer: peer.clone(),
            msg_id: head.msg_id,
            msg,
        });
    }
    packets
}

#[test]
fn ids_count_per_side_and_answers_reuse_them() {
    // per link and direction: requests and notifications count from 0;
    // answers carry the id of a request of the other direction
    let mut next: BTreeMap<(String, bool), u32> = BTreeMap::new();
    let mut asked: BTreeMap<(String, bool), Vec<u32>> = BTreeMap::new();
    for p in trace() {
        let key = (p.peer.clone(), p.sent);
        if p.msg.code() & 0x8000 == 0 {
            let n = next.entry(key.clone()).or_insert(0);
            assert_eq!(p.msg_id, *n, "{}", p.msg.name());
            *n += 1;
            if answer_name(p.msg.code()).is_some() {
                asked.entry(key).or_default().push(p.msg_id);
            }
        } else {
            let requests = asked.entry((p.peer.clone(), !p.sent)).or_default();
            let i = requests
                .iter()
                .position(|&id| id == p.msg_id)
                .expect("answers a request");
            requests.remove(i);
        }
    }
    assert!(asked.values().all(Vec::is_empty), "every request answered");
}
