//! The Discover → Classify → Engage loop, as vector lays it out: `sources` turn outside bytes into
//! [`Message`](copernic_core::Message)s or [`Reject`](copernic_core::Reject)s, `transforms` are
//! pure functions over messages, `sinks` write or send them.

pub mod sinks;
pub mod sources;
pub mod transforms;

pub use sources::{Context, Format, Item, Limits, SourceError};
