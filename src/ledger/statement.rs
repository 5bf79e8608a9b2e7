//! A household's statement: its entries, oldest first, read from the two
//! household-side covering indexes (`point_entries_household_credit` and
//! `_debit`, partial: household accounts only), so that a household's
//! entries are read from a few adjacent index pages instead of one table
//! page each across the whole ledger.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::QueryableByName;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Nullable, Text, Timestamp};

use super::{Entry, Kind, household_account};
use crate::db::{Bind, DbConn, load_prepared};

/// One line of a household's statement: an entry's fields as the
/// statement, the window and the API show them (the chain's hashes and
/// keys stay in the ledger). `amount` is in points, always > 0; its sign
/// for the household comes from `signed_for`.
#[derive(QueryableByName, Debug, Clone, PartialEq)]
pub struct StatementEntry {
    #[diesel(sql_type = BigInt)]
    pub seq: i64,
    #[diesel(sql_type = Text)]
    pub id: String,
    /// When it was written (UTC).
    #[diesel(sql_type = Timestamp)]
    pub at: NaiveDateTime,
    /// The day it counts on (the scheme's time zone).
    #[diesel(sql_type = Date)]
    pub posted_on: NaiveDate,
    #[diesel(sql_type = Text)]
    pub debit: String,
    #[diesel(sql_type = Text)]
    pub credit: String,
    #[diesel(sql_type = BigInt)]
    pub amount: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub ref_kind: String,
    #[diesel(sql_type = Text)]
    pub ref_id: String,
    #[diesel(sql_type = Text)]
    pub memo: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub user_id: Option<String>,
    /// The username of the staff member who posted it (none for the
    /// system's own entries, such as expiry).
    #[diesel(sql_type = Nullable<Text>)]
    pub username: Option<String>,
    /// For an award: the current name of its rule (`memo` holds the rule's
    /// code); none otherwise, or for a code no current rule has.
    #[diesel(sql_type = Nullable<Text>)]
    pub rule_name: Option<String>,
}

impl StatementEntry {
    /// The translation key of its kind's name.
    pub fn kind_key(&self) -> &'static str {
        Kind::label_key(&self.kind)
    }

    /// Its kind.
    ///
    /// Errors: `UnknownText` for a word no kind has.
    pub fn kind(&self) -> Result<Kind, crate::db::text_enum::UnknownText> {
        Kind::parse(&self.kind)
    }
}

/// The two sides of a ledger row, for `signed_for`.
pub trait Sides {
    fn debit(&self) -> &str;
    fn credit(&self) -> &str;
    /// Points, > 0.
    fn amount(&self) -> i64;
}

impl Sides for Entry {
    fn debit(&self) -> &str {
        &self.debit
    }
    fn credit(&self) -> &str {
        &self.credit
    }
    fn amount(&self) -> i64 {
        self.amount
    }
}

impl Sides for StatementEntry {
    fn debit(&self) -> &str {
        &self.debit
    }
    fn credit(&self) -> &str {
        &self.credit
    }
    fn amount(&self) -> i64 {
        self.amount
    }
}

/// The signed amount of an entry for an account (points: + in, - out).
pub fn signed_for(e: &impl Sides, account: &str) -> i64 {
    if e.credit() == account {
        e.amount()
    } else {
        -e.amount()
    }
}

#[derive(QueryableByName)]
struct Sum {
    #[diesel(sql_type = BigInt)]
    points: i64,
}

/// The columns a statement line reads, all held by the covering indexes.
const COLUMNS: &str =
    "seq, id, at, posted_on, debit, credit, amount, kind, ref_kind, ref_id, memo, user_id";

/// A household's entries in a period (days in the scheme's time zone, both
/// ends included, either open), oldest first, each with the username of who
/// posted it and, for an award, its rule's name, with the balance in points
/// before the period began (0 without `from`).
///
/// Each side is asked on its own, with the household-account condition
/// written as in the partial indexes' definitions, so that both databases
/// answer from the covering indexes alone; the names come from the users
/// and the rules by their keys, in the same query. Read at every
/// statement page, the queries are kept prepared (at most four shapes).
///
/// Errors: the database's.
pub fn statement(
    conn: &mut DbConn,
    household_id: &crate::domain::HouseholdId,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> QueryResult<(i64, Vec<StatementEntry>)> {
    let account = household_account(household_id);
    let mut binds = vec![Bind::Text(account.clone())];
    let mut period = String::new();
    if let Some(f) = from {
        binds.push(Bind::Date(f));
        period.push_str(&format!(" AND posted_on >= ${}", binds.len()));
    }
    if let Some(t) = to {
        binds.push(Bind::Date(t));
        period.push_str(&format!(" AND posted_on <= ${}", binds.len()));
    }
    let entries: Vec<StatementEntry> = load_prepared(
        conn,
        &format!(
            "SELECT x.*,
                    (SELECT u.username FROM users u WHERE u.id = x.user_id) AS username,
                    CASE WHEN x.ref_kind = 'award' THEN
                      (SELECT r.name FROM rules r
                        WHERE r.code = x.memo AND r.superseded_by IS NULL)
                    END AS rule_name
               FROM (SELECT {COLUMNS} FROM point_entries
                      WHERE credit = $1 AND credit LIKE 'household:%'{period}
                     UNION ALL
                     SELECT {COLUMNS} FROM point_entries
                      WHERE debit = $1 AND debit LIKE 'household:%'{period}) x
              ORDER BY x.seq"
        ),
        &binds,
    )?;
    let opening = match from {
        None => 0,
        Some(f) => load_prepared::<Sum>(
            conn,
            "SELECT CAST(COALESCE(SUM(x.points), 0) AS BIGINT) AS points
               FROM (SELECT amount AS points FROM point_entries
                      WHERE credit = $1 AND credit LIKE 'household:%' AND posted_on < $2
                     UNION ALL
                     SELECT -amount FROM point_entries
                      WHERE debit = $1 AND debit LIKE 'household:%' AND posted_on < $2) x",
            &[Bind::Text(account), Bind::Date(f)],
        )?
        .first()
        .map(|s| s.points)
        .unwrap_or(0),
    };
    Ok((opening, entries))
}
