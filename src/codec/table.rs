//! The one message macro: a table of messages in, for a codec, out come
//! the structs, their [`Msg`](super::Msg), [`Ask`](super::Ask) and
//! [`Answer`](super::Answer) impls, the enum of all messages with its
//! dispatch by code (one `match`), and the pairing checked when compiling.
//!
//! Each entry is a message: its doc comment, its name, its code, its kind,
//! and its fields in wire order with their types:
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
//!   `Error` with code `ACK`;
//! - `answer`: the answer to the request of code `code & !ANSWER_BIT`;
//! - `notify`: a notification, never answered;
//! - `error`: `Error`, the one message that may answer anything.
//!
//! The pairing rules are checked when compiling: a request names the
//! message of its code with `ANSWER_BIT`, or `()` only when there is none;
//! an answer has a request; a notification has no answer; no two messages
//! share a code.
//!
//! The codec is what the invoking module has in scope: `Encoder`, `Reader`
//! and `Field` (how each field type is written and read), and the three
//! functions that frame a message's fields — `args_len(n)`,
//! `put_args(&mut e, n)`, `get_args(&mut r, n)` (protocol 6: nothing;
//! NEO/py: a msgpack array of `n`). A table adds what only it has through
//! its `extras` macro, called as `extras!(@msg Name { field: Type, ... })`
//! for each message and `extras!(@enum Name, ...)` once.

/// Generates a table of messages; see the module documentation.
macro_rules! message_table {
    // What the kind of an entry adds: a request.
    (@kind $dialect:ty; $name:ident $code:literal ask $answer:ty) => {
        impl $crate::codec::Ask for $name {
            type Answer = $answer;
        }

        const _: () = {
            assert!(
                $code & $crate::packet::ANSWER_BIT == 0,
                concat!(stringify!($name), ": a request has no ANSWER_BIT")
            );
            let answer = <$answer as $crate::codec::Answer<$dialect>>::ANSWER_CODE;
            assert!(
                answer == $code | $crate::packet::ANSWER_BIT
                    || (answer == $crate::packet::ANSWER_BIT
                        && message_name($code | $crate::packet::ANSWER_BIT).is_none()),
                concat!(
                    stringify!($name),
                    ": the answer to code c is the message of code c | ANSWER_BIT, \
                     or () (Error) if there is none"
                )
            );
        };
    };
    // An answer.
    (@kind $dialect:ty; $name:ident $code:literal answer) => {
        impl $crate::codec::Answer<$dialect> for $name {
            const ANSWER_CODE: u16 = $code;
            const ANSWER_NAME: &'static str = stringify!($name);

            // Inline, as the wrappers it calls: the decoded message is then
            // moved once from `get_fields` to where the caller wants it.
            #[inline]
            fn from_answer(
                code: u16,
                payload: $crate::codec::Payload<'_>,
            ) -> Result<Self, $crate::codec::AnswerError> {
                $crate::codec::answer_message(code, payload)
            }
        }

        const _: () = assert!(
            $code & $crate::packet::ANSWER_BIT != 0
                && message_name($code & !$crate::packet::ANSWER_BIT).is_some(),
            concat!(
                stringify!($name),
                ": an answer has ANSWER_BIT and the code of its request"
            )
        );
    };
    // A notification.
    (@kind $dialect:ty; $name:ident $code:literal notify) => {
        const _: () = assert!(
            $code & $crate::packet::ANSWER_BIT == 0
                && message_name($code | $crate::packet::ANSWER_BIT).is_none(),
            concat!(
                stringify!($name),
                ": a notification has no ANSWER_BIT and no answer message"
            )
        );
    };
    // `Error`.
    (@kind $dialect:ty; $name:ident $code:literal error) => {
        const _: () = assert!(
            $code == $crate::packet::ANSWER_BIT,
            "Error is the message of code ANSWER_BIT"
        );
    };

    // The whole table.
    (
        dialect: $dialect:ty,
        derive: $derive:tt,
        enum_derive: $enum_derive:tt,
        extras: $extras:ident,
        table: { $(
            $(#[$meta:meta])*
            $name:ident = $code:literal, $kind:ident $($answer:ty)? {
                $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)?
            }
        )* }
    ) => {
        $(
            $(#[$meta])*
            #[derive $derive]
            pub struct $name {
                $( $(#[$fmeta])* pub $field: $ty, )*
            }

            impl $name {
                /// Write the fields, in wire order, to `e`.
                // unused_variables: messages without fields write nothing.
                #[allow(unused_variables)]
                fn put_fields<'a>(&'a self, e: &mut Encoder<'a, '_>) {
                    put_args(e, <Self as $crate::codec::Msg>::FIELDS.len());
                    $( Field::put(&self.$field, e); )*
                }

                /// Read the fields from `r`, which must then be exhausted.
                /// Shared by `decode` and `decode_shared`, so that both are
                /// exactly as strict. Always inlined, into `decode` (itself
                /// inlined into the typed callers) and into
                /// `message_from`: each builds the value where its caller
                /// wants it, instead of getting it back from a call and
                /// moving it.
                // unused_mut: messages without fields only call finish().
                #[allow(unused_mut)]
                #[inline(always)]
                fn get_fields(mut r: Reader<'_>) -> Result<Self, DecodeError> {
                    let message = |field, kind| {
                        DecodeError::in_message($code, stringify!($name), field, kind)
                    };
                    get_args(&mut r, <Self as $crate::codec::Msg>::FIELDS.len())
                        .map_err(|kind| message(None, kind))?;
                    $(
                        let $field = <$ty as Field>::get(&mut r)
                            .map_err(|kind| message(
                                Some($crate::codec::field_name(stringify!($field))),
                                kind,
                            ))?;
                    )*
                    r.finish().map_err(|kind| message(None, kind))?;
                    Ok($name { $($field),* })
                }

                /// Decodes the payload `r` reads as a `Message`: the arm of
                /// `Message::decode` for this code, building the variant in
                /// place.
                fn message_from(r: Reader<'_>) -> Result<Message, DecodeError> {
                    Self::get_fields(r).map(Message::$name)
                }

                /// The reader of `buf[offset..]`, or the error naming this
                /// message if `offset` is beyond `buf`.
                fn shared_reader(
                    buf: &std::sync::Arc<Vec<u8>>,
                    offset: usize,
                ) -> Result<Reader<'_>, DecodeError> {
                    Reader::shared(buf, offset).map_err(|kind| {
                        DecodeError::in_message($code, stringify!($name), None, kind)
                    })
                }
            }

            impl $crate::codec::Msg for $name {
                type Dialect = $dialect;
                const CODE: u16 = $code;
                const NAME: &'static str = stringify!($name);
                const FIELDS: &'static [&'static str] =
                    &[$($crate::codec::field_name(stringify!($field))),*];

                fn encoded_len(&self) -> usize {
                    args_len(Self::FIELDS.len()) $( + Field::encoded_len(&self.$field) )*
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
                    if len < $crate::proto::BIG_FIELD {
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
                fn decode_shared(
                    buf: &std::sync::Arc<Vec<u8>>,
                    offset: usize,
                ) -> Result<Self, DecodeError> {
                    Self::get_fields(Self::shared_reader(buf, offset)?)
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

            message_table!(@kind $dialect; $name $code $kind $($answer)?);

            $extras!(@msg $name { $($field: $ty),* });
        )*

        /// All the messages of the table.
        ///
        /// Non-exhaustive: a later protocol may add messages, so a `match`
        /// needs a `_` arm (e.g. to answer "not supported").
        #[derive $enum_derive]
        #[non_exhaustive]
        pub enum Message {
            $(
                #[doc = concat!("A [`", stringify!($name), "`] message.")]
                $name($name),
            )*
        }

        impl Message {
            /// The message code (`ANSWER_BIT` set on answers and `Error`).
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

            /// The names of the fields, in wire order.
            pub fn fields(&self) -> &'static [&'static str] {
                match self {
                    $( Message::$name(_) => <$name as $crate::codec::Msg>::FIELDS, )*
                }
            }

            /// Payload length in bytes.
            pub fn encoded_len(&self) -> usize {
                use $crate::codec::Msg;
                match self {
                    $( Message::$name(m) => m.encoded_len(), )*
                }
            }

            /// Append the payload to `buf`.
            pub fn encode_into(&self, buf: &mut Vec<u8>) {
                use $crate::codec::Msg;
                match self {
                    $( Message::$name(m) => m.encode_into(buf), )*
                }
            }

            /// Append the payload to `buf`, except large blobs, which are
            /// returned as segments; see [`Msg::encode_parts`](crate::Msg::encode_parts).
            pub fn encode_parts<'a>(&'a self, buf: &mut Vec<u8>) -> Vec<(usize, &'a [u8])> {
                use $crate::codec::Msg;
                match self {
                    $( Message::$name(m) => m.encode_parts(buf), )*
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
            /// [`Msg::decode_shared`](crate::Msg::decode_shared).
            #[inline]
            pub fn decode_shared(
                code: u16,
                buf: &std::sync::Arc<Vec<u8>>,
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
            pub fn decode_payload(
                code: u16,
                payload: $crate::codec::Payload<'_>,
            ) -> Result<Message, DecodeError> {
                match payload {
                    $crate::codec::Payload::Bytes(b) => Message::decode(code, b),
                    $crate::codec::Payload::Shared(buf, offset) => {
                        Message::decode_shared(code, buf, offset)
                    }
                }
            }
        }

        impl $crate::codec::Messages for Message {
            type Dialect = $dialect;

            fn code(&self) -> u16 {
                Message::code(self)
            }

            fn name(&self) -> &'static str {
                Message::name(self)
            }

            fn name_of(code: u16) -> Option<&'static str> {
                message_name(code)
            }

            fn decode_payload(
                code: u16,
                payload: $crate::codec::Payload<'_>,
            ) -> Result<Message, DecodeError> {
                Message::decode_payload(code, payload)
            }
        }

        /// Name of the message with code `code`, if the table has one.
        pub const fn message_name(code: u16) -> Option<&'static str> {
            match code {
                $( $code => Some(stringify!($name)), )*
                _ => None,
            }
        }

        /// What answers the request with code `code`: the answer message's
        /// name, or `"Error (ACK)"` for the requests answered by `Error`;
        /// `None` for notifications, answers and unknown codes.
        pub fn answer_name(code: u16) -> Option<&'static str> {
            match code {
                $( $code => message_table!(@answer_name $dialect; $kind $($answer)?), )*
                _ => None,
            }
        }

        /// Every message code of the table, in table order.
        pub const MESSAGE_CODES: &[u16] = &[$($code),*];

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

        $extras!(@enum $($name),*);
    };

    (@answer_name $dialect:ty; ask $answer:ty) => {
        Some(<$answer as $crate::codec::Answer<$dialect>>::ANSWER_NAME)
    };
    (@answer_name $dialect:ty; $kind:ident) => {
        None
    };
}

pub(crate) use message_table;
