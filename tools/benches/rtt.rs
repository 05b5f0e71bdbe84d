//! The layered RTT suite (ARCHITECTURE.md, "Tests and measurements"): each group adds one layer to the
//! previous, so the cost of a layer shows by subtraction:
//! `chan` (thread hand-off) → `raw` (sockets, then plus a reader thread)
//! → `link` (neonet) → `parallel` and `bulk` (throughput).
//!
//! `cargo bench --bench rtt -- --quick` runs every group briefly.

use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};

#[allow(dead_code)]
#[path = "../src/bin/neonet-rtt/cases.rs"]
mod cases;

use cases::Case;

/// Runs a case under criterion: each sample is `iters` round trips.
fn bench_case(c: &mut Criterion, group: &str, name: &str, mut case: impl Case) {
    let mut g = c.benchmark_group(group);
    g.bench_function(name, |b| b.iter_custom(|iters| case.run(iters as usize)));
    g.finish();
}

/// Ping-pong between two threads over a pair of channels.
fn chan_pingpong(c: &mut Criterion, name: &str, make: fn() -> (Sender<u64>, Receiver<u64>)) {
    let (to_tx, to_rx) = make();
    let (back_tx, back_rx) = make();
    let echo = thread::spawn(move || {
        while let Ok(v) = to_rx.recv() {
            if back_tx.send(v).is_err() {
                break;
            }
        }
    });
    c.benchmark_group("chan").bench_function(name, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                to_tx.send(i).unwrap();
                back_rx.recv().unwrap();
            }
            start.elapsed()
        })
    });
    drop(to_tx);
    echo.join().unwrap();
}

/// The hand-off of a new connection: the item goes through an accept
/// queue, then its first packet through the connection's own queue.
fn chan_accept_handoff(c: &mut Criterion) {
    type Accepted = (Receiver<u64>, u64);
    let (acc_tx, acc_rx) = unbounded::<Accepted>();
    let (back_tx, back_rx) = unbounded::<u64>();
    let server = thread::spawn(move || {
        while let Ok((rx, _)) = acc_rx.recv() {
            let Ok(v) = rx.recv() else { break };
            if back_tx.send(v).is_err() {
                break;
            }
        }
    });
    c.benchmark_group("chan")
        .bench_function("accept+recv queues", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters {
                    let (tx, rx) = unbounded();
                    tx.send(i).unwrap();
                    acc_tx.send((rx, i)).unwrap();
                    back_rx.recv().unwrap();
                }
                start.elapsed()
            })
        });
    drop(acc_tx);
    server.join().unwrap();
}

fn chan(c: &mut Criterion) {
    chan_pingpong(c, "bounded(0)", || bounded(0));
    chan_pingpong(c, "bounded(1)", || bounded(1));
    chan_accept_handoff(c);
}

fn raw(c: &mut Criterion) {
    for spin in [false, true] {
        let sfx = if spin { "spin" } else { "block" };
        bench_case(
            c,
            "raw",
            &format!("unix/{sfx}"),
            cases::raw_unix(spin).unwrap(),
        );
        bench_case(
            c,
            "raw",
            &format!("tcp/{sfx}"),
            cases::raw_tcp(spin).unwrap(),
        );
        // Three threads on two cores: poll yielding, as a link does.
        let spin_for = if spin {
            cases::Wait::SpinYield(cases::RAW_SPIN)
        } else {
            cases::Wait::Block
        };
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let name = format!("unix+reader/{sfx}");
        bench_case(c, "raw", &name, cases::RawWithReader::new(a, b, spin_for));
        let (a, b) = cases::tcp_pair().unwrap();
        let name = format!("tcp+reader/{sfx}");
        bench_case(c, "raw", &name, cases::RawWithReader::new(a, b, spin_for));
    }
    // Four threads, as in a link round trip, polling as a link does: the
    // floor of `link` below.
    bench_case(
        c,
        "raw",
        "unix+readers/link-wait",
        cases::model_unix().unwrap(),
    );
    bench_case(
        c,
        "raw",
        "tcp+readers/link-wait",
        cases::model_tcp().unwrap(),
    );
}

fn link(c: &mut Criterion) {
    use cases::{serve_echo, serve_pong, LinkPair, OneConn};
    let pkt = |pair: neonet::Result<LinkPair>| OneConn::echo(pair.unwrap()).unwrap();
    let pong = |pair: neonet::Result<LinkPair>| OneConn::ping_pong(pair.unwrap()).unwrap();
    bench_case(c, "link", "unix/pkt", pkt(LinkPair::unix(1, serve_echo)));
    bench_case(c, "link", "tcp/pkt", pkt(LinkPair::tcp(1, serve_echo)));
    bench_case(
        c,
        "link",
        "unix/ping-pong",
        pong(LinkPair::unix(1, serve_pong)),
    );
    bench_case(
        c,
        "link",
        "tcp/ping-pong",
        pong(LinkPair::tcp(1, serve_pong)),
    );
    bench_case(c, "link", "unix/ask1", cases::Ask1::unix().unwrap());
    bench_case(c, "link", "tcp/ask1", cases::Ask1::tcp().unwrap());
    // The same over a NEO/py (msgpack) link: the dialect's own cost.
    bench_case(
        c,
        "link",
        "tcp/ask1_msgpack",
        cases::Ask1::tcp_msgpack().unwrap(),
    );
}

fn parallel(c: &mut Criterion) {
    let mut g = c.benchmark_group("parallel");
    g.throughput(Throughput::Elements(1));
    for tcp in [false, true] {
        for threads in [1, 2, 4, 8] {
            let mut case = cases::Parallel::new(threads, tcp).unwrap();
            let id = BenchmarkId::new(if tcp { "tcp/ask1" } else { "unix/ask1" }, threads);
            g.bench_function(id, |b| b.iter_custom(|iters| case.run(iters as usize)));
        }
    }
    g.finish();
}

fn bulk(c: &mut Criterion) {
    let mut g = c.benchmark_group("bulk");
    g.sample_size(10);
    for size in [64 << 10, 1 << 20, 16 << 20] {
        g.throughput(Throughput::Bytes(size as u64));
        let mut link = cases::BulkLink::tcp(size).unwrap();
        g.bench_function(BenchmarkId::new("link_tcp", size), |b| {
            b.iter_custom(|iters| link.run(iters as usize))
        });
        let mut raw = cases::BulkRaw::tcp(size).unwrap();
        g.bench_function(BenchmarkId::new("raw_tcp", size), |b| {
            b.iter_custom(|iters| raw.run(iters as usize))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500));
    targets = chan, raw, link, parallel, bulk
}
criterion_main!(benches);
