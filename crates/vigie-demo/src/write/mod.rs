//! Writers of the inventory formats, and small text helpers they share.

pub(crate) mod csv_export;
pub(crate) mod glpi;
pub(crate) mod nmap;
pub(crate) mod osquery;
pub(crate) mod xml_agent;

use std::fmt::Write as _;
use vigie_core::Day;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// (day, hour, minute, second) of unix seconds.
pub(crate) fn civil(secs: i64) -> (Day, i64, i64, i64) {
    let day = Day::from_number(i32::try_from(secs.div_euclid(86_400)).unwrap_or(0));
    let rest = secs.rem_euclid(86_400);
    (day, rest / 3600, (rest / 60) % 60, rest % 60)
}

/// (year, month 1-12, day of month).
pub(crate) fn ymd(day: Day) -> (i32, u32, u32) {
    let d = day.date();
    (
        i32::from(d.year()),
        u32::try_from(d.month()).unwrap_or(1),
        u32::try_from(d.day()).unwrap_or(1),
    )
}

/// "2026-08-01 10:12:33" of unix seconds shifted by `offset` seconds.
pub(crate) fn local_iso(secs: i64, offset: i64) -> String {
    let (day, h, m, s) = civil(secs + offset);
    format!("{day} {h:02}:{m:02}:{s:02}")
}

/// "Sat Aug  1 10:12:33 2026 UTC", osquery's calendarTime.
pub(crate) fn calendar_time(secs: i64) -> String {
    let (day, h, m, s) = civil(secs);
    let (y, mo, d) = ymd(day);
    let wd = usize::try_from((day.number() + 3).rem_euclid(7)).unwrap_or(0);
    format!(
        "{} {} {d:>2} {h:02}:{m:02}:{s:02} {y} UTC",
        WEEKDAYS[wd],
        MONTHS[usize::try_from(mo.saturating_sub(1)).unwrap_or(0) % 12]
    )
}

/// Day number of the last Sunday of a month (month 3 or 10).
fn last_sunday(year: i32, month: u32) -> i32 {
    let last = Day::parse(&format!("{year:04}-{month:02}-31")).map_or(0, |d| d.number());
    let wd = (last + 3).rem_euclid(7); // Mon = 0 … Sun = 6
    last - (wd + 1).rem_euclid(7)
}

/// European summer time (UK and France): from the last Sunday of March to
/// the last Sunday of October, 01:00 UTC.
fn summer_time(secs: i64) -> bool {
    let (day, ..) = civil(secs);
    let (y, ..) = ymd(day);
    let begin = i64::from(last_sunday(y, 3)) * 86_400 + 3600;
    let end = i64::from(last_sunday(y, 10)) * 86_400 + 3600;
    secs >= begin && secs < end
}

/// UTC offset in seconds and as "+0100", for the locale.
pub(crate) fn local_offset(secs: i64, french: bool) -> (i64, &'static str, &'static str) {
    match (french, summer_time(secs)) {
        (false, false) => (0, "+0000", "GMT Standard Time"),
        (false, true) => (3600, "+0100", "GMT Summer Time"),
        (true, false) => (3600, "+0100", "Romance Standard Time"),
        (true, true) => (7200, "+0200", "Romance Daylight Time"),
    }
}

/// Appends `s` as a JSON string literal.
pub(crate) fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `"key":"value"` (with a leading comma unless `first`).
pub(crate) fn json_kv(out: &mut String, first: bool, key: &str, value: &str) {
    if !first {
        out.push(',');
    }
    json_str(out, key);
    out.push(':');
    json_str(out, value);
}

/// Appends XML-escaped text.
pub(crate) fn xml_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// `<TAG>value</TAG>` with indentation.
pub(crate) fn xml_el(out: &mut String, indent: usize, tag: &str, value: &str) {
    for _ in 0..indent {
        out.push_str("  ");
    }
    out.push('<');
    out.push_str(tag);
    out.push('>');
    xml_text(out, value);
    out.push_str("</");
    out.push_str(tag);
    out.push_str(">\n");
}

/// Dotted netmask of a prefix length.
pub(crate) fn netmask(len: u8) -> std::net::Ipv4Addr {
    let bits = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    };
    std::net::Ipv4Addr::from(bits)
}

/// "M/D/YYYY", as WMI prints InstalledOn.
pub(crate) fn us_date(day: Day) -> String {
    let (y, m, d) = ymd(day);
    format!("{m}/{d}/{y}")
}

/// "DD/MM/YYYY", as FusionInventory prints INSTALLDATE.
pub(crate) fn fr_date(day: Day) -> String {
    let (y, m, d) = ymd(day);
    format!("{d:02}/{m:02}/{y}")
}

/// "YYYYMMDD", as the osquery programs table prints install_date.
pub(crate) fn compact_date(day: Day) -> String {
    let (y, m, d) = ymd(day);
    format!("{y:04}{m:02}{d:02}")
}

/// "hostname-YYYY-MM-DD-HH-MM-SS", the device id FusionInventory/GLPI
/// agents send.
pub(crate) fn device_id(hostname: &str, secs_local: i64) -> String {
    let (day, h, m, s) = civil(secs_local);
    let (y, mo, d) = ymd(day);
    format!("{hostname}-{y:04}-{mo:02}-{d:02}-{h:02}-{m:02}-{s:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        // 2024-01-31T10:00:00Z, a Wednesday.
        assert_eq!(calendar_time(1_706_695_200), "Wed Jan 31 10:00:00 2024 UTC");
        assert_eq!(local_iso(1_706_695_200, 3600), "2024-01-31 11:00:00");
        // 2026-03-29 is the last Sunday of March 2026.
        assert_eq!(
            Day::from_number(last_sunday(2026, 3)).to_string(),
            "2026-03-29"
        );
        let summer = Day::parse("2026-08-01").unwrap().start_second();
        assert_eq!(local_offset(summer, false).1, "+0100");
        assert_eq!(local_offset(summer, true).1, "+0200");
        let winter = Day::parse("2026-12-01").unwrap().start_second();
        assert_eq!(local_offset(winter, false).1, "+0000");
        assert_eq!(netmask(24).to_string(), "255.255.255.0");
        assert_eq!(netmask(27).to_string(), "255.255.255.224");
        assert_eq!(us_date(Day::parse("2026-07-08").unwrap()), "7/8/2026");
    }

    #[test]
    fn escaping() {
        let mut s = String::new();
        json_str(&mut s, "a\"b\\c\u{1}");
        assert_eq!(s, r#""a\"b\\c\u0001""#);
        let mut x = String::new();
        xml_text(&mut x, "GUY'S & <ST>");
        assert_eq!(x, "GUY&apos;S &amp; &lt;ST&gt;");
    }
}
