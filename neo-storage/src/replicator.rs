//! Replication, as the node whose cells are out of date (NEO/py's
//! `Replicator`).

use std::sync::Arc;

use neonet::neopy::CellChange;

use crate::state::Shared;

/// Starts replicating the cells out of date (the node is operational).
pub fn start(shared: &Arc<Shared>) {
    let _ = shared;
}

/// Stops replicating (the master session ended or operation stopped).
pub fn stop(shared: &Arc<Shared>) {
    let _ = shared;
}

/// The master changed cells.
pub fn partition_changes(shared: &Arc<Shared>, cells: &[CellChange]) {
    let _ = (shared, cells);
}

/// A transaction finished (committed up to `max_tid`, or aborted).
pub fn transaction_finished(shared: &Arc<Shared>, ttid: u64, max_tid: Option<u64>) {
    let _ = (shared, ttid, max_tid);
}
