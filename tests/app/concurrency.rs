//! Never overspent, on any number of servers; nothing half-written after a
//! crash. Real `aixin serve` processes on one database.

use aixin::db::schema::redemptions;
use aixin::domain::{NewPassword, Role, Username};
use aixin::goods::{self, ItemForm};
use aixin::ledger;
use diesel::prelude::*;

use crate::helpers::*;

const CLERK_PASSWORD: &str = "clerk passphrase 1";

struct Shop {
    store: String,
    item: String,
    household: String,
    card: String,
    key: String,
    /// The item's price: the total a one-unit basket shows.
    price: i64,
}

/// A store with `units` of an item at `price`, a household with exactly
/// `units * price` points, and a clerk.
fn shop(url: &str, units: i64, price: i64) -> Shop {
    let (pool, _) = aixin::db::open(url, 2).unwrap();
    let mut c = pool.get().unwrap();
    let key_hex = aixin::crypto::DataKey::generate_hex();
    let key = aixin::crypto::DataKey::from_hex(&key_hex).unwrap();
    key.check_against(&mut c).unwrap();
    let ctx = aixin::auth::Actor::console();
    let city = aixin::areas::create(&mut c, &ctx, None, "并发市")
        .unwrap()
        .id;
    let district = aixin::areas::create(&mut c, &ctx, Some(&city), "并发区")
        .unwrap()
        .id;
    let town = aixin::areas::create(&mut c, &ctx, Some(&district), "并发镇")
        .unwrap()
        .id;
    let village = aixin::areas::create(&mut c, &ctx, Some(&town), "并发村")
        .unwrap()
        .id;
    let store = aixin::stores::create(
        &mut c,
        &aixin::auth::Actor::console(),
        &aixin::stores::StoreForm {
            name: "并发超市",
            area_id: &town,
            address: "",
            opening_hours: "",
            phone: "",
        },
    )
    .unwrap()
    .id
    .into_string();
    aixin::users::create(
        &mut c,
        &ctx,
        aixin::config::PasswordCost::TESTING,
        &Username::parse("clerk").unwrap(),
        "",
        &aixin::users::Assignment {
            role: Role::Clerk,
            area_id: None,
            store_id: Some(store.clone()),
        },
        aixin::users::InitialPassword::Given(NewPassword::parse("p", CLERK_PASSWORD).unwrap()),
    )
    .unwrap();
    let price_text = price.to_string();
    let item = goods::create(
        &mut c,
        &ctx,
        &ItemForm {
            name: "食用油",
            category: "粮油",
            unit: "桶",
            points_price: &price_text,
            barcode: "",
        },
    )
    .unwrap()
    .id
    .into_string();
    let donor = crate::stock::donor(&mut c, "并发捐赠");
    crate::stock::donate(&mut c, &store, &donor, &[(item.as_str(), units)]);
    let input = aixin::households::HouseholdInput {
        head_name: "并发户".into(),
        id_number: Some(aixin::domain::IdNumber::parse("f", &test_id_number()).unwrap()),
        phone: None,
        area_id: village,
        address: String::new(),
        members: 2,
        status: aixin::households::Status::Registered,
        helper_id: None,
        notes: String::new(),
        status_reason: String::new(),
        seen_version: None,
    };
    let (household, card) =
        aixin::households::create(&mut c, &aixin::auth::Actor::console(), &key, &input).unwrap();
    fund(&mut c, &household, units * price);
    Shop {
        store,
        item,
        household: household.to_string(),
        card: card.as_str().to_string(),
        key: key_hex,
        price,
    }
}

fn server_env(key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AIXIN_DATA_KEY", key.to_string()),
        ("AIXIN_ADMIN_PASSWORD", "unused admin passphrase".into()),
        ("RUST_LOG", "warn".into()),
    ]
}

fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// POST one redemption of one unit; returns the status and the receipt's location.
async fn redeem_once(
    http: &reqwest::Client,
    base: &str,
    csrf: &str,
    shop: &Shop,
) -> (u16, Option<String>) {
    let key = uuid::Uuid::new_v4().to_string();
    let line = format!("{}*1", shop.item);
    let total = shop.price.to_string();
    let form = [
        ("csrf", csrf),
        ("store_id", shop.store.as_str()),
        ("card", shop.card.as_str()),
        ("key", key.as_str()),
        ("line", line.as_str()),
        ("total", total.as_str()),
        ("confirm", "1"),
    ];
    match http
        .post(format!("{base}/counter"))
        .form(&form)
        .send()
        .await
    {
        Ok(res) => (
            res.status().as_u16(),
            res.headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        ),
        Err(_) => (0, None),
    }
}

async fn never_overspent(url: &str) {
    let k = 5;
    let shop = shop(url, k, 7);
    let dir = tempfile::tempdir().unwrap();
    let env = server_env(&shop.key);
    let one = spawn_server(url, &env_refs(&env), &dir.path().join("one.log"));
    let two = spawn_server(url, &env_refs(&env), &dir.path().join("two.log"));
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let http = reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let c1 = Client::new(&one.addr).with_http(http.clone());
    c1.login("clerk", CLERK_PASSWORD).await;
    let csrf = c1.csrf().await;
    let mut tasks = Vec::new();
    for i in 0..(20 * k) {
        let http = http.clone();
        let base = if i % 2 == 0 {
            one.addr.clone()
        } else {
            two.addr.clone()
        };
        let csrf = csrf.clone();
        let shop = Shop {
            store: shop.store.clone(),
            item: shop.item.clone(),
            household: shop.household.clone(),
            card: shop.card.clone(),
            key: String::new(),
            price: shop.price,
        };
        tasks.push(tokio::spawn(async move {
            redeem_once(&http, &base, &csrf, &shop).await
        }));
    }
    let mut ok = 0;
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            (303, Some(loc)) if loc.starts_with("/redemptions/") => ok += 1,
            // Points or goods short: a conflict with the shelf, told on the page.
            (409 | 422, _) => refused += 1,
            other => {
                panic!("every request is answered with a receipt or a clean refusal, not {other:?}")
            }
        }
    }
    assert_eq!(ok, k as usize, "exactly k receipts");
    assert_eq!(refused, 19 * k as usize);
    drop(one);
    drop(two);
    let (pool, _) = aixin::db::open(url, 1).unwrap();
    let mut c = pool.get().unwrap();
    let n: i64 = redemptions::table.count().get_result(&mut c).unwrap();
    assert_eq!(n, k);
    assert_eq!(
        ledger::balance(&mut c, &ledger::household_account(&shop.household)).unwrap(),
        0
    );
    assert_eq!(
        aixin::stock::on_hand(
            &mut c,
            &crate::helpers::sid(&shop.store),
            &crate::helpers::iid(&shop.item)
        )
        .unwrap(),
        0
    );
    assert!(ledger::verify(&mut c).unwrap().ok());
    assert!(aixin::stock::verify_stock_ledger(&mut c).unwrap().ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_never_sell_more_than_the_shelf_holds_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    never_overspent(&format!(
        "sqlite://{}",
        dir.path().join("shop.db").display()
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_never_sell_more_than_the_shelf_holds_postgres() {
    let Some((url, admin, name)) = fresh_pg_database() else {
        skip(
            "two_servers_never_sell_more_than_the_shelf_holds_postgres",
            "PostgreSQL (TEST_DATABASE_URL)",
        );
        return;
    };
    never_overspent(&url).await;
    drop_pg_database(&admin, &name);
}

/// Kill the server with SIGKILL in the middle of a stream of redemptions:
/// every redemption the client saw succeed is there after a restart, none is
/// half-written, and both ledgers verify.
async fn survives_a_crash(url: &str) {
    let units = 400;
    let shop = shop(url, units, 1);
    let dir = tempfile::tempdir().unwrap();
    let env = server_env(&shop.key);
    let mut server = spawn_server(url, &env_refs(&env), &dir.path().join("a.log"));
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let http = reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let c = Client::new(&server.addr).with_http(http.clone());
    c.login("clerk", CLERK_PASSWORD).await;
    let csrf = c.csrf().await;
    let base = server.addr.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stream = {
        let stop = stop.clone();
        let shop = Shop {
            store: shop.store.clone(),
            item: shop.item.clone(),
            household: shop.household.clone(),
            card: shop.card.clone(),
            key: String::new(),
            price: shop.price,
        };
        let csrf = csrf.clone();
        let http = http.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                match redeem_once(&http, &base, &csrf, &shop).await {
                    (303, Some(loc)) => {
                        seen.push(loc.trim_start_matches("/redemptions/").to_string())
                    }
                    (0, _) => break, // the server is gone
                    (s, _) => assert!(s < 500, "no 5xx before the crash"),
                }
            }
            seen
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    // SIGKILL: no chance to finish anything.
    server.child.kill().unwrap();
    let _ = server.child.wait();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = stream.await.unwrap();
    assert!(
        !seen.is_empty(),
        "some redemptions went through before the crash"
    );
    // Start again on the same database.
    server = spawn_server(url, &env_refs(&env), &dir.path().join("b.log"));
    let (pool, _) = aixin::db::open(url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    for id in &seen {
        let (r, lines) = aixin::redemptions::find(&mut conn, id)
            .unwrap()
            .expect("every redemption the client saw succeed is there");
        assert_eq!(lines.len(), 1);
        assert!(aixin::redemptions::movements_exist(&mut conn, &lines).unwrap());
        assert!(
            ledger::find_entry(&mut conn, &r.points_entry_id)
                .unwrap()
                .is_some()
        );
    }
    let n: i64 = redemptions::table.count().get_result(&mut conn).unwrap();
    let balance = ledger::balance(&mut conn, &ledger::household_account(&shop.household)).unwrap();
    let stock = aixin::stock::on_hand(
        &mut conn,
        &crate::helpers::sid(&shop.store),
        &crate::helpers::iid(&shop.item),
    )
    .unwrap();
    assert_eq!(balance, units - n, "points and receipts agree");
    assert_eq!(stock, units - n, "stock and receipts agree");
    assert!(ledger::verify(&mut conn).unwrap().ok());
    assert!(aixin::stock::verify_stock_ledger(&mut conn).unwrap().ok());
    if let aixin::db::DbConn::Sqlite(_) = &mut *conn {
        #[derive(QueryableByName)]
        struct Check {
            #[diesel(sql_type = diesel::sql_types::Text)]
            integrity_check: String,
        }
        let check: Check = diesel::sql_query("PRAGMA integrity_check")
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(check.integrity_check, "ok");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aixin"))
        .args(["ledger", "verify"])
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_loses_nothing_it_confirmed_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    survives_a_crash(&format!(
        "sqlite://{}",
        dir.path().join("crash.db").display()
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_loses_nothing_it_confirmed_postgres() {
    let Some((url, admin, name)) = fresh_pg_database() else {
        skip(
            "a_killed_server_loses_nothing_it_confirmed_postgres",
            "PostgreSQL (TEST_DATABASE_URL)",
        );
        return;
    };
    survives_a_crash(&url).await;
    drop_pg_database(&admin, &name);
}
