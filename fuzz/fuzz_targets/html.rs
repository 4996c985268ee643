//! `copernic_core::text`: `decode_utf8_or_latin1`, `html_to_text`, `parse_datetime`.
//!
//! Asserts: no panic; `decode_utf8_or_latin1` borrows valid UTF-8 unchanged and otherwise maps
//! each byte to one character (Windows-1252); `html_to_text` output is collapsed as documented
//! (no leading or trailing blank, `collapse_space` leaves it unchanged); a date `parse_datetime`
//! reads, written back as RFC 3339, reads back to the same instant (years 1..=9999).
#![no_main]

use std::borrow::Cow;

use chrono::Datelike;
use copernic_core::text::{collapse_space, decode_utf8_or_latin1, html_to_text, parse_datetime};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (text, fallback) = decode_utf8_or_latin1(data);
    match std::str::from_utf8(data) {
        Ok(s) => {
            assert!(!fallback);
            assert!(matches!(text, Cow::Borrowed(_)));
            assert_eq!(text, s);
        }
        Err(_) => {
            assert!(fallback);
            assert_eq!(
                text.chars().count(),
                data.len(),
                "not one character per byte"
            );
        }
    }

    let plain = html_to_text(&text);
    assert_eq!(
        plain.trim(),
        plain,
        "html_to_text left blank space at an end"
    );
    assert_eq!(
        collapse_space(&plain),
        plain,
        "html_to_text output is not collapsed"
    );

    for candidate in [&*text, text.lines().next().unwrap_or("")] {
        if let Some(at) = parse_datetime(candidate) {
            if (1..=9999).contains(&at.year()) {
                let again = parse_datetime(&at.to_rfc3339());
                assert_eq!(again, Some(at), "{candidate:?} -> {at} does not read back");
            }
        }
    }
});
