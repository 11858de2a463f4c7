//! Calendar months and day ranges in a partner's time zone.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::billing::BillingError;

/// A calendar month such as `2026-03`. Which instants belong to it depends
/// on the time zone: usage is assigned to the month of its partner-local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// Builds a month from a year and a month number `1..=12`.
    ///
    /// # Errors
    /// [`BillingError::InvalidMonth`] for a month number outside `1..=12`
    /// or a year outside `1..=9999`.
    pub fn new(year: i32, month: u32) -> Result<Self, BillingError> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) {
            return Err(BillingError::InvalidMonth {
                value: format!("{year}-{month:02}"),
                reason: "expected a year from 1 to 9999 and a month from 01 to 12".to_owned(),
            });
        }
        Ok(Self { year, month })
    }

    /// Returns the month that contains `day`.
    pub fn of_day(day: NaiveDate) -> Self {
        Self {
            year: day.year(),
            month: day.month(),
        }
    }

    /// Returns the month that contains `time` in the time zone `zone`.
    pub fn of_time(time: DateTime<Utc>, zone: Tz) -> Self {
        Self::of_day(local_day(time, zone))
    }

    /// Returns the first day of the month.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    /// Returns the last day of the month.
    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().unwrap_or(NaiveDate::MAX)
    }

    /// Returns the following month.
    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Returns the days of the month as an inclusive range.
    pub fn days(self) -> DateRange {
        DateRange {
            from: self.first_day(),
            to: self.last_day(),
        }
    }

    /// Returns the instant the month starts in `zone`: local midnight of its
    /// first day, or the first instant after it when a daylight-saving
    /// change skips midnight.
    pub fn start_in(self, zone: Tz) -> DateTime<Utc> {
        start_of_day(self.first_day(), zone)
    }

    /// Returns the instant the month ends in `zone`, which is the start of
    /// the next month (exclusive).
    pub fn end_in(self, zone: Tz) -> DateTime<Utc> {
        self.next().start_in(zone)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = BillingError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || BillingError::InvalidMonth {
            value: text.chars().take(40).collect(),
            reason: "expected YYYY-MM, such as 2026-03".to_owned(),
        };
        let (year, month) = text.split_once('-').ok_or_else(invalid)?;
        // `str::parse` accepts a leading `+`, so check the digits first.
        let digits =
            |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(month, 2) {
            return Err(invalid());
        }
        let year = year.parse().map_err(|_| invalid())?;
        let month = month.parse().map_err(|_| invalid())?;
        Self::new(year, month)
    }
}

impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An inclusive range of partner-local days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DateRange {
    /// First day.
    pub from: NaiveDate,
    /// Last day, included.
    pub to: NaiveDate,
}

impl DateRange {
    /// Builds a range from its first and last day.
    ///
    /// # Errors
    /// [`BillingError::InvalidRange`] when `to` is before `from`.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, BillingError> {
        if to < from {
            return Err(BillingError::InvalidRange {
                from: from.to_string(),
                to: to.to_string(),
                reason: "the last day is before the first".to_owned(),
            });
        }
        Ok(Self { from, to })
    }
}

/// Returns the calendar day of `time` in `zone`.
pub fn local_day(time: DateTime<Utc>, zone: Tz) -> NaiveDate {
    time.with_timezone(&zone).date_naive()
}

/// Returns the first instant of `day` in `zone`. Where a daylight-saving
/// change skips midnight, the day starts at the first local time after the gap.
fn start_of_day(day: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let mut local = day.and_time(chrono::NaiveTime::MIN);
    // Gaps are at most a few hours; step through them a quarter hour at a time.
    for _ in 0..(4 * 24) {
        match zone.from_local_datetime(&local) {
            LocalResult::Single(time) => return time.with_timezone(&Utc),
            LocalResult::Ambiguous(earliest, _) => return earliest.with_timezone(&Utc),
            LocalResult::None => local += chrono::Duration::minutes(15),
        }
    }
    Utc.from_utc_datetime(&day.and_time(chrono::NaiveTime::MIN))
}

/// Parses an IANA time zone name such as `America/Santiago`.
///
/// # Errors
/// [`BillingError::InvalidTimeZone`] for an unknown name.
pub fn parse_zone(name: &str) -> Result<Tz, BillingError> {
    name.parse().map_err(|_| BillingError::InvalidTimeZone {
        zone: name.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    const SANTIAGO: Tz = chrono_tz::America::Santiago;

    #[test]
    fn month_parses_and_prints() {
        let month: Month = "2026-03".parse().unwrap();
        assert_eq!(month.to_string(), "2026-03");
        assert_eq!(month.first_day().to_string(), "2026-03-01");
        assert_eq!(month.last_day().to_string(), "2026-03-31");
        assert_eq!(month.next().to_string(), "2026-04");
        assert_eq!(
            "2026-12".parse::<Month>().unwrap().next().to_string(),
            "2027-01"
        );
        assert_eq!(
            "2028-02".parse::<Month>().unwrap().last_day().to_string(),
            "2028-02-29"
        );
    }

    #[test]
    fn malformed_months_rejected() {
        for text in [
            "2026-3",
            "2026-13",
            "2026-00",
            "26-03",
            "2026/03",
            "",
            "2026-03-01",
            "+026-03",
            "2026-+3",
            " 026-03",
        ] {
            assert!(text.parse::<Month>().is_err(), "{text:?}");
        }
    }

    #[test]
    fn santiago_summer_month_start() {
        // Summer time (UTC-3): March 2026 starts at 03:00 UTC.
        let march: Month = "2026-03".parse().unwrap();
        assert_eq!(march.start_in(SANTIAGO), utc("2026-03-01T03:00:00Z"));
        // 02:30 UTC on 1 March is 23:30 on 28 February in Santiago.
        assert_eq!(
            Month::of_time(utc("2026-03-01T02:30:00Z"), SANTIAGO).to_string(),
            "2026-02"
        );
        assert_eq!(
            Month::of_time(utc("2026-03-01T03:00:00Z"), SANTIAGO).to_string(),
            "2026-03"
        );
    }

    #[test]
    fn santiago_winter_month_start() {
        // Winter time (UTC-4): 03:30 UTC on 1 June is 23:30 on 31 May.
        assert_eq!(
            Month::of_time(utc("2026-06-01T03:30:00Z"), SANTIAGO).to_string(),
            "2026-05"
        );
        let june: Month = "2026-06".parse().unwrap();
        assert_eq!(june.start_in(SANTIAGO), utc("2026-06-01T04:00:00Z"));
    }

    #[test]
    fn santiago_april_2026_change() {
        // Summer time ends on Sunday 5 April 2026 at 00:00 local, so April
        // starts at UTC-3 and ends at UTC-4.
        let april: Month = "2026-04".parse().unwrap();
        assert_eq!(april.start_in(SANTIAGO), utc("2026-04-01T03:00:00Z"));
        assert_eq!(april.end_in(SANTIAGO), utc("2026-05-01T04:00:00Z"));
        assert_eq!(
            Month::of_time(utc("2026-04-01T03:30:00Z"), SANTIAGO).to_string(),
            "2026-04"
        );
        assert_eq!(
            Month::of_time(utc("2026-05-01T03:30:00Z"), SANTIAGO).to_string(),
            "2026-04"
        );
        // The repeated hour: 02:30 and 03:30 UTC on 5 April are both 4 April local.
        assert_eq!(
            local_day(utc("2026-04-05T02:30:00Z"), SANTIAGO).to_string(),
            "2026-04-04"
        );
        assert_eq!(
            local_day(utc("2026-04-05T03:30:00Z"), SANTIAGO).to_string(),
            "2026-04-04"
        );
    }

    #[test]
    fn santiago_september_2026_change() {
        // Summer time starts on Sunday 6 September 2026: 00:00 local is
        // skipped and the day starts at 01:00 (UTC-3), which is 04:00 UTC.
        let september: Month = "2026-09".parse().unwrap();
        assert_eq!(september.start_in(SANTIAGO), utc("2026-09-01T04:00:00Z"));
        assert_eq!(september.end_in(SANTIAGO), utc("2026-10-01T03:00:00Z"));
        assert_eq!(
            start_of_day("2026-09-06".parse().unwrap(), SANTIAGO),
            utc("2026-09-06T04:00:00Z")
        );
        assert_eq!(
            Month::of_time(utc("2026-10-01T02:59:59Z"), SANTIAGO).to_string(),
            "2026-09"
        );
        assert_eq!(
            Month::of_time(utc("2026-09-01T03:59:59Z"), SANTIAGO).to_string(),
            "2026-08"
        );
    }

    #[test]
    fn reversed_range_rejected() {
        let from = "2026-03-02".parse().unwrap();
        let to = "2026-03-01".parse().unwrap();
        assert!(DateRange::new(from, to).is_err());
        assert!(DateRange::new(to, from).is_ok());
    }
}
