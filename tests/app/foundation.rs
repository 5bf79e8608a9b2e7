//! Logging in, sessions, CSRF, users, areas, the audit log, error pages.

use aixin::db::schema::{sessions, users};
use aixin::domain::Role;
use diesel::prelude::*;

use crate::helpers::*;

app_test! {
    async fn login_lands_on_home_and_logout_ends_the_session(app) {
        app.user("wang", Role::Admin, None, None);
        let c = app.client();
        let page = c.follow("/").await;
        assert!(page.body.contains("name=\"password\""), "anonymous visitors see the login form");
        let login = c.login("wang", PASSWORD).await;
        let home = c.get("/").await;
        assert_eq!(home.status, 200);
        home.assert_contains("id=\"welcome\"");
        home.assert_contains("管理员");
        assert_eq!(home.headers.get("cache-control").unwrap(), "no-store");

        // The session cookie, copied before logout, is dead afterwards.
        let cookie = session_token(&login);
        let out = c.post("/logout", &[]).await;
        assert_eq!(out.status, 303);
        assert_eq!(out.location.as_deref(), Some("/login"));
        let stale = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
            .get(app.url("/")).header("cookie", format!("aixin_session={cookie}")).send().await.unwrap();
        assert_eq!(stale.status().as_u16(), 303, "a logged-out session must not work");
        let n: i64 = sessions::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 0);
        let actions = app.audit_actions();
        assert!(actions.contains(&"auth.login".to_string()));
        assert!(actions.contains(&"auth.logout".to_string()));
    }
}

/// The session token a login response set.
fn session_token(login: &Page) -> String {
    let cookie = login
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("aixin_session="))
        .expect("login sets the session cookie");
    cookie["aixin_session=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

app_test! {
    async fn a_new_login_renews_the_session_id(app) {
        app.user("wang", Role::Admin, None, None);
        let c = app.client();
        c.login("wang", PASSWORD).await;
        let first: Vec<String> = sessions::table.select(sessions::id).load(&mut app.conn()).unwrap();
        c.login("wang", PASSWORD).await;
        let second: Vec<String> = sessions::table.select(sessions::id).load(&mut app.conn()).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(second.len(), 1, "the old session ends when the same browser logs in again");
        assert_ne!(first, second);
    }
}

app_test! {
    async fn a_generated_password_must_be_changed_first(app) {
        let admin = app.admin().await;
        let [_, _, _, village] = app.area_chain("历城");
        let page = admin.post("/users", &[("username", "li.official"), ("role", "official"), ("area_id", &village)]).await;
        assert_eq!(page.status, 200);
        page.assert_contains("id=\"new-password\"");
        let at = page.body.find("id=\"new-password\">").unwrap() + "id=\"new-password\">".len();
        let password = page.body[at..at + 19].to_string();

        let official = app.client();
        let login = official.login("li.official", &password).await;
        assert_eq!(login.location.as_deref(), Some("/password"));
        let home = official.get("/").await;
        assert_eq!(home.status, 303);
        assert_eq!(home.location.as_deref(), Some("/password"));

        // Mismatched confirmation: refused, naming the field.
        let bad = official.submit("/password", &[("current", &password), ("new", "a new passphrase"), ("confirm", "another")]).await;
        bad.assert_contains("确认新密码");
        let ok = official.submit("/password", &[("current", &password), ("new", "a new passphrase"), ("confirm", "a new passphrase")]).await;
        assert_eq!(ok.status, 200);
        ok.assert_contains("id=\"welcome\"");
        ok.assert_contains("历城村");

        // The official is refused the users page, with a Chinese 403 page.
        let refused = official.get("/users").await;
        assert_eq!(refused.status, 403);
        refused.assert_contains("无权访问");
        refused.assert_contains("class=\"request-id\"");
        assert!(app.audit_actions().contains(&"access.denied".to_string()));
    }
}

app_test! {
    async fn wrong_passwords_are_throttled_per_account(app) {
        app.user("zhao", Role::Clerk, None, None);
        let c = app.client();
        c.get("/login").await;
        for _ in 0..5 {
            let page = c.post("/login", &[("username", "zhao"), ("password", "wrong-password")]).await;
            assert_eq!(page.status, 401);
            page.assert_contains("value=\"zhao\"");
            assert!(!page.body.contains("wrong-password"), "the password is never typed back");
            page.assert_contains("登录失败");
        }
        // Now even the right password is refused, with the same message.
        let page = c.post("/login", &[("username", "zhao"), ("password", PASSWORD)]).await;
        assert_eq!(page.status, 401);
        page.assert_contains("登录失败");
        assert!(app.audit_actions().contains(&"auth.login_throttled".to_string()));
        // An unknown account answers exactly the same way.
        let page = c.post("/login", &[("username", "nobody"), ("password", PASSWORD)]).await;
        assert_eq!(page.status, 401);
        page.assert_contains("登录失败");
        // Text no name holds (a direction override) is refused the same way.
        let page = c.post("/login", &[("username", "zhao\u{202e}"), ("password", "x")]).await;
        assert_eq!(page.status, 401);
        page.assert_contains("登录失败");
        page.assert_contains("id=\"username\"");
    }
}

app_test! {
    async fn failures_from_one_address_are_throttled_across_accounts(app) {
        app.user("qian", Role::Auditor, None, None);
        let c = app.client();
        c.get("/login").await;
        for i in 0..20 {
            let name = format!("guess{i}");
            c.post("/login", &[("username", name.as_str()), ("password", "x-wrong-x")]).await;
        }
        let page = c.post("/login", &[("username", "qian"), ("password", PASSWORD)]).await;
        assert_eq!(page.status, 401, "the address is throttled, so the right password is refused too");
        page.assert_contains("登录失败");
    }
}

app_test! {
    async fn forms_without_the_csrf_token_are_refused(app) {
        let admin = app.admin().await;
        let before: i64 = users::table.count().get_result(&mut app.conn()).unwrap();
        let page = admin.post_raw("/users", &[("username", "mallory"), ("role", "admin"), ("password", "whatever-123")]).await;
        assert_eq!(page.status, 403);
        let page = admin.post_raw("/users", &[("csrf", "0000"), ("username", "mallory"), ("role", "admin")]).await;
        assert_eq!(page.status, 403);
        let after: i64 = users::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(before, after, "nothing was created");
        // The login form needs its token too.
        let anon = app.client();
        let page = anon.post_raw("/login", &[("username", "boss"), ("password", PASSWORD)]).await;
        assert_eq!(page.status, 403);
        // Logout by GET does nothing (405: the address takes POST only).
        let page = admin.get("/logout").await;
        assert_eq!(page.status, 405);
        assert_eq!(admin.get("/").await.status, 200);
    }
}

app_test! {
    async fn bad_user_input_names_the_field_and_changes_nothing(app) {
        let admin = app.admin().await;
        let [_, _, _, village] = app.area_chain("章丘");
        let before: i64 = users::table.count().get_result(&mut app.conn()).unwrap();
        let page = admin.submit("/users", &[("username", "a b"), ("role", "official"), ("area_id", &village)]).await;
        page.assert_contains("用户名：应为 2 到 32 个");
        let page = admin.submit("/users", &[("username", "zhang"), ("role", "official")]).await;
        page.assert_contains("负责区域：帮扶干部和审核人必须指定负责区域");
        let page = admin.submit("/users", &[("username", "zhang"), ("role", "clerk")]).await;
        page.assert_contains("所属超市：");
        let page = admin.submit("/users", &[("username", "zhang"), ("role", "king")]).await;
        page.assert_contains("角色：");
        let page = admin.submit("/users", &[("username", "zhang"), ("role", "auditor"), ("password", "short")]).await;
        page.assert_contains("密码：至少需要 8 个字符");
        let page = admin.submit("/users", &[("username", "boss"), ("role", "auditor"), ("password", "long enough")]).await;
        page.assert_contains("用户名“boss”已被使用");
        let after: i64 = users::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(before, after);

        // In English, the same messages in English.
        admin.post("/lang", &[("lang", "en"), ("back", "/users")]).await;
        let page = admin.submit("/users", &[("username", "zhang"), ("role", "official")]).await;
        page.assert_contains("Area: officials and reviewers need an area");
    }
}

app_test! {
    async fn changing_role_or_disabling_ends_the_users_sessions(app) {
        let admin = app.admin().await;
        let [_, _, town, village] = app.area_chain("槐荫");
        let official_id = app.user("sun", Role::Official, Some(&village), None);
        let official = app.client();
        official.login("sun", PASSWORD).await;
        assert_eq!(official.get("/").await.status, 200);

        let page = admin.submit(&format!("/users/{official_id}/assign"), &[("role", "reviewer"), ("area_id", &town), ("version", &app.version_of("users", &official_id))]).await;
        page.assert_contains("已保存");
        assert_eq!(official.get("/").await.status, 303, "role change ends the session");
        let role: String = users::table.find(&official_id).select(users::role).first(&mut app.conn()).unwrap();
        assert_eq!(role, "reviewer");

        official.login("sun", PASSWORD).await;
        admin.submit(&format!("/users/{official_id}/disable"), &[]).await;
        assert_eq!(official.get("/").await.status, 303, "disabling ends the session");
        official.get("/login").await;
        let again = official.post("/login", &[("username", "sun"), ("password", PASSWORD)]).await;
        assert_eq!(again.status, 401, "a disabled user cannot log in");
        again.assert_contains("登录失败");

        admin.submit(&format!("/users/{official_id}/enable"), &[]).await;
        official.login("sun", PASSWORD).await;
        assert_eq!(official.get("/").await.status, 200);

        // An admin resetting a password ends the user's sessions; a password
        // typed by the admin is not a generated one.
        admin.submit(&format!("/users/{official_id}/password"), &[("password", "typed by admin")]).await;
        assert_eq!(official.get("/").await.status, 303);
        let login = official.login("sun", "typed by admin").await;
        assert_eq!(login.location.as_deref(), Some("/"));

        // Admins cannot lock themselves out.
        let boss_id: String = users::table.filter(users::username.eq("boss")).select(users::id).first(&mut app.conn()).unwrap();
        let page = admin.submit(&format!("/users/{boss_id}/disable"), &[]).await;
        page.assert_contains("不能停用自己的账号");
        let page = admin.submit(&format!("/users/{boss_id}/assign"), &[("role", "auditor")]).await;
        page.assert_contains("不能取消自己的管理员角色");
    }
}

app_test! {
    async fn changing_ones_own_password_ends_the_other_sessions(app) {
        app.user("zhou", Role::Auditor, None, None);
        let laptop = app.client();
        let phone = app.client();
        laptop.login("zhou", PASSWORD).await;
        phone.login("zhou", PASSWORD).await;
        laptop.get("/password").await;
        let page = laptop.submit("/password", &[("current", PASSWORD), ("new", "brand new words"), ("confirm", "brand new words")]).await;
        page.assert_contains("密码已修改");
        assert_eq!(laptop.get("/").await.status, 200, "the session that changed it stays");
        assert_eq!(phone.get("/").await.status, 303, "every other session ends");
        // A wrong current password changes nothing.
        let page = laptop.submit("/password", &[("current", "not it at all"), ("new", "third password"), ("confirm", "third password")]).await;
        page.assert_contains("当前密码不正确");
    }
}

app_test! {
    async fn sessions_expire_when_idle_or_too_old(app) {
        app.user("wuyi", Role::Auditor, None, None);
        let c = app.client();
        c.login("wuyi", PASSWORD).await;
        let past = aixin::db::now() - chrono::Duration::minutes(31);
        diesel::update(sessions::table).set(sessions::last_seen_at.eq(past)).execute(&mut app.conn()).unwrap();
        assert_eq!(c.get("/").await.status, 303, "30 minutes idle ends the session");

        c.login("wuyi", PASSWORD).await;
        let old = aixin::db::now() - chrono::Duration::hours(12) - chrono::Duration::minutes(1);
        diesel::update(sessions::table).set(sessions::created_at.eq(old)).execute(&mut app.conn()).unwrap();
        assert_eq!(c.get("/").await.status, 303, "12 hours is the absolute limit");
    }
}

app_test! {
    async fn admins_keep_the_area_tree(app) {
        let admin = app.admin().await;
        let page = admin.submit("/areas", &[("name", "济南市")]).await;
        page.assert_contains("已添加区域“济南市”");
        let city: String = {
            use aixin::db::schema::areas;
            areas::table.filter(areas::name.eq("济南市")).select(areas::id).first(&mut app.conn()).unwrap()
        };
        admin.submit("/areas", &[("name", "历城区"), ("parent_id", &city)]).await;
        let page = admin.submit("/areas", &[("name", "历城区"), ("parent_id", &city)]).await;
        page.assert_contains("同一上级下已有名为“历城区”的区域");
        let page = admin.submit("/areas", &[("name", "  "), ("parent_id", &city)]).await;
        page.assert_contains("区域名称：必须填写");
        let [_, _, _, village] = app.area_chain("莱芜");
        let page = admin.submit("/areas", &[("name", "小组"), ("parent_id", &village)]).await;
        page.assert_contains("村是最末一级");
        let page = admin.submit(&format!("/areas/{city}/delete"), &[]).await;
        page.assert_contains("不能删除");
        let page = admin.submit(&format!("/areas/{village}/rename"), &[("name", "新村")]).await;
        page.assert_contains("已改名为“新村”");
        let page = admin.submit(&format!("/areas/{village}/delete"), &[]).await;
        page.assert_contains("已删除区域");
        let list = admin.get("/areas").await;
        list.assert_contains("历城区");
        assert!(!list.body.contains("新村"));
        let actions = app.audit_actions();
        for a in ["area.create", "area.rename", "area.delete"] {
            assert!(actions.contains(&a.to_string()), "{a} audited");
        }
    }
}

app_test! {
    async fn auditors_read_and_filter_the_audit_log(app) {
        app.user("kong", Role::Auditor, None, None);
        app.user("meng", Role::Clerk, None, None);
        let c = app.client();
        c.get("/login").await;
        c.post("/login", &[("username", "meng"), ("password", "not-the-password")]).await;
        let auditor = app.client();
        auditor.login("kong", PASSWORD).await;
        let page = auditor.get("/audit?username=meng").await;
        assert_eq!(page.status, 200);
        page.assert_contains("登录失败");
        assert!(!page.body.contains("登录了系统"), "filtered to meng only");
        let page = auditor.get("/audit?from=2026-13-01").await;
        page.assert_contains("开始日期：没有这一天：2026-13-01");
        // Auditors read; they do not change.
        let [city, ..] = app.area_chain("市中");
        assert_eq!(auditor.post("/areas", &[("name", "x"), ("parent_id", &city)]).await.status, 403);
        assert_eq!(auditor.get("/users").await.status, 403);
        assert_eq!(auditor.get("/areas").await.status, 200);
    }
}

app_test! {
    async fn the_audit_log_cannot_be_edited(app) {
        app.user("feng", Role::Auditor, None, None);
        use aixin::db::schema::audit_log;
        let mut c = app.conn();
        let n: i64 = audit_log::table.count().get_result(&mut c).unwrap();
        assert!(n > 0);
        let upd = diesel::update(audit_log::table).set(audit_log::summary.eq("forged")).execute(&mut c);
        assert!(upd.is_err(), "UPDATE on the audit log is refused");
        let del = diesel::delete(audit_log::table).execute(&mut c);
        assert!(del.is_err(), "DELETE on the audit log is refused");
    }
}

app_test! {
    async fn error_pages_speak_both_languages_and_carry_headers(app) {
        let c = app.client();
        let page = c.get("/no/such/page").await;
        assert_eq!(page.status, 404);
        page.assert_contains("页面不存在");
        page.assert_contains("class=\"request-id\"");
        for h in ["content-security-policy", "x-content-type-options", "referrer-policy", "x-request-id"] {
            assert!(page.headers.contains_key(h), "{h} on error pages");
        }
        let csp = page.headers.get("content-security-policy").unwrap().to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"));
        let request_id = page.headers.get("x-request-id").unwrap().to_str().unwrap().to_string();
        page.assert_contains(&request_id);

        c.get("/login").await;
        let switched = c.post("/lang", &[("lang", "en"), ("back", "/no/such/page")]).await;
        assert_eq!(switched.location.as_deref(), Some("/no/such/page"));
        let page = c.get("/no/such/page").await;
        page.assert_contains("Not found");
        page.assert_contains("lang=\"en\"");
        let login = c.get("/login").await;
        login.assert_contains("Log in");
        assert_eq!(c.get("/healthz").await.status, 200);
        let css = c.get("/static/css/app.css").await;
        assert_eq!(css.status, 200);
        assert!(css.headers.get("content-type").unwrap().to_str().unwrap().starts_with("text/css"));
        assert_eq!(c.get("/static/../Cargo.toml").await.status, 404);
    }
}

app_test! {
    async fn admins_create_stores_for_clerks(app) {
        let admin = app.admin().await;
        let [_, _, town, _] = app.area_chain("长清");
        let page = admin.submit("/stores", &[("name", "长清爱心超市"), ("area_id", &town), ("address", "长清镇中心街 1 号")]).await;
        page.assert_contains("已创建爱心超市“长清爱心超市”");
        let page = admin.submit("/stores", &[("name", "长清爱心超市"), ("area_id", &town)]).await;
        page.assert_contains("已有名为“长清爱心超市”的超市");
        let page = admin.submit("/stores", &[("name", "无区域超市"), ("area_id", "")]).await;
        page.assert_contains("负责区域：");
        let store: String = {
            use aixin::db::schema::stores;
            stores::table.select(stores::id).first(&mut app.conn()).unwrap()
        };
        let page = admin.submit("/users", &[("username", "clerk1"), ("role", "clerk"), ("store_id", &store), ("password", "clerk password")]).await;
        page.assert_contains("已创建用户 clerk1");
        let clerk = app.client();
        clerk.login("clerk1", PASSWORD.replace("test-password-1", "clerk password").as_str()).await;
        clerk.get("/").await.assert_contains("长清爱心超市");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_believed_only_from_configured_proxies() {
    for trusted in [false, true] {
        let app = spawn_app_with(Db::Sqlite, "forwarded_for", |c| {
            if trusted {
                c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
            }
        })
        .await
        .unwrap();
        let c = app.client();
        c.get("/login").await;
        let token = c.csrf().await;
        c.http
            .post(app.url("/login"))
            .header("x-forwarded-for", "203.0.113.7")
            .form(&[
                ("csrf", token.as_str()),
                ("username", "ghost"),
                ("password", "nope-nope"),
            ])
            .send()
            .await
            .unwrap();
        use aixin::db::schema::audit_log;
        let ip: String = audit_log::table
            .filter(audit_log::action.eq("auth.login_failed"))
            .select(audit_log::ip)
            .first(&mut app.conn())
            .unwrap();
        assert_eq!(ip, if trusted { "203.0.113.7" } else { "127.0.0.1" });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_cookies_use_the_host_prefix() {
    let app = spawn_app_with(Db::Sqlite, "secure_cookies", |c| c.secure_cookies = true)
        .await
        .unwrap();
    let res = reqwest::get(app.url("/login")).await.unwrap();
    let cookie = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("__Host-aixin_csrf="), "{cookie}");
    assert!(
        cookie.contains("Secure")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && cookie.contains("Path=/")
    );
    assert!(res.headers().contains_key("strict-transport-security"));
}
