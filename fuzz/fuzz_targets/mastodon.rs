//! `sources::mastodon::parse`: a JSON array of Mastodon statuses (or one status).
//!
//! Asserts: no panic; every item meets the contract (see `src/lib.rs`; a whole-document reject
//! keeps the document, so raw is bounded by `max_document_bytes`); one item per array element
//! (one for a single value, one reject for invalid JSON).
#![no_main]

use copernic_fuzz::{checker, ctx, Bound};
use copernic_pipeline::sources::mastodon;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let ctx = ctx();
    let mut count = 0;
    mastodon::parse(data, &ctx, &mut checker(&ctx, Bound::Document, &mut count));
    let doc = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    let expected = match serde_json::from_slice::<Value>(doc) {
        Ok(Value::Array(a)) => a.len(),
        _ => 1,
    };
    assert_eq!(count, expected, "not one item per status");
});
