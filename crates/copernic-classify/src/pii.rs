//! Personal data in customer messages (French and English): e-mail addresses, phone numbers,
//! payment cards and IBANs, found by hand-written scanners over the bytes and redacted to
//! `[email]`, `[phone]`, `[card]`, `[iban]`.
//!
//! No regex engine: this runs on every message (about 200k messages a second), so a message with
//! no `@` and fewer than [`MIN_DIGITS`] digits returns at once, and the scanners allocate nothing
//! but the output.
//!
//! Precision, so that redaction does not eat order numbers, dates and prices:
//! - a card is 13–19 digits, contiguous or grouped (4-4-4-4, Amex 4-6-5, Diners 4-6-4), with an
//!   issuer's leading digit and a valid Luhn check digit;
//! - an IBAN is a country code, two check digits and the country's number of characters
//!   (contiguous or grouped), and passes the ISO 13616 mod-97 check;
//! - a phone is international (`+33 6 12 34 56 78`, `+1 (415) 555-0100`), national with a trunk
//!   `0` (`06 12 34 56 78`, `06.12.34.56.78`, `0612345678`, `020 7946 0958`) or North American
//!   (`(415) 555-0100`, `415-555-0100`), 9 to 15 digits with one kind of separator;
//! - a number glued to a word (`CMD0612345678`, `REF-0612345678`, `0612345678abc`) or to a
//!   decimal part (`12.50`, `415-555-0100-22`) is none of them.
//!
//! Matches are byte ranges on char boundaries, sorted and non-overlapping. An e-mail address wins
//! over the numbers inside it; at one start, the longest reading wins, a card before a phone.

use serde::{Deserialize, Serialize};

/// What kind of personal data a match is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PiiKind {
    /// `local@domain.tld`.
    Email,
    /// An international, national (trunk `0`) or North American phone number.
    Phone,
    /// A Luhn-valid payment card number.
    Card,
    /// A mod-97-valid International Bank Account Number.
    Iban,
}

impl PiiKind {
    /// The serialised name: `email`, `phone`, `card`, `iban`.
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::Card => "card",
            PiiKind::Iban => "iban",
        }
    }

    /// What [`redact`] writes in place of a match: `[email]`, `[phone]`, `[card]`, `[iban]`.
    pub fn placeholder(self) -> &'static str {
        match self {
            PiiKind::Email => "[email]",
            PiiKind::Phone => "[phone]",
            PiiKind::Card => "[card]",
            PiiKind::Iban => "[iban]",
        }
    }
}

/// One piece of personal data: `text[start..end]`, byte offsets on char boundaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PiiMatch {
    pub kind: PiiKind,
    pub start: usize,
    pub end: usize,
}

/// Below this many ASCII digits a text holds no phone, card or IBAN: the shortest phone has 9
/// digits, a card 13, and an IBAN has 2 check digits plus a numeric account number (every
/// country's account part carries well over 7 digits).
pub const MIN_DIGITS: usize = 9;

/// The personal data in `text`, sorted by position and non-overlapping.
pub fn detect(text: &str) -> Vec<PiiMatch> {
    let mut out = Vec::new();
    detect_into(text, &mut out);
    out
}

/// [`detect`] into a reused buffer: `out` is cleared, then filled.
pub fn detect_into(text: &str, out: &mut Vec<PiiMatch>) {
    out.clear();
    let bytes = text.as_bytes();
    // Fast path: most messages hold no personal data; without an '@' and with fewer than
    // MIN_DIGITS digits none of the four kinds can be there, so return before any scanning.
    // Both passes are simple loops over bytes that the compiler vectorises.
    let has_at = bytes.contains(&b'@');
    let numbers = bytes.iter().filter(|b| b.is_ascii_digit()).count() >= MIN_DIGITS;
    if has_at {
        scan_emails(text, out);
    }
    if numbers {
        let emails = out.len();
        scan_numbers(text, emails, out);
        if emails > 0 && out.len() > emails {
            // Both lists are sorted and disjoint; one in-place sort merges them.
            out.sort_unstable_by_key(|m| m.start);
        }
    }
}

/// `text` with each match replaced by its kind's placeholder (`[email]`, `[phone]`, `[card]`,
/// `[iban]`). Matches are expected sorted and non-overlapping, as [`detect`] gives them; one that
/// is out of order, overlaps the previous one, is out of bounds or is not on char boundaries is
/// skipped rather than trusted.
pub fn redact(text: &str, matches: &[PiiMatch]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for m in matches {
        if m.start < copied
            || m.end < m.start
            || !text.is_char_boundary(m.start)
            || !text.is_char_boundary(m.end)
        {
            continue;
        }
        out.push_str(&text[copied..m.start]);
        out.push_str(m.kind.placeholder());
        copied = m.end;
    }
    out.push_str(&text[copied..]);
    out
}

// ---------------------------------------------------------------------------------------------
// E-mail addresses

/// Finds `local@domain.tld` around each '@', left to right. Linear: a local part never crosses
/// an '@', so each byte is walked at most once leftwards and once rightwards.
fn scan_emails(text: &str, out: &mut Vec<PiiMatch>) {
    let bytes = text.as_bytes();
    // An address never starts inside the previous one.
    let mut floor = 0;
    let mut from = 0;
    while let Some(offset) = bytes[from..].iter().position(|&b| b == b'@') {
        let at = from + offset;
        match email_around(text, floor, at) {
            Some((start, end)) => {
                out.push(PiiMatch {
                    kind: PiiKind::Email,
                    start,
                    end,
                });
                floor = end;
                from = end;
            }
            None => from = at + 1,
        }
    }
}

fn is_local_char(c: char) -> bool {
    is_letter_or_digit(c) || matches!(c, '.' | '_' | '%' | '+' | '-')
}

/// Letters and digits of any script, and the combining accents of decomposed (NFD) text:
/// "andre\u{301}@exemple.fr" is one address.
fn is_letter_or_digit(c: char) -> bool {
    c.is_alphanumeric() || ('\u{300}'..='\u{36f}').contains(&c)
}

/// The address whose '@' is at byte `at`, not starting before `floor`.
fn email_around(text: &str, floor: usize, at: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut start = at;
    for (i, c) in text[floor..at].char_indices().rev() {
        if !is_local_char(c) {
            break;
        }
        start = floor + i;
    }
    // A local part does not start with a dot: "...jean@" is "jean@".
    while start < at && bytes[start] == b'.' {
        start += 1;
    }
    if start == at {
        return None;
    }

    // Domain: labels of letters, digits and inner hyphens (internationalised names included),
    // joined by single dots; it ends after the last label that can be a top-level domain
    // (2+ letters), so "jean@exemple.fr." stops before the full stop.
    let mut end = None;
    let mut pos = at + 1;
    let mut labels = 0;
    loop {
        let label_start = pos;
        let mut alphabetic = true;
        let mut chars = 0;
        for c in text[pos..].chars() {
            if !(is_letter_or_digit(c) || c == '-') {
                break;
            }
            alphabetic &= !c.is_numeric() && c != '-';
            chars += 1;
            pos += c.len_utf8();
        }
        let label = &text[label_start..pos];
        if label.is_empty() || label.starts_with('-') || label.ends_with('-') {
            break;
        }
        if labels > 0 && alphabetic && chars >= 2 {
            end = Some(pos);
        }
        labels += 1;
        match text[pos..].strip_prefix('.').and_then(|r| r.chars().next()) {
            Some(c) if is_letter_or_digit(c) => pos += 1,
            _ => break,
        }
    }
    end.map(|end| (start, end))
}

// ---------------------------------------------------------------------------------------------
// Numbers: phones, cards, IBANs

/// The longest card number; no phone (15) or accepted grouping reads more digits.
const MAX_DIGITS: usize = 19;
/// "+33 (0)6 12 34 56 78" has 7 groups, the most of any accepted shape.
const MAX_GROUPS: usize = 8;
/// The longest IBAN (ISO 13616).
const IBAN_MAX: usize = 34;
/// The shortest IBAN in use (Norway), the floor for countries not in [`iban_length`].
const IBAN_MIN: usize = 15;

/// Scans for phones, cards and IBANs outside the first `emails` matches of `out` (the e-mail
/// addresses, sorted), appending what it finds in order.
fn scan_numbers(text: &str, emails: usize, out: &mut Vec<PiiMatch>) {
    let bytes = text.as_bytes();
    let mut next_email = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Nothing is read inside or across an address.
        let limit = if next_email < emails {
            out[next_email].start
        } else {
            bytes.len()
        };
        if i >= limit {
            i = out[next_email].end;
            next_email += 1;
            continue;
        }
        let b = bytes[i];
        if b.is_ascii_digit() || b == b'+' || b == b'(' {
            if number_starts_at(text, i) {
                if let Some(m) = scan_number(text, i, limit) {
                    out.push(m);
                    i = m.end;
                    continue;
                }
            }
            i += 1;
            // The rest of a digit run is never a start (glued to the digits before it).
            if b.is_ascii_digit() {
                while i < limit && bytes[i].is_ascii_digit() {
                    i += 1;
                }
            }
        } else if b.is_ascii_alphabetic() {
            if looks_like_iban_start(&bytes[i..limit]) && word_starts_at(text, i) {
                if let Some(end) = scan_iban(text, i, limit) {
                    out.push(PiiMatch {
                        kind: PiiKind::Iban,
                        start: i,
                        end,
                    });
                    i = end;
                    continue;
                }
            }
            // Nothing starts inside a word.
            i += 1;
            while i < limit && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether a word may start at byte `i` (an ASCII byte): the char before is not part of a word.
fn word_starts_at(text: &str, i: usize) -> bool {
    !text[..i].chars().next_back().is_some_and(is_word_char)
}

/// Whether a word may end at byte `end` (just after an ASCII byte).
fn word_ends_at(text: &str, end: usize) -> bool {
    !text[end..].chars().next().is_some_and(is_word_char)
}

/// Whether a number may start at byte `i`: not glued to a word ("CMD0612345678"), to a word by a
/// hyphen ("REF-0612345678") or to digits by a decimal point or comma ("1.0612345678").
fn number_starts_at(text: &str, i: usize) -> bool {
    let mut before = text[..i].chars().rev();
    match before.next() {
        None => true,
        Some(c) if is_word_char(c) => false,
        Some('-') => !before.next().is_some_and(is_word_char),
        Some('.' | ',') => !before.next().is_some_and(|c| c.is_ascii_digit()),
        Some(_) => true,
    }
}

/// Whether a number may end at byte `end`: not glued to a word ("0612345678abc") nor followed by
/// more digits after a point, comma or hyphen ("12.50", "415-555-0100-22"). More digits after a
/// space are another number.
fn number_ends_at(text: &str, end: usize) -> bool {
    match &text.as_bytes()[end..] {
        [] => true,
        [b'.' | b',' | b'-', d, ..] if d.is_ascii_digit() => false,
        [b, ..] if b.is_ascii() => !(b.is_ascii_alphanumeric() || *b == b'_'),
        _ => word_ends_at(text, end),
    }
}

/// What joins a group of digits to the one before it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Sep {
    /// The first group.
    #[default]
    Start,
    /// A space, a no-break space (U+00A0) or a narrow no-break space (U+202F, French typography).
    Space,
    Dot,
    Dash,
    /// Nothing, next to a parenthesised group: "(0)6", "33(0)6", "(415)555".
    Joined,
}

/// The separator at byte `pos` and its width in bytes.
fn separator(bytes: &[u8], pos: usize) -> Option<(Sep, usize)> {
    match bytes.get(pos..)? {
        [b' ', ..] => Some((Sep::Space, 1)),
        [b'.', ..] => Some((Sep::Dot, 1)),
        [b'-', ..] => Some((Sep::Dash, 1)),
        [0xC2, 0xA0, ..] => Some((Sep::Space, 2)),
        [0xE2, 0x80, 0xAF, ..] => Some((Sep::Space, 3)),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Group {
    /// Byte offset just past the group (past its ')' when parenthesised).
    end: usize,
    /// Number of digits.
    len: u8,
    paren: bool,
    /// What joins it to the group before.
    sep: Sep,
}

/// The phone or card starting at byte `start` (a digit, '+' or '('), reading no further than
/// `limit`. The groups are read greedily, then the longest prefix of whole groups that ends
/// cleanly and has a valid shape wins.
fn scan_number(text: &str, start: usize, limit: usize) -> Option<PiiMatch> {
    let bytes = &text.as_bytes()[..limit];
    let plus = bytes[start] == b'+';
    let mut groups = [Group::default(); MAX_GROUPS];
    let mut n_groups = 0;
    let mut digits = [0u8; MAX_DIGITS];
    let mut n_digits = 0;
    let mut pos = start + usize::from(plus);
    let mut sep = Sep::Start;
    while n_groups < MAX_GROUPS {
        let paren = bytes.get(pos) == Some(&b'(');
        let first = pos + usize::from(paren);
        let mut end = first;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
        let len = end - first;
        if len == 0 || n_digits + len > MAX_DIGITS {
            break;
        }
        if paren {
            // An area code or trunk prefix: "(415)", "(0)".
            if len > 4 || bytes.get(end) != Some(&b')') {
                break;
            }
            end += 1;
        }
        for &d in &bytes[first..first + len] {
            digits[n_digits] = d - b'0';
            n_digits += 1;
        }
        groups[n_groups] = Group {
            end,
            len: len as u8,
            paren,
            sep,
        };
        n_groups += 1;
        pos = end;
        match bytes.get(pos) {
            Some(b'(') => sep = Sep::Joined,
            Some(b) if paren && b.is_ascii_digit() => sep = Sep::Joined,
            _ => match separator(bytes, pos) {
                Some((s, width))
                    if bytes
                        .get(pos + width)
                        .is_some_and(|&b| b.is_ascii_digit() || b == b'(') =>
                {
                    sep = s;
                    pos += width;
                }
                _ => break,
            },
        }
    }

    let mut n = n_digits;
    for k in (1..=n_groups).rev() {
        let end = groups[k - 1].end;
        if number_ends_at(text, end) {
            if let Some(kind) = classify_number(plus, &groups[..k], &digits[..n]) {
                return Some(PiiMatch { kind, start, end });
            }
        }
        n -= usize::from(groups[k - 1].len);
    }
    None
}

fn classify_number(plus: bool, groups: &[Group], digits: &[u8]) -> Option<PiiKind> {
    // Cards first: a Luhn-valid card number is a card even where a phone shape would also fit.
    if !plus && is_card(groups, digits) {
        Some(PiiKind::Card)
    } else if is_phone(plus, groups, digits) {
        Some(PiiKind::Phone)
    } else {
        None
    }
}

/// The one separator between all the groups (`Start` for a single group), or `None` if mixed.
fn uniform_sep(groups: &[Group]) -> Option<Sep> {
    let sep = groups.get(1).map_or(Sep::Start, |g| g.sep);
    groups[1..].iter().all(|g| g.sep == sep).then_some(sep)
}

fn is_card(groups: &[Group], digits: &[u8]) -> bool {
    if !(13..=19).contains(&digits.len()) || groups.iter().any(|g| g.paren) {
        return false;
    }
    // Issuer prefix by length: 13 Visa; 14 Diners (30, 36, 38, 39); 15 Amex (34, 37); 16-19
    // Mastercard (2, 5), JCB and Diners (3), Visa (4), Discover, UnionPay and Maestro (6).
    // 0, 1, 7, 8 and 9 lead order, tracking and account numbers and millisecond timestamps,
    // not customers' payment cards; French EAN-13 barcodes (30-37) have 13 digits.
    let issuer = matches!(
        (digits.len(), digits[0], digits[1]),
        (13, 4, _) | (14, 3, 0 | 6 | 8 | 9) | (15, 3, 4 | 7) | (16..=19, 2..=6, _)
    );
    if !issuer {
        return false;
    }
    if !matches!(
        uniform_sep(groups),
        Some(Sep::Start | Sep::Space | Sep::Dash)
    ) {
        return false;
    }
    let last = groups.len() - 1;
    let shape = match groups.len() {
        1 => true,
        // Amex 4-6-5, Diners 4-6-4.
        3 => groups[0].len == 4 && groups[1].len == 6 && matches!(groups[2].len, 4 | 5),
        // 4-4-4-4, with a short last group for 13-15 and 17-19 digits.
        4 | 5 => groups[..last].iter().all(|g| g.len == 4) && groups[last].len <= 4,
        _ => false,
    };
    shape && luhn(digits)
}

/// The Luhn (mod 10) check over decimal digits, the last one being the check digit.
fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

fn is_phone(plus: bool, groups: &[Group], digits: &[u8]) -> bool {
    let n = digits.len();
    let lens = |want: &[u8]| {
        groups.len() == want.len() && groups.iter().zip(want).all(|(g, &w)| g.len == w)
    };
    if plus {
        // E.164: at most 15 digits, a country code never starts with 0; a parenthesised group
        // only right after the country code: "+1 (415) ...", "+33 (0)6 ...".
        return (9..=15).contains(&n)
            && digits[0] != 0
            && groups.iter().enumerate().all(|(i, g)| !g.paren || i == 1);
    }
    if groups[0].paren {
        // (415) 555-0100, (415)555-0100
        return lens(&[3, 3, 4])
            && !groups[1].paren
            && !groups[2].paren
            && matches!(groups[1].sep, Sep::Space | Sep::Joined)
            && matches!(groups[2].sep, Sep::Dash | Sep::Dot | Sep::Space)
            && nanp(digits);
    }
    if groups.iter().any(|g| g.paren) {
        return false;
    }
    let Some(sep) = uniform_sep(groups) else {
        return false;
    };
    if sep == Sep::Joined {
        return false;
    }
    if digits.len() < 9 {
        return false;
    }
    if digits[0] == 0 {
        // National with a trunk 0: FR 06 12 34 56 78 / 06.12.34.56.78 / 0612345678 / 0 800 123 456,
        // UK 020 7946 0958 / 07700 900123, BE 02 123 45 67 / 0470 12 34 56, NL 06 12345678.
        // "00" is the international prefix or a zero-padded identifier.
        if digits[1] == 0 {
            return false;
        }
        if groups.len() == 1 {
            return (10..=11).contains(&n);
        }
        let first = usize::from(groups[0].len);
        // dd mm yyyy followed by more digits.
        let date = groups.len() >= 3 && first == 2 && groups[1].len == 2 && groups[2].len == 4;
        return (9..=11).contains(&n)
            && groups.len() <= 6
            && first <= 5
            && groups[1..].iter().all(|g| g.len >= 2)
            && !date;
    }
    // North American: 415-555-0100, 415.555.0100, 415 555 0100, 1-800-555-0199; contiguous ten
    // digits are left out, as ambiguous with order numbers.
    if sep == Sep::Start {
        return false;
    }
    (lens(&[3, 3, 4]) && nanp(digits))
        || (lens(&[1, 3, 3, 4]) && digits[0] == 1 && nanp(&digits[1..]))
}

/// North American numbering plan: area code and exchange start with 2-9.
fn nanp(digits: &[u8]) -> bool {
    digits[0] >= 2 && digits[3] >= 2
}

/// Two letters and two digits: a country code and IBAN check digits.
fn looks_like_iban_start(bytes: &[u8]) -> bool {
    matches!(bytes, [a, b, c, d, ..]
        if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() && c.is_ascii_digit() && d.is_ascii_digit())
}

/// The end of the IBAN starting at byte `start` (which [`looks_like_iban_start`]), reading no
/// further than `limit`. Spaces (or hyphens) may group it; a known country's length says where it
/// ends, otherwise only groups of four are followed.
fn scan_iban(text: &str, start: usize, limit: usize) -> Option<usize> {
    let bytes = &text.as_bytes()[..limit];
    let country = [
        bytes[start].to_ascii_uppercase(),
        bytes[start + 1].to_ascii_uppercase(),
    ];
    let known = iban_length(country);
    // An unknown country is only trusted in the printed upper-case form.
    if known.is_none()
        && !(bytes[start].is_ascii_uppercase() && bytes[start + 1].is_ascii_uppercase())
    {
        return None;
    }
    let (min, max) = known.map_or((IBAN_MIN, IBAN_MAX), |len| (len, len));
    let mut chars = [0u8; IBAN_MAX];
    let mut n = 0;
    // (byte end, characters) after each chunk: the candidate ends. Each chunk adds at least one
    // character, so there are at most IBAN_MAX of them.
    let mut ends = [(0usize, 0usize); IBAN_MAX];
    let mut n_ends = 0;
    let mut pos = start;
    loop {
        let chunk = n;
        while n < max && pos < bytes.len() && bytes[pos].is_ascii_alphanumeric() {
            chars[n] = bytes[pos].to_ascii_uppercase();
            n += 1;
            pos += 1;
        }
        ends[n_ends] = (pos, n);
        n_ends += 1;
        if n == max {
            break;
        }
        match separator(bytes, pos) {
            Some((Sep::Space | Sep::Dash, width))
                if bytes
                    .get(pos + width)
                    .is_some_and(u8::is_ascii_alphanumeric)
                    && (known.is_some() || n - chunk == 4) =>
            {
                pos += width
            }
            _ => break,
        }
    }
    ends[..n_ends]
        .iter()
        .rev()
        .find(|&&(end, count)| {
            count >= min && word_ends_at(text, end) && iban_checksum(&chars[..count])
        })
        .map(|&(end, _)| end)
}

/// ISO 13616: the first four characters moved to the end, letters read as 10..35, the whole
/// number mod 97 is 1. `iban` is upper-case ASCII alphanumerics.
fn iban_checksum(iban: &[u8]) -> bool {
    let (head, tail) = iban.split_at(4);
    let mut rem = 0u32;
    for &c in tail.iter().chain(head) {
        rem = if c.is_ascii_digit() {
            (rem * 10 + u32::from(c - b'0')) % 97
        } else {
            (rem * 100 + u32::from(c - b'A') + 10) % 97
        };
    }
    rem == 1
}

/// IBAN length by country (SWIFT IBAN registry).
fn iban_length(country: [u8; 2]) -> Option<usize> {
    Some(match &country {
        b"AD" => 24,
        b"AE" => 23,
        b"AL" => 28,
        b"AT" => 20,
        b"AZ" => 28,
        b"BA" => 20,
        b"BE" => 16,
        b"BG" => 22,
        b"BH" => 22,
        b"BR" => 29,
        b"BY" => 28,
        b"CH" => 21,
        b"CR" => 22,
        b"CY" => 28,
        b"CZ" => 24,
        b"DE" => 22,
        b"DK" => 18,
        b"DO" => 28,
        b"EE" => 20,
        b"EG" => 29,
        b"ES" => 24,
        b"FI" => 18,
        b"FO" => 18,
        b"FR" => 27,
        b"GB" => 22,
        b"GE" => 22,
        b"GI" => 23,
        b"GL" => 18,
        b"GR" => 27,
        b"GT" => 28,
        b"HR" => 21,
        b"HU" => 28,
        b"IE" => 22,
        b"IL" => 23,
        b"IQ" => 23,
        b"IS" => 26,
        b"IT" => 27,
        b"JO" => 30,
        b"KW" => 30,
        b"KZ" => 20,
        b"LB" => 28,
        b"LC" => 32,
        b"LI" => 21,
        b"LT" => 20,
        b"LU" => 20,
        b"LV" => 21,
        b"MC" => 27,
        b"MD" => 24,
        b"ME" => 22,
        b"MK" => 19,
        b"MR" => 27,
        b"MT" => 31,
        b"MU" => 30,
        b"NL" => 18,
        b"NO" => 15,
        b"PK" => 24,
        b"PL" => 28,
        b"PS" => 29,
        b"PT" => 25,
        b"QA" => 29,
        b"RO" => 24,
        b"RS" => 22,
        b"SA" => 24,
        b"SC" => 31,
        b"SE" => 24,
        b"SI" => 19,
        b"SK" => 24,
        b"SM" => 27,
        b"ST" => 25,
        b"SV" => 28,
        b"TL" => 23,
        b"TN" => 24,
        b"TR" => 26,
        b"UA" => 29,
        b"VA" => 22,
        b"VG" => 24,
        b"XK" => 20,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each input against its expected redaction; all failures are reported together.
    fn check(cases: &[(&str, &str)]) {
        let mut failures = Vec::new();
        for &(input, want) in cases {
            let got = redact(input, &detect(input));
            if got != want {
                failures.push(format!(
                    "  input: {input:?}\n   want: {want:?}\n    got: {got:?}\n matches: {:?}",
                    detect(input)
                ));
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn pii_email() {
        check(&[
            (
                "écrivez-moi à jean.dupont@exemple.fr merci",
                "écrivez-moi à [email] merci",
            ),
            (
                "Contact: john.smith+orders@mail.example.co.uk.",
                "Contact: [email].",
            ),
            (
                "mon mail : Marie_Curie%x@sub-domain.example.com, merci",
                "mon mail : [email], merci",
            ),
            ("(support@copernic.io)", "([email])"),
            ("<jean.dupont@exemple.fr>", "<[email]>"),
            ("andré.gide@laposte.net", "[email]"),
            ("email me at a@b.co", "email me at [email]"),
            ("jean@café.fr", "[email]"),
            ("andre\u{301}.gide@cafe\u{301}.fr", "[email]"),
            ("JEAN.DUPONT@EXEMPLE.FR", "[email]"),
            ("...jean@exemple.fr", "...[email]"),
            (
                "mail:jean@exemple.fr;paul@example.org",
                "mail:[email];[email]",
            ),
            ("jean@exemple.fr.", "[email]."),
            // The address wins over the numbers in it.
            ("0612345678@sms.example.com", "[email]"),
            ("4111111111111111@example.com", "[email]"),
            // Not addresses.
            ("@jean_dupont sur Twitter", "@jean_dupont sur Twitter"),
            ("rendez-vous @ 14h", "rendez-vous @ 14h"),
            ("jean@localhost", "jean@localhost"),
            ("user@example.c", "user@example.c"),
            ("x@123.456", "x@123.456"),
            ("prix: 10@20 unités", "prix: 10@20 unités"),
            ("foo@bar. et foo@.com", "foo@bar. et foo@.com"),
            ("jean@@exemple.fr", "jean@@exemple.fr"),
            ("a@-bad-.com", "a@-bad-.com"),
            ("@", "@"),
        ]);
    }

    #[test]
    fn pii_phone() {
        check(&[
            (
                "Appelez-moi au 06 12 34 56 78 svp",
                "Appelez-moi au [phone] svp",
            ),
            ("tél : 06.12.34.56.78", "tél : [phone]"),
            ("mon numéro 0612345678.", "mon numéro [phone]."),
            ("06-12-34-56-78", "[phone]"),
            ("06\u{a0}12\u{a0}34\u{a0}56\u{a0}78", "[phone]"),
            ("06\u{202f}12\u{202f}34\u{202f}56\u{202f}78", "[phone]"),
            ("+33 6 12 34 56 78", "[phone]"),
            ("+33612345678", "[phone]"),
            ("+33 (0)6 12 34 56 78", "[phone]"),
            ("+33(0)1 23 45 67 89", "[phone]"),
            ("+33 1 23 45 67 89", "[phone]"),
            ("numéro vert 0 800 123 456", "numéro vert [phone]"),
            ("(06 12 34 56 78)", "([phone])"),
            ("06 12 34 56 78 / 01 23 45 67 89", "[phone] / [phone]"),
            ("tel:+33612345678", "tel:[phone]"),
            ("le 24 06 12 34 56 78", "le 24 [phone]"),
            (
                "appelez le 06 12 34 56 78 2 fois",
                "appelez le [phone] 2 fois",
            ),
            ("Call +1 (415) 555-0100 today", "Call [phone] today"),
            ("call me at (415) 555-0100", "call me at [phone]"),
            ("(415)555-0100", "[phone]"),
            ("415-555-0100", "[phone]"),
            ("415.555.0100", "[phone]"),
            ("call 415 555 0100 now", "call [phone] now"),
            ("1-800-555-0199", "[phone]"),
            ("+44 20 7946 0958", "[phone]"),
            ("London 020 7946 0958", "London [phone]"),
            ("mobile 07700 900123", "mobile [phone]"),
            ("Bruxelles 02 123 45 67", "Bruxelles [phone]"),
            ("GSM 0470 12 34 56", "GSM [phone]"),
        ]);
    }

    #[test]
    fn pii_not_a_phone() {
        check(&[
            // Dates and times.
            (
                "livraison le 2024-11-24 à 10:30",
                "livraison le 2024-11-24 à 10:30",
            ),
            ("le 24/11/2024 à 14h30", "le 24/11/2024 à 14h30"),
            ("le 01.02.2024", "le 01.02.2024"),
            (
                "delivered 11-24-2024 12:30:45",
                "delivered 11-24-2024 12:30:45",
            ),
            ("du 01-02-2024 au 03-02-2024", "du 01-02-2024 au 03-02-2024"),
            // Prices and quantities.
            ("total 12.50 € TTC", "total 12.50 € TTC"),
            ("prix : 1 234 567,89 €", "prix : 1 234 567,89 €"),
            ("$1,234,567.89", "$1,234,567.89"),
            ("+12.50", "+12.50"),
            ("0612345678,50 €", "0612345678,50 €"),
            // Order numbers glued to words or punctuation.
            (
                "commande CMD0612345678 expédiée",
                "commande CMD0612345678 expédiée",
            ),
            ("ref 0612345678ABC", "ref 0612345678ABC"),
            ("REF-0612345678", "REF-0612345678"),
            ("dossier_0612345678", "dossier_0612345678"),
            ("v1.0612345678", "v1.0612345678"),
            ("415-555-0100-22", "415-555-0100-22"),
            // Plain numbers.
            ("n° de suivi 123456789", "n° de suivi 123456789"),
            ("SIREN 123 456 789", "SIREN 123 456 789"),
            ("commande 0012345678", "commande 0012345678"),
            ("order 4155550100", "order 4155550100"),
            ("06 12 34", "06 12 34"),
            ("6 12 34 56 78", "6 12 34 56 78"),
            ("ISBN 0-306-40615-2", "ISBN 0-306-40615-2"),
            ("06 12.34.56.78", "06 12.34.56.78"),
            ("+ 33", "+ 33"),
            ("155-555-0100", "155-555-0100"),
            ("415-055-0100", "415-055-0100"),
            ("1234567890123456789012", "1234567890123456789012"),
        ]);
    }

    #[test]
    fn pii_card() {
        check(&[
            ("Visa 4111 1111 1111 1111", "Visa [card]"),
            ("4111111111111111", "[card]"),
            ("4111-1111-1111-1111", "[card]"),
            ("Amex 3782 822463 10005", "Amex [card]"),
            ("378282246310005", "[card]"),
            (
                "Mastercard 5555 5555 5555 4444 exp 12/26",
                "Mastercard [card] exp 12/26",
            ),
            ("5105105105105100", "[card]"),
            ("Discover 6011 1111 1111 1117", "Discover [card]"),
            ("JCB 3530111333300000", "JCB [card]"),
            ("Diners 3056 930902 5904", "Diners [card]"),
            ("Visa 13 chiffres 4222222222222", "Visa 13 chiffres [card]"),
            (
                "ma carte : 4111 1111 1111 1111, merci",
                "ma carte : [card], merci",
            ),
            ("carte n°4111111111111111.", "carte n°[card]."),
            // Card and phone side by side.
            ("06 12 34 56 78 4111 1111 1111 1111", "[phone] [card]"),
            // Near misses: one digit off the Luhn check, bad groupings, no issuer.
            ("4111 1111 1111 1112", "4111 1111 1111 1112"),
            ("4111111111111112", "4111111111111112"),
            ("3782 822463 10006", "3782 822463 10006"),
            ("5555 5555 5555 4445", "5555 5555 5555 4445"),
            ("0000 0000 0000 0000", "0000 0000 0000 0000"),
            ("9111111111111111", "9111111111111111"),
            // Millisecond timestamp and EAN-13 barcode, both Luhn-valid.
            ("ts=1700000000004", "ts=1700000000004"),
            ("EAN 3760123456788", "EAN 3760123456788"),
            ("41111 11111 11111 1", "41111 11111 11111 1"),
            ("4111 1111-1111 1111", "4111 1111-1111 1111"),
            ("4111.1111.1111.1111", "4111.1111.1111.1111"),
            ("commande 4111111111111111X", "commande 4111111111111111X"),
            ("41111111111111111111", "41111111111111111111"),
        ]);
    }

    #[test]
    fn pii_iban() {
        check(&[
            ("GB82 WEST 1234 5698 7654 32", "[iban]"),
            ("GB82WEST12345698765432", "[iban]"),
            ("FR76 3000 6000 0112 3456 7890 189", "[iban]"),
            ("FR7630006000011234567890189", "[iban]"),
            (
                "mon IBAN est FR76 3000 6000 0112 3456 7890 189 merci",
                "mon IBAN est [iban] merci",
            ),
            ("IBAN:FR76 3000 6000 0112 3456 7890 189.", "IBAN:[iban]."),
            ("fr76 3000 6000 0112 3456 7890 189", "[iban]"),
            ("FR76 30006 00001 12345678901 89", "[iban]"),
            ("FR76-3000-6000-0112-3456-7890-189", "[iban]"),
            ("DE89 3704 0044 0532 0130 00", "[iban]"),
            ("ES91 2100 0418 4502 0005 1332", "[iban]"),
            ("IT60 X054 2811 1010 0000 0123 456", "[iban]"),
            ("NL91 ABNA 0417 1643 00", "[iban]"),
            ("BE68 5390 0754 7034", "[iban]"),
            ("PT50 0002 0123 1234 5678 9015 4", "[iban]"),
            ("CH93 0076 2011 6238 5295 7", "[iban]"),
            ("LU28 0019 4006 4475 0000", "[iban]"),
            ("IE29 AIBK 9311 5212 3456 78", "[iban]"),
            ("AT61 1904 3002 3457 3201", "[iban]"),
            (
                "the account is GB82 WEST 1234 5698 7654 32, thanks",
                "the account is [iban], thanks",
            ),
            // Near misses: a wrong check digit, one character short or long, glued to a word.
            ("GB83 WEST 1234 5698 7654 32", "GB83 WEST 1234 5698 7654 32"),
            (
                "FR77 3000 6000 0112 3456 7890 189",
                "FR77 3000 6000 0112 3456 7890 189",
            ),
            (
                "FR76 3000 6000 0112 3456 7890 188",
                "FR76 3000 6000 0112 3456 7890 188",
            ),
            ("FR7630006000011234567890", "FR7630006000011234567890"),
            (
                "FR76300060000112345678901890",
                "FR76300060000112345678901890",
            ),
            ("DE89370400440532013000X", "DE89370400440532013000X"),
            (
                "XFR7630006000011234567890189",
                "XFR7630006000011234567890189",
            ),
            ("Modèle AB12 3456 7890 1234", "Modèle AB12 3456 7890 1234"),
        ]);
    }

    #[test]
    fn pii_redact_message_with_everything() {
        let text = "Bonjour, je suis jean.dupont@exemple.fr, tél 06 12 34 56 78, carte 4111 1111 \
                    1111 1111, IBAN FR76 3000 6000 0112 3456 7890 189. Commande 2024-11-24 de \
                    12.50 € (réf. CMD0612345678).";
        assert_eq!(
            redact(text, &detect(text)),
            "Bonjour, je suis [email], tél [phone], carte [card], IBAN [iban]. Commande \
             2024-11-24 de 12.50 € (réf. CMD0612345678)."
        );
        let en =
            "Hi, call me on +1 (415) 555-0100 or mail john@example.com; Amex 3782 822463 10005";
        assert_eq!(
            redact(en, &detect(en)),
            "Hi, call me on [phone] or mail [email]; Amex [card]"
        );
    }

    #[test]
    fn pii_offsets_are_bytes_on_char_boundaries() {
        let text = "tél 06 12 34 56 78 — écrire à é@exemple.fr";
        let found = detect(text);
        assert_eq!(
            found,
            vec![
                PiiMatch {
                    kind: PiiKind::Phone,
                    start: 5,
                    end: 19
                },
                PiiMatch {
                    kind: PiiKind::Email,
                    start: 35,
                    end: 48
                },
            ]
        );
        assert_eq!(&text[5..19], "06 12 34 56 78");
        assert_eq!(&text[35..48], "é@exemple.fr");
    }

    #[test]
    fn pii_redact_skips_bad_matches() {
        let text = "é 06 12 34 56 78";
        let bad = [
            PiiMatch {
                kind: PiiKind::Email,
                start: 1,
                end: 2,
            }, // inside 'é'
            PiiMatch {
                kind: PiiKind::Phone,
                start: 3,
                end: 17,
            }, // fine
            PiiMatch {
                kind: PiiKind::Card,
                start: 4,
                end: 9,
            }, // overlaps
            PiiMatch {
                kind: PiiKind::Iban,
                start: 10,
                end: 5,
            }, // reversed
            PiiMatch {
                kind: PiiKind::Iban,
                start: 17,
                end: 99,
            }, // out of bounds
        ];
        assert_eq!(redact(text, &bad), "é [phone]");
        assert_eq!(redact(text, &[]), text);
    }

    #[test]
    fn pii_detect_into_clears_and_reuses_the_buffer() {
        let mut buf = vec![
            PiiMatch {
                kind: PiiKind::Card,
                start: 0,
                end: 1
            };
            3
        ];
        detect_into("rien à signaler", &mut buf);
        assert!(buf.is_empty());
        detect_into("06 12 34 56 78", &mut buf);
        assert_eq!(buf, detect("06 12 34 56 78"));
        // Fast path: no '@' and 8 digits.
        assert!(detect("le 24/11/2024 à 14h").is_empty());
    }

    #[test]
    fn pii_kinds_serialise_lowercase() {
        for (kind, name) in [
            (PiiKind::Email, "email"),
            (PiiKind::Phone, "phone"),
            (PiiKind::Card, "card"),
            (PiiKind::Iban, "iban"),
        ] {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
            assert_eq!(kind.as_str(), name);
            assert_eq!(kind.placeholder(), format!("[{name}]"));
            assert_eq!(
                serde_json::from_str::<PiiKind>(&format!("\"{name}\"")).unwrap(),
                kind
            );
        }
        let m = PiiMatch {
            kind: PiiKind::Iban,
            start: 1,
            end: 2,
        };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"kind":"iban","start":1,"end":2}"#
        );
    }

    #[test]
    fn pii_checksums() {
        assert!(luhn(&[4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]));
        assert!(!luhn(&[4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2]));
        assert!(iban_checksum(b"GB82WEST12345698765432"));
        assert!(!iban_checksum(b"GB82WEST12345698765433"));
        assert_eq!(iban_length(*b"FR"), Some(27));
        assert_eq!(iban_length(*b"ZZ"), None);
    }

    /// Sorted, non-overlapping, non-empty, on char boundaries, and the same through both entry
    /// points; redaction does not panic either.
    fn assert_well_formed(text: &str) {
        let found = detect(text);
        let mut prev_end = 0;
        for m in &found {
            assert!(m.start < m.end, "{text:?}: empty match {m:?}");
            assert!(
                m.start >= prev_end,
                "{text:?}: unsorted or overlapping {found:?}"
            );
            assert!(m.end <= text.len(), "{text:?}: out of bounds {m:?}");
            assert!(
                text.is_char_boundary(m.start) && text.is_char_boundary(m.end),
                "{text:?}: not on char boundaries {m:?}"
            );
            prev_end = m.end;
        }
        let mut buf = vec![PiiMatch {
            kind: PiiKind::Email,
            start: 7,
            end: 3,
        }];
        detect_into(text, &mut buf);
        assert_eq!(buf, found);
        let _ = redact(text, &found);
    }

    #[test]
    fn pii_never_panics_and_output_is_well_formed() {
        const PIECES: &[&str] = &[
            "0",
            "1",
            "4",
            "6",
            "7",
            "9",
            "06 12 34 56 78",
            "4111 ",
            "1111",
            " ",
            "  ",
            "\u{a0}",
            "\u{202f}",
            "\u{2009}",
            ".",
            ",",
            "-",
            "+",
            "+33",
            "(",
            ")",
            "(0)",
            "@",
            "a",
            "Z",
            "FR76",
            "GB82 WEST ",
            "é",
            "e\u{301}",
            "€",
            "😀",
            "ß",
            "Ⅻ",
            "٣",
            "\u{ff10}",
            "_",
            "\n",
            "%",
            "x@y.fr",
            ".fr",
            "jean.",
            "/",
            ":",
            "\u{a0}78",
        ];
        // xorshift64*: deterministic, no dependency.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let mut text = String::new();
        let mut found = 0;
        for _ in 0..20_000 {
            text.clear();
            let len = next() % 40;
            for _ in 0..len {
                let r = next();
                if r % 8 == 0 {
                    // Any scalar value, weighted towards the low planes.
                    let c = char::from_u32((r >> 8) as u32 % 0x3_0000).unwrap_or('\u{fffd}');
                    text.push(c);
                } else {
                    text.push_str(PIECES[(r >> 8) as usize % PIECES.len()]);
                }
            }
            assert_well_formed(&text);
            found += detect(&text).len();
        }
        // The generator does reach the scanners' accepting paths.
        assert!(found > 1000, "only {found} matches in the random texts");
        // Every prefix and suffix of tricky texts (on char boundaries).
        let tricky =
            "é+33 (0)6 12 34 56 78é—FR76 3000 6000 0112 3456 7890 189\u{a0}4111 1111 1111 \
                      1111😀jean@exemple.fr 415-555-0100.";
        for (i, _) in tricky.char_indices() {
            assert_well_formed(&tricky[..i]);
            assert_well_formed(&tricky[i..]);
        }
    }
}
