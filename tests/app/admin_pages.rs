//! Smaller things an administrator and a clerk meet: no role chosen for a
//! new user, the users list searched with each one's last login, the
//! rulebook print's scheme, date and edition, the end of day's households
//! and signature lines.

use aixin::db::schema::users;
use aixin::domain::Role;
use diesel::prelude::*;

use crate::helpers::*;

app_test! {
    async fn a_new_user_gets_no_role_by_default_and_the_list_is_searched_with_last_logins(app) {
        let [_, _, town, village] = app.area_chain("用户");
        let store = app.store("用户超市", &town);
        app.user("wang.clerk", Role::Clerk, None, Some(&store));
        app.user("li.official", Role::Official, Some(&village), None);
        let admin = app.admin().await;
        let page = admin.get("/users").await;
        // The role list starts empty: nobody becomes an administrator by default.
        let select = page.body.split("name=\"role\"").nth(1).unwrap().split("</select>").next().unwrap().to_string();
        assert!(select.contains("<option value=\"\" selected>"), "{select}");
        assert_eq!(select.matches(" selected").count(), 1, "{select}");
        let refused = admin
            .submit("/users", &[("username", "new.person"), ("display_name", "新人"), ("role", ""), ("area_id", ""), ("store_id", ""), ("password", "a long enough passphrase")])
            .await;
        refused.assert_contains("角色");
        let n: i64 = users::table.filter(users::username.eq("new.person")).count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 0, "no user made without a role");

        // Search by part of a login, a role label or a store.
        let page = admin.get("/users?q=wang").await;
        page.assert_contains("wang.clerk");
        assert!(!page.body.contains("li.official"));
        page.assert_contains("id=\"user-count\">显示 1 个，共 3 个<");
        let page = admin.get("/users?q=%E7%94%A8%E6%88%B7%E8%B6%85%E5%B8%82").await;
        page.assert_contains("wang.clerk");
        assert!(!page.body.contains(">li.official<"));
        let page = admin.get("/users?q=LI.").await;
        page.assert_contains("li.official");

        // The last login: never, until they log in.
        let row = |body: &str, who: &str| body.split(&format!(">{who}</a>")).nth(1).unwrap().split("</tr>").next().unwrap().to_string();
        let page = admin.get("/users").await;
        assert!(row(&page.body, "wang.clerk").contains("从未登录"));
        let clerk = app.client();
        clerk.login("wang.clerk", PASSWORD).await;
        let page = admin.get("/users").await;
        let r = row(&page.body, "wang.clerk");
        assert!(!r.contains("从未登录"), "{r}");
        let today = aixin::time::today(chrono_tz::Asia::Shanghai).to_string();
        assert!(r.contains(&today), "{r}");
        let at: Option<chrono::NaiveDateTime> = users::table.filter(users::username.eq("wang.clerk")).select(users::last_login_at).first(&mut app.conn()).unwrap();
        assert!(at.is_some());
        // A wrong password is no login.
        let li = app.client();
        li.get("/login").await;
        let failed = li.post("/login", &[("username", "li.official"), ("password", "not the password")]).await;
        assert_eq!(failed.status, 401);
        let page = admin.get("/users").await;
        assert!(row(&page.body, "li.official").contains("从未登录"));
    }
}

app_test! {
    async fn the_printed_rulebook_names_the_scheme_the_date_and_its_edition(app) {
        app.rule("GZ1", "门前三包", 5, None);
        app.rule("GZ2", "垃圾分类", 3, None);
        let admin = app.admin().await;
        let page = admin.get("/rules/print").await;
        assert_eq!(page.status, 200);
        let meta = page.body.split("id=\"rulebook-edition\">").nth(1).unwrap().split("</p>").next().unwrap().to_string();
        let today = aixin::time::today(chrono_tz::Asia::Shanghai).to_string();
        assert!(meta.contains("爱心超市积分管理"), "{meta}");
        assert!(meta.contains(&format!("打印日期 {today}")), "{meta}");
        let edition = |m: &str| -> i64 { m.split("第 ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap() };
        let before = edition(&meta);
        assert!(before >= 2);
        assert!(meta.contains("最近修订"), "{meta}");
        // A change makes the next edition.
        app.rule("GZ3", "孝老爱亲", 8, None);
        let page = admin.get("/rules/print").await;
        let meta = page.body.split("id=\"rulebook-edition\">").nth(1).unwrap().split("</p>").next().unwrap().to_string();
        assert_eq!(edition(&meta), before + 1);
    }
}

app_test! {
    async fn the_end_of_day_lists_the_households_served_and_has_signature_lines(app) {
        let [_, _, town, village] = app.area_chain("日结");
        let store = app.store("日结超市", &town);
        app.user("rj-clerk", Role::Clerk, None, Some(&store));
        let goods = crate::stock::seed(&app, &store);
        let a = app.household("赵一", &village);
        let b = app.household("钱二", &village);
        crate::counter::redeem_for_test(&app, &store, &a, &goods.items[0]);
        crate::counter::redeem_for_test(&app, &store, &b, &goods.items[1]);
        let clerk = app.client();
        clerk.login("rj-clerk", PASSWORD).await;
        let page = clerk.get("/counter/day").await;
        assert_eq!(page.status, 200);
        let list = page.body.split("id=\"day-list\"").nth(1).unwrap().split("</table>").next().unwrap().to_string();
        assert!(list.contains("赵一") && list.contains("钱二"), "{list}");
        assert!(list.contains("户主姓名"), "{list}");
        let signatures = page.body.split("id=\"day-signatures\"").nth(1).unwrap().split("</div>").next().unwrap().to_string();
        assert!(signatures.contains("经办人") && signatures.contains("复核人") && signatures.contains("日期"), "{signatures}");
    }
}
