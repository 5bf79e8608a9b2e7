//! What holds after the fact: scheduled jobs that settle each record on its
//! own and can be run again after a failure, page decisions that always
//! name the version seen, and postings that cannot be dated far ahead.

use aixin::db::DbConn;
use aixin::db::schema::{households, point_entries, stock_movements};
use aixin::domain::Role;
use aixin::ledger::{self, Kind, Posting};
use aixin::points::awards::{self as aw, Decision};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::helpers::*;

fn today() -> chrono::NaiveDate {
    aixin::time::today(chrono_tz::Asia::Shanghai)
}

fn who(user_id: &str, role: Role) -> Who {
    Who {
        user_id: user_id.to_string(),
        role,
        scope: aixin::auth::Scope::All,
    }
}

fn balance(app: &TestApp, household: &str) -> i64 {
    ledger::balance(&mut app.conn(), &ledger::household_account(household)).unwrap()
}

/// Make the database itself refuse some writes, as a failing disk, a hold
/// put on a record or a broken constraint would: a trigger named `name` on
/// `table` that raises `BEFORE event` when `when` (SQL on NEW/OLD) holds.
fn refuse(app: &TestApp, name: &str, event: &str, table: &str, when: &str) {
    let mut c = app.conn();
    match &mut *c {
        DbConn::Sqlite(c) => c
            .batch_execute(&format!(
                "CREATE TRIGGER {name} BEFORE {event} ON {table} WHEN {when} BEGIN SELECT RAISE(ABORT, 'refused by {name}'); END;"
            ))
            .unwrap(),
        DbConn::Pg(c) => c
            .batch_execute(&format!(
                "CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN IF {when} THEN RAISE EXCEPTION 'refused by {name}'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
                 CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}();"
            ))
            .unwrap(),
    }
}

fn allow(app: &TestApp, name: &str, table: &str) {
    let mut c = app.conn();
    match &mut *c {
        DbConn::Sqlite(c) => c.batch_execute(&format!("DROP TRIGGER {name};")).unwrap(),
        DbConn::Pg(c) => c
            .batch_execute(&format!(
                "DROP TRIGGER {name} ON {table}; DROP FUNCTION {name}();"
            ))
            .unwrap(),
    }
}

// ---- retention: each household on its own ----

app_test! {
    async fn retention_is_run_only_by_the_unscoped_administrator(app) {
        let [_, _, _, village] = app.area_chain("留拒");
        let h = app.household("留拒甲", &village);
        {
            let mut c = app.conn();
            aixin::households::set_archived(&mut c, &aixin::auth::Actor::console(), &crate::helpers::hid(&h), true, "搬迁").unwrap();
            diesel::update(households::table)
                .set(households::archived_at.eq(aixin::db::now() - chrono::Duration::days(3 * 366)))
                .execute(&mut c)
                .unwrap();
        }
        let official = aixin::auth::Actor::user("u-official", Role::Official, aixin::auth::Scope::Nothing);
        let auditor = aixin::auth::Actor::user("u-auditor", Role::Auditor, aixin::auth::Scope::All);
        for actor in [&official, &auditor] {
            let refused = aixin::households::retention::run(&mut app.conn(), actor, 2, aixin::db::now(), false);
            assert!(matches!(refused, Err(aixin::error::Problem::Forbidden)), "{:?}: {refused:?}", actor.role);
        }
        let name: String = households::table.find(&h).select(households::head_name).first(&mut app.conn()).unwrap();
        assert_eq!(name, "留拒甲", "a refused run erases nothing");
        let out = aixin::households::retention::run(&mut app.conn(), &aixin::auth::Actor::console(), 2, aixin::db::now(), false).unwrap();
        assert_eq!(out.households, vec![h]);
    }
}

app_test! {
    async fn retention_erases_each_household_on_its_own_and_shows_the_one_that_failed(app) {
        let [_, _, _, village] = app.area_chain("留存");
        let ids: Vec<String> = ["留存甲", "留存乙", "留存丙"].iter().map(|n| app.household(n, &village)).collect();
        {
            let mut c = app.conn();
            for h in &ids {
                aixin::households::set_archived(&mut c, &aixin::auth::Actor::console(), &crate::helpers::hid(h), true, "搬迁").unwrap();
            }
            diesel::update(households::table)
                .set(households::archived_at.eq(aixin::db::now() - chrono::Duration::days(3 * 366)))
                .execute(&mut c)
                .unwrap();
            aixin::settings::set(&mut c, &aixin::auth::Actor::console(), aixin::settings::RETENTION_YEARS, 2).unwrap();
        }
        // The second household cannot be changed (the database refuses it).
        refuse(&app, "hold_one", "UPDATE", "households", &format!("OLD.id = '{}'", ids[1]));
        let out = aixin::households::retention::daily(&mut app.conn(), today()).unwrap().unwrap();
        assert_eq!(out.households.len(), 2, "the other two are erased: {out:?}");
        assert_eq!(out.failed.len(), 1);
        assert_eq!(out.failed[0].0, ids[1]);
        let names: Vec<String> = households::table.order(households::id.asc()).filter(households::id.eq_any(&ids)).select(households::head_name).load(&mut app.conn()).unwrap();
        assert!(names.contains(&"留存乙".to_string()), "the held one is as it was: {names:?}");
        assert!(names.contains(&"留**".to_string()));
        // The operations page names it, with why, for an administrator to act on.
        let admin = app.admin().await;
        let ops = admin.get("/operations").await;
        ops.assert_contains("id=\"job-retention\" data-failed=\"1\"");
        ops.assert_contains("删除了 2 户的个人信息");
        ops.assert_contains("留存乙");
        ops.assert_contains("refused by hold_one");
        // Once the hold is lifted the next run erases it, and the page says all is well.
        allow(&app, "hold_one", "households");
        let out = aixin::households::retention::run(&mut app.conn(), &aixin::auth::Actor::console(), 2, aixin::db::now(), false).unwrap();
        assert_eq!((out.households.clone(), out.failed.len()), (vec![ids[1].clone()], 0));
        let erased: i64 = households::table.filter(households::id_masked.eq(aixin::households::retention::ERASED)).count().get_result(&mut app.conn()).unwrap();
        assert_eq!(erased, 3);
    }
}

// ---- a failed daily run is tried again ----

app_test! {
    async fn a_daily_expiry_that_failed_runs_again_the_same_day(app) {
        let [_, _, _, village] = app.area_chain("重跑");
        let h = app.household("重跑户", &village);
        aixin::db::write_tx(&mut app.conn(), |c| ledger::post(c, &Posting {
            debit: ledger::ISSUANCE.into(),
            credit: ledger::household_account(&h),
            amount: 30,
            kind: Kind::Award,
            ref_kind: "test".into(),
            ref_id: String::new(),
            memo: String::new(),
            user_id: None,
            posted_on: chrono::NaiveDate::from_ymd_opt(2020, 5, 1).unwrap(),
            idempotency_key: None,
            reverses: None,
        })).unwrap();
        aixin::settings::set(&mut app.conn(), &aixin::auth::Actor::console(), aixin::settings::EXPIRY_YEARS, 1).unwrap();
        // The run fails as a whole (its audit row cannot be written).
        refuse(&app, "no_expiry_audit", "INSERT", "audit_log", "NEW.action = 'points.expire'");
        assert!(aixin::points::expiry::daily(&mut app.conn(), today()).is_err());
        assert_eq!(balance(&app, &h), 30, "nothing expired");
        let admin = app.admin().await;
        admin.get("/operations").await.assert_contains("id=\"job-expiry\" data-failed=\"1\"");
        // Fixed: the next tick of the same day runs it, once.
        allow(&app, "no_expiry_audit", "audit_log");
        let out = aixin::points::expiry::daily(&mut app.conn(), today()).unwrap().expect("the day is run again");
        assert_eq!((out.households, out.points), (1, 30));
        assert!(aixin::points::expiry::daily(&mut app.conn(), today()).unwrap().is_none(), "and not a third time");
        assert_eq!(balance(&app, &h), 0);
        admin.get("/operations").await.assert_contains("1 户，共 30 分过期");
        assert!(ledger::verify(&mut app.conn()).unwrap().ok());
    }
}

// ---- page decisions name the version seen ----

app_test! {
    async fn a_page_decision_without_the_version_seen_is_refused(app) {
        use aixin::db::schema::awards;
        let [_, _, _, village] = app.area_chain("无版");
        let off = app.user("wb-off", Role::Official, Some(&village), None);
        let rev = app.user("wb-rev", Role::Reviewer, Some(&village), None);
        let h = app.household("无版户", &village);
        app.rule("W5", "志愿服务", 5, None);
        let ctx = aixin::auth::Actor::console();
        let ids: Vec<String> = (0..2)
            .map(|i| {
                let p = aw::parse_proposal("W5", &today().to_string(), "", today()).unwrap();
                aw::propose(&mut app.conn(), &who(&off, Role::Official).actor(&ctx), &crate::helpers::hid(&h), &p, &format!("w{i}"), today()).unwrap().id.to_string()
            })
            .collect();
        let reviewer = app.client();
        reviewer.login("wb-rev", PASSWORD).await;
        let missing = "页面没有带上您看到的版本";
        // One award, its own button, no `v:` field.
        reviewer.submit("/review", &[("approve_one", ids[0].as_str())]).await.assert_contains(missing);
        reviewer.submit("/review", &[("reject_one", ids[0].as_str()), ("reason", "不实")]).await.assert_contains(missing);
        // Several ticked, one without its version: none is decided.
        let v0 = format!("v:{}", ids[0]);
        reviewer.submit("/review", &[("decision", "approve"), ("id", &ids[0]), (&v0, "1"), ("id", &ids[1])]).await.assert_contains(missing);
        // A version that is not a number is no version either.
        reviewer.submit("/review", &[("approve_one", ids[0].as_str()), (&v0, "latest")]).await.assert_contains(missing);
        let pending: i64 = awards::table.filter(awards::status.eq("pending")).count().get_result(&mut app.conn()).unwrap();
        assert_eq!(pending, 2, "nothing was decided");
        // The official's edit and withdrawal, too.
        let official = app.client();
        official.login("wb-off", PASSWORD).await;
        let day = today().to_string();
        official.submit(&format!("/awards/{}", ids[1]), &[("rule_code", "W5"), ("occurred_on", &day), ("note", "改")]).await.assert_contains(missing);
        official.submit(&format!("/awards/{}/withdraw", ids[1]), &[]).await.assert_contains(missing);
        let v: Vec<i64> = awards::table.order(awards::id.asc()).select(awards::version).load(&mut app.conn()).unwrap();
        assert_eq!(v, vec![1, 1], "nothing was changed");
        // Approved (with the version), then a reversal and an objection without it.
        aw::review_seen(&mut app.conn(), &who(&rev, Role::Reviewer).actor(&ctx), &crate::helpers::aid(&ids[0]), &Decision::Approve, Some(1), today()).unwrap();
        let admin = app.admin().await;
        admin.submit(&format!("/awards/{}/reverse", ids[0]), &[("reason", "重复")]).await.assert_contains(missing);
        let back = format!("/households/{h}");
        admin.submit(&format!("/awards/{}/object", ids[0]), &[("objection", "不实"), ("back", &back)]).await.assert_contains(missing);
        assert_eq!(balance(&app, &h), 5);
        // An adjustment waiting for a second admin.
        {
            use aixin::points::adjustments;
            let a1 = app.user("wb-a1", Role::Admin, None, None);
            aixin::settings::set(&mut app.conn(), &aixin::auth::Actor::console(), aixin::settings::ADJUSTMENT_APPROVAL_ABOVE, 100).unwrap();
            let asked = adjustments::request(&mut app.conn(), &who(&a1, Role::Admin).actor(&ctx), &crate::helpers::hid(&h), 500, "补录", "wb-adj", today(), chrono_tz::Asia::Shanghai).unwrap();
            assert!(matches!(asked, adjustments::Requested::AwaitingApproval));
            let id = adjustments::pending(&mut app.conn()).unwrap()[0].0.id.clone();
            admin.submit(&format!("/adjustments/{id}"), &[("decision", "approve")]).await.assert_contains(missing);
            assert_eq!(adjustments::pending(&mut app.conn()).unwrap().len(), 1, "still waiting");
            assert_eq!(balance(&app, &h), 5);
        }
    }
}

// ---- nothing is posted far in the future ----

app_test! {
    async fn a_posting_dated_far_ahead_is_refused_at_posting(app) {
        let far = aixin::time::today(chrono_tz::Asia::Shanghai) + chrono::Duration::days(ledger::closed::FAR_FUTURE_DAYS + 1);
        let [_, _, town, village] = app.area_chain("远期");
        let h = app.household("远期户", &village);
        // The points ledger.
        let e = aixin::db::write_tx(&mut app.conn(), |c| ledger::post(c, &Posting {
            debit: ledger::ISSUANCE.into(),
            credit: ledger::household_account(&h),
            amount: 10,
            kind: Kind::Adjustment,
            ref_kind: "test".into(),
            ref_id: String::new(),
            memo: String::new(),
            user_id: None,
            posted_on: far,
            idempotency_key: None,
            reverses: None,
        })).unwrap_err();
        assert_eq!(e, ledger::LedgerError::FarFuture(far));
        // The stock ledger.
        let store = app.store("远期超市", &town);
        let goods = crate::stock::seed(&app, &store);
        let item = aixin::goods::find(&mut app.conn(), &crate::helpers::iid(&goods.items[0])).unwrap().unwrap();
        let before: i64 = stock_movements::table.count().get_result(&mut app.conn()).unwrap();
        let e = aixin::stock::adjust(&mut app.conn(), &aixin::auth::Actor::console(), &crate::helpers::sid(&store), &item, 5, "盘盈", far).unwrap_err();
        assert!(matches!(e, aixin::stock::StockError::Invalid(ref f) if f.key == "error.date_far_future"), "{e:?}");
        let after: i64 = stock_movements::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(before, after);
        // A settlement run "as of" a far day credits nothing and says why on the award.
        let off = app.user("yq-off", Role::Official, Some(&village), None);
        let rev = app.user("yq-rev", Role::Reviewer, Some(&village), None);
        app.rule("Y5", "志愿服务", 5, None);
        let ctx = aixin::auth::Actor::console();
        aixin::settings::set(&mut app.conn(), &aixin::auth::Actor::console(), aixin::settings::NOTICE_DAYS, 1).unwrap();
        let p = aw::parse_proposal("Y5", &today().to_string(), "", today()).unwrap();
        let a = aw::propose(&mut app.conn(), &who(&off, Role::Official).actor(&ctx), &crate::helpers::hid(&h), &p, "y5", today()).unwrap();
        aw::review_seen(&mut app.conn(), &who(&rev, Role::Reviewer).actor(&ctx), &a.id, &Decision::Approve, Some(1), today()).unwrap();
        let out = aw::settle_job(&mut app.conn(), far).unwrap();
        assert_eq!((out.settled, out.failed.len()), (0, 1));
        let stuck = aw::find(&mut app.conn(), &a.id).unwrap().unwrap();
        assert_eq!(stuck.status, "noticed");
        assert!(aw::settle_error_text(aixin::i18n::Lang::Zh, &stuck.settle_error).contains("请核对年份"), "{}", stuck.settle_error);
        assert_eq!(balance(&app, &h), 0);
        // Through the forms and the API: a deed, a donation and a donation by API dated far ahead.
        let admin = app.admin().await;
        let far_text = far.to_string();
        let official = app.client();
        official.login("yq-off", PASSWORD).await;
        let key = aixin::idempotency::IdemKey::issue().to_string();
        let page = official.submit("/awards", &[("household_id", &h), ("rule_code", "Y5"), ("occurred_on", &far_text), ("note", ""), ("key", &key)]).await;
        page.assert_contains("不能是将来的日期");
        let form = admin.get(&format!("/stores/{store}/donations/new")).await;
        let key = crate::stock::key_for(&form.body, &format!("/stores/{store}/donations"));
        let page = admin.submit(&format!("/stores/{store}/donations"), &[("key", &key), ("donor_id", &goods.donor), ("donated_on", &far_text), ("item", &goods.items[0]), ("quantity", "3"), ("value", "")]).await;
        page.assert_contains("不能是将来的日期");
        let after_forms: i64 = stock_movements::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(after_forms, before);
        let entries: i64 = point_entries::table.filter(point_entries::posted_on.gt(today())).count().get_result(&mut app.conn()).unwrap();
        assert_eq!(entries, 0, "nothing is dated ahead anywhere");
        assert!(ledger::verify(&mut app.conn()).unwrap().ok());
    }
}
