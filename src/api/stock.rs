//! Stores, goods, donations and stock movements.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::idempotency::{self, Key, Stored};
use super::run;
use super::{ApiUser, json_body};
use super::{body_store, load_store};
use crate::auth::Action;
use crate::domain::{FieldError, ItemId, StoreId, form_id};
use crate::donations::{self, DonationForm, DonorForm, LineInput};
use crate::goods::{self, Item, ItemForm};
use crate::idempotency::IdemKey;
use crate::state::AppState;
use crate::stock;
use crate::stores::{self, StoreForm, StoreRow};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StoreOut {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    #[schema(format = Uuid)]
    pub area_id: String,
    pub area_name: String,
    pub address: String,
    pub opening_hours: String,
    pub active: bool,
}

fn store_out(s: &StoreRow) -> StoreOut {
    StoreOut {
        id: s.store.id.to_string(),
        name: s.store.name.clone(),
        area_id: s.store.area_id.clone(),
        area_name: s.area_name.clone(),
        address: s.store.address.clone(),
        opening_hours: s.store.opening_hours.clone(),
        active: s.store.active,
    }
}

/// Stores in the caller's scope (a clerk: their own).
#[utoipa::path(get, path = "/api/v1/stores", tag = "stock",
    responses(
        (status = 200, description = "Stores", body = Vec<StoreOut>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
    ))]
pub async fn list_stores(
    user: ApiUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !(user.can(Action::ViewStores) || user.can(Action::ViewStock)) {
        return Err(ApiError::Forbidden);
    }
    let scope = user.scope.clone();
    let all = run(&state, |c| Ok(stores::list(c)?)).await?;
    Ok(HttpResponse::Ok().json(
        all.iter()
            .filter(|s| scope.covers_store(&s.store.id, &s.area_path))
            .map(store_out)
            .collect::<Vec<_>>(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewStore {
    pub name: String,
    #[schema(format = Uuid)]
    pub area_id: String,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub opening_hours: Option<String>,
}

/// Open a store. Admins only.
#[utoipa::path(post, path = "/api/v1/stores", tag = "stock",
    request_body = NewStore,
    responses(
        (status = 201, description = "Created", body = StoreOut),
        (status = 400, description = "Malformed", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 409, description = "Name taken", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
pub async fn create_store(
    user: ApiUser,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    user.require(Action::ManageStores)?;
    let f: NewStore = json_body(&body)?;
    let actor = user.actor();
    let out = run(&state, move |c| {
        let s = stores::create(
            c,
            &actor,
            &StoreForm {
                name: &f.name,
                area_id: &f.area_id,
                address: f.address.as_deref().unwrap_or(""),
                opening_hours: f.opening_hours.as_deref().unwrap_or(""),
                phone: "",
            },
        )?;
        stores::find(c, &s.id)?.ok_or(ApiError::NotFound)
    })
    .await?;
    Ok(HttpResponse::Created().json(store_out(&out)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ShelfLineOut {
    #[schema(format = Uuid)]
    pub item_id: String,
    pub name: String,
    pub unit: String,
    pub quantity: i64,
    /// Points price at this store now.
    pub points_price: i64,
    pub low: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StockOut {
    #[schema(format = Uuid)]
    pub store_id: String,
    pub lines: Vec<ShelfLineOut>,
}

/// A store's shelf: what it holds now.
#[utoipa::path(get, path = "/api/v1/stores/{id}/stock", tag = "stock",
    params(("id" = String, Path, description = "Store id")),
    responses(
        (status = 200, description = "The shelf", body = StockOut),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed at this store", body = ErrorBody),
        (status = 404, description = "No such store", body = ErrorBody),
    ))]
pub async fn store_stock(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let store = load_store(&state, &user, Action::ViewStock, id.into_inner()).await?;
    let sid = store.store.id.clone();
    let shelf = run(&state, move |c| Ok(stock::shelf(c, &sid)?)).await?;
    Ok(HttpResponse::Ok().json(StockOut {
        store_id: store.store.id.to_string(),
        lines: shelf
            .iter()
            .map(|l| ShelfLineOut {
                item_id: l.item.id.to_string(),
                name: l.item.name.clone(),
                unit: l.item.unit.clone(),
                quantity: l.quantity,
                points_price: l.price,
                low: l.is_low(),
            })
            .collect(),
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ItemOut {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    pub category: String,
    pub unit: String,
    pub points_price: i64,
    pub barcode: Option<String>,
    pub active: bool,
}

fn item_out(i: &Item) -> ItemOut {
    ItemOut {
        id: i.id.to_string(),
        name: i.name.clone(),
        category: i.category.clone(),
        unit: i.unit.clone(),
        points_price: i.points_price,
        barcode: i.barcode.clone(),
        active: i.active,
    }
}

/// The goods catalogue.
#[utoipa::path(get, path = "/api/v1/items", tag = "stock",
    responses(
        (status = 200, description = "Items", body = Vec<ItemOut>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
    ))]
pub async fn list_items(
    user: ApiUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    user.require(Action::ViewStock)?;
    let all = run(&state, |c| Ok(goods::list(c)?)).await?;
    Ok(HttpResponse::Ok().json(all.iter().map(item_out).collect::<Vec<_>>()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewItem {
    pub name: String,
    #[serde(default)]
    pub category: Option<String>,
    pub unit: String,
    #[schema(minimum = 0)]
    pub points_price: i64,
    #[serde(default)]
    pub barcode: Option<String>,
}

/// Add an item to the catalogue. Admins only.
#[utoipa::path(post, path = "/api/v1/items", tag = "stock",
    request_body = NewItem,
    responses(
        (status = 201, description = "Created", body = ItemOut),
        (status = 400, description = "Malformed", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 409, description = "Name or barcode taken", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
pub async fn create_item(
    user: ApiUser,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    user.require(Action::ManageCatalogue)?;
    let f: NewItem = json_body(&body)?;
    let ctx = user.actor();
    let item = run(&state, move |c| {
        Ok(goods::create(
            c,
            &ctx,
            &ItemForm {
                name: &f.name,
                category: f.category.as_deref().unwrap_or(""),
                unit: &f.unit,
                points_price: &f.points_price.to_string(),
                barcode: f.barcode.as_deref().unwrap_or(""),
            },
        )?)
    })
    .await?;
    Ok(HttpResponse::Created().json(item_out(&item)))
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DonorKind {
    Enterprise,
    PublicUnit,
    SocialOrg,
    Individual,
    Anonymous,
}

impl DonorKind {
    fn as_str(self) -> &'static str {
        match self {
            DonorKind::Enterprise => "enterprise",
            DonorKind::PublicUnit => "public_unit",
            DonorKind::SocialOrg => "social_org",
            DonorKind::Individual => "individual",
            DonorKind::Anonymous => "anonymous",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewDonor {
    pub name: String,
    pub kind: DonorKind,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DonationLineIn {
    #[schema(format = Uuid)]
    pub item_id: String,
    #[schema(minimum = 1)]
    pub quantity: i64,
    /// Estimated value of the line, in fen.
    #[serde(default)]
    #[schema(minimum = 0)]
    pub value_fen: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewDonation {
    #[schema(format = Uuid)]
    pub store_id: String,
    /// An existing donor ...
    #[serde(default)]
    #[schema(format = Uuid)]
    pub donor_id: Option<String>,
    /// ... or a new one.
    #[serde(default)]
    pub donor: Option<NewDonor>,
    /// YYYY-MM-DD (full-width digits are read as digits).
    #[serde(deserialize_with = "super::typed_date")]
    pub received_on: NaiveDate,
    /// Money given, in fen.
    #[serde(default)]
    #[schema(minimum = 0)]
    pub money_fen: Option<i64>,
    #[serde(default)]
    pub note: Option<String>,
    pub lines: Vec<DonationLineIn>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DonationOut {
    #[schema(format = Uuid)]
    pub id: String,
    pub number: String,
    #[schema(format = Uuid)]
    pub store_id: String,
    #[schema(format = Uuid)]
    pub donor_id: String,
    pub received_on: NaiveDate,
    pub money_fen: i64,
    pub lines: Vec<DonationLineOut>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DonationLineOut {
    #[schema(format = Uuid)]
    pub item_id: String,
    pub quantity: i64,
    pub value_fen: i64,
}

/// Book donated goods in at a store: the shelf goes up, the donor is thanked.
#[utoipa::path(post, path = "/api/v1/donations", tag = "stock",
    request_body = NewDonation,
    params(("Idempotency-Key" = String, Header, description = "Exactly-once key", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 201, description = "Booked", body = DonationOut),
        (status = 400, description = "Malformed, or no Idempotency-Key", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed at this store", body = ErrorBody),
        (status = 404, description = "No such store", body = ErrorBody),
        (status = 409, description = "Month closed, or key reused", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
pub async fn donate(
    req: HttpRequest,
    user: ApiUser,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    user.require(Action::BookDonation)?;
    let key = Key::of(&req, &body)?;
    let f: NewDonation = json_body(&body)?;
    // Amounts come in fen: refused in fen, by their own names, never read
    // back as yuan.
    let fen = |field: String, v: Option<i64>| match v {
        Some(n) if !(0..=crate::domain::stock::MAX_FEN).contains(&n) => Err(ApiError::BadField {
            field,
            key: "api.field_fen",
            args: vec![("max", crate::domain::stock::MAX_FEN.to_string())],
        }),
        _ => Ok(()),
    };
    fen("money_fen".into(), f.money_fen)?;
    for (i, l) in f.lines.iter().enumerate() {
        fen(format!("lines[{i}].value_fen"), l.value_fen)?;
    }
    let store = body_store(&state, &user, Action::BookDonation, &f.store_id).await?;
    if !store.store.active {
        return Err(FieldError::new("field.store", "error.store_inactive").into());
    }
    if f.donor.is_some() {
        user.require(Action::ManageDonors)?;
    }
    let ctx = user.actor();
    let user_id = user.user.id.clone();
    let today = crate::time::today(state.config.time_zone);
    let (done, replayed) = run(&state, move |c| {
        idempotency::once(c, &user_id, &key, |c| {
            let donor_id = match (&f.donor_id, &f.donor) {
                (Some(id), None) => id.trim().to_string(),
                (None, Some(d)) => {
                    donations::create_donor(
                        c,
                        &ctx,
                        &DonorForm {
                            name: &d.name,
                            kind: d.kind.as_str(),
                            contact_person: "",
                            phone: "",
                            address: "",
                            note: "",
                        },
                    )?
                    .id
                }
                _ => return Err(FieldError::new("field.donor", "error.required").into()),
            };
            if donations::find_donor(c, &donor_id)?.is_none() {
                return Err(FieldError::new("field.donor", "error.donor_unknown").into());
            }
            let lines: Vec<LineInput> = f
                .lines
                .iter()
                .map(|l| LineInput {
                    item_id: l.item_id.clone(),
                    quantity: l.quantity.to_string(),
                    value: l
                        .value_fen
                        .map(crate::domain::stock::yuan)
                        .unwrap_or_default(),
                })
                .collect();
            let dkey = IdemKey::parse(&key.domain_key(&user_id))?;
            let out = donations::book(
                c,
                &ctx,
                &dkey,
                &store.store.id,
                &DonationForm {
                    donor_id: &donor_id,
                    donated_on: &f.received_on.to_string(),
                    money: &f
                        .money_fen
                        .map(crate::domain::stock::yuan)
                        .unwrap_or_default(),
                    note: f.note.as_deref().unwrap_or(""),
                    lines: &lines,
                },
                today,
            )?;
            let v = donations::find_donation(c, &out.id)?.ok_or(ApiError::NotFound)?;
            Stored::json(
                201,
                &DonationOut {
                    id: v.donation.id.clone(),
                    number: v.donation.number.clone(),
                    store_id: v.donation.store_id.to_string(),
                    donor_id: v.donation.donor_id.clone(),
                    received_on: v.donation.donated_on,
                    money_fen: v.donation.money_fen,
                    lines: v
                        .lines
                        .iter()
                        .map(|l| DonationLineOut {
                            item_id: l.item_id.clone(),
                            quantity: l.quantity,
                            value_fen: l.value_fen,
                        })
                        .collect(),
                },
            )
        })
    })
    .await?;
    Ok(done.response(replayed))
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MovementKindIn {
    /// To another store (`to_store_id`).
    Move,
    /// A counted difference: `quantity` is signed (+ found, - missing).
    Adjustment,
    /// Damaged or expired goods leave the shelf.
    WriteOff,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewMovement {
    pub kind: MovementKindIn,
    #[schema(format = Uuid)]
    pub store_id: String,
    #[serde(default)]
    #[schema(format = Uuid)]
    pub to_store_id: Option<String>,
    #[schema(format = Uuid)]
    pub item_id: String,
    /// Positive, except for an adjustment (signed, not zero).
    pub quantity: i64,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MovementOut {
    #[schema(format = Uuid)]
    pub id: String,
    pub kind: String,
    #[schema(format = Uuid)]
    pub item_id: String,
    pub quantity: i64,
    pub from_account: String,
    pub to_account: String,
}

/// Move goods between stores, post a counted difference, or write goods off.
#[utoipa::path(post, path = "/api/v1/stock-movements", tag = "stock",
    request_body = NewMovement,
    params(("Idempotency-Key" = String, Header, description = "Exactly-once key", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 201, description = "Posted", body = MovementOut),
        (status = 400, description = "Malformed, or no Idempotency-Key", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed at this store", body = ErrorBody),
        (status = 404, description = "No such store", body = ErrorBody),
        (status = 409, description = "Not enough stock, month closed, or key reused", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
pub async fn movement(
    req: HttpRequest,
    user: ApiUser,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let key = Key::of(&req, &body)?;
    let f: NewMovement = json_body(&body)?;
    let action = match f.kind {
        MovementKindIn::Adjustment => Action::Stocktake,
        _ => Action::MoveStock,
    };
    let store = body_store(&state, &user, action, &f.store_id).await?;
    // The body's other ids, parsed before anything runs: text that is not
    // an id is a 422 naming its field.
    let item: ItemId = form_id("field.item", &f.item_id, "error.item_unknown")?;
    let to_store: Option<StoreId> = match f.kind {
        MovementKindIn::Move => Some(form_id(
            "field.to_store",
            f.to_store_id.as_deref().unwrap_or(""),
            "error.store_unknown",
        )?),
        _ => None,
    };
    let ctx = user.actor();
    let user_id = user.user.id.clone();
    let today = crate::time::today(state.config.time_zone);
    let (done, replayed) = run(&state, move |c| {
        idempotency::once(c, &user_id, &key, |c| {
            let dkey = IdemKey::parse(&key.domain_key(&user_id))?;
            let sid = &store.store.id;
            let reason = f.reason.as_deref().unwrap_or("");
            let qty = f.quantity.to_string();
            let id = match f.kind {
                MovementKindIn::Move => {
                    stock::move_to_store(
                        c,
                        &ctx,
                        &dkey,
                        sid,
                        to_store.as_ref().expect("a move names its store"),
                        &item,
                        &qty,
                        today,
                    )?
                    .id
                }
                MovementKindIn::WriteOff => {
                    stock::write_off(c, &ctx, &dkey, sid, &item, &qty, reason, today)?.id
                }
                MovementKindIn::Adjustment => {
                    if crate::domain::input::trim_text(reason).is_empty() {
                        return Err(FieldError::new("field.reason", "error.required").into());
                    }
                    let item = goods::find(c, &item)?
                        .ok_or(FieldError::new("field.item", "error.item_unknown"))?;
                    stock::adjust(c, &ctx, sid, &item, f.quantity, reason, today)?
                        .ok_or(FieldError::new("field.quantity", "error.quantity_nonzero"))?
                        .id
                }
            };
            let m = stock::find_movement(c, &id)?.ok_or(ApiError::NotFound)?;
            Stored::json(
                201,
                &MovementOut {
                    id: m.id.clone(),
                    kind: m.kind.clone(),
                    item_id: m.item_id.to_string(),
                    quantity: m.quantity,
                    from_account: m.from_account.clone(),
                    to_account: m.to_account.clone(),
                },
            )
        })
    })
    .await?;
    Ok(done.response(replayed))
}
