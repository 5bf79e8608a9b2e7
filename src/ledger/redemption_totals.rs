//! Monthly totals of redemptions per village of the household: per store
//! (how many, points; `item_id` '') and per item (units, points;
//! `store_id` ''). Kept by `redemptions::redeem` in the redemption's
//! transaction, moved with a household that changes village
//! (`ledger::totals::record_move`), so that a city's redemptions section
//! reads a few thousand rows instead of the month's redemptions and their
//! lines. Months are the UTC months of `created_at` ("2026-11"); voids are
//! not kept here (the summary reads the month's voids, which are few and
//! indexed). Checked by `ledger::verify`, made again by `rebuild`.

use std::collections::HashMap;

use diesel::QueryableByName;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::goods_totals::month_sql;
use super::kept::{self, Difference};
use crate::db::{self, Bind, DbConn};

/// The table, as `verify` names it in a disagreement.
pub const TABLE: &str = "redemption_month_totals";

const COLUMNS: &str = "month, area_id, store_id, item_id, item_name, redemptions, quantity, points";

const UPSERT: &str = "ON CONFLICT (month, area_id, store_id, item_id, item_name)
     DO UPDATE SET redemptions = redemption_month_totals.redemptions + excluded.redemptions,
                   quantity = redemption_month_totals.quantity + excluded.quantity,
                   points = redemption_month_totals.points + excluded.points";

/// The totals as the redemptions make them, for the redemptions chosen by
/// `filter` (a condition on `r`), each counted `sign` times (+1 or -1), in
/// the village `area` (an SQL expression: `h.area_id`, or a bound value).
fn from_redemptions(conn: &DbConn, filter: &str, area: &str, sign: i64) -> [String; 2] {
    let month = month_sql(conn, "r.created_at");
    [
        format!(
            "SELECT {month} AS month, {area} AS area_id, r.store_id AS store_id, '' AS item_id,
                    '' AS item_name, CAST({sign} * COUNT(*) AS BIGINT) AS redemptions,
                    CAST(0 AS BIGINT) AS quantity, CAST({sign} * SUM(r.total_points) AS BIGINT) AS points
               FROM redemptions r JOIN households h ON h.id = r.household_id
              WHERE {filter}
              GROUP BY {month}, h.area_id, r.store_id"
        ),
        format!(
            "SELECT {month} AS month, {area} AS area_id, '' AS store_id, l.item_id AS item_id,
                    l.item_name AS item_name, CAST(0 AS BIGINT) AS redemptions,
                    CAST({sign} * SUM(l.quantity) AS BIGINT) AS quantity,
                    CAST({sign} * SUM(l.points) AS BIGINT) AS points
               FROM redemption_lines l JOIN redemptions r ON r.id = l.redemption_id
               JOIN households h ON h.id = r.household_id
              WHERE {filter}
              GROUP BY {month}, h.area_id, l.item_id, l.item_name"
        ),
    ]
}

/// Add a redemption just made (with its lines) to its household's
/// village's month. Inside the transaction that writes it.
///
/// Errors: the database's.
pub fn record(conn: &mut DbConn, redemption_id: &str) -> QueryResult<()> {
    for select in from_redemptions(conn, "r.id = $1", "h.area_id", 1) {
        db::execute(
            conn,
            &format!(
                "INSERT INTO redemption_month_totals ({COLUMNS}) SELECT {COLUMNS} FROM ({select}) x WHERE true {UPSERT}"
            ),
            &[Bind::Text(redemption_id.to_string())],
        )?;
    }
    Ok(())
}

/// A household moves from village `from_area` to `to_area`: its
/// redemptions' totals move with it (the summary counts a redemption in
/// the household's village). Inside the transaction that moves it.
///
/// Errors: the database's.
pub fn shift(
    conn: &mut DbConn,
    household_id: &str,
    from_area: &str,
    to_area: &str,
) -> QueryResult<()> {
    for (area, sign) in [(from_area, -1), (to_area, 1)] {
        for select in from_redemptions(conn, "r.household_id = $1", "$2", sign) {
            db::execute(
                conn,
                &format!(
                    "INSERT INTO redemption_month_totals ({COLUMNS}) SELECT {COLUMNS} FROM ({select}) x WHERE true {UPSERT}"
                ),
                &[
                    Bind::Text(household_id.to_string()),
                    Bind::Text(area.to_string()),
                ],
            )?;
        }
    }
    diesel::sql_query(
        "DELETE FROM redemption_month_totals WHERE redemptions = 0 AND quantity = 0 AND points = 0",
    )
    .execute(conn)?;
    Ok(())
}

/// Make the totals again from the redemptions. Inside the caller's
/// transaction.
///
/// Errors: the database's.
pub fn rebuild(conn: &mut DbConn) -> QueryResult<()> {
    diesel::sql_query("DELETE FROM redemption_month_totals").execute(conn)?;
    for select in from_redemptions(conn, "1 = 1", "h.area_id", 1) {
        diesel::sql_query(format!(
            "INSERT INTO redemption_month_totals ({COLUMNS}) SELECT {COLUMNS} FROM ({select}) x"
        ))
        .execute(conn)?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    month: String,
    #[diesel(sql_type = Text)]
    area_id: String,
    #[diesel(sql_type = Text)]
    store_id: String,
    #[diesel(sql_type = Text)]
    item_id: String,
    #[diesel(sql_type = Text)]
    item_name: String,
    #[diesel(sql_type = BigInt)]
    redemptions: i64,
    #[diesel(sql_type = BigInt)]
    quantity: i64,
    #[diesel(sql_type = BigInt)]
    points: i64,
}

type Key = (String, String, String, String, String);

/// Redemptions, units and points by (month, village, store, item, name).
fn keyed(rows: Vec<Row>) -> HashMap<Key, [i64; 3]> {
    kept::keyed(rows, |r| {
        (
            (r.month, r.area_id, r.store_id, r.item_id, r.item_name),
            [r.redemptions, r.quantity, r.points],
        )
    })
}

/// Compare the totals with the redemptions: each (month, what, points in
/// the totals, points from the redemptions) that differs, `what` naming
/// the table, the village and the store or item. A difference in counts
/// or units alone shows as points equal on both sides.
///
/// Errors: the database's.
pub fn compare(conn: &mut DbConn) -> QueryResult<Vec<(String, String, i64, i64)>> {
    let kept = keyed(db::load(
        conn,
        &format!("SELECT {COLUMNS} FROM redemption_month_totals"),
        &[],
    )?);
    let [stores, items] = from_redemptions(conn, "1 = 1", "h.area_id", 1);
    let made = keyed(db::load(conn, &format!("{stores} UNION ALL {items}"), &[])?);
    Ok(kept::differences(&kept, &made)
        .into_iter()
        .map(|Difference { key: k, kept, made }| {
            let what = if k.3.is_empty() {
                format!("store {}", k.2)
            } else {
                format!("item {}", k.3)
            };
            (
                k.0,
                format!("{TABLE} village {} {what}", k.1),
                kept[2],
                made[2],
            )
        })
        .collect())
}
