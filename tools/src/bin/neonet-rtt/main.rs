//! neonet-rtt: measures round trips over raw sockets and over neonet links
//! side by side, in one run, and prints µs per round trip with link/raw
//! ratios (ARCHITECTURE.md, "Tests and measurements"); `--help` tells
//! the modes (rates, a server, a client of it).

mod args;
// Shared with benches/rtt.rs, which uses the cases this binary does not.
#[allow(dead_code)]
mod cases;
mod certs;
mod json;

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use args::{Command, DialectArg, Mode, Options, TlsFiles};
use cases::{AskObjects, Case};
use json::{num, obj};
use neonet::tls::TlsConfig;
use neonet::{AnyLink, Dialer, NeoPy, NodeLink};

/// The measured rows, in table order (`--json`: the same, by name).
const ROWS: [&str; 13] = [
    "raw_tcp",
    "raw_tcp_spin",
    "raw_unix",
    "raw_unix_spin",
    "link_tcp_ask1",
    "link_tcp_ask1_tls",
    "link_tcp_ask1_msgpack",
    "link_unix_ask1",
    "link_tcp_conn",
    "link_unix_conn",
    "link_tcp_pkt",
    "model_tcp",
    "model_unix",
];

/// Ratios printed under the table: (row, baseline).
const RATIOS: [(&str, &str); 12] = [
    ("link_tcp_ask1", "raw_tcp_spin"),
    ("link_tcp_ask1_tls", "link_tcp_ask1"),
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

fn make_case(name: &str, tls: &TlsConfig) -> Result<Box<dyn Case>, String> {
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
        "link_tcp_ask1_tls" => Box::new(cases::Ask1::tcp_tls(tls).map_err(|x| e(&x))?),
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

fn main() -> ExitCode {
    let opts = match args::parse(std::env::args().skip(1)) {
        Ok(Command::Run(o)) => o,
        Ok(Command::Help) => {
            // Nothing to do if nobody reads it (`| head`).
            let _ = writeln!(std::io::stdout(), "{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("neonet-rtt: {e}\n(neonet-rtt --help tells the options)");
            return ExitCode::from(2);
        }
    };
    if opts.verbose > 0 {
        let level = if opts.verbose > 1 { "debug" } else { "info" };
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level)).init();
    }
    let res = match &opts.mode {
        Mode::Table => measure(&opts),
        Mode::Throughput => throughput(&opts),
        Mode::Listen(addr) => listen(addr, &opts),
        Mode::Connect(addr) => connect(addr, &opts),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("neonet-rtt: {e}");
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, each once (an `Error`'s text does not repeat
/// its source).
fn why(e: impl std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
}

/// The TLS configuration of `--ca --cert --key`, if given.
fn tls_config(files: &Option<TlsFiles>) -> Result<Option<TlsConfig>, String> {
    files
        .as_ref()
        .map(|f| TlsConfig::from_pem_files(&f.ca, &f.cert, &f.key).map_err(why))
        .transpose()
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
    let tls = certs::loopback()?;
    let mut cases = ROWS
        .iter()
        .map(|n| make_case(n, &tls))
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
    let get = |name: &str| medians[ROWS.iter().position(|n| *n == name).expect("row")];
    if opts.json {
        let rows = ROWS.iter().map(|r| (*r, num(get(r))));
        let ratios = RATIOS
            .iter()
            .map(|(r, b)| (format!("{r} / {b}"), num(get(r) / get(b))));
        println!("{}", obj([("us", obj(rows)), ("ratios", obj(ratios))]));
        return Ok(());
    }
    println!(
        "{:<22} {:>10} {:>10} {:>10}",
        "round trip", "µs (med)", "min", "max"
    );
    for (i, n) in ROWS.iter().enumerate() {
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

/// Serves light-mode `GetObject`/`AskObject` and `Ping` on `addr` until
/// killed, in either dialect (each link in its own; only `--dialect`'s if
/// given), over TLS if configured: a few serving threads per link, one
/// thread per link accepted.
fn listen(addr: &str, opts: &Options) -> Result<(), String> {
    let tls = tls_config(&opts.tls)?;
    let with_tls = tls.is_some();
    let l = neonet::LinkListener::bind_with(
        addr,
        neonet::ListenerOptions {
            tls,
            // A client of the other dialect fails its handshake (the
            // listener logs it: `-v`).
            dialects: opts.dialect.map_or(Default::default(), DialectArg::only),
            ..Default::default()
        },
    )
    .map_err(why)?;
    let how = if with_tls { " (TLS)" } else { "" };
    eprintln!("neonet-rtt: listening on {}{how}", l.local_addr());
    loop {
        match l.accept().map_err(why)? {
            AnyLink::Proto6(link) => serve(link),
            AnyLink::NeoPy(link) => serve(link),
        }
    }
}

/// Serves `link` from two threads, until it goes down.
fn serve<D: AskObjects>(link: NodeLink<D>) {
    eprintln!("neonet-rtt: link from {} ({})", link.addrs().peer, D::NAME);
    let link = std::sync::Arc::new(link);
    for _ in 0..2 {
        let link = link.clone();
        std::thread::spawn(move || D::serve(&link));
    }
}

/// Asks an object `-n` times over a link dialed to `addr` in the dialect
/// (`GetObject`, or `AskObject` for NEO/py), over TLS if configured,
/// checking every answer, and prints µs per round trip.
fn connect(addr: &str, opts: &Options) -> Result<(), String> {
    let (dialect, n) = (opts.dialect.unwrap_or_default(), opts.n);
    let tls = tls_config(&opts.tls)?;
    let us = match dialect {
        DialectArg::Proto6 => ask_objects(Dialer::new(addr), tls.as_ref(), n)?,
        DialectArg::NeoPy => {
            let dialer = Dialer::new(addr).dialect::<NeoPy>();
            ask_objects(dialer, tls.as_ref(), n)?
        }
    };
    let (what, name) = match dialect {
        DialectArg::Proto6 => ("GetObject", dialect.name()),
        DialectArg::NeoPy => ("AskObject (NEO/py)", dialect.name()),
    };
    if opts.json {
        let fields = [
            ("addr", json::str(addr)),
            ("dialect", json::str(name)),
            ("tls", json::bool(tls.is_some())),
            ("n", num(n as f64)),
            ("us_per_round_trip", num(us)),
        ];
        println!("{}", obj(fields));
        return Ok(());
    }
    let over = if tls.is_some() { " over TLS" } else { "" };
    println!("{n} ask1 {what} round trips to {addr}{over}: {us:.2} µs per round trip");
    Ok(())
}

/// Dials with `dialer` (over TLS if `tls`), asks an object `n` times
/// after a warm-up, checking every answer: µs per round trip.
fn ask_objects<D: AskObjects>(
    dialer: Dialer<D>,
    tls: Option<&TlsConfig>,
    n: u64,
) -> Result<f64, String> {
    let dialer = match tls {
        Some(tls) => dialer.tls(tls),
        None => dialer,
    };
    let link = dialer.dial().map_err(why)?;
    // Warm up the link and both ends' caches.
    let warm = n.min(1000);
    for i in 0..warm {
        D::ask_object(&link, i).map_err(why)?;
    }
    let start = Instant::now();
    for i in warm..warm + n {
        D::ask_object(&link, i).map_err(why)?;
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / n as f64)
}

/// Measures rates, interleaved like `measure`: `ask1` from 1 and 8 threads
/// over one link (TCP and socketpair), and a 16 MiB object over a TCP link
/// and over raw TCP.
fn throughput(opts: &Options) -> Result<(), String> {
    const BULK: usize = 16 << 20;
    // Long enough (~0.2 s) that starting and joining the 8 threads, and
    // the last ones finishing alone, weigh little.
    const ASKS: usize = 20_000;
    let e = why;
    let rounds = if opts.quick { 3 } else { 7 };
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
    if opts.json {
        let req = [
            ("parallel_tcp_ask1_1_thread", num(m[0])),
            ("parallel_tcp_ask1_8_threads", num(m[1])),
            ("parallel_unix_ask1_1_thread", num(m[2])),
            ("parallel_unix_ask1_8_threads", num(m[3])),
        ];
        let mib = [("bulk_link_tcp", num(m[4])), ("bulk_raw_tcp", num(m[5]))];
        println!(
            "{}",
            obj([("req_per_s", obj(req)), ("mib_per_s", obj(mib))])
        );
        return Ok(());
    }
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
