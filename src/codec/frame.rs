//! What a dialect's framer and handshake check report: where a packet
//! ends ([`Framed`]), and why the bytes are not a packet or a handshake
//! of the dialect (the link maps these to its errors).

use super::Hex;
use crate::packet::Head;
#[cfg(feature = "neopy")]
use crate::packet::MAX_PACKET_SIZE;

/// What the framer found at the start of the bytes read so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framed {
    /// A whole packet of `len` bytes.
    Whole {
        /// Its length.
        len: usize,
        /// Its id, code and where its payload starts.
        head: Head,
    },
    /// The packet is at least this long (more than what was given): exact
    /// once its last length was seen, so a large packet can be read
    /// straight into a buffer of its own.
    Need(usize),
}

/// Why the bytes read are no packet of the link's dialect: the stream
/// cannot be resynchronised, so the link goes down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// The packet is larger than
    /// [`MAX_PACKET_SIZE`](crate::packet::MAX_PACKET_SIZE) (at least
    /// `size` bytes, as its head announces).
    TooBig {
        /// The least size the packet would have.
        size: u64,
    },
    /// Malformed msgpack, or a head that is not `[msg_id, code, args]`.
    #[cfg(feature = "neopy")]
    Malformed(FramingError),
}

/// Why a peer's handshake is not ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeMismatch {
    /// A handshake of the dialect in another protocol version.
    #[error("protocol version mismatch: peer = {peer} ; our side = {ours}")]
    VersionMismatch {
        /// The peer's version (protocol 6's version word, NEO/py's 6th
        /// byte).
        peer: u32,
        /// Ours.
        ours: u32,
    },
    /// Not a NEO handshake at all.
    #[error("not a NEO stream: got {}", Hex(.got))]
    NotNeo {
        /// What came: the peer's first bytes, at most 6.
        got: Vec<u8>,
    },
}

#[cfg(feature = "neopy")]
/// How deep arrays and maps may nest in a packet, the packet's own array
/// and its `args` included.
///
/// NEO/py's deepest packets nest 5 levels (`NotifyNodeInformation`:
/// packet, args, node list, node, address), and its free-form values
/// (`any`) a few more; 32 leaves room and bounds the work and stack of
/// everything that walks a packet.
pub const MAX_DEPTH: usize = 32;

#[cfg(feature = "neopy")]
/// Why a byte stream is not a sequence of NEO/py packets. Each of these
/// takes the link down: the stream cannot be resynchronised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    /// The packet is larger than [`MAX_PACKET_SIZE`], as its lengths and
    /// counts announce (before those bytes arrive).
    #[error("packet too big: at least {size} bytes > max {MAX_PACKET_SIZE}")]
    TooBig {
        /// The least size the packet would have.
        size: u64,
    },
    /// The packet does not start with an array of 3 elements.
    #[error(
        "not a packet: msgpack marker {marker:#04x} where an array [msg_id, code, args] must start"
    )]
    NotAPacket {
        /// The byte that came.
        marker: u8,
    },
    /// `msg_id` is not an integer that fits a u32, or `code` one that fits
    /// a u16.
    #[error("bad packet head: {field} is not a {ty} (msgpack at byte {offset})")]
    BadHead {
        /// `"msg_id"` or `"code"`.
        field: &'static str,
        /// The type it must fit, `"u32"` or `"u16"`.
        ty: &'static str,
        /// Where it starts in the packet.
        offset: usize,
    },
    /// `args` is not an array.
    #[error("bad packet: args is msgpack marker {marker:#04x}, not an array")]
    ArgsNotArray {
        /// The byte that came.
        marker: u8,
    },
    /// The byte `0xc1`, which msgpack reserves and never uses.
    #[error("malformed msgpack: reserved byte 0xc1 at byte {offset}")]
    Reserved {
        /// Where it is in the packet.
        offset: usize,
    },
    /// Arrays and maps nested deeper than [`MAX_DEPTH`].
    #[error("malformed packet: nested deeper than {MAX_DEPTH} at byte {offset}")]
    TooDeep {
        /// Where the container that is too deep starts.
        offset: usize,
    },
}
