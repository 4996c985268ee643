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

use copernic_core::hash::{fnv1a, FNV_OFFSET, FNV_PRIME};
use copernic_core::text::{fold_token, fold_token_into, is_alphanumeric, is_emoji, is_word_char};
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

// The words `is_negation` and `is_elided` match (a test checks that they agree).
#[cfg(test)]
const NEGATIONS: [&str; 11] = [
    "pas", "jamais", "plus", "rien", "aucun", "ni", "not", "never", "no", "nothing", "nobody",
];
/// How many words a negation reaches.
const NEGATION_SCOPE: u8 = 3;
/// French articles and pronouns that elide before a vowel.
#[cfg(test)]
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
    folded_word_form(fold_token(raw))
}

/// [`word_form`] of a word already folded.
fn folded_word_form(folded: Cow<'_, str>) -> Cow<'_, str> {
    if folded.bytes().all(|c| c.is_ascii_digit()) {
        return Cow::Borrowed(NUMBER);
    }
    match folded {
        Cow::Borrowed(f) => squeeze_elongation(f),
        // An owned fold with nothing to squeeze is kept as it is, not copied.
        Cow::Owned(f) => match squeeze_elongation(&f) {
            Cow::Borrowed(_) => Cow::Owned(f),
            Cow::Owned(s) => Cow::Owned(s),
        },
    }
}

/// One of [`ELIDED`], without comparing against each in turn (every word is asked).
fn is_elided(w: &str) -> bool {
    match w.as_bytes() {
        [b] => matches!(b, b'l' | b'd' | b'j' | b'm' | b't' | b's' | b'n' | b'c'),
        b => b == b"qu" || b == b"jusqu",
    }
}

/// One of [`NEGATIONS`], without comparing against each in turn (every word is asked).
fn is_negation(w: &str) -> bool {
    match w.len() {
        2 => w == "ni" || w == "no",
        3 => w == "pas" || w == "not",
        4 => w == "plus" || w == "rien",
        5 => w == "aucun" || w == "never",
        6 => w == "jamais" || w == "nobody",
        7 => w == "nothing",
        _ => false,
    }
}

/// The character at byte `at` of `text` (a character boundary) and its length in bytes.
#[inline]
fn char_at(text: &str, at: usize) -> Option<(char, usize)> {
    let b = *text.as_bytes().get(at)?;
    if b < 0x80 {
        return Some((char::from(b), 1));
    }
    let c = text[at..].chars().next()?;
    Some((c, c.len_utf8()))
}

/// The byte where the run of characters satisfying `f` that starts at `at` ends.
#[inline]
fn run_end(text: &str, mut at: usize, f: impl Fn(char) -> bool) -> usize {
    let bytes = text.as_bytes();
    while at < bytes.len() {
        let b = bytes[at];
        if b < 0x80 {
            if !f(char::from(b)) {
                break;
            }
            at += 1;
        } else {
            match text[at..].chars().next() {
                Some(c) if f(c) => at += c.len_utf8(),
                _ => break,
            }
        }
    }
    at
}

/// The feature tokens of `text`.
pub fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for_each_token(text, &mut |t, negated, word| {
        out.push(Token {
            text: t.to_string(),
            negated,
            word,
        })
    });
    out
}

/// Calls `sink(text, negated, word)` for each feature token of `text`, without building them:
/// the per-message hot path.
pub fn for_each_token(text: &str, sink: &mut dyn FnMut(&str, bool, bool)) {
    tokenize(text, sink, None);
}

/// The token a number becomes: every number says the same to a model.
pub(crate) const NUMBER: &str = "<num>";

/// Whether a token is one of [`word_hashes`]': a word that is not a number.
#[inline]
pub(crate) fn is_hashed_word(t: &str, word: bool) -> bool {
    word && t != NUMBER
}

/// The hashes of `text`'s words, in order, into `out` (cleared first): its word tokens (folded,
/// elongations squeezed, elided articles dropped, hashtags cut into their words) other than
/// numbers, each as [`token_hash`]. Links, mentions, emoji and marks are not words. The classify
/// step collects the same hashes while it sums the logits ([`crate::defaults::Scratch::word_hashes`]):
/// near-duplicate fingerprints are made from them without cutting the text again.
pub fn word_hashes(text: &str, out: &mut Vec<u64>) {
    out.clear();
    tokenize(
        text,
        &mut |t: &str, negated: bool, word: bool| {
            if is_hashed_word(t, word) {
                out.push(token_hash(t, negated));
            }
        },
        None,
    );
}

/// Calls `words` with each word of `text` as the search analyzer folds it
/// ([`copernic_core::text::analyze`]: words before elisions, negations and elongations are
/// handled, hashtag and mention bodies, the words of URLs, emoji), so that a word list can be
/// checked while the features are cut, and the search index can take a classified message's
/// words without analysing its text again. The same words as the analyzer's, empty ones aside
/// (a test holds them equal on real and random texts); their order may differ.
pub fn for_each_word(text: &str, words: &mut dyn FnMut(&str)) {
    tokenize(text, &mut |_, _, _| {}, Some(words));
}

pub(crate) fn tokenize<S: FnMut(&str, bool, bool) + ?Sized>(
    text: &str,
    sink: &mut S,
    mut words: Option<&mut dyn FnMut(&str)>,
) {
    let mut scope = 0u8;
    let mut push = |text: &str, word: bool, scope: &mut u8| {
        let negated = *scope > 0 && word;
        if negated {
            *scope -= 1;
        }
        sink(text, negated, word);
    };
    let bytes = text.as_bytes();
    // Where tokens that need folding are folded: one buffer for the text, not a string each.
    let mut fold_buf = String::new();
    let mut at = 0;
    while let Some((c, len)) = char_at(text, at) {
        if c == ' ' {
            // The most common character after letters, and nothing else below reads it.
            at += 1;
            continue;
        }
        let rest = &text[at..];
        // URLs: scheme or www., up to the next space.
        if (c == 'h' || c == 'H' || c == 'w' || c == 'W')
            && (starts_with_ci(rest, "http://")
                || starts_with_ci(rest, "https://")
                || starts_with_ci(rest, "www."))
        {
            let end = rest
                .find(char::is_whitespace)
                .map_or(text.len(), |k| at + k);
            if let Some(w) = words.as_deref_mut() {
                for t in copernic_core::text::tokens(&text[at..end]) {
                    w(&t);
                }
            }
            push("<url>", false, &mut scope);
            at = end;
            continue;
        }
        if c == '@' || c == '#' {
            // Both signs are one byte.
            let start = at + 1;
            let tag = char_at(text, start).is_some_and(|(n, _)| is_alphanumeric(n) || n == '_')
                && !text[..at].chars().next_back().is_some_and(is_word_char);
            if tag {
                let end = run_end(text, start, |c| is_word_char(c) || c == '_');
                let body = &text[start..end];
                let folded = fold_token_into(body, &mut fold_buf);
                if let Some(w) = words.as_deref_mut() {
                    // The analyzer makes no tag of a sign after `_`, nor of a body without a letter
                    // or digit: it reads the words of the body.
                    if text[..at].ends_with('_') || !folded.chars().any(char::is_alphanumeric) {
                        for t in copernic_core::text::tokens(body) {
                            w(&t);
                        }
                    } else {
                        w(folded);
                    }
                }
                if c == '@' {
                    push("<mention>", false, &mut scope);
                } else {
                    push(&format!("#{folded}"), false, &mut scope);
                    for w in camel_words(body) {
                        push(&w, true, &mut scope);
                    }
                }
                at = end;
                continue;
            }
        }
        // A word starts with a letter or digit, as the analyzer's: a combining mark only
        // continues one.
        if is_alphanumeric(c) {
            let end = run_end(text, at + len, is_word_char);
            let folded = Cow::Borrowed(fold_token_into(&text[at..end], &mut fold_buf));
            if let Some(w) = words.as_deref_mut() {
                w(&folded);
            }
            // An elided article: `l'` before a word.
            let next = char_at(text, end);
            let after_next = next.and_then(|(_, n)| char_at(text, end + n));
            let apostrophe = next.is_some_and(|(x, _)| x == '\'' || x == '’');
            at = end;
            if apostrophe {
                let skip = end + next.map_or(0, |(_, n)| n);
                if after_next.is_some_and(|(x, _)| x.is_alphabetic()) && is_elided(&folded) {
                    at = skip;
                    continue;
                }
                // English `n't`: `don't` → do + negation. The `t` must be a word of its own, as
                // the analyzer reads it.
                if folded.ends_with('n')
                    && after_next.is_some_and(|(x, _)| x == 't' || x == 'T')
                    && !char_at(text, skip + 1).is_some_and(|(x, _)| is_word_char(x))
                {
                    if let Some(w) = words.as_deref_mut() {
                        w("t");
                    }
                    let stem = &folded[..folded.len() - 1];
                    if !stem.is_empty() {
                        push(stem, true, &mut scope);
                    }
                    push("not", true, &mut scope);
                    scope = NEGATION_SCOPE;
                    at = skip + 1;
                    continue;
                }
            }
            let word = folded_word_form(folded);
            let negation = is_negation(&word);
            push(&word, true, &mut scope);
            if negation {
                scope = NEGATION_SCOPE;
            }
            continue;
        }
        if !c.is_ascii() && is_emoji(c) {
            let emoji = &text[at..at + len];
            if let Some(w) = words.as_deref_mut() {
                // A word of the analyzer's.
                w(fold_token_into(emoji, &mut fold_buf));
            }
            push(emoji, false, &mut scope);
        } else if c == '!' || c == '?' {
            // Repeated marks are one token: `!!!` says what `!` says, louder.
            push(&text[at..at + 1], false, &mut scope);
            while bytes.get(at + 1) == Some(&(c as u8)) {
                at += 1;
            }
            scope = 0;
        } else if matches!(c, '.' | ',' | ';' | ':' | '\n') {
            // Punctuation ends a negation's reach.
            scope = 0;
        }
        at += len;
    }
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// 64-bit FNV-1a-style mixing, seeded per feature family so that a word, a pair and an n-gram
/// with the same bytes land in different buckets.
#[inline]
fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    avalanche(fnv1a(seed ^ FNV_OFFSET, bytes))
}

#[inline(always)]
fn avalanche(mut h: u64) -> u64 {
    // The low bits pick the bucket.
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
    extract_inner(text, cfg, out, None);
}

/// [`extract`], calling `words` with each word of the text as [`for_each_word`] does: one pass
/// for the features and a word list. `words` must not call `extract` (it runs inside the thread's
/// buffers).
pub fn extract_with_words(
    text: &str,
    cfg: &FeatureConfig,
    out: &mut Vec<u32>,
    words: &mut dyn FnMut(&str),
) {
    extract_inner(text, cfg, out, Some(words));
}

fn extract_inner(
    text: &str,
    cfg: &FeatureConfig,
    out: &mut Vec<u32>,
    words: Option<&mut dyn FnMut(&str)>,
) {
    EXTRACT.with(|b| {
        let mut b = b.borrow_mut();
        let Buffers {
            gram,
            bounds,
            states,
        } = &mut *b;
        extract_with(text, cfg, out, gram, bounds, states, words);
    })
}

/// Reused per thread: `extract` allocates nothing per message once warm.
#[derive(Default)]
struct Buffers {
    gram: Vec<u8>,
    bounds: Vec<usize>,
    states: Vec<u64>,
}

thread_local! {
    static EXTRACT: std::cell::RefCell<Buffers> = std::cell::RefCell::new(Buffers::default());
}

fn extract_with(
    text: &str,
    cfg: &FeatureConfig,
    out: &mut Vec<u32>,
    gram: &mut Vec<u8>,
    bounds: &mut Vec<usize>,
    states: &mut Vec<u64>,
    words: Option<&mut dyn FnMut(&str)>,
) {
    out.clear();
    let mask = (cfg.buckets() - 1) as u64;
    let mut prev: Option<u64> = None;
    let mut sink = |t: &str, negated: bool, word: bool| {
        let h = token_hash(t, negated);
        out.push((h & mask) as u32);
        if cfg.word_ngrams >= 2 {
            if let Some(p) = prev {
                out.push(pair_bucket(p, h, mask));
            }
            prev = Some(h);
        }
        if word {
            word_ngrams(t, cfg, mask, gram, bounds, states, out);
        }
    };
    tokenize(text, &mut sink, words);
}

/// The hash of a token's own feature (its bucket is the low bits): a word and the same word in a
/// negation's scope are two features.
#[inline]
pub(crate) fn token_hash(t: &str, negated: bool) -> u64 {
    let seed = if negated { SEED_NEG } else { SEED_WORD };
    hash_bytes(seed, t.as_bytes())
}

/// The bucket of the pair of adjacent tokens whose hashes are `prev` and `h`.
#[inline]
pub(crate) fn pair_bucket(prev: u64, h: u64, mask: u64) -> u32 {
    (hash_bytes(SEED_PAIR ^ prev, &h.to_le_bytes()) & mask) as u32
}

/// Appends the buckets of the character n-grams of the word `t` (none when the configuration
/// has none). The other arguments are reused buffers.
#[inline]
pub(crate) fn word_ngrams(
    t: &str,
    cfg: &FeatureConfig,
    mask: u64,
    gram: &mut Vec<u8>,
    bounds: &mut Vec<usize>,
    states: &mut Vec<u64>,
    out: &mut Vec<u32>,
) {
    if cfg.char_max == 0 {
        return;
    }
    // `<word>`: the boundaries make prefixes and suffixes features of their own.
    gram.clear();
    gram.push(b'<');
    gram.extend_from_slice(t.as_bytes());
    gram.push(b'>');
    bounds.clear();
    if !t.is_ascii() {
        bounds.push(0);
        bounds.extend(t.char_indices().map(|(k, _)| k + 1));
        bounds.extend([gram.len() - 1, gram.len()]);
    }
    char_ngrams(gram, bounds, states, cfg, mask, out);
}

/// Appends the hashed character n-grams of `gram`: every n-gram of `cfg.char_min` characters in
/// order, then every one a character longer, and so on, as windows over the characters would give
/// them. `bounds` is empty when `gram` is ASCII, else where each character starts, then the length.
/// The n-grams of `n + 1` characters continue the FNV states of those of `n` (`states`, one per
/// starting character) instead of hashing every window from its start.
#[inline(always)]
fn char_ngrams(
    gram: &[u8],
    bounds: &[usize],
    states: &mut Vec<u64>,
    cfg: &FeatureConfig,
    mask: u64,
    out: &mut Vec<u32>,
) {
    let ascii = bounds.is_empty();
    let chars = if ascii { gram.len() } else { bounds.len() - 1 };
    // A 0-character n-gram is none (windows of 0 would panic).
    let min = usize::from(cfg.char_min).max(1);
    let max = usize::from(cfg.char_max).min(chars);
    if min > max {
        return;
    }
    states.clear();
    states.resize(chars, SEED_CHAR ^ FNV_OFFSET);
    let put = |h: u64| (avalanche(h) & mask) as u32;
    for n in 1..=max {
        // The windows of `n` characters: they start at characters 0 to `chars - n`.
        let windows = &mut states[..chars - n + 1];
        if ascii {
            // One byte per character: the `n`th character of window `i` is byte `i + n - 1`.
            let step = windows.iter_mut().zip(&gram[n - 1..]).map(|(h, &b)| {
                *h = (*h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
                *h
            });
            if n >= min {
                out.extend(step.map(put));
            } else {
                step.for_each(drop);
            }
        } else {
            let step = windows
                .iter_mut()
                .zip(bounds.windows(2).skip(n - 1))
                .map(|(h, c)| {
                    *h = fnv1a(*h, &gram[c[0]..c[1]]);
                    *h
                });
            if n >= min {
                out.extend(step.map(put));
            } else {
                step.for_each(drop);
            }
        }
    }
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
    fn features_keep_their_buckets() {
        // The shipped models were trained on these bucket numbers, in this order: a change here
        // silently degrades every model (values from the implementation the models were trained
        // with).
        let mut f = Vec::new();
        extract("Été", &FeatureConfig::default(), &mut f);
        assert_eq!(f, [522286, 529281, 1037298, 389584, 957197, 688397, 544151]);
        extract(
            "Le colis n'est pas arrivé 😡 #JustDoIt @SNCF https://t.co/x l'hôpital, I don't like \
             it!!! trèèès Ça coûte 120 €",
            &FeatureConfig::default(),
            &mut f,
        );
        let sum = f.iter().fold(0u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        assert_eq!((f.len(), sum), (181, 0x36ea_1785_86ab_0b1b));
    }

    #[test]
    fn word_matches_agree_with_their_lists() {
        let mut words: Vec<&str> = NEGATIONS.iter().chain(&ELIDED).copied().collect();
        words.extend([
            "", "x", "pa", "pass", "nothin", "q", "jusq", "jusque", "la", "nop",
        ]);
        for w in words {
            assert_eq!(is_negation(w), NEGATIONS.contains(&w), "{w:?}");
            assert_eq!(is_elided(w), ELIDED.contains(&w), "{w:?}");
        }
    }

    #[test]
    fn words_are_the_analyzers() {
        fn check(text: &str) {
            let mut ours = Vec::new();
            for_each_word(text, &mut |w| {
                if !w.is_empty() {
                    ours.push(w.to_string());
                }
            });
            let mut analyzer: Vec<String> = copernic_core::text::tokens(text)
                .map(|t| t.into_owned())
                .collect();
            ours.sort();
            analyzer.sort();
            assert_eq!(ours, analyzer, "{text:?}");
        }
        let demo = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../copernic/demo/messages.jsonl"
        ))
        .unwrap();
        let mut texts = 0;
        for line in demo.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(t) = v["text"].as_str() {
                check(t);
                texts += 1;
            }
        }
        assert!(texts > 1000);
        for t in [
            "I don't, DON'T, can't\u{301}feu, n't, won't't",
            "l'été, qu'il, jusqu'à, L’ÉTÉ, l'2024",
            "#JustDoIt2024 @jane_doe _#tag a#b #_x #\u{301}a @é",
            "https://t.co/AbC?x=1#frag www.Ex.fr/été HTTP://X.Y @https://z",
            "👍🏽 ☺️ 🇫🇷 👨‍👩‍👧 ✌ 🫶",
            "\u{345}a \u{93e}क \u{301}x ×÷ ½ ² Ⅻ ǅ ß İ ﬁ",
        ] {
            check(t);
        }
        // Random strings of the pieces where the two could part.
        let pieces = [
            "a", "Z", "n", "t", "T", "9", " ", "'", "’", "_", "#", "@", ".", ":", "/", "http://",
            "www.", "don't", "l'", "\u{301}", "\u{345}", "\u{93e}", "é", "×", "👍", "🏽",
            "\u{200d}", "\u{fe0f}", "!", "?", "\n", "\u{a0}", "İ", "ǅ", "ﬁ",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..50_000 {
            let mut t = String::new();
            for _ in 0..(state % 24) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                t.push_str(pieces[(state % pieces.len() as u64) as usize]);
            }
            check(&t);
        }
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
