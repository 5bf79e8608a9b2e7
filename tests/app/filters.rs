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
