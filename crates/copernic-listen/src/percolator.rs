//! The percolator: standing queries compiled once, each message analysed once, candidate queries
//! found through an index of the terms each query requires (the presearcher of Luwak / Lucene
//! Monitor), then verified exactly.
//!
//! Every term a query names becomes a *key* (a dense `u32`): words, hashtags, mentions, prefixes
//! and field values. A message is turned into its sorted list of `(key, position)` hits, looking
//! up only keys some query names; words no query names are skipped but still take a position, so
//! phrases and NEAR see the true distances.

use copernic_core::hash::FxHashMap;
use copernic_core::text::{analyze, TokenKind};

use crate::syntax::{Atom, Expr, Field, MIN_PREFIX_CHARS};

/// Position given to field hits: after every token, so that no phrase or NEAR can use them.
const FIELD_POSITION: u32 = u32::MAX;
/// Positions skipped between a message's title and its text: more than the largest NEAR, so a
/// phrase or NEAR never spans the two.
const TITLE_GAP: u32 = 1_000;

/// The fields of a message a query can filter on, as the message has them (normalised here).
#[derive(Clone, Copy, Debug, Default)]
pub struct Fields<'a> {
    pub lang: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub author: Option<&'a str>,
    pub sentiment: Option<&'a str>,
    pub intent: Option<&'a str>,
    pub topics: &'a [String],
}

/// What a message looks like to the percolator: its title, text and fields.
#[derive(Clone, Copy, Debug, Default)]
pub struct Input<'a> {
    pub title: Option<&'a str>,
    pub text: &'a str,
    pub fields: Fields<'a>,
}

/// The keys queries name. Keys are never forgotten when a query is removed: they cost a few
/// bytes each, and keeping them keeps every other query's compiled form valid.
struct Vocabulary {
    words: FxHashMap<Box<str>, u32>,
    hashtags: FxHashMap<Box<str>, u32>,
    mentions: FxHashMap<Box<str>, u32>,
    prefixes: FxHashMap<Box<str>, u32>,
    /// Which first bytes and byte lengths (bit 63: 63 or more) the words, hashtags and mentions
    /// have: most tokens of a message are in no query, and these two tests turn them away
    /// before hashing.
    first_bytes: [bool; 256],
    word_lengths: u64,
    /// Bit n set when some prefix has n characters (bit 63: 63 or more): a token is looked up
    /// only at the lengths a prefix has, not at every length.
    prefix_lengths: u64,
    fields: [FxHashMap<Box<str>, u32>; 6],
    /// Per key, how it was named (for the presearcher's choice of the rarest term).
    kinds: Vec<KeyKind>,
}

impl Default for Vocabulary {
    fn default() -> Vocabulary {
        Vocabulary {
            words: FxHashMap::default(),
            hashtags: FxHashMap::default(),
            mentions: FxHashMap::default(),
            prefixes: FxHashMap::default(),
            first_bytes: [false; 256],
            word_lengths: 0,
            prefix_lengths: 0,
            fields: Default::default(),
            kinds: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyKind {
    Word(u16),
    Entity(u16),
    Prefix(u16),
    Field,
}

impl Vocabulary {
    fn intern(&mut self, kind: KeyKind, map: MapName, text: &str) -> u32 {
        let next = self.kinds.len() as u32;
        let m = self.map_mut(map);
        if let Some(&k) = m.get(text) {
            return k;
        }
        m.insert(text.into(), next);
        self.kinds.push(kind);
        if matches!(map, MapName::Words | MapName::Hashtags | MapName::Mentions) {
            self.first_bytes[text.as_bytes().first().copied().unwrap_or(0) as usize] = true;
            self.word_lengths |= 1 << text.len().min(63);
        }
        next
    }

    /// Whether a token of this text may be a word, hashtag or mention key.
    fn may_hold(&self, text: &str) -> bool {
        let first = text.as_bytes().first().copied().unwrap_or(0) as usize;
        self.first_bytes[first] && self.word_lengths & (1 << text.len().min(63)) != 0
    }

    fn map_mut(&mut self, m: MapName) -> &mut FxHashMap<Box<str>, u32> {
        match m {
            MapName::Words => &mut self.words,
            MapName::Hashtags => &mut self.hashtags,
            MapName::Mentions => &mut self.mentions,
            MapName::Prefixes => &mut self.prefixes,
            MapName::Field(f) => &mut self.fields[f as usize],
        }
    }

    fn atom_key(&mut self, a: &Atom) -> Span {
        let len = |s: &str| s.chars().count().min(u16::MAX as usize) as u16;
        match a {
            Atom::Word(w) => Span::One(self.intern(KeyKind::Word(len(w)), MapName::Words, w)),
            Atom::Hashtag(h) => {
                Span::One(self.intern(KeyKind::Entity(len(h)), MapName::Hashtags, h))
            }
            Atom::Mention(m) => {
                Span::One(self.intern(KeyKind::Entity(len(m)), MapName::Mentions, m))
            }
            Atom::Prefix(p) => {
                self.prefix_lengths |= 1 << p.chars().count().min(63);
                Span::One(self.intern(KeyKind::Prefix(len(p)), MapName::Prefixes, p))
            }
            Atom::Phrase(ws) => Span::Phrase(
                ws.iter()
                    .map(|w| self.intern(KeyKind::Word(len(w)), MapName::Words, w))
                    .collect(),
            ),
        }
    }
}

#[derive(Clone, Copy)]
enum MapName {
    Words,
    Hashtags,
    Mentions,
    Prefixes,
    Field(Field),
}

/// One side of a NEAR, or a phrase: the keys of consecutive tokens.
#[derive(Clone, Debug)]
enum Span {
    One(u32),
    Phrase(Box<[u32]>),
}

/// A query compiled against the vocabulary.
#[derive(Clone, Debug)]
enum Node {
    Key(u32),
    Phrase(Box<[u32]>),
    Near {
        left: Span,
        right: Span,
        distance: u32,
    },
    Not(Box<Node>),
    And(Box<[Node]>),
    Or(Box<[Node]>),
}

/// A message, analysed against the vocabulary: its hits, sorted by key then position.
#[derive(Clone, Debug, Default)]
pub struct Doc {
    hits: Vec<(u32, u32)>,
    /// One bit per key of the vocabulary, set for the keys in `hits`: most verification steps
    /// only ask whether a key is present, and a bit test beats a search of the hits.
    present: Vec<u64>,
}

impl Doc {
    fn positions(&self, key: u32) -> &[(u32, u32)] {
        let start = self.hits.partition_point(|h| h.0 < key);
        let end = start + self.hits[start..].partition_point(|h| h.0 == key);
        &self.hits[start..end]
    }

    fn has(&self, key: u32) -> bool {
        self.present
            .get((key / 64) as usize)
            .is_some_and(|w| (w >> (key % 64)) & 1 == 1)
    }

    fn has_at(&self, key: u32, pos: u32) -> bool {
        self.hits.binary_search(&(key, pos)).is_ok()
    }

    /// `(start, end)` of every occurrence of `span` (end inclusive).
    fn occurrences(&self, span: &Span, out: &mut Vec<(u32, u32)>) {
        out.clear();
        match span {
            Span::One(k) => out.extend(self.positions(*k).iter().map(|h| (h.1, h.1))),
            Span::Phrase(ks) => {
                for h in self.positions(ks[0]) {
                    if self.phrase_at(ks, h.1) {
                        out.push((h.1, h.1 + ks.len() as u32 - 1));
                    }
                }
            }
        }
    }

    fn phrase_at(&self, ks: &[u32], start: u32) -> bool {
        ks.iter()
            .enumerate()
            .skip(1)
            .all(|(i, k)| self.has_at(*k, start + i as u32))
    }

    /// The distinct keys of the message, for the presearcher.
    fn keys(&self) -> impl Iterator<Item = u32> + '_ {
        let mut last = None;
        self.hits.iter().filter_map(move |h| {
            if last == Some(h.0) {
                None
            } else {
                last = Some(h.0);
                Some(h.0)
            }
        })
    }
}

/// A rough rank of how much verifying a node costs (a bit test is 0).
fn eval_cost(n: &Node) -> u32 {
    match n {
        Node::Key(_) => 0,
        Node::Not(x) => eval_cost(x),
        Node::Phrase(_) => 2,
        Node::Near { .. } => 3,
        Node::Or(xs) | Node::And(xs) => 1 + xs.iter().map(eval_cost).max().unwrap_or(0),
    }
}

fn eval(n: &Node, doc: &Doc) -> bool {
    match n {
        Node::Key(k) => doc.has(*k),
        Node::Phrase(ks) => doc.positions(ks[0]).iter().any(|h| doc.phrase_at(ks, h.1)),
        Node::Near {
            left,
            right,
            distance,
        } => {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            doc.occurrences(left, &mut a);
            if a.is_empty() {
                return false;
            }
            doc.occurrences(right, &mut b);
            a.iter().any(|&(s1, e1)| {
                b.iter().any(|&(s2, e2)| {
                    (e1 < s2 && s2 - e1 <= *distance) || (e2 < s1 && s1 - e2 <= *distance)
                })
            })
        }
        Node::Not(x) => !eval(x, doc),
        Node::And(xs) => xs.iter().all(|x| eval(x, doc)),
        Node::Or(xs) => xs.iter().any(|x| eval(x, doc)),
    }
}

/// A standing query in the percolator.
struct Slot {
    id: String,
    node: Node,
    /// The keys under which the presearcher files it (empty: verified against every message).
    filed_under: Vec<u32>,
    /// A key or an OR of keys: being a candidate is matching, nothing to verify.
    exact: bool,
}

/// Standing queries, ready to match messages. Adding or removing one touches only its own
/// entries.
#[derive(Default)]
pub struct Percolator {
    vocab: Vocabulary,
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    by_id: FxHashMap<String, u32>,
    /// Per key, the slots filed under it.
    postings: Vec<Vec<u32>>,
    /// Slots the presearcher cannot bound (a double negation, say): verified on every message.
    always: Vec<u32>,
}

/// Reusable buffers for [`Percolator::matches_into`]: one per thread avoids allocating per
/// message.
#[derive(Default)]
pub struct Scratch {
    pub doc: Doc,
    candidates: Vec<u32>,
    /// Per slot, the last message number that made it a candidate: deduplication without
    /// sorting the candidates.
    seen: Vec<u32>,
    message: u32,
}

impl Scratch {
    /// How many queries the last message made candidates (for benchmarks).
    pub fn candidates(&self) -> usize {
        self.candidates.len()
    }
}

impl Percolator {
    pub fn new() -> Percolator {
        Percolator::default()
    }

    /// How many queries are standing.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Whether a query of this id is standing.
    pub fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// Adds (or replaces) the query `id`. `expr` comes from [`crate::parse`].
    pub fn add(&mut self, id: &str, expr: &Expr) {
        self.remove(id);
        let node = self.compile(expr);
        let filed_under = match required(&node, &self.vocab.kinds) {
            Some((keys, _)) => keys,
            None => Vec::new(),
        };
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        if self.postings.len() < self.vocab.kinds.len() {
            self.postings.resize_with(self.vocab.kinds.len(), Vec::new);
        }
        if filed_under.is_empty() {
            self.always.push(slot);
        }
        for &k in &filed_under {
            self.postings[k as usize].push(slot);
        }
        let exact = match &node {
            Node::Key(_) => true,
            Node::Or(xs) => xs.iter().all(|x| matches!(x, Node::Key(_))),
            _ => false,
        };
        self.slots[slot as usize] = Some(Slot {
            id: id.to_string(),
            node,
            filed_under,
            exact,
        });
        self.by_id.insert(id.to_string(), slot);
    }

    /// Removes the query `id`; false if there was none.
    pub fn remove(&mut self, id: &str) -> bool {
        let Some(slot) = self.by_id.remove(id) else {
            return false;
        };
        if let Some(old) = self.slots[slot as usize].take() {
            if old.filed_under.is_empty() {
                self.always.retain(|s| *s != slot);
            }
            for k in old.filed_under {
                self.postings[k as usize].retain(|s| *s != slot);
            }
        }
        self.free.push(slot);
        true
    }

    fn compile(&mut self, e: &Expr) -> Node {
        match e {
            Expr::Atom(a) => match self.vocab.atom_key(a) {
                Span::One(k) => Node::Key(k),
                Span::Phrase(ks) => Node::Phrase(ks),
            },
            Expr::Near {
                left,
                right,
                distance,
            } => Node::Near {
                left: self.vocab.atom_key(left),
                right: self.vocab.atom_key(right),
                distance: *distance,
            },
            Expr::Field(f, v) => {
                Node::Key(self.vocab.intern(KeyKind::Field, MapName::Field(*f), v))
            }
            Expr::Not(x) => Node::Not(Box::new(self.compile(x))),
            Expr::And(xs) => {
                // Cheapest checks first: most candidates fail on a missing key, and then the
                // phrase and NEAR scans never run.
                let mut parts: Vec<Node> = xs.iter().map(|x| self.compile(x)).collect();
                parts.sort_by_key(eval_cost);
                Node::And(parts.into())
            }
            Expr::Or(xs) => Node::Or(xs.iter().map(|x| self.compile(x)).collect()),
        }
    }

    /// Analyses a message into `doc`: the hits of every key some query names.
    pub fn analyse(&self, input: &Input<'_>, doc: &mut Doc) {
        // Clear only the bits the previous message set: the bitset spans the whole vocabulary.
        for &(k, _) in &doc.hits {
            if let Some(w) = doc.present.get_mut((k / 64) as usize) {
                *w = 0;
            }
        }
        doc.hits.clear();
        let words = self.vocab.kinds.len().div_ceil(64);
        if doc.present.len() < words {
            doc.present.resize(words, 0);
        }
        let v = &self.vocab;
        let mut pos = 0u32;
        let mut add_text = |text: &str, pos: &mut u32| {
            for t in analyze(text) {
                let w = &*t.text;
                if v.may_hold(w) {
                    if let Some(&k) = v.words.get(w) {
                        doc.hits.push((k, *pos));
                    }
                    let entities = match t.kind {
                        TokenKind::Word => None,
                        TokenKind::Hashtag => Some(&v.hashtags),
                        TokenKind::Mention => Some(&v.mentions),
                    };
                    if let Some(&k) = entities.and_then(|m| m.get(w)) {
                        doc.hits.push((k, *pos));
                    }
                }
                if v.prefix_lengths != 0 {
                    for (n, (i, c)) in w.char_indices().enumerate() {
                        let chars = n + 1;
                        if chars >= MIN_PREFIX_CHARS && v.prefix_lengths & (1 << chars.min(63)) != 0
                        {
                            if let Some(&k) = v.prefixes.get(&w[..i + c.len_utf8()]) {
                                doc.hits.push((k, *pos));
                            }
                        }
                    }
                }
                *pos += 1;
            }
        };
        if let Some(title) = input.title {
            add_text(title, &mut pos);
            pos += TITLE_GAP;
        }
        add_text(input.text, &mut pos);
        let f = &input.fields;
        let single = [
            (Field::Lang, f.lang),
            (Field::Channel, f.channel),
            (Field::Author, f.author),
            (Field::Sentiment, f.sentiment),
            (Field::Intent, f.intent),
        ];
        for (field, value) in single {
            let map = &v.fields[field as usize];
            if let (Some(value), false) = (value, map.is_empty()) {
                if let Some(&k) = map.get(field.normalise(value).as_str()) {
                    doc.hits.push((k, FIELD_POSITION));
                }
            }
        }
        let topics = &v.fields[Field::Topic as usize];
        if !topics.is_empty() {
            for t in f.topics {
                if let Some(&k) = topics.get(Field::Topic.normalise(t).as_str()) {
                    doc.hits.push((k, FIELD_POSITION));
                }
            }
        }
        doc.hits.sort_unstable();
        doc.hits.dedup();
        for &(k, _) in &doc.hits {
            doc.present[(k / 64) as usize] |= 1 << (k % 64);
        }
    }

    /// The ids of the queries `input` matches, sorted.
    pub fn matches(&self, input: &Input<'_>) -> Vec<&str> {
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        self.matches_into(input, &mut scratch, &mut out);
        out
    }

    /// [`Percolator::matches`] with reusable buffers; `out` is cleared first.
    pub fn matches_into<'p>(&'p self, input: &Input<'_>, s: &mut Scratch, out: &mut Vec<&'p str>) {
        self.analyse(input, &mut s.doc);
        s.message = s.message.wrapping_add(1);
        if s.message == 0 {
            // Wrapped: old marks could collide with the new numbers.
            s.seen.iter_mut().for_each(|m| *m = 0);
            s.message = 1;
        }
        if s.seen.len() < self.slots.len() {
            s.seen.resize(self.slots.len(), 0);
        }
        s.candidates.clear();
        let message = s.message;
        for k in s.doc.keys() {
            if let Some(p) = self.postings.get(k as usize) {
                for &slot in p {
                    let mark = &mut s.seen[slot as usize];
                    if *mark != message {
                        *mark = message;
                        s.candidates.push(slot);
                    }
                }
            }
        }
        s.candidates.extend_from_slice(&self.always);
        out.clear();
        for &c in &s.candidates {
            if let Some(slot) = &self.slots[c as usize] {
                if slot.exact || eval(&slot.node, &s.doc) {
                    out.push(&slot.id);
                }
            }
        }
        out.sort_unstable();
    }

    /// The naive engine, for comparison and tests: every query verified on every message, with
    /// the same analysis and verification code.
    pub fn matches_naive<'p>(&'p self, input: &Input<'_>, s: &mut Scratch, out: &mut Vec<&'p str>) {
        self.analyse(input, &mut s.doc);
        out.clear();
        for slot in self.slots.iter().flatten() {
            if eval(&slot.node, &s.doc) {
                out.push(&slot.id);
            }
        }
        out.sort_unstable();
    }

    /// How many keys the vocabulary holds and how many filings the presearcher keeps, for
    /// memory reports.
    pub fn sizes(&self) -> (usize, usize) {
        (
            self.vocab.kinds.len(),
            self.postings.iter().map(Vec::len).sum(),
        )
    }
}

/// Keys of which every message matching `n` has at least one, with a cost (lower is more
/// selective); `None` when no such set exists (under a NOT).
fn required(n: &Node, kinds: &[KeyKind]) -> Option<(Vec<u32>, f64)> {
    let cost = |k: u32| -> f64 {
        // Longer words are rarer; entities rarer than words of the same length; a prefix matches
        // many words; a field value (lang:en) matches a large share of the firehose.
        match kinds[k as usize] {
            KeyKind::Word(l) => 64.0 / f64::from(l.max(1)),
            KeyKind::Entity(l) => 32.0 / f64::from(l.max(1)),
            KeyKind::Prefix(l) => 256.0 / f64::from(l.max(1)),
            KeyKind::Field => 10_000.0,
        }
    };
    let best_of = |ks: &[u32]| -> (Vec<u32>, f64) {
        let k = ks
            .iter()
            .copied()
            .min_by(|a, b| cost(*a).total_cmp(&cost(*b)))
            .unwrap_or(0);
        (vec![k], cost(k))
    };
    let span = |s: &Span| match s {
        Span::One(k) => (vec![*k], cost(*k)),
        Span::Phrase(ks) => best_of(ks),
    };
    match n {
        Node::Key(k) => Some((vec![*k], cost(*k))),
        Node::Phrase(ks) => Some(best_of(ks)),
        Node::Near { left, right, .. } => {
            let (l, r) = (span(left), span(right));
            Some(if l.1 <= r.1 { l } else { r })
        }
        Node::Not(_) => None,
        Node::And(xs) => xs
            .iter()
            .filter_map(|x| required(x, kinds))
            .min_by(|a, b| a.1.total_cmp(&b.1)),
        Node::Or(xs) => {
            let mut keys = Vec::new();
            let mut total = 0.0;
            for x in xs.iter() {
                let (ks, c) = required(x, kinds)?;
                keys.extend(ks);
                total += c;
            }
            keys.sort_unstable();
            keys.dedup();
            Some((keys, total))
        }
    }
}
