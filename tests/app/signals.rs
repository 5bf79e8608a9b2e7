//! Integrity signals: the planted anomalies of the demo city are found, the
//! auditor's page shows them, an official never sees it, and a "looked
//! into" mark is made once.

use aixin::db::schema::{areas, signal_marks};
use aixin::demo::{DEMO_PASSWORD, DemoSize, city};
use aixin::domain::Role;
use aixin::signals::{self, Kind, SignalsQuery, Thresholds, Viewer};
use diesel::prelude::*;

use crate::helpers::*;

/// The moment the scheme's current month began (local midnight of its
/// first day), in UTC: the demo is filled as if it ended just before or
/// just after it, so that the test does not depend on the hour it runs at.
fn month_start_utc(tz: chrono_tz::Tz) -> chrono::NaiveDateTime {
    let month = aixin::time::Month::of(aixin::time::today(tz));
    aixin::time::local_day_start_utc(month.first_day(), tz)
}

/// Fill the test's demo city with its history ending at `now`, compute the
/// planted month's signals for the whole city, print precision and recall
/// per signal, and check that every planted anomaly is among the first 20
/// findings of its signal. Returns the logins, what was planted and the
/// city's area id.
fn planted_are_found_at(
    app: &TestApp,
    now: chrono::NaiveDateTime,
) -> (
    aixin::demo::DemoLogins,
    Vec<aixin::demo::plant::Planted>,
    String,
) {
    let tz = app.config.time_zone;
    let (logins, _, planted) = {
        let mut c = app.conn();
        city::fill_with(
            &mut c,
            &app.key,
            app.config.password_cost,
            DemoSize {
                households: 1000,
                months: 9,
                seed: 7,
            },
            tz,
            city::FillOptions { plant: true, now },
            &mut |_, _, _| {},
        )
        .unwrap()
    };
    for k in Kind::ALL {
        assert!(
            planted.iter().any(|p| p.kind == k),
            "nothing planted for {k:?}"
        );
    }
    let month = planted[0].month;
    // Two months before the one `now` falls in, in the scheme's zone.
    let local_now = aixin::time::format_local(now, tz);
    assert_eq!(
        month.next().next().to_string(),
        local_now[..7],
        "{local_now}"
    );
    let mut c = app.conn();
    let city_id: String = areas::table
        .filter(areas::level.eq("city"))
        .select(areas::id)
        .first(&mut c)
        .unwrap();
    let area = aixin::areas::find(&mut c, &city_id).unwrap().unwrap();
    let report =
        signals::compute_report(&mut c, tz, &app.key, &area, month, &Thresholds::default())
            .unwrap();
    let mut missing = Vec::new();
    println!("at {local_now} ({tz}), month {month}:");
    println!("signal                   planted found(top 20) findings precision recall");
    for s in &report.signals {
        let mine: Vec<_> = planted.iter().filter(|p| p.kind == s.kind).collect();
        let top: Vec<_> = s.findings.iter().take(20).collect();
        let found = mine
            .iter()
            .filter(|p| top.iter().any(|f| p.matches(s.kind, &f.subject)))
            .count();
        let true_positives = s
            .findings
            .iter()
            .filter(|f| mine.iter().any(|p| p.matches(s.kind, &f.subject)))
            .count();
        println!(
            "{:<24} {:>7} {:>12} {:>8} {:>9.2} {:>6.2}",
            s.kind.as_str(),
            mine.len(),
            found,
            s.findings.len(),
            true_positives as f64 / s.findings.len().max(1) as f64,
            found as f64 / mine.len().max(1) as f64,
        );
        for p in mine {
            if !top.iter().any(|f| p.matches(s.kind, &f.subject)) {
                missing.push(format!("{p:?}"));
            }
        }
        assert_eq!(s.trend.len(), 12);
    }
    assert!(
        missing.is_empty(),
        "at {local_now}: planted but not among the first 20:\n{}",
        missing.join("\n")
    );
    (logins, planted, city_id)
}

app_test! {
    async fn planted_anomalies_are_found_just_before_the_month_turns(app) {
        // 23:59 on the last day of the month before, in the scheme's zone:
        // the same day in UTC.
        let now = month_start_utc(app.config.time_zone) - chrono::Duration::minutes(1);
        planted_are_found_at(&app, now);
    }
}

app_test! {
    async fn planted_anomalies_are_found(app) {
        // 00:01 on the first of the month in the scheme's zone, while UTC is
        // still on the last day of the month before (for a zone east of UTC).
        let tz = app.config.time_zone;
        let now = month_start_utc(tz) + chrono::Duration::minutes(1);
        let (logins, planted, city_id) = planted_are_found_at(&app, now);
        let month = planted[0].month;
        let mut c = app.conn();

        // The auditor's page shows each of them.
        let auditor = app.client();
        auditor.login(&logins.auditor, DEMO_PASSWORD).await;
        let path = format!("/signals?month={month}&area={city_id}");
        let page = auditor.get(&path).await;
        assert_eq!(page.status, 200);
        for p in &planted {
            let needle = if p.kind == Kind::CopiedNote {
                format!("data-subject=\"{}|", p.subject)
            } else {
                format!("data-subject=\"{}\"", p.subject)
            };
            assert!(page.body.contains(&needle), "{p:?} not on the page");
        }
        assert!(page.body.contains("<svg class=\"sparkline\""));
        assert!(page.body.contains("report-signatures"));

        // Marked as looked into: it stays, shown as handled.
        let stores_clerk = planted.iter().find(|p| p.kind == Kind::ClerkVoids).unwrap();
        let marked = auditor
            .submit("/signals/marks", &[
                ("month", &month.to_string()),
                ("area", &city_id),
                ("kind", "clerk_voids"),
                ("subject", &stores_clerk.subject),
                ("note", "已约谈店员，作废均有顾客签字"),
            ])
            .await;
        assert_eq!(marked.status, 200);
        assert!(marked.body.contains("已约谈店员，作废均有顾客签字"));
        assert!(marked.body.contains(&format!("class=\"finding handled\" data-subject=\"{}\"", stores_clerk.subject)));

        // The XLSX export.
        let xlsx = auditor.get(&format!("/signals.xlsx?month={month}&area={city_id}")).await;
        assert_eq!(xlsx.status, 200);
        assert_eq!(
            xlsx.headers.get("content-type").unwrap(),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );

        // Officials never see the page, nor its export.
        let official = app.client();
        official.login(&logins.official, DEMO_PASSWORD).await;
        assert_eq!(official.get(&path).await.status, 403);
        assert_eq!(official.get(&format!("/signals.xlsx?month={month}&area={city_id}")).await.status, 403);
        assert_eq!(official.get("/signals.xlsx").await.status, 403);

        // Nobody sees a finding about themselves: not the staff behind any
        // planted finding, were they to look as an admin.
        let scope = aixin::auth::Scope::All;
        let q = SignalsQuery { month: month.to_string(), area: city_id.clone() };
        let staff: Vec<&str> = planted
            .iter()
            .filter(|p| {
                matches!(
                    p.kind,
                    Kind::ProposerOutlier | Kind::ProposerConcentration | Kind::FastReviews
                        | Kind::Backdated | Kind::MonthEndBurst | Kind::CopiedNote | Kind::ClerkVoids
                )
            })
            .map(|p| p.subject.as_str())
            .collect();
        for subject in &staff {
            let viewer = Viewer { user_id: subject, role: Role::Admin, scope: &scope, lang: aixin::i18n::Lang::Zh };
            let (r, _) = signals::for_viewer(&mut c, &viewer, tz, &app.key, &q).unwrap();
            for f in r.signals.iter().flat_map(|s| &s.findings) {
                assert!(!f.staff.iter().any(|u| u == subject), "{subject} sees {f:?}");
                assert!(
                    f.subject != *subject && !f.subject.starts_with(&format!("{subject}|")),
                    "{subject} sees {f:?}"
                );
            }
        }

        // On the page too: the clerk who voids so often, made an auditor,
        // sees the month without the finding about them (and the others).
        let clerk = &stores_clerk.subject;
        diesel::update(aixin::db::schema::users::table.find(clerk))
            .set((
                aixin::db::schema::users::role.eq("auditor"),
                aixin::db::schema::users::store_id.eq(None::<String>),
                aixin::db::schema::users::area_id.eq(None::<String>),
            ))
            .execute(&mut c)
            .unwrap();
        let clerk_name: String = aixin::db::schema::users::table
            .find(clerk)
            .select(aixin::db::schema::users::username)
            .first(&mut c)
            .unwrap();
        let as_auditor = app.client();
        as_auditor.login(&clerk_name, DEMO_PASSWORD).await;
        let own = as_auditor.get(&path).await;
        assert_eq!(own.status, 200, "{}", own.body);
        assert!(!own.body.contains(&format!("data-subject=\"{clerk}\"")));
        let outlier = planted.iter().find(|p| p.kind == Kind::ProposerOutlier).unwrap();
        assert!(own.body.contains(&format!("data-subject=\"{}\"", outlier.subject)));
        let xlsx = as_auditor.get(&format!("/signals.xlsx?month={month}&area={city_id}")).await;
        assert_eq!(xlsx.status, 200);
    }
}

app_test! {
    async fn only_admins_and_auditors_open_the_signals(app) {
        let [city, _, town, village] = app.area_chain("看");
        let store = app.store("看店", &village);
        app.user("sig-admin", Role::Admin, None, None);
        app.user("sig-auditor", Role::Auditor, None, None);
        app.user("sig-official", Role::Official, Some(&village), None);
        app.user("sig-reviewer", Role::Reviewer, Some(&town), None);
        app.user("sig-clerk", Role::Clerk, None, Some(&store));
        let month = aixin::time::Month::of(aixin::time::today(app.config.time_zone)).to_string();
        let pages = [
            format!("/signals?month={month}&area={city}"),
            format!("/signals.xlsx?month={month}&area={city}"),
            "/signals".to_string(),
            "/signals.xlsx".to_string(),
        ];
        for (who, allowed) in [
            ("sig-admin", true),
            ("sig-auditor", true),
            ("sig-official", false),
            ("sig-reviewer", false),
            ("sig-clerk", false),
        ] {
            let client = app.client();
            client.login(who, PASSWORD).await;
            for p in &pages {
                let r = client.get(p).await;
                assert_eq!(r.status, if allowed { 200 } else { 403 }, "{who} {p}");
            }
            if !allowed {
                let r = client
                    .post("/signals/marks", &[
                        ("month", month.as_str()),
                        ("area", city.as_str()),
                        ("kind", "clerk_voids"),
                        ("subject", "x"),
                        ("note", "查过"),
                    ])
                    .await;
                assert_eq!(r.status, 403, "{who} marks");
            }
        }
    }
}

app_test! {
    async fn two_marks_at_once_make_one(app) {
        let [city, ..] = app.area_chain("信号");
        app.user("sig-a", Role::Auditor, None, None);
        app.user("sig-b", Role::Admin, None, None);
        let (a, b) = (app.client(), app.client());
        a.login("sig-a", PASSWORD).await;
        b.login("sig-b", PASSWORD).await;
        let page = a.get("/signals").await;
        assert_eq!(page.status, 200, "{}", page.body);

        // A note is needed; what was typed stays, nothing is marked.
        let form = |note: &'static str| {
            vec![
                ("month", "2026-10"),
                ("area", city.as_str()),
                ("kind", "outside_hours"),
                ("subject", "r-1"),
                ("note", note),
            ]
        };
        let empty = a.post("/signals/marks", &form("  ")).await;
        assert_eq!(empty.status, 422);
        assert!(empty.body.contains("mark-error"));
        let bad = a.post("/signals/marks", &[("month", "2026-13"), ("kind", "x"), ("subject", "s"), ("note", "n")]).await;
        assert_eq!(bad.status, 422);
        let n: i64 = signal_marks::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 0);

        let (fa, fb) = (form("查过了"), form("查过了"));
        let (x, y) = tokio::join!(a.post("/signals/marks", &fa), b.post("/signals/marks", &fb));
        let mut statuses = [x.status, y.status];
        statuses.sort();
        assert_eq!(statuses, [303, 422], "{}\n{}", x.body, y.body);
        let n: i64 = signal_marks::table.count().get_result(&mut app.conn()).unwrap();
        assert_eq!(n, 1);
        assert!(app.audit_actions().iter().any(|a| a == "signal.mark"));
    }
}

app_test! {
    async fn awards_to_a_staff_members_relatives_are_found(app) {
        use aixin::db::schema::users;
        use aixin::points::awards::{self as aw, Decision};
        let tz = app.config.time_zone;
        let [city, _, town, village] = app.area_chain("亲");
        let official = app.user("qin-guan", Role::Official, Some(&village), None);
        let reviewer = app.user("qin-shen", Role::Reviewer, Some(&village), None);
        let store = app.store("亲店", &village);
        let clerk = app.user("qin-dian", Role::Clerk, None, Some(&store));
        app.rule("Q1", "参加培训", 2, None);
        let id_number = test_id_number();
        // (Every test household has the phone 13800138000, at 一组 1 号.)
        let (relative, _) = app.household_with_id("亲戚户", &village, &id_number);
        let admin = app.admin().await;
        let page = admin.get(&format!("/users/{clerk}")).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("name=\"home_area_id\""));

        // Refused: every field named beside it, what was typed kept, nothing stored.
        let bad = admin
            .post(&format!("/users/{clerk}/personal"), &[
                ("phone", "12345"),
                ("id_number", "370102199001011230"),
                ("home_area_id", &town),
                ("home_address", "一组 1 号"),
            ])
            .await;
        assert_eq!(bad.status, 422, "{}", bad.body);
        for f in ["field.phone", "field.id_number", "field.home_area"] {
            assert!(bad.body.contains(&format!("data-field=\"{f}\"")), "{f}");
        }
        assert!(bad.body.contains("value=\"12345\""));
        assert!(bad.body.contains("value=\"一组 1 号\""));
        let address_alone = admin
            .post(&format!("/users/{clerk}/personal"), &[("home_address", "一组 1 号")])
            .await;
        assert_eq!(address_alone.status, 422);
        assert!(address_alone.body.contains("data-field=\"field.home_area\""));
        let stored: (String, String) = users::table
            .find(&clerk)
            .select((users::phone_masked, users::home_address))
            .first(&mut app.conn())
            .unwrap();
        assert_eq!(stored, (String::new(), String::new()));

        // Stored: masked on the page, encrypted in the database, audited.
        let ok = admin
            .post(&format!("/users/{clerk}/personal"), &[
                ("phone", "138 0013 8000"),
                ("id_number", &id_number),
                ("version", &app.version_of("users", &clerk)),
            ])
            .await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        let page = admin.get(&format!("/users/{clerk}")).await;
        assert!(page.body.contains("138****8000"));
        assert!(!page.body.contains(&id_number));
        let (cipher, lookup): (String, String) = users::table
            .find(&clerk)
            .select((users::id_cipher, users::id_lookup))
            .first(&mut app.conn())
            .unwrap();
        assert!(!cipher.is_empty() && !cipher.contains(&id_number));
        assert_eq!(lookup, app.key.lookup("id", &id_number));
        assert!(app.audit_actions().iter().any(|a| a == "user.personal"));
        // Empty fields keep what is stored; the home is the reviewer's.
        let home = admin
            .post(&format!("/users/{reviewer}/personal"), &[
                ("home_area_id", &village),
                ("home_address", "一组1号"),
                ("version", &app.version_of("users", &reviewer)),
            ])
            .await;
        assert_eq!(home.status, 303, "{}", home.body);

        // The relative's award is found, with the staff behind it; another
        // household at the same address (and, as every test household, the
        // same phone) is found too, without the ID.
        let neighbour = app.household("邻户", &village);
        let mut c = app.conn();
        let ctx = aixin::audit::AuditCtx::console();
        let today = aixin::time::today(tz);
        let o = Who { user_id: official.clone(), role: Role::Official, scope: aixin::auth::Scope::All };
        let r = Who { user_id: reviewer.clone(), role: Role::Reviewer, scope: aixin::auth::Scope::All };
        for (h, key) in [(&relative, "k1"), (&neighbour, "k2")] {
            let p = aw::parse_proposal("Q1", &today.to_string(), "", today).unwrap();
            let a = aw::propose(&mut c, &o.actor(&ctx), &crate::helpers::hid(h), &p, key, today).unwrap();
            aw::review(&mut c, &r.actor(&ctx), &a.id, &Decision::Approve, today).unwrap();
        }
        let area = aixin::areas::find(&mut c, &city).unwrap().unwrap();
        let month = aixin::time::Month::of(today);
        let report =
            signals::compute_report(&mut c, tz, &app.key, &area, month, &Thresholds::default()).unwrap();
        let s = report.signals.iter().find(|s| s.kind == Kind::StaffRelated).unwrap();
        let of = |h: &str| s.findings.iter().find(|f| f.subject == h).unwrap_or_else(|| panic!("{h}: {s:?}"));
        let f = of(&relative);
        assert!(f.staff.contains(&clerk) && f.staff.contains(&official), "{f:?}");
        assert!(f.detail.contains("id+phone"), "{f:?}");
        assert!(f.staff.contains(&reviewer), "{f:?}");
        let n = of(&neighbour);
        assert!(n.staff.contains(&reviewer) && n.staff.contains(&clerk), "{n:?}");
        assert!(n.detail.contains("phone") && n.detail.contains("address") && !n.detail.contains("id"), "{n:?}");
    }
}

app_test! {
    async fn showing_the_signals_never_writes_their_figures(app) {
        use aixin::db::schema::signal_month_counts as smc;
        use aixin::signals::trend;
        let tz = app.config.time_zone;
        let [city, district, town, _] = app.area_chain("图");
        app.user("tu-auditor", Role::Auditor, None, None);
        let auditor = app.client();
        auditor.login("tu-auditor", PASSWORD).await;
        let month = aixin::time::Month::of(aixin::time::today(tz)).prev();
        let count = || -> i64 { smc::table.count().get_result(&mut app.conn()).unwrap() };

        // A past month's page, with its eleven months before: computed in
        // memory, nothing stored, however often it is shown.
        for area in [&city, &town, &city] {
            let page = auditor.get(&format!("/signals?month={month}&area={area}")).await;
            assert_eq!(page.status, 200, "{}", page.body);
            assert!(page.body.contains("aria-label=\"0 0 0 0 0 0 0 0 0 0 0 0\""));
        }
        let xlsx = auditor.get(&format!("/signals.xlsx?month={month}&area={city}")).await;
        assert_eq!(xlsx.status, 200);
        assert_eq!(count(), 0);

        // The daily job keeps them: the month just past, and the months
        // before it, for the city and its district (not the town).
        let day = aixin::time::today(tz);
        let done = trend::daily(&mut app.conn(), tz, &app.key, day).unwrap();
        assert!(done.is_some());
        let kept: Vec<String> = smc::table
            .select(smc::area_id)
            .distinct()
            .load(&mut app.conn())
            .unwrap();
        assert!(kept.contains(&city) && kept.contains(&district), "{kept:?}");
        assert!(!kept.contains(&town), "{kept:?}");
        let months: Vec<String> = smc::table
            .filter(smc::area_id.eq(&city))
            .select(smc::month)
            .distinct()
            .load(&mut app.conn())
            .unwrap();
        assert_eq!(months.len(), trend::MONTHS_BEFORE, "{months:?}");
        // Claimed once a day.
        assert!(trend::daily(&mut app.conn(), tz, &app.key, day).unwrap().is_none());

        // The page reads them back (here made recognisable), still writing
        // nothing.
        diesel::update(smc::table.filter(smc::area_id.eq(&city)))
            .set(smc::findings.eq(7))
            .execute(&mut app.conn())
            .unwrap();
        let before = count();
        let page = auditor.get(&format!("/signals?area={city}")).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("aria-label=\"7 7 7 7 7 7 7 7 7 7 7 0\""), "{}", page.body);
        assert_eq!(count(), before);

        // Under other thresholds the stored figures do not count: computed
        // again in memory for the view, and filled in by the next run.
        aixin::settings::put_raw(&mut app.conn(), aixin::signals::FAST_MIN.key, "21").unwrap();
        let page = auditor.get(&format!("/signals?area={city}")).await;
        assert!(page.body.contains("aria-label=\"0 0 0 0 0 0 0 0 0 0 0 0\""));
        assert_eq!(count(), before);
        let filled = trend::fill(
            &mut app.conn(),
            tz,
            &app.key,
            &trend::months_before(aixin::time::Month::of(day), trend::MONTHS_BEFORE),
        )
        .unwrap();
        assert_eq!(filled, 2 * trend::MONTHS_BEFORE, "the city and its district");
    }
}

app_test! {
    async fn a_mark_is_checked_against_the_actors_role_and_scope(app) {
        use aixin::auth::{Actor, Scope};
        use aixin::signals::marks::{self, MarkForm};
        let [city, _, town, _] = app.area_chain("标");
        let [other_city, ..] = app.area_chain("别");
        let auditor = app.user("biao-auditor", Role::Auditor, None, None);
        let mut c = app.conn();
        let path = aixin::areas::find(&mut c, &city).unwrap().unwrap().path;
        let scoped = Actor::user(&auditor, Role::Auditor, Scope::Area { id: city.clone(), path });
        let form = |area: &str, subject: &str| MarkForm {
            month: "2026-10".into(),
            area: area.into(),
            kind: "review_pair".into(),
            subject: subject.into(),
            note: "查过".into(),
        };
        let field = |r: Result<(), signals::SignalsError>| match r {
            Err(signals::SignalsError::Invalid(e)) => e.field.to_string(),
            other => panic!("{other:?}"),
        };

        // An official may not mark at all, whatever the form says.
        let official = Actor::user(&auditor, Role::Official, Scope::All);
        assert!(matches!(
            marks::mark(&mut c, &official, &form(&city, "u1|u2")),
            Err(signals::SignalsError::Forbidden)
        ));
        // An area outside the auditor's city reads as unknown.
        assert_eq!(field(marks::mark(&mut c, &scoped, &form(&other_city, "u1|u2"))), "field.report_area");
        // Nor does anyone mark a finding about themselves.
        assert_eq!(
            field(marks::mark(&mut c, &scoped, &form(&town, &format!("u1|{auditor}")))),
            "field.signal"
        );
        let n: i64 = signal_marks::table.count().get_result(&mut c).unwrap();
        assert_eq!(n, 0);
        // Inside the scope it is marked, audited under the auditor.
        marks::mark(&mut c, &scoped, &form(&town, "u1|u2")).unwrap();
        let by: String = signal_marks::table
            .select(signal_marks::marked_by)
            .first(&mut c)
            .unwrap();
        assert_eq!(by, auditor);
        assert!(app.audit_actions().iter().any(|a| a == "signal.mark"));
    }
}

app_test! {
    async fn staff_records_own_data_goes_with_the_retention_period(app) {
        use aixin::auth::Actor;
        use aixin::db::schema::users;
        use aixin::users::Personal;
        let [_, _, _, village] = app.area_chain("退");
        let gone = app.user("tui-gone", Role::Auditor, None, None);
        let recent = app.user("tui-recent", Role::Auditor, None, None);
        let active = app.user("tui-active", Role::Auditor, None, None);
        let console = Actor::console();
        let id_number = test_id_number();
        {
            let mut c = app.conn();
            for u in [&gone, &recent, &active] {
                let p = Personal {
                    phone: Some(Some(aixin::domain::Phone::parse("field.phone", "13800138000").unwrap())),
                    id_number: Some(Some(aixin::domain::IdNumber::parse("field.id_number", &id_number).unwrap())),
                    home_area_id: Some(village.clone()),
                    home_address: "一组1号".into(),
                };
                aixin::users::set_personal(&mut c, &console, &app.key, u, &p, None).unwrap();
            }
            for u in [&gone, &recent] {
                aixin::users::set_disabled(&mut c, &console, u, true).unwrap();
            }
            // Disabled (or, for the active one, unchanged) three years ago.
            diesel::update(users::table.filter(users::id.eq_any([&gone, &active])))
                .set(users::updated_at.eq(aixin::db::now() - chrono::Duration::days(3 * 366)))
                .execute(&mut c)
                .unwrap();
        }
        let run = |dry_run| {
            aixin::households::retention::run(
                &mut app.conn(),
                &aixin::auth::Actor::console(),
                2,
                aixin::db::now(),
                dry_run,
            )
            .unwrap()
        };
        assert_eq!(run(true).staff, vec![gone.clone()]);
        let shown = |u: &str| -> (String, String, Option<String>, String) {
            users::table
                .find(u)
                .select((users::phone_masked, users::id_lookup, users::home_area_id, users::phone_cipher))
                .first(&mut app.conn())
                .unwrap()
        };
        assert_eq!(shown(&gone).0, "138****8000", "a dry run changes nothing");
        assert_eq!(run(false).staff, vec![gone.clone()]);
        assert_eq!(shown(&gone), (String::new(), String::new(), None, String::new()));
        for u in [&recent, &active] {
            let (masked, lookup, home, _) = shown(u);
            assert_eq!(masked, "138****8000");
            assert_eq!(lookup, app.key.lookup("id", &id_number));
            assert_eq!(home.as_deref(), Some(village.as_str()));
        }
        assert!(app.audit_actions().iter().any(|a| a == "user.erase"));
        assert!(run(false).staff.is_empty(), "once");

        // Masked on their pages, as households' are; the API's users carry none of it.
        let admin = app.admin().await;
        let page = admin.get(&format!("/users/{active}")).await;
        assert!(page.body.contains("138****8000"));
        assert!(!page.body.contains("13800138000") && !page.body.contains(&id_number));
        let page = admin.get(&format!("/users/{gone}")).await;
        assert!(!page.body.contains("138****8000"));
    }
}
