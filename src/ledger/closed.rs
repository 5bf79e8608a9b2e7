//! Closed months (月结) and dates that cannot be, as the ledgers see them:
//! the one check every dated posting makes (points entries, stock
//! movements, donations, awards) before it is written. Closing and
//! reopening live with the reports.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::month_closes;
use crate::domain::FieldError;
use crate::time::Month;

/// The closed month a day falls in, if it does.
pub fn closed_month_of(conn: &mut DbConn, day: NaiveDate) -> QueryResult<Option<String>> {
    let month = Month::of(day).to_string();
    let n: i64 = month_closes::table
        .filter(month_closes::month.eq(&month))
        .count()
        .get_result(conn)?;
    Ok((n > 0).then_some(month))
}

/// Take the points ledger's chain head row for the rest of the
/// transaction without changing it: the lock every points posting holds
/// before it asks [`closed_month_of`].
pub fn hold_points_ledger(conn: &mut DbConn) -> QueryResult<()> {
    use crate::db::schema::ledger_heads;
    diesel::update(ledger_heads::table.find("points"))
        .set(ledger_heads::seq.eq(ledger_heads::seq))
        .execute(conn)
        .map(drop)
}

/// The same for the stock ledger's chain head.
pub fn hold_stock_ledger(conn: &mut DbConn) -> QueryResult<()> {
    use crate::db::schema::stock_chain_head;
    diesel::update(stock_chain_head::table.find(1))
        .set(stock_chain_head::seq.eq(stock_chain_head::seq))
        .execute(conn)
        .map(drop)
}

/// Hold both ledgers' chain heads: a month close does this before it is
/// written, so it waits for postings already under way and every posting
/// after it sees the close. Without it, on PostgreSQL a posting that had
/// checked the month a moment before could still commit into it after
/// the close.
pub fn hold_ledgers(conn: &mut DbConn) -> QueryResult<()> {
    hold_points_ledger(conn)?;
    hold_stock_ledger(conn)
}

/// The error for a date that falls in a closed month, naming the close.
pub fn closed_error(field: &'static str, month: String) -> FieldError {
    FieldError::conflict(
        field,
        "error.month_closed",
        crate::domain::Conflict::MonthClosed,
    )
    .arg("month", month)
}

/// How many days after today (UTC) a posting may still be dated. Forms
/// refuse any day after the scheme's today already; this is the last line
/// for every path into the ledgers (the API, the command line, scheduled
/// runs "as of" a day): a date further ahead is a mistyped year or a wrong
/// clock, never a day that has come in any time zone or a run prepared a
/// few weeks early.
pub const FAR_FUTURE_DAYS: i64 = 60;

/// Whether `day` is more than [`FAR_FUTURE_DAYS`] after today (UTC).
pub fn far_future(day: NaiveDate) -> bool {
    far_future_from(day, chrono::Utc::now().date_naive())
}

/// Whether `day` is more than [`FAR_FUTURE_DAYS`] after `today`.
pub fn far_future_from(day: NaiveDate, today: NaiveDate) -> bool {
    today
        .checked_add_signed(chrono::Duration::days(FAR_FUTURE_DAYS))
        .is_some_and(|limit| day > limit)
}

/// The error for a posting dated too far ahead, naming the date.
pub fn far_future_error(field: &'static str, day: NaiveDate) -> FieldError {
    FieldError::new(field, "error.date_far_future")
        .arg("date", day.to_string())
        .arg("days", FAR_FUTURE_DAYS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_is_more_than_the_allowed_days_ahead() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let limit = today + chrono::Duration::days(FAR_FUTURE_DAYS);
        assert!(!far_future_from(today, today));
        assert!(!far_future_from(limit, today));
        assert!(far_future_from(limit.succ_opt().unwrap(), today));
        assert!(far_future_from(NaiveDate::MAX, today));
        assert!(!far_future_from(NaiveDate::MIN, today));
    }
}
