//! The counter on a tablet (1024 x 768 held sideways, 768 x 1024 upright):
//! the card box, the basket, the confirm button and the receipt's print
//! button are all within the screen's width, with nothing to scroll sideways.

use aixin::domain::Role;

use crate::browser::{Browser, start_browser_sized};
use crate::helpers::*;

/// Nothing on the page is wider than the window.
async fn no_sideways_scroll(b: &Browser, what: &str) {
    let widths = b
        .client
        .execute(
            "return [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    let w: Vec<i64> = serde_json::from_value(widths).unwrap();
    assert!(
        w[0] <= w[2] && w[1] <= w[2],
        "{what}: the page is {}px / {}px wide in a {}px window",
        w[0],
        w[1],
        w[2]
    );
}

/// `css` is shown, and its box lies within the window's width.
async fn within_width(b: &Browser, css: &str, what: &str) {
    assert!(
        b.element(css).await.is_displayed().await.unwrap(),
        "{what}: {css} is hidden"
    );
    let rect = b
        .client
        .execute(
            &format!("const r = document.querySelector({css:?}).getBoundingClientRect(); return [r.left, r.right, window.innerWidth];"),
            vec![],
        )
        .await
        .unwrap();
    let r: Vec<f64> = serde_json::from_value(rect).unwrap();
    assert!(
        r[0] >= 0.0 && r[1] <= r[2] + 0.5,
        "{what}: {css} spans {}..{} of {}px",
        r[0],
        r[1],
        r[2]
    );
}

app_test! {
    async fn the_counter_fits_a_tablet_both_ways(app) {
        let [_, _, town, village] = app.area_chain("平板");
        let store = app.store("平板爱心超市", &town);
        app.user("clerk", Role::Clerk, None, Some(&store));
        let goods = crate::stock::seed(&app, &store);
        let (household, card) = app.household_with_id("王秀兰", &village, &test_id_number());
        crate::counter::fund(&app, &household, 500);
        let basket = format!("/counter?card={card}&line={}*1&line={}*2&line={}*1", goods.items[0], goods.items[1], goods.items[2]);
        for (width, height) in [(1024, 768), (768, 1024)] {
            let what = format!("{width}x{height}");
            let Some(b) = start_browser_sized(&format!("tablet_{width}"), width, height).await else { return };
            b.login(&app, "clerk").await;
            b.client.goto(&app.url(&basket)).await.unwrap();
            no_sideways_scroll(&b, &what).await;
            for css in ["#card", "#find-card", "#balance", "#entry", "#add", "#lines", "#confirm", "#next-household"] {
                within_width(&b, css, &what).await;
            }
            // Confirmed: the receipt, and its print button, fit too.
            b.click("#confirm").await;
            assert!(b.path().await.starts_with("/redemptions/"), "{what}");
            no_sideways_scroll(&b, &what).await;
            within_width(&b, "#print", &what).await;
            within_width(&b, "#receipt-total", &what).await;
            b.close().await;
        }
    }
}
