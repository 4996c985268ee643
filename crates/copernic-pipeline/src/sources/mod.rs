//! Sources: each turns one kind of input into [`Item`]s. Adding one is one file here plus one
//! [`Format`] variant and one match arm in [`read`].
//!
//! Every source follows the same contract: it never panics on input; a record it cannot use is
//! emitted as an [`Item::Reject`] that names where it was (line, byte offset, item) and which field
//! was wrong, with its raw bytes; the rest of the input goes on. Only a failure to read the input
//! at all is a [`SourceError`].

pub mod csv;
pub mod feed;
pub mod json;
pub mod jsonl;
pub mod mapping;
pub mod mastodon;
pub mod mbox;
pub mod wide;

use std::io::{BufRead, Read};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use copernic_core::{Message, Position, Reject};
use serde::{Deserialize, Serialize};

pub use mapping::Mapping;

/// What a source produces for each record.
// Messages are nearly every item: boxing them would cost an allocation per message to shrink
// the rare reject.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Item {
    Message(Message),
    Reject(Reject),
}

/// Size limits that keep one bad input from exhausting memory.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest record (JSONL line, CSV record, e-mail, feed item, request body item) accepted.
    pub max_record_bytes: usize,
    /// Largest whole document read into memory (a feed, a JSON array, an HTTP body).
    pub max_document_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // 16 MiB per record covers e-mails with inline images (attachments are dropped, not
        // stored); 256 MiB per document covers a year of a busy feed or an API dump.
        Limits {
            max_record_bytes: 16 << 20,
            max_document_bytes: 256 << 20,
        }
    }
}

/// Where records come from, for naming them in messages and rejects.
#[derive(Clone, Debug)]
pub struct Context {
    /// The source name: part of every message id, so a replay under the same name deduplicates.
    pub source: String,
    /// The input's name as the user knows it (file path, URL); shared by every record's
    /// [`Position`].
    pub input: Arc<str>,
    /// The workspace the records belong to.
    pub workspace: String,
    /// When the input was received; also the created time of records that carry none.
    pub received_at: DateTime<Utc>,
    pub limits: Limits,
}

impl Context {
    pub fn new(source: &str, input: &str) -> Context {
        Context {
            source: source.to_string(),
            input: input.into(),
            workspace: copernic_core::DEFAULT_WORKSPACE.to_string(),
            received_at: Utc::now(),
            limits: Limits::default(),
        }
    }

    /// A position in this context's input.
    pub fn at(&self) -> Position {
        Position {
            input: self.input.clone(),
            ..Position::default()
        }
    }

    /// A reject from this context's source.
    pub fn reject(&self, position: Position, reason: impl Into<String>, raw: &[u8]) -> Reject {
        let mut r = Reject::new(&self.source, position, reason, raw);
        r.workspace = self.workspace.clone();
        r
    }

    /// A reject when `raw` is over the record limit, keeping its first bytes: for records inside
    /// one document (array elements, body items, statuses), which no line reader bounds.
    pub fn over_record_limit(&self, pos: &Position, raw: &[u8], what: &str) -> Option<Item> {
        let limit = self.limits.max_record_bytes;
        (raw.len() > limit).then(|| {
            Item::Reject(self.reject(
                pos.clone(),
                format!(
                    "{what} is {} bytes, over the {limit}-byte limit for one record",
                    raw.len()
                ),
                &raw[..limit],
            ))
        })
    }

    /// A message of this context's source and workspace, received now.
    pub fn message(
        &self,
        external_id: impl Into<String>,
        channel: impl Into<String>,
        text: String,
    ) -> Message {
        Message::received(
            self.workspace.clone(),
            self.source.clone(),
            external_id.into(),
            channel.into(),
            text,
            self.received_at,
        )
    }
}

/// The input could not be read at all (as opposed to a record being bad).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Reading the input failed.
    #[error("cannot read {input}")]
    Io {
        input: String,
        #[source]
        source: std::io::Error,
    },
    /// The whole input is not of the expected format (a feed that is not XML, ...).
    #[error("{input}: {reason}")]
    Format { input: String, reason: String },
    /// The input is larger than a limit allows.
    #[error(
        "{input}: larger than the {limit}-byte limit for one document; split it or raise the limit"
    )]
    TooLarge { input: String, limit: usize },
    /// Fetching a remote input failed (feed polling).
    #[error("cannot fetch {url}")]
    Fetch {
        url: String,
        #[source]
        source: reqwest::Error,
    },
}

/// The file formats `copernic import` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Decide from the file name and its first bytes.
    #[default]
    Auto,
    /// One JSON object per line.
    Jsonl,
    /// One JSON array of objects.
    Json,
    /// Comma-, semicolon-, tab- or pipe-separated values with a header.
    Csv,
    /// A Unix mailbox of e-mails.
    Mbox,
    /// An RSS 2.0 feed.
    Rss,
    /// An Atom feed.
    Atom,
    /// A JSON array of Mastodon API status objects.
    Mastodon,
}

impl Format {
    pub const ALL: [Format; 8] = [
        Format::Auto,
        Format::Jsonl,
        Format::Json,
        Format::Csv,
        Format::Mbox,
        Format::Rss,
        Format::Atom,
        Format::Mastodon,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Jsonl => "jsonl",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Mbox => "mbox",
            Format::Rss => "rss",
            Format::Atom => "atom",
            Format::Mastodon => "mastodon",
        }
    }

    /// The format of a file, from its name and first bytes.
    pub fn detect(path: &Path, head: &[u8]) -> Format {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let by_ext = match ext.as_str() {
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "csv" | "tsv" => Some(Format::Csv),
            // One e-mail saved alone is a mailbox of one.
            "mbox" | "mbx" | "eml" => Some(Format::Mbox),
            "rss" => Some(Format::Rss),
            "atom" => Some(Format::Atom),
            // XML is a feed or nothing this reads: one that is not says so, rather than being
            // read as a CSV of no rows.
            "xml" if Format::sniff(head) != Format::Atom => Some(Format::Rss),
            _ => None,
        };
        if let Some(f) = by_ext {
            return f;
        }
        let sniffed = Format::sniff(head);
        if sniffed == Format::Jsonl && !first_line_is_json(head) {
            // `{` opening a pretty-printed document, not one object per line.
            return Format::Json;
        }
        sniffed
    }

    /// The format of a document, from its first bytes alone.
    pub fn sniff(head: &[u8]) -> Format {
        let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
        let start = head
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(head.len());
        let text = String::from_utf8_lossy(&head[start..]);
        let looks_like_mail = text.contains("\nFrom ")
            && ["\nSubject:", "\nMessage-ID:", "\nMessage-Id:", "\nDate:"]
                .iter()
                .any(|h| text.contains(h));
        let starts_with_mail_header = [
            "Received:",
            "Return-Path:",
            "From:",
            "Message-ID:",
            "Message-Id:",
            "Delivered-To:",
            "MIME-Version:",
            "Date:",
            "Subject:",
        ]
        .iter()
        .any(|h| text.starts_with(h));
        if text.starts_with("From ") || looks_like_mail || starts_with_mail_header {
            Format::Mbox
        } else if text.starts_with('<') {
            if text.contains("<feed") {
                Format::Atom
            } else {
                Format::Rss
            }
        } else if text.starts_with("window.YTD.") {
            // A Twitter/X archive's tweets.js: a JavaScript assignment of a JSON array.
            Format::Json
        } else if text.starts_with('[') {
            if text.contains("\"account\"") && text.contains("\"content\"") {
                Format::Mastodon
            } else {
                Format::Json
            }
        } else if text.starts_with('{') {
            // A status as `GET /api/v1/statuses/:id` returns it (pretty-printed or not), or
            // statuses one per line: the first line, or the head when that line is only `{`.
            let first = text.lines().next().unwrap_or("");
            let probe = if first.trim() == "{" {
                &text[..]
            } else {
                first
            };
            if ["\"account\"", "\"content\"", "\"visibility\""]
                .iter()
                .all(|k| probe.contains(k))
            {
                Format::Mastodon
            } else {
                Format::Jsonl
            }
        } else {
            Format::Csv
        }
    }

    /// The source name used when the user names none. Formats whose ids are global (mail
    /// Message-IDs, Mastodon status URIs) share one name, so the same mail seen in two archives
    /// is one message; the others are named after the file, so ids of two unrelated exports
    /// ("1", "2", ...) never collide.
    pub fn default_source(self, path: &Path) -> String {
        match self {
            Format::Mbox => "email".to_string(),
            Format::Mastodon => "mastodon".to_string(),
            _ => path
                .file_stem()
                .and_then(|s| s.to_str())
                .filter(|s| !s.is_empty())
                .unwrap_or("import")
                .to_string(),
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                format!("unknown format {s:?}; formats are {}", names.join(", "))
            })
    }
}

/// Whether the first line of `head` is a whole JSON value (JSON Lines) — or the line is longer
/// than the head, in which case JSON Lines is the better guess.
fn first_line_is_json(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    match head.iter().position(|&b| b == b'\n') {
        Some(end) => serde_json::from_slice::<serde::de::IgnoredAny>(&head[..end]).is_ok(),
        None => true,
    }
}

/// Reads one input of a known format (not `Auto`), emitting its items in order.
pub fn read(
    format: Format,
    input: &mut dyn BufRead,
    mapping: &Mapping,
    ctx: &Context,
    emit: &mut dyn FnMut(Item),
) -> Result<(), SourceError> {
    match format {
        Format::Jsonl => jsonl::read(input, mapping, ctx, emit),
        Format::Json => jsonl::read_array(input, mapping, ctx, emit),
        Format::Csv => csv::read(input, mapping, ctx, emit),
        Format::Mbox => mbox::read(input, ctx, emit),
        Format::Rss | Format::Atom => feed::read(input, ctx, emit),
        Format::Mastodon => mastodon::read(input, ctx, emit),
        Format::Auto => Err(SourceError::Format {
            input: ctx.input.to_string(),
            reason: "format not decided; call Format::detect first".into(),
        }),
    }
}

/// Reads a whole document into memory, refusing one over `limit` bytes.
pub fn read_document(input: &mut dyn BufRead, ctx: &Context) -> Result<Vec<u8>, SourceError> {
    let limit = ctx.limits.max_document_bytes;
    let mut buf = Vec::new();
    input
        .take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|source| SourceError::Io {
            input: ctx.input.to_string(),
            source,
        })?;
    if buf.len() > limit {
        return Err(SourceError::TooLarge {
            input: ctx.input.to_string(),
            limit,
        });
    }
    Ok(buf)
}

/// One line read by [`LineReader`].
pub struct Line<'a> {
    /// The line's bytes without its terminator, cut at the limit when `truncated`.
    pub bytes: &'a [u8],
    /// 1-based line number.
    pub number: u64,
    /// Byte offset of the line's start in the input.
    pub offset: u64,
    /// The line was longer than the limit; `bytes` holds only its start.
    pub truncated: bool,
    /// The line's full length, terminator excluded.
    pub len: u64,
}

/// Reads lines without ever holding more than `limit` bytes of one: a 2 GB line without a break
/// costs no more memory than a short one.
pub struct LineReader<'r> {
    input: &'r mut dyn BufRead,
    buf: Vec<u8>,
    limit: usize,
    number: u64,
    offset: u64,
}

impl<'r> LineReader<'r> {
    pub fn new(input: &'r mut dyn BufRead, limit: usize) -> LineReader<'r> {
        LineReader {
            input,
            buf: Vec::new(),
            limit,
            number: 0,
            offset: 0,
        }
    }

    /// The next line, or `None` at the end of input.
    pub fn next_line(&mut self) -> std::io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let start = self.offset;
        let mut len = 0u64;
        let mut saw_any = false;
        loop {
            let chunk = match self.input.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            saw_any = true;
            let (take, done) = match memchr_newline(chunk) {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            let content = if done { take - 1 } else { take };
            let room = self.limit.saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&chunk[..content.min(room)]);
            len += content as u64;
            self.input.consume(take);
            self.offset += take as u64;
            if done {
                break;
            }
        }
        if !saw_any {
            return Ok(None);
        }
        self.number += 1;
        if self.buf.last() == Some(&b'\r') && len as usize == self.buf.len() {
            self.buf.pop();
            len -= 1;
        }
        Ok(Some(Line {
            truncated: len as usize > self.buf.len(),
            bytes: &self.buf,
            number: self.number,
            offset: start,
            len,
        }))
    }
}

fn memchr_newline(s: &[u8]) -> Option<usize> {
    // Vectorised: a byte-by-byte search was a tenth of reading a JSONL line.
    memchr::memchr(b'\n', s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_reader_bounds_memory_and_counts_offsets() {
        let data = b"short\r\nxxxxxxxxxxxxxxxxxxxx\nlast";
        let mut input: &[u8] = data;
        let mut r = LineReader::new(&mut input, 8);
        let l = r.next_line().unwrap().unwrap();
        assert_eq!(
            (l.bytes, l.number, l.offset, l.truncated),
            (&b"short"[..], 1, 0, false)
        );
        let l = r.next_line().unwrap().unwrap();
        assert_eq!(
            (l.bytes.len(), l.number, l.offset, l.truncated, l.len),
            (8, 2, 7, true, 20)
        );
        let l = r.next_line().unwrap().unwrap();
        assert_eq!((l.bytes, l.number, l.offset), (&b"last"[..], 3, 28));
        assert!(r.next_line().unwrap().is_none());
    }

    #[test]
    fn detects_formats() {
        let p = Path::new;
        assert_eq!(Format::detect(p("a.jsonl"), b""), Format::Jsonl);
        assert_eq!(Format::detect(p("a.tsv"), b""), Format::Csv);
        assert_eq!(
            Format::detect(p("a.txt"), b"From a@b Sat Jan  1"),
            Format::Mbox
        );
        assert_eq!(
            Format::detect(p("a.xml"), b"<?xml version='1.0'?><rss"),
            Format::Rss
        );
        assert_eq!(
            Format::detect(p("a.xml"), b"<?xml?>\n<feed xmlns"),
            Format::Atom
        );
        let status = r#"{"id":"1","visibility":"public","content":"<p>x</p>","account":{}}"#;
        assert_eq!(
            Format::detect(p("s.json"), status.as_bytes()),
            Format::Mastodon
        );
        let pretty = "{\n  \"id\": \"1\",\n  \"visibility\": \"public\",\n  \"content\": \"\",\n  \"account\": {}\n}";
        assert_eq!(
            Format::detect(p("s.json"), pretty.as_bytes()),
            Format::Mastodon
        );
        assert_eq!(
            Format::detect(p("s.json"), br#"{"content":"x","account":"crm-7"}"#),
            Format::Jsonl
        );
        // XML is read as a feed even when it does not look like one, so the feed reader says
        // what is wrong with it.
        assert_eq!(Format::detect(p("a.xml"), b"id,text\n"), Format::Rss);
        assert_eq!(
            Format::detect(
                p("s.json"),
                br#"[{"id":"1","content":"<p>x</p>","account":{}}]"#
            ),
            Format::Mastodon
        );
        assert_eq!(
            Format::detect(p("s.json"), br#"[{"text":"x"}]"#),
            Format::Json
        );
        assert_eq!(
            Format::detect(p("s.json"), b"\xef\xbb\xbf{\"text\":1}"),
            Format::Jsonl
        );
        assert_eq!(Format::detect(p("export"), b"id;text\n1;x"), Format::Csv);
        assert_eq!(
            Format::detect(p("tweets.js"), b"window.YTD.tweets.part0 = ["),
            Format::Json
        );
        assert_eq!(
            Format::detect(p("page.json"), b"{\n  \"data\": [\n"),
            Format::Json
        );
        assert_eq!(
            Format::detect(p("a.txt"), b"junk\nFrom a@b Mon\nSubject: x\n"),
            Format::Mbox
        );
    }
}
