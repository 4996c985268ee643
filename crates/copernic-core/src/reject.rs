//! What a source refused, and where: kept in the dead-letter store with its raw bytes.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Where in its input a record was found. Every part that is known is given, so an error can
/// say `export.csv: line 12 (byte 3456), field author`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The file, URL or endpoint the record came from. Shared: every record of an input has a
    /// position, most never used (only a refusal shows it).
    pub input: Arc<str>,
    /// 1-based line where the record starts, for line-oriented inputs.
    pub line: Option<u64>,
    /// Byte offset of the record's start in the input.
    pub byte: Option<u64>,
    /// 0-based index of the record among the input's records (array element, mbox message, feed item).
    pub item: Option<u64>,
}

impl Position {
    pub fn new(input: &str) -> Position {
        Position {
            input: input.into(),
            ..Position::default()
        }
    }
    pub fn line(mut self, line: u64) -> Position {
        self.line = Some(line);
        self
    }
    pub fn byte(mut self, byte: u64) -> Position {
        self.byte = Some(byte);
        self
    }
    pub fn item(mut self, item: u64) -> Position {
        self.item = Some(item);
        self
    }
    /// A stable key for the position inside its input, so a replayed reject replaces the old one.
    pub fn key(&self) -> String {
        format!(
            "{}#{}:{}:{}",
            self.input,
            self.line.map(|v| v.to_string()).unwrap_or_default(),
            self.byte.map(|v| v.to_string()).unwrap_or_default(),
            self.item.map(|v| v.to_string()).unwrap_or_default()
        )
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.input)?;
        let mut sep = ": ";
        if let Some(line) = self.line {
            write!(f, "{sep}line {line}")?;
            sep = ", ";
        }
        if let Some(item) = self.item {
            write!(f, "{sep}item {item}")?;
            sep = ", ";
        }
        if let Some(byte) = self.byte {
            if sep == ", " {
                write!(f, " (byte {byte})")?;
            } else {
                write!(f, "{sep}byte {byte}")?;
            }
        }
        Ok(())
    }
}

/// A record a source could not turn into a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reject {
    pub workspace: String,
    pub source: String,
    pub position: Position,
    /// The field that was wrong, when one was (`text`, `created_at`, `user.screen_name`).
    pub field: Option<String>,
    /// What was wrong, in words a user can act on.
    pub reason: String,
    /// The record's bytes as received (truncated to a limit for oversized records).
    #[serde(skip)]
    pub raw: Vec<u8>,
}

impl Reject {
    pub fn new(source: &str, position: Position, reason: impl Into<String>, raw: &[u8]) -> Reject {
        Reject {
            workspace: crate::DEFAULT_WORKSPACE.to_string(),
            source: source.to_string(),
            position,
            field: None,
            reason: reason.into(),
            raw: raw.to_vec(),
        }
    }
    pub fn field(mut self, field: &str) -> Reject {
        self.field = Some(field.to_string());
        self
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.position)?;
        if let Some(field) = &self.field {
            write!(f, ", field {field}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_reads_as_a_user_would_write_it() {
        let p = Position::new("a.csv").line(12).byte(3456);
        assert_eq!(p.to_string(), "a.csv: line 12 (byte 3456)");
        assert_eq!(
            Position::new("b.mbox").item(3).to_string(),
            "b.mbox: item 3"
        );
        assert_eq!(Position::new("c.bin").byte(9).to_string(), "c.bin: byte 9");
        let r = Reject::new(
            "s",
            Position::new("a.jsonl").line(2),
            "text is empty",
            b"{}",
        )
        .field("text");
        assert_eq!(r.to_string(), "a.jsonl: line 2, field text: text is empty");
    }
}
