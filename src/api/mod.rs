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
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDateTime, Utc};
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
/// `stores::for_actor` (403 outside the role or scope, 404 unknown).
pub async fn load_store(
    state: &AppState,
    user: &crate::auth::Authed,
    action: crate::auth::Action,
    id: String,
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
/// reason; JSON with a field of the wrong type, a missing field or a value
/// the API does not know is a 422 naming the field ("lines[0].quantity").
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.len() > BODY_LIMIT {
        return Err(ApiError::Malformed("body too large".into()));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        if !matches!(inner.classify(), serde_json::error::Category::Data) {
            return ApiError::Malformed(inner.to_string());
        }
        let path = e.path().to_string();
        // serde names a missing field in its message, at the object's path.
        let missing = inner
            .to_string()
            .split_once("missing field `")
            .and_then(|(_, rest)| rest.split_once('`'))
            .map(|(name, _)| name.to_string());
        let field = match (path.as_str(), missing) {
            (".", Some(name)) => name,
            (_, Some(name)) => format!("{path}.{name}"),
            (".", None) => return ApiError::Malformed(inner.to_string()),
            (_, None) => path,
        };
        // serde's reason without its " at line 1 column 9".
        let detail = inner.to_string();
        let detail = detail
            .rsplit_once(" at line ")
            .map_or(detail.as_str(), |(d, _)| d)
            .to_string();
        ApiError::BadField { field, detail }
    })?;
    // Anything after the JSON value.
    de.end().map_err(|e| ApiError::Malformed(e.to_string()))?;
    // The forms' one rule for text, here for every string of the body.
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(field) = control_chars_at(&doc, "")
    {
        return Err(ApiError::BadField {
            field,
            detail: "control characters".into(),
        });
    }
    Ok(value)
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
    let res = next.call(req).await?;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(res.map_into_boxed_body());
    }
    let api_error = match res.response().error() {
        Some(e) => match e.as_error::<ApiError>() {
            Some(ApiError::Field(f)) => ApiError::Field(f.clone()),
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
            let what = format!("{} {} (api)", http_req.method(), http_req.path());
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
    let resp = api_error.response(lang);
    Ok(ServiceResponse::new(http_req, resp).map_into_boxed_body())
}

fn clone_error(e: &ApiError) -> ApiError {
    match e {
        ApiError::Malformed(m) => ApiError::Malformed(m.clone()),
        ApiError::BadField { field, detail } => ApiError::BadField {
            field: field.clone(),
            detail: detail.clone(),
        },
        ApiError::Unauthorized => ApiError::Unauthorized,
        ApiError::Forbidden => ApiError::Forbidden,
        ApiError::NotFound => ApiError::NotFound,
        ApiError::Field(f) => ApiError::Field(f.clone()),
        ApiError::Plain { status, code, key } => ApiError::Plain {
            status: *status,
            code,
            key,
        },
        ApiError::Unavailable(m) => ApiError::Unavailable(m.clone()),
        ApiError::Internal(m) => ApiError::Internal(m.clone()),
    }
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
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
        .app_data(
            web::QueryConfig::default()
                .error_handler(|e, _| ApiError::Malformed(e.to_string()).into()),
        )
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, _| ApiError::Malformed(e.to_string()).into()),
        )
        .app_data(
            web::JsonConfig::default()
                .limit(BODY_LIMIT)
                .error_handler(|e, _| ApiError::Malformed(e.to_string()).into()),
        )
        .app_data(web::PayloadConfig::new(BODY_LIMIT))
        .wrap(actix_web::middleware::from_fn(json_errors))
        .route("/openapi.json", web::get().to(openapi::document))
        .route("/docs", web::get().to(openapi::docs_page));
    for r in routes::table() {
        let path = r.path.strip_prefix("/api").unwrap_or(r.path);
        scope = scope.route(path, (r.make)());
    }
    scope.default_service(web::to(not_found))
}
