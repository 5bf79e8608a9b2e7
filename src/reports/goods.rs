//! The goods section: stock per store and item over the month.

use chrono::NaiveDateTime;
use diesel::QueryableByName;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::{Bind, Month, load, utc};
use crate::db::DbConn;

/// Stock moved since the month began, summed by where it went, what, and
/// whether in the month (period 1) or after it (2).
#[derive(QueryableByName, Debug, Clone)]
struct MovedRow {
    #[diesel(sql_type = Nullable<Text>)]
    from_store: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    to_store: Option<String>,
    #[diesel(sql_type = Text)]
    item_id: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = BigInt)]
    period: i64,
    #[diesel(sql_type = BigInt)]
    quantity: i64,
}

/// What a store holds of an item now.
#[derive(QueryableByName, Debug, Clone)]
struct ShelfRow {
    #[diesel(sql_type = Text)]
    store_id: String,
    #[diesel(sql_type = Text)]
    item_id: String,
    #[diesel(sql_type = BigInt)]
    quantity: i64,
}

/// A store's or an item's name (and an item's unit), to show.
#[derive(QueryableByName, Debug, Clone)]
struct NameRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    unit: String,
}

/// One item at one store over the month.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GoodsLine {
    pub store_id: String,
    pub store_name: String,
    pub item_id: String,
    pub item_name: String,
    pub unit: String,
    pub opening: i64,
    pub donated: i64,
    pub bought: i64,
    pub moved_in: i64,
    pub redeemed: i64,
    pub moved_out: i64,
    pub written_off: i64,
    /// Stocktake differences and reversals, net (+ in, - out).
    pub counted: i64,
    pub closing: i64,
}

impl GoodsLine {
    pub fn flows(&self) -> i64 {
        self.donated + self.bought + self.moved_in
            - self.redeemed
            - self.moved_out
            - self.written_off
            + self.counted
    }
}

/// Stock per store and item: opening, the month's movements by kind and
/// direction, closing; for every store in the area at once. The closing
/// stock is what the shelf holds now less what moved after the month, so
/// only what moved since the month began is read: from the running totals
/// (`moved`), and shared out to the area's stores here.
pub(super) fn lines(
    conn: &mut DbConn,
    filter: &str,
    prefix: &str,
    month: Month,
    start_utc: NaiveDateTime,
    end_utc: NaiveDateTime,
) -> QueryResult<Vec<GoodsLine>> {
    use std::collections::{BTreeMap, HashMap};
    let stores: HashMap<String, String> = load::<NameRow>(
        conn,
        &format!(
            "SELECT s.id AS id, s.name AS name, '' AS unit
               FROM stores s JOIN areas a ON a.id = s.area_id WHERE {filter}"
        ),
        &[Bind::Text(prefix.to_string())],
    )?
    .into_iter()
    .map(|r| (r.id, r.name))
    .collect();
    let moved = moved(conn, month, start_utc, end_utc)?;
    let shelves: Vec<ShelfRow> = load(
        conn,
        &format!(
            "SELECT st.store_id AS store_id, st.item_id AS item_id, st.quantity AS quantity
               FROM stock st JOIN stores s ON s.id = st.store_id JOIN areas a ON a.id = s.area_id
              WHERE {filter}"
        ),
        &[Bind::Text(prefix.to_string())],
    )?;
    let items: HashMap<String, (String, String)> = load::<NameRow>(
        conn,
        "SELECT i.id AS id, i.name AS name, i.unit AS unit FROM items i",
        &[],
    )?
    .into_iter()
    .map(|r| (r.id, (r.name, r.unit)))
    .collect();

    type Lines = BTreeMap<(String, String, String, String), GoodsLine>;
    let mut lines: Lines = BTreeMap::new();
    // The line of an item at a store of the area (None: not one of them).
    type Names = HashMap<String, String>;
    type Items = HashMap<String, (String, String)>;
    fn line<'a>(
        lines: &'a mut Lines,
        (stores, items): (&Names, &Items),
        store_id: &str,
        item_id: &str,
    ) -> Option<&'a mut GoodsLine> {
        let store_name = stores.get(store_id)?;
        let (item_name, unit) = items.get(item_id).cloned().unwrap_or_default();
        Some(
            lines
                .entry((
                    store_name.clone(),
                    store_id.to_string(),
                    item_name.clone(),
                    item_id.to_string(),
                ))
                .or_insert_with(|| GoodsLine {
                    store_id: store_id.to_string(),
                    store_name: store_name.clone(),
                    item_id: item_id.to_string(),
                    item_name,
                    unit,
                    ..GoodsLine::default()
                }),
        )
    }
    for r in &shelves {
        if let Some(g) = line(&mut lines, (&stores, &items), &r.store_id, &r.item_id) {
            // On the shelf now: the closing stock once later moves are undone.
            g.closing += r.quantity;
            g.opening += r.quantity;
        }
    }
    for r in &moved {
        for (store, dir) in [(&r.to_store, 1), (&r.from_store, -1)] {
            let Some(g) = store
                .as_deref()
                .and_then(|s| line(&mut lines, (&stores, &items), s, &r.item_id))
            else {
                continue;
            };
            g.opening -= dir * r.quantity;
            if r.period == 2 {
                g.closing -= dir * r.quantity;
                continue;
            }
            let q = r.quantity;
            match (r.kind.as_str(), dir) {
                ("donation", 1) => g.donated += q,
                ("purchase", 1) => g.bought += q,
                ("move", 1) => g.moved_in += q,
                ("move", _) => g.moved_out += q,
                ("redemption", -1) => g.redeemed += q,
                ("write_off", -1) => g.written_off += q,
                _ => g.counted += dir * q,
            }
        }
    }
    let mut out: Vec<GoodsLine> = lines.into_values().collect();
    // Items with no stock and no movement this month say nothing.
    out.retain(|g| g.opening != 0 || g.closing != 0 || g.flows() != 0 || g.redeemed != 0);
    Ok(out)
}

/// What moved since `month` began (`[start_utc, end_utc)` in UTC), in it
/// (period 1) and after it (2): the UTC months' running totals
/// (`ledger::goods_totals`), with the hours between the UTC months and the
/// scheme's month read from the movements themselves (`utc::pieces`).
fn moved(
    conn: &mut DbConn,
    month: Month,
    start_utc: NaiveDateTime,
    end_utc: NaiveDateTime,
) -> QueryResult<Vec<MovedRow>> {
    let mut moved: Vec<MovedRow> = load(
        conn,
        "SELECT CASE WHEN t.direction < 0 THEN t.store_id END AS from_store,
                CASE WHEN t.direction > 0 THEN t.store_id END AS to_store,
                t.item_id AS item_id, t.kind AS kind,
                CAST(CASE WHEN t.month = $1 THEN 1 ELSE 2 END AS BIGINT) AS period,
                CAST(SUM(t.quantity) AS BIGINT) AS quantity
           FROM stock_month_totals t
          WHERE t.month >= $1
          GROUP BY t.store_id, t.direction, t.item_id, t.kind, CASE WHEN t.month = $1 THEN 1 ELSE 2 END",
        &[Bind::Text(month.to_string())],
    )?;
    for p in utc::pieces(month, start_utc, end_utc) {
        moved.extend(load::<MovedRow>(
            conn,
            "SELECT m.from_store_id AS from_store, m.to_store_id AS to_store, m.item_id AS item_id,
                    m.kind AS kind, CAST($3 AS BIGINT) AS period,
                    CAST($4 * SUM(m.quantity) AS BIGINT) AS quantity
               FROM stock_movements m
              WHERE m.at >= $1 AND m.at < $2
              GROUP BY m.from_store_id, m.to_store_id, m.item_id, m.kind",
            &[
                Bind::Ts(p.from),
                Bind::Ts(p.to),
                Bind::Int(p.period),
                Bind::Int(p.sign),
            ],
        )?);
    }
    Ok(moved)
}
