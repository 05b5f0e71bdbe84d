//! Random values of every field type, for the `proptest` feature.
//!
//! The message table implements `proptest::arbitrary::Arbitrary` for each
//! message from the strategies of its field types, given here by [`Arb`]
//! (proptest's own `Arbitrary` for `Vec` and `String` would make lists of
//! up to 100 items of up to 100 items: slow to encode, no better at
//! finding bugs).
//!
//! Every strategy gives values in canonical form, the form decoding gives
//! back (an `Address` with an empty host has port 0; an `IdTime` is a time
//! or "no time"), so that each value round-trips exactly; and leans towards
//! the edges a codec gets wrong (0, the largest values, empty and
//! non-ASCII strings, object data around [`BIG_FIELD`]).

use std::collections::BTreeMap;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;

use super::codec::BIG_FIELD;
use super::data::Data;
use super::types::{
    Address, CellState, Checksum, ClusterState, ErrorCode, IdTime, NodeState, NodeType, NodeUUID,
};

/// Most items in a random list or map.
const MAX_ITEMS: usize = 6;

/// A type with a strategy for its random values.
pub(crate) trait Arb: Sized + std::fmt::Debug + Clone + 'static {
    /// Random values of the type.
    fn strategy() -> BoxedStrategy<Self>;

    /// Random lists of the type (a hook so that `Vec<u8>`, a byte blob,
    /// gets longer lists).
    fn list_strategy() -> BoxedStrategy<Vec<Self>> {
        vec(Self::strategy(), 0..=MAX_ITEMS).boxed()
    }
}

/// Integers: uniform, or one of the edges.
macro_rules! int_arb {
    ($($t:ty),*) => {$(
        impl Arb for $t {
            fn strategy() -> BoxedStrategy<Self> {
                prop_oneof![
                    4 => any::<$t>(),
                    1 => Just(<$t>::MIN),
                    1 => Just(<$t>::MAX),
                    1 => Just(0 as $t),
                ]
                .boxed()
            }
        }
    )*};
}

int_arb!(i8, u16, i16, u32, i32, u64, i64);

impl Arb for u8 {
    fn strategy() -> BoxedStrategy<Self> {
        any::<u8>().boxed()
    }

    fn list_strategy() -> BoxedStrategy<Vec<u8>> {
        vec(any::<u8>(), 0..64).boxed()
    }
}

impl Arb for bool {
    fn strategy() -> BoxedStrategy<Self> {
        any::<bool>().boxed()
    }
}

impl Arb for String {
    fn strategy() -> BoxedStrategy<Self> {
        prop_oneof![
            Just(String::new()),
            "[a-z0-9.:/_-]{1,16}",
            // any characters, control and non-ASCII ones included
            "(?s).{1,8}",
        ]
        .boxed()
    }
}

impl<T: Arb> Arb for Vec<T> {
    fn strategy() -> BoxedStrategy<Self> {
        T::list_strategy()
    }
}

impl<K: Arb + Ord, V: Arb> Arb for BTreeMap<K, V> {
    fn strategy() -> BoxedStrategy<Self> {
        btree_map(K::strategy(), V::strategy(), 0..=MAX_ITEMS).boxed()
    }
}

/// Mostly small; sometimes around [`BIG_FIELD`], where encoding starts
/// borrowing the data and shared decoding sharing it.
impl Arb for Data {
    fn strategy() -> BoxedStrategy<Self> {
        // Big data as a pattern: random bytes would cost more to make than
        // the rest of the test.
        let big = (BIG_FIELD - 1..BIG_FIELD + 2, any::<u8>())
            .prop_map(|(n, b)| (0..n).map(|i| b.wrapping_add(i as u8)).collect::<Data>());
        prop_oneof![
            8 => vec(any::<u8>(), 0..64).prop_map(Data::from),
            1 => big,
        ]
        .boxed()
    }
}

impl Arb for Checksum {
    fn strategy() -> BoxedStrategy<Self> {
        any::<[u8; 20]>().prop_map(Checksum).boxed()
    }
}

impl Arb for NodeUUID {
    fn strategy() -> BoxedStrategy<Self> {
        i32::strategy().prop_map(NodeUUID).boxed()
    }
}

/// Enumerations: mostly the named values, sometimes any.
macro_rules! enum_arb {
    ($($t:ident($int:ty) < $known:literal),*) => {$(
        impl Arb for $t {
            fn strategy() -> BoxedStrategy<Self> {
                prop_oneof![
                    3 => (0..$known as $int).prop_map($t),
                    1 => any::<$int>().prop_map($t),
                ]
                .boxed()
            }
        }
    )*};
}

enum_arb!(
    ErrorCode(u32) < 13,
    NodeType(i8) < 4,
    NodeState(i8) < 4,
    CellState(i8) < 5,
    ClusterState(i8) < 7
);

/// An empty host has no port on the wire: port 0.
impl Arb for Address {
    fn strategy() -> BoxedStrategy<Self> {
        (String::strategy(), any::<u16>())
            .prop_map(|(host, port)| {
                let port = if host.is_empty() { 0 } else { port };
                Address { host, port }
            })
            .boxed()
    }
}

/// "No time", or a time (from any bits that are not NaN or -∞).
impl Arb for IdTime {
    fn strategy() -> BoxedStrategy<Self> {
        prop_oneof![
            Just(IdTime::NONE),
            (0..2_000_000_000u32).prop_map(|s| IdTime::from_f64(f64::from(s) / 8.0)),
            any::<u64>().prop_map(IdTime::from_bits),
        ]
        .boxed()
    }
}
