//! `copernic_listen::parse` and the percolator: any bytes as a listening query, and the same
//! bytes as a message.
//!
//! Asserts: no panic (deep nesting, long inputs, odd Unicode); an accepted query's normalised
//! form parses back to the same query; an error's column lies within the query (or just past
//! its end); the percolator and the naive engine agree on the message.
#![no_main]

use copernic_listen::{parse, Fields, Input, Percolator, Scratch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse(text) {
        Ok(expr) => {
            let shown = expr.to_string();
            assert_eq!(
                parse(&shown).as_ref(),
                Ok(&expr),
                "normal form {shown:?} of {text:?}"
            );
            let mut p = Percolator::new();
            p.add("q", &expr);
            let topics = vec![text.to_string()];
            let input = Input {
                title: Some(text),
                text,
                fields: Fields {
                    lang: Some(text),
                    channel: Some(text),
                    author: Some(text),
                    sentiment: Some(text),
                    intent: Some(text),
                    topics: &topics,
                },
            };
            let mut s = Scratch::default();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            p.matches_into(&input, &mut s, &mut a);
            p.matches_naive(&input, &mut s, &mut b);
            assert_eq!(a, b, "percolator and naive engine disagree on {text:?}");
        }
        Err(e) => {
            let n = text.chars().count();
            assert!(
                e.column >= 1 && e.column <= n.max(copernic_listen::syntax::MAX_QUERY_CHARS) + 1,
                "{e} for {text:?}"
            );
        }
    }
});
