//! The OpenAPI 3.1 description, generated from the handlers and types, and
//! the reference page that reads it (swagger-ui, served from static/).

use actix_web::HttpResponse;
use actix_web::http::header;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{areas, auth, card, error, households, points, redemptions, reports, stock, users};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Aixin (爱心) API",
        description = "Points-for-goods charity stores. Get a token with `POST /api/v1/tokens`, then send `Authorization: Bearer <token>`. Writes that move points or goods take an `Idempotency-Key` header: a replay returns the first response. Errors are `{\"error\":{\"code\",\"message\",\"field\",\"others\"}}` (`field` the JSON path of the value at fault, such as `lines[1].quantity`; `others`, when there were several faults, the rest as `{field, message, code}`); messages follow `Accept-Language` (zh-CN by default, en).",
        version = "1",
    ),
    paths(
        auth::create_token,
        areas::list, areas::create, areas::get,
        households::list, households::create, households::get, households::update, households::ledger,
        points::list_rules, points::create_rule,
        points::list_awards, points::create_awards, points::approve, points::reject, points::reverse,
        stock::list_stores, stock::create_store, stock::store_stock,
        stock::list_items, stock::create_item, stock::donate, stock::movement,
        redemptions::create, redemptions::get, redemptions::void,
        reports::monthly,
        card::balance,
        users::list, users::create, users::update,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail, error::OtherError)),
    modifiers(&BearerAuth, &JsonBodies),
    security(("bearerAuth" = [])),
    tags(
        (name = "tokens", description = "Getting a token"),
        (name = "areas", description = "City > district > town > village"),
        (name = "households", description = "Households, their balance and ledger"),
        (name = "points", description = "The rulebook and awards"),
        (name = "stock", description = "Stores, goods, donations, stock movements"),
        (name = "redemptions", description = "Points for goods at a store"),
        (name = "reports", description = "Monthly summaries"),
        (name = "card", description = "A household's own balance, by card and PIN"),
        (name = "users", description = "Users (admins)"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from POST /api/v1/tokens, or a named one made on the profile page",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every operation that takes a body says that it takes JSON only: 415 for
/// any other `Content-Type` (see `api::writes_without_json`).
struct JsonBodies;

impl Modify for JsonBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let refused = ResponseBuilder::new()
            .description("The body is not sent as application/json")
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            for op in [&mut item.post, &mut item.put, &mut item.patch]
                .into_iter()
                .flatten()
            {
                if op.request_body.is_some() {
                    op.responses
                        .responses
                        .insert("415".into(), refused.clone().into());
                }
            }
        }
    }
}

/// The description as JSON.
pub fn json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".to_string())
}

pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(json())
}

/// The reference page: a static page that loads swagger-ui from /static.
pub async fn docs_page() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(
            crate::static_files::find("api/docs.html")
                .map(|f| f.body)
                .unwrap_or_default(),
        )
}
