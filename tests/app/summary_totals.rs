//! The summary's last sections kept as running data: the households quiet
//! in a month's last three (from their quiet spells) and the twelve-month
//! trend (closed months from every area's figures kept at the close). Each
//! gives what the ledgers say, for a past month as for this one, whatever
//! order the postings came in; `ledger verify` names a kept row altered by
//! hand; the rebuild makes the same again.

use aixin::auth::Actor;
use aixin::ledger::{self, Kind};
use aixin::reports::{self, Month};
use diesel::prelude::*;

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

fn today() -> chrono::NaiveDate {
    aixin::time::today(TZ)
}

/// An award of `points` to a household, dated `day` (counts as taking
/// part in its month).
fn award(c: &mut aixin::db::DbConn, household: &str, points: i64, day: chrono::NaiveDate) {
    let credit = ledger::household_account(household);
    assert!(crate::reports::post(
        c,
        ledger::ISSUANCE.into(),
        credit,
        points,
        Kind::Award,
        day
    ));
}

/// The quiet households of an area's month: (name, last month taken part).
/// (The awards here are bare postings, without a rule's category, so the
/// summary's check of the categories is not asked.)
fn quiet(c: &mut aixin::db::DbConn, area: &str, month: Month) -> Vec<(String, Option<String>)> {
    let s = reports::monthly(c, TZ, area, month).unwrap().unwrap();
    s.households
        .inactive
        .into_iter()
        .map(|i| (i.head_name, i.last_active))
        .collect()
}

app_test! {
    async fn the_quiet_households_of_a_past_month_are_those_without_a_month_in_its_last_three(app) {
        let [city, _, _, village] = app.area_chain("静默");
        let this = Month::of(today());
        let last = this.prev();
        let ago = |n: usize| (0..n).fold(this, |m, _| m.prev());
        let names = ["甲从未", "乙早年", "丙回来", "丁上月", "戊补记", "己新户"];
        let h: Vec<String> = names.iter().map(|n| app.household(n, &village)).collect();
        // All but the last registered long before the months asked.
        let mut c = app.conn();
        let long_ago = chrono::Utc::now().naive_utc() - chrono::Duration::days(400);
        for id in &h[..5] {
            diesel::update(aixin::db::schema::households::table.find(id))
                .set(aixin::db::schema::households::created_at.eq(long_ago))
                .execute(&mut c)
                .unwrap();
        }
        // 乙 took part five months ago only; 丙 then and again this month
        // (quiet in last month's three, not in this month's); 丁 in the month
        // before last; 戊 today, then an award dated last month (posted
        // after a later month, it still splits its spell); 己 registered
        // today, in no month's three yet.
        award(&mut c, &h[1], 5, ago(5).first_day());
        award(&mut c, &h[2], 5, ago(5).first_day());
        award(&mut c, &h[2], 5, today());
        award(&mut c, &h[3], 5, ago(2).first_day());
        award(&mut c, &h[4], 5, today());
        award(&mut c, &h[4], 5, last.first_day());
        award(&mut c, &h[5], 5, today());
        let five = Some(ago(5).to_string());
        let expected_last = vec![
            ("丙回来".to_string(), five.clone()),
            ("乙早年".to_string(), five.clone()),
            ("甲从未".to_string(), None),
        ];
        let sorted = |mut v: Vec<(String, Option<String>)>| {
            v.sort();
            v
        };
        let expected_last = sorted(expected_last);
        assert_eq!(sorted(quiet(&mut c, &village, last)), expected_last);
        let s = reports::monthly(&mut c, TZ, &village, last).unwrap().unwrap();
        assert_eq!(s.households.inactive_count(), 3);
        assert_eq!(sorted(quiet(&mut c, &city, last)), expected_last);
        // This month's three: 丙 and 戊 took part, 丁 two months ago.
        assert_eq!(
            sorted(quiet(&mut c, &village, this)),
            sorted(vec![("乙早年".to_string(), five.clone()), ("甲从未".to_string(), None)])
        );
        // Five months ago 乙 and 丙 took part, so only 甲, 丁 and 戊 were
        // quiet then (丁's and 戊's months came later).
        assert_eq!(
            sorted(quiet(&mut c, &village, ago(5))),
            sorted(vec![
                ("丁上月".to_string(), None),
                ("戊补记".to_string(), None),
                ("甲从未".to_string(), None),
            ])
        );
        let report = ledger::verify(&mut c).unwrap();
        assert!(report.ok(), "{report:?}");

        // A spell altered by hand is named; the rebuild makes them again.
        diesel::sql_query(format!(
            "UPDATE quiet_spells SET last_active = '' WHERE household_id = '{}'",
            h[1]
        ))
        .execute(&mut c)
        .unwrap();
        let report = ledger::verify(&mut c).unwrap();
        assert!(
            report.totals_mismatches.iter().any(|m| m.1.starts_with("quiet_spells household")),
            "{report:?}"
        );
        aixin::db::write_tx(&mut c, |c| ledger::totals::rebuild(c, TZ)).unwrap();
        assert!(ledger::verify(&mut c).unwrap().ok());
        assert_eq!(sorted(quiet(&mut c, &village, last)), expected_last);
    }
}

/// The trend's figures of an area: (month, awarded, redeemed, taking part).
fn trend(c: &mut aixin::db::DbConn, area: &str, month: Month) -> Vec<(String, i64, i64, i64)> {
    let s = reports::monthly(c, TZ, area, month).unwrap().unwrap();
    s.trend
        .into_iter()
        .map(|p| (p.month, p.awarded, p.redeemed, p.taking_part))
        .collect()
}

app_test! {
    async fn the_trend_of_closed_months_reads_the_figures_kept_at_the_close_and_they_are_the_same(app) {
        let [city, _, town, village] = app.area_chain("趋势");
        let village2 = app.area(Some(&town), "趋势二村");
        let a = app.household("趋势甲", &village);
        let b = app.household("趋势乙", &village2);
        let closer = app.user("qushi-admin", aixin::domain::Role::Admin, None, None);
        let this = Month::of(today());
        let (last, before) = (this.prev(), this.prev().prev());
        let mut c = app.conn();
        award(&mut c, &a, 10, before.first_day());
        award(&mut c, &b, 7, before.first_day());
        award(&mut c, &a, 4, last.first_day());
        award(&mut c, &b, 9, today());
        let areas = [&city, &town, &village, &village2];
        let open: Vec<_> = areas.iter().map(|area| trend(&mut c, area, this)).collect();
        let city_trend = &open[0];
        assert_eq!(city_trend.len(), 12);
        assert_eq!(city_trend[9], (before.to_string(), 17, 0, 2));
        assert_eq!(city_trend[10], (last.to_string(), 4, 0, 1));
        assert_eq!(city_trend[11], (this.to_string(), 9, 0, 1));

        // Two months closed: every area's figures kept, the trend the same.
        let console = Actor::console();
        for m in [before, last] {
            reports::close::close(&mut c, &console, &closer, m, today()).unwrap();
        }
        let kept: i64 = aixin::db::schema::area_closings::table
            .filter(aixin::db::schema::area_closings::area_id.eq(&city))
            .count()
            .get_result(&mut c)
            .unwrap();
        assert_eq!(kept, 2, "the city's two closed months");
        let closed: Vec<_> = areas.iter().map(|area| trend(&mut c, area, this)).collect();
        assert_eq!(closed, open);
        assert!(ledger::verify(&mut c).unwrap().ok());

        // A kept figure altered by hand is named by verify, and read by the
        // trend (which is how it shows that the trend reads it).
        diesel::sql_query(format!(
            "UPDATE area_closings SET awarded = awarded + 100 WHERE area_id = '{city}' AND month = '{before}'"
        ))
        .execute(&mut c)
        .unwrap();
        assert_eq!(trend(&mut c, &city, this)[9].1, 117);
        let report = ledger::verify(&mut c).unwrap();
        assert!(
            report.totals_mismatches.iter().any(|m| m.1 == format!("area_closings awarded area {city}")),
            "{report:?}"
        );
        aixin::db::write_tx(&mut c, |c| ledger::totals::rebuild(c, TZ)).unwrap();
        assert!(ledger::verify(&mut c).unwrap().ok());
        assert_eq!(trend(&mut c, &city, this), open[0]);

        // Reopened, the month's kept figures go; the trend stays.
        reports::close::reopen(&mut c, &console, last, "补记").unwrap();
        let kept: i64 = aixin::db::schema::area_closings::table
            .filter(aixin::db::schema::area_closings::month.eq(last.to_string()))
            .count()
            .get_result(&mut c)
            .unwrap();
        assert_eq!(kept, 0);
        assert_eq!(trend(&mut c, &city, this), open[0]);

        // The city placed under a province: the province's trend is the
        // city's, closed months included.
        let province = aixin::areas::create_top(&mut c, &console, aixin::domain::AreaLevel::Province, "趋势省")
            .expect("a province")
            .id;
        aixin::areas::place_under(&mut c, &console, &city, &province).unwrap();
        assert_eq!(trend(&mut c, &province, this), open[0]);
        assert!(ledger::verify(&mut c).unwrap().ok());
    }
}

app_test! {
    async fn two_postings_in_two_new_months_at_once_split_one_households_spell_once_each(app) {
        let [city, _, _, village] = app.area_chain("同静");
        let household = app.household("同静户", &village);
        let this = Month::of(today());
        let ago = |n: usize| (0..n).fold(this, |m, _| m.prev());
        // Many rounds: two awards for one household, dated in two months
        // it has not taken part in, posted at the same moment.
        for round in 0..6 {
            let days = [ago(2 * round + 1).first_day(), ago(2 * round + 2).first_day()];
            let barrier = std::sync::Barrier::new(2);
            std::thread::scope(|s| {
                for day in days {
                    let (app, barrier, household) = (&app, &barrier, &household);
                    s.spawn(move || {
                        let mut c = app.conn();
                        barrier.wait();
                        award(&mut c, household, 1, day);
                    });
                }
            });
        }
        let mut c = app.conn();
        let report = ledger::verify(&mut c).unwrap();
        assert!(report.ok(), "{report:?}");
        // Twelve months in a row taken part in: quiet in none of them.
        assert!(quiet(&mut c, &city, ago(1)).is_empty());
        let spells: i64 = aixin::db::schema::quiet_spells::table
            .filter(aixin::db::schema::quiet_spells::household_id.eq(&household))
            .count()
            .get_result(&mut c)
            .unwrap();
        assert_eq!(spells, 2, "before the first month, and since this month's start");
    }
}
