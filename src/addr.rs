//! Addresses of a link's ends: a TCP socket address or a Unix socket path,
//! and what `Dialer::new` accepts.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

/// The address of one end of a link.
///
/// ```
/// use neonet::Addr;
/// let tcp: Addr = "127.0.0.1:5551".parse::<std::net::SocketAddr>().unwrap().into();
/// assert_eq!(tcp.to_string(), "127.0.0.1:5551");
/// let unix = Addr::from(std::path::Path::new("/run/neo.sock"));
/// assert_eq!(unix.to_string(), "/run/neo.sock");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Addr {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix socket: its path, or `None` for an unnamed one (the dialing
    /// end, a socketpair).
    Unix(Option<PathBuf>),
    /// Not known (a stream of the application's that does not say).
    Unknown,
}

impl Addr {
    /// The TCP address, if this is one.
    pub fn as_tcp(&self) -> Option<SocketAddr> {
        match self {
            Addr::Tcp(a) => Some(*a),
            _ => None,
        }
    }

    /// The Unix socket path, if this is a named Unix socket.
    pub fn as_unix_path(&self) -> Option<&Path> {
        match self {
            Addr::Unix(Some(p)) => Some(p),
            _ => None,
        }
    }

    /// From the address std gives for a TCP socket.
    pub(crate) fn from_tcp(a: io::Result<SocketAddr>) -> Addr {
        a.map_or(Addr::Unknown, Addr::Tcp)
    }

    /// From the address std gives for a Unix socket.
    pub(crate) fn from_unix(a: io::Result<std::os::unix::net::SocketAddr>) -> Addr {
        match a {
            Ok(a) => Addr::Unix(a.as_pathname().map(Path::to_path_buf)),
            Err(_) => Addr::Unknown,
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Tcp(a) => a.fmt(f),
            Addr::Unix(Some(p)) => p.display().fmt(f),
            Addr::Unix(None) => f.write_str("unix:@"),
            Addr::Unknown => f.write_str("?"),
        }
    }
}

impl From<SocketAddr> for Addr {
    fn from(a: SocketAddr) -> Addr {
        Addr::Tcp(a)
    }
}

impl From<&Path> for Addr {
    fn from(p: &Path) -> Addr {
        Addr::Unix(Some(p.to_path_buf()))
    }
}

impl From<&PathBuf> for Addr {
    fn from(p: &PathBuf) -> Addr {
        Addr::Unix(Some(p.clone()))
    }
}

impl From<PathBuf> for Addr {
    fn from(p: PathBuf) -> Addr {
        Addr::Unix(Some(p))
    }
}

/// What [`Dialer::new`](crate::Dialer::new) can dial: anything std resolves to
/// TCP addresses (`"host:port"`, `(host, port)`, a `SocketAddr`, ...), or
/// an [`Addr`] — such as a listener's
/// [`local_addr`](crate::LinkListener::local_addr), TCP or Unix.
pub trait ToLinkAddrs {
    /// The addresses to try, in order.
    fn to_link_addrs(&self) -> io::Result<Vec<Addr>>;
}

impl<T: ToSocketAddrs + ?Sized> ToLinkAddrs for T {
    fn to_link_addrs(&self) -> io::Result<Vec<Addr>> {
        Ok(self.to_socket_addrs()?.map(Addr::Tcp).collect())
    }
}

impl ToLinkAddrs for Addr {
    fn to_link_addrs(&self) -> io::Result<Vec<Addr>> {
        match self {
            Addr::Tcp(_) | Addr::Unix(Some(_)) => Ok(vec![self.clone()]),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot dial the address {self}"),
            )),
        }
    }
}

impl ToLinkAddrs for &Addr {
    fn to_link_addrs(&self) -> io::Result<Vec<Addr>> {
        (*self).to_link_addrs()
    }
}
