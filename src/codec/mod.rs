//! The wire layer's core: what a dialect is ([`Dialect`], its private
//! side `wire::Wire`), what a message is in any dialect ([`Msg`],
//! [`Ask`], [`Answer`], [`AnswerError`], [`Messages`]), the one macro that
//! turns a table of messages into code (`table.rs`), and each dialect's
//! framing (`binary.rs`: protocol 6's 10-byte header; `msgpack.rs`:
//! NEO/py's msgpack arrays). Pure: no I/O (ARCHITECTURE.md, "Dialects").
//!
//! | | [`Proto6`] | [`NeoPy`] |
//! |-|------------|-----------|
//! | who speaks it | NEO/go | NEO/py as deployed |
//! | handshake | version word `00 00 00 06` | `92 a3 4e 45 4f 05`, msgpack of `["NEO", 5]` |
//! | framing | 10-byte header with the payload's length ([`binary`]) | one msgpack array `[msg_id, code, args]`, no length ([`msgpack`]) |
//! | ids | connections, by parity of their opener | each side numbers what it sends; answers carry the request's id |
//! | messages | [`proto`](crate::proto) (102) | [`neopy`](crate::neopy) (111) |
//! | operations | connections and light mode | light mode and streamed answers |
//!
//! The link's reader asks its dialect where the next packet ends and
//! hands whole packets over, in either dialect, as the same [`Packet`]
//! (whose accessors give id, code and payload in both). A message's type
//! names its dialect (`Msg::Dialect`), so a link takes the messages of
//! its own dialect only, which the compiler checks.

pub(crate) mod budget;
mod decode;
mod error_code;
mod frame;
mod message;
#[macro_use]
mod table;

use std::fmt;
use std::sync::Arc;

pub(crate) use decode::Hex;
#[cfg(feature = "neopy")]
pub use decode::MsgpackError;
pub use decode::{DecodeError, DecodeErrorKind, BIG_FIELD};
pub(crate) use error_code::named_values;
pub use error_code::ErrorCode;
pub use frame::HandshakeMismatch;
pub(crate) use frame::{FrameError, Framed};
#[cfg(feature = "neopy")]
pub use frame::{FramingError, MAX_DEPTH};
pub(crate) use message::{answer_message, field_name};
pub use message::{
    encode_packet, encode_packet_parts, packet_size, Answer, AnswerError, Ask, MessageOf, Messages,
    Msg, Payload,
};
pub(crate) use table::message_table;

use crate::packet::Packet;

/// The wire dialect of a link, as a type: which handshake, framing, ids
/// and message table it uses (ARCHITECTURE.md, "Dialects"). A link is a
/// [`NodeLink<D>`](crate::NodeLink), and its operations take the messages
/// of `D`'s table only, so a message of the other dialect does not
/// compile:
///
/// ```compile_fail
/// use neonet::{neopy, NodeLink, Proto6};
///
/// let (client, _server) = NodeLink::<Proto6>::pair()?;
/// // A NEO/py message on a protocol 6 link: refused by the compiler.
/// client.send1(&neopy::Ping {})?;
/// # Ok::<(), neonet::Error>(())
/// ```
///
/// Nor do connections on a NEO/py link, which has one-packet exchanges
/// only:
///
/// ```compile_fail
/// use neonet::{NeoPy, NodeLink};
///
/// let (client, _server) = NodeLink::<NeoPy>::pair()?;
/// let conn = client.new_conn()?; // protocol 6 only
/// # Ok::<(), neonet::Error>(())
/// ```
///
/// while the same with a protocol 6 link compiles:
///
/// ```
/// use neonet::{proto, NodeLink, Proto6};
///
/// let (client, _server) = NodeLink::<Proto6>::pair()?;
/// let conn = client.new_conn()?;
/// client.send1(&proto::Ping {})?;
/// # Ok::<(), neonet::Error>(())
/// ```
///
/// | | [`Proto6`](crate::Proto6) | [`NeoPy`](crate::NeoPy) |
/// |-|------------|-----------|
/// | who speaks it | NEO/go | NEO/py, as deployed |
/// | handshake | version word `00 00 00 06` | `92 a3 4e 45 4f 05`, msgpack of `["NEO", 5]` |
/// | framing | 10-byte header with the payload's length | one msgpack array `[msg_id, code, args]` |
/// | ids | connections, by parity of their opener | each side numbers what it sends from 0; answers carry the request's id |
/// | messages | [`proto`](crate::proto) | [`neopy`](crate::neopy) |
/// | operations | connections and light mode | light mode (and streamed answers) |
///
/// The dialer chooses ([`Dialer::dialect`](crate::Dialer::dialect)); a
/// [`LinkListener`](crate::LinkListener) serves both on one port, by the
/// first byte of each client's handshake, and gives an
/// [`AnyLink`](crate::AnyLink) that says which.
///
/// Implemented by [`Proto6`](crate::Proto6) and [`NeoPy`](crate::NeoPy) only (sealed): what a dialect
/// is to a link is private to the crate.
pub trait Dialect:
    wire::Wire + Copy + Default + PartialEq + Eq + fmt::Debug + Send + Sync + 'static
{
    /// The enum of all messages of the dialect's table: what a light-mode
    /// `recv` gives.
    type Message: Messages<Dialect = Self>;

    /// The dialect's name, for logs and errors.
    const NAME: &'static str;
}

/// What a dialect is to a link: everything the link's code asks of the
/// wire, so that it contains no `match` on the dialect and a third
/// dialect is one more implementation (ARCHITECTURE.md, "Dialects").
/// Public in a private module: users can name neither the trait nor its
/// methods, so [`Dialect`] is sealed.
// The trait is unnameable outside the crate, so the crate's own types in
// its signatures are no part of the public API.
#[allow(private_interfaces)]
pub(crate) mod wire {
    use super::Framed;
    use super::Payload;
    use super::{DecodeError, ErrorCode, FrameError, HandshakeMismatch, LinkRole};
    use crate::packet::Packet;

    /// Where an incoming packet belongs, as the dialect reads it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Addressed {
        /// To the exchange of ours with this id.
        Ours(u32),
        /// To the conversation of ours with this id if there is one (NEO/py:
        /// a notification under the msg_id of a streamed answer), else to a
        /// new exchange of the peer's.
        StreamOrPeer(u32),
        /// To an exchange of the peer's: the one with this id, which may
        /// exist already (protocol 6's connections), or `None`: a new one
        /// (NEO/py, whose msg_ids repeat: the table keys it apart).
        Peer(Option<u32>),
    }

    /// The link's view of a dialect; see the module docs.
    pub trait Wire: Sized {
        /// Finds where packets end, resuming across reads.
        type Framer: Default + Send + std::fmt::Debug;

        /// Where the packet at the start of `buf` ends (see [`Framed`]).
        /// A packet over `MAX_PACKET_SIZE` is `PacketTooBig` as soon as its
        /// lengths show it; bytes that are no packet are `Framing`.
        fn frame(framer: &mut Self::Framer, buf: &[u8]) -> Result<Framed, FrameError>;

        /// The first id of an exchange we open, as `role`.
        fn first_id(role: LinkRole) -> u32;

        /// How ids of ours follow one another (2: by parity; 1: in turn).
        const ID_STEP: u32;

        /// Whether the link never answers what comes to our own exchanges
        /// ("connection closed"): NEO/py's are answers and the notifications
        /// of streamed answers, which must never be answered.
        const OURS_QUIET: bool;

        /// Where `pkt` belongs, received by the `role` end.
        fn address(role: LinkRole, pkt: &Packet) -> Addressed;

        /// Whether the link may answer `pkt` itself ("connection closed",
        /// "connection refused", a request it cannot decode): never an
        /// `Error` (two links would answer each other's forever), and on
        /// NEO/py only requests (an answer to anything else would be taken
        /// for the answer to a request of the peer's).
        fn answerable(pkt: &Packet) -> bool;

        /// Appends the link's own `Error(PROTOCOL_ERROR, text)` on id `id`.
        fn encode_reply(buf: &mut Vec<u8>, id: u32, text: &str) {
            let reply = Self::error(ErrorCode::PROTOCOL_ERROR, text.into());
            let borrowed = Self::encode_packet_parts(buf, id, &reply, false);
            debug_assert!(borrowed.is_empty(), "a copying encoder borrows nothing");
        }

        /// Appends a keepalive `Ping` on id `id`.
        fn encode_ping(buf: &mut Vec<u8>, id: u32);

        /// The dialect's `Error` message.
        type ErrorMsg: super::Msg<Dialect = Self>;

        /// `Error(code, message)`, for the replies the receiving side of
        /// the link makes itself (a request it cannot decode).
        fn error(code: ErrorCode, message: String) -> Self::ErrorMsg;

        /// The code and text of an `Error` packet's payload.
        fn decode_error(payload: Payload<'_>) -> Result<(ErrorCode, String), DecodeError>;

        /// Appends the packet of `msg` with id `id` to `buf`: all of it
        /// copied, or (`borrow`) large object data borrowed and returned as
        /// segments. The size must have been checked against
        /// `MAX_PACKET_SIZE`.
        fn encode_packet_parts<'a, M: super::Msg<Dialect = Self>>(
            buf: &mut Vec<u8>,
            id: u32,
            msg: &'a M,
            borrow: bool,
        ) -> super::Segments<'a>;

        /// Size of the packet of `msg` with id `id`, head included.
        fn packet_size<M: super::Msg<Dialect = Self>>(id: u32, msg: &M) -> u64;

        /// Our handshake, written first by both ends (protocol 6: the
        /// version word; NEO/py: `["NEO", 5]` in msgpack). Its first byte
        /// tells the dialects apart on a listener that serves both.
        const HANDSHAKE: &'static [u8];

        /// What the peer's handshake so far (`got`, at most
        /// `HANDSHAKE.len()` bytes) says: `Ok(true)` it is whole and ours,
        /// `Ok(false)` more must come, or how it differs.
        fn check_handshake(got: &[u8]) -> Result<bool, HandshakeMismatch>;
    }
}

/// Which end of the link we are (ARCHITECTURE.md, "Connection ids").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRole {
    /// The end that dialed: opens connections with odd ids.
    Client,
    /// The end that accepted: opens connections with even ids.
    Server,
}

impl LinkRole {
    /// The first id of a connection we open.
    pub(crate) fn first_id(self) -> u32 {
        match self {
            LinkRole::Server => 0,
            LinkRole::Client => 1,
        }
    }

    /// Whether connection `id` is one this end opens.
    pub(crate) fn owns(self, id: u32) -> bool {
        id % 2 == self.first_id()
    }
}

/// Hands a packet's payload to a decoder: a big one as the shared packet
/// buffer, so that its large fields (object data) share it instead of
/// being copied out of it; a small one as a slice, which costs no extra
/// allocation.
pub(crate) fn with_payload<T>(pkt: Packet, decode: impl FnOnce(Payload<'_>) -> T) -> T {
    if pkt.payload().len() < BIG_FIELD {
        return decode(Payload::Bytes(pkt.payload()));
    }
    let at = pkt.payload_offset();
    decode(Payload::Shared(&Arc::new(pkt.into_bytes()), at))
}

/// The borrowed parts of an encoded packet: `(position, bytes)` segments,
/// see [`proto::packet_io_slices`](crate::proto::packet_io_slices).
pub(crate) type Segments<'a> = Vec<(usize, &'a [u8])>;

/// Decodes the answer packet of request `R`: the answer, or the peer's
/// `Error` (`AnswerError::Peer`), or another message, or why it does not
/// decode.
pub(crate) fn decode_answer<R: Ask>(pkt: Packet) -> Result<R::Answer, AnswerError> {
    let code = pkt.msg_code();
    with_payload(pkt, |p| R::Answer::from_answer(code, p))
}

/// Decodes `pkt` as an `M`; anything else is `AnswerError::Unexpected`.
pub(crate) fn decode_as<M: Msg>(pkt: Packet) -> Result<M, AnswerError> {
    let code = pkt.msg_code();
    if code == M::CODE {
        return Ok(with_payload(pkt, M::decode_payload)?);
    }
    Err(AnswerError::Unexpected {
        code,
        got: MessageOf::<M>::name_of(code),
        expected: M::NAME,
    })
}

/// Decodes `pkt` as whichever message of table `S` its code says.
pub(crate) fn decode_message<S: Messages>(pkt: Packet) -> Result<S, DecodeError> {
    let code = pkt.msg_code();
    with_payload(pkt, |p| S::decode_payload(code, p))
}
