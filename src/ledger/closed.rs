//! Closed months (月结) as the ledgers see them: the one check every dated
//! posting makes (points entries, stock movements, donations, awards)
//! before it is written. Closing and reopening live with the reports.

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

/// The error for a date that falls in a closed month, naming the close.
pub fn closed_error(field: &'static str, month: String) -> FieldError {
    FieldError::new(field, "error.month_closed").arg("month", month)
}
