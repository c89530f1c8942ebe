//! Text rendering shared by the channels: capping, dates, HTML escaping.

use crate::alert::{Alert, AlertKind};

/// `2026-03-01 08:30:00 UTC` for unix seconds (proleptic Gregorian, UTC).
pub fn format_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3_600,
        (rem % 3_600) / 60,
        rem % 60
    )
}

/// How much of an alert body a channel sends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cap {
    pub lines: usize,
    pub bytes: usize,
}

/// Matrix events are limited to 64 KiB in total, HTML included.
pub(crate) const MATRIX_CAP: Cap = Cap {
    lines: 60,
    bytes: 16 * 1024,
};
pub(crate) const MAIL_CAP: Cap = Cap {
    lines: 500,
    bytes: 64 * 1024,
};
pub(crate) const WEBHOOK_CAP: Cap = Cap {
    lines: 500,
    bytes: 64 * 1024,
};

/// Keeps at most `cap.lines` lines and `cap.bytes` bytes of `text` (on
/// character boundaries), then says how many lines were left out.
pub(crate) fn cap_text(text: &str, cap: Cap) -> String {
    let all: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    let mut kept = 0usize;
    for line in &all {
        if kept >= cap.lines {
            break;
        }
        let extra = line.len() + usize::from(kept > 0);
        if out.len() + extra > cap.bytes {
            // Keep a truncated part of this line if nothing was kept yet.
            if kept == 0 {
                let mut end = cap.bytes.min(line.len());
                while end > 0 && !line.is_char_boundary(end) {
                    end -= 1;
                }
                out.push_str(line.get(..end).unwrap_or_default());
                out.push('…');
                kept = 1;
            }
            break;
        }
        if kept > 0 {
            out.push('\n');
        }
        out.push_str(line);
        kept += 1;
    }
    let left = all.len().saturating_sub(kept);
    if left > 0 {
        out.push_str(&format!(
            "\n… and {left} more line{}",
            if left == 1 { "" } else { "s" }
        ));
    }
    out
}

/// `A, B, C … and 12 more`.
pub(crate) fn list_capped(items: &[String], max: usize) -> String {
    let shown: Vec<&str> = items.iter().take(max).map(String::as_str).collect();
    let mut s = shown.join(", ");
    if items.len() > max {
        s.push_str(&format!(" … and {} more", items.len() - max));
    }
    s
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The heading word of a message: the severity, or RESOLVED / RECOVERED.
pub(crate) fn heading(alert: &Alert) -> &'static str {
    match alert.kind {
        AlertKind::Resolved => "RESOLVED",
        AlertKind::Recovered => "RECOVERED",
        _ => alert.severity.label(),
    }
}

/// The line that tells a route's readers what its rate limit held back.
pub(crate) fn suppressed_line(count: u64, since: i64) -> String {
    format!(
        "{count} alert{} {} suppressed by the rate limit since {}.",
        if count == 1 { "" } else { "s" },
        if count == 1 { "was" } else { "were" },
        format_utc(since)
    )
}

/// Where / when / which key, as plain-text lines.
pub(crate) fn footer_lines(alert: &Alert) -> Vec<String> {
    let mut lines = Vec::new();
    if !alert.establishments.is_empty() {
        lines.push(format!(
            "Establishments ({}): {}",
            alert.establishments.len(),
            list_capped(&alert.establishments, 20)
        ));
    }
    if !alert.regions.is_empty() {
        lines.push(format!("Regions: {}", list_capped(&alert.regions, 20)));
    }
    lines.push(format!("Time: {}", format_utc(alert.at)));
    lines.push(format!(
        "Reference: {} ({}, {})",
        alert.key, alert.kind, alert.severity
    ));
    lines
}

/// The plain-text message body: capped details, footer, suppression note.
pub(crate) fn plain_text(alert: &Alert, cap: Cap, suppressed: Option<&str>) -> String {
    let mut out = String::new();
    let body = cap_text(alert.body.trim_end(), cap);
    if !body.is_empty() {
        out.push_str(&body);
        out.push_str("\n\n");
    }
    out.push_str(&footer_lines(alert).join("\n"));
    if let Some(note) = suppressed {
        out.push_str("\n\n");
        out.push_str(note);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_utc(-1), "1969-12-31 23:59:59 UTC");
    }

    #[test]
    fn capping() {
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let c = cap_text(
            &text,
            Cap {
                lines: 60,
                bytes: 16 * 1024,
            },
        );
        assert!(c.starts_with("line 0\nline 1\n"));
        assert!(c.contains("line 59\n… and 40 more lines"));
        assert!(!c.contains("line 60"));
        let c = cap_text(
            &text,
            Cap {
                lines: 1000,
                bytes: 20,
            },
        );
        assert_eq!(c, "line 0\nline 1\nline 2\n… and 97 more lines");
        let long = "é".repeat(100);
        let c = cap_text(
            &long,
            Cap {
                lines: 10,
                bytes: 5,
            },
        );
        assert_eq!(c, "éé…");
        assert_eq!(
            cap_text(
                "a\nb",
                Cap {
                    lines: 10,
                    bytes: 100
                }
            ),
            "a\nb"
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(
            html_escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
