//! A monthly summary as someone asked for it: the month, an area or a
//! store, checked against the asker's role and scope in one place for the
//! pages and the API alike.

use serde::Deserialize;

use super::{Month, Summary};
use crate::areas::Area;
use crate::auth::{Action, Actor};
use crate::db::DbConn;
use crate::domain::FieldError;

/// What a summary is asked for: a month (`YYYY-MM`; empty: this month) and
/// an area or a store (both empty: the first area of the scope).
#[derive(Deserialize, Default, Clone)]
pub struct MonthlyQuery {
    #[serde(default)]
    pub month: String,
    #[serde(default)]
    pub area_id: String,
    #[serde(default)]
    pub store_id: String,
}

/// Why a summary could not be given.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The role may not see summaries, or has no area (a clerk).
    #[error("forbidden")]
    Forbidden,
    /// A month, area or store that does not parse or lies outside the scope
    /// (which reads as unknown: no hint that it exists).
    #[error("invalid field {}", .0.field)]
    Invalid(FieldError),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

impl From<FieldError> for ReportError {
    fn from(e: FieldError) -> Self {
        ReportError::Invalid(e)
    }
}

/// The summary asked for in `q`, with the areas the asker may choose from.
///
/// Errors: `Forbidden` for a role without `ViewReports` or a store-scoped
/// one; `Invalid` naming `month`, `report_area` or `report_store`.
pub fn monthly_for(
    c: &mut DbConn,
    actor: &Actor,
    tz: chrono_tz::Tz,
    q: &MonthlyQuery,
) -> Result<(Summary, Vec<Area>), ReportError> {
    if actor.require(Action::ViewReports).is_err() {
        return Err(ReportError::Forbidden);
    }
    let scope = &actor.scope;
    let month = if q.month.trim().is_empty() {
        Month::of(crate::time::today(tz))
    } else {
        Month::parse(&q.month)?
    };
    let wanted = q.area_id.trim().to_string();
    let store_id = q.store_id.trim().to_string();
    if !store_id.is_empty() && !wanted.is_empty() {
        return Err(FieldError::new("field.report_store", "error.report_area_or_store").into());
    }
    if scope.area_filter().is_none() {
        return Err(ReportError::Forbidden);
    }
    let mut areas = crate::areas::visible(c, scope)?;
    // Villages named with their towns for a reader above town level.
    let names =
        crate::areas::InContext::load(c, scope, actor.lang, areas.iter().map(|a| a.path.as_str()))?;
    names.rename(&mut areas);
    if !store_id.is_empty() {
        // A store outside the scope reads as unknown, like an area; so
        // does text that is not a store id (no query runs with it).
        let found = match crate::domain::StoreId::parse(&store_id) {
            Some(id) => crate::stores::find(c, &id)?,
            None => None,
        };
        let store = found
            .filter(|s| scope.covers_store(&s.store.id, &s.area_path))
            .ok_or_else(|| FieldError::new("field.report_store", "error.store_unknown"))?;
        return Ok((super::monthly_store(c, tz, &store, month)?, areas));
    }
    let area_id = if wanted.is_empty() {
        match areas.first() {
            Some(a) => a.id.clone(),
            None => {
                return Err(FieldError::new("field.report_area", "error.area_unknown").into());
            }
        }
    } else {
        wanted
    };
    // An area outside the scope reads as unknown: no hint that it exists.
    if !areas.iter().any(|a| a.id == area_id) {
        return Err(FieldError::new("field.report_area", "error.area_unknown").into());
    }
    let mut summary = super::monthly(c, tz, &area_id, month)?
        .ok_or_else(|| FieldError::new("field.report_area", "error.area_unknown"))?;
    if let Some(a) = areas.iter().find(|a| a.id == area_id) {
        summary.area_name = a.name.clone();
    }
    Ok((summary, areas))
}
