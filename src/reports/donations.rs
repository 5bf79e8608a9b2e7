//! The donations section: what the area's stores received in the month.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::{Bind, NamedRow, ThreeNums, load};
use crate::db::DbConn;

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DonationsSection {
    pub count: i64,
    pub money_fen: i64,
    pub goods_value_fen: i64,
    /// By donor kind: id = kind, n = donations, points = value in fen.
    pub by_kind: Vec<NamedRow>,
    /// Top donors by value (money and goods), n = donations, points = fen.
    pub top_donors: Vec<NamedRow>,
}

/// Donations received by the area's stores in the month.
pub(super) fn section(
    conn: &mut DbConn,
    filter: &str,
    prefix: &str,
    start: NaiveDate,
    end: NaiveDate,
) -> QueryResult<DonationsSection> {
    let binds = || {
        vec![
            Bind::Text(prefix.to_string()),
            Bind::Date(start),
            Bind::Date(end),
        ]
    };
    // Each donation's value: its money plus its goods.
    let valued = "(SELECT d.id, d.donor_id, d.money_fen,
                          COALESCE((SELECT SUM(l.value_fen) FROM donation_lines l WHERE l.donation_id = d.id), 0) AS goods_fen
                     FROM donations d JOIN stores s ON s.id = d.store_id JOIN areas a ON a.id = s.area_id
                    WHERE FILTER AND d.donated_on >= $2 AND d.donated_on < $3) v"
        .replace("FILTER", filter);
    let totals: Vec<ThreeNums> = load(
        conn,
        &format!(
            "SELECT COUNT(*) AS a, CAST(COALESCE(SUM(v.money_fen), 0) AS BIGINT) AS b,
                    CAST(COALESCE(SUM(v.goods_fen), 0) AS BIGINT) AS c FROM {valued}"
        ),
        &binds(),
    )?;
    let by_kind: Vec<NamedRow> = load(
        conn,
        &format!(
            "SELECT o.kind AS id, o.kind AS name, COUNT(*) AS n,
                    CAST(COALESCE(SUM(v.money_fen + v.goods_fen), 0) AS BIGINT) AS points
               FROM {valued} JOIN donors o ON o.id = v.donor_id GROUP BY o.kind ORDER BY o.kind"
        ),
        &binds(),
    )?;
    let top_donors: Vec<NamedRow> = load(
        conn,
        &format!(
            "SELECT o.id AS id, o.name AS name, COUNT(*) AS n,
                    CAST(COALESCE(SUM(v.money_fen + v.goods_fen), 0) AS BIGINT) AS points
               FROM {valued} JOIN donors o ON o.id = v.donor_id
              GROUP BY o.id, o.name ORDER BY points DESC, o.name LIMIT 10"
        ),
        &binds(),
    )?;
    let t = totals.first();
    Ok(DonationsSection {
        count: t.map(|r| r.a).unwrap_or(0),
        money_fen: t.map(|r| r.b).unwrap_or(0),
        goods_value_fen: t.map(|r| r.c).unwrap_or(0),
        by_kind,
        top_donors,
    })
}
