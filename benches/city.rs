//! City-scale benchmarks (issue #9): each figure beside a baseline measured
//! on the same machine, in the same run, against the same database.
//!
//! ```sh
//! cargo bench --bench city                          # SQLite, 80,000 households x 24 months
//! AIXIN_BENCH_PG=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench city
//! ```
//!
//! Environment: `AIXIN_BENCH_HOUSEHOLDS` (80000), `AIXIN_BENCH_MONTHS` (24),
//! `AIXIN_BENCH_SECS` (10, per load test), `AIXIN_BENCH_DIR` (target/bench-city:
//! the generated SQLite city and its key are kept there and reused),
//! `AIXIN_BENCH_PG` (a PostgreSQL server: the city goes into database
//! `aixin_bench_<households>x<months>`, reused when present),
//! `AIXIN_BENCH_ONLY` (`sqlite` or `postgres`), `AIXIN_BENCH_PG_DB` (another
//! database name on that server, such as a copy of the city),
//! `AIXIN_BENCH_ROWS` (a comma list of `writes`, `pages`, `summary`,
//! `signals`, `import`, `verify`, `size`: only those rows; all by default).
//!
//! The load driver is this program's own (tokio + reqwest, keep-alive
//! connections, one session per simulated person), so the HTTP figures and
//! the fortunes baseline share the same client overhead on the same cores.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use askama::Template;
use diesel::prelude::*;

use aixin::db::schema::{
    households, items, ledger_heads, point_balances, point_entries, points_cards, redemption_lines,
    redemptions, stock, stock_chain_head, stores, users,
};
use aixin::db::{self, DbConn, DbPool};

#[path = "common/mod.rs"]
mod common;
use common::{Session, env_or, free_port, login, median};

const AIXIN: &str = env!("CARGO_BIN_EXE_aixin");

/// One measured figure with its baseline.
struct Row {
    what: String,
    value: String,
    baseline: String,
    ratio: Option<f64>,
    target: String,
}

/// Whether `AIXIN_BENCH_ROWS` asks for this group of rows (all when unset).
fn wants(group: &str) -> bool {
    match std::env::var("AIXIN_BENCH_ROWS") {
        Ok(rows) if !rows.trim().is_empty() => rows.split(',').any(|r| r.trim() == group),
        _ => true,
    }
}

fn row(what: &str, value: String, baseline: String, ratio: Option<f64>, target: &str) -> Row {
    // Each figure as soon as it is measured, in case a later one takes long.
    eprintln!(
        "  {what}: {value} | {baseline} | {}",
        ratio.map(|x| format!("{x:.2}")).unwrap_or_default()
    );
    Row {
        what: what.into(),
        value,
        baseline,
        ratio,
        target: target.into(),
    }
}

/// Latencies of a load run.
#[derive(Default)]
struct Load {
    ok: u64,
    failed: u64,
    secs: f64,
    latencies: Vec<Duration>,
}

impl Load {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.secs
    }

    fn pct(&mut self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        self.latencies.sort();
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1000.0
    }

    fn merge(&mut self, other: Load) {
        self.ok += other.ok;
        self.failed += other.failed;
        self.latencies.extend(other.latencies);
    }

    fn summary(&mut self) -> String {
        format!(
            "{:.0}/s, p50 {:.1} ms, p99 {:.1} ms{}",
            self.rate(),
            self.pct(0.5),
            self.pct(0.99),
            if self.failed > 0 {
                format!(", {} failed", self.failed)
            } else {
                String::new()
            }
        )
    }
}

struct Target {
    name: &'static str,
    url: String,
    key_file: PathBuf,
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("city: bench");
        return;
    }
    let households: usize = env_or("AIXIN_BENCH_HOUSEHOLDS", 80_000);
    let months: usize = env_or("AIXIN_BENCH_MONTHS", 24);
    let dir = PathBuf::from(
        std::env::var("AIXIN_BENCH_DIR")
            .unwrap_or_else(|_| format!("{}/target/bench-city", env!("CARGO_MANIFEST_DIR"))),
    );
    std::fs::create_dir_all(&dir).expect("bench dir");
    let only = std::env::var("AIXIN_BENCH_ONLY").unwrap_or_default();
    let mut targets = Vec::new();
    if only.is_empty() || only == "sqlite" {
        targets.push(Target {
            name: "SQLite",
            url: format!(
                "sqlite://{}",
                dir.join(format!("city-{households}x{months}.db")).display()
            ),
            key_file: dir.join(format!("city-{households}x{months}.key")),
        });
    }
    if let Ok(pg) = std::env::var("AIXIN_BENCH_PG")
        && (only.is_empty() || only == "postgres")
    {
        let name = std::env::var("AIXIN_BENCH_PG_DB")
            .unwrap_or_else(|_| format!("aixin_bench_{households}x{months}"));
        ensure_pg_database(&pg, &name);
        let (prefix, _) = pg.rsplit_once('/').expect("a database in AIXIN_BENCH_PG");
        targets.push(Target {
            name: "PostgreSQL",
            url: format!("{prefix}/{name}"),
            key_file: dir.join(format!("pg-{households}x{months}.key")),
        });
    }
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    println!(
        "# Aixin city benchmark\n\n{households} households x {months} months; {} cores ({cpu}); load {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    for t in &targets {
        let rows = run_target(t, households, months, &dir);
        let mut table = format!(
            "\n## {}\n\n| measure | Aixin | baseline | ratio | target |\n| --- | --- | --- | --- | --- |\n",
            t.name
        );
        for r in rows {
            table.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                r.what,
                r.value,
                r.baseline,
                r.ratio
                    .map(|x| format!("{x:.2}"))
                    .unwrap_or_else(|| "-".into()),
                r.target
            ));
        }
        println!("{table}");
        let _ = std::fs::write(
            dir.join(format!("results-{}-{households}x{months}.md", t.name)),
            &table,
        );
    }
}

fn ensure_pg_database(admin: &str, name: &str) {
    let mut c = diesel::PgConnection::establish(admin).expect("AIXIN_BENCH_PG reachable");
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let n: N = diesel::sql_query(format!(
        "SELECT COUNT(*) AS n FROM pg_database WHERE datname = '{name}'"
    ))
    .get_result(&mut c)
    .expect("list databases");
    if n.n == 0 {
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .expect("create the bench database");
    }
}

fn aixin(t: &Target) -> Command {
    let mut c = Command::new(AIXIN);
    c.env("DATABASE_URL", &t.url)
        .env("AIXIN_DATA_KEY_FILE", &t.key_file)
        .env("RUST_LOG", "warn");
    c
}

fn timed(mut c: Command) -> f64 {
    let t0 = Instant::now();
    let out = c.output().expect("run aixin");
    if !out.status.success() {
        panic!(
            "{:?} failed: {}{}",
            c,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    t0.elapsed().as_secs_f64()
}

fn run_target(t: &Target, households: usize, months: usize, dir: &Path) -> Vec<Row> {
    let mut rows = Vec::new();
    // The server reads AIXIN_SQLITE_MMAP_MB from the environment it
    // inherits; the baseline's pool reads the file the same way.
    if let Some(mb) = std::env::var("AIXIN_SQLITE_MMAP_MB")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        db::set_sqlite_mmap_mb(mb);
    }
    let (pool, _) = db::open(&t.url, 20).expect("open the bench database");
    let empty = aixin::demo::is_empty(&mut pool.get().unwrap()).unwrap();
    if empty {
        eprintln!("[{}] generating the city (once; it is kept)...", t.name);
        let mut c = aixin(t);
        c.args([
            "demo",
            "--households",
            &households.to_string(),
            "--months",
            &months.to_string(),
            "--seed",
            "1",
        ])
        .stdout(Stdio::null());
        let secs = timed(c);
        rows.push(row(
            &format!("`aixin demo` {households} households x {months} months"),
            format!("{secs:.0} s"),
            "-".into(),
            None,
            "minutes",
        ));
    }
    warm(t, &pool);
    let facts = Facts::load(&pool);
    eprintln!(
        "[{}] {} ledger entries, {} redemptions",
        t.name, facts.entries, facts.redemptions
    );

    // Redemptions: the raw writes in a loop, then the same through HTTP.
    let secs: f64 = env_or("AIXIN_BENCH_SECS", 10.0);
    facts.top_up(&pool);
    let port = free_port();
    let server = Server::start(t, port);
    let base = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let facts = Arc::new(facts);
    if wants("writes") {
        let mut raw1 = raw_writes(&pool, &facts, 1, secs);
        let mut raw16 = raw_writes(&pool, &facts, 16, secs);
        let mut http1 = rt.block_on(redeem_load(&base, facts.clone(), 1, secs));
        let mut http16 = rt.block_on(redeem_load(&base, facts.clone(), 16, secs));
        let target = if t.name == "SQLite" { 0.5 } else { 0.4 };
        rows.push(row(
            "redemptions, 1 clerk (HTTP)",
            http1.summary(),
            format!("raw writes, 1 writer: {}", raw1.summary()),
            Some(http1.rate() / raw1.rate()),
            &format!(">= {target:.2}"),
        ));
        rows.push(row(
            "redemptions, 16 clerks (HTTP)",
            http16.summary(),
            format!(
                "raw writes, 1 writer: {:.0}/s (16 writers: {})",
                raw1.rate(),
                raw16.summary()
            ),
            Some(http16.rate() / raw1.rate()),
            &format!(">= {target:.2}"),
        ));
    }

    if wants("pages") {
        // Pages against the fortunes baseline.
        let fport = free_port();
        let fortunes = Fortunes::start(pool.clone(), fport, facts.entries);
        let conc = 16;
        let mut fort = rt.block_on(page_load(
            &format!("http://127.0.0.1:{fport}"),
            None,
            conc,
            secs,
            Arc::new(
                (0..1000)
                    .map(|i| format!("/fortunes?n={}", (i * 7919) % facts.entries.max(1)))
                    .collect(),
            ),
        ));
        let clerk = rt.block_on(login(&base, &facts.clerks[0].0));
        let lookups: Vec<String> = facts
            .cards
            .iter()
            .take(2000)
            .map(|(c, _)| format!("/counter?card={c}"))
            .collect();
        let mut lookup = rt.block_on(page_load(&base, Some(clerk), conc, secs, Arc::new(lookups)));
        let admin = rt.block_on(login(&base, "demo-admin"));
        let statements: Vec<String> = facts
            .cards
            .iter()
            .take(2000)
            .map(|(_, h)| format!("/households/{h}/statement"))
            .collect();
        let mut statement = rt.block_on(page_load(
            &base,
            Some(admin),
            conc,
            secs,
            Arc::new(statements),
        ));
        let fort_summary = fort.summary();
        rows.push(row(
            &format!("counter card lookup, {conc} connections"),
            lookup.summary(),
            format!("fortunes: {fort_summary}"),
            Some(lookup.rate() / fort.rate()),
            ">= 0.35",
        ));
        rows.push(row(
            &format!("household statement, {conc} connections"),
            statement.summary(),
            format!("fortunes: {fort_summary}"),
            Some(statement.rate() / fort.rate()),
            if t.name == "SQLite" {
                ">= 0.45"
            } else {
                ">= 0.40"
            },
        ));
        fortunes.stop();
    }
    let rss = server.status_mb("VmHWM:");
    let anon = server.status_mb("RssAnon:");
    // With memory-mapped reads the peak counts the mapped file (the
    // operating system's file cache); the server's own memory is RssAnon.
    rows.push(row(
        "server memory under that load (VmHWM; RssAnon at the end)",
        format!("{rss:.0} MB; {anon:.0} MB"),
        "-".into(),
        None,
        "< 200 MB",
    ));
    server.stop();

    // The monthly summary against its raw aggregate SQL.
    let summaries: &[(&str, &String)] = if wants("summary") {
        &[("city", &facts.city), ("one town", &facts.town)]
    } else {
        &[]
    };
    for &(label, area) in summaries {
        let (app_ms, raw_ms) = summary_times(&pool, area, label == "city");
        rows.push(row(
            &format!("monthly summary, {label} (last full month)"),
            format!("{app_ms:.0} ms"),
            format!("raw aggregate SQL: {raw_ms:.0} ms"),
            Some(app_ms / raw_ms),
            if label == "city" {
                "<= 3, < 300 ms"
            } else {
                "-"
            },
        ));
    }

    if wants("signals") {
        // The month's integrity signals for the whole city, against the raw SQL
        // of their largest query (the month's awards with their households).
        let (first_ms, again_ms, raw_ms) = signals_times(&pool, &t.key_file, &facts.city);
        rows.push(row(
            "integrity signals, city (last full month; trend computed)",
            format!("{first_ms:.0} ms"),
            format!("raw SQL of the month's awards: {raw_ms:.0} ms"),
            Some(first_ms / raw_ms),
            "< 5 s",
        ));
        rows.push(row(
            "integrity signals, city (trend from its stored figures)",
            format!("{again_ms:.0} ms"),
            format!("raw SQL of the month's awards: {raw_ms:.0} ms"),
            Some(again_ms / raw_ms),
            "< 5 s",
        ));
    }

    if wants("import") {
        // Import and verify, through the command line.
        let file = dir.join(format!("import-{}.csv", t.name));
        write_import(&pool, &file, 20_000);
        let mut c = aixin(t);
        c.args(["import", "households"])
            .arg(&file)
            .args(["--as", "demo-admin", "--apply-updates"])
            .stdout(Stdio::null());
        let import_secs = timed(c);
        rows.push(row(
            "`aixin import households`, 20,000 rows",
            format!("{import_secs:.1} s"),
            "-".into(),
            None,
            "-",
        ));
    }
    if wants("verify") {
        let mut c = aixin(t);
        c.args(["ledger", "verify"]).stdout(Stdio::null());
        let verify_secs = timed(c);
        rows.push(row(
            &format!("`aixin ledger verify`, {} entries", facts.entries),
            format!("{verify_secs:.1} s"),
            "-".into(),
            None,
            "-",
        ));
    }
    if wants("size") {
        let (mb, what) = database_size(t, &pool);
        rows.push(row(
            &format!("database size ({what})"),
            format!("{mb:.0} MB"),
            "-".into(),
            None,
            "-",
        ));
    }
    rows
}

/// The database's size on disk in MB, and what was measured.
fn database_size(t: &Target, pool: &DbPool) -> (f64, &'static str) {
    #[derive(diesel::QueryableByName)]
    struct Size {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        bytes: i64,
    }
    let mut c = pool.get().unwrap();
    let sql = match &mut *c {
        DbConn::Sqlite(_) => {
            "SELECT CAST(page_count * page_size AS BIGINT) AS bytes
               FROM pragma_page_count(), pragma_page_size()"
        }
        DbConn::Pg(_) => "SELECT CAST(pg_database_size(current_database()) AS BIGINT) AS bytes",
    };
    let size: Vec<Size> = db::load(&mut c, sql, &[]).unwrap();
    let what = if t.name == "SQLite" {
        "the file's pages"
    } else {
        "pg_database_size"
    };
    (
        size.first().map(|s| s.bytes).unwrap_or(0) as f64 / 1e6,
        what,
    )
}

/// Read the whole database once, so that every measure starts from the
/// steady state of a server that has been running: the city in the
/// operating system's file cache (it fits in memory), not on disk. Without
/// this the pages that read households at random (the statement) measured
/// the disk, at half the rate, while the fortunes baseline's few hot rows
/// did not.
///
/// An SQLite file is read by a child process: a process that opens and
/// closes the database file itself drops the POSIX locks its own SQLite
/// connections hold on it (sqlite.org/howtocorrupt.html, 2.2), and the
/// benchmark's pool is open by then.
fn warm(t: &Target, pool: &DbPool) {
    let t0 = Instant::now();
    match t.url.strip_prefix("sqlite://") {
        Some(path) => {
            let read = Command::new("cat").arg(path).stdout(Stdio::null()).status();
            if !read.is_ok_and(|s| s.success()) {
                eprintln!("[{}] could not read {path} into the cache", t.name);
            }
        }
        None => {
            // pg_prewarm (in PostgreSQL's contrib) reads every table and
            // index of the city into the file cache.
            let c = &mut pool.get().unwrap();
            let _ = diesel::sql_query("CREATE EXTENSION IF NOT EXISTS pg_prewarm").execute(c);
            if let Err(e) = diesel::sql_query(
                "SELECT pg_prewarm(c.oid::regclass, 'read') FROM pg_class c
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')",
            )
            .execute(c)
            {
                eprintln!("[{}] could not warm the cache: {e}", t.name);
            }
        }
    }
    eprintln!(
        "[{}] database read into the file cache in {:.0} s",
        t.name,
        t0.elapsed().as_secs_f64()
    );
}

/// What the benchmarks need to know about the city.
struct Facts {
    entries: i64,
    redemptions: i64,
    item_id: aixin::domain::ItemId,
    item_name: String,
    /// (clerk username, store id)
    clerks: Vec<(String, aixin::domain::StoreId)>,
    /// The item's price at each clerk's store, in points: the total the
    /// counter shows for one, which its confirmation carries.
    prices: Vec<i64>,
    /// (card, household id) of households with points to spend.
    cards: Vec<(String, String)>,
    city: String,
    town: String,
}

impl Facts {
    fn load(pool: &DbPool) -> Facts {
        use aixin::db::schema::areas;
        let c = &mut pool.get().unwrap();
        let entries: i64 = point_entries::table.count().get_result(c).unwrap();
        let redemptions: i64 = redemptions::table.count().get_result(c).unwrap();
        let (item_id, item_name): (aixin::domain::ItemId, String) = items::table
            .order((items::points_price.asc(), items::name.asc()))
            .select((items::id, items::name))
            .first(c)
            .unwrap();
        let clerks: Vec<(String, aixin::domain::StoreId)> = users::table
            .inner_join(stores::table.on(users::store_id.eq(stores::id.nullable())))
            .filter(users::role.eq("clerk"))
            .order(stores::name.asc())
            .limit(16)
            .select((users::username, stores::id))
            .load(c)
            .unwrap();
        let item = aixin::goods::find(c, &item_id).unwrap().unwrap();
        let prices: Vec<i64> = clerks
            .iter()
            .map(|(_, store)| aixin::goods::price_at(c, store, &item).unwrap())
            .collect();
        let cards: Vec<(String, String)> =
            points_cards::table
                .inner_join(households::table)
                .inner_join(point_balances::table.on(point_balances::account.eq(
                    diesel::dsl::sql::<diesel::sql_types::Text>("'household:' || households.id"),
                )))
                .filter(points_cards::replaced_by.is_null())
                .filter(point_balances::balance.ge(30))
                .order(points_cards::card_no.asc())
                .limit(4000)
                .select((points_cards::card_no, households::id))
                .load(c)
                .unwrap();
        let city: String = areas::table
            .filter(areas::level.eq("city"))
            .select(areas::id)
            .first(c)
            .unwrap();
        let town: String = areas::table
            .filter(areas::level.eq("town"))
            .order(areas::path.asc())
            .select(areas::id)
            .first(c)
            .unwrap();
        assert!(
            !clerks.is_empty() && !cards.is_empty(),
            "a demo city is needed"
        );
        Facts {
            entries,
            redemptions,
            item_id,
            item_name,
            clerks,
            prices,
            cards,
            city,
            town,
        }
    }

    /// Enough of the cheapest item at the clerks' stores for every run.
    fn top_up(&self, pool: &DbPool) {
        let c = &mut pool.get().unwrap();
        for (_, store) in &self.clerks {
            aixin::stock::buy_in(
                c,
                &aixin::auth::Actor::console(),
                &aixin::idempotency::IdemKey::issue(),
                store,
                &self.item_id,
                "100000",
                "benchmark",
                aixin::time::today(chrono_tz::Asia::Shanghai),
            )
            .expect("top up the shelf");
        }
    }
}

/// The writes a redemption makes, with no application around them: the
/// household's balance (conditional), the store's, both chain heads, the
/// stock level (conditional), one points entry, one stock movement, the
/// redemption and its line, in one write transaction per redemption, through
/// the app's pool settings (SQLite: WAL, synchronous=FULL, BEGIN IMMEDIATE).
fn raw_writes(pool: &DbPool, f: &Facts, writers: usize, secs: f64) -> Load {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let t0 = Instant::now();
    let results: Vec<Load> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                s.spawn(move || {
                    let mut load = Load::default();
                    let mut c = pool.get().unwrap();
                    let (clerk, store) = &f.clerks[w % f.clerks.len()];
                    let mut i = w;
                    while Instant::now() < deadline {
                        let (card, household) = &f.cards[i % f.cards.len()];
                        i += writers;
                        let t = Instant::now();
                        let r = db::write_tx(&mut c, |c| {
                            raw_redemption(
                                c,
                                household,
                                card,
                                store,
                                clerk,
                                &f.item_id,
                                &f.item_name,
                            )
                        });
                        match r {
                            Ok(()) => {
                                load.ok += 1;
                                load.latencies.push(t.elapsed());
                            }
                            Err(_) => load.failed += 1,
                        }
                    }
                    load
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all = Load {
        secs: t0.elapsed().as_secs_f64(),
        ..Load::default()
    };
    for r in results {
        all.merge(r);
    }
    all
}

fn raw_redemption(
    c: &mut DbConn,
    household: &str,
    card: &str,
    store: &aixin::domain::StoreId,
    clerk: &str,
    item_id: &aixin::domain::ItemId,
    item_name: &str,
) -> QueryResult<()> {
    let h_acct = aixin::ledger::household_account(household);
    let s_acct = aixin::ledger::store_account(store);
    let now = db::now();
    let n = diesel::update(
        point_balances::table
            .find(&h_acct)
            .filter(point_balances::balance.ge(1)),
    )
    .set(point_balances::balance.eq(point_balances::balance - 1))
    .execute(c)?;
    if n != 1 {
        return Err(diesel::result::Error::NotFound);
    }
    diesel::update(point_balances::table.find(&s_acct))
        .set(point_balances::balance.eq(point_balances::balance + 1))
        .execute(c)?;
    diesel::update(ledger_heads::table.find("points"))
        .set(ledger_heads::seq.eq(ledger_heads::seq + 1))
        .execute(c)?;
    let (seq, prev): (i64, String) = ledger_heads::table
        .find("points")
        .select((ledger_heads::seq, ledger_heads::hash))
        .first(c)?;
    let redemption_id = db::new_id();
    let posting = aixin::ledger::Posting {
        debit: h_acct,
        credit: s_acct,
        amount: 1,
        kind: aixin::ledger::Kind::Redemption,
        ref_kind: "redemption".into(),
        ref_id: redemption_id.clone(),
        memo: "bench".into(),
        user_id: None,
        posted_on: now.date(),
        idempotency_key: Some(format!("redemption:{redemption_id}")),
        reverses: None,
    };
    let e = aixin::ledger::Entry::chained(seq, prev, db::new_id(), now, &posting);
    e.insert(c)?;
    diesel::update(ledger_heads::table.find("points"))
        .set(ledger_heads::hash.eq(&e.hash))
        .execute(c)?;
    // The ledger's monthly reporting totals, which the app keeps with every entry.
    aixin::ledger::totals::record(c, household, e.posted_on, "redemption", &redemption_id, -1)?;
    diesel::update(stock_chain_head::table.find(1))
        .set(stock_chain_head::seq.eq(stock_chain_head::seq + 1))
        .execute(c)?;
    let (mseq, mprev): (i64, String) = stock_chain_head::table
        .find(1)
        .select((stock_chain_head::seq, stock_chain_head::hash))
        .first(c)?;
    let n = diesel::update(
        stock::table
            .find((store, item_id))
            .filter(stock::quantity.ge(1)),
    )
    .set(stock::quantity.eq(stock::quantity - 1))
    .execute(c)?;
    if n != 1 {
        return Err(diesel::result::Error::NotFound);
    }
    let draft = aixin::stock::Draft {
        kind: aixin::stock::MovementKind::Redemption,
        item_id: item_id.clone(),
        quantity: 1,
        from: aixin::stock::Account::Shelf(store.clone()),
        to: aixin::stock::Account::Redeemed,
        donation_id: None,
        stocktake_id: None,
        reverses_id: None,
        reason: "bench".into(),
        user_id: None,
        username: clerk.into(),
    };
    let m = aixin::stock::Movement::chained(mseq, mprev, db::new_id(), now, draft);
    m.insert(c)?;
    let (from, to) = (m.from_store_id.as_ref(), m.to_store_id.as_ref());
    aixin::ledger::goods_totals::record(c, m.at, &m.kind, &m.item_id, m.quantity, from, to)?;
    diesel::update(stock_chain_head::table.find(1))
        .set(stock_chain_head::hash.eq(&m.hash))
        .execute(c)?;
    diesel::insert_into(redemptions::table)
        .values((
            redemptions::id.eq(&redemption_id),
            redemptions::number.eq(format!("BENCH-{}", e.id)),
            redemptions::store_id.eq(store),
            redemptions::household_id.eq(household),
            redemptions::card_no.eq(card),
            redemptions::clerk_username.eq(clerk),
            redemptions::total_points.eq(1),
            redemptions::balance_after.eq(0),
            redemptions::status.eq("completed"),
            redemptions::points_entry_id.eq(&e.id),
            redemptions::idempotency_key.eq(&e.id),
            redemptions::created_at.eq(now),
        ))
        .execute(c)?;
    diesel::insert_into(redemption_lines::table)
        .values((
            redemption_lines::id.eq(db::new_id()),
            redemption_lines::redemption_id.eq(&redemption_id),
            redemption_lines::line_no.eq(1),
            redemption_lines::item_id.eq(item_id),
            redemption_lines::item_name.eq(item_name),
            redemption_lines::unit.eq("-"),
            redemption_lines::quantity.eq(1),
            redemption_lines::unit_points.eq(1),
            redemption_lines::points.eq(1),
            redemption_lines::movement_id.eq(&m.id),
        ))
        .execute(c)?;
    // The summary's running totals of goods and redemptions, as the app's.
    aixin::ledger::redemption_totals::record(c, &redemption_id)?;
    aixin::ledger::redeemer_totals::record(c, household, now.date())?;
    Ok(())
}

/// A running `aixin serve`.
struct Server {
    child: Child,
}

impl Server {
    fn start(t: &Target, port: u16) -> Server {
        let mut c = aixin(t);
        c.args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = c.spawn().expect("start aixin serve");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Server { child }
    }

    /// A memory figure of the server's /proc status (`field` with its
    /// colon, such as "VmHWM:"), in MB.
    fn status_mb(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `clerks` clerks, each at their own store, confirming one-line baskets
/// (the counter's confirm POST: a fresh form key, the card, one item and
/// the total shown) as
/// fast as the server answers.
async fn redeem_load(base: &str, f: Arc<Facts>, clerks: usize, secs: f64) -> Load {
    let mut sessions = Vec::new();
    for k in 0..clerks {
        sessions.push(login(base, &f.clerks[k % f.clerks.len()].0).await);
    }
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for (k, s) in sessions.into_iter().enumerate() {
        let f = f.clone();
        let url = format!("{base}/counter");
        tasks.push(tokio::spawn(async move {
            let mut load = Load::default();
            let mut i = k * 7 + 10_000;
            let line = format!("{}*1", f.item_id);
            let total = f.prices[k % f.prices.len()].to_string();
            while Instant::now() < deadline {
                let (card, _) = &f.cards[i % f.cards.len()];
                i += clerks;
                let key = uuid::Uuid::new_v4().simple().to_string();
                let t = Instant::now();
                let res = s
                    .http
                    .post(&url)
                    .form(&[
                        ("csrf", s.csrf.as_str()),
                        ("card", card.as_str()),
                        ("key", key.as_str()),
                        ("line", line.as_str()),
                        ("total", total.as_str()),
                        ("confirm", "1"),
                    ])
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().as_u16() == 303 => {
                        let _ = r.bytes().await;
                        load.ok += 1;
                        load.latencies.push(t.elapsed());
                    }
                    Ok(r) => {
                        let status = r.status();
                        let body = r.text().await.unwrap_or_default();
                        if load.failed == 0 {
                            eprintln!(
                                "redemption answered {status}: {}",
                                &body[..body.len().min(300)]
                            );
                        }
                        load.failed += 1;
                    }
                    Err(_) => load.failed += 1,
                }
            }
            load
        }));
    }
    let mut all = Load::default();
    for t in tasks {
        all.merge(t.await.unwrap());
    }
    all.secs = t0.elapsed().as_secs_f64();
    all
}

/// GET the paths round-robin on `conc` connections for `secs` seconds.
async fn page_load(
    base: &str,
    session: Option<Session>,
    conc: usize,
    secs: f64,
    paths: Arc<Vec<String>>,
) -> Load {
    let http = match session {
        Some(s) => s.http,
        None => reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .unwrap(),
    };
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..conc {
        let http = http.clone();
        let paths = paths.clone();
        let base = base.to_string();
        tasks.push(tokio::spawn(async move {
            let mut load = Load::default();
            let mut i = k;
            while Instant::now() < deadline {
                let path = &paths[i % paths.len()];
                i += conc;
                let t = Instant::now();
                match http.get(format!("{base}{path}")).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        load.ok += 1;
                        load.latencies.push(t.elapsed());
                    }
                    Ok(r) => {
                        if load.failed == 0 {
                            eprintln!("GET {path} answered {}", r.status());
                        }
                        load.failed += 1;
                    }
                    Err(_) => load.failed += 1,
                }
            }
            load
        }));
    }
    let mut all = Load::default();
    for t in tasks {
        all.merge(t.await.unwrap());
    }
    all.secs = t0.elapsed().as_secs_f64();
    all
}

#[derive(Template)]
#[template(
    ext = "html",
    source = "<!doctype html><html><head><title>Fortunes</title></head><body><table>
<tr><th>seq</th><th>kind</th><th>account</th><th>amount</th><th>memo</th></tr>
{% for r in rows %}<tr><td>{{ r.0 }}</td><td>{{ r.1 }}</td><td>{{ r.2 }}</td><td>{{ r.3 }}</td><td>{{ r.4 }}</td></tr>
{% endfor %}</table></body></html>"
)]
struct FortunesPage {
    rows: Vec<(i64, String, String, i64, String)>,
}

/// The fortunes baseline: a minimal actix-web handler that reads 50 rows by
/// an indexed query (the ledger's primary key) through the same kind of
/// pool and renders them with askama.
struct Fortunes {
    handle: actix_web::dev::ServerHandle,
    thread: std::thread::JoinHandle<()>,
}

#[derive(serde::Deserialize)]
struct FortunesQuery {
    n: i64,
}

async fn fortunes(
    pool: actix_web::web::Data<DbPool>,
    q: actix_web::web::Query<FortunesQuery>,
) -> actix_web::HttpResponse {
    let pool = pool.into_inner();
    let from = q.n;
    let rows = actix_web::web::block(move || {
        let c = &mut pool.get().expect("a connection");
        point_entries::table
            .filter(point_entries::seq.gt(from))
            .order(point_entries::seq.asc())
            .limit(50)
            .select((
                point_entries::seq,
                point_entries::kind,
                point_entries::credit,
                point_entries::amount,
                point_entries::memo,
            ))
            .load::<(i64, String, String, i64, String)>(c)
    })
    .await;
    match rows {
        Ok(Ok(rows)) => actix_web::HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(FortunesPage { rows }.render().unwrap_or_default()),
        _ => actix_web::HttpResponse::InternalServerError().finish(),
    }
}

impl Fortunes {
    fn start(pool: DbPool, port: u16, _entries: i64) -> Fortunes {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let data = actix_web::web::Data::new(pool);
                let server = actix_web::HttpServer::new(move || {
                    actix_web::App::new()
                        .app_data(data.clone())
                        .route("/fortunes", actix_web::web::get().to(fortunes))
                })
                .workers(2)
                .bind(("127.0.0.1", port))
                .expect("bind the fortunes server")
                .run();
                tx.send(server.handle()).unwrap();
                let _ = server.await;
            })
        });
        Fortunes {
            handle: rx.recv().unwrap(),
            thread,
        }
    }

    fn stop(self) {
        actix_web::rt::System::new().block_on(self.handle.stop(true));
        let _ = self.thread.join();
    }
}

/// Milliseconds of the monthly summary (the report's function, as the page
/// calls it) and of the raw aggregate SQL it needs, median of 3, for the
/// last full month.
fn summary_times(pool: &DbPool, area_id: &str, whole_city: bool) -> (f64, f64) {
    let tz = chrono_tz::Asia::Shanghai;
    let month = aixin::reports::Month::of(aixin::time::today(tz)).prev();
    let c = &mut pool.get().unwrap();
    let mut app = Vec::new();
    // Three runs, or one when a run takes seconds; a run that outlasts
    // AIXIN_BENCH_SUMMARY_SECS (600) is reported as at least that long.
    let limit = Duration::from_secs(env_or("AIXIN_BENCH_SUMMARY_SECS", 600));
    while app.len() < 3 && app.iter().all(|ms| *ms < 2000.0) {
        let t = Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        let (pool2, area) = (pool.clone(), area_id.to_string());
        std::thread::spawn(move || {
            let c = &mut pool2.get().unwrap();
            let s = aixin::reports::monthly(c, tz, &area, month)
                .unwrap()
                .expect("the area");
            let _ = tx.send(s.ok());
        });
        match rx.recv_timeout(limit) {
            Ok(ok) => assert!(ok, "the summary adds up"),
            Err(_) => {
                eprintln!("  (the summary did not finish in {} s)", limit.as_secs());
                app.push(t.elapsed().as_secs_f64() * 1000.0);
                break;
            }
        }
        app.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    // The raw SQL: the month's household flows by kind, summed over the
    // area's households (for the whole city, over every household account).
    let path: String = aixin::db::schema::areas::table
        .find(area_id)
        .select(aixin::db::schema::areas::path)
        .first(c)
        .unwrap();
    let (start, end) = (month.first_day(), month.end_day());
    let sql = if whole_city {
        "SELECT kind, COUNT(*) AS n, CAST(SUM(amount) AS BIGINT) AS total FROM point_entries
          WHERE posted_on >= $1 AND posted_on < $2 GROUP BY kind"
            .to_string()
    } else {
        format!(
            "SELECT e.kind AS kind, COUNT(*) AS n, CAST(SUM(e.amount) AS BIGINT) AS total
               FROM point_entries e
              WHERE e.posted_on >= $1 AND e.posted_on < $2
                AND (e.credit IN (SELECT 'household:' || h.id FROM households h JOIN areas a ON a.id = h.area_id WHERE a.path LIKE '{path}%')
                  OR e.debit IN (SELECT 'household:' || h.id FROM households h JOIN areas a ON a.id = h.area_id WHERE a.path LIKE '{path}%'))
              GROUP BY e.kind"
        )
    };
    #[derive(QueryableByName)]
    #[allow(dead_code)]
    struct K {
        #[diesel(sql_type = diesel::sql_types::Text)]
        kind: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        total: i64,
    }
    let raw: Vec<f64> = (0..3)
        .map(|_| {
            let t = Instant::now();
            let rows: Vec<K> = match &mut **c {
                DbConn::Sqlite(s) => diesel::sql_query(sql.replace('$', "?"))
                    .bind::<diesel::sql_types::Date, _>(start)
                    .bind::<diesel::sql_types::Date, _>(end)
                    .load(s)
                    .unwrap(),
                DbConn::Pg(p) => diesel::sql_query(&sql)
                    .bind::<diesel::sql_types::Date, _>(start)
                    .bind::<diesel::sql_types::Date, _>(end)
                    .load(p)
                    .unwrap(),
            };
            assert!(!rows.is_empty());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    (median(app), median(raw))
}

/// Milliseconds of the signals page's report for the last full month and
/// the whole city: the first time (the eleven months of the sparkline
/// computed in memory), then, once the daily job's `trend::fill` has kept
/// their figures, the median of 3 with the trend read back; and
/// of the raw SQL of the month's awards (the largest of its queries, see
/// docs/signals.md), median of 3.
fn signals_times(pool: &DbPool, key_file: &Path, area_id: &str) -> (f64, f64, f64) {
    let key = aixin::crypto::DataKey::load_or_create(None, key_file).expect("the city's data key");
    let tz = chrono_tz::Asia::Shanghai;
    let month = aixin::time::Month::of(aixin::time::today(tz)).prev();
    let c = &mut pool.get().unwrap();
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let area = aixin::areas::find(c, area_id).unwrap().expect("the city");
    let t = aixin::signals::Thresholds::load(c).unwrap();
    diesel::delete(aixin::db::schema::signal_month_counts::table)
        .execute(&mut **c)
        .unwrap();
    let started = Instant::now();
    aixin::signals::compute_report(c, tz, &key, &area, month, &t).unwrap();
    let first = started.elapsed().as_secs_f64() * 1000.0;
    // The page writes nothing: the daily job keeps the sparkline's figures.
    let months = aixin::signals::trend::months_before(month, aixin::signals::trend::MONTHS_BEFORE);
    aixin::signals::trend::fill(c, tz, &key, &months).unwrap();
    let again: Vec<f64> = (0..3)
        .map(|_| {
            let started = Instant::now();
            aixin::signals::compute_report(c, tz, &key, &area, month, &t).unwrap();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let (raw, _) = common::raw_month_awards(c, tz, &area.path, month);
    (first, median(again), raw)
}

/// A household list of `n` new households in the app's import format, in
/// villages of the city ("district/town/village", so names are unique).
fn write_import(pool: &DbPool, file: &Path, n: usize) {
    use aixin::db::schema::areas;
    let c = &mut pool.get().unwrap();
    let all: Vec<(String, String, String)> = areas::table
        .select((areas::id, areas::name, areas::path))
        .load(c)
        .unwrap();
    let name_of: std::collections::HashMap<&str, &str> = all
        .iter()
        .map(|(i, n, _)| (i.as_str(), n.as_str()))
        .collect();
    let villages: Vec<String> = all
        .iter()
        .filter(|(_, _, p)| p.matches('/').count() == 5)
        .map(|(_, _, p)| {
            p.split('/')
                .filter(|s| !s.is_empty())
                .skip(1)
                .map(|id| name_of[id])
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    let mut out = csv::Writer::from_path(file).unwrap();
    out.write_record([
        "户主姓名",
        "身份证号",
        "联系电话",
        "所属村",
        "家庭住址",
        "家庭人口",
    ])
    .unwrap();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for i in 0..n {
        // Distinct from the demo's (370...) and from earlier runs.
        let body = format!(
            "45{:04}{}{:02}{:02}{:03}",
            (stamp / 7 + i as u64 / 1000) % 10_000,
            1950 + (i % 50),
            1 + (i / 50) % 12,
            1 + (i / 600) % 28,
            i % 1000
        );
        let id = format!(
            "{body}{}",
            aixin::domain::people::id_check_char(&body).unwrap()
        );
        out.write_record([
            format!("导入{i}"),
            id,
            format!("139{:08}", i),
            villages[i % villages.len()].clone(),
            format!("{}组", 1 + i % 5),
            format!("{}", 1 + i % 6),
        ])
        .unwrap();
    }
    out.flush().unwrap();
}
