//! Households (农户) and their points cards: registering the families,
//! keeping their personal data encrypted, finding them again.

pub mod export;
pub mod find;
pub mod import;
pub mod retention;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::areas;
use crate::audit::{self, AuditCtx};
use crate::auth::{Action, Actor, Scope};
use crate::crypto::DataKey;
use crate::db::schema::{
    areas as areas_t, household_status_history as hist, households, points_cards, users,
};
use crate::db::{self, DbConn};
use crate::domain::{
    AreaLevel, CardNo, FieldChecks, FieldError, IdNumber, Phone, parse_name, parse_optional_text,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Registered,
    Lifted,
    Monitored,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Registered, Status::Lifted, Status::Monitored];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Registered => "registered",
            Status::Lifted => "lifted",
            Status::Monitored => "monitored",
        }
    }

    /// The type from its stored name or an accepted Chinese name; `None`
    /// for anything else (never a guess).
    pub fn parse(s: &str) -> Option<Status> {
        let s = s.trim();
        Status::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .or(match s {
                // Not the bare "贫困户": it may mean any of the three types.
                "建档立卡" | "建档立卡户" | "建档立卡贫困户" => {
                    Some(Status::Registered)
                }
                "脱贫" | "脱贫户" | "已脱贫" => Some(Status::Lifted),
                "监测" | "监测户" | "监测对象" => Some(Status::Monitored),
                _ => None,
            })
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Status::Registered => "households.status_registered",
            Status::Lifted => "households.status_lifted",
            Status::Monitored => "households.status_monitored",
        }
    }

    pub fn label_key_of(s: &str) -> &'static str {
        Status::parse(s)
            .map(Status::label_key)
            .unwrap_or("households.status_registered")
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = households)]
pub struct Household {
    pub id: String,
    pub head_name: String,
    pub id_cipher: String,
    pub id_lookup: String,
    pub id_masked: String,
    pub id_last4: String,
    pub phone_cipher: String,
    pub phone_masked: String,
    pub area_id: String,
    pub address: String,
    pub members: i64,
    pub status: String,
    pub helper_id: Option<String>,
    pub notes: String,
    pub archived: bool,
    pub archived_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub created_by: String,
    pub updated_at: NaiveDateTime,
    pub updated_by: String,
}

/// A household with what lists and pages show beside it.
#[derive(Debug, Clone)]
pub struct HouseholdRow {
    pub household: Household,
    pub village: String,
    pub area_path: String,
    pub helper: Option<String>,
    pub card_no: Option<String>,
}

impl HouseholdRow {
    pub fn status_key(&self) -> &'static str {
        Status::label_key_of(&self.household.status)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HouseholdError {
    #[error("invalid field")]
    Invalid(FieldError),
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

impl From<crate::auth::Forbidden> for HouseholdError {
    fn from(_: crate::auth::Forbidden) -> Self {
        HouseholdError::Forbidden
    }
}

impl From<FieldError> for HouseholdError {
    fn from(e: FieldError) -> Self {
        HouseholdError::Invalid(e)
    }
}

impl db::RetryableError for HouseholdError {
    fn is_retryable(&self) -> bool {
        matches!(self, HouseholdError::Db(e) if e.is_retryable())
    }
}

/// What a person typed, parsed once.
#[derive(Debug, Clone)]
pub struct HouseholdInput {
    pub head_name: String,
    /// None on an edit means "unchanged".
    pub id_number: Option<IdNumber>,
    /// None means "no phone" on a new household and "unchanged" on an edit.
    pub phone: Option<Phone>,
    pub area_id: String,
    pub address: String,
    pub members: i64,
    pub status: Status,
    pub helper_id: Option<String>,
    pub notes: String,
    pub status_reason: String,
}

/// The plain strings of the household form (and of an imported row).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct HouseholdForm {
    #[serde(default)]
    pub head_name: String,
    #[serde(default)]
    pub id_number: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub area_id: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub members: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub helper_id: String,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub status_reason: String,
}

pub fn parse_members(s: &str) -> Result<i64, FieldError> {
    let s = crate::domain::input::normalize(s);
    if s.is_empty() {
        return Err(FieldError::new("field.members", "error.required"));
    }
    match crate::domain::input::whole_number(&s).ok_or(()) {
        Ok(n) if (1..=99).contains(&n) => Ok(n),
        _ => Err(FieldError::new("field.members", "error.members_range")),
    }
}

/// Parse the form. `new` households need an ID number; edits may leave ID
/// and phone empty to keep them.
pub fn parse_form(
    conn: &mut DbConn,
    actor: &Actor,
    f: &HouseholdForm,
    new: bool,
) -> Result<HouseholdInput, HouseholdError> {
    actor.require(Action::EditHouseholds)?;
    let scope = &actor.scope;
    // Every field is checked, so the person sees all that is wrong at once;
    // a value left at its default below is never used (`finish` refuses).
    let mut checks = FieldChecks::new();
    let head_name = checks
        .take(parse_name("field.head_name", &f.head_name, 40))
        .unwrap_or_default();
    let id_number = if new || !f.id_number.trim().is_empty() {
        checks.take(IdNumber::parse("field.id_number", &f.id_number))
    } else {
        None
    };
    let phone = if f.phone.trim().is_empty() {
        None
    } else {
        checks.take(Phone::parse("field.phone", &f.phone))
    };
    let area_id = f.area_id.trim().to_string();
    if area_id.is_empty() {
        checks.push(FieldError::new("field.village", "error.required"));
    } else {
        match check_village(conn, scope, &area_id) {
            Ok(_) => {}
            Err(HouseholdError::Invalid(e)) => checks.push(e),
            Err(e) => return Err(e),
        }
    }
    let address = checks
        .take(parse_optional_text("field.address", &f.address, 200))
        .unwrap_or_default();
    let members = checks.take(parse_members(&f.members)).unwrap_or(1);
    let status = if f.status.trim().is_empty() {
        Status::Registered
    } else {
        checks
            .take(
                Status::parse(&f.status)
                    .ok_or(FieldError::new("field.status", "error.status_unknown")),
            )
            .unwrap_or(Status::Registered)
    };
    let helper_id = Some(f.helper_id.trim().to_string()).filter(|s| !s.is_empty());
    if let Some(h) = &helper_id {
        match check_helper(conn, h) {
            Ok(()) => {}
            Err(HouseholdError::Invalid(e)) => checks.push(e),
            Err(e) => return Err(e),
        }
    }
    let notes = checks
        .take(parse_optional_text("field.notes", &f.notes, 500))
        .unwrap_or_default();
    let status_reason = checks
        .take(parse_optional_text(
            "field.status_reason",
            &f.status_reason,
            200,
        ))
        .unwrap_or_default();
    checks.finish()?;
    Ok(HouseholdInput {
        head_name,
        id_number,
        phone,
        area_id,
        address,
        members,
        status,
        helper_id,
        notes,
        status_reason,
    })
}

/// The area must be a village inside the user's scope.
pub fn check_village(
    conn: &mut DbConn,
    scope: &Scope,
    area_id: &str,
) -> Result<areas::Area, HouseholdError> {
    let area = areas::find(conn, area_id)?
        .ok_or(FieldError::new("field.village", "error.area_unknown"))?;
    if area.level() != AreaLevel::Village {
        return Err(FieldError::new("field.village", "error.not_a_village")
            .arg("name", &area.name)
            .into());
    }
    if !scope.covers_area_path(&area.path) {
        return Err(
            FieldError::new("field.village", "error.village_outside_scope")
                .arg("name", &area.name)
                .into(),
        );
    }
    Ok(area)
}

fn check_helper(conn: &mut DbConn, helper_id: &str) -> Result<(), HouseholdError> {
    let role: Option<String> = users::table
        .find(helper_id)
        .select(users::role)
        .first(conn)
        .optional()?;
    match role.as_deref() {
        Some("official") | Some("admin") => Ok(()),
        _ => Err(FieldError::new("field.helper", "error.helper_unknown").into()),
    }
}

/// Households with their village, helper and live card: the one source a
/// `HouseholdRow` is read from (select `row_columns!()`, load `RowTuple`,
/// make rows with `to_row`).
macro_rules! household_rows {
    () => {
        households::table
            .inner_join(areas_t::table)
            .left_join(users::table)
            .left_join(
                points_cards::table.on(points_cards::household_id
                    .eq(households::id)
                    .and(points_cards::replaced_by.is_null())),
            )
    };
}
pub(crate) use household_rows;

/// The columns of a `HouseholdRow`, from `household_rows!()`.
macro_rules! row_columns {
    () => {
        (
            Household::as_select(),
            areas_t::name,
            areas_t::path,
            users::username.nullable(),
            users::display_name.nullable(),
            points_cards::card_no.nullable(),
        )
    };
}
pub(crate) use row_columns;

/// What `row_columns!()` loads: the household, its village's name and path,
/// its helper's username and display name, its live card.
pub(crate) type RowTuple = (
    Household,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A household by id, with its area path, if the actor may see households
/// and their scope covers this one.
///
/// Errors: `NotFound` for an unknown id, `Forbidden` for a role without
/// `ViewHouseholds` or a household outside the actor's scope.
pub fn find(conn: &mut DbConn, actor: &Actor, id: &str) -> Result<HouseholdRow, HouseholdError> {
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
pub(crate) fn load(conn: &mut DbConn, id: &str) -> Result<HouseholdRow, HouseholdError> {
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
fn active_with_lookup(
    conn: &mut DbConn,
    lookup: &str,
    except: Option<&str>,
) -> QueryResult<Option<(String, String, String)>> {
    let mut q = households::table
        .inner_join(areas_t::table)
        .filter(households::id_lookup.eq(lookup.to_string()))
        .filter(households::archived.eq(false))
        .into_boxed();
    if let Some(e) = except {
        q = q.filter(households::id.ne(e.to_string()));
    }
    q.select((households::id, households::head_name, areas_t::path))
        .first(conn)
        .optional()
}

/// The refusal of an ID number already registered. Inside the caller's
/// scope it names the household; outside, it says nothing about it (not
/// even that it is "elsewhere"): an administrator must look, and
/// [`audit_conflict`] tells them where.
fn duplicate_error(scope: &Scope, name: &str, path: &str) -> HouseholdError {
    if scope.covers_area_path(path) {
        FieldError::conflict(
            "field.id_number",
            "error.id_taken",
            crate::domain::Conflict::Taken,
        )
        .arg("name", name)
        .into()
    } else {
        FieldError::conflict(
            "field.id_number",
            "error.id_needs_admin",
            crate::domain::Conflict::Taken,
        )
        .into()
    }
}

/// Record, for the administrators (in the audit log), that someone entered
/// an ID number registered to household `other_id` outside their scope.
fn audit_conflict(
    conn: &mut DbConn,
    ctx: &AuditCtx,
    other_id: &str,
    what: &str,
) -> QueryResult<()> {
    audit::record(
        conn,
        ctx,
        "household.id_conflict",
        "household",
        other_id,
        &format!(
            "{what}: the ID number is registered to this household, outside the user's scope; an administrator must check it"
        ),
    )
}

/// Issue a new card number that is not in use.
/// Each card gets a 6-digit PIN, printed on it; the household types it with
/// the card number to read its balance. Kept encrypted (a hash of six digits
/// would be undone by trying them all), so the card can be printed again.
fn new_card(
    conn: &mut DbConn,
    key: &DataKey,
    household_id: &str,
    by: &str,
    now: NaiveDateTime,
) -> QueryResult<CardNo> {
    loop {
        let card = CardNo::generate();
        let taken: i64 = points_cards::table
            .find(card.as_str())
            .count()
            .get_result(conn)?;
        if taken > 0 {
            continue;
        }
        diesel::insert_into(points_cards::table)
            .values((
                points_cards::card_no.eq(card.as_str()),
                points_cards::household_id.eq(household_id),
                points_cards::issued_at.eq(now),
                points_cards::issued_by.eq(by),
                points_cards::pin_cipher.eq(key.encrypt(&new_pin())),
            ))
            .execute(conn)?;
        return Ok(card);
    }
}

fn record_status(
    conn: &mut DbConn,
    ctx: &AuditCtx,
    household_id: &str,
    from: Option<&str>,
    to: &str,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(hist::table)
        .values((
            hist::id.eq(db::new_id()),
            hist::household_id.eq(household_id),
            hist::at.eq(now),
            hist::user_id.eq(&ctx.user_id),
            hist::username.eq(&ctx.username),
            hist::from_status.eq(from),
            hist::to_status.eq(to),
            hist::reason.eq(reason),
        ))
        .execute(conn)?;
    Ok(())
}

/// Register a household and issue its card, in one transaction.
pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    input: &HouseholdInput,
) -> Result<(String, CardNo), HouseholdError> {
    actor.require(Action::EditHouseholds)?;
    let ctx = &actor.audit();
    let scope = &actor.scope;
    let id_number = input
        .id_number
        .as_ref()
        .ok_or(FieldError::new("field.id_number", "error.required"))?;
    let lookup = key.lookup("id", id_number.expose());
    let id_cipher = key.encrypt(id_number.expose());
    let (phone_cipher, phone_masked) = match &input.phone {
        Some(p) => (key.encrypt(p.expose()), p.masked()),
        None => (String::new(), String::new()),
    };
    let mut conflict: Option<String> = None;
    let result = db::write_tx(conn, |c| {
        if let Some((other, name, path)) = active_with_lookup(c, &lookup, None)? {
            if !scope.covers_area_path(&path) {
                conflict = Some(other);
            }
            return Err(duplicate_error(scope, &name, &path));
        }
        let id = db::new_id();
        let now = db::now();
        insert_household(
            c,
            ctx,
            &id,
            input,
            &id_cipher,
            &lookup,
            id_number,
            &phone_cipher,
            &phone_masked,
            now,
        )?;
        let card = new_card(c, key, &id, &ctx.username, now)?;
        record_status(
            c,
            ctx,
            &id,
            None,
            input.status.as_str(),
            &input.status_reason,
            now,
        )?;
        audit::record(
            c,
            ctx,
            "household.create",
            "household",
            &id,
            &format!("{} {}", input.head_name, id_number.masked()),
        )?;
        Ok((id, card))
    });
    if let Some(other) = conflict {
        audit_conflict(
            conn,
            ctx,
            &other,
            &format!("register {} {}", input.head_name, id_number.masked()),
        )?;
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn insert_household(
    c: &mut DbConn,
    ctx: &AuditCtx,
    id: &str,
    input: &HouseholdInput,
    id_cipher: &str,
    lookup: &str,
    id_number: &IdNumber,
    phone_cipher: &str,
    phone_masked: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let k = crate::domain::pinyin::keys(&input.head_name);
    diesel::insert_into(households::table)
        .values((
            households::id.eq(id),
            households::head_name.eq(&input.head_name),
            households::head_pinyin.eq(&k.full),
            households::head_initials.eq(&k.initials),
            households::id_cipher.eq(id_cipher),
            households::id_lookup.eq(lookup),
            households::id_masked.eq(id_number.masked()),
            households::id_last4.eq(id_number.last4()),
            households::phone_cipher.eq(phone_cipher),
            households::phone_masked.eq(phone_masked),
            households::area_id.eq(&input.area_id),
            households::address.eq(&input.address),
            households::members.eq(input.members),
            households::status.eq(input.status.as_str()),
            households::helper_id.eq(&input.helper_id),
            households::notes.eq(&input.notes),
            households::archived.eq(false),
            households::created_at.eq(now),
            households::created_by.eq(&ctx.username),
            households::updated_at.eq(now),
            households::updated_by.eq(&ctx.username),
        ))
        .execute(c)?;
    Ok(())
}

/// What changed between the stored household and the input (names of
/// fields only: values of personal data never go to the audit log).
fn changes(
    h: &Household,
    input: &HouseholdInput,
    new_lookup: Option<&str>,
    new_phone_masked: Option<&str>,
) -> Vec<&'static str> {
    let mut out = Vec::new();
    if h.head_name != input.head_name {
        out.push("head_name");
    }
    if new_lookup.is_some_and(|l| l != h.id_lookup) {
        out.push("id_number");
    }
    if new_phone_masked.is_some_and(|p| p != h.phone_masked) {
        out.push("phone");
    }
    if h.area_id != input.area_id {
        out.push("village");
    }
    if h.address != input.address {
        out.push("address");
    }
    if h.members != input.members {
        out.push("members");
    }
    if h.status != input.status.as_str() {
        out.push("status");
    }
    if h.helper_id != input.helper_id {
        out.push("helper");
    }
    if h.notes != input.notes {
        out.push("notes");
    }
    out
}

/// Update a household. A change of status needs a reason and is kept in the
/// status history. Returns the names of the fields that changed.
pub fn update(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    id: &str,
    input: &HouseholdInput,
    today: chrono::NaiveDate,
) -> Result<Vec<&'static str>, HouseholdError> {
    actor.require(Action::EditHouseholds)?;
    let ctx = &actor.audit();
    let scope = &actor.scope;
    let new_id = input.id_number.as_ref().map(|n| {
        (
            key.lookup("id", n.expose()),
            key.encrypt(n.expose()),
            n.masked(),
            n.last4().to_string(),
        )
    });
    let new_phone = input
        .phone
        .as_ref()
        .map(|p| (key.encrypt(p.expose()), p.masked()));
    let mut conflict: Option<String> = None;
    let result = db::write_tx(conn, |c| {
        let row = find(c, actor, id)?;
        let h = &row.household;
        if h.archived {
            return Err(FieldError::new("field.household", "error.household_archived").into());
        }
        let changed = changes(
            h,
            input,
            new_id.as_ref().map(|x| x.0.as_str()),
            new_phone.as_ref().map(|x| x.1.as_str()),
        );
        if changed.is_empty() {
            return Ok(changed);
        }
        if changed.contains(&"status") && input.status_reason.is_empty() {
            return Err(
                FieldError::new("field.status_reason", "error.status_reason_required").into(),
            );
        }
        if let Some((lookup, ..)) = &new_id
            && let Some((other, name, path)) = active_with_lookup(c, lookup, Some(id))?
        {
            if !scope.covers_area_path(&path) {
                conflict = Some(other);
            }
            return Err(duplicate_error(scope, &name, &path));
        }
        let now = db::now();
        if h.area_id != input.area_id {
            crate::ledger::totals::record_move(c, id, &h.area_id, &input.area_id, today)?;
        }
        let k = crate::domain::pinyin::keys(&input.head_name);
        diesel::update(households::table.find(id))
            .set((
                households::head_name.eq(&input.head_name),
                households::head_pinyin.eq(&k.full),
                households::head_initials.eq(&k.initials),
                households::area_id.eq(&input.area_id),
                households::address.eq(&input.address),
                households::members.eq(input.members),
                households::status.eq(input.status.as_str()),
                households::helper_id.eq(&input.helper_id),
                households::notes.eq(&input.notes),
                households::updated_at.eq(now),
                households::updated_by.eq(&ctx.username),
            ))
            .execute(c)?;
        if let Some((lookup, cipher, masked, last4)) = &new_id {
            diesel::update(households::table.find(id))
                .set((
                    households::id_lookup.eq(lookup),
                    households::id_cipher.eq(cipher),
                    households::id_masked.eq(masked),
                    households::id_last4.eq(last4),
                ))
                .execute(c)?;
        }
        if let Some((cipher, masked)) = &new_phone {
            diesel::update(households::table.find(id))
                .set((
                    households::phone_cipher.eq(cipher),
                    households::phone_masked.eq(masked),
                ))
                .execute(c)?;
        }
        if changed.contains(&"status") {
            record_status(
                c,
                ctx,
                id,
                Some(&h.status),
                input.status.as_str(),
                &input.status_reason,
                now,
            )?;
        }
        audit::record(
            c,
            ctx,
            "household.update",
            "household",
            id,
            &format!("{}: {}", input.head_name, changed.join(", ")),
        )?;
        Ok(changed)
    });
    if let Some(other) = conflict {
        audit_conflict(
            conn,
            ctx,
            &other,
            &format!("change household {id} to an ID number"),
        )?;
    }
    result
}

/// Archive (or restore) a household. Archived households earn and spend
/// nothing; they are never deleted once anything refers to them.
pub fn set_archived(
    conn: &mut DbConn,
    actor: &Actor,
    id: &str,
    archived: bool,
    reason: &str,
) -> Result<HouseholdRow, HouseholdError> {
    actor.require(Action::EditHouseholds)?;
    let ctx = &actor.audit();
    let scope = &actor.scope;
    let reason = parse_optional_text("field.reason", reason, 200)?;
    if archived && reason.is_empty() {
        return Err(FieldError::new("field.reason", "error.required").into());
    }
    db::write_tx(conn, |c| {
        let row = find(c, actor, id)?;
        let already = || {
            FieldError::new(
                "field.household",
                if archived {
                    "error.household_already_archived"
                } else {
                    "error.household_not_archived"
                },
            )
            .arg("name", &row.household.head_name)
        };
        if row.household.archived == archived {
            return Err(already().into());
        }
        if !archived && retention::is_erased(&row.household.id_lookup) {
            return Err(FieldError::new("field.household", "error.household_erased").into());
        }
        if !archived
            && let Some((_, name, path)) =
                active_with_lookup(c, &row.household.id_lookup, Some(id))?
        {
            return Err(duplicate_error(scope, &name, &path));
        }
        let now = db::now();
        // Guarded on the state read: of two people archiving (or restoring)
        // at once, one does it and the other is told.
        let n = diesel::update(
            households::table
                .find(id)
                .filter(households::archived.eq(!archived)),
        )
        .set((
            households::archived.eq(archived),
            households::archived_at.eq(archived.then_some(now)),
            households::updated_at.eq(now),
            households::updated_by.eq(&ctx.username),
        ))
        .execute(c)?;
        if n == 0 {
            return Err(already().into());
        }
        let action = if archived {
            "household.archive"
        } else {
            "household.restore"
        };
        audit::record(
            c,
            ctx,
            action,
            "household",
            id,
            &format!("{}: {reason}", row.household.head_name),
        )?;
        find(c, actor, id)
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    IdNumber,
    Phone,
}

/// The full ID number or phone, for someone allowed to see it; every reveal
/// is audited.
pub fn reveal(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    id: &str,
    what: Secret,
) -> Result<String, HouseholdError> {
    actor.require(Action::RevealPersonalData)?;
    let ctx = &actor.audit();
    db::write_tx(conn, |c| {
        let row = find(c, actor, id)?;
        let (cipher, name) = match what {
            Secret::IdNumber => (&row.household.id_cipher, "id_number"),
            Secret::Phone => (&row.household.phone_cipher, "phone"),
        };
        let plain = if cipher.is_empty() {
            String::new()
        } else {
            key.decrypt(cipher).ok_or_else(|| {
                HouseholdError::Db(diesel::result::Error::DeserializationError(
                    "cannot decrypt with this data key".into(),
                ))
            })?
        };
        audit::record(c, ctx, "household.reveal", "household", id, name)?;
        Ok(plain)
    })
}

/// A card number as typed at a counter or in a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardLookup {
    Current { household_id: String },
    Replaced { by: String },
    Unknown,
}

pub fn lookup_card(conn: &mut DbConn, card: &CardNo) -> QueryResult<CardLookup> {
    let found: Option<(String, Option<String>)> = points_cards::table
        .find(card.as_str())
        .select((points_cards::household_id, points_cards::replaced_by))
        .first(conn)
        .optional()?;
    Ok(match found {
        None => CardLookup::Unknown,
        Some((household_id, None)) => CardLookup::Current { household_id },
        Some((_, Some(by))) => {
            // Follow the chain to the card in use now.
            let mut current = by;
            for _ in 0..100 {
                let next: Option<Option<String>> = points_cards::table
                    .find(&current)
                    .select(points_cards::replaced_by)
                    .first(conn)
                    .optional()?;
                match next {
                    Some(Some(n)) => current = n,
                    _ => break,
                }
            }
            CardLookup::Replaced { by: current }
        }
    })
}

/// Replace a lost card: the old number stops working and says what replaced it.
/// `seen` is the card the person saw on the page (when the form carried
/// it): if that card is no longer current, someone replaced it meanwhile
/// and the request is refused (`error.card_already_reissued`), so two
/// people pressing "reissue" issue one new card, not two.
pub fn reissue_card(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    id: &str,
    seen: Option<&str>,
) -> Result<CardNo, HouseholdError> {
    actor.require(Action::EditHouseholds)?;
    let ctx = &actor.audit();
    db::write_tx(conn, |c| {
        let row = find(c, actor, id)?;
        if row.household.archived {
            return Err(FieldError::new("field.household", "error.household_archived").into());
        }
        if seen.is_some_and(|s| Some(s) != row.card_no.as_deref()) {
            return Err(FieldError::new("field.card_no", "error.card_already_reissued").into());
        }
        let now = db::now();
        // The new card must exist before the old one can point at it, and only
        // one card may be current: retire the old one first, then issue.
        let old = row.card_no.clone();
        if let Some(old) = &old {
            // Guarded on the card still being current: of two people
            // reissuing at once, one issues the new card, the other is told.
            let n = diesel::update(
                points_cards::table
                    .find(old)
                    .filter(points_cards::replaced_by.is_null()),
            )
            .set((
                points_cards::replaced_by.eq(""),
                points_cards::replaced_at.eq(now),
            ))
            .execute(c)?;
            if n == 0 {
                return Err(FieldError::new("field.card_no", "error.card_already_reissued").into());
            }
        }
        let card = new_card(c, key, id, &ctx.username, now)?;
        if let Some(old) = &old {
            diesel::update(points_cards::table.find(old))
                .set(points_cards::replaced_by.eq(card.as_str()))
                .execute(c)?;
        }
        // A lost card's page closes with it.
        crate::window::end_sessions(c, id)?;
        audit::record(
            c,
            ctx,
            "household.card_reissue",
            "household",
            id,
            &format!("{} -> {}", old.unwrap_or_default(), card.as_str()),
        )?;
        Ok(card)
    })
}

/// Six random digits.
pub fn new_pin() -> String {
    use rand::Rng;
    format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32))
}

/// The PIN printed on a card, if it has one (cards issued before PINs
/// existed get one when they are reissued).
pub fn card_pin(conn: &mut DbConn, key: &DataKey, card_no: &str) -> QueryResult<Option<String>> {
    let cipher: Option<Option<String>> = points_cards::table
        .find(card_no)
        .select(points_cards::pin_cipher)
        .first(conn)
        .optional()?;
    Ok(cipher.flatten().and_then(|c| key.decrypt(&c)))
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

pub fn status_history(conn: &mut DbConn, id: &str) -> QueryResult<Vec<StatusChange>> {
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
pub fn old_cards(conn: &mut DbConn, id: &str) -> QueryResult<Vec<(String, Option<NaiveDateTime>)>> {
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
    let names = areas::InContext::load(conn, scope, villages.iter().map(|v| v.path.as_str()))?;
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
        rows.iter().map(|r| r.area_path.as_str()),
    )?;
    for r in rows {
        r.village = names.name(&r.village, &r.area_path);
    }
    Ok(())
}

/// Officials (and admins) who can be assigned as helpers: (id, name).
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
        .filter(|(_, _, _, path)| match (scope, path) {
            (Scope::All, _) => true,
            // Helpers working in this scope, or above it.
            (Scope::Area { path: mine, .. }, Some(p)) => {
                p.starts_with(mine.as_str()) || mine.starts_with(p.as_str())
            }
            _ => false,
        })
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

/// Households with their current cards, for printing a sheet of cards.
pub fn cards_for(
    conn: &mut DbConn,
    actor: &Actor,
    filter: &ListFilter,
    page: i64,
) -> Result<(Vec<HouseholdRow>, i64), HouseholdError> {
    actor.require(Action::ViewHouseholds)?;
    list(conn, actor, filter, page, CARD_SHEET)
}

/// Cards on one printed sheet page (the rest on the next pages).
pub const CARD_SHEET: i64 = 1000;

/// Give a household's current card a new 6-digit PIN (the old one stops
/// working at once), audited as `card.pin_reset`. The household must be in
/// `scope`; a household without a current card is `Invalid` on
/// `field.card_no`. The new PIN is read back with `card_pin` when the card
/// is printed.
pub fn reset_card_pin(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    id: &str,
) -> Result<(), HouseholdError> {
    actor.require(Action::EditHouseholds)?;
    let ctx = &actor.audit();
    db::write_tx(conn, |c| {
        let row = find(c, actor, id)?;
        let Some(card) = row.card_no.clone() else {
            return Err(FieldError::new("field.card_no", "error.required").into());
        };
        let n = diesel::update(
            points_cards::table
                .find(&card)
                .filter(points_cards::replaced_by.is_null()),
        )
        .set(points_cards::pin_cipher.eq(key.encrypt(&new_pin())))
        .execute(c)?;
        if n == 0 {
            return Err(FieldError::new("field.card_no", "error.required").into());
        }
        crate::window::end_sessions(c, id)?;
        audit::record(c, ctx, "card.pin_reset", "household", id, &card)?;
        Ok(())
    })
}
