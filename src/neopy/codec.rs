//! Field codecs of the msgpack dialect (ARCHITECTURE.md, "Messages").
//!
//! Every field type of a NEO/py message implements [`Field`]: its encoded
//! length, how to append it to an [`Encoder`], how to read it back from a
//! [`Reader`]. The msgpack primitives themselves (markers, integer forms,
//! lengths) are `rmp`'s; this module only says which primitive each of
//! NEO's types is:
//!
//! | NEO type | Rust | msgpack |
//! |----------|------|---------|
//! | `p64` | `u64` (`Oid`, `Tid`) | `bin` of 8 bytes, big-endian |
//! | `int` | `u8`, `u16`, `u32`, `i32`, `i64` | int, smallest form |
//! | `bool` | `bool` | `true` / `false` |
//! | `float` | `f64` | float64 |
//! | `bin` | `String` (names, messages), `Vec<u8>`, [`Data`], [`Checksum`] | `bin` |
//! | `?T` | `Option<T>` | `nil` or T |
//! | `[T]` | `Vec<T>` | array |
//! | `{K:V}` | `BTreeMap<K, V>` | map, written sorted by key |
//! | enums | newtypes of `types.rs` | ext type `fixext1` |
//! | `any` | [`Value`](super::Value) | any value, kept as its msgpack bytes |
//!
//! `u64` is always a `p64`: no NEO integer needs 64 unsigned bits, so the
//! wide integers (ptid, counts) are `i64`. `Vec<u8>` is a `bin`, not an
//! array of integers (no NEO list holds bytes).
//!
//! # Decoding: lenient in form, strict in value
//!
//! NEO/py writes integers in their smallest form, strings as `bin` and
//! floats as float64; decoding also accepts any other msgpack form of the
//! same value (a wider integer, a `str` where a `bin` is expected, a
//! float32), since it means the same to NEO/py's unpacker. So every packet
//! NEO/py writes decodes and re-encodes to exactly its bytes, and any other
//! encoder's packet re-encodes to NEO/py's form of it. Values must fit:
//! an integer out of its field's range, a `p64` that is not 8 bytes, a
//! string that is not UTF-8, an array of the wrong arity, are errors.
//!
//! # Bounded memory
//!
//! Decoding never panics and allocates in proportion to the input, by the
//! same rule and through the same code as protocol 6's decoder
//! (`crate::budget`):
//!
//! - a count or length is checked against the bytes that remain before
//!   anything is reserved (an array of `n` items needs `n * T::MIN_LEN`
//!   bytes), which also bounds the work;
//! - every allocation is charged, before it is made, to the budget of the
//!   arguments ([`Reader::budget`]): 4 bytes per byte of input plus
//!   1 MiB. Arguments whose value would need more fail with
//!   `TooMuchMemory`, named by field, and nothing of that size is
//!   allocated. What it refuses is made of items tiny on the wire and
//!   large in memory: a `nil` in a list of `Option<String>` (1 byte, 24 in
//!   memory), an empty row of a partition table (1 and 24), the entries
//!   of a map of small keys (2 bytes, up to 40 in B-tree nodes).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use rmp::decode::{NumValueReadError, ValueReadError};
use rmp::Marker;

use crate::budget::Budget;
use crate::proto::codec::DecodeErrorKind;
use crate::proto::{Checksum, Data, ErrorCode, BIG_FIELD};

/// Size of the smallest msgpack form of the unsigned integer `v` (what
/// `rmp::encode::write_uint` writes).
pub(crate) fn uint_len(v: u64) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Size of the smallest msgpack form of the signed integer `v` (what
/// `rmp::encode::write_sint` writes: non-negative values as unsigned).
pub(crate) fn sint_len(v: i64) -> usize {
    match v {
        0.. => uint_len(v.unsigned_abs()),
        -32..=-1 => 1,
        -128..=-33 => 2,
        -32768..=-129 => 3,
        -2_147_483_648..=-32769 => 5,
        _ => 9,
    }
}

/// Size of the header of a `bin` of `len` bytes.
pub(crate) fn bin_header_len(len: usize) -> usize {
    match len {
        0..=0xff => 2,
        0x100..=0xffff => 3,
        _ => 5,
    }
}

/// Size of the header of an array (or a map) of `len` items (entries).
pub(crate) fn array_header_len(len: usize) -> usize {
    match len {
        0..=15 => 1,
        16..=0xffff => 3,
        _ => 5,
    }
}

/// Size of the header of an ext value of `len` bytes (type byte included).
pub(crate) fn ext_header_len(len: usize) -> usize {
    match len {
        1 | 2 | 4 | 8 | 16 => 2,
        0..=0xff => 3,
        0x100..=0xffff => 4,
        _ => 6,
    }
}

/// The result of writing into a `Vec<u8>`, which cannot fail: `rmp` writes
/// through `io::Write`, whose `Vec<u8>` implementation never errs.
pub(crate) fn wrote<T, E: fmt::Debug>(r: Result<T, E>) {
    r.expect("writing msgpack to a Vec<u8> cannot fail");
}

/// A length or count as msgpack's u32.
///
/// # Panics
/// Beyond u32: such a value could never be sent anyway (a packet is at
/// most 64 MiB), so this is a programming error, not a wire condition.
fn wire_len(len: usize) -> u32 {
    u32::try_from(len).expect("msgpack: length or count exceeds u32::MAX")
}

/// Where an encoder puts the arguments of a message: small values are
/// copied into a buffer, large blobs may be borrowed.
///
/// The borrowed blobs are *segments* `(position, bytes)`: `bytes` go on the
/// wire right before `buf[position..]` (positions index the whole buffer,
/// what it held before included), exactly as
/// [`proto::packet_io_slices`](crate::proto::packet_io_slices) expects.
pub(crate) struct Encoder<'a, 'b> {
    /// Where the copied bytes go.
    buf: &'b mut Vec<u8>,
    /// The borrowed blobs, in order (so positions never decrease).
    segs: Vec<(usize, &'a [u8])>,
    /// Whether [`Encoder::big`] may borrow.
    borrow: bool,
}

impl<'a, 'b> Encoder<'a, 'b> {
    /// An encoder that copies everything into `buf` (appending to it).
    pub(crate) fn new(buf: &'b mut Vec<u8>) -> Encoder<'a, 'b> {
        Encoder {
            buf,
            segs: Vec::new(),
            borrow: false,
        }
    }

    /// An encoder that appends to `buf`, except `bin` payloads of at least
    /// [`BIG_FIELD`] bytes offered to [`Encoder::big`], which it borrows.
    pub(crate) fn borrowing(buf: &'b mut Vec<u8>) -> Encoder<'a, 'b> {
        Encoder {
            buf,
            segs: Vec::new(),
            borrow: true,
        }
    }

    /// The borrowed segments, in wire order.
    pub(crate) fn into_segments(self) -> Vec<(usize, &'a [u8])> {
        self.segs
    }

    /// `nil`.
    pub(crate) fn nil(&mut self) {
        wrote(rmp::encode::write_nil(self.buf));
    }

    /// `true` or `false`.
    pub(crate) fn bool(&mut self, v: bool) {
        wrote(rmp::encode::write_bool(self.buf, v));
    }

    /// An unsigned integer, smallest form.
    pub(crate) fn uint(&mut self, v: u64) {
        wrote(rmp::encode::write_uint(self.buf, v));
    }

    /// A signed integer, smallest form (non-negative ones as unsigned).
    pub(crate) fn sint(&mut self, v: i64) {
        wrote(rmp::encode::write_sint(self.buf, v));
    }

    /// A float64.
    pub(crate) fn f64(&mut self, v: f64) {
        wrote(rmp::encode::write_f64(self.buf, v));
    }

    /// A `bin`, copied.
    pub(crate) fn bin(&mut self, bytes: &[u8]) {
        wrote(rmp::encode::write_bin(self.buf, bytes));
    }

    /// A `bin` that may be large: its header is copied, its bytes are
    /// borrowed as a segment if this encoder borrows and there are at least
    /// [`BIG_FIELD`] of them, copied otherwise.
    pub(crate) fn big(&mut self, bytes: &'a [u8]) {
        if self.borrow && bytes.len() >= BIG_FIELD {
            wrote(rmp::encode::write_bin_len(self.buf, wire_len(bytes.len())));
            self.segs.push((self.buf.len(), bytes));
        } else {
            self.bin(bytes);
        }
    }

    /// The header of an array of `len` items.
    pub(crate) fn array(&mut self, len: usize) {
        wrote(rmp::encode::write_array_len(self.buf, wire_len(len)));
    }

    /// The header of a map of `len` entries.
    pub(crate) fn map(&mut self, len: usize) {
        wrote(rmp::encode::write_map_len(self.buf, wire_len(len)));
    }

    /// An ext value of type `ty` whose payload is the msgpack integer `v`
    /// (how NEO/py writes its enums: `fixext1` for values below 128).
    pub(crate) fn ext_uint(&mut self, ty: i8, v: u64) {
        wrote(rmp::encode::write_ext_meta(
            self.buf,
            wire_len(uint_len(v)),
            ty,
        ));
        self.uint(v);
    }

    /// Bytes that are already msgpack (an `any` value), copied as they are.
    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
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

/// What `rmp`'s readers return on a short input or an unexpected marker,
/// as a decode error. `expected` names what the field needed.
fn read_err<E>(e: ValueReadError<E>, expected: &'static str, before: &[u8]) -> DecodeErrorKind
where
    E: rmp::decode::RmpReadErr,
{
    match e {
        ValueReadError::TypeMismatch(m) => DecodeErrorKind::UnexpectedType {
            expected,
            marker: m.to_u8(),
        },
        ValueReadError::InvalidMarkerRead(_) | ValueReadError::InvalidDataRead(_) => {
            truncated(before)
        }
    }
}

/// A value's header did not fit in `rest`: how many bytes it needed, as
/// far as the marker tells.
fn truncated(rest: &[u8]) -> DecodeErrorKind {
    let needed = rest
        .first()
        .map_or(1, |&b| marker_head_len(Marker::from_u8(b)));
    DecodeErrorKind::Truncated {
        needed,
        remaining: rest.len(),
    }
}

/// Bytes of the marker and of what follows it before any payload: the
/// value of an integer or a float, the length of a `bin`, `str`, array,
/// map or ext (and the type byte of an ext).
pub(crate) fn marker_head_len(m: Marker) -> usize {
    match m {
        Marker::FixPos(_)
        | Marker::FixNeg(_)
        | Marker::FixMap(_)
        | Marker::FixArray(_)
        | Marker::FixStr(_)
        | Marker::Null
        | Marker::Reserved
        | Marker::False
        | Marker::True => 1,
        Marker::U8 | Marker::I8 | Marker::Bin8 | Marker::Str8 => 2,
        Marker::U16 | Marker::I16 | Marker::Bin16 | Marker::Str16 => 3,
        Marker::Array16 | Marker::Map16 => 3,
        Marker::U32 | Marker::I32 | Marker::Bin32 | Marker::Str32 | Marker::F32 => 5,
        Marker::Array32 | Marker::Map32 => 5,
        Marker::U64 | Marker::I64 | Marker::F64 => 9,
        Marker::FixExt1
        | Marker::FixExt2
        | Marker::FixExt4
        | Marker::FixExt8
        | Marker::FixExt16 => 2,
        Marker::Ext8 => 3,
        Marker::Ext16 => 4,
        Marker::Ext32 => 6,
    }
}

/// A cursor over the arguments being decoded.
///
/// Every read is bounds-checked and fails with a [`DecodeErrorKind`]
/// rather than panicking. A reader made with [`Reader::shared`] also knows
/// the shared packet buffer the input is the tail of, so that
/// [`Reader::data`] hands out large `bin`s as windows into it.
#[derive(Clone)]
pub(crate) struct Reader<'a> {
    /// What is left to read. When `shared` is set, always a suffix of the
    /// shared buffer, so its position there is `buf.len() - rest.len()`.
    rest: &'a [u8],
    /// The packet buffer the input is the tail of, if it is shared.
    shared: Option<&'a Arc<Vec<u8>>>,
    /// What decoding the input may still allocate (see [`Reader::budget`]).
    budget: Budget,
}

impl<'a> Reader<'a> {
    /// A reader over `input`; blobs are copied out of it.
    pub(crate) fn new(input: &'a [u8]) -> Reader<'a> {
        Reader {
            rest: input,
            shared: None,
            budget: Budget::for_input(input.len()),
        }
    }

    /// A reader over `buf[offset..]` of a shared packet buffer; an `offset`
    /// beyond its end is a truncation error.
    pub(crate) fn shared(
        buf: &'a Arc<Vec<u8>>,
        offset: usize,
    ) -> Result<Reader<'a>, DecodeErrorKind> {
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

    /// The input's allocation budget (see `crate::budget`).
    ///
    /// Every [`Field::get`] that allocates does so through it: its helpers
    /// charge what they then allocate, and fail with
    /// [`DecodeErrorKind::TooMuchMemory`] beforehand when it is spent.
    pub(crate) fn budget(&mut self) -> &mut Budget {
        &mut self.budget
    }

    /// What is left to read.
    pub(crate) fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    /// The marker of the next value, not consumed.
    pub(crate) fn peek(&self) -> Result<Marker, DecodeErrorKind> {
        match self.rest.first() {
            Some(&b) => Ok(Marker::from_u8(b)),
            None => Err(DecodeErrorKind::Truncated {
                needed: 1,
                remaining: 0,
            }),
        }
    }

    /// Consumes a `nil` if one comes next; tells whether it did.
    pub(crate) fn nil(&mut self) -> bool {
        if self.rest.first() == Some(&Marker::Null.to_u8()) {
            self.rest = &self.rest[1..];
            true
        } else {
            false
        }
    }

    /// A bool.
    pub(crate) fn bool(&mut self) -> Result<bool, DecodeErrorKind> {
        let before = self.rest;
        rmp::decode::read_bool(&mut self.rest).map_err(|e| read_err(e, "bool", before))
    }

    /// An integer of any msgpack form, as `T`.
    pub(crate) fn int<T: TryFrom<i128>>(&mut self) -> Result<T, DecodeErrorKind> {
        let value = self.int_any()?;
        T::try_from(value).map_err(|_| DecodeErrorKind::IntOutOfRange {
            value: i64::try_from(value).unwrap_or(i64::MAX),
        })
    }

    /// An integer of any msgpack form (every one fits an i128).
    fn int_any(&mut self) -> Result<i128, DecodeErrorKind> {
        let before = self.rest;
        rmp::decode::read_int::<i128, _>(&mut self.rest).map_err(|e| match e {
            NumValueReadError::TypeMismatch(m) => DecodeErrorKind::UnexpectedType {
                expected: "int",
                marker: m.to_u8(),
            },
            // Every msgpack integer fits an i128: only a short input is left.
            _ => truncated(before),
        })
    }

    /// A float64 (a float32 is widened).
    pub(crate) fn f64(&mut self) -> Result<f64, DecodeErrorKind> {
        let before = self.rest;
        match self.peek()? {
            Marker::F32 => rmp::decode::read_f32(&mut self.rest)
                .map(f64::from)
                .map_err(|e| read_err(e, "float", before)),
            _ => rmp::decode::read_f64(&mut self.rest).map_err(|e| read_err(e, "float", before)),
        }
    }

    /// The length of a `bin` or a `str` (NEO's strings), checked against
    /// what remains after the header.
    fn bin_len(&mut self) -> Result<usize, DecodeErrorKind> {
        let before = self.rest;
        let len = match self.peek()? {
            Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
                rmp::decode::read_str_len(&mut self.rest)
            }
            _ => rmp::decode::read_bin_len(&mut self.rest),
        }
        .map_err(|e| read_err(e, "bin", before))?;
        self.check_len(len, 1)
    }

    /// Check that `count` items of at least `item_size` bytes each fit in
    /// what remains: the check that keeps a forged length from turning
    /// into a large allocation or a long loop. An `item_size` of 0 counts
    /// as 1.
    fn check_len(&self, count: u32, item_size: usize) -> Result<usize, DecodeErrorKind> {
        let remaining = self.rest.len();
        let item_size = item_size.max(1);
        if u64::from(count).saturating_mul(item_size as u64) > remaining as u64 {
            return Err(DecodeErrorKind::LengthTooLarge {
                len: count,
                item_size,
                remaining,
            });
        }
        // count * item_size <= remaining, so count fits a usize.
        Ok(count as usize)
    }

    /// Take the next `n` bytes (already checked to be there by
    /// [`Reader::check_len`]).
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeErrorKind> {
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

    /// A `bin` (or `str`), borrowed from the input.
    pub(crate) fn bin(&mut self) -> Result<&'a [u8], DecodeErrorKind> {
        let len = self.bin_len()?;
        self.take(len)
    }

    /// A `bin` (or `str`) as [`Data`]: a window into the shared buffer
    /// (no copy) if the reader has one and the blob has at least
    /// [`BIG_FIELD`] bytes, a copy otherwise.
    pub(crate) fn data(&mut self) -> Result<Data, DecodeErrorKind> {
        let len = self.bin_len()?;
        // Where the bytes start in the shared buffer: `rest` is its suffix.
        let start = self.shared.map_or(0, |buf| buf.len() - self.rest.len());
        let bytes = self.take(len)?;
        match self.shared {
            // `take` succeeded, so the window is within `buf`.
            Some(buf) if len >= BIG_FIELD => {
                Ok(Data::from_shared(Arc::clone(buf), start..start + len))
            }
            _ => self.budget.copy(bytes).map(Data::from),
        }
    }

    /// The header of an array of items of at least `item_size` bytes; the
    /// count, checked against what remains.
    pub(crate) fn array(&mut self, item_size: usize) -> Result<usize, DecodeErrorKind> {
        let before = self.rest;
        let n = rmp::decode::read_array_len(&mut self.rest)
            .map_err(|e| read_err(e, "array", before))?;
        self.check_len(n, item_size)
    }

    /// The header of a map whose entries take at least `entry_size` bytes;
    /// the count, checked against what remains.
    pub(crate) fn map(&mut self, entry_size: usize) -> Result<usize, DecodeErrorKind> {
        let before = self.rest;
        let n =
            rmp::decode::read_map_len(&mut self.rest).map_err(|e| read_err(e, "map", before))?;
        self.check_len(n, entry_size)
    }

    /// An ext value: its type and its payload, borrowed.
    pub(crate) fn ext(&mut self) -> Result<(i8, &'a [u8]), DecodeErrorKind> {
        let before = self.rest;
        let meta =
            rmp::decode::read_ext_meta(&mut self.rest).map_err(|e| read_err(e, "ext", before))?;
        let len = self.check_len(meta.size, 1)?;
        Ok((meta.typeid, self.take(len)?))
    }

    /// Succeed only if everything was read.
    pub(crate) fn finish(&self) -> Result<(), DecodeErrorKind> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeErrorKind::TrailingBytes {
                count: self.rest.len(),
            })
        }
    }
}

// By hand: the derived Debug would print every remaining byte.
impl fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("remaining", &self.rest.len())
            .field("shared", &self.shared.is_some())
            .field("budget", &self.budget.left())
            .finish()
    }
}

/// How a message's arguments are framed in NEO/py: one msgpack array of
/// them; the length of its header.
pub(crate) fn args_len(fields: usize) -> usize {
    array_header_len(fields)
}

/// Writes the header of a message's array of `fields` arguments.
pub(crate) fn put_args(e: &mut Encoder<'_, '_>, fields: usize) {
    e.array(fields);
}

/// Reads the header of a message's array of arguments, which must hold
/// `fields` of them.
pub(crate) fn get_args(r: &mut Reader<'_>, fields: usize) -> Result<(), DecodeErrorKind> {
    let got = r.array(1)?;
    if got != fields {
        return Err(DecodeErrorKind::ArrayArity {
            expected: fields,
            got,
        });
    }
    Ok(())
}

/// A type that can be an argument of a message (or a part of one).
///
/// `put` writes exactly `encoded_len()` bytes (copied or borrowed); `get`
/// reads back what `put` wrote, and any other msgpack form of the same
/// value (see the module documentation).
pub(crate) trait Field: Sized {
    /// Smallest possible encoded size of a value, in bytes (at least 1).
    /// Bounds array counts against the remaining input before allocating.
    const MIN_LEN: usize;

    /// Encoded size of this value, in bytes.
    fn encoded_len(&self) -> usize;

    /// Write this value to `e`; the lifetime lets the encoder borrow large
    /// blobs instead of copying them.
    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>);

    /// Read a value.
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind>;

    /// Encoded size of a list of these (header included).
    ///
    /// A hook so that `Vec<u8>` is a `bin`; the default is an array.
    fn list_encoded_len(items: &[Self]) -> usize {
        array_header_len(items.len()) + items.iter().map(Field::encoded_len).sum::<usize>()
    }

    /// Write a list of these; the default is an array.
    fn put_list<'a>(items: &'a [Self], e: &mut Encoder<'a, '_>) {
        e.array(items.len());
        for item in items {
            item.put(e);
        }
    }

    /// Read a list of these; the default is an array. The count was
    /// checked against the bytes that remain, at `MIN_LEN` bytes per item,
    /// and the reservation is charged to the budget before it is made.
    fn get_list(r: &mut Reader<'_>) -> Result<Vec<Self>, DecodeErrorKind> {
        let n = r.array(Self::MIN_LEN)?;
        let mut items = r.budget().vec(n)?;
        for _ in 0..n {
            items.push(Self::get(r)?);
        }
        Ok(items)
    }
}

impl Field for bool {
    const MIN_LEN: usize = 1;

    fn encoded_len(&self) -> usize {
        1
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        e.bool(*self);
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        r.bool()
    }
}

/// NEO's `int`: msgpack integers, smallest form on encode, any form in
/// range on decode.
macro_rules! int_fields {
    ($($t:ty),*) => {$(
        impl Field for $t {
            const MIN_LEN: usize = 1;

            fn encoded_len(&self) -> usize {
                sint_len(i64::from(*self))
            }

            fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
                e.sint(i64::from(*self));
            }

            fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
                r.int()
            }
        }
    )*};
}

int_fields!(u16, u32, i32, i64);

// u8 by hand: an integer like the others, plus the list hooks that make
// `Vec<u8>` a `bin`.
impl Field for u8 {
    const MIN_LEN: usize = 1;

    fn encoded_len(&self) -> usize {
        uint_len(u64::from(*self))
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        e.uint(u64::from(*self));
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        r.int()
    }

    fn list_encoded_len(items: &[u8]) -> usize {
        bin_header_len(items.len()) + items.len()
    }

    fn put_list<'a>(items: &'a [u8], e: &mut Encoder<'a, '_>) {
        e.bin(items);
    }

    fn get_list(r: &mut Reader<'_>) -> Result<Vec<u8>, DecodeErrorKind> {
        let bytes = r.bin()?;
        r.budget().copy(bytes)
    }
}

/// `p64`: an 8-byte `bin` holding a big-endian u64 (oids, tids).
impl Field for u64 {
    const MIN_LEN: usize = 10;

    fn encoded_len(&self) -> usize {
        10
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        e.bin(&self.to_be_bytes());
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        let b = r.bin()?;
        let b: [u8; 8] = b.try_into().map_err(|_| DecodeErrorKind::BinLength {
            expected: 8,
            got: b.len(),
        })?;
        Ok(u64::from_be_bytes(b))
    }
}

/// `float`: float64.
impl Field for f64 {
    const MIN_LEN: usize = 5; // a float32 is accepted too

    fn encoded_len(&self) -> usize {
        9
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        e.f64(*self);
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        r.f64()
    }
}

/// NEO's strings (cluster name, host, error message): a `bin` of UTF-8, as
/// NEO/py encodes its `str`s.
impl Field for String {
    const MIN_LEN: usize = 1; // a fixstr is accepted too

    fn encoded_len(&self) -> usize {
        bin_header_len(self.len()) + self.len()
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        e.bin(self.as_bytes());
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        // NEO's strings are bytes (NEO/py sends them as `bin`): invalid
        // UTF-8 is decoded lossily, as protocol 6 does, rather than
        // failing a whole packet for a cluster name or an error text.
        let bytes = r.bin()?;
        r.budget().string(bytes)
    }
}

/// Object data: a `bin`, borrowed when sending and a window into the packet
/// buffer when receiving, once large (see [`Data`]).
impl Field for Data {
    const MIN_LEN: usize = 1;

    fn encoded_len(&self) -> usize {
        bin_header_len(self.len()) + self.len()
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        e.big(self.as_slice());
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        r.data()
    }
}

/// A SHA-1: a `bin` of exactly 20 bytes.
impl Field for Checksum {
    const MIN_LEN: usize = 21;

    fn encoded_len(&self) -> usize {
        22
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        e.bin(&self.0);
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        let b = r.bin()?;
        b.try_into()
            .map(Checksum)
            .map_err(|_| DecodeErrorKind::BinLength {
                expected: 20,
                got: b.len(),
            })
    }
}

/// The code of an `Error` packet: a plain integer, not the `ErrorCodes`
/// ext type (NEO/py writes `int(code)` there). No other field carries an
/// error code.
impl Field for ErrorCode {
    const MIN_LEN: usize = 1;

    fn encoded_len(&self) -> usize {
        uint_len(u64::from(self.0))
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        e.uint(u64::from(self.0));
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        r.int().map(ErrorCode)
    }
}

/// `?T`: `nil` or a T.
impl<T: Field> Field for Option<T> {
    const MIN_LEN: usize = 1;

    fn encoded_len(&self) -> usize {
        self.as_ref().map_or(1, Field::encoded_len)
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        match self {
            Some(v) => v.put(e),
            None => e.nil(),
        }
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        if r.nil() {
            Ok(None)
        } else {
            T::get(r).map(Some)
        }
    }
}

/// `[T]`: an array (`Vec<u8>` is a `bin`, see [`Field::put_list`]).
impl<T: Field> Field for Vec<T> {
    const MIN_LEN: usize = 1;

    fn encoded_len(&self) -> usize {
        T::list_encoded_len(self)
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        T::put_list(self, e);
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        T::get_list(r)
    }
}

/// `{K:V}`: a map, written sorted by key. NEO/py writes its dicts in
/// insertion order and reads them in any; a key that comes twice keeps its
/// last value, as in the Python dict the peer would build.
impl<K: Field + Ord, V: Field> Field for BTreeMap<K, V> {
    const MIN_LEN: usize = 1;

    fn encoded_len(&self) -> usize {
        array_header_len(self.len())
            + self
                .iter()
                .map(|(k, v)| k.encoded_len() + v.encoded_len())
                .sum::<usize>()
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        e.map(self.len());
        for (k, v) in self {
            k.put(e);
            v.put(e);
        }
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        // A BTreeMap allocates per node as it grows: what it can take is
        // charged up front, the only moment there is to check it. The
        // count was checked against the input, which bounds the loop.
        let n = r.map(K::MIN_LEN + V::MIN_LEN)?;
        r.budget().btree_map::<K, V>(n)?;
        let mut map = BTreeMap::new();
        for _ in 0..n {
            let k = K::get(r)?;
            let v = V::get(r)?;
            map.insert(k, v);
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode<T: Field>(v: &T) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut e = Encoder::new(&mut buf);
        v.put(&mut e);
        assert!(e.into_segments().is_empty());
        assert_eq!(buf.len(), v.encoded_len(), "encoded_len of {buf:02x?}");
        buf
    }

    fn decode<T: Field>(b: &[u8]) -> Result<T, DecodeErrorKind> {
        let mut r = Reader::new(b);
        let v = T::get(&mut r)?;
        r.finish()?;
        Ok(v)
    }

    #[test]
    fn integer_forms_are_the_smallest() {
        for v in [
            0i64, 1, 127, 128, 255, 256, 65535, 65536, -1, -32, -33, -128, -129,
        ] {
            let b = encode(&v);
            assert_eq!(b.len(), sint_len(v), "{v}");
            assert_eq!(decode::<i64>(&b), Ok(v));
        }
        assert_eq!(encode(&-536870911i32), [0xd2, 0xe0, 0, 0, 1]);
        assert_eq!(encode(&25100u16), [0xcd, 0x62, 0x0c]);
        // any form in range is accepted, out of range is not
        assert_eq!(decode::<u16>(&[0xcf, 0, 0, 0, 0, 0, 0, 0, 5]), Ok(5));
        assert_eq!(
            decode::<u16>(&[0xce, 0, 1, 0, 0]),
            Err(DecodeErrorKind::IntOutOfRange { value: 65536 })
        );
        assert_eq!(
            decode::<u32>(&[0xff]),
            Err(DecodeErrorKind::IntOutOfRange { value: -1 })
        );
        assert_eq!(
            decode::<i32>(&[0xc4, 0]),
            Err(DecodeErrorKind::UnexpectedType {
                expected: "int",
                marker: 0xc4
            })
        );
    }

    #[test]
    fn p64_is_an_8_byte_bin() {
        let b = encode(&0x040d_4148_097b_8644u64);
        assert_eq!(b, [0xc4, 8, 4, 0x0d, 0x41, 0x48, 0x09, 0x7b, 0x86, 0x44]);
        assert_eq!(decode::<u64>(&b), Ok(0x040d_4148_097b_8644));
        // a str of 8 bytes is accepted
        assert_eq!(decode::<u64>(b"\xa8\0\0\0\0\0\0\0\x07"), Ok(7));
        assert_eq!(
            decode::<u64>(&[0xc4, 1, 0]),
            Err(DecodeErrorKind::BinLength {
                expected: 8,
                got: 1
            })
        );
    }

    #[test]
    fn strings_are_bin_and_accept_str() {
        assert_eq!(encode(&"test".to_string()), b"\xc4\x04test");
        assert_eq!(decode::<String>(b"\xa4test"), Ok("test".into()));
        assert_eq!(decode::<String>(b"\xd9\x04test"), Ok("test".into()));
        assert_eq!(decode::<String>(b"\xc4\x01\xff"), Ok("\u{fffd}".into()));
        assert_eq!(encode(&vec![1u8, 2]), [0xc4, 2, 1, 2]);
        assert_eq!(encode(&vec![1u32, 2]), [0x92, 1, 2]);
    }

    #[test]
    fn forged_lengths_are_refused_before_allocating() {
        assert_eq!(
            decode::<Vec<u8>>(&[0xc6, 0xff, 0xff, 0xff, 0xff, 0]),
            Err(DecodeErrorKind::LengthTooLarge {
                len: u32::MAX,
                item_size: 1,
                remaining: 1
            })
        );
        // 3 p64 need 30 bytes
        assert_eq!(
            decode::<Vec<u64>>(&[0x93, 0xc4, 8, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(DecodeErrorKind::LengthTooLarge {
                len: 3,
                item_size: 10,
                remaining: 10
            })
        );
        assert_eq!(
            decode::<Vec<u32>>(&[0xdc, 0]),
            Err(DecodeErrorKind::Truncated {
                needed: 3,
                remaining: 2
            })
        );
    }

    #[test]
    fn maps_are_sorted_and_keep_the_last_duplicate() {
        let m: BTreeMap<u32, Option<i32>> = [(3, Some(1)), (1, None)].into();
        assert_eq!(encode(&m), [0x82, 1, 0xc0, 3, 1]);
        let dup = decode::<BTreeMap<u32, Option<i32>>>(&[0x82, 1, 0xc0, 1, 5]).unwrap();
        assert_eq!(dup, [(1, Some(5))].into());
    }

    #[test]
    fn big_bins_are_borrowed_or_windowed() {
        let data = Data::from(vec![7u8; BIG_FIELD]);
        let mut buf = vec![0xee];
        let mut e = Encoder::borrowing(&mut buf);
        data.put(&mut e);
        let segs = e.into_segments();
        assert_eq!(buf, [0xee, 0xc5, 0x80, 0x00]);
        assert_eq!(segs, [(4, &data[..])]);

        let mut whole = Vec::new();
        data.put(&mut Encoder::new(&mut whole));
        let shared = Arc::new(whole);
        let mut r = Reader::shared(&shared, 0).unwrap();
        let got = Data::get(&mut r).unwrap();
        assert!(got.is_shared());
        assert_eq!(got, data);
        let copied = decode::<Data>(&shared).unwrap();
        assert!(!copied.is_shared());
    }

    #[test]
    fn header_sizes_match_rmp() {
        for len in [
            0usize, 1, 2, 3, 4, 8, 15, 16, 17, 31, 32, 255, 256, 65535, 65536,
        ] {
            let mut b = Vec::new();
            rmp::encode::write_bin_len(&mut b, len as u32).unwrap();
            assert_eq!(b.len(), bin_header_len(len), "bin {len}");
            b.clear();
            rmp::encode::write_array_len(&mut b, len as u32).unwrap();
            assert_eq!(b.len(), array_header_len(len), "array {len}");
            b.clear();
            rmp::encode::write_map_len(&mut b, len as u32).unwrap();
            assert_eq!(b.len(), array_header_len(len), "map {len}");
            b.clear();
            rmp::encode::write_ext_meta(&mut b, len as u32, 1).unwrap();
            assert_eq!(b.len(), ext_header_len(len), "ext {len}");
            assert_eq!(marker_head_len(Marker::from_u8(b[0])), b.len(), "ext {len}");
        }
    }
}
