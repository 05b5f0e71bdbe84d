//! Protocol 6's codec (ARCHITECTURE.md, "Wire format"): a 10-byte header that says the
//! packet's length, and the messages of [`proto`](crate::proto).
//!
//! Every [`proto::Msg`] is a [`LinkMsg`] (and every [`proto::Ask`] a
//! [`LinkAsk`]) through the blanket impls here; NEO/py's messages are
//! through their table's macro, so the two never overlap.

use super::wire::{Addressed, Wire};
use super::Segments;
use super::{sealed::Sealed, with_payload, Framed, LinkAsk, LinkMessages, LinkMsg, Proto6};
use crate::error::{ErrorKind, HandshakeError};
use crate::link::LinkRole;
use crate::packet::{Head, Header, Packet, HEADER_SIZE};
use crate::proto::{
    self, message_name, Answer, AnswerError, DecodeError, ErrorCode, Message, Msg, Ping,
    PROTOCOL_VERSION,
};

#[allow(private_interfaces)] // see `wire`
impl Wire for Proto6 {
    /// The header says where a packet ends: nothing to remember.
    type Framer = ();

    fn frame(_: &mut (), buf: &[u8]) -> Result<Framed, ErrorKind> {
        frame(buf)
    }

    fn first_id(role: LinkRole) -> u32 {
        role.first_id()
    }

    const ID_STEP: u32 = 2;

    const OURS_QUIET: bool = false;

    /// By connection id: its parity says who opened it (ARCHITECTURE.md,
    /// "Connection ids").
    fn address(role: LinkRole, pkt: &Packet) -> Addressed {
        let id = pkt.conn_id();
        if role.owns(id) {
            Addressed::Ours(id)
        } else {
            Addressed::Peer(Some(id))
        }
    }

    fn answerable(pkt: &Packet) -> bool {
        pkt.msg_code() != <proto::Error as Msg>::CODE
    }

    fn encode_reply(buf: &mut Vec<u8>, id: u32, text: &str) {
        let reply = proto::Error {
            code: ErrorCode::PROTOCOL_ERROR,
            message: text.into(),
        };
        proto::encode_packet(buf, id, &reply);
    }

    fn encode_ping(buf: &mut Vec<u8>, id: u32) {
        proto::encode_packet(buf, id, &Ping {});
    }

    type ErrorMsg = proto::Error;

    fn error(code: ErrorCode, message: String) -> proto::Error {
        proto::Error { code, message }
    }

    const HANDSHAKE: &'static [u8] = &PROTOCOL_VERSION.to_be_bytes();

    fn check_handshake(got: &[u8]) -> Result<bool, HandshakeError> {
        let Some(word) = got.first_chunk::<4>() else {
            return Ok(false);
        };
        let peer = u32::from_be_bytes(*word);
        if peer != PROTOCOL_VERSION {
            return Err(HandshakeError::VersionMismatch {
                peer,
                ours: PROTOCOL_VERSION,
            });
        }
        Ok(true)
    }
}

/// Where the packet at the start of `buf` ends: the header says it.
pub(crate) fn frame(buf: &[u8]) -> Result<Framed, ErrorKind> {
    let Some(bytes) = buf.first_chunk::<HEADER_SIZE>() else {
        return Ok(Framed::Need(HEADER_SIZE));
    };
    let hdr = Header::decode(bytes);
    // Checked before anything of that size is allocated.
    if !hdr.size_ok() {
        return Err(ErrorKind::PacketTooBig {
            size: hdr.packet_size(),
        });
    }
    let len = hdr.packet_size() as usize;
    if buf.len() < len {
        return Ok(Framed::Need(len));
    }
    Ok(Framed::Whole {
        len,
        head: Head::binary(&hdr),
    })
}

/// Decodes `pkt` as an `M`; anything else is `UnexpectedMessage`.
pub(crate) fn decode_as<M: Msg>(pkt: Packet) -> Result<M, ErrorKind> {
    let code = pkt.msg_code();
    if code == M::CODE {
        return with_payload(pkt, M::decode_payload).map_err(ErrorKind::Decode);
    }
    Err(unexpected(code, M::NAME))
}

/// Decodes `pkt` as the answer `A` to a request: an `Error` message (but
/// the `ACK` that `()` expects) is `ErrorKind::Peer`.
pub(crate) fn decode_answer<A: Answer>(pkt: Packet) -> Result<A, ErrorKind> {
    let code = pkt.msg_code();
    with_payload(pkt, |payload| A::from_answer(code, payload)).map_err(|e| match e {
        AnswerError::Peer(e) => ErrorKind::Peer {
            code: e.code,
            message: e.message,
        },
        AnswerError::Unexpected(code) => unexpected(code, A::ANSWER_NAME),
        AnswerError::Decode(e) => ErrorKind::Decode(e),
    })
}

/// The error for a message of code `code` where `expected` was expected.
fn unexpected(code: u16, expected: &'static str) -> ErrorKind {
    match message_name(code) {
        Some(got) => ErrorKind::UnexpectedMessage { got, expected },
        // Not a message we know: the decode error names the code.
        None => ErrorKind::Decode(DecodeError::unknown_code(code)),
    }
}

/// Decodes `pkt` as whichever message its code says.
pub(crate) fn decode_message(pkt: Packet) -> Result<Message, DecodeError> {
    let code = pkt.msg_code();
    with_payload(pkt, |payload| Message::decode_payload(code, payload))
}

impl<M: Msg> Sealed for M {}

impl<M: Msg> LinkMsg for M {
    type Dialect = Proto6;

    fn link_code() -> u16 {
        M::CODE
    }

    fn link_name() -> &'static str {
        M::NAME
    }

    fn link_packet_size(&self, _id: u32) -> u64 {
        proto::packet_size(self)
    }

    fn link_encode<'a>(&'a self, buf: &mut Vec<u8>, id: u32) -> Segments<'a> {
        proto::encode_packet_parts(buf, id, self)
    }

    fn link_from_set(m: Message) -> Result<M, Message> {
        M::from_message(m)
    }
}

impl<R: proto::Ask> LinkAsk for R {
    type Answer = R::Answer;

    fn link_decode_answer(pkt: Packet) -> Result<R::Answer, ErrorKind> {
        decode_answer::<R::Answer>(pkt)
    }
}

impl Sealed for Message {}

impl LinkMessages for Message {
    type Dialect = Proto6;

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
