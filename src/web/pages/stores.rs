use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::areas::Area;
use crate::auth::Action;
use crate::domain::FieldError;
use crate::stores::{self, StoreForm, StoreRow};
use crate::web::form::Refused;
use crate::web::page::{PageCtx, flash_ok, render_with_status};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, run};

#[derive(Template)]
#[template(path = "stores/list.html")]
struct ListPage<'a> {
    ctx: &'a PageCtx,
    stores: Vec<StoreRow>,
    areas: Vec<Area>,
    can_edit: bool,
    show_expected: bool,
    refused: Refused,
}

pub async fn list(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    list_page(req, user, state, Refused::default()).await
}

/// The stores; `refused` shows a refused new store again (422).
async fn list_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    refused: Refused,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ViewStores)?;
    let scope = user.scope.clone();
    let lang = user.lang;
    let (stores, areas, show_expected) = run(&state, move |c| {
        let (areas, names) = super::areas::tree_in_context(c, &scope, lang)?;
        let mut stores = stores::list(c)?;
        for s in &mut stores {
            s.area_name = names.name(&s.area_name, &s.area_path);
        }
        Ok((stores, areas, crate::stock::stocktake::show_expected(c)?))
    })
    .await?;
    let ctx = PageCtx::build(&req, Some(&user));
    let status = refused.status();
    render_with_status(
        &ctx,
        &ListPage {
            ctx: &ctx,
            stores,
            areas,
            can_edit: user.can(Action::ManageStores),
            show_expected,
            refused,
        },
        status,
    )
}

#[derive(Deserialize, serde::Serialize)]
pub struct NewStoreForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    area_id: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    opening_hours: String,
    #[serde(default)]
    phone: String,
    /// The store's version when the edit form was opened (edits only).
    #[serde(default)]
    version: String,
}

/// The store form's fields and the labels its messages stand beside.
impl crate::web::extract::FormFields for NewStoreForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "name" => "field.store_name",
            "area_id" => "field.area",
            "address" => "field.address",
            "opening_hours" => "field.opening_hours",
            "phone" => "field.store_phone",
            _ => return None,
        })
    }
}

pub async fn create(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<NewStoreForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::ManageStores)?;
    let f = form.0;
    let lang = crate::web::extract::lang_of(&req);
    let typed = serde_json::to_value(&f).unwrap_or_default();
    let actor = user.actor();
    let result = form
        .1
        .run(&state, move |c| {
            Ok(stores::create(
                c,
                &actor,
                &StoreForm {
                    name: &f.name,
                    area_id: &f.area_id,
                    address: &f.address,
                    opening_hours: &f.opening_hours,
                    phone: &f.phone,
                },
            )?)
        })
        .await;
    match result {
        Ok(s) => Ok(flash_ok(
            &req,
            "/stores",
            "flash.store_created",
            &[("name", s.name)],
        )),
        Err(AppError::Invalid(e)) => {
            let refused = Refused::of(lang, "store", &typed, &e);
            list_page(req, user, state, refused).await
        }
        Err(e) => Err(e),
    }
}

/// Change a store's details (admins).
pub async fn update(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<NewStoreForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let store =
        super::stock::load_store(&state, &user, Action::ManageStores, id.into_inner()).await?;
    let back = format!("/stores/{}", store.store.id);
    let f = form.0;
    let lang = crate::web::extract::lang_of(&req);
    let typed = serde_json::to_value(&f).unwrap_or_default();
    let actor = user.actor();
    let sid = store.store.id.clone();
    let result = form
        .1
        .run(&state, move |c| {
            // The edit names the version it was made on.
            let seen = Some(crate::web::form::seen_version(&f.version)?);
            Ok(stores::update(
                c,
                &actor,
                &sid,
                &StoreForm {
                    name: &f.name,
                    area_id: &f.area_id,
                    address: &f.address,
                    opening_hours: &f.opening_hours,
                    phone: &f.phone,
                },
                seen,
            )?)
        })
        .await;
    match result {
        Ok(s) => Ok(flash_ok(
            &req,
            &back,
            "flash.store_updated",
            &[("name", s.name)],
        )),
        Err(AppError::Invalid(e)) => {
            let refused = Refused::of(lang, "store", &typed, &e);
            super::stock::store_page(req, user, state, store, refused).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize, serde::Serialize)]
pub struct ActiveForm {
    #[serde(default)]
    active: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for ActiveForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "active" => "field.active",
            _ => return None,
        })
    }
}

/// Open ("1") or close ("0") a store (admins). A refusal (another value,
/// the field sent twice) comes back on the store's page, nothing changed.
pub async fn set_active(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<ActiveForm>,
) -> Result<HttpResponse, AppError> {
    let store =
        super::stock::load_store(&state, &user, Action::ManageStores, id.into_inner()).await?;
    let back = format!("/stores/{}", store.store.id);
    let actor = user.actor();
    let sid = store.store.id.clone();
    let (typed, twice) = form.checked();
    let active = match typed.active.as_str() {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => Err(FieldError::new("field.active", "error.choose_one")),
    };
    let result = async {
        let active = twice.check().and(active)?;
        run(&state, move |c| {
            Ok(stores::set_active(c, &actor, &sid, active)?)
        })
        .await
    }
    .await;
    match result {
        Ok(s) => {
            let key = if s.active {
                "flash.store_activated"
            } else {
                "flash.store_deactivated"
            };
            Ok(flash_ok(&req, &back, key, &[("name", s.name)]))
        }
        Err(AppError::Invalid(e)) => {
            let lang = crate::web::extract::lang_of(&req);
            let refused = Refused::of(lang, "active", &typed, &e);
            super::stock::store_page(req, user, state, store, refused).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct StocktakeSettingForm {
    #[serde(default)]
    show_expected: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for StocktakeSettingForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "show_expected" => "field.show_expected",
            _ => return None,
        })
    }
}

/// Whether count sheets show the expected quantities (admins).
pub async fn stocktake_setting(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<StocktakeSettingForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::ManageStores)?;
    let lang = crate::web::extract::lang_of(&req);
    if let Err(e) = form.1.check() {
        let typed = vec![("show_expected".to_string(), form.0.show_expected.clone())];
        let refused = Refused::of_pairs(lang, "stocktake", typed, &e);
        return list_page(req, user, state, refused).await;
    }
    let show = match form.0.show_expected.as_str() {
        "1" => true,
        "0" | "" => false,
        other => {
            let e = FieldError::new("field.show_expected", "error.choose_from_list");
            let typed = vec![("show_expected".to_string(), other.to_string())];
            let refused = Refused::of_pairs(lang, "stocktake", typed, &e);
            return list_page(req, user, state, refused).await;
        }
    };
    let ctx = user.actor();
    run(&state, move |c| {
        Ok(crate::stock::stocktake::set_show_expected(c, &ctx, show)?)
    })
    .await?;
    Ok(flash_ok(&req, "/stores", "flash.setting_saved", &[]))
}
