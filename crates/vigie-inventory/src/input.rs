//! Input plumbing shared by the parsers: byte-order marks, encodings, and a
//! reader adapter that bounds how much one XML token may buffer.

use crate::error::{Location, ParseError};
use std::io::{self, BufRead, Read};

/// What the first bytes say about the text encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniffed {
    Utf8,
    Utf8Bom,
    Utf16,
}

/// Looks at the first bytes of a file. UTF-16 is recognised by its BOM or by
/// the zero bytes an ASCII-range UTF-16 text has every other byte.
pub(crate) fn sniff(head: &[u8]) -> Sniffed {
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Sniffed::Utf8Bom;
    }
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return Sniffed::Utf16;
    }
    if let [a, b, c, d, ..] = head {
        let le = *a != 0 && *b == 0 && *c != 0 && *d == 0;
        let be = *a == 0 && *b != 0 && *c == 0 && *d != 0;
        if le || be {
            return Sniffed::Utf16;
        }
    }
    Sniffed::Utf8
}

pub(crate) fn utf16_error() -> ParseError {
    ParseError::new(
        Location::Byte(0),
        "input is utf-16 encoded; convert it to utf-8 first (e.g. iconv -f utf-16 -t utf-8)",
    )
}

/// Consumes a UTF-8 BOM and rejects UTF-16 input. Returns the number of bytes
/// skipped.
pub(crate) fn prepare<R: BufRead>(reader: &mut R) -> Result<usize, ParseError> {
    let head = loop {
        match reader.fill_buf() {
            Ok(h) => break h,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(ParseError::new(
                    Location::Byte(0),
                    format!("read error: {e}"),
                ));
            }
        }
    };
    match sniff(head) {
        Sniffed::Utf16 => Err(utf16_error()),
        Sniffed::Utf8Bom => {
            reader.consume(3);
            Ok(3)
        }
        Sniffed::Utf8 => Ok(0),
    }
}

/// Reads one line (without its `\n` or `\r\n`) into `buf`, refusing lines
/// longer than `max` bytes without buffering more than `max + 1` of them.
/// Returns `Ok(false)` at end of input.
pub(crate) fn read_line_capped<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> Result<bool, LineError> {
    buf.clear();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let n = match reader.by_ref().take(limit).read_until(b'\n', buf) {
        Ok(n) => n,
        Err(e) => return Err(LineError::Io(e.to_string())),
    };
    if n == 0 {
        return Ok(false);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    } else if buf.len() > max {
        return Err(LineError::TooLong);
    }
    Ok(true)
}

#[derive(Debug)]
pub(crate) enum LineError {
    TooLong,
    Io(String),
}

/// Marker error returned by [`GuardedInput`] when a token outgrows its cap.
#[derive(Debug)]
pub(crate) struct TokenTooLong(pub usize);

impl std::fmt::Display for TokenTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "markup or text longer than {} bytes", self.0)
    }
}

impl std::error::Error for TokenTooLong {}

/// Finds [`TokenTooLong`] behind an I/O error, if that is what it is.
pub(crate) fn token_too_long(e: &io::Error) -> Option<usize> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<TokenTooLong>())
        .map(|t| t.0)
}

const CHUNK: usize = 64 * 1024;

/// A `BufRead` adapter for the XML parsers.
///
/// quick-xml copies each event (a text run or a tag) into one buffer, so a
/// hostile file with a gigabyte of text between two `<` would make it
/// allocate a gigabyte. This adapter counts the bytes since the last `<` or
/// `>` and fails once they exceed the cap, which bounds that buffer. The CSV
/// parser uses it the same way with newlines.
///
/// It also transcodes Windows-1252 (a superset of ISO-8859-1 in practice)
/// to UTF-8 when the XML declaration asks for it: quick-xml is built without
/// its `encoding` feature and only reads UTF-8.
pub(crate) struct GuardedInput<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    latin1: bool,
    since_delim: usize,
    max_token: usize,
    delimiters: &'static [u8],
}

impl<R: BufRead> GuardedInput<R> {
    /// For XML: tokens end at `<` or `>`.
    pub(crate) fn new(inner: R, max_token: usize, latin1: bool) -> Self {
        GuardedInput {
            inner,
            buf: vec![0; CHUNK],
            pos: 0,
            filled: 0,
            latin1,
            since_delim: 0,
            max_token,
            delimiters: b"<>",
        }
    }

    /// Without transcoding, with other token ends (`\n` for CSV lines).
    pub(crate) fn with_delimiters(inner: R, max_token: usize, delimiters: &'static [u8]) -> Self {
        GuardedInput {
            delimiters,
            ..GuardedInput::new(inner, max_token, false)
        }
    }

    fn refill(&mut self) -> io::Result<()> {
        self.pos = 0;
        self.filled = 0;
        if !self.latin1 {
            loop {
                match self.inner.read(&mut self.buf) {
                    Ok(n) => {
                        self.filled = n;
                        return Ok(());
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        }
        let src = loop {
            match self.inner.fill_buf() {
                Ok(s) => break s,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        let mut used = 0;
        let mut out = 0;
        for &b in src {
            let mut tmp = [0u8; 4];
            let encoded = windows_1252(b).encode_utf8(&mut tmp).as_bytes();
            let Some(dst) = self.buf.get_mut(out..out + encoded.len()) else {
                break;
            };
            dst.copy_from_slice(encoded);
            out += encoded.len();
            used += 1;
        }
        self.inner.consume(used);
        self.filled = out;
        Ok(())
    }
}

impl<R: BufRead> Read for GuardedInput<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), avail.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for GuardedInput<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.since_delim > self.max_token {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                TokenTooLong(self.max_token),
            ));
        }
        if self.pos >= self.filled {
            self.refill()?;
        }
        Ok(self.buf.get(self.pos..self.filled).unwrap_or(&[]))
    }

    fn consume(&mut self, amt: usize) {
        let end = self.pos.saturating_add(amt).min(self.filled);
        let taken = self.buf.get(self.pos..end).unwrap_or(&[]);
        match taken.iter().rposition(|b| self.delimiters.contains(b)) {
            Some(i) => self.since_delim = taken.len() - 1 - i,
            None => self.since_delim = self.since_delim.saturating_add(taken.len()),
        }
        self.pos = end;
    }
}

/// Windows-1252 to Unicode. Bytes 0x80–0x9F are the printable characters
/// Windows puts there (what WHATWG does for "iso-8859-1" too).
pub(crate) fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}',
        '\u{017D}', '\u{008F}', '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}',
        '\u{2022}', '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}',
        '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
    ];
    if (0x80..0xA0).contains(&b) {
        HIGH.get(usize::from(b - 0x80))
            .copied()
            .unwrap_or('\u{FFFD}')
    } else {
        char::from(b)
    }
}

/// Decodes bytes as UTF-8; each byte that is not part of a valid UTF-8
/// sequence is read as Windows-1252 (spreadsheet exports saved by Excel on
/// French or English Windows, registry strings osquery passes through).
///
/// Never U+FFFD: replacing would make `SRV-\xe9TAGE1` and `SRV-\xe8TAGE1`
/// the same name, hence the same machine. Valid UTF-8 around a stray byte
/// stays as it is.
pub(crate) fn decode_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + bytes.len() / 2);
            for chunk in bytes.utf8_chunks() {
                out.push_str(chunk.valid());
                out.extend(chunk.invalid().iter().map(|&b| windows_1252(b)));
            }
            std::borrow::Cow::Owned(out)
        }
    }
}

/// Reads the encoding named in an XML declaration at the start of `head`.
pub(crate) fn declared_xml_encoding(head: &[u8]) -> Option<String> {
    let head = head.get(..head.len().min(512))?;
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(head.get(..end)?).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl
        .get(at + "encoding".len()..)?
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let value = rest.get(1..)?;
    let close = value.find(quote)?;
    Some(value.get(..close)?.to_ascii_lowercase())
}

/// Whether a declared encoding is one we transcode from Windows-1252.
pub(crate) fn is_latin1_label(label: &str) -> bool {
    matches!(
        label,
        "iso-8859-1"
            | "iso8859-1"
            | "iso_8859-1"
            | "latin1"
            | "latin-1"
            | "l1"
            | "windows-1252"
            | "cp1252"
            | "iso-8859-15"
            | "latin9"
            | "us-ascii"
            | "ascii"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_boms_and_utf16() {
        assert_eq!(sniff(b"\xEF\xBB\xBF<a/>"), Sniffed::Utf8Bom);
        assert_eq!(sniff(b"\xFF\xFE<\0a\0"), Sniffed::Utf16);
        assert_eq!(sniff(b"<\0a\0"), Sniffed::Utf16);
        assert_eq!(sniff(b"\0<\0a"), Sniffed::Utf16);
        assert_eq!(sniff(b"<a>"), Sniffed::Utf8);
        assert_eq!(sniff(b""), Sniffed::Utf8);
    }

    #[test]
    fn capped_lines() {
        let mut r = io::Cursor::new(b"ab\r\ncdef\n\nxyz".to_vec());
        let mut buf = Vec::new();
        assert!(read_line_capped(&mut r, &mut buf, 4).unwrap());
        assert_eq!(buf, b"ab");
        assert!(read_line_capped(&mut r, &mut buf, 4).unwrap());
        assert_eq!(buf, b"cdef");
        assert!(read_line_capped(&mut r, &mut buf, 4).unwrap());
        assert_eq!(buf, b"");
        assert!(read_line_capped(&mut r, &mut buf, 4).unwrap());
        assert_eq!(buf, b"xyz");
        assert!(!read_line_capped(&mut r, &mut buf, 4).unwrap());
        let mut r = io::Cursor::new(b"abcdefgh\n".to_vec());
        assert!(matches!(
            read_line_capped(&mut r, &mut buf, 4),
            Err(LineError::TooLong)
        ));
        assert!(buf.len() <= 5);
    }

    #[test]
    fn guarded_input_transcodes_and_caps() {
        let mut g = GuardedInput::new(&b"<a>caf\xe9 \x80</a>"[..], 100, true);
        let mut s = String::new();
        g.read_to_string(&mut s).unwrap();
        assert_eq!(s, "<a>café €</a>");
        let long = [b'x'; 1000];
        let mut g = GuardedInput::new(&long[..], 10, false);
        let mut out = Vec::new();
        let err = g.read_to_end(&mut out).unwrap_err();
        assert_eq!(token_too_long(&err), Some(10));
    }

    #[test]
    fn invalid_bytes_are_read_as_windows_1252_never_replaced() {
        assert_eq!(decode_text(b"SRV-\xe9TAGE1"), "SRV-\u{e9}TAGE1");
        assert_eq!(decode_text(b"SRV-\xe8TAGE1"), "SRV-\u{e8}TAGE1");
        // valid UTF-8 next to a stray byte is kept
        assert_eq!(decode_text("é \u{20ac}".as_bytes()), "é €");
        assert_eq!(decode_text(b"\xc3\xa9 \x80 \xe9"), "é € é");
        // a cut multi-byte sequence: each byte on its own
        assert_eq!(decode_text(b"a\xe2\x82"), "a\u{e2}\u{201a}");
    }

    #[test]
    fn reads_declared_encoding() {
        assert_eq!(
            declared_xml_encoding(b"<?xml version=\"1.0\" encoding='ISO-8859-1'?><a/>").as_deref(),
            Some("iso-8859-1")
        );
        assert_eq!(declared_xml_encoding(b"<?xml version=\"1.0\"?>"), None);
        assert_eq!(declared_xml_encoding(b"<a/>"), None);
    }
}
