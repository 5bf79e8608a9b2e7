//! Every route, in one table. The app is built from it, and the role x route
//! test walks it, so a route cannot be added without the test knowing.

use actix_web::http::Method;
use actix_web::{Route, guard, web};

use super::pages::{
    areas, audit, auth, awards, counter, deeds, donations, goods, home, households, ledger, misc,
    operations, profile, reports, rules, signals, stock, stocktakes, stores, users, window,
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
            // HEAD answers as GET does, without the body (which the server
            // leaves out).
            make: || {
                web::route()
                    .guard(guard::Any(guard::Get()).or(guard::Head()))
                    .to($handler)
            },
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
        // The households' own window, opened with the card and its PIN.
        get!("/h", window::home),
        get!("/h/{card_no}", window::card),
        post!("/h/login", window::log_in),
        post!("/h/logout", window::log_out),
        post!("/h/pin", window::change_pin),
        post!("/h/honours", window::honour_choice),
        post!("/h/reports", window::report_deed),
        post!("/h/objections", window::object),
        get!("/h/photos/{id}", window::own_photo),
        // What anyone may read: the rulebook, a store's prices, a village's
        // notice, an area's honour roll.
        get!("/public/rules", window::rules),
        get!("/public/stores/{id}", window::shelf),
        get!("/public/notice", window::notice_pick),
        get!("/public/notice/{id}", window::notice),
        get!("/public/honours", window::honours_pick),
        get!("/public/honours/{id}", window::honours),
        get!("/public/blacklist/{id}", window::black_list),
        get!("/password", auth::password_page),
        post!("/password", auth::change_password),
        get!("/profile", profile::profile),
        post!("/profile/tokens", profile::create_token),
        post!("/profile/tokens/{id}/revoke", profile::revoke_token),
        get!("/users", users::list),
        post!("/users", users::create),
        get!("/users/{id}", users::detail),
        post!("/users/{id}/assign", users::assign),
        post!("/users/{id}/personal", users::set_personal),
        post!("/users/{id}/disable", users::disable),
        post!("/users/{id}/enable", users::enable),
        post!("/users/{id}/password", users::reset_password),
        get!("/areas", areas::list),
        post!("/areas", areas::create),
        post!("/areas/{id}/rename", areas::rename),
        post!("/areas/{id}/delete", areas::delete),
        post!("/areas/{id}/place", areas::place),
        get!("/stores", stores::list),
        post!("/stores", stores::create),
        get!("/my-store", stock::my_store),
        get!("/stores/{id}", stock::detail),
        post!("/stores/{id}/edit", stores::update),
        post!("/stores/{id}/active", stores::set_active),
        post!("/stores/{id}/printing", counter::printing),
        post!("/stores/{id}/moves", stock::move_stock),
        post!("/stores/{id}/write-offs", stock::write_off),
        post!("/stores/{id}/purchases", stock::buy_in),
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
        post!("/donations/{id}/reverse", donations::reverse),
        get!("/movements/{id}", stock::movement),
        post!("/movements/{id}/reverse", stock::reverse),
        get!("/ledger/stock", stock::verify),
        get!("/audit", audit::list),
        get!("/households", households::list),
        post!("/households/find", households::find),
        post!("/households", households::create),
        get!("/households/new", households::new_form),
        get!("/households/cards", households::cards),
        get!("/households/export.csv", households::export_csv),
        get!("/households/export.xlsx", households::export_xlsx),
        get!("/households/import", households::import_form),
        post!("/households/import", households::import_upload),
        get!("/households/import/{id}", households::import_job),
        get!("/households/import/{id}/cards", households::import_cards),
        get!(
            "/households/import/{id}/refused.csv",
            households::import_refused_csv
        ),
        get!(
            "/households/import/{id}/refused.xlsx",
            households::import_refused_xlsx
        ),
        post!(
            "/households/import/{id}/confirm",
            households::import_confirm
        ),
        get!("/households/{id}", households::detail),
        get!("/households/{id}/statement", ledger::statement),
        get!("/households/{id}/statement.csv", ledger::statement_csv),
        get!("/households/{id}/statement.xlsx", ledger::statement_xlsx),
        post!("/households/{id}/adjust", ledger::adjust),
        post!("/households/{id}", households::update),
        get!("/households/{id}/edit", households::edit_form),
        get!("/households/{id}/card", households::card),
        post!("/households/{id}/card", households::reissue_card),
        post!("/households/{id}/card/pin", households::reset_pin),
        post!("/households/{id}/reveal", households::reveal),
        post!("/households/{id}/archive", households::archive),
        post!("/households/{id}/restore", households::restore),
        get!("/rules", rules::list),
        post!("/rules", rules::create),
        get!("/rules/print", rules::print),
        post!("/rules/categories", rules::add_category),
        get!("/rules/{code}/edit", rules::edit_form),
        post!("/rules/{code}", rules::edit),
        get!("/awards", awards::mine),
        post!("/awards", awards::propose),
        get!("/awards/new", awards::new_form),
        get!("/awards/batch", awards::batch_form),
        post!("/awards/batch", awards::propose_batch),
        get!("/awards/{id}/edit", awards::edit_form),
        post!("/awards/{id}", awards::edit),
        post!("/awards/{id}/withdraw", awards::withdraw),
        post!("/awards/{id}/reverse", awards::reverse),
        post!("/awards/{id}/object", awards::object),
        // Deeds households reported, for the officials of their area.
        get!("/deeds", deeds::list),
        post!("/deeds/{id}/award", deeds::to_award),
        post!("/deeds/{id}/decline", deeds::decline),
        get!("/deeds/photos/{id}", deeds::photo),
        // Households' objections to the online notice, for the reviewers.
        get!("/objections", deeds::objections_queue),
        post!("/objections/{id}", deeds::decide_objection),
        get!("/review", awards::review_queue),
        post!("/review", awards::review),
        get!("/notice", awards::notice),
        get!("/adjustments", ledger::adjustments_list),
        post!("/adjustments/{id}", ledger::adjustment_decide),
        get!("/ledger/verify", ledger::verify),
        get!("/counter", counter::counter),
        post!("/counter", counter::basket_action),
        post!("/counter/find", counter::find),
        get!("/counter/day", counter::day),
        get!("/redemptions/{id}", counter::receipt),
        post!("/redemptions/{id}/void", counter::void),
        get!("/reports/monthly", reports::monthly),
        get!("/reports/monthly.csv", reports::monthly_csv),
        get!("/reports/monthly.xlsx", reports::monthly_xlsx),
        post!("/reports/close", reports::close_month),
        post!("/reports/reopen", reports::reopen_month),
        get!("/settings", ledger::settings_page),
        post!("/settings", ledger::settings_save),
        get!("/operations", operations::page),
        get!("/signals", signals::page),
        get!("/signals.xlsx", signals::xlsx),
        post!("/signals/marks", signals::mark),
    ]
}
