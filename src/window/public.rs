//! What anyone may read without logging in: a village's public notice
//! (公示), the honour roll (红榜), a store's shelf and the rulebook. Nothing
//! here names a household beyond a masked name and its village: no card
//! numbers, ID numbers, phones or addresses (docs/privacy.md).

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::areas::{self, Area};
use crate::db::DbConn;
use crate::db::schema::{areas as areas_t, awards, households, rules};
use crate::domain::AreaLevel;
use crate::reports::Month;
use crate::stores::{self, StoreRow};

/// A person's name as public pages show it: the first and last characters
/// kept, those between starred (张三丰 -> 张*丰, 欧阳娜娜 -> 欧**娜); a
/// two-character name keeps its first (张三 -> 张*); one character is
/// starred whole.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".into(),
        2 => format!("{}*", chars[0]),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

/// One line of a store's public shelf.
#[derive(Debug, Clone)]
pub struct ShelfItem {
    pub name: String,
    pub unit: String,
    /// Points price at this store.
    pub points: i64,
    pub in_stock: bool,
}

/// A store as the public sees it: where, when open, and its goods.
#[derive(Debug, Clone)]
pub struct StoreShelf {
    pub store: StoreRow,
    pub items: Vec<ShelfItem>,
}

/// A store's shelf: its active goods with their prices, and whether there
/// are any (never how many). None for an unknown or closed store.
pub fn shelf(c: &mut DbConn, store_id: &crate::domain::StoreId) -> QueryResult<Option<StoreShelf>> {
    match stores::find(c, store_id)? {
        Some(store) if store.store.active => shelf_of(c, store).map(Some),
        _ => Ok(None),
    }
}

/// The public shelf of a store already read.
fn shelf_of(c: &mut DbConn, store: StoreRow) -> QueryResult<StoreShelf> {
    let items = crate::stock::shelf(c, &store.store.id)?
        .into_iter()
        .filter(|l| l.item.active)
        .map(|l| ShelfItem {
            name: l.item.name.clone(),
            unit: l.item.unit.clone(),
            points: l.price,
            in_stock: l.quantity > 0,
        })
        .collect();
    Ok(StoreShelf { store, items })
}

/// The open stores whose area holds a village (by the village's path).
pub fn stores_serving(c: &mut DbConn, village_path: &str) -> QueryResult<Vec<StoreShelf>> {
    let mut out = Vec::new();
    for s in stores::list(c)? {
        if s.store.active && village_path.starts_with(s.area_path.as_str()) {
            out.push(shelf_of(c, s)?);
        }
    }
    Ok(out)
}

/// One line of a public notice: a masked name, the rule and the points.
#[derive(Debug, Clone)]
pub struct NoticeLine {
    pub award_id: String,
    pub name: String,
    pub rule: String,
    pub occurred_on: NaiveDate,
    pub points: i64,
}

/// A village's notice for a period: awards and deductions apart.
#[derive(Debug, Clone)]
pub struct Notice {
    pub village: Area,
    /// The town the village lies in, to tell villages of one name apart.
    pub town: Option<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub awards: Vec<NoticeLine>,
    pub deductions: Vec<NoticeLine>,
}

/// The area just above a village, by name (its town).
fn parent_name(c: &mut DbConn, area: &Area) -> QueryResult<Option<String>> {
    match &area.parent_id {
        Some(p) => Ok(areas::find(c, p)?.map(|a| a.name)),
        None => Ok(None),
    }
}

/// A village's public notice: approved awards (and those on notice) for
/// deeds in `[from, to]`. None when the id is not a village.
pub fn notice(
    c: &mut DbConn,
    village_id: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Option<Notice>> {
    let Some(village) = areas::find(c, village_id)? else {
        return Ok(None);
    };
    if village.level() != AreaLevel::Village {
        return Ok(None);
    }
    let town = parent_name(c, &village)?;
    let rows: Vec<(String, String, String, NaiveDate, i64)> = awards::table
        .inner_join(households::table)
        .inner_join(rules::table)
        .filter(households::area_id.eq(village_id))
        .filter(awards::status.eq_any(crate::points::awards::AwardStatus::ACCEPTED))
        .filter(awards::occurred_on.ge(from))
        .filter(awards::occurred_on.le(to))
        .order((awards::occurred_on.asc(), households::head_name.asc()))
        .select((
            awards::id,
            households::head_name,
            rules::name,
            awards::occurred_on,
            awards::points,
        ))
        .load(c)?;
    let (mut plus, mut minus) = (Vec::new(), Vec::new());
    for (award_id, name, rule, occurred_on, points) in rows {
        let line = NoticeLine {
            award_id,
            name: mask_name(&name),
            rule,
            occurred_on,
            points,
        };
        if points < 0 {
            minus.push(line)
        } else {
            plus.push(line)
        }
    }
    Ok(Some(Notice {
        village,
        town,
        from,
        to,
        awards: plus,
        deductions: minus,
    }))
}

/// One household on the honour roll.
#[derive(Debug, Clone)]
pub struct Honour {
    pub rank: usize,
    pub name: String,
    pub village: String,
    /// Points earned in the month (approved awards, deductions not netted).
    pub points: i64,
}

/// How many households an honour roll names.
pub const HONOURS: i64 = 20;

/// The honour roll of an area (a village, a town or above) for a month:
/// the households that earned the most points by awards for deeds in the
/// month, leaving out those that asked not to be named and archived ones.
/// None when the area is unknown.
pub fn honours(
    c: &mut DbConn,
    area_id: &str,
    month: Month,
) -> QueryResult<Option<(Area, Vec<Honour>)>> {
    ranked(c, area_id, month, false)
}

/// The black list (黑榜) of an area for a month, when the scheme publishes
/// one (`settings::BLACK_LIST`): the households with the most points
/// deducted for deeds in the month, under the honour roll's privacy rules
/// (masked names, village only, archived households and those that asked
/// not to be named left out). `points` are the points deducted, positive.
/// None when the area is unknown.
pub fn black_list(
    c: &mut DbConn,
    area_id: &str,
    month: Month,
) -> QueryResult<Option<(Area, Vec<Honour>)>> {
    ranked(c, area_id, month, true)
}

fn ranked(
    c: &mut DbConn,
    area_id: &str,
    month: Month,
    deductions: bool,
) -> QueryResult<Option<(Area, Vec<Honour>)>> {
    let Some(area) = areas::find(c, area_id)? else {
        return Ok(None);
    };
    let (from, end) = (month.first_day(), month.end_day());
    let mut q = awards::table
        .inner_join(households::table.inner_join(areas_t::table))
        .filter(areas_t::path.like(crate::db::path_prefix(&area.path)))
        .filter(households::honour_opt_out.eq(false))
        .filter(households::archived.eq(false))
        .filter(awards::status.eq_any(crate::points::awards::AwardStatus::ACCEPTED))
        .filter(awards::occurred_on.ge(from))
        .filter(awards::occurred_on.lt(end))
        .select((
            households::id,
            households::head_name,
            areas_t::name,
            awards::points,
        ))
        .into_boxed();
    q = if deductions {
        q.filter(awards::points.lt(0))
    } else {
        q.filter(awards::points.gt(0))
    };
    let rows: Vec<(String, String, String, i64)> = q.load(c)?;
    let mut by_household: std::collections::HashMap<String, (String, String, i64)> =
        Default::default();
    for (id, name, village, points) in rows {
        by_household
            .entry(id)
            .or_insert_with(|| (name, village, 0))
            .2 += points.saturating_abs();
    }
    let mut list: Vec<(String, String, String, i64)> = by_household
        .into_iter()
        .map(|(id, (name, village, points))| (id, name, village, points))
        .collect();
    // Most points first; ties by village and name, then id, so the roll is
    // the same every time it is drawn.
    list.sort_by(|a, b| {
        b.3.cmp(&a.3)
            .then_with(|| a.2.cmp(&b.2))
            .then_with(|| a.1.cmp(&b.1))
            .then_with(|| a.0.cmp(&b.0))
    });
    let honours = list
        .into_iter()
        .take(HONOURS as usize)
        .enumerate()
        .map(|(i, (_, name, village, points))| Honour {
            rank: i + 1,
            name: mask_name(&name),
            village,
            points,
        })
        .collect();
    Ok(Some((area, honours)))
}

/// A town and its villages, for the public pickers.
#[derive(Debug, Clone)]
pub struct TownVillages {
    pub town: Area,
    pub villages: Vec<Area>,
}

/// Every town with its villages, in the tree's order, for choosing a
/// village's notice or an area's honour roll without knowing its id.
pub fn towns_and_villages(c: &mut DbConn) -> QueryResult<Vec<TownVillages>> {
    let all = areas::tree_order(areas::tree(c)?);
    let mut out: Vec<TownVillages> = Vec::new();
    for a in &all {
        if a.level() == AreaLevel::Town {
            out.push(TownVillages {
                town: a.clone(),
                villages: Vec::new(),
            });
        }
    }
    for a in all {
        if a.level() == AreaLevel::Village
            && let Some(t) = out
                .iter_mut()
                .find(|t| a.parent_id.as_deref() == Some(t.town.id.as_str()))
        {
            t.villages.push(a);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::mask_name;

    #[test]
    fn names_are_masked_in_the_middle() {
        assert_eq!(mask_name("张三丰"), "张*丰");
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧**娜");
        assert_eq!(mask_name("王"), "*");
        assert_eq!(mask_name(""), "");
    }
}
