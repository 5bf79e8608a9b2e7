//! Printing at the counter and the basket: each store's paper and printing
//! remembered, a receipt that tells everything (balances before and after,
//! the store, the clerk), quantities changed in place, the goods a key away.

use aixin::db::schema::{redemptions, stores, users};
use aixin::domain::Role;
use diesel::prelude::*;

use crate::counter::{balance, basket_fields, fund, hidden, post_basket, setup};
use crate::helpers::PASSWORD;

app_test! {
    async fn a_receipt_names_the_store_the_clerk_and_both_balances_and_prints_on_the_stores_paper(app) {
        let k = setup(&app, 10, 10);
        fund(&app, &k.household, 100);
        diesel::update(users::table.filter(users::username.eq("clerk")))
            .set(users::display_name.eq("李晓梅"))
            .execute(&mut app.conn())
            .unwrap();
        // The administrator gives the store its address and phone.
        let admin = app.admin().await;
        let page = admin
            .submit(
                &format!("/stores/{}/edit", k.store),
                &[("name", "柜台超市"), ("area_id", &store_area(&app, &k.store)), ("address", "柜台镇幸福路 8 号"), ("opening_hours", "08:00-17:00"), ("phone", "0531-88886666"), ("version", &app.version_of("stores", &k.store))],
            )
            .await;
        page.assert_contains("0531-88886666");

        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        let page = clerk.get(&format!("/counter?card={}", k.card)).await;
        let page = post_basket(&clerk, &basket_fields(&page, &[("entry", "6901234500011")])).await;
        let done = post_basket(&clerk, &basket_fields(&page, &[("entry", "")])).await;
        assert_eq!(done.status, 303, "{}", done.body);
        let receipt = done.location.clone().unwrap();
        assert!(!receipt.contains("print=1"), "a store that does not print by itself: {receipt}");
        let page = clerk.get(&receipt).await;
        page.assert_contains("id=\"receipt-store\">柜台超市<");
        page.assert_contains("id=\"receipt-address\">柜台镇幸福路 8 号<");
        page.assert_contains("0531-88886666");
        page.assert_contains("id=\"receipt-clerk\">李晓梅<");
        page.assert_contains("id=\"receipt-before\">100<");
        page.assert_contains("id=\"receipt-total\">45<");
        page.assert_contains("id=\"receipt-after\">55<");
        // 80 mm until the store says otherwise; print and next are one key each.
        page.assert_contains("data-paper=\"80\"");
        page.assert_contains("data-key=\"F8\"");
        page.assert_contains("data-key=\"F9\"");
        page.assert_contains("F8 打印凭证");
        assert!(!page.body.contains("data-print-on-load"));

        // The clerk remembers 58 mm paper and printing by itself for the store.
        let rid = receipt.trim_start_matches("/redemptions/").to_string();
        let saved = clerk
            .submit(
                &format!("/stores/{}/printing", k.store),
                &[
                    ("paper", "58"),
                    ("print_after_confirm", "1"),
                    ("redemption_id", &rid),
                    ("version", &app.version_of("stores", &k.store)),
                ],
            )
            .await;
        saved.assert_contains("打印设置已保存");
        saved.assert_contains("data-paper=\"58\"");
        saved.assert_contains("paper-58");
        let (paper, auto): (String, bool) = stores::table
            .find(&k.store)
            .select((stores::receipt_paper, stores::print_after_confirm))
            .first(&mut app.conn())
            .unwrap();
        assert_eq!((paper.as_str(), auto), ("58", true));
        assert!(app.audit_actions().contains(&"store.receipt_settings".to_string()));
        // A paper that is not one of the three is refused by name, nothing changes.
        let bad = clerk
            .submit(&format!("/stores/{}/printing", k.store), &[("paper", "A5"), ("redemption_id", &rid), ("version", &app.version_of("stores", &k.store))])
            .await;
        assert_eq!(bad.status, 422, "the receipt comes back with the message, not a redirect");
        bad.assert_contains("凭证纸张");
        bad.assert_contains(r#"data-field="field.receipt_paper""#);
        assert_eq!(
            stores::table.find(&k.store).select(stores::receipt_paper).first::<String>(&mut app.conn()).unwrap(),
            "58"
        );

        // The next redemption goes to a receipt that prints itself once.
        let page = clerk.get(&format!("/counter?card={}", k.card)).await;
        let page = post_basket(&clerk, &basket_fields(&page, &[("entry", "肥皂")])).await;
        let done = post_basket(&clerk, &basket_fields(&page, &[("confirm", "1")])).await;
        let receipt2 = done.location.clone().unwrap();
        assert!(receipt2.ends_with("?print=1"), "{receipt2}");
        let page = clerk.get(&receipt2).await;
        page.assert_contains("data-print-on-load=\"1\"");
        page.assert_contains("id=\"receipt-before\">55<");
        page.assert_contains("id=\"receipt-after\">52<");
        // Opened again later (or by anyone else), it does not print by itself.
        let again = clerk.get(receipt2.trim_end_matches("?print=1")).await;
        assert!(!again.body.contains("data-print-on-load"));
        assert_eq!(balance(&app, &k.household), 52);

        // An auditor reads the receipt, but has no counter to go on to and
        // no store printing to set.
        app.user("auditor", Role::Auditor, None, None);
        let auditor = app.client();
        auditor.login("auditor", PASSWORD).await;
        let page = auditor.get(&receipt2).await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("data-print-on-load"));
        assert!(!page.body.contains("id=\"next\""));
        assert!(!page.body.contains("id=\"printing\""));
        let denied = auditor.post(&format!("/stores/{}/printing", k.store), &[("paper", "a4")]).await;
        assert_eq!(denied.status, 403);
        // A clerk of another store may not set this store's printing.
        let [_, _, town2, _] = app.area_chain("别处");
        let other = app.store("别处超市", &town2);
        app.user("clerk2", Role::Clerk, None, Some(&other));
        let clerk2 = app.client();
        clerk2.login("clerk2", PASSWORD).await;
        let denied = clerk2.post(&format!("/stores/{}/printing", k.store), &[("paper", "a4")]).await;
        assert_eq!(denied.status, 403);
        assert_eq!(
            stores::table.find(&k.store).select(stores::receipt_paper).first::<String>(&mut app.conn()).unwrap(),
            "58"
        );
    }
}

fn store_area(app: &crate::helpers::TestApp, store: &str) -> String {
    stores::table
        .find(store)
        .select(stores::area_id)
        .first(&mut app.conn())
        .unwrap()
}

app_test! {
    async fn thermal_receipts_are_as_long_as_their_content(app) {
        let css = app.client().get("/static/css/print.css").await;
        assert_eq!(css.status, 200);
        assert!(!css.body.contains("200mm"), "no fixed receipt length");
        for page in ["@page receipt58", "@page receipt80"] {
            let rule = css.body.split(page).nth(1).unwrap().split('}').next().unwrap();
            assert!(rule.contains("margin: 0"), "{page}: no margin, so no browser header or footer: {rule}");
        }
        assert!(css.body.contains("@page receipt58 { margin: 0; @bottom-center { content: none; } }"), "no page footer on a receipt");
        let js = app.client().get("/static/js/app.js").await;
        js.assert_contains("beforeprint");
        js.assert_contains("mm; margin: 0; }");
    }
}

app_test! {
    async fn a_basket_lines_quantity_changes_in_place_and_the_goods_list_is_a_key_away(app) {
        let k = setup(&app, 10, 10);
        fund(&app, &k.household, 500);
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        let page = clerk.get(&format!("/counter?card={}", k.card)).await;
        // The goods list, with prices and stock, opens with F4.
        page.assert_contains("id=\"goods-list\"");
        page.assert_contains("data-key=\"F4\"");
        let list = page.body.split("id=\"goods-list\"").nth(1).unwrap().split("</details>").next().unwrap().to_string();
        assert!(list.contains("大米5kg") && list.contains(">45<") && list.contains(">10<"), "{list}");
        assert!(list.contains("肥皂") && list.contains(">3<"), "{list}");
        page.assert_contains("单价（积分）");
        page.assert_contains("data-key=\"F9\"");
        // A goods list button adds the line.
        let page = post_basket(&clerk, &basket_fields(&page, &[("pick", &k.rice)])).await;
        page.assert_contains("id=\"total\">45<");
        let page = post_basket(&clerk, &basket_fields(&page, &[("entry", "肥皂")])).await;
        page.assert_contains("id=\"total\">48<");
        let rice_box = format!("qty_{}", k.rice);
        let soap_box = format!("qty_{}", k.soap);
        page.assert_contains(&format!("name=\"{rice_box}\" value=\"1\""));
        // The rice line becomes 3 in place; Enter there updates, never confirms.
        let page = post_basket(&clerk, &basket_fields(&page, &[("entry", ""), (&rice_box, "３"), (&soap_box, "1")])).await;
        assert_eq!(page.status, 200, "{}", page.body);
        page.assert_contains("id=\"total\">138<");
        page.assert_contains(&format!("name=\"{rice_box}\" value=\"3\""));
        let n: i64 = redemptions::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 0, "changing a quantity redeems nothing");
        // A quantity that is not a number is named; the basket stays as it was.
        let refused = post_basket(&clerk, &basket_fields(&page, &[("entry", ""), (&rice_box, "三")])).await;
        assert_eq!(refused.status, 422);
        refused.assert_contains("第 1 行的数量");
        refused.assert_contains("id=\"total\">138<");
        assert_eq!(hidden(&refused.body, "line").len(), 2);
        // What was typed stays in its box, marked, for the clerk to mend.
        refused.assert_contains(&format!("name=\"{rice_box}\" value=\"三\" inputmode=\"numeric\" size=\"3\" class=\"line-qty\" aria-invalid=\"true\""));
        refused.assert_contains(&format!("name=\"{soap_box}\" value=\"1\""));
        // 0 is refused beside its box, the basket as it was ...
        let zero = post_basket(&clerk, &basket_fields(&refused, &[("entry", ""), (&rice_box, "3"), (&soap_box, "0")])).await;
        assert_eq!(zero.status, 422, "{}", zero.body);
        zero.assert_contains("第 2 行：数量至少为 1");
        zero.assert_contains("id=\"total\">138<");
        // ... and the line's delete button takes it out.
        let page = post_basket(&clerk, &basket_fields(&refused, &[("entry", ""), (&rice_box, "3"), (&soap_box, "1"), ("remove", "1")])).await;
        page.assert_contains("id=\"total\">135<");
        assert_eq!(hidden(&page.body, "line"), vec![format!("{}*3", k.rice)]);
        // Enter on the empty field with the quantities as shown confirms.
        let done = post_basket(&clerk, &basket_fields(&page, &[("entry", ""), (&rice_box, "3")])).await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(balance(&app, &k.household), 365);
        assert_eq!(crate::stock::on_hand(&app, &k.store, &k.rice), 7);
        // In English the price column says points too.
        let admin = app.admin().await;
        admin.post("/lang", &[("lang", "en"), ("back", "/")]).await;
        let page = admin.get(&format!("/counter?store_id={}&card={}", k.store, k.card)).await;
        page.assert_contains("Points each");
        page.assert_contains("F4 goods, prices and stock");
    }
}

app_test! {
    async fn a_remove_that_names_no_line_removes_nothing_and_never_confirms(app) {
        let k = setup(&app, 10, 10);
        fund(&app, &k.household, 500);
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        let page = clerk.get(&format!("/counter?card={}", k.card)).await;
        let page = post_basket(&clerk, &basket_fields(&page, &[("pick", &k.rice)])).await;
        page.assert_contains("id=\"total\">45<");
        for bad in ["abc", "-1", "5", "", "１"] {
            let refused = post_basket(&clerk, &basket_fields(&page, &[("entry", ""), ("remove", bad)])).await;
            assert_eq!(refused.status, 422, "remove={bad:?}: {}", refused.body);
            refused.assert_contains("已不在购物篮里");
            refused.assert_contains("id=\"total\">45<");
            let n: i64 = redemptions::table.count().get_result(&mut app.conn()).unwrap();
            assert_eq!(n, 0, "remove={bad:?} redeems nothing");
        }
        assert_eq!(balance(&app, &k.household), 500);
        // The line's own button takes it out.
        let emptied = post_basket(&clerk, &basket_fields(&page, &[("entry", ""), ("remove", "0")])).await;
        assert_eq!(emptied.status, 200, "{}", emptied.body);
        assert!(hidden(&emptied.body, "line").is_empty());
    }
}

app_test! {
    async fn a_basket_over_the_balance_says_so_before_confirming(app) {
        let k = setup(&app, 30, 10);
        fund(&app, &k.household, 100);
        let clerk = app.client();
        clerk.login("clerk", PASSWORD).await;
        let page = clerk.get(&format!("/counter?card={}", k.card)).await;
        let page = post_basket(&clerk, &basket_fields(&page, &[("pick", &k.rice)])).await;
        assert!(!page.body.contains("id=\"short-by\""), "45 of 100: enough");
        let rice_box = format!("qty_{}", k.rice);
        let page = post_basket(&clerk, &basket_fields(&page, &[("entry", ""), (&rice_box, "3")])).await;
        assert_eq!(page.status, 200, "{}", page.body);
        page.assert_contains("id=\"short-by\"");
        page.assert_contains("积分不足：还差 35 分");
        let n: i64 = redemptions::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 0);
    }
}
