//! NEO/py's msgpack as a link's dialect ([`NeoPy`]; ARCHITECTURE.md, "Dialects"): packets framed by walking their msgpack
//! structure ([`Scanner`]), and the messages of [`neopy`](crate::neopy).
//!
//! Every NEO/py message is a [`Msg`](crate::codec::Msg) (and every
//! request a [`Ask`](crate::codec::Ask)) through impls that the table's
//! own macro writes (`neopy/messages.rs`): protocol 6's are blanket impls,
//! and two blanket impls could overlap.

use crate::codec::wire::{Addressed, Wire};
use crate::codec::{
    DecodeError, Dialect, ErrorCode, FrameError, Framed, HandshakeMismatch, LinkRole, Msg, Payload,
    Segments,
};
use crate::neopy::{self, FramingError, HandshakeProgress, Scan, Scanner};
use crate::packet::{Head, Packet};

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

impl Dialect for NeoPy {
    type Message = neopy::Message;
    const NAME: &'static str = "NEO/py (msgpack)";
}

#[allow(private_interfaces)] // see `wire`
impl Wire for NeoPy {
    /// Walks the msgpack structure, resuming where it stopped when more
    /// bytes come (boxed: its state is a few hundred bytes).
    type Framer = Box<Scanner>;

    fn frame(scanner: &mut Box<Scanner>, buf: &[u8]) -> Result<Framed, FrameError> {
        frame(scanner, buf)
    }

    /// Each side numbers what it sends from 0.
    fn first_id(_: LinkRole) -> u32 {
        0
    }

    const ID_STEP: u32 = 1;

    const OURS_QUIET: bool = true;

    /// By the answer bit (ARCHITECTURE.md, "Dialects"): an answer is to a
    /// request of ours; a notification may be part of a streamed answer
    /// of ours; a request is the peer's.
    fn address(_: LinkRole, pkt: &Packet) -> Addressed {
        let id = pkt.conn_id();
        if pkt.is_answer() {
            Addressed::Ours(id)
        } else if is_request(pkt) {
            Addressed::Peer(None)
        } else {
            Addressed::StreamOrPeer(id)
        }
    }

    /// Requests only: a notification expects nothing, and an answer to an
    /// answer would be taken for one to a request of the peer's.
    fn answerable(pkt: &Packet) -> bool {
        !pkt.is_answer() && is_request(pkt)
    }

    fn encode_ping(buf: &mut Vec<u8>, id: u32) {
        neopy::encode_packet_whole(buf, id, &neopy::Ping {});
    }

    type ErrorMsg = neopy::Error;

    fn error(code: ErrorCode, message: String) -> neopy::Error {
        neopy::Error { code, message }
    }

    fn decode_error(payload: Payload<'_>) -> Result<(ErrorCode, String), DecodeError> {
        neopy::Error::decode_payload(payload).map(|e| (e.code, e.message))
    }

    fn encode_packet_parts<'a, M: Msg<Dialect = Self>>(
        buf: &mut Vec<u8>,
        id: u32,
        msg: &'a M,
        borrow: bool,
    ) -> Segments<'a> {
        if borrow {
            return neopy::encode_msgpack_packet_parts(buf, id, msg);
        }
        neopy::encode_packet_whole(buf, id, msg);
        Vec::new()
    }

    fn packet_size<M: Msg<Dialect = Self>>(id: u32, msg: &M) -> u64 {
        neopy::packet_size_of(id, msg)
    }

    const HANDSHAKE: &'static [u8] = &neopy::HANDSHAKE;

    /// Checked as the bytes come: an HTTP client is refused at its first.
    fn check_handshake(got: &[u8]) -> Result<bool, HandshakeMismatch> {
        match neopy::check_handshake(got)? {
            HandshakeProgress::Done => Ok(true),
            HandshakeProgress::Incomplete { .. } => Ok(false),
        }
    }
}

/// Whether `pkt` is a request (its message names an answer).
fn is_request(pkt: &Packet) -> bool {
    neopy::answer_name(pkt.msg_code()).is_some()
}

/// Where the packet at the start of `buf` ends, resuming the walk of
/// `scanner` (which resets itself at each packet's end or error).
pub(crate) fn frame(scanner: &mut Scanner, buf: &[u8]) -> Result<Framed, FrameError> {
    match scanner.scan(buf) {
        Ok(Scan::Complete(h)) => Ok(Framed::Whole {
            len: h.len,
            head: Head {
                id: h.msg_id,
                code: h.code,
                // The head is `[` and two integers of at most 9 bytes each.
                payload_at: u8::try_from(h.args_offset).unwrap_or(u8::MAX),
            },
        }),
        Ok(Scan::Incomplete { need }) => Ok(Framed::Need(need)),
        Err(FramingError::TooBig { size }) => Err(FrameError::TooBig { size }),
        Err(e) => Err(FrameError::Malformed(e)),
    }
}
