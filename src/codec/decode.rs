//! What was wrong with a payload, in either dialect: one decode error
//! for the one decoding core (the budget beside it), whatever the link
//! speaks.

use std::fmt;

use super::budget::{DECODE_ALLOWANCE, DECODE_GROWTH};

/// Size from which a blob is borrowed by the encoder (when it may borrow)
/// and shared by the decoder (when the packet buffer is shared), instead of
/// copied.
///
/// Below it a copy costs less than what avoiding it does: one more I/O
/// vector per write, or a whole packet buffer kept alive by a few bytes.
/// Above it the copy dominates: at 16 MiB, copying (and page-faulting the
/// fresh buffer) takes longer than the socket transfer itself.
pub const BIG_FIELD: usize = 32 * 1024;

/// What was wrong with a payload; the part of a [`DecodeError`] that does not
/// depend on which message was being decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// No message has this code.
    UnknownCode,
    /// The payload ended in the middle of a field.
    Truncated {
        /// Bytes the field needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// The message was complete before the payload ended.
    TrailingBytes {
        /// How many bytes were left over.
        count: usize,
    },
    /// A length or count announces more than the rest of the payload can
    /// hold (checked before allocating anything).
    LengthTooLarge {
        /// The announced length (bytes) or count (items).
        len: u32,
        /// Smallest encoded size of one item (1 for strings and blobs).
        item_size: usize,
        /// Bytes that were left after the length itself.
        remaining: usize,
    },
    /// The decoded value would take more memory than the payload allows
    /// ([`DECODE_GROWTH`] × its size + [`DECODE_ALLOWANCE`], the decode
    /// budget of both dialects); checked before allocating.
    TooMuchMemory {
        /// Bytes the next allocation needed.
        needed: usize,
        /// Bytes of the budget that were left.
        left: usize,
    },
    /// What the msgpack dialect's decoding found wrong (`neopy` feature):
    /// a kind of its own, so that protocol 6's decoding has none of them.
    #[cfg(feature = "neopy")]
    Msgpack(MsgpackError),
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeErrorKind::UnknownCode => f.write_str("unknown message code"),
            DecodeErrorKind::Truncated { needed, remaining } => {
                write!(f, "truncated: need {needed} bytes, {remaining} remain")
            }
            DecodeErrorKind::TrailingBytes { count } => {
                write!(f, "{count} trailing bytes after the message")
            }
            DecodeErrorKind::TooMuchMemory { needed, left } => write!(
                f,
                "needs {needed} more bytes of memory, over the decode budget \
                 ({DECODE_GROWTH} x payload + {} MiB; {left} bytes left)",
                DECODE_ALLOWANCE >> 20
            ),
            DecodeErrorKind::LengthTooLarge {
                len,
                item_size,
                remaining,
            } => {
                if *item_size == 1 {
                    write!(
                        f,
                        "length {len} larger than the remaining input ({remaining} bytes)"
                    )
                } else {
                    write!(
                        f,
                        "count {len} (at least {item_size} bytes each) larger than the \
                         remaining input ({remaining} bytes)"
                    )
                }
            }
            #[cfg(feature = "neopy")]
            DecodeErrorKind::Msgpack(e) => fmt::Display::fmt(e, f),
        }
    }
}

/// What was wrong with a msgpack payload (NEO/py's dialect), beyond what
/// any payload can have wrong.
#[cfg(feature = "neopy")]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MsgpackError {
    /// a value of another type than the field's (the marker byte
    /// that came, e.g. `0x93` for an array of 3 where a `bin` was expected).
    UnexpectedType {
        /// What the field needed, e.g. `"bin"`, `"int"`, `"array"`.
        expected: &'static str,
        /// The msgpack marker byte that came instead.
        marker: u8,
    },
    /// an integer that does not fit the field's type (the field
    /// is named by the [`DecodeError`]).
    IntOutOfRange {
        /// The integer that came; an unsigned one beyond `i64::MAX` (which
        /// no field takes) shows as `i64::MAX`, so that this error stays as
        /// small as the others.
        value: i64,
    },
    /// a fixed-size array (a message's arguments, a record) with
    /// another number of elements.
    ArrayArity {
        /// Elements the record has.
        expected: usize,
        /// Elements that came.
        got: usize,
    },
    /// a `bin` of fixed size (an 8-byte oid or tid, a 20-byte
    /// checksum) with another length.
    BinLength {
        /// Bytes the field has.
        expected: usize,
        /// Bytes that came.
        got: usize,
    },
    /// an enum value (an ext type) of another enum, or whose
    /// payload is not one small integer.
    BadExt {
        /// The field's ext type code.
        expected: i8,
        /// The ext type code that came.
        got: i8,
    },
    /// values nested deeper than the dialect allows.
    TooDeep {
        /// The nesting bound.
        max: usize,
    },
    /// a `str` that is not UTF-8 in a free-form value (`any`),
    /// which keeps its bytes exactly and so cannot mend them. (NEO's own
    /// string fields, which are `bin`s, take any bytes.)
    NotUtf8,
}

#[cfg(feature = "neopy")]
impl fmt::Display for MsgpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MsgpackError::UnexpectedType { expected, marker } => {
                write!(f, "expected {expected}, got msgpack marker {marker:#04x}")
            }
            MsgpackError::IntOutOfRange { value } => {
                write!(f, "integer {value} out of range")
            }
            MsgpackError::ArrayArity { expected, got } => {
                write!(f, "array of {got} elements, expected {expected}")
            }
            MsgpackError::BinLength { expected, got } => {
                write!(f, "bin of {got} bytes, expected {expected}")
            }
            MsgpackError::BadExt { expected, got } => {
                write!(f, "bad enum value: ext type {got}, expected ext type {expected} holding one small integer")
            }
            MsgpackError::TooDeep { max } => {
                write!(f, "values nested deeper than {max} levels")
            }
            MsgpackError::NotUtf8 => f.write_str("msgpack str that is not UTF-8"),
        }
    }
}

/// A payload could not be decoded as a message.
///
/// Names the message code (and the message and field, when known) and what
/// was wrong. Display reads like
/// `decode GetObject (0x0020): field at: truncated: need 8 bytes, 4 remain`
/// or `unknown message code 0x1234`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DecodeError {
    code: u16,
    name: Option<&'static str>,
    field: Option<&'static str>,
    kind: DecodeErrorKind,
}

impl DecodeError {
    /// An error while decoding message `name` (code `code`), in `field` if the
    /// error is about one field (`None` e.g. for trailing bytes).
    pub(crate) fn in_message(
        code: u16,
        name: &'static str,
        field: Option<&'static str>,
        kind: DecodeErrorKind,
    ) -> DecodeError {
        DecodeError {
            code,
            name: Some(name),
            field,
            kind,
        }
    }

    /// The error for a code no message has.
    pub(crate) fn unknown_code(code: u16) -> DecodeError {
        DecodeError {
            code,
            name: None,
            field: None,
            kind: DecodeErrorKind::UnknownCode,
        }
    }

    /// The message code of the payload.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The message name, if the code is known.
    pub fn name(&self) -> Option<&'static str> {
        self.name
    }

    /// The field being decoded when the error happened, if any.
    pub fn field(&self) -> Option<&'static str> {
        self.field
    }

    /// What was wrong.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }
}

// Display by hand: the text depends on which parts are known, which
// thiserror's format attributes cannot express.
impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(name) = self.name else {
            return write!(f, "{} {:#06x}", self.kind, self.code);
        };
        write!(f, "decode {name} ({:#06x}): ", self.code)?;
        if let Some(field) = self.field {
            write!(f, "field {field}: ")?;
        }
        write!(f, "{}", self.kind)
    }
}

/// Bytes in hex, for the messages of errors on a stream that is not NEO.
pub(crate) struct Hex<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}
