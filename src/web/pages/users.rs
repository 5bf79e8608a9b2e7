use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::areas::Area;
use crate::auth::Action;
use crate::domain::FieldChecks;
use crate::domain::{NewPassword, Role, Username, parse_optional_text};
use crate::stores::{self, StoreRow};
use crate::users::{self, Assignment, InitialPassword, User, UserRow};
use crate::web::extract::lang_of;
use crate::web::form::FormErrors;
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
    /// What the list was searched for ("" for everyone).
    q: String,
    /// How many users there are in all (the list may show fewer).
    total: usize,
    /// A refused new user (`"user"`), if any.
    refused: Refused,
}

#[derive(Deserialize, Default)]
pub struct UserSearch {
    /// Part of a login, display name, role, area or store name.
    #[serde(default)]
    q: String,
}

/// The filter's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for UserSearch {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "q" => "users.search",
            _ => return None,
        })
    }
}

/// Whether a user's row matches what was searched (case-insensitive, on
/// the login, display name, role word and label, area and store).
fn matches(row: &UserRow, lang: crate::i18n::Lang, q: &str) -> bool {
    if q.is_empty() {
        return true;
    }
    let role_label = Role::parse(&row.user.role)
        .map(|r| crate::i18n::t(lang, r.label_key()).to_string())
        .unwrap_or_default();
    [
        row.user.username.as_str(),
        row.user.display_name.as_str(),
        row.user.role.as_str(),
        role_label.as_str(),
        row.area_name.as_deref().unwrap_or(""),
        row.store_name.as_deref().unwrap_or(""),
    ]
    .iter()
    .any(|f| f.to_lowercase().contains(q))
}

pub async fn list(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    search: crate::web::extract::Filter<UserSearch>,
) -> Result<HttpResponse, AppError> {
    // A search sent twice: the list for its first value, the search form
    // (`"filter"`) holding it with the message beside it (422).
    let crate::web::extract::Filter(search, twice) = search;
    let refused = match twice.check() {
        Ok(()) => Refused::default(),
        Err(e) => Refused::of_pairs(
            crate::web::extract::lang_of(&req),
            "filter",
            vec![("q".into(), search.q.clone())],
            &e,
        ),
    };
    list_page(req, user, state, &search.q, refused).await
}

/// The users; `refused` shows a refused new user again (422).
async fn list_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: &str,
    refused: Refused,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ManageUsers)?;
    let scope = user.scope.clone();
    let lang = user.lang;
    let (all, areas, stores) = run(&state, move |c| {
        let (areas, _) = super::areas::tree_in_context(c, &scope, lang)?;
        let mut rows = users::list(c)?;
        // Each user's area as the picker names it (a village with its town).
        for r in &mut rows {
            if let Some(a) = areas
                .iter()
                .find(|a| r.user.area_id.as_deref() == Some(a.id.as_str()))
            {
                r.area_name = Some(a.name.clone());
            }
        }
        Ok((rows, areas, stores::list(c)?))
    })
    .await?;
    let ctx = PageCtx::build(&req, Some(&user));
    let q = crate::domain::input::normalize(q).trim().to_string();
    let needle = q.to_lowercase();
    let total = all.len();
    let users = all
        .into_iter()
        .filter(|r| matches(r, ctx.lang, &needle))
        .collect();
    let status = refused.status();
    render_with_status(
        &ctx,
        &ListPage {
            ctx: &ctx,
            users,
            areas,
            stores,
            roles: Role::ALL,
            q,
            total,
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

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for NewUserForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "username" => "field.username",
            "display_name" => "field.display_name",
            "role" => "field.role",
            "area_id" => "field.area",
            "store_id" => "field.store",
            "password" => "field.password",
            _ => return None,
        })
    }
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
    let form = form.checked();
    user.require(Action::ManageUsers)?;
    let f = form.0;
    let typed = serde_json::to_value(&f).unwrap_or_default();
    let ctx = user.actor();
    let cost = state.config.password_cost;
    let result = form
        .1
        .run(&state, move |c| {
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
            list_page(req, user, state, "", refused).await
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
    /// The staff member's own phone and ID (masked) and home.
    personal: users::PersonalShown,
    /// What was typed in the personal form after a refusal (else empty).
    typed: users::PersonalForm,
    errors: FormErrors,
    /// A refused assignment (`"assign"`) or password (`"password"`), if any.
    refused: Refused,
}

impl DetailPage<'_> {
    /// The home village to show selected: the typed one after a refusal.
    fn home_selected(&self, area_id: &str) -> bool {
        if self.errors.is_empty() {
            self.personal.home_area_id.as_deref() == Some(area_id)
        } else {
            self.typed.home_area_id == area_id
        }
    }

    fn home_address(&self) -> &str {
        if self.errors.is_empty() {
            &self.personal.home_address
        } else {
            &self.typed.home_address
        }
    }
}

pub async fn detail(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    detail_page(req, user, state, id.into_inner(), Refused::default(), None).await
}

/// One user's page; `refused` shows one of its forms refused (422).
async fn detail_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: String,
    refused: Refused,
    personal_refused: Option<(users::PersonalForm, crate::domain::FieldError)>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ManageUsers)?;
    let scope = user.scope.clone();
    let lang = user.lang;
    let (subject, areas, stores, personal) = run(&state, move |c| {
        let subject = users::find(c, &id)?.ok_or(AppError::NotFound)?;
        let personal = users::personal(c, &subject.id)?;
        let (areas, _) = super::areas::tree_in_context(c, &scope, lang)?;
        Ok((subject, areas, stores::list(c)?, personal))
    })
    .await?;
    let ctx = PageCtx::build(&req, Some(&user));
    let is_self = subject.id == user.user.id;
    let (typed, errors) = match personal_refused {
        Some((f, e)) => (f, FormErrors::new(ctx.lang, &e)),
        None => (users::PersonalForm::default(), FormErrors::default()),
    };
    let status = if errors.is_empty() {
        refused.status()
    } else {
        errors.status()
    };
    render_with_status(
        &ctx,
        &DetailPage {
            ctx: &ctx,
            subject,
            areas,
            stores,
            roles: Role::ALL,
            is_self,
            personal,
            typed,
            errors,
            refused,
        },
        status,
    )
}

/// Store a staff member's own phone, ID number and home (for the
/// integrity signals); a refused field shows the page again with what was
/// typed.
pub async fn set_personal(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<users::PersonalForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::ManageUsers)?;
    let id = id.into_inner();
    let back = format!("/users/{id}");
    let f = form.0;
    let ctx = user.actor();
    let key = state.key.clone();
    let (uid, typed) = (id.clone(), f.clone());
    let result = form
        .1
        .run(&state, move |c| {
            let subject = users::find(c, &uid)?.ok_or(AppError::NotFound)?;
            let personal = users::Personal::parse(c, &typed)?;
            let seen = Some(crate::web::form::seen_version(&typed.version)?);
            users::set_personal(c, &ctx, &key, &subject.id, &personal, seen)?;
            Ok(subject.username)
        })
        .await;
    match result {
        Ok(username) => Ok(flash_ok(
            &req,
            &back,
            "flash.user_updated",
            &[("username", username)],
        )),
        Err(AppError::Invalid(e)) => {
            detail_page(req, user, state, id, Refused::default(), Some((f, e))).await
        }
        Err(e) => Err(e),
    }
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
    /// The user's version when the edit form was opened.
    #[serde(default)]
    version: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for AssignForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "role" => "field.role",
            "area_id" => "field.area",
            "store_id" => "field.store",
            "display_name" => "field.display_name",
            _ => return None,
        })
    }
}

pub async fn assign(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<AssignForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::ManageUsers)?;
    let id = id.into_inner();
    let back = format!("/users/{id}");
    let f = form.0;
    let typed = serde_json::to_value(&f).unwrap_or_default();
    let ctx = user.actor();
    let self_id = user.user.id.clone();
    let target = id.clone();
    let result = form
        .1
        .run(&state, move |c| {
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
            // The edit names the version it was made on.
            let seen = Some(crate::web::form::seen_version(&f.version)?);
            users::save_edit(c, &ctx, &id, &display, &assignment, seen)?;
            Ok(subject.username)
        })
        .await
        .map(|username| flash_ok(&req, &back, "flash.user_updated", &[("username", username)]));
    match result {
        Err(AppError::Invalid(e)) => {
            let refused = Refused::of(lang_of(&req), "assign", &typed, &e);
            detail_page(req, user, state, id, refused, None).await
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
    let ctx = user.actor();
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

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for ResetForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "password" => "field.password",
            _ => return None,
        })
    }
}

pub async fn reset_password(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<ResetForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::ManageUsers)?;
    let id = id.into_inner();
    let back = format!("/users/{id}");
    let ctx = user.actor();
    let cost = state.config.password_cost;
    let given = form.0.password;
    let target = id.clone();
    let result = form
        .1
        .run(&state, move |c| {
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
            detail_page(req, user, state, id, refused, None).await
        }
        other => other,
    }
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for users::PersonalForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "phone" => "field.phone",
            "clear_phone" => "field.phone",
            "id_number" => "field.id_number",
            "clear_id_number" => "field.id_number",
            "home_area_id" => "field.home_area",
            "home_address" => "field.home_address",
            _ => return None,
        })
    }
}
