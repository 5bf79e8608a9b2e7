//! Points: the rulebook, awards with review, the ledger and its proofs.

use aixin::audit::AuditCtx;
use aixin::auth::Scope;
use aixin::db::schema::{audit_log, awards, point_entries};
use aixin::domain::Role;
use aixin::ledger::{self, Kind, Posting};

use aixin::points::awards::{self as aw, Decision, Who};
use diesel::prelude::*;

use crate::helpers::*;

fn today() -> chrono::NaiveDate {
    aixin::time::today(chrono_tz::Asia::Shanghai)
}

fn who(user_id: &str, role: Role) -> Who {
    Who {
        user_id: user_id.to_string(),
        role,
        scope: Scope::All,
    }
}

fn balance(app: &TestApp, household: &str) -> i64 {
    ledger::balance(&mut app.conn(), &ledger::household_account(household)).unwrap()
}

fn grant(app: &TestApp, household: &str, points: i64) {
    fund(&mut app.conn(), household, points);
}

app_test! {
    async fn thirty_awards_for_a_training_reviewed_29_approved_1_rejected(app) {
        let [_, _, _, village] = app.area_chain("培训");
        let official_id = app.user("peixun", Role::Official, Some(&village), None);
        app.user("shenhe", Role::Reviewer, Some(&village), None);
        app.rule("T01", "参加技能培训", 5, Some((1, "month")));
        let households: Vec<String> = (0..30).map(|i| app.household(&format!("学员{i:02}"), &village)).collect();
        let official = app.client();
        official.login("peixun", PASSWORD).await;
        let form = official.get(&format!("/awards/batch?area_id={village}")).await;
        form.assert_contains("学员00");
        let key = form.body.split("name=\"key\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        let day = today().to_string();
        let mut fields: Vec<(&str, &str)> = vec![("key", &key), ("area_id", &village), ("rule_code", "T01"), ("occurred_on", &day), ("note", "11 月种植培训")];
        for h in &households {
            fields.push(("household_id", h));
        }
        let done = official.post("/awards/batch", &fields).await;
        assert_eq!(done.status, 200);
        done.assert_contains("已申报 30 户");
        // The same form again proposes nothing more.
        let again = official.post("/awards/batch", &fields).await;
        again.assert_contains("这张表单已经提交过");
        let n: i64 = awards::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 30);
        // The official cannot review, not even their own.
        assert_eq!(official.get("/review").await.status, 403);

        let reviewer = app.client();
        reviewer.login("shenhe", PASSWORD).await;
        let queue = reviewer.get("/review").await;
        queue.assert_contains("学员29");
        let ids: Vec<String> = awards::table.inner_join(aixin::db::schema::households::table)
            .order(aixin::db::schema::households::head_name.asc())
            .select(awards::id).load(&mut app.conn()).unwrap();
        // Reject one without a reason: refused. With a reason: done.
        let page = reviewer.submit("/review", &[("id", &ids[7]), ("decision", "reject"), ("reason", "")]).await;
        page.assert_contains("驳回时必须填写原因");
        let page = reviewer.submit("/review", &[("id", &ids[7]), ("decision", "reject"), ("reason", "未参加培训")]).await;
        page.assert_contains("已处理 1 项");
        let mut approve: Vec<(&str, &str)> = vec![("decision", "approve")];
        for (i, id) in ids.iter().enumerate() {
            if i != 7 {
                approve.push(("id", id));
            }
        }
        let page = reviewer.submit("/review", &approve).await;
        page.assert_contains("已处理 29 项");
        page.assert_contains("没有待审核的申报");

        for (i, h) in households.iter().enumerate() {
            assert_eq!(balance(&app, h), if i == 7 { 0 } else { 5 });
        }
        // The statements say exactly that.
        let st = official.get(&format!("/households/{}/statement", households[0])).await;
        st.assert_contains("参加技能培训");
        st.assert_contains("id=\"closing\">5<");
        let st = official.get(&format!("/households/{}/statement", households[7])).await;
        st.assert_contains("id=\"closing\">0<");
        // So does the public notice: 29 lines, no ID numbers, masked cards.
        let notice = official.get(&format!("/notice?village_id={village}")).await;
        assert_eq!(notice.body.matches("参加技能培训").count(), 29);
        assert!(!notice.body.contains("学员07"));
        notice.assert_contains("****");
        notice.assert_contains(">145<");
        // A second "once a month" award for the same household is refused, naming the first.
        let _ = official_id;
        let form = official.get(&format!("/awards/new?household_id={}", households[0])).await;
        let key = form.body.split("name=\"key\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        let page = official.submit("/awards", &[("key", &key), ("household_id", &households[0]), ("rule_code", "T01"), ("occurred_on", &day)]).await;
        page.assert_contains(&format!("“参加技能培训”每月最多 1 次，本期已有 1 次（第一次在 {day}）"));
        // The ledger verifies.
        let r = ledger::verify(&mut app.conn()).unwrap();
        assert!(r.ok(), "{r:?}");
        assert_eq!(r.entries, 29);
    }
}

app_test! {
    async fn nobody_reviews_their_own_award_or_their_own_household(app) {
        let [_, _, _, village] = app.area_chain("四眼");
        let admin_id = app.user("admin1", Role::Admin, None, None);
        let reviewer_id = app.user("rev1", Role::Reviewer, Some(&village), None);
        app.rule("A1", "打扫庭院", 2, None);
        let h = app.household("甲户", &village);
        let ctx = AuditCtx::console();
        let mut c = app.conn();
        let p = aw::parse_proposal("A1", &today().to_string(), "", today()).unwrap();
        let own = aw::propose(&mut c, &who(&admin_id, Role::Admin).actor(&ctx), &h, &p, "k-own", today()).unwrap();
        let e = aw::review(&mut c, &who(&admin_id, Role::Admin).actor(&ctx), &own.id, &Decision::Approve, today()).unwrap_err();
        assert!(matches!(e, aixin::points::PointsError::Invalid(ref f) if f.key == "error.review_own"), "{e:?}");
        // The reviewer is the household's helper: refused too.
        {
            use aixin::db::schema::households;
            diesel::update(households::table.find(&h)).set(households::helper_id.eq(&reviewer_id)).execute(&mut c).unwrap();
        }
        let e = aw::review(&mut c, &who(&reviewer_id, Role::Reviewer).actor(&ctx), &own.id, &Decision::Approve, today()).unwrap_err();
        assert!(matches!(e, aixin::points::PointsError::Invalid(ref f) if f.key == "error.review_own_household"), "{e:?}");
        assert_eq!(balance(&app, &h), 0);
        // Someone else may.
        let other = app.user("rev2", Role::Reviewer, Some(&village), None);
        aw::review(&mut c, &who(&other, Role::Reviewer).actor(&ctx), &own.id, &Decision::Approve, today()).unwrap();
        assert_eq!(balance(&app, &h), 2);
        // Reviewed once is reviewed: a second approval changes nothing.
        let e = aw::review(&mut c, &who(&other, Role::Reviewer).actor(&ctx), &own.id, &Decision::Approve, today()).unwrap_err();
        assert!(matches!(e, aixin::points::PointsError::Invalid(ref f) if f.key == "error.award_not_pending"));
        assert_eq!(balance(&app, &h), 2);
    }
}

app_test! {
    async fn caps_hold_at_their_edges(app) {
        let [_, _, _, village] = app.area_chain("上限");
        let off = app.user("off", Role::Official, Some(&village), None);
        app.rule("M", "每月一次", 3, Some((1, "month")));
        {
            let mut c = app.conn();
            let input = aixin::points::RuleInput {
                code: "Y".into(), name: "每年至多二十分".into(), category_id: "cat-06".into(), points: 8,
                cap_count: None, cap_points: Some(20), cap_period: Some(aixin::points::Period::Year),
                valid_from: None, valid_to: None, active: true,
            };
            aixin::points::create_rule(&mut c, &AuditCtx::console(), &input).unwrap();
        }
        let h = app.household("乙户", &village);
        let ctx = AuditCtx::console();
        let mut c = app.conn();
        let actor = who(&off, Role::Official);
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let t = today();
        let last_of_prev = t.with_day(1).unwrap() - chrono::Duration::days(1);
        let propose = |c: &mut aixin::db::DbConn, code: &str, day: chrono::NaiveDate, key: &str| {
            let p = aw::parse_proposal(code, &day.to_string(), "", t).unwrap();
            aw::propose(c, &actor.actor(&ctx), &h, &p, key, t)
        };
        use chrono::Datelike;
        propose(&mut c, "M", last_of_prev, "1").unwrap();
        // The first of this month is a new period: allowed.
        propose(&mut c, "M", t.with_day(1).unwrap(), "2").unwrap();
        // A second one this month: refused.
        let e = propose(&mut c, "M", t, "3").err().unwrap();
        assert!(matches!(e, aixin::points::PointsError::Invalid(ref f) if f.key == "error.cap_count_reached"));
        // 8 + 8 = 16 <= 20; a third 8 would make 24 > 20.
        let jan = d(&format!("{}-01-01", t.year()));
        let start = if jan > t - chrono::Duration::days(300) { jan } else { t - chrono::Duration::days(2) };
        propose(&mut c, "Y", start.max(t - chrono::Duration::days(2)), "4").unwrap();
        propose(&mut c, "Y", t, "5").unwrap();
        let e = propose(&mut c, "Y", t, "6").err().unwrap();
        assert!(matches!(e, aixin::points::PointsError::Invalid(ref f) if f.key == "error.cap_points_reached" && f.args.iter().any(|(k, v)| *k == "used" && v == "16")), "{e:?}");
        // A withdrawn proposal frees its place.
        let pending: String = awards::table.filter(awards::idempotency_key.eq("5")).select(awards::id).first(&mut c).unwrap();
        aw::withdraw(&mut c, &actor.actor(&ctx), &pending).unwrap();
        propose(&mut c, "Y", t, "7").unwrap();
    }
}

app_test! {
    async fn a_deduction_never_takes_a_balance_below_zero(app) {
        let [_, _, _, village] = app.area_chain("扣分");
        let off = app.user("off", Role::Official, Some(&village), None);
        let rev = app.user("rev", Role::Reviewer, Some(&village), None);
        app.rule("D", "乱扔垃圾", -5, None);
        let h = app.household("丙户", &village);
        grant(&app, &h, 3);
        let ctx = AuditCtx::console();
        let mut c = app.conn();
        let p = aw::parse_proposal("D", &today().to_string(), "", today()).unwrap();
        let a = aw::propose(&mut c, &who(&off, Role::Official).actor(&ctx), &h, &p, "d1", today()).unwrap();
        let e = aw::review(&mut c, &who(&rev, Role::Reviewer).actor(&ctx), &a.id, &Decision::Approve, today()).unwrap_err();
        match e {
            aixin::points::PointsError::Invalid(f) => {
                assert_eq!(f.key, "error.insufficient_points");
                let msg = aixin::i18n::field_error(aixin::i18n::Lang::Zh, &f);
                assert!(msg.contains("现有 3 分") && msg.contains("还差 2 分"), "{msg}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(balance(&app, &h), 3);
        let status: String = awards::table.find(&a.id).select(awards::status).first(&mut c).unwrap();
        assert_eq!(status, "pending", "nothing changed");
        grant(&app, &h, 2);
        aw::review(&mut c, &who(&rev, Role::Reviewer).actor(&ctx), &a.id, &Decision::Approve, today()).unwrap();
        assert_eq!(balance(&app, &h), 0);
        // And a reversal gives the points back.
        let admin = app.user("boss2", Role::Admin, None, None);
        aw::reverse(&mut c, &who(&admin, Role::Admin).actor(&ctx), &a.id, "误录", today()).unwrap();
        assert_eq!(balance(&app, &h), 5);
        assert!(ledger::verify(&mut c).unwrap().ok());
    }
}

app_test! {
    async fn with_review_off_awards_count_when_made_and_the_log_says_so(app) {
        let [_, _, _, village] = app.area_chain("小村");
        let admin = app.admin().await;
        let page = admin.submit("/settings", &[("notice_days", "0"), ("adjustment_approval_above", "100")]).await;
        page.assert_contains("设置已保存");
        app.user("xiao", Role::Official, Some(&village), None);
        app.rule("S", "志愿服务", 4, None);
        let h = app.household("丁户", &village);
        let official = app.client();
        official.login("xiao", PASSWORD).await;
        let form = official.get(&format!("/awards/new?household_id={h}")).await;
        let key = form.body.split("name=\"key\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        let page = official.submit("/awards", &[("key", &key), ("household_id", &h), ("rule_code", "S"), ("occurred_on", &today().to_string())]).await;
        page.assert_contains("已记入积分");
        // A double click posts once.
        official.post("/awards", &[("key", &key), ("household_id", &h), ("rule_code", "S"), ("occurred_on", &today().to_string())]).await;
        assert_eq!(balance(&app, &h), 4);
        let summaries: Vec<String> = audit_log::table.filter(audit_log::action.eq("award.approve")).select(audit_log::summary).load(&mut app.conn()).unwrap();
        assert_eq!(summaries, vec!["review off: approved when made".to_string()]);
    }
}

app_test! {
    async fn awards_on_notice_count_after_it_and_an_objection_sends_them_back(app) {
        let [city, _, _, village] = app.area_chain("公示");
        let admin = app.admin().await;
        admin.submit("/settings", &[("review_required", "1"), ("notice_days", "3"), ("adjustment_approval_above", "100")]).await;
        let off = app.user("off", Role::Official, Some(&village), None);
        let rev = app.user("rev", Role::Reviewer, Some(&village), None);
        app.rule("N", "孝老爱亲", 6, None);
        let h = app.household("戊户", &village);
        let ctx = AuditCtx::console();
        let mut c = app.conn();
        let p = aw::parse_proposal("N", &today().to_string(), "", today()).unwrap();
        let a = aw::propose(&mut c, &who(&off, Role::Official).actor(&ctx), &h, &p, "n1", today()).unwrap();
        aw::review(&mut c, &who(&rev, Role::Reviewer).actor(&ctx), &a.id, &Decision::Approve, today()).unwrap();
        assert_eq!(balance(&app, &h), 0, "not counted during the notice period");
        assert_eq!(aw::settle_notices(&mut c, today()).unwrap(), 0);
        aw::object(
            &mut c,
            &who(&off, Role::Official).actor(&ctx),
            &a.id,
            "邻居反映并未照顾老人",
            chrono_tz::Asia::Shanghai,
        )
        .unwrap();
        let status: String = awards::table.find(&a.id).select(awards::status).first(&mut c).unwrap();
        assert_eq!(status, "pending", "an objection puts the award back into review");
        // The month's summary counts awards proposed and decided in it.
        let month = aixin::reports::Month::of(today());
        let counts = |c: &mut aixin::db::DbConn| {
            let s = aixin::reports::monthly(c, chrono_tz::Asia::Shanghai, &city, month).unwrap().unwrap();
            (s.points.proposed, s.points.approved, s.points.rejected)
        };
        assert_eq!(counts(&mut c), (1, 0, 0), "sent back: no longer approved");
        aw::review(&mut c, &who(&rev, Role::Reviewer).actor(&ctx), &a.id, &Decision::Approve, today()).unwrap();
        assert_eq!(counts(&mut c), (1, 1, 0));
        let p2 = aw::parse_proposal("N", &today().to_string(), "", today()).unwrap();
        let b = aw::propose(&mut c, &who(&off, Role::Official).actor(&ctx), &h, &p2, "n2", today()).unwrap();
        aw::review(&mut c, &who(&rev, Role::Reviewer).actor(&ctx), &b.id, &Decision::Reject("不实".into()), today()).unwrap();
        assert_eq!(counts(&mut c), (2, 1, 1));
        aixin::db::write_tx(&mut c, |c| aixin::ledger::totals::rebuild(c, chrono_tz::Asia::Shanghai)).unwrap();
        assert_eq!(counts(&mut c), (2, 1, 1), "made again from the awards, the same");
        let later = today() + chrono::Duration::days(4);
        assert_eq!(aw::settle_notices(&mut c, later).unwrap(), 1);
        assert_eq!(aw::settle_notices(&mut c, later).unwrap(), 0, "settling twice posts once");
        assert_eq!(balance(&app, &h), 6);
    }
}

app_test! {
    async fn large_adjustments_need_a_second_admin(app) {
        let [_, _, _, village] = app.area_chain("调整");
        let h = app.household("己户", &village);
        let a1 = app.user("a1", Role::Admin, None, None);
        let a2 = app.user("a2", Role::Admin, None, None);
        let ctx = AuditCtx::console();
        let mut c = app.conn();
        use aixin::points::adjustments;
        assert!(matches!(adjustments::request(&mut c, &who(&a1, Role::Admin).actor(&ctx), &h, 50, "补录", "j1", today()).unwrap(), adjustments::Requested::Posted));
        assert_eq!(balance(&app, &h), 50);
        assert!(matches!(adjustments::request(&mut c, &who(&a1, Role::Admin).actor(&ctx), &h, 500, "大额补录", "j2", today()).unwrap(), adjustments::Requested::AwaitingApproval));
        assert_eq!(balance(&app, &h), 50);
        let pending = adjustments::pending(&mut c).unwrap();
        let id = pending[0].0.id.clone();
        assert!(adjustments::decide(&mut c, &who(&a1, Role::Admin).actor(&ctx), &id, true, today()).is_err(), "not by the same admin");
        adjustments::decide(&mut c, &who(&a2, Role::Admin).actor(&ctx), &id, true, today()).unwrap();
        assert_eq!(balance(&app, &h), 550);
        // A replayed request posts nothing more.
        adjustments::request(&mut c, &who(&a1, Role::Admin).actor(&ctx), &h, 50, "补录", "j1", today()).unwrap();
        assert_eq!(balance(&app, &h), 550);
        assert!(ledger::verify(&mut c).unwrap().ok());
    }
}

app_test! {
    async fn random_sequences_keep_the_ledger_whole(app) {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};
        let [_, _, _, village] = app.area_chain("随机");
        let households: Vec<String> = (0..4).map(|i| app.household(&format!("随机{i}"), &village)).collect();
        #[derive(Debug, Clone)]
        enum Op {
            Award(usize, i64),
            Deduct(usize, i64),
            Reverse(usize),
            Adjust(usize, i64),
        }
        let op = prop_oneof![
            (0..4usize, 1..50i64).prop_map(|(h, n)| Op::Award(h, n)),
            (0..4usize, 1..80i64).prop_map(|(h, n)| Op::Deduct(h, n)),
            (0..40usize).prop_map(Op::Reverse),
            (0..4usize, -60..60i64).prop_map(|(h, n)| Op::Adjust(h, n)),
        ];
        let mut runner = TestRunner::new(Config { cases: 24, ..Config::default() });
        runner
            .run(&proptest::collection::vec(op, 1..30), |ops| {
                let mut c = app.conn();
                for o in ops {
                    let (debit, credit, amount, reverse) = match o {
                        Op::Award(h, n) => (ledger::ISSUANCE.to_string(), ledger::household_account(&households[h]), n, None),
                        Op::Deduct(h, n) => (ledger::household_account(&households[h]), ledger::ISSUANCE.to_string(), n, None),
                        Op::Adjust(h, n) if n > 0 => (ledger::ISSUANCE.to_string(), ledger::household_account(&households[h]), n, None),
                        Op::Adjust(h, n) => (ledger::household_account(&households[h]), ledger::ISSUANCE.to_string(), -n, None),
                        Op::Reverse(i) => {
                            let entries: Vec<ledger::Entry> = point_entries::table.filter(point_entries::reverses.is_null()).order(point_entries::seq.asc()).select(ledger::Entry::as_select()).load(&mut c).unwrap();
                            match entries.get(i) {
                                Some(e) => (String::new(), String::new(), 0, Some(e.clone())),
                                None => continue,
                            }
                        }
                    };
                    let result = aixin::db::write_tx(&mut c, |c| match &reverse {
                        Some(e) => ledger::reverse(c, e, Kind::AwardReversal, "prop", None, today()),
                        None => ledger::post(c, &Posting {
                            debit: debit.clone(), credit: credit.clone(), amount, kind: Kind::Adjustment,
                            ref_kind: "prop".into(), ref_id: String::new(), memo: String::new(), user_id: None,
                            posted_on: today(), idempotency_key: None, reverses: None,
                        }),
                    });
                    match result {
                        Ok(_) | Err(ledger::LedgerError::Insufficient { .. }) | Err(ledger::LedgerError::BadAmount) => {}
                        Err(e) => panic!("{e:?}"),
                    }
                    for h in &households {
                        prop_assert!(ledger::balance(&mut c, &ledger::household_account(h)).unwrap() >= 0);
                    }
                }
                let r = ledger::verify(&mut c).unwrap();
                prop_assert!(r.ok(), "{:?}", r);
                prop_assert_eq!(r.total, 0);
                Ok(())
            })
            .unwrap();
    }
}

app_test! {
    async fn tampering_with_an_entry_is_named_by_ledger_verify(app) {
        let [_, _, _, village] = app.area_chain("篡改");
        let h = app.household("庚户", &village);
        for n in [5, 7, 9] {
            grant(&app, &h, n);
        }
        let mut c = app.conn();
        assert!(ledger::verify(&mut c).unwrap().ok());
        // The database refuses edits...
        assert!(diesel::update(point_entries::table.filter(point_entries::seq.eq(2))).set(point_entries::amount.eq(700)).execute(&mut c).is_err());
        // ...so someone who drops the guard and edits by hand is caught.
        match &mut *c {
            aixin::db::DbConn::Sqlite(_) => {
                diesel::sql_query("DROP TRIGGER point_entries_no_update").execute(&mut *c).unwrap();
            }
            aixin::db::DbConn::Pg(_) => {
                diesel::sql_query("DROP TRIGGER point_entries_append_only ON point_entries").execute(&mut *c).unwrap();
            }
        }
        diesel::update(point_entries::table.filter(point_entries::seq.eq(2))).set(point_entries::amount.eq(700)).execute(&mut c).unwrap();
        let r = ledger::verify(&mut c).unwrap();
        assert!(!r.ok());
        assert_eq!(r.broken_entry.as_ref().map(|b| b.0), Some(2));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_aixin"))
            .args(["ledger", "verify"])
            .env("DATABASE_URL", &app.config.database_url)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("entry #2"), "{text}");
    }
}
