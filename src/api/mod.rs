//! The JSON API (`/api/v1`): the same operations as the pages, through the
//! same domain code and the same permission check, for other programs (a
//! store's scanner, a household's phone, the province's systems).
//! Described by OpenAPI 3.1 at `/api/openapi.json`, readable at `/api/docs`.

pub mod areas;
pub mod auth;
pub mod card;
pub mod error;
pub mod households;
pub mod idempotency;
pub mod openapi;
pub mod points;
pub mod redemptions;
pub mod reports;
pub mod routes;
pub mod stock;
pub mod users;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::db::DbConn;
use crate::i18n::Lang;
use crate::request::{audit_ctx, state};
use crate::state::AppState;
pub use auth::ApiUser;
pub use error::ApiError;

/// Run blocking database work on actix's blocking pool (the API's twin of
/// `web::run`, with the API's error type).
pub async fn run<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
{
    let pool = state.pool.clone();
    web::block(move || {
        let mut conn = pool
            .get()
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        f(&mut conn)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// A store the caller may do `action` at: the one check is
/// `stores::for_actor` (403 outside the role or scope, 404 unknown; text
/// that is not a store id is a 404, after the role, and runs no query).
pub async fn load_store(
    state: &AppState,
    user: &crate::auth::Authed,
    action: crate::auth::Action,
    id: String,
) -> Result<crate::stores::StoreRow, ApiError> {
    if user.actor().require(action).is_err() {
        return Err(ApiError::Forbidden);
    }
    let id: crate::domain::StoreId = crate::error::path_id(&id)?;
    store_at(state, user, action, id).await
}

/// The store a JSON body names in `store_id`, which the caller may do
/// `action` at: text that is not a store id, or an id no store has, is a
/// 422 on `store_id` (a 404 is for an id in the path); outside the
/// caller's role or scope a 403, as [`load_store`].
pub async fn body_store(
    state: &AppState,
    user: &crate::auth::Authed,
    action: crate::auth::Action,
    text: &str,
) -> Result<crate::stores::StoreRow, ApiError> {
    if user.actor().require(action).is_err() {
        return Err(ApiError::Forbidden);
    }
    let id: crate::domain::StoreId =
        crate::domain::form_id("field.store", text, "error.store_unknown")?;
    match store_at(state, user, action, id).await {
        Err(ApiError::NotFound) => {
            Err(crate::domain::FieldError::new("field.store", "error.store_unknown").into())
        }
        other => other,
    }
}

async fn store_at(
    state: &AppState,
    user: &crate::auth::Authed,
    action: crate::auth::Action,
    id: crate::domain::StoreId,
) -> Result<crate::stores::StoreRow, ApiError> {
    let actor = user.actor();
    run(state, move |c| {
        Ok(crate::stores::for_actor(c, &actor, action, &id)?)
    })
    .await
}

/// Times go out as RFC 3339 in UTC.
pub type Rfc3339 = DateTime<Utc>;

pub fn utc(t: NaiveDateTime) -> Rfc3339 {
    DateTime::from_naive_utc_and_offset(t, Utc)
}

/// The largest JSON body accepted.
pub const BODY_LIMIT: usize = 256 * 1024;

/// Parse a JSON body. What is not JSON at all is a 400 with serde's
/// reason; JSON that is not an object is a 422 (`api.body_object`); JSON
/// with a field of the wrong type, a missing field, a key given twice or
/// a value the API does not know is a 422 naming the field
/// ("lines[0].quantity").
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.len() > BODY_LIMIT {
        return Err(ApiError::Malformed("body too large".into()));
    }
    // Every body the API takes is one object: a list or a lone value is
    // said to be the wrong shape as a whole, never as its first element.
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(body)
        && !doc.is_object()
    {
        return Err(ApiError::plain(422, "invalid", "api.body_object"));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        if !matches!(inner.classify(), serde_json::error::Category::Data) {
            return ApiError::Malformed(inner.to_string());
        }
        let path = e.path().to_string();
        let Some(first) = bad_field(&path, &inner.to_string()) else {
            return ApiError::Malformed(inner.to_string());
        };
        // serde stops at a list's first bad element: the others are found
        // too, so that one answer names every one.
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(doc) => match other_bad_elements::<T>(doc, &path) {
                others if others.is_empty() => first,
                others => ApiError::BadFields(std::iter::once(first).chain(others).collect()),
            },
            Err(_) => first,
        }
    })?;
    // Anything after the JSON value.
    de.end().map_err(|e| ApiError::Malformed(e.to_string()))?;
    // The forms' one rule for text, here for every string of the body.
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(field) = control_chars_at(&doc, "")
    {
        return Err(ApiError::BadField {
            field,
            key: "api.field_control",
            args: vec![],
        });
    }
    Ok(value)
}

/// The list and the index (`("lines", 2)`) of a body path that stands in
/// a list of the body's top level (`lines[2].quantity`).
fn list_element(path: &str) -> Option<(&str, usize)> {
    let (list, rest) = path.split_once('[')?;
    let (index, _) = rest.split_once(']')?;
    Some((list, index.parse().ok()?))
}

/// The further elements of the list that `first_path` (the first fault,
/// `lines[0].quantity`) stands in that `T` cannot read, each as a
/// [`ApiError::BadField`] naming its place in the body as sent, in order:
/// each fault's element is taken out of `doc` and `T` read again, until
/// the list reads (at most the list's length).
fn other_bad_elements<T: DeserializeOwned>(
    mut doc: serde_json::Value,
    first_path: &str,
) -> Vec<ApiError> {
    let Some((list, at)) = list_element(first_path) else {
        return Vec::new();
    };
    let list = list.to_string();
    let Some(len) = doc.get(&list).and_then(|v| v.as_array()).map(Vec::len) else {
        return Vec::new();
    };
    // The place in the body as sent of each element still in `doc`.
    let mut sent: Vec<usize> = (0..len).collect();
    let mut at = at;
    let mut out = Vec::new();
    for _ in 0..len {
        let Some(items) = doc.get_mut(&list).and_then(|v| v.as_array_mut()) else {
            break;
        };
        if at >= items.len() {
            break;
        }
        items.remove(at);
        sent.remove(at);
        let read: Result<T, _> = serde_path_to_error::deserialize(&doc);
        let Err(e) = read else {
            break;
        };
        let path = e.path().to_string();
        match list_element(&path) {
            Some((l, i)) if l == list && i < sent.len() => {
                let (_, tail) = path.split_once(']').unwrap_or_default();
                let as_sent = format!("{list}[{}]{tail}", sent[i]);
                match bad_field(&as_sent, &e.inner().to_string()) {
                    Some(bad) => out.push(bad),
                    None => break,
                }
                at = i;
            }
            // A fault elsewhere in the body: said once the list is right.
            _ => break,
        }
    }
    out
}

/// The 422 for serde's `message` about the value at `path` ("." for the
/// whole): the field is the path, or the missing field serde names; the
/// reason a catalogue key (serde's English is never shown). `None` when no
/// field can be named.
fn bad_field(path: &str, message: &str) -> Option<ApiError> {
    // serde names a missing field (or one given twice) in its message, at
    // the object's path.
    let missing = quoted_after(message, "missing field `")
        .or_else(|| quoted_after(message, "duplicate field `"));
    let field = match (path, &missing) {
        (".", Some(name)) => name.clone(),
        (_, Some(name)) => format!("{path}.{name}"),
        (".", None) => return None,
        (_, None) => path.to_string(),
    };
    let (key, args) = serde_reason(message, missing.is_some());
    Some(ApiError::BadField { field, key, args })
}

/// The text between `start` and the next backquote in `message`.
fn quoted_after(message: &str, start: &str) -> Option<String> {
    message
        .split_once(start)
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(name, _)| name.to_string())
}

/// serde's reason as a catalogue key (`api.field_*`) and its arguments.
fn serde_reason(message: &str, missing: bool) -> (&'static str, Vec<(&'static str, String)>) {
    if missing && message.starts_with("duplicate field") {
        return ("api.field_twice", vec![]);
    }
    if missing {
        return ("api.field_missing", vec![]);
    }
    if message.contains(NOT_A_DATE) {
        return ("api.field_date", vec![]);
    }
    if message.starts_with("unknown variant") {
        // "unknown variant `x`, expected one of `a`, `b`": the API's own
        // words, said back as they are.
        let choices: Vec<&str> = message
            .split_once("expected")
            .map(|(_, rest)| rest.split('`').skip(1).step_by(2).collect())
            .unwrap_or_default();
        return ("api.field_choice", vec![("choices", choices.join(", "))]);
    }
    if let Some(expected) = message
        .strip_prefix("invalid type: ")
        .and_then(|m| m.split_once(", expected "))
        .map(|(_, e)| e)
    {
        let kind = if expected.contains("string") || expected.contains("char") {
            "@api.kind_text"
        } else if expected.contains("bool") {
            "@api.kind_bool"
        } else if expected.contains("sequence") {
            "@api.kind_list"
        } else if expected.contains("map") || expected.contains("struct") {
            "@api.kind_object"
        } else if expected.starts_with('i')
            || expected.starts_with('u')
            || expected.contains("integer")
        {
            "@api.kind_number"
        } else {
            return ("api.bad_field", vec![]);
        };
        return ("api.field_type", vec![("kind", kind.to_string())]);
    }
    ("api.bad_field", vec![])
}

/// A query string read into `T`, the API's way: a parameter of the wrong
/// type ("page=abc"), one missing, or a value the API does not know is a
/// 422 naming the parameter, in the API's JSON error.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> actix_web::FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        // The API's middleware has refused a spoiled query already; asked
        // again only of a request that did not pass through it.
        let read = if req.extensions().contains::<QueryChecked>() {
            read_query(req.query_string())
        } else {
            query_of(req.query_string())
        };
        std::future::ready(read.map(ApiQuery))
    }
}

/// Set on a request whose query [`query_refusal`] has found readable (the
/// API's middleware asks it of every request): the query extractor need
/// not ask again.
#[derive(Debug, Clone, Copy)]
struct QueryChecked;

/// Read a query string into `T` (see [`ApiQuery`]). A parameter holding
/// control characters (a NUL, which PostgreSQL refuses in text) or bytes
/// that are not text is a 422 naming it (`api.field_control`), as a JSON
/// body's string is: it never reaches a query.
pub fn query_of<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    if let Some(e) = query_refusal(query) {
        return Err(e);
    }
    read_query(query)
}

/// [`query_of`] for a query [`query_refusal`] has already passed.
fn read_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let message = e.inner().to_string();
        bad_field(&e.path().to_string(), &message).unwrap_or(ApiError::BadField {
            field: "query".into(),
            key: "api.bad_field",
            args: vec![],
        })
    })
}

/// Query parameter `name`'s number, `default` when absent: one outside
/// `min..=max` (a page 0, more per page than the API gives) is a 422
/// naming the parameter and the range (`api.field_range`), never clamped.
pub fn in_range(
    name: &str,
    given: Option<i64>,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ApiError> {
    match given {
        None => Ok(default),
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::BadField {
            field: name.to_string(),
            key: "api.field_range",
            args: vec![("min", min.to_string()), ("max", max.to_string())],
        }),
    }
}

/// The refusal of a query string any API route would make before reading
/// it: its first parameter whose name or value, percent-decoded, is not
/// UTF-8 (`api.field_utf8`) or holds control characters (a NUL, which
/// PostgreSQL refuses in text: `api.field_control`), a 422 naming it.
/// Asked of every request, whether or not its route reads the query.
pub fn query_refusal(query: &str) -> Option<ApiError> {
    use crate::request::Spoiled;
    let (name, spoiled) = crate::request::spoiled_pairs(query.as_bytes()).next()?;
    Some(ApiError::BadField {
        field: name.chars().take(40).collect(),
        key: match spoiled {
            Spoiled::Control => "api.field_control",
            Spoiled::NotUtf8 => "api.field_utf8",
        },
        args: vec![],
    })
}

/// A date in a JSON body, read as people and devices type it: full-width
/// `２０２６－１１－３０` is 2026-11-30 (`domain::input::parse_date`: years
/// 2000 to 2100). Anything else is a 422 naming the field.
pub fn typed_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let s = String::deserialize(d)?;
    crate::domain::input::parse_date("date", &s).map_err(|_| not_a_date(&s))
}

/// An optional date in a JSON body (see [`typed_date`]); null or empty is
/// none.
pub fn typed_optional_date<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<NaiveDate>, D::Error> {
    let s = Option::<String>::deserialize(d)?.unwrap_or_default();
    crate::domain::input::parse_optional_date("date", &s).map_err(|_| not_a_date(&s))
}

/// How [`typed_date`] tells serde a value is no date (read back by
/// `serde_reason`).
const NOT_A_DATE: &str = "is not a date YYYY-MM-DD in the years 2000 to 2100";

fn not_a_date<E: serde::de::Error>(s: &str) -> E {
    let shown: String = s.chars().take(40).collect();
    E::custom(format!("\"{shown}\" {NOT_A_DATE}"))
}

/// The path ("lines[0].name") of the first string in `v` holding control
/// characters (line breaks and tabs aside), if any.
fn control_chars_at(v: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::String(s) if crate::domain::has_control_chars(s) => Some(path.to_string()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| control_chars_at(x, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, x)| {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            control_chars_at(x, &p)
        }),
        _ => None,
    }
}

/// The caller's language from Accept-Language: the first of zh or en named,
/// Chinese when neither is.
pub fn lang_of(req: &HttpRequest) -> Lang {
    let value = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut ranked: Vec<(f32, Lang)> = Vec::new();
    for part in value.split(',') {
        let mut bits = part.trim().split(';');
        let tag = bits.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = bits
            .find_map(|b| {
                b.trim()
                    .strip_prefix("q=")
                    .and_then(|v| v.parse::<f32>().ok())
            })
            .unwrap_or(1.0);
        let lang = if tag.starts_with("en") {
            Lang::En
        } else if tag.starts_with("zh") {
            Lang::Zh
        } else {
            continue;
        };
        ranked.push((q, lang));
    }
    // Stable: among equal weights the first named wins.
    ranked.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    ranked.first().map(|(_, l)| *l).unwrap_or_default()
}

/// Every API response that is an error leaves here as the JSON error, in the
/// caller's language; denials are audited like the pages'.
async fn json_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let lang = lang_of(req.request());
    let names = routes::fields_at(req.method(), req.path());
    // Every route refuses a query it could not read as text, read or not.
    if let Some(e) = query_refusal(req.query_string()) {
        let resp = e.response(lang, names);
        return Ok(req.into_response(resp).map_into_boxed_body());
    }
    req.extensions_mut().insert(QueryChecked);
    if writes_without_json(&req) {
        // A cross-site page can send `text/plain` or a form without asking
        // first; a JSON write is taken only as JSON, before it is read.
        let resp = ApiError::plain(415, "unsupported_media_type", "api.unsupported_media_type")
            .response(lang, names);
        return Ok(req.into_response(resp).map_into_boxed_body());
    }
    let res = next.call(req).await?;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(res.map_into_boxed_body());
    }
    let api_error = match res.response().error() {
        Some(e) => match e.as_error::<ApiError>() {
            Some(other) => clone_error(other),
            None if status.is_client_error() => ApiError::Malformed(e.to_string()),
            None => ApiError::Internal(e.to_string()),
        },
        // A response drawn without an error (e.g. 405 from a route guard).
        None if status.as_u16() == 405 => {
            ApiError::plain(405, "method_not_allowed", "api.method_not_allowed")
        }
        None if status.as_u16() == 404 => ApiError::NotFound,
        None => return Ok(res.map_into_boxed_body()),
    };
    let allow = res.headers().get(header::ALLOW).cloned();
    let http_req = res.request().clone();
    match &api_error {
        ApiError::Internal(detail) => {
            tracing::error!(error = %detail, path = %http_req.path(), "API internal error")
        }
        ApiError::Unavailable(detail) => {
            tracing::error!(error = %detail, path = %http_req.path(), "API: database unavailable")
        }
        ApiError::Forbidden => {
            let user = actix_web::HttpMessage::extensions(&http_req)
                .get::<ApiUser>()
                .cloned();
            let ctx = audit_ctx(&http_req, user.as_deref());
            let what = crate::audit::Detail::new("denied_api")
                .arg("method", http_req.method())
                .arg("path", http_req.path())
                .to_string();
            let st = state(&http_req);
            let written = run(&st, move |c| {
                Ok(crate::audit::record(
                    c,
                    &ctx,
                    "access.denied",
                    "route",
                    "",
                    &what,
                )?)
            })
            .await;
            if let Err(e) = written {
                tracing::error!(error = %e, "could not audit an API denial");
            }
        }
        _ => {}
    }
    let mut resp = api_error.response(lang, names);
    if let Some(allow) = allow {
        resp.headers_mut().insert(header::ALLOW, allow);
    }
    Ok(ServiceResponse::new(http_req, resp).map_into_boxed_body())
}

/// Whether `req` is one of the API's writes (a route of the table taking a
/// body) sent without `Content-Type: application/json`.
fn writes_without_json(req: &ServiceRequest) -> bool {
    use actix_web::http::Method;
    let method = req.method();
    if !matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        return false;
    }
    let is_json = matches!(
        actix_web::HttpMessage::mime_type(req),
        Ok(Some(m)) if m.essence_str() == "application/json"
    );
    if is_json {
        return false;
    }
    let path = req.path();
    routes::table()
        .iter()
        .any(|r| r.method == method && path_matches(r.path, path))
}

/// Whether a request path fits a route's template (`{id}` takes one segment).
fn path_matches(template: &str, path: &str) -> bool {
    let (mut t, mut p) = (template.split('/'), path.split('/'));
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a.starts_with('{') || a == b => {}
            _ => return false,
        }
    }
}

fn clone_error(e: &ApiError) -> ApiError {
    match e {
        ApiError::Malformed(m) => ApiError::Malformed(m.clone()),
        ApiError::BadField { field, key, args } => ApiError::BadField {
            field: field.clone(),
            key,
            args: args.clone(),
        },
        ApiError::BadFields(all) => ApiError::BadFields(all.iter().map(clone_error).collect()),
        ApiError::Unauthorized => ApiError::Unauthorized,
        ApiError::Forbidden => ApiError::Forbidden,
        ApiError::NotFound => ApiError::NotFound,
        ApiError::Field(f) => ApiError::Field(f.clone()),
        ApiError::Conflict(c, f) => ApiError::Conflict(*c, f.clone()),
        ApiError::Plain { status, code, key } => ApiError::Plain {
            status: *status,
            code,
            key,
        },
        ApiError::Unavailable(m) => ApiError::Unavailable(m.clone()),
        ApiError::Internal(m) => ApiError::Internal(m.clone()),
    }
}

/// No route answered: 405 with `Allow` (and the JSON error) when a route of
/// the table takes this path with another method, else 404.
async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let table = routes::table();
    let get = actix_web::http::Method::GET;
    let documents = [("/api/openapi.json", &get), ("/api/docs", &get)];
    let methods = crate::request::methods_at(
        req.path(),
        table
            .iter()
            .map(|r| (r.path, &r.method))
            .chain(documents.iter().copied()),
    );
    if methods.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, crate::request::allow_header(methods.iter())))
        .finish())
}

/// The `/api` scope: its routes from the one table, the description, the
/// reference page, and JSON errors for everything (malformed query, path or
/// body included). No session, CSRF or login redirect applies here.
pub fn service() -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let mut scope = web::scope("/api")
        .app_data(web::QueryConfig::default().error_handler(|_, _| {
            ApiError::BadField {
                field: "query".into(),
                key: "api.bad_field",
                args: vec![],
            }
            .into()
        }))
        .app_data(web::PathConfig::default().error_handler(|_, req| {
            // The path's parameter (every API path has at most one).
            let field = req
                .match_info()
                .iter()
                .next()
                .map_or("path".to_string(), |(name, _)| name.to_string());
            ApiError::BadField {
                field,
                key: "api.bad_field",
                args: vec![],
            }
            .into()
        }))
        .app_data(
            web::JsonConfig::default()
                .limit(BODY_LIMIT)
                .error_handler(|e, _| ApiError::Malformed(e.to_string()).into()),
        )
        .app_data(web::PayloadConfig::new(BODY_LIMIT))
        .wrap(actix_web::middleware::from_fn(json_errors))
        .route("/openapi.json", routes::get_or_head().to(openapi::document))
        .route("/docs", routes::get_or_head().to(openapi::docs_page));
    for r in routes::table() {
        let path = r.path.strip_prefix("/api").unwrap_or(r.path);
        scope = scope.route(path, (r.make)());
    }
    scope.default_service(web::to(not_found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::FromRequest;

    #[derive(Debug, Deserialize)]
    struct Q {
        #[serde(default)]
        #[allow(dead_code)]
        q: String,
    }

    #[actix_web::test]
    async fn the_query_is_refused_once_by_the_middleware_or_by_the_extractor() {
        // Outside the middleware the extractor refuses a spoiled query itself.
        let req = actix_web::test::TestRequest::with_uri("/x?q=a%00b").to_http_request();
        let read = ApiQuery::<Q>::extract(&req).await;
        assert!(matches!(
            read,
            Err(ApiError::BadField {
                key: "api.field_control",
                ..
            })
        ));
        // Past the middleware, which has asked already, it only reads.
        let req = actix_web::test::TestRequest::with_uri("/x?q=a%00b").to_http_request();
        req.extensions_mut().insert(QueryChecked);
        assert!(ApiQuery::<Q>::extract(&req).await.is_ok());
    }
}
