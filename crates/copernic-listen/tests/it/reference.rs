//! A brute-force matcher written from `docs/query-language.md`, independent of `percolator.rs`:
//! it walks the syntax tree over a plain list of `(position, text, kind)` tokens with naive
//! loops, so that the percolator (index, presearcher, compiled nodes) can be checked against it.

use copernic_core::text::{analyze, fold, TokenKind};
use copernic_listen::{Atom, Expr, Field, Input};

/// "the title's numbers are followed by a gap of 1,000".
pub const TITLE_GAP: usize = 1_000;

/// One token of a message, as the spec numbers them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefToken {
    pub pos: usize,
    pub text: String,
    pub kind: TokenKind,
}

/// The tokens of a message: title first, then a gap of [`TITLE_GAP`], then the text.
pub fn ref_tokens(input: &Input<'_>) -> Vec<RefToken> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut push = |s: &str, pos: &mut usize| {
        for t in analyze(s) {
            out.push(RefToken {
                pos: *pos,
                text: t.text.into_owned(),
                kind: t.kind,
            });
            *pos += 1;
        }
    };
    if let Some(title) = input.title {
        push(title, &mut pos);
        pos += TITLE_GAP;
    }
    push(input.text, &mut pos);
    out
}

/// A message field value the way the spec compares it: folded; a language is its primary subtag
/// (`fr-CA` → `fr`); a handle loses its leading `@`.
pub fn ref_normalise(field: Field, value: &str) -> String {
    let v = fold(value);
    match field {
        Field::Lang => v.split(['-', '_']).next().unwrap_or("").to_string(),
        Field::Author => v.strip_prefix('@').unwrap_or(&v).to_string(),
        _ => v,
    }
}

/// A message prepared for the reference matcher: its tokens and its normalised fields.
pub struct RefDoc {
    pub tokens: Vec<RefToken>,
    lang: Option<String>,
    channel: Option<String>,
    author: Option<String>,
    sentiment: Option<String>,
    intent: Option<String>,
    topics: Vec<String>,
}

impl RefDoc {
    pub fn new(input: &Input<'_>) -> RefDoc {
        let f = &input.fields;
        let norm = |field: Field, v: Option<&str>| v.map(|v| ref_normalise(field, v));
        RefDoc {
            tokens: ref_tokens(input),
            lang: norm(Field::Lang, f.lang),
            channel: norm(Field::Channel, f.channel),
            author: norm(Field::Author, f.author),
            sentiment: norm(Field::Sentiment, f.sentiment),
            intent: norm(Field::Intent, f.intent),
            topics: f
                .topics
                .iter()
                .map(|t| ref_normalise(Field::Topic, t))
                .collect(),
        }
    }

    /// Whether the message matches `expr`, by the spec's table of meanings.
    pub fn matches(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Atom(a) => !self.occurrences(a).is_empty(),
            Expr::Near {
                left,
                right,
                distance,
            } => {
                let n = *distance as usize;
                let a = self.occurrences(left);
                let b = self.occurrences(right);
                for &(s1, e1) in &a {
                    for &(s2, e2) in &b {
                        // Either order, not overlapping, the second starting at most n tokens
                        // after the first ends.
                        if (e1 < s2 && s2 - e1 <= n) || (e2 < s1 && s1 - e2 <= n) {
                            return true;
                        }
                    }
                }
                false
            }
            Expr::Field(field, value) => {
                let has = |v: &Option<String>| v.as_deref() == Some(value.as_str());
                match field {
                    Field::Lang => has(&self.lang),
                    Field::Channel => has(&self.channel),
                    Field::Author => has(&self.author),
                    Field::Sentiment => has(&self.sentiment),
                    Field::Intent => has(&self.intent),
                    Field::Topic => self.topics.iter().any(|t| t == value),
                }
            }
            Expr::Not(x) => !self.matches(x),
            Expr::And(xs) => xs.iter().all(|x| self.matches(x)),
            Expr::Or(xs) => xs.iter().any(|x| self.matches(x)),
        }
    }

    /// `(first position, last position)` of every occurrence of `atom`, scanning every token.
    pub fn occurrences(&self, atom: &Atom) -> Vec<(usize, usize)> {
        let toks = &self.tokens;
        let mut out = Vec::new();
        match atom {
            Atom::Word(w) => {
                for t in toks {
                    if t.text == *w {
                        out.push((t.pos, t.pos));
                    }
                }
            }
            Atom::Hashtag(h) => {
                for t in toks {
                    if t.kind == TokenKind::Hashtag && t.text == *h {
                        out.push((t.pos, t.pos));
                    }
                }
            }
            Atom::Mention(m) => {
                for t in toks {
                    if t.kind == TokenKind::Mention && t.text == *m {
                        out.push((t.pos, t.pos));
                    }
                }
            }
            Atom::Prefix(p) => {
                assert!(p.chars().count() >= 3, "prefix {p:?} shorter than 3");
                for t in toks {
                    if t.text.starts_with(p.as_str()) {
                        out.push((t.pos, t.pos));
                    }
                }
            }
            Atom::Phrase(ws) => {
                assert!(ws.len() >= 2, "phrase of fewer than two words: {ws:?}");
                for start in 0..toks.len() {
                    if start + ws.len() > toks.len() {
                        break;
                    }
                    let first = toks[start].pos;
                    let all = ws.iter().enumerate().all(|(j, w)| {
                        let t = &toks[start + j];
                        t.pos == first + j && t.text == *w
                    });
                    if all {
                        out.push((first, first + ws.len() - 1));
                    }
                }
            }
        }
        out
    }
}

/// The reference: whether `input` matches `expr` according to the spec.
pub fn reference_matches(expr: &Expr, input: &Input<'_>) -> bool {
    RefDoc::new(input).matches(expr)
}

/// The empty message: no title, no text, no fields.
pub fn empty_input() -> Input<'static> {
    Input {
        title: None,
        text: "",
        fields: Default::default(),
    }
}
