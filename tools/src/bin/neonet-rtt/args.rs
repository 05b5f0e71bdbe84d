//! neonet-rtt's command line: what to run, and the checks that turn a
//! command that makes no sense into an argument error (exit code 2)
//! instead of a surprising run.

use neonet::Dialects;

/// The usage text (`--help` prints it on stdout).
pub const USAGE: &str = "\
usage: neonet-rtt [--quick] [--json] [-v]
       neonet-rtt --throughput [--quick] [--json] [-v]
       neonet-rtt --listen ADDR [--dialect D] [TLS] [-v]
       neonet-rtt --connect ADDR [--dialect D] [TLS] [-n N] [--json] [-v]

Measures round trips over raw sockets and over neonet links in one run
(µs per round trip, median over rounds, with ratios), or rates with
--throughput; --listen serves GetObject/AskObject/Ping until killed and
--connect asks against such a server.

  --quick          a short run
  --json           the results as one JSON object on stdout
  --dialect D      proto6 (protocol 6, GetObject) or neopy (NEO/py's msgpack
                   dialect, AskObject); --listen serves both unless told one
  TLS              --ca CA.crt --cert NODE.crt --key NODE.key (PEM, as NEO's
                   options): TLS links, either dialect inside
  -n N             round trips for --connect (at least 1; default 10000)
  -v, -vv          log what the links do (info, debug; RUST_LOG overrides)
  -h, --help       this text";

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Measure the round-trip table in this process.
    Table,
    /// Measure rates in this process.
    Throughput,
    /// Serve on this address until killed.
    Listen(String),
    /// Ask against a server at this address.
    Connect(String),
}

/// `--dialect`: a link's dialect is its type (`NodeLink<Proto6>`,
/// `NodeLink<NeoPy>`), so the command line names one with a value of its
/// own, and the binary picks the type from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DialectArg {
    /// `proto6`: protocol 6 (NEO/go), `GetObject`.
    #[default]
    Proto6,
    /// `neopy`: NEO/py's msgpack dialect, `AskObject`.
    NeoPy,
}

impl DialectArg {
    /// The name `--dialect` takes (and `--json` prints).
    pub fn name(self) -> &'static str {
        match self {
            DialectArg::Proto6 => "proto6",
            DialectArg::NeoPy => "neopy",
        }
    }

    /// The listener's dialects when `--listen` is told this one only.
    pub fn only(self) -> Dialects {
        match self {
            DialectArg::Proto6 => Dialects::Proto6,
            DialectArg::NeoPy => Dialects::NeoPy,
        }
    }
}

/// The PEM files of `--ca --cert --key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: String,
    pub cert: String,
    pub key: String,
}

/// A command line that makes sense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub mode: Mode,
    pub quick: bool,
    pub json: bool,
    /// 0: no logging; 1: info; 2: debug.
    pub verbose: u8,
    /// `--dialect`: the one to dial, or the only one to serve.
    pub dialect: Option<DialectArg>,
    /// Round trips of `--connect`.
    pub n: u64,
    pub tls: Option<TlsFiles>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Run(Options),
    Help,
}

/// The options given, before the checks.
#[derive(Default)]
struct Given {
    quick: bool,
    json: bool,
    throughput: bool,
    verbose: u8,
    listen: Option<String>,
    connect: Option<String>,
    dialect: Option<DialectArg>,
    n: Option<u64>,
    ca: Option<String>,
    cert: Option<String>,
    key: Option<String>,
}

/// Parses the arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut g = Given::default();
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        let mut value = |what: &str| args.next().ok_or(format!("{a} needs {what}"));
        match a.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--quick" => g.quick = true,
            "--json" => g.json = true,
            "--throughput" => g.throughput = true,
            "-v" => g.verbose += 1,
            "-vv" => g.verbose += 2,
            "--listen" => g.listen = Some(value("ADDR")?),
            "--connect" => g.connect = Some(value("ADDR")?),
            "--dialect" => g.dialect = Some(dialect(&value("proto6 or neopy")?)?),
            "-n" => g.n = Some(count(&value("a number")?)?),
            "--ca" => g.ca = Some(value("a PEM file")?),
            "--cert" => g.cert = Some(value("a PEM file")?),
            "--key" => g.key = Some(value("a PEM file")?),
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    g.check().map(Command::Run)
}

fn dialect(d: &str) -> Result<DialectArg, String> {
    match d {
        "proto6" => Ok(DialectArg::Proto6),
        "neopy" => Ok(DialectArg::NeoPy),
        _ => Err(format!("--dialect: proto6 or neopy, not {d}")),
    }
}

fn count(v: &str) -> Result<u64, String> {
    match v.parse() {
        Ok(0) => Err("-n: at least 1 round trip, not 0".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("-n: not a number of round trips: {v}")),
    }
}

impl Given {
    /// The options, if they make sense together.
    fn check(self) -> Result<Options, String> {
        let mode = match (self.throughput, self.listen, self.connect) {
            (false, None, None) => Mode::Table,
            (true, None, None) => Mode::Throughput,
            (false, Some(addr), None) => Mode::Listen(addr),
            (false, None, Some(addr)) => Mode::Connect(addr),
            _ => return Err("one of --throughput, --listen, --connect at most".into()),
        };
        let serving = matches!(mode, Mode::Listen(_) | Mode::Connect(_));
        let only = |given: bool, what: &str, modes: &str| match given {
            true => Err(format!("{what} goes with {modes} only")),
            false => Ok(()),
        };
        only(
            self.dialect.is_some() && !serving,
            "--dialect",
            "--listen, --connect",
        )?;
        only(
            self.n.is_some() && !matches!(mode, Mode::Connect(_)),
            "-n",
            "--connect",
        )?;
        only(self.quick && serving, "--quick", "the measuring modes")?;
        only(
            self.json && matches!(mode, Mode::Listen(_)),
            "--json",
            "the measuring modes and --connect",
        )?;
        let tls = match (self.ca, self.cert, self.key) {
            (None, None, None) => None,
            (Some(ca), Some(cert), Some(key)) => Some(TlsFiles { ca, cert, key }),
            _ => return Err("--ca, --cert and --key go together".into()),
        };
        only(
            tls.is_some() && !serving,
            "--ca/--cert/--key",
            "--listen, --connect",
        )?;
        Ok(Options {
            mode,
            quick: self.quick,
            json: self.json,
            verbose: self.verbose,
            dialect: self.dialect,
            n: self.n.unwrap_or(10_000),
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options, String> {
        match parse(args.iter().map(|a| a.to_string()))? {
            Command::Run(o) => Ok(o),
            Command::Help => Err("help".into()),
        }
    }

    #[test]
    fn modes_and_their_options() {
        let o = run(&["--quick", "--json", "-v"]).unwrap();
        assert_eq!(
            (o.mode, o.quick, o.json, o.verbose),
            (Mode::Table, true, true, 1)
        );
        let o = run(&["--throughput", "--json", "-vv"]).unwrap();
        assert_eq!((o.mode, o.json, o.verbose), (Mode::Throughput, true, 2));
        let o = run(&["--connect", "h:1", "-n", "5", "--dialect", "neopy"]).unwrap();
        assert_eq!(o.mode, Mode::Connect("h:1".into()));
        assert_eq!((o.n, o.dialect, o.tls), (5, Some(DialectArg::NeoPy), None));
        let o = run(&["--listen", "h:1", "--ca", "a", "--cert", "b", "--key", "c"]).unwrap();
        let files = TlsFiles {
            ca: "a".into(),
            cert: "b".into(),
            key: "c".into(),
        };
        assert_eq!((o.mode, o.tls), (Mode::Listen("h:1".into()), Some(files)));
        assert_eq!(parse(["--json".into(), "-h".into()]), Ok(Command::Help));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let cases: [(&[&str], &str); 11] = [
            (&["-n", "0"], "-n: at least 1 round trip, not 0"),
            (&["--connect", "h:1", "-n", "x"], "-n: not a number"),
            (&["--connect", "h:1", "-n"], "-n needs a number"),
            (&["-n", "3"], "-n goes with --connect only"),
            (&["--dialect", "go"], "--dialect: proto6 or neopy, not go"),
            (&["--dialect", "neopy"], "--dialect goes with --listen"),
            (&["--listen", "a", "--connect", "b"], "one of --throughput"),
            (&["--listen", "a", "--json"], "--json goes with"),
            (&["--connect", "a", "--quick"], "--quick goes with"),
            (
                &["--connect", "a", "--ca", "x"],
                "--ca, --cert and --key go together",
            ),
            (&["--bogus"], "unknown argument --bogus"),
        ];
        for (args, want) in cases {
            let e = run(args).unwrap_err();
            assert!(e.starts_with(want), "{args:?}: {e}");
        }
    }
}
