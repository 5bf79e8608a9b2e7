//! The rows a month's signals read, fetched per source table in one query
//! each (no query per household, store or official), so that the month of a
//! whole city is a handful of index range scans.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use diesel::prelude::*;

use super::Thresholds;
use super::compute::{AwardRow, EarnerRow, LineRow, RedemptionRow, StoreLosses, StoreRow};
use crate::db::schema::{
    areas, awards, households, items, redemption_lines, redemptions, stock_movements, stores, users,
};
use crate::db::{self, DbConn};
use crate::time::Month;

/// Everything the signals of one month read.
#[derive(Debug, Default)]
pub struct MonthRows {
    pub awards: Vec<AwardRow>,
    pub redemptions: Vec<RedemptionRow>,
    pub lines: Vec<LineRow>,
    pub stores: Vec<StoreRow>,
    pub losses: Vec<StoreLosses>,
    pub earners: Vec<EarnerRow>,
}

/// Users' and stores' shown names by id.
#[derive(Debug, Default)]
pub struct Names {
    pub users: HashMap<String, String>,
    pub stores: HashMap<String, String>,
}

pub fn names(c: &mut DbConn) -> QueryResult<Names> {
    Ok(Names {
        users: users::table
            .select((users::id, users::username))
            .load::<(String, String)>(c)?
            .into_iter()
            .collect(),
        stores: stores::table
            .select((stores::id, stores::name))
            .load::<(String, String)>(c)?
            .into_iter()
            .collect(),
    })
}

/// The UTC bounds of a month cut in the scheme's time zone.
pub fn bounds(tz: Tz, month: Month) -> (NaiveDateTime, NaiveDateTime) {
    (
        crate::time::local_day_start_utc(month.first_day(), tz),
        crate::time::local_day_start_utc(month.end_day(), tz),
    )
}

/// The month's rows for the households and stores under `area_path`.
pub fn month(
    c: &mut DbConn,
    tz: Tz,
    area_path: &str,
    month: Month,
    t: &Thresholds,
) -> QueryResult<MonthRows> {
    let (from, to) = bounds(tz, month);
    let prefix = db::path_prefix(area_path);
    let awards = month_awards(c, &prefix, from, to)?;

    // Stores of the area, and the month's redemptions at them.
    let stores: Vec<StoreRow> = stores::table
        .inner_join(areas::table)
        .filter(areas::path.like(&prefix))
        .select((stores::id, stores::name, stores::opening_hours))
        .load::<(String, String, String)>(c)?
        .into_iter()
        .map(|(id, name, opening_hours)| StoreRow {
            id,
            name,
            opening_hours,
        })
        .collect();
    let redemptions: Vec<RedemptionRow> = redemptions::table
        .inner_join(stores::table.inner_join(areas::table))
        .inner_join(households::table)
        .filter(areas::path.like(&prefix))
        .filter(redemptions::created_at.ge(from))
        .filter(redemptions::created_at.lt(to))
        .select((
            redemptions::id,
            redemptions::number,
            redemptions::store_id,
            redemptions::household_id,
            households::head_name,
            redemptions::clerk_id,
            redemptions::total_points,
            redemptions::status,
            redemptions::created_at,
        ))
        .load::<(
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            i64,
            String,
            NaiveDateTime,
        )>(c)?
        .into_iter()
        .map(
            |(
                id,
                number,
                store_id,
                household_id,
                head_name,
                clerk_id,
                total_points,
                status,
                created_at,
            )| {
                RedemptionRow {
                    id,
                    number,
                    store_id,
                    household_id,
                    head_name,
                    clerk_id,
                    total_points,
                    status,
                    created_at,
                }
            },
        )
        .collect();
    let lines: Vec<LineRow> = redemption_lines::table
        .inner_join(
            redemptions::table
                .inner_join(stores::table.inner_join(areas::table))
                .inner_join(households::table),
        )
        .filter(areas::path.like(&prefix))
        .filter(redemptions::created_at.ge(from))
        .filter(redemptions::created_at.lt(to))
        .filter(redemptions::status.eq("completed"))
        .filter(redemption_lines::unit_points.ge(t.valuable_points))
        .select((
            redemption_lines::redemption_id,
            redemptions::store_id,
            redemptions::household_id,
            households::head_name,
            redemption_lines::item_name,
            redemption_lines::quantity,
            redemption_lines::unit_points,
        ))
        .load::<(String, String, String, String, String, i64, i64)>(c)?
        .into_iter()
        .map(
            |(
                redemption_id,
                store_id,
                household_id,
                head_name,
                item_name,
                quantity,
                unit_points,
            )| {
                LineRow {
                    redemption_id,
                    store_id,
                    household_id,
                    head_name,
                    item_name,
                    quantity,
                    unit_points,
                }
            },
        )
        .collect();

    // Losses: write-offs, and stocktake differences (short counts lose,
    // over counts give back), valued at the item's price.
    let store_ids: HashSet<&str> = stores.iter().map(|s| s.id.as_str()).collect();
    let moves: Vec<LossMove> = stock_movements::table
        .inner_join(items::table)
        .filter(stock_movements::at.ge(from))
        .filter(stock_movements::at.lt(to))
        .filter(stock_movements::kind.eq_any(["write_off", "adjustment"]))
        .select((
            stock_movements::id,
            stock_movements::kind,
            stock_movements::quantity,
            stock_movements::from_store_id,
            stock_movements::to_store_id,
            items::name,
            items::points_price,
        ))
        .load(c)?;
    let mut losses: HashMap<String, StoreLosses> = stores
        .iter()
        .map(|s| {
            (
                s.id.clone(),
                StoreLosses {
                    store_id: s.id.clone(),
                    ..Default::default()
                },
            )
        })
        .collect();
    for (id, kind, q, from_store, to_store, name, price) in moves {
        if let Some(s) = from_store.filter(|s| store_ids.contains(s.as_str())) {
            let l = losses.get_mut(&s).expect("an area store");
            l.lost_points += q * price;
            l.movements.push((id, format!("{kind} {name} x{q}")));
        } else if let Some(s) = to_store.filter(|s| store_ids.contains(s.as_str())) {
            losses.get_mut(&s).expect("an area store").lost_points -= q * price;
        }
    }
    for r in redemptions.iter().filter(|r| r.status == "completed") {
        if let Some(l) = losses.get_mut(&r.store_id) {
            l.redeemed_points += r.total_points;
        }
    }
    let mut losses: Vec<StoreLosses> = losses.into_values().collect();
    losses.sort_by(|a, b| a.store_id.cmp(&b.store_id));

    let earners = earners(c, &prefix, month, t.never_months, to)?;
    Ok(MonthRows {
        awards,
        redemptions,
        lines,
        stores,
        losses,
        earners,
    })
}

/// A loss movement: id, kind, quantity, from store, to store, item name, price.
type LossMove = (
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
    String,
    i64,
);
/// A household's head, the months (year, month) it earned in, and its points.
type EarnedMonths = (String, HashSet<(i32, u32)>, i64);

type AwardTuple = (
    (String, String, i64, NaiveDate, String, String),
    (String, NaiveDateTime, Option<String>, Option<NaiveDateTime>),
    (String, Option<String>, Option<NaiveDateTime>, String),
);

/// The awards proposed in [from, to) for households under the prefix (the
/// largest of the month's queries: one row per award).
fn month_awards(
    c: &mut DbConn,
    prefix: &str,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<AwardRow>> {
    let rows: Vec<AwardTuple> = awards::table
        .inner_join(households::table.inner_join(areas::table))
        .filter(areas::path.like(prefix))
        .filter(awards::proposed_at.ge(from))
        .filter(awards::proposed_at.lt(to))
        .filter(awards::status.ne("withdrawn"))
        .select((
            (
                awards::id,
                awards::household_id,
                awards::points,
                awards::occurred_on,
                awards::note,
                awards::status,
            ),
            (
                awards::proposed_by,
                awards::proposed_at,
                awards::reviewed_by,
                awards::reviewed_at,
            ),
            (
                households::head_name,
                households::helper_id,
                households::archived_at,
                areas::path,
            ),
        ))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(
            |(
                (id, household_id, points, occurred_on, note, status),
                (proposed_by, proposed_at, reviewed_by, reviewed_at),
                (head_name, helper_id, archived_at, area_path),
            )| AwardRow {
                id,
                household_id,
                head_name,
                area_path,
                points,
                occurred_on,
                note,
                status,
                proposed_by,
                proposed_at,
                reviewed_by,
                reviewed_at,
                helper_id,
                archived_at,
            },
        )
        .collect())
}

/// Households under the prefix with approved awards dated in each of the
/// `window` months ending with `month`, and whether they ever redeemed
/// before the month's end.
fn earners(
    c: &mut DbConn,
    prefix: &str,
    month: Month,
    window: i64,
    to: NaiveDateTime,
) -> QueryResult<Vec<EarnerRow>> {
    let mut first = month;
    for _ in 1..window {
        first = first.prev();
    }
    let rows: Vec<(String, String, NaiveDate, i64)> = awards::table
        .inner_join(households::table.inner_join(areas::table))
        .filter(areas::path.like(prefix))
        .filter(awards::status.eq("approved"))
        .filter(awards::points.gt(0))
        .filter(awards::occurred_on.ge(first.first_day()))
        .filter(awards::occurred_on.lt(month.end_day()))
        .select((
            awards::household_id,
            households::head_name,
            awards::occurred_on,
            awards::points,
        ))
        .load(c)?;
    let mut by: HashMap<String, EarnedMonths> = HashMap::new();
    for (h, name, on, points) in rows {
        let e = by.entry(h).or_insert((name, HashSet::new(), 0));
        e.1.insert((on.year(), on.month()));
        e.2 += points;
    }
    by.retain(|_, e| e.1.len() as i64 >= window);
    if by.is_empty() {
        return Ok(Vec::new());
    }
    let redeemed: HashSet<String> = redemptions::table
        .inner_join(households::table.inner_join(areas::table))
        .filter(areas::path.like(prefix))
        .filter(redemptions::created_at.lt(to))
        .select(redemptions::household_id)
        .distinct()
        .load::<String>(c)?
        .into_iter()
        .collect();
    let mut out: Vec<EarnerRow> = by
        .into_iter()
        .map(|(household_id, (head_name, months, points))| EarnerRow {
            ever_redeemed: redeemed.contains(&household_id),
            household_id,
            head_name,
            months_earning: months.len() as i64,
            points,
        })
        .collect();
    out.sort_by(|a, b| a.household_id.cmp(&b.household_id));
    Ok(out)
}
