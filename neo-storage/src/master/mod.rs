//! The session with the master: identification, then whatever the master
//! asks and tells, through recovery, verification and operation; and the
//! loop that reconnects, with back-off, trying each master in turn.

mod handle;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Receiver;
use neonet::neopy::{
    AcceptIdentification, Address, NodeState, NodeType, RequestIdentification, Value,
};

use crate::db::{Reader, ReaderPool};
use crate::net::{self, Link, LinkTimes, Recv, Tls};
use crate::state::Shared;

/// How the node ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// It was asked to stop.
    Stopped,
    /// The master declared it DOWN or UNKNOWN: NEO/py's storage exits then.
    Down(NodeState),
    /// It could not go on: a database write failed.
    Failed(String),
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
    /// NEO/py's `devpath` (host name, device of the database file): the
    /// master keeps replicas of a partition on different devices.
    pub devpath: Vec<String>,
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
    /// `stop`, or its sender dropped), is declared down or fails.
    pub fn run(&self, stop: &Receiver<()>) -> Exit {
        let masters = &self.config.masters;
        let mut delay = self.config.backoff_min;
        for i in 0.. {
            if self.shared.is_stopping() {
                break;
            }
            let addr = &masters[i % masters.len()];
            let end = self.session(addr);
            self.end_session();
            match end {
                Ok((_, End::Down(state))) => {
                    log::error!("the master declared this node {state}: shutting down");
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
            if self.shared.failure().is_some()
                || !matches!(
                    stop.recv_timeout(delay),
                    Err(crossbeam_channel::RecvTimeoutError::Timeout)
                )
            {
                break;
            }
            delay = (delay * 2).min(self.config.backoff_max);
        }
        match self.shared.failure() {
            Some(why) => Exit::Failed(why),
            None => Exit::Stopped,
        }
    }

    /// What NEO/py's storage does when it loses its master: it stops
    /// serving, closes its other links, forgets its transactions in
    /// progress (what was voted waits in the database for verification)
    /// and stops replicating.
    fn end_session(&self) {
        self.shared.set_operational(false);
        self.shared.set_cluster_state(None);
        self.shared.tm.reset();
        crate::replicator::stop(&self.shared);
    }

    /// Closes the current session's link (to stop).
    pub fn close(&self) {
        if let Some(link) = self.shared.master_link() {
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
        self.shared.set_master_link(Some(link.clone()));
        let end = self.identified_session(addr, &link);
        self.shared.set_master_link(None);
        net::close(&link);
        end
    }

    fn identified_session(&self, addr: &str, link: &Arc<Link>) -> Result<(bool, End), String> {
        if self.shared.is_stopping() {
            return Ok((false, End::Lost("stopping".into())));
        }
        let accept = self.identify(link)?;
        let nid = accept.your_uuid.ok_or("the master gave no node id")?;
        self.take_nid(nid)?;
        self.shared.clear_nodes();
        self.shared.tm.reset();
        log::info!(
            "identified with master {addr} (node {:?}) as storage node {nid}",
            accept.uuid
        );
        let mut reader = self.pool.take().map_err(|e| e.to_string())?;
        let end = self.serve(link, &mut reader);
        self.pool.give(reader);
        Ok((true, end))
    }

    /// Saves the node id the master gave, if it is not the one this node
    /// had (NEO/py's `setUUID`: the database's cells follow).
    fn take_nid(&self, nid: i32) -> Result<(), String> {
        let old = self.shared.nid();
        if old == Some(nid) {
            return Ok(());
        }
        match old {
            Some(old) => log::warn!("the master knows this node as {nid}, not {old}"),
            None => log::info!("the master gave this node the id {nid}"),
        }
        self.shared
            .writer()
            .run(true, move |w| w.set_nid(old, nid))
            .map_err(|e| e.to_string())?;
        self.shared.set_nid(nid);
        Ok(())
    }

    fn identify(&self, link: &Link) -> Result<AcceptIdentification, String> {
        let devpath = self.config.devpath.iter().map(|s| Value::bin(s.as_bytes()));
        let extra = BTreeMap::from([
            ("devpath".to_string(), Value::array(devpath)),
            ("new_nid".to_string(), Value::array([])),
        ]);
        let req = RequestIdentification {
            node_type: NodeType::STORAGE,
            uuid: self.shared.nid(),
            address: Some(self.config.address.clone()),
            name: self.shared.cluster.clone(),
            id_timestamp: None,
            extra,
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

    fn serve(&self, link: &Arc<Link>, reader: &mut Reader) -> End {
        loop {
            match net::recv(link, Duration::from_secs(3600)) {
                Recv::Req(req) => {
                    if let Some(end) = self.handle(link, reader, req) {
                        return end;
                    }
                }
                Recv::Idle => {}
                Recv::Gone(e) => return End::Lost(format!("link lost: {}", net::describe(&e))),
            }
        }
    }
}

/// NEO/py's `getTopologyPath`: the host name and the device of the
/// database file.
pub fn devpath(database: &std::path::Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    let dev = std::fs::metadata(database).map_or(0, |m| m.dev());
    vec![host, dev.to_string()]
}
