//! A temporary workspace (input files + a store) and helpers that run the binary in it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_copernic");

/// A temporary folder: input files live at its root (so they are named by relative paths, as a
/// user would type them) and the store in `data/`.
pub struct Env {
    pub dir: TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::Builder::new()
                .prefix("copernic-it-")
                .tempdir()
                .expect("temporary folder"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Writes an input file and returns its name (relative to the working folder).
    pub fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        std::fs::write(self.dir.path().join(name), bytes).expect("write input file");
        name.to_string()
    }

    /// The binary, in this folder, on this store, with no configuration from the environment.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--data")
            .arg(self.data())
            .current_dir(self.dir.path())
            .env_remove("COPERNIC_DATA")
            .env_remove("COPERNIC_CONFIG")
            .env_remove("RUST_LOG");
        c
    }

    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd().args(args).output().expect("run copernic")
    }

    /// Runs a command that must succeed; returns its output.
    pub fn ok<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        let out = self.run(&args);
        assert!(
            out.status.success(),
            "copernic {args:?} failed with {}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `copernic import ARGS --json`, which must succeed: the summary.
    pub fn import(&self, args: &[&str]) -> Value {
        let mut all = vec!["import"];
        all.extend_from_slice(args);
        all.push("--json");
        let out = self.ok(&all);
        parse_one(&out.stdout)
    }

    /// `copernic messages ARGS --json --limit 1000`.
    pub fn messages(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["messages", "--json", "--limit", "1000"];
        all.extend_from_slice(args);
        parse_lines(&self.ok(&all).stdout)
    }

    /// `copernic rejects ARGS --json --limit 1000`.
    pub fn rejects(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["rejects", "--json", "--limit", "1000"];
        all.extend_from_slice(args);
        parse_lines(&self.ok(&all).stdout)
    }

    /// `copernic stats --json`.
    pub fn stats(&self) -> Value {
        parse_one(&self.ok(["stats", "--json"]).stdout)
    }

    /// The external ids of the messages a search finds, sorted.
    pub fn search(&self, words: &str, source: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .messages(&["--search", words, "--source", source])
            .iter()
            .map(|m| str_of(m, "external_id"))
            .collect();
        ids.sort();
        ids
    }
}

pub fn parse_one(stdout: &[u8]) -> Value {
    let text = String::from_utf8_lossy(stdout);
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {text}"))
}

pub fn parse_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

pub fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a count in {v}"))
}

pub fn str_of(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
        .to_string()
}

/// (read, imported, duplicates, rejected) of an import summary or of one of its files.
pub fn counts(v: &Value) -> (u64, u64, u64, u64) {
    (
        u(v, "read"),
        u(v, "imported"),
        u(v, "duplicates"),
        u(v, "rejected"),
    )
}

/// The message with this external id among `messages`.
pub fn by_external_id<'a>(messages: &'a [Value], id: &str) -> &'a Value {
    messages
        .iter()
        .find(|m| m["external_id"] == id)
        .unwrap_or_else(|| panic!("no message with external id {id:?} in {messages:#?}"))
}

/// The reject at this line (line-oriented inputs) among `rejects`.
pub fn reject_at_line(rejects: &[Value], line: u64) -> &Value {
    rejects
        .iter()
        .find(|r| r["position"]["line"] == line)
        .unwrap_or_else(|| panic!("no reject at line {line} in {rejects:#?}"))
}

/// The reject at this item index (documents of records) among `rejects`.
pub fn reject_at_item(rejects: &[Value], item: u64) -> &Value {
    rejects
        .iter()
        .find(|r| r["position"]["item"] == item)
        .unwrap_or_else(|| panic!("no reject at item {item} in {rejects:#?}"))
}

/// `copernic rejects --raw SEQ`: the bytes kept for one reject.
pub fn raw_reject(env: &Env, reject: &Value) -> Vec<u8> {
    let seq = reject["seq"].as_i64().expect("reject seq").to_string();
    env.ok(["rejects", "--raw", seq.as_str()]).stdout
}

/// 1-based line number → (byte offset of the line's start, the line without its terminator).
pub fn line_of(bytes: &[u8], line: usize) -> (u64, &[u8]) {
    let mut start = 0usize;
    for _ in 1..line {
        let nl = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .expect("file has that many lines");
        start += nl + 1;
    }
    let end = bytes[start..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| start + i)
        .unwrap_or(bytes.len());
    let mut content = &bytes[start..end];
    if content.last() == Some(&b'\r') {
        content = &content[..content.len() - 1];
    }
    (start as u64, content)
}
