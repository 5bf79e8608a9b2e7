//! The scheduled jobs (points expiry, retention of personal data, the
//! daily run and the housekeeping loop that starts it), and their commands.

use super::*;

pub(super) fn expire(config: &Config, pool: &DbPool, as_of: Option<String>) -> Result<(), String> {
    use crate::points::expiry;
    let lang = console_lang();
    let as_of = match as_of {
        Some(s) => crate::points::parse_date("field.as_of", &s)
            .map_err(|e| i18n::field_error(lang, &e))?
            .ok_or_else(|| {
                i18n::field_error(
                    lang,
                    &crate::domain::FieldError::new("field.as_of", "error.required"),
                )
            })?,
        None => crate::time::today(config.time_zone),
    };
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let Some(rule) = expiry::Rule::of_scheme(&mut conn).map_err(|e| e.to_string())? else {
        println!("{}", i18n::t(lang, "ops.expiry_off_cli"));
        return Ok(());
    };
    let out = expiry::run(&mut conn, &crate::auth::Actor::console(), rule, as_of)
        .map_err(|e| e.to_string())?;
    println!(
        "{}",
        i18n::tf(
            lang,
            "ops.expire_done",
            &[
                ("as_of", as_of.to_string()),
                (
                    "cutoff",
                    out.cutoff.map(|d| d.to_string()).unwrap_or_default()
                ),
                ("households", out.households.to_string()),
                ("points", out.points.to_string()),
            ]
        )
    );
    Ok(())
}

pub(super) fn retention(pool: &DbPool, dry_run: bool) -> Result<(), String> {
    use crate::households::retention;
    let lang = console_lang();
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let years = crate::settings::get(&mut conn, crate::settings::RETENTION_YEARS)
        .map_err(|e| e.to_string())?;
    if years == 0 {
        println!("{}", i18n::t(lang, "ops.retention_off_cli"));
        return Ok(());
    }
    let out = retention::run(
        &mut conn,
        &crate::auth::Actor::console(),
        years,
        db::now(),
        dry_run,
    )
    .map_err(|e| e.to_string())?;
    for id in &out.households {
        println!("{id}");
    }
    for (id, why) in &out.failed {
        eprintln!("{id}: {}", crate::operations::show_message(lang, why));
    }
    let key = if dry_run {
        "ops.retention_would"
    } else {
        "ops.retention_done"
    };
    println!(
        "{}",
        i18n::tf(
            lang,
            key,
            &[
                ("n", out.households.len().to_string()),
                ("years", years.to_string())
            ]
        )
    );
    Ok(())
}

/// The jobs that run once a day, on whichever app server claims the day
/// first: the nightly backup (when AIXIN_BACKUP_DIR is set), points expiry
/// and retention (when their settings are on), and the integrity signals'
/// figures of the month just past.
fn daily_jobs(pool: &DbPool, config: &Config, key: &DataKey) {
    use crate::operations::{record_run, store_message};
    let day = crate::time::today(config.time_zone);
    // The backup takes its own connection: run it before holding one here.
    let backup_run = config.backup_dir.as_ref().and_then(|dir| {
        match crate::backup::nightly(pool, &config.database_url, dir, config.backup_keep, day) {
            Ok(true) => {
                tracing::info!(%day, "nightly backup taken");
                let sqlite = matches!(
                    crate::db::DbTarget::parse(&config.database_url),
                    Ok(crate::db::DbTarget::Sqlite(_))
                );
                let path = crate::backup::nightly_file(dir, day, sqlite);
                Some((
                    store_message(
                        "",
                        "ops.job_backup_done",
                        &[("path", path.display().to_string())],
                    ),
                    Vec::new(),
                ))
            }
            Ok(false) => None,
            Err(e) => {
                tracing::error!(error = %e, "nightly backup failed");
                Some((
                    String::new(),
                    vec![store_message(
                        "",
                        "ops.job_failed",
                        &[("why", e.to_string())],
                    )],
                ))
            }
        }
    });
    let Ok(mut c) = pool.get() else { return };
    if let Some((done, failed)) = backup_run
        && let Err(e) = record_run(&mut c, "backup", &done, &failed)
    {
        tracing::error!(error = %e, "could not record the backup run");
    }
    // Expiry records its own run (with each household that failed).
    match crate::points::expiry::daily(&mut c, day) {
        Ok(Some(out)) => {
            tracing::info!(%day, households = out.households, points = out.points, "points expired")
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "points expiry failed"),
    }
    // Retention too (with each household that could not be erased).
    match crate::households::retention::daily(&mut c, day) {
        Ok(Some(out)) => {
            tracing::info!(%day, households = out.households.len(), failed = out.failed.len(), "personal data erased")
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "retention failed"),
    }
    // The integrity signals' figures of the month just past, which late
    // reviews and voids can still change (the sparkline reads them).
    match crate::signals::trend::daily(&mut c, config.time_zone, key, day) {
        Ok(Some(n)) => tracing::info!(%day, areas = n, "signal figures refreshed"),
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "signal figures failed"),
    }
    // Photos of households' reports go after their own retention period.
    let daily = crate::auth::Actor {
        username: "(daily)".into(),
        ..crate::auth::Actor::console()
    };
    match crate::window::deeds::purge_photos(&mut c, &daily, db::now()) {
        Ok(0) => {}
        Ok(n) => tracing::info!(%day, photos = n, "report photos deleted"),
        Err(e) => tracing::error!(error = %e, "report photo retention failed"),
    }
}

/// Sweep expired sessions and old failed-login rows now and then, and run
/// the daily jobs.
pub(super) async fn housekeeping(pool: DbPool, config: Config, key: std::sync::Arc<DataKey>) {
    let mut tick = actix_web::rt::time::interval(Duration::from_secs(300));
    loop {
        tick.tick().await;
        let pool = pool.clone();
        let config = config.clone();
        let key = key.clone();
        let _ = actix_web::web::block(move || {
            if let Ok(mut c) = pool.get() {
                let now = db::now();
                let _ = crate::auth::session::purge_expired(&mut c, &config, now);
                let _ = crate::auth::throttle::purge_older_than(
                    &mut c,
                    now - chrono::Duration::days(1),
                );
                let _ = crate::api::card::purge_older_than(&mut c, now - chrono::Duration::days(1));
                let _ = crate::auth::tokens::purge_expired(&mut c, now - chrono::Duration::days(1));
                let _ = crate::api::idempotency::purge_older_than(
                    &mut c,
                    now - chrono::Duration::days(crate::api::idempotency::KEEP_DAYS),
                );
                let _ = crate::households::import::purge_stale_files(&mut c, now);
                let _ = crate::households::import::fail_stale_jobs(&mut c, now);
                // Awards whose public notice has ended without objection
                // count now; each that cannot is marked with why, and the
                // run is recorded for the operations page.
                if let Err(e) =
                    crate::points::awards::settle_job(&mut c, crate::time::today(config.time_zone))
                {
                    tracing::error!(error = ?e, "settling awards after notice failed");
                }
            }
            daily_jobs(&pool, &config, &key);
        })
        .await;
    }
}
