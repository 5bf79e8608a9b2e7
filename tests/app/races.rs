//! Two people, one record, the same moment: every guarded transition lets
//! exactly one of them through, on SQLite and on PostgreSQL, and the other
//! gets a page (never a 5xx), with nothing counted twice.

use aixin::db::schema::{point_entries, stock_movements};
use aixin::domain::Role;
use aixin::points::adjustments;
use diesel::prelude::*;

use crate::helpers::*;

/// Two admins, each logged in on their own browser.
async fn two_admins(app: &TestApp) -> (Client, Client) {
    app.user("race-a", Role::Admin, None, None);
    app.user("race-b", Role::Admin, None, None);
    let (a, b) = (app.client(), app.client());
    a.login("race-a", PASSWORD).await;
    b.login("race-b", PASSWORD).await;
    (a, b)
}

app_test! {
    async fn two_voids_of_one_redemption_give_back_once(app) {
        let [_, _, town, village] = app.area_chain("并撤");
        let store = app.store("并撤超市", &town);
        let household = app.household("并撤户", &village);
        let goods = crate::stock::seed(&app, &store);
        let item = goods.items[0].clone();
        let r = crate::counter::redeem_for_test(&app, &store, &household, &item);
        let (points, shelf) = (crate::counter::balance(&app, &household), crate::stock::on_hand(&app, &store, &item));
        let (a, b) = two_admins(&app).await;
        let path = format!("/redemptions/{r}/void");
        let (x, y) = tokio::join!(a.submit(&path, &[("reason", "录错了")]), b.submit(&path, &[("reason", "录错了")]));
        assert!(x.status < 500 && y.status < 500, "{} {}", x.status, y.status);
        let voids: i64 = point_entries::table
            .filter(point_entries::kind.eq("redemption_void"))
            .filter(point_entries::ref_id.eq(&r))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(voids, 1, "one void stands");
        assert_eq!(crate::counter::balance(&app, &household), points + 45, "the points come back once");
        assert_eq!(crate::stock::on_hand(&app, &store, &item), shelf + 1, "the goods come back once");
        assert!(aixin::ledger::verify(&mut app.conn()).unwrap().ok());
    }
}

app_test! {
    async fn two_reversals_of_one_donation_take_back_once(app) {
        let [_, _, town, _] = app.area_chain("并冲");
        let store = app.store("并冲超市", &town);
        let goods = crate::stock::seed(&app, &store);
        let (a, b) = two_admins(&app).await;
        let donation = goods.donation.clone();
        let before: i64 = stock_movements::table.count().get_result(&mut app.conn()).unwrap();
        let page_a = a.get(&format!("/donations/{donation}")).await;
        let page_b = b.get(&format!("/donations/{donation}")).await;
        let path = format!("/donations/{donation}/reverse");
        let key_a = crate::stock::key_for(&page_a.body, &path);
        let key_b = crate::stock::key_for(&page_b.body, &path);
        let form_a = [("key", key_a.as_str()), ("reason", "登记错了")];
        let form_b = [("key", key_b.as_str()), ("reason", "登记错了")];
        let (x, y) = tokio::join!(a.submit(&path, &form_a), b.submit(&path, &form_b));
        assert!(x.status < 500 && y.status < 500, "{} {}", x.status, y.status);
        let lines: i64 = aixin::db::schema::donation_lines::table
            .filter(aixin::db::schema::donation_lines::donation_id.eq(&donation))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        let after: i64 = stock_movements::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(after - before, lines, "one reversal: one movement back per line of the donation");
        assert!(aixin::stock::verify_stock_ledger(&mut app.conn()).unwrap().ok());
    }
}

app_test! {
    async fn two_decisions_on_one_adjustment_post_once(app) {
        let [_, _, _, village] = app.area_chain("并调");
        let household = app.household("并调户", &village);
        let (a, b) = two_admins(&app).await;
        let requester = app.user("race-c", Role::Admin, None, None);
        {
            let mut c = app.conn();
            let ctx = aixin::auth::Actor::console();
            let who = Who { user_id: requester, role: Role::Admin, scope: aixin::auth::Scope::All };
            let today = aixin::time::today(chrono_tz::Asia::Shanghai);
            let asked = adjustments::request(&mut c, &who.actor(&ctx), &crate::helpers::hid(&household), 5000, "大额补录", "race-adj", today, chrono_tz::Asia::Shanghai).unwrap();
            assert!(matches!(asked, adjustments::Requested::AwaitingApproval));
        }
        let id = adjustments::pending(&mut app.conn()).unwrap()[0].0.id.clone();
        let path = format!("/adjustments/{id}");
        let (x, y) = tokio::join!(
            a.submit(&path, &[("decision", "approve"), ("version", "1")]),
            b.submit(&path, &[("decision", "approve"), ("version", "1")])
        );
        assert!(x.status < 500 && y.status < 500, "{} {}", x.status, y.status);
        assert_eq!(crate::counter::balance(&app, &household), 5000, "posted once");
        assert!(aixin::ledger::verify(&mut app.conn()).unwrap().ok());
    }
}

/// A reviewer and an official in `village`, and a household there.
fn award_people(app: &TestApp, p: &str) -> (String, String, String, String) {
    let [city, _, _, village] = app.area_chain(p);
    let off = app.user("race-off", Role::Official, Some(&village), None);
    let rev = app.user("race-rev", Role::Reviewer, Some(&village), None);
    let household = app.household(&format!("{p}户"), &village);
    (city, off, rev, household)
}

fn who(user_id: &str, role: Role) -> Who {
    Who {
        user_id: user_id.to_string(),
        role,
        scope: aixin::auth::Scope::All,
    }
}

fn today() -> chrono::NaiveDate {
    aixin::time::today(chrono_tz::Asia::Shanghai)
}

/// An award of `rule` proposed by `off` (version 1); approved by `rev`
/// when `rev` is given (version 2).
fn award(
    app: &TestApp,
    off: &str,
    rev: Option<&str>,
    household: &str,
    rule: &str,
    key: &str,
) -> String {
    use aixin::points::awards as aw;
    let ctx = aixin::auth::Actor::console();
    let mut c = app.conn();
    let p = aw::parse_proposal(rule, &today().to_string(), "", today()).unwrap();
    let id = aw::propose(
        &mut c,
        &who(off, Role::Official).actor(&ctx),
        &crate::helpers::hid(household),
        &p,
        key,
        today(),
    )
    .unwrap()
    .id;
    if let Some(rev) = rev {
        aw::review_seen(
            &mut c,
            &who(rev, Role::Reviewer).actor(&ctx),
            &id,
            &aw::Decision::Approve,
            Some(1),
            today(),
        )
        .unwrap();
    }
    id.to_string()
}

fn audit_count(app: &TestApp, action: &str) -> i64 {
    use aixin::db::schema::audit_log;
    audit_log::table
        .filter(audit_log::action.eq(action))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

app_test! {
    async fn two_confirms_of_one_import_apply_it_once(app) {
        use aixin::db::schema::households;
        app.area_chain("并导");
        let (a, b) = two_admins(&app).await;
        let file = format!(
            "户主姓名,身份证号,联系电话,所属村,家庭住址,家庭人口,户类型\n甲户,{},13800138000,并导村,一组,3,建档立卡户\n乙户,{},13800138001,并导村,二组,2,脱贫户\n",
            test_id_number(),
            test_id_number()
        );
        let up = crate::import::upload(&a, "list.csv", file.into_bytes()).await;
        assert_eq!(up.status, 303, "{}", up.body);
        let job = up.location.unwrap();
        crate::import::wait_job(&a, &job).await.assert_contains("data-state=\"checked\"");
        b.get(&job).await;
        let path = format!("{job}/confirm");
        let (x, y) = tokio::join!(a.submit(&path, &[]), b.submit(&path, &[]));
        assert!(x.status < 500 && y.status < 500, "{} {}", x.status, y.status);
        let told = [&x, &y].iter().filter(|p| p.body.contains("该文件已确认导入")).count();
        assert_eq!(told, 1, "the one who came second is told it was confirmed already");
        crate::import::wait_job(&a, &job).await.assert_contains("data-state=\"done\"");
        let n: i64 = households::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 2, "each household of the file registered once");
        let cards: i64 = aixin::db::schema::points_cards::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(cards, 2);
    }
}

app_test! {
    async fn two_reversals_of_one_award_take_back_once(app) {
        let (_, off, rev, household) = award_people(&app, "并销");
        app.rule("R5", "志愿服务", 5, None);
        let id = award(&app, &off, Some(&rev), &household, "R5", "r5");
        assert_eq!(crate::counter::balance(&app, &household), 5);
        let (a, b) = two_admins(&app).await;
        let path = format!("/awards/{id}/reverse");
        let form = [("reason", "重复申报"), ("version", "2")];
        let (x, y) = tokio::join!(a.submit(&path, &form), b.submit(&path, &form));
        assert!(x.status < 500 && y.status < 500, "{} {}", x.status, y.status);
        let reversals: i64 = point_entries::table
            .filter(point_entries::kind.eq("award_reversal"))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(reversals, 1, "one reversal stands");
        assert_eq!(audit_count(&app, "award.reverse"), 1);
        assert_eq!(crate::counter::balance(&app, &household), 0, "the points go back once");
        assert!(aixin::ledger::verify(&mut app.conn()).unwrap().ok());
    }
}

app_test! {
    async fn an_edit_and_an_approval_at_the_same_moment_one_stands(app) {
        use aixin::db::schema::awards;
        let (_, _, _, village) = {
            let [c, d, t, v] = app.area_chain("并改");
            (c, d, t, v)
        };
        app.user("gai-off", Role::Official, Some(&village), None);
        app.user("gai-rev", Role::Reviewer, Some(&village), None);
        let household = app.household("并改户", &village);
        app.rule("S5", "环境卫生", 5, None);
        app.rule("BIG", "见义勇为", 1000, None);
        let (official, reviewer) = (app.client(), app.client());
        official.login("gai-off", PASSWORD).await;
        reviewer.login("gai-rev", PASSWORD).await;
        let off_id: String = aixin::db::schema::users::table
            .filter(aixin::db::schema::users::username.eq("gai-off"))
            .select(aixin::db::schema::users::id)
            .first(&mut app.conn())
            .unwrap();
        let mut big = 0;
        for round in 0..4 {
            let id = award(&app, &off_id, None, &household, "S5", &format!("g{round}"));
            let day = today().to_string();
            let v = format!("v:{id}");
            let edit_path = format!("/awards/{id}");
            let edit = [("rule_code", "BIG"), ("occurred_on", day.as_str()), ("note", ""), ("version", "1")];
            let review = [("approve_one", id.as_str()), (v.as_str(), "1")];
            let (x, y) = tokio::join!(official.submit(&edit_path, &edit), reviewer.submit("/review", &review));
            assert!(x.status < 500 && y.status < 500, "{} {}", x.status, y.status);
            let (status, points): (String, i64) = awards::table
                .find(&id)
                .select((awards::status, awards::points))
                .first(&mut app.conn())
                .unwrap();
            match status.as_str() {
                // The approval came first: 5 points, the edit refused.
                "approved" => assert_eq!(points, 5, "round {round}"),
                // The edit came first: the approval of what was seen is refused.
                "pending" => {
                    assert_eq!(points, 1000, "round {round}");
                    big += 1;
                }
                other => panic!("round {round}: {other}"),
            }
        }
        let approved: i64 = awards::table.filter(awards::status.eq("approved")).count().get_result(&mut app.conn()).unwrap();
        assert_eq!(crate::counter::balance(&app, &household), 5 * approved, "never the 1,000 nobody saw");
        assert_eq!(approved + big, 4);
        assert!(aixin::ledger::verify(&mut app.conn()).unwrap().ok());
    }
}

app_test! {
    async fn two_objections_to_one_award_on_notice_count_once(app) {
        use aixin::db::schema::awards;
        let (city, off, rev, household) = award_people(&app, "并议");
        aixin::settings::set(&mut app.conn(), &aixin::auth::Actor::console(), aixin::settings::NOTICE_DAYS, 3).unwrap();
        app.rule("N5", "孝老爱亲", 5, None);
        let id = award(&app, &off, Some(&rev), &household, "N5", "n5");
        let (a, b) = two_admins(&app).await;
        let path = format!("/awards/{id}/object");
        let back = format!("/households/{household}");
        let form = [("objection", "不实"), ("back", back.as_str()), ("version", "2")];
        let (x, y) = tokio::join!(a.submit(&path, &form), b.submit(&path, &form));
        assert!(x.status < 500 && y.status < 500, "{} {}", x.status, y.status);
        let status: String = awards::table.find(&id).select(awards::status).first(&mut app.conn()).unwrap();
        assert_eq!(status, "pending", "back in review");
        assert_eq!(audit_count(&app, "award.object"), 1, "one objection stands");
        let month = aixin::reports::Month::of(today());
        let s = aixin::reports::monthly(&mut app.conn(), chrono_tz::Asia::Shanghai, &city, month).unwrap().unwrap();
        assert_eq!(s.points.approved, 0, "taken out of the month's approvals once, not twice");
    }
}

app_test! {
    async fn two_settlement_runs_at_once_credit_each_award_once(app) {
        use aixin::points::awards as aw;
        let (_, off, rev, household) = award_people(&app, "并结");
        aixin::settings::set(&mut app.conn(), &aixin::auth::Actor::console(), aixin::settings::NOTICE_DAYS, 1).unwrap();
        app.rule("J3", "公益劳动", 3, None);
        for i in 0..6 {
            award(&app, &off, Some(&rev), &household, "J3", &format!("j{i}"));
        }
        let later = today() + chrono::Duration::days(2);
        let barrier = std::sync::Barrier::new(2);
        let settled: Vec<usize> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..2)
                .map(|_| {
                    let (app, barrier) = (&app, &barrier);
                    s.spawn(move || {
                        let mut c = app.conn();
                        barrier.wait();
                        aw::settle_notices(&mut c, later).unwrap()
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert_eq!(settled.iter().sum::<usize>(), 6, "six credited between the two runs: {settled:?}");
        let entries: i64 = point_entries::table.filter(point_entries::ref_kind.eq("award")).count().get_result(&mut app.conn()).unwrap();
        assert_eq!(entries, 6);
        assert_eq!(audit_count(&app, "award.settle"), 6);
        assert_eq!(crate::counter::balance(&app, &household), 18);
        assert!(aixin::ledger::verify(&mut app.conn()).unwrap().ok());
    }
}

app_test! {
    async fn two_servers_starting_the_days_expiry_at_once_expire_once(app) {
        use aixin::ledger::{self, Kind, Posting};
        let [_, _, _, village] = app.area_chain("并期");
        let household = app.household("并期户", &village);
        let earned = today() - chrono::Duration::days(800);
        aixin::db::write_tx(&mut app.conn(), |c| ledger::post(c, &Posting {
            debit: ledger::ISSUANCE.into(),
            credit: ledger::household_account(&household),
            amount: 40,
            kind: Kind::Award,
            ref_kind: "test".into(),
            ref_id: "old".into(),
            memo: String::new(),
            user_id: None,
            posted_on: earned,
            idempotency_key: None,
            reverses: None,
        })).unwrap();
        aixin::settings::set(&mut app.conn(), &aixin::auth::Actor::console(), aixin::settings::EXPIRY_YEARS, 1).unwrap();
        let barrier = std::sync::Barrier::new(2);
        let runs: Vec<Option<i64>> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..2)
                .map(|_| {
                    let (app, barrier) = (&app, &barrier);
                    s.spawn(move || {
                        let mut c = app.conn();
                        barrier.wait();
                        aixin::points::expiry::daily(&mut c, today()).unwrap().map(|o| o.points)
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert_eq!(runs.iter().flatten().count(), 1, "one server claims the day: {runs:?}");
        let expired: i64 = point_entries::table.filter(point_entries::kind.eq("expiry")).count().get_result(&mut app.conn()).unwrap();
        assert_eq!(expired, 1);
        assert_eq!(crate::counter::balance(&app, &household), 0);
        assert!(ledger::verify(&mut app.conn()).unwrap().ok());
    }
}

app_test! {
    async fn two_archivings_of_one_household_archive_it_once(app) {
        let [_, _, _, village] = app.area_chain("并档");
        let household = app.household("并档户", &village);
        let (a, b) = two_admins(&app).await;
        let path = format!("/households/{household}/archive");
        let (x, y) = tokio::join!(a.submit(&path, &[("reason", "迁出")]), b.submit(&path, &[("reason", "迁出")]));
        assert!(x.status < 500 && y.status < 500, "{} {}", x.status, y.status);
        assert_eq!(audit_count(&app, "household.archive"), 1, "one archiving stands");
        let told = [&x, &y].iter().filter(|p| p.body.contains("已经归档了")).count();
        assert_eq!(told, 1, "the other is told");
        // Restoring twice at once: the same.
        let path = format!("/households/{household}/restore");
        let (x, y) = tokio::join!(a.submit(&path, &[("reason", "回迁")]), b.submit(&path, &[("reason", "回迁")]));
        assert!(x.status < 500 && y.status < 500, "{} {}", x.status, y.status);
        assert_eq!(audit_count(&app, "household.restore"), 1);
    }
}

app_test! {
    async fn two_reissues_of_one_card_issue_one_new_card(app) {
        use aixin::db::schema::points_cards;
        let [_, _, _, village] = app.area_chain("并卡");
        let household = app.household("并卡户", &village);
        let (a, b) = two_admins(&app).await;
        let path = format!("/households/{household}/card");
        let seen_a = a.get(&format!("/households/{household}")).await;
        let seen_b = b.get(&format!("/households/{household}")).await;
        let card_a = crate::stock::hidden_in(&seen_a.body, &path, "card");
        let card_b = crate::stock::hidden_in(&seen_b.body, &path, "card");
        let (form_a, form_b) = ([("card", card_a.as_str())], [("card", card_b.as_str())]);
        let (x, y) = tokio::join!(a.submit(&path, &form_a), b.submit(&path, &form_b));
        assert!(x.status < 500 && y.status < 500, "{} {}", x.status, y.status);
        let mut c = app.conn();
        let current: i64 = points_cards::table
            .filter(points_cards::household_id.eq(&household))
            .filter(points_cards::replaced_by.is_null())
            .count()
            .get_result(&mut c)
            .unwrap();
        let all: i64 = points_cards::table.filter(points_cards::household_id.eq(&household)).count().get_result(&mut c).unwrap();
        assert_eq!((current, all), (1, 2), "one new card, the old one replaced once");
        assert_eq!(audit_count(&app, "household.card_reissue"), 1);
        let told = [&x, &y].iter().filter(|p| p.body.contains("刚刚已经补办过了")).count();
        assert_eq!(told, 1, "the other is told");
    }
}

app_test! {
    async fn a_pin_reset_while_the_card_is_reissued_resets_a_current_card_or_is_told(app) {
        let [_, _, _, village] = app.area_chain("并卡密");
        let household = app.household("并卡密户", &village);
        let (a, b) = two_admins(&app).await;
        let path = format!("/households/{household}/card");
        let seen = a.get(&format!("/households/{household}")).await;
        let card = crate::stock::hidden_in(&seen.body, &path, "card");
        // b opens the card page first, so that its form carries a token.
        b.get(&path).await;
        let reissue = [("card", card.as_str())];
        let pin = format!("{path}/pin");
        let (x, y) = tokio::join!(a.submit(&path, &reissue), b.submit(&pin, &[]));
        assert!(x.status < 500 && y.status < 500, "{} {}", x.status, y.status);
        assert_eq!(audit_count(&app, "household.card_reissue"), 1);
        let reset = audit_count(&app, "card.pin_reset");
        let told = y.body.contains("所以没有重置它的查询密码");
        assert!(
            (reset == 1) != told,
            "the PIN is reset ({reset}) or its resetter is told ({told}), never both or neither"
        );
    }
}

app_test! {
    async fn two_closes_of_one_month_close_it_once(app) {
        let [city, _, _, _] = app.area_chain("并月");
        let last = aixin::reports::Month::of(today()).prev().to_string();
        let (a, b) = two_admins(&app).await;
        let form = [("month", last.as_str()), ("area_id", city.as_str())];
        let (x, y) = tokio::join!(a.submit("/reports/close", &form), b.submit("/reports/close", &form));
        assert!(x.status < 500 && y.status < 500, "{} {}", x.status, y.status);
        assert_eq!(audit_count(&app, "month.close"), 1, "one close stands");
        let closes: i64 = aixin::db::schema::month_closes::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(closes, 1);
        // Reopening twice at once: one reopening stands.
        let form = [("month", last.as_str()), ("area_id", city.as_str()), ("reason", "补录漏记的捐赠")];
        let (x, y) = tokio::join!(a.submit("/reports/reopen", &form), b.submit("/reports/reopen", &form));
        assert!(x.status < 500 && y.status < 500, "{} {}", x.status, y.status);
        assert_eq!(audit_count(&app, "month.reopen"), 1, "one reopening stands");
    }
}

app_test! {
    async fn two_reversals_of_one_movement_post_once(app) {
        let [_, _, town, _] = app.area_chain("并移");
        let store = app.store("并移超市", &town);
        let goods = crate::stock::seed(&app, &store);
        let item = aixin::goods::find(&mut app.conn(), &crate::helpers::iid(&goods.items[1])).unwrap().unwrap();
        let m = aixin::stock::adjust(&mut app.conn(), &aixin::auth::Actor::console(), &crate::helpers::sid(&store), &item, -3, "破损", today()).unwrap().unwrap();
        let shelf = crate::stock::on_hand(&app, &store, &item.id);
        let (a, b) = two_admins(&app).await;
        let page_a = a.get(&format!("/movements/{}", m.id)).await;
        let page_b = b.get(&format!("/movements/{}", m.id)).await;
        let path = format!("/movements/{}/reverse", m.id);
        let key_a = crate::stock::key_for(&page_a.body, &path);
        let key_b = crate::stock::key_for(&page_b.body, &path);
        let form_a = [("key", key_a.as_str()), ("reason", "点错了")];
        let form_b = [("key", key_b.as_str()), ("reason", "点错了")];
        let (x, y) = tokio::join!(a.submit(&path, &form_a), b.submit(&path, &form_b));
        assert!(x.status < 500 && y.status < 500, "{} {}", x.status, y.status);
        let reversals: i64 = stock_movements::table
            .filter(stock_movements::reverses_id.eq(&m.id))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(reversals, 1, "one reversal stands");
        assert_eq!(crate::stock::on_hand(&app, &store, &item.id), shelf + 3);
        assert!(aixin::stock::verify_stock_ledger(&mut app.conn()).unwrap().ok());
    }
}

app_test! {
    async fn a_withdrawal_and_an_approval_at_the_same_moment_one_stands(app) {
        use aixin::db::schema::awards;
        let [_, _, _, village] = app.area_chain("并撤申");
        app.user("ch-off", Role::Official, Some(&village), None);
        app.user("ch-rev", Role::Reviewer, Some(&village), None);
        let household = app.household("并撤申户", &village);
        app.rule("C5", "环境卫生", 5, None);
        let (official, reviewer) = (app.client(), app.client());
        official.login("ch-off", PASSWORD).await;
        reviewer.login("ch-rev", PASSWORD).await;
        let off_id: String = aixin::db::schema::users::table
            .filter(aixin::db::schema::users::username.eq("ch-off"))
            .select(aixin::db::schema::users::id)
            .first(&mut app.conn())
            .unwrap();
        for round in 0..4 {
            let id = award(&app, &off_id, None, &household, "C5", &format!("c{round}"));
            let v = format!("v:{id}");
            let withdraw = format!("/awards/{id}/withdraw");
            let review = [("approve_one", id.as_str()), (v.as_str(), "1")];
            let (x, y) = tokio::join!(official.submit(&withdraw, &[("version", "1")]), reviewer.submit("/review", &review));
            assert!(x.status < 500 && y.status < 500, "{} {}", x.status, y.status);
            let status: String = awards::table.find(&id).select(awards::status).first(&mut app.conn()).unwrap();
            assert!(status == "approved" || status == "withdrawn", "round {round}: {status}");
        }
        let approved: i64 = awards::table.filter(awards::status.eq("approved")).count().get_result(&mut app.conn()).unwrap();
        assert_eq!(crate::counter::balance(&app, &household), 5 * approved, "a withdrawn award never counts");
        assert_eq!(audit_count(&app, "award.approve") + audit_count(&app, "award.withdraw"), 4, "one decision each");
        assert!(aixin::ledger::verify(&mut app.conn()).unwrap().ok());
    }
}

app_test! {
    async fn a_month_close_waits_for_a_posting_already_under_way(app) {
        // A posting into last month has started and not yet committed; a
        // close of that month, made meanwhile, must wait for it: otherwise
        // (PostgreSQL) the posting, having checked the month a moment
        // before, commits into a month already closed.
        let [_, _, town, _] = app.area_chain("并结");
        let store = app.store("并结超市", &town);
        let goods = crate::stock::seed(&app, &store);
        let item = aixin::goods::find(&mut app.conn(), &crate::helpers::iid(&goods.items[1])).unwrap().unwrap();
        let admin = app.user("race-close", Role::Admin, None, None);
        let month = aixin::reports::Month::of(today()).prev();
        let day = month.end_day();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let pool = app.pool.clone();
        let posting = std::thread::spawn(move || {
            let mut c = pool.get().unwrap();
            aixin::db::write_tx::<_, diesel::result::Error, _>(&mut c, |c| {
                aixin::stock::adjust(c, &aixin::auth::Actor::console(), &crate::helpers::sid(&store), &item, -1, "破损", day)
                    .expect("the posting goes in before the close");
                let _ = started_tx.send(());
                std::thread::sleep(std::time::Duration::from_millis(700));
                Ok(std::time::Instant::now())
            })
            .unwrap()
        });
        started_rx.recv().unwrap();
        let pool = app.pool.clone();
        let closed_at = tokio::task::spawn_blocking(move || {
            let mut c = pool.get().unwrap();
            aixin::reports::close::close(&mut c, &aixin::auth::Actor::console(), &admin, month, today()).unwrap();
            std::time::Instant::now()
        })
        .await
        .unwrap();
        let committed_at = posting.join().unwrap();
        assert!(closed_at >= committed_at, "the close waited for the posting under way");
        assert!(aixin::stock::verify_stock_ledger(&mut app.conn()).unwrap().ok());
    }
}

app_test! {
    /// Two people save the same household's edit form, opened at the same
    /// version: one save stands, the other is told the household changed
    /// (409) with what they typed kept; nothing is lost silently.
    async fn two_edits_of_one_household_lose_no_update(app) {
        use aixin::db::schema::households;
        use crate::forms_kept::{household_edit, pairs, version_in};
        let [_, _, _, village] = app.area_chain("并改");
        let id = app.household("并改户", &village);
        let (a, b) = two_admins(&app).await;
        let action = format!("/households/{id}");
        let page_a = a.get(&format!("/households/{id}/edit")).await;
        let page_b = b.get(&format!("/households/{id}/edit")).await;
        let (va, vb) = (version_in(&page_a.body, &action), version_in(&page_b.body, &action));
        assert_eq!(va, vb);
        let form_a = household_edit(&app, &id, &va, &[("address", "东头 1 号")]);
        let form_b = household_edit(&app, &id, &vb, &[("notes", "腿脚不便")]);
        let (fields_a, fields_b) = (pairs(&form_a), pairs(&form_b));
        let (x, y) = tokio::join!(a.post(&action, &fields_a), b.post(&action, &fields_b));
        let mut statuses = [x.status, y.status];
        statuses.sort();
        assert_eq!(statuses, [303, 409], "one saved, one told: {}\n{}", x.body, y.body);
        let told = if x.status == 409 { &x } else { &y };
        told.assert_contains("这户的记录在您打开表单后已被");
        told.assert_contains(r#"id="form-errors""#);
        let (address, notes, version): (String, String, i64) = households::table
            .find(&id)
            .select((households::address, households::notes, households::version))
            .first(&mut app.conn())
            .unwrap();
        assert_eq!(version, va.parse::<i64>().unwrap() + 1, "one save bumped the version once");
        if x.status == 303 {
            assert_eq!((address.as_str(), notes.as_str()), ("东头 1 号", ""));
            told.assert_contains("腿脚不便");
        } else {
            assert_eq!((address.as_str(), notes.as_str()), ("一组 1 号", "腿脚不便"));
            told.assert_contains(r#"value="东头 1 号""#);
        }
        // The one told saves again from the page that told them: both changes stand.
        let again_form: Vec<(String, String)> = if x.status == 409 { form_a.clone() } else { form_b.clone() };
        let mut again_form = again_form;
        again_form[0].1 = version_in(&told.body, &action);
        let again = if x.status == 409 { a.post(&action, &pairs(&again_form)).await } else { b.post(&action, &pairs(&again_form)).await };
        assert_eq!(again.status, 303, "{}", again.body);
        let (address, notes): (String, String) = households::table
            .find(&id)
            .select((households::address, households::notes))
            .first(&mut app.conn())
            .unwrap();
        assert!(address == "东头 1 号" || notes == "腿脚不便");
    }
}

app_test! {
    /// Two people save the same rule's edit form, opened at the same
    /// version (one sets the points, the other renames it): one save
    /// stands, the other is told the rule changed (409) with what they
    /// typed kept; the rule gets exactly one new version.
    async fn two_edits_of_one_rule_lose_no_update(app) {
        use aixin::db::schema::rules;
        use crate::forms_kept::{pairs, version_in};
        app.rule("B01", "参加村集体劳动", 5, None);
        let (a, b) = two_admins(&app).await;
        let action = "/rules/B01";
        let page_a = a.get("/rules/B01/edit").await;
        let page_b = b.get("/rules/B01/edit").await;
        let (va, vb) = (version_in(&page_a.body, action), version_in(&page_b.body, action));
        assert_eq!(va, vb);
        let form = |v: &str, name: &str, points: &str| vec![
            ("version".to_string(), v.to_string()), ("name".into(), name.into()),
            ("category_id".into(), "cat-01".into()), ("points".into(), points.into()),
            ("active".into(), "1".into()),
        ];
        let (form_a, form_b) = (form(&va, "参加村集体劳动", "6"), form(&vb, "参加集体劳动", "5"));
        let (fields_a, fields_b) = (pairs(&form_a), pairs(&form_b));
        let (x, y) = tokio::join!(a.post(action, &fields_a), b.post(action, &fields_b));
        let mut statuses = [x.status, y.status];
        statuses.sort();
        assert_eq!(statuses, [303, 409], "one saved, one told: {}\n{}", x.body, y.body);
        let told = if x.status == 409 { &x } else { &y };
        told.assert_contains("在您打开表单后已被别人修改");
        let (name, points, version): (String, i64, i64) = rules::table
            .filter(rules::code.eq("B01"))
            .filter(rules::superseded_by.is_null())
            .select((rules::name, rules::points, rules::version))
            .first(&mut app.conn())
            .unwrap();
        assert_eq!(version, va.parse::<i64>().unwrap() + 1, "one new version");
        if x.status == 303 {
            assert_eq!((name.as_str(), points), ("参加村集体劳动", 6));
            told.assert_contains(r#"value="参加集体劳动""#);
        } else {
            assert_eq!((name.as_str(), points), ("参加集体劳动", 5));
            told.assert_contains(r#"value="6""#);
        }
        let n: i64 = rules::table.filter(rules::code.eq("B01")).count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 2, "two versions, not three");
    }
}

/// The settings form as it comes (each value and the value it showed), with
/// `changes` made to it.
fn settings_form(app: &TestApp, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    use aixin::settings;
    let mut form = Vec::new();
    for s in settings::ALL {
        let v = settings::get(&mut app.conn(), *s).unwrap().to_string();
        form.push((format!("seen.{}", s.key), v.clone()));
        if !(s.is_bool() && v == "0") {
            form.push((s.key.to_string(), v));
        }
    }
    for (k, v) in changes {
        match form.iter_mut().find(|(key, _)| key == k) {
            Some(f) => f.1 = v.to_string(),
            None => form.push((k.to_string(), v.to_string())),
        }
    }
    form
}

app_test! {
    /// Two admins save the settings form, both opened before either saved:
    /// one sets the notice days, the other the retention years; both
    /// changes stand. A stale form that puts another value over a setting
    /// changed meanwhile is refused (409) beside that setting, with what was
    /// typed kept, and changes nothing.
    async fn two_saves_of_the_settings_lose_no_update(app) {
        use aixin::settings;
        use crate::forms_kept::pairs;
        let (a, b) = two_admins(&app).await;
        assert_eq!(a.get("/settings").await.status, 200);
        let form_a = settings_form(&app, &[("notice_days", "9")]);
        let form_b = settings_form(&app, &[("retention_years", "3")]);
        let stale = settings_form(&app, &[("notice_days", "5"), ("photo_days", "30")]);
        let (fields_a, fields_b) = (pairs(&form_a), pairs(&form_b));
        let (x, y) = tokio::join!(a.post("/settings", &fields_a), b.post("/settings", &fields_b));
        assert_eq!((x.status, y.status), (303, 303), "{}\n{}", x.body, y.body);
        assert_eq!(settings::get(&mut app.conn(), settings::NOTICE_DAYS).unwrap(), 9, "A's change stands");
        assert_eq!(settings::get(&mut app.conn(), settings::RETENTION_YEARS).unwrap(), 3, "B's change stands");

        let told = b.post("/settings", &pairs(&stale)).await;
        assert_eq!(told.status, 409, "{}", told.body);
        told.assert_contains("在您打开表单后已被别人改为 9");
        told.assert_contains(r#"data-field="settings.notice_days""#);
        told.assert_contains(r#"value="5""#);
        told.assert_contains(r#"value="30""#);
        assert_eq!(settings::get(&mut app.conn(), settings::NOTICE_DAYS).unwrap(), 9, "nothing changed");
        assert_eq!(settings::get(&mut app.conn(), settings::PHOTO_DAYS).unwrap(), 365, "nothing changed");
        assert_eq!(settings::get(&mut app.conn(), settings::RETENTION_YEARS).unwrap(), 3, "the stale blank-over is not a change");
    }
}

app_test! {
    /// Two admins save one user's edit form, opened at the same version (one
    /// renames them, the other moves them to another area): one save stands,
    /// the other is told the user changed (409) with what they typed kept.
    async fn two_edits_of_one_user_lose_no_update(app) {
        use aixin::db::schema::users;
        use crate::forms_kept::version_in;
        let [_, _, town, village] = app.area_chain("改人");
        let id = app.user("cun-guan", Role::Official, Some(&village), None);
        let (a, b) = two_admins(&app).await;
        let action = format!("/users/{id}/assign");
        let page_a = a.get(&format!("/users/{id}")).await;
        let page_b = b.get(&format!("/users/{id}")).await;
        let (va, vb) = (version_in(&page_a.body, &action), version_in(&page_b.body, &action));
        assert_eq!(va, vb);
        let form_a = [("version", va.as_str()), ("display_name", "王村官"), ("role", "official"), ("area_id", village.as_str())];
        let shown: String = users::table.find(&id).select(users::display_name).first(&mut app.conn()).unwrap();
        let form_b = [("version", vb.as_str()), ("display_name", shown.as_str()), ("role", "official"), ("area_id", town.as_str())];
        let (x, y) = tokio::join!(a.post(&action, &form_a), b.post(&action, &form_b));
        let mut statuses = [x.status, y.status];
        statuses.sort();
        assert_eq!(statuses, [303, 409], "one saved, one told: {}\n{}", x.body, y.body);
        let told = if x.status == 409 { &x } else { &y };
        told.assert_contains("“cun-guan”在您打开表单后已被别人修改");
        let (name, area): (String, Option<String>) = users::table
            .find(&id)
            .select((users::display_name, users::area_id))
            .first(&mut app.conn())
            .unwrap();
        if x.status == 303 {
            assert_eq!((name.as_str(), area.as_deref()), ("王村官", Some(village.as_str())));
        } else {
            assert_eq!((name.as_str(), area.as_deref()), (shown.as_str(), Some(town.as_str())));
            told.assert_contains(r#"value="王村官""#);
        }
        // The one told saves again from the page that told them: it goes through.
        let again_v = version_in(&told.body, &action);
        let again = if x.status == 409 {
            a.post(&action, &[("version", again_v.as_str()), ("display_name", "王村官"), ("role", "official"), ("area_id", town.as_str())]).await
        } else {
            b.post(&action, &[("version", again_v.as_str()), ("display_name", "王村官"), ("role", "official"), ("area_id", town.as_str())]).await
        };
        assert_eq!(again.status, 303, "{}", again.body);
    }
}

app_test! {
    /// Two people key in counts on one sheet, both opened blank: one counts
    /// the soap, the other the towels, and neither's blank box erases the
    /// other's count. A form opened earlier that puts another number over a
    /// count entered meanwhile is refused (409) naming the line, with what
    /// was typed kept.
    async fn two_count_forms_of_one_stocktake_lose_no_count(app) {
        use aixin::db::schema::stocktake_lines;
        use crate::forms_kept::pairs;
        let [_, _, town, _] = app.area_chain("并盘");
        let store = app.store("并盘超市", &town);
        let (soap, towel) = {
            let mut c = app.conn();
            let soap = crate::stock::item(&mut c, "肥皂", "块", "3");
            let towel = crate::stock::item(&mut c, "毛巾", "条", "5");
            let d = crate::stock::donor(&mut c, "并盘捐赠人");
            crate::stock::donate(&mut c, &store, &d, &[(&soap, 50), (&towel, 60)]);
            (soap, towel)
        };
        let (a, b) = two_admins(&app).await;
        let started = a.post(&format!("/stores/{store}/stocktakes"), &[]).await;
        let id = started.location.expect("to the sheet").trim_start_matches("/stocktakes/").to_string();
        let action = format!("/stocktakes/{id}/counts");
        let page = b.get(&format!("/stocktakes/{id}")).await;
        page.assert_contains(&format!(r#"name="seen.count_{soap}" value="""#));
        let form = |x: &str, y: &str| vec![
            (format!("seen.count_{soap}"), String::new()), (format!("seen.count_{towel}"), String::new()),
            ("seen.counted_by".to_string(), String::new()), ("seen.witnessed_by".to_string(), String::new()),
            (format!("count_{soap}"), x.to_string()), (format!("count_{towel}"), y.to_string()),
            ("counted_by".to_string(), "老王".to_string()), ("witnessed_by".to_string(), String::new()),
        ];
        let (form_a, form_b, stale) = (form("42", ""), form("", "58"), form("40", ""));
        let (fields_a, fields_b) = (pairs(&form_a), pairs(&form_b));
        let (x, y) = tokio::join!(a.post(&action, &fields_a), b.post(&action, &fields_b));
        assert_eq!((x.status, y.status), (303, 303), "{}\n{}", x.body, y.body);
        let counted = |item: &str| -> Option<i64> {
            stocktake_lines::table
                .find((id.as_str(), item))
                .select(stocktake_lines::counted)
                .first(&mut app.conn())
                .unwrap()
        };
        assert_eq!((counted(&soap), counted(&towel)), (Some(42), Some(58)), "both counts stand");

        let told = b.post(&action, &pairs(&stale)).await;
        assert_eq!(told.status, 409, "{}", told.body);
        told.assert_contains("“肥皂”的实盘数量在您打开表单后已被别人填为 42");
        told.assert_contains(r#"value="40""#);
        assert_eq!((counted(&soap), counted(&towel)), (Some(42), Some(58)), "nothing changed");
    }
}

/// An official's pending award (proposed on their page), with its id.
async fn pending_award(app: &TestApp, prefix: &str) -> (Client, String) {
    use aixin::db::schema::awards;
    let [_, _, _, village] = app.area_chain(prefix);
    let h = app.household(&format!("{prefix}户"), &village);
    app.rule("B01", "参加村集体劳动", 5, None);
    app.rule("B02", "志愿服务", 3, None);
    app.user("pa-off", Role::Official, Some(&village), None);
    let official = app.client();
    official.login("pa-off", PASSWORD).await;
    let key = uuid::Uuid::new_v4().to_string();
    let day = today().to_string();
    let done = official
        .post(
            "/awards",
            &[
                ("household_id", h.as_str()),
                ("rule_code", "B01"),
                ("occurred_on", &day),
                ("note", "打扫村道"),
                ("key", &key),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let id: String = awards::table
        .filter(awards::household_id.eq(&h))
        .select(awards::id)
        .first(&mut app.conn())
        .unwrap();
    (official, id)
}

app_test! {
    /// The same award's edit form saved from two tabs, opened at the same
    /// version (one changes the rule, the other the note): one save stands,
    /// the other is told (409) with what was typed kept beside its fields.
    async fn two_edits_of_one_award_lose_no_update(app) {
        use aixin::db::schema::awards;
        use crate::forms_kept::version_in;
        let (official, id) = pending_award(&app, "两页").await;
        let action = format!("/awards/{id}");
        let page = official.get(&format!("/awards/{id}/edit")).await;
        let v = version_in(&page.body, &action);
        let day = today().to_string();
        let form_a = [("version", v.as_str()), ("rule_code", "B02"), ("occurred_on", &day), ("note", "打扫村道")];
        let form_b = [("version", v.as_str()), ("rule_code", "B01"), ("occurred_on", &day), ("note", "清理河道")];
        let (x, y) = tokio::join!(official.post(&action, &form_a), official.post(&action, &form_b));
        let mut statuses = [x.status, y.status];
        statuses.sort();
        assert_eq!(statuses, [303, 409], "one saved, one told: {}\n{}", x.body, y.body);
        let told = if x.status == 409 { &x } else { &y };
        told.assert_contains(r#"id="form-errors""#);
        let (code, note): (String, String) = awards::table.find(&id).select((awards::rule_code, awards::note)).first(&mut app.conn()).unwrap();
        if x.status == 303 {
            assert_eq!((code.as_str(), note.as_str()), ("B02", "打扫村道"));
            told.assert_contains(r#"value="清理河道""#);
        } else {
            assert_eq!((code.as_str(), note.as_str()), ("B01", "清理河道"));
            told.assert_contains(r#"<option value="B02" selected>"#);
        }
    }
}

app_test! {
    /// Two people save one store's printing from two receipts opened at the
    /// same version (one chooses 58 mm paper, the other printing by itself):
    /// one save stands, the other is told the store changed (409) with what
    /// they chose kept, and neither's choice is lost unseen.
    async fn two_printing_saves_of_one_store_lose_no_update(app) {
        use aixin::db::schema::stores;
        use crate::forms_kept::version_in;
        let [_, _, town, village] = app.area_chain("并印");
        let store = app.store("并印超市", &town);
        let household = app.household("并印户", &village);
        let goods = crate::stock::seed(&app, &store);
        let r = crate::counter::redeem_for_test(&app, &store, &household, &goods.items[0]);
        let (a, b) = two_admins(&app).await;
        let action = format!("/stores/{store}/printing");
        let page_a = a.get(&format!("/redemptions/{r}")).await;
        let page_b = b.get(&format!("/redemptions/{r}")).await;
        let (va, vb) = (version_in(&page_a.body, &action), version_in(&page_b.body, &action));
        assert_eq!(va, vb);
        let form_a = [("version", va.as_str()), ("paper", "58"), ("redemption_id", r.as_str())];
        let form_b = [("version", vb.as_str()), ("paper", "80"), ("print_after_confirm", "1"), ("redemption_id", r.as_str())];
        let (x, y) = tokio::join!(a.post(&action, &form_a), b.post(&action, &form_b));
        let mut statuses = [x.status, y.status];
        statuses.sort();
        assert_eq!(statuses, [303, 409], "one saved, one told: {}\n{}", x.body, y.body);
        let told = if x.status == 409 { &x } else { &y };
        told.assert_contains("“并印超市”在您打开表单后已被别人修改");
        told.assert_contains(r#"data-field="field.receipt_paper""#);
        let (paper, auto, version): (String, bool, i64) = stores::table
            .find(&store)
            .select((stores::receipt_paper, stores::print_after_confirm, stores::version))
            .first(&mut app.conn())
            .unwrap();
        assert_eq!(version, va.parse::<i64>().unwrap() + 1, "one save bumped the version once");
        if x.status == 303 {
            assert_eq!((paper.as_str(), auto), ("58", false));
            told.assert_contains(r#"name="print_after_confirm" value="1" checked"#);
        } else {
            assert_eq!((paper.as_str(), auto), ("80", true));
            told.assert_contains(r#"name="paper" value="58" checked"#);
        }
        // The one told saves again from the page that told them: it goes through.
        let again_v = version_in(&told.body, &action);
        let again_form = [("version", again_v.as_str()), ("paper", "a4"), ("redemption_id", r.as_str())];
        let again = if x.status == 409 { a.post(&action, &again_form).await } else { b.post(&action, &again_form).await };
        assert_eq!(again.status, 303, "{}", again.body);
    }
}

app_test! {
    /// Two admins save one staff member's personal data, opened at the same
    /// version (one types a phone, the other a home address): one save
    /// stands, the other is told the user changed (409) with what they typed
    /// kept.
    async fn two_personal_saves_of_one_user_lose_no_update(app) {
        use aixin::db::schema::users;
        use crate::forms_kept::version_in;
        let [_, _, _, village] = app.area_chain("并私");
        let id = app.user("si-guan", Role::Official, Some(&village), None);
        let (a, b) = two_admins(&app).await;
        let action = format!("/users/{id}/personal");
        let page_a = a.get(&format!("/users/{id}")).await;
        let page_b = b.get(&format!("/users/{id}")).await;
        let (va, vb) = (version_in(&page_a.body, &action), version_in(&page_b.body, &action));
        assert_eq!(va, vb);
        let form_a = [("version", va.as_str()), ("phone", "13912345678")];
        let form_b = [("version", vb.as_str()), ("home_area_id", village.as_str()), ("home_address", "并私村八号")];
        let (x, y) = tokio::join!(a.post(&action, &form_a), b.post(&action, &form_b));
        let mut statuses = [x.status, y.status];
        statuses.sort();
        assert_eq!(statuses, [303, 409], "one saved, one told: {}\n{}", x.body, y.body);
        let told = if x.status == 409 { &x } else { &y };
        told.assert_contains("“si-guan”在您打开表单后已被别人修改");
        let (phone, address, version): (String, String, i64) = users::table
            .find(&id)
            .select((users::phone_masked, users::home_address, users::version))
            .first(&mut app.conn())
            .unwrap();
        assert_eq!(version, va.parse::<i64>().unwrap() + 1, "one save bumped the version once");
        if x.status == 303 {
            assert!(!phone.is_empty() && address.is_empty(), "{phone} {address}");
            told.assert_contains(r#"value="并私村八号""#);
        } else {
            assert!(phone.is_empty() && address == "并私村八号", "{phone} {address}");
            told.assert_contains(r#"value="13912345678""#);
        }
        // The one told saves again from the page that told them: it goes through.
        let again_v = version_in(&told.body, &action);
        let again_form = [("version", again_v.as_str()), ("home_area_id", village.as_str()), ("home_address", "并私村九号")];
        let again = if x.status == 409 { a.post(&action, &again_form).await } else { b.post(&action, &again_form).await };
        assert_eq!(again.status, 303, "{}", again.body);
    }
}

app_test! {
    async fn a_household_moving_village_during_a_redemption_takes_the_balance_it_leaves(app) {
        use aixin::db::DbConn;
        use aixin::redemptions::{self as rd, RedeemRequest, WantLine};
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        let [_, _, town, village] = app.area_chain("并迁");
        let village2 = app.area(Some(&town), "并迁新村");
        let store = app.store("并迁超市", &town);
        let household = app.household("并迁户", &village);
        let goods = crate::stock::seed(&app, &store);
        crate::counter::fund(&app, &household, 1000);
        let card = crate::counter::card_of(&app, &household);
        let admin = app.admin().await;
        let form = [
            ("head_name".to_string(), "并迁户".to_string()),
            ("area_id".to_string(), village2.clone()),
            ("members".to_string(), "3".to_string()),
            ("status".to_string(), "registered".to_string()),
            ("version".to_string(), app.version_of("households", &household)),
        ];
        let path = format!("/households/{household}");
        // A redemption in flight: posted, not yet committed. On PostgreSQL
        // the move runs meanwhile on another connection; SQLite writes one
        // transaction at a time, so there the move simply follows.
        let mut x = app.conn();
        let concurrent = matches!(&*x, DbConn::Pg(_));
        if let DbConn::Pg(pg) = &mut *x {
            AnsiTransactionManager::begin_transaction(pg).unwrap();
        }
        rd::redeem(
            &mut x,
            &aixin::auth::Actor::console(),
            &RedeemRequest {
                store_id: &crate::helpers::sid(&store),
                card: &card,
                lines: &[WantLine { item_id: crate::helpers::iid(&goods.items[0]), quantity: 1 }],
                key: &uuid::Uuid::new_v4().to_string(),
                household_id: None,
                expected_total: None,
            },
            today(),
        )
        .expect("redeem");
        let moving = tokio::spawn(async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            admin.submit(&path, &pairs).await
        });
        if concurrent {
            tokio::time::sleep(std::time::Duration::from_millis(700)).await;
            if let DbConn::Pg(pg) = &mut *x {
                AnsiTransactionManager::commit_transaction(pg).unwrap();
            }
        }
        drop(x);
        let moved = moving.await.unwrap();
        assert_eq!(moved.status, 200, "{}", moved.body);
        let report = aixin::ledger::verify(&mut app.conn()).unwrap();
        assert!(report.ok(), "each village's totals are its households' balances: {report:?}");
    }
}
