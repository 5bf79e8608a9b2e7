//! What an administrator checks to know the installation is healthy: the
//! version, the database and its size, backups, the last ledger check,
//! sessions, failed logins and work waiting.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::config::Config;
use crate::db::schema::{
    awards, import_jobs, job_runs, login_failures, point_adjustments, sessions,
};
use crate::db::{self, Backend, DbConn};
use crate::domain::FieldError;
use crate::i18n::Lang;
use crate::ledger::{self, LastVerify};
use crate::settings;

#[derive(Debug, Clone)]
pub struct Overview {
    pub version: &'static str,
    pub backend: Backend,
    pub size_bytes: i64,
    /// When (UTC) and where the last backup went.
    pub last_backup: Option<(Option<NaiveDateTime>, String)>,
    pub nightly_backups: bool,
    pub last_verify: Option<LastVerify>,
    pub sessions_active: i64,
    pub failed_logins_hour: i64,
    pub imports_running: i64,
    pub awards_pending: i64,
    pub adjustments_pending: i64,
    pub expiry_years: i64,
    pub expiry_months: i64,
    pub retention_years: i64,
    /// The last expiry run: (when, households, points).
    pub last_expiry: Option<(Option<NaiveDateTime>, String, String)>,
    /// The last retention run: (when, households erased).
    pub last_retention: Option<(Option<NaiveDateTime>, String)>,
    /// Each scheduled job's last run (settlement, expiry, retention,
    /// backup), by job name.
    pub job_runs: Vec<JobRun>,
}

/// The scheduled jobs, in the order the operations page lists them.
pub const JOBS: [&str; 4] = ["settle", "expiry", "retention", "backup"];

/// One scheduled job's last run: when (UTC), what it did and what failed.
/// `done` is a stored message and `failed` one stored message a line (see
/// [`store_message`]); show them with [`show_message`].
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = job_runs)]
pub struct JobRun {
    pub job: String,
    pub at: NaiveDateTime,
    pub done: String,
    pub failed: String,
}

impl JobRun {
    /// The translation key of the job's name.
    pub fn label_key(&self) -> &'static str {
        match self.job.as_str() {
            "settle" => "ops.job_settle",
            "expiry" => "ops.job_expiry",
            "retention" => "ops.job_retention",
            _ => "ops.job_backup",
        }
    }

    /// What the run did, in `lang`.
    pub fn done_text(&self, lang: &Lang) -> String {
        show_message(*lang, &self.done)
    }

    /// What failed, one line each, in `lang`.
    pub fn failures(&self, lang: &Lang) -> Vec<String> {
        self.failed
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| show_message(*lang, l))
            .collect()
    }
}

/// A message to keep and show later in the reader's language:
/// `prefix: key|name=value|...` (the prefix, e.g. a household's name, may
/// be empty). Text without a translation key is kept as it is.
pub fn store_message(prefix: &str, key: &str, args: &[(&str, String)]) -> String {
    let clean = |t: &str| t.replace(['|', '\t', '\n', '\r'], " ");
    let mut s = String::new();
    if !prefix.is_empty() {
        s.push_str(&clean(prefix));
        s.push('\t');
    }
    s.push_str(&clean(key));
    for (k, v) in args {
        s.push('|');
        s.push_str(k);
        s.push('=');
        s.push_str(&clean(v));
    }
    s
}

/// A field error as a stored message (see [`store_message`]).
pub fn store_error(prefix: &str, e: &FieldError) -> String {
    store_message(prefix, e.key, &e.args)
}

/// A stored message in `lang`.
pub fn show_message(lang: Lang, stored: &str) -> String {
    if stored.is_empty() {
        return String::new();
    }
    let (prefix, rest) = match stored.split_once('\t') {
        Some((p, r)) => (Some(p), r),
        None => (None, stored),
    };
    let mut parts = rest.split('|');
    let key = parts.next().unwrap_or("");
    let args: Vec<(&str, String)> = parts
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    let text = crate::i18n::tf(lang, key, &args);
    match prefix {
        Some(p) => format!("{p}: {text}"),
        None => text,
    }
}

/// Record a scheduled job's run (an upsert: the last run is kept). At most
/// 100 failures are kept, with a count of the rest.
pub fn record_run(conn: &mut DbConn, job: &str, done: &str, failed: &[String]) -> QueryResult<()> {
    use diesel::sql_types::{Text, Timestamp};
    let mut lines: Vec<String> = failed.iter().take(100).cloned().collect();
    if failed.len() > 100 {
        lines.push(store_message(
            "",
            "ops.job_more_failed",
            &[("n", (failed.len() - 100).to_string())],
        ));
    }
    let failed = lines.join("\n");
    const SQL_SQLITE: &str = "INSERT INTO job_runs (job, at, done, failed) VALUES (?, ?, ?, ?) ON CONFLICT (job) DO UPDATE SET at = excluded.at, done = excluded.done, failed = excluded.failed";
    const SQL_PG: &str = "INSERT INTO job_runs (job, at, done, failed) VALUES ($1, $2, $3, $4) ON CONFLICT (job) DO UPDATE SET at = excluded.at, done = excluded.done, failed = excluded.failed";
    let now = db::now();
    match conn {
        DbConn::Sqlite(c) => diesel::sql_query(SQL_SQLITE)
            .bind::<Text, _>(job)
            .bind::<Timestamp, _>(now)
            .bind::<Text, _>(done)
            .bind::<Text, _>(&failed)
            .execute(c)?,
        DbConn::Pg(c) => diesel::sql_query(SQL_PG)
            .bind::<Text, _>(job)
            .bind::<Timestamp, _>(now)
            .bind::<Text, _>(done)
            .bind::<Text, _>(&failed)
            .execute(c)?,
    };
    Ok(())
}

/// The scheduled jobs' last runs, in [`JOBS`] order.
pub fn job_runs(conn: &mut DbConn) -> QueryResult<Vec<JobRun>> {
    let mut runs: Vec<JobRun> = job_runs::table.select(JobRun::as_select()).load(conn)?;
    runs.sort_by_key(|r| JOBS.iter().position(|j| *j == r.job).unwrap_or(JOBS.len()));
    Ok(runs)
}

#[derive(QueryableByName)]
struct Size {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The database's size on disk, in bytes.
pub fn database_size(conn: &mut DbConn) -> QueryResult<i64> {
    let row: Size = match conn {
        DbConn::Sqlite(c) => diesel::sql_query(
            "SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()",
        )
        .get_result(c)?,
        DbConn::Pg(c) => {
            diesel::sql_query("SELECT pg_database_size(current_database())::BIGINT AS n")
                .get_result(c)?
        }
    };
    Ok(row.n)
}

/// "2026-11-29 10:45:00 rest" -> (the time, "rest").
fn split_stamp(v: &str) -> (Option<NaiveDateTime>, String) {
    let mut parts = v.splitn(3, ' ');
    let (d, t) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let at = NaiveDateTime::parse_from_str(&format!("{d} {t}"), "%Y-%m-%d %H:%M:%S").ok();
    (at, parts.next().unwrap_or("").to_string())
}

pub fn overview(conn: &mut DbConn, config: &Config) -> QueryResult<Overview> {
    let now = db::now();
    let idle_cut = now - chrono::Duration::minutes(config.session_idle_minutes);
    let abs_cut = now - chrono::Duration::hours(config.session_absolute_hours);
    let sessions_active = sessions::table
        .filter(sessions::last_seen_at.ge(idle_cut))
        .filter(sessions::created_at.ge(abs_cut))
        .count()
        .get_result(conn)?;
    let failed_logins_hour = login_failures::table
        .filter(login_failures::at.gt(now - chrono::Duration::hours(1)))
        .count()
        .get_result(conn)?;
    let imports_running = import_jobs::table
        .filter(import_jobs::state.eq_any(crate::households::import::ImportState::RUNNING))
        .count()
        .get_result(conn)?;
    let awards_pending = awards::table
        .filter(awards::status.eq(crate::points::awards::AwardStatus::Pending))
        .count()
        .get_result(conn)?;
    let adjustments_pending = point_adjustments::table
        .filter(point_adjustments::status.eq(crate::points::adjustments::AdjustmentStatus::Pending))
        .count()
        .get_result(conn)?;
    let last_expiry = settings::get_raw(conn, "last_expiry")?.map(|v| {
        let (at, rest) = split_stamp(&v);
        let mut r = rest.split_whitespace().skip(1);
        (
            at,
            r.next().unwrap_or("0").to_string(),
            r.next().unwrap_or("0").to_string(),
        )
    });
    let last_retention = settings::get_raw(conn, "last_retention")?.map(|v| split_stamp(&v));
    Ok(Overview {
        version: env!("CARGO_PKG_VERSION"),
        backend: db::backend_of(conn),
        size_bytes: database_size(conn)?,
        last_backup: crate::backup::last_backup(conn)?.map(|v| split_stamp(&v)),
        nightly_backups: config.backup_dir.is_some(),
        last_verify: ledger::last_verify(conn)?,
        sessions_active,
        failed_logins_hour,
        imports_running,
        awards_pending,
        adjustments_pending,
        expiry_years: settings::get(conn, settings::EXPIRY_YEARS)?,
        expiry_months: settings::get(conn, settings::EXPIRY_MONTHS)?,
        retention_years: settings::get(conn, settings::RETENTION_YEARS)?,
        last_expiry,
        last_retention,
        job_runs: job_runs(conn)?,
    })
}

/// 1536 -> "1.5 MB"-style sizes.
pub fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = bytes.max(0) as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MB");
    }

    #[test]
    fn stamps_split_into_time_and_rest() {
        let (at, rest) = split_stamp("2026-11-29 10:45:00 /var/backups/a b.db");
        assert!(at.is_some());
        assert_eq!(rest, "/var/backups/a b.db");
    }

    #[test]
    fn stored_messages_read_in_either_language() {
        let e = FieldError::new("field.points", "error.insufficient_points")
            .arg("balance", 3)
            .arg("needed", 5)
            .arg("short", 2);
        let stored = store_error("王|大山", &e);
        assert_eq!(
            show_message(Lang::Zh, &stored),
            "王 大山: 积分不足：现有 3 分，需要 5 分，还差 2 分"
        );
        assert!(show_message(Lang::En, &stored).starts_with("王 大山: "));
        // Text that is not a key stays as it is.
        assert_eq!(show_message(Lang::En, "disk full"), "disk full");
        assert_eq!(show_message(Lang::En, ""), "");
    }
}
