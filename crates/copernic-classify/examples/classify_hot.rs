//! The per-message classify step as the importer runs it (the language given by the source, one
//! thread, buffers reused), over the `text` and `lang` fields of a JSONL file:
//!
//! ```text
//! cargo run --release -p copernic-classify --example classify_hot -- FILE.jsonl time [SECONDS]
//! cargo run --release -p copernic-classify --example classify_hot -- FILE.jsonl rounds [N]
//! cargo run --release -p copernic-classify --example classify_hot -- FILE.jsonl features [N]
//! cargo run --release -p copernic-classify --example classify_hot -- FILE.jsonl logits [N]
//! cargo run --release -p copernic-classify --example classify_hot -- FILE.jsonl dump > out.txt
//! ```
//!
//! `dump` prints every classification with its floats' bits, so two builds can be compared
//! exactly; `time` prints messages per second. `copernic bench classify` also identifies the
//! language, which the importer mostly does not need: this one isolates what it does run.

use std::io::{BufRead, Write};
use std::time::Instant;

use copernic_classify::defaults::{Classifier, Context, Scratch};

fn ctx(lang: Option<&str>) -> Context<'_> {
    Context {
        lang,
        reach: None,
        all_scores: false,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(mode)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: classify_hot FILE.jsonl time [SECONDS] | dump");
        std::process::exit(2);
    };
    let file = std::fs::File::open(path).expect("cannot open the input");
    let rows: Vec<(String, Option<String>)> = std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        .map(|v| {
            (
                v["text"].as_str().unwrap_or("").to_string(),
                v["lang"].as_str().map(str::to_string),
            )
        })
        .collect();
    let c = Classifier::shipped().expect("shipped models load");
    let mut s = Scratch::default();
    if mode == "dump" {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for (text, lang) in &rows {
            let r = c.classify(text, ctx(lang.as_deref()), &mut s);
            let bits =
                |l: &copernic_classify::defaults::Label| (l.label.clone(), l.score.to_bits());
            writeln!(
                out,
                "{:?} {:?} {:?} {:x} {:?} {}",
                bits(&r.sentiment),
                bits(&r.intent),
                r.lang,
                r.urgency.to_bits(),
                r.urgency_reasons,
                r.pii.len()
            )
            .expect("stdout");
        }
        return;
    }
    // `rounds N`: exactly N passes over the file, for `perf stat` to count cycles of the same
    // work in two builds (a shared machine's wall clock is noisy, cycles spent much less).
    let rounds: Option<u64> =
        (mode == "rounds").then(|| args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10));
    if mode == "features" {
        // The features alone (no model, no memory-bound sums): the tokenizer and the hashing.
        let mut f = Vec::new();
        let started = Instant::now();
        for _ in 0..args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10) {
            for (text, _) in &rows {
                copernic_classify::features::extract(text, &c.intent.features, &mut f);
                std::hint::black_box(&f);
            }
        }
        println!("features: {:.0} ms", started.elapsed().as_secs_f64() * 1e3);
        return;
    }
    if mode == "logits" {
        // The sums alone: random reads in the weight tables.
        let features: Vec<Vec<u32>> = rows
            .iter()
            .map(|(text, _)| {
                let mut f = Vec::new();
                copernic_classify::features::extract(text, &c.intent.features, &mut f);
                f
            })
            .collect();
        let mut p = Vec::new();
        let started = Instant::now();
        for _ in 0..args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10) {
            for f in &features {
                c.intent.logits_into(f, &mut p);
                c.sentiment_fr.logits_into(f, &mut p);
                std::hint::black_box(&p);
            }
        }
        println!("logits: {:.0} ms", started.elapsed().as_secs_f64() * 1e3);
        return;
    }
    let seconds: f64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let mut n = 0u64;
    let mut round = 0;
    let started = Instant::now();
    while rounds.map_or(started.elapsed().as_secs_f64() < seconds, |r| round < r) {
        round += 1;
        for (text, lang) in &rows {
            std::hint::black_box(c.classify(text, ctx(lang.as_deref()), &mut s));
            n += 1;
        }
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    println!("{n} messages, {rate:.0} msgs/s");
}
