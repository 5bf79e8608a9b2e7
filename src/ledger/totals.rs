//! Monthly totals of the points ledger, per village: kept by the posting that
//! writes each entry, in the same transaction, so that reports over a whole
//! city read a few thousand rows instead of millions of entries. Points count
//! in the village the household belonged to when they were posted; a move to
//! another village carries the balance over (move_out, move_in), so that the
//! totals of an area always add up to the balances of its households.

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::DbConn;
use crate::db::schema::{awards, households, rules};

/// Kinds that exist only in the totals: a household's balance leaving one
/// village and arriving in another.
pub const MOVE_OUT: &str = "move_out";
pub const MOVE_IN: &str = "move_in";

/// "2026-11" for a day in November 2026.
pub fn month_key(day: NaiveDate) -> String {
    format!("{:04}-{:02}", day.year(), day.month())
}

/// Add one posting's effect on a household's account to its village's
/// month. `signed` is from the household's side (+ earned, - spent).
pub(crate) fn record(
    conn: &mut DbConn,
    household_id: &str,
    posted_on: NaiveDate,
    kind: &str,
    ref_id: &str,
    signed: i64,
) -> QueryResult<()> {
    let Some(area_id) = households::table
        .find(household_id)
        .select(households::area_id)
        .first::<String>(conn)
        .optional()?
    else {
        // Not a household we know: nothing to count it under.
        return Ok(());
    };
    let category = if kind == "award" {
        awards::table
            .inner_join(rules::table.on(rules::id.eq(awards::rule_id)))
            .filter(awards::id.eq(ref_id))
            .select(rules::category_id)
            .first::<String>(conn)
            .optional()?
            .unwrap_or_default()
    } else {
        String::new()
    };
    let month = month_key(posted_on);
    add(conn, &month, &area_id, kind, &category, signed)?;
    if kind == "award" || kind == "redemption" {
        // Portable upsert: each backend gets its own placeholders.
        let sql = "INSERT INTO household_months (month, household_id, area_id) VALUES ($1, $2, $3)
                   ON CONFLICT (month, household_id) DO NOTHING";
        macro_rules! run {
            ($c:expr, $sql:expr) => {
                diesel::sql_query($sql)
                    .bind::<Text, _>(&month)
                    .bind::<Text, _>(household_id)
                    .bind::<Text, _>(&area_id)
                    .execute($c)?
            };
        }
        match conn {
            DbConn::Sqlite(c) => run!(c, sql.replace('$', "?")),
            DbConn::Pg(c) => run!(c, sql),
        };
    }
    Ok(())
}

fn add(
    conn: &mut DbConn,
    month: &str,
    area_id: &str,
    kind: &str,
    category: &str,
    signed: i64,
) -> QueryResult<()> {
    let sql = "INSERT INTO point_month_totals (month, area_id, kind, category_id, points, entries)
               VALUES ($1, $2, $3, $4, $5, 1)
               ON CONFLICT (month, area_id, kind, category_id)
               DO UPDATE SET points = point_month_totals.points + excluded.points,
                             entries = point_month_totals.entries + 1";
    macro_rules! run {
        ($c:expr, $sql:expr) => {
            diesel::sql_query($sql)
                .bind::<Text, _>(month)
                .bind::<Text, _>(area_id)
                .bind::<Text, _>(kind)
                .bind::<Text, _>(category)
                .bind::<BigInt, _>(signed)
                .execute($c)?
        };
    }
    match conn {
        DbConn::Sqlite(c) => run!(c, sql.replace('$', "?")),
        DbConn::Pg(c) => run!(c, sql),
    };
    Ok(())
}

/// A household moved from one village to another on `day`: its balance
/// moves with it. Call inside the transaction that changes its area.
pub fn record_move(
    conn: &mut DbConn,
    household_id: &str,
    from_area: &str,
    to_area: &str,
    day: NaiveDate,
) -> QueryResult<()> {
    let balance = super::balance(conn, &super::household_account(household_id))?;
    if balance == 0 || from_area == to_area {
        return Ok(());
    }
    let month = month_key(day);
    add(conn, &month, from_area, MOVE_OUT, "", -balance)?;
    add(conn, &month, to_area, MOVE_IN, "", balance)
}
