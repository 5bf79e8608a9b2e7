//! The profile page: a user's named API tokens (for a scanner or another
//! system), made and revoked here. A token's secret is shown once; making
//! one asks for the password again, and each lasts the days chosen (90 by
//! default, a year at most).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::tokens::{self, ApiToken};
use crate::web::page::{PageCtx, flash_ok, render_with_status};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, run};

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage<'a> {
    ctx: &'a PageCtx,
    tokens: Vec<ApiToken>,
    /// The secret of a token made just now (shown once, never stored).
    new_secret: Option<String>,
    /// The lifetimes offered, in days, and the one selected.
    day_choices: [i64; 4],
    default_days: i64,
    /// What was typed in a refused form (the name), and why it was
    /// refused, each message beside its field.
    typed_name: String,
    /// The lifetime chosen in a refused form, as sent (empty: none).
    typed_days: String,
    errors: crate::web::form::FormErrors,
    now: chrono::NaiveDateTime,
}

impl ProfilePage<'_> {
    /// Whether a token has passed its expiry (or has none).
    fn is_expired(&self, t: &ApiToken) -> bool {
        t.expires_at.is_none_or(|e| e <= self.now)
    }
    /// Whether lifetime `d` is the one selected: the one chosen in a
    /// refused form, else the default.
    fn days_selected(&self, d: &i64) -> bool {
        match self.typed_days.trim() {
            "" => *d == self.default_days,
            typed => typed == d.to_string(),
        }
    }
    /// A lifetime sent that is none of the choices, kept in the form as
    /// an option of its own (selected, beside its message).
    fn days_other(&self) -> Option<&str> {
        let typed = self.typed_days.trim();
        (!typed.is_empty() && !self.day_choices.iter().any(|d| d.to_string() == typed))
            .then_some(typed)
    }
}

/// A refused token form: the name and the lifetime as sent, and why.
struct TokenRefused {
    name: String,
    days: String,
    error: crate::domain::FieldError,
}

async fn page(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    new_secret: Option<String>,
    refused: Option<TokenRefused>,
) -> Result<HttpResponse, AppError> {
    let user_id = user.user.id.clone();
    let list = run(state, move |c| Ok(tokens::named_of(c, &user_id)?)).await?;
    let ctx = PageCtx::build(req, Some(user));
    let (typed_name, typed_days, errors) = match refused {
        Some(r) => (
            r.name,
            r.days,
            crate::web::form::FormErrors::new(ctx.lang, &r.error),
        ),
        None => (
            String::new(),
            String::new(),
            crate::web::form::FormErrors::default(),
        ),
    };
    let status = errors.status();
    render_with_status(
        &ctx,
        &ProfilePage {
            ctx: &ctx,
            tokens: list,
            new_secret,
            day_choices: tokens::NAMED_TOKEN_DAY_CHOICES,
            default_days: tokens::NAMED_TOKEN_DEFAULT_DAYS,
            typed_name,
            typed_days,
            errors,
            now: crate::db::now(),
        },
        status,
    )
}

pub async fn profile(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    page(&req, &user, &state, None, None).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
    /// The lifetime in days (one of the choices; empty: 90).
    #[serde(default)]
    days: String,
    /// The user's password, typed again.
    #[serde(default)]
    password: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for TokenForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "name" => "field.token_name",
            "days" => "auth.token_days",
            "password" => "field.current_password",
            _ => return None,
        })
    }
}

/// Make a named token; the answer is the page with the secret on it (not a
/// redirect: the secret must not travel in a flash cookie). A refused form
/// comes back with the name and the lifetime as sent, and the reason.
pub async fn create_token(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<TokenForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let ctx = user.actor();
    let acting = user.user.clone();
    let TokenForm {
        name,
        days,
        password,
    } = form.0;
    let (typed_name, typed_days) = (name.clone(), days.clone());
    let refused = move |error| TokenRefused {
        name: typed_name,
        days: typed_days,
        error,
    };
    if let Err(e) = form.1.check() {
        return page(&req, &user, &state, None, Some(refused(e))).await;
    }
    let config = state.config.clone();
    let made = run(&state, move |c| {
        Ok(tokens::create_named(
            c, &config, &ctx, &acting, &name, &days, &password,
        ))
    })
    .await?;
    match made {
        Ok(secret) => page(&req, &user, &state, Some(secret), None).await,
        Err(tokens::TokenError::Invalid(e) | tokens::TokenError::Conflict(_, e)) => {
            page(&req, &user, &state, None, Some(refused(e))).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn revoke_token(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    _form: CsrfForm<super::auth::Empty>,
) -> Result<HttpResponse, AppError> {
    let ctx = user.actor();
    let id = id.into_inner();
    run(&state, move |c| Ok(tokens::revoke(c, &ctx, &id)?)).await?;
    Ok(flash_ok(&req, "/profile", "flash.token_revoked", &[]))
}
