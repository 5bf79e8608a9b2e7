//! Month close (月结): once a month is closed, nothing can be dated into it;
//! corrections go into an open month. Closing and reopening are audited.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::Month;
use crate::audit;
use crate::auth::{Action, Actor};
use crate::db::schema::{month_closes, users};
use crate::db::{self, DbConn};
use crate::domain::FieldError;

/// This area's refusals: the one vocabulary every operation shares.
pub type CloseError = crate::error::Problem;

/// Who closed a month, and when.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Closed {
    pub month: String,
    pub closed_at: NaiveDateTime,
    pub closed_by: String,
}

pub fn find(conn: &mut DbConn, month: Month) -> QueryResult<Option<Closed>> {
    month_closes::table
        .inner_join(users::table.on(users::id.eq(month_closes::closed_by)))
        .filter(month_closes::month.eq(month.to_string()))
        .select((
            month_closes::month,
            month_closes::closed_at,
            users::display_name,
            users::username,
        ))
        .first::<(String, NaiveDateTime, String, String)>(conn)
        .optional()
        .map(|r| {
            r.map(|(month, closed_at, name, username)| Closed {
                month,
                closed_at,
                closed_by: if name.trim().is_empty() {
                    username
                } else {
                    name
                },
            })
        })
}

pub use crate::ledger::closed::{closed_error, closed_month_of};

/// Close a month that has ended (today, in the scheme's time zone);
/// `user_id` is who the close is filed under. Errors: `Forbidden` for a
/// role that may not close months.
pub fn close(
    conn: &mut DbConn,
    ctx: &Actor,
    user_id: &str,
    month: Month,
    today: NaiveDate,
) -> Result<(), CloseError> {
    ctx.require(Action::CloseMonths)?;
    if month.end_day() > today {
        return Err(FieldError::new("field.month", "error.month_not_over")
            .arg("month", month.to_string())
            .into());
    }
    let already_closed = || {
        FieldError::conflict(
            "field.month",
            "error.month_already_closed",
            crate::domain::Conflict::Changed,
        )
        .arg("month", month.to_string())
    };
    db::write_tx(conn, |c| {
        crate::ledger::closed::hold_ledgers(c)?;
        if find(c, month)?.is_some() {
            return Err(already_closed().into());
        }
        // The month is the key: of two people closing it at once, one
        // insert goes in and the other is told the month is closed.
        let inserted = diesel::insert_into(month_closes::table)
            .values((
                month_closes::month.eq(month.to_string()),
                month_closes::closed_at.eq(db::now()),
                month_closes::closed_by.eq(user_id),
            ))
            .execute(c);
        if let Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) = inserted
        {
            return Err(already_closed().into());
        }
        inserted?;
        crate::ledger::totals::keep_closings(c, month)?;
        // The close holds for every area: the line says so, with its month.
        audit::record(
            c,
            ctx,
            "month.close",
            "month",
            &month.to_string(),
            &audit::Detail::new("month_close")
                .arg("month", month)
                .to_string(),
        )?;
        Ok(())
    })
}

/// Reopen a closed month; a reason is required and kept in the audit log.
/// Errors: `Forbidden` for a role that may not close months.
pub fn reopen(
    conn: &mut DbConn,
    ctx: &Actor,
    month: Month,
    reason: &str,
) -> Result<(), CloseError> {
    ctx.require(Action::CloseMonths)?;
    let reason = crate::domain::input::trim_text(reason);
    if reason.is_empty() {
        return Err(FieldError::new("field.reason", "error.reopen_reason_required").into());
    }
    let reason = crate::domain::parse_optional_text("field.reason", reason, 200)?;
    db::write_tx(conn, |c| {
        let n = diesel::delete(month_closes::table.find(month.to_string())).execute(c)?;
        if n == 0 {
            return Err(FieldError::conflict(
                "field.month",
                "error.month_not_closed",
                crate::domain::Conflict::Changed,
            )
            .arg("month", month.to_string())
            .into());
        }
        super::snapshot::forget(c, month)?;
        crate::ledger::totals::forget_closings(c, month)?;
        audit::record(
            c,
            ctx,
            "month.reopen",
            "month",
            &month.to_string(),
            &audit::Detail::new("month_reopen")
                .arg("month", month)
                .arg("reason", &reason)
                .to_string(),
        )?;
        Ok(())
    })
}
