//! Time helpers. Storage keeps instants as unix seconds and calendar days as
//! day numbers (days since 1970-01-01, UTC) so both SQL dialects and the
//! aggregates agree without timezone surprises.

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A calendar day (UTC), stored as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Day(i32);

#[derive(Debug, thiserror::Error)]
#[error("invalid date {input:?}: expected YYYY-MM-DD or an RFC 3339 timestamp")]
pub struct DayParseError {
    pub input: String,
}

const EPOCH: Date = Date::constant(1970, 1, 1);

impl Day {
    pub const fn from_number(n: i32) -> Self {
        Day(n)
    }
    pub const fn number(self) -> i32 {
        self.0
    }
    pub fn from_date(d: Date) -> Self {
        let days = (d - EPOCH).get_days();
        // `Date - Date` yields a span in days for civil dates.
        Day(days)
    }
    pub fn date(self) -> Date {
        EPOCH.checked_add(i64::from(self.0).days()).unwrap_or(EPOCH)
    }
    pub fn of_timestamp(ts: Timestamp) -> Self {
        Day(ts.as_second().div_euclid(86_400) as i32)
    }
    /// Start of the day (00:00:00 UTC) as unix seconds.
    pub fn start_second(self) -> i64 {
        i64::from(self.0) * 86_400
    }
    /// Last second of the day (23:59:59 UTC) as unix seconds.
    pub fn end_second(self) -> i64 {
        self.start_second() + 86_399
    }
    pub fn add_days(self, n: i32) -> Self {
        Day(self.0.saturating_add(n))
    }
    pub fn days_since(self, earlier: Day) -> i32 {
        self.0 - earlier.0
    }
    /// Monday of the ISO week holding this day.
    pub fn week_start(self) -> Day {
        // 1970-01-01 was a Thursday: day 0 has weekday index 3 (Mon = 0).
        let weekday = (self.0 + 3).rem_euclid(7);
        Day(self.0 - weekday)
    }
    /// Parses `YYYY-MM-DD`, or an RFC 3339 timestamp (its UTC day).
    pub fn parse(s: &str) -> Result<Self, DayParseError> {
        let t = s.trim();
        if let Ok(d) = t.parse::<Date>() {
            return Ok(Day::from_date(d));
        }
        if let Ok(ts) = t.parse::<Timestamp>() {
            return Ok(Day::of_timestamp(ts));
        }
        Err(DayParseError {
            input: s.to_string(),
        })
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.date())
    }
}

impl TryFrom<String> for Day {
    type Error = DayParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Day::parse(&s)
    }
}

impl From<Day> for String {
    fn from(d: Day) -> String {
        d.to_string()
    }
}

impl std::str::FromStr for Day {
    type Err = DayParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Day::parse(s)
    }
}

/// Source of "now", injected so tests and the demo control time.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
    fn today(&self) -> Day {
        Day::of_timestamp(self.now())
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// Renders unix seconds as RFC 3339 (UTC); out-of-range values render as the raw number.
pub fn rfc3339(seconds: i64) -> String {
    match Timestamp::from_second(seconds) {
        Ok(ts) => ts.to_string(),
        Err(_) => seconds.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_round_trip() {
        let d = Day::parse("2017-05-12").unwrap();
        assert_eq!(d.to_string(), "2017-05-12");
        assert_eq!(Day::parse("2017-05-12T23:59:59Z").unwrap(), d);
        assert_eq!(Day::from_number(0).to_string(), "1970-01-01");
        assert!(Day::parse("12/05/2017").is_err());
    }

    #[test]
    fn week_starts_on_monday() {
        // 2017-05-12 was a Friday; its week starts on Monday 2017-05-08.
        let d = Day::parse("2017-05-12").unwrap();
        assert_eq!(d.week_start().to_string(), "2017-05-08");
        assert_eq!(d.week_start().week_start(), d.week_start());
    }

    proptest::proptest! {
        #[test]
        fn day_number_round_trips(n in -20_000i32..60_000) {
            let d = Day::from_number(n);
            proptest::prop_assert_eq!(Day::from_date(d.date()), d);
            proptest::prop_assert_eq!(Day::parse(&d.to_string()).unwrap(), d);
        }
    }
}
