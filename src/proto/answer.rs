//! Typed answers: which message answers which request (ARCHITECTURE.md, "Messages").
//!
//! NEO pairs a request of code `c` with the answer of code `c | 0x8000`
//! (`ANSWER_BIT`). Eight requests have no answer message: the peer answers
//! them with `Error`, code `ACK` for success. Every other message without
//! an answer is a notification, sent and never asked.
//!
//! The decoding of an answer works on what any dialect's packet gives (a
//! code and the payload bytes, possibly shared), so that the connection
//! code stays the same for another message table.

use std::sync::Arc;

use super::codec::DecodeError;
use super::{Error, ErrorCode, Msg};

/// The payload of a received packet, as a decoder reads it.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// Bytes of its own: blobs are copied out of them.
    Bytes(&'a [u8]),
    /// `buf[offset..]` of a shared packet buffer: large object data become
    /// windows into `buf` (see [`Msg::decode_shared`]).
    Shared(&'a Arc<Vec<u8>>, usize),
}

/// A request: a message that the peer answers, with [`Ask::Answer`].
///
/// The message table says, for each request, what answers it, as the
/// request's [`Ask::Answer`]: the answer message, or `()` for the eight
/// that are acknowledged. `Conn::ask` and `NodeLink::ask1` return that
/// type, so the compiler knows what comes back, and asking with a message
/// that is not a request does not compile:
///
/// ```
/// use neonet::proto::{AnswerObject, GetObject, SetNumReplicas};
/// use neonet::NodeLink;
///
/// fn read(link: &NodeLink) -> neonet::Result<()> {
///     let obj = link.ask1(&GetObject { oid: 1, at: 2, before: 3 })?;
///     let _: AnswerObject = obj; // inferred
///     link.ask1(&SetNumReplicas { num_replicas: 2 })?; // (): ACK
///     Ok(())
/// }
/// ```
///
/// A notification is not a request:
///
/// ```compile_fail,E0277
/// # use neonet::proto::NotifyReady;
/// # fn f(link: &neonet::NodeLink) {
/// let _ = link.ask1(&NotifyReady {}); // NotifyReady: Ask is not satisfied
/// # }
/// ```
///
/// and neither is an answer:
///
/// ```compile_fail,E0277
/// # use neonet::proto::Pong;
/// # fn f(conn: &neonet::Conn) {
/// let _ = conn.ask(&Pong {}); // Pong: Ask is not satisfied
/// # }
/// ```
///
/// Implemented by the message table for every request, not by hand.
pub trait Ask: Msg {
    /// What answers this request: the answer message (code
    /// `Self::CODE | ANSWER_BIT`), or `()` for a request that is answered
    /// by `Error` with code `ACK`.
    type Answer: Answer;
}

/// What a request can be answered with: an answer message, or `()` (an
/// `Error` with code `ACK`).
pub trait Answer: Sized {
    /// Code of the message that carries this answer (`Error`'s for `()`).
    const ANSWER_CODE: u16;

    /// Name of that message, for errors.
    const ANSWER_NAME: &'static str;

    /// Decodes the answer from a received message of code `code`.
    ///
    /// An `Error` message (other than the `ACK` that `()` expects) is
    /// [`AnswerError::Peer`]; another message is
    /// [`AnswerError::Unexpected`].
    fn from_answer(code: u16, payload: Payload<'_>) -> Result<Self, AnswerError>;
}

/// Why a received message is not the answer that was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// The message could not be decoded (its code may be unknown).
    #[error(transparent)]
    Decode(DecodeError),
    /// The peer answered with an `Error`.
    #[error("peer error {:?}: {}", .0.code, .0.message)]
    Peer(Error),
    /// The peer answered with another message; its code.
    #[error(
        "unexpected message: got {} ({:#06x})",
        super::message_name(*.0).unwrap_or("an unknown message"),
        .0
    )]
    Unexpected(u16),
}

impl From<DecodeError> for AnswerError {
    fn from(e: DecodeError) -> AnswerError {
        AnswerError::Decode(e)
    }
}

/// The answer `M` to a request, from a message of code `code`: the table
/// implements [`Answer::from_answer`] of every answer message with it.
// Inline: on the hot path (the answer of every `ask`), a call here would
// copy the decoded message once more on its way out.
#[inline]
pub(crate) fn answer_message<M: Msg>(code: u16, payload: Payload<'_>) -> Result<M, AnswerError> {
    if code == M::CODE {
        return Ok(M::decode_payload(payload)?);
    }
    Err(not_the_answer(code, payload))
}

/// The error for a message of code `code` that is not the expected answer.
#[cold]
fn not_the_answer(code: u16, payload: Payload<'_>) -> AnswerError {
    if code != Error::CODE {
        return AnswerError::Unexpected(code);
    }
    match Error::decode_payload(payload) {
        Ok(e) => AnswerError::Peer(e),
        Err(e) => AnswerError::Decode(e),
    }
}

/// The answer of the requests that NEO acknowledges with `Error(ACK)`.
impl Answer for () {
    const ANSWER_CODE: u16 = Error::CODE;
    const ANSWER_NAME: &'static str = Error::NAME;

    fn from_answer(code: u16, payload: Payload<'_>) -> Result<(), AnswerError> {
        match not_the_answer(code, payload) {
            AnswerError::Peer(e) if e.code == ErrorCode::ACK => Ok(()),
            other => Err(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{AnswerObject, GetObject, Pong};

    fn encoded<M: Msg>(m: &M) -> Vec<u8> {
        let mut b = Vec::new();
        m.encode_into(&mut b);
        b
    }

    fn error(code: ErrorCode) -> Vec<u8> {
        encoded(&Error {
            code,
            message: "text".into(),
        })
    }

    #[test]
    fn ack_answers_unit() {
        let ack = error(ErrorCode::ACK);
        assert_eq!(<()>::from_answer(Error::CODE, Payload::Bytes(&ack)), Ok(()));
        let denied = error(ErrorCode::DENIED);
        assert_eq!(
            <()>::from_answer(Error::CODE, Payload::Bytes(&denied)),
            Err(AnswerError::Peer(Error {
                code: ErrorCode::DENIED,
                message: "text".into()
            }))
        );
        assert_eq!(
            <()>::from_answer(Pong::CODE, Payload::Bytes(&[])),
            Err(AnswerError::Unexpected(Pong::CODE))
        );
        assert!(matches!(
            <()>::from_answer(Error::CODE, Payload::Bytes(&[0])),
            Err(AnswerError::Decode(_))
        ));
    }

    #[test]
    fn message_answers() {
        let a = AnswerObject {
            oid: 5,
            ..Default::default()
        };
        let bytes = encoded(&a);
        let shared = Arc::new(bytes.clone());
        assert_eq!(
            AnswerObject::from_answer(AnswerObject::CODE, Payload::Shared(&shared, 0)),
            Ok(a)
        );
        // even an ACK is an error for a request that has an answer message
        let ack = error(ErrorCode::ACK);
        assert!(matches!(
            AnswerObject::from_answer(Error::CODE, Payload::Bytes(&ack)),
            Err(AnswerError::Peer(Error {
                code: ErrorCode::ACK,
                ..
            }))
        ));
        assert_eq!(
            AnswerObject::from_answer(GetObject::CODE, Payload::Bytes(&bytes)),
            Err(AnswerError::Unexpected(GetObject::CODE))
        );
    }
}
