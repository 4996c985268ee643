//! `sources::mbox::read`: a Unix mailbox, each e-mail parsed by mail-parser.
//!
//! Asserts: no panic escapes `read`; reading from memory never fails; every item meets the
//! contract (see `src/lib.rs`), raw bytes bounded by `max_record_bytes`; and every `From ` line
//! yields exactly one item (text before the first one at most one more).
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

fn from_lines(data: &[u8]) -> usize {
    data.split(|&b| b == b'\n')
        .enumerate()
        .filter(|(i, line)| {
            let line = if *i == 0 {
                line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line)
            } else {
                line
            };
            line.starts_with(b"From ")
        })
        .count()
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
    let mails = from_lines(data);
    assert!(
        count == mails || count == mails + 1,
        "{count} items for {mails} `From ` lines"
    );
});
