//! The shipped models and the full classify step every message goes through: language,
//! sentiment, intent, topics (the brand's own model, when it has one), personal data, urgency.
//!
//! What each shipped model was trained on, and how well it does, is in `models/README.md`.

use serde::Serialize;

use crate::features::{extract, extract_with_words, for_each_word};
use crate::model::{Model, ModelError};
use crate::pii::{self, PiiMatch};
use crate::wordsums::WordSums;

const INTENT: &[u8] = include_bytes!("../models/intent.cpnm");
const SENTIMENT_FR: &[u8] = include_bytes!("../models/sentiment-fr.cpnm");

/// One task's answer: the label, its calibrated probability, and where it came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Label {
    /// `uncertain` when the model's top probability is under its threshold.
    pub label: String,
    pub score: f32,
    /// `model:NAME`, or how the label was derived (`intent` for English sentiment, see
    /// `models/README.md`).
    pub source: &'static str,
    /// Every label's probability, best first, when asked for ([`Context::all_scores`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<(String, f32)>,
}

/// Everything the classify step says of one message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Classification {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    pub sentiment: Label,
    pub intent: Label,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<Label>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pii: Vec<PiiMatch>,
    /// 0 to 1, with the reasons that raised it.
    pub urgency: f32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urgency_reasons: Vec<String>,
}

/// What is known of a message besides its text.
#[derive(Clone, Copy, Debug, Default)]
pub struct Context<'a> {
    /// The language, when the source said it (else it is identified).
    pub lang: Option<&'a str>,
    /// The author's audience (followers), when the source said it.
    pub reach: Option<u64>,
    /// Give every label's probability, not only the chosen one's (for people and scripts; the
    /// firehose path leaves it off).
    pub all_scores: bool,
}

/// The shipped models, loaded once.
pub struct Classifier {
    pub intent: Model,
    pub sentiment_fr: Model,
    /// The brand's topic model (multi-label), when one is installed.
    pub topics: Option<Model>,
}

/// Reusable buffers: one per thread.
#[derive(Default)]
pub struct Scratch {
    features: Vec<u32>,
    /// The intent model's logits then probabilities, then (French) the sentiment model's.
    probs: Vec<f32>,
    logits: Vec<f32>,
    pii: Vec<PiiMatch>,
    sums: WordSums,
    /// The word hashes of the last text, when the logits were not summed by `sums`.
    hashes: Vec<u64>,
    /// Whether the last text's word hashes are in `hashes` rather than in `sums`.
    own_hashes: bool,
    /// The search words of the last text, one per line.
    words: String,
}

impl Scratch {
    /// The search words of the text last classified with this scratch, one per line: the words
    /// [`copernic_core::text::analyze`] gives (see [`crate::features::for_each_word`]).
    pub fn search_words(&self) -> &str {
        &self.words
    }

    /// The hashes of the words of the text last classified with this scratch, as
    /// [`crate::features::word_hashes`] gives them: the classify step cuts the text anyway.
    pub fn word_hashes(&self) -> &[u64] {
        if self.own_hashes {
            &self.hashes
        } else {
            self.sums.word_hashes()
        }
    }
}

/// Words that make a message urgent whatever its sentiment: safety, health, legal threats,
/// fraud. Folded forms (matched against the folded words), sorted to be read.
const URGENT_WORDS: [&str; 34] = [
    "allergic",
    "allergie",
    "arnaque",
    "avocat",
    "blesse",
    "brulure",
    "burn",
    "danger",
    "dangereux",
    "dangerous",
    "emergency",
    "explosion",
    "feu",
    "fire",
    "fraud",
    "fraude",
    "hopital",
    "hospital",
    "incendie",
    "injured",
    "injury",
    "intoxication",
    "lawsuit",
    "lawyer",
    "plainte",
    "poison",
    "police",
    "proces",
    "scam",
    "stolen",
    "sue",
    "tribunal",
    "urgence",
    "urgent",
];

/// The urgent words by first letter and length: bit `i` of `[letter][length]` is
/// `URGENT_WORDS[i]`. Every word of every message is looked up, and nearly all are answered by
/// this table alone, without comparing a byte.
const URGENT_INDEX: [[u64; 16]; 26] = {
    let mut t = [[0u64; 16]; 26];
    let mut i = 0;
    while i < URGENT_WORDS.len() {
        // Lowercase ASCII, under 16 bytes and at most 64 words, or this fails to compile.
        let w = URGENT_WORDS[i].as_bytes();
        t[(w[0] - b'a') as usize][w.len()] |= 1 << i;
        i += 1;
    }
    t
};

/// `w` as one of [`URGENT_WORDS`], if it is one.
fn urgent_word(w: &str) -> Option<&'static str> {
    let b = w.as_bytes();
    let first = *b.first()?;
    if !first.is_ascii_lowercase() || b.len() >= 16 {
        return None;
    }
    let mut candidates = URGENT_INDEX[usize::from(first - b'a')][b.len()];
    while candidates != 0 {
        let i = candidates.trailing_zeros() as usize;
        candidates &= candidates - 1;
        if URGENT_WORDS[i].as_bytes() == b {
            return Some(URGENT_WORDS[i]);
        }
    }
    None
}

/// Remembers the first urgent word among the words it is shown.
fn first_urgent<'a>(hit: &'a mut Option<&'static str>) -> impl FnMut(&str) + 'a {
    move |w| {
        if hit.is_none() {
            *hit = urgent_word(w);
        }
    }
}

impl Classifier {
    /// The shipped models (embedded in the binary).
    pub fn shipped() -> Result<Classifier, ModelError> {
        Ok(Classifier {
            intent: Model::from_bytes(INTENT)?,
            sentiment_fr: Model::from_bytes(SENTIMENT_FR)?,
            topics: None,
        })
    }

    /// Learns from a person's correction of `task` (`sentiment`, `intent`, `topics` — several
    /// separated by `;`) on `text`; false when no model produces that task for this language
    /// (English sentiment is derived from intent) or the label is unknown to the model.
    pub fn learn(&mut self, task: &str, text: &str, label: &str, lang: Option<&str>) -> bool {
        let labels: Vec<String> = label.split(';').map(str::to_string).collect();
        match task {
            "intent" => self.intent.learn(text, &labels),
            "sentiment" if lang.is_some_and(|l| l.starts_with("fr")) => {
                self.sentiment_fr.learn(text, &labels)
            }
            "topics" | "topic" => self.topics.as_mut().is_some_and(|m| m.learn(text, &labels)),
            _ => false,
        }
    }

    /// The classification of `text` now, with fresh buffers (for answers to people, not the
    /// firehose).
    pub fn preview(&self, text: &str, lang: Option<&str>) -> Classification {
        self.classify(
            text,
            Context {
                lang,
                reach: None,
                all_scores: true,
            },
            &mut Scratch::default(),
        )
    }

    fn label(model: &Model, probs: &[f32], source: &'static str, all: bool) -> Label {
        let scores = if all {
            let mut v: Vec<(String, f32)> = model
                .labels
                .iter()
                .cloned()
                .zip(probs.iter().copied())
                .collect();
            v.sort_by(|a, b| b.1.total_cmp(&a.1));
            v
        } else {
            Vec::new()
        };
        let (arg, top) = probs
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, 0.0));
        Label {
            label: if top >= model.threshold {
                model.labels[arg].clone()
            } else {
                "uncertain".to_string()
            },
            score: top,
            source,
            scores,
        }
    }

    /// Classifies one message.
    pub fn classify(&self, text: &str, ctx: Context<'_>, s: &mut Scratch) -> Classification {
        let lang = ctx
            .lang
            .map(|l| l.split(['-', '_']).next().unwrap_or(l).to_ascii_lowercase())
            .or_else(|| crate::lang::identify(text).map(|g| g.lang.to_string()));

        // The shipped models share one feature configuration: the text is cut once, the logits
        // of both are summed with the tokens' kept sums, and the words are checked for urgency on
        // the way. French sentiment only for French.
        let mut urgent = None;
        let mut check_urgent = first_urgent(&mut urgent);
        s.words.clear();
        let search_words = &mut s.words;
        // The words are checked for urgency and kept for the search index.
        let mut words = |w: &str| {
            check_urgent(w);
            if !w.is_empty() {
                search_words.push_str(w);
                search_words.push('\n');
            }
        };
        let fr = lang.as_deref() == Some("fr");
        let shared = [&self.intent, &self.sentiment_fr];
        if WordSums::fits(&shared) {
            s.sums.logits(
                &shared,
                1 + usize::from(fr),
                text,
                &mut s.probs,
                Some(&mut words),
            );
            s.own_hashes = false;
        } else {
            crate::features::word_hashes(text, &mut s.hashes);
            s.own_hashes = true;
            extract_with_words(text, &self.intent.features, &mut s.features, &mut words);
            self.intent.logits_into(&s.features, &mut s.probs);
            if fr {
                if self.sentiment_fr.features != self.intent.features {
                    extract(text, &self.sentiment_fr.features, &mut s.features);
                }
                self.sentiment_fr.logits_into(&s.features, &mut s.logits);
                s.probs.extend_from_slice(&s.logits);
            }
        }
        // Done with the words: `urgent` is read below.
        drop(check_urgent);
        let (intent_probs, sentiment_probs) = s.probs.split_at_mut(self.intent.labels.len());
        self.intent.probabilities(intent_probs);
        let intent = Self::label(&self.intent, intent_probs, "model:intent", ctx.all_scores);
        let p_intent = |name: &str| {
            self.intent
                .labels
                .iter()
                .position(|l| l == name)
                .map_or(0.0, |i| intent_probs[i])
        };
        let complaint = p_intent("complaint") + p_intent("churn_risk");
        let praise = p_intent("praise");

        let (sentiment, negative) = if fr {
            self.sentiment_fr.probabilities(sentiment_probs);
            let l = Self::label(
                &self.sentiment_fr,
                sentiment_probs,
                "model:sentiment-fr",
                ctx.all_scores,
            );
            let neg = self
                .sentiment_fr
                .labels
                .iter()
                .position(|x| x == "negative")
                .map_or(0.0, |i| sentiment_probs[i]);
            (l, neg)
        } else {
            // No labelled English sentiment corpus here: derived from the intent model.
            let (label, score) = if complaint >= 0.5 {
                ("negative", complaint)
            } else if praise >= 0.5 {
                ("positive", praise)
            } else {
                ("neutral", 1.0 - complaint.max(praise))
            };
            (
                Label {
                    label: label.to_string(),
                    score,
                    source: "intent",
                    scores: Vec::new(),
                },
                complaint,
            )
        };

        let topics = match &self.topics {
            Some(m) => {
                extract(text, &m.features, &mut s.features);
                m.logits_into(&s.features, &mut s.probs);
                m.probabilities(&mut s.probs);
                let cut = if m.threshold > 0.0 { m.threshold } else { 0.5 };
                m.labels
                    .iter()
                    .zip(&s.probs)
                    .filter(|(_, p)| **p >= cut)
                    .map(|(l, p)| Label {
                        label: l.clone(),
                        score: *p,
                        source: "model:topics",
                        scores: Vec::new(),
                    })
                    .collect()
            }
            None => Vec::new(),
        };

        pii::detect_into(text, &mut s.pii);
        let (urgency, urgency_reasons) = urgency_of(urgent, negative, complaint, ctx.reach);
        Classification {
            lang,
            sentiment,
            intent,
            topics,
            pii: s.pii.clone(),
            urgency,
            urgency_reasons,
        }
    }
}

/// Urgency from what is known: a negative message, a complaint or a wish to leave, safety,
/// health or legal words, and the author's reach. Each reason adds to the score (capped at 1),
/// and is named, so that a person sees why a message jumped the queue.
pub fn urgency(
    text: &str,
    negative: f32,
    complaint: f32,
    reach: Option<u64>,
) -> (f32, Vec<String>) {
    let mut urgent = None;
    for_each_word(text, &mut first_urgent(&mut urgent));
    urgency_of(urgent, negative, complaint, reach)
}

/// [`urgency`], the text's first urgent word already found.
fn urgency_of(
    urgent: Option<&'static str>,
    negative: f32,
    complaint: f32,
    reach: Option<u64>,
) -> (f32, Vec<String>) {
    let mut score = 0.0f32;
    let mut reasons = Vec::new();
    if negative >= 0.5 {
        score += 0.25 * negative;
        reasons.push("negative".to_string());
    }
    if complaint >= 0.5 {
        score += 0.25 * complaint;
        reasons.push("complaint".to_string());
    }
    if let Some(w) = urgent {
        score += 0.4;
        reasons.push(format!("word:{w}"));
    }
    if let Some(r) = reach.filter(|r| *r >= 1_000) {
        // 1,000 followers add a little, a million the most.
        score += 0.1 * ((r as f32).log10() - 2.0).min(4.0) / 4.0 * 2.0;
        reasons.push(format!("reach:{r}"));
    }
    (score.min(1.0), reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_models_load_and_answer() {
        let c = Classifier::shipped().unwrap();
        let mut s = Scratch::default();
        let r = c.classify(
            "I want to close my account, this bank is useless",
            Context {
                lang: Some("en"),
                ..Context::default()
            },
            &mut s,
        );
        assert_eq!(r.intent.label, "churn_risk", "{r:?}");
        let r = c.classify(
            "Un film magnifique, des acteurs formidables, j'ai adoré",
            Context {
                lang: Some("fr"),
                ..Context::default()
            },
            &mut s,
        );
        assert_eq!(r.sentiment.label, "positive", "{r:?}");
        assert_eq!(r.sentiment.source, "model:sentiment-fr");
    }

    #[test]
    fn models_that_cannot_share_sums_are_read_one_by_one() {
        // A French sentiment model with its own features: the shipped intent model is then
        // read through its feature list, and must say what the kept sums say.
        use crate::model::{examples, TrainConfig};
        let rows: Vec<(String, Vec<String>)> = [
            ("un film magnifique, j'ai adoré", "positive"),
            ("des acteurs formidables, superbe", "positive"),
            ("ennuyeux et raté, à éviter", "negative"),
            ("un navet, le scénario est nul", "negative"),
        ]
        .iter()
        .map(|(t, l)| (t.to_string(), vec![l.to_string()]))
        .collect();
        let labels = vec!["negative".to_string(), "positive".to_string()];
        let cfg = TrainConfig {
            features: crate::FeatureConfig {
                bits: 12,
                ..crate::FeatureConfig::default()
            },
            ..TrainConfig::default()
        };
        let train = examples(&rows, &labels, &cfg.features);
        let own = Model::train(labels, false, train, &[], &cfg, &mut |_, _| {}).unwrap();
        let shipped = Classifier::shipped().unwrap();
        let apart = Classifier {
            intent: shipped.intent.clone(),
            sentiment_fr: own,
            topics: None,
        };
        assert!(!WordSums::fits(&[&apart.intent, &apart.sentiment_fr]));
        let ctx = Context {
            lang: Some("fr"),
            ..Context::default()
        };
        for text in [
            "j'ai adoré ce film magnifique",
            "un navet raté, je veux être remboursé",
        ] {
            let a = apart.classify(text, ctx, &mut Scratch::default());
            let b = shipped.classify(text, ctx, &mut Scratch::default());
            assert_eq!(a.intent.label, b.intent.label, "{text}");
            assert!((a.intent.score - b.intent.score).abs() < 1e-5, "{text}");
            assert_eq!(a.sentiment.source, "model:sentiment-fr");
        }
    }

    #[test]
    fn urgent_words_are_sorted() {
        assert!(URGENT_WORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn urgent_words_are_found_and_only_them() {
        for w in URGENT_WORDS {
            assert_eq!(urgent_word(w), Some(w));
            assert_eq!(urgent_word(&w[1..]), None, "{w}");
            assert_eq!(urgent_word(&format!("{w}s")), None, "{w}");
        }
        for w in [
            "",
            "Feu",
            "fe",
            "fer",
            "polic",
            "procès",
            "hospitalisation",
            "é",
            "_",
        ] {
            assert_eq!(urgent_word(w), None, "{w}");
        }
    }

    #[test]
    fn urgency_reads_every_kind_of_word() {
        // The first urgent word in the text is the one named, wherever it stands.
        for (text, want) in [
            ("l'hôpital puis la POLICE", "word:hopital"),
            ("appelez @Police svp", "word:police"),
            ("#Arnaque en cours", "word:arnaque"),
            ("voir https://example.com/fraude-bancaire", "word:fraude"),
            ("they don't care, I will sue", "word:sue"),
        ] {
            let (_, why) = urgency(text, 0.0, 0.0, None);
            assert_eq!(why, [want], "{text}");
        }
    }

    #[test]
    fn urgency_names_its_reasons() {
        let (u, why) = urgency(
            "Le chargeur a pris feu, mon fils est blessé",
            0.9,
            0.8,
            Some(250_000),
        );
        assert!(u > 0.8, "{u}");
        assert_eq!(why[..3], ["negative", "complaint", "word:feu"]);
        assert!(why[3].starts_with("reach:"));
        let (u, why) = urgency("merci beaucoup", 0.1, 0.0, None);
        assert_eq!((u, why.len()), (0.0, 0));
    }
}
