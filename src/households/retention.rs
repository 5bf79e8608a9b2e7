//! Retention (PIPL Art. 19 and 47): archived households' personal data is
//! erased a configured number of years after they were archived. The name
//! is kept as initials (王大山 -> 王**), the ID number, phone, address,
//! notes and reasons given for status changes are removed; the household, its village and its ledgers stay, as
//! the accounts of public donations must. Staff disabled as long ago lose
//! their own phone, ID number and home the same way
//! (`users::erase_personal_due`). See docs/privacy.md.

use chrono::{Months, NaiveDateTime};
use diesel::prelude::*;

use crate::audit::{self, AuditCtx};
use crate::auth::{Action, Actor};
use crate::db::schema::{household_status_history, households};
use crate::db::{self, DbConn};
use crate::error::Problem;
use crate::settings;

/// What stands where a removed ID number or phone was.
pub const ERASED: &str = "已删除";
/// Prefix of the non-personal look-up value of an erased household.
pub const ERASED_LOOKUP: &str = "erased:";

/// "王大山" -> "王**": the first character, a star for each other one.
pub fn initials(name: &str) -> String {
    let mut chars = name.trim().chars();
    let Some(first) = chars.next() else {
        return "*".into();
    };
    let rest = chars.count().max(1);
    format!("{first}{}", "*".repeat(rest))
}

pub fn is_erased(id_lookup: &str) -> bool {
    id_lookup.starts_with(ERASED_LOOKUP)
}

/// Archived before this instant, and not erased yet.
fn due_ids(conn: &mut DbConn, archived_before: NaiveDateTime) -> QueryResult<Vec<String>> {
    households::table
        .filter(households::archived.eq(true))
        .filter(households::archived_at.lt(archived_before))
        .filter(households::id_lookup.not_like(format!("{ERASED_LOOKUP}%")))
        .order(households::id.asc())
        .select(households::id)
        .load(conn)
}

/// The instant before which archived households are due, for `years`.
pub fn threshold(now: NaiveDateTime, years: i64) -> NaiveDateTime {
    now.checked_sub_months(Months::new((years.max(0) as u32).saturating_mul(12)))
        .unwrap_or(NaiveDateTime::MIN)
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The households erased (or, in a dry run, that would be).
    pub households: Vec<String>,
    /// The households that could not be erased: (household id, why, as a
    /// stored message). Each was left as it was; the next run tries again.
    pub failed: Vec<(String, String)>,
    /// Staff disabled as long ago whose own phone, ID number and home were
    /// erased (or would be): `users::erase_personal_due`.
    pub staff: Vec<String>,
}

const BATCH: usize = 200;

/// Erase the personal data of households archived more than `years` ago,
/// as `actor` (the command line: `Actor::console()`): erasing across the
/// whole scheme is the unscoped administrator's, as its period is a setting
/// of the scheme (`Action::ManageSettings`).
/// Each batch is one transaction and each household a savepoint inside it,
/// with an audit row per household, filed under the actor, that names no
/// personal data: one that cannot be erased is rolled back alone and
/// reported in [`Outcome::failed`], the rest go through.
///
/// Errors: `Problem::Forbidden` for any other actor (nothing is read);
/// `Problem::Db` for what stops the whole run (the database itself).
pub fn run(
    conn: &mut DbConn,
    actor: &Actor,
    years: i64,
    now: NaiveDateTime,
    dry_run: bool,
) -> Result<Outcome, Problem> {
    actor.require(Action::ManageSettings)?;
    let ctx = &actor.audit();
    let before = threshold(now, years);
    let ids = due_ids(conn, before)?;
    if dry_run {
        return Ok(Outcome {
            households: ids,
            failed: Vec::new(),
            staff: crate::users::personal_due(conn, before)?,
        });
    }
    let mut out = Outcome::default();
    for batch in ids.chunks(BATCH) {
        let (erased, failed) = db::write_tx(conn, |c| {
            let mut erased = Vec::new();
            let mut failed = Vec::new();
            let rows: Vec<(String, String, bool, Option<NaiveDateTime>, String)> =
                households::table
                    .filter(households::id.eq_any(batch))
                    .select((
                        households::id,
                        households::head_name,
                        households::archived,
                        households::archived_at,
                        households::id_lookup,
                    ))
                    .load(c)?;
            for (id, name, archived, archived_at, lookup) in rows {
                // Checked again inside the transaction: restored meanwhile?
                if !archived || archived_at.is_none_or(|a| a >= before) || is_erased(&lookup) {
                    continue;
                }
                match db::write_tx(c, |c| erase_one(c, ctx, &id, &name, years, now)) {
                    Ok(()) => erased.push(id),
                    Err(e) if db::RetryableError::is_retryable(&e) => return Err(e),
                    Err(e) => failed.push((
                        id,
                        crate::operations::store_message(
                            "",
                            "ops.job_failed",
                            &[("why", e.to_string())],
                        ),
                    )),
                }
            }
            Ok::<_, diesel::result::Error>((erased, failed))
        })?;
        out.households.extend(erased);
        out.failed.extend(failed);
    }
    out.staff = crate::users::erase_personal_due(conn, ctx, before, years)?;
    settings::put_raw(
        conn,
        "last_retention",
        &format!(
            "{} {}",
            db::now().format("%Y-%m-%d %H:%M:%S"),
            out.households.len()
        ),
    )?;
    Ok(out)
}

/// Erase one household's personal data (inside the caller's transaction).
fn erase_one(
    c: &mut DbConn,
    ctx: &AuditCtx,
    id: &str,
    name: &str,
    years: i64,
    now: NaiveDateTime,
) -> QueryResult<()> {
    // The keys of what is kept (the initials), never of the erased name.
    let k = crate::domain::pinyin::person_keys(&initials(name));
    diesel::update(households::table.find(id))
        .set((
            households::head_name.eq(initials(name)),
            households::head_pinyin.eq(&k.full),
            households::head_initials.eq(&k.initials),
            households::id_cipher.eq(""),
            households::id_lookup.eq(format!("{ERASED_LOOKUP}{id}")),
            households::id_masked.eq(ERASED),
            households::id_last4.eq(""),
            households::phone_cipher.eq(""),
            households::phone_masked.eq(ERASED),
            households::address.eq(""),
            households::notes.eq(""),
            households::updated_at.eq(now),
            households::updated_by.eq(&ctx.username),
            households::version.eq(households::version + 1),
        ))
        .execute(c)?;
    // Reasons for status changes are free text about the family.
    diesel::update(
        household_status_history::table.filter(household_status_history::household_id.eq(id)),
    )
    .set(household_status_history::reason.eq(""))
    .execute(c)?;
    // What the household wrote and sent from its own page.
    crate::window::deeds::erase_household(c, id)?;
    crate::window::objections::erase_household(c, id)?;
    audit::record(
        c,
        ctx,
        "household.erase",
        "household",
        id,
        &audit::Detail::new("erased_archived")
            .arg("years", years)
            .to_string(),
    )
}

/// The scheme's daily erasure: once a day across all app servers, when on.
/// The run is recorded for the operations page: how many were erased, and
/// each household that could not be, by name and number, with why, so an
/// administrator can find it and act. A run that fails as a whole is
/// recorded with why and gives its day's claim back (the next tick tries
/// again). A scheduled job with no person acting, so it takes no `Actor`
/// from a caller: it runs as the system (`Actor::console()` named
/// "(daily)" in the audit rows), as the period an administrator set (0 is
/// off) is what asks for it.
/// Errors: database errors only (`Problem::Db`).
pub fn daily(conn: &mut DbConn, day: chrono::NaiveDate) -> Result<Option<Outcome>, Problem> {
    let years = settings::get(conn, settings::RETENTION_YEARS)?;
    let claim = format!("retention:{day}");
    if years == 0 || !settings::claim(conn, &claim) {
        return Ok(None);
    }
    let system = Actor {
        username: "(daily)".into(),
        ..Actor::console()
    };
    let out = run(conn, &system, years, db::now(), false);
    let (done, failed) = match &out {
        Ok(o) => (
            crate::operations::store_message(
                "",
                "ops.retention_result",
                &[("n", o.households.len().to_string())],
            ),
            o.failed
                .iter()
                .map(|(id, why)| format!("{}\t{why}", who(conn, id)))
                .collect::<Vec<_>>(),
        ),
        Err(e) => {
            settings::release(conn, &claim)?;
            (
                String::new(),
                vec![crate::operations::store_message(
                    "",
                    "ops.job_failed",
                    &[("why", e.to_string())],
                )],
            )
        }
    };
    crate::operations::record_run(conn, "retention", &done, &failed)?;
    out.map(Some)
}

/// A household as an administrator finds it: its head's name and its card
/// number (its id when it has no current card or is gone).
fn who(conn: &mut DbConn, id: &str) -> String {
    use crate::db::schema::points_cards;
    let name: String = households::table
        .find(id)
        .select(households::head_name)
        .first(conn)
        .unwrap_or_else(|_| id.to_string());
    let card: Option<String> = points_cards::table
        .filter(points_cards::household_id.eq(id))
        .filter(points_cards::replaced_by.is_null())
        .select(points_cards::card_no)
        .first(conn)
        .ok();
    format!("{} ({})", name, card.as_deref().unwrap_or(id)).replace(['\t', '\n', '|'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_initials() {
        assert_eq!(initials("王大山"), "王**");
        assert_eq!(initials("欧阳娜娜"), "欧***");
        assert_eq!(initials("李"), "李*");
        assert_eq!(initials(" 张三 "), "张*");
        assert_eq!(initials(""), "*");
    }
}
