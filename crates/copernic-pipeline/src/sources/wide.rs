//! Files in UTF-16 or UTF-32, decoded to UTF-8 as they are read, so every source reads UTF-8.
//!
//! Excel's "Unicode text" export is UTF-16 (little-endian, with a byte-order mark, tab-separated),
//! and some Windows tools write feeds and JSON that way. A byte-order mark tells the encoding;
//! without one, the zero bytes around the first two ASCII characters do (as XML's appendix F
//! guesses it). Line numbers in rejects stay right; byte offsets count the UTF-8 text. An
//! unpaired surrogate or a code point beyond U+10FFFF becomes U+FFFD.

use std::io::{BufRead, Read};

/// A wide Unicode encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wide {
    Utf16Le,
    Utf16Be,
    Utf32Le,
    Utf32Be,
}

impl Wide {
    /// The encoding of a document from its first bytes, and the length of its byte-order mark
    /// (0 without one). `None` for anything else, UTF-8 included.
    pub fn detect(head: &[u8]) -> Option<(Wide, usize)> {
        // UTF-32LE's mark begins with UTF-16LE's: checked first.
        let marks: [(&[u8], Wide); 4] = [
            (b"\xff\xfe\x00\x00", Wide::Utf32Le),
            (b"\x00\x00\xfe\xff", Wide::Utf32Be),
            (b"\xff\xfe", Wide::Utf16Le),
            (b"\xfe\xff", Wide::Utf16Be),
        ];
        for (mark, wide) in marks {
            if head.starts_with(mark) {
                return Some((wide, mark.len()));
            }
        }
        // Two ASCII characters (`<?`, `{"`, `id`...) with the zero bytes each encoding puts
        // around them. Text in UTF-8 never holds a zero byte.
        let ascii = |b: u8| b != 0 && b.is_ascii();
        match head.get(..8)? {
            [a, 0, 0, 0, b, 0, 0, 0] if ascii(*a) && ascii(*b) => Some((Wide::Utf32Le, 0)),
            [0, 0, 0, a, 0, 0, 0, b] if ascii(*a) && ascii(*b) => Some((Wide::Utf32Be, 0)),
            [a, 0, b, 0, ..] if ascii(*a) && ascii(*b) => Some((Wide::Utf16Le, 0)),
            [0, a, 0, b, ..] if ascii(*a) && ascii(*b) => Some((Wide::Utf16Be, 0)),
            _ => None,
        }
    }

    /// `doc` (without its byte-order mark) decoded whole.
    pub fn decode(self, doc: &[u8]) -> Vec<u8> {
        let mut decoder = Decoder::new(self);
        let mut out = Vec::with_capacity(doc.len());
        decoder.decode(doc, true, &mut out);
        out
    }
}

/// Decodes a wide encoding chunk by chunk: a character cut between two chunks is finished by
/// the next one.
enum Decoder {
    Utf16(encoding_rs::Decoder),
    /// Bytes of a code unit cut off at the end of the last chunk.
    Utf32 {
        big_endian: bool,
        carry: Vec<u8>,
    },
}

impl Decoder {
    fn new(wide: Wide) -> Decoder {
        match wide {
            Wide::Utf16Le => {
                Decoder::Utf16(encoding_rs::UTF_16LE.new_decoder_without_bom_handling())
            }
            Wide::Utf16Be => {
                Decoder::Utf16(encoding_rs::UTF_16BE.new_decoder_without_bom_handling())
            }
            Wide::Utf32Le => Decoder::Utf32 {
                big_endian: false,
                carry: Vec::new(),
            },
            Wide::Utf32Be => Decoder::Utf32 {
                big_endian: true,
                carry: Vec::new(),
            },
        }
    }

    /// Appends `src`, decoded, to `out`; `last` when no more bytes follow.
    fn decode(&mut self, src: &[u8], last: bool, out: &mut Vec<u8>) {
        match self {
            Decoder::Utf16(d) => {
                let start = out.len();
                // Never `None` for the sizes of a read buffer.
                let room = d
                    .max_utf8_buffer_length(src.len())
                    .unwrap_or(src.len() * 3 + 16);
                out.resize(start + room, 0);
                let (_, _, written, _) = d.decode_to_utf8(src, &mut out[start..], last);
                out.truncate(start + written);
            }
            Decoder::Utf32 { big_endian, carry } => {
                let mut push = |unit: &[u8]| {
                    let b = [unit[0], unit[1], unit[2], unit[3]];
                    let n = if *big_endian {
                        u32::from_be_bytes(b)
                    } else {
                        u32::from_le_bytes(b)
                    };
                    let c = char::from_u32(n).unwrap_or(char::REPLACEMENT_CHARACTER);
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                };
                let mut src = src;
                if !carry.is_empty() {
                    let take = (4 - carry.len()).min(src.len());
                    carry.extend_from_slice(&src[..take]);
                    src = &src[take..];
                    if carry.len() == 4 {
                        push(carry);
                        carry.clear();
                    }
                }
                let whole = src.len() / 4 * 4;
                for unit in src[..whole].chunks_exact(4) {
                    push(unit);
                }
                carry.extend_from_slice(&src[whole..]);
                if last && !carry.is_empty() {
                    // A truncated last code unit.
                    out.extend_from_slice("\u{fffd}".as_bytes());
                    carry.clear();
                }
            }
        }
    }
}

/// A reader of UTF-16 or UTF-32 bytes that gives their UTF-8 (the byte-order mark already
/// consumed by the caller).
pub struct WideReader<R> {
    inner: R,
    decoder: Decoder,
    out: Vec<u8>,
    at: usize,
    done: bool,
}

impl<R: BufRead> WideReader<R> {
    pub fn new(inner: R, wide: Wide) -> WideReader<R> {
        WideReader {
            inner,
            decoder: Decoder::new(wide),
            out: Vec::new(),
            at: 0,
            done: false,
        }
    }
}

impl<R: BufRead> Read for WideReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.out.clear();
            self.at = 0;
            let src = self.inner.fill_buf()?;
            let last = src.is_empty();
            self.decoder.decode(src, last, &mut self.out);
            let n = src.len();
            self.inner.consume(n);
            self.done = last;
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str, big_endian: bool) -> Vec<u8> {
        s.encode_utf16()
            .flat_map(|u| {
                if big_endian {
                    u.to_be_bytes()
                } else {
                    u.to_le_bytes()
                }
            })
            .collect()
    }

    fn utf32(s: &str, big_endian: bool) -> Vec<u8> {
        s.chars()
            .flat_map(|c| {
                if big_endian {
                    (c as u32).to_be_bytes()
                } else {
                    (c as u32).to_le_bytes()
                }
            })
            .collect()
    }

    /// Reads `bytes` as the importer does: detect, skip the mark, decode through a buffer of
    /// `chunk` bytes so characters are cut between reads.
    fn read_through(bytes: &[u8], chunk: usize) -> (Option<Wide>, String) {
        let Some((wide, mark)) = Wide::detect(bytes) else {
            return (None, String::new());
        };
        let inner = std::io::BufReader::with_capacity(chunk, &bytes[mark..]);
        let mut out = String::new();
        WideReader::new(inner, wide)
            .read_to_string(&mut out)
            .expect("decoded text is UTF-8");
        (Some(wide), out)
    }

    const TEXT: &str = "id\ttext\n1\tÇa marche très bien 👍\n2\t\"sur deux\nlignes\"\n";

    #[test]
    fn every_wide_encoding_reads_back_with_or_without_its_mark() {
        let cases = [
            (Wide::Utf16Le, b"\xff\xfe".as_slice(), utf16(TEXT, false)),
            (Wide::Utf16Be, b"\xfe\xff".as_slice(), utf16(TEXT, true)),
            (
                Wide::Utf32Le,
                b"\xff\xfe\x00\x00".as_slice(),
                utf32(TEXT, false),
            ),
            (
                Wide::Utf32Be,
                b"\x00\x00\xfe\xff".as_slice(),
                utf32(TEXT, true),
            ),
        ];
        for (wide, mark, body) in cases {
            for with_mark in [true, false] {
                let mut bytes = if with_mark { mark.to_vec() } else { Vec::new() };
                bytes.extend_from_slice(&body);
                // Odd sizes cut code units, surrogate pairs and UTF-32 units between reads.
                for chunk in [1, 3, 5, 7, 4096] {
                    assert_eq!(
                        read_through(&bytes, chunk),
                        (Some(wide), TEXT.to_string()),
                        "{wide:?}, mark {with_mark}, chunk {chunk}"
                    );
                }
                assert_eq!(wide.decode(&body), TEXT.as_bytes(), "{wide:?} whole");
            }
        }
    }

    #[test]
    fn utf8_and_binary_are_not_wide() {
        for head in [
            "id,text\n1,é\n".as_bytes(),
            b"\xef\xbb\xbf{\"text\": 1}",
            b"<?xml version=\"1.0\"?>",
            b"\x1f\x8b\x08\x00\x00\x00\x00\x00",
            b"\x00\x00\x00\x00\x00\x00\x00\x00",
            b"ab",
        ] {
            assert_eq!(Wide::detect(head), None, "{head:?}");
        }
    }

    #[test]
    fn broken_units_become_replacement_characters() {
        // An unpaired high surrogate, then `a`; a UTF-32 unit beyond U+10FFFF; a cut last unit.
        assert_eq!(
            Wide::Utf16Le.decode(b"\x3d\xd8a\x00"),
            "\u{fffd}a".as_bytes()
        );
        assert_eq!(
            Wide::Utf32Le.decode(b"\x00\x00\x11\x00b\x00\x00\x00c\x00"),
            "\u{fffd}b\u{fffd}".as_bytes()
        );
    }
}
