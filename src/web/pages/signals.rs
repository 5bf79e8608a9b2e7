//! The integrity signals (admins and auditors): on screen, printed on A4 with
//! signature lines, as XLSX, and the "looked into" mark.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::areas::Area;
use crate::domain::FieldError;
use crate::i18n::{self, Lang};
use crate::signals::marks::{self, MarkForm};
use crate::signals::{self, Report, SignalsQuery, Viewer};
use crate::web::export::Sheet;
use crate::web::extract::{Filter, lang_of};
use crate::web::form::Refused;
use crate::web::page::{PageCtx, flash_ok, render, render_with_status};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, run};

/// Findings shown per signal on the page (the XLSX has them all).
const SHOWN: usize = 20;
/// Rows shown per finding.
const ROWS_SHOWN: usize = 8;

async fn load(
    user: &CurrentUser,
    state: &AppState,
    q: SignalsQuery,
) -> Result<(Report, Vec<Area>), AppError> {
    let (user_id, role, scope, lang) = (
        user.user.id.clone(),
        user.role(),
        user.scope.clone(),
        user.lang,
    );
    let tz = state.config.time_zone;
    let key = state.key.clone();
    run(state, move |c| {
        let viewer = Viewer {
            user_id: &user_id,
            role,
            scope: &scope,
            lang,
        };
        Ok(signals::for_viewer(c, &viewer, tz, &key, &q)?)
    })
    .await
}

/// A mark form sent back with what was wrong, and what was typed.
struct MarkError {
    kind: String,
    subject: String,
    note: String,
    message: String,
}

#[derive(Template)]
#[template(path = "signals/page.html")]
struct SignalsPage<'a> {
    ctx: &'a PageCtx,
    r: Report,
    areas: Vec<Area>,
    printed_at: String,
    printed_by: String,
    query: String,
    can_mark: bool,
    shown: usize,
    rows_shown: usize,
    error: Option<MarkError>,
    /// A month or area asked for that does not read (`"filter"`): what was
    /// typed, beside its message (422), over this month's signals.
    filter: Refused,
}

impl SignalsPage<'_> {
    fn top<'b>(&self, findings: &'b [signals::Finding]) -> &'b [signals::Finding] {
        &findings[..findings.len().min(self.shown)]
    }

    fn top_rows<'b>(&self, rows: &'b [signals::RowRef]) -> &'b [signals::RowRef] {
        &rows[..rows.len().min(self.rows_shown)]
    }

    fn typed_note(&self, kind: &str, subject: &str) -> &str {
        match &self.error {
            Some(e) if e.kind == kind && e.subject == subject => &e.note,
            _ => "",
        }
    }

    fn error_for(&self, kind: &str, subject: &str) -> Option<&str> {
        match &self.error {
            Some(e) if e.kind == kind && e.subject == subject => Some(&e.message),
            _ => None,
        }
    }
}

/// A 12-month sparkline as inline SVG (numbers only, no text from users).
pub fn sparkline(trend: &[usize]) -> String {
    let (w, h) = (120.0, 24.0);
    let max = trend.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = if trend.len() > 1 {
        w / (trend.len() - 1) as f64
    } else {
        w
    };
    let points: Vec<String> = trend
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                h - 2.0 - (*v as f64 / max) * (h - 4.0)
            )
        })
        .collect();
    let last = trend.last().copied().unwrap_or(0);
    format!(
        "<svg class=\"sparkline\" viewBox=\"-2 0 {vw} {h}\" width=\"{vw}\" height=\"{h}\" role=\"img\" aria-label=\"{label}\"><polyline fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.5\" points=\"{pts}\"/><circle r=\"2\" cx=\"{cx:.1}\" cy=\"{cy:.1}\" fill=\"currentColor\"/></svg>",
        vw = w + 4.0,
        label = trend
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(" "),
        pts = points.join(" "),
        cx = (trend.len().max(1) - 1) as f64 * step,
        cy = h - 2.0 - (last as f64 / max) * (h - 4.0),
    )
}

fn query_of(r: &Report) -> String {
    serde_urlencoded::to_string([("month", r.month.to_string()), ("area", r.area_id.clone())])
        .unwrap_or_default()
}

async fn page_with(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    q: SignalsQuery,
    error: Option<MarkError>,
) -> Result<HttpResponse, AppError> {
    page_filtered(req, user, state, q, None, error).await
}

/// The report for `q`; a month or area that does not read, or a filter
/// field sent twice (`twice`), is the filter form holding what was typed
/// with the message beside the field (422), the default report shown.
async fn page_filtered(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    q: SignalsQuery,
    twice: Option<FieldError>,
    error: Option<MarkError>,
) -> Result<HttpResponse, AppError> {
    let ctx = PageCtx::build(req, Some(user));
    let typed = vec![
        ("month".to_string(), q.month.clone()),
        ("area".to_string(), q.area.clone()),
    ];
    let loaded = match twice {
        Some(e) => Err(AppError::Invalid(e)),
        None => load(user, state, q).await,
    };
    let (r, areas, filter) = match loaded {
        Ok((r, areas)) => (r, areas, Refused::default()),
        Err(AppError::Invalid(e)) => {
            let (r, areas) = load(user, state, SignalsQuery::default()).await?;
            (r, areas, Refused::of_pairs(ctx.lang, "filter", typed, &e))
        }
        Err(e) => return Err(e),
    };
    let status = if error.is_some() || filter.is("filter") {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = SignalsPage {
        ctx: &ctx,
        printed_at: crate::time::format_local(crate::db::now(), state.config.time_zone),
        printed_by: user.user.shown_name().to_string(),
        query: query_of(&r),
        can_mark: user.can(crate::auth::Action::MarkSignals),
        shown: SHOWN,
        rows_shown: ROWS_SHOWN,
        r,
        areas,
        error,
        filter,
    };
    if status == StatusCode::OK {
        render(&ctx, &page)
    } else {
        render_with_status(&ctx, &page, status)
    }
}

/// The filter's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for SignalsQuery {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "month" => "field.month",
            "area" => "field.report_area",
            _ => return None,
        })
    }

    fn holds_id(name: &str) -> bool {
        matches!(name, "area")
    }
}

pub async fn page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: Filter<SignalsQuery>,
) -> Result<HttpResponse, AppError> {
    let Filter(q, twice) = q;
    page_filtered(&req, &user, &state, q, twice.check().err(), None).await
}

/// The report as sheets: a summary, then one sheet per signal with findings.
pub fn sheets(lang: Lang, r: &Report) -> Vec<Sheet> {
    let t = |k: &str| i18n::t(lang, k).to_string();
    let mut out = vec![Sheet {
        name: t("signals.summary"),
        headers: vec![
            t("signals.signal"),
            t("signals.findings"),
            t("signals.handled"),
            t("signals.trend"),
        ],
        rows: r
            .signals
            .iter()
            .map(|s| {
                vec![
                    t(&s.kind.label_key()),
                    s.findings.len().to_string(),
                    s.handled().to_string(),
                    s.trend
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(" "),
                ]
            })
            .collect(),
    }];
    for s in r.signals.iter().filter(|s| !s.findings.is_empty()) {
        out.push(Sheet {
            name: t(&s.kind.label_key()),
            headers: vec![
                t("signals.rank"),
                t("signals.subject"),
                t("signals.score"),
                t("signals.detail"),
                t("signals.rows"),
                t("signals.handled"),
            ],
            rows: s
                .findings
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    vec![
                        (i + 1).to_string(),
                        f.subject_label.clone(),
                        format!("{:.2}", f.score),
                        f.detail.clone(),
                        f.rows
                            .iter()
                            .map(|r| r.label.clone())
                            .collect::<Vec<_>>()
                            .join("; "),
                        f.mark
                            .as_ref()
                            .map(|m| format!("{}: {}", m.marked_by, m.note))
                            .unwrap_or_default(),
                    ]
                })
                .collect(),
        });
    }
    out
}

pub async fn xlsx(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: Filter<SignalsQuery>,
) -> Result<HttpResponse, AppError> {
    // A filter that does not read (or sent twice) is the page's filter
    // form with the message, never a bare error page.
    let Filter(q, twice) = q;
    let loaded = match twice.check() {
        Ok(()) => load(&user, &state, q.clone()).await,
        Err(e) => Err(AppError::Invalid(e)),
    };
    let r = match loaded {
        Ok((r, _)) => r,
        Err(AppError::Invalid(e)) => {
            return page_filtered(&req, &user, &state, q, Some(e), None).await;
        }
        Err(e) => return Err(e),
    };
    let body = crate::web::export::xlsx_sheets(&sheets(lang_of(&req), &r), None)
        .map_err(AppError::internal)?;
    // Area ids are ASCII; names may not be, so the file is named by id.
    let name = format!("signals-{}-{}.xlsx", r.month, r.area_id);
    Ok(crate::web::export::attachment(&name, body))
}

/// Mark a finding as looked into; back to the page, or the page again with
/// the note typed and the reason beside it.
pub async fn mark(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<MarkForm>,
) -> Result<HttpResponse, AppError> {
    let (form, twice) = form.checked();
    let actor = user.actor();
    let f = form.clone();
    let result = twice
        .run(&state, move |c| Ok(marks::mark(c, &actor, &f)?))
        .await;
    let q = SignalsQuery {
        month: form.month.clone(),
        area: form.area.clone(),
    };
    match result {
        Ok(()) => {
            let back = crate::web::page::next_page(
                "/signals",
                &[
                    ("month", crate::web::page::Carry::Month(&form.month)),
                    ("area", crate::web::page::Carry::Id(&form.area)),
                ],
            );
            Ok(flash_ok(&req, &back, "flash.signal_marked", &[]))
        }
        Err(AppError::Invalid(e)) => {
            let message = i18n::field_error(lang_of(&req), &e);
            let error = MarkError {
                kind: form.kind.clone(),
                subject: form.subject.clone(),
                note: form.note.clone(),
                message,
            };
            // A month or area that does not read shows this month's page.
            let q = if crate::time::Month::parse(&q.month).is_ok() {
                q
            } else {
                SignalsQuery::default()
            };
            match page_with(&req, &user, &state, q, Some(error)).await {
                Err(AppError::Invalid(_)) => {
                    page_with(&req, &user, &state, SignalsQuery::default(), None).await
                }
                other => other,
            }
        }
        Err(e) => Err(e),
    }
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for MarkForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "note" => "field.signal_note",
            _ => return None,
        })
    }
}
