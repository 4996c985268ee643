//! Copernic's domain types. This crate does no IO and knows no async: everything in it is a value
//! or a pure function, so every other crate can depend on it.

pub mod engage;
pub mod hash;
pub mod message;
pub mod reject;
pub mod text;

/// An error and its sources, joined with `: ` — for messages that must stand on one line
/// (a report field, a log line).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

pub use message::{Author, Direction, Ingested, Labels, Message, MessageId, DEFAULT_WORKSPACE};
pub use reject::{Position, Reject};
