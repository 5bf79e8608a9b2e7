//! The server's assembly: the pages' routes, the JSON API's scope, the
//! middleware and the extractors' settings, on one listener.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};

use crate::state::AppState;
use crate::web::{AppError, middleware, pages, routes};

/// Start serving on `listener`. Returns the running server (await it to run).
pub fn serve(
    state: AppState,
    listener: TcpListener,
    workers: Option<usize>,
) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        let mut app =
            App::new()
                .app_data(state.clone())
                // Malformed query strings, paths, forms and JSON answer the app's
                // error page in the user's language, never the framework's text.
                .app_data(web::FormConfig::default().limit(256 * 1024).error_handler(
                    |e, _| match e {
                        actix_web::error::UrlencodedError::Overflow { limit, .. } => {
                            AppError::TooLarge { limit }.into()
                        }
                        e => AppError::BadRequest(e.to_string()).into(),
                    },
                ))
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
