//! NEO's error codes, shared by both dialects (the `Error` message's
//! `code`), and the macro that names the values of NEO's small enums.

/// The associated constants of a newtype over an integer, their names
/// (`name()`), and `Debug`/`Display` by name (`Type(n)` for another value).
macro_rules! named_values {
    ($ty:ident { $($(#[$meta:meta])* $name:ident = $value:literal,)* }) => {
        impl $ty {
            $( $(#[$meta])* pub const $name: $ty = $ty($value); )*

            /// The protocol's name of this value, if it has one.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $value => Some(stringify!($name)), )*
                    _ => None,
                }
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.name() {
                    Some(name) => f.write_str(name),
                    None => write!(f, "{}({})", stringify!($ty), self.0),
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(self, f)
            }
        }
    };
}
pub(crate) use named_values;

/// Code of an `Error` message (u32 on the wire).
///
/// Any u32 is accepted; the known codes are associated constants. `Debug`
/// and `Display` print the name, or `ErrorCode(n)` for an unknown code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ErrorCode(pub u32);

named_values!(ErrorCode {
    /// Not an error: the request was acknowledged.
    ACK = 0,
    /// The request was denied.
    DENIED = 1,
    /// The node is not ready to serve the request.
    NOT_READY = 2,
    /// No such object.
    OID_NOT_FOUND = 3,
    /// No such transaction.
    TID_NOT_FOUND = 4,
    /// The object does not exist (was never created, or its creation was undone).
    OID_DOES_NOT_EXIST = 5,
    /// The peer broke the protocol (also used for "connection closed/refused").
    PROTOCOL_ERROR = 6,
    /// Replication failed.
    REPLICATION_ERROR = 7,
    /// Checking of replicas failed.
    CHECKING_ERROR = 8,
    /// The storage backend does not implement the operation.
    BACKEND_NOT_IMPLEMENTED = 9,
    /// The cell is not readable.
    NON_READABLE_CELL = 10,
    /// The node is read-only.
    READ_ONLY_ACCESS = 11,
    /// The transaction is not complete.
    INCOMPLETE_TRANSACTION = 12,
    /// An undo reaches data that packing removed (NEO/py's code 13).
    UNDO_PACK_ERROR = 13,
});
