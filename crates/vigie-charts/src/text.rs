//! Escaping, number-to-coordinate formatting and text measurement.

use std::fmt::Write as _;

/// Escapes text for XML and HTML (content and attribute values): `& < > " '`.
///
/// Characters that are not allowed in XML 1.0 (control characters other than
/// tab, line feed and carriage return, and the non-characters U+FFFE/U+FFFF)
/// are dropped so the output is always well-formed.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Formats a coordinate rounded to one decimal, without a trailing `.0`.
pub(crate) fn c(v: f64) -> String {
    let mut s = String::new();
    push_c(&mut s, v);
    s
}

/// Appends a coordinate rounded to one decimal.
pub(crate) fn push_c(out: &mut String, v: f64) {
    if !v.is_finite() {
        out.push('0');
        return;
    }
    let v = v.clamp(-1e7, 1e7);
    let tenths = (v * 10.0).round() as i64;
    if tenths == 0 {
        out.push('0');
        return;
    }
    if tenths < 0 {
        out.push('-');
    }
    let a = tenths.unsigned_abs();
    let _ = write!(out, "{}", a / 10);
    if !a.is_multiple_of(10) {
        let _ = write!(out, ".{}", a % 10);
    }
}

/// Estimated advance width of a character in em, for a system sans-serif font.
fn char_em(ch: char) -> f64 {
    // Calibrated on DejaVu Sans (the widest common fallback of `system-ui`
    // on Linux), so that estimates err on the wide side.
    match ch {
        'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | 'I' => 0.3,
        ' ' => 0.32,
        'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '-' | '/' => 0.42,
        'm' | 'w' | 'M' | 'W' | '@' | '%' | '—' | '…' => 0.92,
        '0'..='9' => 0.64,
        'A'..='Z' => 0.72,
        c if c.is_ascii() => 0.61,
        c if (c as u32) >= 0x2E80 => 1.0,
        _ => 0.66,
    }
}

/// Estimated width in pixels of `s` rendered at `font_px`.
pub fn text_width(s: &str, font_px: f64) -> f64 {
    s.chars().map(char_em).sum::<f64>() * font_px
}

/// Shortens `s` with an ellipsis so that it fits in `max_px` at `font_px`.
pub fn truncate_to_width(s: &str, max_px: f64, font_px: f64) -> String {
    if text_width(s, font_px) <= max_px {
        return s.to_string();
    }
    let budget = max_px - char_em('…') * font_px;
    let mut used = 0.0;
    let mut out = String::new();
    for ch in s.chars() {
        let w = char_em(ch) * font_px;
        if used + w > budget {
            break;
        }
        used += w;
        out.push(ch);
    }
    let trimmed = out.trim_end().to_string();
    format!("{trimmed}…")
}

/// Greedy word wrap of `s` into at most `max_lines` lines of at most `max_px`;
/// `None` when it does not fit.
pub(crate) fn wrap(s: &str, max_px: f64, font_px: f64, max_lines: usize) -> Option<Vec<String>> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in s.split_whitespace() {
        let candidate = if cur.is_empty() {
            word.to_string()
        } else {
            format!("{cur} {word}")
        };
        if text_width(&candidate, font_px) <= max_px {
            cur = candidate;
        } else {
            if text_width(word, font_px) > max_px {
                return None;
            }
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
            }
            cur = word.to_string();
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    if lines.len() <= max_lines {
        Some(lines)
    } else {
        None
    }
}

/// FNV-1a, 64 bits: a stable hash for deterministic element ids.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn escapes_everything_dangerous() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(escape("a\u{0}b\u{1b}c\u{ffff}"), "abc");
        assert_eq!(escape("Hôpital Saint-Éloi"), "Hôpital Saint-Éloi");
    }

    #[test]
    fn coordinates_are_rounded() {
        assert_eq!(c(1.25), "1.3");
        assert_eq!(c(-0.04), "0");
        assert_eq!(c(12.0), "12");
        assert_eq!(c(-3.55), "-3.6");
        assert_eq!(c(f64::NAN), "0");
        assert_eq!(c(1e300), "10000000");
    }

    #[test]
    fn truncation_adds_ellipsis() {
        let s = truncate_to_width("Centre hospitalier universitaire de Bordeaux", 100.0, 12.0);
        assert!(s.ends_with('…'));
        assert!(text_width(&s, 12.0) <= 100.0 + 0.01);
        assert_eq!(truncate_to_width("CHU", 100.0, 12.0), "CHU");
    }

    #[test]
    fn wrapping() {
        assert_eq!(
            wrap("North East & Yorkshire", 100.0, 11.5, 2),
            Some(vec!["North East &".to_string(), "Yorkshire".to_string()])
        );
        assert_eq!(wrap("Supercalifragilistic", 50.0, 11.5, 2), None);
        assert_eq!(wrap("a b c d e f g h", 10.0, 11.5, 2), None);
        assert_eq!(wrap("", 10.0, 11.5, 2), Some(vec![]));
    }
}
