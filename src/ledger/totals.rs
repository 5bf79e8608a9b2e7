//! Monthly totals of the points ledger, per village: kept by the posting that
//! writes each entry, in the same transaction, so that reports over a whole
//! city read a few thousand rows instead of millions of entries. Points count
//! in the village the household belonged to when they were posted; a move to
//! another village carries the balance over (move_out, move_in), so that the
//! totals of an area always add up to the balances of its households.

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use diesel::prelude::*;

use crate::db::{self, Bind, DbConn};
use crate::time::Month;
use std::collections::HashMap;

use crate::db::schema::{awards, household_months, households, point_month_totals, rules};

/// Kinds that exist only in the totals: a household's balance leaving one
/// village and arriving in another.
pub const MOVE_OUT: &str = "move_out";
pub const MOVE_IN: &str = "move_in";
/// Counters with no points: households taking part in the month (earned or
/// redeemed), and those doing so for the first time ever.
pub const PARTICIPANT: &str = "participant";
pub const FIRST_TIME: &str = "first_time";
/// Counters of awards (no points): proposed in the month, and decided in it
/// (approved, or rejected), in the household's village at the time.
pub const PROPOSED: &str = "proposed";
pub const APPROVED: &str = "approved";
pub const REJECTED: &str = "rejected";
/// Counter with no points: households with a redemption of the month still
/// standing (`redeemer_totals`).
pub const REDEEMER: &str = "redeemer";
/// The kinds that count things rather than points.
pub const COUNTERS: [&str; 6] = [
    PARTICIPANT,
    FIRST_TIME,
    PROPOSED,
    APPROVED,
    REJECTED,
    REDEEMER,
];

/// "2026-11" for a day in November 2026.
pub fn month_key(day: NaiveDate) -> String {
    format!("{:04}-{:02}", day.year(), day.month())
}

/// Add one posting's effect on a household's account to its village's
/// month. `signed` is from the household's side (+ earned, - spent).
pub fn record(
    conn: &mut DbConn,
    household_id: &str,
    posted_on: NaiveDate,
    kind: &str,
    ref_id: &str,
    signed: i64,
) -> QueryResult<()> {
    let Some(area_id) = village_of(conn, household_id)? else {
        // Not a household we know: nothing to count it under.
        return Ok(());
    };
    let category = if kind == "award" {
        awards::table
            .inner_join(rules::table.on(rules::id.eq(awards::rule_id)))
            .filter(awards::id.eq(ref_id))
            .select(rules::category_id)
            .first::<String>(conn)
            .optional()?
            .unwrap_or_default()
    } else {
        String::new()
    };
    let month = month_key(posted_on);
    add(conn, &month, &area_id, kind, &category, signed, 1)?;
    if kind == "award" || kind == "redemption" {
        let new = db::execute(
            conn,
            "INSERT INTO household_months (month, household_id, area_id) VALUES ($1, $2, $3)
             ON CONFLICT (month, household_id) DO NOTHING",
            &[
                Bind::Text(month.clone()),
                Bind::Text(household_id.to_string()),
                Bind::Text(area_id.clone()),
            ],
        )?;
        if new == 1 {
            count_participant(conn, household_id, &month, &area_id)?;
            super::quiet::took_part(conn, household_id, &month)?;
        }
    }
    Ok(())
}

/// A household took part in a month for the first time: count it in its
/// village's month, and as a first-timer if it never took part before (a
/// month dated earlier than one counted as its first takes that over).
fn count_participant(
    conn: &mut DbConn,
    household_id: &str,
    month: &str,
    area_id: &str,
) -> QueryResult<()> {
    add(conn, month, area_id, PARTICIPANT, "", 0, 1)?;
    let first: Option<(String, String)> = household_months::table
        .filter(household_months::household_id.eq(household_id))
        .filter(household_months::month.ne(month))
        .order(household_months::month)
        .select((household_months::month, household_months::area_id))
        .first(conn)
        .optional()?;
    match first {
        Some((m, _)) if m.as_str() < month => Ok(()),
        Some((m, area)) => {
            add(conn, &m, &area, FIRST_TIME, "", 0, -1)?;
            add(conn, month, area_id, FIRST_TIME, "", 0, 1)
        }
        None => add(conn, month, area_id, FIRST_TIME, "", 0, 1),
    }
}

/// Add `signed` points and `entries` to a village's month under a kind (and
/// category): one upsert; and, for points dated into an open month before
/// a closed one (rare: the month read is usually the current one, after
/// every close), to the village's closings of the closed months from it on
/// (`keep_closings`), which nothing else changes.
pub(super) fn add(
    conn: &mut DbConn,
    month: &str,
    area_id: &str,
    kind: &str,
    category: &str,
    signed: i64,
    entries: i64,
) -> QueryResult<()> {
    let sql = "INSERT INTO point_month_totals (month, area_id, kind, category_id, points, entries)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (month, area_id, kind, category_id)
               DO UPDATE SET points = point_month_totals.points + excluded.points,
                             entries = point_month_totals.entries + excluded.entries";
    db::execute(
        conn,
        sql,
        &[
            Bind::Text(month.to_string()),
            Bind::Text(area_id.to_string()),
            Bind::Text(kind.to_string()),
            Bind::Text(category.to_string()),
            Bind::Int(signed),
            Bind::Int(entries),
        ],
    )?;
    if signed != 0 {
        db::execute(
            conn,
            "INSERT INTO village_closings (area_id, month, points)
             SELECT $1, c.month, CAST($2 AS BIGINT) FROM month_closes c WHERE c.month >= $3
             ON CONFLICT (area_id, month)
             DO UPDATE SET points = village_closings.points + excluded.points",
            &[
                Bind::Text(area_id.to_string()),
                Bind::Int(signed),
                Bind::Text(month.to_string()),
            ],
        )?;
    }
    Ok(())
}

/// Each village's balance at the end of every closed month: the sum of its
/// months up to and including it.
const CLOSINGS: &str = "SELECT t.area_id AS area_id, c.month AS month,
                               CAST(SUM(t.points) AS BIGINT) AS points
                          FROM month_closes c JOIN point_month_totals t ON t.month <= c.month
                         GROUP BY t.area_id, c.month";

/// Keep each village's balance at the end of `month`, which is being
/// closed, so that the opening of a later month is this plus the months
/// between (`reports`). Written once per close, inside its transaction
/// (which holds the ledgers, so no posting runs meanwhile): no posting
/// writes these rows, except one dated into an open month before a closed
/// one (`add`). And every area's trend figures of the month (points
/// awarded and redeemed, households taking part), which nothing changes
/// once the month is closed, for the summary's trend.
///
/// Errors: the database's.
pub fn keep_closings(conn: &mut DbConn, month: Month) -> QueryResult<()> {
    forget_closings(conn, month)?;
    db::execute(
        conn,
        "INSERT INTO village_closings (area_id, month, points)
         SELECT area_id, $1, CAST(SUM(points) AS BIGINT) FROM point_month_totals
          WHERE month <= $1 GROUP BY area_id",
        &[Bind::Text(month.to_string())],
    )?;
    keep_area_figures(conn, &month.to_string())
}

/// Keep every area's trend figures of `month` ("YYYY-MM"), a closed month.
fn keep_area_figures(conn: &mut DbConn, month: &str) -> QueryResult<()> {
    for (area_id, f) in area_figures(conn, month)? {
        db::execute(
            conn,
            "INSERT INTO area_closings (area_id, month, awarded, redeemed, taking_part)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                Bind::Text(area_id),
                Bind::Text(month.to_string()),
                Bind::Int(f[0]),
                Bind::Int(f[1]),
                Bind::Int(f[2]),
            ],
        )?;
    }
    Ok(())
}

/// The trend's figures of one village's month, summed from its totals:
/// points awarded, points redeemed (net of voids, as a positive number)
/// and households taking part.
pub const TREND_FIGURES: &str = "CAST(COALESCE(SUM(CASE WHEN t.kind = 'award' THEN t.points ELSE 0 END), 0) AS BIGINT) AS awarded,
     CAST(COALESCE(SUM(CASE WHEN t.kind IN ('redemption', 'redemption_void') THEN -t.points ELSE 0 END), 0) AS BIGINT) AS redeemed,
     CAST(COALESCE(SUM(CASE WHEN t.kind = 'participant' THEN t.entries ELSE 0 END), 0) AS BIGINT) AS taking_part";

/// The kinds `TREND_FIGURES` reads.
pub const TREND_KINDS: &str = "'award', 'redemption', 'redemption_void', 'participant'";

#[derive(diesel::QueryableByName)]
struct TrendFigures {
    #[diesel(sql_type = diesel::sql_types::Text)]
    area_id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    awarded: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    redeemed: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    taking_part: i64,
}

/// Every area's trend figures of `month` ("YYYY-MM"): each village's, and
/// each area above a village the sum of its villages' (an area's path
/// names its ancestors). Areas with nothing in the month are left out.
fn area_figures(conn: &mut DbConn, month: &str) -> QueryResult<HashMap<String, [i64; 3]>> {
    let villages: Vec<TrendFigures> = db::load(
        conn,
        &format!(
            "SELECT t.area_id AS area_id, {TREND_FIGURES}
               FROM point_month_totals t
              WHERE t.month = $1 AND t.kind IN ({TREND_KINDS})
              GROUP BY t.area_id"
        ),
        &[Bind::Text(month.to_string())],
    )?;
    let paths: HashMap<String, String> = {
        use crate::db::schema::areas;
        areas::table
            .select((areas::id, areas::path))
            .load::<(String, String)>(conn)?
            .into_iter()
            .collect()
    };
    let mut out: HashMap<String, [i64; 3]> = HashMap::new();
    for v in villages {
        let Some(path) = paths.get(&v.area_id) else {
            continue;
        };
        for area in path.split('/').filter(|s| !s.is_empty()) {
            let f = out.entry(area.to_string()).or_default();
            f[0] += v.awarded;
            f[1] += v.redeemed;
            f[2] += v.taking_part;
        }
    }
    out.retain(|_, f| *f != [0; 3]);
    Ok(out)
}

/// An area (with everything below it) was put under `to` instead of
/// `from` (None: it was a root): its kept trend figures of the closed
/// months leave the old ancestor and join the new one, whose figures are
/// sums over their paths. Inside the transaction that rewrites the paths.
///
/// Errors: the database's.
pub fn move_area_closings(
    conn: &mut DbConn,
    area_id: &str,
    from: Option<&str>,
    to: &str,
) -> QueryResult<()> {
    let moves = from.map(|f| (f, -1)).into_iter().chain([(to, 1)]);
    for (ancestor, sign) in moves {
        db::execute(
            conn,
            "INSERT INTO area_closings (area_id, month, awarded, redeemed, taking_part)
             SELECT $1, k.month, $3 * k.awarded, $3 * k.redeemed, $3 * k.taking_part
               FROM area_closings k WHERE k.area_id = $2
             ON CONFLICT (area_id, month)
             DO UPDATE SET awarded = area_closings.awarded + excluded.awarded,
                           redeemed = area_closings.redeemed + excluded.redeemed,
                           taking_part = area_closings.taking_part + excluded.taking_part",
            &[
                Bind::Text(ancestor.to_string()),
                Bind::Text(area_id.to_string()),
                Bind::Int(sign),
            ],
        )?;
    }
    Ok(())
}

/// Make every area's trend figures of every closed month again (after the
/// migration that adds them, and by `rebuild`). Inside the caller's
/// transaction.
///
/// Errors: the database's.
pub fn rebuild_area_closings(conn: &mut DbConn) -> QueryResult<()> {
    use crate::db::schema::month_closes;
    db::execute(conn, "DELETE FROM area_closings", &[])?;
    let closed: Vec<String> = month_closes::table.select(month_closes::month).load(conn)?;
    for month in closed {
        keep_area_figures(conn, &month)?;
    }
    Ok(())
}

/// Compare the areas' kept trend figures of the closed months with those
/// their villages' totals give: each (month, what, kept, made) that
/// differs, for each of the three figures, `what` naming the table, the
/// figure and the area.
///
/// Errors: the database's.
pub(crate) fn compare_area_closings(
    conn: &mut DbConn,
) -> QueryResult<Vec<(String, String, i64, i64)>> {
    use crate::db::schema::{area_closings as k, month_closes};
    let kept_rows: Vec<(String, String, i64, i64, i64)> = k::table
        .select((
            k::area_id,
            k::month,
            k::awarded,
            k::redeemed,
            k::taking_part,
        ))
        .load(conn)?;
    let kept = super::kept::keyed(kept_rows, |(area, month, a, r, p)| {
        ((month, area), [a, r, p])
    });
    let mut made: HashMap<(String, String), [i64; 3]> = HashMap::new();
    let closed: Vec<String> = month_closes::table.select(month_closes::month).load(conn)?;
    for month in closed {
        for (area, f) in area_figures(conn, &month)? {
            made.insert((month.clone(), area), f);
        }
    }
    let mut out = Vec::new();
    for d in super::kept::differences(&kept, &made) {
        for (i, figure) in ["awarded", "redeemed", "taking_part"].iter().enumerate() {
            if d.kept[i] != d.made[i] {
                out.push((
                    d.key.0.clone(),
                    format!("area_closings {figure} area {}", d.key.1),
                    d.kept[i],
                    d.made[i],
                ));
            }
        }
    }
    Ok(out)
}

/// Forget the villages' closings, and the areas' trend figures, of a month
/// that is reopened.
///
/// Errors: the database's.
pub fn forget_closings(conn: &mut DbConn, month: Month) -> QueryResult<()> {
    for table in ["village_closings", "area_closings"] {
        db::execute(
            conn,
            &format!("DELETE FROM {table} WHERE month = $1"),
            &[Bind::Text(month.to_string())],
        )?;
    }
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Closing {
    #[diesel(sql_type = diesel::sql_types::Text)]
    area_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    month: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    points: i64,
}

/// Compare the villages' kept closings with the sums of their months:
/// each (month, what, kept, summed) that differs, `what` naming the table
/// and the village.
///
/// Errors: the database's.
pub(crate) fn compare_closings(conn: &mut DbConn) -> QueryResult<Vec<(String, String, i64, i64)>> {
    let by_key =
        |rows: Vec<Closing>| super::kept::keyed(rows, |r| ((r.month, r.area_id), r.points));
    let kept = by_key(db::load(
        conn,
        "SELECT area_id, month, points FROM village_closings",
        &[],
    )?);
    let summed = by_key(db::load(conn, CLOSINGS, &[])?);
    Ok(super::kept::differences(&kept, &summed)
        .into_iter()
        .map(|d| {
            (
                d.key.0,
                format!("village_closings village {}", d.key.1),
                d.kept,
                d.made,
            )
        })
        .collect())
}

#[derive(diesel::QueryableByName)]
struct VillageSum {
    #[diesel(sql_type = diesel::sql_types::Text)]
    area_id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    points: i64,
}

/// Compare each village's months, summed over all time, with the balances
/// of the households in it now (moves carry a balance from one village to
/// the other, so the two agree): each ("all", what, kept, balances) that
/// differs, `what` naming the table and the village. Catches a posting
/// counted in a village its household had already left.
///
/// Errors: the database's.
pub(crate) fn compare_villages(conn: &mut DbConn) -> QueryResult<Vec<(String, String, i64, i64)>> {
    let by_area = |rows: Vec<VillageSum>| super::kept::keyed(rows, |r| (r.area_id, r.points));
    let kept = by_area(db::load(
        conn,
        "SELECT area_id, CAST(SUM(points) AS BIGINT) AS points
           FROM point_month_totals GROUP BY area_id",
        &[],
    )?);
    let balances = by_area(db::load(
        conn,
        "SELECT h.area_id AS area_id, CAST(SUM(b.balance) AS BIGINT) AS points
           FROM households h JOIN point_balances b ON b.account = 'household:' || h.id
          GROUP BY h.area_id",
        &[],
    )?);
    Ok(super::kept::differences(&kept, &balances)
        .into_iter()
        .map(|d| {
            (
                "all".to_string(),
                format!("point_month_totals village {}", d.key),
                d.kept,
                d.made,
            )
        })
        .collect())
}

/// Count an award as proposed, approved or rejected (`by` -1 takes one
/// back) in its household's village, in the month of `day`. Inside the
/// transaction that changes the award.
pub fn count_award(
    conn: &mut DbConn,
    household_id: &crate::domain::HouseholdId,
    day: NaiveDate,
    counter: &str,
    by: i64,
) -> QueryResult<()> {
    let Some(area_id) = village_of(conn, household_id)? else {
        return Ok(());
    };
    add(conn, &month_key(day), &area_id, counter, "", 0, by)
}

/// The village a household belongs to now (None: no such household).
fn village_of(conn: &mut DbConn, household_id: &str) -> QueryResult<Option<String>> {
    households::table
        .find(household_id)
        .select(households::area_id)
        .first::<String>(conn)
        .optional()
}

/// A household moved from one village to another on `day`: its balance
/// moves with it, and so do its redemptions' totals
/// (`redemption_totals::shift`) and the months it counts as having
/// redeemed in (`redeemer_totals::shift`). Call inside the transaction that
/// changes its area.
pub fn record_move(
    conn: &mut DbConn,
    household_id: &str,
    from_area: &str,
    to_area: &str,
    day: NaiveDate,
) -> QueryResult<()> {
    if from_area == to_area {
        return Ok(());
    }
    // Wait for any posting to this household in flight (it holds the
    // balance row from its debit or credit until it commits), and keep
    // later ones waiting until the move commits: each then sees the
    // village it was posted in, and the balance moved is the one it left.
    super::lock_account(conn, &super::household_account(household_id))?;
    super::redemption_totals::shift(conn, household_id, from_area, to_area)?;
    super::redeemer_totals::shift(conn, household_id, to_area)?;
    let balance = super::balance(conn, &super::household_account(household_id))?;
    if balance == 0 {
        return Ok(());
    }
    let month = month_key(day);
    add(conn, &month, from_area, MOVE_OUT, "", -balance, 1)?;
    add(conn, &month, to_area, MOVE_IN, "", balance, 1)
}

/// Compare the totals with what the entries say, by (month, kind): the
/// (month, kind, totals, entries) that differ. Moves only shift points
/// between villages: in each month they must add up to nothing.
pub(crate) fn compare(
    conn: &mut DbConn,
    from_entries: HashMap<(String, String), i64>,
) -> QueryResult<Vec<(String, String, i64, i64)>> {
    let rows: Vec<(String, String, i64)> = point_month_totals::table
        .filter(point_month_totals::kind.ne_all(COUNTERS))
        .select((
            point_month_totals::month,
            point_month_totals::kind,
            point_month_totals::points,
        ))
        .load(conn)?;
    let mut kept: HashMap<(String, String), i64> = HashMap::new();
    for (month, kind, points) in rows {
        let kind = if kind == MOVE_IN || kind == MOVE_OUT {
            "move".to_string()
        } else {
            kind
        };
        *kept.entry((month, kind)).or_default() += points;
    }
    let mut keys: Vec<&(String, String)> = kept.keys().chain(from_entries.keys()).collect();
    keys.sort();
    keys.dedup();
    Ok(keys
        .into_iter()
        .filter_map(|k| {
            let (a, b) = (
                kept.get(k).copied().unwrap_or(0),
                from_entries.get(k).copied().unwrap_or(0),
            );
            (a != b).then(|| (k.0.clone(), k.1.clone(), a, b))
        })
        .collect())
}

/// Make the totals again from the entries (with the villages' closings of
/// the closed months, and the goods, redemption and redeemer totals from
/// the movements and redemptions), for whoever wrote entries in bulk
/// without posting them one by one (households in the village they are in
/// now; months cut in the scheme's time zone). Inside the caller's
/// transaction.
pub fn rebuild(conn: &mut DbConn, tz: Tz) -> QueryResult<()> {
    let month = match conn {
        DbConn::Sqlite(_) => "strftime('%Y-%m', x.posted_on)",
        DbConn::Pg(_) => "to_char(x.posted_on, 'YYYY-MM')",
    };
    let sides = "(SELECT posted_on, kind, ref_id, amount AS signed, credit AS acct FROM point_entries WHERE credit LIKE 'household:%'
                  UNION ALL
                  SELECT posted_on, kind, ref_id, -amount, debit FROM point_entries WHERE debit LIKE 'household:%') x";
    for sql in [
        "DELETE FROM point_month_totals".to_string(),
        "DELETE FROM household_months".to_string(),
        format!(
            "INSERT INTO point_month_totals (month, area_id, kind, category_id, points, entries)
             SELECT {month}, h.area_id, x.kind,
                    COALESCE(CASE WHEN x.kind = 'award' THEN
                        (SELECT r.category_id FROM awards aw JOIN rules r ON r.id = aw.rule_id WHERE aw.id = x.ref_id)
                    END, ''),
                    SUM(x.signed), COUNT(*)
               FROM {sides} JOIN households h ON h.id = SUBSTR(x.acct, 11)
              GROUP BY 1, 2, 3, 4"
        ),
        format!(
            "INSERT INTO household_months (month, household_id, area_id)
             SELECT DISTINCT {month}, h.id, h.area_id
               FROM {sides} JOIN households h ON h.id = SUBSTR(x.acct, 11)
              WHERE x.kind IN ('award', 'redemption')"
        ),
        format!(
            "INSERT INTO point_month_totals (month, area_id, kind, category_id, points, entries)
             SELECT month, area_id, '{PARTICIPANT}', '', 0, COUNT(*) FROM household_months GROUP BY month, area_id"
        ),
        "DELETE FROM village_closings".to_string(),
        format!(
            "INSERT INTO village_closings (area_id, month, points)
             SELECT area_id, month, points FROM ({CLOSINGS}) x"
        ),
        format!(
            "INSERT INTO point_month_totals (month, area_id, kind, category_id, points, entries)
             SELECT hm.month, hm.area_id, '{FIRST_TIME}', '', 0, COUNT(*)
               FROM household_months hm
              WHERE NOT EXISTS (SELECT 1 FROM household_months p
                                 WHERE p.household_id = hm.household_id AND p.month < hm.month)
              GROUP BY hm.month, hm.area_id"
        ),
    ] {
        diesel::sql_query(sql).execute(conn)?;
    }
    count_awards(conn, tz)?;
    rebuild_area_closings(conn)?;
    super::quiet::rebuild(conn)?;
    // The summary's other running totals.
    super::goods_totals::rebuild(conn)?;
    super::redemption_totals::rebuild(conn)?;
    super::redeemer_totals::rebuild(conn)
}

/// The award counters from the awards themselves, one month at a time.
fn count_awards(conn: &mut DbConn, tz: Tz) -> QueryResult<()> {
    use diesel::dsl::{max, min};
    let (first, last_proposed, last_reviewed): (
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
    ) = awards::table
        .select((
            min(awards::proposed_at),
            max(awards::proposed_at),
            max(awards::reviewed_at),
        ))
        .first(conn)?;
    let Some(first) = first else {
        return Ok(());
    };
    let local = |t: NaiveDateTime| tz.from_utc_datetime(&t).date_naive();
    let last = last_proposed.max(last_reviewed).unwrap_or(first);
    let (mut month, last) = (Month::of(local(first)), Month::of(local(last)));
    while month <= last {
        let binds = [
            Bind::Text(month.to_string()),
            Bind::Ts(crate::time::local_day_start_utc(month.first_day(), tz)),
            Bind::Ts(crate::time::local_day_start_utc(month.end_day(), tz)),
        ];
        db::execute(
            conn,
            &format!(
                "INSERT INTO point_month_totals (month, area_id, kind, category_id, points, entries)
                 SELECT $1, h.area_id, '{PROPOSED}', '', 0, COUNT(*)
                   FROM awards aw JOIN households h ON h.id = aw.household_id
                  WHERE aw.proposed_at >= $2 AND aw.proposed_at < $3
                  GROUP BY h.area_id"
            ),
            &binds,
        )?;
        db::execute(
            conn,
            &format!(
                "INSERT INTO point_month_totals (month, area_id, kind, category_id, points, entries)
                 SELECT $1, h.area_id,
                        CASE WHEN aw.status = 'rejected' THEN '{REJECTED}' ELSE '{APPROVED}' END,
                        '', 0, COUNT(*)
                   FROM awards aw JOIN households h ON h.id = aw.household_id
                  WHERE aw.reviewed_at >= $2 AND aw.reviewed_at < $3
                    AND aw.status IN ('approved', 'noticed', 'rejected', 'reversed')
                  GROUP BY h.area_id, CASE WHEN aw.status = 'rejected' THEN '{REJECTED}' ELSE '{APPROVED}' END"
            ),
            &binds,
        )?;
        month = month.next();
    }
    Ok(())
}
