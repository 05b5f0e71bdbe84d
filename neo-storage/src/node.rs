//! A running node: the master session, the listener and the serving
//! threads, started and stopped together.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Sender;
use neonet::neopy::{Address, ClusterState};
use neonet::LinkListener;

use crate::db::{self, DbError, ReaderPool, Writer};
use crate::lock::DbLock;
use crate::master::{Exit, Master, MasterConfig};
use crate::net::{self, LinkTimes, NetError, Tls};
use crate::pt::PartitionTable;
use crate::serve::Server;
use crate::state::Shared;

/// How to run a node.
#[derive(Debug, Clone)]
pub struct Config {
    /// The cluster name.
    pub cluster: String,
    /// The address to listen on for clients (port 0: any).
    pub bind: String,
    /// The masters' addresses.
    pub masters: Vec<String>,
    /// NEO/py's SQLite database.
    pub database: PathBuf,
    /// TLS (`--ca --cert --key`), for the master link and the listener.
    pub tls: Option<Tls>,
    /// Time limits of every link.
    pub times: LinkTimes,
    /// First delay before reconnecting to the master (doubled at each
    /// failure up to `backoff_max`, back to this once identified).
    pub backoff_min: Duration,
    /// Longest delay before reconnecting.
    pub backoff_max: Duration,
    /// How long a client's identification waits for the master to tell
    /// about that client.
    pub ident_wait: Duration,
    /// How long client links poll before sleeping (`None`: neonet's
    /// default, however many links there are). A waiter that polls yields
    /// the core between polls: with more busy links than cores, the next
    /// request is usually handled within the budget, by a thread that
    /// never slept, and a yield to a runnable thread costs less than a
    /// sleep and the wake-up that ends it.
    pub client_spin: Option<Duration>,
}

impl Config {
    /// A configuration with default times.
    pub fn new(cluster: &str, bind: &str, masters: Vec<String>, database: PathBuf) -> Config {
        Config {
            cluster: cluster.into(),
            bind: bind.into(),
            masters,
            database,
            tls: None,
            times: LinkTimes::default(),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            ident_wait: Duration::from_secs(10),
            client_spin: None,
        }
    }
}

/// Why a node did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database cannot be served.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The listening address cannot be used.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        source: NetError,
    },
    /// No master address.
    #[error("no master address given")]
    NoMaster,
    /// A thread could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
}

/// A running node.
#[derive(Debug)]
pub struct Node {
    shared: Arc<Shared>,
    master: Arc<Master>,
    pool: Arc<ReaderPool>,
    listener: Arc<LinkListener>,
    addr: SocketAddr,
    stop_tx: Option<Sender<()>>,
    master_thread: Option<JoinHandle<Exit>>,
    acceptor: Option<JoinHandle<()>>,
    _lock: DbLock,
}

impl Node {
    /// Checks the database, takes its lock, listens, and starts the master
    /// session (in the background: the node then connects and reconnects
    /// by itself).
    pub fn start(config: Config) -> Result<Node, StartError> {
        if config.masters.is_empty() {
            return Err(StartError::NoMaster);
        }
        db::touch(&config.database)?;
        let lock = DbLock::take(&config.database)?;
        let info = db::open(&config.database, &config.cluster)?;
        let listener = net::listen(&config.bind, config.tls.as_ref()).map_err(|source| {
            StartError::Listen {
                addr: config.bind.clone(),
                source,
            }
        })?;
        let addr = net::local_addr(&listener).expect("a TCP listener");
        log_start(&info, addr);
        let shared = Arc::new(Shared::new(
            &config.cluster,
            info.nid,
            PartitionTable::from_db(&info),
        ));
        let weak = Arc::downgrade(&shared);
        let pool = Arc::new(ReaderPool::new(&config.database));
        let writer = Writer::start(&config.database, pool.commits().clone(), move |why| {
            if let Some(s) = weak.upgrade() {
                s.fail(why);
            }
        })?;
        shared.set_writer(writer);
        shared.set_pool(pool.clone());
        let master = Arc::new(Master {
            config: master_config(&config, addr),
            shared: shared.clone(),
            pool: pool.clone(),
        });
        let listener = Arc::new(listener);
        let server = Arc::new(Server {
            shared: shared.clone(),
            pool: pool.clone(),
            ident_wait: config.ident_wait,
        });
        let (stop_tx, stop_rx) = crossbeam_channel::bounded(1);
        let m = master.clone();
        let master_thread = spawn("neo-storage master", move || m.run(&stop_rx))?;
        let l = listener.clone();
        let (times, spin) = (config.times, config.client_spin);
        let acceptor = spawn("neo-storage accept", move || {
            accept_loop(&l, &server, times, spin)
        })?;
        Ok(Node {
            shared,
            master,
            pool,
            listener,
            addr,
            stop_tx: Some(stop_tx),
            master_thread: Some(master_thread),
            acceptor: Some(acceptor),
            _lock: lock,
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// This node's id (the one the master gave, once identified).
    pub fn nid(&self) -> Option<i32> {
        self.shared.nid()
    }

    /// The node's shared state (for tests and tools).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Whether it serves clients.
    pub fn is_operational(&self) -> bool {
        self.shared.is_operational()
    }

    /// The cluster state the master last announced.
    pub fn cluster_state(&self) -> Option<ClusterState> {
        self.shared.cluster_state()
    }

    /// Its partition table.
    pub fn pt(&self) -> PartitionTable {
        self.shared.pt()
    }

    /// The number of client links open.
    pub fn clients(&self) -> usize {
        self.shared.clients()
    }

    /// Waits until the node ends by itself (the master declared it down),
    /// then stops the rest.
    pub fn wait(mut self) -> Exit {
        let exit = self.join_master();
        self.shutdown();
        exit
    }

    /// Stops the node: the master link, the listener, every client link.
    pub fn stop(mut self) -> Exit {
        self.shared.set_stopping();
        self.stop_tx.take();
        self.master.close();
        let exit = self.join_master();
        self.shutdown();
        exit
    }

    fn join_master(&mut self) -> Exit {
        let thread = self.master_thread.take().expect("joined once");
        thread.join().unwrap_or(Exit::Stopped)
    }

    fn shutdown(&mut self) {
        self.shared.set_stopping();
        net::close_listener(&self.listener);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
        self.shared.close_clients();
        crate::replicator::stop(&self.shared);
        // The serving threads give their connections back as their links
        // end; then the writer finishes what was asked and, without other
        // connections, sets NEO/py's journal back.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while self.shared.clients() > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.pool.clear();
        self.shared.writer().close();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if self.master_thread.is_some() {
            self.shared.set_stopping();
            self.stop_tx.take();
            self.master.close();
            let _ = self.join_master();
        }
        self.shutdown();
    }
}

fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, StartError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(StartError::Thread)
}

fn log_start(info: &db::DbInfo, addr: SocketAddr) {
    let new = if info.created { "new " } else { "" };
    log::info!(
        "{new}database {}: node {:?}, cluster {:?}, partition table {:?} of {} partitions; listening on {addr}",
        info.path.display(), info.nid, info.name, info.ptid, info.partitions()
    );
}

fn master_config(config: &Config, addr: SocketAddr) -> MasterConfig {
    let host = config
        .bind
        .rsplit_once(':')
        .map_or(config.bind.as_str(), |(h, _)| h);
    MasterConfig {
        masters: config.masters.clone(),
        tls: config.tls.clone(),
        address: Address {
            host: host.trim_matches(['[', ']']).into(),
            port: addr.port(),
        },
        times: config.times,
        backoff_min: config.backoff_min,
        backoff_max: config.backoff_max,
        devpath: crate::master::devpath(&config.database),
    }
}

/// Accepts client links, one thread each, until the listener closes.
fn accept_loop(
    listener: &LinkListener,
    server: &Arc<Server>,
    times: LinkTimes,
    spin: Option<Duration>,
) {
    while let Some(link) = net::accept(listener) {
        net::set_times(&link, &LinkTimes { spin, ..times });
        let server = server.clone();
        let spawned = std::thread::Builder::new()
            .name("neo-storage client".into())
            .spawn(move || server.serve_link(link));
        if let Err(e) = spawned {
            log::error!("cannot start a thread for a client: {e}");
        }
    }
}
