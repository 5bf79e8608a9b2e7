//! A household's points card and its secrets: revealing the ID number or
//! phone, looking a card up, reissuing it, its PIN, and sheets of cards.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    IdNumber,
    Phone,
}

/// The full ID number or phone, for someone allowed to see it; every reveal
/// is audited.
pub fn reveal(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    id: &HouseholdId,
    what: Secret,
) -> Result<String, HouseholdError> {
    actor.require(Action::RevealPersonalData)?;
    let ctx = &actor.audit();
    db::write_tx(conn, |c| {
        let row = find(c, actor, id)?;
        let (cipher, name) = match what {
            Secret::IdNumber => (&row.household.id_cipher, "id_number"),
            Secret::Phone => (&row.household.phone_cipher, "phone"),
        };
        let plain = if cipher.is_empty() {
            String::new()
        } else {
            key.decrypt(cipher).ok_or_else(|| {
                HouseholdError::Db(diesel::result::Error::DeserializationError(
                    "cannot decrypt with this data key".into(),
                ))
            })?
        };
        // What was shown, in words (身份证号, 电话), never the field's name.
        // Whose, by name (the row links to the household).
        let what = audit::Detail::new("reveal_of")
            .arg("name", &row.household.head_name)
            .word("what", &format!("field.{name}"))
            .to_string();
        audit::record(c, ctx, "household.reveal", "household", id.as_str(), &what)?;
        Ok(plain)
    })
}

/// A card number as typed at a counter or in a search. A replaced card
/// names the household it belonged to, never the card that replaced it:
/// whoever holds an old card does not learn the new number, and a caller
/// tells a household outside the reader's scope as an unknown card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardLookup {
    Current { household_id: HouseholdId },
    Replaced { household_id: HouseholdId },
    Unknown,
}

pub fn lookup_card(conn: &mut DbConn, card: &CardNo) -> QueryResult<CardLookup> {
    let found: Option<(HouseholdId, Option<String>)> = points_cards::table
        .find(card.as_str())
        .select((points_cards::household_id, points_cards::replaced_by))
        .first(conn)
        .optional()?;
    Ok(match found {
        None => CardLookup::Unknown,
        Some((household_id, None)) => CardLookup::Current { household_id },
        Some((household_id, Some(_))) => CardLookup::Replaced { household_id },
    })
}

/// A card number as `actor` may read it: a card of a household outside
/// their scope (or of none) is `Unknown`, with no hint that it was
/// replaced. Errors: database errors only.
pub fn lookup_card_for(
    conn: &mut DbConn,
    actor: &Actor,
    card: &CardNo,
) -> Result<CardLookup, HouseholdError> {
    let found = lookup_card(conn, card)?;
    let household_id = match &found {
        CardLookup::Current { household_id } | CardLookup::Replaced { household_id } => {
            household_id.clone()
        }
        CardLookup::Unknown => return Ok(found),
    };
    match find(conn, actor, &household_id) {
        Ok(_) => Ok(found),
        Err(HouseholdError::Forbidden) | Err(HouseholdError::NotFound) => Ok(CardLookup::Unknown),
        Err(e) => Err(e),
    }
}

/// Replace a lost card: the old number stops working and says it was replaced
/// (never by which card).
/// `seen` is the card the person saw on the page (when the form carried
/// it): if that card is no longer current, someone replaced it meanwhile
/// and the request is refused as a conflict (`error.card_already_reissued`), so two
/// people pressing "reissue" issue one new card, not two.
pub fn reissue_card(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    id: &HouseholdId,
    seen: Option<&str>,
) -> Result<CardNo, HouseholdError> {
    actor.require(Action::EditHouseholds)?;
    let ctx = &actor.audit();
    db::write_tx(conn, |c| {
        let row = find(c, actor, id)?;
        if row.household.archived {
            return Err(FieldError::new("field.household", "error.household_archived").into());
        }
        if seen.is_some_and(|s| Some(s) != row.card_no.as_deref()) {
            return Err(FieldError::conflict(
                "field.card_no",
                "error.card_already_reissued",
                crate::domain::Conflict::Changed,
            )
            .into());
        }
        let now = db::now();
        // The new card must exist before the old one can point at it, and only
        // one card may be current: retire the old one first, then issue.
        let old = row.card_no.clone();
        if let Some(old) = &old {
            // Guarded on the card still being current: of two people
            // reissuing at once, one issues the new card, the other is told.
            let n = diesel::update(
                points_cards::table
                    .find(old)
                    .filter(points_cards::replaced_by.is_null()),
            )
            .set((
                points_cards::replaced_by.eq(""),
                points_cards::replaced_at.eq(now),
            ))
            .execute(c)?;
            if n == 0 {
                return Err(FieldError::conflict(
                    "field.card_no",
                    "error.card_already_reissued",
                    crate::domain::Conflict::Changed,
                )
                .into());
            }
        }
        let card = new_card(c, key, id, &ctx.username, now)?;
        if let Some(old) = &old {
            diesel::update(points_cards::table.find(old))
                .set(points_cards::replaced_by.eq(card.as_str()))
                .execute(c)?;
        }
        // A lost card's page closes with it.
        crate::window::end_sessions(c, id)?;
        audit::record(
            c,
            ctx,
            "household.card_reissue",
            "household",
            id.as_str(),
            &audit::Detail::new("card_reissue")
                .arg("from", old.unwrap_or_default())
                .arg("to", card.as_str())
                .to_string(),
        )?;
        Ok(card)
    })
}

/// Six random digits.
pub fn new_pin() -> String {
    use rand::Rng;
    format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32))
}

/// The PIN printed on a card, if it has one (cards issued before PINs
/// existed get one when they are reissued).
pub fn card_pin(conn: &mut DbConn, key: &DataKey, card_no: &str) -> QueryResult<Option<String>> {
    let cipher: Option<Option<String>> = points_cards::table
        .find(card_no)
        .select(points_cards::pin_cipher)
        .first(conn)
        .optional()?;
    Ok(cipher.flatten().and_then(|c| key.decrypt(&c)))
}

/// Households with their current cards, for printing a sheet of cards.
pub fn cards_for(
    conn: &mut DbConn,
    actor: &Actor,
    filter: &ListFilter,
    page: i64,
) -> Result<(Vec<HouseholdRow>, i64), HouseholdError> {
    actor.require(Action::ViewHouseholds)?;
    list(conn, actor, filter, page, CARD_SHEET)
}

/// Cards on one printed sheet page (the rest on the next pages).
pub const CARD_SHEET: i64 = 1000;

/// Give a household's current card a new 6-digit PIN (the old one stops
/// working at once), audited as `card.pin_reset`. The household must be in
/// `scope`; a household without a current card is `Invalid` on
/// `field.card_no`, and a card replaced meanwhile by someone else is a
/// conflict (`error.card_replaced_pin_not_reset`). The new PIN is read back with `card_pin` when the card
/// is printed.
pub fn reset_card_pin(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    id: &HouseholdId,
) -> Result<(), HouseholdError> {
    actor.require(Action::EditHouseholds)?;
    let ctx = &actor.audit();
    db::write_tx(conn, |c| {
        let row = find(c, actor, id)?;
        let Some(card) = row.card_no.clone() else {
            return Err(FieldError::new("field.card_no", "error.required").into());
        };
        let n = diesel::update(
            points_cards::table
                .find(&card)
                .filter(points_cards::replaced_by.is_null()),
        )
        .set(points_cards::pin_cipher.eq(key.encrypt(&new_pin())))
        .execute(c)?;
        if n == 0 {
            // Replaced by someone else between the read and this update:
            // the PIN of a card that no longer works is not reset.
            return Err(FieldError::conflict(
                "field.card_no",
                "error.card_replaced_pin_not_reset",
                crate::domain::Conflict::Changed,
            )
            .into());
        }
        crate::window::end_sessions(c, id)?;
        audit::record(c, ctx, "card.pin_reset", "household", id.as_str(), &card)?;
        Ok(())
    })
}
