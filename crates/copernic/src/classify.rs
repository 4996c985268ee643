//! `copernic train`, `eval` and `classify`: text classifiers from CSV files.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use copernic_classify::model::{examples, Evaluation, Model, Provenance, TrainConfig};
use copernic_classify::FeatureConfig;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::cli::{ClassifyArgs, EvalArgs, TrainArgs};

/// Labelled rows of a CSV: (text, labels). Rows without text or label are reported on stderr
/// with their line and left out.
pub fn read_labelled(
    path: &Path,
    text_col: &str,
    label_col: &str,
) -> Result<Vec<(String, Vec<String>)>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let headers = reader
        .headers()
        .with_context(|| format!("{}: no header row", path.display()))?
        .clone();
    let column = |name: &str| {
        headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name)).with_context(|| {
            format!(
                "{}: no column {name:?}; the columns are {}; name them with --text-col / --label-col",
                path.display(),
                headers.iter().map(|h| format!("{h:?}")).collect::<Vec<_>>().join(", ")
            )
        })
    };
    let (t, l) = (column(text_col)?, column(label_col)?);
    let mut rows = Vec::new();
    let mut skipped = 0;
    for (i, record) in reader.records().enumerate() {
        let line = record
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map_or(i + 2, |p| p.line() as usize);
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{}: line {line}: {e}; left out", path.display());
                skipped += 1;
                continue;
            }
        };
        let text = record.get(t).unwrap_or("").trim();
        let labels: Vec<String> = record
            .get(l)
            .unwrap_or("")
            .split([';', '|'])
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect();
        if text.is_empty() || labels.is_empty() {
            eprintln!(
                "{}: line {line}: no {}; left out",
                path.display(),
                if text.is_empty() { "text" } else { "label" }
            );
            skipped += 1;
            continue;
        }
        rows.push((text.to_string(), labels));
    }
    if skipped > 0 {
        eprintln!("{}: {skipped} rows left out (listed above)", path.display());
    }
    if rows.is_empty() {
        bail!("{}: no labelled row", path.display());
    }
    Ok(rows)
}

/// A labelled text: (text, labels).
type Row = (String, Vec<String>);

/// Deterministic stratified split: of each label's rows (shuffled with `seed`), 10 % to
/// validation, 10 % to test, the rest to training.
fn split(rows: Vec<Row>, seed: u64) -> (Vec<Row>, Vec<Row>, Vec<Row>) {
    let mut by_label: BTreeMap<String, Vec<(String, Vec<String>)>> = BTreeMap::new();
    for r in rows {
        by_label.entry(r.1[0].clone()).or_default().push(r);
    }
    let mut rng = copernic_classify::model::SplitMix64(seed);
    let (mut train, mut valid, mut test) = (Vec::new(), Vec::new(), Vec::new());
    for (_, mut group) in by_label {
        rng.shuffle(&mut group);
        let n = group.len();
        let held = if n >= 10 { n / 10 } else { usize::from(n >= 3) };
        for (i, r) in group.into_iter().enumerate() {
            if i < held {
                valid.push(r);
            } else if i < 2 * held {
                test.push(r);
            } else {
                train.push(r);
            }
        }
    }
    (train, valid, test)
}

fn label_set(rows: &[(String, Vec<String>)]) -> Vec<String> {
    let mut set: Vec<String> = rows.iter().flat_map(|r| r.1.iter().cloned()).collect();
    set.sort();
    set.dedup();
    set
}

fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

pub fn train(args: TrainArgs) -> Result<ExitCode> {
    let rows = read_labelled(&args.data, &args.text_col, &args.label_col)?;
    let multilabel = rows.iter().any(|r| r.1.len() > 1);
    let (train_rows, mut valid_rows, mut test_rows) = split(rows, args.seed);
    let mut train_rows = train_rows;
    if let Some(v) = &args.valid {
        // A given validation file: the held-out validation part goes back to training.
        train_rows.append(&mut valid_rows);
        valid_rows = read_labelled(v, &args.text_col, &args.label_col)?;
    }
    if let Some(t) = &args.test {
        train_rows.append(&mut test_rows);
        test_rows = read_labelled(t, &args.text_col, &args.label_col)?;
    }
    let labels = label_set(&train_rows);
    let cfg = TrainConfig {
        features: FeatureConfig {
            bits: args.bits.clamp(10, 24),
            word_ngrams: args.word_ngrams.clamp(1, 2),
            char_min: 3,
            char_max: if args.char_max < 3 {
                0
            } else {
                args.char_max.min(6)
            },
        },
        epochs: args.epochs.max(1),
        learning_rate: args.lr,
        seed: args.seed,
        ..TrainConfig::default()
    };
    let started = Instant::now();
    let train_ex = examples(&train_rows, &labels, &cfg.features);
    let valid_ex = examples(&valid_rows, &labels, &cfg.features);
    let bar = indicatif::ProgressBar::new(cfg.epochs as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("training {bar:30} epoch {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    if args.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut model = Model::train(
        labels.clone(),
        multilabel,
        train_ex,
        &valid_ex,
        &cfg,
        &mut |epoch, score| {
            bar.set_position(epoch as u64);
            bar.set_message(format!("validation {:.4}", score));
        },
    )?;
    bar.finish_and_clear();
    let train_seconds = started.elapsed().as_secs_f64();
    model.provenance = Provenance {
        data: args.data.display().to_string(),
        data_sha256: sha256_file(&args.data)?,
        licence: args.licence.clone(),
        train_rows: train_rows.len(),
        valid_rows: valid_rows.len(),
        seed: args.seed,
        epochs: model.provenance.epochs,
        trained_at: chrono::Utc::now().to_rfc3339(),
    };
    std::fs::write(&args.out, model.to_bytes())
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    let eval = model.evaluate(&test_rows);
    let valid_eval = model.evaluate(&valid_rows);
    if args.json {
        println!(
            "{}",
            json!({
                "model": args.out.display().to_string(),
                "labels": labels.len(),
                "multilabel": multilabel,
                "train_rows": train_rows.len(),
                "valid_rows": valid_rows.len(),
                "test_rows": test_rows.len(),
                "epochs": model.provenance.epochs,
                "train_seconds": train_seconds,
                "temperature": model.temperature,
                "threshold": model.threshold,
                "valid_accuracy": valid_eval.accuracy,
                "valid_macro_f1": valid_eval.macro_f1,
                "evaluation": eval,
                "accuracy": eval.accuracy,
                "macro_f1": eval.macro_f1,
            })
        );
    } else {
        println!(
            "trained {} on {} rows ({} labels{}), best epoch {}, {:.1} s; written to {}",
            args.data.display(),
            train_rows.len(),
            labels.len(),
            if multilabel { ", multi-label" } else { "" },
            model.provenance.epochs,
            train_seconds,
            args.out.display()
        );
        println!("held-out test split ({} rows):", test_rows.len());
        print_eval(&eval);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_eval(e: &Evaluation) {
    println!(
        "  accuracy {:.4}  macro-F1 {:.4}  answered {:.1} % (accuracy when answered {:.4})",
        e.accuracy,
        e.macro_f1,
        e.coverage * 100.0,
        e.answered_accuracy
    );
    println!(
        "  {:<28} {:>9} {:>9} {:>9} {:>8}",
        "label", "precision", "recall", "F1", "support"
    );
    for c in &e.per_class {
        println!(
            "  {:<28} {:>9.3} {:>9.3} {:>9.3} {:>8}",
            c.label, c.precision, c.recall, c.f1, c.support
        );
    }
    if e.labels.len() <= 12 {
        println!("  confusion (rows: true, columns: predicted):");
        for (label, row) in e.labels.iter().zip(&e.confusion) {
            let cells: Vec<String> = row.iter().map(|n| format!("{n:>6}")).collect();
            println!("  {:<20} {}", label, cells.join(""));
        }
    }
}

pub fn eval(args: EvalArgs) -> Result<ExitCode> {
    let bytes = std::fs::read(&args.model)
        .with_context(|| format!("cannot read {}", args.model.display()))?;
    let model = Model::from_bytes(&bytes)
        .with_context(|| format!("{} is not a usable model", args.model.display()))?;
    let rows = read_labelled(&args.data, &args.text_col, &args.label_col)?;
    let e = model.evaluate(&rows);
    if args.json {
        let mut v = serde_json::to_value(&e)?;
        v["model"] = json!(args.model.display().to_string());
        println!("{v}");
    } else {
        println!(
            "{} on {} ({} rows):",
            args.model.display(),
            args.data.display(),
            e.rows
        );
        print_eval(&e);
    }
    Ok(ExitCode::SUCCESS)
}

fn prediction_json(model: &Model, text: &str) -> serde_json::Value {
    let p = model.predict(text);
    let scores: serde_json::Map<String, serde_json::Value> = p
        .scores
        .iter()
        .map(|(l, s)| (l.clone(), json!(s)))
        .collect();
    if model.multilabel {
        json!({"labels": p.labels, "scores": scores})
    } else {
        json!({
            "label": if p.uncertain { "uncertain".to_string() } else { p.labels[0].clone() },
            "uncertain": p.uncertain,
            "scores": scores,
        })
    }
}

pub fn classify(args: ClassifyArgs) -> Result<ExitCode> {
    let model = match &args.model {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            Some(
                Model::from_bytes(&bytes)
                    .with_context(|| format!("{} is not a usable model", path.display()))?,
            )
        }
        None => None,
    };
    // Without --model: the full classify step with the shipped models.
    let shipped = match model {
        Some(_) => None,
        None => Some(copernic_classify::defaults::Classifier::shipped()?),
    };
    let mut scratch = copernic_classify::defaults::Scratch::default();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut one = |text: &str| -> Result<()> {
        let v = match (&model, &shipped) {
            (Some(m), _) => prediction_json(m, text),
            (None, Some(c)) => serde_json::to_value(c.classify(
                text,
                copernic_classify::defaults::Context {
                    all_scores: true,
                    ..Default::default()
                },
                &mut scratch,
            ))?,
            (None, None) => bail!("no model"),
        };
        writeln!(out, "{v}")?;
        Ok(())
    };
    match &args.text {
        Some(t) => one(t)?,
        None => {
            for line in std::io::stdin().lock().lines() {
                let line = line.context("reading stdin")?;
                one(&line)?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `copernic bench classify`: messages per second per model, one thread, every text of `data`
/// predicted (features and scores) again and again for `seconds`.
pub fn bench(
    models: &[std::path::PathBuf],
    data: &Path,
    text_col: &str,
    seconds: f64,
) -> Result<ExitCode> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(data)
        .with_context(|| format!("cannot open {}", data.display()))?;
    let headers = reader.headers()?.clone();
    let t = headers
        .iter()
        .position(|h| h.eq_ignore_ascii_case(text_col))
        .with_context(|| format!("{}: no column {text_col:?}", data.display()))?;
    let texts: Vec<String> = reader
        .records()
        .filter_map(|r| r.ok().and_then(|r| r.get(t).map(str::to_string)))
        .collect();
    anyhow::ensure!(!texts.is_empty(), "{}: no text", data.display());
    let mut results = Vec::new();
    if models.is_empty() {
        let c = copernic_classify::defaults::Classifier::shipped()?;
        let mut scratch = copernic_classify::defaults::Scratch::default();
        let mut n = 0u64;
        let started = Instant::now();
        while started.elapsed().as_secs_f64() < seconds {
            for text in &texts {
                let r = c.classify(
                    text,
                    copernic_classify::defaults::Context::default(),
                    &mut scratch,
                );
                std::hint::black_box(&r);
                n += 1;
            }
        }
        let rate = n as f64 / started.elapsed().as_secs_f64();
        results.push(json!({"model": "full classify step (shipped: language, intent, sentiment, personal data, urgency)", "messages": n, "msgs_per_s": rate}));
    }
    for path in models {
        let model = Model::from_bytes(&std::fs::read(path)?)
            .with_context(|| format!("{} is not a usable model", path.display()))?;
        let mut f = Vec::new();
        let mut p = Vec::new();
        let mut n = 0u64;
        let started = Instant::now();
        while started.elapsed().as_secs_f64() < seconds {
            for text in &texts {
                copernic_classify::features::extract(text, &model.features, &mut f);
                model.logits_into(&f, &mut p);
                model.probabilities(&mut p);
                std::hint::black_box(&p);
                n += 1;
            }
        }
        let rate = n as f64 / started.elapsed().as_secs_f64();
        results
            .push(json!({"model": path.display().to_string(), "messages": n, "msgs_per_s": rate}));
    }
    println!(
        "{}",
        json!({"data": data.display().to_string(), "texts": texts.len(), "threads": 1, "results": results})
    );
    Ok(ExitCode::SUCCESS)
}
