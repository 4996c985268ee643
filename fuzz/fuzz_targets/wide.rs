//! `sources::wide`: UTF-16 and UTF-32 decoded to UTF-8, whole and as a stream.
//!
//! Asserts: no panic; the output is UTF-8; reading through buffers of any size (so code units and
//! surrogate pairs are cut between reads) gives what decoding the whole input gives.
#![no_main]

use std::io::Read;

use copernic_pipeline::sources::wide::{Wide, WideReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, data)) = data.split_first() else {
        return;
    };
    let detected = Wide::detect(data);
    for wide in [Wide::Utf16Le, Wide::Utf16Be, Wide::Utf32Le, Wide::Utf32Be] {
        let (wide, body) = match detected {
            Some((w, mark)) => (w, &data[mark..]),
            None => (wide, data),
        };
        let whole = wide.decode(body);
        assert!(std::str::from_utf8(&whole).is_ok(), "{wide:?}: not UTF-8");
        let inner = std::io::BufReader::with_capacity(usize::from(chunk).max(1), body);
        let mut streamed = Vec::new();
        WideReader::new(inner, wide)
            .read_to_end(&mut streamed)
            .expect("reading from memory");
        assert_eq!(streamed, whole, "{wide:?}: streamed and whole differ");
    }
});
