//! What every page carries (user, language, CSRF token, flash messages), and
//! drawing pages.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::error::AppError;
use super::extract::{Authed, CookieNames, lang_of, request_info, state};
use crate::auth::Action;
use crate::auth::session::random_token;
use crate::domain::Role;
use crate::i18n::{self, Lang};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlashKind {
    Ok,
    Error,
}

#[derive(Debug, Clone)]
pub struct Flash {
    pub kind: FlashKind,
    pub text: String,
}

impl Flash {
    pub fn is_error(&self) -> bool {
        self.kind == FlashKind::Error
    }
}

/// The logged-in user as the navigation sees them.
#[derive(Debug, Clone)]
pub struct NavUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
}

pub struct NavItem {
    pub href: &'static str,
    pub label_key: &'static str,
}

impl NavItem {
    /// Keeping the scheme (users, areas, settings, checks) rather than daily
    /// work: these go under one "manage" menu.
    pub fn is_admin(&self) -> bool {
        matches!(
            self.href,
            "/users"
                | "/areas"
                | "/settings"
                | "/operations"
                | "/audit"
                | "/ledger/verify"
                | "/ledger/stock"
                | "/adjustments"
        )
    }
}

pub struct PageCtx {
    pub lang: Lang,
    pub user: Option<NavUser>,
    pub csrf: String,
    pub flashes: Vec<Flash>,
    pub request_id: String,
    pub path: String,
    /// Where the language switch comes back to: this page with its query
    /// (a GET's), so the page, its filters and its paging stay.
    pub back: String,
    pub time_zone: chrono_tz::Tz,
    /// The pre-login CSRF cookie to set, when the browser has none yet.
    new_pre_csrf: Option<String>,
    had_flash: bool,
    secure_cookies: bool,
    nav: Vec<NavItem>,
}

impl PageCtx {
    pub fn build(req: &HttpRequest, user: Option<&Authed>) -> PageCtx {
        let st = state(req);
        let secure = st.config.secure_cookies;
        let (csrf, new_pre_csrf) = match user {
            Some(a) => (a.csrf.clone(), None),
            None => match req.cookie(CookieNames::pre_csrf(secure)) {
                Some(c) if !c.value().is_empty() => (c.value().to_string(), None),
                _ => {
                    let t = random_token();
                    (t.clone(), Some(t))
                }
            },
        };
        let flash_cookie = req.cookie(CookieNames::flash(secure));
        let flashes = flash_cookie
            .as_ref()
            .and_then(|c| decode_flash(c.value()))
            .into_iter()
            .collect();
        let nav = user.map(nav_for).unwrap_or_default();
        PageCtx {
            lang: lang_of(req),
            user: user.map(|a| NavUser {
                username: a.user.username.clone(),
                display_name: a.user.display_name.clone(),
                role: a.role(),
            }),
            csrf,
            flashes,
            request_id: request_info(req).id,
            path: req.path().to_string(),
            back: match (
                req.method() == actix_web::http::Method::GET,
                req.query_string(),
            ) {
                (true, q) if !q.is_empty() => format!("{}?{}", req.path(), q),
                _ => req.path().to_string(),
            },
            time_zone: st.config.time_zone,
            new_pre_csrf,
            had_flash: flash_cookie.is_some(),
            secure_cookies: secure,
            nav,
        }
    }

    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        i18n::t(self.lang, key)
    }

    pub fn tf(&self, key: &str, args: &[(&str, String)]) -> String {
        i18n::tf(self.lang, key, args)
    }

    /// A text with one `{name}` placeholder filled in (for templates).
    pub fn t1(&self, key: &str, name: &str, value: impl std::fmt::Display) -> String {
        i18n::tf(self.lang, key, &[(name, value.to_string())])
    }

    pub fn nav(&self) -> &[NavItem] {
        &self.nav
    }

    pub fn has_admin_nav(&self) -> bool {
        self.nav.iter().any(NavItem::is_admin)
    }

    pub fn langs(&self) -> [Lang; 2] {
        Lang::ALL
    }

    pub fn lang_code(&self) -> &'static str {
        self.lang.code()
    }

    pub fn role_label<'a>(&self, role: &'a str) -> &'a str {
        match Role::parse(role) {
            Some(r) => self.t(r.label_key()),
            None => role_label_fallback(role),
        }
    }

    /// A UTC timestamp in the scheme's time zone.
    pub fn time(&self, at: &chrono::NaiveDateTime) -> String {
        crate::time::format_local(*at, self.time_zone)
    }

    pub fn is_current(&self, href: &str) -> bool {
        if href == "/" {
            self.path == "/"
        } else {
            self.path.starts_with(href)
        }
    }
}

fn role_label_fallback(role: &str) -> &str {
    role
}

fn nav_for(a: &Authed) -> Vec<NavItem> {
    let mut items = vec![NavItem {
        href: "/",
        label_key: "nav.home",
    }];
    if a.can(Action::Redeem) {
        items.push(NavItem {
            href: "/counter",
            label_key: "nav.counter",
        });
    }
    if a.can(Action::ViewHouseholds) {
        items.push(NavItem {
            href: "/households",
            label_key: "nav.households",
        });
    }
    if a.can(Action::ProposeAwards) {
        items.push(NavItem {
            href: "/awards",
            label_key: "nav.awards",
        });
    }
    if a.can(Action::ProposeAwards) {
        items.push(NavItem {
            href: "/deeds",
            label_key: "nav.deeds",
        });
    }
    if a.can(Action::ReviewAwards) {
        items.push(NavItem {
            href: "/review",
            label_key: "nav.review",
        });
        items.push(NavItem {
            href: "/objections",
            label_key: "nav.objections",
        });
    }
    if a.can(Action::ViewNotice) {
        items.push(NavItem {
            href: "/notice",
            label_key: "nav.notice",
        });
    }
    items.push(NavItem {
        href: "/rules",
        label_key: "nav.rules",
    });
    if a.can(Action::ViewReports) {
        items.push(NavItem {
            href: "/reports/monthly",
            label_key: "nav.reports",
        });
    }
    if a.can(Action::VerifyLedger) {
        items.push(NavItem {
            href: "/ledger/verify",
            label_key: "nav.ledger",
        });
    }
    if a.can(Action::ManageSettings) {
        items.push(NavItem {
            href: "/settings",
            label_key: "nav.settings",
        });
    }
    if a.can(Action::ViewOperations) {
        items.push(NavItem {
            href: "/operations",
            label_key: "nav.operations",
        });
    }
    if a.can(Action::ManageUsers) {
        items.push(NavItem {
            href: "/users",
            label_key: "nav.users",
        });
    }
    if a.can(Action::ViewAreas) {
        items.push(NavItem {
            href: "/areas",
            label_key: "nav.areas",
        });
    }
    if a.can(Action::ViewStores) {
        items.push(NavItem {
            href: "/stores",
            label_key: "nav.stores",
        });
    }
    if a.can(Action::ViewStock) && !a.can(Action::ViewStores) {
        items.push(NavItem {
            href: "/my-store",
            label_key: "nav.my_store",
        });
    }
    if a.can(Action::ViewStock) {
        items.push(NavItem {
            href: "/items",
            label_key: "nav.items",
        });
    }
    if a.can(Action::ViewDonors) {
        items.push(NavItem {
            href: "/donors",
            label_key: "nav.donors",
        });
    }
    if a.can(Action::VerifyLedger) {
        items.push(NavItem {
            href: "/ledger/stock",
            label_key: "nav.stock_ledger",
        });
    }
    if a.can(Action::ViewAudit) {
        items.push(NavItem {
            href: "/audit",
            label_key: "nav.audit",
        });
    }
    if a.can(Action::ViewSignals) {
        items.push(NavItem {
            href: "/signals",
            label_key: "nav.signals",
        });
    }
    items
}

fn encode_flash(f: &Flash) -> String {
    let kind = match f.kind {
        FlashKind::Ok => "ok",
        FlashKind::Error => "err",
    };
    super::error::urlencode(&format!("{kind}:{}", f.text))
}

fn decode_flash(v: &str) -> Option<Flash> {
    let decoded: Vec<(String, String)> = serde_urlencoded::from_str(&format!("f={v}")).ok()?;
    let text = decoded.into_iter().next()?.1;
    let (kind, text) = text.split_once(':')?;
    let kind = match kind {
        "ok" => FlashKind::Ok,
        "err" => FlashKind::Error,
        _ => return None,
    };
    Some(Flash {
        kind,
        text: text.chars().take(500).collect(),
    })
}

fn cookie<'c>(name: &'c str, value: String, secure: bool) -> Cookie<'c> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish()
}

/// Draw a page; sets or clears the cookies the context asks for.
pub fn render<T: Template>(ctx: &PageCtx, page: &T) -> Result<HttpResponse, AppError> {
    render_with_status(ctx, page, StatusCode::OK)
}

pub fn render_with_status<T: Template>(
    ctx: &PageCtx,
    page: &T,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let html = page.render().map_err(AppError::internal)?;
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"));
    if let Some(t) = &ctx.new_pre_csrf {
        res.cookie(cookie(
            CookieNames::pre_csrf(ctx.secure_cookies),
            t.clone(),
            ctx.secure_cookies,
        ));
    }
    if ctx.had_flash {
        let mut c = cookie(
            CookieNames::flash(ctx.secure_cookies),
            String::new(),
            ctx.secure_cookies,
        );
        c.set_max_age(CookieDuration::ZERO);
        res.cookie(c);
    }
    Ok(res.body(html))
}

/// A list's page past its last, as the page says it: "没有第 N 页，共 M 页"
/// ("There is no page N; there are M") with a link to the first page, in
/// place of an empty table; the page answers 404 then.
pub struct PastEnd {
    /// The message, in the reader's language.
    pub text: String,
    /// The list's first page, same filters.
    pub first: String,
}

impl PastEnd {
    /// `Some` when `page` (0-based, as [`super::extract::page_number`]
    /// reads it) is past the last of the list's `pages` (an empty list has
    /// one, its first); `first` is the first page's address.
    pub fn of(lang: Lang, page: i64, pages: i64, first: String) -> Option<PastEnd> {
        let pages = pages.max(1);
        (page >= pages).then(|| PastEnd {
            text: i18n::tf(
                lang,
                "common.no_such_page",
                &[("n", (page + 1).to_string()), ("m", pages.to_string())],
            ),
            first,
        })
    }

    /// What a list page answers: 404 past its end, else `status`.
    pub fn status(past_end: &Option<PastEnd>, status: StatusCode) -> StatusCode {
        match past_end {
            Some(_) if status == StatusCode::OK => StatusCode::NOT_FOUND,
            _ => status,
        }
    }
}

/// A value a redirect after a write may carry from its form into the next
/// page's address: only what that page needs, read as what it is. Free text
/// typed in a form never goes into an address (it would end in logs and
/// the browser's history).
pub enum Carry<'a> {
    /// A record id (a UUID's canonical text).
    Id(&'a str),
    /// A month, `YYYY-MM`.
    Month(&'a str),
    /// A code of letters, digits, '-', '_' or '.' (a rule's, `A.1`), at
    /// most 32.
    Code(&'a str),
}

impl Carry<'_> {
    /// The value, trimmed, when it reads as what it is said to be.
    fn value(&self) -> Option<&str> {
        match self {
            Carry::Id(v) => crate::domain::HouseholdId::parse(v.trim()).map(|_| v.trim()),
            Carry::Month(v) => crate::time::Month::parse(v.trim()).ok().map(|_| v.trim()),
            Carry::Code(v) => {
                let v = v.trim();
                (!v.is_empty()
                    && v.len() <= 32
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
                .then_some(v)
            }
        }
    }
}

/// `path` with the `carried` values that read as what they are as its
/// query (see [`Carry`]); a value that does not is left out.
pub fn next_page(path: &str, carried: &[(&str, Carry)]) -> String {
    let kept: Vec<(&str, &str)> = carried
        .iter()
        .filter_map(|(name, c)| c.value().map(|v| (*name, v)))
        .collect();
    if kept.is_empty() {
        return path.to_string();
    }
    format!(
        "{path}?{}",
        serde_urlencoded::to_string(kept).unwrap_or_default()
    )
}

/// POST -> 303 -> GET, with a message to show on the next page.
pub fn redirect_with_flash(
    req: &HttpRequest,
    location: &str,
    kind: FlashKind,
    text: String,
) -> HttpResponse {
    let secure = state(req).config.secure_cookies;
    let flash = Flash { kind, text };
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, super::middleware::sane_location(location)))
        .cookie(cookie(
            CookieNames::flash(secure),
            encode_flash(&flash),
            secure,
        ))
        .finish()
}

pub fn flash_ok(
    req: &HttpRequest,
    location: &str,
    key: &str,
    args: &[(&str, String)],
) -> HttpResponse {
    let text = i18n::tf(lang_of(req), key, args);
    redirect_with_flash(req, location, FlashKind::Ok, text)
}

/// Back to the form with what was wrong, naming the field.
pub fn flash_field_error(
    req: &HttpRequest,
    location: &str,
    e: &crate::domain::FieldError,
) -> HttpResponse {
    let text = i18n::field_error(lang_of(req), e);
    redirect_with_flash(req, location, FlashKind::Error, text)
}

/// A page-level result: field errors go back to `location` as a flash
/// message; other errors become error pages.
pub fn or_flash(
    req: &HttpRequest,
    location: &str,
    result: Result<HttpResponse, AppError>,
) -> Result<HttpResponse, AppError> {
    match result {
        Err(AppError::Invalid(e)) => Ok(flash_field_error(req, location, &e)),
        other => other,
    }
}

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage<'a> {
    ctx: &'a PageCtx,
    status: u16,
    title_key: &'static str,
    text_key: &'static str,
    detail: Option<String>,
    /// The page the refused request came from (this site's, from its
    /// `Referer`), offered as the way back where it helps.
    back: Option<String>,
}

/// The path (with query) of the page a request came from, when the
/// `Referer` names a page of this same site; otherwise none.
pub fn came_from(req: &actix_web::HttpRequest) -> Option<String> {
    let referer = req
        .headers()
        .get(actix_web::http::header::REFERER)?
        .to_str()
        .ok()?;
    let rest = referer
        .strip_prefix("https://")
        .or_else(|| referer.strip_prefix("http://"))?;
    let host = req.connection_info().host().to_string();
    let path = rest.strip_prefix(host.as_str())?;
    (path.starts_with('/') && !path.starts_with("//")).then(|| path.to_string())
}

/// The error page for `e`, answering `status`; `back` is the page the
/// request came from (see [`came_from`]), linked for a refused form.
pub fn render_error_page(
    ctx: &PageCtx,
    status: StatusCode,
    e: &AppError,
    back: Option<String>,
) -> HttpResponse {
    let (title_key, text_key) = e.page_keys();
    let detail = match e {
        AppError::Invalid(f) => Some(i18n::field_error(ctx.lang, f)),
        AppError::TooLarge { limit } => Some(i18n::tf(
            ctx.lang,
            "error.too_large_detail",
            &[("max", format!("{} KiB", limit / 1024))],
        )),
        _ => None,
    };
    let back = match e {
        AppError::Invalid(_) | AppError::TooLarge { .. } | AppError::BadRequest(_) => back,
        _ => None,
    };
    let page = ErrorPage {
        ctx,
        status: status.as_u16(),
        title_key,
        text_key,
        detail,
        back,
    };
    match render_with_status(ctx, &page, status) {
        Ok(res) => res,
        Err(_) => HttpResponse::build(status)
            .content_type("text/plain; charset=utf-8")
            .body(format!("{} (request {})", status, ctx.request_id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flash_round_trips_chinese_text() {
        let f = Flash {
            kind: FlashKind::Error,
            text: "用户名：已被占用 a=b&c".into(),
        };
        let back = decode_flash(&encode_flash(&f)).unwrap();
        assert_eq!(back.text, f.text);
        assert!(back.is_error());
        assert!(decode_flash("garbage").is_none());
    }
}
