//! Backups that are consistent while the app keeps serving: SQLite's
//! `VACUUM INTO` (never a copy of the live file), PostgreSQL's `pg_dump -Fc`.
//! A restore is checked with the ledger verification.

use std::path::{Path, PathBuf};
use std::process::Command;

use diesel::prelude::*;

use crate::db::schema::{households, settings, users};
use crate::db::{DbConn, DbPool, DbTarget};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists; choose a new file name")]
    Exists(String),
    #[error(
        "pg_dump is not installed (Debian: apt-get install postgresql-client); the PostgreSQL backup needs it"
    )]
    NoPgDump,
    #[error("pg_restore is not installed (Debian: apt-get install postgresql-client)")]
    NoPgRestore,
    #[error(
        "the database is not empty; restoring would replace everything in it. Add --force to do that"
    )]
    NotEmpty,
    #[error("{0}")]
    Failed(String),
}

/// Take a consistent copy of the database into `file`.
pub fn backup(conn: &mut DbConn, database_url: &str, file: &Path) -> Result<(), BackupError> {
    if file.exists() {
        return Err(BackupError::Exists(file.display().to_string()));
    }
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| BackupError::Failed(e.to_string()))?;
    }
    match DbTarget::parse(database_url).map_err(|e| BackupError::Failed(e.to_string()))? {
        DbTarget::Sqlite(_) => {
            diesel::sql_query("VACUUM INTO ?")
                .bind::<diesel::sql_types::Text, _>(file.display().to_string())
                .execute(conn)
                .map_err(|e| BackupError::Failed(e.to_string()))?;
        }
        DbTarget::Postgres(url) => {
            let out = Command::new("pg_dump")
                .args(["-Fc", "--no-owner", "-f"])
                .arg(file)
                .arg(&url)
                .output()
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => BackupError::NoPgDump,
                    _ => BackupError::Failed(e.to_string()),
                })?;
            if !out.status.success() {
                return Err(BackupError::Failed(
                    String::from_utf8_lossy(&out.stderr).trim().to_string(),
                ));
            }
        }
    }
    record_backup(conn, file);
    Ok(())
}

fn record_backup(conn: &mut DbConn, file: &Path) {
    let value = format!(
        "{} {}",
        crate::db::now().format("%Y-%m-%d %H:%M:%S"),
        file.display()
    );
    let _ = diesel::delete(settings::table.find("last_backup")).execute(conn);
    let _ = diesel::insert_into(settings::table)
        .values((settings::key.eq("last_backup"), settings::value.eq(value)))
        .execute(conn);
}

/// When the last backup was taken, and where to ("UTC time path").
pub fn last_backup(conn: &mut DbConn) -> QueryResult<Option<String>> {
    settings::table
        .find("last_backup")
        .select(settings::value)
        .first(conn)
        .optional()
}

fn is_empty(conn: &mut DbConn) -> QueryResult<bool> {
    let u: i64 = users::table.count().get_result(conn)?;
    let h: i64 = households::table.count().get_result(conn)?;
    Ok(u == 0 && h == 0)
}

/// Replace the database with a backup. The app servers must be stopped.
/// Refuses to overwrite a database that has anything in it unless `force`.
pub fn restore(
    pool: Option<&DbPool>,
    database_url: &str,
    file: &Path,
    force: bool,
) -> Result<(), BackupError> {
    if !file.exists() {
        return Err(BackupError::Failed(format!(
            "{} does not exist",
            file.display()
        )));
    }
    if let Some(pool) = pool {
        let mut conn = pool.get().map_err(|e| BackupError::Failed(e.to_string()))?;
        if !force && !is_empty(&mut conn).map_err(|e| BackupError::Failed(e.to_string()))? {
            return Err(BackupError::NotEmpty);
        }
    }
    match DbTarget::parse(database_url).map_err(|e| BackupError::Failed(e.to_string()))? {
        DbTarget::Sqlite(path) => {
            let target = PathBuf::from(&path);
            for suffix in ["", "-wal", "-shm"] {
                let p = PathBuf::from(format!("{path}{suffix}"));
                if p.exists() {
                    std::fs::remove_file(&p)
                        .map_err(|e| BackupError::Failed(format!("{}: {e}", p.display())))?;
                }
            }
            if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| BackupError::Failed(e.to_string()))?;
            }
            std::fs::copy(file, &target).map_err(|e| BackupError::Failed(e.to_string()))?;
        }
        DbTarget::Postgres(url) => {
            let out = Command::new("pg_restore")
                .args([
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--single-transaction",
                    "-d",
                ])
                .arg(&url)
                .arg(file)
                .output()
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => BackupError::NoPgRestore,
                    _ => BackupError::Failed(e.to_string()),
                })?;
            if !out.status.success() {
                return Err(BackupError::Failed(
                    String::from_utf8_lossy(&out.stderr).trim().to_string(),
                ));
            }
        }
    }
    Ok(())
}

/// The nightly backup's file for a day, in `dir`.
pub fn nightly_file(dir: &Path, day: chrono::NaiveDate, sqlite: bool) -> PathBuf {
    dir.join(format!(
        "aixin-{}.{}",
        day.format("%Y%m%d"),
        if sqlite { "db" } else { "dump" }
    ))
}

/// Keep the newest `keep` nightly backups in `dir`, remove older ones.
pub fn prune(dir: &Path, keep: usize) -> std::io::Result<usize> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("aixin-") && (n.ends_with(".db") || n.ends_with(".dump"))
            })
        })
        .collect();
    files.sort();
    let mut removed = 0;
    while files.len() > keep {
        std::fs::remove_file(files.remove(0))?;
        removed += 1;
    }
    Ok(removed)
}

/// Take tonight's backup unless another server already has: the claim is a
/// row under a unique key.
pub fn nightly(
    pool: &DbPool,
    database_url: &str,
    dir: &Path,
    keep: usize,
    day: chrono::NaiveDate,
) -> Result<bool, BackupError> {
    let mut conn = pool.get().map_err(|e| BackupError::Failed(e.to_string()))?;
    let claimed = diesel::insert_into(settings::table)
        .values((
            settings::key.eq(format!("backup:{day}")),
            settings::value.eq("taken"),
        ))
        .execute(&mut conn)
        .is_ok();
    if !claimed {
        return Ok(false);
    }
    let sqlite = matches!(DbTarget::parse(database_url), Ok(DbTarget::Sqlite(_)));
    backup(&mut conn, database_url, &nightly_file(dir, day, sqlite))?;
    prune(dir, keep.max(1)).map_err(|e| BackupError::Failed(e.to_string()))?;
    Ok(true)
}
