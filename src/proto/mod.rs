//! NEO protocol messages and their binary "N" encoding (DESIGN §7).
//!
//! # What a message is
//!
//! A message is what one packet carries: a 16-bit *code* in the packet
//! header tells which message it is (bit `0x8000`, `ANSWER_BIT`, is set on
//! answers, and a request and its answer share the low bits), and the
//! payload is the message's fields, one after the other, in the binary N
//! encoding: fixed-width big-endian integers, strings and byte blobs as a
//! u32 length then the bytes, lists as a u32 count then the items, bool as
//! one byte. The header itself (connection id, code, length) is framing and
//! is handled by the packet layer, not here.
//!
//! Every message type implements [`Msg`] (its code, name, encoded length,
//! encoding and decoding), and [`Message`] is the enum of all of them, for a
//! receiver that does not know in advance what will come.
//!
//! # Guarantees
//!
//! - `encode_into` appends exactly `encoded_len()` bytes, straight into the
//!   caller's buffer (no intermediate copies of large fields).
//! - Decoding never panics and never allocates more than the input can hold:
//!   lengths and counts are checked against the remaining bytes first.
//! - Decoding is strict — the whole payload must be consumed, bools must be
//!   0 or 1, strings UTF-8 — so a payload that decodes re-encodes to exactly
//!   the same bytes.
//!
//! # Adding a message
//!
//! Add an entry to the `messages!` table in `messages.rs`:
//!
//! ```text
//! /// Ask for the last transaction id.
//! LastTransaction = 0x0013 => {}
//! /// Answer to [`LastTransaction`].
//! AnswerLastTransaction = 0x8013 => {
//!     /// The last committed transaction.
//!     tid: Tid,
//! }
//! ```
//!
//! That generates the struct, its [`Msg`] impl, the [`Message`] variant and
//! the dispatch by code. Field types must implement [`codec::Field`]; the
//! integers, `bool`, `String`, `Vec<T>` (a list; `Vec<u8>` is a byte blob),
//! tuples (for list items that are small records) and the types of this
//! module already do. A new composite field type implements `Field` by
//! encoding its parts in order (see [`Address`]).

pub mod codec;
mod messages;
mod types;

pub use codec::DecodeError;
pub use messages::{
    message_name, AcceptIdentification, AnswerObject, CloseClient, Error, GetObject, Message, Ping,
    Pong, RequestIdentification, MESSAGE_CODES,
};
pub use types::{Address, Checksum, ErrorCode, IdTime, NodeType, NodeUUID};

/// Object id.
pub type Oid = u64;

/// Transaction id.
pub type Tid = u64;

/// "No transaction" (e.g. `GetObject::at` when not given).
pub const INVALID_TID: Tid = u64::MAX;

/// "No object".
pub const INVALID_OID: Oid = u64::MAX;

/// A NEO message type.
///
/// Implemented by the `messages!` table (see the module documentation), not
/// by hand.
pub trait Msg: Sized + std::fmt::Debug + Clone + PartialEq + Send + 'static {
    /// Message code; `ANSWER_BIT` (0x8000) is set on answers.
    const CODE: u16;

    /// Message name, e.g. `"GetObject"`.
    const NAME: &'static str;

    /// Payload length in bytes.
    fn encoded_len(&self) -> usize;

    /// Append the payload (no header) to `buf`: exactly `encoded_len()` bytes.
    fn encode_into(&self, buf: &mut Vec<u8>);

    /// Decode a payload. The whole payload must be consumed: trailing bytes
    /// are an error.
    fn decode(payload: &[u8]) -> Result<Self, DecodeError>;

    /// Wrap into the enum of all messages.
    fn into_message(self) -> Message;

    /// Unwrap from the enum of all messages; `Err(m)` if `m` is another
    /// message.
    fn from_message(m: Message) -> Result<Self, Message>;
}

/// Appends the whole packet of `msg` on connection `conn_id` (header, then
/// payload) to `buf`: the message is encoded straight into the buffer that
/// is written, so a large field is copied once.
///
/// # Panics
/// If the packet would exceed `MAX_PACKET_SIZE`; check
/// [`packet_size`] first where the message size is not bounded.
pub fn encode_packet<M: Msg>(buf: &mut Vec<u8>, conn_id: u32, msg: &M) {
    let len = msg.encoded_len();
    assert!(
        packet_size(msg) <= crate::packet::MAX_PACKET_SIZE as u64,
        "{} of {len} bytes exceeds MAX_PACKET_SIZE",
        M::NAME
    );
    let hdr = crate::packet::Header {
        conn_id,
        msg_code: M::CODE,
        msg_len: len as u32,
    };
    buf.reserve(crate::packet::HEADER_SIZE + len);
    buf.extend_from_slice(&hdr.encode());
    msg.encode_into(buf);
}

/// Size of the packet carrying `msg`, header included.
pub fn packet_size<M: Msg>(msg: &M) -> u64 {
    (crate::packet::HEADER_SIZE + msg.encoded_len()) as u64
}
