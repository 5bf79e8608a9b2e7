//! Users (admins only).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::run;
use super::{ApiUser, json_body, utc};
use crate::auth::Action;
use crate::domain::{FieldError, NewPassword, Role, Username};
use crate::state::AppState;
use crate::users::{self, Assignment, InitialPassword, User};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RoleOut {
    Admin,
    Official,
    Reviewer,
    Clerk,
    Auditor,
}

impl RoleOut {
    fn of(r: Role) -> RoleOut {
        match r {
            Role::Admin => RoleOut::Admin,
            Role::Official => RoleOut::Official,
            Role::Reviewer => RoleOut::Reviewer,
            Role::Clerk => RoleOut::Clerk,
            Role::Auditor => RoleOut::Auditor,
        }
    }

    fn role(self) -> Role {
        match self {
            RoleOut::Admin => Role::Admin,
            RoleOut::Official => Role::Official,
            RoleOut::Reviewer => Role::Reviewer,
            RoleOut::Clerk => Role::Clerk,
            RoleOut::Auditor => Role::Auditor,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserOut {
    #[schema(format = Uuid)]
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: RoleOut,
    #[schema(format = Uuid)]
    pub area_id: Option<String>,
    #[schema(format = Uuid)]
    pub store_id: Option<String>,
    pub disabled: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

fn user_out(u: &User) -> UserOut {
    UserOut {
        id: u.id.clone(),
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        role: RoleOut::of(u.role()),
        area_id: u.area_id.clone(),
        store_id: u.store_id.clone(),
        disabled: u.disabled,
        created_at: utc(u.created_at),
    }
}

/// Every user.
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses(
        (status = 200, description = "Users", body = Vec<UserOut>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
    ))]
pub async fn list(user: ApiUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    user.require(Action::ManageUsers)?;
    let all = run(&state, |c| Ok(users::list(c)?)).await?;
    Ok(HttpResponse::Ok().json(all.iter().map(|r| user_out(&r.user)).collect::<Vec<_>>()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUser {
    pub username: String,
    #[serde(default)]
    pub display_name: Option<String>,
    pub role: RoleOut,
    /// Officials and reviewers work in an area.
    #[serde(default)]
    #[schema(format = Uuid)]
    pub area_id: Option<String>,
    /// Clerks work at a store.
    #[serde(default)]
    #[schema(format = Uuid)]
    pub store_id: Option<String>,
    /// Write only; at least 8 characters.
    pub password: String,
}

/// Create a user with a password chosen by the admin.
#[utoipa::path(post, path = "/api/v1/users", tag = "users",
    request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = UserOut),
        (status = 400, description = "Malformed", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 409, description = "Username taken", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
pub async fn create(
    user: ApiUser,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    user.require(Action::ManageUsers)?;
    let f: NewUser = json_body(&body)?;
    let username = Username::parse(&f.username)?;
    let password = NewPassword::parse("field.password", &f.password)?;
    let display = crate::domain::parse_optional_text(
        "field.display_name",
        f.display_name.as_deref().unwrap_or(""),
        60,
    )?;
    let ctx = user.actor();
    let cost = state.config.password_cost;
    let made = run(&state, move |c| {
        let assignment = Assignment::parse(
            c,
            f.role.role().as_str(),
            f.area_id.as_deref().unwrap_or(""),
            f.store_id.as_deref().unwrap_or(""),
        )?;
        let (u, _) = users::create(
            c,
            &ctx,
            cost,
            &username,
            &display,
            &assignment,
            InitialPassword::Given(password),
        )?;
        Ok(u)
    })
    .await?;
    Ok(HttpResponse::Created().json(user_out(&made)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserPatch {
    /// With `area_id` or `store_id` as the role needs.
    #[serde(default)]
    pub role: Option<RoleOut>,
    #[serde(default)]
    #[schema(format = Uuid)]
    pub area_id: Option<String>,
    #[serde(default)]
    #[schema(format = Uuid)]
    pub store_id: Option<String>,
    /// Disabling ends the user's sessions and tokens at once.
    #[serde(default)]
    pub disabled: Option<bool>,
    /// Write only: a new password chosen by the admin.
    #[serde(default)]
    pub password: Option<String>,
}

/// Change a user's role and scope, disable or enable them, or set a password.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "User id")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "The user as they are now", body = UserOut),
        (status = 400, description = "Malformed", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
pub async fn update(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    user.require(Action::ManageUsers)?;
    let f: UserPatch = json_body(&body)?;
    let id = id.into_inner();
    let is_self = id == user.user.id;
    if is_self && f.disabled == Some(true) {
        return Err(FieldError::new("field.user", "error.cannot_disable_self").into());
    }
    if is_self && f.role.is_some_and(|r| r != RoleOut::Admin) {
        return Err(FieldError::new("field.role", "error.cannot_demote_self").into());
    }
    let password = f
        .password
        .as_deref()
        .map(|p| NewPassword::parse("field.password", p))
        .transpose()?;
    let ctx = user.actor();
    let cost = state.config.password_cost;
    let out = run(&state, move |c| {
        let subject = users::find(c, &id)?.ok_or(ApiError::NotFound)?;
        if f.role.is_some() || f.area_id.is_some() || f.store_id.is_some() {
            let role = f.role.map(RoleOut::role).unwrap_or(subject.role());
            let area = f
                .area_id
                .clone()
                .or(subject.area_id.clone())
                .unwrap_or_default();
            let store = f
                .store_id
                .clone()
                .or(subject.store_id.clone())
                .unwrap_or_default();
            let assignment = Assignment::parse(c, role.as_str(), &area, &store)?;
            users::assign(c, &ctx, &id, &assignment)?;
        }
        if let Some(d) = f.disabled {
            users::set_disabled(c, &ctx, &id, d)?;
        }
        if let Some(p) = password {
            users::set_password(c, &ctx, cost, &id, InitialPassword::Given(p), None)?;
        }
        users::find(c, &id)?.ok_or(ApiError::NotFound)
    })
    .await?;
    Ok(HttpResponse::Ok().json(user_out(&out)))
}
