//! A household reports a good deed (积分申报 by the household) from its own
//! page: a rule, the day, a note and up to three photos. The report lands in
//! the list of the officials whose area holds the household; one of them
//! turns it into a proposed award (the usual review follows, and the award
//! links back to the report) or declines it with a reason the household
//! sees. Photos are cleaned on the way in (`photo`) and deleted after the
//! retention setting (`settings::PHOTO_DAYS`).

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::photo::{self, Cleaned};
use super::{HouseholdSession, WindowError};
use crate::audit;
use crate::auth::Actor;
use crate::auth::permissions::can;
use crate::auth::{Action, Scope};
use crate::db::schema::{areas, deed_photos, deed_reports, households, rules};
use crate::db::{self, DbConn};
use crate::domain::{FieldError, HouseholdId, parse_optional_text};
use crate::idempotency::{self, IdemKey};
use crate::points::awards::{self, Proposal};
use crate::points::{PointsError, current_rule};
use crate::settings;

/// The idempotency scope of the household's report form.
const FORM_SCOPE: &str = "window.deed_report";

crate::text_enum! {
    /// Where a household's report stands: open until an official turns it
    /// into a proposed award or declines it.
    pub enum ReportStatus {
        Open = "open",
        Awarded = "awarded",
        Declined = "declined",
    }
}

impl ReportStatus {
    /// The translation key of the status's label.
    pub fn label_key(self) -> &'static str {
        match self {
            ReportStatus::Open => "deeds.status_open",
            ReportStatus::Awarded => "deeds.status_awarded",
            ReportStatus::Declined => "deeds.status_declined",
        }
    }
}

/// What the household typed, parsed: the rule's code, the day, the note.
#[derive(Debug, Clone)]
pub struct DeedInput {
    pub rule_code: String,
    pub occurred_on: NaiveDate,
    pub note: String,
}

/// Parse the report form's fields (`today` in the scheme's time zone).
///
/// Errors: `field.rule` required; `field.occurred_on` required, in the
/// future or more than a year ago; `field.note` too long (200 characters)
/// or holding control characters.
pub fn parse(
    rule_code: &str,
    occurred_on: &str,
    note: &str,
    today: NaiveDate,
) -> Result<DeedInput, FieldError> {
    let p = awards::parse_proposal(rule_code, occurred_on, note, today)?;
    Ok(DeedInput {
        rule_code: p.rule_code,
        occurred_on: p.occurred_on,
        note: parse_optional_text("field.note", note, 200)?,
    })
}

/// A report as lists show it.
#[derive(Debug, Clone)]
pub struct Report {
    pub id: String,
    pub household_id: HouseholdId,
    /// The head of household's name (masked on the household's own page).
    pub head_name: String,
    /// The household's village, with its town for a viewer above town
    /// level (`areas::InContext`).
    pub village: String,
    /// The village's area path.
    pub area_path: String,
    pub rule_code: String,
    pub rule_name: String,
    pub points: i64,
    pub occurred_on: NaiveDate,
    pub note: String,
    pub status: ReportStatus,
    pub decline_reason: String,
    pub award_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub version: i64,
    /// The ids of its photos still kept, in the order sent.
    pub photos: Vec<String>,
}

impl Report {
    pub fn status_key(&self) -> &'static str {
        self.status.label_key()
    }

    pub fn is_open(&self) -> bool {
        self.status == ReportStatus::Open
    }
}

type ReportTuple = (
    String,
    HouseholdId,
    String,
    (String, String),
    String,
    String,
    i64,
    NaiveDate,
    String,
    ReportStatus,
    String,
    Option<String>,
    NaiveDateTime,
    i64,
);

macro_rules! report_rows {
    () => {
        deed_reports::table
            .inner_join(households::table.inner_join(areas::table))
            .inner_join(rules::table)
            .select((
                deed_reports::id,
                deed_reports::household_id,
                households::head_name,
                (areas::name, areas::path),
                deed_reports::rule_code,
                rules::name,
                rules::points,
                deed_reports::occurred_on,
                deed_reports::note,
                deed_reports::status,
                deed_reports::decline_reason,
                deed_reports::award_id,
                deed_reports::created_at,
                deed_reports::version,
            ))
            .into_boxed()
    };
}

fn with_photos(c: &mut DbConn, rows: Vec<ReportTuple>) -> QueryResult<Vec<Report>> {
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let mut photos: std::collections::HashMap<String, Vec<String>> = Default::default();
    for (report, id) in deed_photos::table
        .filter(deed_photos::report_id.eq_any(&ids))
        .order((deed_photos::report_id, deed_photos::position))
        .select((deed_photos::report_id, deed_photos::id))
        .load::<(String, String)>(c)?
    {
        photos.entry(report).or_default().push(id);
    }
    Ok(rows
        .into_iter()
        .map(|r| Report {
            photos: photos.remove(&r.0).unwrap_or_default(),
            id: r.0,
            household_id: r.1,
            head_name: r.2,
            village: r.3.0,
            area_path: r.3.1,
            rule_code: r.4,
            rule_name: r.5,
            points: r.6,
            occurred_on: r.7,
            note: r.8,
            status: r.9,
            decline_reason: r.10,
            award_id: r.11,
            created_at: r.12,
            version: r.13,
        })
        .collect())
}

/// How many deeds one household may report in 24 hours: enough for any
/// real week of good deeds, too few to flood the officials' list.
pub const MAX_REPORTS_PER_DAY: i64 = 10;

/// The household reports a deed, with its cleaned photos. A form sent twice
/// (the same key) reports once; returns the report's id and whether this was
/// a replay. Audited under the card.
///
/// Errors: `Field` for a rule that is unknown, inactive or a deduction
/// (`field.rule`), a reused form key (`field.form`), too many reports in a
/// day (`field.report`); `Db`.
pub fn report(
    c: &mut DbConn,
    s: &HouseholdSession,
    input: &DeedInput,
    photos: &[Cleaned],
    key: &IdemKey,
) -> Result<(String, bool), WindowError> {
    if photos.len() > photo::MAX_PHOTOS {
        return Err(FieldError::new("field.photo", "error.photo_count")
            .arg("max", photo::MAX_PHOTOS)
            .into());
    }
    let mut parts: Vec<String> = vec![
        input.rule_code.clone(),
        input.occurred_on.to_string(),
        input.note.clone(),
    ];
    parts.extend(
        photos
            .iter()
            .map(|p| idempotency::fingerprint(&[&hex::encode(&p.jpeg[..p.jpeg.len().min(4096)])])),
    );
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    let fingerprint = idempotency::fingerprint(&refs);
    let who = format!("card:{}", s.card_no);
    db::write_tx(c, |c| {
        if let Some(id) = idempotency::lookup(c, key, FORM_SCOPE, &who, &fingerprint)? {
            return Ok((id, true));
        }
        // The household's row first, so that its parallel reports are
        // counted one after the other (PostgreSQL; SQLite writes serially).
        diesel::update(households::table.find(&s.household_id))
            .set(households::honour_opt_out.eq(households::honour_opt_out))
            .execute(c)?;
        let since = db::now() - chrono::Duration::hours(24);
        let recent: i64 = deed_reports::table
            .filter(deed_reports::household_id.eq(&s.household_id))
            .filter(deed_reports::created_at.ge(since))
            .count()
            .get_result(c)?;
        if recent >= MAX_REPORTS_PER_DAY {
            return Err(FieldError::new("field.report", "error.reports_per_day")
                .arg("n", MAX_REPORTS_PER_DAY)
                .into());
        }
        let rule = current_rule(c, &input.rule_code)?
            .filter(|r| r.active && r.points > 0 && r.valid_on(input.occurred_on))
            .ok_or(FieldError::new("field.rule", "error.rule_unknown"))?;
        let id = db::new_id();
        diesel::insert_into(deed_reports::table)
            .values((
                deed_reports::id.eq(&id),
                deed_reports::household_id.eq(&s.household_id),
                deed_reports::card_no.eq(&s.card_no),
                deed_reports::rule_id.eq(&rule.id),
                deed_reports::rule_code.eq(&rule.code),
                deed_reports::occurred_on.eq(input.occurred_on),
                deed_reports::note.eq(&input.note),
                deed_reports::status.eq(ReportStatus::Open),
                deed_reports::created_at.eq(db::now()),
            ))
            .execute(c)?;
        for (i, p) in photos.iter().enumerate() {
            diesel::insert_into(deed_photos::table)
                .values((
                    deed_photos::id.eq(db::new_id()),
                    deed_photos::report_id.eq(&id),
                    deed_photos::position.eq(i as i64),
                    deed_photos::width.eq(i64::from(p.width)),
                    deed_photos::height.eq(i64::from(p.height)),
                    deed_photos::jpeg.eq(&p.jpeg),
                ))
                .execute(c)?;
        }
        audit::record(
            c,
            &s.audit(),
            "household.deed_report",
            "deed_report",
            &id,
            &audit::Detail::new("deed_report")
                .arg("rule", &rule.code)
                .arg("day", input.occurred_on)
                .arg("photos", photos.len())
                .to_string(),
        )?;
        idempotency::store(c, key, FORM_SCOPE, &who, &fingerprint, &id)?;
        Ok((id, false))
    })
}

/// The household's own reports, newest first (at most 20).
pub fn of_household(c: &mut DbConn, household_id: &HouseholdId) -> QueryResult<Vec<Report>> {
    let rows = report_rows!()
        .filter(deed_reports::household_id.eq(household_id))
        .order((deed_reports::created_at.desc(), deed_reports::id.desc()))
        .limit(20)
        .load::<ReportTuple>(c)?;
    with_photos(c, rows)
}

fn scope_prefix(scope: &Scope) -> Result<Option<String>, PointsError> {
    match scope {
        Scope::All => Ok(None),
        Scope::Area { path, .. } => Ok(Some(db::path_prefix(path))),
        _ => Err(PointsError::Forbidden),
    }
}

/// The reports of the households in an official's area: open ones first
/// (oldest first), then the latest decided ones.
///
/// Errors: `Forbidden` for a role that may not propose awards or a user
/// without an area.
pub fn for_officials(
    c: &mut DbConn,
    actor: &Actor,
    limit: i64,
) -> Result<Vec<Report>, PointsError> {
    if !can(actor.role, Action::ProposeAwards) {
        return Err(PointsError::Forbidden);
    }
    let prefix = scope_prefix(&actor.scope)?;
    let mut open = report_rows!().filter(deed_reports::status.eq(ReportStatus::Open));
    if let Some(p) = &prefix {
        open = open.filter(areas::path.like(p.clone()));
    }
    let mut rows = open
        .order((deed_reports::created_at.asc(), deed_reports::id.asc()))
        .limit(limit)
        .load::<ReportTuple>(c)?;
    let mut decided = report_rows!().filter(deed_reports::status.ne(ReportStatus::Open));
    if let Some(p) = &prefix {
        decided = decided.filter(areas::path.like(p.clone()));
    }
    rows.extend(
        decided
            .order((deed_reports::created_at.desc(), deed_reports::id.desc()))
            .limit(50)
            .load::<ReportTuple>(c)?,
    );
    let mut reports = with_photos(c, rows)?;
    crate::areas::InContext::name_rows(c, &actor.scope, actor.lang, &mut reports, |r| {
        (&mut r.village, r.area_path.as_str())
    })?;
    Ok(reports)
}

/// One report, for someone whose scope holds its household.
///
/// Errors: `NotFound`; `Forbidden` outside the actor's scope.
pub fn find(c: &mut DbConn, actor: &Actor, id: &str) -> Result<Report, PointsError> {
    let row = report_rows!()
        .filter(deed_reports::id.eq(id))
        .first::<ReportTuple>(c)
        .optional()?
        .ok_or(PointsError::NotFound)?;
    crate::households::find(c, actor, &row.1)?;
    Ok(with_photos(c, vec![row])?.remove(0))
}

/// What a decision writes beside the new status.
#[derive(Debug, Clone, Copy)]
pub struct Decided<'a> {
    pub by: &'a str,
    /// The reason the household sees (empty when awarded).
    pub reason: &'a str,
}

/// The one guarded status change of a report: one conditional update on its
/// status and the version the official saw. Zero rows is a refusal
/// (`field.report`, `error.report_decided`) saying what the report is now.
///
/// Errors: `Invalid` as said; `NotFound` when there is no such report.
pub fn transition(
    c: &mut DbConn,
    report_id: &str,
    (from, version): (ReportStatus, i64),
    to: ReportStatus,
    decided: Decided<'_>,
) -> Result<(), PointsError> {
    let n = diesel::update(
        deed_reports::table
            .find(report_id)
            .filter(deed_reports::status.eq(from))
            .filter(deed_reports::version.eq(version)),
    )
    .set((
        deed_reports::status.eq(to),
        deed_reports::decided_by.eq(decided.by),
        deed_reports::decided_at.eq(db::now()),
        deed_reports::decline_reason.eq(decided.reason),
        deed_reports::version.eq(deed_reports::version + 1),
    ))
    .execute(c)?;
    if n == 0 {
        let now: ReportStatus = deed_reports::table
            .find(report_id)
            .select(deed_reports::status)
            .first(c)
            .optional()?
            .ok_or(PointsError::NotFound)?;
        // Still {from}: only its version moved on (it was changed, not
        // decided), so the refusal does not say it was decided.
        let key = if now == from {
            "error.report_changed"
        } else {
            "error.report_decided"
        };
        return Err(
            FieldError::conflict("field.report", key, crate::domain::Conflict::Changed)
                .arg("status", format!("@{}", now.label_key()))
                .into(),
        );
    }
    Ok(())
}

/// An official turns an open report into a proposed award for the same
/// household, rule and day (the note says it came from the household). The
/// usual review follows; the report keeps the award's id. Returns the award.
///
/// Errors: `Forbidden` (role, or the household outside the actor's area),
/// `NotFound`, `Invalid` when the report was decided meanwhile or the
/// proposal is refused (a closed month, the rule's cap).
pub fn to_award(
    c: &mut DbConn,
    actor: &Actor,
    report_id: &str,
    seen: Option<i64>,
    today: NaiveDate,
) -> Result<awards::Award, PointsError> {
    if !can(actor.role, Action::ProposeAwards) {
        return Err(PointsError::Forbidden);
    }
    db::write_tx(c, |c| {
        let report = find(c, actor, report_id)?;
        transition(
            c,
            &report.id,
            (ReportStatus::Open, seen.unwrap_or(report.version)),
            ReportStatus::Awarded,
            Decided {
                by: &actor.user_id,
                reason: "",
            },
        )?;
        let note: String = if report.note.is_empty() {
            "农户申报".to_string()
        } else {
            format!("农户申报：{}", report.note)
        };
        let p = Proposal {
            rule_code: report.rule_code.clone(),
            occurred_on: report.occurred_on,
            note: note.chars().take(200).collect(),
        };
        let award = awards::propose(
            c,
            actor,
            &report.household_id,
            &p,
            &format!("deed:{}", report.id),
            today,
        )?;
        diesel::update(deed_reports::table.find(&report.id))
            .set(deed_reports::award_id.eq(&award.id))
            .execute(c)?;
        audit::record(
            c,
            &actor.audit(),
            "deed_report.award",
            "deed_report",
            &report.id,
            &audit::Detail::new("deed_award").to_string(),
        )?;
        Ok(award)
    })
}

/// An official declines an open report, with a reason the household sees.
///
/// Errors: `Invalid` for an empty reason (`field.reason`) or a report
/// decided meanwhile; `Forbidden`; `NotFound`.
pub fn decline(
    c: &mut DbConn,
    actor: &Actor,
    report_id: &str,
    reason: &str,
    seen: Option<i64>,
) -> Result<(), PointsError> {
    if !can(actor.role, Action::ProposeAwards) {
        return Err(PointsError::Forbidden);
    }
    let reason = parse_optional_text("field.reason", reason, 200)?;
    if reason.is_empty() {
        return Err(FieldError::new("field.reason", "error.required").into());
    }
    db::write_tx(c, |c| {
        let report = find(c, actor, report_id)?;
        transition(
            c,
            &report.id,
            (ReportStatus::Open, seen.unwrap_or(report.version)),
            ReportStatus::Declined,
            Decided {
                by: &actor.user_id,
                reason: &reason,
            },
        )?;
        audit::record(
            c,
            &actor.audit(),
            "deed_report.decline",
            "deed_report",
            &report.id,
            &reason,
        )?;
        Ok(())
    })
}

/// A stored photo (JPEG bytes), for someone whose scope holds the report's
/// household and whose role reads households.
///
/// Errors: `NotFound`; `Forbidden`.
pub fn photo_for_staff(
    c: &mut DbConn,
    actor: &Actor,
    photo_id: &str,
) -> Result<Vec<u8>, PointsError> {
    if !can(actor.role, Action::ViewHouseholds) {
        return Err(PointsError::Forbidden);
    }
    let (household_id, jpeg): (HouseholdId, Vec<u8>) = deed_photos::table
        .inner_join(deed_reports::table)
        .filter(deed_photos::id.eq(photo_id))
        .select((deed_reports::household_id, deed_photos::jpeg))
        .first(c)
        .optional()?
        .ok_or(PointsError::NotFound)?;
    crate::households::find(c, actor, &household_id)?;
    Ok(jpeg)
}

/// The household's own photo (its session's household only).
pub fn photo_for_household(
    c: &mut DbConn,
    s: &HouseholdSession,
    photo_id: &str,
) -> QueryResult<Option<Vec<u8>>> {
    deed_photos::table
        .inner_join(deed_reports::table)
        .filter(deed_photos::id.eq(photo_id))
        .filter(deed_reports::household_id.eq(&s.household_id))
        .select(deed_photos::jpeg)
        .first(c)
        .optional()
}

/// The photos of the reports behind these awards: (award id, photo id),
/// in the order sent.
pub fn photos_of_awards(c: &mut DbConn, award_ids: &[&str]) -> QueryResult<Vec<(String, String)>> {
    deed_photos::table
        .inner_join(deed_reports::table)
        .filter(deed_reports::award_id.eq_any(award_ids))
        .order((deed_reports::id, deed_photos::position))
        .select((deed_reports::award_id.assume_not_null(), deed_photos::id))
        .load(c)
}

/// The report an award came from, if any.
pub fn report_of_award(c: &mut DbConn, award_id: &str) -> QueryResult<Option<String>> {
    deed_reports::table
        .filter(deed_reports::award_id.eq(award_id))
        .select(deed_reports::id)
        .first(c)
        .optional()
}

/// Delete the photos of reports decided more than `settings::PHOTO_DAYS`
/// days before `now` (nothing when the setting is 0). Returns how many.
pub fn purge_photos(c: &mut DbConn, actor: &Actor, now: NaiveDateTime) -> QueryResult<usize> {
    let days = settings::get(c, settings::PHOTO_DAYS)?;
    if days == 0 {
        return Ok(0);
    }
    let cut = now - chrono::Duration::days(days);
    db::write_tx(c, |c| {
        let due: Vec<String> = deed_reports::table
            .filter(deed_reports::status.ne(ReportStatus::Open))
            .filter(deed_reports::decided_at.lt(cut))
            .select(deed_reports::id)
            .load(c)?;
        let n = diesel::delete(deed_photos::table.filter(deed_photos::report_id.eq_any(&due)))
            .execute(c)?;
        if n > 0 {
            audit::record(
                c,
                &actor.audit(),
                "deed_report.photos_deleted",
                "deed_report",
                "",
                &audit::Detail::new("photos_deleted")
                    .arg("n", n)
                    .arg("before", cut)
                    .to_string(),
            )?;
        }
        Ok(n)
    })
}

/// Erase what a household wrote and sent (its reports' notes and photos),
/// inside the caller's transaction: part of erasing its personal data.
pub fn erase_household(c: &mut DbConn, household_id: &str) -> QueryResult<()> {
    let ids: Vec<String> = deed_reports::table
        .filter(deed_reports::household_id.eq(household_id))
        .select(deed_reports::id)
        .load(c)?;
    diesel::delete(deed_photos::table.filter(deed_photos::report_id.eq_any(&ids))).execute(c)?;
    diesel::update(deed_reports::table.filter(deed_reports::household_id.eq(household_id)))
        .set(deed_reports::note.eq(""))
        .execute(c)?;
    Ok(())
}
