//! Serving the links peers open: one thread per link, identification,
//! then a client's reads and writes (or, for another storage,
//! replication: [`crate::feed`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use neonet::neopy::{
    AcceptIdentification, AnswerFinalTID, ErrorCode, Message, NodeId, NodeType, Pong,
    RequestIdentification,
};

use crate::commit::{self, ClientWrites};
use crate::db::{Reader, ReaderPool};
use crate::net::{self, Link, Recv, Req};
use crate::nodes::ClientCheck;
use crate::reads::{self, ReadError};
use crate::state::{Shared, ViewCache};

/// How long a client link's reader keeps its read transaction while the
/// client sends nothing.
const SNAPSHOT_IDLE: Duration = Duration::from_millis(10);

/// What serving a link needs.
#[derive(Debug)]
pub struct Server {
    /// The node's state.
    pub shared: Arc<Shared>,
    /// Database connections.
    pub pool: Arc<ReaderPool>,
    /// How long an identification waits for the master to tell about the
    /// peer.
    pub ident_wait: Duration,
}

/// Whether to go on with a link.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Go,
    /// Close the link.
    Close,
}

/// A peer accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Peer {
    pub nid: NodeId,
    pub node_type: NodeType,
}

impl Server {
    /// Serves one link until it goes, or the node stops serving.
    pub fn serve_link(&self, link: Link) {
        let link = Arc::new(link);
        let id = self.shared.add_client(link.clone());
        let addr = net::peer(&link);
        if let Some(peer) = self.identify(&link, &addr) {
            log::info!("{} {} at {addr} identified", peer.node_type, peer.nid);
            match self.pool.take() {
                Ok(mut reader) => {
                    self.serve_peer(&link, peer, &mut reader);
                    self.pool.give(reader);
                }
                Err(e) => log::error!("{addr}: cannot open the database: {e}"),
            }
            log::info!("{} {} at {addr} gone", peer.node_type, peer.nid);
        }
        self.shared.remove_client(id);
        net::close(&link);
    }

    fn serve_peer(&self, link: &Arc<Link>, peer: Peer, reader: &mut Reader) {
        if peer.node_type == NodeType::STORAGE {
            return crate::feed::serve(&self.shared, link, reader);
        }
        self.shared.set_client_nid(peer.nid, link.clone());
        self.serve(link, peer.nid, reader);
        self.shared.remove_client_nid(peer.nid, link);
        // NEO/py's `connectionClosed`: what the client did not vote goes
        // (voted ones wait for the master).
        if self.shared.is_operational() {
            commit::abort_for(&self.shared, peer.nid, false, reader);
        }
    }

    /// Waits for the peer's `RequestIdentification` and answers it.
    fn identify(&self, link: &Link, addr: &str) -> Option<Peer> {
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
            log::warn!("{addr}: {what}");
            let _ = net::reply_error(&req, ErrorCode::PROTOCOL_ERROR, what);
            return None;
        };
        match self.check_identification(ident) {
            Ok(nid) => {
                let accept = AcceptIdentification {
                    node_type: NodeType::STORAGE,
                    uuid: self.shared.nid(),
                    your_uuid: Some(nid),
                };
                net::reply(&req, &accept).ok().map(|_| Peer {
                    nid,
                    node_type: ident.node_type,
                })
            }
            Err((code, message)) => {
                log::info!(
                    "refused {} {:?} at {addr}: {message}",
                    ident.node_type,
                    ident.uuid
                );
                let _ = net::reply_error(&req, code, message);
                None
            }
        }
    }

    /// NEO/py's `IdentificationHandler.requestIdentification`, for
    /// clients and storages (which replicate from this node).
    fn check_identification(
        &self,
        ident: &RequestIdentification,
    ) -> Result<NodeId, (ErrorCode, String)> {
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
        if Some(nid) == self.shared.nid() {
            return protocol("uuid conflict or loopback connection");
        }
        if ident.node_type != NodeType::CLIENT && ident.node_type != NodeType::STORAGE {
            return protocol("reject non-client-or-storage node");
        }
        let deadline = Instant::now() + self.ident_wait;
        match self
            .shared
            .check_peer(nid, ident.node_type, ident.id_timestamp, deadline)
        {
            ClientCheck::Known => Ok(nid),
            _ => Err((ErrorCode::NOT_READY, "unknown by master".into())),
        }
    }

    fn serve(&self, link: &Arc<Link>, uuid: NodeId, reader: &mut Reader) {
        let mut view = self.shared.view_cache();
        reader.keep_snapshot(self.pool.commits());
        loop {
            // A snapshot kept is released once the client pauses.
            let wait = if reader.holds_snapshot() {
                SNAPSHOT_IDLE
            } else {
                Duration::from_secs(3600)
            };
            match net::recv(link, wait) {
                Recv::Req(req) => {
                    let w = ClientWrites {
                        shared: &self.shared,
                        uuid,
                        link,
                        reader,
                    };
                    if self.handle(req, &w, &mut view) == Flow::Close {
                        break;
                    }
                }
                Recv::Idle => reader.release_snapshot(),
                Recv::Gone(_) => break,
            }
        }
        reader.drop_snapshot();
    }

    /// Answers one request of an identified client.
    fn handle(&self, req: Req, w: &ClientWrites<'_>, cache: &mut ViewCache) -> Flow {
        // Writes take `req`: a store may be answered later, by whichever
        // thread frees the lock it waits for.
        match req.msg() {
            Message::AskStoreObject(a) => {
                let a = a.clone();
                return w.store(req, &a);
            }
            Message::AskCheckCurrentSerial(a) => {
                let (ttid, oid, serial) = (a.ttid, a.oid, a.serial);
                w.check(req, ttid, oid, serial);
                return Flow::Go;
            }
            Message::AskRelockObject(a) => {
                let (ttid, oid) = (a.ttid, a.oid);
                w.relock(req, ttid, oid);
                return Flow::Go;
            }
            Message::AskStoreTransaction(a) => {
                let a = a.clone();
                return w.vote(req, a.ttid, Some(&a));
            }
            Message::AskVoteTransaction(a) => {
                let ttid = a.ttid;
                return w.vote(req, ttid, None);
            }
            _ => {}
        }
        self.handle_read(&req, w, cache)
    }

    /// Answers a client's read (or abort).
    fn handle_read(&self, req: &Req, w: &ClientWrites<'_>, cache: &mut ViewCache) -> Flow {
        let r = w.reader;
        let link = w.link;
        let stop = || self.shared.is_stopping() || !net::is_up(link);
        let tm = &self.shared.tm;
        let v = cache.current(self.shared.view_cell());
        let sent = match req.msg() {
            Message::AskObject(a) => {
                tm.wait_load_unlocked(a.oid, stop);
                answer(req, reads::object(r, v, a.oid, a.at, a.before))
            }
            Message::AskObjectHistory(a) => {
                tm.wait_load_unlocked(a.oid, stop);
                answer(req, reads::history(r, v, a.oid, a.first, a.last))
            }
            Message::AskTransactionInformation(a) => {
                tm.wait_tid_unlocked(a.tid, stop);
                answer(req, reads::transaction(r, v, a.tid))
            }
            Message::AskTIDs(a) => {
                // The newest transactions: a client whose commit returned
                // (the master answers it before it tells us to unlock)
                // must find its own among them, as ZODB's undoLog does.
                tm.wait_tid_unlocked(u64::MAX, stop);
                answer(req, reads::tids(r, v, a.first, a.last, a.partition))
            }
            Message::AskTIDsFrom(a) => {
                tm.wait_tid_unlocked(a.max_tid, stop);
                answer(
                    req,
                    reads::tids_from(r, a.min_tid, a.max_tid, a.length, a.partition),
                )
            }
            Message::AskOIDsFrom(a) => {
                tm.wait_tid_unlocked(a.tid, stop);
                answer(
                    req,
                    reads::oids_from(r, v, a.partition, a.length, a.min_oid, a.tid),
                )
            }
            Message::AskObjectUndoSerial(a) => {
                let current = |oid| {
                    let st = tm.lock();
                    st.stored(a.ttid, oid)
                        .map(|s| s.value_serial.unwrap_or(a.ttid))
                };
                answer(
                    req,
                    reads::undo_serials(r, v, a.ltid, a.undone_tid, &a.oid_list, current),
                )
            }
            Message::AskFinalTID(a) => {
                let locked = tm.lock().txns.get(&a.ttid).and_then(|t| t.tid);
                let tid = match locked {
                    Some(tid) => Ok(Some(tid)),
                    None => reads::final_tid(r, v, a.ttid),
                };
                answer(req, tid.map(|tid| AnswerFinalTID { tid }))
            }
            Message::AskLastTransaction(_) => answer(req, reads::last_transaction(r, v)),
            Message::Ping(_) => net::reply(req, &Pong {}).map(|_| Flow::Go),
            Message::AbortTransaction(a) => {
                commit::finished(&self.shared, a.ttid, false, r);
                crate::replicator::transaction_finished(&self.shared, a.ttid, None);
                Ok(Flow::Go)
            }
            Message::CloseClient(_) => Ok(Flow::Go),
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
pub(crate) fn answer<M: neonet::Msg<Dialect = neonet::NeoPy>>(
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
