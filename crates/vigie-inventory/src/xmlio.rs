//! quick-xml set-up shared by the Fusion/OCS and nmap parsers.

use crate::ParseOptions;
use crate::error::{Location, ParseError};
use crate::input::{GuardedInput, declared_xml_encoding, is_latin1_label, prepare, token_too_long};
use quick_xml::Reader;
use quick_xml::events::{BytesRef, BytesStart};
use std::io::BufRead;

/// Longest text value kept for one element. Every value we read (names,
/// versions, dates) is far shorter; the cap keeps a hostile file from
/// growing our text buffer through many small text events.
pub(crate) const MAX_VALUE: usize = 8 * 1024;

/// Builds a reader over `input`: skips a UTF-8 BOM, rejects UTF-16, and
/// transcodes when the declaration names a Latin-1 family encoding.
pub(crate) fn open<R: BufRead>(
    mut input: R,
    opts: &ParseOptions,
) -> Result<Reader<GuardedInput<R>>, ParseError> {
    prepare(&mut input)?;
    let declared = match input.fill_buf() {
        Ok(head) => declared_xml_encoding(head),
        Err(e) => {
            return Err(ParseError::new(
                Location::Byte(0),
                format!("read error: {e}"),
            ));
        }
    };
    let latin1 = match declared.as_deref() {
        None | Some("utf-8" | "utf8") => false,
        Some(label) if is_latin1_label(label) => true,
        Some(label) if label.starts_with("utf-16") => return Err(crate::input::utf16_error()),
        Some(label) => {
            return Err(ParseError::new(
                Location::Byte(0),
                format!("unsupported xml encoding {label:?}; convert the file to utf-8"),
            ));
        }
    };
    let guarded = GuardedInput::new(input, opts.max_line_bytes, latin1);
    let mut reader = Reader::from_reader(guarded);
    let config = reader.config_mut();
    config.check_end_names = true;
    Ok(reader)
}

/// Converts a quick-xml error into ours, naming the byte offset.
pub(crate) fn error<R>(reader: &Reader<R>, e: &quick_xml::Error) -> ParseError {
    if let quick_xml::Error::Io(io) = e
        && let Some(max) = token_too_long(io)
    {
        return ParseError::new(
            Location::Byte(reader.buffer_position()),
            format!("xml text or tag longer than {max} bytes"),
        );
    }
    match e {
        // quick-xml only tracks an error position for syntax errors.
        quick_xml::Error::Encoding(_) => ParseError::new(
            Location::Byte(reader.buffer_position()),
            "input is not valid utf-8; declare its encoding (e.g. encoding=\"ISO-8859-1\") or convert it",
        ),
        other => ParseError::new(
            Location::Byte(reader.error_position()),
            format!("invalid xml: {}", other.to_string().to_lowercase()),
        ),
    }
}

/// The replacement text of an entity or character reference; unknown
/// entities (only a DTD could define them, and we never read DTDs) give
/// nothing. A reference to a character XML forbids (`&#0;`, `&#27;`) gives
/// that character, escaped later like a raw one; one that names no
/// character at all (`&#xD800;`) is kept as written. Neither is dropped,
/// so such a name never becomes another machine's.
pub(crate) fn resolve_ref(r: &BytesRef<'_>) -> Option<String> {
    resolve_name(r)
}

/// [`resolve_ref`] on the text between `&` and `;`.
fn resolve_name(name: &str) -> Option<String> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix('x') {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => number.parse::<u32>().ok(),
        };
        return Some(match code.and_then(char::from_u32) {
            Some(c) => c.to_string(),
            None => format!("&{name};"),
        });
    }
    quick_xml::escape::resolve_predefined_entity(name).map(str::to_string)
}

/// Attribute value normalisation (XML 1.0: TAB, CR, LF become spaces) with
/// references resolved by [`resolve_name`], for the values quick-xml
/// refuses (a forbidden character or an unknown entity in a reference).
fn lenient_attr_value(raw: &str) -> String {
    let spaces = |s: &str| s.replace(['\t', '\r', '\n'], " ");
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some((before, after)) = rest.split_once('&') {
        out.push_str(&spaces(before));
        match after.split_once(';') {
            Some((name, tail)) => {
                out.push_str(&resolve_name(name).unwrap_or_default());
                rest = tail;
            }
            None => {
                out.push('&');
                rest = after;
                break;
            }
        }
    }
    out.push_str(&spaces(rest));
    out
}

/// Appends text to a value buffer, within [`MAX_VALUE`].
pub(crate) fn push_text(buf: &mut String, text: &str) {
    let room = MAX_VALUE.saturating_sub(buf.len());
    if room == 0 {
        return;
    }
    if text.len() <= room {
        buf.push_str(text);
    } else {
        let mut end = room;
        while end > 0 && !text.is_char_boundary(end) {
            end -= 1;
        }
        buf.push_str(text.get(..end).unwrap_or(""));
    }
}

/// The value of one attribute, unescaped. References quick-xml refuses are
/// resolved as in text (never a reason to lose the attribute).
pub(crate) fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    for a in e.attributes().flatten() {
        if a.key.as_ref() == name {
            return Some(
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_or_else(|_| lenient_attr_value(&a.value), |v| v.into_owned()),
            );
        }
    }
    None
}

/// The iteration protocol both XML parsers share: open the input lazily
/// (so construction cannot fail), step until the end, and stop for good
/// after the first error.
/// The parts of a parser the shared iteration needs: done flag, input not
/// yet opened, open reader, options.
pub(crate) type Io<'a, R> = (
    &'a mut bool,
    &'a mut Option<R>,
    &'a mut Option<Reader<GuardedInput<R>>>,
    &'a ParseOptions,
);

pub(crate) trait XmlSteps<R: BufRead> {
    fn io(&mut self) -> Io<'_, R>;
    fn step(&mut self) -> Result<Option<vigie_core::Observation>, ParseError>;

    fn next_observation(&mut self) -> Option<Result<vigie_core::Observation, ParseError>> {
        let (done, pending, reader, opts) = self.io();
        if *done {
            return None;
        }
        if let Some(input) = pending.take() {
            match open(input, opts) {
                Ok(r) => *reader = Some(r),
                Err(e) => {
                    *done = true;
                    return Some(Err(e));
                }
            }
        }
        let result = self.step();
        let (done, _, reader, _) = self.io();
        match result {
            Ok(Some(obs)) => Some(Ok(obs)),
            Ok(None) => {
                *done = true;
                None
            }
            Err(e) => {
                *done = true;
                *reader = None;
                Some(Err(e))
            }
        }
    }
}

/// The end of an XML input: every element closed and the expected root seen.
pub(crate) fn check_end(
    pos: u64,
    open_elements: usize,
    seen_root: bool,
    no_root: &str,
) -> Result<(), ParseError> {
    if open_elements > 0 {
        return Err(ParseError::new(
            crate::error::Location::Byte(pos),
            format!("unexpected end of xml ({open_elements} elements left open)"),
        ));
    }
    if !seen_root {
        return Err(ParseError::new(crate::error::Location::Byte(pos), no_root));
    }
    Ok(())
}
