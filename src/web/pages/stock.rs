//! A store's shelf, its movement history (with CSV/XLSX export), moving
//! goods, writing off, reversing, thresholds and prices, and the ledger check.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::areas::Area;
use crate::auth::{Action, Scope};
use crate::domain::{FieldError, ItemId, StoreId, form_id};
use crate::goods::{self, Item};
use crate::i18n::{self, Lang};
use crate::idempotency::IdemKey;
use crate::stock::stocktake::{self, Stocktake};
use crate::stock::{self, Account, HistoryFilter, LowStock, Movement, MovementKind, ShelfLine};
use crate::stores::{self, StoreRow};
use crate::web::extract::{Filter, lang_of};
use crate::web::form::{FormErrors, Refused, or_again};
use crate::web::page::{PageCtx, PastEnd, flash_ok, render, render_with_status};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, run};

/// Load the store a URL or form names, and check that the user may do
/// `action` there (403 before 404 for roles that may not act at all; text
/// that is not a store id is a 404, and no query runs with it).
pub async fn load_store(
    state: &AppState,
    user: &crate::web::extract::Authed,
    action: Action,
    id: String,
) -> Result<StoreRow, AppError> {
    user.require(action)?;
    let id: StoreId = crate::error::path_id(&id)?;
    let actor = user.actor();
    run(state, move |c| {
        Ok(stores::for_actor(c, &actor, action, &id)?)
    })
    .await
}

/// A fresh idempotency key for a form being drawn.
pub fn form_key() -> String {
    IdemKey::issue().to_string()
}

/// Where the result of a form that moved goods is shown, with a note when
/// the form had already been sent.
fn done(req: &HttpRequest, location: &str, key: &str, replayed: bool) -> HttpResponse {
    if replayed {
        flash_ok(req, location, "flash.already_done", &[])
    } else {
        flash_ok(req, location, key, &[])
    }
}

#[derive(Template)]
#[template(path = "stores/detail.html")]
struct StorePage<'a> {
    ctx: &'a PageCtx,
    store: StoreRow,
    shelf: Vec<ShelfLine>,
    low: Vec<LowStock>,
    items: Vec<Item>,
    other_stores: Vec<StoreRow>,
    areas: Vec<Area>,
    stocktakes: Vec<Stocktake>,
    can_manage: bool,
    can_price: bool,
    can_move: bool,
    can_book: bool,
    can_count: bool,
    /// May open this store's monthly summary.
    can_report: bool,
    move_key: String,
    write_off_key: String,
    buy_in_key: String,
    /// A refused form of this page shown again, if any.
    refused: Refused,
    /// Whether the reader may open the list of stores (clerks may not).
    can_list_stores: bool,
}

impl StorePage<'_> {
    fn units(&self) -> i64 {
        self.shelf.iter().map(|l| l.quantity).sum()
    }
    fn value(&self) -> i64 {
        self.shelf.iter().map(ShelfLine::value).sum()
    }
}

/// A store's page: its shelf (stock on hand, value, what is low) and what
/// can be done there.
pub async fn detail(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let store = load_store(&state, &user, Action::ViewStock, id.into_inner()).await?;
    store_page(req, user, state, store, Refused::default()).await
}

/// The store's page for `store` (already checked for this user); `refused`
/// shows one of its forms refused (422), with what was typed.
pub(super) async fn store_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    store: StoreRow,
    refused: Refused,
) -> Result<HttpResponse, AppError> {
    let sid = store.store.id.clone();
    let scope = user.scope.clone();
    let lang = user.lang;
    let (shelf, low, items, other_stores, areas, stocktakes) = run(&state, move |c| {
        let others = stores::list(c)?
            .into_iter()
            .filter(|s| s.store.id != sid && s.store.active)
            .collect();
        Ok((
            stock::shelf(c, &sid)?,
            stock::low_stock(c, Some(&sid))?,
            goods::list_active(c)?,
            others,
            super::areas::tree_in_context(c, &scope, lang)?.0,
            stocktake::list_for_store(c, &sid)?,
        ))
    })
    .await?;
    let ctx = PageCtx::build(&req, Some(&user));
    let status = refused.status();
    render_with_status(
        &ctx,
        &StorePage {
            ctx: &ctx,
            can_manage: user.can(Action::ManageStores),
            can_price: user.can(Action::ManageCatalogue),
            can_move: user.can_at_store(Action::MoveStock, &store) && store.store.active,
            can_book: user.can_at_store(Action::BookDonation, &store) && store.store.active,
            can_count: user.can_at_store(Action::Stocktake, &store),
            can_report: user.can(Action::ViewReports)
                && user.scope.covers_store(&store.store.id, &store.area_path),
            store,
            shelf,
            low,
            items,
            other_stores,
            areas,
            stocktakes,
            move_key: form_key(),
            write_off_key: form_key(),
            buy_in_key: form_key(),
            refused,
            can_list_stores: user.can(Action::ViewStores),
        },
        status,
    )
}

/// "My store": a clerk's own shelf; everyone else the list of stores.
pub async fn my_store(user: CurrentUser) -> Result<HttpResponse, AppError> {
    user.require(Action::ViewStock)?;
    let location = match &user.scope {
        Scope::Store { id } => format!("/stores/{id}"),
        _ if user.can(Action::ViewStores) => "/stores".to_string(),
        _ => return Err(AppError::Forbidden),
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish())
}

#[derive(Deserialize, serde::Serialize)]
pub struct MoveForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    item_id: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    to_store_id: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for MoveForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "item_id" => "field.item",
            "quantity" => "field.quantity",
            "to_store_id" => "field.to_store",
            _ => return None,
        })
    }
}

/// Move goods from this store to another, in one transaction.
pub async fn move_stock(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<MoveForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let store = load_store(&state, &user, Action::MoveStock, id.into_inner()).await?;
    let back = format!("/stores/{}", store.store.id);
    let f = form.0;
    let typed = serde_json::to_value(&f).unwrap_or_default();
    let ctx = user.actor();
    let today = crate::time::today(state.config.time_zone);
    let result = async {
        let key = IdemKey::parse(&f.key)?;
        if !store.store.active {
            return Err(FieldError::new("field.store", "error.store_inactive").into());
        }
        let to_store: StoreId = form_id("field.to_store", &f.to_store_id, "error.store_unknown")?;
        let item: ItemId = form_id("field.item", &f.item_id, "error.item_unknown")?;
        let sid = store.store.id.clone();
        let out = form
            .1
            .run(&state, move |c| {
                Ok(stock::move_to_store(
                    c,
                    &ctx,
                    &key,
                    &sid,
                    &to_store,
                    &item,
                    &f.quantity,
                    today,
                )?)
            })
            .await?;
        Ok(done(&req, &back, "flash.stock_moved", out.replayed))
    }
    .await;
    or_again(lang_of(&req), "move", &typed, result, |r| {
        store_page(req, user, state, store, r)
    })
    .await
}

#[derive(Deserialize, serde::Serialize)]
pub struct WriteOffForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    item_id: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    reason: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for WriteOffForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "item_id" => "field.item",
            "quantity" => "field.quantity",
            "reason" => "field.reason",
            _ => return None,
        })
    }
}

/// Write off damaged or expired goods, with a reason.
pub async fn write_off(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<WriteOffForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let store = load_store(&state, &user, Action::MoveStock, id.into_inner()).await?;
    let back = format!("/stores/{}", store.store.id);
    let f = form.0;
    let typed = serde_json::to_value(&f).unwrap_or_default();
    let ctx = user.actor();
    let today = crate::time::today(state.config.time_zone);
    let result = async {
        let key = IdemKey::parse(&f.key)?;
        let item: ItemId = form_id("field.item", &f.item_id, "error.item_unknown")?;
        let sid = store.store.id.clone();
        let out = form
            .1
            .run(&state, move |c| {
                Ok(stock::write_off(
                    c,
                    &ctx,
                    &key,
                    &sid,
                    &item,
                    &f.quantity,
                    &f.reason,
                    today,
                )?)
            })
            .await?;
        Ok(done(&req, &back, "flash.written_off", out.replayed))
    }
    .await;
    or_again(lang_of(&req), "write_off", &typed, result, |r| {
        store_page(req, user, state, store, r)
    })
    .await
}

#[derive(Deserialize, serde::Serialize)]
pub struct BuyInForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    item_id: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    note: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for BuyInForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "item_id" => "field.item",
            "quantity" => "field.quantity",
            "note" => "field.note",
            _ => return None,
        })
    }
}

/// Goods bought with donated money, put on the shelf.
pub async fn buy_in(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<BuyInForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let store = load_store(&state, &user, Action::BookDonation, id.into_inner()).await?;
    let back = format!("/stores/{}", store.store.id);
    let f = form.0;
    let typed = serde_json::to_value(&f).unwrap_or_default();
    let ctx = user.actor();
    let today = crate::time::today(state.config.time_zone);
    let result = async {
        let key = IdemKey::parse(&f.key)?;
        let item: ItemId = form_id("field.item", &f.item_id, "error.item_unknown")?;
        let sid = store.store.id.clone();
        let out = form
            .1
            .run(&state, move |c| {
                Ok(stock::buy_in(
                    c,
                    &ctx,
                    &key,
                    &sid,
                    &item,
                    &f.quantity,
                    &f.note,
                    today,
                )?)
            })
            .await?;
        Ok(done(&req, &back, "flash.bought_in", out.replayed))
    }
    .await;
    or_again(lang_of(&req), "buy_in", &typed, result, |r| {
        store_page(req, user, state, store, r)
    })
    .await
}

#[derive(Deserialize, serde::Serialize)]
pub struct ItemSettingForm {
    #[serde(default)]
    item_id: String,
    #[serde(default)]
    value: String,
}

/// The low-stock threshold form of a store's item.
#[derive(Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct ThresholdForm(ItemSettingForm);

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for ThresholdForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "item_id" => "field.item",
            "value" => "field.low_threshold",
            _ => return None,
        })
    }
}

/// The store's own price form of an item.
#[derive(Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct PriceForm(ItemSettingForm);

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for PriceForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "item_id" => "field.item",
            "value" => "field.store_price",
            _ => return None,
        })
    }
}

/// A store's low-stock threshold for an item.
pub async fn set_threshold(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<ThresholdForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let store = load_store(&state, &user, Action::MoveStock, id.into_inner()).await?;
    let back = format!("/stores/{}", store.store.id);
    let f = form.0.0;
    let typed = serde_json::to_value(&f).unwrap_or_default();
    let ctx = user.actor();
    let sid = store.store.id.clone();
    let result = async {
        let item: ItemId = form_id("field.item", &f.item_id, "error.item_unknown")?;
        form.1
            .run(&state, move |c| {
                Ok(goods::set_threshold(c, &ctx, &sid, &item, &f.value)?)
            })
            .await
    }
    .await
    .map(|i| flash_ok(&req, &back, "flash.threshold_set", &[("item", i.name)]));
    or_again(lang_of(&req), "threshold", &typed, result, |r| {
        store_page(req, user, state, store, r)
    })
    .await
}

/// A store's own price for an item (empty: back to the catalogue's).
pub async fn set_price(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<PriceForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let store = load_store(&state, &user, Action::MoveStock, id.into_inner()).await?;
    let back = format!("/stores/{}", store.store.id);
    let f = form.0.0;
    let typed = serde_json::to_value(&f).unwrap_or_default();
    let ctx = user.actor();
    let sid = store.store.id.clone();
    let result = async {
        // The role first, as the operation would, before the item is read.
        user.require(Action::ManageCatalogue)?;
        let item: ItemId = form_id("field.item", &f.item_id, "error.item_unknown")?;
        form.1
            .run(&state, move |c| {
                Ok(goods::set_store_price(c, &ctx, &sid, &item, &f.value)?)
            })
            .await
    }
    .await
    .map(|i| flash_ok(&req, &back, "flash.price_set", &[("item", i.name)]));
    or_again(lang_of(&req), "price", &typed, result, |r| {
        store_page(req, user, state, store, r)
    })
    .await
}

#[derive(Deserialize, Default, Clone)]
pub struct HistoryQuery {
    #[serde(default)]
    pub item: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    /// A page number that does not read is page 1.
    #[serde(default, deserialize_with = "crate::web::extract::page_number")]
    pub page: Option<i64>,
    #[serde(default)]
    pub format: String,
}

/// The filter's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for HistoryQuery {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "item" => "field.item",
            "kind" => "field.kind",
            "from" => "field.from",
            "to" => "field.to",
            _ => return None,
        })
    }

    fn holds_id(name: &str) -> bool {
        matches!(name, "item")
    }

    fn is_choice(name: &str, value: &str) -> Option<bool> {
        (name == "kind").then(|| MovementKind::parse(value).is_ok())
    }
}

impl HistoryQuery {
    /// The query string for page `page` (0-based) of the same filter, as
    /// `format` when an export.
    pub fn link(&self, page: i64, format: &str) -> String {
        let q = [
            ("item", self.item.as_str()),
            ("kind", self.kind.as_str()),
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
            ("page", &crate::web::extract::page_param(page)),
            ("format", format),
        ];
        format!("?{}", serde_urlencoded::to_string(q).unwrap_or_default())
    }

    /// The filter to run, or every field of it that does not read, each
    /// beside its field (all in one round).
    fn filter(&self, tz: chrono_tz::Tz) -> Result<HistoryFilter, FieldError> {
        let date = |field: &'static str, s: &str| -> Result<_, FieldError> {
            match s.trim() {
                "" => Ok(None),
                s => crate::domain::stock::parse_date(field, s).map(Some),
            }
        };
        let mut checks = crate::domain::FieldChecks::new();
        let kind = match self.kind.trim() {
            "" => None,
            k => checks.take(
                MovementKind::parse(k)
                    .map_err(|_| FieldError::new("field.kind", "error.choose_one")),
            ),
        };
        // An item that is not an id is refused on its field, like an
        // unknown one in a form.
        let item_id = match self.item.trim() {
            "" => None,
            _ => checks.take(form_id("field.item", &self.item, "error.item_unknown")),
        };
        let from = checks.take(date("field.from", &self.from)).flatten();
        let to = checks.take(date("field.to", &self.to)).flatten();
        checks.take(crate::domain::input::period_in_order(from, to));
        checks.finish()?;
        Ok(HistoryFilter {
            item_id,
            kind,
            from: from.map(|d| crate::time::local_day_start_utc(d, tz)),
            to: to
                .and_then(|d| d.succ_opt())
                .map(|d| crate::time::local_day_start_utc(d, tz)),
        })
    }
}

/// A history row as shown: with the other side of the transfer named.
pub struct HistoryLine {
    pub row: stock::HistoryRow,
    pub counterparty: String,
    pub reversed: bool,
}

/// Name the other side of a movement, seen from `store_id`.
fn counterparty(
    lang: Lang,
    m: &Movement,
    store_id: &str,
    store_names: &HashMap<StoreId, String>,
    donor_names: &HashMap<String, String>,
) -> String {
    let other = if m.from_store_id.as_deref() == Some(store_id) {
        &m.to_account
    } else {
        &m.from_account
    };
    match Account::parse(other) {
        Some(Account::Shelf(s)) => store_names.get(&s).cloned().unwrap_or(s.into_string()),
        Some(Account::Donor(d)) => donor_names.get(&d).cloned().unwrap_or(d),
        Some(Account::Purchase) => i18n::t(lang, "stock.account_purchase").to_string(),
        Some(Account::Redeemed) => i18n::t(lang, "stock.account_redeemed").to_string(),
        Some(Account::WrittenOff) => i18n::t(lang, "stock.account_written_off").to_string(),
        Some(Account::Counted) => i18n::t(lang, "stock.account_counted").to_string(),
        None => other.clone(),
    }
}

fn history_lines(
    c: &mut crate::db::DbConn,
    lang: Lang,
    store_id: &str,
    rows: Vec<stock::HistoryRow>,
) -> Result<Vec<HistoryLine>, AppError> {
    let store_names: HashMap<StoreId, String> = stores::list(c)?
        .into_iter()
        .map(|s| (s.store.id, s.store.name))
        .collect();
    let donor_names: HashMap<String, String> = crate::donations::list_donors(c)?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect();
    let ids: Vec<String> = rows.iter().map(|r| r.m.id.clone()).collect();
    let reversed = stock::reversed_among(c, &ids)?;
    Ok(rows
        .into_iter()
        .map(|row| HistoryLine {
            counterparty: counterparty(lang, &row.m, store_id, &store_names, &donor_names),
            reversed: reversed.contains(&row.m.id),
            row,
        })
        .collect())
}

#[derive(Template)]
#[template(path = "stores/movements.html")]
struct HistoryPage<'a> {
    ctx: &'a PageCtx,
    store: StoreRow,
    lines: Vec<HistoryLine>,
    items: Vec<Item>,
    kinds: &'static [MovementKind],
    q: HistoryQuery,
    page: i64,
    more: bool,
    /// The filter refused: each message beside its field.
    errors: FormErrors,
    /// A kind outside the choices, kept selected beside its message.
    kept_kind: Option<String>,
    /// A page asked past the last: said so, with the first page's link.
    past_end: Option<PastEnd>,
}

impl HistoryPage<'_> {
    /// An item asked for that the filter does not offer (None when it is
    /// one of them, or all): shown back selected and marked.
    fn refused_item(&self) -> Option<&str> {
        crate::web::form::unoffered(&self.q.item, self.items.iter().map(|i| i.id.as_str()))
    }
}

/// A store's movement history, filtered by item, kind and period.
pub async fn movements(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: Filter<HistoryQuery>,
) -> Result<HttpResponse, AppError> {
    let store = load_store(&state, &user, Action::ViewStock, id.into_inner()).await?;
    let Filter(q, twice) = q;
    let kept_kind = twice.refused_choice("kind");
    history_page(req, user, state, store, q, twice.check().err(), kept_kind).await
}

/// The history page for filter `q`; a filter that does not read, or a
/// field of it sent twice (`twice`), is named beside the filter (422),
/// what was typed kept, the history shown unfiltered.
async fn history_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    store: StoreRow,
    q: HistoryQuery,
    twice: Option<FieldError>,
    kept_kind: Option<String>,
) -> Result<HttpResponse, AppError> {
    let lang = lang_of(&req);
    // The fields sent twice or unreadable and those that do not read as
    // a filter, all said at once, each beside its field.
    let mut checks = crate::domain::FieldChecks::new();
    if let Some(e) = twice {
        checks.push(e);
    }
    let filtered = q.filter(state.config.time_zone);
    let filter = checks.take(filtered);
    let (filter, errors) = match (checks.finish(), filter) {
        (Ok(()), Some(f)) => (f, FormErrors::default()),
        (Err(e), _) => (HistoryFilter::default(), FormErrors::new(lang, &e)),
        (Ok(()), None) => (HistoryFilter::default(), FormErrors::default()),
    };
    let page = q.page.unwrap_or(0).max(0);
    let sid = store.store.id.clone();
    let (mut lines, items, count) = run(&state, move |c| {
        let rows = stock::history(
            c,
            &sid,
            &filter,
            page * stock::PAGE_SIZE,
            stock::PAGE_SIZE + 1,
        )?;
        // A page past the last says so, with how many there are.
        let count = if rows.is_empty() && page > 0 {
            Some(stock::history_count(c, &sid, &filter)?)
        } else {
            None
        };
        Ok((history_lines(c, lang, &sid, rows)?, goods::list(c)?, count))
    })
    .await?;
    let past_end = count.and_then(|n| {
        let pages = (n + stock::PAGE_SIZE - 1) / stock::PAGE_SIZE;
        let first = format!("/stores/{}/movements{}", store.store.id, q.link(0, ""));
        PastEnd::of(lang, page, pages, first)
    });
    let more = lines.len() as i64 > stock::PAGE_SIZE;
    lines.truncate(stock::PAGE_SIZE as usize);
    let ctx = PageCtx::build(&req, Some(&user));
    // A date that does not read is named beside its field (422).
    let status = PastEnd::status(&past_end, errors.status());
    crate::web::page::render_with_status(
        &ctx,
        &HistoryPage {
            ctx: &ctx,
            store,
            lines,
            items,
            kinds: MovementKind::ALL,
            q,
            page,
            more,
            errors,
            kept_kind,
            past_end,
        },
        status,
    )
}

/// A cell as a spreadsheet must not run it: the one rule of every export
/// (`households::export::neutralise`).
pub fn neutralise(s: &str) -> String {
    crate::households::export::neutralise(s)
}

/// The most rows one export holds.
const EXPORT_LIMIT: i64 = 100_000;

/// The history as CSV or XLSX, same filters, headers in the reader's language.
pub async fn export(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: Filter<HistoryQuery>,
) -> Result<HttpResponse, AppError> {
    let store = load_store(&state, &user, Action::ViewStock, id.into_inner()).await?;
    let Filter(q, twice) = q;
    // A filter that does not read (or sent twice) is the history's filter
    // form with the message, never a bare error page.
    let filter = match twice
        .check()
        .and_then(|()| q.filter(state.config.time_zone))
    {
        Ok(f) => f,
        Err(e) => {
            let kept_kind = twice.refused_choice("kind");
            return history_page(req, user, state, store, q, Some(e), kept_kind).await;
        }
    };
    let lang = lang_of(&req);
    let xlsx = match q.format.as_str() {
        "xlsx" => true,
        "csv" | "" => false,
        other => {
            let shown: String = other.chars().take(20).collect();
            return Err(AppError::Invalid(
                crate::domain::FieldError::new("field.export_format", "error.export_format")
                    .arg("format", shown),
            ));
        }
    };
    let sid = store.store.id.clone();
    let ctx = user.actor();
    let tz = state.config.time_zone;
    let (headers, rows) = run(&state, move |c| {
        let rows = stock::history(c, &sid, &filter, 0, EXPORT_LIMIT)?;
        let lines = history_lines(c, lang, &sid, rows)?;
        crate::db::write_tx(c, |c| {
            crate::audit::record(
                c,
                &ctx,
                "stock.export",
                "store",
                &sid,
                &crate::audit::Detail::new("rows")
                    .arg("n", lines.len())
                    .to_string(),
            )
        })?;
        let headers: Vec<String> = [
            "stock.seq",
            "stock.at",
            "stock.kind",
            "field.item",
            "field.unit",
            "stock.change",
            "stock.counterparty",
            "field.reason",
            "stock.by",
            "stock.entry_id",
        ]
        .iter()
        .map(|k| i18n::t(lang, k).to_string())
        .collect();
        let rows: Vec<(i64, Vec<String>, i64, Vec<String>)> = lines
            .into_iter()
            .map(|l| {
                let m = &l.row.m;
                (
                    m.seq,
                    vec![
                        crate::time::format_local(m.at, tz),
                        i18n::t(lang, m.kind_label_key()).to_string(),
                        l.row.item_name.clone(),
                        l.row.unit.clone(),
                    ],
                    l.row.delta,
                    vec![
                        l.counterparty.clone(),
                        m.reason.clone(),
                        m.username.clone(),
                        m.id.clone(),
                    ],
                )
            })
            .collect();
        Ok((headers, rows))
    })
    .await?;
    let name = format!("stock-{}", chrono::Utc::now().format("%Y%m%d"));
    if xlsx {
        // A spreadsheet's text cell is never read as a formula: written as
        // it is (the apostrophe that disarms a CSV cell would show here).
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        let xl = |e: rust_xlsxwriter::XlsxError| AppError::internal(e);
        for (col, h) in headers.iter().enumerate() {
            sheet.write_string(0, col as u16, h.as_str()).map_err(xl)?;
        }
        for (i, (seq, before, delta, after)) in rows.iter().enumerate() {
            let r = i as u32 + 1;
            sheet.write_number(r, 0, *seq as f64).map_err(xl)?;
            for (j, s) in before.iter().enumerate() {
                sheet
                    .write_string(r, 1 + j as u16, s.as_str())
                    .map_err(xl)?;
            }
            sheet.write_number(r, 5, *delta as f64).map_err(xl)?;
            for (j, s) in after.iter().enumerate() {
                sheet
                    .write_string(r, 6 + j as u16, s.as_str())
                    .map_err(xl)?;
            }
        }
        let bytes = book.save_to_buffer().map_err(xl)?;
        Ok(crate::web::export::attachment(
            &format!("{name}.xlsx"),
            bytes,
        ))
    } else {
        // A byte-order mark, so that spreadsheet programs read the Chinese right.
        let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
        let csv_err = |e: csv::Error| AppError::internal(e);
        w.write_record(headers.iter().map(|h| neutralise(h)))
            .map_err(csv_err)?;
        for (seq, before, delta, after) in &rows {
            let mut rec = vec![seq.to_string()];
            rec.extend(before.iter().map(|s| neutralise(s)));
            // Numbers we wrote ourselves are safe as they are.
            rec.push(delta.to_string());
            rec.extend(after.iter().map(|s| neutralise(s)));
            w.write_record(&rec).map_err(csv_err)?;
        }
        let bytes = w.into_inner().map_err(AppError::internal)?;
        Ok(crate::web::export::attachment(
            &format!("{name}.csv"),
            bytes,
        ))
    }
}

#[derive(Template)]
#[template(path = "stock/movement.html")]
struct MovementPage<'a> {
    ctx: &'a PageCtx,
    m: Movement,
    item: Item,
    from_label: String,
    to_label: String,
    reversed_by: Option<Movement>,
    can_reverse: bool,
    /// The workflow that made the movement, which alone may undo it.
    owner: Option<stock::Owner>,
    key: String,
    /// A refused reversal (`"reverse"`), with the reason typed.
    refused: Refused,
    /// The stores of the movement whose pages this user may open (a
    /// clerk: their own), the only ones linked.
    open_stores: Vec<String>,
}

impl MovementPage<'_> {
    /// Whether the store `id` is linked (its page would not refuse).
    fn may_open(&self, id: &str) -> bool {
        self.open_stores.iter().any(|s| s == id)
    }
}

/// The stores a movement touched, loaded; the user must be allowed `action`
/// at one of them.
async fn movement_for(
    state: &AppState,
    user: &CurrentUser,
    action: Action,
    id: String,
) -> Result<(Movement, Vec<StoreRow>), AppError> {
    user.require(action)?;
    let (m, touched) = run(state, move |c| {
        let m = stock::find_movement(c, &id)?.ok_or(AppError::NotFound)?;
        let mut touched = Vec::new();
        for s in [&m.from_store_id, &m.to_store_id].into_iter().flatten() {
            if let Some(row) = stores::find(c, s)? {
                touched.push(row);
            }
        }
        Ok((m, touched))
    })
    .await?;
    if touched.iter().any(|s| user.can_at_store(action, s)) {
        Ok((m, touched))
    } else {
        Err(AppError::Forbidden)
    }
}

/// One ledger entry: both sides, its hash and link, and the reversal form.
pub async fn movement(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    movement_page(req, user, state, id.into_inner(), Refused::default()).await
}

/// The movement; `refused` shows a refused reversal again (422, or 409
/// when it was reversed meanwhile), its reason kept.
async fn movement_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: String,
    refused: Refused,
) -> Result<HttpResponse, AppError> {
    let (m, touched) = movement_for(&state, &user, Action::ViewStock, id).await?;
    let lang = lang_of(&req);
    let can_reverse = m.kind() != Some(MovementKind::Reversal)
        && touched
            .iter()
            .any(|s| user.can_at_store(Action::MoveStock, s));
    let open_stores: Vec<String> = touched
        .iter()
        .filter(|s| user.can_at_store(Action::ViewStock, s))
        .map(|s| s.store.id.to_string())
        .collect();
    let mid = m.id.clone();
    let (m, item, from_label, to_label, reversed_by, owner) = run(&state, move |c| {
        let item = goods::find(c, &m.item_id)?.ok_or(AppError::NotFound)?;
        let store_names: HashMap<StoreId, String> = stores::list(c)?
            .into_iter()
            .map(|s| (s.store.id, s.store.name))
            .collect();
        let donor_names: HashMap<String, String> = crate::donations::list_donors(c)?
            .into_iter()
            .map(|d| (d.id, d.name))
            .collect();
        // Seen from nowhere: both sides are named.
        let from_label = counterparty(lang, &m, "", &store_names, &donor_names);
        let mut flipped = m.clone();
        std::mem::swap(&mut flipped.from_account, &mut flipped.to_account);
        let to_label = counterparty(lang, &flipped, "", &store_names, &donor_names);
        use crate::db::schema::stock_movements as sm;
        use diesel::prelude::*;
        let reversed_by = sm::table
            .filter(sm::reverses_id.eq(&mid))
            .select(Movement::as_select())
            .first(c)
            .optional()?;
        let owner = stock::owner_of(c, &m)?;
        Ok((m, item, from_label, to_label, reversed_by, owner))
    })
    .await?;
    let ctx = PageCtx::build(&req, Some(&user));
    let status = refused.status();
    render_with_status(
        &ctx,
        &MovementPage {
            ctx: &ctx,
            can_reverse: can_reverse
                && owner.is_none()
                && (reversed_by.is_none() || refused.is("reverse")),
            owner,
            m,
            item,
            from_label,
            to_label,
            reversed_by,
            key: form_key(),
            refused,
            open_stores,
        },
        status,
    )
}

#[derive(Deserialize, serde::Serialize)]
pub struct ReverseForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    reason: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for ReverseForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "reason" => "field.reason",
            _ => return None,
        })
    }
}

/// Correct a movement with a reversing one that names it.
pub async fn reverse(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<ReverseForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let (m, _) = movement_for(&state, &user, Action::MoveStock, id.into_inner()).await?;
    let f = form.0;
    let ctx = user.actor();
    let today = crate::time::today(state.config.time_zone);
    let mid = m.id.clone();
    let result = async {
        let key = IdemKey::parse(&f.key)?;
        let reason = f.reason.clone();
        let out = form
            .1
            .run(&state, move |c| {
                Ok(stock::reverse(c, &ctx, &key, &m.id, &reason, today)?)
            })
            .await?;
        Ok(done(
            &req,
            &format!("/movements/{}", out.id),
            "flash.reversed",
            out.replayed,
        ))
    }
    .await;
    or_again(lang_of(&req), "reverse", &f, result, |r| {
        movement_page(req, user, state, mid, r)
    })
    .await
}

#[derive(Template)]
#[template(path = "stock/verify.html")]
struct VerifyPage<'a> {
    ctx: &'a PageCtx,
    report: stock::VerifyReport,
}

/// Recompute the stock ledger's chain and balances (auditors, admins).
pub async fn verify(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::VerifyLedger)?;
    let report = run(&state, |c| Ok(stock::verify_stock_ledger(c)?)).await?;
    let ctx = PageCtx::build(&req, Some(&user));
    render(&ctx, &VerifyPage { ctx: &ctx, report })
}

#[cfg(test)]
mod tests {
    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(super::neutralise("=1+1"), "'=1+1");
        assert_eq!(super::neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(super::neutralise("-2+3"), "'-2+3");
        assert_eq!(super::neutralise("大米"), "大米");
    }
}
