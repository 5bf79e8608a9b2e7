use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::misc::safe_back;
use crate::auth::{self, LoginOutcome, password, session};
use crate::domain::{FieldError, NewPassword};
use crate::users::{self, InitialPassword};
use crate::web::extract::{CookieNames, CsrfForm, SessionUser, audit_ctx, maybe_user};
use crate::web::middleware::see_other;
use crate::web::page::{PageCtx, flash_ok, render, render_with_status};
use crate::web::{AppError, AppState, run};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    ctx: &'a PageCtx,
    username: String,
    next: String,
    error: bool,
}

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

/// The filter's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for NextQuery {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "next" => "auth.form_field",
            _ => return None,
        })
    }
}

pub async fn login_page(
    req: HttpRequest,
    q: crate::web::extract::Filter<NextQuery>,
) -> Result<HttpResponse, AppError> {
    // The page to come back to, sent twice, is no page: a page (422)
    // naming it, in the reader's language.
    let crate::web::extract::Filter(q, twice) = q;
    twice.check()?;
    if maybe_user(&req).await?.is_some() {
        return Ok(see_other(&safe_back(&q.next)));
    }
    let ctx = PageCtx::build(&req, None);
    render(
        &ctx,
        &LoginPage {
            ctx: &ctx,
            username: String::new(),
            next: safe_back(&q.next),
            error: false,
        },
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for LoginForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "username" => "field.username",
            "password" => "field.password",
            _ => return None,
        })
    }
}

fn session_cookie(name: &str, value: String, secure: bool) -> Cookie<'_> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish()
}

/// The login form again after a refusal: 401, as the API's token login
/// answers, keeping the name typed (`username`) and never the password.
fn login_refused(req: &HttpRequest, username: &str, next: &str) -> Result<HttpResponse, AppError> {
    let page_ctx = PageCtx::build(req, None);
    render_with_status(
        &page_ctx,
        &LoginPage {
            ctx: &page_ctx,
            username: username.trim().chars().take(64).collect(),
            next: safe_back(next),
            error: true,
        },
        StatusCode::UNAUTHORIZED,
    )
}

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Result<CsrfForm<LoginForm>, AppError>,
) -> Result<HttpResponse, AppError> {
    let form = match form.map(CsrfForm::checked) {
        Ok((f, twice)) if twice.check().is_ok() => f,
        // Text no name or password holds (control characters, not UTF-8),
        // or a name or password sent twice: refused like a wrong password,
        // with the form again.
        Ok(_) | Err(AppError::Invalid(_) | AppError::BadRequest(_)) => {
            return login_refused(&req, "", "");
        }
        Err(e) => return Err(e),
    };
    let ctx = audit_ctx(&req, None);
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let old_session = maybe_user(&req).await?.map(|a| a.session_id.clone());
    let config = state.config.clone();
    let dummy = state.dummy_hash.clone();
    let (username, pw) = (form.username.clone(), form.password);
    let (outcome, delay) = run(&state, move |c| {
        // An account failing from many addresses is slowed down, never locked.
        let delay = auth::throttle::account_delay(
            c,
            &config,
            &auth::attempt_name(&username),
            crate::db::now(),
        )?;
        let outcome = auth::login(c, &config, &dummy, &username, &pw, &ctx, &user_agent)?;
        // A new id at every login: the session this browser had ends here.
        if let (LoginOutcome::Success { .. }, Some(old)) = (&outcome, old_session) {
            session::delete(c, &old)?;
        }
        Ok((outcome, delay))
    })
    .await?;
    // Waited out here, holding no database connection.
    actix_web::rt::time::sleep(delay).await;
    match outcome {
        LoginOutcome::Success { user, token } => {
            let secure = state.config.secure_cookies;
            let next = if user.must_change_password {
                "/password".to_string()
            } else {
                safe_back(&form.next)
            };
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, next))
                .cookie(session_cookie(CookieNames::session(secure), token, secure))
                .finish())
        }
        // A wrong name or password, or too many attempts.
        LoginOutcome::Refused => login_refused(&req, &form.username, &form.next),
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn logout(
    req: HttpRequest,
    user: SessionUser,
    state: web::Data<AppState>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let ctx = user.actor();
    let session_id = user.session_id.clone();
    let user_id = user.user.id.clone();
    run(&state, move |c| {
        crate::db::write_tx(c, |c| {
            session::delete(c, &session_id)?;
            crate::audit::record(c, &ctx, "auth.logout", "user", &user_id, "")
        })?;
        Ok(())
    })
    .await?;
    let secure = state.config.secure_cookies;
    let mut gone = session_cookie(CookieNames::session(secure), String::new(), secure);
    gone.set_max_age(CookieDuration::ZERO);
    let mut res = flash_ok(&req, "/login", "flash.logged_out", &[]);
    res.add_cookie(&gone).map_err(AppError::internal)?;
    Ok(res)
}

/// A form with no field a person types (hidden fields, buttons).
impl crate::web::extract::FormFields for Empty {
    fn label(_: &str) -> Option<&'static str> {
        None
    }
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage<'a> {
    ctx: &'a PageCtx,
    forced: bool,
    /// A refused change (`"password"`): its errors, never the passwords.
    refused: crate::web::form::Refused,
}

pub async fn password_page(req: HttpRequest, user: SessionUser) -> Result<HttpResponse, AppError> {
    password_shown(&req, &user, None)
}

/// The password form; `refused` shows why a change was refused (422),
/// each message beside its field (no password is typed back).
fn password_shown(
    req: &HttpRequest,
    user: &SessionUser,
    refused: Option<&FieldError>,
) -> Result<HttpResponse, AppError> {
    let ctx = PageCtx::build(req, Some(user));
    let refused = refused
        .map(|e| crate::web::form::Refused::of(ctx.lang, "password", &(), e))
        .unwrap_or_default();
    let status = refused.status();
    crate::web::page::render_with_status(
        &ctx,
        &PasswordPage {
            ctx: &ctx,
            forced: user.user.must_change_password,
            refused,
        },
        status,
    )
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for PasswordForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "current" => "field.current_password",
            "new" => "field.new_password",
            "confirm" => "field.confirm_password",
            _ => return None,
        })
    }
}

pub async fn change_password(
    req: HttpRequest,
    user: SessionUser,
    state: web::Data<AppState>,
    form: CsrfForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let (form, twice) = form.checked();
    if let Err(e) = twice.check() {
        return password_shown(&req, &user, Some(&e));
    }
    let checked = NewPassword::parse("field.new_password", &form.new).and_then(|p| {
        if form.new != form.confirm {
            Err(FieldError::new(
                "field.confirm_password",
                "error.passwords_differ",
            ))
        } else if form.new == form.current {
            Err(FieldError::new(
                "field.new_password",
                "error.password_unchanged",
            ))
        } else {
            password::refuse_weak(
                "field.new_password",
                p.expose(),
                &[&user.user.username, &user.user.display_name],
            )?;
            Ok(p)
        }
    });
    let new = match checked {
        Ok(p) => p,
        Err(e) => return password_shown(&req, &user, Some(&e)),
    };
    let ctx = user.actor();
    let (user_id, hash, session_id) = (
        user.user.id.clone(),
        user.user.password_hash.clone(),
        user.session_id.clone(),
    );
    let cost = state.config.password_cost;
    let current = form.current;
    let config = state.config.clone();
    let changed = run(&state, move |c| {
        // Guesses at the current password are throttled like logins (per
        // user); a throttled try is told the same as a wrong one.
        let limits = [auth::throttle::Limit {
            key: format!("reauth:{user_id}"),
            max: config.login_max_failures_account,
        }];
        if !auth::throttle::take(c, &config, &limits, crate::db::now())?
            || !password::verify(&current, &hash)
        {
            return Ok(false);
        }
        crate::db::write_tx(c, |c| auth::throttle::give_back(c, &limits))?;
        users::set_password(
            c,
            &ctx,
            cost,
            &user_id,
            InitialPassword::Given(new),
            Some(&session_id),
        )?;
        Ok(true)
    })
    .await?;
    if changed {
        Ok(flash_ok(&req, "/", "flash.password_changed", &[]))
    } else {
        let e = FieldError::new("field.current_password", "error.password_wrong");
        password_shown(&req, &user, Some(&e))
    }
}
