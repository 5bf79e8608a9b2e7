//! The stock ledger. Every movement of goods is one immutable row: a transfer
//! of a quantity of one item from one account to another, so each row sums to
//! zero (double entry). Rows are hash-chained (see `ledger::chain`). Stock on
//! hand per store and item is cached in `stock`, raised and lowered only in
//! the transaction that writes the row, and lowered only by a conditional
//! update that cannot go below zero.

pub mod agree;
pub mod stocktake;

mod lists;
mod moves;
mod posting;
mod reversal;
mod verify;

pub use lists::*;
pub use moves::*;
pub use posting::*;
pub use reversal::*;
pub use verify::*;

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::audit;
use crate::auth::{Action, Actor, Forbidden};
use crate::db::schema::{counters, items, stock, stock_chain_head, stock_movements, store_items};
use crate::db::{self, DbConn};
use crate::domain::stock::Quantity;
use crate::domain::{FieldError, ItemId, StoreId};
use crate::goods::{self, Item};
use crate::idempotency::{self, IdemKey};
use crate::ledger::chain;

/// An account goods can be in or come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    /// A store's shelf: the only accounts whose balance is kept (and >= 0).
    Shelf(StoreId),
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
                ("shelf", id) => Account::Shelf(StoreId::from_stored(id.to_string())),
                ("donor", id) => Account::Donor(id.to_string()),
                _ => return None,
            },
        })
    }

    /// The store whose shelf this is (None for the outside accounts).
    pub fn store(&self) -> Option<&StoreId> {
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
/// written only by `Movement::insert` (or, many rows at once,
/// `Movement::insert_all`): the app's `post`, the demo generator and the
/// benchmark all go through them.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = stock_movements, treat_none_as_default_value = false)]
pub struct Movement {
    pub id: String,
    pub seq: i64,
    pub at: NaiveDateTime,
    pub kind: String,
    pub item_id: ItemId,
    pub quantity: i64,
    pub from_account: String,
    pub to_account: String,
    pub from_store_id: Option<StoreId>,
    pub to_store_id: Option<StoreId>,
    pub donation_id: Option<String>,
    pub stocktake_id: Option<String>,
    pub reverses_id: Option<String>,
    pub reason: String,
    pub user_id: Option<String>,
    pub username: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Rows of `stock_movements` (18 columns) per INSERT: under SQLite's 32,766
/// bound parameters.
const MOVEMENTS_PER_INSERT: usize = 30_000 / 18;

/// What a movement says, before the chain gives it its place.
#[derive(Debug, Clone)]
pub struct Draft {
    pub kind: MovementKind,
    pub item_id: ItemId,
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
            from_store_id: d.from.store().cloned(),
            to_store_id: d.to.store().cloned(),
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

    /// Write rows made by `chained`, in multi-row INSERTs of at most
    /// `MOVEMENTS_PER_INSERT` rows (the demo generator's months). The
    /// caller holds the chain head and moves it on past the last.
    pub fn insert_all(conn: &mut DbConn, movements: &[Movement]) -> QueryResult<()> {
        for chunk in movements.chunks(MOVEMENTS_PER_INSERT) {
            match conn {
                DbConn::Sqlite(c) => diesel::insert_into(stock_movements::table)
                    .values(chunk)
                    .execute(c)?,
                DbConn::Pg(c) => diesel::insert_into(stock_movements::table)
                    .values(chunk)
                    .execute(c)?,
            };
        }
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
    pub fn delta_at(&self, store_id: &StoreId) -> i64 {
        let mut d = 0;
        if self.to_store_id.as_ref() == Some(store_id) {
            d += self.quantity;
        }
        if self.from_store_id.as_ref() == Some(store_id) {
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
            self.item_id.to_string(),
            self.quantity.to_string(),
            self.from_account.clone(),
            self.to_account.clone(),
            self.from_store_id
                .as_deref()
                .unwrap_or_default()
                .to_string(),
            self.to_store_id.as_deref().unwrap_or_default().to_string(),
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
    store_id: &StoreId,
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
