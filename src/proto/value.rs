//! [`Value`]: any message as a generic tree of fields.
//!
//! Every field type can show itself as a `Value` ([`Field::to_value`]), and
//! so can every message ([`Msg::to_value`], [`Message::to_value`]). Code
//! that must handle all 102 messages alike without naming each one
//! (comparing with another encoding of the same values, such as the JSON
//! of NEO's wire vectors; logging; a protocol dump tool) walks the tree
//! instead.
//!
//! [`Field::to_value`]: super::codec::Field::to_value
//! [`Msg::to_value`]: super::Msg::to_value
//! [`Message::to_value`]: super::Message::to_value

/// A message or field value as a generic tree.
///
/// The shape follows the wire: a message or a nested struct is a
/// [`Value::Struct`] of its fields in wire order, a list a [`Value::List`],
/// a map a [`Value::Map`] in key order.
///
/// ```
/// use neonet::proto::{GetObject, Msg, Value};
///
/// let v = GetObject { oid: 1, at: 2, before: 3 }.to_value();
/// let Value::Struct(fields) = v else { unreachable!() };
/// assert_eq!(fields[0], ("oid", Value::Int(1)));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// A bool.
    Bool(bool),
    /// Any integer: fixed-width integers, ids (`Oid`, `Tid`, `NodeUUID`,
    /// ...), and enumerations (`NodeType`, `ErrorCode`, ...) as their wire
    /// integer.
    Int(i128),
    /// An `IdTime` in seconds; NaN for "no time".
    Float(f64),
    /// A text field.
    Str(String),
    /// A byte blob (`Vec<u8>`, `Data`) or a `Checksum`.
    Bytes(Vec<u8>),
    /// A list, items in wire order.
    List(Vec<Value>),
    /// A map, entries in key (wire) order.
    Map(Vec<(Value, Value)>),
    /// A message or nested struct: its fields (named as in the schema) in
    /// wire order.
    Struct(Vec<(&'static str, Value)>),
}

#[cfg(test)]
mod tests {
    #[test]
    fn raw_identifiers_lose_their_prefix() {
        use crate::codec::field_name;
        assert_eq!(field_name("r#type"), "type");
        assert_eq!(field_name("oid"), "oid");
        assert_eq!(field_name("r"), "r");
    }
}
