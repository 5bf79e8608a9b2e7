//! The app's integration tests: one binary, the real server, a fresh database
//! per test. Each `app_test!` runs on SQLite, and again on PostgreSQL when
//! TEST_DATABASE_URL is set.

mod helpers;

/// Define a test that runs against the real app, on SQLite and on PostgreSQL.
macro_rules! app_test {
    ($(#[$meta:meta])* async fn $name:ident($app:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            async fn scenario($app: $crate::helpers::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::spawn_app($crate::helpers::Db::Sqlite, concat!(stringify!($name), "::sqlite"))
                    .await
                    .expect("SQLite is always available");
                scenario(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::helpers::spawn_app($crate::helpers::Db::Postgres, concat!(stringify!($name), "::postgres")).await {
                    scenario(app).await;
                }
            }
        }
    };
}

mod admin_pages;
mod api;
mod auth;
mod browser;
mod cli;
mod concurrency;
mod counter;
mod counter_print;
mod demo;
mod edges;
mod exports;
mod filters;
mod forms_kept;
mod foundation;
mod fuzz_forms;
mod households;
mod import;
mod import_results;
mod integrity;
mod layers;
mod lifecycle;
mod matrix;
mod office;
mod office_browser;
mod operations;
mod parsers;
mod points;
mod province;
mod queries;
mod races;
mod reasons;
mod report_totals;
mod reports;
mod search;
mod signals;
mod stock;
mod summary_totals;
mod tablet;
mod wal;
mod walks;
mod window;
mod window_edges;
mod words;
