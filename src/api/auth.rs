//! Bearer tokens: `POST /api/v1/tokens` and the `ApiUser` extractor. The API
//! reads no cookies at all, so it needs no CSRF token.

use std::rc::Rc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::run;
use super::{json_body, utc};
use crate::auth::Authed;
use crate::auth::{self, LoginOutcome, tokens};
use crate::db;
use crate::request::{audit_ctx, state};
use crate::state::AppState;
use crate::users;

/// The user a Bearer token acts for, with their role and scope as they are now.
#[derive(Debug, Clone)]
pub struct ApiUser(pub Rc<Authed>);

impl std::ops::Deref for ApiUser {
    type Target = Authed;
    fn deref(&self) -> &Authed {
        &self.0
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

impl FromRequest for ApiUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            if let Some(u) = req.extensions_get_api_user() {
                return Ok(u);
            }
            let secret = bearer(&req).ok_or(ApiError::Unauthorized)?;
            let st = state(&req);
            let info = crate::request::request_info(&req);
            let lang = super::lang_of(&req);
            let authed = run(&st, move |c| {
                let Some(user) = tokens::authenticate(c, &secret, db::now())? else {
                    return Ok(None);
                };
                let scope = users::scope_of(c, &user)?;
                Ok(Some(Authed {
                    user,
                    session_id: String::new(),
                    csrf: String::new(),
                    scope,
                    ip: info.ip,
                    request_id: info.id,
                    lang,
                }))
            })
            .await?
            .ok_or(ApiError::Unauthorized)?;
            // Like a session: a generated password is changed before anything else.
            if authed.user.must_change_password {
                return Err(ApiError::plain(
                    403,
                    "password_change_required",
                    "api.password_change_required",
                ));
            }
            let u = ApiUser(Rc::new(authed));
            actix_web::HttpMessage::extensions_mut(&req).insert(u.clone());
            Ok(u)
        })
    }
}

trait ApiUserCache {
    fn extensions_get_api_user(&self) -> Option<ApiUser>;
}

impl ApiUserCache for HttpRequest {
    fn extensions_get_api_user(&self) -> Option<ApiUser> {
        actix_web::HttpMessage::extensions(self)
            .get::<ApiUser>()
            .cloned()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// Exchange a username and password for a token that lasts 12 hours. Failed
/// attempts are throttled like the login page's.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "tokens",
    request_body = TokenRequest,
    security(()),
    responses(
        (status = 201, description = "A new token", body = TokenResponse),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Wrong name or password, or too many attempts", body = ErrorBody),
        (status = 422, description = "A field of the wrong type", body = ErrorBody),
        (status = 403, description = "The password must be changed on the login page first", body = ErrorBody),
    )
)]
pub async fn create_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let f: TokenRequest = json_body(&body)?;
    let ctx = audit_ctx(&req, None);
    let config = state.config.clone();
    let dummy = state.dummy_hash.clone();
    let (outcome, delay) = run(&state, move |c| {
        // An account failing from many addresses is slowed down, never locked.
        let delay =
            auth::throttle::account_delay(c, &config, &auth::attempt_name(&f.username), db::now())?;
        let mut made = None;
        let outcome = auth::login_with(
            c,
            &config,
            &dummy,
            &f.username,
            &f.password,
            &ctx,
            |c, user, now| {
                if user.must_change_password {
                    return Ok(String::new());
                }
                let (secret, token) = tokens::create(c, &user.id, None, 0, now)?;
                made = Some(token);
                Ok(secret)
            },
        )?;
        Ok(((outcome, made), delay))
    })
    .await?;
    // Waited out here, holding no database connection.
    actix_web::rt::time::sleep(delay).await;
    match outcome {
        (LoginOutcome::Success { token, .. }, Some(made)) if !token.is_empty() => {
            Ok(HttpResponse::Created().json(TokenResponse {
                token,
                expires_at: utc(made.expires_at.unwrap_or(made.created_at)),
            }))
        }
        (LoginOutcome::Success { .. }, _) => Err(ApiError::plain(
            403,
            "password_change_required",
            "api.password_change_required",
        )),
        (LoginOutcome::Refused, _) => {
            Err(ApiError::plain(401, "login_refused", "api.login_refused"))
        }
    }
}
