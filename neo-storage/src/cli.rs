//! The command line, as NEO/py's `neostorage`'s.

use std::path::PathBuf;

/// The usage text.
pub const USAGE: &str =
    "usage: neo-storage -c NAME -b HOST:PORT -m HOST:PORT[,HOST:PORT...] -d DATABASE \
[--ca CA --cert CERT --key KEY] [-v]

A NEO storage node in a NEO/py cluster, on NEO/py's SQLite database
(schema version 4; a missing or empty file is a new node's).

  -c, --cluster NAME      the cluster name (must match the database's)
  -b, --bind HOST:PORT    the address to listen on for clients
  -m, --masters ADDRS     the masters, separated by commas or spaces
  -d, --database PATH     NEO/py's SQLite database (created if missing)
      --ca, --cert, --key TLS: the cluster's CA, this node's certificate and key
  -v, --verbose           log debug messages (RUST_LOG overrides)
  -h, --help              this text";

/// The options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Args {
    /// `-c`.
    pub cluster: String,
    /// `-b`.
    pub bind: String,
    /// `-m`, split.
    pub masters: Vec<String>,
    /// `-d`.
    pub database: PathBuf,
    /// `--ca --cert --key`, all three or none.
    pub tls: Option<(PathBuf, PathBuf, PathBuf)>,
    /// `-v`.
    pub verbose: bool,
}

/// What the command line asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the node.
    Run(Args),
    /// Print the usage.
    Help,
}

/// A command-line error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// An option this command does not have.
    #[error("unknown option {0}")]
    Unknown(String),
    /// An option without its value.
    #[error("{0} needs a value")]
    NoValue(String),
    /// A required option is missing.
    #[error("{0} is required")]
    Missing(&'static str),
    /// Some of --ca --cert --key, not all.
    #[error("TLS needs all of --ca, --cert and --key")]
    PartialTls,
    /// An address that is not HOST:PORT.
    #[error("bad address {0:?}: HOST:PORT expected")]
    BadAddress(String),
}

/// Parses the arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, ArgError> {
    let mut a = Args::default();
    let (mut ca, mut cert, mut key) = (None, None, None);
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| ArgError::NoValue(name.clone()))
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-v" | "--verbose" => a.verbose = true,
            "-c" | "--cluster" => a.cluster = value()?,
            "-b" | "--bind" => a.bind = value()?,
            "-m" | "--masters" => a.masters = split_masters(&value()?),
            "-d" | "--database" => a.database = value()?.into(),
            "--ca" => ca = Some(PathBuf::from(value()?)),
            "--cert" => cert = Some(PathBuf::from(value()?)),
            "--key" => key = Some(PathBuf::from(value()?)),
            _ => return Err(ArgError::Unknown(arg)),
        }
    }
    a.tls = match (ca, cert, key) {
        (Some(ca), Some(cert), Some(key)) => Some((ca, cert, key)),
        (None, None, None) => None,
        _ => return Err(ArgError::PartialTls),
    };
    check(&a)?;
    Ok(Command::Run(a))
}

fn split_masters(v: &str) -> Vec<String> {
    v.split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn check(a: &Args) -> Result<(), ArgError> {
    if a.cluster.is_empty() {
        return Err(ArgError::Missing("-c/--cluster"));
    }
    if a.bind.is_empty() {
        return Err(ArgError::Missing("-b/--bind"));
    }
    if a.masters.is_empty() {
        return Err(ArgError::Missing("-m/--masters"));
    }
    if a.database.as_os_str().is_empty() {
        return Err(ArgError::Missing("-d/--database"));
    }
    for addr in std::iter::once(&a.bind).chain(&a.masters) {
        let port = addr.rsplit_once(':').map(|(_, p)| p.parse::<u16>());
        if !matches!(port, Some(Ok(_))) {
            return Err(ArgError::BadAddress(addr.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn long_short_and_inline_forms() {
        let Ok(Command::Run(a)) = parse(args("--cluster=test -b 127.0.0.1:0 -m a:1,b:2 -d db -v"))
        else {
            panic!()
        };
        assert_eq!(
            (a.cluster.as_str(), a.bind.as_str(), a.verbose),
            ("test", "127.0.0.1:0", true)
        );
        assert_eq!(a.masters, vec!["a:1", "b:2"]);
        assert_eq!(a.database, PathBuf::from("db"));
        let Ok(Command::Run(a)) = parse(args(
            "-c t -b h:1 --masters=a:1 -d x --ca ca --cert c --key k",
        )) else {
            panic!()
        };
        assert_eq!(a.tls, Some(("ca".into(), "c".into(), "k".into())));
    }

    #[test]
    fn masters_separated_by_spaces_as_neopy() {
        assert_eq!(split_masters("a:1 b:2,, c:3"), vec!["a:1", "b:2", "c:3"]);
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse(args("-c t -b h:1 -d x")),
            Err(ArgError::Missing("-m/--masters"))
        );
        assert_eq!(
            parse(args("-b h:1 -m a:1 -d x")),
            Err(ArgError::Missing("-c/--cluster"))
        );
        assert_eq!(
            parse(args("-c t -m a:1 -d x")),
            Err(ArgError::Missing("-b/--bind"))
        );
        assert_eq!(
            parse(args("-c t -b h:1 -m a:x -d x")),
            Err(ArgError::BadAddress("a:x".into()))
        );
        assert_eq!(
            parse(args("-c t -b h:1 -m a:1 -d x --key k")),
            Err(ArgError::PartialTls)
        );
        assert_eq!(parse(args("-h")), Ok(Command::Help));
    }
}
