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
    let today = aixin::time::today(chrono_tz::Asia::Shanghai);
    let p = awards::parse_proposal(code, &on.to_string(), "", today).unwrap();
    awards::propose(
        &mut c,
        &who.actor(&ctx),
        &crate::helpers::hid(household),
        &p,
        key,
        today,
    )
    .unwrap();
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
        aixin::settings::set(&mut app.conn(), &aixin::auth::Actor::console(), aixin::settings::REVIEW_REQUIRED, 0).unwrap();
        app.rule("W1", "清扫村道", 10, None);
        app.rule("W2", "乱倒垃圾", -3, None);
        let (mine, my_card) = app.household_with_id("张三丰", &village, &test_id_number());
        let (theirs, their_card) = app.household_with_id("李四光", &other_village, &test_id_number());
        let today = aixin::time::today(chrono_tz::Asia::Shanghai);
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

/// The value of a hidden input named `name` in a page.
fn hidden(body: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let at = body
        .find(&needle)
        .unwrap_or_else(|| panic!("no {name} in:\n{body}"));
    let rest = &body[at + needle.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// The household's report form, sent as a phone's browser sends it.
async fn send_report(
    c: &Client,
    key: &str,
    rule: &str,
    on: &str,
    note: &str,
    photos: Vec<Vec<u8>>,
) -> Page {
    let token = c.csrf().await;
    let mut form = reqwest::multipart::Form::new()
        .text("csrf", token)
        .text("key", key.to_string())
        .text("rule_code", rule.to_string())
        .text("occurred_on", on.to_string())
        .text("note", note.to_string());
    for (i, p) in photos.into_iter().enumerate() {
        form = form.part(
            "photo",
            reqwest::multipart::Part::bytes(p)
                .file_name(format!("IMG_{i}.jpg"))
                .mime_str("image/jpeg")
                .unwrap(),
        );
    }
    let res = c
        .http
        .post(format!("{}/h/reports", c.base))
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
    let headers = res.headers().clone();
    let body = res.text().await.unwrap();
    if let (Some(loc), 303) = (&location, status) {
        return c.follow(loc).await;
    }
    Page {
        status,
        location,
        body,
        headers,
    }
}

/// A household client with its page open.
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

app_test! {
    /// #19.2 and #19.3: a household reports a deed with a photo; the official
    /// turns it into an award, the reviewer approves it beside the photo; a
    /// neighbour objects on the notice and the reviewer decides it; the
    /// outcome is on the public notice.
    async fn a_reported_deed_becomes_an_award_and_a_neighbour_objects(app) {
        use aixin::db::schema::{awards as awards_t, deed_photos, deed_reports, notice_objections};
        use diesel::prelude::*;
        let [_, _, _, village] = app.area_chain("申报");
        let official = app.user("d-official", Role::Official, Some(&village), None);
        app.user("d-reviewer", Role::Reviewer, Some(&village), None);
        aixin::settings::set(&mut app.conn(), &aixin::auth::Actor::console(), aixin::settings::NOTICE_DAYS, 7).unwrap();
        app.rule("D1", "清扫村道", 10, None);
        app.rule("D2", "乱倒垃圾", -5, None);
        let (mine, my_card) = app.household_with_id("张三丰", &village, &test_id_number());
        let (_, their_card) = app.household_with_id("李四光", &village, &test_id_number());
        let today = aixin::time::today(chrono_tz::Asia::Shanghai);

        let h = open_window(&app, &my_card).await;
        let home = h.get("/h").await;
        home.assert_contains("id=\"report-form\"");
        assert!(!home.body.contains("乱倒垃圾 (+"), "a deduction is not something to report");
        let key = hidden(&home.body, "key");

        // Wrong input: named, what was typed kept, nothing stored.
        let bad = send_report(&h, &key, "", &today.to_string(), "扫了东头的路", vec![]).await;
        assert_eq!(bad.status, 422);
        bad.assert_contains("积分细则");
        bad.assert_contains("扫了东头的路");
        let not_photo = send_report(&h, &key, "D1", &today.to_string(), "扫了东头的路", vec![b"GIF89a not a photo".to_vec()]).await;
        assert_eq!(not_photo.status, 422);
        not_photo.assert_contains("JPEG");
        let four = vec![aixin::window::photo::sample_jpeg(8, 8); 4];
        let too_many = send_report(&h, &key, "D1", &today.to_string(), "扫了东头的路", four).await;
        assert_eq!(too_many.status, 422);
        too_many.assert_contains("最多上传 3 张");
        let count = |app: &TestApp| -> i64 { deed_reports::table.count().get_result(&mut app.conn()).unwrap() };
        assert_eq!(count(&app), 0);

        // A phone's photo, with EXIF and GPS; sent twice by a double tap.
        let phone = aixin::window::photo::with_exif(&aixin::window::photo::sample_jpeg(2400, 1800));
        let sent = send_report(&h, &key, "D1", &today.to_string(), "扫了东头的路", vec![phone.clone()]).await;
        assert_eq!(sent.status, 200, "{}", sent.body);
        sent.assert_contains("已提交申报");
        sent.assert_contains("data-status=\"open\"");
        let again = send_report(&h, &key, "D1", &today.to_string(), "扫了东头的路", vec![phone]).await;
        again.assert_contains("已经提交过");
        assert_eq!(count(&app), 1, "one report for one form");
        let (photo_id, jpeg, w): (String, Vec<u8>, i64) = deed_photos::table
            .select((deed_photos::id, deed_photos::jpeg, deed_photos::width))
            .first(&mut app.conn())
            .unwrap();
        assert!(!aixin::window::photo::has_metadata(&jpeg), "no EXIF in the stored photo");
        assert!(!jpeg.windows(3).any(|w| w == b"GPS"), "no GPS in the stored photo");
        assert_eq!(w, 1600, "made smaller on the server");
        assert_eq!(h.get(&format!("/h/photos/{photo_id}")).await.status, 200, "the household sees its own photo");

        // The official's list: the report, its photo; turned into an award.
        let o = app.client();
        o.login("d-official", PASSWORD).await;
        let list = o.get("/deeds").await;
        list.assert_contains("张三丰");
        list.assert_contains(&format!("/deeds/photos/{photo_id}"));
        let photo = o.get(&format!("/deeds/photos/{photo_id}")).await;
        assert_eq!(photo.status, 200);
        assert_eq!(photo.headers.get("content-type").unwrap(), "image/jpeg");
        let report_id: String = deed_reports::table.select(deed_reports::id).first(&mut app.conn()).unwrap();
        let version = hidden(&list.body[list.body.find(&format!("/deeds/{report_id}/award")).unwrap()..], "version");
        let done = o.submit(&format!("/deeds/{report_id}/award"), &[("version", &version)]).await;
        done.assert_contains("已转为积分申报");
        let twice = o.submit(&format!("/deeds/{report_id}/award"), &[("version", &version)]).await;
        twice.assert_contains("已经处理过了");
        let (award_id, note, status, proposer): (String, String, String, String) = awards_t::table
            .select((awards_t::id, awards_t::note, awards_t::status, awards_t::proposed_by))
            .first(&mut app.conn())
            .unwrap();
        assert_eq!((status.as_str(), proposer.as_str()), ("pending", official.as_str()));
        assert!(note.contains("扫了东头的路"), "{note}");
        assert_eq!(aixin::window::deeds::report_of_award(&mut app.conn(), &award_id).unwrap(), Some(report_id.clone()), "the award links back to the report");

        // The reviewer approves it looking at the photo.
        let r = app.client();
        r.login("d-reviewer", PASSWORD).await;
        let queue = r.get("/review").await;
        queue.assert_contains(&format!("src=\"/deeds/photos/{photo_id}\""));
        assert_eq!(r.get(&format!("/deeds/photos/{photo_id}")).await.status, 200);
        let v = hidden(&queue.body, &format!("v:{award_id}"));
        r.submit("/review", &[("approve_one", &award_id), (&format!("v:{award_id}"), &v)]).await;
        let status: String = awards_t::table.find(&award_id).select(awards_t::status).first(&mut app.conn()).unwrap();
        assert_eq!(status, "noticed");
        let anon = app.client();
        anon.get(&format!("/public/notice/{village}")).await.assert_contains("张*丰");

        // The neighbour objects from its own page; the entry waits.
        let n = open_window(&app, &their_card).await;
        let page = n.get("/h").await;
        page.assert_contains(&format!("data-award=\"{award_id}\""));
        let empty = n.post("/h/objections", &[("award_id", &award_id), ("reason", "")]).await;
        assert_eq!(empty.status, 422);
        empty.assert_contains("异议");
        let objected = n.submit("/h/objections", &[("award_id", &award_id), ("reason", "那天路是我扫的")]).await;
        objected.assert_contains("异议已提交");
        n.submit("/h/objections", &[("award_id", &award_id), ("reason", "再说一次")]).await;
        let objections: i64 = notice_objections::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(objections, 1, "one objection per household and entry");
        // Its own entry cannot be objected to by the household itself.
        let own = h.post("/h/objections", &[("award_id", &award_id), ("reason", "x")]).await;
        assert_eq!(own.status, 422);
        // While the objection is open the entry is not credited.
        let settled = aixin::points::awards::settle_notices(&mut app.conn(), today + chrono::Duration::days(30)).unwrap();
        assert_eq!(settled, 0);

        // The reviewer dismisses it; the notice shows the outcome, not who or why.
        let q = r.get("/objections").await;
        q.assert_contains("那天路是我扫的");
        let oid: String = notice_objections::table.select(notice_objections::id).first(&mut app.conn()).unwrap();
        let ov = hidden(&q.body[q.body.find(&format!("/objections/{oid}")).unwrap()..], "version");
        r.submit(&format!("/objections/{oid}"), &[("decision", "dismiss"), ("version", &ov), ("note", "核实无误")]).await
            .assert_contains("异议不成立");
        let notice = anon.get(&format!("/public/notice/{village}")).await;
        notice.assert_contains("id=\"notice-objections\"");
        notice.assert_contains("异议不成立");
        assert!(!notice.body.contains("那天路是我扫的") && !notice.body.contains("李四光") && !notice.body.contains(&their_card));
        let settled = aixin::points::awards::settle_notices(&mut app.conn(), today + chrono::Duration::days(30)).unwrap();
        assert_eq!(settled, 1, "dismissed: the entry is credited when its notice ends");

        // A second report, declined with a reason the household sees.
        let key2 = hidden(&h.get("/h").await.body, "key");
        send_report(&h, &key2, "D1", &today.to_string(), "又扫了一次", vec![]).await.assert_contains("已提交申报");
        let second: String = deed_reports::table.filter(deed_reports::status.eq("open")).select(deed_reports::id).first(&mut app.conn()).unwrap();
        let list = o.get("/deeds").await;
        let v2 = hidden(&list.body[list.body.find(&format!("/deeds/{second}/decline")).unwrap()..], "version");
        let none = o.post(&format!("/deeds/{second}/decline"), &[("reason", " "), ("version", &v2)]).await;
        assert_eq!(none.status, 422, "refused in its row: {}", none.body);
        none.assert_contains(&format!("data-form=\"decline-{second}\""));
        o.submit(&format!("/deeds/{second}/decline"), &[("reason", "没有看到照片，请补充"), ("version", &v2)]).await.assert_contains("已退回");
        h.get("/h").await.assert_contains("没有看到照片，请补充");

        let actions = app.audit_actions();
        for a in ["household.deed_report", "deed_report.award", "deed_report.decline", "household.objection", "objection.dismiss"] {
            assert!(actions.contains(&a.to_string()), "{a} audited: {actions:?}");
        }
        let _ = mine;
    }
}

app_test! {
    /// #19.3: two reviewers decide one objection at the same moment: one
    /// decision stands, the other is told what the first decided; the award
    /// goes back to review once.
    async fn two_reviewers_decide_one_objection_at_once(app) {
        use aixin::db::schema::{audit_log, awards as awards_t, notice_objections};
        use diesel::prelude::*;
        let [_, _, _, village] = app.area_chain("并议");
        let official = app.user("o-official", Role::Official, Some(&village), None);
        app.user("o-rev-a", Role::Reviewer, Some(&village), None);
        app.user("o-rev-b", Role::Reviewer, Some(&village), None);
        aixin::settings::set(&mut app.conn(), &aixin::auth::Actor::console(), aixin::settings::NOTICE_DAYS, 7).unwrap();
        app.rule("R1", "帮助邻居", 8, None);
        let (earner, _) = app.household_with_id("王大山", &village, &test_id_number());
        let (_, objector_card) = app.household_with_id("赵小河", &village, &test_id_number());
        let today = aixin::time::today(chrono_tz::Asia::Shanghai);
        award(&app, &official, &earner, "R1", today, "o-1");
        let award_id: String = awards_t::table.select(awards_t::id).first(&mut app.conn()).unwrap();
        {
            let reviewer: String = aixin::db::schema::users::table
                .filter(aixin::db::schema::users::username.eq("o-rev-a"))
                .select(aixin::db::schema::users::id)
                .first(&mut app.conn())
                .unwrap();
            let ctx = AuditCtx::console();
            let who = Who { user_id: reviewer, role: Role::Reviewer, scope: aixin::auth::Scope::All };
            awards::review(&mut app.conn(), &who.actor(&ctx), &crate::helpers::aid(&award_id), &awards::Decision::Approve, today).unwrap();
        }
        let n = open_window(&app, &objector_card).await;
        n.submit("/h/objections", &[("award_id", &award_id), ("reason", "不是他帮的")]).await.assert_contains("异议已提交");
        let oid: String = notice_objections::table.select(notice_objections::id).first(&mut app.conn()).unwrap();
        let (a, b) = (app.client(), app.client());
        a.login("o-rev-a", PASSWORD).await;
        b.login("o-rev-b", PASSWORD).await;
        let (pa, pb) = (a.get("/objections").await, b.get("/objections").await);
        let (va, vb) = (hidden(&pa.body, "version"), hidden(&pb.body, "version"));
        let path = format!("/objections/{oid}");
        let form_a = [("decision", "uphold"), ("version", va.as_str())];
        let form_b = [("decision", "dismiss"), ("version", vb.as_str())];
        let (x, y) = tokio::join!(a.submit(&path, &form_a), b.submit(&path, &form_b));
        assert!(x.status < 500 && y.status < 500, "{} {}", x.status, y.status);
        let refused = [&x, &y].iter().filter(|p| p.body.contains("已经处理过了")).count();
        assert_eq!(refused, 1, "exactly one reviewer is told it was decided first");
        let decisions: i64 = audit_log::table
            .filter(audit_log::action.eq_any(["objection.uphold", "objection.dismiss"]))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(decisions, 1);
        let status: String = notice_objections::table.find(&oid).select(notice_objections::status).first(&mut app.conn()).unwrap();
        let award_status: String = awards_t::table.find(&award_id).select(awards_t::status).first(&mut app.conn()).unwrap();
        match status.as_str() {
            "upheld" => assert_eq!(award_status, "pending", "upheld: back in review"),
            "dismissed" => assert_eq!(award_status, "noticed", "dismissed: still on notice"),
            other => panic!("objection left {other}"),
        }
    }
}

app_test! {
    /// #19.5, #19.4, #19.6: villages are chosen by name; an impossible date
    /// is named, not replaced; the black list exists only when turned on;
    /// the public pages are limited per address across app servers.
    async fn the_public_pages_are_found_by_name_and_limited_per_address(app) {
        let [_, _, town, village] = app.area_chain("公开");
        let official = app.user("p-official", Role::Official, Some(&village), None);
        aixin::settings::set(&mut app.conn(), &aixin::auth::Actor::console(), aixin::settings::REVIEW_REQUIRED, 0).unwrap();
        app.rule("P2", "乱倒垃圾", -3, None);
        let (h, _) = app.household_with_id("钱多多", &village, &test_id_number());
        let today = aixin::time::today(chrono_tz::Asia::Shanghai);
        fund(&mut app.conn(), &h, 10);
        award(&app, &official, &h, "P2", today, "p-1");
        let anon = app.client();
        let pick = anon.get("/public/notice").await;
        assert_eq!(pick.status, 200);
        pick.assert_contains("公开镇");
        pick.assert_contains(&format!("/public/notice/{village}"));
        let chosen = anon.get(&format!("/public/notice?village={village}")).await;
        chosen.assert_contains("id=\"notice-deductions\"");
        let impossible = anon.get(&format!("/public/notice/{village}?from=2026-02-30")).await;
        assert_eq!(impossible.status, 422);
        impossible.assert_contains("没有这一天：2026-02-30");
        impossible.assert_contains("value=\"2026-02-30\"");
        assert!(!impossible.body.contains("id=\"notice-deductions\""), "no notice for a period that cannot be");
        let backwards = anon.get(&format!("/public/notice/{village}?from=2026-11-20&to=2026-11-01")).await;
        assert_eq!(backwards.status, 422);
        anon.get("/public/honours").await.assert_contains(&format!("/public/honours/{town}"));

        // The black list: no such page until the scheme turns it on.
        let month = aixin::reports::Month::of(today);
        let path = format!("/public/blacklist/{town}?month={month}");
        assert_eq!(anon.get(&path).await.status, 404);
        assert!(!anon.get(&format!("/public/honours/{town}?month={month}")).await.body.contains("/public/blacklist/"));
        aixin::settings::set(&mut app.conn(), &aixin::auth::Actor::console(), aixin::settings::BLACK_LIST, 1).unwrap();
        let black = anon.get(&path).await;
        assert_eq!(black.status, 200);
        black.assert_contains("钱*多");
        assert!(!black.body.contains("钱多多"));
        aixin::db::write_tx(&mut app.conn(), |c| {
            use diesel::prelude::*;
            diesel::update(aixin::db::schema::households::table.find(&h))
                .set(aixin::db::schema::households::honour_opt_out.eq(true))
                .execute(c)
        })
        .unwrap();
        assert!(!anon.get(&path).await.body.contains("钱*多"), "the same privacy rules: a household that asked is not named");

        // Two app servers with a limit of 5 a minute per address, one database
        // (the counts so far, under the tests' high limit, are cleared first).
        {
            use diesel::prelude::*;
            diesel::delete(aixin::db::schema::auth_throttles::table).execute(&mut app.conn()).unwrap();
        }
        let mut config = app.config.clone();
        config.public_per_minute = 5;
        let mut clients = Vec::new();
        for _ in 0..2 {
            let (pool, backend) = aixin::db::open(&config.database_url, 2).unwrap();
            let state = aixin::state::AppState::new(pool, config.clone(), backend, app.key.clone());
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(aixin::server::serve(state, listener, Some(1)).unwrap());
            clients.push(Client::new(&addr));
        }
        let mut statuses = Vec::new();
        for i in 0..8 {
            statuses.push(clients[i % 2].get("/public/rules").await.status);
        }
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 5, "{statuses:?}");
        let busy = clients[0].get(&format!("/public/notice/{village}")).await;
        assert_eq!(busy.status, 429);
        busy.assert_contains("访问太频繁");
        assert_eq!(busy.headers.get("retry-after").unwrap(), "60");
        assert!(busy.headers.get("cache-control").is_none_or(|v| !v.to_str().unwrap().contains("public")));
    }
}

app_test! {
    /// #19, done when: another household's data through every household
    /// page gives nothing: its photos (the household's and the staff's
    /// address), its entries on another village's notice (no objection
    /// made), its reports and points on one's own page.
    async fn no_household_page_reaches_another_households_reports_photos_or_entries(app) {
        use aixin::db::schema::{awards as awards_t, deed_photos, notice_objections};
        use diesel::prelude::*;
        let [_, _, town, village] = app.area_chain("隔户");
        let other_village = app.area(Some(&town), "隔壁村");
        let official = app.user("x-official", Role::Official, Some(&other_village), None);
        aixin::settings::set(&mut app.conn(), &aixin::auth::Actor::console(), aixin::settings::NOTICE_DAYS, 7).unwrap();
        aixin::settings::set(&mut app.conn(), &aixin::auth::Actor::console(), aixin::settings::REVIEW_REQUIRED, 0).unwrap();
        app.rule("X1", "清扫村道", 10, None);
        let (_, my_card) = app.household_with_id("张三丰", &village, &test_id_number());
        let (theirs, their_card) = app.household_with_id("李四光", &other_village, &test_id_number());
        let today = aixin::time::today(chrono_tz::Asia::Shanghai);

        // The other household reports a deed with a photo, and has an entry on its village's notice.
        let them = open_window(&app, &their_card).await;
        let key = hidden(&them.get("/h").await.body, "key");
        let sent = send_report(&them, &key, "X1", &today.to_string(), "帮隔壁修了屋顶", vec![aixin::window::photo::sample_jpeg(64, 48)]).await;
        assert_eq!(sent.status, 200, "{}", sent.body);
        let photo_id: String = deed_photos::table.select(deed_photos::id).first(&mut app.conn()).unwrap();
        award(&app, &official, &theirs, "X1", today, "x-1");
        let (award_id, status): (String, String) = awards_t::table
            .filter(awards_t::household_id.eq(&theirs))
            .select((awards_t::id, awards_t::status))
            .first(&mut app.conn())
            .unwrap();
        assert_eq!(status, "noticed");

        let me = open_window(&app, &my_card).await;
        // Its photo, by the household's address and by the staff's.
        for path in [format!("/h/photos/{photo_id}"), format!("/deeds/photos/{photo_id}")] {
            let p = me.get(&path).await;
            assert_ne!(p.status, 200, "{path}");
            assert!(p.headers.get("content-type").is_none_or(|t| t != "image/jpeg"), "{path}");
        }
        // Its entry on another village's notice: no objection is taken.
        let refused = me.submit("/h/objections", &[("award_id", &award_id), ("reason", "那天路是我扫的")]).await;
        assert!(refused.status < 500, "{}", refused.status);
        let objections: i64 = notice_objections::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(objections, 0, "no objection to another village's entry");
        // One's own page shows nothing of it.
        let home = me.get("/h").await;
        for theirs_shown in ["李四光", "李*光", "帮隔壁修了屋顶", their_card.as_str(), photo_id.as_str(), award_id.as_str()] {
            assert!(!home.body.contains(theirs_shown), "{theirs_shown} on another household's page");
        }
        // Nor does any other address a household session can reach.
        for path in [format!("/h/{their_card}"), format!("/households/{theirs}"), "/deeds".to_string(), "/objections".to_string()] {
            let p = me.get(&path).await;
            assert!(!p.body.contains("帮隔壁修了屋顶") && !p.body.contains("id=\"balance\">10<"), "{path}: {}", p.status);
        }
    }
}

app_test! {
    /// One card cannot flood the officials' list: a household's reports are
    /// limited per 24 hours, with a message, and nothing more is stored.
    async fn a_household_reports_at_most_a_days_worth_of_deeds(app) {
        use aixin::db::schema::deed_reports;
        use diesel::prelude::*;
        let [_, _, _, village] = app.area_chain("限报");
        app.rule("L1", "清扫村道", 10, None);
        let (_, card) = app.household_with_id("张三丰", &village, &test_id_number());
        let today = aixin::time::today(chrono_tz::Asia::Shanghai);
        let h = open_window(&app, &card).await;
        let max = aixin::window::deeds::MAX_REPORTS_PER_DAY;
        for i in 0..max {
            let key = hidden(&h.get("/h").await.body, "key");
            let sent = send_report(&h, &key, "L1", &today.to_string(), &format!("第{i}次"), vec![]).await;
            sent.assert_contains("已提交申报");
        }
        let key = hidden(&h.get("/h").await.body, "key");
        let refused = send_report(&h, &key, "L1", &today.to_string(), "再报一次", vec![]).await;
        assert_eq!(refused.status, 422);
        refused.assert_contains("24 小时内最多申报");
        refused.assert_contains("再报一次");
        let n: i64 = deed_reports::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, max);
    }
}
