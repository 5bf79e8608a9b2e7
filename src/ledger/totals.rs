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
use crate::db::schema::{awards, household_months, households, rules};

/// Kinds that exist only in the totals: a household's balance leaving one
/// village and arriving in another.
pub const MOVE_OUT: &str = "move_out";
pub const MOVE_IN: &str = "move_in";
/// Counters with no points: households taking part in the month (earned or
/// redeemed), and those doing so for the first time ever.
pub const PARTICIPANT: &str = "participant";
pub const FIRST_TIME: &str = "first_time";

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
    add(conn, &month, &area_id, kind, &category, signed, 1)?;
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
        let new = match conn {
            DbConn::Sqlite(c) => run!(c, sql.replace('$', "?")),
            DbConn::Pg(c) => run!(c, sql),
        };
        if new == 1 {
            count_participant(conn, household_id, &month, &area_id)?;
        }
    }
    Ok(())
}

/// A household took part in a month for the first time: count it in its
/// village's month, and as a first-timer if it never took part before (a
/// month dated earlier than one counted as its first takes that over).
fn count_participant(
    conn: &mut DbConn,
    household_id: &str,
    month: &str,
    area_id: &str,
) -> QueryResult<()> {
    add(conn, month, area_id, PARTICIPANT, "", 0, 1)?;
    let first: Option<(String, String)> = household_months::table
        .filter(household_months::household_id.eq(household_id))
        .filter(household_months::month.ne(month))
        .order(household_months::month)
        .select((household_months::month, household_months::area_id))
        .first(conn)
        .optional()?;
    match first {
        Some((m, _)) if m.as_str() < month => Ok(()),
        Some((m, area)) => {
            add(conn, &m, &area, FIRST_TIME, "", 0, -1)?;
            add(conn, month, area_id, FIRST_TIME, "", 0, 1)
        }
        None => add(conn, month, area_id, FIRST_TIME, "", 0, 1),
    }
}

fn add(
    conn: &mut DbConn,
    month: &str,
    area_id: &str,
    kind: &str,
    category: &str,
    signed: i64,
    entries: i64,
) -> QueryResult<()> {
    let sql = "INSERT INTO point_month_totals (month, area_id, kind, category_id, points, entries)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (month, area_id, kind, category_id)
               DO UPDATE SET points = point_month_totals.points + excluded.points,
                             entries = point_month_totals.entries + excluded.entries";
    macro_rules! run {
        ($c:expr, $sql:expr) => {
            diesel::sql_query($sql)
                .bind::<Text, _>(month)
                .bind::<Text, _>(area_id)
                .bind::<Text, _>(kind)
                .bind::<Text, _>(category)
                .bind::<BigInt, _>(signed)
                .bind::<BigInt, _>(entries)
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
    add(conn, &month, from_area, MOVE_OUT, "", -balance, 1)?;
    add(conn, &month, to_area, MOVE_IN, "", balance, 1)
}
