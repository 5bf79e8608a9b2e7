//! No query per row: the pages that list many things run the same number of
//! queries for a few rows as for many.

use aixin::domain::Role;
use aixin::points::awards::{self as aw, Decision};

use crate::helpers::*;

/// Queries one GET of `path` runs (after a first GET that warms the session).
async fn queries_for(app: &TestApp, c: &Client, path: &str) -> u64 {
    assert_eq!(c.get(path).await.status, 200, "{path}");
    let before = app.queries.get();
    let page = c.get(path).await;
    assert_eq!(page.status, 200, "{path}");
    app.queries.get() - before
}

fn approved_award(app: &TestApp, official: &str, reviewer: &str, household: &str, key: &str) {
    let mut c = app.conn();
    let ctx = aixin::auth::Actor::console();
    let today = aixin::time::today(chrono_tz::Asia::Shanghai);
    let p = aw::parse_proposal("Q1", &today.to_string(), "", today).unwrap();
    let o = Who {
        user_id: official.into(),
        role: Role::Official,
        scope: aixin::auth::Scope::All,
    };
    let r = Who {
        user_id: reviewer.into(),
        role: Role::Reviewer,
        scope: aixin::auth::Scope::All,
    };
    let a = aw::propose(
        &mut c,
        &o.actor(&ctx),
        &crate::helpers::hid(household),
        &p,
        key,
        today,
    )
    .unwrap();
    aw::review(&mut c, &r.actor(&ctx), &a.id, &Decision::Approve, today).unwrap();
}

app_test! {
    async fn list_statement_and_notice_pages_run_no_query_per_row(app) {
        let [_, _, _, village] = app.area_chain("查询");
        let official = app.user("guan", Role::Official, Some(&village), None);
        let reviewer = app.user("shen", Role::Reviewer, Some(&village), None);
        app.rule("Q1", "参加培训", 2, None);
        let admin = app.admin().await;
        let first = app.household("查询户", &village);
        for i in 0..3 {
            app.household(&format!("少{i}"), &village);
            approved_award(&app, &official, &reviewer, &first, &format!("a{i}"));
        }
        let few = [
            queries_for(&app, &admin, "/households").await,
            queries_for(&app, &admin, &format!("/households/{first}/statement")).await,
            queries_for(&app, &admin, &format!("/notice?village_id={village}")).await,
            queries_for(&app, &admin, &format!("/households/{first}")).await,
        ];
        for i in 0..30 {
            app.household(&format!("多{i}"), &village);
            approved_award(&app, &official, &reviewer, &first, &format!("b{i}"));
        }
        let many = [
            queries_for(&app, &admin, "/households").await,
            queries_for(&app, &admin, &format!("/households/{first}/statement")).await,
            queries_for(&app, &admin, &format!("/notice?village_id={village}")).await,
            queries_for(&app, &admin, &format!("/households/{first}")).await,
        ];
        assert!(few.iter().all(|n| *n > 0), "the count sees the pages' queries: {few:?}");
        assert_eq!(few, many, "queries per page must not grow with the rows shown");
    }
}

app_test! {
    async fn monthly_summary_runs_no_query_per_row(app) {
        use aixin::db::schema::areas;
        use diesel::prelude::*;
        let tz = app.config.time_zone;
        let admin = app.admin().await;
        let mut c = app.conn();
        aixin::demo::city::fill(
            &mut c,
            &app.key,
            app.config.password_cost,
            aixin::demo::DemoSize { households: 160, months: 2, seed: 3 },
            tz,
            &mut |_, _, _| {},
        )
        .unwrap();
        let area = |level: &str| -> String {
            areas::table
                .filter(areas::level.eq(level))
                .order(areas::path.asc())
                .select(areas::id)
                .first(&mut app.conn())
                .unwrap()
        };
        let (city, village) = (area("city"), area("village"));
        drop(c);
        let month = aixin::reports::Month::of(aixin::time::today(tz));
        let before = month.prev().prev().prev();
        let summary = |area: &str, m: aixin::reports::Month| {
            format!("/reports/monthly?month={m}&area_id={area}")
        };
        // Nothing at all; one village's few households; the whole city, its
        // districts, stores, goods and thousands of ledger rows.
        let nothing = queries_for(&app, &admin, &summary(&city, before)).await;
        let few = queries_for(&app, &admin, &summary(&village, month)).await;
        let many = queries_for(&app, &admin, &summary(&city, month)).await;
        assert!(nothing > 0);
        assert_eq!(
            (nothing, few),
            (many, many),
            "the monthly summary's queries must not grow with the rows it shows"
        );
    }
}
