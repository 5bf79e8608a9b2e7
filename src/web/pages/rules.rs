use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::Action;
use crate::domain::FieldError;
use crate::points::{self, Category, Period, Rule, RuleForm};
use crate::web::extract::lang_of;
use crate::web::form::{FormErrors, Refused, or_again};
use crate::web::page::{PageCtx, flash_ok, render_with_status};
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
    errors: FormErrors,
    /// A refused new category (`"category"`), with the name typed.
    category: Refused,
}

/// The rulebook; `refused` shows a refused new rule again (422) with what
/// was typed and each error beside its field, `category` a refused new
/// category likewise.
async fn list_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    print: bool,
    refused: Option<(RuleForm, FieldError)>,
    category: Refused,
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
    let errors = FormErrors::maybe(ctx.lang, refused.as_ref().map(|r| &r.1));
    let status = if errors.is_empty() {
        category.status()
    } else {
        errors.status()
    };
    render_with_status(
        &ctx,
        &ListPage {
            ctx: &ctx,
            rules,
            categories,
            periods: Period::ALL,
            can_edit: user.can(Action::ManageRules) && !print,
            print,
            f: refused.map(|r| r.0).unwrap_or_else(RuleForm::blank),
            errors,
            edition: edition.0,
            changed_at: edition.1,
            today,
            category,
        },
        status,
    )
}

pub async fn list(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    list_page(req, user, state, false, None, Refused::default()).await
}

/// The rulebook for the village notice board.
pub async fn print(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    list_page(req, user, state, true, None, Refused::default()).await
}

pub async fn create(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<RuleForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::ManageRules)?;
    let f = form.0;
    let typed = f.clone();
    let ctx = user.actor();
    let result = form
        .1
        .run(&state, move |c| {
            let input = points::parse_rule_form(c, &f)?;
            Ok(points::create_rule(c, &ctx, &input)?)
        })
        .await;
    match result {
        Ok(r) => Ok(flash_ok(
            &req,
            "/rules",
            "flash.rule_created",
            &[("code", r.code)],
        )),
        Err(AppError::Invalid(e)) => {
            list_page(
                req,
                user,
                state,
                false,
                Some((typed, e)),
                Refused::default(),
            )
            .await
        }
        Err(e) => Err(e),
    }
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
    errors: FormErrors,
}

pub async fn edit_form(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    code: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ManageRules)?;
    edit_page(req, user, state, code.into_inner(), None).await
}

/// A rule's edit form; `refused` shows a refused edit again (422).
async fn edit_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    code: String,
    refused: Option<(RuleForm, FieldError)>,
) -> Result<HttpResponse, AppError> {
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
    let errors = FormErrors::maybe(ctx.lang, refused.as_ref().map(|r| &r.1));
    let status = errors.status();
    render_with_status(
        &ctx,
        &EditPage {
            ctx: &ctx,
            f: refused
                .map(|(mut f, e)| {
                    // Changed since the form was opened: saved again, the
                    // form is checked against the rule as it is now. Any
                    // other refusal keeps the version the form was opened
                    // with, so a change saved meanwhile is still caught.
                    if crate::web::form::changed_meanwhile(&e) {
                        f.version = rule.version.to_string();
                    }
                    f
                })
                .unwrap_or_else(|| RuleForm::from(&rule)),
            rule,
            versions,
            categories,
            periods: Period::ALL,
            errors,
        },
        status,
    )
}

pub async fn edit(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    code: web::Path<String>,
    form: CsrfForm<RuleForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::ManageRules)?;
    let code = code.into_inner();
    let mut f = form.0;
    f.code = code.clone();
    let typed = f.clone();
    let ctx = user.actor();
    let rule_code = code.clone();
    let result = form
        .1
        .run(&state, move |c| {
            // The edit names the version it was made on.
            let seen = Some(crate::web::form::seen_version(&f.version)?);
            let input = points::parse_rule_form(c, &f)?;
            Ok(points::edit_rule(c, &ctx, &rule_code, &input, seen)?)
        })
        .await;
    match result {
        Ok(r) => Ok(flash_ok(
            &req,
            "/rules",
            "flash.rule_edited",
            &[("code", r.code), ("version", r.version.to_string())],
        )),
        Err(AppError::Invalid(e)) => edit_page(req, user, state, code, Some((typed, e))).await,
        Err(e) => Err(e),
    }
}

#[derive(Deserialize, serde::Serialize)]
pub struct CategoryForm {
    #[serde(default)]
    name: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for CategoryForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "name" => "field.category",
            _ => return None,
        })
    }
}

pub async fn add_category(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<CategoryForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let ctx = user.actor();
    let f = form.0;
    let name = f.name.clone();
    let result = form
        .1
        .run(&state, move |c| Ok(points::add_category(c, &ctx, &name)?))
        .await
        .map(|cat| {
            flash_ok(
                &req,
                "/rules",
                "flash.category_created",
                &[("name", cat.name)],
            )
        });
    // A refusal comes back on the rulebook, the name typed beside its message.
    or_again(lang_of(&req), "category", &f, result, |r| {
        list_page(req, user, state, false, None, r)
    })
    .await
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for RuleForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "code" => "field.rule_code",
            "name" => "field.rule_name",
            "category_id" => "field.category",
            "points" => "field.points",
            "cap_count" => "field.cap_count",
            "cap_points" => "field.cap_points",
            "cap_period" => "field.cap_period",
            "valid_from" => "field.valid_from",
            "valid_to" => "field.valid_to",
            "active" => "field.active",
            _ => return None,
        })
    }
}
