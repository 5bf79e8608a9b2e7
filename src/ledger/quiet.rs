//! Households' quiet spells (未参与): the stretches of `QUIET_MONTHS` or more
//! months in which a household took no part (earned or redeemed nothing),
//! kept beside its months of taking part (`household_months`) by the same
//! posting, so that the monthly summary lists the households quiet in a
//! month's last three from a few hundred spells instead of reading every
//! household's months.
//!
//! A spell runs from the month after the household last took part (or from
//! `BEGINNING`, before it ever did: when it was registered is on its row,
//! and the summary asks that too) to the month before it took part again,
//! or is open (`OPEN`) while it has not. A month of taking part splits the spell
//! it falls in; the parts shorter than `QUIET_MONTHS` are not kept (no
//! window of that many months fits in them), except the open one, which
//! grows. Postings to one household wait for each other at its balance row
//! (`ledger::post`), so two never split the same spell.

use diesel::QueryableByName;
use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::db::{self, Bind, DbConn};
use crate::time::Month;

/// A household is quiet in a month when it took no part in it nor in the
/// two months before: three months, the monthly summary's window.
pub const QUIET_MONTHS: usize = 3;

/// The `to_month` of a spell still running.
pub const OPEN: &str = "9999-12";

/// The `from_month` of a household's first spell, before it ever took
/// part: "0000-01".
pub const BEGINNING: Month = Month { year: 0, month: 1 };

/// One quiet spell of a household: months "YYYY-MM", both included.
#[derive(QueryableByName, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Spell {
    #[diesel(sql_type = Text)]
    pub household_id: String,
    #[diesel(sql_type = Text)]
    pub from_month: String,
    /// `OPEN` while the household has not taken part since.
    #[diesel(sql_type = Text)]
    pub to_month: String,
    /// The month it last took part before the spell ("" : never).
    #[diesel(sql_type = Text)]
    pub last_active: String,
}

/// Whether the months from `from` to `to` (both included) are at least
/// `QUIET_MONTHS`.
fn long_enough(from: Month, to: Month) -> bool {
    // Counted, not listed: a first spell starts at `BEGINNING`.
    let months = (i64::from(to.year) - i64::from(from.year)) * 12 + i64::from(to.month)
        - i64::from(from.month)
        + 1;
    months >= QUIET_MONTHS as i64
}

/// The spells of a household that took part in the months `active` (any
/// order, repeats allowed): what `household_months` implies, as `took_part`
/// keeps it.
pub fn spells_of(household_id: &str, active: &[Month]) -> Vec<Spell> {
    let mut active = active.to_vec();
    active.sort();
    active.dedup();
    let mut out = Vec::new();
    let (mut from, mut last) = (BEGINNING, None::<Month>);
    for a in active {
        if a >= from && long_enough(from, a.prev()) {
            out.push(Spell {
                household_id: household_id.to_string(),
                from_month: from.to_string(),
                to_month: a.prev().to_string(),
                last_active: last.map(|m| m.to_string()).unwrap_or_default(),
            });
        }
        from = from.max(a.next());
        last = Some(a);
    }
    out.push(Spell {
        household_id: household_id.to_string(),
        from_month: from.to_string(),
        to_month: OPEN.to_string(),
        last_active: last.map(|m| m.to_string()).unwrap_or_default(),
    });
    out
}

fn insert(conn: &mut DbConn, s: &Spell) -> QueryResult<()> {
    db::execute(
        conn,
        "INSERT INTO quiet_spells (household_id, from_month, to_month, last_active)
         VALUES ($1, $2, $3, $4)",
        &[
            Bind::Text(s.household_id.clone()),
            Bind::Text(s.from_month.clone()),
            Bind::Text(s.to_month.clone()),
            Bind::Text(s.last_active.clone()),
        ],
    )?;
    Ok(())
}

/// A household was registered: its first spell opens. Inside the
/// transaction that inserts it.
///
/// Errors: the database's.
pub fn registered(conn: &mut DbConn, household_id: &str) -> QueryResult<()> {
    for s in spells_of(household_id, &[]) {
        insert(conn, &s)?;
    }
    Ok(())
}

/// A household took part in `month` for the first time (its row in
/// `household_months` is new): the spell it falls in, if any, is split,
/// and the spell after it names it as the last month taken part in.
/// Inside the posting's transaction, after the household's balance row is
/// held.
///
/// Errors: the database's.
pub fn took_part(conn: &mut DbConn, household_id: &str, month: &str) -> QueryResult<()> {
    let Ok(m) = Month::parse(month) else {
        return Ok(());
    };
    let found: Vec<Spell> = db::load(
        conn,
        "SELECT household_id, from_month, to_month, last_active FROM quiet_spells
          WHERE household_id = $1 AND from_month <= $2 AND to_month >= $2",
        &[
            Bind::Text(household_id.to_string()),
            Bind::Text(month.to_string()),
        ],
    )?;
    for s in found {
        db::execute(
            conn,
            "DELETE FROM quiet_spells WHERE household_id = $1 AND from_month = $2",
            &[
                Bind::Text(household_id.to_string()),
                Bind::Text(s.from_month.clone()),
            ],
        )?;
        let from = if s.from_month == BEGINNING.to_string() {
            BEGINNING
        } else {
            Month::parse(&s.from_month).unwrap_or(m)
        };
        if from < m && long_enough(from, m.prev()) {
            insert(
                conn,
                &Spell {
                    to_month: m.prev().to_string(),
                    ..s.clone()
                },
            )?;
        }
        let open = s.to_month == OPEN;
        let rest_long = Month::parse(&s.to_month)
            .map(|to| long_enough(m.next(), to))
            .unwrap_or(false);
        if open || rest_long {
            insert(
                conn,
                &Spell {
                    from_month: m.next().to_string(),
                    last_active: month.to_string(),
                    ..s
                },
            )?;
        }
    }
    // A month dated before the spell that follows it (and after the month
    // that spell names as the last) is the last now.
    db::execute(
        conn,
        "UPDATE quiet_spells SET last_active = $2
          WHERE household_id = $1 AND from_month > $2 AND last_active < $2",
        &[
            Bind::Text(household_id.to_string()),
            Bind::Text(month.to_string()),
        ],
    )?;
    Ok(())
}

#[derive(QueryableByName)]
struct Registered {
    #[diesel(sql_type = Text)]
    id: String,
}

#[derive(QueryableByName)]
struct Took {
    #[diesel(sql_type = Text)]
    household_id: String,
    #[diesel(sql_type = Text)]
    month: String,
}

/// Households read at a time when the spells are made again.
const CHUNK: i64 = 2_000;

/// Every household's spells as its months of taking part imply them, `CHUNK` households at a time (in id order), each
/// chunk handed to `each`.
fn made(
    conn: &mut DbConn,
    each: &mut dyn FnMut(&mut DbConn, Vec<Spell>) -> QueryResult<()>,
) -> QueryResult<()> {
    let mut after = String::new();
    loop {
        let households: Vec<Registered> = db::load(
            conn,
            &format!("SELECT id FROM households WHERE id > $1 ORDER BY id LIMIT {CHUNK}"),
            &[Bind::Text(after.clone())],
        )?;
        let Some(last) = households.last() else {
            return Ok(());
        };
        after = last.id.clone();
        let took: Vec<Took> = db::load(
            conn,
            "SELECT household_id, month FROM household_months
              WHERE household_id >= $1 AND household_id <= $2",
            &[
                Bind::Text(households[0].id.clone()),
                Bind::Text(after.clone()),
            ],
        )?;
        let mut months: std::collections::HashMap<String, Vec<Month>> =
            std::collections::HashMap::new();
        for t in took {
            if let Ok(m) = Month::parse(&t.month) {
                months.entry(t.household_id).or_default().push(m);
            }
        }
        let spells = households
            .iter()
            .flat_map(|h| {
                let active = months.get(&h.id).map(Vec::as_slice).unwrap_or(&[]);
                spells_of(&h.id, active)
            })
            .collect();
        each(conn, spells)?;
    }
}

/// Make every household's spells again from their months of taking part (after a migration that adds the table, and by
/// `aixin ledger rebuild-totals`). Inside the caller's transaction.
///
/// Errors: the database's.
pub fn rebuild(conn: &mut DbConn) -> QueryResult<()> {
    db::execute(conn, "DELETE FROM quiet_spells", &[])?;
    made(conn, &mut |c, spells| {
        for s in &spells {
            insert(c, s)?;
        }
        Ok(())
    })
}

/// Compare the kept spells with those the households' months imply: each
/// ("all", what, 1, 0) for a spell kept but not implied, and ("all",
/// what, 0, 1) for one implied but not kept, `what` naming the table,
/// household and first month.
///
/// Errors: the database's.
pub(crate) fn compare(conn: &mut DbConn) -> QueryResult<Vec<(String, String, i64, i64)>> {
    let kept: std::collections::HashSet<Spell> = db::load::<Spell>(
        conn,
        "SELECT household_id, from_month, to_month, last_active FROM quiet_spells",
        &[],
    )?
    .into_iter()
    .collect();
    let mut implied = std::collections::HashSet::new();
    made(conn, &mut |_, spells| {
        implied.extend(spells);
        Ok(())
    })?;
    let name = |s: &Spell| {
        format!(
            "quiet_spells household {} from {} to {}",
            s.household_id, s.from_month, s.to_month
        )
    };
    let mut out: Vec<(String, String, i64, i64)> = kept
        .difference(&implied)
        .map(|s| ("all".to_string(), name(s), 1, 0))
        .chain(
            implied
                .difference(&kept)
                .map(|s| ("all".to_string(), name(s), 0, 1)),
        )
        .collect();
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Month {
        Month::parse(s).unwrap()
    }

    fn spans(spells: &[Spell]) -> Vec<(String, String, String)> {
        spells
            .iter()
            .map(|s| {
                (
                    s.from_month.clone(),
                    s.to_month.clone(),
                    s.last_active.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn a_household_that_never_took_part_has_one_spell_from_the_beginning() {
        let s = spells_of("h", &[]);
        assert_eq!(spans(&s), [("0000-01".into(), OPEN.into(), "".into())]);
    }

    #[test]
    fn only_gaps_of_three_months_or_more_are_kept_besides_the_open_one() {
        // Took part in January, March (a gap of one month), and August (a
        // gap of April to July).
        let s = spells_of(
            "h",
            &[m("2026-08"), m("2026-01"), m("2026-03"), m("2026-03")],
        );
        assert_eq!(
            spans(&s),
            [
                ("0000-01".into(), "2025-12".into(), "".into()),
                ("2026-04".into(), "2026-07".into(), "2026-03".into()),
                ("2026-09".into(), OPEN.into(), "2026-08".into()),
            ]
        );
    }

    #[test]
    fn a_spell_is_long_enough_from_three_months_on_across_a_year_end() {
        assert!(long_enough(m("2025-11"), m("2026-01")));
        assert!(!long_enough(m("2025-12"), m("2026-01")));
        assert!(!long_enough(m("2026-03"), m("2026-02")));
        assert!(long_enough(BEGINNING, m("2026-01")));
    }

    #[test]
    fn a_gap_before_the_first_month_of_taking_part_has_no_last_month() {
        let s = spells_of("h", &[m("2026-03")]);
        assert_eq!(
            spans(&s),
            [
                ("0000-01".into(), "2026-02".into(), "".into()),
                ("2026-04".into(), OPEN.into(), "2026-03".into()),
            ]
        );
    }
}
