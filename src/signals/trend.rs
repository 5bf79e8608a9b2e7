//! Running figures for the 12-month sparkline: how many findings each signal
//! had in a past month for an area (`signal_month_counts`). Only the
//! scheduled and explicit paths write them: the daily job (the month just
//! past again, and any of the months before it missing under the thresholds
//! in force), and `aixin signals rebuild`. They are kept for the areas from
//! the top down to districts (`kept_areas`). Showing the page never writes:
//! a month without figures (a town, a village, or right after a threshold
//! changed) is computed in memory for that view. The month on the page
//! itself is always computed afresh.

use std::collections::{BTreeMap, HashMap};

use chrono_tz::Tz;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::{Kind, Thresholds};
use crate::crypto::DataKey;
use crate::db::schema::{areas, signal_month_counts};
use crate::db::{self, Bind, DbConn};
use crate::time::Month;

/// Months of figures the page's sparkline reads before the month shown.
pub const MONTHS_BEFORE: usize = 11;

/// A short fingerprint of the thresholds a figure was computed under
/// (16 hex digits of a SHA-256 over them).
pub fn fingerprint(t: &Thresholds) -> String {
    let digest = Sha256::digest(format!("{t:?}").as_bytes());
    hex::encode(&digest[..8])
}

/// Findings per signal (in `Kind::ALL` order) for each of `months`, for the
/// area: the stored figures computed under these thresholds, and for the
/// other months the signals computed now, in memory. Reads only: nothing
/// is stored (see the module's note for who stores them).
pub fn counts(
    c: &mut DbConn,
    tz: Tz,
    key: &DataKey,
    area_id: &str,
    area_path: &str,
    months: &[Month],
    t: &Thresholds,
) -> QueryResult<Vec<Vec<usize>>> {
    let stored = stored(c, area_id, months, &fingerprint(t))?;
    let mut out = Vec::with_capacity(months.len());
    for m in months {
        let row = match stored.get(m) {
            Some(row) => row.clone(),
            None => computed(c, tz, key, area_path, *m, t)?,
        };
        out.push(row);
    }
    Ok(out)
}

/// The complete stored rows (one figure per signal) of these months for the
/// area, computed under the thresholds with this fingerprint.
fn stored(
    c: &mut DbConn,
    area_id: &str,
    months: &[Month],
    print: &str,
) -> QueryResult<BTreeMap<Month, Vec<usize>>> {
    let keys: Vec<String> = months.iter().map(|m| m.to_string()).collect();
    let rows: Vec<(String, String, i64)> = signal_month_counts::table
        .filter(signal_month_counts::area_id.eq(area_id))
        .filter(signal_month_counts::month.eq_any(&keys))
        .filter(signal_month_counts::thresholds.eq(print))
        .select((
            signal_month_counts::month,
            signal_month_counts::kind,
            signal_month_counts::findings,
        ))
        .load(c)?;
    let mut by_month: HashMap<String, HashMap<String, i64>> = HashMap::new();
    for (m, k, n) in rows {
        by_month.entry(m).or_default().insert(k, n);
    }
    Ok(months
        .iter()
        .zip(&keys)
        .filter_map(|(m, month_key)| {
            let kinds = by_month.get(month_key)?;
            let row = Kind::ALL
                .iter()
                .map(|k| kinds.get(k.as_str()).map(|n| *n as usize))
                .collect::<Option<Vec<usize>>>()?;
            Some((*m, row))
        })
        .collect())
}

/// A month's findings per signal, computed now.
fn computed(
    c: &mut DbConn,
    tz: Tz,
    key: &DataKey,
    area_path: &str,
    month: Month,
    t: &Thresholds,
) -> QueryResult<Vec<usize>> {
    Ok(super::compute_month(c, tz, key, area_path, month, t)?
        .iter()
        .map(|f| f.len())
        .collect())
}

/// The areas whose figures are kept, as (id, path): every area from the top
/// down to districts (the pages most looked at, and the dearest to compute),
/// and any other area that has figures stored already.
pub fn kept_areas(c: &mut DbConn) -> QueryResult<Vec<(String, String)>> {
    let with_figures: Vec<String> = signal_month_counts::table
        .select(signal_month_counts::area_id)
        .distinct()
        .load(c)?;
    let mut kept: Vec<(String, String)> = areas::table
        .filter(
            areas::level
                .eq_any(["province", "city", "district"])
                .or(areas::parent_id.is_null())
                .or(areas::id.eq_any(&with_figures)),
        )
        .select((areas::id, areas::path))
        .load(c)?;
    kept.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(kept)
}

/// Store (or replace) the figures of some months for an area.
fn store(
    c: &mut DbConn,
    area_id: &str,
    print: &str,
    rows: &[(Month, Vec<usize>)],
) -> QueryResult<()> {
    let now = db::now();
    db::write_tx(c, |c| {
        for (m, row) in rows {
            for (k, n) in Kind::ALL.iter().zip(row) {
                db::execute(
                    c,
                    "INSERT INTO signal_month_counts (month, area_id, kind, findings, thresholds, computed_at)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (month, area_id, kind) DO UPDATE SET findings = excluded.findings,
                       thresholds = excluded.thresholds, computed_at = excluded.computed_at",
                    &[
                        Bind::Text(m.to_string()),
                        Bind::Text(area_id.to_string()),
                        Bind::Text(k.as_str().to_string()),
                        Bind::Int(*n as i64),
                        Bind::Text(print.to_string()),
                        Bind::Ts(now),
                    ],
                )?;
            }
        }
        Ok(())
    })
}

/// Compute again and store `month`'s figures for every kept area
/// (`kept_areas`): what the daily job runs for the month just past, whose
/// late reviews and voids can still change it. Returns the areas refreshed.
pub fn refresh(c: &mut DbConn, tz: Tz, key: &DataKey, month: Month) -> QueryResult<usize> {
    let t = Thresholds::load(c)?;
    let print = fingerprint(&t);
    let kept = kept_areas(c)?;
    for (id, path) in &kept {
        let row = computed(c, tz, key, path, month, &t)?;
        store(c, id, &print, &[(month, row)])?;
    }
    Ok(kept.len())
}

/// Compute and store the figures of `months` for every kept area that has
/// none under the thresholds in force (first run, a new district, a
/// threshold changed); figures already there are left as they are. Returns
/// the (area, month) figures computed.
pub fn fill(c: &mut DbConn, tz: Tz, key: &DataKey, months: &[Month]) -> QueryResult<usize> {
    let t = Thresholds::load(c)?;
    let print = fingerprint(&t);
    let mut n = 0;
    for (id, path) in kept_areas(c)? {
        let have = stored(c, &id, months, &print)?;
        for m in months.iter().filter(|m| !have.contains_key(*m)) {
            let row = computed(c, tz, key, &path, *m, &t)?;
            store(c, &id, &print, &[(*m, row)])?;
            n += 1;
        }
    }
    Ok(n)
}

/// The `n` months before `month`, oldest first.
pub fn months_before(month: Month, n: usize) -> Vec<Month> {
    let mut out = Vec::with_capacity(n);
    let mut m = month;
    for _ in 0..n {
        m = m.prev();
        out.push(m);
    }
    out.reverse();
    out
}

/// Forget every stored figure and compute the last `months` months before
/// the current one again for every kept area (`aixin signals rebuild`).
/// Returns the months computed.
pub fn rebuild(c: &mut DbConn, tz: Tz, key: &DataKey, months: usize) -> QueryResult<usize> {
    diesel::delete(signal_month_counts::table).execute(c)?;
    let current = Month::of(crate::time::today(tz));
    for m in months_before(current, months).into_iter().rev() {
        refresh(c, tz, key, m)?;
    }
    Ok(months)
}

/// The daily job: once per day (claimed as `signals:<day>` by whichever
/// server comes first), refresh the month just past (`refresh`), then fill
/// in the figures missing for the months before it that the page's
/// sparkline reads (`fill`). Returns the areas refreshed, or None when the
/// day was already claimed; a failed run gives the day back and is
/// recorded for the operations page.
pub fn daily(
    c: &mut DbConn,
    tz: Tz,
    key: &DataKey,
    day: chrono::NaiveDate,
) -> QueryResult<Option<usize>> {
    let claim = format!("signals:{day}");
    if !crate::settings::claim(c, &claim) {
        return Ok(None);
    }
    let past = Month::of(day).prev();
    let run = refresh(c, tz, key, past)
        .and_then(|n| fill(c, tz, key, &months_before(past, MONTHS_BEFORE - 1)).map(|_| n));
    match run {
        Ok(n) => Ok(Some(n)),
        Err(e) => {
            crate::settings::release(c, &claim)?;
            crate::operations::record_run(
                c,
                "signals",
                "",
                &[crate::operations::store_message(
                    "",
                    "ops.job_failed",
                    &[("why", e.to_string())],
                )],
            )?;
            Err(e)
        }
    }
}
