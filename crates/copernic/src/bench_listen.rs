//! `copernic bench listen`: the percolator against the naive engine (every query verified on
//! every message, same analysis and verification code), on one thread, with standing queries
//! built from the vocabulary of a real corpus.

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result};
use copernic_core::text::{analyze, TokenKind};
use copernic_core::Message;
use copernic_listen::{parse, Percolator, Scratch};
use copernic_pipeline::sources::{self, Format};
use copernic_pipeline::transforms::listen::input_of;
use copernic_pipeline::{Context, Item, Mapping};
use serde_json::json;

use crate::bench::Rng;
use crate::cli::BenchListenArgs;

const CHANNELS: [&str; 5] = ["twitter", "facebook", "instagram", "email", "chat"];
/// Authors in the synthetic handles: enough that `author:` filters are selective.
const AUTHORS: u64 = 5_000;

/// Messages of the corpus, with the fields queries filter on.
fn load_corpus(paths: &[std::path::PathBuf]) -> Result<Vec<Message>> {
    let mut out = Vec::new();
    if paths.is_empty() {
        let ctx = Context::new("bench", "demo sample");
        let mut input = crate::commands::demo_sample();
        sources::read(
            Format::Jsonl,
            &mut input,
            &Mapping::default(),
            &ctx,
            &mut |i| {
                if let Item::Message(m) = i {
                    out.push(m);
                }
            },
        )?;
    }
    for path in paths {
        let name = path.display().to_string();
        let french = name.contains("allocine");
        let mut mapping = Mapping::default();
        if french {
            mapping.extend("sentiment=label")?;
        }
        let format = if name.ends_with(".csv") {
            Format::Csv
        } else {
            Format::Jsonl
        };
        let file = std::fs::File::open(path).with_context(|| format!("cannot open {name}"))?;
        let mut input = BufReader::new(file);
        let ctx = Context::new("bench", &name);
        sources::read(format, &mut input, &mapping, &ctx, &mut |i| {
            if let Item::Message(mut m) = i {
                if french {
                    m.lang = Some("fr".into());
                    m.labels.sentiment = match m.labels.sentiment.as_deref() {
                        Some("0") => Some("negative".into()),
                        Some("1") => Some("positive".into()),
                        other => other.map(str::to_string),
                    };
                } else if m.lang.is_none() {
                    m.lang = Some("en".into());
                }
                out.push(m);
            }
        })?;
    }
    // Channels and authors the corpora lack, spread deterministically.
    let mut rng = Rng(0x11_57e2);
    for m in &mut out {
        m.channel = CHANNELS[rng.below(CHANNELS.len() as u64) as usize].to_string();
        m.author.handle = Some(format!("user{}", rng.below(AUTHORS)));
    }
    anyhow::ensure!(!out.is_empty(), "the corpus is empty");
    Ok(out)
}

/// The corpus's vocabulary, as a listening team would mine it: words and adjacent pairs that
/// are frequent enough to matter and rare enough to mean something.
struct Vocabulary {
    words: Vec<String>,
    pairs: Vec<(String, String)>,
}

fn vocabulary(corpus: &[Message]) -> Vocabulary {
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut pairs: HashMap<(String, String), u64> = HashMap::new();
    for m in corpus {
        let toks: Vec<String> = analyze(&m.text)
            .filter(|t| t.kind == TokenKind::Word)
            .map(|t| t.text.into_owned())
            .collect();
        for t in &toks {
            *counts.entry(t.clone()).or_default() += 1;
        }
        for w in toks.windows(2) {
            *pairs.entry((w[0].clone(), w[1].clone())).or_default() += 1;
        }
    }
    let mut ranked: Vec<(String, u64)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    // The 150 most frequent words are function words ("the", "de", "my"): no team listens for
    // them alone.
    let stop: std::collections::HashSet<String> =
        ranked.iter().take(150).map(|(w, _)| w.clone()).collect();
    let words: Vec<String> = ranked
        .iter()
        .skip(150)
        .filter(|(w, n)| *n >= 3 && w.chars().count() >= 3)
        .map(|(w, _)| w.clone())
        .collect();
    let mut pairs: Vec<((String, String), u64)> = pairs
        .into_iter()
        .filter(|((a, b), n)| *n >= 3 && !(stop.contains(a) && stop.contains(b)))
        .collect();
    pairs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Vocabulary {
        words,
        pairs: pairs.into_iter().map(|(p, _)| p).collect(),
    }
}

/// Realistic standing queries: terms and alternatives, phrases, NEAR, exclusions, prefixes and
/// field filters, in the proportions of a listening setup.
fn generate(v: &Vocabulary, n: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(n);
    let word = |rng: &mut Rng| v.words[rng.below(v.words.len() as u64) as usize].clone();
    let pair = |rng: &mut Rng| {
        let (a, b) = &v.pairs[rng.below(v.pairs.len() as u64) as usize];
        format!("\"{a} {b}\"")
    };
    while out.len() < n {
        let q = match rng.below(100) {
            0..15 => word(&mut rng),
            15..30 => format!(
                "{} OR {} OR {}",
                word(&mut rng),
                word(&mut rng),
                pair(&mut rng)
            ),
            30..45 => format!("{} {}", pair(&mut rng), word(&mut rng)),
            45..55 => {
                let (a, b) = &v.pairs[rng.below(v.pairs.len() as u64) as usize];
                format!(
                    "{a} NEAR/{} {}",
                    2 + rng.below(4),
                    if rng.below(2) == 0 {
                        b.clone()
                    } else {
                        word(&mut rng)
                    }
                )
            }
            55..70 => format!(
                "({} OR {}) -{}",
                word(&mut rng),
                word(&mut rng),
                word(&mut rng)
            ),
            70..80 => {
                let w = word(&mut rng);
                let cut: String = w.chars().take(4 + rng.below(3) as usize).collect();
                if cut.chars().count() < 4 || cut == w {
                    continue;
                }
                format!("{cut}* {}", word(&mut rng))
            }
            80..95 => {
                let filter = match rng.below(4) {
                    0 => format!("lang:{}", if rng.below(2) == 0 { "fr" } else { "en" }),
                    1 => format!("channel:{}", CHANNELS[rng.below(5) as usize]),
                    2 => format!(
                        "sentiment:{}",
                        if rng.below(2) == 0 {
                            "negative"
                        } else {
                            "positive"
                        }
                    ),
                    _ => format!("author:user{}", rng.below(AUTHORS)),
                };
                format!("({} OR {}) {filter}", word(&mut rng), pair(&mut rng))
            }
            _ => format!("{} {} {}", word(&mut rng), word(&mut rng), word(&mut rng)),
        };
        out.push(q);
    }
    out
}

/// Resident memory of this process, from /proc (Linux); 0 elsewhere.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

pub fn run(args: BenchListenArgs) -> Result<ExitCode> {
    let corpus = load_corpus(&args.corpus)?;
    let vocab = vocabulary(&corpus);
    eprintln!(
        "corpus: {} messages, {} words and {} pairs in the query vocabulary",
        corpus.len(),
        vocab.words.len(),
        vocab.pairs.len()
    );
    let mut rounds = Vec::new();
    for &n in &args.queries {
        let texts = generate(&vocab, n, 0xbe7c_0000 + n as u64);
        let exprs: Vec<_> = texts
            .iter()
            .map(|q| parse(q).with_context(|| format!("generated query {q:?}")))
            .collect::<Result<_>>()?;
        if let Some(path) = &args.write_queries {
            let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
            for (i, q) in texts.iter().enumerate() {
                writeln!(f, "q{i}\t{q}")?;
            }
        }
        let rss_before = rss_bytes();
        let started = Instant::now();
        let mut p = Percolator::new();
        for (i, e) in exprs.iter().enumerate() {
            p.add(&format!("q{i}"), e);
        }
        let build_s = started.elapsed().as_secs_f64();
        let memory_per_query = rss_bytes().saturating_sub(rss_before) as f64 / n as f64;

        // Time to add one more query (parse + compile + file), and to remove it, into a full set.
        let extra = generate(&vocab, 1_000, 0xadd);
        let started = Instant::now();
        for (i, q) in extra.iter().enumerate() {
            let e = parse(q)?;
            p.add(&format!("extra{i}"), &e);
        }
        let add_us = started.elapsed().as_secs_f64() * 1e6 / extra.len() as f64;
        let started = Instant::now();
        for i in 0..extra.len() {
            p.remove(&format!("extra{i}"));
        }
        let remove_us = started.elapsed().as_secs_f64() * 1e6 / extra.len() as f64;

        let mut scratch = Scratch::default();
        let mut found = Vec::new();
        let progress = indicatif::ProgressBar::new(args.messages as u64);
        let started = Instant::now();
        let mut matches = 0u64;
        let mut candidates = 0u64;
        for i in 0..args.messages {
            let m = &corpus[i % corpus.len()];
            p.matches_into(&input_of(m), &mut scratch, &mut found);
            matches += found.len() as u64;
            candidates += scratch.candidates() as u64;
            if i % 10_000 == 0 {
                progress.set_position(i as u64);
            }
        }
        progress.finish_and_clear();
        let perc_s = started.elapsed().as_secs_f64();
        let perc_rate = args.messages as f64 / perc_s;

        // The naive engine on the first messages, as many as fit in its time box; the two must
        // agree on every one of them.
        let mut found_naive = Vec::new();
        let started = Instant::now();
        let mut naive_done = 0usize;
        let mut disagreements = 0u64;
        while naive_done < args.messages && started.elapsed().as_secs_f64() < args.naive_seconds {
            let m = &corpus[naive_done % corpus.len()];
            p.matches_naive(&input_of(m), &mut scratch, &mut found_naive);
            p.matches_into(&input_of(m), &mut scratch, &mut found);
            disagreements += u64::from(found != found_naive);
            naive_done += 1;
        }
        // Time the naive engine alone on the same messages, for its rate.
        let started = Instant::now();
        for m in corpus.iter().cycle().take(naive_done) {
            p.matches_naive(&input_of(m), &mut scratch, &mut found_naive);
        }
        let naive_s = started.elapsed().as_secs_f64();
        let naive_rate = naive_done as f64 / naive_s;
        let (keys, filings) = p.sizes();
        let round = json!({
            "queries": n,
            "build_seconds": build_s,
            "add_query_us": add_us,
            "remove_query_us": remove_us,
            "memory_bytes_per_query": memory_per_query,
            "vocabulary_keys": keys,
            "presearch_filings": filings,
            "messages": args.messages,
            "matches_per_message": matches as f64 / args.messages as f64,
            "candidates_per_message": candidates as f64 / args.messages as f64,
            "percolator_msgs_per_s": perc_rate,
            "naive_messages": naive_done,
            "naive_msgs_per_s": naive_rate,
            "speedup": perc_rate / naive_rate,
            "disagreements": disagreements,
        });
        if !args.json {
            println!(
                "{n:>7} queries: percolator {perc_rate:>9.0} msg/s, naive {naive_rate:>7.0} msg/s ({naive_done} msgs), \
                 {:.0}x; {:.2} matches/msg ({:.1} candidates); add {add_us:.1} µs, remove {remove_us:.1} µs; {memory_per_query:.0} B/query; \
                 build {build_s:.2} s; disagreements {disagreements}",
                perc_rate / naive_rate,
                matches as f64 / args.messages as f64,
                candidates as f64 / args.messages as f64
            );
        }
        rounds.push(round);
    }
    if args.json {
        println!(
            "{}",
            json!({"corpus_messages": corpus.len(), "threads": 1, "rounds": rounds})
        );
    }
    Ok(ExitCode::SUCCESS)
}
