//! SQLite's write-ahead log, kept bounded while readers are always present.
//!
//! SQLite's own checkpoints (every 1,000 pages, `PASSIVE`) copy what they
//! can to the database file but never wait: as long as some reader still
//! reads an older part of the log, the log cannot start again from its
//! beginning, and under steady load (a page read at every moment) it grew
//! to hundreds of MB, each read searching a longer index.
//!
//! The policy (measured in docs/performance.md, "SQLite's write-ahead log"):
//!
//! - A keeper thread looks at the log file's size every `check_every`
//!   (250 ms; one `stat`). Only when it is over `restart_above` (32 MB) does
//!   it run `PRAGMA wal_checkpoint(RESTART)` on its own connection, whose
//!   busy timeout is `wait` (100 ms). That checkpoint holds the write lock
//!   while it waits for the readers of older snapshots to finish (page reads
//!   take milliseconds) and copies the rest of the log; new readers read the
//!   database file, and the next write starts the log from the beginning. A
//!   `PASSIVE` checkpoint just before it copies what it can without the
//!   lock, so the restart has little left to copy. A writer waits at most
//!   about `wait` plus that copy, and only when the log has grown past the
//!   threshold; a checkpoint that cannot finish in time gives up and is
//!   tried again later (each failure doubles the time to the next look, up
//!   to 16 looks).
//! - Every connection sets `journal_size_limit` (`JOURNAL_SIZE_LIMIT`,
//!   64 MB): when the log starts again, a file grown past it is cut back.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::prelude::*;

/// The size a restarted write-ahead log file is cut back to, in bytes
/// (`PRAGMA journal_size_limit`, set on every pooled connection).
pub const JOURNAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

/// When and how the keeper checkpoints.
#[derive(Debug, Clone, Copy)]
pub struct WalPolicy {
    /// How often the log file's size is looked at.
    pub check_every: Duration,
    /// Log size (bytes) above which a `RESTART` checkpoint is run.
    pub restart_above: u64,
    /// How long the checkpoint may wait for readers and writers (its
    /// connection's busy timeout): the longest a writer is held up by it,
    /// besides the copying.
    pub wait: Duration,
}

impl Default for WalPolicy {
    fn default() -> WalPolicy {
        WalPolicy {
            check_every: Duration::from_millis(250),
            restart_above: 32 * 1024 * 1024,
            wait: Duration::from_millis(100),
        }
    }
}

/// The keeper thread; it stops when this is dropped (at its next look).
pub struct WalKeeper {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for WalKeeper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The write-ahead log's file beside an SQLite database file.
pub fn wal_path(db_path: &str) -> PathBuf {
    PathBuf::from(format!("{db_path}-wal"))
}

/// The log file's size in bytes (0 when there is none).
pub fn wal_size(db_path: &str) -> u64 {
    std::fs::metadata(wal_path(db_path))
        .map(|m| m.len())
        .unwrap_or(0)
}

#[derive(QueryableByName)]
struct CheckpointResult {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    busy: i32,
}

/// Run one `RESTART` checkpoint on `conn`; whether it finished (false: a
/// reader or writer outlasted the connection's busy timeout).
pub fn restart_checkpoint(conn: &mut diesel::SqliteConnection) -> QueryResult<bool> {
    let r: CheckpointResult =
        diesel::sql_query("PRAGMA wal_checkpoint(RESTART)").get_result(conn)?;
    Ok(r.busy == 0)
}

/// Start the keeper for the SQLite database at `db_path` (a file path, as
/// in `DbTarget::Sqlite`). Errors: the keeper's own connection cannot be
/// opened.
pub fn keep(db_path: &str, policy: WalPolicy) -> ConnectionResult<WalKeeper> {
    let mut conn = diesel::SqliteConnection::establish(db_path)?;
    let timeout = policy.wait.as_millis().max(1);
    diesel::sql_query(format!("PRAGMA busy_timeout = {timeout}"))
        .execute(&mut conn)
        .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
    let stop = Arc::new(AtomicBool::new(false));
    let path = db_path.to_string();
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("aixin-wal".into())
        .spawn(move || {
            let mut failed_in_a_row = 0u32;
            while !flag.load(Ordering::Relaxed) {
                // After a checkpoint that could not finish (a long read, a
                // summary, outlasted its wait), look again later and later
                // (up to 16 looks' time), so as not to hold the writers up
                // at every look.
                std::thread::sleep(policy.check_every * (1 << failed_in_a_row.min(4)));
                let size = wal_size(&path);
                if size <= policy.restart_above {
                    continue;
                }
                let started = std::time::Instant::now();
                // First copy what can be copied without the write lock, so
                // that the restart, which holds it, has little left to copy.
                let _ = diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").execute(&mut conn);
                match restart_checkpoint(&mut conn) {
                    Ok(true) => {
                        failed_in_a_row = 0;
                        tracing::debug!(
                            wal_bytes = size,
                            ms = started.elapsed().as_millis() as u64,
                            "write-ahead log restarted"
                        );
                    }
                    Ok(false) => {
                        failed_in_a_row += 1;
                        // Said once in a while, not at every look.
                        if failed_in_a_row.is_power_of_two() {
                            tracing::warn!(
                                wal_bytes = size,
                                tries = failed_in_a_row,
                                "the write-ahead log could not be restarted yet (readers or writers busy)"
                            );
                        }
                    }
                    Err(e) => {
                        failed_in_a_row += 1;
                        if failed_in_a_row.is_power_of_two() {
                            tracing::warn!(error = %e, "write-ahead log checkpoint failed");
                        }
                    }
                }
            }
        })
        .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
    Ok(WalKeeper {
        stop,
        thread: Some(thread),
    })
}
