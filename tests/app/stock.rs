//! Stores, goods, donors, donations and the stock ledger, told as the
//! people at a store would live them.

use std::collections::HashMap;

use aixin::db::DbConn;
use aixin::db::schema::{donations as donations_t, stock, stock_movements};
use aixin::domain::Role;
use aixin::donations::{self, DonationForm, DonorForm, LineInput};
use aixin::goods::{self, ItemForm};
use aixin::idempotency::IdemKey;
use aixin::stock::stocktake;
use aixin::stock::{self as ledger, StockError};
use diesel::prelude::*;

use crate::helpers::*;

/// What `seed` put in place at a store.
pub struct Seeded {
    pub items: Vec<String>,
    pub donor: String,
    pub donation: String,
    pub stocktake: String,
    pub movement: String,
}

pub fn item(c: &mut DbConn, name: &str, unit: &str, price: &str) -> String {
    goods::create(
        c,
        &aixin::auth::Actor::console(),
        &ItemForm {
            name,
            category: "日用",
            unit,
            points_price: price,
            barcode: "",
        },
    )
    .expect("create item")
    .id
    .into_string()
}

pub fn donor(c: &mut DbConn, name: &str) -> String {
    donations::create_donor(
        c,
        &aixin::auth::Actor::console(),
        &DonorForm {
            name,
            kind: "enterprise",
            contact_person: "李经理",
            phone: "13812345678",
            address: "",
            note: "",
        },
    )
    .expect("create donor")
    .id
}

pub fn donate(c: &mut DbConn, store: &str, donor: &str, lines: &[(&str, i64)]) -> String {
    let lines: Vec<LineInput> = lines
        .iter()
        .map(|(i, q)| LineInput {
            item_id: i.to_string(),
            quantity: q.to_string(),
            value: "10".into(),
        })
        .collect();
    let on = today().to_string();
    donations::book(
        c,
        &aixin::auth::Actor::console(),
        &IdemKey::issue(),
        &crate::helpers::sid(store),
        &DonationForm {
            donor_id: donor,
            donated_on: &on,
            money: "",
            note: "",
            lines: &lines,
        },
        today(),
    )
    .expect("book donation")
    .id
}

/// Three items, a donor, a donation of them at `store`, and an open stocktake.
pub fn seed(app: &TestApp, store: &str) -> Seeded {
    let mut c = app.conn();
    let items = vec![
        item(&mut c, "大米5kg", "袋", "45"),
        item(&mut c, "酱油", "瓶", "8"),
        item(&mut c, "毛巾", "条", "12"),
    ];
    let donor = donor(&mut c, "爱心粮油公司");
    let donation = donate(
        &mut c,
        store,
        &donor,
        &[(&items[0], 20), (&items[1], 30), (&items[2], 15)],
    );
    let movement = stock_movements::table
        .filter(stock_movements::donation_id.eq(&donation))
        .select(stock_movements::id)
        .first(&mut c)
        .unwrap();
    let stocktake = stocktake::start(
        &mut c,
        &aixin::auth::Actor::console(),
        &crate::helpers::sid(store),
        today(),
    )
    .unwrap()
    .id;
    Seeded {
        items,
        donor,
        donation,
        stocktake,
        movement,
    }
}

/// Today in the scheme's time zone (the tests' default, Asia/Shanghai).
pub fn today() -> chrono::NaiveDate {
    aixin::time::today(chrono_tz::Asia::Shanghai)
}

pub fn on_hand(app: &TestApp, store: &str, item: &str) -> i64 {
    ledger::on_hand(
        &mut app.conn(),
        &crate::helpers::sid(store),
        &crate::helpers::iid(item),
    )
    .unwrap()
}

fn movement_count(app: &TestApp) -> i64 {
    stock_movements::table
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

/// The idempotency key of the form posting to `action` on a page.
pub fn key_for(html: &str, action: &str) -> String {
    let at = html
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form posting to {action}"));
    let rest = &html[at..];
    let k = rest.find("name=\"key\" value=\"").expect("a key field") + 18;
    rest[k..k + 32].to_string()
}

fn assert_ledger_ok(app: &TestApp) {
    let r = ledger::verify_stock_ledger(&mut app.conn()).unwrap();
    assert!(r.ok(), "the stock ledger must verify: {r:?}");
}

app_test! {
    async fn a_donation_moves_and_a_stocktake_agree_everywhere(app) {
        let [_, _, town, _] = app.area_chain("历下");
        let a = app.store("历下爱心超市", &town);
        let b = app.store("历城爱心超市", &town);
        let admin = app.admin().await;
        // The catalogue: three kinds of goods.
        for (name, unit, price) in [("大米5kg", "袋", "45"), ("酱油", "瓶", "8"), ("毛巾", "条", "12")] {
            let p = admin.submit("/items", &[("name", name), ("category", "粮油"), ("unit", unit), ("points_price", price), ("barcode", "")]).await;
            p.assert_contains(name);
        }
        let items: HashMap<String, String> = goods::list(&mut app.conn()).unwrap().into_iter().map(|i| (i.name, i.id.into_string())).collect();
        let donor_page = admin.submit("/donors", &[("name", "济南爱心粮油有限公司"), ("kind", "enterprise"), ("contact_person", "王经理"), ("phone", "13912345678")]).await;
        donor_page.assert_contains("济南爱心粮油有限公司");
        admin.get("/donors").await.assert_contains("139****5678");
        let donor_id = donations::list_donors(&mut app.conn()).unwrap()[0].id.clone();

        // Book the donation in at store A.
        let form = admin.get(&format!("/stores/{a}/donations/new")).await;
        assert_eq!(form.status, 200);
        let key = key_for(&form.body, &format!("/stores/{a}/donations"));
        let booked = admin.submit(&format!("/stores/{a}/donations"), &[
            ("key", &key), ("donor_id", &donor_id), ("donated_on", "2026-11-29"), ("money", "500"), ("note", ""),
            ("item", &items["大米5kg"]), ("quantity", "20"), ("value", "900"),
            ("item", &items["酱油"]), ("quantity", "30"), ("value", "240.50"),
            ("item", &items["毛巾"]), ("quantity", "15"), ("value", "150"),
            ("item", ""), ("quantity", ""), ("value", ""),
        ]).await;
        assert_eq!(booked.status, 200, "{}", booked.body);
        booked.assert_contains("捐赠已入库");
        booked.assert_contains("JZ2026-00001");
        booked.assert_contains("¥1790.50");
        let donation_id: String = donations_t::table.select(donations_t::id).first(&mut app.conn()).unwrap();
        let cert = admin.get(&format!("/donations/{donation_id}/certificate")).await;
        assert_eq!(cert.status, 200);
        cert.assert_contains("捐赠证书");
        cert.assert_contains("JZ2026-00001");
        cert.assert_contains("济南爱心粮油有限公司");
        cert.assert_contains("大米5kg");

        // 10 bags of rice move to store B.
        let shelf = admin.get(&format!("/stores/{a}")).await;
        let key = key_for(&shelf.body, &format!("/stores/{a}/moves"));
        let moved = admin.submit(&format!("/stores/{a}/moves"), &[("key", &key), ("item_id", &items["大米5kg"]), ("quantity", "10"), ("to_store_id", &b)]).await;
        moved.assert_contains("已调拨");
        assert_eq!(on_hand(&app, &a, &items["大米5kg"]), 10);
        assert_eq!(on_hand(&app, &b, &items["大米5kg"]), 10);

        // A stocktake at A finds 2 bottles of soy sauce missing.
        let started = admin.submit(&format!("/stores/{a}/stocktakes"), &[]).await;
        started.assert_contains("PD");
        let st_id = started.body.split("action=\"/stocktakes/").nth(1).unwrap().split('/').next().unwrap().to_string();
        let counts = [
            (format!("count_{}", items["大米5kg"]), "10".to_string()),
            (format!("count_{}", items["酱油"]), "28".to_string()),
            (format!("count_{}", items["毛巾"]), "15".to_string()),
            ("counted_by".to_string(), "张会计".to_string()),
        ];
        let counts: Vec<(&str, &str)> = counts.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let counted = admin.submit_shown(&format!("/stocktakes/{st_id}"), &format!("/stocktakes/{st_id}/counts"), &counts).await;
        counted.assert_contains("id=\"differences\"");
        counted.assert_contains("-2");
        let key = key_for(&counted.body, &format!("/stocktakes/{st_id}/confirm"));
        let version = hidden_in(&counted.body, &format!("/stocktakes/{st_id}/confirm"), "version");
        let posted = admin.submit(&format!("/stocktakes/{st_id}/confirm"), &[("key", &key), ("version", &version)]).await;
        posted.assert_contains("盘点差异已过账");
        assert_eq!(on_hand(&app, &a, &items["酱油"]), 28);
        let adjustments: i64 = stock_movements::table.filter(stock_movements::stocktake_id.eq(&st_id)).count().get_result(&mut app.conn()).unwrap();
        assert_eq!(adjustments, 1, "exactly the one difference posts");

        // Shelf, history and donor page agree to the unit.
        let shelf = admin.get(&format!("/stores/{a}")).await;
        shelf.assert_contains("id=\"shelf-units\">53<");
        let history = admin.get(&format!("/stores/{a}/movements")).await;
        history.assert_contains("+30 瓶");
        history.assert_contains("-2 瓶");
        history.assert_contains("-10 袋");
        let donor = admin.get(&format!("/donors/{donor_id}")).await;
        donor.assert_contains("id=\"donor-units\">65<");
        donor.assert_contains("¥1790.50");
        // Exports: translated headers, and the reason text is neutralised.
        let csv = admin.get(&format!("/stores/{a}/movements/export?format=csv")).await;
        assert_eq!(csv.status, 200);
        assert!(csv.body.contains("数量变化"), "{}", csv.body);
        assert!(csv.body.contains("-2"));
        let xlsx = admin.http.get(app.url(&format!("/stores/{a}/movements/export?format=xlsx"))).send().await.unwrap();
        assert_eq!(xlsx.status().as_u16(), 200);
        assert!(xlsx.bytes().await.unwrap().starts_with(b"PK"));
        let verify = admin.get("/ledger/stock").await;
        verify.assert_contains("id=\"ledger-ok\"");
        assert_ledger_ok(&app);
        let actions = app.audit_actions();
        for a in ["item.create", "donor.create", "donation.book", "stock.move", "stocktake.start", "stocktake.count", "stocktake.confirm", "stock.export"] {
            assert!(actions.contains(&a.to_string()), "audit has {a}");
        }
    }
}

app_test! {
    async fn a_double_submitted_donation_posts_once(app) {
        let [_, _, town, _] = app.area_chain("槐荫");
        let store = app.store("槐荫爱心超市", &town);
        let (rice, donor) = {
            let mut c = app.conn();
            (item(&mut c, "大米", "袋", "45"), donor(&mut c, "张先生"))
        };
        let admin = app.admin().await;
        let form = admin.get(&format!("/stores/{store}/donations/new")).await;
        let key = key_for(&form.body, &format!("/stores/{store}/donations"));
        let fields = [("key", key.as_str()), ("donor_id", donor.as_str()), ("donated_on", "2026-11-29"), ("item", rice.as_str()), ("quantity", "7"), ("value", "")];
        let first = admin.post(&format!("/stores/{store}/donations"), &fields).await;
        let second = admin.post(&format!("/stores/{store}/donations"), &fields).await;
        assert_eq!(first.status, 303);
        assert_eq!(first.location, second.location, "a replay lands on the first result");
        let page = admin.follow(second.location.as_deref().unwrap()).await;
        page.assert_contains("已经提交过");
        assert_eq!(on_hand(&app, &store, &rice), 7);
        let n: i64 = donations_t::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 1);
        // The same key with other content is refused, and changes nothing.
        let other = [("key", key.as_str()), ("donor_id", donor.as_str()), ("donated_on", "2026-11-29"), ("item", rice.as_str()), ("quantity", "70"), ("value", "")];
        let refused = admin.submit(&format!("/stores/{store}/donations"), &other).await;
        refused.assert_contains("已提交过其他内容");
        assert_eq!(on_hand(&app, &store, &rice), 7);
        // Parallel replays: still once.
        let form = admin.get(&format!("/stores/{store}/donations/new")).await;
        let key = key_for(&form.body, &format!("/stores/{store}/donations"));
        let fields = [("key", key.as_str()), ("donor_id", donor.as_str()), ("donated_on", "2026-11-29"), ("item", rice.as_str()), ("quantity", "3"), ("value", "")];
        let path = format!("/stores/{store}/donations");
        let (x, y, z) = tokio::join!(admin.post(&path, &fields), admin.post(&path, &fields), admin.post(&path, &fields));
        for p in [&x, &y, &z] {
            assert_eq!(p.status, 303, "{}", p.body);
        }
        assert_eq!(x.location, y.location);
        assert_eq!(y.location, z.location);
        assert_eq!(on_hand(&app, &store, &rice), 10);
        assert_ledger_ok(&app);
    }
}

app_test! {
    async fn bad_input_names_the_field_and_changes_nothing(app) {
        let [_, _, town, _] = app.area_chain("天桥");
        let a = app.store("天桥爱心超市", &town);
        let b = app.store("天桥二店", &town);
        let s = seed(&app, &a);
        let admin = app.admin().await;
        let before = movement_count(&app);
        let shelf = admin.get(&format!("/stores/{a}")).await;
        for (qty, msg) in [("abc", "应为整数"), ("-1", "应为整数"), ("1.5", "应为整数"), ("0", "大于 0"), ("", "必须填写"), ("99999999999999999999", "不能超过")] {
            let key = key_for(&shelf.body, &format!("/stores/{a}/moves"));
            let p = admin.submit(&format!("/stores/{a}/moves"), &[("key", &key), ("item_id", &s.items[0]), ("quantity", qty), ("to_store_id", &b)]).await;
            assert_eq!(p.status, 422, "the store page comes back with the move form kept");
            p.assert_contains("数量");
            p.assert_contains(msg);
        }
        // More than is on the shelf: refused naming the item and what is left.
        let key = key_for(&shelf.body, &format!("/stores/{a}/moves"));
        let p = admin.submit(&format!("/stores/{a}/moves"), &[("key", &key), ("item_id", &s.items[0]), ("quantity", "21"), ("to_store_id", &b)]).await;
        p.assert_contains("“大米5kg”库存不足");
        p.assert_contains("现只剩 20 袋");
        // A write-off needs a reason.
        let key = key_for(&shelf.body, &format!("/stores/{a}/write-offs"));
        let p = admin.submit(&format!("/stores/{a}/write-offs"), &[("key", &key), ("item_id", &s.items[0]), ("quantity", "1"), ("reason", " ")]).await;
        p.assert_contains("原因");
        // A form without its key.
        let p = admin.submit(&format!("/stores/{a}/write-offs"), &[("item_id", &s.items[0]), ("quantity", "1"), ("reason", "过期")]).await;
        p.assert_contains("表单已过期");
        // Donations: a bad date, a bad value, an unknown item.
        let form = admin.get(&format!("/stores/{a}/donations/new")).await;
        let key = key_for(&form.body, &format!("/stores/{a}/donations"));
        for (date, item, qty, value, msg) in [
            ("2026-02-30", s.items[0].as_str(), "1", "", "捐赠日期"),
            ("2026-11-29", s.items[0].as_str(), "1", "12.345", "第 1 行"),
            ("2026-11-29", "nope", "1", "", "找不到这种物资"),
            ("2026-11-29", "", "", "", "至少填写一行"),
        ] {
            let p = admin.submit(&format!("/stores/{a}/donations"), &[("key", &key), ("donor_id", &s.donor), ("donated_on", date), ("item", item), ("quantity", qty), ("value", value)]).await;
            assert_eq!(p.status, 422, "the form comes back with what was typed");
            p.assert_contains(msg);
        }
        // Goods: bad price, duplicate barcode.
        let p = admin.submit("/items", &[("name", "食盐"), ("unit", "袋"), ("points_price", "2.5")]).await;
        p.assert_contains("积分价");
        admin.submit("/items", &[("name", "食盐"), ("unit", "袋"), ("points_price", "2"), ("barcode", "6901234567892")]).await;
        let p = admin.submit("/items", &[("name", "洗衣粉"), ("unit", "袋"), ("points_price", "9"), ("barcode", "6901234567892")]).await;
        p.assert_contains("条码“6901234567892”已被其他物资使用");
        // A stocktake count that is not a number.
        let p = admin.submit_shown(&format!("/stocktakes/{}", s.stocktake), &format!("/stocktakes/{}/counts", s.stocktake), &[(&format!("count_{}", s.items[1]), "x"), ("counted_by", "李")]).await;
        p.assert_contains("“酱油”的实盘数量");
        assert_eq!(movement_count(&app), before, "nothing moved");
        assert_eq!(on_hand(&app, &a, &s.items[0]), 20);
        assert_ledger_ok(&app);
    }
}

app_test! {
    async fn a_move_between_stores_is_all_or_nothing(app) {
        let [_, _, town, _] = app.area_chain("市中");
        let a = app.store("市中爱心超市", &town);
        let b = app.store("市中二店", &town);
        let s = seed(&app, &a);
        let admin = app.admin().await;
        // The receiving store is closed: the move fails as a whole.
        aixin::stores::set_active(&mut app.conn(), &aixin::auth::Actor::console(), &crate::helpers::sid(&b), false).unwrap();
        let before = movement_count(&app);
        let r = ledger::move_to_store(&mut app.conn(), &aixin::auth::Actor::console(), &IdemKey::issue(), &crate::helpers::sid(&a), &crate::helpers::sid(&b), &crate::helpers::iid(&s.items[0]), "5", today());
        assert!(matches!(r, Err(StockError::Invalid(ref e)) if e.key == "error.store_inactive"), "{r:?}");
        assert_eq!(on_hand(&app, &a, &s.items[0]), 20);
        assert_eq!(on_hand(&app, &b, &s.items[0]), 0);
        assert_eq!(movement_count(&app), before);
        // More than the shelf holds: refused, nothing changes.
        aixin::stores::set_active(&mut app.conn(), &aixin::auth::Actor::console(), &crate::helpers::sid(&b), true).unwrap();
        let r = ledger::move_to_store(&mut app.conn(), &aixin::auth::Actor::console(), &IdemKey::issue(), &crate::helpers::sid(&a), &crate::helpers::sid(&b), &crate::helpers::iid(&s.items[0]), "25", today());
        assert!(r.is_err());
        assert_eq!(on_hand(&app, &a, &s.items[0]), 20);
        // A good move: one row, both shelves, same transaction.
        let out = ledger::move_to_store(&mut app.conn(), &aixin::auth::Actor::console(), &IdemKey::issue(), &crate::helpers::sid(&a), &crate::helpers::sid(&b), &crate::helpers::iid(&s.items[0]), "5", today()).unwrap();
        let m = ledger::find_movement(&mut app.conn(), &out.id).unwrap().unwrap();
        assert_eq!((m.from_store_id.as_deref(), m.to_store_id.as_deref()), (Some(a.as_str()), Some(b.as_str())));
        assert_eq!(on_hand(&app, &a, &s.items[0]) + on_hand(&app, &b, &s.items[0]), 20);
        // Reversal names the original and puts the goods back.
        let page = admin.get(&format!("/movements/{}", m.id)).await;
        let key = key_for(&page.body, &format!("/movements/{}/reverse", m.id));
        let back = admin.submit(&format!("/movements/{}/reverse", m.id), &[("key", &key), ("reason", "调错了")]).await;
        back.assert_contains("已登记冲正");
        assert_eq!(on_hand(&app, &a, &s.items[0]), 20);
        let again = admin.submit(&format!("/movements/{}/reverse", m.id), &[("key", &IdemKey::issue().to_string()), ("reason", "再来")]).await;
        again.assert_contains("已经冲正过");
        // Ledger rows never change, on either database.
        let upd = diesel::sql_query("UPDATE stock_movements SET quantity = 1").execute(&mut app.conn());
        assert!(upd.is_err(), "ledger rows cannot be updated");
        let del = diesel::sql_query("DELETE FROM stock_movements").execute(&mut app.conn());
        assert!(del.is_err(), "ledger rows cannot be deleted");
        assert_ledger_ok(&app);
    }
}

app_test! {
    async fn tampering_is_found_by_the_verify_check(app) {
        let [_, _, town, _] = app.area_chain("长清");
        let a = app.store("长清爱心超市", &town);
        let s = seed(&app, &a);
        assert_ledger_ok(&app);
        let mut c = app.conn();
        // Someone with database access drops the guard and edits a row.
        let drop = match &*c {
            DbConn::Sqlite(_) => "DROP TRIGGER stock_movements_no_update",
            DbConn::Pg(_) => "DROP TRIGGER stock_movements_append_only ON stock_movements",
        };
        diesel::sql_query(drop).execute(&mut c).unwrap();
        diesel::sql_query(format!("UPDATE stock_movements SET quantity = 99 WHERE id = '{}'", s.movement)).execute(&mut c).unwrap();
        let r = ledger::verify_stock_ledger(&mut c).unwrap();
        assert!(!r.ok());
        let bad = r.first_bad.expect("names the entry");
        assert_eq!(bad.id, s.movement);
        assert_eq!(bad.problem, "ledger.problem_hash");
        assert!(!r.mismatches.is_empty(), "the cached stock no longer matches either");
        let _ = stock::table.count().get_result::<i64>(&mut c);
    }
}

app_test! {
    async fn a_clerk_of_one_store_cannot_touch_another(app) {
        let [_, _, town, _] = app.area_chain("章丘");
        let a = app.store("章丘一店", &town);
        let b = app.store("章丘二店", &town);
        let sa = seed(&app, &a);
        let sb = {
            let mut c = app.conn();
            let d = donate(&mut c, &b, &sa.donor, &[(&sa.items[0], 5)]);
            let m: String = stock_movements::table.filter(stock_movements::donation_id.eq(&d)).select(stock_movements::id).first(&mut c).unwrap();
            let st = stocktake::start(&mut c, &aixin::auth::Actor::console(), &crate::helpers::sid(&b), today()).unwrap().id;
            (d, m, st)
        };
        app.user("clerk.a", Role::Clerk, None, Some(&a));
        let clerk = app.client();
        clerk.login("clerk.a", PASSWORD).await;
        assert_eq!(clerk.get(&format!("/stores/{a}")).await.status, 200);
        let mine = clerk.get("/my-store").await;
        assert_eq!(mine.location.as_deref(), Some(format!("/stores/{a}").as_str()));
        for path in [
            format!("/stores/{b}"),
            format!("/stores/{b}/movements"),
            format!("/stores/{b}/movements/export?format=csv"),
            format!("/stores/{b}/donations/new"),
            format!("/donations/{}", sb.0),
            format!("/donations/{}/certificate", sb.0),
            format!("/movements/{}", sb.1),
            format!("/stocktakes/{}", sb.2),
            "/stores".to_string(),
            "/ledger/stock".to_string(),
        ] {
            assert_eq!(clerk.get(&path).await.status, 403, "GET {path}");
        }
        let key = IdemKey::issue().to_string();
        for (path, fields) in [
            (format!("/stores/{b}/moves"), vec![("key", key.as_str()), ("item_id", sa.items[0].as_str()), ("quantity", "1"), ("to_store_id", a.as_str())]),
            (format!("/stores/{b}/write-offs"), vec![("key", key.as_str()), ("item_id", sa.items[0].as_str()), ("quantity", "1"), ("reason", "x")]),
            (format!("/stores/{b}/donations"), vec![("key", key.as_str()), ("donor_id", sa.donor.as_str()), ("donated_on", "2026-11-29"), ("item", sa.items[0].as_str()), ("quantity", "1")]),
            (format!("/stores/{b}/thresholds"), vec![("item_id", sa.items[0].as_str()), ("value", "3")]),
            (format!("/stores/{b}/stocktakes"), vec![]),
            (format!("/stocktakes/{}/counts", sb.2), vec![("counted_by", "x")]),
            (format!("/stocktakes/{}/confirm", sb.2), vec![("key", key.as_str())]),
            (format!("/movements/{}/reverse", sb.1), vec![("key", key.as_str()), ("reason", "x")]),
            (format!("/stores/{a}/prices"), vec![("item_id", sa.items[0].as_str()), ("value", "1")]),
        ] {
            assert_eq!(clerk.post(&path, &fields).await.status, 403, "POST {path}");
        }
        // A store id slipped into a form field is ignored: the URL's store,
        // checked, is the one that counts.
        let form = clerk.get(&format!("/stores/{a}/donations/new")).await;
        let k = key_for(&form.body, &format!("/stores/{a}/donations"));
        let p = clerk.submit(&format!("/stores/{a}/donations"), &[("key", &k), ("store_id", &b), ("donor_id", &sa.donor), ("donated_on", "2026-11-29"), ("item", &sa.items[1]), ("quantity", "4")]).await;
        p.assert_contains("捐赠已入库");
        assert_eq!(on_hand(&app, &a, &sa.items[1]), 34);
        assert_eq!(on_hand(&app, &b, &sa.items[1]), 0);
        // The clerk sees only their own store's donations on a donor's page.
        let donor = clerk.get(&format!("/donors/{}", sa.donor)).await;
        assert!(!donor.body.contains(&sb.0));
        assert_eq!(on_hand(&app, &b, &sa.items[0]), 5);
        assert!(app.audit_actions().contains(&"access.denied".to_string()));
    }
}

#[derive(Debug, Clone)]
enum Op {
    Donate(usize, usize, i64),
    Move(usize, usize, i64),
    WriteOff(usize, usize, i64),
    Adjust(usize, usize, i64),
    Reverse(usize),
}

fn op_strategy() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (0..2usize, 0..2usize, 1..20i64).prop_map(|(s, i, q)| Op::Donate(s, i, q)),
        (0..2usize, 0..2usize, 1..25i64).prop_map(|(s, i, q)| Op::Move(s, i, q)),
        (0..2usize, 0..2usize, 1..25i64).prop_map(|(s, i, q)| Op::WriteOff(s, i, q)),
        (0..2usize, 0..2usize, -20..20i64)
            .prop_filter("a change", |(_, _, d)| *d != 0)
            .prop_map(|(s, i, d)| Op::Adjust(s, i, d)),
        (0..40usize).prop_map(Op::Reverse),
    ]
}

/// A posted movement, as the model sees it: which shelves it touched.
struct Posted {
    id: String,
    from: Option<(usize, usize)>,
    to: Option<(usize, usize)>,
    qty: i64,
    reversed: bool,
    /// Made by a donation: undone only by reversing the donation.
    donation: bool,
}

fn refused(r: &Result<impl std::fmt::Debug, StockError>) -> bool {
    matches!(r, Err(StockError::Invalid(e)) if e.key == "error.not_enough_stock")
}

app_test! {
    async fn stock_never_goes_negative_and_always_equals_the_ledger(app) {
        use proptest::test_runner::{Config, TestRunner};
        let [_, _, town, _] = app.area_chain("property");
        let (items, donor_id) = {
            let mut c = app.conn();
            let items: Vec<aixin::goods::Item> = ["米", "油"].iter().map(|n| {
                let id = item(&mut c, n, "件", "1");
                goods::find(&mut c, &crate::helpers::iid(&id)).unwrap().unwrap()
            }).collect();
            (items, donor(&mut c, "捐赠人"))
        };
        tokio::task::block_in_place(|| {
            let mut runner = TestRunner::new(Config { cases: 32, failure_persistence: None, ..Config::default() });
            let case = std::sync::atomic::AtomicUsize::new(0);
            let strategy = proptest::collection::vec(op_strategy(), 1..25);
            runner.run(&strategy, |ops| {
                let n = case.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let stores = [app.store(&format!("p{n}a-{}", uuid::Uuid::new_v4()), &town), app.store(&format!("p{n}b-{}", uuid::Uuid::new_v4()), &town)];
                let mut c = app.conn();
                let ctx = aixin::auth::Actor::console();
                let mut model = [[0i64; 2]; 2];
                let mut posted: Vec<Posted> = Vec::new();
                for op in &ops {
                    match *op {
                        Op::Donate(s, i, q) => {
                            let d = donate(&mut c, &stores[s], &donor_id, &[(&items[i].id, q)]);
                            let id: String = stock_movements::table.filter(stock_movements::donation_id.eq(&d)).select(stock_movements::id).first(&mut c).unwrap();
                            model[s][i] += q;
                            posted.push(Posted { id, from: None, to: Some((s, i)), qty: q, reversed: false, donation: true });
                        }
                        Op::Move(s, i, q) => {
                            let r = ledger::move_to_store(&mut c, &ctx, &IdemKey::issue(), &crate::helpers::sid(&stores[s]), &crate::helpers::sid(&stores[1 - s]), &items[i].id, &q.to_string(), today());
                            if model[s][i] >= q {
                                let out = r.expect("a covered move succeeds");
                                model[s][i] -= q;
                                model[1 - s][i] += q;
                                posted.push(Posted { id: out.id, from: Some((s, i)), to: Some((1 - s, i)), qty: q, reversed: false, donation: false });
                            } else {
                                assert!(refused(&r), "{r:?}");
                            }
                        }
                        Op::WriteOff(s, i, q) => {
                            let r = ledger::write_off(&mut c, &ctx, &IdemKey::issue(), &crate::helpers::sid(&stores[s]), &items[i].id, &q.to_string(), "过期", today());
                            if model[s][i] >= q {
                                let out = r.expect("a covered write-off succeeds");
                                model[s][i] -= q;
                                posted.push(Posted { id: out.id, from: Some((s, i)), to: None, qty: q, reversed: false, donation: false });
                            } else {
                                assert!(refused(&r), "{r:?}");
                            }
                        }
                        Op::Adjust(s, i, d) => {
                            let r = ledger::adjust(&mut c, &ctx, &crate::helpers::sid(&stores[s]), &items[i], d, "盘点", today());
                            if model[s][i] + d >= 0 {
                                let m = r.expect("a covered adjustment succeeds").unwrap();
                                model[s][i] += d;
                                let (from, to) = if d > 0 { (None, Some((s, i))) } else { (Some((s, i)), None) };
                                posted.push(Posted { id: m.id, from, to, qty: d.abs(), reversed: false, donation: false });
                            } else {
                                assert!(refused(&r), "{r:?}");
                            }
                        }
                        Op::Reverse(k) => {
                            if posted.is_empty() {
                                continue;
                            }
                            let k = k % posted.len();
                            let p = &mut posted[k];
                            let r = ledger::reverse(&mut c, &ctx, &IdemKey::issue(), &p.id, "更正", today());
                            let covered = p.to.is_none_or(|(s, i)| model[s][i] >= p.qty);
                            if p.donation {
                                assert!(matches!(r, Err(StockError::Invalid(ref e)) if e.key == "error.movement_of_donation"), "{r:?}");
                            } else if p.reversed {
                                assert!(matches!(r, Err(StockError::Invalid(ref e)) if e.key == "error.already_reversed"), "{r:?}");
                            } else if covered {
                                r.expect("a covered reversal succeeds");
                                if let Some((s, i)) = p.to { model[s][i] -= p.qty; }
                                if let Some((s, i)) = p.from { model[s][i] += p.qty; }
                                p.reversed = true;
                            } else {
                                assert!(refused(&r), "{r:?}");
                            }
                        }
                    }
                    for (s, store) in stores.iter().enumerate() {
                        for (i, it) in items.iter().enumerate() {
                            let q = ledger::on_hand(&mut c, &crate::helpers::sid(store), &it.id).unwrap();
                            assert!(q >= 0);
                            assert_eq!(q, model[s][i], "after {op:?}");
                        }
                    }
                }
                let report = ledger::verify_stock_ledger(&mut c).unwrap();
                assert!(report.ok(), "{report:?}");
                Ok(())
            })
            .unwrap();
        });
    }
}

app_test! {
    async fn a_clerk_books_a_donation_in_and_prints_its_certificate(app) {
        let Some(b) = crate::browser::start_browser("a_clerk_books_a_donation_in_and_prints_its_certificate").await else { return };
        let [_, _, town, _] = app.area_chain("高新");
        let store = app.store("高新爱心超市", &town);
        let (rice, oil, donor_id) = {
            let mut c = app.conn();
            (item(&mut c, "大米", "袋", "45"), item(&mut c, "食用油", "桶", "60"), donor(&mut c, "高新区爱心企业"))
        };
        app.user("clerk.gx", Role::Clerk, None, Some(&store));
        b.client.goto(&app.url("/login")).await.unwrap();
        b.fill("#username", "clerk.gx").await;
        b.fill("#password", PASSWORD).await;
        b.click("#login").await;
        b.client.goto(&app.url("/my-store")).await.unwrap();
        assert_eq!(b.path().await, format!("/stores/{store}"));
        b.click("#book-donation").await;
        use fantoccini::Locator;
        b.client.find(Locator::Css("#donor_id")).await.unwrap().select_by_value(&donor_id).await.unwrap();
        b.client.find(Locator::Css("#item-1")).await.unwrap().select_by_value(&rice).await.unwrap();
        b.fill("#quantity-1", "12").await;
        b.fill("#value-1", "540").await;
        b.client.find(Locator::Css("#item-2")).await.unwrap().select_by_value(&oil).await.unwrap();
        b.fill("#quantity-2", "4").await;
        b.fill("#value-2", "240.5").await;
        b.click("#book").await;
        assert!(b.path().await.starts_with("/donations/"), "lands on the donation");
        let number = b.text("#donation-number").await;
        assert!(number.starts_with("JZ"), "{number}");
        assert_eq!(b.text("#total-value").await, "¥780.50");
        b.click("#certificate").await;
        assert!(b.text(".cert-title").await.contains("捐赠证书"));
        assert_eq!(b.text("#cert-number").await, number);
        assert!(b.text("#certificate-sheet").await.contains("高新区爱心企业"));
        assert_eq!(on_hand(&app, &store, &rice), 12);
        assert_eq!(on_hand(&app, &store, &oil), 4);
        b.close().await;
    }
}

app_test! {
    async fn low_stock_shows_on_the_admin_home_page(app) {
        let [_, _, _, village] = app.area_chain("低库");
        let store = app.store("低库超市", &village);
        let s = seed(&app, &store);
        let admin = app.admin().await;
        // 20 bags of rice and 30 bottles of soy sauce on the shelf: watch
        // both, one at a level it is under and one it is over.
        for (item, value) in [(&s.items[0], "25"), (&s.items[1], "5")] {
            let page = admin.submit(&format!("/stores/{store}/thresholds"), &[("item_id", item.as_str()), ("value", value)]).await;
            assert_eq!(page.status, 200, "{}", page.body);
        }
        let home = admin.get("/").await;
        home.assert_contains("id=\"low-stock\"");
        home.assert_contains("大米5kg</td><td class=\"num\">20 / 25<");
        assert!(!home.body.contains("酱油</td>"), "soy sauce is not low");
    }
}

/// A store with `soap` units of soap on its shelf (a donation) and a
/// household with points and a card; returns (store, soap, household).
fn soap_store(app: &TestApp, prefix: &str, soap: i64) -> (String, String, String) {
    let [_, _, town, village] = app.area_chain(prefix);
    let store = app.store(&format!("{prefix}爱心超市"), &town);
    let household = app.household(&format!("{prefix}户"), &village);
    let mut c = app.conn();
    let item = item(&mut c, "肥皂", "块", "3");
    let d = donor(&mut c, &format!("{prefix}捐赠人"));
    donate(&mut c, &store, &d, &[(&item, soap)]);
    (store, item, household)
}

/// Redeem `n` units at the counter, straight through the domain.
fn redeem(
    app: &TestApp,
    store: &str,
    household: &str,
    item: &str,
    n: i64,
) -> aixin::redemptions::Redemption {
    use aixin::db::schema::points_cards;
    fund(&mut app.conn(), household, 1000);
    let card: String = points_cards::table
        .filter(points_cards::household_id.eq(household))
        .filter(points_cards::replaced_by.is_null())
        .select(points_cards::card_no)
        .first(&mut app.conn())
        .unwrap();
    let (r, _) = aixin::redemptions::redeem(
        &mut app.conn(),
        &aixin::auth::Actor::console(),
        &aixin::redemptions::RedeemRequest {
            store_id: &crate::helpers::sid(store),
            card: &card,
            lines: &[aixin::redemptions::WantLine {
                item_id: crate::helpers::iid(item),
                quantity: n,
            }],
            key: &uuid::Uuid::new_v4().to_string(),
            household_id: None,
            expected_total: None,
        },
        today(),
    )
    .expect("redeem");
    r
}

fn stocktake_id_in(page: &Page) -> String {
    page.body
        .split("action=\"/stocktakes/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string()
}

/// The hidden field `name`'s value in the form posting to `action`.
pub fn hidden_in(html: &str, action: &str, name: &str) -> String {
    let at = html
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form posting to {action}"));
    let rest = &html[at..];
    let needle = format!("name=\"{name}\" value=\"");
    let k = rest
        .find(&needle)
        .unwrap_or_else(|| panic!("no {name} field"))
        + needle.len();
    rest[k..].split('"').next().unwrap().to_string()
}

app_test! {
    async fn a_count_accounts_for_what_the_counter_sold_meanwhile(app) {
        let (store, soap, household) = soap_store(&app, "盘中", 10);
        let admin = app.admin().await;
        // 10 soap on the shelf; the count begins.
        let started = admin.submit(&format!("/stores/{store}/stocktakes"), &[]).await;
        let st = stocktake_id_in(&started);
        // The sheet says which lines are not counted yet.
        started.assert_contains("id=\"uncounted\"");
        started.assert_contains("尚未盘点：肥皂");
        // The counter keeps trading: 2 soap go home with a household.
        let r = redeem(&app, &store, &household, &soap, 2);
        assert_eq!(on_hand(&app, &store, &soap), 8);
        // The counter keys in the 8 that are there and confirms.
        let counted = admin.submit_shown(&format!("/stocktakes/{st}"), &format!("/stocktakes/{st}/counts"), &[(&format!("count_{soap}"), "8"), ("counted_by", "张会计"), ("witnessed_by", "李站长")]).await;
        counted.assert_contains("id=\"moved-since\"");
        counted.assert_contains("-2 块");
        counted.assert_contains("账实相符");
        counted.assert_contains("李站长");
        assert!(!counted.body.contains("id=\"uncounted\""), "every line is counted");
        let key = key_for(&counted.body, &format!("/stocktakes/{st}/confirm"));
        let version = hidden_in(&counted.body, &format!("/stocktakes/{st}/confirm"), "version");
        let posted = admin.submit(&format!("/stocktakes/{st}/confirm"), &[("key", &key), ("version", &version)]).await;
        posted.assert_contains("盘点差异已过账");
        assert_eq!(on_hand(&app, &store, &soap), 8, "the 2 redeemed are not taken off a second time");
        let adjustments: i64 = stock_movements::table.filter(stock_movements::stocktake_id.eq(&st)).count().get_result(&mut app.conn()).unwrap();
        assert_eq!(adjustments, 0);
        // The posted sheet still shows what moved while counting.
        let sheet = admin.get(&format!("/stocktakes/{st}")).await;
        sheet.assert_contains("id=\"moved-since\"");
        sheet.assert_contains(&r.number);
        // A second confirmation changes nothing and says so.
        let before = movement_count(&app);
        let again = admin.submit(&format!("/stocktakes/{st}/confirm"), &[("key", &IdemKey::issue().to_string()), ("version", &version)]).await;
        again.assert_contains("已经过账");
        assert_eq!(movement_count(&app), before);
        assert_eq!(on_hand(&app, &store, &soap), 8);

        // A real loss while trading: 8 on the shelf, a count begins, 1 more
        // is redeemed (7), but only 6 are found: exactly 1 is missing.
        let started = admin.submit(&format!("/stores/{store}/stocktakes"), &[]).await;
        let st = stocktake_id_in(&started);
        redeem(&app, &store, &household, &soap, 1);
        let counted = admin.submit_shown(&format!("/stocktakes/{st}"), &format!("/stocktakes/{st}/counts"), &[(&format!("count_{soap}"), "6"), ("counted_by", "张会计")]).await;
        let key = key_for(&counted.body, &format!("/stocktakes/{st}/confirm"));
        let seen = hidden_in(&counted.body, &format!("/stocktakes/{st}/confirm"), "version");
        // Someone changes the count after it was seen: confirming what was
        // seen is refused, nothing posts.
        admin.submit_shown(&format!("/stocktakes/{st}"), &format!("/stocktakes/{st}/counts"), &[(&format!("count_{soap}"), "5"), ("counted_by", "张会计")]).await;
        let stale = admin.submit(&format!("/stocktakes/{st}/confirm"), &[("key", &key), ("version", &seen)]).await;
        stale.assert_contains("又有改动");
        assert_eq!(on_hand(&app, &store, &soap), 7);
        let counted = admin.submit_shown(&format!("/stocktakes/{st}"), &format!("/stocktakes/{st}/counts"), &[(&format!("count_{soap}"), "6"), ("counted_by", "张会计")]).await;
        let key = key_for(&counted.body, &format!("/stocktakes/{st}/confirm"));
        let seen = hidden_in(&counted.body, &format!("/stocktakes/{st}/confirm"), "version");
        admin.submit(&format!("/stocktakes/{st}/confirm"), &[("key", &key), ("version", &seen)]).await.assert_contains("盘点差异已过账");
        assert_eq!(on_hand(&app, &store, &soap), 6);

        // Counted first, sold after: 6 on the shelf, the count begins and
        // finds all 6, then 1 is redeemed (5) before the sheet is confirmed.
        // The count was right when made: nothing is adjusted, 5 stay.
        let started = admin.submit(&format!("/stores/{store}/stocktakes"), &[]).await;
        let st = stocktake_id_in(&started);
        admin.submit_shown(&format!("/stocktakes/{st}"), &format!("/stocktakes/{st}/counts"), &[(&format!("count_{soap}"), "6"), ("counted_by", "张会计")]).await;
        redeem(&app, &store, &household, &soap, 1);
        let counted = admin.get(&format!("/stocktakes/{st}")).await;
        counted.assert_contains("账实相符");
        let key = key_for(&counted.body, &format!("/stocktakes/{st}/confirm"));
        let seen = hidden_in(&counted.body, &format!("/stocktakes/{st}/confirm"), "version");
        admin.submit(&format!("/stocktakes/{st}/confirm"), &[("key", &key), ("version", &seen)]).await.assert_contains("盘点差异已过账");
        assert_eq!(on_hand(&app, &store, &soap), 5, "a sale after the count is not undone by it");
        assert_ledger_ok(&app);
    }
}

app_test! {
    async fn two_people_confirming_one_stocktake_post_it_once(app) {
        let (store, soap, household) = soap_store(&app, "同时", 50);
        for round in 0..4 {
            let st = stocktake::start(&mut app.conn(), &aixin::auth::Actor::console(), &crate::helpers::sid(&store), today()).unwrap();
            redeem(&app, &store, &household, &soap, 1);
            let shelf = on_hand(&app, &store, &soap);
            // One unit is missing besides the one redeemed.
            stocktake::save_counts(&mut app.conn(), &aixin::auth::Actor::console(), &st.id, &stocktake::Counters { counted_by: "王", witnessed_by: "" }, &[(crate::helpers::iid(&soap), (shelf - 1).to_string())]).unwrap();
            let confirm = |app: &TestApp| {
                let pool = app.pool.clone();
                let id = st.id.clone();
                tokio::task::spawn_blocking(move || {
                    let mut c = pool.get().unwrap();
                    stocktake::confirm(&mut c, &aixin::auth::Actor::console(), &IdemKey::issue(), &id, None, today())
                })
            };
            let (a, b) = tokio::join!(confirm(&app), confirm(&app));
            let results = [a.unwrap(), b.unwrap()];
            let won = results.iter().filter(|r| r.is_ok()).count();
            assert_eq!(won, 1, "round {round}: exactly one confirmation posts: {results:?}");
            for r in &results {
                if let Err(e) = r {
                    assert!(matches!(e, StockError::Invalid(f) if f.key == "error.stocktake_posted"), "round {round}: {e:?}");
                }
            }
            let posted: i64 = stock_movements::table.filter(stock_movements::stocktake_id.eq(&st.id)).count().get_result(&mut app.conn()).unwrap();
            assert_eq!(posted, 1, "round {round}: one difference, posted once");
            assert_eq!(on_hand(&app, &store, &soap), shelf - 1);
        }
        assert_ledger_ok(&app);
    }
}

app_test! {
    async fn a_workflows_goods_come_back_only_through_the_workflow(app) {
        let (store, soap, household) = soap_store(&app, "撤销", 10);
        let admin = app.admin().await;
        let balance = |app: &TestApp| aixin::ledger::balance(&mut app.conn(), &aixin::ledger::household_account(&household)).unwrap();
        let r = redeem(&app, &store, &household, &soap, 2);
        let after_redeem = balance(&app);
        let (_, lines) = aixin::redemptions::find(&mut app.conn(), &r.id).unwrap().unwrap();
        let m = &lines[0].movement_id;
        // The movements page offers no reversal of a redemption's movement,
        // and refuses one posted anyway, naming the redemption.
        let page = admin.get(&format!("/movements/{m}")).await;
        assert!(!page.body.contains(&format!("action=\"/movements/{m}/reverse\"")), "no reverse button");
        page.assert_contains(&r.number);
        let refused = admin.submit(&format!("/movements/{m}/reverse"), &[("key", &IdemKey::issue().to_string()), ("reason", "退货")]).await;
        refused.assert_contains("撤销这张兑换单");
        refused.assert_contains(&r.number);
        assert_eq!(on_hand(&app, &store, &soap), 8);
        let direct = ledger::reverse(&mut app.conn(), &aixin::auth::Actor::console(), &IdemKey::issue(), m, "退货", today());
        assert!(matches!(direct, Err(StockError::Invalid(ref e)) if e.key == "error.movement_of_redemption"), "{direct:?}");
        // Voiding the redemption gives back goods and points together.
        aixin::redemptions::void(&mut app.conn(), &aixin::auth::Actor::console(), &r.id, "退货", chrono_tz::Asia::Shanghai).expect("void");
        assert_eq!(on_hand(&app, &store, &soap), 10);
        assert_eq!(balance(&app), after_redeem + r.total_points);

        // A donation's movement: refused alone; the donation is reversed whole.
        let donation: String = donations_t::table.filter(donations_t::store_id.eq(&store)).select(donations_t::id).first(&mut app.conn()).unwrap();
        let dm: String = stock_movements::table.filter(stock_movements::donation_id.eq(&donation)).select(stock_movements::id).first(&mut app.conn()).unwrap();
        let page = admin.get(&format!("/movements/{dm}")).await;
        assert!(!page.body.contains(&format!("action=\"/movements/{dm}/reverse\"")));
        let refused = admin.submit(&format!("/movements/{dm}/reverse"), &[("key", &IdemKey::issue().to_string()), ("reason", "登记错了")]).await;
        refused.assert_contains("整张捐赠单");
        assert_eq!(on_hand(&app, &store, &soap), 10);
        let page = admin.get(&format!("/donations/{donation}")).await;
        let key = key_for(&page.body, &format!("/donations/{donation}/reverse"));
        let back = admin.submit(&format!("/donations/{donation}/reverse"), &[("key", &key), ("reason", "登记错了")]).await;
        back.assert_contains("捐赠单已冲正");
        back.assert_contains("id=\"donation-reversed\"");
        assert_eq!(on_hand(&app, &store, &soap), 0);
        let again = admin.submit(&format!("/donations/{donation}/reverse"), &[("key", &IdemKey::issue().to_string()), ("reason", "再来")]).await;
        again.assert_contains("已经冲正过了");
        assert_eq!(on_hand(&app, &store, &soap), 0);

        // A stocktake's adjustment: refused alone.
        let mut c = app.conn();
        let d = donor(&mut c, "再捐");
        donate(&mut c, &store, &d, &[(&soap, 5)]);
        let st = stocktake::start(&mut c, &aixin::auth::Actor::console(), &crate::helpers::sid(&store), today()).unwrap();
        stocktake::save_counts(&mut c, &aixin::auth::Actor::console(), &st.id, &stocktake::Counters { counted_by: "王", witnessed_by: "" }, &[(crate::helpers::iid(&soap), "4".into())]).unwrap();
        stocktake::confirm(&mut c, &aixin::auth::Actor::console(), &IdemKey::issue(), &st.id, None, today()).unwrap();
        let am: String = stock_movements::table.filter(stock_movements::stocktake_id.eq(&st.id)).select(stock_movements::id).first(&mut c).unwrap();
        let r = ledger::reverse(&mut c, &aixin::auth::Actor::console(), &IdemKey::issue(), &am, "盘错了", today());
        assert!(matches!(r, Err(StockError::Invalid(ref e)) if e.key == "error.movement_of_stocktake"), "{r:?}");
        drop(c);
        assert_eq!(on_hand(&app, &store, &soap), 4);
        assert_ledger_ok(&app);
        assert!(aixin::ledger::verify(&mut app.conn()).unwrap().ok());
    }
}

/// Run the `aixin` binary against the app's database.
fn aixin_cli(app: &TestApp, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aixin"))
        .args(args)
        .env("DATABASE_URL", &app.config.database_url)
        .env("RUST_LOG", "warn")
        .env("LANG", "C")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

app_test! {
    async fn ledger_verify_names_a_redemption_the_ledgers_disagree_about(app) {
        let (store, soap, household) = soap_store(&app, "核对", 10);
        let first = redeem(&app, &store, &household, &soap, 1);
        let second = redeem(&app, &store, &household, &soap, 2);
        let (ok, out) = aixin_cli(&app, &["ledger", "verify"]);
        assert!(ok, "{out}");
        assert!(out.contains("documents checked"), "{out}");
        // The paperwork altered by hand: the chain is intact, but the
        // redemption no longer agrees with its movement.
        diesel::sql_query(format!("UPDATE redemption_lines SET quantity = 3 WHERE redemption_id = '{}'", second.id)).execute(&mut app.conn()).unwrap();
        let (ok, out) = aixin_cli(&app, &["ledger", "verify"]);
        assert!(!ok, "{out}");
        assert!(out.contains(&second.number), "names the redemption: {out}");
        let r = ledger::verify_stock_ledger(&mut app.conn()).unwrap();
        assert_eq!(r.workflows.first.as_ref().map(|d| d.id.as_str()), Some(second.id.as_str()), "{r:?}");
        diesel::sql_query(format!("UPDATE redemption_lines SET quantity = 2 WHERE redemption_id = '{}'", second.id)).execute(&mut app.conn()).unwrap();
        assert_ledger_ok(&app);
        // A redemption's stock movement deleted by hand.
        let mut c = app.conn();
        let drops: &[&str] = match &*c {
            DbConn::Sqlite(_) => &["DROP TRIGGER stock_movements_no_delete"],
            DbConn::Pg(_) => &["DROP TRIGGER stock_movements_append_only ON stock_movements"],
        };
        for d in drops {
            diesel::sql_query(*d).execute(&mut c).unwrap();
        }
        let (_, lines) = aixin::redemptions::find(&mut c, &first.id).unwrap().unwrap();
        diesel::sql_query(format!("DELETE FROM stock_movements WHERE id = '{}'", lines[0].movement_id)).execute(&mut c).unwrap();
        drop(c);
        let (ok, out) = aixin_cli(&app, &["ledger", "verify"]);
        assert!(!ok, "{out}");
        assert!(out.contains(&first.number), "names the redemption: {out}");
        let admin = app.admin().await;
        let page = admin.get("/ledger/stock").await;
        page.assert_contains("id=\"workflow-bad\"");
        page.assert_contains(&first.number);
        let page = admin.get("/ledger/verify").await;
        page.assert_contains(&first.number);
    }
}

app_test! {
    async fn nothing_is_dated_into_a_closed_month(app) {
        let (store, soap, _) = soap_store(&app, "月结", 10);
        let admin = app.admin().await;
        let boss: String = {
            use aixin::db::schema::users;
            users::table.filter(users::username.eq("boss")).select(users::id).first(&mut app.conn()).unwrap()
        };
        let october = aixin::reports::Month::parse("2026-10").unwrap();
        aixin::reports::close::close(&mut app.conn(), &aixin::auth::Actor::console(), &boss, october, today()).unwrap();
        let donor_id = donations::list_donors(&mut app.conn()).unwrap()[0].id.clone();
        let before = movement_count(&app);
        // The API: 409 month_closed, the shelf unchanged.
        let http = reqwest::Client::new();
        let token: serde_json::Value = http.post(app.url("/api/v1/tokens")).json(&serde_json::json!({"username": "boss", "password": PASSWORD})).send().await.unwrap().json().await.unwrap();
        let token = token["token"].as_str().unwrap().to_string();
        let res = http.post(app.url("/api/v1/donations")).bearer_auth(&token).header("Idempotency-Key", "closed-1")
            .json(&serde_json::json!({"store_id": store, "donor_id": donor_id, "received_on": "2026-10-15", "lines": [{"item_id": soap, "quantity": 5}]}))
            .send().await.unwrap();
        assert_eq!(res.status().as_u16(), 409);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "month_closed", "{body}");
        // Money alone is dated too.
        let res = http.post(app.url("/api/v1/donations")).bearer_auth(&token).header("Idempotency-Key", "closed-2")
            .json(&serde_json::json!({"store_id": store, "donor_id": donor_id, "received_on": "2026-10-15", "money_fen": 10000, "lines": []}))
            .send().await.unwrap();
        assert_eq!(res.status().as_u16(), 409);
        // The page: a message naming the month, what was typed kept.
        let form = admin.get(&format!("/stores/{store}/donations/new")).await;
        let key = key_for(&form.body, &format!("/stores/{store}/donations"));
        let p = admin.submit(&format!("/stores/{store}/donations"), &[("key", &key), ("donor_id", &donor_id), ("donated_on", "2026-10-15"), ("item", &soap), ("quantity", "5"), ("value", "")]).await;
        assert_eq!(p.status, 409, "the form comes back; a closed month is a conflict");
        p.assert_contains("2026-10 已经月结");
        p.assert_contains(r#"value="2026-10-15""#);
        assert_eq!(on_hand(&app, &store, &soap), 10);
        assert_eq!(movement_count(&app), before);
        let n: i64 = donations_t::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 1);
        // Every stock posting goes through the same check.
        let item = goods::find(&mut app.conn(), &crate::helpers::iid(&soap)).unwrap().unwrap();
        let oct = chrono::NaiveDate::from_ymd_opt(2026, 10, 15).unwrap();
        let r = aixin::db::write_tx(&mut app.conn(), |c| {
            ledger::post(c, &aixin::auth::Actor::console(), &ledger::Transfer {
                kind: ledger::MovementKind::WriteOff, item: &item, quantity: aixin::domain::stock::Quantity::new(1).unwrap(),
                from: ledger::Account::Shelf(crate::helpers::sid(&store)), to: ledger::Account::WrittenOff,
                donation_id: None, stocktake_id: None, reverses_id: None, reason: "过期", on: oct,
            })
        });
        assert!(matches!(r, Err(StockError::Invalid(ref e)) if e.key == "error.month_closed"), "{r:?}");
        // November is open: the same donation dated today goes through.
        let p = admin.submit(&format!("/stores/{store}/donations"), &[("key", &key), ("donor_id", &donor_id), ("donated_on", &today().to_string()), ("item", &soap), ("quantity", "5"), ("value", "")]).await;
        p.assert_contains("捐赠已入库");
        assert_eq!(on_hand(&app, &store, &soap), 15);
        assert_ledger_ok(&app);
    }
}

app_test! {
    async fn a_redemption_whose_goods_were_reversed_before_the_fix_is_named_and_void_says_why(app) {
        let (store, soap, household) = soap_store(&app, "旧账", 10);
        let r = redeem(&app, &store, &household, &soap, 2);
        let (_, lines) = aixin::redemptions::find(&mut app.conn(), &r.id).unwrap().unwrap();
        // What the movements page used to allow: the redemption's movement
        // reversed on its own.
        let item = goods::find(&mut app.conn(), &crate::helpers::iid(&soap)).unwrap().unwrap();
        aixin::db::write_tx(&mut app.conn(), |c| {
            ledger::post(c, &aixin::auth::Actor::console(), &ledger::Transfer {
                kind: ledger::MovementKind::Reversal, item: &item, quantity: aixin::domain::stock::Quantity::new(2).unwrap(),
                from: ledger::Account::Redeemed, to: ledger::Account::Shelf(crate::helpers::sid(&store)),
                donation_id: None, stocktake_id: None, reverses_id: Some(&lines[0].movement_id), reason: "旧版冲正", on: today(),
            })
        })
        .unwrap();
        // The ledgers now disagree about the redemption, and the check says which.
        let report = ledger::verify_stock_ledger(&mut app.conn()).unwrap();
        let d = report.workflows.first.clone().expect("a disagreement");
        assert_eq!((d.id.as_str(), d.problem), (r.id.as_str(), "ledger.agree_goods_reversal"), "{report:?}");
        // Voiding it is a clear refusal, not a failure on a unique key.
        let v = aixin::redemptions::void(&mut app.conn(), &aixin::auth::Actor::console(), &r.id, "退货", chrono_tz::Asia::Shanghai);
        assert!(matches!(v, Err(aixin::redemptions::RedeemError::Invalid(ref e)) if e.key == "error.already_reversed"), "{v:?}");
        assert_eq!(on_hand(&app, &store, &soap), 10);
    }
}

app_test! {
    async fn ledger_verify_cuts_each_stocktake_line_at_its_own_count_and_names_one_altered_by_hand(app) {
        let (store, soap, household) = soap_store(&app, "逐行", 20);
        let towel = {
            let mut c = app.conn();
            let t = item(&mut c, "毛巾", "条", "5");
            let d = donor(&mut c, "逐行捐赠人二");
            donate(&mut c, &store, &d, &[(&t, 10)]);
            t
        };
        let ctx = aixin::auth::Actor::console();
        let by = stocktake::Counters { counted_by: "王", witnessed_by: "" };
        let st = stocktake::start(&mut app.conn(), &ctx, &crate::helpers::sid(&store), today()).unwrap();
        redeem(&app, &store, &household, &soap, 2);
        // Soap is counted (18 on the shelf, one missing); then more moves,
        // some of it soap, before the towels are counted.
        stocktake::save_counts(&mut app.conn(), &ctx, &st.id, &by, &[(crate::helpers::iid(&soap), "17".to_string())]).unwrap();
        redeem(&app, &store, &household, &towel, 3);
        redeem(&app, &store, &household, &soap, 1);
        stocktake::save_counts(&mut app.conn(), &ctx, &st.id, &by, &[(crate::helpers::iid(&towel), "7".to_string())]).unwrap();
        stocktake::confirm(&mut app.conn(), &ctx, &IdemKey::issue(), &st.id, None, today()).unwrap();
        assert_eq!(on_hand(&app, &store, &soap), 16, "the missing one, and not the sale after the count");
        assert_eq!(on_hand(&app, &store, &towel), 7);
        // Each line is recomputed up to its own count: all agree.
        assert_ledger_ok(&app);
        let (ok, out) = aixin_cli(&app, &["ledger", "verify"]);
        assert!(ok, "{out}");
        // The sheet altered by hand: its soap line says nothing moved.
        diesel::sql_query(format!("UPDATE stocktake_lines SET moved = 0 WHERE stocktake_id = '{}' AND item_id = '{}'", st.id, soap)).execute(&mut app.conn()).unwrap();
        let r = ledger::verify_stock_ledger(&mut app.conn()).unwrap();
        let d = r.workflows.first.clone().expect("a disagreement");
        assert_eq!((d.id.as_str(), d.problem), (st.id.as_str(), "ledger.agree_moved_differ"), "{r:?}");
        let (ok, out) = aixin_cli(&app, &["ledger", "verify"]);
        assert!(!ok, "{out}");
        assert!(out.contains(&st.number), "names the stocktake: {out}");
    }
}

app_test! {
    async fn a_donation_with_several_bad_lines_names_each_and_keeps_every_line(app) {
        let [_, _, town, _] = app.area_chain("市中");
        let store = app.store("市中爱心超市", &town);
        let (rice, oil, towel, donor) = {
            let mut c = app.conn();
            (item(&mut c, "大米", "袋", "45"), item(&mut c, "食用油", "桶", "60"), item(&mut c, "毛巾", "条", "12"), donor(&mut c, "李女士"))
        };
        let admin = app.admin().await;
        let form = admin.get(&format!("/stores/{store}/donations/new")).await;
        let key = key_for(&form.body, &format!("/stores/{store}/donations"));
        let path = format!("/stores/{store}/donations");
        let page = admin.post(&path, &[
            ("key", &key), ("donor_id", &donor), ("donated_on", "2026-11-29"), ("money", "abc"), ("note", "重阳节"),
            ("item", &rice), ("quantity", "20"), ("value", "900"),
            ("item", &oil), ("quantity", "-3"), ("value", "240"),
            ("item", &towel), ("quantity", "15"), ("value", "x"),
        ]).await;
        assert_eq!(page.status, 422, "the form comes back");
        // Every mistake is named once: the money and lines 2 and 3.
        page.assert_contains("捐款金额（元）：");
        page.assert_contains("第 2 行");
        page.assert_contains("第 3 行");
        assert_eq!(page.body.matches(r#"data-field="field.donation_line""#).count(), 2, "each bad line has its message beside it");
        // All three lines, the donor and the note are still there.
        for kept in [r#"value="20""#, r#"value="900""#, r#"value="-3""#, r#"value="15""#, r#"value="x""#, r#"value="abc""#, r#"value="重阳节""#, &format!(r#"value="{key}""#)] {
            page.assert_contains(kept);
        }
        page.assert_contains(&format!(r#"<option value="{towel}" selected>"#));
        page.assert_contains(&format!(r#"<option value="{donor}" selected>"#));
        assert_eq!(on_hand(&app, &store, &rice), 0, "nothing was booked");
        // Correcting the three fields books it, once, with the same key.
        let booked = admin.submit(&path, &[
            ("key", &key), ("donor_id", &donor), ("donated_on", "2026-11-29"), ("money", "0"), ("note", "重阳节"),
            ("item", &rice), ("quantity", "20"), ("value", "900"),
            ("item", &oil), ("quantity", "3"), ("value", "240"),
            ("item", &towel), ("quantity", "15"), ("value", "150"),
        ]).await;
        booked.assert_contains("捐赠已入库");
        assert_eq!(on_hand(&app, &store, &oil), 3);
    }
}

app_test! {
    async fn a_sheet_already_posted_or_a_donation_already_reversed_is_a_conflict(app) {
        use actix_web::ResponseError;
        use aixin::domain::Conflict;
        use aixin::error::Problem;
        let console = aixin::auth::Actor::console();
        let (store, soap, _) = soap_store(&app, "冲突", 5);
        let mut c = app.conn();
        let api_status = |p: Problem| aixin::api::error::ApiError::from(p).status_code().as_u16();
        // A stocktake confirmed twice: the second changes nothing.
        let st = stocktake::start(&mut c, &console, &crate::helpers::sid(&store), today()).unwrap();
        stocktake::save_counts(&mut c, &console, &st.id, &stocktake::Counters { counted_by: "王", witnessed_by: "" }, &[(crate::helpers::iid(&soap), "5".into())]).unwrap();
        stocktake::confirm(&mut c, &console, &IdemKey::issue(), &st.id, None, today()).unwrap();
        let again = Problem::from(stocktake::confirm(&mut c, &console, &IdemKey::issue(), &st.id, None, today()).unwrap_err());
        assert!(matches!(&again, Problem::Conflict(Conflict::Changed, f) if f.key == "error.stocktake_posted"), "{again:?}");
        assert_eq!(api_status(again), 409);
        // A donation reversed twice: the second changes nothing.
        let donation: String = donations_t::table.filter(donations_t::store_id.eq(&store)).select(donations_t::id).first(&mut c).unwrap();
        donations::reverse(&mut c, &console, &IdemKey::issue(), &donation, "登记错了", today()).unwrap();
        let again = Problem::from(donations::reverse(&mut c, &console, &IdemKey::issue(), &donation, "再来", today()).unwrap_err());
        assert!(matches!(&again, Problem::Conflict(Conflict::Changed, f) if f.key == "error.donation_already_reversed"), "{again:?}");
        assert_eq!(api_status(again), 409);
        drop(c);
        assert_eq!(on_hand(&app, &store, &soap), 0);
    }
}

app_test! {
    /// Store and item ids are parsed at the edge. Text that is not a store
    /// id names no store, on the pages and in the API (404, no query runs
    /// with it); an item or a receiving store that is not an id, in a form
    /// or a JSON body, is refused beside its field as an unknown one is
    /// (422), and nothing moves.
    async fn text_that_is_not_a_store_or_item_id_names_none(app) {
        let [_, _, town, _] = app.area_chain("编号");
        let a = app.store("编号超市", &town);
        let b = app.store("编号二店", &town);
        let s = seed(&app, &a);
        let admin = app.admin().await;
        for bad in ["nope", "1%20OR%201=1", "%EF%BC%91"] {
            for page in ["/stores/{}", "/stores/{}/movements", "/stores/{}/donations/new", "/public/stores/{}"] {
                let url = page.replace("{}", bad);
                assert_eq!(admin.get(&url).await.status, 404, "{url}");
            }
            for action in ["moves", "write-offs", "purchases", "thresholds", "prices", "stocktakes", "edit", "active"] {
                let page = admin.post(&format!("/stores/{bad}/{action}"), &[("item_id", &s.items[0]), ("quantity", "1")]).await;
                assert_eq!(page.status, 404, "{action} {bad}");
            }
            assert_eq!(admin.post(&format!("/items/{bad}/edit"), &[("name", "x")]).await.status, 404, "{bad}");
        }
        let before = movement_count(&app);
        let shelf = admin.get(&format!("/stores/{a}")).await;
        for (item, to, msg) in [("nope", b.as_str(), "找不到这种物资"), (s.items[0].as_str(), "nope", "找不到这个超市")] {
            let key = key_for(&shelf.body, &format!("/stores/{a}/moves"));
            let p = admin.submit(&format!("/stores/{a}/moves"), &[("key", &key), ("item_id", item), ("quantity", "1"), ("to_store_id", to)]).await;
            assert_eq!(p.status, 422, "{item} {to}");
            p.assert_contains(msg);
        }
        for form in ["write-offs", "purchases"] {
            let key = key_for(&shelf.body, &format!("/stores/{a}/{form}"));
            let p = admin.submit(&format!("/stores/{a}/{form}"), &[("key", &key), ("item_id", "' OR 1=1 --"), ("quantity", "1"), ("reason", "过期"), ("note", "买")]).await;
            assert_eq!(p.status, 422, "{form}");
            p.assert_contains("找不到这种物资");
        }
        let p = admin.submit(&format!("/stores/{a}/thresholds"), &[("item_id", "nope"), ("value", "3")]).await;
        assert_eq!(p.status, 422);
        p.assert_contains("找不到这种物资");

        // The API: a path's store that is not an id is a 404; a body's
        // store, receiving store or item that is not an id a 422 naming it.
        let res = reqwest::Client::new()
            .post(app.url("/api/v1/tokens"))
            .json(&serde_json::json!({"username": "boss", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        let token = res.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_string();
        let res = reqwest::Client::new().get(app.url("/api/v1/stores/nope/stock")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 404);
        let bodies = [
            ("/api/v1/stock-movements", serde_json::json!({"kind": "move", "store_id": "nope", "to_store_id": b, "item_id": s.items[0], "quantity": 1}), "store_id"),
            ("/api/v1/stock-movements", serde_json::json!({"kind": "move", "store_id": a, "to_store_id": "nope", "item_id": s.items[0], "quantity": 1}), "to_store_id"),
            ("/api/v1/stock-movements", serde_json::json!({"kind": "write_off", "store_id": a, "item_id": "nope", "quantity": 1, "reason": "过期"}), "item_id"),
            ("/api/v1/redemptions", serde_json::json!({"store_id": "nope", "card_no": "1", "lines": [{"item_id": s.items[0], "quantity": 1}]}), "store_id"),
            ("/api/v1/redemptions", serde_json::json!({"store_id": a, "card_no": "1", "lines": [{"item_id": "nope", "quantity": 1}]}), "lines[0].item_id"),
            ("/api/v1/donations", serde_json::json!({"store_id": "nope", "donor_id": s.donor, "received_on": "2026-11-01", "lines": []}), "store_id"),
        ];
        for (i, (path, body, field)) in bodies.into_iter().enumerate() {
            let res = reqwest::Client::new()
                .post(app.url(path))
                .bearer_auth(&token)
                .header("Idempotency-Key", format!("bad-id-{i}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status().as_u16(), 422, "{path} {body}");
            let v = res.json::<serde_json::Value>().await.unwrap();
            assert_eq!(v["error"]["field"].as_str(), Some(field), "{path} {v}");
        }
        assert_eq!(movement_count(&app), before, "nothing moved");
        assert_ledger_ok(&app);
    }
}

app_test! {
    /// A count posted for a line the sheet does not hold (an item not on
    /// it, an id no item has, a name that is no id) refuses the whole save,
    /// naming it; nothing is saved.
    async fn a_count_for_a_line_not_on_the_sheet_refuses_the_save(app) {
        use aixin::db::schema::stocktake_lines;
        let [_, _, town, _] = app.area_chain("盘外");
        let a = app.store("盘外爱心超市", &town);
        let s = seed(&app, &a);
        let foreign = item(&mut app.conn(), "外来肥皂", "块", "3");
        let admin = app.admin().await;
        let sheet = format!("/stocktakes/{}", s.stocktake);
        let action = format!("{sheet}/counts");
        let rice = format!("count_{}", s.items[0]);
        let nobody = uuid::Uuid::new_v4().to_string();
        for (name, said) in [
            (format!("count_{foreign}"), "外来肥皂".to_string()),
            (format!("count_{nobody}"), nobody.clone()),
            ("count_abc".to_string(), "abc".to_string()),
        ] {
            let page = admin.post_shown(&sheet, &action, &[(&rice, "19"), (&name, "3"), ("counted_by", "李")]).await;
            assert_eq!(page.status, 422, "{name}: {}", page.body);
            page.assert_contains(&format!("“{said}”不在这张盘点表上"));
            page.assert_contains(r#"value="19""#);
            let counted: Option<i64> = stocktake_lines::table
                .filter(stocktake_lines::stocktake_id.eq(&s.stocktake))
                .filter(stocktake_lines::item_id.eq(&s.items[0]))
                .select(stocktake_lines::counted)
                .first(&mut app.conn())
                .unwrap();
            assert_eq!(counted, None, "{name}: nothing saved");
        }
        // Without it, the count saves.
        let saved = admin.submit_shown(&sheet, &action, &[(&rice, "19"), ("counted_by", "李")]).await;
        assert_eq!(saved.status, 200, "{}", saved.body);
    }
}

app_test! {
    /// A donation naming a donor that does not exist says so with its
    /// lines' errors, in one answer; nothing is booked.
    async fn an_unknown_donor_is_said_with_the_lines_errors(app) {
        let [_, _, town, _] = app.area_chain("一并");
        let a = app.store("一并超市", &town);
        let s = seed(&app, &a);
        let admin = app.admin().await;
        let before = movement_count(&app);
        let form = admin.get(&format!("/stores/{a}/donations/new")).await;
        let key = key_for(&form.body, &format!("/stores/{a}/donations"));
        let p = admin
            .submit(&format!("/stores/{a}/donations"), &[
                ("key", &key),
                ("donor_id", "no-such-donor"),
                ("donated_on", &today().to_string()),
                ("item", &s.items[0]),
                ("quantity", "x"),
                ("value", ""),
                ("item", &s.items[1]),
                ("quantity", "0"),
                ("value", ""),
            ])
            .await;
        assert_eq!(p.status, 422, "{}", p.body);
        p.assert_contains("找不到这个捐赠方");
        p.assert_contains("第 1 行");
        p.assert_contains("第 2 行");
        // A field sent twice is said with the lines' errors too.
        let p = admin
            .submit(&format!("/stores/{a}/donations"), &[
                ("key", &key),
                ("donor_id", &s.donor),
                ("donated_on", &today().to_string()),
                ("note", "一"),
                ("note", "二"),
                ("item", &s.items[0]),
                ("quantity", "x"),
                ("value", ""),
            ])
            .await;
        assert_eq!(p.status, 422, "{}", p.body);
        p.assert_contains("填写了两次");
        p.assert_contains("第 1 行");
        assert_eq!(movement_count(&app), before, "nothing booked");
    }
}
