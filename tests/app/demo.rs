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

/// What a filled demo city is, row for row, as one hash: the two ledger
/// chains' heads (which cover every points entry and stock movement), and
/// the staff, households, cards, awards, redemptions, balances and stock in
/// order, and the anomalies planted. Personal data's ciphertexts and look-ups (which depend on the
/// data key) and password hashes (salted) are left out.
#[allow(clippy::type_complexity)]
fn city_fingerprint(c: &mut aixin::db::DbConn, planted: &[aixin::demo::plant::Planted]) -> String {
    use aixin::db::schema::{
        ledger_heads, point_balances, points_cards, stock, stock_chain_head, users,
    };
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut add = |rows: Vec<String>| {
        for r in rows {
            h.update(r.as_bytes());
            h.update(b"\n");
        }
    };
    let heads: Vec<(String, i64, String)> = ledger_heads::table
        .order(ledger_heads::name)
        .select((ledger_heads::name, ledger_heads::seq, ledger_heads::hash))
        .load(c)
        .unwrap();
    add(heads.iter().map(|r| format!("{r:?}")).collect());
    let chain: Vec<(i64, String)> = stock_chain_head::table
        .select((stock_chain_head::seq, stock_chain_head::hash))
        .load(c)
        .unwrap();
    add(chain.iter().map(|r| format!("{r:?}")).collect());
    let staff: Vec<(String, String, String, Option<String>, Option<String>)> = users::table
        .order(users::username)
        .select((
            users::id,
            users::username,
            users::role,
            users::area_id,
            users::store_id,
        ))
        .load(c)
        .unwrap();
    add(staff.iter().map(|r| format!("{r:?}")).collect());
    let hh: Vec<(
        String,
        String,
        String,
        String,
        i64,
        String,
        bool,
        chrono::NaiveDateTime,
    )> = households::table
        .order(households::id)
        .select((
            households::id,
            households::head_name,
            households::area_id,
            households::address,
            households::members,
            households::status,
            households::archived,
            households::created_at,
        ))
        .load(c)
        .unwrap();
    add(hh.iter().map(|r| format!("{r:?}")).collect());
    let cards: Vec<(String, String)> = points_cards::table
        .order(points_cards::card_no)
        .select((points_cards::card_no, points_cards::household_id))
        .load(c)
        .unwrap();
    add(cards.iter().map(|r| format!("{r:?}")).collect());
    let aw: Vec<(
        String,
        String,
        String,
        i64,
        String,
        chrono::NaiveDate,
        chrono::NaiveDateTime,
        Option<chrono::NaiveDateTime>,
        String,
    )> = awards::table
        .order(awards::id)
        .select((
            awards::id,
            awards::household_id,
            awards::rule_code,
            awards::points,
            awards::status,
            awards::occurred_on,
            awards::proposed_at,
            awards::reviewed_at,
            awards::note,
        ))
        .load(c)
        .unwrap();
    add(aw.iter().map(|r| format!("{r:?}")).collect());
    let red: Vec<(
        String,
        String,
        String,
        String,
        i64,
        String,
        chrono::NaiveDateTime,
    )> = redemptions::table
        .order(redemptions::id)
        .select((
            redemptions::id,
            redemptions::number,
            redemptions::store_id,
            redemptions::household_id,
            redemptions::total_points,
            redemptions::status,
            redemptions::created_at,
        ))
        .load(c)
        .unwrap();
    add(red.iter().map(|r| format!("{r:?}")).collect());
    let balances: Vec<(String, i64)> = point_balances::table
        .order(point_balances::account)
        .select((point_balances::account, point_balances::balance))
        .load(c)
        .unwrap();
    add(balances.iter().map(|r| format!("{r:?}")).collect());
    let shelves: Vec<(String, String, i64)> = stock::table
        .order((stock::store_id, stock::item_id))
        .select((stock::store_id, stock::item_id, stock::quantity))
        .load(c)
        .unwrap();
    add(shelves.iter().map(|r| format!("{r:?}")).collect());
    add(planted.iter().map(|p| format!("{p:?}")).collect());
    hex::encode(h.finalize())
}

app_test! {
    /// The same seed and the same moment make the same city, row for row,
    /// planted anomalies included: the fingerprint was taken of the
    /// generator as one function, and holds it to that city as it is
    /// divided into its steps.
    async fn a_seeded_demo_city_is_the_same_row_for_row(app) {
        let tz = chrono_tz::Asia::Shanghai;
        let now = chrono::NaiveDate::from_ymd_opt(2026, 3, 20).unwrap().and_hms_opt(4, 0, 0).unwrap();
        let mut c = app.conn();
        let (_, made, planted) = city::fill_with(
            &mut c,
            &app.key,
            app.config.password_cost,
            DemoSize { households: 800, months: 3, seed: 3 },
            tz,
            city::FillOptions { plant: true, now },
            &mut |_, _, _| {},
        )
        .unwrap();
        assert!(!planted.is_empty(), "the anomalies are planted");
        let made = format!("{made:?}");
        let fingerprint = city_fingerprint(&mut c, &planted);
        assert_eq!(
            (made.as_str(), planted.len(), fingerprint.as_str()),
            (
                "Made { households: 800, awards: 2168, point_entries: 2442, stock_movements: 852, redemptions: 448, donations: 12, stocktakes: 1 }",
                13,
                "be2b5072f9576ed7d3c1195391d19b22f26ca1d508be5ac841c77bc86c7c6921",
            )
        );
    }
}
