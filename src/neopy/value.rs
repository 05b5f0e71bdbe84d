//! NEO's `any`: a generic msgpack value, as [`rmpv::Value`].
//!
//! Two fields of NEO/py carry free-form values (`RequestIdentification`'s
//! `extra` and `NotifyMonitorInformation`'s `info`). Encoding is
//! `rmpv`'s. Decoding walks the value with `rmp`'s primitives rather than
//! `rmpv::decode::read_value`, for the guarantees of the rest of the
//! dialect: it reserves nothing beyond what the input holds (`rmpv`
//! reserves up to 64 KiB for a forged `bin` length), refuses the reserved
//! byte `0xc1` and `str`s that are not UTF-8 (which `rmpv` keeps, and would
//! write back as `bin`, changing the bytes), and bounds nesting by
//! [`MAX_DEPTH`] so that recursion cannot exhaust the stack.

use rmp::Marker;
use rmpv::Value;

use super::codec::{
    array_header_len, bin_header_len, ext_header_len, sint_len, str_header_len, uint_len, Encoder,
    Field, Reader,
};
use super::framing::MAX_DEPTH;
use crate::proto::codec::DecodeErrorKind;

impl Field for Value {
    const MIN_LEN: usize = 1;

    fn encoded_len(&self) -> usize {
        value_len(self)
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        e.value(self);
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        read_value(r, MAX_DEPTH)
    }
}

/// Encoded size of `v`, as `rmpv::encode::write_value` writes it.
fn value_len(v: &Value) -> usize {
    match v {
        Value::Nil | Value::Boolean(_) => 1,
        Value::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => uint_len(u),
            (None, Some(s)) => sint_len(s),
            // an Integer is always one or the other
            (None, None) => 9,
        },
        Value::F32(_) => 5,
        Value::F64(_) => 9,
        Value::String(s) => match s.as_str() {
            Some(s) => str_header_len(s.len()) + s.len(),
            // rmpv writes a string that is not UTF-8 as a bin
            None => bin_header_len(s.as_bytes().len()) + s.as_bytes().len(),
        },
        Value::Binary(b) => bin_header_len(b.len()) + b.len(),
        Value::Array(items) => {
            array_header_len(items.len()) + items.iter().map(value_len).sum::<usize>()
        }
        Value::Map(entries) => {
            array_header_len(entries.len())
                + entries
                    .iter()
                    .map(|(k, v)| value_len(k) + value_len(v))
                    .sum::<usize>()
        }
        Value::Ext(_, b) => ext_header_len(b.len()) + b.len(),
    }
}

/// Read one value nested at most `depth` containers deep.
///
/// Every array or map reserves exactly its count of items, which the
/// reader checked against the remaining input at one byte per item (two
/// per map entry): a `Value` per input byte at most.
fn read_value(r: &mut Reader<'_>, depth: usize) -> Result<Value, DecodeErrorKind> {
    let marker = r.peek()?;
    let value = match marker {
        Marker::Null => {
            r.nil();
            Value::Nil
        }
        Marker::True | Marker::False => Value::Boolean(r.bool()?),
        Marker::FixPos(_)
        | Marker::FixNeg(_)
        | Marker::U8
        | Marker::U16
        | Marker::U32
        | Marker::U64
        | Marker::I8
        | Marker::I16
        | Marker::I32
        | Marker::I64 => int_value(r.int::<i128>()?),
        Marker::F32 => Value::F32(r.f64()? as f32),
        Marker::F64 => Value::F64(r.f64()?),
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
            // A msgpack `str` must be UTF-8; one that is not is decoded
            // lossily, as NEO's string fields are.
            Value::from(String::from_utf8_lossy(r.bin()?).as_ref())
        }
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => Value::Binary(r.bin()?.to_vec()),
        Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => {
            let depth = deeper(depth)?;
            let n = r.array(1)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(read_value(r, depth)?);
            }
            Value::Array(items)
        }
        Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => {
            let depth = deeper(depth)?;
            let n = r.map(2)?;
            let mut entries = Vec::with_capacity(n);
            for _ in 0..n {
                let k = read_value(r, depth)?;
                let v = read_value(r, depth)?;
                entries.push((k, v));
            }
            Value::Map(entries)
        }
        Marker::FixExt1
        | Marker::FixExt2
        | Marker::FixExt4
        | Marker::FixExt8
        | Marker::FixExt16
        | Marker::Ext8
        | Marker::Ext16
        | Marker::Ext32 => {
            let (ty, payload) = r.ext()?;
            Value::Ext(ty, payload.to_vec())
        }
        Marker::Reserved => {
            return Err(DecodeErrorKind::UnexpectedType {
                expected: "a msgpack value",
                marker: marker.to_u8(),
            })
        }
    };
    Ok(value)
}

/// The depth left inside one more container, or `TooDeep`.
fn deeper(depth: usize) -> Result<usize, DecodeErrorKind> {
    depth
        .checked_sub(1)
        .ok_or(DecodeErrorKind::TooDeep { max: MAX_DEPTH })
}

/// A msgpack integer (always within `i64::MIN..=u64::MAX`) as a `Value`
/// that `rmpv` writes back in the smallest form.
fn int_value(v: i128) -> Value {
    match (u64::try_from(v), i64::try_from(v)) {
        (Ok(u), _) => Value::from(u),
        (_, Ok(s)) => Value::from(s),
        // not a msgpack integer: rmp cannot have read it
        _ => Value::Nil,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8]) -> Value {
        let mut r = Reader::new(bytes);
        let v = Value::get(&mut r).unwrap();
        r.finish().unwrap();
        let mut out = Vec::new();
        v.put(&mut Encoder::new(&mut out));
        assert_eq!(out, bytes, "{v:?}");
        assert_eq!(v.encoded_len(), bytes.len(), "{v:?}");
        v
    }

    #[test]
    fn values_round_trip() {
        // NotifyMonitorInformation's info values, from the vectors
        assert_eq!(round_trip(&[0xd4, 1, 2]), Value::Ext(1, vec![2]));
        assert_eq!(
            round_trip(&[0x91, 0x92, 0xd4, 0, 1, 6]),
            Value::Array(vec![Value::Array(vec![
                Value::Ext(0, vec![1]),
                Value::from(6)
            ])])
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
    }

    #[test]
    fn refused_values() {
        let get = |b: &[u8]| Value::get(&mut Reader::new(b));
        assert_eq!(
            get(&[0xc1]),
            Err(DecodeErrorKind::UnexpectedType {
                expected: "a msgpack value",
                marker: 0xc1
            })
        );
        assert_eq!(get(&[0xa1, 0xff]), Ok(Value::from("\u{fffd}")));
        let deep = vec![0x91; MAX_DEPTH + 1];
        assert_eq!(get(&deep), Err(DecodeErrorKind::TooDeep { max: MAX_DEPTH }));
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
    }
}
