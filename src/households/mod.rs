//! Households (农户) and their points cards: registering the families,
//! keeping their personal data encrypted, finding them again.

pub mod export;
pub mod find;
pub mod import;
pub mod retention;

mod cards;
mod list;
mod register;

pub use cards::*;
pub use list::*;
pub use register::*;

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
    AreaLevel, CardNo, FieldChecks, FieldError, HouseholdId, IdNumber, Phone, parse_name,
    parse_optional_text,
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
    pub id: HouseholdId,
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
    /// Bumped by every change; an edit names the version it was made on.
    pub version: i64,
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
    /// The version of the household the edit was made on (`None`: any,
    /// for a new household or a caller that did not say).
    pub seen_version: Option<i64>,
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
    /// The household's version when the edit form was opened.
    #[serde(default)]
    pub version: String,
    /// The phone the edit form showed when opened, masked (its
    /// `phone_masked`), so that a stale save can say it changed meanwhile;
    /// `None` from a caller that does not say.
    #[serde(default, rename = "seen.phone")]
    pub seen_phone: Option<String>,
    /// The ID number the edit form showed when opened, masked (its
    /// `id_masked`), as `seen_phone`.
    #[serde(default, rename = "seen.id_number")]
    pub seen_id_number: Option<String>,
    /// What the edit form showed in each field when opened (`seen.head_name`
    /// ...), so that a stale save says beside each field what someone
    /// else saved meanwhile, never the person's own change; `None` from a
    /// caller that does not say.
    #[serde(default, rename = "seen.head_name")]
    pub seen_head_name: Option<String>,
    #[serde(default, rename = "seen.area_id")]
    pub seen_area_id: Option<String>,
    #[serde(default, rename = "seen.address")]
    pub seen_address: Option<String>,
    #[serde(default, rename = "seen.members")]
    pub seen_members: Option<String>,
    #[serde(default, rename = "seen.status")]
    pub seen_status: Option<String>,
    #[serde(default, rename = "seen.helper_id")]
    pub seen_helper_id: Option<String>,
    #[serde(default, rename = "seen.notes")]
    pub seen_notes: Option<String>,
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

/// Parse the form of a new household (`editing` None), which needs an ID
/// number, or of an edit of `editing`, which may leave ID and phone empty
/// to keep them. A helper the person may not assign is refused, naming the
/// field; one they could not see or change (assigned from above their
/// scope) is kept. An ID number already registered to another active
/// household is refused with the other fields' errors (`error.id_taken`,
/// or `error.id_registered_elsewhere` outside the actor's scope, which the audit
/// log records for the administrators), read by its keyed hash (`key`).
pub fn parse_form(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    f: &HouseholdForm,
    editing: Option<&Household>,
) -> Result<HouseholdInput, HouseholdError> {
    actor.require(Action::EditHouseholds)?;
    let scope = &actor.scope;
    let new = editing.is_none();
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
    // An ID number already registered is said with the other errors, not
    // only once they are mended (`create` and `update` check it again).
    if let Some(id) = &id_number {
        let lookup = key.lookup("id", id.expose());
        if let Some((other, name, path)) =
            active_with_lookup(conn, &lookup, editing.map(|h| &h.id))?
        {
            checks.push(duplicate_error(scope, &name, &path));
            if !scope.covers_area_path(&path) {
                let typed: String = f.head_name.trim().chars().take(40).collect();
                let what = match editing {
                    None => audit::Detail::new("id_conflict_register")
                        .arg("name", &typed)
                        .arg("id", id.masked()),
                    Some(_) => audit::Detail::new("id_conflict_change").arg("name", &typed),
                };
                audit_conflict(conn, &actor.audit(), &other, what)?;
            }
        }
    }
    let phone = if f.phone.trim().is_empty() {
        None
    } else {
        checks.take(Phone::parse("field.phone", &f.phone))
    };
    let area_id = f.area_id.trim().to_string();
    if area_id.is_empty() {
        checks.push(FieldError::new("field.village", "error.required"));
    } else {
        match check_village(conn, scope, actor.lang, &area_id) {
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
    let posted = Some(f.helper_id.trim().to_string()).filter(|s| !s.is_empty());
    let stored = editing.and_then(|h| h.helper_id.as_deref());
    let helper_id = match settle_helper(conn, actor, stored, posted) {
        Ok(h) => h,
        Err(HouseholdError::Invalid(e)) => {
            checks.push(e);
            None
        }
        Err(e) => return Err(e),
    };
    let seen_version = if f.version.trim().is_empty() {
        None
    } else {
        checks.take(
            f.version
                .trim()
                .parse()
                .map_err(|_| FieldError::new("field.seen_version", "error.seen_version_missing")),
        )
    };
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
    // A change of status needs its reason, said with the other errors
    // (`update` checks it again against the household as saved).
    if let Some(h) = editing
        && status.as_str() != h.status
        && status_reason.is_empty()
        && !checks.has("field.status_reason")
    {
        checks.push(FieldError::new(
            "field.status_reason",
            "error.status_reason_required",
        ));
    }
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
        seen_version,
    })
}

/// The area must be a village inside the user's scope. A village outside it
/// is named (with its town) in `lang`, the reader's.
pub fn check_village(
    conn: &mut DbConn,
    scope: &Scope,
    lang: crate::i18n::Lang,
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
                .arg("name", areas::full_name(conn, &area, lang)?)
                .into(),
        );
    }
    Ok(area)
}

/// Whether `actor` may assign `helper_id` as a household's helper: an
/// official or administrator working in the actor's scope or above it (the
/// helpers the form offers, [`helpers`]).
fn helper_assignable(
    conn: &mut DbConn,
    actor: &Actor,
    helper_id: &str,
) -> Result<bool, HouseholdError> {
    let found: Option<(String, Option<String>)> = users::table
        .left_join(areas_t::table)
        .filter(users::id.eq(helper_id))
        .select((users::role, areas_t::path.nullable()))
        .first(conn)
        .optional()?;
    let Some((role, path)) = found else {
        return Err(FieldError::new("field.helper", "error.helper_unknown").into());
    };
    if role != "official" && role != "admin" {
        return Err(FieldError::new("field.helper", "error.helper_unknown").into());
    }
    Ok(list::helper_in_scope(&actor.scope, path.as_deref()))
}

/// The helper a save leaves on a household: `posted` when the actor may
/// assign it (or it is the one `stored`, unchanged); the `stored` one when
/// nothing was posted and the actor could not see or change it (assigned
/// from above their scope). A helper outside the actor's scope is refused.
pub(crate) fn settle_helper(
    conn: &mut DbConn,
    actor: &Actor,
    stored: Option<&str>,
    posted: Option<String>,
) -> Result<Option<String>, HouseholdError> {
    match (stored, posted) {
        (Some(s), Some(p)) if s == p => Ok(Some(p)),
        (_, Some(p)) => {
            if helper_assignable(conn, actor, &p)? {
                Ok(Some(p))
            } else {
                Err(FieldError::new("field.helper", "error.helper_outside_scope").into())
            }
        }
        (Some(s), None) => {
            // A helper the actor may not assign was not theirs to clear.
            match helper_assignable(conn, actor, s) {
                Ok(true) | Err(HouseholdError::Invalid(_)) => Ok(None),
                Ok(false) => Ok(Some(s.to_string())),
                Err(e) => Err(e),
            }
        }
        (None, None) => Ok(None),
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
