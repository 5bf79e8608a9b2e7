//! Who may do what, walked over every registered route: each role (and an
//! anonymous visitor) against each route. A route missing from the matrix
//! fails the test, so no route can be added without deciding who may use it.

use aixin::domain::Role;
use aixin::web::routes;

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
const ADMIN_CLERK: &[Role] = &[Role::Admin, Role::Clerk];
const STOCK_READERS: &[Role] = &[Role::Admin, Role::Auditor, Role::Clerk];

fn matrix(method: &str, path: &str) -> Option<Who> {
    use Who::*;
    Some(match (method, path) {
        ("GET", "/healthz") | ("GET", "/static/{file:.*}") => Public,
        ("GET", "/login") | ("POST", "/login") | ("POST", "/lang") => Public,
        ("GET", "/") | ("POST", "/logout") | ("GET", "/password") | ("POST", "/password") => {
            AnyUser
        }
        ("GET", "/users")
        | ("POST", "/users")
        | ("GET", "/users/{id}")
        | ("POST", "/users/{id}/assign")
        | ("POST", "/users/{id}/disable")
        | ("POST", "/users/{id}/enable")
        | ("POST", "/users/{id}/password") => Roles(ADMIN),
        ("GET", "/areas") | ("GET", "/stores") | ("GET", "/audit") => Roles(ADMIN_AUDITOR),
        ("POST", "/areas") | ("POST", "/areas/{id}/rename") | ("POST", "/areas/{id}/delete") => {
            Roles(ADMIN)
        }
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
        | ("POST", "/stores/{id}/thresholds")
        | ("POST", "/stores/{id}/stocktakes")
        | ("POST", "/stocktakes/{id}/counts")
        | ("POST", "/stocktakes/{id}/confirm")
        | ("POST", "/movements/{id}/reverse")
        | ("POST", "/donors") => Roles(ADMIN_CLERK),
        ("GET", "/ledger/stock") => Roles(ADMIN_AUDITOR),
        _ => return None,
    })
}

struct Fixture {
    target_user: String,
    area: String,
    store: String,
    item: String,
    donor: String,
    donation: String,
    stocktake: String,
    movement: String,
}

fn concrete(path: &str, f: &Fixture) -> String {
    let id = match path.split('/').nth(1).unwrap_or("") {
        "users" => &f.target_user,
        "stores" => &f.store,
        "items" => &f.item,
        "donors" => &f.donor,
        "donations" => &f.donation,
        "stocktakes" => &f.stocktake,
        "movements" => &f.movement,
        _ => &f.area,
    };
    path.replace("{file:.*}", "css/app.css").replace("{id}", id)
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
        let goods = crate::stock::seed(&app, &store);
        let fixture = Fixture {
            target_user: app.user("target", Role::Auditor, None, None),
            area: town.clone(),
            store: store.clone(),
            item: goods.items[0].clone(),
            donor: goods.donor.clone(),
            donation: goods.donation.clone(),
            stocktake: goods.stocktake.clone(),
            movement: goods.movement.clone(),
        };
        let mut who: Vec<(Option<Role>, Client)> = vec![(None, app.client())];
        for role in Role::ALL {
            let name = format!("m-{}", role.as_str());
            let (area, st) = match role {
                Role::Official | Role::Reviewer => (Some(village.as_str()), None),
                Role::Clerk => (None, Some(store.as_str())),
                _ => (None, None),
            };
            app.user(&name, role, area, st);
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
