//! A small storage server: serves `GetObject` from an in-memory map of
//! objects, in light mode (one request, one answer), with time limits.
//!
//! ```sh
//! cargo run --release --example storage-server -- 127.0.0.1:5551
//! cargo run --release --example storage-client -- 127.0.0.1:5551 1 2 3
//! ```
//!
//! Each link is served by a thread of its own. The loop wakes up every
//! second even when nothing comes (a place for housekeeping), dead peers
//! are detected by keepalive, and a peer that stops reading cannot block a
//! reply for more than the write timeout.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use neonet::proto::{AnswerObject, Checksum, ErrorCode, GetObject, Message, Oid, Pong, Tid};
use neonet::{AnyLink, Dialects, LinkListener, ListenerOptions, NodeLink};

/// One revision of an object.
struct Revision {
    serial: Tid,
    data: Vec<u8>,
}

/// The objects this server stores: their revisions, oldest first.
type Store = BTreeMap<Oid, Vec<Revision>>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:5551".into());
    let store = Arc::new(sample_store());
    // Protocol 6 only: a NEO/py client is refused at its handshake (and
    // the failure logged), rather than served a dialect we do not answer.
    let opts = ListenerOptions {
        dialects: Dialects::Proto6,
        ..Default::default()
    };
    let listener = LinkListener::bind_with(addr.as_str(), opts)?;
    eprintln!(
        "serving {} objects on {}",
        store.len(),
        listener.local_addr()
    );
    for link in listener.incoming() {
        // Always protocol 6: the listener serves no other.
        let AnyLink::Proto6(link) = link else {
            continue;
        };
        let store = store.clone();
        thread::spawn(move || serve(&link, &store));
    }
    Ok(())
}

/// Serves one link until it goes away.
fn serve(link: &NodeLink, store: &Store) {
    // A peer silent for 30 s is pinged; no answer within 10 s: gone.
    link.set_keepalive(Some((Duration::from_secs(30), Duration::from_secs(10))));
    if let Err(e) = link.set_write_timeout(Some(Duration::from_secs(10))) {
        eprintln!("{e}");
    }
    loop {
        let req = match link.recv_timeout(Duration::from_secs(1)) {
            Ok(req) => req,
            Err(e) if e.is_timeout() => continue, // housekeeping would go here
            Err(e) => {
                eprintln!("link done: {e}");
                return;
            }
        };
        let res = match req.msg() {
            Message::GetObject(get) => match lookup(store, get) {
                Some(answer) => req.reply(&answer),
                None => req.reply(&neonet::proto::Error {
                    code: ErrorCode::OID_NOT_FOUND,
                    message: format!("oid {} not found", get.oid),
                }),
            },
            // NEO uses Ping as a barrier behind earlier requests: answer it.
            Message::Ping(_) => req.reply(&Pong {}),
            other => req.reply(&neonet::proto::Error {
                code: ErrorCode::PROTOCOL_ERROR,
                message: format!("{} not supported", other.name()),
            }),
        };
        if let Err(e) = res {
            eprintln!("reply: {e}");
        }
    }
}

/// The revision `get` asks for: current at `at`, or the last before
/// `before` (`INVALID_TID`: not given), or the latest.
fn lookup(store: &Store, get: &GetObject) -> Option<AnswerObject> {
    let revs = store.get(&get.oid)?;
    let i = revs.iter().rposition(|r| {
        (get.at == neonet::proto::INVALID_TID || r.serial <= get.at)
            && (get.before == neonet::proto::INVALID_TID || r.serial < get.before)
    })?;
    let rev = &revs[i];
    Some(AnswerObject {
        oid: get.oid,
        serial: rev.serial,
        next_serial: revs
            .get(i + 1)
            .map_or(neonet::proto::INVALID_TID, |r| r.serial),
        compression: false,
        checksum: Checksum(checksum(&rev.data)),
        data: rev.data.clone().into(),
        data_serial: 0,
    })
}

/// A stand-in checksum (NEO's is SHA-1 of the data; the example needs no
/// crypto crate).
fn checksum(data: &[u8]) -> [u8; 20] {
    let mut sum = [0u8; 20];
    for (i, b) in data.iter().enumerate() {
        sum[i % 20] = sum[i % 20].wrapping_mul(31).wrapping_add(*b);
    }
    sum
}

fn sample_store() -> Store {
    (1..=3)
        .map(|oid| {
            let revs = (1..=2)
                .map(|n| Revision {
                    serial: oid * 100 + n,
                    data: format!("object {oid}, revision {n}").into_bytes(),
                })
                .collect();
            (oid, revs)
        })
        .collect()
}
