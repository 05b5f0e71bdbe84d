//! The neonet-rtt binary as a user runs it: `--help` on stdout, argument
//! errors with exit code 2, `--json` in every mode (every row of the
//! table, the rates, a client's result), and a server and a client over
//! TLS in both dialects (certificates made here, passed as PEM files).

mod tls_support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

const RTT: &str = env!("CARGO_BIN_EXE_neonet-rtt");

fn run(args: &[&str]) -> Output {
    Command::new(RTT)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run neonet-rtt")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The JSON object a run printed on stdout, after checking it succeeded.
#[track_caller]
fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("not JSON ({e}): {}", text(&out.stdout));
    })
}

/// The keys of a JSON object, in order, each with a positive number.
#[track_caller]
fn positive_numbers(v: &Value) -> Vec<String> {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"));
    for (k, x) in obj {
        assert!(x.as_f64().is_some_and(|x| x > 0.0), "{k}: {x}");
    }
    obj.keys().cloned().collect()
}

#[test]
fn help_goes_to_stdout_and_exits_0() {
    for flag in ["--help", "-h"] {
        let out = run(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let help = text(&out.stdout);
        assert!(help.starts_with("usage: neonet-rtt"), "{help}");
        for option in ["--json", "--throughput", "--ca", "-n N", "-v"] {
            assert!(help.contains(option), "{flag}: {option} not in {help}");
        }
        assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    }
}

#[test]
fn argument_errors_exit_2_and_say_why() {
    let cases: [(&[&str], &str); 4] = [
        (&["-n", "0"], "-n: at least 1 round trip, not 0"),
        (
            &["--connect", "127.0.0.1:1", "-n", "many"],
            "-n: not a number",
        ),
        (&["--dialect", "go"], "--dialect: proto6 or neopy, not go"),
        (
            &["--listen", "127.0.0.1:0", "--ca", "ca.crt"],
            "--ca, --cert and --key go together",
        ),
    ];
    for (args, why) in cases {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(why), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn quick_json_has_every_row_and_the_ratios() {
    let v = json_of(&run(&["--quick", "--json"]));
    let rows = positive_numbers(&v["us"]);
    let want = [
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
    let mut sorted = rows.clone();
    sorted.sort();
    let mut want_sorted = want.to_vec();
    want_sorted.sort();
    assert_eq!(sorted, want_sorted);
    let ratios = positive_numbers(&v["ratios"]);
    assert!(ratios.contains(&"link_tcp_ask1_tls / link_tcp_ask1".to_string()));
    // Each ratio is the quotient of its rows.
    for r in ratios {
        let (a, b) = r.split_once(" / ").unwrap();
        let q = v["us"][a].as_f64().unwrap() / v["us"][b].as_f64().unwrap();
        let got = v["ratios"][&r].as_f64().unwrap();
        assert!((got - q).abs() <= 0.001 * q.max(1.0), "{r}: {got} vs {q}");
    }
}

#[test]
fn throughput_json_has_the_rates() {
    let v = json_of(&run(&["--throughput", "--quick", "--json"]));
    assert_eq!(
        positive_numbers(&v["req_per_s"]),
        [
            "parallel_tcp_ask1_1_thread",
            "parallel_tcp_ask1_8_threads",
            "parallel_unix_ask1_1_thread",
            "parallel_unix_ask1_8_threads"
        ]
    );
    assert_eq!(
        positive_numbers(&v["mib_per_s"]),
        ["bulk_link_tcp", "bulk_raw_tcp"]
    );
}

/// PEM files of a CA and a node it signs, in a directory of their own
/// (removed on drop).
struct Pems(PathBuf);

impl Pems {
    fn new() -> Pems {
        let dir = std::env::temp_dir().join(format!("neonet-rtt-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = tls_support::Ca::new("neonet-rtt test CA");
        let node = ca.node();
        std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
        std::fs::write(dir.join("node.crt"), &node.cert).unwrap();
        std::fs::write(dir.join("node.key"), &node.key).unwrap();
        Pems(dir)
    }

    /// `--ca F --cert F --key F`.
    fn args(&self) -> Vec<String> {
        let f = |name: &str| self.0.join(name).to_str().unwrap().to_owned();
        [
            "--ca",
            &f("ca.crt"),
            "--cert",
            &f("node.crt"),
            "--key",
            &f("node.key"),
        ]
        .map(String::from)
        .to_vec()
    }
}

impl Drop for Pems {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `--listen` server on a free port: the process, and the address it
/// says it listens on. Killed on drop.
struct Server(Child, String);

impl Server {
    fn start(extra: &[String]) -> Server {
        let mut child = Command::new(RTT)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start neonet-rtt --listen");
        let mut first = String::new();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        stderr.read_line(&mut first).unwrap();
        // The rest is read and dropped: a server whose stderr is closed
        // would fail to print its next line.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        let addr = first
            .strip_prefix("neonet-rtt: listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_owned();
        Server(child, addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn connect_json_to_a_tls_server_in_both_dialects() {
    let pems = Pems::new();
    let server = Server::start(&pems.args());
    for dialect in ["proto6", "neopy"] {
        let mut args = vec![
            "--connect",
            &server.1,
            "--dialect",
            dialect,
            "-n",
            "50",
            "--json",
        ];
        let tls = pems.args();
        args.extend(tls.iter().map(String::as_str));
        let v = json_of(&run(&args));
        assert_eq!(v["dialect"], dialect);
        assert_eq!(v["tls"], true);
        assert_eq!(v["n"].as_f64(), Some(50.0));
        assert_eq!(v["addr"], server.1.as_str());
        assert!(
            v["us_per_round_trip"].as_f64().is_some_and(|x| x > 0.0),
            "{v}"
        );
    }
    // A plain client is refused by the TLS server.
    let out = run(&["--connect", &server.1, "-n", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("handshake"),
        "{}",
        text(&out.stderr)
    );
}
