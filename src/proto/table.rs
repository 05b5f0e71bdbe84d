//! The declarative table of messages, and what it generates.
//!
//! The table is split by NEO's groups of messages, one file each under
//! `table/`. Each entry is a message: its doc comment, its name, its code,
//! its kind, and its fields in wire order with their types:
//!
//! ```text
//! /// Ask for an object's data.
//! GetObject = 0x0020, ask AnswerObject {
//!     /// The object.
//!     oid: Oid,
//!     ...
//! }
//! ```
//!
//! The kind is one of
//!
//! - `ask Answer`: a request, answered by the message `Answer` (whose code
//!   is this code with `ANSWER_BIT`), or `ask ()`: a request answered by
//!   `Error` with code `ACK` (see [`Ask`]);
//! - `answer`: the answer to the request of code `code & !ANSWER_BIT`;
//! - `notify`: a notification, never answered;
//! - `error`: `Error`, the one message that may answer anything.
//!
//! The pairing rules are checked when compiling: a request names the
//! message of its code with `ANSWER_BIT`, or `()` only when there is none;
//! an answer has a request; a notification has no answer; no two messages
//! share a code.
//!
//! For each entry the `messages!` macro generates the struct (all fields
//! public), its [`Msg`] impl, its [`Ask`] or [`Answer`] impl, a variant of
//! [`Message`] and `From<Msg> for Message`, and with the `proptest`
//! feature, `Arbitrary`; for the whole table, [`Message`]'s dispatch by
//! code (a `match`), [`message_name`] and [`MESSAGE_CODES`].
//!
//! The groups are chained: each group's macro appends its entries to what
//! it was given and hands everything to the next (`link_messages!` to
//! `cluster_messages!`, ..., the last to `messages!`), so that `messages!`
//! sees the whole table at once, which the `Message` enum needs.

#[cfg(feature = "proptest")]
use proptest::strategy::{BoxedStrategy, Just, Strategy};
use std::collections::BTreeMap;
use std::sync::Arc;

use super::answer::{answer_message, Answer, AnswerError, Ask, Payload};
#[cfg(feature = "proptest")]
use super::arbitrary::Arb;
use super::codec::{DecodeError, Encoder, Field, Reader, BIG_FIELD};
use super::data::Data;
use super::records::{
    CellChange, CheckSource, HistoryEntry, KnownMaster, NodeInfo, PartitionOffset, RowInfo,
    UndoSerial, UnfinishedTid,
};
use super::types::{
    Address, Checksum, ClusterState, ErrorCode, IdTime, NodeState, NodeType, NodeUUID,
};
use super::value::{field_name, Value};
use super::{Msg, Oid, PTid, Tid};
use crate::packet::ANSWER_BIT;

/// Generates the messages; see the module documentation.
macro_rules! messages {
    // What the kind of an entry adds: a request.
    (@kind $name:ident $code:literal ask $answer:ty) => {
        impl Ask for $name {
            type Answer = $answer;
        }

        const _: () = {
            assert!(
                $code & ANSWER_BIT == 0,
                concat!(stringify!($name), ": a request has no ANSWER_BIT")
            );
            let answer = <$answer as Answer>::ANSWER_CODE;
            assert!(
                answer == $code | ANSWER_BIT
                    || (answer == <Error as Msg>::CODE
                        && message_name($code | ANSWER_BIT).is_none()),
                concat!(
                    stringify!($name),
                    ": the answer to code c is the message of code c | ANSWER_BIT, \
                     or () (Error) if there is none"
                )
            );
        };
    };
    // An answer.
    (@kind $name:ident $code:literal answer) => {
        impl Answer for $name {
            const ANSWER_CODE: u16 = $code;
            const ANSWER_NAME: &'static str = stringify!($name);

            // Inline, as the wrappers it calls: the decoded message is then
            // moved once from `get_fields` to where the caller wants it.
            #[inline]
            fn from_answer(code: u16, payload: Payload<'_>) -> Result<Self, AnswerError> {
                answer_message(code, payload)
            }
        }

        const _: () = assert!(
            $code & ANSWER_BIT != 0 && message_name($code & !ANSWER_BIT).is_some(),
            concat!(
                stringify!($name),
                ": an answer has ANSWER_BIT and the code of its request"
            )
        );
    };
    // A notification.
    (@kind $name:ident $code:literal notify) => {
        const _: () = assert!(
            $code & ANSWER_BIT == 0 && message_name($code | ANSWER_BIT).is_none(),
            concat!(
                stringify!($name),
                ": a notification has no ANSWER_BIT and no answer message"
            )
        );
    };
    // `Error`.
    (@kind $name:ident $code:literal error) => {
        const _: () = assert!($code == ANSWER_BIT, "Error is the message of code ANSWER_BIT");
    };

    // The whole table, collected from the groups.
    ([] { $(
        $(#[$meta:meta])*
        $name:ident = $code:literal, $kind:ident $($answer:ty)? {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)?
        }
    )* }) => {
        $(
            $(#[$meta])*
            #[derive(Debug, Clone, PartialEq, Eq, Default)]
            pub struct $name {
                $( $(#[$fmeta])* pub $field: $ty, )*
            }

            impl $name {
                /// Write the fields, in wire order, to `e`.
                // unused_variables: messages without fields write nothing.
                #[allow(unused_variables)]
                fn put_fields<'a>(&'a self, e: &mut Encoder<'a, '_>) {
                    $( Field::put(&self.$field, e); )*
                }

                /// Read the fields from `r`, which must then be exhausted.
                /// Shared by `decode` and `decode_shared`, so that both are
                /// exactly as strict.
                // unused_mut: messages without fields only call finish().
                ///
                /// Always inlined, into [`Msg::decode`] (itself inlined into
                /// the typed callers) and into `message_from`: each builds
                /// the value where its caller wants it, instead of getting
                /// it back from a call and moving it.
                #[allow(unused_mut)]
                #[inline(always)]
                fn get_fields(mut r: Reader<'_>) -> Result<Self, DecodeError> {
                    $(
                        let $field = <$ty as Field>::get(&mut r).map_err(|kind| {
                            DecodeError::in_message(
                                Self::CODE,
                                Self::NAME,
                                Some(field_name(stringify!($field))),
                                kind,
                            )
                        })?;
                    )*
                    r.finish().map_err(|kind| {
                        DecodeError::in_message(Self::CODE, Self::NAME, None, kind)
                    })?;
                    Ok($name { $($field),* })
                }
            }

            impl $name {
                /// Decodes the payload `r` reads as a [`Message`]: the arm of
                /// [`Message::decode`] for this code, building the variant in
                /// place.
                fn message_from(r: Reader<'_>) -> Result<Message, DecodeError> {
                    Self::get_fields(r).map(Message::$name)
                }

                /// The reader of `buf[offset..]`, or the error naming this
                /// message if `offset` is beyond `buf`.
                fn shared_reader(buf: &Arc<Vec<u8>>, offset: usize) -> Result<Reader<'_>, DecodeError> {
                    Reader::shared(buf, offset).map_err(|kind| {
                        DecodeError::in_message($code, stringify!($name), None, kind)
                    })
                }
            }

            impl Msg for $name {
                const CODE: u16 = $code;
                const NAME: &'static str = stringify!($name);

                fn encoded_len(&self) -> usize {
                    0 $( + Field::encoded_len(&self.$field) )*
                }

                fn encode_into(&self, buf: &mut Vec<u8>) {
                    // One reservation up front: a large field (object data)
                    // is then copied exactly once, into `buf`.
                    buf.reserve(self.encoded_len());
                    let mut e = Encoder::new(buf);
                    self.put_fields(&mut e);
                    debug_assert!(e.into_segments().is_empty());
                }

                fn encode_parts<'a>(&'a self, buf: &mut Vec<u8>) -> Vec<(usize, &'a [u8])> {
                    // Reserve the whole length only when nothing can be
                    // borrowed: otherwise it would reserve room for the very
                    // blobs that are not copied (16 MiB for nothing). What
                    // goes into `buf` then is the small fields only.
                    let len = self.encoded_len();
                    if len < BIG_FIELD {
                        buf.reserve(len);
                    }
                    let mut e = Encoder::borrowing(buf);
                    self.put_fields(&mut e);
                    e.into_segments()
                }

                #[inline]
                fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
                    Self::get_fields(Reader::new(payload))
                }

                #[inline]
                fn decode_shared(buf: &Arc<Vec<u8>>, offset: usize) -> Result<Self, DecodeError> {
                    Self::get_fields(Self::shared_reader(buf, offset)?)
                }

                fn to_value(&self) -> Value {
                    Value::Struct(vec![
                        $( (field_name(stringify!($field)), Field::to_value(&self.$field)), )*
                    ])
                }

                fn into_message(self) -> Message {
                    Message::$name(self)
                }

                fn from_message(m: Message) -> Result<Self, Message> {
                    match m {
                        Message::$name(m) => Ok(m),
                        other => Err(other),
                    }
                }
            }

            impl From<$name> for Message {
                fn from(m: $name) -> Message {
                    Message::$name(m)
                }
            }

            messages!(@kind $name $code $kind $($answer)?);

            #[cfg(feature = "proptest")]
            impl proptest::arbitrary::Arbitrary for $name {
                type Parameters = ();
                type Strategy = BoxedStrategy<$name>;

                fn arbitrary_with((): ()) -> Self::Strategy {
                    // `Just(())` first: a message without fields still
                    // makes a tuple.
                    (Just(()), $( <$ty as Arb>::strategy(), )*)
                        .prop_map(|((), $($field,)*)| $name { $($field),* })
                        .boxed()
                }
            }
        )*

        /// All known messages.
        ///
        /// Non-exhaustive: a later protocol may add messages, so a `match`
        /// needs a `_` arm (e.g. to answer "not supported").
        ///
        /// ```
        /// use neonet::proto::{Message, Msg, Ping};
        /// use neonet::NodeLink;
        ///
        /// let (client, server) = NodeLink::pair()?;
        /// client.send1(&Ping {})?;
        /// let msg = server.accept()?.recv()?;
        /// match &msg {
        ///     Message::Ping(_) => assert_eq!(msg.code(), Ping::CODE),
        ///     other => panic!("unexpected {}", other.name()),
        /// }
        /// # Ok::<(), neonet::Error>(())
        /// ```
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Message {
            $(
                #[doc = concat!("A [`", stringify!($name), "`] message.")]
                $name($name),
            )*
        }

        impl Message {
            /// The message code (`ANSWER_BIT` set on answers).
            pub fn code(&self) -> u16 {
                match self {
                    $( Message::$name(_) => $code, )*
                }
            }

            /// The message name, e.g. `"GetObject"`.
            pub fn name(&self) -> &'static str {
                match self {
                    $( Message::$name(_) => stringify!($name), )*
                }
            }

            /// Payload length in bytes.
            pub fn encoded_len(&self) -> usize {
                match self {
                    $( Message::$name(m) => m.encoded_len(), )*
                }
            }

            /// Append the payload (no header) to `buf`.
            pub fn encode_into(&self, buf: &mut Vec<u8>) {
                match self {
                    $( Message::$name(m) => m.encode_into(buf), )*
                }
            }

            /// Append the payload (no header) to `buf`, except large blobs,
            /// which are returned as segments; see [`Msg::encode_parts`].
            pub fn encode_parts<'a>(&'a self, buf: &mut Vec<u8>) -> Vec<(usize, &'a [u8])> {
                match self {
                    $( Message::$name(m) => m.encode_parts(buf), )*
                }
            }

            /// The message as a generic tree of fields.
            pub fn to_value(&self) -> Value {
                match self {
                    $( Message::$name(m) => m.to_value(), )*
                }
            }

            /// Decode the payload of a message with code `code`; an unknown
            /// code is a [`DecodeError`] naming the code.
            #[inline]
            pub fn decode(code: u16, payload: &[u8]) -> Result<Message, DecodeError> {
                Message::decode_from(code, Reader::new(payload))
            }

            /// Decode the payload `buf[offset..]` of a message with code
            /// `code` from a shared packet buffer: like [`Message::decode`]
            /// (same errors), but large blobs are windows into `buf`; see
            /// [`Msg::decode_shared`].
            #[inline]
            pub fn decode_shared(
                code: u16,
                buf: &Arc<Vec<u8>>,
                offset: usize,
            ) -> Result<Message, DecodeError> {
                match Reader::shared(buf, offset) {
                    Ok(r) => Message::decode_from(code, r),
                    Err(kind) => Err(match message_name(code) {
                        Some(name) => DecodeError::in_message(code, name, None, kind),
                        None => DecodeError::unknown_code(code),
                    }),
                }
            }

            /// Decode what `r` reads as the message of code `code`: the
            /// dispatch, one `match` over all codes.
            fn decode_from(code: u16, r: Reader<'_>) -> Result<Message, DecodeError> {
                match code {
                    $( $code => $name::message_from(r), )*
                    _ => Err(DecodeError::unknown_code(code)),
                }
            }

            /// Decode a received payload of a message with code `code`
            /// ([`Message::decode`] or [`Message::decode_shared`]).
            #[inline]
            pub fn decode_payload(code: u16, payload: Payload<'_>) -> Result<Message, DecodeError> {
                match payload {
                    Payload::Bytes(b) => Message::decode(code, b),
                    Payload::Shared(buf, offset) => Message::decode_shared(code, buf, offset),
                }
            }
        }

        /// Name of the message with code `code`, if it is known.
        pub const fn message_name(code: u16) -> Option<&'static str> {
            match code {
                $( $code => Some(stringify!($name)), )*
                _ => None,
            }
        }

        /// Codes of all known messages, in table order.
        pub const MESSAGE_CODES: &[u16] = &[ $( $code ),* ];

        // Two messages with the same code would make decoding ambiguous:
        // refuse to compile.
        const _: () = {
            let codes = MESSAGE_CODES;
            let mut i = 0;
            while i < codes.len() {
                let mut j = i + 1;
                while j < codes.len() {
                    assert!(codes[i] != codes[j], "two messages share a code");
                    j += 1;
                }
                i += 1;
            }
        };

        #[cfg(feature = "proptest")]
        impl Message {
            /// Random messages of code `code` (`None` if no message has
            /// it), for property tests.
            pub fn arbitrary_of(code: u16) -> Option<BoxedStrategy<Message>> {
                use proptest::arbitrary::any;
                match code {
                    $( $code => Some(any::<$name>().prop_map(Message::$name).boxed()), )*
                    _ => None,
                }
            }
        }

        /// Any message, of any code.
        #[cfg(feature = "proptest")]
        impl proptest::arbitrary::Arbitrary for Message {
            type Parameters = ();
            type Strategy = BoxedStrategy<Message>;

            fn arbitrary_with((): ()) -> Self::Strategy {
                let all: Vec<BoxedStrategy<Message>> = MESSAGE_CODES
                    .iter()
                    .filter_map(|&code| Message::arbitrary_of(code))
                    .collect();
                proptest::strategy::Union::new(all).boxed()
            }
        }
    };
}

#[macro_use]
mod link;
#[macro_use]
mod cluster;
#[macro_use]
mod partition;
#[macro_use]
mod recovery;
#[macro_use]
mod commit;
#[macro_use]
mod read;
#[macro_use]
mod replication;
#[macro_use]
mod admin;

link_messages!([
    cluster_messages,
    partition_messages,
    recovery_messages,
    commit_messages,
    read_messages,
    replication_messages,
    admin_messages,
    messages
] {});
