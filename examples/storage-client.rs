//! The client of `storage-server`: reads objects with `ask1`, each bounded
//! by a receive timeout.
//!
//! ```sh
//! cargo run --release --example storage-client -- 127.0.0.1:5551 1 2 3
//! ```

use std::time::Duration;

use neonet::proto::{GetObject, INVALID_TID};
use neonet::{Dialer, ErrorKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:5551".into());
    let link = Dialer::new(addr.as_str()).dial()?;
    // Every ask1 of this link gives up after 5 s: a storage that stopped
    // answering must not hang the client.
    link.set_recv_timeout(Some(Duration::from_secs(5)));
    for oid in args {
        let oid: u64 = oid.parse()?;
        let get = GetObject {
            oid,
            at: INVALID_TID,
            before: INVALID_TID,
        };
        match link.ask1(&get) {
            Ok(obj) => println!(
                "oid {oid}: serial {}, {} bytes: {}",
                obj.serial,
                obj.data.len(),
                String::from_utf8_lossy(&obj.data)
            ),
            Err(e) => match e.kind() {
                ErrorKind::Peer { code, message } => println!("oid {oid}: {code}: {message}"),
                ErrorKind::Timeout => println!("oid {oid}: no answer in time"),
                _ => return Err(e.into()),
            },
        }
    }
    Ok(())
}
