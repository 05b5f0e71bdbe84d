//! Dialects as codecs: what a link reads and writes in each dialect it can
//! speak, under the same link (ARCHITECTURE.md, "Dialects"): framing and
//! message encoding differ, the link (reader thread, table, writer,
//! limits) is one.
//!
//! A link speaks one [`Dialect`], fixed by its handshake:
//!
//! | | [`Dialect::Proto6`] | [`Dialect::NeoPy`] |
//! |-|---------------------|--------------------|
//! | who speaks it | NEO/go | NEO/py as deployed |
//! | handshake | version word `00 00 00 06` | `92 a3 4e 45 4f 05`, msgpack of `["NEO", 5]` |
//! | framing | 10-byte header with the payload's length ([`binary`]) | one msgpack array `[msg_id, code, args]`, no length ([`msgpack`]) |
//! | ids | connections, by parity of their opener | each side numbers what it sends; answers carry the request's id |
//! | messages | [`proto`](crate::proto) (102) | [`neopy`](crate::neopy) (111) |
//! | operations | connections and light mode | light mode only (`send1`, `ask1`, `recv1`, `reply`) |
//!
//! The link's reader asks its [`Framer`] where the next packet ends and
//! hands whole packets over, in either dialect, as the same [`Packet`]
//! (whose accessors give id, code and payload in both). Senders encode
//! with the message's own table: [`LinkMsg`] is what any message of either
//! table is to a link, [`LinkAsk`] a request with its answer, and
//! [`LinkMessages`] the enum of a table's messages, which `recv1` decodes
//! into. A message of the other table than the link's is refused with
//! `ErrorKind::WrongDialect`.

pub(crate) mod binary;
pub(crate) mod msgpack;

use std::fmt;
use std::sync::Arc;

use crate::error::ErrorKind;
use crate::packet::{Head, Packet};
use crate::proto::{DecodeError, Payload, BIG_FIELD};

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
/// | | [`Proto6`] | [`NeoPy`] |
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
/// Implemented by [`Proto6`] and [`NeoPy`] only (sealed): what a dialect
/// is to a link is private to the crate.
pub trait Dialect:
    wire::Wire + Copy + Default + PartialEq + Eq + fmt::Debug + Send + Sync + 'static
{
    /// The enum of all messages of the dialect's table: what a light-mode
    /// `recv` gives.
    type Message: LinkMessages<Dialect = Self>;

    /// The dialect's name, for logs and errors.
    const NAME: &'static str;
}

/// Protocol version 6, binary encoding (NEO/go): connections multiplexed
/// by id, messages of [`proto`](crate::proto).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Proto6;

/// NEO/py's protocol version 5 over msgpack: light mode and streamed
/// answers, messages of [`neopy`](crate::neopy).
///
/// The names follow the crate's two message modules: [`proto`](crate::proto)
/// (protocol version 6, the binary encoding NEO/go speaks) and
/// [`neopy`](crate::neopy) (what NEO/py speaks since 2018: protocol
/// version 5 over msgpack). A protocol version alone would not do: NEO/py
/// and NEO/go did not number their drift apart consistently.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NeoPy;

impl Dialect for Proto6 {
    type Message = crate::proto::Message;
    const NAME: &'static str = "protocol 6";
}

impl Dialect for NeoPy {
    type Message = crate::neopy::Message;
    const NAME: &'static str = "NEO/py (msgpack)";
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
    use crate::error::{ErrorKind, HandshakeError};
    use crate::link::LinkRole;
    use crate::packet::Packet;
    use crate::proto::ErrorCode;

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
        fn frame(framer: &mut Self::Framer, buf: &[u8]) -> Result<Framed, ErrorKind>;

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
        fn encode_reply(buf: &mut Vec<u8>, id: u32, text: &str);

        /// Appends a keepalive `Ping` on id `id`.
        fn encode_ping(buf: &mut Vec<u8>, id: u32);

        /// The dialect's `Error` message.
        type ErrorMsg: super::LinkMsg;

        /// `Error(code, message)`, for the replies the receiving side of
        /// the link makes itself (a request it cannot decode).
        fn error(code: ErrorCode, message: String) -> Self::ErrorMsg;

        /// Our handshake, written first by both ends (protocol 6: the
        /// version word; NEO/py: `["NEO", 5]` in msgpack). Its first byte
        /// tells the dialects apart on a listener that serves both.
        const HANDSHAKE: &'static [u8];

        /// What the peer's handshake so far (`got`, at most
        /// `HANDSHAKE.len()` bytes) says: `Ok(true)` it is whole and ours,
        /// `Ok(false)` more must come, or how it differs.
        fn check_handshake(got: &[u8]) -> Result<bool, HandshakeError>;
    }
}

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

pub(crate) mod sealed {
    /// Only the crate's two message tables implement the link's message
    /// traits: what they promise (a dialect, an encoding the reader of
    /// that dialect frames) is the tables'.
    pub trait Sealed {}
}

/// The borrowed parts of an encoded packet: `(position, bytes)` segments,
/// see [`proto::packet_io_slices`](crate::proto::packet_io_slices).
pub(crate) type Segments<'a> = Vec<(usize, &'a [u8])>;

/// A message a link can send: any message of protocol 6's table
/// ([`proto`](crate::proto), every [`proto::Msg`](crate::proto::Msg)) or of
/// NEO/py's ([`neopy`](crate::neopy), every
/// [`neopy::Msg`](crate::neopy::Msg)). A link of dialect `D` takes those
/// whose `Dialect` is `D` only.
///
/// Implemented by the two message tables, not by hand (sealed). The hidden
/// methods are the link's, not an API.
pub trait LinkMsg: sealed::Sealed + Sized + fmt::Debug {
    /// The dialect whose table the message is in.
    type Dialect: Dialect;

    #[doc(hidden)]
    /// The message's code.
    fn link_code() -> u16;

    #[doc(hidden)]
    /// The message's name.
    fn link_name() -> &'static str;

    #[doc(hidden)]
    /// Size of the packet with id `id` carrying it.
    fn link_packet_size(&self, id: u32) -> u64;

    #[doc(hidden)]
    /// Appends the packet with id `id` to `buf`, large object data
    /// borrowed (see `proto::encode_packet_parts`). The size must have been
    /// checked against `MAX_PACKET_SIZE`.
    fn link_encode<'a>(&'a self, buf: &mut Vec<u8>, id: u32) -> Segments<'a>;

    #[doc(hidden)]
    /// Unwraps it from its table's enum; `Err` gives another message back.
    // The enum is given back unchanged, by value: see `proto::Msg`.
    #[allow(clippy::result_large_err)]
    fn link_from_set(m: MessageOf<Self>) -> Result<Self, MessageOf<Self>>;
}

/// The enum of the table of message `M`'s dialect.
pub type MessageOf<M> = <<M as LinkMsg>::Dialect as Dialect>::Message;

/// A request a link can ask with `ask1`: any request of either table,
/// with the answer its table gives it ([`proto::Ask`](crate::proto::Ask),
/// [`neopy::Ask`](crate::neopy::Ask)): the answer message, or `()` for the
/// requests acknowledged with `Error(ACK)`.
///
/// Implemented by the two message tables, not by hand (sealed).
pub trait LinkAsk: LinkMsg {
    /// What a successful answer decodes to.
    type Answer;

    #[doc(hidden)]
    /// Decodes the answer packet: the answer, or the peer's `Error`
    /// (`ErrorKind::Peer`), or `UnexpectedMessage` / `Decode`.
    fn link_decode_answer(pkt: Packet) -> Result<Self::Answer, ErrorKind>;
}

/// The enum of all messages of one table: [`proto::Message`](crate::proto::Message)
/// or [`neopy::Message`](crate::neopy::Message). `recv1_as::<S>` decodes
/// requests into it.
///
/// Implemented by the two tables, not by hand (sealed).
pub trait LinkMessages: sealed::Sealed + Sized + fmt::Debug + Clone + Send + 'static {
    /// The dialect whose table it is.
    type Dialect: Dialect;

    #[doc(hidden)]
    /// The code of the message it holds.
    fn link_code(&self) -> u16;

    #[doc(hidden)]
    /// The name of the message it holds.
    fn link_name(&self) -> &'static str;

    #[doc(hidden)]
    /// Decodes a packet of this dialect as whichever message its code
    /// says.
    fn link_decode(pkt: Packet) -> Result<Self, DecodeError>;
}
