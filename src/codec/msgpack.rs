//! NEO/py's codec (ARCHITECTURE.md, "Dialects"): packets framed by walking their msgpack
//! structure ([`Scanner`]), and the messages of [`neopy`](crate::neopy).
//!
//! Every NEO/py message is a [`LinkMsg`](super::LinkMsg) (and every
//! request a [`LinkAsk`](super::LinkAsk)) through impls that the table's
//! own macro writes (`neopy/messages.rs`): protocol 6's are blanket impls,
//! and two blanket impls could overlap.

use super::{with_payload, Dialect, Framed, LinkMessages};
use crate::error::ErrorKind;
use crate::neopy::{self, Answer, AnswerError, FramingError, Message, Scan, Scanner};
use crate::packet::{Head, Packet};
use crate::proto::{DecodeError, Payload};

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
    const DIALECT: Dialect = Dialect::NeoPy;

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
