//! The integrity signals at city scale (issue #20), on a demo city with
//! planted anomalies: precision and recall per signal, whether every
//! planted anomaly is among its signal's first 20 findings, and how long
//! the month's signals for the whole city take (the page's first view, with
//! its sparkline computed in memory; the daily job keeping the sparkline's
//! figures; a later view reading them back; the month alone), beside the
//! raw SQL of the largest query (the month's awards with their households).
//!
//! ```sh
//! # a city made by `aixin demo --plant-anomalies`, and the list it printed:
//! AIXIN_SIGNALS_DB=sqlite:///tmp/city.db AIXIN_SIGNALS_KEY=/tmp/city.key \
//!   AIXIN_SIGNALS_PLANTED=/tmp/city.planted.txt cargo bench --bench signals
//! AIXIN_SIGNALS_DB=postgres://postgres@127.0.0.1:5432/city ... cargo bench --bench signals
//! # without AIXIN_SIGNALS_DB: a city generated through the library (once,
//! # kept in target/bench-signals/ with its key and planted list beside it)
//! cargo bench --bench signals
//! ```
//!
//! Environment: `AIXIN_SIGNALS_DB` (a SQLite file or URL, or a PostgreSQL
//! URL; an empty database is filled), `AIXIN_SIGNALS_KEY` (the city's data
//! key file; default beside a SQLite file, `<db>.key`), `AIXIN_SIGNALS_PLANTED`
//! (the `aixin demo --plant-anomalies` output; default `<db>.planted.txt`),
//! and for a generated city `AIXIN_BENCH_HOUSEHOLDS` (80000),
//! `AIXIN_BENCH_MONTHS` (24), seed 1.
//!
//! It forgets the stored sparkline figures (`signal_month_counts`) of the
//! database it is given: run it on a copy.

use std::path::{Path, PathBuf};
use std::time::Instant;

use diesel::prelude::*;

use aixin::db::{self, DbPool};
use aixin::demo::plant::Planted;
use aixin::signals::{self, Kind, Thresholds, trend};
use aixin::time::Month;

#[path = "common/mod.rs"]
mod common;
use common::{env_or, median, ms, raw_month_awards};

/// Findings of a signal the page shows: a planted anomaly must be among them.
const FIRST: usize = 20;

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The list `aixin demo --plant-anomalies` prints ("  <month> <kind>
/// <subject>" per line); other lines are skipped.
fn parse_planted(text: &str) -> Vec<Planted> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let month = Month::parse(parts.next()?).ok()?;
            let kind = Kind::parse(parts.next()?)?;
            let subject = parts.next()?.to_string();
            Some(Planted {
                kind,
                month,
                subject,
            })
        })
        .collect()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("signals: bench");
        return;
    }
    let households: usize = env_or("AIXIN_BENCH_HOUSEHOLDS", 80_000);
    let months: usize = env_or("AIXIN_BENCH_MONTHS", 24);
    let dir = PathBuf::from(format!(
        "{}/target/bench-signals",
        env!("CARGO_MANIFEST_DIR")
    ));
    let url = std::env::var("AIXIN_SIGNALS_DB").unwrap_or_else(|_| {
        std::fs::create_dir_all(&dir).expect("bench dir");
        format!(
            "sqlite://{}",
            dir.join(format!("city-{households}x{months}.db")).display()
        )
    });
    let is_pg = url.starts_with("postgres");
    // Files beside a SQLite database; for PostgreSQL, named after it.
    let stem = if is_pg {
        std::fs::create_dir_all(&dir).expect("bench dir");
        dir.join(url.rsplit('/').next().unwrap_or("city"))
            .display()
            .to_string()
    } else {
        let path = url.trim_start_matches("sqlite://");
        path.strip_suffix(".db").unwrap_or(path).to_string()
    };
    let key_file =
        PathBuf::from(std::env::var("AIXIN_SIGNALS_KEY").unwrap_or_else(|_| format!("{stem}.key")));
    let planted_file = PathBuf::from(
        std::env::var("AIXIN_SIGNALS_PLANTED").unwrap_or_else(|_| format!("{stem}.planted.txt")),
    );
    let tz = chrono_tz::Asia::Shanghai;
    let (pool, _) = db::open(&url, 4).expect("open the city's database");
    let empty = aixin::demo::is_empty(&mut pool.get().unwrap()).unwrap();
    if empty {
        generate(&pool, &key_file, &planted_file, households, months, tz);
    }
    assert!(
        key_file.exists(),
        "no data key at {} (AIXIN_SIGNALS_KEY)",
        key_file.display()
    );
    let key = aixin::crypto::DataKey::load_or_create(None, &key_file).expect("the city's data key");
    let planted = parse_planted(&std::fs::read_to_string(&planted_file).unwrap_or_else(|e| {
        panic!(
            "the planted list {} (AIXIN_SIGNALS_PLANTED): {e}",
            planted_file.display()
        )
    }));
    assert!(
        !planted.is_empty(),
        "nothing planted in {}",
        planted_file.display()
    );
    let month = planted[0].month;
    assert!(
        planted.iter().all(|p| p.month == month),
        "one planted month"
    );

    let c = &mut pool.get().unwrap();
    let area = aixin::areas::tree(c)
        .unwrap()
        .into_iter()
        .find(|a| a.level == "city")
        .expect("a city");
    let n_households: i64 = aixin::db::schema::households::table
        .count()
        .get_result(&mut **c)
        .unwrap();
    let t = Thresholds::load(c).unwrap();
    let load_before = load();
    println!(
        "# Integrity signals, {} ({n_households} households), month {month}\n\nload average at the start: {load_before}\n",
        if is_pg { "PostgreSQL" } else { "SQLite" },
    );

    // The page's first view: no kept figures, the sparkline's eleven months
    // before computed in memory (the page writes nothing).
    diesel::delete(aixin::db::schema::signal_month_counts::table)
        .execute(&mut **c)
        .unwrap();
    let started = Instant::now();
    signals::compute_report(c, tz, &key, &area, month, &t).unwrap();
    let first = ms(started);
    // What the daily job does for those months (`trend::fill`), for every
    // kept area (the city and its districts).
    let started = Instant::now();
    let filled = trend::fill(
        c,
        tz,
        &key,
        &trend::months_before(month, trend::MONTHS_BEFORE),
    )
    .unwrap();
    let fill = ms(started);
    // Later views: the sparkline from the kept figures.
    let mut report = None;
    let later = median(
        (0..3)
            .map(|_| {
                let started = Instant::now();
                report = Some(signals::compute_report(c, tz, &key, &area, month, &t).unwrap());
                ms(started)
            })
            .collect(),
    );
    let report = report.expect("a report");
    // The month alone, and its fetching alone.
    let alone = median(
        (0..3)
            .map(|_| {
                let started = Instant::now();
                signals::compute_month(c, tz, &key, &area.path, month, &t).unwrap();
                ms(started)
            })
            .collect(),
    );
    let fetch = median(
        (0..3)
            .map(|_| {
                let started = Instant::now();
                signals::fetch::month(c, tz, &key, &area.path, month, &t).unwrap();
                ms(started)
            })
            .collect(),
    );
    let (raw, raw_rows) = raw_month_awards(c, tz, &area.path, month);
    let load_after = load();

    println!(
        "| measure | time | baseline: raw SQL of the month's awards ({raw_rows} rows) | ratio | target |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for (what, v, target) in [
        (
            "the month's signals for the city, first view (its 11-month sparkline computed in memory)",
            first,
            "-",
        ),
        (
            "the month's signals for the city, later view (sparkline from the kept figures)",
            later,
            "< 5 s",
        ),
        (
            "the month's signals alone (fetch and compute)",
            alone,
            "< 5 s",
        ),
        ("of which fetching the month's rows", fetch, "-"),
    ] {
        println!(
            "| {what} | {v:.0} ms | {raw:.0} ms | {:.1} | {target} |",
            v / raw
        );
    }
    println!(
        "| keeping the sparkline's figures for those 11 months ({filled} area-months, the daily job's `trend::fill`) | {fill:.0} ms | - | - | nightly |"
    );
    println!("\nload average at the end: {load_after}\n");

    // Precision and recall per signal, and the first-20 check.
    println!("| signal | planted | found in the first {FIRST} | findings | precision | recall |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut missing = Vec::new();
    for kind in Kind::ALL {
        let s = report
            .signals
            .iter()
            .find(|s| s.kind == kind)
            .expect("every signal");
        let mine: Vec<&Planted> = planted.iter().filter(|p| p.kind == kind).collect();
        let top = &s.findings[..s.findings.len().min(FIRST)];
        let found = mine
            .iter()
            .filter(|p| top.iter().any(|f| p.matches(kind, &f.subject)))
            .count();
        let true_positives = s
            .findings
            .iter()
            .filter(|f| mine.iter().any(|p| p.matches(kind, &f.subject)))
            .count();
        for p in &mine {
            if !top.iter().any(|f| p.matches(kind, &f.subject)) {
                let rank = s
                    .findings
                    .iter()
                    .position(|f| p.matches(kind, &f.subject))
                    .map(|i| format!("rank {}", i + 1))
                    .unwrap_or_else(|| "not found".into());
                missing.push(format!("{} {} ({rank})", kind.as_str(), p.subject));
            }
        }
        println!(
            "| {} | {} | {} | {} | {:.2} | {:.2} |",
            kind.as_str(),
            mine.len(),
            found,
            s.findings.len(),
            true_positives as f64 / s.findings.len().max(1) as f64,
            found as f64 / mine.len().max(1) as f64,
        );
    }
    if missing.is_empty() {
        println!(
            "\nEvery planted anomaly ({}) is among its signal's first {FIRST}.",
            planted.len()
        );
    } else {
        println!(
            "\nNOT among their signal's first {FIRST}:\n{}",
            missing
                .iter()
                .map(|m| format!("- {m}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// Fill an empty database with the demo city and its planted anomalies
/// through the library, saving its key and the planted list (in the
/// command line's format) at the given paths.
fn generate(
    pool: &DbPool,
    key_file: &Path,
    planted_file: &Path,
    households: usize,
    months: usize,
    tz: chrono_tz::Tz,
) {
    eprintln!(
        "generating a {households} x {months} city with planted anomalies (once; it is kept)..."
    );
    let key = aixin::crypto::DataKey::load_or_create(None, key_file).expect("a data key");
    let (_, _, planted) = aixin::demo::city::fill_with(
        &mut pool.get().unwrap(),
        &key,
        aixin::config::PasswordCost::PRODUCTION,
        aixin::demo::DemoSize {
            households,
            months,
            seed: 1,
        },
        tz,
        aixin::demo::city::FillOptions {
            plant: true,
            now: db::now(),
        },
        &mut |_, _, _| {},
    )
    .expect("the demo city");
    let mut list = format!("aixin: planted {} anomalies:\n", planted.len());
    for p in &planted {
        list.push_str(&format!(
            "  {} {} {}\n",
            p.month,
            p.kind.as_str(),
            p.subject
        ));
    }
    std::fs::write(planted_file, list).expect("write the planted list");
}
