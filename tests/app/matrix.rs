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
    use Who::*;
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
        | ("GET", "/public/rules")
        | ("GET", "/public/stores/{id}")
        | ("GET", "/public/notice/{id}")
        | ("GET", "/public/honours/{id}") => Public,
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
        | ("POST", "/users/{id}/disable")
        | ("POST", "/users/{id}/enable")
        | ("POST", "/users/{id}/password") => Roles(ADMIN),
        ("GET", "/areas") | ("GET", "/stores") | ("GET", "/audit") => Roles(ADMIN_AUDITOR),
        // Integrity signals: never officials, reviewers or clerks.
        ("GET", "/signals") | ("GET", "/signals.xlsx") | ("POST", "/signals/marks") => {
            Roles(ADMIN_AUDITOR)
        }
        ("POST", "/areas") | ("POST", "/areas/{id}/rename") | ("POST", "/areas/{id}/delete") => {
            Roles(ADMIN)
        }
        ("GET", "/households")
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
        ("GET", "/counter") | ("POST", "/counter") | ("POST", "/redemptions/{id}/void") => {
            Roles(ADMIN_CLERK)
        }
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
            use aixin::points::awards::Who;
            let mut c = app.conn();
            let ctx = aixin::audit::AuditCtx::console();
            let who = Who { user_id: official_id.clone(), role: Role::Official, scope: aixin::auth::Scope::All };
            let today = chrono::Utc::now().date_naive();
            let p = aixin::points::awards::parse_proposal("M1", &today.to_string(), "", today).unwrap();
            let award = aixin::points::awards::propose(&mut c, &who.actor(&ctx), &household, &p, "k1", today).unwrap().id;
            let admin_id = app.user("m-admin2", Role::Admin, None, None);
            let who = Who { user_id: admin_id, role: Role::Admin, scope: aixin::auth::Scope::All };
            aixin::points::adjustments::request(&mut c, &who.actor(&ctx), &household, 5000, "big", "k2", today, chrono_tz::Asia::Shanghai).unwrap();
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
