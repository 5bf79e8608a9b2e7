use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::StreamExt;
use serde::Deserialize;

use crate::areas::Area;
use crate::auth::Action;
use crate::domain::{CardNo, FieldError, HouseholdId};
use crate::error::path_id;
use crate::households::import::{self, ImportState, Job, Report};
use crate::households::{
    self, CardLookup, HouseholdForm, HouseholdRow, ListFilter, Secret, Sort, Status, StatusChange,
};
use crate::web::extract::{Filter, lang_of, verify_csrf};
use crate::web::form::FormErrors;
use crate::web::page::{
    PageCtx, PastEnd, flash_field_error, flash_ok, or_flash, render, render_with_status,
};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, run};

#[derive(Deserialize, Default, Clone)]
pub struct ListQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub area_id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub helper_id: String,
    #[serde(default)]
    pub archived: String,
    #[serde(default)]
    pub sort: String,
    /// A page number that does not read is page 1.
    #[serde(default, deserialize_with = "crate::web::extract::page_number")]
    pub page: Option<i64>,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for ListQuery {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "q" => "households.search",
            "area_id" => "field.village",
            "status" => "field.status",
            "helper_id" => "field.helper",
            "sort" => "households.sort",
            "archived" => "households.archived",
            _ => return None,
        })
    }

    fn holds_id(name: &str) -> bool {
        matches!(name, "area_id" | "helper_id")
    }

    fn is_choice(name: &str, value: &str) -> Option<bool> {
        match name {
            "status" => Some(Status::parse(value).is_some()),
            "sort" => Some(matches!(value, "name" | "village" | "newest")),
            "archived" => Some(matches!(value, "0" | "1")),
            _ => None,
        }
    }
}

/// The longest text a list filter may carry into an address, in characters.
const MAX_FILTER_CHARS: usize = 100;

impl ListQuery {
    /// The search's fields, each with the label its message uses.
    fn fields(&self) -> [(&'static str, &String); 6] {
        [
            ("households.search", &self.q),
            ("field.village", &self.area_id),
            ("field.status", &self.status),
            ("field.helper", &self.helper_id),
            ("households.archived", &self.archived),
            ("households.sort", &self.sort),
        ]
    }

    /// Every field longer than an address may carry, or holding control
    /// characters (a NUL never reaches a query), each refused beside it.
    fn over_long(&self) -> Option<FieldError> {
        let mut checks = crate::domain::FieldChecks::new();
        for (field, v) in self.fields() {
            if crate::domain::has_control_chars(v) {
                checks.push(FieldError::new(field, "error.control_chars"));
            } else if v.chars().count() > MAX_FILTER_CHARS {
                checks.push(FieldError::new(field, "error.too_long").arg("max", MAX_FILTER_CHARS));
            }
        }
        checks.finish().err()
    }
    fn filter(&self) -> ListFilter {
        ListFilter {
            q: self.q.trim().chars().take(40).collect(),
            area_id: Some(self.area_id.trim().to_string()).filter(|s| !s.is_empty()),
            status: Status::parse(&self.status),
            helper_id: Some(self.helper_id.trim().to_string()).filter(|s| !s.is_empty()),
            include_archived: self.archived == "1",
            sort: Sort::parse(&self.sort),
        }
    }

    /// The same filter as a query string, for links (pages, exports,
    /// cards); `page` is the 0-based index, written as people count it.
    pub fn link(&self, page: Option<i64>) -> String {
        let mut q = vec![
            ("q", self.q.clone()),
            ("area_id", self.area_id.clone()),
            ("status", self.status.clone()),
            ("helper_id", self.helper_id.clone()),
            ("archived", self.archived.clone()),
            ("sort", self.sort.clone()),
        ];
        if let Some(p) = page {
            q.push(("page", crate::web::extract::page_param(p)));
        }
        q.retain(|(_, v)| !v.is_empty());
        serde_urlencoded::to_string(q).unwrap_or_default()
    }
}

#[derive(Template)]
#[template(path = "households/list.html")]
struct ListPage<'a> {
    ctx: &'a PageCtx,
    rows: Vec<HouseholdRow>,
    total: i64,
    page: i64,
    pages: i64,
    q: ListQuery,
    /// The search box's text: the list's search, or a refused one (never
    /// in the page's links).
    typed: String,
    /// Why the search typed was refused, beside the search box.
    search_error: Option<String>,
    /// A village or helper that is not an id, beside its picker.
    village_error: Option<String>,
    helper_error: Option<String>,
    /// A status, sort or archived value outside the field's choices,
    /// beside its field.
    status_error: Option<String>,
    sort_error: Option<String>,
    archived_error: Option<String>,
    /// A status or sort outside the choices, kept selected beside its
    /// message (the list is not filtered or sorted by it).
    kept_status: Option<String>,
    kept_sort: Option<String>,
    /// A page asked past the last: said so, with the first page's link.
    past_end: Option<PastEnd>,
    villages: Vec<Area>,
    helpers: Vec<(String, String)>,
    statuses: [Status; 3],
    notice: Option<String>,
    can_edit: bool,
    can_import: bool,
}

/// The list's search form, posted: what was typed reaches the server in
/// the body, so an ID number never stands in an address or in the list's
/// links (docs/domain.md). A full ID number opens its household when the
/// person may see it, or comes back to the list saying none was found;
/// anything else goes on to the list's address with the other filters.
///
/// Errors: `Forbidden` for a role that may not see households.
pub async fn find(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::ViewHouseholds)?;
    let mut q = form.0;
    q.page = None;
    if let Err(e) = form.1.check() {
        let shown = std::mem::take(&mut q.q);
        return list_page(req, user, state, q, Some((shown, e))).await;
    }
    // No address carries typed text beyond a sane length or text no one
    // types: such a field is refused here, beside the search box, naming it.
    if let Some(e) = q.over_long() {
        let shown = std::mem::take(&mut q.q);
        q.area_id.clear();
        q.status.clear();
        q.helper_id.clear();
        q.archived.clear();
        q.sort.clear();
        return list_page(req, user, state, q, Some((shown, e))).await;
    }
    let typed = crate::domain::input::normalize(q.q.trim());
    let id = match crate::domain::IdNumber::parse("field.id_number", &typed) {
        Ok(id) => id,
        // A mistyped ID number is still one: it is answered here, on the
        // list with the message beside the search, never put in an address.
        Err(e) if crate::domain::people::looks_like_id_number(&typed) => {
            let shown = std::mem::take(&mut q.q);
            return list_page(req, user, state, q, Some((shown, e))).await;
        }
        // A phone, a birth date, part of an ID number: the list for it is
        // answered here, the text only in the search box.
        Err(_) if crate::domain::people::looks_personal(&typed) => {
            return list_searched(req, user, state, q).await;
        }
        Err(_) => {
            return Ok(crate::web::middleware::see_other(&format!(
                "/households?{}",
                q.link(None)
            )));
        }
    };
    let actor = user.actor();
    let key = state.key.clone();
    let found = run(&state, move |c| {
        Ok(households::find::by_id_number(c, &actor, &key, &id)?)
    })
    .await?;
    q.q = String::new();
    Ok(match found {
        Some(h) => crate::web::middleware::see_other(&format!("/households/{h}")),
        None => crate::web::page::redirect_with_flash(
            &req,
            &format!("/households?{}", q.link(None)),
            crate::web::page::FlashKind::Error,
            crate::i18n::t(lang_of(&req), "households.no_id_match").to_string(),
        ),
    })
}

pub async fn list(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: Filter<ListQuery>,
) -> Result<HttpResponse, AppError> {
    // A filter field sent twice is refused like a mistyped search: the
    // list's form holds the first value, the message beside the search.
    let crate::web::extract::Filter(q, twice) = q;
    let refused = twice.check().err().map(|e| (q.q.clone(), e));
    let kept = KeptChoices {
        status: twice.refused_choice("status"),
        sort: twice.refused_choice("sort"),
    };
    list_page_of(req, user, state, q, refused, false, kept).await
}

/// The list filter's selects whose value was refused (outside their
/// choices), shown back selected and flagged.
#[derive(Default)]
struct KeptChoices {
    status: Option<String>,
    sort: Option<String>,
}

/// The list for the search `q.q` answered on the page (200): the text
/// stands in the search box only, never in the page's links, which keep
/// the other filters.
async fn list_searched(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: ListQuery,
) -> Result<HttpResponse, AppError> {
    list_page_of(req, user, state, q, None, true, KeptChoices::default()).await
}

/// The list for `q`; `refused_search` is a search refused on the page (a
/// mistyped ID number): what was typed, shown in the search box only (422),
/// and why, beside it.
async fn list_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: ListQuery,
    refused_search: Option<(String, FieldError)>,
) -> Result<HttpResponse, AppError> {
    list_page_of(
        req,
        user,
        state,
        q,
        refused_search,
        false,
        KeptChoices::default(),
    )
    .await
}

/// As `list_page`; with `search_in_body`, the search is taken out of `q`
/// once the filter is made, so that it stands in no link.
async fn list_page_of(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    mut q: ListQuery,
    mut refused_search: Option<(String, FieldError)>,
    search_in_body: bool,
    kept: KeptChoices,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ViewHouseholds)?;
    let filter = q.filter();
    let searched = if search_in_body {
        Some(std::mem::take(&mut q.q))
    } else {
        None
    };
    let page = q.page.unwrap_or(0).max(0);
    let actor = user.actor();
    let card = CardNo::parse("field.card_no", &q.q).ok();
    let (rows, total, villages, helpers, lookup) = run(&state, move |c| {
        let (rows, total) = households::list(c, &actor, &filter, page, households::PAGE_SIZE)?;
        let lookup = match &card {
            Some(card) => Some(households::lookup_card_for(c, &actor, card)?),
            None => None,
        };
        Ok((
            rows,
            total,
            households::villages_in_scope(c, &actor)?,
            households::helpers(c, &actor)?,
            lookup,
        ))
    })
    .await?;
    // A card number that finds exactly one household opens it.
    if refused_search.is_none() && lookup.is_some() && rows.len() == 1 && total == 1 {
        return Ok(crate::web::middleware::see_other(&format!(
            "/households/{}",
            rows[0].household.id
        )));
    }
    // A page past the last (an old link, a shrunk list) says so, with a
    // link to the first.
    let pages = (total + households::PAGE_SIZE - 1) / households::PAGE_SIZE;
    let lang = lang_of(&req);
    let past_end = PastEnd::of(lang, page, pages, format!("/households?{}", q.link(None)));
    let notice = match lookup {
        Some(CardLookup::Replaced { .. }) => Some(crate::i18n::tf(
            lang,
            "households.card_replaced",
            &[("card", q.q.trim().to_string())],
        )),
        Some(CardLookup::Unknown) => Some(crate::i18n::tf(
            lang,
            "households.card_unknown",
            &[("card", q.q.trim().to_string())],
        )),
        _ => None,
    };
    let ctx = PageCtx::build(&req, Some(&user));
    // A village or helper refused stands beside its picker; anything
    // else refused in the filter beside the search.
    let (typed, errors) = match refused_search.take() {
        Some((typed, e)) => (typed, FormErrors::new(lang, &e)),
        None => (
            searched.unwrap_or_else(|| q.q.clone()),
            FormErrors::default(),
        ),
    };
    let village_error = errors.of("field.village");
    let helper_error = errors.of("field.helper");
    let status_error = errors.of("field.status");
    let sort_error = errors.of("households.sort");
    let archived_error = errors.of("households.archived");
    let others: Vec<&str> = errors
        .all()
        .iter()
        .filter(|e| {
            !matches!(
                e.field,
                "field.village"
                    | "field.helper"
                    | "field.status"
                    | "households.sort"
                    | "households.archived"
            )
        })
        .map(|e| e.text.as_str())
        .collect();
    let search_error = (!others.is_empty()).then(|| others.join(" "));
    let status = if !errors.is_empty() {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        actix_web::http::StatusCode::OK
    };
    let status = PastEnd::status(&past_end, status);
    render_with_status(
        &ctx,
        &ListPage {
            ctx: &ctx,
            pages,
            rows,
            total,
            page,
            q,
            typed,
            search_error,
            village_error,
            helper_error,
            status_error,
            sort_error,
            archived_error,
            kept_status: kept.status,
            kept_sort: kept.sort,
            past_end,
            villages,
            helpers,
            statuses: Status::ALL,
            notice,
            can_edit: user.can(Action::EditHouseholds),
            can_import: user.can(Action::ImportHouseholds),
        },
        status,
    )
}

#[derive(Template)]
#[template(path = "households/form.html")]
struct FormPage<'a> {
    ctx: &'a PageCtx,
    /// None for a new household.
    household: Option<HouseholdRow>,
    /// What the form shows: the household's values, or what was typed.
    values: HouseholdForm,
    errors: FormErrors,
    villages: Vec<Area>,
    helpers: Vec<(String, String)>,
    statuses: [Status; 3],
}

impl FormPage<'_> {
    fn selected_area(&self, id: &str) -> bool {
        self.values.area_id == id
    }
    fn selected_helper(&self, id: &str) -> bool {
        self.values.helper_id == id
    }
    /// The values the edit form showed when opened, carried as hidden
    /// `seen.<name>` fields: (name, value).
    fn seen_fields(&self) -> Vec<(&'static str, &str)> {
        let v = &self.values;
        [
            ("head_name", &v.seen_head_name),
            ("area_id", &v.seen_area_id),
            ("address", &v.seen_address),
            ("members", &v.seen_members),
            ("status", &v.seen_status),
            ("helper_id", &v.seen_helper_id),
            ("notes", &v.seen_notes),
        ]
        .into_iter()
        .filter_map(|(name, seen)| seen.as_deref().map(|s| (name, s)))
        .collect()
    }
    fn selected_status(&self, s: &Status) -> bool {
        match Status::parse(&self.values.status) {
            Some(v) => v == *s,
            None => self.values.status.trim().is_empty() && *s == Status::Registered,
        }
    }
    /// A typed status, village or helper that is none of the choices:
    /// shown back selected and marked beside its message, so that saving
    /// again never sets a value nobody chose. None when it is a choice or
    /// empty.
    fn refused_status(&self) -> Option<&str> {
        // Read as the form reads it (Chinese names of the types too).
        let v = self.values.status.trim();
        (!v.is_empty() && Status::parse(v).is_none()).then_some(v)
    }
    fn refused_area(&self) -> Option<&str> {
        crate::web::form::unoffered(
            &self.values.area_id,
            self.villages.iter().map(|a| a.id.as_str()),
        )
    }
    fn refused_helper(&self) -> Option<&str> {
        crate::web::form::unoffered(
            &self.values.helper_id,
            self.helpers.iter().map(|(id, _)| id.as_str()),
        )
    }
}

/// The form's fields filled from a stored household (the ID number and
/// phone stay empty: left empty, they are kept).
fn values_of(h: &HouseholdRow) -> HouseholdForm {
    let h = &h.household;
    let mut f = HouseholdForm {
        head_name: h.head_name.clone(),
        area_id: h.area_id.clone(),
        address: h.address.clone(),
        members: h.members.to_string(),
        status: h.status.clone(),
        helper_id: h.helper_id.clone().unwrap_or_default(),
        notes: h.notes.clone(),
        version: h.version.to_string(),
        seen_phone: Some(h.phone_masked.clone()),
        seen_id_number: Some(h.id_masked.clone()),
        ..HouseholdForm::default()
    };
    let now = f.clone();
    seen_now(&mut f, &now);
    f
}

/// The edit form's record of what it shows (`seen.*`, and the version):
/// that of `now`, the household as it is saved now.
fn seen_now(f: &mut HouseholdForm, now: &HouseholdForm) {
    f.version = now.version.clone();
    f.seen_phone = now.seen_phone.clone();
    f.seen_id_number = now.seen_id_number.clone();
    f.seen_head_name = Some(now.head_name.clone());
    f.seen_area_id = Some(now.area_id.clone());
    f.seen_address = Some(now.address.clone());
    f.seen_members = Some(now.members.clone());
    f.seen_status = Some(now.status.clone());
    f.seen_helper_id = Some(now.helper_id.clone());
    f.seen_notes = Some(now.notes.clone());
}

/// Whether a refusal says the household was saved by someone else after
/// the form was opened.
fn changed_meanwhile(e: &crate::domain::FieldError) -> bool {
    e.all().iter().any(|f| {
        f.field == "field.household" && f.conflict == Some(crate::domain::Conflict::Changed)
    })
}

/// The refusal `e`, and beside each field whose saved value (`h`, as it is
/// now) differs from what the form showed when it was opened (`typed`'s
/// `seen.*`; what was typed, from a form that does not say), that value in
/// words: a village or helper by name, a status by its label. A field the
/// person changed and nobody else did is not flagged. The ID number and
/// phone, which an empty box keeps, are said when they changed since the
/// form showed them (`seen.id_number`, `seen.phone`), masked as stored
/// (`domain::people`'s one mask each), never in full.
fn with_saved_values(
    e: &crate::domain::FieldError,
    typed: &HouseholdForm,
    h: &HouseholdRow,
    villages: &[Area],
    helpers: &[(String, String)],
    lang: crate::i18n::Lang,
) -> crate::domain::FieldError {
    let now = values_of(h);
    let area = |id: &str| {
        villages
            .iter()
            .find(|a| a.id == id)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| h.village.clone())
    };
    let helper = |id: &str| {
        helpers
            .iter()
            .find(|(x, _)| x == id)
            .map(|(_, name)| name.clone())
            .unwrap_or_default()
    };
    let status = |s: &str| {
        Status::ALL
            .iter()
            .find(|x| x.as_str() == s)
            .map(|x| crate::i18n::t(lang, x.label_key()).to_string())
            .unwrap_or_else(|| s.to_string())
    };
    // What the form showed, else (a form that does not say) what was typed.
    let seen =
        |shown: &Option<String>, typed: &str| shown.clone().unwrap_or_else(|| typed.to_string());
    let fields: [(&'static str, String, &str, String); 7] = [
        (
            "field.head_name",
            seen(&typed.seen_head_name, &typed.head_name),
            &now.head_name,
            now.head_name.clone(),
        ),
        (
            "field.village",
            seen(&typed.seen_area_id, &typed.area_id),
            &now.area_id,
            area(&now.area_id),
        ),
        (
            "field.address",
            seen(&typed.seen_address, &typed.address),
            &now.address,
            now.address.clone(),
        ),
        (
            "field.members",
            seen(&typed.seen_members, &typed.members),
            &now.members,
            now.members.clone(),
        ),
        (
            "field.status",
            seen(&typed.seen_status, &typed.status),
            &now.status,
            status(&now.status),
        ),
        (
            "field.helper",
            seen(&typed.seen_helper_id, &typed.helper_id),
            &now.helper_id,
            helper(&now.helper_id),
        ),
        (
            "field.notes",
            seen(&typed.seen_notes, &typed.notes),
            &now.notes,
            now.notes.clone(),
        ),
    ];
    // "Saved meanwhile as …" beside `field`, an empty value said in words.
    let saved_as = |field: &'static str, shown: &str| {
        let shown = if shown.trim().is_empty() {
            crate::i18n::t(lang, "households.saved_empty").to_string()
        } else {
            shown.to_string()
        };
        crate::domain::FieldError::conflict(
            field,
            "error.saved_meanwhile_as",
            crate::domain::Conflict::Changed,
        )
        .arg("value", shown)
    };
    let mut checks = crate::domain::FieldChecks::new();
    checks.push(e.clone());
    for (field, seen, saved, shown) in fields {
        if seen.trim() != saved.trim() {
            checks.push(saved_as(field, &shown));
        }
    }
    let masked = [
        (
            "field.id_number",
            typed.seen_id_number.as_deref(),
            &h.household.id_masked,
        ),
        (
            "field.phone",
            typed.seen_phone.as_deref(),
            &h.household.phone_masked,
        ),
    ];
    for (field, seen, now) in masked {
        if let Some(seen) = seen
            && seen.trim() != now.trim()
        {
            checks.push(saved_as(field, now));
        }
    }
    checks.finish().err().unwrap_or_else(|| e.clone())
}

/// The registration or edit form; `typed` is a refused submission shown
/// again with what was typed and every error beside its field (422).
async fn form_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: Option<HouseholdId>,
    typed: Option<(HouseholdForm, crate::domain::FieldError)>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::EditHouseholds)?;
    let actor = user.actor();
    let (household, villages, helpers) = run(&state, move |c| {
        let household = match id {
            Some(id) => Some(households::find(c, &actor, &id)?),
            None => None,
        };
        Ok((
            household,
            households::villages_in_scope(c, &actor)?,
            households::helpers(c, &actor)?,
        ))
    })
    .await?;
    let mut helpers = helpers;
    // A helper assigned from above the person's scope stays shown (and so
    // kept by a save), though they may not pick it for another household.
    if let Some(h) = &household
        && let (Some(id), Some(name)) = (&h.household.helper_id, &h.helper)
        && !helpers.iter().any(|(x, _)| x == id)
    {
        helpers.push((id.clone(), name.clone()));
    }
    let ctx = PageCtx::build(&req, Some(&user));
    let (values, errors) = match typed {
        Some((mut f, e)) => {
            // Changed by someone else since the form was opened: each
            // field whose saved value is now other than what the form
            // showed says so beside it, and saved again, the form is
            // checked against the household as it is now (what it says
            // was seen). Any other refusal keeps what the form showed, so
            // a change saved meanwhile is still caught at the next save.
            let e = match &household {
                Some(h) if changed_meanwhile(&e) => {
                    let e = with_saved_values(&e, &f, h, &villages, &helpers, ctx.lang);
                    seen_now(&mut f, &values_of(h));
                    e
                }
                _ => e,
            };
            (f, FormErrors::new(ctx.lang, &e))
        }
        None => (
            household.as_ref().map(values_of).unwrap_or_default(),
            FormErrors::default(),
        ),
    };
    let status = errors.status();
    render_with_status(
        &ctx,
        &FormPage {
            ctx: &ctx,
            household,
            values,
            errors,
            villages,
            helpers,
            statuses: Status::ALL,
        },
        status,
    )
}

pub async fn new_form(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    form_page(req, user, state, None, None).await
}

pub async fn edit_form(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::EditHouseholds)?;
    let id = path_id(&id)?;
    form_page(req, user, state, Some(id), None).await
}

pub async fn create(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<HouseholdForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::EditHouseholds)?;
    let f = form.0;
    let typed = f.clone();
    let actor = user.actor();
    let key = state.key.clone();
    let result = form
        .1
        .run(&state, move |c| {
            let input = households::parse_form(c, &actor, &key, &f, None)?;
            Ok(households::create(c, &actor, &key, &input)?)
        })
        .await;
    match result {
        Ok((id, card)) => Ok(flash_ok(
            &req,
            &format!("/households/{id}"),
            "flash.household_created",
            &[("card", card.grouped())],
        )),
        Err(AppError::Invalid(e)) => form_page(req, user, state, None, Some((typed, e))).await,
        Err(e) => Err(e),
    }
}

pub async fn update(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<HouseholdForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::EditHouseholds)?;
    let id: HouseholdId = path_id(&id)?;
    let f = form.0;
    let typed = f.clone();
    let actor = user.actor();
    let key = state.key.clone();
    let target = id.clone();
    let today = crate::time::today(state.config.time_zone);
    let result = form
        .1
        .run(&state, move |c| {
            // The edit names the version it was made on: a page form must
            // carry it (the API may leave it out; `parse_form` reads it).
            let row = households::find(c, &actor, &target)?;
            let input = households::parse_form(c, &actor, &key, &f, Some(&row.household))?;
            crate::web::form::seen_version(&f.version)?;
            Ok(households::update(c, &actor, &key, &target, &input, today)?)
        })
        .await;
    match result {
        Ok(changed) => {
            let key = if changed.is_empty() {
                "flash.nothing_changed"
            } else {
                "flash.household_updated"
            };
            Ok(flash_ok(&req, &format!("/households/{id}"), key, &[]))
        }
        Err(AppError::Invalid(e)) => form_page(req, user, state, Some(id), Some((typed, e))).await,
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "households/detail.html")]
struct DetailPage<'a> {
    ctx: &'a PageCtx,
    /// Whether the reader may open a receipt (officials and reviewers may not).
    can_open_redemptions: bool,
    /// A refused form of the page (`"adjust"`), shown again.
    refused: crate::web::form::Refused,
    row: HouseholdRow,
    history: Vec<StatusChange>,
    old_cards: Vec<(String, Option<chrono::NaiveDateTime>)>,
    qr_svg: String,
    revealed_id: Option<String>,
    revealed_phone: Option<String>,
    can_edit: bool,
    can_reveal: bool,
    balance: i64,
    awards: Vec<crate::points::awards::AwardRow>,
    can_propose: bool,
    can_reverse: bool,
    can_object: bool,
    can_adjust: bool,
    adjust_key: String,
    redemptions: Vec<(crate::redemptions::Redemption, String)>,
}

impl DetailPage<'_> {
    fn card_grouped(&self) -> String {
        self.row
            .card_no
            .as_deref()
            .and_then(|c| CardNo::parse("c", c).ok())
            .map(|c| c.grouped())
            .unwrap_or_default()
    }
}

/// The QR code of a card, drawn here as SVG: the household's page at the
/// public address when one is configured (the counter's scanner reads the
/// card number out of it), else the card number alone.
pub fn qr_svg(card: &str, public_url: Option<&str>) -> String {
    let content = match public_url {
        Some(base) => format!("{base}/h/{card}"),
        None => card.to_string(),
    };
    match qrcode::QrCode::new(content.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(120, 120)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

async fn detail_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: HouseholdId,
    reveal: Option<Secret>,
    refused: crate::web::form::Refused,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ViewHouseholds)?;
    if reveal.is_some() {
        user.require(Action::RevealPersonalData)?;
    }
    let actor = user.actor();
    let key = state.key.clone();
    let (row, history, old_cards, revealed, balance, awards, redemptions) = run(&state, move |c| {
        let row = households::find(c, &actor, &id)?;
        let revealed = match reveal {
            Some(what) => Some((what, households::reveal(c, &actor, &key, &id, what)?)),
            None => None,
        };
        let balance = crate::ledger::balance(c, &crate::ledger::household_account(&id))?;
        let awards = crate::points::awards::for_household(c, &id)?;
        let redemptions = crate::redemptions::for_household(c, &id)?;
        Ok((
            row,
            households::status_history(c, &id)?,
            households::old_cards(c, &id)?,
            revealed,
            balance,
            awards,
            redemptions,
        ))
    })
    .await?;
    let ctx = PageCtx::build(&req, Some(&user));
    let url = state.config.public_url.as_deref();
    let qr = row
        .card_no
        .as_deref()
        .map(|card| qr_svg(card, url))
        .unwrap_or_default();
    let (revealed_id, revealed_phone) = match revealed {
        Some((Secret::IdNumber, v)) => (Some(v), None),
        Some((Secret::Phone, v)) => (None, Some(v)),
        None => (None, None),
    };
    let status = refused.status();
    render_with_status(
        &ctx,
        &DetailPage {
            ctx: &ctx,
            row,
            history,
            old_cards,
            qr_svg: qr,
            revealed_id,
            revealed_phone,
            can_edit: user.can(Action::EditHouseholds),
            can_reveal: user.can(Action::RevealPersonalData),
            balance,
            awards,
            can_propose: user.can(Action::ProposeAwards),
            can_reverse: user.can(Action::ReverseAwards),
            can_object: user.can(Action::ObjectToAwards),
            can_adjust: user.can(Action::AdjustPoints),
            can_open_redemptions: user.can(Action::ViewRedemptions),
            adjust_key: super::stock::form_key(),
            redemptions,
            refused,
        },
        status,
    )
}

/// A form on the household's page answered: a refusal comes back on that
/// page, as form `form` there, with what was typed (`typed`) and its
/// messages; anything else passes.
pub(super) async fn or_again_on_household<T: serde::Serialize>(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    household: HouseholdId,
    form: impl Into<String>,
    typed: &T,
    result: Result<HttpResponse, AppError>,
) -> Result<HttpResponse, AppError> {
    crate::web::form::or_again(lang_of(&req), form, typed, result, |r| {
        detail_page(req, user, state, household, None, r)
    })
    .await
}

pub async fn detail(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ViewHouseholds)?;
    let id = path_id(&id)?;
    detail_page(req, user, state, id, None, Default::default()).await
}

#[derive(Deserialize, serde::Serialize)]
pub struct RevealForm {
    #[serde(default)]
    what: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for RevealForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "what" => "field.reveal",
            _ => return None,
        })
    }
}

/// Show the full ID number (`what=id`) or phone (`what=phone`), on request
/// (POST: it is audited). Any other `what`, or `what` sent twice, reveals
/// nothing: the household's page comes back (422) saying so.
pub async fn reveal(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<RevealForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::RevealPersonalData)?;
    let id = path_id(&id)?;
    let what = match form.0.what.as_str() {
        "phone" => Ok(Secret::Phone),
        "id" => Ok(Secret::IdNumber),
        _ => Err(FieldError::new("field.reveal", "error.reveal_what")),
    };
    match form.1.check().and(what) {
        Ok(what) => detail_page(req, user, state, id, Some(what), Default::default()).await,
        Err(e) => {
            let refused = crate::web::form::Refused::of(lang_of(&req), "reveal", &form.0, &e);
            detail_page(req, user, state, id, None, refused).await
        }
    }
}

#[derive(Deserialize, serde::Serialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
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

/// Archive (`archived`) or restore a household; a refused archive comes
/// back on the household's page with the reason typed.
async fn set_archived(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: String,
    archived: bool,
    form: CsrfForm<ReasonForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::EditHouseholds)?;
    let (typed, twice) = form.checked();
    let id: HouseholdId = path_id(&id)?;
    let back = format!("/households/{id}");
    let actor = user.actor();
    let (hid, reason) = (id.clone(), typed.reason.clone());
    let result = twice
        .run(&state, move |c| {
            Ok(households::set_archived(
                c, &actor, &hid, archived, &reason,
            )?)
        })
        .await
        .map(|_| {
            flash_ok(
                &req,
                &back,
                if archived {
                    "flash.household_archived"
                } else {
                    "flash.household_restored"
                },
                &[],
            )
        });
    if archived {
        or_again_on_household(req, user, state, id, "archive", &typed, result).await
    } else {
        or_flash(&req, &back, result)
    }
}

pub async fn archive(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<ReasonForm>,
) -> Result<HttpResponse, AppError> {
    set_archived(req, user, state, id.into_inner(), true, form).await
}

pub async fn restore(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<ReasonForm>,
) -> Result<HttpResponse, AppError> {
    set_archived(req, user, state, id.into_inner(), false, form).await
}

/// The reissue form: the card the person saw as current.
#[derive(Deserialize, serde::Serialize)]
pub struct ReissueForm {
    #[serde(default)]
    card: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for ReissueForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "card" => "field.card_no",
            _ => return None,
        })
    }
}

/// Issue the household a new card; a refusal (the card seen no longer
/// current, the field sent twice) comes back on the household's page.
pub async fn reissue_card(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<ReissueForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::EditHouseholds)?;
    let id: HouseholdId = path_id(&id)?;
    let back = format!("/households/{id}");
    let actor = user.actor();
    let key = state.key.clone();
    let (typed, twice) = form.checked();
    let seen = crate::domain::input::normalize(&typed.card);
    let hid = id.clone();
    let result = twice
        .run(&state, move |c| {
            let seen = Some(seen.as_str()).filter(|s| !s.is_empty());
            Ok(households::reissue_card(c, &actor, &key, &hid, seen)?)
        })
        .await
        .map(|card| {
            flash_ok(
                &req,
                &back,
                "flash.card_reissued",
                &[("card", card.grouped())],
            )
        });
    or_again_on_household(req, user, state, id, "card", &typed, result).await
}

/// One printable card, or a sheet of them.
pub struct PrintCard {
    pub row: HouseholdRow,
    pub card: String,
    pub qr_svg: String,
    /// The PIN for reading the balance; None on cards issued before PINs.
    pub pin: Option<String>,
}

#[derive(Template)]
#[template(path = "households/cards.html")]
struct CardsPage<'a> {
    ctx: &'a PageCtx,
    cards: Vec<PrintCard>,
    single: bool,
    /// Whether the PINs are on the page (admins and the households' own
    /// officials, printing); others see the cards without them.
    pins_shown: bool,
    /// The household of a single card, when its PIN may be reset here.
    reset_for: Option<HouseholdId>,
    /// This sheet's page (0-based), how many pages, and the filter's link
    /// for the others (empty for a single card).
    page: i64,
    pages: i64,
    link: String,
    /// A sheet asked past the last: said so, with the first's link.
    past_end: Option<PastEnd>,
}

impl CardsPage<'_> {
    /// Sheet `page` (0-based), its address counting from 1.
    fn page_link(&self, page: i64) -> String {
        format!(
            "/households/cards?{}&page={}",
            self.link,
            crate::web::extract::page_param(page)
        )
    }
}

/// Which sheet of cards a page shows.
enum Sheet {
    /// One household's card; `reset_for` (its id) when its PIN may be
    /// reset here.
    Single { reset_for: Option<HouseholdId> },
    /// Every card on one sheet (an import's new households).
    Whole,
    /// Sheet `page` (0-based) of `pages`; `link` the filter for the others.
    Paged { page: i64, pages: i64, link: String },
}

/// The printable card page: `cards` on `sheet`, with their PINs when
/// `pins_shown`.
fn cards_page(
    req: &HttpRequest,
    user: &CurrentUser,
    cards: Vec<PrintCard>,
    pins_shown: bool,
    sheet: Sheet,
) -> Result<HttpResponse, AppError> {
    let (single, reset_for, page, pages, link) = match sheet {
        Sheet::Single { reset_for } => (true, reset_for, 0, 1, String::new()),
        Sheet::Whole => (false, None, 0, 1, String::new()),
        Sheet::Paged { page, pages, link } => (false, None, page, pages, link),
    };
    let ctx = PageCtx::build(req, Some(user));
    let past_end = match single {
        true => None,
        false => PastEnd::of(ctx.lang, page, pages, format!("/households/cards?{link}")),
    };
    let status = PastEnd::status(&past_end, actix_web::http::StatusCode::OK);
    render_with_status(
        &ctx,
        &CardsPage {
            ctx: &ctx,
            cards,
            single,
            pins_shown,
            reset_for,
            page,
            pages,
            link,
            past_end,
        },
        status,
    )
}

/// The cards of `rows`. A card's PIN is a secret: it is read only when
/// `show_pins` (the viewer may edit these households), and each showing is
/// audited: `card.pin_shown` naming the household for one card,
/// `card.pins_shown` with the count and the first and last card for a
/// sheet.
fn print_cards(
    c: &mut crate::db::DbConn,
    key: &crate::crypto::DataKey,
    public_url: Option<&str>,
    ctx: &crate::auth::Actor,
    rows: Vec<HouseholdRow>,
    show_pins: bool,
) -> diesel::QueryResult<Vec<PrintCard>> {
    let mut out = Vec::new();
    for row in rows {
        let Some(card) = row
            .card_no
            .as_deref()
            .and_then(|n| CardNo::parse("c", n).ok())
        else {
            continue;
        };
        let pin = if show_pins {
            households::card_pin(c, key, card.as_str())?
        } else {
            None
        };
        out.push(PrintCard {
            qr_svg: qr_svg(card.as_str(), public_url),
            pin,
            card: card.grouped(),
            row,
        });
    }
    // One card's PIN is one line naming its household; a sheet's is one
    // line for the sheet, with how many cards and which (a sheet of 1,000
    // cards would otherwise write 1,000 lines at each view).
    let shown: Vec<&PrintCard> = out.iter().filter(|p| p.pin.is_some()).collect();
    match shown.as_slice() {
        [] => {}
        [one] => crate::audit::record(
            c,
            ctx,
            "card.pin_shown",
            "household",
            &one.row.household.id,
            &crate::audit::Detail::new("pin_shown")
                .arg("name", &one.row.household.head_name)
                .arg("card", &one.card)
                .to_string(),
        )?,
        [first, .., last] => crate::audit::record(
            c,
            ctx,
            "card.pins_shown",
            "cards",
            "",
            &crate::audit::Detail::new("pins_shown")
                .arg("n", shown.len())
                .arg("first", &first.card)
                .arg("last", &last.card)
                .to_string(),
        )?,
    }
    Ok(out)
}

pub async fn card(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ViewHouseholds)?;
    let actor = user.actor();
    let id: HouseholdId = path_id(&id)?;
    let key = state.key.clone();
    let url = state.config.public_url.clone();
    let show_pins = user.can(Action::EditHouseholds);
    let ctx = user.actor();
    let household = id.clone();
    let cards = run(&state, move |c| {
        let row = households::find(c, &actor, &household)?;
        Ok(print_cards(
            c,
            &key,
            url.as_deref(),
            &ctx,
            vec![row],
            show_pins,
        )?)
    })
    .await?;
    let reset_for = show_pins.then_some(id);
    cards_page(&req, &user, cards, show_pins, Sheet::Single { reset_for })
}

pub async fn cards(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: Filter<ListQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ViewHouseholds)?;
    let q = match filter_once(q) {
        (q, None) => q,
        (q, refused) => return list_page(req, user, state, q, refused).await,
    };
    let filter = q.filter();
    let link = q.link(None);
    let page = q.page.unwrap_or(0).max(0);
    let actor = user.actor();
    let key = state.key.clone();
    let url = state.config.public_url.clone();
    let show_pins = user.can(Action::EditHouseholds);
    let ctx = user.actor();
    let (cards, total) = run(&state, move |c| {
        let (rows, total) = households::cards_for(c, &actor, &filter, page)?;
        Ok((
            print_cards(c, &key, url.as_deref(), &ctx, rows, show_pins)?,
            total,
        ))
    })
    .await?;
    // Past the last sheet: said so, with a link to the first (never an
    // empty sheet).
    let pages = ((total + households::CARD_SHEET - 1) / households::CARD_SHEET).max(1);
    let sheet = Sheet::Paged { page, pages, link };
    cards_page(&req, &user, cards, show_pins, sheet)
}

/// Give the household's card a new PIN (admins and the household's own
/// officials), then show the card to print with it.
pub async fn reset_pin(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    _form: CsrfForm<super::auth::Empty>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::EditHouseholds)?;
    let id: HouseholdId = path_id(&id)?;
    let back = format!("/households/{id}/card");
    let actor = user.actor();
    let key = state.key.clone();
    let result = run(&state, move |c| {
        Ok(households::reset_card_pin(c, &actor, &key, &id)?)
    })
    .await
    .map(|()| flash_ok(&req, &back, "auth.pin_reset_done", &[]));
    or_flash(&req, &back, result)
}

const EXPORT_LIMIT: i64 = 200_000;

async fn export(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: ListQuery,
    xlsx: bool,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ExportHouseholds)?;
    let filter = q.filter();
    let actor = user.actor();
    let ctx = user.actor();
    let lang = lang_of(&req);
    let link = q.link(None);
    let rows = run(&state, move |c| {
        let (rows, total) = households::list(c, &actor, &filter, 0, EXPORT_LIMIT)?;
        crate::db::write_tx(c, |c| {
            crate::audit::record(
                c,
                &ctx,
                "household.export",
                "households",
                "",
                &crate::audit::Detail::new("household_export")
                    .arg("n", total)
                    .arg("format", if xlsx { "XLSX" } else { "CSV" })
                    .arg("filter", &link)
                    .to_string(),
            )
        })?;
        Ok(rows)
    })
    .await?;
    let stamp = chrono::Utc::now().format("%Y%m%d");
    if xlsx {
        let bytes = households::export::to_xlsx(lang, &rows).map_err(AppError::internal)?;
        Ok(crate::web::export::attachment(
            &format!("households-{stamp}.xlsx"),
            bytes,
        ))
    } else {
        Ok(crate::web::export::attachment(
            &format!("households-{stamp}.csv"),
            households::export::to_csv(lang, &rows),
        ))
    }
}

pub async fn export_csv(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: Filter<ListQuery>,
) -> Result<HttpResponse, AppError> {
    match filter_once(q) {
        (q, None) => export(req, user, state, q, false).await,
        (q, refused) => list_page(req, user, state, q, refused).await,
    }
}

pub async fn export_xlsx(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: Filter<ListQuery>,
) -> Result<HttpResponse, AppError> {
    match filter_once(q) {
        (q, None) => export(req, user, state, q, true).await,
        (q, refused) => list_page(req, user, state, q, refused).await,
    }
}

/// The list's filter, with the refusal to show on the list's form (the
/// search as typed, the message beside it) when a field came more than
/// once, as the list itself answers a field sent twice.
fn filter_once(q: Filter<ListQuery>) -> (ListQuery, Option<(String, FieldError)>) {
    let Filter(q, twice) = q;
    let refused = twice.check().err().map(|e| (q.q.clone(), e));
    (q, refused)
}

#[derive(Template)]
#[template(path = "households/import.html")]
struct ImportPage<'a> {
    ctx: &'a PageCtx,
    columns: [import::Column; 9],
}

pub async fn import_form(req: HttpRequest, user: CurrentUser) -> Result<HttpResponse, AppError> {
    user.require(Action::ImportHouseholds)?;
    let ctx = PageCtx::build(&req, Some(&user));
    render(
        &ctx,
        &ImportPage {
            ctx: &ctx,
            columns: import::Column::ALL,
        },
    )
}

/// Receive the file, record a job, check it in the background, and show
/// its progress.
pub async fn import_upload(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    mut payload: Multipart,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ImportHouseholds)?;
    use crate::crypto::{EncryptedSpool, SpoolError};
    let too_large = || {
        let mut res = flash_field_error(
            &req,
            "/households/import",
            &FieldError::new("field.file", "error.file_too_large")
                .arg("mb", import::MAX_FILE_BYTES / 1024 / 1024),
        );
        // The rest of the body is left unread: this connection ends here.
        res.head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
        Ok(res)
    };
    let mut csrf = String::new();
    let mut options = import::ImportOptions::default();
    let mut file_name = String::new();
    // The file goes to an encrypted temporary file as it arrives, never
    // whole into memory; past the cap the rest is not read.
    let mut spool: Option<EncryptedSpool> = None;
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|e| AppError::BadRequest(e.to_string()))?;
        let name = field.name().unwrap_or("").to_string();
        if name == "file" && spool.is_none() {
            file_name = field
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .unwrap_or("upload")
                .chars()
                .take(100)
                .collect();
            let mut s = EncryptedSpool::new(state.key.clone(), import::MAX_FILE_BYTES as u64)
                .map_err(|e| AppError::Internal(e.to_string()))?;
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(|e| AppError::BadRequest(e.to_string()))?;
                match s.write(&chunk) {
                    Ok(()) => {}
                    Err(SpoolError::TooLarge(_)) => return too_large(),
                    Err(e) => return Err(AppError::Internal(e.to_string())),
                }
            }
            spool = Some(s);
            continue;
        }
        // The form's other fields are its CSRF token and the "skip the
        // registered" tick: a few bytes. Anything longer, or any other
        // field, is not this form.
        let mut buf = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| AppError::BadRequest(e.to_string()))?;
            if !matches!(name.as_str(), "csrf" | "skip_registered")
                || buf.len() + chunk.len() > 1024
            {
                return Err(AppError::BadRequest(format!("unexpected field {name}")));
            }
            buf.extend_from_slice(&chunk);
        }
        match name.as_str() {
            "csrf" => csrf = String::from_utf8_lossy(&buf).into_owned(),
            // A tick box sends its value only when ticked.
            "skip_registered" => options.skip_registered = !buf.is_empty(),
            _ => {}
        }
    }
    verify_csrf(&req, &csrf).await?;
    let Some(spool) = spool.filter(|s| !s.is_empty()) else {
        return Ok(flash_field_error(
            &req,
            "/households/import",
            &FieldError::new("field.file", "error.file_missing"),
        ));
    };
    let user_id = user.user.id.clone();
    let key = state.key.clone();
    // At most so many checks per user and hour, counted in the database.
    let created = run(&state, move |c| {
        let bytes = spool
            .read_all()
            .map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(crate::db::write_tx(c, |c| {
            import::may_check(c, &user_id)?;
            Ok::<_, crate::households::HouseholdError>(import::create_job_with(
                c, &key, &user_id, &file_name, &bytes, options,
            )?)
        })?)
    })
    .await;
    let job_id = match created {
        Ok(id) => id,
        Err(AppError::Invalid(e)) => {
            return Ok(flash_field_error(&req, "/households/import", &e));
        }
        Err(e) => return Err(e),
    };
    spawn_job(&state, &user, &job_id, false);
    Ok(crate::web::middleware::see_other(&format!(
        "/households/import/{job_id}"
    )))
}

fn spawn_job(state: &web::Data<AppState>, user: &CurrentUser, job_id: &str, commit: bool) {
    let pool = state.pool.clone();
    let key = state.key.clone();
    let actor = user.actor();
    let job_id = job_id.to_string();
    let today = crate::time::today(state.config.time_zone);
    actix_web::rt::spawn(async move {
        let _ =
            web::block(move || import::run_job(&pool, &key, &actor, &job_id, commit, today)).await;
    });
}

#[derive(Template)]
#[template(path = "households/import_job.html")]
struct JobPage<'a> {
    ctx: &'a PageCtx,
    job: Job,
    report: Option<Report>,
}

/// Only the person who uploaded a file (or an admin) sees its job (the
/// one check is `import::job_for`).
async fn load_job(state: &AppState, user: &CurrentUser, id: String) -> Result<Job, AppError> {
    let actor = user.actor();
    run(state, move |c| Ok(import::job_for(c, &actor, &id)?)).await
}

pub async fn import_job(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ImportHouseholds)?;
    let job = load_job(&state, &user, id.into_inner()).await?;
    let ctx = PageCtx::build(&req, Some(&user));
    let report = job.report();
    let mut res = render(
        &ctx,
        &JobPage {
            ctx: &ctx,
            job: job.clone(),
            report,
        },
    )?;
    if job.running() {
        // Without JavaScript the page reloads itself until the job is done.
        res.headers_mut()
            .insert(header::REFRESH, header::HeaderValue::from_static("1"));
    }
    Ok(res)
}

/// The rows an import refused, as a CSV file to fix and load again.
pub async fn import_refused_csv(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    import_refused(req, user, state, id.into_inner(), "csv").await
}

/// The rows an import refused, as an XLSX file to fix and load again.
pub async fn import_refused_xlsx(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    import_refused(req, user, state, id.into_inner(), "xlsx").await
}

/// The rows an import refused: the columns as the template names them,
/// each row as it was typed, and a last column with the reasons.
async fn import_refused(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: String,
    ext: &str,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ImportHouseholds)?;
    let actor = user.actor();
    let key = state.key.clone();
    let (job, rows) = run(&state, move |c| {
        Ok(import::refused_rows(c, &actor, &key, &id)?)
    })
    .await?;
    let lang = crate::web::extract::lang_of(&req);
    let report = job.report().unwrap_or_default();
    let reason_header = crate::i18n::t(lang, "households.refused_reason");
    let mut headers: Vec<&str> = import::Column::ALL.iter().map(|c| c.header()).collect();
    headers.push(reason_header);
    let table: Vec<Vec<String>> = rows
        .into_iter()
        .map(|(row, mut cells)| {
            let reasons: Vec<String> = report
                .refused
                .iter()
                .filter(|e| e.row == row)
                .map(|e| {
                    format!(
                        "{}{}{}",
                        crate::i18n::t(lang, &e.field),
                        crate::i18n::t(lang, "common.colon"),
                        e.message(&lang)
                    )
                })
                .collect();
            cells.push(reasons.join(crate::i18n::t(lang, "common.semicolon")));
            cells
        })
        .collect();
    let stem = job
        .file_name
        .rsplit_once('.')
        .map(|(s, _)| s)
        .unwrap_or(&job.file_name);
    let name = format!(
        "{}-{}.{ext}",
        crate::web::export::name_part(stem),
        crate::web::export::name_part(crate::i18n::t(lang, "households.refused_file"))
    );
    let body = if ext == "xlsx" {
        crate::web::export::xlsx_as_typed(
            crate::i18n::t(lang, "households.refused_file"),
            &headers,
            &table,
        )
        .map_err(AppError::internal)?
    } else {
        crate::web::export::csv_as_typed(&headers, &table)
    };
    Ok(crate::web::export::attachment(&name, body))
}

/// The cards of the households an import registered, to print at once.
pub async fn import_cards(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ImportHouseholds)?;
    let id = id.into_inner();
    let actor = user.actor();
    let key = state.key.clone();
    let url = state.config.public_url.clone();
    let show_pins = user.can(Action::EditHouseholds);
    let cards = run(&state, move |c| {
        let rows = import::created_households(c, &actor, &id)?;
        Ok(print_cards(
            c,
            &key,
            url.as_deref(),
            &actor,
            rows,
            show_pins,
        )?)
    })
    .await?;
    cards_page(&req, &user, cards, show_pins, Sheet::Whole)
}

/// The confirm form: updates to registered households apply only when
/// `apply_updates` is ticked.
#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    apply_updates: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for ConfirmForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "apply_updates" => "field.apply_updates",
            _ => return None,
        })
    }
}

pub async fn import_confirm(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::ImportHouseholds)?;
    let job = load_job(&state, &user, id.into_inner()).await?;
    let updates = job.report().map(|r| r.update).unwrap_or(0);
    if let Err(e) = form.1.check() {
        let back = format!("/households/import/{}", job.id);
        return Ok(flash_field_error(&req, &back, &e));
    }
    if job.state == ImportState::Checked && updates > 0 && form.0.apply_updates != "1" {
        return Ok(flash_field_error(
            &req,
            &format!("/households/import/{}", job.id),
            &FieldError::new("field.apply_updates", "error.import_updates_unticked"),
        ));
    }
    let job_id = job.id.clone();
    let started = run(&state, move |c| Ok(import::start_commit(c, &job_id)?)).await?;
    let path = format!("/households/import/{}", job.id);
    if !started {
        // Confirmed already (perhaps by someone else this very moment), or
        // its check expired: say which, as the job stands now, and change
        // nothing.
        let job_id = job.id.clone();
        let now = run(&state, move |c| Ok(import::find_job(c, &job_id)?))
            .await?
            .unwrap_or(job.clone());
        let key = if matches!(now.state, ImportState::Checked | ImportState::Expired) {
            "error.import_expired"
        } else {
            "error.import_already_confirmed"
        };
        return Ok(flash_field_error(
            &req,
            &path,
            &FieldError::new("field.file", key),
        ));
    }
    spawn_job(&state, &user, &job.id, true);
    Ok(crate::web::middleware::see_other(&path))
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for HouseholdForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "head_name" => "field.head_name",
            "id_number" => "field.id_number",
            "phone" => "field.phone",
            "area_id" => "field.village",
            "address" => "field.address",
            "members" => "field.members",
            "status" => "field.status",
            "helper_id" => "field.helper",
            "notes" => "field.notes",
            "status_reason" => "field.status_reason",
            _ => return None,
        })
    }
}
