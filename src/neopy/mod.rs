//! The dialect of today's NEO/py: protocol version 5 over msgpack
//! (ARCHITECTURE.md, "Messages").
//!
//! NEO as deployed is NEO/py, which since 2018 frames and encodes its
//! packets with msgpack. This module is that dialect's wire layer, pure
//! (no I/O), next to protocol 6's [`proto`](crate::proto):
//!
//! - **Handshake** ([`check_handshake`], [`HANDSHAKE`]): each side sends
//!   `92 a3 4e 45 4f 05`, msgpack of `["NEO", 5]`.
//! - **Framing** ([`Scanner`]): a packet is the msgpack array
//!   `[msg_id, code, args]` with no length prefix; the scanner finds where
//!   it ends by walking its structure, resumably across reads, refusing
//!   packets over 64 MiB before they arrive. It returns the packet's
//!   [`PacketHead`] (`msg_id`, `code`, where `args` start).
//! - **Messages** ([`Msg`], [`Message`], the 111 structs): NEO/py's own
//!   packets with its names, each request paired with its answer
//!   ([`Ask`]). Encoding is byte-identical to NEO/py's; decoding accepts
//!   any msgpack form of the same values (see `codec.rs`).
//! - **Free-form values** ([`Value`], read with [`Value::view`]): NEO's
//!   `any` (`RequestIdentification.extra`,
//!   `NotifyMonitorInformation.info`), kept as checked msgpack bytes.
//! - **Cluster helpers** ([`PartitionTable`], [`NodeTable`]): what a client
//!   learns from the master, and which storage to ask for an object.
//!
//! ```
//! use std::sync::Arc;
//! use neonet::neopy::{self, AskObject, Message, Msg, Scan, Scanner};
//!
//! // A client asks for object 1, last revision before tid 0x100.
//! let ask = AskObject { oid: 1, at: None, before: Some(0x100) };
//! let mut packet = Vec::new();
//! neopy::encode_packet(&mut packet, 7, &ask);
//!
//! // The receiving side finds the packet's end, then decodes by code.
//! let Ok(Scan::Complete(head)) = Scanner::new().scan(&packet) else { panic!() };
//! assert_eq!((head.len, head.msg_id, head.code), (packet.len(), 7, AskObject::CODE));
//! let buf = Arc::new(packet);
//! let msg = Message::decode_shared(head.code, &buf, head.args_offset).unwrap();
//! assert_eq!(msg, Message::AskObject(ask));
//! ```
//!
//! # Ids and answers
//!
//! Each side numbers the packets it *sends* (requests and notifications)
//! with its own counter, from 0, +1 each (mod 2^32); an answer, `Error`
//! included, carries the id of the request it answers, and its code has
//! `ANSWER_BIT` ([`PacketHead::is_answer`]). So a packet with the answer
//! bit belongs to an exchange this side started (route it by id to the
//! waiting `ask`); any other is a new request or notification from the
//! peer. There are no multi-packet conversations: only the lightweight
//! operations of light mode make sense on such a link. [`decode_answer`]
//! turns the answer packet of a request into its typed answer.
//!
//! # Writing and reading packets (for the link)
//!
//! - Send: [`encode_packet`] (all copied into one buffer) or
//!   [`encode_packet_parts`] (object data of at least
//!   [`BIG_FIELD`](crate::proto::BIG_FIELD) bytes borrowed, for one
//!   vectored write with [`proto::packet_io_slices`](crate::proto::packet_io_slices)).
//!   Check [`packet_size`] against `MAX_PACKET_SIZE` first where a message
//!   is not bounded.
//! - Receive: feed the read-ahead bytes to a [`Scanner`] until
//!   [`Scan::Complete`] (on [`Scan::Incomplete`], `need` is the least size
//!   of the packet: allocate it once and read into it). Hand the packet
//!   over as an `Arc<Vec<u8>>` with its [`PacketHead`]; the receiver
//!   decodes with [`Message::decode_shared`]`(head.code, &buf,
//!   head.args_offset)` or [`decode_answer`], and large object data stay
//!   windows into that buffer.
//!
//! # Allocation bound of decoding
//!
//! One bound for both dialects, enforced by the same code: decoding the
//! arguments of a packet, `n` bytes, allocates **at most
//! [`DECODE_GROWTH`] × `n` + [`DECODE_ALLOWANCE`] bytes (4 × n + 1 MiB)**,
//! as protocol 6's decoder does for its payloads. Decoding never panics and
//! checks before it allocates: every count against the remaining bytes at
//! the least encoded size of an item (a forged length fails before the copy
//! it announces), and every allocation against the payload's budget. Arguments
//! whose value would take more are refused with
//! [`DecodeErrorKind::TooMuchMemory`], naming the message and the field
//! (`decode RequestIdentification (0x0001): field extra: needs … more
//! bytes of memory, over the decode budget …`); a request `recv1_as`
//! cannot decode is answered `Error(PROTOCOL_ERROR)` with that text.
//!
//! Free-form values (`any`) are [`Value`]s: their checked msgpack bytes,
//! which cost their encoded size, so `[nil × n]` in
//! `RequestIdentification.extra` takes `n` bytes (as a tree of enums it
//! took 40 per nil, 2.5 GiB for a 64 MiB packet). What the budget refuses
//! is made of items tiny on the wire and large in memory — a `nil` in a
//! list of `Option<String>` (24 bytes for 1), an empty row of a partition
//! table (24 for 1), an empty address (32 for 4), the B-tree nodes of a map
//! of small or repeated keys (up to 110 bytes per entry of 2) — once the
//! allowance no longer covers them. Real messages stay far below 4 × (the
//! most is a list of 1-byte integers, 4 bytes each). Object data decoded
//! by `decode_shared` cost nothing (a window into the packet); copied, they
//! cost their size. Measured by a counting allocator on the worst shapes of
//! both dialects, from bytes to 64 MiB, and under proptest, also with the
//! allowance at 0 so that an uncharged allocation shows on small inputs
//! (`tests/decode_alloc.rs`, `tests/decode_alloc_link.rs`).
//!
//! # What a NEO/py client does (from `trace.tsv`)
//!
//! Reading objects, a fresh ZODB client performs exactly this:
//!
//! 1. Connects to the master; both sides send the handshake at once.
//! 2. Sends `RequestIdentification(CLIENT, uuid: None, address: None,
//!    name: <cluster>, id_timestamp: None, extra: {})` (msg_id 0).
//! 3. Receives `AcceptIdentification(MASTER, <master's id>, your_uuid)`
//!    (answering id 0) — `your_uuid` is the client's id from now on —
//!    then, unasked, the master's own packets numbered from 0:
//!    `NotifyNodeInformation` (all nodes: the storages with their
//!    addresses, states and ids) and `SendPartitionTable` (`ptid`,
//!    `num_replicas`, one row of cells per partition).
//!    [`NodeTable::update`] and [`PartitionTable::from`] take them.
//! 4. Sends `AskLastTransaction` (msg_id 1) → `AnswerLastTransaction(ltid)`,
//!    then `Ping` (msg_id 2) → `Pong`.
//! 5. For each storage it needs (here the one storage, of id 1): connects,
//!    handshakes, sends `RequestIdentification(CLIENT, uuid: your_uuid,
//!    address: None, name, id_timestamp: <as the master gave it in the
//!    node list>, extra: {})` (msg_id 0) → `AcceptIdentification(STORAGE,
//!    1, your_uuid)`.
//! 6. For each oid: `AskObject(oid, at: None, before: ltid + 1)` (msg_id
//!    1, 2, …) to a storage holding a readable cell of the oid's partition
//!    ([`PartitionTable::readable_cells`], [`NodeTable::storages_for`]) →
//!    `AnswerObject(oid, serial, next_serial: None, compression, checksum,
//!    data, data_serial: None)`, where `checksum` is the SHA-1 of `data`
//!    as sent and `compression` 1 means zlib.
//!
//! After that the master keeps the client informed with
//! `NotifyNodeInformation`, `NotifyPartitionChanges`
//! ([`PartitionTable::apply`]) and `InvalidateObjects`.

mod cluster;
mod codec;
mod framing;
pub(crate) mod handshake;
mod head;
mod messages;
mod types;
mod value;

use std::sync::Arc;

pub use cluster::{partition_of, NodeTable, PartitionChangeError, PartitionTable};
pub use framing::{FramingError, Scan, Scanner, MAX_DEPTH};
pub use handshake::{
    check_handshake, HandshakeMismatch, HandshakeProgress, HANDSHAKE, HANDSHAKE_FIRST_BYTE,
    PROTOCOL_VERSION,
};
pub use head::{encode_head, head_len, PacketHead};
pub use messages::*;
pub use types::{
    Address, CellChange, CellInfo, CellState, CheckSource, ClusterState, HistoryEntry, NodeId,
    NodeInfo, NodeState, NodeType, ObjectData, PackInfo, PackOrder, PackRequest, RelockConflict,
    UndoSerial, ERROR_CODES_EXT,
};
pub use value::{ArrayIter, MapIter, Value, ValueRef};

pub use crate::codec::{
    encode_packet, encode_packet_parts, packet_size, Answer, AnswerError, Ask, Msg, Payload,
};
pub use crate::proto::{
    Checksum, Data, DecodeError, DecodeErrorKind, ErrorCode, DECODE_ALLOWANCE, DECODE_GROWTH,
};

/// Object id (on the wire: `p64`, an 8-byte `bin`).
pub type Oid = u64;

/// Transaction id (on the wire: `p64`, an 8-byte `bin`).
pub type Tid = u64;

/// Decode the answer packet of request `R`: `code` and `offset` from its
/// [`PacketHead`], `buf` the packet. The answer message (or `()` for an
/// `Error` with code `ACK`, for the requests answered that way); another
/// `Error` is [`AnswerError::Peer`], another message
/// [`AnswerError::Unexpected`].
///
/// ```
/// use std::sync::Arc;
/// use neonet::neopy::{self, AnswerError, AskLastTransaction, Error, ErrorCode, Scan, Scanner, Truncate};
///
/// let packet = |code, args: &dyn Fn(&mut Vec<u8>)| {
///     let mut buf = Vec::new();
///     neopy::encode_head(&mut buf, 3, code);
///     args(&mut buf);
///     let Ok(Scan::Complete(head)) = Scanner::new().scan(&buf) else { panic!() };
///     (head, Arc::new(buf))
/// };
/// let ack = Error { code: ErrorCode::ACK, message: String::new() };
/// let (head, buf) = packet(0x8000, &|b| neopy::Msg::encode_into(&ack, b));
/// assert_eq!(neopy::decode_answer::<Truncate>(head.code, &buf, head.args_offset), Ok(()));
/// let got = neopy::decode_answer::<AskLastTransaction>(head.code, &buf, head.args_offset);
/// assert_eq!(got, Err(AnswerError::Peer { code: ack.code, message: ack.message }));
/// ```
pub fn decode_answer<R: Ask>(
    code: u16,
    buf: &Arc<Vec<u8>>,
    offset: usize,
) -> Result<R::Answer, AnswerError> {
    R::Answer::from_answer(code, Payload::Shared(buf, offset))
}

/// Append the whole packet of `msg` with id `msg_id` to `buf`: head, then
/// arguments, copied.
///
/// # Panics
/// If the packet would exceed `MAX_PACKET_SIZE`; check [`packet_size`]
/// first where the message size is not bounded.
pub(crate) fn encode_packet_whole<M: Msg>(buf: &mut Vec<u8>, msg_id: u32, msg: &M) {
    let len = checked_args_len(msg_id, msg);
    buf.reserve(head_len(msg_id, M::CODE) + len);
    encode_head(buf, msg_id, M::CODE);
    msg.encode_into(buf);
}

/// Append the packet of `msg` with id `msg_id` to `buf` like
/// [`encode_packet`], except object data of at least
/// [`BIG_FIELD`](crate::proto::BIG_FIELD) bytes, borrowed from `msg` and
/// returned as segments (see [`Msg::encode_parts`]):
/// `proto::packet_io_slices(&buf, &segments)` is the whole packet.
///
/// # Panics
/// If the packet would exceed `MAX_PACKET_SIZE`, as [`encode_packet`].
#[must_use]
pub(crate) fn encode_msgpack_packet_parts<'a, M: Msg>(
    buf: &mut Vec<u8>,
    msg_id: u32,
    msg: &'a M,
) -> Vec<(usize, &'a [u8])> {
    checked_args_len(msg_id, msg);
    encode_head(buf, msg_id, M::CODE);
    msg.encode_parts(buf)
}

/// Size of the packet carrying `msg` with id `msg_id`, head included.
pub(crate) fn packet_size_of<M: Msg>(msg_id: u32, msg: &M) -> u64 {
    (head_len(msg_id, M::CODE) + msg.encoded_len()) as u64
}

/// The arguments' length of `msg`, checked so that its packet fits in
/// `MAX_PACKET_SIZE` (which NEO/py's unpacker enforces).
///
/// # Panics
/// If it does not.
fn checked_args_len<M: Msg>(msg_id: u32, msg: &M) -> usize {
    let len = msg.encoded_len();
    let size = head_len(msg_id, M::CODE) + len;
    assert!(
        size as u64 <= crate::packet::MAX_PACKET_SIZE as u64,
        "{} packet of {size} bytes exceeds MAX_PACKET_SIZE",
        M::NAME
    );
    len
}
