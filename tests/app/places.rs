//! Same names, different places: two villages of one name in two towns are
//! told apart (东庄村（甲镇）) in every list and picker of someone who looks
//! from above town level, and read plainly from inside the village.

use aixin::domain::Role;
use aixin::idempotency::IdemKey;
use aixin::window::HouseholdSession;

use crate::helpers::*;

fn today() -> chrono::NaiveDate {
    aixin::time::today(chrono_tz::Asia::Shanghai)
}

/// Whether a page names both 东庄村 with their towns.
fn told_apart(page: &Page) -> bool {
    page.body.contains("东庄村（甲镇）") && page.body.contains("东庄村（乙镇）")
}

app_test! {
    async fn villages_of_one_name_are_told_apart_in_lists(app) {
        let city = app.area(None, "同名市");
        let district = app.area(Some(&city), "同名区");
        let town_a = app.area(Some(&district), "甲镇");
        let town_b = app.area(Some(&district), "乙镇");
        let east_a = app.area(Some(&town_a), "东庄村");
        let east_b = app.area(Some(&town_b), "东庄村");
        app.store("甲店", &east_a);
        app.store("乙店", &east_b);
        let district_store = app.store("区店", &district);
        app.user("off-a", Role::Official, Some(&east_a), None);
        app.user("off-b", Role::Official, Some(&east_b), None);
        app.user("off-d", Role::Official, Some(&district), None);
        app.user("rev-d", Role::Reviewer, Some(&district), None);
        app.user("clerk-d", Role::Clerk, None, Some(&district_store));
        app.rule("TM1", "清扫村道", 10, None);
        // A namesake in each village, each reporting a deed from its phone.
        for village in [&east_a, &east_b] {
            let h = app.household("同名张", village);
            let session = HouseholdSession {
                household_id: h.clone(),
                card_no: crate::counter::card_of(&app, &h),
                ip: "127.0.0.1".into(),
                request_id: "places".into(),
            };
            let input = aixin::window::deeds::parse("TM1", &today().to_string(), "", today()).unwrap();
            aixin::window::deeds::report(&mut app.conn(), &session, &input, &[], &IdemKey::issue()).unwrap();
        }

        let admin = app.admin().await;
        for path in ["/stores", "/users", &format!("/reports/monthly?area_id={district}")] {
            let page = admin.get(path).await;
            assert_eq!(page.status, 200, "{path}");
            assert!(told_apart(&page), "{path}:\n{}", page.body);
        }
        // The users list is searched by the town too.
        let found = admin.get("/users?q=%E7%94%B2%E9%95%87").await;
        assert!(found.body.contains("off-a") && !found.body.contains("off-b"), "{}", found.body);

        let official = app.client();
        official.login("off-d", PASSWORD).await;
        for path in ["/deeds", "/households", "/awards/batch"] {
            let page = official.get(path).await;
            assert!(told_apart(&page), "{path}:\n{}", page.body);
        }
        let reviewer = app.client();
        reviewer.login("rev-d", PASSWORD).await;
        assert!(told_apart(&reviewer.get("/review").await));

        // At the counter, namesakes found by name show village and town.
        let clerk = app.client();
        clerk.login("clerk-d", PASSWORD).await;
        let page = clerk.get("/counter?card=%E5%90%8C%E5%90%8D%E5%BC%A0").await;
        assert_eq!(page.status, 200);
        assert!(told_apart(&page), "{}", page.body);

        // Inside one village, its name is read plainly.
        let inside = app.client();
        inside.login("off-a", PASSWORD).await;
        let page = inside.get("/deeds").await;
        page.assert_contains("东庄村");
        assert!(!page.body.contains("（甲镇）") && !page.body.contains("乙镇"), "{}", page.body);
    }
}
