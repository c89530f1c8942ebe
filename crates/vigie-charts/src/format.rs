//! Value formats, axes and calendar dates (days since 1970-01-01).

/// How the values of an axis are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValueFormat {
    /// Plain numbers, grouped by thousands with a space: `12 345`.
    #[default]
    Count,
    /// Shares between 0 and 1, written as percentages: `0.121` → `12.1 %`.
    Percent,
    /// Durations in days: `12 d` on ticks, `12.5 days` in text.
    Days,
}

impl ValueFormat {
    /// Formats one value for text (descriptions, tables, labels).
    pub fn format(self, v: f64) -> String {
        if !v.is_finite() {
            return "n/a".to_string();
        }
        match self {
            ValueFormat::Count => format_count(v),
            ValueFormat::Percent => format!("{} %", trim_decimals(v * 100.0, 1)),
            ValueFormat::Days => {
                let s = trim_decimals(v, 1);
                if s == "1" || s == "-1" {
                    format!("{s} day")
                } else {
                    format!("{s} days")
                }
            }
        }
    }

    /// Formats a tick value, with as many decimals as the tick step needs.
    pub fn format_tick(self, v: f64, step: f64) -> String {
        if !v.is_finite() {
            return String::new();
        }
        match self {
            ValueFormat::Count => format_count_tick(v, step),
            ValueFormat::Percent => {
                let d = decimals_for_step(step * 100.0);
                format!("{} %", group(v * 100.0, d))
            }
            ValueFormat::Days => format!("{} d", format_count_tick(v, step)),
        }
    }
}

/// A value axis: its label and the format of its values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Axis {
    pub label: String,
    pub format: ValueFormat,
}

impl Axis {
    pub fn new(label: impl Into<String>, format: ValueFormat) -> Self {
        Axis {
            label: label.into(),
            format,
        }
    }
}

/// The horizontal axis of a line chart.
#[derive(Debug, Clone, PartialEq)]
pub enum XAxis {
    /// x values are days since 1970-01-01, shown as ISO dates (`2026-11-02`).
    Dates { label: String },
    /// x values are plain numbers.
    Numbers(Axis),
}

impl Default for XAxis {
    fn default() -> Self {
        XAxis::Dates {
            label: String::new(),
        }
    }
}

impl XAxis {
    pub fn dates(label: impl Into<String>) -> Self {
        XAxis::Dates {
            label: label.into(),
        }
    }
    pub fn numbers(label: impl Into<String>, format: ValueFormat) -> Self {
        XAxis::Numbers(Axis::new(label, format))
    }
    pub fn label(&self) -> &str {
        match self {
            XAxis::Dates { label } => label,
            XAxis::Numbers(a) => &a.label,
        }
    }
    /// Formats an x value for text.
    pub fn format(&self, x: i64) -> String {
        match self {
            XAxis::Dates { .. } => format_date(x),
            XAxis::Numbers(a) => a.format.format(x as f64),
        }
    }
}

/// Number of decimals needed to tell ticks `step` apart.
pub(crate) fn decimals_for_step(step: f64) -> usize {
    if !step.is_finite() || step <= 0.0 {
        return 0;
    }
    let d = -(step.log10() + 1e-9).floor();
    if d <= 0.0 { 0 } else { (d as usize).min(12) }
}

/// `v` with at most `max_dec` decimals, trailing zeros removed, grouped by thousands.
fn trim_decimals(v: f64, max_dec: usize) -> String {
    let s = group(v, max_dec);
    if s.contains('.') {
        let t = s.trim_end_matches('0').trim_end_matches('.');
        if t == "-0" {
            "0".to_string()
        } else {
            t.to_string()
        }
    } else {
        s
    }
}

fn format_count(v: f64) -> String {
    if v.abs() >= 1e15 {
        return format!("{v:.3e}");
    }
    trim_decimals(v, if v.abs() >= 100.0 { 0 } else { 2 })
}

fn format_count_tick(v: f64, step: f64) -> String {
    let a = v.abs().max(step.abs());
    if a >= 1e15 {
        return format!("{v:.1e}");
    }
    let (scale, suffix) = if a >= 1e12 {
        (1e12, " T")
    } else if a >= 1e9 {
        (1e9, " G")
    } else if a >= 1e6 {
        (1e6, " M")
    } else {
        (1.0, "")
    };
    format!(
        "{}{}",
        group(v / scale, decimals_for_step(step / scale)),
        suffix
    )
}

/// Fixed decimals, integer part grouped by thousands with a space.
pub(crate) fn group(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v);
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", s.as_str()),
    };
    let (int, frac) = match rest.find('.') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    let n = int.len();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (n - i) % 3 == 0 && n > 4 {
            grouped.push(' ');
        }
        grouped.push(ch);
    }
    let all_zero = int.chars().all(|c| c == '0') && frac.chars().all(|c| c == '0' || c == '.');
    let sign = if all_zero { "" } else { sign };
    format!("{sign}{grouped}{frac}")
}

/// Largest day number handled as a date (about ±270,000 years).
pub(crate) const MAX_DAY: i64 = 100_000_000;

/// (year, month 1–12, day 1–31) of a day number (days since 1970-01-01).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days.clamp(-MAX_DAY, MAX_DAY) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m as u32, d as u32)
}

/// Day number (days since 1970-01-01) of a civil date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = year.clamp(-300_000, 300_000) - i64::from(month <= 2);
    let m = i64::from(month.clamp(1, 12));
    let d = i64::from(day.clamp(1, 31));
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// ISO date `2026-11-02` of a day number.
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(days_from_civil(2026, 11, 2), 20_759);
        assert_eq!(format_date(20_759), "2026-11-02");
        assert_eq!(format_date(-1), "1969-12-31");
        for d in (-800_000..800_000).step_by(997) {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        // Never panics on extremes.
        let _ = format_date(i64::MAX);
        let _ = format_date(i64::MIN);
    }

    #[test]
    fn values_are_formatted() {
        assert_eq!(ValueFormat::Percent.format(0.121), "12.1 %");
        assert_eq!(ValueFormat::Percent.format(0.12), "12 %");
        assert_eq!(ValueFormat::Percent.format(0.0), "0 %");
        assert_eq!(ValueFormat::Count.format(1_234_567.0), "1 234 567");
        assert_eq!(ValueFormat::Count.format(1234.0), "1234");
        assert_eq!(ValueFormat::Count.format(12.5), "12.5");
        assert_eq!(ValueFormat::Count.format(-3.0), "-3");
        assert_eq!(ValueFormat::Days.format(1.0), "1 day");
        assert_eq!(ValueFormat::Days.format(12.5), "12.5 days");
        assert_eq!(ValueFormat::Count.format(f64::NAN), "n/a");
    }

    #[test]
    fn ticks_are_formatted() {
        assert_eq!(ValueFormat::Percent.format_tick(0.05, 0.05), "5 %");
        assert_eq!(ValueFormat::Percent.format_tick(0.005, 0.005), "0.5 %");
        assert_eq!(
            ValueFormat::Count.format_tick(2_000_000.0, 500_000.0),
            "2.0 M"
        );
        assert_eq!(ValueFormat::Count.format_tick(20_000.0, 5_000.0), "20 000");
        assert_eq!(ValueFormat::Count.format_tick(0.5, 0.5), "0.5");
        assert_eq!(ValueFormat::Count.format_tick(-0.0, 1.0), "0");
        assert_eq!(ValueFormat::Days.format_tick(30.0, 10.0), "30 d");
    }
}
