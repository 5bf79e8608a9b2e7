use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::audit::{self, AuditEntry, AuditFilter};
use crate::auth::Action;
use crate::web::form::FormErrors;
use crate::web::page::{PageCtx, PastEnd};
use crate::web::{AppError, AppState, CurrentUser, run};

#[derive(Template)]
#[template(path = "audit/list.html")]
struct ListPage<'a> {
    ctx: &'a PageCtx,
    entries: Vec<Said>,
    q: AuditQuery,
    page: i64,
    more: bool,
    /// The filter refused: each message beside its field.
    errors: FormErrors,
    /// A page asked past the last: said so, with the first page's link.
    past_end: Option<PastEnd>,
}

/// One audit row as a sentence in the reader's language: who did what, to
/// which object (linked when the reader may open it).
pub struct Said {
    pub entry: AuditEntry,
    /// What was done, in words ("申报了积分", "proposed an award").
    pub what: String,
    /// The object's page, when there is one this reader may open.
    pub link: Option<String>,
    /// The row's detail in the reader's language (`audit::Detail`), or
    /// the plain text an older row holds.
    pub detail: String,
}

/// The sentence of `e` for a reader with `user`'s role: the action's words
/// from `audit_says` (an action without words reads "did something else",
/// never its code), and the object's page where the reader may open it.
fn say(lang: crate::i18n::Lang, user: &CurrentUser, e: AuditEntry) -> Said {
    let key = format!("audit_says.{}", e.action.replace('.', "__"));
    let words = crate::i18n::t(lang, &key);
    let what = if words == key {
        crate::i18n::t(lang, "audit_says.unknown").to_string()
    } else {
        words.to_string()
    };
    let id = crate::web::error::urlencode(&e.target_id);
    let link = match e.target_kind.as_str() {
        _ if e.target_id.is_empty() => None,
        "household" if user.can(Action::ViewHouseholds) => Some(format!("/households/{id}")),
        "redemption" if user.can(Action::ViewRedemptions) => Some(format!("/redemptions/{id}")),
        "donation" if user.can(Action::ViewDonors) => Some(format!("/donations/{id}")),
        "donor" if user.can(Action::ViewDonors) => Some(format!("/donors/{id}")),
        "store" if user.can(Action::ViewStores) => Some(format!("/stores/{id}")),
        "stocktake" if user.can(Action::ViewStock) => Some(format!("/stocktakes/{id}")),
        "user" if user.can(Action::ManageUsers) => Some(format!("/users/{id}")),
        "item" if user.can(Action::ViewStock) => Some("/items".to_string()),
        "area" if user.can(Action::ViewAreas) => Some("/areas".to_string()),
        "rule" | "rule_category" if user.can(Action::ViewRules) => Some("/rules".to_string()),
        "stock_movement" if user.can(Action::ViewStock) => Some(format!("/movements/{id}")),
        "month" if user.can(Action::ViewReports) => Some(format!("/reports/monthly?month={id}")),
        // An award is named by its household (the row's detail keeps its
        // id): the sentence links there.
        "award" if user.can(Action::ViewHouseholds) => audit::Detail::read(&e.summary)
            .and_then(|d| d.value("household").map(crate::web::error::urlencode))
            .map(|h| format!("/households/{h}")),
        _ => None,
    };
    let detail = match audit::Detail::read(&e.summary) {
        Some(d) => d.say(lang),
        // An older row naming a field by its name (what was shown in
        // full): the field's label in the reader's language.
        None if matches!(e.summary.as_str(), "id_number" | "phone") => {
            crate::i18n::t(lang, &format!("field.{}", e.summary)).to_string()
        }
        None => e.summary.clone(),
    };
    Said {
        entry: e,
        what,
        link,
        detail,
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct AuditQuery {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    /// A page number that does not read is page 1.
    #[serde(default, deserialize_with = "crate::web::extract::page_number")]
    pub page: Option<i64>,
}

/// The filter's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for AuditQuery {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "username" => "field.username",
            "action" => "audit.action",
            "from" => "field.from",
            "to" => "field.to",
            _ => return None,
        })
    }
}

impl AuditQuery {
    /// The query string for another page (0-based) of the same filter.
    pub fn page_link(&self, page: i64) -> String {
        let q = [
            ("username", self.username.as_str()),
            ("action", self.action.as_str()),
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
            ("page", &crate::web::extract::page_param(page)),
        ];
        format!("?{}", serde_urlencoded::to_string(q).unwrap_or_default())
    }
}

use crate::domain::input::parse_optional_date as parse_date;

pub async fn list(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: crate::web::extract::Filter<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ViewAudit)?;
    let crate::web::extract::Filter(q, twice) = q;
    let tz = state.config.time_zone;
    let lang = crate::web::extract::lang_of(&req);
    let mut filter = AuditFilter {
        username: Some(q.username.trim().to_lowercase()).filter(|s| !s.is_empty()),
        action_prefix: Some(q.action.trim().to_string()).filter(|s| !s.is_empty()),
        ..Default::default()
    };
    // A filter field sent twice and a date that does not read are all
    // said at once, each beside its field, the log shown unfiltered by
    // date. A period that ends before it starts is refused beside its end.
    let mut checks = crate::domain::FieldChecks::new();
    checks.take(twice.check());
    let from = checks.take(parse_date("field.from", &q.from)).flatten();
    let to = checks.take(parse_date("field.to", &q.to)).flatten();
    checks.take(crate::domain::input::period_in_order(from, to));
    let errors = match checks.finish() {
        Ok(()) => {
            filter.from = from.map(|d| crate::time::local_day_start_utc(d, tz));
            filter.to = to
                .and_then(|d| d.succ_opt())
                .map(|d| crate::time::local_day_start_utc(d, tz));
            FormErrors::default()
        }
        Err(e) => FormErrors::new(lang, &e),
    };
    let page = q.page.unwrap_or(0).max(0);
    // A page past the last says so, with how many there are.
    let (entries, more, pages) = run(&state, move |c| {
        let (entries, more) = audit::list(c, &filter, page)?;
        let pages = if entries.is_empty() && page > 0 {
            Some(audit::pages(c, &filter)?)
        } else {
            None
        };
        Ok((entries, more, pages))
    })
    .await?;
    let first = AuditQuery {
        page: None,
        ..q.clone()
    }
    .page_link(0);
    let past_end = pages.and_then(|pages| PastEnd::of(lang, page, pages, format!("/audit{first}")));
    let entries = entries.into_iter().map(|e| say(lang, &user, e)).collect();
    let ctx = PageCtx::build(&req, Some(&user));
    // A date that does not read is named beside its field (422).
    let status = PastEnd::status(&past_end, errors.status());
    crate::web::page::render_with_status(
        &ctx,
        &ListPage {
            ctx: &ctx,
            entries,
            q,
            page,
            more,
            errors,
            past_end,
        },
        status,
    )
}
