//! The redemption counter: fast for the clerk, impossible to overspend.

use aixin::db::schema::{redemptions, stock_movements};
use aixin::domain::Role;
use aixin::goods::{self, ItemForm};
use aixin::ledger;
use aixin::redemptions::{self as rd, RedeemRequest, WantLine};
use diesel::prelude::*;

use crate::helpers::{Client, PASSWORD, Page, TestApp};

fn today() -> chrono::NaiveDate {
    aixin::time::today(chrono_tz::Asia::Shanghai)
}

/// Give a household points (an adjustment from issuance).
pub fn fund(app: &TestApp, household: &str, points: i64) {
    crate::helpers::fund(&mut app.conn(), household, points);
}

pub fn balance(app: &TestApp, household: &str) -> i64 {
    ledger::balance(&mut app.conn(), &ledger::household_account(household)).unwrap()
}

pub(crate) fn card_of(app: &TestApp, household: &str) -> String {
    use aixin::db::schema::points_cards;
    points_cards::table
        .filter(points_cards::household_id.eq(household))
        .filter(points_cards::replaced_by.is_null())
        .select(points_cards::card_no)
        .first(&mut app.conn())
        .unwrap()
}

/// One redemption of one unit, straight through the domain (for fixtures).
pub fn redeem_for_test(app: &TestApp, store: &str, household: &str, item: &str) -> String {
    redeem_on_day(app, store, household, item, today())
}

/// One redemption of one unit whose postings are dated `day` (the day the
/// counter believes it is).
pub fn redeem_on_day(
    app: &TestApp,
    store: &str,
    household: &str,
    item: &str,
    day: chrono::NaiveDate,
) -> String {
    fund(app, household, 1000);
    let card = card_of(app, household);
    let (r, _) = rd::redeem(
        &mut app.conn(),
        &aixin::auth::Actor::console(),
        &RedeemRequest {
            store_id: &crate::helpers::sid(store),
            card: &card,
            lines: &[WantLine {
                item_id: crate::helpers::iid(item),
                quantity: 1,
            }],
            key: &uuid::Uuid::new_v4().to_string(),
            household_id: None,
            expected_total: None,
        },
        day,
    )
    .expect("redeem");
    r.id
}

/// A store with a clerk, two goods on its shelf and a household.
pub(crate) struct Counter {
    pub(crate) store: String,
    pub(crate) rice: String,
    pub(crate) soap: String,
    pub(crate) household: String,
    pub(crate) card: String,
    pub(crate) village: String,
}

pub(crate) fn setup(app: &TestApp, rice_stock: i64, soap_stock: i64) -> Counter {
    let [_, _, town, village] = app.area_chain("柜台");
    let store = app.store("柜台超市", &town);
    app.user("clerk", Role::Clerk, None, Some(&store));
    let mut c = app.conn();
    let rice = goods::create(
        &mut c,
        &aixin::auth::Actor::console(),
        &ItemForm {
            name: "大米5kg",
            category: "粮油",
            unit: "袋",
            points_price: "45",
            barcode: "6901234500011",
        },
    )
    .unwrap()
    .id
    .into_string();
    let soap = goods::create(
        &mut c,
        &aixin::auth::Actor::console(),
        &ItemForm {
            name: "肥皂",
            category: "日用",
            unit: "块",
            points_price: "3",
            barcode: "6901234500028",
        },
    )
    .unwrap()
    .id
    .into_string();
    let donor = crate::stock::donor(&mut c, "粮油公司");
    let mut lines: Vec<(&str, i64)> = Vec::new();
    if rice_stock > 0 {
        lines.push((rice.as_str(), rice_stock));
    }
    if soap_stock > 0 {
        lines.push((soap.as_str(), soap_stock));
    }
    if !lines.is_empty() {
        crate::stock::donate(&mut c, &store, &donor, &lines);
    }
    drop(c);
    let household = app.household("柜台户", &village);
    let card = card_of(app, &household);
    Counter {
        store,
        rice,
        soap,
        household,
        card,
        village,
    }
}

/// The basket form's hidden fields on a counter page.
pub(crate) fn hidden(body: &str, name: &str) -> Vec<String> {
    let needle = format!("name=\"{name}\" value=\"");
    body.split(&needle)
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

pub(crate) fn basket_fields<'a>(
    page: &'a Page,
    extra: &[(&'a str, &'a str)],
) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = Vec::new();
    for name in ["store_id", "card", "key", "household_id", "total"] {
        f.push((
            name.to_string(),
            hidden(&page.body, name)
                .into_iter()
                .next()
                .unwrap_or_default(),
        ));
    }
    for l in hidden(&page.body, "line") {
        f.push(("line".into(), l));
    }
    for (k, v) in extra {
        f.push((k.to_string(), v.to_string()));
    }
    f
}

pub(crate) async fn post_basket(c: &Client, fields: &[(String, String)]) -> Page {
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    c.post("/counter", &refs).await
}

app_test! {
    async fn card_two_items_enter_receipt_and_a_second_click_prints_the_same(app) {
        let k = setup(&app, 10, 10);
        fund(&app, &k.household, 100);
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        let page = clerk.get(&format!("/counter?card={}", k.card)).await;
        assert_eq!(page.status, 200);
        page.assert_contains("柜台户");
        page.assert_contains("id=\"balance\">100<");
        // Scan the rice barcode, Enter.
        let page = post_basket(&clerk, &basket_fields(&page, &[("entry", "6901234500011")])).await;
        page.assert_contains("大米5kg");
        // Type part of a name and a quantity, Enter.
        let page = post_basket(&clerk, &basket_fields(&page, &[("entry", "肥皂"), ("qty", "2")])).await;
        page.assert_contains("id=\"total\">51<");
        page.assert_contains("id=\"after\">49<");
        // Enter on the empty field confirms.
        let confirm = basket_fields(&page, &[("entry", "")]);
        let done = post_basket(&clerk, &confirm).await;
        assert_eq!(done.status, 303, "{}", done.body);
        let receipt = done.location.clone().unwrap();
        let page = clerk.get(&receipt).await;
        page.assert_contains("id=\"receipt-total\">51<");
        page.assert_contains("id=\"receipt-after\">49<");
        page.assert_contains("户主签字");
        // A double click (the same form again) prints the same receipt, spends nothing more.
        let again = post_basket(&clerk, &confirm).await;
        assert_eq!(again.location.as_deref(), Some(receipt.as_str()));
        assert_eq!(balance(&app, &k.household), 49);
        assert_eq!(crate::stock::on_hand(&app, &k.store, &k.rice), 9);
        assert_eq!(crate::stock::on_hand(&app, &k.store, &k.soap), 8);
        let n: i64 = redemptions::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 1);
        // Both ledgers verify, and the statement names the store.
        assert!(ledger::verify(&mut app.conn()).unwrap().ok());
        assert!(aixin::stock::verify_stock_ledger(&mut app.conn()).unwrap().ok());
        let admin = app.admin().await;
        let st = admin.get(&format!("/households/{}/statement", k.household)).await;
        st.assert_contains("柜台超市");
        st.assert_contains("-51");
        // The end of day adds up.
        let day = clerk.get("/counter/day").await;
        day.assert_contains("id=\"day-count\">1<");
        day.assert_contains("id=\"day-points\">51<");
        // The clerk's home page shows the day so far.
        let home = clerk.get("/").await;
        home.assert_contains("id=\"today\"");
        home.assert_contains("<strong>51</strong>");
        // Thermal and A4 layouts.
        clerk.get(&format!("{receipt}?paper=58")).await.assert_contains("paper-58");
        clerk.get(&format!("{receipt}?paper=a4")).await.assert_contains("paper-a4");
    }
}

app_test! {
    async fn refusals_say_why_keep_the_basket_and_change_nothing(app) {
        let k = setup(&app, 1, 10);
        fund(&app, &k.household, 42);
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        let page = clerk.get(&format!("/counter?card={}", k.card)).await;
        let page = post_basket(&clerk, &basket_fields(&page, &[("entry", "大米")])).await;
        // 45 points needed, 42 there: 3 short.
        let refused = post_basket(&clerk, &basket_fields(&page, &[("confirm", "1")])).await;
        assert_eq!(refused.status, 409, "points short are a conflict with the account");
        refused.assert_contains("积分不足：现有 42 分，需要 45 分，还差 3 分");
        assert_eq!(hidden(&refused.body, "line").len(), 1, "the basket stays as it was");
        assert_eq!(balance(&app, &k.household), 42);
        // Not enough stock: named, with what is left.
        fund(&app, &k.household, 100);
        let page = post_basket(&clerk, &basket_fields(&refused, &[("entry", "6901234500011")])).await;
        let refused = post_basket(&clerk, &basket_fields(&page, &[("confirm", "1")])).await;
        refused.assert_contains("大米5kg");
        refused.assert_contains("1");
        assert_eq!(crate::stock::on_hand(&app, &k.store, &k.rice), 1);
        assert_eq!(balance(&app, &k.household), 142);
        // Nothing matches.
        let page = post_basket(&clerk, &basket_fields(&refused, &[("entry", "拖拉机")])).await;
        page.assert_contains("没有与“拖拉机”相符的物资");
        // What was typed stays in the goods box, selected for the next
        // scan, with the household and its basket; the card box is not.
        page.assert_contains(r#"value="拖拉机" data-select-on-load="1""#);
        assert_eq!(page.body.matches("data-select-on-load").count(), 1, "only the goods box");
        page.assert_contains("大米5kg");
        // A mistyped card number is caught by its check digit.
        let mut typo = k.card.clone().into_bytes();
        typo[5] = if typo[5] == b'9' { b'0' } else { typo[5] + 1 };
        let page = clerk.get(&format!("/counter?card={}", String::from_utf8(typo).unwrap())).await;
        page.assert_contains("校验位不正确");
        // A replaced card points to the new one.
        let admin = app.admin().await;
        admin.get(&format!("/households/{}", k.household)).await;
        admin.submit(&format!("/households/{}/card", k.household), &[]).await;
        let new_card = card_of(&app, &k.household);
        let page = clerk.get(&format!("/counter?card={}", k.card)).await;
        page.assert_contains("已作废（已补办新卡）");
        assert!(!page.body.contains(&format!("新卡 {new_card}")), "the old card does not tell the new number");
        // An archived household redeems nothing.
        admin.submit(&format!("/households/{}/archive", k.household), &[("reason", "迁出")]).await;
        let page = clerk.get(&format!("/counter?card={new_card}")).await;
        page.assert_contains("已归档，不能兑换");
        let _ = k.village;
        let n: i64 = redemptions::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 0);
    }
}

app_test! {
    async fn a_void_puts_points_and_goods_back_and_a_clerk_stays_at_their_store(app) {
        let k = setup(&app, 5, 5);
        let r = redeem_for_test(&app, &k.store, &k.household, &k.rice);
        assert_eq!(balance(&app, &k.household), 1000 - 45);
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        clerk.get(&format!("/redemptions/{r}")).await;
        let page = clerk.submit(&format!("/redemptions/{r}/void"), &[("reason", "")]).await;
        page.assert_contains("原因：必须填写");
        let page = clerk.submit(&format!("/redemptions/{r}/void"), &[("reason", "拿错了")]).await;
        page.assert_contains("已撤销");
        assert_eq!(balance(&app, &k.household), 1000);
        assert_eq!(crate::stock::on_hand(&app, &k.store, &k.rice), 5);
        let page = clerk.submit(&format!("/redemptions/{r}/void"), &[("reason", "again")]).await;
        page.assert_contains("已经撤销");
        assert!(ledger::verify(&mut app.conn()).unwrap().ok());
        assert!(aixin::stock::verify_stock_ledger(&mut app.conn()).unwrap().ok());
        let reversals: i64 = stock_movements::table.filter(stock_movements::reverses_id.is_not_null()).count().get_result(&mut app.conn()).unwrap();
        assert_eq!(reversals, 1);

        // Yesterday's redemption: not the clerk's to void, but an admin's.
        let old = redeem_for_test(&app, &k.store, &k.household, &k.soap);
        diesel::update(redemptions::table.find(&old))
            .set(redemptions::created_at.eq(aixin::db::now() - chrono::Duration::days(2)))
            .execute(&mut app.conn())
            .unwrap();
        clerk.get(&format!("/redemptions/{old}")).await;
        let page = clerk.submit(&format!("/redemptions/{old}/void"), &[("reason", "晚了")]).await;
        page.assert_contains("只能撤销当天的兑换");
        let admin = app.admin().await;
        admin.get(&format!("/redemptions/{old}")).await;
        let page = admin.submit(&format!("/redemptions/{old}/void"), &[("reason", "核对后撤销")]).await;
        page.assert_contains("已撤销");

        // A clerk of another store sees none of this, whatever the URL or form says.
        let [_, _, town_b, _] = app.area_chain("别处");
        let store_b = app.store("别处超市", &town_b);
        app.user("clerk_b", Role::Clerk, None, Some(&store_b));
        let other = app.client();
        other.login("clerk_b", PASSWORD).await;
        assert_eq!(other.get(&format!("/redemptions/{r}")).await.status, 403);
        assert_eq!(other.post(&format!("/redemptions/{r}/void"), &[("reason", "x")]).await.status, 403);
        // The counter form's store_id is ignored for a clerk: they redeem at their own store.
        fund(&app, &k.household, 10);
        let page = other.get(&format!("/counter?store_id={}&card={}", k.store, k.card)).await;
        page.assert_contains("别处超市");
        assert!(!page.body.contains("柜台超市"));
    }
}

app_test! {
    async fn goods_bought_with_donated_money_go_on_the_shelf_once(app) {
        let k = setup(&app, 0, 0);
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        let page = clerk.get(&format!("/stores/{}", k.store)).await;
        let key = page.body.split("action=\"/stores/").find(|s| s.contains("/purchases\""))
            .and_then(|s| s.split("name=\"key\" value=\"").nth(1)).map(|s| s.split('"').next().unwrap().to_string()).unwrap();
        let form = [("key", key.as_str()), ("item_id", k.rice.as_str()), ("quantity", "12"), ("note", "用捐赠 JZ2026-00001 的资金购买")];
        let done = clerk.submit(&format!("/stores/{}/purchases", k.store), &form).await;
        done.assert_contains("已入库");
        clerk.post(&format!("/stores/{}/purchases", k.store), &form).await;
        assert_eq!(crate::stock::on_hand(&app, &k.store, &k.rice), 12, "the same form twice puts them on once");
        let bad = clerk.submit(&format!("/stores/{}/purchases", k.store), &[("key", &aixin::idempotency::IdemKey::issue().to_string()), ("item_id", k.rice.as_str()), ("quantity", "0"), ("note", "x")]).await;
        bad.assert_contains("数量");
        assert!(aixin::stock::verify_stock_ledger(&mut app.conn()).unwrap().ok());
    }
}

/// An admin sets an item's catalogue price (the same call the goods page makes).
fn set_price(app: &TestApp, item: &str, points: &str) {
    let mut c = app.conn();
    let it = goods::find(&mut c, &crate::helpers::iid(item))
        .unwrap()
        .unwrap();
    goods::update(
        &mut c,
        &aixin::auth::Actor::console(),
        &it.id,
        &ItemForm {
            name: &it.name,
            category: &it.category,
            unit: &it.unit,
            points_price: points,
            barcode: it.barcode.as_deref().unwrap_or(""),
        },
        true,
        None,
    )
    .unwrap();
}

app_test! {
    /// #16.7: the basket shows 2 x 5 = 10; an admin raises the price to 8;
    /// the confirmation is refused with the new total shown, the basket kept,
    /// nothing charged; confirming what is now shown charges 16.
    async fn the_counter_charges_what_it_showed(app) {
        let k = setup(&app, 0, 10);
        set_price(&app, &k.soap, "5");
        fund(&app, &k.household, 100);
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        let page = clerk.get(&format!("/counter?card={}", k.card)).await;
        let page = post_basket(&clerk, &basket_fields(&page, &[("entry", "肥皂"), ("qty", "2")])).await;
        page.assert_contains("id=\"total\">10<");
        assert_eq!(hidden(&page.body, "total"), vec!["10".to_string()]);
        set_price(&app, &k.soap, "8");
        let refused = post_basket(&clerk, &basket_fields(&page, &[("confirm", "1")])).await;
        assert_eq!(refused.status, 409, "a price changed is a conflict: {}", refused.body);
        refused.assert_contains("价格有变动：刚才显示的合计为 10 分，现在为 16 分");
        refused.assert_contains("id=\"total\">16<");
        assert_eq!(hidden(&refused.body, "line").len(), 1, "the basket stays as it was");
        assert_eq!(balance(&app, &k.household), 100);
        assert_eq!(crate::stock::on_hand(&app, &k.store, &k.soap), 10);
        let n: i64 = redemptions::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 0);
        // Enter on the empty entry confirms too, and is held to the total the same way.
        set_price(&app, &k.soap, "9");
        let refused = post_basket(&clerk, &basket_fields(&refused, &[("entry", "")])).await;
        refused.assert_contains("现在为 18 分");
        set_price(&app, &k.soap, "8");
        let refused = post_basket(&clerk, &basket_fields(&refused, &[("entry", "")])).await;
        refused.assert_contains("刚才显示的合计为 18 分，现在为 16 分");
        // A confirmation without the total shown charges nothing.
        let mut blind = basket_fields(&refused, &[("confirm", "1")]);
        blind.retain(|(k, _)| k != "total");
        let page = post_basket(&clerk, &blind).await;
        assert_eq!(page.status, 422);
        page.assert_contains("请先核对合计积分");
        assert_eq!(balance(&app, &k.household), 100);
        // What is shown now is what is charged.
        let done = post_basket(&clerk, &basket_fields(&refused, &[("confirm", "1")])).await;
        assert_eq!(done.status, 303, "{}", done.body);
        let receipt = clerk.get(done.location.as_deref().unwrap()).await;
        receipt.assert_contains("id=\"receipt-total\">16<");
        assert_eq!(balance(&app, &k.household), 84);
        assert_eq!(crate::stock::on_hand(&app, &k.store, &k.soap), 8);
    }
}

app_test! {
    /// #16.8: the counter form names the household it showed besides the
    /// card; another household's card in the same form is refused, naming
    /// the household, and charges no one.
    async fn the_counter_form_names_one_household(app) {
        let k = setup(&app, 0, 10);
        fund(&app, &k.household, 100);
        let other = app.household("隔壁户", &k.village);
        fund(&app, &other, 100);
        let other_card = card_of(&app, &other);
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        let page = clerk.get(&format!("/counter?card={}", k.card)).await;
        let page = post_basket(&clerk, &basket_fields(&page, &[("entry", "肥皂")])).await;
        assert_eq!(hidden(&page.body, "household_id"), vec![k.household.clone()]);
        let mut swapped = basket_fields(&page, &[("confirm", "1")]);
        for (name, value) in swapped.iter_mut() {
            if name == "card" {
                *value = other_card.clone();
            }
        }
        let refused = post_basket(&clerk, &swapped).await;
        assert_eq!(refused.status, 422, "{}", refused.body);
        refused.assert_contains(&format!("农户：卡号 {other_card} 不是所填农户的卡"));
        assert_eq!(balance(&app, &k.household), 100);
        assert_eq!(balance(&app, &other), 100);
        assert_eq!(crate::stock::on_hand(&app, &k.store, &k.soap), 10);
        // The form as shown goes through, for the household shown.
        let done = post_basket(&clerk, &basket_fields(&page, &[("confirm", "1")])).await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(balance(&app, &k.household), 97);
        assert_eq!(balance(&app, &other), 100);
    }
}

app_test! {
    /// #16.4: voiding one of last month's redemptions today leaves that day's
    /// end of day and last month's summaries as they were printed; the void
    /// counts today and in this month.
    async fn a_void_is_dated_when_it_is_made(app) {
        use aixin::reports::{self, Month};
        let tz = chrono_tz::Asia::Shanghai;
        let k = setup(&app, 5, 5);
        // Made on a day of last month (its postings dated then), at ten in
        // the morning there.
        let this_month = Month::of(today());
        let last_month = this_month.prev();
        let then = last_month.first_day() + chrono::Duration::days(9);
        let r = redeem_on_day(&app, &k.store, &k.household, &k.rice, then);
        let at = aixin::time::local_day_start_utc(then, tz) + chrono::Duration::hours(10);
        diesel::update(redemptions::table.find(&r))
            .set(redemptions::created_at.eq(at))
            .execute(&mut app.conn())
            .unwrap();
        // History rewritten by hand: the running totals are made again from
        // it, as `aixin ledger rebuild-totals` would (they were kept by the
        // moment the redemption was really made).
        aixin::ledger::redemption_totals::rebuild(&mut app.conn()).unwrap();
        let store = aixin::stores::find(&mut app.conn(), &crate::helpers::sid(&k.store)).unwrap().unwrap();
        let area = k.village.clone();
        let summaries = |month: Month| {
            let mut c = app.conn();
            let s = reports::monthly_store(&mut c, tz, &store, month).unwrap().redemptions;
            let a = reports::monthly(&mut c, tz, &area, month).unwrap().unwrap().redemptions;
            ((s.count, s.points, s.by_store.len()), (a.count, a.points, a.households))
        };
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        let day_then = format!("/counter/day?date={then}");
        let before = clerk.get(&day_then).await;
        before.assert_contains("id=\"day-count\">1<");
        before.assert_contains("id=\"day-points\">45<");
        before.assert_contains("id=\"day-voids\">0<");
        let last_before = summaries(last_month);
        assert_eq!(last_before, ((1, 45, 1), (1, 45, 1)));
        assert_eq!(summaries(this_month), ((0, 0, 0), (0, 0, 0)));

        let admin = app.admin().await;
        admin.get(&format!("/redemptions/{r}")).await;
        let page = admin.submit(&format!("/redemptions/{r}/void"), &[("reason", "核对后撤销")]).await;
        page.assert_contains("已撤销");

        // The day it was made, and the month, read as before.
        let after = clerk.get(&day_then).await;
        after.assert_contains("id=\"day-count\">1<");
        after.assert_contains("id=\"day-points\">45<");
        after.assert_contains("id=\"day-voids\">0<");
        assert!(!after.body.contains("class=\"disabled\""), "not void on the day it was made");
        assert_eq!(summaries(last_month), last_before);
        // Today shows the void, and this month gives the points back.
        let today_page = clerk.get("/counter/day").await;
        today_page.assert_contains("id=\"day-count\">0<");
        today_page.assert_contains("id=\"day-voids\">1<");
        today_page.assert_contains("id=\"day-points\">-45<");
        today_page.assert_contains("id=\"day-void-list\"");
        let number: String = redemptions::table.find(&r).select(redemptions::number).first(&mut app.conn()).unwrap();
        today_page.assert_contains(&number);
        assert_eq!(summaries(this_month), ((0, -45, 1), (0, -45, 0)));

        // Made and voided the same day: it does not stand, and nets to nothing.
        let same = redeem_for_test(&app, &k.store, &k.household, &k.soap);
        clerk.get(&format!("/redemptions/{same}")).await;
        clerk.submit(&format!("/redemptions/{same}/void"), &[("reason", "拿错了")]).await.assert_contains("已撤销");
        let today_page = clerk.get("/counter/day").await;
        today_page.assert_contains("id=\"day-count\">0<");
        today_page.assert_contains("id=\"day-voids\">2<");
        today_page.assert_contains("id=\"day-points\">-45<");
        assert_eq!(summaries(this_month), ((0, -45, 1), (0, -45, 0)));
        assert_eq!(summaries(last_month), last_before);
    }
}

app_test! {
    /// #16.4/#18.2: one print listener, so one print dialog per click (the
    /// browser test clicks; this one holds the script to a single caller).
    async fn the_print_button_has_one_listener(app) {
        let js = app.client().get("/static/js/app.js").await;
        assert_eq!(js.status, 200);
        assert_eq!(js.body.matches("window.print(").count(), 1, "{}", js.body);
        assert_eq!(js.body.matches("[data-print]").count(), 1, "{}", js.body);
    }
}

app_test! {
    /// The basket's hidden lines and the end of day's date are read as
    /// typed full-width; a line that cannot be read is refused with its
    /// field, never dropped, and nothing is redeemed.
    async fn full_width_lines_are_read_and_a_bad_line_is_refused(app) {
        let k = setup(&app, 10, 10);
        fund(&app, &k.household, 200);
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        let page = clerk.get(&format!("/counter?card={}", k.card)).await;
        let page = post_basket(&clerk, &basket_fields(&page, &[("entry", "6901234500011")])).await;
        assert_eq!(hidden(&page.body, "line"), vec![format!("{}*1", k.rice)]);
        let with_line = |line: String, extra: &[(&str, &str)]| {
            let mut f: Vec<(String, String)> = basket_fields(&page, extra)
                .into_iter()
                .filter(|(name, _)| name != "line")
                .collect();
            f.push(("line".into(), line));
            f
        };
        // `*２`: two bags of rice, then the soap is added.
        let two = post_basket(&clerk, &with_line(format!("{}*２", k.rice), &[("entry", "肥皂")])).await;
        assert_eq!(two.status, 200, "{}", two.body);
        assert_eq!(hidden(&two.body, "line"), vec![format!("{}*2", k.rice), format!("{}*1", k.soap)]);
        // A line without its quantity, or without its item: refused, named.
        for bad in [format!("{}*", k.rice), format!("{}*x", k.rice), "*2".to_string(), k.rice.clone()] {
            let refused = post_basket(&clerk, &with_line(bad.clone(), &[("entry", "肥皂")])).await;
            assert_eq!(refused.status, 422, "{bad}");
            assert!(refused.body.contains("数量") || refused.body.contains("无法读取"), "{bad}: {}", refused.body);
            assert!(hidden(&refused.body, "line").is_empty(), "{bad}: nothing was added");
            let confirmed = post_basket(&clerk, &with_line(bad.clone(), &[("confirm", "1")])).await;
            assert_eq!(confirmed.status, 422, "{bad}");
        }
        let n: i64 = redemptions::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 0, "nothing redeemed from a basket not read whole");
        assert_eq!(balance(&app, &k.household), 200);
        // The end of day, its date typed full-width.
        let day = today().to_string();
        let wide: String = day
            .chars()
            .map(|c| match c {
                '0'..='9' => char::from_u32(c as u32 + 0xFEE0).unwrap(),
                '-' => '－',
                c => c,
            })
            .collect();
        let page = clerk.get(&format!("/counter/day?date={wide}")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        page.assert_contains(&day);
    }
}

app_test! {
    async fn a_clerk_finds_a_household_without_its_card(app) {
        let k = setup(&app, 10, 10);
        // Two namesakes in two villages of the store's town, and one outside it.
        let town_id: String = {
            use aixin::db::schema::stores;
            stores::table.find(&k.store).select(stores::area_id).first(&mut app.conn()).unwrap()
        };
        let west = app.area(Some(&town_id), "西庄村");
        let id_a = crate::helpers::test_id_number();
        let (_, card_a) = app.household_with_id("张三", &k.village, &id_a);
        let (b, _) = app.household_with_id("张三", &west, &crate::helpers::test_id_number());
        let [_, _, _, far] = app.area_chain("远方");
        app.household("张三丰", &far);
        let clerk = Client::new(&app.url(""));
        clerk.login("clerk", PASSWORD).await;

        // By name: both namesakes, told apart by village and masked ID; not the one far away.
        let page = clerk.get(&format!("/counter?card={}", urlencoding("张三"))).await;
        assert_eq!(page.status, 200);
        page.assert_contains("找到以下农户");
        page.assert_contains("柜台村");
        page.assert_contains("西庄村");
        page.assert_contains(&format!("{}********{}", &id_a[..6], &id_a[14..]));
        assert!(!page.body.contains("张三丰"), "a household outside the store's area is not listed");
        assert!(!page.body.contains(&id_a), "the full ID number is never shown");
        // Choosing one opens the counter on that household.
        let link = format!("/counter?store_id={}&#38;card={card_a}", k.store);
        page.assert_contains(&link);
        let opened = clerk.get(&link.replace("&#38;", "&")).await;
        opened.assert_contains(r#"id="household-name">张三<"#);
        // A link carrying the basket (the language switch's) keeps it.
        let with_basket = clerk.get(&format!("{}&line={}*2", link.replace("&#38;", "&"), k.rice)).await;
        with_basket.assert_contains("大米5kg");
        with_basket.assert_contains(r#"id="total">90<"#);

        // By ID number (as a card reader types it in the look-up box):
        // straight to the household.
        let by_id = clerk.post("/counter/find", &[("store_id", &k.store), ("card", &id_a)]).await;
        assert_eq!(by_id.status, 303);
        assert!(by_id.location.as_deref().unwrap().contains(&card_a));

        // By an old card: the household, never the new card's number.
        let admin = app.admin().await;
        admin.get(&format!("/households/{b}")).await;
        let old_b = card_of(&app, &b);
        admin.submit(&format!("/households/{b}/card"), &[]).await;
        let new_b = card_of(&app, &b);
        let page = clerk.get(&format!("/counter?card={old_b}")).await;
        page.assert_contains("这张旧卡属于下面这户");
        page.assert_contains("西庄村");
        assert!(!page.body.contains(&new_b), "the new number is in no text and no link");
        page.assert_contains("请该户出示新卡");

        // Nothing found: said plainly, and the text is selected for the next scan.
        let none = clerk.get(&format!("/counter?card={}", urlencoding("李四"))).await;
        none.assert_contains("没有与“李四”相符的农户");
        none.assert_contains("data-select-on-load");

        // Every look-up without the card is in the audit log, without the ID number.
        let finds: Vec<String> = {
            use aixin::db::schema::audit_log;
            audit_log::table.filter(audit_log::action.eq("household.find")).select(audit_log::summary).load(&mut app.conn()).unwrap()
        };
        assert_eq!(finds.len(), 4, "{finds:?}");
        // Each says how it looked and how many it found.
        let said = |by: &str, found: &str| {
            finds.iter().any(|s| {
                aixin::audit::Detail::read(s).is_some_and(|d| {
                    d.value("by") == Some(format!("audit_detail.by_{by}").as_str()) && d.value("found") == Some(found)
                })
            })
        };
        assert!(said("name", "2"), "{finds:?}");
        assert!(said("id_number", "1"), "{finds:?}");
        assert!(said("old_card", "1"), "{finds:?}");
        assert!(finds.iter().all(|s| !s.contains(&id_a)));
    }
}

fn urlencoding(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)]).unwrap()[2..].to_string()
}

app_test! {
    /// The look-up box posts what is typed, so an ID number never stands in
    /// an address (docs/domain.md): not the browser's history, not a log.
    async fn an_id_number_typed_at_the_counter_stays_out_of_the_address(app) {
        let k = setup(&app, 5, 5);
        let id = crate::helpers::test_id_number();
        let (_, card) = app.household_with_id("张三", &k.village, &id);
        let clerk = Client::new(&app.url(""));
        clerk.login("clerk", PASSWORD).await;
        // One household opens on its card; a name
        // goes on to the counter's address; an ID number of no household
        // is answered on the spot, its language switch without it.
        clerk.get("/counter").await.assert_contains(r#"<form method="post" action="/counter/find""#);
        let posted = clerk.post("/counter/find", &[("store_id", &k.store), ("card", &id)]).await;
        assert_eq!(posted.status, 303);
        let to = posted.location.clone().unwrap();
        assert!(to.contains(&card) && !to.contains(&id), "{to}");
        let by_name = clerk.post("/counter/find", &[("store_id", &k.store), ("card", "张三")]).await;
        assert_eq!(by_name.status, 303);
        assert!(by_name.location.as_deref().unwrap().starts_with("/counter?"), "{:?}", by_name.location);
        let nobody = crate::helpers::test_id_number();
        let none = clerk.post("/counter/find", &[("store_id", &k.store), ("card", &nobody)]).await;
        assert_eq!(none.status, 200, "{}", none.body);
        none.assert_contains("没有与");
        let hrefs: Vec<&str> = none.body.split("href=\"").skip(1).collect();
        assert!(hrefs.iter().all(|h| !h.starts_with("/counter/find") && !h.split('"').next().unwrap().contains(nobody.as_str())), "no link carries the ID number");
    }
}

app_test! {
    /// Where households redeem only at their own area's stores, a card from
    /// elsewhere is refused at the look-up, as at the confirm: the counter
    /// never shows the balance of a household it may not serve.
    async fn a_household_outside_the_stores_area_is_refused_at_the_look_up(app) {
        let k = setup(&app, 5, 5);
        let [_, _, _, far] = app.area_chain("远处");
        let stranger = app.household("远方户", &far);
        fund(&app, &stranger, 321);
        let card = card_of(&app, &stranger);
        let clerk = Client::new(&app.url(""));
        clerk.login("clerk", PASSWORD).await;
        // Served anywhere (the default): the household opens.
        clerk.get(&format!("/counter?card={card}")).await.assert_contains(r#"id="balance">321<"#);
        let console = aixin::auth::Actor::console();
        aixin::settings::set(&mut app.conn(), &console, aixin::settings::REDEEM_IN_STORE_AREA_ONLY, 1).unwrap();
        let page = clerk.get(&format!("/counter?card={card}")).await;
        page.assert_contains("服务范围");
        assert!(!page.body.contains("id=\"balance\""), "no balance shown: {}", page.body);
        assert!(!page.body.contains("321"));
        // The store's own households still open.
        clerk.get(&format!("/counter?card={}", k.card)).await.assert_contains("id=\"balance\"");
    }
}

app_test! {
    /// A mistyped ID number at the counter's look-up is answered on the
    /// spot, naming what is wrong, and never goes on to the counter's address.
    async fn a_near_id_number_typed_at_the_counter_stays_out_of_the_address(app) {
        let k = setup(&app, 5, 5);
        let id = crate::helpers::test_id_number();
        let (first17, check) = id.split_at(17);
        let wrong_check = if check == "0" { "1" } else { "0" };
        let clerk = Client::new(&app.url(""));
        clerk.login("clerk", PASSWORD).await;
        for typed in [format!("{first17}{wrong_check}"), first17.to_string()] {
            let answered = clerk.post("/counter/find", &[("store_id", &k.store), ("card", typed.as_str())]).await;
            assert!(answered.location.is_none(), "{typed}: {:?}", answered.location);
            answered.assert_contains("身份证号");
            let hrefs: Vec<&str> = answered.body.split("href=\"").skip(1).collect();
            assert!(hrefs.iter().all(|h| !h.split('"').next().unwrap().contains(typed.as_str())), "no link carries {typed}");
        }
    }
}

app_test! {
    /// A basket line that names no item, or whose quantity cannot be read
    /// (letters, nothing, 0, more than a line holds), is refused by its
    /// line: the household and every other line stay on the page (422),
    /// nothing is redeemed, and the basket left goes through.
    async fn a_bad_basket_line_is_refused_by_its_line_and_the_rest_kept(app) {
        let k = setup(&app, 10, 10);
        fund(&app, &k.household, 200);
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        let page = clerk.get(&format!("/counter?card={}", k.card)).await;
        let page = post_basket(&clerk, &basket_fields(&page, &[("entry", "6901234500011")])).await;
        assert_eq!(hidden(&page.body, "line"), vec![format!("{}*1", k.rice)]);
        let with_lines = |lines: &[String], extra: &[(&str, &str)]| {
            let mut f: Vec<(String, String)> = basket_fields(&page, extra)
                .into_iter()
                .filter(|(name, _)| name != "line")
                .collect();
            f.extend(lines.iter().map(|l| ("line".to_string(), l.clone())));
            f
        };
        let bad_lines = [
            "nonexistent*1".to_string(),
            format!("{}*abc", k.soap),
            "*".to_string(),
            format!("{}*0", k.soap),
            format!("{}*99999999999", k.soap),
            format!("{}*", k.soap),
        ];
        for bad in &bad_lines {
            for extra in [&[("entry", "")][..], &[("confirm", "1")][..]] {
                let lines = [format!("{}*1", k.rice), bad.clone()];
                let refused = post_basket(&clerk, &with_lines(&lines, extra)).await;
                assert_eq!(refused.status, 422, "{bad}: {}", refused.body);
                refused.assert_contains(r#"id="household-name">柜台户<"#);
                refused.assert_contains("第 2 行");
                assert_eq!(hidden(&refused.body, "line"), vec![format!("{}*1", k.rice)], "{bad}: the other line is kept");
                assert_eq!(hidden(&refused.body, "household_id"), vec![k.household.clone()], "{bad}");
            }
        }
        // The line naming no item says so.
        let refused = post_basket(&clerk, &with_lines(&["nonexistent*1".into(), format!("{}*２", k.rice)], &[("confirm", "1")])).await;
        assert_eq!(refused.status, 422);
        refused.assert_contains("购物篮：第 1 行：找不到这种物资");
        assert_eq!(hidden(&refused.body, "line"), vec![format!("{}*2", k.rice)], "full-width digits are read");
        let n: i64 = redemptions::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 0, "nothing redeemed from a basket with a bad line");
        assert_eq!(balance(&app, &k.household), 200);
        // A link carrying a line that names no item: the household and the rest, and the message.
        let link = clerk.get(&format!("/counter?store_id={}&card={}&line=nonexistent*1&line={}*1", k.store, k.card, k.soap)).await;
        assert_eq!(link.status, 200, "{}", link.body);
        link.assert_contains(r#"id="household-name">柜台户<"#);
        link.assert_contains("找不到这种物资");
        assert_eq!(hidden(&link.body, "line"), vec![format!("{}*1", k.soap)]);
        // The basket kept goes through.
        let done = post_basket(&clerk, &basket_fields(&refused, &[("confirm", "1")])).await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(balance(&app, &k.household), 110);
        assert_eq!(crate::stock::on_hand(&app, &k.store, &k.rice), 8);
    }
}

app_test! {
    /// The confirm form's key redeems one basket: sent again with the same
    /// basket it shows the first receipt; with another basket it answers
    /// 409, redeems nothing, and shows the new basket with a fresh form to
    /// confirm as a new redemption.
    async fn a_confirm_form_sent_again_with_another_basket_is_refused(app) {
        let k = setup(&app, 10, 10);
        fund(&app, &k.household, 200);
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        let page = clerk.get(&format!("/counter?card={}", k.card)).await;
        let page = post_basket(&clerk, &basket_fields(&page, &[("entry", "6901234500011")])).await;
        let confirm = basket_fields(&page, &[("confirm", "1")]);
        let done = post_basket(&clerk, &confirm).await;
        assert_eq!(done.status, 303, "{}", done.body);
        let receipt = done.location.clone().unwrap();
        // The same form, the same basket: the first receipt.
        let again = post_basket(&clerk, &confirm).await;
        assert_eq!(again.location.as_deref(), Some(receipt.as_str()));
        // The same form with soap instead of rice.
        let key = hidden(&page.body, "key")[0].clone();
        let other: Vec<(String, String)> = confirm
            .iter()
            .map(|(n, v)| match n.as_str() {
                "line" => (n.clone(), format!("{}*2", k.soap)),
                _ => (n.clone(), v.clone()),
            })
            .collect();
        let refused = post_basket(&clerk, &other).await;
        assert_eq!(refused.status, 409, "{}", refused.body);
        refused.assert_contains("这张确认单已兑换过另一篮物资");
        assert_eq!(hidden(&refused.body, "line"), vec![format!("{}*2", k.soap)], "the new basket is shown");
        let fresh = hidden(&refused.body, "key")[0].clone();
        assert_ne!(fresh, key, "a fresh form for the new basket");
        let n: i64 = redemptions::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 1);
        assert_eq!(balance(&app, &k.household), 155);
        assert_eq!(crate::stock::on_hand(&app, &k.store, &k.soap), 10);
        // In English, the same refusal.
        clerk.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        let refused_en = post_basket(&clerk, &other).await;
        assert_eq!(refused_en.status, 409);
        refused_en.assert_contains("this form was already used for another basket");
        // Confirmed on the fresh form: a second receipt.
        let done = post_basket(&clerk, &basket_fields(&refused, &[("confirm", "1")])).await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_ne!(done.location.as_deref(), Some(receipt.as_str()));
        assert_eq!(balance(&app, &k.household), 149);
        assert_eq!(crate::stock::on_hand(&app, &k.store, &k.soap), 8);
    }
}

app_test! {
    /// A clerk's basket names the clerk's own store: a form naming another
    /// store (forged, or left open from before the clerk was moved) is
    /// refused, and nothing is redeemed at either store.
    async fn a_clerks_basket_naming_another_store_is_refused(app) {
        let k = setup(&app, 10, 10);
        fund(&app, &k.household, 100);
        let [_, _, town, _] = app.area_chain("别处");
        let other = app.store("别处超市", &town);
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        let page = clerk.get(&format!("/counter?card={}", k.card)).await;
        let page = post_basket(&clerk, &basket_fields(&page, &[("entry", "6901234500011")])).await;
        page.assert_contains("大米5kg");
        let mut forged = basket_fields(&page, &[("confirm", "1")]);
        for (name, value) in forged.iter_mut() {
            if name == "store_id" {
                *value = other.clone();
            }
        }
        let refused = post_basket(&clerk, &forged).await;
        assert_eq!(refused.status, 403, "{}", refused.body);
        assert_eq!(balance(&app, &k.household), 100);
        let n: i64 = redemptions::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 0);
        // The same form naming the clerk's store goes through.
        let done = post_basket(&clerk, &basket_fields(&page, &[("confirm", "1")])).await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(balance(&app, &k.household), 55);
    }
}

app_test! {
    /// An ID number in the counter's address is refused, never used: the
    /// clerk is told to type it in the look-up box, and no link repeats it.
    async fn an_id_number_in_the_counters_address_is_refused(app) {
        let k = setup(&app, 5, 5);
        let id = crate::helpers::test_id_number();
        app.household_with_id("张三", &k.village, &id);
        let clerk = Client::new(&app.url(""));
        clerk.login("clerk", PASSWORD).await;
        let page = clerk.get(&format!("/counter?card={id}")).await;
        assert_eq!(page.status, 200);
        assert!(page.location.is_none());
        page.assert_contains("身份证号：不能放在网址里，请在查找框中输入");
        assert!(!page.body.contains("id=\"household-name\""), "no household opens: {}", page.body);
        assert!(!page.body.contains(&id), "the ID number is not repeated");
    }
}

app_test! {
    /// Text too long for an address, typed in the counter's look-up, is
    /// refused on the counter naming its field (422); no redirect carries it.
    async fn an_over_long_look_up_at_the_counter_is_refused_on_the_page(app) {
        let k = setup(&app, 5, 5);
        let long = "9".repeat(200_000);
        let clerk = Client::new(&app.url(""));
        clerk.login("clerk", PASSWORD).await;
        clerk.get("/counter").await;
        let page = clerk.post("/counter/find", &[("store_id", &k.store), ("card", &long)]).await;
        assert_eq!(page.status, 422);
        assert!(page.location.is_none());
        page.assert_contains("卡号：不能超过 64 个字符");
        // A clerk's counter is their own store's, whatever store was sent.
        let page = clerk.post("/counter/find", &[("store_id", &long), ("card", &k.card)]).await;
        assert_eq!(page.status, 303);
        let to = page.location.unwrap();
        assert!(to.len() < 200, "{to}");
        clerk.get(&to).await.assert_contains("id=\"balance\"");
        // An admin picks the store again, told why.
        let admin = app.admin().await;
        admin.get("/counter").await;
        let page = admin.post("/counter/find", &[("store_id", &long), ("card", &k.card)]).await;
        assert_eq!(page.status, 422);
        assert!(page.location.is_none());
        page.assert_contains("所属超市：不能超过 64 个字符");
        // The language switch's way back never carries it either.
        let page = admin.post("/lang", &[("lang", "en"), ("back", &format!("/counter?card={long}"))]).await;
        assert_eq!(page.status, 303);
        assert_eq!(page.location.as_deref(), Some("/counter"));
    }
}

app_test! {
    /// The look-up box's form with a field sent twice comes back on the
    /// counter like every form (422): the first value kept in the box, the
    /// message beside it, nothing looked up.
    async fn a_look_up_with_a_field_sent_twice_is_refused_on_its_form(app) {
        let k = setup(&app, 5, 5);
        let clerk = Client::new(&app.url(""));
        clerk.login("clerk", PASSWORD).await;
        clerk.get("/counter").await;
        let page = clerk.post("/counter/find", &[("store_id", &k.store), ("card", "张三"), ("card", "李四")]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        assert!(page.location.is_none());
        page.assert_contains("卡号：填写了两次");
        page.assert_contains(r#"id="card" value="张三""#);
        assert!(!page.body.contains("李四"));
        let finds = app.audit_actions().iter().filter(|a| *a == "household.find").count();
        assert_eq!(finds, 0, "nothing was looked up");
        // The card number too: refused, never opened.
        let page = clerk.post("/counter/find", &[("store_id", &k.store), ("card", &k.card), ("card", &k.card)]).await;
        assert_eq!(page.status, 422, "{}", page.body);
        assert!(!page.body.contains("id=\"balance\""));
    }
}

app_test! {
    /// A basket quantity box that does not read says so beside that box,
    /// keeping what was typed in every box and every line; nothing changes.
    async fn a_basket_quantity_that_does_not_read_is_named_beside_its_box(app) {
        let k = setup(&app, 10, 10);
        fund(&app, &k.household, 500);
        let clerk = Client::new(&app.url(""));
        clerk.login("clerk", PASSWORD).await;
        let page = clerk.get(&format!("/counter?card={}", k.card)).await;
        let page = post_basket(&clerk, &basket_fields(&page, &[("pick", &k.rice)])).await;
        let page = post_basket(&clerk, &basket_fields(&page, &[("pick", &k.soap)])).await;
        page.assert_contains("id=\"total\">48<");
        // A pick that would take a line past what one line holds is refused,
        // the basket as it was (the sum never overflows).
        for qty in ["1000000", "9223372036854775807"] {
            let over = post_basket(&clerk, &basket_fields(&page, &[("pick", &k.rice), ("qty", qty)])).await;
            assert!(over.body.contains("不能超过 1000000") || over.body.contains("数量"), "{qty}: {}", over.body);
            assert_ne!(over.status, 500);
            over.assert_contains("id=\"total\">48<");
        }
        let rice_box = format!("qty_{}", k.rice);
        let soap_box = format!("qty_{}", k.soap);
        // The text of the table cell holding box `name`.
        let cell = |body: &str, name: &str| -> String {
            let at = body.find(&format!("name=\"{name}\"")).unwrap_or_else(|| panic!("no box {name}"));
            body[at..].split("</td>").next().unwrap().to_string()
        };
        for bad in ["abc", "-1"] {
            let refused = post_basket(&clerk, &basket_fields(&page, &[("entry", ""), (&rice_box, bad), (&soap_box, "2")])).await;
            assert_eq!(refused.status, 422, "{bad}: {}", refused.body);
            let rice = cell(&refused.body, &rice_box);
            assert!(rice.contains(&format!("value=\"{bad}\"")), "{rice}");
            assert!(rice.contains("class=\"field-error\"") && rice.contains("第 1 行的数量"), "beside its box: {rice}");
            // The other box keeps what was typed, with no message.
            let soap = cell(&refused.body, &soap_box);
            assert!(soap.contains("value=\"2\"") && !soap.contains("field-error"), "{soap}");
            assert_eq!(hidden(&refused.body, "line").len(), 2, "both lines kept");
            refused.assert_contains("id=\"total\">48<");
        }
        // A 0 takes no line out: refused beside its box, the basket as it
        // was (a line goes by its delete button).
        let refused = post_basket(&clerk, &basket_fields(&page, &[("entry", ""), (&rice_box, "0"), (&soap_box, "2")])).await;
        assert_eq!(refused.status, 422, "{}", refused.body);
        let rice = cell(&refused.body, &rice_box);
        assert!(rice.contains("value=\"0\"") && rice.contains("第 1 行：数量至少为 1"), "beside its box: {rice}");
        assert_eq!(hidden(&refused.body, "line").len(), 2, "both lines kept");
        refused.assert_contains("id=\"total\">48<");
        // Two boxes that do not read: each said beside its own.
        let refused = post_basket(&clerk, &basket_fields(&page, &[("entry", ""), (&rice_box, "abc"), (&soap_box, "x")])).await;
        assert_eq!(refused.status, 422);
        assert!(cell(&refused.body, &rice_box).contains("第 1 行的数量"));
        assert!(cell(&refused.body, &soap_box).contains("第 2 行的数量"));
        let n: i64 = redemptions::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 0);
        assert_eq!(balance(&app, &k.household), 500);
    }
}

app_test! {
    /// An ID number or an old card reaches as far as the card itself: any
    /// household, unless households redeem only in their own area. A name
    /// covers only the store's villages, and the page says so.
    async fn an_id_number_or_old_card_reaches_as_far_as_a_card(app) {
        let k = setup(&app, 5, 5);
        let [_, _, _, far] = app.area_chain("远处");
        let id = crate::helpers::test_id_number();
        let (far_h, far_card) = app.household_with_id("远方户", &far, &id);
        let clerk = Client::new(&app.url(""));
        clerk.login("clerk", PASSWORD).await;
        // Its card opens it here (served anywhere, the default) ...
        clerk.get(&format!("/counter?card={far_card}")).await.assert_contains(r#"id="household-name">远方户<"#);
        // ... and so does its ID number.
        let by_id = clerk.post("/counter/find", &[("store_id", &k.store), ("card", &id)]).await;
        assert_eq!(by_id.status, 303, "{}", by_id.body);
        assert!(by_id.location.as_deref().unwrap().contains(&far_card));
        // Its old card finds it, never telling the new number.
        let admin = app.admin().await;
        admin.get(&format!("/households/{far_h}")).await;
        admin.submit(&format!("/households/{far_h}/card"), &[]).await;
        let new_card = card_of(&app, &far_h);
        let page = clerk.get(&format!("/counter?card={far_card}")).await;
        page.assert_contains("这张旧卡属于下面这户");
        page.assert_contains("远方户");
        assert!(!page.body.contains(&new_card));
        // A name covers the store's villages only, as the page says.
        let page = clerk.get(&format!("/counter?card={}", urlencoding("远方户"))).await;
        page.assert_contains("没有与“远方户”相符的农户");
        page.assert_contains(r#"id="find-name-scope">按姓名只查本超市服务的村<"#);
        // Served only in their own area: neither reaches it, as its card does not.
        let console = aixin::auth::Actor::console();
        aixin::settings::set(&mut app.conn(), &console, aixin::settings::REDEEM_IN_STORE_AREA_ONLY, 1).unwrap();
        clerk.get(&format!("/counter?card={new_card}")).await.assert_contains("服务范围");
        let by_id = clerk.post("/counter/find", &[("store_id", &k.store), ("card", &id)]).await;
        assert_eq!(by_id.status, 200, "{}", by_id.body);
        by_id.assert_contains("没有与");
        assert!(!by_id.body.contains("远方户"));
        let page = clerk.get(&format!("/counter?card={far_card}")).await;
        assert!(!page.body.contains("远方户"), "{}", page.body);
        // The hint in English too.
        clerk.post("/lang", &[("lang", "en"), ("back", "/counter")]).await;
        clerk.get("/counter").await.assert_contains("A name search covers only this store");
    }
}
