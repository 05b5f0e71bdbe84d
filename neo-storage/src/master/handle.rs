//! What the master asks and tells: NEO/py's `InitializationHandler` and
//! `MasterOperationHandler` (and their base, `BaseMasterHandler`).

use std::sync::Arc;

use neonet::neopy::{
    AnswerFinalTID, AnswerLockedTransactions, AnswerPartitionTable, AnswerRecovery, CellState,
    ErrorCode, Message, NodeState, NodeType, NotifyPackCompleted, NotifyReady, Pong,
};

use super::{End, Master};
use crate::commit::{self, Refused};
use crate::db::Reader;
use crate::net::{self, Link, Req};
use crate::reads::{self, ReadError};
use crate::replicator;

impl Master {
    /// Handles one packet of the master; `Some` ends the session.
    pub(super) fn handle(&self, link: &Arc<Link>, reader: &Reader, req: Req) -> Option<End> {
        let shared = &self.shared;
        let sent = match req.msg() {
            Message::NotifyNodeInformation(n) => return self.node_information(reader, n),
            Message::AskRecovery(_) => net::reply(
                &req,
                &AnswerRecovery {
                    ptid: shared.pt().ptid(),
                    ..Default::default()
                },
            ),
            Message::AskPartitionTable(_) => {
                let pt = shared.pt();
                let answer = AnswerPartitionTable {
                    ptid: pt.ptid().unwrap_or(0),
                    num_replicas: pt.replicas(),
                    row_list: pt.rows(),
                };
                net::reply(&req, &answer)
            }
            Message::SendPartitionTable(t) => {
                let cells = t
                    .row_list
                    .iter()
                    .enumerate()
                    .flat_map(|(p, row)| row.iter().map(move |c| (p as u32, c.uuid, c.state.0)))
                    .collect();
                let ptid = t.ptid.unwrap_or(0);
                if let Err(e) = self.save_table(ptid, t.num_replicas, cells, true) {
                    return Some(End::Lost(e));
                }
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
                return self.partition_changes(c).err().map(End::Lost);
            }
            Message::NotifyClusterInformation(c) => {
                shared.set_cluster_state(Some(c.state));
                log::info!("cluster state: {}", c.state);
                Ok(())
            }
            Message::AskLockedTransactions(_) => match reader.unfinished() {
                Ok(list) => net::reply(
                    &req,
                    &AnswerLockedTransactions {
                        tid_dict: list.into_iter().collect(),
                    },
                ),
                Err(e) => self.answer::<AnswerLockedTransactions>(&req, Err(e.into())),
            },
            Message::ValidateTransaction(v) => {
                let (ttid, tid) = (v.ttid, v.tid);
                log::info!("validating transaction {ttid:016x} as {tid:016x}");
                let validated = shared.writer().run(true, move |w| {
                    w.lock(tid, ttid, true)?;
                    w.unlock(tid, ttid, true, true, true)
                });
                if validated.is_err() {
                    return Some(End::Lost("the database writer stopped".into()));
                }
                Ok(())
            }
            Message::AskFinalTID(f) => self.answer(
                &req,
                reads::final_tid(reader, &shared.view(), f.ttid).map(|tid| AnswerFinalTID { tid }),
            ),
            Message::AskLastIDs(_) => {
                if let Some(pack_id) = self.completed_pack(reader) {
                    if let Err(e) = net::send(link, &NotifyPackCompleted { pack_id }) {
                        return Some(End::Lost(format!("link lost: {e}")));
                    }
                }
                self.answer(&req, reads::last_ids(reader, &shared.view()))
            }
            Message::AskPackOrders(p) => {
                self.answer(&req, reads::pack_orders(reader, &shared.view(), p.pack_id))
            }
            Message::StartOperation(s) => return self.start_operation(link, s.backup),
            Message::StopOperation(_) => {
                // As NEO/py: its links closed, its transactions in
                // progress forgotten (what was voted waits for the
                // verification), replication stopped.
                shared.set_operational(false);
                shared.tm.reset();
                replicator::stop(shared);
                log::info!("operation stopped by the master");
                Ok(())
            }
            Message::Ping(_) => net::reply(&req, &Pong {}),
            _ => return self.handle_commit(reader, req),
        };
        sent.err().map(|e| End::Lost(format!("link lost: {e}")))
    }

    /// The master's part of a commit, and the rest.
    fn handle_commit(&self, reader: &Reader, req: Req) -> Option<End> {
        let shared = &self.shared;
        let refused = match req.msg() {
            Message::AskLockInformation(l) => {
                let (ttid, tid, pack) = (l.ttid, l.tid, l.pack);
                commit::lock(shared, req, ttid, tid, pack).err()
            }
            Message::NotifyUnlockInformation(u) => commit::unlock(shared, u.ttid).err(),
            Message::AbortTransaction(a) => {
                commit::finished(shared, a.ttid, false, reader);
                replicator::transaction_finished(shared, a.ttid, None);
                None
            }
            Message::NotifyTransactionFinished(f) => {
                commit::finished(shared, f.ttid, false, reader);
                replicator::transaction_finished(shared, f.ttid, Some(f.max_tid));
                None
            }
            other => {
                self.unexpected(&req, other);
                None
            }
        };
        match refused {
            // NEO/py answers a protocol error and drops the master.
            Some(Refused::Protocol(m)) => Some(End::Lost(format!("protocol error: {m}"))),
            Some(Refused::Error(_, m)) => Some(End::Lost(m)),
            None => None,
        }
    }

    /// `NotifyNodeInformation`: this node DOWN or UNKNOWN ends it; a client
    /// no longer running loses its transactions not locked.
    fn node_information(
        &self,
        reader: &Reader,
        n: &neonet::neopy::NotifyNodeInformation,
    ) -> Option<End> {
        let shared = &self.shared;
        let mine = shared.update_nodes(n.timestamp, &n.node_list);
        for info in &n.node_list {
            if let (NodeType::CLIENT, Some(uuid)) = (info.node_type, info.uuid) {
                if info.state != NodeState::RUNNING {
                    log::info!("client {uuid} is {}: aborting its transactions", info.state);
                    commit::abort_for(shared, uuid, true, reader);
                }
            }
        }
        let mine = mine?;
        log::info!("the master says this node is {mine}");
        matches!(mine, NodeState::DOWN | NodeState::UNKNOWN).then_some(End::Down(mine))
    }

    /// `NotifyPartitionChanges`: saved, then applied.
    fn partition_changes(&self, c: &neonet::neopy::NotifyPartitionChanges) -> Result<(), String> {
        let shared = &self.shared;
        let expected = shared.pt().ptid().map(|p| p + 1);
        if expected != Some(c.ptid) {
            return Err(format!(
                "partition changes refused: wrong partition table id: {}, expected {expected:?}",
                c.ptid
            ));
        }
        let cells = c
            .cell_list
            .iter()
            .map(|x| (x.offset, x.uuid, x.state.0))
            .collect();
        self.save_table(c.ptid, c.num_replicas, cells, false)?;
        shared
            .with_pt(|pt| pt.apply(c.ptid, c.num_replicas, &c.cell_list))
            .map_err(|e| format!("partition changes refused: {e}"))?;
        log::info!(
            "partition table {}: {} cells changed",
            c.ptid,
            c.cell_list.len()
        );
        if shared.is_operational() {
            replicator::partition_changes(shared, &c.cell_list);
        }
        Ok(())
    }

    /// Saves table changes (NEO/py's `changePartitionTable`) and waits
    /// for the commit.
    fn save_table(
        &self,
        ptid: i64,
        replicas: u32,
        cells: Vec<(u32, i32, u8)>,
        reset: bool,
    ) -> Result<(), String> {
        let nid = self.shared.nid().ok_or("no node id")?;
        self.shared
            .writer()
            .run(true, move |w| {
                w.apply_partition_table(nid, ptid, replicas, &cells, reset)
            })
            .map_err(|e| e.to_string())
    }

    /// `StartOperation`: what was not validated goes, the node serves,
    /// and tells the master it is ready.
    fn start_operation(&self, link: &Link, backup: bool) -> Option<End> {
        if backup {
            log::warn!("StartOperation(backup): this node does not back up another cluster");
        }
        let shared = &self.shared;
        if shared.writer().run(true, |w| w.drop_unfinished()).is_err() {
            return Some(End::Lost("the database writer stopped".into()));
        }
        shared.set_operational(true);
        log::info!("operational");
        if let Err(e) = net::send(link, &NotifyReady {}) {
            return Some(End::Lost(format!("link lost: {e}")));
        }
        // After NotifyReady, as NEO/py: replication asks the master
        // which transactions are unfinished.
        let dial = replicator::Dial {
            tls: self.config.tls.clone(),
            address: self.config.address.clone(),
            times: self.config.times,
        };
        replicator::start(shared, dial);
        None
    }

    /// Answers with `answer`, or the `Error` of a failed read.
    fn answer<M: neonet::Msg<Dialect = neonet::NeoPy>>(
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

    /// What this node does not do (packing, checking replicas, backup,
    /// truncation): a request is answered with an error, a notification
    /// ignored.
    fn unexpected(&self, req: &Req, msg: &Message) {
        if neonet::neopy::answer_name(msg.code()).is_none() {
            log::info!("ignored {} from the master", msg.name());
            return;
        }
        log::warn!("refused {} from the master", msg.name());
        let message = format!("neo-storage does not implement {}", msg.name());
        let _ = net::reply_error(req, ErrorCode::BACKEND_NOT_IMPLEMENTED, message);
    }

    /// The oldest pack completed on this node's cells (NEO/py's
    /// `min(getPackedIDs())`, sent in `NotifyPackCompleted`).
    fn completed_pack(&self, reader: &Reader) -> Option<u64> {
        let nid = self.shared.nid()?;
        let pt = self.shared.pt();
        pt.cells_of(nid)
            .iter()
            .filter(|(_, s)| *s != CellState::CORRUPTED)
            .filter_map(|(p, _)| reader.cell_pack(*p, nid).ok().flatten())
            .min()
    }
}
