//! The running city posts each event as the operations would: both
//! ledgers hash-chained, an audit row for each operation, and each month's
//! rows inserted in one transaction.

use super::*;

impl City {
    /// A time-ordered id (UUID v7) for a row written at `at`, from the seed.
    pub(super) fn id_at(&mut self, at: NaiveDateTime) -> String {
        let mut bytes = [0u8; 10];
        self.ids.fill_bytes(&mut bytes);
        let ms = at.and_utc().timestamp_millis().max(0) as u64;
        uuid::Builder::from_unix_timestamp_millis(ms, &bytes)
            .into_uuid()
            .to_string()
    }

    pub(super) fn idem_key(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.ids.fill_bytes(&mut bytes);
        hex::encode(bytes)
    }

    pub(super) fn audit(
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
            item_id: crate::domain::ItemId::from_stored(self.items[item].id.clone()),
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

    pub(super) fn shelf(&self, s: usize) -> (Option<usize>, String) {
        (Some(s), format!("shelf:{}", self.stores[s].id))
    }

    pub(super) fn apply(&mut self, at: NaiveDateTime, event: Event) {
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
                    crate::audit::Detail::new("redemption")
                        .arg("number", &number)
                        .arg("points", total)
                        .arg("lines", taken.len())
                        .arg("balance", balance_after)
                        .to_string(),
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
                    crate::audit::Detail::new("number_reason")
                        .arg("number", &number)
                        .arg("reason", reason)
                        .to_string(),
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
                    crate::audit::Detail::new("donation_book")
                        .arg("number", &number)
                        .arg("donor", DONORS[donor].0)
                        .arg("lines", lines.len())
                        .arg("yuan", crate::domain::stock::yuan(money_fen))
                        .to_string(),
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
                let summary = crate::audit::Detail::new("stock_move")
                    .arg("item", &self.items[item].name)
                    .arg("qty", quantity)
                    .arg("to", &self.stores[to].name)
                    .to_string();
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
                let summary = crate::audit::Detail::new("stock_in_out")
                    .arg("item", &self.items[item].name)
                    .arg("qty", quantity)
                    .arg("note", reason)
                    .to_string();
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
                    crate::audit::Detail::new("stocktake_start")
                        .arg("number", &number)
                        .arg("lines", counted_lines.len())
                        .to_string(),
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
                    crate::audit::Detail::new("stocktake_confirm")
                        .arg("number", &number)
                        .arg("posted", posted)
                        .to_string(),
                );
            }
        }
    }

    /// Insert what the month made, in one transaction.
    pub(super) fn flush(&mut self, conn: &mut DbConn) -> QueryResult<()> {
        let mut out = std::mem::take(&mut self.out);
        out.awards.sort_by(|a, b| a.id.cmp(&b.id));
        out.audit.sort_by(|a, b| a.id.cmp(&b.id));
        db::write_tx(conn, |c| {
            insert_all!(c, awards::table, out.awards, 22);
            ledger::Entry::insert_all(c, &out.entries)?;
            insert_all!(c, donations::table, out.donations, 9);
            insert_all!(c, donation_lines::table, out.donation_lines, 6);
            insert_all!(c, stocktakes::table, out.stocktakes, 11);
            crate::stock::Movement::insert_all(c, &out.movements)?;
            insert_all!(c, stocktake_lines::table, out.stocktake_lines, 4);
            insert_all!(c, redemptions::table, out.redemptions, 16);
            insert_all!(c, redemption_lines::table, out.redemption_lines, 10);
            insert_all!(c, idempotency_keys::table, out.idem, 6);
            insert_all!(c, audit_log::table, out.audit, 10);
            Ok::<_, diesel::result::Error>(())
        })
    }
}
