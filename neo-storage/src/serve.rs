//! Serving clients: one thread per link, identification, then the reads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use neonet::neopy::{
    AcceptIdentification, ErrorCode, Message, NodeType, Pong, RequestIdentification,
};

use crate::db::{Reader, ReaderPool};
use crate::net::{self, Link, Recv, Req};
use crate::nodes::ClientCheck;
use crate::reads::{self, ReadError};
use crate::state::{Shared, ViewCache};

/// The error message of the writes refused.
pub const READ_ONLY: &str = "read-only access: neo-storage serves reads only";

/// What serving a client link needs.
#[derive(Debug)]
pub struct Server {
    /// The node's state.
    pub shared: Arc<Shared>,
    /// Database connections.
    pub pool: Arc<ReaderPool>,
    /// How long a client's identification waits for the master to tell
    /// about it.
    pub ident_wait: Duration,
}

/// Whether to go on with a link.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Go,
    Close,
}

impl Server {
    /// Serves one client link until it goes, or the node stops serving.
    pub fn serve_link(&self, link: Link) {
        let link = Arc::new(link);
        let id = self.shared.add_client(link.clone());
        let peer = net::peer(&link);
        if let Some(nid) = self.identify(&link, &peer) {
            log::info!("client {nid} at {peer} identified");
            match self.pool.take() {
                Ok(mut reader) => {
                    self.serve(&link, &mut reader);
                    self.pool.give(reader);
                }
                Err(e) => log::error!("client {peer}: cannot open the database: {e}"),
            }
            log::info!("client {nid} at {peer} gone");
        }
        self.shared.remove_client(id);
        net::close(&link);
    }

    /// Waits for the client's `RequestIdentification` and answers it; its
    /// node id if accepted.
    fn identify(&self, link: &Link, peer: &str) -> Option<i32> {
        let req = loop {
            match net::recv(link, Duration::from_secs(3600)) {
                Recv::Req(req) => break req,
                Recv::Idle => continue,
                Recv::Gone(_) => return None,
            }
        };
        let Message::RequestIdentification(ident) = req.msg() else {
            let what = format!(
                "unexpected packet: {} before identification",
                req.msg().name()
            );
            log::warn!("client {peer}: {what}");
            let _ = net::reply_error(&req, ErrorCode::PROTOCOL_ERROR, what);
            return None;
        };
        match self.check_identification(ident) {
            Ok(nid) => {
                let accept = AcceptIdentification {
                    node_type: NodeType::STORAGE,
                    uuid: Some(self.shared.nid()),
                    your_uuid: Some(nid),
                };
                net::reply(&req, &accept).ok().map(|_| nid)
            }
            Err((code, message)) => {
                log::info!(
                    "refused {} {:?} at {peer}: {message}",
                    ident.node_type,
                    ident.uuid
                );
                let _ = net::reply_error(&req, code, message);
                None
            }
        }
    }

    /// NEO/py's `IdentificationHandler.requestIdentification`, for clients.
    fn check_identification(
        &self,
        ident: &RequestIdentification,
    ) -> Result<i32, (ErrorCode, String)> {
        let protocol = |m: &str| Err((ErrorCode::PROTOCOL_ERROR, m.to_string()));
        if ident.name != self.shared.cluster {
            return protocol("invalid cluster name");
        }
        if !self.shared.is_operational() {
            return Err((ErrorCode::NOT_READY, "Retry Later".into()));
        }
        let Some(nid) = ident.uuid else {
            return protocol("reject anonymous non-storage node");
        };
        if nid == self.shared.nid() {
            return protocol("uuid conflict or loopback connection");
        }
        if ident.node_type != NodeType::CLIENT {
            return protocol("reject non-client node: neo-storage serves clients only");
        }
        let deadline = Instant::now() + self.ident_wait;
        match self.shared.check_client(nid, ident.id_timestamp, deadline) {
            ClientCheck::Known => Ok(nid),
            _ => Err((ErrorCode::NOT_READY, "unknown by master".into())),
        }
    }

    fn serve(&self, link: &Link, reader: &mut Reader) {
        let mut view = self.shared.view_cache();
        loop {
            match net::recv(link, Duration::from_secs(3600)) {
                Recv::Req(req) => {
                    if self.handle(&req, reader, &mut view) == Flow::Close {
                        return;
                    }
                }
                Recv::Idle => {}
                Recv::Gone(_) => return,
            }
        }
    }

    /// Answers one request of an identified client.
    fn handle(&self, req: &Req, r: &Reader, cache: &mut ViewCache) -> Flow {
        let v = cache.current(self.shared.view_cell());
        let sent = match req.msg() {
            Message::AskObject(a) => answer(req, reads::object(r, v, a.oid, a.at, a.before)),
            Message::AskObjectHistory(a) => {
                answer(req, reads::history(r, v, a.oid, a.first, a.last))
            }
            Message::AskTransactionInformation(a) => answer(req, reads::transaction(r, v, a.tid)),
            Message::AskTIDs(a) => answer(req, reads::tids(r, v, a.first, a.last, a.partition)),
            Message::AskTIDsFrom(a) => answer(
                req,
                reads::tids_from(r, a.min_tid, a.max_tid, a.length, a.partition),
            ),
            Message::AskOIDsFrom(a) => answer(
                req,
                reads::oids_from(r, v, a.partition, a.length, a.min_oid, a.tid),
            ),
            Message::AskObjectUndoSerial(a) => answer(
                req,
                reads::undo_serials(r, v, a.ltid, a.undone_tid, &a.oid_list),
            ),
            Message::AskLastTransaction(_) => answer(req, reads::last_transaction(r, v)),
            Message::Ping(_) => net::reply(req, &Pong {}).map(|_| Flow::Go),
            Message::AskStoreObject(_)
            | Message::AskStoreTransaction(_)
            | Message::AskVoteTransaction(_)
            | Message::AskRelockObject(_)
            | Message::AskCheckCurrentSerial(_)
            | Message::AskFinalTID(_) => {
                net::reply_error(req, ErrorCode::READ_ONLY_ACCESS, READ_ONLY.into())
                    .map(|_| Flow::Go)
            }
            // Nothing of a transaction is kept here: nothing to abort.
            Message::AbortTransaction(_) | Message::CloseClient(_) => Ok(Flow::Go),
            other => {
                let what = format!("unexpected packet: {} from a client", other.name());
                log::warn!("{what}");
                if neonet::neopy::answer_name(other.code()).is_some() {
                    let _ = net::reply_error(req, ErrorCode::PROTOCOL_ERROR, what);
                }
                Ok(Flow::Close)
            }
        };
        sent.unwrap_or(Flow::Close)
    }
}

/// Sends `answer`, or the `Error` NEO/py sends for a failed read (and, as
/// NEO/py, closes the link after a protocol error).
fn answer<M: neonet::LinkMsg<Dialect = neonet::NeoPy>>(
    req: &Req,
    answer: Result<M, ReadError>,
) -> Result<Flow, net::NetError> {
    match answer {
        Ok(a) => net::reply(req, &a).map(|_| Flow::Go),
        Err(e) => {
            if matches!(e, ReadError::Db(_) | ReadError::Corrupt(_)) {
                log::error!("{}: {e}", req.msg().name());
            }
            let (code, message) = e.code_message();
            net::reply_error(req, code, message)?;
            Ok(if e.closes_link() {
                Flow::Close
            } else {
                Flow::Go
            })
        }
    }
}
