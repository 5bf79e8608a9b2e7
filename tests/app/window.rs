//! The households' own window: a household opens its page with its card and
//! PIN and sees its own points and nothing else; anyone reads the village's
//! notice (masked names), the honour roll, a store's prices and the rulebook.

use crate::helpers::Who;
use aixin::audit::AuditCtx;
use aixin::domain::Role;
use aixin::points::awards;
use chrono::Datelike;

use crate::helpers::*;

/// Award `code` to a household now, with review off (approved when made).
fn award(
    app: &TestApp,
    official: &str,
    household: &str,
    code: &str,
    on: chrono::NaiveDate,
    key: &str,
) {
    let mut c = app.conn();
    let ctx = AuditCtx::console();
    let who = Who {
        user_id: official.to_string(),
        role: Role::Official,
        scope: aixin::auth::Scope::All,
    };
    let today = chrono::Utc::now().date_naive();
    let p = awards::parse_proposal(code, &on.to_string(), "", today).unwrap();
    awards::propose(&mut c, &who.actor(&ctx), household, &p, key, today).unwrap();
}

fn pin_of(app: &TestApp, card: &str) -> String {
    aixin::households::card_pin(&mut app.conn(), &app.key, card)
        .unwrap()
        .expect("a card printed with a PIN")
}

app_test! {
    async fn a_household_sees_its_own_points_and_nothing_else(app) {
        let [_, _, town, village] = app.area_chain("窗口");
        let other_village = app.area(Some(&town), "西窗村");
        let store = app.store("窗口爱心超市", &town);
        let official = app.user("w-official", Role::Official, Some(&village), None);
        aixin::settings::set(&mut app.conn(), &AuditCtx::console(), aixin::settings::REVIEW_REQUIRED, 0).unwrap();
        app.rule("W1", "清扫村道", 10, None);
        app.rule("W2", "乱倒垃圾", -3, None);
        let (mine, my_card) = app.household_with_id("张三丰", &village, &test_id_number());
        let (theirs, their_card) = app.household_with_id("李四光", &other_village, &test_id_number());
        let today = chrono::Utc::now().date_naive();
        award(&app, &official, &mine, "W1", today, "w-1");
        award(&app, &official, &mine, "W2", today, "w-2");
        let official2 = app.user("w-official2", Role::Official, Some(&other_village), None);
        award(&app, &official2, &theirs, "W1", today, "w-3");
        let goods = crate::stock::seed(&app, &store);

        // The QR code's address fills in the card; the PIN opens the page.
        let c = app.client();
        let page = c.get(&format!("/h/{my_card}")).await;
        assert_eq!(page.status, 200);
        page.assert_contains(&format!("value=\"{my_card}\""));
        let wrong = c.post("/h/login", &[("card_no", &my_card), ("pin", "000000")]).await;
        assert_eq!(wrong.status, 401);
        wrong.assert_contains("卡号或密码不对");
        assert!(wrong.body.contains(&my_card), "what was typed is kept");
        let pin = pin_of(&app, &my_card);
        let home = c.submit("/h/login", &[("card_no", &my_card), ("pin", &pin)]).await;
        assert_eq!(home.status, 200, "{}", home.body);
        home.assert_contains("张*丰");
        home.assert_contains("id=\"balance\">7<");
        home.assert_contains("清扫村道");
        home.assert_contains("乱倒垃圾");
        home.assert_contains("窗口爱心超市");
        assert!(!home.body.contains("李四光") && !home.body.contains(&their_card), "nothing of another household");
        assert!(!home.body.contains("张三丰"), "even one's own name is masked on a phone that others may see");
        let _ = goods;

        // The household's page reads no household but its own, whatever is asked.
        for path in [format!("/h/{their_card}"), format!("/households/{theirs}"), format!("/households/{theirs}/statement")] {
            let p = c.get(&path).await;
            assert!(!p.body.contains("李四光") && !p.body.contains("id=\"balance\""), "{path}: {}", p.status);
        }

        // The PIN can be changed, with the current one; the old one then fails.
        let bad = c.submit("/h/pin", &[("current", &pin), ("new", "123456"), ("again", "123456")]).await;
        bad.assert_contains("6 位数字");
        let done = c.submit("/h/pin", &[("current", &pin), ("new", "482915"), ("again", "482915")]).await;
        done.assert_contains("密码已修改");
        let closed = c.submit("/h/logout", &[]).await;
        closed.assert_contains("name=\"pin\"");
        let old = c.post("/h/login", &[("card_no", &my_card), ("pin", &pin)]).await;
        assert_eq!(old.status, 401);
        let again = c.submit("/h/login", &[("card_no", &my_card), ("pin", "482915")]).await;
        again.assert_contains("id=\"balance\">7<");

        // Everything the household did is in the audit log.
        let actions = app.audit_actions();
        for a in ["household.window_login", "household.pin_change"] {
            assert!(actions.contains(&a.to_string()), "{a} audited: {actions:?}");
        }

        // The village's notice is public: masked names, deductions apart, no card numbers.
        let anon = app.client();
        let notice = anon.get(&format!("/public/notice/{village}")).await;
        assert_eq!(notice.status, 200);
        notice.assert_contains("张*丰");
        notice.assert_contains("id=\"notice-deductions\"");
        assert!(!notice.body.contains("张三丰") && !notice.body.contains(&my_card) && !notice.body.contains("李*光"));
        // The honour roll of the town for this month lists earners, masked; a
        // household may ask to be left off.
        let month = format!("{:04}-{:02}", today.year(), today.month());
        let roll = anon.get(&format!("/public/honours/{town}?month={month}")).await;
        assert_eq!(roll.status, 200);
        roll.assert_contains("张*丰");
        roll.assert_contains("李*光");
        c.submit("/h/honours", &[("opt_out", "1")]).await.assert_contains("已保存");
        let roll = anon.get(&format!("/public/honours/{town}?month={month}")).await;
        assert!(!roll.body.contains("张*丰") && roll.body.contains("李*光"));
        let bad_month = anon.get(&format!("/public/honours/{town}?month=13")).await;
        assert!(bad_month.status < 500);
        // The store's prices and the rulebook are public.
        let shelf = anon.get(&format!("/public/stores/{store}")).await;
        assert_eq!(shelf.status, 200);
        let rules = anon.get("/public/rules").await;
        rules.assert_contains("清扫村道");
        rules.assert_contains("id=\"costs\"");
    }
}

app_test! {
    /// Failed PINs are counted per card in the database: after the limit even
    /// the right PIN is refused for a while, from this app server or another.
    async fn the_pin_throttle_holds_across_servers(app) {
        let [_, _, _, village] = app.area_chain("限次");
        let (_, card) = app.household_with_id("王五", &village, &test_id_number());
        let pin = pin_of(&app, &card);
        let first = app.client();
        for _ in 0..app.config.login_max_failures_account {
            let p = first.post("/h/login", &[("card_no", &card), ("pin", "999999")]).await;
            assert_eq!(p.status, 401);
        }
        // A second app server: its own process state, the same database.
        let (pool, backend) = aixin::db::open(&app.config.database_url, 2).unwrap();
        let state = aixin::state::AppState::new(pool, app.config.clone(), backend, app.key.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(aixin::server::serve(state, listener, Some(1)).unwrap());
        let c = Client::new(&addr);
        let p = c.post("/h/login", &[("card_no", &card), ("pin", &pin)]).await;
        assert_eq!(p.status, 429, "{}", p.body);
        p.assert_contains("尝试次数太多");
    }
}
