//! The monthly summary: a random month of activity, and every identity holds
//! (opening + changes = closing, areas below sum to the total, ledger agrees).

use aixin::auth::Scope;
use aixin::db::DbConn;
use aixin::domain::Role;
use aixin::ledger::{self, Kind, Posting};
use aixin::points::awards::{self as aw, Decision};
use aixin::reports::{self, Month};
use chrono::NaiveDate;
use diesel::prelude::*;
use rand::{Rng, SeedableRng};

use crate::helpers::*;

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// Post `amount` points from `debit` to `credit` under `kind`, dated
/// `day`, as a bare posting (no award or redemption behind it); whether
/// the ledger took it.
pub(crate) fn post(
    c: &mut DbConn,
    debit: String,
    credit: String,
    amount: i64,
    kind: Kind,
    day: NaiveDate,
) -> bool {
    aixin::db::write_tx(c, |c| {
        ledger::post(
            c,
            &Posting {
                debit: debit.clone(),
                credit: credit.clone(),
                amount,
                kind,
                ref_kind: "test".into(),
                ref_id: String::new(),
                memo: "test".into(),
                user_id: None,
                posted_on: day,
                idempotency_key: None,
                reverses: None,
            },
        )
    })
    .is_ok()
}

/// What the test itself counted for one household set and one month.
#[derive(Default, Debug)]
struct Expect {
    opening: i64,
    awarded: i64,
    closing: i64,
}

app_test! {
    async fn a_random_month_adds_up_everywhere(app) {
        let [city, district, _town, village] = app.area_chain("汇总");
        let district2 = app.area(Some(&city), "乙区");
        let town2 = app.area(Some(&district2), "乙镇");
        let village2 = app.area(Some(&town2), "乙村");
        let official = app.user("hz-off", Role::Official, Some(&village), None);
        let reviewer = app.user("hz-rev", Role::Reviewer, None, None);
        app.rule("HZ1", "环境卫生", 5, None);
        app.rule("HZ2", "孝老爱亲", 8, None);
        let households: Vec<(String, bool)> = (0..10)
            .map(|i| {
                let in_first = i % 3 != 0;
                (app.household(&format!("汇总户{i}"), if in_first { &village } else { &village2 }), in_first)
            })
            .collect();
        let today = aixin::time::today(TZ);
        let this = Month::of(today);
        let month = this.prev();
        let before = month.prev();
        let ctx = aixin::auth::Actor::console();
        let off = Who { user_id: official, role: Role::Official, scope: Scope::All };
        let rev = Who { user_id: reviewer, role: Role::Reviewer, scope: Scope::All };
        let seed: u64 = std::env::var("REPORT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| rand::thread_rng().r#gen());
        eprintln!("REPORT_SEED={seed}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        // [whole city, first district]
        let mut expect = [Expect::default(), Expect::default()];
        let mut c = app.conn();
        for n in 0..80 {
            let (h, in_first) = households[rng.gen_range(0..households.len())].clone();
            let m = if rng.gen_bool(0.4) { before } else { month };
            let last = (m.end_day() - m.first_day()).num_days();
            let day = m.first_day() + chrono::Duration::days(rng.gen_range(0..last));
            let acct = ledger::household_account(&h);
            let (delta, is_award) = match rng.gen_range(0..5) {
                0 | 1 => {
                    let code = if rng.gen_bool(0.5) { "HZ1" } else { "HZ2" };
                    let p = aw::parse_proposal(code, &day.to_string(), "", day).unwrap();
                    let a = aw::propose(&mut c, &off.actor(&ctx), &crate::helpers::hid(&h), &p, &format!("k{n}"), day).unwrap();
                    if rng.gen_bool(0.8) {
                        aw::review(&mut c, &rev.actor(&ctx), &a.id, &Decision::Approve, day).unwrap();
                        (a.points, true)
                    } else {
                        aw::review(&mut c, &rev.actor(&ctx), &a.id, &Decision::Reject("不符".into()), day).unwrap();
                        (0, false)
                    }
                }
                2 => {
                    let amt = rng.gen_range(1..30);
                    (if post(&mut c, ledger::ISSUANCE.into(), acct, amt, Kind::Adjustment, day) { amt } else { 0 }, false)
                }
                3 => {
                    let amt = rng.gen_range(1..10);
                    (if post(&mut c, acct, ledger::ISSUANCE.into(), amt, Kind::Deduction, day) { -amt } else { 0 }, false)
                }
                _ => {
                    let amt = rng.gen_range(1..10);
                    (if post(&mut c, acct, ledger::EXPIRY.into(), amt, Kind::Expiry, day) { -amt } else { 0 }, false)
                }
            };
            for (i, e) in expect.iter_mut().enumerate() {
                if i == 1 && !in_first {
                    continue;
                }
                if m == before {
                    e.opening += delta;
                } else if is_award {
                    e.awarded += delta;
                }
                e.closing += delta;
            }
        }
        for (area, e) in [(&city, &expect[0]), (&district, &expect[1])] {
            let s = reports::monthly(&mut c, TZ, area, month).unwrap().unwrap();
            assert!(s.ok(), "seed {seed}: {:?}", s.mismatches);
            assert_eq!((s.points.opening, s.points.awarded, s.points.closing), (e.opening, e.awarded, e.closing), "seed {seed}");
        }
        let s = reports::monthly(&mut c, TZ, &city, month).unwrap().unwrap();
        assert_eq!(s.breakdown.len(), 2);
        // The trend's last month is this summary; the month before is the one before.
        assert_eq!(s.trend.len(), 12);
        let last = &s.trend[11];
        assert_eq!(last.month, month.to_string());
        assert_eq!((last.awarded, -last.redeemed, last.taking_part), (s.points.awarded, s.points.redeemed, s.households.taking_part));
        let prev = reports::monthly(&mut c, TZ, &city, before).unwrap().unwrap();
        assert_eq!((s.trend[10].awarded, s.trend[10].taking_part), (prev.points.awarded, prev.households.taking_part));
        assert_eq!(s.breakdown.iter().map(|b| b.closing).sum::<i64>(), expect[0].closing);
        // Every area and both months add up, the village too (no rows below it).
        for area in [&city, &district, &district2, &village, &village2] {
            for m in [before, month, this] {
                let s = reports::monthly(&mut c, TZ, area, m).unwrap().unwrap();
                assert!(s.ok(), "seed {seed} {area} {m}: {:?}", s.mismatches);
            }
        }
        // Goods this month: a donation, a stocktake begun and redemptions (by
        // households of both districts); every item adds up.
        let store = app.store("汇总超市", &village);
        let goods = crate::stock::seed(&app, &store);
        for (h, _) in households.iter().take(4) {
            crate::counter::redeem_for_test(&app, &store, h, &goods.items[0]);
        }
        drop(c);
        let mut c = app.conn();
        for area in [&city, &district, &village, &village2] {
            let s = reports::monthly(&mut c, TZ, area, this).unwrap().unwrap();
            assert!(s.ok(), "seed {seed} {area}: {:?}", s.mismatches);
            assert_eq!(s.goods.is_empty(), area == &village2);
            for g in &s.goods {
                assert_eq!(g.closing, crate::stock::on_hand(&app, &g.store_id, &g.item_id), "{g:?}");
            }
        }
        let s = reports::monthly(&mut c, TZ, &city, this).unwrap().unwrap();
        assert_eq!(s.redemptions.count, 4);
        assert_eq!(s.redemptions.households, 4);
        assert_eq!(s.redemptions.by_store.iter().map(|r| r.n).sum::<i64>(), 4);
        assert_eq!(s.donations.count, 1, "{:?}", s.donations);
        assert_eq!(s.donations.by_kind.iter().map(|k| k.points).sum::<i64>(), s.donations.money_fen + s.donations.goods_value_fen);
        assert_eq!(s.goods.iter().filter(|g| g.item_id == goods.items[0] && g.store_id == store).map(|g| g.redeemed).sum::<i64>(), 4);
        // This month's closing is what every household holds now.
        let now = reports::monthly(&mut c, TZ, &city, this).unwrap().unwrap();
        let held: i64 = households.iter().map(|(h, _)| ledger::balance(&mut c, &ledger::household_account(h)).unwrap()).sum();
        assert_eq!(now.points.closing, held);
        assert_eq!(now.points.opening, expect[0].closing);

        // The page shows the same numbers, says they add up, and exports them.
        let admin = app.admin().await;
        let page = admin.get(&format!("/reports/monthly?month={month}&area_id={city}")).await;
        assert_eq!(page.status, 200);
        page.assert_contains("id=\"report-ok\"");
        page.assert_contains(&format!("id=\"p-closing\">{}<", expect[0].closing));
        page.assert_contains("制表人");
        page.assert_contains("<svg");
        let csv = admin.get(&format!("/reports/monthly.csv?month={month}&area_id={city}")).await;
        assert_eq!(csv.status, 200);
        assert!(csv.body.contains(&format!("期末积分余额,,{}", expect[0].closing)), "{}", csv.body);
        let xlsx = admin.get(&format!("/reports/monthly.xlsx?month={month}&area_id={city}")).await;
        assert_eq!(xlsx.status, 200);
        assert_eq!(xlsx.headers.get("content-type").unwrap(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");

        // One store's summary: its redemptions and goods, adding up.
        let page = admin.get(&format!("/reports/monthly?month={this}&store_id={store}")).await;
        assert_eq!(page.status, 200);
        page.assert_contains("id=\"report-ok\"");
        page.assert_contains("id=\"r-count\">4<");
        assert!(!page.body.contains("id=\"p-closing\""));
        let csv = admin.get(&format!("/reports/monthly.csv?month={this}&store_id={store}")).await;
        assert_eq!(csv.status, 200);
        let page = admin.get(&format!("/reports/monthly?month={this}&store_id={store}&area_id={city}")).await;
        assert_eq!(page.status, 422);
        // Text that is no id, or an id no store in reach has, is named
        // beside the store's own picker.
        let page = admin.get(&format!("/reports/monthly?month={this}&store_id=nope")).await;
        assert_eq!(page.status, 422);
        page.assert_contains(r#"data-field="field.report_store">超市：不是有效的编号"#);
        let page = admin.get(&format!("/reports/monthly?month={this}&store_id=00000000-0000-4000-8000-000000000000")).await;
        assert_eq!(page.status, 422);
        page.assert_contains(r#"data-field="field.report_store">超市：找不到这个超市"#);
        // A cached balance that disagrees with its entries: the page warns.
        {
            use aixin::db::schema::point_balances;
            diesel::update(point_balances::table.filter(point_balances::account.eq(ledger::household_account(&households[1].0))))
                .set(point_balances::balance.eq(point_balances::balance + 7))
                .execute(&mut c)
                .unwrap();
        }
        let page = admin.get(&format!("/reports/monthly?month={this}&area_id={city}")).await;
        page.assert_contains("id=\"report-warning\"");
        page.assert_contains("期末余额与积分账不一致");
    }
}

app_test! {
    async fn bad_months_and_areas_are_named_never_a_500(app) {
        let [city, _, _, village] = app.area_chain("错");
        let other = app.area(None, "别市");
        app.user("cw-off", Role::Official, Some(&village), None);
        let admin = app.admin().await;
        for bad in ["2026-13", "11-2026", "abc", "2026-1"] {
            let page = admin.get(&format!("/reports/monthly?month={bad}&area_id={city}")).await;
            assert_eq!(page.status, 422, "{bad}");
            page.assert_contains("月份");
        }
        let page = admin.get("/reports/monthly?month=2026-11&area_id=nope").await;
        assert_eq!(page.status, 422);
        page.assert_contains(r#"data-field="field.report_area">区域：不是有效的编号"#);
        // An official sees their own village, and nothing outside it.
        let official = app.client();
        official.login("cw-off", PASSWORD).await;
        let page = official.get("/reports/monthly").await;
        assert_eq!(page.status, 200);
        page.assert_contains("错村");
        let page = official.get(&format!("/reports/monthly?month=2026-11&area_id={other}")).await;
        assert_eq!(page.status, 422);
        page.assert_contains("找不到这个区域");
        let page = official.get(&format!("/reports/monthly.csv?area_id={city}")).await;
        assert_eq!(page.status, 422);
    }
}

app_test! {
    async fn a_closed_month_refuses_anything_dated_into_it(app) {
        let [city, _, _, village] = app.area_chain("月结");
        let official = app.user("yj-off", Role::Official, Some(&village), None);
        app.rule("YJ1", "环境卫生", 5, None);
        let h = app.household("月结户", &village);
        let today = aixin::time::today(TZ);
        let this = Month::of(today);
        let last = this.prev();
        let day = last.first_day() + chrono::Duration::days(3);
        let admin = app.admin().await;
        let back = format!("/reports/monthly?month={last}&area_id={city}");
        // This month has not ended: it cannot be closed.
        let page = admin.submit("/reports/close", &[("month", &this.to_string()), ("area_id", &city)]).await;
        page.assert_contains("还没有结束");
        let page = admin.submit("/reports/close", &[("month", &last.to_string()), ("area_id", &city)]).await;
        page.assert_contains(&format!("月结 {last} 已完成"));
        page.assert_contains("id=\"month-closed\"");
        let page = admin.get(&back).await;
        page.assert_contains("撤销月结");

        // An official's award dated into the closed month is refused, naming the close.
        let ctx = aixin::auth::Actor::console();
        let off = Who { user_id: official.clone(), role: Role::Official, scope: Scope::All };
        let mut c = app.conn();
        let p = aw::parse_proposal("YJ1", &day.to_string(), "", today).unwrap();
        let e = aw::propose(&mut c, &off.actor(&ctx), &crate::helpers::hid(&h), &p, "y1", today).err().unwrap();
        assert!(matches!(e, aixin::points::PointsError::Invalid(ref f) if f.key == "error.month_closed" && f.args.iter().any(|(_, v)| v == &last.to_string())), "{e:?}");
        let text = aixin::i18n::field_error(aixin::i18n::Lang::Zh, match &e { aixin::points::PointsError::Invalid(f) => f, _ => unreachable!() });
        assert!(text.contains(&format!("{last} 已经月结")), "{text}");
        // Nor can any posting be dated into it; today's still can.
        let posting = |day| Posting {
            debit: ledger::ISSUANCE.into(), credit: ledger::household_account(&h), amount: 3, kind: Kind::Adjustment,
            ref_kind: "test".into(), ref_id: String::new(), memo: "t".into(), user_id: None, posted_on: day,
            idempotency_key: None, reverses: None,
        };
        let e = aixin::db::write_tx(&mut c, |c| ledger::post(c, &posting(day))).err().unwrap();
        assert_eq!(e, ledger::LedgerError::MonthClosed(last.to_string()));
        aixin::db::write_tx(&mut c, |c| ledger::post(c, &posting(today))).unwrap();
        // Reopening needs a reason; both are audited.
        let page = admin.submit("/reports/reopen", &[("month", &last.to_string()), ("area_id", &city), ("reason", " ")]).await;
        page.assert_contains("撤销月结请写明原因");
        let page = admin.submit("/reports/reopen", &[("month", &last.to_string()), ("area_id", &city), ("reason", "补录漏报的奖励")]).await;
        page.assert_contains(&format!("已撤销 {last} 的月结"));
        let actions = app.audit_actions();
        assert!(actions.contains(&"month.close".to_string()) && actions.contains(&"month.reopen".to_string()), "{actions:?}");
        aw::propose(&mut c, &off.actor(&ctx), &crate::helpers::hid(&h), &p, "y2", today).unwrap();
    }
}

app_test! {
    async fn a_closed_month_prints_the_same_after_households_move(app) {
        let [city, _district, town, village] = app.area_chain("月结");
        let village2 = app.area(Some(&town), "月结二村");
        let h = app.household("迁户", &village);
        let stay = app.household("留户", &village);
        let today = aixin::time::today(TZ);
        let last = Month::of(today).prev();
        let mut c = app.conn();
        for (who, amount) in [(&h, 40), (&stay, 15)] {
            assert!(post(&mut c, ledger::ISSUANCE.into(), ledger::household_account(who), amount, Kind::Adjustment, last.first_day()));
        }
        let before = reports::monthly(&mut c, TZ, &village, last).unwrap().unwrap();
        assert_eq!((before.points.closing, before.households.taking_part), (55, 0));
        let admin = app.admin().await;
        let admin_id: String = aixin::db::schema::users::table
            .filter(aixin::db::schema::users::username.eq("boss"))
            .select(aixin::db::schema::users::id)
            .first(&mut c)
            .unwrap();
        reports::close::close(&mut c, &aixin::auth::Actor::console(), &admin_id, last, today).unwrap();

        // Printed once after the close, then the household moves to the
        // other village with its 40 points.
        let url = format!("/reports/monthly?month={last}&area_id={village}");
        let printed = admin.get(&url).await;
        printed.assert_contains("id=\"p-closing\">55<");
        let moved = admin.submit(&format!("/households/{h}"), &[
            ("head_name", "迁户"), ("area_id", &village2), ("members", "3"), ("status", "registered"),
            ("version", &app.version_of("households", &h)),
        ]).await;
        assert_eq!(moved.status, 200, "{}", moved.body);
        let area: String = aixin::db::schema::households::table.find(&h).select(aixin::db::schema::households::area_id).first(&mut c).unwrap();
        assert_eq!(area, village2);

        // The closed month reads as it was printed.
        let again = admin.get(&url).await;
        again.assert_contains("id=\"p-closing\">55<");
        again.assert_contains("id=\"report-ok\"");
        let kept = reports::monthly(&mut c, TZ, &village, last).unwrap().unwrap();
        assert_eq!(kept.points, before.points);
        // This month carries the move: out of one village, into the other,
        // nothing at the town; every identity holds.
        let this = Month::of(today);
        for (area, opening, moved, closing) in [(&village, 55, -40, 15), (&village2, 0, 40, 40), (&town, 55, 0, 55), (&city, 55, 0, 55)] {
            let s = reports::monthly(&mut c, TZ, area, this).unwrap().unwrap();
            assert!(s.ok(), "{area}: {:?}", s.mismatches);
            assert_eq!((s.points.opening, s.points.moved, s.points.closing), (opening, moved, closing), "{area}");
        }

        // Reopening drops the kept summary: the month is made afresh from
        // the ledger's totals, where points stay in the village they were
        // posted in.
        reports::close::reopen(&mut c, &aixin::auth::Actor::console(), last, "补录").unwrap();
        let kept: i64 = aixin::db::schema::report_snapshots::table.count().get_result(&mut c).unwrap();
        assert_eq!(kept, 0);
        let s = reports::monthly(&mut c, TZ, &village, last).unwrap().unwrap();
        assert!(s.ok(), "{:?}", s.mismatches);
        assert_eq!(s.points.closing, 55, "points stay where they were posted");
    }
}

app_test! {
    async fn the_ledger_check_covers_the_monthly_totals_and_they_can_be_made_again(app) {
        let [city, _, town, village] = app.area_chain("核总");
        let village2 = app.area(Some(&town), "核总二村");
        let a = app.household("核甲", &village);
        let b = app.household("核乙", &village2);
        let mut c = app.conn();
        let last = Month::of(aixin::time::today(TZ)).prev();
        for (h, n, day) in [(&a, 12, last.first_day()), (&b, 7, aixin::time::today(TZ)), (&a, 3, aixin::time::today(TZ))] {
            assert!(post(&mut c, ledger::ISSUANCE.into(), ledger::household_account(h), n, Kind::Adjustment, day));
        }
        assert!(post(&mut c, ledger::household_account(&a), ledger::EXPIRY.into(), 2, Kind::Expiry, aixin::time::today(TZ)));
        let report = ledger::verify(&mut c).unwrap();
        assert!(report.ok(), "{report:?}");
        let before = reports::monthly(&mut c, TZ, &city, last.next()).unwrap().unwrap();

        // A total changed behind the ledger's back is found...
        diesel::sql_query("UPDATE point_month_totals SET points = points + 5 WHERE kind = 'expiry'").execute(&mut c).unwrap();
        let report = ledger::verify(&mut c).unwrap();
        assert!(!report.ok());
        // By month and kind, and by village against its households' balances.
        assert_eq!(report.totals_mismatches.len(), 2, "{report:?}");
        assert_eq!(report.totals_mismatches[0].1, "expiry");
        assert_eq!(report.totals_mismatches[1].1, format!("point_month_totals village {village}"));
        let s = reports::monthly(&mut c, TZ, &city, last.next()).unwrap().unwrap();
        assert!(!s.ok(), "the summary warns too");

        // ...and made again from the entries, the same as before.
        aixin::db::write_tx(&mut c, |c| {
            aixin::ledger::totals::rebuild(c, TZ)
        })
        .unwrap();
        assert!(ledger::verify(&mut c).unwrap().ok());
        let after = reports::monthly(&mut c, TZ, &city, last.next()).unwrap().unwrap();
        assert_eq!(after.points, before.points);
        assert_eq!(after.households, before.households);
        assert!(after.ok(), "{:?}", after.mismatches);
    }
}
