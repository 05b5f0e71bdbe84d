//! neo-storage: a read-only NEO storage node on neonet.
//!
//! It takes the place of a NEO/py storage node in a NEO/py cluster: it
//! serves the SQLite database NEO/py's storage wrote (schema version 4),
//! follows the NEO/py master through recovery, verification and
//! operation, and answers the reads of NEO/py's ZODB clients. Writes are
//! refused as NEO/py's read-only mode refuses them.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bench;
pub mod cli;
pub mod db;
pub mod lock;
pub mod master;
pub mod net;
pub mod node;
pub mod nodes;
pub mod pt;
pub mod reads;
pub mod serve;
pub mod state;

pub use master::Exit;
pub use node::{Config, Node, StartError};
