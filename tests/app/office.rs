//! The village office's day: forms that keep what was typed, names found by
//! their pinyin, villages told apart by their towns, bulk review, words in
//! the reader's language, and links that all open.

use aixin::db::schema::{awards, households, items, rules, stores, users};
use aixin::domain::Role;
use aixin::goods::{self, ItemForm};
use diesel::prelude::*;

use crate::helpers::{Client, PASSWORD, Page, TestApp};

fn today() -> chrono::NaiveDate {
    aixin::time::today(chrono_tz::Asia::Shanghai)
}

/// Assert a refused form came back (422) with each message beside its field.
fn refused(page: &Page, fields: &[&str]) {
    assert_eq!(page.status, 422, "the form comes back:\n{}", page.body);
    page.assert_contains(r#"id="form-errors""#);
    for f in fields {
        page.assert_contains(&format!(r#"<span class="field-error" data-field="{f}">"#));
    }
}

/// How many rows `table` has.
macro_rules! count {
    ($app:expr, $table:path) => {
        $table.count().get_result::<i64>(&mut $app.conn()).unwrap()
    };
}

app_test! {
    async fn admin_forms_keep_what_was_typed_and_name_every_wrong_field(app) {
        let [_, _, town, _] = app.area_chain("表单");
        let admin = app.admin().await;

        // A rule with three mistakes at once.
        let page = admin.post("/rules", &[
            ("code", "A 01"), ("name", "打扫庭院"), ("category_id", "cat-01"), ("points", "x"),
            ("cap_count", "2"), ("cap_period", ""), ("active", "1"),
        ]).await;
        refused(&page, &["field.rule_code", "field.points", "field.cap_period"]);
        for kept in [r#"value="A 01""#, r#"value="打扫庭院""#, r#"value="x""#, r#"value="2""#] {
            page.assert_contains(kept);
        }
        assert_eq!(count!(app, rules::table), 0, "nothing was created");
        let fixed = admin.submit("/rules", &[
            ("code", "A01"), ("name", "打扫庭院"), ("category_id", "cat-01"), ("points", "5"),
            ("cap_count", "2"), ("cap_period", "month"), ("active", "1"),
        ]).await;
        assert_eq!(fixed.status, 200, "{}", fixed.body);
        assert_eq!(count!(app, rules::table), 1);

        // A store with no name and no area keeps its address.
        let page = admin.post("/stores", &[("name", ""), ("area_id", ""), ("address", "镇政府东 100 米"), ("opening_hours", "8-17")]).await;
        refused(&page, &["field.store_name", "field.area"]);
        page.assert_contains(r#"value="镇政府东 100 米""#);
        page.assert_contains(r#"value="8-17""#);
        assert_eq!(count!(app, stores::table), 0);
        // Its edit form on the store's page keeps the other changes too.
        let store = app.store("表单超市", &town);
        let page = admin.post(&format!("/stores/{store}/edit"), &[("name", ""), ("area_id", &town), ("address", "新地址"), ("opening_hours", ""), ("version", &app.version_of("stores", &store))]).await;
        refused(&page, &["field.store_name"]);
        page.assert_contains(r#"value="新地址""#);

        // An item: a bad price and a bad barcode at once.
        let page = admin.post("/items", &[("name", "大米"), ("category", "粮油"), ("unit", ""), ("points_price", "-3"), ("barcode", "12ab")]).await;
        refused(&page, &["field.points_price", "field.unit"]);
        for kept in [r#"value="大米""#, r#"value="粮油""#, r#"value="-3""#, r#"value="12ab""#] {
            page.assert_contains(kept);
        }
        assert_eq!(count!(app, items::table), 0);

        // A user: a bad username and an unknown role, and the password is not typed back.
        let users_before = count!(app, users::table);
        let page = admin.post("/users", &[("username", "王 李"), ("display_name", "王李"), ("role", "king"), ("area_id", ""), ("store_id", ""), ("password", "secret-typed-1")]).await;
        refused(&page, &["field.username", "field.role"]);
        page.assert_contains(r#"value="王 李""#);
        page.assert_contains(r#"value="王李""#);
        assert!(!page.body.contains("secret-typed-1"), "a password is never shown again");
        assert_eq!(count!(app, users::table), users_before);

        // An area renamed to nothing keeps its row open with the message.
        let page = admin.post(&format!("/areas/{town}/rename"), &[("name", "")]).await;
        refused(&page, &["field.area_name"]);
        page.assert_contains("<details class=\"inline-edit\" open>");

        // Settings: a number out of range keeps what was typed.
        let page = admin.post_shown("/settings", "/settings", &[("notice_days", "9999")]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"value="9999""#);

        // The password change names the field and shows no password.
        let page = admin.post("/password", &[("current", PASSWORD), ("new", "short"), ("confirm", "short")]).await;
        refused(&page, &["field.new_password"]);
    }
}

app_test! {
    async fn an_adjustment_and_a_count_sheet_keep_what_was_typed(app) {
        let [_, _, town, village] = app.area_chain("调整");
        let household = app.household("调整户", &village);
        let admin = app.admin().await;
        let key = uuid::Uuid::new_v4().to_string();
        let page = admin.post(&format!("/households/{household}/adjust"), &[("amount", "abc"), ("reason", ""), ("key", &key)]).await;
        refused(&page, &["field.points", "field.reason"]);
        page.assert_contains(r#"value="abc""#);
        // A reason that is too long, or holds what no one types, is refused
        // beside its field, never cut or stored.
        let long = "长".repeat(300);
        for reason in ["调整\u{1}原因", "调整\u{202E}原因", long.as_str()] {
            let key = uuid::Uuid::new_v4().to_string();
            let page = admin.post(&format!("/households/{household}/adjust"), &[("amount", "1"), ("reason", reason), ("key", &key)]).await;
            refused(&page, &["field.reason"]);
        }
        let adjustments: i64 = aixin::db::schema::point_adjustments::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(adjustments, 0, "nothing was adjusted");

        let store = app.store("盘点超市", &town);
        let item = goods::create(&mut app.conn(), &aixin::auth::Actor::console(), &ItemForm {
            name: "食盐", category: "调味", unit: "袋", points_price: "2", barcode: "",
        }).unwrap().id;
        let donor = crate::stock::donor(&mut app.conn(), "盐业公司");
        crate::stock::donate(&mut app.conn(), &store, &donor, &[(item.as_str(), 5)]);
        let started = admin.post(&format!("/stores/{store}/stocktakes"), &[]).await;
        let sheet = started.location.expect("to the sheet");
        let id = sheet.trim_start_matches("/stocktakes/").to_string();
        let page = admin.post_shown(&sheet, &format!("/stocktakes/{id}/counts"), &[
            (&format!("count_{item}") as &str, "五"), ("counted_by", "老王"), ("witnessed_by", "老李"),
        ]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"value="五""#);
        page.assert_contains(r#"value="老李""#);
        page.assert_contains(r#"<span class="field-error" data-field="field.counted">"#);
    }
}

app_test! {
    async fn pinyin_finds_households_goods_donors_and_villages(app) {
        let [_, _, town, village] = app.area_chain("凤山");
        let other = app.area(Some(&town), "东庄村");
        let zhang = app.household("张三", &village);
        app.household("李四", &other);
        let admin = app.admin().await;
        for q in ["zhangsan", "zs", "ZhangSan", "zhang"] {
            let page = admin.get(&format!("/households?q={q}")).await;
            assert!(page.body.contains(&format!("/households/{zhang}")), "{q} finds 张三");
            assert!(!page.body.contains("李四"), "{q} finds only 张三");
        }
        // A village by its pinyin: everyone of 东庄村.
        let page = admin.get("/households?q=dzc").await;
        page.assert_contains("李四");
        assert!(!page.body.contains("张三"));

        // Goods, as the counter looks them up.
        goods::create(&mut app.conn(), &aixin::auth::Actor::console(), &ItemForm {
            name: "大米", category: "粮油", unit: "袋", points_price: "45", barcode: "",
        }).unwrap();
        for q in ["dami", "dm"] {
            let found = aixin::redemptions::find_items(&mut app.conn(), q).unwrap();
            assert_eq!(found.len(), 1, "{q} finds 大米");
        }
        // Donors.
        crate::stock::donor(&mut app.conn(), "爱心粮油公司");
        let page = admin.get("/donors?q=axly").await;
        page.assert_contains("爱心粮油公司");
        let page = admin.get("/donors?q=zzz").await;
        assert!(!page.body.contains("爱心粮油公司"));

        // Rows written before the keys existed are filled in by migrating.
        diesel::update(households::table).set((households::head_pinyin.eq(""), households::head_initials.eq(""))).execute(&mut app.conn()).unwrap();
        let filled = aixin::db::pinyin::backfill(&mut app.conn()).unwrap();
        assert!(filled >= 2, "both households refilled");
        let page = admin.get("/households?q=ls").await;
        page.assert_contains("李四");
    }
}

app_test! {
    async fn a_card_scanned_into_the_goods_box_opens_the_next_household(app) {
        let [_, _, town, village] = app.area_chain("扫卡");
        let store = app.store("扫卡超市", &town);
        app.user("clerk", Role::Clerk, None, Some(&store));
        let (_, card) = app.household_with_id("下一户", &village, &crate::helpers::test_id_number());
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        let page = clerk.post("/counter", &[("store_id", &store), ("card", ""), ("entry", &card), ("key", "k1")]).await;
        assert_eq!(page.status, 303, "{}", page.body);
        let to = page.location.unwrap();
        assert!(to.contains(&card), "the counter opens on the scanned card: {to}");
        let page = clerk.follow(&to).await;
        page.assert_contains("下一户");
    }
}

app_test! {
    async fn above_town_level_a_village_shows_its_town(app) {
        let city = app.area(None, "济南市");
        let district = app.area(Some(&city), "历城区");
        let town_a = app.area(Some(&district), "凤山街道");
        let town_b = app.area(Some(&district), "龙洞街道");
        let a = app.area(Some(&town_a), "东庄村");
        let b = app.area(Some(&town_b), "东庄村");
        let district_store = app.store("历城区爱心超市", &district);
        app.store("凤山店", &a);
        app.store("龙洞店", &b);
        app.user("off-a", Role::Official, Some(&a), None);
        app.user("off-b", Role::Official, Some(&b), None);
        app.user("off-d", Role::Official, Some(&district), None);
        app.user("rev-d", Role::Reviewer, Some(&district), None);
        app.user("clerk-d", Role::Clerk, None, Some(&district_store));
        app.rule("TM1", "清扫村道", 10, None);
        // A 王一 in each village, each reporting a deed from its phone.
        for village in [&a, &b] {
            let h = app.household("王一", village);
            let session = aixin::window::HouseholdSession {
                household_id: crate::helpers::hid(&h),
                card_no: crate::counter::card_of(&app, &h),
                ip: "127.0.0.1".into(),
                request_id: "towns".into(),
            };
            let input = aixin::window::deeds::parse("TM1", &today().to_string(), "", today()).unwrap();
            aixin::window::deeds::report(&mut app.conn(), &session, &input, &[], &aixin::idempotency::IdemKey::issue()).unwrap();
        }
        let told_apart = |page: &Page| page.body.contains("东庄村（凤山街道）") && page.body.contains("东庄村（龙洞街道）");
        let admin = app.admin().await;
        for path in ["/households", "/stores", "/users", &format!("/reports/monthly?area_id={district}")] {
            let page = admin.get(path).await;
            assert_eq!(page.status, 200, "{path}");
            assert!(told_apart(&page), "{path}:\n{}", page.body);
        }
        // The users list is searched by the town too (凤山街道).
        let found = admin.get("/users?q=%E5%87%A4%E5%B1%B1%E8%A1%97%E9%81%93").await;
        assert!(found.body.contains("off-a") && !found.body.contains("off-b"), "{}", found.body);
        // An official and a reviewer of the district: deeds, batch awards, review.
        let official = app.client();
        official.login("off-d", PASSWORD).await;
        for path in ["/deeds", "/awards/batch"] {
            let page = official.get(path).await;
            assert!(told_apart(&page), "{path}:\n{}", page.body);
        }
        let reviewer = app.client();
        reviewer.login("rev-d", PASSWORD).await;
        assert!(told_apart(&reviewer.get("/review").await));
        // At the counter, namesakes found by name show village and town.
        let clerk = app.client();
        clerk.login("clerk-d", PASSWORD).await;
        let page = clerk.get("/counter?card=%E7%8E%8B%E4%B8%80").await;
        assert_eq!(page.status, 200);
        assert!(told_apart(&page), "{}", page.body);
        // Inside one village, its deeds read the bare name.
        let inside = app.client();
        inside.login("off-a", PASSWORD).await;
        let page = inside.get("/deeds").await;
        page.assert_contains("东庄村");
        assert!(!page.body.contains("（凤山街道）") && !page.body.contains("龙洞街道"), "{}", page.body);
        // The registration form's village picker: two different choices.
        let page = admin.get("/households/new").await;
        page.assert_contains("东庄村（凤山街道）</option>");
        page.assert_contains("东庄村（龙洞街道）</option>");
        // Inside one town its villages need no town.
        app.user("town_official", Role::Official, Some(&town_a), None);
        let official = app.client();
        official.login("town_official", PASSWORD).await;
        let page = official.get("/households").await;
        page.assert_contains("王一");
        assert!(!page.body.contains("东庄村（凤山街道）"), "a town's own people read the bare name");
        assert_eq!(aixin::areas::display_name("东庄村", Some("凤山街道"), aixin::i18n::Lang::Zh), "东庄村（凤山街道）");
    }
}

/// A village with `n` households, a rule, and an official and a reviewer.
fn village_with_households(app: &TestApp, n: usize) -> (String, String, Vec<String>) {
    let [_, _, town, village] = app.area_chain("批量");
    app.rule("B01", "参加村集体劳动", 5, None);
    app.user("official", Role::Official, Some(&town), None);
    app.user("reviewer", Role::Reviewer, Some(&town), None);
    let ids = (0..n)
        .map(|i| app.household(&format!("批量户{i}"), &village))
        .collect();
    (town, village, ids)
}

fn hidden(body: &str, name: &str) -> String {
    let needle = format!(r#"name="{name}" value=""#);
    let at = body
        .find(&needle)
        .unwrap_or_else(|| panic!("no {name} in\n{body}"))
        + needle.len();
    body[at..].split('"').next().unwrap().to_string()
}

app_test! {
    async fn a_whole_village_is_awarded_at_once_and_a_refusal_keeps_the_ticks(app) {
        let (_, village, ids) = village_with_households(&app, 6);
        let official = app.client();
        official.login("official", PASSWORD).await;
        // Select all without a script: every household ticked, counted.
        let page = official.get(&format!("/awards/batch?area_id={village}&tick=all")).await;
        assert_eq!(page.body.matches(r#"name="household_id""#).count(), 6);
        assert_eq!(page.body.matches(" checked>").count(), 6, "all ticked");
        page.assert_contains(r#"<output id="selected-count" data-count="household_id">6</output> / 6"#);
        let key = hidden(&page.body, "key");
        // No rule chosen: the form comes back with the ticks and the note kept.
        let mut form: Vec<(&str, &str)> = vec![("key", &key), ("area_id", &village), ("rule_code", ""), ("occurred_on", ""), ("note", "冬季大扫除")];
        for id in &ids { form.push(("household_id", id)); }
        let page = official.post("/awards/batch", &form).await;
        refused(&page, &["field.rule"]);
        page.assert_contains(r#"value="冬季大扫除""#);
        assert_eq!(page.body.matches(" checked>").count(), 6, "the ticks are kept");
        assert_eq!(count!(app, awards::table), 0);
        let day = today().to_string();
        form[2] = ("rule_code", "B01");
        form[3] = ("occurred_on", &day);
        let page = official.submit("/awards/batch", &form).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(count!(app, awards::table), 6);
    }
}

app_test! {
    async fn a_reviewer_approves_in_bulk_with_a_filter_and_sees_each_history(app) {
        let (town, village, ids) = village_with_households(&app, 3);
        let other = app.area(Some(&town), "另一村");
        let far = app.household("另村户", &other);
        let official = app.client();
        official.login("official", PASSWORD).await;
        let day = today().to_string();
        for h in ids.iter().chain([&far]) {
            let page = official.get(&format!("/awards/new?household_id={h}")).await;
            let key = hidden(&page.body, "key");
            let done = official.post("/awards", &[("household_id", h), ("rule_code", "B01"), ("occurred_on", &day), ("note", "打扫村道"), ("key", &key)]).await;
            assert_eq!(done.status, 303, "{}", done.body);
        }
        let reviewer = app.client();
        reviewer.login("reviewer", PASSWORD).await;
        // Filtered to one village, every award ticked on asking.
        let page = reviewer.get(&format!("/review?area_id={village}&tick=all")).await;
        assert_eq!(page.status, 200);
        assert_eq!(page.body.matches(r#"type="checkbox" name="id""#).count(), 3, "only the village's awards");
        assert!(!page.body.contains("另村户"));
        page.assert_contains("打扫村道");
        page.assert_contains(r#"<details class="award-history">"#);
        let mut form: Vec<(String, String)> = vec![("decision".into(), "approve".into()), ("area_id".into(), village.clone())];
        for (id, v) in aixin::db::schema::awards::table
            .filter(awards::household_id.eq_any(&ids))
            .select((awards::id, awards::version))
            .load::<(String, i64)>(&mut app.conn()).unwrap()
        {
            form.push(("id".into(), id.clone()));
            form.push((format!("v:{id}"), v.to_string()));
        }
        let refs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let page = reviewer.post("/review", &refs).await;
        assert_eq!(page.status, 303, "{}", page.body);
        assert!(page.location.unwrap().contains(&village), "back to the filtered queue");
        let pending: i64 = awards::table.filter(awards::status.eq("pending")).count().get_result(&mut app.conn()).unwrap();
        assert_eq!(pending, 1, "the other village's award still waits");

        // A decision on an award already decided names it once and keeps it ticked.
        let (id, v): (String, i64) = awards::table.filter(awards::household_id.eq(&ids[0])).select((awards::id, awards::version)).first(&mut app.conn()).unwrap();
        let (fid, fv): (String, i64) = awards::table.filter(awards::household_id.eq(&far)).select((awards::id, awards::version)).first(&mut app.conn()).unwrap();
        let (v, fv) = (v - 1, fv.to_string());
        let v = v.to_string();
        let page = reviewer.post("/review", &[("decision", "approve"), ("id", &id), (&format!("v:{id}"), &v), ("id", &fid), (&format!("v:{fid}"), &fv)]).await;
        assert_eq!(page.status, 409, "a conflict with what the award is now: {}", page.body);
        page.assert_contains(r#"id="form-errors""#);
        assert!(page.body.contains("批量户0"));

        // Neither approve nor reject: refused, naming the decision, and
        // nothing is decided.
        let statuses = || -> Vec<(String, String)> { awards::table.select((awards::id, awards::status)).order(awards::id).load(&mut app.conn()).unwrap() };
        let before = statuses();
        let page = reviewer.post("/review", &[("decision", "maybe"), ("id", &id), (&format!("v:{id}"), &(v.parse::<i64>().unwrap() + 1).to_string())]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("审核决定");
        assert_eq!(statuses(), before, "nothing decided");
    }
}

app_test! {
    async fn the_audit_log_reads_as_sentences(app) {
        let [_, _, _, village] = app.area_chain("审计");
        let h = app.household("审计户", &village);
        let admin = app.admin().await;
        admin.get(&format!("/households/{h}")).await;
        let page = admin.get("/audit").await;
        assert_eq!(page.status, 200);
        page.assert_contains("登记了农户");
        page.assert_contains(&format!(r#"<a href="/households/{h}">"#));
        for code in ["household.create", "auth.login", "area.create"] {
            assert!(!page.body.contains(code), "no raw action code {code}");
        }
        let en = app.client();
        en.login("boss", PASSWORD).await;
        en.post("/lang", &[("lang", "en"), ("back", "/audit")]).await;
        let page = en.get("/audit").await;
        page.assert_contains("registered the household");
    }
}

/// Every same-site link on `page` (absolute paths; relative queries resolved
/// against `path`), without logging out, downloads of static files or fragments.
fn links(path: &str, body: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in body.split("href=\"").skip(1) {
        let href = part.split('"').next().unwrap().replace("&amp;", "&");
        let href = if let Some(q) = href.strip_prefix('?') {
            format!("{}?{q}", path.split('?').next().unwrap())
        } else {
            href
        };
        if href.starts_with('/')
            && !href.starts_with("/static")
            && !href.starts_with("//")
            && !href.contains("logout")
        {
            out.push(href);
        }
    }
    out.sort();
    out.dedup();
    out
}

pub(crate) async fn follow_every_link(client: &Client, role: &str, starts: &[&str]) {
    let mut seen = std::collections::HashSet::new();
    let mut queue: Vec<String> = starts.iter().map(|s| s.to_string()).collect();
    let mut depth = 0;
    while !queue.is_empty() && depth < 2 {
        let mut next = Vec::new();
        for path in queue {
            if !seen.insert(path.clone()) || seen.len() > 150 {
                continue;
            }
            let page = client.get(&path).await;
            assert!(
                !matches!(page.status, 400 | 403 | 500..=599),
                "{role}: {path} answers {}",
                page.status
            );
            if page.status == 200
                && page
                    .headers
                    .get("content-type")
                    .is_some_and(|t| t.to_str().unwrap_or("").starts_with("text/html"))
            {
                next.extend(links(&path, &page.body));
            }
        }
        queue = next;
        depth += 1;
    }
}

app_test! {
    async fn no_link_on_a_role_main_pages_leads_to_403_400_or_500(app) {
        let [_, _, town, village] = app.area_chain("链接");
        let store = app.store("链接超市", &town);
        let item = goods::create(&mut app.conn(), &aixin::auth::Actor::console(), &ItemForm {
            name: "毛巾", category: "日用", unit: "条", points_price: "5", barcode: "",
        }).unwrap().id;
        let donor = crate::stock::donor(&mut app.conn(), "毛巾厂");
        crate::stock::donate(&mut app.conn(), &store, &donor, &[(item.as_str(), 10)]);
        let h = app.household("链接户", &village);
        crate::counter::redeem_for_test(&app, &store, &h, &item);
        app.rule("L01", "帮助邻里", 3, None);
        app.user("official", Role::Official, Some(&town), None);
        app.user("reviewer", Role::Reviewer, Some(&town), None);
        app.user("clerk", Role::Clerk, None, Some(&store));
        app.user("auditor", Role::Auditor, None, None);
        let admin = app.admin().await;
        follow_every_link(&admin, "admin", &["/"]).await;
        let household = format!("/households/{h}");
        for role in ["official", "reviewer", "clerk", "auditor"] {
            let c = app.client();
            c.login(role, PASSWORD).await;
            // A clerk has no household pages: the counter is theirs.
            let starts: Vec<&str> = if role == "clerk" { vec!["/"] } else { vec!["/", &household] };
            follow_every_link(&c, role, &starts).await;
        }
    }
}

app_test! {
    async fn english_pages_carry_no_chinese_but_the_data(app) {
        let city = app.area(None, "Hill City");
        let district = app.area(Some(&city), "Hill District");
        let town = app.area(Some(&district), "Hill Town");
        let village = app.area(Some(&town), "Hill Village");
        let store = app.store("Hill Store", &town);
        let item = goods::create(&mut app.conn(), &aixin::auth::Actor::console(), &ItemForm {
            name: "Rice", category: "Grain", unit: "bag", points_price: "45", barcode: "",
        }).unwrap().id;
        let donor = crate::stock::donor(&mut app.conn(), "Grain Co");
        crate::stock::donate(&mut app.conn(), &store, &donor, &[(item.as_str(), 10)]);
        let h = app.household("Wang", &village);
        let receipt = crate::counter::redeem_for_test(&app, &store, &h, &item);
        let admin = app.admin().await;
        admin.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        // The data of this test are all in Latin letters; the seeded
        // categories of the rulebook are data too.
        let mut data: Vec<String> = aixin::db::schema::rule_categories::table
            .select(aixin::db::schema::rule_categories::name)
            .load(&mut app.conn()).unwrap();
        // A village's name in context, and the helper's address of the household.
        data.insert(0, aixin::areas::display_name("Hill Village", Some("Hill Town"), aixin::i18n::Lang::En));
        data.push("一组 1 号".to_string());
        // The donor helper's contact person.
        data.push("李经理".to_string());
        let month = today().format("%Y-%m").to_string();
        for path in [
            "/".to_string(), "/households".to_string(), format!("/households/{h}"), "/households/new".to_string(),
            "/rules".to_string(), "/stores".to_string(), format!("/stores/{store}"), "/items".to_string(),
            "/users".to_string(), "/areas".to_string(), "/audit".to_string(), "/settings".to_string(),
            format!("/redemptions/{receipt}"), "/donors".to_string(), format!("/reports/monthly?month={month}"),
            "/review".to_string(), "/awards/batch".to_string(),
        ] {
            let page = admin.follow(&path).await;
            assert_eq!(page.status, 200, "{path}");
            let mut text = page.body.clone();
            for d in &data { text = text.replace(d.as_str(), ""); }
            // The language switch names each language in itself.
            text = text.replace("中文", "");
            let cjk: String = text.chars().filter(|c| matches!(*c as u32, 0x3000..=0x303f | 0x3400..=0x9fff | 0xff00..=0xffef)).take(20).collect();
            assert!(cjk.is_empty(), "{path} shows {cjk:?} on an English page");
        }
    }
}

app_test! {
    async fn a_card_sheet_past_the_last_says_so(app) {
        let [_, _, _, village] = app.area_chain("卡片");
        app.household("卡片户", &village);
        let admin = app.admin().await;
        let page = admin.get("/households/cards?page=7").await;
        assert_eq!(page.status, 404);
        page.assert_contains("没有第 7 页，共 1 页");
        assert!(!page.body.contains("卡片户"), "no sheet past the end");
        let page = admin.get("/households/cards?page=1").await;
        page.assert_contains("卡片户");
        let page = admin.get("/households/cards").await;
        page.assert_contains("卡片户");
        assert!(!page.body.contains(r#"id="card-pages""#), "one page needs no pager");
    }
}

app_test! {
    async fn a_reviewer_refused_an_award_outside_the_area_is_not_told_whose_it_is(app) {
        let (_, _, ids) = village_with_households(&app, 1);
        let [_, _, elsewhere, _] = app.area_chain("远处");
        app.user("far_reviewer", Role::Reviewer, Some(&elsewhere), None);
        let official = app.client();
        official.login("official", PASSWORD).await;
        let day = today().to_string();
        let page = official.get(&format!("/awards/new?household_id={}", ids[0])).await;
        let key = hidden(&page.body, "key");
        let done = official.post("/awards", &[("household_id", &ids[0]), ("rule_code", "B01"), ("occurred_on", &day), ("note", "打扫村道"), ("key", &key)]).await;
        assert_eq!(done.status, 303, "{}", done.body);
        let (id, v): (String, i64) = awards::table.select((awards::id, awards::version)).first(&mut app.conn()).unwrap();
        let reviewer = app.client();
        reviewer.login("far_reviewer", PASSWORD).await;
        let page = reviewer.post("/review", &[("decision", "approve"), ("id", &id), (&format!("v:{id}"), &v.to_string())]).await;
        assert!(matches!(page.status, 403 | 409 | 422), "{}", page.body);
        page.assert_contains("所选的一项申报不在您的负责范围内");
        assert!(!page.body.contains("批量户0"), "the household is not named: {}", page.body);
        let status: String = awards::table.select(awards::status).first(&mut app.conn()).unwrap();
        assert_eq!(status, "pending");
    }
}

app_test! {
    async fn a_page_edit_form_without_the_version_it_showed_changes_nothing(app) {
        let [_, _, town, village] = app.area_chain("守版");
        let store = app.store("守版超市", &town);
        let h = app.household("守版户", &village);
        let clerk = app.user("shouban", Role::Clerk, None, Some(&store));
        let admin = app.admin().await;
        let missing = "页面没有带上您看到的版本";
        let forms = [
            (format!("/stores/{store}/printing"), vec![("paper", "58")], "stores", store.as_str()),
            (format!("/stores/{store}/edit"), vec![("name", "改名超市"), ("area_id", town.as_str()), ("address", "新址"), ("opening_hours", "")], "stores", store.as_str()),
            (format!("/households/{h}"), vec![("head_name", "改名户"), ("area_id", village.as_str()), ("members", "3"), ("status", "registered")], "households", h.as_str()),
            (format!("/users/{clerk}/personal"), vec![("phone", "138 0013 8000")], "users", clerk.as_str()),
            (format!("/users/{clerk}/assign"), vec![("role", "reviewer"), ("area_id", town.as_str())], "users", clerk.as_str()),
        ];
        for (path, fields, table, id) in &forms {
            let before = app.version_of(table, id);
            for version in [None, Some(""), Some("garbage")] {
                let mut form = fields.clone();
                if let Some(v) = version {
                    form.push(("version", v));
                }
                let page = admin.post(path, &form).await;
                assert_eq!(page.status, 422, "{path} with version {version:?}: {}", page.body);
                page.assert_contains(missing);
                assert_eq!(app.version_of(table, id), before, "{path}: nothing saved");
            }
        }

        // The settings form: a value it showed that is not a number is refused.
        let page = admin.post("/settings", &[("notice_days", "5"), ("seen.notice_days", "garbage")]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(missing);
        let settings = admin.get("/settings").await;
        assert!(!settings.body.contains(r#"name="seen.notice_days" value="5""#), "nothing saved");
    }
}

app_test! {
    async fn bulk_review_counts_a_repeated_tick_once_and_names_an_unknown_award(app) {
        let (_, _, ids) = village_with_households(&app, 2);
        let official = app.client();
        official.login("official", PASSWORD).await;
        let day = today().to_string();
        for h in &ids {
            let page = official.get(&format!("/awards/new?household_id={h}")).await;
            let key = hidden(&page.body, "key");
            let done = official.post("/awards", &[("household_id", h), ("rule_code", "B01"), ("occurred_on", &day), ("note", ""), ("key", &key)]).await;
            assert_eq!(done.status, 303, "{}", done.body);
        }
        let award = |h: &str| -> (String, String) {
            let (id, v): (String, i64) = awards::table.filter(awards::household_id.eq(h)).select((awards::id, awards::version)).first(&mut app.conn()).unwrap();
            (id, v.to_string())
        };
        let status = |id: &str| -> String { awards::table.find(id).select(awards::status).first(&mut app.conn()).unwrap() };
        let reviewer = app.client();
        reviewer.login("reviewer", PASSWORD).await;
        reviewer.get("/review").await;

        // An unknown award named first: nothing decided, the award named.
        let (b, bv) = award(&ids[1]);
        let page = reviewer.post("/review", &[("decision", "approve"), ("id", "nonexistent"), ("id", &b), (&format!("v:{b}"), &bv)]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("没有这项申报：nonexistent");
        assert!(!page.body.contains("页面没有带上您看到的版本"));
        assert_eq!(status(&b), "pending", "nothing decided");

        // The same award ticked twice is decided once, with no conflict.
        let (a, av) = award(&ids[0]);
        let page = reviewer.post("/review", &[("decision", "approve"), ("id", &a), ("id", &a), (&format!("v:{a}"), &av)]).await;
        assert_eq!(page.status, 303, "{}", page.body);
        assert_ne!(status(&a), "pending");
        assert_eq!(status(&b), "pending");
    }
}

app_test! {
    async fn a_batch_with_a_bad_card_proposes_nothing_and_keeps_the_paste(app) {
        use aixin::db::schema::points_cards;
        let (_, village, ids) = village_with_households(&app, 2);
        let card = |h: &str| -> String { points_cards::table.filter(points_cards::household_id.eq(h)).select(points_cards::card_no).first(&mut app.conn()).unwrap() };
        let (c0, c1) = (card(&ids[0]), card(&ids[1]));
        let official = app.client();
        official.login("official", PASSWORD).await;
        let page = official.get(&format!("/awards/batch?area_id={village}")).await;
        let key = hidden(&page.body, "key");
        let day = today().to_string();
        let cards = format!("{c0}\nabc\n{c1}");
        let form = |cards: &str| -> Vec<(String, String)> {
            [("key", key.as_str()), ("area_id", village.as_str()), ("rule_code", "B01"), ("occurred_on", day.as_str()), ("note", ""), ("cards", cards)]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let post = |f: Vec<(String, String)>| {
            let official = &official;
            async move {
                let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                official.post("/awards/batch", &refs).await
            }
        };
        let page = post(form(&cards)).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("“abc”应为 10 位数字");
        page.assert_contains(&cards);
        assert_eq!(count!(app, awards::table), 0, "nothing proposed");

        // An unknown card alone keeps its own reason.
        let page = post(form("1234567890")).await;
        assert_eq!(page.status, 422, "{}", page.body);
        assert!(!page.body.contains("请至少选择一户"), "{}", page.body);
        assert!(page.body.contains("“1234567890”的校验位") || page.body.contains("没有卡号为 1234567890"), "{}", page.body);
        assert_eq!(count!(app, awards::table), 0);
    }
}

app_test! {
    async fn an_award_for_an_id_that_is_no_household_keeps_the_form(app) {
        let (town, _, ids) = village_with_households(&app, 1);
        let store = app.store("非户超市", &town);
        let official = app.client();
        official.login("official", PASSWORD).await;
        let page = official.get(&format!("/awards/new?household_id={}", ids[0])).await;
        let key = hidden(&page.body, "key");
        let day = today().to_string();
        let page = official.post("/awards", &[("household_id", &store), ("rule_code", "B01"), ("occurred_on", &day), ("note", "打扫村道"), ("key", &key)]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("没有这个农户");
        assert_eq!(count!(app, awards::table), 0);
    }
}

app_test! {
    async fn names_are_found_by_the_reading_names_take(app) {
        let [_, _, town, village] = app.area_chain("凤山");
        let chang_an = app.area(Some(&town), "长安村");
        let ma = app.household("马长青", &village);
        let zeng = app.household("曾国华", &village);
        let li = app.household("李四", &chang_an);
        let admin = app.admin().await;
        for (q, who) in [("machangqing", &ma), ("mcq", &ma), ("zengguohua", &zeng), ("zgh", &zeng), ("changancun", &li), ("cac", &li)] {
            let page = admin.get(&format!("/households?q={q}")).await;
            assert!(page.body.contains(&format!("/households/{who}")), "{q}: {}", page.body);
        }
        // The counter's look-up by name reads them the same way.
        let page = admin.get("/households?q=mazhangqing").await;
        assert!(!page.body.contains(&format!("/households/{ma}")), "长 in a name is cháng");
    }
}

app_test! {
    /// A tick that names no household of the official's (not an id, an id
    /// no household has, one outside the official's area) refuses the whole
    /// batch, each named, the other ticks kept: nothing is proposed.
    async fn a_batch_with_a_bad_tick_proposes_nothing_and_keeps_the_ticks(app) {
        let (_, village, ids) = village_with_households(&app, 2);
        let [_, _, _, far_village] = app.area_chain("远方");
        let far = app.household("远方户", &far_village);
        let official = app.client();
        official.login("official", PASSWORD).await;
        let page = official.get(&format!("/awards/batch?area_id={village}")).await;
        let key = hidden(&page.body, "key");
        let day = today().to_string();
        let nobody = "0190a0a0-0000-7000-8000-000000000000";
        for bad in ["abc", nobody, far.as_str()] {
            let form: Vec<(&str, &str)> = vec![
                ("key", &key), ("area_id", &village), ("rule_code", "B01"), ("occurred_on", &day), ("note", ""),
                ("household_id", &ids[0]), ("household_id", bad), ("household_id", &ids[1]),
            ];
            let page = official.post("/awards/batch", &form).await;
            assert_eq!(page.status, 422, "{bad}: {}", page.body);
            page.assert_contains(&format!("“{bad}”不是您负责范围内的农户；整批没有申报"));
            assert_eq!(page.body.matches(" checked>").count(), 2, "{bad}: the ticks are kept");
            assert_eq!(count!(app, awards::table), 0, "{bad}: nothing proposed");
        }
    }
}

app_test! {
    /// A redirect after a write carries only what the next page needs, read
    /// as what it is: never text typed in the form.
    async fn a_redirect_after_a_write_carries_no_typed_text(app) {
        let (_, village, ids) = village_with_households(&app, 1);
        let official = app.client();
        official.login("official", PASSWORD).await;
        official.get("/awards/batch").await;
        let typed = "张三 13800138000";
        // A form without its key goes back to its page: the id kept, the text not.
        let page = official.post("/awards", &[("household_id", typed), ("rule_code", "B01"), ("key", "")]).await;
        assert_eq!((page.status, page.location.as_deref()), (303, Some("/awards/new")), "{}", page.body);
        let page = official.post("/awards", &[("household_id", &ids[0]), ("rule_code", "B01"), ("key", "")]).await;
        assert_eq!(page.location, Some(format!("/awards/new?household_id={}", ids[0])));
        let page = official.post("/awards/batch", &[("area_id", typed), ("key", "")]).await;
        assert_eq!((page.status, page.location.as_deref()), (303, Some("/awards/batch")));
        let page = official.post("/awards/batch", &[("area_id", &village), ("key", "")]).await;
        assert_eq!(page.location, Some(format!("/awards/batch?area_id={village}")));
    }
}

app_test! {
    /// The settings and a stocktake's counts are page edit forms: one that
    /// does not say what it showed (`seen.*`) is refused, reload-the-page,
    /// and saves nothing.
    async fn page_edit_forms_must_say_what_they_showed(app) {
        use aixin::settings;
        let admin = app.admin().await;
        let page = admin.post("/settings", &[("notice_days", "5")]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("页面没有带上您看到的版本");
        page.assert_contains(r#"value="5""#);
        assert_ne!(settings::get(&mut app.conn(), settings::NOTICE_DAYS).unwrap(), 5, "nothing saved");
        let page = admin.submit_shown("/settings", "/settings", &[("notice_days", "5")]).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(settings::get(&mut app.conn(), settings::NOTICE_DAYS).unwrap(), 5);

        let [_, _, town, _] = app.area_chain("见过");
        let store = app.store("见过超市", &town);
        let item = goods::create(&mut app.conn(), &aixin::auth::Actor::console(), &ItemForm {
            name: "食醋", category: "调味", unit: "瓶", points_price: "2", barcode: "",
        }).unwrap().id;
        let donor = crate::stock::donor(&mut app.conn(), "醋厂");
        crate::stock::donate(&mut app.conn(), &store, &donor, &[(item.as_str(), 5)]);
        let started = admin.post(&format!("/stores/{store}/stocktakes"), &[]).await;
        let sheet = started.location.expect("to the sheet");
        let count = format!("count_{item}");
        let form: Vec<(&str, &str)> = vec![(&count, "4"), ("counted_by", "老王"), ("witnessed_by", "")];
        let page = admin.post(&format!("{sheet}/counts"), &form).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("页面没有带上您看到的版本");
        page.assert_contains(r#"value="老王""#);
        let sheet_now = admin.get(&sheet).await;
        assert!(!sheet_now.body.contains(r#"value="老王""#), "nothing saved");
        let page = admin.submit_shown(&sheet, &format!("{sheet}/counts"), &form).await;
        assert_eq!(page.status, 200, "{}", page.body);
        page.assert_contains(r#"value="老王""#);
    }
}

app_test! {
    /// Approving or rejecting on a filtered queue comes back to the queue
    /// with the same filters: village, rule (a code with a dot too) and
    /// proposer.
    async fn the_review_queue_keeps_its_filters_after_a_decision(app) {
        let (_, village, ids) = village_with_households(&app, 2);
        app.rule("C.1", "清扫积雪", 5, None);
        let official = app.client();
        official.login("official", PASSWORD).await;
        let day = today().to_string();
        for h in &ids {
            let page = official.get(&format!("/awards/new?household_id={h}")).await;
            let key = hidden(&page.body, "key");
            let done = official.post("/awards", &[("household_id", h), ("rule_code", "C.1"), ("occurred_on", &day), ("note", "扫雪"), ("key", &key)]).await;
            assert_eq!(done.status, 303, "{}", done.body);
        }
        let proposer: String = users::table.filter(users::username.eq("official")).select(users::id).first(&mut app.conn()).unwrap();
        let reviewer = app.client();
        reviewer.login("reviewer", PASSWORD).await;
        let filtered = format!("/review?area_id={village}&rule=C.1&proposer={proposer}");
        let page = reviewer.get(&filtered).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let award = |h: &str| -> (String, String) {
            let (id, v): (String, i64) = awards::table.filter(awards::household_id.eq(h)).select((awards::id, awards::version)).first(&mut app.conn()).unwrap();
            (id, v.to_string())
        };
        let (a, av) = award(&ids[0]);
        let page = reviewer.post("/review", &[("decision", "approve"), ("id", &a), (&format!("v:{a}"), &av), ("area_id", &village), ("rule", "C.1"), ("proposer", &proposer)]).await;
        assert_eq!(page.status, 303, "{}", page.body);
        assert_eq!(page.location.as_deref(), Some(filtered.as_str()), "approved: back to the same filters");
        let (b, bv) = award(&ids[1]);
        let page = reviewer.post("/review", &[("reject_one", b.as_str()), (&format!("v:{b}"), &bv), ("reason", "重复申报"), ("area_id", &village), ("rule", "C.1"), ("proposer", &proposer)]).await;
        assert_eq!(page.status, 303, "{}", page.body);
        assert_eq!(page.location.as_deref(), Some(filtered.as_str()), "rejected: back to the same filters");
        let shown = reviewer.get(&filtered).await;
        assert_eq!(shown.status, 200);
        shown.assert_contains(r#"<option value="C.1" selected"#);
    }
}

app_test! {
    /// A queue longer than the page shows says so, on the queue and on the
    /// home page ("500+"), instead of passing for the whole of it; a batch
    /// holds at most 500 households.
    async fn a_queue_longer_than_the_page_says_so(app) {
        let (_, village, ids) = village_with_households(&app, 501);
        let official = app.client();
        official.login("official", PASSWORD).await;
        let day = today().to_string();
        let propose = |chunk: &[String]| {
            let chunk = chunk.to_vec();
            let official = &official;
            let village = village.clone();
            let day = day.clone();
            async move {
                let page = official.get(&format!("/awards/batch?area_id={village}")).await;
                let key = hidden(&page.body, "key");
                let mut fields: Vec<(&str, &str)> = vec![("key", &key), ("area_id", &village), ("rule_code", "B01"), ("occurred_on", &day)];
                for h in &chunk {
                    fields.push(("household_id", h));
                }
                official.post("/awards/batch", &fields).await
            }
        };
        let refused = propose(&ids).await;
        assert_eq!(refused.status, 422, "501 in one batch");
        refused.assert_contains("一批最多 500 户");
        assert_eq!(propose(&ids[..500]).await.status, 200);
        assert_eq!(propose(&ids[500..]).await.status, 200);
        let reviewer = app.client();
        reviewer.login("reviewer", PASSWORD).await;
        let queue = reviewer.get("/review").await;
        queue.assert_contains("id=\"queue-more\"");
        queue.assert_contains("待审核的申报超过 500 项");
        reviewer.get("/").await.assert_contains("待审核的积分申报 500+ 项");
        // Narrowed by a filter that holds fewer (a rule in force with no
        // award waiting), the note goes.
        app.rule("B02", "另一条细则", 5, None);
        let one = reviewer.get(&format!("/review?area_id={village}&rule=B02")).await;
        assert_eq!(one.status, 200, "{}", one.body);
        assert!(!one.body.contains("queue-more"), "{}", one.body);
    }
}
