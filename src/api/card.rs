//! A household reads its own balance with its card number and the PIN
//! printed on the card: no token, nothing else about the household.
//! Failed tries are counted like failed logins, by the same mechanism
//! (`auth::throttle`): per card at an address, per address, and per card
//! from everywhere (a high ceiling), each taken before the PIN is checked in
//! one transaction, so parallel guesses cannot pass the limit.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::{json_body, run};
use crate::auth::throttle;
use crate::db::schema::card_failures;
use crate::db::{self, DbConn};
use crate::domain::CardNo;
use crate::households::{self, CardLookup};
use crate::web::AppState;
use crate::web::extract::request_info;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CardRequest {
    pub card_no: String,
    /// The 6-digit PIN printed on the card.
    pub pin: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CardEntry {
    pub posted_on: NaiveDate,
    /// award, redemption, redemption_void, adjustment, expiry, ...
    pub kind: String,
    /// Signed: positive adds points.
    pub amount: i64,
    pub balance_after: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CardBalance {
    pub card_no: String,
    pub balance: i64,
    /// The last entries, newest last (at most 20).
    pub entries: Vec<CardEntry>,
}

/// Entries shown to a card holder.
const LAST_ENTRIES: usize = 20;

/// A row per failed try (for housekeeping and a look back); the decision is
/// the throttle's.
fn record_failure(c: &mut DbConn, card: &str, ip: &str) -> QueryResult<()> {
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

/// Old failures (housekeeping).
pub fn purge_older_than(c: &mut DbConn, cut: chrono::NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(card_failures::table.filter(card_failures::at.lt(cut))).execute(c)
}

fn refused() -> ApiError {
    ApiError::plain(401, "card_refused", "api.card_refused")
}

/// A household's balance and last entries, by card number and PIN.
#[utoipa::path(post, path = "/api/v1/card", tag = "card",
    request_body = CardRequest,
    security(()),
    responses(
        (status = 200, description = "The balance", body = CardBalance),
        (status = 400, description = "Malformed", body = ErrorBody),
        (status = 401, description = "Unknown card or wrong PIN", body = ErrorBody),
        (status = 422, description = "The card has no PIN yet: ask for the card to be reissued", body = ErrorBody),
        (status = 429, description = "Too many failed tries for this card or from this address", body = ErrorBody),
    ))]
pub async fn balance(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let f: CardRequest = json_body(&body)?;
    let ip = request_info(&req).ip;
    let config = state.config.clone();
    let key = state.key.clone();
    let out = run(&state, move |c| {
        let parsed = CardNo::parse("field.card_no", &f.card_no);
        // Failures are counted under the card's own form, however it was typed.
        let typed: String = match &parsed {
            Ok(card) => card.as_str().to_string(),
            Err(_) => f.card_no.chars().filter(|ch| !ch.is_whitespace()).collect(),
        };
        let limits = throttle::card_limits(&config, &typed, &ip);
        if !throttle::take(c, &config, &limits, db::now())? {
            return Err(ApiError::plain(
                429,
                "too_many_attempts",
                "api.too_many_attempts",
            ));
        }
        let current = match parsed {
            Ok(card) => match households::lookup_card(c, &card)? {
                CardLookup::Current { household_id } => Some((card, household_id)),
                _ => None,
            },
            Err(_) => None,
        };
        // A wrong card or PIN keeps its slots taken: they are the failures.
        let Some((card, household_id)) = current else {
            record_failure(c, &typed, &ip)?;
            return Err(refused());
        };
        let Some(pin) = households::card_pin(c, &key, card.as_str())? else {
            db::write_tx(c, |c| throttle::give_back(c, &limits))?;
            return Err(ApiError::plain(422, "no_pin", "api.card_no_pin"));
        };
        if !bool::from(pin.as_bytes().ct_eq(f.pin.trim().as_bytes())) {
            record_failure(c, card.as_str(), &ip)?;
            return Err(refused());
        }
        db::write_tx(c, |c| throttle::give_back(c, &limits))?;
        let ledger = super::households::ledger_of(c, &household_id, Some(LAST_ENTRIES))?;
        Ok(CardBalance {
            card_no: card.as_str().to_string(),
            balance: ledger.balance,
            entries: ledger
                .entries
                .into_iter()
                .map(|e| CardEntry {
                    posted_on: e.posted_on,
                    kind: e.kind,
                    amount: e.amount,
                    balance_after: e.balance_after,
                })
                .collect(),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}
