//! Every API route, in one table: the scope is built from it, and a test
//! checks that each one is in the OpenAPI description.

use actix_web::http::Method;
use actix_web::{Route, guard, web};

use super::{areas, auth, card, households, points, redemptions, reports, stock, users};

pub struct ApiRoute {
    pub method: Method,
    pub path: &'static str,
    pub make: fn() -> Route,
}

macro_rules! route {
    (GET, get, $path:literal, $handler:path) => {
        ApiRoute {
            method: Method::GET,
            path: $path,
            // HEAD answers as GET does, without the body (the server
            // leaves it out).
            make: || get_or_head().to($handler),
        }
    };
    ($m:ident, $method:ident, $path:literal, $handler:path) => {
        ApiRoute {
            method: Method::$m,
            path: $path,
            make: || web::$method().to($handler),
        }
    };
}

/// A route taking GET and HEAD.
pub fn get_or_head() -> Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

pub fn table() -> Vec<ApiRoute> {
    vec![
        route!(POST, post, "/api/v1/tokens", auth::create_token),
        route!(GET, get, "/api/v1/areas", areas::list),
        route!(POST, post, "/api/v1/areas", areas::create),
        route!(GET, get, "/api/v1/areas/{id}", areas::get),
        route!(GET, get, "/api/v1/households", households::list),
        route!(POST, post, "/api/v1/households", households::create),
        route!(GET, get, "/api/v1/households/{id}", households::get),
        route!(PATCH, patch, "/api/v1/households/{id}", households::update),
        route!(
            GET,
            get,
            "/api/v1/households/{id}/ledger",
            households::ledger
        ),
        route!(GET, get, "/api/v1/rules", points::list_rules),
        route!(POST, post, "/api/v1/rules", points::create_rule),
        route!(GET, get, "/api/v1/awards", points::list_awards),
        route!(POST, post, "/api/v1/awards", points::create_awards),
        route!(POST, post, "/api/v1/awards/{id}/approve", points::approve),
        route!(POST, post, "/api/v1/awards/{id}/reject", points::reject),
        route!(POST, post, "/api/v1/awards/{id}/reverse", points::reverse),
        route!(GET, get, "/api/v1/stores", stock::list_stores),
        route!(POST, post, "/api/v1/stores", stock::create_store),
        route!(GET, get, "/api/v1/stores/{id}/stock", stock::store_stock),
        route!(GET, get, "/api/v1/items", stock::list_items),
        route!(POST, post, "/api/v1/items", stock::create_item),
        route!(POST, post, "/api/v1/donations", stock::donate),
        route!(POST, post, "/api/v1/stock-movements", stock::movement),
        route!(POST, post, "/api/v1/redemptions", redemptions::create),
        route!(GET, get, "/api/v1/redemptions/{id}", redemptions::get),
        route!(
            POST,
            post,
            "/api/v1/redemptions/{id}/void",
            redemptions::void
        ),
        route!(GET, get, "/api/v1/reports/monthly", reports::monthly),
        route!(POST, post, "/api/v1/card", card::balance),
        route!(GET, get, "/api/v1/users", users::list),
        route!(POST, post, "/api/v1/users", users::create),
        route!(PATCH, patch, "/api/v1/users/{id}", users::update),
    ]
}
