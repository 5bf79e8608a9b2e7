use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::areas::{self, Area};
use crate::auth::Action;
use crate::stores::{self, StoreForm, StoreRow};
use crate::web::extract::audit_ctx;
use crate::web::page::{PageCtx, flash_ok, or_flash, render};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, run};

#[derive(Template)]
#[template(path = "stores/list.html")]
struct ListPage<'a> {
    ctx: &'a PageCtx,
    stores: Vec<StoreRow>,
    areas: Vec<Area>,
    can_edit: bool,
}

pub async fn list(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ViewStores)?;
    let (stores, areas) = run(&state, |c| Ok((stores::list(c)?, areas::tree(c)?))).await?;
    let ctx = PageCtx::build(&req, Some(&user));
    render(
        &ctx,
        &ListPage {
            ctx: &ctx,
            stores,
            areas,
            can_edit: user.can(Action::ManageStores),
        },
    )
}

#[derive(Deserialize)]
pub struct NewStoreForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    area_id: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    opening_hours: String,
}

pub async fn create(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<NewStoreForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ManageStores)?;
    let f = form.0;
    let ctx = audit_ctx(&req, Some(&user));
    let result = run(&state, move |c| {
        Ok(stores::create(
            c,
            &ctx,
            &StoreForm {
                name: &f.name,
                area_id: &f.area_id,
                address: &f.address,
                opening_hours: &f.opening_hours,
            },
        )?)
    })
    .await
    .map(|s| flash_ok(&req, "/stores", "flash.store_created", &[("name", s.name)]));
    or_flash(&req, "/stores", result)
}
