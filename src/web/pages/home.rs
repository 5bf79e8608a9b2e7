use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use diesel::prelude::*;

use crate::auth::{Action, Scope};
use crate::web::page::{PageCtx, render};
use crate::web::{AppError, AppState, CurrentUser, run};

/// What is waiting for this person, by role.
#[derive(Default)]
struct Waiting {
    /// Awards waiting for review in the user's area.
    /// Awards waiting for review, as said ("500+" past what the queue shows).
    reviews: Option<String>,
    /// The user's own proposals still pending.
    my_pending: Option<i64>,
    /// Adjustments waiting for a second administrator.
    adjustments: Option<usize>,
    /// Goods running low (admins: every store; clerks: their own).
    low_stock: Vec<crate::stock::LowStock>,
    /// Today at a clerk's store.
    today: Option<crate::redemptions::DaySummary>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    ctx: &'a PageCtx,
    scope_name: Option<String>,
    w: Waiting,
}

pub async fn home(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let actor = user.actor();
    let (can_review, can_propose, can_adjust, is_admin) = (
        user.can(Action::ReviewAwards),
        user.can(Action::ProposeAwards),
        user.can(Action::AdjustPoints),
        user.role() == crate::domain::Role::Admin,
    );
    let user_id = user.user.id.clone();
    let tz = state.config.time_zone;
    let (scope_name, w) = run(&state, move |c| {
        let scope_name = match &actor.scope {
            Scope::Area { id, .. } => crate::areas::find(c, id)?.map(|a| a.name),
            Scope::Store { id } => crate::stores::find(c, id)?.map(|s| s.store.name),
            Scope::All | Scope::Nothing => None,
        };
        let mut w = Waiting::default();
        if can_review {
            let shown = super::awards::QUEUE_SHOWN;
            let n = crate::points::awards::review_queue(c, &actor, &Default::default(), shown + 1)?
                .len();
            // More than the queue shows: "500+".
            w.reviews = Some(if n as i64 > shown {
                format!("{shown}+")
            } else {
                n.to_string()
            });
        }
        if can_propose {
            use crate::db::schema::awards;
            w.my_pending = Some(
                awards::table
                    .filter(awards::proposed_by.eq(&user_id))
                    .filter(awards::status.eq(crate::points::awards::AwardStatus::Pending))
                    .count()
                    .get_result(c)?,
            );
        }
        if can_adjust {
            w.adjustments = Some(crate::points::adjustments::pending(c)?.len());
        }
        match &actor.scope {
            Scope::Store { id } => {
                w.low_stock = crate::stock::low_stock(c, Some(id))?;
                w.today = Some(crate::redemptions::day_summary(
                    c,
                    id,
                    crate::time::today(tz),
                    tz,
                )?);
            }
            Scope::All if is_admin => w.low_stock = crate::stock::low_stock(c, None)?,
            _ => {}
        }
        Ok((scope_name, w))
    })
    .await?;
    let ctx = PageCtx::build(&req, Some(&user));
    render(
        &ctx,
        &HomePage {
            ctx: &ctx,
            scope_name,
            w,
        },
    )
}
