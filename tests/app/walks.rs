//! A day's walk in a real browser for the clerk (two households, one found
//! by name, the receipt printed once on 58 mm paper, all by keyboard) and
//! for the administrator (the monthly summary's CSV opened by a CSV reader).

use aixin::domain::Role;
use fantoccini::Locator;
use fantoccini::key::Key;

use crate::browser::{DevTools, start_browser};
use crate::helpers::*;

/// How many print dialogs the pages asked for so far (every page's
/// `window.print` is replaced by a counter before the page's own scripts).
async fn prints(b: &crate::browser::Browser) -> i64 {
    b.client
        .execute("return +(localStorage.getItem('prints') || 0);", vec![])
        .await
        .unwrap()
        .as_i64()
        .unwrap()
}

app_test! {
    async fn a_clerk_serves_two_households_by_keyboard_and_prints_one_receipt_on_58_mm(app) {
        let Some(b) = start_browser("a_clerk_serves_two_households_by_keyboard").await else { return };
        let [_, _, town, village] = app.area_chain("一天");
        let store = app.store("一天超市", &town);
        app.user("clerk", Role::Clerk, None, Some(&store));
        let (rice, oil) = {
            let mut c = app.conn();
            let ctx = aixin::auth::Actor::console();
            let rice = aixin::goods::create(&mut c, &ctx, &aixin::goods::ItemForm { name: "大米", category: "粮油", unit: "袋", points_price: "40", barcode: "6900000000011" }).unwrap().id;
            let oil = aixin::goods::create(&mut c, &ctx, &aixin::goods::ItemForm { name: "食用油", category: "粮油", unit: "桶", points_price: "15", barcode: "6900000000028" }).unwrap().id;
            let donor = crate::stock::donor(&mut c, "一天捐赠");
            crate::stock::donate(&mut c, &store, &donor, &[(rice.as_str(), 5), (oil.as_str(), 5)]);
            (rice, oil)
        };
        let (first, card) = app.household_with_id("周大成", &village, &test_id_number());
        let (second, _) = app.household_with_id("孙小红", &village, &test_id_number());
        crate::counter::fund(&app, &first, 100);
        crate::counter::fund(&app, &second, 80);
        b.client
            .issue_cmd(DevTools(serde_json::json!({
                "cmd": "Page.addScriptToEvaluateOnNewDocument",
                "params": {"source": "window.print = function () { localStorage.setItem('prints', +(localStorage.getItem('prints') || 0) + 1); };"}
            })))
            .await
            .unwrap();
        b.login(&app, "clerk").await;
        b.client.goto(&app.url("/counter")).await.unwrap();
        let enter = Key::Enter.to_string();

        // The first household by its card, one item, Enter to confirm.
        b.type_and_wait("#card", &format!("{card}{enter}")).await;
        assert_eq!(b.text("#balance").await, "100");
        b.type_and_wait("#entry", &format!("6900000000011{enter}")).await;
        b.type_and_wait("#entry", &enter).await;
        assert!(b.path().await.starts_with("/redemptions/"));
        assert_eq!(b.text("#receipt-after").await, "60");
        assert_eq!(prints(&b).await, 0, "this store does not print by itself yet");
        // The store's paper: 58 mm, and receipts print by themselves.
        b.client.find(Locator::Css("#printing input[value='58']")).await.unwrap().click().await.unwrap();
        b.client.find(Locator::Css("#printing input[name=print_after_confirm]")).await.unwrap().click().await.unwrap();
        b.click("#save-printing").await;
        assert!(b.client.find(Locator::Css(".receipt.paper-58")).await.is_ok());
        assert_eq!(prints(&b).await, 0);

        // F9: the next household.
        b.type_and_wait("#print", &Key::F9.to_string()).await;
        assert_eq!(b.path().await, "/counter");
        // The second left the card at home: found by name.
        b.type_and_wait("#card", &format!("孙小红{enter}")).await;
        assert_eq!(b.text("#found .found-name").await, "孙小红");
        b.click("#found a.button").await;
        assert_eq!(b.text("#household-name").await, "孙小红");
        // F4 opens the goods list with prices and stock, and takes the focus.
        b.client.find(Locator::Css("#entry")).await.unwrap().send_keys(&Key::F4.to_string()).await.unwrap();
        let open = b.client.execute("return document.getElementById('goods-list').open && document.getElementById('goods-list').contains(document.activeElement);", vec![]).await.unwrap();
        assert_eq!(open, serde_json::json!(true), "F4 opens the goods list");
        let list = b.text("#goods-list").await;
        assert!(list.contains("食用油") && list.contains("15"), "{list}");
        b.click(&format!("#goods-list button[value='{oil}']")).await;
        assert_eq!(b.text("#total").await, "15");
        // The line's quantity changed in place: 2, Enter.
        b.client.find(Locator::Css(&format!("input[name=qty_{oil}]"))).await.unwrap().clear().await.unwrap();
        b.type_and_wait(&format!("input[name=qty_{oil}]"), &format!("2{enter}")).await;
        assert_eq!(b.text("#total").await, "30");
        assert!(b.path().await.starts_with("/counter"), "a changed quantity is not a confirmation");
        // Enter on the empty goods field: the receipt, printed once by itself, on 58 mm.
        b.type_and_wait("#entry", &enter).await;
        assert!(b.path().await.starts_with("/redemptions/"));
        assert_eq!(b.text("#receipt-before").await, "80");
        assert_eq!(b.text("#receipt-after").await, "50");
        assert!(b.text("#receipt-store").await.contains("一天超市"));
        assert!(b.client.find(Locator::Css(".receipt.paper-58")).await.is_ok());
        assert_eq!(prints(&b).await, 1, "one print dialog for the receipt");
        let url = b.client.current_url().await.unwrap();
        assert_eq!(url.query(), None, "a reload does not print it again");
        // Its page is as long as the receipt: 58 mm wide, no fixed 200 mm.
        let size = b
            .client
            .execute(
                "window.dispatchEvent(new Event('beforeprint'));
                 return [...document.adoptedStyleSheets].map(s => [...s.cssRules].map(r => r.cssText).join(' ')).join(' ');",
                vec![],
            )
            .await
            .unwrap();
        let size = size.as_str().unwrap().to_string();
        assert!(size.contains("receipt58") && size.contains("58mm"), "{size}");
        assert!(!size.contains("200mm"), "{size}");
        // F8 prints again: one dialog per key.
        b.client.find(Locator::Css("#print")).await.unwrap().send_keys(&Key::F8.to_string()).await.unwrap();
        assert_eq!(prints(&b).await, 2);
        assert_eq!(crate::counter::balance(&app, &first), 60);
        assert_eq!(crate::counter::balance(&app, &second), 50);
        let _ = rice;
        b.close().await;
    }
}

app_test! {
    async fn an_administrator_downloads_the_monthly_csv_and_a_csv_reader_reads_one_record_per_row(app) {
        let Some(b) = start_browser("an_administrator_downloads_the_monthly_csv").await else { return };
        let [city, _, town, village] = app.area_chain("月报");
        let store = app.store("月报超市", &town);
        let goods = crate::stock::seed(&app, &store);
        for i in 0..5 {
            let h = app.household(&format!("月报户{i}"), &village);
            crate::counter::redeem_for_test(&app, &store, &h, &goods.items[i % 3]);
        }
        app.user("zhang", Role::Admin, None, None);
        b.login(&app, "zhang").await;
        let month = aixin::reports::Month::of(aixin::time::today(chrono_tz::Asia::Shanghai));
        b.client.goto(&app.url(&format!("/reports/monthly?month={month}&area_id={city}"))).await.unwrap();
        // The link on the page, fetched as the browser downloads it.
        let csv = b
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 const a = document.querySelector('a[href^=\"/reports/monthly.csv\"]');
                 fetch(a.href).then(r => Promise.all([r.text(), r.headers.get('content-disposition')])).then(done);",
                vec![],
            )
            .await
            .unwrap();
        let text = csv[0].as_str().unwrap().to_string();
        let disposition = csv[1].as_str().unwrap().to_string();
        assert!(disposition.contains(&format!("{month}.csv")), "{disposition}");
        let records: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.trim_start_matches('\u{feff}').as_bytes())
            .records()
            .map(Result::unwrap)
            .collect();
        assert!(records.len() > 20, "one record per row, not one line: {}", records.len());
        assert!(records.iter().all(|r| r.len() <= 11), "a record runs on");
        assert_eq!(&records[0][0], "月度汇总");
        assert_eq!(&records[0][1], "区域：月报市");
        let redeemed = records.iter().find(|r| &r[0] == "月报超市").expect("the store's row");
        assert_eq!(&redeemed[1], "5");
        b.close().await;
    }
}
