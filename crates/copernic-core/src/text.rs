//! Text helpers every source shares: HTML to plain text, folding for comparison, date parsing.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Plain text from an HTML fragment (mail bodies, Mastodon statuses, feed items): tags dropped,
/// block elements and `<br>` become line breaks, `<script>`/`<style>` contents removed, entities
/// decoded, runs of blank space collapsed. Never fails: malformed markup degrades to its text.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        push_decoded(&mut out, &rest[..lt]);
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else {
            // An unclosed `<` is text, as browsers render it.
            push_decoded(&mut out, &rest[lt..]);
            rest = "";
            break;
        };
        let tag = &after[..gt];
        rest = &after[gt + 1..];
        if let Some(comment) = tag.strip_prefix("!--") {
            // Comments may contain `>`: skip to the real end.
            if !comment.ends_with("--") {
                match rest.find("-->") {
                    Some(end) => rest = &rest[end + 3..],
                    None => rest = "",
                }
            }
            continue;
        }
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let closing = tag.starts_with('/');
        if !closing && (name == "script" || name == "style" || name == "head") {
            let end_tag = format!("</{name}");
            match find_ascii_ci(rest, &end_tag) {
                Some(end) => {
                    rest = &rest[end..];
                    if let Some(gt) = rest.find('>') {
                        rest = &rest[gt + 1..];
                    }
                }
                None => rest = "",
            }
            continue;
        }
        match name.as_str() {
            "br" => out.push('\n'),
            "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "blockquote"
            | "pre" | "ul" | "ol" | "table" | "section" | "article" | "hr" => {
                if !out.ends_with('\n') {
                    out.push('\n');
                }
                if name == "li" && !closing {
                    out.push_str("- ");
                }
            }
            "td" | "th" if closing => out.push(' '),
            _ => {}
        }
    }
    push_decoded(&mut out, rest);
    collapse_space(&out)
}

fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Decodes HTML character references (`&amp;`, `&#233;`, `&#xE9;` and the common named ones).
pub fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_decoded(&mut out, s);
    out
}

fn push_decoded(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        // Entities are short; a `;` further away means this `&` is plain text.
        let semi = after
            .char_indices()
            .take(12)
            .find(|&(_, c)| c == ';')
            .map(|(i, _)| i);
        let decoded = semi.and_then(|semi| decode_entity(&after[..semi]).map(|c| (c, semi)));
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

fn decode_entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code).filter(|c| *c != '\0');
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "eacute" => 'é',
        "egrave" => 'è',
        "ecirc" => 'ê',
        "agrave" => 'à',
        "acirc" => 'â',
        "ccedil" => 'ç',
        "ocirc" => 'ô',
        "ucirc" => 'û',
        "ugrave" => 'ù',
        "icirc" => 'î',
        "iuml" => 'ï',
        "euml" => 'ë',
        "Eacute" => 'É',
        "Agrave" => 'À',
        "laquo" => '«',
        "raquo" => '»',
        "hellip" => '…',
        "rsquo" => '’',
        "lsquo" => '‘',
        "ldquo" => '“',
        "rdquo" => '”',
        "ndash" => '–',
        "mdash" => '—',
        "euro" => '€',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        _ => return None,
    })
}

/// Collapses runs of spaces and tabs to one space and runs of blank lines to one line break, and
/// trims the ends: the shape of text Copernic stores.
pub fn collapse_space(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    let mut pending_newlines = 0usize;
    for c in s.chars() {
        if c == '\n' || c == '\r' {
            pending_newlines += usize::from(c == '\n');
            pending_space = false;
        } else if c.is_whitespace() {
            pending_space = true;
        } else {
            if !out.is_empty() {
                if pending_newlines > 0 {
                    out.push('\n');
                } else if pending_space {
                    out.push(' ');
                }
            }
            pending_newlines = 0;
            pending_space = false;
            out.push(c);
        }
    }
    out
}

/// Lowercase, accents removed (`Éléphant` → `elephant`): the form used to compare texts.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold_into(s, &mut out);
    out
}

/// [`fold`], appended to `out`.
pub fn fold_into(s: &str, out: &mut String) {
    // ASCII (most words): copied and lowercased in place, no per-character work.
    if s.is_ascii() {
        let start = out.len();
        out.push_str(s);
        out[start..].make_ascii_lowercase();
        return;
    }
    // Text made of Latin letters (nearly every message) folds character by character from a
    // table; anything else goes through the full decomposition. Both give the same result:
    // characters below U+0250 are all starters, so no combining mark reorders across them.
    if s.chars().all(|c| (c as u32) < LATIN_END) {
        let table = latin_folds();
        // Runs of ASCII between the accented letters are copied and lowercased whole, not
        // pushed character by character.
        let mut rest = s;
        while !rest.is_empty() {
            let ascii = rest
                .bytes()
                .position(|b| !b.is_ascii())
                .unwrap_or(rest.len());
            let start = out.len();
            out.push_str(&rest[..ascii]);
            out[start..].make_ascii_lowercase();
            rest = &rest[ascii..];
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                out.push_str(&table[c as usize]);
                rest = chars.as_str();
            }
        }
    } else {
        out.extend(
            s.nfd()
                .filter(|c| !is_combining_mark(*c))
                .flat_map(char::to_lowercase),
        );
    }
}

/// The end of Latin Extended-B: the characters [`latin_folds`] covers.
const LATIN_END: u32 = 0x250;

/// The folded form of every character below [`LATIN_END`], computed once by the decomposition.
fn latin_folds() -> &'static [Box<str>] {
    static TABLE: std::sync::OnceLock<Vec<Box<str>>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        (0..LATIN_END)
            .map(|u| {
                let c = char::from_u32(u).unwrap_or('\0');
                std::iter::once(c)
                    .nfd()
                    .filter(|c| !is_combining_mark(*c))
                    .flat_map(char::to_lowercase)
                    .collect::<String>()
                    .into_boxed_str()
            })
            .collect()
    })
}

/// What a token is: a word, or a `#hashtag` / `@mention` entity (whose text is the folded body
/// without its sign). Emoji are words of one pictograph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    Word,
    Hashtag,
    Mention,
}

/// One token of a text: its folded form and its kind. Positions are the order of the tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    pub text: std::borrow::Cow<'a, str>,
    pub kind: TokenKind,
}

/// The tokens of `text`, the one definition of a word for search, phrases and listening queries,
/// so that what is indexed, what is verified and what a query names always agree:
/// - a word is a maximal run of letters, digits and combining marks, folded (case and accents
///   removed): `L'Été 2024!` → `l`, `ete`, `2024` (an elision splits at its apostrophe);
/// - `#` or `@` not preceded by a letter, digit or `_`, followed by letters, digits or `_`, makes
///   one hashtag or mention token of that run (`@jane_doe` → mention `jane_doe`); an e-mail
///   address is words (`a@b.com` → `a`, `b`, `com`);
/// - each emoji is a token of its own; skin tones, variation selectors and joiners are dropped
///   (`👍🏽` → `👍`).
pub fn analyze(text: &str) -> Analyzer<'_> {
    Analyzer { text, at: 0 }
}

/// The search words of `text`: the folded text of every token (see [`analyze`]).
pub fn tokens(text: &str) -> impl Iterator<Item = std::borrow::Cow<'_, str>> {
    analyze(text).map(|t| t.text)
}

/// Iterator behind [`analyze`].
pub struct Analyzer<'a> {
    text: &'a str,
    at: usize,
}

/// A character that continues a word: a letter, a digit or a combining mark (the analyzer's and
/// the classifier's tokenizers agree on it).
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        // Most characters: no Unicode table.
        return c.is_ascii_alphanumeric();
    }
    is_alphanumeric(c) || is_combining_mark(c)
}

/// `char::is_alphanumeric`, without its Unicode table for the accented Latin letters of French
/// and most European text (U+00C0 to U+024F: letters, but for `×` and `÷`). The table's binary
/// search was 2 % of a bulk import, every accented letter being asked several times.
#[inline]
pub fn is_alphanumeric(c: char) -> bool {
    match c {
        'a'..='z' | 'A'..='Z' | '0'..='9' => true,
        '\u{d7}' | '\u{f7}' => false,
        '\u{c0}'..='\u{24f}' => true,
        c if c.is_ascii() => false,
        c => c.is_alphanumeric(),
    }
}

fn is_entity_char(c: char) -> bool {
    is_word_char(c) || c == '_'
}

/// Pictographs people use as words. Ranges rather than a Unicode property table: no dependency,
/// and the blocks below hold every emoji of Unicode 15 in the ranges social texts use.
pub fn is_emoji(c: char) -> bool {
    matches!(c as u32,
        0x1F300..=0x1F3FA | 0x1F400..=0x1F64F | 0x1F680..=0x1F6FF | 0x1F900..=0x1F9FF
        | 0x1FA70..=0x1FAFF | 0x1F004 | 0x1F0CF | 0x1F18E | 0x1F191..=0x1F19A
        | 0x1F1E6..=0x1F1FF | 0x2600..=0x27BF | 0x2B50 | 0x2B55 | 0x2B1B | 0x2B1C
        | 0x231A | 0x231B | 0x23E9..=0x23F3 | 0x23F8..=0x23FA | 0x2934 | 0x2935 | 0x3030
        | 0x303D | 0x3297 | 0x3299)
}

impl<'a> Iterator for Analyzer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        loop {
            let (raw, kind) = self.next_raw()?;
            let text = fold_token(raw);
            // A letter that is itself a combining mark folds away entirely: no empty tokens.
            if !text.is_empty() {
                return Some(Token { text, kind });
            }
        }
    }
}

impl<'a> Analyzer<'a> {
    /// Appends the next token's folded text to `out` and returns its kind; no allocation (the
    /// search index's terms of every imported message are written this way).
    pub fn next_into(&mut self, out: &mut String) -> Option<TokenKind> {
        loop {
            let (raw, kind) = self.next_raw()?;
            let before = out.len();
            fold_into(raw, out);
            if out.len() > before {
                return Some(kind);
            }
        }
    }

    /// The next token as written (an entity's body without its sign), before folding; a word
    /// may fold to nothing.
    fn next_raw(&mut self) -> Option<(&'a str, TokenKind)> {
        let text = self.text;
        while self.at < text.len() {
            let start = self.at;
            let rest = &text[start..];
            let b = rest.as_bytes()[0];
            // ASCII fast path: most characters of most messages.
            let (c, len) = if b < 0x80 {
                (b as char, 1)
            } else {
                let c = rest.chars().next()?;
                (c, c.len_utf8())
            };
            self.at += len;
            // A word starts with a letter or digit: combining marks (accents, variation selectors)
            // only continue one, so a stray mark is never a word of its own.
            if is_alphanumeric(c) {
                let end = start + run_end(&rest[len..], is_word_char) + len;
                self.at = end;
                return Some((&text[start..end], TokenKind::Word));
            }
            if c == '#' || c == '@' {
                let after_sign = &rest[1..];
                let body_len = run_end(after_sign, is_entity_char);
                let glued = text[..start]
                    .chars()
                    .next_back()
                    .is_some_and(is_entity_char);
                let body = &after_sign[..body_len];
                // Letters, digits and `_`, starting with one of them (not a mark), with at least
                // one letter or digit once folded.
                let starts_well = body
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_');
                if starts_well && !glued && fold_token(body).chars().any(char::is_alphanumeric) {
                    self.at = start + 1 + body_len;
                    let kind = if c == '#' {
                        TokenKind::Hashtag
                    } else {
                        TokenKind::Mention
                    };
                    return Some((body, kind));
                }
                continue;
            }
            // No ASCII character is an emoji: spaces and punctuation skip the ranges.
            if !c.is_ascii() && is_emoji(c) {
                return Some((&text[start..start + len], TokenKind::Word));
            }
        }
        None
    }
}

/// Byte length of the prefix of `s` whose characters satisfy `f`.
fn run_end(s: &str, f: impl Fn(char) -> bool) -> usize {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            if !f(b as char) {
                return i;
            }
            i += 1;
        } else {
            let c = s[i..].chars().next().unwrap_or(' ');
            if !f(c) {
                return i;
            }
            i += c.len_utf8();
        }
    }
    i
}

/// A message field's value in the form queries and the search index compare it in: folded; a
/// language is its primary subtag (`fr-CA` → `fr`); a handle loses its `@`.
pub fn field_value(field: &str, value: &str) -> String {
    // Trimmed after folding, cutting and stripping: folding drops combining marks that may hide
    // blanks at the ends (`"a \u{301}"`), so trimming first would leave a value that normalises
    // differently a second time (found by fuzzing the query parser).
    let v = fold(value);
    let v = match field {
        "lang" => v.split(['-', '_']).next().unwrap_or(""),
        "author" => v.trim().trim_start_matches('@'),
        _ => &v,
    };
    v.trim().to_string()
}

/// The search-index term of a field value: `:lang:fr`. No word token contains `:`, so these never
/// collide with words, and the leading `:` keeps them out of every word prefix's range (`lan*`
/// must not find `lang:…`).
pub fn field_term(field: &str, value: &str) -> String {
    format!(":{field}:{}", field_value(field, value))
}

/// Appends [`field_term`] to `out`, or nothing when the value normalises to nothing; returns
/// whether it appended. Values that are already in normal form (lowercase ASCII letters and
/// digits: languages, channels, labels) are copied as they are: the index writes several per
/// message, and folding each through fresh strings cost a twentieth of the store thread.
pub fn push_field_term(out: &mut String, field: &str, value: &str) -> bool {
    let normal = value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let v = if normal {
        std::borrow::Cow::Borrowed(value)
    } else {
        std::borrow::Cow::Owned(field_value(field, value))
    };
    if v.is_empty() {
        return false;
    }
    out.push(':');
    out.push_str(field);
    out.push(':');
    out.push_str(&v);
    true
}

/// The fields of a message the search index holds as `:name:value` terms, as (name, value)
/// pairs. Not the author: one term per author would add a row per author to every index segment
/// (authors are as many as messages in a firehose) for a filter rarely used alone.
pub fn indexed_fields(m: &crate::Message) -> Vec<(&'static str, &str)> {
    let mut out = Vec::with_capacity(4 + m.labels.topics.len());
    if let Some(l) = m.lang.as_deref() {
        out.push(("lang", l));
    }
    out.push(("channel", m.channel.as_str()));
    if let Some(s) = m.labels.sentiment.as_deref() {
        out.push(("sentiment", s));
    }
    if let Some(i) = m.labels.intent.as_deref() {
        out.push(("intent", i));
    }
    for t in &m.labels.topics {
        out.push(("topic", t.as_str()));
    }
    out
}

/// Whether `t` is its own fold: lowercase ASCII letters and digits, most tokens.
fn folds_to_itself(t: &str) -> bool {
    t.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// [`fold_token`] without a new string: a token that needs folding is folded into `buf`
/// (cleared first), so a tokenizer reuses one buffer for a whole text.
pub fn fold_token_into<'a>(t: &'a str, buf: &'a mut String) -> &'a str {
    if folds_to_itself(t) {
        return t;
    }
    buf.clear();
    fold_into(t, buf);
    buf
}

/// Folds one token; ASCII, most tokens, skips the Unicode tables.
pub fn fold_token(t: &str) -> std::borrow::Cow<'_, str> {
    if folds_to_itself(t) {
        std::borrow::Cow::Borrowed(t)
    } else if t.is_ascii() {
        std::borrow::Cow::Owned(t.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Owned(fold(t))
    }
}

/// Parses the date formats found in exports and APIs: RFC 3339 / ISO 8601 (with or without zone,
/// `T` or space), RFC 2822 (mail, RSS), Twitter's `Wed Oct 10 20:19:24 +0000 2018`, a bare date,
/// and Unix time in seconds or milliseconds. A time without zone is taken as UTC.
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<i64>() {
        return unix_to_datetime(n);
    }
    if let Ok(n) = s.parse::<f64>() {
        // Fractional seconds, as some exports write them.
        return unix_to_datetime((n * 1000.0) as i64);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%a %b %d %H:%M:%S %z %Y",
    ] {
        if let Ok(d) = DateTime::parse_from_str(s, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    // A weekday that contradicts the date (exporters compute it wrong) does not make the date
    // unreadable: the date wins.
    if let Some((day, rest)) = s.split_once([' ', ',']) {
        if day.len() == 3 && day.chars().all(|c| c.is_ascii_alphabetic()) {
            let rest = rest.trim_start_matches([',', ' ']);
            for fmt in ["%d %b %Y %H:%M:%S %z", "%b %d %H:%M:%S %z %Y"] {
                if let Ok(d) = DateTime::parse_from_str(rest, fmt) {
                    return Some(d.with_timezone(&Utc));
                }
            }
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%d/%m/%Y %H:%M:%S",
        "%d/%m/%Y %H:%M",
        "%m/%d/%Y %H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(Utc.from_utc_datetime(&d));
        }
    }
    for fmt in ["%Y-%m-%d", "%d/%m/%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
            return Some(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?));
        }
    }
    None
}

/// Unix time in seconds, or in milliseconds or microseconds when the number is too large to be
/// seconds (exports mix the three).
pub fn unix_to_datetime(n: i64) -> Option<DateTime<Utc>> {
    let abs = n.unsigned_abs();
    if abs < 100_000_000_000 {
        DateTime::from_timestamp(n, 0)
    } else if abs < 100_000_000_000_000 {
        DateTime::from_timestamp_millis(n)
    } else {
        DateTime::from_timestamp_micros(n)
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Decodes bytes as UTF-8, or else as Windows-1252 (the superset of Latin-1 that French exports
/// from spreadsheets use). Returns whether the fallback was needed.
pub fn decode_utf8_or_latin1(bytes: &[u8]) -> (std::borrow::Cow<'_, str>, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (std::borrow::Cow::Borrowed(s), false),
        Err(_) => (
            std::borrow::Cow::Owned(bytes.iter().map(|&b| cp1252(b)).collect()),
            true,
        ),
    }
}

fn cp1252(b: u8) -> char {
    // Windows-1252 differs from Latin-1 only in 0x80..=0x9F.
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9f => HIGH[(b - 0x80) as usize],
        _ => b as char,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_fast_path_agrees_with_unicode() {
        for c in (0..=0x2000u32).filter_map(char::from_u32) {
            assert_eq!(is_alphanumeric(c), c.is_alphanumeric(), "{c:?}");
        }
    }

    #[test]
    fn html_to_text_cases() {
        let cases = [
            (
                "<p>Hello <b>world</b></p><p>again</p>",
                "Hello world\nagain",
            ),
            ("a<br>b<br/>c", "a\nb\nc"),
            ("Caf&eacute; &amp; th&#233; &#x2764;", "Café & thé ❤"),
            ("<script>alert(1)</script>ok<style>p{}</style>", "ok"),
            ("x <!-- a > b --> y", "x y"),
            ("1 < 2 and AT&T", "1 < 2 and AT&T"),
            ("<ul><li>one</li><li>two</li></ul>", "- one\n- two"),
            ("unclosed <b", "unclosed <b"),
            ("", ""),
        ];
        for (html, want) in cases {
            assert_eq!(html_to_text(html), want, "input {html:?}");
        }
    }

    #[test]
    fn tokens_are_folded_words() {
        let t: Vec<String> = tokens("L'Été 2024! Ça va? re-do ŒUVRE naïve")
            .map(|t| t.into_owned())
            .collect();
        assert_eq!(
            t,
            ["l", "ete", "2024", "ca", "va", "re", "do", "œuvre", "naive"]
        );
    }

    fn check_analyze(text: &str, want: &[(&str, TokenKind)]) {
        let got: Vec<(String, TokenKind)> = analyze(text)
            .map(|t| (t.text.into_owned(), t.kind))
            .collect();
        let want: Vec<(String, TokenKind)> =
            want.iter().map(|(s, k)| (s.to_string(), *k)).collect();
        assert_eq!(got, want, "text {text:?}");
    }

    #[test]
    fn analyze_knows_entities_emoji_and_elisions() {
        use TokenKind::*;
        let cases: &[(&str, &[(&str, TokenKind)])] = &[
            (
                "#Été2024 @Jane_Doe",
                &[("ete2024", Hashtag), ("jane_doe", Mention)],
            ),
            (
                "mail jane@nike.com",
                &[
                    ("mail", Word),
                    ("jane", Word),
                    ("nike", Word),
                    ("com", Word),
                ],
            ),
            ("C# ok", &[("c", Word), ("ok", Word)]),
            ("# @ #_ x#y", &[("x", Word), ("y", Word)]),
            (
                "j'adore l'avion qu'il",
                &[
                    ("j", Word),
                    ("adore", Word),
                    ("l", Word),
                    ("avion", Word),
                    ("qu", Word),
                    ("il", Word),
                ],
            ),
            (
                "super😡😡 👍🏽!",
                &[("super", Word), ("😡", Word), ("😡", Word), ("👍", Word)],
            ),
            ("(#nike)", &[("nike", Hashtag)]),
            // NFD text: the combining accent stays inside the word, then folds away.
            ("cafe\u{301} noe\u{308}l", &[("cafe", Word), ("noel", Word)]),
            ("", &[]),
            // Stray marks are no tokens; a variation selector after an emoji is dropped.
            (
                "x \u{301} y je ❤\u{fe0f} Paris",
                &[
                    ("x", Word),
                    ("y", Word),
                    ("je", Word),
                    ("❤", Word),
                    ("paris", Word),
                ],
            ),
            ("#\u{fe0f}\u{20e3} #_\u{301} #_x", &[("_x", Hashtag)]),
        ];
        for (text, want) in cases {
            check_analyze(text, want);
        }
    }

    #[test]
    fn field_values_normalise_once_and_for_all() {
        for (field, raw) in [
            ("lang", "a\r\u{73c}"),
            ("lang", "a \u{301}"),
            ("lang", "fr -CA"),
            ("author", "@ x"),
            ("topic", "\u{301} \u{301}"),
            ("channel", " Twitter "),
        ] {
            let once = field_value(field, raw);
            assert_eq!(field_value(field, &once), once, "{field}:{raw:?}");
            assert_eq!(once.trim(), once);
        }
        assert_eq!(field_value("lang", "fr-CA"), "fr");
        assert_eq!(field_value("author", "@Jane"), "jane");
    }

    /// The copy-as-is path gives what normalising gives, and an empty value adds no term.
    #[test]
    fn pushed_field_terms_equal_field_term() {
        for (field, raw) in [
            ("lang", "fr"),
            ("lang", "fr-CA"),
            ("lang", "fr_ca"),
            ("channel", "twitter"),
            ("channel", " Twitter "),
            ("sentiment", "negative"),
            ("intent", "order2"),
            ("topic", "late delivery"),
            ("topic", "Livraison tardive"),
            ("author", "@jane"),
        ] {
            let mut out = String::from("x");
            assert!(push_field_term(&mut out, field, raw), "{field}:{raw:?}");
            assert_eq!(
                out,
                format!("x{}", field_term(field, raw)),
                "{field}:{raw:?}"
            );
        }
        for (field, raw) in [("lang", ""), ("topic", " \u{301} "), ("lang", "-ca")] {
            let mut out = String::new();
            assert!(!push_field_term(&mut out, field, raw), "{field}:{raw:?}");
            assert_eq!(out, "");
        }
    }

    #[test]
    fn fold_removes_case_and_accents() {
        assert_eq!(fold("Éléphant Noël ÇA"), "elephant noel ca");
    }

    /// The table path gives what the full decomposition gives, for every Latin character and
    /// for mixes with marks and other scripts.
    #[test]
    fn fold_table_agrees_with_the_decomposition() {
        let slow = |s: &str| -> String {
            s.nfd()
                .filter(|c| !is_combining_mark(*c))
                .flat_map(char::to_lowercase)
                .collect()
        };
        let mut all = String::new();
        for u in 0..LATIN_END {
            if let Some(c) = char::from_u32(u) {
                all.push(c);
                // Alone, between runs of ASCII, at both ends, twice in a row, and appended to
                // what a buffer already holds.
                for s in [
                    c.to_string(),
                    format!("AbC{c}dEf"),
                    format!("{c}XY{c}{c}z9"),
                ] {
                    let mut appended = String::from("kept ");
                    fold_into(&s, &mut appended);
                    assert_eq!(appended, format!("kept {}", slow(&s)), "U+{u:04X} in {s:?}");
                }
            }
        }
        assert_eq!(fold(&all), slow(&all));
        for s in [
            "e\u{301}te\u{301}",
            "Ǆemal İstanbul",
            "Ωμέγα ÉTÉ",
            "ǅ\u{323}\u{302}",
            "ﬁn ǈ",
            "Plain ASCII, MiXeD case 42 !? ~\t\u{7f}",
        ] {
            assert_eq!(fold(s), slow(s), "{s}");
        }
    }

    #[test]
    fn parses_dates_found_in_the_wild() {
        let want = Utc.with_ymd_and_hms(2018, 10, 10, 20, 19, 24).unwrap();
        for s in [
            "2018-10-10T20:19:24Z",
            "2018-10-10T22:19:24+02:00",
            "2018-10-10 20:19:24",
            "Wed, 10 Oct 2018 20:19:24 +0000",
            "Wed Oct 10 20:19:24 +0000 2018",
            "1539202764",
            "1539202764000",
        ] {
            assert_eq!(parse_datetime(s), Some(want), "input {s}");
        }
        assert_eq!(
            parse_datetime("2018-10-10"),
            Some(Utc.with_ymd_and_hms(2018, 10, 10, 0, 0, 0).unwrap())
        );
        assert_eq!(parse_datetime("yesterday"), None);
        // 22 Nov 2025 was a Saturday: the wrong weekday is ignored.
        let sat = Utc.with_ymd_and_hms(2025, 11, 22, 7, 10, 25).unwrap();
        assert_eq!(parse_datetime("Thu Nov 22 17:10:25 +1000 2025"), Some(sat));
        assert_eq!(parse_datetime("Thu, 22 Nov 2025 17:10:25 +1000"), Some(sat));
        assert_eq!(parse_datetime(""), None);
    }

    #[test]
    fn latin1_fallback() {
        let (s, fell_back) = decode_utf8_or_latin1(b"caf\xe9 \x80");
        assert_eq!(s, "café €");
        assert!(fell_back);
        assert!(!decode_utf8_or_latin1("café".as_bytes()).1);
        assert_eq!(truncate("éé", 3), "é");
    }
}
