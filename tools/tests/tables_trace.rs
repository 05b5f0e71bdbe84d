//! A real NEO/py client reading 4 objects (`tests/neopy/trace.tsv`): the
//! tables of [`neonet_tools::tables`], fed what the master told the
//! client, name the storage the client actually asked for each object.

mod neopy_common;

use neonet::neopy::*;
use neonet_tools::tables::{NodeTable, PartitionTable};
use neopy_common::{shared, tsv, unhex};

/// One packet of the trace.
struct Traced {
    peer: String,
    msg: Message,
}

/// The trace, handshakes left out.
fn trace() -> Vec<Traced> {
    let mut packets = Vec::new();
    for row in tsv("trace.tsv").into_iter().skip(1) {
        let [_seq, _time, _dir, peer, _msg_id, _code, name, _args, hex] = &row[..] else {
            panic!("row {row:?}")
        };
        if name == "HANDSHAKE" {
            continue;
        }
        let (head, buf) = shared(&unhex(hex));
        let msg = Message::decode_shared(head.code, &buf, head.args_offset).unwrap();
        assert_eq!(msg.name(), name);
        packets.push(Traced {
            peer: peer.clone(),
            msg,
        });
    }
    packets
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
