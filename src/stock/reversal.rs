//! A movement's owner (the redemption, donation, stocktake or form that
//! made it) and its reversal by a new, reversing movement.

use super::*;

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
                &audit::Detail::new("stock_reverse")
                    .arg("seq", orig.seq)
                    .arg("qty", orig.quantity)
                    .arg("reason", &reason)
                    .to_string(),
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
