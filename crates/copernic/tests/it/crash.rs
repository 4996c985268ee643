//! An import killed with SIGKILL midway corrupts nothing, and a re-run completes it with every
//! message stored exactly once. Into a folder that already holds messages, the killed import
//! keeps what it committed; the first import into a new folder is written all at once
//! (`SqliteStore::begin_first_load`), so killed, it keeps nothing, and the re-run starts over.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;

/// Large enough that a debug build takes several seconds to import it (the first commit comes
/// after a few thousand records, the last long after), small enough for the test to stay well
/// under a minute.
const TOTAL: u64 = 150_000;

/// Writes the generated corpus of [`TOTAL`] messages to `big.jsonl`.
fn generate(env: &Env) {
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
}

fn start_import(env: &Env) -> std::process::Child {
    env.cmd()
        .args(["import", "big.jsonl", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the import")
}

fn kill(mut child: std::process::Child) {
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
}

/// The store is sound, holds `messages` messages, and is in WAL mode.
fn assert_complete(env: &Env, messages: u64) {
    assert_eq!(u(&env.stats(), "messages"), messages);
    let check = parse_one(&env.ok(["stats", "--check", "--json"]).stdout);
    assert_eq!(check["integrity"], "ok", "{check}");
    assert_eq!(u(&check, "messages"), messages);
    assert_eq!(u(&check, "rejects"), 0);
    let head = std::fs::read(env.data().join("copernic.db")).expect("the database file");
    // Bytes 18 and 19 of an SQLite header are 2 in WAL mode.
    assert_eq!(&head[18..20], &[2, 2], "the database is back in WAL mode");
}

#[test]
fn import_killed_midway_then_rerun_stores_each_message_once() {
    let env = Env::new();
    generate(&env);
    // A folder that already holds a message: the import goes through the WAL, commit by commit.
    let seed = env.file(
        "seed.jsonl",
        "{\"id\":\"seed\",\"text\":\"the first message of this folder\"}\n",
    );
    assert_eq!(u(&env.import(&[seed.as_str()]), "imported"), 1);

    let mut child = start_import(&env);

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
            let n = u(&parse_one(&out.stdout), "messages") - 1;
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
    kill(child);

    // What was committed survived the kill; the import was cut midway.
    let after_kill = u(&env.stats(), "messages") - 1;
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

    // Ids are unique in the corpus, so TOTAL stored messages (and the seed) means each once.
    assert_complete(&env, TOTAL + 1);
}

#[test]
fn first_import_killed_midway_keeps_nothing_then_rerun_stores_each_message_once() {
    let env = Env::new();
    generate(&env);
    let mut child = start_import(&env);
    // The load is under way once rows reach the disk; meanwhile readers are told to wait for it.
    let started = Instant::now();
    let raw_log = env.data().join("raw.log");
    loop {
        if let Some(status) = child.try_wait().expect("poll the import") {
            panic!("the import ended ({status}) before it was seen writing: raise TOTAL");
        }
        let written = std::fs::metadata(&raw_log).map_or(0, |m| m.len());
        if written > 0 && env.data().join("copernic.loading").exists() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the first import wrote nothing in two minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = env.run(["stats", "--json"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && said.contains("is still running"),
        "a reader during a first load: {said}"
    );
    kill(child);

    // Nothing of the killed first import is read, and the reader says what to do.
    let out = env.run(["stats", "--json"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && said.contains("was interrupted") && said.contains("again"),
        "a reader after a killed first load: {said}"
    );

    // The re-run starts over: no duplicates, every message new.
    let s = env.import(&["big.jsonl"]);
    assert_eq!(u(&s, "read"), TOTAL, "{s}");
    assert_eq!(u(&s, "imported"), TOTAL, "{s}");
    assert_eq!(u(&s, "duplicates"), 0, "{s}");
    assert!(!env.data().join("copernic.loading").exists());
    assert_complete(&env, TOTAL);
}
