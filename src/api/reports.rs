//! The monthly summary (月度汇总), as data. Only the reports module's public
//! functions are called (through the page's own loader, with its scope
//! checks); the summary is mapped into this module's own types.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::{ApiUser, utc};
use crate::reports::Summary;
use crate::reports::scoped::{MonthlyQuery, monthly_for};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// YYYY-MM; this month when left out.
    #[serde(default)]
    #[param(pattern = "^[0-9]{4}-[0-9]{2}$")]
    pub month: Option<String>,
    /// An area (the caller's own when neither is given) ...
    #[serde(default)]
    #[param(format = Uuid)]
    pub area_id: Option<String>,
    /// ... or one store.
    #[serde(default)]
    #[param(format = Uuid)]
    pub store_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PointsOut {
    pub opening: i64,
    pub awarded: i64,
    pub deducted: i64,
    pub reversed: i64,
    pub adjusted: i64,
    /// Net of redemptions and their voids (negative: points spent).
    pub redeemed: i64,
    pub expired: i64,
    pub closing: i64,
    pub awards_proposed: i64,
    pub awards_approved: i64,
    pub awards_rejected: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HouseholdsOut {
    pub registered: i64,
    pub taking_part: i64,
    pub first_time: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RedemptionsOut {
    pub count: i64,
    pub points: i64,
    pub households: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GoodsLineOut {
    #[schema(format = Uuid)]
    pub store_id: String,
    #[schema(format = Uuid)]
    pub item_id: String,
    pub item_name: String,
    pub unit: String,
    pub opening: i64,
    pub donated: i64,
    pub bought: i64,
    pub moved_in: i64,
    pub redeemed: i64,
    pub moved_out: i64,
    pub written_off: i64,
    pub counted: i64,
    pub closing: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DonationsOut {
    pub count: i64,
    pub money_fen: i64,
    pub goods_value_fen: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MonthlyReport {
    /// YYYY-MM.
    pub month: String,
    #[schema(format = Uuid)]
    pub area_id: String,
    pub area_name: String,
    /// Set for one store's summary.
    pub store_id: Option<String>,
    pub points: PointsOut,
    pub households: HouseholdsOut,
    pub redemptions: RedemptionsOut,
    pub goods: Vec<GoodsLineOut>,
    pub donations: DonationsOut,
    /// When the month was closed (月结), if it was.
    pub closed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// True when every reconciliation adds up.
    pub reconciled: bool,
}

fn report_out(s: &Summary) -> MonthlyReport {
    MonthlyReport {
        month: format!("{:04}-{:02}", s.month.year, s.month.month),
        area_id: s.area_id.clone(),
        area_name: s.area_name.clone(),
        store_id: s.store_id.clone(),
        points: PointsOut {
            opening: s.points.opening,
            awarded: s.points.awarded,
            deducted: s.points.deducted,
            reversed: s.points.reversed,
            adjusted: s.points.adjusted,
            redeemed: s.points.redeemed,
            expired: s.points.expired,
            closing: s.points.closing,
            awards_proposed: s.points.proposed,
            awards_approved: s.points.approved,
            awards_rejected: s.points.rejected,
        },
        households: HouseholdsOut {
            registered: s.households.registered,
            taking_part: s.households.taking_part,
            first_time: s.households.first_time,
        },
        redemptions: RedemptionsOut {
            count: s.redemptions.count,
            points: s.redemptions.points,
            households: s.redemptions.households,
        },
        goods: s
            .goods
            .iter()
            .map(|g| GoodsLineOut {
                store_id: g.store_id.clone(),
                item_id: g.item_id.clone(),
                item_name: g.item_name.clone(),
                unit: g.unit.clone(),
                opening: g.opening,
                donated: g.donated,
                bought: g.bought,
                moved_in: g.moved_in,
                redeemed: g.redeemed,
                moved_out: g.moved_out,
                written_off: g.written_off,
                counted: g.counted,
                closing: g.closing,
            })
            .collect(),
        donations: DonationsOut {
            count: s.donations.count,
            money_fen: s.donations.money_fen,
            goods_value_fen: s.donations.goods_value_fen,
        },
        closed_at: s.closed.as_ref().map(|c| utc(c.closed_at)),
        reconciled: s.ok(),
    }
}

/// The monthly summary of an area (and everything below it) or of a store.
#[utoipa::path(get, path = "/api/v1/reports/monthly", tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, description = "The summary", body = MonthlyReport),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 422, description = "Bad month, unknown area or store, or both given", body = ErrorBody),
    ))]
pub async fn monthly(
    user: ApiUser,
    state: web::Data<AppState>,
    q: super::ApiQuery<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.0;
    let query = MonthlyQuery {
        month: q.month.unwrap_or_default(),
        area_id: q.area_id.unwrap_or_default(),
        store_id: q.store_id.unwrap_or_default(),
    };
    let actor = user.actor();
    let tz = state.config.time_zone;
    let (summary, _) = super::run(&state, move |c| Ok(monthly_for(c, &actor, tz, &query)?)).await?;
    Ok(HttpResponse::Ok().json(report_out(&summary)))
}
