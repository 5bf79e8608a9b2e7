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
}

/// `/h`: the household's own page, or the form to open it.
pub async fn home(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let ctx = ctx_of(&req).await?;
    let Some((s, _)) = household_of(&req, &state).await? else {
        return login_page(&ctx, String::new(), None, StatusCode::OK);
    };
    let today = crate::time::today(state.config.time_zone);
    let lang = ctx.lang;
    let o = run(&state, move |c| {
        let expired = move |earned: &str| {
            i18n::tf(
                lang,
                "ledger.expired_earned_by",
                &[("date", earned.to_string())],
            )
        };
        Ok(window::overview(c, &s, today, &expired)?)
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
    render(
        &ctx,
        &HomePage {
            ctx: &ctx,
            o,
            minutes: window::SESSION_MINUTES,
            expiring,
        },
    )
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
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("public, max-age=300"),
    );
    res
}

#[derive(Deserialize, Default)]
pub struct PeriodQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    month: String,
}

#[derive(Template)]
#[template(path = "window/notice.html")]
struct NoticePage<'a> {
    ctx: &'a PageCtx,
    n: public::Notice,
    error: Option<String>,
}

/// A village's public notice: this month's awards unless a period is asked.
pub async fn notice(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx_of(&req).await?;
    let today = crate::time::today(state.config.time_zone);
    let (month_start, _) = points::Period::Month.window(today);
    let mut error = None;
    let mut read =
        |field, s: &str, default| match crate::domain::input::parse_optional_date(field, s) {
            Ok(d) => d.unwrap_or(default),
            Err(e) => {
                error = Some(i18n::field_error(ctx.lang, &e));
                default
            }
        };
    let from = read("field.from", &q.from, month_start);
    let to = read("field.to", &q.to, today);
    let id = path.into_inner();
    let n = run(&state, move |c| Ok(public::notice(c, &id, from, to)?))
        .await?
        .ok_or(AppError::NotFound)?;
    render(
        &ctx,
        &NoticePage {
            ctx: &ctx,
            n,
            error,
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
}

/// The honour roll (红榜) of an area for a month (the month before this
/// one unless asked), printable as an A4 poster.
pub async fn honours(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx_of(&req).await?;
    let today = crate::time::today(state.config.time_zone);
    let month = if q.month.trim().is_empty() {
        Month::of(today).prev()
    } else {
        Month::parse(&q.month)?
    };
    let id = path.into_inner();
    let (area, honours) = run(&state, move |c| Ok(public::honours(c, &id, month)?))
        .await?
        .ok_or(AppError::NotFound)?;
    render(
        &ctx,
        &HonoursPage {
            ctx: &ctx,
            area,
            month,
            honours,
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
