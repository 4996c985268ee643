//! The classify step's logits, summed token by token, with each token's own share kept.
//!
//! A token's features are its own (its hash, and a word's character n-grams: a dozen for a
//! six-letter word) and the pair it makes with the token before it. Only the pair depends on
//! the neighbours: the sum of the other weights is the same in every message that holds the
//! token, and the words of a stream follow Zipf's law (a few thousand make most of any text).
//! So those sums are kept per token, per thread, for the models the classify step runs; a token
//! seen before costs one hash, one look-up and one add per label, instead of a dozen hashes and a
//! dozen rows fetched from weight tables bigger than the processor's caches.
//!
//! The sums are grouped by token, so a logit differs from [`Model::logits_into`]'s (the features
//! added in their order) in its last bits only (a test holds them to 1e-5).

use crate::features::{is_hashed_word, pair_bucket, token_hash, tokenize, word_ngrams};
use crate::model::Model;

/// Labels summed per token, all models together (an entry is one cache line).
pub const MAX_LABELS: usize = 8;
/// Longest token kept, in bytes; longer ones (rare) are summed each time.
const KEY_BYTES: usize = 24;
/// Slots of the table (a power of two): 2 MiB.
const SLOTS: usize = 1 << 15;
/// Tokens kept before the table is emptied: a stream's vocabulary outgrows any table, and after
/// emptying, its frequent words come back first. Three quarters full keeps probes short.
const FULL: usize = SLOTS / 4 * 3;

const USED: u8 = 1;
const NEGATED: u8 = 2;
const WORD: u8 = 4;

/// One token's share of the logits.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Entry {
    /// High bits of the token's hash (the low bits chose the slot).
    tag: u32,
    len: u8,
    /// [`USED`], [`NEGATED`], [`WORD`].
    flags: u8,
    /// Features summed.
    count: u16,
    bytes: [u8; KEY_BYTES],
    sums: [f32; MAX_LABELS],
}

const EMPTY: Entry = Entry {
    tag: 0,
    len: 0,
    flags: 0,
    count: 0,
    bytes: [0; KEY_BYTES],
    sums: [0.0; MAX_LABELS],
};

/// A token of the text being summed, to look up.
struct Token {
    h: u64,
    flags: u8,
    len: u8,
    /// Its bytes, then zeros: compared with an entry's whole.
    key: [u8; KEY_BYTES],
}

/// How many tokens ahead a slot is fetched: enough to cover a miss to memory.
const PREFETCH_AHEAD: usize = 12;

/// The slot where the token of hash `h` is first looked for. The bucket uses the hash's low
/// bits; the slot and the tag its high ones.
#[inline(always)]
fn slot(h: u64) -> usize {
    (h >> 32) as usize & (SLOTS - 1)
}

#[inline(always)]
fn add(acc: &mut [f32; MAX_LABELS], count: &mut u32, e: &Entry) {
    for (a, s) in acc.iter_mut().zip(&e.sums) {
        *a += s;
    }
    *count += u32::from(e.count);
}

/// Kept token sums and reused buffers: one per thread (in `defaults::Scratch`).
#[derive(Default)]
pub struct WordSums {
    /// The versions of the models the sums were made from ([`Model::version`]).
    versions: Vec<u64>,
    /// Empty until first used.
    table: Vec<Entry>,
    used: usize,
    /// The buckets of the text's pairs of tokens.
    pairs: Vec<u32>,
    /// The text's tokens to look up.
    tokens: Vec<Token>,
    /// The last text's word hashes, as [`crate::features::word_hashes`] gives them.
    hashes: Vec<u64>,
    buckets: Vec<u32>,
    gram: Vec<u8>,
    bounds: Vec<usize>,
    states: Vec<u64>,
}

impl WordSums {
    /// Whether `models` can be summed together: one feature configuration, and at most
    /// [`MAX_LABELS`] labels in all.
    pub fn fits(models: &[&Model]) -> bool {
        models.first().is_some_and(|m| {
            models.iter().all(|o| o.features == m.features)
                && models.iter().map(|o| o.labels.len()).sum::<usize>() <= MAX_LABELS
        })
    }

    /// The logits of `models[..active]` for `text` into `out`, one model's after the other's, as
    /// [`Model::logits_into`] gives them (to the last bits). Calls `words` with each word as
    /// [`crate::features::for_each_word`] does. `models` must [fit](Self::fits), and be given in
    /// the same order at every call (the sums of all of them are kept, whatever `active` is).
    pub fn logits(
        &mut self,
        models: &[&Model],
        active: usize,
        text: &str,
        out: &mut Vec<f32>,
        words: Option<&mut dyn FnMut(&str)>,
    ) {
        debug_assert!(Self::fits(models) && active <= models.len());
        self.check_versions(models);
        let cfg = models[0].features;
        let mask = (cfg.buckets() - 1) as u64;
        let mut acc = [0.0f32; MAX_LABELS];
        let mut count = 0u32;
        let mut prev: Option<u64> = None;
        let mut pairs = std::mem::take(&mut self.pairs);
        let mut tokens = std::mem::take(&mut self.tokens);
        let mut hashes = std::mem::take(&mut self.hashes);
        pairs.clear();
        tokens.clear();
        hashes.clear();
        let mut sink = |t: &str, negated: bool, word: bool| {
            let h = token_hash(t, negated);
            if is_hashed_word(t, word) {
                hashes.push(h);
            }
            if cfg.word_ngrams >= 2 {
                if let Some(p) = prev {
                    // Summed after the text, fetched ahead of use (see `Model::sum_rows`): a
                    // pair's row is rarely in the cache.
                    pairs.push(pair_bucket(p, h, mask));
                }
                prev = Some(h);
            }
            let flags = USED | if negated { NEGATED } else { 0 } | if word { WORD } else { 0 };
            if t.len() > KEY_BYTES {
                // Never kept, and counted from its buckets: a very long word can have more
                // features than an entry's count holds.
                let e = self.make(models, t, flags, h, mask);
                for (a, s) in acc.iter_mut().zip(&e.sums) {
                    *a += s;
                }
                count += self.buckets.len() as u32;
            } else {
                // Looked up after the text, each slot fetched a few tokens ahead of use.
                let mut key = [0; KEY_BYTES];
                key[..t.len()].copy_from_slice(t.as_bytes());
                tokens.push(Token {
                    h,
                    flags,
                    len: t.len() as u8,
                    key,
                });
            }
        };
        tokenize(text, &mut sink, words);
        if self.table.is_empty() {
            self.table = vec![EMPTY; SLOTS];
        }
        for (i, t) in tokens.iter().enumerate() {
            if let Some(ahead) = tokens.get(i + PREFETCH_AHEAD) {
                copernic_core::prefetch(&self.table[slot(ahead.h)]);
            }
            let e = self.entry(models, t, mask);
            add(&mut acc, &mut count, &e);
        }
        count += pairs.len() as u32;
        out.clear();
        let mut at = 0;
        for m in &models[..active] {
            let n = m.labels.len();
            let mut sums = [0.0f32; MAX_LABELS];
            m.sum_rows(&pairs, &mut sums[..n]);
            for (a, s) in acc[at..at + n].iter_mut().zip(&sums) {
                *a += s;
            }
            if count == 0 {
                out.extend_from_slice(m.bias());
            } else {
                // As `logits_into`: the features weigh 1/sqrt(count) each.
                let scale = 1.0 / (count as f32).sqrt();
                out.extend(
                    acc[at..at + n]
                        .iter()
                        .zip(m.bias())
                        .map(|(a, b)| a * scale + b),
                );
            }
            at += n;
        }
        self.pairs = pairs;
        self.tokens = tokens;
        self.hashes = hashes;
    }

    /// The word hashes of the text last given to [`WordSums::logits`].
    pub fn word_hashes(&self) -> &[u64] {
        &self.hashes
    }

    /// Forgets the sums when the models are not those they were made from.
    fn check_versions(&mut self, models: &[&Model]) {
        let same = self.versions.len() == models.len()
            && self
                .versions
                .iter()
                .zip(models)
                .all(|(v, m)| *v == m.version());
        if !same {
            self.versions = models.iter().map(|m| m.version()).collect();
            self.clear();
        }
    }

    fn clear(&mut self) {
        self.table.iter_mut().for_each(|e| e.flags = 0);
        self.used = 0;
    }

    /// The entry of the token `t` (at most [`KEY_BYTES`] long): kept, else made and kept.
    #[inline]
    fn entry(&mut self, models: &[&Model], t: &Token, mask: u64) -> Entry {
        if self.used >= FULL {
            self.clear();
        }
        let tag = (t.h >> 32) as u32;
        let mut i = slot(t.h);
        loop {
            let e = &self.table[i];
            if e.flags == 0 {
                break;
            }
            if e.tag == tag && e.flags == t.flags && e.len == t.len && e.bytes == t.key {
                return *e;
            }
            i = (i + 1) & (SLOTS - 1);
        }
        // A copy of a `&str`'s bytes: always UTF-8.
        let spelled = std::str::from_utf8(&t.key[..usize::from(t.len)]).unwrap_or_default();
        let e = self.make(models, spelled, t.flags, t.h, mask);
        self.table[i] = e;
        self.used += 1;
        e
    }

    /// Sums the token's own features (its hash's bucket, a word's character n-grams) for every
    /// model, in their order.
    fn make(&mut self, models: &[&Model], t: &str, flags: u8, h: u64, mask: u64) -> Entry {
        self.buckets.clear();
        self.buckets.push((h & mask) as u32);
        if flags & WORD != 0 {
            word_ngrams(
                t,
                &models[0].features,
                mask,
                &mut self.gram,
                &mut self.bounds,
                &mut self.states,
                &mut self.buckets,
            );
        }
        let mut e = EMPTY;
        e.tag = (h >> 32) as u32;
        e.flags = flags;
        // Only tokens of at most KEY_BYTES bytes are kept: a few dozen features at most.
        e.count = u16::try_from(self.buckets.len()).unwrap_or(u16::MAX);
        let n = t.len().min(KEY_BYTES);
        e.len = n as u8;
        e.bytes[..n].copy_from_slice(&t.as_bytes()[..n]);
        let mut at = 0;
        for m in models {
            let sums = &mut e.sums[at..at + m.labels.len()];
            for &b in &self.buckets {
                for (s, w) in sums.iter_mut().zip(m.row(b)) {
                    *s += w;
                }
            }
            at += m.labels.len();
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults::Classifier;
    use crate::features::extract;

    const TEXTS: [&str; 8] = [
        "I want to close my account, this bank is useless!!",
        "Un film magnifique, des acteurs formidables, j'ai adoré 😍 #GrandFilm",
        "ce n'est pas terrible, jamais vu un scénario aussi plat… l'ennui total",
        "@support why hasn't my transfer gone through? https://t.co/AbC 2024",
        "trèèès sooo goooood, don't miss it",
        "",
        "😡😡😡 !!! ???",
        "anticonstitutionnellementtrèslongmotquidépasse la limite des clés",
    ];

    fn reference(m: &Model, text: &str) -> Vec<f32> {
        let mut f = Vec::new();
        extract(text, &m.features, &mut f);
        let mut out = Vec::new();
        m.logits_into(&f, &mut out);
        out
    }

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()))
    }

    #[test]
    fn kept_sums_give_the_models_logits() {
        let c = Classifier::shipped().unwrap();
        let models = [&c.intent, &c.sentiment_fr];
        assert!(WordSums::fits(&models));
        let mut sums = WordSums::default();
        let mut out = Vec::new();
        // Twice: the second time every token's sum is a kept one.
        for round in 0..2 {
            for text in TEXTS {
                sums.logits(&models, 2, text, &mut out, None);
                let mut want = reference(&c.intent, text);
                want.extend(reference(&c.sentiment_fr, text));
                assert!(
                    close(&out, &want),
                    "round {round}, {text:?}: {out:?} vs {want:?}"
                );
                sums.logits(&models, 1, text, &mut out, None);
                assert!(close(&out, &reference(&c.intent, text)), "{text:?}");
            }
        }
        assert!(sums.used > 20, "{}", sums.used);
    }

    #[test]
    fn a_word_too_long_to_keep_counts_every_feature() {
        // 70,000 letters: more character n-grams than an entry's count could hold.
        let c = Classifier::shipped().unwrap();
        let text = format!("refund {} please", "abcdefg".repeat(10_000));
        let mut out = Vec::new();
        WordSums::default().logits(&[&c.intent], 1, &text, &mut out, None);
        let want = reference(&c.intent, &text);
        assert!(
            out.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-3),
            "{out:?} vs {want:?}"
        );
    }

    #[test]
    fn words_are_the_ones_for_each_word_gives() {
        let c = Classifier::shipped().unwrap();
        let models = [&c.intent];
        let mut sums = WordSums::default();
        for text in TEXTS {
            let mut got = Vec::new();
            sums.logits(
                &models,
                1,
                text,
                &mut Vec::new(),
                Some(&mut |w| got.push(w.to_string())),
            );
            let mut want = Vec::new();
            crate::features::for_each_word(text, &mut |w| want.push(w.to_string()));
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn a_model_that_learns_is_summed_again() {
        let mut c = Classifier::shipped().unwrap();
        let text = "the app keeps crashing and nobody answers";
        let mut sums = WordSums::default();
        let mut before = Vec::new();
        sums.logits(&[&c.intent], 1, text, &mut before, None);
        assert!(c.learn("intent", text, "praise", Some("en")));
        let mut after = Vec::new();
        sums.logits(&[&c.intent], 1, text, &mut after, None);
        assert_ne!(before, after);
        assert!(close(&after, &reference(&c.intent, text)), "{after:?}");
    }

    #[test]
    fn a_full_table_is_emptied_and_still_right() {
        let c = Classifier::shipped().unwrap();
        let models = [&c.intent];
        let mut sums = WordSums::default();
        let mut out = Vec::new();
        let mut emptied = false;
        // Messages of 50 new words each, until the table has been emptied and filled again.
        for m in 0..(FULL / 50 + 10) {
            let text: String = (0..50).map(|i| format!("mot{:x}q ", m * 50 + i)).collect();
            let before = sums.used;
            sums.logits(&models, 1, &text, &mut out, None);
            emptied |= sums.used < before;
            assert!(sums.used <= FULL);
            assert!(close(&out, &reference(&c.intent, &text)), "{text}");
        }
        assert!(emptied);
    }
}
