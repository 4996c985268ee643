//! Integration tests of the listening query language, in one test binary:
//! - `reference`: a brute-force matcher written from `docs/query-language.md`;
//! - `table`: table tests for every operator, French and English;
//! - `props`: random queries over the demo messages, percolator vs naive vs reference.

mod props;
mod reference;
mod table;
