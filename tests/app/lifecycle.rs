//! A scheme over the years: points expire oldest first, archived households'
//! personal data is erased after the retention period, and the operations
//! page tells an administrator how the installation is doing.

use aixin::domain::Role;
use aixin::ledger::{self, Kind, Posting};
use aixin::settings;
use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;

use crate::helpers::*;

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Post a transfer directly, on a given day.
fn transfer(app: &TestApp, debit: &str, credit: &str, amount: i64, on: NaiveDate, kind: Kind) {
    let mut c = app.conn();
    aixin::db::write_tx(&mut c, |c| {
        ledger::post(
            c,
            &Posting {
                debit: debit.into(),
                credit: credit.into(),
                amount,
                kind,
                ref_kind: "test".into(),
                ref_id: String::new(),
                memo: String::new(),
                user_id: None,
                posted_on: on,
                idempotency_key: None,
                reverses: None,
            },
        )
    })
    .unwrap();
}

fn earn(app: &TestApp, household: &str, amount: i64, on: &str) {
    transfer(
        app,
        ledger::ISSUANCE,
        &ledger::household_account(household),
        amount,
        day(on),
        Kind::Award,
    );
}

fn spend(app: &TestApp, household: &str, amount: i64, on: &str) {
    transfer(
        app,
        &ledger::household_account(household),
        &ledger::store_account("s1"),
        amount,
        day(on),
        Kind::Redemption,
    );
}

fn balance(app: &TestApp, household: &str) -> i64 {
    ledger::balance(&mut app.conn(), &ledger::household_account(household)).unwrap()
}

fn set(app: &TestApp, s: settings::Setting, v: i64) {
    settings::set(&mut app.conn(), &aixin::auth::Actor::console(), s, v).unwrap();
}

fn expiry_entries(app: &TestApp) -> i64 {
    use aixin::db::schema::point_entries;
    point_entries::table
        .filter(point_entries::kind.eq("expiry"))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

/// The `aixin` binary on the test's database, speaking English.
fn aixin(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aixin"))
        .args(args)
        .env("DATABASE_URL", &app.config.database_url)
        .env("RUST_LOG", "warn")
        .env("LANG", "C")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

app_test! {
    async fn points_expire_oldest_first_and_only_once(app) {
        let [_, _, _, village] = app.area_chain("过期");
        let old = app.household("老户", &village);
        let young = app.household("新户", &village);
        earn(&app, &old, 100, "2024-03-01");
        earn(&app, &old, 50, "2025-06-01");
        // Spending comes out of the oldest points: 30 of the 2024 ones.
        spend(&app, &old, 30, "2025-07-01");
        earn(&app, &young, 20, "2025-06-01");

        // Off by default: nothing expires, however far ahead.
        let (ok, out, err) = aixin(&app, &["expire", "--as-of", "2040-01-01"]);
        assert!(ok, "{err}");
        assert!(out.contains("off"), "{out}");
        assert_eq!(expiry_entries(&app), 0);

        // A date a person could mistype names the field and changes nothing.
        let (ok, _, err) = aixin(&app, &["expire", "--as-of", "2026-13-01"]);
        assert!(!ok);
        assert!(err.contains("As-of date"), "{err}");

        // Points expire at the end of the first calendar year after earning.
        set(&app, settings::EXPIRY_YEARS, 1);
        let (ok, out, err) = aixin(&app, &["expire", "--as-of", "2025-12-31"]);
        assert!(ok, "{err}");
        assert!(out.contains("0 households, 0 points"), "{out}");
        let (ok, out, err) = aixin(&app, &["expire", "--as-of", "2026-01-01"]);
        assert!(ok, "{err}");
        assert!(out.contains("1 households, 70 points"), "{out}");
        // Twice: nothing more.
        let (ok, out, _) = aixin(&app, &["expire", "--as-of", "2026-01-01"]);
        assert!(ok);
        assert!(out.contains("0 households, 0 points"), "{out}");
        assert_eq!(expiry_entries(&app), 1);
        assert_eq!(balance(&app, &old), 50);
        assert_eq!(balance(&app, &young), 20);

        // A year on, the 2025 points go too, for both households.
        let out = {
            let mut c = app.conn();
            aixin::points::expiry::run(&mut c, &aixin::auth::Actor::console(), aixin::points::expiry::Rule::Years(1), day("2027-01-01")).unwrap()
        };
        assert_eq!((out.households, out.points), (2, 70));
        assert_eq!(balance(&app, &old), 0);
        assert_eq!(balance(&app, &young), 0);
        let mut c = app.conn();
        assert_eq!(ledger::balance(&mut c, ledger::EXPIRY).unwrap(), 140);
        let r = ledger::verify(&mut c).unwrap();
        assert!(r.ok(), "{r:?}");
        drop(c);
        assert!(app.audit_actions().iter().any(|a| a == "points.expire"));
    }
}

app_test! {
    async fn months_count_from_the_day_points_were_earned(app) {
        let [_, _, _, village] = app.area_chain("按月");
        let h = app.household("按月户", &village);
        earn(&app, &h, 10, "2026-01-15");
        earn(&app, &h, 5, "2026-03-01");
        spend(&app, &h, 4, "2026-02-01");
        let rule = aixin::points::expiry::Rule::Months(6);
        let mut c = app.conn();
        let ctx = aixin::auth::Actor::console();
        let out = aixin::points::expiry::run(&mut c, &ctx, rule, day("2026-07-14")).unwrap();
        assert_eq!(out.points, 0);
        let out = aixin::points::expiry::run(&mut c, &ctx, rule, day("2026-07-15")).unwrap();
        assert_eq!(out.points, 6, "10 earned on 15 January, 4 of them spent");
        let next = aixin::points::expiry::upcoming(&mut c, rule, &h, day("2026-07-15")).unwrap().unwrap();
        assert_eq!((next.points, next.valid_until), (5, day("2026-08-31")));
        let out = aixin::points::expiry::run(&mut c, &ctx, rule, day("2026-09-01")).unwrap();
        assert_eq!(out.points, 5);
        assert_eq!(aixin::points::expiry::upcoming(&mut c, rule, &h, day("2026-09-01")).unwrap(), None);
    }
}

app_test! {
    async fn the_statement_shows_what_expires_when(app) {
        let [_, _, _, village] = app.area_chain("明细");
        let h = app.household("明细户", &village);
        let admin = app.admin().await;
        let today = aixin::time::today(app.config.time_zone);
        earn(&app, &h, 40, &today.to_string());
        let page = admin.get(&format!("/households/{h}/statement")).await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("id=\"expiry\""), "off by default");

        let mut form = vec![
            ("review_required", "1"),
            ("notice_days", "0"),
            ("adjustment_approval_above", "100"),
            ("expiry_years", "1"),
            ("expiry_months", "6"),
            ("retention_years", "0"),
        ];
        admin.get("/settings").await;
        let page = admin.submit_shown("/settings", "/settings", &form).await;
        page.assert_contains("只能设置一个");
        assert_eq!(settings::get(&mut app.conn(), settings::EXPIRY_YEARS).unwrap(), 0, "nothing was changed");
        form[4].1 = "0";
        let page = admin.submit_shown("/settings", "/settings", &form).await;
        assert_eq!(page.status, 200);
        assert_eq!(settings::get(&mut app.conn(), settings::EXPIRY_YEARS).unwrap(), 1);

        let page = admin.get(&format!("/households/{h}/statement")).await;
        page.assert_contains("id=\"expiry\"");
        page.assert_contains(&format!("40 分积分的有效期到 {}-12-31", today.year() + 1));
    }
}

app_test! {
    async fn retention_erases_exactly_the_long_archived_and_keeps_their_ledgers(app) {
        let [_, _, _, village] = app.area_chain("保存");
        let id_number = test_id_number();
        let (gone, _) = app.household_with_id("王大山", &village, &id_number);
        let recent = app.household("李小花", &village);
        let active = app.household("赵四", &village);
        earn(&app, &gone, 30, "2019-05-01");
        {
            use aixin::db::schema::households;
            let mut c = app.conn();
            for h in [&gone, &recent] {
                aixin::households::set_archived(&mut c, &aixin::auth::Actor::console(), &crate::helpers::hid(h), true, "搬迁").unwrap();
            }
            let long_ago = aixin::db::now() - chrono::Duration::days(6 * 366);
            diesel::update(households::table.find(&gone))
                .set((households::archived_at.eq(long_ago), households::notes.eq("家中有病人")))
                .execute(&mut c)
                .unwrap();
        }
        let (ok, out, _) = aixin(&app, &["retention"]);
        assert!(ok);
        assert!(out.contains("off"), "{out}");

        set(&app, settings::RETENTION_YEARS, 5);
        let (ok, out, err) = aixin(&app, &["retention", "--dry-run"]);
        assert!(ok, "{err}");
        assert!(out.contains(&gone) && out.contains("Would erase the personal data of 1 household (archived 5 years ago"), "{out}");
        let name_of = |id: &str| -> String {
            use aixin::db::schema::households;
            households::table.find(id).select(households::head_name).first(&mut app.conn()).unwrap()
        };
        assert_eq!(name_of(&gone), "王大山", "a dry run changes nothing");

        let (ok, out, err) = aixin(&app, &["retention"]);
        assert!(ok, "{err}");
        assert!(out.contains("Erased the personal data of 1 household (archived 5 years ago"), "{out}");
        let h = {
            use aixin::db::schema::households;
            households::table
                .find(&gone)
                .select(aixin::households::Household::as_select())
                .first(&mut app.conn())
                .unwrap()
        };
        assert_eq!(h.head_name, "王**");
        assert_eq!((h.id_cipher.as_str(), h.phone_cipher.as_str(), h.id_last4.as_str()), ("", "", ""));
        assert_eq!((h.id_masked.as_str(), h.phone_masked.as_str()), ("已删除", "已删除"));
        assert_eq!(h.id_lookup, format!("erased:{gone}"));
        assert_eq!((h.notes.as_str(), h.address.as_str()), ("", ""));
        assert_eq!(name_of(&recent), "李小花");
        assert_eq!(name_of(&active), "赵四");

        // The ledger is whole and the points still there.
        assert_eq!(balance(&app, &gone), 30);
        let r = ledger::verify(&mut app.conn()).unwrap();
        assert!(r.ok(), "{r:?}");
        // Audited, without the personal data.
        {
            use aixin::db::schema::audit_log;
            let rows: Vec<(String, String)> = audit_log::table
                .filter(audit_log::action.eq("household.erase"))
                .select((audit_log::target_id, audit_log::summary))
                .load(&mut app.conn())
                .unwrap();
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].0, gone);
            assert!(!rows[0].1.contains("王大山") && !rows[0].1.contains(&id_number[14..]), "{}", rows[0].1);
        }
        // Running again erases nothing more; an erased household cannot be restored.
        let (ok, out, _) = aixin(&app, &["retention"]);
        assert!(ok && out.contains("of 0 households"), "{out}");
        let admin = app.admin().await;
        admin.get(&format!("/households/{gone}")).await;
        let page = admin.submit(&format!("/households/{gone}/restore"), &[("reason", "回迁")]).await;
        page.assert_contains("不能恢复");
        page.assert_contains("王**");
        // The same ID number can be registered again as a new household.
        app.household_with_id("王大山", &village, &id_number);
    }
}

app_test! {
    async fn the_operations_page_shows_how_the_installation_is_doing(app) {
        let [_, _, _, village] = app.area_chain("运行");
        let household = app.household("运行户", &village);
        app.rule("OP1", "运行细则", 5, None);
        let official = app.user("op-official", Role::Official, Some(&village), None);
        {
            use aixin::points::awards;
            use crate::helpers::Who;
            let mut c = app.conn();
            let ctx = aixin::auth::Actor::console();
            let who = Who { user_id: official, role: Role::Official, scope: aixin::auth::Scope::All };
            let today = aixin::time::today(app.config.time_zone);
            let p = awards::parse_proposal("OP1", &today.to_string(), "", today).unwrap();
            awards::propose(&mut c, &who.actor(&ctx), &crate::helpers::hid(&household), &p, "op-k1", today).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ops-backup.bak");
        let (ok, _, err) = aixin(&app, &["backup", file.to_str().unwrap()]);
        assert!(ok, "{err}");
        let (ok, out, _) = aixin(&app, &["ledger", "verify"]);
        assert!(ok, "{out}");
        // A failed login in the last hour.
        let stranger = app.client();
        stranger.get("/login").await;
        stranger.post("/login", &[("username", "nobody"), ("password", "wrong password")]).await;

        let admin = app.admin().await;
        let page = admin.get("/operations").await;
        assert_eq!(page.status, 200);
        page.assert_contains(&format!("id=\"version\">{}<", env!("CARGO_PKG_VERSION")));
        page.assert_contains(if app.config.database_url.starts_with("sqlite") { ">SQLite<" } else { ">PostgreSQL<" });
        page.assert_contains("data-bytes=\"");
        assert!(!page.body.contains("data-bytes=\"0\""));
        page.assert_contains("ops-backup.bak");
        page.assert_contains("data-ok=\"true\"");
        page.assert_contains("id=\"sessions\">1<");
        page.assert_contains("id=\"failed-logins\">1<");
        page.assert_contains("id=\"awards-pending\"><a href=\"/review\">1<");
        page.assert_contains("id=\"adjustments-pending\"><a href=\"/adjustments\">0<");
        page.assert_contains("id=\"imports\">0<");
        page.assert_contains("href=\"/operations\"");

        // The page's own verification is remembered too.
        admin.get("/ledger/verify").await;
        let page = admin.get("/operations").await;
        page.assert_contains("data-ok=\"true\"");

        for role in [Role::Auditor, Role::Official, Role::Clerk, Role::Reviewer] {
            let name = format!("ops-{}", role.as_str());
            let (area, store) = match role {
                Role::Official | Role::Reviewer => (Some(village.as_str()), None),
                Role::Clerk => (None, Some(app.store("运行超市", &village))),
                _ => (None, None),
            };
            app.user(&name, role, area, store.as_deref());
            let c = app.client();
            c.login(&name, PASSWORD).await;
            assert_eq!(c.get("/operations").await.status, 403, "{name}");
            assert!(!c.get("/").await.body.contains("href=\"/operations\""));
        }
    }
}

app_test! {
    async fn the_daily_job_runs_once_a_day_and_only_when_on(app) {
        use aixin::points::expiry;
        let [_, _, _, village] = app.area_chain("每日");
        let h = app.household("每日户", &village);
        earn(&app, &h, 9, "2020-01-01");
        let mut c = app.conn();
        assert_eq!(expiry::daily(&mut c, day("2026-03-01")).unwrap(), None, "off");
        drop(c);
        set(&app, settings::EXPIRY_MONTHS, 12);
        let mut c = app.conn();
        let first = expiry::daily(&mut c, day("2026-03-01")).unwrap().unwrap();
        assert_eq!((first.households, first.points), (1, 9));
        // A second server (or tick) on the same day finds the day claimed.
        assert_eq!(expiry::daily(&mut c, day("2026-03-01")).unwrap(), None);
        let next = expiry::daily(&mut c, day("2026-03-02")).unwrap().unwrap();
        assert_eq!(next.points, 0);
        assert_eq!(expiry_entries(&app), 1);
        drop(c);
        let admin = app.admin().await;
        let page = admin.get("/operations").await;
        page.assert_contains("获得 12 个月后过期");
        page.assert_contains("0 户，共 0 分过期");
    }
}
