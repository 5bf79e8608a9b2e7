//! The stock ledger. Every movement of goods is one immutable row: a transfer
//! of a quantity of one item from one account to another, so each row sums to
//! zero (double entry). Rows are hash-chained (see `ledger::chain`). Stock on
//! hand per store and item is cached in `stock`, raised and lowered only in
//! the transaction that writes the row, and lowered only by a conditional
//! update that cannot go below zero.

pub mod agree;
pub mod stocktake;

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::audit;
use crate::auth::{Action, Actor, Forbidden};
use crate::db::schema::{counters, items, stock, stock_chain_head, stock_movements, store_items};
use crate::db::{self, DbConn};
use crate::domain::FieldError;
use crate::domain::stock::Quantity;
use crate::goods::{self, Item};
use crate::idempotency::{self, IdemKey};
use crate::ledger::chain;

/// An account goods can be in or come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    /// A store's shelf: the only accounts whose balance is kept (and >= 0).
    Shelf(String),
    /// Where donated goods come from.
    Donor(String),
    /// Goods bought with donated money.
    Purchase,
    /// Goods households took home for points.
    Redeemed,
    /// Damaged or expired.
    WrittenOff,
    /// The other side of stocktake differences.
    Counted,
}

impl Account {
    pub fn code(&self) -> String {
        match self {
            Account::Shelf(s) => format!("shelf:{s}"),
            Account::Donor(d) => format!("donor:{d}"),
            Account::Purchase => "purchase".into(),
            Account::Redeemed => "redeemed".into(),
            Account::WrittenOff => "written_off".into(),
            Account::Counted => "counted".into(),
        }
    }

    pub fn parse(code: &str) -> Option<Account> {
        Some(match code {
            "purchase" => Account::Purchase,
            "redeemed" => Account::Redeemed,
            "written_off" => Account::WrittenOff,
            "counted" => Account::Counted,
            _ => match code.split_once(':')? {
                ("shelf", id) => Account::Shelf(id.to_string()),
                ("donor", id) => Account::Donor(id.to_string()),
                _ => return None,
            },
        })
    }

    pub fn store(&self) -> Option<&str> {
        match self {
            Account::Shelf(s) => Some(s),
            _ => None,
        }
    }
}

crate::text_enum! {
    /// What a stock movement records.
    pub enum MovementKind {
        Donation = "donation",
        Purchase = "purchase",
        Redemption = "redemption",
        Move = "move",
        Adjustment = "adjustment",
        WriteOff = "write_off",
        Reversal = "reversal",
    }
}

impl MovementKind {
    pub fn label_key(self) -> &'static str {
        match self {
            MovementKind::Donation => "stock.kind_donation",
            MovementKind::Purchase => "stock.kind_purchase",
            MovementKind::Redemption => "stock.kind_redemption",
            MovementKind::Move => "stock.kind_move",
            MovementKind::Adjustment => "stock.kind_adjustment",
            MovementKind::WriteOff => "stock.kind_write_off",
            MovementKind::Reversal => "stock.kind_reversal",
        }
    }
}

/// One row of the stock ledger. Made only by `Movement::chained` and
/// written only by `Movement::insert`: the app's `post`, the demo generator
/// and the benchmark all go through them.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = stock_movements, treat_none_as_default_value = false)]
pub struct Movement {
    pub id: String,
    pub seq: i64,
    pub at: NaiveDateTime,
    pub kind: String,
    pub item_id: String,
    pub quantity: i64,
    pub from_account: String,
    pub to_account: String,
    pub from_store_id: Option<String>,
    pub to_store_id: Option<String>,
    pub donation_id: Option<String>,
    pub stocktake_id: Option<String>,
    pub reverses_id: Option<String>,
    pub reason: String,
    pub user_id: Option<String>,
    pub username: String,
    pub prev_hash: String,
    pub hash: String,
}

/// What a movement says, before the chain gives it its place.
#[derive(Debug, Clone)]
pub struct Draft {
    pub kind: MovementKind,
    pub item_id: String,
    /// Units, > 0.
    pub quantity: i64,
    pub from: Account,
    pub to: Account,
    pub donation_id: Option<String>,
    pub stocktake_id: Option<String>,
    pub reverses_id: Option<String>,
    pub reason: String,
    /// Who moved it (None: the system).
    pub user_id: Option<String>,
    pub username: String,
}

impl Movement {
    /// The movement a draft makes: its place in the chain (`seq`, after the
    /// movement whose hash is `prev_hash`), its id and time, and its own hash.
    pub fn chained(
        seq: i64,
        prev_hash: String,
        id: String,
        at: NaiveDateTime,
        d: Draft,
    ) -> Movement {
        let mut m = Movement {
            id,
            seq,
            at,
            kind: d.kind.as_str().to_string(),
            item_id: d.item_id,
            quantity: d.quantity,
            from_account: d.from.code(),
            to_account: d.to.code(),
            from_store_id: d.from.store().map(str::to_string),
            to_store_id: d.to.store().map(str::to_string),
            donation_id: d.donation_id,
            stocktake_id: d.stocktake_id,
            reverses_id: d.reverses_id,
            reason: d.reason,
            user_id: d.user_id,
            username: d.username,
            prev_hash,
            hash: String::new(),
        };
        m.hash = m.compute_hash(&m.prev_hash);
        m
    }

    /// Write the row (the caller holds the chain head and moves it on).
    pub fn insert(&self, c: &mut DbConn) -> QueryResult<()> {
        diesel::insert_into(stock_movements::table)
            .values(self)
            .execute(c)?;
        Ok(())
    }

    pub fn kind(&self) -> Option<MovementKind> {
        MovementKind::parse(&self.kind).ok()
    }

    pub fn kind_label_key(&self) -> &'static str {
        self.kind()
            .map(MovementKind::label_key)
            .unwrap_or("stock.kind_unknown")
    }

    /// The change this movement made to a store's shelf (+ in, - out).
    pub fn delta_at(&self, store_id: &str) -> i64 {
        let mut d = 0;
        if self.to_store_id.as_deref() == Some(store_id) {
            d += self.quantity;
        }
        if self.from_store_id.as_deref() == Some(store_id) {
            d -= self.quantity;
        }
        d
    }

    /// Everything the hash covers, in a fixed order.
    fn hash_fields(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.seq.to_string(),
            chain::time_field(&self.at),
            self.kind.clone(),
            self.item_id.clone(),
            self.quantity.to_string(),
            self.from_account.clone(),
            self.to_account.clone(),
            self.from_store_id.clone().unwrap_or_default(),
            self.to_store_id.clone().unwrap_or_default(),
            self.donation_id.clone().unwrap_or_default(),
            self.stocktake_id.clone().unwrap_or_default(),
            self.reverses_id.clone().unwrap_or_default(),
            self.reason.clone(),
            self.user_id.clone().unwrap_or_default(),
            self.username.clone(),
        ]
    }

    pub fn compute_hash(&self, prev: &str) -> String {
        let f = self.hash_fields();
        let refs: Vec<&str> = f.iter().map(String::as_str).collect();
        chain::entry_hash(prev, &refs)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StockError {
    #[error("invalid field")]
    Invalid(FieldError),
    #[error("not found")]
    NotFound,
    /// The role may not do this, or the store lies outside the actor's scope.
    #[error("forbidden")]
    Forbidden,
    /// Another transaction used the same form key at the same moment.
    #[error("raced on an idempotency key")]
    Raced,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

impl From<FieldError> for StockError {
    fn from(e: FieldError) -> Self {
        StockError::Invalid(e)
    }
}

impl From<Forbidden> for StockError {
    fn from(_: Forbidden) -> Self {
        StockError::Forbidden
    }
}

impl From<crate::error::Problem> for StockError {
    fn from(e: crate::error::Problem) -> Self {
        use crate::error::Problem as P;
        match e {
            P::Invalid(f) | P::Conflict(_, f) => StockError::Invalid(f),
            P::NotFound => StockError::NotFound,
            P::Forbidden => StockError::Forbidden,
            P::Raced(_) => StockError::Raced,
            P::Db(d) => StockError::Db(d),
        }
    }
}

/// The store `store_id`, which the actor must be allowed `action` at (a
/// clerk: only their own store): the check every stock operation makes
/// itself. Errors: `Forbidden` for a role that may not act or a store outside
/// the scope, `NotFound` for an unknown store.
pub fn store_for(
    c: &mut DbConn,
    actor: &Actor,
    action: Action,
    store_id: &str,
) -> Result<crate::stores::StoreRow, StockError> {
    Ok(crate::stores::for_actor(c, actor, action, store_id)?)
}

/// Refuse unless the actor may do `action` at one of the stores a movement
/// touched. Errors: `Forbidden`.
pub fn require_movement(
    c: &mut DbConn,
    actor: &Actor,
    action: Action,
    m: &Movement,
) -> Result<(), StockError> {
    actor.require(action)?;
    for s in [&m.from_store_id, &m.to_store_id].into_iter().flatten() {
        if let Some(row) = crate::stores::find(c, s)?
            && actor.require_store(action, &row).is_ok()
        {
            return Ok(());
        }
    }
    Err(StockError::Forbidden)
}

impl From<idempotency::Error> for StockError {
    fn from(e: idempotency::Error) -> Self {
        match e {
            idempotency::Error::Reused(f) => StockError::Invalid(f),
            idempotency::Error::Raced => StockError::Raced,
            idempotency::Error::Db(d) => StockError::Db(d),
        }
    }
}

impl db::RetryableError for StockError {
    fn is_retryable(&self) -> bool {
        match self {
            StockError::Raced => true,
            StockError::Db(e) => e.is_retryable(),
            _ => false,
        }
    }
}

/// One transfer to post.
pub struct Transfer<'a> {
    pub kind: MovementKind,
    pub item: &'a Item,
    pub quantity: Quantity,
    pub from: Account,
    pub to: Account,
    pub donation_id: Option<&'a str>,
    pub stocktake_id: Option<&'a str>,
    pub reverses_id: Option<&'a str>,
    pub reason: &'a str,
    /// The day the posting is dated (in the scheme's time zone): today, or
    /// for a donation the day it was received. Refused in a closed month.
    pub on: NaiveDate,
}

/// Take the stock ledger's turn (the chain head's row lock) without writing a
/// row, and return the seq of the last movement: what is on the shelves now
/// is exactly the sum of the movements up to it until the transaction ends.
pub fn lock_head(c: &mut DbConn) -> QueryResult<i64> {
    diesel::update(stock_chain_head::table.find(1))
        .set(stock_chain_head::seq.eq(stock_chain_head::seq))
        .execute(c)?;
    stock_chain_head::table
        .find(1)
        .select(stock_chain_head::seq)
        .first(c)
}

/// Post one transfer. Must run inside a write transaction (`db::write_tx`):
/// it takes the chain head first (which makes ledger writers take turns),
/// lowers the source shelf only if it holds enough, raises the destination,
/// and appends the chained row. A transfer dated into a closed month is
/// refused (`error.month_closed`), and so is one dated far ahead
/// (`error.date_far_future`), by the same checks the points ledger's
/// `ledger::post` makes (`ledger::closed`). The caller, an operation, has
/// checked the actor's role and scope; `actor` is who the row names.
pub fn post(c: &mut DbConn, actor: &Actor, t: &Transfer) -> Result<Movement, StockError> {
    if crate::ledger::closed::far_future(t.on) {
        return Err(crate::ledger::closed::far_future_error("field.date", t.on).into());
    }
    // As the points ledger does: the chain head first, then the closed
    // month, so a close cannot slip in between (`closed::hold_ledgers`).
    crate::ledger::closed::hold_stock_ledger(c)?;
    if let Some(month) = crate::ledger::closed::closed_month_of(c, t.on)? {
        return Err(crate::ledger::closed::closed_error("field.date", month).into());
    }
    diesel::update(stock_chain_head::table.find(1))
        .set(stock_chain_head::seq.eq(stock_chain_head::seq + 1))
        .execute(c)?;
    // A movement is reversed at most once (a unique key too): say so
    // rather than fail on the key, whichever workflow is reversing it.
    // Asked after taking the chain head, so that of two reversals at once
    // the second sees the first.
    if let Some(orig) = t.reverses_id {
        let done: i64 = stock_movements::table
            .filter(stock_movements::reverses_id.eq(orig))
            .count()
            .get_result(c)?;
        if done > 0 {
            return Err(FieldError::new("field.movement", "error.already_reversed").into());
        }
    }
    let (seq, prev): (i64, String) = stock_chain_head::table
        .find(1)
        .select((stock_chain_head::seq, stock_chain_head::hash))
        .first(c)?;
    let n = t.quantity.get();
    if let Some(store_id) = t.from.store() {
        let lowered = diesel::update(
            stock::table
                .filter(stock::store_id.eq(store_id))
                .filter(stock::item_id.eq(&t.item.id))
                .filter(stock::quantity.ge(n)),
        )
        .set(stock::quantity.eq(stock::quantity - n))
        .execute(c)?;
        if lowered == 0 {
            let left = on_hand(c, store_id, &t.item.id)?;
            return Err(FieldError::conflict(
                "field.quantity",
                "error.not_enough_stock",
                crate::domain::Conflict::InsufficientStock,
            )
            .arg("item", &t.item.name)
            .arg("left", left)
            .arg("unit", &t.item.unit)
            .arg("wanted", n)
            .into());
        }
    }
    if let Some(store_id) = t.to.store() {
        let raised = diesel::update(
            stock::table
                .filter(stock::store_id.eq(store_id))
                .filter(stock::item_id.eq(&t.item.id)),
        )
        .set(stock::quantity.eq(stock::quantity + n))
        .execute(c)?;
        if raised == 0 {
            // Writers take turns on the chain head, so nobody else can insert
            // this row between the update above and here.
            diesel::insert_into(stock::table)
                .values((
                    stock::store_id.eq(store_id),
                    stock::item_id.eq(&t.item.id),
                    stock::quantity.eq(n),
                ))
                .execute(c)?;
        }
    }
    let draft = Draft {
        kind: t.kind,
        item_id: t.item.id.clone(),
        quantity: n,
        from: t.from.clone(),
        to: t.to.clone(),
        donation_id: t.donation_id.map(str::to_string),
        stocktake_id: t.stocktake_id.map(str::to_string),
        reverses_id: t.reverses_id.map(str::to_string),
        reason: t.reason.to_string(),
        user_id: actor.audit().user_id,
        username: actor.username.clone(),
    };
    let m = Movement::chained(seq, prev, db::new_id(), db::now(), draft);
    m.insert(c)?;
    let (from, to) = (m.from_store_id.as_deref(), m.to_store_id.as_deref());
    crate::ledger::goods_totals::record(c, m.at, &m.kind, &m.item_id, m.quantity, from, to)?;
    diesel::update(stock_chain_head::table.find(1))
        .set(stock_chain_head::hash.eq(&m.hash))
        .execute(c)?;
    Ok(m)
}

/// Units of an item on a store's shelf now.
pub fn on_hand(c: &mut DbConn, store_id: &str, item_id: &str) -> QueryResult<i64> {
    Ok(stock::table
        .find((store_id, item_id))
        .select(stock::quantity)
        .first(c)
        .optional()?
        .unwrap_or(0))
}

/// The next number of a series ("donation", "stocktake"), inside the
/// caller's transaction.
pub fn next_number(c: &mut DbConn, series: &str) -> QueryResult<i64> {
    diesel::update(counters::table.find(series))
        .set(counters::value.eq(counters::value + 1))
        .execute(c)?;
    counters::table
        .find(series)
        .select(counters::value)
        .first(c)
}

/// What an operation that went through a form key produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The id of what the first use made (a movement, a donation, ...).
    pub id: String,
    /// True when this was a replay: nothing changed this time.
    pub replayed: bool,
}

/// A form's key, whose user, and a fingerprint of what it asked for.
pub struct FormKey<'a> {
    pub key: &'a IdemKey,
    pub scope: &'a str,
    pub fingerprint: String,
}

/// Run `work` once per form key, inside the caller's transaction.
pub fn once(
    c: &mut DbConn,
    actor: &Actor,
    form: &FormKey,
    work: impl FnOnce(&mut DbConn) -> Result<String, StockError>,
) -> Result<Outcome, StockError> {
    let user = actor.user_id.clone();
    if let Some(id) = idempotency::lookup(c, form.key, form.scope, &user, &form.fingerprint)? {
        return Ok(Outcome { id, replayed: true });
    }
    let id = work(c)?;
    idempotency::store(c, form.key, form.scope, &user, &form.fingerprint, &id)?;
    Ok(Outcome {
        id,
        replayed: false,
    })
}

fn item_for(c: &mut DbConn, item_id: &str) -> Result<Item, StockError> {
    if item_id.trim().is_empty() {
        return Err(FieldError::new("field.item", "error.required").into());
    }
    Ok(goods::find(c, item_id.trim())?
        .ok_or(FieldError::new("field.item", "error.item_unknown"))?)
}

fn store_name(c: &mut DbConn, store_id: &str) -> QueryResult<Option<(String, bool)>> {
    use crate::db::schema::stores;
    stores::table
        .find(store_id)
        .select((stores::name, stores::active))
        .first(c)
        .optional()
}

/// Move goods from one store's shelf to another's: one row, one transaction.
/// Errors: `Forbidden` unless the actor may move stock from `from_store`
/// (checked first); `NotFound` for an unknown store.
// The form's fields as typed, plus the day the posting is dated.
#[allow(clippy::too_many_arguments)]
pub fn move_to_store(
    conn: &mut DbConn,
    actor: &Actor,
    key: &IdemKey,
    from_store: &str,
    to_store: &str,
    item_id: &str,
    quantity: &str,
    today: NaiveDate,
) -> Result<Outcome, StockError> {
    actor.require(Action::MoveStock)?;
    let to_store = to_store.trim();
    if to_store.is_empty() {
        return Err(FieldError::new("field.to_store", "error.required").into());
    }
    if to_store == from_store {
        return Err(FieldError::new("field.to_store", "error.same_store").into());
    }
    let qty = Quantity::parse("field.quantity", quantity)?;
    let form = FormKey {
        key,
        scope: "stock.move",
        fingerprint: idempotency::fingerprint(&[from_store, to_store, item_id, &qty.to_string()]),
    };
    db::write_tx(conn, |c| {
        store_for(c, actor, Action::MoveStock, from_store)?;
        once(c, actor, &form, |c| {
            let (to_name, to_active) = store_name(c, to_store)?
                .ok_or(FieldError::new("field.to_store", "error.store_unknown"))?;
            if !to_active {
                return Err(FieldError::new("field.to_store", "error.store_inactive").into());
            }
            let item = item_for(c, item_id)?;
            let m = post(
                c,
                actor,
                &Transfer {
                    kind: MovementKind::Move,
                    item: &item,
                    quantity: qty,
                    from: Account::Shelf(from_store.to_string()),
                    to: Account::Shelf(to_store.to_string()),
                    donation_id: None,
                    stocktake_id: None,
                    reverses_id: None,
                    reason: "",
                    on: today,
                },
            )?;
            audit::record(
                c,
                actor,
                "stock.move",
                "stock_movement",
                &m.id,
                &format!("{} x{} -> {}", item.name, qty, to_name),
            )?;
            Ok(m.id)
        })
    })
}

/// One form that moves one item between a store's shelf and an outside
/// account (a write-off, goods bought in), exactly once per form key.
struct ShelfForm {
    scope: &'static str,
    /// What the actor must be allowed at the store.
    action: Action,
    kind: MovementKind,
    /// Whether goods leave the shelf (to `other`) or arrive on it (from `other`).
    leaves_shelf: bool,
    other: Account,
    /// The translation key of the required text field (reason or note).
    text_field: &'static str,
}

/// What the person typed on such a form.
struct ShelfInput<'a> {
    store_id: &'a str,
    item_id: &'a str,
    quantity: &'a str,
    text: &'a str,
    today: NaiveDate,
}

fn shelf_once(
    conn: &mut DbConn,
    actor: &Actor,
    key: &IdemKey,
    input: ShelfInput,
    f: ShelfForm,
) -> Result<Outcome, StockError> {
    let ShelfInput {
        store_id,
        item_id,
        quantity,
        text,
        today,
    } = input;
    actor.require(f.action)?;
    let qty = Quantity::parse("field.quantity", quantity)?;
    let text = crate::domain::parse_name(f.text_field, text, 200)?;
    let form = FormKey {
        key,
        scope: f.scope,
        fingerprint: idempotency::fingerprint(&[store_id, item_id, &qty.to_string(), &text]),
    };
    let shelf = Account::Shelf(store_id.to_string());
    let (from, to) = if f.leaves_shelf {
        (shelf, f.other.clone())
    } else {
        (f.other.clone(), shelf)
    };
    db::write_tx(conn, |c| {
        store_for(c, actor, f.action, store_id)?;
        once(c, actor, &form, |c| {
            let item = item_for(c, item_id)?;
            let m = post(
                c,
                actor,
                &Transfer {
                    kind: f.kind,
                    item: &item,
                    quantity: qty,
                    from: from.clone(),
                    to: to.clone(),
                    donation_id: None,
                    stocktake_id: None,
                    reverses_id: None,
                    reason: &text,
                    on: today,
                },
            )?;
            audit::record(
                c,
                actor,
                f.scope,
                "stock_movement",
                &m.id,
                &format!("{} x{}: {}", item.name, qty, text),
            )?;
            Ok(m.id)
        })
    })
}

/// Write off damaged or expired goods; the reason is required.
/// Errors: `Forbidden` unless the actor may move stock at the store.
// The form's fields as typed, plus the day the posting is dated.
#[allow(clippy::too_many_arguments)]
pub fn write_off(
    conn: &mut DbConn,
    actor: &Actor,
    key: &IdemKey,
    store_id: &str,
    item_id: &str,
    quantity: &str,
    reason: &str,
    today: NaiveDate,
) -> Result<Outcome, StockError> {
    let f = ShelfForm {
        scope: "stock.write_off",
        action: Action::MoveStock,
        kind: MovementKind::WriteOff,
        leaves_shelf: true,
        other: Account::WrittenOff,
        text_field: "field.reason",
    };
    shelf_once(
        conn,
        actor,
        key,
        ShelfInput {
            store_id,
            item_id,
            quantity,
            text: reason,
            today,
        },
        f,
    )
}

/// Goods bought (with donated money) put on the shelf; the note says what
/// paid for them (e.g. the donation's number). Errors: `Forbidden` unless
/// the actor may book goods in at the store.
// The form's fields as typed, plus the day the posting is dated.
#[allow(clippy::too_many_arguments)]
pub fn buy_in(
    conn: &mut DbConn,
    actor: &Actor,
    key: &IdemKey,
    store_id: &str,
    item_id: &str,
    quantity: &str,
    note: &str,
    today: NaiveDate,
) -> Result<Outcome, StockError> {
    let f = ShelfForm {
        scope: "stock.buy_in",
        action: Action::BookDonation,
        kind: MovementKind::Purchase,
        leaves_shelf: false,
        other: Account::Purchase,
        text_field: "field.note",
    };
    shelf_once(
        conn,
        actor,
        key,
        ShelfInput {
            store_id,
            item_id,
            quantity,
            text: note,
            today,
        },
        f,
    )
}

/// A counted adjustment outside a stocktake: +delta comes from the counted
/// account onto the shelf, -delta leaves it. (Stocktakes post theirs in one
/// transaction; see `stocktake::confirm`.) Errors: `Forbidden` unless the
/// actor may count stock at the store.
pub fn adjust(
    conn: &mut DbConn,
    actor: &Actor,
    store_id: &str,
    item: &Item,
    delta: i64,
    reason: &str,
    today: NaiveDate,
) -> Result<Option<Movement>, StockError> {
    actor.require(Action::Stocktake)?;
    // `abs` of i64::MIN wraps: a size that does not fit is too big, never a panic.
    let too_big = || {
        FieldError::new("field.quantity", "error.number_too_big")
            .arg("max", crate::domain::stock::MAX_QUANTITY)
    };
    let size = delta.checked_abs().ok_or_else(too_big)?;
    if size > crate::domain::stock::MAX_QUANTITY {
        return Err(too_big().into());
    }
    let Some(qty) = Quantity::new(size) else {
        return Ok(None);
    };
    db::write_tx(conn, |c| {
        store_for(c, actor, Action::Stocktake, store_id)?;
        let m = post(
            c,
            actor,
            &adjustment(store_id, item, delta, qty, None, reason, today),
        )?;
        audit::record(
            c,
            actor,
            "stock.adjust",
            "stock_movement",
            &m.id,
            &format!("{} {delta:+}: {reason}", item.name),
        )?;
        Ok(Some(m))
    })
}

pub(crate) fn adjustment<'a>(
    store_id: &str,
    item: &'a Item,
    delta: i64,
    qty: Quantity,
    stocktake_id: Option<&'a str>,
    reason: &'a str,
    on: NaiveDate,
) -> Transfer<'a> {
    let shelf = Account::Shelf(store_id.to_string());
    let (from, to) = if delta > 0 {
        (Account::Counted, shelf)
    } else {
        (shelf, Account::Counted)
    };
    Transfer {
        kind: MovementKind::Adjustment,
        item,
        quantity: qty,
        from,
        to,
        donation_id: None,
        stocktake_id,
        reverses_id: None,
        reason,
        on,
    }
}

pub fn find_movement(c: &mut DbConn, id: &str) -> QueryResult<Option<Movement>> {
    stock_movements::table
        .find(id)
        .select(Movement::as_select())
        .first(c)
        .optional()
}

/// The workflow a movement belongs to, when it is not the stock ledger's
/// own: its goods come back only through that workflow (voiding the
/// redemption, reversing the donation or the stocktake), never by reversing
/// the movement alone, or the other ledger and the paperwork would disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A redemption: (its id, its number).
    Redemption(String, String),
    /// A donation: (its id, its number).
    Donation(String, String),
    /// A stocktake: (its id, its number).
    Stocktake(String, String),
}

impl Owner {
    /// Where the workflow's own page is.
    pub fn href(&self) -> String {
        match self {
            Owner::Redemption(id, _) => format!("/redemptions/{id}"),
            Owner::Donation(id, _) => format!("/donations/{id}"),
            Owner::Stocktake(id, _) => format!("/stocktakes/{id}"),
        }
    }

    /// The document's number (DH..., JZ..., PD...).
    pub fn number(&self) -> &str {
        match self {
            Owner::Redemption(_, n) | Owner::Donation(_, n) | Owner::Stocktake(_, n) => n,
        }
    }

    /// The refusal shown when someone tries to reverse the movement alone.
    pub fn refusal(&self) -> FieldError {
        let key = match self {
            Owner::Redemption(..) => "error.movement_of_redemption",
            Owner::Donation(..) => "error.movement_of_donation",
            Owner::Stocktake(..) => "error.movement_of_stocktake",
        };
        FieldError::new("field.movement", key).arg("number", self.number())
    }
}

/// Which workflow made a movement (None: a move, write-off, purchase or
/// adjustment of the stock ledger's own, which `reverse` may undo). A
/// reversal belongs to whatever its original belongs to.
pub fn owner_of(c: &mut DbConn, m: &Movement) -> QueryResult<Option<Owner>> {
    use crate::db::schema::{donations, redemption_lines, redemptions, stocktakes};
    if let Some(d) = &m.donation_id {
        let number = donations::table
            .find(d)
            .select(donations::number)
            .first::<String>(c)
            .optional()?
            .unwrap_or_default();
        return Ok(Some(Owner::Donation(d.clone(), number)));
    }
    if let Some(s) = &m.stocktake_id {
        let number = stocktakes::table
            .find(s)
            .select(stocktakes::number)
            .first::<String>(c)
            .optional()?
            .unwrap_or_default();
        return Ok(Some(Owner::Stocktake(s.clone(), number)));
    }
    let original = m.reverses_id.as_deref().unwrap_or(&m.id);
    let redemption = redemption_lines::table
        .inner_join(redemptions::table)
        .filter(redemption_lines::movement_id.eq(original))
        .select((redemptions::id, redemptions::number))
        .first::<(String, String)>(c)
        .optional()?;
    if let Some((id, number)) = redemption {
        return Ok(Some(Owner::Redemption(id, number)));
    }
    if m.kind() == Some(MovementKind::Redemption) {
        // A redemption movement no redemption names: still not the stock
        // ledger's own to undo (`aixin ledger verify` names it).
        return Ok(Some(Owner::Redemption(String::new(), String::new())));
    }
    Ok(None)
}

/// Correct a movement by a reversing one that names it. Each movement can be
/// reversed once; a reversal itself is not reversed (post a new movement),
/// and a movement a redemption, donation or stocktake made is refused (see
/// `Owner`). The reversal is dated `today` (scheme's time zone). Errors:
/// `Forbidden` unless the actor may move stock at a store the movement
/// touched; `NotFound` for an unknown movement.
pub fn reverse(
    conn: &mut DbConn,
    actor: &Actor,
    key: &IdemKey,
    movement_id: &str,
    reason: &str,
    today: NaiveDate,
) -> Result<Outcome, StockError> {
    actor.require(Action::MoveStock)?;
    let reason = crate::domain::parse_name("field.reason", reason, 200)?;
    let form = FormKey {
        key,
        scope: "stock.reverse",
        fingerprint: idempotency::fingerprint(&[movement_id, &reason]),
    };
    db::write_tx(conn, |c| {
        once(c, actor, &form, |c| {
            let orig = find_movement(c, movement_id)?.ok_or(StockError::NotFound)?;
            require_movement(c, actor, Action::MoveStock, &orig)?;
            if orig.kind() == Some(MovementKind::Reversal) {
                return Err(
                    FieldError::new("field.movement", "error.cannot_reverse_reversal").into(),
                );
            }
            if let Some(owner) = owner_of(c, &orig)? {
                return Err(owner.refusal().into());
            }
            let m = reverse_one(c, actor, &orig, &reason, today)?;
            audit::record(
                c,
                actor,
                "stock.reverse",
                "stock_movement",
                &m.id,
                &format!("reverses #{} x{}: {}", orig.seq, orig.quantity, reason),
            )?;
            Ok(m.id)
        })
    })
}

/// Post the reversal of one movement (inside the caller's transaction): the
/// same goods back the other way, naming the original and its workflow.
/// Refused when it was already reversed (see `post`).
pub(crate) fn reverse_one(
    c: &mut DbConn,
    actor: &Actor,
    orig: &Movement,
    reason: &str,
    today: NaiveDate,
) -> Result<Movement, StockError> {
    let item = item_for(c, &orig.item_id)?;
    let (Some(from), Some(to), Some(qty)) = (
        Account::parse(&orig.to_account),
        Account::parse(&orig.from_account),
        Quantity::new(orig.quantity),
    ) else {
        return Err(StockError::NotFound);
    };
    post(
        c,
        actor,
        &Transfer {
            kind: MovementKind::Reversal,
            item: &item,
            quantity: qty,
            from,
            to,
            donation_id: orig.donation_id.as_deref(),
            stocktake_id: orig.stocktake_id.as_deref(),
            reverses_id: Some(&orig.id),
            reason,
            on: today,
        },
    )
}

/// One line of a store's shelf.
#[derive(Debug, Clone)]
pub struct ShelfLine {
    pub item: Item,
    pub quantity: i64,
    /// Points price at this store now (its own, else the catalogue's).
    pub price: i64,
    pub own_price: Option<i64>,
    pub low_threshold: i64,
}

impl ShelfLine {
    pub fn value(&self) -> i64 {
        self.quantity * self.price
    }

    pub fn is_low(&self) -> bool {
        self.low_threshold > 0 && self.quantity <= self.low_threshold
    }
}

/// A store's shelf: every item it holds or has a setting for.
pub fn shelf(c: &mut DbConn, store_id: &str) -> QueryResult<Vec<ShelfLine>> {
    let on_hand: HashMap<String, i64> = stock::table
        .filter(stock::store_id.eq(store_id))
        .select((stock::item_id, stock::quantity))
        .load::<(String, i64)>(c)?
        .into_iter()
        .collect();
    let settings: HashMap<String, (Option<i64>, i64)> = store_items::table
        .filter(store_items::store_id.eq(store_id))
        .select((
            store_items::item_id,
            store_items::points_price,
            store_items::low_threshold,
        ))
        .load::<(String, Option<i64>, i64)>(c)?
        .into_iter()
        .map(|(i, p, t)| (i, (p, t)))
        .collect();
    let mut out = Vec::new();
    for item in goods::list(c)? {
        let q = on_hand.get(&item.id).copied();
        let s = settings.get(&item.id).copied();
        if q.is_none() && s.is_none() {
            continue;
        }
        let (own_price, low_threshold) = s.unwrap_or((None, 0));
        out.push(ShelfLine {
            price: own_price.unwrap_or(item.points_price),
            quantity: q.unwrap_or(0),
            own_price,
            low_threshold,
            item,
        });
    }
    Ok(out)
}

/// An item at or below its store's threshold.
#[derive(Debug, Clone)]
pub struct LowStock {
    pub store_id: String,
    pub store_name: String,
    pub item_name: String,
    pub unit: String,
    pub quantity: i64,
    pub threshold: i64,
}

/// What is low, at one store or (None) at every store: for the store's page
/// and the admin's home page.
pub fn low_stock(c: &mut DbConn, store_id: Option<&str>) -> QueryResult<Vec<LowStock>> {
    use crate::db::schema::stores;
    // One query: each watched item with what is on its shelf.
    let mut q = store_items::table
        .inner_join(items::table)
        .inner_join(stores::table)
        .left_join(
            stock::table.on(stock::store_id
                .eq(store_items::store_id)
                .and(stock::item_id.eq(store_items::item_id))),
        )
        .filter(store_items::low_threshold.gt(0))
        .filter(items::active.eq(true))
        .filter(stores::active.eq(true))
        .select((
            store_items::store_id,
            stores::name,
            items::name,
            items::unit,
            store_items::low_threshold,
            stock::quantity.nullable(),
        ))
        .into_boxed();
    if let Some(s) = store_id {
        q = q.filter(store_items::store_id.eq(s.to_string()));
    }
    let rows = q.load::<(String, String, String, String, i64, Option<i64>)>(c)?;
    let mut out: Vec<LowStock> = rows
        .into_iter()
        .map(
            |(store_id, store_name, item_name, unit, threshold, quantity)| LowStock {
                store_id,
                store_name,
                item_name,
                unit,
                quantity: quantity.unwrap_or(0),
                threshold,
            },
        )
        .filter(|l| l.quantity <= l.threshold)
        .collect();
    out.sort_by(|a, b| (&a.store_name, &a.item_name).cmp(&(&b.store_name, &b.item_name)));
    Ok(out)
}

/// Which movements of a store to list.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub item_id: Option<String>,
    pub kind: Option<MovementKind>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

/// A movement with its item's name and unit.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub m: Movement,
    pub item_name: String,
    pub unit: String,
    /// The change to this store's shelf.
    pub delta: i64,
}

pub const PAGE_SIZE: i64 = 100;

/// A store's movements, newest first; `limit` rows from `offset`.
pub fn history(
    c: &mut DbConn,
    store_id: &str,
    f: &HistoryFilter,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<HistoryRow>> {
    let mut q = stock_movements::table
        .inner_join(items::table)
        .filter(
            stock_movements::from_store_id
                .eq(store_id)
                .or(stock_movements::to_store_id.eq(store_id)),
        )
        .into_boxed();
    if let Some(i) = &f.item_id {
        q = q.filter(stock_movements::item_id.eq(i.clone()));
    }
    if let Some(k) = f.kind {
        q = q.filter(stock_movements::kind.eq(k.as_str()));
    }
    if let Some(from) = f.from {
        q = q.filter(stock_movements::at.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(stock_movements::at.lt(to));
    }
    Ok(q.order(stock_movements::seq.desc())
        .offset(offset.max(0))
        .limit(limit)
        .select((Movement::as_select(), items::name, items::unit))
        .load::<(Movement, String, String)>(c)?
        .into_iter()
        .map(|(m, item_name, unit)| HistoryRow {
            delta: m.delta_at(store_id),
            m,
            item_name,
            unit,
        })
        .collect())
}

/// Ids of movements that have been reversed, among `ids`.
pub fn reversed_among(c: &mut DbConn, ids: &[String]) -> QueryResult<Vec<String>> {
    stock_movements::table
        .filter(stock_movements::reverses_id.eq_any(ids))
        .select(stock_movements::reverses_id.assume_not_null())
        .load(c)
}

/// The first ledger entry that does not check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEntry {
    pub seq: i64,
    pub id: String,
    /// Translation key of what is wrong.
    pub problem: &'static str,
}

/// A cached stock level that differs from the ledger's sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockMismatch {
    pub store_id: String,
    pub item_id: String,
    pub cached: i64,
    pub ledger: i64,
}

#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    pub entries: i64,
    pub first_bad: Option<BadEntry>,
    pub mismatches: Vec<StockMismatch>,
    pub head_ok: bool,
    /// Whether the paperwork and both ledgers agree about every redemption,
    /// donation and stocktake (the first that does not is named).
    pub workflows: agree::AgreeReport,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.first_bad.is_none()
            && self.mismatches.is_empty()
            && self.head_ok
            && self.workflows.first.is_none()
    }
}

/// Recompute the stock ledger: every row's hash and link to the one before,
/// the chain head, every cached stock level against the ledger's sum, and
/// whether every workflow's paperwork agrees with both ledgers.
pub fn verify_stock_ledger(c: &mut DbConn) -> QueryResult<VerifyReport> {
    let mut report = VerifyReport::default();
    let mut prev = chain::GENESIS.to_string();
    let mut expected_seq = 1;
    let mut sums: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut last_seq = 0;
    loop {
        let batch = stock_movements::table
            .filter(stock_movements::seq.gt(last_seq))
            .order(stock_movements::seq.asc())
            .limit(1000)
            .select(Movement::as_select())
            .load(c)?;
        if batch.is_empty() {
            break;
        }
        for m in batch {
            last_seq = m.seq;
            report.entries += 1;
            if report.first_bad.is_none() {
                let problem = if m.seq != expected_seq {
                    Some("ledger.problem_gap")
                } else {
                    let from = Account::parse(&m.from_account);
                    let to = Account::parse(&m.to_account);
                    let stores_match = from.as_ref().and_then(Account::store)
                        == m.from_store_id.as_deref()
                        && to.as_ref().and_then(Account::store) == m.to_store_id.as_deref();
                    let fields = m.hash_fields();
                    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
                    match chain::check(&prev, &m.prev_hash, &m.hash, &refs) {
                        Some(chain::Break::PrevMismatch) => Some("ledger.problem_link"),
                        Some(chain::Break::HashMismatch) => Some("ledger.problem_hash"),
                        None if from.is_none() || to.is_none() || !stores_match => {
                            Some("ledger.problem_account")
                        }
                        None => None,
                    }
                };
                if let Some(problem) = problem {
                    report.first_bad = Some(BadEntry {
                        seq: m.seq,
                        id: m.id.clone(),
                        problem,
                    });
                }
            }
            if let Some(s) = &m.to_store_id {
                *sums.entry((s.clone(), m.item_id.clone())).or_default() += m.quantity;
            }
            if let Some(s) = &m.from_store_id {
                *sums.entry((s.clone(), m.item_id.clone())).or_default() -= m.quantity;
            }
            prev = m.hash.clone();
            expected_seq = m.seq + 1;
        }
    }
    let (head_seq, head_hash): (i64, String) = stock_chain_head::table
        .find(1)
        .select((stock_chain_head::seq, stock_chain_head::hash))
        .first(c)?;
    report.head_ok = head_seq == report.entries && head_hash == prev;
    let cached: BTreeMap<(String, String), i64> = stock::table
        .select((stock::store_id, stock::item_id, stock::quantity))
        .load::<(String, String, i64)>(c)?
        .into_iter()
        .map(|(s, i, q)| ((s, i), q))
        .collect();
    let keys: std::collections::BTreeSet<&(String, String)> =
        cached.keys().chain(sums.keys()).collect();
    for k in keys {
        let a = cached.get(k).copied().unwrap_or(0);
        let b = sums.get(k).copied().unwrap_or(0);
        if a != b {
            report.mismatches.push(StockMismatch {
                store_id: k.0.clone(),
                item_id: k.1.clone(),
                cached: a,
                ledger: b,
            });
        }
    }
    report.workflows = agree::check_workflows(c)?;
    Ok(report)
}
