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
