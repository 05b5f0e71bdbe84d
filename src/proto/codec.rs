//! Field codecs of the binary "N" encoding (ARCHITECTURE.md, "Messages").
//!
//! Every field type of a message implements [`Field`]: its encoded length,
//! how to append it to an [`Encoder`], how to read it back from a
//! [`Reader`]. Messages are then plain sequences of fields (see
//! `messages.rs`), so the rules below are written once, here:
//!
//! - integers are fixed-width big-endian, no padding;
//! - `bool` is one byte: written 0 or 1, and any non-zero byte reads as
//!   `true` (as NEO/go reads it);
//! - `String` is a u32 byte length then the bytes. NEO/go does not check
//!   that they are UTF-8, so neither does decoding fail on them: invalid
//!   sequences become U+FFFD (see [`Field`]'s impl for `String`);
//! - `Vec<T>` is a u32 count then each item. `Vec<u8>` is therefore a byte
//!   blob (u32 length + bytes): in the N encoding a list of bytes and a blob
//!   are the same thing. `u8` overrides the list hooks of [`Field`] so that
//!   blobs are copied with one `memcpy` instead of byte by byte;
//! - `BTreeMap<K, V>` is a u32 count then (key, value) pairs, written in key
//!   order; read in any order, a repeated key keeping the last value (as
//!   NEO/go does);
//! - [`Data`] is a byte blob too, whose bytes may share the buffer of the
//!   packet they arrived in.
//!
//! Encoding is canonical (sorted maps, bools 0/1, one NaN), decoding is
//! lenient where NEO/go is; so a value decoded from any payload re-encodes
//! to that payload's canonical form, which decodes to the same value.
//!
//! # Large blobs travel without copies
//!
//! On the way out, an [`Encoder`] either copies everything into the
//! caller's buffer (`encode_into`), or *borrows* blobs of at least
//! [`BIG_FIELD`] bytes ([`Encoder::big`]): it records where in the buffer
//! they go and returns them as segments, so that the packet can be written
//! with one vectored write (`writev`) of buffer pieces and blobs, and the
//! blob is never copied in user space (`encode_parts`).
//!
//! On the way in, a [`Reader`] may know the shared buffer (`Arc<Vec<u8>>`)
//! the payload is the tail of ([`Reader::shared`]); a [`Data`] of at least
//! [`BIG_FIELD`] bytes is then a window into that buffer instead of a copy
//! (`decode_shared`). Smaller blobs are always copied: for them a copy is
//! cheaper than the bookkeeping, and a small value should not keep a packet
//! buffer alive.
//!
//! # Bounded memory
//!
//! Decoding never panics, and what it allocates is bounded by the payload,
//! by the same rule as NEO/py's decoder (`crate::budget`, one code path
//! for both dialects):
//!
//! - every length or count is checked against the bytes that remain
//!   *before* anything is allocated (a list of `n` items needs at least
//!   `n * T::MIN_LEN` bytes), which also bounds the work;
//! - every allocation is charged, before it is made, to the payload's
//!   budget of [`DECODE_GROWTH`] bytes per payload byte plus
//!   [`DECODE_ALLOWANCE`] ([`Reader::budget`]); a payload
//!   whose value would need more is a [`DecodeErrorKind::TooMuchMemory`]
//!   error naming the field, and nothing of that size is allocated.
//!
//! So decoding a payload of `n` bytes allocates at most
//! `4 × n + 1 MiB` in all. The budget matters for lists of items that are
//! small on the wire but not in memory: an empty string is 4 bytes on the
//! wire and 24 in a `Vec<String>` (6×), an empty `Address` 4 and 32 (8×),
//! an empty row of a partition table 4 and 24. A value that is mostly such
//! empty items and larger than the allowance (e.g. 16 M empty `dev_path`
//! strings, 64 MiB that would take 384 MiB) is refused; real messages are
//! far below the factor (object ids 1×, cells of a partition table ≈ 2×,
//! node lists < 3×).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::data::Data;
use super::value::Value;
use crate::budget::Budget;
pub use crate::budget::{DECODE_ALLOWANCE, DECODE_GROWTH};

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
    // The kinds below come from the msgpack dialect (`crate::neopy`), which
    // shares this error type so that callers match on one decode error
    // whatever the link speaks.
    /// msgpack: a value of another type than the field's (the marker byte
    /// that came, e.g. `0x93` for an array of 3 where a `bin` was expected).
    UnexpectedType {
        /// What the field needed, e.g. `"bin"`, `"int"`, `"array"`.
        expected: &'static str,
        /// The msgpack marker byte that came instead.
        marker: u8,
    },
    /// msgpack: an integer that does not fit the field's type (the field
    /// is named by the [`DecodeError`]).
    IntOutOfRange {
        /// The integer that came; an unsigned one beyond `i64::MAX` (which
        /// no field takes) shows as `i64::MAX`, so that this error stays as
        /// small as the others.
        value: i64,
    },
    /// msgpack: a fixed-size array (a message's arguments, a record) with
    /// another number of elements.
    ArrayArity {
        /// Elements the record has.
        expected: usize,
        /// Elements that came.
        got: usize,
    },
    /// msgpack: a `bin` of fixed size (an 8-byte oid or tid, a 20-byte
    /// checksum) with another length.
    BinLength {
        /// Bytes the field has.
        expected: usize,
        /// Bytes that came.
        got: usize,
    },
    /// msgpack: an enum value (an ext type) of another enum, or whose
    /// payload is not one small integer.
    BadExt {
        /// The field's ext type code.
        expected: i8,
        /// The ext type code that came.
        got: i8,
    },
    /// msgpack: values nested deeper than the dialect allows.
    TooDeep {
        /// The nesting bound.
        max: usize,
    },
    /// msgpack: a `str` that is not UTF-8 in a free-form value (`any`),
    /// which keeps its bytes exactly and so cannot mend them. (NEO's own
    /// string fields, which are `bin`s, take any bytes.)
    NotUtf8,
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
            DecodeErrorKind::UnexpectedType { expected, marker } => {
                write!(f, "expected {expected}, got msgpack marker {marker:#04x}")
            }
            DecodeErrorKind::IntOutOfRange { value } => {
                write!(f, "integer {value} out of range")
            }
            DecodeErrorKind::ArrayArity { expected, got } => {
                write!(f, "array of {got} elements, expected {expected}")
            }
            DecodeErrorKind::BinLength { expected, got } => {
                write!(f, "bin of {got} bytes, expected {expected}")
            }
            DecodeErrorKind::BadExt { expected, got } => {
                write!(f, "bad enum value: ext type {got}, expected ext type {expected} holding one small integer")
            }
            DecodeErrorKind::TooDeep { max } => {
                write!(f, "values nested deeper than {max} levels")
            }
            DecodeErrorKind::NotUtf8 => f.write_str("msgpack str that is not UTF-8"),
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

/// A cursor over the payload being decoded.
///
/// Every read is bounds-checked and fails with [`DecodeErrorKind::Truncated`]
/// rather than panicking.
///
/// A reader made with [`Reader::shared`] also knows the shared buffer the
/// payload is the tail of, so that [`Reader::take_data`] can hand out large
/// blobs as windows into it rather than copies.
#[derive(Clone)]
pub struct Reader<'a> {
    /// What is left to read. When `shared` is set, always a suffix of the
    /// shared buffer (reads only move its start), so its position in that
    /// buffer is `buf.len() - rest.len()`.
    rest: &'a [u8],
    /// The packet buffer the payload is the tail of, if it is shared.
    shared: Option<&'a Arc<Vec<u8>>>,
    /// What the decoder may still allocate (see [`Reader::budget`]).
    budget: Budget,
}

impl<'a> Reader<'a> {
    /// A reader over `input`; blobs are copied out of it.
    pub fn new(input: &'a [u8]) -> Reader<'a> {
        Reader {
            rest: input,
            shared: None,
            budget: Budget::for_input(input.len()),
        }
    }

    /// A reader over the payload `buf[offset..]` of a shared packet buffer
    /// (typically a whole packet, with `offset` the header size): large
    /// [`Data`] blobs become windows into `buf`, see [`Reader::take_data`].
    ///
    /// An `offset` beyond the end of `buf` is [`DecodeErrorKind::Truncated`]
    /// (the payload would start after the input ended), not a panic.
    pub fn shared(buf: &'a Arc<Vec<u8>>, offset: usize) -> Result<Reader<'a>, DecodeErrorKind> {
        match buf.get(offset..) {
            Some(rest) => Ok(Reader {
                rest,
                shared: Some(buf),
                budget: Budget::for_input(rest.len()),
            }),
            None => Err(DecodeErrorKind::Truncated {
                needed: offset,
                remaining: buf.len(),
            }),
        }
    }

    /// Whether everything was read.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Read the next `n` bytes, borrowed from the input.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeErrorKind> {
        if n > self.rest.len() {
            return Err(DecodeErrorKind::Truncated {
                needed: n,
                remaining: self.rest.len(),
            });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// Read the next `N` bytes as an array (for fixed-width fields).
    pub fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeErrorKind> {
        match self.rest.split_first_chunk::<N>() {
            Some((head, tail)) => {
                self.rest = tail;
                Ok(*head)
            }
            None => Err(DecodeErrorKind::Truncated {
                needed: N,
                remaining: self.rest.len(),
            }),
        }
    }

    /// Read the next `n` bytes as [`Data`]: a window into the shared
    /// buffer (no copy) if the reader has one and `n >= BIG_FIELD`, an owned
    /// copy otherwise.
    pub fn take_data(&mut self, n: usize) -> Result<Data, DecodeErrorKind> {
        // Where the bytes start in the shared buffer: `rest` is its suffix
        // (see the field), so this cannot underflow.
        let start = self.shared.map_or(0, |buf| buf.len() - self.rest.len());
        let bytes = self.take(n)?;
        match self.shared {
            // `take` succeeded, so start + n <= buf.len(): the window is in
            // bounds and `from_shared` does not panic.
            Some(buf) if n >= BIG_FIELD => Ok(Data::from_shared(Arc::clone(buf), start..start + n)),
            _ => self.budget.copy(bytes).map(Data::from),
        }
    }

    /// Read a u32 length (or count) prefix and check that that many items of
    /// at least `item_size` bytes each fit in what remains.
    ///
    /// This is the check that keeps a forged length (say 0xffffffff in a
    /// 20-byte payload) from turning into a huge allocation. An `item_size`
    /// of 0 is treated as 1, so that even a list of empty items cannot make
    /// the decoder loop more times than there are input bytes.
    pub fn length(&mut self, item_size: usize) -> Result<usize, DecodeErrorKind> {
        let len = u32::from_be_bytes(self.take_array()?);
        let remaining = self.rest.len();
        let item_size = item_size.max(1);
        // u64 arithmetic: u32 * usize cannot overflow it for any item size a
        // real field type has; saturate anyway so that it is never wrong.
        let needed = u64::from(len).saturating_mul(item_size as u64);
        if needed > remaining as u64 {
            return Err(DecodeErrorKind::LengthTooLarge {
                len,
                item_size,
                remaining,
            });
        }
        // needed <= remaining, so len fits in usize.
        Ok(len as usize)
    }

    /// The payload's allocation budget (see `crate::budget`).
    ///
    /// Every [`Field::get`] that allocates does so through it (its helpers
    /// charge what they then allocate, and fail with
    /// [`DecodeErrorKind::TooMuchMemory`] beforehand when it is spent), so
    /// that decoding a payload of `n` bytes allocates at most
    /// [`DECODE_GROWTH`] × `n` + [`DECODE_ALLOWANCE`] bytes.
    pub(crate) fn budget(&mut self) -> &mut Budget {
        &mut self.budget
    }

    /// Succeed only if everything was read: a payload longer than its message
    /// is an error (it would not re-encode to the same bytes).
    pub fn finish(&self) -> Result<(), DecodeErrorKind> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeErrorKind::TrailingBytes {
                count: self.rest.len(),
            })
        }
    }
}

// By hand: the derived Debug would print every remaining byte, and the
// whole shared buffer — megabytes for a large object.
impl fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("remaining", &self.rest.len())
            .field("shared", &self.shared.is_some())
            .field("budget", &self.budget.left())
            .finish()
    }
}

/// Where an encoder puts a payload: small fields are copied into a buffer,
/// large blobs may be borrowed (see the module documentation).
///
/// The borrowed blobs are *segments*: `(position, bytes)` pairs, meaning
/// that `bytes` go on the wire right before `buf[position..]` (positions are
/// indices into the whole buffer, including whatever it held before the
/// encoder started). Writing the buffer pieces and the segments in order
/// gives the same bytes as a copying encoder; see
/// [`packet_io_slices`](super::packet_io_slices).
pub struct Encoder<'a, 'b> {
    /// Where the copied bytes go.
    buf: &'b mut Vec<u8>,
    /// The borrowed blobs, in order (so positions never decrease).
    segs: Vec<(usize, &'a [u8])>,
    /// Whether [`Encoder::big`] may borrow.
    borrow: bool,
}

impl<'a, 'b> Encoder<'a, 'b> {
    /// An encoder that copies everything into `buf` (appending to it).
    pub fn new(buf: &'b mut Vec<u8>) -> Encoder<'a, 'b> {
        Encoder {
            buf,
            segs: Vec::new(),
            borrow: false,
        }
    }

    /// An encoder that appends to `buf`, except blobs of at least
    /// [`BIG_FIELD`] bytes, which it borrows (see [`Encoder::big`]).
    pub fn borrowing(buf: &'b mut Vec<u8>) -> Encoder<'a, 'b> {
        Encoder {
            buf,
            segs: Vec::new(),
            borrow: true,
        }
    }

    /// Append one byte.
    pub fn byte(&mut self, b: u8) {
        self.buf.push(b);
    }

    /// Append `bytes` (copied: for small fields).
    pub fn bytes(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Append a u32 length (or count) prefix.
    ///
    /// # Panics
    /// If `len` does not fit in a u32. Such a field could never be sent
    /// anyway (a packet is at most `MAX_PACKET_SIZE` = 64 MiB), so this is a
    /// programming error, not a wire condition.
    pub fn length(&mut self, len: usize) {
        let len = u32::try_from(len).expect("N encoding: length or count exceeds u32::MAX");
        self.bytes(&len.to_be_bytes());
    }

    /// Append the bytes of a blob that may be large: borrowed as a segment
    /// at the current position if this encoder borrows and the blob has at
    /// least [`BIG_FIELD`] bytes, copied otherwise.
    pub fn big(&mut self, bytes: &'a [u8]) {
        if self.borrow && bytes.len() >= BIG_FIELD {
            self.segs.push((self.buf.len(), bytes));
        } else {
            self.bytes(bytes);
        }
    }

    /// The borrowed segments, in wire order (always empty for an encoder
    /// made with [`Encoder::new`]).
    #[must_use]
    pub fn into_segments(self) -> Vec<(usize, &'a [u8])> {
        self.segs
    }
}

// By hand: the buffer may hold megabytes.
impl fmt::Debug for Encoder<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoder")
            .field("buffered", &self.buf.len())
            .field("segments", &self.segs.len())
            .field("borrow", &self.borrow)
            .finish()
    }
}

/// How a message's fields are framed in protocol 6: not at all, they
/// follow one another (the packet header says the payload's length).
pub(crate) fn args_len(_fields: usize) -> usize {
    0
}

/// See [`args_len`]: nothing to write.
pub(crate) fn put_args(_e: &mut Encoder<'_, '_>, _fields: usize) {}

/// See [`args_len`]: nothing to read.
pub(crate) fn get_args(_r: &mut Reader<'_>, _fields: usize) -> Result<(), DecodeErrorKind> {
    Ok(())
}

/// A type that can be a message field (or an item of a list field).
///
/// `put` must write exactly `encoded_len()` bytes (copied or borrowed), and
/// `get` must read back what `put` wrote: `get` after `put` gives an equal
/// value. `get` may accept more than `put` writes (any non-zero bool byte,
/// maps in any order) as long as the value it gives encodes canonically.
/// A `get` that allocates charges the reader's budget first
/// ([`Reader::budget`]).
pub trait Field: Sized {
    /// Smallest possible encoded size of a value, in bytes. Used to bound
    /// list counts against the remaining input before allocating.
    const MIN_LEN: usize;

    /// Encoded size of this value, in bytes.
    fn encoded_len(&self) -> usize;

    /// Write the encoding of this value to `e`.
    ///
    /// The lifetime lets an encoder borrow large blobs of the value (see
    /// [`Encoder::big`]) instead of copying them.
    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>);

    /// Read a value.
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind>;

    /// The value as a generic [`Value`] tree.
    fn to_value(&self) -> Value;

    /// Encoded size of the items of a list (count prefix excluded).
    ///
    /// A hook so that a fixed-size type (here `u8`) can answer without a
    /// loop; the default sums the items.
    fn list_encoded_len(items: &[Self]) -> usize {
        items.iter().map(Field::encoded_len).sum()
    }

    /// Append the items of a list (count prefix excluded).
    ///
    /// A hook so that `Vec<u8>` (a byte blob) is one copy, or borrowed when
    /// large; the default puts the items one by one.
    fn put_list<'a>(items: &'a [Self], e: &mut Encoder<'a, '_>) {
        for item in items {
            item.put(e);
        }
    }

    /// Read `count` items of a list whose count prefix was already read and
    /// checked with [`Reader::length`].
    ///
    /// A hook so that `Vec<u8>` (a byte blob) is one copy; the default
    /// charges the list's memory, then gets the items one by one.
    fn get_list(r: &mut Reader<'_>, count: usize) -> Result<Vec<Self>, DecodeErrorKind> {
        let mut items = r.budget().vec(count)?;
        for _ in 0..count {
            items.push(Self::get(r)?);
        }
        Ok(items)
    }

    /// The items of a list as a [`Value`]: a [`Value::List`], except for
    /// `u8`, whose lists are byte blobs ([`Value::Bytes`]).
    fn list_to_value(items: &[Self]) -> Value {
        Value::List(items.iter().map(Field::to_value).collect())
    }
}

/// Fixed-width big-endian integers.
macro_rules! int_fields {
    ($($t:ty),* $(,)?) => {$(
        impl Field for $t {
            const MIN_LEN: usize = std::mem::size_of::<$t>();

            fn encoded_len(&self) -> usize {
                std::mem::size_of::<$t>()
            }

            fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
                e.bytes(&self.to_be_bytes());
            }

            fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
                Ok(<$t>::from_be_bytes(r.take_array()?))
            }

            fn to_value(&self) -> Value {
                Value::Int(i128::from(*self))
            }
        }
    )*};
}

int_fields!(i8, u16, i16, u32, i32, u64, i64);

// u8 by hand: same encoding as the other integers, plus the list hooks that
// make `Vec<u8>` a byte blob copied in one go (or borrowed, when large).
impl Field for u8 {
    const MIN_LEN: usize = 1;

    fn encoded_len(&self) -> usize {
        1
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        e.byte(*self);
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        let [b] = r.take_array()?;
        Ok(b)
    }

    fn to_value(&self) -> Value {
        Value::Int(i128::from(*self))
    }

    fn list_encoded_len(items: &[u8]) -> usize {
        items.len()
    }

    fn put_list<'a>(items: &'a [u8], e: &mut Encoder<'a, '_>) {
        e.big(items);
    }

    fn get_list(r: &mut Reader<'_>, count: usize) -> Result<Vec<u8>, DecodeErrorKind> {
        let bytes = r.take(count)?;
        r.budget().copy(bytes)
    }

    fn list_to_value(items: &[u8]) -> Value {
        Value::Bytes(items.to_vec())
    }
}

/// Written 0 or 1; any non-zero byte reads as `true`, as NEO/go reads it
/// (so `true` re-encodes as 1 whatever byte it came from).
impl Field for bool {
    const MIN_LEN: usize = 1;

    fn encoded_len(&self) -> usize {
        1
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        e.byte(u8::from(*self));
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        let [b] = r.take_array()?;
        Ok(b != 0)
    }

    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}

/// Text (names, addresses, error messages): u32 length, then the bytes.
///
/// NEO/go neither writes nor checks UTF-8 specifically, so a peer may send
/// any bytes. A message never fails to decode because of them: each invalid
/// sequence becomes U+FFFD (as `String::from_utf8_lossy` does), so such a
/// field re-encodes differently from what came. Fields whose bytes matter
/// exactly (the user, description and extension of a transaction, which
/// ZODB treats as bytes) are `Vec<u8>` in the message table, not `String`.
impl Field for String {
    const MIN_LEN: usize = 4;

    fn encoded_len(&self) -> usize {
        4 + self.len()
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        // Copied even when long: strings are names and messages, not bulk.
        e.length(self.len());
        e.bytes(self.as_bytes());
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        let len = r.length(1)?;
        let bytes = r.take(len)?;
        r.budget().string(bytes)
    }

    fn to_value(&self) -> Value {
        Value::Str(self.clone())
    }
}

/// A list: u32 count, then each item. `Vec<u8>` is a byte blob.
impl<T: Field> Field for Vec<T> {
    const MIN_LEN: usize = 4;

    fn encoded_len(&self) -> usize {
        4 + T::list_encoded_len(self)
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        e.length(self.len());
        T::put_list(self, e);
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        let count = r.length(T::MIN_LEN)?;
        T::get_list(r, count)
    }

    fn to_value(&self) -> Value {
        T::list_to_value(self)
    }
}

/// A map: u32 count, then (key, value) pairs, written in key order (as
/// NEO/go sorts them). Read in any order; a repeated key keeps the last
/// value, as in NEO/go (whose decoder assigns into a map).
impl<K: Field + Ord, V: Field> Field for BTreeMap<K, V> {
    const MIN_LEN: usize = 4;

    fn encoded_len(&self) -> usize {
        4 + self
            .iter()
            .map(|(k, v)| k.encoded_len() + v.encoded_len())
            .sum::<usize>()
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        e.length(self.len());
        for (k, v) in self {
            k.put(e);
            v.put(e);
        }
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        let count = r.length(K::MIN_LEN + V::MIN_LEN)?;
        r.budget().btree_map::<K, V>(count)?;
        let mut map = BTreeMap::new();
        for _ in 0..count {
            let k = K::get(r)?;
            let v = V::get(r)?;
            map.insert(k, v);
        }
        Ok(map)
    }

    fn to_value(&self) -> Value {
        Value::Map(
            self.iter()
                .map(|(k, v)| (k.to_value(), v.to_value()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encode `v`, check the bytes and the announced length, decode back.
    fn roundtrip<T: Field + PartialEq + fmt::Debug>(v: T, want: &[u8]) {
        let mut buf = vec![0xaa]; // put must append, not overwrite
        let mut e = Encoder::new(&mut buf);
        v.put(&mut e);
        assert!(e.into_segments().is_empty(), "a copying encoder borrowed");
        assert_eq!(&buf[1..], want, "encoding of {v:?}");
        assert_eq!(v.encoded_len(), want.len(), "encoded_len of {v:?}");
        let mut r = Reader::new(want);
        assert_eq!(T::get(&mut r).unwrap(), v);
        assert!(r.is_empty());
        // every strict prefix is truncated input
        for n in 0..want.len() {
            let mut r = Reader::new(&want[..n]);
            assert!(T::get(&mut r).is_err(), "prefix {n} of {v:?} decoded");
        }
    }

    #[test]
    fn integers() {
        roundtrip(0x12u8, &[0x12]);
        roundtrip(-2i8, &[0xfe]);
        roundtrip(0x1234u16, &[0x12, 0x34]);
        roundtrip(-2i16, &[0xff, 0xfe]);
        roundtrip(0x12345678u32, &[0x12, 0x34, 0x56, 0x78]);
        roundtrip(-0x10000001i32, &[0xef, 0xff, 0xff, 0xff]);
        roundtrip(0x0102030405060708u64, &[1, 2, 3, 4, 5, 6, 7, 8]);
        roundtrip(-1i64, &[0xff; 8]);
    }

    #[test]
    fn bools() {
        roundtrip(false, &[0]);
        roundtrip(true, &[1]);
        // any non-zero byte is true, as NEO/go reads it
        for b in 2..=255u8 {
            let mut r = Reader::new(std::slice::from_ref(&b));
            assert_eq!(bool::get(&mut r), Ok(true));
        }
    }

    #[test]
    fn strings() {
        roundtrip(String::new(), &[0, 0, 0, 0]);
        roundtrip("x".to_string(), &[0, 0, 0, 1, b'x']);
        roundtrip("é".to_string(), &[0, 0, 0, 2, 0xc3, 0xa9]);
        // not UTF-8: each invalid sequence becomes U+FFFD
        for (bytes, want) in [
            (&b"\xff"[..], "\u{fffd}"),
            (b"a\xc3", "a\u{fffd}"),
            (b"\xff\xfe\xc3\xa9x", "\u{fffd}\u{fffd}éx"),
        ] {
            let mut input = (bytes.len() as u32).to_be_bytes().to_vec();
            input.extend_from_slice(bytes);
            let got = String::get(&mut Reader::new(&input)).unwrap();
            assert_eq!(got, want);
            assert_eq!(got.capacity(), got.len(), "allocated at its exact size");
        }
    }

    #[test]
    fn maps() {
        let m: BTreeMap<u32, u8> = [(2, 20), (1, 10)].into();
        // written in key order
        roundtrip(m.clone(), &[0, 0, 0, 2, 0, 0, 0, 1, 10, 0, 0, 0, 2, 20]);
        // read in any order; a repeated key keeps the last value
        let unsorted = [0, 0, 0, 3, 0, 0, 0, 2, 20, 0, 0, 0, 1, 9, 0, 0, 0, 1, 10];
        assert_eq!(
            <BTreeMap<u32, u8> as Field>::get(&mut Reader::new(&unsorted)),
            Ok(m)
        );
        let m: BTreeMap<u64, Vec<u64>> = [(5, vec![1, 2])].into();
        roundtrip(
            m,
            &[
                0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
                0, 0, 0, 2,
            ],
        );
    }

    #[test]
    fn the_budget_bounds_what_decoding_allocates() {
        // 1 MiB of empty strings: 256 Ki of them, 6 MiB as a Vec<String>,
        // more than 4 x 1 MiB + 1 MiB
        let count = (1 << 20) / 4;
        let mut input = (count as u32).to_be_bytes().to_vec();
        input.resize(4 + 4 * count, 0);
        let want = count * std::mem::size_of::<String>();
        let budget = DECODE_GROWTH * input.len() + DECODE_ALLOWANCE;
        assert_eq!(
            Vec::<String>::get(&mut Reader::new(&input)),
            Err(DecodeErrorKind::TooMuchMemory {
                needed: want,
                left: budget
            })
        );
        // a tenth of it fits in the allowance
        let count = count / 10;
        input.truncate(4 + 4 * count);
        input[..4].copy_from_slice(&(count as u32).to_be_bytes());
        assert_eq!(
            Vec::<String>::get(&mut Reader::new(&input)).unwrap().len(),
            count
        );
    }

    #[test]
    fn blobs_and_lists() {
        // Vec<u8> is a byte blob: u32 length then the bytes
        roundtrip(Vec::<u8>::new(), &[0, 0, 0, 0]);
        roundtrip(b"hello".to_vec(), b"\0\0\0\x05hello");
        // other lists: u32 count then the items
        roundtrip(vec![7u32, 8], &[0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 8]);
        roundtrip(
            vec!["a".to_string(), "bc".to_string()],
            &[0, 0, 0, 2, 0, 0, 0, 1, b'a', 0, 0, 0, 2, b'b', b'c'],
        );
        roundtrip(
            vec![vec![1u8], vec![]],
            &[0, 0, 0, 2, 0, 0, 0, 1, 1, 0, 0, 0, 0],
        );
    }

    #[test]
    fn huge_lengths_are_rejected_before_allocating() {
        let mut input = vec![0xff, 0xff, 0xff, 0xff];
        input.extend_from_slice(&[0; 16]);
        let err = Vec::<u8>::get(&mut Reader::new(&input)).unwrap_err();
        assert_eq!(
            err,
            DecodeErrorKind::LengthTooLarge {
                len: u32::MAX,
                item_size: 1,
                remaining: 16
            }
        );
        assert!(String::get(&mut Reader::new(&input)).is_err());
        // 4 strings need at least 16 bytes: accepted by the count check, then
        // each string is decoded (here: 4 empty strings)
        let mut four = vec![0, 0, 0, 4];
        four.extend_from_slice(&[0; 16]);
        assert_eq!(
            Vec::<String>::get(&mut Reader::new(&four)).unwrap(),
            vec![String::new(); 4]
        );
        // 5 strings cannot fit in 16 bytes: rejected up front
        four[3] = 5;
        assert_eq!(
            Vec::<String>::get(&mut Reader::new(&four)).unwrap_err(),
            DecodeErrorKind::LengthTooLarge {
                len: 5,
                item_size: 4,
                remaining: 16
            }
        );
        // a list of u64: count * 8 must fit
        let err = Vec::<u64>::get(&mut Reader::new(&[0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0]));
        assert!(matches!(
            err,
            Err(DecodeErrorKind::LengthTooLarge { len: 3, .. })
        ));
    }

    #[test]
    fn reader() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.take(1).unwrap(), &[1]);
        assert_eq!(
            r.take(3),
            Err(DecodeErrorKind::Truncated {
                needed: 3,
                remaining: 2
            })
        );
        assert_eq!(r.finish(), Err(DecodeErrorKind::TrailingBytes { count: 2 }));
        assert_eq!(r.take_array::<2>().unwrap(), [2, 3]);
        assert!(r.finish().is_ok());
        assert!(r.take_array::<1>().is_err());
    }

    /// `v` encoded by a borrowing encoder after `prefix`: the buffer and the
    /// segments.
    fn encode_borrowing<'a, T: Field>(
        prefix: &[u8],
        v: &'a T,
    ) -> (Vec<u8>, Vec<(usize, &'a [u8])>) {
        let mut buf = prefix.to_vec();
        let mut e = Encoder::borrowing(&mut buf);
        v.put(&mut e);
        let segs = e.into_segments();
        (buf, segs)
    }

    #[test]
    fn encoder_borrows_big_blobs_only() {
        // small blob, string: copied even by a borrowing encoder
        let small = vec![1u8; BIG_FIELD - 1];
        let (buf, segs) = encode_borrowing(b"p", &small);
        assert!(segs.is_empty());
        assert_eq!(buf.len(), 1 + 4 + BIG_FIELD - 1);
        let long = "x".repeat(BIG_FIELD);
        let (buf, segs) = encode_borrowing(b"", &long);
        assert!(segs.is_empty());
        assert_eq!(buf.len(), 4 + BIG_FIELD);

        // big blobs, as the values of a map of u32 to blobs: the count and
        // length prefixes and the u32s are copied, the blobs borrowed,
        // positions count from the start of the buffer (prefix included)
        let a = vec![0xa; BIG_FIELD];
        let b = vec![0xb; BIG_FIELD + 1];
        let v: BTreeMap<u32, Vec<u8>> = [(7, a.clone()), (8, vec![0xc; 3]), (9, b.clone())].into();
        let (buf, segs) = encode_borrowing(b"pp", &v);
        let want_buf: Vec<u8> = [
            &b"pp"[..],
            &[0, 0, 0, 3],
            &[0, 0, 0, 7],
            &(BIG_FIELD as u32).to_be_bytes(),
            // a
            &[0, 0, 0, 8, 0, 0, 0, 3, 0xc, 0xc, 0xc],
            &[0, 0, 0, 9],
            &(BIG_FIELD as u32 + 1).to_be_bytes(),
            // b
        ]
        .concat();
        assert_eq!(buf, want_buf);
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].0, 2 + 4 + 4 + 4);
        assert_eq!(segs[1].0, buf.len());
        assert_eq!(segs[0].1.as_ptr(), v[&7].as_ptr(), "borrowed, not copied");
        assert_eq!(segs[1].1.as_ptr(), v[&9].as_ptr(), "borrowed, not copied");

        // a copying encoder: same bytes, all in the buffer
        let mut copied = b"pp".to_vec();
        let mut e = Encoder::new(&mut copied);
        v.put(&mut e);
        assert!(e.into_segments().is_empty());
        let mut joined = buf[..segs[0].0].to_vec();
        joined.extend_from_slice(&a);
        joined.extend_from_slice(&buf[segs[0].0..]);
        joined.extend_from_slice(&b);
        assert_eq!(joined, copied);
        assert_eq!(copied.len(), 2 + v.encoded_len());
    }

    #[test]
    fn shared_reader_takes_windows_of_big_blobs() {
        let mut bytes = vec![0xee; 3]; // "header"
        let mut e = Encoder::new(&mut bytes);
        let small = Data::from(vec![1u8; BIG_FIELD - 1]);
        let big = Data::from((0..BIG_FIELD).map(|i| i as u8).collect::<Vec<u8>>());
        small.put(&mut e);
        big.put(&mut e);
        let buf = Arc::new(bytes);

        let mut r = Reader::shared(&buf, 3).unwrap();
        let got_small = Data::get(&mut r).unwrap();
        let got_big = Data::get(&mut r).unwrap();
        assert!(r.finish().is_ok());
        assert_eq!((&got_small, &got_big), (&small, &big));
        assert!(!got_small.is_shared(), "small blobs are copied");
        assert!(got_big.is_shared(), "big blobs are windows");
        assert_eq!(got_big.as_ptr(), buf[3 + 4 + BIG_FIELD - 1 + 4..].as_ptr());
        assert_eq!(Arc::strong_count(&buf), 2);
        drop(got_big);
        assert_eq!(Arc::strong_count(&buf), 1);

        // without a shared buffer, big blobs are copied
        let mut r = Reader::new(&buf[3..]);
        let _ = Data::get(&mut r).unwrap();
        assert!(!Data::get(&mut r).unwrap().is_shared());

        // truncated big blob: an error, and no window was taken
        let cut = Arc::new(buf[..buf.len() - 1].to_vec());
        let mut r = Reader::shared(&cut, 3).unwrap();
        let _ = Data::get(&mut r).unwrap();
        assert!(matches!(
            Data::get(&mut r),
            Err(DecodeErrorKind::LengthTooLarge { .. })
        ));
        let mut r = Reader::shared(&cut, cut.len() - 1).unwrap();
        assert!(matches!(
            r.take_data(BIG_FIELD),
            Err(DecodeErrorKind::Truncated { .. })
        ));
        assert_eq!(Arc::strong_count(&cut), 1);

        // offsets: up to the end is an empty payload, beyond it truncated
        assert!(Reader::shared(&buf, buf.len()).unwrap().is_empty());
        assert_eq!(
            Reader::shared(&buf, buf.len() + 1).unwrap_err(),
            DecodeErrorKind::Truncated {
                needed: buf.len() + 1,
                remaining: buf.len()
            }
        );
        assert_eq!(
            format!("{:?}", Reader::shared(&buf, 3).unwrap()),
            format!(
                "Reader {{ remaining: {}, shared: true, budget: {} }}",
                buf.len() - 3,
                4 * (buf.len() - 3) + DECODE_ALLOWANCE
            )
        );
    }

    #[test]
    fn error_display() {
        let e = DecodeError::unknown_code(0x1234);
        assert_eq!(e.to_string(), "unknown message code 0x1234");
        assert_eq!(e.code(), 0x1234);
        let e = DecodeError::in_message(
            0x20,
            "GetObject",
            Some("at"),
            DecodeErrorKind::Truncated {
                needed: 8,
                remaining: 4,
            },
        );
        assert_eq!(
            e.to_string(),
            "decode GetObject (0x0020): field at: truncated: need 8 bytes, 4 remain"
        );
        assert_eq!(e.name(), Some("GetObject"));
        assert_eq!(e.field(), Some("at"));
    }
}
