//! Page handlers: extract, check, call one operation, render or redirect.

pub mod areas;
pub mod audit;
pub mod auth;
pub mod awards;
pub mod counter;
pub mod deeds;
pub mod donations;
pub mod goods;
pub mod home;
pub mod households;
pub mod ledger;
pub mod misc;
pub mod operations;
pub mod profile;
pub mod reports;
pub mod rules;
pub mod signals;
pub mod stock;
pub mod stocktakes;
pub mod stores;
pub mod users;
pub mod window;

use super::AppError;

/// No route answered: 405 with `Allow` when a page route takes this path
/// with another method, else 404 (both as the app's error page).
pub async fn not_found(req: actix_web::HttpRequest) -> Result<actix_web::HttpResponse, AppError> {
    let table = super::routes::table();
    let methods = crate::request::methods_at(req.path(), table.iter().map(|r| (r.path, &r.method)));
    if methods.is_empty() {
        return Err(AppError::NotFound);
    }
    Err(AppError::MethodNotAllowed {
        allow: crate::request::allow_header(methods.iter()),
    })
}
