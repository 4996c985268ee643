//! Unix mailboxes (mboxo and mboxrd): every line that starts with `From ` opens the next e-mail,
//! which is parsed with `mail-parser` (MIME, charsets, quoted-printable and base64 included).
//!
//! The mailbox is streamed: at most one e-mail (bounded by [`super::Limits::max_record_bytes`]) is
//! held at a time, so a mailbox of several gigabytes costs no more memory than one large mail.

use std::io::BufRead;
use std::panic::{catch_unwind, AssertUnwindSafe};

use chrono::{DateTime, Utc};
use copernic_core::text::{collapse_space, html_to_text, parse_datetime};
use copernic_core::{Author, MessageId, Position};
use mail_parser::{HeaderValue, MessageParser, PartType};

use super::mapping::content_id;
use super::{Context, Item, LineReader, SourceError};

/// Reads a mailbox, emitting one message or reject per e-mail, in order.
pub fn read(
    input: &mut dyn BufRead,
    ctx: &Context,
    emit: &mut dyn FnMut(Item),
) -> Result<(), SourceError> {
    let limit = ctx.limits.max_record_bytes;
    let mut lines = LineReader::new(input, limit);
    // Text before the first `From ` line belongs to no message; it is collected like one so that
    // it can be reported rather than silently dropped.
    let mut chunk = Chunk::new(1, 0, None);
    let mut index = 0u64;
    // A `From ` line opens an e-mail only at the start or after a blank line, as mbox writers
    // put it: an unescaped "From time to time" inside a body does not split the e-mail.
    let mut after_blank = true;
    while let Some(line) = lines.next_line().map_err(|source| SourceError::Io {
        input: ctx.input.to_string(),
        source,
    })? {
        let mut bytes = line.bytes;
        if line.number == 1 {
            // A UTF-8 byte-order mark, as Windows tools write, is not part of the mailbox.
            bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        }
        // Before the first e-mail any `From ` line opens one (there is no body yet to protect),
        // unless what came first is itself an e-mail's headers (a lone `.eml`).
        let in_preamble = index == 0 && !starts_with_header(&chunk.bytes);
        if bytes.starts_with(b"From ") && (after_blank || in_preamble) {
            // The envelope line is the mailbox's separator, not part of the e-mail.
            std::mem::replace(
                &mut chunk,
                Chunk::new(line.number, line.offset, Some(index)),
            )
            .finish(ctx, emit);
            index += 1;
            continue;
        }
        after_blank = bytes.iter().all(u8::is_ascii_whitespace);
        chunk.push(bytes, line.len, limit);
    }
    // A lone e-mail (`.eml`, a message saved from a mail client) has no `From ` line at all.
    if index == 0 && starts_with_header(&chunk.bytes) {
        chunk.item = Some(0);
    }
    chunk.finish(ctx, emit);
    Ok(())
}

/// Whether `bytes` opens with a mail header line (`Name: value`, the name without spaces).
pub fn starts_with_header(bytes: &[u8]) -> bool {
    let first = bytes
        .split(|&b| b == b'\n')
        .find(|l| !l.iter().all(u8::is_ascii_whitespace));
    let Some(line) = first else { return false };
    match line.iter().position(|&b| b == b':') {
        Some(colon) if colon > 0 => line[..colon]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-'),
        _ => false,
    }
}

/// The lines of one e-mail (or of the text before the first one), kept up to the record limit.
struct Chunk {
    /// 1-based line of the chunk's `From ` line (or of the input's start).
    line: u64,
    /// Byte offset of that line.
    offset: u64,
    /// 0-based index among the mailbox's e-mails; `None` for text before the first one.
    item: Option<u64>,
    /// The e-mail's bytes, `>From ` lines un-escaped, cut at the limit.
    bytes: Vec<u8>,
    /// The e-mail's full size, counting what was not kept.
    size: u64,
}

impl Chunk {
    fn new(line: u64, offset: u64, item: Option<u64>) -> Chunk {
        Chunk {
            line,
            offset,
            item,
            bytes: Vec::new(),
            size: 0,
        }
    }

    /// Appends one line (`bytes` may be a prefix of a line of `len` bytes cut by the reader).
    /// Line ends are written as `\n`: mail-parser reads both, and `\n` is what mbox files use.
    fn push(&mut self, bytes: &[u8], len: u64, limit: usize) {
        let unescaped = unescape_from(bytes);
        let removed = (bytes.len() - unescaped.len()) as u64;
        let bytes = unescaped;
        self.size += len.saturating_sub(removed) + 1;
        let room = limit.saturating_sub(self.bytes.len());
        self.bytes
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        if self.bytes.len() < limit {
            self.bytes.push(b'\n');
        }
    }

    fn position(&self, ctx: &Context) -> Position {
        let pos = ctx.at().line(self.line).byte(self.offset);
        match self.item {
            Some(i) => pos.item(i),
            None => pos,
        }
    }

    /// Emits what the chunk holds: nothing for blank text before the first e-mail, a reject for
    /// other such text and for empty or oversized e-mails, else the parsed e-mail.
    fn finish(mut self, ctx: &Context, emit: &mut dyn FnMut(Item)) {
        let limit = ctx.limits.max_record_bytes;
        let pos = self.position(ctx);
        let blank = self.bytes.iter().all(u8::is_ascii_whitespace);
        if self.item.is_none() {
            if !blank {
                emit(Item::Reject(ctx.reject(
                    pos,
                    "text before the first `From ` line belongs to no e-mail (an mbox starts every e-mail with a line beginning with `From `); it was skipped",
                    &self.bytes,
                )));
            }
            return;
        }
        if self.size > limit as u64 {
            emit(Item::Reject(ctx.reject(
                pos,
                format!(
                    "e-mail is {} bytes, over the {limit}-byte limit for one record; it was skipped (its first {limit} bytes are kept)",
                    self.size
                ),
                &self.bytes,
            )));
            return;
        }
        if blank {
            emit(Item::Reject(ctx.reject(
                pos,
                "the `From ` line is followed by no e-mail",
                &self.bytes,
            )));
            return;
        }
        // mbox writers end every e-mail with an empty line that separates it from the next
        // `From ` line; it is the mailbox's, not the e-mail's.
        if self.bytes.ends_with(b"\n\n") {
            self.bytes.pop();
        }
        emit(parse_guarded(&self.bytes, ctx, pos));
    }
}

/// Removes the `>` that mboxrd and mboxo writers put before body lines starting with `From `
/// (mboxrd also escapes `>From `, so one `>` is removed before any run of them).
fn unescape_from(line: &[u8]) -> &[u8] {
    let quotes = line.iter().take_while(|&&b| b == b'>').count();
    if quotes > 0 && line[quotes..].starts_with(b"From ") {
        &line[1..]
    } else {
        line
    }
}

/// Parses one e-mail. mail-parser is fuzzed, but a bug in a third-party parser on one hostile
/// e-mail must cost that e-mail, not the whole import.
fn parse_guarded(raw: &[u8], ctx: &Context, pos: Position) -> Item {
    match catch_unwind(AssertUnwindSafe(|| to_item(raw, ctx, pos.clone()))) {
        Ok(item) => item,
        Err(_) => Item::Reject(ctx.reject(
            pos,
            "the e-mail parser failed on this e-mail; it was skipped",
            raw,
        )),
    }
}

/// One e-mail's message, or the reject that says why it has none.
fn to_item(raw: &[u8], ctx: &Context, pos: Position) -> Item {
    let mail = match MessageParser::default().parse(raw) {
        Some(m) if !m.root_part().headers().is_empty() => m,
        _ => {
            return Item::Reject(ctx.reject(
                pos,
                "not an e-mail: no header line (`Name: value`) was found",
                raw,
            ))
        }
    };
    let text = body_text(&mail);
    let title = mail.subject().map(collapse_space).filter(|s| !s.is_empty());
    if text.is_empty() && title.is_none() {
        return Item::Reject(
            ctx.reject(pos, "the e-mail has neither text nor subject", raw)
                .field("body"),
        );
    }
    // Without a Message-ID the bytes are the only identity: a replay of the same mailbox then
    // still lands on the same message.
    let external_id = message_id(&mail).unwrap_or_else(|| content_id(raw));
    let mut m = ctx.message(&external_id, "email", text);
    m.title = title;
    m.author = author(&mail);
    m.created_at = created_at(&mail, ctx);
    m.in_reply_to = first_id(mail.in_reply_to()).map(|p| MessageId::derive(&ctx.source, &p));
    // References lists the thread from its root; without it the store resolves the thread from
    // the parent.
    m.thread_id = first_id(mail.references()).map(|r| MessageId::derive(&ctx.source, &r));
    m.lang = lang(&mail);
    m.raw = raw.to_vec();
    Item::Message(m)
}

/// The body as plain text: each text/plain body part, or the HTML one converted where an e-mail
/// has no plain alternative, whitespace collapsed. Attachments are left out, unless the e-mail has
/// no such body: then the e-mails it carries (a digest, a mail forwarded as an attachment), each
/// subject and body, and failing those any text part (`text/x-…`, or the text of a multipart
/// whose boundary never shows up) are its text.
fn body_text(mail: &mail_parser::Message<'_>) -> String {
    let text = joined(mail.text_bodies());
    if !text.is_empty() {
        return text;
    }
    let mut carried = String::new();
    for part in &mail.parts {
        if let PartType::Message(inner) = &part.body {
            if let Some(subject) = inner.subject() {
                carried.push_str(subject);
                carried.push_str("\n\n");
            }
            carried.push_str(&body_text(inner));
            carried.push_str("\n\n");
        }
    }
    let carried = collapse_space(&carried);
    if !carried.is_empty() {
        return carried;
    }
    joined(mail.parts.iter())
}

/// The text and HTML parts among `parts`, as text, whitespace collapsed.
fn joined<'a, 'm: 'a>(parts: impl Iterator<Item = &'a mail_parser::MessagePart<'m>>) -> String {
    let mut text = String::new();
    for part in parts {
        let piece = match &part.body {
            PartType::Text(t) => t.to_string(),
            // Our converter, not mail-parser's, so that mail, feeds and Mastodon read alike.
            PartType::Html(h) => html_to_text(h),
            _ => continue,
        };
        text.push_str(&piece);
        text.push_str("\n\n");
    }
    collapse_space(&text)
}

/// The Message-ID without angle brackets, when the e-mail has a non-empty one.
fn message_id(mail: &mail_parser::Message<'_>) -> Option<String> {
    mail.message_id().and_then(clean_id)
}

/// The first message id of an id-list header (In-Reply-To, References).
fn first_id(value: &HeaderValue<'_>) -> Option<String> {
    match value {
        HeaderValue::Text(t) => clean_id(t),
        HeaderValue::TextList(list) => list.iter().find_map(|t| clean_id(t)),
        _ => None,
    }
}

fn clean_id(id: &str) -> Option<String> {
    let id = id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!id.is_empty()).then(|| id.to_string())
}

/// The sender: the address (lowercased as the id, since mail domains and in practice mailboxes
/// are compared without case) and the display name.
fn author(mail: &mail_parser::Message<'_>) -> Author {
    let Some(from) = mail.from().and_then(|a| a.first()) else {
        return Author::default();
    };
    let address = from.address().map(str::trim).filter(|s| !s.is_empty());
    Author {
        id: address.map(str::to_lowercase),
        handle: address.map(str::to_string),
        name: from.name().map(collapse_space).filter(|s| !s.is_empty()),
    }
}

/// When the e-mail was written, from its Date header.
fn created_at(mail: &mail_parser::Message<'_>, ctx: &Context) -> DateTime<Utc> {
    if let Some(d) = mail.date().filter(|d| d.is_valid()) {
        if let Some(t) = DateTime::from_timestamp(d.to_timestamp(), 0) {
            return t;
        }
    }
    // mail-parser reads RFC 5322 dates only; some exporters write ISO 8601 instead.
    if let Some(t) = mail.header_raw("Date").and_then(parse_datetime) {
        return t;
    }
    // No Date, or one nobody can read (a client with a broken clock or formatter): the e-mail is
    // still worth importing, and the time it was received is the best estimate left.
    ctx.received_at
}

/// The ISO 639-1 code of the first Content-Language (`fr-FR` → `fr`).
fn lang(mail: &mail_parser::Message<'_>) -> Option<String> {
    let first = match mail.header("Content-Language")? {
        HeaderValue::Text(t) => t.to_string(),
        HeaderValue::TextList(list) => list.first()?.to_string(),
        _ => return None,
    };
    let primary = first.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    (primary.len() == 2 && primary.bytes().all(|b| b.is_ascii_alphabetic())).then_some(primary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with(data: &[u8], limit: usize) -> (Context, Vec<Item>) {
        let mut ctx = Context::new("email", "in.mbox");
        ctx.limits.max_record_bytes = limit;
        let mut out = Vec::new();
        let mut input = data;
        read(&mut input, &ctx, &mut |i| out.push(i)).unwrap();
        (ctx, out)
    }

    fn run(data: &[u8]) -> (Context, Vec<Item>) {
        run_with(data, 64 << 10)
    }

    fn message(item: &Item) -> &copernic_core::Message {
        match item {
            Item::Message(m) => m,
            Item::Reject(r) => panic!("expected a message, got reject {r}"),
        }
    }

    fn reject(item: &Item) -> &copernic_core::Reject {
        match item {
            Item::Reject(r) => r,
            Item::Message(m) => panic!("expected a reject, got message {:?}", m.text),
        }
    }

    /// A plain mail from `from` with `id` as Message-ID, optional threading headers.
    fn mail(id: &str, extra: &str, body: &str) -> String {
        format!(
            "From sender@example.com Mon Mar  4 10:00:00 2024\n\
             From: Client <client@example.com>\n\
             To: support@shop.example\n\
             Subject: Re: commande\n\
             Date: Mon, 4 Mar 2024 10:00:00 +0100\n\
             Message-ID: <{id}>\n\
             {extra}\
             \n\
             {body}\n\
             \n"
        )
    }

    #[test]
    fn multipart_alternative_decodes_qp_base64_and_charsets() {
        let mut data = Vec::new();
        // Plain part quoted-printable in ISO-8859-1, HTML part base64 in UTF-8.
        data.extend_from_slice(
            b"From renee@example.fr Mon Mar  4 09:15:00 2024\n\
From: =?ISO-8859-1?Q?Ren=E9e_Dupr=E9?= <Renee.Dupre@Example.FR>\n\
To: support@shop.example\n\
Subject: =?UTF-8?B?UHJvYmzDqG1lIGRlIGxpdnJhaXNvbg==?=\n\
Date: Mon, 4 Mar 2024 09:15:00 +0100\n\
Message-ID: <a1@example.fr>\n\
Content-Language: fr-FR\n\
MIME-Version: 1.0\n\
Content-Type: multipart/alternative; boundary=\"b1\"\n\
\n\
--b1\n\
Content-Type: text/plain; charset=ISO-8859-1\n\
Content-Transfer-Encoding: quoted-printable\n\
\n\
Bonjour,\n\
Ma commande n'est pas arriv=E9e.   D=E9=E7u=20=\n\
de ce retard.\n\
\n\
--b1\n\
Content-Type: text/html; charset=UTF-8\n\
Content-Transfer-Encoding: base64\n\
\n\
PHA+Qm9uam91ciw8L3A+PHA+TWEgY29tbWFuZGUgbidlc3QgcGFzIGFycml2w6llLiA8Yj5Ew6nDp3U8L2I+LjwvcD4=\n\
--b1--\n\
\n",
        );
        // Plain part base64 in UTF-8, HTML part quoted-printable in ISO-8859-1.
        data.extend_from_slice(
            b"From renee@example.fr Mon Mar  4 11:00:00 2024\n\
From: renee.dupre@example.fr\n\
Subject: merci\n\
Date: Mon, 4 Mar 2024 11:00:00 +0100\n\
Message-ID: <a2@example.fr>\n\
MIME-Version: 1.0\n\
Content-Type: multipart/alternative; boundary=b2\n\
\n\
--b2\n\
Content-Type: text/plain; charset=\"utf-8\"\n\
Content-Transfer-Encoding: base64\n\
\n\
TWVyY2kgcG91ciBsYSByw6lwb25zZSByYXBpZGUsIHByb2Jsw6htZSByw6lnbMOpIOKckw==\n\
--b2\n\
Content-Type: text/html; charset=iso-8859-1\n\
Content-Transfer-Encoding: quoted-printable\n\
\n\
<p>Merci pour la r=E9ponse</p>\n\
--b2--\n",
        );
        let (_, items) = run(&data);
        assert_eq!(items.len(), 2);
        let m = message(&items[0]);
        assert_eq!(
            m.text,
            "Bonjour,\nMa commande n'est pas arrivée. Déçu de ce retard."
        );
        assert_eq!(m.title.as_deref(), Some("Problème de livraison"));
        assert_eq!(m.external_id, "a1@example.fr");
        assert_eq!(m.id, MessageId::derive("email", "a1@example.fr"));
        assert_eq!(m.channel, "email");
        assert_eq!(m.author.id.as_deref(), Some("renee.dupre@example.fr"));
        assert_eq!(m.author.handle.as_deref(), Some("Renee.Dupre@Example.FR"));
        assert_eq!(m.author.name.as_deref(), Some("Renée Dupré"));
        assert_eq!(m.created_at.to_rfc3339(), "2024-03-04T08:15:00+00:00");
        assert_eq!(m.lang.as_deref(), Some("fr"));
        assert_eq!(m.url, None);
        assert!(m.raw.starts_with(b"From: =?ISO-8859-1?Q?"));
        assert!(m.raw.ends_with(b"--b1--\n"));
        let m = message(&items[1]);
        assert_eq!(m.text, "Merci pour la réponse rapide, problème réglé ✓");
        assert_eq!(m.author.name, None);
        assert_eq!(m.lang, None);
    }

    /// A MIME digest (a mailing list's) carries its e-mails as parts, with or without a
    /// `message/rfc822` type; a mail of `text/x-…` parts only has text too (both from CPython's
    /// e-mail test data, msg_28/30/37).
    #[test]
    fn digests_and_unknown_text_parts_have_text() {
        let data = b"From list@example.org Mon Mar  4 10:00:00 2024
From: list@example.org
MIME-Version: 1.0
Content-Type: multipart/digest; boundary=B

--B

From: ana@example.fr
Subject: Colis

Mon colis est perdu.

--B
Content-Type: message/rfc822

From: bob@example.fr
Subject: Facture

Facture en double.

--B--

From x@example.org Mon Mar  4 10:00:00 2024
From: x@example.org
Content-Type: multipart/mixed; boundary=C

--C
Content-Type: text/x-one

Blah

--C--
";
        let (_, items) = run(data);
        assert_eq!(items.len(), 2, "{items:?}");
        assert_eq!(
            message(&items[0]).text,
            "Colis\nMon colis est perdu.\nFacture\nFacture en double."
        );
        assert_eq!(message(&items[1]).text, "Blah");
    }

    #[test]
    fn html_only_mail_is_converted_and_bad_date_falls_back() {
        let data = b"From x@y Tue Mar  5 08:00:00 2024\n\
From: \"Jean\" <jean@example.org>\n\
Subject: Bravo\n\
Date: le cinq mars, vers huit heures\n\
Message-ID: <h1@example.org>\n\
Content-Type: text/html; charset=utf-8\n\
\n\
<html><head><style>p { color: red }</style></head><body>\n\
<p>Votre service est <b>excellent</b> &amp; rapide.</p>\n\
<p>Merci&nbsp;!</p><script>alert(1)</script>\n\
</body></html>\n";
        let (ctx, items) = run(data);
        let m = message(&items[0]);
        assert!(
            m.text.contains("Votre service est excellent & rapide."),
            "{}",
            m.text
        );
        assert!(m.text.contains("Merci"), "{}", m.text);
        assert!(!m.text.contains('<') && !m.text.contains("alert") && !m.text.contains("color"));
        assert_eq!(m.created_at, ctx.received_at);
        assert_eq!(m.author.name.as_deref(), Some("Jean"));
    }

    #[test]
    fn thread_of_three_shares_the_root() {
        let mut data = mail("t1@shop.example", "", "Où est mon colis ?");
        data += &mail(
            "t2@shop.example",
            "In-Reply-To: <t1@shop.example>\nReferences: <t1@shop.example>\n",
            "Il part demain.",
        );
        data += &mail(
            "t3@shop.example",
            "In-Reply-To: <t2@shop.example>\nReferences: <t1@shop.example>\n <t2@shop.example>\n",
            "Merci !",
        );
        let (_, items) = run(data.as_bytes());
        assert_eq!(items.len(), 3);
        let (a, b, c) = (message(&items[0]), message(&items[1]), message(&items[2]));
        let root = MessageId::derive("email", "t1@shop.example");
        assert_eq!(a.id, root);
        assert_eq!((a.thread_id, a.in_reply_to), (None, None));
        assert_eq!(b.thread_id, Some(root));
        assert_eq!(b.in_reply_to, Some(root));
        assert_eq!(c.thread_id, Some(root));
        assert_eq!(c.in_reply_to, Some(b.id));
        assert_eq!(c.text, "Merci !");
    }

    #[test]
    fn escaped_from_lines_are_unescaped_not_split() {
        let data = mail(
            "f1@example.com",
            "",
            "Voici le message transféré :\n>From the start it failed.\n>>From quoted text.\nFin.",
        );
        let (_, items) = run(data.as_bytes());
        assert_eq!(items.len(), 1);
        let m = message(&items[0]);
        let lines: Vec<&str> = m.text.lines().collect();
        assert_eq!(
            lines,
            [
                "Voici le message transféré :",
                "From the start it failed.",
                ">From quoted text.",
                "Fin."
            ]
        );
        let raw = String::from_utf8_lossy(&m.raw);
        assert!(raw.contains("\nFrom the start") && raw.contains("\n>From quoted"));
    }

    #[test]
    fn garbage_and_empty_mails_are_rejected_and_reading_goes_on() {
        let mut data = b"leftover junk before any message\n".to_vec();
        data.extend_from_slice(
            b"From junk@x Mon Mar  4 10:00:00 2024\n\x00\x01\xff\xfe\x80 binary junk\n\n",
        );
        data.extend_from_slice(
            b"From empty@x Mon Mar  4 10:00:00 2024\n\
From: nobody@example.com\n\
Date: Mon, 4 Mar 2024 10:00:00 +0000\n\
Message-ID: <e1@example.com>\n\
\n\
   \n\
\n",
        );
        data.extend_from_slice(b"From x@y Mon Mar  4 10:00:00 2024\n\n");
        let good = mail("ok@example.com", "", "Tout va bien.");
        data.extend_from_slice(good.as_bytes());
        let (_, items) = run(&data);
        assert_eq!(items.len(), 5, "{items:?}");
        let r = reject(&items[0]);
        assert_eq!(
            (r.position.line, r.position.byte, r.position.item),
            (Some(1), Some(0), None)
        );
        assert!(
            r.reason.contains("before the first `From `"),
            "{}",
            r.reason
        );
        let r = reject(&items[1]);
        assert_eq!(
            (r.position.line, r.position.byte, r.position.item),
            (Some(2), Some(33), Some(0))
        );
        assert!(r.reason.contains("not an e-mail"), "{}", r.reason);
        assert!(r.raw.starts_with(b"\x00\x01\xff"));
        let r = reject(&items[2]);
        assert_eq!((r.position.line, r.position.item), (Some(5), Some(1)));
        assert_eq!(r.field.as_deref(), Some("body"));
        assert!(
            r.reason.contains("neither text nor subject"),
            "{}",
            r.reason
        );
        assert!(r.raw.starts_with(b"From: nobody@example.com\n"));
        let r = reject(&items[3]);
        assert_eq!(r.position.item, Some(2));
        let m = message(&items[4]);
        assert_eq!(m.text, "Tout va bien.");
    }

    #[test]
    fn text_without_headers_is_not_an_email() {
        let data =
            b"From x@y Mon Mar  4 10:00:00 2024\nthis is not an e-mail at all\njust some text\n";
        let (_, items) = run(data);
        assert_eq!(items.len(), 1);
        let r = reject(&items[0]);
        assert!(r.reason.contains("not an e-mail"), "{}", r.reason);
    }

    #[test]
    fn arbitrary_bytes_never_fail_the_read() {
        // A small deterministic generator: no dependency, same inputs on every run.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let pieces: [&[u8]; 10] = [
            b"From a@b Mon Mar  4 10:00:00 2024\n",
            b"Content-Type: multipart/mixed; boundary=z\n",
            b"--z\n",
            b"Content-Transfer-Encoding: base64\n",
            b"=?utf-8?q?=C3=A9?=",
            b"\n",
            b"Subject: ",
            b">From ",
            b"\r\n",
            b"\xff\x00<p>",
        ];
        for _ in 0..300 {
            let mut data = Vec::new();
            for _ in 0..(next() % 40) {
                let n = next();
                if n % 3 == 0 {
                    data.push((n >> 8) as u8);
                } else {
                    data.extend_from_slice(pieces[(n >> 8) as usize % pieces.len()]);
                }
            }
            let (_, items) = run_with(&data, 256);
            for item in &items {
                if let Item::Reject(r) = item {
                    assert!(r.raw.len() <= 256);
                }
            }
        }
    }

    #[test]
    fn oversized_mail_is_refused_with_the_limit() {
        let big = mail(
            "big@example.com",
            "",
            &"x".repeat(100).repeat(10).replace("xx", "x\n"),
        );
        let mut data = big.into_bytes();
        data.extend_from_slice(mail("next@example.com", "", "Suivant.").as_bytes());
        let (_, items) = run_with(&data, 300);
        assert_eq!(items.len(), 2);
        let r = reject(&items[0]);
        assert!(r.reason.contains("300-byte limit"), "{}", r.reason);
        assert_eq!(r.raw.len(), 300);
        assert_eq!((r.position.line, r.position.item), (Some(1), Some(0)));
        let m = message(&items[1]);
        assert_eq!(m.text, "Suivant.");
    }

    #[test]
    fn one_huge_line_is_refused_too() {
        let mut data = mail("long@example.com", "", &"y".repeat(5000)).into_bytes();
        data.extend_from_slice(mail("after@example.com", "", "Après.").as_bytes());
        let (_, items) = run_with(&data, 1000);
        let r = reject(&items[0]);
        assert!(r.reason.contains("1000-byte limit"), "{}", r.reason);
        assert_eq!(r.raw.len(), 1000);
        assert_eq!(message(&items[1]).text, "Après.");
    }

    #[test]
    fn mail_without_message_id_gets_a_content_id() {
        let data = b"From a@b Mon Mar  4 10:00:00 2024\n\
From: a@example.com\n\
Subject: sans identifiant\n\
\n\
Bonjour.\n";
        let (ctx, first) = run(data);
        let (_, again) = run(data);
        let (a, b) = (message(&first[0]), message(&again[0]));
        assert!(a.external_id.starts_with("sha256:"), "{}", a.external_id);
        assert_eq!(a.external_id, b.external_id);
        assert_eq!(a.id, b.id);
        assert_eq!(a.created_at, ctx.received_at);
        let other = b"From a@b Mon Mar  4 10:00:00 2024\n\
From: a@example.com\n\
Subject: sans identifiant\n\
\n\
Bonsoir.\n";
        let (_, third) = run(other);
        assert_ne!(message(&third[0]).id, a.id);
    }

    #[test]
    fn a_lone_eml_file_is_one_e_mail() {
        let data = b"Return-Path: <a@b.example>\nFrom: Ana <a@b.example>\nSubject: Hello\nMessage-ID: <e1@b.example>\n\nBody text\nFrom time to time it breaks.\n";
        let (_, items) = run(data);
        let [Item::Message(m)] = &items[..] else {
            panic!("{items:?}")
        };
        assert_eq!(m.external_id, "e1@b.example");
        assert!(
            m.text.contains("From time to time it breaks."),
            "{}",
            m.text
        );
    }

    #[test]
    fn an_unescaped_from_inside_a_body_does_not_split() {
        let data = b"From a@b Mon Mar  4 10:00:00 2024\nSubject: s\nMessage-ID: <x@y>\n\nHello\nFrom time to time\n\nFrom c@d Mon Mar  4 11:00:00 2024\nSubject: t\nMessage-ID: <z@y>\n\nSecond\n";
        let (_, items) = run(data);
        assert_eq!(items.len(), 2, "{items:?}");
        let Item::Message(m) = &items[0] else {
            panic!()
        };
        assert_eq!(m.text, "Hello\nFrom time to time");
    }

    #[test]
    fn crlf_mailbox_and_empty_input() {
        let data = mail("c1@example.com", "", "Ligne un.\nLigne deux.").replace('\n', "\r\n");
        let (_, items) = run(data.as_bytes());
        assert_eq!(items.len(), 1);
        assert_eq!(message(&items[0]).text, "Ligne un.\nLigne deux.");
        assert!(run(b"").1.is_empty());
        assert!(run(b"\n\n").1.is_empty());
    }
}
