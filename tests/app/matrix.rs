//! Who may do what, walked over every registered route: each role (and an
//! anonymous visitor) against each route. A route missing from the matrix
//! fails the test, so no route can be added without deciding who may use it.

use aixin::domain::Role;
use aixin::web::routes;
use diesel::prelude::*;

use crate::helpers::*;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    /// Anyone, logged in or not.
    Public,
    /// Any logged-in user.
    AnyUser,
    /// Only these roles; others get 403, anonymous visitors the login page.
    Roles(&'static [Role]),
}

const ADMIN: &[Role] = &[Role::Admin];
const ADMIN_AUDITOR: &[Role] = &[Role::Admin, Role::Auditor];
const HOUSEHOLD_READERS: &[Role] = &[Role::Admin, Role::Official, Role::Reviewer, Role::Auditor];
const HOUSEHOLD_KEEPERS: &[Role] = &[Role::Admin, Role::Official];
const REVIEWERS: &[Role] = &[Role::Admin, Role::Reviewer];
const OBJECTORS: &[Role] = &[Role::Admin, Role::Official, Role::Reviewer];
const ADMIN_CLERK: &[Role] = &[Role::Admin, Role::Clerk];
const STOCK_READERS: &[Role] = &[Role::Admin, Role::Auditor, Role::Clerk];

fn matrix(method: &str, path: &str) -> Option<Who> {
    use self::Who::*;
    Some(match (method, path) {
        ("GET", "/healthz") | ("GET", "/static/{file:.*}") => Public,
        ("GET", "/login") | ("POST", "/login") | ("POST", "/lang") => Public,
        // The households' window (card and PIN, no user) and the public pages.
        ("GET", "/h")
        | ("GET", "/h/{card_no}")
        | ("POST", "/h/login")
        | ("POST", "/h/logout")
        | ("POST", "/h/pin")
        | ("POST", "/h/honours")
        | ("POST", "/h/reports")
        | ("POST", "/h/objections")
        | ("GET", "/h/photos/{id}")
        | ("GET", "/public/rules")
        | ("GET", "/public/stores/{id}")
        | ("GET", "/public/notice")
        | ("GET", "/public/notice/{id}")
        | ("GET", "/public/honours")
        | ("GET", "/public/honours/{id}")
        | ("GET", "/public/blacklist/{id}") => Public,
        // Deeds households reported: the officials of their area act on them;
        // their photos are read by whoever reads households.
        ("GET", "/deeds") | ("POST", "/deeds/{id}/award") | ("POST", "/deeds/{id}/decline") => {
            Roles(HOUSEHOLD_KEEPERS)
        }
        ("GET", "/deeds/photos/{id}") => Roles(HOUSEHOLD_READERS),
        // Households' objections to the online notice: the reviewers decide.
        ("GET", "/objections") | ("POST", "/objections/{id}") => Roles(REVIEWERS),
        ("GET", "/") | ("POST", "/logout") | ("GET", "/password") | ("POST", "/password") => {
            AnyUser
        }
        // A user's own API tokens.
        ("GET", "/profile")
        | ("POST", "/profile/tokens")
        | ("POST", "/profile/tokens/{id}/revoke") => AnyUser,
        ("GET", "/users")
        | ("POST", "/users")
        | ("GET", "/users/{id}")
        | ("POST", "/users/{id}/assign")
        | ("POST", "/users/{id}/personal")
        | ("POST", "/users/{id}/disable")
        | ("POST", "/users/{id}/enable")
        | ("POST", "/users/{id}/password") => Roles(ADMIN),
        ("GET", "/areas") | ("GET", "/stores") | ("GET", "/audit") => Roles(ADMIN_AUDITOR),
        // Integrity signals: never officials, reviewers or clerks.
        ("GET", "/signals") | ("GET", "/signals.xlsx") | ("POST", "/signals/marks") => {
            Roles(ADMIN_AUDITOR)
        }
        ("POST", "/areas")
        | ("POST", "/areas/{id}/rename")
        | ("POST", "/areas/{id}/delete")
        | ("POST", "/areas/{id}/place") => Roles(ADMIN),
        ("GET", "/households")
        | ("POST", "/households/find")
        | ("GET", "/households/{id}")
        | ("GET", "/households/{id}/card")
        | ("GET", "/households/cards")
        | ("GET", "/households/export.csv")
        | ("GET", "/households/export.xlsx") => Roles(HOUSEHOLD_READERS),
        ("POST", "/households")
        | ("GET", "/households/new")
        | ("GET", "/households/{id}/edit")
        | ("POST", "/households/{id}")
        | ("POST", "/households/{id}/card")
        | ("POST", "/households/{id}/card/pin")
        | ("POST", "/households/{id}/reveal")
        | ("POST", "/households/{id}/archive")
        | ("POST", "/households/{id}/restore")
        | ("GET", "/households/import")
        | ("POST", "/households/import")
        | ("GET", "/households/import/{id}")
        | ("GET", "/households/import/{id}/cards")
        | ("GET", "/households/import/{id}/refused.csv")
        | ("GET", "/households/import/{id}/refused.xlsx")
        | ("POST", "/households/import/{id}/confirm") => Roles(HOUSEHOLD_KEEPERS),
        ("GET", "/rules") | ("GET", "/rules/print") => AnyUser,
        ("POST", "/rules")
        | ("POST", "/rules/categories")
        | ("GET", "/rules/{code}/edit")
        | ("POST", "/rules/{code}") => Roles(ADMIN),
        ("GET", "/awards")
        | ("POST", "/awards")
        | ("GET", "/awards/new")
        | ("GET", "/awards/batch")
        | ("POST", "/awards/batch")
        | ("GET", "/awards/{id}/edit")
        | ("POST", "/awards/{id}")
        | ("POST", "/awards/{id}/withdraw") => Roles(HOUSEHOLD_KEEPERS),
        ("POST", "/awards/{id}/reverse") => Roles(ADMIN),
        ("POST", "/awards/{id}/object") => Roles(OBJECTORS),
        ("GET", "/review") | ("POST", "/review") => Roles(REVIEWERS),
        ("GET", "/notice")
        | ("GET", "/households/{id}/statement")
        | ("GET", "/households/{id}/statement.csv")
        | ("GET", "/households/{id}/statement.xlsx") => Roles(HOUSEHOLD_READERS),
        ("POST", "/households/{id}/adjust")
        | ("GET", "/adjustments")
        | ("POST", "/adjustments/{id}") => Roles(ADMIN),
        ("GET", "/ledger/verify") => Roles(ADMIN_AUDITOR),
        ("GET", "/reports/monthly")
        | ("GET", "/reports/monthly.csv")
        | ("GET", "/reports/monthly.xlsx") => Roles(HOUSEHOLD_READERS),
        ("POST", "/reports/close") | ("POST", "/reports/reopen") => Roles(ADMIN),
        ("GET", "/counter")
        | ("POST", "/counter")
        | ("POST", "/counter/find")
        | ("POST", "/redemptions/{id}/void")
        | ("POST", "/stores/{id}/printing") => Roles(ADMIN_CLERK),
        ("GET", "/counter/day") | ("GET", "/redemptions/{id}") => Roles(STOCK_READERS),
        ("GET", "/settings") | ("POST", "/settings") | ("GET", "/operations") => Roles(ADMIN),
        ("POST", "/stores")
        | ("POST", "/stores/{id}/edit")
        | ("POST", "/stores/{id}/active")
        | ("POST", "/stocktake-settings")
        | ("POST", "/stores/{id}/prices")
        | ("POST", "/items")
        | ("POST", "/items/{id}/edit") => Roles(ADMIN),
        ("GET", "/my-store")
        | ("GET", "/stores/{id}")
        | ("GET", "/stores/{id}/movements")
        | ("GET", "/stores/{id}/movements/export")
        | ("GET", "/stocktakes/{id}")
        | ("GET", "/movements/{id}")
        | ("GET", "/items")
        | ("GET", "/donors")
        | ("GET", "/donors/{id}")
        | ("GET", "/donations/{id}")
        | ("GET", "/donations/{id}/certificate") => Roles(STOCK_READERS),
        ("GET", "/stores/{id}/donations/new")
        | ("POST", "/stores/{id}/donations")
        | ("POST", "/stores/{id}/moves")
        | ("POST", "/stores/{id}/write-offs")
        | ("POST", "/stores/{id}/purchases")
        | ("POST", "/stores/{id}/thresholds")
        | ("POST", "/stores/{id}/stocktakes")
        | ("POST", "/stocktakes/{id}/counts")
        | ("POST", "/stocktakes/{id}/confirm")
        | ("POST", "/movements/{id}/reverse")
        | ("POST", "/donations/{id}/reverse")
        | ("POST", "/donors") => Roles(ADMIN_CLERK),
        ("GET", "/ledger/stock") => Roles(ADMIN_AUDITOR),
        _ => return None,
    })
}

struct Fixture {
    target_user: String,
    area: String,
    household: String,
    import_job: String,
    award: String,
    adjustment: String,
    store: String,
    item: String,
    donor: String,
    donation: String,
    stocktake: String,
    movement: String,
    redemption: String,
}

fn concrete(path: &str, f: &Fixture) -> String {
    if path.starts_with("/rules/") {
        return path.replace("{code}", "M1");
    }
    let id = match (
        path.split('/').nth(1).unwrap_or(""),
        path.split('/').nth(2).unwrap_or(""),
    ) {
        ("users", _) => &f.target_user,
        ("households", "import") => &f.import_job,
        ("households", _) => &f.household,
        ("awards", _) => &f.award,
        ("adjustments", _) => &f.adjustment,
        ("stores", _) => &f.store,
        ("public", "stores") => &f.store,
        ("items", _) => &f.item,
        ("donors", _) => &f.donor,
        ("donations", _) => &f.donation,
        ("stocktakes", _) => &f.stocktake,
        ("movements", _) => &f.movement,
        ("redemptions", _) => &f.redemption,
        _ => &f.area,
    };
    path.replace("{file:.*}", "css/app.css")
        .replace("{card_no}", "1234567897")
        .replace("{id}", id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_in_the_matrix() {
    let missing: Vec<String> = routes::table()
        .iter()
        .filter(|r| matrix(r.method.as_str(), r.path).is_none())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        missing.is_empty(),
        "routes missing from the role x route matrix: {missing:?}"
    );
}

app_test! {
    async fn each_role_gets_exactly_what_the_matrix_says(app) {
        let [_, _, town, village] = app.area_chain("matrix");
        let store = app.store("matrix store", &town);
        // An area in use (it has a store), so a permitted delete is refused
        // politely rather than changing the fixture.
        let official_id = app.user("m-official", Role::Official, Some(&village), None);
        let household = app.household("矩阵户", &village);
        app.rule("M1", "矩阵细则", 5, None);
        let (award, adjustment) = {
                        let mut c = app.conn();
            let ctx = aixin::auth::Actor::console();
            let who = crate::helpers::Who { user_id: official_id.clone(), role: Role::Official, scope: aixin::auth::Scope::All };
            let today = aixin::time::today(chrono_tz::Asia::Shanghai);
            let p = aixin::points::awards::parse_proposal("M1", &today.to_string(), "", today).unwrap();
            let award = aixin::points::awards::propose(&mut c, &who.actor(&ctx), &crate::helpers::hid(&household), &p, "k1", today).unwrap().id.to_string();
            let admin_id = app.user("m-admin2", Role::Admin, None, None);
            let who = crate::helpers::Who { user_id: admin_id, role: Role::Admin, scope: aixin::auth::Scope::All };
            aixin::points::adjustments::request(&mut c, &who.actor(&ctx), &crate::helpers::hid(&household), 5000, "big", "k2", today, chrono_tz::Asia::Shanghai).unwrap();
            use aixin::db::schema::point_adjustments;
            let adjustment: String = point_adjustments::table.select(point_adjustments::id).first(&mut c).unwrap();
            (award, adjustment)
        };
        let goods = crate::stock::seed(&app, &store);
        let fixture_household = household.clone();
        let fixture = Fixture {
            target_user: app.user("target", Role::Auditor, None, None),
            area: town.clone(),
            household,
            award,
            adjustment,
            import_job: {
                let mut c = app.conn();
                aixin::households::import::create_job(&mut c, &app.key, &official_id, "x.csv", b"x").unwrap()
            },
            store: store.clone(),
            item: goods.items[0].clone(),
            donor: goods.donor.clone(),
            donation: goods.donation.clone(),
            stocktake: goods.stocktake.clone(),
            movement: goods.movement.clone(),
            redemption: crate::counter::redeem_for_test(&app, &store, &fixture_household, &goods.items[0]),
        };
        let mut who: Vec<(Option<Role>, Client)> = vec![(None, app.client())];
        for role in Role::ALL {
            let name = format!("m-{}", role.as_str());
            let (area, st) = match role {
                Role::Official | Role::Reviewer => (Some(village.as_str()), None),
                Role::Clerk => (None, Some(store.as_str())),
                _ => (None, None),
            };
            if role != Role::Official {
                app.user(&name, role, area, st);
            }
            let c = app.client();
            c.login(&name, PASSWORD).await;
            who.push((Some(role), c));
        }
        let mut table = routes::table();
        // Logging out ends the client's session: walk it last.
        table.sort_by_key(|r| r.path == "/logout");
        let mut failures = Vec::new();
        for (role, c) in &who {
            let role = *role;
            for r in &table {
                let expected = matrix(r.method.as_str(), r.path).unwrap();
                let path = concrete(r.path, &fixture);
                let page = if r.method == "GET" {
                    c.get(&path).await
                } else {
                    c.forget_csrf();
                    c.get("/login").await;
                    if role.is_some() {
                        c.get("/password").await;
                    }
                    c.post(&path, &[]).await
                };
                let allowed = match (expected, role) {
                    (Who::Public, _) => true,
                    (_, None) => false,
                    (Who::AnyUser, Some(_)) => true,
                    (Who::Roles(rs), Some(r)) => rs.contains(&r),
                };
                let ok = if allowed {
                    page.status < 500 && page.status != 403 && !(page.status == 303 && page.location.as_deref().is_some_and(|l| l.starts_with("/login") && r.path != "/logout"))
                } else if role.is_none() {
                    page.status == 303 && page.location.as_deref().is_some_and(|l| l.starts_with("/login"))
                } else {
                    page.status == 403
                };
                if !ok {
                    failures.push(format!(
                        "{:?} {} {} -> {} (location {:?}), expected {}",
                        role.map(|r| r.as_str()).unwrap_or("anonymous"),
                        r.method,
                        path,
                        page.status,
                        page.location,
                        if allowed { "allowed" } else { "refused" }
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "role x route matrix:\n{}", failures.join("\n"));
    }
}

/// The API's role x route table: who may call each `/api/v1` route. A
/// route missing from it fails `every_api_route_is_in_the_matrix`.
fn api_matrix(method: &str, path: &str) -> Option<Who> {
    use self::Who::*;
    Some(match (method, path) {
        ("POST", "/api/v1/tokens") | ("POST", "/api/v1/card") => Public,
        ("GET", "/api/v1/rules") => AnyUser,
        ("GET", "/api/v1/areas") | ("GET", "/api/v1/areas/{id}") => Roles(HOUSEHOLD_READERS),
        ("GET", "/api/v1/households")
        | ("GET", "/api/v1/households/{id}")
        | ("GET", "/api/v1/households/{id}/ledger")
        | ("GET", "/api/v1/reports/monthly") => Roles(HOUSEHOLD_READERS),
        ("POST", "/api/v1/households")
        | ("PATCH", "/api/v1/households/{id}")
        | ("POST", "/api/v1/awards") => Roles(HOUSEHOLD_KEEPERS),
        ("GET", "/api/v1/awards") => Roles(OBJECTORS),
        ("POST", "/api/v1/awards/{id}/approve") | ("POST", "/api/v1/awards/{id}/reject") => {
            Roles(REVIEWERS)
        }
        ("POST", "/api/v1/awards/{id}/reverse")
        | ("POST", "/api/v1/areas")
        | ("POST", "/api/v1/rules")
        | ("POST", "/api/v1/stores")
        | ("POST", "/api/v1/items")
        | ("GET", "/api/v1/users")
        | ("POST", "/api/v1/users")
        | ("PATCH", "/api/v1/users/{id}") => Roles(ADMIN),
        ("GET", "/api/v1/stores")
        | ("GET", "/api/v1/stores/{id}/stock")
        | ("GET", "/api/v1/items")
        | ("GET", "/api/v1/redemptions/{id}") => Roles(STOCK_READERS),
        ("POST", "/api/v1/donations")
        | ("POST", "/api/v1/stock-movements")
        | ("POST", "/api/v1/redemptions")
        | ("POST", "/api/v1/redemptions/{id}/void") => Roles(ADMIN_CLERK),
        _ => return None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_route_is_in_the_matrix() {
    let missing: Vec<String> = aixin::api::routes::table()
        .iter()
        .filter(|r| api_matrix(r.method.as_str(), r.path).is_none())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        missing.is_empty(),
        "API routes missing from the role x route matrix: {missing:?}"
    );
}

/// One API call: the status and the JSON answer (Null when none).
async fn api(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let http = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut rq = http
        .request(method, app.url(path))
        .header("Idempotency-Key", uuid::Uuid::new_v4().simple().to_string());
    if let Some(t) = token {
        rq = rq.bearer_auth(t);
    }
    if let Some(b) = body {
        rq = rq
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    let res = rq.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or_default())
}

async fn api_token(app: &TestApp, username: &str) -> String {
    let (status, body) = api(
        app,
        "POST",
        "/api/v1/tokens",
        None,
        Some(serde_json::json!({"username": username, "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 201, "token for {username}: {body}");
    body["token"].as_str().unwrap().to_string()
}

app_test! {
    async fn each_role_gets_exactly_what_the_api_matrix_says(app) {
        let [_, _, town, village] = app.area_chain("api");
        let store = app.store("接口超市", &town);
        let official_id = app.user("a-official", Role::Official, Some(&village), None);
        let household = app.household("接口户", &village);
        let rule = app.rule("A1", "接口细则", 5, None);
        let award = {
            let mut c = app.conn();
            let ctx = aixin::auth::Actor::console();
            let who = crate::helpers::Who { user_id: official_id.clone(), role: Role::Official, scope: aixin::auth::Scope::All };
            let today = aixin::time::today(chrono_tz::Asia::Shanghai);
            let p = aixin::points::awards::parse_proposal("A1", &today.to_string(), "", today).unwrap();
            aixin::points::awards::propose(&mut c, &who.actor(&ctx), &crate::helpers::hid(&household), &p, "ak1", today).unwrap().id.to_string()
        };
        let goods = crate::stock::seed(&app, &store);
        let redemption = crate::counter::redeem_for_test(&app, &store, &household, &goods.items[0]);
        let target_user = app.user("a-target", Role::Auditor, None, None);
        let concrete = |path: &str| -> String {
            let id = match path.split('/').nth(3).unwrap_or("") {
                "areas" => &village,
                "households" => &household,
                "awards" => &award,
                "stores" => &store,
                "redemptions" => &redemption,
                "users" => &target_user,
                _ => "",
            };
            path.replace("{id}", id)
        };
        // What each call sends: an empty object, except a movement, whose
        // store (and so whose check) is read from its body.
        let body_for = |path: &str| -> serde_json::Value {
            if path == "/api/v1/stock-movements" {
                serde_json::json!({"kind": "write_off", "store_id": store, "item_id": goods.items[1], "quantity": 1, "reason": "矩阵"})
            } else {
                serde_json::json!({})
            }
        };
        let mut tokens: Vec<(Option<Role>, Option<String>)> = vec![(None, None)];
        for role in Role::ALL {
            let name = format!("a-{}", role.as_str());
            let (area, st) = match role {
                Role::Official | Role::Reviewer => (Some(village.as_str()), None),
                Role::Clerk => (None, Some(store.as_str())),
                _ => (None, None),
            };
            if role != Role::Official {
                app.user(&name, role, area, st);
            }
            tokens.push((Some(role), Some(api_token(&app, &name).await)));
        }
        let mut failures = Vec::new();
        for (role, token) in &tokens {
            for r in aixin::api::routes::table() {
                let method = r.method.as_str();
                let expected = api_matrix(method, r.path).unwrap();
                if r.path == "/api/v1/tokens" {
                    continue;
                }
                let path = concrete(r.path);
                let body = (method != "GET").then(|| body_for(r.path));
                let (status, answer) = api(&app, method, &path, token.as_deref(), body).await;
                let allowed = match (expected, role) {
                    (Who::Public, _) => true,
                    (_, None) => false,
                    (Who::AnyUser, Some(_)) => true,
                    (Who::Roles(rs), Some(r)) => rs.contains(r),
                };
                let ok = if allowed {
                    status < 500 && status != 403 && (status != 401 || expected == Who::Public)
                } else if role.is_none() {
                    status == 401
                } else {
                    status == 403
                };
                if !ok {
                    failures.push(format!(
                        "{} {method} {path} -> {status} {answer}, expected {}",
                        role.map(|r| r.as_str()).unwrap_or("anonymous"),
                        if allowed { "allowed" } else { "refused" }
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "API role x route matrix:\n{}", failures.join("\n"));
        let _ = rule;
    }
}

app_test! {
    async fn the_api_checks_each_object_against_the_actor(app) {
        use aixin::db::schema::awards;
        let [_, _, town_x, village_x] = app.area_chain("对象甲");
        let [_, _, town_y, village_y] = app.area_chain("对象乙");
        let store_a = app.store("甲店", &town_x);
        let store_b = app.store("乙店", &town_y);
        app.user("o-official", Role::Official, Some(&village_x), None);
        app.user("o-official2", Role::Official, Some(&village_x), None);
        app.user("o-clerk", Role::Clerk, None, Some(&store_a));
        app.user("o-admin", Role::Admin, None, None);
        app.user("o-auditor", Role::Auditor, None, None);
        let mine = app.household("本村户", &village_x);
        let theirs = app.household("外村户", &village_y);
        let rule: String = {
            use aixin::db::schema::rules;
            let code = app.rule("O1", "对象细则", 5, None);
            rules::table.filter(rules::code.eq(code)).select(rules::id).first(&mut app.conn()).unwrap()
        };
        let goods_b = crate::stock::seed(&app, &store_b);
        let at_b = crate::counter::redeem_for_test(&app, &store_b, &theirs, &goods_b.items[0]);
        let official = api_token(&app, "o-official").await;
        let official2 = api_token(&app, "o-official2").await;
        let clerk = api_token(&app, "o-clerk").await;
        let admin = api_token(&app, "o-admin").await;
        let auditor = api_token(&app, "o-auditor").await;
        let today = aixin::time::today(chrono_tz::Asia::Shanghai).to_string();
        let awards_of = |h: &str| -> i64 {
            awards::table.filter(awards::household_id.eq(h)).count().get_result(&mut app.conn()).unwrap()
        };

        // An official of village X on a household of village Y.
        for (method, path, body) in [
            ("GET", format!("/api/v1/households/{theirs}"), None),
            ("GET", format!("/api/v1/households/{theirs}/ledger"), None),
            ("PATCH", format!("/api/v1/households/{theirs}"), Some(serde_json::json!({"notes": "越界"}))),
        ] {
            let (status, answer) = api(&app, method, &path, Some(&official), body).await;
            assert_eq!(status, 403, "{method} {path}: {answer}");
        }
        let (status, answer) = api(&app, "POST", "/api/v1/awards", Some(&official),
            Some(serde_json::json!({"household_id": theirs, "rule_id": rule, "occurred_on": today}))).await;
        assert!(status == 403 || status == 404, "an award for another village's household: {status} {answer}");
        assert_eq!(awards_of(&theirs), 0, "nothing is proposed outside the official's village");
        let (status, answer) = api(&app, "GET", &format!("/api/v1/households/{mine}"), Some(&official), None).await;
        assert_eq!(status, 200, "their own village's household: {answer}");

        // A clerk of store A at store B.
        let (status, answer) = api(&app, "GET", &format!("/api/v1/stores/{store_b}/stock"), Some(&clerk), None).await;
        assert_eq!(status, 403, "another store's shelf: {answer}");
        let (status, answer) = api(&app, "GET", &format!("/api/v1/redemptions/{at_b}"), Some(&clerk), None).await;
        assert_eq!(status, 403, "another store's receipt: {answer}");
        let (status, answer) = api(&app, "POST", &format!("/api/v1/redemptions/{at_b}/void"), Some(&clerk),
            Some(serde_json::json!({"reason": "越店作废"}))).await;
        assert_eq!(status, 403, "voiding at another store: {answer}");
        let (status, answer) = api(&app, "POST", "/api/v1/redemptions", Some(&clerk),
            Some(serde_json::json!({"store_id": store_b, "household_id": theirs, "lines": [{"item_id": goods_b.items[1], "quantity": 1}]}))).await;
        assert_eq!(status, 403, "redeeming at another store: {answer}");
        let (status, answer) = api(&app, "POST", "/api/v1/stock-movements", Some(&clerk),
            Some(serde_json::json!({"kind": "write_off", "store_id": store_b, "item_id": goods_b.items[1], "quantity": 1, "reason": "越店"}))).await;
        assert_eq!(status, 403, "writing off at another store: {answer}");
        let status_b: String = aixin::db::schema::redemptions::table
            .find(&at_b).select(aixin::db::schema::redemptions::status).first(&mut app.conn()).unwrap();
        assert_eq!(status_b, "completed", "the other store's redemption is untouched");
        // A clerk redeeming at their own store for a household (which no
        // clerk's scope covers): the operation decides that a clerk may read it.
        crate::counter::fund(&app, &mine, 100);
        crate::stock::donate(&mut app.conn(), &store_a, &goods_b.donor, &[(goods_b.items[1].as_str(), 5)]);
        let (status, answer) = api(&app, "POST", "/api/v1/redemptions", Some(&clerk),
            Some(serde_json::json!({"store_id": store_a, "household_id": mine, "lines": [{"item_id": goods_b.items[1], "quantity": 1}]}))).await;
        assert_eq!(status, 201, "redeeming at their own store: {answer}");

        // One's own award: the admin who proposed it may not approve it.
        let (status, answer) = api(&app, "POST", "/api/v1/awards", Some(&admin),
            Some(serde_json::json!({"household_id": mine, "rule_id": rule, "occurred_on": today}))).await;
        assert_eq!(status, 201, "{answer}");
        let own = answer["awards"][0]["id"].as_str().or(answer["id"].as_str()).map(str::to_string)
            .unwrap_or_else(|| panic!("the award's id in {answer}"));
        let (status, answer) = api(&app, "POST", &format!("/api/v1/awards/{own}/approve"), Some(&admin), Some(serde_json::json!({"version": 1}))).await;
        assert_eq!(status, 422, "approving one's own award: {answer}");
        let still: String = awards::table.find(&own).select(awards::status).first(&mut app.conn()).unwrap();
        assert_eq!(still, "pending");

        // An auditor writing: refused, nothing changes.
        let before = awards_of(&mine);
        for (method, path, body) in [
            ("POST", "/api/v1/awards".to_string(), serde_json::json!({"household_id": mine, "rule_id": rule, "occurred_on": today})),
            ("POST", format!("/api/v1/awards/{own}/approve"), serde_json::json!({"version": 1})),
            ("PATCH", format!("/api/v1/households/{mine}"), serde_json::json!({"notes": "审计"})),
            ("POST", format!("/api/v1/redemptions/{at_b}/void"), serde_json::json!({"reason": "审计"})),
        ] {
            let (status, answer) = api(&app, method, &path, Some(&auditor), Some(body)).await;
            assert_eq!(status, 403, "auditor {method} {path}: {answer}");
        }
        assert_eq!(awards_of(&mine), before);

        // A batch of another user: the same Idempotency-Key from another
        // official is their own request, not a replay of the first batch.
        let key = "batch-of-another-user";
        let send = |token: String, hs: Vec<String>| {
            let app = &app;
            let rule = rule.clone();
            let today = today.clone();
            async move {
                let res = reqwest::Client::new()
                    .post(app.url("/api/v1/awards"))
                    .bearer_auth(token)
                    .header("Idempotency-Key", key)
                    .json(&serde_json::json!({"household_ids": hs, "rule_id": rule, "occurred_on": today}))
                    .send().await.unwrap();
                let status = res.status().as_u16();
                (status, res.json::<serde_json::Value>().await.unwrap_or_default())
            }
        };
        let other = app.household("本村二户", &village_x);
        let (status, first) = send(official.clone(), vec![mine.clone()]).await;
        assert_eq!(status, 201, "{first}");
        let (status, second) = send(official2.clone(), vec![other.clone()]).await;
        assert_eq!(status, 201, "{second}");
        assert_ne!(first, second, "another user's batch is not replayed");
        assert_eq!(awards_of(&other), 1, "the second official's batch was made");
    }
}

app_test! {
    async fn an_import_job_is_only_its_uploaders(app) {
        let [_, _, _, village] = app.area_chain("导入");
        let uploader = app.user("i-official", Role::Official, Some(&village), None);
        app.user("i-official2", Role::Official, Some(&village), None);
        let job = {
            let mut c = app.conn();
            aixin::households::import::create_job(&mut c, &app.key, &uploader, "x.csv", b"x").unwrap()
        };
        let other = app.client();
        other.login("i-official2", PASSWORD).await;
        let page = other.get(&format!("/households/import/{job}")).await;
        assert_eq!(page.status, 403, "another user's import job");
        let page = other.post(&format!("/households/import/{job}/confirm"), &[]).await;
        assert_eq!(page.status, 403, "confirming another user's import job");
        let own = app.client();
        own.login("i-official", PASSWORD).await;
        let page = own.get(&format!("/households/import/{job}")).await;
        assert_eq!(page.status, 200, "the uploader's own job");
    }
}
