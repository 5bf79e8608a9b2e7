//! Edges found by trying the app as an attacker would: each a refusal with
//! a message naming the field, never a 5xx, never a leak.

use aixin::domain::Role;
use serde_json::{Value, json};

use crate::helpers::*;

async fn token(app: &TestApp, username: &str) -> String {
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/tokens"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    body["token"].as_str().expect("a token").to_string()
}

async fn api_post(app: &TestApp, token: &str, key: &str, path: &str, body: Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(app.url(path))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

app_test! {
    async fn sizes_that_do_not_fit_and_dates_to_come_are_refused(app) {
        let [_, _, town, _] = app.area_chain("边界");
        let store = app.store("边界超市", &town);
        let goods = crate::stock::seed(&app, &store);
        app.user("boss", Role::Admin, None, None);
        let t = token(&app, "boss").await;
        for (i, q) in [i64::MIN, i64::MAX, 1_000_001, -1_000_001].into_iter().enumerate() {
            let (s, body) = api_post(&app, &t, &format!("adj-{i}"), "/api/v1/stock-movements", json!({
                "kind": "adjustment", "store_id": store, "item_id": goods.items[0], "quantity": q, "reason": "盘错"
            })).await;
            assert_eq!((s, body["error"]["field"].as_str()), (422, Some("quantity")), "{q}: {body}");
        }
        // A donation dated after today posts nothing.
        let (s, body) = api_post(&app, &t, "don-future", "/api/v1/donations", json!({
            "store_id": store, "donor_id": goods.donor, "received_on": "2099-01-01",
            "lines": [{"item_id": goods.items[0], "quantity": 1}]
        })).await;
        assert_eq!((s, body["error"]["field"].as_str()), (422, Some("received_on")), "{body}");
        // A reason of invisible characters is no reason.
        let (s, body) = api_post(&app, &t, "wo-blank", "/api/v1/stock-movements", json!({
            "kind": "write_off", "store_id": store, "item_id": goods.items[0], "quantity": 1, "reason": "\u{200B}\u{FEFF} "
        })).await;
        assert_eq!((s, body["error"]["field"].as_str()), (422, Some("reason")), "{body}");
    }
}

app_test! {
    async fn a_household_page_closes_with_its_card_and_tells_nothing_of_cards(app) {
        let [_, _, _, village] = app.area_chain("换卡");
        let (household, card) = app.household_with_id("赵六", &village, &test_id_number());
        let pin = aixin::households::card_pin(&mut app.conn(), &app.key, &card).unwrap().unwrap();
        let h = app.client();
        h.submit("/h/login", &[("card_no", &card), ("pin", &pin)]).await.assert_contains("id=\"balance\"");
        // The card is lost and reissued: the page opened with it closes.
        app.user("h-official", Role::Official, Some(&village), None);
        let official = app.client();
        official.login("h-official", PASSWORD).await;
        assert_eq!(official.post(&format!("/households/{household}/card"), &[]).await.status, 303);
        let after = h.get("/h").await;
        assert!(!after.body.contains("id=\"balance\""), "the old card's session ended");
        // A card without a PIN answers as a wrong PIN does.
        let (_, other) = app.household_with_id("钱七", &village, &test_id_number());
        {
            use aixin::db::schema::points_cards;
            use diesel::prelude::*;
            diesel::update(points_cards::table.find(&other))
                .set(points_cards::pin_cipher.eq(None::<String>))
                .execute(&mut app.conn())
                .unwrap();
        }
        let c = app.client();
        let no_pin = c.post("/h/login", &[("card_no", &other), ("pin", "135790")]).await;
        let unknown = c.post("/h/login", &[("card_no", "1234567897"), ("pin", "135790")]).await;
        assert_eq!((no_pin.status, unknown.status), (401, 401));
    }
}
