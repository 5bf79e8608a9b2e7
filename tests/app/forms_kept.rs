//! Forms that keep what was typed and say what is wrong: an edit made on a
//! record changed meanwhile is a conflict (409) with the form kept; a save
//! keeps what the person could not see; every refused field is named beside
//! it (control characters and bytes that are not text too); statuses say
//! what happened (409 for a conflict, 422 for a field, never 200 or a bare
//! 400 for a bad date or page).

use aixin::db::schema::{donations, donors, households, items, stores};
use aixin::domain::Role;
use diesel::prelude::*;

use crate::helpers::*;

/// The `version` an edit form carries, in the form posting to `action`.
pub fn version_in(html: &str, action: &str) -> String {
    let at = html
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form posting to {action}:\n{html}"));
    let rest = &html[at..];
    let v = rest
        .find("name=\"version\" value=\"")
        .expect("a version field")
        + 22;
    rest[v..v + rest[v..].find('"').unwrap()].to_string()
}

/// The household's edit form as it comes, with `changes` made to it.
pub fn household_edit(
    app: &TestApp,
    id: &str,
    version: &str,
    changes: &[(&str, &str)],
) -> Vec<(String, String)> {
    let h: (String, String, String, i64, String, Option<String>, String) = households::table
        .find(id)
        .select((
            households::head_name,
            households::area_id,
            households::address,
            households::members,
            households::status,
            households::helper_id,
            households::notes,
        ))
        .first(&mut app.conn())
        .unwrap();
    let mut form: Vec<(String, String)> = vec![
        ("version".into(), version.into()),
        ("head_name".into(), h.0),
        ("area_id".into(), h.1),
        ("address".into(), h.2),
        ("members".into(), h.3.to_string()),
        ("status".into(), h.4),
        ("helper_id".into(), h.5.unwrap_or_default()),
        ("notes".into(), h.6),
    ];
    for (k, v) in changes {
        match form.iter_mut().find(|(name, _)| name == k) {
            Some(f) => f.1 = v.to_string(),
            None => form.push((k.to_string(), v.to_string())),
        }
    }
    form
}

pub fn pairs(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

app_test! {
    /// An official's save keeps the helper an administrator assigned from
    /// above their scope; a helper from another town is refused, named.
    async fn a_household_save_keeps_a_helper_from_above_and_refuses_one_from_elsewhere(app) {
        let [_, district, town, village] = app.area_chain("帮扶");
        let other_town = app.area(Some(&district), "远山镇");
        let household = app.household("周大福", &village);
        app.user("cun-guan", Role::Official, Some(&village), None);
        let far = app.user("yuan-guan", Role::Official, Some(&other_town), None);
        let far_too = app.user("yuan-guan2", Role::Official, Some(&other_town), None);
        let near = app.user("zhen-guan", Role::Official, Some(&town), None);
        let helper_of = |app: &TestApp| -> Option<String> {
            households::table.find(&household).select(households::helper_id).first(&mut app.conn()).unwrap()
        };
        // The administrator assigns a helper from the other town.
        let admin = app.admin().await;
        let edit = admin.get(&format!("/households/{household}/edit")).await;
        let v = version_in(&edit.body, &format!("/households/{household}"));
        let form = household_edit(&app, &household, &v, &[("helper_id", &far)]);
        let saved = admin.post(&format!("/households/{household}"), &pairs(&form)).await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        assert_eq!(helper_of(&app), Some(far.clone()));

        // The village official edits the address: the helper stays.
        let official = app.client();
        official.login("cun-guan", PASSWORD).await;
        let edit = official.get(&format!("/households/{household}/edit")).await;
        assert_eq!(edit.status, 200, "{}", edit.body);
        edit.assert_contains(&format!(r#"<option value="{far}" selected>"#));
        let v = version_in(&edit.body, &format!("/households/{household}"));
        let form = household_edit(&app, &household, &v, &[("address", "二组 9 号")]);
        let saved = official.post(&format!("/households/{household}"), &pairs(&form)).await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        assert_eq!(helper_of(&app), Some(far.clone()), "the helper from above is kept");
        // A form that leaves the helper out (as before the fix) keeps it too.
        let edit = official.get(&format!("/households/{household}/edit")).await;
        let v = version_in(&edit.body, &format!("/households/{household}"));
        let form = household_edit(&app, &household, &v, &[("helper_id", ""), ("notes", "独居")]);
        assert_eq!(official.post(&format!("/households/{household}"), &pairs(&form)).await.status, 303);
        assert_eq!(helper_of(&app), Some(far.clone()), "what the official could not change stays");

        // A helper of another town, posted by the official: refused, named, nothing changes.
        let edit = official.get(&format!("/households/{household}/edit")).await;
        let v = version_in(&edit.body, &format!("/households/{household}"));
        let form = household_edit(&app, &household, &v, &[("helper_id", &far_too), ("address", "三组 1 号")]);
        let refused = official.post(&format!("/households/{household}"), &pairs(&form)).await;
        assert_eq!(refused.status, 422, "{}", refused.body);
        refused.assert_contains("帮扶责任人：只能选择本辖区内的帮扶干部");
        refused.assert_contains(r#"<span class="field-error" data-field="field.helper">"#);
        refused.assert_contains(r#"value="三组 1 号""#);
        assert_eq!(helper_of(&app), Some(far.clone()));
        // One working above the village (its town) may be chosen.
        let form = household_edit(&app, &household, &v, &[("helper_id", &near)]);
        assert_eq!(official.post(&format!("/households/{household}"), &pairs(&form)).await.status, 303);
        assert_eq!(helper_of(&app), Some(near.clone()));
        // Registering, too: a helper from elsewhere is refused by name.
        let refused = official.post("/households", &[
            ("head_name", "吴小花"), ("id_number", &test_id_number()), ("area_id", &village),
            ("members", "2"), ("helper_id", &far_too),
        ]).await;
        assert_eq!(refused.status, 422, "{}", refused.body);
        refused.assert_contains("帮扶责任人：只能选择本辖区内的帮扶干部");
    }
}

app_test! {
    /// A store's or an item's edit made on a version changed meanwhile is a
    /// conflict: 409, the form kept, the message saying so, nothing lost.
    async fn a_stale_edit_of_a_store_or_an_item_is_refused_with_the_form_kept(app) {
        let [_, _, town, _] = app.area_chain("旧版");
        let store = app.store("旧版超市", &town);
        let (a, b) = (app.admin().await, app.client());
        app.user("admin-b", Role::Admin, None, None);
        b.login("admin-b", PASSWORD).await;
        let action = format!("/stores/{store}/edit");
        let page_a = a.get(&format!("/stores/{store}")).await;
        let page_b = b.get(&format!("/stores/{store}")).await;
        let (va, vb) = (version_in(&page_a.body, &action), version_in(&page_b.body, &action));
        let saved = a.post(&action, &[("version", &va), ("name", "旧版超市"), ("area_id", &town), ("address", "东街 1 号")]).await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        let stale = b.post(&action, &[("version", &vb), ("name", "新版超市"), ("area_id", &town), ("opening_hours", "08:00-17:00")]).await;
        assert_eq!(stale.status, 409, "{}", stale.body);
        stale.assert_contains("在您打开表单后已被别人修改");
        stale.assert_contains(r#"value="新版超市""#);
        let (name, address): (String, String) = stores::table.find(&store).select((stores::name, stores::address)).first(&mut app.conn()).unwrap();
        assert_eq!((name.as_str(), address.as_str()), ("旧版超市", "东街 1 号"), "the first save stands");
        // Saved again from the page that said so, it goes through.
        let again = b.post(&action, &[("version", &version_in(&stale.body, &action)), ("name", "新版超市"), ("area_id", &town), ("address", "东街 1 号")]).await;
        assert_eq!(again.status, 303, "{}", again.body);

        // An item's price, the same.
        let item = crate::stock::item(&mut app.conn(), "食用油", "桶", "30");
        let action = format!("/items/{item}/edit");
        let list_a = a.get("/items").await;
        let list_b = b.get("/items").await;
        let (va, vb) = (version_in(&list_a.body, &action), version_in(&list_b.body, &action));
        let form = |v: &str, price: &str| vec![("version".to_string(), v.to_string()), ("name".into(), "食用油".into()), ("unit".into(), "桶".into()), ("points_price".into(), price.into()), ("active".into(), "1".into())];
        assert_eq!(a.post(&action, &pairs(&form(&va, "35"))).await.status, 303);
        let stale = b.post(&action, &pairs(&form(&vb, "28"))).await;
        assert_eq!(stale.status, 409, "{}", stale.body);
        stale.assert_contains("“食用油”在您打开表单后已被别人修改");
        stale.assert_contains(r#"value="28""#);
        let price: i64 = items::table.find(&item).select(items::points_price).first(&mut app.conn()).unwrap();
        assert_eq!(price, 35, "the first price stands");
    }
}

app_test! {
    /// The donor form: every wrong field beside it, what was typed kept,
    /// the phone read by the one phone parser; nothing stored.
    async fn a_refused_donor_keeps_what_was_typed_and_names_every_field(app) {
        let admin = app.admin().await;
        let page = admin.post("/donors", &[
            ("name", ""), ("kind", "enterprise"), ("contact_person", "王经理"),
            ("phone", "abc"), ("address", "经十路 8 号"), ("note", "每月\u{7}捐赠"),
        ]).await;
        assert_eq!(page.status, 422, "the form comes back, not a redirect: {}", page.body);
        page.assert_contains("捐赠方名称：必须填写");
        page.assert_contains("联系电话：应为 11 位手机号或带区号的固定电话");
        page.assert_contains("说明：不能包含控制字符");
        for field in ["field.donor_name", "field.phone", "field.note"] {
            page.assert_contains(&format!(r#"<span class="field-error" data-field="{field}">"#));
        }
        for kept in [r#"value="王经理""#, r#"value="abc""#, r#"value="经十路 8 号""#, r#"<option value="enterprise" selected>"#] {
            page.assert_contains(kept);
        }
        let n: i64 = donors::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 0, "nothing stored");
        let saved = admin.submit("/donors", &[("name", "济南粮油"), ("kind", "enterprise"), ("phone", "0531-88886666")]).await;
        saved.assert_contains("济南粮油");
        let phone: String = donors::table.select(donors::phone).first(&mut app.conn()).unwrap();
        assert_eq!(phone, "0531-88886666");
    }
}

/// POST raw bytes as a url-encoded form, with the client's CSRF token.
async fn post_raw_bytes(c: &Client, path: &str, rest: &[u8]) -> Page {
    let mut body = format!("csrf={}&", c.csrf().await).into_bytes();
    body.extend_from_slice(rest);
    let res = c
        .http
        .post(format!("{}{}", c.base, path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    Page {
        status: res.status().as_u16(),
        location: None,
        headers: res.headers().clone(),
        body: res.text().await.unwrap(),
    }
}

app_test! {
    /// A control character or bytes that are not text in a field: the form
    /// comes back with that field named and the rest kept (never the bare
    /// error page); an area's rename says which field, in words.
    async fn control_characters_and_bad_bytes_come_back_on_the_form(app) {
        let [_, _, town, village] = app.area_chain("乱码");
        let household = app.household("郑一", &village);
        let admin = app.admin().await;
        let edit = admin.get(&format!("/households/{household}/edit")).await;
        let v = version_in(&edit.body, &format!("/households/{household}"));
        let form = household_edit(&app, &household, &v, &[("address", "五组 2 号"), ("notes", "响铃\u{7}")]);
        let page = admin.post(&format!("/households/{household}"), &pairs(&form)).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("备注：不能包含控制字符");
        page.assert_contains(r#"<span class="field-error" data-field="field.notes">"#);
        page.assert_contains(r#"value="五组 2 号""#);
        // Bytes that are not UTF-8 in the address: named, the notes kept.
        let mut raw = format!("version={v}&head_name=%E9%83%91%E4%B8%80&area_id={village}&members=3&notes=%E7%8B%AC%E5%B1%85&address=").into_bytes();
        raw.extend_from_slice(b"%E4%BA%94%FF");
        let page = post_raw_bytes(&admin, &format!("/households/{household}"), &raw).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("地址：含有无法识别的字符（不是 UTF-8 文本）");
        page.assert_contains(r#"<span class="field-error" data-field="field.address">"#);
        page.assert_contains("独居");
        // What could not be read is not echoed as something else.
        assert!(!page.body.contains('\u{FFFD}'), "{}", page.body);
        let address: String = households::table.find(&household).select(households::address).first(&mut app.conn()).unwrap();
        assert_eq!(address, "一组 1 号", "nothing changed");
        // A field no form reads is still refused by the form layer.
        let page = post_raw_bytes(&admin, &format!("/households/{household}"), b"nobody=%FF").await;
        assert_eq!(page.status, 422, "{}", page.body);

        // An area's rename: the name field, in words.
        let page = admin.post(&format!("/areas/{town}/rename"), &[("name", "新\u{1b}镇")]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("区域名称：不能包含控制字符");
        page.assert_contains(r#"data-field="field.area_name""#);
        assert!(!page.body.contains("error."), "no raw message key: {}", page.body);
    }
}

app_test! {
    /// A day or a date filter that does not read is a 422 naming it; so is
    /// a page number that does not read, the first page shown with it.
    async fn bad_dates_and_bad_page_numbers_are_named(app) {
        let [_, _, town, village] = app.area_chain("日期");
        let store = app.store("日期超市", &town);
        app.household("冯二", &village);
        let admin = app.admin().await;
        let page = admin.get(&format!("/counter/day?store_id={store}&date=2026-13-45")).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("日期：");
        let page = admin.get(&format!("/counter/day?store_id={store}&date={}", aixin::time::today(chrono_tz::Asia::Shanghai))).await;
        assert_eq!(page.status, 200);
        for path in ["/audit?from=2026-13-45".to_string(), format!("/stores/{store}/movements?from=2026-02-30")] {
            let page = admin.get(&path).await;
            assert_eq!(page.status, 422, "{path}: {}", page.body);
        }
        let page = admin.get("/households?page=abc").await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("页码：");
        page.assert_contains("冯二");
    }
}

app_test! {
    /// A store's phone is read by the one phone parser; an area under a
    /// parent that is none names the parent; a donation line whose item is
    /// none is refused naming the line, beside the form's other errors.
    async fn phones_parents_and_donation_items_are_named(app) {
        let [_, _, town, _] = app.area_chain("命名");
        let store = app.store("命名超市", &town);
        let admin = app.admin().await;
        let page = admin.post("/stores", &[("name", "电话超市"), ("area_id", &town), ("phone", "abc")]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("电话：应为 11 位手机号或带区号的固定电话");
        let page = admin.post(&format!("/stores/{store}/edit"), &[("name", "命名超市"), ("area_id", &town), ("phone", "12"), ("version", &app.version_of("stores", &store))]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("电话：应为 11 位手机号");

        let page = admin.post("/areas", &[("parent_id", "no-such-area"), ("name", "新村")]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("上级区域：");
        page.assert_contains(r#"value="新村""#);

        let goods = crate::stock::seed(&app, &store);
        let new = admin.get(&format!("/stores/{store}/donations/new")).await;
        let key = crate::stock::key_for(&new.body, &format!("/stores/{store}/donations"));
        let before: i64 = donations::table.count().get_result(&mut app.conn()).unwrap();
        let page = admin.post(&format!("/stores/{store}/donations"), &[
            ("key", key.as_str()), ("donor_id", goods.donor.as_str()),
            ("donated_on", &aixin::time::today(chrono_tz::Asia::Shanghai).to_string()),
            ("item", goods.items[0].as_str()), ("quantity", "2"), ("value", "10"),
            ("item", ""), ("quantity", ""), ("value", ""),
            ("item", "no-such-item"), ("quantity", "3"), ("value", "x"),
        ]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("第 3 行：找不到这种物资");
        page.assert_contains("第 3 行");
        let after: i64 = donations::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(before, after, "nothing booked");
    }
}

app_test! {
    /// Refusing to close a month, or a receipt paper that is none, comes
    /// back on the page that holds the form, with the message (never a
    /// redirect with a flash).
    async fn month_close_refusals_come_back_on_the_summary(app) {
        let [city, _, _, _] = app.area_chain("月结");
        let admin = app.admin().await;
        let this = aixin::reports::Month::of(aixin::time::today(chrono_tz::Asia::Shanghai)).to_string();
        let page = admin.post("/reports/close", &[("month", this.as_str()), ("area_id", city.as_str())]).await;
        assert!(matches!(page.status, 409 | 422), "{}: {}", page.status, page.body);
        page.assert_contains("还没有结束");
        page.assert_contains("id=\"month-close\"");
        let closes: i64 = aixin::db::schema::month_closes::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(closes, 0);
        // A month that is over, from a summary whose area is no area: the
        // area is refused and nothing is closed.
        let last = aixin::reports::Month::of(aixin::time::today(chrono_tz::Asia::Shanghai)).prev().to_string();
        let page = admin.post("/reports/close", &[("month", last.as_str()), ("area_id", "abc")]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        let closes: i64 = aixin::db::schema::month_closes::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(closes, 0, "nothing closed");
    }
}

app_test! {
    /// The award edit form: every wrong field beside it at once (a date that
    /// does not exist, a note too long, a rule that does not exist), what
    /// was typed kept, 422; a control character in the note the same; a
    /// stale version a 409 with the form kept. Nothing changes.
    async fn a_refused_award_edit_keeps_what_was_typed_and_names_every_field(app) {
        use aixin::db::schema::awards;
        let [_, _, _, village] = app.area_chain("改奖");
        let h = app.household("改奖户", &village);
        app.rule("B01", "参加村集体劳动", 5, None);
        app.user("gj-off", Role::Official, Some(&village), None);
        let official = app.client();
        official.login("gj-off", PASSWORD).await;
        let day = aixin::time::today(chrono_tz::Asia::Shanghai).to_string();
        let key = uuid::Uuid::new_v4().to_string();
        let done = official.post("/awards", &[("household_id", h.as_str()), ("rule_code", "B01"), ("occurred_on", &day), ("note", "打扫村道"), ("key", &key)]).await;
        assert_eq!(done.status, 303, "{}", done.body);
        let id: String = awards::table.filter(awards::household_id.eq(&h)).select(awards::id).first(&mut app.conn()).unwrap();
        let action = format!("/awards/{id}");
        let v = version_in(&official.get(&format!("/awards/{id}/edit")).await.body, &action);
        let long = "长".repeat(300);
        let page = official.post(&action, &[("version", v.as_str()), ("occurred_on", "2026-02-30"), ("note", &long), ("rule_code", "NOPE")]).await;
        assert_eq!(page.status, 422, "the form comes back, not a redirect: {}", page.body);
        for field in ["field.occurred_on", "field.note", "field.rule"] {
            page.assert_contains(&format!(r#"<span class="field-error" data-field="{field}">"#));
        }
        page.assert_contains(r#"value="2026-02-30""#);
        page.assert_contains(&format!(r#"value="{long}""#));
        page.assert_contains(r#"<option value="NOPE" selected>"#);

        let page = official.post(&action, &[("version", v.as_str()), ("occurred_on", &day), ("note", "打扫\u{7}村道"), ("rule_code", "B01")]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("说明：不能包含控制字符");
        page.assert_contains(r#"<span class="field-error" data-field="field.note">"#);

        // Saved in another tab first; this tab's save is told, its note kept.
        let other = official.post(&action, &[("version", v.as_str()), ("occurred_on", &day), ("note", "清理河道"), ("rule_code", "B01")]).await;
        assert_eq!(other.status, 303, "{}", other.body);
        let stale = official.post(&action, &[("version", v.as_str()), ("occurred_on", &day), ("note", "修路"), ("rule_code", "B01")]).await;
        assert_eq!(stale.status, 409, "{}", stale.body);
        stale.assert_contains(r#"id="form-errors""#);
        stale.assert_contains(r#"value="修路""#);
        let note: String = awards::table.find(&id).select(awards::note).first(&mut app.conn()).unwrap();
        assert_eq!(note, "清理河道", "the other tab's change stands");
        // Saved again from the page that said so, it goes through.
        let again = official.post(&action, &[("version", version_in(&stale.body, &action).as_str()), ("occurred_on", &day), ("note", "修路"), ("rule_code", "B01")]).await;
        assert_eq!(again.status, 303, "{}", again.body);
    }
}

app_test! {
    /// A rule's edit form carries the rule's version: a save from a form
    /// opened before another edit is refused (409) with what was typed kept.
    async fn a_stale_rule_edit_is_refused_with_the_form_kept(app) {
        app.rule("B01", "参加村集体劳动", 5, None);
        let admin = app.admin().await;
        let action = "/rules/B01";
        let v = version_in(&admin.get("/rules/B01/edit").await.body, action);
        let form = |name: &str, points: &str| vec![("version".to_string(), v.clone()), ("name".into(), name.into()), ("category_id".into(), "cat-01".into()), ("points".into(), points.into()), ("active".into(), "1".into())];
        assert_eq!(admin.post(action, &pairs(&form("参加村集体劳动", "6"))).await.status, 303);
        let stale = admin.post(action, &pairs(&form("参加集体劳动", "5"))).await;
        assert_eq!(stale.status, 409, "{}", stale.body);
        stale.assert_contains("“参加村集体劳动”在您打开表单后已被别人修改");
        stale.assert_contains(r#"value="参加集体劳动""#);
        let rule = aixin::points::current_rule(&mut app.conn(), "B01").unwrap().unwrap();
        assert_eq!((rule.name.as_str(), rule.points, rule.version), ("参加村集体劳动", 6, 2), "the first save stands");
    }
}

app_test! {
    /// A field that takes one value, sent twice, is a field error like any
    /// other: the form comes back (422) with the first value typed kept and
    /// the message beside the field, and nothing is done — on the household
    /// registration form, the award edit form and the donation form.
    async fn a_field_sent_twice_comes_back_on_its_form_and_changes_nothing(app) {
        use aixin::db::schema::awards;
        let [_, _, town, village] = app.area_chain("两次");
        app.user("lc-off", Role::Official, Some(&village), None);
        let official = app.client();
        official.login("lc-off", PASSWORD).await;
        let before = households::table.count().get_result::<i64>(&mut app.conn()).unwrap();
        let id_number = test_id_number();
        let page = official.post("/households", &[
            ("head_name", "甲"), ("head_name", "乙"), ("id_number", id_number.as_str()),
            ("area_id", village.as_str()), ("members", "2"),
        ]).await;
        assert_eq!(page.status, 422, "the form comes back: {}", page.body);
        page.assert_contains(r#"<span class="field-error" data-field="field.head_name">户主姓名：填写了两次"#);
        page.assert_contains(r#"value="甲""#);
        page.assert_contains(r#"action="/households""#);
        let after = households::table.count().get_result::<i64>(&mut app.conn()).unwrap();
        assert_eq!(before, after, "nothing registered");

        // The award edit form.
        let h = app.household("两次户", &village);
        app.rule("B01", "参加村集体劳动", 5, None);
        let day = aixin::time::today(chrono_tz::Asia::Shanghai).to_string();
        let key = uuid::Uuid::new_v4().to_string();
        let done = official.post("/awards", &[("household_id", h.as_str()), ("rule_code", "B01"), ("occurred_on", &day), ("note", "打扫村道"), ("key", &key)]).await;
        assert_eq!(done.status, 303, "{}", done.body);
        let id: String = awards::table.filter(awards::household_id.eq(&h)).select(awards::id).first(&mut app.conn()).unwrap();
        let action = format!("/awards/{id}");
        let v = version_in(&official.get(&format!("/awards/{id}/edit")).await.body, &action);
        let page = official.post(&action, &[("version", v.as_str()), ("occurred_on", &day), ("note", "修路"), ("note", "清理河道"), ("rule_code", "B01")]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"<span class="field-error" data-field="field.note">"#);
        page.assert_contains("填写了两次");
        page.assert_contains(r#"value="修路""#);
        let (note, version): (String, i64) = awards::table.find(&id).select((awards::note, awards::version)).first(&mut app.conn()).unwrap();
        assert_eq!((note.as_str(), version.to_string()), ("打扫村道", v.clone()), "the award is as it was");

        // The donation form: its lines repeat by design, the donor may not.
        let store = app.store("两次超市", &town);
        let goods = crate::stock::seed(&app, &store);
        let admin = app.admin().await;
        let new = admin.get(&format!("/stores/{store}/donations/new")).await;
        let key = crate::stock::key_for(&new.body, &format!("/stores/{store}/donations"));
        let before: i64 = donations::table.count().get_result(&mut app.conn()).unwrap();
        let page = admin.post(&format!("/stores/{store}/donations"), &[
            ("key", key.as_str()), ("donor_id", goods.donor.as_str()), ("donor_id", "another"),
            ("donated_on", &day),
            ("item", goods.items[0].as_str()), ("quantity", "2"), ("value", "17"),
            ("item", goods.items[1].as_str()), ("quantity", "3"), ("value", "9"),
        ]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"<span class="field-error" data-field="field.donor">"#);
        page.assert_contains("填写了两次");
        page.assert_contains(r#"value="17""#);
        let after: i64 = donations::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(before, after, "nothing booked");
        // The same form with each field once goes through.
        let page = admin.post(&format!("/stores/{store}/donations"), &[
            ("key", key.as_str()), ("donor_id", goods.donor.as_str()), ("donated_on", &day),
            ("item", goods.items[0].as_str()), ("quantity", "2"), ("value", "17"),
            ("item", goods.items[1].as_str()), ("quantity", "3"), ("value", "9"),
        ]).await;
        assert_eq!(page.status, 303, "{}", page.body);
    }
}

app_test! {
    /// A filter that does not read comes back on its page with what was
    /// typed and the message beside the field (422): the rulebook's new
    /// category, the monthly summary's month (said as a month), the end of
    /// day's date, the signals' month, a statement's period and the public
    /// honour roll's month.
    async fn a_filter_that_does_not_read_comes_back_in_its_form(app) {
        let [city, _, town, village] = app.area_chain("筛选");
        let store = app.store("筛选超市", &town);
        let h = app.household("筛选户", &village);
        let admin = app.admin().await;

        let long = "类".repeat(40);
        let page = admin.post("/rules/categories", &[("name", long.as_str())]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"data-field="field.category""#);
        page.assert_contains(&format!(r#"value="{long}""#));
        let page = admin.post("/rules/categories", &[("name", " ")]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"data-field="field.category""#);

        for bad in ["2026-13", "2026-00"] {
            let page = admin.get(&format!("/reports/monthly?month={bad}&area_id={city}")).await;
            assert_eq!(page.status, 422, "{bad}: {}", page.body);
            page.assert_contains(r#"<span class="field-error" data-field="field.month">月份：没有这个月"#);
            page.assert_contains(&format!(r#"name="month" type="month" value="{bad}""#));
            assert!(!page.body.contains("没有这一天"), "a month is not a day");
        }
        let page = admin.get("/reports/monthly?month=11-2026").await;
        assert_eq!(page.status, 422);
        page.assert_contains(r#"data-field="field.month""#);
        page.assert_contains(r#"value="11-2026""#);

        let page = admin.get(&format!("/counter/day?store_id={store}&date=2026-02-30")).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"data-field="field.date""#);
        page.assert_contains(r#"value="2026-02-30""#);
        assert!(!page.body.contains("id=\"day-summary\""), "no other day's summary");

        let page = admin.get(&format!("/signals?month=2026-13&area={city}")).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"<span class="field-error" data-field="field.month">月份：没有这个月"#);
        page.assert_contains(r#"value="2026-13""#);

        let page = admin.get(&format!("/households/{h}/statement?from=2026-02-30&to=2026-03-01")).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"data-field="field.from""#);
        page.assert_contains(r#"value="2026-02-30""#);
        page.assert_contains(r#"value="2026-03-01""#);

        let anon = app.client();
        let page = anon.get(&format!("/public/honours/{town}?month=2026-13")).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"data-field="field.month""#);
        page.assert_contains(r#"value="2026-13""#);
    }
}

app_test! {
    /// A form of buttons and hidden fields refused (a field sent twice, a
    /// value no button sends) is the page again with the message (422),
    /// and nothing is done: the review queue (a row's version, the area, a
    /// button), a store's open/close, a household's new card and revealing
    /// a household's ID number or phone.
    async fn a_refused_button_form_is_its_page_again_and_does_nothing(app) {
        use aixin::db::schema::{awards, points_cards};
        use aixin::points::awards as aw;
        let [_, _, town, village] = app.area_chain("按钮");
        let off = app.user("an-off", Role::Official, Some(&village), None);
        app.user("an-rev", Role::Reviewer, Some(&village), None);
        let h = app.household("按钮户", &village);
        app.rule("W6", "志愿服务", 5, None);
        let day = aixin::time::today(chrono_tz::Asia::Shanghai);
        let official = crate::helpers::Who { user_id: off, role: Role::Official, scope: aixin::auth::Scope::All };
        let p = aw::parse_proposal("W6", &day.to_string(), "", day).unwrap();
        let award = aw::propose(&mut app.conn(), &official.actor(&aixin::auth::Actor::console()), &crate::helpers::hid(&h), &p, "an1", day)
            .unwrap()
            .id
            .to_string();
        let reviewer = app.client();
        reviewer.login("an-rev", PASSWORD).await;
        let v = format!("v:{award}");
        for form in [
            vec![("approve_one", award.as_str()), (v.as_str(), "1"), (v.as_str(), "2")],
            vec![("approve_one", award.as_str()), ("approve_one", award.as_str()), (v.as_str(), "1")],
            vec![("decision", "approve"), ("id", award.as_str()), (v.as_str(), "1"), ("area_id", village.as_str()), ("area_id", town.as_str())],
        ] {
            let page = reviewer.post("/review", &form).await;
            assert_eq!(page.status, 422, "{form:?}: {}", page.body);
            page.assert_contains(r#"id="form-errors""#);
            page.assert_contains("填写了两次");
            if form.contains(&("id", award.as_str())) {
                page.assert_contains(&format!(r#"value="{award}" aria-label="按钮户" checked"#));
            }
        }
        let pending: i64 = awards::table.filter(awards::status.eq("pending")).count().get_result(&mut app.conn()).unwrap();
        assert_eq!(pending, 1, "nothing was decided");

        let admin = app.admin().await;
        let store = app.store("按钮超市", &town);
        let action = format!("/stores/{store}/active");
        for (form, says) in [
            (vec![("active", "0"), ("active", "1")], "填写了两次"),
            (vec![("active", "2")], "状态：请从列表中选择一项"),
        ] {
            let page = admin.post(&action, &form).await;
            assert_eq!(page.status, 422, "{form:?}: {}", page.body);
            page.assert_contains(r#"id="form-errors""#);
            page.assert_contains(says);
            page.assert_contains(&format!(r#"action="{action}""#));
        }
        let active: bool = stores::table.find(&store).select(stores::active).first(&mut app.conn()).unwrap();
        assert!(active, "the store is open as it was");

        let cards = || points_cards::table.filter(points_cards::household_id.eq(&h)).count().get_result::<i64>(&mut app.conn()).unwrap();
        let before = cards();
        let card: String = points_cards::table.filter(points_cards::household_id.eq(&h)).select(points_cards::card_no).first(&mut app.conn()).unwrap();
        let page = admin.post(&format!("/households/{h}/card"), &[("card", card.as_str()), ("card", "1")]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"id="form-errors""#);
        page.assert_contains("填写了两次");
        assert_eq!(cards(), before, "no new card");

        let reveal = format!("/households/{h}/reveal");
        for (form, says) in [
            (vec![("what", "id"), ("what", "phone")], "填写了两次"),
            (vec![("what", "zzz")], "查看内容：只能查看身份证号或电话"),
            (vec![], "查看内容：只能查看身份证号或电话"),
        ] {
            let page = admin.post(&reveal, &form).await;
            assert_eq!(page.status, 422, "{form:?}: {}", page.body);
            page.assert_contains(r#"id="form-errors""#);
            page.assert_contains(says);
            page.assert_contains("********");
        }
        assert!(!app.audit_actions().contains(&"household.reveal".to_string()), "nothing revealed");
        let shown = admin.post(&reveal, &[("what", "id")]).await;
        assert_eq!(shown.status, 200, "{}", shown.body);
        assert!(app.audit_actions().contains(&"household.reveal".to_string()));
    }
}

app_test! {
    /// A filter field sent twice is refused like a filter value that does
    /// not read: the page's filter form (422) with the first value typed
    /// and the message beside the field, labelled like every field error;
    /// a refused month shows no month's figures or export links, and an
    /// export asked for a month that does not read is that form too.
    async fn a_filter_sent_twice_or_not_read_is_its_filter_form_again(app) {
        let [city, _, town, village] = app.area_chain("两筛");
        let store = app.store("两筛超市", &town);
        let h = app.household("两筛户", &village);
        let admin = app.admin().await;
        let no_figures = |page: &Page| {
            assert!(!page.body.contains("href=\"/reports/monthly.csv") && !page.body.contains("href=\"/reports/monthly.xlsx"), "no export links: {}", page.body);
            assert!(!page.body.contains("class=\"report-meta\"") && !page.body.contains("id=\"report-ok\""), "no figures: {}", page.body);
        };
        let page = admin.get(&format!("/reports/monthly?month=2026-11&month=2026-10&area_id={city}")).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"<span class="field-error" data-field="field.month">月份：填写了两次"#);
        page.assert_contains(r#"name="month" type="month" value="2026-11""#);
        no_figures(&page);
        let page = admin.get(&format!("/reports/monthly?month=2026-13&area_id={city}")).await;
        assert_eq!(page.status, 422, "{}", page.body);
        no_figures(&page);
        let page = admin.get(&format!("/reports/monthly?month=2026-2&area_id={city}")).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"data-field="field.month">月份：请写成 年-月"#);
        for ext in ["csv", "xlsx"] {
            let page = admin.get(&format!("/reports/monthly.{ext}?month=2026-13&area_id={city}")).await;
            assert_eq!(page.status, 422, "{ext}: {}", page.body);
            page.assert_contains(r#"<span class="field-error" data-field="field.month">月份：没有这个月"#);
            page.assert_contains(r#"name="month" type="month" value="2026-13""#);
            no_figures(&page);
            let page = admin.get(&format!("/reports/monthly.{ext}?month=2026-11&month=2026-10&area_id={city}")).await;
            assert_eq!(page.status, 422, "{ext}: {}", page.body);
            page.assert_contains("月份：填写了两次");
        }

        for ext in ["csv", "xlsx"] {
            let page = admin.get(&format!("/households/{h}/statement.{ext}?from=2026-02-30")).await;
            assert_eq!(page.status, 422, "{ext}: {}", page.body);
            page.assert_contains(r#"<span class="field-error" data-field="field.from">"#);
            page.assert_contains(r#"value="2026-02-30""#);
            let page = admin.get(&format!("/households/{h}/statement.{ext}?from=2026-01-01&from=2026-02-01")).await;
            assert_eq!(page.status, 422, "{ext}: {}", page.body);
            page.assert_contains("填写了两次");
        }

        let page = admin.get("/households?q=a&q=b").await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"data-field="households.search">查找：填写了两次"#);
        page.assert_contains(r#"name="q" id="q" value="a""#);

        let page = admin.get(&format!("/counter/day?store_id={store}&date=2026-11-01&date=2026-11-02")).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"<span class="field-error" data-field="field.date">日期：填写了两次"#);
        page.assert_contains(r#"value="2026-11-01""#);
        assert!(!page.body.contains("id=\"day-summary\""), "no day's summary");
        let page = admin.get(&format!("/counter/day?store_id={store}&date=2026/11/01")).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"data-field="field.date">日期：格式应为 年-月-日"#);
    }
}

app_test! {
    /// A field sent twice is said beside its field under the label its
    /// form gives it (a store's name), never by its raw name; a hidden
    /// field the page fills in itself (an edit's version) is said in the
    /// form's summary as a page to reload. Nothing is changed.
    async fn a_field_sent_twice_is_named_by_its_forms_label(app) {
        let [_, _, town, _] = app.area_chain("标签");
        let admin = app.admin().await;
        let page = admin.post("/stores", &[("name", "甲超市"), ("name", "乙超市"), ("area_id", town.as_str())]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"<span class="field-error" data-field="field.store_name">"#);
        page.assert_contains("填写了两次");
        page.assert_contains(r#"value="甲超市""#);
        assert!(!page.body.contains("“name”"), "never the raw name: {}", page.body);
        let store = app.store("标签超市", &town);
        let action = format!("/stores/{store}/edit");
        let v = version_in(&admin.get(&format!("/stores/{store}")).await.body, &action);
        let page = admin.post(&action, &[("version", v.as_str()), ("version", "99"), ("name", "标签超市二"), ("area_id", town.as_str())]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"id="form-errors""#);
        page.assert_contains("页面已过期或不完整，请刷新页面后重新填写");
        assert!(!page.body.contains("“version”"), "never the raw name: {}", page.body);
        let name: String = stores::table.find(&store).select(stores::name).first(&mut app.conn()).unwrap();
        assert_eq!(name, "标签超市", "the store is as it was");
    }
}

/// A form's fields as name-value pairs.
type Form = Vec<(String, String)>;

/// A form's fields as owned pairs.
fn owned(form: &[(&str, &str)]) -> Form {
    form.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The message a field sent twice shows beside `label` in `lang`, as the
/// page writes it.
fn sent_twice_beside(lang: aixin::i18n::Lang, label: &'static str) -> String {
    let text = aixin::i18n::field_error(
        lang,
        &aixin::domain::FieldError::new(label, "error.sent_twice"),
    );
    format!(r#"<span class="field-error" data-field="{label}">{text}"#)
}

app_test! {
    /// Every form's field sent twice comes back (422) with the first value
    /// typed and the message inside that field's error span, under the
    /// label the page gives it, in Chinese and in English: an item, a rule
    /// (its code), a rule category, an area, a donor, a batch's pasted
    /// cards, an adjustment's amount, a setting (and the value it showed)
    /// a count sheet's line and an API token's name and days. Nothing is
    /// changed.
    async fn every_forms_field_sent_twice_is_said_beside_its_label(app) {
        use aixin::i18n::Lang;
        let [city, _, town, village] = app.area_chain("两标");
        let store = app.store("两标超市", &town);
        let goods = crate::stock::seed(&app, &store);
        let h = app.household("两标户", &village);
        app.rule("T01", "两标细则", 5, None);
        let admin = app.admin().await;
        let day = aixin::time::today(chrono_tz::Asia::Shanghai).to_string();
        let count = |item: &str| format!("count_{item}");
        let seen_count = |item: &str| format!("seen.count_{item}");
        let item = goods.items[1].clone();
        let done_before = app.audit_actions().len();
        for lang in [Lang::Zh, Lang::En] {
            if lang == Lang::En {
                admin.post("/lang", &[("lang", "en"), ("back", "/")]).await;
            }
            let key = uuid::Uuid::new_v4().to_string();
            let cases: Vec<(String, Form, &'static str, String)> = vec![
                ("/items".into(), owned(&[("name", "两标米"), ("name", "两标面"), ("unit", "袋"), ("points_price", "3")]), "field.item_name", r#"value="两标米""#.into()),
                ("/rules".into(), owned(&[("code", "Z01"), ("code", "Z02"), ("name", "两标"), ("category_id", "cat-01"), ("points", "5"), ("active", "1")]), "field.rule_code", r#"value="Z01""#.into()),
                ("/rules/categories".into(), owned(&[("name", "甲类"), ("name", "乙类")]), "field.category", r#"value="甲类""#.into()),
                ("/areas".into(), owned(&[("parent_id", city.as_str()), ("name", "新区"), ("name", "旧区")]), "field.area_name", r#"value="新区""#.into()),
                ("/donors".into(), owned(&[("name", "甲公司"), ("name", "乙公司"), ("kind", "enterprise")]), "field.donor_name", r#"value="甲公司""#.into()),
                ("/awards/batch".into(), owned(&[("key", key.as_str()), ("rule_code", "T01"), ("occurred_on", day.as_str()), ("cards", "A1"), ("cards", "B2")]), "field.card_no", ">A1</textarea>".into()),
                (format!("/households/{h}/adjust"), owned(&[("amount", "5"), ("amount", "6"), ("reason", "两标"), ("key", key.as_str())]), "field.points", r#"value="5""#.into()),
                ("/settings".into(), owned(&[("notice_days", "3"), ("notice_days", "4")]), "settings.notice_days", r#"value="3""#.into()),
                ("/settings".into(), owned(&[("notice_days", "3"), ("seen.notice_days", "7"), ("seen.notice_days", "8")]), "settings.notice_days", r#"value="3""#.into()),
                (format!("/stocktakes/{}/counts", goods.stocktake), vec![(count(&item), "4".into()), (count(&item), "5".into()), ("counted_by".into(), "李".into())], "field.counted", r#"value="4""#.into()),
                (format!("/stocktakes/{}/counts", goods.stocktake), vec![(count(&item), "4".into()), (seen_count(&item), "".into()), (seen_count(&item), "1".into())], "field.counted", r#"value="4""#.into()),
            ];
            for (path, form, label, kept) in cases {
                let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let page = admin.post(&path, &fields).await;
                assert_eq!(page.status, 422, "{lang:?} {path} {form:?}: {}", page.body);
                let beside = sent_twice_beside(lang, label);
                page.assert_contains(&beside);
                page.assert_contains(&kept);
                if path.contains("/stocktakes/") {
                    // Beside the line of the count sent twice.
                    let at = page.body.find(&format!(r#"name="{}""#, count(&item))).expect("the line");
                    let cell = &page.body[at..at + page.body[at..].find("</td>").unwrap()];
                    assert!(cell.contains(&beside), "{lang:?} {form:?}: {cell}");
                }
                for (name, _) in &form {
                    assert!(!page.body.contains(&format!("“{name}”")) && !page.body.contains(&format!("\"{name}\" was")), "{lang:?} never the raw name {name}: {}", page.body);
                }
            }
            for (form, label) in [
                (vec![("name", "扫码枪"), ("name", "打印机"), ("days", "90"), ("password", PASSWORD)], "field.token_name"),
                (vec![("name", "扫码枪"), ("days", "90"), ("days", "30"), ("password", PASSWORD)], "auth.token_days"),
            ] {
                let page = admin.post("/profile/tokens", &form).await;
                assert_eq!(page.status, 422, "{lang:?} {form:?}: {}", page.body);
                page.assert_contains(&sent_twice_beside(lang, label));
                page.assert_contains(r#"value="扫码枪""#);
            }
        }
        let c = &mut app.conn();
        assert_eq!(items::table.filter(items::name.like("两标%")).count().get_result::<i64>(c).unwrap(), 0, "no item");
        assert_eq!(donors::table.filter(donors::name.like("%公司")).filter(donors::name.ne("爱心粮油公司")).count().get_result::<i64>(c).unwrap(), 0, "no donor");
        assert_eq!(aixin::db::schema::api_tokens::table.count().get_result::<i64>(c).unwrap(), 0, "no token");
        assert_eq!(app.audit_actions().len(), done_before, "nothing done: {:?}", app.audit_actions());
    }
}

app_test! {
    /// Told that the household changed meanwhile, the form says beside each
    /// field what is saved there now, so saving again undoes nothing unseen.
    async fn a_stale_household_edit_shows_what_was_saved_meanwhile(app) {
        let [_, _, _, village] = app.area_chain("改后");
        let id = app.household("改后户", &village);
        let admin = app.admin().await;
        let action = format!("/households/{id}");
        let seen = app.version_of("households", &id);
        // Opened at `seen`; someone else saves a new address meanwhile.
        let opened = household_edit(&app, &id, &seen, &[("notes", "腿脚不便")]);
        let other = household_edit(&app, &id, &seen, &[("address", "管理员改的地址")]);
        let saved = admin.post(&action, &pairs(&other)).await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        let told = admin.post(&action, &pairs(&opened)).await;
        assert_eq!(told.status, 409, "{}", told.body);
        told.assert_contains("这户的记录在您打开表单后已被");
        told.assert_contains(r#"data-field="field.address">地址：现在保存的是：管理员改的地址"#);
        told.assert_contains("腿脚不便");
        // Notes typed where none is saved: the saved (empty) value is said too.
        told.assert_contains(r#"data-field="field.notes">备注：现在保存的是：（空）"#);
        // Fields that agree say nothing: two fields, each in the summary and beside it.
        assert_eq!(told.body.matches("现在保存的是").count(), 4, "{}", told.body);
    }
}

app_test! {
    /// A household edit says every error at once: a bad size and a change
    /// of status without its reason, in one answer.
    async fn a_household_edit_says_every_error_at_once(app) {
        let [_, _, _, village] = app.area_chain("全错");
        let id = app.household("全错户", &village);
        let admin = app.admin().await;
        let form = household_edit(&app, &id, &app.version_of("households", &id), &[("members", "0"), ("status", "monitored")]);
        let told = admin.post(&format!("/households/{id}"), &pairs(&form)).await;
        assert_eq!(told.status, 422, "{}", told.body);
        told.assert_contains("家庭人口：应为 1 到 99 之间的整数");
        told.assert_contains("修改户类型时必须填写原因");
    }
}

app_test! {
    /// A stale household edit says which fields changed meanwhile, the
    /// phone and the ID number too, each shown masked, never in full.
    async fn a_stale_household_edit_names_a_phone_or_id_number_changed_meanwhile(app) {
        let [_, _, _, village] = app.area_chain("改号");
        let (id, _) = app.household_with_id("改号户", &village, &crate::helpers::test_id_number());
        let admin = app.admin().await;
        let page = format!("/households/{id}/edit");
        let action = format!("/households/{id}");
        // Opened now, with what it showed.
        let opened = admin.get(&page).await;
        let v = version_in(&opened.body, &action);
        let seen = crate::helpers::seen_fields(&opened.body);
        assert!(seen.iter().any(|(k, v)| k == "seen.phone" && v == "138****8000"), "{seen:?}");
        // Someone else saves a new phone and ID number meanwhile.
        let new_id = crate::helpers::test_id_number();
        let other = household_edit(&app, &id, &v, &[("phone", "13912345678"), ("id_number", &new_id)]);
        let saved = admin.post(&action, &pairs(&other)).await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        // This tab saves its notes on the form it opened.
        let mut mine = household_edit(&app, &id, &v, &[("notes", "腿脚不便")]);
        mine.extend(seen.iter().cloned());
        let told = admin.post(&action, &pairs(&mine)).await;
        assert_eq!(told.status, 409, "{}", told.body);
        told.assert_contains(r#"data-field="field.phone">联系电话：现在保存的是：139****5678"#);
        let masked_id = format!("{}********{}", &new_id[..6], &new_id[14..]);
        told.assert_contains(&format!(r#"data-field="field.id_number">身份证号：现在保存的是：{masked_id}"#));
        assert!(!told.body.contains("13912345678") && !told.body.contains(&new_id), "never in full");
        told.assert_contains("腿脚不便");
        // Saved again as now shown, it goes through.
        let again = crate::helpers::seen_fields(&told.body);
        let v2 = version_in(&told.body, &action);
        let mut retry = household_edit(&app, &id, &v2, &[("notes", "腿脚不便")]);
        retry.extend(again);
        let done = admin.post(&action, &pairs(&retry)).await;
        assert_eq!(done.status, 303, "{}", done.body);
    }
}

app_test! {
    /// A refused API token form keeps the lifetime chosen, as sent.
    async fn a_refused_token_form_keeps_the_days_chosen(app) {
        let admin = app.admin().await;
        admin.get("/profile").await;
        let page = admin.post("/profile/tokens", &[("name", "扫码枪"), ("days", "30"), ("password", "wrong-password-1")]).await;
        assert!(page.status == 422 || page.status == 409, "{}", page.body);
        page.assert_contains(r#"<option value="30" selected>"#);
        assert!(!page.body.contains(r#"<option value="90" selected>"#), "{}", page.body);
        page.assert_contains(r#"value="扫码枪""#);
        let page = admin.post("/profile/tokens", &[("name", ""), ("days", "180"), ("password", PASSWORD)]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"<option value="180" selected>"#);
        // A lifetime none of the choices: kept as sent, beside its message.
        let page = admin.post("/profile/tokens", &[("name", "扫码枪"), ("days", "400"), ("password", PASSWORD)]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(r#"<option value="400" selected>"#);
        page.assert_contains(r#"data-field="auth.token_days""#);
    }
}

app_test! {
    /// A form read as name-value pairs says a NUL is a control character
    /// (never "not UTF-8"), and a field's name holding one is never
    /// written into the page as sent; bytes that are not text are said as
    /// such, beside their field.
    async fn a_nul_in_a_form_read_as_pairs_is_a_control_character(app) {
        let [_, _, town, _] = app.area_chain("空字");
        let store = app.store("空字超市", &town);
        let goods = crate::stock::seed(&app, &store);
        let admin = app.admin().await;
        let done_before = app.audit_actions().len();
        let page = post_raw_bytes(&admin, "/settings", b"notice_days=3%00").await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("不能包含控制字符");
        assert!(!page.body.contains("UTF-8"), "{}", page.body);
        let page = post_raw_bytes(&admin, "/settings", b"notice_days=%FF").await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("不是 UTF-8");
        assert!(!page.body.contains('\u{FFFD}'), "{}", page.body);
        let path = format!("/stocktakes/{}/counts", goods.stocktake);
        let page = post_raw_bytes(&admin, &path, b"count_%00=4&counted_by=%E6%9D%8E").await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("控制字符");
        assert!(!page.body.contains('\0') && !page.body.contains("count_\u{FFFD}\""), "{}", page.body);
        assert_eq!(app.audit_actions().len(), done_before, "nothing changed");
    }
}

app_test! {
    /// A stale household edit flags beside each field only what someone
    /// else saved since the form was opened (what the form showed against
    /// what is saved now), never the person's own change; and a form
    /// refused for a typo keeps the version and values it was opened with,
    /// so a change saved meanwhile is caught at the next save, never
    /// undone unseen.
    async fn a_stale_household_edit_is_told_against_what_the_form_showed(app) {
        let [_, _, _, village] = app.area_chain("所见");
        let id = app.household("所见户", &village);
        let admin = app.admin().await;
        let page = format!("/households/{id}/edit");
        let action = format!("/households/{id}");
        // This tab opens the form and changes the notes.
        let opened = admin.get(&page).await;
        let v = version_in(&opened.body, &action);
        let mut mine = household_edit(&app, &id, &v, &[("notes", "腿脚不便")]);
        mine.extend(seen_fields(&opened.body));
        // Someone else saves a new address meanwhile.
        let other = household_edit(&app, &id, &v, &[("address", "别人改的地址")]);
        assert_eq!(admin.post(&action, &pairs(&other)).await.status, 303);
        let told = admin.post(&action, &pairs(&mine)).await;
        assert_eq!(told.status, 409, "{}", told.body);
        told.assert_contains(r#"data-field="field.address">地址：现在保存的是：别人改的地址"#);
        told.assert_contains("腿脚不便");
        assert!(!told.body.contains(r#"data-field="field.notes">备注：现在保存的是"#), "the person's own change is not flagged: {}", told.body);

        // A typo refused on a form opened before a change saved meanwhile.
        let opened = admin.get(&page).await;
        let v = version_in(&opened.body, &action);
        let seen = seen_fields(&opened.body);
        let mut typo = household_edit(&app, &id, &v, &[("members", "0"), ("notes", "第二次")]);
        typo.extend(seen.iter().cloned());
        let other = household_edit(&app, &id, &v, &[("address", "又改的地址")]);
        assert_eq!(admin.post(&action, &pairs(&other)).await.status, 303);
        let refused = admin.post(&action, &pairs(&typo)).await;
        assert_eq!(refused.status, 422, "{}", refused.body);
        assert_eq!(version_in(&refused.body, &action), v, "the version the form was opened with");
        assert_eq!(seen_fields(&refused.body), seen, "the values the form was opened with");
        // The typo fixed, saved again as the page sends it: the change made
        // meanwhile is said, never undone.
        let mut fixed: Vec<(String, String)> = typo
            .into_iter()
            .filter(|(k, _)| !k.starts_with("seen.") && k != "version")
            .map(|(k, v)| if k == "members" { (k, "3".to_string()) } else { (k, v) })
            .collect();
        fixed.push(("version".into(), version_in(&refused.body, &action)));
        fixed.extend(seen_fields(&refused.body));
        let told = admin.post(&action, &pairs(&fixed)).await;
        assert_eq!(told.status, 409, "{}", told.body);
        told.assert_contains(r#"data-field="field.address">地址：现在保存的是：又改的地址"#);
        let address: String = households::table.find(&id).select(households::address).first(&mut app.conn()).unwrap();
        assert_eq!(address, "又改的地址", "the other change stands");
    }
}

app_test! {
    /// An item's edit refused for a typo keeps the version it was opened
    /// with: a change saved meanwhile is a conflict at the next save.
    async fn an_item_edit_refused_keeps_the_version_it_was_opened_with(app) {
        let admin = app.admin().await;
        admin.get("/items").await;
        admin.submit("/items", &[("name", "食盐"), ("unit", "袋"), ("points_price", "2")]).await;
        let item: String = items::table.filter(items::name.eq("食盐")).select(items::id).first(&mut app.conn()).unwrap();
        let action = format!("/items/{item}/edit");
        let v = version_in(&admin.get("/items").await.body, &action);
        let edit = |price: &'static str, version: String| {
            vec![("name", "食盐".to_string()), ("unit", "袋".into()), ("points_price", price.into()), ("active", "1".into()), ("version", version)]
        };
        let post = |form: Vec<(&'static str, String)>| {
            let admin = &admin;
            let action = action.clone();
            async move {
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                admin.post(&action, &form).await
            }
        };
        // Someone else changes the price meanwhile.
        assert_eq!(post(edit("3", v.clone())).await.status, 303);
        let refused = post(edit("2.5", v.clone())).await;
        assert_eq!(refused.status, 422, "{}", refused.body);
        let shown = version_in(&refused.body, &action);
        assert_eq!(shown, v, "the version the form was opened with");
        let again = post(edit("4", shown)).await;
        assert_eq!(again.status, 409, "{}", again.body);
        let price: i64 = items::table.find(&item).select(items::points_price).first(&mut app.conn()).unwrap();
        assert_eq!(price, 3, "the other change stands");
    }
}

app_test! {
    /// A count sheet says every bad line beside its own box in one answer,
    /// with a count naming no line of the sheet and a field sent twice;
    /// what was typed is kept and nothing is saved.
    async fn a_count_sheet_says_every_bad_line_and_unknown_item_at_once(app) {
        let [_, _, town, _] = app.area_chain("全盘");
        let store = app.store("全盘超市", &town);
        let goods = crate::stock::seed(&app, &store);
        let admin = app.admin().await;
        let sheet = format!("/stocktakes/{}", goods.stocktake);
        let action = format!("{sheet}/counts");
        let count = |i: usize| format!("count_{}", goods.items[i]);
        let (first, third) = (count(0), count(2));
        let page = admin
            .post_shown(&sheet, &action, &[
                (first.as_str(), "x"),
                (third.as_str(), "-3"),
                ("count_0190a0a0-0000-7000-8000-000000000000", "5"),
                ("counted_by", "李"),
                ("witnessed_by", "王"),
                ("witnessed_by", "赵"),
            ])
            .await;
        assert_eq!(page.status, 422, "{}", page.body);
        for (name, typed) in [(&first, "x"), (&third, "-3")] {
            let at = page.body.find(&format!(r#"name="{name}""#)).expect("the line");
            let cell = &page.body[at..at + page.body[at..].find("</td>").unwrap()];
            assert!(cell.contains(&format!(r#"value="{typed}""#)), "what was typed is kept: {cell}");
            assert!(cell.contains("的实盘数量应为"), "beside its own box: {cell}");
        }
        page.assert_contains("“0190a0a0-0000-7000-8000-000000000000”不在这张盘点表上");
        page.assert_contains(&sent_twice_beside(aixin::i18n::Lang::Zh, "field.witnessed_by"));
        let (_, lines) = aixin::stock::stocktake::find(&mut app.conn(), &goods.stocktake).unwrap().unwrap();
        assert!(lines.iter().all(|l| l.counted.is_none()), "nothing saved");
    }
}

app_test! {
    /// A batch award names every entry that is no household of the
    /// proposer's with the rule and day refused, in one answer; the review
    /// queue names every tick that is no award with the missing decision.
    async fn batch_and_review_ticks_are_refused_with_the_fields_in_one_round(app) {
        let [_, _, _, village] = app.area_chain("一轮");
        let real = app.household("一轮户", &village);
        let admin = app.admin().await;
        admin.get(&format!("/awards/batch?area_id={village}")).await;
        let key = uuid::Uuid::new_v4().to_string();
        let page = admin
            .post("/awards/batch", &[
                ("key", key.as_str()),
                ("area_id", village.as_str()),
                ("rule_code", ""),
                ("occurred_on", "2026-02-30"),
                ("household_id", real.as_str()),
                ("household_id", "xyz"),
                ("household_id", "0190a0a0-0000-7000-8000-000000000000"),
            ])
            .await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("积分细则：");
        page.assert_contains("发生日期：");
        page.assert_contains("“xyz”不是您负责范围内的农户");
        page.assert_contains("“0190a0a0-0000-7000-8000-000000000000”不是您负责范围内的农户");
        let awards: i64 = aixin::db::schema::awards::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(awards, 0, "nothing proposed");

        admin.get("/review").await;
        let page = admin.post("/review", &[("id", "abc"), ("id", "def")]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains("没有这项申报：abc");
        page.assert_contains("没有这项申报：def");
        page.assert_contains("请从列表中选择一项");
    }
}
