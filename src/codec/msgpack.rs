//! NEO/py's codec (ARCHITECTURE.md, "Dialects"): packets framed by walking their msgpack
//! structure ([`Scanner`]), and the messages of [`neopy`](crate::neopy).
//!
//! Every NEO/py message is a [`Msg`](super::Msg) (and every
//! request a [`Ask`](super::Ask)) through impls that the table's
//! own macro writes (`neopy/messages.rs`): protocol 6's are blanket impls,
//! and two blanket impls could overlap.

use super::wire::{Addressed, Wire};
use super::{Framed, Msg, NeoPy, Payload, Segments};
use crate::error::{ErrorKind, HandshakeError};
use crate::link::LinkRole;
use crate::neopy::{self, FramingError, HandshakeMismatch, HandshakeProgress, Scan, Scanner};
use crate::packet::{Head, Packet};
use crate::proto::{DecodeError, ErrorCode};

#[allow(private_interfaces)] // see `wire`
impl Wire for NeoPy {
    /// Walks the msgpack structure, resuming where it stopped when more
    /// bytes come (boxed: its state is a few hundred bytes).
    type Framer = Box<Scanner>;

    fn frame(scanner: &mut Box<Scanner>, buf: &[u8]) -> Result<Framed, ErrorKind> {
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

    fn encode_reply(buf: &mut Vec<u8>, id: u32, text: &str) {
        let reply = neopy::Error {
            code: ErrorCode::PROTOCOL_ERROR,
            message: text.into(),
        };
        neopy::encode_packet_whole(buf, id, &reply);
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
    fn check_handshake(got: &[u8]) -> Result<bool, HandshakeError> {
        match neopy::check_handshake(got) {
            Ok(HandshakeProgress::Done) => Ok(true),
            Ok(HandshakeProgress::Incomplete { .. }) => Ok(false),
            Err(HandshakeMismatch::VersionMismatch { peer, ours }) => {
                Err(HandshakeError::VersionMismatch {
                    peer: u32::from(peer),
                    ours: u32::from(ours),
                })
            }
            Err(HandshakeMismatch::NotNeo { got }) => Err(HandshakeError::NotNeo { got }),
        }
    }
}

/// Whether `pkt` is a request (its message names an answer).
fn is_request(pkt: &Packet) -> bool {
    neopy::answer_name(pkt.msg_code()).is_some()
}

/// Where the packet at the start of `buf` ends, resuming the walk of
/// `scanner` (which resets itself at each packet's end or error).
pub(crate) fn frame(scanner: &mut Scanner, buf: &[u8]) -> Result<Framed, ErrorKind> {
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
        Err(FramingError::TooBig { size }) => Err(ErrorKind::PacketTooBig { size }),
        Err(e) => Err(ErrorKind::Framing(e)),
    }
}
