//! Stocktake (盘点): a count sheet for a store with the expected quantities
//! as of its start, the counted quantities keyed in, and on confirmation the
//! differences posted as adjustments, all in one transaction, against the
//! stocktake and with who counted.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Outcome, StockError, adjustment, once, post};
use crate::audit::{self, AuditCtx};
use crate::db::schema::{items, settings, stocktake_lines, stocktakes};
use crate::db::{self, DbConn};
use crate::domain::stock::{Quantity, parse_whole};
use crate::domain::{FieldError, parse_optional_text};
use crate::goods;
use crate::idempotency::{self, IdemKey};

/// The setting: whether count sheets show the expected quantities.
pub const SHOW_EXPECTED_KEY: &str = "stocktake.show_expected";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = stocktakes)]
pub struct Stocktake {
    pub id: String,
    pub number: String,
    pub store_id: String,
    pub status: String,
    pub show_expected: bool,
    pub started_by: String,
    pub counted_by: String,
    pub created_at: NaiveDateTime,
    pub posted_at: Option<NaiveDateTime>,
}

impl Stocktake {
    pub fn is_open(&self) -> bool {
        self.status == "open"
    }
}

#[derive(Debug, Clone)]
pub struct CountLine {
    pub item_id: String,
    pub item_name: String,
    pub category: String,
    pub unit: String,
    pub expected: i64,
    pub counted: Option<i64>,
}

impl CountLine {
    /// Counted minus expected, once counted.
    pub fn difference(&self) -> Option<i64> {
        self.counted.map(|c| c - self.expected)
    }

    /// The difference as shown: "+2", "-2", "0", or empty before counting.
    pub fn difference_label(&self) -> String {
        match self.difference() {
            Some(d) if d > 0 => format!("+{d}"),
            Some(d) => d.to_string(),
            None => String::new(),
        }
    }
}

pub fn show_expected(c: &mut DbConn) -> QueryResult<bool> {
    Ok(settings::table
        .find(SHOW_EXPECTED_KEY)
        .select(settings::value)
        .first::<String>(c)
        .optional()?
        .is_some_and(|v| v == "1"))
}

pub fn set_show_expected(conn: &mut DbConn, actor: &AuditCtx, show: bool) -> QueryResult<()> {
    let v = if show { "1" } else { "0" };
    db::write_tx(conn, |c| {
        let n = diesel::update(settings::table.find(SHOW_EXPECTED_KEY))
            .set(settings::value.eq(v))
            .execute(c)?;
        if n == 0 {
            diesel::insert_into(settings::table)
                .values((settings::key.eq(SHOW_EXPECTED_KEY), settings::value.eq(v)))
                .execute(c)?;
        }
        audit::record(c, actor, "setting.change", "setting", SHOW_EXPECTED_KEY, v)
    })
}

pub fn find(c: &mut DbConn, id: &str) -> QueryResult<Option<(Stocktake, Vec<CountLine>)>> {
    let Some(st) = stocktakes::table
        .find(id)
        .select(Stocktake::as_select())
        .first(c)
        .optional()?
    else {
        return Ok(None);
    };
    let lines = stocktake_lines::table
        .inner_join(items::table)
        .filter(stocktake_lines::stocktake_id.eq(id))
        .order((items::category.asc(), items::name.asc()))
        .select((
            stocktake_lines::item_id,
            items::name,
            items::category,
            items::unit,
            stocktake_lines::expected,
            stocktake_lines::counted,
        ))
        .load::<(String, String, String, String, i64, Option<i64>)>(c)?
        .into_iter()
        .map(
            |(item_id, item_name, category, unit, expected, counted)| CountLine {
                item_id,
                item_name,
                category,
                unit,
                expected,
                counted,
            },
        )
        .collect();
    Ok(Some((st, lines)))
}

/// A store's stocktakes, newest first.
pub fn list_for_store(c: &mut DbConn, store_id: &str) -> QueryResult<Vec<Stocktake>> {
    stocktakes::table
        .filter(stocktakes::store_id.eq(store_id))
        .order(stocktakes::created_at.desc())
        .limit(20)
        .select(Stocktake::as_select())
        .load(c)
}

/// Start a count: the sheet lists every item the store holds or has a
/// setting for, with what the ledger says is there now.
pub fn start(conn: &mut DbConn, actor: &AuditCtx, store_id: &str) -> Result<Stocktake, StockError> {
    db::write_tx(conn, |c| {
        let show = show_expected(c)?;
        let n = super::next_number(c, "stocktake")?;
        let id = db::new_id();
        let number = format!("PD{}-{n:05}", db::now().format("%Y"));
        diesel::insert_into(stocktakes::table)
            .values((
                stocktakes::id.eq(&id),
                stocktakes::number.eq(&number),
                stocktakes::store_id.eq(store_id),
                stocktakes::status.eq("open"),
                stocktakes::show_expected.eq(show),
                stocktakes::started_by.eq(&actor.username),
                stocktakes::counted_by.eq(""),
                stocktakes::created_at.eq(db::now()),
            ))
            .execute(c)?;
        let lines = super::shelf(c, store_id)?;
        if lines.is_empty() {
            return Err(FieldError::new("field.store", "error.nothing_to_count").into());
        }
        for l in &lines {
            diesel::insert_into(stocktake_lines::table)
                .values((
                    stocktake_lines::stocktake_id.eq(&id),
                    stocktake_lines::item_id.eq(&l.item.id),
                    stocktake_lines::expected.eq(l.quantity),
                ))
                .execute(c)?;
        }
        audit::record(
            c,
            actor,
            "stocktake.start",
            "stocktake",
            &id,
            &format!("{number}: {} lines", lines.len()),
        )?;
        Ok(stocktakes::table
            .find(&id)
            .select(Stocktake::as_select())
            .first(c)?)
    })
}

/// Key in counted quantities (`item id` -> typed text; empty = not counted
/// yet) and who counted. Nothing posts until `confirm`.
pub fn save_counts(
    conn: &mut DbConn,
    actor: &AuditCtx,
    id: &str,
    counted_by: &str,
    counts: &[(String, String)],
) -> Result<Stocktake, StockError> {
    let counted_by = parse_optional_text("field.counted_by", counted_by, 60)?;
    db::write_tx(conn, |c| {
        let (st, lines) = find(c, id)?.ok_or(StockError::NotFound)?;
        if !st.is_open() {
            return Err(FieldError::new("field.stocktake", "error.stocktake_posted").into());
        }
        let mut n = 0;
        for (item_id, text) in counts {
            let Some(line) = lines.iter().find(|l| &l.item_id == item_id) else {
                continue;
            };
            let counted = match text.trim() {
                "" => None,
                t => Some(parse_whole("field.counted", t).map_err(|_| {
                    FieldError::new("field.counted", "error.count_for_item")
                        .arg("item", &line.item_name)
                        .arg("max", crate::domain::stock::MAX_QUANTITY)
                })?),
            };
            diesel::update(stocktake_lines::table.find((id, item_id)))
                .set(stocktake_lines::counted.eq(counted))
                .execute(c)?;
            n += 1;
        }
        diesel::update(stocktakes::table.find(id))
            .set(stocktakes::counted_by.eq(&counted_by))
            .execute(c)?;
        audit::record(
            c,
            actor,
            "stocktake.count",
            "stocktake",
            id,
            &format!("{}: {n} lines counted by {counted_by}", st.number),
        )?;
        Ok(stocktakes::table
            .find(id)
            .select(Stocktake::as_select())
            .first(c)?)
    })
}

/// Post the differences (counted - expected) as adjustments, all in one
/// transaction. Every line must have been counted.
pub fn confirm(
    conn: &mut DbConn,
    actor: &AuditCtx,
    key: &IdemKey,
    id: &str,
) -> Result<Outcome, StockError> {
    let form = super::FormKey {
        key,
        scope: "stocktake.confirm",
        fingerprint: idempotency::fingerprint(&[id]),
    };
    db::write_tx(conn, |c| {
        once(c, actor, &form, |c| {
            let (st, lines) = find(c, id)?.ok_or(StockError::NotFound)?;
            if !st.is_open() {
                return Err(FieldError::new("field.stocktake", "error.stocktake_posted").into());
            }
            if st.counted_by.trim().is_empty() {
                return Err(FieldError::new("field.counted_by", "error.required").into());
            }
            if let Some(l) = lines.iter().find(|l| l.counted.is_none()) {
                return Err(FieldError::new("field.counted", "error.not_counted")
                    .arg("item", &l.item_name)
                    .into());
            }
            let reason = format!("{} ({})", st.number, st.counted_by);
            let mut posted = 0;
            for l in &lines {
                let diff = l.difference().unwrap_or(0);
                let Some(qty) = Quantity::new(diff.abs()) else {
                    continue;
                };
                let item = goods::find(c, &l.item_id)?.ok_or(StockError::NotFound)?;
                post(
                    c,
                    actor,
                    &adjustment(&st.store_id, &item, diff, qty, Some(&st.id), &reason),
                )?;
                posted += 1;
            }
            diesel::update(stocktakes::table.find(id))
                .set((
                    stocktakes::status.eq("posted"),
                    stocktakes::posted_at.eq(Some(db::now())),
                ))
                .execute(c)?;
            audit::record(
                c,
                actor,
                "stocktake.confirm",
                "stocktake",
                id,
                &format!("{}: {posted} differences posted", st.number),
            )?;
            Ok(st.id.clone())
        })
    })
}
