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
    let nv = city.villages.len();
    let PlantedHouseholds {
        two_stores_h,
        never_h,
        valuable_h,
        favoured,
        helped_h,
        related_h,
    } = planted_households(
        conn,
        key,
        &city,
        &logins,
        (planting, p_month, tz),
        (&phones, archived),
        &mut planted,
    )?;
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
    finish(conn, &city, tz, progress)?;
    Ok((logins.named, made, planted))
}

/// The households the planted anomalies happen to (none unless
/// `planting`): registered before the planted month, never the archived one.
struct PlantedHouseholds {
    two_stores_h: Option<usize>,
    never_h: Option<usize>,
    valuable_h: Option<usize>,
    favoured: Vec<usize>,
    helped_h: Option<usize>,
    related_h: Option<usize>,
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
