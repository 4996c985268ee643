//! JSON Lines (one object per line) and JSON arrays of objects, with a field [`Mapping`].

use std::io::BufRead;

use serde_json::Value;

use super::json::Json;
use super::mapping::{to_message, Mapping, Record};
use super::{read_document, Context, Item, LineReader, SourceError};

/// Reads one JSON object per line. Blank lines are skipped; every other line becomes a message
/// or a reject that names its line and byte offset.
pub fn read(
    input: &mut dyn BufRead,
    mapping: &Mapping,
    ctx: &Context,
    emit: &mut dyn FnMut(Item),
) -> Result<(), SourceError> {
    let limit = ctx.limits.max_record_bytes;
    let mut lines = LineReader::new(input, limit);
    let mut first = true;
    while let Some(line) = lines.next_line().map_err(|source| SourceError::Io {
        input: ctx.input.to_string(),
        source,
    })? {
        let pos = ctx.at().line(line.number).byte(line.offset);
        let mut bytes = line.bytes;
        if first {
            // A UTF-8 byte-order mark, as Windows tools write, is not part of the JSON.
            bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
            first = false;
        }
        if line.truncated {
            emit(Item::Reject(ctx.reject(
                pos,
                format!(
                    "line is {} bytes, over the {limit}-byte limit for one record; it was skipped (its first {limit} bytes are kept)",
                    line.len
                ),
                bytes,
            )));
            continue;
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        emit(parse_record(bytes, mapping, ctx, pos));
    }
    Ok(())
}

/// Reads one JSON document: an array of records, an object holding one (under `mapping.items`,
/// or the first of `data`, `items`, `results`, ... that is an array), or one record. A Twitter/X
/// archive's `window.YTD.tweets.part0 = [...]` is read as the array it assigns.
pub fn read_array(
    input: &mut dyn BufRead,
    mapping: &Mapping,
    ctx: &Context,
    emit: &mut dyn FnMut(Item),
) -> Result<(), SourceError> {
    let doc = read_document(input, ctx)?;
    let doc = doc.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&doc);
    let doc = strip_js_assignment(doc);
    let value: Value = match serde_json::from_slice(doc) {
        Ok(v) => v,
        Err(e) => {
            let offset = byte_offset(doc, e.line(), e.column());
            emit(Item::Reject(ctx.reject(
                ctx.at().line(e.line() as u64).byte(offset as u64),
                format!("not valid JSON: {e}; nothing in this file was imported"),
                doc,
            )));
            return Ok(());
        }
    };
    let records: Vec<&Value> = match (&mapping.items, &value) {
        (Some(path), v) => records_at(v, path),
        (None, Value::Array(items)) => items.iter().collect(),
        (None, Value::Object(o)) => match RECORD_ARRAYS
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_array))
        {
            // An API page (`{"data": [...], "meta": ...}`) unless the object is itself a record.
            Some(items)
                if mapping
                    .text_paths()
                    .all(|p| Record::get(&value, p).is_none()) =>
            {
                items.iter().collect()
            }
            _ => vec![&value],
        },
        (None, v) => vec![v],
    };
    if records.is_empty() {
        emit(Item::Reject(ctx.reject(
            ctx.at(),
            "no records in this document; name where they are with --items PATH",
            &[],
        )));
    }
    for (i, v) in records.into_iter().enumerate() {
        let raw = serde_json::to_vec(v).unwrap_or_default();
        let pos = ctx.at().item(i as u64);
        emit(value_to_item(v, &raw, mapping, ctx, pos));
    }
    Ok(())
}

/// The records at `path`: the values it selects, an array among them standing for its elements
/// (`data` and `data.*` both reach the records of `{"data": [...]}`).
fn records_at<'v>(v: &'v Value, path: &str) -> Vec<&'v Value> {
    let mut out = Vec::new();
    for found in super::mapping::select(v, path) {
        match found {
            Value::Array(items) => out.extend(items.iter()),
            other => out.push(other),
        }
    }
    out
}

/// Fields under which API responses put their records.
const RECORD_ARRAYS: [&str; 10] = [
    "data", "items", "results", "statuses", "messages", "entries", "records", "posts", "tweets",
    "value",
];

/// `window.YTD.tweets.part0 = [...]` → `[...]`.
fn strip_js_assignment(doc: &[u8]) -> &[u8] {
    let start = doc
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(doc.len());
    if !doc[start..].starts_with(b"window.") {
        return doc;
    }
    match doc.iter().position(|&b| b == b'=') {
        Some(eq) => &doc[eq + 1..],
        None => doc,
    }
}

/// Parses an HTTP body: one JSON object, a JSON array of objects, or NDJSON (one object per line).
/// `items`, when given, is a [`select`](super::mapping::select) path to the records inside a
/// single JSON document (`entry.*.changes.*.value` for Meta-style webhooks).
pub fn parse_body(
    body: &[u8],
    items: Option<&str>,
    mapping: &Mapping,
    ctx: &Context,
    emit: &mut dyn FnMut(Item),
) {
    let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => {
            let records: Vec<&Value> = match (items, &v) {
                (Some(path), _) => records_at(&v, path),
                (None, Value::Array(a)) => a.iter().collect(),
                (None, _) => vec![&v],
            };
            if records.is_empty() {
                let what = items
                    .map(|p| format!("nothing at {p:?}"))
                    .unwrap_or_else(|| "an empty array".into());
                emit(Item::Reject(ctx.reject(
                    ctx.at(),
                    format!("no records in the body: {what}"),
                    body,
                )));
            }
            let whole = records.len() == 1 && items.is_none() && v.is_object();
            for (i, record) in records.into_iter().enumerate() {
                // A body that is one object keeps its exact bytes as raw payload.
                let raw = if whole {
                    body.to_vec()
                } else {
                    serde_json::to_vec(record).unwrap_or_default()
                };
                emit(value_to_item(
                    record,
                    &raw,
                    mapping,
                    ctx,
                    ctx.at().item(i as u64),
                ));
            }
        }
        Err(_) if body.iter().all(u8::is_ascii_whitespace) => {
            emit(Item::Reject(ctx.reject(
                ctx.at(),
                "the body is empty; send a JSON object, an array or NDJSON",
                body,
            )));
        }
        Err(_) if body.contains(&b'\n') => {
            let mut input = body;
            // Reading from memory cannot fail.
            let _ = read(&mut input, mapping, ctx, emit);
        }
        Err(e) => {
            let at = byte_offset(body, e.line(), e.column());
            emit(Item::Reject(ctx.reject(
                ctx.at().byte(at as u64),
                format!("not valid JSON: {e}"),
                body,
            )));
        }
    }
}

/// Parses one JSON record; used by JSONL files and the HTTP ingest API alike.
pub fn parse_record(
    bytes: &[u8],
    mapping: &Mapping,
    ctx: &Context,
    pos: copernic_core::Position,
) -> Item {
    // Read in place: see `json.rs`.
    match serde_json::from_slice::<Json>(bytes) {
        Ok(v) if v.is_object() => record_to_item(&v, bytes, mapping, ctx, pos),
        Ok(_) => Item::Reject(ctx.reject(pos, NOT_AN_OBJECT, bytes)),
        Err(e) => {
            let pos = match pos.byte {
                // Point at the byte where parsing failed, not the line start.
                Some(start) => {
                    let at = byte_offset(bytes, e.line(), e.column());
                    copernic_core::Position {
                        byte: Some(start + at as u64),
                        ..pos
                    }
                }
                None => pos,
            };
            Item::Reject(ctx.reject(pos, format!("not valid JSON: {e}"), bytes))
        }
    }
}

const NOT_AN_OBJECT: &str = "expected a JSON object for each record";

fn value_to_item(
    v: &Value,
    raw: &[u8],
    mapping: &Mapping,
    ctx: &Context,
    pos: copernic_core::Position,
) -> Item {
    if !v.is_object() {
        return Item::Reject(ctx.reject(pos, NOT_AN_OBJECT, raw));
    }
    record_to_item(v, raw, mapping, ctx, pos)
}

/// A record known to be an object: a message, or a reject naming the field that is wrong.
fn record_to_item(
    v: &dyn Record,
    raw: &[u8],
    mapping: &Mapping,
    ctx: &Context,
    pos: copernic_core::Position,
) -> Item {
    if let Some(reject) = ctx.over_record_limit(&pos, raw, "record") {
        return reject;
    }
    match to_message(v, raw, mapping, ctx, pos) {
        Ok(m) => Item::Message(m),
        Err(r) => Item::Reject(*r),
    }
}

/// The byte offset of serde_json's 1-based (line, column) inside `doc`.
fn byte_offset(doc: &[u8], line: usize, column: usize) -> usize {
    let mut offset = 0;
    for _ in 1..line {
        match doc[offset..].iter().position(|&b| b == b'\n') {
            Some(i) => offset += i + 1,
            None => break,
        }
    }
    (offset + column.saturating_sub(1)).min(doc.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    type Reader =
        fn(&mut dyn BufRead, &Mapping, &Context, &mut dyn FnMut(Item)) -> Result<(), SourceError>;

    /// A line read in place gives the item a `serde_json::Value` of it gives, field for field
    /// and reject for reject, under the default mapping and an explicit one.
    #[test]
    fn lines_read_in_place_map_like_values() {
        let ctx = Context::new("t", "in.jsonl");
        let lines = [
            r#"{"author":{"handle":"@u1"},"channel":"twitter","created_at":"2025-11-12T15:02:58+00:00","id":"b0","lang":"FR","text":"  spaced out  "}"#,
            r##"{"id": 42, "full_text": "Hello \"brand\" \u00e9", "user": {"screen_name": "jane", "id_str": "7", "name": "Jane"}, "entities": {"hashtags": [{"text": "help"}, {"text": "#x"}]}}"##,
            r#"{"tweet_id": "2", "author_id": "sprintcare", "inbound": "False", "created_at": 1700000000, "text": "ok", "in_response_to_tweet_id": 1}"#,
            r#"{"text": "dup", "text": "last wins", "topics": "late delivery; refund", "sentiment": "negative", "direction": "outbound"}"#,
            r#"{"body": "mapped", "user": {"screen_name": "@m"}, "ts": "2024-01-02 03:04:05", "tags": "a,b #c", "meta": [{"id": "m1"}]}"#,
            r#"{"te\u0078t": "escaped key", "title": "T", "url": null, "thread_id": "t1", "tags": ["x", 3, null]}"#,
            r#"{"text": {"nested": 1}}"#,
            r#"{"text": null, "title": "only a title"}"#,
            r#"{"text": "x", "created_at": "someday"}"#,
            r#"{"text": "x", "inbound": "maybe"}"#,
            r#"{"id": 1}"#,
            r#"{"text": 3.25, "id": 1e3, "lang": true}"#,
        ];
        let explicit: Mapping =
            "text=body,author=user.screen_name,created_at=ts,tags=tags,id=meta.0.id"
                .parse()
                .unwrap();
        for mapping in [Mapping::default(), explicit] {
            for line in lines {
                let pos = ctx.at().line(1).byte(0);
                let ours = parse_record(line.as_bytes(), &mapping, &ctx, pos.clone());
                let v: Value = serde_json::from_str(line).unwrap();
                let theirs = value_to_item(&v, line.as_bytes(), &mapping, &ctx, pos);
                assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{line}");
            }
        }
    }

    fn run(data: &[u8], f: Reader) -> Vec<Item> {
        let mut ctx = Context::new("t", "in.jsonl");
        ctx.limits.max_record_bytes = 200;
        let mut out = Vec::new();
        let mut input = data;
        f(&mut input, &Mapping::default(), &ctx, &mut |i| out.push(i)).unwrap();
        out
    }

    #[test]
    fn good_and_bad_lines_each_get_an_item() {
        let data = b"\xef\xbb\xbf{\"id\":1,\"text\":\"un\"}\n\n{\"id\":2,\"text\":\"deux\"\n[1]\n{\"id\":3,\"text\":\"trois\"}\r\n";
        let items = run(data, read);
        assert_eq!(items.len(), 4);
        assert!(matches!(&items[0], Item::Message(m) if m.text == "un"));
        let Item::Reject(r) = &items[1] else { panic!() };
        assert_eq!(r.position.line, Some(3));
        assert_eq!(r.position.byte, Some(45));
        assert!(r.reason.contains("not valid JSON"));
        let Item::Reject(r) = &items[2] else { panic!() };
        assert!(r.reason.contains("JSON object"));
        assert!(matches!(&items[3], Item::Message(m) if m.text == "trois" && m.external_id == "3"));
    }

    #[test]
    fn oversized_line_is_refused_with_the_limit() {
        let mut data = b"{\"text\":\"".to_vec();
        data.extend(std::iter::repeat_n(b'a', 1000));
        data.extend(b"\"}\n{\"text\":\"ok\"}\n");
        let items = run(&data, read);
        let Item::Reject(r) = &items[0] else { panic!() };
        assert!(r.reason.contains("200-byte limit"), "{}", r.reason);
        assert_eq!(r.raw.len(), 200);
        assert!(matches!(&items[1], Item::Message(m) if m.text == "ok"));
    }

    #[test]
    fn bodies_of_every_shape() {
        let mut ctx = Context::new("t", "POST /api/v1/messages");
        ctx.limits.max_record_bytes = 200;
        let collect = |body: &[u8], items: Option<&str>| {
            let mut out = Vec::new();
            parse_body(body, items, &Mapping::default(), &ctx, &mut |i| out.push(i));
            out
        };
        assert!(
            matches!(&collect(br#"{"text":"one"}"#, None)[..], [Item::Message(m)] if m.raw == br#"{"text":"one"}"#)
        );
        assert_eq!(collect(br#"[{"text":"a"},{"text":"b"}]"#, None).len(), 2);
        let nd = collect(b"{\"text\":\"a\"}\n{bad\n{\"text\":\"c\"}\n", None);
        assert!(matches!(&nd[1], Item::Reject(r) if r.position.line == Some(2)));
        let meta = br#"{"entry":[{"changes":[{"value":{"text":"x","id":"1"}},{"value":{"text":"y","id":"2"}}]}]}"#;
        assert_eq!(collect(meta, Some("entry.*.changes.*.value")).len(), 2);
        assert!(
            matches!(&collect(b"{nope", None)[..], [Item::Reject(r)] if r.position.byte == Some(1))
        );
        assert!(
            matches!(&collect(b"[]", None)[..], [Item::Reject(r)] if r.reason.contains("no records"))
        );
    }

    #[test]
    fn api_pages_and_twitter_archives() {
        let page = br#"{"data": [{"id": "1", "text": "first"}, {"id": "2", "text": "second"}], "meta": {"result_count": 2}}"#;
        let items = run(page, read_array);
        assert_eq!(items.len(), 2);
        assert!(
            matches!(&items[1], Item::Message(m) if m.text == "second" && m.external_id == "2")
        );
        let archive = br#"window.YTD.tweets.part0 = [ {"tweet": {"id_str": "77", "full_text": "Bonjour @marque", "created_at": "Wed Oct 10 20:19:24 +0000 2018", "lang": "fr"}} ]"#;
        let items = run(archive, read_array);
        let Item::Message(m) = &items[0] else {
            panic!("{:?}", items[0])
        };
        assert_eq!(
            (m.external_id.as_str(), m.text.as_str(), m.lang.as_deref()),
            ("77", "Bonjour @marque", Some("fr"))
        );
        assert_eq!(m.created_at.to_rfc3339(), "2018-10-10T20:19:24+00:00");
        let single = br#"{"text": "one record", "data": [1, 2]}"#;
        assert!(
            matches!(&run(single, read_array)[..], [Item::Message(m)] if m.text == "one record")
        );
    }

    #[test]
    fn arrays_name_the_item() {
        let items = run(br#"[{"text":"a"},{"id":9},{"text":"c"}]"#, read_array);
        assert_eq!(items.len(), 3);
        let Item::Reject(r) = &items[1] else { panic!() };
        assert_eq!(r.position.item, Some(1));
        let items = run(b"[{\"text\":", read_array);
        assert!(matches!(&items[0], Item::Reject(r) if r.reason.contains("not valid JSON")));
    }
}
