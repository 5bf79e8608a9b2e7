//! The stock forms: moving goods to another store, writing them off,
//! buying them in, and a counted adjustment.

use super::*;

/// The item a form names. Errors: `field.item` / `error.item_unknown`.
pub(super) fn item_for(c: &mut DbConn, item_id: &ItemId) -> Result<Item, StockError> {
    Ok(goods::find(c, item_id)?.ok_or(FieldError::new("field.item", "error.item_unknown"))?)
}

pub(super) fn store_name(
    c: &mut DbConn,
    store_id: &StoreId,
) -> QueryResult<Option<(String, bool)>> {
    use crate::db::schema::stores;
    stores::table
        .find(store_id)
        .select((stores::name, stores::active))
        .first(c)
        .optional()
}

/// Move goods from one store's shelf to another's: one row, one transaction.
/// Errors: `Forbidden` unless the actor may move stock from `from_store`
/// (checked first); `NotFound` for an unknown store; `field.to_store` for
/// the same store or an unknown or closed one; `field.item` for an unknown
/// item.
// The form's ids as parsed and its quantity as typed, plus the day the
// posting is dated.
#[allow(clippy::too_many_arguments)]
pub fn move_to_store(
    conn: &mut DbConn,
    actor: &Actor,
    key: &IdemKey,
    from_store: &StoreId,
    to_store: &StoreId,
    item_id: &ItemId,
    quantity: &str,
    today: NaiveDate,
) -> Result<Outcome, StockError> {
    actor.require(Action::MoveStock)?;
    if to_store == from_store {
        return Err(FieldError::new("field.to_store", "error.same_store").into());
    }
    let qty = Quantity::parse("field.quantity", quantity)?;
    let form = FormKey {
        key,
        scope: "stock.move",
        fingerprint: idempotency::fingerprint(&[
            from_store.as_str(),
            to_store.as_str(),
            item_id.as_str(),
            &qty.to_string(),
        ]),
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
                    from: Account::Shelf(from_store.clone()),
                    to: Account::Shelf(to_store.clone()),
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
                &audit::Detail::new("stock_move")
                    .arg("item", &item.name)
                    .arg("qty", qty)
                    .arg("to", &to_name)
                    .to_string(),
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
    store_id: &'a StoreId,
    item_id: &'a ItemId,
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
        fingerprint: idempotency::fingerprint(&[
            store_id.as_str(),
            item_id.as_str(),
            &qty.to_string(),
            &text,
        ]),
    };
    let shelf = Account::Shelf(store_id.clone());
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
                &audit::Detail::new("stock_in_out")
                    .arg("item", &item.name)
                    .arg("qty", qty)
                    .arg("note", &text)
                    .to_string(),
            )?;
            Ok(m.id)
        })
    })
}

/// Write off damaged or expired goods; the reason is required.
/// Errors: `Forbidden` unless the actor may move stock at the store.
// The form's ids as parsed and its other fields as typed, plus the day
// the posting is dated.
#[allow(clippy::too_many_arguments)]
pub fn write_off(
    conn: &mut DbConn,
    actor: &Actor,
    key: &IdemKey,
    store_id: &StoreId,
    item_id: &ItemId,
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
// The form's ids as parsed and its other fields as typed, plus the day
// the posting is dated.
#[allow(clippy::too_many_arguments)]
pub fn buy_in(
    conn: &mut DbConn,
    actor: &Actor,
    key: &IdemKey,
    store_id: &StoreId,
    item_id: &ItemId,
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
    store_id: &StoreId,
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
            &audit::Detail::new("stock_adjust")
                .arg("item", &item.name)
                .arg("delta", format!("{delta:+}"))
                .arg("reason", reason)
                .to_string(),
        )?;
        Ok(Some(m))
    })
}

pub(crate) fn adjustment<'a>(
    store_id: &StoreId,
    item: &'a Item,
    delta: i64,
    qty: Quantity,
    stocktake_id: Option<&'a str>,
    reason: &'a str,
    on: NaiveDate,
) -> Transfer<'a> {
    let shelf = Account::Shelf(store_id.clone());
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
