//! Small, forgiving converters for the values inventories carry: dates in
//! many locales, addresses, MACs, KB ids.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::Offset;
use std::net::IpAddr;

/// Trims a value and drops it when empty.
pub(crate) fn non_empty(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}

/// Parses a UTC offset as inventories print it: "+0200", "+02:00", "-05".
pub(crate) fn parse_offset(s: &str) -> Option<Offset> {
    let s = s.trim();
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, s.get(1..)?),
        b'-' => (-1, s.get(1..)?),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !(digits.len() == 2 || digits.len() == 4) {
        return None;
    }
    let h: i32 = digits.get(..2)?.parse().ok()?;
    let m: i32 = digits
        .get(2..)
        .filter(|m| !m.is_empty())
        .map_or(Some(0), |m| m.parse().ok())?;
    if h > 23 || m > 59 {
        return None;
    }
    Offset::from_seconds(sign * (h * 3600 + m * 60)).ok()
}

/// Splits text into its runs of ASCII digits (at most 8 runs, each at most
/// 9 digits so they fit in a u32), and notes an AM/PM marker.
/// Runs of ASCII digits in a date text: (value, digit count) each.
#[derive(Default)]
struct DigitRuns {
    runs: [(u32, usize); 8],
    len: usize,
    /// `Some(true)` for PM, `Some(false)` for AM.
    pm: Option<bool>,
}

impl DigitRuns {
    fn as_slice(&self) -> &[(u32, usize)] {
        self.runs.get(..self.len).unwrap_or(&[])
    }
}

/// Splits text into its runs of ASCII digits (at most 8 runs, each at most
/// 9 digits so they fit in a u32), and notes an AM/PM marker. No allocation:
/// this runs once per hotfix row.
fn digit_runs(s: &str) -> Option<DigitRuns> {
    let mut out = DigitRuns::default();
    let mut cur: Option<(u32, usize)> = None;
    let mut prev = 0u8;
    for b in s.bytes().chain(std::iter::once(b' ')) {
        if b.is_ascii_digit() {
            let (v, n) = cur.unwrap_or((0, 0));
            if n >= 9 {
                return None;
            }
            cur = Some((v * 10 + u32::from(b - b'0'), n + 1));
        } else {
            if let Some(run) = cur.take() {
                *out.runs.get_mut(out.len)? = run;
                out.len += 1;
            }
            if b.eq_ignore_ascii_case(&b'm') {
                if prev.eq_ignore_ascii_case(&b'p') {
                    out.pm = Some(true);
                } else if prev.eq_ignore_ascii_case(&b'a') {
                    out.pm = Some(false);
                }
            }
        }
        prev = b;
    }
    Some(out)
}

/// Reads a civil (zone-less) date and time in the shapes agents and
/// spreadsheet exports use: `2024-01-31 10:00:00`, `2024-01-31T10:00`,
/// `31/01/2024 10:00`, `1/31/2024 10:00:00 AM`, `20240131`. When day and
/// month are both ≤ 12, `day_first` decides.
pub(crate) fn parse_civil(s: &str, day_first: bool) -> Option<DateTime> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    let found = digit_runs(s)?;
    let pm = found.pm;
    let (&(first, first_len), rest) = found.as_slice().split_first()?;
    let (y, mo, d, time) = if first_len == 8 {
        (first / 10000, (first / 100) % 100, first % 100, rest)
    } else if first_len == 4 {
        let (&(mo, _), rest) = rest.split_first()?;
        let (&(d, _), rest) = rest.split_first()?;
        (first, mo, d, rest)
    } else {
        let (&(b, _), rest) = rest.split_first()?;
        let (&(y, y_len), rest) = rest.split_first()?;
        if y_len != 4 {
            return None;
        }
        let a = first;
        let (d, mo) = if a > 12 {
            (a, b)
        } else if b > 12 || !day_first {
            (b, a)
        } else {
            (a, b)
        };
        (y, mo, d, rest)
    };
    let mut t = time.iter().map(|r| r.0);
    let mut h = t.next().unwrap_or(0);
    let mi = t.next().unwrap_or(0);
    let sec = t.next().unwrap_or(0);
    match pm {
        Some(true) if h < 12 => h += 12,
        Some(false) if h == 12 => h = 0,
        _ => {}
    }
    let narrow = |v: u32| i8::try_from(v).ok();
    DateTime::new(
        i16::try_from(y).ok()?,
        narrow(mo)?,
        narrow(d)?,
        narrow(h)?,
        narrow(mi)?,
        narrow(sec.min(59))?,
        0,
    )
    .ok()
}

/// Unix seconds as an instant. Values beyond what a timestamp can hold
/// (years -9999 to 9999) saturate to its ends instead of vanishing: a clock
/// set to year 10000 is then seen as future-dated by the ingest, not taken
/// for "no time given".
pub(crate) fn timestamp_from_seconds(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap_or(if seconds < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// Integer seconds written as text ("1706695200", "-5"), saturating at the
/// ends of `i64` when longer.
pub(crate) fn parse_seconds(s: &str) -> Option<i64> {
    let t = s.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match digits.parse::<i64>() {
        Ok(n) if negative => -n,
        Ok(n) => n,
        Err(_) if negative => i64::MIN,
        Err(_) => i64::MAX,
    })
}

/// Reads a timestamp: RFC 3339 with an offset, or a civil date-time taken
/// in `offset` (UTC when unknown), or Unix seconds. A date in a year after
/// 9999 gives the latest timestamp (see [`timestamp_from_seconds`]).
pub(crate) fn parse_timestamp(
    s: &str,
    offset: Option<Offset>,
    day_first: bool,
) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Some(ts);
    }
    // Unix seconds: nine digits or more (eight are a yyyymmdd date), or negative.
    let digits = s.strip_prefix('-').unwrap_or(s);
    if (digits.len() >= 9 || digits.len() < s.len())
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        return parse_seconds(s).map(timestamp_from_seconds);
    }
    // "10000-01-01T00:00:00Z": no clock reads that, but it is not "no time".
    let unsigned = s.strip_prefix('+').unwrap_or(s);
    let year_digits = unsigned.bytes().take_while(u8::is_ascii_digit).count();
    if year_digits >= 5 && unsigned.as_bytes().get(year_digits) == Some(&b'-') {
        return Some(Timestamp::MAX);
    }
    let dt = parse_civil(s, day_first)?;
    offset.unwrap_or(Offset::UTC).to_timestamp(dt).ok()
}

pub(crate) fn parse_date(s: &str, day_first: bool) -> Option<Date> {
    parse_civil(s, day_first).map(|dt| dt.date())
}

/// Reads the timestamp FusionInventory and GLPI agents append to a device id:
/// `pc-42.example.org-2017-04-18-09-26-44`.
pub(crate) fn deviceid_time(deviceid: &str, offset: Option<Offset>) -> Option<Timestamp> {
    let parts: Vec<&str> = deviceid.trim().rsplitn(7, '-').collect();
    if parts.len() < 7 {
        return None;
    }
    let mut nums = [0u32; 6];
    for (slot, p) in nums.iter_mut().zip(parts.iter().take(6).rev()) {
        if p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = p.parse().ok()?;
    }
    let [y, mo, d, h, mi, s] = nums;
    let n = |v: u32| i8::try_from(v).ok();
    let dt = DateTime::new(
        i16::try_from(y).ok()?,
        n(mo)?,
        n(d)?,
        n(h)?,
        n(mi)?,
        n(s)?,
        0,
    )
    .ok()?;
    offset.unwrap_or(Offset::UTC).to_timestamp(dt).ok()
}

/// The host part of such a device id, when it has the timestamp suffix.
pub(crate) fn deviceid_host(deviceid: &str) -> Option<String> {
    deviceid_time(deviceid, None)?;
    let host = deviceid.trim().rsplitn(7, '-').nth(6)?;
    non_empty(host).map(str::to_string)
}

/// Parses an address as agents print it, dropping the ones that say nothing
/// about where a host is: loopback, unspecified, link-local.
pub(crate) fn useful_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s.split(['%', '/']).next().unwrap_or(s);
    let ip: IpAddr = s.parse().ok()?;
    let useless = ip.is_loopback()
        || ip.is_unspecified()
        || match ip {
            IpAddr::V4(v4) => v4.is_link_local() || v4.is_broadcast(),
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
        };
    (!useless).then_some(ip)
}

/// Most entries kept in the small per-host lists (addresses, MACs, SMB
/// dialects). Real hosts have a handful; the cap keeps the linear
/// duplicate check cheap on hostile input.
pub(crate) const MAX_SMALL_LIST: usize = 1024;

/// Appends unless already present or the list is full.
pub(crate) fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if list.len() < MAX_SMALL_LIST && !list.contains(&item) {
        list.push(item);
    }
}

/// Removes repeated hotfixes (the same KB listed by WMI and the registry),
/// keeping the first.
pub(crate) fn dedup_hotfixes(list: &mut Vec<vigie_core::Hotfix>) {
    let mut seen = std::collections::HashSet::new();
    list.retain(|h| seen.insert(h.id.clone()));
}

/// Normalises a MAC address to lowercase `aa:bb:cc:dd:ee:ff`; rejects
/// malformed and all-zero ones.
pub(crate) fn normalise_mac(s: &str) -> Option<String> {
    let hex: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    let separators_ok = s
        .trim()
        .chars()
        .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '-' | '.'));
    if hex.len() != 12 || !separators_ok || hex.bytes().all(|b| b == b'0') {
        return None;
    }
    let lower = hex.to_ascii_lowercase();
    let mut out = String::with_capacity(17);
    for (i, c) in lower.chars().enumerate() {
        if i > 0 && i % 2 == 0 {
            out.push(':');
        }
        out.push(c);
    }
    Some(out)
}

/// Every KB id ("KB" + 6 to 8 digits) in a text, in order, without repeats.
pub(crate) fn kbs_in(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i + 2 < bytes.len() {
        let k = bytes.get(i).is_some_and(|b| b.eq_ignore_ascii_case(&b'k'));
        let b = bytes
            .get(i + 1)
            .is_some_and(|b| b.eq_ignore_ascii_case(&b'b'));
        if k && b {
            let start = i + 2;
            let mut end = start;
            while bytes.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
            if (6..=8).contains(&(end - start))
                && let Some(digits) = text.get(start..end)
            {
                push_unique(&mut out, format!("KB{digits}"));
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Whether a string looks like a UUID (osquery's host identifier can be one).
pub(crate) fn looks_like_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_in_many_shapes() {
        let d = |s: &str, df| parse_date(s, df).map(|d| d.to_string());
        assert_eq!(d("2024-01-31", true).as_deref(), Some("2024-01-31"));
        assert_eq!(d("11/05/2017", true).as_deref(), Some("2017-05-11"));
        assert_eq!(d("5/11/2017", false).as_deref(), Some("2017-05-11"));
        assert_eq!(d("31/01/2024", false).as_deref(), Some("2024-01-31"));
        assert_eq!(d("1/31/2024", true).as_deref(), Some("2024-01-31"));
        assert_eq!(d("20170511", true).as_deref(), Some("2017-05-11"));
        assert_eq!(
            d("2017/05/11 00:00:00", true).as_deref(),
            Some("2017-05-11")
        );
        assert_eq!(d("13/13/2024", true), None);
        assert_eq!(d("", true), None);
        assert_eq!(d("01d2ca1d4d4fb6a0", true), None);
        let t = parse_civil("1/31/2024 1:05:09 PM", false).unwrap();
        assert_eq!(t.to_string(), "2024-01-31T13:05:09");
    }

    #[test]
    fn timestamps_with_offsets() {
        let off = parse_offset("+0200");
        let ts = parse_timestamp("2017-05-15 18:38:07", off, true).unwrap();
        assert_eq!(ts.to_string(), "2017-05-15T16:38:07Z");
        let ts = parse_timestamp("2024-01-31T10:00:00+01:00", None, true).unwrap();
        assert_eq!(ts.to_string(), "2024-01-31T09:00:00Z");
        assert_eq!(
            parse_timestamp("1706695200", None, true)
                .unwrap()
                .as_second(),
            1706695200
        );
        assert_eq!(parse_offset("+25:00"), None);
        // out of any clock's range: saturated, never dropped, never a panic
        let t = |s: &str| parse_timestamp(s, None, true);
        assert_eq!(t("99999999999999999999"), Some(Timestamp::MAX));
        assert_eq!(t("9223372036854775807"), Some(Timestamp::MAX));
        assert_eq!(t("-9223372036854775808"), Some(Timestamp::MIN));
        assert_eq!(t("-5").map(|t| t.as_second()), Some(-5));
        assert_eq!(t("10000-01-01T00:00:00Z"), Some(Timestamp::MAX));
        assert_eq!(t("+10000-01-01"), Some(Timestamp::MAX));
        assert_eq!(
            t("20240131").map(|t| t.to_string()).as_deref(),
            Some("2024-01-31T00:00:00Z")
        );
        assert_eq!(parse_seconds("abc"), None);
        assert_eq!(timestamp_from_seconds(i64::MIN), Timestamp::MIN);
        assert_eq!(parse_offset("-05").map(|o| o.seconds()), Some(-18000));
    }

    #[test]
    fn deviceid_timestamp() {
        let ts = deviceid_time("pc-arg-23.cedre.local-2017-04-18-09-26-44", None).unwrap();
        assert_eq!(ts.to_string(), "2017-04-18T09:26:44Z");
        assert_eq!(deviceid_time("ARN2032", None), None);
        assert_eq!(deviceid_time("a-b-c-d-e-f-g", None), None);
    }

    #[test]
    fn addresses_and_macs() {
        assert_eq!(useful_ip("10.0.0.1/24"), "10.0.0.1".parse().ok());
        assert_eq!(useful_ip("127.0.0.1"), None);
        assert_eq!(useful_ip("fe80::1%eth0"), None);
        assert_eq!(useful_ip("2001:db8::1"), "2001:db8::1".parse().ok());
        assert_eq!(
            normalise_mac("68-B5-99-E6-84-EB").as_deref(),
            Some("68:b5:99:e6:84:eb")
        );
        assert_eq!(normalise_mac("00:00:00:00:00:00"), None);
        assert_eq!(normalise_mac("zz"), None);
    }

    #[test]
    fn kb_scan() {
        assert_eq!(
            kbs_in("KB4012212; kb4019215,KB12,KB4012212"),
            vec!["KB4012212", "KB4019215"]
        );
        assert!(kbs_in("é").is_empty());
        assert!(looks_like_uuid("4C4C4544-0042-3510-8056-B4C04F4A4E31"));
        assert!(!looks_like_uuid("host-1"));
    }
}
