//! Households and points cards: registering, privacy, finding, importing,
//! exporting.

use aixin::db::schema::{audit_log, households, points_cards};
use aixin::domain::Role;
use diesel::prelude::*;

use crate::helpers::*;

fn count_households(app: &TestApp) -> i64 {
    households::table
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

app_test! {
    async fn an_official_registers_a_household_and_its_card(app) {
        let [_, _, _, village] = app.area_chain("历城");
        app.user("li", Role::Official, Some(&village), None);
        let c = app.client();
        c.login("li", PASSWORD).await;
        let id_number = test_id_number();
        let page = c.submit("/households", &[
            ("head_name", "王大山"), ("id_number", &id_number.to_lowercase()), ("phone", "138 0013 8000"),
            ("area_id", &village), ("address", "一组 3 号"), ("members", "4"), ("status", "registered"),
        ]).await;
        assert_eq!(page.status, 200);
        page.assert_contains("已登记，积分卡号");
        page.assert_contains("王大山");
        // The full ID number is not in the page, the masked one is.
        assert!(!page.body.contains(&id_number), "the full ID number is never in a page unless revealed");
        page.assert_contains(&format!("{}********{}", &id_number[..6], &id_number[14..]));
        page.assert_contains("138****8000");
        page.assert_contains("<svg");
        // Stored encrypted: neither the ID nor the phone is in the row in clear.
        let (cipher, phone): (String, String) = households::table.select((households::id_cipher, households::phone_cipher)).first(&mut app.conn()).unwrap();
        assert!(!cipher.contains(&id_number[..10]) && !phone.contains("13800138000"));

        // The same ID number again is refused, naming the household.
        let again = c.submit("/households", &[
            ("head_name", "王小山"), ("id_number", &id_number), ("area_id", &village), ("members", "2"),
        ]).await;
        again.assert_contains("身份证号：该身份证号已登记在“王大山”户下");
        assert_eq!(count_households(&app), 1);

        // Revealing is audited and shows the full number.
        let id: String = households::table.select(households::id).first(&mut app.conn()).unwrap();
        let shown = c.post(&format!("/households/{id}/reveal"), &[("what", "id")]).await;
        assert_eq!(shown.status, 200);
        shown.assert_contains(&id_number);
        assert!(app.audit_actions().contains(&"household.reveal".to_string()));
        let summaries: Vec<String> = audit_log::table.select(audit_log::summary).load(&mut app.conn()).unwrap();
        assert!(summaries.iter().all(|s| !s.contains(&id_number)), "the audit log never holds a full ID number");
        // The log says what was shown in words, never the field's name.
        let log = app.admin().await.get("/audit").await;
        let row = log.body.split("查看了农户的完整个人信息").nth(1).unwrap().split("</tr>").next().unwrap().to_string();
        assert!(row.contains("身份证号") && !row.contains("id_number"), "{row}");
    }
}

app_test! {
    async fn bad_household_input_names_the_field(app) {
        let [_, _, town, village] = app.area_chain("章丘");
        let admin = app.admin().await;
        let good = test_id_number();
        let mut bad_check = good.clone();
        let last = bad_check.pop().unwrap();
        bad_check.push(if last == '1' { '2' } else { '1' });
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![("head_name", ""), ("id_number", &good), ("area_id", &village), ("members", "2")], "户主姓名：必须填写"),
            (vec![("head_name", "甲"), ("id_number", "1234"), ("area_id", &village), ("members", "2")], "身份证号：应为 18 位（现在是 4 位）"),
            (vec![("head_name", "甲"), ("id_number", &bad_check), ("area_id", &village), ("members", "2")], "身份证号：校验位不正确"),
            (vec![("head_name", "甲"), ("id_number", "110105194902300027"), ("area_id", &village), ("members", "2")], "身份证号："),
            (vec![("head_name", "甲"), ("id_number", &good), ("phone", "12345"), ("area_id", &village), ("members", "2")], "联系电话：应为 11 位手机号"),
            (vec![("head_name", "甲"), ("id_number", &good), ("area_id", &town), ("members", "2")], "所属村：“章丘镇”不是村"),
            (vec![("head_name", "甲"), ("id_number", &good), ("area_id", &village), ("members", "0")], "家庭人口：应为 1 到 99"),
            (vec![("head_name", "甲"), ("id_number", &good), ("area_id", &village), ("members", "two")], "家庭人口：应为 1 到 99"),
            (vec![("head_name", "甲"), ("id_number", &good), ("area_id", &village), ("members", "2"), ("status", "rich")], "户类型："),
        ];
        for (form, message) in cases {
            let page = admin.submit("/households", &form).await;
            page.assert_contains(message);
        }
        assert_eq!(count_households(&app), 0, "nothing was created");
    }
}

app_test! {
    async fn an_official_sees_only_their_own_village(app) {
        let [_, _, _, mine] = app.area_chain("东");
        let [_, _, _, theirs] = app.area_chain("西");
        app.user("dong", Role::Official, Some(&mine), None);
        let own = app.household("东家", &mine);
        let other = app.household("西家", &theirs);
        let c = app.client();
        c.login("dong", PASSWORD).await;
        let list = c.get("/households").await;
        list.assert_contains("东家");
        assert!(!list.body.contains("西家"));
        assert_eq!(c.get(&format!("/households/{own}")).await.status, 200);
        assert_eq!(c.get(&format!("/households/{other}")).await.status, 403, "changing the URL does not help");
        assert_eq!(c.get(&format!("/households/{other}/card")).await.status, 403);
        assert_eq!(c.post(&format!("/households/{other}/reveal"), &[("what", "id")]).await.status, 403);
        c.get("/households").await;
        assert_eq!(c.post(&format!("/households/{other}"), &[("head_name", "x"), ("area_id", &mine), ("members", "1")]).await.status, 403);
        // Nor by registering into another village.
        let page = c.submit("/households", &[("head_name", "甲"), ("id_number", &test_id_number()), ("area_id", &theirs), ("members", "2")]).await;
        page.assert_contains("不在您的负责范围内");
        // Searching someone else's card number finds nothing.
        let card: String = points_cards::table.filter(points_cards::household_id.eq(&other)).select(points_cards::card_no).first(&mut app.conn()).unwrap();
        let found = c.get(&format!("/households?q={card}")).await;
        assert_eq!(found.status, 200);
        assert!(!found.body.contains("西家"));
        // A clerk has no household list at all.
        let store = app.store("东店", &mine);
        app.user("clerk", Role::Clerk, None, Some(&store));
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        assert_eq!(clerk.get("/households").await.status, 403);
    }
}

app_test! {
    async fn households_are_found_by_name_card_and_id_digits(app) {
        let [_, _, _, village] = app.area_chain("南");
        let (a, card_a) = app.household_with_id("赵一", &village, &test_id_number());
        let id_b = test_id_number();
        app.household_with_id("钱二", &village, &id_b);
        let admin = app.admin().await;
        let page = admin.get("/households?q=赵").await;
        page.assert_contains("赵一");
        assert!(!page.body.contains("钱二"));
        let page = admin.get(&format!("/households?q={}", &id_b[14..])).await;
        page.assert_contains("钱二");
        // A card number opens the household.
        let page = admin.get(&format!("/households?q={card_a}")).await;
        assert_eq!(page.status, 303);
        assert_eq!(page.location.as_deref(), Some(format!("/households/{a}").as_str()));
        // A mistyped card number is caught by its check digit: no lookup finds it.
        let mut typo = card_a.clone().into_bytes();
        typo[3] = if typo[3] == b'9' { b'0' } else { typo[3] + 1 };
        let typo = String::from_utf8(typo).unwrap();
        let page = admin.get(&format!("/households?q={typo}")).await;
        assert_eq!(page.status, 200);

        // A lost card: the old number says what replaced it.
        admin.get(&format!("/households/{a}")).await;
        let page = admin.submit(&format!("/households/{a}/card"), &[]).await;
        page.assert_contains("已补办新卡");
        let new_card: String = points_cards::table
            .filter(points_cards::household_id.eq(&a))
            .filter(points_cards::replaced_by.is_null())
            .select(points_cards::card_no)
            .first(&mut app.conn())
            .unwrap();
        assert_ne!(new_card, card_a);
        let page = admin.get(&format!("/households?q={card_a}")).await;
        assert_eq!(page.status, 200);
        page.assert_contains("已补办新卡");
        assert!(!page.body.contains(&new_card), "the old card never tells the new number");
        let page = admin.get(&format!("/households?q={new_card}")).await;
        assert_eq!(page.status, 303);
        // Status filter and paging.
        let page = admin.get("/households?status=lifted").await;
        page.assert_contains("没有符合条件的农户");
    }
}

app_test! {
    async fn status_changes_need_a_reason_and_are_kept(app) {
        let [_, _, _, village] = app.area_chain("北");
        let id = app.household("孙三", &village);
        let admin = app.admin().await;
        let form = |reason: &'static str| {
            let version = app.version_of("households", &id);
            vec![("head_name", "孙三".to_string()), ("area_id", village.clone()), ("members", "3".into()), ("address", "一组 1 号".into()), ("status", "lifted".into()), ("status_reason", reason.into()), ("version", version)]
        };
        let typed = form("");
        let page = admin.submit(&format!("/households/{id}"), &typed.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()).await;
        page.assert_contains("变更原因：修改户类型时必须填写原因");
        let typed = form("2026 年通过验收");
        let page = admin.submit(&format!("/households/{id}"), &typed.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()).await;
        page.assert_contains("已保存修改");
        page.assert_contains("2026 年通过验收");
        page.assert_contains("脱贫户");
        // Archive needs a reason; an archived household cannot be edited.
        let page = admin.submit(&format!("/households/{id}/archive"), &[("reason", "")]).await;
        page.assert_contains("原因：必须填写");
        let page = admin.submit(&format!("/households/{id}/archive"), &[("reason", "迁出")]).await;
        page.assert_contains("已归档");
        let typed = form("x");
        let page = admin.submit(&format!("/households/{id}"), &typed.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()).await;
        page.assert_contains("该户已归档");
        let list = admin.get("/households").await;
        assert!(!list.body.contains("孙三"), "archived households are hidden by default");
        let list = admin.get("/households?archived=1").await;
        list.assert_contains("孙三");
    }
}

app_test! {
    async fn exports_are_masked_and_neutralised(app) {
        let [_, _, _, village] = app.area_chain("中");
        let id_number = test_id_number();
        let (id, _) = app.household_with_id("=HYPERLINK(\"x\")", &village, &id_number);
        let _ = id;
        let admin = app.admin().await;
        let res = admin.http.get(app.url("/households/export.csv")).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let body = res.text().await.unwrap();
        assert!(body.contains("户主姓名"), "translated headers");
        assert!(body.contains("'=HYPERLINK"), "formula neutralised: {body}");
        assert!(!body.contains(&id_number));
        assert!(body.contains(&format!("{}********{}", &id_number[..6], &id_number[14..])));
        let res = admin.http.get(app.url("/households/export.xlsx")).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let bytes = res.bytes().await.unwrap();
        assert!(bytes.starts_with(b"PK"));
        assert!(app.audit_actions().contains(&"household.export".to_string()));
    }
}

/// A CSV of households for a village named `village`, with one bad row.
fn csv_file(village: &str, ids: &[String]) -> String {
    let mut s = String::from("户主姓名,身份证号,联系电话,所属村,家庭住址,家庭人口,户类型,备注\n");
    for (i, id) in ids.iter().enumerate() {
        s.push_str(&format!(
            "户主{i},{id},1380013{i:04},{village},一组,3,建档立卡户,\n"
        ));
    }
    s.push_str(&format!("坏行,123,,{village},,3,,\n"));
    s
}

async fn upload(c: &Client, name: &str, bytes: Vec<u8>) -> Page {
    c.get("/households/import").await;
    let token = c.csrf().await;
    let form = reqwest::multipart::Form::new().text("csrf", token).part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
    );
    let res = c
        .http
        .post(format!("{}/households/import", c.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Page {
        status,
        location,
        body: res.text().await.unwrap(),
        headers: Default::default(),
    }
}

/// Follow an import job until it stops running.
async fn wait_job(c: &Client, path: &str) -> Page {
    for _ in 0..600 {
        let page = c.get(path).await;
        if !page.body.contains("data-state=\"checking\"")
            && !page.body.contains("data-state=\"importing\"")
        {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("import job did not finish");
}

app_test! {
    async fn importing_a_list_twice_registers_each_household_once(app) {
        let [_, _, _, village] = app.area_chain("莱芜");
        let admin = app.admin().await;
        let ids: Vec<String> = (0..5).map(|_| test_id_number()).collect();
        let file = csv_file("莱芜村", &ids);
        let up = upload(&admin, "list.csv", file.clone().into_bytes()).await;
        assert_eq!(up.status, 303, "{}", up.body);
        let job = up.location.unwrap();
        let page = wait_job(&admin, &job).await;
        page.assert_contains("data-state=\"checked\"");
        page.assert_contains("id=\"n-create\">5<");
        page.assert_contains("id=\"n-refused\">1<");
        page.assert_contains("应为 18 位");
        assert_eq!(count_households(&app), 0, "checking changes nothing");
        let confirmed = admin.post(&format!("{job}/confirm"), &[]).await;
        assert_eq!(confirmed.status, 303);
        let page = wait_job(&admin, &job).await;
        page.assert_contains("data-state=\"done\"");
        assert_eq!(count_households(&app), 5);
        let cards: i64 = points_cards::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(cards, 5, "each imported household has a card");
        // The uploaded file, with its full ID numbers, is not kept once imported.
        {
            use aixin::db::schema::import_jobs;
            let kept: Vec<u8> = import_jobs::table.select(import_jobs::file).first(&mut app.conn()).unwrap();
            assert!(kept.is_empty());
        }
        // A second confirm of the same job does nothing more.
        admin.post(&format!("{job}/confirm"), &[]).await;
        assert_eq!(count_households(&app), 5);

        // The same file again: nothing to create or update.
        let up = upload(&admin, "list.csv", file.into_bytes()).await;
        let page = wait_job(&admin, &up.location.unwrap()).await;
        page.assert_contains("id=\"n-create\">0<");
        page.assert_contains("id=\"n-unchanged\">5<");
        let _ = village;
    }
}

app_test! {
    async fn an_import_is_all_or_nothing(app) {
        let [_, _, _, _village] = app.area_chain("平阴");
        let ids: Vec<String> = (0..3).map(|_| test_id_number()).collect();
        let file = csv_file("平阴村", &ids);
        let table = aixin::households::import::read_table("x.csv", file.as_bytes()).unwrap();
        // The database refuses the third household half-way through.
        let mut c = app.conn();
        match &mut *c {
            aixin::db::DbConn::Sqlite(_) => {
                diesel::sql_query("CREATE TRIGGER refuse_third BEFORE INSERT ON households WHEN NEW.head_name = '户主2' BEGIN SELECT RAISE(ABORT, 'refused'); END")
                    .execute(&mut *c).unwrap();
            }
            aixin::db::DbConn::Pg(_) => {
                diesel::sql_query("CREATE FUNCTION refuse_third() RETURNS trigger AS $$ BEGIN IF NEW.head_name = '户主2' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END; $$ LANGUAGE plpgsql")
                    .execute(&mut *c).unwrap();
                diesel::sql_query("CREATE TRIGGER refuse_third BEFORE INSERT ON households FOR EACH ROW EXECUTE FUNCTION refuse_third()")
                    .execute(&mut *c).unwrap();
            }
        }
        let result = aixin::households::import::commit(&mut c, &aixin::auth::Actor::console(), &app.key, &table, "x.csv", aixin::time::today(chrono_tz::Asia::Shanghai));
        assert!(result.is_err());
        assert_eq!(count_households(&app), 0, "a failure midway leaves nothing behind");
        let cards: i64 = points_cards::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(cards, 0);
        diesel::sql_query("DROP TRIGGER refuse_third ON households").execute(&mut *c).ok();
        diesel::sql_query("DROP TRIGGER refuse_third").execute(&mut *c).ok();
        let report = aixin::households::import::commit(&mut c, &aixin::auth::Actor::console(), &app.key, &table, "x.csv", aixin::time::today(chrono_tz::Asia::Shanghai)).unwrap();
        assert_eq!(report.create, 3);
        assert_eq!(count_households(&app), 3);
    }
}

app_test! {
    async fn a_refused_registration_keeps_what_was_typed_and_names_every_wrong_field(app) {
        let [_, _, _, village] = app.area_chain("凤山");
        let admin = app.admin().await;
        let good = test_id_number();
        // Two mistakes at once: a short ID number and a bad member count.
        let page = admin.post("/households", &[
            ("head_name", "王大山"), ("id_number", "37010219"), ("phone", "13800138000"),
            ("area_id", &village), ("address", "一组 3 号"), ("members", "0"), ("notes", "独居老人"),
        ]).await;
        assert_eq!(page.status, 422, "the form comes back, not a redirect");
        page.assert_contains("身份证号：应为 18 位（现在是 8 位）");
        page.assert_contains("家庭人口：应为 1 到 99");
        // Each message sits beside its field, and what was typed is still there.
        page.assert_contains(r#"<span class="field-error" data-field="field.id_number">"#);
        page.assert_contains(r#"<span class="field-error" data-field="field.members">"#);
        for kept in [r#"value="王大山""#, r#"value="37010219""#, r#"value="13800138000""#, r#"value="一组 3 号""#, "独居老人"] {
            page.assert_contains(kept);
        }
        page.assert_contains(&format!(r#"<option value="{village}" selected>"#));
        assert_eq!(count_households(&app), 0, "nothing was created");
        // Fixing only the two fields is enough.
        let fixed = admin.submit("/households", &[
            ("head_name", "王大山"), ("id_number", &good), ("phone", "13800138000"),
            ("area_id", &village), ("address", "一组 3 号"), ("members", "4"), ("notes", "独居老人"),
        ]).await;
        fixed.assert_contains("已登记，积分卡号");
        assert_eq!(count_households(&app), 1);

        // The edit form keeps the other changes when one field is refused.
        let id: String = households::table.select(households::id).first(&mut app.conn()).unwrap();
        let edit = admin.post(&format!("/households/{id}"), &[
            ("head_name", "王大川"), ("area_id", &village), ("address", "二组 8 号"), ("members", "100"),
            ("status", "registered"), ("notes", "搬到二组"),
        ]).await;
        assert_eq!(edit.status, 422);
        edit.assert_contains("家庭人口：应为 1 到 99");
        for kept in [r#"value="王大川""#, r#"value="二组 8 号""#, r#"value="100""#, "搬到二组"] {
            edit.assert_contains(kept);
        }
        let name: String = households::table.select(households::head_name).first(&mut app.conn()).unwrap();
        assert_eq!(name, "王大山", "nothing changed");
    }
}

app_test! {
    async fn pages_count_from_one_and_a_page_past_the_last_says_so(app) {
        let [_, _, _, village] = app.area_chain("分页");
        for i in 0..51 {
            app.household(&format!("户{i:02}"), &village);
        }
        let admin = app.admin().await;
        // page=1 is the first page, as people count; 0, negative or text is
        // named (422), the first page shown with it.
        for first in ["/households?page=1", "/households?page=0", "/households?page=-3", "/households?page=abc"] {
            let page = admin.get(first).await;
            let status = if first.ends_with("=1") { 200 } else { 422 };
            assert_eq!(page.status, status, "{first}");
            page.assert_contains("1 / 2");
            page.assert_contains(r#"href="/households?page=2""#);
        }
        let last = admin.get("/households?page=2").await;
        last.assert_contains("2 / 2");
        last.assert_contains(r#"href="/households?page=1""#);
        // The language switch comes back to this page, query and all.
        last.assert_contains(r#"name="back" value="/households?page=2""#);
        // Past the last: said so, with the first page's link, no empty table.
        let past = admin.get("/households?q=%E6%88%B7&page=40").await;
        assert_eq!(past.status, 404);
        past.assert_contains("没有第 40 页，共 2 页");
        past.assert_contains(r#"href="/households?q=%E6%88%B7""#);
        assert!(!past.body.contains("40 / "));
        admin.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        let past = admin.get("/households?page=3").await;
        assert_eq!(past.status, 404);
        past.assert_contains("There is no page 3; the list has 2 pages");
        past.assert_contains("Back to the first page");
    }
}

app_test! {
    /// A household id is parsed at the edge: text that is not an id names
    /// no household, so each page and API path answers 404 (never a query
    /// with it), and a form naming one is refused on its household field.
    async fn text_that_is_not_a_household_id_names_no_household(app) {
        let [_, _, _, village] = app.area_chain("历城");
        let h = app.household("王大山", &village);
        let admin = app.admin().await;
        let upper = h.to_uppercase();
        for bad in ["nope", "1%20OR%201=1", upper.as_str(), "%EF%BC%91"] {
            for path in ["/households/{}", "/households/{}/edit", "/households/{}/card", "/households/{}/statement"] {
                let path = path.replace("{}", bad);
                assert_eq!(admin.get(&path).await.status, 404, "{path}");
            }
            let page = admin.post(&format!("/households/{bad}/archive"), &[("reason", "搬迁")]).await;
            assert_eq!(page.status, 404, "archive {bad}");
        }
        assert_eq!(admin.get(&format!("/households/{h}")).await.status, 200);

        // The API, the same.
        let res = reqwest::Client::new()
            .post(app.url("/api/v1/tokens"))
            .json(&serde_json::json!({"username": "boss", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        let token = res.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_string();
        for path in ["/api/v1/households/nope", "/api/v1/households/nope/ledger"] {
            let res = reqwest::Client::new().get(app.url(path)).bearer_auth(&token).send().await.unwrap();
            assert_eq!(res.status().as_u16(), 404, "{path}");
        }
        let res = reqwest::Client::new()
            .get(app.url(&format!("/api/v1/households/{h}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);

        // A proposal naming no household: refused on its field, nothing made.
        app.rule("A1", "打扫卫生", 5, None);
        let key = admin.get(&format!("/awards/new?household_id={h}")).await;
        assert_eq!(key.status, 200);
        let today = aixin::time::today(chrono_tz::Asia::Shanghai).to_string();
        let page = admin.post("/awards", &[
            ("household_id", "nope"), ("rule_code", "A1"), ("occurred_on", &today), ("key", "k-nope"),
        ]).await;
        assert_eq!(page.status, 422);
        page.assert_contains("没有这个农户");
        let awards: i64 = aixin::db::schema::awards::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(awards, 0);
        // In the proposal page's address it is a filter: refused beside
        // its field (422), never a bare error page.
        let page = admin.get("/awards/new?household_id=nope").await;
        assert_eq!(page.status, 422);
        page.assert_contains("农户：不是有效的编号");
    }
}

app_test! {
    /// The list's search posts what is typed, so a full ID number never
    /// stands in an address or the list's links (docs/domain.md): it opens
    /// the household when the person may see it, and says none was found
    /// otherwise, without the number.
    async fn an_id_number_searched_in_the_list_stays_out_of_the_address(app) {
        let [_, _, town, village] = app.area_chain("搜号");
        let other = app.area(Some(&town), "别村");
        app.user("sou", Role::Official, Some(&village), None);
        let mine = test_id_number();
        let theirs = test_id_number();
        let (h, _) = app.household_with_id("赵一", &village, &mine);
        app.household_with_id("钱二", &other, &theirs);
        let official = Client::new(&app.url(""));
        official.login("sou", PASSWORD).await;
        official.get("/households").await.assert_contains(r#"<form method="post" action="/households/find""#);

        let opened = official.post("/households/find", &[("q", &mine), ("status", "")]).await;
        assert_eq!(opened.status, 303);
        assert_eq!(opened.location.as_deref(), Some(format!("/households/{h}").as_str()));

        // Another village's household is not found, and the number is not repeated.
        let refused = official.post("/households/find", &[("q", &theirs), ("status", "registered")]).await;
        assert_eq!(refused.status, 303);
        let to = refused.location.clone().unwrap();
        assert!(!to.contains(&theirs) && to.contains("status=registered"), "{to}");
        let page = official.get(&to).await;
        page.assert_contains("没有这个身份证号的农户");
        assert!(!page.body.contains(&theirs));

        // Anything else goes on to the list's address, as before.
        let by_name = official.post("/households/find", &[("q", "赵一")]).await;
        assert_eq!(by_name.status, 303);
        let to = by_name.location.unwrap();
        assert!(to.starts_with("/households?q="), "{to}");
        official.get(&to).await.assert_contains(&format!("/households/{h}"));
    }
}

app_test! {
    /// A mistyped ID number searched in the list (a wrong check digit, a
    /// digit missing, 17 digits and an X in the wrong place) is still
    /// personal data: it is answered on the list, the message beside the
    /// search box, and never stands in an address or a link.
    async fn a_near_id_number_searched_in_the_list_is_answered_on_the_page(app) {
        let [_, _, _, village] = app.area_chain("近号");
        app.user("jin", Role::Official, Some(&village), None);
        let id = test_id_number();
        let (first17, check) = id.split_at(17);
        let wrong_check = if check == "0" { "1" } else { "0" };
        let near = [
            format!("{first17}{wrong_check}"),
            first17.to_string(),
            format!("{}X{}", &first17[..16], &first17[16..]),
        ];
        let official = Client::new(&app.url(""));
        official.login("jin", PASSWORD).await;
        for typed in &near {
            let answered = official.post("/households/find", &[("q", typed.as_str()), ("status", "registered")]).await;
            assert_eq!(answered.status, 422, "{typed}: {:?}", answered.location);
            assert!(answered.location.is_none());
            answered.assert_contains(r#"data-field="households.search""#);
            answered.assert_contains("身份证号");
            answered.assert_contains(&format!(r#"value="{typed}""#));
            let hrefs: Vec<&str> = answered.body.split("href=\"").skip(1).collect();
            assert!(hrefs.iter().all(|h| !h.split('"').next().unwrap().contains(typed.as_str())), "no link carries {typed}");
            assert!(answered.body.contains("status=registered"), "the other filters are kept");
        }
        let wrong = official.post("/households/find", &[("q", near[0].as_str())]).await;
        wrong.assert_contains("校验位不正确");
    }
}

app_test! {
    /// A replaced card never tells the new card's number, and a card of a
    /// household outside the reader's scope reads exactly as an unknown
    /// card: no hint that it was replaced, in the list's search, the award
    /// form or a batch of cards.
    async fn a_replaced_card_tells_no_new_number_and_nothing_outside_the_scope(app) {
        let [_, _, town, village] = app.area_chain("龙山");
        let [_, _, _, far] = app.area_chain("凤山");
        app.user("long", Role::Official, Some(&town), None);
        app.user("shen", Role::Reviewer, Some(&town), None);
        let rule = app.rule("R-CARD", "打扫卫生", 10, None);
        let (mine, mine_old) = app.household_with_id("本镇户", &village, &test_id_number());
        let (theirs, theirs_old) = app.household_with_id("外镇户", &far, &test_id_number());
        let admin = app.admin().await;
        for h in [&mine, &theirs] {
            admin.get(&format!("/households/{h}")).await;
            admin.submit(&format!("/households/{h}/card"), &[]).await.assert_contains("已补办新卡");
        }
        let new_card = |h: &str| -> String {
            points_cards::table
                .filter(points_cards::household_id.eq(h))
                .filter(points_cards::replaced_by.is_null())
                .select(points_cards::card_no)
                .first(&mut app.conn())
                .unwrap()
        };
        let (mine_new, theirs_new) = (new_card(&mine), new_card(&theirs));
        let official = Client::new(&app.url(""));
        official.login("long", PASSWORD).await;
        let reviewer = Client::new(&app.url(""));
        reviewer.login("shen", PASSWORD).await;
        for who in [&official, &reviewer] {
            // In scope: replaced, without the new number.
            let page = who.get(&format!("/households?q={mine_old}")).await;
            page.assert_contains("已补办新卡");
            assert!(!page.body.contains(&mine_new), "no new number: {}", page.body);
            // Outside: an unknown card, nothing more.
            let page = who.get(&format!("/households?q={theirs_old}")).await;
            page.assert_contains(&format!("没有卡号为 {theirs_old} 的积分卡"));
            assert!(!page.body.contains("已作废") && !page.body.contains(&theirs_new), "{}", page.body);
        }
        let page = official.get(&format!("/awards/new?card={mine_old}")).await;
        page.assert_contains("已补办新卡");
        assert!(!page.body.contains(&mine_new), "no new number: {}", page.body);
        let page = official.get(&format!("/awards/new?card={theirs_old}")).await;
        page.assert_contains(&format!("没有卡号为 {theirs_old} 的积分卡"));
        assert!(!page.body.contains("已作废") && !page.body.contains(&theirs_new), "{}", page.body);
        // A batch by cards: each old card refused as the reader may know it.
        official.get("/awards/batch").await;
        let today = aixin::time::today(chrono_tz::Asia::Shanghai).to_string();
        let cards = format!("{mine_old}\n{theirs_old}\n{mine_new}");
        let key = uuid::Uuid::new_v4().to_string();
        let page = official
            .post("/awards/batch", &[("key", &key), ("rule_code", &rule), ("occurred_on", &today), ("note", ""), ("cards", &cards)])
            .await;
        // A batch with a card it cannot take proposes nothing (422).
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(&format!("卡号 {mine_old} 已作废"));
        page.assert_contains(&format!("没有卡号为 {theirs_old} 的积分卡"));
        assert!(!page.body.contains(&theirs_new), "{}", page.body);
        assert!(!page.body.contains(&format!("{theirs_old} 已作废")), "{}", page.body);
    }
}

app_test! {
    /// A phone number, a birth date or part of an ID number searched in
    /// the list is answered on the page: the text stands in the search box
    /// only, never in an address or a link.
    async fn personal_digits_searched_in_the_list_stay_out_of_the_address(app) {
        let [_, _, _, village] = app.area_chain("私号");
        app.user("si", Role::Official, Some(&village), None);
        let official = Client::new(&app.url(""));
        official.login("si", PASSWORD).await;
        official.get("/households").await;
        for typed in ["13634645529", "19850910", "370198", "1985-09-10"] {
            let answered = official.post("/households/find", &[("q", typed), ("status", "registered")]).await;
            assert_eq!(answered.status, 200, "{typed}: {:?}", answered.location);
            assert!(answered.location.is_none());
            answered.assert_contains(&format!(r#"value="{typed}""#));
            let hrefs: Vec<&str> = answered.body.split("href=\"").skip(1).collect();
            assert!(hrefs.iter().all(|h| !h.split('"').next().unwrap().contains(typed)), "no link carries {typed}");
            assert!(answered.body.contains("status=registered"), "the other filters are kept");
        }
        // A name still goes on to the list's address.
        let by_name = official.post("/households/find", &[("q", "赵一")]).await;
        assert_eq!(by_name.status, 303);
    }
}

app_test! {
    /// Text too long for an address is refused on the list, naming its
    /// field (422): no redirect carries it.
    async fn an_over_long_search_is_refused_on_the_list(app) {
        let [_, _, _, village] = app.area_chain("长文");
        app.user("chang", Role::Official, Some(&village), None);
        let official = Client::new(&app.url(""));
        official.login("chang", PASSWORD).await;
        official.get("/households").await;
        let long = "a".repeat(200_000);
        let answered = official.post("/households/find", &[("q", &long)]).await;
        assert_eq!(answered.status, 422);
        assert!(answered.location.is_none());
        answered.assert_contains("不能超过 100 个字符");
        let answered = official.post("/households/find", &[("q", "赵"), ("area_id", &long)]).await;
        assert_eq!(answered.status, 422);
        assert!(answered.location.is_none());
        answered.assert_contains("所属村：不能超过 100 个字符");
    }
}

app_test! {
    /// English counts take the word for them; Chinese is unchanged.
    async fn english_counts_say_one_household_and_two_households(app) {
        let [_, _, _, village] = app.area_chain("单复");
        app.household("单复户一", &village);
        let admin = app.admin().await;
        admin.get("/households").await.assert_contains("共 1 户");
        admin.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        let page = admin.get("/households").await;
        page.assert_contains("1 household ");
        assert!(!page.body.contains("1 households"), "{}", page.body);
        app.household("单复户二", &village);
        admin.get("/households").await.assert_contains("2 households");
    }
}

app_test! {
    /// An ID number already registered is said with the other mistakes of
    /// the same submission, each beside its field, at registration and at
    /// an edit alike; nothing is saved.
    async fn a_duplicate_id_number_is_said_with_the_other_errors(app) {
        let [_, _, _, village] = app.area_chain("重号");
        let taken = test_id_number();
        app.household_with_id("王大山", &village, &taken);
        let admin = app.admin().await;
        let page = admin.post("/households", &[
            ("head_name", "王小山"), ("id_number", &taken), ("phone", "12345"),
            ("area_id", &village), ("members", "0"),
        ]).await;
        assert!(page.status == 422 || page.status == 409, "{}", page.body);
        page.assert_contains("身份证号：该身份证号已登记在“王大山”户下");
        page.assert_contains("家庭人口：应为 1 到 99");
        page.assert_contains("联系电话：应为 11 位手机号");
        for field in ["field.id_number", "field.members", "field.phone"] {
            page.assert_contains(&format!(r#"<span class="field-error" data-field="{field}">"#));
        }
        page.assert_contains(r#"value="王小山""#);
        assert_eq!(count_households(&app), 1, "nothing was created");
        // An edit of another household to that number: the same, at once.
        let (second, _) = app.household_with_id("李四", &village, &test_id_number());
        let edit = admin.get(&format!("/households/{second}/edit")).await;
        let v = crate::forms_kept::version_in(&edit.body, &format!("/households/{second}"));
        let form = crate::forms_kept::household_edit(&app, &second, &v, &[("id_number", &taken), ("members", "100")]);
        let page = admin.post(&format!("/households/{second}"), &crate::forms_kept::pairs(&form)).await;
        assert!(page.status == 422 || page.status == 409, "{}", page.body);
        page.assert_contains("身份证号：该身份证号已登记在“王大山”户下");
        page.assert_contains("家庭人口：应为 1 到 99");
    }
}
