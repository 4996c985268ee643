//! `copernic query …` and `copernic match`: standing queries and offline matching.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result};
use chrono::Utc;
use copernic_core::DEFAULT_WORKSPACE;
use copernic_listen::{parse, Percolator, Scratch};
use copernic_pipeline::backtest::{backtest, parse_since};
use copernic_pipeline::sources::jsonl;
use copernic_pipeline::transforms::listen::input_of;
use copernic_pipeline::{Context, Item, Mapping};
use copernic_store::Store;
use serde_json::json;

use crate::cli::{MatchArgs, QueryCommand};
use crate::commands::{one_line, open_read_only, open_store, print_rows};

/// Exit status of `query check` on a query that does not parse.
const BAD_QUERY: u8 = 2;

pub fn query(data: &Path, cmd: QueryCommand) -> Result<ExitCode> {
    match cmd {
        QueryCommand::Check { query, json } => check(&query, json),
        QueryCommand::Add {
            name,
            query,
            no_backfill,
            json,
        } => add(data, &name, &query, !no_backfill, json),
        QueryCommand::List { json } => list(data, json),
        QueryCommand::Remove { name } => remove(data, &name),
        QueryCommand::Test {
            query,
            since,
            sample,
            json,
        } => test(data, &query, since.as_deref(), sample, json),
        QueryCommand::Counts { name, since, json } => counts(data, &name, since.as_deref(), json),
    }
}

/// The query with a caret under the column an error points at.
fn show_error(query: &str, e: &copernic_listen::ParseError) -> String {
    let flat: String = query
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!(
        "{e}\n  {flat}\n  {}^",
        " ".repeat(e.column.saturating_sub(1))
    )
}

fn check(query: &str, json: bool) -> Result<ExitCode> {
    match parse(query) {
        Ok(e) => {
            if json {
                println!("{}", json!({"ok": true, "normalised": e.to_string()}));
            } else {
                println!("{e}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if json {
                println!(
                    "{}",
                    json!({"ok": false, "column": e.column, "error": e.message})
                );
            } else {
                eprintln!("{}", show_error(query, &e));
            }
            Ok(ExitCode::from(BAD_QUERY))
        }
    }
}

fn parse_or_explain(query: &str) -> Result<copernic_listen::Expr> {
    parse(query).map_err(|e| {
        anyhow::anyhow!(
            "{}\n(the language is described in docs/query-language.md; `copernic query check` tries a query)",
            show_error(query, &e)
        )
    })
}

fn add(data: &Path, name: &str, query: &str, backfill: bool, json: bool) -> Result<ExitCode> {
    let expr = parse_or_explain(query)?;
    let store = open_store(data).context(
        "while copernic serve runs on this folder, add queries through its API: \
         curl -X PUT http://ADDR/api/v1/queries/NAME -d '{\"query\": \"...\"}'",
    )?;
    let mut stored = store.put_query(DEFAULT_WORKSPACE, name, query)?;
    let backfilled = if backfill {
        let n = copernic_pipeline::backtest::backfill(&*store, DEFAULT_WORKSPACE, name, &expr)?;
        stored.matches += n;
        n
    } else {
        0
    };
    if json {
        println!(
            "{}",
            json!({"query": stored, "normalised": expr.to_string(), "backfilled": backfilled})
        );
    } else {
        println!("standing query {name}: {expr}");
        if backfill {
            println!("{backfilled} stored messages match it");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list(data: &Path, json: bool) -> Result<ExitCode> {
    let store = open_read_only(data)?;
    let queries = store.queries(None)?;
    print_rows(
        &queries,
        json,
        "no standing queries; add one with `copernic query add NAME 'QUERY'`",
        |q| {
            format!(
                "{:<20} {:>9} matches  {}",
                q.name,
                q.matches,
                one_line(&q.query, 80)
            )
        },
    )?;
    Ok(ExitCode::SUCCESS)
}

fn remove(data: &Path, name: &str) -> Result<ExitCode> {
    let store = open_store(data)?;
    if store.remove_query(DEFAULT_WORKSPACE, name)? {
        println!("removed {name}");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("no standing query named {name:?}; `copernic query list` shows them");
        Ok(ExitCode::FAILURE)
    }
}

fn test(
    data: &Path,
    query: &str,
    since: Option<&str>,
    sample: usize,
    json: bool,
) -> Result<ExitCode> {
    let expr = parse_or_explain(query)?;
    let since = since
        .map(|s| parse_since(s, Utc::now()).map_err(anyhow::Error::msg))
        .transpose()?;
    let store = open_read_only(data)?;
    let started = Instant::now();
    let r = backtest(&*store, &expr, since, sample)?;
    let elapsed = started.elapsed().as_secs_f64();
    if json {
        println!(
            "{}",
            json!({
                "normalised": expr.to_string(),
                "count": r.count,
                "examined": r.examined,
                "used_index": r.used_index,
                "seconds": elapsed,
                "sample": r.sample,
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} messages match {expr}  ({} examined{}, {:.0} ms)",
        r.count,
        r.examined,
        if r.used_index {
            " from the search index"
        } else {
            ", all scanned"
        },
        elapsed * 1000.0
    );
    for m in &r.sample {
        let msg = &m.ingested.message;
        println!(
            "  {}  {}  {}",
            msg.created_at.format("%Y-%m-%d %H:%M"),
            msg.channel,
            one_line(&msg.text, 100)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn counts(data: &Path, name: &str, since: Option<&str>, json: bool) -> Result<ExitCode> {
    let since = since
        .map(|s| parse_since(s, Utc::now()).map_err(anyhow::Error::msg))
        .transpose()?;
    let store = open_read_only(data)?;
    if !store.queries(None)?.iter().any(|q| q.name == name) {
        anyhow::bail!("no standing query named {name:?}; `copernic query list` shows them");
    }
    let days = store.query_counts(DEFAULT_WORKSPACE, name, since)?;
    if json {
        println!("{}", json!({"name": name, "days": days}));
        return Ok(ExitCode::SUCCESS);
    }
    let max = days.iter().map(|d| d.count).max().unwrap_or(0).max(1);
    for d in &days {
        // A 40-column bar: enough to compare days at a glance in any terminal.
        let width = ((d.count as f64 / max as f64) * 40.0).ceil() as usize;
        println!("{}  {:>7}  {}", d.day, d.count, "█".repeat(width));
    }
    if days.is_empty() {
        eprintln!("{name} has matched nothing yet");
    }
    Ok(ExitCode::SUCCESS)
}

/// The `id` a message had in its input line (any JSON value), else its external id.
fn input_id(m: &copernic_core::Message) -> serde_json::Value {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: Option<serde_json::Value>,
    }
    serde_json::from_slice::<IdOnly>(&m.raw)
        .ok()
        .and_then(|i| i.id)
        .unwrap_or_else(|| serde_json::Value::String(m.external_id.clone()))
}

pub fn match_messages(args: MatchArgs) -> Result<ExitCode> {
    let mut mapping = Mapping::default();
    for spec in &args.map {
        mapping.extend(spec)?;
    }
    let percolator = load_query_file(&args.queries)?;
    let file = std::fs::File::open(&args.messages)
        .with_context(|| format!("cannot open {}", args.messages.display()))?;
    let mut input = BufReader::with_capacity(1 << 20, file);
    let ctx = Context::new("match", &args.messages.display().to_string());
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut scratch = Scratch::default();
    let mut found = Vec::new();
    let mut refused = 0u64;
    let mut write_err: Option<std::io::Error> = None;
    jsonl::read(&mut input, &mapping, &ctx, &mut |item| {
        if write_err.is_some() {
            return;
        }
        let line = match item {
            Item::Message(m) => {
                let inp = input_of(&m);
                if args.naive {
                    percolator.matches_naive(&inp, &mut scratch, &mut found);
                } else {
                    percolator.matches_into(&inp, &mut scratch, &mut found);
                }
                if args.json {
                    json!({"id": input_id(&m), "matches": found}).to_string()
                } else {
                    format!("{}: {}", m.external_id, found.join(" "))
                }
            }
            Item::Reject(r) => {
                // One line per input line, so outputs stay aligned with the input.
                refused += 1;
                eprintln!("{}: {}", r.position, r.reason);
                if args.json {
                    json!({"id": null, "matches": [], "error": format!("{}: {}", r.position, r.reason)})
                        .to_string()
                } else {
                    format!("(refused) {}: {}", r.position, r.reason)
                }
            }
        };
        if let Err(e) = writeln!(out, "{line}") {
            write_err = Some(e);
        }
    })?;
    if let Some(e) = write_err {
        // A closed pipe (`| head`) is not an error worth a message.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
        return Ok(ExitCode::SUCCESS);
    }
    out.flush()?;
    if refused > 0 {
        eprintln!(
            "{refused} message lines refused (listed above, each answered with an error object)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads `ID<TAB>QUERY` lines. A line that is wrong is reported with its number and column and
/// left out; the others still run.
fn load_query_file(path: &Path) -> Result<Percolator> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut p = Percolator::new();
    let mut bad = 0u64;
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let n = i + 1;
        let line = line.with_context(|| format!("{}: line {n}", path.display()))?;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if line.trim().is_empty() {
            continue;
        }
        let Some((id, query)) = line.split_once('\t') else {
            eprintln!(
                "{}: line {n}: expected ID<TAB>QUERY; the line is left out",
                path.display()
            );
            bad += 1;
            continue;
        };
        if p.contains(id) {
            eprintln!(
                "{}: line {n}: query id {id:?} is used twice; the later one is left out",
                path.display()
            );
            bad += 1;
            continue;
        }
        match parse(query) {
            Ok(e) => p.add(id, &e),
            Err(e) => {
                eprintln!(
                    "{}: line {n} (query {id}): {e}; the query is left out",
                    path.display()
                );
                bad += 1;
            }
        }
    }
    if bad > 0 {
        eprintln!("{bad} query lines left out; {} queries loaded", p.len());
    }
    Ok(p)
}
