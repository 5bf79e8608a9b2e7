//! Every API route, in one table: the scope is built from it, and a test
//! checks that each one is in the OpenAPI description.

use actix_web::http::Method;
use actix_web::{Route, guard, web};

use super::error::FieldNames;
use super::{areas, auth, card, households, points, redemptions, reports, stock, users};

/// One route: its method, path template, handler, and how its errors name
/// the fields of its body (or query).
pub struct ApiRoute {
    pub method: Method,
    pub path: &'static str,
    pub make: fn() -> Route,
    /// The endpoint's own field names (see `error::FieldNames`).
    pub fields: FieldNames,
}

macro_rules! route {
    (GET, get, $path:literal, $handler:path) => {
        ApiRoute {
            method: Method::GET,
            path: $path,
            // HEAD answers as GET does, without the body (the server
            // leaves it out).
            make: || get_or_head().to($handler),
            fields: GET_FIELDS,
        }
    };
    ($m:ident, $method:ident, $path:literal, $handler:path, $fields:expr) => {
        ApiRoute {
            method: Method::$m,
            path: $path,
            make: || web::$method().to($handler),
            fields: $fields,
        }
    };
}

/// A route taking GET and HEAD.
pub fn get_or_head() -> Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

pub fn table() -> Vec<ApiRoute> {
    vec![
        route!(
            POST,
            post,
            "/api/v1/tokens",
            auth::create_token,
            TOKEN_FIELDS
        ),
        route!(GET, get, "/api/v1/areas", areas::list),
        route!(POST, post, "/api/v1/areas", areas::create, AREA_FIELDS),
        route!(GET, get, "/api/v1/areas/{id}", areas::get),
        route!(GET, get, "/api/v1/households", households::list),
        route!(
            POST,
            post,
            "/api/v1/households",
            households::create,
            HOUSEHOLD_FIELDS
        ),
        route!(GET, get, "/api/v1/households/{id}", households::get),
        route!(
            PATCH,
            patch,
            "/api/v1/households/{id}",
            households::update,
            HOUSEHOLD_PATCH_FIELDS
        ),
        route!(
            GET,
            get,
            "/api/v1/households/{id}/ledger",
            households::ledger
        ),
        route!(GET, get, "/api/v1/rules", points::list_rules),
        route!(
            POST,
            post,
            "/api/v1/rules",
            points::create_rule,
            RULE_FIELDS
        ),
        route!(GET, get, "/api/v1/awards", points::list_awards),
        route!(
            POST,
            post,
            "/api/v1/awards",
            points::create_awards,
            AWARD_FIELDS
        ),
        route!(
            POST,
            post,
            "/api/v1/awards/{id}/approve",
            points::approve,
            DECISION_FIELDS
        ),
        route!(
            POST,
            post,
            "/api/v1/awards/{id}/reject",
            points::reject,
            DECISION_FIELDS
        ),
        route!(
            POST,
            post,
            "/api/v1/awards/{id}/reverse",
            points::reverse,
            DECISION_FIELDS
        ),
        route!(GET, get, "/api/v1/stores", stock::list_stores),
        route!(
            POST,
            post,
            "/api/v1/stores",
            stock::create_store,
            STORE_FIELDS
        ),
        route!(GET, get, "/api/v1/stores/{id}/stock", stock::store_stock),
        route!(GET, get, "/api/v1/items", stock::list_items),
        route!(POST, post, "/api/v1/items", stock::create_item, ITEM_FIELDS),
        route!(
            POST,
            post,
            "/api/v1/donations",
            stock::donate,
            DONATION_FIELDS
        ),
        route!(
            POST,
            post,
            "/api/v1/stock-movements",
            stock::movement,
            MOVEMENT_FIELDS
        ),
        route!(
            POST,
            post,
            "/api/v1/redemptions",
            redemptions::create,
            REDEMPTION_FIELDS
        ),
        route!(GET, get, "/api/v1/redemptions/{id}", redemptions::get),
        route!(
            POST,
            post,
            "/api/v1/redemptions/{id}/void",
            redemptions::void,
            VOID_FIELDS
        ),
        route!(GET, get, "/api/v1/reports/monthly", reports::monthly),
        route!(POST, post, "/api/v1/card", card::balance, CARD_FIELDS),
        route!(GET, get, "/api/v1/users", users::list),
        route!(POST, post, "/api/v1/users", users::create, USER_FIELDS),
        route!(
            PATCH,
            patch,
            "/api/v1/users/{id}",
            users::update,
            USER_FIELDS
        ),
    ]
}

/// The field names of the route `method` and `path` (a request's) answer
/// with; none when no route of the table takes it.
pub fn fields_at(method: &Method, path: &str) -> FieldNames {
    table()
        .iter()
        .find(|r| r.method == method && super::path_matches(r.path, path))
        .map_or(GET_FIELDS, |r| r.fields)
}

/// A reading route: its refusals name its query parameters (`area_id`,
/// `store_id`, `household_id`), not the form labels its checks share.
const GET_FIELDS: FieldNames = &[
    ("field.area", "area_id"),
    ("field.village", "area_id"),
    ("field.report_area", "area_id"),
    ("field.household", "household_id"),
    ("field.store", "store_id"),
    ("field.report_store", "store_id"),
];

const KEY: (&str, &str) = ("field.form", "Idempotency-Key");

const TOKEN_FIELDS: FieldNames = &[];

const AREA_FIELDS: FieldNames = &[
    ("field.area_name", "name"),
    ("field.parent", "parent_id"),
    ("field.area", "parent_id"),
];

const HOUSEHOLD_FIELDS: FieldNames = &[
    ("field.village", "area_id"),
    ("field.area", "area_id"),
    ("field.helper", "helper_id"),
    KEY,
];

const HOUSEHOLD_PATCH_FIELDS: FieldNames = &[
    ("field.village", "area_id"),
    ("field.area", "area_id"),
    ("field.helper", "helper_id"),
    ("field.reason", "archive_reason"),
    ("field.seen_version", "version"),
    KEY,
];

const RULE_FIELDS: FieldNames = &[
    ("field.rule_code", "code"),
    ("field.rule_name", "name"),
    ("field.rule", "code"),
];

const AWARD_FIELDS: FieldNames = &[
    ("field.household", "household_id"),
    ("field.households", "household_ids[{n}]"),
    ("field.rule", "rule_id"),
    ("field.rule_code", "rule_id"),
    ("field.date", "occurred_on"),
    KEY,
];

const DECISION_FIELDS: FieldNames = &[
    ("field.seen_version", "version"),
    // A closed month is the award's, not a field of the body.
    ("field.date", ""),
    KEY,
];

const STORE_FIELDS: FieldNames = &[
    ("field.store_name", "name"),
    ("field.area", "area_id"),
    ("field.village", "area_id"),
];

const ITEM_FIELDS: FieldNames = &[("field.item_name", "name")];

const DONATION_FIELDS: FieldNames = &[
    ("field.store", "store_id"),
    ("field.donor", "donor_id"),
    ("field.donor_name", "donor.name"),
    ("field.donor_kind", "donor.kind"),
    ("field.donated_on", "received_on"),
    ("field.date", "received_on"),
    ("field.money", "money_fen"),
    ("field.donation_line", "lines[{n}]"),
    ("field.item", "lines[{n}].item_id"),
    ("field.quantity", "lines[{n}].quantity"),
    ("field.value", "lines[{n}].value_fen"),
    KEY,
];

const MOVEMENT_FIELDS: FieldNames = &[
    ("field.store", "store_id"),
    ("field.to_store", "to_store_id"),
    ("field.item", "item_id"),
    // A closed month is today's, not a field of the body.
    ("field.date", ""),
    KEY,
];

const REDEMPTION_FIELDS: FieldNames = &[
    ("field.store", "store_id"),
    ("field.household", "household_id"),
    ("field.basket_line", "lines[{n}]"),
    ("field.item", "lines[{n}].item_id"),
    ("field.items", "lines"),
    ("field.quantity", "lines[{n}].quantity"),
    ("field.date", ""),
    KEY,
];

const VOID_FIELDS: FieldNames = &[("field.date", ""), KEY];

const CARD_FIELDS: FieldNames = &[];

const USER_FIELDS: FieldNames = &[("field.area", "area_id"), ("field.store", "store_id")];
