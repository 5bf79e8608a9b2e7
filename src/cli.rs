//! The command line: serve (the default), migrate, and user management.

use std::io::{BufRead, IsTerminal};
use std::net::TcpListener;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::audit::AuditCtx;
use crate::config::{Config, LogFormat};
use crate::crypto::DataKey;
use crate::db::{self, DbPool};
use crate::domain::{NewPassword, Username};
use crate::i18n::{self, Lang};
use crate::state::AppState;
use crate::users::{self, Assignment, InitialPassword, UserError};

#[derive(Parser, Debug)]
#[command(
    name = "aixin",
    version,
    about = "爱心超市积分管理 Aixin: points-for-goods charity stores"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web app (the default).
    Serve {
        /// Address to listen on, e.g. 0.0.0.0:8080 [env: AIXIN_BIND; default 127.0.0.1:8080]
        #[arg(long)]
        bind: Option<String>,
        /// On an empty database, first fill in a small demo city (2,000
        /// households) and print the demo logins.
        #[arg(long)]
        demo: bool,
    },
    /// Fill an empty database with a demo city, deterministically for a seed.
    Demo {
        #[arg(long, default_value_t = 2000)]
        households: usize,
        /// Months of history, ending with the current month.
        #[arg(long, default_value_t = 1)]
        months: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Spread the households over this many cities; more than one puts
        /// them under one province.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=100))]
        cities: u16,
        /// Plant a known set of anomalies (one or more per integrity signal)
        /// in the month two before the current one; needs at least 800
        /// households and 3 months (8 for the never-redeeming household).
        #[arg(long)]
        plant_anomalies: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage staff accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Take a consistent backup while the app keeps serving (SQLite: VACUUM
    /// INTO; PostgreSQL: pg_dump -Fc).
    Backup {
        /// The backup file to create
        file: std::path::PathBuf,
    },
    /// Replace the database with a backup (stop the app servers first), then
    /// verify the ledger.
    Restore {
        file: std::path::PathBuf,
        /// Overwrite a database that is not empty.
        #[arg(long)]
        force: bool,
    },
    /// The points ledger.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// The integrity signals.
    Signals {
        #[command(subcommand)]
        command: SignalsCommand,
    },
    /// Import data from files.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Expire points by the scheme's setting (expiry_years or expiry_months),
    /// oldest points first. Running it twice expires nothing more.
    Expire {
        /// The day to expire as of, YYYY-MM-DD [default: today in AIXIN_TIME_ZONE]
        #[arg(long)]
        as_of: Option<String>,
    },
    /// Erase the personal data of households archived longer ago than the
    /// retention_years setting (name kept as initials; ledgers kept).
    Retention {
        /// Only list the households that would be erased; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum SignalsCommand {
    /// Forget the stored monthly figures of the integrity signals (the
    /// signals page's 12-month sparkline) and compute the last months
    /// again for the city and its districts (after changing a threshold,
    /// or to check them); other areas' are computed in memory when shown.
    Rebuild {
        /// Months before the current one to compute
        #[arg(long, default_value_t = 11)]
        months: usize,
    },
}

#[derive(Subcommand, Debug)]
pub enum LedgerCommand {
    /// Recompute the hash chain and every balance; exit 1 and name the first
    /// entry that does not match when anything is wrong.
    Verify,
    /// Make the monthly reporting totals again from the entries (after
    /// writing entries in bulk, or when `verify` says they differ), then
    /// verify.
    RebuildTotals,
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Import households from an XLSX or CSV file (Chinese column headers),
    /// as the pages do it: the file is checked (and the check audited), then
    /// the valid rows are written in one transaction, only while checking
    /// again gives the same check. Rows are matched by ID number, so
    /// importing the same file twice changes nothing.
    Households {
        /// The .xlsx or .csv file
        file: std::path::PathBuf,
        /// The administrator (username) the import is done and audited as.
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        /// Only check the file and report; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply the listed changes to households already registered
        /// (without it, a file that would change any is not imported).
        #[arg(long)]
        apply_updates: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account. Without --password-stdin a strong password is
    /// generated, printed once, and must be changed at first login.
    Add {
        #[arg(long)]
        username: String,
        /// admin, official, reviewer, clerk or auditor
        #[arg(long)]
        role: String,
        /// Area id (officials and reviewers)
        #[arg(long)]
        area: Option<String>,
        /// Store id (clerks)
        #[arg(long)]
        store: Option<String>,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (generated unless --password-stdin); ends the
    /// user's sessions.
    Passwd {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable an account and end its sessions.
    Disable {
        #[arg(long)]
        username: String,
    },
}

/// Exit code for a configuration or database that cannot be used.
const EXIT_SETUP: u8 = 2;

/// glibc's malloc, tuned for a server that hashes passwords:
/// - busy threads get arenas of their own, up to eight per core, and each
///   keeps the memory it once used: two arenas held a third less memory
///   under load, at the same speed (`MALLOC_ARENA_MAX`, when set, decides);
/// - a freed large block raises the size above which blocks are mapped
///   afresh, up to 32 MB, so after the first login every argon2 hash (19 MB)
///   came from an arena and stayed there: the peak memory under the same
///   load varied from 150 to 230 MB. A fixed 1 MB threshold gives every
///   such block back when it is freed (`MALLOC_MMAP_THRESHOLD_`, when set,
///   decides).
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let unset = |name: &str| std::env::var(name).map_or(true, |v| v.trim().is_empty());
        // SAFETY: mallopt only changes malloc's tuning; called before any
        // other thread exists.
        unsafe {
            if unset("MALLOC_ARENA_MAX") {
                libc::mallopt(libc::M_ARENA_MAX, 2);
            }
            if unset("MALLOC_MMAP_THRESHOLD_") {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
            }
        }
    }
}

pub fn main() -> ExitCode {
    tune_malloc();
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("aixin: configuration error: {e}");
            return ExitCode::from(EXIT_SETUP);
        }
    };
    init_logging(config.log_format);
    db::set_slow_query_ms(config.slow_query_ms);
    match cli.command.unwrap_or(Command::Serve {
        bind: None,
        demo: false,
    }) {
        Command::Serve { bind, demo } => serve(config, bind, demo),
        Command::Demo {
            households,
            months,
            seed,
            cities,
            plant_anomalies,
        } => {
            let (pool, _) = match open_db(&config) {
                Ok(p) => p,
                Err(code) => return code,
            };
            let key = match load_key(&config, &pool) {
                Ok(k) => k,
                Err(code) => return code,
            };
            match run_demo(
                &config,
                &pool,
                &key,
                crate::demo::DemoSize {
                    households,
                    months,
                    seed,
                },
                cities as usize,
                plant_anomalies,
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(msg) => {
                    eprintln!("aixin: {msg}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Migrate => with_db(&config, |pool| {
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            let applied = db::migrate(&mut conn).map_err(|e| e.to_string())?;
            // `open` already applied them; report what the database has now.
            println!(
                "aixin: database is up to date ({} new migrations applied)",
                applied.len()
            );
            Ok(())
        }),
        Command::User { command } => with_db(&config, |pool| user_command(&config, pool, command)),
        Command::Backup { file } => with_db(&config, |pool| {
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            crate::backup::backup(&mut conn, &config.database_url, &file)
                .map_err(|e| e.to_string())?;
            println!("aixin: backup written to {}", file.display());
            Ok(())
        }),
        Command::Restore { file, force } => {
            // Check emptiness on the database as it is now (if it opens at all).
            let pool = db::open(&config.database_url, 1).ok().map(|(p, _)| p);
            if let Err(e) =
                crate::backup::restore(pool.as_ref(), &config.database_url, &file, force)
            {
                eprintln!("aixin: {e}");
                return ExitCode::FAILURE;
            }
            drop(pool);
            let (pool, _) = match open_db(&config) {
                Ok(p) => p,
                Err(code) => return code,
            };
            println!(
                "aixin: restored from {}; checking the ledger",
                file.display()
            );
            match verify_ledger(&pool) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(msg) => {
                    eprintln!("aixin: {msg}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Signals {
            command: SignalsCommand::Rebuild { months },
        } => with_db(&config, |pool| {
            let key = load_key(&config, pool).map_err(|_| "the data key".to_string())?;
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            let n = crate::signals::trend::rebuild(&mut conn, config.time_zone, &key, months)
                .map_err(|e| e.to_string())?;
            println!("aixin: signal figures computed again for {n} months");
            Ok(())
        }),
        Command::Ledger {
            command: LedgerCommand::Verify,
        } => {
            let (pool, _) = match open_db(&config) {
                Ok(p) => p,
                Err(code) => return code,
            };
            match verify_ledger(&pool) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(msg) => {
                    eprintln!("aixin: {msg}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Ledger {
            command: LedgerCommand::RebuildTotals,
        } => with_db(&config, |pool| {
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            crate::db::write_tx(&mut conn, |c| {
                crate::ledger::totals::rebuild(c, config.time_zone)?;
                crate::audit::record(
                    c,
                    &AuditCtx::console(),
                    "ledger.rebuild_totals",
                    "ledger",
                    "points",
                    "",
                )
            })
            .map_err(|e| e.to_string())?;
            drop(conn);
            match verify_ledger(pool)? {
                true => Ok(()),
                false => Err("the ledger check failed after the rebuild".into()),
            }
        }),
        Command::Expire { as_of } => with_db(&config, |pool| expire(&config, pool, as_of)),
        Command::Retention { dry_run } => with_db(&config, |pool| retention(pool, dry_run)),
        Command::Import {
            command:
                ImportCommand::Households {
                    file,
                    as_user,
                    dry_run,
                    apply_updates,
                },
        } => {
            let (pool, _) = match open_db(&config) {
                Ok(p) => p,
                Err(code) => return code,
            };
            let key = match load_key(&config, &pool) {
                Ok(k) => k,
                Err(code) => return code,
            };
            match import_households(
                &pool,
                &key,
                &ImportRun {
                    file: &file,
                    as_user: &as_user,
                    dry_run,
                    apply_updates,
                },
                crate::time::today(config.time_zone),
            ) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(msg) => {
                    eprintln!("aixin: {msg}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn open_db(config: &Config) -> Result<(DbPool, db::Backend), ExitCode> {
    db::open(&config.database_url, config.pool_size).map_err(|e| {
        eprintln!("aixin: {e}");
        ExitCode::from(EXIT_SETUP)
    })
}

/// The data key for people's data, checked against the database.
pub fn load_key(config: &Config, pool: &DbPool) -> Result<std::sync::Arc<DataKey>, ExitCode> {
    let key = DataKey::load_or_create(config.data_key.as_deref(), &config.data_key_file).map_err(
        |e| {
            eprintln!("aixin: {e}");
            ExitCode::from(EXIT_SETUP)
        },
    )?;
    let mut conn = pool.get().map_err(|e| {
        eprintln!("aixin: {e}");
        ExitCode::from(EXIT_SETUP)
    })?;
    key.check_against(&mut conn).map_err(|e| {
        eprintln!("aixin: {e}");
        ExitCode::from(EXIT_SETUP)
    })?;
    Ok(std::sync::Arc::new(key))
}

fn with_db(config: &Config, f: impl FnOnce(&DbPool) -> Result<(), String>) -> ExitCode {
    let (pool, _) = match open_db(config) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match f(&pool) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("aixin: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run_demo(
    config: &Config,
    pool: &DbPool,
    key: &DataKey,
    size: crate::demo::DemoSize,
    cities: usize,
    plant: bool,
) -> Result<(), String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let bar = indicatif::ProgressBar::new(size.households as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let (logins, _, planted) = crate::demo::city::fill_cities(
        &mut conn,
        key,
        config.password_cost,
        size,
        cities,
        config.time_zone,
        crate::demo::city::FillOptions {
            plant,
            now: crate::db::now(),
        },
        &mut |step, done, total| {
            bar.set_message(step.to_string());
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )?;
    bar.finish_and_clear();
    if plant {
        if planted.is_empty() {
            return Err("no anomalies planted: the city needs at least 800 households (ten villages) and 3 months".into());
        }
        println!("aixin: planted {} anomalies:", planted.len());
        for p in &planted {
            println!("  {} {} {}", p.month, p.kind.as_str(), p.subject);
        }
    }
    println!(
        "aixin: demo city ready ({} households). Log in with password \"{}\" as:\n  {} (administrator)\n  {} (official)\n  {} (reviewer)\n  {} (store clerk)\n  {} (auditor)",
        size.households,
        crate::demo::DEMO_PASSWORD,
        logins.admin,
        logins.official,
        logins.reviewer,
        logins.clerk,
        logins.auditor
    );
    if cities > 1 {
        println!("  demo-auditor-province (auditor of the province's {cities} cities only)");
    }
    Ok(())
}

fn serve(config: Config, bind: Option<String>, demo: bool) -> ExitCode {
    let bind = bind.unwrap_or_else(|| config.bind.clone());
    let (pool, backend) = match open_db(&config) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match first_admin(&config, &pool) {
        Ok(()) => {}
        Err(msg) => {
            eprintln!("aixin: {msg}");
            return ExitCode::FAILURE;
        }
    }
    let listener = match TcpListener::bind(&bind) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("aixin: cannot listen on {bind}: {e}");
            return ExitCode::from(EXIT_SETUP);
        }
    };
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or(bind);
    let key = match load_key(&config, &pool) {
        Ok(k) => k,
        Err(code) => return code,
    };
    if demo {
        let empty = pool
            .get()
            .ok()
            .and_then(|mut c| crate::demo::is_empty(&mut c).ok())
            .unwrap_or(false);
        if empty {
            if let Err(msg) = run_demo(
                &config,
                &pool,
                &key,
                crate::demo::DemoSize {
                    households: 2000,
                    months: 6,
                    seed: 1,
                },
                1,
                false,
            ) {
                eprintln!("aixin: {msg}");
                return ExitCode::FAILURE;
            }
        } else {
            println!(
                "aixin: the database is not empty; --demo adds nothing. Demo logins use the password \"{}\"",
                crate::demo::DEMO_PASSWORD
            );
        }
    }
    // SQLite: keep the write-ahead log bounded while the server runs (db::wal).
    let _wal_keeper = match db::DbTarget::parse(&config.database_url) {
        Ok(db::DbTarget::Sqlite(path)) if config.wal_restart_mb > 0 => {
            let policy = db::wal::WalPolicy {
                restart_above: config.wal_restart_mb * 1024 * 1024,
                ..db::wal::WalPolicy::default()
            };
            match db::wal::keep(&path, policy) {
                Ok(k) => Some(k),
                Err(e) => {
                    eprintln!("aixin: cannot start the write-ahead log keeper: {e}");
                    return ExitCode::from(EXIT_SETUP);
                }
            }
        }
        _ => None,
    };
    let state = AppState::new(pool.clone(), config.clone(), backend, key.clone());
    let result = actix_web::rt::System::new().block_on(async move {
        let server = crate::server::serve(state, listener, None)?;
        actix_web::rt::spawn(housekeeping(pool, config, key));
        println!("aixin: serving on http://{addr} ({})", backend.name());
        server.await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aixin: server stopped: {e}");
            ExitCode::FAILURE
        }
    }
}

fn expire(config: &Config, pool: &DbPool, as_of: Option<String>) -> Result<(), String> {
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

fn retention(pool: &DbPool, dry_run: bool) -> Result<(), String> {
    use crate::households::retention;
    let lang = console_lang();
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let years = crate::settings::get(&mut conn, crate::settings::RETENTION_YEARS)
        .map_err(|e| e.to_string())?;
    if years == 0 {
        println!("{}", i18n::t(lang, "ops.retention_off_cli"));
        return Ok(());
    }
    let out = retention::run(&mut conn, &AuditCtx::console(), years, db::now(), dry_run)
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
async fn housekeeping(pool: DbPool, config: Config, key: std::sync::Arc<DataKey>) {
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

fn first_admin(config: &Config, pool: &DbPool) -> Result<(), String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let created = users::ensure_first_admin(
        &mut conn,
        config.password_cost,
        config.admin_password.as_deref(),
    )
    .map_err(|e| describe_user_error(&e))?;
    if let Some(first) = created {
        match first.generated {
            Some(pw) => println!(
                "aixin: created the first administrator.\n  username: admin\n  password: {pw}\n  (shown only this once; you will be asked to choose a new one at first login)"
            ),
            None => println!(
                "aixin: created the first administrator \"admin\" with the password from AIXIN_ADMIN_PASSWORD"
            ),
        }
    }
    Ok(())
}

/// Print the ledger check; true when it passed.
pub fn verify_ledger(pool: &DbPool) -> Result<bool, String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let r = crate::ledger::verify(&mut conn).map_err(|e| e.to_string())?;
    println!(
        "points ledger: {} entries, {} accounts, sum {}",
        r.entries, r.accounts, r.total
    );
    if let Some((seq, id, why)) = &r.broken_entry {
        println!("FAILED: entry #{seq} {id} does not match ({why})");
    }
    for (account, cached, summed) in &r.balance_mismatches {
        println!("FAILED: {account}: cached balance {cached}, entries sum to {summed}");
    }
    for (month, kind, kept, summed) in &r.totals_mismatches {
        println!("FAILED: reporting totals for {month} {kind}: {kept}, entries sum to {summed}");
    }
    for account in &r.negative {
        println!("FAILED: {account} is below zero");
    }
    let goods = crate::stock::verify_stock_ledger(&mut conn).map_err(|e| e.to_string())?;
    println!(
        "stock ledger: {} movements, {} documents checked against both ledgers",
        goods.entries, goods.workflows.checked
    );
    if let Some(b) = &goods.first_bad {
        println!(
            "FAILED: movement #{} {} does not match ({})",
            b.seq, b.id, b.problem
        );
    }
    if !goods.head_ok {
        println!("FAILED: the stock chain head does not point at the last movement");
    }
    for m in &goods.mismatches {
        println!(
            "FAILED: stock of item {} at store {}: cached {}, movements sum to {}",
            m.item_id, m.store_id, m.cached, m.ledger
        );
    }
    if let Some(d) = &goods.workflows.first {
        println!(
            "FAILED: the ledgers disagree about {} {} ({}): {}",
            d.workflow,
            d.number,
            d.id,
            crate::i18n::t(console_lang(), d.problem)
        );
    }
    let _ = crate::db::write_tx(&mut conn, |c| {
        crate::ledger::record_verify(c, &r)?;
        crate::audit::record(
            c,
            &AuditCtx::console(),
            "ledger.verify",
            "ledger",
            "points",
            if r.ok() && goods.ok() { "ok" } else { "FAILED" },
        )
    });
    let ok = r.ok() && goods.ok();
    if ok {
        println!("ok");
    }
    Ok(ok)
}

/// The console's language: Chinese when LANG says so, English otherwise.
fn console_lang() -> Lang {
    match std::env::var("LANG") {
        Ok(l) if l.starts_with("zh") => Lang::Zh,
        _ => Lang::En,
    }
}

/// What `aixin import households` was asked to do.
struct ImportRun<'a> {
    file: &'a std::path::Path,
    as_user: &'a str,
    dry_run: bool,
    apply_updates: bool,
}

/// The administrator a console import acts as: an enabled admin, by
/// username. Errors are the message to print.
fn console_admin(
    conn: &mut crate::db::DbConn,
    username: &str,
) -> Result<crate::auth::Actor, String> {
    let user = users::find_by_username(conn, &username.trim().to_lowercase())
        .map_err(|e| e.to_string())?
        .filter(|u| !u.disabled && u.role() == crate::domain::Role::Admin)
        .ok_or_else(|| format!("--as: \"{username}\" is not an enabled administrator"))?;
    Ok(crate::auth::Actor {
        user_id: user.id,
        username: user.username,
        role: crate::domain::Role::Admin,
        scope: crate::auth::Scope::All,
        ip: String::new(),
        request_id: "console".into(),
    })
}

/// Check a file and (unless `--dry-run`) import it through the same
/// operations as the pages: the check is audited as the administrator, and
/// the write happens only while checking again gives the same digest.
/// Returns whether every row could be imported.
fn import_households(
    pool: &DbPool,
    key: &DataKey,
    run: &ImportRun,
    today: chrono::NaiveDate,
) -> Result<bool, String> {
    use crate::households::import;
    let lang = console_lang();
    let file = run.file;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let actor = console_admin(&mut conn, run.as_user)?;
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let table = import::read_table(&name, &bytes).map_err(|e| i18n::field_error(lang, &e))?;
    let bar = indicatif::ProgressBar::new(table.rows.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(i18n::t(lang, "households.checking").to_string());
    let report = import::check(&mut conn, key, &actor, &table, &mut |done, _| {
        bar.set_position(done as u64)
    })
    .map_err(|e| format!("{e:?}"))?;
    bar.finish_and_clear();
    import::audit_check(&mut conn, &actor, &name, &report).map_err(|e| e.to_string())?;
    for e in &report.refused {
        println!(
            "{} {}: {}: {}",
            i18n::t(lang, "households.row"),
            e.row,
            i18n::t(lang, &e.field),
            e.message(&lang)
        );
    }
    for ch in &report.changes {
        let shown = |v: &str| {
            if ch.translate {
                i18n::t(lang, v).to_string()
            } else {
                v.to_string()
            }
        };
        println!(
            "{} {}: {}: {}: {} -> {}",
            i18n::t(lang, "households.row"),
            ch.row,
            ch.head_name,
            i18n::t(lang, &ch.field),
            shown(&ch.old),
            shown(&ch.new)
        );
    }
    let summary = |r: &import::Report| {
        format!(
            "{}: {}, {}: {}, {}: {}, {}: {}, {}: {}",
            i18n::t(lang, "households.rows_total"),
            r.total,
            i18n::t(lang, "households.rows_create"),
            r.create,
            i18n::t(lang, "households.rows_update"),
            r.update,
            i18n::t(lang, "households.rows_unchanged"),
            r.unchanged,
            i18n::t(lang, "households.rows_refused"),
            r.refused_rows()
        )
    };
    println!("{}", summary(&report));
    if run.dry_run {
        println!("(--dry-run: nothing was changed)");
        return Ok(report.refused.is_empty());
    }
    if report.create + report.update == 0 {
        return Ok(report.refused.is_empty());
    }
    if report.update > 0 && !run.apply_updates {
        return Err(format!(
            "{} (--apply-updates)",
            i18n::t(lang, "error.import_updates_unticked")
        ));
    }
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message(i18n::t(lang, "households.importing").to_string());
    spinner.enable_steady_tick(Duration::from_millis(120));
    let outcome = import::commit_checked(
        &mut conn,
        &actor,
        key,
        &table,
        &name,
        today,
        &report.fingerprint,
        &actor.username,
    )
    .map_err(|e| format!("{e:?}"))?;
    spinner.finish_and_clear();
    match outcome {
        import::Confirmed::Done(done) => {
            println!(
                "{} {}",
                i18n::t(lang, "households.import_done"),
                summary(&done)
            );
            Ok(done.refused.is_empty())
        }
        // Someone changed the register between the check and the write:
        // nothing was written; the operator runs the command again.
        import::Confirmed::Changed(_) => Err(i18n::t(lang, "error.import_changed").to_string()),
    }
}

fn describe_user_error(e: &UserError) -> String {
    match e {
        UserError::Invalid(f) | UserError::Conflict(_, f) => i18n::field_error(Lang::En, f),
        UserError::NotFound => "no such user".into(),
        other => other.to_string(),
    }
}

fn read_password_stdin() -> Result<NewPassword, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("password (then Enter):");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let pw = line.trim_end_matches(['\r', '\n']);
    NewPassword::parse("field.password", pw).map_err(|e| i18n::field_error(Lang::En, &e))
}

fn user_command(config: &Config, pool: &DbPool, command: UserCommand) -> Result<(), String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let ctx = crate::auth::Actor::console();
    match command {
        UserCommand::Add {
            username,
            role,
            area,
            store,
            password_stdin,
        } => {
            let username =
                Username::parse(&username).map_err(|e| i18n::field_error(Lang::En, &e))?;
            let assignment = Assignment::parse(
                &mut conn,
                &role,
                area.as_deref().unwrap_or(""),
                store.as_deref().unwrap_or(""),
            )
            .map_err(|e| describe_user_error(&e))?;
            let initial = if password_stdin {
                InitialPassword::Given(read_password_stdin()?)
            } else {
                InitialPassword::Generate
            };
            let (user, generated) = users::create(
                &mut conn,
                &ctx,
                config.password_cost,
                &username,
                "",
                &assignment,
                initial,
            )
            .map_err(|e| describe_user_error(&e))?;
            println!("created user {} ({})", user.username, user.role);
            if let Some(pw) = generated {
                println!("password: {pw}\n(shown only this once; to be changed at first login)");
            }
            Ok(())
        }
        UserCommand::Passwd {
            username,
            password_stdin,
        } => {
            let user = users::find_by_username(&mut conn, &username.trim().to_lowercase())
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no user named \"{username}\""))?;
            let new = if password_stdin {
                InitialPassword::Given(read_password_stdin()?)
            } else {
                InitialPassword::Generate
            };
            let generated =
                users::set_password(&mut conn, &ctx, config.password_cost, &user.id, new, None)
                    .map_err(|e| describe_user_error(&e))?;
            println!(
                "password of {} changed; their sessions have ended",
                user.username
            );
            if let Some(pw) = generated {
                println!("password: {pw}\n(shown only this once; to be changed at next login)");
            }
            Ok(())
        }
        UserCommand::Disable { username } => {
            let user = users::find_by_username(&mut conn, &username.trim().to_lowercase())
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no user named \"{username}\""))?;
            users::set_disabled(&mut conn, &ctx, &user.id, true)
                .map_err(|e| describe_user_error(&e))?;
            println!("user {} disabled; their sessions have ended", user.username);
            Ok(())
        }
    }
}
