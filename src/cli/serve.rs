//! `aixin serve`: the first administrator, the demo when asked for, the
//! server and its housekeeping.

use super::*;

pub(super) fn run_demo(
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

pub(super) fn serve(config: Config, bind: Option<String>, demo: bool) -> ExitCode {
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
