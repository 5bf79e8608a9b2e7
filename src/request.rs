//! What a request carries for every layer: the app's state, the request's
//! id and the client's address (set by the middleware), and the audit
//! context made from them and the actor.

use actix_web::{HttpMessage, HttpRequest, web};

use crate::audit::AuditCtx;
use crate::auth::Authed;
use crate::state::AppState;

/// The request's id and the client's address, kept in the request.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub id: String,
    pub ip: String,
}

/// The app's state (set at assembly).
pub fn state(req: &HttpRequest) -> web::Data<AppState> {
    req.app_data::<web::Data<AppState>>()
        .expect("AppState is registered")
        .clone()
}

/// The request's id and the client's address (empty outside the
/// middleware, as in a test).
pub fn request_info(req: &HttpRequest) -> RequestInfo {
    req.extensions()
        .get::<RequestInfo>()
        .cloned()
        .unwrap_or_default()
}

/// Who is acting and from where, for audit rows: the actor's own when
/// someone is logged in (`Authed::audit`), else the request's address and id.
pub fn audit_ctx(req: &HttpRequest, user: Option<&Authed>) -> AuditCtx {
    match user {
        Some(u) => u.audit(),
        None => {
            let info = request_info(req);
            AuditCtx {
                user_id: None,
                username: String::new(),
                ip: info.ip,
                request_id: info.id,
            }
        }
    }
}

/// The methods the routes of a table take at `path` (`routes` gives each
/// route's template and method; `{name}` is one segment, `{name:.*}` the
/// rest). Empty when no route's template fits: an unknown address (404);
/// otherwise the request's method is not one of them (405 with `Allow`).
pub fn methods_at<'a>(
    path: &str,
    routes: impl Iterator<Item = (&'a str, &'a actix_web::http::Method)>,
) -> Vec<actix_web::http::Method> {
    let mut out: Vec<actix_web::http::Method> = Vec::new();
    for (template, method) in routes {
        if actix_web::dev::ResourceDef::new(template).is_match(path) && !out.contains(method) {
            out.push(method.clone());
        }
    }
    out
}

/// The `Allow` header of a path taking `methods`: HEAD wherever GET is.
pub fn allow_header<'a>(methods: impl Iterator<Item = &'a actix_web::http::Method>) -> String {
    let mut names: Vec<&str> = Vec::new();
    for m in methods {
        if !names.contains(&m.as_str()) {
            names.push(m.as_str());
        }
        if *m == actix_web::http::Method::GET && !names.contains(&"HEAD") {
            names.push("HEAD");
        }
    }
    names.join(", ")
}

/// One name or value of a url-encoded form or query string as bytes: `+` is a space and
/// `%XY` the byte XY (a `%` not followed by two hex digits stays as it is,
/// as browsers and the form parser read it).
pub fn url_decode(raw: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < raw.len() => match (hex(raw[i + 1]), hex(raw[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// What makes a field of a url-encoded query or form unreadable as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spoiled {
    /// Its name or value holds control characters (a NUL, which PostgreSQL
    /// refuses in text).
    Control,
    /// Its name or value, percent-decoded, is not UTF-8.
    NotUtf8,
}

/// The fields of a url-encoded query or form (`raw`, as sent) that cannot
/// be read as text, in order: each field's name as text (bytes that are not
/// UTF-8 and a NUL shown as U+FFFD) with what spoils it. A field may be
/// named more than once.
pub fn spoiled_pairs(raw: &[u8]) -> impl Iterator<Item = (String, Spoiled)> + '_ {
    raw.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .filter_map(|pair| {
            let mut halves = pair.splitn(2, |b| *b == b'=');
            let name = url_decode(halves.next().unwrap_or_default());
            let value = url_decode(halves.next().unwrap_or_default());
            let spoiled = match (std::str::from_utf8(&name), std::str::from_utf8(&value)) {
                (Ok(n), Ok(v))
                    if crate::domain::has_control_chars(n)
                        || crate::domain::has_control_chars(v) =>
                {
                    Spoiled::Control
                }
                (Ok(_), Ok(_)) => return None,
                _ => Spoiled::NotUtf8,
            };
            Some((
                String::from_utf8_lossy(&name).replace('\0', "\u{FFFD}"),
                spoiled,
            ))
        })
}
