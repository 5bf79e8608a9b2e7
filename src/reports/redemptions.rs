//! The redemptions section: what households redeemed in the month, by
//! store and by item.

use diesel::QueryableByName;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;

use super::{Bind, Month, NamedRow, load, utc};
use crate::db::DbConn;

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RedemptionsSection {
    pub count: i64,
    pub points: i64,
    pub households: i64,
    pub by_store: Vec<NamedRow>,
    /// Top goods: n = quantity, points = points.
    pub top_goods: Vec<NamedRow>,
}

/// One part of the redemptions section: the total, a store, or an item.
#[derive(QueryableByName, Debug, Clone)]
struct RedemptionPart {
    #[diesel(sql_type = Text)]
    part: String,
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    points: i64,
    #[diesel(sql_type = BigInt)]
    households: i64,
}

/// The redemptions section of a month. One rule, as everywhere in the
/// summary: an event counts in the month it was made. A redemption counts
/// in the month it was made, a void in the month it was made (whichever
/// month the redemption was): `count` is the redemptions made in the month
/// and still standing at its end, `points` (and each store's and item's
/// figures) the month's redemptions less the month's voids, `households`
/// those whose redemptions of the month stood at its end.
///
/// `red_from` is the FROM .. WHERE part over `redemptions r` choosing whose
/// redemptions (by `$1`); `$2` and `$3` are the month's bounds (UTC). The
/// month's redemptions and voids are picked once and counted three ways in
/// the same statement.
pub(super) fn section(
    conn: &mut DbConn,
    red_from: &str,
    binds: &[Bind],
) -> QueryResult<RedemptionsSection> {
    let parts: Vec<RedemptionPart> = load(
        conn,
        &format!(
            "WITH m AS MATERIALIZED (
                SELECT r.id, r.store_id, r.household_id, r.total_points AS points,
                       CAST(1 AS BIGINT) AS sign,
                       CAST(CASE WHEN r.voided_at IS NOT NULL AND r.voided_at < $3 THEN 0 ELSE 1 END AS BIGINT) AS stood
                  {red_from} AND r.created_at >= $2 AND r.created_at < $3
                UNION ALL
                SELECT r.id, r.store_id, r.household_id, -r.total_points, CAST(-1 AS BIGINT), CAST(0 AS BIGINT)
                  {red_from} AND r.voided_at >= $2 AND r.voided_at < $3)
             SELECT 'all' AS part, '' AS id, '' AS name,
                    CAST(COALESCE(SUM(m.stood), 0) AS BIGINT) AS n,
                    CAST(COALESCE(SUM(m.points), 0) AS BIGINT) AS points,
                    COUNT(DISTINCT CASE WHEN m.stood = 1 THEN m.household_id END) AS households
               FROM m
             UNION ALL
             SELECT 'store', s.id, s.name, CAST(SUM(m.stood) AS BIGINT),
                    CAST(SUM(m.points) AS BIGINT), CAST(0 AS BIGINT)
               FROM m JOIN stores s ON s.id = m.store_id GROUP BY s.id, s.name
             UNION ALL
             SELECT 'item', l.item_id, MIN(l.item_name), CAST(SUM(m.sign * l.quantity) AS BIGINT),
                    CAST(SUM(m.sign * l.points) AS BIGINT), CAST(0 AS BIGINT)
               FROM m JOIN redemption_lines l ON l.redemption_id = m.id GROUP BY l.item_id"
        ),
        binds,
    )?;
    let mut section = RedemptionsSection::default();
    for p in parts {
        let row = NamedRow {
            id: p.id,
            name: p.name,
            n: p.n,
            points: p.points,
        };
        match p.part.as_str() {
            "all" => {
                section.count = p.n;
                section.points = p.points;
                section.households = p.households;
            }
            // A store or an item whose month nets to nothing says nothing.
            _ if row.n == 0 && row.points == 0 => {}
            "store" => section.by_store.push(row),
            _ => section.top_goods.push(row),
        }
    }
    section
        .by_store
        .sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    section
        .top_goods
        .sort_by(|a, b| b.n.cmp(&a.n).then_with(|| a.name.cmp(&b.name)));
    section.top_goods.truncate(10);
    Ok(section)
}

/// A store's or an item's share of an area's month, from the running
/// totals, an hour's rows, or the month's voids (units in `quantity`).
#[derive(QueryableByName, Debug, Clone)]
struct Share {
    #[diesel(sql_type = Text)]
    store_id: String,
    #[diesel(sql_type = Text)]
    item_id: String,
    #[diesel(sql_type = Text)]
    item_name: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    quantity: i64,
    #[diesel(sql_type = BigInt)]
    points: i64,
}

/// The redemptions section of an area (whose LIKE prefix is `prefix`) for
/// `month` (`[start_utc, end_utc)` in UTC), with the same figures as
/// `section`: the redemptions made in the month from the running totals of
/// the area's villages (`ledger::redemption_totals`, UTC months, with the
/// hours between read from the redemptions: `utc::pieces`), less the
/// month's voids (read from the redemptions: few, and indexed).
/// `households` is the number of the area's households with a redemption
/// of the month standing at its end, which the caller reads from the
/// villages' counters (`ledger::redeemer_totals`).
pub(super) fn area_section(
    conn: &mut DbConn,
    prefix: &str,
    month: Month,
    (start_utc, end_utc): (NaiveDateTime, NaiveDateTime),
    households: i64,
) -> QueryResult<RedemptionsSection> {
    let mut shares: Vec<Share> = load(
        conn,
        "SELECT t.store_id AS store_id, t.item_id AS item_id, t.item_name AS item_name,
                CAST(SUM(t.redemptions) AS BIGINT) AS n, CAST(SUM(t.quantity) AS BIGINT) AS quantity,
                CAST(SUM(t.points) AS BIGINT) AS points
           FROM redemption_month_totals t
          WHERE t.month = $2 AND t.area_id IN (SELECT a.id FROM areas a WHERE a.path LIKE $1)
          GROUP BY t.store_id, t.item_id, t.item_name",
        &[Bind::Text(prefix.to_string()), Bind::Text(month.to_string())],
    )?;
    let of_area = "FROM redemptions r JOIN households h ON h.id = r.household_id
                   JOIN areas a ON a.id = h.area_id WHERE a.path LIKE $1";
    let of_area_lines = "FROM redemptions r JOIN households h ON h.id = r.household_id
                   JOIN areas a ON a.id = h.area_id JOIN redemption_lines l ON l.redemption_id = r.id
                  WHERE a.path LIKE $1";
    for p in utc::pieces(month, start_utc, end_utc)
        .into_iter()
        .filter(|p| p.period == 1)
    {
        shares.extend(load::<Share>(
            conn,
            &format!(
                "SELECT r.store_id AS store_id, '' AS item_id, '' AS item_name,
                        CAST($4 * COUNT(*) AS BIGINT) AS n, CAST(0 AS BIGINT) AS quantity,
                        CAST($4 * SUM(r.total_points) AS BIGINT) AS points
                   {of_area} AND r.created_at >= $2 AND r.created_at < $3
                  GROUP BY r.store_id
                 UNION ALL
                 SELECT '', l.item_id, l.item_name, CAST(0 AS BIGINT),
                        CAST($4 * SUM(l.quantity) AS BIGINT), CAST($4 * SUM(l.points) AS BIGINT)
                   {of_area_lines} AND r.created_at >= $2 AND r.created_at < $3
                  GROUP BY l.item_id, l.item_name"
            ),
            &[
                Bind::Text(prefix.to_string()),
                Bind::Ts(p.from),
                Bind::Ts(p.to),
                Bind::Int(p.sign),
            ],
        )?);
    }
    // The month's voids: their points (and units) come off the month they
    // are made in; one made in the month no longer stands at its end.
    let binds = [
        Bind::Text(prefix.to_string()),
        Bind::Ts(start_utc),
        Bind::Ts(end_utc),
    ];
    shares.extend(load::<Share>(
        conn,
        &format!(
            "SELECT r.store_id AS store_id, '' AS item_id, '' AS item_name,
                    CAST(-SUM(CASE WHEN r.created_at >= $2 THEN 1 ELSE 0 END) AS BIGINT) AS n,
                    CAST(0 AS BIGINT) AS quantity, CAST(-SUM(r.total_points) AS BIGINT) AS points
               {of_area} AND r.voided_at >= $2 AND r.voided_at < $3
              GROUP BY r.store_id
             UNION ALL
             SELECT '', l.item_id, l.item_name, CAST(0 AS BIGINT),
                    CAST(-SUM(l.quantity) AS BIGINT), CAST(-SUM(l.points) AS BIGINT)
               {of_area_lines} AND r.voided_at >= $2 AND r.voided_at < $3
              GROUP BY l.item_id, l.item_name"
        ),
        &binds,
    )?);
    let mut section = RedemptionsSection {
        households,
        ..RedemptionsSection::default()
    };
    let mut stores: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut items: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for s in shares {
        if s.item_id.is_empty() {
            let v = stores.entry(s.store_id).or_default();
            v.0 += s.n;
            v.1 += s.points;
        } else {
            let v = items.entry((s.item_id, s.item_name)).or_default();
            v.0 += s.quantity;
            v.1 += s.points;
        }
    }
    let names: HashMap<String, String> = load::<NamedRow>(
        conn,
        "SELECT s.id AS id, s.name AS name, CAST(0 AS BIGINT) AS n, CAST(0 AS BIGINT) AS points
           FROM stores s",
        &[],
    )?
    .into_iter()
    .map(|s| (s.id, s.name))
    .collect();
    for (id, (n, points)) in stores {
        section.count += n;
        section.points += points;
        // A store or an item whose month nets to nothing says nothing.
        if n == 0 && points == 0 {
            continue;
        }
        if let Some(name) = names.get(&id) {
            section.by_store.push(NamedRow {
                name: name.clone(),
                id,
                n,
                points,
            });
        }
    }
    // An item under the first of the names its lines carry.
    let mut goods: BTreeMap<String, NamedRow> = BTreeMap::new();
    for ((id, name), (n, points)) in items.into_iter().filter(|(_, v)| *v != (0, 0)) {
        let row = goods.entry(id.clone()).or_insert_with(|| NamedRow {
            id,
            name,
            n: 0,
            points: 0,
        });
        row.n += n;
        row.points += points;
    }
    section.top_goods = goods
        .into_values()
        .filter(|r| r.n != 0 || r.points != 0)
        .collect();
    section
        .by_store
        .sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    section
        .top_goods
        .sort_by(|a, b| b.n.cmp(&a.n).then_with(|| a.name.cmp(&b.name)));
    section.top_goods.truncate(10);
    Ok(section)
}
