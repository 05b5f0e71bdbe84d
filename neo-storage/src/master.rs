//! The session with the master: identification, then whatever the master
//! asks and tells, through recovery, verification and operation; and the
//! loop that reconnects, with back-off, trying each master in turn.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Receiver;
use neonet::neopy::{
    AcceptIdentification, Address, AnswerFinalTID, AnswerLockedTransactions, AnswerPartitionTable,
    AnswerRecovery, ErrorCode, Message, NodeState, NodeType, NotifyPackCompleted, NotifyReady,
    Pong, RequestIdentification,
};
use parking_lot::Mutex;

use crate::db::{Reader, ReaderPool};
use crate::net::{self, Link, LinkTimes, Recv, Req, Tls};
use crate::reads::{self, ReadError};
use crate::state::Shared;

/// How the node ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// It was asked to stop.
    Stopped,
    /// The master declared it DOWN or UNKNOWN: NEO/py's storage exits then.
    Down(NodeState),
}

/// What the master session needs.
#[derive(Debug)]
pub struct MasterConfig {
    /// The masters' addresses, tried in turn.
    pub masters: Vec<String>,
    /// TLS, when the cluster uses it.
    pub tls: Option<Tls>,
    /// This node's address for clients (what the master tells them).
    pub address: Address,
    /// Time limits of the link.
    pub times: LinkTimes,
    /// Delay before the first reconnection; doubled at each failure...
    pub backoff_min: Duration,
    /// ...up to this.
    pub backoff_max: Duration,
    /// The completed pack of each of this node's cells, as the database
    /// saved it (`pt.pack`), by partition.
    pub packs: HashMap<u32, u64>,
}

/// The master session's side of the node.
#[derive(Debug)]
pub struct Master {
    /// The configuration.
    pub config: MasterConfig,
    /// The node's state.
    pub shared: Arc<Shared>,
    /// Database connections.
    pub pool: Arc<ReaderPool>,
    /// The link of the current session, for `stop` to close.
    pub link: Mutex<Option<Arc<Link>>>,
}

/// How a session ended.
enum End {
    /// The link went away, or we closed it: reconnect.
    Lost(String),
    /// The master declared us DOWN or UNKNOWN.
    Down(NodeState),
}

impl Master {
    /// Runs sessions with the masters until the node stops (a message on
    /// `stop`, or its sender dropped) or is declared down.
    pub fn run(&self, stop: &Receiver<()>) -> Exit {
        let masters = &self.config.masters;
        let mut delay = self.config.backoff_min;
        for i in 0.. {
            if self.shared.is_stopping() {
                break;
            }
            let addr = &masters[i % masters.len()];
            match self.session(addr) {
                Ok((identified, End::Down(state))) => {
                    let _ = identified;
                    log::error!("the master declared this node {state}: shutting down");
                    self.shared.set_operational(false);
                    return Exit::Down(state);
                }
                Ok((identified, End::Lost(why))) => {
                    log::warn!("master {addr}: {why}");
                    if identified {
                        delay = self.config.backoff_min;
                    }
                }
                Err(e) => log::warn!("master {addr}: {e}"),
            }
            self.shared.set_operational(false);
            self.shared.set_cluster_state(None);
            if !matches!(
                stop.recv_timeout(delay),
                Err(crossbeam_channel::RecvTimeoutError::Timeout)
            ) {
                break;
            }
            delay = (delay * 2).min(self.config.backoff_max);
        }
        Exit::Stopped
    }

    /// Closes the current session's link (to stop).
    pub fn close(&self) {
        if let Some(link) = self.link.lock().take() {
            net::close(&link);
        }
    }

    /// One session: dial, identify, serve the master until the link goes.
    /// The flag says whether identification succeeded.
    fn session(&self, addr: &str) -> Result<(bool, End), String> {
        let times = &self.config.times;
        let link = Arc::new(
            net::dial(addr, self.config.tls.as_ref(), times.answer)
                .map_err(|e| net::describe(&e))?,
        );
        net::set_times(&link, times);
        *self.link.lock() = Some(link.clone());
        let end = self.identified_session(addr, &link);
        self.link.lock().take();
        net::close(&link);
        end
    }

    fn identified_session(&self, addr: &str, link: &Link) -> Result<(bool, End), String> {
        if self.shared.is_stopping() {
            return Ok((false, End::Lost("stopping".into())));
        }
        let accept = self.identify(link)?;
        let nid = accept.your_uuid.ok_or("the master gave no node id")?;
        if nid != self.shared.nid() {
            log::warn!(
                "the master knows this node as {nid}, not {}",
                self.shared.nid()
            );
        }
        self.shared.set_nid(nid);
        self.shared.clear_nodes();
        log::info!(
            "identified with master {addr} (node {:?}) as storage node {nid}",
            accept.uuid
        );
        let mut reader = self.pool.take().map_err(|e| e.to_string())?;
        let end = self.serve(link, &mut reader);
        self.pool.give(reader);
        Ok((true, end))
    }

    fn identify(&self, link: &Link) -> Result<AcceptIdentification, String> {
        let req = RequestIdentification {
            node_type: NodeType::STORAGE,
            uuid: Some(self.shared.nid()),
            address: Some(self.config.address.clone()),
            name: self.shared.cluster.clone(),
            id_timestamp: None,
            extra: BTreeMap::new(),
        };
        let accept =
            net::ask(link, &req).map_err(|e| format!("identification: {}", net::describe(&e)))?;
        if accept.node_type != NodeType::MASTER {
            return Err(format!(
                "identification: a {} answered, not a master",
                accept.node_type
            ));
        }
        Ok(accept)
    }

    fn serve(&self, link: &Link, reader: &mut Reader) -> End {
        loop {
            match net::recv(link, Duration::from_secs(3600)) {
                Recv::Req(req) => {
                    if let Some(end) = self.handle(link, reader, &req) {
                        return end;
                    }
                }
                Recv::Idle => {}
                Recv::Gone(e) => return End::Lost(format!("link lost: {}", net::describe(&e))),
            }
        }
    }

    /// Handles one packet of the master; `Some` ends the session.
    fn handle(&self, link: &Link, reader: &Reader, req: &Req) -> Option<End> {
        let shared = &self.shared;
        let sent = match req.msg() {
            Message::NotifyNodeInformation(n) => {
                let mine = shared.update_nodes(n.timestamp, &n.node_list)?;
                log::info!("the master says this node is {mine}");
                return matches!(mine, NodeState::DOWN | NodeState::UNKNOWN)
                    .then_some(End::Down(mine));
            }
            Message::AskRecovery(_) => net::reply(
                req,
                &AnswerRecovery {
                    ptid: shared.pt().ptid(),
                    ..Default::default()
                },
            ),
            Message::AskPartitionTable(_) => {
                let pt = shared.pt();
                let (ptid, num_replicas, row_list) =
                    (pt.ptid().unwrap_or(0), pt.replicas(), pt.rows());
                net::reply(
                    req,
                    &AnswerPartitionTable {
                        ptid,
                        num_replicas,
                        row_list,
                    },
                )
            }
            Message::SendPartitionTable(t) => {
                shared.with_pt(|pt| pt.load(t.ptid, t.num_replicas, &t.row_list));
                log::info!(
                    "partition table {:?}: {} partitions, {} replicas",
                    t.ptid,
                    t.row_list.len(),
                    t.num_replicas
                );
                Ok(())
            }
            Message::NotifyPartitionChanges(c) => {
                if let Err(e) = shared.with_pt(|pt| pt.apply(c.ptid, c.num_replicas, &c.cell_list))
                {
                    return Some(End::Lost(format!("partition changes refused: {e}")));
                }
                log::info!(
                    "partition table {}: {} cells changed",
                    c.ptid,
                    c.cell_list.len()
                );
                Ok(())
            }
            Message::NotifyClusterInformation(c) => {
                shared.set_cluster_state(Some(c.state));
                log::info!("cluster state: {}", c.state);
                Ok(())
            }
            Message::AskLockedTransactions(_) => {
                net::reply(req, &AnswerLockedTransactions::default())
            }
            Message::AskFinalTID(f) => self.answer(
                req,
                reads::final_tid(reader, &self.view(), f.ttid).map(|tid| AnswerFinalTID { tid }),
            ),
            Message::AskLastIDs(_) => {
                if let Some(pack_id) = self.completed_pack() {
                    if let Err(e) = net::send(link, &NotifyPackCompleted { pack_id }) {
                        return Some(End::Lost(format!("link lost: {e}")));
                    }
                }
                self.answer(req, reads::last_ids(reader, &self.view()))
            }
            Message::AskPackOrders(p) => {
                self.answer(req, reads::pack_orders(reader, &self.view(), p.pack_id))
            }
            Message::StartOperation(s) => {
                if s.backup {
                    log::warn!("StartOperation(backup): this node does not replicate from a backup upstream");
                }
                shared.set_operational(true);
                log::info!("operational: serving reads");
                net::send(link, &NotifyReady {})
            }
            Message::StopOperation(_) => {
                shared.set_operational(false);
                log::info!("operation stopped by the master");
                Ok(())
            }
            Message::Ping(_) => net::reply(req, &Pong {}),
            other => {
                self.unexpected(req, other);
                Ok(())
            }
        };
        sent.err().map(|e| End::Lost(format!("link lost: {e}")))
    }

    /// Answers with `answer`, or the `Error` of a failed read.
    fn answer<M: neonet::LinkMsg<Dialect = neonet::NeoPy>>(
        &self,
        req: &Req,
        answer: Result<M, ReadError>,
    ) -> Result<(), net::NetError> {
        match answer {
            Ok(a) => net::reply(req, &a),
            Err(e) => {
                log::error!("{} from the master: {e}", req.msg().name());
                let (code, message) = e.code_message();
                net::reply_error(req, code, message)
            }
        }
    }

    /// What this node does not do (writes, replication, packing, checks):
    /// a request is answered with an error, a notification ignored.
    fn unexpected(&self, req: &Req, msg: &Message) {
        if neonet::neopy::answer_name(msg.code()).is_none() {
            log::info!("ignored {} from the master (read-only node)", msg.name());
            return;
        }
        log::warn!("refused {} from the master (read-only node)", msg.name());
        let message = format!("neo-storage is read-only: {} refused", msg.name());
        let _ = net::reply_error(req, ErrorCode::READ_ONLY_ACCESS, message);
    }

    fn view(&self) -> crate::pt::PtView {
        let mut cache = self.shared.view_cache();
        cache.current(self.shared.view_cell()).clone()
    }

    /// The oldest pack completed on this node's cells (NEO/py's
    /// `min(getPackedIDs())`, sent in `NotifyPackCompleted`): what the
    /// database saved for cells it had, 0 for cells it got since.
    fn completed_pack(&self) -> Option<u64> {
        let pt = self.shared.pt();
        let cells = pt.cells_of(self.shared.nid());
        cells
            .iter()
            .map(|(p, _)| self.config.packs.get(p).copied().unwrap_or(0))
            .min()
    }
}
