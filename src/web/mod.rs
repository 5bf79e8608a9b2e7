//! The web layer: routes, extractors, middleware and pages, thin on top of
//! the domain areas.

pub mod error;
pub mod export;
pub mod extract;
pub mod middleware;
pub mod page;
pub mod pages;
pub mod routes;
pub mod static_files;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};

use crate::config::Config;
use crate::crypto::DataKey;
use crate::db::{Backend, DbConn, DbPool};

pub use error::AppError;
pub use extract::{CsrfForm, CurrentUser};
pub use page::PageCtx;

/// What every handler can reach.
pub struct AppState {
    pub pool: DbPool,
    pub config: Arc<Config>,
    pub backend: Backend,
    /// A hash of a random password, verified against when the user is
    /// unknown so that unknown and known users take the same time.
    pub dummy_hash: Arc<String>,
    /// Encrypts people's data; never leaves the process.
    pub key: Arc<DataKey>,
}

impl AppState {
    pub fn new(pool: DbPool, config: Config, backend: Backend, key: Arc<DataKey>) -> AppState {
        let dummy =
            crate::auth::password::hash(&crate::auth::password::generate(), config.password_cost);
        AppState {
            pool,
            config: Arc::new(config),
            backend,
            dummy_hash: Arc::new(dummy),
            key,
        }
    }
}

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

/// Start serving on `listener`. Returns the running server (await it to run).
pub fn serve(
    state: AppState,
    listener: TcpListener,
    workers: Option<usize>,
) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        let mut app = App::new()
            .app_data(state.clone())
            // Malformed query strings, paths, forms and JSON answer the app's
            // error page in the user's language, never the framework's text.
            .app_data(
                web::FormConfig::default()
                    .limit(256 * 1024)
                    .error_handler(|e, _| AppError::BadRequest(e.to_string()).into()),
            )
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| AppError::BadRequest(e.to_string()).into()),
            )
            .app_data(
                web::PathConfig::default()
                    .error_handler(|e, _| AppError::BadRequest(e.to_string()).into()),
            )
            .app_data(
                web::JsonConfig::default()
                    .limit(256 * 1024)
                    .error_handler(|e, _| AppError::BadRequest(e.to_string()).into()),
            )
            .wrap(actix_web::middleware::from_fn(middleware::request_context))
            // The JSON API: its own scope, errors and (Bearer) authentication.
            .service(crate::api::service());
        for r in routes::table() {
            app = app.route(r.path, (r.make)());
        }
        app.default_service(web::to(pages::not_found))
    })
    .listen(listener)?;
    if let Some(n) = workers {
        server = server.workers(n);
    }
    Ok(server.run())
}
