//! Stocktakes: start a count, print the sheet, key in counts, confirm.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::stock::form_key;
use crate::auth::Action;
use crate::domain::FieldError;
use crate::idempotency::IdemKey;
use crate::stock::HistoryRow;
use crate::stock::stocktake::{self, CountLine, Counters, Stocktake};
use crate::stores::{self, StoreRow};
use crate::web::extract::lang_of;
use crate::web::form::Refused;
use crate::web::page::{PageCtx, flash_ok, or_flash, render_with_status};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, run};

/// Start a count at a store.
pub async fn start(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    _form: CsrfForm<super::auth::Empty>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::Stocktake)?;
    let sid: crate::domain::StoreId = crate::error::path_id(&id)?;
    let back = format!("/stores/{sid}");
    let ctx = user.actor();
    let today = crate::time::today(state.config.time_zone);
    let result = run(&state, move |c| Ok(stocktake::start(c, &ctx, &sid, today)?))
        .await
        .map(|st| {
            flash_ok(
                &req,
                &format!("/stocktakes/{}", st.id),
                "flash.stocktake_started",
                &[("number", st.number)],
            )
        });
    or_flash(&req, &back, result)
}

/// Load a stocktake and check the user may do `action` at its store.
async fn load(
    state: &AppState,
    user: &CurrentUser,
    action: Action,
    id: String,
) -> Result<(Stocktake, Vec<CountLine>, StoreRow), AppError> {
    user.require(action)?;
    let (st, lines, store) = run(state, move |c| {
        let (st, lines) = stocktake::find(c, &id)?.ok_or(AppError::NotFound)?;
        let store = stores::find(c, &st.store_id)?.ok_or(AppError::NotFound)?;
        Ok((st, lines, store))
    })
    .await?;
    user.require_store(action, &store)?;
    Ok((st, lines, store))
}

#[derive(Template)]
#[template(path = "stocktakes/detail.html")]
struct StocktakePage<'a> {
    ctx: &'a PageCtx,
    st: Stocktake,
    lines: Vec<CountLine>,
    store: StoreRow,
    can_count: bool,
    all_counted: bool,
    key: String,
    /// What moved on the shelf since the count began (the first 200).
    moves: Vec<HistoryRow>,
    /// Refused counts (`"counts"`) shown again with what was typed.
    refused: Refused,
}

impl StocktakePage<'_> {
    fn differences(&self) -> Vec<&CountLine> {
        self.lines
            .iter()
            .filter(|l| l.difference().is_some_and(|d| d != 0))
            .collect()
    }

    fn uncounted(&self) -> Vec<&CountLine> {
        self.lines.iter().filter(|l| l.counted.is_none()).collect()
    }

    /// What the count box of `line` shows: what was typed after a refusal,
    /// else the count kept.
    fn count_text(&self, line: &CountLine) -> String {
        let kept = line.counted.map(|c| c.to_string()).unwrap_or_default();
        self.refused
            .value("counts", &format!("count_{}", line.item_id), &kept)
            .to_string()
    }
}

/// The count sheet (printable), the counting form and the differences.
pub async fn detail(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    sheet(req, user, state, id.into_inner(), Refused::default()).await
}

/// The sheet; `refused` shows refused counts again (422).
async fn sheet(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: String,
    refused: Refused,
) -> Result<HttpResponse, AppError> {
    let (st, lines, store) = load(&state, &user, Action::ViewStock, id).await?;
    let moves = {
        let st = st.clone();
        run(&state, move |c| {
            Ok(stocktake::movements_since(c, &st, Some(200))?)
        })
        .await?
    };
    let ctx = PageCtx::build(&req, Some(&user));
    let status = refused.status();
    render_with_status(
        &ctx,
        &StocktakePage {
            ctx: &ctx,
            can_count: st.is_open() && user.can_at_store(Action::Stocktake, &store),
            all_counted: lines.iter().all(|l| l.counted.is_some()),
            st,
            lines,
            store,
            key: form_key(),
            moves,
            refused,
        },
        status,
    )
}

/// The count sheet's fields and the labels their messages stand beside: a
/// line's count (`count_<item id>`, and the count it showed,
/// `seen.count_<item id>`) beside that line's box.
fn count_label(name: &str) -> Option<&'static str> {
    let name = name.strip_prefix("seen.").unwrap_or(name);
    if name.starts_with("count_") {
        return Some("field.counted");
    }
    Some(match name {
        "counted_by" => "field.counted_by",
        "witnessed_by" => "field.witnessed_by",
        _ => return None,
    })
}

/// The line (1-based, in the sheet's order `lines`) a count field stands on.
fn count_line(name: &str, lines: &[String]) -> Option<usize> {
    let item = name
        .strip_prefix("seen.")
        .unwrap_or(name)
        .strip_prefix("count_")?;
    lines.iter().position(|l| l == item).map(|i| i + 1)
}

/// Save counted quantities; fields `count_<item id>` and `counted_by`.
pub async fn save_counts(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let (st, sheet_lines, _) = load(&state, &user, Action::Stocktake, id.into_inner()).await?;
    let back = format!("/stocktakes/{}", st.id);
    let sheet_id = st.id.clone();
    let (fields, read) = (form.0, form.1);
    let twice = crate::web::extract::SentTwice::among(&fields, &[], count_label)
        .with_spoiled(read)
        .on_lines(
            sheet_lines.iter().map(|l| l.item_id.to_string()).collect(),
            count_line,
        );
    let typed = fields.clone();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let counted_by = field("counted_by");
    let witnessed_by = field("witnessed_by");
    // What the form showed when it was opened, required: a form without
    // the names it showed is refused beside them (and each count line
    // without its own, by the operation), nothing saved.
    let shown = |name: &'static str, label: &'static str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .ok_or(FieldError::new(label, "error.seen_version_missing"))
    };
    let mut missing = crate::domain::FieldChecks::new();
    let seen_counted_by = missing.take(shown("seen.counted_by", "field.counted_by"));
    let seen_witnessed_by = missing.take(shown("seen.witnessed_by", "field.witnessed_by"));
    // A count whose name holds no item id names no line of the sheet: the
    // save is refused naming it, as a line of another sheet is.
    for (k, _) in &fields {
        // (A name the form's reading found spoiled is named there already.)
        if let Some(named) = k.strip_prefix("count_")
            && crate::domain::ItemId::parse(named).is_none()
            && !named.contains(char::REPLACEMENT_CHARACTER)
        {
            missing.push(stocktake::not_on_sheet(named));
        }
    }
    let missing = missing.finish();
    let seen = stocktake::SeenCounts {
        counted_by: seen_counted_by.unwrap_or_default(),
        witnessed_by: seen_witnessed_by.unwrap_or_default(),
        counts: fields
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("seen.count_")
                    .and_then(crate::domain::ItemId::parse)
                    .map(|id| (id, v.clone()))
            })
            .collect(),
    };
    // A line's count sent twice keeps its first value (the second is
    // refused by name, with the rest).
    let mut counts: Vec<(crate::domain::ItemId, String)> = Vec::new();
    for (k, v) in fields {
        if let Some(id) = k
            .strip_prefix("count_")
            .and_then(crate::domain::ItemId::parse)
            && !counts.iter().any(|(i, _)| *i == id)
        {
            counts.push((id, v));
        }
    }
    // Fields sent twice and counts naming no item are said with every
    // line's own refusal, in one answer.
    let mut refused = crate::domain::FieldChecks::new();
    refused.take(twice.check());
    refused.take(missing);
    let refused = refused.finish().err();
    let ctx = user.actor();
    let result = run(&state, move |c| {
        let who = Counters {
            counted_by: &counted_by,
            witnessed_by: &witnessed_by,
        };
        Ok(stocktake::save_counts_seen(
            c,
            &ctx,
            &st.id,
            &who,
            &counts,
            Some(&seen),
            refused,
        )?)
    })
    .await
    .map(|_| flash_ok(&req, &back, "flash.counts_saved", &[]));
    match result {
        Err(AppError::Invalid(e)) => {
            let refused = Refused::of_pairs(lang_of(&req), "counts", typed, &e);
            sheet(req, user, state, sheet_id, refused).await
        }
        other => other,
    }
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    key: String,
    /// The sheet's version when the person saw it.
    #[serde(default)]
    version: String,
}

/// A form with no field a person types (hidden fields, buttons).
impl crate::web::extract::FormFields for ConfirmForm {
    fn label(_: &str) -> Option<&'static str> {
        None
    }
}

/// Post the differences as adjustments, in one transaction.
pub async fn confirm(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let (st, _, _) = load(&state, &user, Action::Stocktake, id.into_inner()).await?;
    let back = format!("/stocktakes/{}", st.id);
    let ctx = user.actor();
    let result = async {
        let key = IdemKey::parse(&form.0.key)?;
        // The sheet as the person saw it: required (see `seen_version`).
        let seen = Some(crate::web::form::seen_version(&form.0.version)?);
        let today = crate::time::today(state.config.time_zone);
        let out = form
            .1
            .run(&state, move |c| {
                Ok(stocktake::confirm(c, &ctx, &key, &st.id, seen, today)?)
            })
            .await?;
        Ok(if out.replayed {
            flash_ok(&req, &back, "flash.already_done", &[])
        } else {
            flash_ok(&req, &back, "flash.stocktake_posted", &[])
        })
    }
    .await;
    or_flash(&req, &back, result)
}
