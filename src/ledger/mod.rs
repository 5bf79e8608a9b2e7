//! The points ledger: double entry, append-only, hash-chained; cached
//! balances that always equal their entries; no household below zero.
//!
//! Accounts are strings: `household:<id>`, `issuance` (where awarded points
//! come from), `store:<id>` (points spent at a store) and `expiry`.

pub mod chain;
pub mod closed;
pub mod goods_totals;
mod kept;
pub mod quiet;
pub mod redeemer_totals;
pub mod redemption_totals;
mod statement;
pub mod totals;

pub use statement::{Sides, StatementEntry, signed_for, statement};

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::{ledger_heads, point_balances, point_entries};
use crate::db::{self, DbConn};

pub const ISSUANCE: &str = "issuance";
pub const EXPIRY: &str = "expiry";

pub fn household_account(id: &str) -> String {
    format!("household:{id}")
}

pub fn store_account(id: &str) -> String {
    format!("store:{id}")
}

fn is_household(account: &str) -> bool {
    account.starts_with("household:")
}

crate::text_enum! {
    /// What a points entry records.
    pub enum Kind {
        Award = "award",
        Deduction = "deduction",
        AwardReversal = "award_reversal",
        Adjustment = "adjustment",
        Redemption = "redemption",
        RedemptionVoid = "redemption_void",
        Expiry = "expiry",
    }
}

impl Kind {
    /// The translation key of a stored kind's name; a word no kind has
    /// (a row written by hand) is shown as "other", never refused, so a
    /// ledger with such a row can still be read and verified.
    pub fn label_key(kind: &str) -> &'static str {
        match Kind::parse(kind) {
            Ok(Kind::Award) => "ledger.kind_award",
            Ok(Kind::Deduction) => "ledger.kind_deduction",
            Ok(Kind::AwardReversal) => "ledger.kind_award_reversal",
            Ok(Kind::Adjustment) => "ledger.kind_adjustment",
            Ok(Kind::Redemption) => "ledger.kind_redemption",
            Ok(Kind::RedemptionVoid) => "ledger.kind_redemption_void",
            Ok(Kind::Expiry) => "ledger.kind_expiry",
            Err(_) => "ledger.kind_other",
        }
    }
}

/// One transfer to post.
#[derive(Debug, Clone)]
pub struct Posting {
    pub debit: String,
    pub credit: String,
    pub amount: i64,
    pub kind: Kind,
    pub ref_kind: String,
    pub ref_id: String,
    pub memo: String,
    pub user_id: Option<String>,
    pub posted_on: NaiveDate,
    pub idempotency_key: Option<String>,
    /// The entry this one reverses.
    pub reverses: Option<String>,
}

/// One row of the points ledger. Made only by `Entry::chained` and written
/// only by `Entry::insert` (or, many rows at once, `Entry::insert_all`): the
/// app's postings (`post`), the demo generator and the benchmark all go
/// through them.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq)]
#[diesel(table_name = point_entries, treat_none_as_default_value = false)]
pub struct Entry {
    pub seq: i64,
    pub id: String,
    pub at: NaiveDateTime,
    pub posted_on: NaiveDate,
    pub debit: String,
    pub credit: String,
    pub amount: i64,
    pub kind: String,
    pub ref_kind: String,
    pub ref_id: String,
    pub memo: String,
    pub user_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub reverses: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// Rows of `point_entries` (16 columns) per INSERT: under SQLite's 32,766
/// bound parameters.
const ENTRIES_PER_INSERT: usize = 30_000 / 16;

impl Entry {
    /// The entry a posting makes: its place in the chain (`seq`, after the
    /// entry whose hash is `prev_hash`), its id and time, the posting's
    /// fields (the memo cut to 200 characters), and its own hash.
    pub fn chained(
        seq: i64,
        prev_hash: String,
        id: String,
        at: NaiveDateTime,
        p: &Posting,
    ) -> Entry {
        let mut entry = Entry {
            seq,
            id,
            at,
            posted_on: p.posted_on,
            debit: p.debit.clone(),
            credit: p.credit.clone(),
            amount: p.amount,
            kind: p.kind.as_str().to_string(),
            ref_kind: p.ref_kind.clone(),
            ref_id: p.ref_id.clone(),
            memo: p.memo.chars().take(200).collect(),
            user_id: p.user_id.clone(),
            idempotency_key: p.idempotency_key.clone(),
            reverses: p.reverses.clone(),
            prev_hash,
            hash: String::new(),
        };
        entry.hash = entry.compute_hash();
        entry
    }

    /// Write the row (the caller holds the chain head and moves it on).
    pub fn insert(&self, conn: &mut DbConn) -> QueryResult<()> {
        diesel::insert_into(point_entries::table)
            .values(self)
            .execute(conn)?;
        Ok(())
    }

    /// Write rows made by `chained`, in multi-row INSERTs of at most
    /// `ENTRIES_PER_INSERT` rows (the demo generator's months). The caller
    /// holds the chain head and moves it on past the last.
    pub fn insert_all(conn: &mut DbConn, entries: &[Entry]) -> QueryResult<()> {
        for chunk in entries.chunks(ENTRIES_PER_INSERT) {
            match conn {
                DbConn::Sqlite(c) => diesel::insert_into(point_entries::table)
                    .values(chunk)
                    .execute(c)?,
                DbConn::Pg(c) => diesel::insert_into(point_entries::table)
                    .values(chunk)
                    .execute(c)?,
            };
        }
        Ok(())
    }

    fn hash_fields(&self) -> Vec<String> {
        vec![
            self.seq.to_string(),
            self.id.clone(),
            self.at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
            self.posted_on.to_string(),
            self.debit.clone(),
            self.credit.clone(),
            self.amount.to_string(),
            self.kind.clone(),
            self.ref_kind.clone(),
            self.ref_id.clone(),
            self.memo.clone(),
            self.user_id.clone().unwrap_or_default(),
            self.idempotency_key.clone().unwrap_or_default(),
            self.reverses.clone().unwrap_or_default(),
        ]
    }

    pub fn compute_hash(&self) -> String {
        let fields = self.hash_fields();
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        chain::entry_hash(&self.prev_hash, &refs)
    }

    pub fn kind_key(&self) -> &'static str {
        Kind::label_key(&self.kind)
    }

    /// Its kind. The row keeps the stored word (it is part of the hashed
    /// content, and verify must read a row whatever it holds).
    ///
    /// Errors: `UnknownText` for a word no kind has.
    pub fn kind(&self) -> Result<Kind, crate::db::text_enum::UnknownText> {
        Kind::parse(&self.kind)
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LedgerError {
    #[error("insufficient points: balance {balance}, needed {needed}")]
    Insufficient { balance: i64, needed: i64 },
    #[error("amount must be positive")]
    BadAmount,
    /// The posting date falls in a closed month (the month, YYYY-MM).
    #[error("month {0} is closed")]
    MonthClosed(String),
    /// The posting date is more than `closed::FAR_FUTURE_DAYS` ahead.
    #[error("{0} is too far in the future")]
    FarFuture(NaiveDate),
    /// The actor's role may not do this.
    #[error("forbidden")]
    Forbidden,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// The refusal a person reads when a balance does not cover a debit: a
/// conflict on `field.points`, naming the balance, the amount and the gap.
pub fn insufficient_error(balance: i64, needed: i64) -> crate::domain::FieldError {
    crate::domain::FieldError::conflict(
        "field.points",
        "error.insufficient_points",
        crate::domain::Conflict::InsufficientPoints,
    )
    .arg("balance", balance)
    .arg("needed", needed)
    .arg("short", needed - balance)
}

impl db::RetryableError for LedgerError {
    fn is_retryable(&self) -> bool {
        matches!(self, LedgerError::Db(e) if e.is_retryable())
    }
}

/// Create an account's balance row if it has none (concurrent callers both
/// succeed: ON CONFLICT DO NOTHING, written per backend for its placeholders).
fn ensure_account(conn: &mut DbConn, account: &str) -> QueryResult<()> {
    use diesel::sql_types::Text;
    match conn {
        DbConn::Sqlite(c) => diesel::sql_query("INSERT INTO point_balances (account, balance) VALUES (?, 0) ON CONFLICT (account) DO NOTHING")
            .bind::<Text, _>(account)
            .execute(c)?,
        DbConn::Pg(c) => diesel::sql_query("INSERT INTO point_balances (account, balance) VALUES ($1, 0) ON CONFLICT (account) DO NOTHING")
            .bind::<Text, _>(account)
            .execute(c)?,
    };
    Ok(())
}

pub fn balance(conn: &mut DbConn, account: &str) -> QueryResult<i64> {
    Ok(point_balances::table
        .find(account)
        .select(point_balances::balance)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// Balances of many households at once (no query per row).
pub fn household_balances(
    conn: &mut DbConn,
    household_ids: &[String],
) -> QueryResult<HashMap<String, i64>> {
    let accounts: Vec<String> = household_ids.iter().map(|h| household_account(h)).collect();
    let rows: Vec<(String, i64)> = point_balances::table
        .filter(point_balances::account.eq_any(&accounts))
        .select((point_balances::account, point_balances::balance))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(a, b)| (a.trim_start_matches("household:").to_string(), b))
        .collect())
}

/// Take the row lock on an account's balance for the rest of the transaction
/// (an UPDATE that changes nothing: portable, and it waits for other writers
/// on PostgreSQL; SQLite's write transactions are serial already).
pub fn lock_account(conn: &mut DbConn, account: &str) -> QueryResult<()> {
    ensure_account(conn, account)?;
    diesel::update(point_balances::table.find(account))
        .set(point_balances::balance.eq(point_balances::balance))
        .execute(conn)?;
    Ok(())
}

/// Post one transfer inside the caller's transaction. A posting dated
/// into a closed month (`MonthClosed`) or far ahead (`FarFuture`) is
/// refused before anything is written. A posting whose
/// idempotency key was seen before returns the first entry and changes
/// nothing. The debit of a household is a conditional update: it never
/// takes a balance below zero.
pub fn post(conn: &mut DbConn, p: &Posting) -> Result<Entry, LedgerError> {
    if p.amount <= 0 || p.debit == p.credit {
        return Err(LedgerError::BadAmount);
    }
    if closed::far_future(p.posted_on) {
        return Err(LedgerError::FarFuture(p.posted_on));
    }
    // Hold the chain head before asking whether the month is closed: a
    // close takes the same row first (`closed::hold_ledgers`), so a close
    // and a posting into its month never overlap (PostgreSQL; SQLite
    // writes one at a time anyway).
    closed::hold_points_ledger(conn)?;
    if let Some(month) = closed::closed_month_of(conn, p.posted_on)? {
        return Err(LedgerError::MonthClosed(month));
    }
    if let Some(key) = &p.idempotency_key
        && let Some(e) = point_entries::table
            .filter(point_entries::idempotency_key.eq(key))
            .select(Entry::as_select())
            .first(conn)
            .optional()?
    {
        return Ok(e);
    }
    ensure_account(conn, &p.debit)?;
    ensure_account(conn, &p.credit)?;
    let debited = if is_household(&p.debit) {
        diesel::update(
            point_balances::table
                .find(&p.debit)
                .filter(point_balances::balance.ge(p.amount)),
        )
        .set(point_balances::balance.eq(point_balances::balance - p.amount))
        .execute(conn)?
    } else {
        diesel::update(point_balances::table.find(&p.debit))
            .set(point_balances::balance.eq(point_balances::balance - p.amount))
            .execute(conn)?
    };
    if debited == 0 {
        return Err(LedgerError::Insufficient {
            balance: balance(conn, &p.debit)?,
            needed: p.amount,
        });
    }
    diesel::update(point_balances::table.find(&p.credit))
        .set(point_balances::balance.eq(point_balances::balance + p.amount))
        .execute(conn)?;

    // The chain head: this UPDATE serialises writers of the chain.
    diesel::update(ledger_heads::table.find("points"))
        .set(ledger_heads::seq.eq(ledger_heads::seq + 1))
        .execute(conn)?;
    let (seq, prev_hash): (i64, String) = ledger_heads::table
        .find("points")
        .select((ledger_heads::seq, ledger_heads::hash))
        .first(conn)?;
    let entry = Entry::chained(seq, prev_hash, db::new_id(), db::now(), p);
    entry.insert(conn)?;
    diesel::update(ledger_heads::table.find("points"))
        .set(ledger_heads::hash.eq(&entry.hash))
        .execute(conn)?;
    for (account, signed) in [(&entry.credit, entry.amount), (&entry.debit, -entry.amount)] {
        if let Some(household) = account.strip_prefix("household:") {
            totals::record(
                conn,
                household,
                entry.posted_on,
                &entry.kind,
                &entry.ref_id,
                signed,
            )?;
        }
    }
    Ok(entry)
}

pub fn find_entry(conn: &mut DbConn, id: &str) -> QueryResult<Option<Entry>> {
    point_entries::table
        .filter(point_entries::id.eq(id))
        .select(Entry::as_select())
        .first(conn)
        .optional()
}

/// Post the mirror image of an entry (a correction never edits).
pub fn reverse(
    conn: &mut DbConn,
    original: &Entry,
    kind: Kind,
    memo: &str,
    user_id: Option<String>,
    posted_on: NaiveDate,
) -> Result<Entry, LedgerError> {
    post(
        conn,
        &Posting {
            debit: original.credit.clone(),
            credit: original.debit.clone(),
            amount: original.amount,
            kind,
            ref_kind: original.ref_kind.clone(),
            ref_id: original.ref_id.clone(),
            memo: memo.to_string(),
            user_id,
            posted_on,
            idempotency_key: Some(format!("reverse:{}", original.id)),
            reverses: Some(original.id.clone()),
        },
    )
}

/// The result of recomputing the ledger.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerifyReport {
    pub entries: i64,
    pub accounts: usize,
    /// The first entry whose hash or link does not match, and why.
    pub broken_entry: Option<(i64, String, &'static str)>,
    /// Accounts whose cached balance differs from their entries: (account, cached, summed).
    pub balance_mismatches: Vec<(String, i64, i64)>,
    /// Households whose entries sum below zero.
    pub negative: Vec<String>,
    /// Months whose reporting totals differ from what they sum:
    /// (month, kind, in the totals, from the entries) for the points
    /// totals; for the goods and redemption totals (month, the table and
    /// what, units or points in the totals, from the movements or
    /// redemptions).
    pub totals_mismatches: Vec<(String, String, i64, i64)>,
    /// Sum over all accounts (zero in a double-entry ledger).
    pub total: i64,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.broken_entry.is_none()
            && self.balance_mismatches.is_empty()
            && self.negative.is_empty()
            && self.totals_mismatches.is_empty()
            && self.total == 0
    }
}

/// Recompute the chain and every balance, reading the entries in batches.
pub fn verify(conn: &mut DbConn) -> QueryResult<VerifyReport> {
    let mut report = VerifyReport::default();
    let mut sums: HashMap<String, i64> = HashMap::new();
    // Household sides by (month, kind), for the reporting totals.
    let mut months: HashMap<(String, String), i64> = HashMap::new();
    let mut prev = String::new();
    let mut expected_seq = 1;
    let mut after = 0i64;
    loop {
        let batch: Vec<Entry> = point_entries::table
            .filter(point_entries::seq.gt(after))
            .order(point_entries::seq.asc())
            .limit(5000)
            .select(Entry::as_select())
            .load(conn)?;
        let Some(last) = batch.last() else { break };
        after = last.seq;
        for e in &batch {
            report.entries += 1;
            if report.broken_entry.is_none() {
                let why = if e.seq != expected_seq {
                    Some("sequence")
                } else if e.prev_hash != prev {
                    Some("link")
                } else if e.compute_hash() != e.hash {
                    Some("hash")
                } else {
                    None
                };
                if let Some(why) = why {
                    report.broken_entry = Some((e.seq, e.id.clone(), why));
                }
            }
            prev = e.hash.clone();
            expected_seq = e.seq + 1;
            *sums.entry(e.debit.clone()).or_default() -= e.amount;
            *sums.entry(e.credit.clone()).or_default() += e.amount;
            for (account, signed) in [(&e.debit, -e.amount), (&e.credit, e.amount)] {
                if is_household(account) {
                    *months
                        .entry((totals::month_key(e.posted_on), e.kind.clone()))
                        .or_default() += signed;
                }
            }
        }
    }
    report.totals_mismatches = totals::compare(conn, months)?;
    // The summary's other running totals, each against what it sums.
    report
        .totals_mismatches
        .extend(goods_totals::compare(conn)?);
    report
        .totals_mismatches
        .extend(redemption_totals::compare(conn)?);
    report
        .totals_mismatches
        .extend(redeemer_totals::compare(conn)?);
    report
        .totals_mismatches
        .extend(totals::compare_closings(conn)?);
    report
        .totals_mismatches
        .extend(totals::compare_villages(conn)?);
    report
        .totals_mismatches
        .extend(totals::compare_area_closings(conn)?);
    report.totals_mismatches.extend(quiet::compare(conn)?);
    let cached: Vec<(String, i64)> = point_balances::table
        .select((point_balances::account, point_balances::balance))
        .load(conn)?;
    let mut seen = std::collections::HashSet::new();
    for (account, bal) in &cached {
        seen.insert(account.clone());
        let summed = sums.get(account).copied().unwrap_or(0);
        if summed != *bal {
            report
                .balance_mismatches
                .push((account.clone(), *bal, summed));
        }
    }
    for (account, summed) in &sums {
        if !seen.contains(account) && *summed != 0 {
            report
                .balance_mismatches
                .push((account.clone(), 0, *summed));
        }
        if is_household(account) && *summed < 0 {
            report.negative.push(account.clone());
        }
    }
    report.balance_mismatches.sort();
    report.accounts = sums.len();
    report.total = sums.values().sum();
    // The chain head must point at the last entry.
    let head: (i64, String) = ledger_heads::table
        .find("points")
        .select((ledger_heads::seq, ledger_heads::hash))
        .first(conn)?;
    if report.broken_entry.is_none() && (head.0 != expected_seq - 1 || head.1 != prev) {
        report.broken_entry = Some((head.0, String::new(), "head"));
    }
    Ok(report)
}

/// When the ledger was last verified, and what was found.
#[derive(Debug, Clone, PartialEq)]
pub struct LastVerify {
    pub at: NaiveDateTime,
    pub ok: bool,
    pub entries: i64,
}

const LAST_VERIFY: &str = "last_ledger_verify";

/// Remember a verification for the operations page (inside the caller's
/// transaction, beside its audit row).
pub fn record_verify(conn: &mut DbConn, report: &VerifyReport) -> QueryResult<()> {
    crate::settings::put_raw(
        conn,
        LAST_VERIFY,
        &format!(
            "{} {} {}",
            db::now().format("%Y-%m-%dT%H:%M:%S"),
            if report.ok() { "ok" } else { "failed" },
            report.entries
        ),
    )
}

pub fn last_verify(conn: &mut DbConn) -> QueryResult<Option<LastVerify>> {
    let Some(v) = crate::settings::get_raw(conn, LAST_VERIFY)? else {
        return Ok(None);
    };
    let mut parts = v.split_whitespace();
    let at = parts
        .next()
        .and_then(|t| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S").ok());
    let ok = parts.next() == Some("ok");
    let entries = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    Ok(at.map(|at| LastVerify { at, ok, entries }))
}
