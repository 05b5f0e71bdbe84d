//! The handshake of the msgpack dialect (ARCHITECTURE.md, "Messages"), as pure functions.
//!
//! Each side sends the 6 bytes `92 a3 4e 45 4f 05` — msgpack of
//! `["NEO", 5]` — as soon as the stream is up, without waiting for the
//! peer's, then reads the peer's 6 bytes. The first 5 bytes equal and the
//! 6th different is a version mismatch; anything else is not NEO. NEO/py
//! sends no error packet in either case: it closes the stream.
//!
//! [`check_handshake`] classifies what the peer sent so far; the I/O (and
//! the timeout) is the caller's.

pub use crate::codec::HandshakeMismatch;

/// NEO/py's protocol version, the 6th byte of the handshake.
pub const PROTOCOL_VERSION: u8 = 5;

/// The handshake, msgpack of `["NEO", PROTOCOL_VERSION]`.
pub const HANDSHAKE: [u8; 6] = [0x92, 0xa3, b'N', b'E', b'O', PROTOCOL_VERSION];

/// The first byte of this dialect's handshake (a msgpack array of 2),
/// which tells it apart from protocol 6's version word (first byte 0x00)
/// on a listener that serves both.
pub const HANDSHAKE_FIRST_BYTE: u8 = HANDSHAKE[0];

/// How far a peer's handshake is, when nothing is wrong with it yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum HandshakeProgress {
    /// All 6 bytes came and they are ours: the link speaks this dialect.
    Done,
    /// What came so far is the start of our handshake; `missing` more
    /// bytes are needed. (At end of stream, the peer hung up mid-handshake.)
    Incomplete {
        /// Bytes still to read.
        missing: usize,
    },
}

/// Classify the bytes a peer sent first (`got`: as many as arrived, of
/// which only the first 6 are the handshake).
///
/// A mismatch is reported as soon as the bytes show it, so a listener can
/// drop an HTTP client after its first byte without waiting for six.
///
/// ```
/// use neonet::neopy::{check_handshake, HandshakeMismatch, HandshakeProgress, HANDSHAKE};
///
/// assert_eq!(check_handshake(&HANDSHAKE), Ok(HandshakeProgress::Done));
/// assert_eq!(
///     check_handshake(&HANDSHAKE[..3]),
///     Ok(HandshakeProgress::Incomplete { missing: 3 })
/// );
/// let err = check_handshake(b"\x92\xa3NEO\x04").unwrap_err();
/// assert_eq!(err, HandshakeMismatch::VersionMismatch { peer: 4, ours: 5 });
/// assert_eq!(err.to_string(), "protocol version mismatch: peer = 4 ; our side = 5");
/// ```
pub fn check_handshake(got: &[u8]) -> Result<HandshakeProgress, HandshakeMismatch> {
    let got = &got[..got.len().min(HANDSHAKE.len())];
    let magic = HANDSHAKE.len() - 1;
    let common = got.len().min(magic);
    if got[..common] != HANDSHAKE[..common] {
        return Err(HandshakeMismatch::NotNeo { got: got.to_vec() });
    }
    match got.get(magic) {
        None => Ok(HandshakeProgress::Incomplete {
            missing: HANDSHAKE.len() - got.len(),
        }),
        Some(&PROTOCOL_VERSION) => Ok(HandshakeProgress::Done),
        Some(&peer) => Err(HandshakeMismatch::VersionMismatch {
            peer: u32::from(peer),
            ours: u32::from(PROTOCOL_VERSION),
        }),
    }
}
