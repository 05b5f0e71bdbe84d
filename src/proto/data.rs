//! [`Data`]: the bytes of a large blob field, possibly shared with the
//! buffer of the packet they arrived in.
//!
//! Object data is the one field of NEO that gets big (up to 64 MiB, the
//! packet limit). Copying it out of the packet buffer after a read, and
//! into a send buffer before a write, costs more than the socket I/O
//! itself for a 16 MiB object, mostly in page faults on the fresh
//! allocation. So, like NEO/go's `*mem.Buf`, a `Data` received in a packet
//! is a *window* into that packet's buffer (an `Arc<Vec<u8>>` the link
//! hands over to the decoder), and on the way out the encoder *borrows* it
//! (see [`Encoder::big`](super::codec::Encoder::big)) for a vectored write
//! instead of copying it.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, DerefMut, Range};
use std::sync::Arc;

use super::codec::{DecodeErrorKind, Encoder, Field, Reader};
use super::value::Value;

/// Bytes of an object-data field (`AnswerObject`, `StoreObject`, ...), either owned or a
/// window into a shared packet buffer.
///
/// Use it like a `Vec<u8>`/`&[u8]`: it derefs to `[u8]`, converts from a
/// `Vec<u8>` without copying, compares by content (an owned `Data` equals a
/// window with the same bytes), and [`Data::into_vec`] gives the bytes back
/// as a `Vec<u8>`.
///
/// A window keeps the whole packet buffer it points into alive, and cloning
/// a window only bumps a reference count. Decoding produces windows only
/// for blobs of at least [`BIG_FIELD`](super::BIG_FIELD) bytes, when the
/// packet buffer is shared (`Msg::decode_shared`); smaller blobs are copied,
/// so that they do not pin a buffer for a few bytes.
///
/// ```
/// use neonet::proto::Data;
///
/// let d = Data::from(b"hello".to_vec()); // no copy
/// assert_eq!(d.len(), 5);
/// assert_eq!(&d[..], b"hello");
/// assert_eq!(d.into_vec(), b"hello"); // no copy either
/// ```
#[derive(Clone)]
pub struct Data(Repr);

/// The two ways of holding the bytes.
#[derive(Clone)]
enum Repr {
    /// Bytes of our own.
    Owned(Vec<u8>),
    /// `buf[start..end]`; invariant: `start <= end <= buf.len()`, so that
    /// slicing never panics.
    Shared {
        buf: Arc<Vec<u8>>,
        start: usize,
        end: usize,
    },
}

impl Data {
    /// A window `buf[range]` into a shared buffer: no copy, and `buf` stays
    /// alive as long as the window (or a clone of it) does.
    ///
    /// # Panics
    /// If `range` is not within `buf` (like slicing would).
    pub fn from_shared(buf: Arc<Vec<u8>>, range: Range<usize>) -> Data {
        assert!(
            range.start <= range.end && range.end <= buf.len(),
            "Data window {range:?} out of a buffer of {} bytes",
            buf.len()
        );
        Data(Repr::Shared {
            buf,
            start: range.start,
            end: range.end,
        })
    }

    /// Whether the bytes are a window into a shared buffer (rather than
    /// owned).
    pub fn is_shared(&self) -> bool {
        matches!(self.0, Repr::Shared { .. })
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Owned(v) => v,
            // In bounds: invariant of `Repr::Shared`.
            Repr::Shared { buf, start, end } => &buf[*start..*end],
        }
    }

    /// The bytes as a `Vec<u8>`.
    ///
    /// No copy for owned bytes. A window is copied, unless this was the
    /// last holder of its buffer: then the buffer's allocation is reused
    /// (the window is moved to its front), which avoids allocating, and
    /// page-faulting, a fresh buffer of the same size.
    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Repr::Owned(v) => v,
            Repr::Shared { buf, start, end } => match Arc::try_unwrap(buf) {
                Ok(mut v) => {
                    v.truncate(end);
                    v.drain(..start);
                    v
                }
                Err(buf) => buf[start..end].to_vec(),
            },
        }
    }
}

/// Empty (and owned: no allocation).
impl Default for Data {
    fn default() -> Data {
        Data(Repr::Owned(Vec::new()))
    }
}

impl Deref for Data {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

/// Mutable access makes the bytes owned first (copy on write: a window's
/// buffer may be shared with other holders, who must not see the change),
/// see [`Data::into_vec`]. Owned bytes are changed in place.
impl DerefMut for Data {
    fn deref_mut(&mut self) -> &mut [u8] {
        if self.is_shared() {
            let owned = std::mem::take(self).into_vec();
            self.0 = Repr::Owned(owned);
        }
        match &mut self.0 {
            Repr::Owned(v) => v,
            Repr::Shared { .. } => unreachable!("made owned just above"),
        }
    }
}

impl AsRef<[u8]> for Data {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// No copy: the vector becomes the owned bytes.
impl From<Vec<u8>> for Data {
    fn from(v: Vec<u8>) -> Data {
        Data(Repr::Owned(v))
    }
}

/// Copies the bytes.
impl From<&[u8]> for Data {
    fn from(b: &[u8]) -> Data {
        Data(Repr::Owned(b.to_vec()))
    }
}

/// See [`Data::into_vec`].
impl From<Data> for Vec<u8> {
    fn from(d: Data) -> Vec<u8> {
        d.into_vec()
    }
}

/// Collects into owned bytes, like `Vec<u8>`.
impl FromIterator<u8> for Data {
    fn from_iter<I: IntoIterator<Item = u8>>(iter: I) -> Data {
        Data(Repr::Owned(iter.into_iter().collect()))
    }
}

// Equality, and hashing consistently with it, are by content: where the
// bytes live is an implementation detail (a decoded message equals the one
// that was sent).
impl PartialEq for Data {
    fn eq(&self, other: &Data) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Data {}

impl PartialEq<[u8]> for Data {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<&[u8]> for Data {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_slice() == *other
    }
}

impl PartialEq<Vec<u8>> for Data {
    fn eq(&self, other: &Vec<u8>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Hash for Data {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

/// How many bytes `Debug` shows: enough to tell values apart in a failed
/// assertion, while a 16 MiB object does not flood the output.
const DEBUG_BYTES: usize = 16;

/// The length and the first bytes in hex, e.g. `Data(5 bytes: 68656c6c6f)`
/// or `Data(16777216 bytes: 000102030405060708090a0b0c0d0e0f…)`.
impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Data({} bytes", self.len())?;
        if !self.is_empty() {
            f.write_str(": ")?;
            for b in self.iter().take(DEBUG_BYTES) {
                write!(f, "{b:02x}")?;
            }
            if self.len() > DEBUG_BYTES {
                f.write_str("…")?;
            }
        }
        f.write_str(")")
    }
}

/// A byte blob on the wire (u32 length, then the bytes), exactly like
/// `Vec<u8>`. Encoding offers the bytes to [`Encoder::big`], which borrows
/// them when large; decoding takes a window of the packet buffer when
/// large and shared (see [`Reader::take_data`]).
impl Field for Data {
    const MIN_LEN: usize = 4;

    fn encoded_len(&self) -> usize {
        4 + self.len()
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        e.length(self.len());
        e.big(self.as_slice());
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        let len = r.length(1)?;
        r.take_data(len)
    }

    fn to_value(&self) -> Value {
        Value::Bytes(self.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shared buffer 0, 1, 2, … and a window `[start..end]` into it.
    fn window(len: usize, start: usize, end: usize) -> (Arc<Vec<u8>>, Data) {
        let buf = Arc::new((0..len).map(|i| i as u8).collect::<Vec<u8>>());
        let d = Data::from_shared(Arc::clone(&buf), start..end);
        (buf, d)
    }

    #[test]
    fn from_and_into_vec_do_not_copy_owned_bytes() {
        let v = b"hello".to_vec();
        let ptr = v.as_ptr();
        let d = Data::from(v);
        assert!(!d.is_shared());
        assert_eq!(d.as_ptr(), ptr);
        let v = d.into_vec();
        assert_eq!(v.as_ptr(), ptr);
        assert_eq!(v, b"hello");

        let d = Data::from(&b"abc"[..]);
        assert_eq!(d, b"abc".to_vec());
        assert_eq!(Vec::from(d), b"abc");
        let d: Data = (1..=3u8).collect();
        assert_eq!(d, &[1u8, 2, 3][..]);
        assert!(Data::default().is_empty());
    }

    #[test]
    fn window_reads_the_shared_buffer() {
        let (buf, d) = window(100, 10, 20);
        assert!(d.is_shared());
        assert_eq!(d.len(), 10);
        assert_eq!(d.as_ptr(), buf[10..].as_ptr(), "a window copies nothing");
        assert_eq!(d, (10..20u8).collect::<Vec<u8>>());
        assert_eq!(d.as_ref(), &buf[10..20]);
        let (_, empty) = window(4, 4, 4);
        assert!(empty.is_empty());
    }

    #[test]
    #[should_panic(expected = "out of a buffer of 4 bytes")]
    fn window_out_of_range_panics() {
        window(4, 2, 5);
    }

    #[test]
    fn clone_of_a_window_shares_the_buffer() {
        let (buf, d) = window(100, 10, 20);
        assert_eq!(Arc::strong_count(&buf), 2);
        let c = d.clone();
        assert_eq!(Arc::strong_count(&buf), 3);
        assert_eq!(c.as_ptr(), d.as_ptr());
        drop((c, d));
        assert_eq!(Arc::strong_count(&buf), 1);
    }

    #[test]
    fn into_vec_of_a_window() {
        // another holder: copied, the buffer is untouched
        let (buf, d) = window(100, 10, 20);
        assert_eq!(d.into_vec(), (10..20u8).collect::<Vec<u8>>());
        assert_eq!(buf.len(), 100);
        // last holder: the buffer's allocation is reused
        let (buf, d) = window(100, 10, 20);
        let ptr = buf.as_ptr();
        drop(buf);
        let v = d.into_vec();
        assert_eq!(v, (10..20u8).collect::<Vec<u8>>());
        assert_eq!(v.as_ptr(), ptr);
    }

    #[test]
    fn mutating_a_window_does_not_change_the_buffer() {
        let (buf, mut d) = window(100, 10, 20);
        d[0] = 0xff;
        assert!(!d.is_shared());
        assert_eq!(d[..2], [0xff, 11]);
        assert_eq!(buf[10], 10);
        assert_eq!(Arc::strong_count(&buf), 1);
        let mut o = Data::from(vec![1, 2]);
        let ptr = o.as_ptr();
        o[1] = 3;
        assert_eq!(o, vec![1, 3]);
        assert_eq!(o.as_ptr(), ptr, "owned bytes change in place");
    }

    #[test]
    fn equality_and_hash_are_by_content() {
        use std::collections::hash_map::DefaultHasher;
        let hash = |d: &Data| {
            let mut h = DefaultHasher::new();
            d.hash(&mut h);
            h.finish()
        };
        let (_, w) = window(100, 10, 20);
        let o = Data::from((10..20u8).collect::<Vec<u8>>());
        assert_eq!(w, o);
        assert_eq!(hash(&w), hash(&o));
        assert_ne!(w, Data::from(vec![10]));
        assert!(w == *o.as_slice());
    }

    #[test]
    fn debug_shows_the_length_and_a_few_bytes() {
        assert_eq!(format!("{:?}", Data::default()), "Data(0 bytes)");
        assert_eq!(
            format!("{:?}", Data::from(b"hello".to_vec())),
            "Data(5 bytes: 68656c6c6f)"
        );
        let (_, big) = window(16 << 20, 0, 16 << 20);
        assert_eq!(
            format!("{big:?}"),
            "Data(16777216 bytes: 000102030405060708090a0b0c0d0e0f…)"
        );
    }
}
