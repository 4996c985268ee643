//! `sources::jsonl::parse_body`: an HTTP body (one object, an array, or NDJSON), with and
//! without an items path (`entry.*.changes.*.value`, Meta-style webhooks).
//!
//! Asserts: no panic; every item meets the contract (see `src/lib.rs`; whole-body rejects keep
//! the body, so raw is bounded by `max_document_bytes`); a body that is one JSON document always
//! yields at least one item (records, or the "no records" reject).
#![no_main]

use copernic_fuzz::{checker, ctx, Bound};
use copernic_pipeline::sources::{jsonl, Mapping};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let ctx = ctx();
    let mapping = Mapping::default();
    let body = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    let is_json = serde_json::from_slice::<Value>(body).is_ok();
    for items in [None, Some("entry.*.changes.*.value"), Some("data.0.*")] {
        let mut count = 0;
        jsonl::parse_body(
            data,
            items,
            &mapping,
            &ctx,
            &mut checker(&ctx, Bound::Document, &mut count),
        );
        if is_json || !body.contains(&b'\n') {
            assert!(
                count >= 1,
                "a body gave no item at all (items path {items:?})"
            );
        }
    }
});
