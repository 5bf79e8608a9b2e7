//! The monthly summary's running totals of goods and redemptions: kept with
//! every posting, equal to what they sum after a day of postings, voids and
//! reversals, named by `ledger verify` when one is altered by hand, and made
//! again by the rebuild.

use aixin::auth::Actor;
use aixin::idempotency::IdemKey;
use aixin::ledger;
use aixin::reports::{self, Month};
use diesel::prelude::*;

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

fn today() -> chrono::NaiveDate {
    aixin::time::today(TZ)
}

app_test! {
    async fn the_goods_and_redemption_totals_agree_with_the_ledgers_and_verify_names_each(app) {
        let [city, _, town, village] = app.area_chain("总账");
        let village2 = app.area(Some(&town), "总账二村");
        let store = app.store("总账超市", &village);
        let store2 = app.store("总账二店", &village2);
        let goods = crate::stock::seed(&app, &store);
        let households: Vec<String> = (0..4)
            .map(|i| app.household(&format!("总账户{i}"), if i < 3 { &village } else { &village2 }))
            .collect();
        // A day at the counter: four redemptions, one of them voided.
        let made: Vec<String> = households
            .iter()
            .enumerate()
            .map(|(i, h)| crate::counter::redeem_for_test(&app, &store, h, &goods.items[i % 2]))
            .collect();
        let console = Actor::console();
        aixin::redemptions::void(&mut app.conn(), &console, &made[0], "退货", TZ).expect("void");
        // Goods moved to the other store, written off, and the write-off reversed.
        aixin::stock::move_to_store(&mut app.conn(), &console, &IdemKey::issue(), &crate::helpers::sid(&store), &crate::helpers::sid(&store2), &crate::helpers::iid(&goods.items[2]), "4", today())
            .expect("move");
        let off = aixin::stock::write_off(&mut app.conn(), &console, &IdemKey::issue(), &crate::helpers::sid(&store), &crate::helpers::iid(&goods.items[1]), "2", "破损", today())
            .expect("write off");
        aixin::stock::reverse(&mut app.conn(), &console, &IdemKey::issue(), &off.id, "登记错了", today()).expect("reverse");
        // A household moves village: its redemptions' totals go with it.
        let admin = app.admin().await;
        let moved = admin
            .submit(&format!("/households/{}", households[1]), &[
                ("head_name", "总账户1"), ("area_id", &village2), ("members", "3"), ("status", "registered"),
                ("version", &app.version_of("households", &households[1])),
            ])
            .await;
        assert_eq!(moved.status, 200, "{}", moved.body);

        let mut c = app.conn();
        let report = ledger::verify(&mut c).unwrap();
        assert!(report.ok(), "{report:?}");
        // The city's redemptions (from the totals) are the store's (read
        // from the redemptions themselves): three standing, by three households.
        let this = Month::of(today());
        let s = reports::monthly(&mut c, TZ, &city, this).unwrap().unwrap();
        assert!(s.ok(), "{:?}", s.mismatches);
        let store_row = aixin::stores::find(&mut c, &crate::helpers::sid(&store)).unwrap().unwrap();
        let one = reports::monthly_store(&mut c, TZ, &store_row, this).unwrap();
        assert_eq!((s.redemptions.count, s.redemptions.households), (3, 3));
        assert_eq!(s.redemptions, one.redemptions);
        let at_store: Vec<_> = s.goods.iter().filter(|g| g.store_id == store).cloned().collect();
        assert_eq!(at_store, one.goods);
        let written_off: i64 = s.goods.iter().map(|g| g.written_off).sum();
        let moved_out: i64 = s.goods.iter().map(|g| g.moved_out).sum();
        let moved_in: i64 = s.goods.iter().filter(|g| g.store_id == store2).map(|g| g.moved_in).sum();
        assert_eq!((written_off, moved_out, moved_in), (2, 4, 4));
        // Each village's redemptions follow its households now.
        let v2 = reports::monthly(&mut c, TZ, &village2, this).unwrap().unwrap();
        assert_eq!((v2.redemptions.count, v2.redemptions.households), (2, 2));
        assert!(v2.ok(), "{:?}", v2.mismatches);

        // A total altered by hand is named, table and all...
        for (alter, table) in [
            ("UPDATE stock_month_totals SET quantity = quantity + 1 WHERE kind = 'write_off'", "stock_month_totals"),
            ("UPDATE redemption_month_totals SET points = points + 3 WHERE item_id = ''", "redemption_month_totals"),
        ] {
            diesel::sql_query(alter).execute(&mut c).unwrap();
            let report = ledger::verify(&mut c).unwrap();
            assert!(!report.ok());
            assert!(!report.totals_mismatches.is_empty());
            assert!(report.totals_mismatches.iter().all(|m| m.1.starts_with(table)), "{report:?}");
            // ...and made again from the ledgers, the summary as before.
            aixin::db::write_tx(&mut c, |c| aixin::ledger::totals::rebuild(c, TZ)).unwrap();
            assert!(ledger::verify(&mut c).unwrap().ok());
            let again = reports::monthly(&mut c, TZ, &city, this).unwrap().unwrap();
            assert_eq!((&again.redemptions, &again.goods), (&s.redemptions, &s.goods));
        }
    }
}

/// The households that redeemed in `month` in the area `area_id`, counted
/// from the redemptions themselves (the summary's figure before the
/// villages kept a counter): made in the month, still standing at its end.
fn redeemed_raw(c: &mut aixin::db::DbConn, area_id: &str, month: Month) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let path = aixin::areas::find(c, area_id).unwrap().unwrap().path;
    let (from, to) = (
        aixin::time::local_day_start_utc(month.first_day(), TZ),
        aixin::time::local_day_start_utc(month.end_day(), TZ),
    );
    let n: Vec<N> = aixin::db::load(
        c,
        "SELECT COUNT(DISTINCT r.household_id) AS n
           FROM redemptions r JOIN households h ON h.id = r.household_id
           JOIN areas a ON a.id = h.area_id
          WHERE a.path LIKE $1 AND r.created_at >= $2 AND r.created_at < $3
            AND (r.voided_at IS NULL OR r.voided_at >= $3)",
        &[
            aixin::db::Bind::Text(aixin::db::path_prefix(&path)),
            aixin::db::Bind::Ts(from),
            aixin::db::Bind::Ts(to),
        ],
    )
    .unwrap();
    n[0].n
}

app_test! {
    async fn the_households_that_redeemed_are_counted_per_village_as_the_redemptions_say(app) {
        let [city, _, town, village] = app.area_chain("兑户");
        let village2 = app.area(Some(&town), "兑户二村");
        let store = app.store("兑户超市", &village);
        let goods = crate::stock::seed(&app, &store);
        let [a, b, c3, d]: [String; 4] = std::array::from_fn(|i| {
            app.household(&format!("兑户{i}"), if i == 2 { &village2 } else { &village })
        });
        let this = Month::of(today());
        let last = this.prev();
        // Last month: D redeemed, and the redemption is voided this month
        // (a late void: last month keeps D).
        let late = crate::counter::redeem_on_day(&app, &store, &d, &goods.items[1], last.first_day() + chrono::Duration::days(9));
        {
            let mut c = app.conn();
            let at = aixin::time::local_day_start_utc(last.first_day() + chrono::Duration::days(9), TZ)
                + chrono::Duration::hours(12);
            diesel::update(aixin::db::schema::redemptions::table.find(&late))
                .set(aixin::db::schema::redemptions::created_at.eq(at))
                .execute(&mut c)
                .unwrap();
            // The redemption totals are kept by the time of the row, so made again.
            aixin::db::write_tx(&mut c, |c| ledger::totals::rebuild(c, TZ)).unwrap();
        }
        // This month: A twice, B once and voided the same day, C once.
        crate::counter::redeem_for_test(&app, &store, &a, &goods.items[0]);
        crate::counter::redeem_for_test(&app, &store, &a, &goods.items[1]);
        let voided = crate::counter::redeem_for_test(&app, &store, &b, &goods.items[1]);
        crate::counter::redeem_for_test(&app, &store, &c3, &goods.items[1]);
        let console = Actor::console();
        aixin::redemptions::void(&mut app.conn(), &console, &voided, "退货", TZ).expect("void");
        aixin::redemptions::void(&mut app.conn(), &console, &late, "退货", TZ).expect("late void");

        let mut c = app.conn();
        let households = |c: &mut aixin::db::DbConn, area: &str, m: Month| {
            reports::monthly(c, TZ, area, m).unwrap().unwrap().redemptions.households
        };
        let expect = [
            (&city, this, 2), (&village, this, 1), (&village2, this, 1),
            (&city, last, 1), (&village, last, 1), (&village2, last, 0),
        ];
        for (area, m, n) in expect {
            assert_eq!((households(&mut c, area, m), redeemed_raw(&mut c, area, m)), (n, n), "{area} {m}");
        }
        assert!(ledger::verify(&mut c).unwrap().ok());

        // A moves to the second village, and D too: their months go with them.
        let admin = app.admin().await;
        for (h, name) in [(&a, "兑户0"), (&d, "兑户3")] {
            let moved = admin
                .submit(&format!("/households/{h}"), &[
                    ("head_name", name), ("area_id", &village2), ("members", "3"), ("status", "registered"),
                    ("version", &app.version_of("households", h)),
                ])
                .await;
            assert_eq!(moved.status, 200, "{}", moved.body);
        }
        let expect = [
            (&city, this, 2), (&village, this, 0), (&village2, this, 2),
            (&city, last, 1), (&village, last, 0), (&village2, last, 1),
        ];
        for (area, m, n) in expect {
            assert_eq!((households(&mut c, area, m), redeemed_raw(&mut c, area, m)), (n, n), "{area} {m}");
            assert!(reports::monthly(&mut c, TZ, area, m).unwrap().unwrap().ok());
        }
        let report = ledger::verify(&mut c).unwrap();
        assert!(report.ok(), "{report:?}");

        // A count kept wrong is named, table, month and village, and made
        // again by the rebuild.
        let this_key = this.to_string();
        for (alter, named) in [
            ("UPDATE redeemer_months SET standing = standing + 1", format!("redeemer_months village {village2} household ")),
            ("UPDATE redeemer_months SET standing = 0", format!("redeemer_months village {village2} household ")),
            ("UPDATE point_month_totals SET entries = entries + 1 WHERE kind = 'redeemer'", format!("point_month_totals redeemer village {village2}")),
            ("DELETE FROM point_month_totals WHERE kind = 'redeemer'", format!("point_month_totals redeemer village {village2}")),
        ] {
            diesel::sql_query(alter).execute(&mut c).unwrap();
            let report = ledger::verify(&mut c).unwrap();
            assert!(!report.ok(), "{alter}");
            assert!(
                report.totals_mismatches.iter().any(|m| m.0 == this_key && m.1.starts_with(&named)),
                "{alter}: {report:?}"
            );
            assert!(report.totals_mismatches.iter().all(|m| m.1.starts_with("redeemer_months") || m.1.starts_with("point_month_totals redeemer")), "{report:?}");
            aixin::db::write_tx(&mut c, |c| ledger::totals::rebuild(c, TZ)).unwrap();
            assert!(ledger::verify(&mut c).unwrap().ok(), "{alter}");
            assert_eq!(households(&mut c, &city, this), 2);
            assert_eq!(households(&mut c, &village2, last), 1);
        }
    }
}

app_test! {
    async fn two_clerks_redeeming_for_one_household_at_once_count_it_once(app) {
        let [city, _, _, village] = app.area_chain("同兑");
        let store = app.store("同兑超市", &village);
        let goods = crate::stock::seed(&app, &store);
        let household = app.household("同兑户", &village);
        crate::counter::fund(&app, &household, 1000);
        let card = crate::counter::card_of(&app, &household);
        let barrier = std::sync::Barrier::new(2);
        let made: Vec<bool> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..2)
                .map(|i| {
                    let (app, barrier, card, store, goods) = (&app, &barrier, &card, &store, &goods);
                    s.spawn(move || {
                        let mut c = app.conn();
                        let store = crate::helpers::sid(store);
                        barrier.wait();
                        aixin::redemptions::redeem(
                            &mut c,
                            &Actor::console(),
                            &aixin::redemptions::RedeemRequest {
                                store_id: &store,
                                card,
                                lines: &[aixin::redemptions::WantLine { item_id: crate::helpers::iid(&goods.items[i]), quantity: 1 }],
                                key: &uuid::Uuid::new_v4().to_string(),
                                household_id: None,
                                expected_total: None,
                            },
                            today(),
                        )
                        .is_ok()
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert_eq!(made, [true, true]);
        let mut c = app.conn();
        let this = Month::of(today());
        let s = reports::monthly(&mut c, TZ, &city, this).unwrap().unwrap();
        assert_eq!((s.redemptions.count, s.redemptions.households), (2, 1));
        assert_eq!(redeemed_raw(&mut c, &city, this), 1);
        let report = ledger::verify(&mut c).unwrap();
        assert!(report.ok(), "{report:?}");
    }
}

app_test! {
    async fn the_opening_balance_starts_from_the_latest_closing_and_is_the_same(app) {
        use aixin::ledger::{Kind, Posting};
        let [city, _, town, village] = app.area_chain("期初");
        let village2 = app.area(Some(&town), "期初二村");
        let a = app.household("期初甲", &village);
        let b = app.household("期初乙", &village2);
        let closer = app.user("qichu-admin", aixin::domain::Role::Admin, None, None);
        let this = Month::of(today());
        let (last, before) = (this.prev(), this.prev().prev());
        let mut c = app.conn();
        let post = |c: &mut aixin::db::DbConn, debit: String, credit: String, amount: i64, kind: Kind, day: chrono::NaiveDate| {
            aixin::db::write_tx(c, |c| {
                ledger::post(c, &Posting {
                    debit: debit.clone(), credit: credit.clone(), amount, kind,
                    ref_kind: "test".into(), ref_id: String::new(), memo: "test".into(), user_id: None,
                    posted_on: day, idempotency_key: None, reverses: None,
                })
            })
            .unwrap();
        };
        let acct = ledger::household_account;
        post(&mut c, ledger::ISSUANCE.into(), acct(&a), 10, Kind::Adjustment, before.first_day());
        post(&mut c, ledger::ISSUANCE.into(), acct(&b), 7, Kind::Adjustment, last.first_day());
        post(&mut c, acct(&a), ledger::EXPIRY.into(), 2, Kind::Expiry, last.first_day());
        post(&mut c, ledger::ISSUANCE.into(), acct(&a), 5, Kind::Adjustment, today());
        // The openings of the city and each village in the given months.
        let openings = |c: &mut aixin::db::DbConn, months: &[Month]| -> Vec<i64> {
            [&city, &village, &village2]
                .into_iter()
                .flat_map(|area| months.iter().map(move |m| (area.clone(), *m)))
                .map(|(area, m)| {
                    let s = reports::monthly(c, TZ, &area, m).unwrap().unwrap();
                    assert!(s.ok(), "{area} {m}: {:?}", s.mismatches);
                    s.points.opening
                })
                .collect()
        };
        //                                                   city        village     village2
        assert_eq!(openings(&mut c, &[before, last, this]), [0, 10, 15, 0, 10, 8, 0, 0, 7]);

        // The two months before this one are closed: this month's opening
        // starts from their closings, the same figures.
        let console = Actor::console();
        for m in [before, last] {
            reports::close::close(&mut c, &console, &closer, m, today()).unwrap();
        }
        let kept: i64 = aixin::db::schema::village_closings::table.count().get_result(&mut c).unwrap();
        assert_eq!(kept, 3, "the first village in both months, the second in the last");
        assert_eq!(openings(&mut c, &[this]), [15, 8, 7]);
        assert!(ledger::verify(&mut c).unwrap().ok());
        // Points dated into an open month before the closed ones count in
        // the closings after it.
        post(&mut c, ledger::ISSUANCE.into(), acct(&b), 3, Kind::Adjustment, before.prev().first_day());
        assert_eq!(openings(&mut c, &[this]), [18, 8, 10]);
        assert!(ledger::verify(&mut c).unwrap().ok());

        // A moves to the second village today: this month's openings stay.
        drop(c);
        let admin = app.admin().await;
        let moved = admin
            .submit(&format!("/households/{a}"), &[
                ("head_name", "期初甲"), ("area_id", &village2), ("members", "3"), ("status", "registered"),
                ("version", &app.version_of("households", &a)),
            ])
            .await;
        assert_eq!(moved.status, 200, "{}", moved.body);
        let mut c = app.conn();
        assert_eq!(openings(&mut c, &[this]), [18, 8, 10]);
        let s = reports::monthly(&mut c, TZ, &village, this).unwrap().unwrap();
        assert_eq!((s.points.moved, s.points.closing), (-13, 0));
        assert!(ledger::verify(&mut c).unwrap().ok());

        // A closing kept wrong is named (month, table, village), the summary
        // warns, and the rebuild makes it again.
        diesel::sql_query(format!("UPDATE village_closings SET points = points + 4 WHERE area_id = '{village2}' AND month = '{last}'"))
            .execute(&mut c)
            .unwrap();
        let report = ledger::verify(&mut c).unwrap();
        assert_eq!(report.totals_mismatches, [(last.to_string(), format!("village_closings village {village2}"), 14, 10)]);
        assert!(!reports::monthly(&mut c, TZ, &city, this).unwrap().unwrap().ok(), "the summary warns");
        aixin::db::write_tx(&mut c, |c| ledger::totals::rebuild(c, TZ)).unwrap();
        assert!(ledger::verify(&mut c).unwrap().ok());
        assert_eq!(openings(&mut c, &[this])[0], 18);

        // Reopened, a month's closings are forgotten: the opening is summed
        // from the closing before it, the same.
        reports::close::reopen(&mut c, &console, last, "补录").unwrap();
        use aixin::db::schema::village_closings as vc;
        let kept: i64 = vc::table.filter(vc::month.eq(last.to_string())).count().get_result(&mut c).unwrap();
        assert_eq!(kept, 0);
        assert_eq!(openings(&mut c, &[this])[0], 18);
        assert!(ledger::verify(&mut c).unwrap().ok());
    }
}
