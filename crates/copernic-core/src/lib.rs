//! Copernic's domain types. This crate does no IO and knows no async: everything in it is a value
//! or a pure function, so every other crate can depend on it.

pub mod hash;
pub mod message;
pub mod reject;
pub mod text;

pub use message::{Author, Direction, Ingested, Message, MessageId, DEFAULT_WORKSPACE};
pub use reject::{Position, Reject};
