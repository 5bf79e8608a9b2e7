//! Every page that reads a filter from its address reads it through
//! `web::extract::Filter`: a field sent twice, or a value that does not
//! read, comes back on the page (422) with what was typed and the message
//! naming the field, in the reader's language; never a bare 400 or a 500.

use crate::helpers::{Client, PASSWORD, Page};

/// One address asked with a filter field sent twice or a value that does
/// not read: what the page must hold (the first value typed, the field's
/// message in Chinese, then in English).
struct Case {
    path: String,
    typed: &'static str,
    zh: &'static str,
    en: &'static str,
}

fn case(path: String, typed: &'static str, zh: &'static str, en: &'static str) -> Case {
    Case {
        path,
        typed,
        zh,
        en,
    }
}

/// A field sent twice, said so.
fn twice(path: String, typed: &'static str) -> Case {
    case(path, typed, "填写了两次", "was sent twice")
}

async fn check(c: &Client, cases: &[Case], english: bool) {
    for k in cases {
        let page: Page = c.get(&k.path).await;
        assert_eq!(
            page.status,
            422,
            "{} ({}): {}",
            k.path,
            if english { "en" } else { "zh" },
            page.body
        );
        page.assert_contains(if english { k.en } else { k.zh });
        if !k.typed.is_empty() {
            page.assert_contains(k.typed);
        }
    }
}

app_test! {
    async fn every_page_filter_sent_twice_or_not_read_is_refused_on_its_page(app) {
        let [city, _, town, village] = app.area_chain("筛选");
        let counter = crate::counter::setup(&app, 10, 10);
        let receipt = crate::counter::redeem_for_test(&app, &counter.store, &counter.household, &counter.rice);
        let store = counter.store.clone();
        let staff: Vec<Case> = vec![
            twice("/audit?from=2026-01-01&from=2026-02-01".into(), r#"value="2026-01-01""#),
            case("/audit?from=2026-02-30".into(), r#"value="2026-02-30""#, "开始日期：", "From: "),
            twice("/awards/new?card=abc&card=def".into(), r#"value="abc""#),
            twice(format!("/awards/batch?area_id={village}&area_id={town}"), ""),
            twice("/review?rule=A1&rule=B2".into(), ""),
            // A field the filter form has no place for is said above it.
            case("/review?tick=%01".into(), "", "“tick”不能包含控制字符", "must not contain control characters"),
            case("/review?tick=%FF".into(), "", "不是 UTF-8", "not UTF-8"),
            twice(format!("/notice?village_id={village}&from=2026-01-01&from=2026-01-02"), r#"value="2026-01-01""#),
            case(format!("/notice?village_id={village}&from=2026-02-30"), r#"value="2026-02-30""#, "开始日期：", "From: "),
            // A period that ends before it starts.
            case(format!("/notice?village_id={village}&from=2026-02-01&to=2026-01-01"), r#"value="2026-01-01""#, "结束日期不能早于开始日期", "must not be before the start date"),
            twice(format!("/stores/{store}/movements?from=2026-01-01&from=2026-01-02"), r#"value="2026-01-01""#),
            case(format!("/stores/{store}/movements?from=2026-02-30"), r#"value="2026-02-30""#, "开始日期：", "From: "),
            twice(format!("/stores/{store}/movements/export?format=csv&from=2026-01-01&from=2026-01-02"), r#"value="2026-01-01""#),
            case(format!("/stores/{store}/movements/export?format=xlsx&from=2026-02-30"), r#"value="2026-02-30""#, "开始日期：", "From: "),
            // An item that is not an id is refused on its field (issue 15).
            case(format!("/stores/{store}/movements?item=abc"), "", "物资：", "Item: "),
            twice("/donors?q=甲方&q=乙方".into(), r#"value="甲方""#),
            twice("/users?q=wang&q=li".into(), r#"value="wang""#),
            twice(format!("/counter?store_id={store}&card=abc&card=def"), r#"value="abc""#),
            twice(format!("/redemptions/{receipt}?paper=58&paper=80"), ""),
            twice("/households/cards?q=甲&q=乙".into(), r#"value="甲""#),
            twice("/households/export.csv?q=甲&q=乙".into(), r#"value="甲""#),
            twice("/households/export.xlsx?q=甲&q=乙".into(), r#"value="甲""#),
            twice(format!("/signals?month=2026-10&month=2026-11&area={city}"), r#"value="2026-10""#),
            twice(format!("/signals.xlsx?month=2026-10&month=2026-11&area={city}"), r#"value="2026-10""#),
            case(format!("/signals.xlsx?month=2026-13&area={city}"), r#"value="2026-13""#, "月份：", "Month: "),
        ];
        let public: Vec<Case> = vec![
            twice("/public/notice?from=2026-01-01&from=2026-01-02".into(), r#"value="2026-01-01""#),
            twice(format!("/public/notice?village={village}&from=2026-01-01&from=2026-01-02"), r#"value="2026-01-01""#),
            twice(format!("/public/notice/{village}?to=2026-01-01&to=2026-01-02"), r#"value="2026-01-01""#),
            case(format!("/public/notice/{village}?from=2026-02-30"), r#"value="2026-02-30""#, "开始日期：", "From: "),
            twice("/public/honours?month=2026-10&month=2026-11".into(), "?month=2026-10"),
            twice(format!("/public/honours/{town}?month=2026-10&month=2026-11"), r#"value="2026-10""#),
            case(format!("/public/honours/{town}?month=2026-13"), r#"value="2026-13""#, "月份：", "Month: "),
            twice("/login?next=/households&next=/stores".into(), ""),
        ];

        let admin = app.admin().await;
        check(&admin, &staff, false).await;
        admin.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        check(&admin, &staff, true).await;

        let anon = app.client();
        check(&anon, &public, false).await;
        anon.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        check(&anon, &public, true).await;

        // A clerk's counter and receipt say it too, in the clerk's language.
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        let page = clerk.get("/counter?card=abc&card=def").await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("填写了两次");
    }
}

/// A filter field that holds an id, given text that is not one.
fn not_an_id(path: String, zh: &'static str, en: &'static str) -> Case {
    case(path, "", zh, en)
}

app_test! {
    async fn a_filter_id_that_is_not_an_id_is_refused_beside_its_field(app) {
        let [city, _, _, village] = app.area_chain("编号");
        let counter = crate::counter::setup(&app, 10, 10);
        let store = counter.store.clone();
        let staff: Vec<Case> = vec![
            not_an_id("/households?area_id=xyz".into(), "所属村：不是有效的编号", "Village: is not a valid id"),
            not_an_id("/households?helper_id=abc".into(), "帮扶责任人：不是有效的编号", "Assigned helper: is not a valid id"),
            not_an_id("/households/cards?area_id=1".into(), "所属村：不是有效的编号", "Village: is not a valid id"),
            not_an_id("/households/export.csv?area_id=1".into(), "所属村：不是有效的编号", "Village: is not a valid id"),
            not_an_id(format!("/stores/{store}/movements?item=abc"), "物资：不是有效的编号", "Item: is not a valid id"),
            not_an_id(format!("/stores/{store}/movements/export?format=csv&item=1"), "物资：不是有效的编号", "Item: is not a valid id"),
            not_an_id("/review?area_id=xyz".into(), "所属村：不是有效的编号", "Village: is not a valid id"),
            not_an_id("/review?proposer=abc".into(), "申报人：不是有效的编号", "Proposed by: is not a valid id"),
            not_an_id("/awards/batch?area_id=xyz".into(), "所属村：不是有效的编号", "Village: is not a valid id"),
            not_an_id("/awards/new?household_id=xyz".into(), "农户：不是有效的编号", "Household: is not a valid id"),
            not_an_id("/notice?village_id=xyz".into(), "所属村：不是有效的编号", "Village: is not a valid id"),
            not_an_id("/signals?area=xyz".into(), "区域：不是有效的编号", "Area: is not a valid id"),
            not_an_id("/signals.xlsx?area=xyz".into(), "区域：不是有效的编号", "Area: is not a valid id"),
        ];
        let public: Vec<Case> = vec![
            not_an_id("/public/notice?village=xyz".into(), "所属村：不是有效的编号", "Village: is not a valid id"),
        ];
        let admin = app.admin().await;
        check(&admin, &staff, false).await;
        // The village beside its picker on the households list, the
        // proposer beside its own on the review queue.
        let page = admin.get("/households?area_id=xyz").await;
        page.assert_contains(r#"data-field="field.village">所属村：不是有效的编号"#);
        let page = admin.get("/review?proposer=abc").await;
        page.assert_contains(r#"data-field="awards.proposer">申报人：不是有效的编号"#);
        // A real id filters as before.
        let page = admin.get(&format!("/households?area_id={village}")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let page = admin.get(&format!("/signals?area={city}")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        admin.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        check(&admin, &staff, true).await;

        let anon = app.client();
        check(&anon, &public, false).await;
        anon.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        check(&anon, &public, true).await;
    }
}

app_test! {
    async fn every_paged_list_counts_from_one_and_says_a_page_past_the_last(app) {
        let counter = crate::counter::setup(&app, 10, 10);
        let store = counter.store.clone();
        let admin = app.admin().await;
        for list in ["/audit".to_string(), format!("/stores/{store}/movements"), "/households".into(), "/households/cards".into()] {
            let page = admin.get(&format!("{list}?page=1")).await;
            assert_eq!(page.status, 200, "{list}?page=1: {}", page.body);
            assert!(!page.body.contains(r#"id="past-end""#), "{list}?page=1");
            // A page that is no page number is refused, naming the page,
            // the list still shown.
            for bad in ["0", "-2", "abc"] {
                let page = admin.get(&format!("{list}?page={bad}")).await;
                assert_eq!(page.status, 422, "{list}?page={bad}: {}", page.body);
                page.assert_contains("页码：必须是从 1 起的页码");
                assert!(!page.body.contains(r#"id="past-end""#), "{list}?page={bad}");
            }
            let page = admin.get(&format!("{list}?page=9")).await;
            assert_eq!(page.status, 404, "{list}?page=9: {}", page.body);
            page.assert_contains("没有第 9 页，共 1 页");
            page.assert_contains(&format!(r#"<a href="{list}"#));
            page.assert_contains("回到第一页");
        }
        admin.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        let page = admin.get("/audit?page=9").await;
        page.assert_contains("There is no page 9; the list has 1 page");
    }
}

app_test! {
    async fn the_notice_pages_name_a_village_or_period_that_does_not_read(app) {
        let [_, _, _, village] = app.area_chain("公示");
        // Well formed, but no area has it.
        let none = "00000000-0000-4000-8000-000000000000";
        let staff: Vec<Case> = vec![
            case(format!("/notice?village_id={none}"), "", "所属村：找不到这个区域", "Village: no such area"),
            case(format!("/notice?village_id={village}&from=2026-13-01"), r#"value="2026-13-01""#, "开始日期：", "From: "),
        ];
        let public: Vec<Case> = vec![
            case(format!("/public/notice?village={none}"), "", "找不到这个区域", "no such area"),
            case("/public/notice?from=2026-02-30".into(), r#"value="2026-02-30""#, "开始日期：", "From: "),
            case("/public/honours?month=2026-13".into(), r#"value="2026-13""#, "月份：", "Month: "),
        ];
        let admin = app.admin().await;
        check(&admin, &staff, false).await;
        // Beside its field, not only above the form.
        let page = admin.get(&format!("/notice?village_id={none}")).await;
        page.assert_contains(r#"data-field="field.village">所属村：找不到这个区域"#);
        admin.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        check(&admin, &staff, true).await;

        let anon = app.client();
        check(&anon, &public, false).await;
        let page = anon.get(&format!("/public/notice?village={none}")).await;
        page.assert_contains(r#"data-field="field.village">"#);
        // A village that is none in the address's path is no page.
        let page = anon.get(&format!("/public/notice/{none}")).await;
        assert_eq!(page.status, 404);
        anon.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        check(&anon, &public, true).await;
    }
}

app_test! {
    async fn an_enumerated_filter_value_outside_its_choices_is_refused_beside_its_field(app) {
        let counter = crate::counter::setup(&app, 10, 10);
        let store = counter.store.clone();
        let choose = |path: String| case(path, "", "请从列表中选择一项", "choose one from the list");
        let staff: Vec<Case> = vec![
            choose("/households?status=rich".into()),
            choose("/households?sort=age".into()),
            choose("/households?archived=yes".into()),
            choose("/households/cards?status=rich".into()),
            choose("/households/export.csv?sort=age".into()),
            choose(format!("/stores/{store}/movements?kind=gift")),
            choose("/review?tick=some".into()),
            choose("/awards/batch?tick=some".into()),
        ];
        let admin = app.admin().await;
        check(&admin, &staff, false).await;
        // Beside its own field on the households list.
        for (path, field) in [
            ("/households?status=rich", "field.status"),
            ("/households?sort=age", "households.sort"),
            ("/households?archived=yes", "households.archived"),
        ] {
            let page = admin.get(path).await;
            page.assert_contains(&format!(r#"data-field="{field}">"#));
        }
        // The values the form offers still filter.
        for ok in ["status=registered", "sort=newest", "archived=1", "status=脱贫户"] {
            let page = admin.get(&format!("/households?{ok}")).await;
            assert_eq!(page.status, 200, "{ok}: {}", page.body);
        }
        admin.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        check(&admin, &staff, true).await;
    }
}

app_test! {
    async fn every_period_that_ends_before_it_starts_is_refused_beside_its_end(app) {
        let counter = crate::counter::setup(&app, 10, 10);
        let store = counter.store.clone();
        let household = counter.household.clone();
        let back = "from=2026-02-01&to=2026-01-01";
        let backwards = |path: String| case(path, r#"value="2026-01-01""#, "结束日期不能早于开始日期", "must not be before the start date");
        let staff: Vec<Case> = vec![
            backwards(format!("/audit?{back}")),
            backwards(format!("/stores/{store}/movements?{back}")),
            case(format!("/stores/{store}/movements/export?format=csv&{back}"), "", "结束日期不能早于开始日期", "must not be before the start date"),
            backwards(format!("/households/{household}/statement?{back}")),
        ];
        let admin = app.admin().await;
        check(&admin, &staff, false).await;
        // The same day at both ends is a period.
        let page = admin.get("/audit?from=2026-01-01&to=2026-01-01").await;
        assert_eq!(page.status, 200, "{}", page.body);
        admin.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        check(&admin, &staff, true).await;
    }
}

app_test! {
    async fn a_store_or_village_out_of_reach_or_sent_twice_is_said_beside_its_field(app) {
        let counter = crate::counter::setup(&app, 10, 10);
        let store = counter.store.clone();
        let [_, _, _, elsewhere] = app.area_chain("别处");
        app.user("cadre", aixin::domain::Role::Official, Some(&counter.village), None);
        let none = "00000000-0000-4000-8000-000000000000";

        // A village outside the user's scope: a message, not an empty list.
        let cadre = app.client();
        cadre.login("cadre", PASSWORD).await;
        let page = cadre.get(&format!("/awards/batch?area_id={elsewhere}")).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"data-field="field.village""#);
        page.assert_contains("找不到这个区域");
        let page = cadre.get(&format!("/awards/batch?area_id={}", counter.village)).await;
        assert_eq!(page.status, 200, "{}", page.body);

        // A clerk asking for another store is told, not shown their own.
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        for (path, says) in [
            ("/counter?store_id=xyz".to_string(), "不是有效的编号"),
            (format!("/counter?store_id={none}"), "找不到这个超市"),
        ] {
            let page = clerk.get(&path).await;
            assert_eq!(page.status, 422, "{path}: {}", page.body);
            page.assert_contains(says);
        }
        let page = clerk.get(&format!("/counter?store_id={store}")).await;
        assert_eq!(page.status, 200, "{}", page.body);

        // An admin's store picker says it beside the store.
        let admin = app.admin().await;
        for (path, says) in [
            ("/counter?store_id=xyz".to_string(), "不是有效的编号"),
            (format!("/counter?store_id={none}"), "找不到这个超市"),
            (format!("/counter?store_id={store}&store_id={none}"), "填写了两次"),
        ] {
            let page = admin.get(&path).await;
            assert_eq!(page.status, 422, "{path}: {}", page.body);
            page.assert_contains(r#"data-field="store_id""#);
            page.assert_contains(says);
        }
        let page = admin.post("/counter/find", &[("store_id", &store), ("store_id", none), ("card", "")]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("填写了两次");

        // The monthly report names its area or store as the id filters do.
        for (path, says) in [
            ("/reports/monthly?area_id=xyz", "区域：不是有效的编号"),
            ("/reports/monthly?store_id=xyz", "超市：不是有效的编号"),
        ] {
            let page = admin.get(path).await;
            assert_eq!(page.status, 422, "{path}: {}", page.body);
            page.assert_contains(says);
        }

        // A field sent twice is said to be, whatever its first value.
        for path in ["/households?area_id=1&area_id=2", "/review?proposer=a&proposer=b"] {
            let page = admin.get(path).await;
            assert_eq!(page.status, 422, "{path}: {}", page.body);
            page.assert_contains("填写了两次");
            assert!(!page.body.contains("不是有效的编号"), "{path}: {}", page.body);
        }
    }
}

app_test! {
    /// A select's value outside its choices is refused beside the select
    /// (422), kept selected and flagged, never silently reset: the review
    /// queue's rule (one the picker does not offer), the households list's
    /// status and sort, a store history's kind.
    async fn a_refused_select_value_is_kept_beside_its_message(app) {
        let [_, _, town, _] = app.area_chain("选项");
        let store = app.store("选项超市", &town);
        let rule = app.rule("XZ01", "参加培训", 5, None);
        let admin = app.admin().await;
        let page = admin.get("/review?rule=NOPE").await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"data-field="field.rule">积分细则：请从列表中选择一项"#);
        page.assert_contains(r#"<option value="NOPE" selected class="refused""#);
        // The queue is not filtered by it: its decisions carry no rule.
        assert!(!page.body.contains(r#"name="rule" value="NOPE""#), "{}", page.body);
        let page = admin.get(&format!("/review?rule={rule}")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(!page.body.contains("class=\"refused\""), "{}", page.body);
        let page = admin.get("/households?status=rich&sort=oldest").await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"<option value="rich" selected class="refused""#);
        page.assert_contains(r#"<option value="oldest" selected class="refused""#);
        page.assert_contains(r#"data-field="field.status""#);
        page.assert_contains(r#"data-field="households.sort""#);
        let page = admin.get(&format!("/stores/{store}/movements?kind=gift")).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"<option value="gift" selected class="refused""#);
        page.assert_contains(r#"data-field="field.kind""#);
    }
}

app_test! {
    /// A list's filter errors stand each beside the field that is wrong,
    /// all of them in one answer, on the audit log and a store's history
    /// as on the households list; never one at a time in a banner.
    async fn filter_errors_stand_beside_their_fields_on_every_list(app) {
        let [_, _, town, _] = app.area_chain("旁边");
        let store = app.store("旁边超市", &town);
        let admin = app.admin().await;
        for list in ["/audit".to_string(), format!("/stores/{store}/movements")] {
            let page = admin.get(&format!("{list}?from=2026-02-30&to=2026-13-01")).await;
            assert_eq!(page.status, 422, "{list}: {}", page.body);
            page.assert_contains(r#"<span class="field-error" data-field="field.from">"#);
            page.assert_contains(r#"<span class="field-error" data-field="field.to">"#);
            page.assert_contains(r#"value="2026-02-30""#);
            assert!(!page.body.contains(r#"<div class="flash flash-error" role="alert">"#), "{list}: no banner: {}", page.body);
        }
    }
}

app_test! {
    /// A household form refused for a status, village or helper that is
    /// none of the choices shows each back, selected and marked, never
    /// another choice in its place: saving again would set a value nobody
    /// chose (a refused status came back as 建档立卡户).
    async fn a_household_form_shows_a_refused_choice_back_instead_of_another(app) {
        let [_, _, _, village] = app.area_chain("选回");
        let household = app.household("选回户", &village);
        let admin = app.admin().await;
        let page = admin
            .submit(&format!("/households/{household}"), &[
                ("head_name", "选回户"), ("area_id", "BADAREA"), ("helper_id", "BADHELPER"),
                ("members", "3"), ("status", "rich"),
                ("version", &app.version_of("households", &household)),
            ])
            .await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"<option value="rich" selected class="refused""#);
        page.assert_contains(r#"<option value="BADAREA" selected class="refused""#);
        page.assert_contains(r#"<option value="BADHELPER" selected class="refused""#);
        assert!(!page.body.contains(r#"<option value="registered" selected>"#), "{}", page.body);
        // A new household's form still starts at the first status.
        let page = admin.get("/households/new").await;
        assert_eq!(page.status, 200);
        page.assert_contains(r#"<option value="registered" selected>"#);
        assert!(!page.body.contains("class=\"refused\""), "{}", page.body);
    }
}

app_test! {
    /// A rule the list does not offer, on a proposal and on a batch award:
    /// shown back selected and marked beside its message.
    async fn a_refused_rule_is_shown_back_on_the_proposal_and_the_batch(app) {
        let [_, _, _, village] = app.area_chain("规则回");
        let household = app.household("规则回户", &village);
        app.rule("GH01", "打扫卫生", 5, None);
        let admin = app.admin().await;
        let today = aixin::time::today(chrono_tz::Asia::Shanghai).to_string();
        admin.get(&format!("/awards/new?household_id={household}")).await;
        let page = admin
            .post("/awards", &[
                ("household_id", household.as_str()), ("rule_code", "BOGUS"),
                ("occurred_on", &today), ("key", &uuid::Uuid::new_v4().to_string()),
            ])
            .await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"<option value="BOGUS" selected class="refused""#);
        admin.get(&format!("/awards/batch?area_id={village}")).await;
        let page = admin
            .post("/awards/batch", &[
                ("key", &uuid::Uuid::new_v4().to_string()), ("area_id", village.as_str()),
                ("rule_code", "BOGUS"), ("occurred_on", &today), ("household_id", household.as_str()),
            ])
            .await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"<option value="BOGUS" selected class="refused""#);
        // A rule the list offers is selected as itself, nothing marked.
        let page = admin.get(&format!("/awards/new?household_id={household}")).await;
        assert!(!page.body.contains("class=\"refused\""), "{}", page.body);
    }
}

app_test! {
    /// An unknown donor and an unknown item on a donation, and an item the
    /// movement history's filter does not offer: each shown back selected
    /// and marked, never the list's empty choice in its place.
    async fn a_refused_donor_or_item_is_shown_back(app) {
        let [_, _, town, _] = app.area_chain("物回");
        let store = app.store("物回超市", &town);
        let s = crate::stock::seed(&app, &store);
        let admin = app.admin().await;
        let form = admin.get(&format!("/stores/{store}/donations/new")).await;
        let key = crate::stock::key_for(&form.body, &format!("/stores/{store}/donations"));
        let today = aixin::time::today(chrono_tz::Asia::Shanghai).to_string();
        let page = admin
            .submit(&format!("/stores/{store}/donations"), &[
                ("key", &key), ("donor_id", "NODONOR"), ("donated_on", &today),
                ("item", "NOITEM"), ("quantity", "2"), ("value", ""),
                ("item", &s.items[0]), ("quantity", "1"), ("value", ""),
            ])
            .await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"<option value="NODONOR" selected class="refused""#);
        page.assert_contains(r#"<option value="NOITEM" selected class="refused""#);
        let page = admin.get(&format!("/stores/{store}/movements?item=0190a0a0-0000-7000-8000-000000000000")).await;
        page.assert_contains(r#"<option value="0190a0a0-0000-7000-8000-000000000000" selected class="refused""#);
        let page = admin.get(&format!("/stores/{store}/movements?item={}", s.items[0])).await;
        assert!(!page.body.contains("class=\"refused\""), "{}", page.body);
    }
}
