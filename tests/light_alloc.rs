//! Allocations per light-mode round trip (DESIGN §8: "allocate as little
//! as possible per request"): `ask1(GetObject)` → `recv1` →
//! `reply(AnswerObject)` over a socketpair link, counted by a global
//! allocator that wraps the system one. A test binary of its own, with a
//! single test, so that nothing else allocates while it counts.

use std::thread;

use neonet::proto::{AnswerObject, Checksum, GetObject, INVALID_TID};
use neonet::NodeLink;
use neonet::Proto6;

mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

const WARMUP: usize = 1_000;
const MEASURED: usize = 10_000;
/// The budget per round trip, both sides and all threads together.
const MAX_PER_ROUND_TRIP: f64 = 4.0;

#[test]
fn light_round_trip_allocations() {
    let (client, server) = NodeLink::<Proto6>::pair().expect("NodeLink::pair");
    let per_rt = thread::scope(|scope| {
        let server = &server;
        let served = scope.spawn(move || {
            // One answer value, updated in place: the test itself does not
            // allocate per request.
            let mut ans = AnswerObject {
                oid: 0,
                serial: 0,
                next_serial: INVALID_TID,
                compression: false,
                checksum: Checksum([0x5a; 20]),
                data: (0..16).collect(),
                data_serial: 0,
            };
            for _ in 0..WARMUP + MEASURED {
                let req = server.recv().expect("recv1");
                let get = req.msg_as::<GetObject>().expect("a GetObject");
                ans.oid = get.oid;
                ans.serial = get.at;
                ans.data_serial = get.before;
                ans.data[0] = get.oid as u8;
                req.reply(&ans).expect("reply");
            }
        });

        let round_trip = |i: usize| {
            let get = GetObject {
                oid: i as u64,
                at: i as u64 + 1,
                before: i as u64 + 2,
            };
            let ans = client.ask1(&get).expect("ask1");
            assert_eq!(
                (ans.oid, ans.serial, ans.data_serial),
                (get.oid, get.at, get.before)
            );
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
        "light mode: {per_rt:.3} allocations per round trip \
         (ask1 GetObject → recv1 → reply AnswerObject, 16 bytes of data; \
         {MEASURED} round trips, both sides, all threads)"
    );
    assert!(
        per_rt <= MAX_PER_ROUND_TRIP,
        "{per_rt:.3} allocations per round trip > {MAX_PER_ROUND_TRIP}"
    );
}
