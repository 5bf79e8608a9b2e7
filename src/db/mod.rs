//! The database: one connection type for SQLite and PostgreSQL, chosen by URL.

pub mod ids;
pub mod pinyin;
pub mod schema;
pub mod text_enum;
pub mod wal;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{CustomizeConnection, ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(diesel::SqliteConnection),
    Pg(diesel::PgConnection),
}

pub type DbPool = Pool<DbManager>;
pub type PooledConn = PooledConnection<DbManager>;

/// Opens connections of the backend the URL names. (The derived
/// `MultiConnection::establish` tries each backend in turn, which could open
/// a PostgreSQL URL as an SQLite file name.)
#[derive(Debug, Clone)]
pub struct DbManager {
    target: DbTarget,
}

impl DbManager {
    pub fn new(target: DbTarget) -> DbManager {
        DbManager { target }
    }

    pub fn establish(&self) -> ConnectionResult<DbConn> {
        match &self.target {
            DbTarget::Sqlite(path) => diesel::SqliteConnection::establish(path).map(DbConn::Sqlite),
            DbTarget::Postgres(url) => diesel::PgConnection::establish(url).map(DbConn::Pg),
        }
    }
}

impl ManageConnection for DbManager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        self.establish()
            .map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("DATABASE_URL must start with sqlite:// or postgres:// (got \"{0}\")")]
    UnknownScheme(String),
    #[error("cannot create the directory for the SQLite database {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the {backend} database: {message}")]
    Connect {
        backend: &'static str,
        message: String,
    },
    #[error("cannot apply the database migrations: {0}")]
    Migrate(String),
}

/// Where the database lives, parsed from `DATABASE_URL`.
#[derive(Debug, Clone)]
pub enum DbTarget {
    /// A file path for SQLite.
    Sqlite(String),
    /// A libpq URL for PostgreSQL.
    Postgres(String),
}

impl DbTarget {
    pub fn parse(url: &str) -> Result<Self, OpenError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(OpenError::UnknownScheme(url.to_string()));
            }
            Ok(DbTarget::Sqlite(path.to_string()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DbTarget::Postgres(url.to_string()))
        } else {
            Err(OpenError::UnknownScheme(redact_url(url)))
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            DbTarget::Sqlite(_) => Backend::Sqlite,
            DbTarget::Postgres(_) => Backend::Postgres,
        }
    }
}

/// A URL with its password removed, safe to print.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..scheme_end + 3], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// How many queries a pool's connections have run (for tests that check a
/// page runs no query per row); queries slower than the configured threshold are logged
/// with their SQL. Each connection has its own clone: the count is shared,
/// the clock is not.
#[derive(Debug, Clone, Default)]
pub struct QueryCount {
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
    started: Option<std::time::Instant>,
}

/// What a slow query's log line shows: the SQL on one line, cut short, and
/// never its bound values (names, card numbers ...).
fn slow_sql(debug: &str) -> String {
    let sql = debug.split(" -- binds:").next().unwrap_or(debug);
    let mut line = one_line(sql);
    if let Some((cut, _)) = line.char_indices().nth(600) {
        line.truncate(cut);
        line.push_str(" ...");
    }
    line
}

/// A query taking this long (in milliseconds) is logged as slow.
static SLOW_QUERY_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(200);

/// Log queries taking at least `ms` milliseconds (from the configuration).
pub fn set_slow_query_ms(ms: u64) {
    SLOW_QUERY_MS.store(ms.max(1), std::sync::atomic::Ordering::Relaxed);
}

/// SQLite: bytes of the database file each connection reads through
/// memory mapping (0: none).
static SQLITE_MMAP_BYTES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// SQLite: map up to `mb` MB of the database file into memory on every
/// connection opened from now on (`PRAGMA mmap_size`; from the
/// configuration, 0 = read by `pread` into each connection's own cache).
/// A page read is then a memory access instead of a system call and a copy;
/// the mapped pages are the operating system's file cache, shared by every
/// connection, and count in the process's resident size. SQLite is built
/// to allow up to 64 GB (`SQLITE_MAX_MMAP_SIZE`, .cargo/config.toml).
pub fn set_sqlite_mmap_mb(mb: u64) {
    SQLITE_MMAP_BYTES.store(
        mb.saturating_mul(1024 * 1024),
        std::sync::atomic::Ordering::Relaxed,
    );
}

impl QueryCount {
    pub fn get(&self) -> u64 {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl diesel::connection::Instrumentation for QueryCount {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        use diesel::connection::InstrumentationEvent;
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                self.count
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.started = Some(std::time::Instant::now());
            }
            InstrumentationEvent::FinishQuery { query, .. } => {
                if let Some(took) = self.started.take().map(|t| t.elapsed())
                    && took.as_millis() as u64
                        >= SLOW_QUERY_MS.load(std::sync::atomic::Ordering::Relaxed)
                {
                    tracing::warn!(
                        ms = took.as_millis() as u64,
                        sql = %slow_sql(&query.to_string()),
                        "slow query"
                    );
                }
            }
            _ => {}
        }
    }
}

/// Settings applied to every pooled connection.
#[derive(Debug, Default)]
struct ConnectionSetup {
    queries: QueryCount,
}

impl CustomizeConnection<DbConn, diesel::r2d2::Error> for ConnectionSetup {
    fn on_acquire(&self, conn: &mut DbConn) -> Result<(), diesel::r2d2::Error> {
        conn.set_instrumentation(self.queries.clone());
        if let DbConn::Sqlite(c) = conn {
            // busy_timeout first, so that switching to WAL waits for other writers.
            diesel::sql_query("PRAGMA busy_timeout = 10000")
                .execute(c)
                .and_then(|_| diesel::sql_query("PRAGMA journal_mode = WAL").execute(c))
                .and_then(|_| diesel::sql_query("PRAGMA synchronous = FULL").execute(c))
                .and_then(|_| diesel::sql_query("PRAGMA foreign_keys = ON").execute(c))
                .and_then(|_| {
                    // A restarted write-ahead log is cut back to this size (db::wal).
                    diesel::sql_query(format!(
                        "PRAGMA journal_size_limit = {}",
                        wal::JOURNAL_SIZE_LIMIT
                    ))
                    .execute(c)
                })
                .and_then(
                    |_| match SQLITE_MMAP_BYTES.load(std::sync::atomic::Ordering::Relaxed) {
                        0 => Ok(0),
                        bytes => {
                            diesel::sql_query(format!("PRAGMA mmap_size = {bytes}")).execute(c)
                        }
                    },
                )
                .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// Open the database, apply pending migrations and return a pool.
pub fn open(url: &str, max_size: u32) -> Result<(DbPool, Backend), OpenError> {
    open_counting(url, max_size).map(|(pool, backend, _)| (pool, backend))
}

/// `open`, and the count of queries the pool's connections run.
pub fn open_counting(url: &str, max_size: u32) -> Result<(DbPool, Backend, QueryCount), OpenError> {
    let target = DbTarget::parse(url)?;
    if let DbTarget::Sqlite(path) = &target
        && let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::Directory {
            path: path.clone(),
            source,
        })?;
    }
    let backend = target.backend();
    let manager = DbManager::new(target);
    // One connection first, so that a server that cannot be reached is one
    // clear error now rather than the pool's retries.
    let mut first = manager.establish().map_err(|e| OpenError::Connect {
        backend: backend.name(),
        message: one_line(&e.to_string()),
    })?;
    let setup = ConnectionSetup::default();
    let queries = setup.queries.clone();
    setup
        .on_acquire(&mut first)
        .map_err(|e| OpenError::Connect {
            backend: backend.name(),
            message: one_line(&e.to_string()),
        })?;
    migrate(&mut first).map_err(|e| OpenError::Migrate(one_line(&e.to_string())))?;
    drop(first);
    let pool = Pool::builder()
        .max_size(max_size)
        .connection_timeout(Duration::from_secs(10))
        // A PostgreSQL connection can die with its server and is tested
        // before use; an SQLite file cannot, and testing it is one more
        // query on every request.
        .test_on_check_out(backend == Backend::Postgres)
        .connection_customizer(Box::new(setup))
        .build(manager)
        .map_err(|e| OpenError::Connect {
            backend: backend.name(),
            message: one_line(&e.to_string()),
        })?;
    Ok((pool, backend, queries))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub type MigrationError = Box<dyn std::error::Error + Send + Sync>;

/// Apply every embedded migration the database does not have yet.
pub fn migrate(conn: &mut DbConn) -> Result<Vec<String>, MigrationError> {
    let applied: Vec<String> = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS)?,
        DbConn::Pg(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS)?,
    }
    .iter()
    .map(|v| v.to_string())
    .collect();
    // What SQL alone cannot migrate: names' pinyin keys (quick when none
    // is missing, as on every start after the first), and the running
    // totals the migrations just added, made from the tables they sum.
    pinyin::backfill(conn)?;
    let added = |version: &str| applied.iter().any(|v| v.starts_with(version));
    if added("20261202170000") || added("2026-12-02-170000") {
        write_tx(conn, crate::ledger::quiet::rebuild)?;
    }
    if added("20261202170100") || added("2026-12-02-170100") {
        write_tx(conn, crate::ledger::totals::rebuild_area_closings)?;
    }
    Ok(applied)
}

/// A value bound into a hand-written query.
pub enum Bind {
    Text(String),
    Int(i64),
    Date(chrono::NaiveDate),
    Ts(chrono::NaiveDateTime),
}

macro_rules! bound {
    ($db:ty, $sql:expr, $binds:expr) => {{
        let mut q = diesel::sql_query($sql).into_boxed::<$db>();
        for b in $binds {
            q = match b {
                Bind::Text(s) => q.bind::<diesel::sql_types::Text, _>(s.clone()),
                Bind::Int(n) => q.bind::<diesel::sql_types::BigInt, _>(*n),
                Bind::Date(d) => q.bind::<diesel::sql_types::Date, _>(*d),
                Bind::Ts(t) => q.bind::<diesel::sql_types::Timestamp, _>(*t),
            };
        }
        q
    }};
}

/// Run one hand-written query that returns rows, on either backend. The SQL
/// is written once with `$n` placeholders; SQLite reads them as `?n`.
pub fn load<T>(conn: &mut DbConn, sql: &str, binds: &[Bind]) -> QueryResult<Vec<T>>
where
    T: diesel::QueryableByName<diesel::sqlite::Sqlite>
        + diesel::QueryableByName<diesel::pg::Pg>
        + 'static,
{
    match conn {
        DbConn::Sqlite(c) => {
            bound!(diesel::sqlite::Sqlite, sql.replace('$', "?"), binds).load::<T>(c)
        }
        DbConn::Pg(c) => bound!(diesel::pg::Pg, sql.to_string(), binds).load::<T>(c),
    }
}

/// The placeholders `$from, $from+1, ...` of `n` values bound from
/// position `from` on (1-based, as `load` numbers them): the inside of an
/// `IN (...)` list of values known before the query, such as a few months.
/// A list lets the database seek each value in a key that starts with it;
/// SQLite reads a range over a key's first column, with a list on its
/// second, as a walk through every value of the first for each of the
/// list. `n` must be at least 1.
pub fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Run one hand-written query that returns rows, as `load` does, keeping
/// it prepared in the connection's statement cache: the next run with the
/// same text binds new values instead of parsing and planning it again
/// (diesel never keeps a `sql_query`). Only for a text with a fixed set of
/// shapes (never one with a list of placeholders as long as its input):
/// each different text is kept, once per connection, for the connection's
/// life. For pages read at every request (a household's statement).
///
/// Errors: the database's.
pub fn load_prepared<T>(conn: &mut DbConn, sql: &str, binds: &[Bind]) -> QueryResult<Vec<T>>
where
    T: diesel::QueryableByName<diesel::sqlite::Sqlite>
        + diesel::QueryableByName<diesel::pg::Pg>
        + 'static,
{
    match conn {
        DbConn::Sqlite(c) => Kept { sql, binds }.load::<T>(c),
        DbConn::Pg(c) => Kept { sql, binds }.load::<T>(c),
    }
}

/// A hand-written query with its values, safe to keep prepared (see
/// `load_prepared`): unlike `diesel::sql_query`, it does not tell the
/// connection never to cache it, so its text is the cache's key. Each `$n`
/// in the text becomes the backend's own placeholder bound to `binds[n-1]`
/// (a value used twice is bound twice).
struct Kept<'a> {
    sql: &'a str,
    binds: &'a [Bind],
}

impl diesel::query_builder::QueryId for Kept<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for Kept<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl<Conn> RunQueryDsl<Conn> for Kept<'_> {}

impl<DB> diesel::query_builder::QueryFragment<DB> for Kept<'_>
where
    DB: diesel::backend::Backend,
    String: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
    i64: diesel::serialize::ToSql<diesel::sql_types::BigInt, DB>,
    chrono::NaiveDate: diesel::serialize::ToSql<diesel::sql_types::Date, DB>,
    chrono::NaiveDateTime: diesel::serialize::ToSql<diesel::sql_types::Timestamp, DB>,
    DB: diesel::sql_types::HasSqlType<diesel::sql_types::Text>
        + diesel::sql_types::HasSqlType<diesel::sql_types::BigInt>
        + diesel::sql_types::HasSqlType<diesel::sql_types::Date>
        + diesel::sql_types::HasSqlType<diesel::sql_types::Timestamp>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Date, Text, Timestamp};
        let mut rest = self.sql;
        while let Some(at) = rest.find('$') {
            let digits = rest[at + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len() - at - 1);
            if digits == 0 {
                // A '$' of the text itself (in a string literal).
                out.push_sql(&rest[..=at]);
                rest = &rest[at + 1..];
                continue;
            }
            let n: usize = rest[at + 1..at + 1 + digits].parse().map_err(|_| {
                diesel::result::Error::QueryBuilderError(
                    format!("${} is too large", &rest[at + 1..at + 1 + digits]).into(),
                )
            })?;
            let bind = n
                .checked_sub(1)
                .and_then(|i| self.binds.get(i))
                .ok_or_else(|| {
                    diesel::result::Error::QueryBuilderError(format!("no value for ${n}").into())
                })?;
            out.push_sql(&rest[..at]);
            match bind {
                Bind::Text(s) => out.push_bind_param::<Text, String>(s)?,
                Bind::Int(n) => out.push_bind_param::<BigInt, i64>(n)?,
                Bind::Date(d) => out.push_bind_param::<Date, chrono::NaiveDate>(d)?,
                Bind::Ts(t) => out.push_bind_param::<Timestamp, chrono::NaiveDateTime>(t)?,
            }
            rest = &rest[at + 1 + digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

/// Run one hand-written statement (an upsert, say) on either backend, with
/// `$n` placeholders as for `load`; the number of rows it changed.
pub fn execute(conn: &mut DbConn, sql: &str, binds: &[Bind]) -> QueryResult<usize> {
    match conn {
        DbConn::Sqlite(c) => {
            bound!(diesel::sqlite::Sqlite, sql.replace('$', "?"), binds).execute(c)
        }
        DbConn::Pg(c) => bound!(diesel::pg::Pg, sql.to_string(), binds).execute(c),
    }
}

pub fn backend_of(conn: &DbConn) -> Backend {
    match conn {
        DbConn::Sqlite(_) => Backend::Sqlite,
        DbConn::Pg(_) => Backend::Postgres,
    }
}

/// Run `f` in a write transaction: `BEGIN IMMEDIATE` on SQLite, so that the
/// write lock is taken up front instead of failing half-way. A transaction
/// that loses to another writer (SQLite busy, PostgreSQL serialization failure
/// or deadlock) is retried a few times before the error is returned.
pub fn write_tx<T, E, F>(conn: &mut DbConn, mut f: F) -> Result<T, E>
where
    F: FnMut(&mut DbConn) -> Result<T, E>,
    E: From<DieselError> + RetryableError,
{
    if in_transaction(conn) {
        // Nested inside another operation's transaction: a savepoint, and
        // the outer transaction does any retrying.
        return nested_tx(conn, &mut f);
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        match write_tx_once(conn, &mut f) {
            Err(e) if attempt < 5 && e.is_retryable() => {
                std::thread::sleep(Duration::from_millis(20 * attempt));
            }
            other => return other,
        }
    }
}

fn write_tx_once<T, E, F>(conn: &mut DbConn, f: &mut F) -> Result<T, E>
where
    F: FnMut(&mut DbConn) -> Result<T, E>,
    E: From<DieselError>,
{
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConn::Pg(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    match f(conn) {
        Ok(value) => {
            let committed = match conn {
                DbConn::Sqlite(c) => AnsiTransactionManager::commit_transaction(c),
                DbConn::Pg(c) => AnsiTransactionManager::commit_transaction(c),
            };
            match committed {
                Ok(()) => Ok(value),
                Err(e) => {
                    rollback(conn);
                    Err(e.into())
                }
            }
        }
        Err(e) => {
            rollback(conn);
            Err(e)
        }
    }
}

fn in_transaction(conn: &mut DbConn) -> bool {
    let status = match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
        DbConn::Pg(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
    };
    matches!(status.transaction_depth(), Ok(Some(_)))
}

fn nested_tx<T, E, F>(conn: &mut DbConn, f: &mut F) -> Result<T, E>
where
    F: FnMut(&mut DbConn) -> Result<T, E>,
    E: From<DieselError>,
{
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction(c)?,
        DbConn::Pg(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    match f(conn) {
        Ok(v) => {
            match conn {
                DbConn::Sqlite(c) => AnsiTransactionManager::commit_transaction(c)?,
                DbConn::Pg(c) => AnsiTransactionManager::commit_transaction(c)?,
            }
            Ok(v)
        }
        Err(e) => {
            rollback(conn);
            Err(e)
        }
    }
}

fn rollback(conn: &mut DbConn) {
    let result = match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::rollback_transaction(c),
        DbConn::Pg(c) => AnsiTransactionManager::rollback_transaction(c),
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "rollback failed");
    }
}

/// Errors that mean "another transaction got there first; try again".
pub trait RetryableError {
    fn is_retryable(&self) -> bool;
}

impl RetryableError for DieselError {
    fn is_retryable(&self) -> bool {
        match self {
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
            DieselError::DatabaseError(_, info) => {
                let m = info.message();
                m.contains("database is locked")
                    || m.contains("database table is locked")
                    || m.contains("deadlock detected")
            }
            _ => false,
        }
    }
}

/// True when the error is a violated UNIQUE constraint.
pub fn is_unique_violation(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

/// A new time-ordered id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Current time in UTC, to the microsecond (what both databases keep).
pub fn now() -> chrono::NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    use chrono::Timelike;
    now.with_nanosecond(now.nanosecond() / 1000 * 1000)
        .unwrap_or(now)
}

/// `LIKE` pattern for area paths under `path` (paths hold only ids and '/',
/// never a LIKE wildcard).
pub fn path_prefix(path: &str) -> String {
    debug_assert!(!path.contains(['%', '_']));
    format!("{path}%")
}

diesel::define_sql_function! {
    /// SQL `lower()`: on SQLite it folds ASCII letters, on PostgreSQL every
    /// cased letter. Used on both sides of a search, so a text always finds
    /// itself and Latin letters match whatever their case, on both backends.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// `text` with LIKE's wildcards (`%`, `_`) and the escape character (`\`)
/// escaped, for a pattern used with `ESCAPE '\'`: what was typed matches
/// only itself.
pub fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A search condition: `column` contains `text` as typed (wildcards
/// escaped), ignoring case the same way on SQLite and PostgreSQL
/// (`lower(column) LIKE lower('%text%') ESCAPE '\'`). Every search by part
/// of a name goes through here (households, goods, the counter).
pub type Contains<E> = diesel::dsl::Escape<diesel::dsl::Like<lower<E>, lower<String>>>;

/// See [`Contains`].
pub fn contains<E>(column: E, text: &str) -> Contains<E>
where
    E: diesel::expression::AsExpression<diesel::sql_types::Text>,
{
    use diesel::expression_methods::EscapeExpressionMethods;
    lower(column)
        .like(lower(format!("%{}%", like_escape(text))))
        .escape('\\')
}

/// A search condition: `column` starts with `text` as typed (wildcards
/// escaped), ignoring case as [`contains`] does (the audit log's action
/// filter).
pub fn starts_with<E>(column: E, text: &str) -> Contains<E>
where
    E: diesel::expression::AsExpression<diesel::sql_types::Text>,
{
    use diesel::expression_methods::EscapeExpressionMethods;
    lower(column)
        .like(lower(format!("{}%", like_escape(text))))
        .escape('\\')
}

/// A search condition on a search key kept in lower case (a name's
/// pinyin): the key starts with `text` (lower case ASCII letters, see
/// `domain::pinyin::query`). A plain `LIKE 'text%'` on the column itself,
/// so the key's index serves it (NOCASE on SQLite, text_pattern_ops on
/// PostgreSQL).
pub fn key_prefix<E>(column: E, text: &str) -> diesel::dsl::Escape<diesel::dsl::Like<E, String>>
where
    E: diesel::expression::Expression<SqlType = diesel::sql_types::Text>
        + diesel::expression_methods::TextExpressionMethods,
{
    use diesel::expression_methods::EscapeExpressionMethods;
    column.like(format!("{}%", like_escape(text))).escape('\\')
}

/// Whether the database answers (for /healthz).
pub fn ping(conn: &mut DbConn) -> bool {
    diesel::sql_query("SELECT 1").execute(conn).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_escape_leaves_no_wildcard() {
        assert_eq!(like_escape("100%_a\\b"), "100\\%\\_a\\\\b");
        assert_eq!(like_escape("LED灯泡"), "LED灯泡");
    }

    fn versions(backend: &str) -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Pair {
        #[diesel(sql_type = diesel::sql_types::Text)]
        a: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        b: i64,
    }

    #[test]
    fn a_kept_query_binds_each_placeholder_where_it_stands() {
        let mut conn = DbConn::Sqlite(diesel::SqliteConnection::establish(":memory:").unwrap());
        let sql = "SELECT $1 || '$' || $1 AS a, $2 + 1 AS b";
        for (text, n) in [("x", 1), ("y", 41)] {
            let rows: Vec<Pair> =
                load_prepared(&mut conn, sql, &[Bind::Text(text.into()), Bind::Int(n)]).unwrap();
            assert_eq!(
                rows,
                vec![Pair {
                    a: format!("{text}${text}"),
                    b: n + 1
                }]
            );
        }
        // A placeholder without a value is an error, never a wrong query.
        assert!(load_prepared::<Pair>(&mut conn, "SELECT $3 AS a, 1 AS b", &[]).is_err());
    }

    #[test]
    fn slow_queries_are_logged_without_their_values() {
        let logged =
            slow_sql("SELECT * FROM households WHERE id_number = ? -- binds: [\"370102\"]");
        assert_eq!(logged, "SELECT * FROM households WHERE id_number = ?");
        let long = format!("INSERT INTO awards VALUES {}", "(?, ?), ".repeat(500));
        assert!(slow_sql(&long).ends_with(" ..."));
        assert!(slow_sql(&long).chars().count() < 700);
    }

    #[test]
    fn both_backends_have_every_migration() {
        let sqlite = versions("sqlite");
        let postgres = versions("postgres");
        assert!(!sqlite.is_empty());
        assert_eq!(
            sqlite, postgres,
            "migrations/sqlite and migrations/postgres must have the same versions"
        );
        for backend in ["sqlite", "postgres"] {
            for v in versions(backend) {
                for f in ["up.sql", "down.sql"] {
                    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("migrations")
                        .join(backend)
                        .join(&v)
                        .join(f);
                    assert!(p.exists(), "{} is missing", p.display());
                }
            }
        }
    }

    #[test]
    fn urls_pick_the_backend() {
        assert!(
            matches!(DbTarget::parse("sqlite://data/aixin.db"), Ok(DbTarget::Sqlite(p)) if p == "data/aixin.db")
        );
        assert!(
            matches!(DbTarget::parse("sqlite:///var/lib/aixin.db"), Ok(DbTarget::Sqlite(p)) if p == "/var/lib/aixin.db")
        );
        assert!(matches!(
            DbTarget::parse("postgres://u@h/db"),
            Ok(DbTarget::Postgres(_))
        ));
        assert!(matches!(
            DbTarget::parse("postgresql://u@h/db"),
            Ok(DbTarget::Postgres(_))
        ));
        assert!(DbTarget::parse("mysql://u@h/db").is_err());
        assert!(DbTarget::parse("sqlite://").is_err());
        assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn sqlite_connections_map_as_much_of_the_file_as_configured() {
        #[derive(QueryableByName)]
        struct Mapped {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            mmap_size: i64,
        }
        let mapped = |mb: u64| {
            set_sqlite_mmap_mb(mb);
            let dir = tempfile_dir();
            let (pool, _) = open(&format!("sqlite://{}/m.db", dir.display()), 1).unwrap();
            set_sqlite_mmap_mb(0);
            let m: Mapped = diesel::sql_query("PRAGMA mmap_size")
                .get_result(&mut pool.get().unwrap())
                .unwrap();
            m.mmap_size
        };
        // Above the 2 GB SQLite allows by default: the build raises its cap.
        assert_eq!(mapped(4096), 4096 * 1024 * 1024);
        assert_eq!(mapped(0), 0);
    }

    #[test]
    fn sqlite_connections_are_set_up_for_safety() {
        let dir = tempfile_dir();
        let url = format!("sqlite://{}/t.db", dir.display());
        let (pool, backend) = open(&url, 2).unwrap();
        assert_eq!(backend, Backend::Sqlite);
        let mut c = pool.get().unwrap();
        #[derive(QueryableByName)]
        struct Mode {
            #[diesel(sql_type = diesel::sql_types::Text)]
            journal_mode: String,
        }
        #[derive(QueryableByName)]
        struct Num {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            v: i64,
        }
        let m: Mode = diesel::sql_query("PRAGMA journal_mode")
            .get_result(&mut c)
            .unwrap();
        assert_eq!(m.journal_mode, "wal");
        let fk: Num = diesel::sql_query("SELECT foreign_keys AS v FROM pragma_foreign_keys")
            .get_result(&mut c)
            .unwrap();
        assert_eq!(fk.v, 1);
        let sync: Num = diesel::sql_query("SELECT synchronous AS v FROM pragma_synchronous")
            .get_result(&mut c)
            .unwrap();
        assert_eq!(sync.v, 2, "synchronous=FULL");
        let busy: Num = diesel::sql_query("SELECT timeout AS v FROM pragma_busy_timeout")
            .get_result(&mut c)
            .unwrap();
        assert!(busy.v >= 5000);
        // A write transaction holds the write lock from its first statement.
        let mut other = pool.get().unwrap();
        write_tx(&mut c, |c| {
            let r = diesel::sql_query("PRAGMA busy_timeout = 1")
                .execute(&mut *other)
                .and_then(|_| diesel::sql_query("BEGIN IMMEDIATE").execute(&mut *other));
            assert!(
                r.is_err(),
                "a second writer cannot begin while the first holds the lock"
            );
            diesel::sql_query("SELECT 1").execute(c)
        })
        .unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("aixin-db-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
