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

/// Turn a report into a proposed award (the usual review follows).
pub async fn to_award(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: CsrfForm<DecideForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ProposeAwards)?;
    let id = path.into_inner();
    let seen = seen_version(&form.0.version);
    let actor = user.actor();
    let today = crate::time::today(state.config.time_zone);
    let result = run(&state, move |c| {
        Ok(deeds::to_award(c, &actor, &id, Some(seen?), today)?)
    })
    .await
    .map(|_| flash_ok(&req, "/deeds", "deeds.awarded", &[]));
    or_flash(&req, "/deeds", result)
}

/// Decline a report, with a reason the household sees.
pub async fn decline(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: CsrfForm<DecideForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ProposeAwards)?;
    let id = path.into_inner();
    let f = form.0;
    let seen = seen_version(&f.version);
    let actor = user.actor();
    let result = run(&state, move |c| {
        Ok(deeds::decline(c, &actor, &id, &f.reason, Some(seen?))?)
    })
    .await
    .map(|_| flash_ok(&req, "/deeds", "deeds.declined", &[]));
    or_flash(&req, "/deeds", result)
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
    user.require(Action::ReviewAwards)?;
    let id = path.into_inner();
    let f = form.0;
    let decision = match f.decision.as_str() {
        "uphold" => Decision::Uphold,
        "dismiss" => Decision::Dismiss,
        _ => {
            return Ok(crate::web::page::flash_field_error(
                &req,
                "/objections",
                &crate::domain::FieldError::new("field.objection", "error.required"),
            ));
        }
    };
    let seen = seen_version(&f.version);
    let actor = user.actor();
    let tz = state.config.time_zone;
    let result = run(&state, move |c| {
        Ok(objections::decide(
            c,
            &actor,
            &id,
            decision,
            &f.note,
            Some(seen?),
            tz,
        )?)
    })
    .await
    .map(|_| {
        let key = match decision {
            Decision::Uphold => "objections.upheld",
            Decision::Dismiss => "objections.dismissed",
        };
        flash_ok(&req, "/objections", key, &[])
    });
    or_flash(&req, "/objections", result)
}
