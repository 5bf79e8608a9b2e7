//! The points section and the one-level-down breakdown: read from the
//! ledger's monthly totals per village (`ledger::totals`), rolled up here.

use std::collections::HashMap;

use diesel::QueryableByName;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::{Bind, Month, NamedRow, load};
use crate::db::DbConn;
use crate::ledger::totals::{APPROVED, MOVE_IN, MOVE_OUT, PROPOSED, REJECTED};

/// A village's ledger total for one kind (and category) before, in or
/// after the month (period 0, 1, 2).
#[derive(QueryableByName, Debug, Clone)]
struct TotalRow {
    /// The village's id as read, then its path.
    #[diesel(sql_type = Text)]
    path: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    category_id: String,
    #[diesel(sql_type = BigInt)]
    period: i64,
    #[diesel(sql_type = BigInt)]
    points: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BreakdownRow {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = BigInt)]
    pub opening: i64,
    #[diesel(sql_type = BigInt)]
    pub awarded: i64,
    #[diesel(sql_type = BigInt)]
    pub redeemed: i64,
    #[diesel(sql_type = BigInt)]
    pub closing: i64,
}

impl BreakdownRow {
    /// Every other change of the month, points: deductions, reversals,
    /// adjustments, moves and expiry (`closing` less `opening`, `awarded`
    /// and `redeemed`), so that a row adds up as printed.
    pub fn other(&self) -> i64 {
        self.closing - self.opening - self.awarded - self.redeemed
    }
}

/// Points section: household balances in the area and what moved them.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PointsSection {
    pub opening: i64,
    pub awarded: i64,
    pub deducted: i64,
    pub reversed: i64,
    pub adjusted: i64,
    /// Balances of households that moved into (+) or out of (-) the area.
    pub moved: i64,
    /// Net of redemptions and their voids (negative: points spent).
    pub redeemed: i64,
    pub expired: i64,
    pub closing: i64,
    pub by_category: Vec<NamedRow>,
    pub proposed: i64,
    pub approved: i64,
    pub rejected: i64,
}

impl PointsSection {
    pub fn flows(&self) -> i64 {
        self.awarded
            + self.deducted
            + self.reversed
            + self.adjusted
            + self.moved
            + self.redeemed
            + self.expired
    }
}

/// The area's villages' totals around one month, each under its village's
/// path: before it (period 0, summed), in it (1) and after it (2).
pub(super) struct Totals {
    rows: Vec<TotalRow>,
    /// Area id -> path, for every area of the subtree.
    paths: HashMap<String, String>,
}

impl Totals {
    /// The totals of the villages under `path` (whose LIKE prefix is
    /// `prefix`) around `month`.
    pub(super) fn load(
        conn: &mut DbConn,
        path: &str,
        prefix: &str,
        month: Month,
    ) -> QueryResult<Totals> {
        // The opening: from the villages' closings of the latest month
        // closed before this one, if any, plus the months between (a few
        // rows per village); else the sum of every earlier month.
        let closed: Option<String> = {
            use crate::db::schema::month_closes;
            use diesel::dsl::max;
            month_closes::table
                .filter(month_closes::month.lt(month.to_string()))
                .select(max(month_closes::month))
                .first(conn)?
        };
        // The months are named, not ranged: each is a seek in the totals'
        // key (month, village, ...) for each village of the area (a range
        // of months with a list of villages, SQLite walked every month for
        // each village, and a GROUP BY over the month and those after it
        // sorted all their rows again: 100 ms of a city's 110). The first
        // and latest months kept bound the lists (two queries: SQLite
        // answers one MIN or MAX from the key's end, but both in one query
        // by reading every row).
        let kept_month = |conn: &mut DbConn, latest: bool| -> QueryResult<Option<Month>> {
            use crate::db::schema::point_month_totals as t;
            use diesel::dsl::{max, min};
            let m: Option<String> = if latest {
                t::table.select(max(t::month)).first(conn)?
            } else {
                t::table.select(min(t::month)).first(conn)?
            };
            Ok(m.and_then(|m| Month::parse(&m).ok()))
        };
        let first_kept = kept_month(conn, false)?;
        let last = kept_month(conn, true)?
            .filter(|l| *l > month)
            .unwrap_or(month);
        let closed = closed.and_then(|m| Month::parse(&m).ok());
        let between = match (closed, first_kept) {
            (Some(c), _) => c.next().through(month.prev()),
            (None, Some(f)) => f.through(month.prev()),
            (None, None) => Vec::new(),
        };
        let after = month.next().through(last);
        let mut binds = vec![
            Bind::Text(prefix.to_string()),
            Bind::Text(month.to_string()),
            Bind::Text(closed.map(|c| c.to_string()).unwrap_or_default()),
        ];
        let mut list = |months: &[Month]| {
            let from = binds.len() + 1;
            binds.extend(months.iter().map(|m| Bind::Text(m.to_string())));
            crate::db::placeholders(from, months.len())
        };
        let villages = "t.area_id IN (SELECT a.id FROM areas a WHERE a.path LIKE $1)";
        // The month's rows, one per village, kind and category as kept;
        // the opening per village: its closing, and its points of the
        // months between; after the month only the sum (what was posted
        // since, taken off today's balances by the check).
        let mut sql = format!(
            "SELECT t.area_id AS path, t.kind AS kind, t.category_id AS category_id,
                    CAST(1 AS BIGINT) AS period, t.points AS points, t.entries AS n
               FROM point_month_totals t
              WHERE t.month = $2 AND {villages}
             UNION ALL
             SELECT k.area_id, '', '', CAST(0 AS BIGINT), k.points, CAST(0 AS BIGINT)
               FROM village_closings k
              WHERE k.month = $3 AND k.points <> 0
                AND k.area_id IN (SELECT a.id FROM areas a WHERE a.path LIKE $1)"
        );
        if !between.is_empty() {
            sql.push_str(&format!(
                " UNION ALL
                 SELECT t.area_id, '', '', CAST(0 AS BIGINT), CAST(SUM(t.points) AS BIGINT),
                        CAST(0 AS BIGINT)
                   FROM point_month_totals t
                  WHERE t.month IN ({}) AND t.points <> 0 AND {villages}
                  GROUP BY t.area_id",
                list(&between)
            ));
        }
        if !after.is_empty() {
            sql.push_str(&format!(
                " UNION ALL
                 SELECT '', '', '', CAST(2 AS BIGINT), CAST(COALESCE(SUM(t.points), 0) AS BIGINT),
                        CAST(0 AS BIGINT)
                   FROM point_month_totals t
                  WHERE t.month IN ({}) AND t.points <> 0 AND {villages}",
                list(&after)
            ));
        }
        let mut rows: Vec<TotalRow> = load(conn, &sql, &binds)?;
        // Each row under its village's path, for the roll-up.
        let paths: HashMap<String, String> = crate::areas::subtree(conn, path)?
            .into_iter()
            .map(|a| (a.id, a.path))
            .collect();
        for r in &mut rows {
            r.path = paths.get(&r.path).cloned().unwrap_or_default();
        }
        Ok(Totals { rows, paths })
    }

    /// How many of a counter kind in the month.
    pub(super) fn counter(&self, kind: &str) -> i64 {
        self.rows
            .iter()
            .filter(|r| r.period == 1 && r.kind == kind)
            .map(|r| r.n)
            .sum()
    }

    fn sum(&self, f: &dyn Fn(&TotalRow) -> bool) -> i64 {
        self.rows.iter().filter(|r| f(r)).map(|r| r.points).sum()
    }

    /// Points of these kinds in the month.
    fn kind(&self, k: &[&str]) -> i64 {
        self.sum(&|r| r.period == 1 && k.contains(&r.kind.as_str()))
    }

    /// Points posted after the month (to take off today's balances).
    pub(super) fn after(&self) -> i64 {
        self.sum(&|r| r.period == 2)
    }

    /// The points section.
    pub(super) fn section(&self, conn: &mut DbConn) -> QueryResult<PointsSection> {
        let opening = self.sum(&|r| r.period == 0);
        let categories: Vec<NamedRow> = load(
            conn,
            "SELECT rc.id AS id, rc.name AS name, CAST(rc.position AS BIGINT) AS n, CAST(0 AS BIGINT) AS points
               FROM rule_categories rc ORDER BY rc.position, rc.name",
            &[],
        )?;
        let by_category: Vec<NamedRow> = categories
            .into_iter()
            .filter_map(|c| {
                let rows = || {
                    self.rows
                        .iter()
                        .filter(|r| r.period == 1 && r.kind == "award" && r.category_id == c.id)
                };
                let n: i64 = rows().map(|r| r.n).sum();
                let points: i64 = rows().map(|r| r.points).sum();
                (n > 0).then_some(NamedRow { n, points, ..c })
            })
            .collect();
        Ok(PointsSection {
            opening,
            closing: opening + self.sum(&|r| r.period == 1),
            awarded: self.kind(&["award"]),
            deducted: self.kind(&["deduction"]),
            reversed: self.kind(&["award_reversal"]),
            adjusted: self.kind(&["adjustment"]),
            redeemed: self.kind(&["redemption", "redemption_void"]),
            expired: self.kind(&["expiry"]),
            moved: self.kind(&[MOVE_IN, MOVE_OUT]),
            by_category,
            proposed: self.counter(PROPOSED),
            approved: self.counter(APPROVED),
            rejected: self.counter(REJECTED),
        })
    }

    /// One level down: each child area of `area_id`, rolled up from its
    /// villages.
    pub(super) fn breakdown(
        &self,
        conn: &mut DbConn,
        area_id: &str,
    ) -> QueryResult<Vec<BreakdownRow>> {
        let children: Vec<NamedRow> = load(
            conn,
            "SELECT c.id AS id, c.name AS name, CAST(0 AS BIGINT) AS n, CAST(0 AS BIGINT) AS points
               FROM areas c WHERE c.parent_id = $1 ORDER BY c.name, c.id",
            &[Bind::Text(area_id.to_string())],
        )?;
        Ok(children
            .into_iter()
            .map(|c| {
                let path = self.paths.get(&c.id).map(String::as_str).unwrap_or("\u{0}");
                let under = |r: &TotalRow| r.path.starts_with(path);
                let opening = self.sum(&|r| under(r) && r.period == 0);
                BreakdownRow {
                    opening,
                    awarded: self.sum(&|r| under(r) && r.period == 1 && r.kind == "award"),
                    redeemed: self.sum(&|r| {
                        under(r)
                            && r.period == 1
                            && (r.kind == "redemption" || r.kind == "redemption_void")
                    }),
                    closing: opening + self.sum(&|r| under(r) && r.period == 1),
                    id: c.id,
                    name: c.name,
                }
            })
            .collect())
    }
}
