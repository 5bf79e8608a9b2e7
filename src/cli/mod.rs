//! The command line: serve (the default), migrate, and user management.

mod import;
mod jobs;
mod serve;
mod user;

use import::*;
use jobs::*;
use serve::*;
use user::*;

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
        /// Skip the rows whose ID number is already registered (a fixed
        /// file loaded again): counted as skipped, neither refused nor
        /// changing the household.
        #[arg(long)]
        skip_registered: bool,
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
    db::set_sqlite_mmap_mb(config.sqlite_mmap_mb);
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
                    skip_registered,
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
                    options: crate::households::import::ImportOptions { skip_registered },
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
            &crate::audit::Detail::new("verified")
                .word("result", crate::audit::ok_word(r.ok() && goods.ok()))
                .to_string(),
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
    options: crate::households::import::ImportOptions,
}
