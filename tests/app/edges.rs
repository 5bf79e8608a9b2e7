//! Edges found by trying the app as an attacker would: each a refusal with
//! a message naming the field, never a 5xx, never a leak.

use aixin::domain::Role;
use serde_json::{Value, json};

use crate::helpers::*;

async fn token(app: &TestApp, username: &str) -> String {
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/tokens"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    body["token"].as_str().expect("a token").to_string()
}

async fn api_post(app: &TestApp, token: &str, key: &str, path: &str, body: Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(app.url(path))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

app_test! {
    async fn sizes_that_do_not_fit_and_dates_to_come_are_refused(app) {
        let [_, _, town, _] = app.area_chain("边界");
        let store = app.store("边界超市", &town);
        let goods = crate::stock::seed(&app, &store);
        app.user("boss", Role::Admin, None, None);
        let t = token(&app, "boss").await;
        for (i, q) in [i64::MIN, i64::MAX, 1_000_001, -1_000_001].into_iter().enumerate() {
            let (s, body) = api_post(&app, &t, &format!("adj-{i}"), "/api/v1/stock-movements", json!({
                "kind": "adjustment", "store_id": store, "item_id": goods.items[0], "quantity": q, "reason": "盘错"
            })).await;
            assert_eq!((s, body["error"]["field"].as_str()), (422, Some("quantity")), "{q}: {body}");
        }
        // A donation dated after today posts nothing.
        let (s, body) = api_post(&app, &t, "don-future", "/api/v1/donations", json!({
            "store_id": store, "donor_id": goods.donor, "received_on": "2099-01-01",
            "lines": [{"item_id": goods.items[0], "quantity": 1}]
        })).await;
        assert_eq!((s, body["error"]["field"].as_str()), (422, Some("received_on")), "{body}");
        // A reason of invisible characters is no reason.
        let (s, body) = api_post(&app, &t, "wo-blank", "/api/v1/stock-movements", json!({
            "kind": "write_off", "store_id": store, "item_id": goods.items[0], "quantity": 1, "reason": "\u{200B}\u{FEFF} "
        })).await;
        assert_eq!((s, body["error"]["field"].as_str()), (422, Some("reason")), "{body}");
    }
}

app_test! {
    async fn a_household_page_closes_with_its_card_and_tells_nothing_of_cards(app) {
        let [_, _, _, village] = app.area_chain("换卡");
        let (household, card) = app.household_with_id("赵六", &village, &test_id_number());
        let pin = aixin::households::card_pin(&mut app.conn(), &app.key, &card).unwrap().unwrap();
        let h = app.client();
        h.submit("/h/login", &[("card_no", &card), ("pin", &pin)]).await.assert_contains("id=\"balance\"");
        // The card is lost and reissued: the page opened with it closes.
        app.user("h-official", Role::Official, Some(&village), None);
        let official = app.client();
        official.login("h-official", PASSWORD).await;
        assert_eq!(official.post(&format!("/households/{household}/card"), &[]).await.status, 303);
        let after = h.get("/h").await;
        assert!(!after.body.contains("id=\"balance\""), "the old card's session ended");
        // A card without a PIN answers as a wrong PIN does.
        let (_, other) = app.household_with_id("钱七", &village, &test_id_number());
        {
            use aixin::db::schema::points_cards;
            use diesel::prelude::*;
            diesel::update(points_cards::table.find(&other))
                .set(points_cards::pin_cipher.eq(None::<String>))
                .execute(&mut app.conn())
                .unwrap();
        }
        let c = app.client();
        let no_pin = c.post("/h/login", &[("card_no", &other), ("pin", "135790")]).await;
        let unknown = c.post("/h/login", &[("card_no", "1234567897"), ("pin", "135790")]).await;
        assert_eq!((no_pin.status, unknown.status), (401, 401));
    }
}

app_test! {
    /// A JSON write is taken only as JSON: a cross-site page can post
    /// `text/plain` or a form without asking, so PIN guesses and logins sent
    /// so are refused (415, the API's JSON error) before anything is read.
    async fn json_writes_take_json_only(app) {
        let [_, _, _, village] = app.area_chain("类型");
        let household = app.household("类型户", &village);
        let card: String = {
            use aixin::db::schema::points_cards;
            use diesel::prelude::*;
            points_cards::table
                .filter(points_cards::household_id.eq(&household))
                .select(points_cards::card_no)
                .first(&mut app.conn())
                .unwrap()
        };
        app.user("boss", Role::Admin, None, None);
        let http = reqwest::Client::new();
        let guess = json!({"card_no": card, "pin": "000000"}).to_string();
        for ct in ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
            let res = http.post(app.url("/api/v1/card")).header("Content-Type", ct).body(guess.clone()).send().await.unwrap();
            assert_eq!(res.status().as_u16(), 415, "{ct}");
            assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["error"]["code"], "unsupported_media_type", "{body}");
        }
        let res = http.post(app.url("/api/v1/card")).body(guess.clone()).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 415, "no Content-Type at all");
        {
            use aixin::db::schema::card_failures;
            use diesel::prelude::*;
            let n: i64 = card_failures::table.count().get_result(&mut app.conn()).unwrap();
            assert_eq!(n, 0, "no guess was counted: none was read");
        }
        // A login sent as a form, and a write with a token: refused too.
        let res = http.post(app.url("/api/v1/tokens")).header("Content-Type", "text/plain")
            .body(json!({"username": "boss", "password": PASSWORD}).to_string()).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 415);
        let t = token(&app, "boss").await;
        let res = http.post(app.url("/api/v1/areas")).bearer_auth(&t).header("Content-Type", "text/plain")
            .body(json!({"name": "某市"}).to_string()).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 415);
        // JSON with its charset is JSON; a wrong PIN is then a 401.
        let res = http.post(app.url("/api/v1/card")).header("Content-Type", "application/json; charset=utf-8")
            .body(guess).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 401);
        // The description says so for every operation with a body.
        let doc: Value = http.get(app.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                if op.get("requestBody").is_some() {
                    assert!(op["responses"].get("415").is_some(), "{method} {path}");
                }
            }
        }
    }
}

app_test! {
    /// HEAD answers as GET does, without the body: the same status and
    /// headers, on public pages, logged-in pages and redirects alike.
    async fn head_answers_like_get_without_a_body(app) {
        let admin = app.admin().await;
        for path in ["/login", "/healthz", "/public/rules", "/households", "/", "/static/css/app.css"] {
            let get = admin.http.get(app.url(path)).send().await.unwrap();
            let head = admin.http.head(app.url(path)).send().await.unwrap();
            assert_eq!(head.status(), get.status(), "{path}");
            assert_ne!(head.status().as_u16(), 404, "{path}");
            assert_eq!(head.headers().get("content-type"), get.headers().get("content-type"), "{path}");
            assert!(head.bytes().await.unwrap().is_empty(), "{path}");
        }
        // Logged out: the same redirect to the login page as a GET.
        let stranger = app.client();
        let head = stranger.http.head(app.url("/households")).send().await.unwrap();
        assert_eq!(head.status().as_u16(), 303);
        assert!(head.headers()["location"].to_str().unwrap().contains("/login"));
        // Still not a way to change anything: POST routes do not answer HEAD
        // (405, naming the method they take).
        let head = stranger.http.head(app.url("/logout")).send().await.unwrap();
        assert_eq!(head.status().as_u16(), 405);
        assert_eq!(head.headers()["allow"], "POST");
    }
}

app_test! {
    /// Dates in the API's bodies are read as typed: full-width digits too.
    async fn full_width_dates_in_the_api_are_read_as_dates(app) {
        let [_, _, town, _] = app.area_chain("全角");
        let store = app.store("全角超市", &town);
        let goods = crate::stock::seed(&app, &store);
        app.user("boss", Role::Admin, None, None);
        let t = token(&app, "boss").await;
        let day = crate::stock::today().to_string();
        let wide: String = day
            .chars()
            .map(|c| match c {
                '0'..='9' => char::from_u32(c as u32 + 0xFEE0).unwrap(),
                '-' => '－',
                c => c,
            })
            .collect();
        let (s, body) = api_post(&app, &t, "don-wide", "/api/v1/donations", json!({
            "store_id": store, "donor_id": goods.donor, "received_on": wide,
            "lines": [{"item_id": goods.items[0], "quantity": 1}]
        })).await;
        assert_eq!(s, 201, "{body}");
        assert_eq!(body["received_on"], day.as_str(), "{body}");
        let (s, body) = api_post(&app, &t, "don-bad", "/api/v1/donations", json!({
            "store_id": store, "donor_id": goods.donor, "received_on": "昨天",
            "lines": [{"item_id": goods.items[0], "quantity": 1}]
        })).await;
        assert_eq!((s, body["error"]["field"].as_str()), (422, Some("received_on")), "{body}");
    }
}

app_test! {
    /// What people type is shown as text, never run: a household named like
    /// a script is escaped on its page; no page may be framed or opened
    /// into another's window; the script keeps nothing in the browser.
    async fn pages_escape_what_was_typed_and_cannot_be_framed(app) {
        let [_, _, _, village] = app.area_chain("转义");
        let household = app.household("<i>王</i>", &village);
        let admin = app.admin().await;
        let page = admin.get(&format!("/households/{household}")).await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("<i>王</i>"), "the name is not markup");
        page.assert_contains("&#60;i&#62;王&#60;/i&#62;");
        for (name, value) in [
            ("x-frame-options", "DENY"),
            ("cross-origin-opener-policy", "same-origin"),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "same-origin"),
        ] {
            assert_eq!(page.headers.get(name).map(|v| v.to_str().unwrap()), Some(value), "{name}");
        }
        let csp = page.headers.get("content-security-policy").unwrap().to_str().unwrap();
        assert!(csp.contains("default-src 'self'") && csp.contains("object-src 'none'"), "{csp}");
        let js = admin.get("/static/js/app.js").await;
        assert_eq!(js.status, 200);
        assert!(!js.body.contains("localStorage") && !js.body.contains("sessionStorage"));
    }
}

app_test! {
    async fn a_field_sent_twice_or_a_form_too_large_is_refused_plainly(app) {
        let [_, _, _, village] = app.area_chain("重复");
        app.user("li", Role::Official, Some(&village), None);
        let c = app.client();
        c.login("li", PASSWORD).await;
        let before = count_households(&app);
        // A field sent twice names the field (422), in both languages.
        let page = c.post("/households", &[
            ("head_name", "甲"), ("head_name", "乙"), ("id_number", &test_id_number()),
            ("area_id", &village), ("members", "2"),
        ]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("户主姓名");
        page.assert_contains("填写了两次");
        // A form over the limit: a page saying so and naming the limit,
        // with the way back to the page it came from; nothing saved.
        let notes = "很".repeat(100_000);
        let token = c.csrf().await;
        let res = c
            .http
            .post(app.url("/households"))
            .header("Referer", app.url("/households/new"))
            .form(&[("csrf", token.as_str()), ("head_name", "丙"), ("notes", &notes)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 413);
        let body = res.text().await.unwrap();
        assert!(body.contains("表单太大") && body.contains("256 KiB"), "{body}");
        assert!(body.contains("href=\"/households/new\""), "{body}");
        assert_eq!(count_households(&app), before);
    }
}

fn count_households(app: &TestApp) -> i64 {
    use aixin::db::schema::households;
    use diesel::prelude::*;
    households::table
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

app_test! {
    async fn a_setting_or_export_format_not_offered_is_refused_naming_it(app) {
        let [_, _, town, _] = app.area_chain("格式");
        let store = app.store("格式超市", &town);
        app.user("boss", Role::Admin, None, None);
        let c = app.client();
        c.login("boss", PASSWORD).await;
        // A setting that is not one of its choices: the form again, named.
        let page = c.post("/stocktake-settings", &[("show_expected", "abc")]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("盘点表上显示账面数量：请从列表中选择一项");
        assert!(!page.body.contains("设置已保存"), "{}", page.body);
        assert_eq!(c.post("/stocktake-settings", &[("show_expected", "1")]).await.status, 303);
        // An export format not offered names it and the ones that are.
        let page = c.get(&format!("/stores/{store}/movements/export?format=pdf")).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("导出格式：不支持“pdf”，只能导出为 CSV 或 XLSX");
        c.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        let page = c.get(&format!("/stores/{store}/movements/export?format=pdf")).await;
        page.assert_contains("the accepted formats are CSV and XLSX");
    }
}

app_test! {
    /// A NUL (or another control character) in a filter, a search box or an
    /// API query parameter is named as a control character on its field
    /// (422); it never reaches the database (PostgreSQL refuses NUL in text).
    async fn a_nul_in_a_filter_search_or_api_query_is_named_never_a_500(app) {
        let [_, _, town, village] = app.area_chain("空字");
        app.household("空字户", &village);
        let admin = app.admin().await;
        for path in ["/households?q=%00", "/households?q=a%00b&status=", "/households?q=%01", "/households?area_id=%00"] {
            let page = admin.get(path).await;
            assert_eq!(page.status, 422, "{path}: {}", page.body);
            page.assert_contains("不能包含控制字符");
        }
        let page = admin.get("/households?q=%00").await;
        page.assert_contains(r#"data-field="households.search">查找：不能包含控制字符"#);
        // The list's search box, posted.
        admin.get("/households").await;
        let page = admin.post("/households/find", &[("q", "空字\u{0}")]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("查找：不能包含控制字符");
        // Other lists' filters too.
        for path in ["/users?q=%00", "/donors?q=%00"] {
            let page = admin.get(path).await;
            assert_eq!(page.status, 422, "{path}: {}", page.body);
            page.assert_contains("不能包含控制字符");
        }
        // The counter's look-up, in its address and in its box.
        let store = app.store("空字超市", &town);
        app.user("clerk", Role::Clerk, None, Some(&store));
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        let page = clerk.get("/counter?card=%00").await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("卡号：不能包含控制字符");
        let page = clerk.post("/counter/find", &[("store_id", store.as_str()), ("card", "张\u{0}")]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("卡号：不能包含控制字符");
        // The API: the parameter named, in the API's JSON error.
        let t = token(&app, "boss").await;
        for q in ["q=%00", "q=a%00", "status=%00"] {
            let res = reqwest::Client::new()
                .get(app.url(&format!("/api/v1/households?{q}")))
                .bearer_auth(&t)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status().as_u16(), 422, "{q}");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["error"]["field"], q.split('=').next().unwrap(), "{q}: {body}");
        }
    }
}
