//! Manual adjustments by an administrator, with a reason. Above a
//! configurable size they wait for a second administrator.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::PointsError;
use super::awards::Actor;
use crate::audit;
use crate::db::schema::{households, point_adjustments, users};
use crate::db::{self, DbConn};
use crate::domain::FieldError;
use crate::households as hh;
use crate::ledger::{self, Kind, Posting};
use crate::settings;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = point_adjustments)]
pub struct Adjustment {
    pub id: String,
    pub household_id: String,
    pub amount: i64,
    pub reason: String,
    pub status: String,
    pub requested_by: String,
    pub requested_at: NaiveDateTime,
    pub decided_by: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
    pub entry_id: Option<String>,
    pub idempotency_key: Option<String>,
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
            amount: adj.amount.abs(),
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

/// Ask for an adjustment (signed points). Small ones post at once.
pub fn request(
    conn: &mut DbConn,
    actor: &Actor,
    household_id: &str,
    amount: i64,
    reason: &str,
    key: &str,
    today: NaiveDate,
) -> Result<Requested, PointsError> {
    let reason: String = reason.trim().chars().take(200).collect();
    if reason.is_empty() {
        return Err(FieldError::new("field.reason", "error.required").into());
    }
    if amount == 0 {
        return Err(FieldError::new("field.points", "error.points_nonzero").into());
    }
    db::write_tx(conn, |c| {
        if let Some(existing) = point_adjustments::table
            .filter(point_adjustments::idempotency_key.eq(key))
            .select(Adjustment::as_select())
            .first(c)
            .optional()?
        {
            return Ok(if existing.status == "pending" {
                Requested::AwaitingApproval
            } else {
                Requested::Posted
            });
        }
        let h = hh::find(c, actor.scope, household_id)?;
        if h.household.archived {
            return Err(FieldError::new("field.household", "error.household_archived").into());
        }
        let threshold = settings::get(c, settings::ADJUSTMENT_APPROVAL_ABOVE)?;
        let id = db::new_id();
        let adj = Adjustment {
            id: id.clone(),
            household_id: household_id.to_string(),
            amount,
            reason: reason.clone(),
            status: "pending".into(),
            requested_by: actor.user_id.to_string(),
            requested_at: db::now(),
            decided_by: None,
            decided_at: None,
            entry_id: None,
            idempotency_key: Some(key.to_string()),
        };
        diesel::insert_into(point_adjustments::table)
            .values((
                point_adjustments::id.eq(&adj.id),
                point_adjustments::household_id.eq(&adj.household_id),
                point_adjustments::amount.eq(adj.amount),
                point_adjustments::reason.eq(&adj.reason),
                point_adjustments::status.eq("pending"),
                point_adjustments::requested_by.eq(&adj.requested_by),
                point_adjustments::requested_at.eq(adj.requested_at),
                point_adjustments::idempotency_key.eq(&adj.idempotency_key),
            ))
            .execute(c)?;
        audit::record(
            c,
            actor.ctx,
            "adjustment.request",
            "adjustment",
            &id,
            &format!("{amount:+} {reason}"),
        )?;
        if amount.abs() <= threshold {
            let entry_id = post_adjustment(c, &adj, actor.user_id, today)?;
            diesel::update(point_adjustments::table.find(&id))
                .set((
                    point_adjustments::status.eq("posted"),
                    point_adjustments::entry_id.eq(&entry_id),
                    point_adjustments::decided_at.eq(db::now()),
                ))
                .execute(c)?;
            audit::record(
                c,
                actor.ctx,
                "adjustment.post",
                "adjustment",
                &id,
                "within the threshold",
            )?;
            Ok(Requested::Posted)
        } else {
            Ok(Requested::AwaitingApproval)
        }
    })
}

/// A second administrator approves or rejects a large adjustment.
pub fn decide(
    conn: &mut DbConn,
    actor: &Actor,
    id: &str,
    approve: bool,
    today: NaiveDate,
) -> Result<(), PointsError> {
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
        if adj.status != "pending" {
            return Err(FieldError::new("field.adjustment", "error.adjustment_decided").into());
        }
        let now = db::now();
        if approve {
            let entry_id = post_adjustment(c, &adj, actor.user_id, today)?;
            diesel::update(
                point_adjustments::table
                    .find(id)
                    .filter(point_adjustments::status.eq("pending")),
            )
            .set((
                point_adjustments::status.eq("posted"),
                point_adjustments::entry_id.eq(&entry_id),
                point_adjustments::decided_by.eq(actor.user_id),
                point_adjustments::decided_at.eq(now),
            ))
            .execute(c)?;
        } else {
            diesel::update(
                point_adjustments::table
                    .find(id)
                    .filter(point_adjustments::status.eq("pending")),
            )
            .set((
                point_adjustments::status.eq("rejected"),
                point_adjustments::decided_by.eq(actor.user_id),
                point_adjustments::decided_at.eq(now),
            ))
            .execute(c)?;
        }
        audit::record(
            c,
            actor.ctx,
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
        .filter(point_adjustments::status.eq("pending"))
        .order(point_adjustments::requested_at.asc())
        .select((
            Adjustment::as_select(),
            households::head_name,
            users::username,
        ))
        .load(conn)
}
