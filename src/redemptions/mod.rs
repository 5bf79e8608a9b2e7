//! Redemptions (兑换): at the counter a household's points become goods.
//! One transaction lowers the household's points (a conditional update) and
//! the store's stock (one conditional update per line), writes both ledgers
//! and the audit row, or does nothing at all. A form key makes it exactly once.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::audit;
use crate::auth::{Action, Actor, Forbidden};
use crate::db::schema::{redemption_lines, redemptions, stock_movements};
use crate::db::{self, DbConn};
use crate::domain::stock::Quantity;
use crate::domain::{CardNo, FieldError, ItemId, StoreId};
use crate::goods::{self, Item};
use crate::households::{self, CardLookup, HouseholdRow};
use crate::ledger::{self, Kind, Posting};
use crate::settings;
use crate::stock::{self, Account, MovementKind, StockError, Transfer};
use crate::stores;

#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    #[error("invalid field")]
    Invalid(FieldError),
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    /// The same form key was used at the same moment by another request.
    #[error("raced on the form key")]
    Raced,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

impl From<FieldError> for RedeemError {
    fn from(e: FieldError) -> Self {
        RedeemError::Invalid(e)
    }
}

impl From<Forbidden> for RedeemError {
    fn from(_: Forbidden) -> Self {
        RedeemError::Forbidden
    }
}

impl From<StockError> for RedeemError {
    fn from(e: StockError) -> Self {
        match e {
            StockError::Invalid(f) => RedeemError::Invalid(f),
            StockError::NotFound => RedeemError::NotFound,
            StockError::Forbidden => RedeemError::Forbidden,
            StockError::Raced => RedeemError::Db(diesel::result::Error::RollbackTransaction),
            StockError::Db(d) => RedeemError::Db(d),
        }
    }
}

impl From<crate::idempotency::Error> for RedeemError {
    fn from(e: crate::idempotency::Error) -> Self {
        match e {
            crate::idempotency::Error::Reused(f) => RedeemError::Invalid(f),
            crate::idempotency::Error::Raced => RedeemError::Raced,
            crate::idempotency::Error::Db(d) => RedeemError::Db(d),
        }
    }
}

impl From<ledger::LedgerError> for RedeemError {
    fn from(e: ledger::LedgerError) -> Self {
        match e {
            ledger::LedgerError::Insufficient { balance, needed } => {
                ledger::insufficient_error(balance, needed).into()
            }
            ledger::LedgerError::BadAmount => {
                FieldError::new("field.items", "error.basket_empty").into()
            }
            ledger::LedgerError::MonthClosed(m) => {
                crate::reports::close::closed_error("field.date", m).into()
            }
            ledger::LedgerError::FarFuture(d) => {
                ledger::closed::far_future_error("field.date", d).into()
            }
            ledger::LedgerError::Forbidden => RedeemError::Forbidden,
            ledger::LedgerError::Db(d) => RedeemError::Db(d),
        }
    }
}

impl From<crate::households::HouseholdError> for RedeemError {
    fn from(e: crate::households::HouseholdError) -> Self {
        use crate::households::HouseholdError as H;
        match e {
            H::Invalid(f) => RedeemError::Invalid(f),
            H::NotFound => RedeemError::NotFound,
            H::Forbidden => RedeemError::Forbidden,
            H::Db(d) => RedeemError::Db(d),
        }
    }
}

impl db::RetryableError for RedeemError {
    fn is_retryable(&self) -> bool {
        match self {
            RedeemError::Raced => true,
            RedeemError::Db(e) => e.is_retryable(),
            _ => false,
        }
    }
}

crate::text_enum! {
    /// A redemption stands (`Completed`) or was undone by a reversing
    /// entry (`Void`).
    pub enum RedemptionStatus {
        Completed = "completed",
        Void = "void",
    }
}

/// What voiding writes besides the status.
#[derive(AsChangeset)]
#[diesel(table_name = redemptions)]
pub struct RedemptionChanges<'a> {
    pub voided_at: NaiveDateTime,
    pub voided_by: &'a str,
    pub void_reason: &'a str,
}

/// The one way a redemption changes status: one conditional update on its
/// id and the status `from`, setting `to` with `changes`.
///
/// Errors: `RedeemError::Invalid` with `error.already_void` when no row
/// matched (someone else voided it first).
pub fn transition(
    conn: &mut DbConn,
    id: &str,
    from: RedemptionStatus,
    to: RedemptionStatus,
    changes: RedemptionChanges,
) -> Result<(), RedeemError> {
    let n = diesel::update(
        redemptions::table
            .find(id)
            .filter(redemptions::status.eq(from)),
    )
    .set((redemptions::status.eq(to), changes))
    .execute(conn)?;
    if n == 0 {
        return Err(FieldError::conflict(
            "field.redemption",
            "error.already_void",
            crate::domain::Conflict::Changed,
        )
        .into());
    }
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = redemptions)]
pub struct Redemption {
    pub id: String,
    pub number: String,
    pub store_id: StoreId,
    pub household_id: crate::domain::HouseholdId,
    pub card_no: String,
    pub clerk_id: Option<String>,
    pub clerk_username: String,
    pub total_points: i64,
    pub balance_after: i64,
    pub status: RedemptionStatus,
    pub points_entry_id: String,
    pub idempotency_key: String,
    pub created_at: NaiveDateTime,
    pub voided_at: Option<NaiveDateTime>,
    pub voided_by: String,
    pub void_reason: String,
}

impl Redemption {
    pub fn is_void(&self) -> bool {
        self.status == RedemptionStatus::Void
    }

    /// The household's balance just before this redemption, in points.
    pub fn balance_before(&self) -> i64 {
        self.balance_after + self.total_points
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = redemption_lines)]
pub struct Line {
    pub id: String,
    pub redemption_id: String,
    pub line_no: i64,
    pub item_id: ItemId,
    pub item_name: String,
    pub unit: String,
    pub quantity: i64,
    pub unit_points: i64,
    pub points: i64,
    pub movement_id: String,
}

/// The household a card number names, checked for the counter: any
/// household may redeem at any store, so an actor who may redeem reads it
/// whatever their scope. Errors: `Forbidden` for a role without `Redeem`,
/// `Invalid` naming `card_no` (unknown, replaced, archived).
pub fn household_for_card(
    conn: &mut DbConn,
    actor: &Actor,
    card_text: &str,
) -> Result<(HouseholdRow, CardNo), RedeemError> {
    actor.require(Action::Redeem)?;
    let card = CardNo::parse("field.card_no", card_text)?;
    match households::lookup_card(conn, &card)? {
        CardLookup::Unknown => Err(FieldError::new("field.card_no", "error.card_unknown")
            .arg("card", card.as_str())
            .into()),
        // Whoever holds the old card does not learn the new one's number.
        CardLookup::Replaced { .. } => Err(FieldError::new("field.card_no", "error.card_replaced")
            .arg("card", card.as_str())
            .into()),
        CardLookup::Current { household_id } => {
            let row = households::load(conn, &household_id)?;
            if row.household.archived {
                return Err(
                    FieldError::new("field.card_no", "error.household_archived_card")
                        .arg("name", &row.household.head_name)
                        .into(),
                );
            }
            Ok((row, card))
        }
    }
}

/// The household of a card at a store: as `household_for_card`, and where
/// the scheme serves households only at the stores of their own area
/// (`settings::REDEEM_IN_STORE_AREA_ONLY`), refused for a household living
/// outside the store's area: at the look-up as at the confirm, so the
/// counter never shows the balance of a household it may not serve.
///
/// Errors: those of `household_for_card`; `Invalid` on `field.card_no`
/// (`error.household_outside_store_area`) for a household outside the area.
pub fn household_at_store(
    conn: &mut DbConn,
    actor: &Actor,
    store: &stores::StoreRow,
    card_text: &str,
) -> Result<(HouseholdRow, CardNo), RedeemError> {
    let (household, card) = household_for_card(conn, actor, card_text)?;
    if settings::get_bool(conn, settings::REDEEM_IN_STORE_AREA_ONLY)?
        && !household.area_path.starts_with(&store.area_path)
    {
        return Err(
            FieldError::new("field.card_no", "error.household_outside_store_area")
                .arg("name", &household.household.head_name)
                .arg("store", &store.store.name)
                .into(),
        );
    }
    Ok((household, card))
}

/// Items a clerk's entry names: a barcode exactly, else a part of the name
/// as typed, whatever its case (`led` finds `LED灯泡`; `%` finds only a
/// name with `%` in it), at most 20.
pub fn find_items(conn: &mut DbConn, entry: &str) -> QueryResult<Vec<Item>> {
    use crate::db::schema::items;
    let entry = entry.trim();
    if entry.is_empty() {
        return Ok(Vec::new());
    }
    let by_barcode: Vec<Item> = items::table
        .filter(items::barcode.eq(entry))
        .select(Item::as_select())
        .load(conn)?;
    if !by_barcode.is_empty() {
        return Ok(by_barcode);
    }
    let mut q = items::table.into_boxed();
    q = match crate::domain::pinyin::query(entry) {
        // Letters: the name as typed, or by its pinyin (dami, dm).
        Some(py) => q.filter(
            db::contains(items::name, entry)
                .or(db::key_prefix(items::name_pinyin, &py))
                .or(db::key_prefix(items::name_initials, &py)),
        ),
        None => q.filter(db::contains(items::name, entry)),
    };
    q.order(items::name.asc())
        .limit(20)
        .select(Item::as_select())
        .load(conn)
}

/// A basket line as the form carries it: item id and quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantLine {
    pub item_id: ItemId,
    pub quantity: i64,
}

/// A basket line priced now, for showing before confirming.
#[derive(Debug, Clone)]
pub struct PricedLine {
    pub item: Item,
    pub quantity: i64,
    pub unit_points: i64,
    pub points: i64,
    pub on_hand: i64,
}

/// Price a basket at a store (prices are read now; they are read again at
/// confirm time, which is what counts). A line whose item is unknown is
/// left out of the priced lines; its place in `lines` (from 0) is in the
/// second list, for the caller to refuse by name ([`unknown_line`]).
pub fn price_basket(
    conn: &mut DbConn,
    store_id: &StoreId,
    lines: &[WantLine],
) -> Result<(Vec<PricedLine>, Vec<usize>), RedeemError> {
    let mut out = Vec::new();
    let mut unknown = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let Some(item) = goods::find(conn, &l.item_id)? else {
            unknown.push(i);
            continue;
        };
        let unit_points = goods::price_at(conn, store_id, &item)?;
        out.push(PricedLine {
            on_hand: stock::on_hand(conn, store_id, &item.id)?,
            points: unit_points.saturating_mul(l.quantity),
            unit_points,
            quantity: l.quantity,
            item,
        });
    }
    Ok((out, unknown))
}

/// The places (from 0) of the lines of `lines` whose item is unknown.
pub fn unknown_lines(conn: &mut DbConn, lines: &[WantLine]) -> QueryResult<Vec<usize>> {
    let mut unknown = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if goods::find(conn, &l.item_id)?.is_none() {
            unknown.push(i);
        }
    }
    Ok(unknown)
}

/// The refusal of a basket's line `n` (its place in the basket, from 1)
/// whose item is unknown.
pub fn unknown_line(n: usize) -> FieldError {
    FieldError::new("field.basket_line", "error.line_item_unknown").arg("n", n)
}

/// Add to a basket: the same item again raises its quantity, saturating
/// at `i64::MAX` (a caller refuses a line over `MAX_QUANTITY`; see
/// [`add_within`]).
pub fn add_line(lines: &mut Vec<WantLine>, item_id: &ItemId, quantity: i64) {
    match lines.iter_mut().find(|l| &l.item_id == item_id) {
        Some(l) => l.quantity = l.quantity.saturating_add(quantity),
        None => lines.push(WantLine {
            item_id: item_id.clone(),
            quantity,
        }),
    }
}

/// [`add_line`], refused when the item's line would then hold more than
/// one line may (`MAX_QUANTITY` pieces): `error.number_too_big` on
/// `field.quantity`, the basket unchanged.
pub fn add_within(
    lines: &mut Vec<WantLine>,
    item_id: &ItemId,
    quantity: i64,
) -> Result<(), FieldError> {
    let max = crate::domain::stock::MAX_QUANTITY;
    let held = lines
        .iter()
        .find(|l| &l.item_id == item_id)
        .map_or(0, |l| l.quantity);
    if held.saturating_add(quantity) > max {
        return Err(FieldError::new("field.quantity", "error.number_too_big").arg("max", max));
    }
    add_line(lines, item_id, quantity);
    Ok(())
}

/// One redemption as the counter or the API asks for it.
pub struct RedeemRequest<'a> {
    pub store_id: &'a StoreId,
    /// The card as scanned or typed: it decides whose points are spent.
    pub card: &'a str,
    pub lines: &'a [WantLine],
    /// The form key (exactly once).
    pub key: &'a str,
    /// The household the request names besides the card (the API's
    /// `household_id`, the counter form's household): when given it must be
    /// the card's, or the request is refused (`error.household_card_mismatch`
    /// on `field.household`) and nothing changes.
    pub household_id: Option<&'a str>,
    /// The total the clerk was shown, in points: when given and the basket
    /// now costs something else (a price changed meanwhile), the request is
    /// refused with the new total (`error.price_changed`) and nothing changes.
    pub expected_total: Option<i64>,
}

/// The refusal when a basket no longer costs what was shown: `total` is
/// what it costs now, `shown` what the clerk saw (both in points).
pub fn price_changed(shown: i64, total: i64) -> FieldError {
    FieldError::conflict(
        "field.expected_total",
        "error.price_changed",
        crate::domain::Conflict::PriceChanged,
    )
    .arg("shown", shown)
    .arg("total", total)
}

/// The idempotency scope of a redemption's key.
const KEY_SCOPE: &str = "redemption";

/// What a redemption asks for, as its key's fingerprint: the store, the
/// card as read, the household named and the basket (its lines in item
/// order, equal items added up), so the same basket sent again is a replay
/// and another basket under the same key is not.
fn meaning(r: &RedeemRequest) -> String {
    let mut lines: Vec<WantLine> = Vec::new();
    for l in r.lines {
        add_line(&mut lines, &l.item_id, l.quantity);
    }
    lines.sort_by(|a, b| a.item_id.cmp(&b.item_id));
    let basket: Vec<String> = lines
        .iter()
        .map(|l| format!("{}*{}", l.item_id, l.quantity))
        .collect();
    let card = crate::domain::input::normalize(r.card);
    let household = r.household_id.map(str::trim).unwrap_or("");
    let mut parts = vec![r.store_id.trim(), card.as_str(), household];
    parts.extend(basket.iter().map(String::as_str));
    crate::idempotency::fingerprint(&parts)
}

/// Redeem, exactly once per key. A replay (the same key, the same store,
/// card, household and basket) returns the first redemption; the same key
/// with another basket is refused (`error.form_key_reused` on `field.form`,
/// a `KeyReused` conflict) and redeems nothing.
/// Refused (nothing changes) when the household named besides the card is
/// another (`error.household_card_mismatch`), or the basket no longer costs
/// the total shown (`error.price_changed`, a conflict), besides the refusals
/// of points, stock, store and card.
pub fn redeem(
    conn: &mut DbConn,
    actor: &Actor,
    r: &RedeemRequest,
    today: NaiveDate,
) -> Result<(Redemption, bool), RedeemError> {
    actor.require(Action::Redeem)?;
    let ctx = &actor.audit();
    if r.key.trim().is_empty() || r.key.len() > 64 {
        return Err(FieldError::new("field.form", "error.form_expired").into());
    }
    if r.lines.is_empty() {
        return Err(FieldError::new("field.items", "error.basket_empty").into());
    }
    let meant = meaning(r);
    db::write_tx(conn, |c| {
        crate::idempotency::hold_meaning(c, r.key, KEY_SCOPE, &actor.user_id, &meant)?;
        if let Some(done) = redemptions::table
            .filter(redemptions::idempotency_key.eq(r.key))
            .select(Redemption::as_select())
            .first(c)
            .optional()?
        {
            return Ok((done, true));
        }
        let store = stores::find(c, r.store_id)?.ok_or(RedeemError::NotFound)?;
        actor.require_store(Action::Redeem, &store)?;
        if !store.store.active {
            return Err(FieldError::new("field.store", "error.store_inactive")
                .arg("name", &store.store.name)
                .into());
        }
        let (household, card) = household_at_store(c, actor, &store, r.card)?;
        if let Some(named) = r.household_id.map(str::trim).filter(|h| !h.is_empty())
            && named != household.household.id
        {
            return Err(
                FieldError::new("field.household", "error.household_card_mismatch")
                    .arg("card", card.as_str())
                    .into(),
            );
        }
        // Price every line now, from the catalogue (or the store's own
        // price); every line's fault is named with its place (`n`, from 1).
        let mut priced = Vec::new();
        let mut faults = crate::domain::FieldChecks::new();
        for (i, l) in r.lines.iter().enumerate() {
            let n = i + 1;
            let Some(item) = goods::find(c, &l.item_id)? else {
                faults.push(FieldError::new("field.item", "error.item_unknown").arg("n", n));
                continue;
            };
            if !item.active {
                faults.push(
                    FieldError::new("field.item", "error.item_inactive")
                        .arg("item", &item.name)
                        .arg("n", n),
                );
                continue;
            }
            let Some(quantity) = Quantity::new(l.quantity) else {
                faults.push(if l.quantity > crate::domain::stock::MAX_QUANTITY {
                    FieldError::new("field.quantity", "error.number_too_big")
                        .arg("max", crate::domain::stock::MAX_QUANTITY)
                        .arg("n", n)
                } else {
                    FieldError::new("field.quantity", "error.quantity_positive").arg("n", n)
                });
                continue;
            };
            let unit_points = goods::price_at(c, r.store_id, &item)?;
            priced.push((item, quantity, unit_points));
        }
        faults.finish()?;
        let total: i64 = priced.iter().map(|(_, q, p)| q.get() * p).sum();
        if total <= 0 {
            return Err(FieldError::new("field.items", "error.basket_free").into());
        }
        if let Some(shown) = r.expected_total
            && shown != total
        {
            return Err(price_changed(shown, total).into());
        }
        let id = db::new_id();
        let number = format!(
            "DH{}-{:06}",
            today.format("%Y"),
            stock::next_number(c, "redemption")?
        );
        // Points: household -> store, never below zero.
        let entry = ledger::post(
            c,
            &Posting {
                debit: ledger::household_account(&household.household.id),
                credit: ledger::store_account(r.store_id),
                amount: total,
                kind: Kind::Redemption,
                ref_kind: "redemption".into(),
                ref_id: id.clone(),
                memo: format!("{} {}", store.store.name, number),
                user_id: ctx.user_id.clone(),
                posted_on: today,
                idempotency_key: Some(format!("redemption:{id}")),
                reverses: None,
            },
        )?;
        let balance_after =
            ledger::balance(c, &ledger::household_account(&household.household.id))?;
        diesel::insert_into(redemptions::table)
            .values((
                redemptions::id.eq(&id),
                redemptions::number.eq(&number),
                redemptions::store_id.eq(r.store_id),
                redemptions::household_id.eq(&household.household.id),
                redemptions::card_no.eq(card.as_str()),
                redemptions::clerk_id.eq(&ctx.user_id),
                redemptions::clerk_username.eq(&ctx.username),
                redemptions::total_points.eq(total),
                redemptions::balance_after.eq(balance_after),
                redemptions::status.eq(RedemptionStatus::Completed),
                redemptions::points_entry_id.eq(&entry.id),
                redemptions::idempotency_key.eq(r.key),
                redemptions::created_at.eq(db::now()),
            ))
            .execute(c)
            .map_err(|e| {
                if db::is_unique_violation(&e) {
                    RedeemError::Raced
                } else {
                    e.into()
                }
            })?;
        // Goods: shelf -> redeemed, one conditional update per line.
        for (n, (item, quantity, unit_points)) in priced.iter().enumerate() {
            let m = stock::post(
                c,
                actor,
                &Transfer {
                    kind: MovementKind::Redemption,
                    item,
                    quantity: *quantity,
                    from: Account::Shelf(r.store_id.clone()),
                    to: Account::Redeemed,
                    donation_id: None,
                    stocktake_id: None,
                    reverses_id: None,
                    reason: &number,
                    on: today,
                },
            )?;
            diesel::insert_into(redemption_lines::table)
                .values((
                    redemption_lines::id.eq(db::new_id()),
                    redemption_lines::redemption_id.eq(&id),
                    redemption_lines::line_no.eq(n as i64 + 1),
                    redemption_lines::item_id.eq(&item.id),
                    redemption_lines::item_name.eq(&item.name),
                    redemption_lines::unit.eq(&item.unit),
                    redemption_lines::quantity.eq(quantity.get()),
                    redemption_lines::unit_points.eq(unit_points),
                    redemption_lines::points.eq(quantity.get() * unit_points),
                    redemption_lines::movement_id.eq(&m.id),
                ))
                .execute(c)?;
        }
        ledger::redemption_totals::record(c, &id)?;
        ledger::redeemer_totals::record(c, &household.household.id, entry.posted_on)?;
        audit::record(
            c,
            ctx,
            "redemption.complete",
            "redemption",
            &id,
            &audit::Detail::new("redemption")
                .arg("number", &number)
                .arg("points", total)
                .arg("lines", priced.len())
                .arg("balance", balance_after)
                .to_string(),
        )?;
        let done = redemptions::table
            .find(&id)
            .select(Redemption::as_select())
            .first(c)?;
        Ok((done, false))
    })
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<(Redemption, Vec<Line>)>> {
    let Some(r) = redemptions::table
        .find(id)
        .select(Redemption::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let lines = redemption_lines::table
        .filter(redemption_lines::redemption_id.eq(id))
        .order(redemption_lines::line_no.asc())
        .select(Line::as_select())
        .load(conn)?;
    Ok(Some((r, lines)))
}

/// A redemption with its lines, for an actor who may do `action` at its
/// store (`ViewRedemptions` to read a receipt, `Redeem` to void it).
///
/// Errors: `NotFound` for an unknown id; `Forbidden` for a role without
/// `action` or a store outside the actor's scope.
pub fn find_for(
    conn: &mut DbConn,
    actor: &Actor,
    action: Action,
    id: &str,
) -> Result<(Redemption, Vec<Line>), RedeemError> {
    actor.require(action)?;
    let (r, lines) = find(conn, id)?.ok_or(RedeemError::NotFound)?;
    let store = stores::find(conn, &r.store_id)?.ok_or(RedeemError::NotFound)?;
    actor.require_store(action, &store)?;
    Ok((r, lines))
}

/// A receipt: the redemption, its lines and its household, for an actor
/// who may see receipts at its store (see `find_for`).
pub fn receipt(conn: &mut DbConn, actor: &Actor, id: &str) -> Result<Receipt, RedeemError> {
    let (redemption, lines) = find_for(conn, actor, Action::ViewRedemptions, id)?;
    let household = households::load(conn, &redemption.household_id)?;
    let clerk_name = match &redemption.clerk_id {
        Some(clerk) => crate::db::schema::users::table
            .find(clerk)
            .select(crate::db::schema::users::display_name)
            .first::<String>(conn)
            .optional()?
            .filter(|n| !n.trim().is_empty()),
        None => None,
    }
    .unwrap_or_else(|| redemption.clerk_username.clone());
    Ok(Receipt {
        redemption,
        lines,
        household,
        clerk_name,
    })
}

/// Everything a printed receipt shows.
pub struct Receipt {
    pub redemption: Redemption,
    pub lines: Vec<Line>,
    pub household: HouseholdRow,
    /// The clerk's display name (their user name when they have none).
    pub clerk_name: String,
}

/// The current card of a household a clerk names at the counter instead of
/// scanning its card (`None`: it has none). Any household may redeem at
/// any store, so an actor who may redeem reads it whatever their scope.
///
/// Errors: `Forbidden` for a role without `Redeem`; `NotFound` for an
/// unknown household.
pub fn card_of(
    conn: &mut DbConn,
    actor: &Actor,
    household_id: &crate::domain::HouseholdId,
) -> Result<Option<String>, RedeemError> {
    actor.require(Action::Redeem)?;
    Ok(households::load(conn, household_id)?.card_no)
}

/// Void a redemption: reversing rows on both ledgers, goods back on the
/// shelf, points back to the household. An actor who may `VoidAnyDay` (an
/// admin) voids an older one; clerks only today's, at their own store.
///
/// Errors: `NotFound`; `Forbidden` for a role without `Redeem` or a store
/// outside the actor's scope; `Invalid` naming `reason` or `redemption`.
pub fn void(
    conn: &mut DbConn,
    actor: &Actor,
    id: &str,
    reason: &str,
    tz: chrono_tz::Tz,
) -> Result<Redemption, RedeemError> {
    find_for(conn, actor, Action::Redeem, id)?;
    let any_day = actor.require(Action::VoidAnyDay).is_ok();
    let ctx = &actor.audit();
    // Refused when empty or too long, never cut short.
    let reason = crate::domain::parse_name("field.reason", reason, 200)?;
    let today = crate::time::today(tz);
    db::write_tx(conn, |c| {
        let (r, lines) = find(c, id)?.ok_or(RedeemError::NotFound)?;
        if r.is_void() {
            return Err(FieldError::conflict(
                "field.redemption",
                "error.already_void",
                crate::domain::Conflict::Changed,
            )
            .into());
        }
        let day = {
            use chrono::TimeZone;
            tz.from_utc_datetime(&r.created_at).date_naive()
        };
        if day != today && !any_day {
            return Err(FieldError::new("field.redemption", "error.void_same_day_only").into());
        }
        transition(
            c,
            id,
            RedemptionStatus::Completed,
            RedemptionStatus::Void,
            RedemptionChanges {
                voided_at: db::now(),
                voided_by: &ctx.username,
                void_reason: &reason,
            },
        )?;
        let entry = ledger::find_entry(c, &r.points_entry_id)?.ok_or(RedeemError::NotFound)?;
        ledger::reverse(
            c,
            &entry,
            Kind::RedemptionVoid,
            &reason,
            ctx.user_id.clone(),
            today,
        )?;
        ledger::redeemer_totals::void(c, &r.household_id, entry.posted_on, today)?;
        for l in &lines {
            let item = goods::find(c, &l.item_id)?.ok_or(RedeemError::NotFound)?;
            let quantity = Quantity::new(l.quantity).ok_or(RedeemError::NotFound)?;
            stock::post(
                c,
                actor,
                &Transfer {
                    kind: MovementKind::Reversal,
                    item: &item,
                    quantity,
                    from: Account::Redeemed,
                    to: Account::Shelf(r.store_id.clone()),
                    donation_id: None,
                    stocktake_id: None,
                    reverses_id: Some(&l.movement_id),
                    reason: &reason,
                    on: today,
                },
            )?;
        }
        audit::record(
            c,
            ctx,
            "redemption.void",
            "redemption",
            id,
            &audit::Detail::new("number_reason")
                .arg("number", &r.number)
                .arg("reason", &reason)
                .to_string(),
        )?;
        Ok(redemptions::table
            .find(id)
            .select(Redemption::as_select())
            .first(c)?)
    })
}

/// A clerk's end of day (日结) at a store. Every event counts on the day it
/// was made: a redemption on the day it was made, a void on the day it was
/// voided (whichever day the redemption was made). So a day, once over,
/// never changes, and a void of an older redemption shows today.
pub struct DaySummary {
    /// Redemptions made on the day and not voided by its end.
    pub count: i64,
    /// Points spent on the day, net: the day's redemptions less every
    /// void made on the day.
    pub points: i64,
    /// Voids made on the day (of the day's redemptions or older ones).
    pub voids: i64,
    /// The points those voids gave back.
    pub void_points: i64,
    /// Households whose redemptions on the day stood at its end.
    pub households: i64,
    /// (item, unit, quantity, points): out on the day's redemptions less
    /// back by the day's voids; items that net to nothing are left out.
    pub items: Vec<(String, String, i64, i64)>,
    /// The redemptions made on the day, in order.
    pub redemptions: Vec<Redemption>,
    /// The redemptions voided on the day, in the order voided.
    pub voided: Vec<Redemption>,
    /// The day's end (UTC): a redemption voided at or after it stood that day.
    pub until: NaiveDateTime,
    /// Head of household's name by household id, for every redemption listed.
    pub head_names: std::collections::HashMap<String, String>,
}

impl DaySummary {
    /// The head of household's name for a listed redemption.
    pub fn head_name(&self, r: &Redemption) -> &str {
        self.head_names
            .get(r.household_id.as_str())
            .map(String::as_str)
            .unwrap_or("")
    }

    /// Whether a redemption of the day had been voided by the day's end.
    pub fn void_that_day(&self, r: &Redemption) -> bool {
        r.voided_at.is_some_and(|v| v < self.until)
    }
}

/// The end of day of a store for a local `day` in `tz`.
pub fn day_summary(
    conn: &mut DbConn,
    store_id: &StoreId,
    day: NaiveDate,
    tz: chrono_tz::Tz,
) -> QueryResult<DaySummary> {
    use std::collections::{BTreeMap, HashSet};
    let from = crate::time::local_day_start_utc(day, tz);
    let to = crate::time::local_day_start_utc(day.succ_opt().unwrap_or(day), tz);
    let made: Vec<Redemption> = redemptions::table
        .filter(redemptions::store_id.eq(store_id))
        .filter(redemptions::created_at.ge(from))
        .filter(redemptions::created_at.lt(to))
        .order(redemptions::created_at.asc())
        .select(Redemption::as_select())
        .load(conn)?;
    let voided: Vec<Redemption> = redemptions::table
        .filter(redemptions::store_id.eq(store_id))
        .filter(redemptions::voided_at.ge(from))
        .filter(redemptions::voided_at.lt(to))
        .order(redemptions::voided_at.asc())
        .select(Redemption::as_select())
        .load(conn)?;
    let stood = |r: &&Redemption| r.voided_at.is_none_or(|v| v >= to);
    // The day's lines by the same filters, not by a list of ids: a busy day
    // would pass more ids than a statement may bind.
    let line = (
        redemption_lines::item_name,
        redemption_lines::unit,
        redemption_lines::quantity,
        redemption_lines::points,
    );
    let out: Vec<(String, String, i64, i64)> = redemption_lines::table
        .inner_join(redemptions::table)
        .filter(redemptions::store_id.eq(store_id))
        .filter(redemptions::created_at.ge(from))
        .filter(redemptions::created_at.lt(to))
        .select(line)
        .load(conn)?;
    let back: Vec<(String, String, i64, i64)> = redemption_lines::table
        .inner_join(redemptions::table)
        .filter(redemptions::store_id.eq(store_id))
        .filter(redemptions::voided_at.ge(from))
        .filter(redemptions::voided_at.lt(to))
        .select(line)
        .load(conn)?;
    let mut items: BTreeMap<(String, String), (i64, i64)> = Default::default();
    for ((name, unit, q, p), sign) in out
        .into_iter()
        .map(|l| (l, 1))
        .chain(back.into_iter().map(|l| (l, -1)))
    {
        let e = items.entry((name, unit)).or_default();
        e.0 += sign * q;
        e.1 += sign * p;
    }
    let households: HashSet<&str> = made
        .iter()
        .filter(stood)
        .map(|r| r.household_id.as_str())
        .collect();
    let void_points: i64 = voided.iter().map(|r| r.total_points).sum();
    // Names by the same filters (made on the day, or voided on it).
    let mut head_names = std::collections::HashMap::new();
    for (on_day, by_void) in [(true, false), (false, true)] {
        use crate::db::schema::households;
        let mut q = households::table
            .inner_join(redemptions::table.on(redemptions::household_id.eq(households::id)))
            .filter(redemptions::store_id.eq(store_id))
            .select((households::id, households::head_name))
            .distinct()
            .into_boxed();
        if on_day {
            q = q
                .filter(redemptions::created_at.ge(from))
                .filter(redemptions::created_at.lt(to));
        }
        if by_void {
            q = q
                .filter(redemptions::voided_at.ge(from))
                .filter(redemptions::voided_at.lt(to));
        }
        head_names.extend(q.load::<(String, String)>(conn)?);
    }
    Ok(DaySummary {
        count: made.iter().filter(stood).count() as i64,
        points: made.iter().map(|r| r.total_points).sum::<i64>() - void_points,
        voids: voided.len() as i64,
        void_points,
        households: households.len() as i64,
        items: items
            .into_iter()
            .filter(|(_, (q, p))| *q != 0 || *p != 0)
            .map(|((n, u), (q, p))| (n, u, q, p))
            .collect(),
        redemptions: made,
        voided,
        until: to,
        head_names,
    })
}

/// A household's redemptions, newest first.
pub fn for_household(
    conn: &mut DbConn,
    household_id: &crate::domain::HouseholdId,
) -> QueryResult<Vec<(Redemption, String)>> {
    use crate::db::schema::stores;
    redemptions::table
        .inner_join(stores::table)
        .filter(redemptions::household_id.eq(household_id))
        .order(redemptions::created_at.desc())
        .limit(200)
        .select((Redemption::as_select(), stores::name))
        .load(conn)
}

/// Whether every line's stock movement is a redemption of this one (for tests
/// and checks): the movement ids all exist.
pub fn movements_exist(conn: &mut DbConn, lines: &[Line]) -> QueryResult<bool> {
    let ids: Vec<&str> = lines.iter().map(|l| l.movement_id.as_str()).collect();
    let n: i64 = stock_movements::table
        .filter(stock_movements::id.eq_any(&ids))
        .count()
        .get_result(conn)?;
    Ok(n as usize == ids.len())
}
