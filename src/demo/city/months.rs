//! One month of the demo city's history: each household's awards, a
//! deduction now and then and a visit to the store, the planted visits,
//! each store's donations, moves, write-offs and stocktakes, then all of it
//! posted in time order and written. Every draw is made in the order the
//! generator has always made it, so a seed still makes the same city.

use super::fill::{PlantedHouseholds, award_row, reviewers_of};
use super::*;

/// What holds for every month of the history.
pub(super) struct Plan<'a> {
    pub(super) tz: chrono_tz::Tz,
    /// The moment the history ends (UTC), and its day in the scheme's zone.
    pub(super) now: NaiveDateTime,
    pub(super) today: NaiveDate,
    /// Whether the anomalies are planted, and in which month.
    pub(super) planting: bool,
    pub(super) p_month: Month,
    /// When the planted village's reviewer starts deciding two seconds apart.
    pub(super) fast_base: NaiveDateTime,
    pub(super) logins: &'a Logins,
    pub(super) rules: &'a [RuleInfo],
    pub(super) ph: &'a PlantedHouseholds,
    /// The planted household archived in the planted month.
    pub(super) archived: Option<usize>,
}

/// The events drawn and not posted yet, each with its draw number: events
/// at the same moment post in the order drawn.
#[derive(Default)]
pub(super) struct Events {
    list: Vec<(NaiveDateTime, u64, Event)>,
    drawn: u64,
}

impl Events {
    fn push(&mut self, at: NaiveDateTime, e: Event) {
        self.drawn += 1;
        self.list.push((at, self.drawn, e));
    }

    pub(super) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Every event left, in the order they were kept.
    pub(super) fn take_all(&mut self) -> impl Iterator<Item = (NaiveDateTime, Event)> {
        std::mem::take(&mut self.list)
            .into_iter()
            .map(|(at, _, e)| (at, e))
    }
}

/// Units the month's baskets ask of each (store, item).
type Demand = HashMap<(usize, usize), i64>;

/// One month as its steps read it: its place, its days and its bounds.
struct MonthCx<'p, 'a> {
    plan: &'p Plan<'a>,
    /// The month's place in the history (0: the scheme's launch month).
    m: usize,
    /// Its first moment and its end (UTC; the end no later than `now`).
    month_start: NaiveDateTime,
    month_end: NaiveDateTime,
    /// Its last day that has come.
    last_day: NaiveDate,
    /// Its days up to `last_day`.
    days: Vec<NaiveDate>,
    /// Whether this is the planted month.
    is_p: bool,
    /// How many villages the city has.
    nv: usize,
}

impl<'p, 'a> MonthCx<'p, 'a> {
    /// The month `month`, the `m`th of the history; None when none of its
    /// days has come.
    fn new(plan: &'p Plan<'a>, (m, month): (usize, Month), nv: usize) -> Option<Self> {
        let tz = plan.tz;
        let last_day = month.end_day().pred_opt().expect("a day").min(plan.today);
        let days: Vec<NaiveDate> = month
            .first_day()
            .iter_days()
            .take_while(|d| *d <= last_day)
            .collect();
        if days.is_empty() {
            return None;
        }
        Some(MonthCx {
            plan,
            m,
            month_start: crate::time::local_day_start_utc(month.first_day(), tz),
            month_end: crate::time::local_day_start_utc(month.end_day(), tz).min(plan.now),
            last_day,
            days,
            is_p: plan.planting && month == plan.p_month,
            nv,
        })
    }

    /// A day of the month, drawn.
    fn day_of(&self, rng: &mut StdRng) -> NaiveDate {
        self.days[rng.gen_range(0..self.days.len())]
    }
}

/// What the planted month still has to plant.
struct PlantedLeft {
    /// Reviews decided two seconds apart so far.
    fast: i64,
    backdated: usize,
    copied: usize,
    night: usize,
}

impl PlantedLeft {
    fn new() -> Self {
        PlantedLeft {
            fast: 0,
            backdated: plant::BACKDATED,
            copied: plant::COPIED_HOUSEHOLDS,
            night: plant::NIGHT_REDEMPTIONS,
        }
    }
}

/// A household as its month's steps see it.
struct Home<'a> {
    h: usize,
    created: NaiveDateTime,
    village: usize,
    town: usize,
    official: Staff,
    reviewer: &'a Staff,
    /// Its village's place among the planted ones.
    pv: usize,
    /// The planted household whose awards its reviewer never refuses.
    never: bool,
}

/// The `m`th month of the history, `month`: what each household and each
/// store does in it, posted in time order and written in one transaction;
/// what falls after it stays in `events` for the next. Returns false, and
/// makes nothing, when none of its days has come yet (what waited is then
/// dropped, as the generator always did).
pub(super) fn one_month(
    conn: &mut DbConn,
    city: &mut City,
    rng: &mut StdRng,
    plan: &Plan,
    step: (usize, Month),
    events: &mut Events,
    (made, planted): (&mut Made, &mut Vec<Planted>),
) -> QueryResult<bool> {
    let Some(cx) = MonthCx::new(plan, step, city.villages.len()) else {
        events.list.clear();
        return Ok(false);
    };
    let mut left = PlantedLeft::new();
    // What the stores hold goes out mostly through redemptions; what they
    // receive is planned from what the month's baskets will ask.
    let mut demand = Demand::new();
    for h in 0..city.households.len() {
        household_month(city, rng, &cx, &mut left, h, events, &mut demand, planted);
    }
    if cx.is_p {
        planted_visits(city, &cx, events, &mut demand);
    }
    for s in 0..city.stores.len() {
        store_month(city, rng, &cx, s, events, &demand);
    }
    post_month(conn, city, events, cx.month_end, made)?;
    Ok(true)
}

/// One household's month: its awards (and the planted ones), now and then
/// a deduction, and a visit to the store paid from what was credited.
#[allow(clippy::too_many_arguments)]
fn household_month(
    city: &mut City,
    rng: &mut StdRng,
    cx: &MonthCx,
    left: &mut PlantedLeft,
    h: usize,
    events: &mut Events,
    demand: &mut Demand,
    planted: &mut Vec<Planted>,
) {
    let created = city.households[h].created_at;
    if created >= cx.month_end {
        return;
    }
    let village = city.households[h].village;
    let town = city.villages[village].town;
    let home = Home {
        h,
        created,
        village,
        town,
        official: city.villages[village].official.clone(),
        reviewer: reviewers_of(cx.plan.logins, town),
        pv: village % cx.nv.max(1),
        never: Some(h) == cx.plan.ph.never_h,
    };
    let start_balance = city.balances[h];
    // Points credited this month, for what the household can spend when.
    let mut credits = awards(city, rng, cx, left, &home, events);
    if cx.is_p {
        planted_awards(city, rng, cx, &home, events, &mut credits);
    }
    let credited = |t: NaiveDateTime| -> i64 {
        start_balance
            + credits
                .iter()
                .filter(|(at, _)| *at < t)
                .map(|(_, p)| p)
                .sum::<i64>()
    };
    let held_back = deduction(city, rng, cx, &home, events, &credited);
    visit(
        city,
        rng,
        cx,
        left,
        &home,
        events,
        (demand, planted),
        (&credited, held_back),
    );
}

/// An approved award reaching the ledger when it is reviewed.
fn approved(
    events: &mut Events,
    reviewed_at: NaiveDateTime,
    (award_id, entry_id): (String, Option<String>),
    household: usize,
    rule: &RuleInfo,
    reviewer: &Staff,
) {
    events.push(
        reviewed_at,
        Event::Award {
            award_id,
            entry_id: entry_id.expect("approved"),
            household,
            points: rule.points,
            rule_code: rule.code,
            reviewer: reviewer.id.clone(),
        },
    );
}

/// The household's awards: most households, most months; one rule at most
/// once. The scheme's first month is its launch: everyone takes part in
/// its first days. The planted villages propose in their own ways. Returns
/// the points credited within the month, and when.
fn awards(
    city: &mut City,
    rng: &mut StdRng,
    cx: &MonthCx,
    left: &mut PlantedLeft,
    home: &Home,
    events: &mut Events,
) -> Vec<(NaiveDateTime, i64)> {
    let (tz, now, rules) = (cx.plan.tz, cx.plan.now, cx.plan.rules);
    let (is_p, pv) = (cx.is_p, home.pv);
    let mut credits = Vec::new();
    let launch = cx.m == 0;
    let mut n_awards = match rng.gen_range(0..100) {
        0..35 if !launch => 0,
        0..75 => 1,
        75..95 => 2,
        _ => 3,
    };
    if is_p && pv == plant::V_OUTLIER {
        n_awards += 3;
    }
    if is_p && pv == plant::V_PAIR {
        n_awards += 2;
    }
    if home.never {
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
            cx.days[rng.gen_range(0..cx.days.len().min(8))]
        } else {
            cx.day_of(rng)
        };
        let proposed_on = occurred_on + Duration::days(rng.gen_range(0..3));
        let mut proposed_at = moment(rng, tz, proposed_on, 8, 18);
        let mut note = "";
        if is_p && pv == plant::V_BURST {
            let d = cx.last_day - Duration::days(rng.gen_range(0..2));
            proposed_at = moment(rng, tz, d, 8, 18);
            occurred_on = occurred_on.min(d);
        }
        if is_p
            && pv == plant::V_BACKDATED
            && left.backdated > 0
            && Month::of(local_day(tz, proposed_at)) == cx.plan.p_month
        {
            left.backdated -= 1;
            occurred_on = local_day(tz, proposed_at) - Duration::days(plant::BACKDATED_DAYS);
        }
        if is_p && pv == plant::V_COPIED && left.copied > 0 && !copied_here {
            left.copied -= 1;
            copied_here = true;
            let d = cx.days[14.min(cx.days.len() - 1)];
            proposed_at = moment(rng, tz, d, 9, 11);
            occurred_on = d.pred_opt().expect("a day");
            note = plant::COPIED_NOTE;
        }
        if proposed_at > now || proposed_at < home.created {
            continue;
        }
        let reviewed_on = local_day(tz, proposed_at) + Duration::days(rng.gen_range(1..7));
        let mut reviewed_at = moment(rng, tz, reviewed_on, 8, 18);
        let mut rejected = rng.gen_bool(0.03);
        // The planted pair: every award of the village proposed in the
        // planted month is approved, also those of deeds done at the end
        // of the month before (the signal reads the month of the proposal,
        // not of the deed).
        let proposed_in_p =
            cx.plan.planting && Month::of(local_day(tz, proposed_at)) == cx.plan.p_month;
        // Its reviewer refuses the town's other proposers now and then (one
        // in ten that month), so that never refusing one of them stands
        // out whatever the draws.
        if proposed_in_p && home.town == city.villages[plant::V_PAIR % cx.nv].town {
            rejected = pv != plant::V_PAIR && rng.gen_bool(0.1);
        }
        if home.never {
            rejected = false;
        }
        if is_p && pv == plant::V_FAST && left.fast < 60 {
            reviewed_at = cx.plan.fast_base + Duration::seconds(2 * left.fast);
            left.fast += 1;
        }
        let outcome = if reviewed_at > now {
            None
        } else {
            Some(rejected)
        };
        let award = award_row(
            city,
            &rules[r],
            home.h,
            occurred_on,
            proposed_at,
            &home.official,
            outcome.map(|rej| (rej, reviewed_at, home.reviewer)),
        );
        if let Some(row) = city.out.awards.last_mut().filter(|_| !note.is_empty()) {
            row.note = note.to_string();
        }
        if outcome == Some(false) {
            if reviewed_at < cx.month_end {
                credits.push((reviewed_at, rules[r].points));
            }
            approved(events, reviewed_at, award, home.h, &rules[r], home.reviewer);
        }
    }
    credits
}

/// The planted month's extra awards (of the first rule): to favoured
/// households, and to fund the planted visits; what they credit within the
/// month is added to `credits`.
fn planted_awards(
    city: &mut City,
    rng: &mut StdRng,
    cx: &MonthCx,
    home: &Home,
    events: &mut Events,
    credits: &mut Vec<(NaiveDateTime, i64)>,
) {
    let (tz, now, rules, ph) = (cx.plan.tz, cx.plan.now, cx.plan.rules, cx.plan.ph);
    let (h, village, days) = (home.h, home.village, &cx.days);
    let mut extra: Vec<(usize, usize, NaiveDate)> = Vec::new();
    let early = |k: usize| days[(k % 5).min(days.len() - 1)];
    if ph.favoured.contains(&h) {
        extra.extend((0..20).map(|k| (village, k, early(k))));
    }
    if Some(h) == ph.helped_h {
        extra.extend((0..6).map(|k| (village, k, early(k))));
    }
    if Some(h) == ph.related_h {
        extra.extend((0..2).map(|k| (village, k, early(k))));
    }
    if Some(h) == ph.valuable_h {
        extra.extend((0..25).map(|k| (10 + k / 5, k, early(k))));
    }
    if Some(h) == ph.two_stores_h {
        extra.extend((0..2).map(|k| (village + 3, k, early(k))));
    }
    if Some(h) == cx.plan.archived {
        extra.extend((0..2).map(|k| (village, k, days[19.min(days.len() - 1)])));
    }
    for (v, k, day) in extra {
        let by = city.villages[v % cx.nv].official.clone();
        let reviewer = reviewers_of(cx.plan.logins, city.villages[v % cx.nv].town);
        let proposed_at = moment(rng, tz, day, 8, 12) + Duration::seconds(k as i64);
        let reviewed_at = proposed_at + Duration::hours(2);
        if proposed_at < home.created || reviewed_at > now {
            continue;
        }
        let award = award_row(
            city,
            &rules[0],
            h,
            day,
            proposed_at,
            &by,
            Some((false, reviewed_at, reviewer)),
        );
        if reviewed_at < cx.month_end {
            credits.push((reviewed_at, rules[0].points));
        }
        approved(events, reviewed_at, award, h, &rules[0], reviewer);
    }
}

/// Now and then a deduction, reviewed the same day, when what was credited
/// before its review covers it. Returns the points it holds back from the
/// month's visit (whatever the order, a visit leaves enough for it).
fn deduction(
    city: &mut City,
    rng: &mut StdRng,
    cx: &MonthCx,
    home: &Home,
    events: &mut Events,
    credited: &dyn Fn(NaiveDateTime) -> i64,
) -> i64 {
    let (tz, now, rules) = (cx.plan.tz, cx.plan.now, cx.plan.rules);
    let deduction = &rules[rules.len() - 1];
    if !rng.gen_bool(0.01) {
        return 0;
    }
    let day = cx.day_of(rng);
    let proposed_at = moment(rng, tz, day, 8, 12);
    let reviewed_at = proposed_at + Duration::hours(3);
    if proposed_at < home.created || reviewed_at > now || credited(reviewed_at) < -deduction.points
    {
        return 0;
    }
    let award = award_row(
        city,
        deduction,
        home.h,
        day,
        proposed_at,
        &home.official,
        Some((false, reviewed_at, home.reviewer)),
    );
    approved(events, reviewed_at, award, home.h, deduction, home.reviewer);
    -deduction.points
}

/// A visit to the household's town's store, paid from the points credited
/// before it (less what a deduction holds back), adding what its basket
/// asks to `demand`. The planted visitors come only for their planted
/// visits that month, so that nothing else spends what funds them; in the
/// planted month a few visits come at night, and one store voids many.
#[allow(clippy::too_many_arguments)]
fn visit(
    city: &mut City,
    rng: &mut StdRng,
    cx: &MonthCx,
    left: &mut PlantedLeft,
    home: &Home,
    events: &mut Events,
    (demand, planted): (&mut Demand, &mut Vec<Planted>),
    (credited, held_back): (&dyn Fn(NaiveDateTime) -> i64, i64),
) {
    let (tz, now, ph) = (cx.plan.tz, cx.plan.now, cx.plan.ph);
    let h = home.h;
    let launch = cx.m == 0;
    let planted_visitor = cx.is_p && (Some(h) == ph.two_stores_h || Some(h) == ph.valuable_h);
    let comes = rng.gen_bool(if launch { 0.5 } else { 0.27 });
    if !comes || home.never || planted_visitor {
        return;
    }
    let day = cx.day_of(rng);
    let mut at = moment(rng, tz, day, 8, 17);
    let night = cx.is_p && home.town.is_multiple_of(city.stores.len()) && left.night > 0;
    if night {
        at = moment(rng, tz, day, 21, 23);
    }
    let mut budget = credited(at) - held_back;
    if at <= home.created || at > now || budget < 1 {
        return;
    }
    let store = home.town % city.stores.len();
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
    if lines.is_empty() {
        return;
    }
    let id = city.id_at(at);
    if night {
        left.night -= 1;
        planted.push(Planted {
            kind: crate::signals::Kind::OutsideHours,
            month: cx.plan.p_month,
            subject: id.clone(),
        });
    }
    let void_rate = if cx.is_p && store == 1 { 0.25 } else { 0.006 };
    if rng.gen_bool(void_rate) {
        let void_at = at + Duration::minutes(rng.gen_range(2..30));
        if void_at <= now {
            events.push(
                void_at,
                Event::Void {
                    redemption_id: id.clone(),
                },
            );
        }
    }
    events.push(
        at,
        Event::Redeem {
            id,
            household: h,
            store,
            lines,
        },
    );
}

/// The planted visits: one household at two stores within minutes,
/// another taking thermos flasks again and again; and a store writing off
/// a great deal of rice.
fn planted_visits(city: &mut City, cx: &MonthCx, events: &mut Events, demand: &mut Demand) {
    let (tz, ph, days) = (cx.plan.tz, cx.plan.ph, &cx.days);
    let mut visits: Vec<(usize, usize, NaiveDateTime, usize, i64)> = Vec::new();
    if let Some(h) = ph.two_stores_h {
        let day = days[14.min(days.len() - 1)];
        let at = utc(tz, day.and_hms_opt(10, 0, 0).expect("a time"));
        visits.push((h, 0, at, 4, 1));
        visits.push((h, 1, at + Duration::minutes(12), 6, 1));
    }
    if let Some(h) = ph.valuable_h {
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
        events.push(
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
    events.push(
        utc(tz, day.and_hms_opt(16, 30, 0).expect("a time")),
        Event::WriteOff {
            store: 1,
            item: 0,
            quantity: 40,
            reason: "破损",
        },
    );
}

/// Store `s`'s month: donations at its start (what the baskets will want,
/// a margin, and in the first month a full shelf), now and then goods moved
/// to the next store or written off, and a stocktake every quarter.
fn store_month(
    city: &mut City,
    rng: &mut StdRng,
    cx: &MonthCx,
    s: usize,
    events: &mut Events,
    demand: &Demand,
) {
    let (tz, now, m, days) = (cx.plan.tz, cx.plan.now, cx.m, &cx.days);
    let day = days[rng.gen_range(0..days.len().min(3))];
    let at = if m == 0 {
        cx.month_start + Duration::hours(1)
    } else {
        moment(rng, tz, day, 9, 11).min(now)
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
        events.push(
            at,
            Event::Donation {
                store: s,
                donor,
                money_fen,
                lines: part,
            },
        );
    }
    if city.stores.len() > 1 && rng.gen_bool(0.3) {
        let day = cx.day_of(rng);
        let at = moment(rng, tz, day, 14, 16);
        let e = Event::Move {
            from: s,
            to: (s + 1) % city.stores.len(),
            item: rng.gen_range(0..city.items.len()),
            quantity: rng.gen_range(1..10),
        };
        events.push(at, e);
    }
    if rng.gen_bool(0.1) {
        let day = cx.day_of(rng);
        let at = moment(rng, tz, day, 16, 17);
        let e = Event::WriteOff {
            store: s,
            item: rng.gen_range(0..city.items.len()),
            quantity: rng.gen_range(1..4),
            reason: ["过期", "破损", "受潮"][rng.gen_range(0..3)],
        };
        events.push(at, e);
    }
    if (m + s) % 3 == 2 {
        let day = *days.last().expect("a day");
        let at = moment(rng, tz, day, 17, 18);
        if at <= now {
            events.push(at, Event::Stocktake { store: s });
        }
    }
}

/// Post the month's events in time order (what falls after `month_end`
/// stays in `events` for the next), write the month's rows in one
/// transaction, and count them in `made`.
fn post_month(
    conn: &mut DbConn,
    city: &mut City,
    events: &mut Events,
    month_end: NaiveDateTime,
    made: &mut Made,
) -> QueryResult<()> {
    events.list.sort_by_key(|a| (a.0, a.1));
    let split = events.list.partition_point(|(at, _, _)| *at < month_end);
    let later = events.list.split_off(split);
    for (at, _, e) in std::mem::replace(&mut events.list, later) {
        city.apply(at, e);
    }
    city.posted.clear();
    made.awards += city.out.awards.len();
    made.redemptions += city.out.redemptions.len() as i64;
    made.donations += city.out.donations.len() as i64;
    made.stocktakes += city.out.stocktakes.len() as i64;
    city.flush(conn)
}
