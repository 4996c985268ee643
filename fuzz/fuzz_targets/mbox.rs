//! `sources::mbox::read`: a Unix mailbox, each e-mail parsed by mail-parser.
//!
//! Asserts: no panic escapes `read`; reading from memory never fails; every item meets the
//! contract (see `src/lib.rs`), raw bytes bounded by `max_record_bytes`; and every `From ` line
//! that separates e-mails (at the start or after a blank line; see `separators`) yields exactly
//! one item, text before the first one (or a lone e-mail without any) at most one more.
//!
//! `mbox` guards mail-parser with `catch_unwind` (a panic there costs one e-mail, as a reject).
//! libfuzzer-sys's panic hook aborts on *any* panic, caught or not, so this target puts back a
//! hook that only prints: a panic caught inside `mbox` is then logged ("panicked at ...") and
//! the run goes on, while one that escapes `read` still aborts (libfuzzer-sys aborts when the
//! closure unwinds).
#![no_main]

use std::sync::Once;

use copernic_fuzz::{checker, ctx, Bound};
use copernic_pipeline::sources::mbox;
use libfuzzer_sys::fuzz_target;

static HOOK: Once = Once::new();

/// How many `From ` lines open an e-mail, as `mbox::read` documents it: a `From ` line opens one
/// at the start of the input or after a blank line (the blank line being the last line that was
/// not itself a separator). Before the first e-mail any `From ` line opens one unless the text
/// before it starts with a header line (a lone `.eml`); that is left to `read`, so the answer is
/// a range: `(low, high)`, `low` never counting that case and `high` always counting it for the
/// first `From ` line (after which both follow the blank-line rule alike).
fn separators(data: &[u8], limit: usize) -> (usize, usize) {
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if data.ends_with(b"\n") || data.is_empty() {
        lines.pop(); // not a line: nothing follows the last line break
    }
    let mut low = 0;
    let mut high = 0;
    let mut after_blank = true;
    let mut seen_from = false;
    for (i, line) in lines.into_iter().enumerate() {
        // What `LineReader` keeps of a line (its first `limit` bytes), less a BOM on line 1.
        let line = &line[..line.len().min(limit)];
        let line = if i == 0 {
            line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line)
        } else {
            line
        };
        if line.starts_with(b"From ") {
            let first = !seen_from;
            seen_from = true;
            if after_blank {
                low += 1;
                high += 1;
                continue;
            }
            if first {
                // Opens an e-mail or not depending on the preamble; either way `after_blank`
                // stays false (the separator keeps it, and this non-blank line sets it).
                high += 1;
                continue;
            }
        }
        after_blank = line.iter().all(u8::is_ascii_whitespace);
    }
    (low, high)
}

fuzz_target!(|data: &[u8]| {
    HOOK.call_once(|| {
        let _ = std::panic::take_hook();
        std::panic::set_hook(Box::new(|info| {
            eprintln!("mbox fuzz: caught panic (mbox turns it into a reject): {info}");
        }));
    });
    let ctx = ctx();
    let mut count = 0;
    let mut input = data;
    let result = mbox::read(
        &mut input,
        &ctx,
        &mut checker(&ctx, Bound::Record, &mut count),
    );
    assert!(
        result.is_ok(),
        "reading an mbox from memory failed: {result:?}"
    );
    // One item per separator, plus at most one for the text before the first (a lone e-mail
    // without any separator, or a reject of the preamble).
    let (low, high) = separators(data, ctx.limits.max_record_bytes);
    assert!(
        low <= count && count <= high + 1,
        "{count} items for between {low} and {high} `From ` separators"
    );
});
