//! Integrity signals: the planted anomalies of the demo city are found, the
//! auditor's page shows them, an official never sees it, and a "looked
//! into" mark is made once.

use aixin::db::schema::{areas, signal_marks};
use aixin::demo::{DEMO_PASSWORD, DemoSize, city};
use aixin::domain::Role;
use aixin::signals::{self, Kind, SignalsQuery, Thresholds, Viewer};
use diesel::prelude::*;

use crate::helpers::*;

app_test! {
    async fn planted_anomalies_are_found(app) {
        let tz = app.config.time_zone;
        let (logins, _, planted) = {
            let mut c = app.conn();
            city::fill_with(
                &mut c,
                &app.key,
                app.config.password_cost,
                DemoSize { households: 1000, months: 9, seed: 7 },
                tz,
                true,
                &mut |_, _, _| {},
            )
            .unwrap()
        };
        for k in Kind::ALL {
            assert!(planted.iter().any(|p| p.kind == k), "nothing planted for {k:?}");
        }
        let month = planted[0].month;
        let mut c = app.conn();
        let city_id: String = areas::table
            .filter(areas::level.eq("city"))
            .select(areas::id)
            .first(&mut c)
            .unwrap();
        let area = aixin::areas::find(&mut c, &city_id).unwrap().unwrap();
        let report = signals::compute_report(&mut c, tz, &area, month, &Thresholds::default()).unwrap();
        let mut missing = Vec::new();
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
        assert!(missing.is_empty(), "planted but not among the first 20:\n{}", missing.join("\n"));

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

        // Officials never see the page.
        let official = app.client();
        official.login(&logins.official, DEMO_PASSWORD).await;
        assert_eq!(official.get(&path).await.status, 403);
        assert_eq!(official.get("/signals.xlsx").await.status, 403);

        // Nobody sees a finding about themselves.
        let subject = planted.iter().find(|p| p.kind == Kind::ProposerOutlier).unwrap().subject.clone();
        let scope = aixin::auth::Scope::All;
        let viewer = Viewer { user_id: &subject, role: Role::Admin, scope: &scope };
        let q = SignalsQuery { month: month.to_string(), area: city_id.clone() };
        let (r, _) = signals::for_viewer(&mut c, &viewer, tz, &q).unwrap();
        assert!(!r.signals.iter().flat_map(|s| &s.findings).any(|f| f.staff.contains(&subject)));
        assert!(!r.signals.iter().find(|s| s.kind == Kind::ProposerOutlier).unwrap().findings.iter().any(|f| f.subject == subject));
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
