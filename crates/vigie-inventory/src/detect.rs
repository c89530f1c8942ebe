//! Recognising an inventory format from the first bytes of a file.

use crate::Format;
use crate::input::{Sniffed, sniff};
use std::borrow::Cow;

/// How much of the head is looked at.
pub const DETECT_BYTES: usize = 64 * 1024;

/// Decodes the head of a UTF-16 file well enough to sniff it; the parsers
/// still refuse UTF-16, with a clear error.
fn utf16_head(head: &[u8]) -> String {
    let (be, body) = match head {
        [0xFE, 0xFF, rest @ ..] => (true, rest),
        [0xFF, 0xFE, rest @ ..] => (false, rest),
        [0, _, ..] => (true, head),
        _ => (false, head),
    };
    let units = body.chunks_exact(2).map(|c| match c {
        [a, b] if be => u16::from_be_bytes([*a, *b]),
        [a, b] => u16::from_le_bytes([*a, *b]),
        _ => 0xFFFD,
    });
    char::decode_utf16(units)
        .map(|c| c.unwrap_or('\u{FFFD}'))
        .collect()
}

/// Sniffs the format of a file from its first bytes (at most
/// [`DETECT_BYTES`] are read). Handles a UTF-8 BOM, and recognises UTF-16
/// files so that parsing them reports the encoding problem.
///
/// FusionInventory and OCS XML share one protocol; when the head does not
/// say which agent wrote it, `FusionXml` is returned. Either way the parser
/// sets [`vigie_core::Observation::source`] from the content.
pub fn detect(head: &[u8]) -> Option<Format> {
    let head = head.get(..head.len().min(DETECT_BYTES)).unwrap_or(head);
    let text: Cow<'_, str> = match sniff(head) {
        Sniffed::Utf16 => Cow::Owned(utf16_head(head)),
        Sniffed::Utf8Bom => String::from_utf8_lossy(head.get(3..).unwrap_or_default()),
        Sniffed::Utf8 => String::from_utf8_lossy(head),
    };
    let t = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if t.starts_with('<') {
        return detect_xml(t);
    }
    if t.starts_with('{') {
        return detect_json(t);
    }
    detect_csv(t)
}

fn detect_xml(t: &str) -> Option<Format> {
    if t.contains("<nmaprun") || t.contains("<!DOCTYPE nmaprun") {
        return Some(Format::Nmap);
    }
    if t.contains("<REQUEST") {
        let upper_markers = ["OCS-NG", "OCS_NG", "OCSINVENTORY", "OCS INVENTORY"];
        let upper = t.to_ascii_uppercase();
        if upper_markers.iter().any(|m| upper.contains(m)) {
            return Some(Format::OcsXml);
        }
        return Some(Format::FusionXml);
    }
    None
}

fn detect_json(t: &str) -> Option<Format> {
    if t.contains("\"hostIdentifier\"") || t.contains("\"diffResults\"") {
        return Some(Format::Osquery);
    }
    if t.contains("\"deviceid\"") || t.contains("\"itemtype\"") || t.contains("\"content\"") {
        return Some(Format::GlpiJson);
    }
    if t.contains("\"snapshot\"") || t.contains("\"unixTime\"") || t.contains("\"columns\"") {
        return Some(Format::Osquery);
    }
    None
}

fn detect_csv(t: &str) -> Option<Format> {
    let line = t.lines().next()?.trim_end_matches('\r');
    if line.is_empty() || line.chars().any(|c| c.is_control() && c != '\t') {
        return None;
    }
    let delimiters = [',', ';', '\t', '|'];
    let has_delimiter = line.chars().any(|c| delimiters.contains(&c));
    // A header is words, not markup or JSON.
    let plausible = !line.starts_with(['<', '{', '[']);
    (has_delimiter && plausible).then_some(Format::Csv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format() {
        assert_eq!(
            detect(b"<?xml version=\"1.0\"?>\n<!DOCTYPE nmaprun>\n<nmaprun>"),
            Some(Format::Nmap)
        );
        assert_eq!(
            detect(b"\xEF\xBB\xBF<?xml version=\"1.0\"?><REQUEST><CONTENT>"),
            Some(Format::FusionXml)
        );
        assert_eq!(
            detect(b"<REQUEST><CONTENT><VERSIONCLIENT>OCS-NG_WINDOWS_AGENT_v2.9</VERSIONCLIENT>"),
            Some(Format::OcsXml)
        );
        assert_eq!(
            detect(br#"{"name":"q","hostIdentifier":"h","snapshot":[]}"#),
            Some(Format::Osquery)
        );
        assert_eq!(
            detect(b"{\n  \"action\": \"inventory\",\n  \"content\": {"),
            Some(Format::GlpiJson)
        );
        assert_eq!(
            detect(b"Device name,Serial number,OS version\r\nPC1,X,10.0.19045\r\n"),
            Some(Format::Csv)
        );
        assert_eq!(detect(b"hello world"), None);
        assert_eq!(detect(b""), None);
        assert_eq!(detect(b"\x00\x01\x02,"), None);
    }

    #[test]
    fn detects_through_utf16() {
        let text = "<?xml version=\"1.0\"?><REQUEST>";
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(detect(&le), Some(Format::FusionXml));
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(detect(&be), Some(Format::FusionXml));
    }
}
