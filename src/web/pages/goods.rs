//! The goods catalogue: everyone at a store may read it, admins keep it.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::Action;
use crate::goods::{self, Item, ItemForm};
use crate::web::extract::lang_of;
use crate::web::form::{Refused, or_again};
use crate::web::page::{PageCtx, flash_ok, render_with_status};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, run};

#[derive(Template)]
#[template(path = "goods/list.html")]
struct ListPage<'a> {
    ctx: &'a PageCtx,
    items: Vec<Item>,
    can_edit: bool,
    /// A refused new item (`"item"`) or row edit (`"item-<id>"`), if any.
    refused: Refused,
}

pub async fn list(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    list_page(req, user, state, Refused::default()).await
}

/// The catalogue; `refused` shows a refused form again (422).
async fn list_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    refused: Refused,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ViewStock)?;
    let items = run(&state, |c| Ok(goods::list(c)?)).await?;
    let ctx = PageCtx::build(&req, Some(&user));
    let status = refused.status();
    render_with_status(
        &ctx,
        &ListPage {
            ctx: &ctx,
            items,
            can_edit: user.can(Action::ManageCatalogue),
            refused,
        },
        status,
    )
}

#[derive(Deserialize, serde::Serialize)]
pub struct ItemFields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    points_price: String,
    #[serde(default)]
    barcode: String,
    #[serde(default)]
    active: String,
    /// The item's version when the edit form was opened (edits only).
    #[serde(default)]
    version: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for ItemFields {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "name" => "field.item_name",
            "category" => "field.category",
            "unit" => "field.unit",
            "points_price" => "field.points_price",
            "barcode" => "field.barcode",
            "active" => "field.active",
            _ => return None,
        })
    }
}

impl ItemFields {
    fn form(&self) -> ItemForm<'_> {
        ItemForm {
            name: &self.name,
            category: &self.category,
            unit: &self.unit,
            points_price: &self.points_price,
            barcode: &self.barcode,
        }
    }
}

pub async fn create(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<ItemFields>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let f = form.0;
    let typed = serde_json::to_value(&f).unwrap_or_default();
    let ctx = user.actor();
    let result = form
        .1
        .run(&state, move |c| Ok(goods::create(c, &ctx, &f.form())?))
        .await
        .map(|i| flash_ok(&req, "/items", "flash.item_created", &[("name", i.name)]));
    or_again(lang_of(&req), "item", &typed, result, |r| {
        list_page(req, user, state, r)
    })
    .await
}

pub async fn update(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<ItemFields>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::ManageCatalogue)?;
    let id: crate::domain::ItemId = crate::error::path_id(&id)?;
    let f = form.0;
    let typed = serde_json::to_value(&f).unwrap_or_default();
    let name = format!("item-{id}");
    let ctx = user.actor();
    let result = form
        .1
        .run(&state, move |c| {
            // The edit names the version it was made on.
            let seen = Some(crate::web::form::seen_version(&f.version)?);
            Ok(goods::update(
                c,
                &ctx,
                &id,
                &f.form(),
                f.active == "1",
                seen,
            )?)
        })
        .await
        .map(|i| flash_ok(&req, "/items", "flash.item_updated", &[("name", i.name)]));
    or_again(lang_of(&req), name, &typed, result, |r| {
        list_page(req, user, state, r)
    })
    .await
}
