//! The write-ahead log under sustained load (issue #21.5): clerks redeem as
//! fast as the server answers while readers are always present, and the
//! SQLite log file's size is sampled every second.
//!
//! ```sh
//! cargo build --release
//! AIXIN_BENCH_DIR=/tmp/bench-city cargo bench --bench wal           # 10 minutes, keeper on
//! AIXIN_WAL_RESTART_MB=0 AIXIN_BENCH_DIR=/tmp/bench-city cargo bench --bench wal   # keeper off
//! ```
//!
//! Environment: `AIXIN_BENCH_HOUSEHOLDS` (80000) and `AIXIN_BENCH_MONTHS`
//! (24): the city, made once and reused from `AIXIN_BENCH_DIR` like
//! `benches/city.rs` makes it (each run adds its redemptions to it);
//! `AIXIN_WAL_SECS` (600), `AIXIN_WAL_CLERKS` (8), `AIXIN_WAL_READERS` (16:
//! statements and card look-ups, plus the city's monthly summary every 5
//! seconds, a long read); `AIXIN_WAL_RESTART_MB` is passed on to the server (its keeper's
//! threshold; 0 = no keeper). It prints the log's size every 10 seconds and
//! a table at the end (largest and last size, redemptions and their p50 and
//! p99, per minute and overall), and writes the samples to
//! `$AIXIN_BENCH_DIR/wal-samples.csv`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;

use aixin::db::schema::{households, items, point_balances, points_cards, stores, users};

#[path = "common/mod.rs"]
mod common;
use common::{env_or, free_port, login};

const AIXIN: &str = env!("CARGO_BIN_EXE_aixin");

fn pct(v: &mut [Duration], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

struct Facts {
    item_id: aixin::domain::ItemId,
    /// (clerk username, the item's price at their store)
    clerks: Vec<(String, i64)>,
    /// (card, household id) of households with points to spend.
    cards: Vec<(String, String)>,
    city: String,
}

fn facts(url: &str) -> Facts {
    use aixin::db::schema::areas;
    let (pool, _) = aixin::db::open(url, 2).expect("open the city");
    let c = &mut pool.get().unwrap();
    let item_id: aixin::domain::ItemId = items::table
        .order((items::points_price.asc(), items::name.asc()))
        .select(items::id)
        .first(c)
        .unwrap();
    let item = aixin::goods::find(c, &item_id).unwrap().unwrap();
    let clerk_rows: Vec<(String, aixin::domain::StoreId)> = users::table
        .inner_join(stores::table.on(users::store_id.eq(stores::id.nullable())))
        .filter(users::role.eq("clerk"))
        .order(stores::name.asc())
        .limit(16)
        .select((users::username, stores::id))
        .load(c)
        .unwrap();
    let mut clerks = Vec::new();
    for (clerk, store) in clerk_rows {
        // Enough of the item on the shelf for the whole run.
        aixin::stock::buy_in(
            c,
            &aixin::auth::Actor::console(),
            &aixin::idempotency::IdemKey::issue(),
            &store,
            &item_id,
            "1000000",
            "benchmark",
            aixin::time::today(chrono_tz::Asia::Shanghai),
        )
        .expect("top up the shelf");
        clerks.push((clerk, aixin::goods::price_at(c, &store, &item).unwrap()));
    }
    let cards: Vec<(String, String)> = points_cards::table
        .inner_join(households::table)
        .inner_join(
            point_balances::table.on(point_balances::account.eq(diesel::dsl::sql::<
                diesel::sql_types::Text,
            >(
                "'household:' || households.id"
            ))),
        )
        .filter(points_cards::replaced_by.is_null())
        .filter(point_balances::balance.ge(30))
        .order(points_cards::card_no.asc())
        .limit(20_000)
        .select((points_cards::card_no, households::id))
        .load(c)
        .unwrap();
    let city: String = areas::table
        .filter(areas::parent_id.is_null())
        .select(areas::id)
        .first(c)
        .unwrap();
    assert!(
        !clerks.is_empty() && !cards.is_empty(),
        "a demo city is needed"
    );
    Facts {
        item_id,
        clerks,
        cards,
        city,
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("wal: bench");
        return;
    }
    let households: usize = env_or("AIXIN_BENCH_HOUSEHOLDS", 80_000);
    let months: usize = env_or("AIXIN_BENCH_MONTHS", 24);
    let secs: u64 = env_or("AIXIN_WAL_SECS", 600);
    let n_clerks: usize = env_or("AIXIN_WAL_CLERKS", 8);
    let n_readers: usize = env_or("AIXIN_WAL_READERS", 16);
    let restart_mb: u64 = env_or("AIXIN_WAL_RESTART_MB", 32);
    let dir = PathBuf::from(
        std::env::var("AIXIN_BENCH_DIR")
            .unwrap_or_else(|_| format!("{}/target/bench-city", env!("CARGO_MANIFEST_DIR"))),
    );
    std::fs::create_dir_all(&dir).unwrap();
    let db_path = dir.join(format!("city-{households}x{months}.db"));
    let db_path = db_path.to_string_lossy().to_string();
    let url = format!("sqlite://{db_path}");
    let key = dir.join(format!("city-{households}x{months}.key"));
    let aixin = || {
        let mut c = Command::new(AIXIN);
        c.env("DATABASE_URL", &url)
            .env("AIXIN_DATA_KEY_FILE", &key)
            .env("AIXIN_WAL_RESTART_MB", restart_mb.to_string())
            .env("RUST_LOG", "warn");
        c
    };
    if !std::path::Path::new(&db_path).exists() {
        eprintln!("[wal] making the city ({households} households x {months} months), once...");
        let ok = aixin()
            .args(["demo", "--households", &households.to_string()])
            .args(["--months", &months.to_string(), "--seed", "1"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success(), "aixin demo failed");
    }
    let f = Arc::new(facts(&url));
    let port = free_port();
    let _server = Server(
        aixin()
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start aixin serve"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let base = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    eprintln!(
        "[wal] {secs} s: {n_clerks} clerks redeeming, {n_readers} readers and a summary every 5 s; keeper at {restart_mb} MB (0: off)"
    );

    // The sampler: the log's size every second, on a thread of its own.
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        let path = db_path.clone();
        std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut samples: Vec<(f64, u64)> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let size = aixin::db::wal::wal_size(&path);
                let at = t0.elapsed().as_secs_f64();
                if samples.len().is_multiple_of(10) {
                    eprintln!("[wal] {at:>5.0} s: {:.1} MB", size as f64 / 1048576.0);
                }
                samples.push((at, size));
                std::thread::sleep(Duration::from_secs(1));
            }
            samples
        })
    };

    let run_for = Duration::from_secs(secs);
    let results = rt.block_on(async {
        let t0 = Instant::now();
        let mut writers = Vec::new();
        for k in 0..n_clerks {
            let (clerk, price) = f.clerks[k % f.clerks.len()].clone();
            let common::Session { http, csrf } = login(&base, &clerk).await;
            let f = f.clone();
            let base = base.clone();
            writers.push(tokio::spawn(async move {
                // (seconds since the start, latency) of each redemption.
                let mut done: Vec<(f64, Duration)> = Vec::new();
                let mut failed = 0u64;
                let line = format!("{}*1", f.item_id);
                let total = price.to_string();
                let mut i = k * 7919;
                while t0.elapsed() < run_for {
                    let (card, _) = &f.cards[i % f.cards.len()];
                    i += n_clerks;
                    let key = uuid::Uuid::new_v4().simple().to_string();
                    let t = Instant::now();
                    let res = http
                        .post(format!("{base}/counter"))
                        .form(&[
                            ("csrf", csrf.as_str()),
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
                            done.push((t0.elapsed().as_secs_f64(), t.elapsed()));
                        }
                        Ok(r) => {
                            if failed == 0 {
                                eprintln!("[wal] a redemption answered {}", r.status());
                            }
                            failed += 1;
                        }
                        Err(_) => failed += 1,
                    }
                }
                (done, failed)
            }));
        }
        let admin = login(&base, "demo-admin").await.http;
        let mut readers = Vec::new();
        for k in 0..n_readers {
            let http = admin.clone();
            let f = f.clone();
            let base = base.clone();
            readers.push(tokio::spawn(async move {
                let mut n = 0u64;
                let mut i = k;
                while t0.elapsed() < run_for {
                    let (card, household) = &f.cards[i % f.cards.len()];
                    i += n_readers;
                    let path = if i % 2 == 0 {
                        format!("/households/{household}/statement")
                    } else {
                        format!("/counter?card={card}")
                    };
                    if let Ok(r) = http.get(format!("{base}{path}")).send().await {
                        let _ = r.bytes().await;
                        n += 1;
                    }
                }
                n
            }));
        }
        // A long read: the city's monthly summary, every 5 seconds (an
        // administrator printing, while the counters and pages go on).
        let long = {
            let http = admin.clone();
            let base = base.clone();
            let city = f.city.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while t0.elapsed() < run_for {
                    if let Ok(r) = http
                        .get(format!("{base}/reports/monthly?area_id={city}"))
                        .send()
                        .await
                    {
                        let _ = r.bytes().await;
                        n += 1;
                    }
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
                n
            })
        };
        let mut done = Vec::new();
        let mut failed = 0;
        for w in writers {
            let (d, x) = w.await.unwrap();
            done.extend(d);
            failed += x;
        }
        let mut reads = 0;
        for r in readers {
            reads += r.await.unwrap();
        }
        let summaries = long.await.unwrap();
        (done, failed, reads, summaries, t0.elapsed().as_secs_f64())
    });
    stop.store(true, Ordering::Relaxed);
    let samples = sampler.join().unwrap();
    let (done, failed, reads, summaries, took) = results;

    let mut csv = String::from("seconds,wal_bytes\n");
    for (at, size) in &samples {
        csv.push_str(&format!("{at:.1},{size}\n"));
    }
    let _ = std::fs::write(dir.join("wal-samples.csv"), csv);
    let mb = |b: u64| b as f64 / 1048576.0;
    let largest = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let last = samples.last().map(|s| s.1).unwrap_or(0);
    println!(
        "\n## The write-ahead log, {took:.0} s, keeper at {restart_mb} MB (0: off)\n\n\
         {n_clerks} clerks, {n_readers} readers ({reads} pages) and a summary every 5 s ({summaries} summaries); \
         largest log {:.1} MB, last {:.1} MB; {} redemptions failed\n\n\
         | minute | redemptions | per second | p50 | p99 | largest log |\n| --- | --- | --- | --- | --- | --- |",
        mb(largest),
        mb(last),
        failed
    );
    let minutes = (took / 60.0).ceil().max(1.0) as usize;
    for m in 0..minutes {
        let (from, to) = (m as f64 * 60.0, (m + 1) as f64 * 60.0);
        let mut lat: Vec<Duration> = done
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .map(|d| d.1)
            .collect();
        let span = (to.min(took) - from).max(1.0);
        let log = samples
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .map(|s| s.1)
            .max()
            .unwrap_or(0);
        println!(
            "| {} | {} | {:.0} | {:.1} ms | {:.1} ms | {:.1} MB |",
            m + 1,
            lat.len(),
            lat.len() as f64 / span,
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.99),
            mb(log)
        );
    }
    let mut all: Vec<Duration> = done.iter().map(|d| d.1).collect();
    println!(
        "| all | {} | {:.0} | {:.1} ms | {:.1} ms | {:.1} MB |",
        all.len(),
        all.len() as f64 / took,
        pct(&mut all, 0.5),
        pct(&mut all, 0.99),
        mb(largest)
    );
}
