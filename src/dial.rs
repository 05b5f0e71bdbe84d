//! Dialing: [`Dialer`], the one way to connect to a node, with options.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::addr::{Addr, ToLinkAddrs};
use crate::codec::Dialect;
use crate::error::{Error, ErrorKind, Op, Result};
use crate::handshake::{connect, Connected, HandshakeStream};
use crate::link::{LinkRole, NodeLink};
use crate::proto::Proto6;
#[cfg(feature = "tls")]
use crate::tls::{TlsConfig, TlsStream};

/// How long a [`Dialer`] waits by default for the connection, TLS and
/// the peer's handshake, together.
pub(crate) const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to a node and handshakes as client: TCP (TCP_NODELAY on) or a
/// Unix socket, TLS if configured, in the dialect `D` (protocol 6 by
/// default), all within one time limit.
///
/// ```
/// use std::time::Duration;
/// use neonet::{Dialer, LinkListener, NeoPy};
///
/// let listener = LinkListener::bind("127.0.0.1:0")?;
/// // Protocol 6, as NEO/go speaks it.
/// let go = Dialer::new(listener.local_addr()).dial()?;
/// // NEO/py's dialect, with a shorter time limit.
/// let py = Dialer::new(listener.local_addr())
///     .dialect::<NeoPy>()
///     .timeout(Duration::from_secs(2))
///     .dial()?;
/// # let _ = (go, py);
/// # Ok::<(), neonet::Error>(())
/// ```
///
/// `addr` is anything std resolves to TCP addresses, or an [`Addr`] such
/// as a listener's [`local_addr`](crate::LinkListener::local_addr), TCP
/// or Unix. The addresses are tried in turn; the error of the last one is
/// reported. A `Dialer` can dial again (each `dial` is a new link).
pub struct Dialer<D: Dialect = Proto6> {
    addrs: std::result::Result<Vec<Addr>, Arc<io::Error>>,
    timeout: Duration,
    #[cfg(feature = "tls")]
    tls: Option<TlsConfig>,
    dialect: PhantomData<D>,
}

impl Dialer<Proto6> {
    /// A dialer of `addr`, speaking protocol 6, without TLS, waiting at
    /// most 10 s.
    pub fn new(addr: impl ToLinkAddrs) -> Dialer<Proto6> {
        Dialer {
            addrs: addr.to_link_addrs().map_err(Arc::new),
            timeout: DEFAULT_DIAL_TIMEOUT,
            #[cfg(feature = "tls")]
            tls: None,
            dialect: PhantomData,
        }
    }
}

impl<D: Dialect> Dialer<D> {
    /// Speak dialect `E` instead: `.dialect::<NeoPy>()` to talk to a NEO/py
    /// node.
    pub fn dialect<E: Dialect>(self) -> Dialer<E> {
        Dialer {
            addrs: self.addrs,
            timeout: self.timeout,
            #[cfg(feature = "tls")]
            tls: self.tls,
            dialect: PhantomData,
        }
    }

    /// Bounds the connection (per address tried), the TLS handshake and
    /// NEO's handshake, together. A dial that takes longer fails with an
    /// error whose [`is_timeout`](crate::Error::is_timeout) is true.
    pub fn timeout(mut self, timeout: Duration) -> Dialer<D> {
        self.timeout = timeout;
        self
    }

    /// Runs TLS (mutual, with the cluster's CA: see [`TlsConfig`]) before
    /// NEO's handshake, which then travels inside.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, config: &TlsConfig) -> Dialer<D> {
        self.tls = Some(config.clone());
        self
    }

    /// Connects and handshakes: the link, or why not.
    pub fn dial(&self) -> Result<NodeLink<D>> {
        let addrs = self.addrs.as_ref().map_err(|e| {
            let kind = ErrorKind::Io(e.clone());
            Error::at(Addr::Unknown, Addr::Unknown, Op::Dial, kind)
        })?;
        let deadline = Instant::now() + self.timeout;
        match connect(addrs, self.timeout)? {
            Connected::Tcp(s) => self.handshake(s, deadline),
            Connected::Unix(s) => self.handshake(s, deadline),
        }
    }

    /// TLS if configured, then NEO's handshake, by `deadline`.
    fn handshake<S: HandshakeStream + crate::tls::TlsSocket>(
        &self,
        sock: S,
        deadline: Instant,
    ) -> Result<NodeLink<D>> {
        let left = || Some(deadline.saturating_duration_since(Instant::now()));
        #[cfg(feature = "tls")]
        if let Some(config) = &self.tls {
            let tls = TlsStream::connect(sock, config, left())?;
            return NodeLink::handshake(tls, LinkRole::Client, left())
                .map_err(crate::tls::tls_cause);
        }
        NodeLink::handshake(sock, LinkRole::Client, left())
    }
}

impl<D: Dialect> fmt::Debug for Dialer<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Dialer");
        d.field("addrs", &self.addrs)
            .field("dialect", &D::NAME)
            .field("timeout", &self.timeout);
        #[cfg(feature = "tls")]
        d.field("tls", &self.tls.is_some());
        d.finish()
    }
}
