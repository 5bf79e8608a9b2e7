//! Officials' list of the deeds households reported from their own page,
//! and the reviewers' queue of objections to the online notice.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::awards::seen_version;
use crate::auth::Action;
use crate::web::page::{PageCtx, flash_ok, or_flash, render};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, run};
use crate::window::deeds::{self, Report};
use crate::window::objections::{self, Decision, Objection};

#[derive(Template)]
#[template(path = "deeds/list.html")]
struct ListPage<'a> {
    ctx: &'a PageCtx,
    reports: Vec<Report>,
}

/// `/deeds`: the reports of the households in the official's area.
pub async fn list(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ProposeAwards)?;
    let actor = user.actor();
    let reports = run(&state, move |c| Ok(deeds::for_officials(c, &actor, 500)?)).await?;
    let ctx = PageCtx::build(&req, Some(&user));
    render(&ctx, &ListPage { ctx: &ctx, reports })
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    version: String,
    #[serde(default)]
    reason: String,
}

/// The one shape of an official's or reviewer's decision on something a
/// household sent (a report, an objection): the role may act at all, the
/// form carries the version the person saw, one operation decides it as
/// that person, and the list shows what happened (a refusal as a message
/// naming what the record is now).
#[allow(clippy::too_many_arguments)]
async fn decide<F>(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    action: Action,
    list: &'static str,
    done_key: &'static str,
    version: &str,
    op: F,
) -> Result<HttpResponse, AppError>
where
    F: FnOnce(&mut crate::db::DbConn, &crate::auth::Actor, i64) -> Result<(), AppError>
        + Send
        + 'static,
{
    user.require(action)?;
    let seen = seen_version(version);
    let actor = user.actor();
    let result = run(state, move |c| op(c, &actor, seen?))
        .await
        .map(|_| flash_ok(req, list, done_key, &[]));
    or_flash(req, list, result)
}

/// Turn a report into a proposed award (the usual review follows).
pub async fn to_award(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: CsrfForm<DecideForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let today = crate::time::today(state.config.time_zone);
    decide(
        &req,
        &user,
        &state,
        Action::ProposeAwards,
        "/deeds",
        "deeds.awarded",
        &form.0.version,
        move |c, actor, seen| {
            deeds::to_award(c, actor, &id, Some(seen), today)?;
            Ok(())
        },
    )
    .await
}

/// Decline a report, with a reason the household sees.
pub async fn decline(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: CsrfForm<DecideForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let f = form.0;
    decide(
        &req,
        &user,
        &state,
        Action::ProposeAwards,
        "/deeds",
        "deeds.declined",
        &f.version,
        move |c, actor, seen| Ok(deeds::decline(c, actor, &id, &f.reason, Some(seen))?),
    )
    .await
}

/// A report's photo, for staff whose area holds the household.
pub async fn photo(
    user: CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ViewHouseholds)?;
    let id = path.into_inner();
    let actor = user.actor();
    let jpeg = run(&state, move |c| Ok(deeds::photo_for_staff(c, &actor, &id)?)).await?;
    Ok(super::window::jpeg_response(jpeg))
}

#[derive(Template)]
#[template(path = "deeds/objections.html")]
struct ObjectionsPage<'a> {
    ctx: &'a PageCtx,
    rows: Vec<Objection>,
}

/// `/objections`: the open objections in the reviewer's area.
pub async fn objections_queue(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ReviewAwards)?;
    let actor = user.actor();
    let rows = run(&state, move |c| Ok(objections::queue(c, &actor, 500)?)).await?;
    let ctx = PageCtx::build(&req, Some(&user));
    render(&ctx, &ObjectionsPage { ctx: &ctx, rows })
}

#[derive(Deserialize)]
pub struct ObjectionDecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    version: String,
}

/// Uphold or dismiss an objection.
pub async fn decide_objection(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: CsrfForm<ObjectionDecisionForm>,
) -> Result<HttpResponse, AppError> {
    // The role first: the decision's own check answers only reviewers.
    user.require(Action::ReviewAwards)?;
    let id = path.into_inner();
    let f = form.0;
    let (decision, done_key) = match f.decision.as_str() {
        "uphold" => (Decision::Uphold, "objections.upheld"),
        "dismiss" => (Decision::Dismiss, "objections.dismissed"),
        _ => {
            return Ok(crate::web::page::flash_field_error(
                &req,
                "/objections",
                &crate::domain::FieldError::new("field.objection", "error.required"),
            ));
        }
    };
    let tz = state.config.time_zone;
    decide(
        &req,
        &user,
        &state,
        Action::ReviewAwards,
        "/objections",
        done_key,
        &f.version,
        move |c, actor, seen| {
            Ok(objections::decide(
                c,
                actor,
                &id,
                decision,
                &f.note,
                Some(seen),
                tz,
            )?)
        },
    )
    .await
}
