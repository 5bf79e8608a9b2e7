use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::auth::Scope;
use crate::web::page::{PageCtx, render};
use crate::web::{AppError, AppState, CurrentUser, run};

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    ctx: &'a PageCtx,
    scope_name: Option<String>,
}

pub async fn home(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let scope = user.scope.clone();
    let scope_name = run(&state, move |c| {
        Ok(match scope {
            Scope::Area { id, .. } => crate::areas::find(c, &id)?.map(|a| a.name),
            Scope::Store { id } => crate::stores::find(c, &id)?.map(|s| s.store.name),
            Scope::All | Scope::Nothing => None,
        })
    })
    .await?;
    let ctx = PageCtx::build(&req, Some(&user));
    render(
        &ctx,
        &HomePage {
            ctx: &ctx,
            scope_name,
        },
    )
}
