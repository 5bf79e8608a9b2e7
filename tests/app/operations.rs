//! Running it for real: several app servers on one database, and logs that
//! keep secrets out.

use crate::helpers::*;

const ADMIN_PASSWORD: &str = "first admin passphrase";

/// Two app servers on one database: one session, one throttle, one logout.
async fn two_servers(database_url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let key = aixin::crypto::DataKey::generate_hex();
    let env = [
        ("AIXIN_ADMIN_PASSWORD", ADMIN_PASSWORD),
        ("AIXIN_DATA_KEY", key.as_str()),
        ("AIXIN_LOG_FORMAT", "json"),
    ];
    let one = spawn_server(database_url, &env, &dir.path().join("one.log"));
    let two = spawn_server(database_url, &env, &dir.path().join("two.log"));
    // Cookies belong to the host, not the port: one browser, two servers.
    let c1 = Client::new(&one.addr);
    let c2 = Client::new(&two.addr);
    let shared = reqwest::Client::builder()
        .cookie_provider(std::sync::Arc::new(reqwest::cookie::Jar::default()))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let c1 = c1.with_http(shared.clone());
    let c2 = c2.with_http(shared);

    let login = c1.login("admin", ADMIN_PASSWORD).await;
    let token = login
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("aixin_session="))
        .map(|v| v.split(';').next().unwrap().to_string())
        .unwrap();
    assert_eq!(
        c2.get("/").await.status,
        200,
        "a session from one server works on the other"
    );
    // Register a household through server two, so that its ID number and
    // phone pass through the logs' reach.
    let [_, _, _, village] = {
        let (pool, _) = aixin::db::open(database_url, 1).unwrap();
        let mut c = pool.get().unwrap();
        let ctx = aixin::auth::Actor::console();
        let city = aixin::areas::create(&mut c, &ctx, None, "两服市")
            .unwrap()
            .id;
        let d = aixin::areas::create(&mut c, &ctx, Some(&city), "两服区")
            .unwrap()
            .id;
        let t = aixin::areas::create(&mut c, &ctx, Some(&d), "两服镇")
            .unwrap()
            .id;
        let v = aixin::areas::create(&mut c, &ctx, Some(&t), "两服村")
            .unwrap()
            .id;
        [city, d, t, v]
    };
    let id_number = test_id_number();
    let page = c2
        .submit(
            "/households",
            &[
                ("head_name", "日志户"),
                ("id_number", &id_number),
                ("phone", "13912345678"),
                ("area_id", &village),
                ("members", "2"),
            ],
        )
        .await;
    page.assert_contains("已登记");
    c2.post("/logout", &[]).await;
    assert_eq!(
        c1.get("/").await.status,
        303,
        "logging out on one server ends the session on the other"
    );

    // Failed logins spread over both servers are throttled as one.
    let fresh1 = Client::new(&one.addr);
    let fresh2 = Client::new(&two.addr);
    for i in 0..5 {
        let c = if i % 2 == 0 { &fresh1 } else { &fresh2 };
        c.get("/login").await;
        let page = c
            .post(
                "/login",
                &[("username", "admin"), ("password", "wrong password!")],
            )
            .await;
        page.assert_contains("登录失败");
    }
    fresh1.get("/login").await;
    let page = fresh1
        .post(
            "/login",
            &[("username", "admin"), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(page.status, 401, "throttled across both servers");
    page.assert_contains("登录失败");

    drop(one);
    drop(two);
    // The logs: one JSON object a line, each request with its id, status and
    // time, and never a password, a session token, an ID number or a phone.
    for name in ["one.log", "two.log"] {
        let log = std::fs::read_to_string(dir.path().join(name)).unwrap();
        let mut requests = 0;
        for line in log.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
            if v["fields"]["message"] == "request" {
                requests += 1;
                assert!(
                    v["fields"]["request_id"].is_string()
                        && v["fields"]["status"].is_number()
                        && v["fields"]["ms"].is_number(),
                    "{line}"
                );
            }
        }
        assert!(requests > 0, "{name} logs its requests");
        for secret in [
            ADMIN_PASSWORD,
            "wrong password!",
            token.as_str(),
            id_number.as_str(),
            "13912345678",
            key.as_str(),
        ] {
            assert!(!log.contains(secret), "{name} must not contain {secret:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_app_servers_share_sessions_throttling_and_logout_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    two_servers(&format!(
        "sqlite://{}",
        dir.path().join("shared.db").display()
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_app_servers_share_sessions_throttling_and_logout_postgres() {
    let Some((url, admin, name)) = fresh_pg_database() else {
        skip(
            "two_app_servers_share_sessions_throttling_and_logout_postgres",
            "PostgreSQL (TEST_DATABASE_URL)",
        );
        return;
    };
    two_servers(&url).await;
    drop_pg_database(&admin, &name);
}

/// Post awards from another thread until told to stop.
fn stream_of_postings(
    url: String,
    household: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let (pool, _) = aixin::db::open(&url, 1).unwrap();
        let mut c = pool.get().unwrap();
        let mut n = 0;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            aixin::db::write_tx(&mut c, |c| {
                aixin::ledger::post(
                    c,
                    &aixin::ledger::Posting {
                        debit: aixin::ledger::ISSUANCE.into(),
                        credit: aixin::ledger::household_account(&household),
                        amount: 1,
                        kind: aixin::ledger::Kind::Award,
                        ref_kind: "stream".into(),
                        ref_id: String::new(),
                        memo: String::new(),
                        user_id: None,
                        posted_on: aixin::time::today(chrono_tz::Asia::Shanghai),
                        idempotency_key: None,
                        reverses: None,
                    },
                )
            })
            .unwrap();
            n += 1;
        }
        n
    })
}

fn aixin_cmd(url: &str) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_aixin"));
    c.env("DATABASE_URL", url).env("RUST_LOG", "warn");
    c
}

app_test! {
    async fn a_backup_taken_under_load_restores_to_a_ledger_that_verifies(app) {
        let [_, _, _, village] = app.area_chain("备份");
        let household = app.household("备份户", &village);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = stream_of_postings(app.config.database_url.clone(), household.clone(), stop.clone());
        std::thread::sleep(std::time::Duration::from_millis(300));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("backup.bak");
        let out = aixin_cmd(&app.config.database_url).arg("backup").arg(&file).output().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let posted = writer.join().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(posted > 0);
        // The same file again is refused rather than overwritten.
        let again = aixin_cmd(&app.config.database_url).arg("backup").arg(&file).output().unwrap();
        assert!(!again.status.success());

        // Restore into a new database.
        let (target, cleanup) = if app.config.database_url.starts_with("sqlite") {
            (format!("sqlite://{}", dir.path().join("restored.db").display()), None)
        } else {
            let (url, admin, name) = fresh_pg_database().unwrap();
            (url, Some((admin, name)))
        };
        // A database with something in it is not overwritten without --force.
        let busy = aixin_cmd(&app.config.database_url).arg("restore").arg(&file).output().unwrap();
        assert!(!busy.status.success());
        assert!(String::from_utf8_lossy(&busy.stderr).contains("--force"));
        let out = aixin_cmd(&target).arg("restore").arg(&file).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("ok"), "the restore verified the ledger: {stdout}");
        let (pool, _) = aixin::db::open(&target, 1).unwrap();
        let mut c = pool.get().unwrap();
        let r = aixin::ledger::verify(&mut c).unwrap();
        assert!(r.ok(), "{r:?}");
        assert!(r.entries as usize <= posted);
        assert_eq!(aixin::ledger::balance(&mut c, &aixin::ledger::household_account(&household)).unwrap(), r.entries);
        drop(c);
        drop(pool);
        if let Some((admin, name)) = cleanup {
            drop_pg_database(&admin, &name);
        }
    }
}
