//! TEMPORARY stub until src/proto lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode(pub u32);
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("decode")]
pub struct DecodeError;
