//! Households, their balance and their ledger.

use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::run;
use super::{ApiUser, json_body, utc};
use crate::auth::Action;
use crate::domain::{CardNo, FieldError, HouseholdId};
use crate::error::path_id;
use crate::households::{self, CardLookup, HouseholdForm, HouseholdRow, ListFilter, Status};
use crate::ledger;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HouseholdStatus {
    Registered,
    Lifted,
    Monitored,
}

impl HouseholdStatus {
    fn as_str(self) -> &'static str {
        match self {
            HouseholdStatus::Registered => "registered",
            HouseholdStatus::Lifted => "lifted",
            HouseholdStatus::Monitored => "monitored",
        }
    }

    fn of(s: &str) -> HouseholdStatus {
        match Status::parse(s) {
            Some(Status::Lifted) => HouseholdStatus::Lifted,
            Some(Status::Monitored) => HouseholdStatus::Monitored,
            _ => HouseholdStatus::Registered,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HouseholdOut {
    #[schema(format = Uuid)]
    pub id: String,
    pub head_name: String,
    /// First 6 and last 4 digits only.
    pub id_number_masked: String,
    pub phone_masked: String,
    /// A village.
    #[schema(format = Uuid)]
    pub area_id: String,
    pub village: String,
    pub address: String,
    pub members: i64,
    pub status: HouseholdStatus,
    #[schema(format = Uuid)]
    pub helper_id: Option<String>,
    pub card_no: Option<String>,
    /// Points on the household's account now.
    pub balance: i64,
    pub archived: bool,
    pub notes: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Bumped by every change; send it back with a change (`version`).
    pub version: i64,
}

fn to_out(row: &HouseholdRow, balance: i64) -> HouseholdOut {
    let h = &row.household;
    HouseholdOut {
        id: h.id.to_string(),
        head_name: h.head_name.clone(),
        id_number_masked: h.id_masked.clone(),
        phone_masked: h.phone_masked.clone(),
        area_id: h.area_id.clone(),
        village: row.village.clone(),
        address: h.address.clone(),
        members: h.members,
        status: HouseholdStatus::of(&h.status),
        helper_id: h.helper_id.clone(),
        card_no: row.card_no.clone(),
        balance,
        archived: h.archived,
        notes: h.notes.clone(),
        created_at: utc(h.created_at),
        updated_at: utc(h.updated_at),
        version: h.version,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Name, last 4 of the ID number, or card number.
    #[serde(default)]
    pub q: Option<String>,
    /// An area: households in it and below it.
    #[serde(default)]
    #[param(format = Uuid)]
    pub area_id: Option<String>,
    #[serde(default)]
    pub card_no: Option<String>,
    #[serde(default)]
    pub status: Option<HouseholdStatus>,
    /// Include archived households.
    #[serde(default)]
    pub archived: Option<bool>,
    /// From 1.
    #[serde(default)]
    #[param(minimum = 1, maximum = 100000)]
    pub page: Option<i64>,
    #[serde(default)]
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HouseholdPage {
    pub items: Vec<HouseholdOut>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// Households in the caller's scope, filtered and paginated.
#[utoipa::path(get, path = "/api/v1/households", tag = "households",
    params(ListQuery),
    responses(
        (status = 200, description = "One page", body = HouseholdPage),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 422, description = "A query parameter of the wrong type or value, named in `field`", body = ErrorBody),
    ))]
pub async fn list(
    user: ApiUser,
    state: web::Data<AppState>,
    q: super::ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    user.require(Action::ViewHouseholds)?;
    let q = q.0;
    let page = super::in_range("page", q.page, 1, 1, 100_000)?;
    let per_page = super::in_range("per_page", q.per_page, households::PAGE_SIZE, 1, 200)?;
    let area_id = q
        .area_id
        .map(|a| crate::domain::input::normalize(&a).trim().to_string())
        .filter(|a| !a.is_empty());
    // Text that is not an id names no area: refused on its parameter.
    if let Some(a) = &area_id
        && !crate::domain::ids::is_id(a)
    {
        return Err(ApiError::invalid("field.area", "error.not_an_id"));
    }
    let filter = ListFilter {
        q: q.q.unwrap_or_default().trim().chars().take(40).collect(),
        area_id,
        status: q.status.and_then(|s| Status::parse(s.as_str())),
        helper_id: None,
        include_archived: q.archived.unwrap_or(false),
        sort: Default::default(),
    };
    let card = q
        .card_no
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    let actor = user.actor();
    let (rows, total) = run(&state, move |c| {
        let (rows, total) = match &card {
            // A card number names at most one household (its current card).
            Some(card) => match CardNo::parse("field.card_no", card)
                .ok()
                .map(|card| households::lookup_card(c, &card))
                .transpose()?
            {
                Some(CardLookup::Current { household_id }) => {
                    match households::find(c, &actor, &household_id) {
                        Ok(row) if filter.include_archived || !row.household.archived => {
                            (vec![row], 1)
                        }
                        Ok(_)
                        | Err(households::HouseholdError::Forbidden)
                        | Err(households::HouseholdError::NotFound) => (Vec::new(), 0),
                        Err(e) => return Err(e.into()),
                    }
                }
                _ => (Vec::new(), 0),
            },
            None => households::list(c, &actor, &filter, page - 1, per_page)?,
        };
        let ids: Vec<String> = rows.iter().map(|r| r.household.id.to_string()).collect();
        let balances = ledger::household_balances(c, &ids)?;
        let out: Vec<HouseholdOut> = rows
            .iter()
            .map(|r| {
                to_out(
                    r,
                    balances.get(r.household.id.as_str()).copied().unwrap_or(0),
                )
            })
            .collect();
        Ok((out, total))
    })
    .await?;
    Ok(HttpResponse::Ok().json(HouseholdPage {
        items: rows,
        total,
        page,
        per_page,
    }))
}

async fn load(user: &ApiUser, state: &AppState, id: HouseholdId) -> Result<HouseholdOut, ApiError> {
    let actor = user.actor();
    run(state, move |c| {
        let row = households::find(c, &actor, &id)?;
        let balance = ledger::balance(c, &ledger::household_account(&id))?;
        Ok(to_out(&row, balance))
    })
    .await
}

/// One household, with its balance.
#[utoipa::path(get, path = "/api/v1/households/{id}", tag = "households",
    params(("id" = String, Path, description = "Household id")),
    responses(
        (status = 200, description = "The household", body = HouseholdOut),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed, or outside the caller's scope", body = ErrorBody),
        (status = 404, description = "No such household", body = ErrorBody),
    ))]
pub async fn get(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    user.require(Action::ViewHouseholds)?;
    let id = path_id(&id)?;
    Ok(HttpResponse::Ok().json(load(&user, &state, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewHousehold {
    pub head_name: String,
    /// National ID number (18 characters, check digit validated). Write only.
    pub id_number: String,
    #[serde(default)]
    pub phone: Option<String>,
    /// A village in the caller's scope.
    #[schema(format = Uuid)]
    pub area_id: String,
    #[serde(default)]
    pub address: Option<String>,
    #[schema(minimum = 1, maximum = 99)]
    pub members: i64,
    #[serde(default)]
    pub status: Option<HouseholdStatus>,
    #[serde(default)]
    #[schema(format = Uuid)]
    pub helper_id: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

/// Register a household; its points card is issued at once.
#[utoipa::path(post, path = "/api/v1/households", tag = "households",
    request_body = NewHousehold,
    responses(
        (status = 201, description = "Registered", body = HouseholdOut),
        (status = 400, description = "Malformed", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 409, description = "The ID number is already registered", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
pub async fn create(
    user: ApiUser,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    user.require(Action::EditHouseholds)?;
    let f: NewHousehold = json_body(&body)?;
    let form = HouseholdForm {
        head_name: f.head_name,
        id_number: f.id_number,
        phone: f.phone.unwrap_or_default(),
        area_id: f.area_id,
        address: f.address.unwrap_or_default(),
        members: f.members.to_string(),
        status: f.status.map(|s| s.as_str().to_string()).unwrap_or_default(),
        helper_id: f.helper_id.unwrap_or_default(),
        notes: f.notes.unwrap_or_default(),
        status_reason: String::new(),
        version: String::new(),
        seen_phone: None,
        seen_id_number: None,
        ..HouseholdForm::default()
    };
    let key = state.key.clone();
    let actor = user.actor();
    let id = run(&state, move |c| {
        let input = households::parse_form(c, &actor, &key, &form, None)?;
        let (id, _card) = households::create(c, &actor, &key, &input)?;
        Ok(id)
    })
    .await?;
    Ok(HttpResponse::Created().json(load(&user, &state, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct HouseholdPatch {
    #[serde(default)]
    pub head_name: Option<String>,
    /// Write only.
    #[serde(default)]
    pub id_number: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    #[schema(format = Uuid)]
    pub area_id: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 99)]
    pub members: Option<i64>,
    #[serde(default)]
    pub status: Option<HouseholdStatus>,
    /// Needed when the status changes.
    #[serde(default)]
    pub status_reason: Option<String>,
    #[serde(default)]
    #[schema(format = Uuid)]
    pub helper_id: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    /// Archive (with `archive_reason`) or restore.
    #[serde(default)]
    pub archived: Option<bool>,
    #[serde(default)]
    pub archive_reason: Option<String>,
    /// The household's `version` the change was made on: a household
    /// changed since is refused (409) instead of overwritten.
    #[serde(default)]
    pub version: Option<i64>,
}

/// Change some fields of a household; fields left out stay as they are.
#[utoipa::path(patch, path = "/api/v1/households/{id}", tag = "households",
    params(("id" = String, Path, description = "Household id")),
    request_body = HouseholdPatch,
    responses(
        (status = 200, description = "The household as it is now", body = HouseholdOut),
        (status = 400, description = "Malformed", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such household", body = ErrorBody),
        (status = 409, description = "The ID number is already registered, or the household was archived or restored meanwhile", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
pub async fn update(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    user.require(Action::EditHouseholds)?;
    let p: HouseholdPatch = json_body(&body)?;
    let id: HouseholdId = path_id(&id)?;
    let key = state.key.clone();
    let actor = user.actor();
    let hid = id.clone();
    let today = crate::time::today(state.config.time_zone);
    run(&state, move |c| {
        let row = households::find(c, &actor, &hid)?;
        let h = &row.household;
        let edits = p.head_name.is_some()
            || p.id_number.is_some()
            || p.phone.is_some()
            || p.area_id.is_some()
            || p.address.is_some()
            || p.members.is_some()
            || p.status.is_some()
            || p.helper_id.is_some()
            || p.notes.is_some();
        if edits {
            let form = HouseholdForm {
                head_name: p.head_name.clone().unwrap_or_else(|| h.head_name.clone()),
                // Empty keeps the stored ID number and phone.
                id_number: p.id_number.clone().unwrap_or_default(),
                phone: p.phone.clone().unwrap_or_default(),
                area_id: p.area_id.clone().unwrap_or_else(|| h.area_id.clone()),
                address: p.address.clone().unwrap_or_else(|| h.address.clone()),
                members: p.members.unwrap_or(h.members).to_string(),
                status: p
                    .status
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| h.status.clone()),
                helper_id: match &p.helper_id {
                    Some(x) => x.clone(),
                    None => h.helper_id.clone().unwrap_or_default(),
                },
                notes: p.notes.clone().unwrap_or_else(|| h.notes.clone()),
                status_reason: p.status_reason.clone().unwrap_or_default(),
                version: p.version.map(|v| v.to_string()).unwrap_or_default(),
                seen_phone: None,
                seen_id_number: None,
                ..HouseholdForm::default()
            };
            let input = households::parse_form(c, &actor, &key, &form, Some(h))?;
            households::update(c, &actor, &key, &hid, &input, today)?;
        }
        // The state asked for: a household already so is left as it is.
        if let Some(archived) = p.archived.filter(|a| *a != row.household.archived) {
            households::set_archived(
                c,
                &actor,
                &hid,
                archived,
                p.archive_reason.as_deref().unwrap_or(""),
            )?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Ok().json(load(&user, &state, id).await?))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LedgerEntry {
    #[schema(format = Uuid)]
    pub id: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub posted_on: NaiveDate,
    /// award, redemption, redemption_void, adjustment, expiry, ...
    pub kind: String,
    /// Signed: positive adds to the household's points.
    pub amount: i64,
    pub balance_after: i64,
    pub memo: String,
    pub ref_kind: String,
    pub ref_id: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Ledger {
    #[schema(format = Uuid)]
    pub household_id: String,
    pub balance: i64,
    /// Oldest first.
    pub entries: Vec<LedgerEntry>,
}

/// Every points entry of a household, oldest first, with the running balance.
#[utoipa::path(get, path = "/api/v1/households/{id}/ledger", tag = "households",
    params(("id" = String, Path, description = "Household id")),
    responses(
        (status = 200, description = "The household's ledger", body = Ledger),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such household", body = ErrorBody),
    ))]
pub async fn ledger(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    user.require(Action::ViewStatements)?;
    let id: HouseholdId = path_id(&id)?;
    let actor = user.actor();
    let out = run(&state, move |c| {
        households::find(c, &actor, &id)?;
        Ok(ledger_of(c, &id, None)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// A household's ledger; `last` keeps only the newest entries.
pub fn ledger_of(
    c: &mut crate::db::DbConn,
    id: &HouseholdId,
    last: Option<usize>,
) -> diesel::QueryResult<Ledger> {
    let (opening, entries) = ledger::statement(c, id, None, None)?;
    let account = ledger::household_account(id);
    let mut running = opening;
    let mut out: Vec<LedgerEntry> = entries
        .iter()
        .map(|e| {
            let amount = ledger::signed_for(e, &account);
            running += amount;
            LedgerEntry {
                id: e.id.clone(),
                at: utc(e.at),
                posted_on: e.posted_on,
                kind: e.kind.clone(),
                amount,
                balance_after: running,
                memo: e.memo.clone(),
                ref_kind: e.ref_kind.clone(),
                ref_id: e.ref_id.clone(),
            }
        })
        .collect();
    if let Some(n) = last {
        let skip = out.len().saturating_sub(n);
        out.drain(..skip);
    }
    Ok(Ledger {
        household_id: id.to_string(),
        balance: running,
        entries: out,
    })
}

/// A field error for a missing household reference.
pub fn unknown_household() -> ApiError {
    FieldError::new("field.household", "error.household_unknown").into()
}
