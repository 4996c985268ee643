//! Property tests over the demo messages: random query trees drawn from the messages' own
//! vocabulary are printed in normal form and parsed back, then all of them stand in one
//! percolator and every message is matched three ways: the percolator (presearcher + verifier),
//! its naive engine, and the reference matcher of `reference.rs`. They must agree exactly, also
//! after removing and re-adding queries.

use std::fmt::Write as _;

use copernic_core::text::{analyze, TokenKind};
use copernic_listen::{parse, Atom, Expr, Field, Fields, Input, Percolator, Scratch};

use crate::reference::{empty_input, ref_normalise, RefDoc, RefToken};

// ---------------------------------------------------------------------------------------------
// A seeded random number generator (splitmix64): no crate, same cases on every run.

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

// ---------------------------------------------------------------------------------------------
// The corpus: the demo messages, with synthetic fields and some injected entities and emoji.

struct Msg {
    title: Option<String>,
    text: String,
    lang: Option<String>,
    channel: Option<String>,
    author: Option<String>,
    sentiment: Option<String>,
    intent: Option<String>,
    topics: Vec<String>,
}

impl Msg {
    fn input(&self) -> Input<'_> {
        Input {
            title: self.title.as_deref(),
            text: &self.text,
            fields: Fields {
                lang: self.lang.as_deref(),
                channel: self.channel.as_deref(),
                author: self.author.as_deref(),
                sentiment: self.sentiment.as_deref(),
                intent: self.intent.as_deref(),
                topics: &self.topics,
            },
        }
    }

    fn describe(&self) -> String {
        format!(
            "title {:?}\n  text {:?}\n  lang {:?} channel {:?} author {:?} sentiment {:?} intent {:?} topics {:?}",
            self.title,
            self.text,
            self.lang,
            self.channel,
            self.author,
            self.sentiment,
            self.intent,
            self.topics
        )
    }
}

const SENTIMENTS: &[&str] = &["positive", "negative", "neutral", "mixed", "Negative"];
const INTENTS: &[&str] = &["complaint", "question", "praise", "purchase", "Complaint"];
const TOPICS: &[&str] = &[
    "delivery",
    "price",
    "quality",
    "Service Client",
    "Livraison",
    "Qualité",
    "late delivery",
];
const CHANNELS: &[&str] = &[
    "twitter",
    "reviews",
    "instagram",
    "facebook",
    "chat",
    "email",
    "sms",
];
/// Snippets injected into a share of the texts: entities, emoji, elisions, split words.
const INJECT: &[&str] = &[
    "#Nike",
    "#ÉtéNike",
    "@Jane_Doe",
    "@support",
    "😡",
    "👍🏽",
    "super😡😡",
    "l'avion",
    "J'adore",
    "qu'il",
    "e-mail",
    "C#",
    "jane@nike.com",
    "#air_max",
    "https://nike.com/fr",
    "Œuvre",
    "#2024",
    "@NikeFR",
    "#film",
    "@service",
    "💜💜",
    "Été",
    "ÇA",
    "livraison",
];

fn load_corpus() -> Vec<Msg> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../copernic/demo/messages.jsonl"
    );
    let raw = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let records: Vec<serde_json::Value> = raw
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert!(records.len() > 1000, "{} messages", records.len());
    let texts: Vec<String> = records
        .iter()
        .map(|r| r["text"].as_str().unwrap_or("").to_string())
        .collect();
    let mut rng = Rng::new(7);
    let mut out = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let s = |k: &str| r.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let mut text = texts[i].clone();
        // Injections: a third of the texts get entities, emoji or elisions; some of their own
        // words become hashtags or mentions, so that the same text is a word here and an entity
        // there.
        if rng.chance(0.35) {
            let mut pieces: Vec<String> = text.split(' ').map(str::to_string).collect();
            for _ in 0..rng.range(1, 3) {
                let at = rng.below(pieces.len() + 1);
                pieces.insert(at, rng.pick(INJECT).to_string());
            }
            for _ in 0..rng.range(0, 2) {
                let at = rng.below(pieces.len());
                if pieces[at].chars().next().is_some_and(char::is_alphanumeric) {
                    let sign = if rng.chance(0.5) { '#' } else { '@' };
                    pieces[at] = format!("{sign}{}", pieces[at]);
                }
            }
            text = pieces.join(" ");
        }
        let title = if rng.chance(0.25) {
            let other = &texts[rng.below(texts.len())];
            let words: Vec<&str> = other.split_whitespace().take(rng.range(2, 6)).collect();
            Some(words.join(" "))
        } else {
            None
        };
        let lang = match rng.below(10) {
            0 => Some("fr-CA".to_string()),
            1 => Some("en_GB".to_string()),
            2 => Some("FR".to_string()),
            3 => None,
            _ => s("lang"),
        };
        let channel = match rng.below(10) {
            0 => Some(rng.pick(CHANNELS).to_string()),
            1 => s("channel").map(|c| c.to_uppercase()),
            2 => None,
            _ => s("channel"),
        };
        let handle = match r.get("author") {
            Some(serde_json::Value::Object(a)) => {
                a.get("handle").and_then(|h| h.as_str()).map(str::to_string)
            }
            Some(serde_json::Value::String(a)) => Some(a.clone()),
            _ => None,
        };
        let author = match rng.below(10) {
            0 => handle.map(|h| h.trim_start_matches('@').to_string()),
            1 => handle.map(|h| h.to_uppercase()),
            2 => Some("@Jane_Doe".to_string()),
            3 => None,
            _ => handle,
        };
        let sentiment = (!rng.chance(0.2)).then(|| rng.pick(SENTIMENTS).to_string());
        let intent = (!rng.chance(0.4)).then(|| rng.pick(INTENTS).to_string());
        let topics = (0..rng.range(0, 3))
            .map(|_| rng.pick(TOPICS).to_string())
            .collect();
        out.push(Msg {
            title,
            text,
            lang,
            channel,
            author,
            sentiment,
            intent,
            topics,
        });
    }
    out
}

/// The corpus with its tokens, the vocabulary queries are drawn from.
struct Corpus {
    msgs: Vec<Msg>,
    /// Per message, the reference's tokens (title, gap, text).
    tokens: Vec<Vec<RefToken>>,
    hashtags: Vec<String>,
    mentions: Vec<String>,
    authors: Vec<String>,
}

impl Corpus {
    fn load() -> Corpus {
        let msgs = load_corpus();
        let mut tokens = Vec::with_capacity(msgs.len());
        let (mut hashtags, mut mentions, mut authors) = (Vec::new(), Vec::new(), Vec::new());
        for m in &msgs {
            let doc = RefDoc::new(&m.input());
            for t in &doc.tokens {
                match t.kind {
                    TokenKind::Hashtag => hashtags.push(t.text.clone()),
                    TokenKind::Mention => mentions.push(t.text.clone()),
                    TokenKind::Word => {}
                }
            }
            if let Some(a) = &m.author {
                authors.push(ref_normalise(Field::Author, a));
            }
            // Empty tokens (see the U+FE0F note in table.rs) cannot be written in a query.
            tokens.push(
                doc.tokens
                    .into_iter()
                    .filter(|t| !t.text.is_empty())
                    .collect::<Vec<_>>(),
            );
        }
        for v in [&mut hashtags, &mut mentions, &mut authors] {
            v.sort();
            v.dedup();
        }
        assert!(!hashtags.is_empty() && !mentions.is_empty());
        Corpus {
            msgs,
            tokens,
            hashtags,
            mentions,
            authors,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Random queries, built as trees in the parser's canonical shape (AND and OR flattened).

struct Gen<'a> {
    rng: Rng,
    corpus: &'a Corpus,
    /// The message most atoms of the current query come from, so that conjunctions match.
    focus: usize,
}

impl Gen<'_> {
    fn message(&mut self) -> usize {
        if self.rng.chance(0.7) {
            self.focus
        } else {
            self.rng.below(self.corpus.msgs.len())
        }
    }

    fn word(&mut self) -> String {
        for _ in 0..10 {
            let m = self.message();
            let toks = &self.corpus.tokens[m];
            if !toks.is_empty() {
                return self.rng.pick(toks).text.clone();
            }
        }
        "film".to_string()
    }

    fn atom(&mut self) -> Atom {
        match self.rng.below(100) {
            0..=39 => Atom::Word(self.word()),
            40..=56 => {
                // Two or three consecutive tokens of a message.
                for _ in 0..10 {
                    let m = self.message();
                    let toks = &self.corpus.tokens[m];
                    let len = self.rng.range(2, 3);
                    if toks.len() < len {
                        continue;
                    }
                    let start = self.rng.below(toks.len() - len + 1);
                    let run = &toks[start..start + len];
                    // Mostly within title or text; sometimes across, which must not match.
                    if run.iter().all(|t| t.pos - run[0].pos < len) || self.rng.chance(0.3) {
                        return Atom::Phrase(run.iter().map(|t| t.text.clone()).collect());
                    }
                }
                Atom::Phrase(vec!["un".into(), "film".into()])
            }
            57..=72 => {
                // A prefix of 3 characters or more of a token.
                for _ in 0..20 {
                    let m = self.message();
                    let toks = &self.corpus.tokens[m];
                    if toks.is_empty() {
                        continue;
                    }
                    let t = self.rng.pick(toks);
                    let n = t.text.chars().count();
                    // Any token a bare `stem*` can name: a word, or an entity without `_`.
                    if n >= 3 && (t.kind == TokenKind::Word || !t.text.contains('_')) {
                        let k = self.rng.range(3, n);
                        return Atom::Prefix(t.text.chars().take(k).collect());
                    }
                }
                Atom::Prefix("fil".into())
            }
            73..=85 => {
                let m = self.message();
                let own: Vec<&RefToken> = self.corpus.tokens[m]
                    .iter()
                    .filter(|t| t.kind == TokenKind::Hashtag)
                    .collect();
                if !own.is_empty() && self.rng.chance(0.7) {
                    Atom::Hashtag(self.rng.pick(&own).text.clone())
                } else if self.rng.chance(0.5) {
                    Atom::Hashtag(self.rng.pick(&self.corpus.hashtags).clone())
                } else {
                    // A word used as a hashtag: matches only where it is one.
                    Atom::Hashtag(self.word())
                }
            }
            86..=96 => {
                let m = self.message();
                let own: Vec<&RefToken> = self.corpus.tokens[m]
                    .iter()
                    .filter(|t| t.kind == TokenKind::Mention)
                    .collect();
                if !own.is_empty() && self.rng.chance(0.7) {
                    Atom::Mention(self.rng.pick(&own).text.clone())
                } else if self.rng.chance(0.5) {
                    Atom::Mention(self.rng.pick(&self.corpus.mentions).clone())
                } else {
                    Atom::Mention(self.word())
                }
            }
            _ => {
                // A word no message has, or an entity's text as a plain word.
                if self.rng.chance(0.5) {
                    Atom::Word("zzqxw".into())
                } else {
                    Atom::Word(self.rng.pick(&self.corpus.mentions).clone())
                }
            }
        }
    }

    /// A hashtag or a mention is a valid atom only when its text is a possible entity body; a
    /// word taken from the corpus may be an emoji, which is not.
    fn valid_atom(&mut self) -> Atom {
        loop {
            let a = self.atom();
            let ok = match &a {
                Atom::Hashtag(t) | Atom::Mention(t) => {
                    t.chars().all(|c| c.is_alphanumeric() || c == '_')
                }
                _ => true,
            };
            if ok {
                return a;
            }
        }
    }

    fn field(&mut self) -> Expr {
        let f = *self.rng.pick(&Field::ALL);
        let m = &self.corpus.msgs[self.message()];
        let own = if self.rng.chance(0.6) {
            match f {
                Field::Lang => m.lang.clone(),
                Field::Channel => m.channel.clone(),
                Field::Author => m.author.clone(),
                Field::Sentiment => m.sentiment.clone(),
                Field::Intent => m.intent.clone(),
                Field::Topic => (!m.topics.is_empty()).then(|| self.rng.pick(&m.topics).clone()),
            }
        } else {
            None
        };
        let raw = own.unwrap_or_else(|| match f {
            Field::Lang => self.rng.pick(&["fr", "en", "de", "fr-CA"]).to_string(),
            Field::Channel => self.rng.pick(CHANNELS).to_string(),
            Field::Author => self.rng.pick(&self.corpus.authors).clone(),
            Field::Sentiment => self.rng.pick(SENTIMENTS).to_string(),
            Field::Intent => self.rng.pick(INTENTS).to_string(),
            Field::Topic => self.rng.pick(TOPICS).to_string(),
        });
        Expr::Field(f, ref_normalise(f, &raw))
    }

    fn near(&mut self) -> Expr {
        let distance = match self.rng.below(10) {
            0..=6 => self.rng.range(1, 5),
            7..=8 => self.rng.range(6, 20),
            _ => self.rng.range(21, 100),
        } as u32;
        Expr::Near {
            left: self.valid_atom(),
            right: self.valid_atom(),
            distance,
        }
    }

    fn leaf(&mut self) -> Expr {
        match self.rng.below(100) {
            0..=64 => Expr::Atom(self.valid_atom()),
            65..=81 => self.near(),
            _ => self.field(),
        }
    }

    fn expr(&mut self, depth: usize) -> Expr {
        if depth == 0 || self.rng.chance(0.3) {
            return self.leaf();
        }
        match self.rng.below(10) {
            0..=4 => Expr::And(self.children(depth, true)),
            5..=7 => Expr::Or(self.children(depth, false)),
            _ => Expr::Not(Box::new(self.expr(depth - 1))),
        }
    }

    /// Two or three children, nested ones of the same operator flattened as the parser does.
    fn children(&mut self, depth: usize, and: bool) -> Vec<Expr> {
        let mut out = Vec::new();
        for _ in 0..self.rng.range(2, 3) {
            match (and, self.expr(depth - 1)) {
                (true, Expr::And(xs)) | (false, Expr::Or(xs)) => out.extend(xs),
                (_, x) => out.push(x),
            }
        }
        out
    }

    fn query(&mut self) -> Expr {
        self.focus = self.rng.below(self.corpus.msgs.len());
        let depth = self.rng.range(1, 4);
        self.expr(depth)
    }
}

/// Random query strings glued from pieces of the syntax: the parser must not panic, and what it
/// accepts must print and parse back to itself.
fn fuzz_string(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &[
        "film",
        "bon",
        "Été",
        "l'avion",
        "e-mail",
        "nike",
        "service",
        "client",
        "très",
        "(",
        ")",
        "\"",
        "\"un film\"",
        "\"service client\"",
        "-",
        "NOT",
        "AND",
        "OR",
        "NEAR/2",
        "NEAR/1",
        "NEAR/0",
        "NEAR",
        "*",
        "livr*",
        "fil*",
        "#",
        "@",
        "#nike",
        "@jane_doe",
        "#air_max",
        "lang:",
        "lang:fr",
        "lang:fr-CA",
        "topic:\"Service Client\"",
        "author:@Jane_Doe",
        "sentiment:negative",
        "channel:",
        "colour:red",
        "😡",
        "👍🏽",
        "_",
        ":",
        "//",
        "and",
        "or",
        "10:30",
    ];
    let mut s = String::new();
    for _ in 0..rng.range(1, 10) {
        let piece = *rng.pick::<&str>(PIECES);
        s.push_str(piece);
        if rng.chance(0.7) {
            s.push(' ');
        }
    }
    s
}

/// Handwritten queries over the corpus's vocabulary, alongside the random ones.
const HANDWRITTEN: &[&str] = &[
    "film",
    "\"un film\" OR \"a movie\"",
    "(\"service client\" OR sav) -remboursement lang:fr",
    "film NEAR/3 bon",
    "film -\"bon film\"",
    "#nike OR @jane_doe",
    "livr* OR deliver*",
    "😡 sentiment:negative",
    "l'avion OR e-mail",
    "topic:\"service client\" OR topic:delivery",
    "author:@Jane_Doe OR nike",
    "order NEAR/5 refund*",
    "NOT film channel:twitter",
    "nike -#nike",
    "#film OR @service",
    "\"#film\"",
    "film NEAR/1 film",
    "film NEAR/100 acteur*",
    "(film OR série) (acteur* OR scénario) -nul",
    "lang:fr -lang:fr",
    "lang:en intent:complaint -sentiment:positive",
    "ete OR #etenike",
    "super NEAR/2 😡",
    "\"qu il\" OR qu'il",
    "https://nike.com/fr",
    "jane NEAR/1 nike",
    "NOT NOT film",
    "film NOT NOT bon",
    "(a OR film) (b OR bon) -(c OR nul)",
    "service NEAR/2 \"service client\"",
];

// ---------------------------------------------------------------------------------------------
// The checks.

/// One standing query.
struct Q {
    id: String,
    expr: Expr,
}

/// Parses back the normal form of `expr`. Returns `Some` when it stands (it must re-parse to
/// itself), `None` when refused as negations only (it must then match the empty message).
fn round_trip(expr: &Expr, problems: &mut Vec<String>) -> Option<Expr> {
    let shown = expr.to_string();
    let empty = RefDoc::new(&empty_input()).matches(expr);
    match parse(&shown) {
        Ok(back) => {
            if back != *expr {
                problems.push(format!(
                    "normal form {shown:?} of {expr:?} parses back as {back:?}"
                ));
            }
            if empty {
                problems.push(format!(
                    "{shown:?} was accepted but matches the empty message"
                ));
            }
            Some(back)
        }
        Err(e) if e.message.contains("made only of negations") => {
            if !empty {
                problems.push(format!(
                    "{shown:?} was refused as negations only but does not match the empty message"
                ));
            }
            None
        }
        Err(e) => {
            problems.push(format!("normal form {shown:?} of {expr:?} refused: {e}"));
            None
        }
    }
}

/// Matches every message of `sample` against the standing `queries` three ways; returns how
/// many messages each query matches, panics listing the first disagreements.
fn compare(perc: &Percolator, queries: &[Q], msgs: &[Msg], sample: &[usize]) -> Vec<usize> {
    assert_eq!(perc.len(), queries.len());
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    let chunk = sample.len().div_ceil(threads).max(1);
    let results: Vec<(Vec<usize>, usize, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = sample
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut scratch = Scratch::default();
                    let mut reused = Scratch::default();
                    let mut naive = Vec::new();
                    let mut into = Vec::new();
                    let mut counts = vec![0; queries.len()];
                    let mut bad = 0;
                    let mut reports = Vec::new();
                    for &i in part {
                        let m = &msgs[i];
                        let input = m.input();
                        let got = perc.matches(&input);
                        perc.matches_naive(&input, &mut scratch, &mut naive);
                        // The production path: buffers reused from message to message.
                        perc.matches_into(&input, &mut reused, &mut into);
                        let doc = RefDoc::new(&input);
                        let mut want = Vec::new();
                        for (n, q) in queries.iter().enumerate() {
                            if doc.matches(&q.expr) {
                                counts[n] += 1;
                                want.push(q.id.as_str());
                            }
                        }
                        want.sort_unstable();
                        if got != want || naive != want || into != want {
                            bad += 1;
                            if reports.len() < 5 {
                                reports.push(report(m, queries, &got, &naive, &into, &want));
                            }
                        }
                    }
                    (counts, bad, reports)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a checking thread"))
            .collect()
    });
    let mut counts = vec![0; queries.len()];
    for r in &results {
        for (c, n) in counts.iter_mut().zip(&r.0) {
            *c += n;
        }
    }
    let bad: usize = results.iter().map(|r| r.1).sum();
    let reports: Vec<String> = results.into_iter().flat_map(|r| r.2).take(10).collect();
    assert!(
        bad == 0,
        "{bad} of {} messages matched differently:\n{}",
        sample.len(),
        reports.join("\n")
    );
    counts
}

fn report(
    m: &Msg,
    queries: &[Q],
    got: &[&str],
    naive: &[&str],
    into: &[&str],
    want: &[&str],
) -> String {
    let mut s = format!("message {}\n", m.describe());
    let mut ids: Vec<&str> = got
        .iter()
        .chain(naive)
        .chain(into)
        .chain(want)
        .copied()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        let (g, n, i, w) = (
            got.contains(&id),
            naive.contains(&id),
            into.contains(&id),
            want.contains(&id),
        );
        if g != w || n != w || i != w {
            let q = queries.iter().find(|q| q.id == id).map(|q| &q.expr);
            let shown = q.map(|e| e.to_string()).unwrap_or_default();
            let _ = writeln!(
                s,
                "  query {id} {shown:?}: percolator {g}, naive {n}, matches_into {i}, \
                 reference {w}\n    {q:?}"
            );
        }
    }
    s
}

/// Random, handwritten and fuzzed queries, checked for round trips; the standing ones.
fn build_queries(corpus: &Corpus, seed: u64, random: usize, fuzz: usize) -> Vec<Q> {
    let mut problems = Vec::new();
    let mut out = Vec::new();
    let mut gen = Gen {
        rng: Rng::new(seed),
        corpus,
        focus: 0,
    };
    let mut refused = 0;
    for i in 0..random {
        let e = gen.query();
        match round_trip(&e, &mut problems) {
            Some(expr) => out.push(Q {
                id: format!("q{i:04}"),
                expr,
            }),
            None => refused += 1,
        }
    }
    for (i, h) in HANDWRITTEN.iter().enumerate() {
        match parse(h) {
            Ok(e) => {
                round_trip(&e, &mut problems);
                out.push(Q {
                    id: format!("h{i:03}"),
                    expr: e,
                });
            }
            Err(e) => problems.push(format!("handwritten {h:?} refused: {e}")),
        }
    }
    let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(1));
    let mut accepted = 0;
    for i in 0..fuzz {
        let s = fuzz_string(&mut rng);
        if let Ok(e) = parse(&s) {
            accepted += 1;
            if RefDoc::new(&empty_input()).matches(&e) {
                problems.push(format!("{s:?} accepted but matches the empty message"));
            }
            let shown = e.to_string();
            if parse(&shown).as_ref() != Ok(&e) {
                problems.push(format!(
                    "{s:?} parses as {e:?}, whose normal form {shown:?} parses as {:?}",
                    parse(&shown)
                ));
            }
            out.push(Q {
                id: format!("f{i:04}"),
                expr: e,
            });
        }
    }
    eprintln!(
        "seed {seed:#x}: {random} random queries, {refused} refused as negations only; \
         {accepted} of {fuzz} fuzzed strings accepted"
    );
    assert!(
        problems.is_empty(),
        "{} round-trip problems:\n{}",
        problems.len(),
        problems
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The generator must mostly produce standing queries, and the fuzzer some.
    assert!(refused * 3 < random.max(1), "{refused} of {random} refused");
    assert!(
        fuzz == 0 || accepted * 20 > fuzz,
        "{accepted} of {fuzz} fuzzed accepted"
    );
    out
}

/// A property of one node of a query.
type ExprTest = fn(&Expr) -> bool;

/// Whether `f` holds for `e` or any expression inside it.
fn mentions(e: &Expr, f: &dyn Fn(&Expr) -> bool) -> bool {
    f(e) || match e {
        Expr::Not(x) => mentions(x, f),
        Expr::And(xs) | Expr::Or(xs) => xs.iter().any(|x| mentions(x, f)),
        _ => false,
    }
}

fn percolator_of(queries: &[Q]) -> Percolator {
    let mut p = Percolator::new();
    for q in queries {
        p.add(&q.id, &q.expr);
    }
    p
}

#[test]
fn random_queries_agree_with_the_reference_on_every_message() {
    let corpus = Corpus::load();
    let queries = build_queries(&corpus, 0xC0FF_EE00, 3_000, 1_500);
    let perc = percolator_of(&queries);
    let all: Vec<usize> = (0..corpus.msgs.len()).collect();
    let counts = compare(&perc, &queries, &corpus.msgs, &all);
    // The test means something only if queries match: most some messages, few all of them.
    let total: usize = counts.iter().sum();
    let some = counts.iter().filter(|c| **c > 0).count();
    let every = counts.iter().filter(|c| **c == all.len()).count();
    eprintln!(
        "{} queries × {} messages: {total} matches; {some} queries match some message, \
         {every} every message",
        queries.len(),
        all.len()
    );
    assert!(some * 2 > queries.len(), "only {some} queries match");
    assert!(
        every * 20 < queries.len(),
        "{every} queries match everything"
    );
    // Each kind of term plays a part in some matching query.
    let live = |f: &dyn Fn(&Expr) -> bool| {
        queries
            .iter()
            .zip(&counts)
            .filter(|(q, c)| **c > 0 && mentions(&q.expr, f))
            .count()
    };
    let kinds: [(&str, ExprTest); 8] = [
        ("phrase", |e| matches!(e, Expr::Atom(Atom::Phrase(_)))),
        ("prefix", |e| matches!(e, Expr::Atom(Atom::Prefix(_)))),
        ("hashtag", |e| matches!(e, Expr::Atom(Atom::Hashtag(_)))),
        ("mention", |e| matches!(e, Expr::Atom(Atom::Mention(_)))),
        ("near", |e| matches!(e, Expr::Near { .. })),
        ("field", |e| matches!(e, Expr::Field(..))),
        ("not", |e| matches!(e, Expr::Not(_))),
        ("or", |e| matches!(e, Expr::Or(_))),
    ];
    for (name, f) in kinds {
        let n = live(&f);
        eprintln!("  {n} matching queries with a {name}");
        assert!(n >= 50, "only {n} matching queries with a {name}");
    }
}

#[test]
fn queries_match_where_they_were_drawn_from() {
    // Atoms alone, each drawn from a message, must match it: checks the generator feeds the
    // comparison with live terms, and the percolator finds each.
    let corpus = Corpus::load();
    let mut gen = Gen {
        rng: Rng::new(11),
        corpus: &corpus,
        focus: 0,
    };
    let mut perc = Percolator::new();
    for i in 0..500 {
        gen.focus = gen.rng.below(corpus.msgs.len());
        let focus = gen.focus;
        if corpus.tokens[focus].is_empty() {
            continue;
        }
        // Only atoms the focus message has.
        let doc = RefDoc::new(&corpus.msgs[focus].input());
        let Some(atom) = (0..1_000)
            .map(|_| gen.valid_atom())
            .find(|a| !doc.occurrences(a).is_empty())
        else {
            panic!("no atom drawn from {}", corpus.msgs[focus].describe());
        };
        let expr = Expr::Atom(atom);
        let input = corpus.msgs[focus].input();
        perc.add("x", &expr);
        assert_eq!(
            perc.matches(&input),
            ["x"],
            "case {i}: {expr} on {}",
            corpus.msgs[focus].describe()
        );
    }
}

#[test]
fn several_seeds_on_a_sample() {
    let corpus = Corpus::load();
    let mut rng = Rng::new(99);
    let sample: Vec<usize> = (0..300).map(|_| rng.below(corpus.msgs.len())).collect();
    for seed in [1, 2, 3, 42, 2024] {
        let queries = build_queries(&corpus, seed, 600, 300);
        let perc = percolator_of(&queries);
        compare(&perc, &queries, &corpus.msgs, &sample);
    }
}

#[test]
fn add_and_remove_keep_the_percolator_exact() {
    let corpus = Corpus::load();
    let mut queries = build_queries(&corpus, 0xADD, 1_500, 500);
    let mut perc = percolator_of(&queries);
    let mut rng = Rng::new(0x5EED);
    let sample: Vec<usize> = (0..400).map(|_| rng.below(corpus.msgs.len())).collect();
    compare(&perc, &queries, &corpus.msgs, &sample);
    // One scratch kept across every change of the percolator, as a long-lived worker does.
    let mut kept_scratch = Scratch::default();
    let mut same_scratch = |perc: &Percolator| {
        let mut out = Vec::new();
        for &i in &sample {
            let input = corpus.msgs[i].input();
            perc.matches_into(&input, &mut kept_scratch, &mut out);
            assert_eq!(
                out,
                perc.matches(&input),
                "scratch kept across changes, on {}",
                corpus.msgs[i].describe()
            );
        }
    };
    same_scratch(&perc);

    // Remove a random half.
    let mut removed = Vec::new();
    let mut kept = Vec::new();
    for q in queries.drain(..) {
        if rng.chance(0.5) {
            assert!(perc.remove(&q.id), "removing {}", q.id);
            assert!(!perc.contains(&q.id));
            removed.push(q);
        } else {
            kept.push(q);
        }
    }
    for q in removed.iter().take(20) {
        assert!(!perc.remove(&q.id), "{} removed twice", q.id);
    }
    assert!(!perc.remove("no-such-query"));
    queries = kept;
    compare(&perc, &queries, &corpus.msgs, &sample);
    same_scratch(&perc);

    // Re-add some under new ids, and replace some standing ones with other queries.
    for (i, q) in removed.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        let id = format!("r{i:04}");
        perc.add(&id, &q.expr);
        queries.push(Q {
            id,
            expr: q.expr.clone(),
        });
    }
    let mut fresh = build_queries(&corpus, 0xF2E5, 300, 0).into_iter();
    for q in queries.iter_mut().step_by(7) {
        let Some(new) = fresh.next() else { break };
        perc.add(&q.id, &new.expr);
        q.expr = new.expr;
    }
    // And some with brand-new terms, so the vocabulary grows after removals.
    for (i, s) in [
        "zorglub",
        "\"nouveau terme\" OR neuf*",
        "#inédit film",
        "@quelquun -film",
    ]
    .iter()
    .enumerate()
    {
        let e = parse(s).expect("a new query");
        let id = format!("n{i}");
        perc.add(&id, &e);
        queries.push(Q { id, expr: e });
    }
    compare(&perc, &queries, &corpus.msgs, &sample);
    same_scratch(&perc);

    // Remove everything: nothing matches.
    for q in &queries {
        assert!(perc.remove(&q.id));
    }
    assert!(perc.is_empty());
    for &i in sample.iter().take(50) {
        assert!(perc.matches(&corpus.msgs[i].input()).is_empty());
    }
    // And re-fill the emptied percolator, reusing its slots.
    let again = build_queries(&corpus, 0xA6A1, 400, 0);
    for q in &again {
        perc.add(&q.id, &q.expr);
    }
    compare(&perc, &again, &corpus.msgs, &sample);
    same_scratch(&perc);
}

#[test]
fn tokens_of_the_reference_follow_the_spec() {
    // The reference's numbering: title tokens, a gap of 1,000, then the text.
    let input = Input {
        title: Some("Nike Air"),
        text: "J'adore #Nike @Jane_Doe 😡",
        fields: Fields::default(),
    };
    let toks: Vec<(usize, String, TokenKind)> = RefDoc::new(&input)
        .tokens
        .into_iter()
        .map(|t| (t.pos, t.text, t.kind))
        .collect();
    let w = TokenKind::Word;
    assert_eq!(
        toks,
        vec![
            (0, "nike".into(), w),
            (1, "air".into(), w),
            (1002, "j".into(), w),
            (1003, "adore".into(), w),
            (1004, "nike".into(), TokenKind::Hashtag),
            (1005, "jane_doe".into(), TokenKind::Mention),
            (1006, "😡".into(), w),
        ]
    );
    assert_eq!(analyze("").count(), 0);
}

/// Texts made of characters from many scripts, combining marks, emoji and entity signs: every
/// token they yield, as a word, phrase, prefix, hashtag or mention, prints and parses back to
/// itself, and the percolator agrees with the reference on such texts.
#[test]
fn exotic_characters() {
    const ALPHABET: &str = "aZéÉœŒßẞİıΣσςДдあア漢١٢0123456789²ⅫⒶǅﬁ_#@'’-. ,😡👍🏽❤\u{200d}\
                            \u{301}\u{0300}ÅÅ";
    let alphabet: Vec<char> = ALPHABET.chars().collect();
    let mut rng = Rng::new(0xE407);
    let random_text = |rng: &mut Rng, max: usize| -> String {
        (0..rng.range(1, max))
            .map(|_| *rng.pick(&alphabet))
            .collect()
    };
    // Every token can be named in a query: never empty, never only `_` (stray combining marks
    // and variation selectors are no tokens; an entity needs a letter or digit).
    let writable = |t: &str| !t.is_empty() && !t.chars().all(|c| c == '_');
    let mut problems = Vec::new();
    let mut queries = Vec::new();
    let mut texts = Vec::new();
    for i in 0..20_000 {
        let s = random_text(&mut rng, 12);
        let toks: Vec<(String, TokenKind)> =
            analyze(&s).map(|t| (t.text.into_owned(), t.kind)).collect();
        for (t, _) in &toks {
            assert!(
                writable(t),
                "text {s:?} gave the token {t:?}, which no query can name"
            );
        }
        let mut atoms = Vec::new();
        for (t, _) in &toks {
            atoms.push(Atom::Word(t.clone()));
            if t.chars().all(|c| c.is_alphanumeric() || c == '_') {
                atoms.push(Atom::Hashtag(t.clone()));
                atoms.push(Atom::Mention(t.clone()));
            }
            if t.chars().count() >= 3 && t.chars().all(char::is_alphanumeric) {
                let k = rng.range(3, t.chars().count());
                atoms.push(Atom::Prefix(t.chars().take(k).collect()));
            }
        }
        for w in toks.windows(2) {
            atoms.push(Atom::Phrase(vec![w[0].0.clone(), w[1].0.clone()]));
        }
        for a in &atoms {
            let e = Expr::Atom(a.clone());
            let shown = e.to_string();
            match parse(&shown) {
                Ok(back) if back == e => {}
                other => problems.push(format!(
                    "text {s:?}: atom {a:?} prints as {shown:?}, parses as {other:?}"
                )),
            }
        }
        if i % 20 == 0 && atoms.len() >= 2 {
            let left = atoms[rng.below(atoms.len())].clone();
            let right = atoms[rng.below(atoms.len())].clone();
            queries.push(Expr::Near {
                left,
                right,
                distance: rng.range(1, 3) as u32,
            });
            queries.push(Expr::Atom(atoms[rng.below(atoms.len())].clone()));
        }
        if i % 10 == 0 {
            texts.push(s);
        }
    }
    assert!(
        problems.is_empty(),
        "{} atoms do not round-trip:\n{}",
        problems.len(),
        problems
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Messages glued from the same texts, matched against all the queries.
    let msgs: Vec<Msg> = (0..texts.len())
        .map(|i| Msg {
            title: (i % 4 == 0).then(|| texts[(i * 7) % texts.len()].clone()),
            text: format!(
                "{} {} {}",
                texts[i],
                texts[(i * 13 + 1) % texts.len()],
                random_text(&mut rng, 20)
            ),
            lang: None,
            channel: None,
            author: None,
            sentiment: None,
            intent: None,
            topics: Vec::new(),
        })
        .collect();
    let queries: Vec<Q> = queries
        .into_iter()
        .enumerate()
        .map(|(i, expr)| Q {
            id: format!("x{i:04}"),
            expr,
        })
        .collect();
    let perc = percolator_of(&queries);
    let all: Vec<usize> = (0..msgs.len()).collect();
    let counts = compare(&perc, &queries, &msgs, &all);
    let some = counts.iter().filter(|c| **c > 0).count();
    assert!(
        some * 4 > queries.len(),
        "only {some} of {} match",
        queries.len()
    );
}
