//! Stocktake (盘点): a count sheet for a store with the expected quantities
//! as of its start, the counted quantities keyed in, and on confirmation the
//! differences posted as adjustments, all in one transaction, against the
//! stocktake and with who counted.
//!
//! The shelf keeps trading while people count: a line's difference is
//! counted - (expected + what moved on the shelf since the count began), so
//! goods redeemed, donated or moved meanwhile are not posted a second time.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::{HistoryRow, Movement, Outcome, StockError, adjustment, once, post};
use crate::audit;
use crate::auth::{Action, Actor};
use crate::db::schema::{items, settings, stock_movements, stocktake_lines, stocktakes};
use crate::db::{self, DbConn};
use crate::domain::stock::{Quantity, parse_whole};
use crate::domain::{FieldError, ItemId, StoreId, parse_optional_text};
use crate::goods;
use crate::idempotency::{self, IdemKey};

/// The setting: whether count sheets show the expected quantities.
pub const SHOW_EXPECTED_KEY: &str = "stocktake.show_expected";

crate::text_enum! {
    /// A count sheet is being keyed in (`Open`) or its differences are on
    /// the ledger (`Posted`).
    pub enum StocktakeStatus {
        Open = "open",
        Posted = "posted",
    }
}

/// What a change of a sheet writes besides its status and version (`None`
/// leaves a column as it is).
#[derive(Default, AsChangeset)]
#[diesel(table_name = stocktakes)]
pub struct StocktakeChanges<'a> {
    pub counted_by: Option<&'a str>,
    pub witnessed_by: Option<&'a str>,
    pub posted_at: Option<Option<NaiveDateTime>>,
}

/// The one way a count sheet changes: one conditional update on its id,
/// the status `from` and, when given, the `version` the person saw,
/// setting `to` with `changes` and bumping the version.
///
/// Errors: when no row matched, a conflict (`Conflict::Changed`, 409 in
/// the API): `error.stocktake_changed` if the sheet is still open (changed
/// since it was seen), else `error.stocktake_posted`.
pub fn transition(
    conn: &mut DbConn,
    st: &Stocktake,
    (from, version): (StocktakeStatus, Option<i64>),
    to: StocktakeStatus,
    changes: StocktakeChanges,
) -> Result<(), StockError> {
    let mut guarded = diesel::update(stocktakes::table)
        .filter(stocktakes::id.eq(&st.id))
        .filter(stocktakes::status.eq(from))
        .into_boxed();
    if let Some(v) = version {
        guarded = guarded.filter(stocktakes::version.eq(v));
    }
    let n = guarded
        .set((
            stocktakes::status.eq(to),
            stocktakes::version.eq(stocktakes::version + 1),
            changes,
        ))
        .execute(conn)?;
    if n == 0 {
        let now: StocktakeStatus = stocktakes::table
            .find(&st.id)
            .select(stocktakes::status)
            .first(conn)?;
        let key = if now == StocktakeStatus::Open {
            "error.stocktake_changed"
        } else {
            "error.stocktake_posted"
        };
        return Err(
            FieldError::conflict("field.stocktake", key, crate::domain::Conflict::Changed)
                .arg("number", &st.number)
                .into(),
        );
    }
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = stocktakes)]
pub struct Stocktake {
    pub id: String,
    pub number: String,
    pub store_id: StoreId,
    pub status: StocktakeStatus,
    pub show_expected: bool,
    pub started_by: String,
    pub counted_by: String,
    pub created_at: NaiveDateTime,
    pub posted_at: Option<NaiveDateTime>,
    /// The stock ledger's last seq when the count began.
    pub start_seq: i64,
    /// Its last seq before the differences posted (None while open).
    pub end_seq: Option<i64>,
    /// Bumped by every change to the sheet; a confirmation names the one seen.
    pub version: i64,
    /// Who witnessed the count (监盘人).
    pub witnessed_by: String,
}

impl Stocktake {
    pub fn is_open(&self) -> bool {
        self.status == StocktakeStatus::Open
    }
}

#[derive(Debug, Clone)]
pub struct CountLine {
    pub item_id: ItemId,
    pub item_name: String,
    pub category: String,
    pub unit: String,
    /// On the shelf by the ledger when the count began.
    pub expected: i64,
    pub counted: Option<i64>,
    /// What moved on the shelf since the count began and before the line
    /// was counted (+ in, - out): live while it is not counted yet, fixed
    /// when it posted.
    pub moved: i64,
    /// Where the stock ledger stood when this line's count was saved: what
    /// moves after it is not in the count, and is not taken from it.
    pub counted_seq: Option<i64>,
}

impl CountLine {
    /// What the ledger says is on the shelf now (or at posting).
    pub fn expected_now(&self) -> i64 {
        self.expected + self.moved
    }

    /// Counted minus (expected + moved since the start), once counted: the
    /// adjustment confirming posts.
    pub fn difference(&self) -> Option<i64> {
        self.counted.map(|c| c - self.expected_now())
    }

    /// The movements since the start as shown: "+2", "-2" or "0".
    pub fn moved_label(&self) -> String {
        signed(self.moved)
    }

    /// The difference as shown: "+2", "-2", "0", or empty before counting.
    pub fn difference_label(&self) -> String {
        self.difference().map(signed).unwrap_or_default()
    }
}

fn signed(n: i64) -> String {
    if n > 0 {
        format!("+{n}")
    } else {
        n.to_string()
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

/// Whether count sheets show what the ledger expects (an administrator's
/// setting). Errors: `Forbidden` for a role that may not manage stores.
pub fn set_show_expected(conn: &mut DbConn, actor: &Actor, show: bool) -> Result<(), StockError> {
    actor.require(Action::ManageStores)?;
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
        Ok(audit::record(
            c,
            actor,
            "setting.change",
            "setting",
            SHOW_EXPECTED_KEY,
            &audit::Detail::new("show_expected")
                .word("on", audit::yes_no(show))
                .to_string(),
        )?)
    })
}

/// A stocktake and its lines, each with what moved since the count began.
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
            stocktake_lines::moved,
            stocktake_lines::counted_seq,
        ))
        .load::<(
            String,
            String,
            String,
            String,
            i64,
            Option<i64>,
            i64,
            Option<i64>,
        )>(c)?
        .into_iter()
        .map(
            |(item_id, item_name, category, unit, expected, counted, moved, counted_seq)| {
                CountLine {
                    item_id: ItemId::from_stored(item_id),
                    item_name,
                    category,
                    unit,
                    expected,
                    counted,
                    moved,
                    counted_seq,
                }
            },
        )
        .collect();
    let mut lines: Vec<CountLine> = lines;
    if st.is_open() {
        // Live: what moved since the count began, up to each line's count.
        set_moved(c, &st.store_id, st.start_seq, None, &mut lines)?;
    }
    Ok(Some((st, lines)))
}

/// Fill each line's `moved`: the shelf's net change after `start_seq` and up
/// to the line's own count (`counted_seq`), or up to `end` (None: now) for a
/// line not counted yet. Goods that moved after a line was counted are on
/// the shelf the count saw no more, and are not taken from the count.
fn set_moved(
    c: &mut DbConn,
    store_id: &StoreId,
    start_seq: i64,
    end: Option<i64>,
    lines: &mut [CountLine],
) -> QueryResult<()> {
    let mut by_bound: std::collections::HashMap<
        Option<i64>,
        std::collections::HashMap<String, i64>,
    > = std::collections::HashMap::new();
    for l in lines.iter_mut() {
        let bound = match (l.counted_seq, end) {
            (Some(s), Some(e)) => Some(s.min(e)),
            (Some(s), None) => Some(s),
            (None, e) => e,
        };
        let moved = match by_bound.entry(bound) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(moved_since(c, store_id, start_seq, bound)?)
            }
        };
        l.moved = moved.get(l.item_id.as_str()).copied().unwrap_or(0);
    }
    Ok(())
}

/// The movements at the stocktake's store after its count began (and, once
/// posted, before its differences posted), oldest first; `limit` caps them.
pub fn movements_since(
    c: &mut DbConn,
    st: &Stocktake,
    limit: Option<i64>,
) -> QueryResult<Vec<HistoryRow>> {
    let mut q = stock_movements::table
        .inner_join(items::table)
        .filter(
            stock_movements::from_store_id
                .eq(&st.store_id)
                .or(stock_movements::to_store_id.eq(&st.store_id)),
        )
        .filter(stock_movements::seq.gt(st.start_seq))
        .into_boxed();
    if let Some(end) = st.end_seq {
        q = q.filter(stock_movements::seq.le(end));
    }
    if let Some(n) = limit {
        q = q.limit(n);
    }
    Ok(q.order(stock_movements::seq.asc())
        .select((Movement::as_select(), items::name, items::unit))
        .load::<(Movement, String, String)>(c)?
        .into_iter()
        .map(|(m, item_name, unit)| HistoryRow {
            delta: m.delta_at(&st.store_id),
            m,
            item_name,
            unit,
        })
        .collect())
}

/// Net change per item on a store's shelf over the movements with
/// `after < seq <= up_to` (no upper bound when None).
pub(crate) fn moved_since(
    c: &mut DbConn,
    store_id: &StoreId,
    after: i64,
    up_to: Option<i64>,
) -> QueryResult<std::collections::HashMap<String, i64>> {
    let mut q = stock_movements::table
        .filter(
            stock_movements::from_store_id
                .eq(store_id)
                .or(stock_movements::to_store_id.eq(store_id)),
        )
        .filter(stock_movements::seq.gt(after))
        .into_boxed();
    if let Some(end) = up_to {
        q = q.filter(stock_movements::seq.le(end));
    }
    let rows = q
        .select((
            stock_movements::item_id,
            stock_movements::quantity,
            stock_movements::from_store_id,
            stock_movements::to_store_id,
        ))
        .load::<(String, i64, Option<String>, Option<String>)>(c)?;
    let mut out = std::collections::HashMap::new();
    for (item, q, from, to) in rows {
        let e = out.entry(item).or_default();
        if to.as_deref() == Some(store_id.as_str()) {
            *e += q;
        }
        if from.as_deref() == Some(store_id.as_str()) {
            *e -= q;
        }
    }
    Ok(out)
}

/// A store's shelf movements with `after < seq <= up_to`, in ledger order:
/// (seq, item id, signed change on that shelf). One query for a whole
/// count, which callers then cut at each line's own bound.
pub(crate) fn moves_between(
    c: &mut DbConn,
    store_id: &StoreId,
    after: i64,
    up_to: i64,
) -> QueryResult<Vec<(i64, String, i64)>> {
    let rows = stock_movements::table
        .filter(
            stock_movements::from_store_id
                .eq(store_id)
                .or(stock_movements::to_store_id.eq(store_id)),
        )
        .filter(stock_movements::seq.gt(after))
        .filter(stock_movements::seq.le(up_to))
        .order(stock_movements::seq.asc())
        .select((
            stock_movements::seq,
            stock_movements::item_id,
            stock_movements::quantity,
            stock_movements::from_store_id,
            stock_movements::to_store_id,
        ))
        .load::<(i64, String, i64, Option<String>, Option<String>)>(c)?;
    Ok(rows
        .into_iter()
        .map(|(seq, item, q, from, to)| {
            let mut d = 0;
            if to.as_deref() == Some(store_id.as_str()) {
                d += q;
            }
            if from.as_deref() == Some(store_id.as_str()) {
                d -= q;
            }
            (seq, item, d)
        })
        .collect())
}

/// A store's stocktakes, newest first.
pub fn list_for_store(c: &mut DbConn, store_id: &StoreId) -> QueryResult<Vec<Stocktake>> {
    stocktakes::table
        .filter(stocktakes::store_id.eq(store_id))
        .order(stocktakes::created_at.desc())
        .limit(20)
        .select(Stocktake::as_select())
        .load(c)
}

/// Start a count: the sheet lists every item the store holds or has a
/// setting for, with what the ledger says is there now, and remembers where
/// the ledger stood (so later movements are accounted for at confirmation).
/// The number's year is `today`'s, in the scheme's time zone. Errors:
/// `Forbidden` unless the actor may count at the store; `NotFound` for an
/// unknown store.
pub fn start(
    conn: &mut DbConn,
    actor: &Actor,
    store_id: &StoreId,
    today: NaiveDate,
) -> Result<Stocktake, StockError> {
    actor.require(Action::Stocktake)?;
    db::write_tx(conn, |c| {
        super::store_for(c, actor, Action::Stocktake, store_id)?;
        let show = show_expected(c)?;
        // The ledger's turn: the shelf read below is exactly the sum of the
        // movements up to `start_seq`, with no writer half-way.
        let start_seq = super::lock_head(c)?;
        let n = super::next_number(c, "stocktake")?;
        let id = db::new_id();
        let number = format!("PD{}-{n:05}", today.format("%Y"));
        diesel::insert_into(stocktakes::table)
            .values((
                stocktakes::id.eq(&id),
                stocktakes::number.eq(&number),
                stocktakes::store_id.eq(store_id),
                stocktakes::status.eq(StocktakeStatus::Open),
                stocktakes::show_expected.eq(show),
                stocktakes::started_by.eq(&actor.username),
                stocktakes::counted_by.eq(""),
                stocktakes::created_at.eq(db::now()),
                stocktakes::start_seq.eq(start_seq),
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
            &audit::Detail::new("stocktake_start")
                .arg("number", &number)
                .arg("lines", lines.len())
                .to_string(),
        )?;
        Ok(stocktakes::table
            .find(&id)
            .select(Stocktake::as_select())
            .first(c)?)
    })
}

/// Who counted and who witnessed, as typed.
pub struct Counters<'a> {
    pub counted_by: &'a str,
    pub witnessed_by: &'a str,
}

/// Key in counted quantities (`item id` -> typed text; empty = not counted
/// yet), who counted and who witnessed. Nothing posts until `confirm`. A
/// count for an item that is not on the sheet refuses the whole save
/// (`error.count_not_on_sheet`, naming the item). The
/// sheet changes only while open (a conditional update on its status, which
/// also bumps its version); a posted one is refused. Errors: `Forbidden`
/// unless the actor may count at the sheet's store; `NotFound`.
pub fn save_counts(
    conn: &mut DbConn,
    actor: &Actor,
    id: &str,
    who: &Counters,
    counts: &[(ItemId, String)],
) -> Result<Stocktake, StockError> {
    save_counts_seen(conn, actor, id, who, counts, None, None)
}

/// What the count form showed when it was opened: each line's count (`item
/// id` -> text, empty = not counted) and the two names.
#[derive(Debug, Clone, Default)]
pub struct SeenCounts {
    pub counts: Vec<(ItemId, String)>,
    pub counted_by: String,
    pub witnessed_by: String,
}

impl SeenCounts {
    /// The count the form showed for `item_id`: `None` when it did not say.
    fn count(&self, item_id: &ItemId) -> Option<Option<i64>> {
        let text = self.counts.iter().find(|(k, _)| k == item_id)?.1.trim();
        if text.is_empty() {
            Some(None)
        } else {
            text.parse().ok().map(Some)
        }
    }
}

/// The refusal of a count for `item` (its name, or the text naming it),
/// which is no line of the sheet: nothing is saved.
pub fn not_on_sheet(item: &str) -> FieldError {
    FieldError::new("field.counted", "error.count_not_on_sheet")
        .arg("item", item.chars().take(60).collect::<String>())
}

/// [`save_counts`] from a form that says what it showed (`seen`): a box left
/// as it was shown keeps whatever is stored now (a blank box in a form
/// opened earlier does not erase a count entered meanwhile); a different
/// number over a count entered meanwhile is a conflict (409) naming the
/// line, and nothing is saved. Each line's write is one conditional update
/// on the count read.
///
/// `refused` is what the form's reading refused already (a field sent
/// twice, a count naming no item): said with every line's own refusal in
/// the same answer, and nothing is saved.
pub fn save_counts_seen(
    conn: &mut DbConn,
    actor: &Actor,
    id: &str,
    who: &Counters,
    counts: &[(ItemId, String)],
    seen: Option<&SeenCounts>,
    refused: Option<FieldError>,
) -> Result<Stocktake, StockError> {
    actor.require(Action::Stocktake)?;
    // Every line and name is checked, so all that is wrong shows at once;
    // a line's error carries its place on the sheet (`n`, 1-based).
    let mut checks = crate::domain::FieldChecks::new();
    if let Some(e) = refused {
        checks.push(e);
    }
    let counted_by = checks.take(parse_optional_text("field.counted_by", who.counted_by, 60));
    let witnessed_by = checks.take(parse_optional_text(
        "field.witnessed_by",
        who.witnessed_by,
        60,
    ));
    db::write_tx(conn, |c| {
        let (st, lines) = find(c, id)?.ok_or(StockError::NotFound)?;
        super::store_for(c, actor, Action::Stocktake, &st.store_id)?;
        let mut parsed = Vec::new();
        for (item_id, text) in counts {
            // A count for a line this sheet does not hold (another store's
            // item, an unknown id) is refused naming it; nothing is saved.
            let Some(n) = lines.iter().position(|l| &l.item_id == item_id) else {
                let name: Option<String> = items::table
                    .find(item_id)
                    .select(items::name)
                    .first(c)
                    .optional()?;
                checks.push(not_on_sheet(&name.unwrap_or_else(|| item_id.to_string())));
                continue;
            };
            let line = &lines[n];
            // What the form showed for this line, required from a form that
            // says what it showed: missing, or neither blank nor a number
            // (an old page, a hand-made request), is refused, naming the line.
            if let Some(s) = seen {
                let shown = s.counts.iter().find(|(k, _)| k == item_id);
                let shown = shown.map_or("?", |(_, v)| v.trim());
                if !shown.is_empty() && shown.parse::<i64>().is_err() {
                    checks.push(
                        FieldError::new("field.counted", "error.seen_version_missing")
                            .arg("n", n + 1),
                    );
                    continue;
                }
            }
            let counted = match text.trim() {
                "" => None,
                t => match parse_whole("field.counted", t) {
                    Ok(q) => Some(q),
                    Err(_) => {
                        checks.push(
                            FieldError::new("field.counted", "error.count_for_item")
                                .arg("item", &line.item_name)
                                .arg("max", crate::domain::stock::MAX_QUANTITY)
                                .arg("n", n + 1),
                        );
                        continue;
                    }
                },
            };
            parsed.push((item_id, counted));
        }
        std::mem::take(&mut checks).finish()?;
        let (counted_by, witnessed_by) = (
            counted_by.clone().unwrap_or_default(),
            witnessed_by.clone().unwrap_or_default(),
        );
        // What this form changes: a box or name left as it was shown keeps
        // what is stored now; one changed over a change made meanwhile is
        // refused, naming it.
        let mut writes = Vec::new();
        for (item_id, counted) in &parsed {
            let n = lines.iter().position(|l| &l.item_id == *item_id);
            let Some(line) = n.map(|n| &lines[n]) else {
                continue;
            };
            let shown = seen.and_then(|s| s.count(item_id));
            match shown {
                Some(shown) if shown == *counted || line.counted == *counted => {}
                Some(shown) if shown != line.counted => checks.push(
                    FieldError::conflict(
                        "field.counted",
                        "error.count_changed",
                        crate::domain::Conflict::Changed,
                    )
                    .arg("item", &line.item_name)
                    .arg(
                        "now",
                        line.counted.map(|q| q.to_string()).unwrap_or_default(),
                    )
                    .arg("n", n.unwrap_or(0) + 1),
                ),
                Some(shown) => writes.push((*item_id, *counted, Some(shown))),
                None if line.counted == *counted => {}
                None => writes.push((*item_id, *counted, None)),
            }
        }
        let name_kept =
            |field: &'static str, typed: &str, shown: Option<&str>, now: &str| match shown {
                Some(shown) if shown.trim() == typed || typed == now => Ok(None),
                Some(shown) if shown.trim() != now => Err(FieldError::conflict(
                    field,
                    "error.setting_changed",
                    crate::domain::Conflict::Changed,
                )
                .arg("now", now)),
                _ => Ok(Some(typed.to_string())),
            };
        let counted_by = checks
            .take(name_kept(
                "field.counted_by",
                &counted_by,
                seen.map(|s| s.counted_by.as_str()),
                &st.counted_by,
            ))
            .flatten();
        let witnessed_by = checks
            .take(name_kept(
                "field.witnessed_by",
                &witnessed_by,
                seen.map(|s| s.witnessed_by.as_str()),
                &st.witnessed_by,
            ))
            .flatten();
        std::mem::take(&mut checks).finish()?;
        // Any version: counts keyed in by two people at once both stand.
        transition(
            c,
            &st,
            (StocktakeStatus::Open, None),
            StocktakeStatus::Open,
            StocktakeChanges {
                counted_by: counted_by.as_deref(),
                witnessed_by: witnessed_by.as_deref(),
                ..Default::default()
            },
        )?;
        // Where the ledger stands as these counts are written down: what
        // moves later is not in them.
        let head = super::lock_head(c)?;
        for (item_id, counted, shown) in &writes {
            let line = stocktake_lines::table.find((id, *item_id));
            let set = (
                stocktake_lines::counted.eq(counted),
                stocktake_lines::counted_seq.eq(counted.map(|_| head)),
            );
            let n = match shown {
                None => diesel::update(line).set(set).execute(c)?,
                Some(None) => diesel::update(line.filter(stocktake_lines::counted.is_null()))
                    .set(set)
                    .execute(c)?,
                Some(Some(q)) => diesel::update(line.filter(stocktake_lines::counted.eq(*q)))
                    .set(set)
                    .execute(c)?,
            };
            if n == 0 {
                let l = lines
                    .iter()
                    .position(|l| l.item_id == **item_id)
                    .unwrap_or(0);
                let now: Option<i64> = stocktake_lines::table
                    .find((id, *item_id))
                    .select(stocktake_lines::counted)
                    .first(c)?;
                return Err(FieldError::conflict(
                    "field.counted",
                    "error.count_changed",
                    crate::domain::Conflict::Changed,
                )
                .arg("item", &lines[l].item_name)
                .arg("now", now.map(|q| q.to_string()).unwrap_or_default())
                .arg("n", l + 1)
                .into());
            }
        }
        audit::record(
            c,
            actor,
            "stocktake.count",
            "stocktake",
            id,
            &audit::Detail::new("stocktake_count")
                .arg("number", &st.number)
                .arg("lines", parsed.len())
                .arg("by", counted_by.as_deref().unwrap_or(&st.counted_by))
                .arg(
                    "witness",
                    witnessed_by.as_deref().unwrap_or(&st.witnessed_by),
                )
                .to_string(),
        )?;
        Ok(stocktakes::table
            .find(id)
            .select(Stocktake::as_select())
            .first(c)?)
    })
}

/// Post the differences (counted - (expected + moved since the start)) as
/// adjustments dated `today`, all in one transaction. Every line must have
/// been counted. Confirming is one conditional update from open to posted,
/// on the version the person saw (`seen_version`, else the current one): a
/// second confirmation, or one of a sheet changed since it was seen, changes
/// nothing and is refused (`error.stocktake_posted`, `error.stocktake_changed`).
/// Errors: `Forbidden` unless the actor may count at the sheet's store.
pub fn confirm(
    conn: &mut DbConn,
    actor: &Actor,
    key: &IdemKey,
    id: &str,
    seen_version: Option<i64>,
    today: NaiveDate,
) -> Result<Outcome, StockError> {
    actor.require(Action::Stocktake)?;
    let form = super::FormKey {
        key,
        scope: "stocktake.confirm",
        fingerprint: idempotency::fingerprint(&[id]),
    };
    db::write_tx(conn, |c| {
        let store_id: StoreId = stocktakes::table
            .find(id)
            .select(stocktakes::store_id)
            .first(c)
            .optional()?
            .ok_or(StockError::NotFound)?;
        super::store_for(c, actor, Action::Stocktake, &store_id)?;
        once(c, actor, &form, |c| {
            let st: Stocktake = stocktakes::table
                .find(id)
                .select(Stocktake::as_select())
                .first(c)
                .optional()?
                .ok_or(StockError::NotFound)?;
            let version = seen_version.unwrap_or(st.version);
            let now = db::now();
            transition(
                c,
                &st,
                (StocktakeStatus::Open, Some(version)),
                StocktakeStatus::Posted,
                StocktakeChanges {
                    posted_at: Some(Some(now)),
                    ..Default::default()
                },
            )?;
            // The sheet is ours now: nobody can change it until we commit.
            let (st, lines) = find(c, id)?.ok_or(StockError::NotFound)?;
            if st.counted_by.trim().is_empty() {
                return Err(FieldError::new("field.counted_by", "error.required").into());
            }
            if let Some(l) = lines.iter().find(|l| l.counted.is_none()) {
                return Err(FieldError::new("field.counted", "error.not_counted")
                    .arg("item", &l.item_name)
                    .into());
            }
            // The ledger's turn, then what moved since the count began, up
            // to the last movement before ours.
            let end_seq = super::lock_head(c)?;
            let mut lines = lines;
            set_moved(c, &st.store_id, st.start_seq, Some(end_seq), &mut lines)?;
            let reason = if st.witnessed_by.trim().is_empty() {
                format!("{} ({})", st.number, st.counted_by)
            } else {
                format!("{} ({}, {})", st.number, st.counted_by, st.witnessed_by)
            };
            let mut posted = 0;
            for l in &lines {
                let moved = l.moved;
                diesel::update(stocktake_lines::table.find((id, l.item_id.as_str())))
                    .set(stocktake_lines::moved.eq(moved))
                    .execute(c)?;
                let diff = l.counted.unwrap_or(0) - (l.expected + moved);
                let Some(qty) = Quantity::new(diff.abs()) else {
                    continue;
                };
                // The sheet's lines were written from the catalogue's ids.
                let item = goods::find(c, &l.item_id)?.ok_or(StockError::NotFound)?;
                post(
                    c,
                    actor,
                    &adjustment(&st.store_id, &item, diff, qty, Some(&st.id), &reason, today),
                )?;
                posted += 1;
            }
            diesel::update(stocktakes::table.find(id))
                .set(stocktakes::end_seq.eq(Some(end_seq)))
                .execute(c)?;
            audit::record(
                c,
                actor,
                "stocktake.confirm",
                "stocktake",
                id,
                &audit::Detail::new("stocktake_confirm")
                    .arg("number", &st.number)
                    .arg("posted", posted)
                    .to_string(),
            )?;
            Ok(st.id.clone())
        })
    })
}
