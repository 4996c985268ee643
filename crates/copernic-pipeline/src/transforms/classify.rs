//! Classification of every ingested message: language, sentiment, intent, topics, urgency and
//! personal data, written into the message's `lang` and `labels`. What the source already said
//! (a `lang`, a `sentiment` field of an export) is kept: people and upstream tools outrank the
//! model.

use std::cell::RefCell;

use copernic_classify::defaults::{Classifier, Context, Scratch};
use copernic_classify::pii;
use copernic_core::Message;

thread_local! {
    // One set of buffers per thread: classification runs on the classify thread of an import
    // and on the server's blocking threads.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Whether personal data found in a message is replaced (`[email]`, `[card]`, …) before it is
/// stored, in the text and in the kept payload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Redaction(pub bool);

/// Classifies `m` in place.
pub fn classify(c: &Classifier, m: &mut Message, redaction: Redaction) {
    // Its strings are moved into the message, not copied: a million messages, several each.
    let mut result = SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        c.classify(
            &m.text,
            Context {
                lang: m.lang.as_deref(),
                ..Context::default()
            },
            &mut s,
        )
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
    }
}
