//! The households' window and the public pages: a household's own page
//! behind its card and PIN, and the notice, honour roll, shelves and
//! rulebook that anyone may read. No script is needed to read any of them.
//!
//! Every household handler takes the [`Household`] extractor (the open
//! session, or back to `/h` for the PIN), calls one `window` operation with
//! it, and on a refused field draws the page again (422) with what was
//! typed and the message beside its form (`Returned`).

mod account;
mod forms;
mod public_pages;

pub use account::*;
pub use forms::*;
pub use public_pages::*;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;

use crate::domain::{FieldChecks, FieldError};
use crate::i18n;
use crate::points::{self, Category, Rule};
use crate::reports::Month;
use crate::web::extract::{CsrfForm, Filter, lang_of, maybe_user, request_info, state as state_of};
use crate::web::form::FormErrors;
use crate::web::middleware::see_other;
use crate::web::page::{PageCtx, flash_ok, render, render_with_status};
use crate::web::{AppError, AppState, run};
use crate::window::deeds::{self, Report};
use crate::window::objections::{self, OnNotice};
use crate::window::photo;
use crate::window::{self, HouseholdSession, Overview, WindowError, public};

/// The household session's cookie (with `__Host-` behind TLS).
fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-aixin_household"
    } else {
        "aixin_household"
    }
}

/// The phone's device mark for its card (`window::device_mark`).
fn device_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-aixin_card_device"
    } else {
        "aixin_card_device"
    }
}

/// How long a phone keeps its device mark, in days.
pub const DEVICE_MARK_DAYS: i64 = 365;

fn token_of(req: &HttpRequest, secure: bool) -> Option<String> {
    req.cookie(cookie_name(secure))
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
}

fn device_of(req: &HttpRequest, secure: bool) -> Option<String> {
    req.cookie(device_cookie_name(secure))
        .map(|c| c.value().chars().take(200).collect::<String>())
        .filter(|v| !v.is_empty())
}

/// The household of this request's window session: what every household
/// page and form takes, and hands to the `window` operation as the one
/// who acts. Without an open session (never opened, ended, or expired
/// after its 10 minutes) the request goes back to `/h` for the PIN.
pub struct Household {
    pub session: HouseholdSession,
    /// The session's secret (a PIN change keeps this session open).
    token: String,
}

/// A household request without an open session: back to `/h`.
#[derive(Debug, thiserror::Error)]
#[error("the household's page is closed")]
pub struct WindowClosed;

impl ResponseError for WindowClosed {
    fn status_code(&self) -> StatusCode {
        StatusCode::SEE_OTHER
    }

    fn error_response(&self) -> HttpResponse {
        see_other("/h")
    }
}

/// The open session of this request, if any.
async fn household_of(req: &HttpRequest) -> Result<Option<Household>, AppError> {
    let state = state_of(req);
    let Some(token) = token_of(req, state.config.secure_cookies) else {
        return Ok(None);
    };
    let info = request_info(req);
    let t = token.clone();
    let s = run(&state, move |c| {
        Ok(window::session(c, &t, &info.ip, &info.id)?)
    })
    .await?;
    Ok(s.map(|session| Household { session, token }))
}

impl FromRequest for Household {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match household_of(&req).await? {
                Some(h) => Ok(h),
                None => Err(WindowClosed.into()),
            }
        })
    }
}

/// A page context for the window: a logged-in staff user's, if any (so that
/// the forms' CSRF token is the one their session expects).
async fn ctx_of(req: &HttpRequest) -> Result<PageCtx, AppError> {
    let user = maybe_user(req).await?;
    Ok(PageCtx::build(req, user.as_deref()))
}

#[derive(Template)]
#[template(path = "window/login.html")]
struct LoginPage<'a> {
    ctx: &'a PageCtx,
    card_no: String,
    error: Option<String>,
}

fn login_page(
    ctx: &PageCtx,
    card_no: String,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    render_with_status(
        ctx,
        &LoginPage {
            ctx,
            card_no,
            error,
        },
        status,
    )
}

#[derive(Template)]
#[template(path = "window/home.html")]
struct HomePage<'a> {
    ctx: &'a PageCtx,
    o: Overview,
    minutes: i64,
    /// "N points expire after DATE", when some will.
    expiring: Option<String>,
    /// The rules a household may report under (those that earn points).
    rules: Vec<(Rule, String)>,
    reports: Vec<Report>,
    on_notice: Vec<OnNotice>,
    /// A form that came back, with what was typed and what was wrong.
    back: Returned,
    max_photos: usize,
}

/// What the household typed into the report form.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    key: String,
    rule_code: String,
    occurred_on: String,
    note: String,
}

/// A household form that came back refused: what was typed into it (never
/// a PIN: those are typed again, as browsers never refill a password) and
/// the message shown beside it.
#[derive(Debug, Clone, Default)]
pub struct Returned {
    draft: Draft,
    /// The report form's refusal: every message, each beside its field.
    report_errors: FormErrors,
    /// The entry objected to and the reason typed.
    objection_award: String,
    objection_reason: String,
    objection_error: Option<String>,
    pin_error: Option<String>,
    honour_error: Option<String>,
}

/// Draw the household's page (with a form that came back, if any).
async fn home_page(
    req: &HttpRequest,
    s: HouseholdSession,
    mut back: Returned,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let state = state_of(req);
    let ctx = ctx_of(req).await?;
    let today = crate::time::today(state.config.time_zone);
    let lang = ctx.lang;
    let (o, rules, reports, on_notice) = run(&state, move |c| {
        let expired = move |earned: &str| {
            i18n::tf(
                lang,
                "ledger.expired_earned_by",
                &[("date", earned.to_string())],
            )
        };
        let o = window::overview(c, &s, today, lang, &expired)?;
        let rules = points::current_rules(c)?
            .into_iter()
            .filter(|(r, _)| r.active && r.points > 0)
            .collect::<Vec<_>>();
        let reports = deeds::of_household(c, &s.household_id)?;
        let on_notice = objections::on_notice_for(c, &s, today)?;
        Ok((o, rules, reports, on_notice))
    })
    .await?;
    let expiring = o.upcoming.as_ref().map(|u| {
        ctx.tf(
            "window.expiring",
            &[
                ("points", u.points.to_string()),
                ("date", u.valid_until.to_string()),
            ],
        )
    });
    if back.draft.key.is_empty() {
        back.draft.key = crate::idempotency::IdemKey::issue().to_string();
    }
    if back.draft.occurred_on.is_empty() {
        back.draft.occurred_on = today.to_string();
    }
    render_with_status(
        &ctx,
        &HomePage {
            ctx: &ctx,
            o,
            minutes: window::SESSION_MINUTES,
            expiring,
            rules,
            reports,
            on_notice,
            back,
            max_photos: photo::MAX_PHOTOS,
        },
        status,
    )
}

/// The household's page again, 422, with a refused form.
async fn refused(
    req: &HttpRequest,
    s: HouseholdSession,
    back: Returned,
) -> Result<HttpResponse, AppError> {
    home_page(req, s, back, StatusCode::UNPROCESSABLE_ENTITY).await
}

/// An error of a household operation that is not about a field.
fn unexpected(e: WindowError) -> AppError {
    match e {
        WindowError::Db(e) => e.into(),
        WindowError::Field(f) => AppError::Invalid(f),
        other => AppError::internal(other),
    }
}

/// `/h`: the household's own page, or the form to open it.
pub async fn home(req: HttpRequest) -> Result<HttpResponse, AppError> {
    let Some(h) = household_of(&req).await? else {
        let ctx = ctx_of(&req).await?;
        return login_page(&ctx, String::new(), None, StatusCode::OK);
    };
    home_page(&req, h.session, Returned::default(), StatusCode::OK).await
}
