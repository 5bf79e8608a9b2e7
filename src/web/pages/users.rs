use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::areas::{self, Area};
use crate::auth::Action;
use crate::domain::FieldChecks;
use crate::domain::{NewPassword, Role, Username, parse_optional_text};
use crate::stores::{self, StoreRow};
use crate::users::{self, Assignment, InitialPassword, User, UserRow};
use crate::web::extract::{audit_ctx, lang_of};
use crate::web::form::Refused;
use crate::web::page::{PageCtx, flash_ok, render, render_with_status};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, run};

#[derive(Template)]
#[template(path = "users/list.html")]
struct ListPage<'a> {
    ctx: &'a PageCtx,
    users: Vec<UserRow>,
    areas: Vec<Area>,
    stores: Vec<StoreRow>,
    roles: [Role; 5],
    /// A refused new user (`"user"`), if any.
    refused: Refused,
}

pub async fn list(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    list_page(req, user, state, Refused::default()).await
}

/// The users; `refused` shows a refused new user again (422).
async fn list_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    refused: Refused,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ManageUsers)?;
    let (users, areas, stores) = run(&state, |c| {
        Ok((users::list(c)?, areas::tree(c)?, stores::list(c)?))
    })
    .await?;
    let ctx = PageCtx::build(&req, Some(&user));
    let status = refused.status();
    render_with_status(
        &ctx,
        &ListPage {
            ctx: &ctx,
            users,
            areas,
            stores,
            roles: Role::ALL,
            refused,
        },
        status,
    )
}

#[derive(Deserialize, serde::Serialize)]
pub struct NewUserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    area_id: String,
    #[serde(default)]
    store_id: String,
    /// Empty: generate one, shown once, to be changed at first login.
    /// Never shown again after a refusal.
    #[serde(default, skip_serializing)]
    password: String,
}

/// Role, area and store parsed, or `None` after noting their field error.
fn assignment(
    c: &mut crate::db::DbConn,
    checks: &mut FieldChecks,
    role: &str,
    area_id: &str,
    store_id: &str,
) -> Result<Option<Assignment>, AppError> {
    match Assignment::parse(c, role, area_id, store_id) {
        Ok(a) => Ok(Some(a)),
        Err(users::UserError::Invalid(e)) => {
            checks.push(e);
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "users/password_shown.html")]
struct PasswordShown<'a> {
    ctx: &'a PageCtx,
    username: String,
    password: String,
    user_id: String,
}

pub async fn create(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<NewUserForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ManageUsers)?;
    let f = form.0;
    let typed = serde_json::to_value(&f).unwrap_or_default();
    let ctx = audit_ctx(&req, Some(&user));
    let cost = state.config.password_cost;
    let result = run(&state, move |c| {
        // Every field is checked, so all that is wrong shows at once.
        let mut checks = FieldChecks::new();
        let username = checks.take(Username::parse(&f.username));
        let display = checks.take(parse_optional_text(
            "field.display_name",
            &f.display_name,
            60,
        ));
        let assignment = assignment(c, &mut checks, &f.role, &f.area_id, &f.store_id)?;
        let initial = if f.password.is_empty() {
            Some(InitialPassword::Generate)
        } else {
            checks
                .take(NewPassword::parse("field.password", &f.password))
                .map(InitialPassword::Given)
        };
        checks.finish()?;
        let (Some(username), Some(display), Some(assignment), Some(initial)) =
            (username, display, assignment, initial)
        else {
            unreachable!("a clean form parsed every field")
        };
        Ok(users::create(
            c,
            &ctx,
            cost,
            &username,
            &display,
            &assignment,
            initial,
        )?)
    })
    .await;
    let result = result.and_then(|(created, generated)| match generated {
        Some(password) => {
            let page_ctx = PageCtx::build(&req, Some(&user));
            render(
                &page_ctx,
                &PasswordShown {
                    ctx: &page_ctx,
                    username: created.username,
                    password,
                    user_id: created.id,
                },
            )
        }
        None => Ok(flash_ok(
            &req,
            "/users",
            "flash.user_created",
            &[("username", created.username)],
        )),
    });
    match result {
        Err(AppError::Invalid(e)) => {
            let refused = Refused::of(lang_of(&req), "user", &typed, &e);
            list_page(req, user, state, refused).await
        }
        other => other,
    }
}

#[derive(Template)]
#[template(path = "users/detail.html")]
struct DetailPage<'a> {
    ctx: &'a PageCtx,
    subject: User,
    areas: Vec<Area>,
    stores: Vec<StoreRow>,
    roles: [Role; 5],
    is_self: bool,
    /// A refused assignment (`"assign"`) or password (`"password"`), if any.
    refused: Refused,
}

pub async fn detail(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    detail_page(req, user, state, id.into_inner(), Refused::default()).await
}

/// One user's page; `refused` shows one of its forms refused (422).
async fn detail_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: String,
    refused: Refused,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ManageUsers)?;
    let (subject, areas, stores) = run(&state, move |c| {
        let subject = users::find(c, &id)?.ok_or(AppError::NotFound)?;
        Ok((subject, areas::tree(c)?, stores::list(c)?))
    })
    .await?;
    let ctx = PageCtx::build(&req, Some(&user));
    let is_self = subject.id == user.user.id;
    let status = refused.status();
    render_with_status(
        &ctx,
        &DetailPage {
            ctx: &ctx,
            subject,
            areas,
            stores,
            roles: Role::ALL,
            is_self,
            refused,
        },
        status,
    )
}

#[derive(Deserialize, serde::Serialize)]
pub struct AssignForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    area_id: String,
    #[serde(default)]
    store_id: String,
    #[serde(default)]
    display_name: String,
}

pub async fn assign(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<AssignForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ManageUsers)?;
    let id = id.into_inner();
    let back = format!("/users/{id}");
    let f = form.0;
    let typed = serde_json::to_value(&f).unwrap_or_default();
    let ctx = audit_ctx(&req, Some(&user));
    let self_id = user.user.id.clone();
    let target = id.clone();
    let result = run(&state, move |c| {
        let id = target;
        let subject = users::find(c, &id)?.ok_or(AppError::NotFound)?;
        let mut checks = FieldChecks::new();
        let assignment = assignment(c, &mut checks, &f.role, &f.area_id, &f.store_id)?;
        // An admin cannot take away their own admin role (and lock everyone out).
        if let Some(a) = &assignment
            && subject.id == self_id
            && a.role != Role::Admin
        {
            checks.push(crate::domain::FieldError::new(
                "field.role",
                "error.cannot_demote_self",
            ));
        }
        let display = checks.take(parse_optional_text(
            "field.display_name",
            &f.display_name,
            60,
        ));
        checks.finish()?;
        let (Some(assignment), Some(display)) = (assignment, display) else {
            unreachable!("a clean form parsed every field")
        };
        if display != subject.display_name {
            users::set_display_name(c, &ctx, &id, &display)?;
        }
        let changed = subject.role != assignment.role.as_str()
            || subject.area_id != assignment.area_id
            || subject.store_id != assignment.store_id;
        if changed {
            users::assign(c, &ctx, &id, &assignment)?;
        }
        Ok(subject.username)
    })
    .await
    .map(|username| flash_ok(&req, &back, "flash.user_updated", &[("username", username)]));
    match result {
        Err(AppError::Invalid(e)) => {
            let refused = Refused::of(lang_of(&req), "assign", &typed, &e);
            detail_page(req, user, state, id, refused).await
        }
        other => other,
    }
}

async fn set_disabled(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: String,
    disabled: bool,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ManageUsers)?;
    let back = format!("/users/{id}");
    if disabled && id == user.user.id {
        let e = crate::domain::FieldError::new("field.user", "error.cannot_disable_self");
        return Ok(crate::web::page::flash_field_error(&req, &back, &e));
    }
    let ctx = audit_ctx(&req, Some(&user));
    let subject = run(&state, move |c| {
        Ok(users::set_disabled(c, &ctx, &id, disabled)?)
    })
    .await?;
    let key = if disabled {
        "flash.user_disabled"
    } else {
        "flash.user_enabled"
    };
    Ok(flash_ok(
        &req,
        &back,
        key,
        &[("username", subject.username)],
    ))
}

pub async fn disable(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    _form: CsrfForm<super::auth::Empty>,
) -> Result<HttpResponse, AppError> {
    set_disabled(req, user, state, id.into_inner(), true).await
}

pub async fn enable(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    _form: CsrfForm<super::auth::Empty>,
) -> Result<HttpResponse, AppError> {
    set_disabled(req, user, state, id.into_inner(), false).await
}

#[derive(Deserialize)]
pub struct ResetForm {
    /// Empty: generate one (to be changed at next login).
    #[serde(default)]
    password: String,
}

pub async fn reset_password(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<ResetForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ManageUsers)?;
    let id = id.into_inner();
    let back = format!("/users/{id}");
    let ctx = audit_ctx(&req, Some(&user));
    let cost = state.config.password_cost;
    let given = form.0.password;
    let target = id.clone();
    let result = run(&state, move |c| {
        let subject = users::find(c, &target)?.ok_or(AppError::NotFound)?;
        let new = if given.is_empty() {
            InitialPassword::Generate
        } else {
            InitialPassword::Given(NewPassword::parse("field.password", &given)?)
        };
        let generated = users::set_password(c, &ctx, cost, &target, new, None)?;
        Ok((subject.username, generated))
    })
    .await
    .and_then(|(username, generated)| match generated {
        Some(password) => {
            let page_ctx = PageCtx::build(&req, Some(&user));
            render(
                &page_ctx,
                &PasswordShown {
                    ctx: &page_ctx,
                    username,
                    password,
                    user_id: id.clone(),
                },
            )
        }
        None => Ok(flash_ok(
            &req,
            &back,
            "flash.password_reset",
            &[("username", username)],
        )),
    });
    match result {
        // A password is never typed back into the page; its error is shown.
        Err(AppError::Invalid(e)) => {
            let refused = Refused::of(lang_of(&req), "password", &(), &e);
            detail_page(req, user, state, id, refused).await
        }
        other => other,
    }
}
