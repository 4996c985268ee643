//! `copernic demo --no-serve --into DIR` loads the bundled sample once.
//! (`--data` is global but demo ignores it and uses --into; here both name the same folder.)

use crate::common::*;

const SAMPLE: u64 = 1940;

#[test]
fn demo_loads_the_sample_once_and_names_its_licences() {
    let env = Env::new();
    // Load into this workspace's store, so the other commands read it with --data.
    let dir = env.data();
    let dir_arg = dir.to_str().expect("UTF-8 temporary path");

    let out = env.ok(["demo", "--no-serve", "--into", dir_arg]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "loaded {SAMPLE} real public messages ({SAMPLE} new, 0 already there"
        )),
        "{err}"
    );
    // The licence note: where the texts come from, under which licences.
    assert!(err.contains("CC BY 4.0"), "{err}");
    assert!(err.contains("MIT"), "{err}");
    assert!(err.contains("NOTICE.md"), "{err}");

    // The store in DIR holds the sample; --data names it like any other store.
    let stats = parse_one(&env.ok(["stats", "--json", "--check"]).stdout);
    assert_eq!(u(&stats, "messages"), SAMPLE, "{stats}");
    assert_eq!(u(&stats, "rejects"), 0, "{stats}");
    assert_eq!(stats["integrity"], "ok");

    let out = env.ok(["demo", "--no-serve", "--into", dir_arg]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("(0 new, {SAMPLE} already there")),
        "{err}"
    );
    assert_eq!(u(&env.stats(), "messages"), SAMPLE);
    // The sample's copy-paste wave (40 bots, mentions, links, upper case) is one wave.
    let waves = parse_lines(&env.ok(["waves", "--json"]).stdout);
    assert_eq!(u(&waves[0], "size"), 40, "{waves:#?}");
    assert_eq!(u(&waves[0], "distinct_authors"), 40);
    // The sample is searchable like any import (English and French texts).
    assert!(!env
        .messages(&["--source", "demo", "--search", "card"])
        .is_empty());
}
