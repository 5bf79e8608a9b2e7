//! Time: stored in UTC, shown (and months cut) in the scheme's time zone.

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;

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

#[cfg(test)]
mod tests {
    use super::*;

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
