//! A closed month's summary never changes: the first time a summary of a
//! closed month is made (for an area or a store), it is kept, and every
//! later view, print and export shows the kept one. Reopening the month
//! drops what was kept.

use diesel::prelude::*;

use super::{Month, Summary, close};
use crate::db::schema::report_snapshots;
use crate::db::{self, DbConn};

/// The summary for `scope` ("area:<id>" or "store:<id>") in `month`: kept
/// if the month is closed, made by `make` otherwise (and kept when closed).
pub fn frozen(
    conn: &mut DbConn,
    month: Month,
    scope: &str,
    make: impl FnOnce(&mut DbConn) -> QueryResult<Option<Summary>>,
) -> QueryResult<Option<Summary>> {
    let Some(closed) = close::find(conn, month)? else {
        return make(conn);
    };
    let key = month.to_string();
    if let Some(s) = kept(conn, &key, scope)? {
        return Ok(Some(Summary {
            closed: Some(closed),
            ..s
        }));
    }
    let Some(summary) = make(conn)? else {
        return Ok(None);
    };
    let body = serde_json::to_string(&summary)
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    // Two servers making the same summary at once: the first one kept wins.
    let sql = "INSERT INTO report_snapshots (month, scope, body, made_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT (month, scope) DO NOTHING";
    db::execute(
        conn,
        sql,
        &[
            db::Bind::Text(key.clone()),
            db::Bind::Text(scope.to_string()),
            db::Bind::Text(body),
            db::Bind::Ts(db::now()),
        ],
    )?;
    Ok(Some(kept(conn, &key, scope)?.unwrap_or(summary)))
}

fn kept(conn: &mut DbConn, month: &str, scope: &str) -> QueryResult<Option<Summary>> {
    let body: Option<String> = report_snapshots::table
        .find((month, scope))
        .select(report_snapshots::body)
        .first(conn)
        .optional()?;
    // A body this version cannot read is made again (and replaced).
    match body.map(|b| serde_json::from_str::<Summary>(&b)) {
        Some(Ok(s)) => Ok(Some(s)),
        Some(Err(e)) => {
            tracing::warn!(month, scope, error = %e, "kept summary unreadable; making it again");
            diesel::delete(report_snapshots::table.find((month, scope))).execute(conn)?;
            Ok(None)
        }
        None => Ok(None),
    }
}

/// Drop what was kept for a month (when it is reopened).
pub fn forget(conn: &mut DbConn, month: Month) -> QueryResult<usize> {
    diesel::delete(report_snapshots::table.filter(report_snapshots::month.eq(month.to_string())))
        .execute(conn)
}
