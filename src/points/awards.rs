//! Awards: an official proposes, someone else reviews; approved awards are
//! posted to the ledger (after the public notice period, when there is one).

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::{PointsError, Rule, current_rule, find_rule};
use crate::audit::{self, AuditCtx};
use crate::auth::Scope;
use crate::db::schema::{areas, awards, households, points_cards, rules, users};
use crate::db::{self, DbConn};
use crate::domain::{FieldError, Role, parse_optional_text};
use crate::households as hh;
use crate::ledger::{self, Kind, Posting, totals};
use crate::settings;

/// Who is acting.
pub struct Actor<'a> {
    pub ctx: &'a AuditCtx,
    pub user_id: &'a str,
    pub role: Role,
    pub scope: &'a Scope,
}

/// Who is acting, owned (to carry onto a blocking thread).
#[derive(Debug, Clone)]
pub struct Who {
    pub user_id: String,
    pub role: Role,
    pub scope: Scope,
}

impl Who {
    pub fn actor<'a>(&'a self, ctx: &'a AuditCtx) -> Actor<'a> {
        Actor {
            ctx,
            user_id: &self.user_id,
            role: self.role,
            scope: &self.scope,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = awards)]
pub struct Award {
    pub id: String,
    pub household_id: String,
    pub rule_id: String,
    pub rule_code: String,
    pub points: i64,
    pub occurred_on: NaiveDate,
    pub note: String,
    pub status: String,
    pub batch_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub proposed_by: String,
    pub proposed_at: NaiveDateTime,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<NaiveDateTime>,
    pub review_note: String,
    pub notice_until: Option<NaiveDate>,
    pub objection: String,
    pub entry_id: Option<String>,
    pub reversed_by: Option<String>,
    pub reversed_at: Option<NaiveDateTime>,
    pub reverse_reason: String,
    pub updated_at: NaiveDateTime,
}

impl Award {
    pub fn status_key(&self) -> &'static str {
        status_key(&self.status)
    }
}

pub fn status_key(s: &str) -> &'static str {
    match s {
        "pending" => "awards.status_pending",
        "noticed" => "awards.status_noticed",
        "approved" => "awards.status_approved",
        "rejected" => "awards.status_rejected",
        "withdrawn" => "awards.status_withdrawn",
        _ => "awards.status_reversed",
    }
}

/// An award with the names lists show.
#[derive(Debug, Clone)]
pub struct AwardRow {
    pub award: Award,
    pub head_name: String,
    pub village: String,
    pub rule_name: String,
    pub proposer: String,
    pub card_no: Option<String>,
}

impl AwardRow {
    pub fn masked_card(&self) -> String {
        self.card_no
            .as_deref()
            .and_then(|c| crate::domain::CardNo::parse("c", c).ok())
            .map(|c| c.masked())
            .unwrap_or_default()
    }
}

type RowTuple = (Award, String, String, String, String, Option<String>);

fn to_row((award, head_name, village, rule_name, proposer, card_no): RowTuple) -> AwardRow {
    AwardRow {
        award,
        head_name,
        village,
        rule_name,
        proposer,
        card_no,
    }
}

/// Awards joined to what lists show, filtered by the scope's area.
macro_rules! award_rows {
    ($scope_path:expr) => {{
        let mut q = awards::table
            .inner_join(households::table.inner_join(areas::table))
            .inner_join(rules::table)
            .inner_join(users::table.on(users::id.eq(awards::proposed_by)))
            .left_join(
                points_cards::table.on(points_cards::household_id
                    .eq(awards::household_id)
                    .and(points_cards::replaced_by.is_null())),
            )
            .select((
                Award::as_select(),
                households::head_name,
                areas::name,
                rules::name,
                users::username,
                points_cards::card_no.nullable(),
            ))
            .into_boxed();
        if let Some(p) = $scope_path {
            q = q.filter(areas::path.like(p));
        }
        q
    }};
}

fn scope_like(scope: &Scope) -> Result<Option<String>, PointsError> {
    match scope {
        Scope::All => Ok(None),
        Scope::Area { path, .. } => Ok(Some(db::path_prefix(path))),
        _ => Err(PointsError::Forbidden),
    }
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Award>> {
    awards::table
        .find(id)
        .select(Award::as_select())
        .first(conn)
        .optional()
}

/// The cap of a rule, checked against what the household already has (or
/// has pending) in the rule's period. The refusal names the rule, the cap
/// and what is already used.
pub fn check_cap(
    conn: &mut DbConn,
    household_id: &str,
    rule: &Rule,
    occurred_on: NaiveDate,
    except: Option<&str>,
) -> Result<(), PointsError> {
    let Some(period) = rule.period() else {
        return Ok(());
    };
    let (start, end) = period.window(occurred_on);
    let mut q = awards::table
        .filter(awards::household_id.eq(household_id))
        .filter(awards::rule_code.eq(&rule.code))
        .filter(awards::status.eq_any(["pending", "noticed", "approved"]))
        .filter(awards::occurred_on.ge(start))
        .filter(awards::occurred_on.lt(end))
        .into_boxed();
    if let Some(e) = except {
        q = q.filter(awards::id.ne(e.to_string()));
    }
    let used: Vec<(NaiveDate, i64)> = q
        .order(awards::occurred_on.asc())
        .select((awards::occurred_on, awards::points))
        .load(conn)?;
    let period_arg = format!("@{}", period.label_key());
    if let Some(cap) = rule.cap_count
        && used.len() as i64 >= cap
    {
        return Err(FieldError::new("field.rule", "error.cap_count_reached")
            .arg("rule", &rule.name)
            .arg("cap", cap)
            .arg("period", period_arg)
            .arg("used", used.len())
            .arg("first", used[0].0)
            .into());
    }
    if let Some(cap) = rule.cap_points {
        let sum: i64 = used.iter().map(|(_, p)| p.abs()).sum();
        if sum + rule.points.abs() > cap {
            return Err(FieldError::new("field.rule", "error.cap_points_reached")
                .arg("rule", &rule.name)
                .arg("cap", cap)
                .arg("period", period_arg)
                .arg("used", sum)
                .into());
        }
    }
    Ok(())
}

pub struct Proposal {
    pub rule_code: String,
    pub occurred_on: NaiveDate,
    pub note: String,
}

pub fn parse_proposal(
    rule_code: &str,
    occurred_on: &str,
    note: &str,
    today: NaiveDate,
) -> Result<Proposal, FieldError> {
    if rule_code.trim().is_empty() {
        return Err(FieldError::new("field.rule", "error.required"));
    }
    let occurred_on = super::parse_date("field.occurred_on", occurred_on)?
        .ok_or(FieldError::new("field.occurred_on", "error.required"))?;
    if occurred_on > today {
        return Err(FieldError::new("field.occurred_on", "error.date_in_future"));
    }
    if occurred_on < today - chrono::Duration::days(366) {
        return Err(FieldError::new("field.occurred_on", "error.date_too_old"));
    }
    Ok(Proposal {
        rule_code: rule_code.trim().to_string(),
        occurred_on,
        note: parse_optional_text("field.note", note, 200)?,
    })
}

fn usable_rule(conn: &mut DbConn, p: &Proposal) -> Result<Rule, PointsError> {
    let rule = current_rule(conn, &p.rule_code)?
        .ok_or(FieldError::new("field.rule", "error.rule_unknown"))?;
    if !rule.valid_on(p.occurred_on) {
        return Err(FieldError::new("field.rule", "error.rule_not_valid")
            .arg("rule", &rule.name)
            .into());
    }
    Ok(rule)
}

/// One household's proposal checks: in scope, not archived, under the cap.
fn check_household(
    conn: &mut DbConn,
    actor: &Actor,
    household_id: &str,
    rule: &Rule,
    occurred_on: NaiveDate,
    except: Option<&str>,
) -> Result<hh::HouseholdRow, PointsError> {
    if let Some(m) = crate::reports::close::closed_month_of(conn, occurred_on)? {
        return Err(crate::reports::close::closed_error("field.occurred_on", m).into());
    }
    let h = hh::find(conn, actor.scope, household_id)?;
    if h.household.archived {
        return Err(FieldError::new("field.household", "error.household_archived").into());
    }
    ledger::lock_account(conn, &ledger::household_account(household_id))?;
    check_cap(conn, household_id, rule, occurred_on, except)?;
    Ok(h)
}

fn insert_award(
    conn: &mut DbConn,
    actor: &Actor,
    household_id: &str,
    rule: &Rule,
    p: &Proposal,
    (batch, key): (Option<&str>, Option<&str>),
    today: NaiveDate,
) -> QueryResult<String> {
    let id = db::new_id();
    let now = db::now();
    diesel::insert_into(awards::table)
        .values((
            awards::id.eq(&id),
            awards::household_id.eq(household_id),
            awards::rule_id.eq(&rule.id),
            awards::rule_code.eq(&rule.code),
            awards::points.eq(rule.points),
            awards::occurred_on.eq(p.occurred_on),
            awards::note.eq(&p.note),
            awards::status.eq("pending"),
            awards::batch_id.eq(batch),
            awards::idempotency_key.eq(key),
            awards::proposed_by.eq(actor.user_id),
            awards::proposed_at.eq(now),
            awards::updated_at.eq(now),
        ))
        .execute(conn)?;
    totals::count_award(conn, household_id, today, totals::PROPOSED, 1)?;
    audit::record(
        conn,
        actor.ctx,
        "award.propose",
        "award",
        &id,
        &format!("{} {} {:+}", rule.code, p.occurred_on, rule.points),
    )?;
    Ok(id)
}

/// When review is off, an award is approved the moment it is made.
fn approve_if_review_off(
    conn: &mut DbConn,
    actor: &Actor,
    award_id: &str,
    today: NaiveDate,
) -> Result<(), PointsError> {
    if settings::get_bool(conn, settings::REVIEW_REQUIRED)? {
        return Ok(());
    }
    let award = find(conn, award_id)?.ok_or(PointsError::NotFound)?;
    accept(conn, actor, &award, today, "review off: approved when made")
}

/// Propose one award. A form submitted twice (same key) proposes once.
pub fn propose(
    conn: &mut DbConn,
    actor: &Actor,
    household_id: &str,
    p: &Proposal,
    key: &str,
    today: NaiveDate,
) -> Result<Award, PointsError> {
    db::write_tx(conn, |c| {
        if let Some(existing) = awards::table
            .filter(awards::idempotency_key.eq(key))
            .select(Award::as_select())
            .first(c)
            .optional()?
        {
            return Ok(existing);
        }
        let rule = usable_rule(c, p)?;
        check_household(c, actor, household_id, &rule, p.occurred_on, None)?;
        let id = insert_award(c, actor, household_id, &rule, p, (None, Some(key)), today)?;
        approve_if_review_off(c, actor, &id, today)?;
        find(c, &id)?.ok_or(PointsError::NotFound)
    })
}

pub struct BatchOutcome {
    pub batch_id: String,
    pub created: usize,
    /// (household's name or the card as typed, why not)
    pub refused: Vec<(String, FieldError)>,
    pub replayed: bool,
}

/// One rule for many households at once (e.g. everyone at a training): the
/// households that pass get an award, the others are listed with the reason.
pub fn propose_batch(
    conn: &mut DbConn,
    actor: &Actor,
    household_ids: &[String],
    p: &Proposal,
    key: &str,
    today: NaiveDate,
) -> Result<BatchOutcome, PointsError> {
    db::write_tx(conn, |c| {
        let done: i64 = awards::table
            .filter(awards::batch_id.eq(key))
            .count()
            .get_result(c)?;
        if done > 0 {
            return Ok(BatchOutcome {
                batch_id: key.to_string(),
                created: done as usize,
                refused: Vec::new(),
                replayed: true,
            });
        }
        let rule = usable_rule(c, p)?;
        let mut out = BatchOutcome {
            batch_id: key.to_string(),
            created: 0,
            refused: Vec::new(),
            replayed: false,
        };
        let mut seen = std::collections::HashSet::new();
        for hid in household_ids {
            if !seen.insert(hid.clone()) {
                continue;
            }
            match check_household(c, actor, hid, &rule, p.occurred_on, None) {
                Ok(_) => {
                    let id = insert_award(c, actor, hid, &rule, p, (Some(key), None), today)?;
                    approve_if_review_off(c, actor, &id, today)?;
                    out.created += 1;
                }
                Err(PointsError::Invalid(e)) => {
                    let name: String = households::table
                        .find(hid)
                        .select(households::head_name)
                        .first(c)
                        .unwrap_or_else(|_| hid.clone());
                    out.refused.push((name, e));
                }
                Err(PointsError::Forbidden) | Err(PointsError::NotFound) => {
                    out.refused.push((
                        hid.clone(),
                        FieldError::new("field.household", "error.household_not_yours"),
                    ));
                }
                Err(e) => return Err(e),
            }
        }
        if out.created == 0 && out.refused.is_empty() {
            return Err(FieldError::new("field.households", "error.no_households").into());
        }
        Ok(out)
    })
}

fn own_pending(conn: &mut DbConn, actor: &Actor, award_id: &str) -> Result<Award, PointsError> {
    let award = find(conn, award_id)?.ok_or(PointsError::NotFound)?;
    hh::find(conn, actor.scope, &award.household_id)?;
    if award.proposed_by != actor.user_id && actor.role != Role::Admin {
        return Err(PointsError::Forbidden);
    }
    if award.status != "pending" {
        return Err(FieldError::new("field.award", "error.award_not_pending")
            .arg("status", format!("@{}", award.status_key()))
            .into());
    }
    Ok(award)
}

/// Change a proposal that nobody has reviewed yet.
pub fn edit(
    conn: &mut DbConn,
    actor: &Actor,
    award_id: &str,
    p: &Proposal,
) -> Result<(), PointsError> {
    db::write_tx(conn, |c| {
        let award = own_pending(c, actor, award_id)?;
        let rule = usable_rule(c, p)?;
        check_household(
            c,
            actor,
            &award.household_id,
            &rule,
            p.occurred_on,
            Some(award_id),
        )?;
        diesel::update(
            awards::table
                .find(award_id)
                .filter(awards::status.eq("pending")),
        )
        .set((
            awards::rule_id.eq(&rule.id),
            awards::rule_code.eq(&rule.code),
            awards::points.eq(rule.points),
            awards::occurred_on.eq(p.occurred_on),
            awards::note.eq(&p.note),
            awards::updated_at.eq(db::now()),
        ))
        .execute(c)?;
        audit::record(
            c,
            actor.ctx,
            "award.edit",
            "award",
            award_id,
            &format!("{} {} {:+}", rule.code, p.occurred_on, rule.points),
        )?;
        Ok(())
    })
}

pub fn withdraw(conn: &mut DbConn, actor: &Actor, award_id: &str) -> Result<(), PointsError> {
    db::write_tx(conn, |c| {
        own_pending(c, actor, award_id)?;
        diesel::update(
            awards::table
                .find(award_id)
                .filter(awards::status.eq("pending")),
        )
        .set((
            awards::status.eq("withdrawn"),
            awards::updated_at.eq(db::now()),
        ))
        .execute(c)?;
        audit::record(c, actor.ctx, "award.withdraw", "award", award_id, "")?;
        Ok(())
    })
}

/// Post an accepted award to the ledger: issuance -> household for points,
/// household -> issuance for a deduction (never below zero).
fn post_award(
    conn: &mut DbConn,
    award: &Award,
    user_id: Option<String>,
    today: NaiveDate,
) -> Result<String, PointsError> {
    let household = ledger::household_account(&award.household_id);
    let (debit, credit, kind) = if award.points > 0 {
        (ledger::ISSUANCE.to_string(), household, Kind::Award)
    } else {
        (household, ledger::ISSUANCE.to_string(), Kind::Deduction)
    };
    let entry = ledger::post(
        conn,
        &Posting {
            debit,
            credit,
            amount: award.points.abs(),
            kind,
            ref_kind: "award".into(),
            ref_id: award.id.clone(),
            memo: award.rule_code.clone(),
            user_id,
            posted_on: today,
            idempotency_key: Some(format!("award:{}", award.id)),
            reverses: None,
        },
    )?;
    Ok(entry.id)
}

/// Approve: on public notice first when the scheme has a notice period,
/// otherwise straight to the ledger.
fn accept(
    conn: &mut DbConn,
    actor: &Actor,
    award: &Award,
    today: NaiveDate,
    why: &str,
) -> Result<(), PointsError> {
    let notice_days = settings::get(conn, settings::NOTICE_DAYS)?;
    let now = db::now();
    if notice_days > 0 {
        diesel::update(
            awards::table
                .find(&award.id)
                .filter(awards::status.eq("pending")),
        )
        .set((
            awards::status.eq("noticed"),
            awards::reviewed_by.eq(actor.user_id),
            awards::reviewed_at.eq(now),
            awards::notice_until.eq(today + chrono::Duration::days(notice_days)),
            awards::updated_at.eq(now),
        ))
        .execute(conn)?;
    } else {
        let entry_id = post_award(conn, award, Some(actor.user_id.to_string()), today)?;
        diesel::update(
            awards::table
                .find(&award.id)
                .filter(awards::status.eq("pending")),
        )
        .set((
            awards::status.eq("approved"),
            awards::reviewed_by.eq(actor.user_id),
            awards::reviewed_at.eq(now),
            awards::entry_id.eq(&entry_id),
            awards::updated_at.eq(now),
        ))
        .execute(conn)?;
    }
    totals::count_award(conn, &award.household_id, today, totals::APPROVED, 1)?;
    audit::record(conn, actor.ctx, "award.approve", "award", &award.id, why)?;
    Ok(())
}

pub enum Decision {
    Approve,
    Reject(String),
}

/// Review one award. Nobody reviews an award they proposed, or one for a
/// household they are the helper of.
pub fn review(
    conn: &mut DbConn,
    actor: &Actor,
    award_id: &str,
    decision: &Decision,
    today: NaiveDate,
) -> Result<(), PointsError> {
    if let Decision::Reject(reason) = decision
        && reason.trim().is_empty()
    {
        return Err(FieldError::new("field.reason", "error.reject_reason_required").into());
    }
    db::write_tx(conn, |c| {
        let award = find(c, award_id)?.ok_or(PointsError::NotFound)?;
        let h = hh::find(c, actor.scope, &award.household_id)?;
        if award.proposed_by == actor.user_id {
            return Err(FieldError::new("field.award", "error.review_own").into());
        }
        if h.household.helper_id.as_deref() == Some(actor.user_id) {
            return Err(FieldError::new("field.award", "error.review_own_household")
                .arg("name", &h.household.head_name)
                .into());
        }
        if award.status != "pending" {
            return Err(FieldError::new("field.award", "error.award_not_pending")
                .arg("status", format!("@{}", award.status_key()))
                .into());
        }
        match decision {
            Decision::Approve => {
                let rule = find_rule(c, &award.rule_id)?.ok_or(PointsError::NotFound)?;
                ledger::lock_account(c, &ledger::household_account(&award.household_id))?;
                check_cap(
                    c,
                    &award.household_id,
                    &rule,
                    award.occurred_on,
                    Some(&award.id),
                )?;
                accept(c, actor, &award, today, "")
            }
            Decision::Reject(reason) => {
                let reason: String = reason.trim().chars().take(200).collect();
                let now = db::now();
                diesel::update(
                    awards::table
                        .find(award_id)
                        .filter(awards::status.eq("pending")),
                )
                .set((
                    awards::status.eq("rejected"),
                    awards::reviewed_by.eq(actor.user_id),
                    awards::reviewed_at.eq(now),
                    awards::review_note.eq(&reason),
                    awards::updated_at.eq(now),
                ))
                .execute(c)?;
                totals::count_award(c, &award.household_id, today, totals::REJECTED, 1)?;
                audit::record(c, actor.ctx, "award.reject", "award", award_id, &reason)?;
                Ok(())
            }
        }
    })
}

/// Review many at once; each one stands or falls alone. Returns the ones
/// that could not be done, with why.
pub fn review_many(
    conn: &mut DbConn,
    actor: &Actor,
    ids: &[String],
    decision: &Decision,
    today: NaiveDate,
) -> Result<(usize, Vec<(String, FieldError)>), PointsError> {
    let mut done = 0;
    let mut failed = Vec::new();
    for id in ids {
        match review(conn, actor, id, decision, today) {
            Ok(()) => done += 1,
            Err(PointsError::Invalid(e)) => failed.push((id.clone(), e)),
            Err(PointsError::Forbidden) | Err(PointsError::NotFound) => failed.push((
                id.clone(),
                FieldError::new("field.award", "error.household_not_yours"),
            )),
            Err(e) => return Err(e),
        }
    }
    Ok((done, failed))
}

/// Undo an approved award with a reversing entry (never by editing).
pub fn reverse(
    conn: &mut DbConn,
    actor: &Actor,
    award_id: &str,
    reason: &str,
    today: NaiveDate,
) -> Result<(), PointsError> {
    let reason: String = reason.trim().chars().take(200).collect();
    if reason.is_empty() {
        return Err(FieldError::new("field.reason", "error.required").into());
    }
    db::write_tx(conn, |c| {
        let award = find(c, award_id)?.ok_or(PointsError::NotFound)?;
        hh::find(c, actor.scope, &award.household_id)?;
        if !matches!(award.status.as_str(), "approved" | "noticed") {
            return Err(FieldError::new("field.award", "error.award_not_approved").into());
        }
        if let Some(entry_id) = &award.entry_id {
            let entry = ledger::find_entry(c, entry_id)?.ok_or(PointsError::NotFound)?;
            ledger::reverse(
                c,
                &entry,
                Kind::AwardReversal,
                &reason,
                Some(actor.user_id.to_string()),
                today,
            )?;
        }
        let now = db::now();
        diesel::update(
            awards::table
                .find(award_id)
                .filter(awards::status.eq_any(["approved", "noticed"])),
        )
        .set((
            awards::status.eq("reversed"),
            awards::reversed_by.eq(actor.user_id),
            awards::reversed_at.eq(now),
            awards::reverse_reason.eq(&reason),
            awards::updated_at.eq(now),
        ))
        .execute(c)?;
        audit::record(c, actor.ctx, "award.reverse", "award", award_id, &reason)?;
        Ok(())
    })
}

/// An objection during the public notice puts the award back into review
/// (and out of the approvals counted in the month it was reviewed, whose
/// month is cut in `tz`).
pub fn object(
    conn: &mut DbConn,
    actor: &Actor,
    award_id: &str,
    objection: &str,
    tz: chrono_tz::Tz,
) -> Result<(), PointsError> {
    let objection: String = objection.trim().chars().take(200).collect();
    if objection.is_empty() {
        return Err(FieldError::new("field.objection", "error.required").into());
    }
    db::write_tx(conn, |c| {
        let award = find(c, award_id)?.ok_or(PointsError::NotFound)?;
        hh::find(c, actor.scope, &award.household_id)?;
        let n = diesel::update(
            awards::table
                .find(award_id)
                .filter(awards::status.eq("noticed")),
        )
        .set((
            awards::status.eq("pending"),
            awards::objection.eq(&objection),
            awards::notice_until.eq(None::<NaiveDate>),
            awards::updated_at.eq(db::now()),
        ))
        .execute(c)?;
        if n == 0 {
            return Err(FieldError::new("field.award", "error.award_not_noticed").into());
        }
        if let Some(at) = award.reviewed_at {
            let day = chrono::TimeZone::from_utc_datetime(&tz, &at).date_naive();
            totals::count_award(c, &award.household_id, day, totals::APPROVED, -1)?;
        }
        audit::record(c, actor.ctx, "award.object", "award", award_id, &objection)?;
        Ok(())
    })
}

/// Post the awards whose notice period has ended without objection. Safe to
/// run any number of times, on any number of servers.
pub fn settle_notices(conn: &mut DbConn, today: NaiveDate) -> Result<usize, PointsError> {
    let due: Vec<Award> = awards::table
        .filter(awards::status.eq("noticed"))
        .filter(awards::notice_until.lt(today))
        .select(Award::as_select())
        .limit(1000)
        .load(conn)?;
    let mut settled = 0;
    for award in due {
        settled += db::write_tx(conn, |c| {
            let entry_id = post_award(c, &award, award.reviewed_by.clone(), today)?;
            let n = diesel::update(
                awards::table
                    .find(&award.id)
                    .filter(awards::status.eq("noticed")),
            )
            .set((
                awards::status.eq("approved"),
                awards::entry_id.eq(&entry_id),
                awards::updated_at.eq(db::now()),
            ))
            .execute(c)?;
            if n == 1 {
                audit::record(
                    c,
                    &AuditCtx::console(),
                    "award.settle",
                    "award",
                    &award.id,
                    "notice period over",
                )?;
            }
            Ok::<usize, PointsError>(n)
        })?;
    }
    Ok(settled)
}

/// Awards waiting for review in the scope, oldest first.
pub fn review_queue(
    conn: &mut DbConn,
    scope: &Scope,
    limit: i64,
) -> Result<Vec<AwardRow>, PointsError> {
    let rows = award_rows!(scope_like(scope)?)
        .filter(awards::status.eq("pending"))
        .order((awards::proposed_at.asc(), awards::id.asc()))
        .limit(limit)
        .load::<RowTuple>(conn)?;
    Ok(rows.into_iter().map(to_row).collect())
}

pub fn for_household(conn: &mut DbConn, household_id: &str) -> Result<Vec<AwardRow>, PointsError> {
    let rows = award_rows!(None::<String>)
        .filter(awards::household_id.eq(household_id))
        .order((awards::occurred_on.desc(), awards::proposed_at.desc()))
        .limit(500)
        .load::<RowTuple>(conn)?;
    Ok(rows.into_iter().map(to_row).collect())
}

pub fn proposed_by(
    conn: &mut DbConn,
    user_id: &str,
    limit: i64,
) -> Result<Vec<AwardRow>, PointsError> {
    let rows = award_rows!(None::<String>)
        .filter(awards::proposed_by.eq(user_id))
        .order((awards::proposed_at.desc(), awards::id.desc()))
        .limit(limit)
        .load::<RowTuple>(conn)?;
    Ok(rows.into_iter().map(to_row).collect())
}

pub fn batch(conn: &mut DbConn, batch_id: &str) -> Result<Vec<AwardRow>, PointsError> {
    let rows = award_rows!(None::<String>)
        .filter(awards::batch_id.eq(batch_id))
        .order(households::head_name.asc())
        .load::<RowTuple>(conn)?;
    Ok(rows.into_iter().map(to_row).collect())
}

/// The public notice (公示) of a village: awards approved (or on notice)
/// for what happened in the period.
pub fn notice(
    conn: &mut DbConn,
    scope: &Scope,
    village_path: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<AwardRow>, PointsError> {
    if !scope.covers_area_path(village_path) {
        return Err(PointsError::Forbidden);
    }
    let rows = award_rows!(Some(db::path_prefix(village_path)))
        .filter(awards::status.eq_any(["approved", "noticed"]))
        .filter(awards::occurred_on.ge(from))
        .filter(awards::occurred_on.le(to))
        .order((households::head_name.asc(), awards::occurred_on.asc()))
        .load::<RowTuple>(conn)?;
    Ok(rows.into_iter().map(to_row).collect())
}
