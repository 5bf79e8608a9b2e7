use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::areas::{self, Area};
use crate::auth::Action;
use crate::domain::AreaLevel;
use crate::web::extract::lang_of;
use crate::web::form::{Refused, or_again};
use crate::web::page::{PageCtx, flash_ok, or_flash, render_with_status};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, run};

/// The whole area tree for a picker, each village named with its town for
/// a viewer (`scope`, reading `lang`) above town level, and the context that named them
/// (for the page's other names). One query for the tree, one for towns.
pub(super) fn tree_in_context(
    c: &mut crate::db::DbConn,
    scope: &crate::auth::Scope,
    lang: crate::i18n::Lang,
) -> diesel::QueryResult<(Vec<Area>, areas::InContext)> {
    let mut tree = areas::tree(c)?;
    let names = areas::InContext::load(c, scope, lang, tree.iter().map(|a| a.path.as_str()))?;
    names.rename(&mut tree);
    Ok((tree, names))
}

#[derive(Template)]
#[template(path = "areas/list.html")]
struct ListPage<'a> {
    ctx: &'a PageCtx,
    areas: Vec<Area>,
    /// The provinces a city may be placed under.
    provinces: Vec<Area>,
    can_edit: bool,
    /// A refused form: a new city (`"city"`), a new child of an area
    /// (`"child-<id>"`) or a rename (`"rename-<id>"`).
    refused: Refused,
}

pub async fn list(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    list_page(req, user, state, Refused::default()).await
}

/// The area tree; `refused` shows a refused form again (422), its row open.
async fn list_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    refused: Refused,
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
    let status = refused.status();
    render_with_status(
        &ctx,
        &ListPage {
            ctx: &ctx,
            areas,
            provinces,
            can_edit: user.can(Action::ManageAreas),
            refused,
        },
        status,
    )
}

#[derive(Deserialize, serde::Serialize)]
pub struct NewAreaForm {
    #[serde(default)]
    parent_id: String,
    #[serde(default)]
    name: String,
    /// At the top only: `province` or `city` (empty: a city).
    #[serde(default)]
    level: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for NewAreaForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "parent_id" => "field.parent",
            "name" => "field.area_name",
            "level" => "field.level",
            _ => return None,
        })
    }
}

pub async fn create(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<NewAreaForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let f = form.0;
    let typed = serde_json::to_value(&f).unwrap_or_default();
    let name = match f.parent_id.trim() {
        "" => "city".to_string(),
        p => format!("child-{p}"),
    };
    let ctx = user.actor();
    let result = form
        .1
        .run(&state, move |c| {
            let parent = Some(f.parent_id.trim()).filter(|p| !p.is_empty());
            match (parent, f.level.trim()) {
                (None, "province") => Ok(areas::create_top(c, &ctx, AreaLevel::Province, &f.name)?),
                _ => Ok(areas::create(c, &ctx, parent, &f.name)?),
            }
        })
        .await
        .map(|a| flash_ok(&req, "/areas", "flash.area_created", &[("name", a.name)]));
    // A parent that is no area has no form of its own on the page: the
    // refusal, naming the parent, shows on the form at the top.
    let name = match &result {
        Err(AppError::Invalid(e)) if e.all().iter().any(|f| f.field == "field.parent") => {
            "city".to_string()
        }
        _ => name,
    };
    or_again(lang_of(&req), name, &typed, result, |r| {
        list_page(req, user, state, r)
    })
    .await
}

#[derive(Deserialize, serde::Serialize)]
pub struct RenameForm {
    #[serde(default)]
    name: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for RenameForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "name" => "field.area_name",
            _ => return None,
        })
    }
}

pub async fn rename(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<RenameForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let id = id.into_inner();
    let ctx = user.actor();
    let typed = serde_json::to_value(&form.0).unwrap_or_default();
    let form_name = format!("rename-{id}");
    let name = form.0.name;
    let result = form
        .1
        .run(&state, move |c| Ok(areas::rename(c, &ctx, &id, &name)?))
        .await
        .map(|a| flash_ok(&req, "/areas", "flash.area_renamed", &[("name", a.name)]));
    or_again(lang_of(&req), form_name, &typed, result, |r| {
        list_page(req, user, state, r)
    })
    .await
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

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for PlaceForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "province_id" => "field.parent",
            _ => return None,
        })
    }
}

/// Put a city under a province (`areas::place_under`).
pub async fn place(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<PlaceForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::ManageAreas)?;
    let id = id.into_inner();
    let ctx = user.actor();
    let province_id = form.0.province_id;
    let result = form
        .1
        .run(&state, move |c| {
            Ok(areas::place_under(c, &ctx, &id, province_id.trim())?)
        })
        .await
        .map(|a| flash_ok(&req, "/areas", "flash.area_placed", &[("name", a.name)]));
    or_flash(&req, "/areas", result)
}
