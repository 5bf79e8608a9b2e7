//! Two people, one record, the same moment: every guarded transition lets
//! exactly one of them through, on SQLite and on PostgreSQL, and the other
//! gets a page (never a 5xx), with nothing counted twice.

use aixin::audit::AuditCtx;
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
            let ctx = AuditCtx::console();
            let who = Who { user_id: requester, role: Role::Admin, scope: aixin::auth::Scope::All };
            let today = chrono::Utc::now().date_naive();
            let asked = adjustments::request(&mut c, &who.actor(&ctx), &household, 5000, "大额补录", "race-adj", today, chrono_tz::Asia::Shanghai).unwrap();
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
