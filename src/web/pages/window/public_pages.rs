//! The pages anyone may read: the notice, the honour roll and black list,
//! the shelves and the rulebook, each behind the public gate.

use super::*;

/// Public pages may be kept by the browser and proxies for a few minutes.
fn public_page(mut res: HttpResponse) -> HttpResponse {
    if res.status().is_success() {
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("public, max-age=300"),
        );
    }
    res
}

/// The public pages' rate limit: so many requests per client address and
/// minute (`Config::public_per_minute`), counted in the database so that it
/// holds across app servers (`auth::throttle`). Some(answer) when over it:
/// 429 with a plain page and Retry-After.
async fn public_gate(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<HttpResponse>, AppError> {
    let ip = request_info(req).ip;
    let max = state.config.public_per_minute;
    let ok = run(state, move |c| {
        let limit = crate::auth::throttle::Limit {
            key: format!("public:{ip}"),
            max,
        };
        Ok(crate::auth::throttle::take_within(
            c,
            &[limit],
            chrono::Duration::minutes(1),
            crate::db::now(),
        )?)
    })
    .await?;
    if ok {
        return Ok(None);
    }
    let ctx = ctx_of(req).await?;
    let mut res = render_with_status(&ctx, &BusyPage { ctx: &ctx }, StatusCode::TOO_MANY_REQUESTS)?;
    res.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
    Ok(Some(res))
}

#[derive(Template)]
#[template(path = "window/busy.html")]
struct BusyPage<'a> {
    ctx: &'a PageCtx,
}

#[derive(Deserialize, Default)]
pub struct PeriodQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    month: String,
    #[serde(default)]
    village: String,
}

/// The filter's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for PeriodQuery {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "from" => "field.from",
            "to" => "field.to",
            "month" => "field.month",
            "village" => "field.village",
            _ => return None,
        })
    }

    fn holds_id(name: &str) -> bool {
        matches!(name, "village")
    }
}

#[derive(Template)]
#[template(path = "window/notice.html")]
struct NoticePage<'a> {
    ctx: &'a PageCtx,
    n: public::Notice,
    outcomes: Vec<objections::Outcome>,
}

#[derive(Template)]
#[template(path = "window/pick.html")]
struct PickPage<'a> {
    ctx: &'a PageCtx,
    towns: Vec<public::TownVillages>,
    /// "notice" or "honours": where the choice leads.
    target: &'static str,
    village: String,
    from: String,
    to: String,
    month: String,
    /// The filter refused: each message beside its field.
    errors: crate::web::form::FormErrors,
}

/// The longest period one notice shows, in days (one month's notice).
pub const NOTICE_SPAN_DAYS: i64 = 31;

/// The period a notice is asked for: this month so far when nothing is
/// given. The notice is what is on notice now, not the village's history:
/// a period starts no earlier than the first day of last month (the last
/// notice a household may still be reading), ends no later than today and
/// spans at most [`NOTICE_SPAN_DAYS`]. Anything else, or a date that cannot
/// be, is an error naming the field, never quietly replaced.
fn notice_period(
    q: &PeriodQuery,
    today: chrono::NaiveDate,
) -> Result<(chrono::NaiveDate, chrono::NaiveDate), FieldError> {
    let (month_start, _) = points::Period::Month.window(today);
    let (earliest, _) = points::Period::Month.window(month_start - chrono::Duration::days(1));
    let date = crate::domain::input::parse_optional_date;
    let from = date("field.from", &q.from)?.unwrap_or(month_start);
    let to = date("field.to", &q.to)?.unwrap_or(today);
    if from < earliest {
        return Err(FieldError::new("field.from", "error.notice_too_early").arg("date", earliest));
    }
    if to > today {
        return Err(FieldError::new("field.to", "error.date_in_future"));
    }
    if to < from {
        return Err(FieldError::new("field.to", "error.period_backwards"));
    }
    if (to - from).num_days() >= NOTICE_SPAN_DAYS {
        return Err(FieldError::new("field.to", "error.notice_span").arg("days", NOTICE_SPAN_DAYS));
    }
    Ok((from, to))
}

/// `/public/notice`: choose a village (by town and name) for its notice;
/// with `?village=` it shows that village's notice. A period typed that
/// does not read, or a village that is none, is named beside its field on
/// the choice (422), never the choice again as if nothing were asked.
pub async fn notice_pick(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: Filter<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    if let Some(busy) = public_gate(&req, &state).await? {
        return Ok(busy);
    }
    let Filter(q, twice) = q;
    let twice = twice.check().err();
    if !q.village.trim().is_empty() {
        let id = q.village.trim().to_string();
        return notice_of(&req, &state, id, q, twice, Asked::InQuery).await;
    }
    let today = crate::time::today(state.config.time_zone);
    let refused = twice.or_else(|| notice_period(&q, today).err());
    pick_or_refused(&req, &state, "notice", q, refused).await
}

/// The choice of a village for `target`; a filter refused (`refused`: a
/// field sent twice, a period or month that does not read) is named
/// beside its field (422), what was typed kept.
async fn pick_or_refused(
    req: &HttpRequest,
    state: &AppState,
    target: &'static str,
    q: PeriodQuery,
    refused: Option<FieldError>,
) -> Result<HttpResponse, AppError> {
    pick_page(req, state, target, q, refused.as_ref()).await
}

async fn pick_page(
    req: &HttpRequest,
    state: &AppState,
    target: &'static str,
    q: PeriodQuery,
    refused: Option<&FieldError>,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx_of(req).await?;
    let errors = crate::web::form::FormErrors::maybe(ctx.lang, refused);
    let status = errors.status();
    let towns = run(state, |c| Ok(public::towns_and_villages(c)?)).await?;
    let res = render_with_status(
        &ctx,
        &PickPage {
            ctx: &ctx,
            towns,
            target,
            village: q.village,
            from: q.from,
            to: q.to,
            month: q.month,
            errors,
        },
        status,
    )?;
    Ok(public_page(res))
}

/// A village's public notice: this month's awards unless a period is asked.
pub async fn notice(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: Filter<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    if let Some(busy) = public_gate(&req, &state).await? {
        return Ok(busy);
    }
    let Filter(q, twice) = q;
    let twice = twice.check().err();
    notice_of(&req, &state, path.into_inner(), q, twice, Asked::InPath).await
}

/// Where a notice's village was asked: in the address's path (a village
/// that is none: 404) or in the choice's query (named beside its field).
#[derive(Clone, Copy, PartialEq)]
enum Asked {
    InPath,
    InQuery,
}

/// Village `id`'s notice for period `q`; a period that does not read, or
/// a field of it sent twice (`twice`), is the choice again (422) with what
/// was typed and the message, as is a village that is none asked on the
/// choice (`asked`).
async fn notice_of(
    req: &HttpRequest,
    state: &AppState,
    id: String,
    mut q: PeriodQuery,
    twice: Option<FieldError>,
    asked: Asked,
) -> Result<HttpResponse, AppError> {
    let today = crate::time::today(state.config.time_zone);
    let period = match twice {
        Some(e) => Err(e),
        None => notice_period(&q, today),
    };
    let (from, to) = match period {
        Ok(p) => p,
        Err(e) => {
            q.village = id;
            return pick_page(req, state, "notice", q, Some(&e)).await;
        }
    };
    let ctx = ctx_of(req).await?;
    let vid = id.clone();
    let found = run(state, move |c| {
        Ok(match public::notice(c, &vid, from, to)? {
            Some(n) => {
                let outcomes = objections::outcomes(c, &n.village.id, from, to)?;
                Some((n, outcomes))
            }
            None => None,
        })
    })
    .await?;
    let (n, outcomes) = match found {
        Some(found) => found,
        None if asked == Asked::InQuery => {
            q.village = id;
            let e = FieldError::new("field.village", "error.area_unknown");
            return pick_page(req, state, "notice", q, Some(&e)).await;
        }
        None => return Err(AppError::NotFound),
    };
    render(
        &ctx,
        &NoticePage {
            ctx: &ctx,
            n,
            outcomes,
        },
    )
    .map(public_page)
}

#[derive(Template)]
#[template(path = "window/honours.html")]
struct HonoursPage<'a> {
    ctx: &'a PageCtx,
    area: crate::areas::Area,
    month: Month,
    honours: Vec<public::Honour>,
    /// True on the black list (黑榜): points deducted, not earned.
    black: bool,
    /// Whether the scheme publishes a black list (a link to it).
    black_list_on: bool,
    /// A month asked for that does not read (`"filter"`): what was typed,
    /// beside its message (422); no roll is shown then.
    refused: crate::web::form::Refused,
}

fn month_asked(q: &PeriodQuery, today: chrono::NaiveDate) -> Result<Month, AppError> {
    if q.month.trim().is_empty() {
        Ok(Month::of(today).prev())
    } else {
        Ok(Month::parse(&q.month)?)
    }
}

/// `/public/honours`: choose a town or village for its honour roll.
pub async fn honours_pick(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: Filter<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    if let Some(busy) = public_gate(&req, &state).await? {
        return Ok(busy);
    }
    let Filter(q, twice) = q;
    // A month typed that does not read is named beside it on the choice.
    let refused = twice.check().err().or_else(|| match q.month.trim() {
        "" => None,
        m => Month::parse(m).err(),
    });
    pick_or_refused(&req, &state, "honours", q, refused).await
}

/// The honour roll (红榜) of an area for a month (the month before this
/// one unless asked), printable as an A4 poster.
pub async fn honours(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: Filter<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    ranked_page(req, state, path.into_inner(), q, false).await
}

/// The black list (黑榜) of an area for a month: only when the scheme has
/// turned it on (`settings::BLACK_LIST`); otherwise there is no such page.
pub async fn black_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: Filter<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    ranked_page(req, state, path.into_inner(), q, true).await
}

async fn ranked_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: String,
    q: Filter<PeriodQuery>,
    black: bool,
) -> Result<HttpResponse, AppError> {
    if let Some(busy) = public_gate(&req, &state).await? {
        return Ok(busy);
    }
    let Filter(q, twice) = q;
    let ctx = ctx_of(&req).await?;
    let today = crate::time::today(state.config.time_zone);
    // A month sent twice is refused like a month that does not read.
    let asked = match twice.check() {
        Ok(()) => month_asked(&q, today),
        Err(e) => Err(AppError::Invalid(e)),
    };
    let (month, refused) = match asked {
        Ok(m) => (m, crate::web::form::Refused::default()),
        Err(AppError::Invalid(e)) => (
            Month::of(today).prev(),
            crate::web::form::Refused::of_pairs(
                ctx.lang,
                "filter",
                vec![("month".into(), q.month.clone())],
                &e,
            ),
        ),
        Err(e) => return Err(e),
    };
    let (area, honours, black_list_on) = run(&state, move |c| {
        let on = crate::settings::get_bool(c, crate::settings::BLACK_LIST)?;
        if black && !on {
            return Err(AppError::NotFound);
        }
        let found = if black {
            public::black_list(c, &id, month)?
        } else {
            public::honours(c, &id, month)?
        };
        let (area, honours) = found.ok_or(AppError::NotFound)?;
        Ok((area, honours, on))
    })
    .await?;
    let status = refused.status();
    render_with_status(
        &ctx,
        &HonoursPage {
            ctx: &ctx,
            area,
            month,
            honours,
            black,
            black_list_on,
            refused,
        },
        status,
    )
    .map(public_page)
}

#[derive(Template)]
#[template(path = "window/shelf.html")]
struct ShelfPage<'a> {
    ctx: &'a PageCtx,
    s: public::StoreShelf,
}

/// A store's public price list: goods, points, in stock or not.
pub async fn shelf(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    if let Some(busy) = public_gate(&req, &state).await? {
        return Ok(busy);
    }
    let ctx = ctx_of(&req).await?;
    let id: crate::domain::StoreId = crate::error::path_id(&path)?;
    let s = run(&state, move |c| Ok(public::shelf(c, &id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    render(&ctx, &ShelfPage { ctx: &ctx, s }).map(public_page)
}

#[derive(Template)]
#[template(path = "window/rules.html")]
struct RulesPage<'a> {
    ctx: &'a PageCtx,
    rules: Vec<(Rule, String)>,
    categories: Vec<Category>,
}

/// The rulebook: what earns and what costs points.
pub async fn rules(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    if let Some(busy) = public_gate(&req, &state).await? {
        return Ok(busy);
    }
    let ctx = ctx_of(&req).await?;
    let (rules, categories) = run(&state, |c| {
        Ok((points::current_rules(c)?, points::categories(c)?))
    })
    .await?;
    let rules = rules.into_iter().filter(|(r, _)| r.active).collect();
    render(
        &ctx,
        &RulesPage {
            ctx: &ctx,
            rules,
            categories,
        },
    )
    .map(public_page)
}
