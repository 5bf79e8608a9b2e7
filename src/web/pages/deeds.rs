//! Officials' list of the deeds households reported from their own page,
//! and the reviewers' queue of objections to the online notice.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::Action;
use crate::web::extract::lang_of;
use crate::web::form::seen_version;
use crate::web::form::{Refused, or_again};
use crate::web::page::{PageCtx, flash_ok, render_with_status};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, run};
use crate::window::deeds::{self, Report};
use crate::window::objections::{self, Decision, Objection};

#[derive(Template)]
#[template(path = "deeds/list.html")]
struct ListPage<'a> {
    ctx: &'a PageCtx,
    reports: Vec<Report>,
    /// A refused decision on a report (`"award-<id>"`, `"decline-<id>"`).
    refused: Refused,
}

/// `/deeds`: the reports of the households in the official's area.
pub async fn list(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    list_page(req, user, state, Refused::default()).await
}

/// The reports; `refused` shows a refused decision again in its row (422,
/// or 409 when the report changed), with the reason typed.
async fn list_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    refused: Refused,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ProposeAwards)?;
    let actor = user.actor();
    let reports = run(&state, move |c| Ok(deeds::for_officials(c, &actor, 500)?)).await?;
    let ctx = PageCtx::build(&req, Some(&user));
    let status = refused.status();
    render_with_status(
        &ctx,
        &ListPage {
            ctx: &ctx,
            reports,
            refused,
        },
        status,
    )
}

#[derive(Deserialize, serde::Serialize)]
pub struct DecideForm {
    #[serde(default)]
    version: String,
    #[serde(default)]
    reason: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for DecideForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "reason" => "field.reason",
            _ => return None,
        })
    }
}

/// The one shape of an official's or reviewer's decision on something a
/// household sent (a report, an objection): the role may act at all, the
/// form carries the version the person saw, one operation decides it as
/// that person, and the list shows what happened (the caller brings a
/// refusal back on its page, naming what the record is now).
#[allow(clippy::too_many_arguments)]
async fn decide<F>(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    action: Action,
    list: &'static str,
    done_key: &'static str,
    version: &str,
    twice: &crate::web::extract::SentTwice,
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
    twice
        .run(state, move |c| op(c, &actor, seen?))
        .await
        .map(|_| flash_ok(req, list, done_key, &[]))
}

/// Turn a report into a proposed award (the usual review follows).
pub async fn to_award(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: CsrfForm<DecideForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let id = path.into_inner();
    let typed = form.0;
    let today = crate::time::today(state.config.time_zone);
    let rid = id.clone();
    let result = decide(
        &req,
        &user,
        &state,
        Action::ProposeAwards,
        "/deeds",
        "deeds.awarded",
        &typed.version,
        &form.1,
        move |c, actor, seen| {
            deeds::to_award(c, actor, &rid, Some(seen), today)?;
            Ok(())
        },
    )
    .await;
    or_again(lang_of(&req), format!("award-{id}"), &typed, result, |r| {
        list_page(req, user, state, r)
    })
    .await
}

/// Decline a report, with a reason the household sees; a refusal comes
/// back in the report's row with the reason typed.
pub async fn decline(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: CsrfForm<DecideForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let id = path.into_inner();
    let typed = form.0;
    let (rid, reason) = (id.clone(), typed.reason.clone());
    let result = decide(
        &req,
        &user,
        &state,
        Action::ProposeAwards,
        "/deeds",
        "deeds.declined",
        &typed.version,
        &form.1,
        move |c, actor, seen| Ok(deeds::decline(c, actor, &rid, &reason, Some(seen))?),
    )
    .await;
    or_again(
        lang_of(&req),
        format!("decline-{id}"),
        &typed,
        result,
        |r| list_page(req, user, state, r),
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
    /// A refused decision (`"objection-<id>"`), with the note typed.
    refused: Refused,
}

impl ObjectionsPage<'_> {
    /// A refusal whose objection is no longer in the queue (decided
    /// meanwhile): shown above the list, as its row is gone.
    fn refused_elsewhere(&self) -> bool {
        !self.refused.errors.is_empty()
            && !self
                .rows
                .iter()
                .any(|o| self.refused.is(&format!("objection-{}", o.id)))
    }
}

/// `/objections`: the open objections in the reviewer's area.
pub async fn objections_queue(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    objections_page(req, user, state, Refused::default()).await
}

/// The queue; `refused` shows a refused decision again (422, or 409 when
/// the objection changed), with the note typed.
async fn objections_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    refused: Refused,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ReviewAwards)?;
    let actor = user.actor();
    let rows = run(&state, move |c| Ok(objections::queue(c, &actor, 500)?)).await?;
    let ctx = PageCtx::build(&req, Some(&user));
    let status = refused.status();
    render_with_status(
        &ctx,
        &ObjectionsPage {
            ctx: &ctx,
            rows,
            refused,
        },
        status,
    )
}

#[derive(Deserialize, serde::Serialize)]
pub struct ObjectionDecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    version: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for ObjectionDecisionForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "decision" => "field.decision",
            "note" => "field.note",
            _ => return None,
        })
    }
}

/// Uphold or dismiss an objection.
pub async fn decide_objection(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: CsrfForm<ObjectionDecisionForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    // The role first: the decision's own check answers only reviewers.
    user.require(Action::ReviewAwards)?;
    let id = path.into_inner();
    let typed = form.0;
    let form_name = format!("objection-{id}");
    let (decision, done_key) = match typed.decision.as_str() {
        "uphold" => (Decision::Uphold, "objections.upheld"),
        "dismiss" => (Decision::Dismiss, "objections.dismissed"),
        _ => {
            let e = crate::domain::FieldError::new("field.objection", "error.required");
            let refused = Refused::of(lang_of(&req), form_name, &typed, &e);
            return objections_page(req, user, state, refused).await;
        }
    };
    let tz = state.config.time_zone;
    let (oid, note) = (id.clone(), typed.note.clone());
    let result = decide(
        &req,
        &user,
        &state,
        Action::ReviewAwards,
        "/objections",
        done_key,
        &typed.version,
        &form.1,
        move |c, actor, seen| {
            Ok(objections::decide(
                c,
                actor,
                &oid,
                decision,
                &note,
                Some(seen),
                tz,
            )?)
        },
    )
    .await;
    or_again(lang_of(&req), form_name, &typed, result, |r| {
        objections_page(req, user, state, r)
    })
    .await
}
