//! The listening query language: lexer, parser, the syntax tree and its normalised form.
//! The grammar and semantics are written for users in `docs/query-language.md`; this file is the
//! one implementation of that text.

use std::fmt;

use copernic_core::text::{analyze, TokenKind};

/// Longest query accepted, in characters of its normal form (which is what is stored and shown,
/// so that every accepted query's normal form parses again): far above any hand-written query,
/// low enough that a pasted document is refused instead of compiled.
pub const MAX_QUERY_CHARS: usize = 4_000;
/// Longest input read at all, in characters: bounds the parser's work before the normal form
/// can be measured (spaces and redundant parentheses make an input longer than its normal form).
pub const MAX_INPUT_CHARS: usize = 4 * MAX_QUERY_CHARS;
/// Deepest nesting of parentheses and NOTs: the parser and evaluator recurse, so this bounds
/// their stack whatever the input.
pub const MAX_DEPTH: usize = 32;
/// Most terms, phrases and filters in one query: bounds the work of verifying it.
pub const MAX_TERMS: usize = 300;
/// Largest `n` in `NEAR/n`.
pub const MAX_NEAR: u32 = 100;
/// Fewest characters before `*` in a prefix: `ab*` would match too much to be useful.
pub const MIN_PREFIX_CHARS: usize = 3;

/// What a single position of a message can match.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Atom {
    /// A whole token, folded; matches words, hashtags and mentions with that text.
    Word(String),
    /// Consecutive tokens (two or more), folded.
    Phrase(Vec<String>),
    /// Any token starting with this folded text (at least [`MIN_PREFIX_CHARS`] characters).
    Prefix(String),
    /// A `#hashtag` entity only; folded, without `#`.
    Hashtag(String),
    /// An `@mention` entity only; folded, without `@`.
    Mention(String),
}

/// A message field a query can filter on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Lang,
    Channel,
    Author,
    Sentiment,
    Intent,
    Topic,
}

impl Field {
    pub const ALL: [Field; 6] = [
        Field::Lang,
        Field::Channel,
        Field::Author,
        Field::Sentiment,
        Field::Intent,
        Field::Topic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Lang => "lang",
            Field::Channel => "channel",
            Field::Author => "author",
            Field::Sentiment => "sentiment",
            Field::Intent => "intent",
            Field::Topic => "topic",
        }
    }

    fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The form a value is compared in, for the query and for the message alike: folded; a
    /// language is its primary subtag (`fr-CA` → `fr`); a handle loses its `@`.
    pub fn normalise(self, value: &str) -> String {
        copernic_core::text::field_value(self.name(), value)
    }
}

/// A parsed query.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expr {
    Atom(Atom),
    /// `left NEAR/distance right`: both, in either order, not overlapping, the second starting
    /// at most `distance` tokens after the first ends (`NEAR/1` = adjacent).
    Near {
        left: Atom,
        right: Atom,
        distance: u32,
    },
    /// `field:value`, value normalised by [`Field::normalise`].
    Field(Field, String),
    Not(Box<Expr>),
    /// Two or more, none of them an `And`.
    And(Vec<Expr>),
    /// Two or more, none of them an `Or`.
    Or(Vec<Expr>),
}

/// A query refused, with the column (1-based, in characters) where the problem is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ParseError {
    pub column: usize,
    pub message: String,
}

fn err<T>(column: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        column,
        message: message.into(),
    })
}

/// Parses a query, refusing those that cannot be matched sensibly (see [`ParseError`]).
pub fn parse(query: &str) -> Result<Expr, ParseError> {
    let n = query.chars().count();
    if n > MAX_INPUT_CHARS {
        return err(
            MAX_INPUT_CHARS + 1,
            format!("the query is {n} characters long; the limit is {MAX_QUERY_CHARS}: split it into several queries"),
        );
    }
    let tokens = lex(query)?;
    if tokens.is_empty() {
        return err(1, "the query is empty: expected a word, a \"phrase\", a field filter such as lang:fr, or (");
    }
    let mut p = Parser {
        tokens,
        at: 0,
        depth: 0,
        terms: 0,
        end_column: n + 1,
    };
    let expr = p.or()?;
    if let Some(t) = p.peek() {
        let col = t.column;
        return match t.tok {
            Tok::RParen => err(col, "unexpected ): there is no ( before it to close"),
            _ => err(col, "unexpected input"),
        };
    }
    let normal = expr.to_string().chars().count();
    if normal > MAX_QUERY_CHARS {
        return err(
            1,
            format!("the query is {normal} characters long once normalised; the limit is {MAX_QUERY_CHARS}: split it into several queries"),
        );
    }
    if matches_empty(&expr) {
        return err(
            1,
            "this query matches messages that contain none of its terms (it is made only of negations); add a term the messages must contain, e.g. `brand -refund`",
        );
    }
    Ok(expr)
}

/// Whether `e` matches a message with no words and no fields: true only for queries that rely on
/// negations alone, which would match almost the whole firehose.
fn matches_empty(e: &Expr) -> bool {
    match e {
        Expr::Atom(_) | Expr::Near { .. } | Expr::Field(..) => false,
        Expr::Not(x) => !matches_empty(x),
        Expr::And(xs) => xs.iter().all(matches_empty),
        Expr::Or(xs) => xs.iter().any(matches_empty),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    /// `-` glued to what follows.
    Minus,
    Near(u32),
    /// A quoted phrase, its inside.
    Quoted(String),
    /// `name:value` (value unquoted or quoted).
    Field(String, String),
    /// Anything else up to a space, parenthesis or quote.
    Bare(String),
}

#[derive(Clone, Debug)]
struct Spanned {
    tok: Tok,
    column: usize,
}

fn is_break(c: char) -> bool {
    c.is_whitespace() || c == '(' || c == ')' || c == '"'
}

fn lex(query: &str) -> Result<Vec<Spanned>, ParseError> {
    let chars: Vec<char> = query.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let read_quoted = |open: usize| -> Result<(String, usize), ParseError> {
        // `open` is the index of the opening quote; returns the inside and the index after the
        // closing quote.
        let mut j = open + 1;
        while j < chars.len() && chars[j] != '"' {
            j += 1;
        }
        if j >= chars.len() {
            return err(
                open + 1,
                "this \" opens a phrase that is never closed: add a closing \"",
            );
        }
        Ok((chars[open + 1..j].iter().collect(), j + 1))
    };
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = match c {
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            '"' => {
                let (inside, next) = read_quoted(i)?;
                i = next;
                Tok::Quoted(inside)
            }
            '-' if i + 1 < chars.len() && !chars[i + 1].is_whitespace() && chars[i + 1] != ')' => {
                i += 1;
                Tok::Minus
            }
            '-' => {
                return err(
                    column,
                    "a lone - : write it against the term it excludes (-refund), or use NOT",
                )
            }
            _ => {
                let start = i;
                while i < chars.len() && !is_break(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                // `name:"quoted value"`
                if word.ends_with(':')
                    && word.len() > 1
                    && word[..word.len() - 1]
                        .chars()
                        .all(|c| c.is_ascii_alphabetic())
                    && i < chars.len()
                    && chars[i] == '"'
                {
                    let (inside, next) = read_quoted(i)?;
                    i = next;
                    Tok::Field(word[..word.len() - 1].to_string(), inside)
                } else {
                    match word.as_str() {
                        "AND" => Tok::And,
                        "OR" => Tok::Or,
                        "NOT" => Tok::Not,
                        w if w.starts_with("NEAR/") || w == "NEAR" => {
                            let n = w.strip_prefix("NEAR/").unwrap_or("");
                            let digits = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
                            match n.parse::<u32>() {
                                Ok(d) if digits && (1..=MAX_NEAR).contains(&d) => Tok::Near(d),
                                _ => {
                                    return err(
                                        column,
                                        format!(
                                        "NEAR needs a distance from 1 to {MAX_NEAR}, as in NEAR/3"
                                    ),
                                    )
                                }
                            }
                        }
                        _ => match split_field(&word) {
                            Some((name, value)) => Tok::Field(name.to_string(), value.to_string()),
                            None => Tok::Bare(word),
                        },
                    }
                }
            }
        };
        out.push(Spanned { tok, column });
    }
    Ok(out)
}

/// `name:value` where name is letters; `http://…` and `10:30` are not fields.
fn split_field(word: &str) -> Option<(&str, &str)> {
    let (name, value) = word.split_once(':')?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphabetic()) || value.starts_with("//")
    {
        return None;
    }
    Some((name, value))
}

struct Parser {
    tokens: Vec<Spanned>,
    at: usize,
    depth: usize,
    terms: usize,
    /// The column just past the end, where "expected … at the end" errors point.
    end_column: usize,
}

fn starts_unary(t: &Tok) -> bool {
    matches!(
        t,
        Tok::LParen | Tok::Not | Tok::Minus | Tok::Quoted(_) | Tok::Field(..) | Tok::Bare(_)
    )
}

impl Parser {
    fn peek(&self) -> Option<&Spanned> {
        self.tokens.get(self.at)
    }

    fn next_column(&self) -> usize {
        self.peek().map_or(self.end_column, |t| t.column)
    }

    /// Errors when what follows an operator cannot start a term.
    fn expect_term_after(&self, op: &str) -> Result<(), ParseError> {
        match self.peek() {
            Some(t) if starts_unary(&t.tok) => Ok(()),
            Some(t) => err(
                t.column,
                format!("expected a term after {op}, found {}", describe(&t.tok)),
            ),
            None => err(
                self.end_column,
                format!("expected a term after {op}, found the end of the query"),
            ),
        }
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut parts = vec![self.and()?];
        while let Some(Spanned { tok: Tok::Or, .. }) = self.peek() {
            self.at += 1;
            self.expect_term_after("OR")?;
            parts.push(self.and()?);
        }
        Ok(join(parts, Expr::Or))
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut parts = vec![self.unary()?];
        loop {
            match self.peek() {
                Some(Spanned { tok: Tok::And, .. }) => {
                    self.at += 1;
                    self.expect_term_after("AND")?;
                    parts.push(self.unary()?);
                }
                Some(t) if starts_unary(&t.tok) => parts.push(self.unary()?),
                _ => break,
            }
        }
        Ok(join(parts, Expr::And))
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            Some(Spanned {
                tok: tok @ (Tok::Not | Tok::Minus),
                column,
            }) => {
                let (op, column) = (if *tok == Tok::Not { "NOT" } else { "-" }, *column);
                self.at += 1;
                self.expect_term_after(op)?;
                self.enter(column)?;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(Expr::Not(Box::new(inner)))
            }
            _ => self.near(),
        }
    }

    fn near(&mut self) -> Result<Expr, ParseError> {
        let left_column = self.next_column();
        let left = self.primary()?;
        let Some(Spanned {
            tok: Tok::Near(distance),
            column,
        }) = self.peek().cloned()
        else {
            return Ok(left);
        };
        let Expr::Atom(left) = left else {
            return err(
                left_column,
                "NEAR takes a word, \"phrase\", prefix*, #hashtag or @mention on each side, not a group or a field",
            );
        };
        self.at += 1;
        self.expect_term_after(&format!("NEAR/{distance}"))?;
        let right_column = self.next_column();
        let Expr::Atom(right) = self.primary()? else {
            return err(
                right_column,
                "NEAR takes a word, \"phrase\", prefix*, #hashtag or @mention on each side, not a group or a field",
            );
        };
        if let Some(Spanned {
            tok: Tok::Near(_),
            column: again,
        }) = self.peek()
        {
            return err(
                *again,
                "NEAR cannot be chained; combine pairs with AND: (a NEAR/3 b) AND (b NEAR/3 c)",
            );
        }
        let _ = column;
        Ok(Expr::Near {
            left,
            right,
            distance,
        })
    }

    fn enter(&mut self, column: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(
                column,
                format!("the query nests more than {MAX_DEPTH} levels of parentheses and NOTs"),
            );
        }
        Ok(())
    }

    fn count_term(&mut self, column: usize) -> Result<(), ParseError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return err(
                column,
                format!("the query has more than {MAX_TERMS} terms: split it into several queries"),
            );
        }
        Ok(())
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let Some(Spanned { tok, column }) = self.peek().cloned() else {
            return err(
                self.end_column,
                "expected a term, found the end of the query",
            );
        };
        self.at += 1;
        match tok {
            Tok::LParen => {
                self.enter(column)?;
                if let Some(Spanned {
                    tok: Tok::RParen,
                    column: c,
                }) = self.peek()
                {
                    return err(*c, "empty parentheses: expected a term after (");
                }
                let inner = self.or()?;
                self.depth -= 1;
                match self.peek() {
                    Some(Spanned {
                        tok: Tok::RParen, ..
                    }) => {
                        self.at += 1;
                        Ok(inner)
                    }
                    Some(t) => err(
                        t.column,
                        format!(
                            "expected ) to close the ( at column {column}, found {}",
                            describe(&t.tok)
                        ),
                    ),
                    None => err(
                        self.end_column,
                        format!("expected ) to close the ( at column {column}"),
                    ),
                }
            }
            Tok::Quoted(inside) => {
                self.count_term(column)?;
                let words: Vec<String> = analyze(&inside).map(|t| t.text.into_owned()).collect();
                match words.len() {
                    0 => err(column, "empty phrase: put words between the quotes"),
                    1 => Ok(Expr::Atom(Atom::Word(
                        words.into_iter().next().unwrap_or_default(),
                    ))),
                    _ => Ok(Expr::Atom(Atom::Phrase(words))),
                }
            }
            Tok::Field(name, value) => {
                self.count_term(column)?;
                let Some(field) = Field::from_name(&name) else {
                    let known: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
                    return err(
                        column,
                        format!(
                            "unknown field `{name}`; the fields are {}",
                            known.join(", ")
                        ),
                    );
                };
                let v = field.normalise(&value);
                if v.is_empty() {
                    return err(
                        column,
                        format!(
                            "expected a value after {name}:, as in {name}:{}",
                            example(field)
                        ),
                    );
                }
                Ok(Expr::Field(field, v))
            }
            Tok::Bare(word) => {
                self.count_term(column)?;
                bare(&word, column).map(Expr::Atom)
            }
            other => err(
                column,
                format!("expected a term, found {}", describe(&other)),
            ),
        }
    }
}

fn example(f: Field) -> &'static str {
    match f {
        Field::Lang => "fr",
        Field::Channel => "twitter",
        Field::Author => "jane",
        Field::Sentiment => "negative",
        Field::Intent => "complaint",
        Field::Topic => "delivery",
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::LParen => "(".into(),
        Tok::RParen => ")".into(),
        Tok::And => "AND".into(),
        Tok::Or => "OR".into(),
        Tok::Not => "NOT".into(),
        Tok::Minus => "-".into(),
        Tok::Near(d) => format!("NEAR/{d}"),
        Tok::Quoted(q) => format!("\"{q}\""),
        Tok::Field(n, v) => format!("{n}:{v}"),
        Tok::Bare(w) => format!("`{w}`"),
    }
}

/// A bare word of the query: a word, a prefix, a hashtag, a mention, or (when the tokenizer
/// splits it, as in `l'avion` or `e-mail`) the phrase of its tokens.
fn bare(word: &str, column: usize) -> Result<Atom, ParseError> {
    if let Some(stem) = word.strip_suffix('*') {
        if stem.contains('*') {
            return err(
                column,
                "* is only allowed once, at the end of a word (prefix*)",
            );
        }
        let toks: Vec<_> = analyze(stem).collect();
        return match toks.as_slice() {
            [t] if t.kind == TokenKind::Word
                && stem.chars().next().is_some_and(|c| c != '#' && c != '@') =>
            {
                if t.text.chars().count() < MIN_PREFIX_CHARS {
                    err(
                        column,
                        format!(
                            "a prefix needs at least {MIN_PREFIX_CHARS} letters or digits before *"
                        ),
                    )
                } else {
                    Ok(Atom::Prefix(t.text.clone().into_owned()))
                }
            }
            [] => err(
                column,
                format!("a prefix needs at least {MIN_PREFIX_CHARS} letters or digits before *"),
            ),
            _ => err(
                column,
                format!("a prefix is one plain word followed by *; `{word}` is not"),
            ),
        };
    }
    if word.contains('*') {
        return err(column, "* is only allowed at the end of a word (prefix*)");
    }
    let toks: Vec<_> = analyze(word).collect();
    if let Some(sign) = word.chars().next().filter(|c| *c == '#' || *c == '@') {
        let (kind, name) = if sign == '#' {
            (TokenKind::Hashtag, "hashtag")
        } else {
            (TokenKind::Mention, "mention")
        };
        return match toks.as_slice() {
            [t] if t.kind == kind => Ok(if kind == TokenKind::Hashtag {
                Atom::Hashtag(t.text.clone().into_owned())
            } else {
                Atom::Mention(t.text.clone().into_owned())
            }),
            _ => err(
                column,
                format!("`{word}` is not a {name}: write {sign} followed by letters, digits or _"),
            ),
        };
    }
    let mut words: Vec<String> = toks.into_iter().map(|t| t.text.into_owned()).collect();
    match words.len() {
        0 => err(
            column,
            format!("`{word}` has no letters, digits or emoji to match"),
        ),
        1 => Ok(Atom::Word(words.pop().unwrap_or_default())),
        _ => Ok(Atom::Phrase(words)),
    }
}

/// One expression from a list of parts: the part itself when alone, else `make` of the parts
/// with nested ones of the same operator flattened.
fn join(parts: Vec<Expr>, make: fn(Vec<Expr>) -> Expr) -> Expr {
    if parts.len() == 1 {
        return parts.into_iter().next().unwrap_or(Expr::Or(Vec::new()));
    }
    let mut flat = Vec::with_capacity(parts.len());
    for p in parts {
        match (make(Vec::new()), p) {
            (Expr::And(_), Expr::And(xs)) | (Expr::Or(_), Expr::Or(xs)) => flat.extend(xs),
            (_, p) => flat.push(p),
        }
    }
    make(flat)
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Atom::Word(w) if w.contains('_') => write!(f, "\"@{w}\""),
            Atom::Word(w) => f.write_str(w),
            Atom::Phrase(ws) => {
                f.write_str("\"")?;
                for (i, w) in ws.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    // `_` only occurs in entity tokens: written as a mention, it re-parses to
                    // the same token text.
                    if w.contains('_') {
                        f.write_str("@")?;
                    }
                    f.write_str(w)?;
                }
                f.write_str("\"")
            }
            Atom::Prefix(p) => write!(f, "{p}*"),
            Atom::Hashtag(h) => write!(f, "#{h}"),
            Atom::Mention(m) => write!(f, "@{m}"),
        }
    }
}

/// The normalised query: folded terms, explicit operators, parentheses only where needed.
/// Parsing it gives back the same expression.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Atom(a) => a.fmt(f),
            Expr::Near {
                left,
                right,
                distance,
            } => write!(f, "{left} NEAR/{distance} {right}"),
            Expr::Field(field, v) => {
                if v.chars().all(|c| c.is_alphanumeric() || "_-.@".contains(c)) {
                    write!(f, "{}:{v}", field.name())
                } else {
                    write!(f, "{}:\"{v}\"", field.name())
                }
            }
            Expr::Not(x) => match **x {
                Expr::And(_) | Expr::Or(_) => write!(f, "NOT ({x})"),
                _ => write!(f, "NOT {x}"),
            },
            Expr::And(xs) => {
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" AND ")?;
                    }
                    match x {
                        Expr::Or(_) => write!(f, "({x})")?,
                        _ => write!(f, "{x}")?,
                    }
                }
                Ok(())
            }
            Expr::Or(xs) => {
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" OR ")?;
                    }
                    write!(f, "{x}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each query and its normalised form (or its error).
    fn check(query: &str, want: &str) {
        let got = match parse(query) {
            Ok(e) => {
                let shown = e.to_string();
                assert_eq!(
                    parse(&shown).as_ref(),
                    Ok(&e),
                    "normalised form {shown:?} re-parses differently"
                );
                shown
            }
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, want, "query {query:?}");
    }

    #[test]
    fn precedence_and_normal_form() {
        check("a b OR c", "a AND b OR c");
        check("a OR b c", "a OR b AND c");
        check("a (b OR c)", "a AND (b OR c)");
        check("NOT a b", "NOT a AND b");
        check("b -a", "b AND NOT a");
        check("b -(a OR c)", "b AND NOT (a OR c)");
        check("((a))", "a");
        check("a AND (b AND c)", "a AND b AND c");
        check("a OR (b OR c)", "a OR b OR c");
        check("Éléphant", "elephant");
        check("\"Service Client\"", "\"service client\"");
        check("\"Nike\"", "nike");
        check("l'avion", "\"l avion\"");
        check("e-mail", "\"e mail\"");
        check("Livrais*", "livrais*");
        check("#Été @Jane_Doe", "#ete AND @jane_doe");
        check("😡 colère", "😡 AND colere");
        check("nike NEAR/3 \"air max\"", "nike NEAR/3 \"air max\"");
        check("NOT a NEAR/2 b c", "NOT a NEAR/2 b AND c");
        check(
            "lang:FR channel:Twitter author:@Jane",
            "lang:fr AND channel:twitter AND author:jane",
        );
        check("topic:\"Late Delivery\" x", "topic:\"late delivery\" AND x");
        check("lang:fr-CA x", "lang:fr AND x");
        check(
            "sentiment:negative intent:complaint",
            "sentiment:negative AND intent:complaint",
        );
        check("and or not near", "and AND or AND not AND near");
        check("https://nike.com", "\"https nike com\"");
        check("10:30", "\"10 30\"");
        check("\"@jane_doe\"", "\"@jane_doe\"");
        check("\"merci @jane_doe\"", "\"merci @jane_doe\"");
    }

    #[test]
    fn errors_point_at_the_problem() {
        check(
            "nike OR",
            "error: column 8: expected a term after OR, found the end of the query",
        );
        check(
            "nike AND OR adidas",
            "error: column 10: expected a term after AND, found OR",
        );
        check(
            "a OR ) b",
            "error: column 6: expected a term after OR, found )",
        );
        check(
            "(a b",
            "error: column 5: expected ) to close the ( at column 1",
        );
        check(
            "a b)",
            "error: column 4: unexpected ): there is no ( before it to close",
        );
        check(
            "()",
            "error: column 2: empty parentheses: expected a term after (",
        );
        check("", "error: column 1: the query is empty: expected a word, a \"phrase\", a field filter such as lang:fr, or (");
        check("OR a", "error: column 1: expected a term, found OR");
        check(
            "\"abc",
            "error: column 1: this \" opens a phrase that is never closed: add a closing \"",
        );
        check(
            "\"\" a",
            "error: column 1: empty phrase: put words between the quotes",
        );
        check(
            "ab*",
            "error: column 1: a prefix needs at least 3 letters or digits before *",
        );
        check(
            "ni*ke",
            "error: column 1: * is only allowed at the end of a word (prefix*)",
        );
        check(
            "e-mail*",
            "error: column 1: a prefix is one plain word followed by *; `e-mail*` is not",
        );
        check(
            "a NEAR b",
            "error: column 3: NEAR needs a distance from 1 to 100, as in NEAR/3",
        );
        check(
            "a NEAR/0 b",
            "error: column 3: NEAR needs a distance from 1 to 100, as in NEAR/3",
        );
        check("(a OR b) NEAR/2 c", "error: column 1: NEAR takes a word, \"phrase\", prefix*, #hashtag or @mention on each side, not a group or a field");
        check("a NEAR/2 b NEAR/2 c", "error: column 12: NEAR cannot be chained; combine pairs with AND: (a NEAR/3 b) AND (b NEAR/3 c)");
        check("colour:red x", "error: column 1: unknown field `colour`; the fields are lang, channel, author, sentiment, intent, topic");
        check(
            "x lang:",
            "error: column 3: expected a value after lang:, as in lang:fr",
        );
        check("-a", "error: column 1: this query matches messages that contain none of its terms (it is made only of negations); add a term the messages must contain, e.g. `brand -refund`");
        check("NOT a -b", "error: column 1: this query matches messages that contain none of its terms (it is made only of negations); add a term the messages must contain, e.g. `brand -refund`");
        check("a OR NOT b", "error: column 1: this query matches messages that contain none of its terms (it is made only of negations); add a term the messages must contain, e.g. `brand -refund`");
        check("a - b", "error: column 3: a lone - : write it against the term it excludes (-refund), or use NOT");
        check(
            "!!!",
            "error: column 1: `!!!` has no letters, digits or emoji to match",
        );
        check(
            "#",
            "error: column 1: `#` is not a hashtag: write # followed by letters, digits or _",
        );
        check(
            "a NOT",
            "error: column 6: expected a term after NOT, found the end of the query",
        );
    }

    #[test]
    fn limits_are_enforced() {
        let deep = format!("{}a{}", "(".repeat(40), ")".repeat(40));
        assert!(parse(&deep)
            .unwrap_err()
            .message
            .contains("nests more than 32"));
        let nots = format!("a {}b", "NOT ".repeat(40));
        assert!(parse(&nots)
            .unwrap_err()
            .message
            .contains("nests more than 32"));
        // 3,249 characters typed, 4,245 once normalised (explicit ANDs).
        let long = vec!["abcdefghijkl"; 250].join(" ");
        let e = parse(&long).unwrap_err();
        assert_eq!(e.column, 1);
        assert!(e.message.contains("once normalised"), "{e}");
        let huge = "a ".repeat(MAX_INPUT_CHARS);
        assert_eq!(parse(&huge).unwrap_err().column, MAX_INPUT_CHARS + 1);
        let many = "a ".repeat(400);
        assert!(parse(&many)
            .unwrap_err()
            .message
            .contains("more than 300 terms"));
    }
}
