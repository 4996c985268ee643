//! `sources::feed::parse`: RSS 0.9x/1.0/2.0 and Atom documents.
//!
//! Asserts: no panic; every item meets the contract (see `src/lib.rs`), raw bytes bounded by
//! `max_record_bytes` (feed items, and the rest-of-document kept with a "broken XML" reject, are
//! cut at the record limit). A document that is not a feed at all is a whole-input
//! `SourceError::Format`, which is allowed, and then nothing may have been emitted.
#![no_main]

use copernic_fuzz::{checker, ctx, Bound};
use copernic_pipeline::sources::{feed, SourceError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ctx = ctx();
    let mut count = 0;
    let result = feed::parse(data, &ctx, &mut checker(&ctx, Bound::Record, &mut count));
    match result {
        Ok(()) => {}
        Err(SourceError::Format { reason, .. }) => {
            assert!(!reason.is_empty());
            assert_eq!(count, 0, "items emitted before a whole-input format error");
        }
        Err(e) => panic!("unexpected error from a feed in memory: {e:?}"),
    }
});
