use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::areas::{self, Area};
use crate::auth::Action;
use crate::domain::AreaLevel;
use crate::web::page::{PageCtx, flash_ok, or_flash, render};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, run};

#[derive(Template)]
#[template(path = "areas/list.html")]
struct ListPage<'a> {
    ctx: &'a PageCtx,
    areas: Vec<Area>,
    /// The provinces a city may be placed under.
    provinces: Vec<Area>,
    can_edit: bool,
}

pub async fn list(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ViewAreas)?;
    let scope = user.scope.clone();
    let areas = run(&state, move |c| Ok(areas::visible(c, &scope)?)).await?;
    let provinces = areas
        .iter()
        .filter(|a| a.level() == AreaLevel::Province)
        .cloned()
        .collect();
    let ctx = PageCtx::build(&req, Some(&user));
    render(
        &ctx,
        &ListPage {
            ctx: &ctx,
            areas,
            provinces,
            can_edit: user.can(Action::ManageAreas),
        },
    )
}

#[derive(Deserialize)]
pub struct NewAreaForm {
    #[serde(default)]
    parent_id: String,
    #[serde(default)]
    name: String,
    /// At the top only: `province` or `city` (empty: a city).
    #[serde(default)]
    level: String,
}

pub async fn create(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<NewAreaForm>,
) -> Result<HttpResponse, AppError> {
    let f = form.0;
    let ctx = user.actor();
    let result = run(&state, move |c| {
        let parent = Some(f.parent_id.trim()).filter(|p| !p.is_empty());
        match (parent, f.level.trim()) {
            (None, "province") => Ok(areas::create_top(c, &ctx, AreaLevel::Province, &f.name)?),
            _ => Ok(areas::create(c, &ctx, parent, &f.name)?),
        }
    })
    .await
    .map(|a| flash_ok(&req, "/areas", "flash.area_created", &[("name", a.name)]));
    or_flash(&req, "/areas", result)
}

#[derive(Deserialize)]
pub struct RenameForm {
    #[serde(default)]
    name: String,
}

pub async fn rename(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<RenameForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let ctx = user.actor();
    let name = form.0.name;
    let result = run(&state, move |c| Ok(areas::rename(c, &ctx, &id, &name)?))
        .await
        .map(|a| flash_ok(&req, "/areas", "flash.area_renamed", &[("name", a.name)]));
    or_flash(&req, "/areas", result)
}

pub async fn delete(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    _form: CsrfForm<super::auth::Empty>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let ctx = user.actor();
    let result = run(&state, move |c| Ok(areas::delete(c, &ctx, &id)?))
        .await
        .map(|_| flash_ok(&req, "/areas", "flash.area_deleted", &[]));
    or_flash(&req, "/areas", result)
}

#[derive(Deserialize)]
pub struct PlaceForm {
    #[serde(default)]
    province_id: String,
}

/// Put a city under a province (`areas::place_under`).
pub async fn place(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<PlaceForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ManageAreas)?;
    let id = id.into_inner();
    let ctx = user.actor();
    let province_id = form.0.province_id;
    let result = run(&state, move |c| {
        Ok(areas::place_under(c, &ctx, &id, province_id.trim())?)
    })
    .await
    .map(|a| flash_ok(&req, "/areas", "flash.area_placed", &[("name", a.name)]));
    or_flash(&req, "/areas", result)
}
