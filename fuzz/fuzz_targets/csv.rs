//! `sources::csv::read`: delimited text with a header row (BOMs, UTF-16, Windows-1252, `;`).
//!
//! Asserts: no panic; every item meets the contract (see `src/lib.rs`), with raw bytes bounded
//! by `max_record_bytes`. A bad header is a whole-input `SourceError::Format`, which is allowed;
//! an I/O error is not (the input is in memory).
#![no_main]

use copernic_fuzz::{checker, ctx, Bound};
use copernic_pipeline::sources::{csv, Mapping, SourceError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ctx = ctx();
    for spec in ["", "text=body,author=user,created_at=date,id=id"] {
        let mapping: Mapping = spec.parse().unwrap();
        let mut count = 0;
        let mut input = data;
        let result = csv::read(
            &mut input,
            &mapping,
            &ctx,
            &mut checker(&ctx, Bound::Record, &mut count),
        );
        if let Err(e) = &result {
            assert!(
                !matches!(e, SourceError::Io { .. }),
                "I/O error reading from memory: {e:?}"
            );
            assert!(!e.to_string().is_empty());
        }
    }
});
