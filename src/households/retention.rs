//! Retention (PIPL Art. 19 and 47): archived households' personal data is
//! erased a configured number of years after they were archived. The name
//! is kept as initials (王大山 -> 王**), the ID number, phone, address,
//! notes and reasons given for status changes are removed; the household, its village and its ledgers stay, as
//! the accounts of public donations must. See docs/privacy.md.

use chrono::{Months, NaiveDateTime};
use diesel::prelude::*;

use crate::audit::{self, AuditCtx};
use crate::db::schema::{household_status_history, households};
use crate::db::{self, DbConn};
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
}

const BATCH: usize = 200;

/// Erase the personal data of households archived more than `years` ago.
/// Each batch is one transaction, with an audit row per household that
/// names no personal data.
pub fn run(
    conn: &mut DbConn,
    ctx: &AuditCtx,
    years: i64,
    now: NaiveDateTime,
    dry_run: bool,
) -> QueryResult<Outcome> {
    let before = threshold(now, years);
    let ids = due_ids(conn, before)?;
    if dry_run {
        return Ok(Outcome { households: ids });
    }
    let mut done = Vec::new();
    for batch in ids.chunks(BATCH) {
        let erased = db::write_tx(conn, |c| {
            let mut erased = Vec::new();
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
                diesel::update(households::table.find(&id))
                    .set((
                        households::head_name.eq(initials(&name)),
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
                    ))
                    .execute(c)?;
                // Reasons for status changes are free text about the family.
                diesel::update(
                    household_status_history::table
                        .filter(household_status_history::household_id.eq(&id)),
                )
                .set(household_status_history::reason.eq(""))
                .execute(c)?;
                // What the household wrote and sent from its own page.
                crate::window::deeds::erase_household(c, &id)?;
                crate::window::objections::erase_household(c, &id)?;
                audit::record(
                    c,
                    ctx,
                    "household.erase",
                    "household",
                    &id,
                    &format!("retention: archived more than {years} years ago"),
                )?;
                erased.push(id);
            }
            Ok::<_, diesel::result::Error>(erased)
        })?;
        done.extend(erased);
    }
    settings::put_raw(
        conn,
        "last_retention",
        &format!("{} {}", db::now().format("%Y-%m-%d %H:%M:%S"), done.len()),
    )?;
    Ok(Outcome { households: done })
}

/// The scheme's daily erasure: once a day across all app servers, when on.
pub fn daily(conn: &mut DbConn, day: chrono::NaiveDate) -> QueryResult<Option<Outcome>> {
    let years = settings::get(conn, settings::RETENTION_YEARS)?;
    if years == 0 || !settings::claim(conn, &format!("retention:{day}")) {
        return Ok(None);
    }
    let ctx = AuditCtx {
        username: "(daily)".into(),
        ..AuditCtx::default()
    };
    run(conn, &ctx, years, db::now(), false).map(Some)
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
