//! Reading households: one by id within the actor's scope, the list with
//! its filters and pages, a household's history and old cards, and the
//! villages and helpers a form offers.

use super::*;

/// A household by id, with its area path, if the actor may see households
/// and their scope covers this one.
///
/// Errors: `NotFound` for an unknown id, `Forbidden` for a role without
/// `ViewHouseholds` or a household outside the actor's scope.
pub fn find(
    conn: &mut DbConn,
    actor: &Actor,
    id: &HouseholdId,
) -> Result<HouseholdRow, HouseholdError> {
    actor.require(Action::ViewHouseholds)?;
    let mut row = load(conn, id)?;
    if !actor.scope.covers_area_path(&row.area_path) {
        return Err(HouseholdError::Forbidden);
    }
    name_villages(conn, actor, std::slice::from_mut(&mut row))?;
    Ok(row)
}

/// A household by id without asking who reads it: only for operations that
/// decide themselves what their actor may read (a clerk redeeming for the
/// household whose card was scanned). `NotFound` for an unknown id.
pub(crate) fn load(conn: &mut DbConn, id: &HouseholdId) -> Result<HouseholdRow, HouseholdError> {
    let row = household_rows!()
        .filter(households::id.eq(id))
        .select(row_columns!())
        .first::<RowTuple>(conn)
        .optional()?
        .ok_or(HouseholdError::NotFound)?;
    Ok(to_row(row))
}

pub(crate) fn to_row(
    (household, village, area_path, username, display, card_no): RowTuple,
) -> HouseholdRow {
    let helper = match (display, username) {
        (Some(d), _) if !d.is_empty() => Some(d),
        (_, u) => u,
    };
    HouseholdRow {
        household,
        village,
        area_path,
        helper,
        card_no,
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub q: String,
    pub area_id: Option<String>,
    pub status: Option<Status>,
    pub helper_id: Option<String>,
    pub include_archived: bool,
    pub sort: Sort,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    #[default]
    Name,
    Village,
    Newest,
}

impl Sort {
    pub fn parse(s: &str) -> Sort {
        match s {
            "village" => Sort::Village,
            "newest" => Sort::Newest,
            _ => Sort::Name,
        }
    }
}

pub const PAGE_SIZE: i64 = 50;

/// One page of households visible in the scope, and how many match in all.
pub fn list(
    conn: &mut DbConn,
    actor: &Actor,
    filter: &ListFilter,
    page: i64,
    page_size: i64,
) -> Result<(Vec<HouseholdRow>, i64), HouseholdError> {
    actor.require(Action::ViewHouseholds)?;
    let scope = &actor.scope;
    let Some(prefix) = scope.area_filter() else {
        return Ok((Vec::new(), 0));
    };
    // The area filter: a subtree, itself inside the scope.
    let area_prefix = match &filter.area_id {
        Some(a) => match areas::find(conn, a)? {
            Some(area) if scope.covers_area_path(&area.path) => Some(db::path_prefix(&area.path)),
            _ => return Ok((Vec::new(), 0)),
        },
        None => None,
    };
    let q = filter.q.trim().to_string();
    let card = CardNo::parse("q", &q).ok();
    let build = |prefix: &Option<String>| {
        let mut query = household_rows!().into_boxed();
        if let Some(p) = prefix {
            query = query.filter(areas_t::path.like(p.clone()));
        }
        if let Some(p) = &area_prefix {
            query = query.filter(areas_t::path.like(p.clone()));
        }
        if !filter.include_archived {
            query = query.filter(households::archived.eq(false));
        }
        if let Some(s) = filter.status {
            query = query.filter(households::status.eq(s.as_str()));
        }
        if let Some(h) = &filter.helper_id {
            query = query.filter(households::helper_id.eq(h.clone()));
        }
        if let Some(c) = &card {
            query = query.filter(points_cards::card_no.nullable().eq(c.as_str().to_string()));
        } else if !q.is_empty() {
            let upper = q.to_uppercase();
            if upper.len() == 4 && upper.chars().all(|c| c.is_ascii_digit() || c == 'X') {
                query = query.filter(
                    households::id_last4
                        .eq(upper)
                        .or(db::contains(households::head_name, &q)),
                );
            } else if let Some(py) = crate::domain::pinyin::query(&q) {
                // Letters: the name as typed, or the head's or the
                // village's name by its pinyin (full or initials).
                query = query.filter(
                    db::contains(households::head_name, &q)
                        .or(db::key_prefix(households::head_pinyin, &py))
                        .or(db::key_prefix(households::head_initials, &py))
                        .or(db::key_prefix(areas_t::name_pinyin, &py))
                        .or(db::key_prefix(areas_t::name_initials, &py)),
                );
            } else {
                query = query.filter(db::contains(households::head_name, &q));
            }
        }
        query
    };
    let total: i64 = build(&prefix).count().get_result(conn)?;
    let mut query = build(&prefix);
    query = match filter.sort {
        Sort::Name => query.order((households::head_name.asc(), households::id.asc())),
        Sort::Village => query.order((
            areas_t::name.asc(),
            households::head_name.asc(),
            households::id.asc(),
        )),
        Sort::Newest => query.order((households::created_at.desc(), households::id.desc())),
    };
    let rows = query
        .limit(page_size)
        .offset(page.max(0) * page_size)
        .select(row_columns!())
        .load::<RowTuple>(conn)?;
    let mut rows: Vec<HouseholdRow> = rows.into_iter().map(to_row).collect();
    name_villages(conn, actor, &mut rows)?;
    Ok((rows, total))
}

/// Whose ID number this is among active households, for the duplicate message.
pub(super) fn active_with_lookup(
    conn: &mut DbConn,
    lookup: &str,
    except: Option<&HouseholdId>,
) -> QueryResult<Option<(HouseholdId, String, String)>> {
    let mut q = households::table
        .inner_join(areas_t::table)
        .filter(households::id_lookup.eq(lookup.to_string()))
        .filter(households::archived.eq(false))
        .into_boxed();
    if let Some(e) = except {
        q = q.filter(households::id.ne(e.clone()));
    }
    q.select((households::id, households::head_name, areas_t::path))
        .first(conn)
        .optional()
}

#[derive(Debug, Clone, Queryable)]
pub struct StatusChange {
    pub at: NaiveDateTime,
    pub username: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub reason: String,
}

impl StatusChange {
    pub fn from_key(&self) -> Option<&'static str> {
        self.from_status.as_deref().map(Status::label_key_of)
    }
    pub fn to_key(&self) -> &'static str {
        Status::label_key_of(&self.to_status)
    }
}

pub fn status_history(conn: &mut DbConn, id: &HouseholdId) -> QueryResult<Vec<StatusChange>> {
    hist::table
        .filter(hist::household_id.eq(id))
        .order((hist::at.asc(), hist::id.asc()))
        .select((
            hist::at,
            hist::username,
            hist::from_status,
            hist::to_status,
            hist::reason,
        ))
        .load(conn)
}

/// Earlier cards of a household (replaced ones), newest first.
pub fn old_cards(
    conn: &mut DbConn,
    id: &HouseholdId,
) -> QueryResult<Vec<(String, Option<NaiveDateTime>)>> {
    points_cards::table
        .filter(points_cards::household_id.eq(id))
        .filter(points_cards::replaced_by.is_not_null())
        .order(points_cards::replaced_at.desc())
        .select((points_cards::card_no, points_cards::replaced_at))
        .load(conn)
}

/// Villages inside the scope, for choosing one.
pub fn villages_in_scope(conn: &mut DbConn, actor: &Actor) -> QueryResult<Vec<areas::Area>> {
    let scope = &actor.scope;
    let all = areas::visible(conn, scope)?;
    let mut villages: Vec<areas::Area> = all
        .into_iter()
        .filter(|a| a.level() == AreaLevel::Village)
        .collect();
    // Named as the actor reads them: 东庄村（凤山街道） from above a town.
    let names = areas::InContext::load(
        conn,
        scope,
        actor.lang,
        villages.iter().map(|v| v.path.as_str()),
    )?;
    names.rename(&mut villages);
    Ok(villages)
}

/// Household rows' villages named as the actor reads them (with the town
/// from above town level).
pub fn name_villages(
    conn: &mut DbConn,
    actor: &Actor,
    rows: &mut [HouseholdRow],
) -> QueryResult<()> {
    let names = areas::InContext::load(
        conn,
        &actor.scope,
        actor.lang,
        rows.iter().map(|r| r.area_path.as_str()),
    )?;
    for r in rows {
        r.village = names.name(&r.village, &r.area_path);
    }
    Ok(())
}

/// Whether a helper working in the area at `helper_path` (none: no area)
/// may be assigned by someone of `scope`: a helper in this scope, or above
/// it; anyone for the unscoped.
pub fn helper_in_scope(scope: &Scope, helper_path: Option<&str>) -> bool {
    match (scope, helper_path) {
        (Scope::All, _) => true,
        (Scope::Area { path: mine, .. }, Some(p)) => {
            p.starts_with(mine.as_str()) || mine.starts_with(p)
        }
        _ => false,
    }
}

/// Officials who can be assigned as helpers: (id, name).
pub fn helpers(conn: &mut DbConn, actor: &Actor) -> QueryResult<Vec<(String, String)>> {
    let scope = &actor.scope;
    let rows: Vec<(String, String, String, Option<String>)> = users::table
        .left_join(areas_t::table)
        .filter(users::role.eq("official"))
        .filter(users::disabled.eq(false))
        .order(users::username.asc())
        .select((
            users::id,
            users::username,
            users::display_name,
            areas_t::path.nullable(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(_, _, _, path)| helper_in_scope(scope, path.as_deref()))
        .map(|(id, u, d, _)| {
            (
                id,
                if d.is_empty() {
                    u
                } else {
                    format!("{d} ({u})")
                },
            )
        })
        .collect())
}
