//! neo-cat: reads objects from a NEO/py cluster and writes their records
//! to stdout.
//!
//! ```text
//! cargo run --release --bin neo-cat -- --master HOST:PORT --cluster NAME \
//!     [--ca CA.crt --cert NODE.crt --key NODE.key] [--hex | --sha1] OID...
//! ```
//!
//! It connects to the master as a NEO/py client would (the `neopy`
//! module docs), reads each object at the last transaction from a
//! storage holding it, checks the checksum, decompresses, and writes the
//! raw record (`--hex`: in hex, one line per object; `--sha1`: one line
//! `OID LEN SHA1` per object, the oid in decimal, the length and SHA-1 of
//! the record). With `--ca --cert --key` (PEM files, as NEO's own
//! options), it speaks TLS to the master and the storages.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use neonet::tls::TlsConfig;
use neonet_tools::cat::{read_objects, sha1, Cluster};

const USAGE: &str = "usage: neo-cat --master HOST:PORT --cluster NAME \
[--ca CA.crt --cert NODE.crt --key NODE.key] [--hex | --sha1] OID...";

/// How the records are written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    Raw,
    Hex,
    Sha1,
}

struct Args {
    cluster: Cluster,
    output: Output,
    oids: Vec<u64>,
}

fn parse_args() -> Result<Args, String> {
    let (mut master, mut name, mut output, mut oids) = (None, None, Output::Raw, Vec::new());
    let (mut ca, mut cert, mut key) = (None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--master" => master = Some(args.next().ok_or("--master needs HOST:PORT")?),
            "--cluster" => name = Some(args.next().ok_or("--cluster needs NAME")?),
            "--ca" => ca = Some(args.next().ok_or("--ca needs a PEM file")?),
            "--cert" => cert = Some(args.next().ok_or("--cert needs a PEM file")?),
            "--key" => key = Some(args.next().ok_or("--key needs a PEM file")?),
            "--hex" => output = Output::Hex,
            "--sha1" => output = Output::Sha1,
            "-h" | "--help" => return Err(USAGE.into()),
            oid => oids.push(parse_oid(oid)?),
        }
    }
    let cluster = Cluster {
        master: master.ok_or(USAGE)?,
        name: name.ok_or(USAGE)?,
        timeout: Duration::from_secs(30),
        tls: tls_config(ca, cert, key)?,
    };
    if oids.is_empty() {
        return Err(USAGE.into());
    }
    Ok(Args {
        cluster,
        output,
        oids,
    })
}

/// The TLS configuration from `--ca --cert --key`: all three, or none
/// (plain).
fn tls_config(
    ca: Option<String>,
    cert: Option<String>,
    key: Option<String>,
) -> Result<Option<TlsConfig>, String> {
    match (ca, cert, key) {
        (None, None, None) => Ok(None),
        (Some(ca), Some(cert), Some(key)) => TlsConfig::from_pem_files(ca, cert, key)
            .map(Some)
            .map_err(|e| e.to_string()),
        _ => Err(format!("--ca, --cert and --key go together\n{USAGE}")),
    }
}

/// An oid in decimal, or in hex with `0x`.
fn parse_oid(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("not an oid: {s}\n{USAGE}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let objects = match read_objects(&args.cluster, &args.oids) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("neo-cat: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    for o in &objects {
        let written = match args.output {
            Output::Raw => out.write_all(&o.record),
            Output::Hex => writeln!(out, "{}", hex(&o.record)),
            Output::Sha1 => writeln!(
                out,
                "{} {} {}",
                o.oid,
                o.record.len(),
                hex(&sha1(&o.record))
            ),
        };
        if let Err(e) = written {
            eprintln!("neo-cat: stdout: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
