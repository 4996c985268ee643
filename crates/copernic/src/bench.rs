//! `copernic bench`: helpers for the measurements in BENCHMARKS.md.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::cli::BenchCommand;

pub fn run(data: &std::path::Path, cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Listen(args) => crate::bench_listen::run(args),
        BenchCommand::Classify {
            models,
            data,
            text_col,
            seconds,
        } => crate::classify::bench(&models, &data, &text_col, seconds),
        BenchCommand::Inbox(args) => crate::bench_inbox::run(data, args),
        BenchCommand::Gen {
            count,
            jsonl,
            csv,
            conversations,
        } => {
            let mut j = BufWriter::new(
                File::create(&jsonl)
                    .with_context(|| format!("cannot create {}", jsonl.display()))?,
            );
            let mut c = match &csv {
                Some(p) => Some(BufWriter::new(
                    File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
                )),
                None => None,
            };
            if let Some(c) = c.as_mut() {
                writeln!(c, "id,author,created_at,text")?;
            }
            let corpus = Corpus::from_demo();
            let mut rng = Rng(0x5eed_2026);
            const NOVEMBER_2025: i64 = 1_761_955_200;
            for i in 0..count {
                let (lang, text) = corpus.message(&mut rng);
                let (author, channel, created) = match conversations {
                    // Independent draws over the month (the corpus of the other benchmarks).
                    None => (
                        rng.below(100_000),
                        if i % 3 == 0 { "twitter" } else { "facebook" },
                        NOVEMBER_2025 + rng.below(30 * 86_400) as i64,
                    ),
                    // Conversation k: one author on one channel, starting at a time of its own
                    // in the month, its messages within 6 hours of its start.
                    Some(n) => {
                        let k = rng.below(n.max(1) as u64);
                        let start = Rng(k ^ 0xc0_2026).below(30 * 86_400) as i64;
                        (
                            k,
                            if k.is_multiple_of(3) {
                                "twitter"
                            } else {
                                "facebook"
                            },
                            NOVEMBER_2025 + start + rng.below(6 * 3_600) as i64,
                        )
                    }
                };
                let author = format!("@user{author}");
                let created = chrono::DateTime::from_timestamp(created, 0)
                    .unwrap_or_default()
                    .to_rfc3339();
                let id = format!("b{i}");
                let line = json!({"id": id, "text": text, "lang": lang, "created_at": created,
                    "channel": channel, "author": {"handle": author}});
                writeln!(j, "{line}")?;
                if let Some(c) = c.as_mut() {
                    writeln!(
                        c,
                        "{id},{author},{created},\"{}\"",
                        text.replace('"', "\"\"")
                    )?;
                }
            }
            j.flush()?;
            if let Some(mut c) = c {
                c.flush()?;
            }
            eprintln!("wrote {count} messages to {}", jsonl.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The project's seeded generator: every run writes the same corpus.
pub(crate) use copernic_classify::model::SplitMix64 as Rng;

/// Real French and English texts (the demo sample), cut and spliced into messages of social
/// lengths, so that a million messages are not a million copies of a few thousand.
struct Corpus {
    en: Vec<Vec<String>>,
    fr: Vec<Vec<String>>,
}

impl Corpus {
    fn from_demo() -> Corpus {
        let mut en = Vec::new();
        let mut fr = Vec::new();
        for line in crate::commands::demo_sample().split(|&b| b == b'\n') {
            let Ok(v) = serde_json::from_slice::<Value>(line) else {
                continue;
            };
            let words: Vec<String> = v["text"]
                .as_str()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string)
                .collect();
            if words.is_empty() {
                continue;
            }
            match v["lang"].as_str() {
                Some("fr") => fr.push(words),
                _ => en.push(words),
            }
        }
        Corpus { en, fr }
    }

    /// A language and a text: 70% short (5–40 words), 25% medium (40–120), 5% long (120–400).
    fn message(&self, rng: &mut Rng) -> (&'static str, String) {
        let (lang, pool) = if rng.below(2) == 0 {
            ("en", &self.en)
        } else {
            ("fr", &self.fr)
        };
        let want = match rng.below(100) {
            0..70 => 5 + rng.below(36),
            70..95 => 40 + rng.below(81),
            _ => 120 + rng.below(281),
        } as usize;
        let mut words: Vec<&str> = Vec::with_capacity(want);
        while words.len() < want {
            let text = &pool[rng.below(pool.len() as u64) as usize];
            let start = rng.below(text.len() as u64) as usize;
            let take = (want - words.len()).min(text.len() - start);
            words.extend(text[start..start + take].iter().map(String::as_str));
        }
        (lang, words.join(" "))
    }
}
