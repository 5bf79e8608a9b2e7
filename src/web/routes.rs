//! Every route, in one table. The app is built from it, and the role x route
//! test walks it, so a route cannot be added without the test knowing.

use actix_web::http::Method;
use actix_web::{Route, web};

use super::pages::{
    areas, audit, auth, donations, goods, home, misc, stock, stocktakes, stores, users,
};

pub struct RouteDef {
    pub method: Method,
    pub path: &'static str,
    pub make: fn() -> Route,
}

macro_rules! get {
    ($path:literal, $handler:path) => {
        RouteDef {
            method: Method::GET,
            path: $path,
            make: || web::get().to($handler),
        }
    };
}

macro_rules! post {
    ($path:literal, $handler:path) => {
        RouteDef {
            method: Method::POST,
            path: $path,
            make: || web::post().to($handler),
        }
    };
}

pub fn table() -> Vec<RouteDef> {
    vec![
        get!("/", home::home),
        get!("/healthz", misc::healthz),
        get!("/static/{file:.*}", misc::static_file),
        post!("/lang", misc::set_lang),
        get!("/login", auth::login_page),
        post!("/login", auth::login),
        post!("/logout", auth::logout),
        get!("/password", auth::password_page),
        post!("/password", auth::change_password),
        get!("/users", users::list),
        post!("/users", users::create),
        get!("/users/{id}", users::detail),
        post!("/users/{id}/assign", users::assign),
        post!("/users/{id}/disable", users::disable),
        post!("/users/{id}/enable", users::enable),
        post!("/users/{id}/password", users::reset_password),
        get!("/areas", areas::list),
        post!("/areas", areas::create),
        post!("/areas/{id}/rename", areas::rename),
        post!("/areas/{id}/delete", areas::delete),
        get!("/stores", stores::list),
        post!("/stores", stores::create),
        get!("/my-store", stock::my_store),
        get!("/stores/{id}", stock::detail),
        post!("/stores/{id}/edit", stores::update),
        post!("/stores/{id}/active", stores::set_active),
        post!("/stores/{id}/moves", stock::move_stock),
        post!("/stores/{id}/write-offs", stock::write_off),
        post!("/stores/{id}/thresholds", stock::set_threshold),
        post!("/stores/{id}/prices", stock::set_price),
        get!("/stores/{id}/movements", stock::movements),
        get!("/stores/{id}/movements/export", stock::export),
        get!("/stores/{id}/donations/new", donations::new_donation),
        post!("/stores/{id}/donations", donations::book),
        post!("/stores/{id}/stocktakes", stocktakes::start),
        post!("/stocktake-settings", stores::stocktake_setting),
        get!("/stocktakes/{id}", stocktakes::detail),
        post!("/stocktakes/{id}/counts", stocktakes::save_counts),
        post!("/stocktakes/{id}/confirm", stocktakes::confirm),
        get!("/items", goods::list),
        post!("/items", goods::create),
        post!("/items/{id}/edit", goods::update),
        get!("/donors", donations::donors),
        post!("/donors", donations::create_donor),
        get!("/donors/{id}", donations::donor),
        get!("/donations/{id}", donations::donation),
        get!("/donations/{id}/certificate", donations::certificate),
        get!("/movements/{id}", stock::movement),
        post!("/movements/{id}/reverse", stock::reverse),
        get!("/ledger/stock", stock::verify),
        get!("/audit", audit::list),
    ]
}
