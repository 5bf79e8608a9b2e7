//! The test harness: the real app on port 0 against a fresh database, and a
//! cookie-keeping client that behaves like a browser's forms.

use std::net::TcpListener;
use std::sync::Mutex;

use aixin::audit::AuditCtx;
use aixin::config::{Config, PasswordCost};
use aixin::db::{self, DbPool, PooledConn};
use aixin::domain::{NewPassword, Role, Username};
use aixin::state::AppState;
use aixin::users::{self, Assignment, InitialPassword};
use diesel::prelude::*;

pub const PASSWORD: &str = "test-password-1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Whether tests that need PostgreSQL or a browser must run (CI) rather
/// than be skipped.
pub fn require_all() -> bool {
    std::env::var("AIXIN_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// Skip a test for want of `what`, or fail when everything is required.
pub fn skip(test: &str, what: &str) {
    if require_all() {
        panic!("{test}: {what} is required (AIXIN_TEST_REQUIRE_ALL=1) but not available");
    }
    // Written to the stream itself, past the test harness's capture, so that
    // a skip is seen even when the test passes.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {what} is not available");
}

pub struct TestApp {
    pub addr: String,
    /// Queries run by the app's connections (the server shares this pool).
    pub queries: aixin::db::QueryCount,
    pub key: std::sync::Arc<aixin::crypto::DataKey>,
    pub pool: DbPool,
    pub config: Config,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

/// A fresh PostgreSQL database on the server of TEST_DATABASE_URL; returns
/// (url of the new database, admin url, its name).
pub fn fresh_pg_database() -> Option<(String, String, String)> {
    let admin = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    let name = format!("aixin_t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = diesel::PgConnection::establish(&admin).unwrap_or_else(|e| {
        panic!("TEST_DATABASE_URL is set but PostgreSQL cannot be reached: {e}")
    });
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .expect("create test database");
    let (prefix, rest) = admin
        .rsplit_once('/')
        .expect("TEST_DATABASE_URL has a database name");
    let query = rest
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    Some((format!("{prefix}/{name}{query}"), admin, name))
}

pub fn test_config(database_url: &str) -> Config {
    let mut config = Config::from_lookup(|_| None).expect("default config");
    config.database_url = database_url.to_string();
    config.password_cost = PasswordCost::TESTING;
    config.pool_size = 4;
    config.data_key = Some(aixin::crypto::DataKey::generate_hex());
    // Every test talks from 127.0.0.1; the public pages' limit is tested apart.
    config.public_per_minute = 100_000;
    config
}

/// Start the app on a fresh database. None when PostgreSQL is asked for but
/// TEST_DATABASE_URL is not set (after saying so, or failing under CI).
pub async fn spawn_app(db: Db, test: &str) -> Option<TestApp> {
    spawn_app_with(db, test, |_| {}).await
}

pub async fn spawn_app_with(
    db: Db,
    test: &str,
    tweak: impl FnOnce(&mut Config),
) -> Option<TestApp> {
    let (url, dir, pg_drop) = match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("aixin.db").display());
            (url, Some(dir), None)
        }
        Db::Postgres => match fresh_pg_database() {
            Some((url, admin, name)) => (url, None, Some((admin, name))),
            None => {
                skip(test, "PostgreSQL (TEST_DATABASE_URL)");
                return None;
            }
        },
    };
    let mut config = test_config(&url);
    tweak(&mut config);
    let (pool, backend, queries) =
        db::open_counting(&config.database_url, config.pool_size).expect("open test database");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let key = std::sync::Arc::new(
        aixin::crypto::DataKey::from_hex(config.data_key.as_deref().unwrap()).unwrap(),
    );
    key.check_against(&mut pool.get().unwrap()).unwrap();
    let state = AppState::new(pool.clone(), config.clone(), backend, key.clone());
    let server = aixin::server::serve(state, listener, Some(2)).expect("start server");
    tokio::spawn(server);
    Some(TestApp {
        addr,
        queries,
        key,
        pool,
        config,
        _dir: dir,
        pg_drop,
    })
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg_drop.take() {
            drop_pg_database(&admin, &name);
        }
    }
}

pub fn drop_pg_database(admin: &str, name: &str) {
    if let Ok(mut conn) = diesel::PgConnection::establish(admin) {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn);
    }
}

impl TestApp {
    pub fn conn(&self) -> PooledConn {
        self.pool.get().expect("database connection")
    }

    /// The stored version of a household, a store or a user (`table`), as
    /// an edit form opened now carries it.
    pub fn version_of(&self, table: &str, id: &str) -> String {
        use aixin::db::schema::{households, stores, users};
        let mut c = self.conn();
        let v: i64 = match table {
            "households" => households::table
                .find(id)
                .select(households::version)
                .first(&mut c),
            "stores" => stores::table.find(id).select(stores::version).first(&mut c),
            "users" => users::table.find(id).select(users::version).first(&mut c),
            other => panic!("no version for {other}"),
        }
        .expect("the record's version");
        v.to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.addr, path)
    }

    /// A new browser-like client with its own cookies.
    pub fn client(&self) -> Client {
        Client {
            base: self.addr.clone(),
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            csrf: Mutex::new(None),
        }
    }

    pub fn area(&self, parent: Option<&str>, name: &str) -> String {
        let mut c = self.conn();
        aixin::areas::create(&mut c, &aixin::auth::Actor::console(), parent, name)
            .expect("create area")
            .id
    }

    /// city > district > town > village, returning the four ids.
    pub fn area_chain(&self, prefix: &str) -> [String; 4] {
        let city = self.area(None, &format!("{prefix}市"));
        let district = self.area(Some(&city), &format!("{prefix}区"));
        let town = self.area(Some(&district), &format!("{prefix}镇"));
        let village = self.area(Some(&town), &format!("{prefix}村"));
        [city, district, town, village]
    }

    pub fn store(&self, name: &str, area_id: &str) -> String {
        let mut c = self.conn();
        aixin::stores::create(
            &mut c,
            &aixin::auth::Actor::console(),
            &aixin::stores::StoreForm {
                name,
                area_id,
                address: "",
                opening_hours: "",
                phone: "",
            },
        )
        .expect("create store")
        .id
        .into_string()
    }

    /// A user with password PASSWORD (not generated, so no forced change).
    pub fn user(
        &self,
        username: &str,
        role: Role,
        area: Option<&str>,
        store: Option<&str>,
    ) -> String {
        let mut c = self.conn();
        let assignment = Assignment {
            role,
            area_id: area.map(str::to_string),
            store_id: store.map(str::to_string),
        };
        let (user, _) = users::create(
            &mut c,
            &aixin::auth::Actor::console(),
            self.config.password_cost,
            &Username::parse(username).unwrap(),
            "",
            &assignment,
            InitialPassword::Given(NewPassword::parse("field.password", PASSWORD).unwrap()),
        )
        .expect("create user");
        user.id
    }

    /// A household in a village, registered directly; returns its id.
    pub fn household(&self, name: &str, village: &str) -> String {
        self.household_with_id(name, village, &test_id_number()).0
    }

    /// A household with a given ID number; returns (id, card number).
    pub fn household_with_id(
        &self,
        name: &str,
        village: &str,
        id_number: &str,
    ) -> (String, String) {
        use aixin::households::{self, HouseholdInput, Status};
        let mut c = self.conn();
        let input = HouseholdInput {
            head_name: name.to_string(),
            id_number: Some(aixin::domain::IdNumber::parse("field.id_number", id_number).unwrap()),
            phone: Some(aixin::domain::Phone::parse("field.phone", "13800138000").unwrap()),
            area_id: village.to_string(),
            address: "一组 1 号".into(),
            members: 3,
            status: Status::Registered,
            helper_id: None,
            notes: String::new(),
            status_reason: String::new(),
            seen_version: None,
        };
        let (id, card) =
            households::create(&mut c, &aixin::auth::Actor::console(), &self.key, &input)
                .expect("create household");
        (id.to_string(), card.as_str().to_string())
    }

    /// A rule in the first seeded category; returns its code.
    pub fn rule(&self, code: &str, name: &str, points: i64, cap: Option<(i64, &str)>) -> String {
        let mut c = self.conn();
        let input = aixin::points::RuleInput {
            code: code.to_string(),
            name: name.to_string(),
            category_id: "cat-01".into(),
            points,
            cap_count: cap.map(|(n, _)| n),
            cap_points: None,
            cap_period: cap.and_then(|(_, p)| aixin::points::Period::parse(p)),
            valid_from: None,
            valid_to: None,
            active: true,
        };
        aixin::points::create_rule(&mut c, &aixin::auth::Actor::console(), &input)
            .expect("create rule")
            .code
    }

    /// An admin, logged in.
    pub async fn admin(&self) -> Client {
        self.user("boss", Role::Admin, None, None);
        let client = self.client();
        client.login("boss", PASSWORD).await;
        client
    }

    pub fn audit_actions(&self) -> Vec<String> {
        use aixin::db::schema::audit_log;
        let mut c = self.conn();
        audit_log::table
            .order(audit_log::id.asc())
            .select(audit_log::action)
            .load(&mut c)
            .unwrap()
    }
}

pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    csrf: Mutex<Option<String>>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Page {
    pub fn assert_contains(&self, needle: &str) {
        assert!(
            self.body.contains(needle),
            "expected the page to contain {needle:?} (status {}):\n{}",
            self.status,
            &self.body
        );
    }
}

/// A valid, random ID number (GB 11643 check digit, a real birth date).
pub fn test_id_number() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let body = format!(
        "370102{:04}{:02}{:02}{:03}",
        rng.gen_range(1940..2005),
        rng.gen_range(1..=12),
        rng.gen_range(1..=28),
        rng.gen_range(0..1000)
    );
    format!(
        "{body}{}",
        aixin::domain::people::id_check_char(&body).unwrap()
    )
}

/// The `seen.*` hidden fields of a page's forms, their values unescaped.
pub fn seen_fields(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("name=\"seen.").skip(1) {
        let Some((name, rest)) = part.split_once('"') else {
            continue;
        };
        let value = rest
            .split_once("value=\"")
            .filter(|(before, _)| !before.contains('>'))
            .and_then(|(_, v)| v.split_once('"'))
            .map_or("", |(v, _)| v);
        let value = value
            .replace("&#34;", "\"")
            .replace("&#39;", "'")
            .replace("&#60;", "<")
            .replace("&#62;", ">")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#38;", "&")
            .replace("&amp;", "&");
        out.push((format!("seen.{name}"), value));
    }
    out
}

/// The CSRF token in a page's forms.
pub fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")?;
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    Some(rest[..rest.find('"')?].to_string())
}

impl Client {
    /// A browser-like client of a server at `base`.
    pub fn new(base: &str) -> Client {
        Client {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            csrf: Mutex::new(None),
        }
    }

    /// The same client, sharing another's cookie jar.
    pub fn with_http(self, http: reqwest::Client) -> Client {
        Client { http, ..self }
    }

    async fn page(&self, res: reqwest::Response) -> Page {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let location = headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = res.text().await.unwrap_or_default();
        if let Some(t) = csrf_in(&body) {
            *self.csrf.lock().unwrap() = Some(t);
        }
        Page {
            status,
            location,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        let res = self
            .http
            .get(format!("{}{}", self.base, path))
            .send()
            .await
            .expect("GET");
        self.page(res).await
    }

    /// GET, following redirects on this site.
    pub async fn follow(&self, path: &str) -> Page {
        let mut path = path.to_string();
        for _ in 0..5 {
            let page = self.get(&path).await;
            match (&page.location, page.status) {
                (Some(loc), 301..=308) => path = loc.clone(),
                _ => return page,
            }
        }
        panic!("too many redirects from {path}");
    }

    pub async fn csrf(&self) -> String {
        if let Some(t) = self.csrf.lock().unwrap().clone() {
            return t;
        }
        self.get("/login").await;
        self.csrf
            .lock()
            .unwrap()
            .clone()
            .expect("a page with a CSRF token")
    }

    pub fn forget_csrf(&self) {
        *self.csrf.lock().unwrap() = None;
    }

    /// POST a form with the current CSRF token.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let token = self.csrf().await;
        let mut fields: Vec<(&str, &str)> = vec![("csrf", token.as_str())];
        fields.extend_from_slice(form);
        self.post_raw(path, &fields).await
    }

    /// POST exactly these fields (no CSRF token added).
    pub async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let res = self
            .http
            .post(format!("{}{}", self.base, path))
            .form(form)
            .send()
            .await
            .expect("POST");
        self.page(res).await
    }

    /// What the edit form on the page at `page` says it showed: its
    /// `seen.*` fields, as a browser sends them back.
    pub async fn seen_on(&self, page: &str) -> Vec<(String, String)> {
        seen_fields(&self.get(page).await.body)
    }

    /// POST `form` to `action` as the page at `page` sends it (read first,
    /// as a browser would): with the `seen.*` fields it showed, unless
    /// `form` gives one itself.
    pub async fn post_shown(&self, page: &str, action: &str, form: &[(&str, &str)]) -> Page {
        let seen = self.seen_on(page).await;
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        for (k, v) in &seen {
            if !form.iter().any(|(f, _)| f == k) {
                fields.push((k.as_str(), v.as_str()));
            }
        }
        self.post(action, &fields).await
    }

    /// [`Client::post_shown`], then follow the redirect like a browser.
    pub async fn submit_shown(&self, page: &str, action: &str, form: &[(&str, &str)]) -> Page {
        let page = self.post_shown(page, action, form).await;
        match (&page.location, page.status) {
            (Some(loc), 303) => {
                let loc = loc.clone();
                self.follow(&loc).await
            }
            _ => page,
        }
    }

    /// POST, then follow the redirect like a browser.
    pub async fn submit(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let page = self.post(path, form).await;
        match (&page.location, page.status) {
            (Some(loc), 303) => {
                let loc = loc.clone();
                self.follow(&loc).await
            }
            _ => page,
        }
    }

    pub async fn login(&self, username: &str, password: &str) -> Page {
        self.get("/login").await;
        let page = self
            .post("/login", &[("username", username), ("password", password)])
            .await;
        assert_eq!(
            page.status, 303,
            "login of {username} should succeed:\n{}",
            page.body
        );
        self.forget_csrf();
        self.follow(page.location.as_deref().unwrap_or("/")).await;
        page
    }
}

/// A real `aixin serve` process, as deployed.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub addr: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `aixin serve` on a free port with these variables; waits until it
/// says where it is serving. Its log goes to `log` (stderr).
pub fn spawn_server(
    database_url: &str,
    env: &[(&str, &str)],
    log: &std::path::Path,
) -> ServerProcess {
    use std::io::BufRead;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_aixin"));
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", database_url)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(log).expect("log file"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start aixin serve");
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let started = std::time::Instant::now();
    let addr = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(rest) = line.split("serving on ").nth(1) {
                    break rest.split_whitespace().next().unwrap().to_string();
                }
            }
            _ => panic!("aixin serve stopped before serving; see {}", log.display()),
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "aixin serve did not start"
        );
    };
    // Keep reading stdout so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    ServerProcess { child, addr }
}

/// Give a household points from the issuance account, as an adjustment.
pub fn fund(conn: &mut aixin::db::DbConn, household: &str, points: i64) {
    use aixin::ledger::{self, Kind, Posting};
    aixin::db::write_tx(conn, |c| {
        ledger::post(
            c,
            &Posting {
                debit: ledger::ISSUANCE.into(),
                credit: ledger::household_account(household),
                amount: points,
                kind: Kind::Adjustment,
                ref_kind: "test".into(),
                ref_id: String::new(),
                memo: "test".into(),
                user_id: None,
                posted_on: aixin::time::today(chrono_tz::Asia::Shanghai),
                idempotency_key: None,
                reverses: None,
            },
        )
    })
    .expect("fund a household");
}

/// A user acting outside a request, for calling operations directly: the
/// owned actor is made with the audit context's name and address.
pub struct Who {
    pub user_id: String,
    pub role: Role,
    pub scope: aixin::auth::Scope,
}

impl Who {
    pub fn actor(&self, ctx: impl Into<AuditCtx>) -> aixin::auth::Actor {
        let ctx: AuditCtx = ctx.into();
        aixin::auth::Actor {
            user_id: self.user_id.clone(),
            username: ctx.username.clone(),
            role: self.role,
            scope: self.scope.clone(),
            ip: ctx.ip.clone(),
            request_id: ctx.request_id.clone(),
            lang: Default::default(),
        }
    }
}

/// The household id a test holds as text (from `household`, a form or a row).
pub fn hid(id: &str) -> aixin::domain::HouseholdId {
    aixin::domain::HouseholdId::parse(id).expect("a household id")
}

/// The award id a test holds as text (from a row or a page).
pub fn aid(id: &str) -> aixin::domain::AwardId {
    aixin::domain::AwardId::parse(id).expect("an award id")
}

/// The store id a test holds as text (from `store`, a form or a row).
pub fn sid(id: &str) -> aixin::domain::StoreId {
    aixin::domain::StoreId::parse(id).expect("a store id")
}

/// The item id a test holds as text (from a seed, a form or a row).
pub fn iid(id: &str) -> aixin::domain::ItemId {
    aixin::domain::ItemId::parse(id).expect("an item id")
}
