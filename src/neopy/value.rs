//! NEO's `any`: a free-form msgpack value, kept as its bytes.
//!
//! Two fields of NEO/py carry free-form values (`RequestIdentification`'s
//! `extra` and `NotifyMonitorInformation`'s `info`). A [`Value`] holds the
//! value's msgpack encoding, checked once when it is decoded or built,
//! and reads it lazily ([`Value::view`]):
//!
//! - **Memory**: a value costs its encoded size, once. A tree of enums
//!   costs tens of bytes per item however small the item is on the wire
//!   (a `nil` is one byte, an enum of values 16 to 40), which no decode
//!   budget of a few bytes per byte could pay for; bytes can (see
//!   `crate::codec::budget`).
//! - **Exactness**: a value re-encodes to exactly the bytes it came as,
//!   whatever forms the peer chose (a wide integer, a float32), so what a
//!   node forwards is what it received.
//! - **Own type**: no dependency's type is part of the API, so its major
//!   releases are not ours.
//!
//! What "checked" means — the invariant of every [`Value`]: the bytes are
//! exactly one well-formed msgpack value (every length within the bytes),
//! nested at most [`MAX_DEPTH`] arrays and maps deep, with no reserved
//! byte `0xc1`, and every `str` UTF-8. Decoding walks the value with the
//! reader's primitives to check that, allocating nothing; then it charges
//! the copy to the decode budget and makes it.

use std::fmt;

use rmp::Marker;

use super::codec::{wrote, Encoder, Field, Reader};
use super::framing::MAX_DEPTH;
use crate::codec::MsgpackError;
use crate::proto::codec::DecodeErrorKind;

/// A free-form msgpack value (NEO's `any`), as in
/// `RequestIdentification::extra`.
///
/// It holds the value's msgpack encoding, checked (well-formed, nested at
/// most [`MAX_DEPTH`] deep, UTF-8 `str`s), and reads it on demand with
/// [`Value::view`]. Build one with the `From` impls (nil, bools, integers,
/// floats, strings), [`Value::bin`], [`Value::ext`], [`Value::array`] and
/// [`Value::map`], or from msgpack bytes ([`Value::from_msgpack`]).
/// Encoding writes the bytes as they are: NEO/py's smallest forms for
/// built values, the peer's own for decoded ones.
///
/// Two values are equal when their encodings are: `5` written as a
/// `uint16` is not the `5` of a positive fixint (they would not re-encode
/// the same).
///
/// ```
/// use neonet::neopy::{Value, ValueRef};
///
/// let v = Value::map([(Value::from("new_nid"), Value::from(7))]);
/// assert_eq!(v.as_msgpack(), b"\x81\xa7new_nid\x07");
/// let ValueRef::Map(mut entries) = v.view() else { panic!() };
/// let (k, n) = entries.next().unwrap();
/// assert_eq!((k.as_str(), n.as_i64()), (Some("new_nid"), Some(7)));
/// assert_eq!(Value::from_msgpack(v.as_msgpack()), Ok(v));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Value {
    /// One checked msgpack value (see the module documentation).
    bytes: Box<[u8]>,
}

/// A [`Value`] read one level: scalars as Rust values, arrays and maps as
/// iterators over their items (read as they are reached), borrowed from
/// the value's bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueRef<'a> {
    /// `nil` (Python's `None`).
    Nil,
    /// `true` or `false`.
    Bool(bool),
    /// An integer from `i64::MIN` to `i64::MAX`, whatever its form.
    Int(i64),
    /// An integer above `i64::MAX` (msgpack's unsigned 64-bit range).
    UInt(u64),
    /// A float32.
    F32(f32),
    /// A float64 (Python's `float`).
    F64(f64),
    /// A `str` (Python's `str`).
    Str(&'a str),
    /// A `bin` (Python's `bytes`).
    Bin(&'a [u8]),
    /// An array: its items, in order.
    Array(ArrayIter<'a>),
    /// A map: its entries, in wire order (keys may repeat).
    Map(MapIter<'a>),
    /// An ext value: its type and payload (NEO's enums are ext types 0 to
    /// 4 holding one small integer).
    Ext(i8, &'a [u8]),
}

/// The items of an array [`Value`], read one at a time (see
/// [`ValueRef::Array`]).
#[derive(Clone)]
pub struct ArrayIter<'a> {
    /// At the next item.
    r: Reader<'a>,
    /// Items not yet read.
    left: usize,
}

/// The entries of a map [`Value`], read one at a time (see
/// [`ValueRef::Map`]).
#[derive(Clone)]
pub struct MapIter<'a> {
    /// At the next entry's key.
    r: Reader<'a>,
    /// Entries not yet read.
    left: usize,
}

impl Value {
    /// `nil`.
    pub fn nil() -> Value {
        Value::encoded(|b| wrote(rmp::encode::write_nil(b)))
    }

    /// A `bin` (Python's `bytes`) of `bytes`.
    ///
    /// # Panics
    /// Beyond `u32::MAX` bytes, which msgpack cannot say (and no packet
    /// could carry).
    pub fn bin(bytes: &[u8]) -> Value {
        Value::encoded(|b| wrote(rmp::encode::write_bin(b, bytes)))
    }

    /// An ext value of type `ty` holding `data`.
    ///
    /// # Panics
    /// Beyond `u32::MAX` bytes, as [`Value::bin`].
    pub fn ext(ty: i8, data: &[u8]) -> Value {
        Value::encoded(|b| {
            wrote(rmp::encode::write_ext_meta(b, wire_len(data.len()), ty));
            b.extend_from_slice(data);
        })
    }

    /// An array of `items`, in order.
    ///
    /// # Panics
    /// If an item is already nested [`MAX_DEPTH`] deep (the array would be
    /// deeper than any peer accepts), or beyond `u32::MAX` items.
    pub fn array(items: impl IntoIterator<Item = Value>) -> Value {
        let items: Vec<Value> = items.into_iter().collect();
        let len = items.iter().map(|v| v.bytes.len()).sum::<usize>();
        let mut b = Vec::with_capacity(5 + len);
        wrote(rmp::encode::write_array_len(&mut b, wire_len(items.len())));
        for item in &items {
            item.check_nests_inside();
            b.extend_from_slice(&item.bytes);
        }
        Value {
            bytes: b.into_boxed_slice(),
        }
    }

    /// A map of `entries`, in the order given (NEO/py writes its dicts in
    /// insertion order; a key given twice is written twice).
    ///
    /// # Panics
    /// As [`Value::array`]: a key or value nested [`MAX_DEPTH`] deep, or
    /// beyond `u32::MAX` entries.
    pub fn map(entries: impl IntoIterator<Item = (Value, Value)>) -> Value {
        let entries: Vec<(Value, Value)> = entries.into_iter().collect();
        let len = entries
            .iter()
            .map(|(k, v)| k.bytes.len() + v.bytes.len())
            .sum::<usize>();
        let mut b = Vec::with_capacity(5 + len);
        wrote(rmp::encode::write_map_len(&mut b, wire_len(entries.len())));
        for (k, v) in &entries {
            k.check_nests_inside();
            v.check_nests_inside();
            b.extend_from_slice(&k.bytes);
            b.extend_from_slice(&v.bytes);
        }
        Value {
            bytes: b.into_boxed_slice(),
        }
    }

    /// The value that `bytes` encode: exactly one msgpack value, checked as
    /// a decoded one is (see [`Value`]); anything else is the
    /// [`DecodeErrorKind`] that decoding it in a packet would report
    /// (`TrailingBytes` after the value).
    pub fn from_msgpack(bytes: &[u8]) -> Result<Value, DecodeErrorKind> {
        let mut r = Reader::new(bytes);
        check(&mut r, MAX_DEPTH)?;
        r.finish()?;
        Ok(Value {
            bytes: bytes.into(),
        })
    }

    /// The value's msgpack encoding: what goes on the wire.
    pub fn as_msgpack(&self) -> &[u8] {
        &self.bytes
    }

    /// The value read one level (arrays and maps as iterators over their
    /// items).
    pub fn view(&self) -> ValueRef<'_> {
        read_at(Reader::new(&self.bytes))
    }

    /// A value built with `write`, which writes one well-formed scalar.
    fn encoded(write: impl FnOnce(&mut Vec<u8>)) -> Value {
        let mut b = Vec::new();
        write(&mut b);
        Value {
            bytes: b.into_boxed_slice(),
        }
    }

    /// Panics if this value cannot be an item of an array or map: it is
    /// nested [`MAX_DEPTH`] deep already.
    fn check_nests_inside(&self) {
        // Only arrays and maps nest: a scalar needs no walk.
        let container = matches!(
            self.bytes.first().map(|&b| Marker::from_u8(b)),
            Some(
                Marker::FixArray(_)
                    | Marker::Array16
                    | Marker::Array32
                    | Marker::FixMap(_)
                    | Marker::Map16
                    | Marker::Map32
            )
        );
        if container && check(&mut Reader::new(&self.bytes), MAX_DEPTH - 1).is_err() {
            panic!("neopy::Value: nested deeper than MAX_DEPTH ({MAX_DEPTH})");
        }
    }
}

/// A length or count as msgpack's u32.
///
/// # Panics
/// Beyond u32 (see the constructors).
fn wire_len(len: usize) -> u32 {
    u32::try_from(len).expect("neopy::Value: length or count exceeds u32::MAX")
}

/// `nil`, the value of a field nobody set.
impl Default for Value {
    fn default() -> Value {
        Value::nil()
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::encoded(|b| wrote(rmp::encode::write_bool(b, v)))
    }
}

/// Integers in their smallest msgpack form, as NEO/py writes them
/// (non-negative ones as unsigned).
macro_rules! int_values {
    ($($t:ty => $write:ident as $wide:ty),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::encoded(|b| wrote(rmp::encode::$write(b, <$wide>::from(v))))
            }
        }
    )*};
}

int_values!(
    i8 => write_sint as i64,
    i16 => write_sint as i64,
    i32 => write_sint as i64,
    i64 => write_sint as i64,
    u8 => write_uint as u64,
    u16 => write_uint as u64,
    u32 => write_uint as u64,
    u64 => write_uint as u64,
);

/// A float64, as NEO/py writes Python's floats.
impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::encoded(|b| wrote(rmp::encode::write_f64(b, v)))
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Value {
        Value::encoded(|b| wrote(rmp::encode::write_f32(b, v)))
    }
}

/// A `str` (Python's `str`).
///
/// # Panics
/// Beyond `u32::MAX` bytes, as [`Value::bin`].
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::encoded(|b| {
            wrote(rmp::encode::write_str_len(b, wire_len(v.len())));
            b.extend_from_slice(v.as_bytes());
        })
    }
}

/// A `str`, as for `&str`.
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::from(v.as_str())
    }
}

/// Shows the value read (what [`Value::view`] gives, arrays and maps
/// expanded), not its bytes.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.view(), f)
    }
}

impl<'a> ValueRef<'a> {
    /// Whether this is `nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, ValueRef::Nil)
    }

    /// The bool, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            ValueRef::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The integer, if this is one that fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            ValueRef::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The integer, if this is a non-negative one.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            ValueRef::Int(i) => u64::try_from(i).ok(),
            ValueRef::UInt(u) => Some(u),
            _ => None,
        }
    }

    /// The float (a float32 widened), if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            ValueRef::F32(x) => Some(f64::from(x)),
            ValueRef::F64(x) => Some(x),
            _ => None,
        }
    }

    /// The string, if this is a `str`.
    pub fn as_str(&self) -> Option<&'a str> {
        match *self {
            ValueRef::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is a `bin`.
    pub fn as_bin(&self) -> Option<&'a [u8]> {
        match *self {
            ValueRef::Bin(b) => Some(b),
            _ => None,
        }
    }
}

impl<'a> Iterator for ArrayIter<'a> {
    type Item = ValueRef<'a>;

    fn next(&mut self) -> Option<ValueRef<'a>> {
        self.left = self.left.checked_sub(1)?;
        Some(next_item(&mut self.r))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for ArrayIter<'_> {}

impl<'a> Iterator for MapIter<'a> {
    type Item = (ValueRef<'a>, ValueRef<'a>);

    fn next(&mut self) -> Option<(ValueRef<'a>, ValueRef<'a>)> {
        self.left = self.left.checked_sub(1)?;
        let k = next_item(&mut self.r);
        Some((k, next_item(&mut self.r)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for MapIter<'_> {}

/// The items not yet read, as a list.
impl fmt::Debug for ArrayIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// The entries not yet read, as a map.
impl fmt::Debug for MapIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.clone()).finish()
    }
}

/// Equal when the items left are (and equally many).
impl PartialEq for ArrayIter<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.left == other.left && self.clone().eq(other.clone())
    }
}

/// Equal when the entries left are, in the same order.
impl PartialEq for MapIter<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.left == other.left && self.clone().eq(other.clone())
    }
}

/// The value at `r`, read one level; `r` is then past it.
fn next_item<'a>(r: &mut Reader<'a>) -> ValueRef<'a> {
    let at = r.clone();
    // Checked when the value was made: this walk cannot fail. Were it to,
    // the iterator would only yield what `read_at` makes of the bytes
    // (never a panic).
    let _ = check(r, MAX_DEPTH);
    read_at(at)
}

/// The value at `r`, read one level (an array or a map as an iterator at
/// its first item). `r` holds a checked value there, so no read fails; if
/// one did, the value reads as `nil` rather than panicking.
fn read_at(mut r: Reader<'_>) -> ValueRef<'_> {
    let Ok(marker) = r.peek() else {
        return ValueRef::Nil;
    };
    let value = match marker {
        Marker::True | Marker::False => r.bool().map(ValueRef::Bool),
        Marker::FixPos(_)
        | Marker::FixNeg(_)
        | Marker::U8
        | Marker::U16
        | Marker::U32
        | Marker::U64
        | Marker::I8
        | Marker::I16
        | Marker::I32
        | Marker::I64 => r.int::<i128>().map(|i| match i64::try_from(i) {
            Ok(i) => ValueRef::Int(i),
            // every msgpack integer is within i64::MIN..=u64::MAX
            Err(_) => ValueRef::UInt(u64::try_from(i).unwrap_or(u64::MAX)),
        }),
        // f64 as f32: exact, it was read from a float32
        Marker::F32 => r.f64().map(|x| ValueRef::F32(x as f32)),
        Marker::F64 => r.f64().map(ValueRef::F64),
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => r
            .bin()
            .map(|s| ValueRef::Str(std::str::from_utf8(s).unwrap_or_default())),
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => r.bin().map(ValueRef::Bin),
        Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => r
            .array(1)
            .map(|left| ValueRef::Array(ArrayIter { r: r.clone(), left })),
        Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => r
            .map(2)
            .map(|left| ValueRef::Map(MapIter { r: r.clone(), left })),
        Marker::FixExt1
        | Marker::FixExt2
        | Marker::FixExt4
        | Marker::FixExt8
        | Marker::FixExt16
        | Marker::Ext8
        | Marker::Ext16
        | Marker::Ext32 => r.ext().map(|(ty, data)| ValueRef::Ext(ty, data)),
        Marker::Null | Marker::Reserved => Ok(ValueRef::Nil),
    };
    value.unwrap_or(ValueRef::Nil)
}

impl Field for Value {
    const MIN_LEN: usize = 1;

    fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        e.raw(&self.bytes);
    }

    /// Checks the value where it is (allocating nothing), then copies its
    /// bytes, charged to the budget first: a value costs exactly its
    /// encoded size.
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        let start = r.remaining();
        check(r, MAX_DEPTH)?;
        let len = start.len() - r.remaining().len();
        let bytes = r.budget().copy(&start[..len])?;
        // `copy` allocates exactly `len`: no reallocation here.
        Ok(Value {
            bytes: bytes.into_boxed_slice(),
        })
    }
}

/// Walks one value nested at most `depth` containers deep, checking it (see
/// the module documentation) and allocating nothing.
///
/// Counts were checked against the remaining input at one byte per item
/// (two per map entry), so the walk takes time in proportion to the
/// input; the recursion is at most `depth` deep.
fn check(r: &mut Reader<'_>, depth: usize) -> Result<(), DecodeErrorKind> {
    let marker = r.peek()?;
    match marker {
        Marker::Null => {
            r.nil();
        }
        Marker::True | Marker::False => {
            r.bool()?;
        }
        Marker::FixPos(_)
        | Marker::FixNeg(_)
        | Marker::U8
        | Marker::U16
        | Marker::U32
        | Marker::U64
        | Marker::I8
        | Marker::I16
        | Marker::I32
        | Marker::I64 => {
            r.int::<i128>()?;
        }
        Marker::F32 | Marker::F64 => {
            r.f64()?;
        }
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
            // A value keeps its bytes: a `str` that is not UTF-8 cannot be
            // mended into one, and `ValueRef::Str` is a `&str`.
            std::str::from_utf8(r.bin()?)
                .map_err(|_| DecodeErrorKind::Msgpack(MsgpackError::NotUtf8))?;
        }
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => {
            r.bin()?;
        }
        Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => {
            let depth = deeper(depth)?;
            for _ in 0..r.array(1)? {
                check(r, depth)?;
            }
        }
        Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => {
            let depth = deeper(depth)?;
            for _ in 0..r.map(2)? {
                check(r, depth)?;
                check(r, depth)?;
            }
        }
        Marker::FixExt1
        | Marker::FixExt2
        | Marker::FixExt4
        | Marker::FixExt8
        | Marker::FixExt16
        | Marker::Ext8
        | Marker::Ext16
        | Marker::Ext32 => {
            r.ext()?;
        }
        Marker::Reserved => {
            return Err(DecodeErrorKind::Msgpack(MsgpackError::UnexpectedType {
                expected: "a msgpack value",
                marker: marker.to_u8(),
            }))
        }
    }
    Ok(())
}

/// The depth left inside one more container, or `TooDeep`.
fn deeper(depth: usize) -> Result<usize, DecodeErrorKind> {
    depth
        .checked_sub(1)
        .ok_or(DecodeErrorKind::Msgpack(MsgpackError::TooDeep {
            max: MAX_DEPTH,
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `bytes` as a value: it must take all of them and encode back
    /// to them.
    fn round_trip(bytes: &[u8]) -> Value {
        let mut r = Reader::new(bytes);
        let v = Value::get(&mut r).unwrap();
        r.finish().unwrap();
        let mut out = Vec::new();
        v.put(&mut Encoder::new(&mut out));
        assert_eq!(out, bytes, "{v:?}");
        assert_eq!(v.encoded_len(), bytes.len(), "{v:?}");
        assert_eq!(Value::from_msgpack(bytes).as_ref(), Ok(&v));
        v
    }

    #[test]
    fn values_round_trip_byte_for_byte() {
        // NotifyMonitorInformation's info values, from the vectors
        assert_eq!(round_trip(&[0xd4, 1, 2]), Value::ext(1, &[2]));
        assert_eq!(
            round_trip(&[0x91, 0x92, 0xd4, 0, 1, 6]),
            Value::array([Value::array([Value::ext(0, &[1]), Value::from(6)])])
        );
        round_trip(&[0x92, 0, 1]);
        round_trip(&[
            0x82, 0xa1, b'a', 0xc3, 0xc4, 1, 7, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0,
        ]);
        round_trip(&[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        round_trip(&[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        round_trip(&[0xd0, 0x80]);
        round_trip(&[0xca, 0x3f, 0x80, 0, 0]);
        round_trip(&[0xc7, 0, 5]);
        // forms other than the smallest stay as they came
        let wide = round_trip(&[0xcd, 0, 5]);
        assert_ne!(wide, Value::from(5));
        assert_eq!(wide.view(), ValueRef::Int(5));
    }

    #[test]
    fn built_values_are_neopys_smallest_forms() {
        let enc = |v: Value| v.as_msgpack().to_vec();
        assert_eq!(enc(Value::nil()), [0xc0]);
        assert_eq!(enc(Value::default()), [0xc0]);
        assert_eq!(enc(Value::from(true)), [0xc3]);
        assert_eq!(enc(Value::from(-1)), [0xff]);
        assert_eq!(enc(Value::from(200u8)), [0xcc, 200]);
        assert_eq!(enc(Value::from(-129i64)), [0xd1, 0xff, 0x7f]);
        assert_eq!(
            enc(Value::from(u64::MAX)),
            [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(enc(Value::from(1.5)), [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
        assert_eq!(enc(Value::from(1.5f32)), [0xca, 0x3f, 0xc0, 0, 0]);
        assert_eq!(enc(Value::from("ab")), [0xa2, b'a', b'b']);
        assert_eq!(enc(Value::from(String::from("ab"))), [0xa2, b'a', b'b']);
        assert_eq!(enc(Value::bin(b"ab")), [0xc4, 2, b'a', b'b']);
        assert_eq!(enc(Value::ext(4, &[2])), [0xd4, 4, 2]);
        assert_eq!(enc(Value::ext(1, &[1, 2, 3])), [0xc7, 3, 1, 1, 2, 3]);
        assert_eq!(enc(Value::array([])), [0x90]);
        assert_eq!(
            enc(Value::map([(
                Value::from("k"),
                Value::array([Value::nil()])
            )])),
            [0x81, 0xa1, b'k', 0x91, 0xc0]
        );
        let many = Value::array((0..16).map(Value::from));
        assert_eq!(&many.as_msgpack()[..3], [0xdc, 0, 16]);
    }

    #[test]
    fn views() {
        assert_eq!(Value::nil().view(), ValueRef::Nil);
        assert!(Value::nil().view().is_nil());
        assert_eq!(Value::from(false).view().as_bool(), Some(false));
        assert_eq!(Value::from(-3).view().as_i64(), Some(-3));
        assert_eq!(Value::from(-3).view().as_u64(), None);
        assert_eq!(Value::from(u64::MAX).view(), ValueRef::UInt(u64::MAX));
        assert_eq!(Value::from(u64::MAX).view().as_u64(), Some(u64::MAX));
        assert_eq!(Value::from(i64::MIN).view(), ValueRef::Int(i64::MIN));
        assert_eq!(Value::from(0.25f32).view(), ValueRef::F32(0.25));
        assert_eq!(Value::from(0.25f32).view().as_f64(), Some(0.25));
        assert_eq!(Value::from(0.5).view(), ValueRef::F64(0.5));
        assert_eq!(Value::from("é").view().as_str(), Some("é"));
        assert_eq!(Value::bin(&[1]).view().as_bin(), Some(&[1u8][..]));
        assert_eq!(Value::ext(2, &[9]).view(), ValueRef::Ext(2, &[9]));

        // containers: items read in order, nested ones skipped whole
        let v = Value::array([
            Value::array([
                Value::from(1),
                Value::map([(Value::nil(), Value::from("x"))]),
            ]),
            Value::from(2),
            Value::map([(Value::from("k"), Value::array([]))]),
        ]);
        let ValueRef::Array(items) = v.view() else {
            panic!("{v:?}")
        };
        assert_eq!(items.len(), 3);
        let items: Vec<ValueRef<'_>> = items.collect();
        let ValueRef::Array(inner) = &items[0] else {
            panic!()
        };
        assert_eq!(inner.len(), 2);
        assert_eq!(items[1], ValueRef::Int(2));
        let ValueRef::Map(mut m) = items[2].clone() else {
            panic!()
        };
        let (k, val) = m.next().unwrap();
        assert_eq!(k.as_str(), Some("k"));
        assert_eq!(val.clone(), Value::array([]).view());
        assert!(m.next().is_none());
        assert_eq!(
            format!("{v:?}"),
            r#"Array([Array([Int(1), Map({Nil: Str("x")})]), Int(2), Map({Str("k"): Array([])})])"#
        );
    }

    #[test]
    fn refused_values() {
        let get = |b: &[u8]| Value::get(&mut Reader::new(b));
        assert_eq!(
            get(&[0xc1]),
            Err(DecodeErrorKind::Msgpack(MsgpackError::UnexpectedType {
                expected: "a msgpack value",
                marker: 0xc1
            }))
        );
        assert_eq!(get(&[0x91, 0xc1]).unwrap_err(), get(&[0xc1]).unwrap_err());
        assert_eq!(
            get(&[0xa1, 0xff]),
            Err(DecodeErrorKind::Msgpack(MsgpackError::NotUtf8))
        );
        assert_eq!(
            get(&[0x81, 0xa1, 0xff, 0xc0]),
            Err(DecodeErrorKind::Msgpack(MsgpackError::NotUtf8))
        );
        let deep = vec![0x91; MAX_DEPTH + 1];
        assert_eq!(
            get(&deep),
            Err(DecodeErrorKind::Msgpack(MsgpackError::TooDeep {
                max: MAX_DEPTH
            }))
        );
        let mut ok = vec![0x91; MAX_DEPTH];
        ok.push(0xc0);
        assert!(get(&ok).is_ok());
        assert_eq!(
            get(&[0xdd, 0, 1, 0, 0, 0xc0]),
            Err(DecodeErrorKind::LengthTooLarge {
                len: 65536,
                item_size: 1,
                remaining: 1
            })
        );
        assert_eq!(
            get(&[0x92, 0xc0]),
            Err(DecodeErrorKind::LengthTooLarge {
                len: 2,
                item_size: 1,
                remaining: 1
            })
        );
        assert_eq!(
            get(&[]),
            Err(DecodeErrorKind::Truncated {
                needed: 1,
                remaining: 0
            })
        );
        assert_eq!(
            Value::from_msgpack(&[0xc0, 0xc0]),
            Err(DecodeErrorKind::TrailingBytes { count: 1 })
        );
    }

    #[test]
    fn decoding_charges_the_encoded_size() {
        // 1000 nils in an array: 1003 bytes of input, 1003 charged
        let mut bytes = vec![0xdc, 0x03, 0xe8];
        bytes.resize(3 + 1000, 0xc0);
        let mut r = Reader::new(&bytes);
        let before = r.budget().left();
        let v = Value::get(&mut r).unwrap();
        assert_eq!(before - r.budget().left(), bytes.len());
        assert_eq!(v.as_msgpack(), &bytes[..]);
    }

    #[test]
    fn depth_is_bounded_when_building() {
        let mut v = Value::nil();
        for _ in 0..MAX_DEPTH {
            v = Value::array([v]);
        }
        assert_eq!(Value::from_msgpack(v.as_msgpack()), Ok(v.clone()));
        let deeper = std::panic::catch_unwind(|| Value::array([v]));
        assert!(deeper.is_err());
    }
}
