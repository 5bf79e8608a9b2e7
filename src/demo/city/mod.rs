//! The demo city in bulk: months of history for tens of thousands of
//! households in minutes. Rows are built in memory, deterministically for a
//! seed, in the order the app would have written them, and inserted with
//! multi-row INSERTs. What comes out is what the operations would have made:
//! both ledgers hash-chained with the same functions (`ledger::chain`),
//! cached balances and stock equal to their entries, awards reviewed by
//! someone other than their proposer, an audit row for every operation.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, NaiveDateTime, TimeZone};
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use crate::config::PasswordCost;
use crate::crypto::DataKey;
use crate::db::schema::{
    areas, audit_log, awards, counters, donation_lines, donations, donors,
    household_status_history, households, idempotency_keys, items, ledger_heads, month_closes,
    point_balances, points_cards, redemption_lines, redemptions, rules, stock, stock_chain_head,
    stocktake_lines, stocktakes, stores, users,
};
use crate::db::{self, DbConn};
use crate::ledger::{self, chain};
use crate::reports::Month;

use super::plant::{self, Planted};
use super::{CITIES, DISTRICTS, DemoLogins, DemoSize, GIVEN, GOODS, RULES, SURNAMES};

/// Rows per INSERT: under SQLite's 32,766 bound parameters for the widest table.
const PARAMS_PER_INSERT: usize = 30_000;

/// Insert rows of one table in multi-row INSERTs, on either backend.
macro_rules! insert_all {
    ($conn:expr, $table:expr, $rows:expr, $cols:expr) => {{
        for chunk in $rows.chunks((PARAMS_PER_INSERT / $cols).max(1)) {
            match &mut *$conn {
                DbConn::Sqlite(c) => diesel::insert_into($table).values(chunk).execute(c)?,
                DbConn::Pg(c) => diesel::insert_into($table).values(chunk).execute(c)?,
            };
        }
    }};
}

mod fill;
mod months;
mod posting;
mod setup;

pub use fill::*;
use setup::*;

#[derive(Insertable)]
#[diesel(table_name = areas, treat_none_as_default_value = false)]
struct NewArea {
    id: String,
    parent_id: Option<String>,
    level: String,
    name: String,
    path: String,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
struct NewUser {
    id: String,
    username: String,
    display_name: String,
    password_hash: String,
    role: String,
    area_id: Option<String>,
    store_id: Option<String>,
    disabled: bool,
    must_change_password: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = stores, treat_none_as_default_value = false)]
struct NewStore {
    id: String,
    name: String,
    area_id: String,
    address: String,
    opening_hours: String,
    active: bool,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = items, treat_none_as_default_value = false)]
struct NewItem {
    id: String,
    name: String,
    category: String,
    unit: String,
    points_price: i64,
    barcode: Option<String>,
    active: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = rules, treat_none_as_default_value = false)]
struct NewRule {
    id: String,
    code: String,
    version: i64,
    name: String,
    category_id: String,
    points: i64,
    cap_count: Option<i64>,
    cap_points: Option<i64>,
    cap_period: Option<String>,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
    active: bool,
    superseded_by: Option<String>,
    created_at: NaiveDateTime,
    created_by: String,
}

#[derive(Insertable)]
#[diesel(table_name = donors, treat_none_as_default_value = false)]
struct NewDonor {
    id: String,
    name: String,
    kind: String,
    contact_person: String,
    phone: String,
    address: String,
    note: String,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = households, treat_none_as_default_value = false)]
struct NewHousehold {
    id: String,
    head_name: String,
    id_cipher: String,
    id_lookup: String,
    id_masked: String,
    id_last4: String,
    phone_cipher: String,
    phone_masked: String,
    area_id: String,
    address: String,
    members: i64,
    status: String,
    helper_id: Option<String>,
    notes: String,
    archived: bool,
    archived_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    created_by: String,
    updated_at: NaiveDateTime,
    updated_by: String,
}

#[derive(Insertable)]
#[diesel(table_name = points_cards, treat_none_as_default_value = false)]
struct NewCard {
    card_no: String,
    household_id: String,
    issued_at: NaiveDateTime,
    issued_by: String,
    replaced_by: Option<String>,
    replaced_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = household_status_history, treat_none_as_default_value = false)]
struct NewStatus {
    id: String,
    household_id: String,
    at: NaiveDateTime,
    user_id: Option<String>,
    username: String,
    from_status: Option<String>,
    to_status: String,
    reason: String,
}

#[derive(Insertable)]
#[diesel(table_name = audit_log, treat_none_as_default_value = false)]
struct NewAudit {
    id: String,
    at: NaiveDateTime,
    user_id: Option<String>,
    username: String,
    action: String,
    target_kind: String,
    target_id: String,
    summary: String,
    ip: String,
    request_id: String,
}

#[derive(Insertable)]
#[diesel(table_name = awards, treat_none_as_default_value = false)]
struct NewAward {
    id: String,
    household_id: String,
    rule_id: String,
    rule_code: String,
    points: i64,
    occurred_on: NaiveDate,
    note: String,
    status: String,
    batch_id: Option<String>,
    idempotency_key: Option<String>,
    proposed_by: String,
    proposed_at: NaiveDateTime,
    reviewed_by: Option<String>,
    reviewed_at: Option<NaiveDateTime>,
    review_note: String,
    notice_until: Option<NaiveDate>,
    objection: String,
    entry_id: Option<String>,
    reversed_by: Option<String>,
    reversed_at: Option<NaiveDateTime>,
    reverse_reason: String,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = redemptions, treat_none_as_default_value = false)]
struct NewRedemption {
    id: String,
    number: String,
    store_id: String,
    household_id: String,
    card_no: String,
    clerk_id: Option<String>,
    clerk_username: String,
    total_points: i64,
    balance_after: i64,
    status: String,
    points_entry_id: String,
    idempotency_key: String,
    created_at: NaiveDateTime,
    voided_at: Option<NaiveDateTime>,
    voided_by: String,
    void_reason: String,
}

#[derive(Insertable)]
#[diesel(table_name = redemption_lines, treat_none_as_default_value = false)]
struct NewRedemptionLine {
    id: String,
    redemption_id: String,
    line_no: i64,
    item_id: String,
    item_name: String,
    unit: String,
    quantity: i64,
    unit_points: i64,
    points: i64,
    movement_id: String,
}

#[derive(Insertable)]
#[diesel(table_name = donations, treat_none_as_default_value = false)]
struct NewDonation {
    id: String,
    number: String,
    donor_id: String,
    store_id: String,
    donated_on: NaiveDate,
    money_fen: i64,
    note: String,
    created_by: String,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = donation_lines, treat_none_as_default_value = false)]
struct NewDonationLine {
    id: String,
    donation_id: String,
    line_no: i32,
    item_id: String,
    quantity: i64,
    value_fen: i64,
}

#[derive(Insertable)]
#[diesel(table_name = stocktakes, treat_none_as_default_value = false)]
struct NewStocktake {
    id: String,
    number: String,
    store_id: String,
    status: String,
    show_expected: bool,
    started_by: String,
    counted_by: String,
    created_at: NaiveDateTime,
    posted_at: Option<NaiveDateTime>,
    start_seq: i64,
    end_seq: Option<i64>,
}

#[derive(Insertable)]
#[diesel(table_name = stocktake_lines, treat_none_as_default_value = false)]
struct NewStocktakeLine {
    stocktake_id: String,
    item_id: String,
    expected: i64,
    counted: Option<i64>,
}

#[derive(Insertable)]
#[diesel(table_name = idempotency_keys, treat_none_as_default_value = false)]
struct NewIdem {
    key: String,
    scope: String,
    user_id: String,
    request_hash: String,
    result: String,
    created_at: NaiveDateTime,
}

/// A person acting: id and username, for the audit log and ledger rows.
#[derive(Clone)]
struct Staff {
    id: String,
    username: String,
}

struct Village {
    id: String,
    town: usize,
    official: Staff,
}

struct StoreInfo {
    id: String,
    name: String,
    clerk: Staff,
}

struct ItemInfo {
    id: String,
    name: String,
    unit: String,
    price: i64,
}

struct RuleInfo {
    id: String,
    code: &'static str,
    points: i64,
}

struct HouseholdInfo {
    id: String,
    head_name: String,
    card: String,
    village: usize,
    created_at: NaiveDateTime,
}

/// Everything that happens at one moment, in the order it is posted.
enum Event {
    /// An approved award (or deduction) reaches the ledger.
    Award {
        award_id: String,
        entry_id: String,
        household: usize,
        points: i64,
        rule_code: &'static str,
        reviewer: String,
    },
    Redeem {
        id: String,
        household: usize,
        store: usize,
        lines: Vec<(usize, i64)>,
    },
    Void {
        redemption_id: String,
    },
    Donation {
        store: usize,
        donor: usize,
        money_fen: i64,
        lines: Vec<(usize, i64)>,
    },
    Move {
        from: usize,
        to: usize,
        item: usize,
        quantity: i64,
    },
    WriteOff {
        store: usize,
        item: usize,
        quantity: i64,
        reason: &'static str,
    },
    Stocktake {
        store: usize,
    },
}

/// Rows waiting to be inserted (one month at a time).
#[derive(Default)]
struct Out {
    awards: Vec<NewAward>,
    entries: Vec<ledger::Entry>,
    movements: Vec<crate::stock::Movement>,
    redemptions: Vec<NewRedemption>,
    redemption_lines: Vec<NewRedemptionLine>,
    donations: Vec<NewDonation>,
    donation_lines: Vec<NewDonationLine>,
    stocktakes: Vec<NewStocktake>,
    stocktake_lines: Vec<NewStocktakeLine>,
    idem: Vec<NewIdem>,
    audit: Vec<NewAudit>,
}

/// What a redemption posted, kept until the end of its month for a void.
struct Posted {
    row: usize,
    entry_id: String,
    amount: i64,
    lines: Vec<(usize, i64, String)>,
}

/// The running state of both ledgers while the months are generated.
struct City {
    tz: chrono_tz::Tz,
    ids: StdRng,
    villages: Vec<Village>,
    stores: Vec<StoreInfo>,
    items: Vec<ItemInfo>,
    donors: Vec<String>,
    households: Vec<HouseholdInfo>,
    /// Household balances (by index) and the other accounts.
    balances: Vec<i64>,
    accounts: HashMap<String, i64>,
    point_seq: i64,
    point_prev: String,
    stock_seq: i64,
    stock_prev: String,
    stock: HashMap<(usize, usize), i64>,
    redemption_no: i64,
    donation_no: i64,
    stocktake_no: i64,
    posted: HashMap<String, Posted>,
    out: Out,
}

/// What was made, for the progress line and the tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Made {
    pub households: usize,
    pub awards: usize,
    pub point_entries: i64,
    pub stock_movements: i64,
    pub redemptions: i64,
    pub donations: i64,
    pub stocktakes: i64,
}

fn utc(tz: chrono_tz::Tz, local: NaiveDateTime) -> NaiveDateTime {
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.naive_utc())
        .unwrap_or(local)
}

fn local_day(tz: chrono_tz::Tz, at: NaiveDateTime) -> NaiveDate {
    tz.from_utc_datetime(&at).date_naive()
}

/// A moment on `day` between `from_h` and `to_h` o'clock, local time, in UTC
/// to the microsecond.
fn moment(
    rng: &mut StdRng,
    tz: chrono_tz::Tz,
    day: NaiveDate,
    from_h: u32,
    to_h: u32,
) -> NaiveDateTime {
    let secs = rng.gen_range(from_h * 3600..to_h * 3600);
    let micros = rng.gen_range(0..1_000_000);
    let local = day
        .and_hms_micro_opt(secs / 3600, secs / 60 % 60, secs % 60, micros)
        .expect("valid time");
    utc(tz, local)
}

fn card_number(rng: &mut StdRng) -> String {
    let body = format!(
        "{}{:08}",
        rng.gen_range(1..=9),
        rng.gen_range(0..100_000_000u32)
    );
    let check = crate::domain::people::luhn_digit(&body).expect("digits");
    format!("{body}{check}")
}

/// The demo logins and every town's reviewer.
struct Logins {
    named: DemoLogins,
    reviewers: Vec<Staff>,
    /// The administrator who closes the months.
    admin: Staff,
}
