//! Manual adjustments by an administrator, with a reason. Above a
//! configurable size they wait for a second administrator.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::PointsError;
use crate::audit;
use crate::auth::{Action, Actor};
use crate::db::schema::{households, point_adjustments, users};
use crate::db::{self, DbConn};
use crate::domain::{FieldError, HouseholdId};
use crate::households as hh;
use crate::ledger::{self, Kind, Posting};
use crate::settings;

crate::text_enum! {
    /// Where an adjustment stands: waiting for a second administrator
    /// (`Pending`), on the ledger (`Posted`), or refused (`Rejected`).
    pub enum AdjustmentStatus {
        Pending = "pending",
        Posted = "posted",
        Rejected = "rejected",
    }
}

/// What a status change writes besides the status and the version
/// (`None` leaves a column as it is).
#[derive(Default, AsChangeset)]
#[diesel(table_name = point_adjustments)]
pub struct AdjustmentChanges<'a> {
    pub decided_by: Option<&'a str>,
    pub decided_at: Option<NaiveDateTime>,
    pub entry_id: Option<&'a str>,
}

/// The one way an adjustment changes status: one conditional update on its
/// id, the status `from` and the `version` read, setting `to` with
/// `changes` and bumping the version.
///
/// Errors: `PointsError::Invalid` with `error.adjustment_decided` when no
/// row matched (decided or changed by someone else first).
pub fn transition(
    conn: &mut DbConn,
    id: &str,
    (from, version): (AdjustmentStatus, i64),
    to: AdjustmentStatus,
    changes: AdjustmentChanges,
) -> Result<(), PointsError> {
    let n = diesel::update(
        point_adjustments::table
            .find(id)
            .filter(point_adjustments::status.eq(from))
            .filter(point_adjustments::version.eq(version)),
    )
    .set((
        point_adjustments::status.eq(to),
        point_adjustments::version.eq(point_adjustments::version + 1),
        changes,
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(FieldError::conflict(
            "field.adjustment",
            "error.adjustment_decided",
            crate::domain::Conflict::Changed,
        )
        .into());
    }
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = point_adjustments)]
pub struct Adjustment {
    pub id: String,
    pub household_id: String,
    pub amount: i64,
    pub reason: String,
    pub status: AdjustmentStatus,
    pub requested_by: String,
    pub requested_at: NaiveDateTime,
    pub decided_by: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
    pub entry_id: Option<String>,
    pub idempotency_key: Option<String>,
    /// Bumped by every change; a decision names the version it was made on.
    pub version: i64,
}

fn post_adjustment(
    conn: &mut DbConn,
    adj: &Adjustment,
    user_id: &str,
    today: NaiveDate,
) -> Result<String, PointsError> {
    let household = ledger::household_account(&adj.household_id);
    let (debit, credit) = if adj.amount > 0 {
        (ledger::ISSUANCE.to_string(), household)
    } else {
        (household, ledger::ISSUANCE.to_string())
    };
    let entry = ledger::post(
        conn,
        &Posting {
            debit,
            credit,
            amount: adj
                .amount
                .checked_abs()
                .ok_or(ledger::LedgerError::BadAmount)?,
            kind: Kind::Adjustment,
            ref_kind: "adjustment".into(),
            ref_id: adj.id.clone(),
            memo: adj.reason.clone(),
            user_id: Some(user_id.to_string()),
            posted_on: today,
            idempotency_key: Some(format!("adjustment:{}", adj.id)),
            reverses: None,
        },
    )?;
    Ok(entry.id)
}

pub enum Requested {
    Posted,
    AwaitingApproval,
}

/// The points a household was adjusted by without a second administrator
/// on `day` (the scheme's day, cut in `tz`), counted in either direction.
fn self_posted_on(
    conn: &mut DbConn,
    household_id: &str,
    day: NaiveDate,
    tz: chrono_tz::Tz,
) -> QueryResult<i64> {
    let start = crate::time::local_day_start_utc(day, tz);
    let end = crate::time::local_day_start_utc(day + chrono::Duration::days(1), tz);
    let amounts: Vec<i64> = point_adjustments::table
        .filter(point_adjustments::household_id.eq(household_id))
        .filter(point_adjustments::status.eq(AdjustmentStatus::Posted))
        .filter(point_adjustments::decided_by.is_null())
        .filter(point_adjustments::requested_at.ge(start))
        .filter(point_adjustments::requested_at.lt(end))
        .select(point_adjustments::amount)
        .load(conn)?;
    Ok(amounts.iter().fold(0i64, |sum, a| {
        sum.saturating_add(a.unsigned_abs().min(i64::MAX as u64) as i64)
    }))
}

/// Ask for an adjustment (signed points, |amount| <= [`super::MAX_POINTS`]).
/// It posts at once only while the household's adjustments of the day
/// (`today`, in the scheme's zone `tz`), this one included, stay within
/// the threshold; otherwise it waits for a second administrator. Splitting
/// a large adjustment into small ones therefore changes nothing. The form
/// key makes it once: sent again with the same household, amount and
/// reason it replays; with other content it is refused
/// (`error.form_key_reused`, a `KeyReused` conflict).
#[allow(clippy::too_many_arguments)]
pub fn request(
    conn: &mut DbConn,
    actor: &Actor,
    household_id: &HouseholdId,
    amount: i64,
    reason: &str,
    key: &str,
    today: NaiveDate,
    tz: chrono_tz::Tz,
) -> Result<Requested, PointsError> {
    actor.require(Action::AdjustPoints)?;
    // Both fields are checked, so all that is wrong shows at once.
    let mut checks = crate::domain::FieldChecks::new();
    if amount == 0 {
        checks.push(FieldError::new("field.points", "error.points_nonzero"));
    }
    if amount.unsigned_abs() > super::MAX_POINTS as u64 {
        checks.push(
            FieldError::new("field.points", "error.number_range")
                .arg("min", -super::MAX_POINTS)
                .arg("max", super::MAX_POINTS),
        );
    }
    // A reason goes into the ledger's memo and the audit log: refused when
    // too long or holding what no one types, never cut or stored as sent.
    let reason = match crate::domain::parse_optional_text("field.reason", reason, 200) {
        Ok(r) if r.is_empty() => {
            checks.push(FieldError::new("field.reason", "error.required"));
            r
        }
        Ok(r) => r,
        Err(e) => {
            checks.push(e);
            String::new()
        }
    };
    checks.finish()?;
    let meant =
        crate::idempotency::fingerprint(&[household_id.as_str(), &amount.to_string(), &reason]);
    db::write_tx(conn, |c| {
        crate::idempotency::hold_meaning(c, key, "adjustment", &actor.user_id, &meant)?;
        if let Some(existing) = point_adjustments::table
            .filter(point_adjustments::idempotency_key.eq(key))
            .select(Adjustment::as_select())
            .first(c)
            .optional()?
        {
            return Ok(if existing.status == AdjustmentStatus::Pending {
                Requested::AwaitingApproval
            } else {
                Requested::Posted
            });
        }
        let h = hh::find(c, actor, household_id)?;
        if h.household.archived {
            return Err(FieldError::new("field.household", "error.household_archived").into());
        }
        let threshold = settings::get(c, settings::ADJUSTMENT_APPROVAL_ABOVE)?;
        // One writer per household at a time, so that two requests at the
        // same moment cannot both count the day without the other.
        ledger::lock_account(c, &ledger::household_account(household_id))?;
        let day_so_far = self_posted_on(c, household_id, today, tz)?;
        let id = db::new_id();
        let adj = Adjustment {
            id: id.clone(),
            household_id: household_id.to_string(),
            amount,
            reason: reason.clone(),
            status: AdjustmentStatus::Pending,
            requested_by: actor.user_id.clone(),
            requested_at: db::now(),
            decided_by: None,
            decided_at: None,
            entry_id: None,
            idempotency_key: Some(key.to_string()),
            version: 1,
        };
        diesel::insert_into(point_adjustments::table)
            .values((
                point_adjustments::id.eq(&adj.id),
                point_adjustments::household_id.eq(&adj.household_id),
                point_adjustments::amount.eq(adj.amount),
                point_adjustments::reason.eq(&adj.reason),
                point_adjustments::status.eq(adj.status),
                point_adjustments::requested_by.eq(&adj.requested_by),
                point_adjustments::requested_at.eq(adj.requested_at),
                point_adjustments::idempotency_key.eq(&adj.idempotency_key),
            ))
            .execute(c)?;
        audit::record(
            c,
            &actor.audit(),
            "adjustment.request",
            "adjustment",
            &id,
            &audit::Detail::new("adjustment")
                .arg("points", format!("{amount:+}"))
                .arg("reason", &reason)
                .to_string(),
        )?;
        if day_so_far.saturating_add(amount.unsigned_abs() as i64) <= threshold {
            let entry_id = post_adjustment(c, &adj, &actor.user_id, today)?;
            transition(
                c,
                &id,
                (AdjustmentStatus::Pending, adj.version),
                AdjustmentStatus::Posted,
                AdjustmentChanges {
                    entry_id: Some(&entry_id),
                    decided_at: Some(db::now()),
                    ..Default::default()
                },
            )?;
            audit::record(
                c,
                &actor.audit(),
                "adjustment.post",
                "adjustment",
                &id,
                &audit::Detail::new("within_threshold").to_string(),
            )?;
            Ok(Requested::Posted)
        } else {
            Ok(Requested::AwaitingApproval)
        }
    })
}

/// A second administrator approves or rejects a large adjustment (any
/// version).
pub fn decide(
    conn: &mut DbConn,
    actor: &Actor,
    id: &str,
    approve: bool,
    today: NaiveDate,
) -> Result<(), PointsError> {
    decide_seen(conn, actor, id, approve, None, today)
}

/// A second administrator's decision on the adjustment as seen at version
/// `seen`: one conditional update on (id, pending, version); refused when
/// it changed or was decided meanwhile.
pub fn decide_seen(
    conn: &mut DbConn,
    actor: &Actor,
    id: &str,
    approve: bool,
    seen: Option<i64>,
    today: NaiveDate,
) -> Result<(), PointsError> {
    actor.require(Action::AdjustPoints)?;
    db::write_tx(conn, |c| {
        let adj = point_adjustments::table
            .find(id)
            .select(Adjustment::as_select())
            .first(c)
            .optional()?
            .ok_or(PointsError::NotFound)?;
        if adj.requested_by == actor.user_id {
            return Err(FieldError::new("field.adjustment", "error.second_admin_needed").into());
        }
        if adj.status != AdjustmentStatus::Pending {
            return Err(FieldError::conflict(
                "field.adjustment",
                "error.adjustment_decided",
                crate::domain::Conflict::Changed,
            )
            .into());
        }
        if seen.is_some_and(|v| v != adj.version) {
            return Err(FieldError::conflict(
                "field.adjustment",
                "error.adjustment_changed",
                crate::domain::Conflict::Changed,
            )
            .into());
        }
        transition(
            c,
            id,
            (AdjustmentStatus::Pending, adj.version),
            if approve {
                AdjustmentStatus::Posted
            } else {
                AdjustmentStatus::Rejected
            },
            AdjustmentChanges {
                decided_by: Some(actor.user_id.as_str()),
                decided_at: Some(db::now()),
                ..Default::default()
            },
        )?;
        if approve {
            let entry_id = post_adjustment(c, &adj, &actor.user_id, today)?;
            diesel::update(point_adjustments::table.find(id))
                .set(point_adjustments::entry_id.eq(&entry_id))
                .execute(c)?;
        }
        audit::record(
            c,
            &actor.audit(),
            if approve {
                "adjustment.approve"
            } else {
                "adjustment.reject"
            },
            "adjustment",
            id,
            "",
        )?;
        Ok(())
    })
}

/// Adjustments waiting for a second administrator: (adjustment, household, requester).
pub fn pending(conn: &mut DbConn) -> QueryResult<Vec<(Adjustment, String, String)>> {
    point_adjustments::table
        .inner_join(households::table)
        .inner_join(users::table.on(users::id.eq(point_adjustments::requested_by)))
        .filter(point_adjustments::status.eq(AdjustmentStatus::Pending))
        .order(point_adjustments::requested_at.asc())
        .select((
            Adjustment::as_select(),
            households::head_name,
            users::username,
        ))
        .load(conn)
}
