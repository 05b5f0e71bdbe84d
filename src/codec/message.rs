//! What a message is, in any dialect: the traits both message tables
//! implement (one definition each: [`Msg`], [`Ask`], [`Answer`],
//! [`AnswerError`], [`Messages`]), and how an answer packet is read.
//!
//! A table ([`proto`](crate::proto), [`neopy`](crate::neopy)) is one
//! invocation of the `message_table!` macro (`table.rs`) with its codec:
//! the structs, their impls of these traits, the enum of all its messages
//! and its dispatch by code all come from it. The codec is what differs:
//! protocol 6's fixed-width binary fields, NEO/py's msgpack.

use std::fmt;
use std::sync::Arc;

use super::wire::Wire;
use super::Dialect;
use crate::packet::ANSWER_BIT;
use crate::proto::{DecodeError, ErrorCode};

/// A received payload, as a decoder takes it: borrowed bytes, or a window
/// `buf[offset..]` into a shared packet buffer (large object data then
/// share the buffer instead of being copied out of it).
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// The payload bytes.
    Bytes(&'a [u8]),
    /// The payload is `buf[offset..]`.
    Shared(&'a Arc<Vec<u8>>, usize),
}

/// A NEO message type of one dialect's table.
///
/// Implemented by the message tables (see the module documentation), not
/// by hand.
pub trait Msg: Sized + fmt::Debug + Clone + PartialEq + Send + 'static {
    /// The dialect whose table the message is in: the links it can be sent
    /// on.
    type Dialect: Dialect;

    /// Message code; `ANSWER_BIT` (0x8000) is set on answers (and `Error`).
    const CODE: u16;

    /// Message name, e.g. `"GetObject"`.
    const NAME: &'static str;

    /// Names of the fields, in wire order.
    const FIELDS: &'static [&'static str];

    /// Payload length in bytes.
    fn encoded_len(&self) -> usize;

    /// Append the payload to `buf`: exactly `encoded_len()` bytes, all
    /// copied.
    fn encode_into(&self, buf: &mut Vec<u8>);

    /// Encodes the payload into `buf`, except large blobs, which are
    /// returned as (position in buf where they go, slice).
    ///
    /// Blobs of at least [`BIG_FIELD`](crate::proto::BIG_FIELD) bytes are
    /// borrowed from `self` instead of copied; everything else is appended
    /// to `buf`. Positions are indices into the whole of `buf` (what it
    /// held before included) and do not decrease; a segment goes right
    /// before `buf[position..]`. Their concatenation is exactly what
    /// `encode_into` appends.
    #[must_use]
    fn encode_parts<'a>(&'a self, buf: &mut Vec<u8>) -> Vec<(usize, &'a [u8])>;

    /// Decode a payload. The whole payload must be consumed: trailing
    /// bytes are an error. Blobs are copied out of `payload`.
    fn decode(payload: &[u8]) -> Result<Self, DecodeError>;

    /// Decode the payload `buf[offset..]` of a shared packet buffer: like
    /// [`Msg::decode`] — same strictness, same errors, equal values —
    /// except that object data of at least `BIG_FIELD` bytes are windows
    /// into `buf` instead of copies (they keep `buf` alive). An `offset`
    /// beyond the end of `buf` is a truncation error.
    fn decode_shared(buf: &Arc<Vec<u8>>, offset: usize) -> Result<Self, DecodeError>;

    /// Decode a received payload ([`Msg::decode`] or
    /// [`Msg::decode_shared`]).
    #[inline]
    fn decode_payload(payload: Payload<'_>) -> Result<Self, DecodeError> {
        match payload {
            Payload::Bytes(b) => Self::decode(b),
            Payload::Shared(buf, offset) => Self::decode_shared(buf, offset),
        }
    }

    /// Wrap into the enum of all messages of the table.
    fn into_message(self) -> MessageOf<Self>;

    /// Unwrap from the enum of all messages; `Err(m)` if `m` is another
    /// message (given back unchanged, by value).
    #[allow(clippy::result_large_err)]
    fn from_message(m: MessageOf<Self>) -> Result<Self, MessageOf<Self>>;
}

/// The enum of all messages of the table of message `M`.
pub type MessageOf<M> = <<M as Msg>::Dialect as Dialect>::Message;

/// A request, with what its answer decodes to: the answer message of its
/// table, or `()` for the requests acknowledged with `Error(ACK)`.
/// Asking with a message that is no request does not compile:
///
/// ```compile_fail
/// use neonet::proto::Pong;
/// use neonet::NodeLink;
///
/// let (client, _server) = NodeLink::<neonet::Proto6>::pair()?;
/// client.ask1(&Pong {})?; // a notification: no answer to wait for
/// # Ok::<(), neonet::Error>(())
/// ```
pub trait Ask: Msg {
    /// What a successful answer decodes to.
    type Answer: Answer<Self::Dialect>;
}

/// What the answer packet of a request decodes to in dialect `D`: an
/// answer message, or `()` for an `Error` packet with code `ACK`.
pub trait Answer<D: Dialect>: Sized {
    /// The code of the expected packet (`Error`'s for `()`).
    const ANSWER_CODE: u16;

    /// What is expected, for errors: the answer's name, or
    /// `"Error (ACK)"`.
    const ANSWER_NAME: &'static str;

    /// Decodes the answer packet of code `code`: the answer, or the peer's
    /// `Error`, or another message.
    fn from_answer(code: u16, payload: Payload<'_>) -> Result<Self, AnswerError>;
}

/// Why an answer packet is not the answer expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// The packet could not be decoded.
    #[error(transparent)]
    Decode(DecodeError),
    /// The peer answered with `Error` (its code is not `ACK`, or the
    /// request expected an answer message).
    #[error("peer error {code:?}: {message}")]
    Peer {
        /// The peer's error code.
        code: ErrorCode,
        /// Its text.
        message: String,
    },
    /// The packet is another message than the answer (or `Error`).
    #[error(
        "unexpected message: got {} ({code:#06x}), expected {expected}",
        got.unwrap_or("an unknown message")
    )]
    Unexpected {
        /// The code that came.
        code: u16,
        /// Its name, if the table knows it.
        got: Option<&'static str>,
        /// What was expected.
        expected: &'static str,
    },
}

impl From<DecodeError> for AnswerError {
    fn from(e: DecodeError) -> AnswerError {
        AnswerError::Decode(e)
    }
}

/// The answer message `M`, or why not.
#[inline]
pub(crate) fn answer_message<M: Msg>(code: u16, payload: Payload<'_>) -> Result<M, AnswerError> {
    if code == M::CODE {
        return Ok(M::decode_payload(payload)?);
    }
    Err(not_the_answer::<M::Dialect>(code, payload, M::NAME))
}

/// What a packet of code `code` is when it is not the answer expected:
/// the peer's `Error` (code `ANSWER_BIT` in both dialects), or another
/// message.
#[cold]
fn not_the_answer<D: Dialect>(
    code: u16,
    payload: Payload<'_>,
    expected: &'static str,
) -> AnswerError {
    if code != ANSWER_BIT {
        let got = D::Message::name_of(code);
        return AnswerError::Unexpected {
            code,
            got,
            expected,
        };
    }
    match D::decode_error(payload) {
        Ok((code, message)) => AnswerError::Peer { code, message },
        Err(e) => AnswerError::Decode(e),
    }
}

impl<D: Dialect> Answer<D> for () {
    const ANSWER_CODE: u16 = ANSWER_BIT;
    const ANSWER_NAME: &'static str = "Error (ACK)";

    fn from_answer(code: u16, payload: Payload<'_>) -> Result<(), AnswerError> {
        match not_the_answer::<D>(code, payload, <Self as Answer<D>>::ANSWER_NAME) {
            AnswerError::Peer { code, .. } if code == ErrorCode::ACK => Ok(()),
            other => Err(other),
        }
    }
}

/// The enum of all messages of one table: [`proto::Message`](crate::proto::Message)
/// or [`neopy::Message`](crate::neopy::Message), what a light-mode `recv`
/// decodes requests into.
///
/// Implemented by the two tables, not by hand.
pub trait Messages: Sized + fmt::Debug + Clone + PartialEq + Send + 'static {
    /// The dialect whose table it is.
    type Dialect: Dialect;

    /// The code of the message it holds.
    fn code(&self) -> u16;

    /// The name of the message it holds.
    fn name(&self) -> &'static str;

    /// The name of the message of code `code`, if the table has one.
    fn name_of(code: u16) -> Option<&'static str>;

    /// Decodes a payload as whichever message `code` says; an unknown code
    /// is a [`DecodeError`] naming it.
    fn decode_payload(code: u16, payload: Payload<'_>) -> Result<Self, DecodeError>;
}

/// The name of a field as written in the table: `r#type` is `type`.
pub(crate) const fn field_name(ident: &'static str) -> &'static str {
    match ident.as_bytes() {
        [b'r', b'#', rest @ ..] => match std::str::from_utf8(rest) {
            Ok(name) => name,
            Err(_) => ident,
        },
        _ => ident,
    }
}

/// The packet of `msg` with id `id` in its dialect, all copied.
pub fn encode_packet<M: Msg>(buf: &mut Vec<u8>, id: u32, msg: &M) {
    let segs = <M::Dialect as Wire>::encode_packet_parts(buf, id, msg, false);
    debug_assert!(segs.is_empty(), "a copying encoder borrows nothing");
}

/// The packet of `msg` with id `id` in its dialect, except object data of
/// at least [`BIG_FIELD`](crate::proto::BIG_FIELD) bytes, borrowed from
/// `msg` and returned as segments (see [`Msg::encode_parts`]):
/// [`packet_io_slices`](crate::proto::packet_io_slices)`(&buf, &segments)`
/// is the whole packet.
#[must_use]
pub fn encode_packet_parts<'a, M: Msg>(
    buf: &mut Vec<u8>,
    id: u32,
    msg: &'a M,
) -> Vec<(usize, &'a [u8])> {
    <M::Dialect as Wire>::encode_packet_parts(buf, id, msg, true)
}

/// Size of the packet of `msg` with id `id`, head included.
pub fn packet_size<M: Msg>(id: u32, msg: &M) -> u64 {
    <M::Dialect as Wire>::packet_size(id, msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{neopy, proto, NeoPy, Proto6};

    fn encoded<M: Msg>(m: &M) -> Vec<u8> {
        let mut b = Vec::new();
        m.encode_into(&mut b);
        b
    }

    #[test]
    fn ack_answers_unit_in_both_dialects() {
        let error = |code| proto::Error {
            code,
            message: "text".into(),
        };
        let py_error = |code| neopy::Error {
            code,
            message: "text".into(),
        };
        for (ack, denied) in [
            (
                encoded(&error(ErrorCode::ACK)),
                encoded(&error(ErrorCode::DENIED)),
            ),
            (
                encoded(&py_error(ErrorCode::ACK)),
                encoded(&py_error(ErrorCode::DENIED)),
            ),
        ] {
            let p6 = ack.len() == 8 + 4;
            let from = |code, bytes: &[u8]| match p6 {
                true => <() as Answer<Proto6>>::from_answer(code, Payload::Bytes(bytes)),
                false => <() as Answer<NeoPy>>::from_answer(code, Payload::Bytes(bytes)),
            };
            assert_eq!(from(ANSWER_BIT, &ack), Ok(()));
            assert_eq!(
                from(ANSWER_BIT, &denied),
                Err(AnswerError::Peer {
                    code: ErrorCode::DENIED,
                    message: "text".into()
                })
            );
            assert!(matches!(
                from(ANSWER_BIT, &[0xc1]),
                Err(AnswerError::Decode(_))
            ));
            assert!(matches!(
                from(0x8002, &[]),
                Err(AnswerError::Unexpected {
                    code: 0x8002,
                    expected: "Error (ACK)",
                    ..
                })
            ));
        }
    }

    #[test]
    fn message_answers() {
        let a = proto::AnswerObject {
            oid: 5,
            ..Default::default()
        };
        let bytes = encoded(&a);
        let shared = Arc::new(bytes.clone());
        let code = proto::AnswerObject::CODE;
        assert_eq!(
            proto::AnswerObject::from_answer(code, Payload::Shared(&shared, 0)),
            Ok(a)
        );
        let ack = encoded(&proto::Error {
            code: ErrorCode::ACK,
            message: String::new(),
        });
        assert_eq!(
            proto::AnswerObject::from_answer(ANSWER_BIT, Payload::Bytes(&ack)),
            Err(AnswerError::Peer {
                code: ErrorCode::ACK,
                message: String::new()
            })
        );
        assert_eq!(
            proto::AnswerObject::from_answer(proto::GetObject::CODE, Payload::Bytes(&bytes)),
            Err(AnswerError::Unexpected {
                code: proto::GetObject::CODE,
                got: Some("GetObject"),
                expected: "AnswerObject"
            })
        );
    }
}
