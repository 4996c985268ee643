//! Listening: the boolean query language brand teams write (`syntax`) and the percolator that
//! matches every message against all standing queries at once (`percolator`). Pure: no IO, no
//! async; the store keeps queries and matches, the pipeline calls the percolator.
//!
//! The language is documented for users in `docs/query-language.md`.

pub mod percolator;
pub mod syntax;

pub use percolator::{Doc, Fields, Input, Percolator, Scratch};
pub use syntax::{parse, Atom, Expr, Field, ParseError};
