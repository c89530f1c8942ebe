//! Axis ticks: "nice" 1-2-5 numbers and calendar ticks that do not overlap.

use crate::format::{MAX_DAY, civil_from_days, days_from_civil, format_date};

/// Largest magnitude plotted; larger finite values are clamped to it.
pub(crate) const MAX_ABS: f64 = 1e300;

/// A "nice" number close to `x` (> 0): 1, 2 or 5 times a power of ten.
/// With `round`, the closest one; otherwise the smallest one ≥ `x`.
pub fn nice_number(x: f64, round: bool) -> f64 {
    if !x.is_finite() || x <= 0.0 {
        return 1.0;
    }
    let exp = x.log10().floor();
    let pow = 10f64.powf(exp);
    let f = x / pow;
    let nf = if round {
        if f < 1.5 {
            1.0
        } else if f < 3.0 {
            2.0
        } else if f < 7.0 {
            5.0
        } else {
            10.0
        }
    } else if f <= 1.0 + 1e-9 {
        1.0
    } else if f <= 2.0 + 1e-9 {
        2.0
    } else if f <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    let v = nf * pow;
    if v.is_finite() && v > 0.0 { v } else { 1.0 }
}

/// Value ticks covering `[min, max]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticks {
    /// Tick values, increasing; the first is ≤ min and the last ≥ max.
    pub values: Vec<f64>,
    /// Distance between ticks.
    pub step: f64,
}

impl Ticks {
    pub fn lo(&self) -> f64 {
        self.values.first().copied().unwrap_or(0.0)
    }
    pub fn hi(&self) -> f64 {
        self.values.last().copied().unwrap_or(1.0)
    }
}

/// Nice ticks (1-2-5 steps) spanning `[min, max]` with at most `target`
/// intervals (the finest such step).
///
/// Degenerate ranges are widened (a single value `v` gives a range around
/// `v`; zero gives `[0, 1]`); non-finite bounds give `[0, 1]`.
pub fn nice_ticks(min: f64, max: f64, target: usize) -> Ticks {
    let fallback = Ticks {
        values: vec![0.0, 0.5, 1.0],
        step: 0.5,
    };
    if !min.is_finite() || !max.is_finite() {
        return fallback;
    }
    let (mut lo, mut hi) = if min <= max { (min, max) } else { (max, min) };
    lo = lo.clamp(-MAX_ABS, MAX_ABS);
    hi = hi.clamp(-MAX_ABS, MAX_ABS);
    let mag = lo.abs().max(hi.abs());
    if hi - lo <= mag * 1e-12 {
        if mag == 0.0 {
            lo = 0.0;
            hi = 1.0;
        } else {
            let v = (lo + hi) / 2.0;
            let pad = mag * 0.1;
            lo = v - pad;
            hi = v + pad;
            if v > 0.0 && lo < 0.0 {
                lo = 0.0;
            }
        }
    }
    // The smallest 1-2-5 step that needs at most `target` intervals.
    let target = target.clamp(1, 20);
    let mut step = nice_number((hi - lo) / target as f64 / 10.0, false);
    let (mut first, mut last) = ((lo / step).floor(), (hi / step).ceil());
    for _ in 0..12 {
        if last - first <= target as f64 {
            break;
        }
        step = nice_number(step * 1.5, false);
        first = (lo / step).floor();
        last = (hi / step).ceil();
    }
    if !first.is_finite() || !last.is_finite() || last - first > 60.0 || last < first {
        return Ticks {
            values: vec![lo, hi],
            step: (hi - lo).max(f64::MIN_POSITIVE),
        };
    }
    let n = (last - first) as usize;
    let values: Vec<f64> = (0..=n)
        .map(|i| {
            let v = (first + i as f64) * step;
            if v.abs() < step * 1e-9 { 0.0 } else { v }
        })
        .collect();
    if values.len() < 2 {
        return fallback;
    }
    Ticks { values, step }
}

/// The unit of a calendar tick step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStep {
    Days(i64),
    /// Weeks, on Mondays.
    Weeks(i64),
    /// Months, on the first of the month (months 1, 1+n, 1+2n… of each year).
    Months(u32),
    /// Years, on January 1st of multiples of n.
    Years(i64),
}

/// Calendar ticks: day numbers with their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct DateTicks {
    pub step: DateStep,
    pub ticks: Vec<(i64, String)>,
}

fn month_index(days: i64) -> i64 {
    let (y, m, _) = civil_from_days(days);
    y * 12 + i64::from(m) - 1
}

fn label(step: DateStep, d: i64) -> String {
    let (y, m, _) = civil_from_days(d);
    match step {
        DateStep::Days(_) | DateStep::Weeks(_) => format_date(d),
        DateStep::Months(_) => format!("{y:04}-{m:02}"),
        DateStep::Years(_) => format!("{y:04}"),
    }
}

/// Generates the ticks of `step` in `[d0, d1]`, or `None` when more than `max`.
fn ticks_for(step: DateStep, d0: i64, d1: i64, max: usize) -> Option<Vec<i64>> {
    let span = (d1 - d0) as f64;
    let approx = match step {
        DateStep::Days(n) => n as f64,
        DateStep::Weeks(n) => 7.0 * n as f64,
        DateStep::Months(n) => 30.44 * f64::from(n),
        DateStep::Years(n) => 365.25 * n as f64,
    };
    if span / approx > (max as f64) + 2.0 {
        return None;
    }
    let mut out = Vec::new();
    match step {
        DateStep::Days(n) => {
            let mut d = d0.div_euclid(n) * n;
            if d < d0 {
                d += n;
            }
            while d <= d1 {
                out.push(d);
                d += n;
            }
        }
        DateStep::Weeks(n) => {
            // 1970-01-05 (day 4) was a Monday.
            let period = 7 * n;
            let mut d = 4 + (d0 - 4).div_euclid(period) * period;
            if d < d0 {
                d += period;
            }
            while d <= d1 {
                out.push(d);
                d += period;
            }
        }
        DateStep::Months(n) => {
            let n = i64::from(n);
            let mut mi = month_index(d0).div_euclid(n) * n;
            loop {
                let d = days_from_civil(mi.div_euclid(12), (mi.rem_euclid(12) + 1) as u32, 1);
                if d > d1 {
                    break;
                }
                if d >= d0 {
                    out.push(d);
                }
                mi += n;
            }
        }
        DateStep::Years(n) => {
            let (y0, _, _) = civil_from_days(d0);
            let mut y = y0.div_euclid(n) * n;
            loop {
                let d = days_from_civil(y, 1, 1);
                if d > d1 {
                    break;
                }
                if d >= d0 {
                    out.push(d);
                }
                y += n;
            }
        }
    }
    if out.len() > max { None } else { Some(out) }
}

/// Calendar ticks for the days `[d0, d1]`, at most `max_ticks` of them:
/// the finest of days, weeks (Mondays), months or years that fits.
pub fn date_ticks(d0: i64, d1: i64, max_ticks: usize) -> DateTicks {
    let (d0, d1) = if d0 <= d1 { (d0, d1) } else { (d1, d0) };
    let d0 = d0.clamp(-MAX_DAY, MAX_DAY);
    let d1 = d1.clamp(-MAX_DAY, MAX_DAY);
    let max = max_ticks.max(1);
    let mut candidates = vec![
        DateStep::Days(1),
        DateStep::Days(2),
        DateStep::Weeks(1),
        DateStep::Weeks(2),
        DateStep::Months(1),
        DateStep::Months(2),
        DateStep::Months(3),
        DateStep::Months(6),
    ];
    let mut y = 1i64;
    while y <= 1_000_000 {
        candidates.push(DateStep::Years(y));
        candidates.push(DateStep::Years(y * 2));
        candidates.push(DateStep::Years(y * 5));
        y *= 10;
    }
    for step in candidates {
        if let Some(days) = ticks_for(step, d0, d1, max)
            && !days.is_empty()
        {
            let ticks = days.into_iter().map(|d| (d, label(step, d))).collect();
            return DateTicks { step, ticks };
        }
    }
    DateTicks {
        step: DateStep::Days(1),
        ticks: vec![(d0, format_date(d0))],
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn nice_numbers() {
        assert_eq!(nice_number(0.9, true), 1.0);
        assert_eq!(nice_number(1.6, true), 2.0);
        assert_eq!(nice_number(3.2, true), 5.0);
        assert_eq!(nice_number(8.0, true), 10.0);
        assert_eq!(nice_number(230.0, false), 500.0);
        assert_eq!(nice_number(200.0, false), 200.0);
        assert!((nice_number(0.031, true) - 0.05).abs() < 1e-12);
        assert_eq!(nice_number(0.0, true), 1.0);
        assert_eq!(nice_number(f64::NAN, true), 1.0);
    }

    #[test]
    fn ticks_cover_the_range_with_nice_steps() {
        let t = nice_ticks(0.0, 97.0, 5);
        assert_eq!(t.values, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        let t = nice_ticks(0.0, 0.123, 5);
        assert!((t.step - 0.02).abs() < 1e-12 || (t.step - 0.05).abs() < 1e-12);
        assert!(t.lo() <= 0.0 && t.hi() >= 0.123);
        let t = nice_ticks(-37.0, 12.0, 6);
        assert_eq!(t.step, 10.0);
        assert_eq!(t.lo(), -40.0);
        assert_eq!(t.hi(), 20.0);
        assert!(t.values.contains(&0.0));
    }

    #[test]
    fn degenerate_ranges() {
        assert_eq!(nice_ticks(0.0, 0.0, 5).values.first(), Some(&0.0));
        assert_eq!(nice_ticks(0.0, 0.0, 5).hi(), 1.0);
        let t = nice_ticks(5.0, 5.0, 5);
        assert!(t.lo() < 5.0 && t.hi() > 5.0);
        let t = nice_ticks(f64::NAN, 3.0, 5);
        assert_eq!(t.values.len(), 3);
        let t = nice_ticks(-f64::MAX, f64::MAX, 5);
        assert!(t.values.len() >= 2 && t.values.iter().all(|v| v.is_finite()));
        let t = nice_ticks(1e15, 1e15 + 1.0, 5);
        assert!(t.values.len() >= 2 && t.values.len() <= 61);
        let t = nice_ticks(1e-300, 2e-300, 5);
        assert!(t.values.len() >= 2);
    }

    #[test]
    fn date_ticks_pick_a_step_by_range() {
        let d0 = days_from_civil(2026, 11, 2);
        let t = date_ticks(d0, d0 + 6, 8);
        assert_eq!(t.step, DateStep::Days(1));
        assert_eq!(t.ticks.len(), 7);
        assert_eq!(t.ticks[0].1, "2026-11-02");

        let t = date_ticks(d0, d0 + 29, 8);
        assert_eq!(t.step, DateStep::Weeks(1));
        assert!(t.ticks.iter().all(|(d, _)| (d - 4).rem_euclid(7) == 0));

        let t = date_ticks(d0, d0 + 365, 8);
        assert_eq!(t.step, DateStep::Months(2));
        assert!(t.ticks.iter().all(|(_, l)| l.len() == 7));

        let t = date_ticks(d0 - 3650, d0, 8);
        assert_eq!(t.step, DateStep::Years(2));
        assert!(t.ticks.iter().all(|(_, l)| l.len() == 4));

        // Too narrow for more than one label.
        let t = date_ticks(d0, d0 + 3, 1);
        assert_eq!(t.ticks.len(), 1);

        // Single day, reversed and extreme ranges.
        assert_eq!(
            date_ticks(d0, d0, 8).ticks,
            vec![(d0, "2026-11-02".to_string())]
        );
        assert!(!date_ticks(d0 + 10, d0, 8).ticks.is_empty());
        let t = date_ticks(i64::MIN, i64::MAX, 10);
        assert!(!t.ticks.is_empty() && t.ticks.len() <= 10);
    }

    #[test]
    fn date_ticks_never_exceed_the_maximum() {
        let d0 = days_from_civil(2020, 1, 1);
        for span in [0, 1, 2, 5, 13, 27, 40, 90, 200, 400, 1000, 5000, 40_000] {
            for max in 1..12 {
                let t = date_ticks(d0, d0 + span, max);
                assert!(!t.ticks.is_empty());
                assert!(t.ticks.len() <= max, "span {span} max {max}: {t:?}");
                assert!(t.ticks.iter().all(|(d, _)| *d >= d0 && *d <= d0 + span));
            }
        }
    }
}
