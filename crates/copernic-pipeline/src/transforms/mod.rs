//! Transforms: pure functions over messages. No IO, no async.

pub mod classify;
pub mod listen;
pub mod neardup;
