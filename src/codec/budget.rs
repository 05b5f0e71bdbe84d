//! The decode budget: what decoding a payload may allocate, the same rule
//! for both dialects (ARCHITECTURE.md, "Bounded memory").
//!
//! A peer chooses the bytes we decode, so it chooses what they decode
//! into: a byte on the wire can become an item of 24 bytes or more in
//! memory (an empty list in a list, a `nil` in a list of optional
//! strings), and a 64 MiB packet could then hold gigabytes. So each
//! decoder — protocol 6's (`proto::codec`) and NEO/py's (`neopy::codec`) —
//! owns one [`Budget`] per payload and charges it **before** every
//! allocation it makes, with what that allocation takes:
//! [`DECODE_GROWTH`] bytes per payload byte plus [`DECODE_ALLOWANCE`].
//! A value that would need more fails with
//! [`DecodeErrorKind::TooMuchMemory`], which the message's decoder turns
//! into a [`DecodeError`](super::DecodeError) naming the message and
//! the field; nothing of that size is allocated.
//!
//! The helpers below are the only way the decoders allocate: each charges
//! exactly what it then allocates (a B-tree map, whose nodes come as it
//! grows, is charged an upper bound up front). A decoder that allocated
//! past them would break the bound, and the counting-allocator tests
//! (`tests/decode_alloc.rs`, with the allowance hook of feature
//! `test-hooks` set to 0) would see it.

use super::DecodeErrorKind;

/// Bytes that decoding may allocate per byte of payload: the largest
/// factor by which a payload of either dialect grows when decoded, beyond
/// [`DECODE_ALLOWANCE`].
///
/// 4, because real messages stay far below it (object ids 1×, partition
/// tables ≈ 2×, node lists < 3×) while what it refuses is only ever made
/// of items that are tiny on the wire and large in memory.
pub const DECODE_GROWTH: usize = 4;

/// Bytes that decoding may allocate whatever the payload's size, so that a
/// small message whose items are larger in memory than on the wire (a few
/// empty rows of a partition table, the first node of a map) is never
/// refused.
pub const DECODE_ALLOWANCE: usize = 1 << 20;

/// What decoding one payload may still allocate.
///
/// Made once per payload ([`Budget::for_input`]) by the decoder's reader,
/// charged before each allocation, never refilled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Budget {
    /// Bytes left.
    left: usize,
}

impl Budget {
    /// The budget of a payload of `len` bytes:
    /// [`DECODE_GROWTH`] × `len` + [`DECODE_ALLOWANCE`].
    pub(crate) fn for_input(len: usize) -> Budget {
        Budget {
            left: len
                .saturating_mul(DECODE_GROWTH)
                .saturating_add(allowance()),
        }
    }

    /// Bytes left.
    pub(crate) fn left(&self) -> usize {
        self.left
    }

    /// Takes `bytes` from the budget, before they are allocated: fails with
    /// [`DecodeErrorKind::TooMuchMemory`] (and takes nothing) if fewer are
    /// left.
    pub(crate) fn charge(&mut self, bytes: usize) -> Result<(), DecodeErrorKind> {
        match self.left.checked_sub(bytes) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(DecodeErrorKind::TooMuchMemory {
                needed: bytes,
                left: self.left,
            }),
        }
    }

    /// An empty `Vec` with room for `count` items, charged first.
    pub(crate) fn vec<T>(&mut self, count: usize) -> Result<Vec<T>, DecodeErrorKind> {
        self.charge(count.saturating_mul(std::mem::size_of::<T>()))?;
        Ok(Vec::with_capacity(count))
    }

    /// A copy of `bytes`, charged first.
    pub(crate) fn copy(&mut self, bytes: &[u8]) -> Result<Vec<u8>, DecodeErrorKind> {
        self.charge(bytes.len())?;
        Ok(bytes.to_vec())
    }

    /// `bytes` as a string, allocated once at its exact size, charged
    /// first. Bytes that are not UTF-8 are not an error: each invalid
    /// sequence becomes U+FFFD (as `String::from_utf8_lossy` does), which
    /// may make the string up to 3 × `bytes.len()` — charged as such.
    ///
    /// Both dialects read NEO's strings (names, hosts, error messages)
    /// this way: a peer's odd byte in a cluster name is no reason to fail
    /// a whole packet.
    pub(crate) fn string(&mut self, bytes: &[u8]) -> Result<String, DecodeErrorKind> {
        if let Ok(s) = std::str::from_utf8(bytes) {
            self.charge(s.len())?;
            return Ok(s.to_owned());
        }
        const REPLACEMENT: &str = "\u{FFFD}";
        let len: usize = bytes
            .utf8_chunks()
            .map(|c| {
                c.valid().len()
                    + if c.invalid().is_empty() {
                        0
                    } else {
                        REPLACEMENT.len()
                    }
            })
            .sum();
        self.charge(len)?;
        let mut s = String::with_capacity(len);
        for chunk in bytes.utf8_chunks() {
            s.push_str(chunk.valid());
            if !chunk.invalid().is_empty() {
                s.push_str(REPLACEMENT);
            }
        }
        Ok(s)
    }

    /// Charges what a `BTreeMap<K, V>` of `count` entries can take, before
    /// it is built (its nodes are allocated as it grows, so this is the
    /// only moment to check).
    pub(crate) fn btree_map<K, V>(&mut self, count: usize) -> Result<(), DecodeErrorKind> {
        self.charge(btree_map_memory::<K, V>(count))
    }
}

/// An upper bound of the memory of a `BTreeMap<K, V>` of `count` entries,
/// whatever the order they were inserted in.
///
/// std's B-tree nodes hold up to 11 entries, and every node but the root
/// holds at least 5 after any sequence of inserts (a full node splits into
/// halves of 5 and 6), so there are at most `1 + count / 5` nodes. A node
/// is its entries (at most 11 × `(K, V)`), a parent link, two u16s and,
/// for internal nodes, 12 child links: under `112 + 11 × (K, V)` bytes.
/// That is about 2.2 × `(K, V)` per entry; ascending inserts (what a
/// canonical payload gives) take about 2 ×.
fn btree_map_memory<K, V>(count: usize) -> usize {
    let node = 112 + 11 * std::mem::size_of::<(K, V)>();
    (1 + count / 5).saturating_mul(node)
}

#[cfg(not(feature = "test-hooks"))]
fn allowance() -> usize {
    DECODE_ALLOWANCE
}

#[cfg(feature = "test-hooks")]
thread_local! {
    /// The allowance of the budgets this thread makes (see
    /// [`with_decode_allowance`]).
    static ALLOWANCE: std::cell::Cell<usize> = const { std::cell::Cell::new(DECODE_ALLOWANCE) };
}

#[cfg(feature = "test-hooks")]
fn allowance() -> usize {
    ALLOWANCE.with(std::cell::Cell::get)
}

/// Test hook (feature `test-hooks`): runs `f` with the decode budgets this
/// thread makes given `allowance` instead of [`DECODE_ALLOWANCE`].
///
/// With an allowance of 0, decoding *any* payload of `n` bytes must hold at
/// most [`DECODE_GROWTH`] × `n` bytes: a property test can then catch an
/// allocation a decoder forgot to charge, which the 1 MiB allowance would
/// hide on small payloads.
#[cfg(feature = "test-hooks")]
pub fn with_decode_allowance<T>(allowance: usize, f: impl FnOnce() -> T) -> T {
    /// Puts the thread's allowance back, even if `f` panics (a test that
    /// catches the panic goes on with the default).
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            ALLOWANCE.with(|a| a.set(self.0));
        }
    }
    let _restore = Restore(ALLOWANCE.with(|a| a.replace(allowance)));
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_add_up_and_a_failed_charge_takes_nothing() {
        let mut b = Budget::for_input(0);
        assert_eq!(b.left(), DECODE_ALLOWANCE);
        assert_eq!(b.charge(DECODE_ALLOWANCE - 1), Ok(()));
        assert_eq!(
            b.charge(2),
            Err(DecodeErrorKind::TooMuchMemory { needed: 2, left: 1 })
        );
        assert_eq!(b.charge(1), Ok(()));
        assert!(b.charge(1).is_err());
        assert_eq!(Budget::for_input(10).left(), 40 + DECODE_ALLOWANCE);
        assert_eq!(Budget::for_input(usize::MAX).left(), usize::MAX);
    }

    #[test]
    fn helpers_charge_what_they_allocate() {
        let mut b = Budget::for_input(0);
        let v: Vec<u64> = b.vec(10).unwrap();
        assert!(v.capacity() >= 10);
        assert_eq!(b.left(), DECODE_ALLOWANCE - 80);
        assert_eq!(b.copy(b"abc").unwrap(), b"abc");
        assert_eq!(b.left(), DECODE_ALLOWANCE - 83);
        // not UTF-8: each invalid sequence becomes U+FFFD, 3 bytes
        for (bytes, want) in [
            (&b"ok"[..], "ok"),
            (b"\xff", "\u{fffd}"),
            (b"a\xc3", "a\u{fffd}"),
            (b"\xff\xfe\xc3\xa9x", "\u{fffd}\u{fffd}\u{e9}x"),
        ] {
            let before = b.left();
            let s = b.string(bytes).unwrap();
            assert_eq!(s, want);
            assert_eq!(s.capacity(), s.len(), "allocated at its exact size");
            assert_eq!(before - b.left(), s.len(), "charged its size");
        }
        // a vector beyond the budget is refused before it is reserved
        let left = b.left();
        assert_eq!(
            b.vec::<u64>(usize::MAX / 4).unwrap_err(),
            DecodeErrorKind::TooMuchMemory {
                needed: usize::MAX,
                left
            }
        );
        assert_eq!(b.btree_map::<u32, u32>(4), Ok(()));
        assert_eq!(b.left(), left - (112 + 11 * 8));
    }
}
