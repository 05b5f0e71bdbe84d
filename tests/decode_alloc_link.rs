//! The decode budget seen from a link (DESIGN §5.1, §10; issue 18): what
//! `recv1_as` holds to decode a NEO/py packet is at most 4 × its size +
//! 1 MiB, counted by the allocator in the receiving thread (the packet's
//! buffer is the reader thread's, and the link's limits bound it); a
//! request beyond the budget is answered `Error(PROTOCOL_ERROR)` naming
//! its field, and skipped.
//!
//! A test binary of its own: the 64 MiB packets take memory, and the
//! allocator counts per thread, so nothing else should run beside them.

mod counting_alloc;

use std::collections::BTreeMap;
use std::thread;

use neonet::neopy::{self, Message, Value, ValueRef};
use neonet::packet::MAX_PACKET_SIZE;
use neonet::proto::{ErrorCode, DECODE_ALLOWANCE, DECODE_GROWTH};
use neonet::NeoPy;
use neonet::{ErrorKind, NodeLink};

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

/// The allocation budget of `len` bytes.
fn budget(len: usize) -> usize {
    DECODE_GROWTH * len + DECODE_ALLOWANCE
}

/// A msgpack array32 of `n` nils.
fn nils(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(5 + n);
    v.push(0xdd);
    v.extend_from_slice(&(n as u32).to_be_bytes());
    v.resize(5 + n, 0xc0);
    v
}

/// A client's `RequestIdentification` whose `extra` is `{"": any}`.
fn identification(any: Value) -> neopy::RequestIdentification {
    neopy::RequestIdentification {
        node_type: neopy::NodeType::CLIENT,
        name: "cluster".into(),
        extra: [(String::new(), any)].into(),
        ..Default::default()
    }
}

/// The packet of issue 18: 64 MiB of `[nil × n]` in `extra`, which used to
/// take 40 × its size (2.5 GiB) in one `recv1_as`.
#[test]
fn sixty_four_mib_of_nils_in_extra_received_within_the_budget() {
    let (client, server) = NodeLink::<NeoPy>::pair().unwrap();
    let fixed = neopy::packet_size(0, &identification(Value::from_msgpack(&nils(0)).unwrap()));
    let n = MAX_PACKET_SIZE - fixed as usize;
    let req = identification(Value::from_msgpack(&nils(n)).unwrap());
    let size = neopy::packet_size(0, &req) as usize;
    assert_eq!(size, MAX_PACKET_SIZE);
    client.send1(&req).unwrap();
    drop(req);

    let mut got = None;
    let peak = counting_alloc::peak_held(|| got = Some(server.recv()));
    let req = got.unwrap().unwrap();
    let Message::RequestIdentification(m) = req.msg() else {
        panic!("{}", req.msg().name())
    };
    let ValueRef::Array(items) = m.extra[""].view() else {
        panic!("extra: {:?}", m.extra.keys())
    };
    assert_eq!(items.len(), n);
    assert!(
        peak <= budget(size),
        "recv1_as held {peak} bytes for a packet of {size}"
    );
    eprintln!(
        "a {size}-byte packet of [nil x {n}] in extra: recv1_as held {peak} bytes, {:.2} x",
        peak as f64 / size as f64
    );
}

/// A request whose value would take more than the budget: refused before
/// it is allocated, answered `PROTOCOL_ERROR` with the message and field
/// named, and skipped (the next request is served).
#[test]
fn a_request_over_the_budget_is_answered_naming_the_field() {
    let (client, server) = NodeLink::<NeoPy>::pair().unwrap();
    // 100 000 distinct keys, 6 bytes each on the wire: the map's B-tree
    // nodes alone could take 110 bytes per entry.
    let extra: BTreeMap<String, Value> = (0..100_000u32)
        .map(|i| (format!("{i:04x}"), Value::nil()))
        .collect();
    let req = neopy::RequestIdentification {
        extra,
        ..identification(Value::nil())
    };
    let size = neopy::packet_size(0, &req) as usize;

    let serving = thread::spawn(move || {
        let mut got = None;
        let peak = counting_alloc::peak_held(|| got = Some(server.recv()));
        let req = got.unwrap().unwrap();
        assert_eq!(req.msg(), &Message::Ping(neopy::Ping {}));
        req.reply(&neopy::Pong {}).unwrap();
        (peak, server.stats().bad_requests)
    });
    let err = client.ask1(&req).unwrap_err();
    let ErrorKind::Peer { code, message } = err.kind() else {
        panic!("{err}")
    };
    assert_eq!(*code, ErrorCode::PROTOCOL_ERROR);
    assert!(
        message.starts_with("decode RequestIdentification (0x0001): field extra: needs "),
        "{message}"
    );
    assert!(message.contains("over the decode budget"), "{message}");
    client.ask1(&neopy::Ping {}).unwrap();
    let (peak, bad) = serving.join().unwrap();
    assert_eq!(bad, 1);
    assert!(peak <= budget(size), "{peak} bytes for {size}");
    eprintln!("{size} bytes refused: {message}; recv1_as held {peak} bytes");
}
