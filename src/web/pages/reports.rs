//! The monthly summary (月度汇总): on screen, printed, and as CSV and XLSX.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::areas::Area;
use crate::auth::Action;
use crate::domain::FieldError;
use crate::i18n::{self, Lang};
use crate::reports::{self, Month, Summary};
use crate::web::export::Sheet;
use crate::web::extract::{Filter, lang_of};
use crate::web::form::{Refused, or_again};
use crate::web::page::{PageCtx, flash_ok, render_with_status};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, run};

pub use crate::reports::scoped::MonthlyQuery;

/// The summary asked for, within the user's scope (the one check is
/// `reports::scoped::monthly_for`).
pub(crate) async fn load(
    user: &crate::web::extract::Authed,
    state: &AppState,
    q: &MonthlyQuery,
) -> Result<(Summary, Vec<Area>), AppError> {
    let actor = user.actor();
    let tz = state.config.time_zone;
    let q = q.clone();
    run(state, move |c| {
        Ok(reports::scoped::monthly_for(c, &actor, tz, &q)?)
    })
    .await
}

#[derive(Template)]
#[template(path = "reports/monthly.html")]
struct MonthlyPage<'a> {
    ctx: &'a PageCtx,
    s: Summary,
    areas: Vec<Area>,
    printed_at: String,
    printed_by: String,
    query: String,
    /// The month can be closed here (an admin, an area's summary, the
    /// month over) or reopened (it is closed).
    can_close: bool,
    /// Stores in the area shown, for their own summaries.
    stores: Vec<crate::stores::StoreRow>,
    /// A refused reopening (`"reopen"`), with the reason typed.
    refused: Refused,
    /// The 12-month trend chart (SVG drawn here, no user text inside).
    trend_svg: String,
}

pub async fn monthly(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: Filter<MonthlyQuery>,
) -> Result<HttpResponse, AppError> {
    let Filter(q, twice) = q;
    monthly_page(req, user, state, q, twice.check().err(), Refused::default()).await
}

/// The summary; `refused` shows a refused reopening again (422, or 409),
/// its reason kept. A month, area or store asked for that does not read,
/// or a filter field sent twice (`twice`), shows the filter form
/// (`"filter"`) holding what was typed, the message beside its field
/// (422), and no month's figures.
async fn monthly_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: MonthlyQuery,
    twice: Option<FieldError>,
    refused: Refused,
) -> Result<HttpResponse, AppError> {
    let loaded = match twice {
        Some(e) => Err(AppError::Invalid(e)),
        None => load(&user, &state, &q).await,
    };
    let (s, areas, refused) = match loaded {
        Ok((s, areas)) => (s, areas, refused),
        Err(AppError::Invalid(e)) => {
            let (s, areas) = load(&user, &state, &MonthlyQuery::default()).await?;
            let refused = if refused.errors.is_empty() {
                let typed = vec![
                    ("month".to_string(), q.month.clone()),
                    ("area_id".to_string(), q.area_id.clone()),
                    ("store_id".to_string(), q.store_id.clone()),
                ];
                Refused::of_pairs(lang_of(&req), "filter", typed, &e)
            } else {
                refused
            };
            (s, areas, refused)
        }
        Err(e) => return Err(e),
    };
    let scope = user.scope.clone();
    let area_path = areas
        .iter()
        .find(|a| a.id == s.area_id)
        .map(|a| a.path.clone());
    let stores = run(&state, move |c| Ok(crate::stores::list(c)?))
        .await?
        .into_iter()
        .filter(|st| {
            scope.covers_store(&st.store.id, &st.area_path)
                && area_path
                    .as_deref()
                    .is_some_and(|p| st.area_path.starts_with(p))
        })
        .collect();
    let today = crate::time::today(state.config.time_zone);
    let ctx = PageCtx::build(&req, Some(&user));
    let printed_at = crate::time::format_local(crate::db::now(), state.config.time_zone);
    let query = match &s.store_id {
        Some(id) => format!("month={}&store_id={id}", s.month),
        None => format!("month={}&area_id={}", s.month, s.area_id),
    };
    let status = refused.status();
    render_with_status(
        &ctx,
        &MonthlyPage {
            ctx: &ctx,
            printed_by: user.user.shown_name().to_string(),
            can_close: user.can(Action::CloseMonths)
                && s.store_id.is_none()
                && (s.closed.is_some()
                    || s.month.end_day() <= today
                    || refused.is("reopen")
                    || refused.is("close")),
            stores,
            trend_svg: if s.trend.is_empty() {
                String::new()
            } else {
                let lang = ctx.lang;
                reports::trend::svg(
                    &s.trend,
                    &reports::trend::Labels {
                        awarded: i18n::t(lang, "reports.trend_awarded"),
                        redeemed: i18n::t(lang, "reports.trend_redeemed"),
                        taking_part: i18n::t(lang, "reports.trend_taking_part"),
                    },
                )
            },
            s,
            areas,
            printed_at,
            query,
            refused,
        },
        status,
    )
}

/// The summary as named tables (a sheet each): translated headers, then rows.
pub fn sections(lang: Lang, s: &Summary) -> Vec<Sheet> {
    let t = |k: &str| i18n::t(lang, k).to_string();
    let n = |v: i64| v.to_string();
    let p = &s.points;
    let mut out = Vec::new();
    let whole_area = s.store_id.is_none();
    let mut points = vec![
        vec![t("reports.opening"), String::new(), n(p.opening)],
        vec![t("reports.awarded"), String::new(), n(p.awarded)],
    ];
    for c in &p.by_category {
        points.push(vec![format!("  {}", c.name), n(c.n), n(c.points)]);
    }
    points.extend([
        vec![t("reports.deducted"), String::new(), n(p.deducted)],
        vec![t("reports.reversed"), String::new(), n(p.reversed)],
        vec![t("reports.adjusted"), String::new(), n(p.adjusted)],
        vec![t("reports.moved"), String::new(), n(p.moved)],
        vec![t("reports.redeemed"), String::new(), n(p.redeemed)],
        vec![t("reports.expired"), String::new(), n(p.expired)],
        vec![t("reports.closing"), String::new(), n(p.closing)],
        vec![t("reports.proposed"), n(p.proposed), String::new()],
        vec![t("reports.approved"), n(p.approved), String::new()],
        vec![t("reports.rejected"), n(p.rejected), String::new()],
    ]);
    if whole_area {
        out.push(sheet(
            t("reports.points"),
            vec![
                t("reports.item"),
                t("reports.count"),
                t("reports.points_col"),
            ],
            points,
        ));
        let h = &s.households;
        let households = vec![
            vec![t("reports.registered"), n(h.registered)],
            vec![t("reports.taking_part"), n(h.taking_part)],
            vec![t("reports.first_time"), n(h.first_time)],
            vec![t("reports.inactive"), n(h.inactive_count())],
        ];
        out.push(sheet(
            t("reports.households"),
            vec![t("reports.item"), t("reports.count")],
            households,
        ));
        // The quiet households, one each, as the page lists them.
        out.push(sheet(
            t("reports.inactive_sheet"),
            vec![
                t("field.head_name"),
                t("reports.village"),
                t("reports.last_active"),
            ],
            h.inactive
                .iter()
                .map(|i| {
                    vec![
                        i.head_name.clone(),
                        i.village_in(lang),
                        i.last_active.clone().unwrap_or_else(|| t("reports.never")),
                    ]
                })
                .collect(),
        ));
    }
    let r = &s.redemptions;
    let mut red = vec![vec![
        t("reports.all_stores"),
        n(r.count),
        n(r.points),
        n(r.households),
    ]];
    for st in &r.by_store {
        red.push(vec![st.name.clone(), n(st.n), n(st.points), String::new()]);
    }
    out.push(sheet(
        t("reports.redemptions"),
        vec![
            t("reports.store"),
            t("reports.count"),
            t("reports.points_col"),
            t("reports.distinct_households"),
        ],
        red,
    ));
    out.push(sheet(
        t("reports.top_goods"),
        vec![
            t("reports.goods"),
            t("reports.quantity"),
            t("reports.points_col"),
        ],
        r.top_goods
            .iter()
            .map(|g| vec![g.name.clone(), n(g.n), n(g.points)])
            .collect(),
    ));
    out.push(sheet(
        t("reports.goods_section"),
        [
            "reports.store",
            "reports.goods",
            "reports.stock_opening",
            "reports.donated",
            "reports.bought",
            "reports.moved_in",
            "reports.redeemed_goods",
            "reports.moved_out",
            "reports.written_off",
            "reports.counted",
            "reports.stock_closing",
        ]
        .iter()
        .map(|k| t(k))
        .collect(),
        s.goods
            .iter()
            .map(|g| {
                vec![
                    g.store_name.clone(),
                    format!("{}{}{}{}", g.item_name, t("p.open"), g.unit, t("p.close")),
                    n(g.opening),
                    n(g.donated),
                    n(g.bought),
                    n(g.moved_in),
                    n(g.redeemed),
                    n(g.moved_out),
                    n(g.written_off),
                    n(g.counted),
                    n(g.closing),
                ]
            })
            .collect(),
    ));
    let d = &s.donations;
    let mut donations: Vec<Vec<String>> = d
        .by_kind
        .iter()
        .map(|k| vec![t(k.donor_kind_key()), n(k.n), reports::yuan(k.points)])
        .collect();
    donations.push(vec![
        t("reports.total"),
        n(d.count),
        reports::yuan(d.money_fen + d.goods_value_fen),
    ]);
    donations.push(vec![
        t("reports.money"),
        String::new(),
        reports::yuan(d.money_fen),
    ]);
    donations.push(vec![
        t("reports.goods_value"),
        String::new(),
        reports::yuan(d.goods_value_fen),
    ]);
    out.push(sheet(
        t("reports.donations"),
        vec![
            t("reports.donor_kind"),
            t("reports.count"),
            t("reports.value_yuan"),
        ],
        donations,
    ));
    out.push(sheet(
        t("reports.top_donors"),
        vec![
            t("reports.donor"),
            t("reports.count"),
            t("reports.value_yuan"),
        ],
        d.top_donors
            .iter()
            .map(|o| vec![o.name.clone(), n(o.n), reports::yuan(o.points)])
            .collect(),
    ));
    let mut bd: Vec<Vec<String>> = s
        .breakdown
        .iter()
        .map(|b| {
            vec![
                b.name.clone(),
                n(b.opening),
                n(b.awarded),
                n(b.redeemed),
                n(b.other()),
                n(b.closing),
            ]
        })
        .collect();
    if !bd.is_empty() {
        bd.push(vec![
            t("reports.total"),
            n(p.opening),
            n(p.awarded),
            n(p.redeemed),
            n(p.closing - p.opening - p.awarded - p.redeemed),
            n(p.closing),
        ]);
    }
    if whole_area {
        out.push(sheet(
            t("reports.breakdown"),
            vec![
                t("reports.area"),
                t("reports.opening"),
                t("reports.awarded"),
                t("reports.redeemed"),
                t("reports.other_changes"),
                t("reports.closing"),
            ],
            bd,
        ));
    }
    out
}

/// The file's name: the report, its area (or store) and its month, e.g.
/// `月度汇总-凤山街道-2026-11.csv`.
fn file_name(lang: Lang, s: &Summary, ext: &str) -> String {
    use crate::web::export::name_part;
    format!(
        "{}-{}-{}.{ext}",
        name_part(i18n::t(lang, "reports.title")),
        name_part(&s.area_name),
        s.month
    )
}

/// The row above everything: the report, its area (or store) and month.
fn title_row(lang: Lang, s: &Summary) -> Vec<String> {
    vec![
        i18n::t(lang, "reports.title").to_string(),
        format!(
            "{}{}{}",
            i18n::t(lang, "reports.area"),
            i18n::t(lang, "p.colon"),
            s.area_name
        ),
        format!(
            "{}{}{}",
            i18n::t(lang, "reports.month"),
            i18n::t(lang, "p.colon"),
            s.month
        ),
    ]
}

/// The summary an export asks for (`Ok`); when its filter is refused (a
/// month that does not read, a field sent twice ...), the page's filter
/// form with the message beside the field instead (`Err`, 422).
async fn export_summary(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: Filter<MonthlyQuery>,
) -> Result<Result<Summary, HttpResponse>, AppError> {
    let Filter(q, twice) = q;
    let refused = match twice.check() {
        Ok(()) => match load(&user, &state, &q).await {
            Ok((s, _)) => return Ok(Ok(s)),
            Err(AppError::Invalid(e)) => e,
            Err(e) => return Err(e),
        },
        Err(e) => e,
    };
    let page = monthly_page(req, user, state, q, Some(refused), Refused::default()).await?;
    Ok(Err(page))
}

/// The summary as one CSV: a title row (report, area, month), then each
/// section's name, its header and its rows, one record per row, and a
/// blank line between sections.
pub async fn monthly_csv(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: Filter<MonthlyQuery>,
) -> Result<HttpResponse, AppError> {
    let s = match export_summary(req.clone(), user, state, q).await? {
        Ok(s) => s,
        Err(page) => return Ok(page),
    };
    let lang = lang_of(&req);
    let mut rows: Vec<Vec<String>> = vec![Vec::new()];
    for sheet in sections(lang, &s) {
        rows.push(vec![sheet.name]);
        rows.push(sheet.headers);
        rows.extend(sheet.rows);
        rows.push(Vec::new());
    }
    rows.pop();
    let title = title_row(lang, &s);
    let title: Vec<&str> = title.iter().map(String::as_str).collect();
    let body = crate::web::export::csv(&title, &rows);
    Ok(crate::web::export::attachment(
        &file_name(lang, &s, "csv"),
        body,
    ))
}

/// The summary as a workbook: a sheet per section, each under the title.
pub async fn monthly_xlsx(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: Filter<MonthlyQuery>,
) -> Result<HttpResponse, AppError> {
    let s = match export_summary(req.clone(), user, state, q).await? {
        Ok(s) => s,
        Err(page) => return Ok(page),
    };
    let lang = lang_of(&req);
    let sheets = sections(lang, &s);
    let title = title_row(lang, &s).join(" ");
    let body =
        crate::web::export::xlsx_sheets(&sheets, Some(&title)).map_err(AppError::internal)?;
    Ok(crate::web::export::attachment(
        &file_name(lang, &s, "xlsx"),
        body,
    ))
}

fn sheet(name: String, headers: Vec<String>, rows: Vec<Vec<String>>) -> Sheet {
    Sheet {
        name,
        headers,
        rows,
    }
}

#[derive(Deserialize, serde::Serialize)]
pub struct CloseForm {
    #[serde(default)]
    pub month: String,
    #[serde(default)]
    pub area_id: String,
    #[serde(default)]
    pub reason: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for CloseForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "month" => "field.month",
            "area_id" => "field.report_area",
            "reason" => "field.reason",
            _ => return None,
        })
    }
}

fn back_to(f: &CloseForm) -> String {
    crate::web::page::next_page(
        "/reports/monthly",
        &[
            ("month", crate::web::page::Carry::Month(&f.month)),
            ("area_id", crate::web::page::Carry::Id(&f.area_id)),
        ],
    )
}

/// Close a month: nothing can be dated into it afterwards.
pub async fn close_month(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<CloseForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::CloseMonths)?;
    let (form, twice) = form.checked();
    let back = back_to(&form);
    let ctx = user.actor();
    let user_id = user.user.id.clone();
    let today = crate::time::today(state.config.time_zone);
    let result = async {
        let month = Month::parse(&form.month)?;
        summary_area(&form.area_id)?;
        twice
            .run(&state, move |c| {
                Ok(reports::close::close(c, &ctx, &user_id, month, today)?)
            })
            .await?;
        Ok(flash_ok(
            &req,
            &back,
            "flash.month_closed",
            &[("month", month.to_string())],
        ))
    }
    .await;
    // A refusal (a month not yet over, closed already ...) comes back on
    // the summary, beside the close button (422, or 409 for a conflict).
    let q = MonthlyQuery {
        month: form.month.clone(),
        area_id: form.area_id.clone(),
        store_id: String::new(),
    };
    or_again(lang_of(&req), "close", &form, result, |r| {
        monthly_page(req, user, state, q, None, r)
    })
    .await
}

/// The summary a close or reopen form came from: empty (the scheme's
/// whole area), or an area's id; text that is no id is refused on the
/// area field and nothing is closed or reopened.
fn summary_area(area_id: &str) -> Result<(), crate::domain::FieldError> {
    let area = area_id.trim();
    if area.is_empty() || uuid::Uuid::try_parse(area).is_ok() {
        Ok(())
    } else {
        Err(crate::domain::FieldError::new(
            "field.report_area",
            "error.area_unknown",
        ))
    }
}

/// Reopen a closed month, with a reason; a refusal comes back on the
/// summary with the reason typed.
pub async fn reopen_month(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<CloseForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::CloseMonths)?;
    let (form, twice) = form.checked();
    let back = back_to(&form);
    let ctx = user.actor();
    let result = async {
        let month = Month::parse(&form.month)?;
        summary_area(&form.area_id)?;
        let reason = form.reason.clone();
        twice
            .run(&state, move |c| {
                Ok(reports::close::reopen(c, &ctx, month, &reason)?)
            })
            .await?;
        Ok(flash_ok(
            &req,
            &back,
            "flash.month_reopened",
            &[("month", month.to_string())],
        ))
    }
    .await;
    let q = MonthlyQuery {
        month: form.month.clone(),
        area_id: form.area_id.clone(),
        store_id: String::new(),
    };
    or_again(lang_of(&req), "reopen", &form, result, |r| {
        monthly_page(req, user, state, q, None, r)
    })
    .await
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for MonthlyQuery {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "month" => "field.month",
            "area_id" => "field.report_area",
            "store_id" => "field.report_store",
            _ => return None,
        })
    }

    fn holds_id(name: &str) -> bool {
        matches!(name, "area_id" | "store_id")
    }
}
