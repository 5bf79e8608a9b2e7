//! Points: the rulebook (积分细则), awards with review (积分申报 / 审核),
//! public notice (公示) and manual adjustments. Everything that moves points
//! goes through the ledger.

pub mod adjustments;
pub mod awards;
pub mod expiry;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::audit;
use crate::auth::{Action, Actor};
use crate::db::schema::{rule_categories, rules};
use crate::db::{self, DbConn};
use crate::domain::{FieldError, parse_name};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = rule_categories)]
pub struct Category {
    pub id: String,
    pub name: String,
    pub position: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = rules)]
pub struct Rule {
    pub id: String,
    pub code: String,
    pub version: i64,
    pub name: String,
    pub category_id: String,
    pub points: i64,
    pub cap_count: Option<i64>,
    pub cap_points: Option<i64>,
    pub cap_period: Option<String>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub active: bool,
    pub superseded_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub created_by: String,
}

impl Rule {
    pub fn period(&self) -> Option<Period> {
        self.cap_period.as_deref().and_then(Period::parse)
    }

    /// Whether the rule can be used for something that happened on `day`.
    pub fn valid_on(&self, day: NaiveDate) -> bool {
        self.active
            && self.valid_from.is_none_or(|f| day >= f)
            && self.valid_to.is_none_or(|t| day <= t)
    }

    pub fn period_key(&self) -> &'static str {
        self.period().map(Period::label_key).unwrap_or("")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
    Year,
}

impl Period {
    pub const ALL: [Period; 4] = [Period::Day, Period::Week, Period::Month, Period::Year];

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Year => "year",
        }
    }

    pub fn parse(s: &str) -> Option<Period> {
        Period::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Period::Day => "rules.per_day",
            Period::Week => "rules.per_week",
            Period::Month => "rules.per_month",
            Period::Year => "rules.per_year",
        }
    }

    /// The calendar period containing `day`: [start, end).
    pub fn window(self, day: NaiveDate) -> (NaiveDate, NaiveDate) {
        match self {
            Period::Day => (day, day + chrono::Duration::days(1)),
            Period::Week => {
                let start =
                    day - chrono::Duration::days(day.weekday().num_days_from_monday() as i64);
                (start, start + chrono::Duration::days(7))
            }
            Period::Month => {
                let start = day.with_day(1).expect("day 1");
                let end = if start.month() == 12 {
                    NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)
                }
                .expect("valid month");
                (start, end)
            }
            Period::Year => (
                NaiveDate::from_ymd_opt(day.year(), 1, 1).expect("1 January"),
                NaiveDate::from_ymd_opt(day.year() + 1, 1, 1).expect("1 January"),
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PointsError {
    #[error("invalid field")]
    Invalid(FieldError),
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

impl From<FieldError> for PointsError {
    fn from(e: FieldError) -> Self {
        PointsError::Invalid(e)
    }
}

impl From<crate::idempotency::Error> for PointsError {
    fn from(e: crate::idempotency::Error) -> Self {
        match e {
            crate::idempotency::Error::Reused(f) => PointsError::Invalid(f),
            crate::idempotency::Error::Raced => PointsError::Db(crate::idempotency::raced_as_db()),
            crate::idempotency::Error::Db(d) => PointsError::Db(d),
        }
    }
}

impl From<crate::auth::Forbidden> for PointsError {
    fn from(_: crate::auth::Forbidden) -> Self {
        PointsError::Forbidden
    }
}

impl From<crate::households::HouseholdError> for PointsError {
    fn from(e: crate::households::HouseholdError) -> Self {
        use crate::households::HouseholdError as H;
        match e {
            H::Invalid(f) => PointsError::Invalid(f),
            H::NotFound => PointsError::NotFound,
            H::Forbidden => PointsError::Forbidden,
            H::Db(d) => PointsError::Db(d),
        }
    }
}

impl From<crate::ledger::LedgerError> for PointsError {
    fn from(e: crate::ledger::LedgerError) -> Self {
        use crate::ledger::LedgerError as L;
        match e {
            L::Insufficient { balance, needed } => {
                crate::ledger::insufficient_error(balance, needed).into()
            }
            L::BadAmount => FieldError::new("field.points", "error.points_nonzero").into(),
            L::MonthClosed(m) => crate::reports::close::closed_error("field.date", m).into(),
            L::FarFuture(d) => crate::ledger::closed::far_future_error("field.date", d).into(),
            L::Forbidden => PointsError::Forbidden,
            L::Db(d) => PointsError::Db(d),
        }
    }
}

impl db::RetryableError for PointsError {
    fn is_retryable(&self) -> bool {
        matches!(self, PointsError::Db(e) if e.is_retryable())
    }
}

pub fn categories(conn: &mut DbConn) -> QueryResult<Vec<Category>> {
    rule_categories::table
        .order((rule_categories::position.asc(), rule_categories::name.asc()))
        .select(Category::as_select())
        .load(conn)
}

/// Add a rule category. Errors: `Forbidden` for a role that may not keep
/// the rules; a name taken.
pub fn add_category(conn: &mut DbConn, ctx: &Actor, name: &str) -> Result<Category, PointsError> {
    ctx.require(Action::ManageRules)?;
    let name = parse_name("field.category", name, 30)?;
    let r = db::write_tx(conn, |c| {
        let id = db::new_id();
        let pos: Option<i64> = rule_categories::table
            .select(diesel::dsl::max(rule_categories::position))
            .first(c)?;
        diesel::insert_into(rule_categories::table)
            .values((
                rule_categories::id.eq(&id),
                rule_categories::name.eq(&name),
                rule_categories::position.eq(pos.unwrap_or(0) + 1),
            ))
            .execute(c)?;
        audit::record(c, ctx, "rule_category.create", "rule_category", &id, &name)?;
        Ok::<_, PointsError>(
            rule_categories::table
                .find(&id)
                .select(Category::as_select())
                .first(c)?,
        )
    });
    match r {
        Err(PointsError::Db(e)) if db::is_unique_violation(&e) => Err(FieldError::conflict(
            "field.category",
            "error.category_taken",
            crate::domain::Conflict::Taken,
        )
        .arg("name", &name)
        .into()),
        other => other,
    }
}

/// The rulebook's edition: how many rule versions were ever written (each
/// new rule, change or retirement makes the next edition), and when the
/// latest was written (UTC; `None` for an empty rulebook).
pub fn rulebook_edition(conn: &mut DbConn) -> QueryResult<(i64, Option<NaiveDateTime>)> {
    rules::table
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::max(rules::created_at),
        ))
        .first(conn)
}

/// The rules in force (current versions), by category and code.
pub fn current_rules(conn: &mut DbConn) -> QueryResult<Vec<(Rule, String)>> {
    rules::table
        .inner_join(rule_categories::table)
        .filter(rules::superseded_by.is_null())
        .order((rule_categories::position.asc(), rules::code.asc()))
        .select((Rule::as_select(), rule_categories::name))
        .load(conn)
}

pub fn find_rule(conn: &mut DbConn, id: &str) -> QueryResult<Option<Rule>> {
    rules::table
        .find(id)
        .select(Rule::as_select())
        .first(conn)
        .optional()
}

pub fn current_rule(conn: &mut DbConn, code: &str) -> QueryResult<Option<Rule>> {
    rules::table
        .filter(rules::code.eq(code))
        .filter(rules::superseded_by.is_null())
        .select(Rule::as_select())
        .first(conn)
        .optional()
}

pub fn rule_versions(conn: &mut DbConn, code: &str) -> QueryResult<Vec<Rule>> {
    rules::table
        .filter(rules::code.eq(code))
        .order(rules::version.desc())
        .select(Rule::as_select())
        .load(conn)
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RuleForm {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub category_id: String,
    #[serde(default)]
    pub points: String,
    #[serde(default)]
    pub cap_count: String,
    #[serde(default)]
    pub cap_points: String,
    #[serde(default)]
    pub cap_period: String,
    #[serde(default)]
    pub valid_from: String,
    #[serde(default)]
    pub valid_to: String,
    #[serde(default)]
    pub active: String,
    /// The rule's version when the edit form was opened (edits only).
    #[serde(default)]
    pub version: String,
}

impl RuleForm {
    /// An empty form for a new rule (active by default).
    pub fn blank() -> RuleForm {
        RuleForm {
            active: "1".into(),
            ..RuleForm::default()
        }
    }
}

impl From<&Rule> for RuleForm {
    fn from(r: &Rule) -> RuleForm {
        RuleForm {
            code: r.code.clone(),
            name: r.name.clone(),
            category_id: r.category_id.clone(),
            points: r.points.to_string(),
            cap_count: r.cap_count.map(|n| n.to_string()).unwrap_or_default(),
            cap_points: r.cap_points.map(|n| n.to_string()).unwrap_or_default(),
            cap_period: r.cap_period.clone().unwrap_or_default(),
            valid_from: r.valid_from.map(|d| d.to_string()).unwrap_or_default(),
            valid_to: r.valid_to.map(|d| d.to_string()).unwrap_or_default(),
            active: if r.active { "1".into() } else { String::new() },
            version: r.version.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RuleInput {
    pub code: String,
    pub name: String,
    pub category_id: String,
    pub points: i64,
    pub cap_count: Option<i64>,
    pub cap_points: Option<i64>,
    pub cap_period: Option<Period>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub active: bool,
}

/// An optional date (`YYYY-MM-DD`); the one date parser.
pub use crate::domain::input::parse_optional_date as parse_date;

fn parse_optional_positive(field: &'static str, s: &str) -> Result<Option<i64>, FieldError> {
    let s = crate::domain::input::normalize(s);
    if s.is_empty() {
        return Ok(None);
    }
    match crate::domain::input::whole_number(&s).ok_or(()) {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(Some(n)),
        _ => Err(FieldError::new(field, "error.positive_whole")),
    }
}

/// The largest size of any one points value typed in (a rule, an
/// adjustment), in points, either way.
pub const MAX_POINTS: i64 = 100_000;

/// Whole points, not zero, within +/- [`MAX_POINTS`]. Never overflows: the
/// range is checked without `abs()` (which wraps on `i64::MIN`).
pub fn parse_points(field: &'static str, s: &str) -> Result<i64, FieldError> {
    let s = crate::domain::input::normalize(s);
    if s.is_empty() {
        return Err(FieldError::new(field, "error.required"));
    }
    match crate::domain::input::whole_number(&s).ok_or(()) {
        Ok(0) => Err(FieldError::new(field, "error.points_nonzero")),
        Ok(n) if (-MAX_POINTS..=MAX_POINTS).contains(&n) => Ok(n),
        Ok(_) => Err(FieldError::new(field, "error.number_range")
            .arg("min", -MAX_POINTS)
            .arg("max", MAX_POINTS)),
        // Digits beyond i64 are out of range too, not "not a number".
        Err(_)
            if s.trim_start_matches(['-', '+'])
                .bytes()
                .all(|b| b.is_ascii_digit()) =>
        {
            Err(FieldError::new(field, "error.number_range")
                .arg("min", -MAX_POINTS)
                .arg("max", MAX_POINTS))
        }
        Err(_) => Err(FieldError::new(field, "error.points_whole")),
    }
}

pub fn parse_rule_form(conn: &mut DbConn, f: &RuleForm) -> Result<RuleInput, PointsError> {
    // Every field is checked, so all that is wrong shows at once.
    let mut checks = crate::domain::FieldChecks::new();
    let code = f.code.trim().to_uppercase();
    if code.is_empty() {
        checks.push(FieldError::new("field.rule_code", "error.required"));
    } else if code.len() > 20
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        checks.push(FieldError::new("field.rule_code", "error.rule_code_format"));
    }
    let name = checks.take(parse_name("field.rule_name", &f.name, 100));
    let exists: i64 = rule_categories::table
        .find(f.category_id.trim())
        .count()
        .get_result(conn)?;
    if exists == 0 {
        checks.push(FieldError::new("field.category", "error.category_unknown"));
    }
    let points = checks.take(parse_points("field.points", &f.points));
    let cap_count = checks
        .take(parse_optional_positive("field.cap_count", &f.cap_count))
        .flatten();
    let cap_points = checks
        .take(parse_optional_positive("field.cap_points", &f.cap_points))
        .flatten();
    let cap_period = match f.cap_period.trim() {
        "" => None,
        p => checks.take(
            Period::parse(p).ok_or(FieldError::new("field.cap_period", "error.period_unknown")),
        ),
    };
    if (cap_count.is_some() || cap_points.is_some())
        && cap_period.is_none()
        && !checks.has("field.cap_period")
    {
        checks.push(FieldError::new(
            "field.cap_period",
            "error.cap_needs_period",
        ));
    }
    let valid_from = checks
        .take(parse_date("field.valid_from", &f.valid_from))
        .flatten();
    let valid_to = checks
        .take(parse_date("field.valid_to", &f.valid_to))
        .flatten();
    if let (Some(a), Some(b)) = (valid_from, valid_to)
        && b < a
    {
        checks.push(FieldError::new("field.valid_to", "error.date_before_start"));
    }
    checks.finish()?;
    Ok(RuleInput {
        code,
        name: name.unwrap_or_default(),
        category_id: f.category_id.trim().to_string(),
        points: points.unwrap_or_default(),
        cap_count,
        cap_points,
        cap_period,
        valid_from,
        valid_to,
        active: matches!(f.active.as_str(), "1" | "on" | "true"),
    })
}

fn insert_rule(
    conn: &mut DbConn,
    ctx: &Actor,
    input: &RuleInput,
    version: i64,
) -> QueryResult<String> {
    let id = db::new_id();
    diesel::insert_into(rules::table)
        .values((
            rules::id.eq(&id),
            rules::code.eq(&input.code),
            rules::version.eq(version),
            rules::name.eq(&input.name),
            rules::category_id.eq(&input.category_id),
            rules::points.eq(input.points),
            rules::cap_count.eq(input.cap_count),
            rules::cap_points.eq(input.cap_points),
            rules::cap_period.eq(input.cap_period.map(Period::as_str)),
            rules::valid_from.eq(input.valid_from),
            rules::valid_to.eq(input.valid_to),
            rules::active.eq(input.active),
            rules::created_at.eq(db::now()),
            rules::created_by.eq(&ctx.username),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Add a rule (its first version). Errors: `Forbidden` for a role that may
/// not keep the rules; a code taken.
pub fn create_rule(conn: &mut DbConn, ctx: &Actor, input: &RuleInput) -> Result<Rule, PointsError> {
    ctx.require(Action::ManageRules)?;
    db::write_tx(conn, |c| {
        let taken: i64 = rules::table
            .filter(rules::code.eq(&input.code))
            .count()
            .get_result(c)?;
        if taken > 0 {
            return Err(FieldError::conflict(
                "field.rule_code",
                "error.rule_code_taken",
                crate::domain::Conflict::Taken,
            )
            .arg("code", &input.code)
            .into());
        }
        let id = insert_rule(c, ctx, input, 1)?;
        audit::record(
            c,
            ctx,
            "rule.create",
            "rule",
            &id,
            &audit::Detail::new("rule_create")
                .arg("code", &input.code)
                .arg("name", &input.name)
                .arg("points", input.points)
                .to_string(),
        )?;
        find_rule(c, &id)?.ok_or(PointsError::NotFound)
    })
}

/// Editing a rule, as seen at version `seen` (when given), adds a version
/// and retires the old one; awards keep the version they were made under.
/// Errors: `Forbidden` for a role that may not keep the rules; `NotFound`;
/// a conflict (409) when the rule was edited after `seen` (the retiring is
/// one conditional update on the current version).
pub fn edit_rule(
    conn: &mut DbConn,
    ctx: &Actor,
    code: &str,
    input: &RuleInput,
    seen: Option<i64>,
) -> Result<Rule, PointsError> {
    ctx.require(Action::ManageRules)?;
    db::write_tx(conn, |c| {
        let old = current_rule(c, code)?.ok_or(PointsError::NotFound)?;
        if seen.is_some_and(|v| v != old.version) {
            return Err(rule_changed_meanwhile(&old));
        }
        let mut input = input.clone();
        input.code = old.code.clone();
        // The partial unique index allows one current version: retire first,
        // only if it is still the current version read.
        let n = diesel::update(
            rules::table
                .find(&old.id)
                .filter(rules::version.eq(old.version))
                .filter(rules::superseded_by.is_null()),
        )
        .set(rules::superseded_by.eq(""))
        .execute(c)?;
        if n == 0 {
            let now = current_rule(c, code)?.ok_or(PointsError::NotFound)?;
            return Err(rule_changed_meanwhile(&now));
        }
        let id = insert_rule(c, ctx, &input, old.version + 1)?;
        diesel::update(rules::table.find(&old.id))
            .set(rules::superseded_by.eq(&id))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            "rule.edit",
            "rule",
            &id,
            &audit::Detail::new("rule_edit")
                .arg("code", &old.code)
                .arg("version", old.version + 1)
                .arg("from", old.points)
                .arg("to", input.points)
                .to_string(),
        )?;
        find_rule(c, &id)?.ok_or(PointsError::NotFound)
    })
}

/// "This rule was changed after you opened the form": what it is called now.
fn rule_changed_meanwhile(rule: &Rule) -> PointsError {
    FieldError::conflict(
        "field.rule",
        "error.record_changed",
        crate::domain::Conflict::Changed,
    )
    .arg("name", &rule.name)
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_calendar_periods() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap(); // a Sunday
        assert_eq!(
            Period::Week.window(d).0,
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
        );
        assert_eq!(
            Period::Month.window(d),
            (
                NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
                NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
            )
        );
        let dec = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        assert_eq!(
            Period::Month.window(dec).1,
            NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
        );
        assert_eq!(
            Period::Year.window(dec).0,
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
        );
        assert_eq!(
            Period::Day.window(d).1,
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
        );
    }

    #[test]
    fn points_are_whole_and_not_zero() {
        assert_eq!(parse_points("f", "5").unwrap(), 5);
        assert_eq!(parse_points("f", "-3").unwrap(), -3);
        assert_eq!(
            parse_points("f", "0").unwrap_err().key,
            "error.points_nonzero"
        );
        assert_eq!(
            parse_points("f", "1.5").unwrap_err().key,
            "error.points_whole"
        );
        assert_eq!(parse_points("f", "").unwrap_err().key, "error.required");
    }

    #[test]
    fn points_are_bounded_and_never_wrap() {
        assert_eq!(parse_points("f", "100000").unwrap(), MAX_POINTS);
        assert_eq!(parse_points("f", "-100000").unwrap(), -MAX_POINTS);
        for typed in [
            "100001",
            "-100001",
            "-9223372036854775808",
            "9223372036854775807",
            "99999999999999999999",
            "-99999999999999999999",
        ] {
            assert_eq!(
                parse_points("f", typed).unwrap_err().key,
                "error.number_range",
                "{typed}"
            );
        }
    }
}
