//! From text to hashed features: a tokenizer that knows what social messages are made of, then
//! word unigrams, word bigrams and character n-grams hashed into a fixed number of buckets.
//!
//! The tokenizer (for features only; the original text is kept):
//! - Unicode folding: case and accents removed (`Été` → `ete`), as everywhere in Copernic;
//! - URLs become `<url>`, @mentions `<mention>`, numbers `<num>` (their values say nothing of a
//!   message's meaning and would scatter the buckets);
//! - #hashtags give the tag and its CamelCase words (`#JustDoIt` → `#justdoit`, `just`, `do`,
//!   `it`);
//! - each emoji is a token; `!` and `?` are tokens (they carry tone and questions);
//! - elongations are squeezed to two letters (`trèèès` → `trees`, `sooo` → `soo`);
//! - French elisions lose their article (`l'avion` → `avion`, `qu'il` → `il`);
//! - negation scope: after `pas`, `jamais`, `plus`, `rien`, `aucun`, `ni`, `not`, `never`, `no`,
//!   `nothing`, `nobody`, a `n't` ending, up to three following words (or to the next
//!   punctuation) are marked (`pas bon` → `pas`, `!bon`).

use std::borrow::Cow;

use copernic_core::text::{fold_token, is_emoji};
use serde::{Deserialize, Serialize};

/// How text becomes features; part of every model file (a model only reads the features it was
/// trained on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureConfig {
    /// log2 of the number of hash buckets.
    pub bits: u8,
    /// 1: words; 2: words and pairs of adjacent words.
    pub word_ngrams: u8,
    /// Character n-grams of each word from `char_min` to `char_max` characters (0: none).
    pub char_min: u8,
    pub char_max: u8,
}

impl Default for FeatureConfig {
    fn default() -> FeatureConfig {
        FeatureConfig {
            bits: 20,
            word_ngrams: 2,
            char_min: 3,
            char_max: 5,
        }
    }
}

impl FeatureConfig {
    pub fn buckets(&self) -> usize {
        1usize << self.bits
    }
}

/// One token as the features see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    /// Inside a negation's scope.
    pub negated: bool,
    /// A plain word (char n-grams are taken from words only).
    pub word: bool,
}

const NEGATIONS: [&str; 11] = [
    "pas", "jamais", "plus", "rien", "aucun", "ni", "not", "never", "no", "nothing", "nobody",
];
/// How many words a negation reaches.
const NEGATION_SCOPE: u8 = 3;
/// French articles and pronouns that elide before a vowel.
const ELIDED: [&str; 10] = ["l", "d", "j", "qu", "m", "t", "s", "n", "c", "jusqu"];

fn squeeze_elongation(s: &str) -> Cow<'_, str> {
    // Most words have no letter three times in a row: no copy for them.
    let b = s.as_bytes();
    let ascii_run = b.windows(3).any(|w| w[0] == w[1] && w[1] == w[2]);
    if s.is_ascii() && !ascii_run {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut last = '\0';
    let mut run = 0;
    for c in s.chars() {
        if c == last {
            run += 1;
            if run >= 2 {
                continue;
            }
        } else {
            last = c;
            run = 0;
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// Splits a hashtag body on CamelCase and digit boundaries: `JustDoIt2024` → just, do, it, 2024.
fn camel_words(body: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev: Option<char> = None;
    for c in body.chars() {
        let boundary = match prev {
            Some(p) => {
                c == '_'
                    || (c.is_uppercase() && p.is_lowercase())
                    || (c.is_ascii_digit() != p.is_ascii_digit())
            }
            None => false,
        };
        if boundary && !cur.is_empty() {
            words.push(word_form(&cur).into_owned());
            cur.clear();
        }
        if c != '_' {
            cur.push(c);
        }
        prev = Some(c);
    }
    if !cur.is_empty() {
        words.push(word_form(&cur).into_owned());
    }
    words
}

/// A word as a feature: folded, numbers as `<num>`, elongations squeezed.
fn word_form(raw: &str) -> Cow<'_, str> {
    let folded = fold_token(raw);
    if folded.bytes().all(|c| c.is_ascii_digit()) {
        return Cow::Borrowed("<num>");
    }
    match folded {
        Cow::Borrowed(f) => squeeze_elongation(f),
        Cow::Owned(f) => Cow::Owned(squeeze_elongation(&f).into_owned()),
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || unicode_normalization::char::is_combining_mark(c)
}

/// The feature tokens of `text`.
pub fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for_each_token(text, &mut Vec::new(), &mut |t, negated, word| {
        out.push(Token {
            text: t.to_string(),
            negated,
            word,
        })
    });
    out
}

/// Calls `sink(text, negated, word)` for each feature token of `text`, without building them:
/// the per-message hot path. `chars` is a reusable buffer.
pub fn for_each_token(
    text: &str,
    chars: &mut Vec<(usize, char)>,
    sink: &mut dyn FnMut(&str, bool, bool),
) {
    let mut out = Sink(sink);
    let mut scope = 0u8;
    chars.clear();
    chars.extend(text.char_indices());
    let chars = &chars[..];
    let mut i = 0;
    let push = |out: &mut Sink<'_>, text: Cow<'_, str>, word: bool, scope: &mut u8| {
        let negated = *scope > 0 && word;
        if negated {
            *scope -= 1;
        }
        (out.0)(&text, negated, word);
    };
    while i < chars.len() {
        let (at, c) = chars[i];
        let rest = &text[at..];
        // URLs: scheme or www., up to the next space.
        if (c == 'h' || c == 'H' || c == 'w' || c == 'W')
            && (starts_with_ci(rest, "http://")
                || starts_with_ci(rest, "https://")
                || starts_with_ci(rest, "www."))
        {
            while i < chars.len() && !chars[i].1.is_whitespace() {
                i += 1;
            }
            push(&mut out, Cow::Borrowed("<url>"), false, &mut scope);
            continue;
        }
        if (c == '@' || c == '#')
            && i + 1 < chars.len()
            && (chars[i + 1].1.is_alphanumeric() || chars[i + 1].1 == '_')
            && (i == 0 || !is_word_char(chars[i - 1].1))
        {
            let start = i + 1;
            let mut j = start;
            while j < chars.len() && (is_word_char(chars[j].1) || chars[j].1 == '_') {
                j += 1;
            }
            let end_byte = chars.get(j).map_or(text.len(), |x| x.0);
            let body = &text[chars[start].0..end_byte];
            if c == '@' {
                push(&mut out, Cow::Borrowed("<mention>"), false, &mut scope);
            } else {
                push(
                    &mut out,
                    Cow::Owned(format!("#{}", fold_token(body))),
                    false,
                    &mut scope,
                );
                for w in camel_words(body) {
                    push(&mut out, Cow::Owned(w), true, &mut scope);
                }
            }
            i = j;
            continue;
        }
        if is_word_char(c) && !unicode_normalization::char::is_combining_mark(c) {
            let mut j = i;
            while j < chars.len() && is_word_char(chars[j].1) {
                j += 1;
            }
            let end_byte = chars.get(j).map_or(text.len(), |x| x.0);
            let raw = &text[at..end_byte];
            let folded = fold_token(raw);
            // An elided article: `l'` before a word.
            let apostrophe = chars.get(j).is_some_and(|x| x.1 == '\'' || x.1 == '’');
            let next_is_word = chars.get(j + 1).is_some_and(|x| x.1.is_alphabetic());
            i = j;
            if apostrophe && next_is_word && ELIDED.contains(&&*folded) {
                i = j + 1;
                continue;
            }
            // English `n't`: `don't` → do + negation.
            if apostrophe
                && folded.ends_with('n')
                && chars.get(j + 1).is_some_and(|x| x.1 == 't' || x.1 == 'T')
                && !chars.get(j + 2).is_some_and(|x| x.1.is_alphanumeric())
            {
                let stem = &folded[..folded.len() - 1];
                if !stem.is_empty() {
                    push(&mut out, Cow::Borrowed(stem), true, &mut scope);
                }
                push(&mut out, Cow::Borrowed("not"), true, &mut scope);
                scope = NEGATION_SCOPE;
                i = j + 2;
                continue;
            }
            let word = word_form(raw);
            let is_negation = NEGATIONS.contains(&&*word);
            push(&mut out, word, true, &mut scope);
            if is_negation {
                scope = NEGATION_SCOPE;
            }
            continue;
        }
        if is_emoji(c) {
            push(
                &mut out,
                Cow::Borrowed(&text[at..at + c.len_utf8()]),
                false,
                &mut scope,
            );
        } else if c == '!' || c == '?' {
            // Repeated marks are one token: `!!!` says what `!` says, louder.
            push(
                &mut out,
                Cow::Borrowed(&text[at..at + 1]),
                false,
                &mut scope,
            );
            while i + 1 < chars.len() && chars[i + 1].1 == c {
                i += 1;
            }
            scope = 0;
        } else if matches!(c, '.' | ',' | ';' | ':' | '\n') {
            // Punctuation ends a negation's reach.
            scope = 0;
        }
        i += 1;
    }
}

/// A `dyn FnMut` the closures above can share.
struct Sink<'a>(&'a mut dyn FnMut(&str, bool, bool));

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// 64-bit FNV-1a-style mixing, seeded per feature family so that a word, a pair and an n-gram
/// with the same bytes land in different buckets.
#[inline]
fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed ^ 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // Final avalanche: the low bits pick the bucket.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

const SEED_WORD: u64 = 1;
const SEED_NEG: u64 = 2;
const SEED_PAIR: u64 = 3;
const SEED_CHAR: u64 = 4;

/// The hashed features of `text` (bucket numbers, duplicates kept: a repeated word weighs more),
/// appended to `out` after clearing it.
pub fn extract(text: &str, cfg: &FeatureConfig, out: &mut Vec<u32>) {
    EXTRACT.with(|b| {
        let mut b = b.borrow_mut();
        let Buffers { chars, gram, wide } = &mut *b;
        extract_with(text, cfg, out, chars, gram, wide);
    })
}

/// Reused per thread: `extract` allocates nothing per message once warm.
#[derive(Default)]
struct Buffers {
    chars: Vec<(usize, char)>,
    gram: Vec<u8>,
    wide: Vec<char>,
}

thread_local! {
    static EXTRACT: std::cell::RefCell<Buffers> = std::cell::RefCell::new(Buffers::default());
}

fn extract_with(
    text: &str,
    cfg: &FeatureConfig,
    out: &mut Vec<u32>,
    chars: &mut Vec<(usize, char)>,
    gram: &mut Vec<u8>,
    wide: &mut Vec<char>,
) {
    out.clear();
    let mask = (cfg.buckets() - 1) as u64;
    let mut prev: Option<u64> = None;
    let mut tmp = [0u8; 4 * 8];
    for_each_token(text, chars, &mut |t, negated, word| {
        let seed = if negated { SEED_NEG } else { SEED_WORD };
        let h = hash_bytes(seed, t.as_bytes());
        out.push((h & mask) as u32);
        if cfg.word_ngrams >= 2 {
            if let Some(p) = prev {
                let pair = hash_bytes(SEED_PAIR ^ p, &h.to_le_bytes());
                out.push((pair & mask) as u32);
            }
            prev = Some(h);
        }
        if cfg.char_max == 0 || !word {
            return;
        }
        // `<word>`: the boundaries make prefixes and suffixes features of their own.
        if t.is_ascii() {
            // One byte per character: the n-grams are byte windows.
            gram.clear();
            gram.push(b'<');
            gram.extend_from_slice(t.as_bytes());
            gram.push(b'>');
            for n in cfg.char_min as usize..=cfg.char_max as usize {
                if n > gram.len() {
                    break;
                }
                for w in gram.windows(n) {
                    out.push((hash_bytes(SEED_CHAR, w) & mask) as u32);
                }
            }
        } else {
            wide.clear();
            wide.push('<');
            wide.extend(t.chars());
            wide.push('>');
            for n in cfg.char_min as usize..=cfg.char_max as usize {
                if n > wide.len() {
                    break;
                }
                for w in wide.windows(n) {
                    let mut len = 0;
                    for c in w {
                        len += c.encode_utf8(&mut tmp[len..]).len();
                    }
                    out.push((hash_bytes(SEED_CHAR, &tmp[..len]) & mask) as u32);
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, want: &[&str]) {
        let got: Vec<String> = tokens(text)
            .into_iter()
            .map(|t| {
                if t.negated {
                    format!("!{}", t.text)
                } else {
                    t.text
                }
            })
            .collect();
        assert_eq!(got, want, "text {text:?}");
    }

    #[test]
    fn tokenizer_knows_social_text() {
        let cases: &[(&str, &[&str])] = &[
            ("Super SERVICE, merci", &["super", "service", "merci"]),
            (
                "voir https://t.co/AbC?x=1 et www.site.fr",
                &["voir", "<url>", "et", "<url>"],
            ),
            ("@SNCF_Direct aidez-moi", &["<mention>", "aidez", "moi"]),
            (
                "#JustDoIt2024 top",
                &["#justdoit2024", "just", "do", "it", "<num>", "top"],
            ),
            ("#service_client", &["#service_client", "service", "client"]),
            ("trèèès bien, sooo good", &["trees", "bien", "soo", "good"]),
            (
                "l'avion qu'il d'abord j'adore",
                &["avion", "il", "abord", "adore"],
            ),
            (
                "ce n'est pas bon du tout. Merci",
                &["ce", "est", "pas", "!bon", "!du", "!tout", "merci"],
            ),
            ("not good at all", &["not", "!good", "!at", "!all"]),
            ("I don't like it", &["i", "do", "not", "!like", "!it"]),
            (
                "jamais reçu, remboursez",
                &["jamais", "!recu", "remboursez"],
            ),
            ("Vraiment ?!! 😡😡", &["vraiment", "?", "!", "😡", "😡"]),
            ("commande 123456 livrée", &["commande", "<num>", "livree"]),
            ("a@b.com C# x", &["a", "b", "com", "c", "x"]),
            ("", &[]),
        ];
        for (text, want) in cases {
            check(text, want);
        }
    }

    #[test]
    fn features_are_stable_and_bounded() {
        let cfg = FeatureConfig {
            bits: 10,
            ..FeatureConfig::default()
        };
        let mut a = Vec::new();
        let mut b = Vec::new();
        extract("Le colis n'est pas arrivé 😡", &cfg, &mut a);
        extract("Le colis n'est pas arrivé 😡", &cfg, &mut b);
        assert_eq!(a, b);
        assert!(a.iter().all(|&f| (f as usize) < cfg.buckets()));
        // Words, pairs and character n-grams all contribute.
        assert!(a.len() > 6 * 2);
        // Negation changes the features of what follows it.
        extract("arrivé", &cfg, &mut a);
        extract("pas arrivé", &cfg, &mut b);
        assert!(!b.contains(&a[0]));
    }

    #[test]
    fn never_panics_on_odd_text() {
        let mut out = Vec::new();
        for t in [
            "'",
            "l'",
            "n't",
            "#",
            "@",
            "#_",
            "\u{301}",
            "é\u{301}'t",
            "http",
            "don'",
            "a'b'c'",
        ] {
            extract(t, &FeatureConfig::default(), &mut out);
        }
    }
}
