//! SQLite's write-ahead log stays bounded while readers are always present
//! (`db::wal`): a writer appends as fast as it can, three readers overlap
//! so that one of them is always inside a read, and the keeper restarts the
//! log whenever it passes its threshold (the bound is loose: the machine
//! running the tests may be busy, and the keeper only looks every 10 ms).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aixin::db::wal::{self, WalPolicy};
use diesel::prelude::*;

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Write about `mb` MB in small transactions under overlapping readers;
/// returns the largest log size seen (bytes) and the bytes written.
fn run(path: &str, keeper: Option<WalPolicy>, mb: usize) -> (u64, u64) {
    let url = format!("sqlite://{path}");
    let (pool, _) = aixin::db::open(&url, 6).expect("open");
    aixin::db::execute(
        &mut pool.get().unwrap(),
        "CREATE TABLE IF NOT EXISTS wal_load (id INTEGER PRIMARY KEY, body BLOB NOT NULL)",
        &[],
    )
    .unwrap();
    let _keeper = keeper.map(|p| wal::keep(path, p).expect("keeper"));
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for k in 0..3u64 {
        let pool = pool.clone();
        let stop = stop.clone();
        readers.push(std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(k));
            let mut c = pool.get().unwrap();
            while !stop.load(Ordering::Relaxed) {
                let _ = c.transaction::<_, diesel::result::Error, _>(|c| {
                    aixin::db::load::<N>(
                        c,
                        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM wal_load",
                        &[],
                    )?;
                    std::thread::sleep(Duration::from_millis(3));
                    Ok(())
                });
            }
        }));
    }
    let largest = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = {
        let (stop, largest, path) = (stop.clone(), largest.clone(), path.to_string());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                largest.fetch_max(wal::wal_size(&path), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let mut c = pool.get().unwrap();
    // Fast commits: the test is about the log's size, not durability.
    aixin::db::execute(&mut c, "PRAGMA synchronous = OFF", &[]).unwrap();
    let rows = mb * 1024 / 16;
    let started = Instant::now();
    for _ in 0..rows / 4 {
        aixin::db::write_tx(&mut c, |c| {
            aixin::db::execute(
                c,
                "INSERT INTO wal_load (body) SELECT randomblob(16384) FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4)",
                &[],
            )
        })
        .unwrap();
        // About 30 MB a second at most: a fast counter's pace, not a bulk
        // load's, so that the keeper's looks keep up on a busy machine.
        std::thread::sleep(Duration::from_millis(2));
        if started.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    sampler.join().unwrap();
    largest.fetch_max(wal::wal_size(path), Ordering::Relaxed);
    let written: i64 = {
        aixin::db::load::<N>(
            &mut c,
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM wal_load",
            &[],
        )
        .unwrap()[0]
            .n
    };
    (largest.load(Ordering::Relaxed), written as u64 * 16384)
}

#[test]
fn the_keeper_keeps_the_log_bounded_under_overlapping_readers() {
    let dir = tempfile::tempdir().unwrap();
    let policy = WalPolicy {
        check_every: Duration::from_millis(10),
        restart_above: 2 * 1024 * 1024,
        wait: Duration::from_millis(100),
    };
    let kept = dir.path().join("kept.db");
    let (largest, written) = run(kept.to_str().unwrap(), Some(policy), 48);
    let without = dir.path().join("without.db");
    let (unkept, _) = run(without.to_str().unwrap(), None, 48);
    eprintln!(
        "written {} MB; largest log with the keeper {:.1} MB, without {:.1} MB",
        written / 1048576,
        largest as f64 / 1048576.0,
        unkept as f64 / 1048576.0
    );
    assert!(written >= 40 * 1024 * 1024, "only {written} bytes written");
    assert!(
        largest < 16 * 1024 * 1024 && largest < unkept,
        "the log reached {largest} bytes with a 2 MB threshold ({unkept} without the keeper)"
    );
}
