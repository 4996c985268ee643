//! CSV (and TSV, semicolon- or pipe-separated) exports with a header row and a field [`Mapping`].
//!
//! What real exports throw at us: a UTF-8 byte-order mark (Excel), UTF-16 with a BOM (Excel's
//! "Unicode text"), Windows-1252 instead of UTF-8 (French spreadsheets), `;` as separator (French
//! locales), quoted fields spanning lines, short rows, and report preambles before the header
//! (Brandwatch and Sprinklr exports start with a few lines about the report). All are read; a row
//! with more fields than the header is refused, since its values can no longer be told apart.

use std::io::BufRead;

use copernic_core::text::decode_utf8_or_latin1;
use serde_json::Value;

use super::mapping::{column_key, to_message, Mapping, Record};
use super::wide::{Wide, WideReader};
use super::{Context, Item, SourceError};

/// The header row: column names, and their [`column_key`]s for loose matching.
struct Header {
    names: Vec<String>,
    keys: Vec<String>,
}

impl Header {
    fn new(names: Vec<String>) -> Header {
        let keys = names.iter().map(|n| column_key(n)).collect();
        Header { names, keys }
    }

    /// The column of `path`: its exact name first, then ignoring case, spaces and punctuation.
    fn column(&self, path: &str) -> Option<usize> {
        self.names.iter().position(|h| h == path).or_else(|| {
            let key = column_key(path);
            (!key.is_empty())
                .then(|| self.keys.iter().position(|k| *k == key))
                .flatten()
        })
    }
}

/// How many rows may precede the header (an export's report preamble).
const MAX_PREAMBLE_ROWS: usize = 32;

/// One CSV row under its header.
struct Row<'a> {
    header: &'a Header,
    fields: Vec<String>,
}

impl Record for Row<'_> {
    fn get(&self, path: &str) -> Option<std::borrow::Cow<'_, Value>> {
        let v = self.fields.get(self.header.column(path)?)?;
        (!v.trim().is_empty()).then(|| std::borrow::Cow::Owned(Value::String(v.clone())))
    }
}

/// Which of the first rows is the header: the first one naming the text column (mapped or a
/// default); the first row when none does, so the rows then say which column is missing.
fn find_header(rows: &[csv::ByteRecord], mapping: &Mapping) -> usize {
    rows.iter()
        .position(|r| {
            let header = Header::new(
                r.iter()
                    .map(|f| decode_utf8_or_latin1(f).0.trim().to_string())
                    .collect(),
            );
            r.len() >= 2 && mapping.text_paths().any(|p| header.column(p).is_some())
        })
        .unwrap_or(0)
}

/// Reads a delimited file with a header row.
pub fn read(
    input: &mut dyn BufRead,
    mapping: &Mapping,
    ctx: &Context,
    emit: &mut dyn FnMut(Item),
) -> Result<(), SourceError> {
    let io = |source| SourceError::Io {
        input: ctx.input.to_string(),
        source,
    };
    // `copernic import` decodes wide files before any source; a CSV handed over otherwise is
    // decoded here.
    if let Some((wide, mark)) = Wide::detect(input.fill_buf().map_err(io)?) {
        input.consume(mark);
        let mut reader = std::io::BufReader::new(WideReader::new(input, wide));
        return read_utf8(&mut reader, mapping, ctx, emit);
    }
    read_utf8(input, mapping, ctx, emit)
}

fn read_utf8(
    input: &mut dyn BufRead,
    mapping: &Mapping,
    ctx: &Context,
    emit: &mut dyn FnMut(Item),
) -> Result<(), SourceError> {
    let io = |source| SourceError::Io {
        input: ctx.input.to_string(),
        source,
    };
    let head = input.fill_buf().map_err(io)?;
    // Positions are counted after the byte-order mark; add it back so they point into the file.
    let bom = if head.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    };
    input.consume(bom);
    let head = input.fill_buf().map_err(io)?;
    let delimiter = sniff_delimiter(head);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        // Lines end at \n only and the \r of CRLF is stripped below: with the csv crate's default
        // CRLF handling, a record after a CRLF line reports the position of that \n, one line and
        // one byte early (rust-csv issue 395).
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(input);
    // The header may follow a preamble: look at the first rows before deciding.
    let mut first_rows: Vec<csv::ByteRecord> = Vec::new();
    while first_rows.len() < MAX_PREAMBLE_ROWS {
        let mut r = csv::ByteRecord::new();
        match reader.read_byte_record(&mut r) {
            Ok(true) => {
                strip_cr(&mut r);
                first_rows.push(r);
            }
            Ok(false) => break,
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => return Err(csv_error(e, ctx)),
            Err(_) => break,
        }
    }
    let at = first_rows.iter().position(|r| !is_blank(r));
    let Some(at) = at else {
        return Err(SourceError::Format {
            input: ctx.input.to_string(),
            reason: "no rows; a CSV file needs a header row naming its columns".into(),
        });
    };
    let header_index = at + find_header(&first_rows[at..], mapping);
    let header = Header::new(
        first_rows[header_index]
            .iter()
            .map(|f| decode_utf8_or_latin1(f).0.trim().to_string())
            .collect(),
    );
    let position_of = |r: &csv::ByteRecord| {
        let (line, byte) = r.position().map(|p| (p.line(), p.byte())).unwrap_or((0, 0));
        ctx.at().line(line).byte(byte + bom as u64)
    };
    for r in first_rows[..header_index].iter().filter(|r| !is_blank(r)) {
        // Kept as rejects rather than dropped: nothing in the input disappears unseen.
        let raw = raw_row(r, delimiter);
        emit(Item::Reject(ctx.reject(
            position_of(r),
            "before the header row (an export's preamble), not a message",
            &raw[..raw.len().min(ctx.limits.max_record_bytes)],
        )));
    }
    let buffered: Vec<csv::ByteRecord> = first_rows.drain(header_index + 1..).collect();
    let mut buffered = buffered.into_iter();
    let limit = ctx.limits.max_record_bytes;
    let mut record = csv::ByteRecord::new();
    loop {
        let next = match buffered.next() {
            Some(r) => {
                record = r;
                Ok(true)
            }
            None => reader.read_byte_record(&mut record),
        };
        match next {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => match e.kind() {
                csv::ErrorKind::Io(_) => return Err(csv_error(e, ctx)),
                _ => {
                    let pos = e.position().cloned();
                    let mut p = ctx.at();
                    if let Some(pos) = pos {
                        p = p.line(pos.line()).byte(pos.byte() + bom as u64);
                    }
                    emit(Item::Reject(ctx.reject(
                        p,
                        format!("unreadable CSV row: {e}"),
                        &[],
                    )));
                    continue;
                }
            },
        }
        let pos = position_of(&record);
        strip_cr(&mut record);
        let raw = raw_row(&record, delimiter);
        if is_blank(&record) {
            continue; // a blank line
        }
        if raw.len() > limit {
            emit(Item::Reject(ctx.reject(
                pos,
                format!(
                    "row is {} bytes, over the {limit}-byte limit for one record",
                    raw.len()
                ),
                &raw[..limit],
            )));
            continue;
        }
        if record.len() > header.names.len() {
            emit(Item::Reject(ctx.reject(
                pos,
                format!(
                    "row has {} fields but the header has {}; a separator inside an unquoted field?",
                    record.len(),
                    header.names.len()
                ),
                &raw,
            )));
            continue;
        }
        let row = Row {
            header: &header,
            fields: record
                .iter()
                .map(|f| decode_utf8_or_latin1(f).0.into_owned())
                .collect(),
        };
        match to_message(&row, &raw, mapping, ctx, pos) {
            Ok(m) => emit(Item::Message(m)),
            Err(r) => emit(Item::Reject(*r)),
        }
    }
    Ok(())
}

fn is_blank(r: &csv::ByteRecord) -> bool {
    r.iter().all(|f| f.iter().all(u8::is_ascii_whitespace))
}

/// Drops the `\r` that a CRLF line end leaves on the last field.
fn strip_cr(record: &mut csv::ByteRecord) {
    let Some(last) = record.iter().next_back() else {
        return;
    };
    if last.last() != Some(&b'\r') {
        return;
    }
    let mut fixed = csv::ByteRecord::with_capacity(record.as_slice().len(), record.len());
    let n = record.len();
    for (i, f) in record.iter().enumerate() {
        fixed.push_field(if i + 1 == n { &f[..f.len() - 1] } else { f });
    }
    fixed.set_position(record.position().cloned());
    *record = fixed;
}

fn csv_error(e: csv::Error, ctx: &Context) -> SourceError {
    match e.into_kind() {
        csv::ErrorKind::Io(source) => SourceError::Io {
            input: ctx.input.to_string(),
            source,
        },
        other => SourceError::Format {
            input: ctx.input.to_string(),
            reason: format!("{other:?}"),
        },
    }
}

/// The row written back as one CSV record, as the dead-letter store and audits keep it.
fn raw_row(record: &csv::ByteRecord, delimiter: u8) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = w.write_byte_record(record);
    let mut out = w.into_inner().unwrap_or_default();
    if out.last() == Some(&b'\n') {
        out.pop();
    }
    out
}

/// The separator: over the first lines (a preamble may come before the header), the candidate
/// that splits the most lines into the same number of fields, outside quotes. Ties go to the
/// earlier candidate (comma first).
pub fn sniff_delimiter(head: &[u8]) -> u8 {
    const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
    const LINES: usize = 20;
    // counts[line][candidate]
    let mut counts: Vec<[usize; 4]> = vec![[0; 4]];
    let mut in_quotes = false;
    for &b in head {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => {
                if counts.len() == LINES {
                    break;
                }
                counts.push([0; 4]);
            }
            _ if !in_quotes => {
                if let Some(i) = CANDIDATES.iter().position(|&c| c == b) {
                    if let Some(line) = counts.last_mut() {
                        line[i] += 1;
                    }
                }
            }
            _ => {}
        }
    }
    let mut best = (0usize, 0usize, 0usize); // (lines agreeing, fields, candidate)
    for (i, _) in CANDIDATES.iter().enumerate() {
        let mut tally: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
        for line in &counts {
            if line[i] > 0 {
                *tally.entry(line[i]).or_default() += 1;
            }
        }
        if let Some((&n, &lines)) = tally.iter().max_by_key(|(n, lines)| (**lines, **n)) {
            if (lines, n) > (best.0, best.1) {
                best = (lines, n, i);
            }
        }
    }
    CANDIDATES[best.2]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(data: &[u8], map: &str) -> Vec<Item> {
        let ctx = Context::new("t", "in.csv");
        let mapping: Mapping = map.parse().unwrap();
        let mut out = Vec::new();
        let mut input = data;
        read(&mut input, &mapping, &ctx, &mut |i| out.push(i)).unwrap();
        out
    }

    fn texts(items: &[Item]) -> Vec<String> {
        items
            .iter()
            .map(|i| match i {
                Item::Message(m) => m.text.clone(),
                Item::Reject(r) => format!("REJECT {}", r),
            })
            .collect()
    }

    #[test]
    fn sniffs_delimiters() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1,2,3\n1;2;3;4;5"), b',');
        assert_eq!(sniff_delimiter(b"a;b;\"c,d,e\"\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\tc"), b'\t');
        assert_eq!(sniff_delimiter(b"a|b"), b'|');
        assert_eq!(sniff_delimiter(b"text"), b',');
        assert_eq!(
            sniff_delimiter(b"Report: a, b, c\n\nid;text;x\n1;a;b\n2;c;d\n"),
            b';'
        );
    }

    #[test]
    fn bom_semicolons_multiline_and_latin1() {
        let data =
            b"\xef\xbb\xbfid;Body;user\n1;\"Tr\xe8s d\xe9\xe7u;\nvraiment\";marie\n2;ok;paul\n";
        let items = run(data, "text=body,author=user");
        assert_eq!(texts(&items), vec!["Très déçu;\nvraiment", "ok"]);
        let Item::Message(m) = &items[1] else {
            panic!()
        };
        assert_eq!(m.external_id, "2");
        assert_eq!(m.author.handle.as_deref(), Some("paul"));
        let Item::Message(m) = &items[0] else {
            panic!()
        };
        assert!(m.raw.starts_with(b"1;"));
    }

    #[test]
    fn positions_point_into_the_file_with_bom_and_crlf() {
        let data = b"\xef\xbb\xbfid,text\r\n1,ok\r\n2,\r\n3,\"multi\r\nline\"\r\n";
        let items = run(data, "");
        let Item::Reject(r) = &items[1] else {
            panic!("{:?}", items[1])
        };
        assert_eq!((r.position.line, r.position.byte), (Some(3), Some(18)));
        assert_eq!(&data[18..21], b"2,\r");
        assert_eq!(texts(&items)[2], "multi\r\nline");
        assert_eq!(texts(&items)[0], "ok");
    }

    #[test]
    fn export_preambles_are_skipped_and_columns_match_loosely() {
        // The shape of a Brandwatch "Mentions" export: report lines, a blank line, then the table.
        let data = b"Report:,Brand X mentions\nDate range:,2024-01-01 - 2024-01-31\n\n\
Date,Title,Url,Full Text,Author,Sentiment\n\
2024-01-03 10:00:00,,https://x.example/1,\"Love the new range, great job\",@ana,positive\n\
2024-01-04 11:30:00,Avis,https://x.example/2,Livraison en retard,@bob,negative\n";
        let items = run(data, "");
        let t = texts(&items);
        assert_eq!(t.len(), 4, "{t:?}");
        assert!(
            t[0].starts_with("REJECT in.csv: line 1 (byte 0): before the header row"),
            "{}",
            t[0]
        );
        assert!(t[1].contains("line 2"));
        assert_eq!(
            &t[2..],
            ["Love the new range, great job", "Livraison en retard"]
        );
        let Item::Message(m) = &items[3] else {
            panic!()
        };
        assert_eq!(m.author.handle.as_deref(), Some("@bob"));
        assert_eq!(m.url.as_deref(), Some("https://x.example/2"));
        assert_eq!(m.title.as_deref(), Some("Avis"));
        assert_eq!(m.created_at.to_rfc3339(), "2024-01-04T11:30:00+00:00");
    }

    #[test]
    fn a_long_preamble_row_keeps_only_the_record_limit() {
        // Found by the csv fuzz target (seed regression-preamble-over-limit).
        let mut ctx = Context::new("t", "in.csv");
        ctx.limits.max_record_bytes = 64;
        let data = format!("Export,{}\nid,text\n1,hello\n", "x".repeat(500));
        let mut items = Vec::new();
        read(&mut data.as_bytes(), &Mapping::default(), &ctx, &mut |i| {
            items.push(i)
        })
        .unwrap();
        let Item::Reject(r) = &items[0] else {
            panic!("{items:?}")
        };
        assert_eq!(r.raw.len(), 64);
        assert!(matches!(&items[1], Item::Message(m) if m.text == "hello"));
    }

    #[test]
    fn sprinklr_style_columns_need_no_mapping() {
        let data = b"Message;Sender Screen Name;Created Time;Permalink;Social Network\n\
Where is my order?;jdoe;2024-02-01T08:00:00Z;https://t.example/9;TWITTER\n";
        let items = run(data, "");
        let Item::Message(m) = &items[0] else {
            panic!("{:?}", items[0])
        };
        assert_eq!(
            (
                m.text.as_str(),
                m.author.handle.as_deref(),
                m.channel.as_str()
            ),
            ("Where is my order?", Some("jdoe"), "TWITTER")
        );
        assert_eq!(m.url.as_deref(), Some("https://t.example/9"));
    }

    #[test]
    fn ragged_rows() {
        let data = b"id,text,extra\n1,short\n2,too,many,fields\n3,fine,x\n";
        let items = run(data, "");
        let t = texts(&items);
        assert_eq!(t[0], "short");
        assert!(
            t[1].starts_with("REJECT in.csv: line 3 (byte 22): row has 4 fields"),
            "{}",
            t[1]
        );
        assert_eq!(t[2], "fine");
    }

    #[test]
    fn utf16_with_bom() {
        let text = "id\ttext\r\n1\tsalut 😀\r\n";
        let mut data = vec![0xff, 0xfe];
        for u in text.encode_utf16() {
            data.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(texts(&run(&data, "")), vec!["salut 😀"]);
    }
}
