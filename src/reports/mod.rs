//! The monthly summary (月度汇总): what happened in an area in one month,
//! computed with a few aggregate queries (never one per row), and the
//! identities that must hold between its numbers.

mod check;
pub mod close;
mod donations;
mod goods;
mod households;
mod points;
mod redemptions;
pub mod scoped;
pub mod snapshot;
pub mod trend;
mod utc;

pub use donations::DonationsSection;
pub use goods::GoodsLine;
pub use households::{HouseholdsSection, InactiveHousehold};
pub use points::{BreakdownRow, PointsSection};
pub use redemptions::RedemptionsSection;

use chrono_tz::Tz;
use diesel::QueryableByName;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::{self, DbConn};
use crate::ledger::totals::REDEEMER;

pub use crate::time::Month;

pub(crate) use crate::db::{Bind, load};

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
    let id = store.store.id.to_string();
    let redemptions = redemptions::section(
        conn,
        "FROM redemptions r WHERE r.store_id = $1",
        &[
            Bind::Text(id.clone()),
            Bind::Ts(start_utc),
            Bind::Ts(end_utc),
        ],
    )?;
    let goods = goods::lines(conn, STORE_FILTER, &id, month, start_utc, end_utc)?;
    let donations = donations::section(conn, STORE_FILTER, &id, start, end)?;
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
    summary.mismatches = check::check_goods(&summary);
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
    let totals = points::Totals::load(conn, &area.path, &prefix, month)?;
    let points = totals.section(conn)?;
    let households = households::section(conn, tz, &area, &prefix, month, &totals)?;
    // Redemptions by households of the area: made in the month, less the
    // voids made in it (a void in a later month counts in that month, and
    // does not change the month that is over); the households whose
    // redemptions of the month stood at its end, from the villages' counters.
    let redemptions = redemptions::area_section(
        conn,
        &prefix,
        month,
        (start_utc, end_utc),
        totals.counter(REDEEMER),
    )?;
    let breakdown = totals.breakdown(conn, &area.id)?;
    let after = totals.after();
    let goods = goods::lines(conn, AREA_FILTER, &prefix, month, start_utc, end_utc)?;
    let donations = donations::section(conn, AREA_FILTER, &prefix, start, end)?;

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
    summary.mismatches = check::check(conn, &summary, &prefix, after)?;
    Ok(Some(summary))
}
