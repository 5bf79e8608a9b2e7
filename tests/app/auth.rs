//! Authentication and its edges: malformed requests in the app's voice,
//! tokens that end, throttles that hold, passwords people choose, card PINs,
//! control characters.

use aixin::db::schema::{api_tokens, users};
use aixin::domain::Role;
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::*;

/// A JSON call as a program makes it: (status, body).
async fn api(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut rb = reqwest::Client::new().request(method, app.url(path));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let res = rb.send().await.expect("the API answers");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A 12-hour login token for `username` (password PASSWORD).
async fn login_token(app: &TestApp, username: &str) -> String {
    let (s, body) = api(
        app,
        reqwest::Method::POST,
        "/api/v1/tokens",
        None,
        Some(json!({"username": username, "password": PASSWORD})),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    body["token"].as_str().unwrap().to_string()
}

app_test! {
    /// A malformed query, path or form answers the app's error page in the
    /// user's language (and the API its JSON error), never the framework's
    /// plain text.
    async fn malformed_requests_answer_in_the_apps_voice(app) {
        let admin = app.admin().await;
        // A page number that does not read is named on the list's page (422),
        // the first page shown with it.
        for path in ["/households?page=abc", "/households/cards?page=x", "/households?page=99999999999999999999", "/audit?page=x"] {
            let page = admin.get(path).await;
            assert_eq!(page.status, 422, "{path}: {}", page.body);
            page.assert_contains("页码：");
        }
        // A page's filter sent twice is its filter form with the message
        // (422), on every page (issue 18): never a bare error page.
        for path in ["/households/cards?sort=a&sort=b", "/households?q=a&q=b"] {
            let page = admin.get(path).await;
            assert_eq!(page.status, 422, "{path}: {}", page.body);
            let ct = page.headers.get("content-type").unwrap().to_str().unwrap();
            assert!(ct.starts_with("text/html"), "{path}: {ct}");
            page.assert_contains("填写了两次");
        }
        let page = admin.get("/households?q=a&q=b").await;
        page.assert_contains("查找：填写了两次");
        admin.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        let page = admin.get("/households/cards?sort=a&sort=b").await;
        assert_eq!(page.status, 422);
        page.assert_contains("was sent twice");
        // The API: its JSON error.
        let token = login_token(&app, "boss").await;
        for (path, field) in [
            ("/api/v1/households?page=abc", "page"),
            ("/api/v1/households?per_page=1.5", "per_page"),
            ("/api/v1/households?archived=perhaps", "archived"),
            ("/api/v1/households?status=nope", "status"),
            ("/api/v1/awards?status=%E2%80%AE", "status"),
        ] {
            let (s, body) = api(&app, reqwest::Method::GET, path, Some(&token), None).await;
            assert_eq!(s, 422, "{path}: {body}");
            assert_eq!(body["error"]["code"], "invalid", "{path}: {body}");
            assert_eq!(body["error"]["field"], field, "{path}: {body}");
            assert!(body["error"]["message"].as_str().unwrap().contains(field), "{body}");
        }
    }
}

/// Like `app_test!`, with 127.0.0.1 a trusted proxy, so that a test can
/// speak from several client addresses (X-Forwarded-For).
macro_rules! proxied_test {
    ($(#[$meta:meta])* async fn $name:ident($app:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            async fn scenario($app: $crate::helpers::TestApp) $body

            fn proxied(c: &mut aixin::config::Config) {
                c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::spawn_app_with($crate::helpers::Db::Sqlite, concat!(stringify!($name), "::sqlite"), proxied)
                    .await
                    .expect("SQLite is always available");
                scenario(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::helpers::spawn_app_with($crate::helpers::Db::Postgres, concat!(stringify!($name), "::postgres"), proxied).await {
                    scenario(app).await;
                }
            }
        }
    };
}

/// The secret of a token just made, as the profile page shows it (once).
fn new_secret(body: &str) -> String {
    body.split("<code id=\"new-token\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the secret on the page")
        .to_string()
}

fn token_count(app: &TestApp, user_id: &str) -> i64 {
    api_tokens::table
        .filter(api_tokens::user_id.eq(user_id))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

async fn works(app: &TestApp, token: &str) -> bool {
    let (s, _) = api(
        app,
        reqwest::Method::GET,
        "/api/v1/rules",
        Some(token),
        None,
    )
    .await;
    assert!(s == 200 || s == 401, "{s}");
    s == 200
}

app_test! {
    /// Named tokens end: they last the days chosen, making one asks for the
    /// password again, a new password ends every token, and disabling a
    /// user deletes theirs so that enabling them revives none.
    async fn api_tokens_end(app) {
        let admin = app.admin().await;
        let zhou = app.user("zhou", Role::Auditor, None, None);
        let c = app.client();
        c.login("zhou", PASSWORD).await;

        // The password again, or nothing is made; what was typed stays.
        let before = token_count(&app, &zhou);
        let page = c.post("/profile/tokens", &[("name", "扫码枪"), ("days", "90")]).await;
        assert_eq!(page.status, 422);
        page.assert_contains("当前密码不正确");
        page.assert_contains("value=\"扫码枪\"");
        let page = c.post("/profile/tokens", &[("name", "扫码枪"), ("days", "90"), ("password", "not-my-password")]).await;
        assert_eq!(page.status, 422);
        page.assert_contains("当前密码不正确");
        let page = c.post("/profile/tokens", &[("name", "扫码枪"), ("days", "400"), ("password", PASSWORD)]).await;
        assert_eq!(page.status, 422);
        page.assert_contains("有效期：应为 1 到 365 天");
        assert_eq!(token_count(&app, &zhou), before, "nothing made");

        // The choice is on the page, 90 days by default.
        let profile = c.get("/profile").await;
        profile.assert_contains("<option value=\"90\" selected>90 天</option>");
        profile.assert_contains("<option value=\"365\"");
        let page = c.post("/profile/tokens", &[("name", "扫码枪"), ("password", PASSWORD)]).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let named = new_secret(&page.body);
        // Typed full-width, as a Chinese input method may leave it.
        let page = c.post("/profile/tokens", &[("name", "月报"), ("days", "３０"), ("password", PASSWORD)]).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let monthly = new_secret(&page.body);
        let lifetimes: Vec<(Option<String>, chrono::NaiveDateTime, Option<chrono::NaiveDateTime>)> = api_tokens::table
            .filter(api_tokens::user_id.eq(&zhou))
            .select((api_tokens::name, api_tokens::created_at, api_tokens::expires_at))
            .load(&mut app.conn())
            .unwrap();
        for (name, created, expires) in &lifetimes {
            let days = (expires.expect("every token ends") - *created).num_days();
            match name.as_deref() {
                Some("扫码枪") => assert_eq!(days, 90),
                Some("月报") => assert_eq!(days, 30),
                other => panic!("{other:?}"),
            }
        }
        // The expiry is on the list.
        let listed = c.get("/profile").await;
        listed.assert_contains("到期时间");
        assert_eq!(listed.body.matches("class=\"expires\"").count(), 2);
        assert!(works(&app, &named).await && works(&app, &monthly).await);

        // Past its expiry (or without one, as before this change), a token is refused.
        diesel::update(api_tokens::table.filter(api_tokens::name.eq("月报")))
            .set(api_tokens::expires_at.eq(aixin::db::now() - chrono::Duration::minutes(1)))
            .execute(&mut app.conn())
            .unwrap();
        assert!(!works(&app, &monthly).await, "expired");
        c.get("/profile").await.assert_contains("已过期");
        diesel::update(api_tokens::table.filter(api_tokens::name.eq("月报")))
            .set(api_tokens::expires_at.eq(None::<chrono::NaiveDateTime>))
            .execute(&mut app.conn())
            .unwrap();
        assert!(!works(&app, &monthly).await, "no expiry, no entry");

        // Changing one's own password ends every token, named ones too.
        let login = login_token(&app, "zhou").await;
        assert!(works(&app, &login).await);
        c.get("/password").await;
        let page = c.submit("/password", &[("current", PASSWORD), ("new", "brand new words"), ("confirm", "brand new words")]).await;
        page.assert_contains("密码已修改");
        assert!(!works(&app, &named).await, "a named token ends with the password");
        assert!(!works(&app, &login).await, "so does a login token");

        // Disabling deletes the tokens; enabling revives none.
        let page = c.post("/profile/tokens", &[("name", "新扫码枪"), ("password", "brand new words")]).await;
        let fresh = new_secret(&page.body);
        assert!(works(&app, &fresh).await);
        admin.submit(&format!("/users/{zhou}/disable"), &[]).await;
        assert_eq!(token_count(&app, &zhou), 0, "deleted");
        admin.submit(&format!("/users/{zhou}/enable"), &[]).await;
        assert!(!works(&app, &fresh).await, "enabling revives no token");
        assert!(!works(&app, &named).await);
        let actions = app.audit_actions();
        assert!(actions.iter().any(|a| a == "token.create_refused"));
    }
}

app_test! {
    /// 60 wrong passwords at once from one address record exactly the
    /// limit (5): the count is taken before the password is checked, in one
    /// transaction; the right password is then refused from that address.
    async fn parallel_wrong_passwords_stop_at_the_limit(app) {
        app.user("boss", Role::Admin, None, None);
        let attempts = (0..60).map(|i| {
            let app = &app;
            async move {
                api(app, reqwest::Method::POST, "/api/v1/tokens", None,
                    Some(json!({"username": "boss", "password": format!("wrong-{i}")}))).await.0
            }
        });
        let statuses = futures_util::future::join_all(attempts).await;
        assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
        let mut conn = app.conn();
        use aixin::db::schema::{auth_throttles, login_failures};
        let counted: i64 = auth_throttles::table
            .find("login:boss|127.0.0.1")
            .select(auth_throttles::failures)
            .first(&mut conn)
            .unwrap();
        assert_eq!(counted, app.config.login_max_failures_account, "the count stays at the limit");
        let failed: i64 = login_failures::table.count().get_result(&mut conn).unwrap();
        assert_eq!(failed, app.config.login_max_failures_account, "only 5 passwords were tried");
        let (s, _) = api(&app, reqwest::Method::POST, "/api/v1/tokens", None,
            Some(json!({"username": "boss", "password": PASSWORD}))).await;
        assert_eq!(s, 401, "locked at this address");
        assert!(app.audit_actions().iter().any(|a| a == "auth.login_throttled"));
    }
}

/// POST the login form from `ip` (through the trusted proxy).
async fn login_from(app: &TestApp, c: &Client, ip: &str, username: &str, password: &str) -> Page {
    let token = c.csrf().await;
    let res = c
        .http
        .post(app.url("/login"))
        .header("X-Forwarded-For", ip)
        .form(&[
            ("csrf", token.as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let headers = res.headers().clone();
    Page {
        status,
        location,
        body: res.text().await.unwrap(),
        headers,
    }
}

proxied_test! {
    /// Five wrong passwords from a stranger's address lock the admin out at
    /// that address only: from their usual address the admin still logs in
    /// (slowed down a little, never locked).
    async fn a_stranger_cannot_lock_a_user_out(app) {
        app.user("boss", Role::Admin, None, None);
        let stranger = app.client();
        for _ in 0..5 {
            let page = login_from(&app, &stranger, "203.0.113.9", "boss", "guess-guess").await;
            assert_eq!(page.status, 401);
            page.assert_contains("登录失败");
        }
        let page = login_from(&app, &stranger, "203.0.113.9", "boss", PASSWORD).await;
        assert_eq!(page.status, 401, "locked at the stranger's address");
        page.assert_contains("登录失败");

        let boss = app.client();
        let started = std::time::Instant::now();
        let page = login_from(&app, &boss, "198.51.100.7", "boss", PASSWORD).await;
        assert_eq!(page.status, 303, "the usual address works: {}", page.body);
        assert!(started.elapsed() >= std::time::Duration::from_millis(400), "but slowed down");
        // The success forgave the slowdown (not the stranger's address).
        {
            use aixin::db::schema::auth_throttles;
            let keys: Vec<String> = auth_throttles::table
                .select(auth_throttles::key)
                .load(&mut app.conn())
                .unwrap();
            assert!(!keys.iter().any(|k| k == "login-acct:boss"), "{keys:?}");
            assert!(keys.iter().any(|k| k == "login:boss|203.0.113.9"), "{keys:?}");
        }
        let again = app.client();
        assert_eq!(login_from(&app, &again, "198.51.100.7", "boss", PASSWORD).await.status, 303);
        // The stranger's address stays locked for the window.
        let page = login_from(&app, &stranger, "203.0.113.9", "boss", PASSWORD).await;
        assert_eq!(page.status, 401);
    }
}

proxied_test! {
    /// Card PINs are throttled by the same mechanism: parallel guesses from
    /// one address stop at the limit, and the household's own phone on
    /// another address still reads its balance.
    async fn card_pin_guesses_stop_at_the_limit(app) {
        let [_, _, _, village] = app.area_chain("西");
        let (_household, card) = app.household_with_id("周小梅", &village, &test_id_number());
        let pin = aixin::households::card_pin(&mut app.conn(), &app.key, &card).unwrap().unwrap();
        let wrong = if pin == "000000" { "111111" } else { "000000" };
        let ask = |ip: &'static str, pin: String| {
            let body = json!({"card_no": card, "pin": pin});
            let url = app.url("/api/v1/card");
            async move {
                reqwest::Client::new().post(url).header("X-Forwarded-For", ip).json(&body)
                    .send().await.unwrap().status().as_u16()
            }
        };
        let statuses = futures_util::future::join_all((0..60).map(|_| ask("203.0.113.9", wrong.to_string()))).await;
        assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 5, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 55);
        use aixin::db::schema::{auth_throttles, card_failures};
        let failed: i64 = card_failures::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(failed, 5);
        let key = format!("card:{card}|203.0.113.9");
        let counted: i64 = auth_throttles::table.find(&key).select(auth_throttles::failures).first(&mut app.conn()).unwrap();
        assert_eq!(counted, 5);
        assert_eq!(ask("203.0.113.9", pin.clone()).await, 429, "that address waits");
        assert_eq!(ask("198.51.100.7", pin.clone()).await, 200, "the household's own phone does not");
    }
}

app_test! {
    /// Passwords people actually choose are refused with a clear message:
    /// the common ones and one's own names, on every path that sets one.
    async fn common_passwords_and_own_names_are_refused(app) {
        let admin = app.admin().await;
        let before: i64 = users::table.count().get_result(&mut app.conn()).unwrap();
        let page = admin.submit("/users", &[("username", "zhang"), ("role", "auditor"), ("password", "12345678")]).await;
        page.assert_contains("密码：太常见，很容易被猜到");
        let page = admin.submit("/users", &[("username", "zhang.wei"), ("role", "auditor"), ("password", "zhang.wei")]).await;
        page.assert_contains("密码：不能与用户名或显示名称相同或相近");
        let page = admin.submit("/users", &[("username", "zhangwei"), ("display_name", "张伟的爱心超市账号"), ("role", "auditor"), ("password", "张伟的爱心超市账号")]).await;
        page.assert_contains("不能与用户名或显示名称相同或相近");
        let after: i64 = users::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(before, after, "nothing created");

        // An admin's reset, and one's own change.
        let li = app.user("li.ming", Role::Auditor, None, None);
        let page = admin.submit(&format!("/users/{li}/password"), &[("password", "Password1")]).await;
        page.assert_contains("太常见");
        let c = app.client();
        c.login("li.ming", PASSWORD).await;
        c.get("/password").await;
        let page = c.submit("/password", &[("current", PASSWORD), ("new", "li.ming2024"), ("confirm", "li.ming2024")]).await;
        page.assert_contains("新密码：不能与用户名或显示名称相同或相近");
        let page = c.submit("/password", &[("current", PASSWORD), ("new", "iloveyou"), ("confirm", "iloveyou")]).await;
        page.assert_contains("新密码：太常见");
        assert!(!c.get("/").await.body.is_empty());
        c.login("li.ming", PASSWORD).await;

        // The API too, in the caller's language.
        let token = login_token(&app, "boss").await;
        let (s, body) = api(&app, reqwest::Method::POST, "/api/v1/users", Some(&token),
            Some(json!({"username": "wang.fang", "role": "auditor", "password": "qwertyuiop"}))).await;
        assert_eq!(s, 422, "{body}");
        assert_eq!(body["error"]["field"], "password");

        // The demo's password and the tests' still pass.
        let page = c.submit("/password", &[("current", PASSWORD), ("new", aixin::demo::DEMO_PASSWORD), ("confirm", aixin::demo::DEMO_PASSWORD)]).await;
        page.assert_contains("密码已修改");
    }
}

/// The PIN printed on the page, if any.
fn pin_on(page: &Page) -> Option<String> {
    page.body
        .split("<p class=\"pin\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .map(|t| t.chars().filter(char::is_ascii_digit).collect())
}

app_test! {
    /// A card's PIN is shown only to an admin or the household's own
    /// official printing the card, each showing audited; an official can
    /// reset it. Auditors and reviewers see the card without it.
    async fn card_pins_are_secret(app) {
        let admin = app.admin().await;
        let [_, _, town, village] = app.area_chain("东");
        let (household, card) = app.household_with_id("吴桂兰", &village, &test_id_number());
        let pin = aixin::households::card_pin(&mut app.conn(), &app.key, &card).unwrap().unwrap();
        app.user("off", Role::Official, Some(&village), None);
        app.user("rev", Role::Reviewer, Some(&town), None);
        app.user("aud", Role::Auditor, None, None);
        let path = format!("/households/{household}/card");

        for who in ["aud", "rev"] {
            let c = app.client();
            c.login(who, PASSWORD).await;
            let page = c.get(&path).await;
            assert_eq!(page.status, 200, "{who}");
            assert!(!page.body.contains(&pin), "{who} must not read the PIN");
            assert_eq!(pin_on(&page), None);
            page.assert_contains("查询密码只在打印或补办卡片时显示");
            let sheet = c.get("/households/cards").await;
            assert!(!sheet.body.contains(&pin), "{who}: nor on the sheet");
            let reset = c.post(&format!("{path}/pin"), &[]).await;
            assert_eq!(reset.status, 403, "{who} cannot reset it");
        }
        let shown_before = app.audit_actions().iter().filter(|a| *a == "card.pin_shown").count();
        assert_eq!(shown_before, 0);
        assert_eq!(pin_on(&admin.get(&path).await).as_deref(), Some(pin.as_str()));
        let official = app.client();
        official.login("off", PASSWORD).await;
        assert_eq!(pin_on(&official.get(&path).await).as_deref(), Some(pin.as_str()));
        let shown = app.audit_actions().iter().filter(|a| *a == "card.pin_shown").count();
        assert_eq!(shown, 2, "each showing audited");

        // The official resets it: the old PIN stops working, the new one is printed.
        let done = official.post(&format!("{path}/pin"), &[]).await;
        assert_eq!(done.status, 303);
        assert_eq!(done.location.as_deref(), Some(path.as_str()));
        let page = official.follow(&path).await;
        page.assert_contains("已重置查询密码");
        let new_pin = pin_on(&page).expect("the new PIN on the card");
        assert_ne!(new_pin, pin);
        let read = |p: String| {
            let body = json!({"card_no": card, "pin": p});
            let url = app.url("/api/v1/card");
            async move { reqwest::Client::new().post(url).json(&body).send().await.unwrap().status().as_u16() }
        };
        assert_eq!(read(pin.clone()).await, 401);
        assert_eq!(read(new_pin.clone()).await, 200);
        assert!(app.audit_actions().iter().any(|a| a == "card.pin_reset"));
    }
}

app_test! {
    /// Text fields refuse control characters: the field's parser names the
    /// field beside it, on the form with what was typed, and nothing changes.
    async fn control_characters_are_refused(app) {
        let admin = app.admin().await;
        let [_, _, town, _] = app.area_chain("北");
        use aixin::db::schema::stores;
        let before: i64 = stores::table.count().get_result(&mut app.conn()).unwrap();
        let page = admin.post("/stores", &[("name", "北村\u{7}超市"), ("area_id", &town), ("address", "一组 1 号")]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("超市名称：不能包含控制字符");
        page.assert_contains(r#"<span class="field-error" data-field="field.store_name">"#);
        page.assert_contains(r#"value="一组 1 号""#);
        let page = admin.post("/stores", &[("name", "北村超市"), ("area_id", &town), ("address", "一组\u{202E}1号")]).await;
        assert_eq!(page.status, 422);
        page.assert_contains("地址：不能包含控制字符");
        page.assert_contains(r#"value="北村超市""#);
        admin.post("/lang", &[("lang", "en"), ("back", "/stores")]).await;
        let page = admin.post("/stores", &[("name", "北村超市"), ("area_id", &town), ("address", "a\u{1b}[31m")]).await;
        assert_eq!(page.status, 422);
        page.assert_contains("must not contain control characters");
        admin.post("/lang", &[("lang", "zh-CN"), ("back", "/stores")]).await;
        let after: i64 = stores::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(before, after, "nothing created");
        // The API: every string of a JSON body, the field named.
        let token = login_token(&app, "boss").await;
        let (s, body) = api(&app, reqwest::Method::POST, "/api/v1/areas", Some(&token),
            Some(json!({"name": "东\u{7}村", "parent_id": town}))).await;
        assert_eq!(s, 422, "{body}");
        assert_eq!(body["error"]["field"], "name");
        // Line breaks in multi-line text are kept.
        let page = admin.submit("/stores", &[("name", "北村超市"), ("area_id", &town), ("address", "一组\r\n1号")]).await;
        assert!(page.status == 200, "{}", page.body);
        let after: i64 = stores::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(after, before + 1);
    }
}

app_test! {
    /// A sheet of cards with their PINs is one line in the audit log, with
    /// how many and which, read as a sentence; never a line per card.
    async fn a_sheet_of_card_pins_is_one_audit_line(app) {
        let admin = app.admin().await;
        let [_, _, _, village] = app.area_chain("张");
        for name in ["甲一", "甲二", "甲三"] {
            app.household(name, &village);
        }
        let sheet = admin.get("/households/cards").await;
        assert_eq!(sheet.status, 200, "{}", sheet.body);
        assert_eq!(sheet.body.matches("<p class=\"pin\">").count(), 3, "each card with its PIN");
        let actions = app.audit_actions();
        assert_eq!(actions.iter().filter(|a| *a == "card.pin_shown").count(), 0);
        assert_eq!(actions.iter().filter(|a| *a == "card.pins_shown").count(), 1);
        let log = admin.get("/audit").await;
        log.assert_contains("查看了一页积分卡的初始密码");
        log.assert_contains("3 张，卡号");
    }
}
