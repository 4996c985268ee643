//! Importing the same files twice stores nothing twice.

use serde_json::Value;

use crate::common::*;
use crate::formats::{ATOM, CSV, CSV_MAP, JSONL, MASTODON, MBOX, RSS};

/// Imports every fixture, one command per file (the CSV needs its mapping); returns the summaries.
fn import_all(env: &Env) -> Vec<Value> {
    vec![
        env.import(&["tickets.jsonl"]),
        env.import(&["export.csv", "--map", CSV_MAP]),
        env.import(&["support.mbox"]),
        env.import(&["avis.rss", "forum.atom"]),
        env.import(&["timeline.json"]),
    ]
}

#[test]
fn replaying_every_format_imports_nothing_new() {
    let env = Env::new();
    env.file("tickets.jsonl", JSONL);
    env.file("export.csv", CSV);
    env.file("support.mbox", MBOX);
    env.file("avis.rss", RSS);
    env.file("forum.atom", ATOM);
    env.file("timeline.json", MASTODON);

    let first = import_all(&env);
    let stats_before = env.stats();
    let imported: u64 = first.iter().map(|s| u(s, "imported")).sum();
    let rejected: u64 = first.iter().map(|s| u(s, "rejected")).sum();
    assert_eq!(imported, 3 + 2 + 3 + 4 + 2);
    assert_eq!(rejected, 3 + 2 + 1 + 1 + 1);
    assert_eq!(u(&stats_before, "messages"), imported, "{stats_before}");
    assert_eq!(u(&stats_before, "rejects"), rejected, "{stats_before}");

    let second = import_all(&env);
    for (a, b) in first.iter().zip(&second) {
        let (read, imported, duplicates, rejected) = counts(a);
        assert_eq!(duplicates, 0, "{a}");
        // Every message already stored is a duplicate; refused records are refused again.
        assert_eq!(
            counts(b),
            (read, 0, imported, rejected),
            "first: {a}\nsecond: {b}"
        );
    }
    // Counts unchanged: no message twice, and a replayed reject replaces the old one.
    assert_eq!(env.stats(), stats_before);
    assert_eq!(env.messages(&[]).len() as u64, imported);
}
