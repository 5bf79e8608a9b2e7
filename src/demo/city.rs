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
    household_status_history, households, idempotency_keys, items, ledger_heads, point_balances,
    point_entries, points_cards, redemption_lines, redemptions, rules, stock, stock_chain_head,
    stock_movements, stocktake_lines, stocktakes, stores, users,
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

impl City {
    /// A time-ordered id (UUID v7) for a row written at `at`, from the seed.
    fn id_at(&mut self, at: NaiveDateTime) -> String {
        let mut bytes = [0u8; 10];
        self.ids.fill_bytes(&mut bytes);
        let ms = at.and_utc().timestamp_millis().max(0) as u64;
        uuid::Builder::from_unix_timestamp_millis(ms, &bytes)
            .into_uuid()
            .to_string()
    }

    fn idem_key(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.ids.fill_bytes(&mut bytes);
        hex::encode(bytes)
    }

    fn audit(
        &mut self,
        at: NaiveDateTime,
        who: Option<&Staff>,
        action: &'static str,
        target_kind: &'static str,
        target_id: &str,
        summary: String,
    ) {
        let id = self.id_at(at);
        self.out.audit.push(NewAudit {
            id,
            at,
            user_id: who.map(|s| s.id.clone()),
            username: who
                .map(|s| s.username.clone())
                .unwrap_or_else(|| "(console)".into()),
            action: action.to_string(),
            target_kind: target_kind.to_string(),
            target_id: target_id.to_string(),
            summary: summary.chars().take(500).collect(),
            ip: String::new(),
            request_id: String::new(),
        });
    }

    /// Post one points transfer, as `ledger::post` does.
    #[allow(clippy::too_many_arguments)]
    fn post_points(
        &mut self,
        id: String,
        at: NaiveDateTime,
        debit: (Option<usize>, String),
        credit: (Option<usize>, String),
        amount: i64,
        kind: ledger::Kind,
        ref_kind: &str,
        ref_id: &str,
        memo: String,
        user_id: Option<String>,
        idempotency_key: String,
        reverses: Option<String>,
    ) -> i64 {
        for (h, account, sign) in [(debit.0, &debit.1, -amount), (credit.0, &credit.1, amount)] {
            match h {
                Some(h) => self.balances[h] += sign,
                None => *self.accounts.entry(account.clone()).or_default() += sign,
            }
        }
        self.point_seq += 1;
        let posting = ledger::Posting {
            debit: debit.1,
            credit: credit.1,
            amount,
            kind,
            ref_kind: ref_kind.to_string(),
            ref_id: ref_id.to_string(),
            memo,
            user_id,
            posted_on: local_day(self.tz, at),
            idempotency_key: Some(idempotency_key),
            reverses,
        };
        let prev = std::mem::take(&mut self.point_prev);
        let e = ledger::Entry::chained(self.point_seq, prev, id, at, &posting);
        self.point_prev = e.hash.clone();
        self.out.entries.push(e);
        self.point_seq
    }

    /// Post one stock transfer, as `stock::post` does; None when the shelf
    /// does not hold enough.
    #[allow(clippy::too_many_arguments)]
    fn post_stock(
        &mut self,
        at: NaiveDateTime,
        kind: crate::stock::MovementKind,
        item: usize,
        quantity: i64,
        from: (Option<usize>, String),
        to: (Option<usize>, String),
        donation_id: Option<&str>,
        stocktake_id: Option<&str>,
        reverses_id: Option<&str>,
        reason: &str,
        who: &Staff,
    ) -> Option<String> {
        if let Some(s) = from.0 {
            let have = self.stock.get(&(s, item)).copied().unwrap_or(0);
            if have < quantity {
                return None;
            }
            self.stock.insert((s, item), have - quantity);
        }
        if let Some(s) = to.0 {
            *self.stock.entry((s, item)).or_default() += quantity;
        }
        self.stock_seq += 1;
        let id = self.id_at(at);
        let account = |code: &str| crate::stock::Account::parse(code).expect("a known account");
        let draft = crate::stock::Draft {
            kind,
            item_id: self.items[item].id.clone(),
            quantity,
            from: account(&from.1),
            to: account(&to.1),
            donation_id: donation_id.map(str::to_string),
            stocktake_id: stocktake_id.map(str::to_string),
            reverses_id: reverses_id.map(str::to_string),
            reason: reason.to_string(),
            user_id: Some(who.id.clone()),
            username: who.username.clone(),
        };
        let prev = std::mem::take(&mut self.stock_prev);
        let m = crate::stock::Movement::chained(self.stock_seq, prev, id, at, draft);
        self.stock_prev = m.hash.clone();
        let id = m.id.clone();
        self.out.movements.push(m);
        Some(id)
    }

    fn shelf(&self, s: usize) -> (Option<usize>, String) {
        (Some(s), format!("shelf:{}", self.stores[s].id))
    }

    fn apply(&mut self, at: NaiveDateTime, event: Event) {
        use crate::stock::MovementKind as M;
        match event {
            Event::Award {
                award_id,
                entry_id,
                household,
                points,
                rule_code,
                reviewer,
            } => {
                let h = ledger::household_account(&self.households[household].id);
                let issuance = (None, ledger::ISSUANCE.to_string());
                let (debit, credit, kind) = if points > 0 {
                    (issuance, (Some(household), h), ledger::Kind::Award)
                } else {
                    ((Some(household), h), issuance, ledger::Kind::Deduction)
                };
                self.post_points(
                    entry_id,
                    at,
                    debit,
                    credit,
                    points.abs(),
                    kind,
                    "award",
                    &award_id,
                    rule_code.to_string(),
                    Some(reviewer),
                    format!("award:{award_id}"),
                    None,
                );
            }
            Event::Redeem {
                id,
                household,
                store,
                lines,
            } => {
                let mut taken = Vec::new();
                for (item, q) in lines {
                    let have = self.stock.get(&(store, item)).copied().unwrap_or(0);
                    if have >= q && !taken.iter().any(|(i, _)| *i == item) {
                        taken.push((item, q));
                    }
                }
                let total: i64 = taken.iter().map(|(i, q)| self.items[*i].price * q).sum();
                if total <= 0 || self.balances[household] < total {
                    return;
                }
                self.redemption_no += 1;
                let number = format!(
                    "DH{}-{:06}",
                    local_day(self.tz, at).format("%Y"),
                    self.redemption_no
                );
                let clerk = self.stores[store].clerk.clone();
                let entry_id = self.id_at(at);
                let h_account = ledger::household_account(&self.households[household].id);
                self.post_points(
                    entry_id.clone(),
                    at,
                    (Some(household), h_account),
                    (None, ledger::store_account(&self.stores[store].id)),
                    total,
                    ledger::Kind::Redemption,
                    "redemption",
                    &id,
                    format!("{} {}", self.stores[store].name, number),
                    Some(clerk.id.clone()),
                    format!("redemption:{id}"),
                    None,
                );
                let balance_after = self.balances[household];
                let key = self.idem_key();
                self.out.redemptions.push(NewRedemption {
                    id: id.clone(),
                    number: number.clone(),
                    store_id: self.stores[store].id.clone(),
                    household_id: self.households[household].id.clone(),
                    card_no: self.households[household].card.clone(),
                    clerk_id: Some(clerk.id.clone()),
                    clerk_username: clerk.username.clone(),
                    total_points: total,
                    balance_after,
                    status: "completed".into(),
                    points_entry_id: entry_id.clone(),
                    idempotency_key: key,
                    created_at: at,
                    voided_at: None,
                    voided_by: String::new(),
                    void_reason: String::new(),
                });
                let row = self.out.redemptions.len() - 1;
                let mut posted_lines = Vec::new();
                for (n, (item, q)) in taken.iter().enumerate() {
                    let shelf = self.shelf(store);
                    let m = self
                        .post_stock(
                            at,
                            M::Redemption,
                            *item,
                            *q,
                            shelf,
                            (None, "redeemed".into()),
                            None,
                            None,
                            None,
                            &number,
                            &clerk,
                        )
                        .expect("stock checked above");
                    let line_id = self.id_at(at);
                    let it = &self.items[*item];
                    self.out.redemption_lines.push(NewRedemptionLine {
                        id: line_id,
                        redemption_id: id.clone(),
                        line_no: n as i64 + 1,
                        item_id: it.id.clone(),
                        item_name: it.name.clone(),
                        unit: it.unit.clone(),
                        quantity: *q,
                        unit_points: it.price,
                        points: it.price * q,
                        movement_id: m.clone(),
                    });
                    posted_lines.push((*item, *q, m));
                }
                self.audit(
                    at,
                    Some(&clerk),
                    "redemption.complete",
                    "redemption",
                    &id,
                    format!(
                        "{number} {total} points, {} lines, balance after {balance_after}",
                        taken.len()
                    ),
                );
                self.posted.insert(
                    id,
                    Posted {
                        row,
                        entry_id,
                        amount: total,
                        lines: posted_lines,
                    },
                );
            }
            Event::Void { redemption_id } => {
                let Some(p) = self.posted.remove(&redemption_id) else {
                    return;
                };
                let reason = "录入错误，重新兑换";
                let (store, household, number, clerk_store) = {
                    let r = &self.out.redemptions[p.row];
                    let store = self
                        .stores
                        .iter()
                        .position(|s| s.id == r.store_id)
                        .expect("known store");
                    let household = self.households.iter().position(|h| h.id == r.household_id);
                    (store, household, r.number.clone(), store)
                };
                let Some(household) = household else { return };
                let clerk = self.stores[clerk_store].clerk.clone();
                {
                    let r = &mut self.out.redemptions[p.row];
                    r.status = "void".into();
                    r.voided_at = Some(at);
                    r.voided_by = clerk.username.clone();
                    r.void_reason = reason.to_string();
                }
                let entry_id = self.id_at(at);
                let h_account = ledger::household_account(&self.households[household].id);
                self.post_points(
                    entry_id,
                    at,
                    (None, ledger::store_account(&self.stores[store].id)),
                    (Some(household), h_account),
                    p.amount,
                    ledger::Kind::RedemptionVoid,
                    "redemption",
                    &redemption_id,
                    reason.to_string(),
                    Some(clerk.id.clone()),
                    format!("reverse:{}", p.entry_id),
                    Some(p.entry_id.clone()),
                );
                for (item, q, movement) in &p.lines {
                    let shelf = self.shelf(store);
                    self.post_stock(
                        at,
                        M::Reversal,
                        *item,
                        *q,
                        (None, "redeemed".into()),
                        shelf,
                        None,
                        None,
                        Some(movement),
                        reason,
                        &clerk,
                    );
                }
                self.audit(
                    at,
                    Some(&clerk),
                    "redemption.void",
                    "redemption",
                    &redemption_id,
                    format!("{number} {reason}"),
                );
            }
            Event::Donation {
                store,
                donor,
                money_fen,
                lines,
            } => {
                self.donation_no += 1;
                let day = local_day(self.tz, at);
                let number = format!("JZ{}-{:05}", day.format("%Y"), self.donation_no);
                let id = self.id_at(at);
                let clerk = self.stores[store].clerk.clone();
                let donor_id = self.donors[donor].clone();
                self.out.donations.push(NewDonation {
                    id: id.clone(),
                    number: number.clone(),
                    donor_id: donor_id.clone(),
                    store_id: self.stores[store].id.clone(),
                    donated_on: day,
                    money_fen,
                    note: String::new(),
                    created_by: clerk.username.clone(),
                    created_at: at,
                });
                let mut fp = vec![
                    self.stores[store].id.clone(),
                    donor_id.clone(),
                    day.to_string(),
                    money_fen.to_string(),
                    String::new(),
                ];
                for (n, (item, q)) in lines.iter().enumerate() {
                    let value_fen = self.items[*item].price * q * 100;
                    let line_id = self.id_at(at);
                    self.out.donation_lines.push(NewDonationLine {
                        id: line_id,
                        donation_id: id.clone(),
                        line_no: n as i32 + 1,
                        item_id: self.items[*item].id.clone(),
                        quantity: *q,
                        value_fen,
                    });
                    fp.extend([
                        self.items[*item].id.clone(),
                        q.to_string(),
                        value_fen.to_string(),
                    ]);
                    let shelf = self.shelf(store);
                    self.post_stock(
                        at,
                        M::Donation,
                        *item,
                        *q,
                        (None, format!("donor:{donor_id}")),
                        shelf,
                        Some(&id),
                        None,
                        None,
                        "",
                        &clerk,
                    );
                }
                let refs: Vec<&str> = fp.iter().map(String::as_str).collect();
                let key = self.idem_key();
                self.out.idem.push(NewIdem {
                    key,
                    scope: "donation.book".into(),
                    user_id: clerk.id.clone(),
                    request_hash: crate::idempotency::fingerprint(&refs),
                    result: id.clone(),
                    created_at: at,
                });
                self.audit(
                    at,
                    Some(&clerk),
                    "donation.book",
                    "donation",
                    &id,
                    format!(
                        "{number} {}: {} lines, money {money_fen} fen",
                        DONORS[donor].0,
                        lines.len()
                    ),
                );
            }
            Event::Move {
                from,
                to,
                item,
                quantity,
            } => {
                let clerk = self.stores[from].clerk.clone();
                let (f, t) = (self.shelf(from), self.shelf(to));
                let Some(m) = self.post_stock(
                    at,
                    M::Move,
                    item,
                    quantity,
                    f,
                    t,
                    None,
                    None,
                    None,
                    "",
                    &clerk,
                ) else {
                    return;
                };
                let (from_id, to_id, item_id) = (
                    self.stores[from].id.clone(),
                    self.stores[to].id.clone(),
                    self.items[item].id.clone(),
                );
                let fp = crate::idempotency::fingerprint(&[
                    &from_id,
                    &to_id,
                    &item_id,
                    &quantity.to_string(),
                ]);
                let key = self.idem_key();
                self.out.idem.push(NewIdem {
                    key,
                    scope: "stock.move".into(),
                    user_id: clerk.id.clone(),
                    request_hash: fp,
                    result: m.clone(),
                    created_at: at,
                });
                let summary = format!(
                    "{} x{quantity} -> {}",
                    self.items[item].name, self.stores[to].name
                );
                self.audit(
                    at,
                    Some(&clerk),
                    "stock.move",
                    "stock_movement",
                    &m,
                    summary,
                );
            }
            Event::WriteOff {
                store,
                item,
                quantity,
                reason,
            } => {
                let clerk = self.stores[store].clerk.clone();
                let shelf = self.shelf(store);
                let Some(m) = self.post_stock(
                    at,
                    M::WriteOff,
                    item,
                    quantity,
                    shelf,
                    (None, "written_off".into()),
                    None,
                    None,
                    None,
                    reason,
                    &clerk,
                ) else {
                    return;
                };
                let fp = crate::idempotency::fingerprint(&[
                    &self.stores[store].id.clone(),
                    &self.items[item].id.clone(),
                    &quantity.to_string(),
                    reason,
                ]);
                let key = self.idem_key();
                self.out.idem.push(NewIdem {
                    key,
                    scope: "stock.write_off".into(),
                    user_id: clerk.id.clone(),
                    request_hash: fp,
                    result: m.clone(),
                    created_at: at,
                });
                let summary = format!("{} x{quantity}: {reason}", self.items[item].name);
                self.audit(
                    at,
                    Some(&clerk),
                    "stock.write_off",
                    "stock_movement",
                    &m,
                    summary,
                );
            }
            Event::Stocktake { store } => {
                let clerk = self.stores[store].clerk.clone();
                self.stocktake_no += 1;
                let number = format!(
                    "PD{}-{:05}",
                    local_day(self.tz, at).format("%Y"),
                    self.stocktake_no
                );
                let id = self.id_at(at);
                let posted_at = at + Duration::minutes(45);
                // A few items counted one or two off what the ledger says.
                let mut counted_lines = Vec::new();
                for item in 0..self.items.len() {
                    let Some(expected) = self.stock.get(&(store, item)).copied() else {
                        continue;
                    };
                    let mut r =
                        StdRng::seed_from_u64((self.stocktake_no as u64) << 16 | item as u64);
                    let diff = if r.gen_bool(0.15) {
                        r.gen_range(-2..=2i64).max(-expected)
                    } else {
                        0
                    };
                    counted_lines.push((item, expected, expected + diff));
                }
                if counted_lines.is_empty() {
                    self.stocktake_no -= 1;
                    return;
                }
                self.audit(
                    at,
                    Some(&clerk),
                    "stocktake.start",
                    "stocktake",
                    &id,
                    format!("{number}: {} lines", counted_lines.len()),
                );
                let reason = format!("{number} ({})", clerk.username);
                // Nothing else moves at the store while the demo counts.
                let start_seq = self.stock_seq;
                let mut posted = 0;
                for (item, expected, counted) in &counted_lines {
                    self.out.stocktake_lines.push(NewStocktakeLine {
                        stocktake_id: id.clone(),
                        item_id: self.items[*item].id.clone(),
                        expected: *expected,
                        counted: Some(*counted),
                    });
                    let diff = counted - expected;
                    if diff == 0 {
                        continue;
                    }
                    let shelf = self.shelf(store);
                    let counted_acct = (None, "counted".to_string());
                    let (from, to) = if diff > 0 {
                        (counted_acct, shelf)
                    } else {
                        (shelf, counted_acct)
                    };
                    self.post_stock(
                        posted_at,
                        M::Adjustment,
                        *item,
                        diff.abs(),
                        from,
                        to,
                        None,
                        Some(&id),
                        None,
                        &reason,
                        &clerk,
                    );
                    posted += 1;
                }
                self.out.stocktakes.push(NewStocktake {
                    id: id.clone(),
                    number: number.clone(),
                    store_id: self.stores[store].id.clone(),
                    status: "posted".into(),
                    show_expected: false,
                    started_by: clerk.username.clone(),
                    counted_by: clerk.username.clone(),
                    created_at: at,
                    posted_at: Some(posted_at),
                    start_seq,
                    end_seq: Some(start_seq),
                });
                let key = self.idem_key();
                self.out.idem.push(NewIdem {
                    key,
                    scope: "stocktake.confirm".into(),
                    user_id: clerk.id.clone(),
                    request_hash: crate::idempotency::fingerprint(&[&id]),
                    result: id.clone(),
                    created_at: posted_at,
                });
                self.audit(
                    posted_at,
                    Some(&clerk),
                    "stocktake.confirm",
                    "stocktake",
                    &id,
                    format!("{number}: {posted} differences posted"),
                );
            }
        }
    }

    /// Insert what the month made, in one transaction.
    fn flush(&mut self, conn: &mut DbConn) -> QueryResult<()> {
        let mut out = std::mem::take(&mut self.out);
        out.awards.sort_by(|a, b| a.id.cmp(&b.id));
        out.audit.sort_by(|a, b| a.id.cmp(&b.id));
        db::write_tx(conn, |c| {
            insert_all!(c, awards::table, out.awards, 22);
            insert_all!(c, point_entries::table, out.entries, 16);
            insert_all!(c, donations::table, out.donations, 9);
            insert_all!(c, donation_lines::table, out.donation_lines, 6);
            insert_all!(c, stocktakes::table, out.stocktakes, 11);
            insert_all!(c, stock_movements::table, out.movements, 18);
            insert_all!(c, stocktake_lines::table, out.stocktake_lines, 4);
            insert_all!(c, redemptions::table, out.redemptions, 16);
            insert_all!(c, redemption_lines::table, out.redemption_lines, 10);
            insert_all!(c, idempotency_keys::table, out.idem, 6);
            insert_all!(c, audit_log::table, out.audit, 10);
            Ok::<_, diesel::result::Error>(())
        })
    }
}

/// Fill an empty database with a city of `size.households` households and
/// `size.months` months of history ending today. `progress(step, done, total)`.
pub fn fill(
    conn: &mut DbConn,
    key: &DataKey,
    cost: PasswordCost,
    size: DemoSize,
    tz: chrono_tz::Tz,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<(DemoLogins, Made), String> {
    let options = FillOptions {
        plant: false,
        now: db::now(),
    };
    fill_with(conn, key, cost, size, tz, options, progress).map(|(l, m, _)| (l, m))
}

/// How a demo city is filled beyond its size.
#[derive(Debug, Clone, Copy)]
pub struct FillOptions {
    /// Plant the known anomalies of `demo::plant`.
    pub plant: bool,
    /// The moment the history ends (UTC): its day and month in the scheme's
    /// time zone are the demo's "today" and current month.
    pub now: NaiveDateTime,
}

/// As `fill`, with its history ending at `options.now`, and with
/// `options.plant` the known anomalies of `demo::plant` among the ordinary
/// months (when the city has at least ten villages and three months):
/// returns what was planted.
pub fn fill_with(
    conn: &mut DbConn,
    key: &DataKey,
    cost: PasswordCost,
    size: DemoSize,
    tz: chrono_tz::Tz,
    options: FillOptions,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<(DemoLogins, Made, Vec<Planted>), String> {
    fill_cities(conn, key, cost, size, 1, tz, options, progress)
}

/// As `fill_with`, with the households spread over `cities` cities: more
/// than one puts them under one province (山东省), and adds the login
/// `demo-auditor-province`, an auditor limited to it. One city is the
/// demo as it always was, row for row.
#[allow(clippy::too_many_arguments)]
pub fn fill_cities(
    conn: &mut DbConn,
    key: &DataKey,
    cost: PasswordCost,
    size: DemoSize,
    cities: usize,
    tz: chrono_tz::Tz,
    options: FillOptions,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<(DemoLogins, Made, Vec<Planted>), String> {
    let plant = options.plant;
    if !super::is_empty(conn).map_err(|e| e.to_string())? {
        return Err("the database already has households; the demo only fills an empty one".into());
    }
    let err = |e: diesel::result::Error| e.to_string();
    if let DbConn::Sqlite(c) = conn {
        // A bigger page cache for building the indexes of millions of rows.
        diesel::sql_query("PRAGMA cache_size = -262144")
            .execute(c)
            .map_err(err)?;
    }
    let months = size.months.max(1);
    let mut rng = StdRng::seed_from_u64(size.seed);
    let now = options.now;
    let today = local_day(tz, now);
    let mut first_month = Month::of(today);
    for _ in 1..months {
        first_month = first_month.prev();
    }
    let start = crate::time::local_day_start_utc(first_month.first_day(), tz);
    let mut city = City {
        tz,
        ids: StdRng::seed_from_u64(size.seed ^ 0x05ee_d1d5),
        villages: Vec::new(),
        stores: Vec::new(),
        items: Vec::new(),
        donors: Vec::new(),
        households: Vec::new(),
        balances: Vec::new(),
        accounts: HashMap::new(),
        point_seq: 0,
        point_prev: String::new(),
        stock_seq: 0,
        stock_prev: chain::GENESIS.to_string(),
        stock: HashMap::new(),
        redemption_no: 0,
        donation_no: 0,
        stocktake_no: 0,
        posted: HashMap::new(),
        out: Out::default(),
    };
    let logins = setup(conn, &mut city, cost, size.households, cities, start)?;
    progress("areas, staff, stores", 1, 1);
    let rules = load_rules(conn).map_err(err)?;

    // What is planted, and where (see `demo::plant`).
    let planting = plant && plant::fits(city.villages.len(), months);
    let p_month = plant::month(Month::of(today));
    let archive_at = crate::time::local_day_start_utc(p_month.first_day() + Duration::days(10), tz);
    let mut archived: Option<usize> = None;
    let mut planted: Vec<Planted> = Vec::new();

    // Households: most registered in the first week, the rest over the months.
    let span = (now - start).num_seconds().max(1);
    let mut seen_ids = std::collections::HashSet::new();
    let mut seen_cards = std::collections::HashSet::new();
    let statuses = ["registered", "lifted", "monitored"];
    let mut rows = Vec::new();
    let mut cards = Vec::new();
    let mut history = Vec::new();
    // Each household's phone, for the staff member planted as its relative.
    let mut phones: Vec<String> = Vec::new();
    for n in 0..size.households {
        let village = n % city.villages.len();
        let offset = if rng.gen_bool(0.85) {
            rng.gen_range(0..span.min(7 * 86_400))
        } else {
            rng.gen_range(0..span)
        };
        let created_at =
            start + Duration::seconds(offset) + Duration::microseconds(rng.gen_range(0..1_000_000));
        let created_at = created_at.min(now);
        let head_name = format!(
            "{}{}",
            SURNAMES[rng.gen_range(0..SURNAMES.len())],
            GIVEN[rng.gen_range(0..GIVEN.len())]
        );
        let id_number = loop {
            let candidate = super::id_number(&mut rng);
            if seen_ids.insert(candidate.clone()) {
                break crate::domain::IdNumber::parse("field.id_number", &candidate)
                    .map_err(|e| format!("{e:?}"))?;
            }
        };
        let phone = format!(
            "13{}{:08}",
            rng.gen_range(0..10),
            rng.gen_range(0..100_000_000u32)
        );
        let phone =
            crate::domain::Phone::parse("field.phone", &phone).map_err(|e| format!("{e:?}"))?;
        if planting {
            phones.push(phone.expose().to_string());
        }
        let card = loop {
            let c = card_number(&mut rng);
            if seen_cards.insert(c.clone()) {
                break c;
            }
        };
        let id = city.id_at(created_at);
        let status = statuses[rng.gen_range(0..3)];
        // The planted household that earns after being archived.
        let archived_at = (planting
            && archived.is_none()
            && village == plant::V_HOUSEHOLDS
            && n >= village + city.villages.len()
            && created_at < archive_at)
            .then(|| {
                archived = Some(n);
                archive_at
            });
        rows.push(NewHousehold {
            id: id.clone(),
            head_name: head_name.clone(),
            id_cipher: key.encrypt(id_number.expose()),
            id_lookup: key.lookup("id", id_number.expose()),
            id_masked: id_number.masked(),
            id_last4: id_number.last4().to_string(),
            phone_cipher: key.encrypt(phone.expose()),
            phone_masked: phone.masked(),
            area_id: city.villages[village].id.clone(),
            address: format!("{}组{}号", rng.gen_range(1..6), rng.gen_range(1..60)),
            members: rng.gen_range(1..7),
            status: status.into(),
            helper_id: Some(city.villages[village].official.id.clone()),
            notes: String::new(),
            archived: archived_at.is_some(),
            archived_at,
            created_at,
            created_by: "(console)".into(),
            updated_at: created_at,
            updated_by: "(console)".into(),
        });
        cards.push(NewCard {
            card_no: card.clone(),
            household_id: id.clone(),
            issued_at: created_at,
            issued_by: "(console)".into(),
            replaced_by: None,
            replaced_at: None,
        });
        let hist_id = city.id_at(created_at);
        history.push(NewStatus {
            id: hist_id,
            household_id: id.clone(),
            at: created_at,
            user_id: None,
            username: "(console)".into(),
            from_status: None,
            to_status: status.into(),
            reason: String::new(),
        });
        city.audit(
            created_at,
            None,
            "household.create",
            "household",
            &id,
            format!("{head_name} {}", id_number.masked()),
        );
        city.households.push(HouseholdInfo {
            id,
            card,
            village,
            created_at,
        });
        city.balances.push(0);
        if n % 1000 == 0 {
            progress("households", n, size.households);
        }
    }
    {
        let audit = std::mem::take(&mut city.out.audit);
        db::write_tx(conn, |c| {
            insert_all!(c, households::table, rows, 20);
            insert_all!(c, points_cards::table, cards, 6);
            insert_all!(c, household_status_history::table, history, 8);
            insert_all!(c, audit_log::table, audit, 10);
            Ok::<_, diesel::result::Error>(())
        })
        .map_err(err)?;
    }
    progress("households", size.households, size.households);
    // The planted households: registered before the planted month.
    let nv = city.villages.len();
    let p_start = crate::time::local_day_start_utc(p_month.first_day(), tz);
    let nth_of = |village: usize, nth: usize| -> Option<usize> {
        (0..city.households.len())
            .filter(|h| city.households[*h].village == village % nv.max(1))
            .filter(|h| city.households[*h].created_at < p_start && Some(*h) != archived)
            .nth(nth)
    };
    let (two_stores_h, never_h, valuable_h) = if planting {
        (
            nth_of(plant::V_COUNTER, 0),
            nth_of(plant::V_COUNTER, 1),
            nth_of(plant::V_HOUSEHOLDS, 0),
        )
    } else {
        (None, None, None)
    };
    let favoured: Vec<usize> = if planting {
        [
            nth_of(plant::V_CONCENTRATION, 0),
            nth_of(plant::V_CONCENTRATION, 1),
        ]
        .into_iter()
        .flatten()
        .collect()
    } else {
        Vec::new()
    };
    let helped_h = if planting {
        nth_of(plant::V_HELPER, 0)
    } else {
        None
    };
    // The household of a clerk's relative: the clerk's own record carries
    // its phone.
    let related_h = if planting {
        nth_of(plant::V_HOUSEHOLDS, 1)
    } else {
        None
    };
    if let Some(h) = related_h {
        let phone =
            crate::domain::Phone::parse("field.phone", &phones[h]).map_err(|e| format!("{e:?}"))?;
        diesel::update(users::table.find(&city.stores[0].clerk.id))
            .set((
                users::phone_cipher.eq(key.encrypt(phone.expose())),
                users::phone_masked.eq(phone.masked()),
            ))
            .execute(conn)
            .map_err(err)?;
    }
    if planting {
        let official = |v: usize| city.villages[v % nv].official.id.clone();
        let hid = |h: Option<usize>| h.map(|h| city.households[h].id.clone());
        let town_reviewer = |v: usize| reviewers_of(&logins, city.villages[v % nv].town).id.clone();
        let mut add = |kind, subject: Option<String>| {
            if let Some(subject) = subject {
                planted.push(Planted {
                    kind,
                    month: p_month,
                    subject,
                });
            }
        };
        use crate::signals::Kind as K;
        add(K::ProposerOutlier, Some(official(plant::V_OUTLIER)));
        add(
            K::ProposerConcentration,
            Some(official(plant::V_CONCENTRATION)),
        );
        add(K::HelperShare, hid(helped_h));
        add(
            K::ReviewPair,
            Some(format!(
                "{}|{}",
                official(plant::V_PAIR),
                town_reviewer(plant::V_PAIR)
            )),
        );
        add(K::FastReviews, Some(town_reviewer(plant::V_FAST)));
        add(K::Backdated, Some(official(plant::V_BACKDATED)));
        add(K::MonthEndBurst, Some(official(plant::V_BURST)));
        add(K::CopiedNote, Some(official(plant::V_COPIED)));
        add(K::ClerkVoids, Some(city.stores[1].clerk.id.clone()));
        add(K::TwoStores, hid(two_stores_h));
        add(K::ValuableGoods, hid(valuable_h));
        add(K::StockLosses, Some(city.stores[1].id.clone()));
        add(K::NeverRedeem, hid(never_h));
        add(K::AfterArchive, hid(archived));
        add(K::StaffRelated, hid(related_h));
    }
    // The planted month's rules of thumb.
    let fast_base = crate::time::local_day_start_utc(p_month.end_day() + Duration::days(3), tz)
        + Duration::hours(11);

    // The months, oldest first.
    let mut carried: Vec<(NaiveDateTime, u64, Event)> = Vec::new();
    let mut order = 0u64;
    let mut made = Made {
        households: size.households,
        ..Made::default()
    };
    let mut month = first_month;
    for m in 0..months {
        let month_start = crate::time::local_day_start_utc(month.first_day(), tz);
        let month_end = crate::time::local_day_start_utc(month.end_day(), tz).min(now);
        let last_day = month.end_day().pred_opt().expect("a day").min(today);
        let mut events = std::mem::take(&mut carried);
        let is_p = planting && month == p_month;
        let (mut fast_n, mut backdated_left, mut copied_left, mut night_left) = (
            0i64,
            plant::BACKDATED,
            plant::COPIED_HOUSEHOLDS,
            plant::NIGHT_REDEMPTIONS,
        );
        let mut push = |events: &mut Vec<(NaiveDateTime, u64, Event)>, at, e| {
            order += 1;
            events.push((at, order, e));
        };
        let days: Vec<NaiveDate> = month
            .first_day()
            .iter_days()
            .take_while(|d| *d <= last_day)
            .collect();
        if days.is_empty() {
            break;
        }
        let day_of = |rng: &mut StdRng| days[rng.gen_range(0..days.len())];

        // What the stores hold goes out mostly through redemptions; what
        // they receive is planned from what the month's baskets will ask.
        let mut demand: HashMap<(usize, usize), i64> = HashMap::new();
        for h in 0..city.households.len() {
            let hh_created = city.households[h].created_at;
            if hh_created >= month_end {
                continue;
            }
            let village = city.households[h].village;
            let town = city.villages[village].town;
            let official = city.villages[village].official.clone();
            let reviewer = reviewers_of(&logins, town);
            let start_balance = city.balances[h];
            // Points credited this month, for what the household can spend when.
            let mut credits: Vec<(NaiveDateTime, i64)> = Vec::new();
            // Awards: most households, most months; one rule at most once.
            // The scheme's first month is its launch: everyone takes part
            // in its first days, and half of them visit a store.
            let launch = m == 0;
            let mut n_awards = match rng.gen_range(0..100) {
                0..35 if !launch => 0,
                0..75 => 1,
                75..95 => 2,
                _ => 3,
            };
            let pv = village % nv.max(1);
            if is_p && pv == plant::V_OUTLIER {
                n_awards += 3;
            }
            if is_p && pv == plant::V_PAIR {
                n_awards += 2;
            }
            let never = Some(h) == never_h;
            if never {
                n_awards = n_awards.max(2);
            }
            let mut copied_here = false;
            let mut used = [false; 16];
            for _ in 0..n_awards {
                let r = rng.gen_range(0..rules.len() - 1);
                if used[r] {
                    continue;
                }
                used[r] = true;
                let mut occurred_on = if launch {
                    days[rng.gen_range(0..days.len().min(8))]
                } else {
                    day_of(&mut rng)
                };
                let proposed_on = occurred_on + Duration::days(rng.gen_range(0..3));
                let mut proposed_at = moment(&mut rng, tz, proposed_on, 8, 18);
                let mut note = "";
                if is_p && pv == plant::V_BURST {
                    let d = last_day - Duration::days(rng.gen_range(0..2));
                    proposed_at = moment(&mut rng, tz, d, 8, 18);
                    occurred_on = occurred_on.min(d);
                }
                if is_p
                    && pv == plant::V_BACKDATED
                    && backdated_left > 0
                    && Month::of(local_day(tz, proposed_at)) == p_month
                {
                    backdated_left -= 1;
                    occurred_on =
                        local_day(tz, proposed_at) - Duration::days(plant::BACKDATED_DAYS);
                }
                if is_p && pv == plant::V_COPIED && copied_left > 0 && !copied_here {
                    copied_left -= 1;
                    copied_here = true;
                    let d = days[14.min(days.len() - 1)];
                    proposed_at = moment(&mut rng, tz, d, 9, 11);
                    occurred_on = d.pred_opt().expect("a day");
                    note = plant::COPIED_NOTE;
                }
                if proposed_at > now || proposed_at < hh_created {
                    continue;
                }
                let reviewed_on = local_day(tz, proposed_at) + Duration::days(rng.gen_range(1..7));
                let mut reviewed_at = moment(&mut rng, tz, reviewed_on, 8, 18);
                let mut rejected = rng.gen_bool(0.03);
                // The planted pair: every award of the village proposed in
                // the planted month is approved, also those of deeds done at
                // the end of the month before (the signal reads the month of
                // the proposal, not of the deed).
                let proposed_in_p = planting && Month::of(local_day(tz, proposed_at)) == p_month;
                // Its reviewer refuses the town's other proposers now and
                // then (one in ten that month), so that never refusing one
                // of them stands out whatever the draws.
                if proposed_in_p && town == city.villages[plant::V_PAIR % nv].town {
                    rejected = pv != plant::V_PAIR && rng.gen_bool(0.1);
                }
                if never {
                    rejected = false;
                }
                if is_p && pv == plant::V_FAST && fast_n < 60 {
                    reviewed_at = fast_base + Duration::seconds(2 * fast_n);
                    fast_n += 1;
                }
                let outcome = if reviewed_at > now {
                    None
                } else {
                    Some(rejected)
                };
                let award = award_row(
                    &mut city,
                    &rules[r],
                    h,
                    occurred_on,
                    proposed_at,
                    &official,
                    outcome.map(|rej| (rej, reviewed_at, reviewer)),
                );
                if let Some(row) = city.out.awards.last_mut().filter(|_| !note.is_empty()) {
                    row.note = note.to_string();
                }
                if outcome == Some(false) {
                    if reviewed_at < month_end {
                        credits.push((reviewed_at, rules[r].points));
                    }
                    push(
                        &mut events,
                        reviewed_at,
                        Event::Award {
                            award_id: award.0,
                            entry_id: award.1.expect("approved"),
                            household: h,
                            points: rules[r].points,
                            rule_code: rules[r].code,
                            reviewer: reviewer.id.clone(),
                        },
                    );
                }
            }
            // Planted extra awards (of the first rule): to favoured
            // households, and to fund the planted visits.
            if is_p {
                let mut extra: Vec<(usize, usize, NaiveDate)> = Vec::new();
                let early = |k: usize| days[(k % 5).min(days.len() - 1)];
                if favoured.contains(&h) {
                    extra.extend((0..20).map(|k| (village, k, early(k))));
                }
                if Some(h) == helped_h {
                    extra.extend((0..6).map(|k| (village, k, early(k))));
                }
                if Some(h) == related_h {
                    extra.extend((0..2).map(|k| (village, k, early(k))));
                }
                if Some(h) == valuable_h {
                    extra.extend((0..25).map(|k| (10 + k / 5, k, early(k))));
                }
                if Some(h) == two_stores_h {
                    extra.extend((0..2).map(|k| (village + 3, k, early(k))));
                }
                if Some(h) == archived {
                    extra.extend((0..2).map(|k| (village, k, days[19.min(days.len() - 1)])));
                }
                for (v, k, day) in extra {
                    let by = city.villages[v % nv].official.clone();
                    let reviewer = reviewers_of(&logins, city.villages[v % nv].town);
                    let proposed_at =
                        moment(&mut rng, tz, day, 8, 12) + Duration::seconds(k as i64);
                    let reviewed_at = proposed_at + Duration::hours(2);
                    if proposed_at < hh_created || reviewed_at > now {
                        continue;
                    }
                    let award = award_row(
                        &mut city,
                        &rules[0],
                        h,
                        day,
                        proposed_at,
                        &by,
                        Some((false, reviewed_at, reviewer)),
                    );
                    if reviewed_at < month_end {
                        credits.push((reviewed_at, rules[0].points));
                    }
                    push(
                        &mut events,
                        reviewed_at,
                        Event::Award {
                            award_id: award.0,
                            entry_id: award.1.expect("approved"),
                            household: h,
                            points: rules[0].points,
                            rule_code: rules[0].code,
                            reviewer: reviewer.id.clone(),
                        },
                    );
                }
            }
            // Now and then a deduction, reviewed the same day.
            let credited = |t: NaiveDateTime| -> i64 {
                start_balance
                    + credits
                        .iter()
                        .filter(|(at, _)| *at < t)
                        .map(|(_, p)| p)
                        .sum::<i64>()
            };
            let deduction = &rules[rules.len() - 1];
            let mut held_back = 0;
            if rng.gen_bool(0.01) {
                let day = day_of(&mut rng);
                let proposed_at = moment(&mut rng, tz, day, 8, 12);
                let reviewed_at = proposed_at + Duration::hours(3);
                if proposed_at >= hh_created
                    && reviewed_at <= now
                    && credited(reviewed_at) >= -deduction.points
                {
                    // Whatever the order, a visit to the store leaves enough for it.
                    held_back = -deduction.points;
                    let award = award_row(
                        &mut city,
                        deduction,
                        h,
                        day,
                        proposed_at,
                        &official,
                        Some((false, reviewed_at, reviewer)),
                    );
                    push(
                        &mut events,
                        reviewed_at,
                        Event::Award {
                            award_id: award.0,
                            entry_id: award.1.expect("approved"),
                            household: h,
                            points: deduction.points,
                            rule_code: deduction.code,
                            reviewer: reviewer.id.clone(),
                        },
                    );
                }
            }
            // A visit to the store, paid from the points credited before it.
            // (The planted visitors come only for their planted visits that
            // month, so that nothing else spends what funds them.)
            let planted_visitor = is_p && (Some(h) == two_stores_h || Some(h) == valuable_h);
            if rng.gen_bool(if launch { 0.5 } else { 0.27 }) && !never && !planted_visitor {
                let day = day_of(&mut rng);
                let mut at = moment(&mut rng, tz, day, 8, 17);
                let night = is_p && town.is_multiple_of(city.stores.len()) && night_left > 0;
                if night {
                    at = moment(&mut rng, tz, day, 21, 23);
                }
                let mut budget = credited(at) - held_back;
                if at > hh_created && at <= now && budget >= 1 {
                    let store = town % city.stores.len();
                    let mut lines = Vec::new();
                    for _ in 0..rng.gen_range(1..=3) {
                        let affordable: Vec<usize> = (0..city.items.len())
                            .filter(|i| city.items[*i].price <= budget)
                            .collect();
                        if affordable.is_empty() {
                            break;
                        }
                        let item = affordable[rng.gen_range(0..affordable.len())];
                        if lines.iter().any(|(i, _)| *i == item) {
                            continue;
                        }
                        let q = if city.items[item].price * 2 <= budget && rng.gen_bool(0.3) {
                            2
                        } else {
                            1
                        };
                        budget -= city.items[item].price * q;
                        *demand.entry((store, item)).or_default() += q;
                        lines.push((item, q));
                    }
                    if !lines.is_empty() {
                        let id = city.id_at(at);
                        if night {
                            night_left -= 1;
                            planted.push(Planted {
                                kind: crate::signals::Kind::OutsideHours,
                                month: p_month,
                                subject: id.clone(),
                            });
                        }
                        let void_rate = if is_p && store == 1 { 0.25 } else { 0.006 };
                        if rng.gen_bool(void_rate) {
                            let void_at = at + Duration::minutes(rng.gen_range(2..30));
                            if void_at <= now {
                                push(
                                    &mut events,
                                    void_at,
                                    Event::Void {
                                        redemption_id: id.clone(),
                                    },
                                );
                            }
                        }
                        push(
                            &mut events,
                            at,
                            Event::Redeem {
                                id,
                                household: h,
                                store,
                                lines,
                            },
                        );
                    }
                }
            }
        }

        // The planted visits: one household at two stores within minutes,
        // another taking thermos flasks again and again; and a store writing
        // off a great deal of rice.
        if is_p {
            let mut visits: Vec<(usize, usize, NaiveDateTime, usize, i64)> = Vec::new();
            if let Some(h) = two_stores_h {
                let day = days[14.min(days.len() - 1)];
                let at = utc(tz, day.and_hms_opt(10, 0, 0).expect("a time"));
                visits.push((h, 0, at, 4, 1));
                visits.push((h, 1, at + Duration::minutes(12), 6, 1));
            }
            if let Some(h) = valuable_h {
                let store = city.villages[city.households[h].village].town % city.stores.len();
                for k in 0..4 {
                    let day = days[(15 + k).min(days.len() - 1)];
                    let at = utc(tz, day.and_hms_opt(15, 0, k as u32).expect("a time"));
                    visits.push((h, store, at, 10, 2));
                }
            }
            for (h, store, at, item, q) in visits {
                *demand.entry((store, item)).or_default() += q;
                let id = city.id_at(at);
                push(
                    &mut events,
                    at,
                    Event::Redeem {
                        id,
                        household: h,
                        store,
                        lines: vec![(item, q)],
                    },
                );
            }
            *demand.entry((1, 0)).or_default() += 40;
            let day = days[19.min(days.len() - 1)];
            push(
                &mut events,
                utc(tz, day.and_hms_opt(16, 30, 0).expect("a time")),
                Event::WriteOff {
                    store: 1,
                    item: 0,
                    quantity: 40,
                    reason: "破损",
                },
            );
        }

        // Donations at the start of the month: what the baskets will want,
        // a margin, and in the first month a full shelf for every store.
        for s in 0..city.stores.len() {
            let day = days[rng.gen_range(0..days.len().min(3))];
            let at = if m == 0 {
                month_start + Duration::hours(1)
            } else {
                moment(&mut rng, tz, day, 9, 11).min(now)
            };
            let mut lines = Vec::new();
            for i in 0..city.items.len() {
                let want = demand.get(&(s, i)).copied().unwrap_or(0);
                let q = if m == 0 {
                    want + rng.gen_range(20..60)
                } else {
                    want + want / 5 + rng.gen_range(0..4)
                };
                if q > 0 {
                    lines.push((i, q));
                }
            }
            let split = lines.len() / 2;
            let second = lines.split_off(split.max(1).min(lines.len()));
            for part in [lines, second] {
                if part.is_empty() {
                    continue;
                }
                let donor = rng.gen_range(0..city.donors.len());
                let money_fen = if rng.gen_bool(0.1) {
                    rng.gen_range(500..5000) * 100
                } else {
                    0
                };
                push(
                    &mut events,
                    at,
                    Event::Donation {
                        store: s,
                        donor,
                        money_fen,
                        lines: part,
                    },
                );
            }
            // Goods moved to the next store, written off, and a stocktake
            // every quarter.
            if city.stores.len() > 1 && rng.gen_bool(0.3) {
                let day = day_of(&mut rng);
                let at = moment(&mut rng, tz, day, 14, 16);
                push(
                    &mut events,
                    at,
                    Event::Move {
                        from: s,
                        to: (s + 1) % city.stores.len(),
                        item: rng.gen_range(0..city.items.len()),
                        quantity: rng.gen_range(1..10),
                    },
                );
            }
            if rng.gen_bool(0.1) {
                let day = day_of(&mut rng);
                let at = moment(&mut rng, tz, day, 16, 17);
                push(
                    &mut events,
                    at,
                    Event::WriteOff {
                        store: s,
                        item: rng.gen_range(0..city.items.len()),
                        quantity: rng.gen_range(1..4),
                        reason: ["过期", "破损", "受潮"][rng.gen_range(0..3)],
                    },
                );
            }
            if (m + s) % 3 == 2 {
                let day = *days.last().expect("a day");
                let at = moment(&mut rng, tz, day, 17, 18);
                if at <= now {
                    push(&mut events, at, Event::Stocktake { store: s });
                }
            }
        }

        // Post in time order; what falls after the month waits for the next.
        events.sort_by_key(|a| (a.0, a.1));
        let split = events.partition_point(|(at, _, _)| *at < month_end);
        carried = events.split_off(split);
        for (at, _, e) in events {
            city.apply(at, e);
        }
        city.posted.clear();
        made.awards += city.out.awards.len();
        made.redemptions += city.out.redemptions.len() as i64;
        made.donations += city.out.donations.len() as i64;
        made.stocktakes += city.out.stocktakes.len() as i64;
        city.flush(conn).map_err(err)?;
        progress(&format!("months ({month})"), m + 1, months);
        month = month.next();
    }

    // Anything left after the last month (posted at this very moment).
    if !carried.is_empty() {
        for (at, _, e) in carried {
            city.apply(at, e);
        }
        city.flush(conn).map_err(err)?;
    }

    // Cached balances, chain heads, stock and counters.
    made.point_entries = city.point_seq;
    made.stock_movements = city.stock_seq;
    let mut balance_rows: Vec<(String, i64)> = city
        .households
        .iter()
        .zip(&city.balances)
        .map(|(h, b)| (ledger::household_account(&h.id), *b))
        .collect();
    balance_rows.extend(city.accounts.iter().map(|(a, b)| (a.clone(), *b)));
    let stock_rows: Vec<(String, String, i64)> = city
        .stock
        .iter()
        .map(|((s, i), q)| (city.stores[*s].id.clone(), city.items[*i].id.clone(), *q))
        .collect();
    db::write_tx(conn, |c| {
        for chunk in balance_rows.chunks(5000) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|(a, b)| {
                    (
                        point_balances::account.eq(a.as_str()),
                        point_balances::balance.eq(*b),
                    )
                })
                .collect();
            match &mut *c {
                DbConn::Sqlite(c) => diesel::insert_into(point_balances::table)
                    .values(&rows)
                    .execute(c)?,
                DbConn::Pg(c) => diesel::insert_into(point_balances::table)
                    .values(&rows)
                    .execute(c)?,
            };
        }
        for chunk in stock_rows.chunks(5000) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|(s, i, q)| {
                    (
                        stock::store_id.eq(s.as_str()),
                        stock::item_id.eq(i.as_str()),
                        stock::quantity.eq(*q),
                    )
                })
                .collect();
            match &mut *c {
                DbConn::Sqlite(c) => diesel::insert_into(stock::table).values(&rows).execute(c)?,
                DbConn::Pg(c) => diesel::insert_into(stock::table).values(&rows).execute(c)?,
            };
        }
        diesel::update(ledger_heads::table.find("points"))
            .set((
                ledger_heads::seq.eq(city.point_seq),
                ledger_heads::hash.eq(&city.point_prev),
            ))
            .execute(c)?;
        diesel::update(stock_chain_head::table.find(1))
            .set((
                stock_chain_head::seq.eq(city.stock_seq),
                stock_chain_head::hash.eq(&city.stock_prev),
            ))
            .execute(c)?;
        for (name, value) in [
            ("redemption", city.redemption_no),
            ("donation", city.donation_no),
            ("stocktake", city.stocktake_no),
        ] {
            diesel::update(counters::table.find(name))
                .set(counters::value.eq(value))
                .execute(c)?;
        }
        Ok::<_, diesel::result::Error>(())
    })
    .map_err(err)?;
    // The ledger's monthly reporting totals, which posting one by one keeps.
    progress("reporting totals", 0, 1);
    db::write_tx(conn, |c| ledger::totals::rebuild(c, tz)).map_err(err)?;
    progress("reporting totals", 1, 1);
    // Names' pinyin keys (the bulk inserts above leave them empty).
    db::pinyin::backfill(conn).map_err(err)?;
    if let DbConn::Pg(c) = conn {
        // Fresh statistics, so that the first pages are planned for millions of rows.
        diesel::sql_query("ANALYZE").execute(c).map_err(err)?;
    } else if let DbConn::Sqlite(c) = conn {
        diesel::sql_query("ANALYZE").execute(c).map_err(err)?;
    }
    Ok((logins.named, made, planted))
}

/// The demo logins and every town's reviewer.
struct Logins {
    named: DemoLogins,
    reviewers: Vec<Staff>,
}

fn reviewers_of(l: &Logins, town: usize) -> &Staff {
    &l.reviewers[town % l.reviewers.len()]
}

/// One award row (and its two audit rows); returns its id and, when
/// approved, the id of the entry its posting will have.
fn award_row(
    city: &mut City,
    rule: &RuleInfo,
    household: usize,
    occurred_on: NaiveDate,
    proposed_at: NaiveDateTime,
    official: &Staff,
    review: Option<(bool, NaiveDateTime, &Staff)>,
) -> (String, Option<String>) {
    let id = city.id_at(proposed_at);
    city.audit(
        proposed_at,
        Some(official),
        "award.propose",
        "award",
        &id,
        format!("{} {} {:+}", rule.code, occurred_on, rule.points),
    );
    let key = city.idem_key();
    let mut row = NewAward {
        id: id.clone(),
        household_id: city.households[household].id.clone(),
        rule_id: rule.id.clone(),
        rule_code: rule.code.to_string(),
        points: rule.points,
        occurred_on,
        note: String::new(),
        status: "pending".into(),
        batch_id: None,
        idempotency_key: Some(key),
        proposed_by: official.id.clone(),
        proposed_at,
        reviewed_by: None,
        reviewed_at: None,
        review_note: String::new(),
        notice_until: None,
        objection: String::new(),
        entry_id: None,
        reversed_by: None,
        reversed_at: None,
        reverse_reason: String::new(),
        updated_at: proposed_at,
    };
    let mut entry = None;
    if let Some((rejected, at, reviewer)) = review {
        row.reviewed_by = Some(reviewer.id.clone());
        row.reviewed_at = Some(at);
        row.updated_at = at;
        if rejected {
            row.status = "rejected".into();
            row.review_note = "材料不全，请补充后重新申报".into();
            city.audit(
                at,
                Some(reviewer),
                "award.reject",
                "award",
                &id,
                row.review_note.clone(),
            );
        } else {
            row.status = "approved".into();
            let e = city.id_at(at);
            row.entry_id = Some(e.clone());
            entry = Some(e);
            city.audit(
                at,
                Some(reviewer),
                "award.approve",
                "award",
                &id,
                String::new(),
            );
        }
    }
    city.out.awards.push(row);
    (id, entry)
}

fn load_rules(conn: &mut DbConn) -> QueryResult<Vec<RuleInfo>> {
    let rows: Vec<(String, String, i64)> = rules::table
        .select((rules::id, rules::code, rules::points))
        .load(conn)?;
    // In the order of RULES, the deduction last.
    Ok(RULES
        .iter()
        .filter_map(|(code, ..)| {
            rows.iter().find(|r| r.1 == *code).map(|r| RuleInfo {
                id: r.0.clone(),
                code,
                points: r.2,
            })
        })
        .collect())
}

const TOWN_A: &[&str] = &[
    "龙", "凤", "柳", "桃", "杏", "梨", "枣", "松", "柏", "槐", "荷", "兰",
];
const TOWN_B: &[&str] = &[
    "山", "泉", "河", "湖", "林", "峪", "埠", "岭", "桥", "庄", "湾", "坡",
];
const VILLAGE_A: &[&str] = &[
    "东", "西", "南", "北", "前", "后", "王", "李", "张", "刘", "陈", "杨", "赵", "孙", "马", "朱",
    "胡", "郭", "何", "高",
];
const VILLAGE_B: &[&str] = &["庄", "屯", "家", "营", "寨", "店", "集", "铺", "堡", "洼"];
const DONORS: &[(&str, &str)] = &[
    ("鲁粮集团", "enterprise"),
    ("市供销社", "public_unit"),
    ("慈善总会", "social_org"),
    ("张先生", "individual"),
    ("泉城银行", "enterprise"),
    ("市红十字会", "social_org"),
    ("重汽集团", "enterprise"),
    ("市教育局", "public_unit"),
    ("李女士", "individual"),
    ("爱心人士", "anonymous"),
    ("齐鲁制药", "enterprise"),
    ("市妇联", "public_unit"),
];

/// Areas, staff (all with the demo password), stores, goods, the rulebook
/// and donors, dated at the start of the demo's first month.
fn setup(
    conn: &mut DbConn,
    city: &mut City,
    cost: PasswordCost,
    households: usize,
    cities: usize,
    at: NaiveDateTime,
) -> Result<Logins, String> {
    let cities = cities.max(1);
    let villages_wanted = (households / 80).max(4);
    let towns_wanted = (villages_wanted / 8).max(2).max(cities);
    let villages_wanted = villages_wanted.max(towns_wanted);
    let districts_wanted = (towns_wanted / cities / 15).clamp(1, DISTRICTS.len());
    let stores_wanted = (households * 110 / 80_000).clamp(2, towns_wanted);
    let hash = crate::auth::password::hash(super::DEMO_PASSWORD, cost);
    let mut area_rows = Vec::new();
    let mut user_rows = Vec::new();
    let mut new_user = |city: &mut City,
                        username: String,
                        role: &'static str,
                        area: Option<String>,
                        store: Option<String>| {
        let id = city.id_at(at);
        user_rows.push(NewUser {
            id: id.clone(),
            username: username.clone(),
            display_name: String::new(),
            password_hash: hash.clone(),
            role: role.into(),
            area_id: area,
            store_id: store,
            disabled: false,
            must_change_password: false,
            created_at: at,
            updated_at: at,
        });
        city.audit(
            at,
            None,
            "user.create",
            "user",
            &id,
            format!("{username} {role}"),
        );
        Staff { id, username }
    };
    let mut area =
        |city: &mut City, parent: Option<(&str, &str)>, level: &'static str, name: String| {
            let id = city.id_at(at);
            let path = match parent {
                None => format!("/{id}/"),
                Some((_, p)) => format!("{p}{id}/"),
            };
            city.audit(
                at,
                None,
                "area.create",
                "area",
                &id,
                format!("{level} {name}"),
            );
            area_rows.push(NewArea {
                id: id.clone(),
                parent_id: parent.map(|(p, _)| p.to_string()),
                level: level.into(),
                name,
                path: path.clone(),
                created_at: at,
            });
            (id, path)
        };
    // Several cities: under one province (one city stands at the top).
    let province = (cities > 1).then(|| area(city, None, "province", "山东省".into()));
    let mut districts = Vec::new();
    for c in 0..cities {
        let name = match (CITIES[c % CITIES.len()], c / CITIES.len()) {
            (name, 0) => name.to_string(),
            (name, k) => format!("{name}{}", k + 1),
        };
        let parent = province
            .as_ref()
            .map(|(id, path)| (id.as_str(), path.as_str()));
        let (city_id, city_path) = area(city, parent, "city", name);
        for name in DISTRICTS.iter().take(districts_wanted) {
            districts.push(area(
                city,
                Some((&city_id, &city_path)),
                "district",
                name.to_string(),
            ));
        }
    }
    let mut towns = Vec::new();
    for t in 0..towns_wanted {
        let d = t % districts.len();
        let k = t / districts.len();
        let name = format!(
            "{}{}街道",
            TOWN_A[k % TOWN_A.len()],
            TOWN_B[(k / TOWN_A.len()) % TOWN_B.len()]
        );
        let (did, dpath) = districts[d].clone();
        towns.push(area(city, Some((&did, &dpath)), "town", name));
    }
    let mut village_areas = Vec::new();
    for v in 0..villages_wanted {
        let t = v % towns.len();
        let k = v / towns.len();
        let name = format!(
            "{}{}{}村",
            VILLAGE_A[k % VILLAGE_A.len()],
            VILLAGE_B[(k / VILLAGE_A.len()) % VILLAGE_B.len()],
            if k >= VILLAGE_A.len() * VILLAGE_B.len() {
                format!("{}", k)
            } else {
                String::new()
            }
        );
        let (tid, tpath) = towns[t].clone();
        village_areas.push((area(city, Some((&tid, &tpath)), "village", name).0, t));
    }
    // Staff: the named demo logins, an official for each village, a
    // reviewer for each town, a clerk for each store.
    let admin = new_user(city, "demo-admin".into(), "admin", None, None);
    let official = new_user(
        city,
        "demo-official".into(),
        "official",
        Some(towns[0].0.clone()),
        None,
    );
    let reviewer = new_user(
        city,
        "demo-reviewer".into(),
        "reviewer",
        Some(towns[0].0.clone()),
        None,
    );
    let auditor = new_user(city, "demo-auditor".into(), "auditor", None, None);
    if let Some((province_id, _)) = &province {
        new_user(
            city,
            "demo-auditor-province".into(),
            "auditor",
            Some(province_id.clone()),
            None,
        );
    }
    let mut reviewers = vec![reviewer.clone()];
    for (t, (tid, _)) in towns.iter().enumerate().skip(1) {
        reviewers.push(new_user(
            city,
            format!("demo-reviewer-{:03}", t + 1),
            "reviewer",
            Some(tid.clone()),
            None,
        ));
    }
    for (v, (vid, t)) in village_areas.iter().enumerate() {
        let official = new_user(
            city,
            format!("demo-official-{:04}", v + 1),
            "official",
            Some(vid.clone()),
            None,
        );
        city.villages.push(Village {
            id: vid.clone(),
            town: *t,
            official,
        });
    }
    let mut store_rows = Vec::new();
    let mut clerks = Vec::new();
    for s in 0..stores_wanted {
        let id = city.id_at(at);
        let name = format!("爱心超市{}号店", s + 1);
        city.audit(at, None, "store.create", "store", &id, name.clone());
        store_rows.push(NewStore {
            id: id.clone(),
            name: name.clone(),
            area_id: towns[s % towns.len()].0.clone(),
            address: "村委会院内".into(),
            opening_hours: "08:30-17:00".into(),
            active: true,
            created_at: at,
        });
        clerks.push((id, name));
    }
    for (s, (id, name)) in clerks.into_iter().enumerate() {
        let clerk = new_user(
            city,
            format!("demo-clerk{}", s + 1),
            "clerk",
            None,
            Some(id.clone()),
        );
        city.stores.push(StoreInfo { id, name, clerk });
    }
    let mut item_rows = Vec::new();
    for (n, (name, cat, unit, price)) in GOODS.iter().enumerate() {
        let id = city.id_at(at);
        let price: i64 = price.parse().expect("a price");
        city.audit(
            at,
            None,
            "item.create",
            "item",
            &id,
            format!("{name} {price}"),
        );
        item_rows.push(NewItem {
            id: id.clone(),
            name: name.to_string(),
            category: cat.to_string(),
            unit: unit.to_string(),
            points_price: price,
            barcode: Some(format!("69{:011}", 1000 + n)),
            active: true,
            created_at: at,
            updated_at: at,
        });
        city.items.push(ItemInfo {
            id,
            name: name.to_string(),
            unit: unit.to_string(),
            price,
        });
    }
    let mut donor_rows = Vec::new();
    for (name, kind) in DONORS {
        let id = city.id_at(at);
        city.audit(at, None, "donor.create", "donor", &id, name.to_string());
        donor_rows.push(NewDonor {
            id: id.clone(),
            name: name.to_string(),
            kind: kind.to_string(),
            contact_person: String::new(),
            phone: String::new(),
            address: String::new(),
            note: String::new(),
            created_at: at,
        });
        city.donors.push(id);
    }
    let categories = crate::points::categories(conn).map_err(|e| e.to_string())?;
    let mut rule_rows = Vec::new();
    for (code, cat, name, points, cap) in RULES {
        let id = city.id_at(at);
        let category_id = categories
            .iter()
            .find(|c| c.name == *cat)
            .map(|c| c.id.clone())
            .unwrap_or_else(|| categories[0].id.clone());
        city.audit(
            at,
            None,
            "rule.create",
            "rule",
            &id,
            format!("{code} {name} {points:+}"),
        );
        rule_rows.push(NewRule {
            id,
            code: code.to_string(),
            version: 1,
            name: name.to_string(),
            category_id,
            points: *points,
            cap_count: cap.map(|(n, _)| n),
            cap_points: None,
            cap_period: cap.map(|(_, p)| p.to_string()),
            valid_from: None,
            valid_to: None,
            active: true,
            superseded_by: None,
            created_at: at,
            created_by: "(console)".into(),
        });
    }
    let audit = std::mem::take(&mut city.out.audit);
    db::write_tx(conn, |c| {
        insert_all!(c, areas::table, area_rows, 6);
        insert_all!(c, stores::table, store_rows, 7);
        insert_all!(c, users::table, user_rows, 11);
        insert_all!(c, items::table, item_rows, 9);
        insert_all!(c, donors::table, donor_rows, 8);
        insert_all!(c, rules::table, rule_rows, 15);
        insert_all!(c, audit_log::table, audit, 10);
        Ok::<_, diesel::result::Error>(())
    })
    .map_err(|e: diesel::result::Error| e.to_string())?;
    Ok(Logins {
        named: DemoLogins {
            admin: admin.username,
            official: official.username,
            reviewer: reviewer.username,
            clerk: city.stores[0].clerk.username.clone(),
            auditor: auditor.username,
        },
        reviewers,
    })
}
