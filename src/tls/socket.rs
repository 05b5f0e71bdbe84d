//! What TLS needs from the socket under it beyond [`LinkStream`]: a
//! descriptor to wait on for room to write as well as for data.

use std::os::fd::AsFd;

use crate::handshake::HandshakeStream;
#[cfg(doc)]
use crate::stream::LinkStream;

/// A socket a [`TlsStream`](super::TlsStream) can run over: a
/// [`HandshakeStream`] with a descriptor to wait on (`TcpStream`,
/// `UnixStream`).
pub trait TlsSocket: HandshakeStream + AsFd {}

impl<T: HandshakeStream + AsFd> TlsSocket for T {}
