//! Filling an empty database with the demo city: the city as it starts,
//! then the households and their months of history, then the cached
//! balances, chain heads, stock and counters.

use super::*;

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
    if !crate::demo::is_empty(conn).map_err(|e| e.to_string())? {
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
    let mut planted: Vec<Planted> = Vec::new();

    // Households: most registered in the first week, the rest over the months.
    let (phones, archived) = register_households(
        conn,
        key,
        &mut city,
        &mut rng,
        size.households,
        (start, now),
        (planting, archive_at),
        progress,
    )?;
    // The planted households: registered before the planted month.
    let ph = planted_households(
        conn,
        key,
        &city,
        &logins,
        (planting, p_month, tz),
        (&phones, archived),
        &mut planted,
    )?;
    let plan = months::Plan {
        tz,
        now,
        today,
        planting,
        p_month,
        // The planted month's rules of thumb.
        fast_base: crate::time::local_day_start_utc(p_month.end_day() + Duration::days(3), tz)
            + Duration::hours(11),
        logins: &logins,
        rules: &rules,
        ph: &ph,
        archived,
    };

    // The months, oldest first; what falls after a month waits for the next.
    let mut events = months::Events::default();
    let mut made = Made {
        households: size.households,
        ..Made::default()
    };
    let mut month = first_month;
    for m in 0..months {
        let step = (m, month);
        let made_one = months::one_month(
            conn,
            &mut city,
            &mut rng,
            &plan,
            step,
            &mut events,
            (&mut made, &mut planted),
        )
        .map_err(err)?;
        if !made_one {
            break;
        }
        progress(&format!("months ({month})"), m + 1, months);
        month = month.next();
    }

    // Anything left after the last month (posted at this very moment).
    if !events.is_empty() {
        for (at, e) in events.take_all() {
            city.apply(at, e);
        }
        city.flush(conn).map_err(err)?;
    }

    // The months an administrator has closed: all before the planted
    // month (the last three stay open).
    close_months(
        conn,
        &mut city,
        &logins.admin,
        (first_month, plant::month(Month::of(today))),
    )
    .map_err(err)?;

    // Cached balances, chain heads, stock and counters.
    made.point_entries = city.point_seq;
    made.stock_movements = city.stock_seq;
    finish(conn, &city, tz, progress)?;
    Ok((logins.named, made, planted))
}

/// The households the planted anomalies happen to (none unless
/// `planting`): registered before the planted month, never the archived one.
pub(super) struct PlantedHouseholds {
    pub(super) two_stores_h: Option<usize>,
    pub(super) never_h: Option<usize>,
    pub(super) valuable_h: Option<usize>,
    pub(super) favoured: Vec<usize>,
    pub(super) helped_h: Option<usize>,
    pub(super) related_h: Option<usize>,
}

/// Choose the planted households and record, in `planted`, what each
/// planted anomaly is about; the clerk planted as a household's relative
/// gets that household's phone (`phones`).
fn planted_households(
    conn: &mut DbConn,
    key: &DataKey,
    city: &City,
    logins: &Logins,
    (planting, p_month, tz): (bool, Month, chrono_tz::Tz),
    (phones, archived): (&[String], Option<usize>),
    planted: &mut Vec<Planted>,
) -> Result<PlantedHouseholds, String> {
    let err = |e: diesel::result::Error| e.to_string();
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
        let town_reviewer = |v: usize| reviewers_of(logins, city.villages[v % nv].town).id.clone();
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
    Ok(PlantedHouseholds {
        two_stores_h,
        never_h,
        valuable_h,
        favoured,
        helped_h,
        related_h,
    })
}

/// The households with their cards, first statuses and audit rows,
/// registered over the history from `start` to `now`, most in its first
/// week. With `planting`, one household of the planted village is archived
/// at `archive_at`. Returns each household's phone (only when planting: for
/// the staff member planted as its relative) and the archived household.
#[allow(clippy::too_many_arguments)]
fn register_households(
    conn: &mut DbConn,
    key: &DataKey,
    city: &mut City,
    rng: &mut StdRng,
    households: usize,
    (start, now): (NaiveDateTime, NaiveDateTime),
    (planting, archive_at): (bool, NaiveDateTime),
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<(Vec<String>, Option<usize>), String> {
    let err = |e: diesel::result::Error| e.to_string();
    let mut archived: Option<usize> = None;
    let span = (now - start).num_seconds().max(1);
    let mut seen_ids = std::collections::HashSet::new();
    let mut seen_cards = std::collections::HashSet::new();
    let statuses = ["registered", "lifted", "monitored"];
    let mut rows = Vec::new();
    let mut cards = Vec::new();
    let mut history = Vec::new();
    // Each household's phone, for the staff member planted as its relative.
    let mut phones: Vec<String> = Vec::new();
    for n in 0..households {
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
            let candidate = crate::demo::id_number(rng);
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
            let c = card_number(rng);
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
            crate::audit::Detail::new("household")
                .arg("name", &head_name)
                .arg("id", id_number.masked())
                .to_string(),
        );
        city.households.push(HouseholdInfo {
            id,
            head_name: head_name.clone(),
            card,
            village,
            created_at,
        });
        city.balances.push(0);
        if n % 1000 == 0 {
            progress("households", n, households);
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
    progress("households", households, households);
    Ok((phones, archived))
}

/// Close each month from `first` up to (not including) `open_from`, two
/// days after it ended, as `admin` would from the summary page: the close
/// and its audit row. The villages' closings are made with the reporting
/// totals (`finish`).
fn close_months(
    conn: &mut DbConn,
    city: &mut City,
    admin: &Staff,
    (first, open_from): (Month, Month),
) -> diesel::QueryResult<()> {
    let mut month = first;
    let mut rows = Vec::new();
    while month < open_from {
        let day = month.next().first_day() + Duration::days(2);
        let at = crate::time::local_day_start_utc(day, city.tz) + Duration::hours(9);
        rows.push((
            month_closes::month.eq(month.to_string()),
            month_closes::closed_at.eq(at),
            month_closes::closed_by.eq(admin.id.clone()),
        ));
        city.audit(
            at,
            Some(admin),
            "month.close",
            "month",
            &month.to_string(),
            crate::audit::Detail::new("month_close")
                .arg("month", month)
                .to_string(),
        );
        month = month.next();
    }
    db::write_tx(conn, |c| {
        match &mut *c {
            DbConn::Sqlite(c) => diesel::insert_into(month_closes::table)
                .values(&rows)
                .execute(c)?,
            DbConn::Pg(c) => diesel::insert_into(month_closes::table)
                .values(&rows)
                .execute(c)?,
        };
        Ok::<_, diesel::result::Error>(())
    })?;
    city.flush(conn)
}

/// The last step: the cached balances, the two chains' heads, the stock
/// levels and the counters the city's rows imply, then the monthly
/// reporting totals, the names' pinyin keys and fresh statistics.
fn finish(
    conn: &mut DbConn,
    city: &City,
    tz: chrono_tz::Tz,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<(), String> {
    let err = |e: diesel::result::Error| e.to_string();
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
    Ok(())
}

pub(super) fn reviewers_of(l: &Logins, town: usize) -> &Staff {
    &l.reviewers[town % l.reviewers.len()]
}

/// One award row (and its two audit rows); returns its id and, when
/// approved, the id of the entry its posting will have.
pub(super) fn award_row(
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
        crate::audit::Detail::new("award")
            .arg("rule", rule.code)
            .arg("day", occurred_on)
            .arg("points", format!("{:+}", rule.points))
            .to_string(),
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
        let head_name = city.households[household].head_name.clone();
        let words =
            |key| crate::points::awards::decision_words(key, &head_name, rule.code, rule.points);
        if rejected {
            row.status = "rejected".into();
            row.review_note = "材料不全，请补充后重新申报".into();
            let said = words("award_rejected")
                .arg("reason", &row.review_note)
                .to_string();
            city.audit(at, Some(reviewer), "award.reject", "award", &id, said);
        } else {
            row.status = "approved".into();
            let e = city.id_at(at);
            row.entry_id = Some(e.clone());
            entry = Some(e);
            let said = words("award_approved").to_string();
            city.audit(at, Some(reviewer), "award.approve", "award", &id, said);
        }
    }
    city.out.awards.push(row);
    (id, entry)
}
