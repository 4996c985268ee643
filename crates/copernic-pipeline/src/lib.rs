//! The Discover → Classify → Engage loop, as vector lays it out: `sources` turn outside bytes into
//! [`Message`](copernic_core::Message)s or [`Reject`](copernic_core::Reject)s, `transforms` are
//! pure functions over messages, `sinks` write or send them.

pub mod backtest;
pub mod import;
pub mod sinks;
pub mod sources;
pub mod transforms;

pub use sinks::{Ingestor, ItemOutcome, Summary};
pub use sources::{Context, Format, Item, Limits, Mapping, SourceError};
