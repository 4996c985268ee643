//! Sinks: where messages go once read and understood.

pub mod store;

pub use store::{Ingestor, ItemOutcome, Prepared, Spent, Summary};
