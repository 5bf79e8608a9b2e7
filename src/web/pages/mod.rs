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

pub async fn not_found() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound)
}
