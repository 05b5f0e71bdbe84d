//! `neo-load`: the load and commit benchmarks of neo-storage (see
//! `neo_storage::bench`).
//!
//! ```text
//! neo-load -m MASTER -c CLUSTER [--commit] [-t 1,8] [-n COUNT] [--ca CA --cert CERT --key KEY]
//! ```

use std::process::ExitCode;

use neo_storage::{bench, net};

const USAGE: &str = "usage: neo-load -m MASTER -c CLUSTER [--commit] [-t THREADS[,THREADS...]] [-n COUNT] [--ca CA --cert CERT --key KEY]

Loads every object's current revision from a NEO cluster's storages, as a
ZODB client does (through the master's partition table), with each number
of threads given (default 1,8), COUNT loads per run (default: 20000, or
every object once if there are more), and prints loads/s and µs per load.

With --commit: each thread, a client of its own, commits small
transactions (one object of its own changed, 100 bytes), COUNT in all per
run (default 2000), and it prints commits/s and µs per commit.";

struct Opts {
    master: String,
    cluster: String,
    threads: Vec<usize>,
    loads: Option<u64>,
    tls: Vec<String>,
    commit: bool,
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        master: String::new(),
        cluster: String::new(),
        threads: vec![1, 8],
        loads: None,
        tls: Vec::new(),
        commit: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "-m" | "--master" => o.master = val()?,
            "-c" | "--cluster" => o.cluster = val()?,
            "-t" | "--threads" => {
                o.threads = val()?
                    .split(',')
                    .map(|t| t.parse().map_err(|_| format!("bad thread count {t:?}")))
                    .collect::<Result<_, _>>()?
            }
            "-n" | "--loads" => o.loads = Some(val()?.parse().map_err(|_| "bad -n".to_string())?),
            "--ca" | "--cert" | "--key" => o.tls.push(val()?),
            "--commit" => o.commit = true,
            "-h" | "--help" => return Err(String::new()),
            _ => return Err(format!("unknown option {a}")),
        }
    }
    if o.master.is_empty() || o.cluster.is_empty() || !matches!(o.tls.len(), 0 | 3) {
        return Err("-m and -c are required; --ca --cert --key go together".into());
    }
    Ok(o)
}

fn main() -> ExitCode {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "{}{USAGE}",
                if e.is_empty() {
                    e
                } else {
                    format!("neo-load: {e}\n")
                }
            );
            return ExitCode::from(2);
        }
    };
    match run(&o) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("neo-load: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(o: &Opts) -> Result<(), String> {
    let tls = match o.tls.as_slice() {
        [ca, cert, key] => Some(
            net::load_tls(ca.as_ref(), cert.as_ref(), key.as_ref()).map_err(|e| e.to_string())?,
        ),
        _ => None,
    };
    let (_master, cluster) = bench::connect(&o.master, &o.cluster, tls)?;
    if o.commit {
        return commits(o, &cluster);
    }
    let oids = bench::list_oids(&cluster)?;
    let count = o.loads.unwrap_or_else(|| (oids.len() as u64).max(20_000));
    let mut storages: Vec<_> = cluster
        .storages
        .iter()
        .map(|(id, a)| format!("{id}@{a}"))
        .collect();
    storages.sort();
    println!(
        "cluster {:?}: {} objects, {} partitions, storages {}, last tid {:016x}",
        cluster.name,
        oids.len(),
        cluster.pt.partitions(),
        storages.join(" "),
        cluster.ltid
    );
    println!("threads      loads   seconds     loads/s   µs/load");
    for &t in &o.threads {
        let r = bench::load(&o.master, &cluster, &oids, t, count)?;
        println!(
            "{:>7} {:>10} {:>9.3} {:>11.0} {:>9.1}",
            t,
            r.loads,
            r.elapsed.as_secs_f64(),
            r.rate(),
            r.latency.as_secs_f64() * 1e6
        );
    }
    Ok(())
}

fn commits(o: &Opts, cluster: &bench::Cluster) -> Result<(), String> {
    let count = o.loads.unwrap_or(2000);
    println!("threads    commits   seconds   commits/s µs/commit");
    for &t in &o.threads {
        let r = bench::commit(&o.master, cluster, t, count)?;
        println!(
            "{:>7} {:>10} {:>9.3} {:>11.0} {:>9.1}",
            t,
            r.loads,
            r.elapsed.as_secs_f64(),
            r.rate(),
            r.latency.as_secs_f64() * 1e6
        );
    }
    Ok(())
}
