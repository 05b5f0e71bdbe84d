//! The nested structs of messages: records that are list items, map
//! values, or groups of fields.
//!
//! On the wire a record is its fields one after the other, with no framing
//! (as a message is). The schema names some of them (`NodeInfo`,
//! `RowInfo`, `CellInfo`); the others are anonymous structs of NEO/go
//! (`NotPrimaryMaster.KnownMasterList`, ...), named here after what they
//! hold, with the schema's name in their documentation. Field names are
//! the schema's.

use super::codec::{DecodeErrorKind, Encoder, Field, Reader};
use super::types::{Address, CellState, IdTime, NodeState, NodeType, NodeUUID};
use super::value::Value;
use super::Tid;
use crate::codec::field_name;

/// Generates each record: the struct, its [`Field`] impl (its fields in
/// order) and, with the `proptest` feature, its random values.
macro_rules! records {
    ($(
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),+ $(,)?
        }
    )*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )+
        }

        impl Field for $name {
            const MIN_LEN: usize = 0 $( + <$ty as Field>::MIN_LEN )+;

            fn encoded_len(&self) -> usize {
                0 $( + self.$field.encoded_len() )+
            }

            fn put<'a>(&'a self, e: &mut Encoder<'a, '_>) {
                $( self.$field.put(e); )+
            }

            fn get(r: &mut Reader<'_>) -> Result<Self, DecodeErrorKind> {
                $( let $field = <$ty as Field>::get(r)?; )+
                Ok($name { $($field),+ })
            }

            fn to_value(&self) -> Value {
                Value::Struct(vec![
                    $( (field_name(stringify!($field)), self.$field.to_value()), )+
                ])
            }
        }

        #[cfg(feature = "proptest")]
        impl super::arbitrary::Arb for $name {
            fn strategy() -> proptest::strategy::BoxedStrategy<Self> {
                use proptest::strategy::Strategy;
                ( $( <$ty as super::arbitrary::Arb>::strategy(), )+ )
                    .prop_map(|($($field,)+)| $name { $($field),+ })
                    .boxed()
            }
        }
    )*};
}

records! {
    /// What the master says about a node (`NotifyNodeInformation`,
    /// `AnswerNodeList`).
    NodeInfo {
        /// What kind of node.
        r#type: NodeType,
        /// Where it serves (empty host if it does not listen).
        addr: Address,
        /// Its id.
        uuid: NodeUUID,
        /// Its state.
        state: NodeState,
        /// When it identified itself to the master, or "no time".
        id_time: IdTime,
    }

    /// One cell of a partition table: a storage node holding the partition,
    /// and the state of its copy.
    CellInfo {
        /// The storage node.
        uuid: NodeUUID,
        /// The state of its copy of the partition.
        state: CellState,
    }

    /// One row of a partition table: the cells of one partition (the row's
    /// index in the list is the partition's number).
    RowInfo {
        /// The storage nodes holding the partition.
        cell_list: Vec<CellInfo>,
    }

    /// A master the sender knows (`NotPrimaryMaster.KnownMasterList` in
    /// the schema).
    KnownMaster {
        /// Its address.
        address: Address,
    }

    /// A changed cell of the partition table (`NotifyPartitionChanges.CellList`
    /// in the schema).
    CellChange {
        /// The partition.
        offset: u32,
        /// The storage node and the new state of its cell.
        cell_info: CellInfo,
    }

    /// A partition a storage node replicates
    /// (`UnfinishedTransactions.RowList` in the schema).
    PartitionOffset {
        /// The partition.
        offset: u32,
    }

    /// Where a storage node checks a partition against
    /// (`CheckPartition.Source` in the schema).
    CheckSource {
        /// The upstream cluster's name, when checking against a backup's
        /// upstream; empty otherwise.
        upstream_name: String,
        /// The reference storage node (empty host for none).
        address: Address,
    }

    /// A transaction not finished yet (`AnswerUnfinishedTransactions.TidList`
    /// in the schema).
    UnfinishedTid {
        /// Its temporary id.
        unfinished_tid: Tid,
    }

    /// One revision of an object (`AnswerObjectHistory.HistoryList` in the
    /// schema).
    HistoryEntry {
        /// The transaction that wrote it.
        serial: Tid,
        /// The size of its data.
        size: u32,
    }

    /// Where the data of an object is when a transaction is undone
    /// (`AnswerObjectUndoSerial.ObjectTIDDict` in the schema).
    UndoSerial {
        /// The last revision visible to the undoing transaction.
        current_serial: Tid,
        /// The revision whose data the undo restores.
        undo_serial: Tid,
        /// Whether `current_serial`'s data is the current one on the
        /// storage node.
        is_current: bool,
    }
}
