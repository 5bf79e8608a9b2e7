//! Points expiry (a scheme setting, off by default): points expire at the
//! end of the Nth calendar year after the year they were earned, or N months
//! after they were earned; oldest points first.
//!
//! FIFO makes this arithmetic on totals: whatever left a household's account
//! (spending, deductions, earlier expiries) came out of its oldest points, so
//! what has expired by a cutoff date is
//! `max(0, earned on or before the cutoff - everything that ever left)`.
//!
//! Reversals are not spending and not earning: a reversed award takes back
//! its own points (the credit it reverses no longer counts as earned, on
//! the day it was earned), and a voided redemption gives its points back
//! with their original earning dates (the debit it reverses no longer
//! counts as having left).
//!
//! Each run posts the difference through the ledger under the key
//! `expiry:<household>:<cutoff>:<points expired before>`, so running it
//! twice expires nothing more, while points that come due later under the
//! same cutoff (a voided redemption's old points) still expire.

use std::collections::HashMap;

use chrono::{Datelike, Months, NaiveDate};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::audit;
use crate::auth::{Action, Actor};
use crate::db::schema::{point_balances, point_entries};
use crate::db::{self, DbConn};
use crate::ledger::{self, Kind, Posting};
use crate::settings;

/// How points expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// At the end of the Nth calendar year after the year earned.
    Years(u32),
    /// N months after the day earned.
    Months(u32),
}

impl Rule {
    /// The scheme's rule, or None when points do not expire.
    pub fn of_scheme(conn: &mut DbConn) -> QueryResult<Option<Rule>> {
        let years = settings::get(conn, settings::EXPIRY_YEARS)?;
        let months = settings::get(conn, settings::EXPIRY_MONTHS)?;
        Ok(if years > 0 {
            Some(Rule::Years(years as u32))
        } else if months > 0 {
            Some(Rule::Months(months as u32))
        } else {
            None
        })
    }

    /// The last day on which earned points have expired by `as_of`: points
    /// earned on or before it are expired on `as_of`.
    pub fn cutoff(self, as_of: NaiveDate) -> NaiveDate {
        match self {
            Rule::Years(n) => NaiveDate::from_ymd_opt(as_of.year() - n as i32 - 1, 12, 31)
                .unwrap_or(NaiveDate::MIN),
            Rule::Months(n) => as_of
                .checked_sub_months(Months::new(n))
                .unwrap_or(NaiveDate::MIN),
        }
    }

    /// The last day on which points earned on `earned` are still valid.
    pub fn valid_until(self, earned: NaiveDate) -> NaiveDate {
        match self {
            Rule::Years(n) => {
                NaiveDate::from_ymd_opt(earned.year() + n as i32, 12, 31).unwrap_or(NaiveDate::MAX)
            }
            Rule::Months(n) => {
                // The first day whose cutoff reaches `earned` (month ends
                // make this a few days around `earned + n months`).
                let Some(approx) = earned.checked_add_months(Months::new(n)) else {
                    return NaiveDate::MAX;
                };
                let mut day = approx - chrono::Duration::days(4);
                while self.cutoff(day) < earned {
                    day += chrono::Duration::days(1);
                }
                day - chrono::Duration::days(1)
            }
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub cutoff: Option<NaiveDate>,
    pub households: usize,
    pub points: i64,
    /// Households whose expiry could not be posted: (household id, why, as
    /// a stored message); the others went through.
    pub failed: Vec<(String, String)>,
}

const BATCH: usize = 500;

fn household_of(account: &str) -> &str {
    account.trim_start_matches("household:")
}

/// SUM(amount) as a BIGINT on both backends (PostgreSQL's is NUMERIC).
fn sum_amount() -> diesel::expression::SqlLiteral<BigInt> {
    diesel::dsl::sql::<BigInt>("CAST(SUM(amount) AS BIGINT)")
}

fn add_to(map: &mut HashMap<String, i64>, account: String, amount: i64) {
    let v = map.entry(account).or_insert(0);
    *v = v.saturating_add(amount);
}

/// Points earned by household accounts on or before `cutoff` and not taken
/// back by a reversal (all accounts, or only these): the credits that are
/// not reversals themselves, less the reversals of credits earned by then.
fn earned_by(
    conn: &mut DbConn,
    cutoff: NaiveDate,
    accounts: Option<&[String]>,
) -> QueryResult<HashMap<String, i64>> {
    let q = point_entries::table
        .filter(point_entries::credit.like("household:%"))
        .filter(point_entries::posted_on.le(cutoff))
        .filter(point_entries::reverses.is_null())
        .group_by(point_entries::credit)
        .select((point_entries::credit, sum_amount()));
    let rows: Vec<(String, i64)> = match accounts {
        Some(a) => q
            .filter(point_entries::credit.eq_any(a.to_vec()))
            .load(conn)?,
        None => q.load(conn)?,
    };
    let mut earned: HashMap<String, i64> = rows.into_iter().collect();
    let original = diesel::alias!(point_entries as original);
    let mut q = point_entries::table
        .inner_join(
            original.on(point_entries::reverses.eq(original.field(point_entries::id).nullable())),
        )
        .filter(point_entries::debit.like("household:%"))
        .filter(original.field(point_entries::posted_on).le(cutoff))
        .select((point_entries::debit, point_entries::amount))
        .into_boxed();
    if let Some(a) = accounts {
        q = q.filter(point_entries::debit.eq_any(a.to_vec()));
    }
    for (account, amount) in q.load::<(String, i64)>(conn)? {
        add_to(&mut earned, account, -amount);
    }
    Ok(earned)
}

/// Everything that ever left household accounts (spending, deductions,
/// earlier expiries), less what came back by a reversal of such a debit
/// (a voided redemption). Reversals of awards are not counted here: they
/// take back the award's own points (see [`earned_by`]).
fn left_from(conn: &mut DbConn, accounts: Option<&[String]>) -> QueryResult<HashMap<String, i64>> {
    let q = point_entries::table
        .filter(point_entries::debit.like("household:%"))
        .filter(point_entries::reverses.is_null())
        .group_by(point_entries::debit)
        .select((point_entries::debit, sum_amount()));
    let rows: Vec<(String, i64)> = match accounts {
        Some(a) => q
            .filter(point_entries::debit.eq_any(a.to_vec()))
            .load(conn)?,
        None => q.load(conn)?,
    };
    let mut left: HashMap<String, i64> = rows.into_iter().collect();
    let q = point_entries::table
        .filter(point_entries::credit.like("household:%"))
        .filter(point_entries::reverses.is_not_null())
        .group_by(point_entries::credit)
        .select((point_entries::credit, sum_amount()));
    let back: Vec<(String, i64)> = match accounts {
        Some(a) => q
            .filter(point_entries::credit.eq_any(a.to_vec()))
            .load(conn)?,
        None => q.load(conn)?,
    };
    for (account, amount) in back {
        add_to(&mut left, account, -amount);
    }
    Ok(left)
}

/// Points expired so far, per household account (to key each run's posting).
fn expired_so_far(conn: &mut DbConn, accounts: &[String]) -> QueryResult<HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = point_entries::table
        .filter(point_entries::debit.eq_any(accounts.to_vec()))
        .filter(point_entries::kind.eq(Kind::Expiry.as_str()))
        .group_by(point_entries::debit)
        .select((point_entries::debit, sum_amount()))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Per household account, the points that have expired by the cutoff and
/// are still on the account.
fn due(
    conn: &mut DbConn,
    cutoff: NaiveDate,
    accounts: Option<&[String]>,
) -> QueryResult<Vec<(String, i64)>> {
    let earned = earned_by(conn, cutoff, accounts)?;
    let left = left_from(conn, accounts)?;
    let mut out: Vec<(String, i64)> = earned
        .into_iter()
        .map(|(a, e)| {
            let gone = left.get(&a).copied().unwrap_or(0);
            (a, e.saturating_sub(gone.max(0)))
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    out.sort();
    Ok(out)
}

/// What would expire as of a day, without posting anything.
pub fn preview(conn: &mut DbConn, rule: Rule, as_of: NaiveDate) -> QueryResult<Outcome> {
    let cutoff = rule.cutoff(as_of);
    let due = due(conn, cutoff, None)?;
    Ok(Outcome {
        cutoff: Some(cutoff),
        failed: Vec::new(),
        households: due.len(),
        points: due.iter().map(|(_, n)| n).sum(),
    })
}

/// Expire what is due as of `as_of`, in batches of households; each batch is
/// one transaction with its audit row. The accounts of a batch are locked
/// and their amounts recomputed inside it, so a redemption racing the run
/// can never be expired twice over. Errors: `Forbidden` for a role that
/// may not adjust points (the run is the system's, or an administrator's).
pub fn run(
    conn: &mut DbConn,
    ctx: &Actor,
    rule: Rule,
    as_of: NaiveDate,
) -> Result<Outcome, ledger::LedgerError> {
    if ctx.require(Action::AdjustPoints).is_err() {
        return Err(ledger::LedgerError::Forbidden);
    }
    let cutoff = rule.cutoff(as_of);
    let candidates: Vec<String> = due(conn, cutoff, None)?
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    let mut outcome = Outcome {
        cutoff: Some(cutoff),
        ..Outcome::default()
    };
    for batch in candidates.chunks(BATCH) {
        let (households, points, failed) = db::write_tx(conn, |c| {
            diesel::update(point_balances::table.filter(point_balances::account.eq_any(batch)))
                .set(point_balances::balance.eq(point_balances::balance))
                .execute(c)?;
            let mut households = 0usize;
            let mut points = 0i64;
            let mut failed = Vec::new();
            let before = expired_so_far(c, batch)?;
            for (account, amount) in due(c, cutoff, Some(batch))? {
                let household = household_of(&account).to_string();
                let already = before.get(&account).copied().unwrap_or(0);
                // Each household in its own savepoint: one that fails is
                // rolled back alone and reported; the rest go through.
                let posted = db::write_tx(c, |c| {
                    ledger::post(
                        c,
                        &Posting {
                            debit: account.clone(),
                            credit: ledger::EXPIRY.to_string(),
                            amount,
                            kind: Kind::Expiry,
                            ref_kind: "expiry".into(),
                            ref_id: cutoff.to_string(),
                            memo: cutoff.to_string(),
                            user_id: ctx.audit().user_id,
                            posted_on: as_of,
                            idempotency_key: Some(format!("expiry:{household}:{cutoff}:{already}")),
                            reverses: None,
                        },
                    )
                });
                let entry = match posted {
                    Ok(entry) => entry,
                    Err(e) if db::RetryableError::is_retryable(&e) => return Err(e),
                    Err(e) => {
                        failed.push((household, failure_text(e)));
                        continue;
                    }
                };
                // A key seen before returns the earlier entry: nothing new.
                if entry.amount == amount && entry.posted_on == as_of {
                    households += 1;
                    points += amount;
                }
            }
            if households > 0 {
                audit::record(
                    c,
                    ctx,
                    "points.expire",
                    "ledger",
                    "points",
                    &audit::Detail::new("expired")
                        .arg("as_of", as_of)
                        .arg("cutoff", cutoff)
                        .arg("households", households)
                        .arg("points", points)
                        .to_string(),
                )?;
            }
            Ok::<_, ledger::LedgerError>((households, points, failed))
        })?;
        outcome.households += households;
        outcome.points += points;
        outcome.failed.extend(failed);
    }
    settings::put_raw(
        conn,
        "last_expiry",
        &format!(
            "{} {as_of} {} {}",
            db::now().format("%Y-%m-%d %H:%M:%S"),
            outcome.households,
            outcome.points
        ),
    )?;
    Ok(outcome)
}

/// Why one household's expiry failed, as a stored message.
fn failure_text(e: ledger::LedgerError) -> String {
    match super::PointsError::from(e) {
        super::PointsError::Invalid(f) => crate::operations::store_error("", &f),
        other => crate::operations::store_message("", &format!("{other:?}"), &[]),
    }
}

/// The scheme's daily expiry: once a day across all app servers, when on.
/// The run (what expired, which households failed and why, or why the
/// whole run failed) is recorded for the operations page. A run that fails
/// as a whole gives its day's claim back, so the next tick tries again
/// (what a failed run had posted is not posted twice: each household's
/// expiry carries its own idempotency key).
pub fn daily(conn: &mut DbConn, day: NaiveDate) -> Result<Option<Outcome>, ledger::LedgerError> {
    let Some(rule) = Rule::of_scheme(conn)? else {
        return Ok(None);
    };
    let claim = format!("expiry:{day}");
    if !settings::claim(conn, &claim) {
        return Ok(None);
    }
    let ctx = Actor {
        username: "(daily)".into(),
        ..Actor::console()
    };
    let out = run(conn, &ctx, rule, day);
    if out.is_err() {
        settings::release(conn, &claim)?;
    }
    let (done, failed) = match &out {
        Ok(o) => (
            crate::operations::store_message(
                "",
                "ops.expiry_result",
                &[
                    ("households", o.households.to_string()),
                    ("points", o.points.to_string()),
                ],
            ),
            o.failed
                .iter()
                .map(|(h, why)| {
                    // Named as people know the household (its id if gone).
                    let name: String = crate::db::schema::households::table
                        .find(h)
                        .select(crate::db::schema::households::head_name)
                        .first(conn)
                        .unwrap_or_else(|_| h.clone());
                    format!("{}\t{why}", name.replace(['\t', '\n', '|'], " "))
                })
                .collect::<Vec<_>>(),
        ),
        Err(e) => (
            String::new(),
            vec![crate::operations::store_message(
                "",
                "ops.job_failed",
                &[("why", e.to_string())],
            )],
        ),
    };
    crate::operations::record_run(conn, "expiry", &done, &failed)?;
    out.map(Some)
}

fn add_to_str<'a>(map: &mut HashMap<&'a str, i64>, key: &'a str, amount: i64) {
    let v = map.entry(key).or_insert(0);
    *v = v.saturating_add(amount);
}

/// Points that will expire next for one household: the last day they are
/// valid and how many, assuming nothing more is spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upcoming {
    pub valid_until: NaiveDate,
    pub points: i64,
}

/// The next expiry for a household on `today` (None when nothing is on the
/// account or points do not expire). Points already past their date are
/// shown as due today: the next run takes them.
pub fn upcoming(
    conn: &mut DbConn,
    rule: Rule,
    household_id: &str,
    today: NaiveDate,
) -> QueryResult<Option<Upcoming>> {
    let account = ledger::household_account(household_id);
    // (id, earned on, amount, the entry it reverses)
    let credits: Vec<(String, NaiveDate, i64, Option<String>)> = point_entries::table
        .filter(point_entries::credit.eq(&account))
        .order(point_entries::seq.asc())
        .select((
            point_entries::id,
            point_entries::posted_on,
            point_entries::amount,
            point_entries::reverses,
        ))
        .load(conn)?;
    let debits: Vec<(i64, Option<String>)> = point_entries::table
        .filter(point_entries::debit.eq(&account))
        .select((point_entries::amount, point_entries::reverses))
        .load(conn)?;
    // A reversed award's points leave with it; a voided redemption's come
    // back (out of what left) with their original dates.
    let mut taken_back: HashMap<&str, i64> = HashMap::new();
    let mut gone = 0i64;
    for (amount, reverses) in &debits {
        match reverses {
            Some(id) => add_to_str(&mut taken_back, id, *amount),
            None => gone = gone.saturating_add(*amount),
        }
    }
    let mut lots: Vec<(NaiveDate, i64)> = Vec::new();
    let mut sorted: Vec<(NaiveDate, i64)> = Vec::new();
    for (id, day, amount, reverses) in &credits {
        if reverses.is_some() {
            gone = gone.saturating_sub(*amount);
        } else {
            let left = amount - taken_back.get(id.as_str()).copied().unwrap_or(0);
            if left > 0 {
                sorted.push((*day, left));
            }
        }
    }
    let mut gone = gone.max(0);
    sorted.sort_by_key(|(d, _)| *d);
    for (day, amount) in sorted {
        let used = gone.min(amount);
        gone -= used;
        if amount > used {
            lots.push((rule.valid_until(day).max(today), amount - used));
        }
    }
    let Some(first) = lots.iter().map(|(d, _)| *d).min() else {
        return Ok(None);
    };
    Ok(Some(Upcoming {
        valid_until: first,
        points: lots
            .iter()
            .filter(|(d, _)| *d == first)
            .map(|(_, n)| n)
            .sum(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn years_end_with_the_nth_calendar_year() {
        let r = Rule::Years(1);
        assert_eq!(r.valid_until(d(2024, 3, 1)), d(2025, 12, 31));
        assert_eq!(r.cutoff(d(2025, 12, 31)), d(2023, 12, 31));
        assert_eq!(r.cutoff(d(2026, 1, 1)), d(2024, 12, 31));
    }

    #[test]
    fn months_count_from_the_day_earned() {
        let r = Rule::Months(6);
        assert_eq!(r.cutoff(d(2026, 7, 15)), d(2026, 1, 15));
        assert_eq!(r.valid_until(d(2026, 1, 15)), d(2026, 7, 14));
        // Month ends: the cutoff and the shown date agree.
        for earned in [d(2026, 8, 31), d(2026, 2, 28), d(2025, 12, 31)] {
            let last = r.valid_until(earned);
            assert!(r.cutoff(last) < earned);
            assert!(r.cutoff(last + chrono::Duration::days(1)) >= earned);
        }
    }
}
