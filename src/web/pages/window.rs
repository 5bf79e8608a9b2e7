//! The households' window and the public pages: a household's own page
//! behind its card and PIN, and the notice, honour roll, shelves and
//! rulebook that anyone may read. No script is needed to read any of them.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::FieldError;
use crate::i18n;
use crate::points::{self, Category, Rule};
use crate::reports::Month;
use crate::web::extract::{CsrfForm, lang_of, maybe_user, request_info};
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

fn token_of(req: &HttpRequest, secure: bool) -> Option<String> {
    req.cookie(cookie_name(secure))
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
}

/// The household of this request's session, if one is open.
async fn household_of(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<(HouseholdSession, String)>, AppError> {
    let Some(token) = token_of(req, state.config.secure_cookies) else {
        return Ok(None);
    };
    let t = token.clone();
    let s = run(state, move |c| Ok(window::session(c, &t)?)).await?;
    Ok(s.map(|s| (s, token)))
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
    /// The report form: a fresh key, and what was typed when it came back.
    draft: Draft,
    report_error: Option<String>,
    objection_error: Option<String>,
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

/// Draw the household's page (`draft` and the errors when a form came back).
async fn home_page(
    req: &HttpRequest,
    state: &AppState,
    s: HouseholdSession,
    mut draft: Draft,
    report_error: Option<String>,
    objection_error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx_of(req).await?;
    let today = crate::time::today(state.config.time_zone);
    let lang = ctx.lang;
    let (o, rules, reports, on_notice) = run(state, move |c| {
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
    if draft.key.is_empty() {
        draft.key = crate::idempotency::IdemKey::issue().to_string();
    }
    if draft.occurred_on.is_empty() {
        draft.occurred_on = today.to_string();
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
            draft,
            report_error,
            objection_error,
            max_photos: photo::MAX_PHOTOS,
        },
        status,
    )
}

/// `/h`: the household's own page, or the form to open it.
pub async fn home(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let Some((s, _)) = household_of(&req, &state).await? else {
        let ctx = ctx_of(&req).await?;
        return login_page(&ctx, String::new(), None, StatusCode::OK);
    };
    home_page(
        &req,
        &state,
        s,
        Draft::default(),
        None,
        None,
        StatusCode::OK,
    )
    .await
}

/// The household reports a good deed (multipart: the form's fields and up
/// to three photos). Photos are cleaned off the async workers; a form sent
/// twice reports once. A field error shows the page again with what was
/// typed (the photos must be chosen again: browsers never refill a file).
pub async fn report_deed(
    req: HttpRequest,
    state: web::Data<AppState>,
    mut payload: actix_multipart::Multipart,
) -> Result<HttpResponse, AppError> {
    use futures_util::StreamExt;
    let mut csrf = String::new();
    let mut draft = Draft::default();
    let mut uploads: Vec<Vec<u8>> = Vec::new();
    let mut problem: Option<FieldError> = None;
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|e| AppError::BadRequest(e.to_string()))?;
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
        let text = || String::from_utf8_lossy(&buf).into_owned();
        match name.as_str() {
            "csrf" => csrf = text(),
            "key" => draft.key = text(),
            "rule_code" => draft.rule_code = text(),
            "occurred_on" => draft.occurred_on = text(),
            "note" => draft.note = text(),
            "photo" if over => {
                problem.get_or_insert(
                    FieldError::new("field.photo", "error.photo_too_large")
                        .arg("mb", photo::MAX_UPLOAD_BYTES / 1024 / 1024),
                );
            }
            // A file input left empty still sends an empty part.
            "photo" if buf.is_empty() => {}
            "photo" if uploads.len() >= photo::MAX_PHOTOS => {
                problem.get_or_insert(
                    FieldError::new("field.photo", "error.photo_count")
                        .arg("max", photo::MAX_PHOTOS),
                );
            }
            "photo" => uploads.push(buf),
            _ => {}
        }
    }
    crate::web::extract::verify_csrf(&req, &csrf).await?;
    let Some((s, _)) = household_of(&req, &state).await? else {
        return Ok(see_other("/h"));
    };
    for v in [
        &draft.rule_code,
        &draft.occurred_on,
        &draft.note,
        &draft.key,
    ] {
        if crate::domain::has_control_chars(v) {
            problem.get_or_insert(FieldError::new("field.note", "error.control_chars"));
        }
    }
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
    let (input, key, photos) = match cleaned {
        Ok(v) => v,
        Err(e) => {
            let msg = i18n::field_error(lang, &e);
            return home_page(
                &req,
                &state,
                s,
                draft,
                Some(msg),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let info = request_info(&req);
    let s2 = s.clone();
    let result = run(&state, move |c| {
        Ok(deeds::report(
            c, &s2, &input, &photos, &key, &info.ip, &info.id,
        ))
    })
    .await?;
    match result {
        Ok((_, false)) => Ok(flash_ok(&req, "/h#reports", "window.reported", &[])),
        Ok((_, true)) => Ok(flash_ok(&req, "/h#reports", "flash.already_done", &[])),
        Err(WindowError::Field(e)) => {
            let msg = i18n::field_error(lang, &e);
            home_page(
                &req,
                &state,
                s,
                draft,
                Some(msg),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(WindowError::Db(e)) => Err(e.into()),
        Err(other) => Err(AppError::internal(other)),
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
    state: web::Data<AppState>,
    form: CsrfForm<ObjectionForm>,
) -> Result<HttpResponse, AppError> {
    let Some((s, _)) = household_of(&req, &state).await? else {
        return Ok(see_other("/h"));
    };
    let f = form.0;
    let info = request_info(&req);
    let today = crate::time::today(state.config.time_zone);
    let s2 = s.clone();
    let result = run(&state, move |c| {
        Ok(objections::object(
            c,
            &s2,
            &f.award_id,
            &f.reason,
            today,
            &info.ip,
            &info.id,
        ))
    })
    .await?;
    match result {
        Ok(_) => Ok(flash_ok(&req, "/h#notice", "window.objected", &[])),
        Err(WindowError::Field(e)) => {
            let msg = i18n::field_error(lang_of(&req), &e);
            home_page(
                &req,
                &state,
                s,
                Draft::default(),
                None,
                Some(msg),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(WindowError::Db(e)) => Err(e.into()),
        Err(other) => Err(AppError::internal(other)),
    }
}

/// One of the household's own photos (never another household's).
pub async fn own_photo(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let Some((s, _)) = household_of(&req, &state).await? else {
        return Err(AppError::NotFound);
    };
    let id = path.into_inner();
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
pub async fn card(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let typed = path.into_inner();
    let card = crate::domain::CardNo::parse("field.card_no", &typed)
        .map(|c| c.as_str().to_string())
        .unwrap_or_default();
    if let Some((s, _)) = household_of(&req, &state).await?
        && s.card_no == card
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

/// Open the household's page with its card number and PIN.
pub async fn log_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: CsrfForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.0;
    let info = request_info(&req);
    let (key, config) = (state.key.clone(), state.config.clone());
    let (card, pin) = (form.card_no.clone(), form.pin.clone());
    let result = run(&state, move |c| {
        Ok(window::log_in(
            c, &key, &config, &card, &pin, &info.ip, &info.id,
        ))
    })
    .await?;
    let lang = lang_of(&req);
    let (status, key) = match result {
        Ok(token) => {
            let secure = state.config.secure_cookies;
            let cookie = Cookie::build(cookie_name(secure), token)
                .path("/")
                .http_only(true)
                .secure(secure)
                .same_site(SameSite::Lax)
                .max_age(CookieDuration::minutes(window::SESSION_MINUTES))
                .finish();
            return Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/h"))
                .cookie(cookie)
                .finish());
        }
        Err(WindowError::Refused) => (StatusCode::UNAUTHORIZED, "window.refused"),
        Err(WindowError::Throttled) => (StatusCode::TOO_MANY_REQUESTS, "window.throttled"),
        Err(WindowError::Field(e)) => return Err(AppError::Invalid(e)),
        Err(WindowError::Db(e)) => return Err(e.into()),
        Err(other @ WindowError::Raced) => return Err(AppError::internal(other)),
    };
    let ctx = ctx_of(&req).await?;
    let card = crate::domain::input::normalize(&form.card_no);
    login_page(&ctx, card, Some(i18n::t(lang, key).to_string()), status)
}

/// Close the household's page.
pub async fn log_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    _form: CsrfForm<super::auth::Empty>,
) -> Result<HttpResponse, AppError> {
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

/// The household changes its PIN.
pub async fn change_pin(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: CsrfForm<PinForm>,
) -> Result<HttpResponse, AppError> {
    let Some((s, token)) = household_of(&req, &state).await? else {
        return Ok(see_other("/h"));
    };
    let f = form.0;
    let info = request_info(&req);
    let (key, config) = (state.key.clone(), state.config.clone());
    let result = run(&state, move |c| {
        Ok(window::change_pin(
            c, &key, &config, &s, &token, &f.current, &f.new, &f.again, &info.ip, &info.id,
        ))
    })
    .await?;
    match result {
        Ok(()) => Ok(flash_ok(&req, "/h", "window.pin_changed", &[])),
        Err(WindowError::Field(e)) => Ok(crate::web::page::flash_field_error(&req, "/h#pin", &e)),
        Err(WindowError::Refused) => Ok(crate::web::page::flash_field_error(
            &req,
            "/h#pin",
            &FieldError::new("field.current_pin", "error.pin_wrong"),
        )),
        Err(WindowError::Throttled) => Ok(crate::web::page::redirect_with_flash(
            &req,
            "/h#pin",
            crate::web::page::FlashKind::Error,
            i18n::t(lang_of(&req), "window.throttled").to_string(),
        )),
        Err(WindowError::Db(e)) => Err(e.into()),
        Err(other @ WindowError::Raced) => Err(AppError::internal(other)),
    }
}

#[derive(Deserialize)]
pub struct HonourForm {
    #[serde(default)]
    opt_out: String,
}

/// The household asks to be left off the honour roll, or to be on it.
pub async fn honour_choice(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: CsrfForm<HonourForm>,
) -> Result<HttpResponse, AppError> {
    let Some((s, _)) = household_of(&req, &state).await? else {
        return Ok(see_other("/h"));
    };
    let opt_out = form.0.opt_out == "1";
    let info = request_info(&req);
    run(&state, move |c| {
        window::set_honour_opt_out(c, &s, opt_out, &info.ip, &info.id).map_err(|e| match e {
            WindowError::Db(e) => AppError::from(e),
            other => AppError::internal(other),
        })
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

/// The period a notice is asked for: this month so far when nothing is
/// given; a date that cannot be (2026-02-30), or a period that ends before
/// it starts, is an error naming the field, never quietly replaced.
fn notice_period(
    q: &PeriodQuery,
    today: chrono::NaiveDate,
) -> Result<(chrono::NaiveDate, chrono::NaiveDate), FieldError> {
    let (month_start, _) = points::Period::Month.window(today);
    // A date shaped right that is not in the calendar gets its own message.
    let date = |field: &'static str, s: &str| {
        crate::domain::input::parse_optional_date(field, s).map_err(|e| {
            let t = crate::domain::input::normalize(s);
            let parts: Vec<&str> = t.split('-').collect();
            let shaped = parts.len() == 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            if shaped {
                FieldError::new(field, "error.date_impossible").arg("date", t)
            } else {
                e
            }
        })
    };
    let from = date("field.from", &q.from)?.unwrap_or(month_start);
    let to = date("field.to", &q.to)?.unwrap_or(today);
    if to < from {
        return Err(FieldError::new("field.to", "error.period_backwards"));
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
            return pick_page(req, state, "notice", q, Some(msg), StatusCode::BAD_REQUEST).await;
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
