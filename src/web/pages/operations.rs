use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::auth::Action;
use crate::operations::{self, Overview};
use crate::web::page::{PageCtx, render};
use crate::web::{AppError, AppState, CurrentUser, run};

#[derive(Template)]
#[template(path = "operations.html")]
struct OperationsPage<'a> {
    ctx: &'a PageCtx,
    o: Overview,
    size: String,
    expiry_result: String,
}

pub async fn page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ViewOperations)?;
    let config = state.config.clone();
    let o = run(&state, move |c| Ok(operations::overview(c, &config)?)).await?;
    let size = operations::human_size(o.size_bytes);
    let ctx = PageCtx::build(&req, Some(&user));
    let expiry_result = match &o.last_expiry {
        Some((_, households, points)) => ctx.tf(
            "ops.expiry_result",
            &[
                ("households", households.clone()),
                ("points", points.clone()),
            ],
        ),
        None => String::new(),
    };
    render(
        &ctx,
        &OperationsPage {
            ctx: &ctx,
            o,
            size,
            expiry_result,
        },
    )
}
