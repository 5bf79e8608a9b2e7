//! The rows a month's signals read, fetched per source table in one query
//! each (no query per household, store or official), so that the month of a
//! whole city is a handful of index range scans.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use diesel::prelude::*;

use super::Thresholds;
use super::compute::{
    AwardRow, EarnerRow, LineRow, RedemptionRow, Relation, StoreLosses, StoreRow,
};
use crate::crypto::DataKey;
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
    /// Households that share a phone, ID number or home with a staff member.
    pub related: Vec<Relation>,
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
    key: &DataKey,
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
            redemptions::clerk_id,
        ))
        .load::<(
            String,
            String,
            String,
            String,
            String,
            i64,
            i64,
            Option<String>,
        )>(c)?
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
                clerk_id,
            )| {
                LineRow {
                    redemption_id,
                    store_id,
                    household_id,
                    head_name,
                    item_name,
                    quantity,
                    unit_points,
                    clerk_id,
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
            stock_movements::user_id,
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
    for (id, kind, q, from_store, to_store, name, price, user) in moves {
        if let Some(s) = from_store.filter(|s| store_ids.contains(s.as_str())) {
            let l = losses.get_mut(&s).expect("an area store");
            l.lost_points += q * price;
            l.movements.push((id, format!("{kind} {name} x{q}")));
            if let Some(u) = user.filter(|u| !l.recorded_by.contains(u)) {
                l.recorded_by.push(u);
            }
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
    let related = related(c, key)?;
    Ok(MonthRows {
        related,
        awards,
        redemptions,
        lines,
        stores,
        losses,
        earners,
    })
}

/// A loss movement: id, kind, quantity, from store, to store, item name,
/// price, who recorded it.
type LossMove = (
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
    String,
    i64,
    Option<String>,
);
/// A household's head, the months (year, month) it earned in, its points,
/// and who proposed them.
type EarnedMonths = (String, HashSet<(i32, u32)>, i64, Vec<String>);

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
///
/// The window is about six times the month's awards, so it is read without
/// joins: the area's households once (id and head), the window's awards by
/// their `occurred_on` index (household, day, points, proposer), kept in
/// memory when their household is the area's; then redemptions are asked
/// for only the households that earned in every month, by the
/// `redemptions_household` index, a few hundred at a time.
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
    let heads: HashMap<String, String> = households::table
        .inner_join(areas::table)
        .filter(areas::path.like(prefix))
        .select((households::id, households::head_name))
        .load::<(String, String)>(c)?
        .into_iter()
        .collect();
    let rows: Vec<(String, NaiveDate, i64, String)> = awards::table
        .filter(awards::occurred_on.ge(first.first_day()))
        .filter(awards::occurred_on.lt(month.end_day()))
        .filter(awards::status.eq("approved"))
        .filter(awards::points.gt(0))
        .select((
            awards::household_id,
            awards::occurred_on,
            awards::points,
            awards::proposed_by,
        ))
        .load(c)?;
    let mut by: HashMap<String, EarnedMonths> = HashMap::new();
    for (h, on, points, proposer) in rows {
        let Some(name) = heads.get(&h) else {
            continue;
        };
        let e = by
            .entry(h)
            .or_insert_with(|| (name.clone(), HashSet::new(), 0, Vec::new()));
        e.1.insert((on.year(), on.month()));
        e.2 += points;
        if !e.3.contains(&proposer) {
            e.3.push(proposer);
        }
    }
    by.retain(|_, e| e.1.len() as i64 >= window);
    let candidates: Vec<&String> = by.keys().collect();
    let mut redeemed: HashSet<String> = HashSet::new();
    for chunk in candidates.chunks(500) {
        redeemed.extend(
            redemptions::table
                .filter(redemptions::household_id.eq_any(chunk))
                .filter(redemptions::created_at.lt(to))
                .select(redemptions::household_id)
                .distinct()
                .load::<String>(c)?,
        );
    }
    let mut out: Vec<EarnerRow> = by
        .into_iter()
        .map(
            |(household_id, (head_name, months, points, proposers))| EarnerRow {
                ever_redeemed: redeemed.contains(&household_id),
                proposers,
                household_id,
                head_name,
                months_earning: months.len() as i64,
                points,
            },
        )
        .collect();
    out.sort_by(|a, b| a.household_id.cmp(&b.household_id));
    Ok(out)
}

/// Households that share a phone, an ID number or a home (the same village
/// and address) with a staff member's own record. Reads the few staff with
/// anything on file, then the households matching any of it by index (ID
/// by its keyed hash; phone by its masked form, then the two decrypted and
/// compared; home by village and address): no household is decrypted
/// unless its masked phone is a staff member's.
pub fn related(c: &mut DbConn, key: &DataKey) -> QueryResult<Vec<Relation>> {
    type Staff = (String, String, String, String, Option<String>, String);
    let staff: Vec<Staff> = users::table
        .filter(
            users::id_lookup
                .ne("")
                .or(users::phone_masked.ne(""))
                .or(users::home_area_id.is_not_null()),
        )
        .select((
            users::id,
            users::id_lookup,
            users::phone_cipher,
            users::phone_masked,
            users::home_area_id,
            users::home_address,
        ))
        .load(c)?;
    if staff.is_empty() {
        return Ok(Vec::new());
    }
    let lookups: Vec<&str> = staff
        .iter()
        .map(|s| s.1.as_str())
        .filter(|l| !l.is_empty())
        .collect();
    let masks: Vec<&str> = staff
        .iter()
        .map(|s| s.3.as_str())
        .filter(|m| !m.is_empty())
        .collect();
    let homes: Vec<&str> = staff
        .iter()
        .filter(|s| !home_key(&s.5).is_empty())
        .filter_map(|s| s.4.as_deref())
        .collect();
    let households: Vec<(String, String, String, String, String, String)> = households::table
        .filter(
            households::id_lookup
                .eq_any(&lookups)
                .or(households::phone_masked.eq_any(&masks))
                .or(households::area_id.eq_any(&homes)),
        )
        .select((
            households::id,
            households::id_lookup,
            households::phone_cipher,
            households::phone_masked,
            households::area_id,
            households::address,
        ))
        .load(c)?;
    let staff_phones: Vec<Option<String>> = staff
        .iter()
        .map(|s| (!s.2.is_empty()).then(|| key.decrypt(&s.2)).flatten())
        .collect();
    let mut out = Vec::new();
    for (h, h_lookup, h_cipher, h_masked, h_area, h_address) in &households {
        let mut phone: Option<Option<String>> = None;
        for (s, staff_phone) in staff.iter().zip(&staff_phones) {
            let mut how = Vec::new();
            if !s.1.is_empty() && s.1 == *h_lookup {
                how.push("id");
            }
            if !s.3.is_empty() && s.3 == *h_masked && staff_phone.is_some() {
                let hp = phone.get_or_insert_with(|| key.decrypt(h_cipher));
                if hp == staff_phone {
                    how.push("phone");
                }
            }
            let home = home_key(&s.5);
            if s.4.as_deref() == Some(h_area.as_str())
                && !home.is_empty()
                && home == home_key(h_address)
            {
                how.push("address");
            }
            if !how.is_empty() {
                out.push(Relation {
                    household_id: h.clone(),
                    staff_id: s.0.clone(),
                    how: how.join("+"),
                });
            }
        }
    }
    out.sort_by(|a, b| (&a.household_id, &a.staff_id).cmp(&(&b.household_id, &b.staff_id)));
    Ok(out)
}

/// An address as compared: made plain (full-width to ASCII), without white
/// space.
fn home_key(address: &str) -> String {
    crate::domain::input::normalize(address)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}
