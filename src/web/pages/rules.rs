use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::Action;
use crate::points::{self, Category, Period, Rule, RuleForm};
use crate::web::page::{PageCtx, flash_ok, or_flash, render};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, run};

#[derive(Template)]
#[template(path = "rules/list.html")]
struct ListPage<'a> {
    ctx: &'a PageCtx,
    rules: Vec<(Rule, String)>,
    categories: Vec<Category>,
    periods: [Period; 4],
    can_edit: bool,
    print: bool,
    f: RuleForm,
    /// The rulebook's edition (see `points::rulebook_edition`).
    edition: i64,
    /// When the rulebook last changed (UTC).
    changed_at: Option<chrono::NaiveDateTime>,
    /// Today in the scheme's time zone, for the printed sheet.
    today: String,
}

async fn list_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    print: bool,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ViewRules)?;
    let (rules, categories, edition) = run(&state, |c| {
        Ok((
            points::current_rules(c)?,
            points::categories(c)?,
            points::rulebook_edition(c)?,
        ))
    })
    .await?;
    let today = crate::time::today(state.config.time_zone).to_string();
    let ctx = PageCtx::build(&req, Some(&user));
    render(
        &ctx,
        &ListPage {
            ctx: &ctx,
            rules,
            categories,
            periods: Period::ALL,
            can_edit: user.can(Action::ManageRules) && !print,
            print,
            f: RuleForm::blank(),
            edition: edition.0,
            changed_at: edition.1,
            today,
        },
    )
}

pub async fn list(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    list_page(req, user, state, false).await
}

/// The rulebook for the village notice board.
pub async fn print(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    list_page(req, user, state, true).await
}

pub async fn create(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<RuleForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ManageRules)?;
    let f = form.0;
    let ctx = user.actor();
    let result = run(&state, move |c| {
        let input = points::parse_rule_form(c, &f)?;
        Ok(points::create_rule(c, &ctx, &input)?)
    })
    .await
    .map(|r| flash_ok(&req, "/rules", "flash.rule_created", &[("code", r.code)]));
    or_flash(&req, "/rules", result)
}

#[derive(Template)]
#[template(path = "rules/edit.html")]
struct EditPage<'a> {
    ctx: &'a PageCtx,
    rule: Rule,
    versions: Vec<Rule>,
    categories: Vec<Category>,
    periods: [Period; 4],
    f: RuleForm,
}

pub async fn edit_form(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    code: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ManageRules)?;
    let code = code.into_inner();
    let (rule, versions, categories) = run(&state, move |c| {
        let rule = points::current_rule(c, &code)?.ok_or(AppError::NotFound)?;
        Ok((
            rule,
            points::rule_versions(c, &code)?,
            points::categories(c)?,
        ))
    })
    .await?;
    let ctx = PageCtx::build(&req, Some(&user));
    render(
        &ctx,
        &EditPage {
            ctx: &ctx,
            f: RuleForm::from(&rule),
            rule,
            versions,
            categories,
            periods: Period::ALL,
        },
    )
}

pub async fn edit(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    code: web::Path<String>,
    form: CsrfForm<RuleForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ManageRules)?;
    let code = code.into_inner();
    let back = format!("/rules/{}/edit", crate::web::error::urlencode(&code));
    let mut f = form.0;
    f.code = code.clone();
    let ctx = user.actor();
    let result = run(&state, move |c| {
        let input = points::parse_rule_form(c, &f)?;
        Ok(points::edit_rule(c, &ctx, &code, &input)?)
    })
    .await
    .map(|r| {
        flash_ok(
            &req,
            "/rules",
            "flash.rule_edited",
            &[("code", r.code), ("version", r.version.to_string())],
        )
    });
    or_flash(&req, &back, result)
}

#[derive(Deserialize)]
pub struct CategoryForm {
    #[serde(default)]
    name: String,
}

pub async fn add_category(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<CategoryForm>,
) -> Result<HttpResponse, AppError> {
    let ctx = user.actor();
    let name = form.0.name;
    let result = run(&state, move |c| Ok(points::add_category(c, &ctx, &name)?))
        .await
        .map(|cat| {
            flash_ok(
                &req,
                "/rules",
                "flash.category_created",
                &[("name", cat.name)],
            )
        });
    or_flash(&req, "/rules", result)
}
