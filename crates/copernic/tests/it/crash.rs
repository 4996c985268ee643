//! An import killed with SIGKILL midway loses nothing it committed, corrupts nothing, and a
//! re-run completes it with every message stored exactly once.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;

/// Large enough that a debug build takes several seconds to import it (the first commit comes
/// after a few thousand records, the last long after), small enough for the test to stay well
/// under a minute.
const TOTAL: u64 = 150_000;

#[test]
fn import_killed_midway_then_rerun_stores_each_message_once() {
    let env = Env::new();
    let total = TOTAL.to_string();
    env.ok([
        "bench",
        "gen",
        "--count",
        total.as_str(),
        "--jsonl",
        "big.jsonl",
    ]);
    let lines = std::fs::read(env.path().join("big.jsonl"))
        .expect("generated corpus")
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64;
    assert_eq!(lines, TOTAL);

    let mut child = env
        .cmd()
        .args(["import", "big.jsonl", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the import");

    // WAL: `stats` reads while the import writes. Wait for the first commit.
    let started = Instant::now();
    let seen = loop {
        if let Some(status) = child.try_wait().expect("poll the import") {
            panic!(
                "the import ended ({status}) before any commit was seen: raise TOTAL so it is killed midway"
            );
        }
        let out = env.run(["stats", "--json"]);
        if out.status.success() {
            let n = u(&parse_one(&out.stdout), "messages");
            if n > 0 {
                break n;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no message was committed in two minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        child.try_wait().expect("poll the import").is_none(),
        "the import finished before it could be killed: raise TOTAL"
    );
    child.kill().expect("SIGKILL the import");
    let status = child.wait().expect("reap the import");
    assert_eq!(
        status.signal(),
        Some(9),
        "the import was not killed by SIGKILL but ended with {status}: raise TOTAL"
    );

    // What was committed survived the kill; the import was cut midway.
    let after_kill = u(&env.stats(), "messages");
    assert!(
        after_kill >= seen && after_kill < TOTAL,
        "seen {seen} before the kill, {after_kill} after, of {TOTAL}"
    );

    eprintln!("killed after {seen} messages were seen; {after_kill} of {TOTAL} survived");

    // The re-run completes the import: committed messages are duplicates, the rest new.
    let s = env.import(&["big.jsonl"]);
    assert_eq!(u(&s, "read"), TOTAL, "{s}");
    assert_eq!(u(&s, "rejected"), 0, "{s}");
    assert_eq!(u(&s, "imported") + u(&s, "duplicates"), TOTAL, "{s}");
    assert_eq!(u(&s, "duplicates"), after_kill, "{s}");

    // Ids are unique in the corpus, so TOTAL stored messages means each exactly once.
    assert_eq!(u(&env.stats(), "messages"), TOTAL);
    let check = parse_one(&env.ok(["stats", "--check", "--json"]).stdout);
    assert_eq!(check["integrity"], "ok", "{check}");
    assert_eq!(u(&check, "messages"), TOTAL);
    assert_eq!(u(&check, "rejects"), 0);
}
