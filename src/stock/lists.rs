//! What the pages read: a store's shelf, low stock, and the movements'
//! history.

use super::*;

/// One line of a store's shelf.
#[derive(Debug, Clone)]
pub struct ShelfLine {
    pub item: Item,
    pub quantity: i64,
    /// Points price at this store now (its own, else the catalogue's).
    pub price: i64,
    pub own_price: Option<i64>,
    pub low_threshold: i64,
}

impl ShelfLine {
    pub fn value(&self) -> i64 {
        self.quantity * self.price
    }

    pub fn is_low(&self) -> bool {
        self.low_threshold > 0 && self.quantity <= self.low_threshold
    }
}

/// A store's shelf: every item it holds or has a setting for.
pub fn shelf(c: &mut DbConn, store_id: &StoreId) -> QueryResult<Vec<ShelfLine>> {
    let on_hand: HashMap<String, i64> = stock::table
        .filter(stock::store_id.eq(store_id))
        .select((stock::item_id, stock::quantity))
        .load::<(String, i64)>(c)?
        .into_iter()
        .collect();
    let settings: HashMap<String, (Option<i64>, i64)> = store_items::table
        .filter(store_items::store_id.eq(store_id))
        .select((
            store_items::item_id,
            store_items::points_price,
            store_items::low_threshold,
        ))
        .load::<(String, Option<i64>, i64)>(c)?
        .into_iter()
        .map(|(i, p, t)| (i, (p, t)))
        .collect();
    let mut out = Vec::new();
    for item in goods::list(c)? {
        let q = on_hand.get(item.id.as_str()).copied();
        let s = settings.get(item.id.as_str()).copied();
        if q.is_none() && s.is_none() {
            continue;
        }
        let (own_price, low_threshold) = s.unwrap_or((None, 0));
        out.push(ShelfLine {
            price: own_price.unwrap_or(item.points_price),
            quantity: q.unwrap_or(0),
            own_price,
            low_threshold,
            item,
        });
    }
    Ok(out)
}

/// An item at or below its store's threshold.
#[derive(Debug, Clone)]
pub struct LowStock {
    pub store_id: String,
    pub store_name: String,
    pub item_name: String,
    pub unit: String,
    pub quantity: i64,
    pub threshold: i64,
}

/// What is low, at one store or (None) at every store: for the store's page
/// and the admin's home page.
pub fn low_stock(c: &mut DbConn, store_id: Option<&StoreId>) -> QueryResult<Vec<LowStock>> {
    use crate::db::schema::stores;
    // One query: each watched item with what is on its shelf.
    let mut q = store_items::table
        .inner_join(items::table)
        .inner_join(stores::table)
        .left_join(
            stock::table.on(stock::store_id
                .eq(store_items::store_id)
                .and(stock::item_id.eq(store_items::item_id))),
        )
        .filter(store_items::low_threshold.gt(0))
        .filter(items::active.eq(true))
        .filter(stores::active.eq(true))
        .select((
            store_items::store_id,
            stores::name,
            items::name,
            items::unit,
            store_items::low_threshold,
            stock::quantity.nullable(),
        ))
        .into_boxed();
    if let Some(s) = store_id {
        q = q.filter(store_items::store_id.eq(s.to_string()));
    }
    let rows = q.load::<(String, String, String, String, i64, Option<i64>)>(c)?;
    let mut out: Vec<LowStock> = rows
        .into_iter()
        .map(
            |(store_id, store_name, item_name, unit, threshold, quantity)| LowStock {
                store_id,
                store_name,
                item_name,
                unit,
                quantity: quantity.unwrap_or(0),
                threshold,
            },
        )
        .filter(|l| l.quantity <= l.threshold)
        .collect();
    out.sort_by(|a, b| (&a.store_name, &a.item_name).cmp(&(&b.store_name, &b.item_name)));
    Ok(out)
}

/// Which movements of a store to list.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub item_id: Option<ItemId>,
    pub kind: Option<MovementKind>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

/// A movement with its item's name and unit.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub m: Movement,
    pub item_name: String,
    pub unit: String,
    /// The change to this store's shelf.
    pub delta: i64,
}

pub const PAGE_SIZE: i64 = 100;

/// The movements of a store that filter `f` lets through, on a boxed
/// query over `stock_movements` (joined or not): the one place the
/// history's filter is made, for a page and for the count alike.
macro_rules! history_filtered {
    ($q:expr, $store_id:expr, $f:expr) => {{
        let mut q = $q
            .filter(
                stock_movements::from_store_id
                    .eq($store_id)
                    .or(stock_movements::to_store_id.eq($store_id)),
            )
            .into_boxed();
        if let Some(i) = &$f.item_id {
            q = q.filter(stock_movements::item_id.eq(i.clone()));
        }
        if let Some(k) = $f.kind {
            q = q.filter(stock_movements::kind.eq(k.as_str()));
        }
        if let Some(from) = $f.from {
            q = q.filter(stock_movements::at.ge(from));
        }
        if let Some(to) = $f.to {
            q = q.filter(stock_movements::at.lt(to));
        }
        q
    }};
}

/// A store's movements, newest first; `limit` rows from `offset`.
pub fn history(
    c: &mut DbConn,
    store_id: &StoreId,
    f: &HistoryFilter,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<HistoryRow>> {
    let q = history_filtered!(stock_movements::table.inner_join(items::table), store_id, f);
    Ok(q.order(stock_movements::seq.desc())
        .offset(offset.max(0))
        .limit(limit)
        .select((Movement::as_select(), items::name, items::unit))
        .load::<(Movement, String, String)>(c)?
        .into_iter()
        .map(|(m, item_name, unit)| HistoryRow {
            delta: m.delta_at(store_id),
            m,
            item_name,
            unit,
        })
        .collect())
}

/// How many of a store's movements filter `f` lets through.
pub fn history_count(c: &mut DbConn, store_id: &StoreId, f: &HistoryFilter) -> QueryResult<i64> {
    history_filtered!(stock_movements::table, store_id, f)
        .count()
        .get_result(c)
}

/// Ids of movements that have been reversed, among `ids`.
pub fn reversed_among(c: &mut DbConn, ids: &[String]) -> QueryResult<Vec<String>> {
    stock_movements::table
        .filter(stock_movements::reverses_id.eq_any(ids))
        .select(stock_movements::reverses_id.assume_not_null())
        .load(c)
}
