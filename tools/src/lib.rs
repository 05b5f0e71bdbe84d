//! Tools on neonet, and what they share with their tests.
//!
//! The binaries of this crate:
//!
//! - `neonet-rtt` (`src/bin/neonet-rtt/`): round trips over raw sockets
//!   and over neonet links in one run, and their ratios; or a server and a
//!   client in two processes (the README, "Commands").
//! - `neo-cat` (`src/bin/neo-cat.rs`): reads objects from a NEO/py
//!   cluster as a NEO/py client does, and writes their records.
//!
//! The library holds neo-cat's client ([`cat`]), so that its replay test
//! calls it as the binary does, and the tables a client learns from the
//! master ([`tables`]): they belong to the applications, not to the link
//! layer.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

pub mod cat;
pub mod tables;
