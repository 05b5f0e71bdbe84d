//! The declarative table of messages, and what it generates.
//!
//! The table is split by NEO's groups of messages, one file each under
//! `table/`. Each entry is a message: its doc comment, its name, its code,
//! its kind, and its fields in wire order with their types:
//!
//! ```text
//! /// Ask for an object's data.
//! GetObject = 0x0020, ask AnswerObject {
//!     /// The object.
//!     oid: Oid,
//!     ...
//! }
//! ```
//!
//! The kind is one of
//!
//! - `ask Answer`: a request, answered by the message `Answer` (whose code
//!   is this code with `ANSWER_BIT`), or `ask ()`: a request answered by
//!   `Error` with code `ACK` (see [`Ask`]);
//! - `answer`: the answer to the request of code `code & !ANSWER_BIT`;
//! - `notify`: a notification, never answered;
//! - `error`: `Error`, the one message that may answer anything.
//!
//! The pairing rules are checked when compiling: a request names the
//! message of its code with `ANSWER_BIT`, or `()` only when there is none;
//! an answer has a request; a notification has no answer; no two messages
//! share a code.
//!
//! For each entry the `messages!` macro generates the struct (all fields
//! public), its [`Msg`] impl, its [`Ask`] or [`Answer`] impl, a variant of
//! [`Message`] and `From<Msg> for Message`, and with the `proptest`
//! feature, `Arbitrary`; for the whole table, [`Message`]'s dispatch by
//! code (a `match`), [`message_name`] and [`MESSAGE_CODES`].
//!
//! The groups are chained: each group's macro appends its entries to what
//! it was given and hands everything to the next (`link_messages!` to
//! `cluster_messages!`, ..., the last to `messages!`), so that `messages!`
//! sees the whole table at once, which the `Message` enum needs.

#[cfg(feature = "proptest")]
use proptest::strategy::{BoxedStrategy, Just, Strategy};
use std::collections::BTreeMap;

#[cfg(feature = "proptest")]
use super::arbitrary::Arb;
use super::codec::{args_len, get_args, put_args, DecodeError, Encoder, Field, Reader};
use super::data::Data;
use super::records::{
    CellChange, CheckSource, HistoryEntry, KnownMaster, NodeInfo, PartitionOffset, RowInfo,
    UndoSerial, UnfinishedTid,
};
use super::types::{
    Address, Checksum, ClusterState, ErrorCode, IdTime, NodeState, NodeType, NodeUUID,
};
use super::value::Value;
use super::{Oid, PTid, Tid};
use crate::codec::{field_name, message_table};

/// The last step of the chain of groups: the whole table, with protocol
/// 6's codec in scope, to the one message macro (`codec::table`).
macro_rules! messages {
    ([] { $($table:tt)* }) => {
        message_table! {
            dialect: crate::Proto6,
            derive: (Debug, Clone, PartialEq, Eq, Default),
            enum_derive: (Debug, Clone, PartialEq, Eq),
            extras: proto_extras,
            table: { $($table)* }
        }
    };
}

/// What only protocol 6's table has: each message as a generic tree of
/// fields ([`Value`], which the wire vectors are compared with), and with
/// the `proptest` feature, random messages.
macro_rules! proto_extras {
    (@msg $name:ident { $($field:ident : $ty:ty),* }) => {
        impl $name {
            /// The message as a generic tree of fields.
            pub fn to_value(&self) -> Value {
                Value::Struct(vec![
                    $( (field_name(stringify!($field)), Field::to_value(&self.$field)), )*
                ])
            }
        }

        #[cfg(feature = "proptest")]
        impl proptest::arbitrary::Arbitrary for $name {
            type Parameters = ();
            type Strategy = BoxedStrategy<$name>;

            fn arbitrary_with((): ()) -> Self::Strategy {
                // `Just(())` first: a message without fields still makes a
                // tuple.
                (Just(()), $( <$ty as Arb>::strategy(), )*)
                    .prop_map(|((), $($field,)*)| $name { $($field),* })
                    .boxed()
            }
        }
    };
    (@enum $($name:ident),*) => {
        impl Message {
            /// The message as a generic tree of fields.
            pub fn to_value(&self) -> Value {
                match self {
                    $( Message::$name(m) => m.to_value(), )*
                }
            }
        }

        #[cfg(feature = "proptest")]
        impl Message {
            /// Random messages of code `code` (`None` if no message has
            /// it), for property tests.
            pub fn arbitrary_of(code: u16) -> Option<BoxedStrategy<Message>> {
                use proptest::arbitrary::any;
                match code {
                    $( <$name as crate::codec::Msg>::CODE => {
                        Some(any::<$name>().prop_map(Message::$name).boxed())
                    } )*
                    _ => None,
                }
            }
        }

        /// Any message, of any code.
        #[cfg(feature = "proptest")]
        impl proptest::arbitrary::Arbitrary for Message {
            type Parameters = ();
            type Strategy = BoxedStrategy<Message>;

            fn arbitrary_with((): ()) -> Self::Strategy {
                let all: Vec<BoxedStrategy<Message>> = MESSAGE_CODES
                    .iter()
                    .filter_map(|&code| Message::arbitrary_of(code))
                    .collect();
                proptest::strategy::Union::new(all).boxed()
            }
        }
    };
}

#[macro_use]
mod link;
#[macro_use]
mod cluster;
#[macro_use]
mod partition;
#[macro_use]
mod recovery;
#[macro_use]
mod commit;
#[macro_use]
mod read;
#[macro_use]
mod replication;
#[macro_use]
mod admin;

link_messages!([
    cluster_messages,
    partition_messages,
    recovery_messages,
    commit_messages,
    read_messages,
    replication_messages,
    admin_messages,
    messages
] {});
