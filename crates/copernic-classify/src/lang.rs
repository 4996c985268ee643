//! Language identification for short social messages: German, English, Spanish, French, Italian,
//! Dutch and Portuguese, or "unknown" (`None`).
//!
//! The method is naive Bayes over hashed features of each word, trained on word-frequency lists:
//! - the text is cut into words (letters only, lowercased, accents kept); URLs, @mentions,
//!   #hashtags, e-mail addresses, digits, punctuation and emoji say nothing of the language and
//!   are skipped; apostrophes and hyphens split words (`c'est` → `c`, `est`), as in the training
//!   lists; elongations are squeezed (`sooo` → `soo`);
//! - each word, padded with a space on both sides, gives its byte n-grams of 1 to `ngram_max`
//!   bytes and one feature for the whole word (the word-level evidence: `the`, `und`, `merci`);
//! - each feature is hashed into a table of `2^bits` rows of 7 centred log-probabilities
//!   (`log P(feature | language)` minus their mean), quantised to `i8`;
//! - a word scores its n-grams' sum, damped for long words (`ngram_norm`: the n-grams of one word
//!   are far from independent), plus its whole-word row; a text scores the sum over its words, and
//!   `softmax(score / (temperature · words^length_power))` gives calibrated probabilities (both
//!   fitted on a calibration split).
//!
//! Because the features never cross a word boundary, a model trained on (word, frequency) lists
//! sees exactly the features a message gives: no running text is needed to train it, so it is
//! trained on large frequency lists that include social-media text (`models/lang/PROVENANCE.md`:
//! the data, its licence, how it was evaluated and the measured accuracy).
//!
//! "Unknown" (`None`): fewer than [`MIN_LETTERS`] Latin letters after skipping URLs and the like;
//! more letters of other scripts than Latin ones (Cyrillic, Arabic, CJK… are none of the seven);
//! or a top probability below the model's `min_confidence`.
//!
//! Speed: no allocation and no per-message set-up (one pass over the bytes, the word in a stack
//! buffer, one table row read per feature, rows added eight lanes at a time in two `u64`s); at most
//! [`MAX_LETTERS`] letters of a long text are read. `bench/classify/lang/run.sh` measures it.

use std::sync::OnceLock;

use copernic_core::hash::{FNV_OFFSET, FNV_PRIME};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

/// The languages, in the order of every score array (ISO 639-1 codes).
pub const LANGS: [&str; 7] = ["de", "en", "es", "fr", "it", "nl", "pt"];
const N: usize = LANGS.len();
/// Table rows are padded to 8 lanes so that adding a row is one vector add.
const LANES: usize = 8;

/// Below this many Latin letters a text is "unknown".
pub const MIN_LETTERS: u32 = 2;
/// Letters read at most from one text (enough evidence; bounds the time of long texts).
pub const MAX_LETTERS: u32 = 256;
/// Bytes kept of one word (longer words are cut: "hahahahaha…", glued hashtags).
const MAX_WORD: usize = 48;

const MAGIC: &[u8; 8] = b"CPLANGID";
/// Version 1: magic, u32 header length, JSON header, `2^bits` rows of 7 `i8`, SHA-256 of all
/// that precedes it.
pub const FORMAT_VERSION: u32 = 1;

static DEFAULT_BYTES: &[u8] = include_bytes!("../models/lang/lang.bin");

/// A language guess.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Guess {
    /// ISO 639-1 code, one of [`LANGS`].
    pub lang: &'static str,
    /// Calibrated probability of `lang` among the seven, in `(0, 1]`.
    pub confidence: f32,
}

/// Guesses the language of `text` with the shipped model; `None` when it cannot say (too short,
/// another script, or not confident enough). Never panics; allocates nothing (unless the text
/// holds combining accents, which are composed first).
pub fn identify(text: &str) -> Option<Guess> {
    default_model()?.identify(text)
}

/// The shipped model, loaded (and its checksum verified) on first use; `None` only if the
/// embedded file were damaged, which a test rules out.
pub fn default_model() -> Option<&'static LangModel> {
    static MODEL: OnceLock<Option<LangModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| LangModel::from_bytes(DEFAULT_BYTES).ok())
        .as_ref()
}

/// What can go wrong reading a language model file.
#[derive(Debug, thiserror::Error)]
pub enum LangModelError {
    /// Not a Copernic language-identification model.
    #[error("not a Copernic language model (bad magic bytes)")]
    Magic,
    /// Written by a newer Copernic.
    #[error("language model format {0} is newer than this copernic reads ({FORMAT_VERSION})")]
    Version(u32),
    /// The bytes do not match the checksum: a damaged or truncated file.
    #[error("language model checksum mismatch: the file is damaged or truncated")]
    Checksum,
    /// The header does not parse.
    #[error("language model header is malformed")]
    Header(#[source] serde_json::Error),
    /// The header parses but does not fit this code (languages, sizes).
    #[error("language model does not fit: {0}")]
    Shape(&'static str),
}

/// The header of a model file: its label set, feature settings, calibration and provenance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LangHeader {
    pub format: u32,
    /// Must equal [`LANGS`].
    pub langs: Vec<String>,
    /// log2 of the number of rows.
    pub bits: u8,
    /// Byte n-grams of 1 to `ngram_max` bytes of each space-padded word.
    pub ngram_max: u8,
    /// Nats per unit of a quantised weight.
    pub scale: f32,
    /// Softmax temperature, fitted on the calibration split.
    pub temperature: f32,
    /// Below this top probability, `identify` says `None`.
    pub min_confidence: f32,
    /// The softmax temperature grows with the number of words `w` as `temperature * w^length_power`:
    /// the evidence of naive Bayes piles up faster than its reliability.
    #[serde(default)]
    pub length_power: f32,
    #[serde(default)]
    /// A word's n-gram sum is multiplied by `(20 / n)^ngram_norm`, `n` its number of n-grams:
    /// the n-grams of one word are far from independent, and without this a long word outvotes
    /// the evidence of the whole-word feature (0: plain naive Bayes).
    pub ngram_norm: f32,
    /// Training data and settings, for the record.
    pub training: serde_json::Value,
}

/// A loaded language model.
pub struct LangModel {
    header: LangHeader,
    /// One row per bucket: 8 lanes of `weight + 128` as bytes of a little-endian `u64` (lane 7 is
    /// padding), so that a row is added to the sums with a few integer operations (SWAR).
    rows: Box<[u64]>,
    shift: u32,
    /// `(20 / n)^ngram_norm` for a word of `n` n-grams.
    norm: Box<[f32; 256]>,
}

/// The even bytes of a `u64`.
const EVEN: u64 = 0x00FF_00FF_00FF_00FF;

impl std::fmt::Debug for LangModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LangModel")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl LangModel {
    /// Reads a model file (format [`FORMAT_VERSION`]) and checks its checksum.
    pub fn from_bytes(bytes: &[u8]) -> Result<LangModel, LangModelError> {
        if bytes.len() < 8 + 4 + 32 || &bytes[..8] != MAGIC {
            return Err(LangModelError::Magic);
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != sum {
            return Err(LangModelError::Checksum);
        }
        let hlen = u32::from_le_bytes([body[8], body[9], body[10], body[11]]) as usize;
        let hjson = body
            .get(12..12 + hlen)
            .ok_or(LangModelError::Shape("header length"))?;
        let header: LangHeader = serde_json::from_slice(hjson).map_err(LangModelError::Header)?;
        if header.format > FORMAT_VERSION {
            return Err(LangModelError::Version(header.format));
        }
        if header
            .langs
            .iter()
            .map(String::as_str)
            .ne(LANGS.iter().copied())
        {
            return Err(LangModelError::Shape("languages differ from LANGS"));
        }
        // ngram_max ≤ 5 keeps a word's features under 257, so 16-bit lane sums cannot overflow.
        if !(10..=24).contains(&header.bits) || !(1..=5).contains(&header.ngram_max) {
            return Err(LangModelError::Shape("bits or ngram_max out of range"));
        }
        if !(header.scale > 0.0 && header.temperature > 0.0) {
            return Err(LangModelError::Shape(
                "scale and temperature must be positive",
            ));
        }
        let table = &body[12 + hlen..];
        let n_rows = 1usize << header.bits;
        if table.len() != n_rows * N {
            return Err(LangModelError::Shape("table size"));
        }
        let rows = table
            .chunks_exact(N)
            .map(|r| {
                let mut row = [128u8; LANES];
                for (d, &s) in row.iter_mut().zip(r) {
                    *d = (s as i8 as i16 + 128) as u8;
                }
                u64::from_le_bytes(row)
            })
            .collect();
        let shift = 64 - u32::from(header.bits);
        let mut norm = Box::new([1f32; 256]);
        for (n, f) in norm.iter_mut().enumerate().skip(1) {
            *f = (20.0 / n as f32).powf(header.ngram_norm);
        }
        Ok(LangModel {
            header,
            rows,
            shift,
            norm,
        })
    }

    /// The header: languages, feature settings, calibration, training record.
    pub fn header(&self) -> &LangHeader {
        &self.header
    }

    /// The language of `text`, or `None` (see the module documentation).
    pub fn identify(&self, text: &str) -> Option<Guess> {
        let p = self.probabilities(text)?;
        let (best, &confidence) = p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
        (confidence >= self.header.min_confidence).then_some(Guess {
            lang: LANGS[best],
            confidence,
        })
    }

    /// Calibrated probabilities of the seven languages, in the order of [`LANGS`]; `None` when
    /// the text has too few Latin letters or more letters of another script.
    pub fn probabilities(&self, text: &str) -> Option<[f32; N]> {
        let (acc, letters) = self.raw_scores(text);
        if letters.latin < MIN_LETTERS || letters.other > letters.latin {
            return None;
        }
        let k = self.header.scale
            / (self.header.temperature
                * (letters.words.max(1) as f32).powf(self.header.length_power));
        let top = acc[..N].iter().copied().fold(f32::MIN, f32::max);
        let mut p = [0f32; N];
        let mut sum = 0f32;
        for (pi, &a) in p.iter_mut().zip(&acc[..N]) {
            *pi = ((a - top) * k).exp();
            sum += *pi;
        }
        for pi in &mut p {
            *pi /= sum;
        }
        Some(p)
    }

    /// Sums of quantised weights (lanes 0..7) and the letter counts.
    fn raw_scores(&self, text: &str) -> ([f32; LANES], Letters) {
        let mut acc = [0f32; LANES];
        let nmax = usize::from(self.header.ngram_max);
        let letters = scan_composed(text, |word| {
            // Lanes 0, 2, 4, 6 in `even`, 1, 3, 5, 7 in `odd`, 16 bits each: a word has at most
            // (MAX_WORD + 2) * 5 + 1 = 251 features of at most 255, under 65,536.
            let (mut even, mut odd, mut n, mut whole_row) = (0u64, 0u64, 0i32, 0u64);
            features(word, nmax, self.shift, |idx, whole| {
                let row = self.rows[idx];
                if whole {
                    whole_row = row;
                } else {
                    even += row & EVEN;
                    odd += (row >> 8) & EVEN;
                    n += 1;
                }
            });
            let f = self.norm[n as usize & 255];
            let w = whole_row.to_le_bytes();
            for k in 0..LANES / 2 {
                let e = ((even >> (16 * k)) & 0xFFFF) as i32 - 128 * n;
                let o = ((odd >> (16 * k)) & 0xFFFF) as i32 - 128 * n;
                acc[2 * k] += e as f32 * f + f32::from(w[2 * k]) - 128.0;
                acc[2 * k + 1] += o as f32 * f + f32::from(w[2 * k + 1]) - 128.0;
            }
        });
        (acc, letters)
    }
}

/// Letters seen: Latin ones (kept) and those of other scripts (skipped).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Letters {
    latin: u32,
    other: u32,
    words: u32,
}

/// Composes combining accents first (`e` + U+0301 → `é`), the rare slow path; then [`scan`].
fn scan_composed(text: &str, emit: impl FnMut(&[u8])) -> Letters {
    // U+0300..U+036F (combining diacritical marks) start with byte 0xCC or 0xCD in UTF-8.
    if text.bytes().any(|b| b == 0xCC || b == 0xCD) {
        let composed: String = text.nfc().collect();
        scan(&composed, emit)
    } else {
        scan(text, emit)
    }
}

/// Cuts `text` into words and calls `emit` with each one, lowercased and padded with a space on
/// both sides (`" word "`). The same function cuts the training lists, so training and prediction
/// see the same words.
fn scan(text: &str, mut emit: impl FnMut(&[u8])) -> Letters {
    let mut letters = Letters::default();
    let mut buf = [b' '; MAX_WORD + 2];
    let mut len = 0usize;
    let mut prev = ['\0'; 2];
    macro_rules! flush {
        () => {
            if len > 0 {
                letters.words += 1;
                buf[len + 1] = b' ';
                emit(&buf[..len + 2]);
                len = 0;
                prev = ['\0'; 2];
            }
        };
    }
    for token in text.split_ascii_whitespace() {
        if skip_token(token.as_bytes()) {
            continue;
        }
        for c in token.chars() {
            let lc = if c.is_ascii() {
                if !c.is_ascii_alphabetic() {
                    flush!();
                    continue;
                }
                c.to_ascii_lowercase()
            } else if c.is_alphabetic() {
                if !is_latin(c) {
                    letters.other += 1;
                    flush!();
                    continue;
                }
                c.to_lowercase().next().unwrap_or(c)
            } else if ('\u{300}'..='\u{36F}').contains(&c) {
                continue; // a combining accent that did not compose: ignored
            } else {
                flush!();
                continue;
            };
            letters.latin += 1;
            if lc == prev[0] && lc == prev[1] {
                continue; // elongation: at most two of a letter in a row
            }
            prev = [prev[1], lc];
            let n = lc.len_utf8();
            if len + n <= MAX_WORD {
                lc.encode_utf8(&mut buf[1 + len..1 + len + n]);
                len += n;
            }
        }
        flush!();
        if letters.latin >= MAX_LETTERS {
            break;
        }
    }
    letters
}

/// Tokens that say nothing of the language: URLs, @mentions, e-mail addresses, #hashtags (often
/// in English or a brand's name whatever the message's language), the retweet mark.
#[inline]
fn skip_token(t: &[u8]) -> bool {
    match t.first() {
        Some(b'#') | Some(b'@') => return true,
        None => return true,
        _ => {}
    }
    t == b"RT"
        || t.contains(&b'@')
        || t.windows(3).any(|w| w == b"://")
        || (t.len() > 4 && t[..4].eq_ignore_ascii_case(b"www."))
}

#[inline]
fn is_latin(c: char) -> bool {
    c <= '\u{24F}' || ('\u{1E00}'..='\u{1EFF}').contains(&c)
}

/// Seed of the whole-word feature, so that it differs from the n-gram of the same bytes.
const WORD_SEED: u64 = 0x9ae1_6a3b_2f90_404f;

#[inline(always)]
fn bucket(h: u64, shift: u32) -> usize {
    (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize
}

/// Calls `f(row, whole_word)` for each feature of a padded word (`" word "`): its byte n-grams of
/// 1 to `nmax` bytes (but not the lone space), then the whole word.
#[inline(always)]
fn features(p: &[u8], nmax: usize, shift: u32, mut f: impl FnMut(usize, bool)) {
    for i in 0..p.len() {
        let mut h = FNV_OFFSET;
        let end = (i + nmax).min(p.len());
        for (j, &b) in p[i..end].iter().enumerate() {
            h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
            if j == 0 && b == b' ' {
                continue;
            }
            f(bucket(h, shift), false);
        }
    }
    let mut h = WORD_SEED;
    for &b in p {
        h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }
    f(bucket(h, shift), true);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        scan_composed(text, |w| {
            out.push(String::from_utf8(w[1..w.len() - 1].to_vec()).unwrap())
        });
        out
    }

    #[test]
    fn lang_shipped_model_loads_with_its_checksum() {
        let m = default_model().expect("the embedded model loads");
        assert_eq!(m.header().langs, LANGS);
        let mut damaged = DEFAULT_BYTES.to_vec();
        let mid = damaged.len() / 2;
        damaged[mid] ^= 1;
        assert!(matches!(
            LangModel::from_bytes(&damaged),
            Err(LangModelError::Checksum)
        ));
        assert!(matches!(
            LangModel::from_bytes(b"nope"),
            Err(LangModelError::Magic)
        ));
        assert!(DEFAULT_BYTES.len() < 2_000_000, "model file stays small");
    }

    #[test]
    fn lang_words_skip_urls_mentions_tags_digits_and_emoji() {
        let cases: &[(&str, &[&str])] = &[
            ("Hello World", &["hello", "world"]),
            (
                "@SNCF https://t.co/x #grève c'est nul 😡 !!!",
                &["c", "est", "nul"],
            ),
            ("Trèèès COOL, sooo fun", &["trèès", "cool", "soo", "fun"]),
            (
                "mail me: bob@example.com www.example.com ok",
                &["mail", "me", "ok"],
            ),
            ("RT 12h30 l'été-là", &["h", "l", "été", "là"]),
            ("e\u{301}te\u{301}", &["été"]),
            ("ÇA VA ÉNORMÉMENT", &["ça", "va", "énormément"]),
            ("", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(words(text), *want, "{text:?}");
        }
    }

    #[test]
    fn lang_table_of_clear_sentences() {
        let cases: &[(&str, &str)] = &[
            // French
            (
                "fr",
                "Bonjour, je voudrais savoir où en est ma commande svp",
            ),
            (
                "fr",
                "@Free franchement c'est inadmissible, ça fait 3 jours sans internet 😡",
            ),
            ("fr", "Merci beaucoup pour votre aide, c'était parfait !"),
            ("fr", "j'ai pas reçu mon colis https://t.co/abc #livraison"),
            ("fr", "Le service client ne répond jamais au téléphone"),
            (
                "fr",
                "trop bien ce nouveau magasin, j'y retourne demain 😍😍",
            ),
            // English
            ("en", "Hi, I'd like to know where my order is please"),
            (
                "en",
                "@Delta worst customer service ever, been on hold for 2 hours 😡",
            ),
            ("en", "Thanks so much for your help, it was perfect!"),
            (
                "en",
                "i didn't get my package yet https://t.co/abc #delivery",
            ),
            ("en", "loving the new store, going back tomorrow 😍"),
            // Spanish
            ("es", "Hola, quisiera saber dónde está mi pedido por favor"),
            ("es", "El servicio al cliente nunca contesta el teléfono"),
            ("es", "¡Muchas gracias por tu ayuda, todo perfecto!"),
            // German
            ("de", "Hallo, ich möchte wissen, wo meine Bestellung ist"),
            (
                "de",
                "Der Kundenservice geht nie ans Telefon, echt schlecht",
            ),
            ("de", "Vielen Dank für eure Hilfe, alles super!"),
            // Italian
            (
                "it",
                "Ciao, vorrei sapere dove si trova il mio ordine per favore",
            ),
            ("it", "Il servizio clienti non risponde mai al telefono"),
            ("it", "Grazie mille per l'aiuto, tutto perfetto!"),
            // Dutch
            ("nl", "Hallo, ik wil graag weten waar mijn bestelling is"),
            ("nl", "De klantenservice neemt nooit de telefoon op"),
            ("nl", "Heel erg bedankt voor jullie hulp, alles is perfect!"),
            // Portuguese
            (
                "pt",
                "Olá, gostaria de saber onde está a minha encomenda por favor",
            ),
            ("pt", "O atendimento ao cliente nunca atende o telefone"),
            ("pt", "Muito obrigado pela ajuda, ficou perfeito!"),
        ];
        for (want, text) in cases {
            let got = identify(text);
            assert_eq!(got.map(|g| g.lang), Some(*want), "{text:?} gave {got:?}");
        }
    }

    #[test]
    fn lang_social_french_and_english() {
        let cases: &[(&str, &str)] = &[
            ("fr", "jsuis trop deg, ma commande est encore en retard"),
            ("fr", "wsh c'est quoi ce délire"),
            ("fr", "ptn le SAV répond jamais"),
            ("fr", "y'a personne au service client ??"),
            ("fr", "Le meeting est annulé, on fait un call demain"),
            ("fr", "remboursez moi svp"),
            ("fr", "ça marche pas"),
            ("fr", "TROP BIEN 😍😍 MERCIII"),
            ("en", "omg this is sooo good"),
            ("en", "can't wait for the new drop!!!"),
            ("en", "anyone else having issues with the app today?"),
            ("en", "love it 😍😍😍"),
            ("en", "doesn't work"),
            ("en", "too expensive"),
        ];
        for (want, text) in cases {
            let got = identify(text);
            assert_eq!(got.map(|g| g.lang), Some(*want), "{text:?} gave {got:?}");
        }
    }

    #[test]
    fn lang_one_word_of_one_language_is_enough() {
        for (want, text) in [
            ("es", "gracias"),
            ("it", "grazie"),
            ("pt", "obrigado"),
            ("fr", "bonjour"),
            ("de", "danke"),
        ] {
            assert_eq!(identify(text).map(|g| g.lang), Some(want), "{text:?}");
        }
        // Shared by several of the seven: better unknown than a coin toss.
        for text in ["ok", "lol", "no", "super"] {
            assert_eq!(identify(text), None, "{text:?}");
        }
    }

    #[test]
    fn lang_mentions_urls_and_tags_do_not_mislead() {
        // English handles, tags and links around a French message.
        let g = identify("@AmazonHelp @AmazonFR #BlackFriday https://www.amazon.fr/orders toujours pas livré, c'est une blague").unwrap();
        assert_eq!(g.lang, "fr");
        // French ones around an English message.
        let g = identify("@SNCF_Voyageurs #grève #retard http://sncf.fr still waiting at the station, no train since this morning").unwrap();
        assert_eq!(g.lang, "en");
    }

    #[test]
    fn lang_unknown_when_it_cannot_say() {
        for text in [
            "",
            "   ",
            "😀😀😀",
            "🔥💯👍",
            "12345 67.89 +33 6 12 34 56 78",
            "!!! ??? ...",
            "a",
            "https://example.com/some/path @someone #hashtag",
            "Привет, как дела? Всё хорошо",
            "今日はいい天気ですね",
            "مرحبا كيف حالك",
        ] {
            assert_eq!(identify(text), None, "{text:?}");
        }
    }

    #[test]
    fn lang_confidence_is_a_probability() {
        let m = default_model().unwrap();
        for text in ["bonjour à tous", "good morning everyone", "ok", "Paris"] {
            if let Some(p) = m.probabilities(text) {
                let sum: f32 = p.iter().sum();
                assert!((sum - 1.0).abs() < 1e-4, "{text:?}: {p:?}");
                assert!(p.iter().all(|x| (0.0..=1.0).contains(x)));
            }
            if let Some(g) = identify(text) {
                assert!(g.confidence > 0.0 && g.confidence <= 1.0);
                assert!(g.confidence >= m.header().min_confidence);
            }
        }
        let long = identify("Je voudrais savoir pourquoi ma commande n'est toujours pas arrivée alors qu'elle devait être livrée hier").unwrap();
        let short = identify("ma commande").map_or(0.0, |g| g.confidence);
        assert!(long.confidence >= short);
    }

    #[test]
    fn lang_never_panics_on_odd_input() {
        let long_word = "a".repeat(10_000);
        let many = "le chat ".repeat(5_000);
        let odd = [
            "\u{0}\u{1}\u{7f}",
            "\u{feff}bonjour",
            "ǅǈǋ ẞ İstanbul ﬁn",
            "e\u{301}\u{301}\u{301}\u{301}",
            "\u{301}",
            "a\u{200d}b\u{200b}c",
            long_word.as_str(),
            many.as_str(),
            "#",
            "@",
            "://",
            "www.",
            "x@y",
            "\u{10FFFF}\u{E000}",
        ];
        for text in odd {
            let _ = identify(text);
        }
        // Every char boundary cut of a mixed string.
        let s = "Ça va? 👍🏽 Sí, très bien — danke schön! ünd ç'est ß";
        for (i, _) in s.char_indices() {
            let _ = identify(&s[..i]);
            let _ = identify(&s[i..]);
        }
    }
}

/// Training, evaluation and timing, run by `bench/classify/lang/run.sh` as ignored tests (they
/// read the prepared corpora named by environment variables; the crate itself does no IO).
#[cfg(test)]
mod build {
    use super::*;
    use std::collections::BTreeMap;
    use std::fmt::Write as _;
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
        std::env::var(key)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    fn prepared() -> Option<PathBuf> {
        let dir = PathBuf::from(std::env::var("COPERNIC_LANG_PREPARED").ok()?);
        dir.is_dir().then_some(dir)
    }

    #[derive(Clone, Debug, Serialize)]
    struct Params {
        source: String,
        bits: u8,
        ngram_max: u8,
        /// Additive smoothing of n-gram relative frequencies.
        alpha: f64,
        /// Additive smoothing of word relative frequencies.
        alpha_word: f64,
        /// A word's frequency is raised to this power before counting (1: as in running text).
        gamma: f64,
        /// Clip of a centred log-probability, in nats.
        clip: f64,
        /// Weight of the whole-word feature against the n-grams.
        word_weight: f64,
        /// Whole-word features for the most frequent `word_top` words of each list only.
        word_top: usize,
        min_confidence: f32,
        ngram_norm: f32,
    }

    impl Params {
        fn from_env() -> Params {
            Params {
                source: env_or("LANG_SOURCE", "wordfreq".to_string()),
                bits: env_or("LANG_BITS", 18),
                ngram_max: env_or("LANG_NGRAM_MAX", 4),
                alpha: env_or("LANG_ALPHA", 1e-6),
                alpha_word: env_or("LANG_ALPHA_WORD", 1e-6),
                gamma: env_or("LANG_GAMMA", 1.0),
                clip: env_or("LANG_CLIP", 6.0),
                word_weight: env_or("LANG_WORD_WEIGHT", 1.0),
                word_top: env_or("LANG_WORD_TOP", 100_000),
                min_confidence: env_or("LANG_MIN_CONFIDENCE", 0.5),
                ngram_norm: env_or("LANG_NGRAM_NORM", 0.0),
            }
        }
    }

    /// Per language, (word, frequency), most frequent first.
    fn load_lists(dir: &Path, source: &str) -> Vec<Vec<(String, f64)>> {
        LANGS
            .iter()
            .map(|l| {
                let path = dir.join("train").join(source).join(format!("{l}.tsv"));
                let text =
                    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
                let mut rows: Vec<(String, f64)> = text
                    .lines()
                    .filter_map(|line| {
                        let (w, f) = line.split_once('\t')?;
                        Some((w.to_string(), f.trim().parse().ok()?))
                    })
                    .collect();
                rows.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                rows
            })
            .collect()
    }

    type Row = (String, String, String); // lang, source, text

    fn load_eval(dir: &Path, name: &str) -> Vec<Row> {
        let path = dir.join("eval").join(format!("{name}.tsv"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        text.lines()
            .filter_map(|line| {
                let mut it = line.splitn(3, '\t');
                Some((
                    it.next()?.to_string(),
                    it.next()?.to_string(),
                    it.next()?.to_string(),
                ))
            })
            .collect()
    }

    /// Counts, smooths, centres, clips and quantises: the table and its scale.
    fn train_table(p: &Params, lists: &[Vec<(String, f64)>]) -> (Vec<[i8; N]>, f32) {
        let n_rows = 1usize << p.bits;
        let shift = 64 - u32::from(p.bits);
        let mut grams = vec![[0f64; N]; n_rows];
        let mut words = vec![[0f64; N]; n_rows];
        for (l, list) in lists.iter().enumerate() {
            for (rank, (w, f)) in list.iter().enumerate() {
                let weight = f.powf(p.gamma);
                scan_composed(w, |pw| {
                    features(pw, usize::from(p.ngram_max), shift, |idx, whole| {
                        if !whole {
                            grams[idx][l] += weight;
                        } else if rank < p.word_top {
                            words[idx][l] += weight;
                        }
                    })
                });
            }
        }
        let centred = |counts: &[[f64; N]], alpha: f64| -> Vec<[f64; N]> {
            let mut total = [0f64; N];
            for row in counts {
                for l in 0..N {
                    total[l] += row[l];
                }
            }
            counts
                .iter()
                .map(|row| {
                    let mut lp = [0f64; N];
                    for l in 0..N {
                        lp[l] = (row[l] / total[l] + alpha).ln();
                    }
                    let mean = lp.iter().sum::<f64>() / N as f64;
                    lp.map(|x| (x - mean).clamp(-p.clip, p.clip))
                })
                .collect()
        };
        let g = centred(&grams, p.alpha);
        let w = centred(&words, p.alpha_word);
        let scale = p.clip / 127.0;
        let table = g
            .iter()
            .zip(&w)
            .map(|(g, w)| {
                let mut q = [0i8; N];
                for l in 0..N {
                    let x = (g[l] + p.word_weight * w[l]).clamp(-p.clip, p.clip);
                    q[l] = (x / scale).round() as i8;
                }
                q
            })
            .collect();
        (table, scale as f32)
    }

    fn to_bytes(header: &LangHeader, table: &[[i8; N]]) -> Vec<u8> {
        let json = serde_json::to_vec(header).unwrap();
        let mut out = Vec::with_capacity(12 + json.len() + table.len() * N + 32);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        for row in table {
            out.extend(row.iter().map(|&x| x as u8));
        }
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// Fits the softmax temperature and its length power on `calib` (maximum likelihood over a
    /// grid).
    fn fit_temperature(model: &LangModel, calib: &[Row]) -> (f32, f32) {
        let scored: Vec<([f32; LANES], usize, u32)> = calib
            .iter()
            .filter_map(|(lang, _, text)| {
                let (acc, letters) = model.raw_scores(text);
                let li = LANGS.iter().position(|l| l == lang)?;
                (letters.latin >= MIN_LETTERS && letters.other <= letters.latin).then_some((
                    acc,
                    li,
                    letters.words,
                ))
            })
            .collect();
        let nll = |t: f32, power: f32| -> f64 {
            scored
                .iter()
                .map(|(acc, li, words)| {
                    let k =
                        f64::from(model.header.scale / (t * (*words.max(&1) as f32).powf(power)));
                    let top = acc[..N].iter().copied().fold(f32::MIN, f32::max);
                    let z: f64 = acc[..N]
                        .iter()
                        .map(|&a| (f64::from(a - top) * k).exp())
                        .sum();
                    z.ln() - f64::from(acc[*li] - top) * k
                })
                .sum::<f64>()
                / scored.len().max(1) as f64
        };
        let mut best = (f64::INFINITY, 1.0f32, 0.0f32);
        for j in 0..=8 {
            let power = j as f32 * 0.125; // 0 .. 1
            for i in 0..=80 {
                let t = 10f32.powf(-1.0 + i as f32 * 0.03125); // 0.1 .. 32
                let v = nll(t, power);
                if v < best.0 {
                    best = (v, t, power);
                }
            }
        }
        (best.1, best.2)
    }

    fn build(p: &Params, dir: &Path, lists: &[Vec<(String, f64)>]) -> Vec<u8> {
        let (table, scale) = train_table(p, lists);
        let mut header = LangHeader {
            format: FORMAT_VERSION,
            langs: LANGS.iter().map(|s| s.to_string()).collect(),
            bits: p.bits,
            ngram_max: p.ngram_max,
            scale,
            temperature: 1.0,
            min_confidence: p.min_confidence,
            ngram_norm: p.ngram_norm,
            length_power: 0.0,
            training: serde_json::json!({
                "data": match p.source.as_str() {
                    "wordfreq" => "wordfreq 3.1.1 'large' word-frequency lists (Robyn Speer; data CC BY-SA 4.0)",
                    "opensubtitles" => "pyspellchecker 0.9.1 word-frequency lists (MIT; OpenSubtitles 2018 via OPUS)",
                    _ => "unknown",
                },
                "calibration": "temperature fitted on ovos-dev (OVOS skill dialogs, half of the files)",
                "params": p,
            }),
        };
        let calib = load_eval(dir, "ovos-dev");
        let draft = LangModel::from_bytes(&to_bytes(&header, &table)).unwrap();
        (header.temperature, header.length_power) = fit_temperature(&draft, &calib);
        to_bytes(&header, &table)
    }

    #[derive(Default, Clone)]
    struct Tally {
        n: usize,
        answered: usize,
        correct: usize,
        /// Correct when forced to answer (the most probable language, whatever its confidence).
        forced: usize,
    }

    impl Tally {
        fn add(&mut self, truth: &str, got: Option<&str>, forced: Option<&str>) {
            self.n += 1;
            self.forced += usize::from(forced == Some(truth));
            if let Some(g) = got {
                self.answered += 1;
                self.correct += usize::from(g == truth);
            }
        }
        /// Accuracy counting "unknown" as wrong.
        fn acc(&self) -> f64 {
            self.correct as f64 / self.n.max(1) as f64
        }
        /// Accuracy of the answers given.
        fn precision(&self) -> f64 {
            self.correct as f64 / self.answered.max(1) as f64
        }
        fn coverage(&self) -> f64 {
            self.answered as f64 / self.n.max(1) as f64
        }
    }

    fn pct(x: f64) -> String {
        format!("{:.1}", 100.0 * x)
    }

    /// Cuts `text` to at most `max` chars at a word boundary (or inside the first word when it
    /// is longer). `compare_langid.py` cuts the same way.
    fn prefix(text: &str, max: usize) -> &str {
        if text.chars().count() <= max {
            return text;
        }
        let mut end = 0;
        for (ci, (bi, c)) in text.char_indices().enumerate().take(max + 1) {
            if c == ' ' && ci > 0 {
                end = bi;
            }
        }
        if end == 0 {
            end = text.char_indices().nth(max).map_or(text.len(), |(i, _)| i);
        }
        &text[..end]
    }

    /// A markdown report of one evaluation set: per language, by length, and the confusions.
    fn report(model: &LangModel, name: &str, rows: &[Row]) -> (String, Tally) {
        let buckets = ["≤ 20 chars", "21–60 chars", "> 60 chars"];
        let mut by_lang: BTreeMap<&str, [Tally; 4]> = BTreeMap::new();
        let mut total: [Tally; 4] = Default::default();
        let mut confusion = [[0usize; N + 1]; N];
        for (lang, _, text) in rows {
            let Some(li) = LANGS.iter().position(|l| l == lang) else {
                continue;
            };
            let got = model.identify(text).map(|g| g.lang);
            let forced = model
                .probabilities(text)
                .map(|p| LANGS[(0..N).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0)]);
            let len = text.chars().count();
            let b = if len <= 20 {
                1
            } else if len <= 60 {
                2
            } else {
                3
            };
            let t = by_lang.entry(LANGS[li]).or_default();
            for k in [0, b] {
                t[k].add(lang, got, forced);
                total[k].add(lang, got, forced);
            }
            let gi = got
                .and_then(|g| LANGS.iter().position(|l| *l == g))
                .unwrap_or(N);
            confusion[li][gi] += 1;
        }
        let mut s = String::new();
        writeln!(s, "#### {name} ({} texts)\n", total[0].n).unwrap();
        write!(s, "| lang | texts | answered % | accuracy of answers % | accuracy, unknown = wrong % | forced to answer: accuracy %").unwrap();
        for b in buckets {
            write!(s, " | {b}: n, acc. %").unwrap();
        }
        writeln!(s, " |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|").unwrap();
        let mut line = |label: &str, t: &[Tally; 4]| {
            let forced = t[0].forced as f64 / t[0].n.max(1) as f64;
            write!(
                s,
                "| {label} | {} | {} | {} | {} | {}",
                t[0].n,
                pct(t[0].coverage()),
                pct(t[0].precision()),
                pct(t[0].acc()),
                pct(forced)
            )
            .unwrap();
            for tk in &t[1..4] {
                if tk.n == 0 {
                    write!(s, " | 0, –").unwrap();
                } else {
                    write!(s, " | {}, {}", tk.n, pct(tk.acc())).unwrap();
                }
            }
            writeln!(s, " |").unwrap();
        };
        for (l, t) in &by_lang {
            line(l, t);
        }
        line("**all**", &total);
        let macro_acc =
            by_lang.values().map(|t| t[0].acc()).sum::<f64>() / by_lang.len().max(1) as f64;
        writeln!(
            s,
            "\nMacro-average accuracy (unknown = wrong): {}%.\n",
            pct(macro_acc)
        )
        .unwrap();
        write!(
            s,
            "Confusions (row: true language; column: answer):\n\n| true \\ got |"
        )
        .unwrap();
        for l in LANGS {
            write!(s, " {l} |").unwrap();
        }
        writeln!(s, " unknown |\n|---|{}", "---:|".repeat(N + 1)).unwrap();
        for (li, row) in confusion.iter().enumerate() {
            if row.iter().sum::<usize>() == 0 {
                continue;
            }
            write!(s, "| {} |", LANGS[li]).unwrap();
            for c in row {
                write!(s, " {c} |").unwrap();
            }
            writeln!(s).unwrap();
        }
        writeln!(s).unwrap();
        let t = total[0].clone();
        (s, t)
    }

    fn eval_sets(dir: &Path) -> Vec<(String, Vec<Row>)> {
        let mut sets = Vec::new();
        for name in ["ovos-test", "ha", "udhr"] {
            let rows = load_eval(dir, name);
            let short: Vec<Row> = rows
                .iter()
                .map(|(l, s, t)| (l.clone(), s.clone(), prefix(t, 20).to_string()))
                .collect();
            sets.push((name.to_string(), rows));
            sets.push((format!("{name}, cut to ≤ 20 chars"), short));
        }
        sets
    }

    /// Trains with the settings in the environment, calibrates on ovos-dev and writes the model to
    /// `LANG_MODEL_OUT`.
    #[test]
    #[ignore = "needs the prepared corpora: bench/classify/lang/run.sh"]
    fn lang_build_model() {
        let dir = prepared().expect("COPERNIC_LANG_PREPARED");
        let p = Params::from_env();
        let lists = load_lists(&dir, &p.source);
        let bytes = build(&p, &dir, &lists);
        let out = std::env::var("LANG_MODEL_OUT").expect("LANG_MODEL_OUT");
        std::fs::write(&out, &bytes).unwrap();
        let model = LangModel::from_bytes(&bytes).unwrap();
        let dev = load_eval(&dir, "ovos-dev");
        let (s, _) = report(&model, "ovos-dev", &dev);
        println!(
            "{s}\nwrote {out}: {} bytes, temperature {}",
            bytes.len(),
            model.header.temperature
        );
        let show: usize = env_or("LANG_SHOW_ERRORS", 0);
        for (lang, _, text) in dev
            .iter()
            .filter(|r| model.identify(&r.2).is_some_and(|g| g.lang != r.0))
            .take(show)
        {
            println!("error: {lang} → {:?}: {text}", model.identify(text));
        }
    }

    /// Tries settings on the dev split (`LANG_TUNE` = `name=v1,v2;name=v1,...`, one at a time
    /// from the environment's settings) and prints the dev accuracy of each.
    #[test]
    #[ignore = "needs the prepared corpora: bench/classify/lang/run.sh"]
    fn lang_tune() {
        let dir = prepared().expect("COPERNIC_LANG_PREPARED");
        let base = Params::from_env();
        let lists = load_lists(&dir, &base.source);
        let dev = load_eval(&dir, "ovos-dev");
        let dev_short: Vec<Row> = dev
            .iter()
            .map(|(l, s, t)| (l.clone(), s.clone(), prefix(t, 20).to_string()))
            .collect();
        let spec = std::env::var("LANG_TUNE").unwrap_or_default();
        let mut trials = vec![("base".to_string(), base.clone())];
        for part in spec.split(';').filter(|s| !s.is_empty()) {
            let (name, values) = part.split_once('=').unwrap();
            for v in values.split(',') {
                let mut p = base.clone();
                match name {
                    "bits" => p.bits = v.parse().unwrap(),
                    "ngram_max" => p.ngram_max = v.parse().unwrap(),
                    "alpha" => p.alpha = v.parse().unwrap(),
                    "alpha_word" => p.alpha_word = v.parse().unwrap(),
                    "gamma" => p.gamma = v.parse().unwrap(),
                    "clip" => p.clip = v.parse().unwrap(),
                    "word_weight" => p.word_weight = v.parse().unwrap(),
                    "word_top" => p.word_top = v.parse().unwrap(),
                    "min_confidence" => p.min_confidence = v.parse().unwrap(),
                    "ngram_norm" => p.ngram_norm = v.parse().unwrap(),
                    other => panic!("unknown setting {other}"),
                }
                trials.push((format!("{name}={v}"), p));
            }
        }
        for (label, p) in trials {
            let bytes = build(&p, &dir, &lists);
            let m = LangModel::from_bytes(&bytes).unwrap();
            let (_, d) = report(&m, "dev", &dev);
            let (_, ds) = report(&m, "dev20", &dev_short);
            println!(
                "{label:24} dev acc {} (answered {}, precision {}) | dev≤20 acc {} (answered {}) T={:.2} power={}",
                pct(d.acc()), pct(d.coverage()), pct(d.precision()), pct(ds.acc()), pct(ds.coverage()), m.header.temperature, m.header.length_power
            );
        }
    }

    /// Evaluates `LANG_MODEL` (default: the shipped model) on the held-out sets and writes the
    /// markdown report to `LANG_REPORT`.
    #[test]
    #[ignore = "needs the prepared corpora: bench/classify/lang/run.sh"]
    fn lang_evaluate() {
        let dir = prepared().expect("COPERNIC_LANG_PREPARED");
        let bytes = match std::env::var("LANG_MODEL") {
            Ok(path) => std::fs::read(path).unwrap(),
            Err(_) => DEFAULT_BYTES.to_vec(),
        };
        let model = LangModel::from_bytes(&bytes).unwrap();
        let mut out = String::new();
        for (name, rows) in eval_sets(&dir) {
            let (s, _) = report(&model, &name, &rows);
            out.push_str(&s);
        }
        println!("{out}");
        if let Ok(path) = std::env::var("LANG_REPORT") {
            std::fs::write(path, out).unwrap();
        }
    }

    /// Prints the guess for each line of the file `LANG_PROBE` (for looking at examples).
    #[test]
    #[ignore = "prints guesses for the lines of LANG_PROBE"]
    fn lang_probe() {
        let path = std::env::var("LANG_PROBE").expect("LANG_PROBE");
        for line in std::fs::read_to_string(path).unwrap().lines() {
            let p = default_model().unwrap().probabilities(line);
            let top: Vec<String> = p
                .map(|p| {
                    let mut v: Vec<(usize, f32)> = p.iter().copied().enumerate().collect();
                    v.sort_by(|a, b| b.1.total_cmp(&a.1));
                    v.iter()
                        .take(3)
                        .map(|(i, x)| format!("{}:{:.2}", LANGS[*i], x))
                        .collect()
                })
                .unwrap_or_default();
            println!(
                "{:?}\t{}\t{line}",
                identify(line).map(|g| g.lang),
                top.join(" ")
            );
        }
    }

    /// Messages per second on one core over the held-out texts (build with `--release`).
    #[test]
    #[ignore = "timing: bench/classify/lang/run.sh"]
    fn lang_throughput() {
        let dir = prepared().expect("COPERNIC_LANG_PREPARED");
        let model = default_model().unwrap();
        let mut sets: Vec<(String, Vec<String>)> = Vec::new();
        let all: Vec<String> = ["ovos-test", "ha", "udhr"]
            .iter()
            .flat_map(|n| load_eval(&dir, n))
            .map(|r| r.2)
            .collect();
        let short: Vec<String> = all
            .iter()
            .filter(|t| t.chars().count() <= 60)
            .cloned()
            .collect();
        let tweets: Vec<String> = all
            .iter()
            .map(|t| format!("@brand {} 😀 https://t.co/xYz #tag", prefix(t, 80)))
            .collect();
        sets.push(("held-out texts ≤ 60 chars".into(), short));
        sets.push(("all held-out texts".into(), all));
        sets.push(("with a mention, emoji, URL, hashtag".into(), tweets));
        let secs: f64 = env_or("LANG_BENCH_SECS", 2.0);
        for (name, texts) in sets {
            let bytes: usize = texts.iter().map(String::len).sum();
            let mut n = 0usize;
            let mut found = 0usize;
            let start = Instant::now();
            while start.elapsed().as_secs_f64() < secs {
                for t in &texts {
                    found += usize::from(model.identify(std::hint::black_box(t)).is_some());
                }
                n += texts.len();
            }
            let el = start.elapsed().as_secs_f64();
            println!(
                "{name}: {} texts, mean {:.0} bytes: {:.0} messages/s, {:.0} MB/s ({} answered)",
                texts.len(),
                bytes as f64 / texts.len() as f64,
                n as f64 / el,
                (bytes as f64 * (n / texts.len()) as f64) / el / 1e6,
                found / (n / texts.len()).max(1)
            );
        }
    }
}
