//! The rulebook and awards: propose, review, reverse.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::idempotency::{self, Key, Stored};
use super::run;
use super::{ApiUser, json_body, lang_of, utc};
use crate::auth::{Action, Actor};
use crate::db::DbConn;
use crate::domain::{AwardId, FieldError, HouseholdId};
use crate::households as hh;
use crate::i18n;
use crate::points::awards::{self as aw, Award, Decision};
use crate::points::{self, Rule, RuleForm};
use crate::state::AppState;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CapPeriod {
    Day,
    Week,
    Month,
    Year,
}

impl CapPeriod {
    fn as_str(self) -> &'static str {
        match self {
            CapPeriod::Day => "day",
            CapPeriod::Week => "week",
            CapPeriod::Month => "month",
            CapPeriod::Year => "year",
        }
    }

    fn of(s: &str) -> Option<CapPeriod> {
        [
            CapPeriod::Day,
            CapPeriod::Week,
            CapPeriod::Month,
            CapPeriod::Year,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RuleOut {
    /// The id of this version of the rule.
    #[schema(format = Uuid)]
    pub id: String,
    pub code: String,
    pub version: i64,
    pub name: String,
    /// The category's name.
    pub category: String,
    pub category_id: String,
    /// Negative points deduct.
    pub points: i64,
    pub cap_count: Option<i64>,
    pub cap_points: Option<i64>,
    pub cap_period: Option<CapPeriod>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub active: bool,
}

fn rule_out(r: &Rule, category: &str) -> RuleOut {
    RuleOut {
        id: r.id.clone(),
        code: r.code.clone(),
        version: r.version,
        name: r.name.clone(),
        category: category.to_string(),
        category_id: r.category_id.clone(),
        points: r.points,
        cap_count: r.cap_count,
        cap_points: r.cap_points,
        cap_period: r.cap_period.as_deref().and_then(CapPeriod::of),
        valid_from: r.valid_from,
        valid_to: r.valid_to,
        active: r.active,
    }
}

/// The rulebook as it stands (current versions).
#[utoipa::path(get, path = "/api/v1/rules", tag = "points",
    responses(
        (status = 200, description = "Current rules", body = Vec<RuleOut>),
        (status = 401, description = "No valid token", body = ErrorBody),
    ))]
pub async fn list_rules(
    user: ApiUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    user.require(Action::ViewRules)?;
    let rules = run(&state, |c| Ok(points::current_rules(c)?)).await?;
    Ok(HttpResponse::Ok().json(
        rules
            .iter()
            .map(|(r, cat)| rule_out(r, cat))
            .collect::<Vec<_>>(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewRule {
    /// Letters, digits, '-' or '_'; kept upper-case.
    pub code: String,
    pub name: String,
    /// A category's name or id.
    pub category: String,
    pub points: i64,
    #[serde(default)]
    pub cap_count: Option<i64>,
    #[serde(default)]
    pub cap_points: Option<i64>,
    #[serde(default)]
    pub cap_period: Option<CapPeriod>,
    #[serde(default, deserialize_with = "super::typed_optional_date")]
    pub valid_from: Option<NaiveDate>,
    #[serde(default, deserialize_with = "super::typed_optional_date")]
    pub valid_to: Option<NaiveDate>,
    /// True unless given.
    #[serde(default)]
    pub active: Option<bool>,
}

/// Add a rule to the rulebook. Admins only.
#[utoipa::path(post, path = "/api/v1/rules", tag = "points",
    request_body = NewRule,
    responses(
        (status = 201, description = "Created", body = RuleOut),
        (status = 400, description = "Malformed", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 409, description = "Code taken", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
pub async fn create_rule(
    user: ApiUser,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    user.require(Action::ManageRules)?;
    let f: NewRule = json_body(&body)?;
    let ctx = user.actor();
    let out = run(&state, move |c| {
        let wanted = f.category.trim().to_string();
        let category = points::categories(c)?
            .into_iter()
            .find(|k| k.id == wanted || k.name == wanted)
            .ok_or(FieldError::new("field.category", "error.category_unknown"))?;
        let form = RuleForm {
            code: f.code,
            name: f.name,
            category_id: category.id.clone(),
            points: f.points.to_string(),
            cap_count: f.cap_count.map(|n| n.to_string()).unwrap_or_default(),
            cap_points: f.cap_points.map(|n| n.to_string()).unwrap_or_default(),
            cap_period: f
                .cap_period
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            valid_from: f.valid_from.map(|d| d.to_string()).unwrap_or_default(),
            valid_to: f.valid_to.map(|d| d.to_string()).unwrap_or_default(),
            active: if f.active.unwrap_or(true) {
                "1".into()
            } else {
                String::new()
            },
            version: String::new(),
        };
        let input = points::parse_rule_form(c, &form)?;
        let rule = points::create_rule(c, &ctx, &input)?;
        Ok(rule_out(&rule, &category.name))
    })
    .await?;
    Ok(HttpResponse::Created().json(out))
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AwardStatus {
    Pending,
    /// Approved, on public notice before the points are credited.
    Noticed,
    Approved,
    Rejected,
    Withdrawn,
    Reversed,
}

impl From<AwardStatus> for crate::points::awards::AwardStatus {
    fn from(s: AwardStatus) -> Self {
        use crate::points::awards::AwardStatus as S;
        match s {
            AwardStatus::Pending => S::Pending,
            AwardStatus::Noticed => S::Noticed,
            AwardStatus::Approved => S::Approved,
            AwardStatus::Rejected => S::Rejected,
            AwardStatus::Withdrawn => S::Withdrawn,
            AwardStatus::Reversed => S::Reversed,
        }
    }
}

impl From<crate::points::awards::AwardStatus> for AwardStatus {
    fn from(s: crate::points::awards::AwardStatus) -> AwardStatus {
        use crate::points::awards::AwardStatus as S;
        match s {
            S::Pending => AwardStatus::Pending,
            S::Noticed => AwardStatus::Noticed,
            S::Approved => AwardStatus::Approved,
            S::Rejected => AwardStatus::Rejected,
            S::Withdrawn => AwardStatus::Withdrawn,
            S::Reversed => AwardStatus::Reversed,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AwardOut {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub household_id: String,
    #[schema(format = Uuid)]
    pub rule_id: String,
    pub rule_code: String,
    pub occurred_on: NaiveDate,
    pub note: String,
    pub status: AwardStatus,
    pub points: i64,
    #[schema(format = Uuid)]
    pub proposed_by: String,
    pub proposed_at: chrono::DateTime<chrono::Utc>,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub batch_id: Option<String>,
    /// Bumped by every change; send it back with a decision to have the
    /// decision refused (409) when the award has changed since.
    pub version: i64,
    /// Why the award could not be credited when its notice ended (absent
    /// when nothing failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle_error: Option<String>,
}

fn award_out(a: &Award, lang: i18n::Lang) -> AwardOut {
    AwardOut {
        id: a.id.to_string(),
        household_id: a.household_id.to_string(),
        rule_id: a.rule_id.clone(),
        rule_code: a.rule_code.clone(),
        occurred_on: a.occurred_on,
        note: a.note.clone(),
        status: a.status.into(),
        points: a.points,
        proposed_by: a.proposed_by.clone(),
        proposed_at: utc(a.proposed_at),
        reviewed_by: a.reviewed_by.clone(),
        reviewed_at: a.reviewed_at.map(utc),
        batch_id: a.batch_id.clone(),
        version: a.version,
        settle_error: Some(a.settle_problem(&lang)).filter(|s| !s.is_empty()),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AwardQuery {
    /// One household's awards (needs the right to see households).
    #[serde(default)]
    #[param(format = Uuid)]
    pub household_id: Option<String>,
    /// `pending` lists the caller's review queue (for reviewers).
    #[serde(default)]
    pub status: Option<AwardStatus>,
}

/// The most awards `GET /api/v1/awards` gives of a review queue or of the
/// awards a caller proposed; past it the response carries [`MORE_HEADER`].
pub const AWARDS_SHOWN: i64 = 500;

/// The response header (`X-More-Exist: true`) of a list cut at its most:
/// more rows exist than it holds (narrow the filter, or decide some).
pub const MORE_HEADER: &str = "X-More-Exist";

/// Awards: one household's, the caller's review queue (`status=pending`, or
/// no filter for a reviewer), or else the ones the caller proposed (newest
/// first); those in `status` only when it is given. At most 500, counted
/// after the status filter; when more exist, the response says so in its
/// `X-More-Exist: true` header, absent otherwise.
#[utoipa::path(get, path = "/api/v1/awards", tag = "points",
    params(AwardQuery),
    responses(
        (status = 200, description = "Awards (at most 500; `X-More-Exist: true` when more exist)", body = Vec<AwardOut>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such household", body = ErrorBody),
        (status = 422, description = "A query parameter of the wrong type or value, named in `field`", body = ErrorBody),
    ))]
pub async fn list_awards(
    req: HttpRequest,
    user: ApiUser,
    state: web::Data<AppState>,
    q: super::ApiQuery<AwardQuery>,
) -> Result<HttpResponse, ApiError> {
    let lang = lang_of(&req);
    let q = q.0;
    let actor = user.actor();
    let user_id = user.user.id.clone();
    let household = q.household_id.filter(|h| !h.trim().is_empty());
    // Text that is not an id names no household: refused on its parameter.
    if let Some(h) = &household
        && HouseholdId::parse(h.trim()).is_none()
    {
        return Err(ApiError::invalid("field.household", "error.not_an_id"));
    }
    let mode = if household.is_some() {
        user.require(Action::ViewHouseholds)?;
        0
    } else if user.can(Action::ReviewAwards)
        && (q.status == Some(AwardStatus::Pending)
            || (q.status.is_none() && !user.can(Action::ProposeAwards)))
    {
        // A reviewer's list is their queue.
        1
    } else {
        user.require(Action::ProposeAwards)?;
        2
    };
    // The status is filtered in the query, before the cap: the cap then
    // counts only the awards asked for, and says truly whether more exist.
    let status = q.status.map(aw::AwardStatus::from);
    let rows = run(&state, move |c| {
        // One more than shown, to say whether more exist.
        let rows = match (mode, &household) {
            (0, Some(h)) => {
                // Text that is not a household id names no household.
                let h = HouseholdId::parse(h.trim()).ok_or(ApiError::NotFound)?;
                hh::find(c, &actor, &h)?;
                aw::of_household(c, &h, status, AWARDS_SHOWN + 1)?
            }
            // The queue holds only awards waiting (`status` is pending or none).
            (1, _) => aw::review_queue(c, &actor, &Default::default(), AWARDS_SHOWN + 1)?,
            _ => aw::proposed_by(c, &user_id, status, AWARDS_SHOWN + 1)?,
        };
        Ok(rows)
    })
    .await?;
    let more = rows.len() as i64 > AWARDS_SHOWN;
    let rows = if more {
        &rows[..AWARDS_SHOWN as usize]
    } else {
        &rows[..]
    };
    let out: Vec<AwardOut> = rows.iter().map(|r| award_out(&r.award, lang)).collect();
    let mut res = HttpResponse::Ok();
    if more {
        // Never cut silently: the response says that more exist.
        res.insert_header((MORE_HEADER, "true"));
    }
    Ok(res.json(out))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewAward {
    /// One household ...
    #[serde(default)]
    #[schema(format = Uuid)]
    pub household_id: Option<String>,
    /// ... or many at once (e.g. everyone at a training).
    #[serde(default)]
    pub household_ids: Option<Vec<String>>,
    #[schema(format = Uuid)]
    pub rule_id: String,
    /// YYYY-MM-DD (full-width digits are read as digits).
    #[serde(deserialize_with = "super::typed_date")]
    pub occurred_on: NaiveDate,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AwardsCreated {
    /// Set when `household_ids` was sent.
    pub batch_id: Option<String>,
    pub awards: Vec<AwardOut>,
}

/// Propose an award for one household (`household_id`) or many
/// (`household_ids`, all or nothing: when any entry is refused nothing is
/// proposed and the error names each, `household_ids[i]`, the first in
/// `error` and the rest in `error.others`). A reviewer other than the
/// proposer approves it.
#[utoipa::path(post, path = "/api/v1/awards", tag = "points",
    request_body = NewAward,
    params(("Idempotency-Key" = String, Header, description = "Exactly-once key (1-64 of A-Z a-z 0-9 - _)", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 201, description = "Proposed", body = AwardsCreated),
        (status = 400, description = "Malformed, or no Idempotency-Key", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed, or the household is outside the caller's scope", body = ErrorBody),
        (status = 404, description = "No such household", body = ErrorBody),
        (status = 409, description = "Cap reached, month closed, or key reused", body = ErrorBody),
        (status = 422, description = "Invalid field, or entries of household_ids that name no household of the caller's (each named)", body = ErrorBody),
    ))]
pub async fn create_awards(
    req: HttpRequest,
    user: ApiUser,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    user.require(Action::ProposeAwards)?;
    let key = Key::of(&req, &body)?;
    let f: NewAward = json_body(&body)?;
    let who = user.actor();
    let today = crate::time::today(state.config.time_zone);
    let lang = lang_of(&req);
    let (done, replayed) = run(&state, move |c| {
        idempotency::once(c, &who.user_id, &key, |c| {
            let rule = points::find_rule(c, f.rule_id.trim())?
                .ok_or(FieldError::new("field.rule", "error.rule_unknown"))?;
            let p = aw::parse_proposal(
                &rule.code,
                &f.occurred_on.to_string(),
                f.note.as_deref().unwrap_or(""),
                today,
            )?;
            let actor = who.clone();
            let dkey = key.domain_key(&who.user_id);
            let out = match (&f.household_id, &f.household_ids) {
                (Some(h), None) => {
                    // An id in the body that names no household (not
                    // one, or none the caller sees) is a 422 on it.
                    let h = HouseholdId::parse(h.trim())
                        .ok_or_else(super::households::unknown_household)?;
                    let a = match aw::propose(c, &actor, &h, &p, &dkey, today) {
                        Err(crate::points::PointsError::NotFound) => {
                            return Err(super::households::unknown_household());
                        }
                        other => other?,
                    };
                    AwardsCreated {
                        batch_id: None,
                        awards: vec![award_out(&a, lang)],
                    }
                }
                (None, Some(ids)) => {
                    // All or nothing: every entry that names no household
                    // of the caller's (text that is not an id too) is a 422
                    // on `household_ids[i]`, each one named.
                    let entries: Vec<aw::BatchEntry> = ids
                        .iter()
                        .enumerate()
                        .map(|(i, s)| aw::BatchEntry::household(s, i + 1))
                        .collect();
                    let b = aw::propose_batch(c, &actor, &entries, &p, &dkey, today)?;
                    let made = aw::batch(c, &b.batch_id)?;
                    AwardsCreated {
                        batch_id: Some(b.batch_id),
                        awards: made.iter().map(|r| award_out(&r.award, lang)).collect(),
                    }
                }
                _ => {
                    return Err(FieldError::new("field.household", "error.one_or_many").into());
                }
            };
            Stored::json(201, &out)
        })
    })
    .await?;
    Ok(done.response(replayed))
}

fn award_in_scope(c: &mut DbConn, actor: &Actor, id: &AwardId) -> Result<Award, ApiError> {
    let a = aw::find(c, id)?.ok_or(ApiError::NotFound)?;
    hh::find(c, actor, &a.household_id)?;
    Ok(a)
}

/// A decision on an award: approve, reject or reverse.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReasonBody {
    #[serde(default)]
    pub reason: Option<String>,
    /// The version of the award the decision was made on (from
    /// `AwardOut.version`), required as on the pages: missing, 422 naming
    /// `version`; no longer current, 409 (the award changed since).
    pub version: i64,
}

enum Review {
    Approve,
    Reject,
    Reverse,
}

async fn decide(
    req: HttpRequest,
    user: ApiUser,
    state: web::Data<AppState>,
    id: String,
    body: web::Bytes,
    what: Review,
) -> Result<HttpResponse, ApiError> {
    user.require(match what {
        Review::Approve | Review::Reject => Action::ReviewAwards,
        Review::Reverse => Action::ReverseAwards,
    })?;
    let key = Key::of(&req, &body)?;
    // An empty body is an empty object: refused for its missing version.
    let f: ReasonBody = if body.iter().all(u8::is_ascii_whitespace) {
        json_body(b"{}")?
    } else {
        json_body(&body)?
    };
    let reason = f.reason.unwrap_or_default();
    let seen = Some(f.version);
    let id: AwardId = crate::error::path_id(&id)?;
    let lang = lang_of(&req);
    let who = user.actor();
    let today = crate::time::today(state.config.time_zone);
    let (done, replayed) = run(&state, move |c| {
        idempotency::once(c, &who.user_id, &key, |c| {
            award_in_scope(c, &who, &id)?;
            let actor = who.clone();
            match what {
                Review::Approve => {
                    aw::review_seen(c, &actor, &id, &Decision::Approve, seen, today)?
                }
                Review::Reject => aw::review_seen(
                    c,
                    &actor,
                    &id,
                    &Decision::Reject(reason.clone()),
                    seen,
                    today,
                )?,
                Review::Reverse => aw::reverse_seen(c, &actor, &id, &reason, seen, today)?,
            }
            let a = aw::find(c, &id)?.ok_or(ApiError::NotFound)?;
            Stored::json(200, &award_out(&a, lang))
        })
    })
    .await?;
    Ok(done.response(replayed))
}

/// Approve a pending award (never one's own). The points are credited now,
/// or after the public notice period when there is one. The body carries
/// the `version` of the award as the reviewer saw it: refused with 409
/// when the award has changed since, 422 naming `version` when missing.
#[utoipa::path(post, path = "/api/v1/awards/{id}/approve", tag = "points",
    params(("id" = String, Path, description = "Award id"),
        ("Idempotency-Key" = String, Header, description = "Exactly-once key", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = ReasonBody,
    responses(
        (status = 200, description = "The award as it is now", body = AwardOut),
        (status = 400, description = "Malformed, or no Idempotency-Key", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such award", body = ErrorBody),
        (status = 409, description = "Not pending, changed since the version sent, cap reached, or key reused", body = ErrorBody),
        (status = 422, description = "No version, the caller proposed it, or helps the household", body = ErrorBody),
    ))]
pub async fn approve(
    req: HttpRequest,
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    decide(req, user, state, id.into_inner(), body, Review::Approve).await
}

/// Reject a pending award, with a reason and the `version` seen (409 when
/// the award changed since, 422 naming `version` when missing).
#[utoipa::path(post, path = "/api/v1/awards/{id}/reject", tag = "points",
    params(("id" = String, Path, description = "Award id"),
        ("Idempotency-Key" = String, Header, description = "Exactly-once key", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = ReasonBody,
    responses(
        (status = 200, description = "The award as it is now", body = AwardOut),
        (status = 400, description = "Malformed, or no Idempotency-Key", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such award", body = ErrorBody),
        (status = 409, description = "Not pending, changed since the version sent, or key reused", body = ErrorBody),
        (status = 422, description = "No reason or no version, or the caller proposed it", body = ErrorBody),
    ))]
pub async fn reject(
    req: HttpRequest,
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    decide(req, user, state, id.into_inner(), body, Review::Reject).await
}

/// Reverse an approved award with a reversing entry, with a reason and the
/// `version` seen (409 when the award changed since, 422 naming `version`
/// when missing). Admins only.
#[utoipa::path(post, path = "/api/v1/awards/{id}/reverse", tag = "points",
    params(("id" = String, Path, description = "Award id"),
        ("Idempotency-Key" = String, Header, description = "Exactly-once key", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = ReasonBody,
    responses(
        (status = 200, description = "The award as it is now", body = AwardOut),
        (status = 400, description = "Malformed, or no Idempotency-Key", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such award", body = ErrorBody),
        (status = 409, description = "Not approved, changed since the version sent, insufficient points, month closed, or key reused", body = ErrorBody),
        (status = 422, description = "No reason or no version", body = ErrorBody),
    ))]
pub async fn reverse(
    req: HttpRequest,
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    decide(req, user, state, id.into_inner(), body, Review::Reverse).await
}
