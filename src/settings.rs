//! Scheme settings kept in the database, so that every app server sees the
//! same ones. Each has a default; admins change them on the settings page.

use diesel::prelude::*;

use crate::audit;
use crate::auth::{Action, Actor};
use crate::db::schema::settings;
use crate::db::{self, DbConn};
use crate::domain::FieldError;

/// A setting: its key, its default, and the range of whole numbers it takes
/// (booleans are 0 and 1).
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub key: &'static str,
    pub default: i64,
    pub min: i64,
    pub max: i64,
}

impl Setting {
    pub fn is_bool(&self) -> bool {
        self.min == 0 && self.max == 1
    }

    pub fn label_key(&self) -> &'static str {
        match self.key {
            "review_required" => "settings.review_required",
            "notice_days" => "settings.notice_days",
            "redeem_in_store_area_only" => "settings.redeem_in_store_area_only",
            "expiry_years" => "settings.expiry_years",
            "expiry_months" => "settings.expiry_months",
            "retention_years" => "settings.retention_years",
            "photo_days" => "settings.photo_days",
            "black_list" => "settings.black_list",
            _ => "settings.adjustment_approval_above",
        }
    }
}

/// Awards need a second person's review (off: approved when made).
pub const REVIEW_REQUIRED: Setting = Setting {
    key: "review_required",
    default: 1,
    min: 0,
    max: 1,
};
/// Days an approved award stays on public notice before it counts (0: counts at once).
pub const NOTICE_DAYS: Setting = Setting {
    key: "notice_days",
    default: 0,
    min: 0,
    max: 60,
};
/// Manual adjustments larger than this (in points) need a second admin.
pub const ADJUSTMENT_APPROVAL_ABOVE: Setting = Setting {
    key: "adjustment_approval_above",
    default: 100,
    min: 0,
    max: 1_000_000,
};

/// A household may only redeem at stores serving its own area.
pub const REDEEM_IN_STORE_AREA_ONLY: Setting = Setting {
    key: "redeem_in_store_area_only",
    default: 0,
    min: 0,
    max: 1,
};
/// Points expire at the end of the Nth calendar year after the year they
/// were earned (0: they do not expire by year).
pub const EXPIRY_YEARS: Setting = Setting {
    key: "expiry_years",
    default: 0,
    min: 0,
    max: 50,
};
/// Points expire N months after they were earned (0: not by month).
pub const EXPIRY_MONTHS: Setting = Setting {
    key: "expiry_months",
    default: 0,
    min: 0,
    max: 600,
};
/// Archived households' personal data is erased this many years after they
/// were archived (0: kept).
pub const RETENTION_YEARS: Setting = Setting {
    key: "retention_years",
    default: 0,
    min: 0,
    max: 100,
};

/// Photos of a household's report are deleted this many days after the
/// report was decided (0: kept until the household's data is erased).
pub const PHOTO_DAYS: Setting = Setting {
    key: "photo_days",
    default: 365,
    min: 0,
    max: 3650,
};
/// The black list (黑榜) of deductions is published (off by default).
pub const BLACK_LIST: Setting = Setting {
    key: "black_list",
    default: 0,
    min: 0,
    max: 1,
};

pub const ALL: &[Setting] = &[
    REVIEW_REQUIRED,
    NOTICE_DAYS,
    ADJUSTMENT_APPROVAL_ABOVE,
    REDEEM_IN_STORE_AREA_ONLY,
    EXPIRY_YEARS,
    EXPIRY_MONTHS,
    RETENTION_YEARS,
    PHOTO_DAYS,
    BLACK_LIST,
];

pub fn get(conn: &mut DbConn, s: Setting) -> QueryResult<i64> {
    let v: Option<String> = settings::table
        .find(s.key)
        .select(settings::value)
        .first(conn)
        .optional()?;
    Ok(v.and_then(|v| v.parse::<i64>().ok())
        .filter(|n| (s.min..=s.max).contains(n))
        .unwrap_or(s.default))
}

pub fn get_bool(conn: &mut DbConn, s: Setting) -> QueryResult<bool> {
    Ok(get(conn, s)? != 0)
}

pub fn parse(s: Setting, text: &str) -> Result<i64, FieldError> {
    let field = s.label_key();
    let text = crate::domain::input::normalize(text);
    match text.as_str() {
        "on" | "true" if s.is_bool() => Ok(1),
        "" | "off" | "false" if s.is_bool() => Ok(0),
        t => crate::domain::input::whole_number(t)
            .filter(|n| (s.min..=s.max).contains(n))
            .ok_or(
                FieldError::new(field, "error.number_range")
                    .arg("min", s.min)
                    .arg("max", s.max),
            ),
    }
}

/// Settings that make sense only together: points expire by year or by
/// month, not both.
pub fn check_together(values: &[(Setting, i64)]) -> Result<(), FieldError> {
    let value = |key: &str| {
        values
            .iter()
            .find(|(s, _)| s.key == key)
            .map(|(_, v)| *v)
            .unwrap_or(0)
    };
    if value(EXPIRY_YEARS.key) != 0 && value(EXPIRY_MONTHS.key) != 0 {
        return Err(FieldError::new(
            EXPIRY_MONTHS.label_key(),
            "error.expiry_years_or_months",
        ));
    }
    Ok(())
}

/// Write a value that is not an admin's setting (a last-run record), as an
/// upsert so that two app servers doing it at once both succeed.
pub fn put_raw(conn: &mut DbConn, key: &str, value: &str) -> QueryResult<()> {
    use diesel::sql_types::Text;
    const SQL_SQLITE: &str = "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
    const SQL_PG: &str = "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
    match conn {
        DbConn::Sqlite(c) => diesel::sql_query(SQL_SQLITE)
            .bind::<Text, _>(key)
            .bind::<Text, _>(value)
            .execute(c)?,
        DbConn::Pg(c) => diesel::sql_query(SQL_PG)
            .bind::<Text, _>(key)
            .bind::<Text, _>(value)
            .execute(c)?,
    };
    Ok(())
}

pub fn get_raw(conn: &mut DbConn, key: &str) -> QueryResult<Option<String>> {
    settings::table
        .find(key)
        .select(settings::value)
        .first(conn)
        .optional()
}

/// Claim a once-a-day job for `key` (e.g. "expiry:2026-11-29"): true for the
/// one app server whose row went in first.
pub fn claim(conn: &mut DbConn, key: &str) -> bool {
    diesel::insert_into(settings::table)
        .values((settings::key.eq(key), settings::value.eq("claimed")))
        .execute(conn)
        .is_ok()
}

/// Give back a day's claim taken with [`claim`] (its run failed as a
/// whole), so that the next tick, on any app server, runs the day again.
pub fn release(conn: &mut DbConn, key: &str) -> QueryResult<()> {
    diesel::delete(
        settings::table
            .find(key)
            .filter(settings::value.eq("claimed")),
    )
    .execute(conn)?;
    Ok(())
}

/// One setting as the settings form sends it: the value typed, and the
/// value the form showed when it was opened (`None` from a form that did not
/// say).
#[derive(Debug, Clone, Copy)]
pub struct Typed {
    pub setting: Setting,
    pub value: i64,
    pub seen: Option<i64>,
}

/// "Changed by someone else after you opened the form", beside `s`.
fn changed_meanwhile(s: Setting, now: i64) -> FieldError {
    FieldError::conflict(
        s.label_key(),
        "error.setting_changed",
        crate::domain::Conflict::Changed,
    )
    .arg("now", now)
}

/// Save the settings form. A setting someone else changed after the form
/// was opened keeps their value when this form left it as shown; a
/// different value over it is a conflict (409) beside that setting, and
/// nothing is saved. Each write is one conditional update on the value read,
/// so two admins saving at once never lose a change silently.
/// Errors: `Forbidden` for a role that may not change settings; conflicts.
pub fn save_form(
    conn: &mut DbConn,
    ctx: &Actor,
    typed: &[Typed],
) -> Result<(), crate::error::Problem> {
    ctx.require(Action::ManageSettings)?;
    db::write_tx(conn, |c| {
        let mut checks = crate::domain::FieldChecks::new();
        let mut writes = Vec::new();
        for t in typed {
            let now = get(c, t.setting)?;
            let seen = t.seen.unwrap_or(now);
            if now == t.value {
                continue;
            }
            if now != seen {
                // Changed meanwhile: theirs stands unless this form changed it too.
                if t.value != seen {
                    checks.push(changed_meanwhile(t.setting, now));
                }
                continue;
            }
            writes.push((t.setting, now, t.value));
        }
        checks.finish()?;
        for (s, before, value) in writes {
            let n = match get_raw(c, s.key)? {
                Some(stored) => diesel::update(
                    settings::table
                        .find(s.key)
                        .filter(settings::value.eq(&stored)),
                )
                .set(settings::value.eq(value.to_string()))
                .execute(c)?,
                None => match diesel::insert_into(settings::table)
                    .values((
                        settings::key.eq(s.key),
                        settings::value.eq(value.to_string()),
                    ))
                    .execute(c)
                {
                    Err(e) if db::is_unique_violation(&e) => 0,
                    other => other?,
                },
            };
            if n == 0 {
                let now = get(c, s)?;
                return Err(changed_meanwhile(s, now).into());
            }
            audit_change(c, ctx, s, before, value)?;
        }
        Ok(())
    })
}

/// Change a setting (nothing, not even an audit row, when it already has
/// this value). Errors: `Forbidden` for a role that may not change settings.
pub fn set(
    conn: &mut DbConn,
    ctx: &Actor,
    s: Setting,
    value: i64,
) -> Result<(), crate::error::Problem> {
    ctx.require(Action::ManageSettings)?;
    db::write_tx(conn, |c| {
        let before = get(c, s)?;
        if before == value {
            return Ok(());
        }
        diesel::delete(settings::table.find(s.key)).execute(c)?;
        diesel::insert_into(settings::table)
            .values((
                settings::key.eq(s.key),
                settings::value.eq(value.to_string()),
            ))
            .execute(c)?;
        audit_change(c, ctx, s, before, value)?;
        Ok(())
    })
}

/// The audit row of a setting changed from `before` to `value`.
fn audit_change(
    c: &mut DbConn,
    ctx: &Actor,
    s: Setting,
    before: i64,
    value: i64,
) -> diesel::QueryResult<()> {
    audit::record(
        c,
        ctx,
        "setting.change",
        "setting",
        s.key,
        &audit::Detail::new("setting")
            .word("setting", s.label_key())
            .arg("from", before)
            .arg("to", value)
            .to_string(),
    )
}
