//! Transforms: pure functions over messages. No IO, no async.

pub mod neardup;
