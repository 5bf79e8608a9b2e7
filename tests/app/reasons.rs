//! Forms whose only field is a reason or a note: a refusal answers 422 (409
//! when the record changed meanwhile) with the page again, the reason typed
//! kept and the message beside it, and nothing changed.

use aixin::auth::Actor;
use aixin::db::schema::{awards, households, month_closes, redemptions};
use aixin::domain::Role;
use aixin::idempotency::IdemKey;
use aixin::points::awards::{self as aw, Decision};
use diesel::prelude::*;

use crate::helpers::*;

fn today() -> chrono::NaiveDate {
    aixin::time::today(chrono_tz::Asia::Shanghai)
}

/// A reason one character longer than any reason may be.
fn too_long() -> String {
    "错".repeat(201)
}

/// The page came back refused with `status`, what was typed in it, and the
/// message beside the form `form`.
fn refused_again(page: &Page, status: u16, typed: &str, form: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    assert!(
        page.body.contains(&format!("value=\"{typed}\"")),
        "what was typed is kept:\n{}",
        page.body
    );
    assert!(
        page.body.contains(&format!(
            "class=\"field-error\" role=\"alert\" data-form=\"{form}\""
        )),
        "the message is beside the field:\n{}",
        page.body
    );
}

/// An award of `code` to `household`, proposed by `official` and approved
/// by `reviewer` (on notice when the scheme has notice days).
fn approved(
    app: &TestApp,
    official: &str,
    reviewer: &str,
    household: &str,
    code: &str,
    key: &str,
) -> String {
    let mut c = app.conn();
    let ctx = Actor::console();
    let off = Who {
        user_id: official.to_string(),
        role: Role::Official,
        scope: aixin::auth::Scope::All,
    };
    let rev = Who {
        user_id: reviewer.to_string(),
        role: Role::Reviewer,
        scope: aixin::auth::Scope::All,
    };
    let p = aw::parse_proposal(code, &today().to_string(), "", today()).unwrap();
    let a = aw::propose(
        &mut c,
        &off.actor(&ctx),
        &crate::helpers::hid(household),
        &p,
        key,
        today(),
    )
    .unwrap();
    aw::review(&mut c, &rev.actor(&ctx), &a.id, &Decision::Approve, today()).unwrap();
    a.id.to_string()
}

app_test! {
    /// The counter's void: too long, then voided twice (409), the reason
    /// kept each time; the receipt stays as it was.
    async fn a_refused_void_keeps_its_reason(app) {
        let [_, _, town, village] = app.area_chain("撤因");
        let store = app.store("撤因超市", &town);
        app.user("clerk", Role::Clerk, None, Some(&store));
        let h = app.household("撤因户", &village);
        let goods = crate::stock::seed(&app, &store);
        let r = crate::counter::redeem_for_test(&app, &store, &h, &goods.items[0]);
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        clerk.get(&format!("/redemptions/{r}")).await;
        let path = format!("/redemptions/{r}/void");
        let long = too_long();
        let page = clerk.post(&path, &[("reason", &long)]).await;
        refused_again(&page, 422, &long, "void");
        page.assert_contains("不能超过 200 个字符");
        let status: String = redemptions::table.find(&r).select(redemptions::status).first(&mut app.conn()).unwrap();
        assert_ne!(status, "void", "nothing changed");
        clerk.submit(&path, &[("reason", "拿错了")]).await.assert_contains("已撤销");
        let again = clerk.post(&path, &[("reason", "再撤一次")]).await;
        refused_again(&again, 409, "再撤一次", "void");
        again.assert_contains("已经撤销");
    }
}

app_test! {
    /// A donation's reversal and a movement's reversal: refused reasons come
    /// back on their pages, with the form's key, so a retry is one reversal.
    async fn refused_stock_reversals_keep_their_reasons(app) {
        let [_, _, town, _] = app.area_chain("冲因");
        let a = app.store("冲因超市", &town);
        let b = app.store("冲因二店", &town);
        let goods = crate::stock::seed(&app, &a);
        let admin = app.admin().await;
        let long = too_long();

        let donation = format!("/donations/{}", goods.donation);
        let page = admin.get(&donation).await;
        let key = crate::stock::key_for(&page.body, &format!("{donation}/reverse"));
        let page = admin.post(&format!("{donation}/reverse"), &[("key", &key), ("reason", &long)]).await;
        refused_again(&page, 422, &long, "reverse");
        assert_eq!(crate::stock::key_for(&page.body, &format!("{donation}/reverse")), key, "the same form, the same key");
        assert_eq!(crate::stock::on_hand(&app, &a, &goods.items[0]), 20, "nothing changed");

        let out = aixin::stock::move_to_store(&mut app.conn(), &Actor::console(), &IdemKey::issue(), &crate::helpers::sid(&a), &crate::helpers::sid(&b), &crate::helpers::iid(&goods.items[0]), "5", today()).unwrap();
        let movement = format!("/movements/{}", out.id);
        let page = admin.get(&movement).await;
        let key = crate::stock::key_for(&page.body, &format!("{movement}/reverse"));
        let page = admin.post(&format!("{movement}/reverse"), &[("key", &key), ("reason", "  ")]).await;
        refused_again(&page, 422, "  ", "reverse");
        page.assert_contains("原因：必须填写");
        assert_eq!(crate::stock::on_hand(&app, &b, &goods.items[0]), 5, "nothing changed");
    }
}

app_test! {
    /// On the household's page: an award's reversal, an objection to an
    /// award on notice, and archiving, each refused with what was typed
    /// kept in its own row or form.
    async fn refused_household_page_reasons_are_kept(app) {
        let [_, _, _, village] = app.area_chain("户因");
        let official = app.user("hy-off", Role::Official, Some(&village), None);
        let reviewer = app.user("hy-rev", Role::Reviewer, Some(&village), None);
        app.rule("HY1", "清扫村道", 10, None);
        let h = app.household("户因户", &village);
        let accepted = approved(&app, &official, &reviewer, &h, "HY1", "hy-1");
        aixin::settings::set(&mut app.conn(), &Actor::console(), aixin::settings::NOTICE_DAYS, 7).unwrap();
        let noticed = approved(&app, &official, &reviewer, &h, "HY1", "hy-2");
        let admin = app.admin().await;
        admin.get(&format!("/households/{h}")).await;
        let long = too_long();

        let version = |id: &str| -> String {
            awards::table.find(id).select(awards::version).first::<i64>(&mut app.conn()).unwrap().to_string()
        };
        let v = version(&accepted);
        let page = admin.post(&format!("/awards/{accepted}/reverse"), &[("reason", &long), ("version", &v)]).await;
        refused_again(&page, 422, &long, &format!("reverse-{accepted}"));
        // A stale version: the award changed since it was seen (409).
        let page = admin.post(&format!("/awards/{accepted}/reverse"), &[("reason", "重复发放"), ("version", "99")]).await;
        refused_again(&page, 409, "重复发放", &format!("reverse-{accepted}"));

        let v = version(&noticed);
        let back = format!("/households/{h}");
        let page = admin.post(&format!("/awards/{noticed}/object"), &[("objection", &long), ("back", &back), ("version", &v)]).await;
        refused_again(&page, 422, &long, &format!("object-{noticed}"));

        let page = admin.post(&format!("/households/{h}/archive"), &[("reason", &long)]).await;
        refused_again(&page, 422, &long, "archive");
        let archived: bool = households::table.find(&h).select(households::archived).first(&mut app.conn()).unwrap();
        assert!(!archived, "nothing changed");
        let statuses: Vec<String> = awards::table.select(awards::status).order(awards::id).load(&mut app.conn()).unwrap();
        assert!(!statuses.iter().any(|s| s == "reversed"), "{statuses:?}");
    }
}

app_test! {
    /// The review queue's reject reason and a month's reopening reason.
    async fn refused_reject_and_reopen_reasons_are_kept(app) {
        let [city, _, _, village] = app.area_chain("审因");
        let official = app.user("sy-off", Role::Official, Some(&village), None);
        app.user("sy-rev", Role::Reviewer, Some(&village), None);
        app.rule("SY1", "志愿服务", 5, None);
        let h = app.household("审因户", &village);
        let p = aw::parse_proposal("SY1", &today().to_string(), "", today()).unwrap();
        let off = Who { user_id: official, role: Role::Official, scope: aixin::auth::Scope::All };
        let id = aw::propose(&mut app.conn(), &off.actor(&Actor::console()), &crate::helpers::hid(&h), &p, "sy-1", today()).unwrap().id;
        let reviewer = app.client();
        reviewer.login("sy-rev", PASSWORD).await;
        reviewer.get("/review").await;
        let long = too_long();
        let page = reviewer.post("/review", &[("id", &id), (&format!("v:{id}"), "1"), ("decision", "reject"), ("reason", &long)]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(&format!("value=\"{long}\""));
        page.assert_contains("data-field=\"field.reason\"");
        page.assert_contains(&format!("value=\"{id}\" aria-label=\"审因户\" checked"));
        let status: String = awards::table.find(&id).select(awards::status).first(&mut app.conn()).unwrap();
        assert_eq!(status, "pending", "nothing decided");

        let last = aixin::reports::Month::of(today()).prev().to_string();
        let admin = app.admin().await;
        admin.submit("/reports/close", &[("month", &last), ("area_id", &city)]).await.assert_contains("id=\"month-closed\"");
        let page = admin.post("/reports/reopen", &[("month", &last), ("area_id", &city), ("reason", &long)]).await;
        refused_again(&page, 422, &long, "reopen");
        let closed: i64 = month_closes::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(closed, 1, "still closed");
    }
}
