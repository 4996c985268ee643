//! File import: a reader thread parses, a second thread classifies, fingerprints and matches
//! standing queries, the calling thread writes. Memory is bounded by the channels (a few batches
//! in flight between each pair), whatever the file size.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Arc;

use chrono::Utc;
use flate2::bufread::MultiGzDecoder;
use serde::{Deserialize, Serialize};

use crate::sinks::{Ingestor, ItemOutcome, Prepared, Spent, Summary};
use crate::sources::wide::{Wide, WideReader};
use crate::sources::{self, Context, Format, Item, Limits, Mapping, SourceError};

/// How to import files.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    pub format: Format,
    pub mapping: Mapping,
    /// The source name; by default derived from the format and file name.
    pub source: Option<String>,
    pub workspace: Option<String>,
    pub limits: Limits,
}

/// What importing one file did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileReport {
    pub path: String,
    pub format: Format,
    pub source: String,
    #[serde(flatten)]
    pub summary: Summary,
    /// The first refusals, as `file: line N, field F: reason`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub first_rejects: Vec<String>,
    /// Why the file could not be read at all, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Records per batch handed from the reader to the classify thread, and on to the writer.
const BATCH: usize = 4096;
/// Records per `write` call, at most: the writer takes the batches that are waiting in one call.
/// (How many records a transaction holds is the store's business: `copernic import` sets
/// `SqliteStore::set_group_commit`.)
const MAX_WRITE: usize = 32_768;
/// How many rejects a report quotes.
const QUOTED_REJECTS: usize = 5;

/// An input that counts the bytes read from it, for progress.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Imports one file. `progress` is called after every batch with the bytes read so far. A file
/// that cannot be opened or read is reported in [`FileReport::error`], not as an `Err`: the other
/// files of the same command still go through. `Err` is only a store failure.
pub fn import_file(
    path: &Path,
    opts: &ImportOptions,
    ingestor: &Ingestor,
    progress: &dyn Fn(u64, &Summary),
) -> Result<FileReport, copernic_store::StoreError> {
    let shown = path.display().to_string();
    let mut report = FileReport {
        path: shown.clone(),
        format: opts.format,
        source: opts.source.clone().unwrap_or_default(),
        summary: Summary::default(),
        first_rejects: Vec::new(),
        error: None,
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            report.error = Some(format!("cannot open {shown}: {e}"));
            return Ok(report);
        }
    };
    let count = Arc::new(AtomicU64::new(0));
    // 1 MiB buffer: fewer read calls on multi-gigabyte exports.
    let mut raw_input = BufReader::with_capacity(
        1 << 20,
        Counting {
            inner: file,
            count: count.clone(),
        },
    );
    // Gzipped files (mail-list archives, rotated exports) are read through a decoder; the
    // name without `.gz` decides the format and the default source name.
    let gzipped = matches!(raw_input.fill_buf(), Ok(head) if head.starts_with(&[0x1f, 0x8b]));
    let name = if gzipped
        && path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
    {
        path.with_extension("")
    } else {
        path.to_path_buf()
    };
    let mut input: Box<dyn BufRead + Send> = if gzipped {
        Box::new(BufReader::with_capacity(
            1 << 20,
            MultiGzDecoder::new(raw_input),
        ))
    } else {
        Box::new(raw_input)
    };
    // UTF-16 and UTF-32 files (Excel's "Unicode text" exports) are read as UTF-8, by every source.
    let wide = match input.fill_buf() {
        Ok(head) => Wide::detect(head),
        Err(e) => {
            report.error = Some(format!("cannot read {shown}: {e}"));
            return Ok(report);
        }
    };
    if let Some((wide, mark)) = wide {
        input.consume(mark);
        input = Box::new(BufReader::with_capacity(
            1 << 20,
            WideReader::new(input, wide),
        ));
    }
    let format = match opts.format {
        Format::Auto => match input.fill_buf() {
            Ok(head) => Format::detect(&name, head),
            Err(e) => {
                report.error = Some(format!("cannot read {shown}: {e}"));
                return Ok(report);
            }
        },
        f => f,
    };
    // A records path only makes sense inside one document.
    let format = if format == Format::Jsonl && opts.mapping.items.is_some() {
        Format::Json
    } else {
        format
    };
    report.format = format;
    let source = opts
        .source
        .clone()
        .unwrap_or_else(|| format.default_source(&name));
    report.source = source.clone();
    let mut ctx = Context::new(&source, &shown);
    ctx.limits = opts.limits;
    ctx.received_at = Utc::now();
    if let Some(w) = &opts.workspace {
        ctx.workspace = w.clone();
    }
    let parts = ingestor.transform_parts();
    // A few batches in flight between threads: each runs ahead of the next, bounded. Two parsed
    // batches keep the classifier busy (four added ~10 MB of peak memory and no speed); four
    // classified ones let the writer ride out the index's and the disk's pauses (two were
    // slower in 2 of 3 rounds).
    let (items_tx, items_rx) = sync_channel::<Vec<Item>>(2);
    let (tx, rx) = sync_channel::<Vec<Prepared>>(4);
    // Written batches go back to the reader to be freed there (see `Spent`).
    let (spent_tx, spent_rx) = std::sync::mpsc::channel::<Spent>();
    let mapping = opts.mapping.clone();
    let spawned = std::thread::Builder::new()
        .name("copernic-read".into())
        .spawn(move || -> Result<(), SourceError> {
            let mut batch = Vec::with_capacity(BATCH);
            let mut receiver_gone = false;
            let result = sources::read(format, &mut input, &mapping, &ctx, &mut |item: Item| {
                if receiver_gone {
                    return;
                }
                batch.push(item);
                if batch.len() >= BATCH {
                    spent_rx.try_iter().for_each(drop);
                    receiver_gone = items_tx
                        .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                        .is_err();
                }
            });
            if !batch.is_empty() && !receiver_gone {
                let _ = items_tx.send(batch);
            }
            result
        });
    let reader = match spawned {
        Ok(r) => r,
        Err(e) => {
            report.error = Some(format!("cannot start a reader thread: {e}"));
            return Ok(report);
        }
    };
    // Classification is most of the per-message work: on its own thread, parsing, classifying,
    // writing and indexing share the cores instead of the reader holding the others back.
    let spawned = std::thread::Builder::new()
        .name("copernic-classify".into())
        .spawn(move || {
            for items in items_rx {
                // The classifier is read-locked per record, not for the whole file: a correction
                // made through the API meanwhile is not kept waiting.
                let prepared = items
                    .into_iter()
                    .map(|item| parts.with(|t| Prepared::new(item, t)))
                    .collect();
                if tx.send(prepared).is_err() {
                    break;
                }
            }
        });
    let preparer = match spawned {
        Ok(p) => p,
        Err(e) => {
            // The reader stops at its next batch: nobody takes it.
            let _ = reader.join();
            report.error = Some(format!("cannot start a classifier thread: {e}"));
            return Ok(report);
        }
    };
    let mut store_error = None;
    while let Ok(batch) = rx.recv() {
        let mut items = batch.len();
        let mut batches = vec![batch];
        while items < MAX_WRITE {
            match rx.try_recv() {
                Ok(more) => {
                    items += more.len();
                    batches.push(more);
                }
                Err(_) => break,
            }
        }
        match ingestor.write_keeping(batches) {
            Ok((outcomes, spent)) => {
                // Once the reader has finished, what it would have freed is freed here.
                let _ = spent_tx.send(spent);
                for o in &outcomes {
                    report.summary.add(o);
                    if let ItemOutcome::Rejected {
                        reason,
                        field,
                        position,
                    } = o
                    {
                        if report.first_rejects.len() < QUOTED_REJECTS {
                            let field = field
                                .as_deref()
                                .map(|f| format!(", field {f}"))
                                .unwrap_or_default();
                            report
                                .first_rejects
                                .push(format!("{position}{field}: {reason}"));
                        }
                    }
                }
                progress(count.load(Ordering::Relaxed), &report.summary);
            }
            Err(e) => {
                store_error = Some(e);
                break;
            }
        }
    }
    // Dropping the receiver (by leaving the loop) stops the classify thread at its next batch,
    // and with it the reader at its own.
    drop(rx);
    let prepared = preparer.join();
    let read_result = reader.join();
    if let Some(e) = store_error {
        return Err(e);
    }
    // The import is done when what it stored is searchable too.
    ingestor.store().flush()?;
    match read_result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => report.error = Some(copernic_core::error_chain(&e)),
        Err(_) => report.error = Some(format!("{shown}: the reader failed unexpectedly")),
    }
    if prepared.is_err() && report.error.is_none() {
        report.error = Some(format!("{shown}: classification failed unexpectedly"));
    }
    progress(count.load(Ordering::Relaxed), &report.summary);
    Ok(report)
}
