//! The households' own window: a household opens its page with its card
//! number and the PIN printed on the card, and sees its own points, nothing
//! else; the village's notice, the honour roll, the stores' shelves and the
//! rulebook are public (see `public`).
//!
//! A household's session is short (10 minutes, never extended) and lives in
//! the database, so every app server knows it. Failed tries are counted in
//! the database, like failed logins, and the same counts guard the JSON
//! API's card look-up: per card at a client address, per address across
//! cards, and per card from everywhere (a high ceiling). A phone that has
//! opened the card's page before carries a device mark (a cookie signed with
//! the data key, bound to the card): its tries are counted for that phone
//! alone, so a stranger typing wrong PINs, even behind the same village
//! address, cannot lock the household out of its own phone.

pub mod deeds;
pub mod objections;
pub mod photo;
pub mod public;

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::audit::{self, AuditCtx};
use crate::auth::throttle;
use crate::auth::throttle::Limit;
use crate::config::Config;
use crate::crypto::DataKey;
use crate::db::schema::{
    areas, card_failures, household_sessions, households, points_cards, redemption_lines,
    redemptions, stores,
};
use crate::db::{self, DbConn};
use crate::domain::{CardNo, FieldError, HouseholdId};
use crate::households::{self as register, CardLookup};
use crate::ledger;
use crate::points::expiry;

/// How long a household's session lasts, in minutes, from the moment the PIN
/// was given (it is not extended by use).
pub const SESSION_MINUTES: i64 = 10;

/// Why a household could not be let in or could not act.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    /// Unknown or replaced card, or a wrong PIN: one answer for all, so that
    /// nobody learns which card numbers exist.
    #[error("card or PIN refused")]
    Refused,
    /// Too many failed tries for this card or from this address.
    #[error("too many failed tries")]
    Throttled,
    #[error("invalid field {}", .0.field)]
    Field(FieldError),
    /// Another transaction did the same first (the same form twice at
    /// once); retried, the second finds the first's result.
    #[error("raced")]
    Raced,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

impl From<crate::idempotency::Error> for WindowError {
    fn from(e: crate::idempotency::Error) -> Self {
        match e {
            crate::idempotency::Error::Reused(f) => WindowError::Field(f),
            crate::idempotency::Error::Raced => WindowError::Raced,
            crate::idempotency::Error::Db(d) => WindowError::Db(d),
        }
    }
}

impl From<FieldError> for WindowError {
    fn from(e: FieldError) -> Self {
        WindowError::Field(e)
    }
}

impl db::RetryableError for WindowError {
    fn is_retryable(&self) -> bool {
        match self {
            WindowError::Raced => true,
            WindowError::Db(e) => e.is_retryable(),
            _ => false,
        }
    }
}

/// Note one failed try against a card (as typed, at most 32 characters)
/// and an address, for housekeeping and a look back; the decision is the
/// throttle's (`auth::throttle`).
pub fn record_card_failure(c: &mut DbConn, card: &str, ip: &str) -> QueryResult<()> {
    let card: String = card.chars().take(32).collect();
    db::write_tx(c, |c| {
        diesel::insert_into(card_failures::table)
            .values((
                card_failures::id.eq(db::new_id()),
                card_failures::card_no.eq(&card),
                card_failures::ip.eq(ip),
                card_failures::at.eq(db::now()),
            ))
            .execute(c)
            .map(|_| ())
    })
}

/// A device mark: a value for the phone's long-lived cookie, given when the
/// card's page was opened with the right PIN. Bound to the card by a keyed
/// hash over the card and a random nonce; it proves only that this browser
/// knew the PIN once, and lets nobody in without the PIN.
pub fn device_mark(key: &DataKey, card: &CardNo) -> String {
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let sig = key.lookup("card-device", &format!("{}|{nonce}", card.as_str()));
    format!("{nonce}.{sig}")
}

/// The nonce of a device mark when it was made for this card by this key.
fn device_of(key: &DataKey, card: &str, mark: &str) -> Option<String> {
    let (nonce, sig) = mark.split_once('.')?;
    if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let expected = key.lookup("card-device", &format!("{card}|{nonce}"));
    bool::from(expected.as_bytes().ct_eq(sig.as_bytes())).then(|| nonce.to_string())
}

/// The one check of a card number and its PIN, for the household's page and
/// the JSON API alike. Returns the card and its household's id.
///
/// `device` is the phone's device mark (`device_mark`), if it sent one: a
/// mark made for this card puts the try on that phone's own counter only
/// (`throttle::device_limits`); without one the try counts for the card at
/// this address, for the address and for the card everywhere
/// (`throttle::card_limits`).
///
/// Errors: `Throttled` before anything is looked up when a counter is full;
/// `Refused` (and a failure counted) for an unknown or replaced card, a
/// card printed before cards had PINs, or a wrong PIN.
pub fn check_card(
    c: &mut DbConn,
    key: &DataKey,
    config: &Config,
    card_typed: &str,
    pin: &str,
    ip: &str,
    device: Option<&str>,
) -> Result<(CardNo, HouseholdId), WindowError> {
    let parsed = CardNo::parse("field.card_no", card_typed);
    // Failures are counted under the card's own form, however it was typed.
    let typed: String = match &parsed {
        Ok(card) => card.as_str().to_string(),
        Err(_) => card_typed
            .chars()
            .filter(|ch| !ch.is_whitespace())
            .collect(),
    };
    // Each try takes its slot on its counters before anything is looked
    // up; a right PIN gives them back.
    let limits: Vec<Limit> = match device.and_then(|m| device_of(key, &typed, m)) {
        Some(nonce) => throttle::device_limits(config, &nonce),
        None => throttle::card_limits(config, &typed, ip),
    };
    if !throttle::take(c, config, &limits, db::now())? {
        return Err(WindowError::Throttled);
    }
    let current = match parsed {
        Ok(card) => match register::lookup_card(c, &card)? {
            CardLookup::Current { household_id } => Some((card, household_id)),
            _ => None,
        },
        Err(_) => None,
    };
    let Some((card, household_id)) = current else {
        record_card_failure(c, &typed, ip)?;
        return Err(WindowError::Refused);
    };
    // A card without a PIN answers as a wrong PIN would, and counts: the
    // answer must not tell which card numbers exist.
    let Some(stored) = register::card_pin(c, key, card.as_str())? else {
        record_card_failure(c, card.as_str(), ip)?;
        return Err(WindowError::Refused);
    };
    let given = crate::domain::input::normalize(pin);
    if !bool::from(stored.as_bytes().ct_eq(given.as_bytes())) {
        record_card_failure(c, card.as_str(), ip)?;
        return Err(WindowError::Refused);
    }
    db::write_tx(c, |c| throttle::give_back(c, &limits))?;
    Ok((card, household_id))
}

/// A household's open session, as the request that carries it acts: the
/// household window's counterpart of `auth::Actor`. Every household
/// operation takes it and checks nothing else about who is acting; its
/// `audit()` is the audit row's who (the card) and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseholdSession {
    pub household_id: HouseholdId,
    pub card_no: String,
    /// The client's address.
    pub ip: String,
    /// The request's id.
    pub request_id: String,
}

impl HouseholdSession {
    /// The audit row's who and from where: no user, the card as the name.
    pub fn audit(&self) -> AuditCtx {
        card_ctx(&self.card_no, &self.ip, &self.request_id)
    }
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The audit row of something done with a card: no user, the card as the
/// name, the client's address and the request's id.
fn card_ctx(card_no: &str, ip: &str, request_id: &str) -> AuditCtx {
    AuditCtx {
        user_id: None,
        username: format!("card:{card_no}"),
        ip: ip.to_string(),
        request_id: request_id.to_string(),
    }
}

/// Check the card and PIN (with the phone's device mark, if any) and open a
/// session: returns its secret (64 hex characters, for a cookie) and a
/// fresh device mark for the phone. The login is audited.
///
/// Errors: as [`check_card`].
#[allow(clippy::too_many_arguments)]
pub fn log_in(
    c: &mut DbConn,
    key: &DataKey,
    config: &Config,
    card_typed: &str,
    pin: &str,
    ip: &str,
    request_id: &str,
    device: Option<&str>,
) -> Result<(String, String), WindowError> {
    let (card, household_id) = check_card(c, key, config, card_typed, pin, ip, device)?;
    let token = hex::encode(rand::random::<[u8; 32]>());
    let now = db::now();
    db::write_tx(c, |c| {
        // Old sessions of any household go with each login.
        diesel::delete(household_sessions::table.filter(household_sessions::expires_at.lt(now)))
            .execute(c)?;
        diesel::insert_into(household_sessions::table)
            .values((
                household_sessions::token_hash.eq(token_hash(&token)),
                household_sessions::household_id.eq(&household_id),
                household_sessions::card_no.eq(card.as_str()),
                household_sessions::ip.eq(ip),
                household_sessions::created_at.eq(now),
                household_sessions::expires_at.eq(now + Duration::minutes(SESSION_MINUTES)),
            ))
            .execute(c)?;
        audit::record(
            c,
            &card_ctx(card.as_str(), ip, request_id),
            "household.window_login",
            "household",
            &household_id,
            "",
        )?;
        Ok::<_, WindowError>(())
    })?;
    Ok((token, device_mark(key, &card)))
}

/// The live session of a secret, if it has not ended, acting from `ip` in
/// request `request_id`.
pub fn session(
    c: &mut DbConn,
    token: &str,
    ip: &str,
    request_id: &str,
) -> QueryResult<Option<HouseholdSession>> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    household_sessions::table
        .find(token_hash(token))
        .filter(household_sessions::expires_at.gt(db::now()))
        .select((
            household_sessions::household_id,
            household_sessions::card_no,
        ))
        .first::<(HouseholdId, String)>(c)
        .optional()
        .map(|o| {
            o.map(|(household_id, card_no)| HouseholdSession {
                household_id,
                card_no,
                ip: ip.to_string(),
                request_id: request_id.to_string(),
            })
        })
}

/// End every open session of a household (its card was reissued or its
/// PIN reset: whoever holds the old card or PIN is out at once).
pub fn end_sessions(c: &mut DbConn, household_id: &HouseholdId) -> QueryResult<()> {
    diesel::delete(
        household_sessions::table.filter(household_sessions::household_id.eq(household_id)),
    )
    .execute(c)
    .map(|_| ())
}

/// End a session (logging out).
pub fn log_out(c: &mut DbConn, token: &str) -> QueryResult<()> {
    diesel::delete(household_sessions::table.find(token_hash(token)))
        .execute(c)
        .map(|_| ())
}

/// A new PIN: exactly 6 digits (full-width digits accepted), not all the
/// same digit and not a run such as 123456.
///
/// Errors: `error.pin_format` naming `field`.
pub fn parse_pin(field: &'static str, s: &str) -> Result<String, FieldError> {
    let s = crate::domain::input::normalize(s);
    let b = s.as_bytes();
    let ok = b.len() == 6 && b.iter().all(u8::is_ascii_digit);
    let all_same = ok && b.iter().all(|d| *d == b[0]);
    let run =
        ok && (b.windows(2).all(|w| w[1] == w[0] + 1) || b.windows(2).all(|w| w[0] == w[1] + 1));
    if !ok || all_same || run {
        return Err(FieldError::new(field, "error.pin_format"));
    }
    Ok(s)
}

/// The household changes its own PIN, giving the current one again (its
/// phone's device mark counts the try as at login). Every other session of
/// the card ends; the change is audited.
///
/// Errors: `Field` for a malformed new PIN (`field.new_pin`) or two that
/// differ (`field.new_pin_again`), checked first; `Refused` (counted as a
/// failure) for a wrong current PIN; `Throttled`.
#[allow(clippy::too_many_arguments)]
pub fn change_pin(
    c: &mut DbConn,
    key: &DataKey,
    config: &Config,
    s: &HouseholdSession,
    token: &str,
    current: &str,
    new: &str,
    again: &str,
    device: Option<&str>,
) -> Result<(), WindowError> {
    let new_pin = parse_pin("field.new_pin", new)?;
    if crate::domain::input::normalize(again) != new_pin {
        return Err(FieldError::new("field.new_pin_again", "error.pin_mismatch").into());
    }
    check_card(c, key, config, &s.card_no, current, &s.ip, device)?;
    db::write_tx(c, |c| {
        diesel::update(points_cards::table.find(&s.card_no))
            .set(points_cards::pin_cipher.eq(key.encrypt(&new_pin)))
            .execute(c)?;
        diesel::delete(
            household_sessions::table
                .filter(household_sessions::card_no.eq(&s.card_no))
                .filter(household_sessions::token_hash.ne(token_hash(token))),
        )
        .execute(c)?;
        audit::record(
            c,
            &s.audit(),
            "household.pin_change",
            "household",
            &s.household_id,
            "",
        )?;
        Ok(())
    })
}

/// The household asks to be left off the honour roll, or to be on it
/// again. Audited.
pub fn set_honour_opt_out(
    c: &mut DbConn,
    s: &HouseholdSession,
    opt_out: bool,
) -> Result<(), WindowError> {
    db::write_tx(c, |c| {
        diesel::update(households::table.find(&s.household_id))
            .set(households::honour_opt_out.eq(opt_out))
            .execute(c)?;
        audit::record(
            c,
            &s.audit(),
            if opt_out {
                "household.honour_opt_out"
            } else {
                "household.honour_opt_in"
            },
            "household",
            &s.household_id,
            "",
        )?;
        Ok(())
    })
}

/// One line of the household's own history, in plain words.
#[derive(Debug, Clone)]
pub struct HistoryLine {
    pub posted_on: NaiveDate,
    /// The ledger kind (award, deduction, redemption, ...).
    pub kind: String,
    /// What it was: the rule's name, the goods redeemed and the store, or
    /// the date points expired from.
    pub what: String,
    /// Signed points: positive adds.
    pub points: i64,
    pub balance: i64,
}

impl HistoryLine {
    pub fn kind_key(&self) -> &'static str {
        ledger::Kind::label_key(&self.kind)
    }
}

/// What a household sees of itself.
#[derive(Debug, Clone)]
pub struct Overview {
    pub card_no: String,
    /// The head of household's name, masked as on the notice (张*三).
    pub name: String,
    pub village_id: String,
    pub village: String,
    pub balance: i64,
    /// Newest first.
    pub history: Vec<HistoryLine>,
    /// The next points to expire, when points expire at all.
    pub upcoming: Option<expiry::Upcoming>,
    /// Stores serving the household's village (their area holds it).
    pub stores: Vec<public::StoreShelf>,
    pub honour_opt_out: bool,
}

/// Entries shown on the household's page (the newest).
pub const HISTORY_LINES: i64 = 50;

/// The household's own page: balance, history, expiry, its stores.
pub fn overview(
    c: &mut DbConn,
    s: &HouseholdSession,
    today: NaiveDate,
    lang: crate::i18n::Lang,
    expired_from: &dyn Fn(&str) -> String,
) -> QueryResult<Overview> {
    // The goods of a redemption read "store: goods, goods" in the reader's
    // punctuation.
    let (colon, list) = (
        crate::i18n::t(lang, "p.colon"),
        crate::i18n::t(lang, "p.list"),
    );
    let (head_name, village_id, village, village_path, opt_out): (
        String,
        String,
        String,
        String,
        bool,
    ) = households::table
        .inner_join(areas::table)
        .filter(households::id.eq(&s.household_id))
        .select((
            households::head_name,
            areas::id,
            areas::name,
            areas::path,
            households::honour_opt_out,
        ))
        .first(c)?;
    let account = ledger::household_account(&s.household_id);
    let balance = ledger::balance(c, &account)?;
    let (_, mut entries) = ledger::statement(c, &s.household_id, None, None)?;
    // Balances run from the oldest; only the newest lines are shown.
    let mut running = 0;
    let mut lines: Vec<(ledger::StatementEntry, i64, i64)> = entries
        .drain(..)
        .map(|e| {
            let points = ledger::signed_for(&e, &account);
            running += points;
            (e, points, running)
        })
        .collect();
    lines.reverse();
    lines.truncate(HISTORY_LINES as usize);
    let redemption_ids: Vec<&str> = lines
        .iter()
        .filter(|(e, _, _)| e.ref_kind == "redemption")
        .map(|(e, _, _)| e.ref_id.as_str())
        .collect();
    let mut goods: std::collections::HashMap<String, String> = Default::default();
    for (rid, store, item, qty, unit) in redemptions::table
        .inner_join(stores::table)
        .inner_join(redemption_lines::table)
        .filter(redemptions::id.eq_any(&redemption_ids))
        .filter(redemptions::household_id.eq(&s.household_id))
        .order((redemptions::id, redemption_lines::line_no))
        .select((
            redemptions::id,
            stores::name,
            redemption_lines::item_name,
            redemption_lines::quantity,
            redemption_lines::unit,
        ))
        .load::<(String, String, String, i64, String)>(c)?
    {
        let text = goods
            .entry(rid)
            .or_insert_with(|| format!("{store}{colon}"));
        if !text.ends_with(colon) {
            text.push_str(list);
        }
        text.push_str(&format!("{item} {qty}{unit}"));
    }
    let history = lines
        .into_iter()
        .map(|(e, points, balance)| HistoryLine {
            posted_on: e.posted_on,
            what: if e.kind() == Ok(ledger::Kind::Expiry) {
                expired_from(&e.memo)
            } else if e.ref_kind == "redemption" {
                goods.get(&e.ref_id).cloned().unwrap_or_default()
            } else {
                e.rule_name.clone().unwrap_or_else(|| e.memo.clone())
            },
            kind: e.kind,
            points,
            balance,
        })
        .collect();
    let upcoming = match expiry::Rule::of_scheme(c)? {
        Some(rule) => expiry::upcoming(c, rule, &s.household_id, today)?,
        None => None,
    };
    let stores = public::stores_serving(c, &village_path)?;
    Ok(Overview {
        card_no: s.card_no.clone(),
        name: public::mask_name(&head_name),
        village_id,
        village,
        balance,
        history,
        upcoming,
        stores,
        honour_opt_out: opt_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_mark_holds_only_for_its_card_and_key() {
        let key = DataKey::from_master(&[7u8; 32]);
        let card = CardNo::generate();
        let other = CardNo::generate();
        let mark = device_mark(&key, &card);
        let nonce = device_of(&key, card.as_str(), &mark).expect("its own card");
        assert_eq!(nonce.len(), 32);
        assert_eq!(device_of(&key, other.as_str(), &mark), None, "another card");
        let other_key = DataKey::from_master(&[8u8; 32]);
        assert_eq!(
            device_of(&other_key, card.as_str(), &mark),
            None,
            "another key"
        );
        let forged = format!("{}.{}", "ab".repeat(16), "00".repeat(32));
        assert_eq!(device_of(&key, card.as_str(), &forged), None);
        for junk in ["", ".", "x.y", &mark[..mark.len() - 1]] {
            assert_eq!(device_of(&key, card.as_str(), junk), None, "{junk}");
        }
    }

    #[test]
    fn pins_are_six_digits_and_not_obvious() {
        assert_eq!(parse_pin("f", "２４６８１３").unwrap(), "246813");
        for bad in [
            "12345", "1234567", "abcdef", "111111", "123456", "654321", "",
        ] {
            assert!(parse_pin("f", bad).is_err(), "{bad}");
        }
    }
}
