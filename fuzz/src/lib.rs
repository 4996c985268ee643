//! Shared set-up and contract checks for the fuzz targets in `fuzz_targets/`.
//!
//! The contract every source states (`crates/copernic-pipeline/src/sources/mod.rs`): it never
//! panics on input; a record it cannot use becomes an [`Item::Reject`] that says why, with its raw
//! bytes; only a failure to read the input at all is a `SourceError`. The checks below turn that
//! into assertions, so that a violation is a crash libFuzzer reports and minimises.

use copernic_core::MessageId;
use copernic_pipeline::sources::{Context, Item, Limits};

/// Small limits, so that the oversized-record paths are reached by inputs of a few kilobytes.
pub const LIMITS: Limits = Limits {
    max_record_bytes: 1024,
    max_document_bytes: 1 << 20,
};

/// The context every target reads under.
pub fn ctx() -> Context {
    let mut ctx = Context::new("fuzz", "fuzz-input");
    ctx.limits = LIMITS;
    ctx
}

/// How large an item's raw bytes may be.
#[derive(Clone, Copy, Debug)]
pub enum Bound {
    /// A line- or record-based source (JSONL lines, CSV rows, mbox e-mails, feed items): raw
    /// bytes, of rejects and messages alike, are at most `max_record_bytes` (oversized records
    /// are refused with their first `max_record_bytes` kept).
    Record,
    /// A whole-document source (a JSON document or API page, an HTTP body, a Mastodon page): a
    /// reject of the whole document keeps the document, which is at most `max_document_bytes`
    /// (so do rejects of elements that are not objects); but every record read out of the
    /// document is bounded by `max_record_bytes` (a larger one is refused, its first
    /// `max_record_bytes` kept), so a *message*'s raw bytes are at most `max_record_bytes`.
    Document,
    /// A record handed to `mapping::to_message` directly (the `mapping` target): no limit applies
    /// there (the sources check it before mapping), so none is asserted.
    Unbounded,
}

/// Asserts the contract on one emitted item.
pub fn check(item: &Item, ctx: &Context, bound: Bound) {
    let max_raw = match bound {
        Bound::Record => ctx.limits.max_record_bytes,
        Bound::Document => ctx.limits.max_document_bytes,
        Bound::Unbounded => usize::MAX,
    };
    match item {
        Item::Reject(r) => {
            assert!(
                !r.reason.trim().is_empty(),
                "reject without a reason: {r:?}"
            );
            assert!(
                r.raw.len() <= max_raw,
                "reject raw is {} bytes, over the {max_raw}-byte bound ({bound:?}): {}",
                r.raw.len(),
                r.reason
            );
            assert_eq!(r.source, ctx.source, "reject from another source");
            assert_eq!(r.workspace, ctx.workspace, "reject in another workspace");
            assert_eq!(r.position.input, ctx.input, "reject names another input");
            if let Some(field) = &r.field {
                assert!(!field.is_empty(), "reject names an empty field: {r:?}");
            }
        }
        Item::Message(m) => {
            assert!(!m.source.is_empty(), "message without a source: {m:?}");
            assert!(
                !m.external_id.is_empty(),
                "message without an external id: {m:?}"
            );
            assert!(!m.channel.is_empty(), "message without a channel: {m:?}");
            assert_eq!(m.source, ctx.source, "message from another source");
            assert_eq!(m.workspace, ctx.workspace, "message in another workspace");
            assert_eq!(
                m.id,
                MessageId::derive(&m.source, &m.external_id),
                "message id not derived from (source, external_id)"
            );
            if matches!(bound, Bound::Record | Bound::Document) {
                let limit = ctx.limits.max_record_bytes;
                assert!(
                    m.raw.len() <= limit,
                    "message raw is {} bytes, over the {limit}-byte record limit ({bound:?})",
                    m.raw.len()
                );
            }
        }
    }
}

/// An `emit` callback that checks every item and counts them.
pub fn checker<'a>(ctx: &'a Context, bound: Bound, count: &'a mut usize) -> impl FnMut(Item) + 'a {
    move |item| {
        check(&item, ctx, bound);
        *count += 1;
    }
}
