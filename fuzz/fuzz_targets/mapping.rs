//! `Mapping::from_str` (the `--map` syntax), `mapping::select` and `mapping::to_message`.
//!
//! Input: first line a mapping spec, second line a select path, the rest a JSON document.
//! Asserts: no panic; a parsed mapping maps only non-empty paths; an error has a message;
//! `select` of an empty path is the value itself and a path without `*` selects at most one
//! value; every selected object becomes a message or reject meeting the contract (raw bounded by
//! the record's own bytes, which here are the record).
#![no_main]

use std::str::FromStr;

use copernic_fuzz::{check, ctx, Bound};
use copernic_pipeline::sources::mapping::{select, to_message};
use copernic_pipeline::sources::{Item, Mapping};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

fuzz_target!(|data: &[u8]| {
    let (spec, rest) = split_line(data);
    let (path, json) = split_line(rest);
    let spec = String::from_utf8_lossy(spec);
    let path = String::from_utf8_lossy(path);

    let mapping = match Mapping::from_str(&spec) {
        Ok(m) => {
            for p in m.fields.values() {
                assert!(!p.trim().is_empty(), "mapping {spec:?} maps an empty path");
            }
            m
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            Mapping::default()
        }
    };

    let Ok(value) = serde_json::from_slice::<Value>(json) else {
        return;
    };
    assert_eq!(
        select(&value, ""),
        vec![&value],
        "empty path is not the value itself"
    );
    let selected = select(&value, &path);
    if !path.split('.').any(|s| s == "*") {
        assert!(
            selected.len() <= 1,
            "{path:?} has no `*` yet selected {}",
            selected.len()
        );
    }

    let ctx = ctx();
    for (i, record) in selected.into_iter().enumerate() {
        if !record.is_object() {
            continue;
        }
        let raw = serde_json::to_vec(record).unwrap();
        let pos = ctx.at().item(i as u64);
        let item = match to_message(record, &raw, &mapping, &ctx, pos) {
            Ok(m) => {
                assert_eq!(m.raw, raw, "message raw is not the record's bytes");
                Item::Message(m)
            }
            Err(r) => {
                assert_eq!(r.raw, raw, "reject raw is not the record's bytes");
                Item::Reject(*r)
            }
        };
        check(&item, &ctx, Bound::Unbounded);
    }
});
