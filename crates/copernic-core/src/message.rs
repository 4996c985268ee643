//! The normalised message every source produces.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The workspace (brand) every record belongs to until a user creates another.
pub const DEFAULT_WORKSPACE: &str = "default";

/// A message id: the first 128 bits of SHA-256 over (source, external id).
///
/// Deterministic, so that a replay of the same file or webhook delivery lands on the same row and
/// is counted as a duplicate instead of stored twice. 128 bits keep collisions negligible at the
/// billions of messages a firehose accumulates (64 bits would not).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub [u8; 16]);

impl MessageId {
    /// The id of the message `external_id` of `source`.
    pub fn derive(source: &str, external_id: &str) -> MessageId {
        let mut h = Sha256::new();
        h.update(source.as_bytes());
        // A separator that cannot appear in either part keeps ("ab","c") apart from ("a","bc").
        h.update([0x1f]);
        h.update(external_id.as_bytes());
        let digest = h.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        MessageId(id)
    }

    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(32);
        for b in self.0 {
            s.push(char::from_digit((b >> 4) as u32, 16).unwrap_or('0'));
            s.push(char::from_digit((b & 15) as u32, 16).unwrap_or('0'));
        }
        s
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({})", self.to_hex())
    }
}

/// A string that is not 32 hexadecimal digits.
#[derive(Debug, thiserror::Error)]
#[error("a message id is 32 hexadecimal digits, got {0:?}")]
pub struct BadMessageId(pub String);

impl FromStr for MessageId {
    type Err = BadMessageId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        if bytes.len() != 32 {
            return Err(BadMessageId(s.to_string()));
        }
        let mut id = [0u8; 16];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16);
            let lo = (pair[1] as char).to_digit(16);
            match (hi, lo) {
                (Some(hi), Some(lo)) => id[i] = (hi * 16 + lo) as u8,
                _ => return Err(BadMessageId(s.to_string())),
            }
        }
        Ok(MessageId(id))
    }
}

impl Serialize for MessageId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for MessageId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether the brand received the message or sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

impl FromStr for Direction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "inbound" | "in" | "received" => Ok(Direction::Inbound),
            "outbound" | "out" | "sent" => Ok(Direction::Outbound),
            other => Err(format!(
                "direction must be inbound or outbound, got {other:?}"
            )),
        }
    }
}

/// Who wrote a message, as the source knows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// The source's stable id for the author (account id, e-mail address).
    pub id: Option<String>,
    /// The public handle (`@name`), when the channel has one.
    pub handle: Option<String>,
    /// The display name.
    pub name: Option<String>,
}

/// What is known of a message's meaning: filterable by listening queries (`sentiment:negative`,
/// `intent:complaint`, `topic:delivery`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Labels {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
    /// Calibrated probabilities of the sentiment and intent, when a model gave them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment_score: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_score: Option<f32>,
    /// 0 to 1: how soon a person should see it, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urgency: Option<f32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urgency_reasons: Vec<String>,
    /// Kinds of personal data found (`email`, `phone`, `card`, `iban`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pii: Vec<String>,
}

impl Labels {
    /// The labels as JSON, appended to `out`: exactly what `serde_json` writes for them, without
    /// its per-field and per-byte work. A bulk import writes one per message, and through the
    /// serializer that was a fourteenth of the writer's time.
    pub fn write_json(&self, out: &mut String) {
        let mut sep = '{';
        let mut key = |out: &mut String, k: &str| {
            out.push(sep);
            sep = ',';
            out.push('"');
            out.push_str(k);
            out.push_str("\":");
        };
        if let Some(s) = &self.sentiment {
            key(out, "sentiment");
            json_str(out, s);
        }
        if let Some(s) = &self.intent {
            key(out, "intent");
            json_str(out, s);
        }
        if !self.topics.is_empty() {
            key(out, "topics");
            json_strs(out, &self.topics);
        }
        if let Some(x) = self.sentiment_score {
            key(out, "sentiment_score");
            json_f32(out, x);
        }
        if let Some(x) = self.intent_score {
            key(out, "intent_score");
            json_f32(out, x);
        }
        if let Some(x) = self.urgency {
            key(out, "urgency");
            json_f32(out, x);
        }
        if !self.urgency_reasons.is_empty() {
            key(out, "urgency_reasons");
            json_strs(out, &self.urgency_reasons);
        }
        if !self.pii.is_empty() {
            key(out, "pii");
            json_strs(out, &self.pii);
        }
        if sep == '{' {
            out.push('{');
        }
        out.push('}');
    }

    pub fn is_empty(&self) -> bool {
        self.sentiment.is_none()
            && self.intent.is_none()
            && self.topics.is_empty()
            && self.urgency.is_none()
            && self.pii.is_empty()
    }
}

/// `s` as a JSON string: as given when nothing in it needs escaping (labels are words), else
/// through `serde_json`.
fn json_str(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        // Writing a string into a `String` cannot fail.
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    }
}

fn json_strs(out: &mut String, items: &[String]) {
    let mut sep = '[';
    for s in items {
        out.push(sep);
        sep = ',';
        json_str(out, s);
    }
    out.push(']');
}

/// As `serde_json`: the shortest form that reads back the same, `null` when not finite.
fn json_f32(out: &mut String, x: f32) {
    if x.is_finite() {
        out.push_str(zmij::Buffer::new().format_finite(x));
    } else {
        out.push_str("null");
    }
}

/// One message, normalised: every source produces this shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Derived from (source, external_id): see [`MessageId`].
    pub id: MessageId,
    /// The brand this message belongs to.
    pub workspace: String,
    /// The configured source that brought the message in (`support-mail`, `import`, ...).
    pub source: String,
    /// The message's id at its origin (Message-ID, status id, GUID, row key).
    pub external_id: String,
    /// The channel it was said on (`email`, `rss`, `mastodon`, `twitter`, `api`, ...).
    pub channel: String,
    pub direction: Direction,
    pub author: Author,
    /// The conversation this message belongs to; resolved by the store from the parent when the
    /// source does not know the root.
    pub thread_id: Option<MessageId>,
    /// The message this one answers, as an id of the same source.
    pub in_reply_to: Option<MessageId>,
    pub title: Option<String>,
    pub text: String,
    /// When the author said it (UTC).
    pub created_at: DateTime<Utc>,
    /// When Copernic received it (UTC).
    pub received_at: DateTime<Utc>,
    pub url: Option<String>,
    /// ISO 639-1 code, when known (filled by the source or by classification).
    pub lang: Option<String>,
    /// Hashtags or categories the source attached.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Sentiment, intent and topics, as the source labelled them (later: as classified).
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    /// The bytes the source received for this message, kept verbatim for audit and replays.
    #[serde(skip)]
    pub raw: Vec<u8>,
}

impl Message {
    /// A message with the required parts; every optional part empty.
    pub fn new(source: &str, external_id: &str, channel: &str, text: String) -> Message {
        Message::received(
            DEFAULT_WORKSPACE.to_string(),
            source.to_string(),
            external_id.to_string(),
            channel.to_string(),
            text,
            Utc::now(),
        )
    }

    /// [`Message::new`] in `workspace`, received (and, until a source says otherwise, created)
    /// at `now`, taking its strings as they are: sources build a million of these in a bulk
    /// import, and no string is made to be replaced.
    pub fn received(
        workspace: String,
        source: String,
        external_id: String,
        channel: String,
        text: String,
        now: DateTime<Utc>,
    ) -> Message {
        Message {
            id: MessageId::derive(&source, &external_id),
            workspace,
            source,
            external_id,
            channel,
            direction: Direction::Inbound,
            author: Author::default(),
            thread_id: None,
            in_reply_to: None,
            title: None,
            text,
            created_at: now,
            received_at: now,
            url: None,
            lang: None,
            tags: Vec::new(),
            labels: Labels::default(),
            raw: Vec::new(),
        }
    }
}

/// A message as it is written to the store: the message and what ingestion derived from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ingested {
    #[serde(flatten)]
    pub message: Message,
    /// SimHash of the normalised text, used to find near-duplicates; 0 when too short to compare.
    /// Internal: not part of the API.
    #[serde(skip)]
    pub fingerprint: u64,
    /// The first message of the near-duplicate wave (copy-paste campaign, bot flood) this message
    /// belongs to; `None` when it is not part of one.
    pub wave: Option<MessageId>,
    /// Names of the standing listening queries the message matched (of its workspace).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<String>,
    /// The message's search terms, one per line, when a step before the store made them (the
    /// classify step does): its text's words ([`crate::text::analyze`]'s), then its field terms
    /// ([`crate::text::indexed_fields`]). The search index takes them instead of analysing the
    /// text again, and the writer need not make the field terms. Internal: not part of the API.
    #[serde(skip)]
    pub words: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Labels written by hand are byte for byte what `serde_json` writes, escapes, odd floats
    /// and empty fields included.
    #[test]
    fn labels_json_is_serde_jsons() {
        let words = [
            "negative",
            "",
            "a \"quoted\" word",
            "back\\slash",
            "tab\there",
            "\u{1}",
            "é✓😀",
            "\u{7f}",
        ];
        let floats = [
            0.0,
            -0.0,
            0.9914786,
            1.0,
            1e-7,
            3.4e38,
            0.1,
            f32::NAN,
            f32::INFINITY,
            -1.5,
        ];
        let mut seed = 7u64;
        let next = |seed: &mut u64, n: usize| {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (*seed >> 33) as usize % n
        };
        let pick = |seed: &mut u64, n: usize| -> Vec<String> {
            (0..next(seed, n))
                .map(|_| words[next(seed, words.len())].to_string())
                .collect()
        };
        let score = |seed: &mut u64| (next(seed, 3) > 0).then(|| floats[next(seed, floats.len())]);
        for _ in 0..2000 {
            let labels = Labels {
                sentiment: pick(&mut seed, 2).pop(),
                intent: pick(&mut seed, 2).pop(),
                topics: pick(&mut seed, 4),
                sentiment_score: score(&mut seed),
                intent_score: score(&mut seed),
                urgency: score(&mut seed),
                urgency_reasons: pick(&mut seed, 3),
                pii: pick(&mut seed, 3),
            };
            let mut ours = String::from("kept:");
            labels.write_json(&mut ours);
            assert_eq!(
                ours.strip_prefix("kept:").unwrap(),
                serde_json::to_string(&labels).unwrap(),
                "{labels:?}"
            );
        }
    }

    #[test]
    fn id_is_deterministic_and_separates_parts() {
        let a = MessageId::derive("mail", "<1@x>");
        assert_eq!(a, MessageId::derive("mail", "<1@x>"));
        assert_ne!(a, MessageId::derive("mail2", "<1@x>"));
        assert_ne!(MessageId::derive("ab", "c"), MessageId::derive("a", "bc"));
    }

    #[test]
    fn id_round_trips_through_hex() {
        let a = MessageId::derive("s", "e");
        let hex = a.to_hex();
        assert_eq!(hex.len(), 32);
        assert_eq!(hex.parse::<MessageId>().unwrap(), a);
        assert!("zz".parse::<MessageId>().is_err());
        assert!("g".repeat(32).parse::<MessageId>().is_err());
    }
}
