//! Import jobs: an uploaded file checked, then imported, in the background,
//! each state change one guarded update.

use super::*;

crate::text_enum! {
    /// Where an import job stands: its file being checked (`Checking`),
    /// checked and waiting to be confirmed (`Checked`), being imported
    /// (`Importing`), or ended: imported (`Done`), refused (`Failed`) or
    /// not confirmed in time (`Expired`).
    pub enum ImportState {
        Checking = "checking",
        Checked = "checked",
        Importing = "importing",
        Done = "done",
        Failed = "failed",
        Expired = "expired",
    }
}

impl ImportState {
    /// A job still working on its file.
    pub const RUNNING: [ImportState; 2] = [ImportState::Checking, ImportState::Importing];

    /// Whether the job has ended with its file dropped.
    pub fn ended(self) -> bool {
        matches!(self, ImportState::Done | ImportState::Failed)
    }
}

/// Import jobs: an uploaded file, checked (and later imported) in the
/// background while the browser shows progress.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = import_jobs)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub user_id: String,
    pub file_name: String,
    pub state: ImportState,
    pub rows_total: i64,
    pub rows_done: i64,
    pub report: String,
    pub created_at: chrono::NaiveDateTime,
    /// Rows already registered are skipped (see [`ImportOptions`]).
    pub skip_registered: bool,
}

impl Job {
    pub fn report(&self) -> Option<Report> {
        serde_json::from_str(&self.report).ok()
    }
    pub fn percent(&self) -> i64 {
        if self.rows_total == 0 {
            0
        } else {
            self.rows_done * 100 / self.rows_total
        }
    }
    pub fn running(&self) -> bool {
        ImportState::RUNNING.contains(&self.state)
    }
}

pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

/// An unconfirmed check's file is deleted after this many minutes (the
/// housekeeping runs every five, so it is gone within the hour), and the
/// check can no longer be confirmed.
pub const CHECK_KEEP_MINUTES: i64 = 50;

/// Record an uploaded file as a job being checked, with the default
/// [`ImportOptions`] (see [`create_job_with`]). Returns the job's id.
pub fn create_job(
    conn: &mut DbConn,
    key: &DataKey,
    user_id: &str,
    file_name: &str,
    bytes: &[u8],
) -> QueryResult<String> {
    create_job_with(
        conn,
        key,
        user_id,
        file_name,
        bytes,
        ImportOptions::default(),
    )
}

/// Record an uploaded file as a job being checked, its rows to be treated
/// as `options` says (stored with the job, so its check and its import
/// agree). The file (full ID numbers and phones) is kept encrypted with
/// the data key, and only until the job is confirmed, fails, or its check
/// expires. Returns the job's id.
pub fn create_job_with(
    conn: &mut DbConn,
    key: &DataKey,
    user_id: &str,
    file_name: &str,
    bytes: &[u8],
    options: ImportOptions,
) -> QueryResult<String> {
    let bytes = key.encrypt_bytes(bytes);
    let id = db::new_id();
    let now = db::now();
    diesel::insert_into(import_jobs::table)
        .values((
            import_jobs::id.eq(&id),
            import_jobs::kind.eq("households"),
            import_jobs::user_id.eq(user_id),
            import_jobs::file_name.eq(file_name),
            import_jobs::file.eq(&bytes),
            import_jobs::state.eq(ImportState::Checking),
            import_jobs::skip_registered.eq(options.skip_registered),
            import_jobs::created_at.eq(now),
            import_jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Delete the files of checks not confirmed within [`CHECK_KEEP_MINUTES`]:
/// the job becomes "expired" (its report stays; confirming is refused).
/// Refused rows older than [`REFUSED_KEEP_DAYS`] go too. Returns how many
/// files were deleted.
pub fn purge_stale_files(conn: &mut DbConn, now: chrono::NaiveDateTime) -> QueryResult<usize> {
    let purged = transition(
        conn,
        Jobs::IdleSince(now - chrono::Duration::minutes(CHECK_KEEP_MINUTES)),
        &[ImportState::Checked],
        ImportState::Expired,
        JobChanges::default(),
    )?;
    // Refused rows are kept a week for fixing, then go too.
    diesel::update(
        import_jobs::table
            .filter(import_jobs::updated_at.lt(now - chrono::Duration::days(REFUSED_KEEP_DAYS))),
    )
    .set(import_jobs::refused_rows.eq(Vec::<u8>::new()))
    .execute(conn)?;
    Ok(purged)
}

/// A job for the person who uploaded its file, or an administrator: only
/// they see its report or confirm it. A job whose server stopped mid-way
/// is ended as failed first, so it never shows as running.
///
/// Errors: `Forbidden` for a role without `ImportHouseholds` or another
/// user's job; `NotFound` for an unknown id.
pub fn job_for(conn: &mut DbConn, actor: &Actor, id: &str) -> Result<Job, HouseholdError> {
    actor.require(Action::ImportHouseholds)?;
    fail_stale_jobs(conn, db::now())?;
    let job = find_job(conn, id)?.ok_or(HouseholdError::NotFound)?;
    // Another user's job: only for an administrator of the whole scheme.
    if job.user_id != actor.user_id
        && (actor.role != crate::domain::Role::Admin || actor.scope != crate::auth::Scope::All)
    {
        return Err(HouseholdError::Forbidden);
    }
    Ok(job)
}

pub fn find_job(conn: &mut DbConn, id: &str) -> QueryResult<Option<Job>> {
    import_jobs::table
        .find(id)
        .select(Job::as_select())
        .first(conn)
        .optional()
}

/// Which import jobs a transition looks at.
enum Jobs<'a> {
    /// One job; with `fresh_since`, only if it last moved at or after then.
    One {
        id: &'a str,
        fresh_since: Option<chrono::NaiveDateTime>,
    },
    /// Every job that has not moved since then.
    IdleSince(chrono::NaiveDateTime),
}

/// What a transition writes besides the state (`None`: left as it is).
#[derive(Default, AsChangeset)]
#[diesel(table_name = import_jobs)]
struct JobChanges {
    rows_done: Option<i64>,
    rows_total: Option<i64>,
    report: Option<String>,
    updated_at: Option<chrono::NaiveDateTime>,
}

/// The one way an import job's state changes: one conditional update of
/// the `jobs` whose state is one of `from`, to `to` with `changes`. The
/// uploaded file holds full ID numbers and phones: a job that ends or
/// expires drops it in the same statement, so no reader ever sees "done"
/// with the file. Returns how many jobs moved; zero means none stood where
/// `from` says (a second confirm, or a job already ended as stale), and the
/// caller says what that means.
fn transition(
    conn: &mut DbConn,
    jobs: Jobs,
    from: &[ImportState],
    to: ImportState,
    changes: JobChanges,
) -> QueryResult<usize> {
    let mut guarded = diesel::update(import_jobs::table)
        .filter(import_jobs::state.eq_any(from.to_vec()))
        .into_boxed();
    match jobs {
        Jobs::One { id, fresh_since } => {
            guarded = guarded.filter(import_jobs::id.eq(id));
            if let Some(t) = fresh_since {
                guarded = guarded.filter(import_jobs::updated_at.ge(t));
            }
        }
        Jobs::IdleSince(t) => guarded = guarded.filter(import_jobs::updated_at.lt(t)),
    }
    if to.ended() || to == ImportState::Expired {
        guarded
            .set((
                import_jobs::state.eq(to),
                import_jobs::file.eq(Vec::<u8>::new()),
                changes,
            ))
            .execute(conn)
    } else {
        guarded
            .set((import_jobs::state.eq(to), changes))
            .execute(conn)
    }
}

/// A running job's progress, or its end: only a running job moves on (one
/// ended as stale stays ended).
fn set_job(
    conn: &mut DbConn,
    id: &str,
    state: ImportState,
    done: i64,
    total: i64,
    report: &str,
) -> QueryResult<()> {
    let one = Jobs::One {
        id,
        fresh_since: None,
    };
    let changes = JobChanges {
        rows_done: Some(done),
        rows_total: Some(total),
        report: Some(report.to_string()),
        updated_at: Some(db::now()),
    };
    transition(conn, one, &ImportState::RUNNING, state, changes)?;
    Ok(())
}

/// Move a checked job to "importing", exactly once, and only while its
/// check has not expired (a second confirm, or a late one, changes nothing
/// and gets `false`).
pub fn start_commit(conn: &mut DbConn, id: &str) -> QueryResult<bool> {
    let one = Jobs::One {
        id,
        fresh_since: Some(db::now() - chrono::Duration::minutes(CHECK_KEEP_MINUTES)),
    };
    let changes = JobChanges {
        updated_at: Some(db::now()),
        ..JobChanges::default()
    };
    let n = transition(
        conn,
        one,
        &[ImportState::Checked],
        ImportState::Importing,
        changes,
    )?;
    Ok(n == 1)
}

fn error_report(e: FieldError) -> String {
    serde_json::to_string(&Report {
        refused: vec![RowError::new(0, e)],
        ..Report::default()
    })
    .unwrap_or_default()
}

/// How many import checks or commits one app server runs at once; more
/// wait their turn (each can hold a large file's rows in memory).
pub const MAX_RUNNING_JOBS: usize = 2;

/// The turns for [`MAX_RUNNING_JOBS`] (a per-process resource cap, not a
/// correctness guard: job states are guarded in the database).
static RUNNING: crate::at_once::AtOnce = crate::at_once::AtOnce::new(MAX_RUNNING_JOBS);

/// A job that has shown no progress for this long was interrupted (its
/// server stopped): it is ended as failed.
pub const STALE_JOB_MINUTES: i64 = 30;

/// End as failed, with its reason, every job still "checking" or
/// "importing" that has not moved for [`STALE_JOB_MINUTES`] (an import runs
/// in one transaction, so an interrupted one left nothing behind).
/// Returns how many were ended.
pub fn fail_stale_jobs(conn: &mut DbConn, now: chrono::NaiveDateTime) -> QueryResult<usize> {
    let changes = JobChanges {
        report: Some(error_report(FieldError::new(
            "field.file",
            "error.import_interrupted",
        ))),
        updated_at: Some(now),
        ..JobChanges::default()
    };
    transition(
        conn,
        Jobs::IdleSince(now - chrono::Duration::minutes(STALE_JOB_MINUTES)),
        &ImportState::RUNNING,
        ImportState::Failed,
        changes,
    )
}

/// Run a job's check or commit to the end (on a blocking thread), at most
/// [`MAX_RUNNING_JOBS`] at once. Whatever happens (a refused file, a
/// database error, a panic) the job ends "checked", "done" or "failed" with
/// its reason; it is never left running.
pub fn run_job(
    pool: &DbPool,
    key: &DataKey,
    actor: &Actor,
    job_id: &str,
    commit_it: bool,
    today: chrono::NaiveDate,
) {
    let _turn = RUNNING.turn();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_job_inner(pool, key, actor, job_id, commit_it, today)
    }));
    if outcome.is_err() {
        tracing::error!(job = job_id, "import job panicked");
        if let Ok(mut conn) = pool.get() {
            let _ = set_job(
                &mut conn,
                job_id,
                ImportState::Failed,
                0,
                0,
                &error_report(FieldError::new("field.file", "error.import_failed")),
            );
        }
    }
}

fn run_job_inner(
    pool: &DbPool,
    key: &DataKey,
    actor: &Actor,
    job_id: &str,
    commit_it: bool,
    today: chrono::NaiveDate,
) {
    let result = (|| -> Result<(), String> {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        let (file_name, stored, uploader_id, checked, skip_registered): (
            String,
            Vec<u8>,
            String,
            String,
            bool,
        ) = import_jobs::table
            .find(job_id)
            .select((
                import_jobs::file_name,
                import_jobs::file,
                import_jobs::user_id,
                import_jobs::report,
                import_jobs::skip_registered,
            ))
            .first(&mut conn)
            .map_err(|e| e.to_string())?;
        let options = ImportOptions { skip_registered };
        let Some(bytes) = key.decrypt_bytes(&stored) else {
            // Deleted (expired), or kept in the clear by an older version.
            set_job(
                &mut conn,
                job_id,
                ImportState::Failed,
                0,
                0,
                &error_report(FieldError::new("field.file", "error.import_expired")),
            )
            .map_err(|e| e.to_string())?;
            return Ok(());
        };
        let table = match read_table(&file_name, &bytes) {
            Ok(t) => t,
            Err(e) => {
                set_job(
                    &mut conn,
                    job_id,
                    ImportState::Failed,
                    0,
                    0,
                    &error_report(e),
                )
                .map_err(|e| e.to_string())?;
                return Ok(());
            }
        };
        let total = table.rows.len() as i64;
        if commit_it {
            // Written as the person who uploaded and checked the file, within
            // their scope (not the confirmer's), and only as it was checked.
            let uploader = crate::users::find(&mut conn, &uploader_id)
                .map_err(|e| e.to_string())?
                .filter(|u| !u.disabled)
                .ok_or("the uploader no longer exists or is disabled")?;
            let uploader_scope =
                crate::users::scope_of(&mut conn, &uploader).map_err(|e| e.to_string())?;
            let as_uploader = Actor {
                user_id: uploader.id.clone(),
                username: uploader.username.clone(),
                role: uploader.role(),
                scope: uploader_scope,
                ip: actor.ip.clone(),
                request_id: actor.request_id.clone(),
                lang: actor.lang,
            };
            let fingerprint = serde_json::from_str::<Report>(&checked)
                .map(|r| r.fingerprint)
                .unwrap_or_default();
            set_job(
                &mut conn,
                job_id,
                ImportState::Importing,
                0,
                total,
                &checked,
            )
            .map_err(|e| e.to_string())?;
            let outcome = commit_checked(
                &mut conn,
                &as_uploader,
                key,
                &table,
                &file_name,
                today,
                options,
                &fingerprint,
                &actor.username,
            )
            .map_err(|e| format!("{e:?}"))?;
            let (state, report) = match outcome {
                Confirmed::Done(r) => (ImportState::Done, r),
                // Back to "checked" with the new check, to be reviewed.
                Confirmed::Changed(r) => (ImportState::Checked, r),
            };
            keep_refused(&mut conn, key, job_id, &table, &report).map_err(|e| e.to_string())?;
            set_job(
                &mut conn,
                job_id,
                state,
                total,
                total,
                &serde_json::to_string(&report).unwrap_or_default(),
            )
            .map_err(|e| e.to_string())?;
        } else {
            let mut progress_conn = pool.get().map_err(|e| e.to_string())?;
            let report = check(
                &mut conn,
                key,
                actor,
                &table,
                options,
                &mut |done, total| {
                    let _ = set_job(
                        &mut progress_conn,
                        job_id,
                        ImportState::Checking,
                        done as i64,
                        total as i64,
                        "",
                    );
                },
            )
            .map_err(|e| format!("{e:?}"))?;
            audit_check(&mut conn, actor, &file_name, &report).map_err(|e| e.to_string())?;
            keep_refused(&mut conn, key, job_id, &table, &report).map_err(|e| e.to_string())?;
            set_job(
                &mut conn,
                job_id,
                ImportState::Checked,
                total,
                total,
                &serde_json::to_string(&report).unwrap_or_default(),
            )
            .map_err(|e| e.to_string())?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        tracing::error!(job = job_id, error = %e, "import job failed");
        if let Ok(mut conn) = pool.get() {
            let _ = set_job(
                &mut conn,
                job_id,
                ImportState::Failed,
                0,
                0,
                &error_report(FieldError::new("field.file", "error.import_failed")),
            );
        }
    }
}
