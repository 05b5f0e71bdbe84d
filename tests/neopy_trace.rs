//! A real NEO/py client reading 4 objects (`tests/neopy/trace.tsv`), replayed
//! through the dialect's pieces: every packet of both links scans and
//! decodes, ids follow DESIGN §10's rules, and the cluster helpers find
//! the storage the client actually asked, from what the master told it.

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

#[test]
fn the_client_reads_from_the_storage_the_tables_name() {
    let packets = trace();
    let master = &packets[0].peer;
    let (mut nodes, mut pt, mut ltid) = (NodeTable::new(), None, None);
    let mut reads = 0;
    for p in &packets {
        match &p.msg {
            Message::NotifyNodeInformation(m) if &p.peer == master => nodes.update(&m.node_list),
            Message::SendPartitionTable(m) => pt = Some(PartitionTable::from(m.clone())),
            Message::AnswerLastTransaction(m) => ltid = Some(m.ltid),
            Message::AskObject(m) => {
                let pt = pt.as_ref().expect("the table came first");
                let storages: Vec<_> = nodes.storages_for(pt, m.oid).collect();
                let [(uuid, addr)] = storages[..] else {
                    panic!("{storages:?}")
                };
                assert_eq!(uuid, 1);
                assert_eq!(p.peer, format!("storage({}:{})", addr.host, addr.port));
                // the last revision before the last transaction + 1
                assert_eq!((m.at, m.before), (None, Some(ltid.unwrap() + 1)));
                reads += 1;
            }
            Message::AnswerObject(m) => {
                assert_eq!(m.serial, 0x040d_4148_097b_8644);
                assert!(matches!(m.compression, Some(0 | 1)));
            }
            _ => {}
        }
    }
    assert_eq!(reads, 4);
    assert_eq!(pt.unwrap().num_partitions(), 1);
}
