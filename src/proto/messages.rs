//! The declarative table of messages.
//!
//! Each entry of the `messages!` table below is a message: its name, its
//! code, and its fields in wire order with their types. The macro generates,
//! for each entry, the struct (all fields public), its [`Msg`] impl, a
//! variant of [`Message`] and `From<Msg> for Message`; and once for the whole
//! table, [`Message`]'s dispatch by code, [`message_name`] and
//! [`MESSAGE_CODES`]. Every field type must implement
//! [`Field`], which is where the encoding rules live.
//!
//! To add a message, add an entry (doc comments included) to the table; if
//! it needs a field type that does not exist yet, implement `Field` for it
//! (in `types.rs`). Two messages with the same code do not compile.

use std::sync::Arc;

use super::codec::{DecodeError, Encoder, Field, Reader, BIG_FIELD};
use super::data::Data;
use super::types::{Address, Checksum, ErrorCode, IdTime, NodeType, NodeUUID};
use super::{Msg, Oid, Tid};

/// Generates the messages; see the module documentation.
macro_rules! messages {
    ($(
        $(#[$meta:meta])*
        $name:ident = $code:expr => {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)?
        }
    )*) => {
        $(
            $(#[$meta])*
            #[derive(Debug, Clone, PartialEq, Default)]
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
                #[allow(unused_mut)]
                fn get_fields(mut r: Reader<'_>) -> Result<Self, DecodeError> {
                    $(
                        let $field = <$ty as Field>::get(&mut r).map_err(|kind| {
                            DecodeError::in_message(
                                Self::CODE, Self::NAME, Some(stringify!($field)), kind)
                        })?;
                    )*
                    r.finish().map_err(|kind| {
                        DecodeError::in_message(Self::CODE, Self::NAME, None, kind)
                    })?;
                    Ok($name { $($field),* })
                }
            }

            impl Msg for $name {
                const CODE: u16 = $code;
                const NAME: &'static str = stringify!($name);

                fn encoded_len(&self) -> usize {
                    0 $( + Field::encoded_len(&self.$field) )*
                }

                fn encode_into(&self, buf: &mut Vec<u8>) {
                    // One reservation up front: a large field (the data of
                    // AnswerObject) is then copied exactly once, into `buf`.
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

                fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
                    Self::get_fields(Reader::new(payload))
                }

                fn decode_shared(buf: &Arc<Vec<u8>>, offset: usize) -> Result<Self, DecodeError> {
                    let r = Reader::shared(buf, offset).map_err(|kind| {
                        DecodeError::in_message(Self::CODE, Self::NAME, None, kind)
                    })?;
                    Self::get_fields(r)
                }

                fn into_message(self) -> Message {
                    Message::$name(self)
                }

                fn from_message(m: Message) -> Result<Self, Message> {
                    // unreachable_patterns: a table of one message.
                    #[allow(unreachable_patterns)]
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
        )*

        /// All known messages.
        #[derive(Debug, Clone, PartialEq)]
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
                    $( Message::$name(_) => <$name as Msg>::CODE, )*
                }
            }

            /// The message name, e.g. `"GetObject"`.
            pub fn name(&self) -> &'static str {
                match self {
                    $( Message::$name(_) => <$name as Msg>::NAME, )*
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

            /// Decode the payload of a message with code `code`; an unknown
            /// code is a [`DecodeError`] naming the code.
            pub fn decode(code: u16, payload: &[u8]) -> Result<Message, DecodeError> {
                $(
                    if code == <$name as Msg>::CODE {
                        return <$name as Msg>::decode(payload).map(Message::$name);
                    }
                )*
                Err(DecodeError::unknown_code(code))
            }

            /// Decode the payload `buf[offset..]` of a message with code
            /// `code` from a shared packet buffer: like [`Message::decode`]
            /// (same errors), but large blobs are windows into `buf`; see
            /// [`Msg::decode_shared`].
            pub fn decode_shared(
                code: u16,
                buf: &Arc<Vec<u8>>,
                offset: usize,
            ) -> Result<Message, DecodeError> {
                $(
                    if code == <$name as Msg>::CODE {
                        return <$name as Msg>::decode_shared(buf, offset).map(Message::$name);
                    }
                )*
                Err(DecodeError::unknown_code(code))
            }
        }

        /// Name of the message with code `code`, if it is known.
        pub fn message_name(code: u16) -> Option<&'static str> {
            $(
                if code == <$name as Msg>::CODE {
                    return Some(<$name as Msg>::NAME);
                }
            )*
            None
        }

        /// Codes of all known messages, in table order.
        pub const MESSAGE_CODES: &[u16] = &[ $( <$name as Msg>::CODE ),* ];

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
    };
}

messages! {
    /// Answer reporting an error, or acknowledging a request (`ACK`).
    ///
    /// Also sent by the link itself with `PROTOCOL_ERROR` for "connection
    /// closed" / "connection refused" (DESIGN §4).
    Error = 0x8000 => {
        /// What kind of error.
        code: ErrorCode,
        /// Human-readable description.
        message: String,
    }

    /// First request on a new link: who we are and what we want.
    RequestIdentification = 0x0001 => {
        /// Type of the node that identifies itself.
        node_type: NodeType,
        /// Its id, or 0 if it has none yet.
        uuid: NodeUUID,
        /// Address it listens on (empty host if none).
        address: Address,
        /// Name of the cluster it wants to join.
        cluster_name: String,
        /// When it identified itself, or "no time".
        id_time: IdTime,
        /// Paths of the devices of a storage node.
        dev_path: Vec<String>,
        /// Ids of new nodes.
        new_nid: Vec<u32>,
    }

    /// Answer to [`RequestIdentification`].
    AcceptIdentification = 0x8001 => {
        /// Type of the node that accepted.
        node_type: NodeType,
        /// Id of the node that accepted.
        my_uuid: NodeUUID,
        /// Id assigned to the node that identified itself.
        your_uuid: NodeUUID,
    }

    /// Liveness check; answered by [`Pong`].
    Ping = 0x0002 => {}

    /// Answer to [`Ping`].
    Pong = 0x8002 => {}

    /// Ask the peer to close the link (sent to a client).
    CloseClient = 0x0003 => {}

    /// Read an object: the revision current at `at`, or the last one before
    /// `before` (`INVALID_TID` for "not given").
    GetObject = 0x0020 => {
        /// The object.
        oid: Oid,
        /// Read the revision current at this tid.
        at: Tid,
        /// Read the last revision before this tid.
        before: Tid,
    }

    /// Answer to [`GetObject`]: one revision of an object.
    AnswerObject = 0x8020 => {
        /// The object.
        oid: Oid,
        /// Tid of the revision.
        serial: Tid,
        /// Tid of the next revision (`INVALID_TID` if none).
        next_serial: Tid,
        /// Whether `data` is compressed.
        compression: bool,
        /// SHA-1 of `data`.
        checksum: Checksum,
        /// The object's data (a byte blob). Borrowed, not copied, by
        /// `encode_parts` when large; a window into the packet buffer when
        /// large and decoded by `decode_shared`.
        data: Data,
        /// If not 0, the revision whose data this revision reuses (undo).
        data_serial: Tid,
    }
}

#[cfg(test)]
mod tests {
    use super::super::INVALID_TID;
    use super::*;
    use crate::proto::codec::DecodeErrorKind;

    fn encode<M: Msg>(m: &M) -> Vec<u8> {
        let mut buf = vec![0xee]; // encode_into appends
        m.encode_into(&mut buf);
        assert_eq!(buf[0], 0xee);
        buf.remove(0);
        assert_eq!(buf.len(), m.encoded_len());
        buf
    }

    #[test]
    fn get_object() {
        let m = GetObject {
            oid: 0x0102030405060708,
            at: INVALID_TID,
            before: 0,
        };
        let b = encode(&m);
        assert_eq!(
            b,
            [
                1, 2, 3, 4, 5, 6, 7, 8, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0,
                0, 0
            ]
        );
        assert_eq!(GetObject::decode(&b), Ok(m.clone()));
        assert_eq!(Message::decode(0x20, &b), Ok(Message::GetObject(m)));
    }

    #[test]
    fn empty_messages() {
        assert_eq!(encode(&Ping {}), Vec::<u8>::new());
        assert_eq!(Message::decode(2, &[]), Ok(Message::Ping(Ping {})));
        let err = Message::decode(0x8002, &[0]).unwrap_err();
        assert_eq!(err.kind(), &DecodeErrorKind::TrailingBytes { count: 1 });
        assert_eq!(
            err.to_string(),
            "decode Pong (0x8002): 1 trailing bytes after the message"
        );
    }

    #[test]
    fn errors_name_the_field() {
        let err = Message::decode(0x8020, &[0; 24]).unwrap_err();
        assert_eq!(err.code(), 0x8020);
        assert_eq!(err.name(), Some("AnswerObject"));
        assert_eq!(err.field(), Some("compression"));
        let mut b = encode(&AnswerObject::default());
        b[24] = 2;
        let err = AnswerObject::decode(&b).unwrap_err();
        assert_eq!(err.kind(), &DecodeErrorKind::BadBool(2));
    }

    #[test]
    fn dispatch() {
        assert_eq!(MESSAGE_CODES.len(), 8);
        for &code in MESSAGE_CODES {
            let name = message_name(code).unwrap();
            // every message decodes from its default's encoding
            let default = match code {
                0x8000 => Message::from(Error::default()),
                0x0001 => RequestIdentification::default().into(),
                0x8001 => AcceptIdentification::default().into(),
                0x0002 => Ping::default().into(),
                0x8002 => Pong::default().into(),
                0x0003 => CloseClient::default().into(),
                0x0020 => GetObject::default().into(),
                0x8020 => AnswerObject::default().into(),
                _ => unreachable!("code {code:#x} missing from this test"),
            };
            assert_eq!(default.code(), code);
            assert_eq!(default.name(), name);
            let mut b = Vec::new();
            default.encode_into(&mut b);
            assert_eq!(b.len(), default.encoded_len());
            assert_eq!(Message::decode(code, &b).unwrap(), default);
        }
        assert_eq!(message_name(0x8021), None);
        let err = Message::decode(0x8021, &[]).unwrap_err();
        assert_eq!(err.to_string(), "unknown message code 0x8021");
    }

    #[test]
    fn into_and_from_message() {
        let m = Ping {}.into_message();
        assert_eq!(Ping::from_message(m.clone()), Ok(Ping {}));
        assert_eq!(Pong::from_message(m.clone()), Err(m));
    }
}
