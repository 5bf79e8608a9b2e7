//! The redemptions section: what households redeemed in the month, by
//! store and by item.

use diesel::QueryableByName;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::{Bind, NamedRow, load};
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
