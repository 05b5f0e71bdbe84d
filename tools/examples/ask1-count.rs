//! N `ask1` round trips over a socketpair with polling off, for callgrind:
//! `cargo build --release -p neonet-tools --example ask1-count`, then
//! `valgrind --tool=callgrind target/release/examples/ask1-count N`.
//! An example of the tools crate, not of the library: it links neonet as
//! users do, without the library's test hooks (which its own examples
//! get from its dev-dependencies).
use neonet::proto::{AnswerObject, GetObject, Message};
use neonet::{NodeLink, Proto6};
use std::time::Duration;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let (client, server) = NodeLink::<Proto6>::pair().unwrap();
    client.set_spin(Duration::ZERO);
    server.set_spin(Duration::ZERO);
    let t = std::thread::spawn(move || {
        while let Ok(req) = server.recv() {
            if let Message::GetObject(g) = req.msg() {
                let _ = req.reply(&AnswerObject {
                    oid: g.oid,
                    ..Default::default()
                });
            }
        }
    });
    for i in 0..n {
        let a = client
            .ask1(&GetObject {
                oid: i,
                at: 0,
                before: 0,
            })
            .unwrap();
        assert_eq!(a.oid, i);
    }
    drop(client);
    t.join().unwrap();
}
