//! What the benchmarks share: their settings from the environment, a free
//! port for a server, and a clerk's or administrator's session logged in
//! through the login form. Each benchmark includes it with
//! `#[path = "common/mod.rs"] mod common;`.

#![allow(dead_code)] // each benchmark uses a part

use std::time::Instant;

use diesel::prelude::*;

use aixin::db::DbConn;
use aixin::time::Month;

/// The environment variable `name` parsed as `T`, or `default` when it is
/// unset or does not parse.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A TCP port on 127.0.0.1 that nothing listens on (the operating system's
/// choice, released at once for the server to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The CSRF token of the first form on a page, if it has one.
pub fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")?;
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    Some(rest[..rest.find('"')?].to_string())
}

/// A logged-in session: its client (cookies kept, redirects not followed)
/// and the CSRF token its forms carry.
#[derive(Clone)]
pub struct Session {
    pub http: reqwest::Client,
    pub csrf: String,
}

/// Logs `username` in through the login form with the demo password, as a
/// browser does (the form's token first, then the POST, then the home page
/// for the session's token). Panics when the login is refused: a benchmark
/// that cannot log in has nothing to measure.
pub async fn login(base: &str, username: &str) -> Session {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let page = http.get(format!("{base}/login")).send().await.unwrap();
    let csrf = csrf_in(&page.text().await.unwrap()).expect("a login form");
    let res = http
        .post(format!("{base}/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", username),
            ("password", aixin::demo::DEMO_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303, "{username} logs in");
    let home = http.get(format!("{base}/")).send().await.unwrap();
    let csrf = csrf_in(&home.text().await.unwrap()).unwrap_or(csrf);
    Session { http, csrf }
}

/// Milliseconds since `t`.
pub fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// The median of some timings (the upper one of an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The baseline of the integrity signals: the month's awards for the
/// households under the area `path` (the largest query the signals make),
/// in raw SQL, three times. Returns the median in milliseconds and the
/// number of rows.
pub fn raw_month_awards(
    c: &mut DbConn,
    tz: chrono_tz::Tz,
    path: &str,
    month: Month,
) -> (f64, usize) {
    let (from, to) = aixin::signals::fetch::bounds(tz, month);
    let prefix = format!("{path}%");
    let sql =
        "SELECT awards.id, awards.household_id, awards.points, awards.occurred_on, awards.note,
                      awards.status, awards.proposed_by, awards.proposed_at, awards.reviewed_by,
                      awards.reviewed_at, households.head_name, households.helper_id,
                      households.archived_at, areas.path
                 FROM awards
                 JOIN households ON households.id = awards.household_id
                 JOIN areas ON areas.id = households.area_id
                WHERE areas.path LIKE $1 AND awards.proposed_at >= $2 AND awards.proposed_at < $3
                  AND awards.status <> 'withdrawn'";
    #[derive(QueryableByName)]
    #[allow(dead_code)]
    struct A {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        points: i64,
        #[diesel(sql_type = diesel::sql_types::Text)]
        note: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        path: String,
    }
    let mut n = 0;
    let times = (0..3)
        .map(|_| {
            let started = Instant::now();
            let rows: Vec<A> = match c {
                DbConn::Sqlite(s) => diesel::sql_query(sql.replace('$', "?"))
                    .bind::<diesel::sql_types::Text, _>(&prefix)
                    .bind::<diesel::sql_types::Timestamp, _>(from)
                    .bind::<diesel::sql_types::Timestamp, _>(to)
                    .load(s)
                    .unwrap(),
                DbConn::Pg(p) => diesel::sql_query(sql)
                    .bind::<diesel::sql_types::Text, _>(&prefix)
                    .bind::<diesel::sql_types::Timestamp, _>(from)
                    .bind::<diesel::sql_types::Timestamp, _>(to)
                    .load(p)
                    .unwrap(),
            };
            n = rows.len();
            ms(started)
        })
        .collect();
    (median(times), n)
}
