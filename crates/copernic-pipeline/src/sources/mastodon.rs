//! Mastodon API statuses: a JSON array of status objects as `GET /api/v1/timelines/...`,
//! `/api/v1/accounts/:id/statuses` or the streaming API's `update` payloads return them.
//!
//! Status ids are the serving instance's own, and `in_reply_to_id` refers to that same id space,
//! so the external id is the status `id`: replies then find their parents. Import dumps from two
//! instances under two source names (`--source mastodon-social`, `--source mastodon-fr`).

use std::io::BufRead;

use copernic_core::text::{collapse_space, html_to_text, parse_datetime};
use copernic_core::{MessageId, Position};
use serde_json::Value;

use super::{read_document, Context, Item, SourceError};

/// Reads a JSON array of statuses, a single status object, or statuses one after the other (one
/// per line, as a dump of the streaming API's `update` payloads holds them).
pub fn read(
    input: &mut dyn BufRead,
    ctx: &Context,
    emit: &mut dyn FnMut(Item),
) -> Result<(), SourceError> {
    let doc = read_document(input, ctx)?;
    parse(&doc, ctx, emit);
    Ok(())
}

/// Parses a document already in memory (a file, a webhook body, an API page): its JSON values in
/// turn, each an array of statuses or one status; items are numbered across all of them. Broken
/// JSON ends the reading with one reject that keeps the rest of the document; the statuses before
/// it were read.
pub fn parse(doc: &[u8], ctx: &Context, emit: &mut dyn FnMut(Item)) {
    let doc = doc.strip_prefix(b"\xef\xbb\xbf").unwrap_or(doc);
    let mut values = serde_json::Deserializer::from_slice(doc).into_iter::<Value>();
    let mut item = 0u64;
    loop {
        let start = values.byte_offset();
        let value = match values.next() {
            None => return,
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                let rest = &doc[start..];
                let rest = &rest[rest.len() - rest.trim_ascii_start().len()..];
                let reason = if item == 0 {
                    format!("not valid JSON: {e}; nothing in this document was imported")
                } else {
                    format!("not valid JSON: {e}; the {item} statuses before it were read")
                };
                emit(Item::Reject(ctx.reject(
                    ctx.at().line(e.line() as u64),
                    reason,
                    rest,
                )));
                return;
            }
        };
        let statuses = match value {
            Value::Array(items) => items,
            other => vec![other],
        };
        for status in &statuses {
            let raw = serde_json::to_vec(status).unwrap_or_default();
            emit(status_to_item(status, &raw, ctx, ctx.at().item(item)));
            item += 1;
        }
    }
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Ids are strings in the API, but some tools write them as numbers.
fn id_at(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One status, or a reject naming its missing or malformed field.
pub fn status_to_item(status: &Value, raw: &[u8], ctx: &Context, pos: Position) -> Item {
    let reject = |field: &str, reason: String| {
        Item::Reject(ctx.reject(pos.clone(), reason, raw).field(field))
    };
    if !status.is_object() {
        return Item::Reject(ctx.reject(pos, "expected a status object", raw));
    }
    if let Some(reject) = ctx.over_record_limit(&pos, raw, "status") {
        return reject;
    }
    // A boost carries no words of its own: what was said is the boosted status.
    let status = match status.get("reblog") {
        Some(inner) if inner.is_object() => inner,
        _ => status,
    };
    let Some(id) = id_at(status, "id") else {
        return reject("id", "a status needs an id".into());
    };
    let Some(content) = status.get("content").and_then(Value::as_str) else {
        return reject("content", "a status needs a content field (HTML)".into());
    };
    let text = collapse_space(&html_to_text(content));
    let spoiler = str_at(status, "spoiler_text").map(str::to_string);
    let has_media = status
        .get("media_attachments")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if text.is_empty() && spoiler.is_none() && !has_media {
        return reject(
            "content",
            "the status has no text, content warning or media".into(),
        );
    }
    let mut m = ctx.message(&id, "mastodon", text);
    m.raw = raw.to_vec();
    m.title = spoiler;
    m.url = str_at(status, "url")
        .or_else(|| str_at(status, "uri"))
        .map(str::to_string);
    m.lang = str_at(status, "language").map(str::to_ascii_lowercase);
    match str_at(status, "created_at") {
        Some(t) => match parse_datetime(t) {
            Some(t) => m.created_at = t,
            None => {
                return reject(
                    "created_at",
                    format!("created_at {t:?} is not an RFC 3339 date"),
                )
            }
        },
        None => return reject("created_at", "a status needs created_at".into()),
    }
    if let Some(parent) = id_at(status, "in_reply_to_id") {
        m.in_reply_to = Some(MessageId::derive(&ctx.source, &parent));
    }
    if let Some(account) = status.get("account").filter(|a| a.is_object()) {
        m.author.id = id_at(account, "id");
        m.author.handle = str_at(account, "acct").map(|a| format!("@{a}"));
        m.author.name = str_at(account, "display_name").map(str::to_string);
    }
    if let Some(tags) = status.get("tags").and_then(Value::as_array) {
        m.tags = tags
            .iter()
            .filter_map(|t| str_at(t, "name").map(str::to_string))
            .collect();
    }
    Item::Message(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUSES: &str = r##"[
      {"id": "109", "uri": "https://m.example/users/ana/statuses/109", "url": "https://m.example/@ana/109",
       "created_at": "2024-05-02T09:30:00.000Z", "in_reply_to_id": "108", "language": "fr",
       "content": "<p>Bonjour <span class=\"h-card\"><a href=\"https://m.example/@brand\">@<span>brand</span></a></span>, ma commande n&#39;est pas arriv&eacute;e <a href=\"https://m.example/tags/livraison\" class=\"mention hashtag\">#<span>livraison</span></a></p><p>Merci</p>",
       "spoiler_text": "", "account": {"id": "7", "username": "ana", "acct": "ana@m.example", "display_name": "Ana"},
       "tags": [{"name": "livraison", "url": "https://m.example/tags/livraison"}], "media_attachments": []},
      {"id": "110", "created_at": "2024-05-02T09:31:00Z", "content": "", "reblog": {"id": "55",
       "created_at": "2024-05-01T08:00:00Z", "content": "<p>Great support today!</p>", "account": {"id": "9", "acct": "bob"}}},
      {"id": "111", "created_at": "not a date", "content": "<p>x</p>"},
      {"id": "112", "created_at": "2024-05-02T09:32:00Z", "content": ""},
      {"created_at": "2024-05-02T09:32:00Z", "content": "<p>no id</p>"}
    ]"##;

    #[test]
    fn reads_statuses_and_refuses_bad_ones() {
        let ctx = Context::new("mastodon", "timeline.json");
        let mut items = Vec::new();
        parse(STATUSES.as_bytes(), &ctx, &mut |i| items.push(i));
        assert_eq!(items.len(), 5);
        let Item::Message(m) = &items[0] else {
            panic!("{:?}", items[0])
        };
        assert_eq!(
            m.text,
            "Bonjour @brand, ma commande n'est pas arrivée #livraison\nMerci"
        );
        assert_eq!(m.external_id, "109");
        assert_eq!(m.in_reply_to, Some(MessageId::derive("mastodon", "108")));
        assert_eq!(m.author.handle.as_deref(), Some("@ana@m.example"));
        assert_eq!(m.author.name.as_deref(), Some("Ana"));
        assert_eq!(m.tags, vec!["livraison"]);
        assert_eq!(m.lang.as_deref(), Some("fr"));
        assert_eq!(m.url.as_deref(), Some("https://m.example/@ana/109"));
        assert_eq!(m.created_at.to_rfc3339(), "2024-05-02T09:30:00+00:00");
        let Item::Message(b) = &items[1] else {
            panic!()
        };
        assert_eq!(
            (b.external_id.as_str(), b.text.as_str()),
            ("55", "Great support today!")
        );
        for (i, field) in [(2, "created_at"), (3, "content"), (4, "id")] {
            let Item::Reject(r) = &items[i] else {
                panic!("{i}")
            };
            assert_eq!(r.field.as_deref(), Some(field));
            assert_eq!(r.position.item, Some(i as u64));
        }
    }

    #[test]
    fn broken_json_is_one_reject() {
        let ctx = Context::new("mastodon", "t.json");
        let mut items = Vec::new();
        parse(b"[{\"id\": ", &ctx, &mut |i| items.push(i));
        assert!(matches!(&items[..], [Item::Reject(r)] if r.reason.contains("not valid JSON")));
    }

    /// A single status (`GET /api/v1/statuses/:id`), and statuses one per line, then a line cut
    /// short: what comes before the break is read, the rest kept in one reject.
    #[test]
    fn single_statuses_and_one_per_line() {
        let ctx = Context::new("mastodon", "t.json");
        let status = |id: u32| {
            format!(
                r#"{{"id": "{id}", "created_at": "2024-05-02T09:30:00Z", "content": "<p>n°{id}</p>", "account": {{"acct": "ana"}}}}"#
            )
        };
        let mut items = Vec::new();
        parse(status(1).as_bytes(), &ctx, &mut |i| items.push(i));
        assert!(
            matches!(&items[..], [Item::Message(m)] if m.text == "n°1"),
            "{items:?}"
        );

        let doc = format!("{}\n{}\n{{\"id\": \"3\", \"cont", status(1), status(2));
        let mut items = Vec::new();
        parse(doc.as_bytes(), &ctx, &mut |i| items.push(i));
        let [Item::Message(a), Item::Message(b), Item::Reject(r)] = &items[..] else {
            panic!("{items:?}")
        };
        assert_eq!((a.text.as_str(), b.text.as_str()), ("n°1", "n°2"));
        assert_eq!(r.position.line, Some(3));
        assert!(
            r.reason.contains("the 2 statuses before it were read"),
            "{r}"
        );
        assert_eq!(r.raw, b"{\"id\": \"3\", \"cont");
    }
}
