//! neonet-rtt: measures round trips over raw sockets and over neonet links
//! side by side, in one run, and prints µs per round trip with link/raw
//! ratios (ARCHITECTURE.md, "Tests and measurements").
//!
//! Usage:
//!   neonet-rtt [--quick] [--json]      measure in this process
//!   neonet-rtt --throughput [--quick]  parallel ask1 and bulk transfer rates
//!   neonet-rtt --listen ADDR [--dialect D]          serve GetObject/AskObject/Ping over TCP until killed
//!   neonet-rtt --connect ADDR [--dialect D] [-n N]  ask1 an object N times against a server
//!
//! D is `proto6` (protocol 6, binary: `GetObject`) or `neopy` (NEO/py's
//! msgpack dialect: `AskObject`). A listener serves both unless told one.

// Shared with benches/rtt.rs, which uses the cases this binary does not.
#[allow(dead_code)]
mod cases;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use cases::Case;

/// The measured rows, in table order; `--json` prints exactly these keys.
const ROWS: [&str; 8] = [
    "raw_tcp",
    "raw_tcp_spin",
    "raw_unix",
    "raw_unix_spin",
    "link_tcp_ask1",
    "link_tcp_ask1_msgpack",
    "link_unix_ask1",
    "link_tcp_conn",
];

/// Rows of the table beyond `ROWS` (not part of the JSON object).
const EXTRA_ROWS: [&str; 4] = ["link_unix_conn", "link_tcp_pkt", "model_tcp", "model_unix"];

/// Ratios printed under the table: (row, baseline).
const RATIOS: [(&str, &str); 11] = [
    ("link_tcp_ask1", "raw_tcp_spin"),
    ("link_tcp_ask1_msgpack", "link_tcp_ask1"),
    ("link_unix_ask1", "raw_unix_spin"),
    ("link_tcp_conn", "raw_tcp_spin"),
    ("link_unix_conn", "raw_unix_spin"),
    ("link_tcp_ask1", "raw_tcp"),
    ("link_unix_ask1", "raw_unix"),
    ("model_tcp", "raw_tcp_spin"),
    ("model_unix", "raw_unix_spin"),
    ("link_tcp_ask1", "model_tcp"),
    ("link_unix_ask1", "model_unix"),
];

fn make_case(name: &str) -> Result<Box<dyn Case>, String> {
    use cases::{serve_echo, serve_pong, LinkPair, OneConn};
    let pong = |pair: neonet::Result<LinkPair>| pair.and_then(OneConn::ping_pong);
    let echo = |pair: neonet::Result<LinkPair>| pair.and_then(OneConn::echo);
    let e = |e: &dyn std::fmt::Display| format!("{name}: {e}");
    Ok(match name {
        "raw_tcp" => Box::new(cases::raw_tcp(false).map_err(|x| e(&x))?),
        "raw_tcp_spin" => Box::new(cases::raw_tcp(true).map_err(|x| e(&x))?),
        "raw_unix" => Box::new(cases::raw_unix(false).map_err(|x| e(&x))?),
        "raw_unix_spin" => Box::new(cases::raw_unix(true).map_err(|x| e(&x))?),
        "link_tcp_ask1" => Box::new(cases::Ask1::tcp().map_err(|x| e(&x))?),
        "link_tcp_ask1_msgpack" => Box::new(cases::Ask1::tcp_msgpack().map_err(|x| e(&x))?),
        "link_unix_ask1" => Box::new(cases::Ask1::unix().map_err(|x| e(&x))?),
        "link_tcp_conn" => Box::new(pong(LinkPair::tcp(1, serve_pong)).map_err(|x| e(&x))?),
        "link_unix_conn" => Box::new(pong(LinkPair::unix(1, serve_pong)).map_err(|x| e(&x))?),
        "link_tcp_pkt" => Box::new(echo(LinkPair::tcp(1, serve_echo)).map_err(|x| e(&x))?),
        "model_tcp" => Box::new(cases::model_tcp().map_err(|x| e(&x))?),
        "model_unix" => Box::new(cases::model_unix().map_err(|x| e(&x))?),
        _ => return Err(format!("unknown case {name}")),
    })
}

struct Options {
    quick: bool,
    json: bool,
    throughput: bool,
    listen: Option<String>,
    connect: Option<String>,
    /// `--dialect`: the one to dial, or the only one to serve.
    dialect: Option<neonet::Dialect>,
    n: u64,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        quick: false,
        json: false,
        throughput: false,
        listen: None,
        connect: None,
        dialect: None,
        n: 10_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--json" => o.json = true,
            "--throughput" => o.throughput = true,
            "--listen" => o.listen = Some(args.next().ok_or("--listen needs ADDR")?),
            "--connect" => o.connect = Some(args.next().ok_or("--connect needs ADDR")?),
            "--dialect" => {
                let d = args.next().ok_or("--dialect needs proto6 or neopy")?;
                o.dialect = Some(match d.as_str() {
                    "proto6" => neonet::Dialect::Proto6,
                    "neopy" => neonet::Dialect::NeoPy,
                    _ => return Err(format!("--dialect: proto6 or neopy, not {d}")),
                });
            }
            "-n" => {
                let v = args.next().ok_or("-n needs a number")?;
                o.n = v.parse().map_err(|_| format!("-n: not a number: {v}"))?;
            }
            "-h" | "--help" => return Err(USAGE.into()),
            _ => return Err(format!("unknown argument {a}\n{USAGE}")),
        }
    }
    Ok(o)
}

const USAGE: &str = "usage: neonet-rtt [--quick] [--json]
       neonet-rtt --throughput [--quick]
       neonet-rtt --listen ADDR [--dialect proto6|neopy]
       neonet-rtt --connect ADDR [--dialect proto6|neopy] [-n N]";

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let res = if let Some(addr) = &opts.listen {
        listen(addr, opts.dialect)
    } else if let Some(addr) = &opts.connect {
        connect(addr, opts.dialect.unwrap_or_default(), opts.n)
    } else if opts.throughput {
        throughput(opts.quick)
    } else {
        measure(&opts)
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("neonet-rtt: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Measures every row, interleaved: each round runs every case for a slice
/// of time, so that drift of a shared machine affects all rows alike; the
/// result of a row is its median over rounds.
fn measure(opts: &Options) -> Result<(), String> {
    let (rounds, slice) = if opts.quick {
        (5, Duration::from_millis(40))
    } else {
        (15, Duration::from_millis(60))
    };
    let names: Vec<&str> = ROWS.iter().chain(EXTRA_ROWS.iter()).copied().collect();
    let mut cases = names
        .iter()
        .map(|n| make_case(n))
        .collect::<Result<Vec<_>, _>>()?;
    // Calibrate: how many round trips fill a slice, per case (and warm up).
    let batch: Vec<usize> = cases
        .iter_mut()
        .map(|c| {
            let n = 200;
            let t = c.run(n).max(Duration::from_micros(1));
            ((slice.as_secs_f64() / t.as_secs_f64()) * n as f64).clamp(50.0, 1e6) as usize
        })
        .collect();
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    let start = Instant::now();
    for round in 0..rounds {
        for (i, c) in cases.iter_mut().enumerate() {
            let t = c.run(batch[i]);
            samples[i].push(t.as_secs_f64() * 1e6 / batch[i] as f64);
        }
        eprint!(
            "\rround {}/{rounds} ({:.1} s)",
            round + 1,
            start.elapsed().as_secs_f64()
        );
    }
    eprintln!();
    drop(cases);
    let medians: Vec<f64> = samples.iter_mut().map(|s| median(s)).collect();
    let get = |name: &str| medians[names.iter().position(|n| *n == name).expect("row")];
    if opts.json {
        let fields: Vec<String> = ROWS
            .iter()
            .map(|r| format!("\"{r}\": {:.3}", get(r)))
            .collect();
        println!("{{{}}}", fields.join(", "));
        return Ok(());
    }
    println!(
        "{:<22} {:>10} {:>10} {:>10}",
        "round trip", "µs (med)", "min", "max"
    );
    for (i, n) in names.iter().enumerate() {
        let s = &samples[i];
        println!(
            "{:<22} {:>10.2} {:>10.2} {:>10.2}",
            n,
            medians[i],
            s[0],
            s[s.len() - 1]
        );
    }
    println!();
    for (row, base) in RATIOS {
        println!("{row:>22} / {base:<14} = {:.2}", get(row) / get(base));
    }
    Ok(())
}

/// Sorts `s` and returns its median.
fn median(s: &mut [f64]) -> f64 {
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Serves light-mode `GetObject`/`AskObject` and `Ping` over TCP on
/// `addr` until killed, in either dialect (each link in its own; only
/// `only`'s if given): a few serving threads per link, one thread per
/// link accepted.
fn listen(addr: &str, only: Option<neonet::Dialect>) -> Result<(), String> {
    let l = neonet::LinkListener::bind(addr).map_err(|e| e.to_string())?;
    eprintln!("neonet-rtt: listening on {}", l.local_addr());
    loop {
        let link = std::sync::Arc::new(l.accept().map_err(|e| e.to_string())?);
        let dialect = link.dialect();
        if only.is_some_and(|d| d != dialect) {
            eprintln!(
                "neonet-rtt: link from {} speaks {dialect}: closed",
                link.addrs().peer
            );
            continue;
        }
        eprintln!("neonet-rtt: link from {} ({dialect})", link.addrs().peer);
        for _ in 0..2 {
            let link = link.clone();
            std::thread::spawn(move || cases::serve_light_any(&link));
        }
    }
}

/// Asks an object `n` times over a link dialed to `addr` in `dialect`
/// (`GetObject`, or `AskObject` for NEO/py), checking every answer, and
/// prints µs per round trip.
fn connect(addr: &str, dialect: neonet::Dialect, n: u64) -> Result<(), String> {
    let link = neonet::dial_link_with(addr, dialect).map_err(|e| e.to_string())?;
    // Warm up the link and both ends' caches.
    let warm = n.min(1000);
    for i in 0..warm {
        cases::ask_object_any(&link, i).map_err(|e| e.to_string())?;
    }
    let start = Instant::now();
    for i in warm..warm + n {
        cases::ask_object_any(&link, i).map_err(|e| e.to_string())?;
    }
    let t = start.elapsed();
    let what = match dialect {
        neonet::Dialect::Proto6 => "GetObject",
        neonet::Dialect::NeoPy => "AskObject (NEO/py)",
    };
    println!(
        "{n} ask1 {what} round trips to {addr}: {:.2} µs per round trip",
        t.as_secs_f64() * 1e6 / n as f64
    );
    Ok(())
}

/// Measures rates, interleaved like `measure`: `ask1` from 1 and 8 threads
/// over one link (TCP and socketpair), and a 16 MiB object over a TCP link
/// and over raw TCP.
fn throughput(quick: bool) -> Result<(), String> {
    const BULK: usize = 16 << 20;
    // Long enough (~0.2 s) that starting and joining the 8 threads, and
    // the last ones finishing alone, weigh little.
    const ASKS: usize = 20_000;
    let e = |e: neonet::Error| e.to_string();
    let rounds = if quick { 3 } else { 7 };
    let mut parallel = Vec::new();
    for tcp in [true, false] {
        for threads in [1, 8] {
            parallel.push(cases::Parallel::new(threads, tcp).map_err(e)?);
        }
    }
    let mut bulk_link = cases::BulkLink::tcp(BULK).map_err(e)?;
    let mut bulk_raw = cases::BulkRaw::tcp(BULK).map_err(|x| x.to_string())?;
    let mut rate = vec![Vec::new(); parallel.len() + 2];
    let per_s = |n: usize, t: Duration| n as f64 / t.as_secs_f64();
    for round in 0..rounds {
        for (i, p) in parallel.iter_mut().enumerate() {
            rate[i].push(per_s(ASKS, p.run(ASKS)));
        }
        let mib = (1 << 20) as f64;
        rate[4].push(per_s(8 * BULK, bulk_link.run(8)) / mib);
        rate[5].push(per_s(8 * BULK, bulk_raw.run(8)) / mib);
        eprint!("\rround {}/{rounds}", round + 1);
    }
    eprintln!();
    let m: Vec<f64> = rate.iter_mut().map(|r| median(r)).collect();
    for (i, net) in ["tcp", "unix"].iter().enumerate() {
        let (one, eight) = (m[2 * i], m[2 * i + 1]);
        let name = format!("parallel_{net}_ask1");
        println!("{name:<18} 1 thread   {one:>10.0} req/s");
        println!(
            "{name:<18} 8 threads  {eight:>10.0} req/s   ({:.2} x 1 thread)",
            eight / one
        );
    }
    println!("bulk_link_tcp 16 MiB          {:>10.0} MiB/s", m[4]);
    println!(
        "bulk_raw_tcp 16 MiB           {:>10.0} MiB/s   (link = {:.0}% of raw)",
        m[5],
        100.0 * m[4] / m[5]
    );
    Ok(())
}
