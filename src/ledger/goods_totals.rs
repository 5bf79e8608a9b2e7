//! Monthly totals of the stock ledger per store, item and movement kind:
//! kept by `stock::post` with every movement, in its transaction, so that
//! a city's goods section reads a few thousand rows instead of every
//! movement since the month began. Months are the UTC months of the
//! movements' times ("2026-11"); the summary adds the hours between a UTC
//! month and the scheme's month from the movements themselves
//! (`reports::goods`). Checked by `ledger::verify`, made again by
//! `rebuild` (`aixin ledger rebuild-totals`).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::QueryableByName;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::kept::{self, Difference};
use crate::db::{self, Bind, DbConn};
use crate::domain::{ItemId, StoreId};

/// The table, as `verify` names it in a disagreement.
pub const TABLE: &str = "stock_month_totals";

/// "2026-11" for a time in November 2026 (UTC).
pub fn utc_month(at: NaiveDateTime) -> String {
    at.format("%Y-%m").to_string()
}

/// The SQL for the UTC month of a timestamp column.
pub(crate) fn month_sql(conn: &DbConn, column: &str) -> String {
    match conn {
        DbConn::Sqlite(_) => format!("strftime('%Y-%m', {column})"),
        DbConn::Pg(_) => format!("to_char({column}, 'YYYY-MM')"),
    }
}

/// Add one movement to its stores' months: `quantity` units (> 0) of
/// `item_id` at time `at` (UTC), onto `to_store`'s shelf and off
/// `from_store`'s (either may be none: a donor, a household, a write-off).
/// Inside the transaction that writes the movement.
///
/// Errors: the database's.
pub fn record(
    conn: &mut DbConn,
    at: NaiveDateTime,
    kind: &str,
    item_id: &ItemId,
    quantity: i64,
    from_store: Option<&StoreId>,
    to_store: Option<&StoreId>,
) -> QueryResult<()> {
    let month = utc_month(at);
    for (store, direction) in [(to_store, 1), (from_store, -1)] {
        let Some(store) = store else { continue };
        db::execute(
            conn,
            "INSERT INTO stock_month_totals (month, store_id, item_id, kind, direction, quantity, movements)
             VALUES ($1, $2, $3, $4, $5, $6, 1)
             ON CONFLICT (month, store_id, item_id, kind, direction)
             DO UPDATE SET quantity = stock_month_totals.quantity + excluded.quantity,
                           movements = stock_month_totals.movements + 1",
            &[
                Bind::Text(month.clone()),
                Bind::Text(store.to_string()),
                Bind::Text(item_id.to_string()),
                Bind::Text(kind.to_string()),
                Bind::Int(direction),
                Bind::Int(quantity),
            ],
        )?;
    }
    Ok(())
}

/// The totals as the movements make them (one SELECT per direction).
fn from_movements(conn: &DbConn) -> [String; 2] {
    let month = month_sql(conn, "at");
    [("to_store_id", 1), ("from_store_id", -1)].map(|(column, direction)| {
        format!(
            "SELECT {month} AS month, {column} AS store_id, item_id, kind,
                    CAST({direction} AS BIGINT) AS direction,
                    CAST(SUM(quantity) AS BIGINT) AS quantity, CAST(COUNT(*) AS BIGINT) AS movements
               FROM stock_movements WHERE {column} IS NOT NULL
              GROUP BY {month}, {column}, item_id, kind"
        )
    })
}

/// Make the totals again from the movements. Inside the caller's
/// transaction.
///
/// Errors: the database's.
pub fn rebuild(conn: &mut DbConn) -> QueryResult<()> {
    diesel::sql_query("DELETE FROM stock_month_totals").execute(conn)?;
    for select in from_movements(conn) {
        diesel::sql_query(format!(
            "INSERT INTO stock_month_totals (month, store_id, item_id, kind, direction, quantity, movements)
             SELECT month, store_id, item_id, kind, direction, quantity, movements FROM ({select}) x"
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
    store_id: String,
    #[diesel(sql_type = Text)]
    item_id: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = BigInt)]
    direction: i64,
    #[diesel(sql_type = BigInt)]
    quantity: i64,
    #[diesel(sql_type = BigInt)]
    movements: i64,
}

type Key = (String, String, String, String, i64);

/// Units and movements by (month, store, item, kind, direction).
fn keyed(rows: Vec<Row>) -> HashMap<Key, [i64; 2]> {
    kept::keyed(rows, |r| {
        (
            (r.month, r.store_id, r.item_id, r.kind, r.direction),
            [r.quantity, r.movements],
        )
    })
}

/// Compare the totals with the movements: each (month, what, units in the
/// totals, units from the movements) that differs, `what` naming the table,
/// the store, the item, the kind and the direction. A difference in the
/// count of movements alone shows as units equal on both sides.
///
/// Errors: the database's.
pub fn compare(conn: &mut DbConn) -> QueryResult<Vec<(String, String, i64, i64)>> {
    let kept = keyed(db::load(
        conn,
        "SELECT month, store_id, item_id, kind, direction, quantity, movements FROM stock_month_totals",
        &[],
    )?);
    let [to, from] = from_movements(conn);
    let made = keyed(db::load(conn, &format!("{to} UNION ALL {from}"), &[])?);
    Ok(kept::differences(&kept, &made)
        .into_iter()
        .map(|Difference { key: k, kept, made }| {
            (
                k.0,
                format!(
                    "{TABLE} store {} item {} {} {}",
                    k.1,
                    k.2,
                    k.3,
                    if k.4 > 0 { "in" } else { "out" }
                ),
                kept[0],
                made[0],
            )
        })
        .collect())
}
