//! The households that redeemed in a month, per village, kept like the
//! points totals so that a city's summary reads one counter per village
//! instead of a distinct count over the month's redemptions:
//!
//! - `redeemer_months`: per household and month, how many of its
//!   redemptions made in that month still stand (`standing`); a void made in
//!   the same month takes one off, a void made in a later month changes
//!   nothing (the month that is over keeps its figure);
//! - `point_month_totals` under the counter kind `redeemer`
//!   (`totals::REDEEMER`): per village and month, how many households have
//!   one standing (their `standing` went from 0 to 1: one more; from 1 to 0:
//!   one less).
//!
//! The month is the scheme's month of the redemption's ledger entry
//! (`posted_on`, the day the counter wrote it) and of its reversal's, as the
//! points totals keep theirs. Both are changed by conditional statements in
//! the redemption's or the void's transaction (an upsert that says what it
//! made, an update that never goes below zero), so two clerks redeeming for
//! one household at once count it once. A household that changes village
//! takes its months with it (`shift`), as the redemption totals do.
//! Checked by `ledger::verify`, made again by `rebuild`.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::QueryableByName;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::goods_totals::month_sql;
use super::kept::{self, Difference};
use super::totals::{REDEEMER, month_key};
use crate::db::{self, Bind, DbConn};

/// The table, as `verify` names it in a disagreement.
pub const TABLE: &str = "redeemer_months";

/// A household's month as a statement left it.
#[derive(QueryableByName)]
struct Standing {
    #[diesel(sql_type = Text)]
    area_id: String,
    #[diesel(sql_type = BigInt)]
    standing: i64,
}

/// Count the household's village's month: `by` +1 or -1 households.
fn count(conn: &mut DbConn, month: &str, area_id: &str, by: i64) -> QueryResult<()> {
    super::totals::add(conn, month, area_id, REDEEMER, "", 0, by)
}

/// A redemption just made by `household_id`, its ledger entry posted on
/// `posted_on`: one more standing in the household's month (in the
/// village it is in), and the household counted in that village's month
/// if it is its first. Inside the transaction that writes the redemption.
///
/// Errors: the database's.
pub fn record(conn: &mut DbConn, household_id: &str, posted_on: NaiveDate) -> QueryResult<()> {
    let month = month_key(posted_on);
    let now: Vec<Standing> = db::load(
        conn,
        "INSERT INTO redeemer_months (month, household_id, area_id, standing)
         SELECT $1, h.id, h.area_id, 1 FROM households h WHERE h.id = $2
         ON CONFLICT (month, household_id)
         DO UPDATE SET standing = redeemer_months.standing + 1
         RETURNING area_id, standing",
        &[
            Bind::Text(month.clone()),
            Bind::Text(household_id.to_string()),
        ],
    )?;
    match now.first() {
        Some(s) if s.standing == 1 => count(conn, &month, &s.area_id, 1),
        _ => Ok(()),
    }
}

/// A redemption by `household_id` whose entry was posted on `made_on` is
/// voided on `voided_on`: in the same month, one fewer standing in the
/// household's month, and the household no longer counted in its village's
/// month if that was its last; in a later month, nothing (the earlier
/// month's figure stays). Inside the transaction that voids it.
///
/// Errors: the database's.
pub fn void(
    conn: &mut DbConn,
    household_id: &str,
    made_on: NaiveDate,
    voided_on: NaiveDate,
) -> QueryResult<()> {
    let month = month_key(made_on);
    if month != month_key(voided_on) {
        return Ok(());
    }
    let now: Vec<Standing> = db::load(
        conn,
        "UPDATE redeemer_months SET standing = standing - 1
          WHERE month = $1 AND household_id = $2 AND standing > 0
         RETURNING area_id, standing",
        &[
            Bind::Text(month.clone()),
            Bind::Text(household_id.to_string()),
        ],
    )?;
    match now.first() {
        Some(s) if s.standing == 0 => count(conn, &month, &s.area_id, -1),
        _ => Ok(()),
    }
}

/// A household moves to village `to_area`: each month in which it has a
/// redemption standing moves from its village to the new one. Inside the
/// transaction that moves it.
///
/// Errors: the database's.
pub fn shift(conn: &mut DbConn, household_id: &str, to_area: &str) -> QueryResult<()> {
    let months = |area: &str, sign: i64| {
        format!(
            "INSERT INTO point_month_totals (month, area_id, kind, category_id, points, entries)
             SELECT month, area_id, '{REDEEMER}', '', 0, n FROM (
                 SELECT month, {area} AS area_id, CAST({sign} * COUNT(*) AS BIGINT) AS n
                   FROM redeemer_months WHERE household_id = $1 AND standing > 0
                  GROUP BY month, {area}) x WHERE true
             ON CONFLICT (month, area_id, kind, category_id)
             DO UPDATE SET entries = point_month_totals.entries + excluded.entries"
        )
    };
    let both = || {
        [
            Bind::Text(household_id.to_string()),
            Bind::Text(to_area.to_string()),
        ]
    };
    let [household, _] = both();
    db::execute(conn, &months("area_id", -1), &[household])?;
    db::execute(conn, &months("$2", 1), &both())?;
    db::execute(
        conn,
        "UPDATE redeemer_months SET area_id = $2 WHERE household_id = $1",
        &both(),
    )?;
    Ok(())
}

/// The households' months as the redemptions and their entries make them:
/// (month, household_id, area_id, standing), households in the village
/// they are in now.
fn from_redemptions(conn: &DbConn) -> String {
    let (made, voided) = (
        month_sql(conn, "e.posted_on"),
        month_sql(conn, "v.posted_on"),
    );
    format!(
        "SELECT {made} AS month, r.household_id AS household_id, h.area_id AS area_id,
                CAST(COUNT(*) AS BIGINT) AS standing
           FROM redemptions r JOIN point_entries e ON e.id = r.points_entry_id
           JOIN households h ON h.id = r.household_id
           LEFT JOIN point_entries v ON v.reverses = e.id
          WHERE v.id IS NULL OR {voided} <> {made}
          GROUP BY {made}, r.household_id, h.area_id"
    )
}

/// Make the households' months and the villages' counters again from the
/// redemptions. Inside the caller's transaction.
///
/// Errors: the database's.
pub fn rebuild(conn: &mut DbConn) -> QueryResult<()> {
    let households = from_redemptions(conn);
    for sql in [
        "DELETE FROM redeemer_months".to_string(),
        format!("DELETE FROM point_month_totals WHERE kind = '{REDEEMER}'"),
        format!(
            "INSERT INTO redeemer_months (month, household_id, area_id, standing)
             SELECT month, household_id, area_id, standing FROM ({households}) x"
        ),
        format!(
            "INSERT INTO point_month_totals (month, area_id, kind, category_id, points, entries)
             SELECT month, area_id, '{REDEEMER}', '', 0, COUNT(*)
               FROM redeemer_months WHERE standing > 0 GROUP BY month, area_id"
        ),
    ] {
        diesel::sql_query(sql).execute(conn)?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    month: String,
    #[diesel(sql_type = Text)]
    household_id: String,
    #[diesel(sql_type = Text)]
    area_id: String,
    #[diesel(sql_type = BigInt)]
    standing: i64,
}

/// Households' months keyed (month, village, household), and from them
/// villages' months keyed (month, village): how many households have one
/// standing.
type Households = HashMap<(String, String, String), i64>;

fn keyed(rows: Vec<Row>) -> Households {
    kept::keyed(rows, |r| ((r.month, r.area_id, r.household_id), r.standing))
}

fn villages(households: &Households) -> HashMap<(String, String), i64> {
    kept::keyed(
        households.iter().filter(|(_, n)| **n > 0),
        |((month, area, _), _)| ((month.clone(), area.clone()), 1),
    )
}

/// Compare the households' months and the villages' counters with the
/// redemptions: each (month, what, kept, from the redemptions) that
/// differs, `what` naming the table, the village and, for a household's
/// month, the household (the numbers are its redemptions standing; for a
/// village, its households).
///
/// Errors: the database's.
pub fn compare(conn: &mut DbConn) -> QueryResult<Vec<(String, String, i64, i64)>> {
    let kept_households = keyed(db::load(
        conn,
        "SELECT month, household_id, area_id, standing FROM redeemer_months",
        &[],
    )?);
    let made_households = keyed(db::load(conn, &from_redemptions(conn), &[])?);
    let kept_villages: HashMap<(String, String), i64> = kept::keyed(
        db::load::<Row>(
            conn,
            &format!(
                "SELECT month, '' AS household_id, area_id, CAST(entries AS BIGINT) AS standing
                   FROM point_month_totals WHERE kind = '{REDEEMER}'"
            ),
            &[],
        )?,
        |r| ((r.month, r.area_id), r.standing),
    );
    let made_villages = villages(&made_households);
    let households = kept::differences(&kept_households, &made_households)
        .into_iter()
        .map(|Difference { key, kept, made }| {
            (
                key.0,
                format!("{TABLE} village {} household {}", key.1, key.2),
                kept,
                made,
            )
        });
    let villages = kept::differences(&kept_villages, &made_villages)
        .into_iter()
        .map(|Difference { key, kept, made }| {
            (
                key.0,
                format!("point_month_totals {REDEEMER} village {}", key.1),
                kept,
                made,
            )
        });
    Ok(villages.chain(households).collect())
}
