//! Posting a transfer on the stock chain: the chain head held, the cached
//! stock raised or lowered in the same transaction, and the exactly-once
//! wrapper the stock forms share.

use super::*;

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
            return Err(FieldError::conflict(
                "field.movement",
                "error.already_reversed",
                crate::domain::Conflict::Changed,
            )
            .into());
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
    let (from, to) = (m.from_store_id.as_ref(), m.to_store_id.as_ref());
    crate::ledger::goods_totals::record(c, m.at, &m.kind, &m.item_id, m.quantity, from, to)?;
    diesel::update(stock_chain_head::table.find(1))
        .set(stock_chain_head::hash.eq(&m.hash))
        .execute(c)?;
    Ok(m)
}

/// Units of an item on a store's shelf now.
pub fn on_hand(c: &mut DbConn, store_id: &StoreId, item_id: &ItemId) -> QueryResult<i64> {
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
