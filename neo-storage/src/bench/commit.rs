//! The commit benchmark: T threads, each a ZODB client of its own, commit
//! small transactions as NEO/py's client does (`AskBeginTransaction` to
//! the master, `AskStoreObject` and `AskStoreTransaction` or
//! `AskVoteTransaction` to the storages, `AskFinishTransaction` to the
//! master); each changes one object of its own, so that no two conflict.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use neonet::neopy::{
    AskBeginTransaction, AskFinishTransaction, AskNewOIDs, AskStoreObject, AskStoreTransaction,
    AskVoteTransaction, Checksum, NodeId,
};

use super::{connect, err, BenchError, Cluster, Links, Run};
use crate::net::{self, Link, Recv};

/// The data of each revision: about what a small persistent object
/// pickles to.
const DATA: &[u8] = &[b'x'; 100];

/// Commits `count` transactions in all with `threads` threads started
/// together, each a client of its own that identifies with `master` and
/// dials the storages before the clock starts.
pub fn commit(
    master: &str,
    cluster: &Cluster,
    threads: usize,
    count: u64,
) -> Result<Run, BenchError> {
    let barrier = Arc::new(Barrier::new(threads + 1));
    let per = threads as u64;
    let (elapsed, results) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = barrier.clone();
                let n = count / per + u64::from((t as u64) < count % per);
                s.spawn(move || commit_thread(master, &cluster.name, cluster, n, &barrier))
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("commit thread"))
            .collect();
        (start.elapsed(), results)
    });
    let results: Vec<(u64, Duration)> = results.into_iter().collect::<Result<_, _>>()?;
    let commits = results.iter().map(|r| r.0).sum();
    let latency = results
        .iter()
        .map(|(n, d)| d.as_secs_f64() / (*n).max(1) as f64)
        .sum::<f64>()
        / threads as f64;
    Ok(Run {
        threads,
        loads: commits,
        elapsed,
        latency: Duration::from_secs_f64(latency),
    })
}

/// One client: its master link, links to the storages, its object.
struct Committer<'a> {
    master: Link,
    links: Links<'a>,
    oid: u64,
    serial: u64,
}

fn commit_thread(
    master: &str,
    name: &str,
    cluster: &Cluster,
    n: u64,
    barrier: &Barrier,
) -> Result<(u64, Duration), BenchError> {
    let setup = || -> Result<(Link, Cluster, u64), BenchError> {
        let (link, c) = connect(master, name, cluster.tls.clone())?;
        let oids = net::ask(&link, &AskNewOIDs { num_oids: 1 }).map_err(err("AskNewOIDs"))?;
        let oid = *oids.oid_list.first().ok_or("no new oid")?;
        Ok((link, c, oid))
    };
    let ready = setup();
    let (link, c, oid) = match ready {
        Ok(r) => r,
        Err(e) => {
            barrier.wait();
            return Err(e);
        }
    };
    let mut me = Committer {
        master: link,
        links: Links::new(&c),
        oid,
        serial: 0,
    };
    if n > 1 {
        // As for loads over TLS: the client's links poll only when it runs
        // alone.
        me.links.spin = Some(Duration::ZERO);
    }
    let dialed = (0..c.pt.partitions()).try_for_each(|p| me.links.writable(p).map(drop));
    barrier.wait();
    dialed?;
    let start = Instant::now();
    for _ in 0..n {
        me.commit_one()?;
    }
    Ok((n, start.elapsed()))
}

impl Committer<'_> {
    /// One transaction changing this client's object.
    fn commit_one(&mut self) -> Result<(), BenchError> {
        let ttid = net::ask(&self.master, &AskBeginTransaction { tid: None })
            .map_err(err("AskBeginTransaction"))?
            .ttid;
        let np = u64::from(self.links.cluster.pt.partitions());
        let store = AskStoreObject {
            oid: self.oid,
            serial: self.serial,
            compression: 0,
            checksum: Checksum(crate::commit::sha1(DATA)),
            data: DATA.to_vec().into(),
            data_serial: None,
            ttid: Some(ttid),
        };
        let obj_nodes = self.links.writable((self.oid % np) as u32)?;
        for (_, link) in &obj_nodes {
            let a = net::ask(link, &store).map_err(err("AskStoreObject"))?;
            if let Some(conflict) = a.conflict.filter(|&c| c != 0) {
                return Err(format!("conflict on {:016x}: {conflict:016x}", self.oid));
            }
        }
        let obj_nids: BTreeSet<NodeId> = obj_nodes.iter().map(|n| n.0).collect();
        self.vote(ttid, np, &obj_nids)?;
        let finish = AskFinishTransaction {
            ttid,
            oid_list: vec![self.oid],
            deleted: vec![],
            checked: vec![],
            pack: None,
        };
        let done = net::ask(&self.master, &finish).map_err(err("AskFinishTransaction"))?;
        self.serial = done.tid;
        self.drain_master();
        Ok(())
    }

    /// `AskStoreTransaction` to the storages of the ttid's partition,
    /// `AskVoteTransaction` to the others that got a store.
    fn vote(&mut self, ttid: u64, np: u64, obj_nids: &BTreeSet<NodeId>) -> Result<(), BenchError> {
        let txn = AskStoreTransaction {
            ttid,
            user: b"neo-load".to_vec(),
            desc: b"commit benchmark".to_vec(),
            ext: Vec::new(),
            oid_list: vec![self.oid],
            pack: None,
        };
        let txn_nodes = self.links.writable((ttid % np) as u32)?;
        for (_, link) in &txn_nodes {
            net::ask(link, &txn).map_err(err("AskStoreTransaction"))?;
        }
        let txn_nids: BTreeSet<NodeId> = txn_nodes.iter().map(|n| n.0).collect();
        let obj_nodes = self.links.writable((self.oid % np) as u32)?;
        for (nid, link) in &obj_nodes {
            if !txn_nids.contains(nid) && obj_nids.contains(nid) {
                net::ask(link, &AskVoteTransaction { ttid }).map_err(err("AskVoteTransaction"))?;
            }
        }
        Ok(())
    }

    /// Takes what the master sent meanwhile (other clients' invalidations)
    /// so that it does not pile up.
    fn drain_master(&self) {
        while let Recv::Req(_) = net::recv(&self.master, Duration::ZERO) {}
    }
}
