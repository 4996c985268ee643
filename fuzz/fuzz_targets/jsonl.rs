//! `sources::jsonl::read` (one JSON object per line) and `read_array` (one JSON document).
//!
//! Asserts: the in-place JSON reader (`sources::json`) reads what serde_json reads; no panic; reading from memory never fails; every item meets the contract (see
//! `src/lib.rs`), JSONL records bounded by `max_record_bytes`; and, as `read` documents, every
//! line that is not blank yields exactly one item (a message or a reject), so none is dropped.
#![no_main]

use copernic_fuzz::{checker, ctx, Bound};
use copernic_pipeline::sources::json::Json;
use copernic_pipeline::sources::{jsonl, Mapping};
use libfuzzer_sys::fuzz_target;

/// Lines `read` must answer: every line over the limit, and every other line that is not blank.
fn expected_items(data: &[u8], limit: usize) -> usize {
    let mut n = 0;
    let mut rest = data;
    let mut first = true;
    while !rest.is_empty() {
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        if line.len() > limit {
            n += 1;
        } else {
            let line = if first {
                line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line)
            } else {
                line
            };
            if !line.iter().all(u8::is_ascii_whitespace) {
                n += 1;
            }
        }
        first = false;
    }
    n
}

fuzz_target!(|data: &[u8]| {
    // A JSONL line is read in place (`sources::json`): it must read as serde_json reads it, and
    // fail where serde_json fails.
    match (
        serde_json::from_slice::<Json>(data),
        serde_json::from_slice::<serde_json::Value>(data),
    ) {
        (Ok(ours), Ok(theirs)) => assert_eq!(ours.to_value(), theirs, "read in place differently"),
        (Err(ours), Err(theirs)) => assert_eq!(
            (ours.line(), ours.column()),
            (theirs.line(), theirs.column()),
            "failed elsewhere than serde_json: {ours} / {theirs}"
        ),
        (ours, theirs) => panic!("read in place: {ours:?}, serde_json: {theirs:?}"),
    }

    let ctx = ctx();
    let mapping = Mapping::default();

    let mut count = 0;
    let mut input = data;
    let result = jsonl::read(
        &mut input,
        &mapping,
        &ctx,
        &mut checker(&ctx, Bound::Record, &mut count),
    );
    assert!(
        result.is_ok(),
        "reading JSONL from memory failed: {result:?}"
    );
    assert_eq!(
        count,
        expected_items(data, ctx.limits.max_record_bytes),
        "not one item per non-blank line"
    );

    // The same bytes as one JSON document, under an explicit mapping.
    let mapping: Mapping = "text=body,author=user.screen_name,created_at=ts,tags=tags"
        .parse()
        .unwrap();
    let mut count = 0;
    let mut input = data;
    let result = jsonl::read_array(
        &mut input,
        &mapping,
        &ctx,
        &mut checker(&ctx, Bound::Document, &mut count),
    );
    if data.len() <= ctx.limits.max_document_bytes {
        assert!(
            result.is_ok(),
            "reading a JSON array from memory failed: {result:?}"
        );
        assert!(
            count >= 1
                || matches!(serde_json::from_slice::<serde_json::Value>(data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data)), Ok(serde_json::Value::Array(ref a)) if a.is_empty()),
            "a JSON document that is not an empty array gave no item"
        );
    }
});
