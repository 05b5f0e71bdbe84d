//! Value types of NEO/py's messages: the enums (msgpack ext types) and the
//! records (tuples whose elements NEO/py's code names).

use std::fmt;

use super::codec::{array_header_len, ext_header_len, uint_len, Encoder, Field, Reader};
use super::{Oid, Tid};
use crate::codec::MsgpackError;
use crate::proto::codec::DecodeErrorKind;
use crate::proto::{Checksum, Data};

/// A node's id in the cluster: a signed 32-bit integer (NEO/py gives
/// masters, clients and admins negative ids, storages positive ones).
pub type NodeId = i32;

/// Enums of NEO/py: open newtypes over the value, written as the msgpack
/// ext type of their enum (`d4 <ext code> <value>`).
///
/// Open, so that a value a newer NEO adds decodes and re-encodes unchanged
/// instead of failing the whole message; the known values are associated
/// constants, and `Debug`/`Display` print their names.
macro_rules! ext_enums {
    ($(
        $(#[$meta:meta])*
        $ty:ident = ext $code:literal {
            $( $(#[$vmeta:meta])* $name:ident = $value:literal, )*
        }
    )*) => {$(
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $ty(pub u8);

        impl $ty {
            /// The msgpack ext type code of this enum.
            pub const EXT_CODE: i8 = $code;

            $( $(#[$vmeta])* pub const $name: $ty = $ty($value); )*

            /// NEO's name of this value, if it has one.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $value => Some(stringify!($name)), )*
                    _ => None,
                }
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(name) => f.write_str(name),
                    None => write!(f, "{}({})", stringify!($ty), self.0),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self, f)
            }
        }

        impl Field for $ty {
            const MIN_LEN: usize = 3;

            fn encoded_len(&self) -> usize {
                let n = uint_len(u64::from(self.0));
                ext_header_len(n) + n
            }

            fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
                e.ext_uint(Self::EXT_CODE, u64::from(self.0));
            }

            fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
                read_enum(r, Self::EXT_CODE).map($ty)
            }
        }
    )*};
}

/// The value of an enum: an ext value of type `code` whose payload is
/// exactly one msgpack integer that fits a u8.
fn read_enum(r: &mut Reader<'_>, code: i8) -> Result<u8, DecodeErrorKind> {
    let (got, payload) = r.ext()?;
    let bad = DecodeErrorKind::Msgpack(MsgpackError::BadExt {
        expected: code,
        got,
    });
    if got != code {
        return Err(bad);
    }
    let mut p = Reader::new(payload);
    match (p.int::<u8>(), p.finish()) {
        (Ok(v), Ok(())) => Ok(v),
        _ => Err(bad),
    }
}

ext_enums! {
    /// State of a cell of the partition table (ext type 0, `CellStates`).
    CellState = ext 0 {
        /// Being replicated: not readable yet.
        OUT_OF_DATE = 0,
        /// Up to date: readable and writable.
        UP_TO_DATE = 1,
        /// Up to date, and being copied to another node before being
        /// dropped: still readable.
        FEEDING = 2,
        /// Found corrupted by a check: not readable.
        CORRUPTED = 3,
        /// Dropped (in partition changes: remove the cell).
        DISCARDED = 4,
    }

    /// State of the cluster (ext type 1, `ClusterStates`).
    ClusterState = ext 1 {
        /// Recovering the last partition table.
        RECOVERING = 0,
        /// Verifying the transactions of the last run.
        VERIFYING = 1,
        /// Serving clients.
        RUNNING = 2,
        /// Stopping.
        STOPPING = 3,
        /// Starting to back up another cluster.
        STARTING_BACKUP = 4,
        /// Backing up another cluster.
        BACKINGUP = 5,
        /// Stopping the backup.
        STOPPING_BACKUP = 6,
    }

    /// State of a node (ext type 3, `NodeStates`).
    NodeState = ext 3 {
        /// Unknown (in node information: forget the node).
        UNKNOWN = 0,
        /// Down.
        DOWN = 1,
        /// Running.
        RUNNING = 2,
        /// Waiting to be added to the cluster.
        PENDING = 3,
    }

    /// Type of a node (ext type 4, `NodeTypes`).
    NodeType = ext 4 {
        /// A master node.
        MASTER = 0,
        /// A storage node.
        STORAGE = 1,
        /// A client node.
        CLIENT = 2,
        /// An admin node.
        ADMIN = 3,
    }
}

/// Ext type code of `ErrorCodes`: NEO/py registers it, but writes error
/// codes as plain integers (see [`ErrorCode`](crate::proto::ErrorCode)), so
/// it appears only inside free-form (`any`) values, if ever.
pub const ERROR_CODES_EXT: i8 = 2;

/// Records: tuples whose elements NEO/py's code names, as structs written
/// as a msgpack array of their fields in order.
macro_rules! records {
    ($(
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty, )*
        }
    )*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $name {
            /// Number of elements on the wire.
            const ARITY: usize = [$(stringify!($field)),*].len();
        }

        impl Field for $name {
            const MIN_LEN: usize = 1 $( + <$ty as Field>::MIN_LEN )*;

            fn encoded_len(&self) -> usize {
                array_header_len(Self::ARITY) $( + self.$field.encoded_len() )*
            }

            fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
                e.array(Self::ARITY);
                $( self.$field.put(e); )*
            }

            fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
                let got = r.array(1)?;
                if got != Self::ARITY {
                    return Err(DecodeErrorKind::Msgpack(MsgpackError::ArrayArity { expected: Self::ARITY, got }));
                }
                $( let $field = <$ty as Field>::get(r)?; )*
                Ok($name { $($field),* })
            }
        }
    )*};
}

records! {
    /// Network address of a node, `(host, port)`.
    Address {
        /// Host name or IP address.
        host: String,
        /// TCP port.
        port: u16,
    }

    /// What the cluster knows of a node (`NotifyNodeInformation`,
    /// `AnswerNodeList`).
    NodeInfo {
        /// Its type.
        node_type: NodeType,
        /// Where it listens (none for clients).
        address: Option<Address>,
        /// Its id (none before it was given one).
        uuid: Option<NodeId>,
        /// Its state (`UNKNOWN`: forget it).
        state: NodeState,
        /// When it identified itself (seconds since the epoch), if known.
        id_timestamp: Option<f64>,
    }

    /// A cell of a row of the partition table: a node holding a copy of
    /// the partition.
    CellInfo {
        /// The storage node.
        uuid: NodeId,
        /// The state of its copy.
        state: CellState,
    }

    /// A change to one cell of the partition table.
    CellChange {
        /// The partition (row).
        offset: u32,
        /// The storage node.
        uuid: NodeId,
        /// The cell's new state (`DISCARDED`: remove the cell).
        state: CellState,
    }

    /// A pack requested with a transaction: which objects, up to which tid.
    PackRequest {
        /// The objects to pack, or none for all.
        oid_list: Option<Vec<Oid>>,
        /// Pack up to this transaction.
        pack_tid: Tid,
    }

    /// A pack order carried by a transaction being replicated.
    PackInfo {
        /// Whether the pack was approved (none: not decided yet).
        approved: Option<bool>,
        /// Whether the pack is partial (some objects only).
        partial: bool,
        /// The objects to pack, or none for all.
        oid_list: Option<Vec<Oid>>,
        /// Pack up to this transaction.
        pack_tid: Tid,
    }

    /// A pack order, as the master lists them.
    PackOrder {
        /// The pack's id (the tid of the transaction that asked for it).
        pack_id: Tid,
        /// Whether the pack was approved (none: not decided yet).
        approved: Option<bool>,
        /// Whether the pack is partial (some objects only).
        partial: bool,
        /// The objects to pack, or none for all.
        oid_list: Option<Vec<Oid>>,
        /// Pack up to this transaction.
        pack_tid: Tid,
    }

    /// Object data as stored: how it is compressed, its checksum, the bytes.
    ObjectData {
        /// 0: as is; 1: zlib.
        compression: u8,
        /// SHA-1 of `data`.
        checksum: Checksum,
        /// The (possibly compressed) data.
        data: Data,
    }

    /// The conflict found when relocking an object.
    RelockConflict {
        /// The serial that was stored.
        serial: Tid,
        /// The serial it conflicts with.
        conflict: Tid,
        /// The data of the stored revision, if it has any.
        data: Option<ObjectData>,
    }

    /// One revision in an object's history.
    HistoryEntry {
        /// Tid of the revision.
        serial: Tid,
        /// Size of its data.
        size: i64,
    }

    /// What undoing a transaction means for one object.
    UndoSerial {
        /// The object's current serial.
        current_serial: Tid,
        /// The serial whose data the undo restores, or none (the object
        /// did not exist before).
        undo_serial: Option<Tid>,
        /// Whether the undone revision is the current one.
        is_current: bool,
    }

    /// Where a partition is checked against.
    CheckSource {
        /// Name of the upstream cluster (empty: this cluster).
        upstream_name: String,
        /// Address of the node to check against, or none.
        address: Option<Address>,
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

    #[test]
    fn enums_are_fixext1() {
        assert_eq!(encode(&NodeType::CLIENT), [0xd4, 4, 2]);
        assert_eq!(encode(&CellState::UP_TO_DATE), [0xd4, 0, 1]);
        assert_eq!(encode(&NodeState(200)), [0xd5, 3, 0xcc, 200]);
        assert_eq!(
            NodeType::get(&mut Reader::new(&[0xd4, 4, 9])),
            Ok(NodeType(9))
        );
        assert_eq!(format!("{:?}", NodeType(9)), "NodeType(9)");
        assert_eq!(NodeType::ADMIN.to_string(), "ADMIN");
        assert_eq!(
            NodeType::get(&mut Reader::new(&[0xd4, 3, 2])),
            Err(DecodeErrorKind::Msgpack(MsgpackError::BadExt {
                expected: 4,
                got: 3
            }))
        );
        // a payload that is not one small integer
        assert_eq!(
            NodeType::get(&mut Reader::new(&[0xd5, 4, 2, 2])),
            Err(DecodeErrorKind::Msgpack(MsgpackError::BadExt {
                expected: 4,
                got: 4
            }))
        );
    }

    #[test]
    fn records_are_arrays_of_their_arity() {
        let a = Address {
            host: "127.0.0.1".into(),
            port: 25101,
        };
        let b = encode(&a);
        assert_eq!(b, b"\x92\xc4\x09127.0.0.1\xcd\x62\x0d");
        assert_eq!(Address::get(&mut Reader::new(&b)), Ok(a));
        assert_eq!(
            Address::get(&mut Reader::new(b"\x93\xc4\x00\x01\x02")),
            Err(DecodeErrorKind::Msgpack(MsgpackError::ArrayArity {
                expected: 2,
                got: 3
            }))
        );
    }
}
