//! Points: the rulebook, awards with review, the ledger and its proofs.

use aixin::audit::AuditCtx;
use aixin::auth::Scope;
use aixin::db::schema::{audit_log, awards, point_entries};
use aixin::domain::Role;
use aixin::ledger::{self, Kind, Posting};

use aixin::points::awards::{self as aw, Decision};
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
        let seen: Vec<String> = ids.iter().map(|id| format!("v:{id}")).collect();
        let page = reviewer.submit("/review", &[("id", &ids[7]), (&seen[7], "1"), ("decision", "reject"), ("reason", "")]).await;
        page.assert_contains("驳回时必须填写原因");
        let page = reviewer.submit("/review", &[("id", &ids[7]), (&seen[7], "1"), ("decision", "reject"), ("reason", "未参加培训")]).await;
        page.assert_contains("已处理 1 项");
        let mut approve: Vec<(&str, &str)> = vec![("decision", "approve")];
        for (i, id) in ids.iter().enumerate() {
            if i != 7 {
                approve.push(("id", id));
                approve.push((&seen[i], "1"));
            }
        }
        let page = reviewer.submit("/review", &approve).await;
        page.assert_contains("已处理 29 项");
        page.assert_contains("没有待审核的申报");
        // The audit log says whose award was decided, under which rule, and why.
        let said = |action: &str, lang| -> Vec<String> {
            let rows: Vec<String> = audit_log::table.filter(audit_log::action.eq(action)).order(audit_log::at.asc()).select(audit_log::summary).load(&mut app.conn()).unwrap();
            rows.iter().map(|s| aixin::audit::Detail::read(s).expect("a detail").say(lang)).collect()
        };
        assert_eq!(said("award.reject", aixin::i18n::Lang::Zh), vec!["学员07，细则 T01，+5 分；原因：未参加培训".to_string()]);
        let approved = said("award.approve", aixin::i18n::Lang::En);
        assert_eq!(approved.len(), 29);
        assert!(approved.contains(&"学员00, rule T01, +5 points".to_string()), "{approved:?}");

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
        let ctx = aixin::auth::Actor::console();
        let mut c = app.conn();
        let p = aw::parse_proposal("A1", &today().to_string(), "", today()).unwrap();
        let own = aw::propose(&mut c, &who(&admin_id, Role::Admin).actor(&ctx), &crate::helpers::hid(&h), &p, "k-own", today()).unwrap();
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
            aixin::points::create_rule(&mut c, &aixin::auth::Actor::console(), &input).unwrap();
        }
        let h = app.household("乙户", &village);
        let ctx = aixin::auth::Actor::console();
        let mut c = app.conn();
        let actor = who(&off, Role::Official);
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let t = today();
        let last_of_prev = t.with_day(1).unwrap() - chrono::Duration::days(1);
        let propose = |c: &mut aixin::db::DbConn, code: &str, day: chrono::NaiveDate, key: &str| {
            let p = aw::parse_proposal(code, &day.to_string(), "", t).unwrap();
            aw::propose(c, &actor.actor(&ctx), &crate::helpers::hid(&h), &p, key, t)
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
        aw::withdraw(&mut c, &actor.actor(&ctx), &crate::helpers::aid(&pending)).unwrap();
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
        let ctx = aixin::auth::Actor::console();
        let mut c = app.conn();
        let p = aw::parse_proposal("D", &today().to_string(), "", today()).unwrap();
        let a = aw::propose(&mut c, &who(&off, Role::Official).actor(&ctx), &crate::helpers::hid(&h), &p, "d1", today()).unwrap();
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
        let page = admin.submit_shown("/settings", "/settings", &[("notice_days", "0"), ("adjustment_approval_above", "100")]).await;
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
        let said: Vec<String> = summaries.iter().map(|s| aixin::audit::Detail::read(s).expect("a detail").say(aixin::i18n::Lang::En)).collect();
        assert_eq!(said, vec!["丁户, rule S, +4 points; review is off: approved when made".to_string()]);
    }
}

app_test! {
    async fn awards_on_notice_count_after_it_and_an_objection_sends_them_back(app) {
        let [city, _, _, village] = app.area_chain("公示");
        let admin = app.admin().await;
        admin.submit_shown("/settings", "/settings", &[("review_required", "1"), ("notice_days", "3"), ("adjustment_approval_above", "100")]).await;
        let off = app.user("off", Role::Official, Some(&village), None);
        let rev = app.user("rev", Role::Reviewer, Some(&village), None);
        app.rule("N", "孝老爱亲", 6, None);
        let h = app.household("戊户", &village);
        let ctx = aixin::auth::Actor::console();
        let mut c = app.conn();
        let p = aw::parse_proposal("N", &today().to_string(), "", today()).unwrap();
        let a = aw::propose(&mut c, &who(&off, Role::Official).actor(&ctx), &crate::helpers::hid(&h), &p, "n1", today()).unwrap();
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
        let b = aw::propose(&mut c, &who(&off, Role::Official).actor(&ctx), &crate::helpers::hid(&h), &p2, "n2", today()).unwrap();
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
        let ctx = aixin::auth::Actor::console();
        let mut c = app.conn();
        use aixin::points::adjustments;
        assert!(matches!(adjustments::request(&mut c, &who(&a1, Role::Admin).actor(&ctx), &crate::helpers::hid(&h), 50, "补录", "j1", today(), chrono_tz::Asia::Shanghai).unwrap(), adjustments::Requested::Posted));
        assert_eq!(balance(&app, &h), 50);
        assert!(matches!(adjustments::request(&mut c, &who(&a1, Role::Admin).actor(&ctx), &crate::helpers::hid(&h), 500, "大额补录", "j2", today(), chrono_tz::Asia::Shanghai).unwrap(), adjustments::Requested::AwaitingApproval));
        assert_eq!(balance(&app, &h), 50);
        let pending = adjustments::pending(&mut c).unwrap();
        let id = pending[0].0.id.clone();
        assert!(adjustments::decide(&mut c, &who(&a1, Role::Admin).actor(&ctx), &id, true, today()).is_err(), "not by the same admin");
        adjustments::decide(&mut c, &who(&a2, Role::Admin).actor(&ctx), &id, true, today()).unwrap();
        assert_eq!(balance(&app, &h), 550);
        // A replayed request posts nothing more.
        adjustments::request(&mut c, &who(&a1, Role::Admin).actor(&ctx), &crate::helpers::hid(&h), 50, "补录", "j1", today(), chrono_tz::Asia::Shanghai).unwrap();
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

// ---- #16.2: what the reviewer saw is what gets decided ----

fn award_version(app: &TestApp, id: &str) -> i64 {
    awards::table
        .find(id)
        .select(awards::version)
        .first(&mut app.conn())
        .unwrap()
}

fn award_status(app: &TestApp, id: &str) -> String {
    awards::table
        .find(id)
        .select(awards::status)
        .first(&mut app.conn())
        .unwrap()
}

fn refused_as_changed(e: aixin::points::PointsError) -> bool {
    matches!(e, aixin::points::PointsError::Invalid(ref f) if f.key == "error.award_changed")
}

/// POST to the API as `username` with an Idempotency-Key: (status, body).
async fn api_post(
    app: &TestApp,
    username: &str,
    path: &str,
    key: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(app.url("/api/v1/tokens"))
        .json(&serde_json::json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    let r = http
        .post(app.url(path))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

app_test! {
    async fn the_reviewer_approves_what_they_saw_not_what_it_became(app) {
        let [_, _, _, village] = app.area_chain("所见");
        let off = app.user("off", Role::Official, Some(&village), None);
        let rev = app.user("rev", Role::Reviewer, Some(&village), None);
        app.rule("S5", "打扫庭院", 5, None);
        app.rule("BIG", "见义勇为", 1000, None);
        let h = app.household("庚户", &village);
        let ctx = aixin::auth::Actor::console();
        let day = today().to_string();
        let a = {
            let mut c = app.conn();
            let p = aw::parse_proposal("S5", &day, "", today()).unwrap();
            aw::propose(&mut c, &who(&off, Role::Official).actor(&ctx), &crate::helpers::hid(&h), &p, "s1", today()).unwrap()
        };
        assert_eq!(a.version, 1);
        // The reviewer's queue shows 5 points, and the version it shows.
        let reviewer = app.client();
        reviewer.login("rev", PASSWORD).await;
        let queue = reviewer.get("/review").await;
        queue.assert_contains(&format!("name=\"v:{}\" value=\"1\"", a.id));
        // Meanwhile the proposer makes it a 1,000-point award.
        let official = app.client();
        official.login("off", PASSWORD).await;
        let edit = official.get(&format!("/awards/{}/edit", a.id)).await;
        edit.assert_contains("name=\"version\" value=\"1\"");
        let page = official.submit(&format!("/awards/{}", a.id), &[("rule_code", "BIG"), ("occurred_on", &day), ("note", ""), ("version", "1")]).await;
        assert!(!page.body.contains("已经变了"), "{}", page.body);
        assert_eq!(award_version(&app, &a.id), 2);
        // A second save of the stale edit form is refused too.
        let page = official.submit(&format!("/awards/{}", a.id), &[("rule_code", "S5"), ("occurred_on", &day), ("note", ""), ("version", "1")]).await;
        page.assert_contains("已经变了");
        // The reviewer approves the row on the page already open: refused, saying what it is now.
        let v = format!("v:{}", a.id);
        let page = reviewer.submit("/review", &[("approve_one", &a.id), (&v, "1")]).await;
        page.assert_contains("这条申报在您打开后已经变了（现在：BIG，1000 分");
        assert_eq!(balance(&app, &h), 0);
        assert_eq!(award_status(&app, &a.id), "pending");
        // Looking again and approving what is shown now works.
        let queue = reviewer.get("/review").await;
        queue.assert_contains(&format!("name=\"v:{}\" value=\"2\"", a.id));
        let page = reviewer.submit("/review", &[("approve_one", &a.id), (&v, "2")]).await;
        page.assert_contains("已处理 1 项");
        assert_eq!(balance(&app, &h), 1000);

        // Bulk approval carries each row's version: the changed row is refused, the other goes.
        let (b, d) = {
            let mut c = app.conn();
            let p = aw::parse_proposal("S5", &day, "", today()).unwrap();
            let b = aw::propose(&mut c, &who(&off, Role::Official).actor(&ctx), &crate::helpers::hid(&h), &p, "s2", today()).unwrap();
            let d = aw::propose(&mut c, &who(&off, Role::Official).actor(&ctx), &crate::helpers::hid(&h), &p, "s3", today()).unwrap();
            let big = aw::parse_proposal("BIG", &day, "", today()).unwrap();
            aw::edit(&mut c, &who(&off, Role::Official).actor(&ctx), &d.id, &big).unwrap();
            (b, d)
        };
        let (vb, vd) = (format!("v:{}", b.id), format!("v:{}", d.id));
        let page = reviewer.submit("/review", &[("decision", "approve"), ("id", &b.id), (&vb, "1"), ("id", &d.id), (&vd, "1")]).await;
        page.assert_contains("已处理 1 项");
        page.assert_contains("已经变了");
        assert_eq!(award_status(&app, &b.id), "approved");
        assert_eq!(award_status(&app, &d.id), "pending");
        assert_eq!(balance(&app, &h), 1005);

        // The API: a stale version is a 409 naming what changed; the current one goes.
        let (s, body) = api_post(&app, "rev", &format!("/api/v1/awards/{}/reject", d.id), "rj-1", serde_json::json!({"reason": "不实", "version": 1})).await;
        assert_eq!(s, 409, "{body}");
        assert_eq!(body["error"]["code"], "conflict");
        assert!(body["error"]["message"].as_str().unwrap().contains("1000"), "{body}");
        assert_eq!(award_status(&app, &d.id), "pending");
        let (s, body) = api_post(&app, "rev", &format!("/api/v1/awards/{}/approve", d.id), "ok-1", serde_json::json!({"version": 2})).await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["version"], 3);
        assert_eq!(balance(&app, &h), 2005);

        // Rejection, withdrawal, objection and reversal carry the version too.
        let mut c = app.conn();
        let p = aw::parse_proposal("S5", &day, "", today()).unwrap();
        let e = aw::propose(&mut c, &who(&off, Role::Official).actor(&ctx), &crate::helpers::hid(&h), &p, "s4", today()).unwrap();
        aw::edit(&mut c, &who(&off, Role::Official).actor(&ctx), &e.id, &p).unwrap();
        assert!(refused_as_changed(aw::review_seen(&mut c, &who(&rev, Role::Reviewer).actor(&ctx), &e.id, &Decision::Reject("x".into()), Some(1), today()).unwrap_err()));
        assert!(refused_as_changed(aw::withdraw_seen(&mut c, &who(&off, Role::Official).actor(&ctx), &e.id, Some(1)).unwrap_err()));
        assert_eq!(award_status(&app, &e.id), "pending");
        aw::withdraw_seen(&mut c, &who(&off, Role::Official).actor(&ctx), &e.id, Some(2)).unwrap();
        assert_eq!(award_status(&app, &e.id), "withdrawn");
        let admin = app.user("boss", Role::Admin, None, None);
        assert!(refused_as_changed(aw::reverse_seen(&mut c, &who(&admin, Role::Admin).actor(&ctx), &a.id, "误录", Some(1), today()).unwrap_err()));
        assert_eq!(balance(&app, &h), 2005, "nothing refused moved any points");
        aw::reverse_seen(&mut c, &who(&admin, Role::Admin).actor(&ctx), &a.id, "误录", Some(award_version(&app, &a.id)), today()).unwrap();
        assert_eq!(balance(&app, &h), 1005);
        let approvals: i64 = audit_log::table.filter(audit_log::action.eq("award.approve")).count().get_result(&mut c).unwrap();
        assert_eq!(approvals, 3);
        assert!(ledger::verify(&mut c).unwrap().ok());
    }
}

app_test! {
    async fn an_objection_names_the_version_it_was_made_on(app) {
        let [_, _, _, village] = app.area_chain("异议");
        let admin = app.admin().await;
        admin.submit_shown("/settings", "/settings", &[("review_required", "1"), ("notice_days", "3"), ("adjustment_approval_above", "100")]).await;
        let off = app.user("off", Role::Official, Some(&village), None);
        let rev = app.user("rev", Role::Reviewer, Some(&village), None);
        app.rule("N", "孝老爱亲", 6, None);
        let h = app.household("辛户", &village);
        let ctx = aixin::auth::Actor::console();
        let mut c = app.conn();
        let p = aw::parse_proposal("N", &today().to_string(), "", today()).unwrap();
        let a = aw::propose(&mut c, &who(&off, Role::Official).actor(&ctx), &crate::helpers::hid(&h), &p, "n1", today()).unwrap();
        aw::review_seen(&mut c, &who(&rev, Role::Reviewer).actor(&ctx), &a.id, &Decision::Approve, Some(1), today()).unwrap();
        assert_eq!(award_version(&app, &a.id), 2);
        // The household page carries the version in the objection form.
        let page = admin.get(&format!("/households/{h}")).await;
        page.assert_contains("name=\"version\" value=\"2\"");
        let e = aw::object_seen(&mut c, &who(&off, Role::Official).actor(&ctx), &a.id, "不实", Some(1), chrono_tz::Asia::Shanghai).unwrap_err();
        assert!(refused_as_changed(e));
        assert_eq!(award_status(&app, &a.id), "noticed");
        aw::object_seen(&mut c, &who(&off, Role::Official).actor(&ctx), &a.id, "不实", Some(2), chrono_tz::Asia::Shanghai).unwrap();
        assert_eq!(award_status(&app, &a.id), "pending");
    }
}

app_test! {
    async fn two_reviewers_deciding_one_award_at_once_one_decision_stands(app) {
        let [city, _, _, village] = app.area_chain("并审");
        let off = app.user("off", Role::Official, Some(&village), None);
        let r1 = app.user("rev1", Role::Reviewer, Some(&village), None);
        let r2 = app.user("rev2", Role::Reviewer, Some(&village), None);
        app.rule("P", "志愿服务", 7, None);
        let h = app.household("壬户", &village);
        let ctx = aixin::auth::Actor::console();
        let rounds = 12;
        let mut ids = Vec::new();
        for i in 0..rounds {
            let mut c = app.conn();
            let p = aw::parse_proposal("P", &today().to_string(), "", today()).unwrap();
            ids.push(aw::propose(&mut c, &who(&off, Role::Official).actor(&ctx), &crate::helpers::hid(&h), &p, &format!("c{i}"), today()).unwrap().id);
        }
        let mut approved = 0;
        for (i, id) in ids.iter().enumerate() {
            // Both saw version 1; one approves, the other approves or rejects, at the same moment.
            let barrier = std::sync::Barrier::new(2);
            let results: Vec<Result<(), aixin::points::PointsError>> = std::thread::scope(|s| {
                let handles: Vec<_> = [(&r1, Decision::Approve), (&r2, if i % 2 == 0 { Decision::Approve } else { Decision::Reject("不实".into()) })]
                    .into_iter()
                    .map(|(r, d)| {
                        let barrier = &barrier;
                        let app = &app;
                        s.spawn(move || {
                            let mut c = app.conn();
                            let w = who(r, Role::Reviewer);
                            let ctx = aixin::auth::Actor::console();
                            barrier.wait();
                            aw::review_seen(&mut c, &w.actor(&ctx), id, &d, Some(1), today())
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let ok = results.iter().filter(|r| r.is_ok()).count();
            assert_eq!(ok, 1, "round {i}: {results:?}");
            for r in results {
                if let Err(e) = r {
                    assert!(matches!(e, aixin::points::PointsError::Invalid(ref f) if f.key == "error.award_changed" || f.key == "error.award_not_pending"), "the other is told: {e:?}");
                }
            }
            if award_status(&app, id) == "approved" {
                approved += 1;
            }
        }
        let mut c = app.conn();
        // One decision each in the audit log, and in the month's counts.
        let decisions: i64 = audit_log::table
            .filter(audit_log::action.eq_any(["award.approve", "award.reject"]))
            .count().get_result(&mut c).unwrap();
        assert_eq!(decisions, rounds as i64);
        let month = aixin::reports::Month::of(today());
        let s = aixin::reports::monthly(&mut c, chrono_tz::Asia::Shanghai, &city, month).unwrap().unwrap();
        assert_eq!((s.points.approved, s.points.rejected), (approved, rounds as i64 - approved));
        let entries: i64 = point_entries::table.filter(point_entries::ref_kind.eq("award")).count().get_result(&mut c).unwrap();
        assert_eq!(entries, approved);
        assert_eq!(balance(&app, &h), 7 * approved);
        assert!(ledger::verify(&mut c).unwrap().ok());
    }
}

// ---- #16.3: batch jobs never stall on one record ----

app_test! {
    async fn one_award_that_cannot_settle_never_holds_up_the_others(app) {
        let [_, _, _, village] = app.area_chain("结算");
        let admin = app.admin().await;
        let page = admin.submit_shown("/settings", "/settings", &[("review_required", "1"), ("notice_days", "1"), ("adjustment_approval_above", "100")]).await;
        page.assert_contains("设置已保存");
        let off = app.user("off", Role::Official, Some(&village), None);
        let rev = app.user("rev", Role::Reviewer, Some(&village), None);
        app.rule("D5", "乱扔垃圾", -5, None);
        app.rule("P4", "志愿服务", 4, None);
        let poor = app.household("欠分户", &village);
        grant(&app, &poor, 3);
        let others: Vec<String> = (0..5).map(|i| app.household(&format!("加分户{i}"), &village)).collect();
        let ctx = aixin::auth::Actor::console();
        let day = today().to_string();
        let mut c = app.conn();
        let d = aw::parse_proposal("D5", &day, "", today()).unwrap();
        let deduction = aw::propose(&mut c, &who(&off, Role::Official).actor(&ctx), &crate::helpers::hid(&poor), &d, "d", today()).unwrap();
        let p = aw::parse_proposal("P4", &day, "", today()).unwrap();
        let mut ids = vec![(deduction.id.clone(), Some(1))];
        for (i, h) in others.iter().enumerate() {
            let a = aw::propose(&mut c, &who(&off, Role::Official).actor(&ctx), &crate::helpers::hid(h), &p, &format!("p{i}"), today()).unwrap();
            ids.push((a.id, Some(1)));
        }
        // Approved together: all six go on notice (nothing is posted yet).
        let (done, failed) = aw::review_many(&mut c, &who(&rev, Role::Reviewer).actor(&ctx), &ids, &Decision::Approve, today()).unwrap();
        assert_eq!((done, failed.len()), (6, 0));
        // The notice ends: five are credited, the deduction is marked with why.
        let later = today() + chrono::Duration::days(2);
        let out = aw::settle_job(&mut c, later).unwrap();
        assert_eq!(out.settled, 5);
        assert_eq!(out.failed.len(), 1);
        assert_eq!(out.failed[0].1.key, "error.insufficient_points");
        for h in &others {
            assert_eq!(balance(&app, h), 4);
        }
        assert_eq!(balance(&app, &poor), 3);
        let stuck = aw::find(&mut c, &deduction.id).unwrap().unwrap();
        assert_eq!(stuck.status, "noticed");
        assert!(stuck.settle_problem(&aixin::i18n::Lang::Zh).contains("还差 2 分"), "{}", stuck.settle_error);
        // Every run after: nothing stalls, nothing is credited twice.
        let again = aw::settle_job(&mut c, later).unwrap();
        assert_eq!((again.settled, again.failed.len()), (0, 1));
        for h in &others {
            assert_eq!(balance(&app, h), 4);
        }
        drop(c);
        // Where the people who can act see it: the household's page, the
        // official's list, the reviewer's queue, and the operations page.
        let page = admin.get(&format!("/households/{poor}")).await;
        page.assert_contains("公示期满未能入账");
        page.assert_contains("还差 2 分");
        let official = app.client();
        official.login("off", PASSWORD).await;
        official.get("/awards").await.assert_contains("还差 2 分");
        let reviewer = app.client();
        reviewer.login("rev", PASSWORD).await;
        let queue = reviewer.get("/review").await;
        queue.assert_contains("id=\"unsettled\"");
        queue.assert_contains("欠分户");
        let ops = admin.get("/operations").await;
        ops.assert_contains("id=\"job-settle\"");
        ops.assert_contains("入账 0 条");
        ops.assert_contains("欠分户 D5: 积分不足");
        // Once the household has the points, the next run settles it and clears the mark.
        grant(&app, &poor, 2);
        let mut c = app.conn();
        let out = aw::settle_job(&mut c, later).unwrap();
        assert_eq!((out.settled, out.failed.len()), (1, 0));
        assert_eq!(balance(&app, &poor), 0);
        let settled = aw::find(&mut c, &deduction.id).unwrap().unwrap();
        assert_eq!((settled.status.as_str(), settled.settle_error.as_str()), ("approved", ""));
        assert!(ledger::verify(&mut c).unwrap().ok());
        drop(c);
        let ops = admin.get("/operations").await;
        ops.assert_contains("入账 1 条");
    }
}

app_test! {
    async fn the_operations_page_shows_each_daily_jobs_last_run(app) {
        let [_, _, _, village] = app.area_chain("任务");
        let h = app.household("过期户", &village);
        let mut c = app.conn();
        aixin::settings::set(&mut c, &aixin::auth::Actor::console(), aixin::settings::EXPIRY_YEARS, 1).unwrap();
        aixin::db::write_tx(&mut c, |c| {
            ledger::post(c, &Posting {
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
            })
        }).unwrap();
        let out = aixin::points::expiry::daily(&mut c, today()).unwrap().unwrap();
        assert_eq!((out.households, out.points, out.failed.len()), (1, 30, 0));
        drop(c);
        let admin = app.admin().await;
        let ops = admin.get("/operations").await;
        ops.assert_contains("id=\"job-expiry\"");
        ops.assert_contains("1 户，共 30 分过期");
        ops.assert_contains("没有失败");
    }
}

// ---- #16.9: expiry takes back the right points ----

fn post_on(
    app: &TestApp,
    debit: &str,
    credit: &str,
    amount: i64,
    on: &str,
    kind: Kind,
) -> ledger::Entry {
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
                posted_on: on.parse().unwrap(),
                idempotency_key: None,
                reverses: None,
            },
        )
    })
    .unwrap()
}

fn reverse_on(app: &TestApp, entry: &ledger::Entry, on: &str, kind: Kind) {
    let mut c = app.conn();
    aixin::db::write_tx(&mut c, |c| {
        ledger::reverse(c, entry, kind, "test", None, on.parse().unwrap())
    })
    .unwrap();
}

fn d(s: &str) -> chrono::NaiveDate {
    s.parse().unwrap()
}

app_test! {
    async fn a_reversal_takes_back_the_reversed_awards_own_points(app) {
        use aixin::points::expiry;
        let [_, _, _, village] = app.area_chain("冲销");
        let h = app.household("冲销户", &village);
        let acct = ledger::household_account(&h);
        post_on(&app, ledger::ISSUANCE, &acct, 100, "2024-05-10", Kind::Award);
        let june = post_on(&app, ledger::ISSUANCE, &acct, 50, "2025-06-10", Kind::Award);
        reverse_on(&app, &june, "2025-07-10", Kind::AwardReversal);
        let rule = expiry::Rule::Years(1);
        let mut c = app.conn();
        // Before the run, the 100 are shown as valid to the end of 2025.
        let next = expiry::upcoming(&mut c, rule, &h, d("2025-12-01")).unwrap().unwrap();
        assert_eq!((next.points, next.valid_until), (100, d("2025-12-31")));
        let out = expiry::run(&mut c, &aixin::auth::Actor::console(), rule, d("2026-01-01")).unwrap();
        assert_eq!(out.points, 100, "the 2024 points expire, not the reversed award's");
        assert_eq!(balance(&app, &h), 0);
        assert_eq!(expiry::upcoming(&mut c, rule, &h, d("2026-01-01")).unwrap(), None);
        let again = expiry::run(&mut c, &aixin::auth::Actor::console(), rule, d("2026-01-02")).unwrap();
        assert_eq!(again.points, 0);
        assert!(ledger::verify(&mut c).unwrap().ok());
    }
}

app_test! {
    async fn a_voided_redemption_gives_points_back_with_their_earning_dates(app) {
        use aixin::points::expiry;
        let [_, _, _, village] = app.area_chain("退单");
        let h = app.household("退单户", &village);
        let late = app.household("晚退户", &village);
        let store = ledger::store_account("s1");
        let rule = expiry::Rule::Years(1);
        // Voided before the run: the 100 of 2024 are all still there, and expire.
        let acct = ledger::household_account(&h);
        post_on(&app, ledger::ISSUANCE, &acct, 100, "2024-05-10", Kind::Award);
        let spent = post_on(&app, &acct, &store, 60, "2025-03-01", Kind::Redemption);
        post_on(&app, ledger::ISSUANCE, &acct, 50, "2025-06-10", Kind::Award);
        reverse_on(&app, &spent, "2025-08-01", Kind::RedemptionVoid);
        let mut c = app.conn();
        let next = expiry::upcoming(&mut c, rule, &h, d("2025-12-01")).unwrap().unwrap();
        assert_eq!((next.points, next.valid_until), (100, d("2025-12-31")));
        drop(c);
        // Voided after a run: the returned 2024 points go at the next run.
        let acct2 = ledger::household_account(&late);
        post_on(&app, ledger::ISSUANCE, &acct2, 100, "2024-05-10", Kind::Award);
        let spent2 = post_on(&app, &acct2, &store, 60, "2025-03-01", Kind::Redemption);
        post_on(&app, ledger::ISSUANCE, &acct2, 50, "2025-06-10", Kind::Award);
        let mut c = app.conn();
        let out = expiry::run(&mut c, &aixin::auth::Actor::console(), rule, d("2026-01-01")).unwrap();
        assert_eq!(out.points, 100 + 40);
        assert_eq!(balance(&app, &h), 50);
        assert_eq!(balance(&app, &late), 50);
        drop(c);
        reverse_on(&app, &spent2, "2026-02-01", Kind::RedemptionVoid);
        assert_eq!(balance(&app, &late), 110);
        let mut c = app.conn();
        let next = expiry::upcoming(&mut c, rule, &late, d("2026-02-01")).unwrap().unwrap();
        assert_eq!((next.points, next.valid_until), (60, d("2026-02-01")), "already past their date: due now");
        let out = expiry::run(&mut c, &aixin::auth::Actor::console(), rule, d("2026-02-02")).unwrap();
        assert_eq!((out.households, out.points), (1, 60));
        assert_eq!(balance(&app, &late), 50);
        let next = expiry::upcoming(&mut c, rule, &late, d("2026-02-02")).unwrap().unwrap();
        assert_eq!((next.points, next.valid_until), (50, d("2026-12-31")));
        let again = expiry::run(&mut c, &aixin::auth::Actor::console(), rule, d("2026-02-03")).unwrap();
        assert_eq!(again.points, 0, "twice: nothing more");
        assert!(ledger::verify(&mut c).unwrap().ok());
    }
}

// ---- #17.6: limits that cannot be split or wrapped ----

app_test! {
    async fn small_adjustments_add_up_to_the_days_threshold(app) {
        use aixin::points::adjustments::{self, Requested};
        let [_, _, _, village] = app.area_chain("拆分");
        let h = app.household("拆分户", &village);
        let other = app.household("别户", &village);
        let a1 = app.user("a1", Role::Admin, None, None);
        let tz = chrono_tz::Asia::Shanghai;
        let ctx = aixin::auth::Actor::console();
        // Five of +100 at the same moment, threshold 100: one posts, four wait.
        let (pool, _) = aixin::db::open(&app.config.database_url, 6).unwrap();
        let barrier = std::sync::Barrier::new(5);
        let results: Vec<Requested> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..5).map(|i| {
                let (barrier, pool, a1, h, ctx) = (&barrier, &pool, &a1, &h, &ctx);
                s.spawn(move || {
                    let mut c = pool.get().unwrap();
                    barrier.wait();
                    adjustments::request(&mut c, &who(a1, Role::Admin).actor(ctx), &crate::helpers::hid(h), 100, "补录", &format!("k{i}"), today(), tz).unwrap()
                })
            }).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let posted = results.iter().filter(|r| matches!(r, Requested::Posted)).count();
        assert_eq!(posted, 1);
        assert_eq!(balance(&app, &h), 100);
        let mut c = app.conn();
        // Either direction counts; another household has its own day.
        assert!(matches!(adjustments::request(&mut c, &who(&a1, Role::Admin).actor(&ctx), &crate::helpers::hid(&h), -1, "更正", "k9", today(), tz).unwrap(), Requested::AwaitingApproval));
        assert!(matches!(adjustments::request(&mut c, &who(&a1, Role::Admin).actor(&ctx), &crate::helpers::hid(&other), 100, "补录", "k10", today(), tz).unwrap(), Requested::Posted));
        assert_eq!(adjustments::pending(&mut c).unwrap().len(), 5);
        // A decision on a version that is no longer current is refused.
        let a2 = app.user("a2", Role::Admin, None, None);
        let a3 = app.user("a3", Role::Admin, None, None);
        let id = adjustments::pending(&mut c).unwrap()[0].0.id.clone();
        adjustments::decide_seen(&mut c, &who(&a2, Role::Admin).actor(&ctx), &id, false, Some(1), today()).unwrap();
        let e = adjustments::decide_seen(&mut c, &who(&a3, Role::Admin).actor(&ctx), &id, true, Some(1), today()).unwrap_err();
        assert!(matches!(e, aixin::points::PointsError::Invalid(ref f) if f.key == "error.adjustment_decided"), "{e:?}");
        assert_eq!(balance(&app, &h), 100);
    }
}

app_test! {
    async fn points_typed_in_are_bounded_and_never_wrap(app) {
        let [_, _, _, village] = app.area_chain("边界");
        let h = app.household("边界户", &village);
        let admin = app.admin().await;
        for typed in ["-9223372036854775808", "9223372036854775807", "99999999999999999999", "100001", "-100001"] {
            let page = admin.submit("/rules", &[("code", "X1"), ("name", "溢出"), ("category_id", "cat-01"), ("points", typed), ("active", "1")]).await;
            page.assert_contains("应为 -100000 到 100000 之间的整数");
            let page = admin.submit(&format!("/households/{h}/adjust"), &[("key", &format!("adj{typed}")), ("amount", typed), ("reason", "试")]).await;
            page.assert_contains("应为 -100000 到 100000 之间的整数");
        }
        let n: i64 = aixin::db::schema::rules::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 0, "no rule was made");
        assert_eq!(balance(&app, &h), 0);
        // The API says the same, as a 422 naming the field.
        let (s, body) = api_post(&app, "boss", "/api/v1/rules", "r1", serde_json::json!({"code": "X2", "name": "溢出", "category": "cat-01", "points": i64::MIN})).await;
        assert_eq!(s, 422, "{body}");
        assert_eq!(body["error"]["field"], "points");
        // Directly: an adjustment beyond the bound is refused before anything moves.
        let a1 = app.user("a1", Role::Admin, None, None);
        let e = aixin::points::adjustments::request(&mut app.conn(), &who(&a1, Role::Admin).actor(AuditCtx::console()), &crate::helpers::hid(&h), i64::MIN, "x", "m", today(), chrono_tz::Asia::Shanghai).err().unwrap();
        assert!(matches!(e, aixin::points::PointsError::Invalid(ref f) if f.key == "error.number_range"), "{e:?}");
    }
}

app_test! {
    async fn an_expiry_that_cannot_post_is_reported_not_thrown_away(app) {
        use aixin::points::expiry;
        let [_, _, _, village] = app.area_chain("月结过期");
        let h1 = app.household("甲过期户", &village);
        let h2 = app.household("乙过期户", &village);
        for h in [&h1, &h2] {
            post_on(&app, ledger::ISSUANCE, &ledger::household_account(h), 20, "2024-03-01", Kind::Award);
        }
        let admin_id = app.user("closer", Role::Admin, None, None);
        let mut c = app.conn();
        aixin::settings::set(&mut c, &aixin::auth::Actor::console(), aixin::settings::EXPIRY_YEARS, 1).unwrap();
        let jan = aixin::reports::Month::of(d("2026-01-15"));
        aixin::reports::close::close(&mut c, &aixin::auth::Actor::console(), &admin_id, jan, today()).unwrap();
        // Every household's posting is refused (the month is closed): each is
        // reported with why, the run itself does not fail, nothing moves.
        let out = expiry::daily(&mut c, d("2026-01-15")).unwrap().unwrap();
        assert_eq!((out.households, out.points, out.failed.len()), (0, 0, 2));
        assert_eq!(balance(&app, &h1), 20);
        assert_eq!(balance(&app, &h2), 20);
        drop(c);
        let admin = app.admin().await;
        let ops = admin.get("/operations").await;
        ops.assert_contains("id=\"job-expiry\" data-failed=\"2\"");
        ops.assert_contains("甲过期户: 2026-01 已经月结");
        // The next day's run in an open month takes them.
        let mut c = app.conn();
        let out = expiry::daily(&mut c, d("2026-02-02")).unwrap().unwrap();
        assert_eq!((out.households, out.points, out.failed.len()), (2, 40, 0));
        assert!(ledger::verify(&mut c).unwrap().ok());
    }
}

app_test! {
    /// An award id is parsed at the edge: text that is not an award id names
    /// no award, on the pages and in the API (404, no query runs with it).
    async fn text_that_is_not_an_award_id_names_no_award(app) {
        let admin = app.admin().await;
        for bad in ["nope", "1%20OR%201=1", "%EF%BC%91"] {
            assert_eq!(admin.get(&format!("/awards/{bad}/edit")).await.status, 404, "{bad}");
            for action in ["withdraw", "reverse", "object"] {
                let page = admin.post(&format!("/awards/{bad}/{action}"), &[("version", "1"), ("reason", "x")]).await;
                assert_eq!(page.status, 404, "{action} {bad}");
            }
        }
        let res = reqwest::Client::new()
            .post(app.url("/api/v1/tokens"))
            .json(&serde_json::json!({"username": "boss", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        let token = res.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_string();
        for action in ["approve", "reject", "reverse"] {
            let res = reqwest::Client::new()
                .post(app.url(&format!("/api/v1/awards/nope/{action}")))
                .bearer_auth(&token)
                .header("Idempotency-Key", format!("bad-{action}"))
                .json(&serde_json::json!({"version": 1, "reason": "x"}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status().as_u16(), 404, "{action}");
        }
    }
}

app_test! {
    /// An award form's key proposes once: sent again as it was, nothing
    /// more; sent again for another household, refused (409) beside the
    /// form, nothing proposed, as the API refuses a reused key.
    async fn an_award_form_sent_again_for_another_household_is_refused(app) {
        let [_, _, _, village] = app.area_chain("重用");
        app.user("chong", Role::Official, Some(&village), None);
        app.rule("R", "环境卫生", 3, None);
        let h = app.household("甲户", &village);
        let other = app.household("乙户", &village);
        let official = app.client();
        official.login("chong", PASSWORD).await;
        let form = official.get(&format!("/awards/new?household_id={h}")).await;
        let key = form.body.split("name=\"key\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        let day = today().to_string();
        let first = official.post("/awards", &[("key", &key), ("household_id", &h), ("rule_code", "R"), ("occurred_on", &day)]).await;
        assert_eq!(first.status, 303, "{}", first.body);
        let again = official.post("/awards", &[("key", &key), ("household_id", &h), ("rule_code", "R"), ("occurred_on", &day)]).await;
        assert_eq!(again.status, 303, "{}", again.body);
        let reused = official.post("/awards", &[("key", &key), ("household_id", &other), ("rule_code", "R"), ("occurred_on", &day)]).await;
        assert_eq!(reused.status, 409, "{}", reused.body);
        reused.assert_contains("已提交过其他内容");
        let n: i64 = awards::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 1, "one award, for the first household");
        let for_other: i64 = awards::table.filter(awards::household_id.eq(&other)).count().get_result(&mut app.conn()).unwrap();
        assert_eq!(for_other, 0);
        // Another note under the same key is another award too.
        let noted = official.post("/awards", &[("key", &key), ("household_id", &h), ("rule_code", "R"), ("occurred_on", &day), ("note", "又一次")]).await;
        assert_eq!(noted.status, 409, "{}", noted.body);
    }
}

app_test! {
    /// An adjustment form's key posts once: the same key with another
    /// amount is refused (409) and posts nothing.
    async fn an_adjustment_form_sent_again_with_another_amount_is_refused(app) {
        let [_, _, _, village] = app.area_chain("调整");
        let h = app.household("丙户", &village);
        let admin = app.admin().await;
        let path = format!("/households/{h}/adjust");
        let page = admin.get(&format!("/households/{h}")).await;
        let key = crate::stock::key_for(&page.body, &path);
        let first = admin.post(&path, &[("key", &key), ("amount", "5"), ("reason", "补录")]).await;
        assert_eq!(first.status, 303, "{}", first.body);
        let again = admin.post(&path, &[("key", &key), ("amount", "5"), ("reason", "补录")]).await;
        assert_eq!(again.status, 303, "{}", again.body);
        let reused = admin.post(&path, &[("key", &key), ("amount", "6"), ("reason", "补录")]).await;
        assert_eq!(reused.status, 409, "{}", reused.body);
        reused.assert_contains("已提交过其他内容");
        assert_eq!(balance(&app, &h), 5);
    }
}

app_test! {
    /// A batch of ticks and pasted cards is all or nothing: every bad entry
    /// (a tick that names no household of the official's, a card that does
    /// not read, an unknown card, a replaced card) is named at once, the
    /// ticks and the paste kept, nothing proposed; a household both ticked
    /// and pasted gets one award.
    async fn a_batch_names_every_bad_tick_and_card_at_once_and_counts_a_household_once(app) {
        let [_, _, _, village] = app.area_chain("全批");
        app.user("quanpi", Role::Official, Some(&village), None);
        let rule = app.rule("QP01", "清扫村道", 5, None);
        let (a, a_card) = app.household_with_id("全批甲", &village, &test_id_number());
        let (b, b_old) = app.household_with_id("全批乙", &village, &test_id_number());
        let admin = app.admin().await;
        admin.get(&format!("/households/{b}")).await;
        admin.submit(&format!("/households/{b}/card"), &[]).await.assert_contains("已补办新卡");
        let official = app.client();
        official.login("quanpi", PASSWORD).await;
        let form = official.get(&format!("/awards/batch?area_id={village}")).await;
        let key = form.body.split("name=\"key\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        let day = today().to_string();
        // The ticks' refusal and the cards' are said together.
        let cards = format!("{a_card}\n12345\n{b_old}");
        let fields: Vec<(&str, &str)> = vec![
            ("key", &key), ("area_id", &village), ("rule_code", &rule), ("occurred_on", &day), ("note", ""),
            ("household_id", "abc"), ("household_id", &a), ("cards", &cards),
        ];
        let page = official.post("/awards/batch", &fields).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("“abc”不是您负责范围内的农户；整批没有申报");
        page.assert_contains("“12345”应为 10 位数字");
        page.assert_contains(&format!("卡号 {b_old} 已作废"));
        page.assert_contains(&cards);
        assert_eq!(page.body.matches(" checked>").count(), 1, "the tick is kept");
        assert_eq!(count_awards(&app), 0, "nothing proposed");

        // Fixed: the household ticked and pasted gets one award.
        let fields: Vec<(&str, &str)> = vec![
            ("key", &key), ("area_id", &village), ("rule_code", &rule), ("occurred_on", &day), ("note", ""),
            ("household_id", &a), ("cards", &a_card),
        ];
        let done = official.post("/awards/batch", &fields).await;
        assert_eq!(done.status, 200, "{}", done.body);
        done.assert_contains("已申报 1 户");
        assert_eq!(count_awards(&app), 1);
    }
}

app_test! {
    /// A household over the rule's cap refuses the whole batch, named
    /// (409, a conflict): the others get nothing either.
    async fn a_batch_with_a_household_over_the_cap_proposes_nothing(app) {
        let [_, _, _, village] = app.area_chain("封顶");
        let official_id = app.user("fengding", Role::Official, Some(&village), None);
        let rule = app.rule("FD01", "参加培训", 5, Some((1, "month")));
        let a = app.household("封顶甲", &village);
        let b = app.household("封顶乙", &village);
        let actor = who(&official_id, Role::Official).actor(&aixin::auth::Actor::console());
        let p = aw::parse_proposal(&rule, &today().to_string(), "", today()).unwrap();
        aw::propose(&mut app.conn(), &actor, &hid(&a), &p, "first", today()).unwrap();
        let entries = [aw::BatchEntry::household(&b, 1), aw::BatchEntry::household(&a, 2)];
        let e = match aw::propose_batch(&mut app.conn(), &actor, &entries, &p, "batch", today()) {
            Err(aixin::points::PointsError::Invalid(e)) => e,
            Err(e) => panic!("{e:?}"),
            Ok(_) => panic!("proposed"),
        };
        assert_eq!((e.field, e.arg_value("household"), e.arg_value("n")), ("field.households", Some("封顶甲"), Some("2")));
        assert!(e.conflict.is_some());
        assert_eq!(count_awards(&app), 1, "only the first award");
    }
}

fn count_awards(app: &TestApp) -> i64 {
    awards::table.count().get_result(&mut app.conn()).unwrap()
}

app_test! {
    /// A batch refused says each entry once and counts only the list's own
    /// households as selected; a batch already done under the form's key
    /// comes back with a fresh key, so the next submit is a new batch.
    async fn a_refused_batch_counts_its_own_ticks_says_each_card_once_and_gets_a_fresh_key(app) {
        let [_, _, _, village] = app.area_chain("批次");
        app.user("pici", Role::Official, Some(&village), None);
        app.rule("B01", "打扫卫生", 5, None);
        let a = app.household("批甲", &village);
        let b = app.household("批乙", &village);
        let old_card = crate::counter::card_of(&app, &b);
        let admin = app.admin().await;
        admin.get(&format!("/households/{b}")).await;
        admin.submit(&format!("/households/{b}/card"), &[]).await;
        assert_ne!(crate::counter::card_of(&app, &b), old_card);
        let official = app.client();
        official.login("pici", PASSWORD).await;
        let form = official.get(&format!("/awards/batch?area_id={village}")).await;
        let key_of = |body: &str| body.split("name=\"key\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        let key = key_of(&form.body);
        let day = today().to_string();
        let cards = format!("{old_card}\n{old_card}");
        let refused = official.post("/awards/batch", &[("key", &key), ("area_id", &village), ("rule_code", "B01"), ("occurred_on", &day),
            ("household_id", &a), ("household_id", "junk"), ("cards", &cards)]).await;
        assert_eq!(refused.status, 422, "{}", refused.body);
        // Once in the form's summary, once beside the paste box.
        assert_eq!(refused.body.matches(&format!("卡号 {old_card} 已作废")).count(), 2, "said once: {}", refused.body);
        refused.assert_contains(r#"<output id="selected-count" data-count="household_id">1</output>"#);

        // Done under the key, then sent again with other ticks: 409, and
        // the form holds a new key that goes through.
        let done = official.post("/awards/batch", &[("key", &key), ("area_id", &village), ("rule_code", "B01"), ("occurred_on", &day), ("household_id", &a)]).await;
        assert_eq!(done.status, 200, "{}", done.body);
        let again = official.post("/awards/batch", &[("key", &key), ("area_id", &village), ("rule_code", "B01"), ("occurred_on", &day), ("household_id", &b)]).await;
        assert_eq!(again.status, 409, "{}", again.body);
        let fresh = key_of(&again.body);
        assert_ne!(fresh, key);
        let next = official.post("/awards/batch", &[("key", &fresh), ("area_id", &village), ("rule_code", "B01"), ("occurred_on", &day), ("household_id", &b)]).await;
        assert_eq!(next.status, 200, "{}", next.body);
        let n: i64 = awards::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 2);
    }
}

app_test! {
    /// The audit log names the household an award was proposed for, and
    /// whose personal data was shown, linked to the household.
    async fn the_audit_log_names_the_household_of_a_proposal_and_of_a_reveal(app) {
        let [_, _, _, village] = app.area_chain("审名");
        app.user("shenming", Role::Official, Some(&village), None);
        app.rule("N01", "修路", 5, None);
        let h = app.household("审名户", &village);
        let official = app.client();
        official.login("shenming", PASSWORD).await;
        let form = official.get(&format!("/awards/batch?area_id={village}")).await;
        let key = form.body.split("name=\"key\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        let day = today().to_string();
        let done = official.post("/awards/batch", &[("key", &key), ("area_id", &village), ("rule_code", "N01"), ("occurred_on", &day), ("household_id", &h)]).await;
        assert_eq!(done.status, 200, "{}", done.body);
        let admin = app.admin().await;
        let shown = admin.post(&format!("/households/{h}/reveal"), &[("what", "id")]).await;
        assert!(shown.status < 400, "{}", shown.body);
        let log = admin.get("/audit").await;
        let row = |words: &str| -> String {
            let at = log.body.find(words).unwrap_or_else(|| panic!("no {words}: {}", log.body));
            log.body[at..].split("</td>").next().unwrap().to_string()
        };
        let proposed = row("申报了积分");
        assert!(proposed.contains(&format!(r#"<a href="/households/{h}">审名户"#)), "{proposed}");
        let revealed = row("查看了农户的完整个人信息");
        assert!(revealed.contains("审名户") && revealed.contains(&format!("/households/{h}")), "{revealed}");
    }
}
