//! Field mappings: which field of a JSON object or CSV row holds the text, the author, the date...
//! (`--map text=body,author=user.screen_name`). Unmapped fields are looked up under the names that
//! common exports use.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::OnceLock;

use copernic_core::hash::FxHashMap;
use copernic_core::{text, Direction, Message, MessageId, Reject};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Context;

/// A message field that a mapping can fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Id,
    Text,
    Title,
    Author,
    AuthorId,
    AuthorName,
    CreatedAt,
    Url,
    Channel,
    Thread,
    InReplyTo,
    Lang,
    Direction,
    Tags,
    Sentiment,
    Intent,
    Topics,
}

impl Field {
    pub const ALL: [Field; 17] = [
        Field::Id,
        Field::Text,
        Field::Title,
        Field::Author,
        Field::AuthorId,
        Field::AuthorName,
        Field::CreatedAt,
        Field::Url,
        Field::Channel,
        Field::Thread,
        Field::InReplyTo,
        Field::Lang,
        Field::Direction,
        Field::Tags,
        Field::Sentiment,
        Field::Intent,
        Field::Topics,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Text => "text",
            Field::Title => "title",
            Field::Author => "author",
            Field::AuthorId => "author_id",
            Field::AuthorName => "author_name",
            Field::CreatedAt => "created_at",
            Field::Url => "url",
            Field::Channel => "channel",
            Field::Thread => "thread",
            Field::InReplyTo => "in_reply_to",
            Field::Lang => "lang",
            Field::Direction => "direction",
            Field::Tags => "tags",
            Field::Sentiment => "sentiment",
            Field::Intent => "intent",
            Field::Topics => "topics",
        }
    }

    /// Where the field is looked for when the mapping does not name it: Copernic's own JSON shape
    /// first, then the names of common exports (Twitter/X, Sprinklr, Zendesk, Brandwatch).
    ///
    /// CSV columns match ignoring case, spaces and punctuation, so `full_text` also finds the
    /// "Full Text" column of a Brandwatch export and `created_time` Sprinklr's "Created Time".
    /// `tweet.*` paths read the `tweets.js` of a Twitter/X archive.
    fn defaults(self) -> &'static [&'static str] {
        match self {
            Field::Id => &[
                "external_id",
                "id_str",
                "id",
                "message_id",
                "post_id",
                "tweet_id",
                "resource_id",
                "uuid",
                "guid",
                "tweet.id_str",
            ],
            Field::Text => &[
                "text",
                "full_text",
                "body",
                "content",
                "message",
                "comment",
                "snippet",
                "hit_sentence",
                "post",
                "tweet.full_text",
                "tweet.text",
            ],
            Field::Title => &["title", "subject"],
            Field::Author => &[
                "author.handle",
                "author",
                "user.screen_name",
                "user.username",
                "account.acct",
                "username",
                "handle",
                "screen_name",
                "sender_screen_name",
                "author_handle",
                "from",
            ],
            Field::AuthorId => &[
                "author.id",
                "author_id",
                "user.id_str",
                "user.id",
                "user_id",
                "sender_id",
            ],
            Field::AuthorName => &[
                "author.name",
                "author_name",
                "user.name",
                "display_name",
                "sender_name",
                "full_name",
            ],
            Field::CreatedAt => &[
                "created_at",
                "date",
                "timestamp",
                "time",
                "published",
                "published_at",
                "created",
                "created_time",
                "created_date",
                "publish_date",
                "date_published",
                "tweet.created_at",
            ],
            Field::Url => &["url", "link", "permalink", "post_link"],
            Field::Channel => &[
                "channel",
                "network",
                "platform",
                "social_network",
                "page_type",
            ],
            Field::Thread => &["thread_id", "conversation_id", "thread"],
            Field::InReplyTo => &[
                "in_reply_to",
                "in_reply_to_status_id_str",
                "in_reply_to_status_id",
                "in_reply_to_id",
                "parent_id",
                "reply_to",
                "in_response_to_tweet_id",
                "tweet.in_reply_to_status_id_str",
            ],
            Field::Lang => &["lang", "language", "tweet.lang"],
            // `inbound` (true/false): the Kaggle "Customer Support on Twitter" corpus.
            Field::Direction => &["direction", "inbound"],
            Field::Tags => &[
                "tags",
                "hashtags",
                "entities.hashtags",
                "tweet.entities.hashtags",
            ],
            Field::Sentiment => &["sentiment", "labels.sentiment", "polarity"],
            Field::Intent => &["intent", "labels.intent"],
            Field::Topics => &["topics", "labels.topics", "topic"],
        }
    }
}

/// A column name reduced to its letters and digits, lowercased: `Full Text`, `full_text` and
/// `FULL-TEXT` are the same column.
pub fn column_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

impl FromStr for Field {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Field::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "unknown field {s:?}; mappable fields are {}",
                    names.join(", ")
                )
            })
    }
}

/// Which input field fills which message field, plus the channel given to records that name none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Message field → path in the record (`user.screen_name`; a number indexes an array).
    #[serde(default)]
    pub fields: BTreeMap<Field, String>,
    /// The channel of records without a channel field.
    #[serde(default)]
    pub channel: Option<String>,
    /// Where the records are inside one JSON document (`data`, `entry.*.changes.*.value`); by
    /// default a top-level array, or the array under `data`, `items`, `results`... of an object.
    #[serde(default)]
    pub items: Option<String>,
}

/// A `--map` argument that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("bad mapping {spec:?}: {reason}")]
pub struct BadMapping {
    pub spec: String,
    pub reason: String,
}

impl FromStr for Mapping {
    type Err = BadMapping;
    /// Parses `text=body,author=user.screen_name`.
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let mut m = Mapping::default();
        m.extend(spec)?;
        Ok(m)
    }
}

impl Mapping {
    /// Adds the pairs of a `--map` argument.
    pub fn extend(&mut self, spec: &str) -> Result<(), BadMapping> {
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = |reason: String| BadMapping {
                spec: pair.to_string(),
                reason,
            };
            let (field, path) = pair
                .split_once('=')
                .ok_or_else(|| bad("expected FIELD=PATH, e.g. text=body".into()))?;
            let field: Field = field.trim().parse().map_err(bad)?;
            let path = path.trim();
            if path.is_empty() {
                return Err(bad("the path after = is empty".into()));
            }
            self.fields.insert(field, path.to_string());
        }
        Ok(())
    }

    /// Where the text is looked for.
    pub fn text_paths(&self) -> impl Iterator<Item = &str> + '_ {
        self.paths(Field::Text)
    }

    /// The paths to try for `field`: the mapped one alone, or the defaults.
    fn paths(&self, field: Field) -> impl Iterator<Item = &str> + '_ {
        let mapped = self.fields.get(&field).map(String::as_str);
        let defaults: &'static [&'static str] = if mapped.is_some() {
            &[]
        } else {
            field.defaults()
        };
        mapped.into_iter().chain(defaults.iter().copied())
    }
}

/// A record whose fields can be looked up by path.
pub trait Record {
    /// The value at `path`, if present and not null.
    fn get(&self, path: &str) -> Option<Cow<'_, Value>>;

    /// Writes the record's top-level keys into `out` and returns how many, when it can list
    /// them all there; `None` when it cannot (then every path is looked up).
    fn top_keys<'a>(&'a self, _out: &mut [&'a str; MAX_LISTED_KEYS]) -> Option<usize> {
        None
    }
}

/// Records with more top-level keys than this are looked up path by path.
pub const MAX_LISTED_KEYS: usize = 32;

/// Every default path by the top-level key it needs (its first segment, and the whole path too,
/// for flat records with a key literally named `user.name`): the field and the path's place in
/// [`Field::defaults`].
fn default_paths_by_key() -> &'static FxHashMap<&'static str, Vec<(Field, u8)>> {
    static INDEX: OnceLock<FxHashMap<&'static str, Vec<(Field, u8)>>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index: FxHashMap<&'static str, Vec<(Field, u8)>> = FxHashMap::default();
        for field in Field::ALL {
            let defaults = field.defaults();
            // A field's candidates are one u64 of bits.
            assert!(defaults.len() <= 64, "{field:?} has too many default paths");
            for (i, path) in defaults.iter().enumerate() {
                let first = path.split('.').next().unwrap_or(path);
                index.entry(first).or_default().push((field, i as u8));
                if first != *path {
                    index.entry(path).or_default().push((field, i as u8));
                }
            }
        }
        index
    })
}

impl Record for Value {
    fn top_keys<'a>(&'a self, out: &mut [&'a str; MAX_LISTED_KEYS]) -> Option<usize> {
        let o = self.as_object()?;
        if o.len() > MAX_LISTED_KEYS {
            return None;
        }
        for (slot, k) in out.iter_mut().zip(o.keys()) {
            *slot = k;
        }
        Some(o.len())
    }

    fn get(&self, path: &str) -> Option<Cow<'_, Value>> {
        // An exact key wins over a dotted path, so a flat export with a column literally named
        // "user.name" is read as such.
        if let Some(v) = self.as_object().and_then(|o| o.get(path)) {
            return (!v.is_null()).then_some(Cow::Borrowed(v));
        }
        // Most default paths are absent from any one record: a plain name was just looked up.
        if !path.contains('.') {
            return None;
        }
        let mut cur = self;
        for seg in path.split('.') {
            cur = match cur {
                Value::Object(o) => o.get(seg)?,
                Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        (!cur.is_null()).then_some(Cow::Borrowed(cur))
    }
}

/// The values at `path`, where a `*` segment stands for every element of an array (or value of
/// an object): `entry.*.changes.*.value` reaches every change of a Meta webhook delivery. An empty
/// path is the value itself.
pub fn select<'v>(value: &'v Value, path: &str) -> Vec<&'v Value> {
    let mut current = vec![value];
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        let mut next = Vec::new();
        for v in current {
            match (seg, v) {
                ("*", Value::Array(a)) => next.extend(a.iter()),
                ("*", Value::Object(o)) => next.extend(o.values()),
                (_, Value::Object(o)) => next.extend(o.get(seg)),
                (_, Value::Array(a)) => {
                    next.extend(seg.parse::<usize>().ok().and_then(|i| a.get(i)))
                }
                _ => {}
            }
        }
        current = next;
    }
    current
}

/// Text of a scalar value; `None` for objects, arrays and empty strings.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// [`scalar`], keeping a string that was handed over whole instead of copying it.
fn scalar_owned(v: Cow<'_, Value>) -> Option<String> {
    match v {
        Cow::Owned(Value::String(s)) => {
            let trimmed = s.trim();
            if trimmed.is_empty() {
                None
            } else if trimmed.len() == s.len() {
                Some(s)
            } else {
                Some(trimmed.to_string())
            }
        }
        v => scalar(&v),
    }
}

/// Builds a message from a record. `raw` is the record's bytes as received; `position` where it
/// was. A record without text, or with a field that is present but unusable, becomes a reject
/// naming that field.
pub fn to_message(
    record: &dyn Record,
    raw: &[u8],
    mapping: &Mapping,
    ctx: &Context,
    position: copernic_core::Position,
) -> Result<Message, Box<Reject>> {
    let reject = |field: &str, reason: String| {
        Box::new(ctx.reject(position.clone(), reason, raw).field(field))
    };
    // Most of the hundred default paths name keys a record does not have. With the record's
    // keys listed once, each key is looked up in an index of the default paths, which marks the
    // few paths worth trying: comparing every path with every key was the largest cost of
    // reading a JSON line otherwise.
    let mut listed = [""; MAX_LISTED_KEYS];
    let keys = record.top_keys(&mut listed).map(|n| &listed[..n]);
    let candidates = keys.map(|keys| {
        let index = default_paths_by_key();
        let mut marked = [0u64; Field::ALL.len()];
        for key in keys {
            for &(field, i) in index.get(key).map(Vec::as_slice).unwrap_or_default() {
                marked[field as usize] |= 1 << i;
            }
        }
        marked
    });
    // Finds the first present path of a field; returns it with the path, for error messages.
    let find = |field: Field| -> Option<(&str, Cow<'_, Value>)> {
        let get = |p: &'static str| record.get(p).map(|v| (p, v));
        if let Some(path) = mapping.fields.get(&field) {
            let listed = keys.is_none_or(|keys| {
                let first = path.split('.').next().unwrap_or(path);
                keys.iter().any(|k| k == &first || k == path)
            });
            return listed
                .then(|| record.get(path).map(|v| (path.as_str(), v)))
                .flatten();
        }
        let defaults = field.defaults();
        match candidates {
            None => defaults.iter().find_map(|p| get(p)),
            Some(marked) => {
                // The marked paths, in the defaults' order of preference.
                let mut bits = marked[field as usize];
                while bits != 0 {
                    let i = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    if let Some(found) = get(defaults[i]) {
                        return Some(found);
                    }
                }
                None
            }
        }
    };
    let text_of = |field: Field| -> Result<Option<String>, Box<Reject>> {
        match find(field) {
            None => Ok(None),
            Some((path, v)) => match &*v {
                Value::Object(_) | Value::Array(_) => Err(reject(
                    path,
                    format!(
                        "{} must be a string or number, found {}",
                        field.name(),
                        kind(&v)
                    ),
                )),
                _ => Ok(scalar_owned(v)),
            },
        }
    };

    let text = text_of(Field::Text)?;
    let title = text_of(Field::Title)?;
    let text = match (text, &title) {
        (Some(t), _) => t,
        (None, Some(_)) => String::new(),
        (None, None) => {
            let paths = mapping.paths(Field::Text).collect::<Vec<_>>().join(", ");
            return Err(reject(
                mapping.fields.get(&Field::Text).map(String::as_str).unwrap_or("text"),
                format!("no text: none of {paths} is present and non-empty; name the text field with --map text=FIELD"),
            ));
        }
    };
    let external_id = match text_of(Field::Id)? {
        Some(id) => id,
        // No id: the record's own bytes identify it, so replaying the same file still
        // deduplicates. Two byte-identical records are then one message.
        None => content_id(raw),
    };
    let channel = text_of(Field::Channel)?
        .or_else(|| mapping.channel.clone())
        .unwrap_or_else(|| "import".to_string());
    let mut m = ctx.message(external_id, channel, text);
    m.title = title;
    m.raw = raw.to_vec();
    m.author.handle = text_of(Field::Author)?;
    m.author.id = text_of(Field::AuthorId)?;
    m.author.name = text_of(Field::AuthorName)?;
    m.url = text_of(Field::Url)?;
    m.lang = text_of(Field::Lang)?.map(|mut l| {
        l.make_ascii_lowercase();
        l
    });
    if let Some((path, v)) = find(Field::CreatedAt) {
        let parsed = match &*v {
            Value::Number(n) => n.as_i64().and_then(text::unix_to_datetime),
            Value::String(s) => text::parse_datetime(s),
            _ => None,
        };
        m.created_at = parsed.ok_or_else(|| {
            reject(path, format!("created_at {v} is not a date Copernic reads (RFC 3339, RFC 2822, Unix time, YYYY-MM-DD HH:MM:SS)"))
        })?;
    }
    if let Some((path, v)) = find(Field::Direction) {
        let value = scalar(&v).unwrap_or_default();
        m.direction = if column_key(path) == "inbound" {
            match value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Direction::Inbound,
                "false" | "0" | "no" => Direction::Outbound,
                other => {
                    return Err(reject(
                        path,
                        format!("inbound must be true or false, got {other:?}"),
                    ))
                }
            }
        } else {
            Direction::from_str(&value).map_err(|e| reject("direction", e))?
        };
    }
    if let Some(parent) = text_of(Field::InReplyTo)? {
        m.in_reply_to = Some(MessageId::derive(&ctx.source, &parent));
    }
    if let Some(thread) = text_of(Field::Thread)? {
        m.thread_id = Some(MessageId::derive(&ctx.source, &thread));
    }
    if let Some((_, v)) = find(Field::Tags) {
        m.tags = tags(&v);
    }
    m.labels.sentiment = text_of(Field::Sentiment)?;
    m.labels.intent = text_of(Field::Intent)?;
    if let Some((_, v)) = find(Field::Topics) {
        m.labels.topics = match &*v {
            // Topics are names with spaces ("late delivery"): a string splits on commas only.
            Value::String(s) => s
                .split([',', ';'])
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
            other => tags(other),
        };
    }
    Ok(m)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Tags from a list of strings, a list of objects with a `name`/`text`/`tag`, or a string split on
/// commas, spaces or `#`.
fn tags(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = match v {
        Value::Array(items) => items
            .iter()
            .filter_map(|i| match i {
                Value::Object(o) => ["name", "text", "tag"]
                    .iter()
                    .find_map(|k| o.get(*k).and_then(scalar)),
                other => scalar(other),
            })
            .collect(),
        Value::String(s) => s
            .split(|c: char| c == ',' || c == '#' || c.is_whitespace())
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    for t in &mut out {
        *t = t.trim_start_matches('#').to_string();
    }
    out.retain(|t| !t.is_empty());
    out
}

/// `sha256:` and the hex of the first 16 bytes of SHA-256 over `raw`.
pub fn content_id(raw: &[u8]) -> String {
    let d = Sha256::digest(raw);
    let mut s = String::from("sha256:");
    for b in &d[..16] {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Context {
        Context::new("test", "in.jsonl")
    }

    #[test]
    fn parses_map_specs() {
        let m: Mapping = "text=body, author=user.screen_name".parse().unwrap();
        assert_eq!(m.fields[&Field::Text], "body");
        assert_eq!(m.fields[&Field::Author], "user.screen_name");
        let e = "texte=body".parse::<Mapping>().unwrap_err().to_string();
        assert!(e.contains("unknown field \"texte\""), "{e}");
        assert!("text".parse::<Mapping>().is_err());
        assert!("text=".parse::<Mapping>().is_err());
    }

    #[test]
    fn maps_a_twitter_style_record_by_default() {
        let v = json!({"id_str": "42", "full_text": "Hello @brand", "created_at": "Wed Oct 10 20:19:24 +0000 2018",
            "user": {"screen_name": "jane", "id_str": "7", "name": "Jane"}, "lang": "EN",
            "in_reply_to_status_id_str": "41", "entities": {"hashtags": [{"text": "help"}]}});
        let m = to_message(&v, b"{}", &Mapping::default(), &ctx(), ctx().at().line(1)).unwrap();
        assert_eq!(m.external_id, "42");
        assert_eq!(m.text, "Hello @brand");
        assert_eq!(m.author.handle.as_deref(), Some("jane"));
        assert_eq!(m.author.id.as_deref(), Some("7"));
        assert_eq!(m.author.name.as_deref(), Some("Jane"));
        assert_eq!(m.lang.as_deref(), Some("en"));
        assert_eq!(m.created_at.to_rfc3339(), "2018-10-10T20:19:24+00:00");
        assert_eq!(m.in_reply_to, Some(MessageId::derive("test", "41")));
        assert_eq!(m.tags, vec!["help"]);
    }

    /// The key listing that skips absent paths finds what the path-by-path lookup finds: a
    /// literal dotted key, a nested one, and records too wide to list.
    #[test]
    fn listed_keys_find_flat_dotted_nested_and_wide_records() {
        let flat = json!({"user.name": "Flat Jane", "text": "hi", "id": 1});
        let m = to_message(&flat, b"{}", &Mapping::default(), &ctx(), ctx().at()).unwrap();
        assert_eq!(m.author.name.as_deref(), Some("Flat Jane"));
        let nested = json!({"user": {"name": "Nested Jane"}, "text": "hi", "id": 1});
        let m = to_message(&nested, b"{}", &Mapping::default(), &ctx(), ctx().at()).unwrap();
        assert_eq!(m.author.name.as_deref(), Some("Nested Jane"));
        // The first default present wins, whatever the record's key order.
        let both = json!({"body": "second choice", "user": {"screen_name": "@u"}, "text": "first choice", "author": "@a"});
        let m = to_message(&both, b"{}", &Mapping::default(), &ctx(), ctx().at()).unwrap();
        assert_eq!(
            (m.text.as_str(), m.author.handle.as_deref()),
            ("first choice", Some("@a"))
        );
        let mapped: Mapping = "text=body,author=user.screen_name".parse().unwrap();
        let m = to_message(&both, b"{}", &mapped, &ctx(), ctx().at()).unwrap();
        assert_eq!(
            (m.text.as_str(), m.author.handle.as_deref()),
            ("second choice", Some("@u"))
        );
        let mut wide = serde_json::Map::new();
        for i in 0..MAX_LISTED_KEYS + 5 {
            wide.insert(format!("extra{i}"), json!(i));
        }
        wide.insert("body".into(), json!("wide text"));
        wide.insert("author".into(), json!({"handle": "@wide"}));
        let wide = Value::Object(wide);
        assert_eq!(wide.top_keys(&mut [""; MAX_LISTED_KEYS]), None);
        let m = to_message(&wide, b"{}", &Mapping::default(), &ctx(), ctx().at()).unwrap();
        assert_eq!(
            (m.text.as_str(), m.author.handle.as_deref()),
            ("wide text", Some("@wide"))
        );
    }

    #[test]
    fn customer_support_on_twitter_columns() {
        let v = json!({"tweet_id": "2", "author_id": "sprintcare", "inbound": "False", "created_at": "Tue Oct 31 22:10:47 +0000 2017",
            "text": "@115712 I understand.", "in_response_to_tweet_id": "1"});
        let m = to_message(&v, b"{}", &Mapping::default(), &ctx(), ctx().at()).unwrap();
        assert_eq!(m.direction, Direction::Outbound);
        assert_eq!(m.in_reply_to, Some(MessageId::derive("test", "1")));
        assert_eq!(m.external_id, "2");
    }

    #[test]
    fn explicit_mapping_and_array_index() {
        let v = json!({"msg": {"parts": ["first", "second"]}, "who": "bob"});
        let map: Mapping = "text=msg.parts.1,author=who".parse().unwrap();
        let m = to_message(&v, b"raw", &map, &ctx(), ctx().at()).unwrap();
        assert_eq!(m.text, "second");
        assert_eq!(m.author.handle.as_deref(), Some("bob"));
        assert_eq!(m.external_id, content_id(b"raw"));
    }

    #[test]
    fn select_expands_wildcards() {
        let v = json!({"entry": [{"changes": [{"value": 1}, {"value": 2}]}, {"changes": [{"value": 3}]}]});
        let got: Vec<&Value> = select(&v, "entry.*.changes.*.value");
        assert_eq!(got, vec![&json!(1), &json!(2), &json!(3)]);
        assert_eq!(select(&v, ""), vec![&v]);
        assert!(select(&v, "entry.5.changes").is_empty());
    }

    #[test]
    fn rejects_name_the_field() {
        let cases = [
            (json!({"id": 1}), "text", "no text"),
            (
                json!({"text": "x", "created_at": "someday"}),
                "created_at",
                "not a date",
            ),
            (json!({"text": {"a": 1}}), "text", "must be a string"),
            (
                json!({"text": "x", "direction": "sideways"}),
                "direction",
                "inbound or outbound",
            ),
        ];
        for (v, field, reason) in cases {
            let r = to_message(&v, b"raw", &Mapping::default(), &ctx(), ctx().at().line(3))
                .unwrap_err();
            assert_eq!(r.field.as_deref(), Some(field), "{v}");
            assert!(r.reason.contains(reason), "{v}: {}", r.reason);
            assert_eq!(r.position.line, Some(3));
            assert_eq!(r.raw, b"raw");
        }
    }
}
