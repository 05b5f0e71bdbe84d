//! The benchmarks of `neo-load`, as NEO/py ZODB clients that learn the
//! cluster from the master: loads (list every object, and load each
//! one's current revision from the storages with T threads, each with
//! links of its own; loads per second and µs per load) and commits
//! ([`commit`]: small transactions, T threads).

mod commit;

pub use commit::commit;

use std::collections::HashMap;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use neonet::neopy::{
    AnswerObject, AskLastTransaction, AskOIDsFrom, AskObject, CellState, Message, NodeId,
    NodeState, NodeType, RequestIdentification,
};

use crate::net::{self, BlockingLink, Link, LinkTimes, Recv, Tls};
use crate::pt::{is_readable, PartitionTable};

/// What the master told a client.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The cluster name.
    pub name: String,
    /// Our node id and id timestamp, for identifying with storages.
    pub me: (NodeId, Option<f64>),
    /// The partition table.
    pub pt: PartitionTable,
    /// Running storages' addresses, by node id.
    pub storages: HashMap<NodeId, String>,
    /// The last committed tid.
    pub ltid: u64,
    /// TLS settings.
    pub tls: Option<Tls>,
}

/// A benchmark error.
pub type BenchError = String;

fn err(what: &str) -> impl Fn(net::NetError) -> BenchError + '_ {
    move |e| format!("{what}: {e}")
}

/// Identifies with the master at `master` as a client and learns the
/// cluster; the link stays open (the cluster keeps us known).
pub fn connect(master: &str, name: &str, tls: Option<Tls>) -> Result<(Link, Cluster), BenchError> {
    let link = net::dial(master, tls.as_ref(), Duration::from_secs(10)).map_err(err(master))?;
    net::set_times(&link, &LinkTimes::default());
    let accept =
        net::ask(&link, &identification(name, None, None)).map_err(err("identification"))?;
    let nid = accept.your_uuid.ok_or("the master gave no node id")?;
    let (mut pt, mut got_pt, mut nodes) = (PartitionTable::default(), false, HashMap::new());
    let mut me = None;
    while !got_pt || me.is_none() {
        let req = match net::recv(&link, Duration::from_secs(10)) {
            Recv::Req(r) => r,
            Recv::Idle => return Err("the master sent no partition table".into()),
            Recv::Gone(e) => return Err(format!("master: {e}")),
        };
        match req.msg() {
            Message::SendPartitionTable(t) => {
                pt.load(t.ptid, t.num_replicas, &t.row_list);
                got_pt = true;
            }
            Message::NotifyNodeInformation(n) => {
                for info in &n.node_list {
                    if info.uuid == Some(nid) {
                        me = Some(info.id_timestamp);
                    }
                    if let (NodeType::STORAGE, Some(id), Some(a), NodeState::RUNNING) =
                        (info.node_type, info.uuid, &info.address, info.state)
                    {
                        nodes.insert(id, format!("{}:{}", a.host, a.port));
                    }
                }
            }
            _ => {}
        }
    }
    let ltid = net::ask(&link, &AskLastTransaction {})
        .map_err(err("AskLastTransaction"))?
        .ltid;
    let me = (nid, me.flatten());
    Ok((
        link,
        Cluster {
            name: name.into(),
            me,
            pt,
            storages: nodes,
            ltid,
            tls,
        },
    ))
}

fn identification(name: &str, uuid: Option<NodeId>, ts: Option<f64>) -> RequestIdentification {
    RequestIdentification {
        node_type: NodeType::CLIENT,
        uuid,
        address: None,
        name: name.into(),
        id_timestamp: ts,
        extra: Default::default(),
    }
}

/// One thread's links to the storages.
struct Links<'a> {
    cluster: &'a Cluster,
    links: HashMap<NodeId, Link>,
    spin: Option<Duration>,
}

impl<'a> Links<'a> {
    fn new(cluster: &'a Cluster) -> Links<'a> {
        Links {
            cluster,
            links: HashMap::new(),
            spin: None,
        }
    }

    /// A link to a storage with a readable cell of `partition`.
    fn for_partition(&mut self, partition: u32) -> Result<&Link, BenchError> {
        let rows = self.cluster.pt.rows();
        let cell = rows[partition as usize]
            .iter()
            .find(|c| is_readable(c.state) && self.cluster.storages.contains_key(&c.uuid))
            .ok_or_else(|| format!("no readable cell for partition {partition}"))?;
        if !self.links.contains_key(&cell.uuid) {
            let link = self.dial(cell.uuid)?;
            self.links.insert(cell.uuid, link);
        }
        Ok(&self.links[&cell.uuid])
    }

    /// Links to every storage with a cell of `partition` that takes
    /// writes (readable or out of date), with their node ids.
    fn writable(&mut self, partition: u32) -> Result<Vec<(NodeId, &Link)>, BenchError> {
        let rows = self.cluster.pt.rows();
        let nids: Vec<NodeId> = rows[partition as usize]
            .iter()
            .filter(|c| {
                (is_readable(c.state) || c.state == CellState::OUT_OF_DATE)
                    && self.cluster.storages.contains_key(&c.uuid)
            })
            .map(|c| c.uuid)
            .collect();
        if nids.is_empty() {
            return Err(format!("no writable cell for partition {partition}"));
        }
        for &nid in &nids {
            if !self.links.contains_key(&nid) {
                let link = self.dial(nid)?;
                self.links.insert(nid, link);
            }
        }
        Ok(nids.iter().map(|n| (*n, &self.links[n])).collect())
    }

    fn dial(&self, nid: NodeId) -> Result<Link, BenchError> {
        let addr = &self.cluster.storages[&nid];
        let link = net::dial(addr, self.cluster.tls.as_ref(), Duration::from_secs(10))
            .map_err(err(addr))?;
        net::set_times(
            &link,
            &LinkTimes {
                spin: self.spin,
                ..LinkTimes::default()
            },
        );
        let (me, ts) = self.cluster.me;
        net::ask(&link, &identification(&self.cluster.name, Some(me), ts)).map_err(err(addr))?;
        Ok(link)
    }
}

/// Every oid that exists as of the last transaction, partition by
/// partition (as NEO/py's client's `oids()`).
pub fn list_oids(cluster: &Cluster) -> Result<Vec<u64>, BenchError> {
    let mut links = Links::new(cluster);
    let mut oids = Vec::new();
    for partition in 0..cluster.pt.partitions() {
        let mut min_oid = Some(0);
        while let Some(from) = min_oid {
            let link = links.for_partition(partition)?;
            let ask = AskOIDsFrom {
                partition,
                length: 1000,
                min_oid: from,
                tid: cluster.ltid,
            };
            let a = net::ask(link, &ask).map_err(err("AskOIDsFrom"))?;
            oids.extend(a.oid_list);
            min_oid = a.next_oid;
        }
    }
    oids.sort_unstable();
    Ok(oids)
}

/// The result of one run.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// Threads.
    pub threads: usize,
    /// Loads done.
    pub loads: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Mean time of one load, as each thread saw it.
    pub latency: Duration,
}

impl Run {
    /// Loads per second.
    pub fn rate(&self) -> f64 {
        self.loads as f64 / self.elapsed.as_secs_f64()
    }
}

/// Loads `count` objects (cycling through `oids`) with `threads` threads
/// started together, each a client of its own (a storage takes one link
/// per client): each identifies with `master` and dials the storages
/// before the clock starts.
pub fn load(
    master: &str,
    cluster: &Cluster,
    oids: &[u64],
    threads: usize,
    count: u64,
) -> Result<Run, BenchError> {
    if oids.is_empty() {
        return Err("no object to load".into());
    }
    let barrier = Arc::new(Barrier::new(threads + 1));
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = barrier.clone();
                s.spawn(move || {
                    let client = connect(master, &cluster.name, cluster.tls.clone());
                    let share = Share {
                        t,
                        threads,
                        count,
                        ltid: cluster.ltid,
                    };
                    match client {
                        Ok((_link, c)) => load_thread(&c, oids, share, &barrier),
                        Err(e) => {
                            barrier.wait();
                            Err(e)
                        }
                    }
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let per: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("load thread"))
            .collect();
        (start.elapsed(), per)
    });
    let (elapsed, per) = results;
    let per: Vec<(u64, Duration)> = per.into_iter().collect::<Result<_, _>>()?;
    let loads = per.iter().map(|p| p.0).sum();
    let latency = per
        .iter()
        .map(|(n, d)| d.as_secs_f64() / *n.max(&1) as f64)
        .sum::<f64>()
        / threads as f64;
    Ok(Run {
        threads,
        loads,
        elapsed,
        latency: Duration::from_secs_f64(latency),
    })
}

/// Which loads a thread does: every `threads`-th of `count` from `t`, as
/// of `ltid`.
#[derive(Debug, Clone, Copy)]
struct Share {
    t: usize,
    threads: usize,
    count: u64,
    ltid: u64,
}

/// A load thread's link to one storage: a [`BlockingLink`] (no threads
/// of its own, so that the loading threads take as little CPU as they
/// can from the storage measured, whichever it is), or a [`Link`] over
/// TLS.
enum LoadLink {
    Blocking(Box<BlockingLink>),
    Tls(Link),
}

impl LoadLink {
    /// `alone`: the only loading thread (a [`Link`] then polls for its
    /// answers; with several threads, polling would take the cores from
    /// the storage).
    fn dial(cluster: &Cluster, nid: NodeId, alone: bool) -> Result<LoadLink, BenchError> {
        let addr = &cluster.storages[&nid];
        let (me, ts) = cluster.me;
        let ident = identification(&cluster.name, Some(me), ts);
        if cluster.tls.is_some() {
            let mut links = Links::new(cluster);
            if !alone {
                links.spin = Some(Duration::ZERO);
            }
            return links.dial(nid).map(LoadLink::Tls);
        }
        let mut link = BlockingLink::dial(addr, Duration::from_secs(10))
            .map_err(|e| format!("{addr}: {e}"))?;
        link.ask(&ident).map_err(|e| format!("{addr}: {e}"))?;
        Ok(LoadLink::Blocking(Box::new(link)))
    }

    fn load(&mut self, oid: u64, before: Option<u64>) -> Result<AnswerObject, BenchError> {
        let ask = AskObject {
            oid,
            at: None,
            before,
        };
        match self {
            LoadLink::Blocking(l) => l.ask(&ask).map_err(|e| format!("AskObject: {e}")),
            LoadLink::Tls(l) => net::ask(l, &ask).map_err(err("AskObject")),
        }
    }
}

/// A thread's loads; (loads, time).
fn load_thread(
    cluster: &Cluster,
    oids: &[u64],
    share: Share,
    barrier: &Barrier,
) -> Result<(u64, Duration), BenchError> {
    let Share {
        t,
        threads,
        count,
        ltid,
    } = share;
    let np = cluster.pt.partitions();
    // The link of each partition, made before the clock starts (one per
    // storage, as a client has).
    let setup = (|| {
        let rows = cluster.pt.rows();
        let mut by_node: HashMap<NodeId, usize> = HashMap::new();
        let mut links = Vec::new();
        let mut of_partition = Vec::new();
        for p in 0..np {
            let cell = rows[p as usize]
                .iter()
                .find(|c| is_readable(c.state) && cluster.storages.contains_key(&c.uuid))
                .ok_or_else(|| format!("no readable cell for partition {p}"))?;
            let i = match by_node.get(&cell.uuid) {
                Some(&i) => i,
                None => {
                    links.push(LoadLink::dial(cluster, cell.uuid, threads == 1)?);
                    by_node.insert(cell.uuid, links.len() - 1);
                    links.len() - 1
                }
            };
            of_partition.push(i);
        }
        Ok::<_, BenchError>((links, of_partition))
    })();
    barrier.wait();
    let (mut links, of_partition) = setup?;
    let before = Some(ltid + 1);
    let start = Instant::now();
    let mut n = 0;
    let mut i = t as u64;
    while i < count {
        let oid = oids[(i % oids.len() as u64) as usize];
        let link = &mut links[of_partition[(oid % u64::from(np)) as usize]];
        let a = link.load(oid, before)?;
        if a.oid != oid {
            return Err(format!("asked {oid}, got {}", a.oid));
        }
        n += 1;
        i += threads as u64;
    }
    Ok((n, start.elapsed()))
}
