//! NEO/py's codec (ARCHITECTURE.md, "Dialects"): packets framed by walking their msgpack
//! structure ([`Scanner`]), and the messages of [`neopy`](crate::neopy).
//!
//! Every NEO/py message is a [`LinkMsg`](super::LinkMsg) (and every
//! request a [`LinkAsk`](super::LinkAsk)) through impls that the table's
//! own macro writes (`neopy/messages.rs`): protocol 6's are blanket impls,
//! and two blanket impls could overlap.

use super::wire::{Addressed, Wire};
use super::{with_payload, Framed, LinkMessages, NeoPy};
use crate::error::{ErrorKind, HandshakeError};
use crate::link::LinkRole;
use crate::neopy::{
    self, Answer, AnswerError, FramingError, HandshakeMismatch, HandshakeProgress, Message, Scan,
    Scanner,
};
use crate::packet::{Head, Packet};
use crate::proto::{DecodeError, ErrorCode, Payload};

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
        neopy::encode_packet(buf, id, &reply);
    }

    fn encode_ping(buf: &mut Vec<u8>, id: u32) {
        neopy::encode_packet(buf, id, &neopy::Ping {});
    }

    type ErrorMsg = neopy::Error;

    fn error(code: ErrorCode, message: String) -> neopy::Error {
        neopy::Error { code, message }
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

/// Decodes the answer packet of request `R`.
pub(crate) fn decode_answer<R: neopy::Ask>(pkt: Packet) -> Result<R::Answer, ErrorKind> {
    let code = pkt.msg_code();
    with_payload(pkt, |p| R::Answer::decode_answer_payload(code, p)).map_err(|e| match e {
        AnswerError::Peer(e) => ErrorKind::Peer {
            code: e.code,
            message: e.message,
        },
        AnswerError::Unexpected { code, expected } => match neopy::message_name(code) {
            Some(got) => ErrorKind::UnexpectedMessage { got, expected },
            None => ErrorKind::Decode(DecodeError::unknown_code(code)),
        },
        AnswerError::Decode(e) => ErrorKind::Decode(e),
    })
}

/// Decodes a packet as whichever NEO/py message its code says.
fn decode_message(pkt: Packet) -> Result<Message, DecodeError> {
    let code = pkt.msg_code();
    with_payload(pkt, |p| match p {
        Payload::Bytes(args) => Message::decode(code, args),
        Payload::Shared(buf, offset) => Message::decode_shared(code, buf, offset),
    })
}

impl super::sealed::Sealed for Message {}

impl LinkMessages for Message {
    type Dialect = NeoPy;

    fn link_code(&self) -> u16 {
        self.code()
    }

    fn link_name(&self) -> &'static str {
        self.name()
    }

    fn link_decode(pkt: Packet) -> Result<Message, DecodeError> {
        decode_message(pkt)
    }
}
