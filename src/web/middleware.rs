//! Around every request: an id, the client's address, one log line, the
//! error pages, the audit row for a denial, and the security headers.

use std::net::IpAddr;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse};

use super::error::AppError;
use super::extract::{audit_ctx, state};
use super::page::{PageCtx, came_from, render_error_page};
use super::run;
use crate::audit;

pub use crate::request::RequestInfo;

/// The client's address: the peer, or the last address in X-Forwarded-For
/// that is not a trusted proxy, when the peer itself is a trusted proxy.
pub fn client_ip(peer: Option<IpAddr>, forwarded_for: Option<&str>, trusted: &[IpAddr]) -> String {
    let Some(peer) = peer else {
        return String::new();
    };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let Some(xff) = forwarded_for else {
        return peer.to_string();
    };
    let mut hops: Vec<IpAddr> = xff
        .split(',')
        .filter_map(|h| h.trim().parse::<IpAddr>().ok())
        .collect();
    while let Some(last) = hops.pop() {
        if !trusted.contains(&last) {
            return last.to_string();
        }
    }
    peer.to_string()
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; \
frame-ancestors 'none'";

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let st = state(req.request());
    let peer = req.peer_addr().map(|a| a.ip());
    let xff = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let info = RequestInfo {
        id: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
        ip: client_ip(peer, xff.as_deref(), &st.config.trusted_proxies),
    };
    req.extensions_mut().insert(info.clone());
    let method = req.method().clone();
    let path = req.path().to_string();
    let is_static = path.starts_with("/static/");

    let res = next.call(req).await?;
    let mut res = match res
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>())
    {
        Some(app_error)
            if !matches!(
                app_error,
                AppError::LoginRequired { .. } | AppError::PasswordChangeRequired
            ) =>
        {
            let status = res.status();
            let http_req = res.request().clone();
            match app_error {
                AppError::Internal(detail) => {
                    tracing::error!(request_id = %info.id, error = %detail, "internal error");
                }
                AppError::Unavailable(detail) => {
                    tracing::error!(request_id = %info.id, error = %detail, "database unavailable");
                }
                AppError::Forbidden | AppError::Csrf => {
                    let user = super::extract::maybe_user(&http_req).await.ok().flatten();
                    let ctx = audit_ctx(&http_req, user.as_deref());
                    let what = audit::Detail::new(if matches!(app_error, AppError::Csrf) {
                        "denied_csrf"
                    } else {
                        "denied"
                    })
                    .arg("method", &method)
                    .arg("path", &path)
                    .to_string();
                    let written = run(&st, move |c| {
                        Ok(audit::record(c, &ctx, "access.denied", "route", "", &what)?)
                    })
                    .await;
                    if let Err(e) = written {
                        tracing::error!(request_id = %info.id, error = %e, "could not audit a denial");
                    }
                }
                _ => {}
            }
            let user = super::extract::maybe_user(&http_req).await.ok().flatten();
            let ctx = PageCtx::build(&http_req, user.as_deref());
            let mut page = render_error_page(&ctx, status, app_error, came_from(&http_req));
            if let AppError::MethodNotAllowed { allow } = app_error
                && let Ok(v) = HeaderValue::from_str(allow)
            {
                page.headers_mut().insert(header::ALLOW, v);
            }
            ServiceResponse::new(http_req, page).map_into_boxed_body()
        }
        _ => res.map_into_boxed_body(),
    };

    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if st.config.secure_cookies {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    // Pages are never kept, except the public ones that say how long they
    // may be (the notice, the honour roll, shelves, the rulebook).
    if !is_static && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Ok(v) = HeaderValue::from_str(&info.id) {
        headers.insert(header::HeaderName::from_static("x-request-id"), v);
    }
    tracing::info!(
        request_id = %info.id,
        method = %method,
        path = %path,
        status = res.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    Ok(res)
}

/// The longest redirect target any answer sends, in bytes: a page's
/// filters fit many times over; typed text beyond it is refused on its
/// page, and this is the net under every redirect.
pub const MAX_LOCATION: usize = 2048;

/// `location` as a redirect may carry it: over [`MAX_LOCATION`] bytes, its
/// path alone (what was typed into the query left behind), and `/` for a
/// path that is itself over-long.
pub fn sane_location(location: &str) -> String {
    if location.len() <= MAX_LOCATION {
        return location.to_string();
    }
    match location.split(['?', '#']).next() {
        Some(path) if path.len() <= MAX_LOCATION => path.to_string(),
        _ => "/".to_string(),
    }
}

/// A 303 redirect (to a [`sane_location`]).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, sane_location(location)))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_redirect_carries_over_long_text() {
        assert_eq!(sane_location("/counter?card=1"), "/counter?card=1");
        let long = format!("/counter?card={}", "x".repeat(200_000));
        assert_eq!(sane_location(&long), "/counter");
        assert_eq!(sane_location(&format!("/{}", "x".repeat(5000))), "/");
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        // Untrusted peer: its header is ignored.
        assert_eq!(
            client_ip(Some(client), Some("1.2.3.4"), &[proxy]),
            "203.0.113.9"
        );
        // Trusted proxy: the last untrusted hop is the client.
        assert_eq!(
            client_ip(Some(proxy), Some("1.2.3.4, 203.0.113.9"), &[proxy]),
            "203.0.113.9"
        );
        assert_eq!(client_ip(Some(proxy), None, &[proxy]), "10.0.0.1");
        assert_eq!(
            client_ip(Some(proxy), Some("garbage"), &[proxy]),
            "10.0.0.1"
        );
    }
}
