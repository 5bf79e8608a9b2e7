use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::auth::Action;
use crate::domain::FieldError;
use crate::households::{self, HouseholdRow};
use crate::i18n::{self, Lang};
use crate::ledger::{self, StatementEntry, VerifyReport};
use crate::points::{self, adjustments, expiry};
use crate::settings::{self, Setting};
use crate::web::extract::{Filter, SentTwice, lang_of};
use crate::web::form::Refused;
use crate::web::page::{
    PageCtx, flash_field_error, flash_ok, or_flash, render, render_with_status,
};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, run};

/// One line of a household's statement.
pub struct Line {
    pub entry: StatementEntry,
    pub points: i64,
    pub balance: i64,
    pub who: String,
    pub what: String,
}

#[derive(Deserialize, Default, Clone)]
pub struct PeriodQuery {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for PeriodQuery {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "from" => "field.from",
            "to" => "field.to",
            _ => return None,
        })
    }
}

struct Statement {
    household: HouseholdRow,
    opening: i64,
    lines: Vec<Line>,
    closing: i64,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    /// The next points to expire, when points expire at all.
    upcoming: Option<expiry::Upcoming>,
}

async fn load_statement(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    id: String,
    q: &PeriodQuery,
) -> Result<Statement, AppError> {
    user.require(Action::ViewStatements)?;
    let id: crate::domain::HouseholdId = crate::error::path_id(&id)?;
    let from = points::parse_date("field.from", &q.from)?;
    let to = points::parse_date("field.to", &q.to)?;
    crate::domain::input::period_in_order(from, to)?;
    let actor = user.actor();
    let lang = lang_of(req);
    let today = crate::time::today(state.config.time_zone);
    run(state, move |c| {
        let household = households::find(c, &actor, &id)?;
        let upcoming = match expiry::Rule::of_scheme(c)? {
            Some(rule) => expiry::upcoming(c, rule, &id, today)?,
            None => None,
        };
        let (opening, entries) = ledger::statement(c, &id, from, to)?;
        let account = ledger::household_account(&id);
        let mut balance = opening;
        let lines = entries
            .into_iter()
            .map(|e| {
                let points = ledger::signed_for(&e, &account);
                balance += points;
                Line {
                    who: e.username.clone().unwrap_or_default(),
                    what: if e.kind() == Ok(ledger::Kind::Expiry) {
                        i18n::tf(
                            lang,
                            "ledger.expired_earned_by",
                            &[("date", e.memo.clone())],
                        )
                    } else {
                        e.rule_name.clone().unwrap_or_else(|| e.memo.clone())
                    },
                    points,
                    balance,
                    entry: e,
                }
            })
            .collect();
        Ok(Statement {
            household,
            opening,
            lines,
            closing: balance,
            from,
            to,
            upcoming,
        })
    })
    .await
}

#[derive(Template)]
#[template(path = "ledger/statement.html")]
struct StatementPage<'a> {
    ctx: &'a PageCtx,
    s: Statement,
    q: PeriodQuery,
    link: String,
    /// A period asked for that does not read (`"filter"`): what was typed,
    /// beside its message (422); the whole statement is shown meanwhile.
    refused: Refused,
}

pub async fn statement(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: Filter<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    let Filter(q, twice) = q;
    statement_page(req, user, state, id.into_inner(), q, twice.check().err()).await
}

/// The statement for period `q`; a period that does not read, or a field
/// of it sent twice (`twice`), is the filter form holding what was typed
/// with the message beside the field (422), the whole statement shown
/// meanwhile.
async fn statement_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: String,
    q: PeriodQuery,
    twice: Option<FieldError>,
) -> Result<HttpResponse, AppError> {
    let loaded = match twice {
        Some(e) => Err(AppError::Invalid(e)),
        None => load_statement(&req, &user, &state, id.clone(), &q).await,
    };
    let (s, q, refused) = match loaded {
        Ok(s) => (s, q, Refused::default()),
        Err(AppError::Invalid(e)) => {
            let whole = PeriodQuery::default();
            let s = load_statement(&req, &user, &state, id, &whole).await?;
            let typed = vec![("from".into(), q.from), ("to".into(), q.to)];
            let refused = Refused::of_pairs(lang_of(&req), "filter", typed, &e);
            (s, whole, refused)
        }
        Err(e) => return Err(e),
    };
    let link = serde_urlencoded::to_string([("from", q.from.as_str()), ("to", q.to.as_str())])
        .unwrap_or_default();
    let ctx = PageCtx::build(&req, Some(&user));
    let status = refused.status();
    render_with_status(
        &ctx,
        &StatementPage {
            ctx: &ctx,
            s,
            q,
            link,
            refused,
        },
        status,
    )
}

fn statement_rows(lang: Lang, s: &Statement) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let headers = vec![
        "ledger.date",
        "ledger.what",
        "ledger.kind",
        "field.username",
        "ledger.points",
        "ledger.balance",
    ];
    let mut rows = vec![vec![
        s.from.map(|d| d.to_string()).unwrap_or_default(),
        i18n::t(lang, "ledger.opening").to_string(),
        String::new(),
        String::new(),
        String::new(),
        s.opening.to_string(),
    ]];
    for l in &s.lines {
        rows.push(vec![
            l.entry.posted_on.to_string(),
            l.what.clone(),
            i18n::t(lang, l.entry.kind_key()).to_string(),
            l.who.clone(),
            l.points.to_string(),
            l.balance.to_string(),
        ]);
    }
    (headers, rows)
}

async fn statement_export(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: String,
    q: Filter<PeriodQuery>,
    xlsx: bool,
) -> Result<HttpResponse, AppError> {
    // A period that does not read (or sent twice) is the statement's
    // filter form with the message, never a bare error page.
    let Filter(q, twice) = q;
    let loaded = match twice.check() {
        Ok(()) => load_statement(&req, &user, &state, id.clone(), &q).await,
        Err(e) => Err(AppError::Invalid(e)),
    };
    let s = match loaded {
        Ok(s) => s,
        Err(AppError::Invalid(e)) => {
            return statement_page(req, user, state, id, q, Some(e)).await;
        }
        Err(e) => return Err(e),
    };
    let lang = lang_of(&req);
    let ctx = user.actor();
    run(&state, move |c| {
        Ok(crate::db::write_tx(c, |c| {
            crate::audit::record(
                c,
                &ctx,
                "statement.export",
                "household",
                &id,
                &crate::audit::Detail::new("export_as")
                    .arg("format", if xlsx { "XLSX" } else { "CSV" })
                    .to_string(),
            )
        })?)
    })
    .await?;
    let (headers, rows) = statement_rows(lang, &s);
    let headers: Vec<&str> = headers.iter().map(|k| i18n::t(lang, k)).collect();
    let name = format!(
        "statement-{}",
        s.household.card_no.clone().unwrap_or_default()
    );
    if xlsx {
        let bytes = crate::web::export::xlsx(i18n::t(lang, "ledger.statement"), &headers, &rows)
            .map_err(AppError::internal)?;
        Ok(crate::web::export::attachment(
            &format!("{name}.xlsx"),
            bytes,
        ))
    } else {
        Ok(crate::web::export::attachment(
            &format!("{name}.csv"),
            crate::web::export::csv(&headers, &rows),
        ))
    }
}

pub async fn statement_csv(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: Filter<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    statement_export(req, user, state, id.into_inner(), q, false).await
}

pub async fn statement_xlsx(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: Filter<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    statement_export(req, user, state, id.into_inner(), q, true).await
}

#[derive(Deserialize, serde::Serialize)]
pub struct AdjustForm {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    key: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for AdjustForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "amount" => "field.points",
            "reason" => "field.reason",
            _ => return None,
        })
    }
}

pub async fn adjust(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<AdjustForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::AdjustPoints)?;
    let id: crate::domain::HouseholdId = crate::error::path_id(&id)?;
    let back = format!("/households/{id}");
    let f = form.0;
    if f.key.trim().is_empty() {
        return Ok(flash_field_error(
            &req,
            &back,
            &FieldError::new("field.form", "error.form_expired"),
        ));
    }
    let tz = state.config.time_zone;
    let day = crate::time::today(tz);
    let actor = user.actor();
    let typed = serde_json::to_value(&f).unwrap_or_default();
    let household = id.clone();
    let result = form
        .1
        .run(&state, move |c| {
            let amount = match points::parse_points("field.points", &f.amount) {
                Ok(n) => n,
                // Said together with the reason's error, if any.
                Err(e) => {
                    let mut checks = crate::domain::FieldChecks::new();
                    checks.push(e);
                    if f.reason.trim().is_empty() {
                        checks.push(FieldError::new("field.reason", "error.required"));
                    }
                    checks.finish()?;
                    0
                }
            };
            Ok(adjustments::request(
                c, &actor, &id, amount, &f.reason, &f.key, day, tz,
            )?)
        })
        .await
        .map(|r| match r {
            adjustments::Requested::Posted => flash_ok(&req, &back, "flash.adjustment_posted", &[]),
            adjustments::Requested::AwaitingApproval => {
                flash_ok(&req, &back, "flash.adjustment_waiting", &[])
            }
        });
    super::households::or_again_on_household(req, user, state, household, "adjust", &typed, result)
        .await
}

#[derive(Template)]
#[template(path = "ledger/adjustments.html")]
struct AdjustmentsPage<'a> {
    ctx: &'a PageCtx,
    rows: Vec<(adjustments::Adjustment, String, String)>,
    my_id: String,
}

pub async fn adjustments_list(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::AdjustPoints)?;
    let rows = run(&state, |c| Ok(adjustments::pending(c)?)).await?;
    let ctx = PageCtx::build(&req, Some(&user));
    render(
        &ctx,
        &AdjustmentsPage {
            ctx: &ctx,
            rows,
            my_id: user.user.id.clone(),
        },
    )
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    decision: String,
    /// The version of the adjustment the admin saw.
    #[serde(default)]
    version: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for DecideForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "decision" => "field.decision",
            _ => return None,
        })
    }
}

pub async fn adjustment_decide(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<DecideForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::AdjustPoints)?;
    let id = id.into_inner();
    let approve = form.0.decision == "approve";
    let seen = crate::web::form::seen_version(&form.0.version);
    let day = crate::time::today(state.config.time_zone);
    let actor = user.actor();
    let result = form
        .1
        .run(&state, move |c| {
            Ok(adjustments::decide_seen(
                c,
                &actor,
                &id,
                approve,
                Some(seen?),
                day,
            )?)
        })
        .await
        .map(|_| {
            flash_ok(
                &req,
                "/adjustments",
                if approve {
                    "flash.adjustment_posted"
                } else {
                    "flash.adjustment_rejected"
                },
                &[],
            )
        });
    or_flash(&req, "/adjustments", result)
}

#[derive(Template)]
#[template(path = "ledger/verify.html")]
struct VerifyPage<'a> {
    ctx: &'a PageCtx,
    report: VerifyReport,
    /// Whether every redemption, donation and stocktake agrees with both ledgers.
    workflows: crate::stock::agree::AgreeReport,
}

pub async fn verify(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::VerifyLedger)?;
    let ctx_a = user.actor();
    let report = run(&state, move |c| {
        let r = ledger::verify(c)?;
        crate::db::write_tx(c, |c| {
            ledger::record_verify(c, &r)?;
            crate::audit::record(
                c,
                &ctx_a,
                "ledger.verify",
                "ledger",
                "points",
                &crate::audit::Detail::new("verified")
                    .word("result", crate::audit::ok_word(r.ok()))
                    .to_string(),
            )
        })?;
        Ok(r)
    })
    .await?;
    let workflows = run(&state, |c| Ok(crate::stock::agree::check_workflows(c)?)).await?;
    let ctx = PageCtx::build(&req, Some(&user));
    render(
        &ctx,
        &VerifyPage {
            ctx: &ctx,
            report,
            workflows,
        },
    )
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage<'a> {
    ctx: &'a PageCtx,
    values: Vec<(Setting, i64)>,
    /// The refused form (`"settings"`), if any.
    refused: crate::web::form::Refused,
}

pub async fn settings_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    settings_shown(req, user, state, Default::default()).await
}

/// The settings; `refused` shows refused values again (422).
async fn settings_shown(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    refused: crate::web::form::Refused,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ManageSettings)?;
    let values = run(&state, |c| {
        let mut v = Vec::new();
        for s in settings::ALL {
            v.push((*s, settings::get(c, *s)?));
        }
        Ok(v)
    })
    .await?;
    let ctx = PageCtx::build(&req, Some(&user));
    let status = refused.status();
    crate::web::page::render_with_status(
        &ctx,
        &SettingsPage {
            ctx: &ctx,
            values,
            refused,
        },
        status,
    )
}

/// A setting's label, for its value and for the value the form showed
/// (`seen.<key>`) alike.
fn settings_label(name: &str) -> Option<&'static str> {
    let key = name.strip_prefix("seen.").unwrap_or(name);
    settings::ALL
        .iter()
        .find(|s| s.key == key)
        .map(|s| s.label_key())
}

pub async fn settings_save(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::ManageSettings)?;
    let (form, read) = (form.0, form.1);
    let twice = SentTwice::among(&form, &[], settings_label).with_spoiled(read);
    let typed = form.clone();
    let ctx = user.actor();
    let result = twice
        .run(&state, move |c| {
            // Every value is checked, so all that is wrong shows at once.
            let mut checks = crate::domain::FieldChecks::new();
            let mut parsed = Vec::new();
            for s in settings::ALL {
                let text = form
                    .iter()
                    .find(|(k, _)| k == s.key)
                    .map(|(_, v)| v.as_str());
                let value = match text {
                    Some(t) => checks.take(settings::parse(*s, t)),
                    // An unticked checkbox is not sent; a number left out of the
                    // form (an older page) keeps its value.
                    None if s.is_bool() => Some(0),
                    None => Some(settings::get(c, *s)?),
                };
                // The value the form showed, required (the page shows every
                // setting): missing, or not a number (an old page, a
                // hand-made request), is refused beside its setting and
                // nothing is saved.
                let seen = form
                    .iter()
                    .find(|(k, _)| k.strip_prefix("seen.") == Some(s.key))
                    .and_then(|(_, v)| v.trim().parse::<i64>().ok());
                let seen =
                    checks.take(seen.ok_or_else(|| {
                        FieldError::new(s.label_key(), "error.seen_version_missing")
                    }));
                if let (Some(value), Some(seen)) = (value, seen) {
                    parsed.push((*s, value, Some(seen)));
                }
            }
            checks.finish()?;
            let values: Vec<_> = parsed.iter().map(|(s, v, _)| (*s, *v)).collect();
            settings::check_together(&values)?;
            // Each value names the value the form showed, so a change someone
            // else made meanwhile is kept or refused, never overwritten.
            let typed: Vec<settings::Typed> = parsed
                .into_iter()
                .map(|(s, value, seen)| settings::Typed {
                    setting: s,
                    value,
                    seen,
                })
                .collect();
            settings::save_form(c, &ctx, &typed)?;
            Ok(())
        })
        .await
        .map(|_| flash_ok(&req, "/settings", "flash.settings_saved", &[]));
    match result {
        Err(AppError::Invalid(e)) => {
            let lang = crate::web::extract::lang_of(&req);
            let refused = crate::web::form::Refused::of_pairs(lang, "settings", typed, &e);
            settings_shown(req, user, state, refused).await
        }
        other => other,
    }
}
