//! RSS (2.0, 0.9x and 1.0/RDF) and Atom feeds, from a file or polled over HTTP.
//!
//! Each `<item>` / `<entry>` becomes one message; the feed's own title, links and dates are not
//! messages. The document's root element decides the dialect. A feed that breaks off (a truncated
//! download, a stray `<`) keeps the items read before the break and ends with one reject that
//! says at which byte it broke.

use std::io::BufRead;
use std::time::Duration;

use chrono::Utc;
use copernic_core::text::{collapse_space, decode_entities, decode_utf8_or_latin1, html_to_text};
use copernic_core::{Author, Position};
use copernic_store::FeedState;
use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::NsReader;
use reqwest::header::{HeaderMap, ACCEPT, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::StatusCode;
use serde::{Deserialize, Deserializer};

use super::mapping::content_id;
use super::{read_document, Context, Item, SourceError};

/// Reads a whole feed document and emits its items in document order.
pub fn read(
    input: &mut dyn BufRead,
    ctx: &Context,
    emit: &mut dyn FnMut(Item),
) -> Result<(), SourceError> {
    let doc = read_document(input, ctx)?;
    parse(&doc, ctx, emit)
}

/// Parses a feed held in memory (a file's bytes or an HTTP body).
pub fn parse(doc: &[u8], ctx: &Context, emit: &mut dyn FnMut(Item)) -> Result<(), SourceError> {
    let doc = to_utf8(doc);
    let mut cur = Cursor::new(&doc[..]);
    let root = find_root(&mut cur, ctx)?;
    let Some(dialect) = Dialect::of_root(&root) else {
        return Err(SourceError::Format {
            input: ctx.input.to_string(),
            reason: format!(
                "{}: this is XML but not an RSS or Atom feed",
                if matches!(root.local.as_str(), "rss" | "RDF" | "feed") {
                    format!(
                        "the root element <{}> is in a namespace that is not RSS's, RDF's or Atom's",
                        root.qname
                    )
                } else {
                    format!(
                        "the root element is <{}>, not <rss>, <rdf:RDF> or <feed>",
                        root.qname
                    )
                }
            ),
        });
    };
    let mut walk = Walk {
        cur,
        ctx,
        dialect,
        depth: 1,
        index: 0,
        feed_author: None,
    };
    walk.run(&root, emit);
    Ok(())
}

/// The document in UTF-8: a byte-order mark, the zero bytes of UTF-16 or UTF-32, or else the
/// encoding its XML declaration names (`windows-1251`, `euc-kr`, `iso-8859-1`...), decides.
/// Without any, the bytes are taken as UTF-8 (text nodes that are not fall back to
/// Windows-1252). Byte offsets in rejects then count in the converted document.
fn to_utf8(doc: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if let Some(bom) = doc.strip_prefix(b"\xef\xbb\xbf") {
        return std::borrow::Cow::Borrowed(bom);
    }
    if let Some((wide, mark)) = super::wide::Wide::detect(doc) {
        return std::borrow::Cow::Owned(wide.decode(&doc[mark..]));
    }
    let head = &doc[..doc.len().min(256)];
    let declared = head
        .strip_prefix(b"<?xml")
        .and_then(|rest| rest.iter().position(|&b| b == b'>').map(|end| &rest[..end]))
        .and_then(declared_encoding);
    match declared.and_then(encoding_rs::Encoding::for_label) {
        // A declaration read as single bytes is not in UTF-16, whatever it says: a UTF-16 file
        // decoded on the way in (see `wide`) still declares it.
        Some(e) if e == encoding_rs::UTF_16LE || e == encoding_rs::UTF_16BE => {
            std::borrow::Cow::Borrowed(doc)
        }
        Some(e) if e != encoding_rs::UTF_8 => {
            let (text, _) = e.decode_without_bom_handling(doc);
            std::borrow::Cow::Owned(text.into_owned().into_bytes())
        }
        _ => std::borrow::Cow::Borrowed(doc),
    }
}

/// The value of `encoding="..."` in an XML declaration's attributes.
fn declared_encoding(decl: &[u8]) -> Option<&[u8]> {
    let at = decl.windows(8).position(|w| w == b"encoding")?;
    let rest = &decl[at + 8..];
    let rest = &rest[rest.iter().position(|&b| b == b'\'' || b == b'"')?..];
    let quote = rest[0];
    let end = rest[1..].iter().position(|&b| b == quote)?;
    Some(&rest[1..1 + end])
}

// ---------------------------------------------------------------------------------------------
// Polling

/// One feed to poll, as written in the configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    pub url: String,
    /// The source name of the feed's messages (part of their ids).
    pub source: String,
    /// Time between two polls. Configured in whole seconds as `interval_secs`. The default of
    /// five minutes is what most publishers tolerate (and what their caches are set to): polling
    /// faster mostly earns 304s or a ban, polling slower delays replies to customers.
    #[serde(
        rename = "interval_secs",
        default = "default_interval",
        deserialize_with = "interval_from_secs"
    )]
    pub interval: Duration,
}

fn default_interval() -> Duration {
    Duration::from_secs(300)
}

fn interval_from_secs<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let secs = u64::deserialize(d)?;
    if secs == 0 {
        // Zero would poll in a busy loop.
        return Err(serde::de::Error::custom("interval_secs must be at least 1"));
    }
    Ok(Duration::from_secs(secs))
}

/// What one poll brought back.
#[derive(Debug)]
pub struct PollOutcome {
    /// The feed's items; empty when the feed was not modified.
    pub items: Vec<Item>,
    /// What to store and send back on the next poll.
    pub state: FeedState,
    /// The server answered 304 Not Modified.
    pub not_modified: bool,
}

/// Fetches a feed once, conditionally on what the previous poll saw (ETag, Last-Modified), so an
/// unchanged feed costs the publisher a 304 and no parsing here. Timeouts are the client's.
pub async fn poll_once(
    client: &reqwest::Client,
    feed: &FeedConfig,
    state: Option<&FeedState>,
) -> Result<PollOutcome, SourceError> {
    let ctx = Context::new(&feed.source, &feed.url);
    let fetch_error = |source| SourceError::Fetch {
        url: feed.url.clone(),
        source,
    };
    let response = conditional_get(client, feed, state)
        .send()
        .await
        .map_err(fetch_error)?;
    let status = response.status();
    let not_modified = status == StatusCode::NOT_MODIFIED;
    let next = next_state(response.headers(), state, not_modified);
    if not_modified {
        return Ok(PollOutcome {
            items: Vec::new(),
            state: next,
            not_modified: true,
        });
    }
    if !status.is_success() {
        return Err(SourceError::Format {
            input: feed.url.clone(),
            reason: format!("the server answered {status}; expected 200 OK or 304 Not Modified"),
        });
    }
    let body = read_body(response, &ctx).await?;
    let mut items = Vec::new();
    parse(&body, &ctx, &mut |item| items.push(item))?;
    Ok(PollOutcome {
        items,
        state: next,
        not_modified: false,
    })
}

fn conditional_get(
    client: &reqwest::Client,
    feed: &FeedConfig,
    state: Option<&FeedState>,
) -> reqwest::RequestBuilder {
    let mut request = client.get(&feed.url).header(
        ACCEPT,
        "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5",
    );
    if let Some(etag) = state.and_then(|s| s.etag.as_deref()) {
        request = request.header(IF_NONE_MATCH, etag);
    }
    // Sent back verbatim: the server compares its own string, whatever its date format.
    if let Some(since) = state.and_then(|s| s.last_modified.as_deref()) {
        request = request.header(IF_MODIFIED_SINCE, since);
    }
    request
}

/// The validators to send next time. A 304 may omit them, so the previous ones are kept then;
/// a 200 without them means the server stopped sending them, so the old ones are dropped.
fn next_state(headers: &HeaderMap, previous: Option<&FeedState>, not_modified: bool) -> FeedState {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let kept = |pick: fn(&FeedState) -> &Option<String>| {
        previous
            .filter(|_| not_modified)
            .and_then(|p| pick(p).clone())
    };
    FeedState {
        etag: header(ETAG).or_else(|| kept(|p| &p.etag)),
        last_modified: header(LAST_MODIFIED).or_else(|| kept(|p| &p.last_modified)),
        checked_at: Some(Utc::now()),
    }
}

/// The body, refused as soon as it passes the document limit, so a server streaming without end
/// cannot exhaust memory.
async fn read_body(mut response: reqwest::Response, ctx: &Context) -> Result<Vec<u8>, SourceError> {
    let limit = ctx.limits.max_document_bytes;
    let too_large = || SourceError::TooLarge {
        input: ctx.input.to_string(),
        limit,
    };
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|source| SourceError::Fetch {
            url: ctx.input.to_string(),
            source,
        })?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

// ---------------------------------------------------------------------------------------------
// Dialects and names

const ATOM_NS: &[u8] = b"http://www.w3.org/2005/Atom";
const ATOM03_NS: &[u8] = b"http://purl.org/atom/ns#";
const RSS10_NS: &[u8] = b"http://purl.org/rss/1.0/";
const RSS09_NS: &[u8] = b"http://my.netscape.com/rdf/simple/0.9/";
const RDF_NS: &[u8] = b"http://www.w3.org/1999/02/22-rdf-syntax-ns#";
const CONTENT_NS: &[u8] = b"http://purl.org/rss/1.0/modules/content/";
const DC_NS: &[u8] = b"http://purl.org/dc/elements/1.1/";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    /// RSS 0.9x and 2.0 (`<rss>`) and RSS 0.9/1.0 (`<rdf:RDF>`): same item vocabulary.
    Rss,
    Atom,
}

impl Dialect {
    fn of_root(root: &Tag) -> Option<Dialect> {
        match (root.ns, root.local.as_str()) {
            (Ns::Plain, "rss") => Some(Dialect::Rss),
            (Ns::Rdf, "RDF") => Some(Dialect::Rss),
            (Ns::Atom | Ns::Plain, "feed") => Some(Dialect::Atom),
            _ => None,
        }
    }

    fn channel(self) -> &'static str {
        match self {
            Dialect::Rss => "rss",
            Dialect::Atom => "atom",
        }
    }

    fn is_item(self, tag: &Tag) -> bool {
        match self {
            Dialect::Rss => tag.ns == Ns::Plain && tag.local == "item",
            Dialect::Atom => tag.is_atom() && tag.local == "entry",
        }
    }

    /// The date fields in order of preference, named as the reject will name them.
    fn date_fields(self) -> &'static [&'static str] {
        match self {
            Dialect::Rss => &["pubDate", "dc:date"],
            Dialect::Atom => &["published", "updated", "dc:date"],
        }
    }
}

/// The namespaces this source understands. Element names are matched by namespace, not by
/// prefix, so `<a:entry xmlns:a="…Atom">` is an entry and `<media:title>` is not a title; an
/// undeclared but conventional prefix (`content:`, `dc:`) is accepted, as feeds forget them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ns {
    /// No namespace, or RSS 0.9/1.0's own (their item vocabulary is RSS 2.0's).
    Plain,
    Atom,
    Rdf,
    Content,
    Dc,
    Other,
}

impl Ns {
    fn of(resolved: &ResolveResult) -> Ns {
        match resolved {
            ResolveResult::Unbound => Ns::Plain,
            ResolveResult::Bound(Namespace(uri)) => match *uri {
                RSS10_NS | RSS09_NS => Ns::Plain,
                // RSS 2.0's own namespaces, which some feeds declare as the default: UserLand's
                // (`…/rss`, `…/rss2`, `…/rss2.1`: any, as feedparser takes them) and Harvard's.
                uri if uri.starts_with(b"http://backend.userland.com/rss")
                    || uri == b"http://blogs.law.harvard.edu/tech/rss" =>
                {
                    Ns::Plain
                }
                ATOM_NS | ATOM03_NS => Ns::Atom,
                RDF_NS => Ns::Rdf,
                CONTENT_NS => Ns::Content,
                DC_NS => Ns::Dc,
                _ => Ns::Other,
            },
            ResolveResult::Unknown(prefix) => match prefix.as_slice() {
                b"atom" => Ns::Atom,
                b"rdf" => Ns::Rdf,
                b"content" => Ns::Content,
                b"dc" => Ns::Dc,
                _ => Ns::Other,
            },
        }
    }
}

/// A start tag, owned.
#[derive(Debug)]
struct Tag {
    ns: Ns,
    local: String,
    qname: String,
    /// Attributes by local name, values unescaped.
    attrs: Vec<(String, String)>,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
    }

    /// An Atom element; a feed without `xmlns` has its names unbound.
    fn is_atom(&self) -> bool {
        matches!(self.ns, Ns::Atom | Ns::Plain)
    }
}

// ---------------------------------------------------------------------------------------------
// Event cursor

/// The events this source needs, owned, with byte offsets into the original document.
enum Ev {
    /// `start` is the offset of the tag's `<`, `end` the offset just after its `>`.
    Start {
        tag: Tag,
        start: usize,
        end: usize,
    },
    /// `start` is the offset of the end tag's `<`.
    End {
        start: usize,
    },
    /// Text, CDATA or an entity reference, decoded.
    Text(String),
    Eof,
}

/// Where and why the XML broke.
struct Broken {
    offset: usize,
    reason: String,
}

struct Cursor<'d> {
    doc: &'d [u8],
    /// Bytes skipped before the parser's input (a byte-order mark): offsets are the file's.
    base: usize,
    reader: NsReader<&'d [u8]>,
    buf: Vec<u8>,
}

impl<'d> Cursor<'d> {
    fn new(doc: &'d [u8]) -> Cursor<'d> {
        let body = doc.strip_prefix(b"\xef\xbb\xbf").unwrap_or(doc);
        let mut reader = NsReader::from_reader(body);
        // `<a/>` as a start and an end, so every element is handled one way.
        reader.config_mut().expand_empty_elements = true;
        Cursor {
            doc,
            base: doc.len() - body.len(),
            reader,
            buf: Vec::new(),
        }
    }

    /// The offset just after the last event.
    fn pos(&self) -> usize {
        self.base + self.reader.buffer_position() as usize
    }

    fn slice(&self, start: usize, end: usize) -> &'d [u8] {
        self.doc.get(start..end).unwrap_or_default()
    }

    fn next(&mut self) -> Result<Ev, Broken> {
        loop {
            let start = self.pos();
            self.buf.clear();
            let (ns, event) = match self.reader.read_resolved_event_into(&mut self.buf) {
                Ok((resolved, event)) => (Ns::of(&resolved), event),
                Err(e) => {
                    return Err(Broken {
                        offset: self.base + self.reader.error_position() as usize,
                        reason: format!("not well-formed XML: {e}"),
                    })
                }
            };
            let ev = match event {
                Event::Start(e) | Event::Empty(e) => Ev::Start {
                    tag: Tag {
                        ns,
                        local: lossy(e.local_name().as_ref()),
                        qname: lossy(e.name().as_ref()),
                        attrs: e
                            .attributes()
                            .filter_map(Result::ok)
                            .map(|a| {
                                (
                                    lossy(a.key.local_name().as_ref()),
                                    decode_entities(&lossy(&a.value)),
                                )
                            })
                            .collect(),
                    },
                    start,
                    end: self.base + self.reader.buffer_position() as usize,
                },
                Event::End(_) => Ev::End { start },
                Event::Text(t) => Ev::Text(decode_utf8_or_latin1(&t).0.into_owned()),
                Event::CData(t) => Ev::Text(decode_utf8_or_latin1(&t).0.into_owned()),
                // Predefined and character references; an HTML name (`&eacute;`, which feeds use
                // without declaring it) is decoded too, an unknown one kept as written.
                Event::GeneralRef(r) => Ev::Text(decode_entities(&format!("&{};", lossy(&r)))),
                Event::Eof => Ev::Eof,
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => continue,
            };
            return Ok(ev);
        }
    }

    /// The error for a document that stops inside an element.
    fn truncated(&self, inside: &str) -> Broken {
        Broken {
            offset: self.doc.len(),
            reason: format!(
                "the document ends inside <{inside}> without closing it: it looks truncated"
            ),
        }
    }
}

fn lossy(bytes: &[u8]) -> String {
    decode_utf8_or_latin1(bytes).0.into_owned()
}

/// The first element, or why the document is not XML at all (a whole-input failure: nothing in
/// it can be a feed item).
fn find_root(cur: &mut Cursor, ctx: &Context) -> Result<Tag, SourceError> {
    let format = |reason: String| SourceError::Format {
        input: ctx.input.to_string(),
        reason,
    };
    loop {
        match cur.next() {
            Ok(Ev::Start { tag, .. }) => return Ok(tag),
            Ok(Ev::Text(_)) => continue,
            Ok(Ev::End { start }) => {
                return Err(format(format!(
                    "not an XML feed: a closing tag comes before any element (byte {start})"
                )))
            }
            Ok(Ev::Eof) => {
                return Err(format(
                    "not an XML feed: the document has no XML element".into(),
                ))
            }
            Err(b) => {
                return Err(format(format!(
                    "not an XML feed: {} (byte {}) before any element",
                    b.reason, b.offset
                )))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Walking the document

struct Walk<'a, 'd> {
    cur: Cursor<'d>,
    ctx: &'a Context,
    dialect: Dialect,
    /// Open elements outside items, root included.
    depth: usize,
    /// Index of the next item.
    index: u64,
    /// An Atom feed's `<author>`, which entries without their own inherit (RFC 4287 §4.2.1).
    feed_author: Option<Author>,
}

impl Walk<'_, '_> {
    fn run(&mut self, root: &Tag, emit: &mut dyn FnMut(Item)) {
        loop {
            let ev = match self.cur.next() {
                Ok(ev) => ev,
                Err(b) => return self.broken_outside(b, emit),
            };
            match ev {
                Ev::Start { tag, start, .. } if self.depth > 0 && self.dialect.is_item(&tag) => {
                    if let Err(b) = self.item(&tag, start, emit) {
                        return self.broken_inside(b, start, emit);
                    }
                }
                Ev::Start { tag, .. } => {
                    if let Err(b) = self.feed_child(&tag) {
                        return self.broken_outside(b, emit);
                    }
                }
                Ev::End { .. } => self.depth = self.depth.saturating_sub(1),
                Ev::Text(_) => {}
                Ev::Eof if self.depth > 0 => {
                    return self.broken_outside(self.cur.truncated(&root.qname), emit)
                }
                Ev::Eof => return,
            }
        }
    }

    /// An element outside items: only an Atom feed's author is kept.
    fn feed_child(&mut self, tag: &Tag) -> Result<(), Broken> {
        if self.dialect == Dialect::Atom
            && self.depth == 1
            && tag.is_atom()
            && tag.local == "author"
        {
            self.feed_author = Some(read_author(&mut self.cur, tag)?);
        } else {
            self.depth += 1;
        }
        Ok(())
    }

    /// Reads one item through its end tag and emits it.
    fn item(&mut self, tag: &Tag, start: usize, emit: &mut dyn FnMut(Item)) -> Result<(), Broken> {
        let fields = read_item(&mut self.cur, self.dialect, tag)?;
        let raw = self.cur.slice(start, self.cur.pos());
        let pos = self.ctx.at().item(self.index).byte(start as u64);
        self.index += 1;
        let limit = self.ctx.limits.max_record_bytes;
        let item = if raw.len() > limit {
            Item::Reject(self.ctx.reject(
                pos,
                format!(
                    "item is {} bytes, over the {limit}-byte limit for one record; it was skipped (its first {limit} bytes are kept)",
                    raw.len()
                ),
                &raw[..limit],
            ))
        } else {
            to_item(
                fields,
                raw,
                pos,
                self.dialect,
                self.feed_author.as_ref(),
                self.ctx,
            )
        };
        emit(item);
        Ok(())
    }

    /// The XML broke inside an item: that item is lost, the ones before it are kept.
    fn broken_inside(&self, b: Broken, start: usize, emit: &mut dyn FnMut(Item)) {
        let pos = self.ctx.at().item(self.index).byte(b.offset as u64);
        let raw = self.capped(start);
        let reason = format!("{}; the items before it were read", b.reason);
        emit(Item::Reject(self.ctx.reject(pos, reason, raw)));
    }

    fn broken_outside(&self, b: Broken, emit: &mut dyn FnMut(Item)) {
        let pos = self.ctx.at().byte(b.offset as u64);
        let raw = self.capped(b.offset);
        let reason = format!("{}; the items before it were read", b.reason);
        emit(Item::Reject(self.ctx.reject(pos, reason, raw)));
    }

    /// The rest of the document from `start`, cut at the record limit.
    fn capped(&self, start: usize) -> &[u8] {
        let end = start.saturating_add(self.ctx.limits.max_record_bytes);
        self.cur.slice(start, end.min(self.cur.doc.len()))
    }
}

// ---------------------------------------------------------------------------------------------
// Items

/// What an item said, each part already rendered to plain text.
#[derive(Default)]
struct Fields {
    title: Option<String>,
    link: Option<String>,
    id: Option<String>,
    /// RSS `<guid>` is a URL unless `isPermaLink="false"`.
    id_is_link: bool,
    /// RSS 1.0 `rdf:about`: the item's URI.
    about: Option<String>,
    summary: Option<String>,
    content: Option<String>,
    /// (field name, date as written).
    dates: Vec<(&'static str, String)>,
    author: Author,
    tags: Vec<String>,
}

/// The parts of an item this source reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Title,
    Link,
    Id,
    Summary,
    Content,
    Date(&'static str),
    /// RSS `<author>`: an e-mail address, often with the name in parentheses.
    RssAuthor,
    /// `dc:creator`: a name.
    Creator,
    /// Atom `<author>`: a container of name, uri and email.
    AtomAuthor,
    Category,
    Other,
}

impl Field {
    fn of(dialect: Dialect, tag: &Tag) -> Field {
        let local = tag.local.as_str();
        match tag.ns {
            Ns::Content if local == "encoded" => return Field::Content,
            Ns::Dc => {
                return match local {
                    "creator" => Field::Creator,
                    "date" => Field::Date("dc:date"),
                    "subject" => Field::Category,
                    _ => Field::Other,
                }
            }
            _ => {}
        }
        match dialect {
            Dialect::Rss if tag.ns == Ns::Plain => match local {
                "title" => Field::Title,
                "link" => Field::Link,
                "guid" => Field::Id,
                "description" => Field::Summary,
                "pubDate" => Field::Date("pubDate"),
                "author" => Field::RssAuthor,
                "category" => Field::Category,
                _ => Field::Other,
            },
            Dialect::Atom if tag.is_atom() => match local {
                "title" => Field::Title,
                "link" => Field::Link,
                "id" => Field::Id,
                "summary" => Field::Summary,
                "content" => Field::Content,
                "published" => Field::Date("published"),
                "updated" => Field::Date("updated"),
                "author" => Field::AtomAuthor,
                "category" => Field::Category,
                _ => Field::Other,
            },
            _ => Field::Other,
        }
    }
}

/// How an element's content becomes text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Html,
    Xhtml,
    /// RSS titles: plain text by the spec, yet often escaped markup or entities escaped twice.
    Loose,
}

impl Mode {
    fn of(dialect: Dialect, field: Field, tag: &Tag) -> Mode {
        match (dialect, field) {
            (Dialect::Rss, Field::Title) => Mode::Loose,
            (Dialect::Rss, Field::Summary | Field::Content) => Mode::Html,
            (Dialect::Atom, Field::Title | Field::Summary | Field::Content) => {
                Mode::of_atom_type(tag.attr("type").unwrap_or("text"))
            }
            _ => Mode::Plain,
        }
    }

    /// Atom's `type`: `text` (the default), `html`, `xhtml` or a MIME type.
    fn of_atom_type(t: &str) -> Mode {
        let t = t.to_ascii_lowercase();
        if t == "xhtml" || t.ends_with("xhtml+xml") {
            Mode::Xhtml
        } else if t == "html" || t == "text/html" {
            Mode::Html
        } else {
            Mode::Plain
        }
    }
}

/// An element's content, read through its end tag.
struct Content {
    /// Its text, decoded, child elements' text included.
    text: String,
    has_children: bool,
    /// Offsets of the content between the start and end tags.
    start: usize,
    end: usize,
}

impl Content {
    fn render(&self, mode: Mode, cur: &Cursor) -> String {
        match mode {
            Mode::Plain => collapse_space(&self.text),
            // Markup written as elements (XHTML, unescaped HTML): the source bytes are the HTML.
            _ if self.has_children => html_to_text(&lossy(cur.slice(self.start, self.end))),
            Mode::Html => html_to_text(&self.text),
            Mode::Xhtml => collapse_space(&self.text),
            Mode::Loose if looks_like_markup(&self.text) => html_to_text(&self.text),
            Mode::Loose => collapse_space(&decode_entities(&self.text)),
        }
    }
}

fn looks_like_markup(s: &str) -> bool {
    s.as_bytes()
        .windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'/'))
}

/// Reads an element's content after its start tag (ending at `start`) through its end tag.
fn read_element(cur: &mut Cursor, tag: &Tag, start: usize) -> Result<Content, Broken> {
    let mut content = Content {
        text: String::new(),
        has_children: false,
        start,
        end: start,
    };
    let mut depth = 0usize;
    loop {
        match cur.next()? {
            Ev::Start { .. } => {
                depth += 1;
                content.has_children = true;
            }
            Ev::Text(t) => content.text.push_str(&t),
            Ev::End { start } if depth == 0 => {
                content.end = start;
                return Ok(content);
            }
            Ev::End { .. } => depth -= 1,
            Ev::Eof => return Err(cur.truncated(&tag.qname)),
        }
    }
}

/// Reads an item's children through its end tag.
fn read_item(cur: &mut Cursor, dialect: Dialect, item: &Tag) -> Result<Fields, Broken> {
    let mut fields = Fields {
        about: item
            .attr("about")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        ..Fields::default()
    };
    loop {
        match cur.next()? {
            Ev::Start { tag, end, .. } => read_field(cur, dialect, &tag, end, &mut fields)?,
            Ev::End { .. } => return Ok(fields),
            Ev::Text(_) => {}
            Ev::Eof => return Err(cur.truncated(&item.qname)),
        }
    }
}

/// Reads one child of an item through its end tag into `fields`. The first of a repeated field
/// wins, except categories, which all count.
fn read_field(
    cur: &mut Cursor,
    dialect: Dialect,
    tag: &Tag,
    start: usize,
    fields: &mut Fields,
) -> Result<(), Broken> {
    let field = Field::of(dialect, tag);
    if field == Field::AtomAuthor {
        let author = read_author(cur, tag)?;
        merge_author(&mut fields.author, author);
        return Ok(());
    }
    let content = read_element(cur, tag, start)?;
    let text = content.render(Mode::of(dialect, field, tag), cur);
    match field {
        Field::Title => set_once(&mut fields.title, text),
        Field::Link if dialect == Dialect::Atom => {
            if matches!(tag.attr("rel"), None | Some("alternate")) {
                set_once(&mut fields.link, tag.attr("href").unwrap_or("").to_string());
            }
        }
        Field::Link => set_once(&mut fields.link, text),
        Field::Id => {
            if fields.id.is_none() {
                fields.id_is_link = dialect == Dialect::Rss
                    && !tag
                        .attr("isPermaLink")
                        .is_some_and(|v| v.eq_ignore_ascii_case("false"));
            }
            set_once(&mut fields.id, text);
        }
        Field::Summary => set_once(&mut fields.summary, text),
        Field::Content => set_once(&mut fields.content, text),
        Field::Date(name) => fields.dates.push((name, text)),
        Field::RssAuthor => merge_author(&mut fields.author, rss_author(&text)),
        Field::Creator => merge_author(
            &mut fields.author,
            Author {
                name: Some(text).filter(|s| !s.is_empty()),
                ..Author::default()
            },
        ),
        Field::Category => {
            let term = match dialect {
                Dialect::Atom => tag.attr("term").or(tag.attr("label")).unwrap_or(""),
                Dialect::Rss => text.as_str(),
            };
            add_tag(&mut fields.tags, term);
        }
        Field::AtomAuthor | Field::Other => {}
    }
    Ok(())
}

fn set_once(slot: &mut Option<String>, value: String) {
    let value = value.trim();
    if slot.is_none() && !value.is_empty() {
        *slot = Some(value.to_string());
    }
}

fn add_tag(tags: &mut Vec<String>, term: &str) {
    let term = collapse_space(term);
    if !term.is_empty() && !tags.contains(&term) {
        tags.push(term);
    }
}

/// Fills what `into` lacks from `from`: the first author named wins.
fn merge_author(into: &mut Author, from: Author) {
    if into.id.is_none() {
        into.id = from.id;
    }
    if into.handle.is_none() {
        into.handle = from.handle;
    }
    if into.name.is_none() {
        into.name = from.name;
    }
}

/// RSS `<author>`: `jane@example.com (Jane Doe)`, a bare address, or (against the spec) a name.
fn rss_author(text: &str) -> Author {
    let text = text.trim();
    if let Some((addr, rest)) = text.split_once('(') {
        let name = rest.trim_end().trim_end_matches(')').trim();
        return Author {
            id: Some(addr.trim().to_string()).filter(|s| !s.is_empty()),
            handle: None,
            name: Some(name.to_string()).filter(|s| !s.is_empty()),
        };
    }
    if text.is_empty() {
        Author::default()
    } else if text.contains('@') && !text.contains(' ') {
        Author {
            id: Some(text.to_string()),
            ..Author::default()
        }
    } else {
        Author {
            name: Some(text.to_string()),
            ..Author::default()
        }
    }
}

/// Atom `<author>` (or `<contributor>`): name, and uri or else email as the stable id.
fn read_author(cur: &mut Cursor, tag: &Tag) -> Result<Author, Broken> {
    let mut author = Author::default();
    let mut email = None;
    loop {
        match cur.next()? {
            Ev::Start {
                tag: child, end, ..
            } => {
                let value = collapse_space(&read_element(cur, &child, end)?.text);
                match child.local.as_str() {
                    "name" => set_once(&mut author.name, value),
                    "uri" => set_once(&mut author.id, value),
                    "email" => set_once(&mut email, value),
                    _ => {}
                }
            }
            Ev::End { .. } => break,
            Ev::Text(_) => {}
            Ev::Eof => return Err(cur.truncated(&tag.qname)),
        }
    }
    if author.id.is_none() {
        author.id = email;
    }
    Ok(author)
}

/// The message an item makes, or the reject that says what it lacks.
fn to_item(
    fields: Fields,
    raw: &[u8],
    pos: Position,
    dialect: Dialect,
    feed_author: Option<&Author>,
    ctx: &Context,
) -> Item {
    let body = fields
        .content
        .clone()
        .or_else(|| fields.summary.clone())
        .unwrap_or_default();
    if body.is_empty() && fields.title.is_none() {
        return Item::Reject(
            ctx.reject(
                pos,
                "item has neither a title nor any text (description, summary or content)",
                raw,
            )
            .field("description"),
        );
    }
    let created_at = match pick_date(&fields, dialect) {
        None => ctx.received_at,
        Some((name, text)) => match copernic_core::text::parse_datetime(text) {
            Some(at) => at,
            None => {
                return Item::Reject(
                    ctx.reject(
                        pos,
                        format!("{name} {text:?} is not a date (RFC 2822 or RFC 3339 expected)"),
                        raw,
                    )
                    .field(name),
                )
            }
        },
    };
    let text = if body.is_empty() {
        fields.title.clone().unwrap_or_default()
    } else {
        body
    };
    let mut m = ctx.message(external_id(&fields, raw), dialect.channel(), text);
    m.url = item_url(&fields);
    m.title = fields.title;
    m.created_at = created_at;
    m.author = fields.author;
    if let Some(feed_author) = feed_author {
        merge_author(&mut m.author, feed_author.clone());
    }
    m.tags = fields.tags;
    m.raw = raw.to_vec();
    Item::Message(m)
}

/// The preferred date the item gives, with its field name.
fn pick_date(fields: &Fields, dialect: Dialect) -> Option<(&'static str, &str)> {
    dialect.date_fields().iter().find_map(|want| {
        fields
            .dates
            .iter()
            .find(|(name, text)| name == want && !text.is_empty())
            .map(|(name, text)| (*name, text.as_str()))
    })
}

/// guid / id, else the link, else the RDF URI, else a hash of the item's bytes (stable across
/// polls as long as the publisher does not rewrite the item).
fn external_id(fields: &Fields, raw: &[u8]) -> String {
    fields
        .id
        .clone()
        .or_else(|| fields.link.clone())
        .or_else(|| fields.about.clone())
        .unwrap_or_else(|| content_id(raw))
}

/// The link, else a permalink guid or RSS 1.0 URI that is a web address.
fn item_url(fields: &Fields) -> Option<String> {
    let is_web = |s: &&String| s.starts_with("http://") || s.starts_with("https://");
    fields
        .link
        .clone()
        .or_else(|| {
            fields
                .id
                .as_ref()
                .filter(|_| fields.id_is_link)
                .filter(is_web)
                .cloned()
        })
        .or_else(|| fields.about.as_ref().filter(is_web).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use copernic_core::{Message, Reject};

    fn run(doc: &[u8]) -> Result<Vec<Item>, SourceError> {
        let ctx = Context::new("blog", "feed.xml");
        let mut out = Vec::new();
        parse(doc, &ctx, &mut |i| out.push(i))?;
        Ok(out)
    }

    fn message(item: &Item) -> &Message {
        match item {
            Item::Message(m) => m,
            Item::Reject(r) => panic!("expected a message, got reject {r}"),
        }
    }

    fn reject(item: &Item) -> &Reject {
        match item {
            Item::Reject(r) => r,
            Item::Message(m) => panic!("expected a reject, got message {m:?}"),
        }
    }

    const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom"
     xmlns:media="http://search.yahoo.com/mrss/">
  <channel>
    <title>Le blog de la Boulangerie</title>
    <link>https://boulangerie.example/</link>
    <atom:link href="https://boulangerie.example/feed" rel="self" type="application/rss+xml"/>
    <description>Nouvelles &amp; recettes</description>
    <item>
      <title><![CDATA[Pain & croissants : nos horaires d'été]]></title>
      <link>https://boulangerie.example/horaires-ete</link>
      <dc:creator><![CDATA[Marie Curie]]></dc:creator>
      <pubDate>Tue, 02 Jul 2024 08:30:00 +0200</pubDate>
      <category><![CDATA[Annonces]]></category>
      <category>Horaires</category>
      <category>Annonces</category>
      <guid isPermaLink="false">https://boulangerie.example/?p=123</guid>
      <description><![CDATA[<p>Cet été nous ouvrons <b>à 7h</b>&hellip;</p>]]></description>
      <content:encoded><![CDATA[<p>Cet été nous ouvrons <b>à 7h</b>.</p><p>Fermé le lundi.</p>]]></content:encoded>
      <media:title>not the title</media:title>
    </item>
    <item>
      <title>Question d&#8217;un client &amp;amp; réponse</title>
      <link>https://boulangerie.example/question</link>
      <author>contact@boulangerie.example (Service client)</author>
      <description>&lt;p&gt;Vos baguettes sont-elles &lt;i&gt;bio&lt;/i&gt; ?&lt;/p&gt;</description>
    </item>
  </channel>
</rss>
"#;

    #[test]
    fn rss_items_become_messages() {
        let items = run(RSS.as_bytes()).unwrap();
        assert_eq!(items.len(), 2);
        let m = message(&items[0]);
        assert_eq!(m.channel, "rss");
        assert_eq!(m.source, "blog");
        assert_eq!(m.external_id, "https://boulangerie.example/?p=123");
        assert_eq!(
            m.title.as_deref(),
            Some("Pain & croissants : nos horaires d'été")
        );
        assert_eq!(m.text, "Cet été nous ouvrons à 7h.\nFermé le lundi.");
        assert_eq!(
            m.url.as_deref(),
            Some("https://boulangerie.example/horaires-ete")
        );
        assert_eq!(m.author.name.as_deref(), Some("Marie Curie"));
        assert_eq!(m.created_at.to_rfc3339(), "2024-07-02T06:30:00+00:00");
        assert_eq!(m.tags, vec!["Annonces", "Horaires"]);
        let raw = String::from_utf8(m.raw.clone()).unwrap();
        assert!(
            raw.starts_with("<item>") && raw.ends_with("</item>"),
            "{raw}"
        );
        assert!(raw.contains("nos horaires"));

        let m = message(&items[1]);
        assert_eq!(m.title.as_deref(), Some("Question d’un client & réponse"));
        assert_eq!(m.text, "Vos baguettes sont-elles bio ?");
        // No guid: the link is the id.
        assert_eq!(m.external_id, "https://boulangerie.example/question");
        assert_eq!(m.author.id.as_deref(), Some("contact@boulangerie.example"));
        assert_eq!(m.author.name.as_deref(), Some("Service client"));
        // No date: the item is dated when it was received.
        assert_eq!(m.created_at, m.received_at);
    }

    const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">
  <title>Forum des clients</title>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2024-05-01T10:00:00Z</updated>
  <author><name>Équipe forum</name></author>
  <link rel="self" href="https://forum.example/feed.atom"/>
  <entry>
    <title type="html">Livraison &lt;em&gt;en retard&lt;/em&gt;</title>
    <link rel="edit" href="https://forum.example/api/42"/>
    <link rel="alternate" type="text/html" href="https://forum.example/t/42"/>
    <id>tag:forum.example,2024:42</id>
    <updated>2024-05-01T09:15:00+02:00</updated>
    <author><name>Jean Dupont</name><uri>https://forum.example/u/jean</uri></author>
    <category term="livraison"/>
    <category term="réclamation" label="Réclamation"/>
    <content type="xhtml">
      <div xmlns="http://www.w3.org/1999/xhtml"><p>Ma commande n'est <strong>toujours</strong> pas arrivée.</p><p>Merci de m'aider &amp; vite.</p></div>
    </content>
  </entry>
  <entry>
    <title>Merci !</title>
    <id>tag:forum.example,2024:43</id>
    <published>2024-05-02T12:00:00Z</published>
    <updated>2024-05-03T12:00:00Z</updated>
    <summary>Tout est arrivé, merci.</summary>
  </entry>
</feed>
"#;

    #[test]
    fn atom_entries_become_messages() {
        let items = run(ATOM.as_bytes()).unwrap();
        assert_eq!(items.len(), 2);
        let m = message(&items[0]);
        assert_eq!(m.channel, "atom");
        assert_eq!(m.external_id, "tag:forum.example,2024:42");
        assert_eq!(m.title.as_deref(), Some("Livraison en retard"));
        assert_eq!(
            m.text,
            "Ma commande n'est toujours pas arrivée.\nMerci de m'aider & vite."
        );
        assert_eq!(m.url.as_deref(), Some("https://forum.example/t/42"));
        assert_eq!(m.author.name.as_deref(), Some("Jean Dupont"));
        assert_eq!(m.author.id.as_deref(), Some("https://forum.example/u/jean"));
        // Only `updated`: it dates the entry.
        assert_eq!(m.created_at.to_rfc3339(), "2024-05-01T07:15:00+00:00");
        assert_eq!(m.tags, vec!["livraison", "réclamation"]);
        assert!(m.raw.starts_with(b"<entry>") && m.raw.ends_with(b"</entry>"));

        let m = message(&items[1]);
        assert_eq!(m.text, "Tout est arrivé, merci.");
        // `published` wins over `updated`; the feed's author is inherited.
        assert_eq!(m.created_at.to_rfc3339(), "2024-05-02T12:00:00+00:00");
        assert_eq!(m.author.name.as_deref(), Some("Équipe forum"));
        assert_eq!(m.url, None);
    }

    #[test]
    fn prefixed_atom_and_rdf_are_read() {
        let atom = br#"<a:feed xmlns:a="http://www.w3.org/2005/Atom"><a:entry><a:id>x1</a:id><a:title>Bonjour</a:title></a:entry></a:feed>"#;
        let items = run(atom).unwrap();
        let m = message(&items[0]);
        assert_eq!((m.external_id.as_str(), m.text.as_str()), ("x1", "Bonjour"));

        let rdf = br#"<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://x.example/"><title>X</title><items><rdf:Seq><rdf:li resource="https://x.example/1"/></rdf:Seq></items></channel>
  <item rdf:about="https://x.example/1"><title>Un</title><description>Texte</description><dc:date>2024-01-02T03:04:05Z</dc:date></item>
</rdf:RDF>"#;
        let items = run(rdf).unwrap();
        assert_eq!(items.len(), 1);
        let m = message(&items[0]);
        assert_eq!(m.channel, "rss");
        assert_eq!(m.external_id, "https://x.example/1");
        assert_eq!(m.url.as_deref(), Some("https://x.example/1"));
        assert_eq!(m.text, "Texte");
        assert_eq!(m.created_at.to_rfc3339(), "2024-01-02T03:04:05+00:00");
    }

    #[test]
    fn truncated_feed_keeps_earlier_items_and_rejects_at_the_break() {
        let cut = RSS.find("<author>").unwrap() + 10;
        let doc = &RSS.as_bytes()[..cut];
        let items = run(doc).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(
            message(&items[0]).external_id,
            "https://boulangerie.example/?p=123"
        );
        let r = reject(&items[1]);
        assert_eq!(r.position.item, Some(1));
        assert_eq!(r.position.byte, Some(cut as u64));
        assert!(r.reason.contains("truncated"), "{}", r.reason);
        assert!(r.raw.starts_with(b"<item>"));

        // A tag cut in its middle is an XML error, located at the tag.
        let cut = RSS.rfind("</item>").unwrap() + 4;
        let items = run(&RSS.as_bytes()[..cut]).unwrap();
        let r = reject(&items[1]);
        assert_eq!(r.position.byte, Some((cut - 4) as u64));
        assert!(r.reason.contains("not well-formed XML"), "{}", r.reason);

        // A mismatched end tag after the first item.
        let doc = RSS.replacen("<title>Question", "<title>Question</b>", 1);
        let items = run(doc.as_bytes()).unwrap();
        assert_eq!(items.len(), 2);
        let r = reject(&items[1]);
        let at = (doc.find("Question</b>").unwrap() + "Question".len()) as u64;
        assert_eq!(r.position.byte, Some(at));
    }

    #[test]
    fn item_without_content_is_rejected() {
        let doc = br#"<rss version="2.0"><channel><title>T</title>
<item><guid>a</guid><link>https://x/a</link></item>
<item><title>ok</title></item></channel></rss>"#;
        let items = run(doc).unwrap();
        assert_eq!(items.len(), 2);
        let r = reject(&items[0]);
        assert_eq!(r.field.as_deref(), Some("description"));
        assert_eq!(r.position.item, Some(0));
        let start = doc.windows(6).position(|w| w == b"<item>").unwrap() as u64;
        assert_eq!(r.position.byte, Some(start));
        assert_eq!(
            r.raw,
            b"<item><guid>a</guid><link>https://x/a</link></item>"
        );
        // A title alone is a message, with the title as its text.
        let m = message(&items[1]);
        assert_eq!(m.text, "ok");
        assert!(m.external_id.starts_with("sha256:"));
    }

    #[test]
    fn bad_date_is_rejected_naming_the_field() {
        let doc = br#"<rss><channel><item><title>t</title><pubDate>last tuesday</pubDate></item></channel></rss>"#;
        let items = run(doc).unwrap();
        let r = reject(&items[0]);
        assert_eq!(r.field.as_deref(), Some("pubDate"));
        assert!(r.reason.contains("last tuesday"), "{}", r.reason);

        let doc = br#"<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>t</title><published>2024-13-45</published></entry></feed>"#;
        let r = reject(&run(doc).unwrap()[0]).clone();
        assert_eq!(r.field.as_deref(), Some("published"));
    }

    #[test]
    fn declared_encodings_and_userland_namespace() {
        let (title, _, _) = encoding_rs::WINDOWS_1251.encode("Имя героя");
        let mut doc = b"<?xml version=\"1.0\" encoding=\"windows-1251\"?>\n<rss version=\"2.0\" xmlns=\"http://backend.userland.com/rss2\"><channel><item><title>".to_vec();
        doc.extend_from_slice(&title);
        doc.extend_from_slice(b"</title><guid>n1</guid></item></channel></rss>");
        let ctx = Context::new("t", "iconv.xml");
        let mut items = Vec::new();
        parse(&doc, &ctx, &mut |i| items.push(i)).unwrap();
        let [Item::Message(m)] = &items[..] else {
            panic!("{items:?}")
        };
        assert_eq!(
            m.title.as_deref().or(Some(m.text.as_str())),
            Some("Имя героя")
        );
    }

    /// The namespaces feedparser takes as RSS 2.0's: any of UserLand's, and Harvard's.
    #[test]
    fn rss_namespaces_as_feedparser_takes_them() {
        for ns in [
            "http://backend.userland.com/rss",
            "http://backend.userland.com/rss2",
            "http://backend.userland.com/rss2.1",
            "http://blogs.law.harvard.edu/tech/rss",
        ] {
            let doc = format!(
                "<rss xmlns=\"{ns}\"><channel><item><title>t</title><guid>g</guid></item></channel></rss>"
            );
            let items = run(doc.as_bytes()).unwrap_or_else(|e| panic!("{ns}: {e}"));
            assert!(matches!(&items[..], [Item::Message(_)]), "{ns}: {items:?}");
        }
        let err = run(b"<rss xmlns='http://example.com/not-rss'><channel/></rss>").unwrap_err();
        assert!(
            matches!(&err, SourceError::Format { reason, .. } if reason.contains("<rss> is in a namespace")),
            "{err}"
        );
    }

    /// A feed in UTF-16 or UTF-32 without a byte-order mark, as an HTTP body may come.
    #[test]
    fn wide_documents_without_a_mark() {
        let doc = "<?xml version='1.0' encoding='utf-16'?><rss><channel><item><title>Été</title><guid>g</guid></item></channel></rss>";
        let le: Vec<u8> = doc.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be32: Vec<u8> = doc.chars().flat_map(|c| (c as u32).to_be_bytes()).collect();
        for bytes in [le, be32] {
            let items = run(&bytes).unwrap();
            let [Item::Message(m)] = &items[..] else {
                panic!("{items:?}")
            };
            assert_eq!(m.title.as_deref().or(Some(m.text.as_str())), Some("Été"));
        }
    }

    #[test]
    fn non_feed_documents_are_errors() {
        let err = run(b"<?xml version='1.0'?><html><body/></html>").unwrap_err();
        assert!(
            matches!(&err, SourceError::Format { reason, .. } if reason.contains("<html>")),
            "{err}"
        );
        let err = run(b"{\"not\": \"xml\"}").unwrap_err();
        assert!(matches!(err, SourceError::Format { .. }), "{err}");
        assert!(run(b"").is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let samples: [&[u8]; 8] = [
            b"<rss><channel><item><title>a &bogus; b</title></item></channel></rss>",
            b"<rss><item><title><![CDATA[x",
            b"<rss><item><title>\xff\xfe latin \xe9</title></item></rss>",
            b"\xef\xbb\xbf<rss><channel><item><title>bom</title></item></channel></rss>",
            b"<feed><entry><link href='a' rel/></entry></feed>",
            b"<rss></channel></rss>",
            b"<rss><channel><item><title>x</title></item></channel></rss><rss>",
            b"<rss><item><description><p>unescaped <b>html</b></p></description></item></rss>",
        ];
        for doc in samples {
            let _ = run(doc);
        }
        let items = run(samples[3]).unwrap();
        let m = message(&items[0]);
        assert_eq!(m.text, "bom");
        assert!(m.raw.starts_with(b"<item>"));
        assert_eq!(message(&run(samples[7]).unwrap()[0]).text, "unescaped html");
        assert_eq!(message(&run(samples[0]).unwrap()[0]).text, "a &bogus; b");
    }

    #[test]
    fn read_refuses_oversized_items() {
        let mut ctx = Context::new("blog", "feed.xml");
        ctx.limits.max_record_bytes = 64;
        let doc = format!(
            "<rss><channel><item><title>{}</title></item><item><title>ok</title></item></channel></rss>",
            "x".repeat(100)
        );
        let mut out = Vec::new();
        let mut input = doc.as_bytes();
        read(&mut input, &ctx, &mut |i| out.push(i)).unwrap();
        assert!(reject(&out[0]).reason.contains("64-byte limit"));
        assert_eq!(reject(&out[0]).raw.len(), 64);
        assert_eq!(message(&out[1]).text, "ok");
    }

    #[test]
    fn feed_config_defaults_and_refuses_unknown_fields() {
        let c: FeedConfig =
            serde_json::from_str(r#"{"url":"https://x/feed","source":"x"}"#).unwrap();
        assert_eq!(c.interval, Duration::from_secs(300));
        let c: FeedConfig =
            serde_json::from_str(r#"{"url":"u","source":"x","interval_secs":60}"#).unwrap();
        assert_eq!(c.interval, Duration::from_secs(60));
        assert!(
            serde_json::from_str::<FeedConfig>(r#"{"url":"u","source":"x","every":1}"#).is_err()
        );
        assert!(serde_json::from_str::<FeedConfig>(
            r#"{"url":"u","source":"x","interval_secs":0}"#
        )
        .is_err());
    }

    mod polling {
        use super::*;
        use axum::http::{header, HeaderMap, StatusCode};
        use axum::response::{IntoResponse, Response};
        use axum::routing::get;
        use axum::Router;

        const TAG: &str = "\"v1\"";

        async fn feed(headers: HeaderMap) -> Response {
            let matches = headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                == Some(TAG);
            if matches {
                return (StatusCode::NOT_MODIFIED, [(header::ETAG, TAG)]).into_response();
            }
            (
                [
                    (header::ETAG, TAG),
                    (header::LAST_MODIFIED, "Tue, 02 Jul 2024 08:00:00 GMT"),
                    (header::CONTENT_TYPE, "application/rss+xml"),
                ],
                RSS,
            )
                .into_response()
        }

        async fn serve() -> String {
            let app = Router::new().route("/feed.xml", get(feed)).route(
                "/broken",
                get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await });
            format!("http://{addr}")
        }

        fn config(url: String) -> FeedConfig {
            FeedConfig {
                url,
                source: "blog".into(),
                interval: Duration::from_secs(300),
            }
        }

        fn client() -> reqwest::Client {
            // No proxy: the environment's must not intercept 127.0.0.1.
            reqwest::Client::builder().no_proxy().build().unwrap()
        }

        #[tokio::test]
        async fn polls_conditionally_with_the_etag() {
            let base = serve().await;
            let client = client();
            let feed = config(format!("{base}/feed.xml"));

            let first = poll_once(&client, &feed, None).await.unwrap();
            assert!(!first.not_modified);
            assert_eq!(first.items.len(), 2);
            let m = message(&first.items[0]);
            assert_eq!(m.source, "blog");
            assert_eq!(first.state.etag.as_deref(), Some(TAG));
            assert_eq!(
                first.state.last_modified.as_deref(),
                Some("Tue, 02 Jul 2024 08:00:00 GMT")
            );
            assert!(first.state.checked_at.is_some());

            let second = poll_once(&client, &feed, Some(&first.state)).await.unwrap();
            assert!(second.not_modified);
            assert!(second.items.is_empty());
            assert_eq!(second.state.etag.as_deref(), Some(TAG));
            // Not resent with the 304, so kept from the previous poll.
            assert_eq!(second.state.last_modified, first.state.last_modified);
            assert!(second.state.checked_at >= first.state.checked_at);
        }

        #[tokio::test]
        async fn server_errors_and_dead_servers_are_errors() {
            let base = serve().await;
            let client = client();
            let err = poll_once(&client, &config(format!("{base}/broken")), None)
                .await
                .unwrap_err();
            assert!(
                matches!(&err, SourceError::Format { reason, .. } if reason.contains("500")),
                "{err}"
            );
            // Nothing listens there any more: a transport error.
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let dead = format!("http://{}/feed.xml", listener.local_addr().unwrap());
            drop(listener);
            let err = poll_once(&client, &config(dead), None).await.unwrap_err();
            assert!(matches!(err, SourceError::Fetch { .. }), "{err}");
        }
    }
}
