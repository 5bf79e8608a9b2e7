//! The JSON API, tried as a program would: a token, then the scheme's whole
//! story over HTTP, every response checked against the OpenAPI description.

use std::sync::Mutex;

use aixin::domain::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, test_id_number};

fn today() -> chrono::NaiveDate {
    aixin::time::today(chrono_tz::Asia::Shanghai)
}

/// One response, with the route template it came from (for the schema check).
struct Seen {
    method: Method,
    template: String,
    status: u16,
    body: Value,
}

/// A program talking to the API: no cookies, JSON in and out.
struct Api {
    base: String,
    http: reqwest::Client,
    seen: Mutex<Vec<Seen>>,
}

struct Call<'a> {
    method: Method,
    template: &'a str,
    params: &'a [&'a str],
    token: Option<&'a str>,
    key: Option<&'a str>,
    body: Option<String>,
    lang: Option<&'a str>,
}

impl Api {
    fn new(app: &TestApp) -> Api {
        Api {
            base: app.addr.clone(),
            http: reqwest::Client::new(),
            seen: Mutex::new(Vec::new()),
        }
    }

    async fn send(&self, c: Call<'_>) -> (u16, Value) {
        let mut path = c.template.to_string();
        for p in c.params {
            let start = path.find('{').expect("a parameter in the template");
            let end = path[start..].find('}').unwrap() + start;
            path.replace_range(start..=end, p);
        }
        let mut rb = self
            .http
            .request(c.method.clone(), format!("{}{}", self.base, path));
        if let Some(t) = c.token {
            rb = rb.bearer_auth(t);
        }
        if let Some(k) = c.key {
            rb = rb.header("Idempotency-Key", k);
        }
        if let Some(l) = c.lang {
            rb = rb.header("Accept-Language", l);
        }
        if let Some(b) = c.body {
            rb = rb.header("Content-Type", "application/json").body(b);
        }
        let res = rb.send().await.expect("the API answers");
        let status = res.status().as_u16();
        let ct = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = res.text().await.unwrap();
        assert!(
            ct.starts_with("application/json"),
            "{} {path}: content type {ct}, body {text}",
            c.method
        );
        let body: Value = serde_json::from_str(&text).expect("JSON");
        self.seen.lock().unwrap().push(Seen {
            method: c.method,
            template: c.template.split('?').next().unwrap_or("").to_string(),
            status,
            body: body.clone(),
        });
        (status, body)
    }

    async fn get(&self, template: &str, params: &[&str], token: &str) -> (u16, Value) {
        self.send(Call {
            method: Method::GET,
            template,
            params,
            token: Some(token),
            key: None,
            body: None,
            lang: None,
        })
        .await
    }

    async fn post(
        &self,
        template: &str,
        params: &[&str],
        token: &str,
        key: Option<&str>,
        body: Value,
    ) -> (u16, Value) {
        self.send(Call {
            method: Method::POST,
            template,
            params,
            token: Some(token),
            key,
            body: Some(body.to_string()),
            lang: None,
        })
        .await
    }

    async fn patch(
        &self,
        template: &str,
        params: &[&str],
        token: &str,
        body: Value,
    ) -> (u16, Value) {
        self.send(Call {
            method: Method::PATCH,
            template,
            params,
            token: Some(token),
            key: None,
            body: Some(body.to_string()),
            lang: None,
        })
        .await
    }

    async fn token(&self, username: &str) -> String {
        let (status, body) = self
            .send(Call {
                method: Method::POST,
                template: "/api/v1/tokens",
                params: &[],
                token: None,
                key: None,
                body: Some(json!({"username": username, "password": PASSWORD}).to_string()),
                lang: None,
            })
            .await;
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    /// Every response seen so far matches the schema the description gives
    /// for its route and status.
    async fn check_against_description(&self) {
        let doc: Value = reqwest::get(format!("{}/api/openapi.json", self.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for s in self.seen.lock().unwrap().iter() {
            let op = &doc["paths"][&s.template][s.method.as_str().to_lowercase()];
            assert!(
                op.is_object(),
                "{} {} is not described",
                s.method,
                s.template
            );
            let schema =
                &op["responses"][s.status.to_string()]["content"]["application/json"]["schema"];
            assert!(
                schema.is_object(),
                "{} {} answered {} which is not described: {}",
                s.method,
                s.template,
                s.status,
                s.body
            );
            if let Err(e) = validate(&doc, schema, &s.body, "$") {
                panic!(
                    "{} {} {}: {e}\nbody: {}",
                    s.method, s.template, s.status, s.body
                );
            }
        }
    }
}

/// A small JSON Schema (2020-12 subset) check: $ref into the document, type
/// (with "null"), properties and required, items, enum, oneOf/anyOf/allOf.
fn validate(doc: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        let mut target = doc;
        for part in r.trim_start_matches("#/").split('/') {
            target = &target[part];
        }
        if target.is_null() {
            return Err(format!("{at}: unresolved {r}"));
        }
        return validate(doc, target, v, at);
    }
    for (k, all) in [("oneOf", false), ("anyOf", false), ("allOf", true)] {
        if let Some(list) = schema[k].as_array() {
            let ok: Vec<bool> = list
                .iter()
                .map(|s| validate(doc, s, v, at).is_ok())
                .collect();
            let n = ok.iter().filter(|b| **b).count();
            let pass = match (k, all) {
                (_, true) => n == list.len(),
                ("oneOf", _) => n == 1,
                _ => n >= 1,
            };
            if !pass {
                return Err(format!("{at}: {k} fails ({n} of {} match)", list.len()));
            }
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(|t| t.as_str()).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() {
        let ok = types.iter().any(|t| match *t {
            "null" => v.is_null(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => false,
        });
        if !ok {
            return Err(format!("{at}: {v} is not of type {types:?}"));
        }
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(v)
    {
        return Err(format!("{at}: {v} is not one of {options:?}"));
    }
    if let Some(obj) = v.as_object() {
        if let Some(req) = schema["required"].as_array() {
            for r in req {
                let r = r.as_str().unwrap();
                if !obj.contains_key(r) {
                    return Err(format!("{at}: missing required {r}"));
                }
            }
        }
        if let Some(props) = schema["properties"].as_object() {
            for (k, s) in props {
                if let Some(x) = obj.get(k) {
                    validate(doc, s, x, &format!("{at}.{k}"))?;
                }
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            validate(doc, items, x, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

app_test! {
    /// The issue's story, with curl's eyes: token, area, household, rule,
    /// award approved by someone else, a stocked store, a redemption that a
    /// replay cannot repeat, and the monthly report.
    async fn the_whole_story_over_the_api(app) {
        app.user("boss", Role::Admin, None, None);
        let api = Api::new(&app);
        let admin = api.token("boss").await;

        // Areas, from the city down.
        let (s, city) = api.post("/api/v1/areas", &[], &admin, None, json!({"name": "济南市"})).await;
        assert_eq!(s, 201, "{city}");
        assert_eq!(city["level"], "city");
        let (_, district) = api.post("/api/v1/areas", &[], &admin, None, json!({"name": "历下区", "parent_id": id(&city)})).await;
        let (_, town) = api.post("/api/v1/areas", &[], &admin, None, json!({"name": "姚家街道", "parent_id": id(&district), "level": "town"})).await;
        let (s, village) = api.post("/api/v1/areas", &[], &admin, None, json!({"name": "东村", "parent_id": id(&town)})).await;
        assert_eq!((s, village["level"].as_str()), (201, Some("village")));
        let (s, wrong) = api.post("/api/v1/areas", &[], &admin, None, json!({"name": "西村", "parent_id": id(&town), "level": "city"})).await;
        assert_eq!((s, wrong["error"]["field"].as_str()), (422, Some("level")), "{wrong}");
        let (s, one) = api.get("/api/v1/areas/{id}", &[&id(&village)], &admin).await;
        assert_eq!((s, one["parent_id"].as_str()), (200, Some(id(&town).as_str())));

        // A household.
        let id_number = test_id_number();
        let (s, household) = api.post("/api/v1/households", &[], &admin, None, json!({
            "head_name": "王大山", "id_number": id_number, "area_id": id(&village), "members": 3
        })).await;
        assert_eq!(s, 201, "{household}");
        assert_eq!(household["balance"], 0);
        assert!(!household.to_string().contains(&id_number), "the ID number never comes back");
        let card_no = household["card_no"].as_str().unwrap().to_string();
        let hid = id(&household);

        // People: an official and a reviewer of the village, a clerk.
        let (s, official) = api.post("/api/v1/users", &[], &admin, None, json!({
            "username": "li.official", "role": "official", "area_id": id(&village), "password": PASSWORD
        })).await;
        assert_eq!(s, 201, "{official}");
        api.post("/api/v1/users", &[], &admin, None, json!({
            "username": "zhao.reviewer", "role": "reviewer", "area_id": id(&town), "password": PASSWORD
        })).await;
        let official_t = api.token("li.official").await;
        let reviewer_t = api.token("zhao.reviewer").await;

        // A rule and an award, approved by the reviewer.
        let (s, rule) = api.post("/api/v1/rules", &[], &admin, None, json!({
            "code": "LD01", "name": "参加公益劳动", "category": "cat-01", "points": 50,
            "cap_count": 3, "cap_period": "month"
        })).await;
        assert_eq!(s, 201, "{rule}");
        let (s, rules) = api.get("/api/v1/rules", &[], &official_t).await;
        assert!(s == 200 && rules.as_array().unwrap().iter().any(|r| r["code"] == "LD01"));
        let award_body = json!({"household_id": hid, "rule_id": id(&rule), "occurred_on": today().to_string(), "note": "打扫村道"});
        let (s, made) = api.post("/api/v1/awards", &[], &official_t, Some("award-1"), award_body.clone()).await;
        assert_eq!(s, 201, "{made}");
        let award = made["awards"][0].clone();
        assert_eq!(award["status"], "pending");
        // Its proposer may not approve it (no review right at all).
        let (s, _) = api.post("/api/v1/awards/{id}/approve", &[&id(&award)], &official_t, Some("ok-1"), json!({})).await;
        assert_eq!(s, 403);
        let (s, queue) = api.get("/api/v1/awards?status=pending", &[], &reviewer_t).await;
        assert!(s == 200 && queue.as_array().unwrap().len() == 1, "{queue}");
        // A decision carries the version the reviewer saw (#16.2): without
        // it, 422 naming `version`, nothing changed; a stale one, 409.
        for (key, body) in [("nv-1", json!({})), ("nv-2", json!({"version": null})), ("nv-3", json!({"reason": "好"}))] {
            let (s, refused) = api.post("/api/v1/awards/{id}/approve", &[&id(&award)], &reviewer_t, Some(key), body).await;
            assert_eq!((s, refused["error"]["field"].as_str()), (422, Some("version")), "{refused}");
        }
        let (s, refused) = api.send(Call {
            method: Method::POST,
            template: "/api/v1/awards/{id}/reject",
            params: &[&id(&award)],
            token: Some(&reviewer_t),
            key: Some("nv-4"),
            body: Some(String::new()),
            lang: None,
        }).await;
        assert_eq!((s, refused["error"]["field"].as_str()), (422, Some("version")), "an empty body: {refused}");
        let (s, stale) = api.post("/api/v1/awards/{id}/approve", &[&id(&award)], &reviewer_t, Some("nv-5"), json!({"version": 0})).await;
        assert_eq!(s, 409, "{stale}");
        let (s, approved) = api.post("/api/v1/awards/{id}/approve", &[&id(&award)], &reviewer_t, Some("ok-1"), json!({"version": award["version"]})).await;
        assert_eq!((s, approved["status"].as_str()), (200, Some("approved")), "{approved}");
        let (_, h) = api.get("/api/v1/households/{id}", &[&hid], &official_t).await;
        assert_eq!(h["balance"], 50);

        // A store with goods, booked in by its clerk as a donation.
        let (s, item) = api.post("/api/v1/items", &[], &admin, None, json!({"name": "大米 5kg", "unit": "袋", "points_price": 20})).await;
        assert_eq!(s, 201, "{item}");
        let (s, store) = api.post("/api/v1/stores", &[], &admin, None, json!({"name": "东村爱心超市", "area_id": id(&town)})).await;
        assert_eq!(s, 201, "{store}");
        let (s, _) = api.post("/api/v1/users", &[], &admin, None, json!({
            "username": "chen.clerk", "role": "clerk", "store_id": id(&store), "password": PASSWORD
        })).await;
        assert_eq!(s, 201);
        let clerk = api.token("chen.clerk").await;
        let (s, donation) = api.post("/api/v1/donations", &[], &clerk, Some("don-1"), json!({
            "store_id": id(&store), "donor": {"name": "某某粮油公司", "kind": "enterprise"},
            "received_on": today().to_string(),
            "lines": [{"item_id": id(&item), "quantity": 5, "value_fen": 25000}]
        })).await;
        assert_eq!(s, 201, "{donation}");
        let (s, shelf) = api.get("/api/v1/stores/{id}/stock", &[&id(&store)], &clerk).await;
        assert_eq!((s, &shelf["lines"][0]["quantity"]), (200, &json!(5)), "{shelf}");

        // Redeem; a replay returns the same receipt and changes nothing.
        let basket = json!({"store_id": id(&store), "card_no": card_no, "lines": [{"item_id": id(&item), "quantity": 2}]});
        let (s, receipt) = api.post("/api/v1/redemptions", &[], &clerk, Some("counter-1"), basket.clone()).await;
        assert_eq!(s, 201, "{receipt}");
        assert_eq!((receipt["total_points"].as_i64(), receipt["balance_after"].as_i64()), (Some(40), Some(10)));
        let (s, again) = api.post("/api/v1/redemptions", &[], &clerk, Some("counter-1"), basket.clone()).await;
        assert_eq!((s, &again), (201, &receipt));
        // The same meaning in other words (keys in another order, other white
        // space) is the same request: a replay, not a reused key.
        let reordered = format!(
            "{{ \"lines\" : [ {{ \"quantity\": 2, \"item_id\": \"{}\" }} ],\n  \"card_no\": \"{}\", \"store_id\": \"{}\" }}",
            id(&item), card_no, id(&store)
        );
        let (s, again) = api
            .send(Call { method: Method::POST, template: "/api/v1/redemptions", params: &[], token: Some(&clerk), key: Some("counter-1"), body: Some(reordered), lang: None })
            .await;
        assert_eq!((s, &again), (201, &receipt));
        let other = json!({"store_id": id(&store), "card_no": card_no, "lines": [{"item_id": id(&item), "quantity": 1}]});
        let (s, reused) = api.post("/api/v1/redemptions", &[], &clerk, Some("counter-1"), other.clone()).await;
        assert_eq!((s, reused["error"]["code"].as_str()), (409, Some("idempotency_key_reused")), "{reused}");
        let (s, short) = api.post("/api/v1/redemptions", &[], &clerk, Some("counter-2"), other).await;
        assert_eq!((s, short["error"]["code"].as_str()), (409, Some("insufficient_points")), "{short}");
        let (_, h) = api.get("/api/v1/households/{id}", &[&hid], &admin).await;
        assert_eq!(h["balance"], 10);
        let (_, shelf) = api.get("/api/v1/stores/{id}/stock", &[&id(&store)], &clerk).await;
        assert_eq!(shelf["lines"][0]["quantity"], 3);
        let (s, r) = api.get("/api/v1/redemptions/{id}", &[&id(&receipt)], &clerk).await;
        assert_eq!((s, &r), (200, &receipt));
        let (s, ledger) = api.get("/api/v1/households/{id}/ledger", &[&hid], &admin).await;
        assert_eq!((s, ledger["entries"].as_array().map(Vec::len)), (200, Some(2)), "{ledger}");

        // The monthly report.
        let month = today().format("%Y-%m").to_string();
        let (s, report) = api.get(&format!("/api/v1/reports/monthly?month={month}&area_id={}", id(&city)), &[], &admin).await;
        assert_eq!(s, 200, "{report}");
        assert_eq!(report["points"]["awarded"], 50);
        assert_eq!(report["redemptions"]["count"], 1);
        assert_eq!(report["redemptions"]["points"], 40);
        let (s, store_report) = api.get(&format!("/api/v1/reports/monthly?store_id={}", id(&store)), &[], &admin).await;
        assert_eq!(s, 200, "{store_report}");

        // A clerk of another store is refused there.
        let (_, store2) = api.post("/api/v1/stores", &[], &admin, None, json!({"name": "西村爱心超市", "area_id": id(&town)})).await;
        let (_, clerk2) = api.post("/api/v1/users", &[], &admin, None, json!({
            "username": "sun.clerk", "role": "clerk", "store_id": id(&store2), "password": PASSWORD
        })).await;
        let clerk2_t = api.token("sun.clerk").await;
        let (s, denied) = api.post("/api/v1/redemptions", &[], &clerk2_t, Some("counter-x"), basket).await;
        assert_eq!((s, denied["error"]["code"].as_str()), (403, Some("forbidden")));
        let (s, _) = api.get("/api/v1/stores/{id}/stock", &[&id(&store)], &clerk2_t).await;
        assert_eq!(s, 403);
        let (s, _) = api.get("/api/v1/households", &[], &clerk2_t).await;
        assert_eq!(s, 403);
        assert!(app.audit_actions().iter().any(|a| a == "access.denied"));

        // Voiding gives the points back; a disabled user's token stops at once.
        let (s, void) = api.post("/api/v1/redemptions/{id}/void", &[&id(&receipt)], &clerk, Some("void-1"), json!({"reason": "录错了"})).await;
        assert_eq!((s, void["status"].as_str()), (200, Some("void")), "{void}");
        let (s, off) = api.patch("/api/v1/users/{id}", &[&id(&clerk2)], &admin, json!({"disabled": true})).await;
        assert_eq!((s, off["disabled"].as_bool()), (200, Some(true)));
        let (s, gone) = api.get("/api/v1/items", &[], &clerk2_t).await;
        assert_eq!((s, gone["error"]["code"].as_str()), (401, Some("unauthorized")));

        // Lists.
        let (s, page) = api.get(&format!("/api/v1/households?card_no={card_no}"), &[], &official_t).await;
        assert_eq!((s, page["total"].as_i64()), (200, Some(1)));
        for (path, token) in [
            ("/api/v1/households", &official_t),
            ("/api/v1/areas", &official_t),
            ("/api/v1/awards", &official_t),
            ("/api/v1/stores", &admin),
            ("/api/v1/items", &clerk),
            ("/api/v1/users", &admin),
        ] {
            let (s, body) = api.get(path, &[], token).await;
            assert_eq!(s, 200, "{path}: {body}");
        }

        api.check_against_description().await;
    }
}

app_test! {
    /// What a client can get wrong: each is a JSON error with the right
    /// status, naming the field, in the caller's language.
    async fn bad_requests_are_json_errors(app) {
        app.user("boss", Role::Admin, None, None);
        let [_, _, _, village] = app.area_chain("东");
        let api = Api::new(&app);
        let admin = api.token("boss").await;

        // No token, a wrong one, a cookie instead of a token.
        let (s, _) = api.send(Call { method: Method::GET, template: "/api/v1/areas", params: &[], token: None, key: None, body: None, lang: None }).await;
        assert_eq!(s, 401);
        let (s, _) = api.get("/api/v1/areas", &[], "ax_nope").await;
        assert_eq!(s, 401);
        let (s, refused) = api.send(Call {
            method: Method::POST, template: "/api/v1/tokens", params: &[], token: None, key: None,
            body: Some(json!({"username": "boss", "password": "wrong-password"}).to_string()), lang: Some("en"),
        }).await;
        assert_eq!((s, refused["error"]["code"].as_str()), (401, Some("login_refused")));

        // Malformed JSON, a wrong type, an unknown path, a wrong method.
        let (s, bad) = api.send(Call {
            method: Method::POST, template: "/api/v1/households", params: &[], token: Some(&admin), key: None,
            body: Some("{\"head_name\": ".into()), lang: None,
        }).await;
        assert_eq!((s, bad["error"]["code"].as_str()), (400, Some("malformed")));
        // Readable JSON of the wrong shape: 422 naming the field, in the
        // caller's language, down to the line of a basket.
        let (s, wrong) = api.post("/api/v1/households", &[], &admin, None, json!({"head_name": 1})).await;
        assert_eq!((s, wrong["error"]["field"].as_str()), (422, Some("head_name")), "{wrong}");
        assert!(wrong["error"]["message"].as_str().unwrap().contains("字段 head_name"), "{wrong}");
        let (s, missing) = api.post("/api/v1/households", &[], &admin, None, json!({"members": 2})).await;
        assert_eq!((s, missing["error"]["field"].as_str()), (422, Some("head_name")), "{missing}");
        let (s, line) = api.post("/api/v1/redemptions", &[], &admin, Some("shape-1"),
            json!({"store_id": "s", "card_no": "1", "lines": [{"item_id": "i", "quantity": "三"}]})).await;
        assert_eq!((s, line["error"]["field"].as_str()), (422, Some("lines[0].quantity")), "{line}");
        let (s, nf) = api.get("/api/v1/nothing-here", &[], &admin).await;
        assert_eq!((s, nf["error"]["code"].as_str()), (404, Some("not_found")));
        api.seen.lock().unwrap().pop(); // not a described route
        let (s, page) = api.get("/api/v1/households?page=abc", &[], &admin).await;
        assert_eq!((s, page["error"]["field"].as_str()), (422, Some("page")), "{page}");

        // An invalid field: 422, named, in English when asked.
        let (s, invalid) = api.send(Call {
            method: Method::POST, template: "/api/v1/households", params: &[], token: Some(&admin), key: None,
            body: Some(json!({"head_name": "王", "id_number": test_id_number(), "area_id": village, "members": 0}).to_string()),
            lang: Some("en-US,en;q=0.9,zh;q=0.5"),
        }).await;
        assert_eq!(s, 422, "{invalid}");
        assert_eq!(invalid["error"]["field"], "members");
        assert!(invalid["error"]["message"].as_str().unwrap().is_ascii(), "{invalid}");
        let (s, invalid) = api.post("/api/v1/households", &[], &admin, None,
            json!({"head_name": "王", "id_number": "123", "area_id": village, "members": 2})).await;
        assert_eq!((s, invalid["error"]["field"].as_str()), (422, Some("id_number")));
        let (s, unknown) = api.get("/api/v1/households/{id}", &["0190a0a0-0000-7000-8000-000000000000"], &admin).await;
        assert_eq!((s, unknown["error"]["code"].as_str()), (404, Some("not_found")));
        // A query parameter that should hold an id and does not is refused
        // by its name, never read as "nothing found".
        let (s, e) = api.get("/api/v1/households?area_id=xyz", &[], &admin).await;
        assert_eq!((s, e["error"]["field"].as_str()), (422, Some("area_id")), "{e}");
        let (s, e) = api.get("/api/v1/awards?household_id=xyz", &[], &admin).await;
        assert_eq!((s, e["error"]["field"].as_str()), (422, Some("household_id")), "{e}");

        // Writes that move points or goods need a key.
        let (s, nokey) = api.post("/api/v1/redemptions", &[], &admin, None, json!({})).await;
        assert_eq!((s, nokey["error"]["code"].as_str()), (400, Some("idempotency_key_required")));

        // Nothing above changed anything.
        let (_, page) = api.get("/api/v1/households", &[], &admin).await;
        assert_eq!(page["total"], 0);
        api.check_against_description().await;
    }
}

app_test! {
    /// A list's filter or page outside what it takes is refused, naming
    /// the query parameter; nothing is read as the first page or clamped.
    async fn list_filters_and_pages_out_of_range_are_refused_by_name(app) {
        app.user("boss", Role::Admin, None, None);
        let api = Api::new(&app);
        let admin = api.token("boss").await;
        for (query, field) in [
            ("status=rich", "status"),
            ("archived=yes", "archived"),
            ("page=0", "page"),
            ("page=-1", "page"),
            ("page=abc", "page"),
            ("per_page=0", "per_page"),
            ("per_page=201", "per_page"),
        ] {
            let (s, e) = api.get(&format!("/api/v1/households?{query}"), &[], &admin).await;
            assert_eq!((s, e["error"]["field"].as_str()), (422, Some(field)), "{query}: {e}");
        }
        let (_, e) = api.get("/api/v1/households?per_page=500", &[], &admin).await;
        assert!(e["error"]["message"].as_str().unwrap().contains("200"), "{e}");
        let (s, e) = api.get("/api/v1/awards?status=later", &[], &admin).await;
        assert_eq!((s, e["error"]["field"].as_str()), (422, Some("status")), "{e}");
        let (s, page) = api.get("/api/v1/households?page=1&per_page=200", &[], &admin).await;
        assert_eq!((s, &page["per_page"]), (200, &json!(200)), "{page}");
        api.check_against_description().await;
    }
}

app_test! {
    /// What a program sends wrong in a query or a body is named as sent:
    /// bytes that are not UTF-8, a parameter or key given twice, a NUL on
    /// any route, a body that is not an object, a line by its number, an
    /// amount in fen.
    async fn queries_and_bodies_are_refused_by_what_was_sent(app) {
        app.user("boss", Role::Admin, None, None);
        let [_, _, town, _] = app.area_chain("送");
        let store = app.store("送村爱心超市", &town);
        let api = Api::new(&app);
        let admin = api.token("boss").await;
        let en = |template: &'static str| Call { method: Method::GET, template, params: &[], token: None, key: None, body: None, lang: Some("en") };
        let (s, e) = api.send(Call { token: Some(&admin), ..en("/api/v1/households?q=%FF") }).await;
        assert_eq!((s, e["error"]["field"].as_str()), (422, Some("q")), "{e}");
        assert!(e["error"]["message"].as_str().unwrap().contains("not UTF-8"), "{e}");
        let (s, e) = api.get("/api/v1/households?q=a&q=b", &[], &admin).await;
        assert_eq!((s, e["error"]["field"].as_str()), (422, Some("q")), "{e}");
        assert!(e["error"]["message"].as_str().unwrap().contains("两次"), "{e}");
        for path in ["/api/v1/areas?x=%00", "/api/v1/rules?x=%00", "/api/v1/households?x=%00", "/api/v1/awards?x=%00"] {
            let (s, e) = api.get(path, &[], &admin).await;
            assert_eq!((s, e["error"]["field"].as_str()), (422, Some("x")), "{path}: {e}");
        }
        // A key given twice, a list for a body.
        let (s, e) = api.send(Call {
            method: Method::POST, template: "/api/v1/items", params: &[], token: Some(&admin), key: None,
            body: Some(r#"{"name": "毛巾", "name": "肥皂", "unit": "条", "points_price": 5}"#.into()), lang: None,
        }).await;
        assert_eq!((s, e["error"]["field"].as_str()), (422, Some("name")), "{e}");
        let (s, e) = api.send(Call {
            method: Method::POST, template: "/api/v1/items", params: &[], token: Some(&admin), key: None,
            body: Some(r#"[{"name": "毛巾"}]"#.into()), lang: Some("en"),
        }).await;
        assert_eq!(s, 422, "{e}");
        assert!(e["error"]["field"].is_null(), "{e}");
        assert!(e["error"]["message"].as_str().unwrap().contains("must be a JSON object"), "{e}");
        // A line by its number in words; an amount in fen.
        let (_, item) = api.post("/api/v1/items", &[], &admin, None, json!({"name": "毛巾", "unit": "条", "points_price": 5})).await;
        let item = id(&item);
        let day = today().to_string();
        let (s, e) = api.send(Call {
            method: Method::POST, template: "/api/v1/donations", params: &[], token: Some(&admin), key: Some("dl-1"),
            body: Some(json!({"store_id": store, "donor": {"name": "好心人", "kind": "individual"}, "received_on": day,
                "lines": [{"item_id": item, "quantity": 1}, {"item_id": item, "quantity": "二"}]}).to_string()),
            lang: Some("en"),
        }).await;
        assert_eq!((s, e["error"]["field"].as_str()), (422, Some("lines[1].quantity")), "{e}");
        assert!(e["error"]["message"].as_str().unwrap().starts_with("Line 2:"), "{e}");
        let (s, e) = api.send(Call {
            method: Method::POST, template: "/api/v1/donations", params: &[], token: Some(&admin), key: Some("dl-2"),
            body: Some(json!({"store_id": store, "donor": {"name": "好心人", "kind": "individual"}, "received_on": day,
                "money_fen": -5, "lines": [{"item_id": item, "quantity": 1}]}).to_string()),
            lang: Some("en"),
        }).await;
        assert_eq!((s, e["error"]["field"].as_str()), (422, Some("money_fen")), "{e}");
        let said = e["error"]["message"].as_str().unwrap();
        assert!(said.contains("fen") && !said.contains("such as 45.50"), "{e}");
        api.seen.lock().unwrap().clear();
    }
}

app_test! {
    /// A household reads its balance with its card and PIN, and nothing
    /// else; guessing PINs is cut short.
    async fn card_and_pin(app) {
        let [_, _, _, village] = app.area_chain("南");
        let (household, card) = app.household_with_id("刘春花", &village, &test_id_number());
        crate::helpers::fund(&mut app.conn(), &household, 30);
        let pin = aixin::households::card_pin(&mut app.conn(), &app.key, &card)
            .unwrap()
            .expect("a new card has a PIN");
        assert_eq!(pin.len(), 6);
        let api = Api::new(&app);
        let ask = |pin: String| Call {
            method: Method::POST, template: "/api/v1/card", params: &[], token: None, key: None,
            body: Some(json!({"card_no": card, "pin": pin}).to_string()), lang: None,
        };
        let (s, seen) = api.send(ask(pin.clone())).await;
        assert_eq!(s, 200, "{seen}");
        assert_eq!(seen["balance"], 30);
        assert_eq!(seen["entries"].as_array().unwrap().len(), 1);
        assert!(!seen.to_string().contains("刘春花"), "nothing else about the household");
        let wrong = if pin == "000000" { "111111" } else { "000000" }.to_string();
        let mut statuses = Vec::new();
        for _ in 0..6 {
            statuses.push(api.send(ask(wrong.clone())).await.0);
        }
        assert_eq!(statuses[0], 401);
        assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
        // Now even the right PIN waits.
        assert_eq!(api.send(ask(pin.clone())).await.0, 429);

        // The PIN is printed with the card.
        let official = app.admin().await;
        official.get(&format!("/households/{household}/card")).await.assert_contains(&pin);

        // A card from before PINs has none until it is reissued.
        let (old_household, old_card) = app.household_with_id("孙大伟", &village, &test_id_number());
        {
            use aixin::db::schema::points_cards;
            use diesel::prelude::*;
            diesel::update(points_cards::table.find(&old_card))
                .set(points_cards::pin_cipher.eq(None::<String>))
                .execute(&mut app.conn())
                .unwrap();
        }
        let (s, none) = api.send(Call {
            method: Method::POST, template: "/api/v1/card", params: &[], token: None, key: None,
            body: Some(json!({"card_no": old_card, "pin": "123456"}).to_string()), lang: None,
        }).await;
        // It answers as a wrong PIN does: which card numbers exist is not told.
        assert_eq!((s, none["error"]["code"].as_str()), (401, Some("card_refused")));
        let reissued = official.post(&format!("/households/{old_household}/card"), &[]).await;
        assert_eq!(reissued.status, 303);
        let new_card: String = {
            use aixin::db::schema::points_cards;
            use diesel::prelude::*;
            points_cards::table
                .filter(points_cards::household_id.eq(&old_household))
                .filter(points_cards::replaced_by.is_null())
                .select(points_cards::card_no)
                .first(&mut app.conn())
                .unwrap()
        };
        assert!(aixin::households::card_pin(&mut app.conn(), &app.key, &new_card).unwrap().is_some());
        api.check_against_description().await;
    }
}

app_test! {
    /// Every route of the API table is in the description, with its method,
    /// and the reference page is served from the app itself.
    async fn every_route_is_described(app) {
        let doc: Value = reqwest::get(app.url("/api/openapi.json")).await.unwrap().json().await.unwrap();
        assert_eq!(doc["openapi"].as_str().map(|v| v.starts_with("3.1")), Some(true));
        assert!(doc["components"]["securitySchemes"]["bearerAuth"].is_object());
        let mut described = 0;
        for r in aixin::api::routes::table() {
            let op = &doc["paths"][r.path][r.method.as_str().to_lowercase()];
            assert!(op.is_object(), "{} {} is not in /api/openapi.json", r.method, r.path);
            described += 1;
        }
        let in_doc: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(described, in_doc, "the description has routes the app does not");
        let page = reqwest::get(app.url("/api/docs")).await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("/static/api/swagger-ui-bundle.js") && !html.contains("http"), "no CDN");
        let js = reqwest::get(app.url("/static/api/swagger-ui-bundle.js")).await.unwrap();
        assert_eq!(js.status(), 200);
    }
}

/// The secret of a token just made, as the profile page shows it (once).
fn new_token_secret(body: &str) -> String {
    body.split("<code id=\"new-token\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the secret on the page")
        .to_string()
}

app_test! {
    /// A named token made on the profile page works until it is revoked
    /// there; its secret is shown once and never stored.
    async fn named_tokens_from_the_profile_page(app) {
        let admin = app.admin().await;
        // Making one asks for the password again (#17.4).
        let page = admin.post("/profile/tokens", &[("name", "东村扫码枪"), ("password", PASSWORD)]).await;
        assert_eq!(page.status, 200);
        let secret = new_token_secret(&page.body);
        let api = Api::new(&app);
        let (s, _) = api.get("/api/v1/rules", &[], &secret).await;
        assert_eq!(s, 200);
        // The API reads no cookies: a logged-in browser is not a caller.
        let with_cookie = admin.get("/api/v1/rules").await;
        assert_eq!(with_cookie.status, 401);
        let listed = admin.get("/profile").await;
        listed.assert_contains("东村扫码枪");
        assert!(!listed.body.contains(&secret), "shown once");
        let token_id = listed
            .body
            .split("/profile/tokens/")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap()
            .to_string();
        let done = admin.post(&format!("/profile/tokens/{token_id}/revoke"), &[]).await;
        assert_eq!(done.status, 303);
        let (s, _) = api.get("/api/v1/rules", &[], &secret).await;
        assert_eq!(s, 401);
        let actions = app.audit_actions();
        assert!(actions.iter().any(|a| a == "token.create") && actions.iter().any(|a| a == "token.revoke"));
    }
}

app_test! {
    /// The same redemption sent many times at once (a scanner retrying on a
    /// bad line): one redemption, one debit, every answer the same receipt.
    async fn parallel_replays_redeem_once(app) {
        app.user("boss", Role::Admin, None, None);
        let [_, _, town, village] = app.area_chain("北");
        let store = app.store("北村爱心超市", &town);
        app.user("wu.clerk", Role::Clerk, None, Some(&store));
        let (household, card) = app.household_with_id("吴秋月", &village, &test_id_number());
        crate::helpers::fund(&mut app.conn(), &household, 100);
        let api = Api::new(&app);
        let admin = api.token("boss").await;
        let (_, item) = api.post("/api/v1/items", &[], &admin, None, json!({"name": "肥皂", "unit": "块", "points_price": 7})).await;
        let clerk = api.token("wu.clerk").await;
        let (s, _) = api.post("/api/v1/donations", &[], &clerk, Some("don-p"), json!({
            "store_id": store, "donor": {"name": "好心人", "kind": "individual"},
            "received_on": today().to_string(), "lines": [{"item_id": id(&item), "quantity": 10}]
        })).await;
        assert_eq!(s, 201);
        let body = json!({"store_id": store, "card_no": card, "lines": [{"item_id": id(&item), "quantity": 3}]});
        let answers = futures_util::future::join_all((0..6).map(|_| {
            api.post("/api/v1/redemptions", &[], &clerk, Some("scan-42"), body.clone())
        }))
        .await;
        let first = &answers[0].1;
        for (s, b) in &answers {
            assert_eq!((*s, b), (201, first), "every answer is the first receipt");
        }
        let (_, h) = api.get("/api/v1/households/{id}", &[&household], &admin).await;
        assert_eq!(h["balance"], 100 - 21);
        let (_, shelf) = api.get("/api/v1/stores/{id}/stock", &[&store], &clerk).await;
        assert_eq!(shelf["lines"][0]["quantity"], 7);

        // A month on, housekeeping forgets the stored answers; a replay then
        // finds the redemption made the first time and moves nothing.
        {
            use aixin::api::idempotency::{KEEP_DAYS, purge_older_than};
            use aixin::db::schema::idempotency_keys as idem;
            use diesel::prelude::*;
            let mut c = app.conn();
            let api_keys = idem::table.filter(idem::scope.eq(aixin::idempotency::API_SCOPE));
            let month_ago = aixin::db::now() - chrono::Duration::days(KEEP_DAYS + 1);
            diesel::update(api_keys).set(idem::created_at.eq(month_ago)).execute(&mut c).unwrap();
            let cut = aixin::db::now() - chrono::Duration::days(KEEP_DAYS);
            assert!(purge_older_than(&mut c, cut).unwrap() >= 2);
            assert_eq!(api_keys.count().get_result::<i64>(&mut c).unwrap(), 0);
        }
        let (s, again) = api.post("/api/v1/redemptions", &[], &clerk, Some("scan-42"), body.clone()).await;
        assert!(s == 200 || s == 201, "{s} {again}");
        assert_eq!(again["id"], first["id"]);
        let (_, h) = api.get("/api/v1/households/{id}", &[&household], &admin).await;
        assert_eq!(h["balance"], 100 - 21);
    }
}

app_test! {
    /// #16.8 and #16.7 over the API: a request naming the household twice
    /// must name the same one (422 on household_id otherwise, nothing
    /// charged); `expected_total` holds the charge to what was shown (409
    /// price_changed with the new total otherwise).
    async fn one_household_per_redemption_charged_what_was_shown(app) {
        app.user("boss", Role::Admin, None, None);
        let [_, _, town, village] = app.area_chain("南");
        let store = app.store("南村爱心超市", &town);
        app.user("he.clerk", Role::Clerk, None, Some(&store));
        let (first, first_card) = app.household_with_id("何春花", &village, &test_id_number());
        let (second, second_card) = app.household_with_id("何秋实", &village, &test_id_number());
        crate::helpers::fund(&mut app.conn(), &first, 100);
        crate::helpers::fund(&mut app.conn(), &second, 100);
        let api = Api::new(&app);
        let admin = api.token("boss").await;
        let (_, item) = api.post("/api/v1/items", &[], &admin, None, json!({"name": "毛巾", "unit": "条", "points_price": 5})).await;
        let clerk = api.token("he.clerk").await;
        let (s, _) = api.post("/api/v1/donations", &[], &clerk, Some("don-h"), json!({
            "store_id": store, "donor": {"name": "好心人", "kind": "individual"},
            "received_on": today().to_string(), "lines": [{"item_id": id(&item), "quantity": 10}]
        })).await;
        assert_eq!(s, 201);
        let balance = |h: Value| h["balance"].as_i64();
        let lines = json!([{"item_id": id(&item), "quantity": 2}]);

        // One household's id, another's card: refused, naming household_id.
        let (s, e) = api.post("/api/v1/redemptions", &[], &clerk, Some("two-1"),
            json!({"store_id": store, "household_id": first, "card_no": second_card, "lines": lines.clone()})).await;
        assert_eq!((s, e["error"]["code"].as_str(), e["error"]["field"].as_str()), (422, Some("invalid"), Some("household_id")), "{e}");
        for h in [&first, &second] {
            let (_, got) = api.get("/api/v1/households/{id}", &[h], &admin).await;
            assert_eq!(balance(got), Some(100), "nobody is charged");
        }
        let (_, shelf) = api.get("/api/v1/stores/{id}/stock", &[&store], &clerk).await;
        assert_eq!(shelf["lines"][0]["quantity"], 10);
        // The same household twice, and the total shown: charged that.
        let (s, r) = api.post("/api/v1/redemptions", &[], &clerk, Some("two-2"),
            json!({"store_id": store, "household_id": first, "card_no": first_card, "lines": lines.clone(), "expected_total": 10})).await;
        assert_eq!((s, r["total_points"].as_i64(), r["household_id"].as_str()), (201, Some(10), Some(first.as_str())), "{r}");

        // The price goes up to 8 after the total was shown: 409, the new total named.
        {
            let mut c = app.conn();
            let it = aixin::goods::find(&mut c, &crate::helpers::iid(&id(&item))).unwrap().unwrap();
            aixin::goods::update(&mut c, &aixin::auth::Actor::console(), &it.id, &aixin::goods::ItemForm {
                name: &it.name, category: &it.category, unit: &it.unit, points_price: "8", barcode: "",
            }, true, None).unwrap();
        }
        let shown = json!({"store_id": store, "household_id": second, "lines": lines.clone(), "expected_total": 10});
        let (s, e) = api.post("/api/v1/redemptions", &[], &clerk, Some("price-1"), shown).await;
        assert_eq!((s, e["error"]["code"].as_str(), e["error"]["field"].as_str()), (409, Some("price_changed"), Some("expected_total")), "{e}");
        assert!(e["error"]["message"].as_str().unwrap().contains("16"), "{e}");
        let (_, got) = api.get("/api/v1/households/{id}", &[&second], &admin).await;
        assert_eq!(balance(got), Some(100));
        let (_, shelf) = api.get("/api/v1/stores/{id}/stock", &[&store], &clerk).await;
        assert_eq!(shelf["lines"][0]["quantity"], 8);
        // Shown 16, charged 16.
        let (s, r) = api.post("/api/v1/redemptions", &[], &clerk, Some("price-2"),
            json!({"store_id": store, "card_no": second_card, "lines": lines.clone(), "expected_total": 16})).await;
        assert_eq!((s, r["total_points"].as_i64()), (201, Some(16)), "{r}");
        let (_, got) = api.get("/api/v1/households/{id}", &[&second], &admin).await;
        assert_eq!(balance(got), Some(84));
        api.check_against_description().await;
    }
}

app_test! {
    /// One rule for many households at once, all or nothing: a batch with
    /// any entry that names no household of the caller's proposes nothing
    /// and names every bad entry by its JSON path (the first in `error`,
    /// the rest in `others`); a household sent twice gets one award; a
    /// replay proposes nothing more.
    async fn awards_for_many_households(app) {
        let [_, _, _, village] = app.area_chain("西");
        let [_, _, _, far_village] = app.area_chain("远");
        app.user("he.official", Role::Official, Some(&village), None);
        let a = app.household("何一", &village);
        let b = app.household("何二", &village);
        let far = app.household("远户", &far_village);
        app.rule("PX01", "参加技能培训", 5, Some((1, "month")));
        let api = Api::new(&app);
        let token = api.token("he.official").await;
        let (_, rules) = api.get("/api/v1/rules", &[], &token).await;
        let rule = rules.as_array().unwrap().iter().find(|r| r["code"] == "PX01").unwrap().clone();
        let nobody = "0190a0a0-0000-7000-8000-000000000000";
        let bad = json!({
            "household_ids": ["x", a, nobody, b, far],
            "rule_id": id(&rule), "occurred_on": today().to_string()
        });
        let (s, e) = api.post("/api/v1/awards", &[], &token, Some("batch-bad"), bad).await;
        assert_eq!((s, e["error"]["code"].as_str(), e["error"]["field"].as_str()), (422, Some("invalid"), Some("household_ids[0]")), "{e}");
        let others: Vec<&str> = e["error"]["others"].as_array().expect("the others").iter().map(|o| o["field"].as_str().unwrap()).collect();
        assert_eq!(others, ["household_ids[2]", "household_ids[4]"], "{e}");
        assert!(e["error"]["others"][0]["message"].as_str().unwrap().contains(nobody), "{e}");
        assert_eq!(e["error"]["others"][0]["code"], "invalid");
        let (_, mine) = api.get("/api/v1/awards", &[], &token).await;
        assert_eq!(mine.as_array().map(Vec::len), Some(0), "nothing proposed");
        // No household, or more than a batch holds: named on the list.
        let many: Vec<&str> = std::iter::repeat_n(a.as_str(), 501).collect();
        for (key, ids, says) in [("batch-none", vec![], "至少选择一户"), ("batch-many", many, "最多 500 户")] {
            let (s, e) = api.post("/api/v1/awards", &[], &token, Some(key), json!({
                "household_ids": ids, "rule_id": id(&rule), "occurred_on": today().to_string()
            })).await;
            assert_eq!((s, e["error"]["field"].as_str()), (422, Some("household_ids")), "{e}");
            assert!(e["error"]["message"].as_str().unwrap().contains(says), "{e}");
        }

        // The same household twice: one award.
        let body = json!({
            "household_ids": [a, b, a],
            "rule_id": id(&rule), "occurred_on": today().to_string()
        });
        let (s, made) = api.post("/api/v1/awards", &[], &token, Some("batch-1"), body.clone()).await;
        assert_eq!(s, 201, "{made}");
        assert_eq!(made["awards"].as_array().unwrap().len(), 2);
        let (s, again) = api.post("/api/v1/awards", &[], &token, Some("batch-1"), body).await;
        assert_eq!((s, &again), (201, &made));
        // The cap: once a month per household, named by its place.
        let (s, capped) = api.post("/api/v1/awards", &[], &token, Some("one-more"),
            json!({"household_id": a, "rule_id": id(&rule), "occurred_on": today().to_string()})).await;
        assert_eq!((s, capped["error"]["code"].as_str()), (409, Some("cap_reached")), "{capped}");
        let (s, capped) = api.send(Call {
            method: Method::POST, template: "/api/v1/awards", params: &[], token: Some(&token), key: Some("more-many"),
            body: Some(json!({"household_ids": [b], "rule_id": id(&rule), "occurred_on": today().to_string()}).to_string()), lang: Some("en"),
        }).await;
        assert_eq!((s, capped["error"]["code"].as_str(), capped["error"]["field"].as_str()), (409, Some("cap_reached"), Some("household_ids[0]")), "{capped}");
        assert!(capped["error"]["message"].as_str().unwrap().contains("何二"), "{capped}");
        let (s, mine) = api.get("/api/v1/awards", &[], &token).await;
        assert_eq!((s, mine.as_array().map(Vec::len)), (200, Some(2)));
        api.check_against_description().await;
    }
}

app_test! {
    /// A basket's faults are named by their JSON path, every one: the
    /// first in `error`, the rest in `others`.
    async fn a_basket_names_each_bad_line_by_its_path(app) {
        app.user("boss", Role::Admin, None, None);
        let [_, _, town, village] = app.area_chain("篮");
        let store = app.store("篮超市", &town);
        app.user("lan.clerk", Role::Clerk, None, Some(&store));
        let household = app.household("篮户", &village);
        crate::helpers::fund(&mut app.conn(), &household, 100);
        let api = Api::new(&app);
        let admin = api.token("boss").await;
        let clerk = api.token("lan.clerk").await;
        let (_, item) = api.post("/api/v1/items", &[], &admin, None, json!({"name": "香皂", "unit": "块", "points_price": 2})).await;
        let item = id(&item);
        let (s, e) = api.post("/api/v1/redemptions", &[], &clerk, Some("basket-1"), json!({
            "store_id": store, "household_id": household,
            "lines": [{"item_id": item, "quantity": 1}, {"item_id": item, "quantity": 0}, {"item_id": "0190a0a0-0000-7000-8000-000000000000", "quantity": 1}],
        })).await;
        assert_eq!((s, e["error"]["field"].as_str()), (422, Some("lines[1].quantity")), "{e}");
        assert_eq!(e["error"]["others"][0]["field"], "lines[2].item_id", "{e}");
        let (s, e) = api.post("/api/v1/redemptions", &[], &clerk, Some("basket-2"), json!({
            "store_id": store, "household_id": household,
            "lines": [{"item_id": "x", "quantity": 1}, {"item_id": item, "quantity": 1}, {"item_id": "y", "quantity": 1}],
        })).await;
        assert_eq!((s, e["error"]["field"].as_str()), (422, Some("lines[0].item_id")), "{e}");
        assert_eq!(e["error"]["others"][0]["field"], "lines[2].item_id", "{e}");
        // One item on two lines, each as large as a number can be: refused on
        // its line, never a sum that overflows.
        let (s, e) = api.post("/api/v1/redemptions", &[], &clerk, Some("basket-3"), json!({
            "store_id": store, "household_id": household,
            "lines": [{"item_id": item, "quantity": i64::MAX}, {"item_id": item, "quantity": i64::MAX}],
        })).await;
        assert_eq!((s, e["error"]["field"].as_str()), (422, Some("lines[0].quantity")), "{e}");
        api.check_against_description().await;
    }
}

app_test! {
    /// A new password ends the API tokens the old one made, login and named
    /// alike, whether one changes one's own or an administrator resets it.
    async fn tokens_end_with_the_password(app) {
        let admin = app.admin().await;
        let page = admin.post("/profile/tokens", &[("name", "柜台扫码枪"), ("password", PASSWORD)]).await;
        let named = new_token_secret(&page.body);
        let api = Api::new(&app);
        let login = api.token("boss").await;
        for t in [&login, &named] {
            assert_eq!(api.get("/api/v1/rules", &[], t).await.0, 200);
        }
        let mut c = app.conn();
        let boss = aixin::users::find_by_username(&mut c, "boss").unwrap().unwrap();
        let own = aixin::auth::Actor::user(boss.id.clone(), aixin::domain::Role::Admin, aixin::auth::Scope::All);
        let new = |p: &str| aixin::users::InitialPassword::Given(aixin::domain::NewPassword::parse("field.password", p).unwrap());
        aixin::users::set_password(&mut c, &own, app.config.password_cost, &boss.id, new("another-secret-1"), None).unwrap();
        assert_eq!(api.get("/api/v1/rules", &[], &login).await.0, 401);
        // Named tokens end with one's own new password too (#17.4, ASVS 7.4.3).
        assert_eq!(api.get("/api/v1/rules", &[], &named).await.0, 401);
        admin.login("boss", "another-secret-1").await;
        let page = admin.post("/profile/tokens", &[("name", "柜台扫码枪"), ("password", "another-secret-1")]).await;
        let named = new_token_secret(&page.body);
        assert_eq!(api.get("/api/v1/rules", &[], &named).await.0, 200);
        aixin::users::set_password(&mut c, &aixin::auth::Actor::console(), app.config.password_cost, &boss.id, new("another-secret-2"), None).unwrap();
        assert_eq!(api.get("/api/v1/rules", &[], &named).await.0, 401);
    }
}

/// Full-width digits and letters, as a Chinese input method in full-width
/// mode types them, with an ideographic space and a zero-width space around.
fn full_width(s: &str) -> String {
    let wide: String = s
        .chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap(),
            _ => c,
        })
        .collect();
    format!("\u{3000}{wide}\u{200B}")
}

app_test! {
    /// A full-width ID number registers a household, on the form and over
    /// the API, and is kept as the ASCII number (the same household, not a
    /// second one).
    async fn a_full_width_id_number_registers_a_household(app) {
        let [_, _, _, village] = app.area_chain("全角");
        app.user("boss", Role::Admin, None, None);
        let id_number = test_id_number();
        let wide = full_width(&id_number);
        assert!(wide.len() > 18 * 2, "{wide} is full-width");

        let c = app.client();
        c.login("boss", PASSWORD).await;
        let page = c.submit("/households", &[
            ("head_name", "全角户"), ("id_number", &wide), ("phone", &full_width("13800138000")),
            ("area_id", &village), ("members", &full_width("3")), ("status", "registered"),
        ]).await;
        assert_eq!(page.status, 200);
        page.assert_contains("已登记，积分卡号");
        page.assert_contains("138****8000");

        let api = Api::new(&app);
        let admin = api.token("boss").await;
        let other = test_id_number();
        let (s, h) = api.post("/api/v1/households", &[], &admin, None, json!({
            "head_name": "全角二户", "id_number": full_width(&other), "area_id": village, "members": 2
        })).await;
        assert_eq!(s, 201, "{h}");
        // The first one's number, typed in ASCII now, is the same household.
        let (s, dup) = api.post("/api/v1/households", &[], &admin, None, json!({
            "head_name": "重复", "id_number": id_number, "area_id": village, "members": 2
        })).await;
        assert_eq!((s, dup["error"]["field"].as_str()), (409, Some("id_number")), "{dup}");
        // Half a full-width number is a clear error naming the field, never a 500.
        // (a wrong check digit typed full-width)
        let body17 = &id_number[..17];
        let wrong = if aixin::domain::people::id_check_char(body17) == Some('0') { '１' } else { '０' };
        let broken = format!("{body17}{wrong}");
        let (s, bad) = api.post("/api/v1/households", &[], &admin, None, json!({
            "head_name": "坏号", "id_number": broken, "area_id": village, "members": 2
        })).await;
        assert_eq!((s, bad["error"]["field"].as_str()), (422, Some("id_number")), "{bad}");
        let (s, bad) = api.post("/api/v1/households", &[], &admin, None, json!({
            "head_name": "坏号", "id_number": "１１０１０５１９４９１２３１００２é", "area_id": village, "members": 2
        })).await;
        assert_eq!((s, bad["error"]["field"].as_str()), (422, Some("id_number")), "{bad}");
    }
}

app_test! {
    /// A retried redemption means the same whatever its form: keys in
    /// another order, a `null` for an absent member, the card number typed
    /// full-width. It replays the first receipt and charges once; another
    /// basket under the same key is 409 `idempotency_key_reused`.
    async fn a_replay_is_known_by_its_meaning(app) {
        app.user("boss", Role::Admin, None, None);
        let [_, _, town, village] = app.area_chain("西");
        let store = app.store("西村爱心超市", &town);
        app.user("xi.clerk", Role::Clerk, None, Some(&store));
        let (household, card) = app.household_with_id("西月", &village, &test_id_number());
        crate::helpers::fund(&mut app.conn(), &household, 100);
        let api = Api::new(&app);
        let admin = api.token("boss").await;
        let (_, item) = api.post("/api/v1/items", &[], &admin, None, json!({"name": "盐", "unit": "袋", "points_price": 4})).await;
        let clerk = api.token("xi.clerk").await;
        let (s, _) = api.post("/api/v1/donations", &[], &clerk, Some("don-x"), json!({
            "store_id": store, "donor": {"name": "好心人", "kind": "individual"},
            "received_on": today().to_string(), "lines": [{"item_id": id(&item), "quantity": 10}]
        })).await;
        assert_eq!(s, 201);
        let (s, first) = api.post("/api/v1/redemptions", &[], &clerk, Some("mean-1"),
            json!({"store_id": store, "card_no": card, "lines": [{"item_id": id(&item), "quantity": 2}]})).await;
        assert_eq!(s, 201, "{first}");
        let wide: String = card
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { char::from_u32(c as u32 + 0xFEE0).unwrap() } else { c })
            .collect();
        assert_ne!(wide, card);
        let (s, again) = api.post("/api/v1/redemptions", &[], &clerk, Some("mean-1"),
            json!({"lines": [{"quantity": 2, "item_id": id(&item)}], "household_id": null, "card_no": wide, "store_id": store})).await;
        assert!(s == 200 || s == 201, "{s} {again}");
        assert_eq!(again, first, "the first receipt, replayed");
        let (_, h) = api.get("/api/v1/households/{id}", &[&household], &admin).await;
        assert_eq!(h["balance"], 100 - 8, "charged once");
        let (s, e) = api.post("/api/v1/redemptions", &[], &clerk, Some("mean-1"),
            json!({"store_id": store, "card_no": card, "lines": [{"item_id": id(&item), "quantity": 3}]})).await;
        assert_eq!((s, e["error"]["code"].as_str()), (409, Some("idempotency_key_reused")), "{e}");
        let (_, h) = api.get("/api/v1/households/{id}", &[&household], &admin).await;
        assert_eq!(h["balance"], 100 - 8, "nothing more charged");
    }
}

/// The JSON field a request body's schema gives for `name` (a pointer such
/// as "lines[0].item_id" or "donor.name" starts with one), or the
/// `Idempotency-Key` header the operation takes.
fn in_request_schema(doc: &Value, method: &Method, template: &str, name: &str) -> bool {
    let op = &doc["paths"][template][method.as_str().to_lowercase()];
    if name == "Idempotency-Key" {
        return op["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["name"] == name));
    }
    let mut schema = &op["requestBody"]["content"]["application/json"]["schema"];
    if let Some(r) = schema["$ref"].as_str() {
        schema = &doc["components"]["schemas"][r.rsplit('/').next().unwrap()];
    }
    let top = name.split(['[', '.']).next().unwrap();
    schema["properties"][top].is_object()
}

app_test! {
    /// Every write's refusal names a field of its own body, as its schema
    /// spells it: an id that is no id, or a well-formed id no record has,
    /// is a 422 on that field (a 404 is for an id in the path), and serde's
    /// own English never reaches a message, in either language.
    async fn each_write_names_its_own_field(app) {
        app.user("boss", Role::Admin, None, None);
        let [_, _, town, village] = app.area_chain("名");
        let store = app.store("名村爱心超市", &town);
        let household = app.household("名字好", &village);
        app.rule("NM01", "打扫", 5, None);
        let api = Api::new(&app);
        let admin = api.token("boss").await;
        let (_, rules) = api.get("/api/v1/rules", &[], &admin).await;
        let rule = rules.as_array().unwrap().iter().find(|r| r["code"] == "NM01").map(id).expect("the rule");
        let (_, item) = api.post("/api/v1/items", &[], &admin, None, json!({"name": "毛巾", "unit": "条", "points_price": 5})).await;
        let item = id(&item);
        let nobody = "0190a0a0-0000-7000-8000-000000000000";
        let day = today().to_string();
        let doc: Value = reqwest::get(format!("{}/api/openapi.json", app.addr)).await.unwrap().json().await.unwrap();
        let post = Method::POST;
        // (route, body, the field named)
        let cases: Vec<(&str, Value, &str)> = vec![
            ("/api/v1/stock-movements", json!({"kind": "write_off", "store_id": store, "item_id": "x", "quantity": 1, "reason": "坏了"}), "item_id"),
            ("/api/v1/stock-movements", json!({"kind": "write_off", "store_id": store, "item_id": nobody, "quantity": 1, "reason": "坏了"}), "item_id"),
            ("/api/v1/stock-movements", json!({"kind": "write_off", "store_id": nobody, "item_id": item, "quantity": 1, "reason": "坏了"}), "store_id"),
            ("/api/v1/stock-movements", json!({"kind": "move", "store_id": store, "to_store_id": nobody, "item_id": item, "quantity": 1}), "to_store_id"),
            ("/api/v1/stock-movements", json!({"kind": "throw", "store_id": store, "item_id": item, "quantity": 1}), "kind"),
            ("/api/v1/stock-movements", json!({"kind": "write_off", "store_id": store, "item_id": item, "quantity": "一"}), "quantity"),
            ("/api/v1/donations", json!({"store_id": nobody, "donor": {"name": "好心人", "kind": "individual"}, "received_on": day, "lines": [{"item_id": item, "quantity": 1}]}), "store_id"),
            ("/api/v1/donations", json!({"store_id": store, "donor_id": nobody, "received_on": day, "lines": [{"item_id": item, "quantity": 1}]}), "donor_id"),
            ("/api/v1/donations", json!({"store_id": store, "donor": {"name": "好心人", "kind": "individual"}, "received_on": day, "lines": [{"item_id": item, "quantity": 1}, {"item_id": nobody, "quantity": 1}]}), "lines[1]"),
            ("/api/v1/donations", json!({"store_id": store, "donor": {"name": "好心人", "kind": "alien"}, "received_on": day, "lines": []}), "donor.kind"),
            ("/api/v1/donations", json!({"store_id": store, "received_on": "昨天", "lines": []}), "received_on"),
            ("/api/v1/redemptions", json!({"store_id": nobody, "household_id": household, "lines": [{"item_id": item, "quantity": 1}]}), "store_id"),
            ("/api/v1/redemptions", json!({"store_id": store, "household_id": nobody, "lines": [{"item_id": item, "quantity": 1}]}), "household_id"),
            ("/api/v1/redemptions", json!({"store_id": store, "household_id": household}), "lines"),
            ("/api/v1/awards", json!({"household_id": nobody, "rule_id": rule, "occurred_on": day}), "household_id"),
            ("/api/v1/awards", json!({"household_id": "x", "rule_id": rule, "occurred_on": day}), "household_id"),
            ("/api/v1/awards", json!({"household_id": household, "rule_id": nobody, "occurred_on": day}), "rule_id"),
            ("/api/v1/awards", json!({"household_id": household, "rule_id": rule, "occurred_on": 20261130}), "occurred_on"),
            ("/api/v1/households", json!({"head_name": "王", "id_number": test_id_number(), "area_id": nobody, "members": 2}), "area_id"),
            ("/api/v1/households", json!({"head_name": "王", "id_number": test_id_number(), "area_id": village, "members": 2, "helper_id": nobody}), "helper_id"),
            ("/api/v1/households", json!({"head_name": "王", "id_number": test_id_number(), "area_id": village}), "members"),
            ("/api/v1/stores", json!({"name": "新超市", "area_id": nobody}), "area_id"),
            ("/api/v1/areas", json!({"name": "新村", "parent_id": nobody}), "parent_id"),
            ("/api/v1/users", json!({"username": "new.one", "role": "official", "area_id": nobody, "password": "long-enough-1"}), "area_id"),
            ("/api/v1/users", json!({"username": "new.two", "role": "clerk", "store_id": nobody, "password": "long-enough-1"}), "store_id"),
            ("/api/v1/rules", json!({"code": "NM02", "name": "帮忙", "category": "cat-03", "points": "五"}), "points"),
            ("/api/v1/items", json!({"name": "肥皂", "unit": "块", "points_price": true}), "points_price"),
            ("/api/v1/card", json!({"card_no": 1}), "card_no"),
        ];
        let serde_words = ["invalid type", "missing field", "unknown variant", "expected", "at line"];
        for (n, (route, body, field)) in cases.iter().enumerate() {
            for lang in ["zh-CN", "en"] {
                let key = format!("names-{n}-{lang}");
                let (s, e) = api.send(Call {
                    method: post.clone(), template: route, params: &[], token: Some(&admin), key: Some(&key),
                    body: Some(body.to_string()), lang: Some(lang),
                }).await;
                assert_eq!((s, e["error"]["field"].as_str()), (422, Some(*field)), "{route} {body} ({lang}): {e}");
                assert!(in_request_schema(&doc, &post, route, field), "{route}: {field} is not in its schema");
                let message = e["error"]["message"].as_str().unwrap();
                assert!(!serde_words.iter().any(|w| message.contains(w)), "{route} {body} ({lang}): {message}");
                if lang == "en" {
                    assert!(message.chars().all(|c| c.is_ascii() || !('\u{ff00}'..='\u{ffef}').contains(&c) && c != '，' && c != '：'), "{route} ({lang}): {message}");
                }
            }
        }
        // The writes on a record of the path name their body's fields too.
        let user_id: String = {
            use aixin::db::schema::users;
            use diesel::prelude::*;
            users::table.filter(users::username.eq("boss")).select(users::id).first(&mut app.conn()).unwrap()
        };
        let award = nobody; // the body is read before the award is looked up
        let patch = Method::PATCH;
        let on_path: Vec<(&Method, &str, &str, Value, &str)> = vec![
            (&patch, "/api/v1/households/{id}", household.as_str(), json!({"area_id": nobody}), "area_id"),
            (&patch, "/api/v1/households/{id}", household.as_str(), json!({"members": "三"}), "members"),
            (&patch, "/api/v1/users/{id}", user_id.as_str(), json!({"disabled": "no"}), "disabled"),
            (&post, "/api/v1/awards/{id}/approve", award, json!({"version": "一"}), "version"),
            (&post, "/api/v1/awards/{id}/reject", award, json!({"reason": "不对"}), "version"),
            (&post, "/api/v1/redemptions/{id}/void", nobody, json!({}), "reason"),
        ];
        for (n, (method, route, param, body, field)) in on_path.iter().enumerate() {
            let key = format!("path-names-{n}");
            let (s, e) = api.send(Call {
                method: (*method).clone(), template: route, params: &[param], token: Some(&admin), key: Some(&key),
                body: Some(body.to_string()), lang: Some("en"),
            }).await;
            assert_eq!((s, e["error"]["field"].as_str()), (422, Some(*field)), "{route} {body}: {e}");
            assert!(in_request_schema(&doc, method, route, field), "{route}: {field} is not in its schema");
            let message = e["error"]["message"].as_str().unwrap();
            assert!(!serde_words.iter().any(|w| message.contains(w)), "{route} {body}: {message}");
        }
        // An id in the path that names nothing stays a 404.
        let (s, e) = api.get("/api/v1/stores/{id}/stock", &[nobody], &admin).await;
        assert_eq!((s, e["error"]["code"].as_str()), (404, Some("not_found")));
        api.check_against_description().await;
    }
}

app_test! {
    /// The awards list filters by status in its query, before its cap:
    /// asked for one status it gives every award in it up to the cap, and
    /// says `X-More-Exist: true` only when more exist than it returned.
    async fn the_awards_list_filters_by_status_before_its_cap(app) {
        use aixin::db::schema::{awards, rules};
        use diesel::prelude::*;
        let [_, _, _, village] = app.area_chain("截断");
        let official = app.user("jie.official", Role::Official, Some(&village), None);
        let household = app.household("截断户", &village);
        let code = app.rule("JD01", "参加培训", 5, None);
        let mut c = app.conn();
        let rule_id: String = rules::table.filter(rules::code.eq(&code)).select(rules::id).first(&mut c).unwrap();
        let now = chrono::Utc::now().naive_utc();
        // Two waiting, proposed first; then more rejected ones than the cap.
        let shown = aixin::api::points::AWARDS_SHOWN;
        c.transaction::<_, diesel::result::Error, _>(|c| {
            for i in 0..(2 + shown + 1) {
                let status = if i < 2 { "pending" } else { "rejected" };
                diesel::insert_into(awards::table)
                    .values((
                        awards::id.eq(aixin::domain::AwardId::new().to_string()),
                        awards::household_id.eq(&household),
                        awards::rule_id.eq(&rule_id),
                        awards::rule_code.eq(&code),
                        awards::points.eq(5),
                        awards::occurred_on.eq(today()),
                        awards::note.eq(""),
                        awards::status.eq(status),
                        awards::proposed_by.eq(&official),
                        awards::proposed_at.eq(now + chrono::Duration::seconds(i)),
                        awards::review_note.eq(""),
                        awards::objection.eq(""),
                        awards::reverse_reason.eq(""),
                        awards::updated_at.eq(now),
                        awards::version.eq(1_i64),
                        awards::settle_error.eq(""),
                    ))
                    .execute(c)?;
            }
            Ok(())
        })
        .unwrap();
        drop(c);
        let api = Api::new(&app);
        let token = api.token("jie.official").await;
        let http = reqwest::Client::new();
        for (query, rows, more) in [
            ("status=pending".to_string(), 2, false),
            ("status=rejected".into(), shown, true),
            ("status=approved".into(), 0, false),
            (String::new(), shown, true),
            (format!("household_id={household}&status=pending"), 2, false),
            (format!("household_id={household}"), shown, true),
        ] {
            let res = http
                .get(format!("{}/api/v1/awards?{query}", app.addr))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status().as_u16(), 200, "{query}");
            let header = res.headers().get(aixin::api::points::MORE_HEADER).map(|v| v.to_str().unwrap().to_string());
            let body: Value = res.json().await.unwrap();
            assert_eq!(body.as_array().unwrap().len() as i64, rows, "{query}");
            assert_eq!(header.as_deref(), more.then_some("true"), "{query}");
        }
    }
}

app_test! {
    /// A body's list with several bad elements names every one (by its
    /// index, and "line N" in the message) in one 422, not only the first.
    async fn every_bad_element_of_a_body_list_is_named_at_once(app) {
        app.user("boss", Role::Admin, None, None);
        let api = Api::new(&app);
        let admin = api.token("boss").await;
        let (s, e) = api
            .post("/api/v1/redemptions", &[], &admin, Some("many-bad"), json!({
                "store_id": "0190a0a0-0000-7000-8000-000000000000",
                "card_no": "x",
                "lines": [
                    {"item_id": "a", "quantity": "two"},
                    {"item_id": "b", "quantity": 1},
                    {"item_id": "c", "quantity": true},
                    {"item_id": 7, "quantity": 1}
                ]
            }))
            .await;
        assert_eq!(s, 422, "{e}");
        let fields: Vec<&str> = std::iter::once(&e["error"])
            .chain(e["error"]["others"].as_array().into_iter().flatten())
            .map(|x| x["field"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(fields, ["lines[0].quantity", "lines[2].quantity", "lines[3].item_id"], "{e}");
        let others = e["error"]["others"].as_array().unwrap();
        assert!(others[0]["message"].as_str().unwrap().contains("第 3 行"), "{e}");
        api.check_against_description().await;
    }
}
