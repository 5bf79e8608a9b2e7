//! The village office's day in a real browser (Chromium): an official fixes
//! a typo without retyping and awards a whole village, a reviewer approves
//! in bulk with a filter; and the screenshots the README shows.

use aixin::domain::Role;
use fantoccini::Locator;

use crate::browser::{Browser, start_browser_sized};
use crate::helpers::*;

fn today() -> String {
    aixin::time::today(chrono_tz::Asia::Shanghai).to_string()
}

/// The value of a form field as the browser holds it.
async fn value(b: &Browser, css: &str) -> String {
    b.element(css)
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

async fn choose(b: &Browser, css: &str, value: &str) {
    b.element(css).await.select_by_value(value).await.unwrap();
}

app_test! {
    async fn an_official_fixes_a_typo_without_retyping_and_awards_a_whole_village(app) {
        let Some(b) = start_browser_sized("an_official_fixes_a_typo_without_retyping_and_awards_a_whole_village", 1280, 900).await else { return };
        let [_, _, town, village] = app.area_chain("办公");
        app.rule("C01", "参加义务劳动", 5, None);
        app.user("official", Role::Official, Some(&town), None);
        for i in 0..8 {
            app.household(&format!("全村户{i}"), &village);
        }
        b.login(&app, "official").await;
        b.client.goto(&app.url("/households/new")).await.unwrap();
        b.fill("input[name=head_name]", "王大山").await;
        b.fill("input[name=id_number]", "37010219").await;
        b.fill("input[name=phone]", "13800138000").await;
        choose(&b, "select[name=area_id]", &village).await;
        b.fill("input[name=address]", "三组 8 号").await;
        b.fill("input[name=members]", "4").await;
        b.click("#save").await;
        // The typo is named beside its field; everything else is still there.
        let error = b.text(r#".field-error[data-field="field.id_number"]"#).await;
        assert!(error.contains("身份证号"), "{error}");
        assert_eq!(value(&b, "input[name=head_name]").await, "王大山");
        assert_eq!(value(&b, "input[name=address]").await, "三组 8 号");
        assert_eq!(value(&b, "input[name=members]").await, "4");
        assert_eq!(value(&b, "select[name=area_id]").await, village);
        // Only the ID number is typed again.
        b.fill("input[name=id_number]", &test_id_number()).await;
        b.click("#save").await;
        assert!(b.path().await.starts_with("/households/"), "{}", b.path().await);
        assert!(b.text("main").await.contains("王大山"));

        // The whole village at once: select all, one rule, one click.
        b.client.goto(&app.url(&format!("/awards/batch?area_id={village}"))).await.unwrap();
        b.tap("#select-all").await;
        assert_eq!(b.text("#selected-count").await, "9", "nine households ticked in place");
        b.tap("#select-none").await;
        assert_eq!(b.text("#selected-count").await, "0");
        b.tap("#select-all").await;
        choose(&b, "#rule", "C01").await;
        b.click("#propose-batch").await;
        let created = b.text("#batch-created").await;
        assert!(created.contains("9"), "nine households proposed: {created}");
        b.close().await;
    }
}

app_test! {
    async fn a_reviewer_approves_in_bulk_with_a_filter(app) {
        let Some(b) = start_browser_sized("a_reviewer_approves_in_bulk_with_a_filter", 1280, 900).await else { return };
        let [_, _, town, village] = app.area_chain("审核");
        let other = app.area(Some(&town), "审核二村");
        app.rule("R01", "调解邻里纠纷", 8, None);
        app.user("official", Role::Official, Some(&town), None);
        app.user("reviewer", Role::Reviewer, Some(&town), None);
        let official = app.client();
        official.login("official", PASSWORD).await;
        let day = today();
        for (i, v) in [&village, &village, &village, &other].into_iter().enumerate() {
            let h = app.household(&format!("待审户{i}"), v);
            let page = official.get(&format!("/awards/new?household_id={h}")).await;
            let at = page.body.find(r#"name="key" value=""#).unwrap() + r#"name="key" value=""#.len();
            let key = page.body[at..].split('"').next().unwrap().to_string();
            let done = official.post("/awards", &[("household_id", &h), ("rule_code", "R01"), ("occurred_on", &day), ("note", "化解地界纠纷"), ("key", &key)]).await;
            assert_eq!(done.status, 303, "{}", done.body);
        }
        b.login(&app, "reviewer").await;
        b.client.goto(&app.url("/review")).await.unwrap();
        choose(&b, "#queue-filter select[name=area_id]", &village).await;
        b.click("#filter-queue").await;
        assert!(!b.text("#queue").await.contains("待审户3"), "the other village is filtered out");
        use aixin::db::schema::awards;
        use diesel::prelude::*;
        let waiting = || -> i64 { awards::table.filter(awards::status.eq("pending")).count().get_result(&mut app.conn()).unwrap() };
        // Enter in the reason box decides nothing (the form's default
        // button is a disabled one): a decision is always a click.
        let reason = b.client.find(fantoccini::Locator::Css("#reject-reason")).await.unwrap();
        reason.send_keys("重复申报\u{E007}").await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        assert_eq!(waiting(), 4, "Enter in the reason box approved or rejected nothing");
        b.tap("#select-all").await;
        assert_eq!(b.text("#selected-count").await, "3");
        b.click("#approve-selected").await;
        assert!(b.text("main").await.contains("已处理 3 项"));
        assert_eq!(waiting(), 1, "only the filtered village was approved");
        b.close().await;
    }
}

/// Save the page as a PNG under `AIXIN_SCREENSHOTS` (a folder; unset: the
/// picture is only checked to be one).
async fn shoot(b: &Browser, name: &str) {
    let png = b.client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
    if let Ok(dir) = std::env::var("AIXIN_SCREENSHOTS") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(format!("{dir}/{name}.png"), png).unwrap();
    }
}

app_test! {
    async fn screenshots_of_the_counter_the_registration_form_and_the_monthly_summary(app) {
        let [_, _, town, village] = app.area_chain("示例");
        let store = app.store("示例爱心超市", &town);
        app.user("clerk", Role::Clerk, None, Some(&store));
        app.user("official", Role::Official, Some(&town), None);
        let (rice, oil) = {
            let mut c = app.conn();
            let ctx = aixin::auth::Actor::console();
            let rice = aixin::goods::create(&mut c, &ctx, &aixin::goods::ItemForm { name: "大米 5kg", category: "粮油", unit: "袋", points_price: "45", barcode: "6900000000011" }).unwrap().id;
            let oil = aixin::goods::create(&mut c, &ctx, &aixin::goods::ItemForm { name: "酱油", category: "调味", unit: "瓶", points_price: "8", barcode: "6900000000028" }).unwrap().id;
            let donor = crate::stock::donor(&mut c, "示例粮油公司");
            crate::stock::donate(&mut c, &store, &donor, &[(rice.as_str(), 20), (oil.as_str(), 30)]);
            (rice, oil)
        };
        let (household, card) = app.household_with_id("张秀英", &village, &test_id_number());
        crate::counter::fund(&app, &household, 120);
        for i in 0..6 {
            let h = app.household(&format!("示例户{i}"), &village);
            crate::counter::redeem_for_test(&app, &store, &h, if i % 2 == 0 { &rice } else { &oil });
        }
        let month = aixin::time::today(chrono_tz::Asia::Shanghai).format("%Y-%m").to_string();
        for (width, height) in [(1280, 800), (390, 844)] {
            let test = format!("screenshots_{width}");
            let Some(b) = start_browser_sized(&test, width, height).await else { return };
            b.login(&app, "clerk").await;
            b.client.goto(&app.url(&format!("/counter?card={card}&line={rice}*1&line={oil}*2"))).await.unwrap();
            shoot(&b, &format!("counter-{width}")).await;
            b.close().await;

            let Some(b) = start_browser_sized(&test, width, height).await else { return };
            b.login(&app, "official").await;
            b.client.goto(&app.url("/households/new")).await.unwrap();
            shoot(&b, &format!("registration-{width}")).await;
            // On a phone the header folds into one menu button.
            if width < 600 {
                let top = b.client.find(Locator::Css("header.topbar")).await.unwrap().rectangle().await.unwrap();
                assert!(top.3 < 120.0, "the header takes {}px of 844", top.3);
                b.tap("#menu-button").await;
                assert!(b.client.find(Locator::Css(".mainnav")).await.unwrap().is_displayed().await.unwrap());
            }
            b.client.goto(&app.url(&format!("/reports/monthly?area_id={town}&month={month}"))).await.unwrap();
            shoot(&b, &format!("monthly-summary-{width}")).await;
            b.close().await;
        }
    }
}
