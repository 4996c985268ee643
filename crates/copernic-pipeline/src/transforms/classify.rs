//! Classification of every ingested message: language, sentiment, intent, topics, urgency and
//! personal data, written into the message's `lang` and `labels`. What the source already said
//! (a `lang`, a `sentiment` field of an export) is kept: people and upstream tools outrank the
//! model.

use std::cell::RefCell;

use copernic_classify::defaults::{Classifier, Context, Scratch};
use copernic_classify::pii;
use copernic_core::Message;

use crate::transforms::neardup;

thread_local! {
    // One set of buffers per thread: classification runs on the classify thread of an import
    // and on the server's blocking threads.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Whether personal data found in a message is replaced (`[email]`, `[card]`, …) before it is
/// stored, in the text and in the kept payload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Redaction(pub bool);

/// What classifying a message derived from its text besides labels, from the words the
/// classifier cut: nothing else cuts the text again.
#[derive(Debug, Default)]
pub struct Cut {
    /// The near-duplicate fingerprint of the text as stored ([`neardup::fingerprint`]).
    pub fingerprint: u64,
    /// The search terms of the message as stored (see `Ingested::words`); `None` when the text
    /// was changed after it was cut (redacted).
    pub words: Option<String>,
}

/// Classifies `m` in place.
pub fn classify(c: &Classifier, m: &mut Message, redaction: Redaction, min_words: usize) -> Cut {
    // Its strings are moved into the message, not copied: a million messages, several each.
    let (mut result, fingerprint, words) = SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        let result = c.classify(
            &m.text,
            Context {
                lang: m.lang.as_deref(),
                ..Context::default()
            },
            &mut s,
        );
        let fingerprint = neardup::of_word_hashes(s.word_hashes(), min_words);
        // Room for the field terms added below.
        let mut words = String::with_capacity(s.search_words().len() + 96);
        words.push_str(s.search_words());
        (result, fingerprint, words)
    });
    if m.lang.is_none() {
        m.lang = result.lang.take();
    }
    let l = &mut m.labels;
    if l.sentiment.is_none() {
        l.sentiment = Some(std::mem::take(&mut result.sentiment.label));
        l.sentiment_score = Some(result.sentiment.score);
    }
    if l.intent.is_none() {
        l.intent = Some(std::mem::take(&mut result.intent.label));
        l.intent_score = Some(result.intent.score);
    }
    if l.topics.is_empty() {
        l.topics = result
            .topics
            .iter_mut()
            .map(|t| std::mem::take(&mut t.label))
            .collect();
    }
    l.urgency = Some(result.urgency);
    l.urgency_reasons = std::mem::take(&mut result.urgency_reasons);
    let mut kinds: Vec<String> = result
        .pii
        .iter()
        .map(|p| p.kind.as_str().to_string())
        .collect();
    kinds.sort();
    kinds.dedup();
    l.pii = kinds;
    if redaction.0 && !result.pii.is_empty() {
        m.text = pii::redact(&m.text, &result.pii);
        // The payload as received would keep what was redacted: it is replaced by the
        // redacted text.
        m.raw = m.text.as_bytes().to_vec();
        // The stored text is the redacted one: what was cut holds what was redacted.
        return Cut {
            fingerprint: neardup::fingerprint(&m.text, min_words),
            words: None,
        };
    }
    // The field terms, now that the labels are set: made here rather than on the writer.
    let mut words = words;
    copernic_store::search::Postings::push_field_terms(
        &mut words,
        &copernic_core::text::indexed_fields(m),
    );
    Cut {
        fingerprint,
        words: Some(words),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fingerprint made from the classifier's words is the one `neardup::fingerprint` makes
    /// of the text: messages classified on import and those fingerprinted without a classifier
    /// (or after redaction) are compared with each other. The search words are the analyzer's:
    /// the index takes them for the text's.
    #[test]
    fn what_is_cut_while_classifying_is_the_texts() {
        let c = Classifier::shipped().unwrap();
        let demo = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../copernic/demo/messages.jsonl"
        ))
        .unwrap();
        let mut texts: Vec<String> = demo
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter_map(|v| v["text"].as_str().map(str::to_string))
            .collect();
        assert!(texts.len() > 1000);
        texts.extend(
            [
                "",
                "Stop testing on animals now! Brand X must sign the pledge #CrueltyFree2024 @brandx",
                "I don't want THIS, n'importe quoi l'équipe, trèèès déçu!!! https://t.co/x 42",
                "Mélange: café-crème 100% À emporter, l'été 2024 -- merci!!! @marque www.x.fr",
                "tabs\tand\nnew lines\u{a0}no-break\u{3000}ideographic space 42 end.",
                "anticonstitutionnellementtrèslongmotquidépasse la limite des clés 😡😡",
            ]
            .map(str::to_string),
        );
        texts.push("mot ".repeat(300));
        for (i, text) in texts.iter().enumerate() {
            // Every third without a language, so that it is identified too.
            let lang = ["fr", "en", ""][i % 3];
            let mut m = Message::new("t", &i.to_string(), "api", text.clone());
            m.lang = (!lang.is_empty()).then(|| lang.to_string());
            for min_words in [1, 6] {
                let mut m = m.clone();
                let got = classify(&c, &mut m, Redaction(false), min_words);
                assert_eq!(
                    got.fingerprint,
                    neardup::fingerprint(text, min_words),
                    "{text:?}"
                );
                let mut want: Vec<String> = copernic_core::text::tokens(text)
                    .map(|t| t.into_owned())
                    .collect();
                let mut fields = String::new();
                copernic_store::search::Postings::push_field_terms(
                    &mut fields,
                    &copernic_core::text::indexed_fields(&m),
                );
                want.extend(fields.lines().map(str::to_string));
                let mut words: Vec<String> =
                    got.words.unwrap().lines().map(str::to_string).collect();
                want.sort();
                words.sort();
                assert_eq!(words, want, "{text:?}");
            }
        }
    }

    #[test]
    fn a_redacted_text_is_fingerprinted_as_stored() {
        let c = Classifier::shipped().unwrap();
        let text =
            "please call me back at +33 6 12 34 56 78 or write to jane.doe@example.com today";
        let mut m = Message::new("t", "1", "api", text.to_string());
        let got = classify(&c, &mut m, Redaction(true), 1);
        assert_ne!(m.text, text);
        assert_eq!(got.fingerprint, neardup::fingerprint(&m.text, 1));
        assert!(got.words.is_none(), "the words hold the address");
    }
}
