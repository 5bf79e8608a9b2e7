//! The area tree: province > city > district/county > town > village.
//!
//! A city may stand at the top (databases made before provinces existed
//! keep their cities as roots) until an administrator adds a province and
//! places the city under it (`place_under`), which rewrites the paths of
//! the city's whole subtree in one statement.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::audit;
use crate::auth::{Action, Actor};
use crate::db::schema::{areas, stores, users};
use crate::db::{self, DbConn};
use crate::domain::{AreaLevel, FieldError, parse_name};
use crate::i18n::Lang;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = areas)]
pub struct Area {
    pub id: String,
    pub parent_id: Option<String>,
    pub level: String,
    pub name: String,
    pub path: String,
    pub created_at: NaiveDateTime,
}

impl Area {
    pub fn level(&self) -> AreaLevel {
        AreaLevel::parse(&self.level).unwrap_or(AreaLevel::Village)
    }

    /// How deep in the tree (an area at the top is 0).
    pub fn depth(&self) -> usize {
        self.path.matches('/').count().saturating_sub(2)
    }
}

/// This area's refusals: the one vocabulary every operation shares.
pub type AreaError = crate::error::Problem;

/// The ids along an area's path, from the city down (`/c/d/t/v/`).
fn path_ids(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// The one way an area is named to a person: a village shows its town
/// to anyone who looks from above town level, where several villages
/// share a name; to a town's or village's own people, and for every other
/// level, its bare name. The brackets are the reader's language's:
/// 东庄村（凤山街道） in Chinese, "东庄村 (凤山街道)" in English.
pub fn display_name(name: &str, town: Option<&str>, lang: Lang) -> String {
    match (town, lang) {
        (Some(t), Lang::Zh) if !t.is_empty() => format!("{name}（{t}）"),
        (Some(t), Lang::En) if !t.is_empty() => format!("{name} ({t})"),
        _ => name.to_string(),
    }
}

/// An area's name that stands on its own, for a refusal or an audit row
/// read wherever the reader stands: a village with its town
/// ([`display_name`] in `lang`), any other area bare.
pub fn full_name(conn: &mut DbConn, area: &Area, lang: Lang) -> QueryResult<String> {
    if area.level() != AreaLevel::Village {
        return Ok(area.name.clone());
    }
    let town = match area.parent_id.as_deref() {
        Some(p) => find(conn, p)?,
        None => None,
    };
    Ok(display_name(
        &area.name,
        town.as_ref().map(|t| t.name.as_str()),
        lang,
    ))
}

/// Whether a viewer with `scope` looks from above town level (so villages
/// are told apart by their towns). A clerk's store serves households of
/// any village, so a clerk does too.
pub fn looks_from_above_town(scope: &crate::auth::Scope) -> bool {
    use crate::auth::Scope;
    match scope {
        Scope::All | Scope::Store { .. } => true,
        // A city is at depth 0, a district at 1, a town at 2.
        Scope::Area { path, .. } => path_ids(path).count() < 3,
        Scope::Nothing => false,
    }
}

/// Town names for villages, read once for a page: what
/// [`display_name`] needs for every village the page shows.
#[derive(Debug, Clone, Default)]
pub struct InContext {
    /// Town id -> town name; empty when the viewer is inside one town.
    towns: std::collections::HashMap<String, String>,
    /// The reader's language (its brackets).
    lang: Lang,
}

impl InContext {
    /// The towns of the villages at `paths` (area paths), for a reader
    /// with `scope` reading `lang`.
    pub fn load<'a>(
        conn: &mut DbConn,
        scope: &crate::auth::Scope,
        lang: Lang,
        paths: impl IntoIterator<Item = &'a str>,
    ) -> QueryResult<InContext> {
        if !looks_from_above_town(scope) {
            return Ok(InContext {
                lang,
                ..InContext::default()
            });
        }
        let mut ids: Vec<String> = paths
            .into_iter()
            .filter_map(|p| path_ids(p).nth(2).map(str::to_string))
            .collect();
        ids.sort();
        ids.dedup();
        let mut towns = std::collections::HashMap::new();
        // In chunks, to stay under every backend's bind limit. One town (a
        // household's page) is asked by equality, a query the connection
        // keeps prepared; a list is prepared again at every call.
        for chunk in ids.chunks(500) {
            let rows: Vec<(String, String)> = match chunk {
                [one] => areas::table
                    .filter(areas::id.eq(one))
                    .select((areas::id, areas::name))
                    .load(conn)?,
                _ => areas::table
                    .filter(areas::id.eq_any(chunk))
                    .select((areas::id, areas::name))
                    .load(conn)?,
            };
            towns.extend(rows);
        }
        Ok(InContext { towns, lang })
    }

    /// The name of the area `name` at `path`, in this context: a village
    /// with its town when the viewer looks from above town level.
    pub fn name(&self, name: &str, path: &str) -> String {
        let ids: Vec<&str> = path_ids(path).collect();
        // Only a village (depth 3) carries its town.
        let town = if ids.len() == 4 {
            self.towns.get(ids[2]).map(String::as_str)
        } else {
            None
        };
        display_name(name, town, self.lang)
    }

    /// Name each row's village as `scope` reads it in `lang`, in place:
    /// `village` gives a row's village name (rewritten) and its area path.
    /// One query for the towns of all the rows.
    pub fn name_rows<R>(
        conn: &mut DbConn,
        scope: &crate::auth::Scope,
        lang: Lang,
        rows: &mut [R],
        village: fn(&mut R) -> (&mut String, &str),
    ) -> QueryResult<()> {
        let paths: Vec<String> = rows.iter_mut().map(|r| village(r).1.to_string()).collect();
        let towns = InContext::load(conn, scope, lang, paths.iter().map(String::as_str))?;
        for r in rows {
            let (name, path) = village(r);
            let named = towns.name(name, path);
            *name = named;
        }
        Ok(())
    }

    /// Rename `areas` for display in this context (pickers).
    pub fn rename(&self, areas: &mut [Area]) {
        for a in areas {
            a.name = self.name(&a.name, &a.path);
        }
    }
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Area>> {
    areas::table
        .find(id)
        .select(Area::as_select())
        .first(conn)
        .optional()
}

/// Every area, in tree order (each parent before its children, siblings by name).
pub fn tree(conn: &mut DbConn) -> QueryResult<Vec<Area>> {
    let all = areas::table.select(Area::as_select()).load(conn)?;
    Ok(tree_order(all))
}

/// The areas under (and including) the one at `path`, in tree order.
pub fn subtree(conn: &mut DbConn, path: &str) -> QueryResult<Vec<Area>> {
    let all = areas::table
        .filter(areas::path.like(db::path_prefix(path)))
        .select(Area::as_select())
        .load(conn)?;
    Ok(tree_order(all))
}

/// The areas a scope may see, in tree order (none for a clerk's store or
/// a user without an area): what every area chooser and scoped summary uses.
pub fn visible(conn: &mut DbConn, scope: &crate::auth::Scope) -> QueryResult<Vec<Area>> {
    use crate::auth::Scope;
    match scope {
        Scope::All => tree(conn),
        Scope::Area { path, .. } => subtree(conn, path),
        Scope::Store { .. } | Scope::Nothing => Ok(Vec::new()),
    }
}

/// Order areas depth-first, siblings by name.
pub fn tree_order(mut all: Vec<Area>) -> Vec<Area> {
    use std::collections::HashMap;
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let ids: std::collections::HashSet<String> = all.iter().map(|a| a.id.clone()).collect();
    let mut children: HashMap<Option<String>, Vec<Area>> = HashMap::new();
    for a in all {
        // A subtree's top has a parent outside the set: treat it as a root.
        let parent = a.parent_id.clone().filter(|p| ids.contains(p));
        children.entry(parent).or_default().push(a);
    }
    let mut out = Vec::new();
    fn walk(
        key: Option<String>,
        children: &mut HashMap<Option<String>, Vec<Area>>,
        out: &mut Vec<Area>,
    ) {
        if let Some(list) = children.remove(&key) {
            for a in list {
                let id = a.id.clone();
                out.push(a);
                walk(Some(id), children, out);
            }
        }
    }
    walk(None, &mut children, &mut out);
    out
}

/// Create an area under `parent_id` (or a city at the top). The level follows
/// from the parent's.
///
/// Errors: `Forbidden` for a role that may not manage areas; `Invalid` on
/// `field.area_name` (empty, too long, taken under the same parent) or
/// `field.parent` (unknown, or a village).
pub fn create(
    conn: &mut DbConn,
    ctx: &Actor,
    parent_id: Option<&str>,
    name: &str,
) -> Result<Area, AreaError> {
    match parent_id {
        None => create_top(conn, ctx, AreaLevel::City, name),
        Some(pid) => insert(conn, ctx, Some(pid), None, name),
    }
}

/// Create an area at the top of the tree: a province, or a city.
///
/// Errors: `Forbidden` for a role that may not manage areas; `Invalid` on
/// `field.level` for a level below a city, on `field.area_name` as `create`.
pub fn create_top(
    conn: &mut DbConn,
    ctx: &Actor,
    level: AreaLevel,
    name: &str,
) -> Result<Area, AreaError> {
    if !level.may_be_root() {
        return Err(FieldError::new("field.level", "error.level_mismatch").into());
    }
    insert(conn, ctx, None, Some(level), name)
}

fn insert(
    conn: &mut DbConn,
    ctx: &Actor,
    parent_id: Option<&str>,
    top_level: Option<AreaLevel>,
    name: &str,
) -> Result<Area, AreaError> {
    ctx.require(Action::ManageAreas)?;
    let name = parse_name("field.area_name", name, 60)?;
    db::write_tx(conn, |c| {
        let id = db::new_id();
        let (level, path) = match parent_id {
            None => (top_level.unwrap_or(AreaLevel::City), format!("/{id}/")),
            Some(pid) => {
                let parent =
                    find(c, pid)?.ok_or(FieldError::new("field.parent", "error.area_unknown"))?;
                let level = parent.level().child().ok_or(FieldError::new(
                    "field.parent",
                    "error.village_has_no_children",
                ))?;
                (level, format!("{}{id}/", parent.path))
            }
        };
        if sibling_named(c, parent_id, &name, None)? {
            return Err(name_taken(&name));
        }
        let k = crate::domain::pinyin::keys(&name);
        diesel::insert_into(areas::table)
            .values((
                areas::id.eq(&id),
                areas::parent_id.eq(parent_id),
                areas::level.eq(level.as_str()),
                areas::name.eq(&name),
                areas::name_pinyin.eq(&k.full),
                areas::name_initials.eq(&k.initials),
                areas::path.eq(&path),
                areas::created_at.eq(db::now()),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            "area.create",
            "area",
            &id,
            &audit::Detail::new("area")
                .word("level", &format!("level.{}", level.as_str()))
                .arg("name", &name)
                .to_string(),
        )?;
        find(c, &id)?.ok_or(AreaError::NotFound)
    })
}

/// Put a city under a province: the city (a root, or under another
/// province) and everything below it move, their paths rewritten in one
/// statement, so every scope, summary and export of the province includes
/// them from the next request on. Nothing else stores a path; the running
/// totals are kept per village, so the province's summary sums them as it
/// does a city's, except the areas' trend figures of closed months, which
/// the city's move carries from its old province to its new one.
///
/// Errors: `Forbidden` for a role that may not manage areas; `NotFound`
/// for an unknown city; `Invalid` on `field.area` when
/// the area is not a city, on `field.parent` when the target is not a
/// province, and on `field.area_name` when the province already has a city
/// of that name.
pub fn place_under(
    conn: &mut DbConn,
    ctx: &Actor,
    city_id: &str,
    province_id: &str,
) -> Result<Area, AreaError> {
    ctx.require(Action::ManageAreas)?;
    db::write_tx(conn, |c| {
        let city = find(c, city_id)?.ok_or(AreaError::NotFound)?;
        if city.level() != AreaLevel::City {
            return Err(FieldError::new("field.area", "error.area_not_city")
                .arg("name", &city.name)
                .into());
        }
        let province = find(c, province_id)?
            .filter(|p| p.level() == AreaLevel::Province)
            .ok_or(FieldError::new("field.parent", "error.parent_not_province"))?;
        if city.parent_id.as_deref() == Some(province.id.as_str()) {
            return Ok(city);
        }
        if sibling_named(c, Some(&province.id), &city.name, Some(&city.id))? {
            return Err(name_taken(&city.name));
        }
        let old_prefix = city.path.clone();
        // Every path in the subtree starts with the city's: keep the rest.
        let new_prefix = format!("{}{}/", province.path, city.id);
        let moved = db::execute(
            c,
            "UPDATE areas SET path = $1 || SUBSTR(path, CAST($2 AS INTEGER)) WHERE path LIKE $3",
            &[
                db::Bind::Text(new_prefix),
                db::Bind::Int(old_prefix.len() as i64 + 1),
                db::Bind::Text(db::path_prefix(&old_prefix)),
            ],
        )?;
        diesel::update(areas::table.find(&city.id))
            .set(areas::parent_id.eq(&province.id))
            .execute(c)?;
        crate::ledger::totals::move_area_closings(
            c,
            &city.id,
            city.parent_id.as_deref(),
            &province.id,
        )?;
        audit::record(
            c,
            ctx,
            "area.place",
            "area",
            &city.id,
            &audit::Detail::new("area_place")
                .arg("city", &city.name)
                .arg("province", &province.name)
                .arg("moved", moved)
                .to_string(),
        )?;
        find(c, &city.id)?.ok_or(AreaError::NotFound)
    })
}

/// The refusal of a name another area under the same parent has.
fn name_taken(name: &str) -> AreaError {
    FieldError::conflict(
        "field.area_name",
        "error.area_name_taken",
        crate::domain::Conflict::Taken,
    )
    .arg("name", name)
    .into()
}

/// Whether another area under the same parent already has this name.
fn sibling_named(
    conn: &mut DbConn,
    parent_id: Option<&str>,
    name: &str,
    except: Option<&str>,
) -> QueryResult<bool> {
    let mut q = areas::table.filter(areas::name.eq(name)).into_boxed();
    q = match parent_id {
        Some(p) => q.filter(areas::parent_id.eq(p.to_string())),
        None => q.filter(areas::parent_id.is_null()),
    };
    if let Some(e) = except {
        q = q.filter(areas::id.ne(e.to_string()));
    }
    Ok(q.count().get_result::<i64>(conn)? > 0)
}

/// Rename an area. Errors: `Forbidden` for a role that may not manage
/// areas; `NotFound`; a name taken under the same parent.
pub fn rename(conn: &mut DbConn, ctx: &Actor, id: &str, name: &str) -> Result<Area, AreaError> {
    ctx.require(Action::ManageAreas)?;
    let name = parse_name("field.area_name", name, 60)?;
    db::write_tx(conn, |c| {
        let before = find(c, id)?.ok_or(AreaError::NotFound)?;
        if sibling_named(c, before.parent_id.as_deref(), &name, Some(id))? {
            return Err(name_taken(&name));
        }
        let k = crate::domain::pinyin::keys(&name);
        diesel::update(areas::table.find(id))
            .set((
                areas::name.eq(&name),
                areas::name_pinyin.eq(&k.full),
                areas::name_initials.eq(&k.initials),
            ))
            .execute(c)?;
        // An audit row is stored once for every reader: in the scheme's
        // first language.
        let said = audit::Detail::new("renamed")
            .arg("from", full_name(c, &before, Lang::Zh)?)
            .arg("to", &name)
            .to_string();
        audit::record(c, ctx, "area.rename", "area", id, &said)?;
        find(c, id)?.ok_or(AreaError::NotFound)
    })
}

/// Delete an area nothing refers to: no children, no users, no stores (later
/// tables add their own references, and the foreign keys refuse the rest).
/// Errors: `Forbidden` for a role that may not manage areas.
pub fn delete(conn: &mut DbConn, ctx: &Actor, id: &str) -> Result<(), AreaError> {
    ctx.require(Action::ManageAreas)?;
    db::write_tx(conn, |c| {
        let area = find(c, id)?.ok_or(AreaError::NotFound)?;
        let children: i64 = areas::table
            .filter(areas::parent_id.eq(id))
            .count()
            .get_result(c)?;
        let users_here: i64 = users::table
            .filter(users::area_id.eq(id))
            .count()
            .get_result(c)?;
        let stores_here: i64 = stores::table
            .filter(stores::area_id.eq(id))
            .count()
            .get_result(c)?;
        let shown = full_name(c, &area, ctx.lang)?;
        if children + users_here + stores_here > 0 {
            return Err(FieldError::new("field.area", "error.area_in_use")
                .arg("name", &shown)
                .into());
        }
        match diesel::delete(areas::table.find(id)).execute(c) {
            Ok(_) => {}
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                _,
            )) => {
                return Err(FieldError::new("field.area", "error.area_in_use")
                    .arg("name", &shown)
                    .into());
            }
            Err(e) => return Err(e.into()),
        }
        audit::record(
            c,
            ctx,
            "area.delete",
            "area",
            id,
            &audit::Detail::new("area")
                .word("level", &format!("level.{}", area.level))
                .arg("name", &shown)
                .to_string(),
        )?;
        Ok(())
    })
}
