//! The households' window under a tester's hands: the notice shows only
//! what is on notice, strangers cannot lock a household out, every refused
//! form answers 422 and keeps what was typed, a second objection is told
//! apart, dates out of range say so, text that is not UTF-8 is refused, and
//! a wrong method on a known address is 405.

use aixin::audit::AuditCtx;
use aixin::domain::Role;
use chrono::Datelike;
use diesel::prelude::*;

use crate::helpers::*;

fn today() -> chrono::NaiveDate {
    aixin::time::today(chrono_tz::Asia::Shanghai)
}

fn pin_of(app: &TestApp, card: &str) -> String {
    aixin::households::card_pin(&mut app.conn(), &app.key, card)
        .unwrap()
        .expect("a card printed with a PIN")
}

/// A household client with its page open (and its phone's device mark).
async fn open_window(app: &TestApp, card: &str) -> Client {
    let c = app.client();
    c.get(&format!("/h/{card}")).await;
    let pin = pin_of(app, card);
    let home = c
        .submit("/h/login", &[("card_no", card), ("pin", &pin)])
        .await;
    assert_eq!(home.status, 200, "{}", home.body);
    c
}

/// An award to `household` (of `village`) under `code`, proposed by an
/// official and approved by a reviewer of the village: on notice when the
/// scheme has notice days.
fn noticed_award(app: &TestApp, village: &str, household: &str, code: &str, key: &str) -> String {
    let mut c = app.conn();
    let ctx = AuditCtx::console();
    let proposer = Who {
        user_id: app.user(&format!("p-{key}"), Role::Official, Some(village), None),
        role: Role::Official,
        scope: aixin::auth::Scope::All,
    };
    let reviewer = Who {
        user_id: app.user(&format!("r-{key}"), Role::Reviewer, Some(village), None),
        role: Role::Reviewer,
        scope: aixin::auth::Scope::All,
    };
    let p = aixin::points::awards::parse_proposal(code, &today().to_string(), "", today()).unwrap();
    let a = aixin::points::awards::propose(
        &mut c,
        &proposer.actor(&ctx),
        &crate::helpers::hid(household),
        &p,
        key,
        today(),
    )
    .unwrap();
    aixin::points::awards::review(
        &mut c,
        &reviewer.actor(&ctx),
        &a.id,
        &aixin::points::awards::Decision::Approve,
        today(),
    )
    .unwrap();
    a.id.to_string()
}

/// Notice days on; in a new village named after `place`, 王大山 awarded
/// rule `code` (清扫村道, 10 points) and on notice, and 赵小河 at the
/// window: (the award on notice, 赵小河's card, their window's client).
async fn beside_a_notice(app: &TestApp, place: &str, code: &str) -> (String, String, Client) {
    let [_, _, _, village] = app.area_chain(place);
    aixin::settings::set(
        &mut app.conn(),
        &aixin::auth::Actor::console(),
        aixin::settings::NOTICE_DAYS,
        7,
    )
    .unwrap();
    app.rule(code, "清扫村道", 10, None);
    let (earner, _) = app.household_with_id("王大山", &village, &test_id_number());
    let (_, card) = app.household_with_id("赵小河", &village, &test_id_number());
    let award_id = noticed_award(app, &village, &earner, code, &format!("{code}-1"));
    let h = open_window(app, &card).await;
    (award_id, card, h)
}

/// The household's deed report (multipart, as its page sends it) under
/// rule `rule`, dated `occurred_on`, with `note` and no photo: the answer's
/// status and body.
async fn send_report(h: &Client, rule: &str, occurred_on: &str, note: &str) -> (u16, String) {
    let page = h.get("/h").await;
    let at = page.body.find("name=\"key\" value=\"").unwrap() + "name=\"key\" value=\"".len();
    let key = page.body[at..at + page.body[at..].find('"').unwrap()].to_string();
    let form = reqwest::multipart::Form::new()
        .text("csrf", h.csrf().await)
        .text("key", key)
        .text("rule_code", rule.to_string())
        .text("occurred_on", occurred_on.to_string())
        .text("note", note.to_string());
    let res = h
        .http
        .post(format!("{}/h/reports", h.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// POST raw bytes as a url-encoded form.
async fn post_bytes(c: &Client, path: &str, body: Vec<u8>) -> Page {
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
    /// #19.1: the public notice shows what is on notice now (this month and
    /// last), never the whole history; out of range is a 422 naming the field.
    async fn the_public_notice_shows_only_the_current_notice(app) {
        let [_, _, _, village] = app.area_chain("限期");
        let anon = app.client();
        let t = today();
        let month_start = t.with_day(1).unwrap();
        let last_month = (month_start - chrono::Duration::days(1)).with_day(1).unwrap();
        // This month, and the whole of last month, are fine.
        assert_eq!(anon.get(&format!("/public/notice/{village}")).await.status, 200);
        let last_end = month_start - chrono::Duration::days(1);
        let ok = anon.get(&format!("/public/notice/{village}?from={last_month}&to={last_end}")).await;
        assert_eq!(ok.status, 200, "{}", ok.body);
        // Earlier than last month: refused, naming the field and the first day allowed.
        let early = last_month - chrono::Duration::days(1);
        let old = anon.get(&format!("/public/notice/{village}?from={early}&to={early}")).await;
        assert_eq!(old.status, 422);
        old.assert_contains("开始日期");
        old.assert_contains(&last_month.to_string());
        old.assert_contains(&format!("value=\"{early}\""));
        assert!(!old.body.contains("id=\"notice-deductions\""));
        let history = anon.get(&format!("/public/notice/{village}?from=2000-01-01&to={t}")).await;
        assert_eq!(history.status, 422, "the whole history is not a notice");
        // A span longer than one notice, a future end: refused, naming `to`.
        let long = anon.get(&format!("/public/notice/{village}?from={last_month}&to={t}")).await;
        if (t - last_month).num_days() >= 31 {
            assert_eq!(long.status, 422);
            long.assert_contains("最多 31 天");
        }
        let future = anon.get(&format!("/public/notice/{village}?to={}", t + chrono::Duration::days(3))).await;
        assert_eq!(future.status, 422);
        future.assert_contains("结束日期");
        // A year out of range says so, in the user's language.
        let y1900 = anon.get(&format!("/public/notice/{village}?from=1900-01-01")).await;
        assert_eq!(y1900.status, 422);
        y1900.assert_contains("年份应在 2000 到 2100 年之间");
        let en = app.client();
        en.post("/lang", &[("lang", "en")]).await;
        let y1900 = en.get(&format!("/public/notice/{village}?from=1900-01-01")).await;
        y1900.assert_contains("the year must be between 2000 and 2100");
    }
}

app_test! {
    /// #19.2: a stranger typing wrong PINs against a card, even from the
    /// same village address, locks out only themself: the household's phone
    /// (which opened the page before) still gets in; guessing across cards
    /// from one address stops at the address's limit.
    async fn a_stranger_cannot_lock_a_household_out_of_its_own_phone(app) {
        let [_, _, _, village] = app.area_chain("锁卡");
        let (_, card) = app.household_with_id("王五", &village, &test_id_number());
        let pin = pin_of(&app, &card);
        let phone = open_window(&app, &card).await;
        phone.submit("/h/logout", &[]).await;

        let stranger = app.client();
        stranger.get("/h").await;
        let max = app.config.login_max_failures_account;
        for _ in 0..max {
            let p = stranger.post("/h/login", &[("card_no", &card), ("pin", "999999")]).await;
            assert_eq!(p.status, 401);
        }
        let locked = stranger.post("/h/login", &[("card_no", &card), ("pin", &pin)]).await;
        assert_eq!(locked.status, 429, "the stranger is stopped, even with the right PIN");

        // The household's own phone, at the same address, is not.
        let back = phone.submit("/h/login", &[("card_no", &card), ("pin", &pin)]).await;
        assert_eq!(back.status, 200, "{}", back.body);
        back.assert_contains("id=\"balance\"");
        // Its own wrong tries are counted for it alone.
        phone.submit("/h/logout", &[]).await;
        for _ in 0..max {
            assert_eq!(phone.post("/h/login", &[("card_no", &card), ("pin", "999999")]).await.status, 401);
        }
        assert_eq!(phone.post("/h/login", &[("card_no", &card), ("pin", &pin)]).await.status, 429);

        // Guessing across cards from one address stops at the address's limit.
        use aixin::db::schema::auth_throttles;
        diesel::delete(auth_throttles::table).execute(&mut app.conn()).unwrap();
        let guesser = app.client();
        guesser.get("/h").await;
        let mut statuses = Vec::new();
        for i in 0..app.config.login_max_failures_ip + 2 {
            let guess = format!("{:08}", 10_000_000 + i);
            statuses.push(guesser.post("/h/login", &[("card_no", &guess), ("pin", "999999")]).await.status);
        }
        assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 2, "{statuses:?}");
    }
}

app_test! {
    /// #19.3, #19.4, #19.5: every household form answers a refusal with 422
    /// and the page, the message beside its form and what was typed kept
    /// (never a PIN); a second objection is told, with the first's status;
    /// a date out of range says what is wrong.
    async fn household_forms_refuse_with_422_and_keep_what_was_typed(app) {
        use aixin::db::schema::{deed_reports, notice_objections};
        let (award_id, card, h) = beside_a_notice(&app, "表单", "F1").await;
        let pin = pin_of(&app, &card);

        // The PIN form: malformed, mismatched, wrong current PIN.
        let bad = h.post("/h/pin", &[("current", &pin), ("new", "123456"), ("again", "123456")]).await;
        assert_eq!(bad.status, 422);
        bad.assert_contains("id=\"pin-error\"");
        bad.assert_contains("6 位数字");
        bad.assert_contains("id=\"balance\"");
        assert!(!bad.body.contains(&format!("value=\"{pin}\"")), "a PIN is never written back into the page");
        let differ = h.post("/h/pin", &[("current", &pin), ("new", "482915"), ("again", "482916")]).await;
        assert_eq!(differ.status, 422);
        differ.assert_contains("id=\"pin-error\"");
        let wrong = h.post("/h/pin", &[("current", "000001"), ("new", "482915"), ("again", "482915")]).await;
        assert_eq!(wrong.status, 422);
        wrong.assert_contains("id=\"pin-error\"");
        assert_eq!(pin_of(&app, &card), pin, "nothing changed");

        // The honour roll choice takes "1" or "0" only.
        let odd = h.post("/h/honours", &[("opt_out", "yes")]).await;
        assert_eq!(odd.status, 422);
        odd.assert_contains("id=\"honour-error\"");

        // An objection: an empty reason keeps the entry's form; a second one
        // is refused, naming the first's status; nothing more is stored.
        let empty = h.post("/h/objections", &[("award_id", &award_id), ("reason", "   ")]).await;
        assert_eq!(empty.status, 422);
        empty.assert_contains("id=\"objection-error\"");
        let first = h.submit("/h/objections", &[("award_id", &award_id), ("reason", "那天我看见了")]).await;
        first.assert_contains("异议已提交");
        let second = h.post("/h/objections", &[("award_id", &award_id), ("reason", "再说一次")]).await;
        assert_eq!(second.status, 422, "never a pretended success");
        second.assert_contains("您已对这一条提出过异议（当前：处理中）");
        let n: i64 = notice_objections::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 1);
        let unknown = h.post("/h/objections", &[("award_id", "no-such-award"), ("reason", "看不见的")]).await;
        assert_eq!(unknown.status, 422);
        unknown.assert_contains("id=\"objection-error\"");

        // A report dated 1900: what is wrong, and what was typed, kept.
        let (status, body) = send_report(&h, "F1", "1900-01-01", "扫了路").await;
        assert_eq!(status, 422);
        assert!(body.contains("年份应在 2000 到 2100 年之间"), "{body}");
        assert!(body.contains("value=\"1900-01-01\"") && body.contains("扫了路"), "what was typed is kept");
        let reports: i64 = deed_reports::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(reports, 0);
    }
}

app_test! {
    /// #19.6: text that is not UTF-8 is refused with a message naming the
    /// field (422), in every url-encoded form, the household's report form
    /// and the JSON API, never stored as U+FFFD.
    async fn text_that_is_not_utf8_is_refused_never_mended(app) {
        use aixin::db::schema::{deed_reports, notice_objections};
        let (award_id, _, h) = beside_a_notice(&app, "乱码", "U1").await;
        let token = h.csrf().await;

        // A url-encoded form: %FF is no character.
        let body = format!("csrf={token}&award_id={award_id}&reason=%E5%BC%A0%FF%FE").into_bytes();
        let p = post_bytes(&h, "/h/objections", body).await;
        assert_eq!(p.status, 422, "{}", p.body);
        assert!(p.body.contains("UTF-8"), "{}", p.body);
        // Raw bytes that are not UTF-8 as well.
        let mut raw = format!("csrf={token}&award_id={award_id}&reason=").into_bytes();
        raw.extend_from_slice(&[0xE5, 0xBC, 0xFF]);
        assert_eq!(post_bytes(&h, "/h/objections", raw).await.status, 422);
        let n: i64 = notice_objections::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 0, "nothing stored");
        // A staff form too (the one form extractor).
        let staff = app.client();
        app.user("u-admin", Role::Admin, None, None);
        staff.login("u-admin", PASSWORD).await;
        let t = staff.csrf().await;
        let p = post_bytes(&staff, "/lang", format!("csrf={t}&lang=zh&next=%C3%28").into_bytes()).await;
        assert_eq!(p.status, 422, "{}", p.body);

        // The report form (multipart): a note that is not UTF-8.
        let page = h.get("/h").await;
        let at = page.body.find("name=\"key\" value=\"").unwrap() + "name=\"key\" value=\"".len();
        let key = page.body[at..at + page.body[at..].find('"').unwrap()].to_string();
        let form = reqwest::multipart::Form::new()
            .text("csrf", token.clone())
            .text("key", key)
            .text("rule_code", "U1")
            .text("occurred_on", today().to_string())
            .part("note", reqwest::multipart::Part::bytes(vec![0xE6, 0x89, 0xAB, 0xFF]));
        let res = h.http.post(format!("{}/h/reports", h.base)).multipart(form).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 422);
        assert!(res.text().await.unwrap().contains("UTF-8"));
        let n: i64 = deed_reports::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 0);

        // The JSON API: a body that is not UTF-8 is malformed (400).
        let mut json = b"{\"card_no\":\"".to_vec();
        json.extend_from_slice(&[0xFF, 0xFE]);
        json.extend_from_slice(b"\",\"pin\":\"123456\"}");
        let res = reqwest::Client::new()
            .post(app.url("/api/v1/card"))
            .header("content-type", "application/json")
            .body(json)
            .send()
            .await
            .unwrap();
        assert!(matches!(res.status().as_u16(), 400 | 422), "{}", res.status());
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(body["error"]["code"].is_string(), "{body}");
    }
}

app_test! {
    /// #17.8: a wrong method on a known address is 405 with `Allow` (the
    /// API's JSON error, the pages' error page); HEAD answers as GET does,
    /// without a body; an unknown address is still 404.
    async fn a_wrong_method_is_405_with_allow(app) {
        app.user("m-admin", Role::Admin, None, None);
        let token = {
            let res = reqwest::Client::new()
                .post(app.url("/api/v1/tokens"))
                .json(&serde_json::json!({"username": "m-admin", "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            let body: serde_json::Value = res.json().await.unwrap();
            body["token"].as_str().unwrap().to_string()
        };
        let http = reqwest::Client::new();
        let res = http.delete(app.url("/api/v1/households")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 405);
        assert_eq!(res.headers()["allow"], "GET, HEAD, POST");
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "method_not_allowed");
        let res = http.put(app.url("/api/v1/awards/x/approve")).bearer_auth(&token).send().await.unwrap();
        assert_eq!((res.status().as_u16(), res.headers()["allow"].to_str().unwrap()), (405, "POST"));
        let res = http.post(app.url("/api/openapi.json")).header("content-type", "application/json").body("{}").send().await.unwrap();
        assert_eq!(res.status().as_u16(), 405);
        // HEAD on a GET route: as GET, no body.
        let get = http.get(app.url("/api/v1/households")).bearer_auth(&token).send().await.unwrap();
        let head = http.head(app.url("/api/v1/households")).bearer_auth(&token).send().await.unwrap();
        assert_eq!((get.status().as_u16(), head.status().as_u16()), (200, 200));
        assert!(head.text().await.unwrap().is_empty());
        assert_eq!(http.head(app.url("/api/openapi.json")).send().await.unwrap().status().as_u16(), 200);
        // An unknown address: 404, as before.
        let res = http.delete(app.url("/api/v1/nothing-here")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 404);

        // Pages: the app's error page, with Allow.
        let res = http.delete(app.url("/public/rules")).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 405);
        assert_eq!(res.headers()["allow"], "GET, HEAD");
        assert!(res.text().await.unwrap().contains("不支持的请求方式"));
        let res = http.put(app.url("/h/login")).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 405);
        let allow = res.headers()["allow"].to_str().unwrap().to_string();
        assert!(allow.contains("POST") && allow.contains("GET"), "{allow}");
        assert_eq!(http.delete(app.url("/no/such/page")).send().await.unwrap().status().as_u16(), 404);
        // A form's POST still reaches its own route (no shadowing by a GET
        // route whose template also fits the path).
        let c = app.client();
        c.get("/h").await;
        let p = c.post("/h/login", &[("card_no", "00000000"), ("pin", "999999")]).await;
        assert_eq!(p.status, 401);
    }
}

app_test! {
    /// #19.2 with #16.2: two officials decide one household's report at the
    /// same moment (one turns it into an award, the other declines it): one
    /// decision stands through the report's one `transition`, the other is
    /// told what the report is now; at most one award is proposed.
    async fn two_officials_decide_one_report_at_once(app) {
        use aixin::db::schema::{audit_log, awards, deed_reports};
        let [_, _, _, village] = app.area_chain("并报");
        app.user("rp-a", Role::Official, Some(&village), None);
        app.user("rp-b", Role::Official, Some(&village), None);
        app.rule("RP1", "清扫村道", 10, None);
        let (_, card) = app.household_with_id("钱多多", &village, &test_id_number());
        let h = open_window(&app, &card).await;
        assert_eq!(send_report(&h, "RP1", &today().to_string(), "扫了村道").await.0, 303);
        let (id, version): (String, i64) = deed_reports::table
            .select((deed_reports::id, deed_reports::version))
            .first(&mut app.conn())
            .unwrap();
        let (a, b) = (app.client(), app.client());
        a.login("rp-a", PASSWORD).await;
        b.login("rp-b", PASSWORD).await;
        let v = version.to_string();
        let award_path = format!("/deeds/{id}/award");
        let decline_path = format!("/deeds/{id}/decline");
        let form_a = [("version", v.as_str())];
        let form_b = [("version", v.as_str()), ("reason", "看不清")];
        let (x, y) = tokio::join!(a.submit(&award_path, &form_a), b.submit(&decline_path, &form_b));
        assert!(x.status < 500 && y.status < 500, "{} {}", x.status, y.status);
        let told = [&x, &y].iter().filter(|p| p.body.contains("已经处理过了")).count();
        assert_eq!(told, 1, "exactly one official is told it was decided first");
        let status: String = deed_reports::table.find(&id).select(deed_reports::status).first(&mut app.conn()).unwrap();
        let proposed: i64 = awards::table.count().get_result(&mut app.conn()).unwrap();
        match status.as_str() {
            "awarded" => assert_eq!(proposed, 1),
            "declined" => assert_eq!(proposed, 0),
            other => panic!("report left {other}"),
        }
        let decisions: i64 = audit_log::table
            .filter(audit_log::action.eq_any(["deed_report.award", "deed_report.decline"]))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(decisions, 1);
    }
}

app_test! {
    /// An official's decline of a report and a reviewer's answer to an
    /// objection: a refused reason or note comes back in its row with what
    /// was typed (422); a decision on what changed since it was seen, 409.
    async fn refused_decisions_keep_the_reason_typed(app) {
        use aixin::db::schema::{deed_reports, notice_objections};
        let (award_id, _, h) = beside_a_notice(&app, "决因", "J1").await;
        assert_eq!(send_report(&h, "J1", &today().to_string(), "扫了村道").await.0, 303);
        h.submit("/h/objections", &[("award_id", &award_id), ("reason", "那天我看见了")]).await.assert_contains("异议已提交");
        let long = "错".repeat(201);

        // The official of the village (who proposed the award) declines.
        let official = app.client();
        official.login("p-J1-1", PASSWORD).await;
        official.get("/deeds").await;
        let (report, v): (String, i64) = deed_reports::table.select((deed_reports::id, deed_reports::version)).first(&mut app.conn()).unwrap();
        let path = format!("/deeds/{report}/decline");
        let page = official.post(&path, &[("version", &v.to_string()), ("reason", &long)]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(&format!("value=\"{long}\""));
        page.assert_contains(&format!("data-form=\"decline-{report}\""));
        let page = official.post(&path, &[("version", "99"), ("reason", "看不清")]).await;
        assert_eq!(page.status, 409, "{}", page.body);
        page.assert_contains("value=\"看不清\"");
        let status: String = deed_reports::table.find(&report).select(deed_reports::status).first(&mut app.conn()).unwrap();
        assert_eq!(status, "open", "nothing decided");

        // The reviewer answers the objection.
        let reviewer = app.client();
        reviewer.login("r-J1-1", PASSWORD).await;
        reviewer.get("/objections").await;
        let (oid, ov): (String, i64) = notice_objections::table.select((notice_objections::id, notice_objections::version)).first(&mut app.conn()).unwrap();
        let path = format!("/objections/{oid}");
        let page = reviewer.post(&path, &[("decision", "dismiss"), ("version", &ov.to_string()), ("note", &long)]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(&format!("value=\"{long}\""));
        page.assert_contains(&format!("data-form=\"objection-{oid}\""));
        let page = reviewer.post(&path, &[("decision", "uphold"), ("version", "99"), ("note", "核实过了")]).await;
        assert_eq!(page.status, 409, "{}", page.body);
        page.assert_contains("value=\"核实过了\"");
        let status: String = notice_objections::table.find(&oid).select(notice_objections::status).first(&mut app.conn()).unwrap();
        assert_eq!(status, "open", "nothing decided");
    }
}

app_test! {
    /// The household's report form shows every error beside its field, with
    /// what was typed kept, and stores nothing.
    async fn a_refused_deed_report_names_every_wrong_field(app) {
        use aixin::db::schema::deed_reports;
        let (_, _, h) = beside_a_notice(&app, "多错", "M1").await;
        let (status, body) = send_report(&h, "", "2026-13-45", "扫了\u{7}路").await;
        assert_eq!(status, 422, "{body}");
        for field in ["field.rule", "field.occurred_on", "field.note"] {
            assert!(body.contains(&format!(r#"<span class="field-error" data-field="{field}">"#)), "{field}: {body}");
        }
        assert!(body.contains(r#"value="2026-13-45""#), "{body}");
        let n: i64 = deed_reports::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 0);
    }
}

app_test! {
    /// A decision made on a version of a report that is not its own says
    /// what the report is now, in words, and never that an open report was
    /// already dealt with.
    async fn a_stale_deed_decision_says_what_the_report_is(app) {
        use aixin::db::schema::deed_reports;
        let [_, _, _, village] = app.area_chain("旧报");
        app.user("st-official", Role::Official, Some(&village), None);
        app.rule("ST1", "清扫村道", 10, None);
        let (_, card) = app.household_with_id("孔小明", &village, &test_id_number());
        let h = open_window(&app, &card).await;
        assert_eq!(send_report(&h, "ST1", &today().to_string(), "扫了村道").await.0, 303);
        let (id, version): (String, i64) = deed_reports::table
            .select((deed_reports::id, deed_reports::version))
            .first(&mut app.conn())
            .unwrap();
        let official = app.client();
        official.login("st-official", PASSWORD).await;
        let wrong = (version + 3).to_string();
        let page = official.post(&format!("/deeds/{id}/decline"), &[("version", wrong.as_str()), ("reason", "看不清")]).await;
        assert_eq!(page.status, 409, "{}", page.body);
        page.assert_contains("有了变化（现在：待处理）");
        assert!(!page.body.contains("已经处理过了"), "{}", page.body);
        // Declined for real, a stale decision names the real status.
        let v = version.to_string();
        assert_eq!(official.post(&format!("/deeds/{id}/decline"), &[("version", v.as_str()), ("reason", "看不清")]).await.status, 303);
        let page = official.post(&format!("/deeds/{id}/award"), &[("version", v.as_str())]).await;
        assert_eq!(page.status, 409, "{}", page.body);
        page.assert_contains("已经处理过了（现在：未通过）");
    }
}
