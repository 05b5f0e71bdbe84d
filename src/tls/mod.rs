//! TLS links, as NEO/py runs them (ARCHITECTURE.md, "TLS").
//!
//! TLS wraps the stream *before* NEO's handshake, which travels inside.
//! Both ends present a certificate signed by the cluster's CA and verify
//! the peer's chain against it (mutual TLS); host names are not checked.
//! TLS 1.3 and 1.2 are offered; NEO/py on Python 3.11 speaks 1.2 only
//! (ECDHE-ECDSA- or ECDHE-RSA-AES256-GCM-SHA384), and
//! [`TlsVersions::Tls12Only`] restricts a node to it.
//!
//! A TLS link is an ordinary [`NodeLink`](crate::NodeLink) over a
//! [`TlsStream`]: one TLS session shared by the link's reader thread,
//! which decrypts, and its senders, which encrypt. Neither waits for the
//! other longer than one record (see `stream.rs` and ARCHITECTURE.md,
//! "TLS").
//!
//! Both dialects run inside TLS: a [`Dialer`](crate::Dialer) with
//! [`tls`](crate::Dialer::tls) picks one ([`dialect`](crate::Dialer::dialect)), and
//! the accepting side ([`accept_link_tls`], a
//! [`LinkListener`](crate::LinkListener) with
//! [`ListenerOptions::tls`](crate::ListenerOptions::tls) or
//! [`bind_tls`](crate::LinkListener::bind_tls)) tells them apart by the
//! first byte of the plaintext, as it does on a plain socket.
//!
//! ```no_run
//! use std::net::TcpListener;
//! use neonet::tls::{accept_link_tls, TlsConfig};
//! use neonet::Dialer;
//!
//! let tls = TlsConfig::from_pem_files("ca.crt", "node.crt", "node.key")?;
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! let server = std::thread::spawn({
//!     let tls = tls.clone();
//!     move || accept_link_tls(listener.accept()?.0, &tls, None).map_err(std::io::Error::other)
//! });
//! let client = Dialer::new(addr).tls(&tls).dial()?;
//! let server = server.join().unwrap()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod dial;
mod error;
mod handshake;
mod names;
pub(crate) mod socket;
mod stream;

pub use config::{TlsConfig, TlsVersions};
pub(crate) use dial::{accept_any, tls_cause};
pub use dial::{accept_link_tls, sniff, StreamStart, TLS_HANDSHAKE_BYTE};
pub use error::TlsError;
pub use names::{CipherSuite, TlsAlert, TlsVersion};
pub use socket::TlsSocket;
pub use stream::TlsStream;
