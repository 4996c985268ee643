//! Back-testing a listening query on stored history: the search index narrows the messages to
//! candidates, the percolator verifies each exactly, so the count is what the query would have
//! matched, not an estimate.

use chrono::{DateTime, Utc};
use copernic_listen::{Expr, Percolator, Scratch};
use copernic_store::{MessageQuery, Store, StoreError, StoredMessage};
use serde::Serialize;

use crate::transforms::listen::{exact, input_of, plan};

/// What a query would have matched.
#[derive(Debug, Serialize)]
pub struct Backtest {
    /// Messages matched (created at or after `since`).
    pub count: u64,
    /// Messages the index proposed (or scanned, when the query cannot use the index).
    pub examined: u64,
    /// Whether the search index narrowed the candidates.
    pub used_index: bool,
    /// The newest matches, at most the sample size asked for.
    pub sample: Vec<StoredMessage>,
    /// Every match's number, when asked for (to back-fill a standing query).
    #[serde(skip)]
    pub matched: Vec<i64>,
}

/// Rows read per store call.
const CHUNK: usize = 2_048;

/// Counts the stored messages `expr` matches, newest first, keeping `sample` of them.
pub fn backtest(
    store: &dyn Store,
    expr: &Expr,
    since: Option<DateTime<Utc>>,
    sample: usize,
) -> Result<Backtest, StoreError> {
    run(store, expr, since, sample, false)
}

/// [`backtest`], keeping the number of every match in [`Backtest::matched`].
pub fn backtest_all(
    store: &dyn Store,
    expr: &Expr,
    since: Option<DateTime<Utc>>,
) -> Result<Backtest, StoreError> {
    run(store, expr, since, 0, true)
}

fn run(
    store: &dyn Store,
    expr: &Expr,
    since: Option<DateTime<Utc>>,
    sample: usize,
    keep: bool,
) -> Result<Backtest, StoreError> {
    let mut percolator = Percolator::new();
    percolator.add("q", expr);
    let mut scratch = Scratch::default();
    let mut found = Vec::new();
    let mut out = Backtest {
        count: 0,
        examined: 0,
        used_index: false,
        sample: Vec::new(),
        matched: Vec::new(),
    };
    let mut verify = |messages: Vec<StoredMessage>, out: &mut Backtest| {
        for m in messages {
            out.examined += 1;
            if since.is_some_and(|s| m.ingested.message.created_at < s) {
                continue;
            }
            percolator.matches_into(&input_of(&m.ingested.message), &mut scratch, &mut found);
            if !found.is_empty() {
                out.count += 1;
                if keep {
                    out.matched.push(m.seq);
                }
                if out.sample.len() < sample {
                    out.sample.push(m);
                }
            }
        }
    };
    match store.candidates(&plan(expr))? {
        Some(seqs) if since.is_none() && exact(expr) => {
            // The index's answer is the answer: count it, fetch only the sample.
            out.used_index = true;
            out.count = seqs.len() as u64;
            out.examined = seqs.len() as u64;
            let newest: Vec<i64> = seqs.iter().rev().take(sample).copied().collect();
            out.sample = store.messages_by_seq(&newest)?;
            if keep {
                out.matched = seqs;
            }
        }
        Some(seqs) => {
            out.used_index = true;
            // Verification (reading each candidate and tokenizing it) is the cost: spread the
            // chunks, newest first, over the cores.
            let chunks: Vec<&[i64]> = seqs.rchunks(CHUNK).collect();
            let workers = std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .clamp(1, 4)
                .min(chunks.len().max(1));
            let percolator = &percolator;
            let chunks = &chunks;
            let parts: Vec<Result<Backtest, StoreError>> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..workers)
                    .map(|w| {
                        scope.spawn(move || {
                            let mut part = Backtest {
                                count: 0,
                                examined: 0,
                                used_index: true,
                                sample: Vec::new(),
                                matched: Vec::new(),
                            };
                            let mut scratch = Scratch::default();
                            let mut found = Vec::new();
                            for chunk in chunks.iter().skip(w).step_by(workers) {
                                let newest_first: Vec<i64> = chunk.iter().rev().copied().collect();
                                for m in store.messages_by_seq(&newest_first)? {
                                    part.examined += 1;
                                    if since.is_some_and(|s| m.ingested.message.created_at < s) {
                                        continue;
                                    }
                                    let input = input_of(&m.ingested.message);
                                    percolator.matches_into(&input, &mut scratch, &mut found);
                                    if !found.is_empty() {
                                        part.count += 1;
                                        if keep {
                                            part.matched.push(m.seq);
                                        }
                                        if part.sample.len() < sample {
                                            part.sample.push(m);
                                        }
                                    }
                                }
                            }
                            Ok(part)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            });
            for part in parts {
                let part = part?;
                out.count += part.count;
                out.examined += part.examined;
                out.sample.extend(part.sample);
                out.matched.extend(part.matched);
            }
            out.sample.sort_by_key(|m| std::cmp::Reverse(m.seq));
            out.sample.truncate(sample);
        }
        None => {
            let mut before = None;
            loop {
                let page = store.messages(&MessageQuery {
                    since,
                    before_seq: before,
                    limit: CHUNK,
                    ..MessageQuery::default()
                })?;
                let Some(last) = page.last() else { break };
                before = Some(last.seq);
                let full = page.len() == CHUNK;
                verify(page, &mut out);
                if !full {
                    break;
                }
            }
        }
    }
    Ok(out)
}

/// `30d`, `12h`, `90m`, `2w` before `now`, or a date (`2026-01-31`, RFC 3339).
pub fn parse_since(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    let bad =
        || format!("since {s:?} is neither a duration (30d, 12h, 90m, 2w) nor a date (2026-01-31)");
    if let Some(unit) = s.chars().last().filter(|c| c.is_ascii_alphabetic()) {
        if let Ok(n) = s[..s.len() - 1].parse::<i64>() {
            let d = match unit {
                'm' => chrono::Duration::try_minutes(n),
                'h' => chrono::Duration::try_hours(n),
                'd' => chrono::Duration::try_days(n),
                'w' => chrono::Duration::try_weeks(n),
                _ => None,
            };
            return d.and_then(|d| now.checked_sub_signed(d)).ok_or_else(bad);
        }
    }
    copernic_core::text::parse_datetime(s).ok_or_else(bad)
}

/// Matches the stored history against the standing query `name` (already stored) and records
/// what it matches, so that its counts start with the past instead of from zero. Returns how
/// many matches were added.
pub fn backfill(
    store: &dyn Store,
    workspace: &str,
    name: &str,
    expr: &Expr,
) -> Result<u64, StoreError> {
    let found = backtest_all(store, expr, None)?;
    let mut added = 0;
    // Bounded transactions: a broad query on a large store back-fills in steps.
    for chunk in found.matched.chunks(50_000) {
        added += store.add_query_matches(workspace, name, chunk)?;
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_durations_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .unwrap()
            .to_utc();
        let at = |s| parse_since(s, now).map(|d| d.to_rfc3339());
        assert_eq!(at("30d").unwrap(), "2026-10-25T12:00:00+00:00");
        assert_eq!(at("12h").unwrap(), "2026-11-24T00:00:00+00:00");
        assert_eq!(at("2w").unwrap(), "2026-11-10T12:00:00+00:00");
        assert_eq!(at("2026-01-31").unwrap(), "2026-01-31T00:00:00+00:00");
        assert!(at("soon").unwrap_err().contains("neither a duration"));
        assert!(at("3y").is_err());
    }
}
