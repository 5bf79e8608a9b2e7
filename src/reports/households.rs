//! The households section: registered, taking part, for the first time,
//! and those quiet for three months.

use chrono_tz::Tz;
use diesel::QueryableByName;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

use super::points::Totals;
use super::{Bind, INACTIVE_LIMIT, Month, TwoNums, load};
use crate::areas::Area;
use crate::db::DbConn;
use crate::ledger::totals::{FIRST_TIME, PARTICIPANT};

#[derive(QueryableByName, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InactiveHousehold {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub head_name: String,
    /// The village, with its town when the summary is above town level
    /// (`areas::display_name`).
    #[diesel(sql_type = Text)]
    pub village: String,
    /// The village's town (to tell same-named villages apart).
    #[diesel(sql_type = Text)]
    #[serde(default)]
    pub town: String,
    /// The last month it took part ("2026-07").
    #[diesel(sql_type = Nullable<Text>)]
    pub last_active: Option<String>,
}

impl InactiveHousehold {
    /// The village as a reader of `lang` reads it: stored with its town in
    /// Chinese brackets above town level (东庄村（凤山街道）), it reads
    /// "东庄村 (凤山街道)" in English; a bare village stays bare.
    pub fn village_in(&self, lang: crate::i18n::Lang) -> String {
        let stored_with_town = format!("（{}）", self.town);
        match self.village.strip_suffix(&stored_with_town) {
            Some(bare) if !self.town.is_empty() => {
                crate::areas::display_name(bare, Some(&self.town), lang)
            }
            _ => self.village.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HouseholdsSection {
    pub registered: i64,
    pub taking_part: i64,
    pub first_time: i64,
    /// The quiet households, at most `INACTIVE_LIMIT` of them.
    pub inactive: Vec<InactiveHousehold>,
    /// How many households are quiet in all (None in a summary kept
    /// before it was counted: `inactive_count` then counts the list).
    #[serde(default)]
    pub inactive_total: Option<i64>,
}

impl HouseholdsSection {
    /// How many households are quiet, the listed ones and those past the
    /// list's limit.
    pub fn inactive_count(&self) -> i64 {
        self.inactive_total.unwrap_or(self.inactive.len() as i64)
    }
}

/// The households section of `area` (whose LIKE prefix is `prefix`) for
/// `month`; taking part and first-timers come from the points totals.
pub(super) fn section(
    conn: &mut DbConn,
    tz: Tz,
    area: &Area,
    prefix: &str,
    month: Month,
    totals: &Totals,
) -> QueryResult<HouseholdsSection> {
    let (start_utc, end_utc) = (
        crate::time::local_day_start_utc(month.first_day(), tz),
        crate::time::local_day_start_utc(month.end_day(), tz),
    );
    let registered: Vec<TwoNums> = load(
        conn,
        "SELECT COUNT(*) AS a, CAST(0 AS BIGINT) AS b FROM households h JOIN areas a ON a.id = h.area_id
          WHERE a.path LIKE $1 AND h.created_at >= $2 AND h.created_at < $3",
        &[
            Bind::Text(prefix.to_string()),
            Bind::Ts(start_utc),
            Bind::Ts(end_utc),
        ],
    )?;
    let key = month.to_string();
    // Quiet in the last three months: the households with a quiet spell
    // (`ledger::quiet`) that covers them, a few thousand for a city, read
    // before their households (CROSS JOIN keeps that order on SQLite); the
    // spell names the last month the household took part. Every household
    // has a spell still running (most of them started this month or the
    // last), so those are asked apart: two ranges of the spells' index,
    // not every running spell read.
    let open = crate::ledger::quiet::OPEN;
    let quiet_since = (1..crate::ledger::quiet::QUIET_MONTHS).fold(month, |m, _| m.prev());
    let quiet_households = format!(
        "quiet_spells s CROSS JOIN households h CROSS JOIN areas a
          WHERE h.id = s.household_id AND a.id = h.area_id
            AND ((s.to_month = '{open}' AND s.from_month <= $2)
              OR (s.to_month >= $3 AND s.to_month < '{open}' AND s.from_month <= $2))
            AND a.path LIKE $1 AND NOT h.archived AND h.created_at < $4"
    );
    let binds = [
        Bind::Text(prefix.to_string()),
        Bind::Text(quiet_since.to_string()),
        Bind::Text(key.clone()),
        Bind::Ts(crate::time::local_day_start_utc(
            quiet_since.first_day(),
            tz,
        )),
    ];
    let inactive: Vec<InactiveHousehold> = load(
        conn,
        &format!(
            "SELECT q.id AS id, q.head_name AS head_name, q.village AS village,
                    COALESCE((SELECT t.name FROM areas t WHERE t.id = q.parent_id), '') AS town,
                    NULLIF(q.last_active, '') AS last_active
               FROM (SELECT h.id, h.head_name, a.name AS village, a.path, a.parent_id,
                            s.last_active
                       FROM {quiet_households}
                      ORDER BY a.path, h.head_name, h.id LIMIT {INACTIVE_LIMIT}) q
              ORDER BY q.path, q.head_name, q.id"
        ),
        &binds,
    )?;
    // The list stops at its limit; the count does not.
    let inactive_total = if (inactive.len() as i64) < INACTIVE_LIMIT {
        inactive.len() as i64
    } else {
        let n: Vec<TwoNums> = load(
            conn,
            &format!("SELECT COUNT(*) AS a FROM {quiet_households}"),
            &binds,
        )?;
        n.first().map(|r| r.a).unwrap_or(0)
    };
    // Above town level a village is named with its town.
    let above_town = matches!(area.level.as_str(), "province" | "city" | "district");
    let inactive: Vec<InactiveHousehold> = inactive
        .into_iter()
        .map(|mut i| {
            if above_town {
                // Stored in the summary (a closed month keeps it): in the
                // scheme's first language, shown in the reader's by
                // `village_in`.
                i.village =
                    crate::areas::display_name(&i.village, Some(&i.town), crate::i18n::Lang::Zh);
            }
            i
        })
        .collect();
    Ok(HouseholdsSection {
        registered: registered.first().map(|r| r.a).unwrap_or(0),
        // Earned or redeemed in the month, in a village of the area then.
        taking_part: totals.counter(PARTICIPANT),
        first_time: totals.counter(FIRST_TIME),
        inactive,
        inactive_total: Some(inactive_total),
    })
}
