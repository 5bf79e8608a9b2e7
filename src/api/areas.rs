//! Areas: province > city > district > town > village.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::run;
use super::{ApiUser, json_body};
use crate::areas::{self, Area};
use crate::auth::{Action, Scope};
use crate::domain::{AreaLevel, FieldError};
use crate::state::AppState;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Province,
    City,
    District,
    Town,
    Village,
}

impl From<AreaLevel> for Level {
    fn from(l: AreaLevel) -> Level {
        match l {
            AreaLevel::Province => Level::Province,
            AreaLevel::City => Level::City,
            AreaLevel::District => Level::District,
            AreaLevel::Town => Level::Town,
            AreaLevel::Village => Level::Village,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AreaOut {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    pub level: Level,
    #[schema(format = Uuid)]
    pub parent_id: Option<String>,
}

impl From<&Area> for AreaOut {
    fn from(a: &Area) -> AreaOut {
        AreaOut {
            id: a.id.clone(),
            name: a.name.clone(),
            level: a.level().into(),
            parent_id: a.parent_id.clone(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewArea {
    pub name: String,
    /// Follows from the parent; when given it must match.
    #[serde(default)]
    pub level: Option<Level>,
    /// None for an area at the top: a city, or a province when `level`
    /// says so.
    #[serde(default)]
    #[schema(format = Uuid)]
    pub parent_id: Option<String>,
}

/// The areas the caller may see: all of them for unscoped admins and
/// auditors, their own subtree for everyone scoped to an area.
fn visible(c: &mut crate::db::DbConn, who: &(bool, bool, Scope)) -> Result<Vec<Area>, ApiError> {
    let (view_areas, view_households, scope) = who;
    if *view_areas {
        return Ok(areas::visible(c, scope)?);
    }
    match (scope, view_households) {
        (Scope::Area { path, .. }, true) => Ok(areas::subtree(c, path)?),
        _ => Err(ApiError::Forbidden),
    }
}

/// List areas (tree order).
#[utoipa::path(get, path = "/api/v1/areas", tag = "areas",
    responses(
        (status = 200, description = "Areas in the caller's scope", body = Vec<AreaOut>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
    ))]
pub async fn list(user: ApiUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let u = (
        user.can(Action::ViewAreas),
        user.can(Action::ViewHouseholds),
        user.scope.clone(),
    );
    let all = run(&state, move |c| visible(c, &u)).await?;
    Ok(HttpResponse::Ok().json(all.iter().map(AreaOut::from).collect::<Vec<_>>()))
}

/// One area.
#[utoipa::path(get, path = "/api/v1/areas/{id}", tag = "areas",
    params(("id" = String, Path, description = "Area id")),
    responses(
        (status = 200, description = "The area", body = AreaOut),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such area in the caller's scope", body = ErrorBody),
    ))]
pub async fn get(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let u = (
        user.can(Action::ViewAreas),
        user.can(Action::ViewHouseholds),
        user.scope.clone(),
    );
    let all = run(&state, move |c| visible(c, &u)).await?;
    let area = all.iter().find(|a| a.id == id).ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(AreaOut::from(area)))
}

/// Create an area under a parent (a city without one). Admins only.
#[utoipa::path(post, path = "/api/v1/areas", tag = "areas",
    request_body = NewArea,
    responses(
        (status = 201, description = "Created", body = AreaOut),
        (status = 400, description = "Malformed", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 409, description = "Name taken under this parent", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
pub async fn create(
    user: ApiUser,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    user.require(Action::ManageAreas)?;
    let f: NewArea = json_body(&body)?;
    let ctx = user.actor();
    let area = run(&state, move |c| {
        let parent = match f.parent_id.as_deref().map(str::trim) {
            Some("") | None => None,
            Some(p) => Some(
                areas::find(c, p)?.ok_or(FieldError::new("field.parent", "error.area_unknown"))?,
            ),
        };
        if parent.is_none() && f.level == Some(Level::Province) {
            return Ok(areas::create_top(c, &ctx, AreaLevel::Province, &f.name)?);
        }
        if let Some(level) = f.level {
            let expected = match &parent {
                None => Some(AreaLevel::City),
                Some(p) => p.level().child(),
            };
            if expected.map(Level::from) != Some(level) {
                return Err(FieldError::new("field.level", "error.level_mismatch").into());
            }
        }
        Ok(areas::create(
            c,
            &ctx,
            parent.as_ref().map(|p| p.id.as_str()),
            &f.name,
        )?)
    })
    .await?;
    Ok(HttpResponse::Created().json(AreaOut::from(&area)))
}
