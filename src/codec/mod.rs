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
use crate::neopy::Scanner;
use crate::packet::{Head, Packet};
use crate::proto::{DecodeError, Payload, BIG_FIELD};

/// The wire dialect of a link: which handshake, framing, ids and message
/// table it uses (ARCHITECTURE.md, "Dialects").
///
/// | | [`Dialect::Proto6`] | [`Dialect::NeoPy`] |
/// |-|---------------------|--------------------|
/// | who speaks it | NEO/go | NEO/py, as deployed |
/// | handshake | version word `00 00 00 06` | `92 a3 4e 45 4f 05`, msgpack of `["NEO", 5]` |
/// | framing | 10-byte header with the payload's length | one msgpack array `[msg_id, code, args]` |
/// | ids | connections, by parity of their opener | each side numbers what it sends from 0; answers carry the request's id |
/// | messages | [`proto`](crate::proto) | [`neopy`](crate::neopy) |
/// | operations | connections and light mode | light mode only: `send1`, `ask1`, `recv1_as`, `Request::reply` |
///
/// The dialer chooses ([`dial_link_with`](crate::dial_link_with)); a
/// [`LinkListener`](crate::LinkListener) serves both on one port, by the
/// first byte of each client's handshake; [`NodeLink::dialect`](crate::NodeLink::dialect)
/// tells which a link speaks.
///
/// ```
/// use neonet::{dial_link_with, neopy, Dialect, LinkListener};
///
/// let listener = LinkListener::bind("127.0.0.1:0")?;
/// let py = dial_link_with(listener.local_addr(), Dialect::NeoPy)?;
/// let server = listener.accept()?;
/// assert_eq!(server.dialect(), Dialect::NeoPy);
/// std::thread::spawn(move || {
///     let req = server.recv1_as::<neopy::Message>()?;
///     req.reply(&neopy::Pong {})
/// });
/// let _pong: neopy::Pong = py.ask1(&neopy::Ping {})?;
/// # Ok::<(), neonet::Error>(())
/// ```
///
/// The names follow the crate's two message modules: [`proto`](crate::proto)
/// (protocol version 6, the binary encoding NEO/go speaks) and
/// [`neopy`](crate::neopy) (what NEO/py speaks since 2018: protocol
/// version 5 over msgpack). A protocol version alone would not do: NEO/py
/// and NEO/go did not number their drift apart consistently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Dialect {
    /// Protocol version 6, binary encoding (NEO/go): connections
    /// multiplexed by id, messages of [`proto`](crate::proto).
    #[default]
    Proto6,
    /// NEO/py's protocol version 5 over msgpack: light mode only, messages
    /// of [`neopy`](crate::neopy).
    NeoPy,
}

impl Dialect {
    /// The first byte of this dialect's handshake, which tells the two
    /// apart on a listener that serves both: `0x00` (the high byte of
    /// protocol 6's version word), `0x92` (a msgpack array of 2).
    pub const fn handshake_first_byte(self) -> u8 {
        match self {
            Dialect::Proto6 => 0x00,
            Dialect::NeoPy => crate::neopy::HANDSHAKE_FIRST_BYTE,
        }
    }

    /// Whether this dialect has connections (`new_conn`, `accept`, `Conn`);
    /// NEO/py's has only the light operations.
    pub const fn has_conns(self) -> bool {
        matches!(self, Dialect::Proto6)
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Proto6 => "protocol 6",
            Dialect::NeoPy => "NEO/py (msgpack)",
        })
    }
}

/// Finds where packets end in the bytes a link reads, in its dialect.
#[derive(Debug)]
pub(crate) enum Framer {
    /// Protocol 6: the header says the length.
    Binary,
    /// NEO/py: the scanner walks the msgpack structure, resuming where it
    /// stopped when more bytes come.
    Msgpack(Box<Scanner>),
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

impl Framer {
    pub(crate) fn new(dialect: Dialect) -> Framer {
        match dialect {
            Dialect::Proto6 => Framer::Binary,
            Dialect::NeoPy => Framer::Msgpack(Box::default()),
        }
    }

    /// Where the packet at the start of `buf` ends. Give it the same
    /// bytes again, plus what arrived since, until it is whole. A packet
    /// over `MAX_PACKET_SIZE` is `PacketTooBig` as soon as its lengths
    /// show it; bytes that are no packet are `Framing`: both take the link
    /// down.
    pub(crate) fn frame(&mut self, buf: &[u8]) -> Result<Framed, ErrorKind> {
        match self {
            Framer::Binary => binary::frame(buf),
            Framer::Msgpack(scanner) => msgpack::frame(scanner, buf),
        }
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
/// [`neopy::Msg`](crate::neopy::Msg)). `send1` and `Request::reply` take
/// any; a link refuses one of the other dialect than its own with
/// `ErrorKind::WrongDialect`.
///
/// Implemented by the two message tables, not by hand (sealed). The hidden
/// methods are the link's, not an API.
pub trait LinkMsg: sealed::Sealed + Sized + fmt::Debug {
    /// The dialect whose table the message is in.
    const DIALECT: Dialect;

    /// The enum of all messages of that table (what `recv1` gives).
    type Set: LinkMessages;

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
    fn link_from_set(m: Self::Set) -> Result<Self, Self::Set>;
}

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
    const DIALECT: Dialect;

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
