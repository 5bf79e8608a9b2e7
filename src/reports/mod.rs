//! The monthly summary (月度汇总): what happened in an area in one month,
//! computed with a few aggregate queries (never one per row), and the
//! identities that must hold between its numbers.

pub mod close;
pub mod scoped;
pub mod snapshot;
pub mod trend;

use chrono::{NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use diesel::QueryableByName;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::db::{self, DbConn};

pub use crate::time::Month;

pub(crate) use crate::db::{Bind, load};

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

#[derive(QueryableByName, Debug, Clone)]
struct TwoNums {
    #[diesel(sql_type = BigInt)]
    a: i64,
}

#[derive(QueryableByName, Debug, Clone)]
struct ThreeNums {
    #[diesel(sql_type = BigInt)]
    a: i64,
    #[diesel(sql_type = BigInt)]
    b: i64,
    #[diesel(sql_type = BigInt)]
    c: i64,
}

#[derive(QueryableByName, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NamedRow {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
    #[diesel(sql_type = BigInt)]
    pub points: i64,
}

#[derive(QueryableByName, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InactiveHousehold {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub head_name: String,
    /// The village, with its town when the summary is above town level
    /// (`areas::display_name`).
    #[diesel(sql_type = Text)]
    pub village: String,
    /// The village's town (to tell same-named villages apart).
    #[diesel(sql_type = Text)]
    #[serde(default)]
    pub town: String,
    /// The last month it took part ("2026-07").
    #[diesel(sql_type = Nullable<Text>)]
    pub last_active: Option<String>,
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

impl NamedRow {
    /// For a by-donor-kind row: the kind's label.
    pub fn donor_kind_key(&self) -> &'static str {
        crate::domain::stock::DonorKind::parse(&self.id)
            .map(crate::domain::stock::DonorKind::label_key)
            .unwrap_or("donors.kind_anonymous")
    }
}

/// Yuan from fen, for display ("12.50"): the one money formatter.
pub use crate::domain::stock::yuan;

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

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HouseholdsSection {
    pub registered: i64,
    pub taking_part: i64,
    pub first_time: i64,
    pub inactive: Vec<InactiveHousehold>,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RedemptionsSection {
    pub count: i64,
    pub points: i64,
    pub households: i64,
    pub by_store: Vec<NamedRow>,
    /// Top goods: n = quantity, points = points.
    pub top_goods: Vec<NamedRow>,
}

/// Stock movements since the month began, summed by where they went, what,
/// and whether in the month (period 1) or after it (2).
#[derive(QueryableByName, Debug, Clone)]
struct MovedRow {
    #[diesel(sql_type = Nullable<Text>)]
    from_store: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    to_store: Option<String>,
    #[diesel(sql_type = Text)]
    item_id: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = BigInt)]
    period: i64,
    #[diesel(sql_type = BigInt)]
    quantity: i64,
}

/// What a store holds of an item now.
#[derive(QueryableByName, Debug, Clone)]
struct ShelfRow {
    #[diesel(sql_type = Text)]
    store_id: String,
    #[diesel(sql_type = Text)]
    item_id: String,
    #[diesel(sql_type = BigInt)]
    quantity: i64,
}

/// A store's or an item's name (and an item's unit), to show.
#[derive(QueryableByName, Debug, Clone)]
struct NameRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    unit: String,
}

/// One item at one store over the month.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GoodsLine {
    pub store_id: String,
    pub store_name: String,
    pub item_id: String,
    pub item_name: String,
    pub unit: String,
    pub opening: i64,
    pub donated: i64,
    pub bought: i64,
    pub moved_in: i64,
    pub redeemed: i64,
    pub moved_out: i64,
    pub written_off: i64,
    /// Stocktake differences and reversals, net (+ in, - out).
    pub counted: i64,
    pub closing: i64,
}

impl GoodsLine {
    pub fn flows(&self) -> i64 {
        self.donated + self.bought + self.moved_in
            - self.redeemed
            - self.moved_out
            - self.written_off
            + self.counted
    }
}

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

/// An identity that failed, as a translation key and the two sides.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Mismatch {
    pub key: String,
    pub what: String,
    pub expected: i64,
    pub found: i64,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub month: Month,
    pub area_id: String,
    pub area_name: String,
    pub area_level: String,
    /// Set for one store's summary.
    pub store_id: Option<String>,
    pub points: PointsSection,
    pub households: HouseholdsSection,
    pub redemptions: RedemptionsSection,
    pub breakdown: Vec<BreakdownRow>,
    pub goods: Vec<GoodsLine>,
    pub donations: DonationsSection,
    /// The twelve months up to this one (areas only).
    pub trend: Vec<trend::TrendPoint>,
    /// Set when the month is closed (月结).
    pub closed: Option<close::Closed>,
    /// Identities that failed (empty when everything adds up).
    pub mismatches: Vec<Mismatch>,
}

impl Summary {
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Inactive households listed on the page at most.
pub const INACTIVE_LIMIT: i64 = 500;

/// Stores (alias s, with their area a) in an area, or one store, by `$1`.
const AREA_FILTER: &str = "a.path LIKE $1";
const STORE_FILTER: &str = "s.id = $1";

/// The monthly summary of one store: its redemptions, goods and donations
/// (points and households belong to areas, so those sections stay empty).
/// A closed month's summary is the one kept when it was first made.
pub fn monthly_store(
    conn: &mut DbConn,
    tz: Tz,
    store: &crate::stores::StoreRow,
    month: Month,
) -> QueryResult<Summary> {
    let scope = format!("store:{}", store.store.id);
    snapshot::frozen(conn, month, &scope, |c| {
        compute_store(c, tz, store, month).map(Some)
    })
    .map(|s| s.expect("a store's summary always exists"))
}

fn compute_store(
    conn: &mut DbConn,
    tz: Tz,
    store: &crate::stores::StoreRow,
    month: Month,
) -> QueryResult<Summary> {
    let (start, end) = (month.first_day(), month.end_day());
    let (start_utc, end_utc) = (
        crate::time::local_day_start_utc(start, tz),
        crate::time::local_day_start_utc(end, tz),
    );
    let id = store.store.id.clone();
    let redemptions = redemptions_section(
        conn,
        "FROM redemptions r WHERE r.store_id = $1",
        &[
            Bind::Text(id.clone()),
            Bind::Ts(start_utc),
            Bind::Ts(end_utc),
        ],
    )?;
    let goods = goods_lines(conn, STORE_FILTER, &id, start_utc, end_utc)?;
    let donations = donations(conn, STORE_FILTER, &id, start, end)?;
    let mut summary = Summary {
        month,
        area_id: store.store.area_id.clone(),
        area_name: format!("{} · {}", store.area_name, store.store.name),
        area_level: String::new(),
        store_id: Some(id),
        points: PointsSection::default(),
        households: HouseholdsSection::default(),
        redemptions,
        breakdown: Vec::new(),
        goods,
        donations,
        trend: Vec::new(),
        closed: close::find(conn, month)?,
        mismatches: Vec::new(),
    };
    summary.mismatches = check_goods(&summary);
    Ok(summary)
}

/// The monthly summary of an area (and everything below it). A closed
/// month's summary is the one kept when it was first made.
pub fn monthly(
    conn: &mut DbConn,
    tz: Tz,
    area_id: &str,
    month: Month,
) -> QueryResult<Option<Summary>> {
    let scope = format!("area:{area_id}");
    snapshot::frozen(conn, month, &scope, |c| compute(c, tz, area_id, month))
}

fn compute(conn: &mut DbConn, tz: Tz, area_id: &str, month: Month) -> QueryResult<Option<Summary>> {
    let Some(area) = crate::areas::find(conn, area_id)? else {
        return Ok(None);
    };
    let prefix = db::path_prefix(&area.path);
    let (start, end) = (month.first_day(), month.end_day());
    let (start_utc, end_utc) = (
        crate::time::local_day_start_utc(start, tz),
        crate::time::local_day_start_utc(end, tz),
    );
    let times = || {
        vec![
            Bind::Text(prefix.clone()),
            Bind::Ts(start_utc),
            Bind::Ts(end_utc),
        ]
    };

    let key = month.to_string();
    let months = || vec![Bind::Text(prefix.clone()), Bind::Text(key.clone())];

    // Points: the ledger's monthly totals per village (kept with every
    // entry), in and after the month by kind; before it, only the sum (the
    // opening balance). Rolled up here.
    let mut totals: Vec<TotalRow> = load(
        conn,
        "SELECT t.area_id AS path, t.kind AS kind, t.category_id AS category_id,
                CAST(CASE WHEN t.month = $2 THEN 1 ELSE 2 END AS BIGINT) AS period,
                CAST(SUM(t.points) AS BIGINT) AS points, CAST(SUM(t.entries) AS BIGINT) AS n
           FROM point_month_totals t
          WHERE t.month >= $2 AND t.area_id IN (SELECT a.id FROM areas a WHERE a.path LIKE $1)
          GROUP BY t.area_id, t.kind, t.category_id, CASE WHEN t.month = $2 THEN 1 ELSE 2 END
         UNION ALL
         SELECT t.area_id, '', '', CAST(0 AS BIGINT), CAST(SUM(t.points) AS BIGINT), CAST(0 AS BIGINT)
           FROM point_month_totals t
          WHERE t.month < $2 AND t.points <> 0
            AND t.area_id IN (SELECT a.id FROM areas a WHERE a.path LIKE $1)
          GROUP BY t.area_id",
        &months(),
    )?;
    // Each row under its village's path, for the roll-up below.
    let paths: std::collections::HashMap<String, String> = crate::areas::subtree(conn, &area.path)?
        .into_iter()
        .map(|a| (a.id, a.path))
        .collect();
    for r in &mut totals {
        r.path = paths.get(&r.path).cloned().unwrap_or_default();
    }
    let counter = |kind: &str| -> i64 {
        totals
            .iter()
            .filter(|r| r.period == 1 && r.kind == kind)
            .map(|r| r.n)
            .sum()
    };
    let sum = |f: &dyn Fn(&TotalRow) -> bool| -> i64 {
        totals.iter().filter(|r| f(r)).map(|r| r.points).sum()
    };
    let kind = |k: &[&str]| sum(&|r| r.period == 1 && k.contains(&r.kind.as_str()));
    let opening = sum(&|r| r.period == 0);
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
                totals
                    .iter()
                    .filter(|r| r.period == 1 && r.kind == "award" && r.category_id == c.id)
            };
            let n: i64 = rows().map(|r| r.n).sum();
            let points: i64 = rows().map(|r| r.points).sum();
            (n > 0).then_some(NamedRow { n, points, ..c })
        })
        .collect();
    let points = PointsSection {
        opening,
        closing: opening + sum(&|r| r.period == 1),
        awarded: kind(&["award"]),
        deducted: kind(&["deduction"]),
        reversed: kind(&["award_reversal"]),
        adjusted: kind(&["adjustment"]),
        redeemed: kind(&["redemption", "redemption_void"]),
        expired: kind(&["expiry"]),
        moved: kind(&[
            crate::ledger::totals::MOVE_IN,
            crate::ledger::totals::MOVE_OUT,
        ]),
        by_category,
        proposed: counter(crate::ledger::totals::PROPOSED),
        approved: counter(crate::ledger::totals::APPROVED),
        rejected: counter(crate::ledger::totals::REJECTED),
    };

    // Households.
    let registered: Vec<TwoNums> = load(
        conn,
        "SELECT COUNT(*) AS a, CAST(0 AS BIGINT) AS b FROM households h JOIN areas a ON a.id = h.area_id
          WHERE a.path LIKE $1 AND h.created_at >= $2 AND h.created_at < $3",
        &times(),
    )?;
    let quiet_since = month.prev().prev();
    // Quiet in the last three months: on SQLite for a whole city or province, against
    // the set of those who were not; otherwise asked household by household
    // (PostgreSQL makes that an anti-join, and the set of a whole city's
    // active households would not fit its hash table for NOT IN: it would
    // scan the set once per household).
    let quiet = if matches!(area.level.as_str(), "province" | "city")
        && matches!(conn, DbConn::Sqlite(_))
    {
        "h.id NOT IN (SELECT p.household_id FROM household_months p WHERE p.month >= $2 AND p.month <= $3)"
    } else {
        "NOT EXISTS (SELECT 1 FROM household_months p
                      WHERE p.household_id = h.id AND p.month >= $2 AND p.month <= $3)"
    };
    let inactive: Vec<InactiveHousehold> = load(
        conn,
        &format!(
            "SELECT q.id AS id, q.head_name AS head_name, q.village AS village,
                    COALESCE((SELECT t.name FROM areas t WHERE t.id = q.parent_id), '') AS town,
                    (SELECT MAX(p.month) FROM household_months p
                      WHERE p.household_id = q.id AND p.month <= $3) AS last_active
               FROM (SELECT h.id, h.head_name, a.name AS village, a.path, a.parent_id
                       FROM households h JOIN areas a ON a.id = h.area_id
                      WHERE a.path LIKE $1 AND NOT h.archived AND h.created_at < $4
                        AND {quiet}
                      ORDER BY a.path, h.head_name, h.id LIMIT {INACTIVE_LIMIT}) q
              ORDER BY q.path, q.head_name, q.id"
        ),
        &[
            Bind::Text(prefix.clone()),
            Bind::Text(quiet_since.to_string()),
            Bind::Text(key.clone()),
            Bind::Ts(crate::time::local_day_start_utc(
                quiet_since.first_day(),
                tz,
            )),
        ],
    )?;
    // Above town level a village is named with its town.
    let above_town = matches!(area.level.as_str(), "city" | "district");
    let inactive: Vec<InactiveHousehold> = inactive
        .into_iter()
        .map(|mut i| {
            if above_town {
                i.village = crate::areas::display_name(&i.village, Some(&i.town));
            }
            i
        })
        .collect();
    let households = HouseholdsSection {
        registered: registered.first().map(|r| r.a).unwrap_or(0),
        // Earned or redeemed in the month, in a village of the area then.
        taking_part: counter(crate::ledger::totals::PARTICIPANT),
        first_time: counter(crate::ledger::totals::FIRST_TIME),
        inactive,
    };

    // Redemptions by households of the area: made in the month, less the
    // voids made in it (a void in a later month counts in that month, and
    // does not change the month that is over).
    let red_from = "FROM redemptions r JOIN households h ON h.id = r.household_id JOIN areas a ON a.id = h.area_id
          WHERE a.path LIKE $1";
    let redemptions = redemptions_section(conn, red_from, &times())?;

    // One level down: each child area, rolled up from its villages.
    let children: Vec<NamedRow> = load(
        conn,
        "SELECT c.id AS id, c.name AS name, CAST(0 AS BIGINT) AS n, CAST(0 AS BIGINT) AS points
           FROM areas c WHERE c.parent_id = $1 ORDER BY c.name, c.id",
        &[Bind::Text(area.id.clone())],
    )?;
    let breakdown: Vec<BreakdownRow> = children
        .into_iter()
        .map(|c| {
            let path = paths.get(&c.id).map(String::as_str).unwrap_or("\u{0}");
            let under = |r: &TotalRow| r.path.starts_with(path);
            let opening = sum(&|r| under(r) && r.period == 0);
            BreakdownRow {
                opening,
                awarded: sum(&|r| under(r) && r.period == 1 && r.kind == "award"),
                redeemed: sum(&|r| {
                    under(r)
                        && r.period == 1
                        && (r.kind == "redemption" || r.kind == "redemption_void")
                }),
                closing: opening + sum(&|r| under(r) && r.period == 1),
                id: c.id,
                name: c.name,
            }
        })
        .collect();
    let after: i64 = sum(&|r| r.period == 2);

    let goods = goods_lines(conn, AREA_FILTER, &prefix, start_utc, end_utc)?;
    let donations = donations(conn, AREA_FILTER, &prefix, start, end)?;

    let mut summary = Summary {
        month,
        area_id: area.id.clone(),
        area_name: area.name.clone(),
        area_level: area.level.clone(),
        store_id: None,
        points,
        households,
        redemptions,
        breakdown,
        goods,
        donations,
        trend: trend::trend(conn, tz, &area.path, month)?,
        closed: close::find(conn, month)?,
        mismatches: Vec::new(),
    };
    summary.mismatches = check(conn, &summary, &prefix, after)?;
    Ok(Some(summary))
}

/// Every identity the summary must satisfy; an empty list when it adds up.
fn check(conn: &mut DbConn, s: &Summary, prefix: &str, after: i64) -> QueryResult<Vec<Mismatch>> {
    let mut out = Vec::new();
    let mut expect = |key: &'static str, what: String, expected: i64, found: i64| {
        if expected != found {
            out.push(Mismatch {
                key: key.into(),
                what,
                expected,
                found,
            });
        }
    };
    let p = &s.points;
    expect(
        "reports.check_points",
        String::new(),
        p.opening + p.flows(),
        p.closing,
    );
    expect(
        "reports.check_categories",
        String::new(),
        p.awarded,
        p.by_category.iter().map(|r| r.points).sum(),
    );
    if !s.breakdown.is_empty() {
        for (what, total, sum) in [
            (
                "opening",
                p.opening,
                s.breakdown.iter().map(|r| r.opening).sum(),
            ),
            (
                "awarded",
                p.awarded,
                s.breakdown.iter().map(|r| r.awarded).sum(),
            ),
            (
                "redeemed",
                p.redeemed,
                s.breakdown.iter().map(|r| r.redeemed).sum(),
            ),
            (
                "closing",
                p.closing,
                s.breakdown.iter().map(|r| r.closing).sum(),
            ),
        ] {
            expect("reports.check_breakdown", what.into(), total, sum);
        }
    }
    // The closing balance equals what the households of the area hold now
    // (the ledger's cached balances) less what was posted after the month.
    // (For a city or province, all households' balances less those of households in
    // other areas; below it, from the area's households to their balances:
    // each way reads fewest rows.)
    let held_sql = if matches!(s.area_level.as_str(), "province" | "city") {
        "SELECT (SELECT CAST(COALESCE(SUM(b.balance), 0) AS BIGINT) FROM point_balances b
                  WHERE b.account LIKE 'household:%')
              - (SELECT CAST(COALESCE(SUM(b.balance), 0) AS BIGINT)
                   FROM areas a JOIN households h ON h.area_id = a.id
                   JOIN point_balances b ON b.account = 'household:' || h.id
                  WHERE a.path NOT LIKE $1) AS a"
    } else {
        "SELECT CAST(COALESCE(SUM(b.balance), 0) AS BIGINT) AS a
           FROM households h JOIN areas a ON a.id = h.area_id
           JOIN point_balances b ON b.account = 'household:' || h.id
          WHERE a.path LIKE $1"
    };
    let held: Vec<TwoNums> = load(conn, held_sql, &[Bind::Text(prefix.to_string())])?;
    if let Some(l) = held.first() {
        expect(
            "reports.check_ledger",
            String::new(),
            l.a - after,
            p.closing,
        );
    }
    out.extend(check_goods(s));
    Ok(out)
}

/// Stock per store and item: opening, the month's movements by kind and
/// direction, closing; for every store in the area at once. The closing
/// stock is what the shelf holds now less what moved after the month, so
/// only the movements since the month began are read: once, summed by the
/// database, and shared out to the area's stores here.
fn goods_lines(
    conn: &mut DbConn,
    filter: &str,
    prefix: &str,
    start_utc: NaiveDateTime,
    end_utc: NaiveDateTime,
) -> QueryResult<Vec<GoodsLine>> {
    use std::collections::{BTreeMap, HashMap};
    let stores: HashMap<String, String> = load::<NameRow>(
        conn,
        &format!(
            "SELECT s.id AS id, s.name AS name, '' AS unit
               FROM stores s JOIN areas a ON a.id = s.area_id WHERE {filter}"
        ),
        &[Bind::Text(prefix.to_string())],
    )?
    .into_iter()
    .map(|r| (r.id, r.name))
    .collect();
    let moved: Vec<MovedRow> = load(
        conn,
        "SELECT m.from_store_id AS from_store, m.to_store_id AS to_store, m.item_id AS item_id,
                m.kind AS kind, CAST(CASE WHEN m.at < $2 THEN 1 ELSE 2 END AS BIGINT) AS period,
                CAST(SUM(m.quantity) AS BIGINT) AS quantity
           FROM stock_movements m
          WHERE m.at >= $1
          GROUP BY m.from_store_id, m.to_store_id, m.item_id, m.kind, CASE WHEN m.at < $2 THEN 1 ELSE 2 END",
        &[Bind::Ts(start_utc), Bind::Ts(end_utc)],
    )?;
    let shelves: Vec<ShelfRow> = load(
        conn,
        &format!(
            "SELECT st.store_id AS store_id, st.item_id AS item_id, st.quantity AS quantity
               FROM stock st JOIN stores s ON s.id = st.store_id JOIN areas a ON a.id = s.area_id
              WHERE {filter}"
        ),
        &[Bind::Text(prefix.to_string())],
    )?;
    let items: HashMap<String, (String, String)> = load::<NameRow>(
        conn,
        "SELECT i.id AS id, i.name AS name, i.unit AS unit FROM items i",
        &[],
    )?
    .into_iter()
    .map(|r| (r.id, (r.name, r.unit)))
    .collect();

    type Lines = BTreeMap<(String, String, String, String), GoodsLine>;
    let mut lines: Lines = BTreeMap::new();
    // The line of an item at a store of the area (None: not one of them).
    type Names = HashMap<String, String>;
    type Items = HashMap<String, (String, String)>;
    fn line<'a>(
        lines: &'a mut Lines,
        (stores, items): (&Names, &Items),
        store_id: &str,
        item_id: &str,
    ) -> Option<&'a mut GoodsLine> {
        let store_name = stores.get(store_id)?;
        let (item_name, unit) = items.get(item_id).cloned().unwrap_or_default();
        Some(
            lines
                .entry((
                    store_name.clone(),
                    store_id.to_string(),
                    item_name.clone(),
                    item_id.to_string(),
                ))
                .or_insert_with(|| GoodsLine {
                    store_id: store_id.to_string(),
                    store_name: store_name.clone(),
                    item_id: item_id.to_string(),
                    item_name,
                    unit,
                    ..GoodsLine::default()
                }),
        )
    }
    for r in &shelves {
        if let Some(g) = line(&mut lines, (&stores, &items), &r.store_id, &r.item_id) {
            // On the shelf now: the closing stock once later moves are undone.
            g.closing += r.quantity;
            g.opening += r.quantity;
        }
    }
    for r in &moved {
        for (store, dir) in [(&r.to_store, 1), (&r.from_store, -1)] {
            let Some(g) = store
                .as_deref()
                .and_then(|s| line(&mut lines, (&stores, &items), s, &r.item_id))
            else {
                continue;
            };
            g.opening -= dir * r.quantity;
            if r.period == 2 {
                g.closing -= dir * r.quantity;
                continue;
            }
            let q = r.quantity;
            match (r.kind.as_str(), dir) {
                ("donation", 1) => g.donated += q,
                ("purchase", 1) => g.bought += q,
                ("move", 1) => g.moved_in += q,
                ("move", _) => g.moved_out += q,
                ("redemption", -1) => g.redeemed += q,
                ("write_off", -1) => g.written_off += q,
                _ => g.counted += dir * q,
            }
        }
    }
    let mut out: Vec<GoodsLine> = lines.into_values().collect();
    // Items with no stock and no movement this month say nothing.
    out.retain(|g| g.opening != 0 || g.closing != 0 || g.flows() != 0 || g.redeemed != 0);
    Ok(out)
}

/// Donations received by the area's stores in the month.
fn donations(
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
fn redemptions_section(
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

/// Opening + in - out = closing for every item at every store, and the
/// stores' redemptions sum to the total.
fn check_goods(s: &Summary) -> Vec<Mismatch> {
    let mut out = Vec::new();
    for g in &s.goods {
        if g.opening + g.flows() != g.closing {
            out.push(Mismatch {
                key: "reports.check_goods".into(),
                what: format!("{} {}", g.store_name, g.item_name),
                expected: g.opening + g.flows(),
                found: g.closing,
            });
        }
    }
    let by_store: i64 = s.redemptions.by_store.iter().map(|r| r.points).sum();
    if by_store != s.redemptions.points {
        out.push(Mismatch {
            key: "reports.check_redemptions".into(),
            what: String::new(),
            expected: s.redemptions.points,
            found: by_store,
        });
    }
    out
}
