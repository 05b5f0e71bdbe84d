//! Allocations per light-mode round trip over a NEO/py link (DESIGN §8,
//! §10): `ask1(AskObject)` → `recv1_as` → `reply(AnswerObject)` over a
//! socketpair link speaking msgpack, counted by a global allocator that
//! wraps the system one. A test binary of its own, with a single test, so
//! that nothing else allocates while it counts.

use std::thread;

use neonet::neopy::{AnswerObject, AskObject, Checksum};
use neonet::NeoPy;
use neonet::NodeLink;

mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

const WARMUP: usize = 1_000;
const MEASURED: usize = 10_000;
/// The budget per round trip, both sides and all threads together.
const MAX_PER_ROUND_TRIP: f64 = 6.0;

#[test]
fn neopy_light_round_trip_allocations() {
    let (client, server) = NodeLink::<NeoPy>::pair().expect("NodeLink::pair_with");
    let per_rt = thread::scope(|scope| {
        let server = &server;
        let served = scope.spawn(move || {
            // One answer value, updated in place: the test itself does not
            // allocate per request.
            let mut ans = AnswerObject {
                oid: 0,
                serial: 0,
                next_serial: None,
                compression: Some(0),
                checksum: Checksum([0x5a; 20]),
                data: (0..16).collect::<Vec<u8>>().into(),
                data_serial: None,
            };
            for _ in 0..WARMUP + MEASURED {
                let req = server.recv().expect("recv1_as");
                let ask = req.msg_as::<AskObject>().expect("an AskObject");
                ans.oid = ask.oid;
                ans.serial = ask.before.expect("before");
                ans.data[0] = ask.oid as u8;
                req.reply(&ans).expect("reply");
            }
        });

        let round_trip = |i: usize| {
            let ask = AskObject {
                oid: i as u64,
                at: None,
                before: Some(i as u64 + 2),
            };
            let ans = client.ask1(&ask).expect("ask1");
            assert_eq!((ans.oid, Some(ans.serial)), (ask.oid, ask.before));
            assert_eq!(ans.data.len(), 16);
            assert_eq!(ans.data[0], i as u8);
        };
        // The server is done once it sent the last answer; joining it
        // counts what it did after that (dropping the last request).
        counting_alloc::per_call(WARMUP, MEASURED, round_trip, || {
            served.join().expect("server thread")
        })
    });
    eprintln!(
        "NEO/py light mode: {per_rt:.3} allocations per round trip \
         (ask1 AskObject → recv1_as → reply AnswerObject, 16 bytes of data; \
         {MEASURED} round trips, both sides, all threads)"
    );
    assert!(
        per_rt <= MAX_PER_ROUND_TRIP,
        "{per_rt:.3} allocations per round trip > {MAX_PER_ROUND_TRIP}"
    );
}
