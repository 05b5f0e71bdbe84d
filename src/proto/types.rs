//! Value types used by message fields, with their field codecs.
//!
//! Enumerations of the protocol (error codes, node types and states, cell
//! and cluster states) are newtypes over their wire integer rather than
//! Rust enums: a peer may send a value we do not know (a newer NEO), and a
//! newtype lets every wire value decode and re-encode unchanged instead of
//! failing the whole message.

use std::fmt;

use super::codec::{DecodeErrorKind, Encoder, Field, Reader};
use super::value::Value;

/// Named constants of an integer newtype, with `name()` and a `Debug` that
/// prints the name (or the bare number if it has none).
macro_rules! named_consts {
    ($ty:ident($int:ty) { $($(#[$meta:meta])* $name:ident = $value:literal,)* }) => {
        crate::codec::named_values!($ty { $($(#[$meta])* $name = $value,)* });
        int_field!($ty($int));
    };
}

/// Protocol 6's encoding of a newtype over an integer: the integer's.
macro_rules! int_field {
    ($ty:ident($int:ty)) => {
        impl Field for $ty {
            const MIN_LEN: usize = <$int as Field>::MIN_LEN;

            fn encoded_len(&self) -> usize {
                self.0.encoded_len()
            }

            fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
                self.0.put(e)
            }

            fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
                <$int>::get(r).map($ty)
            }

            fn to_value(&self) -> Value {
                self.0.to_value()
            }
        }
    };
}

pub use crate::codec::ErrorCode;
int_field!(ErrorCode(u32));

/// Type of a node (i8 on the wire).
///
/// Any i8 is accepted; the known types are associated constants. `Debug` and
/// `Display` print the name, or `NodeType(n)` for an unknown type.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NodeType(pub i8);

named_consts!(NodeType(i8) {
    /// A master node.
    MASTER = 0,
    /// A storage node.
    STORAGE = 1,
    /// A client node.
    CLIENT = 2,
    /// An admin node.
    ADMIN = 3,
});

/// State of a node (i8 on the wire).
///
/// Any i8 is accepted; the known states are associated constants. `Debug`
/// and `Display` print the name, or `NodeState(n)` for an unknown state.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NodeState(pub i8);

named_consts!(NodeState(i8) {
    /// Not known to the master (yet), or forgotten.
    UNKNOWN = 0,
    /// Not reachable: stopped, or lost.
    DOWN = 1,
    /// Up and serving.
    RUNNING = 2,
    /// A storage node that identified itself but is not part of the
    /// partition table yet (until an admin adds it).
    PENDING = 3,
});

/// State of a cell: one partition on one storage node (i8 on the wire).
///
/// Any i8 is accepted; the known states are associated constants. `Debug`
/// and `Display` print the name, or `CellState(n)` for an unknown state.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct CellState(pub i8);

named_consts!(CellState(i8) {
    /// Writable, not readable: it misses recent transactions (its node was
    /// down, or it is new) and is being replicated.
    OUT_OF_DATE = 0,
    /// Readable and writable: the normal state.
    UP_TO_DATE = 1,
    /// Like `UP_TO_DATE`, but dropped once another node finished
    /// replicating it (the partition moves to another node).
    FEEDING = 2,
    /// A check found it differs from the other replicas: neither readable
    /// nor writable.
    CORRUPTED = 3,
    /// Not a state of a live cell: tells a storage node to drop the
    /// partition.
    DISCARDED = 4,
});

/// State of the cluster, as the primary master drives it (i8 on the
/// wire).
///
/// Any i8 is accepted; the known states are associated constants (NEO/go
/// calls the first four `ClusterRecovering` ... `ClusterStopping`; these
/// are NEO/py's names). `Debug` and `Display` print the name, or
/// `ClusterState(n)` for an unknown state.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ClusterState(pub i8);

named_consts!(ClusterState(i8) {
    /// Initial state, and whenever the partition table stops being
    /// operational: the master recovers its data from the storage nodes.
    RECOVERING = 0,
    /// Transient: replay the transaction log after an unclean shutdown,
    /// and truncate the database if asked to.
    VERIFYING = 1,
    /// Normal operation: clients read and write.
    RUNNING = 2,
    /// Transient: the whole cluster shuts down.
    STOPPING = 3,
    /// Transient: the master (re)connects to the upstream cluster it backs
    /// up.
    STARTING_BACKUP = 4,
    /// Backup: storage nodes fetch the upstream cluster's new transactions
    /// (the database is often inconsistent meanwhile).
    BACKINGUP = 5,
    /// Transient: back to `RUNNING` once the database is consistent again.
    STOPPING_BACKUP = 6,
});

/// Identifier of a node in the cluster (i32 on the wire; 0 means "none yet").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NodeUUID(pub i32);

impl Field for NodeUUID {
    const MIN_LEN: usize = 4;

    fn encoded_len(&self) -> usize {
        4
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        self.0.put(e)
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        i32::get(r).map(NodeUUID)
    }

    fn to_value(&self) -> Value {
        self.0.to_value()
    }
}

/// Network address of a node.
///
/// On the wire: the host as a string, then the port as u16 **only if the
/// host is not empty** (an empty host means "no address", and has no port).
/// So `Address { host: "", port: 5 }` encodes like the default address and
/// decodes back with port 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Address {
    /// Host name or IP address; empty for "no address".
    pub host: String,
    /// Port; meaningless (and not sent) when `host` is empty.
    pub port: u16,
}

impl Address {
    /// An address from its host and port.
    pub fn new(host: impl Into<String>, port: u16) -> Address {
        Address {
            host: host.into(),
            port,
        }
    }
}

impl Field for Address {
    const MIN_LEN: usize = 4;

    fn encoded_len(&self) -> usize {
        let port = if self.host.is_empty() { 0 } else { 2 };
        self.host.encoded_len() + port
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        self.host.put(e);
        if !self.host.is_empty() {
            self.port.put(e);
        }
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        let host = String::get(r)?;
        let port = if host.is_empty() { 0 } else { u16::get(r)? };
        Ok(Address { host, port })
    }

    fn to_value(&self) -> Value {
        Value::Struct(vec![
            ("host", self.host.to_value()),
            ("port", self.port.to_value()),
        ])
    }
}

/// Time at which a node identified itself (an f64 on the wire), or "no time".
///
/// "No time" is written as `ffffffffffffffff` (a NaN), as NEO does, and
/// any NaN that comes (whatever its bits), or -∞ (what NEO/go uses in
/// memory for "no time"), reads as "no time": [`IdTime::NONE`]. Any other
/// value is kept as its IEEE-754 bits, so equality is equality of the bits
/// (`-0.0 != 0.0`) and every value re-encodes to the bits it came as.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdTime(u64);

impl IdTime {
    /// "No time": the bits `ffffffffffffffff`.
    pub const NONE: IdTime = IdTime(u64::MAX);

    /// A time in seconds; NaN and -∞ mean "no time" and give [`IdTime::NONE`].
    pub fn from_f64(t: f64) -> IdTime {
        if t.is_nan() || t == f64::NEG_INFINITY {
            IdTime::NONE
        } else {
            IdTime(t.to_bits())
        }
    }

    /// The time in seconds, or `None` for "no time".
    pub fn get(self) -> Option<f64> {
        if self == IdTime::NONE {
            None
        } else {
            Some(f64::from_bits(self.0))
        }
    }

    /// Whether this is "no time".
    pub fn is_none(self) -> bool {
        self == IdTime::NONE
    }

    /// An `IdTime` from its wire bits: any NaN, and -∞, give
    /// [`IdTime::NONE`] (see [`IdTime::from_f64`]).
    pub fn from_bits(bits: u64) -> IdTime {
        IdTime::from_f64(f64::from_bits(bits))
    }

    /// The wire bits.
    pub fn to_bits(self) -> u64 {
        self.0
    }
}

/// "No time".
impl Default for IdTime {
    fn default() -> IdTime {
        IdTime::NONE
    }
}

impl From<f64> for IdTime {
    fn from(t: f64) -> IdTime {
        IdTime::from_f64(t)
    }
}

impl fmt::Debug for IdTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get() {
            Some(t) => write!(f, "IdTime({t:?})"),
            None => f.write_str("IdTime(none)"),
        }
    }
}

impl Field for IdTime {
    const MIN_LEN: usize = 8;

    fn encoded_len(&self) -> usize {
        8
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        self.0.put(e)
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        u64::get(r).map(IdTime::from_bits)
    }

    /// The seconds; NaN for "no time".
    fn to_value(&self) -> Value {
        Value::Float(self.get().unwrap_or(f64::NAN))
    }
}

/// SHA-1 checksum of object data (20 bytes on the wire, no length prefix).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Checksum(pub [u8; 20]);

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Checksum(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl Field for Checksum {
    const MIN_LEN: usize = 20;

    fn encoded_len(&self) -> usize {
        20
    }

    fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
        e.bytes(&self.0);
    }

    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
        r.take_array().map(Checksum)
    }

    fn to_value(&self) -> Value {
        Value::Bytes(self.0.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode<T: Field>(v: &T) -> Vec<u8> {
        let mut buf = Vec::new();
        v.put(&mut Encoder::new(&mut buf));
        assert_eq!(buf.len(), v.encoded_len());
        buf
    }

    fn decode<T: Field>(b: &[u8]) -> Result<T, DecodeErrorKind> {
        let mut r = Reader::new(b);
        let v = T::get(&mut r)?;
        r.finish()?;
        Ok(v)
    }

    #[test]
    fn named_constants() {
        assert_eq!(format!("{:?}", ErrorCode::PROTOCOL_ERROR), "PROTOCOL_ERROR");
        assert_eq!(format!("{:?}", ErrorCode(99)), "ErrorCode(99)");
        assert_eq!(ErrorCode::INCOMPLETE_TRANSACTION, ErrorCode(12));
        assert_eq!(ErrorCode::ACK.name(), Some("ACK"));
        assert_eq!(ErrorCode::default(), ErrorCode::ACK);
        assert_eq!(format!("{}", NodeType::CLIENT), "CLIENT");
        assert_eq!(format!("{:?}", ClusterState::BACKINGUP), "BACKINGUP");
        assert_eq!(CellState::DISCARDED, CellState(4));
        assert_eq!(NodeState::PENDING.name(), Some("PENDING"));
        assert_eq!(decode::<NodeState>(&[0x80]), Ok(NodeState(-128)));
        assert_eq!(format!("{:?}", NodeType(-1)), "NodeType(-1)");
        assert_eq!(encode(&ErrorCode(0x01020304)), [1, 2, 3, 4]);
        assert_eq!(encode(&NodeType(-1)), [0xff]);
        assert_eq!(decode::<NodeType>(&[0xff]), Ok(NodeType(-1)));
        assert_eq!(
            decode::<NodeUUID>(&[0xef, 0xff, 0xff, 0xff]),
            Ok(NodeUUID(-0x10000001))
        );
    }

    #[test]
    fn address() {
        let a = Address::new("127.0.0.1", 24601);
        let b = encode(&a);
        assert_eq!(b, b"\0\0\0\x09127.0.0.1\x60\x19");
        assert_eq!(decode::<Address>(&b), Ok(a));
        // empty host: no port on the wire, port 0 when decoded
        assert_eq!(encode(&Address::new("", 5)), [0, 0, 0, 0]);
        assert_eq!(decode::<Address>(&[0, 0, 0, 0]), Ok(Address::default()));
        // a host without its port is truncated
        assert!(decode::<Address>(b"\0\0\0\x01h").is_err());
    }

    #[test]
    fn id_time() {
        assert_eq!(
            encode(&IdTime::from_f64(1.5)),
            1.5f64.to_bits().to_be_bytes()
        );
        assert_eq!(IdTime::from_f64(1.5).get(), Some(1.5));
        for none in [f64::NAN, -f64::NAN, f64::NEG_INFINITY] {
            assert_eq!(IdTime::from_f64(none), IdTime::NONE);
        }
        assert_eq!(encode(&IdTime::NONE), [0xff; 8]);
        assert_eq!(IdTime::default(), IdTime::NONE);
        assert!(IdTime::NONE.is_none());
        // any other NaN, and -inf, from the wire is "no time", written
        // back as the canonical NaN
        for bits in [
            f64::NAN.to_bits(),
            0x7ff0_0000_0000_0001,
            f64::NEG_INFINITY.to_bits(),
        ] {
            let t = decode::<IdTime>(&bits.to_be_bytes()).unwrap();
            assert_eq!(t, IdTime::NONE, "{bits:#x}");
            assert_eq!(encode(&t), [0xff; 8]);
        }
        // +inf and -0.0 are times, kept bit for bit
        for t in [f64::INFINITY, -0.0] {
            let b = t.to_bits().to_be_bytes();
            assert_eq!(encode(&decode::<IdTime>(&b).unwrap()), b);
        }
        assert_eq!(format!("{:?}", IdTime::NONE), "IdTime(none)");
        assert_eq!(format!("{:?}", IdTime::from_f64(2.0)), "IdTime(2.0)");
    }

    #[test]
    fn checksum() {
        let c = Checksum(std::array::from_fn(|i| i as u8 + 1));
        let b = encode(&c);
        assert_eq!(b.len(), 20);
        assert_eq!(decode::<Checksum>(&b), Ok(c));
        assert!(decode::<Checksum>(&b[..19]).is_err());
        assert_eq!(
            format!("{:?}", Checksum::default()),
            format!("Checksum({})", "0".repeat(40))
        );
    }
}
