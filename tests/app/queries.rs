//! No query per row: the pages that list many things run the same number of
//! queries for a few rows as for many.

use aixin::audit::AuditCtx;
use aixin::domain::Role;
use aixin::points::awards::{self as aw, Decision, Who};

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
    let ctx = AuditCtx::console();
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
    let a = aw::propose(&mut c, &o.actor(&ctx), household, &p, key, today).unwrap();
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
