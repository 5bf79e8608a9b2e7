//! Scheme settings kept in the database, so that every app server sees the
//! same ones. Each has a default; admins change them on the settings page.

use diesel::prelude::*;

use crate::audit::{self, AuditCtx};
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

pub const ALL: &[Setting] = &[
    REVIEW_REQUIRED,
    NOTICE_DAYS,
    ADJUSTMENT_APPROVAL_ABOVE,
    REDEEM_IN_STORE_AREA_ONLY,
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
    match text.trim() {
        "on" | "true" if s.is_bool() => Ok(1),
        "" | "off" | "false" if s.is_bool() => Ok(0),
        t => t
            .parse::<i64>()
            .ok()
            .filter(|n| (s.min..=s.max).contains(n))
            .ok_or(
                FieldError::new(field, "error.number_range")
                    .arg("min", s.min)
                    .arg("max", s.max),
            ),
    }
}

pub fn set(conn: &mut DbConn, ctx: &AuditCtx, s: Setting, value: i64) -> QueryResult<()> {
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
        audit::record(
            c,
            ctx,
            "setting.change",
            "setting",
            s.key,
            &format!("{before} -> {value}"),
        )
    })
}
