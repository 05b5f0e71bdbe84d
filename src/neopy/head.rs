//! The head of a NEO/py packet: `[msg_id, code, ` before the arguments.
//!
//! There is no fixed-size header: a packet is the msgpack array
//! `[msg_id, code, args]`, and its first two elements are integers in
//! their smallest form, so the head takes 3 to 9 bytes. The
//! [`Scanner`](super::Scanner) reads it while finding where the packet
//! ends, and returns it as a [`PacketHead`].

use super::codec::{sint_len, Encoder};
use crate::packet::ANSWER_BIT;

/// The head of a complete packet, as the [`Scanner`](super::Scanner) found
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketHead {
    /// The packet's id: the sender's own counter for requests and
    /// notifications, the request's id for answers (ARCHITECTURE.md, "Messages").
    pub msg_id: u32,
    /// The message code; `ANSWER_BIT` (0x8000) is set on answers and on
    /// `Error`.
    pub code: u16,
    /// Where the `args` array starts in the packet: what
    /// [`Msg::decode_shared`](super::Msg::decode_shared) takes as `offset`.
    pub args_offset: usize,
    /// The packet's length in bytes.
    pub len: usize,
}

impl PacketHead {
    /// Whether the packet answers one of our requests (its code has
    /// `ANSWER_BIT`: an answer or `Error`); otherwise it is a request or a
    /// notification from the peer.
    pub fn is_answer(&self) -> bool {
        self.code & ANSWER_BIT != 0
    }
}

/// Size of the head of a packet with this id and code: where its `args`
/// start.
pub fn head_len(msg_id: u32, code: u16) -> usize {
    1 + sint_len(i64::from(msg_id)) + sint_len(i64::from(code))
}

/// Append the head of a packet, `[msg_id, code, ` (`93 <msg_id> <code>`),
/// integers in their smallest form as NEO/py writes them; the `args`
/// array must follow.
///
/// ```
/// let mut buf = Vec::new();
/// neonet::neopy::encode_head(&mut buf, 1, 0x803c);
/// assert_eq!(buf, [0x93, 0x01, 0xcd, 0x80, 0x3c]);
/// ```
pub fn encode_head(buf: &mut Vec<u8>, msg_id: u32, code: u16) {
    let mut e = Encoder::new(buf);
    e.array(3);
    e.uint(u64::from(msg_id));
    e.uint(u64::from(code));
}
