//! The web layer: routes, extractors, middleware and pages, thin on top of
//! the domain areas.

pub mod error;
pub mod export;
pub mod extract;
pub mod form;
pub mod middleware;
pub mod page;
pub mod pages;
pub mod routes;

use actix_web::web;

use crate::db::DbConn;

pub use crate::state::AppState;
pub use crate::static_files;
pub use error::AppError;
pub use extract::{CsrfForm, CurrentUser};
pub use page::PageCtx;

/// Run blocking database work on actix's blocking pool, never on an async worker.
pub async fn run<T, F>(state: &AppState, f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
{
    let pool = state.pool.clone();
    web::block(move || {
        let mut conn = pool
            .get()
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        f(&mut conn)
    })
    .await
    .map_err(AppError::internal)?
}
