//! neo-storage: a NEO storage node on neonet.
//!
//! It takes the place of a NEO/py storage node in a NEO/py cluster: it
//! keeps its data in the SQLite database NEO/py's storage uses (schema
//! version 4; a new node creates it), follows the NEO/py master through
//! recovery, verification and operation, answers the reads of NEO/py's
//! ZODB clients, takes part in their commits (locks, conflicts, deadlock
//! avoidance, two-phase commit) and replicates from and to other storage
//! nodes.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bench;
pub mod cli;
pub mod commit;
pub mod db;
pub mod feed;
pub mod lock;
pub mod master;
pub mod net;
pub mod node;
pub mod nodes;
pub mod pt;
pub mod reads;
pub mod replicator;
pub mod serve;
pub mod state;
pub mod tm;

pub use master::Exit;
pub use node::{Config, Node, StartError};
