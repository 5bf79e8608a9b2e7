//! The profile page: a user's named API tokens (for a scanner or another
//! system), made and revoked here. A token's secret is shown once.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::tokens::{self, ApiToken};
use crate::web::extract::audit_ctx;
use crate::web::page::{PageCtx, flash_ok, or_flash, render};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, run};

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage<'a> {
    ctx: &'a PageCtx,
    tokens: Vec<ApiToken>,
    /// The secret of a token made just now (shown once, never stored).
    new_secret: Option<String>,
}

async fn page(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    new_secret: Option<String>,
) -> Result<HttpResponse, AppError> {
    let user_id = user.user.id.clone();
    let list = run(state, move |c| Ok(tokens::named_of(c, &user_id)?)).await?;
    let ctx = PageCtx::build(req, Some(user));
    render(
        &ctx,
        &ProfilePage {
            ctx: &ctx,
            tokens: list,
            new_secret,
        },
    )
}

pub async fn profile(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    page(&req, &user, &state, None).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
}

/// Make a named token; the answer is the page with the secret on it (not a
/// redirect: the secret must not travel in a flash cookie).
pub async fn create_token(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<TokenForm>,
) -> Result<HttpResponse, AppError> {
    let ctx = audit_ctx(&req, Some(&user));
    let user_id = user.user.id.clone();
    let name = form.0.name;
    let made = run(&state, move |c| {
        Ok(tokens::create_named(c, &ctx, &user_id, &name)?)
    })
    .await;
    match made {
        Ok(secret) => page(&req, &user, &state, Some(secret)).await,
        Err(e) => or_flash(&req, "/profile", Err(e)),
    }
}

pub async fn revoke_token(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    _form: CsrfForm<super::auth::Empty>,
) -> Result<HttpResponse, AppError> {
    let ctx = audit_ctx(&req, Some(&user));
    let user_id = user.user.id.clone();
    let id = id.into_inner();
    run(&state, move |c| Ok(tokens::revoke(c, &ctx, &user_id, &id)?)).await?;
    Ok(flash_ok(&req, "/profile", "flash.token_revoked", &[]))
}
