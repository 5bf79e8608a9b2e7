use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use super::stock::form_key;
use crate::areas::{self, Area};
use crate::auth::Action;
use crate::domain::{AwardId, CardNo, FieldError, HouseholdId};
use crate::error::path_id;
use crate::households::{self, CardLookup, HouseholdRow, ListFilter};
use crate::points::awards::{self as aw, AwardRow, Decision};
use crate::points::{self, Rule};
use crate::web::extract::{Filter, SentTwice, lang_of};
use crate::web::form::{FormErrors, seen_version};
use crate::web::page::{
    Carry, PageCtx, flash_field_error, flash_ok, next_page, or_flash, render, render_with_status,
};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, run};

fn today(state: &AppState) -> NaiveDate {
    crate::time::today(state.config.time_zone)
}

#[derive(Deserialize, Default)]
pub struct NewQuery {
    #[serde(default)]
    household_id: String,
    #[serde(default)]
    card: String,
}

/// The filter's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for NewQuery {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "household_id" => "field.household",
            "card" => "field.card_no",
            _ => return None,
        })
    }

    fn holds_id(name: &str) -> bool {
        matches!(name, "household_id")
    }
}

#[derive(Template)]
#[template(path = "awards/new.html")]
struct NewPage<'a> {
    ctx: &'a PageCtx,
    household: Option<HouseholdRow>,
    rules: Vec<(Rule, String)>,
    today: String,
    key: String,
    card: String,
    notice: Option<String>,
    /// What was typed, shown again after a refusal (empty otherwise).
    typed: ProposeForm,
    errors: FormErrors,
}

pub async fn new_form(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: Filter<NewQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ProposeAwards)?;
    // A household or card sent twice: the page for the first values, the
    // message naming the field (422), nothing proposed.
    let Filter(q, twice) = q;
    let refused = twice.check().err().map(|e| {
        let fresh = ProposeForm {
            occurred_on: today(&state).to_string(),
            key: form_key(),
            ..ProposeForm::default()
        };
        (fresh, e)
    });
    proposal_page(req, user, state, q, refused).await
}

/// The proposal form; `refused` shows a refused proposal again (422) with
/// what was typed and each error beside its field.
async fn proposal_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: NewQuery,
    refused: Option<(ProposeForm, FieldError)>,
) -> Result<HttpResponse, AppError> {
    let actor = user.actor();
    let lang = lang_of(&req);
    let card_text = q.card.trim().to_string();
    let (household, rules, notice) = run(&state, move |c| {
        let mut notice = None;
        // Text that is not a household id names no household (404).
        let mut household_id = match q.household_id.trim() {
            "" => None,
            h => Some(HouseholdId::parse(h).ok_or(AppError::NotFound)?),
        };
        if household_id.is_none() && !card_text.is_empty() {
            match CardNo::parse("field.card_no", &card_text) {
                Err(e) => notice = Some(crate::i18n::field_error(lang, &e)),
                Ok(card) => match households::lookup_card_for(c, &actor, &card)? {
                    CardLookup::Current { household_id: h } => household_id = Some(h),
                    CardLookup::Replaced { .. } => {
                        notice = Some(crate::i18n::tf(
                            lang,
                            "households.card_replaced",
                            &[("card", card_text.clone())],
                        ))
                    }
                    CardLookup::Unknown => {
                        notice = Some(crate::i18n::tf(
                            lang,
                            "households.card_unknown",
                            &[("card", card_text.clone())],
                        ))
                    }
                },
            }
        }
        let household = match household_id {
            Some(h) => Some(households::find(c, &actor, &h)?),
            None => None,
        };
        let rules = points::current_rules(c)?
            .into_iter()
            .filter(|(r, _)| r.active)
            .collect();
        Ok((household, rules, notice))
    })
    .await?;
    let ctx = PageCtx::build(&req, Some(&user));
    let day = today(&state).to_string();
    // A refusal with no household to hold the form (it named none): said
    // where the page asks for a card.
    let notice = match (&household, &refused) {
        (None, Some((_, e))) => Some(crate::i18n::field_error(lang, e)),
        _ => notice,
    };
    let (typed, errors, status) = match refused {
        Some((f, e)) => {
            let errors = FormErrors::new(ctx.lang, &e);
            let status = errors.status();
            (f, errors, status)
        }
        None => (
            ProposeForm {
                occurred_on: day.clone(),
                key: form_key(),
                ..ProposeForm::default()
            },
            FormErrors::default(),
            StatusCode::OK,
        ),
    };
    render_with_status(
        &ctx,
        &NewPage {
            ctx: &ctx,
            household,
            rules,
            today: day,
            // A refused form keeps its key: the corrected one is still one award.
            key: typed.key.clone(),
            card: q.card,
            notice,
            typed,
            errors,
        },
        status,
    )
}

#[derive(Deserialize, Default, Clone)]
pub struct ProposeForm {
    #[serde(default)]
    household_id: String,
    #[serde(default)]
    rule_code: String,
    #[serde(default)]
    occurred_on: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    key: String,
    /// The version of the award the form was opened on (edits only).
    #[serde(default)]
    version: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for ProposeForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "household_id" => "field.household",
            "rule_code" => "field.rule",
            "occurred_on" => "field.occurred_on",
            "note" => "field.note",
            _ => return None,
        })
    }
}

pub async fn propose(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<ProposeForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::ProposeAwards)?;
    let f = form.0;
    let back = next_page(
        "/awards/new",
        &[("household_id", Carry::Id(&f.household_id))],
    );
    if f.key.trim().is_empty() {
        return Ok(flash_field_error(
            &req,
            &back,
            &FieldError::new("field.form", "error.form_expired"),
        ));
    }
    let day = today(&state);
    let u = user.actor();
    let typed = f.clone();
    let result = form
        .1
        .run(&state, move |c| {
            let p = aw::parse_proposal(&f.rule_code, &f.occurred_on, &f.note, day)?;
            // An id that names no household (not one, or another
            // record's) is refused beside the field, the form kept.
            let unknown = || FieldError::new("field.household", "error.household_unknown");
            let household = HouseholdId::parse(f.household_id.trim()).ok_or_else(unknown)?;
            match households::load(c, &household) {
                Err(households::HouseholdError::NotFound) => return Err(unknown().into()),
                other => {
                    other?;
                }
            }
            let award = aw::propose(c, &u, &household, &p, &f.key, day)?;
            Ok(award)
        })
        .await;
    match result {
        Ok(award) => {
            let key = if award.is_pending() {
                "flash.award_proposed"
            } else {
                "flash.award_proposed_approved"
            };
            Ok(flash_ok(
                &req,
                &format!("/households/{}", award.household_id),
                key,
                &[],
            ))
        }
        Err(AppError::Invalid(e)) => {
            // The form again, on its household (none when the id names none).
            let household_id = HouseholdId::parse(typed.household_id.trim())
                .filter(|_| e.key != "error.household_unknown")
                .map(String::from)
                .unwrap_or_default();
            let q = NewQuery {
                household_id,
                card: String::new(),
            };
            proposal_page(req, user, state, q, Some((typed, e))).await
        }
        Err(e) => or_flash(&req, &back, Err(e)),
    }
}

/// The select all / none link of a list of ticks (batch awards, the
/// review queue): `tick` takes `all` or `none`.
fn tick_choice(name: &str, value: &str) -> Option<bool> {
    (name == "tick").then_some(matches!(value, "all" | "none"))
}

#[derive(Deserialize, Default)]
pub struct BatchQuery {
    #[serde(default)]
    area_id: String,
    /// `all` ticks every household shown, `none` (or empty) none: select
    /// all / none without a script.
    #[serde(default)]
    tick: String,
}

/// The filter's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for BatchQuery {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "area_id" => "field.village",
            _ => return None,
        })
    }

    fn holds_id(name: &str) -> bool {
        matches!(name, "area_id")
    }

    fn is_choice(name: &str, value: &str) -> Option<bool> {
        tick_choice(name, value)
    }
}

#[derive(Template)]
#[template(path = "awards/batch.html")]
struct BatchPage<'a> {
    ctx: &'a PageCtx,
    villages: Vec<Area>,
    area_id: String,
    households: Vec<HouseholdRow>,
    rules: Vec<(Rule, String)>,
    today: String,
    key: String,
    /// The households ticked (after a refusal, or all of them on asking).
    ticked: Vec<String>,
    /// A refused batch (`"batch"`) with what was typed, if any.
    refused: crate::web::form::Refused,
}

/// A rule code typed that the list does not offer
/// ([`crate::web::form::unoffered`]).
fn refused_rule<'a>(rules: &[(Rule, String)], typed: &'a str) -> Option<&'a str> {
    crate::web::form::unoffered(typed, rules.iter().map(|(r, _)| r.code.as_str()))
}

impl NewPage<'_> {
    fn refused_rule(&self) -> Option<&str> {
        refused_rule(&self.rules, &self.typed.rule_code)
    }
}

impl BatchPage<'_> {
    fn refused_rule(&self) -> Option<&str> {
        refused_rule(&self.rules, self.refused.value("batch", "rule_code", ""))
    }
}

impl BatchPage<'_> {
    fn is_ticked(&self, id: &str) -> bool {
        self.ticked.iter().any(|t| t == id)
    }
}

pub async fn batch_form(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: Filter<BatchQuery>,
) -> Result<HttpResponse, AppError> {
    // A village sent twice: the village typed first, the filter form
    // (`"filter"`) with the message beside it (422).
    let Filter(q, twice) = q;
    let refused = match twice.check() {
        Ok(()) => Default::default(),
        Err(e) => crate::web::form::Refused::of_pairs(
            lang_of(&req),
            "filter",
            vec![("area_id".into(), q.area_id.clone())],
            &e,
        ),
    };
    batch_page(req, user, state, q, Vec::new(), refused).await
}

/// The batch form for a village; `refused` shows a refused batch again
/// (422) with what was typed and its ticks kept.
async fn batch_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: BatchQuery,
    ticked: Vec<String>,
    refused: crate::web::form::Refused,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ProposeAwards)?;
    let area_id = q.area_id;
    let tick_all = q.tick == "all";
    let actor = user.actor();
    let a = area_id.clone();
    let (villages, households, rules) = run(&state, move |c| {
        let villages = households::villages_in_scope(c, &actor)?;
        let households = if a.is_empty() {
            Vec::new()
        } else {
            households::list(
                c,
                &actor,
                &ListFilter {
                    area_id: Some(a),
                    ..Default::default()
                },
                0,
                2000,
            )?
            .0
        };
        let rules = points::current_rules(c)?
            .into_iter()
            .filter(|(r, _)| r.active)
            .collect();
        Ok((villages, households, rules))
    })
    .await?;
    // A village outside the user's scope (or none at all) lists nothing:
    // said beside the village picker, as other pages say it.
    let refused =
        if refused.is_empty() && !area_id.is_empty() && !villages.iter().any(|v| v.id == area_id) {
            crate::web::form::Refused::of_pairs(
                lang_of(&req),
                "filter",
                vec![("area_id".into(), area_id.clone())],
                &FieldError::new("field.village", "error.area_unknown"),
            )
        } else {
            refused
        };
    let ctx = PageCtx::build(&req, Some(&user));
    let ticked = if tick_all {
        households
            .iter()
            .map(|h| h.household.id.to_string())
            .collect()
    } else {
        // Only the list's own households are ticks: anything else sent
        // (refused by name) is neither ticked nor counted as selected.
        ticked
            .into_iter()
            .filter(|t| households.iter().any(|h| h.household.id.as_str() == t))
            .collect()
    };
    let status = refused.status();
    render_with_status(
        &ctx,
        &BatchPage {
            ctx: &ctx,
            villages,
            area_id,
            households,
            rules,
            today: today(&state).to_string(),
            key: form_key(),
            ticked,
            refused,
        },
        status,
    )
}

#[derive(Template)]
#[template(path = "awards/batch_done.html")]
struct BatchDone<'a> {
    ctx: &'a PageCtx,
    created: Vec<AwardRow>,
    replayed: bool,
}

fn field(form: &[(String, String)], name: &str) -> String {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// The batch form's fields and the labels their messages stand beside.
fn batch_label(name: &str) -> Option<&'static str> {
    Some(match name {
        "rule_code" => "field.rule",
        "occurred_on" => "field.occurred_on",
        "note" => "field.note",
        "cards" => "field.card_no",
        _ => return None,
    })
}

pub async fn propose_batch(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::ProposeAwards)?;
    let (form, read) = (form.0, form.1);
    let twice = SentTwice::among(&form, &["household_id"], batch_label).with_spoiled(read);
    let key = field(&form, "key");
    let back = next_page(
        "/awards/batch",
        &[("area_id", Carry::Id(&field(&form, "area_id")))],
    );
    if key.trim().is_empty() {
        return Ok(flash_field_error(
            &req,
            &back,
            &FieldError::new("field.form", "error.form_expired"),
        ));
    }
    let lang = lang_of(&req);
    let day = today(&state);
    let u = user.actor();
    let typed = form.clone();
    // Fields sent twice and the rule, day and note are said with every
    // entry's refusal (text that is no id, a household unknown ...), in
    // one answer.
    let mut refused = crate::domain::FieldChecks::new();
    refused.take(twice.check());
    let result = run(&state, move |c| {
        let rule_code = field(&form, "rule_code");
        let proposal = aw::parse_proposal(
            &rule_code,
            &field(&form, "occurred_on"),
            &field(&form, "note"),
            day,
        );
        if let Err(e) = &proposal {
            refused.push(e.clone());
        }
        let p = match (&proposal, refused.finish()) {
            (Ok(p), Ok(())) => Ok(p),
            (_, Err(e)) => Err((rule_code.as_str(), e)),
            (Err(e), Ok(())) => Err((rule_code.as_str(), e.clone())),
        };
        // The ticks, then the pasted card numbers (one per line, or
        // separated by spaces or commas): one batch, all or nothing,
        // every entry that names no household of the actor's refused
        // at once, ticks and paste box kept.
        let mut entries: Vec<aw::BatchEntry> = form
            .iter()
            .filter(|(k, _)| k == "household_id")
            .enumerate()
            .map(|(i, (_, v))| aw::BatchEntry::household(v, i + 1))
            .collect();
        entries.extend(
            field(&form, "cards")
                .split(|ch: char| ch.is_whitespace() || ch == ',' || ch == '，')
                .filter(|s| !s.is_empty())
                .map(aw::BatchEntry::card),
        );
        let out = aw::propose_batch_read(c, &u, &entries, p, &key, day)?;
        let created = aw::batch(c, &out.batch_id)?;
        Ok((created, out.replayed))
    })
    .await;
    match result {
        Ok((created, replayed)) => {
            let ctx = PageCtx::build(&req, Some(&user));
            render(
                &ctx,
                &BatchDone {
                    ctx: &ctx,
                    created,
                    replayed,
                },
            )
        }
        Err(AppError::Invalid(e)) => {
            let ticked = typed
                .iter()
                .filter(|(k, _)| k == "household_id")
                .map(|(_, v)| v.clone())
                .collect();
            let q = BatchQuery {
                area_id: field(&typed, "area_id"),
                tick: String::new(),
            };
            // A batch already done under this key (409): the form comes
            // back with a fresh key, so that the next submit is a new one.
            let mut typed = typed;
            if e.all()
                .iter()
                .any(|f| f.conflict == Some(crate::domain::Conflict::KeyReused))
            {
                let fresh = form_key();
                for (k, v) in typed.iter_mut() {
                    if k == "key" {
                        *v = fresh.clone();
                    }
                }
            }
            let refused = crate::web::form::Refused::of_pairs(lang, "batch", typed, &e);
            batch_page(req, user, state, q, ticked, refused).await
        }
        Err(e) => or_flash(&req, &back, Err(e)),
    }
}

#[derive(Template)]
#[template(path = "awards/mine.html")]
struct MinePage<'a> {
    ctx: &'a PageCtx,
    rows: Vec<AwardRow>,
}

pub async fn mine(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ProposeAwards)?;
    let uid = user.user.id.clone();
    let rows = run(&state, move |c| Ok(aw::proposed_by(c, &uid, None, 200)?)).await?;
    let ctx = PageCtx::build(&req, Some(&user));
    render(&ctx, &MinePage { ctx: &ctx, rows })
}

#[derive(Template)]
#[template(path = "awards/edit.html")]
struct EditPage<'a> {
    ctx: &'a PageCtx,
    award: aw::Award,
    household: HouseholdRow,
    rules: Vec<(Rule, String)>,
    /// What the form shows: the award, or what was typed when refused.
    typed: ProposeForm,
    errors: FormErrors,
}

impl EditPage<'_> {
    /// Whether the rule typed is one the list offers (a refused unknown
    /// code is kept as its own choice).
    fn rule_listed(&self) -> bool {
        self.rules
            .iter()
            .any(|(r, _)| r.code == self.typed.rule_code)
    }
}

pub async fn edit_form(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ProposeAwards)?;
    let id: AwardId = path_id(&id)?;
    edit_page(req, user, state, id, None).await
}

/// An award's edit form; `refused` shows a refused save again (422, or 409
/// when the award changed meanwhile) with what was typed and every error
/// beside its field.
async fn edit_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: AwardId,
    refused: Option<(ProposeForm, FieldError)>,
) -> Result<HttpResponse, AppError> {
    let actor = user.actor();
    let (award, household, rules) = run(&state, move |c| {
        let award = aw::find(c, &id)?.ok_or(AppError::NotFound)?;
        let household = households::find(c, &actor, &award.household_id)?;
        let rules = points::current_rules(c)?
            .into_iter()
            .filter(|(r, _)| r.active)
            .collect();
        Ok((award, household, rules))
    })
    .await?;
    if award.proposed_by != user.user.id && user.role() != crate::domain::Role::Admin {
        return Err(AppError::Forbidden);
    }
    let ctx = PageCtx::build(&req, Some(&user));
    let (typed, errors) = match refused {
        Some((mut f, e)) => {
            // Changed since the form was opened: saved again, the form is
            // checked against the award as it is now. Any other refusal
            // keeps the version the form was opened with, so a change
            // saved meanwhile is still caught at the next save.
            if crate::web::form::changed_meanwhile(&e) {
                f.version = award.version.to_string();
            }
            (f, FormErrors::new(ctx.lang, &e))
        }
        None => (
            ProposeForm {
                rule_code: award.rule_code.clone(),
                occurred_on: award.occurred_on.to_string(),
                note: award.note.clone(),
                version: award.version.to_string(),
                ..ProposeForm::default()
            },
            FormErrors::default(),
        ),
    };
    let status = errors.status();
    render_with_status(
        &ctx,
        &EditPage {
            ctx: &ctx,
            award,
            household,
            rules,
            typed,
            errors,
        },
        status,
    )
}

pub async fn edit(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<ProposeForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::ProposeAwards)?;
    let id: AwardId = path_id(&id)?;
    let back = format!("/awards/{id}/edit");
    let f = form.0;
    let typed = f.clone();
    let day = today(&state);
    let u = user.actor();
    let target = id.clone();
    let result = form
        .1
        .run(&state, move |c| {
            // Every field is checked, so all that is wrong shows at once (an
            // unknown rule with the rest).
            let mut checks = crate::domain::FieldChecks::new();
            let seen = checks.take(seen_version(&f.version));
            let p = checks.take(aw::parse_proposal(
                &f.rule_code,
                &f.occurred_on,
                &f.note,
                day,
            ));
            let code = f.rule_code.trim();
            if !checks.is_clean()
                && !code.is_empty()
                && !checks.has("field.rule")
                && points::current_rule(c, code)?.is_none()
            {
                checks.push(FieldError::new("field.rule", "error.rule_unknown"));
            }
            checks.finish()?;
            let (Some(seen), Some(p)) = (seen, p) else {
                unreachable!("a clean form parsed every field")
            };
            aw::edit_seen(c, &u, &target, &p, Some(seen))?;
            Ok(())
        })
        .await;
    match result {
        Ok(()) => Ok(flash_ok(&req, "/awards", "flash.award_edited", &[])),
        Err(AppError::Invalid(e)) => edit_page(req, user, state, id, Some((typed, e))).await,
        Err(e) => or_flash(&req, &back, Err(e)),
    }
}

#[derive(Deserialize)]
pub struct VersionForm {
    #[serde(default)]
    version: String,
}

/// A form with no field a person types (hidden fields, buttons).
impl crate::web::extract::FormFields for VersionForm {
    fn label(_: &str) -> Option<&'static str> {
        None
    }
}

pub async fn withdraw(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    f: CsrfForm<VersionForm>,
) -> Result<HttpResponse, AppError> {
    let f = f.checked();
    user.require(Action::ProposeAwards)?;
    let id: AwardId = path_id(&id)?;
    let seen = seen_version(&f.0.version);
    let u = user.actor();
    let result =
        f.1.run(&state, move |c| {
            Ok(aw::withdraw_seen(c, &u, &id, Some(seen?))?)
        })
        .await
        .map(|_| flash_ok(&req, "/awards", "flash.award_withdrawn", &[]));
    or_flash(&req, "/awards", result)
}

#[derive(Template)]
#[template(path = "awards/review.html")]
struct ReviewPage<'a> {
    ctx: &'a PageCtx,
    rows: Vec<AwardRow>,
    /// Whether the queue holds more than the [`QUEUE_SHOWN`] shown.
    more: bool,
    /// Awards on notice that could not be credited, with why.
    unsettled: Vec<AwardRow>,
    my_id: String,
    /// The photos of the households' reports behind the awards: (award id,
    /// photo id).
    photos: Vec<(String, String)>,
    /// What the queue is filtered by, and what each filter offers.
    filter: QueueQuery,
    villages: Vec<Area>,
    rules: Vec<(Rule, String)>,
    proposers: Vec<(String, String)>,
    /// Each household's recent decided awards (its history, inline).
    history: Vec<AwardRow>,
    /// The awards ticked (all on asking, or those refused, kept ticked).
    ticked: Vec<String>,
    /// The awards that could not be decided, each named once with why.
    refusals: Vec<(String, String)>,
    /// The reject reason typed (kept after a refusal), and its message
    /// when the reason itself was refused.
    reason: String,
    reason_error: Option<String>,
    /// The filter refused: each message beside its picker.
    filter_errors: FormErrors,
    /// A rule the picker does not offer, kept selected beside its message
    /// (the queue is not filtered by it).
    refused_rule: Option<String>,
}

impl ReviewPage<'_> {
    /// The photos beside an award (those of the report it came from).
    fn photos_of(&self, award_id: &str) -> Vec<&str> {
        self.photos
            .iter()
            .filter(|(a, _)| a == award_id)
            .map(|(_, p)| p.as_str())
            .collect()
    }

    /// The household's recent decided awards.
    fn history_of(&self, household_id: &str) -> Vec<&AwardRow> {
        self.history
            .iter()
            .filter(|r| r.award.household_id == household_id)
            .collect()
    }

    fn is_ticked(&self, award_id: &str) -> bool {
        self.ticked.iter().any(|t| t == award_id)
    }

    /// How many of the shown awards this reviewer may tick.
    fn tickable(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.award.proposed_by != self.my_id)
            .count()
    }

    /// The filter's query string (for select all / none links).
    fn filter_query(&self) -> String {
        format!(
            "area_id={}&rule={}&proposer={}",
            crate::web::error::urlencode(&self.filter.area_id),
            crate::web::error::urlencode(&self.filter.rule),
            crate::web::error::urlencode(&self.filter.proposer),
        )
    }
}

/// The review queue's filters (query string); `tick=all` ticks every award
/// shown, without a script.
#[derive(Deserialize, Default, Clone)]
pub struct QueueQuery {
    #[serde(default)]
    area_id: String,
    #[serde(default)]
    rule: String,
    #[serde(default)]
    proposer: String,
    #[serde(default)]
    tick: String,
}

/// The filter's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for QueueQuery {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "area_id" => "field.village",
            "rule" => "field.rule",
            "proposer" => "awards.proposer",
            _ => return None,
        })
    }

    fn holds_id(name: &str) -> bool {
        matches!(name, "area_id" | "proposer")
    }

    fn is_choice(name: &str, value: &str) -> Option<bool> {
        tick_choice(name, value)
    }
}

pub async fn review_queue(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: Filter<QueueQuery>,
) -> Result<HttpResponse, AppError> {
    // A filter field sent twice: the queue for the first values, the
    // message naming the field above it (422).
    // A village or proposer that is not an id is refused beside its
    // picker, the queue shown unfiltered by it.
    let Filter(q, twice) = q;
    let refused = match twice.check() {
        Ok(()) => Refusals::default(),
        Err(e) => Refusals {
            filter: FormErrors::new(lang_of(&req), &e),
            ..Refusals::default()
        },
    };
    queue_page(req, user, state, q, refused).await
}

/// A review refused in part or whole, shown again on the queue.
#[derive(Default)]
struct Refusals {
    /// The awards not decided, still ticked for another try.
    ticked: Vec<String>,
    /// Why, each award named once (its household); a line without a name
    /// speaks of the whole form.
    lines: Vec<(String, String)>,
    /// The reject reason typed, and its message when it was refused.
    reason: String,
    reason_error: Option<String>,
    /// Every refusal is a conflict with the state of things (409).
    conflict: bool,
    /// The queue's filter refused (a field sent twice, a village or
    /// proposer that is not an id): each message beside its picker.
    filter: FormErrors,
}

impl Refusals {
    /// The form refused as a whole by `e` (and the others it carries),
    /// before anything was decided: every refusal said, the reason's
    /// beside the reason.
    fn whole(lang: crate::i18n::Lang, ticked: Vec<String>, reason: String, e: &FieldError) -> Self {
        let mut lines = Vec::new();
        let mut reason_error = None;
        for f in e.all() {
            let why = crate::i18n::field_error(lang, f);
            if f.field == "field.reason" {
                reason_error = Some(why);
            } else {
                lines.push((String::new(), why));
            }
        }
        Refusals {
            ticked,
            lines,
            reason,
            reason_error,
            conflict: e.all().iter().all(|f| f.conflict.is_some()),
            filter: FormErrors::default(),
        }
    }

    fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.reason_error.is_none() && self.filter.is_empty()
    }
}

/// The most awards the review queue shows at once, oldest first; the page
/// says when there are more, to be narrowed by its filters.
pub const QUEUE_SHOWN: i64 = 500;

/// The queue; `refused` shows awards that could not be decided again,
/// still ticked, each named once with why, and the reason typed.
async fn queue_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    filter: QueueQuery,
    refused: Refusals,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ReviewAwards)?;
    let actor = user.actor();
    let mut f = aw::QueueFilter {
        area_id: filter.area_id.trim().to_string(),
        rule_code: filter.rule.trim().to_string(),
        proposer_id: filter.proposer.trim().to_string(),
    };
    let (rule_refused, (rows, more), unsettled, photos, villages, rules, proposers, history) =
        run(&state, move |c| {
            let rules = points::current_rules(c)?;
            // A rule the picker does not offer is refused beside it, the
            // queue shown unfiltered by it.
            let rule_refused =
                !f.rule_code.is_empty() && !rules.iter().any(|(r, _)| r.code == f.rule_code);
            if rule_refused {
                f.rule_code.clear();
            }
            // One more than is shown, to say when the queue holds more.
            let mut rows = aw::review_queue(c, &actor, &f, QUEUE_SHOWN + 1)?;
            let more = rows.len() as i64 > QUEUE_SHOWN;
            rows.truncate(QUEUE_SHOWN as usize);
            let ids: Vec<&str> = rows.iter().map(|r| r.award.id.as_str()).collect();
            let photos = crate::window::deeds::photos_of_awards(c, &ids)?;
            let mut households: Vec<&str> =
                rows.iter().map(|r| r.award.household_id.as_str()).collect();
            households.sort();
            households.dedup();
            let history = aw::recent_for_households(c, &households, 5)?;
            Ok((
                rule_refused,
                (rows, more),
                aw::unsettled(c, &actor, 500)?,
                photos,
                households::villages_in_scope(c, &actor)?,
                rules,
                aw::queue_proposers(c, &actor)?,
                history,
            ))
        })
        .await?;
    let my_id = user.user.id.clone();
    let mut refused = refused;
    let refused_rule = rule_refused.then(|| filter.rule.trim().to_string());
    if rule_refused {
        refused.filter.push(
            lang_of(&req),
            &FieldError::new("field.rule", "error.choose_one"),
        );
    }
    let status = if refused.is_empty() {
        actix_web::http::StatusCode::OK
    } else if refused.conflict {
        actix_web::http::StatusCode::CONFLICT
    } else {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    let Refusals {
        ticked,
        lines: refusals,
        reason,
        reason_error,
        filter: filter_errors,
        ..
    } = refused;
    let ticked = if filter.tick == "all" {
        rows.iter()
            .filter(|r| r.award.proposed_by != my_id)
            .map(|r| r.award.id.to_string())
            .collect()
    } else {
        ticked
    };
    let ctx = PageCtx::build(&req, Some(&user));
    render_with_status(
        &ctx,
        &ReviewPage {
            ctx: &ctx,
            rows,
            more,
            unsettled,
            my_id,
            photos,
            filter,
            villages,
            rules,
            proposers,
            history,
            ticked,
            refusals,
            reason,
            reason_error,
            filter_errors,
            refused_rule,
        },
        status,
    )
}

/// Approve or reject the ticked awards (or the one whose own button was pressed).
/// The review queue's fields and the labels their messages stand beside
/// (the rows' versions and buttons are hidden: a page to reload).
fn review_label(name: &str) -> Option<&'static str> {
    Some(match name {
        "reason" => "field.reason",
        "decision" => "field.decision",
        "area_id" => "field.area",
        _ => return None,
    })
}

pub async fn review(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::ReviewAwards)?;
    let (form, read) = (form.0, form.1);
    // The ticked awards repeat; any other field sent twice is refused.
    let twice = SentTwice::among(&form, &["id"], review_label).with_spoiled(read);
    // The queue comes back filtered as it was.
    let filter = QueueQuery {
        area_id: field(&form, "area_id"),
        rule: field(&form, "rule"),
        proposer: field(&form, "proposer"),
        tick: String::new(),
    };
    let back = next_page(
        "/review",
        &[
            ("area_id", Carry::Id(&filter.area_id)),
            ("rule", Carry::Code(&filter.rule)),
            ("proposer", Carry::Id(&filter.proposer)),
        ],
    );
    let (decision_text, only) = match form
        .iter()
        .find(|(k, _)| k == "approve_one" || k == "reject_one")
    {
        Some((k, id)) => (
            if k == "approve_one" {
                "approve"
            } else {
                "reject"
            }
            .to_string(),
            Some(id.clone()),
        ),
        None => (field(&form, "decision"), None),
    };
    let ids: Vec<String> = match only {
        Some(id) => vec![id],
        None => form
            .iter()
            .filter(|(k, _)| k == "id")
            .map(|(_, v)| v.clone())
            .collect(),
    };
    // An award ticked twice is one award, decided once.
    let mut ids = ids;
    let mut once = std::collections::HashSet::new();
    ids.retain(|id| once.insert(id.trim().to_string()));
    // Each row names an award and carries the version the reviewer saw
    // (`v:<id>`); text that is no award id, a row without its version, a
    // field sent twice (a row's version, the area, a button) or no
    // decision refuses the whole form before anything is decided, every
    // one of them said at once; the ticks and reason stay.
    let mut checks = crate::domain::FieldChecks::new();
    checks.take(twice.check());
    let none_ticked = ids.is_empty();
    let mut rows: Vec<(AwardId, Option<i64>)> = Vec::new();
    for id in ids {
        let Some(award) = AwardId::parse(id.trim()) else {
            checks.push(
                FieldError::new("field.award", "error.award_not_found").arg("award", id.trim()),
            );
            continue;
        };
        match seen_version(&field(&form, &format!("v:{id}"))) {
            Ok(seen) => rows.push((award, Some(seen))),
            // A page to reload, said once however many rows lack it.
            Err(e) if checks.has(e.field) => {}
            Err(e) => checks.push(e),
        }
    }
    if none_ticked {
        checks.push(FieldError::new("field.awards", "error.none_selected"));
    }
    let lang = lang_of(&req);
    let reason = field(&form, "reason");
    let decision = match decision_text.as_str() {
        "approve" => Some(Decision::Approve),
        "reject" => Some(Decision::Reject(reason.clone())),
        // Neither button: nothing is decided.
        _ => {
            checks.push(FieldError::new("field.decision", "error.choose_one"));
            None
        }
    };
    let (ids, decision) = match (checks.finish(), decision) {
        (Ok(()), Some(decision)) => (rows, decision),
        (refused, _) => {
            let e = refused
                .err()
                .unwrap_or_else(|| FieldError::new("field.decision", "error.choose_one"));
            let ticked = form
                .iter()
                .filter(|(k, _)| k == "id")
                .map(|(_, v)| v.clone())
                .collect();
            let refused = Refusals::whole(lang, ticked, reason, &e);
            return queue_page(req, user, state, filter, refused).await;
        }
    };
    let day = today(&state);
    let u = user.actor();
    let result = twice
        .run(&state, move |c| {
            let (done, failed) = aw::review_many(c, &u, &ids, &decision, day)?;
            let failed: Vec<(String, FieldError)> = failed
                .into_iter()
                .map(|(id, e)| (id.into_string(), e))
                .collect();
            Ok((done, failed))
        })
        .await;
    match result {
        Ok((done, failed)) if failed.is_empty() => Ok(flash_ok(
            &req,
            &back,
            "flash.reviewed",
            &[("n", done.to_string())],
        )),
        Ok((done, failed)) => {
            // Each award that could not be decided is named once (its
            // household), with why; it stays ticked for another try. A
            // refused reason is said once, beside the reason.
            // An award outside the reviewer's area is never named: its
            // household is not the reviewer's to see.
            let not_yours = |e: &FieldError| e.key == "error.household_not_yours";
            let ticked: Vec<String> = failed.iter().map(|(id, _)| id.clone()).collect();
            let names: std::collections::HashMap<String, String> = run(&state, {
                let ids: Vec<String> = failed
                    .iter()
                    .filter(|(_, e)| !not_yours(e))
                    .map(|(id, _)| id.clone())
                    .collect();
                move |c| Ok(aw::household_names(c, &ids)?)
            })
            .await?
            .into_iter()
            .collect();
            let conflict = failed.iter().all(|(_, e)| e.conflict.is_some());
            let reason_error = failed
                .iter()
                .find(|(_, e)| e.field == "field.reason")
                .map(|(_, e)| crate::i18n::field_error(lang, e));
            let mut lines = vec![(
                String::new(),
                crate::i18n::tf(lang, "flash.reviewed", &[("n", done.to_string())]),
            )];
            lines.extend(
                failed
                    .iter()
                    .filter(|(_, e)| e.field != "field.reason")
                    .map(|(id, e)| {
                        if not_yours(e) {
                            (
                                String::new(),
                                crate::i18n::t(lang, "error.award_not_yours").to_string(),
                            )
                        } else {
                            (
                                names.get(id).cloned().unwrap_or_default(),
                                crate::i18n::tf(lang, e.key, &e.args),
                            )
                        }
                    }),
            );
            let refused = Refusals {
                ticked,
                lines,
                reason,
                reason_error,
                conflict,
                filter: FormErrors::default(),
            };
            queue_page(req, user, state, filter, refused).await
        }
        Err(e) => or_flash(&req, &back, Err(e)),
    }
}

#[derive(Deserialize, serde::Serialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    version: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for ReasonForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "reason" => "field.reason",
            _ => return None,
        })
    }
}

/// The household an award belongs to: its page holds the award's forms.
async fn household_of(state: &AppState, award_id: &AwardId) -> Result<HouseholdId, AppError> {
    let aid = award_id.clone();
    run(state, move |c| {
        Ok(aw::find(c, &aid)?.map(|a| a.household_id))
    })
    .await?
    .ok_or(AppError::NotFound)
}

/// Reverse an accepted award, with a reason; a refusal comes back on the
/// household's page, the reason typed kept in the award's row.
pub async fn reverse(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<ReasonForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::ReverseAwards)?;
    let id: AwardId = path_id(&id)?;
    let day = today(&state);
    let u = user.actor();
    let typed = form.0;
    let seen = seen_version(&typed.version);
    let reason = typed.reason.clone();
    let household = household_of(&state, &id).await?;
    let back = format!("/households/{household}");
    let aid = id.clone();
    let result = form
        .1
        .run(&state, move |c| {
            Ok(aw::reverse_seen(c, &u, &aid, &reason, Some(seen?), day)?)
        })
        .await
        .map(|_| flash_ok(&req, &back, "flash.award_reversed", &[]));
    let form_name = format!("reverse-{id}");
    super::households::or_again_on_household(req, user, state, household, form_name, &typed, result)
        .await
}

#[derive(Deserialize, serde::Serialize)]
pub struct ObjectForm {
    #[serde(default)]
    objection: String,
    #[serde(default)]
    back: String,
    #[serde(default)]
    version: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for ObjectForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "objection" => "field.objection",
            _ => return None,
        })
    }
}

/// Object to an award on notice; a refusal comes back on the household's
/// page, the objection typed kept in the award's row.
pub async fn object(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<ObjectForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::ObjectToAwards)?;
    let id: AwardId = path_id(&id)?;
    let typed = form.0;
    let back = super::misc::safe_back(&typed.back);
    let household = household_of(&state, &id).await?;
    let u = user.actor();
    let tz = state.config.time_zone;
    let (aid, objection, version) = (id.clone(), typed.objection.clone(), typed.version.clone());
    let result = form
        .1
        .run(&state, move |c| {
            Ok(aw::object_seen(
                c,
                &u,
                &aid,
                &objection,
                Some(seen_version(&version)?),
                tz,
            )?)
        })
        .await
        .map(|_| flash_ok(&req, &back, "flash.award_objected", &[]));
    let form_name = format!("object-{id}");
    super::households::or_again_on_household(req, user, state, household, form_name, &typed, result)
        .await
}

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    #[serde(default)]
    village_id: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// The filter's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for NoticeQuery {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "village_id" => "field.village",
            "from" => "field.from",
            "to" => "field.to",
            _ => return None,
        })
    }

    fn holds_id(name: &str) -> bool {
        matches!(name, "village_id")
    }
}

#[derive(Template)]
#[template(path = "awards/notice.html")]
struct NoticePage<'a> {
    ctx: &'a PageCtx,
    villages: Vec<Area>,
    village: Option<Area>,
    rows: Vec<AwardRow>,
    from: String,
    to: String,
    notice_start: String,
    notice_end: String,
    /// The filter refused: each message beside its field; no notice is
    /// shown then.
    errors: FormErrors,
    /// The period's boxes: what was typed when the filter was refused,
    /// else the period shown; the village asked for.
    from_typed: String,
    to_typed: String,
    village_typed: String,
}

impl NoticePage<'_> {
    fn total(&self) -> i64 {
        self.rows.iter().map(|r| r.award.points).sum()
    }
}

/// The public notice (公示) of a village for a period, for the notice board.
pub async fn notice(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: Filter<NoticeQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ViewNotice)?;
    let Filter(q, twice) = q;
    let day = today(&state);
    let lang = lang_of(&req);
    let (month_start, _) = points::Period::Month.window(day);
    // Every field that does not read is named beside it (422), what was
    // typed kept; a field sent twice is, its first value kept.
    let mut checks = crate::domain::FieldChecks::new();
    if let Err(e) = twice.check() {
        checks.push(e);
    }
    let from = checks
        .take(points::parse_date("field.from", &q.from))
        .flatten()
        .unwrap_or(month_start);
    let to = checks
        .take(points::parse_date("field.to", &q.to))
        .flatten()
        .unwrap_or(day);
    let actor = user.actor();
    let vid = q.village_id.trim().to_string();
    let (villages, village, rows, notice_days) = run(&state, move |c| {
        let villages = households::villages_in_scope(c, &actor)?;
        // Only a village of the picker: named as there, with its town from
        // above town level; any other is no village to this reader.
        let village = if vid.is_empty() {
            None
        } else {
            areas::find(c, &vid)?.and_then(|mut v| {
                let shown = villages.iter().find(|x| x.id == v.id)?;
                v.name = shown.name.clone();
                Some(v)
            })
        };
        let rows = match &village {
            Some(v) if from <= to => aw::notice(c, &actor, &v.path, from, to)?,
            _ => Vec::new(),
        };
        Ok((
            villages,
            village,
            rows,
            crate::settings::get(c, crate::settings::NOTICE_DAYS)?,
        ))
    })
    .await?;
    // A village asked that is none of the picker's is refused beside it,
    // never the picker again as if none were asked.
    if !q.village_id.trim().is_empty() && village.is_none() {
        checks.push(crate::domain::FieldError::new(
            "field.village",
            "error.area_unknown",
        ));
    }
    // A period that ends before it starts lists nothing: it is refused on
    // its end date.
    let refusal = match checks.finish() {
        Ok(()) if to < from => Some(crate::domain::FieldError::new(
            "field.to",
            "error.period_backwards",
        )),
        Ok(()) => None,
        Err(e) => Some(e),
    };
    let errors = FormErrors::maybe(lang, refusal.as_ref());
    let refused = !errors.is_empty();
    let ctx = PageCtx::build(&req, Some(&user));
    let status = errors.status();
    crate::web::page::render_with_status(
        &ctx,
        &NoticePage {
            ctx: &ctx,
            villages,
            village,
            rows,
            from_typed: if refused {
                q.from.clone()
            } else {
                from.to_string()
            },
            to_typed: if refused {
                q.to.clone()
            } else {
                to.to_string()
            },
            village_typed: q.village_id.trim().to_string(),
            from: from.to_string(),
            to: to.to_string(),
            notice_start: day.to_string(),
            notice_end: (day + chrono::Duration::days(notice_days.max(7))).to_string(),
            errors,
        },
        status,
    )
}
