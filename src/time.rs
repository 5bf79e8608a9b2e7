//! Time: stored in UTC, shown (and months cut) in the scheme's time zone.

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use crate::domain::FieldError;

/// "2026-11-29 10:45" in the scheme's time zone.
pub fn format_local(utc: NaiveDateTime, tz: Tz) -> String {
    tz.from_utc_datetime(&utc)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// The UTC instant at which a local calendar day begins.
pub fn local_day_start_utc(day: chrono::NaiveDate, tz: Tz) -> NaiveDateTime {
    let local = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.naive_utc(),
        // A day starting in a gap: take the first instant after it.
        chrono::LocalResult::None => tz
            .from_local_datetime(&(local + chrono::Duration::hours(1)))
            .earliest()
            .map(|t| t.naive_utc())
            .unwrap_or(local),
    }
}

/// Today's date in the scheme's time zone.
pub fn today(tz: Tz) -> chrono::NaiveDate {
    chrono::Utc::now().with_timezone(&tz).date_naive()
}

/// A calendar month, cut in the scheme's time zone.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    /// "2026-11" -> November 2026; anything else names the field.
    pub fn parse(s: &str) -> Result<Month, FieldError> {
        let bad = || FieldError::new("field.month", "error.month_format");
        let s = crate::domain::input::normalize(s);
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        // Out of range is said as such, as the date parser says it.
        use crate::domain::input::{FIRST_YEAR, LAST_YEAR};
        if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
            return Err(FieldError::new("field.month", "error.date_year_range")
                .arg("date", s.clone())
                .arg("from", FIRST_YEAR)
                .arg("to", LAST_YEAR));
        }
        if !(1..=12).contains(&month) {
            return Err(
                FieldError::new("field.month", "error.month_impossible").arg("month", s.clone())
            );
        }
        Ok(Month { year, month })
    }

    pub fn of(day: NaiveDate) -> Month {
        Month {
            year: day.year(),
            month: day.month(),
        }
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("valid month")
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn prev(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// The first day of the following month (the exclusive end).
    pub fn end_day(self) -> NaiveDate {
        self.next().first_day()
    }

    /// Every month from this one to `last`, both included, oldest first
    /// (empty when `last` comes before this one).
    pub fn through(self, last: Month) -> Vec<Month> {
        let mut months = Vec::new();
        let mut m = self;
        while m <= last {
            months.push(m);
            m = m.next();
        }
        months
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn through_lists_every_month_across_a_year_end() {
        let m = |s: &str| Month::parse(s).unwrap();
        let names: Vec<String> = m("2025-11")
            .through(m("2026-02"))
            .iter()
            .map(Month::to_string)
            .collect();
        assert_eq!(names, ["2025-11", "2025-12", "2026-01", "2026-02"]);
        assert_eq!(m("2026-03").through(m("2026-03")), vec![m("2026-03")]);
        assert!(m("2026-03").through(m("2026-02")).is_empty());
    }

    #[test]
    fn a_month_that_does_not_exist_reads_as_a_month_error() {
        for bad in ["2026-13", "2026-00"] {
            let e = Month::parse(bad).unwrap_err();
            assert_eq!((e.field, e.key), ("field.month", "error.month_impossible"));
        }
        assert_eq!(
            Month::parse("2026-2").unwrap_err().key,
            "error.month_format"
        );
    }

    #[test]
    fn shanghai_is_eight_hours_ahead() {
        let utc = chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
            .unwrap()
            .and_hms_opt(16, 30, 0)
            .unwrap();
        // 16:30 UTC on the 30th is already 1 December in Shanghai.
        assert_eq!(
            format_local(utc, chrono_tz::Asia::Shanghai),
            "2026-12-01 00:30"
        );
        let start = local_day_start_utc(
            chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            chrono_tz::Asia::Shanghai,
        );
        assert_eq!(start.to_string(), "2026-11-30 16:00:00");
    }
}
