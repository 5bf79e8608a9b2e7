//! A household reads its own balance with its card number and the PIN
//! printed on the card: no token, nothing else about the household.
//! Failed tries are counted per card and per address in the database (every
//! app server sees the same counts), like failed logins.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::{json_body, run};
use crate::db::DbConn;
use crate::db::schema::card_failures;
use crate::request::request_info;
use crate::state::AppState;
use crate::window::WindowError;

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
        (status = 401, description = "Unknown card, wrong PIN, or a card printed before cards had PINs (reissue it): one answer for all", body = ErrorBody),
        (status = 422, description = "A field of the wrong type (the card number and PIN are strings)", body = ErrorBody),
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
        let (card, household_id) = crate::window::check_card(
            c, &key, &config, &f.card_no, &f.pin, &ip, None,
        )
        .map_err(|e| match e {
            WindowError::Throttled => {
                ApiError::plain(429, "too_many_attempts", "api.too_many_attempts")
            }
            WindowError::Refused => refused(),
            // A conflict made in the window answers 409, as everywhere.
            WindowError::Field(e) => e.into(),
            WindowError::Db(e) => e.into(),
            WindowError::Raced => crate::error::Problem::Raced("card check").into(),
        })?;
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
