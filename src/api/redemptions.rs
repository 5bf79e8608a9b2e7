//! Redemptions: points for goods at a store's counter, and voids.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body_store;
use super::error::{ApiError, ErrorBody};
use super::idempotency::{self, Key, Stored};
use super::run;
use super::{ApiUser, json_body, utc};
use crate::auth::Action;
use crate::db::DbConn;
use crate::domain::{FieldError, form_id};
use crate::redemptions::{self, Line, RedeemRequest, Redemption, WantLine};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct WantLineIn {
    #[schema(format = Uuid)]
    pub item_id: String,
    #[schema(minimum = 1)]
    pub quantity: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewRedemption {
    #[schema(format = Uuid)]
    pub store_id: String,
    /// The household ...
    #[serde(default)]
    #[schema(format = Uuid)]
    pub household_id: Option<String>,
    /// ... or its card number, as scanned. When both are given they must
    /// name the same household (422 on `household_id` otherwise); the card
    /// decides whose points are spent.
    #[serde(default)]
    pub card_no: Option<String>,
    pub lines: Vec<WantLineIn>,
    /// The total the clerk was shown, in points. When given and the basket
    /// now costs something else (a price changed meanwhile), nothing is
    /// charged: 409 `price_changed`, the message naming the new total.
    #[serde(default)]
    pub expected_total: Option<i64>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RedemptionStatus {
    Completed,
    Void,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RedemptionLineOut {
    #[schema(format = Uuid)]
    pub item_id: String,
    pub item_name: String,
    pub unit: String,
    pub quantity: i64,
    pub unit_points: i64,
    pub points: i64,
}

/// The receipt.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RedemptionOut {
    #[schema(format = Uuid)]
    pub id: String,
    pub number: String,
    #[schema(format = Uuid)]
    pub store_id: String,
    #[schema(format = Uuid)]
    pub household_id: String,
    pub lines: Vec<RedemptionLineOut>,
    pub total_points: i64,
    /// The household's balance right after this redemption.
    pub balance_after: i64,
    pub status: RedemptionStatus,
    pub clerk: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub voided_at: Option<chrono::DateTime<chrono::Utc>>,
    pub void_reason: String,
}

fn redemption_out(r: &Redemption, lines: &[Line]) -> RedemptionOut {
    RedemptionOut {
        id: r.id.clone(),
        number: r.number.clone(),
        store_id: r.store_id.to_string(),
        household_id: r.household_id.to_string(),
        lines: lines
            .iter()
            .map(|l| RedemptionLineOut {
                item_id: l.item_id.to_string(),
                item_name: l.item_name.clone(),
                unit: l.unit.clone(),
                quantity: l.quantity,
                unit_points: l.unit_points,
                points: l.points,
            })
            .collect(),
        total_points: r.total_points,
        balance_after: r.balance_after,
        status: if r.is_void() {
            RedemptionStatus::Void
        } else {
            RedemptionStatus::Completed
        },
        clerk: r.clerk_username.clone(),
        created_at: utc(r.created_at),
        voided_at: r.voided_at.map(utc),
        void_reason: r.void_reason.clone(),
    }
}

fn receipt(c: &mut DbConn, id: &str) -> Result<RedemptionOut, ApiError> {
    let (r, lines) = redemptions::find(c, id)?.ok_or(ApiError::NotFound)?;
    Ok(redemption_out(&r, &lines))
}

/// Redeem points for goods: points and stock go down together, or not at all.
/// Name the household by `household_id` or `card_no` (both: the same one);
/// send `expected_total` to be charged only what was shown.
#[utoipa::path(post, path = "/api/v1/redemptions", tag = "redemptions",
    request_body = NewRedemption,
    params(("Idempotency-Key" = String, Header, description = "Exactly-once key: a replay returns the first receipt", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 201, description = "The receipt", body = RedemptionOut),
        (status = 400, description = "Malformed, or no Idempotency-Key", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed at this store", body = ErrorBody),
        (status = 404, description = "No such store", body = ErrorBody),
        (status = 409, description = "Insufficient points or stock, month closed, key reused, or `price_changed`: the basket no longer costs `expected_total` (the message names the new total)", body = ErrorBody),
        (status = 422, description = "Invalid field, or `household_id` and `card_no` naming different households", body = ErrorBody),
    ))]
pub async fn create(
    req: HttpRequest,
    user: ApiUser,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    user.require(Action::Redeem)?;
    let key = Key::of(&req, &body)?;
    let f: NewRedemption = json_body(&body)?;
    let store = body_store(&state, &user, Action::Redeem, &f.store_id).await?;
    // A line naming text that is not an item id names no item: 422 on
    // that line's item ("lines[0].item_id"), as an unknown item is.
    let mut faults = crate::domain::FieldChecks::new();
    let mut lines: Vec<WantLine> = Vec::new();
    for (i, l) in f.lines.iter().enumerate() {
        let item =
            form_id("field.item", &l.item_id, "error.item_unknown").map_err(|e| e.arg("n", i + 1));
        if let Some(item_id) = faults.take(item) {
            lines.push(WantLine {
                item_id,
                quantity: l.quantity,
            });
        }
    }
    faults.finish()?;
    let actor = user.actor();
    let user_id = user.user.id.clone();
    let today = crate::time::today(state.config.time_zone);
    let (done, replayed) = run(&state, move |c| {
        idempotency::once(c, &user_id, &key, |c| {
            let named = f
                .household_id
                .as_deref()
                .map(str::trim)
                .filter(|h| !h.is_empty());
            let scanned = f
                .card_no
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty());
            let card = match (named, scanned) {
                (_, Some(card)) => card.to_string(),
                (Some(h), None) => {
                    // A household id that is not an id names no household.
                    let Some(h) = crate::domain::HouseholdId::parse(h) else {
                        return Err(super::households::unknown_household());
                    };
                    // The household's current card, as if it had been scanned.
                    let card = match redemptions::card_of(c, &actor, &h) {
                        Err(redemptions::RedeemError::NotFound) => {
                            return Err(super::households::unknown_household());
                        }
                        other => other?,
                    };
                    card.ok_or(FieldError::new("field.card_no", "error.required"))?
                }
                (None, None) => {
                    return Err(FieldError::new("field.card_no", "error.required").into());
                }
            };
            let dkey = key.domain_key(&user_id);
            let (r, _) = redemptions::redeem(
                c,
                &actor,
                &RedeemRequest {
                    store_id: &store.store.id,
                    card: &card,
                    lines: &lines,
                    key: &dkey,
                    household_id: named,
                    expected_total: f.expected_total,
                },
                today,
            )?;
            Stored::json(201, &receipt(c, &r.id)?)
        })
    })
    .await?;
    Ok(done.response(replayed))
}

/// A receipt.
#[utoipa::path(get, path = "/api/v1/redemptions/{id}", tag = "redemptions",
    params(("id" = String, Path, description = "Redemption id")),
    responses(
        (status = 200, description = "The receipt", body = RedemptionOut),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed at this store", body = ErrorBody),
        (status = 404, description = "No such redemption", body = ErrorBody),
    ))]
pub async fn get(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    user.require(Action::ViewRedemptions)?;
    let id = id.into_inner();
    let actor = user.actor();
    let out = run(&state, move |c| {
        let (r, lines) = redemptions::find_for(c, &actor, Action::ViewRedemptions, &id)?;
        Ok(redemption_out(&r, &lines))
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct VoidBody {
    pub reason: String,
}

/// Void a redemption (clerks: today's, at their store): reversing entries
/// give the points back and put the goods back on the shelf.
#[utoipa::path(post, path = "/api/v1/redemptions/{id}/void", tag = "redemptions",
    params(("id" = String, Path, description = "Redemption id"),
        ("Idempotency-Key" = String, Header, description = "Exactly-once key", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = VoidBody,
    responses(
        (status = 200, description = "The receipt, void", body = RedemptionOut),
        (status = 400, description = "Malformed, or no Idempotency-Key", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed at this store", body = ErrorBody),
        (status = 404, description = "No such redemption", body = ErrorBody),
        (status = 409, description = "Already void, month closed, or key reused", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
pub async fn void(
    req: HttpRequest,
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    user.require(Action::Redeem)?;
    let key = Key::of(&req, &body)?;
    let f: VoidBody = json_body(&body)?;
    let id = id.into_inner();
    let actor = user.actor();
    let tz = state.config.time_zone;
    let user_id = user.user.id.clone();
    let (done, replayed) = run(&state, move |c| {
        idempotency::once(c, &user_id, &key, |c| {
            redemptions::void(c, &actor, &id, &f.reason, tz)?;
            Stored::json(200, &receipt(c, &id)?)
        })
    })
    .await?;
    Ok(done.response(replayed))
}
