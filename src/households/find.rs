//! Finding a household at the counter without its card: by the head's name,
//! by ID number (typed, or typed by an ID card reader), or by an old card.

use diesel::prelude::*;

use super::{
    CardLookup, Household, HouseholdError, HouseholdRow, RowTuple, household_rows, lookup_card,
    row_columns, to_row,
};
use crate::audit;
use crate::auth::{Action, Actor};
use crate::crypto::DataKey;
use crate::db::schema::{areas as areas_t, households, points_cards, users};
use crate::db::{self, DbConn};
use crate::domain::input::normalize;
use crate::domain::{CardNo, FieldError, IdNumber};

/// At most this many households are listed for one name.
pub const MAX_FOUND: i64 = 20;

/// How a household was found without its current card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundBy {
    /// A part of the head's name.
    Name,
    /// The full ID number (never stored or logged as typed).
    IdNumber,
    /// A card that was replaced: the household is found, the new card's
    /// number is not told.
    OldCard,
}

impl FoundBy {
    pub fn as_str(self) -> &'static str {
        match self {
            FoundBy::Name => "name",
            FoundBy::IdNumber => "id_number",
            FoundBy::OldCard => "old_card",
        }
    }
}

/// What the counter's box holds when it is not a card in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Name(String),
    IdNumber(IdNumber),
    /// A card number: in use, replaced or unknown.
    Card(CardNo),
}

impl Query {
    /// A card number if it reads as one, else an ID number if it is a
    /// valid one, else a name; `None` for nothing typed. Control
    /// characters are refused (`error.control_chars` on `field.card_no`). Digits that are
    /// neither are refused as the mistyped card (or, looking like one, ID number)
    /// they most likely are, naming what is wrong with it.
    pub fn parse(text: &str) -> Result<Option<Query>, FieldError> {
        // Text no one types (a NUL, which PostgreSQL refuses in text) is
        // refused naming the box, never looked for.
        if crate::domain::has_control_chars(text) {
            return Err(FieldError::new("field.card_no", "error.control_chars"));
        }
        let text = normalize(text);
        if text.is_empty() {
            return Ok(None);
        }
        let card = CardNo::parse("field.card_no", &text);
        if let Ok(c) = card {
            return Ok(Some(Query::Card(c)));
        }
        let id = IdNumber::parse("field.id_number", &text);
        if let Ok(id) = id {
            return Ok(Some(Query::IdNumber(id)));
        }
        if text.chars().any(|c| c.is_ascii_digit()) {
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            return Err(match (compact.chars().count(), id, card) {
                (18, Err(e), _) => e,
                // A digit missing or one too many: the ID number it nearly is.
                (_, Err(e), _) if crate::domain::people::looks_like_id_number(&text) => e,
                (_, _, Err(e)) => e,
                (_, Err(e), _) => e,
                _ => FieldError::new("field.card_no", "error.card_unknown").arg("card", &text),
            });
        }
        Ok(Some(Query::Name(text.chars().take(40).collect())))
    }
}

/// Households the counter of store `store_id` may serve that match
/// `query`: by name, those under the store's area; by ID number or old
/// card, as far as a card reaches (any household, or those under the
/// store's area where `settings::REDEEM_IN_STORE_AREA_ONLY` is set), not archived,
/// ordered by name, at most [`MAX_FOUND`], and how they were found. The actor must be allowed to
/// redeem at that store (`Action::Redeem`: a clerk at their own store).
/// A card in use is not a look-up without the card and finds nothing
/// here. Each look-up writes one audit row, `household.find`, filed under
/// the actor, naming how and how many were found (never the ID number
/// typed).
/// Errors: `Forbidden` for a role that may not redeem or a store outside
/// the actor's scope, `NotFound` for an unknown store, database errors.
pub fn find_at_counter(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    store_id: &crate::domain::StoreId,
    query: &Query,
) -> Result<(FoundBy, Vec<HouseholdRow>), HouseholdError> {
    actor.require(Action::Redeem)?;
    db::write_tx(conn, |c| {
        let store = crate::stores::find(c, store_id)?.ok_or(HouseholdError::NotFound)?;
        actor.require_store(Action::Redeem, &store)?;
        let prefix = db::path_prefix(&store.area_path);
        // A name is looked for among the store's villages only; an ID
        // number or an old card reaches as far as a card does
        // (`redemptions::household_at_store`): any household, unless the
        // scheme serves households only at their own area's stores.
        let in_store_area = household_rows!()
            .filter(households::archived.eq(false))
            .filter(areas_t::path.like(prefix.clone()))
            .into_boxed();
        let mut base = household_rows!()
            .filter(households::archived.eq(false))
            .into_boxed();
        if crate::settings::get_bool(c, crate::settings::REDEEM_IN_STORE_AREA_ONLY)? {
            base = base.filter(areas_t::path.like(prefix));
        }
        let (by, query) = match query {
            Query::Name(name) => {
                let base = in_store_area;
                match crate::domain::pinyin::query(name) {
                    // Letters: the name by its pinyin too (zhangsan, zs).
                    Some(py) => (
                        FoundBy::Name,
                        base.filter(
                            db::contains(households::head_name, name)
                                .or(db::key_prefix(households::head_pinyin, &py))
                                .or(db::key_prefix(households::head_initials, &py)),
                        ),
                    ),
                    None => (
                        FoundBy::Name,
                        base.filter(db::contains(households::head_name, name)),
                    ),
                }
            }
            Query::IdNumber(id) => (
                FoundBy::IdNumber,
                base.filter(households::id_lookup.eq(key.lookup("id", id.expose()))),
            ),
            Query::Card(card) => match lookup_card(c, card)? {
                CardLookup::Replaced { .. } => {
                    let owner: String = points_cards::table
                        .find(card.as_str())
                        .select(points_cards::household_id)
                        .first(c)?;
                    (FoundBy::OldCard, base.filter(households::id.eq(owner)))
                }
                CardLookup::Current { .. } | CardLookup::Unknown => {
                    return Ok((FoundBy::OldCard, Vec::new()));
                }
            },
        };
        let rows = query
            .order((households::head_name.asc(), households::id.asc()))
            .limit(MAX_FOUND)
            .select(row_columns!())
            .load::<RowTuple>(c)?;
        let rows: Vec<HouseholdRow> = rows.into_iter().map(to_row).collect();
        let target = match rows.as_slice() {
            [one] => one.household.id.as_str(),
            _ => "",
        };
        audit::record(
            c,
            actor,
            "household.find",
            "household",
            target,
            &audit::Detail::new("household_find")
                .word("by", &format!("audit_detail.by_{}", by.as_str()))
                .arg("found", rows.len())
                .to_string(),
        )?;
        Ok((by, rows))
    })
}

/// The household with this ID number among those the actor may see (by the
/// number's keyed hash: the number itself is never stored or compared),
/// archived ones too. The look-up is audited, as the counter's are, with
/// how many it found and never the number.
///
/// Errors: `Forbidden` for a role that may not see households; the
/// database's.
pub fn by_id_number(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    id: &IdNumber,
) -> Result<Option<crate::domain::HouseholdId>, HouseholdError> {
    actor.require(Action::ViewHouseholds)?;
    let Some(prefix) = actor.scope.area_filter() else {
        return Ok(None);
    };
    db::write_tx(conn, |c| {
        let mut query = households::table
            .inner_join(areas_t::table)
            .filter(households::id_lookup.eq(key.lookup("id", id.expose())))
            .select(households::id)
            .into_boxed();
        if let Some(p) = &prefix {
            query = query.filter(areas_t::path.like(p.clone()));
        }
        let found: Option<String> = query.first(c).optional()?;
        audit::record(
            c,
            actor,
            "household.find",
            "household",
            found.as_deref().unwrap_or(""),
            &audit::Detail::new("household_find")
                .word("by", "audit_detail.by_id_number")
                .arg("found", usize::from(found.is_some()))
                .to_string(),
        )?;
        Ok(found.map(crate::domain::HouseholdId::from_stored))
    })
}
