//! A province above the cities: cities placed under it, administrators and
//! auditors limited to a province or a city, summaries rolled up from the
//! villages' running totals, and databases made before provinces existed.

use aixin::domain::{AreaLevel, Role};
use diesel::prelude::*;
use fantoccini::Locator;

use crate::browser::{DevTools, start_browser};
use crate::helpers::*;

/// Two cities (each city > district > town > village with one household)
/// under one province; returns (province, [city ids], [village ids]).
fn two_cities(app: &TestApp) -> (String, [String; 2], [String; 2]) {
    let [city1, _, _, village1] = app.area_chain("甲");
    let [city2, _, _, village2] = app.area_chain("乙");
    let mut c = app.conn();
    let province = aixin::areas::create_top(
        &mut c,
        &aixin::auth::Actor::console(),
        AreaLevel::Province,
        "山东省",
    )
    .expect("a province")
    .id;
    let h1 = app.household("甲户主", &village1);
    let h2 = app.household("乙户主", &village2);
    fund(&mut c, &h1, 100);
    fund(&mut c, &h2, 50);
    (province, [city1, city2], [village1, village2])
}

fn month() -> String {
    aixin::reports::Month::of(aixin::time::today(chrono_tz::Asia::Shanghai)).to_string()
}

app_test! {
    async fn a_province_scoped_auditor_sees_both_cities_and_a_city_scoped_one_its_own(app) {
        let (province, [city1, city2], _) = two_cities(&app);

        // The administrator places the first city through the areas page,
        // the second through the operation.
        let admin = app.admin().await;
        let page = admin.submit(&format!("/areas/{city1}/place"), &[("province_id", province.as_str())]).await;
        assert_eq!(page.status, 200, "{}", page.body);
        page.assert_contains("山东省");
        let placed = aixin::areas::place_under(&mut app.conn(), &aixin::auth::Actor::console(), &city2, &province)
            .expect("placed");
        assert_eq!(placed.parent_id.as_deref(), Some(province.as_str()));
        // Every area below the city moved with it.
        let tree = aixin::areas::subtree(&mut app.conn(), &format!("/{province}/")).unwrap();
        assert_eq!(tree.len(), 9, "the province, two cities and their six areas below");
        assert!(tree.iter().all(|a| a.path.starts_with(&format!("/{province}/"))));
        // Only a city goes under a province, only under a province.
        let page = admin.post(&format!("/areas/{province}/place"), &[("province_id", province.as_str())]).await;
        assert_eq!(page.status, 303);
        assert!(admin.follow("/areas").await.body.contains("只有市可以归入省"));

        app.user("prov-auditor", Role::Auditor, Some(&province), None);
        app.user("city-auditor", Role::Auditor, Some(&city1), None);
        let m = month();

        let prov = app.client();
        prov.login("prov-auditor", PASSWORD).await;
        let list = prov.get("/households").await;
        assert_eq!(list.status, 200);
        list.assert_contains("甲户主");
        list.assert_contains("乙户主");
        let summary = prov.get(&format!("/reports/monthly?month={m}&area_id={province}")).await;
        assert_eq!(summary.status, 200, "{}", summary.body);
        summary.assert_contains("甲市");
        summary.assert_contains("乙市");
        summary.assert_contains("id=\"p-closing\">150<");
        // The province's summary is the sum of its cities'.
        for (city, closing) in [(&city1, 100), (&city2, 50)] {
            let page = prov.get(&format!("/reports/monthly?month={m}&area_id={city}")).await;
            page.assert_contains(&format!("id=\"p-closing\">{closing}<"));
        }
        // What stays with the whole scheme's auditors.
        for path in ["/audit", "/ledger/verify", "/stores"] {
            assert_eq!(prov.get(path).await.status, 403, "{path}");
        }

        let city = app.client();
        city.login("city-auditor", PASSWORD).await;
        let list = city.get("/households").await;
        list.assert_contains("甲户主");
        assert!(!list.body.contains("乙户主"), "another city's household is shown");
        let own = city.get(&format!("/reports/monthly?month={m}")).await;
        assert_eq!(own.status, 200);
        own.assert_contains("id=\"p-closing\">100<");
        let other = city.get(&format!("/reports/monthly?month={m}&area_id={city2}")).await;
        assert_eq!(other.status, 422, "another city reads as unknown");
        assert!(!other.body.contains("乙市"));
        let up = city.get(&format!("/reports/monthly?month={m}&area_id={province}")).await;
        assert_eq!(up.status, 422, "the province above reads as unknown");
        // The export keeps to the city as well.
        let csv = city.get("/households/export.csv").await;
        assert_eq!(csv.status, 200);
        assert!(csv.body.contains("甲户主") && !csv.body.contains("乙户主"));

        // An administrator or auditor is limited to a province or a city only.
        let [_, district, _, _] = app.area_chain("丙");
        let page = admin
            .post(
                "/users",
                &[("username", "low-auditor"), ("role", "auditor"), ("area_id", district.as_str())],
            )
            .await;
        assert_eq!(page.status, 422, "{}", page.body);
        assert!(page.body.contains("只能限定到省或市"), "{}", page.body);
    }
}

app_test! {
    async fn a_province_auditor_prints_the_provinces_monthly_summary(app) {
        let Some(b) = start_browser("a_province_auditor_prints_the_provinces_monthly_summary").await else { return };
        let (province, cities, _) = two_cities(&app);
        for city in &cities {
            aixin::areas::place_under(&mut app.conn(), &aixin::auth::Actor::console(), city, &province).unwrap();
        }
        app.user("sheng", Role::Auditor, Some(&province), None);
        b.login(&app, "sheng").await;
        let m = month();
        b.client
            .goto(&app.url(&format!("/reports/monthly?month={m}&area_id={province}")))
            .await
            .unwrap();
        assert!(b.text("#p-closing").await.contains("150"));
        let breakdown = b.text("#breakdown").await;
        assert!(breakdown.contains("甲市") && breakdown.contains("乙市"), "{breakdown}");

        // Printed: the print stylesheet hides the navigation and the forms
        // and keeps the header, the breakdown by city and the signatures.
        b.assert_printed(
            &[".topbar", "[data-print]", "form.filters"],
            &[".report-meta", ".report-signatures", "#breakdown"],
        )
        .await;
        let meta = b.text(".report-meta").await;
        assert!(meta.contains("山东省") && meta.contains(&m) && meta.contains("sheng"), "{meta}");
        assert!(b.client.find(Locator::Css("#breakdown")).await.is_ok());

        // Chromium makes the pages: Page.printToPDF answers a PDF (base64).
        let pdf = b
            .client
            .issue_cmd(DevTools(serde_json::json!({
                "cmd": "Page.printToPDF",
                "params": {"preferCSSPageSize": true, "printBackground": false}
            })))
            .await
            .unwrap();
        let data = pdf["data"].as_str().or(pdf["value"]["data"].as_str()).unwrap_or_default();
        assert!(data.starts_with("JVBERi0"), "not a PDF: {}", &data[..data.len().min(40)]);
        b.close().await;
    }
}

/// A database made before provinces existed: its cities stay at the top,
/// everything that referred to an area still does, and a province can be
/// added above a city afterwards.
fn migrates_with_cities_at_the_top(url: &str) {
    use aixin::db::{DbConn, DbManager, DbTarget};
    use diesel::migration::MigrationSource;
    use diesel_migrations::MigrationHarness;
    const PROVINCE: &str = "20261201060000";
    let target = DbTarget::parse(url).unwrap();
    let mut conn = DbManager::new(target).establish().expect("connect");
    if let DbConn::Sqlite(c) = &mut conn {
        diesel::sql_query("PRAGMA foreign_keys = ON")
            .execute(c)
            .unwrap();
    }
    // Every migration before the province's, as an older server left it.
    let before = |c: &mut DbConn| -> Vec<String> {
        let mut names = Vec::new();
        match c {
            DbConn::Sqlite(c) => {
                c.applied_migrations().unwrap();
                let all = MigrationSource::<diesel::sqlite::Sqlite>::migrations(
                    &aixin::db::SQLITE_MIGRATIONS,
                )
                .unwrap();
                for m in all
                    .iter()
                    .filter(|m| m.name().version().to_string().as_str() < PROVINCE)
                {
                    c.run_migration(m.as_ref()).unwrap();
                    names.push(m.name().to_string());
                }
            }
            DbConn::Pg(c) => {
                c.applied_migrations().unwrap();
                let all =
                    MigrationSource::<diesel::pg::Pg>::migrations(&aixin::db::POSTGRES_MIGRATIONS)
                        .unwrap();
                for m in all
                    .iter()
                    .filter(|m| m.name().version().to_string().as_str() < PROVINCE)
                {
                    c.run_migration(m.as_ref()).unwrap();
                    names.push(m.name().to_string());
                }
            }
        }
        names
    };
    assert!(!before(&mut conn).is_empty());
    // The areas and the store as that schema held them (today's code would
    // write columns added later).
    struct Old {
        id: &'static str,
        path: &'static str,
    }
    let city = Old {
        id: "old-city",
        path: "/old-city/",
    };
    let town = Old {
        id: "old-district",
        path: "/old-city/old-district/",
    };
    use aixin::db::Bind;
    aixin::db::execute(
        &mut conn,
        "INSERT INTO areas (id, level, name, path, created_at) VALUES ($1, 'city', '老市', $2, CURRENT_TIMESTAMP)",
        &[Bind::Text(city.id.into()), Bind::Text(city.path.into())],
    )
    .unwrap();
    aixin::db::execute(
        &mut conn,
        "INSERT INTO areas (id, parent_id, level, name, path, created_at) VALUES ($1, $2, 'district', '老区', $3, CURRENT_TIMESTAMP)",
        &[
            Bind::Text(town.id.into()),
            Bind::Text(city.id.into()),
            Bind::Text(town.path.into()),
        ],
    )
    .unwrap();
    let ctx = aixin::auth::Actor::console();
    aixin::db::execute(
        &mut conn,
        "INSERT INTO stores (id, name, area_id, address, opening_hours, active, created_at)
         VALUES ('old-store', '老店', $1, '', '', TRUE, CURRENT_TIMESTAMP)",
        &[Bind::Text(town.id.into())],
    )
    .unwrap();
    struct OldStore {
        id: &'static str,
    }
    let store = OldStore { id: "old-store" };

    let applied = aixin::db::migrate(&mut conn).expect("the rest migrates");
    assert!(
        applied.iter().any(|v| v.as_str() >= PROVINCE),
        "{applied:?}"
    );
    let again = aixin::areas::find(&mut conn, city.id).unwrap().unwrap();
    assert_eq!(again.parent_id, None, "the city stays at the top");
    assert_eq!(again.path, city.path);
    assert_eq!(
        aixin::stores::find(
            &mut conn,
            &aixin::domain::StoreId::from_stored(store.id.into())
        )
        .unwrap()
        .unwrap()
        .area_path,
        town.path
    );
    // The areas' references still hold: a store in no area is refused.
    let orphan = aixin::db::execute(
        &mut conn,
        "INSERT INTO stores (id, name, area_id, address, opening_hours, active, created_at)
         VALUES ('orphan', '无区店', 'no-such-area', '', '', TRUE, CURRENT_TIMESTAMP)",
        &[],
    );
    assert!(orphan.is_err(), "a store in an unknown area was made");
    if let DbConn::Sqlite(c) = &mut conn {
        #[derive(QueryableByName)]
        struct Fk {
            #[diesel(sql_type = diesel::sql_types::Text)]
            #[allow(dead_code)]
            table: String,
        }
        let broken: Vec<Fk> = diesel::sql_query("PRAGMA foreign_key_check")
            .load(c)
            .unwrap();
        assert!(broken.is_empty(), "foreign keys broken by the migration");
    }
    // And a province goes above it.
    let province = aixin::areas::create_top(&mut conn, &ctx, AreaLevel::Province, "新省").unwrap();
    let moved = aixin::areas::place_under(&mut conn, &ctx, city.id, &province.id).unwrap();
    assert_eq!(moved.path, format!("/{}/{}/", province.id, city.id));
    let town_now = aixin::areas::find(&mut conn, town.id).unwrap().unwrap();
    assert_eq!(
        town_now.path,
        format!("/{}/{}/{}/", province.id, city.id, town.id)
    );
}

#[test]
fn an_sqlite_database_from_before_provinces_migrates() {
    let dir = tempfile::tempdir().unwrap();
    migrates_with_cities_at_the_top(&format!("sqlite://{}", dir.path().join("old.db").display()));
}

#[test]
fn a_postgres_database_from_before_provinces_migrates() {
    match fresh_pg_database() {
        Some((url, admin, name)) => {
            migrates_with_cities_at_the_top(&url);
            drop_pg_database(&admin, &name);
        }
        None => skip(
            "a_postgres_database_from_before_provinces_migrates",
            "PostgreSQL (TEST_DATABASE_URL)",
        ),
    }
}

app_test! {
    async fn the_demo_makes_several_cities_under_one_province(app) {
        use aixin::db::schema::areas;
        let tz = app.config.time_zone;
        let mut c = app.conn();
        aixin::demo::city::fill_cities(
            &mut c,
            &app.key,
            app.config.password_cost,
            aixin::demo::DemoSize { households: 480, months: 2, seed: 9 },
            3,
            tz,
            aixin::demo::city::FillOptions { plant: false, now: aixin::db::now() },
            &mut |_, _, _| {},
        )
        .unwrap();
        let roots: Vec<(String, String)> = areas::table
            .filter(areas::parent_id.is_null())
            .select((areas::id, areas::level))
            .load(&mut c)
            .unwrap();
        assert_eq!(roots.len(), 1, "{roots:?}");
        assert_eq!(roots[0].1, "province");
        let cities: Vec<String> = areas::table
            .filter(areas::level.eq("city"))
            .filter(areas::parent_id.eq(&roots[0].0))
            .select(areas::name)
            .load(&mut c)
            .unwrap();
        assert_eq!(cities.len(), 3, "{cities:?}");
        assert!(aixin::ledger::verify(&mut c).unwrap().ok());
        drop(c);

        // Every city has households, and the province's auditor sees them all
        // in the province's summary, city by city.
        let auditor = app.client();
        auditor.login("demo-auditor-province", aixin::demo::DEMO_PASSWORD).await;
        let summary = auditor
            .get(&format!("/reports/monthly?month={}&area_id={}", month(), roots[0].0))
            .await;
        assert_eq!(summary.status, 200, "{}", summary.body);
        for name in &cities {
            summary.assert_contains(name);
        }
    }
}
