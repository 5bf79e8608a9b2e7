//! Awards: an official proposes, someone else reviews; approved awards are
//! posted to the ledger (after the public notice period, when there is one).

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::{PointsError, Rule, current_rule, find_rule};
use crate::audit::{self, AuditCtx};
use crate::auth::{Action, Actor, Scope};
use crate::db::schema::{areas, awards, households, notice_objections, points_cards, rules, users};
use crate::db::{self, DbConn};
use crate::domain::{AwardId, CardNo, FieldError, HouseholdId, Role, parse_optional_text};
use crate::households as hh;
use crate::idempotency;
use crate::ledger::{self, Kind, Posting, totals};
use crate::settings;

crate::text_enum! {
    /// Where an award stands: proposed (`Pending`), on public notice
    /// (`Noticed`), credited (`Approved`), or ended without points
    /// (`Rejected`, `Withdrawn`) or taken back (`Reversed`).
    pub enum AwardStatus {
        Pending = "pending",
        Noticed = "noticed",
        Approved = "approved",
        Rejected = "rejected",
        Withdrawn = "withdrawn",
        Reversed = "reversed",
    }
}

impl AwardStatus {
    /// The translation key of its name.
    pub fn label_key(self) -> &'static str {
        match self {
            AwardStatus::Pending => "awards.status_pending",
            AwardStatus::Noticed => "awards.status_noticed",
            AwardStatus::Approved => "awards.status_approved",
            AwardStatus::Rejected => "awards.status_rejected",
            AwardStatus::Withdrawn => "awards.status_withdrawn",
            AwardStatus::Reversed => "awards.status_reversed",
        }
    }

    /// Approved, whether still on notice or already credited: what a
    /// reversal can undo and what the public sheets show.
    pub const ACCEPTED: [AwardStatus; 2] = [AwardStatus::Approved, AwardStatus::Noticed];

    /// What counts against a rule's cap: everything not ended.
    pub const LIVE: [AwardStatus; 3] = [
        AwardStatus::Pending,
        AwardStatus::Noticed,
        AwardStatus::Approved,
    ];
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = awards)]
pub struct Award {
    pub id: AwardId,
    pub household_id: HouseholdId,
    pub rule_id: String,
    pub rule_code: String,
    pub points: i64,
    pub occurred_on: NaiveDate,
    pub note: String,
    pub status: AwardStatus,
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
    /// Bumped by every change; a decision names the version it was made on.
    pub version: i64,
    /// Why settling after the notice failed (empty when it did not).
    pub settle_error: String,
}

impl Award {
    pub fn status_key(&self) -> &'static str {
        self.status.label_key()
    }

    /// Still a proposal nobody has decided.
    pub fn is_pending(&self) -> bool {
        self.status == AwardStatus::Pending
    }

    /// On public notice: open to an objection.
    pub fn is_noticed(&self) -> bool {
        self.status == AwardStatus::Noticed
    }

    /// Approved (on notice or credited): a reversal can undo it.
    pub fn is_accepted(&self) -> bool {
        AwardStatus::ACCEPTED.contains(&self.status)
    }

    /// Why settling this award after its notice failed, in `lang` (empty
    /// when it did not).
    pub fn settle_problem(&self, lang: &crate::i18n::Lang) -> String {
        settle_error_text(*lang, &self.settle_error)
    }
}

/// What a status change writes besides the status, the time and the
/// version (`None` leaves a column as it is).
#[derive(Default, AsChangeset)]
#[diesel(table_name = awards)]
pub struct AwardChanges<'a> {
    pub rule_id: Option<&'a str>,
    pub rule_code: Option<&'a str>,
    pub points: Option<i64>,
    pub occurred_on: Option<NaiveDate>,
    pub note: Option<&'a str>,
    pub reviewed_by: Option<&'a str>,
    pub reviewed_at: Option<NaiveDateTime>,
    pub review_note: Option<&'a str>,
    pub notice_until: Option<Option<NaiveDate>>,
    pub objection: Option<&'a str>,
    pub reversed_by: Option<&'a str>,
    pub reversed_at: Option<NaiveDateTime>,
    pub reverse_reason: Option<&'a str>,
    pub settle_error: Option<&'a str>,
}

/// The one way an award changes: one conditional update on its id, the
/// status `from` and the `version` read, setting `to` with `changes` and
/// bumping the version.
///
/// Errors: when no row matched (someone else changed or decided it
/// first), `PointsError::Invalid` with `error.award_changed` saying what
/// the award is now, or `PointsError::NotFound` when it is gone.
pub fn transition(
    conn: &mut DbConn,
    award_id: &AwardId,
    (from, version): (AwardStatus, i64),
    to: AwardStatus,
    changes: AwardChanges,
) -> Result<(), PointsError> {
    let n = diesel::update(
        awards::table
            .find(award_id)
            .filter(awards::status.eq(from))
            .filter(awards::version.eq(version)),
    )
    .set((
        awards::status.eq(to),
        awards::updated_at.eq(db::now()),
        awards::version.eq(awards::version + 1),
        changes,
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(lost_race(conn, award_id));
    }
    Ok(())
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
    /// The household's village's path (to name it in context).
    pub area_path: String,
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

type RowTuple = (
    Award,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
);

fn to_row(
    (award, head_name, village, rule_name, proposer, card_no, area_path): RowTuple,
) -> AwardRow {
    AwardRow {
        award,
        head_name,
        village,
        rule_name,
        proposer,
        card_no,
        area_path,
    }
}

/// Award rows' villages named as `actor` reads them (with the town from
/// above town level).
fn name_villages(
    conn: &mut DbConn,
    actor: &Actor,
    mut rows: Vec<AwardRow>,
) -> QueryResult<Vec<AwardRow>> {
    crate::areas::InContext::name_rows(conn, &actor.scope, actor.lang, &mut rows, |r| {
        (&mut r.village, r.area_path.as_str())
    })?;
    Ok(rows)
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
                areas::path,
            ))
            .into_boxed();
        if let Some(p) = $scope_path {
            q = q.filter(areas::path.like(p));
        }
        q
    }};
}

fn scope_like(scope: &Scope) -> Result<Option<String>, PointsError> {
    scope.area_filter().ok_or(PointsError::Forbidden)
}

pub fn find(conn: &mut DbConn, id: &AwardId) -> QueryResult<Option<Award>> {
    awards::table
        .find(id)
        .select(Award::as_select())
        .first(conn)
        .optional()
}

/// Refuse a decision made on a version of the award that is no longer
/// current (`seen` is None when the caller did not say which it saw).
fn check_seen(award: &Award, seen: Option<i64>) -> Result<(), PointsError> {
    match seen {
        Some(v) if v != award.version => Err(changed_error(award)),
        _ => Ok(()),
    }
}

/// "This award changed after you opened it": what it is now.
fn changed_error(award: &Award) -> PointsError {
    FieldError::conflict(
        "field.award",
        "error.award_changed",
        crate::domain::Conflict::Changed,
    )
    .arg("rule", &award.rule_code)
    .arg("points", award.points)
    .arg("status", format!("@{}", award.status_key()))
    .into()
}

/// The refusal after a guarded update matched no row: the award as it is now.
fn lost_race(conn: &mut DbConn, award_id: &AwardId) -> PointsError {
    match find(conn, award_id) {
        Ok(Some(a)) => changed_error(&a),
        Ok(None) => PointsError::NotFound,
        Err(e) => e.into(),
    }
}

/// The cap of a rule, checked against what the household already has (or
/// has pending) in the rule's period. The refusal names the rule, the cap
/// and what is already used.
pub fn check_cap(
    conn: &mut DbConn,
    household_id: &HouseholdId,
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
        .filter(awards::status.eq_any(AwardStatus::LIVE))
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
        return Err(FieldError::conflict(
            "field.rule",
            "error.cap_count_reached",
            crate::domain::Conflict::CapReached,
        )
        .arg("rule", &rule.name)
        .arg("cap", cap)
        .arg("period", period_arg)
        .arg("used", used.len())
        .arg("first", used[0].0)
        .into());
    }
    if let Some(cap) = rule.cap_points {
        let sum: i64 = used
            .iter()
            .fold(0i64, |s, (_, p)| s.saturating_add(p.saturating_abs()));
        if sum.saturating_add(rule.points.saturating_abs()) > cap {
            return Err(FieldError::conflict(
                "field.rule",
                "error.cap_points_reached",
                crate::domain::Conflict::CapReached,
            )
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
    // Every field is checked, so all that is wrong shows at once.
    let mut checks = crate::domain::FieldChecks::new();
    if rule_code.trim().is_empty() {
        checks.push(FieldError::new("field.rule", "error.required"));
    }
    let parsed = checks.take(super::parse_date("field.occurred_on", occurred_on));
    let day = parsed.flatten();
    match day {
        None if parsed.is_some() => {
            checks.push(FieldError::new("field.occurred_on", "error.required"))
        }
        None => {}
        Some(d) if d > today => {
            checks.push(FieldError::new("field.occurred_on", "error.date_in_future"))
        }
        Some(d) if d < today - chrono::Duration::days(366) => {
            checks.push(FieldError::new("field.occurred_on", "error.date_too_old"))
        }
        Some(_) => {}
    }
    let note = checks
        .take(parse_optional_text("field.note", note, 200))
        .unwrap_or_default();
    checks.finish()?;
    Ok(Proposal {
        rule_code: rule_code.trim().to_string(),
        occurred_on: day.unwrap_or(today),
        note,
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
    household_id: &HouseholdId,
    rule: &Rule,
    occurred_on: NaiveDate,
    except: Option<&str>,
) -> Result<hh::HouseholdRow, PointsError> {
    if let Some(m) = crate::reports::close::closed_month_of(conn, occurred_on)? {
        return Err(crate::reports::close::closed_error("field.occurred_on", m).into());
    }
    let h = hh::find(conn, actor, household_id)?;
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
    (household_id, head_name): (&HouseholdId, &str),
    rule: &Rule,
    p: &Proposal,
    (batch, key): (Option<&str>, Option<&str>),
    today: NaiveDate,
) -> QueryResult<AwardId> {
    let id = AwardId::new();
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
            awards::status.eq(AwardStatus::Pending),
            awards::batch_id.eq(batch),
            awards::idempotency_key.eq(key),
            awards::proposed_by.eq(&actor.user_id),
            awards::proposed_at.eq(now),
            awards::updated_at.eq(now),
        ))
        .execute(conn)?;
    totals::count_award(conn, household_id, today, totals::PROPOSED, 1)?;
    audit::record(
        conn,
        &actor.audit(),
        "award.propose",
        "award",
        &id,
        // The household by name, and by id for the sentence's link.
        &audit::Detail::new("award_proposed")
            .arg("name", head_name)
            .arg("household", household_id)
            .arg("rule", &rule.code)
            .arg("day", p.occurred_on)
            .arg("points", format!("{:+}", rule.points))
            .to_string(),
    )?;
    Ok(id)
}

/// When review is off, an award is approved the moment it is made;
/// `head_name` is its household's head, as the caller already read it.
fn approve_if_review_off(
    conn: &mut DbConn,
    actor: &Actor,
    award_id: &AwardId,
    head_name: &str,
    today: NaiveDate,
) -> Result<(), PointsError> {
    if settings::get_bool(conn, settings::REVIEW_REQUIRED)? {
        return Ok(());
    }
    let award = find(conn, award_id)?.ok_or(PointsError::NotFound)?;
    let said = decided(&award, head_name, "award_approved_when_made");
    accept(conn, actor, &award, today, &said)
}

/// The audit row's words for a decision on `award`: the household's head,
/// the rule and the points (signed), under `audit_detail.<key>`
/// (`award_approved`, `award_approved_when_made`, `award_rejected`, which
/// also takes the `reason`).
pub fn decided(award: &Award, head_name: &str, key: &str) -> audit::Detail {
    decision_words(key, head_name, &award.rule_code, award.points)
}

/// [`decided`] from the award's parts, for rows written in bulk (the demo
/// city): `points` signed, in points.
pub fn decision_words(key: &str, head_name: &str, rule_code: &str, points: i64) -> audit::Detail {
    audit::Detail::new(key)
        .arg("name", head_name)
        .arg("rule", rule_code)
        .arg("points", format!("{points:+}"))
}

/// Propose one award. A form submitted twice (same key, same household,
/// rule, day and note) proposes once; the same key with other content is
/// refused (`error.form_key_reused`, a `KeyReused` conflict).
pub fn propose(
    conn: &mut DbConn,
    actor: &Actor,
    household_id: &HouseholdId,
    p: &Proposal,
    key: &str,
    today: NaiveDate,
) -> Result<Award, PointsError> {
    actor.require(Action::ProposeAwards)?;
    let meant = idempotency::fingerprint(&[
        household_id.as_str(),
        &p.rule_code,
        &p.occurred_on.to_string(),
        &p.note,
    ]);
    db::write_tx(conn, |c| {
        idempotency::hold_meaning(c, key, "award", &actor.user_id, &meant)?;
        if let Some(existing) = awards::table
            .filter(awards::idempotency_key.eq(key))
            .select(Award::as_select())
            .first(c)
            .optional()?
        {
            return Ok(existing);
        }
        let rule = usable_rule(c, p)?;
        let h = check_household(c, actor, household_id, &rule, p.occurred_on, None)?;
        let id = insert_award(
            c,
            actor,
            (household_id, &h.household.head_name),
            &rule,
            p,
            (None, Some(key)),
            today,
        )?;
        approve_if_review_off(c, actor, &id, &h.household.head_name, today)?;
        find(c, &id)?.ok_or(PointsError::NotFound)
    })
}

/// What a batch made: its id (the form's key), how many awards, and
/// whether it was a replay of a batch already made.
pub struct BatchOutcome {
    pub batch_id: String,
    pub created: usize,
    pub replayed: bool,
}

/// One entry of a batch as the page or the API sent it: a household by its
/// id (a tick, `household_ids[n]`) or by a pasted points card, or text that
/// reads as neither, with why.
#[derive(Debug, Clone)]
pub enum BatchEntry {
    Household(HouseholdId),
    Card(CardNo),
    /// Text that is no household id or no card number: the refusal that
    /// names it (see [`BatchEntry::household`], [`BatchEntry::card`]).
    Unreadable(FieldError),
}

impl BatchEntry {
    /// A household id as sent, the `n`th entry of the batch (1-based, so an
    /// API error names `household_ids[n-1]`).
    pub fn household(typed: &str, n: usize) -> BatchEntry {
        match HouseholdId::parse(typed.trim()) {
            Some(id) => BatchEntry::Household(id),
            None => BatchEntry::Unreadable(unknown_household(typed.trim(), n)),
        }
    }

    /// A pasted card number: one that does not read is refused naming it
    /// (its length or its check digit).
    pub fn card(typed: &str) -> BatchEntry {
        match CardNo::parse("field.card_no", typed) {
            Ok(card) => BatchEntry::Card(card),
            Err(e) => BatchEntry::Unreadable(
                FieldError::new(
                    "field.card_no",
                    if e.key == "error.card_check_digit" {
                        "error.card_line_check_digit"
                    } else {
                        "error.card_line_format"
                    },
                )
                .arg("card", typed)
                .arg("n", CardNo::LEN),
            ),
        }
    }

    /// What the entry says, for the batch's meaning (its idempotency key).
    fn meaning(&self) -> String {
        match self {
            BatchEntry::Household(id) => format!("h:{id}"),
            BatchEntry::Card(card) => format!("c:{}", card.as_str()),
            BatchEntry::Unreadable(e) => format!(
                "x:{}",
                e.arg_value("household")
                    .or(e.arg_value("card"))
                    .unwrap_or("")
            ),
        }
    }
}

/// The refusal of a batch entry that names no household of the actor's.
fn unknown_household(typed: &str, n: usize) -> FieldError {
    FieldError::new("field.households", "error.household_tick_unknown")
        .arg("household", typed)
        .arg("n", n)
}

/// A household's refusal in a batch, named: the field of its entry, the
/// household (its name, or the entry as typed) and, for an id, its place.
fn named_refusal(e: FieldError, entry: &BatchEntry, who: &str, n: usize) -> FieldError {
    let key = match e.key {
        "error.household_archived" => "error.batch_household_archived",
        "error.cap_count_reached" => "error.batch_cap_count_reached",
        "error.cap_points_reached" => "error.batch_cap_points_reached",
        other => other,
    };
    let mut out = FieldError {
        field: "field.households",
        key,
        args: e.args,
        others: Vec::new(),
        conflict: e.conflict,
    }
    .arg("household", who);
    match entry {
        BatchEntry::Card(_) => out.field = "field.card_no",
        _ => out = out.arg("n", n),
    }
    out
}

/// The most entries (ticks and pasted cards) one batch may hold: a village
/// has a few hundred households.
pub const MAX_BATCH: usize = 500;

/// One rule for many households at once (e.g. everyone at a training), all
/// or nothing: every entry is checked first, inside the transaction (one
/// that is not an id or a readable card, names no household of the actor's,
/// is a replaced card, an archived household or one over the rule's cap),
/// and when any is refused nothing is proposed and every refusal is named
/// at once (the first carrying the others). A household sent twice (two
/// ticks, a tick and its card) gets one award. The key is the batch's: sent
/// again with the same entries it replays, with others it is refused
/// (`error.form_key_reused`).
///
/// Errors: `PointsError::Invalid` with each refusal (a cap is a
/// `CapReached` conflict), `error.no_households` for no entry,
/// `error.batch_too_many` for more than [`MAX_BATCH`], a closed
/// month on `field.occurred_on`, `Forbidden` for a role that may not propose.
pub fn propose_batch(
    conn: &mut DbConn,
    actor: &Actor,
    entries: &[BatchEntry],
    p: &Proposal,
    key: &str,
    today: NaiveDate,
) -> Result<BatchOutcome, PointsError> {
    propose_batch_read(conn, actor, entries, Ok(p), key, today)
}

/// [`propose_batch`] for a form whose rule, day or note may have been
/// refused already ([`parse_proposal`]'s error, `Err` with the rule code
/// typed): the entries are checked all the same (text that is no id, a
/// household unknown, archived ...), so that every refusal of the form is
/// said in one answer; nothing is proposed.
pub fn propose_batch_read(
    conn: &mut DbConn,
    actor: &Actor,
    entries: &[BatchEntry],
    p: Result<&Proposal, (&str, FieldError)>,
    key: &str,
    today: NaiveDate,
) -> Result<BatchOutcome, PointsError> {
    actor.require(Action::ProposeAwards)?;
    if entries.len() > MAX_BATCH {
        return Err(FieldError::new("field.households", "error.batch_too_many")
            .arg("max", MAX_BATCH)
            .into());
    }
    let (refused, read);
    let p = match p {
        Ok(p) => {
            refused = None;
            p
        }
        Err((rule_code, e)) => {
            refused = Some(e);
            read = Proposal {
                rule_code: rule_code.trim().to_string(),
                occurred_on: today,
                note: String::new(),
            };
            &read
        }
    };
    let refused_field = |field: &str| {
        refused
            .as_ref()
            .is_some_and(|e| e.all().iter().any(|f| f.field == field))
    };
    // The day refused, nothing that depends on it is checked (a rule's
    // dates, a closed month, a cap).
    let (rule_refused, day_refused) = (
        refused_field("field.rule"),
        refused_field("field.occurred_on"),
    );
    // The entries in their order as sent: the same list again is a
    // replay, another list under the same key is refused.
    let mut parts = vec![
        p.rule_code.clone(),
        p.occurred_on.to_string(),
        p.note.clone(),
    ];
    parts.extend(entries.iter().map(BatchEntry::meaning));
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    let meant = idempotency::fingerprint(&refs);
    db::write_tx(conn, |c| {
        // Every entry checked before anything is written.
        let mut refusals = crate::domain::FieldChecks::new();
        if let Some(e) = &refused {
            refusals.push(e.clone());
        } else {
            idempotency::hold_meaning(c, key, "award_batch", &actor.user_id, &meant)?;
            let done: i64 = awards::table
                .filter(awards::batch_id.eq(key))
                .count()
                .get_result(c)?;
            if done > 0 {
                return Ok(BatchOutcome {
                    batch_id: key.to_string(),
                    created: done as usize,
                    replayed: true,
                });
            }
        }
        if entries.is_empty() {
            refusals.push(FieldError::new("field.households", "error.no_households"));
        }
        let rule = if rule_refused {
            None
        } else {
            match usable_rule(c, p) {
                Ok(rule) => Some(rule),
                // Not valid on a day that was refused: said by the day's.
                Err(PointsError::Invalid(e)) if day_refused && e.key == "error.rule_not_valid" => {
                    None
                }
                Err(PointsError::Invalid(e)) => {
                    refusals.push(e);
                    None
                }
                Err(e) => return Err(e),
            }
        };
        if !day_refused && let Some(m) = crate::reports::close::closed_month_of(c, p.occurred_on)? {
            refusals.push(crate::reports::close::closed_error("field.occurred_on", m));
        }
        let mut households_in = Vec::new();
        let mut seen = std::collections::HashSet::new();
        // An entry given twice (a card pasted twice, a tick sent twice) is
        // one entry: said once when refused.
        let mut entries_seen = std::collections::HashSet::new();
        for (i, entry) in entries.iter().enumerate() {
            let n = i + 1;
            if !entries_seen.insert(entry.meaning()) {
                continue;
            }
            let (hid, typed) = match entry {
                BatchEntry::Unreadable(e) => {
                    refusals.push(e.clone());
                    continue;
                }
                BatchEntry::Household(id) => (id.clone(), id.to_string()),
                BatchEntry::Card(card) => {
                    let typed = card.as_str().to_string();
                    match hh::lookup_card_for(c, actor, card)? {
                        hh::CardLookup::Current { household_id } => (household_id, typed),
                        hh::CardLookup::Replaced { .. } => {
                            refusals.push(
                                FieldError::new("field.card_no", "error.card_replaced_by")
                                    .arg("card", typed),
                            );
                            continue;
                        }
                        hh::CardLookup::Unknown => {
                            refusals.push(
                                FieldError::new("field.card_no", "error.card_unknown")
                                    .arg("card", typed),
                            );
                            continue;
                        }
                    }
                }
            };
            if !seen.insert(hid.clone()) {
                continue;
            }
            let h = match hh::find(c, actor, &hid) {
                Ok(h) => h,
                Err(hh::HouseholdError::NotFound) | Err(hh::HouseholdError::Forbidden) => {
                    refusals.push(match entry {
                        BatchEntry::Card(_) => {
                            FieldError::new("field.card_no", "error.card_unknown")
                                .arg("card", typed)
                        }
                        _ => unknown_household(&typed, n),
                    });
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let name = h.household.head_name.clone();
            if h.household.archived {
                refusals.push(named_refusal(
                    FieldError::new("field.household", "error.household_archived"),
                    entry,
                    &name,
                    n,
                ));
                continue;
            }
            let Some(rule) = rule.as_ref().filter(|_| !day_refused) else {
                continue;
            };
            ledger::lock_account(c, &ledger::household_account(&hid))?;
            match check_cap(c, &hid, rule, p.occurred_on, None) {
                Ok(()) => households_in.push((hid, name)),
                Err(PointsError::Invalid(e)) => refusals.push(named_refusal(e, entry, &name, n)),
                Err(e) => return Err(e),
            }
        }
        refusals.finish()?;
        let Some(rule) = rule else {
            // Unreachable: a rule not found is a refusal above.
            return Err(FieldError::new("field.rule", "error.rule_unknown").into());
        };
        for (hid, name) in &households_in {
            let id = insert_award(c, actor, (hid, name), &rule, p, (Some(key), None), today)?;
            approve_if_review_off(c, actor, &id, name, today)?;
        }
        Ok(BatchOutcome {
            batch_id: key.to_string(),
            created: households_in.len(),
            replayed: false,
        })
    })
}

fn own_pending(conn: &mut DbConn, actor: &Actor, award_id: &AwardId) -> Result<Award, PointsError> {
    let award = find(conn, award_id)?.ok_or(PointsError::NotFound)?;
    hh::find(conn, actor, &award.household_id)?;
    if award.proposed_by != actor.user_id && actor.role != Role::Admin {
        return Err(PointsError::Forbidden);
    }
    if !award.is_pending() {
        return Err(FieldError::conflict(
            "field.award",
            "error.award_not_pending",
            crate::domain::Conflict::Changed,
        )
        .arg("status", format!("@{}", award.status_key()))
        .into());
    }
    Ok(award)
}

/// Change a proposal that nobody has reviewed yet (any version).
pub fn edit(
    conn: &mut DbConn,
    actor: &Actor,
    award_id: &AwardId,
    p: &Proposal,
) -> Result<(), PointsError> {
    edit_seen(conn, actor, award_id, p, None)
}

/// Change a proposal that nobody has reviewed yet, as last seen at version
/// `seen` (refused, saying what it is now, when it has changed since).
pub fn edit_seen(
    conn: &mut DbConn,
    actor: &Actor,
    award_id: &AwardId,
    p: &Proposal,
    seen: Option<i64>,
) -> Result<(), PointsError> {
    actor.require(Action::ProposeAwards)?;
    db::write_tx(conn, |c| {
        let award = own_pending(c, actor, award_id)?;
        check_seen(&award, seen)?;
        let rule = usable_rule(c, p)?;
        check_household(
            c,
            actor,
            &award.household_id,
            &rule,
            p.occurred_on,
            Some(award_id),
        )?;
        transition(
            c,
            award_id,
            (AwardStatus::Pending, award.version),
            AwardStatus::Pending,
            AwardChanges {
                rule_id: Some(&rule.id),
                rule_code: Some(&rule.code),
                points: Some(rule.points),
                occurred_on: Some(p.occurred_on),
                note: Some(&p.note),
                ..Default::default()
            },
        )?;
        audit::record(
            c,
            &actor.audit(),
            "award.edit",
            "award",
            award_id,
            &audit::Detail::new("award")
                .arg("rule", &rule.code)
                .arg("day", p.occurred_on)
                .arg("points", format!("{:+}", rule.points))
                .to_string(),
        )?;
        Ok(())
    })
}

/// Withdraw one's own pending proposal (any version).
pub fn withdraw(conn: &mut DbConn, actor: &Actor, award_id: &AwardId) -> Result<(), PointsError> {
    withdraw_seen(conn, actor, award_id, None)
}

/// Withdraw one's own pending proposal as seen at version `seen`.
pub fn withdraw_seen(
    conn: &mut DbConn,
    actor: &Actor,
    award_id: &AwardId,
    seen: Option<i64>,
) -> Result<(), PointsError> {
    actor.require(Action::ProposeAwards)?;
    db::write_tx(conn, |c| {
        let award = own_pending(c, actor, award_id)?;
        check_seen(&award, seen)?;
        transition(
            c,
            award_id,
            (AwardStatus::Pending, award.version),
            AwardStatus::Withdrawn,
            AwardChanges::default(),
        )?;
        audit::record(c, &actor.audit(), "award.withdraw", "award", award_id, "")?;
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
            amount: award
                .points
                .checked_abs()
                .ok_or(ledger::LedgerError::BadAmount)?,
            kind,
            ref_kind: "award".into(),
            ref_id: award.id.to_string(),
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
/// otherwise straight to the ledger. One conditional update on (id,
/// pending, the version read); a lost race is refused, saying what the
/// award is now. `said` is the audit row's words ([`decided`]).
fn accept(
    conn: &mut DbConn,
    actor: &Actor,
    award: &Award,
    today: NaiveDate,
    said: &audit::Detail,
) -> Result<(), PointsError> {
    let notice_days = settings::get(conn, settings::NOTICE_DAYS)?;
    let reviewed = AwardChanges {
        reviewed_by: Some(actor.user_id.as_str()),
        reviewed_at: Some(db::now()),
        ..Default::default()
    };
    let from = (AwardStatus::Pending, award.version);
    if notice_days > 0 {
        let changes = AwardChanges {
            notice_until: Some(Some(today + chrono::Duration::days(notice_days))),
            settle_error: Some(""),
            ..reviewed
        };
        transition(conn, &award.id, from, AwardStatus::Noticed, changes)?;
    } else {
        transition(conn, &award.id, from, AwardStatus::Approved, reviewed)?;
    }
    if notice_days <= 0 {
        let entry_id = post_award(conn, award, Some(actor.user_id.clone()), today)?;
        diesel::update(awards::table.find(&award.id))
            .set(awards::entry_id.eq(&entry_id))
            .execute(conn)?;
    }
    totals::count_award(conn, &award.household_id, today, totals::APPROVED, 1)?;
    audit::record(
        conn,
        &actor.audit(),
        "award.approve",
        "award",
        &award.id,
        &said.to_string(),
    )?;
    Ok(())
}

pub enum Decision {
    Approve,
    Reject(String),
}

/// Review one award (any version). Nobody reviews an award they proposed,
/// or one for a household they are the helper of.
pub fn review(
    conn: &mut DbConn,
    actor: &Actor,
    award_id: &AwardId,
    decision: &Decision,
    today: NaiveDate,
) -> Result<(), PointsError> {
    review_seen(conn, actor, award_id, decision, None, today)
}

/// Review one award as the reviewer saw it (version `seen`): when it has
/// changed since, or someone else decided it first, the decision is
/// refused with what the award is now.
pub fn review_seen(
    conn: &mut DbConn,
    actor: &Actor,
    award_id: &AwardId,
    decision: &Decision,
    seen: Option<i64>,
    today: NaiveDate,
) -> Result<(), PointsError> {
    actor.require(Action::ReviewAwards)?;
    if let Decision::Reject(reason) = decision {
        if crate::domain::input::trim_text(reason).is_empty() {
            return Err(FieldError::new("field.reason", "error.reject_reason_required").into());
        }
        parse_optional_text("field.reason", reason, 200)?;
    }
    db::write_tx(conn, |c| {
        let award = find(c, award_id)?.ok_or(PointsError::NotFound)?;
        let h = hh::find(c, actor, &award.household_id)?;
        if award.proposed_by == actor.user_id {
            return Err(FieldError::new("field.award", "error.review_own").into());
        }
        if h.household.helper_id.as_deref() == Some(actor.user_id.as_str()) {
            return Err(FieldError::new("field.award", "error.review_own_household")
                .arg("name", &h.household.head_name)
                .into());
        }
        if !award.is_pending() {
            return Err(FieldError::conflict(
                "field.award",
                "error.award_not_pending",
                crate::domain::Conflict::Changed,
            )
            .arg("status", format!("@{}", award.status_key()))
            .into());
        }
        check_seen(&award, seen)?;
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
                let said = decided(&award, &h.household.head_name, "award_approved");
                accept(c, actor, &award, today, &said)
            }
            Decision::Reject(reason) => {
                let reason: String = reason.trim().chars().take(200).collect();
                transition(
                    c,
                    award_id,
                    (AwardStatus::Pending, award.version),
                    AwardStatus::Rejected,
                    AwardChanges {
                        reviewed_by: Some(actor.user_id.as_str()),
                        reviewed_at: Some(db::now()),
                        review_note: Some(&reason),
                        ..Default::default()
                    },
                )?;
                totals::count_award(c, &award.household_id, today, totals::REJECTED, 1)?;
                audit::record(
                    c,
                    &actor.audit(),
                    "award.reject",
                    "award",
                    award_id,
                    &decided(&award, &h.household.head_name, "award_rejected")
                        .arg("reason", &reason)
                        .to_string(),
                )?;
                Ok(())
            }
        }
    })
}

/// Review many at once, each as its reviewer saw it (award id, version
/// seen); each one stands or falls alone. Returns how many were done and
/// the ones that could not be, with why.
pub fn review_many(
    conn: &mut DbConn,
    actor: &Actor,
    ids: &[(AwardId, Option<i64>)],
    decision: &Decision,
    today: NaiveDate,
) -> Result<(usize, Vec<(AwardId, FieldError)>), PointsError> {
    actor.require(Action::ReviewAwards)?;
    let mut done = 0;
    let mut failed = Vec::new();
    for (id, seen) in ids {
        match review_seen(conn, actor, id, decision, *seen, today) {
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
    award_id: &AwardId,
    reason: &str,
    today: NaiveDate,
) -> Result<(), PointsError> {
    reverse_seen(conn, actor, award_id, reason, None, today)
}

/// Undo an approved award as seen at version `seen`.
pub fn reverse_seen(
    conn: &mut DbConn,
    actor: &Actor,
    award_id: &AwardId,
    reason: &str,
    seen: Option<i64>,
    today: NaiveDate,
) -> Result<(), PointsError> {
    actor.require(Action::ReverseAwards)?;
    // Refused when empty or too long, never cut short.
    let reason = crate::domain::parse_name("field.reason", reason, 200)?;
    db::write_tx(conn, |c| {
        let award = find(c, award_id)?.ok_or(PointsError::NotFound)?;
        hh::find(c, actor, &award.household_id)?;
        if !award.is_accepted() {
            return Err(FieldError::conflict(
                "field.award",
                "error.award_not_approved",
                crate::domain::Conflict::Changed,
            )
            .into());
        }
        check_seen(&award, seen)?;
        transition(
            c,
            award_id,
            (award.status, award.version),
            AwardStatus::Reversed,
            AwardChanges {
                reversed_by: Some(actor.user_id.as_str()),
                reversed_at: Some(db::now()),
                reverse_reason: Some(&reason),
                settle_error: Some(""),
                ..Default::default()
            },
        )?;
        if let Some(entry_id) = &award.entry_id {
            let entry = ledger::find_entry(c, entry_id)?.ok_or(PointsError::NotFound)?;
            ledger::reverse(
                c,
                &entry,
                Kind::AwardReversal,
                &reason,
                Some(actor.user_id.clone()),
                today,
            )?;
        }
        audit::record(
            c,
            &actor.audit(),
            "award.reverse",
            "award",
            award_id,
            &reason,
        )?;
        Ok(())
    })
}

/// An objection during the public notice puts the award back into review
/// (and out of the approvals counted in the month it was reviewed, whose
/// month is cut in `tz`).
pub fn object(
    conn: &mut DbConn,
    actor: &Actor,
    award_id: &AwardId,
    objection: &str,
    tz: chrono_tz::Tz,
) -> Result<(), PointsError> {
    object_seen(conn, actor, award_id, objection, None, tz)
}

/// An objection to the award as seen at version `seen`.
pub fn object_seen(
    conn: &mut DbConn,
    actor: &Actor,
    award_id: &AwardId,
    objection: &str,
    seen: Option<i64>,
    tz: chrono_tz::Tz,
) -> Result<(), PointsError> {
    actor.require(Action::ObjectToAwards)?;
    let objection = crate::domain::parse_name("field.objection", objection, 200)?;
    db::write_tx(conn, |c| {
        let award = find(c, award_id)?.ok_or(PointsError::NotFound)?;
        hh::find(c, actor, &award.household_id)?;
        if !award.is_noticed() {
            return Err(FieldError::conflict(
                "field.award",
                "error.award_not_noticed",
                crate::domain::Conflict::Changed,
            )
            .into());
        }
        check_seen(&award, seen)?;
        transition(
            c,
            award_id,
            (AwardStatus::Noticed, award.version),
            AwardStatus::Pending,
            AwardChanges {
                objection: Some(&objection),
                notice_until: Some(None),
                settle_error: Some(""),
                ..Default::default()
            },
        )?;
        if let Some(at) = award.reviewed_at {
            let day = chrono::TimeZone::from_utc_datetime(&tz, &at).date_naive();
            totals::count_award(c, &award.household_id, day, totals::APPROVED, -1)?;
        }
        audit::record(
            c,
            &actor.audit(),
            "award.object",
            "award",
            award_id,
            &objection,
        )?;
        Ok(())
    })
}

/// What one settlement run did: how many awards were credited, and the
/// ones that could not be (award id, why), each kept on notice with its
/// reason for the people who can act.
#[derive(Debug, Default)]
pub struct Settled {
    pub settled: usize,
    pub failed: Vec<(String, FieldError)>,
}

/// Post the awards whose notice period has ended without objection. Safe to
/// run any number of times, on any number of servers. Returns how many
/// were credited; see [`settle_notices_report`] for the failures.
pub fn settle_notices(conn: &mut DbConn, today: NaiveDate) -> Result<usize, PointsError> {
    Ok(settle_notices_report(conn, today)?.settled)
}

const SETTLE_PAGE: i64 = 500;

/// Settle every award due by `today`, each in its own savepoint: one that
/// fails (a deduction bigger than the balance, a closed month) is rolled
/// back alone, marked with its reason (`settle_error`) and retried on
/// later runs; the rest go through.
pub fn settle_notices_report(conn: &mut DbConn, today: NaiveDate) -> Result<Settled, PointsError> {
    let mut out = Settled::default();
    let mut after = String::new();
    loop {
        let due: Vec<Award> = awards::table
            .filter(awards::status.eq(AwardStatus::Noticed))
            .filter(awards::notice_until.lt(today))
            .filter(awards::id.gt(&after))
            // An entry a household objected to waits for the reviewer's decision.
            .filter(diesel::dsl::not(diesel::dsl::exists(
                notice_objections::table
                    .filter(notice_objections::award_id.eq(awards::id))
                    .filter(
                        notice_objections::status
                            .eq(crate::window::objections::Status::Open.as_str()),
                    ),
            )))
            .order(awards::id.asc())
            .select(Award::as_select())
            .limit(SETTLE_PAGE)
            .load(conn)?;
        let Some(last) = due.last() else { break };
        after = last.id.to_string();
        for award in &due {
            match settle_one(conn, award, today) {
                Ok(n) => out.settled += n,
                Err(e) => out.failed.push((award.id.to_string(), e)),
            }
        }
        if (due.len() as i64) < SETTLE_PAGE {
            break;
        }
    }
    Ok(out)
}

/// One award: its own transaction, the posting in a savepoint inside it;
/// when the posting fails the reason is written on the award instead.
fn settle_one(conn: &mut DbConn, award: &Award, today: NaiveDate) -> Result<usize, FieldError> {
    let r = db::write_tx(conn, |c| {
        let attempt = db::write_tx(c, |c| {
            let settled = transition(
                c,
                &award.id,
                (AwardStatus::Noticed, award.version),
                AwardStatus::Approved,
                AwardChanges {
                    settle_error: Some(""),
                    ..Default::default()
                },
            );
            match settled {
                Ok(()) => {}
                // Objected to, reversed or settled elsewhere meanwhile:
                // nothing is due any more.
                Err(PointsError::Invalid(_) | PointsError::NotFound) => return Ok(0),
                Err(e) => return Err(e),
            }
            let entry_id = post_award(c, award, award.reviewed_by.clone(), today)?;
            diesel::update(awards::table.find(&award.id))
                .set(awards::entry_id.eq(&entry_id))
                .execute(c)?;
            audit::record(
                c,
                &AuditCtx::console(),
                "award.settle",
                "award",
                &award.id,
                &audit::Detail::new("notice_over").to_string(),
            )?;
            Ok::<usize, PointsError>(1)
        });
        let e = match attempt {
            Ok(n) => return Ok(Ok(n)),
            Err(e) if db::RetryableError::is_retryable(&e) => return Err(e),
            Err(PointsError::Invalid(e)) => e,
            Err(other) => {
                FieldError::new("field.award", "error.settle_failed").arg("why", e_text(&other))
            }
        };
        // Only the marker changes: the award stays on notice, at its
        // version, so nobody's decision is refused over it.
        diesel::update(
            awards::table
                .find(&award.id)
                .filter(awards::status.eq(AwardStatus::Noticed)),
        )
        .set(awards::settle_error.eq(settle_reason(&e)))
        .execute(c)?;
        Ok(Err(e))
    });
    match r {
        Ok(r) => r,
        Err(e) => Err(FieldError::new("field.award", "error.settle_failed").arg("why", e_text(&e))),
    }
}

fn e_text(e: &PointsError) -> String {
    match e {
        PointsError::Db(d) => d.to_string(),
        other => other.to_string(),
    }
}

/// A field error as stored text, shown later in the reader's language by
/// [`settle_error_text`].
fn settle_reason(e: &FieldError) -> String {
    crate::operations::store_error("", e)
}

/// The stored reason an award could not be settled, in `lang` (empty when
/// nothing failed).
pub fn settle_error_text(lang: crate::i18n::Lang, stored: &str) -> String {
    crate::operations::show_message(lang, stored)
}

/// The scheduled settlement: settle what is due by `today` and record the
/// run (how many were credited; each failure with the household, the rule
/// and why) for the operations page.
pub fn settle_job(conn: &mut DbConn, today: NaiveDate) -> Result<Settled, PointsError> {
    let out = settle_notices_report(conn, today)?;
    let mut failed = Vec::new();
    for (id, e) in &out.failed {
        let who: Option<(String, String)> = awards::table
            .inner_join(households::table)
            .filter(awards::id.eq(id))
            .select((households::head_name, awards::rule_code))
            .first(conn)
            .optional()?;
        let prefix = match who {
            Some((name, rule)) => format!("{name} {rule}"),
            None => id.clone(),
        };
        failed.push(crate::operations::store_error(&prefix, e));
    }
    crate::operations::record_run(
        conn,
        "settle",
        &crate::operations::store_message("", "ops.job_settled", &[("n", out.settled.to_string())]),
        &failed,
    )?;
    Ok(out)
}

/// Which of the awards waiting for review to show: all, or those of one
/// area (a village, or anything above it inside the scope), one rule, one
/// proposer. Empty strings filter nothing.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub area_id: String,
    pub rule_code: String,
    pub proposer_id: String,
}

/// Awards waiting for review in the scope, oldest first, filtered.
pub fn review_queue(
    conn: &mut DbConn,
    actor: &Actor,
    filter: &QueueFilter,
    limit: i64,
) -> Result<Vec<AwardRow>, PointsError> {
    let scope = &actor.scope;
    let mut q = award_rows!(scope_like(scope)?)
        .filter(awards::status.eq(AwardStatus::Pending))
        .order((awards::proposed_at.asc(), awards::id.asc()))
        .limit(limit);
    if !filter.area_id.is_empty() {
        // The area's own path, so a village of another scope filters nothing in.
        let path: Option<String> = areas::table
            .find(&filter.area_id)
            .select(areas::path)
            .first(conn)
            .optional()?;
        let Some(path) = path else {
            return Ok(Vec::new());
        };
        q = q.filter(areas::path.like(db::path_prefix(&path)));
    }
    if !filter.rule_code.is_empty() {
        q = q.filter(rules::code.eq(&filter.rule_code));
    }
    if !filter.proposer_id.is_empty() {
        q = q.filter(awards::proposed_by.eq(&filter.proposer_id));
    }
    let rows = q.load::<RowTuple>(conn)?;
    Ok(name_villages(
        conn,
        actor,
        rows.into_iter().map(to_row).collect(),
    )?)
}

/// The head of household of each award: (award id, name).
pub fn household_names(
    conn: &mut DbConn,
    award_ids: &[String],
) -> Result<Vec<(String, String)>, PointsError> {
    let mut out = Vec::new();
    for chunk in award_ids.chunks(500) {
        out.extend(
            awards::table
                .inner_join(households::table)
                .filter(awards::id.eq_any(chunk))
                .select((awards::id, households::head_name))
                .load::<(String, String)>(conn)?,
        );
    }
    Ok(out)
}

/// Who has proposed awards now waiting in the scope: (user id, name), by
/// name; what the review queue's proposer filter offers.
pub fn queue_proposers(
    conn: &mut DbConn,
    actor: &Actor,
) -> Result<Vec<(String, String)>, PointsError> {
    let scope = &actor.scope;
    let mut q = awards::table
        .inner_join(households::table.inner_join(areas::table))
        .inner_join(users::table.on(users::id.eq(awards::proposed_by)))
        .filter(awards::status.eq(AwardStatus::Pending))
        .select((users::id, users::username, users::display_name))
        .distinct()
        .into_boxed();
    if let Some(p) = scope_like(scope)? {
        q = q.filter(areas::path.like(p));
    }
    let mut rows: Vec<(String, String, String)> = q.load(conn)?;
    rows.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(rows
        .into_iter()
        .map(|(id, username, display)| {
            let name = if display.is_empty() {
                username
            } else {
                display
            };
            (id, name)
        })
        .collect())
}

/// The recent decided awards of each of `household_ids` (at most `per`
/// each, newest first): what a reviewer reads beside an award.
pub fn recent_for_households(
    conn: &mut DbConn,
    household_ids: &[&str],
    per: usize,
) -> Result<Vec<AwardRow>, PointsError> {
    let mut out: Vec<AwardRow> = Vec::new();
    for chunk in household_ids.chunks(500) {
        let rows = award_rows!(None::<String>)
            .filter(awards::household_id.eq_any(chunk))
            .filter(awards::status.ne(AwardStatus::Pending))
            .order((awards::occurred_on.desc(), awards::proposed_at.desc()))
            .limit(5000)
            .load::<RowTuple>(conn)?;
        let mut seen: std::collections::HashMap<String, usize> = Default::default();
        for r in rows.into_iter().map(to_row) {
            let n = seen.entry(r.award.household_id.to_string()).or_default();
            if *n < per {
                *n += 1;
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// Awards in the scope whose notice has ended but which could not be
/// credited (with the reason), oldest first.
pub fn unsettled(
    conn: &mut DbConn,
    actor: &Actor,
    limit: i64,
) -> Result<Vec<AwardRow>, PointsError> {
    let scope = &actor.scope;
    let rows = award_rows!(scope_like(scope)?)
        .filter(awards::status.eq(AwardStatus::Noticed))
        .filter(awards::settle_error.ne(""))
        .order((awards::notice_until.asc(), awards::id.asc()))
        .limit(limit)
        .load::<RowTuple>(conn)?;
    Ok(name_villages(
        conn,
        actor,
        rows.into_iter().map(to_row).collect(),
    )?)
}

/// A household's awards, latest deed first, at most 500.
pub fn for_household(
    conn: &mut DbConn,
    household_id: &HouseholdId,
) -> Result<Vec<AwardRow>, PointsError> {
    of_household(conn, household_id, None, 500)
}

/// A household's awards, latest deed first: those in `status` only when
/// given (filtered in the query, so `limit` counts only those), at most
/// `limit`.
pub fn of_household(
    conn: &mut DbConn,
    household_id: &HouseholdId,
    status: Option<AwardStatus>,
    limit: i64,
) -> Result<Vec<AwardRow>, PointsError> {
    let mut q = award_rows!(None::<String>)
        .filter(awards::household_id.eq(household_id))
        .order((awards::occurred_on.desc(), awards::proposed_at.desc()))
        .limit(limit);
    if let Some(s) = status {
        q = q.filter(awards::status.eq(s));
    }
    let rows = q.load::<RowTuple>(conn)?;
    Ok(rows.into_iter().map(to_row).collect())
}

/// The awards `user_id` proposed, newest first: those in `status` only
/// when given (filtered in the query, so `limit` counts only those), at
/// most `limit`.
pub fn proposed_by(
    conn: &mut DbConn,
    user_id: &str,
    status: Option<AwardStatus>,
    limit: i64,
) -> Result<Vec<AwardRow>, PointsError> {
    let mut q = award_rows!(None::<String>)
        .filter(awards::proposed_by.eq(user_id))
        .order((awards::proposed_at.desc(), awards::id.desc()))
        .limit(limit);
    if let Some(s) = status {
        q = q.filter(awards::status.eq(s));
    }
    let rows = q.load::<RowTuple>(conn)?;
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
    actor: &Actor,
    village_path: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<AwardRow>, PointsError> {
    let scope = &actor.scope;
    if !scope.covers_area_path(village_path) {
        return Err(PointsError::Forbidden);
    }
    let rows = award_rows!(Some(db::path_prefix(village_path)))
        .filter(awards::status.eq_any(AwardStatus::ACCEPTED))
        .filter(awards::occurred_on.ge(from))
        .filter(awards::occurred_on.le(to))
        .order((households::head_name.asc(), awards::occurred_on.asc()))
        .load::<RowTuple>(conn)?;
    Ok(rows.into_iter().map(to_row).collect())
}
