//! Running figures for the 12-month sparkline: how many findings each signal
//! had in a past month for an area (`signal_month_counts`). A past month is
//! computed once, when it is first shown or by the daily job, and read back
//! afterwards; figures computed under other thresholds are computed again.
//! The month on the page itself is always computed afresh.

use std::collections::HashMap;

use chrono_tz::Tz;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::{Kind, Thresholds};
use crate::crypto::DataKey;
use crate::db::schema::{areas, signal_month_counts};
use crate::db::{self, Bind, DbConn};
use crate::time::Month;

/// A short fingerprint of the thresholds a figure was computed under
/// (16 hex digits of a SHA-256 over them).
pub fn fingerprint(t: &Thresholds) -> String {
    let digest = Sha256::digest(format!("{t:?}").as_bytes());
    hex::encode(&digest[..8])
}

/// Findings per signal (in `Kind::ALL` order) for each of `months`, for the
/// area: the stored figures computed under these thresholds, and for the
/// other months the signals computed now (then stored; a failure to store
/// only means they are computed again next time).
pub fn counts(
    c: &mut DbConn,
    tz: Tz,
    key: &DataKey,
    area_id: &str,
    area_path: &str,
    months: &[Month],
    t: &Thresholds,
) -> QueryResult<Vec<Vec<usize>>> {
    let print = fingerprint(t);
    let keys: Vec<String> = months.iter().map(|m| m.to_string()).collect();
    let stored: Vec<(String, String, i64)> = signal_month_counts::table
        .filter(signal_month_counts::area_id.eq(area_id))
        .filter(signal_month_counts::month.eq_any(&keys))
        .filter(signal_month_counts::thresholds.eq(&print))
        .select((
            signal_month_counts::month,
            signal_month_counts::kind,
            signal_month_counts::findings,
        ))
        .load(c)?;
    let mut by_month: HashMap<String, HashMap<String, i64>> = HashMap::new();
    for (m, k, n) in stored {
        by_month.entry(m).or_default().insert(k, n);
    }
    // Only a month that is over is kept: the current one still changes.
    let current = Month::of(crate::time::today(tz));
    let mut out = Vec::with_capacity(months.len());
    let mut fresh: Vec<(Month, Vec<usize>)> = Vec::new();
    for (m, month_key) in months.iter().zip(&keys) {
        let known = by_month.get(month_key).and_then(|kinds| {
            Kind::ALL
                .iter()
                .map(|k| kinds.get(k.as_str()).map(|n| *n as usize))
                .collect::<Option<Vec<usize>>>()
        });
        let row = match known {
            Some(row) => row,
            None => {
                let row: Vec<usize> = super::compute_month(c, tz, key, area_path, *m, t)?
                    .iter()
                    .map(|f| f.len())
                    .collect();
                if *m < current {
                    fresh.push((*m, row.clone()));
                }
                row
            }
        };
        out.push(row);
    }
    if !fresh.is_empty()
        && let Err(e) = store(c, area_id, &print, &fresh)
    {
        tracing::warn!(error = %e, area_id, "signal figures not stored");
    }
    Ok(out)
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

/// Compute again and store `month`'s figures for every area that has
/// figures stored for it, and for the top areas (the city): what the daily
/// job runs for the month just past, whose late reviews and voids can still
/// change it. Returns the areas refreshed.
pub fn refresh(c: &mut DbConn, tz: Tz, key: &DataKey, month: Month) -> QueryResult<usize> {
    let t = Thresholds::load(c)?;
    let print = fingerprint(&t);
    let mut ids: Vec<String> = signal_month_counts::table
        .filter(signal_month_counts::month.eq(month.to_string()))
        .select(signal_month_counts::area_id)
        .distinct()
        .load(c)?;
    let tops: Vec<String> = areas::table
        .filter(areas::parent_id.is_null())
        .select(areas::id)
        .load(c)?;
    for id in tops {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let paths: Vec<(String, String)> = areas::table
        .filter(areas::id.eq_any(&ids))
        .select((areas::id, areas::path))
        .load(c)?;
    for (id, path) in &paths {
        let row: Vec<usize> = super::compute_month(c, tz, key, path, month, &t)?
            .iter()
            .map(|f| f.len())
            .collect();
        store(c, id, &print, &[(month, row)])?;
    }
    Ok(paths.len())
}

/// Forget every stored figure and compute the last `months` months before
/// the current one again for the top areas (`aixin signals rebuild`).
/// Returns the months computed.
pub fn rebuild(c: &mut DbConn, tz: Tz, key: &DataKey, months: usize) -> QueryResult<usize> {
    diesel::delete(signal_month_counts::table).execute(c)?;
    let mut m = Month::of(crate::time::today(tz));
    for _ in 0..months {
        m = m.prev();
        refresh(c, tz, key, m)?;
    }
    Ok(months)
}

/// The daily job: once per day (claimed as `signals:<day>` by whichever
/// server comes first), refresh the month just past (`refresh`). Returns
/// the areas refreshed, or None when the day was already claimed; a failed
/// run gives the day back and is recorded for the operations page.
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
    match refresh(c, tz, key, Month::of(day).prev()) {
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
