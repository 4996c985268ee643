//! The search index: an inverted index in plain SQLite tables, written in segments.
//!
//! Why not FTS5: indexing a million messages with FTS5 cost more than the rest of an import
//! together (BENCHMARKS.md), because each commit tokenises inside the writer and merges b-tree
//! segments. Here tokens are computed beside parsing (off the writer), each write transaction adds
//! one segment — one row per distinct term, holding the delta-encoded message numbers — and
//! segments are merged in tiers of [`MERGE_FANOUT`], like an LSM tree, so a term costs
//! O(log n) rows to read whatever the number of writes. Words are
//! [`copernic_core::text::tokens`], the same definition the phrase check and listening queries
//! use: what is indexed and what is verified agree by construction.

use std::collections::BTreeMap;

use copernic_core::hash::FxHashMap;

use copernic_core::text::{fold_token, tokens};
use rusqlite::{params, Transaction};

use crate::{Result, StoreError};

/// Segments of the same size tier merged at once.
const MERGE_FANOUT: usize = 8;

/// Posting lists gathered in memory for the next segment: each term and the ascending numbers of
/// the messages that hold it. Words go straight from a message's text into its lists on the index
/// thread: no per-message term string to build, scan and free.
#[derive(Default)]
pub struct Postings {
    /// Terms of 1 to [`ShortTerm::MAX`] bytes: nearly all of them.
    short: TermTable,
    /// Short terms on their way into `short`, their slots being fetched (see [`TermTable`]).
    ahead: std::collections::VecDeque<Ahead>,
    long: FxHashMap<Box<str>, List>,
    docs: usize,
    last: Option<i64>,
    word: String,
}

/// A short term waiting for its slot to reach the cache.
struct Ahead {
    seq: i64,
    key: ShortTerm,
    hash: u64,
}

/// How many terms ahead of its insertion a term's slot is fetched: enough to cover a miss to
/// memory at the index thread's pace.
const TERMS_AHEAD: usize = 8;

impl Postings {
    /// Messages gathered.
    pub fn docs(&self) -> usize {
        self.docs
    }

    /// The highest message number gathered.
    pub fn last(&self) -> Option<i64> {
        self.last
    }

    /// Adds message `seq` (above every number added before): the words of its text and title,
    /// then its `:name:value` field terms, one per line (see [`Postings::push_field_terms`]).
    pub fn add(&mut self, seq: i64, title: Option<&str>, text: &str, field_terms: &str) {
        self.docs += 1;
        self.last = Some(seq);
        for part in std::iter::once(text).chain(title) {
            self.put_words_of(part, seq);
        }
        self.put_lines(field_terms, seq);
    }

    /// [`Postings::add`] for a message whose text was cut already: `words` are its words as
    /// [`copernic_core::text::analyze`] gives them, one per line.
    pub fn add_cut(&mut self, seq: i64, title: Option<&str>, words: &str, field_terms: &str) {
        self.docs += 1;
        self.last = Some(seq);
        self.put_lines(words, seq);
        if let Some(title) = title {
            self.put_words_of(title, seq);
        }
        self.put_lines(field_terms, seq);
    }

    fn put_words_of(&mut self, text: &str, seq: i64) {
        let mut word = std::mem::take(&mut self.word);
        let mut words = copernic_core::text::analyze(text);
        loop {
            word.clear();
            if words.next_into(&mut word).is_none() {
                break;
            }
            self.put(&word, seq);
        }
        self.word = word;
    }

    fn put_lines(&mut self, terms: &str, seq: i64) {
        // By hand: terms are a few bytes, and `lines` searched each end with a `memchr` call
        // (a fifth of the index thread).
        let bytes = terms.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' {
                // Between two newlines of a `str`: a `str`.
                self.put(&terms[start..i], seq);
                start = i + 1;
            }
        }
        if start < bytes.len() {
            self.put(&terms[start..], seq);
        }
    }

    /// Appends the field values of a message as `:name:value` terms, one per line, for
    /// [`Postings::add`]: a listening query's field filters narrow a back-test through the index.
    pub fn push_field_terms(out: &mut String, fields: &[(&str, &str)]) {
        for (name, value) in fields {
            if copernic_core::text::push_field_term(out, name, value) {
                out.push('\n');
            }
        }
    }

    /// Adds `seq` to the list of `term`; a word repeated in one message is one posting. A short
    /// term is added a few terms later, once its slot is in the cache: each term's slot and list
    /// are somewhere in tens of megabytes, and waiting for them was half of the index thread.
    #[inline]
    fn put(&mut self, term: &str, seq: i64) {
        match ShortTerm::new(term) {
            Some(key) if !term.is_empty() => {
                let hash = key.hash();
                self.short.fetch(hash);
                if self.ahead.len() >= TERMS_AHEAD {
                    self.put_first_ahead();
                }
                self.ahead.push_back(Ahead { seq, key, hash });
            }
            _ => match self.long.get_mut(term) {
                Some(list) => list.push(seq),
                None => self.long.entry(term.into()).or_default().push(seq),
            },
        }
    }

    /// Adds the oldest term waiting, and fetches the list end of the one half-way behind it.
    #[inline]
    fn put_first_ahead(&mut self) {
        if let Some(a) = self.ahead.pop_front() {
            self.short.list(a.key, a.hash).push(a.seq);
        }
        if let Some(a) = self.ahead.get(TERMS_AHEAD / 2) {
            self.short.fetch_list(a.key, a.hash);
        }
    }

    /// The encoded lists (see [`encode`]) in term order, leaving this empty for the next segment.
    fn take_sorted(&mut self) -> Vec<(Box<str>, Vec<u8>)> {
        while !self.ahead.is_empty() {
            self.put_first_ahead();
        }
        self.docs = 0;
        self.last = None;
        let mut lists: Vec<(Box<str>, Vec<u8>)> = self
            .short
            .drain()
            .map(|(k, v)| (k.to_boxed_str(), v))
            .chain(self.long.drain().map(|(k, v)| (k, v.encoded)))
            .collect();
        lists.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        lists
    }
}

/// Short terms and their lists, by open addressing in one array of cache-line slots: unlike a
/// standard hash map, a slot can be fetched ahead of its look-up ([`Postings::put`]).
#[derive(Default)]
struct TermTable {
    /// Empty until first used; a power of two long. An empty slot's key is
    /// [`ShortTerm::NONE`].
    slots: Vec<Slot>,
    used: usize,
}

#[repr(C, align(64))]
#[derive(Default)]
struct Slot {
    key: ShortTerm,
    list: List,
}

impl TermTable {
    /// Slots of a new table (2 MiB).
    const FIRST: usize = 1 << 15;

    /// The slot where `hash`'s term is first looked for; the table must not be empty.
    #[inline]
    fn index(&self, hash: u64) -> usize {
        // The high bits: the hash is a product. (24 of them: more slots than a segment's terms
        // could ever need.)
        (hash >> 40) as usize & (self.slots.len() - 1)
    }

    #[inline]
    fn fetch(&self, hash: u64) {
        if !self.slots.is_empty() {
            copernic_core::prefetch(&self.slots[self.index(hash)]);
        }
    }

    /// Fetches the end of `key`'s list, when its slot is the first one looked at.
    #[inline]
    fn fetch_list(&self, key: ShortTerm, hash: u64) {
        if self.slots.is_empty() {
            return;
        }
        if let Some(slot) = self.slots.get(self.index(hash)) {
            if slot.key == key {
                if let Some(last) = slot.list.encoded.last() {
                    copernic_core::prefetch(last);
                }
            }
        }
    }

    /// The list of `key` (whose hash is `hash`), new and empty when the term is.
    #[inline]
    fn list(&mut self, key: ShortTerm, hash: u64) -> &mut List {
        // At most five eighths full: probes stay short.
        if (self.used + 1) * 8 > self.slots.len() * 5 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = self.index(hash);
        loop {
            let k = self.slots[i].key;
            if k == key {
                return &mut self.slots[i].list;
            }
            if k == ShortTerm::NONE {
                self.slots[i].key = key;
                self.used += 1;
                return &mut self.slots[i].list;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(Self::FIRST);
        let old = std::mem::replace(
            &mut self.slots,
            (0..size).map(|_| Slot::default()).collect(),
        );
        self.used = 0;
        for slot in old.into_iter().filter(|s| s.key != ShortTerm::NONE) {
            *self.list(slot.key, slot.key.hash()) = slot.list;
        }
    }

    /// Every term and its encoded list, leaving the table empty (its slots kept for the next).
    fn drain(&mut self) -> impl Iterator<Item = (ShortTerm, Vec<u8>)> + '_ {
        self.used = 0;
        self.slots
            .iter_mut()
            .filter(|s| s.key != ShortTerm::NONE)
            .map(|s| {
                let key = std::mem::replace(&mut s.key, ShortTerm::NONE);
                (key, std::mem::take(&mut s.list).encoded)
            })
    }
}

/// One term's posting list, encoded as it grows (as [`encode`] would): about one byte per message
/// instead of eight, so the lists being appended to stay in the processor's caches, and the
/// number last added sits beside the term for the repeat check.
#[derive(Default)]
struct List {
    last: i64,
    encoded: Vec<u8>,
}

impl List {
    /// Adds message `seq` (no lower than any added before); a word repeated in one message is one
    /// posting.
    #[inline]
    fn push(&mut self, seq: i64) {
        if self.encoded.is_empty() || seq != self.last {
            put_varint(&mut self.encoded, (seq - self.last) as u64);
            self.last = seq;
        }
    }
}

/// A term of at most [`ShortTerm::MAX`] bytes, stored inline: hashed and compared as three
/// machine words, with no pointer to follow and no call to `memcmp`. Looking terms up was most
/// of the index thread's time with boxed strings as keys.
#[derive(Clone, Copy, Default, Eq)]
struct ShortTerm {
    /// The bytes, zero-padded, then the length in the last byte.
    words: [u64; 3],
}

// By hand: three word comparisons, where the derived version compares the array as a slice (a
// `memcmp` call).
impl PartialEq for ShortTerm {
    #[inline(always)]
    fn eq(&self, other: &ShortTerm) -> bool {
        let (a, b) = (&self.words, &other.words);
        (a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) == 0
    }
}

impl ShortTerm {
    const MAX: usize = 23;
    /// No term: all zeros, which no term of at least one byte has (its length is in it).
    const NONE: ShortTerm = ShortTerm { words: [0; 3] };

    /// FxHash's steps over the three words.
    #[inline]
    fn hash(self) -> u64 {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut h = 0u64;
        for w in self.words {
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        h
    }

    #[inline]
    fn new(term: &str) -> Option<ShortTerm> {
        let b = term.as_bytes();
        if b.len() > Self::MAX {
            return None;
        }
        // Shifted into the words byte by byte: copied into a byte array and read back as words,
        // the copy (a `memcpy` call of variable length) stalled the read that followed it.
        let mut words = [0u64; 3];
        for (i, &byte) in b.iter().enumerate() {
            words[i / 8] |= u64::from(byte) << (8 * (i % 8));
        }
        words[2] |= (b.len() as u64) << 56;
        Some(ShortTerm { words })
    }

    fn to_boxed_str(self) -> Box<str> {
        let mut bytes = [0u8; 24];
        for (i, w) in self.words.iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        let len = usize::from(bytes[23]);
        // The bytes are those of a `str` cut at its end: valid UTF-8.
        String::from_utf8_lossy(&bytes[..len]).into()
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Ascending message numbers as deltas in LEB128 varints: a term's posting list costs about one
/// byte per message.
pub fn encode(seqs: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(seqs.len() + 4);
    let mut prev = 0i64;
    for &s in seqs {
        put_varint(&mut out, (s - prev) as u64);
        prev = s;
    }
    out
}

pub fn decode(blob: &[u8], out: &mut Vec<i64>) -> Result<()> {
    let mut prev = 0i64;
    let mut v = 0u64;
    let mut shift = 0;
    for &b in blob {
        if shift > 63 {
            return Err(StoreError::Corrupt(
                "search posting list has an overlong number".into(),
            ));
        }
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            prev += v as i64;
            out.push(prev);
            v = 0;
            shift = 0;
        } else {
            shift += 7;
        }
    }
    if shift != 0 {
        return Err(StoreError::Corrupt(
            "search posting list ends mid-number".into(),
        ));
    }
    Ok(())
}

/// Writes what `postings` gathered as one segment (leaving it empty). Runs inside the caller's
/// transaction: a crash keeps the messages and their index together or neither. Full tiers are
/// merged separately ([`merge_full_tiers`]), when the index thread has nothing else to do.
pub fn write_segment(tx: &Transaction<'_>, postings: &mut Postings) -> Result<()> {
    let docs = postings.docs();
    if docs == 0 {
        return Ok(());
    }
    // Inserting in key order appends to the b-tree instead of splitting pages all over it.
    let lists = postings.take_sorted();
    let segment = next_segment(tx)?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO search_postings (term, segment, docs) VALUES (?1, ?2, ?3)",
        )?;
        for (term, docs) in &lists {
            insert.execute(params![&**term, segment, docs])?;
        }
    }
    tx.execute(
        "INSERT INTO search_segments (segment, docs) VALUES (?1, ?2)",
        params![segment, docs as i64],
    )?;
    Ok(())
}

fn next_segment(tx: &Transaction<'_>) -> Result<i64> {
    Ok(tx.query_row(
        "SELECT COALESCE(MAX(segment), 0) + 1 FROM search_segments",
        [],
        |r| r.get(0),
    )?)
}

fn tier(docs: i64) -> u32 {
    let mut t = 0;
    let mut d = docs.max(1) as u64;
    while d >= MERGE_FANOUT as u64 {
        d /= MERGE_FANOUT as u64;
        t += 1;
    }
    t
}

/// Merges segments of a full tier until no tier is full; false when `stop` said to stop first
/// (the caller then rolls the transaction back: merging is never needed, only faster to read).
pub fn merge_full_tiers(tx: &Transaction<'_>, stop: &mut dyn FnMut() -> bool) -> Result<bool> {
    loop {
        let segments: Vec<(i64, i64)> = {
            let mut stmt =
                tx.prepare_cached("SELECT segment, docs FROM search_segments ORDER BY segment")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<std::result::Result<_, _>>()?
        };
        let mut by_tier: BTreeMap<u32, Vec<i64>> = BTreeMap::new();
        for (segment, docs) in &segments {
            by_tier.entry(tier(*docs)).or_default().push(*segment);
        }
        let Some(full) = by_tier.into_values().find(|s| s.len() >= MERGE_FANOUT) else {
            return Ok(true);
        };
        if !merge(tx, &full[..MERGE_FANOUT], stop)? {
            return Ok(false);
        }
    }
}

/// Terms merged between two calls of a merge's `stop`.
const TERMS_BETWEEN_STOPS: usize = 1024;

/// Replaces `segments` by one holding all their postings; false when `stop` said to stop first.
fn merge(tx: &Transaction<'_>, segments: &[i64], stop: &mut dyn FnMut() -> bool) -> Result<bool> {
    let list = segments
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let target = next_segment(tx)?;
    let mut docs_total = 0i64;
    {
        let mut stmt = tx.prepare(&format!(
            "SELECT term, docs FROM search_postings WHERE segment IN ({list}) ORDER BY term"
        ))?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO search_postings (term, segment, docs) VALUES (?1, ?2, ?3)",
        )?;
        let mut rows = stmt.query([])?;
        let mut current: Option<String> = None;
        let mut seqs: Vec<i64> = Vec::new();
        let mut terms = 0usize;
        let mut flush = |term: &str, seqs: &mut Vec<i64>| -> Result<()> {
            seqs.sort_unstable();
            seqs.dedup();
            insert.execute(params![term, target, encode(seqs)])?;
            seqs.clear();
            Ok(())
        };
        while let Some(r) = rows.next()? {
            let term: String = r.get(0)?;
            let blob: Vec<u8> = r.get(1)?;
            if current.as_deref() != Some(term.as_str()) {
                if let Some(prev) = current.take() {
                    flush(&prev, &mut seqs)?;
                    terms += 1;
                    if terms.is_multiple_of(TERMS_BETWEEN_STOPS) && stop() {
                        return Ok(false);
                    }
                }
                current = Some(term);
            }
            decode(&blob, &mut seqs)?;
        }
        if let Some(prev) = current {
            flush(&prev, &mut seqs)?;
        }
    }
    for s in segments {
        docs_total += tx.query_row(
            "SELECT docs FROM search_segments WHERE segment = ?1",
            params![s],
            |r| r.get::<_, i64>(0),
        )?;
    }
    tx.execute(
        &format!("DELETE FROM search_postings WHERE segment IN ({list})"),
        [],
    )?;
    tx.execute(
        &format!("DELETE FROM search_segments WHERE segment IN ({list})"),
        [],
    )?;
    tx.execute(
        "INSERT INTO search_segments (segment, docs) VALUES (?1, ?2)",
        params![target, docs_total],
    )?;
    Ok(true)
}

/// A parsed search: words that must all appear, prefixes (`word*`), and phrases (`"a b"`) whose
/// words must appear consecutively.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Search {
    pub terms: Vec<String>,
    pub prefixes: Vec<String>,
    pub phrases: Vec<Vec<String>>,
}

impl Search {
    /// `None` when the words hold nothing searchable (punctuation only).
    pub fn parse(input: &str) -> Option<Search> {
        let mut s = Search::default();
        let mut rest = input.trim();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('"') {
                let end = after.find('"').unwrap_or(after.len());
                let words: Vec<String> = tokens(&after[..end]).map(|t| t.into_owned()).collect();
                match words.len() {
                    0 => {}
                    1 => s.terms.extend(words),
                    _ => {
                        s.terms.extend(words.iter().cloned());
                        s.phrases.push(words);
                    }
                }
                rest = after.get(end + 1..).unwrap_or("").trim_start();
                continue;
            }
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let word = &rest[..end];
            rest = rest[end..].trim_start();
            match word.strip_suffix('*') {
                // A prefix is one token: "re-do*" is "re" and the prefix "do".
                Some(stem) => {
                    let mut parts: Vec<String> = tokens(stem).map(|t| t.into_owned()).collect();
                    if let Some(last) = parts.pop() {
                        s.prefixes.push(last);
                    }
                    s.terms.extend(parts);
                }
                None => s.terms.extend(tokens(word).map(|t| t.into_owned())),
            }
        }
        s.terms.sort_unstable();
        s.terms.dedup();
        (!s.terms.is_empty() || !s.prefixes.is_empty()).then_some(s)
    }

    /// Whether a message's text has every phrase (the index already guaranteed the words).
    pub fn phrases_match(&self, title: Option<&str>, text: &str) -> bool {
        if self.phrases.is_empty() {
            return true;
        }
        let words: Vec<String> = tokens(text).map(|t| t.into_owned()).collect();
        let title_words: Vec<String> = title
            .map(|t| tokens(t).map(|t| t.into_owned()).collect())
            .unwrap_or_default();
        self.phrases.iter().all(|p| {
            words.windows(p.len()).any(|w| w == p.as_slice())
                || title_words.windows(p.len()).any(|w| w == p.as_slice())
        })
    }
}

/// What a boolean query needs from the index: the listening percolator's back-test turns a query
/// into a plan, the index answers it with a superset of the messages that match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Messages with this (folded) token.
    Term(String),
    /// Messages with a token starting with this.
    Prefix(String),
    /// In all of them.
    And(Vec<Plan>),
    /// In any of them.
    Or(Vec<Plan>),
    /// Cannot be narrowed by the index (a field filter, a negation): every message.
    All,
}

/// The message numbers `plan` may match, ascending; `None` for every message.
pub fn plan_candidates(conn: &rusqlite::Connection, plan: &Plan) -> Result<Option<Vec<i64>>> {
    Ok(match plan {
        Plan::Term(t) => {
            let mut exact =
                conn.prepare_cached("SELECT docs FROM search_postings WHERE term = ?1")?;
            let list = collect(exact.query(params![t])?)?;
            Some(list)
        }
        Plan::Prefix(p) => {
            let mut range = conn.prepare_cached(
                "SELECT docs FROM search_postings WHERE term >= ?1 AND term < ?2",
            )?;
            let upper = format!("{p}\u{10FFFF}");
            let list = collect(range.query(params![p, upper])?)?;
            Some(list)
        }
        Plan::And(parts) => {
            let mut acc: Option<Vec<i64>> = None;
            for part in parts {
                if let Some(list) = plan_candidates(conn, part)? {
                    acc = Some(match acc {
                        None => list,
                        Some(a) => intersect(&a, &list),
                    });
                    if acc.as_ref().is_some_and(Vec::is_empty) {
                        break;
                    }
                }
            }
            acc
        }
        Plan::Or(parts) => {
            let mut acc = Vec::new();
            for part in parts {
                match plan_candidates(conn, part)? {
                    Some(list) => acc.extend(list),
                    None => return Ok(None),
                }
            }
            acc.sort_unstable();
            acc.dedup();
            Some(acc)
        }
        Plan::All => None,
    })
}

/// Message numbers that have every term and prefix of `search`, ascending.
pub fn candidates(conn: &rusqlite::Connection, search: &Search) -> Result<Vec<i64>> {
    let mut lists: Vec<Vec<i64>> = Vec::new();
    {
        let mut exact = conn.prepare_cached("SELECT docs FROM search_postings WHERE term = ?1")?;
        for term in &search.terms {
            lists.push(collect(exact.query(params![term])?)?);
        }
    }
    {
        let mut range =
            conn.prepare_cached("SELECT docs FROM search_postings WHERE term >= ?1 AND term < ?2")?;
        for p in &search.prefixes {
            let p = fold_token(p);
            // Every term that starts with p sorts before p followed by the last code point.
            let upper = format!("{p}\u{10FFFF}");
            lists.push(collect(range.query(params![p.as_ref(), upper])?)?);
        }
    }
    // Intersect from the rarest list: the result is never larger than it.
    lists.sort_by_key(Vec::len);
    let mut iter = lists.into_iter();
    let Some(mut acc) = iter.next() else {
        return Ok(Vec::new());
    };
    for list in iter {
        if acc.is_empty() {
            break;
        }
        acc = intersect(&acc, &list);
    }
    Ok(acc)
}

fn collect(mut rows: rusqlite::Rows<'_>) -> Result<Vec<i64>> {
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let blob: &[u8] = r
            .get_ref(0)?
            .as_blob()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        decode(blob, &mut out)?;
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn intersect(a: &[i64], b: &[i64]) -> Vec<i64> {
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posting_lists_round_trip() {
        let seqs = vec![1, 2, 130, 20_000, 1 << 40];
        let mut out = Vec::new();
        decode(&encode(&seqs), &mut out).unwrap();
        assert_eq!(out, seqs);
        assert!(decode(&[0x80], &mut Vec::new()).is_err());
    }

    #[test]
    fn parses_searches() {
        let s = Search::parse("Café \"très FROID\" rembours* -- l'été").unwrap();
        assert_eq!(s.terms, ["cafe", "ete", "froid", "l", "tres"]);
        assert_eq!(s.prefixes, ["rembours"]);
        assert_eq!(s.phrases, [vec!["tres".to_string(), "froid".to_string()]]);
        assert!(Search::parse("-- : ()").is_none());
        assert!(s.phrases_match(None, "Le café était TRÈS froid l'été, remboursement"));
        assert!(!s.phrases_match(None, "froid et très"));
    }

    /// Short and long terms alike keep their postings once per message, in term order.
    #[test]
    fn postings_gather_short_and_long_terms() {
        let long = "a".repeat(ShortTerm::MAX + 1);
        let edge = "é".repeat(ShortTerm::MAX / 2) + "b";
        assert_eq!(edge.len(), ShortTerm::MAX);
        let mut p = Postings::default();
        p.add(1, None, &format!("Été {long} ete {edge}"), ":lang:fr\n");
        // Cut already: the words, one per line (the title is still cut here).
        p.add_cut(5, Some("Zoo"), &format!("{long}\nx\n{long}\n"), "");
        assert_eq!((p.docs(), p.last()), (2, Some(5)));
        let lists: Vec<(Box<str>, Vec<i64>)> = p
            .take_sorted()
            .into_iter()
            .map(|(t, blob)| {
                let mut seqs = Vec::new();
                decode(&blob, &mut seqs).unwrap();
                (t, seqs)
            })
            .collect();
        let got: Vec<(&str, &[i64])> = lists.iter().map(|(t, s)| (&**t, &s[..])).collect();
        let folded_edge = copernic_core::text::fold(&edge);
        let mut want: Vec<(&str, &[i64])> = vec![
            (":lang:fr", &[1]),
            (&long, &[1, 5]),
            ("ete", &[1]),
            (&folded_edge, &[1]),
            ("x", &[5]),
            ("zoo", &[5]),
        ];
        want.sort();
        assert_eq!(got, want);
        assert_eq!((p.docs(), p.last()), (0, None));
        assert_eq!(ShortTerm::new(&edge).unwrap().to_boxed_str(), edge.into());
    }

    #[test]
    fn postings_keep_every_list_through_the_table_growing() {
        // Enough distinct terms for the table to grow several times, each term in messages of
        // its own pattern, repeated within a message (one posting), in several segments.
        let terms: Vec<String> = (0..100_000u32).map(|i| format!("t{i:x}")).collect();
        let mut p = Postings::default();
        for round in 0..2 {
            let mut want: BTreeMap<String, Vec<i64>> = BTreeMap::new();
            for seq in 1..=40i64 {
                let mut words = String::new();
                for (i, t) in terms.iter().enumerate() {
                    if (i as i64 + round) % seq == 0 {
                        words.push_str(t);
                        words.push('\n');
                        words.push_str(t);
                        words.push('\n');
                        want.entry(t.clone()).or_default().push(seq);
                    }
                }
                p.add_cut(seq, None, &words, "");
            }
            let got: BTreeMap<String, Vec<i64>> = p
                .take_sorted()
                .into_iter()
                .map(|(t, blob)| {
                    let mut seqs = Vec::new();
                    decode(&blob, &mut seqs).unwrap();
                    (t.into_string(), seqs)
                })
                .collect();
            assert_eq!(got.len(), want.len());
            assert!(got == want, "round {round}");
        }
    }

    #[test]
    fn short_terms_hold_their_bytes_then_their_length() {
        for len in 0..=ShortTerm::MAX {
            let term: String = "abcdefghijklmnopqrstuvwxyz"[..len].to_string();
            let t = ShortTerm::new(&term).unwrap();
            let mut bytes = [0u8; 24];
            bytes[..len].copy_from_slice(term.as_bytes());
            bytes[23] = len as u8;
            let want: Vec<u64> = bytes
                .chunks(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
                .collect();
            assert_eq!(t.words.to_vec(), want);
            assert_eq!(&*t.to_boxed_str(), term);
        }
        assert!(ShortTerm::new(&"x".repeat(ShortTerm::MAX + 1)).is_none());
        assert_eq!(&*ShortTerm::new("été").unwrap().to_boxed_str(), "été");
    }

    #[test]
    fn tiers() {
        assert_eq!(
            (tier(1), tier(7), tier(8), tier(63), tier(64)),
            (0, 0, 1, 1, 2)
        );
    }
}
