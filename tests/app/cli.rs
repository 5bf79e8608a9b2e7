//! The `aixin` binary as an operator uses it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aixin::db::schema::users;
use diesel::prelude::*;

use crate::helpers::*;

fn aixin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aixin"));
    c.env_remove("DATABASE_URL").env("RUST_LOG", "warn");
    c
}

#[test]
fn an_unknown_database_scheme_is_a_one_line_error_and_exit_2() {
    let out = aixin()
        .arg("migrate")
        .env("DATABASE_URL", "mysql://root@localhost/x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("sqlite://") && err.contains("postgres://"),
        "{err}"
    );
}

#[test]
fn an_unreachable_postgres_is_a_one_line_error_and_exit_2() {
    let out = aixin()
        .arg("migrate")
        .env(
            "DATABASE_URL",
            "postgres://postgres:secret@127.0.0.1:1/aixin",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("PostgreSQL"), "{err}");
    assert!(
        !err.contains("secret"),
        "the password is not printed: {err}"
    );
    assert!(!err.contains("panicked"));
}

#[test]
fn first_start_creates_the_database_and_prints_the_admin_password() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = aixin()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let started = Instant::now();
    let mut printed = Vec::new();
    while started.elapsed() < Duration::from_secs(60) {
        let Some(Ok(line)) = lines.next() else { break };
        let done = line.contains("serving on http://127.0.0.1:");
        printed.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = printed.join("\n");
    assert!(text.contains("username: admin"), "{text}");
    let pw_line = printed
        .iter()
        .find(|l| l.trim_start().starts_with("password:"))
        .expect("password printed");
    assert_eq!(pw_line.trim_start()["password: ".len()..].trim().len(), 19);
    assert!(text.contains("serving on http://127.0.0.1:"), "{text}");
    assert!(
        dir.path().join("data/aixin.db").exists(),
        "the SQLite file is created under ./data"
    );

    // The second start finds the admin and prints no password.
    let mut child = aixin()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.contains("serving on"), "{first}");
}

#[test]
fn user_commands_add_reset_and_disable() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("a.db").display());
    let out = aixin()
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut child = aixin()
        .args([
            "user",
            "add",
            "--username",
            "Auditor1",
            "--role",
            "auditor",
            "--password-stdin",
        ])
        .env("DATABASE_URL", &url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("password:"),
        "a given password is not printed: {stdout}"
    );

    let out = aixin()
        .args(["user", "add", "--username", "off1", "--role", "official"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("need an area"));

    let out = aixin()
        .args(["user", "passwd", "--username", "auditor1"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("password: "));

    let out = aixin()
        .args(["user", "disable", "--username", "auditor1"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success());

    let (pool, _) = aixin::db::open(&url, 1).unwrap();
    let (disabled, must_change): (bool, bool) = users::table
        .filter(users::username.eq("auditor1"))
        .select((users::disabled, users::must_change_password))
        .first(&mut pool.get().unwrap())
        .unwrap();
    assert!(disabled);
    assert!(
        must_change,
        "a generated password must be changed at next login"
    );
}

#[test]
fn migrate_applies_on_postgres() {
    let Some((url, admin, name)) = fresh_pg_database() else {
        skip(
            "migrate_applies_on_postgres",
            "PostgreSQL (TEST_DATABASE_URL)",
        );
        return;
    };
    let out = aixin()
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    let ok = out.status.success();
    let mut conn = diesel::PgConnection::establish(&admin).unwrap();
    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn);
    assert!(ok, "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn import_households_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("a.db").display());
    let key = dir.path().join("a.key");
    let (pool, _) = aixin::db::open(&url, 1).unwrap();
    {
        let mut c = pool.get().unwrap();
        let ctx = aixin::auth::Actor::console();
        let city = aixin::areas::create(&mut c, &ctx, None, "济南市").unwrap();
        let district = aixin::areas::create(&mut c, &ctx, Some(&city.id), "历城区").unwrap();
        let town = aixin::areas::create(&mut c, &ctx, Some(&district.id), "港沟街道").unwrap();
        aixin::areas::create(&mut c, &ctx, Some(&town.id), "东村").unwrap();
    }
    drop(pool);
    // The administrator the import is done as, and an auditor who may not.
    for (name, role) in [("boss", "admin"), ("reader", "auditor")] {
        let mut child = aixin()
            .args([
                "user",
                "add",
                "--username",
                name,
                "--role",
                role,
                "--password-stdin",
            ])
            .env("DATABASE_URL", &url)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"a long enough password\n")
            .unwrap();
        assert!(child.wait().unwrap().success());
    }
    let file = dir.path().join("list.csv");
    let ids: Vec<String> = (0..3).map(|_| test_id_number()).collect();
    let mut csv = String::from("户主姓名,身份证号,所属村,家庭人口\n");
    for (i, id) in ids.iter().enumerate() {
        csv.push_str(&format!("户{i},{id},港沟街道/东村,{}\n", i + 1));
    }
    csv.push_str("坏,1,东村,3\n");
    std::fs::write(&file, csv).unwrap();
    let run_as = |who: Option<&str>, extra: &[&str]| {
        let mut args = vec!["import", "households", file.to_str().unwrap()];
        if let Some(who) = who {
            args.extend_from_slice(&["--as", who]);
        }
        args.extend_from_slice(extra);
        aixin()
            .args(&args)
            .env("DATABASE_URL", &url)
            .env("AIXIN_DATA_KEY_FILE", &key)
            .env("LANG", "C")
            .output()
            .unwrap()
    };
    let run = |extra: &[&str]| run_as(Some("boss"), extra);
    // Only as a named, enabled administrator.
    assert_eq!(run_as(None, &[]).status.code(), Some(2));
    let refused = run_as(Some("reader"), &[]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not an enabled administrator"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let dry = run(&["--dry-run"]);
    let out = String::from_utf8_lossy(&dry.stdout);
    assert!(
        out.contains("Row 5: ID number: must be 18 characters"),
        "{out}"
    );
    assert!(out.contains("New: 3"), "{out}");
    assert_eq!(
        dry.status.code(),
        Some(1),
        "refused rows make the exit code non-zero"
    );
    let (pool, _) = aixin::db::open(&url, 1).unwrap();
    let n = || -> i64 {
        use aixin::db::schema::households;
        households::table
            .count()
            .get_result(&mut pool.get().unwrap())
            .unwrap()
    };
    assert_eq!(n(), 0, "--dry-run changes nothing");
    let real = run(&[]);
    assert!(String::from_utf8_lossy(&real.stdout).contains("Import finished"));
    assert_eq!(n(), 3);
    let again = run(&[]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("Unchanged: 3"));
    assert_eq!(n(), 3, "the same file twice changes nothing");
    // --skip-registered: the registered rows counted as skipped, none twice.
    let skipping = run(&["--skip-registered"]);
    let out = String::from_utf8_lossy(&skipping.stdout);
    assert!(
        out.contains("Unchanged: 0, Already registered, skipped: 3"),
        "{out}"
    );
    assert_eq!(n(), 3, "skipped, not registered twice");
    // Checks and the import are audited as the administrator.
    let audited: Vec<(String, String)> = {
        use aixin::db::schema::audit_log;
        audit_log::table
            .filter(audit_log::action.like("household.import%"))
            .select((audit_log::action, audit_log::username))
            .load(&mut pool.get().unwrap())
            .unwrap()
    };
    assert!(audited.iter().all(|(_, who)| who == "boss"), "{audited:?}");
    assert_eq!(
        audited
            .iter()
            .filter(|(a, _)| a == "household.import")
            .count(),
        1,
        "{audited:?}"
    );
    assert!(
        audited
            .iter()
            .filter(|(a, _)| a == "household.import_check")
            .count()
            >= 3
    );
    // A file that changes registered households is written only with
    // --apply-updates, and lists each change first.
    let mut csv = String::from("户主姓名,身份证号,所属村,家庭人口\n");
    for (i, id) in ids.iter().enumerate() {
        csv.push_str(&format!("户{i},{id},港沟街道/东村,{}\n", i + 5));
    }
    std::fs::write(&file, csv).unwrap();
    let unticked = run(&[]);
    assert_eq!(unticked.status.code(), Some(1));
    let listed = String::from_utf8_lossy(&unticked.stdout);
    assert!(listed.contains("-> 5"), "{listed}");
    assert!(
        String::from_utf8_lossy(&unticked.stderr).contains("--apply-updates"),
        "{}",
        String::from_utf8_lossy(&unticked.stderr)
    );
    let members = || -> Vec<i64> {
        use aixin::db::schema::households;
        households::table
            .select(households::members)
            .order(households::members)
            .load(&mut pool.get().unwrap())
            .unwrap()
    };
    assert_eq!(members(), vec![1, 2, 3], "nothing changed without the flag");
    let applied = run(&["--apply-updates"]);
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    assert_eq!(members(), vec![5, 6, 7]);
}

#[test]
fn demo_fills_an_empty_database_once_with_working_logins() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("demo.db").display());
    let key = dir.path().join("demo.key");
    let run = || {
        aixin()
            .args(["demo", "--households", "40", "--months", "2", "--seed", "7"])
            .env("DATABASE_URL", &url)
            .env("AIXIN_DATA_KEY_FILE", &key)
            .output()
            .unwrap()
    };
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("demo-admin") && text.contains(aixin::demo::DEMO_PASSWORD),
        "{text}"
    );
    let (pool, _) = aixin::db::open(&url, 1).unwrap();
    let mut c = pool.get().unwrap();
    use aixin::db::schema::{households, redemptions};
    let n: i64 = households::table.count().get_result(&mut c).unwrap();
    assert!(n >= 38, "{n}");
    let r: i64 = redemptions::table.count().get_result(&mut c).unwrap();
    assert!(r > 0);
    assert!(aixin::ledger::verify(&mut c).unwrap().ok());
    assert!(aixin::stock::verify_stock_ledger(&mut c).unwrap().ok());
    let admin = aixin::users::find_by_username(&mut c, "demo-admin")
        .unwrap()
        .unwrap();
    assert!(aixin::auth::password::verify(
        aixin::demo::DEMO_PASSWORD,
        &admin.password_hash
    ));
    drop(c);
    // A database with households in it is left alone.
    let again = run();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("empty"));
}
