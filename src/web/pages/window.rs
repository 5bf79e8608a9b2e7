//! The households' window and the public pages: a household's own page
//! behind its card and PIN, and the notice, honour roll, shelves and
//! rulebook that anyone may read. No script is needed to read any of them.
//!
//! Every household handler takes the [`Household`] extractor (the open
//! session, or back to `/h` for the PIN), calls one `window` operation with
//! it, and on a refused field draws the page again (422) with what was
//! typed and the message beside its form (`Returned`).

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;

use crate::domain::FieldError;
use crate::i18n;
use crate::points::{self, Category, Rule};
use crate::reports::Month;
use crate::web::extract::{CsrfForm, lang_of, maybe_user, request_info, state as state_of};
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
    report_error: Option<String>,
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
        let o = window::overview(c, &s, today, &expired)?;
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

/// The label key of a report form's field, by its name.
fn report_field(name: &str) -> &'static str {
    match name {
        "rule_code" => "field.rule",
        "occurred_on" => "field.occurred_on",
        "note" => "field.note",
        "photo" => "field.photo",
        _ => "field.form",
    }
}

/// The most parts a report form may have: its five fields and the photos,
/// with room for a browser's empty file part or two.
pub const MAX_REPORT_PARTS: usize = 5 + photo::MAX_PHOTOS + 4;

/// The household reports a good deed (multipart: the form's fields and up
/// to three photos). Photos are cleaned off the async workers; a form sent
/// twice reports once. A field error shows the page again with what was
/// typed (the photos must be chosen again: browsers never refill a file).
pub async fn report_deed(
    req: HttpRequest,
    h: Household,
    mut payload: actix_multipart::Multipart,
) -> Result<HttpResponse, AppError> {
    use futures_util::StreamExt;
    let state = state_of(&req);
    let mut csrf = String::new();
    let mut draft = Draft::default();
    let mut uploads: Vec<Vec<u8>> = Vec::new();
    let mut problem: Option<FieldError> = None;
    let mut parts = 0;
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|e| AppError::BadRequest(e.to_string()))?;
        // The form has five fields and a few photos: a body of endless
        // parts is not this form, and is not read on.
        parts += 1;
        if parts > MAX_REPORT_PARTS {
            return Err(AppError::BadRequest("too many parts".into()));
        }
        let name = field.name().unwrap_or("").to_string();
        let cap = if name == "photo" {
            photo::MAX_UPLOAD_BYTES
        } else {
            crate::web::extract::FORM_LIMIT
        };
        let mut buf = Vec::new();
        let mut over = false;
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| AppError::BadRequest(e.to_string()))?;
            if buf.len() + chunk.len() > cap {
                // Read on (and drop) so that the rest of the form arrives.
                over = true;
                continue;
            }
            buf.extend_from_slice(&chunk);
        }
        if name != "photo" {
            // Text that is not UTF-8 is refused, never stored mended.
            let text = match String::from_utf8(std::mem::take(&mut buf)) {
                Ok(t) if !over => t,
                Ok(_) => {
                    problem.get_or_insert(
                        FieldError::new(report_field(&name), "error.too_long").arg("max", cap),
                    );
                    continue;
                }
                Err(e) => {
                    problem.get_or_insert(FieldError::new(report_field(&name), "error.not_utf8"));
                    String::from_utf8_lossy(e.as_bytes()).into_owned()
                }
            };
            if crate::domain::has_control_chars(&text) {
                problem.get_or_insert(FieldError::new(report_field(&name), "error.control_chars"));
            }
            match name.as_str() {
                "csrf" => csrf = text,
                "key" => draft.key = text,
                "rule_code" => draft.rule_code = text,
                "occurred_on" => draft.occurred_on = text,
                "note" => draft.note = text,
                _ => {}
            }
            continue;
        }
        if over {
            problem.get_or_insert(
                FieldError::new("field.photo", "error.photo_too_large")
                    .arg("mb", photo::MAX_UPLOAD_BYTES / 1024 / 1024),
            );
        } else if buf.is_empty() {
            // A file input left empty still sends an empty part.
        } else if uploads.len() >= photo::MAX_PHOTOS {
            problem.get_or_insert(
                FieldError::new("field.photo", "error.photo_count").arg("max", photo::MAX_PHOTOS),
            );
        } else {
            uploads.push(buf);
        }
    }
    crate::web::extract::verify_csrf(&req, &csrf).await?;
    let s = h.session;
    let today = crate::time::today(state.config.time_zone);
    let parsed = match problem {
        Some(e) => Err(e),
        None => deeds::parse(&draft.rule_code, &draft.occurred_on, &draft.note, today).and_then(
            |input| crate::idempotency::IdemKey::parse(&draft.key).map(|key| (input, key)),
        ),
    };
    let cleaned = match parsed {
        Err(e) => Err(e),
        Ok((input, key)) => web::block(move || {
            uploads
                .iter()
                .map(|b| photo::clean(b))
                .collect::<Result<Vec<_>, _>>()
                .map(|photos| (input, key, photos))
        })
        .await
        .map_err(AppError::internal)?,
    };
    let lang = lang_of(&req);
    let back = |e: &FieldError, draft: Draft| Returned {
        draft,
        report_error: Some(i18n::field_error(lang, e)),
        ..Returned::default()
    };
    let (input, key, photos) = match cleaned {
        Ok(v) => v,
        Err(e) => return refused(&req, s, back(&e, draft)).await,
    };
    let s2 = s.clone();
    let result = run(&state, move |c| {
        Ok(deeds::report(c, &s2, &input, &photos, &key))
    })
    .await?;
    match result {
        Ok((_, false)) => Ok(flash_ok(&req, "/h#reports", "window.reported", &[])),
        Ok((_, true)) => Ok(flash_ok(&req, "/h#reports", "flash.already_done", &[])),
        Err(WindowError::Field(e)) => refused(&req, s, back(&e, draft)).await,
        Err(other) => Err(unexpected(other)),
    }
}

#[derive(Deserialize)]
pub struct ObjectionForm {
    #[serde(default)]
    award_id: String,
    #[serde(default)]
    reason: String,
}

/// The household objects to an entry of its village's notice.
pub async fn object(
    req: HttpRequest,
    h: Household,
    form: CsrfForm<ObjectionForm>,
) -> Result<HttpResponse, AppError> {
    let state = state_of(&req);
    let f = form.0;
    let today = crate::time::today(state.config.time_zone);
    let s = h.session;
    let (s2, award, reason) = (s.clone(), f.award_id.clone(), f.reason.clone());
    let result = run(&state, move |c| {
        Ok(objections::object(c, &s2, &award, &reason, today))
    })
    .await?;
    match result {
        Ok(_) => Ok(flash_ok(&req, "/h#notice", "window.objected", &[])),
        Err(WindowError::Field(e)) => {
            let back = Returned {
                objection_award: f.award_id,
                objection_reason: f.reason,
                objection_error: Some(i18n::field_error(lang_of(&req), &e)),
                ..Returned::default()
            };
            refused(&req, s, back).await
        }
        Err(other) => Err(unexpected(other)),
    }
}

/// One of the household's own photos (never another household's).
pub async fn own_photo(
    req: HttpRequest,
    h: Household,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let state = state_of(&req);
    let id = path.into_inner();
    let s = h.session;
    let jpeg = run(&state, move |c| Ok(deeds::photo_for_household(c, &s, &id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(jpeg_response(jpeg))
}

/// A stored photo as a response: never cached by anyone.
pub fn jpeg_response(jpeg: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/jpeg"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(jpeg)
}

/// `/h/{card_no}`: where the card's QR code leads; the card number is
/// filled in, the PIN is asked for.
pub async fn card(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let typed = path.into_inner();
    let card = crate::domain::CardNo::parse("field.card_no", &typed)
        .map(|c| c.as_str().to_string())
        .unwrap_or_default();
    if let Some(h) = household_of(&req).await?
        && h.session.card_no == card
    {
        return Ok(see_other("/h"));
    }
    let ctx = ctx_of(&req).await?;
    login_page(&ctx, card, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    card_no: String,
    #[serde(default)]
    pin: String,
}

/// Open the household's page with its card number and PIN. The phone gets
/// (or renews) its device mark for the card.
pub async fn log_in(req: HttpRequest, form: CsrfForm<LoginForm>) -> Result<HttpResponse, AppError> {
    let state = state_of(&req);
    let form = form.0;
    let info = request_info(&req);
    let secure = state.config.secure_cookies;
    let device = device_of(&req, secure);
    let (key, config) = (state.key.clone(), state.config.clone());
    let (card, pin) = (form.card_no.clone(), form.pin.clone());
    let result = run(&state, move |c| {
        Ok(window::log_in(
            c,
            &key,
            &config,
            &card,
            &pin,
            &info.ip,
            &info.id,
            device.as_deref(),
        ))
    })
    .await?;
    let lang = lang_of(&req);
    let (status, key) = match result {
        Ok((token, mark)) => {
            let cookie = Cookie::build(cookie_name(secure), token)
                .path("/")
                .http_only(true)
                .secure(secure)
                .same_site(SameSite::Lax)
                .max_age(CookieDuration::minutes(window::SESSION_MINUTES))
                .finish();
            let device = Cookie::build(device_cookie_name(secure), mark)
                .path("/")
                .http_only(true)
                .secure(secure)
                .same_site(SameSite::Lax)
                .max_age(CookieDuration::days(DEVICE_MARK_DAYS))
                .finish();
            return Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/h"))
                .cookie(cookie)
                .cookie(device)
                .finish());
        }
        Err(WindowError::Refused) => (StatusCode::UNAUTHORIZED, "window.refused"),
        Err(WindowError::Throttled) => (StatusCode::TOO_MANY_REQUESTS, "window.throttled"),
        Err(other) => return Err(unexpected(other)),
    };
    let ctx = ctx_of(&req).await?;
    let card = crate::domain::input::normalize(&form.card_no);
    login_page(&ctx, card, Some(i18n::t(lang, key).to_string()), status)
}

/// Close the household's page.
pub async fn log_out(
    req: HttpRequest,
    _form: CsrfForm<super::auth::Empty>,
) -> Result<HttpResponse, AppError> {
    let state = state_of(&req);
    let secure = state.config.secure_cookies;
    if let Some(token) = token_of(&req, secure) {
        run(&state, move |c| Ok(window::log_out(c, &token)?)).await?;
    }
    let mut gone = Cookie::build(cookie_name(secure), "")
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish();
    gone.set_max_age(CookieDuration::ZERO);
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/h"))
        .cookie(gone)
        .finish())
}

#[derive(Deserialize)]
pub struct PinForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    again: String,
}

/// The household changes its PIN. A refusal (a malformed or mismatched new
/// PIN, a wrong current one, too many tries) draws the page again with the
/// message beside the PIN form: 422, or 429 when throttled.
pub async fn change_pin(
    req: HttpRequest,
    h: Household,
    form: CsrfForm<PinForm>,
) -> Result<HttpResponse, AppError> {
    let state = state_of(&req);
    let f = form.0;
    let (key, config) = (state.key.clone(), state.config.clone());
    let device = device_of(&req, state.config.secure_cookies);
    let (s, token) = (h.session, h.token);
    let s2 = s.clone();
    let result = run(&state, move |c| {
        Ok(window::change_pin(
            c,
            &key,
            &config,
            &s2,
            &token,
            &f.current,
            &f.new,
            &f.again,
            device.as_deref(),
        ))
    })
    .await?;
    let lang = lang_of(&req);
    let (e, status) = match result {
        Ok(()) => return Ok(flash_ok(&req, "/h", "window.pin_changed", &[])),
        Err(WindowError::Field(e)) => (
            i18n::field_error(lang, &e),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(WindowError::Refused) => (
            i18n::field_error(
                lang,
                &FieldError::new("field.current_pin", "error.pin_wrong"),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(WindowError::Throttled) => (
            i18n::t(lang, "window.throttled").to_string(),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(other) => return Err(unexpected(other)),
    };
    let back = Returned {
        pin_error: Some(e),
        ..Returned::default()
    };
    home_page(&req, s, back, status).await
}

#[derive(Deserialize)]
pub struct HonourForm {
    #[serde(default)]
    opt_out: String,
}

/// The household asks to be left off the honour roll ("1"), or to be on it
/// ("0"); anything else is refused (422).
pub async fn honour_choice(
    req: HttpRequest,
    h: Household,
    form: CsrfForm<HonourForm>,
) -> Result<HttpResponse, AppError> {
    let state = state_of(&req);
    let s = h.session;
    let opt_out = match form.0.opt_out.as_str() {
        "1" => true,
        "0" => false,
        _ => {
            let e = FieldError::new("field.honour", "error.choose_one");
            let back = Returned {
                honour_error: Some(i18n::field_error(lang_of(&req), &e)),
                ..Returned::default()
            };
            return refused(&req, s, back).await;
        }
    };
    run(&state, move |c| {
        window::set_honour_opt_out(c, &s, opt_out).map_err(unexpected)
    })
    .await?;
    Ok(flash_ok(&req, "/h", "window.honour_saved", &[]))
}

/// Public pages may be kept by the browser and proxies for a few minutes.
fn public_page(mut res: HttpResponse) -> HttpResponse {
    if res.status().is_success() {
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("public, max-age=300"),
        );
    }
    res
}

/// The public pages' rate limit: so many requests per client address and
/// minute (`Config::public_per_minute`), counted in the database so that it
/// holds across app servers (`auth::throttle`). Some(answer) when over it:
/// 429 with a plain page and Retry-After.
async fn public_gate(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<HttpResponse>, AppError> {
    let ip = request_info(req).ip;
    let max = state.config.public_per_minute;
    let ok = run(state, move |c| {
        let limit = crate::auth::throttle::Limit {
            key: format!("public:{ip}"),
            max,
        };
        Ok(crate::auth::throttle::take_within(
            c,
            &[limit],
            chrono::Duration::minutes(1),
            crate::db::now(),
        )?)
    })
    .await?;
    if ok {
        return Ok(None);
    }
    let ctx = ctx_of(req).await?;
    let mut res = render_with_status(&ctx, &BusyPage { ctx: &ctx }, StatusCode::TOO_MANY_REQUESTS)?;
    res.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
    Ok(Some(res))
}

#[derive(Template)]
#[template(path = "window/busy.html")]
struct BusyPage<'a> {
    ctx: &'a PageCtx,
}

#[derive(Deserialize, Default)]
pub struct PeriodQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    month: String,
    #[serde(default)]
    village: String,
}

#[derive(Template)]
#[template(path = "window/notice.html")]
struct NoticePage<'a> {
    ctx: &'a PageCtx,
    n: public::Notice,
    outcomes: Vec<objections::Outcome>,
}

#[derive(Template)]
#[template(path = "window/pick.html")]
struct PickPage<'a> {
    ctx: &'a PageCtx,
    towns: Vec<public::TownVillages>,
    /// "notice" or "honours": where the choice leads.
    target: &'static str,
    village: String,
    from: String,
    to: String,
    month: String,
    error: Option<String>,
}

/// The longest period one notice shows, in days (one month's notice).
pub const NOTICE_SPAN_DAYS: i64 = 31;

/// The period a notice is asked for: this month so far when nothing is
/// given. The notice is what is on notice now, not the village's history:
/// a period starts no earlier than the first day of last month (the last
/// notice a household may still be reading), ends no later than today and
/// spans at most [`NOTICE_SPAN_DAYS`]. Anything else, or a date that cannot
/// be, is an error naming the field, never quietly replaced.
fn notice_period(
    q: &PeriodQuery,
    today: chrono::NaiveDate,
) -> Result<(chrono::NaiveDate, chrono::NaiveDate), FieldError> {
    let (month_start, _) = points::Period::Month.window(today);
    let (earliest, _) = points::Period::Month.window(month_start - chrono::Duration::days(1));
    let date = crate::domain::input::parse_optional_date;
    let from = date("field.from", &q.from)?.unwrap_or(month_start);
    let to = date("field.to", &q.to)?.unwrap_or(today);
    if from < earliest {
        return Err(FieldError::new("field.from", "error.notice_too_early").arg("date", earliest));
    }
    if to > today {
        return Err(FieldError::new("field.to", "error.date_in_future"));
    }
    if to < from {
        return Err(FieldError::new("field.to", "error.period_backwards"));
    }
    if (to - from).num_days() >= NOTICE_SPAN_DAYS {
        return Err(FieldError::new("field.to", "error.notice_span").arg("days", NOTICE_SPAN_DAYS));
    }
    Ok((from, to))
}

/// `/public/notice`: choose a village (by town and name) for its notice;
/// with `?village=` it shows that village's notice.
pub async fn notice_pick(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    if let Some(busy) = public_gate(&req, &state).await? {
        return Ok(busy);
    }
    let q = q.into_inner();
    if !q.village.trim().is_empty() {
        return notice_of(&req, &state, q.village.trim().to_string(), q).await;
    }
    pick_page(&req, &state, "notice", q, None, StatusCode::OK).await
}

async fn pick_page(
    req: &HttpRequest,
    state: &AppState,
    target: &'static str,
    q: PeriodQuery,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx_of(req).await?;
    let towns = run(state, |c| Ok(public::towns_and_villages(c)?)).await?;
    let res = render_with_status(
        &ctx,
        &PickPage {
            ctx: &ctx,
            towns,
            target,
            village: q.village,
            from: q.from,
            to: q.to,
            month: q.month,
            error,
        },
        status,
    )?;
    Ok(public_page(res))
}

/// A village's public notice: this month's awards unless a period is asked.
pub async fn notice(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    if let Some(busy) = public_gate(&req, &state).await? {
        return Ok(busy);
    }
    notice_of(&req, &state, path.into_inner(), q.into_inner()).await
}

async fn notice_of(
    req: &HttpRequest,
    state: &AppState,
    id: String,
    mut q: PeriodQuery,
) -> Result<HttpResponse, AppError> {
    let today = crate::time::today(state.config.time_zone);
    let (from, to) = match notice_period(&q, today) {
        Ok(p) => p,
        Err(e) => {
            let msg = i18n::field_error(lang_of(req), &e);
            q.village = id;
            return pick_page(
                req,
                state,
                "notice",
                q,
                Some(msg),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let ctx = ctx_of(req).await?;
    let found = run(state, move |c| {
        Ok(match public::notice(c, &id, from, to)? {
            Some(n) => {
                let outcomes = objections::outcomes(c, &n.village.id, from, to)?;
                Some((n, outcomes))
            }
            None => None,
        })
    })
    .await?;
    let (n, outcomes) = found.ok_or(AppError::NotFound)?;
    render(
        &ctx,
        &NoticePage {
            ctx: &ctx,
            n,
            outcomes,
        },
    )
    .map(public_page)
}

#[derive(Template)]
#[template(path = "window/honours.html")]
struct HonoursPage<'a> {
    ctx: &'a PageCtx,
    area: crate::areas::Area,
    month: Month,
    honours: Vec<public::Honour>,
    /// True on the black list (黑榜): points deducted, not earned.
    black: bool,
    /// Whether the scheme publishes a black list (a link to it).
    black_list_on: bool,
}

fn month_asked(q: &PeriodQuery, today: chrono::NaiveDate) -> Result<Month, AppError> {
    if q.month.trim().is_empty() {
        Ok(Month::of(today).prev())
    } else {
        Ok(Month::parse(&q.month)?)
    }
}

/// `/public/honours`: choose a town or village for its honour roll.
pub async fn honours_pick(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    if let Some(busy) = public_gate(&req, &state).await? {
        return Ok(busy);
    }
    pick_page(
        &req,
        &state,
        "honours",
        q.into_inner(),
        None,
        StatusCode::OK,
    )
    .await
}

/// The honour roll (红榜) of an area for a month (the month before this
/// one unless asked), printable as an A4 poster.
pub async fn honours(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    ranked_page(req, state, path.into_inner(), q.into_inner(), false).await
}

/// The black list (黑榜) of an area for a month: only when the scheme has
/// turned it on (`settings::BLACK_LIST`); otherwise there is no such page.
pub async fn black_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    ranked_page(req, state, path.into_inner(), q.into_inner(), true).await
}

async fn ranked_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: String,
    q: PeriodQuery,
    black: bool,
) -> Result<HttpResponse, AppError> {
    if let Some(busy) = public_gate(&req, &state).await? {
        return Ok(busy);
    }
    let ctx = ctx_of(&req).await?;
    let today = crate::time::today(state.config.time_zone);
    let month = month_asked(&q, today)?;
    let (area, honours, black_list_on) = run(&state, move |c| {
        let on = crate::settings::get_bool(c, crate::settings::BLACK_LIST)?;
        if black && !on {
            return Err(AppError::NotFound);
        }
        let found = if black {
            public::black_list(c, &id, month)?
        } else {
            public::honours(c, &id, month)?
        };
        let (area, honours) = found.ok_or(AppError::NotFound)?;
        Ok((area, honours, on))
    })
    .await?;
    render(
        &ctx,
        &HonoursPage {
            ctx: &ctx,
            area,
            month,
            honours,
            black,
            black_list_on,
        },
    )
    .map(public_page)
}

#[derive(Template)]
#[template(path = "window/shelf.html")]
struct ShelfPage<'a> {
    ctx: &'a PageCtx,
    s: public::StoreShelf,
}

/// A store's public price list: goods, points, in stock or not.
pub async fn shelf(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    if let Some(busy) = public_gate(&req, &state).await? {
        return Ok(busy);
    }
    let ctx = ctx_of(&req).await?;
    let id = path.into_inner();
    let s = run(&state, move |c| Ok(public::shelf(c, &id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    render(&ctx, &ShelfPage { ctx: &ctx, s }).map(public_page)
}

#[derive(Template)]
#[template(path = "window/rules.html")]
struct RulesPage<'a> {
    ctx: &'a PageCtx,
    rules: Vec<(Rule, String)>,
    categories: Vec<Category>,
}

/// The rulebook: what earns and what costs points.
pub async fn rules(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    if let Some(busy) = public_gate(&req, &state).await? {
        return Ok(busy);
    }
    let ctx = ctx_of(&req).await?;
    let (rules, categories) = run(&state, |c| {
        Ok((points::current_rules(c)?, points::categories(c)?))
    })
    .await?;
    let rules = rules.into_iter().filter(|(r, _)| r.active).collect();
    render(
        &ctx,
        &RulesPage {
            ctx: &ctx,
            rules,
            categories,
        },
    )
    .map(public_page)
}
