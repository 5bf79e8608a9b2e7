//! Search finds what was typed (#16.10): `%`, `_` and `\` are plain
//! characters, and case is ignored, the same on SQLite and PostgreSQL, in
//! every search (households, goods at the counter, the audit log).

use aixin::audit::{self, AuditFilter};
use aixin::domain::Role;
use aixin::goods::{self, ItemForm};
use aixin::redemptions as rd;

use crate::helpers::{PASSWORD, TestApp};

fn item(app: &TestApp, name: &str, barcode: &str) -> String {
    goods::create(
        &mut app.conn(),
        &aixin::auth::Actor::console(),
        &ItemForm {
            name,
            category: "日用",
            unit: "个",
            points_price: "5",
            barcode,
        },
    )
    .unwrap()
    .id
    .into_string()
}

app_test! {
    async fn household_search_takes_wildcards_as_typed_and_ignores_case(app) {
        let [_, _, _, village] = app.area_chain("搜索");
        app.household("张三", &village);
        app.household("李四", &village);
        app.household("Wang Wu", &village);
        app.household("王_百分之5%", &village);
        let admin = app.admin().await;
        // `%` and `_` find only the name that has them, not every household.
        for typed in ["%25", "_", "5%25", "%5C"] {
            let page = admin.get(&format!("/households?q={typed}")).await;
            assert_eq!(page.status, 200, "{typed}");
            assert!(!page.body.contains("张三") && !page.body.contains("李四") && !page.body.contains("Wang Wu"),
                "q={typed} lists only what contains it");
            if typed != "%5C" {
                page.assert_contains("王_百分之5%");
            } else {
                assert!(!page.body.contains("王_百分之5%"));
            }
        }
        // Latin letters match whatever their case.
        for typed in ["wang", "WANG", "wAnG%20wu"] {
            let page = admin.get(&format!("/households?q={typed}")).await;
            page.assert_contains("Wang Wu");
            assert!(!page.body.contains("张三"));
        }
        let page = admin.get("/households?q=张").await;
        page.assert_contains("张三");
        assert!(!page.body.contains("李四"));
    }
}

app_test! {
    async fn goods_search_at_the_counter_ignores_case_and_wildcards(app) {
        let led = item(&app, "LED灯泡", "");
        item(&app, "肥皂", "");
        item(&app, "洗衣粉_大袋", "");
        let mut c = app.conn();
        let names = |c: &mut aixin::db::DbConn, typed: &str| -> Vec<String> {
            rd::find_items(c, typed).unwrap().into_iter().map(|i| i.name).collect()
        };
        for typed in ["led", "LED", "Led灯", "灯泡"] {
            assert_eq!(names(&mut c, typed), vec!["LED灯泡".to_string()], "{typed}");
        }
        assert!(names(&mut c, "%").is_empty(), "% is a percent sign, not everything");
        assert_eq!(names(&mut c, "_"), vec!["洗衣粉_大袋".to_string()]);
        assert!(names(&mut c, "\\").is_empty());
        drop(c);
        // At the counter: typing `led` puts the LED bulb in the basket.
        let [_, _, town, village] = app.area_chain("灯");
        let store = app.store("灯村超市", &town);
        app.user("clerk", Role::Clerk, None, Some(&store));
        {
            let mut c = app.conn();
            let donor = crate::stock::donor(&mut c, "灯厂");
            crate::stock::donate(&mut c, &store, &donor, &[(led.as_str(), 3)]);
        }
        let (_, card) = app.household_with_id("灯户", &village, &crate::helpers::test_id_number());
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        clerk.get(&format!("/counter?card={card}")).await;
        let page = clerk.post("/counter", &[("card", card.as_str()), ("entry", "led")]).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(page.body.matches(&format!("name=\"line\" value=\"{led}*1\"")).count(), 1);
        let page = clerk.post("/counter", &[("card", card.as_str()), ("entry", "%")]).await;
        page.assert_contains("没有与“%”相符的物资");
    }
}

app_test! {
    async fn audit_action_filter_takes_wildcards_as_typed_and_ignores_case(app) {
        item(&app, "毛巾", "");
        let mut c = app.conn();
        let actions = |c: &mut aixin::db::DbConn, typed: &str| -> Vec<String> {
            let f = AuditFilter { action_prefix: Some(typed.to_string()), ..AuditFilter::default() };
            audit::list(c, &f, 0).unwrap().0.into_iter().map(|e| e.action).collect()
        };
        assert!(!actions(&mut c, "").is_empty());
        assert_eq!(actions(&mut c, "ITEM.CREATE"), vec!["item.create".to_string()]);
        assert_eq!(actions(&mut c, "item.c"), vec!["item.create".to_string()]);
        assert!(actions(&mut c, "%").is_empty(), "% matches only a percent sign");
        assert!(actions(&mut c, "item_create").is_empty(), "_ matches only an underscore");
        drop(c);
        let admin = app.admin().await;
        let page = admin.get("/audit?action=%25").await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("新增了物资"), "an item added is not listed");
        let page = admin.get("/audit?action=ITEM.").await;
        page.assert_contains("新增了物资");
    }
}

app_test! {
    async fn finding_a_household_without_its_card_is_for_the_stores_own_counter(app) {
        use aixin::auth::{Actor, Scope};
        use aixin::households::HouseholdError;
        use aixin::households::find::{Query, find_at_counter};
        let [_, _, town, village] = app.area_chain("柜找");
        let household = app.household("柜找甲", &village);
        let here = app.store("柜找超市", &town);
        let there = app.store("柜找别店", &town);
        let clerk = app.user("clerk-guizhao", Role::Clerk, None, Some(&there));
        let clerk = Actor::user(clerk, Role::Clerk, Scope::Store { id: crate::helpers::sid(&there) });
        let query = Query::Name("柜找".into());
        // At the clerk's own store: found, and audited under the clerk.
        let (_, rows) = find_at_counter(&mut app.conn(), &clerk, &app.key, &crate::helpers::sid(&there), &query).unwrap();
        assert_eq!(rows.iter().map(|r| r.household.id.clone()).collect::<Vec<_>>(), vec![household]);
        // Another store's counter, a role that does not redeem, an unknown store: refused.
        let refused = find_at_counter(&mut app.conn(), &clerk, &app.key, &crate::helpers::sid(&here), &query);
        assert!(matches!(refused, Err(HouseholdError::Forbidden)), "{refused:?}");
        let official = Actor::user("u-official", Role::Official, Scope::Nothing);
        let refused = find_at_counter(&mut app.conn(), &official, &app.key, &crate::helpers::sid(&there), &query);
        assert!(matches!(refused, Err(HouseholdError::Forbidden)), "{refused:?}");
        let unknown = find_at_counter(&mut app.conn(), &Actor::console(), &app.key, &aixin::domain::StoreId::new(), &query);
        assert!(matches!(unknown, Err(HouseholdError::NotFound)), "{unknown:?}");
    }
}
