//! The signals as pure functions over a month's fetched rows: no database,
//! no framework, so each can be tested with a handful of hand-made rows.
//! Every function returns findings above its threshold, most serious first.
//! The definitions (formula, threshold, why) are in docs/signals.md.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike};
use chrono_tz::Tz;

use super::{Finding, Kind, RowKind, RowRef, Thresholds};

/// An award proposed in the month (withdrawn ones left out), with what the
/// signals need of its household.
#[derive(Debug, Clone)]
pub struct AwardRow {
    pub id: String,
    pub household_id: String,
    pub head_name: String,
    /// The household's village path (`/city/district/town/village/`).
    pub area_path: String,
    /// Points (negative for a deduction).
    pub points: i64,
    pub occurred_on: NaiveDate,
    pub note: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    pub proposed_by: String,
    /// UTC.
    pub proposed_at: NaiveDateTime,
    pub reviewed_by: Option<String>,
    /// UTC.
    pub reviewed_at: Option<NaiveDateTime>,
    pub helper_id: Option<String>,
    /// UTC; set when the household is archived.
    pub archived_at: Option<NaiveDateTime>,
}

/// A redemption made in the month (void ones included), with its store.
#[derive(Debug, Clone)]
pub struct RedemptionRow {
    pub id: String,
    pub number: String,
    pub store_id: String,
    pub household_id: String,
    pub head_name: String,
    pub clerk_id: Option<String>,
    pub total_points: i64,
    /// `completed` or `void`.
    pub status: String,
    /// UTC.
    pub created_at: NaiveDateTime,
}

/// A line of a completed redemption of the month.
#[derive(Debug, Clone)]
pub struct LineRow {
    pub redemption_id: String,
    pub store_id: String,
    pub household_id: String,
    pub head_name: String,
    pub item_name: String,
    pub quantity: i64,
    /// Points per unit.
    pub unit_points: i64,
    /// Who handed the goods over.
    pub clerk_id: Option<String>,
}

/// A store as the counter signals see it.
#[derive(Debug, Clone)]
pub struct StoreRow {
    pub id: String,
    pub name: String,
    /// Free text such as `08:30-17:00` or `8:00-12:00, 14:00-17:30`.
    pub opening_hours: String,
}

/// What a store's goods did in the month, in points (quantity x the item's price).
#[derive(Debug, Clone, Default)]
pub struct StoreLosses {
    pub store_id: String,
    /// Written off, and counted short at stocktakes (net of counted over).
    pub lost_points: i64,
    /// Redeemed (the store's real outflow, to scale the losses by).
    pub redeemed_points: i64,
    /// The loss movements, to link to.
    pub movements: Vec<(String, String)>,
    /// Who recorded them.
    pub recorded_by: Vec<String>,
}

/// A household's approved earning by month, and whether it ever redeemed.
#[derive(Debug, Clone)]
pub struct EarnerRow {
    pub household_id: String,
    pub head_name: String,
    /// Distinct months (of the window) with an approved award.
    pub months_earning: i64,
    /// Points approved in the window.
    pub points: i64,
    pub ever_redeemed: bool,
    /// Who proposed those points.
    pub proposers: Vec<String>,
}

/// A household that shares something with a staff member's own record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub household_id: String,
    pub staff_id: String,
    /// What they share: `id`, `phone`, `address`, joined by `+`.
    pub how: String,
}

fn town_of(path: &str) -> &str {
    path.split('/')
        .filter(|s| !s.is_empty())
        .nth(2)
        .unwrap_or(path)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The robust z-score of `x` among `others` (median absolute deviation,
/// scaled by 0.6745), with the spread floored so that a town of equal
/// officials does not make every small difference infinite.
pub fn robust_z(x: f64, others: &[f64]) -> f64 {
    let m = median(others.to_vec());
    let mad = median(others.iter().map(|v| (v - m).abs()).collect());
    let floor = (m.abs() * 0.05).max(0.5);
    0.6745 * (x - m) / mad.max(floor)
}

fn award_ref(a: &AwardRow) -> RowRef {
    RowRef {
        kind: RowKind::Award,
        id: a.household_id.clone(),
        label: format!("{} {} {:+}", a.head_name, a.occurred_on, a.points),
        anchor: a.id.clone(),
    }
}

fn household_ref(id: &str, name: &str) -> RowRef {
    RowRef {
        kind: RowKind::Household,
        id: id.to_string(),
        label: name.to_string(),
        anchor: String::new(),
    }
}

fn redemption_ref(r: &RedemptionRow, tz: Tz) -> RowRef {
    RowRef {
        kind: RowKind::Redemption,
        id: r.id.clone(),
        label: format!(
            "{} {} {}",
            r.number,
            crate::time::format_local(r.created_at, tz),
            r.head_name
        ),
        anchor: String::new(),
    }
}

fn sort(mut v: Vec<Finding>) -> Vec<Finding> {
    v.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.subject.cmp(&b.subject))
    });
    v
}

fn counted(a: &AwardRow) -> bool {
    a.status != "rejected"
}

/// Proposer points per household far above the town's other proposers
/// (robust z-score), and proposers whose points go to a few households
/// (Herfindahl index times the number of households: 1 when even).
pub fn proposers(awards: &[AwardRow], t: &Thresholds) -> (Vec<Finding>, Vec<Finding>) {
    // town -> proposer -> household -> points
    let mut by_town: BTreeMap<&str, BTreeMap<&str, HashMap<&str, i64>>> = BTreeMap::new();
    let mut rows: HashMap<&str, Vec<&AwardRow>> = HashMap::new();
    for a in awards.iter().filter(|a| counted(a) && a.points > 0) {
        *by_town
            .entry(town_of(&a.area_path))
            .or_default()
            .entry(&a.proposed_by)
            .or_default()
            .entry(&a.household_id)
            .or_default() += a.points;
        rows.entry(&a.proposed_by).or_default().push(a);
    }
    let mut outliers = Vec::new();
    let mut concentrated = Vec::new();
    for proposers in by_town.values() {
        let per_household: Vec<(&str, f64)> = proposers
            .iter()
            .map(|(p, hh)| (*p, hh.values().sum::<i64>() as f64 / hh.len().max(1) as f64))
            .collect();
        for (p, x) in &per_household {
            let others: Vec<f64> = per_household
                .iter()
                .filter(|(q, _)| q != p)
                .map(|(_, v)| *v)
                .collect();
            if others.len() < 2 {
                continue;
            }
            let z = robust_z(*x, &others);
            if z >= t.proposer_z {
                let mut r: Vec<&AwardRow> = rows[p].clone();
                r.sort_by_key(|a| std::cmp::Reverse(a.points));
                outliers.push(Finding::new(
                    Kind::ProposerOutlier,
                    p,
                    z,
                    t.proposer_z,
                    format!("{x:.1} / {:.1}", median(others)),
                    vec![p.to_string()],
                    r.into_iter().map(award_ref).collect(),
                ));
            }
        }
        for (p, hh) in proposers {
            let total: i64 = hh.values().sum();
            let n_awards = rows[p].len() as i64;
            if total <= 0 || n_awards < t.min_awards {
                continue;
            }
            let hhi: f64 = hh
                .values()
                .map(|v| {
                    let s = *v as f64 / total as f64;
                    s * s
                })
                .sum();
            let score = hhi * hh.len() as f64;
            if score >= t.concentration {
                let mut top: Vec<(&&str, &i64)> = hh.iter().collect();
                top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                let wanted: HashSet<&str> = top.iter().take(5).map(|(h, _)| **h).collect();
                concentrated.push(Finding::new(
                    Kind::ProposerConcentration,
                    p,
                    score,
                    t.concentration,
                    format!("HHI {hhi:.3}, {} households", hh.len()),
                    vec![p.to_string()],
                    rows[p]
                        .iter()
                        .filter(|a| wanted.contains(a.household_id.as_str()))
                        .map(|a| award_ref(a))
                        .collect(),
                ));
            }
        }
    }
    (sort(outliers), sort(concentrated))
}

/// Households whose own helper proposed most of their points, when those
/// points are far above their village's median household.
pub fn helper_share(awards: &[AwardRow], t: &Thresholds) -> Vec<Finding> {
    // household -> (points, by helper, village)
    let mut hh: BTreeMap<&str, (i64, i64, &str, &str)> = BTreeMap::new();
    let mut rows: HashMap<&str, Vec<&AwardRow>> = HashMap::new();
    for a in awards.iter().filter(|a| counted(a) && a.points > 0) {
        let e = hh
            .entry(&a.household_id)
            .or_insert((0, 0, &a.area_path, &a.head_name));
        e.0 += a.points;
        if a.helper_id.as_deref() == Some(a.proposed_by.as_str()) {
            e.1 += a.points;
        }
        rows.entry(&a.household_id).or_default().push(a);
    }
    let mut village: HashMap<&str, Vec<f64>> = HashMap::new();
    for (p, _, v, _) in hh.values() {
        village.entry(v).or_default().push(*p as f64);
    }
    let medians: HashMap<&str, f64> = village.into_iter().map(|(v, ps)| (v, median(ps))).collect();
    let mut out = Vec::new();
    for (h, (points, by_helper, v, name)) in hh {
        if points < t.min_points || (by_helper * 100) < points * t.helper_share_pct {
            continue;
        }
        let ratio = points as f64 / medians[v].max(1.0);
        if ratio >= t.helper_ratio {
            let helper = rows[h][0].helper_id.clone().unwrap_or_default();
            let mut refs = vec![household_ref(h, name)];
            refs.extend(rows[h].iter().map(|a| award_ref(a)));
            out.push(Finding::new(
                Kind::HelperShare,
                h,
                ratio,
                t.helper_ratio,
                format!("{points} / {:.0}", medians[v]),
                vec![helper],
                refs,
            ));
        }
    }
    sort(out)
}

/// The probability of at most `k` rejections in `n` decisions when each is
/// rejected with probability `p` (binomial lower tail).
pub fn binomial_tail(n: i64, k: i64, p: f64) -> f64 {
    if p <= 0.0 {
        return 1.0;
    }
    let mut total = 0.0;
    let mut log_c = 0.0f64;
    for i in 0..=k.min(n) {
        if i > 0 {
            log_c += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        total += (log_c + i as f64 * p.ln() + (n - i) as f64 * (1.0 - p).ln()).exp();
    }
    total.min(1.0)
}

/// Proposer and reviewer pairs where the reviewer approves the proposer
/// nearly always, at volume, while rejecting others: score -log10 of the
/// chance of so few rejections at the reviewer's rate for everyone else,
/// doubled when the two also review each other the other way.
pub fn review_pairs(awards: &[AwardRow], t: &Thresholds) -> Vec<Finding> {
    let decided: Vec<&AwardRow> = awards
        .iter()
        .filter(|a| a.status != "pending" && a.reviewed_by.is_some())
        .collect();
    // (proposer, reviewer) -> (decisions, rejections)
    let mut pairs: BTreeMap<(&str, &str), (i64, i64)> = BTreeMap::new();
    let mut reviewer: HashMap<&str, (i64, i64)> = HashMap::new();
    for a in &decided {
        let r = a.reviewed_by.as_deref().unwrap_or_default();
        let rej = (a.status == "rejected") as i64;
        let e = pairs.entry((&a.proposed_by, r)).or_default();
        e.0 += 1;
        e.1 += rej;
        let e = reviewer.entry(r).or_default();
        e.0 += 1;
        e.1 += rej;
    }
    let mut out = Vec::new();
    for (&(p, r), &(n, rej)) in &pairs {
        if n < t.pair_min || rej * 100 > n * (100 - t.pair_approve_pct) {
            continue;
        }
        let (rn, rr) = reviewer[r];
        let (others_n, others_rej) = (rn - n, rr - rej);
        if others_n < t.pair_min {
            continue;
        }
        let rate = others_rej as f64 / others_n as f64;
        let p_value = binomial_tail(n, rej, rate);
        let mut score = -p_value.max(1e-300).log10();
        let back = pairs.get(&(r, p)).map(|x| x.0).unwrap_or(0);
        if back >= t.pair_min / 2 && back > 0 {
            score *= 2.0;
        }
        if score >= t.pair_score {
            out.push(Finding::new(
                Kind::ReviewPair,
                &format!("{p}|{r}"),
                score,
                t.pair_score,
                format!("{n} / {rej}; {:.1}%", rate * 100.0),
                vec![p.to_string(), r.to_string()],
                decided
                    .iter()
                    .filter(|a| a.proposed_by == p && a.reviewed_by.as_deref() == Some(r))
                    .take(50)
                    .map(|a| award_ref(a))
                    .collect(),
            ));
        }
    }
    sort(out)
}

/// Reviewers who decide many awards within seconds of their previous
/// decision: score = the number of such decisions.
pub fn fast_reviews(awards: &[AwardRow], t: &Thresholds) -> Vec<Finding> {
    let mut by: BTreeMap<&str, Vec<&AwardRow>> = BTreeMap::new();
    for a in awards {
        if let (Some(r), Some(_)) = (&a.reviewed_by, a.reviewed_at) {
            by.entry(r).or_default().push(a);
        }
    }
    let mut out = Vec::new();
    for (r, mut list) in by {
        list.sort_by_key(|a| a.reviewed_at);
        let mut fast = Vec::new();
        for w in list.windows(2) {
            let gap = w[1].reviewed_at.unwrap_or_default() - w[0].reviewed_at.unwrap_or_default();
            if gap.num_milliseconds() < t.fast_seconds * 1000 {
                fast.push(w[1]);
            }
        }
        if (fast.len() as i64) >= t.fast_min {
            out.push(Finding::new(
                Kind::FastReviews,
                r,
                fast.len() as f64,
                t.fast_min as f64,
                format!("{} / {}", fast.len(), list.len()),
                vec![r.to_string()],
                fast.into_iter().take(50).map(award_ref).collect(),
            ));
        }
    }
    sort(out)
}

/// Proposers of awards dated long before they were proposed: score = the
/// longest gap in days.
pub fn backdated(awards: &[AwardRow], tz: Tz, t: &Thresholds) -> Vec<Finding> {
    let mut by: BTreeMap<&str, Vec<(&AwardRow, i64)>> = BTreeMap::new();
    for a in awards {
        let proposed_on = tz.from_utc_datetime(&a.proposed_at).date_naive();
        let days = (proposed_on - a.occurred_on).num_days();
        if days > t.backdated_days {
            by.entry(&a.proposed_by).or_default().push((a, days));
        }
    }
    sort(
        by.into_iter()
            .map(|(p, mut list)| {
                list.sort_by_key(|b| std::cmp::Reverse(b.1));
                let max = list[0].1;
                Finding::new(
                    Kind::Backdated,
                    p,
                    max as f64 + list.len() as f64 / 100.0,
                    t.backdated_days as f64,
                    format!("{} x, {max} d", list.len()),
                    vec![p.to_string()],
                    list.into_iter().map(|(a, _)| award_ref(a)).collect(),
                )
            })
            .collect(),
    )
}

/// Proposers who make an outsized share of their month's proposals in its
/// last days: score = that share over the share of days.
pub fn month_end_bursts(
    awards: &[AwardRow],
    tz: Tz,
    month_last_day: NaiveDate,
    t: &Thresholds,
) -> Vec<Finding> {
    let days_in_month = month_last_day.day() as f64;
    let burst_from = month_last_day - chrono::Duration::days(t.burst_days - 1);
    let mut by: BTreeMap<&str, (i64, Vec<&AwardRow>)> = BTreeMap::new();
    for a in awards {
        let on = tz.from_utc_datetime(&a.proposed_at).date_naive();
        let e = by.entry(&a.proposed_by).or_default();
        e.0 += 1;
        if on >= burst_from && on <= month_last_day {
            e.1.push(a);
        }
    }
    let expected = t.burst_days as f64 / days_in_month;
    let mut out = Vec::new();
    for (p, (n, late)) in by {
        if n < t.min_awards || late.is_empty() {
            continue;
        }
        let ratio = late.len() as f64 / n as f64 / expected;
        if ratio >= t.burst_ratio {
            out.push(Finding::new(
                Kind::MonthEndBurst,
                p,
                ratio,
                t.burst_ratio,
                format!("{} / {n}", late.len()),
                vec![p.to_string()],
                late.into_iter().take(50).map(award_ref).collect(),
            ));
        }
    }
    sort(out)
}

/// The same note on many households' awards, by one proposer on one day.
pub fn copied_notes(awards: &[AwardRow], tz: Tz, t: &Thresholds) -> Vec<Finding> {
    let mut by: BTreeMap<(&str, NaiveDate, String), Vec<&AwardRow>> = BTreeMap::new();
    for a in awards {
        let note: String = a.note.split_whitespace().collect::<Vec<_>>().join(" ");
        if note.chars().count() < 4 {
            continue;
        }
        let on = tz.from_utc_datetime(&a.proposed_at).date_naive();
        by.entry((&a.proposed_by, on, note)).or_default().push(a);
    }
    let mut out = Vec::new();
    for ((p, on, note), list) in by {
        let households: HashSet<&str> = list.iter().map(|a| a.household_id.as_str()).collect();
        if (households.len() as i64) < t.copied_households {
            continue;
        }
        let shown: String = note.chars().take(40).collect();
        out.push(Finding::new(
            Kind::CopiedNote,
            &format!("{p}|{on}|{shown}"),
            households.len() as f64,
            t.copied_households as f64,
            format!("{on} \u{201c}{shown}\u{201d}"),
            vec![p.to_string()],
            list.into_iter().take(50).map(award_ref).collect(),
        ));
    }
    sort(out)
}

/// Awards for households proposed after they were archived (or erased).
pub fn after_archive(awards: &[AwardRow]) -> Vec<Finding> {
    let mut by: BTreeMap<&str, Vec<&AwardRow>> = BTreeMap::new();
    for a in awards {
        if a.archived_at.is_some_and(|at| a.proposed_at > at) {
            by.entry(&a.household_id).or_default().push(a);
        }
    }
    sort(
        by.into_iter()
            .map(|(h, list)| {
                let points: i64 = list.iter().map(|a| a.points.abs()).sum();
                let staff: Vec<String> = list.iter().map(|a| a.proposed_by.clone()).collect();
                let mut refs = vec![household_ref(h, &list[0].head_name)];
                refs.extend(list.iter().map(|a| award_ref(a)));
                Finding::new(
                    Kind::AfterArchive,
                    h,
                    points as f64 + 1.0,
                    1.0,
                    format!("{} x, {points}", list.len()),
                    staff,
                    refs,
                )
            })
            .collect(),
    )
}

/// Awards (approved or pending) to households related to a staff member:
/// score = the household's points in the month; every such household is
/// flagged (a favour to one's own family needs no threshold).
pub fn staff_related(awards: &[AwardRow], related: &[Relation]) -> Vec<Finding> {
    if related.is_empty() {
        return Vec::new();
    }
    let mut by: BTreeMap<&str, Vec<&Relation>> = BTreeMap::new();
    for r in related {
        by.entry(&r.household_id).or_default().push(r);
    }
    let mut rows: BTreeMap<&str, Vec<&AwardRow>> = BTreeMap::new();
    for a in awards.iter().filter(|a| counted(a) && a.points > 0) {
        if by.contains_key(a.household_id.as_str()) {
            rows.entry(&a.household_id).or_default().push(a);
        }
    }
    sort(
        rows.into_iter()
            .map(|(h, list)| {
                let points: i64 = list.iter().map(|a| a.points).sum();
                let relations = &by[h];
                let mut staff: Vec<String> = relations.iter().map(|r| r.staff_id.clone()).collect();
                // The proposers too: a colleague may be the one doing the favour.
                for a in &list {
                    if !staff.contains(&a.proposed_by) {
                        staff.push(a.proposed_by.clone());
                    }
                }
                let how: Vec<&str> = relations.iter().map(|r| r.how.as_str()).collect();
                let mut refs = vec![household_ref(h, &list[0].head_name)];
                refs.extend(list.iter().take(50).map(|a| award_ref(a)));
                Finding::new(
                    Kind::StaffRelated,
                    h,
                    points as f64,
                    0.0,
                    format!("{}; {points}", how.join(", ")),
                    staff,
                    refs,
                )
            })
            .collect(),
    )
}

/// Clerks whose void rate is far above the other clerks'.
pub fn clerk_voids(redemptions: &[RedemptionRow], tz: Tz, t: &Thresholds) -> Vec<Finding> {
    let mut by: BTreeMap<&str, Vec<&RedemptionRow>> = BTreeMap::new();
    for r in redemptions {
        if let Some(c) = &r.clerk_id {
            by.entry(c).or_default().push(r);
        }
    }
    let rates: Vec<(&str, f64)> = by
        .iter()
        .map(|(c, l)| {
            let voids = l.iter().filter(|r| r.status == "void").count();
            (*c, voids as f64 / l.len() as f64)
        })
        .collect();
    let mut out = Vec::new();
    for (c, rate) in &rates {
        let list = &by[c];
        let voids: Vec<&&RedemptionRow> = list.iter().filter(|r| r.status == "void").collect();
        if (voids.len() as i64) < t.void_min || rate * 1000.0 < t.void_permille as f64 {
            continue;
        }
        let others = median(
            rates
                .iter()
                .filter(|(d, _)| d != c)
                .map(|(_, r)| *r)
                .collect(),
        );
        let score = rate / others.max(0.01);
        out.push(Finding::new(
            Kind::ClerkVoids,
            c,
            score,
            1.0,
            format!("{} / {} ({:.1}%)", voids.len(), list.len(), rate * 100.0),
            vec![c.to_string()],
            voids.into_iter().map(|r| redemption_ref(r, tz)).collect(),
        ));
    }
    sort(out)
}

/// Opening windows in minutes after midnight, from text such as
/// `08:30-17:00` or `8:00-12:00，14:00-17:30`; None when it does not read.
pub fn parse_hours(text: &str) -> Option<Vec<(u32, u32)>> {
    let text = crate::domain::input::normalize(text);
    let minute = |s: &str| -> Option<u32> {
        let (h, m) = s.trim().split_once([':', '：'])?;
        let (h, m): (u32, u32) = (h.trim().parse().ok()?, m.trim().parse().ok()?);
        (h <= 24 && m < 60).then_some(h * 60 + m)
    };
    let mut out = Vec::new();
    for part in text.split([',', '，', ';', '；', ' ', '、']) {
        if part.trim().is_empty() {
            continue;
        }
        let (a, b) = part.split_once(['-', '–', '~', '～', '至'])?;
        let (a, b) = (minute(a)?, minute(b)?);
        if a >= b {
            return None;
        }
        out.push((a, b));
    }
    (!out.is_empty()).then_some(out)
}

/// Redemptions made well outside their store's opening hours: score =
/// minutes outside.
pub fn outside_hours(
    redemptions: &[RedemptionRow],
    stores: &[StoreRow],
    tz: Tz,
    t: &Thresholds,
) -> Vec<Finding> {
    let hours: HashMap<&str, Vec<(u32, u32)>> = stores
        .iter()
        .filter_map(|s| parse_hours(&s.opening_hours).map(|h| (s.id.as_str(), h)))
        .collect();
    let mut out = Vec::new();
    for r in redemptions {
        let Some(h) = hours.get(r.store_id.as_str()) else {
            continue;
        };
        let local = tz.from_utc_datetime(&r.created_at);
        let m = local.hour() * 60 + local.minute();
        let outside = h
            .iter()
            .map(|(a, b)| {
                if m < *a {
                    a - m
                } else if m >= *b {
                    m - b
                } else {
                    0
                }
            })
            .min()
            .unwrap_or(0) as i64;
        if outside > t.outside_minutes {
            out.push(Finding::new(
                Kind::OutsideHours,
                &r.id,
                outside as f64,
                t.outside_minutes as f64,
                crate::time::format_local(r.created_at, tz),
                r.clerk_id.iter().cloned().collect(),
                vec![redemption_ref(r, tz)],
            ));
        }
    }
    sort(out)
}

/// One household redeeming at two stores within minutes of each other.
pub fn two_stores(redemptions: &[RedemptionRow], tz: Tz, t: &Thresholds) -> Vec<Finding> {
    let mut by: BTreeMap<&str, Vec<&RedemptionRow>> = BTreeMap::new();
    for r in redemptions.iter().filter(|r| r.status != "void") {
        by.entry(&r.household_id).or_default().push(r);
    }
    let mut out = Vec::new();
    for (h, mut list) in by {
        list.sort_by_key(|r| r.created_at);
        let mut hits: Vec<&RedemptionRow> = Vec::new();
        let mut closest = i64::MAX;
        for (i, a) in list.iter().enumerate() {
            for b in &list[i + 1..] {
                let gap = (b.created_at - a.created_at).num_minutes();
                if gap > t.two_store_minutes {
                    break;
                }
                if a.store_id != b.store_id {
                    closest = closest.min(gap);
                    for r in [a, b] {
                        if !hits.iter().any(|x| x.id == r.id) {
                            hits.push(r);
                        }
                    }
                }
            }
        }
        if !hits.is_empty() {
            let mut refs = vec![household_ref(h, &hits[0].head_name)];
            refs.extend(hits.iter().map(|r| redemption_ref(r, tz)));
            out.push(Finding::new(
                Kind::TwoStores,
                h,
                hits.len() as f64 + 1.0 / (closest as f64 + 1.0),
                1.0,
                format!("{closest} min"),
                hits.iter().filter_map(|r| r.clerk_id.clone()).collect(),
                refs,
            ));
        }
    }
    sort(out)
}

/// Households taking a large share of a store's valuable goods (unit price
/// at or above the setting): score = the household's valuable units.
pub fn valuable_goods(lines: &[LineRow], t: &Thresholds) -> Vec<Finding> {
    let mut by: BTreeMap<(&str, &str), (i64, Vec<&LineRow>)> = BTreeMap::new();
    let mut store_total: HashMap<&str, i64> = HashMap::new();
    for l in lines.iter().filter(|l| l.unit_points >= t.valuable_points) {
        let e = by.entry((&l.store_id, &l.household_id)).or_default();
        e.0 += l.quantity;
        e.1.push(l);
        *store_total.entry(&l.store_id).or_default() += l.quantity;
    }
    let mut out = Vec::new();
    for ((s, h), (q, list)) in by {
        if q < t.valuable_units {
            continue;
        }
        let share = q as f64 / store_total[s].max(1) as f64;
        let mut refs = vec![household_ref(h, &list[0].head_name)];
        let mut seen = HashSet::new();
        for l in &list {
            if seen.insert(l.redemption_id.as_str()) {
                refs.push(RowRef {
                    kind: RowKind::Redemption,
                    id: l.redemption_id.clone(),
                    label: format!("{} x{}", l.item_name, l.quantity),
                    anchor: String::new(),
                });
            }
        }
        let mut clerks: Vec<String> = list.iter().filter_map(|l| l.clerk_id.clone()).collect();
        clerks.sort();
        clerks.dedup();
        out.push(Finding::new(
            Kind::ValuableGoods,
            h,
            q as f64,
            t.valuable_units as f64,
            format!("{q} ({:.0}%)", share * 100.0),
            clerks,
            refs,
        ));
    }
    sort(out)
}

/// Stores whose stocktake and write-off losses, per point redeemed, are far
/// above the other stores': score = the store's loss ratio over the median
/// of the others' (floored at 1%).
pub fn stock_losses(stores: &[StoreLosses], names: &[StoreRow], t: &Thresholds) -> Vec<Finding> {
    let ratio = |s: &StoreLosses| {
        s.lost_points.max(0) as f64 / (s.redeemed_points + s.lost_points.max(0)).max(1) as f64
    };
    let mut out = Vec::new();
    for s in stores {
        if s.lost_points < t.loss_min_points {
            continue;
        }
        let others = median(
            stores
                .iter()
                .filter(|o| o.store_id != s.store_id)
                .map(ratio)
                .collect(),
        );
        let score = ratio(s) / others.max(0.01);
        if score >= t.loss_ratio {
            let name = names
                .iter()
                .find(|n| n.id == s.store_id)
                .map(|n| n.name.clone())
                .unwrap_or_default();
            let mut refs = vec![RowRef {
                kind: RowKind::Store,
                id: s.store_id.clone(),
                label: name,
                anchor: String::new(),
            }];
            refs.extend(s.movements.iter().take(50).map(|(id, label)| RowRef {
                kind: RowKind::Movement,
                id: id.clone(),
                label: label.clone(),
                anchor: String::new(),
            }));
            out.push(Finding::new(
                Kind::StockLosses,
                &s.store_id,
                score,
                t.loss_ratio,
                format!("{} / {}", s.lost_points, s.redeemed_points),
                s.recorded_by.clone(),
                refs,
            ));
        }
    }
    sort(out)
}

/// Households that earned in every month of the window and never redeemed.
pub fn never_redeem(earners: &[EarnerRow], window_months: i64) -> Vec<Finding> {
    sort(
        earners
            .iter()
            .filter(|e| !e.ever_redeemed && e.months_earning >= window_months)
            .map(|e| {
                Finding::new(
                    Kind::NeverRedeem,
                    &e.household_id,
                    e.points as f64,
                    0.0,
                    format!("{} / {}", e.months_earning, e.points),
                    e.proposers.clone(),
                    vec![household_ref(&e.household_id, &e.head_name)],
                )
            })
            .collect(),
    )
}

/// Hours of the local day, for tests.
#[cfg(test)]
fn at(tz: Tz, day: NaiveDate, h: u32, m: u32, s: u32) -> NaiveDateTime {
    tz.from_local_datetime(&day.and_hms_opt(h, m, s).unwrap())
        .unwrap()
        .naive_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Shanghai as TZ;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 10, d).unwrap()
    }

    fn award(id: &str, hh: &str, village: &str, proposer: &str, points: i64) -> AwardRow {
        AwardRow {
            id: id.into(),
            household_id: hh.into(),
            head_name: format!("户{hh}"),
            area_path: format!("/c/d/t/{village}/"),
            points,
            occurred_on: day(10),
            note: String::new(),
            status: "approved".into(),
            proposed_by: proposer.into(),
            proposed_at: at(TZ, day(11), 9, 0, 0),
            reviewed_by: Some("rev".into()),
            reviewed_at: Some(at(TZ, day(12), 9, 0, 0)),
            helper_id: Some(proposer.into()),
            archived_at: None,
        }
    }

    /// Five officials in one town giving ~5 points per household to 20
    /// households each; `extra` lets a test change one.
    fn town(mut extra: impl FnMut(usize, usize, &mut AwardRow)) -> Vec<AwardRow> {
        let mut out = Vec::new();
        for o in 0..5 {
            for h in 0..20 {
                let mut a = award(
                    &format!("a{o}-{h}"),
                    &format!("h{o}-{h}"),
                    &format!("v{o}"),
                    &format!("o{o}"),
                    4 + (h % 3) as i64,
                );
                extra(o, h, &mut a);
                out.push(a);
            }
        }
        out
    }

    fn t() -> Thresholds {
        Thresholds::default()
    }

    #[test]
    fn the_generous_official_stands_out_of_the_town() {
        let rows = town(|o, _, a| {
            if o == 3 {
                a.points = 30;
            }
        });
        let (out, _) = proposers(&rows, &t());
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].subject, "o3");
        let (none, _) = proposers(&town(|_, _, _| {}), &t());
        assert!(none.is_empty(), "{none:?}");
    }

    #[test]
    fn points_to_a_few_households_are_concentrated() {
        let rows = town(|o, h, a| {
            if o == 1 && h < 2 {
                a.points = 200;
            }
        });
        let (_, out) = proposers(&rows, &t());
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].subject, "o1");
        assert!(out[0].rows.iter().any(|r| r.anchor == "a1-0"));
    }

    #[test]
    fn a_helper_favouring_one_household() {
        let mut rows = town(|_, _, _| {});
        rows[7].points = 80;
        let out = helper_share(&rows, &t());
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].subject, "h0-7");
        // Someone else proposing it is not the helper's doing.
        rows[7].proposed_by = "o4".into();
        assert!(helper_share(&rows, &t()).is_empty());
    }

    #[test]
    fn a_reviewer_who_never_refuses_one_proposer() {
        let mut rows = town(|o, h, a| {
            // The reviewer refuses one in five of the others.
            if o != 2 && h % 5 == 0 {
                a.status = "rejected".into();
            }
        });
        // Volume for the pair.
        for n in 0..40 {
            let mut a = award(&format!("x{n}"), &format!("h2-{}", n % 20), "v2", "o2", 5);
            a.proposed_at += chrono::Duration::minutes(n);
            rows.push(a);
        }
        let out = review_pairs(&rows, &t());
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].subject, "o2|rev");
        assert!((binomial_tail(10, 0, 0.5) - 0.5f64.powi(10)).abs() < 1e-12);
    }

    #[test]
    fn decisions_seconds_apart_are_too_fast() {
        let mut rows = town(|_, _, _| {});
        for (n, a) in rows.iter_mut().enumerate() {
            a.reviewed_at =
                Some(at(TZ, day(12), 9, 0, 0) + chrono::Duration::minutes(n as i64 * 7));
        }
        assert!(fast_reviews(&rows, &t()).is_empty());
        for (n, a) in rows.iter_mut().enumerate().take(40) {
            a.reviewed_by = Some("quick".into());
            a.reviewed_at =
                Some(at(TZ, day(13), 9, 0, 0) + chrono::Duration::seconds(n as i64 * 2));
        }
        let out = fast_reviews(&rows, &t());
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].subject, "quick");
    }

    #[test]
    fn awards_dated_months_back() {
        let mut rows = town(|_, _, _| {});
        rows[3].occurred_on = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let out = backdated(&rows, TZ, &t());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].subject, "o0");
        assert_eq!(out[0].rows[0].anchor, "a0-3");
    }

    #[test]
    fn a_burst_in_the_last_days() {
        let last = day(31);
        let mut rows = town(|o, h, a| {
            a.proposed_at = at(TZ, day(1 + (h as u32 % 28)), 10, 0, 0);
            if o == 4 {
                a.proposed_at = at(TZ, day(30 + (h as u32 % 2)), 10, 0, 0);
            }
        });
        let out = month_end_bursts(&rows, TZ, last, &t());
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].subject, "o4");
        rows.retain(|a| a.proposed_by != "o4");
        assert!(month_end_bursts(&rows, TZ, last, &t()).is_empty());
    }

    #[test]
    fn one_note_copied_to_many_households() {
        let mut rows = town(|o, _, a| {
            if o == 2 {
                a.note = "参加村庄环境整治，表现积极".into();
            }
        });
        rows[0].note = "参加村庄环境整治，表现积极".into();
        let out = copied_notes(&rows, TZ, &t());
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(out[0].subject.starts_with("o2|"));
    }

    #[test]
    fn earning_after_archive() {
        let mut rows = town(|_, _, _| {});
        rows[5].archived_at = Some(at(TZ, day(1), 9, 0, 0));
        rows[6].archived_at = Some(at(TZ, day(20), 9, 0, 0));
        let out = after_archive(&rows);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].subject, rows[5].household_id);
    }

    fn redemption(
        id: usize,
        store: &str,
        hh: &str,
        clerk: &str,
        t: NaiveDateTime,
    ) -> RedemptionRow {
        RedemptionRow {
            id: format!("r{id}"),
            number: format!("DH-{id}"),
            store_id: store.into(),
            household_id: hh.into(),
            head_name: hh.into(),
            clerk_id: Some(clerk.into()),
            total_points: 20,
            status: "completed".into(),
            created_at: t,
        }
    }

    fn counter() -> Vec<RedemptionRow> {
        let mut out = Vec::new();
        for n in 0..200 {
            let s = n % 4;
            out.push(redemption(
                n,
                &format!("s{s}"),
                &format!("h{n}"),
                &format!("c{s}"),
                at(TZ, day(1 + (n as u32 % 28)), 9 + (n as u32 % 7), 0, 0),
            ));
        }
        out
    }

    #[test]
    fn a_clerk_who_voids_often() {
        let mut rows = counter();
        rows[0].status = "void".into();
        assert!(clerk_voids(&rows, TZ, &t()).is_empty());
        for r in rows.iter_mut().filter(|r| r.store_id == "s2").take(8) {
            r.status = "void".into();
        }
        let out = clerk_voids(&rows, TZ, &t());
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].subject, "c2");
    }

    #[test]
    fn hours_read_and_redemptions_at_night() {
        assert_eq!(parse_hours("08:30-17:00"), Some(vec![(510, 1020)]));
        assert_eq!(
            parse_hours("８:00-12:00，14:00-17:30"),
            Some(vec![(480, 720), (840, 1050)])
        );
        assert_eq!(parse_hours("工作日白天"), None);
        let stores: Vec<StoreRow> = (0..4)
            .map(|s| StoreRow {
                id: format!("s{s}"),
                name: format!("店{s}"),
                opening_hours: "08:30-17:00".into(),
            })
            .collect();
        let mut rows = counter();
        assert!(outside_hours(&rows, &stores, TZ, &t()).is_empty());
        rows[9].created_at = at(TZ, day(9), 22, 15, 0);
        let out = outside_hours(&rows, &stores, TZ, &t());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].subject, "r9");
        assert_eq!(out[0].score, 315.0);
    }

    #[test]
    fn one_household_at_two_stores_within_minutes() {
        let mut rows = counter();
        assert!(two_stores(&rows, TZ, &t()).is_empty());
        let t0 = at(TZ, day(5), 10, 0, 0);
        rows.push(redemption(900, "s0", "hx", "c0", t0));
        rows.push(redemption(
            901,
            "s1",
            "hx",
            "c1",
            t0 + chrono::Duration::minutes(12),
        ));
        // The same store twice is a second visit, not a double.
        rows.push(redemption(902, "s0", "hy", "c0", t0));
        rows.push(redemption(
            903,
            "s0",
            "hy",
            "c0",
            t0 + chrono::Duration::minutes(5),
        ));
        let out = two_stores(&rows, TZ, &t());
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].subject, "hx");
    }

    #[test]
    fn rice_to_one_household() {
        let mut lines: Vec<LineRow> = (0..50)
            .map(|n| LineRow {
                redemption_id: format!("r{n}"),
                store_id: "s0".into(),
                household_id: format!("h{n}"),
                head_name: String::new(),
                item_name: "大米".into(),
                quantity: 1 + (n % 2),
                unit_points: 45,
                clerk_id: None,
            })
            .collect();
        assert!(valuable_goods(&lines, &t()).is_empty());
        for n in 0..4 {
            lines.push(LineRow {
                redemption_id: format!("x{n}"),
                store_id: "s0".into(),
                household_id: "hx".into(),
                head_name: String::new(),
                item_name: "大米".into(),
                quantity: 3,
                unit_points: 45,
                clerk_id: None,
            });
        }
        let out = valuable_goods(&lines, &t());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].subject, "hx");
    }

    #[test]
    fn a_store_losing_more_than_the_others() {
        let mut stores: Vec<StoreLosses> = (0..5)
            .map(|s| StoreLosses {
                store_id: format!("s{s}"),
                lost_points: 20 + s,
                redeemed_points: 2000,
                movements: vec![],
                recorded_by: vec![],
            })
            .collect();
        assert!(stock_losses(&stores, &[], &t()).is_empty());
        stores[2].lost_points = 600;
        let out = stock_losses(&stores, &[], &t());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].subject, "s2");
    }

    #[test]
    fn awards_to_a_staff_members_family() {
        let rows = town(|_, _, _| {});
        assert!(staff_related(&rows, &[]).is_empty());
        let rel = |h: &str, how: &str| Relation {
            household_id: h.into(),
            staff_id: "clerk9".into(),
            how: how.into(),
        };
        let out = staff_related(&rows, &[rel("h1-3", "phone"), rel("nobody", "id")]);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].subject, "h1-3");
        assert!(out[0].staff.contains(&"clerk9".to_string()));
        assert!(out[0].staff.contains(&"o1".to_string()));
        assert!(out[0].detail.starts_with("phone"));
    }

    #[test]
    fn earning_every_month_never_redeeming() {
        let e = |id: &str, months, redeemed| EarnerRow {
            household_id: id.into(),
            head_name: String::new(),
            months_earning: months,
            points: 10 * months,
            ever_redeemed: redeemed,
            proposers: vec![],
        };
        let out = never_redeem(&[e("a", 6, false), e("b", 6, true), e("c", 5, false)], 6);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].subject, "a");
    }
}
