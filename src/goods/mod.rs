//! The goods catalogue, shared by the city, and what each store sets for an
//! item (its own price, its low-stock threshold). Prices are read when used:
//! nothing else stores a copy, so a change never rewrites the past.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::audit;
use crate::auth::{Action, Actor};
use crate::db::schema::{items, store_items};
use crate::db::{self, DbConn};
use crate::domain::stock::{parse_barcode, parse_points_price, parse_whole};
use crate::domain::{FieldError, ItemId, StoreId, parse_name, parse_optional_text};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = items)]
pub struct Item {
    pub id: ItemId,
    pub name: String,
    pub category: String,
    pub unit: String,
    pub points_price: i64,
    pub barcode: Option<String>,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Bumped by every change; an edit names the version it was made on.
    pub version: i64,
}

/// This area's refusals: the one vocabulary every operation shares.
pub type GoodsError = crate::error::Problem;

pub fn find(conn: &mut DbConn, id: &ItemId) -> QueryResult<Option<Item>> {
    items::table
        .find(id)
        .select(Item::as_select())
        .first(conn)
        .optional()
}

/// Every item, active ones first, then by category and name.
pub fn list(conn: &mut DbConn) -> QueryResult<Vec<Item>> {
    items::table
        .order((
            items::active.desc(),
            items::category.asc(),
            items::name.asc(),
        ))
        .select(Item::as_select())
        .load(conn)
}

pub fn list_active(conn: &mut DbConn) -> QueryResult<Vec<Item>> {
    items::table
        .filter(items::active.eq(true))
        .order((items::category.asc(), items::name.asc()))
        .select(Item::as_select())
        .load(conn)
}

/// What an admin types for an item.
pub struct ItemForm<'a> {
    pub name: &'a str,
    pub category: &'a str,
    pub unit: &'a str,
    pub points_price: &'a str,
    pub barcode: &'a str,
}

struct ParsedItem {
    name: String,
    category: String,
    unit: String,
    points_price: i64,
    barcode: Option<String>,
}

impl ItemForm<'_> {
    fn parse(&self) -> Result<ParsedItem, FieldError> {
        // Every field is checked, so all that is wrong shows at once.
        let mut checks = crate::domain::FieldChecks::new();
        let name = checks.take(parse_name("field.item_name", self.name, 60));
        let category = checks.take(parse_optional_text("field.category", self.category, 30));
        let unit = checks.take(parse_name("field.unit", self.unit, 10));
        let points_price = checks.take(parse_points_price("field.points_price", self.points_price));
        let barcode = checks.take(parse_barcode("field.barcode", self.barcode));
        checks.finish()?;
        Ok(ParsedItem {
            name: name.unwrap_or_default(),
            category: category.unwrap_or_default(),
            unit: unit.unwrap_or_default(),
            points_price: points_price.unwrap_or_default(),
            barcode: barcode.flatten(),
        })
    }
}

fn unique_error(e: diesel::result::Error, p: &ParsedItem) -> GoodsError {
    if db::is_unique_violation(&e) {
        let msg = e.to_string();
        if msg.contains("barcode") {
            FieldError::conflict(
                "field.barcode",
                "error.barcode_taken",
                crate::domain::Conflict::Taken,
            )
            .arg("barcode", p.barcode.clone().unwrap_or_default())
            .into()
        } else {
            FieldError::conflict(
                "field.item_name",
                "error.item_name_taken",
                crate::domain::Conflict::Taken,
            )
            .arg("name", &p.name)
            .into()
        }
    } else {
        GoodsError::Db(e)
    }
}

/// Add an item to the catalogue. Errors: `Forbidden` for a role that may
/// not keep the catalogue; `Invalid` naming the field (a name or barcode
/// taken is a conflict).
pub fn create(conn: &mut DbConn, ctx: &Actor, form: &ItemForm) -> Result<Item, GoodsError> {
    ctx.require(Action::ManageCatalogue)?;
    let p = form.parse()?;
    let id = ItemId::new();
    db::write_tx(conn, |c| {
        let now = db::now();
        let k = crate::domain::pinyin::keys(&p.name);
        diesel::insert_into(items::table)
            .values((
                items::id.eq(&id),
                items::name.eq(&p.name),
                items::name_pinyin.eq(&k.full),
                items::name_initials.eq(&k.initials),
                items::category.eq(&p.category),
                items::unit.eq(&p.unit),
                items::points_price.eq(p.points_price),
                items::barcode.eq(&p.barcode),
                items::active.eq(true),
                items::created_at.eq(now),
                items::updated_at.eq(now),
            ))
            .execute(c)
            .map_err(|e| unique_error(e, &p))?;
        audit::record(
            c,
            ctx,
            "item.create",
            "item",
            &id,
            &audit::Detail::new("item_create")
                .arg("name", &p.name)
                .arg("category", &p.category)
                .arg("price", p.points_price)
                .arg("unit", &p.unit)
                .to_string(),
        )?;
        find(c, &id)?.ok_or(GoodsError::NotFound)
    })
}

/// Change an item as seen at version `seen` (when given). The price applies
/// from now on; past records keep theirs.
/// Errors: `Forbidden` for a role that may not keep the catalogue;
/// `NotFound`; `Invalid` naming the field; a conflict (409) when the item
/// was changed after `seen` (one conditional update on the version read).
pub fn update(
    conn: &mut DbConn,
    ctx: &Actor,
    id: &ItemId,
    form: &ItemForm,
    active: bool,
    seen: Option<i64>,
) -> Result<Item, GoodsError> {
    ctx.require(Action::ManageCatalogue)?;
    let p = form.parse()?;
    db::write_tx(conn, |c| {
        let before = find(c, id)?.ok_or(GoodsError::NotFound)?;
        if seen.is_some_and(|v| v != before.version) {
            return Err(changed_meanwhile(&before));
        }
        let k = crate::domain::pinyin::keys(&p.name);
        let n = diesel::update(
            items::table
                .find(id)
                .filter(items::version.eq(before.version)),
        )
        .set((
            items::name.eq(&p.name),
            items::name_pinyin.eq(&k.full),
            items::name_initials.eq(&k.initials),
            items::category.eq(&p.category),
            items::unit.eq(&p.unit),
            items::points_price.eq(p.points_price),
            items::barcode.eq(&p.barcode),
            items::active.eq(active),
            items::updated_at.eq(db::now()),
            items::version.eq(items::version + 1),
        ))
        .execute(c)
        .map_err(|e| unique_error(e, &p))?;
        if n == 0 {
            let now = find(c, id)?.ok_or(GoodsError::NotFound)?;
            return Err(changed_meanwhile(&now));
        }
        audit::record(
            c,
            ctx,
            "item.update",
            "item",
            id,
            &audit::Detail::new("item_update")
                .arg("name", &p.name)
                .arg("from", before.points_price)
                .arg("to", p.points_price)
                .word(
                    "state",
                    if active {
                        "audit_detail.in_use"
                    } else {
                        "audit_detail.not_in_use"
                    },
                )
                .to_string(),
        )?;
        find(c, id)?.ok_or(GoodsError::NotFound)
    })
}

/// "This item was changed after you opened the form": what it is called now.
fn changed_meanwhile(item: &Item) -> GoodsError {
    FieldError::conflict(
        "field.item",
        "error.record_changed",
        crate::domain::Conflict::Changed,
    )
    .arg("name", &item.name)
    .into()
}

/// A store's own setting for one item.
#[derive(Debug, Clone, Default)]
pub struct StoreItem {
    pub points_price: Option<i64>,
    pub low_threshold: i64,
}

pub fn store_item(
    conn: &mut DbConn,
    store_id: &StoreId,
    item_id: &ItemId,
) -> QueryResult<StoreItem> {
    Ok(store_items::table
        .find((store_id, item_id))
        .select((store_items::points_price, store_items::low_threshold))
        .first::<(Option<i64>, i64)>(conn)
        .optional()?
        .map(|(points_price, low_threshold)| StoreItem {
            points_price,
            low_threshold,
        })
        .unwrap_or_default())
}

/// The price of an item at a store now: the store's own, else the catalogue's.
pub fn price_at(conn: &mut DbConn, store_id: &StoreId, item: &Item) -> QueryResult<i64> {
    Ok(store_item(conn, store_id, &item.id)?
        .points_price
        .unwrap_or(item.points_price))
}

/// Write a store's settings for an item (insert or update the one row).
fn put_store_item(
    c: &mut DbConn,
    store_id: &StoreId,
    item_id: &ItemId,
    s: &StoreItem,
) -> QueryResult<()> {
    let n = diesel::update(store_items::table.find((store_id, item_id)))
        .set((
            store_items::points_price.eq(s.points_price),
            store_items::low_threshold.eq(s.low_threshold),
        ))
        .execute(c)?;
    if n == 0 {
        diesel::insert_into(store_items::table)
            .values((
                store_items::store_id.eq(store_id),
                store_items::item_id.eq(item_id),
                store_items::points_price.eq(s.points_price),
                store_items::low_threshold.eq(s.low_threshold),
            ))
            .execute(c)?;
    }
    Ok(())
}

/// Set (or clear, with an empty price) a store's own price for an item.
/// Errors: `Forbidden` unless the actor may keep prices at the store.
pub fn set_store_price(
    conn: &mut DbConn,
    ctx: &Actor,
    store_id: &StoreId,
    item_id: &ItemId,
    price: &str,
) -> Result<Item, GoodsError> {
    crate::stores::for_actor(conn, ctx, Action::ManageCatalogue, store_id)?;
    let price = match price.trim() {
        "" => None,
        p => Some(parse_points_price("field.store_price", p)?),
    };
    set_store_item(conn, ctx, store_id, item_id, "store_item.price", |s| {
        s.points_price = price
    })
}

/// Set a store's low-stock threshold for an item (0 turns the warning off).
/// Errors: `Forbidden` unless the actor may move stock at the store.
pub fn set_threshold(
    conn: &mut DbConn,
    ctx: &Actor,
    store_id: &StoreId,
    item_id: &ItemId,
    threshold: &str,
) -> Result<Item, GoodsError> {
    crate::stores::for_actor(conn, ctx, Action::MoveStock, store_id)?;
    let t = parse_whole("field.low_threshold", threshold)?;
    set_store_item(conn, ctx, store_id, item_id, "store_item.threshold", |s| {
        s.low_threshold = t
    })
}

fn set_store_item(
    conn: &mut DbConn,
    ctx: &Actor,
    store_id: &StoreId,
    item_id: &ItemId,
    action: &str,
    change: impl Fn(&mut StoreItem),
) -> Result<Item, GoodsError> {
    db::write_tx(conn, |c| {
        let item = find(c, item_id)?.ok_or(FieldError::new("field.item", "error.item_unknown"))?;
        let mut s = store_item(c, store_id, item_id)?;
        change(&mut s);
        put_store_item(c, store_id, item_id, &s)?;
        audit::record(
            c,
            ctx,
            action,
            "store",
            store_id,
            &match s.points_price {
                Some(p) => audit::Detail::new("store_item").arg("price", p),
                None => audit::Detail::new("store_item").word("price", "audit_detail.list_price"),
            }
            .arg("name", &item.name)
            .arg("threshold", s.low_threshold)
            .to_string(),
        )?;
        Ok(item)
    })
}
