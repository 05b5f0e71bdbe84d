//! Replication, as the node whose cells are readable: answering another
//! storage's `AskFetchTransactions` and `AskFetchObjects` by streaming.

use std::sync::Arc;

use crate::db::Reader;
use crate::net::Link;
use crate::state::Shared;

/// Serves a storage's link.
pub fn serve(shared: &Arc<Shared>, link: &Arc<Link>, reader: &mut Reader) {
    let _ = (shared, link, reader);
}
