//! Objections to the online notice (公示): a household of the village,
//! logged in with its card and PIN, objects to an entry while it is on
//! notice, with a reason. The objection waits in the reviewers' queue; while
//! it is open the award is not credited. A reviewer upholds it (the award
//! goes back into review, as `points::awards::object` does for an objection
//! taken down by an official) or dismisses it (the award stays on notice).
//! The outcome is shown on the public notice, without the objector.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::public::mask_name;
use super::{HouseholdSession, WindowError};
use crate::audit;
use crate::auth::Action;
use crate::auth::Actor;
use crate::auth::permissions::can;
use crate::db::schema::{areas, awards, households, notice_objections, rules};
use crate::db::{self, DbConn};
use crate::domain::{AwardId, FieldError, parse_optional_text};
use crate::points::PointsError;
use crate::points::awards as aw;

crate::text_enum! {
    /// Where an objection stands: open until a reviewer upholds or
    /// dismisses it.
    pub enum ObjectionStatus {
        Open = "open",
        Upheld = "upheld",
        Dismissed = "dismissed",
    }
}

/// The name the settlement of noticed awards knows the status by.
pub type Status = ObjectionStatus;

impl ObjectionStatus {
    /// The translation key of the status's label.
    pub fn label_key(self) -> &'static str {
        match self {
            ObjectionStatus::Open => "objections.status_open",
            ObjectionStatus::Upheld => "objections.status_upheld",
            ObjectionStatus::Dismissed => "objections.status_dismissed",
        }
    }
}

/// What a decision writes beside the new status.
#[derive(Debug, Clone, Copy)]
pub struct Decided<'a> {
    pub by: &'a str,
    pub note: &'a str,
}

/// The one guarded status change of an objection: one conditional update
/// on its status and the version the reviewer saw (`None`: the current
/// one). Zero rows is a refusal (`field.objection`,
/// `error.objection_decided`) saying what the objection is now.
///
/// Errors: `Invalid` as said; `NotFound` when there is no such objection.
pub fn transition(
    c: &mut DbConn,
    objection_id: &str,
    (from, version): (ObjectionStatus, i64),
    to: ObjectionStatus,
    decided: Decided<'_>,
) -> Result<(), PointsError> {
    let n = diesel::update(
        notice_objections::table
            .find(objection_id)
            .filter(notice_objections::status.eq(from))
            .filter(notice_objections::version.eq(version)),
    )
    .set((
        notice_objections::status.eq(to),
        notice_objections::decided_by.eq(decided.by),
        notice_objections::decided_at.eq(db::now()),
        notice_objections::decision_note.eq(decided.note),
        notice_objections::version.eq(notice_objections::version + 1),
    ))
    .execute(c)?;
    if n == 0 {
        let now: ObjectionStatus = notice_objections::table
            .find(objection_id)
            .select(notice_objections::status)
            .first(c)
            .optional()?
            .ok_or(PointsError::NotFound)?;
        // Still {from}: only its version moved on (it was changed, not
        // decided), so the refusal does not say it was decided.
        let key = if now == from {
            "error.objection_changed"
        } else {
            "error.objection_decided"
        };
        return Err(
            FieldError::conflict("field.objection", key, crate::domain::Conflict::Changed)
                .arg("status", format!("@{}", now.label_key()))
                .into(),
        );
    }
    Ok(())
}

/// The area (village) a household is registered in.
fn village_of(c: &mut DbConn, household_id: &str) -> QueryResult<String> {
    households::table
        .find(household_id)
        .select(households::area_id)
        .first(c)
}

/// An entry of the household's village that is on notice now, as the
/// household sees it: masked name, rule, points, and its own objection.
#[derive(Debug, Clone)]
pub struct OnNotice {
    pub award_id: String,
    pub name: String,
    pub rule: String,
    pub occurred_on: NaiveDate,
    pub points: i64,
    pub notice_until: Option<NaiveDate>,
    /// The status of this household's objection to it, if it made one.
    pub mine: Option<ObjectionStatus>,
}

impl OnNotice {
    pub fn mine_key(&self) -> &'static str {
        self.mine.map_or("", ObjectionStatus::label_key)
    }
}

/// The entries of the household's village on notice on `today` (other
/// households' only), oldest first.
pub fn on_notice_for(
    c: &mut DbConn,
    s: &HouseholdSession,
    today: NaiveDate,
) -> QueryResult<Vec<OnNotice>> {
    let village = village_of(c, &s.household_id)?;
    let rows: Vec<(String, String, String, NaiveDate, i64, Option<NaiveDate>)> = awards::table
        .inner_join(households::table)
        .inner_join(rules::table)
        .filter(households::area_id.eq(&village))
        .filter(households::id.ne(&s.household_id))
        .filter(awards::status.eq(aw::AwardStatus::Noticed))
        .filter(awards::notice_until.ge(today))
        .order((awards::occurred_on.asc(), awards::id.asc()))
        .limit(200)
        .select((
            awards::id,
            households::head_name,
            rules::name,
            awards::occurred_on,
            awards::points,
            awards::notice_until,
        ))
        .load(c)?;
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let mine: std::collections::HashMap<String, ObjectionStatus> = notice_objections::table
        .filter(notice_objections::household_id.eq(&s.household_id))
        .filter(notice_objections::award_id.eq_any(&ids))
        .select((notice_objections::award_id, notice_objections::status))
        .load::<(String, ObjectionStatus)>(c)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(
            |(award_id, name, rule, occurred_on, points, notice_until)| OnNotice {
                mine: mine.get(&award_id).cloned(),
                award_id,
                name: mask_name(&name),
                rule,
                occurred_on,
                points,
                notice_until,
            },
        )
        .collect())
}

/// A household objects to an entry of its own village's notice while the
/// entry is on notice (`today` inside the notice window). One objection per
/// household and entry: a second one (or the same form sent again) is
/// refused, telling the household the first one's status. Audited under
/// the card. Returns the objection's id.
///
/// Errors (`Field`): `field.objection` empty, too long (200) or holding
/// control characters; `field.award` when the entry is not on this
/// village's notice now (also for an unknown id: nothing tells which ids
/// exist) or is the household's own; `field.award` (`error.objection_already`,
/// with `status`) when the household has objected to it already.
pub fn object(
    c: &mut DbConn,
    s: &HouseholdSession,
    award_id: &AwardId,
    reason: &str,
    today: NaiveDate,
) -> Result<String, WindowError> {
    let reason = parse_optional_text("field.objection", reason, 200)?;
    if reason.is_empty() {
        return Err(FieldError::new("field.objection", "error.required").into());
    }
    db::write_tx(c, |c| {
        if let Some(status) = notice_objections::table
            .filter(notice_objections::award_id.eq(award_id))
            .filter(notice_objections::household_id.eq(&s.household_id))
            .select(notice_objections::status)
            .first::<ObjectionStatus>(c)
            .optional()?
        {
            return Err(FieldError::conflict(
                "field.award",
                "error.objection_already",
                crate::domain::Conflict::Taken,
            )
            .arg("status", format!("@{}", status.label_key()))
            .into());
        }
        let village = village_of(c, &s.household_id)?;
        let entry: Option<(String, String, Option<NaiveDate>)> = awards::table
            .inner_join(households::table)
            .filter(awards::id.eq(award_id))
            .filter(households::area_id.eq(&village))
            .select((awards::household_id, awards::status, awards::notice_until))
            .first(c)
            .optional()?;
        let on_notice = matches!(&entry, Some((_, status, Some(until)))
            if status == "noticed" && *until >= today);
        if !on_notice {
            return Err(FieldError::new("field.award", "error.objection_not_on_notice").into());
        }
        if entry.is_some_and(|(h, _, _)| h == s.household_id) {
            return Err(FieldError::new("field.award", "error.objection_own").into());
        }
        let id = db::new_id();
        diesel::insert_into(notice_objections::table)
            .values((
                notice_objections::id.eq(&id),
                notice_objections::award_id.eq(award_id),
                notice_objections::household_id.eq(&s.household_id),
                notice_objections::reason.eq(&reason),
                notice_objections::status.eq(ObjectionStatus::Open),
                notice_objections::created_at.eq(db::now()),
            ))
            .execute(c)
            .map_err(|e| {
                if db::is_unique_violation(&e) {
                    WindowError::Raced
                } else {
                    e.into()
                }
            })?;
        audit::record(
            c,
            &s.audit(),
            "household.objection",
            "award",
            award_id,
            &reason,
        )?;
        Ok(id)
    })
}

/// An objection as reviewers see it.
#[derive(Debug, Clone)]
pub struct Objection {
    pub id: String,
    pub award: aw::Award,
    /// The name of the household the entry is about, and its village.
    pub head_name: String,
    pub village: String,
    pub rule_name: String,
    /// The objecting household's name.
    pub objector: String,
    pub reason: String,
    pub status: ObjectionStatus,
    pub decision_note: String,
    pub created_at: NaiveDateTime,
    pub version: i64,
}

impl Objection {
    pub fn status_key(&self) -> &'static str {
        self.status.label_key()
    }
}

/// The open objections in a reviewer's area, oldest first.
///
/// Errors: `Forbidden` for a role that does not review awards, or a user
/// without an area.
pub fn queue(c: &mut DbConn, actor: &Actor, limit: i64) -> Result<Vec<Objection>, PointsError> {
    if !can(actor.role, Action::ReviewAwards) {
        return Err(PointsError::Forbidden);
    }
    let prefix = match &actor.scope {
        crate::auth::Scope::All => None,
        crate::auth::Scope::Area { path, .. } => Some(db::path_prefix(path)),
        _ => return Err(PointsError::Forbidden),
    };
    let mut q = notice_objections::table
        .inner_join(
            awards::table
                .inner_join(households::table.inner_join(areas::table))
                .inner_join(rules::table),
        )
        .filter(notice_objections::status.eq(ObjectionStatus::Open))
        .select((
            notice_objections::id,
            aw::Award::as_select(),
            households::head_name,
            (areas::name, areas::path),
            rules::name,
            notice_objections::household_id,
            notice_objections::reason,
            notice_objections::status,
            notice_objections::decision_note,
            notice_objections::created_at,
            notice_objections::version,
        ))
        .into_boxed();
    if let Some(p) = prefix {
        q = q.filter(areas::path.like(p));
    }
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        String,
        aw::Award,
        String,
        (String, String),
        String,
        String,
        String,
        ObjectionStatus,
        String,
        NaiveDateTime,
        i64,
    )> = q
        .order((
            notice_objections::created_at.asc(),
            notice_objections::id.asc(),
        ))
        .limit(limit)
        .load(c)?;
    let objector_ids: Vec<&str> = rows.iter().map(|r| r.5.as_str()).collect();
    let names: std::collections::HashMap<String, String> = households::table
        .filter(households::id.eq_any(&objector_ids))
        .select((households::id, households::head_name))
        .load::<(String, String)>(c)?
        .into_iter()
        .collect();
    // Villages told apart by their towns, for a reviewer above town level.
    let towns = crate::areas::InContext::load(
        c,
        &actor.scope,
        actor.lang,
        rows.iter().map(|r| r.3.1.as_str()),
    )?;
    Ok(rows
        .into_iter()
        .map(|r| Objection {
            objector: names.get(&r.5).cloned().unwrap_or_default(),
            village: towns.name(&r.3.0, &r.3.1),
            id: r.0,
            award: r.1,
            head_name: r.2,
            rule_name: r.4,
            reason: r.6,
            status: r.7,
            decision_note: r.8,
            created_at: r.9,
            version: r.10,
        })
        .collect())
}

/// A reviewer's decision on an objection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The objection stands: the award goes back into review.
    Uphold,
    /// The objection does not stand: the award stays on notice.
    Dismiss,
}

/// Decide an open objection, as seen at version `seen`: one conditional
/// update from `open`; a second reviewer deciding at the same time is
/// refused, told what the first decided. Upholding hands the award back to
/// review (`points::awards::object_seen`), all in one transaction; months
/// are cut in `tz`. Audited.
///
/// Errors: `Forbidden` (role or scope), `NotFound`, `Invalid` when already
/// decided (`field.objection`) or when the award left the notice meanwhile.
pub fn decide(
    c: &mut DbConn,
    actor: &Actor,
    objection_id: &str,
    decision: Decision,
    note: &str,
    seen: Option<i64>,
    tz: chrono_tz::Tz,
) -> Result<(), PointsError> {
    if !can(actor.role, Action::ReviewAwards) {
        return Err(PointsError::Forbidden);
    }
    let note = parse_optional_text("field.note", note, 200)?;
    db::write_tx(c, |c| {
        let (award_id, reason, version): (AwardId, String, i64) = notice_objections::table
            .find(objection_id)
            .select((
                notice_objections::award_id,
                notice_objections::reason,
                notice_objections::version,
            ))
            .first(c)
            .optional()?
            .ok_or(PointsError::NotFound)?;
        let award = aw::find(c, &award_id)?.ok_or(PointsError::NotFound)?;
        crate::households::find(c, actor, &award.household_id)?;
        let to = match decision {
            Decision::Uphold => ObjectionStatus::Upheld,
            Decision::Dismiss => ObjectionStatus::Dismissed,
        };
        transition(
            c,
            objection_id,
            (ObjectionStatus::Open, seen.unwrap_or(version)),
            to,
            Decided {
                by: &actor.user_id,
                note: &note,
            },
        )?;
        if decision == Decision::Uphold {
            let text: String = format!("农户异议：{reason}").chars().take(200).collect();
            aw::object_seen(c, actor, &award_id, &text, None, tz)?;
        }
        audit::record(
            c,
            &actor.audit(),
            match decision {
                Decision::Uphold => "objection.uphold",
                Decision::Dismiss => "objection.dismiss",
            },
            "award",
            &award_id,
            &note,
        )?;
        Ok(())
    })
}

/// An objection's outcome as the public notice shows it: the entry (masked)
/// and what became of the objection; never who objected or why.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub rule: String,
    pub occurred_on: NaiveDate,
    pub points: i64,
    pub status: ObjectionStatus,
}

impl Outcome {
    pub fn status_key(&self) -> &'static str {
        self.status.label_key()
    }
}

/// The objections to a village's entries for deeds in `[from, to]`.
pub fn outcomes(
    c: &mut DbConn,
    village_id: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<Outcome>> {
    let rows: Vec<(String, String, NaiveDate, i64, ObjectionStatus)> = notice_objections::table
        .inner_join(
            awards::table
                .inner_join(households::table)
                .inner_join(rules::table),
        )
        .filter(households::area_id.eq(village_id))
        .filter(awards::occurred_on.ge(from))
        .filter(awards::occurred_on.le(to))
        .order((
            awards::occurred_on.asc(),
            notice_objections::created_at.asc(),
        ))
        .select((
            households::head_name,
            rules::name,
            awards::occurred_on,
            awards::points,
            notice_objections::status,
        ))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(name, rule, occurred_on, points, status)| Outcome {
            name: mask_name(&name),
            rule,
            occurred_on,
            points,
            status,
        })
        .collect())
}

/// Erase the reasons a household gave in its objections (inside the
/// caller's transaction), as part of erasing its personal data.
pub fn erase_household(c: &mut DbConn, household_id: &str) -> QueryResult<()> {
    diesel::update(
        notice_objections::table.filter(notice_objections::household_id.eq(household_id)),
    )
    .set(notice_objections::reason.eq(""))
    .execute(c)
    .map(|_| ())
}
