//! The demo city in bulk: months of history that the ledgers' own checks and
//! the monthly summary accept, as if the app had made them one by one.

use aixin::db::schema::{awards, households, point_entries, redemptions, stock_movements};
use aixin::demo::{DemoSize, city};
use diesel::prelude::*;

app_test! {
    async fn bulk_demo_city_passes_the_ledger_checks(app) {
        let tz = app.config.time_zone;
        let mut c = app.conn();
        let (logins, made) = city::fill(
            &mut c,
            &app.key,
            app.config.password_cost,
            DemoSize { households: 200, months: 3, seed: 5 },
            tz,
            &mut |_, _, _| {},
        )
        .unwrap();
        assert_eq!(logins.admin, "demo-admin");

        let points = aixin::ledger::verify(&mut c).unwrap();
        assert!(points.ok(), "{points:?}");
        let goods = aixin::stock::verify_stock_ledger(&mut c).unwrap();
        assert!(goods.ok(), "{goods:?}");

        let hh: i64 = households::table.count().get_result(&mut c).unwrap();
        assert_eq!(hh, 200);
        let entries: i64 = point_entries::table.count().get_result(&mut c).unwrap();
        assert_eq!(entries, made.point_entries);
        let moves: i64 = stock_movements::table.count().get_result(&mut c).unwrap();
        assert_eq!(moves, made.stock_movements);
        let approved: i64 = awards::table
            .filter(awards::status.eq("approved"))
            .count()
            .get_result(&mut c)
            .unwrap();
        // Most households earn something most months.
        assert!(approved > 200 && approved < 200 * 3 * 4, "{approved}");
        let own_review: i64 = awards::table
            .filter(awards::reviewed_by.nullable().eq(awards::proposed_by.nullable()))
            .count()
            .get_result(&mut c)
            .unwrap();
        assert_eq!(own_review, 0, "nobody reviews their own award");
        let redeemed: i64 = redemptions::table.count().get_result(&mut c).unwrap();
        assert!(redeemed > 30 && redeemed < 600, "{redeemed}");
        let voided: i64 = redemptions::table
            .filter(redemptions::status.eq("void"))
            .count()
            .get_result(&mut c)
            .unwrap();
        assert!(voided < redeemed / 10 + 1);

        // Every month's summary for the city adds up.
        let city_id: String = aixin::db::schema::areas::table
            .filter(aixin::db::schema::areas::level.eq("city"))
            .select(aixin::db::schema::areas::id)
            .first(&mut c)
            .unwrap();
        let mut month = aixin::reports::Month::of(aixin::time::today(tz));
        for _ in 0..3 {
            let s = aixin::reports::monthly(&mut c, tz, &city_id, month).unwrap().unwrap();
            assert!(s.ok(), "{month}: {:?}", s.mismatches);
            month = month.prev();
        }

        // The demo logins work with the demo password.
        let clerk = app.client();
        clerk.login(&logins.clerk, aixin::demo::DEMO_PASSWORD).await;
        assert_eq!(clerk.get("/counter").await.status, 200);
    }
}
