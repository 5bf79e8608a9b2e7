//! Donors, booking donations in, and the donation's page and certificate.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::stock::{form_key, load_store};
use crate::auth::{Action, Scope};
use crate::domain::stock::DonorKind;
use crate::donations::{
    self, DonationForm, DonationSummary, DonationView, Donor, DonorForm, ItemTotal, LineInput,
};
use crate::goods::{self, Item};
use crate::idempotency::IdemKey;
use crate::stores::{self, StoreRow};
use crate::web::extract::{SentTwice, lang_of};
use crate::web::form::{FormErrors, Refused, or_again};
use crate::web::page::{PageCtx, flash_ok, render, render_with_status};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, run};

/// The store a user's view of donations is limited to (clerks: their own).
fn store_filter(user: &CurrentUser) -> Option<crate::domain::StoreId> {
    match &user.scope {
        Scope::Store { id } => Some(id.clone()),
        _ => None,
    }
}

#[derive(Template)]
#[template(path = "donors/list.html")]
struct DonorsPage<'a> {
    ctx: &'a PageCtx,
    donors: Vec<Donor>,
    kinds: [DonorKind; 5],
    can_add: bool,
    /// The search typed (a name, a part of it, or its pinyin).
    q: String,
    /// The new-donor form: empty, or what was typed before a refusal.
    values: DonorFields,
    errors: FormErrors,
    /// A search refused (`"filter"`, sent twice): what was typed, beside
    /// its message.
    filter: crate::web::form::Refused,
}

impl DonorsPage<'_> {
    fn selected_kind(&self, kind: &str) -> bool {
        self.values.kind == kind
    }
}

#[derive(Deserialize, Default)]
pub struct DonorQuery {
    #[serde(default)]
    q: String,
}

/// The filter's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for DonorQuery {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "q" => "donors.search",
            _ => return None,
        })
    }
}

pub async fn donors(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    query: crate::web::extract::Filter<DonorQuery>,
) -> Result<HttpResponse, AppError> {
    let crate::web::extract::Filter(query, twice) = query;
    let q: String = query.q.chars().take(60).collect();
    // A search sent twice: the list for its first value, the search form
    // holding it with the message beside it (422).
    let filter = match twice.check() {
        Ok(()) => crate::web::form::Refused::default(),
        Err(e) => crate::web::form::Refused::of_pairs(
            crate::web::extract::lang_of(&req),
            "filter",
            vec![("q".into(), q.clone())],
            &e,
        ),
    };
    donors_page(req, user, state, q, None, filter).await
}

/// The donors list with the new-donor form: fresh, or (`typed`) a refused
/// submission shown again with what was typed and every error beside its
/// field (422).
async fn donors_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: String,
    typed: Option<(DonorFields, crate::domain::FieldError)>,
    filter: crate::web::form::Refused,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ViewDonors)?;
    let text = q.clone();
    let donors = run(&state, move |c| Ok(donations::find_donors(c, &text)?)).await?;
    let ctx = PageCtx::build(&req, Some(&user));
    let (values, errors) = match typed {
        Some((f, e)) => (f, FormErrors::new(ctx.lang, &e)),
        None => (DonorFields::default(), FormErrors::default()),
    };
    let status = if filter.is("filter") {
        filter.status()
    } else {
        errors.status()
    };
    render_with_status(
        &ctx,
        &DonorsPage {
            ctx: &ctx,
            donors,
            kinds: DonorKind::ALL,
            can_add: user.can(Action::ManageDonors),
            q,
            values,
            errors,
            filter,
        },
        status,
    )
}

#[derive(Deserialize, Clone, Default)]
pub struct DonorFields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    contact_person: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    note: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for DonorFields {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "name" => "field.donor_name",
            "kind" => "field.donor_kind",
            "contact_person" => "field.contact_person",
            "phone" => "field.phone",
            "address" => "field.address",
            "note" => "field.note",
            _ => return None,
        })
    }
}

pub async fn create_donor(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<DonorFields>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::ManageDonors)?;
    let f = form.0;
    let typed = f.clone();
    let ctx = user.actor();
    let result = form
        .1
        .run(&state, move |c| {
            Ok(donations::create_donor(
                c,
                &ctx,
                &DonorForm {
                    name: &f.name,
                    kind: &f.kind,
                    contact_person: &f.contact_person,
                    phone: &f.phone,
                    address: &f.address,
                    note: &f.note,
                },
            )?)
        })
        .await;
    match result {
        Ok(d) => Ok(flash_ok(
            &req,
            &format!("/donors/{}", d.id),
            "flash.donor_created",
            &[("name", d.name)],
        )),
        Err(AppError::Invalid(e)) => {
            donors_page(
                req,
                user,
                state,
                String::new(),
                Some((typed, e)),
                Default::default(),
            )
            .await
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "donors/detail.html")]
struct DonorPage<'a> {
    ctx: &'a PageCtx,
    donor: Donor,
    donations: Vec<DonationSummary>,
    totals: Vec<ItemTotal>,
    only_store: bool,
    show_phone: bool,
}

impl DonorPage<'_> {
    fn units(&self) -> i64 {
        self.totals.iter().map(|t| t.units).sum()
    }
    fn value_fen(&self) -> i64 {
        self.donations
            .iter()
            .map(DonationSummary::total_value_fen)
            .sum()
    }
    fn money_fen(&self) -> i64 {
        self.donations.iter().map(|d| d.donation.money_fen).sum()
    }
}

/// A donor's history of donations with totals (clerks: at their store).
pub async fn donor(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ViewDonors)?;
    let id = id.into_inner();
    let only = store_filter(&user);
    let only_store = only.is_some();
    let (donor, donations, totals) = run(&state, move |c| {
        let donor = donations::find_donor(c, &id)?.ok_or(AppError::NotFound)?;
        let list = donations::list_donations(c, Some(&id), only.as_ref())?;
        let totals = donations::donor_item_totals(c, &id, only.as_ref())?;
        Ok((donor, list, totals))
    })
    .await?;
    let ctx = PageCtx::build(&req, Some(&user));
    render(
        &ctx,
        &DonorPage {
            ctx: &ctx,
            donor,
            donations,
            totals,
            only_store,
            show_phone: user.can(Action::ManageDonors),
        },
    )
}

#[derive(Template)]
#[template(path = "donations/new.html")]
struct NewDonationPage<'a> {
    ctx: &'a PageCtx,
    store: StoreRow,
    donors: Vec<Donor>,
    items: Vec<Item>,
    key: String,
    /// What the form shows: empty, or what was typed before a refusal.
    typed: TypedDonation,
    errors: FormErrors,
}

/// The donation form's fields as typed, one entry per line (at least six).
#[derive(Default)]
struct TypedDonation {
    key: String,
    donor_id: String,
    donated_on: String,
    money: String,
    note: String,
    lines: Vec<LineInput>,
}

impl NewDonationPage<'_> {
    /// A donor typed that the list does not offer (None when it is one of
    /// them, or empty): shown back selected and marked.
    fn refused_donor(&self) -> Option<&str> {
        crate::web::form::unoffered(
            &self.typed.donor_id,
            self.donors.iter().map(|d| d.id.as_str()),
        )
    }
    /// The same for a line's item.
    fn refused_item<'b>(&self, typed: &'b str) -> Option<&'b str> {
        crate::web::form::unoffered(typed, self.items.iter().map(|i| i.id.as_str()))
    }
    /// The lines with their 1-based numbers.
    fn rows(&self) -> Vec<(usize, &LineInput)> {
        self.typed
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .collect()
    }
}

/// The booking form; `refused` shows a refused submission again (422) with
/// every line as typed and each error beside its field or line.
async fn donation_form(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    store: StoreRow,
    refused: Option<(TypedDonation, crate::domain::FieldError)>,
) -> Result<HttpResponse, AppError> {
    let (donors, items) = run(state, |c| {
        Ok((donations::list_donors(c)?, goods::list_active(c)?))
    })
    .await?;
    let ctx = PageCtx::build(req, Some(user));
    // A refused form keeps its key: the corrected form is still one booking.
    let key = refused
        .as_ref()
        .and_then(|(t, _)| IdemKey::parse(&t.key).ok().map(|_| t.key.clone()))
        .unwrap_or_else(form_key);
    let (mut typed, errors, status) = match refused {
        Some((t, e)) => {
            let errors = FormErrors::new(ctx.lang, &e);
            let status = errors.status();
            (t, errors, status)
        }
        None => (
            TypedDonation {
                donated_on: crate::time::today(state.config.time_zone).to_string(),
                ..TypedDonation::default()
            },
            FormErrors::default(),
            StatusCode::OK,
        ),
    };
    while typed.lines.len() < 6 {
        typed.lines.push(LineInput::default());
    }
    render_with_status(
        &ctx,
        &NewDonationPage {
            ctx: &ctx,
            store,
            donors,
            items,
            key,
            typed,
            errors,
        },
        status,
    )
}

pub async fn new_donation(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let store = load_store(&state, &user, Action::BookDonation, id.into_inner()).await?;
    donation_form(&req, &user, &state, store, None).await
}

/// Book a donation in. The form's fields `item`, `quantity` and `value`
/// repeat once per line, in order.
/// The donation form's fields and the labels their messages stand beside
/// (its lines repeat by design).
fn donation_label(name: &str) -> Option<&'static str> {
    Some(match name {
        "donor_id" => "field.donor",
        "donated_on" => "field.donated_on",
        "money" => "field.money",
        "note" => "field.note",
        _ => return None,
    })
}

pub async fn book(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let store = load_store(&state, &user, Action::BookDonation, id.into_inner()).await?;
    let (fields, read) = (form.0, form.1);
    // The lines repeat; any other field sent twice is refused by name.
    let twice = SentTwice::among(&fields, &["item", "quantity", "value"], donation_label)
        .with_spoiled(read);
    let one = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let all = |name: &str| -> Vec<String> {
        fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let (item_ids, quantities, values) = (all("item"), all("quantity"), all("value"));
    // A form with thousands of lines is not a donation anyone typed.
    let n = item_ids
        .len()
        .max(quantities.len())
        .max(values.len())
        .min(200);
    let get = |v: &Vec<String>, i: usize| v.get(i).cloned().unwrap_or_default();
    let lines: Vec<LineInput> = (0..n)
        .map(|i| LineInput {
            item_id: get(&item_ids, i),
            quantity: get(&quantities, i),
            value: get(&values, i),
        })
        .collect();
    let typed = TypedDonation {
        key: one("key"),
        donor_id: one("donor_id"),
        donated_on: one("donated_on"),
        money: one("money"),
        note: one("note"),
        lines,
    };
    let key = typed.key.clone();
    let ctx = user.actor();
    let result = async {
        if !store.store.active {
            return Err(
                crate::domain::FieldError::new("field.store", "error.store_inactive").into(),
            );
        }
        let key = IdemKey::parse(&key)?;
        let sid = store.store.id.clone();
        let today = crate::time::today(state.config.time_zone);
        let t = TypedDonation {
            key: String::new(),
            donor_id: typed.donor_id.clone(),
            donated_on: typed.donated_on.clone(),
            money: typed.money.clone(),
            note: typed.note.clone(),
            lines: typed.lines.clone(),
        };
        // A field sent twice is said with every field's and line's own
        // refusal, in one answer.
        let refused = twice.check().err();
        let out = run(&state, move |c| {
            Ok(donations::book_read(
                c,
                &ctx,
                &key,
                &sid,
                &DonationForm {
                    donor_id: &t.donor_id,
                    donated_on: &t.donated_on,
                    money: &t.money,
                    note: &t.note,
                    lines: &t.lines,
                },
                today,
                refused,
            )?)
        })
        .await?;
        let location = format!("/donations/{}", out.id);
        Ok(if out.replayed {
            flash_ok(&req, &location, "flash.already_done", &[])
        } else {
            flash_ok(&req, &location, "flash.donation_booked", &[])
        })
    }
    .await;
    match result {
        Err(AppError::Invalid(e)) => {
            donation_form(&req, &user, &state, store, Some((typed, e))).await
        }
        other => other,
    }
}

/// Load a donation and check the user may see its store.
async fn load_donation(
    state: &AppState,
    user: &CurrentUser,
    id: String,
) -> Result<DonationView, AppError> {
    Ok(load_donation_at(state, user, id).await?.0)
}

/// A donation and its store, which the user may see.
async fn load_donation_at(
    state: &AppState,
    user: &CurrentUser,
    id: String,
) -> Result<(DonationView, StoreRow), AppError> {
    user.require(Action::ViewDonors)?;
    let (view, store) = run(state, move |c| {
        let view = donations::find_donation(c, &id)?.ok_or(AppError::NotFound)?;
        let store = stores::find(c, &view.donation.store_id)?.ok_or(AppError::NotFound)?;
        Ok((view, store))
    })
    .await?;
    user.require_store(Action::ViewDonors, &store)?;
    Ok((view, store))
}

#[derive(Template)]
#[template(path = "donations/detail.html")]
struct DonationPage<'a> {
    ctx: &'a PageCtx,
    d: DonationView,
    /// Whether the user may reverse the donation (not yet reversed).
    can_reverse: bool,
    key: String,
    /// A refused reversal (`"reverse"`), with the reason typed.
    refused: Refused,
}

pub async fn donation(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    donation_page(req, user, state, id.into_inner(), Refused::default()).await
}

/// The donation; `refused` shows a refused reversal again (422, or 409),
/// its reason kept.
async fn donation_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: String,
    refused: Refused,
) -> Result<HttpResponse, AppError> {
    let (d, store) = load_donation_at(&state, &user, id).await?;
    let ctx = PageCtx::build(&req, Some(&user));
    let status = refused.status();
    render_with_status(
        &ctx,
        &DonationPage {
            ctx: &ctx,
            can_reverse: (!d.donation.is_reversed() || refused.is("reverse"))
                && user.can_at_store(Action::BookDonation, &store),
            d,
            key: form_key(),
            refused,
        },
        status,
    )
}

#[derive(Deserialize, serde::Serialize)]
pub struct ReverseForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    reason: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for ReverseForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "reason" => "field.reason",
            _ => return None,
        })
    }
}

/// Reverse a donation booked in by mistake: its goods go back to the donor
/// (all lines, one transaction); the movements page refuses them one by one.
pub async fn reverse(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<ReverseForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let (d, store) = load_donation_at(&state, &user, id.into_inner()).await?;
    user.require_store(Action::BookDonation, &store)?;
    let back = format!("/donations/{}", d.donation.id);
    let f = form.0;
    let ctx = user.actor();
    let today = crate::time::today(state.config.time_zone);
    let id = d.donation.id.clone();
    let result = async {
        let key = IdemKey::parse(&f.key)?;
        let (id, reason) = (id.clone(), f.reason.clone());
        let out = form
            .1
            .run(&state, move |c| {
                Ok(donations::reverse(c, &ctx, &key, &id, &reason, today)?)
            })
            .await?;
        Ok(if out.replayed {
            flash_ok(&req, &back, "flash.already_done", &[])
        } else {
            flash_ok(&req, &back, "flash.donation_reversed", &[])
        })
    }
    .await;
    or_again(lang_of(&req), "reverse", &f, result, |r| {
        donation_page(req, user, state, id, r)
    })
    .await
}

#[derive(Template)]
#[template(path = "donations/certificate.html")]
struct CertificatePage<'a> {
    ctx: &'a PageCtx,
    d: DonationView,
}

impl CertificatePage<'_> {
    fn text(&self) -> String {
        self.ctx.tf(
            "donations.certificate_text",
            &[
                ("date", self.d.donation.donated_on.to_string()),
                ("store", self.d.store_name.clone()),
            ],
        )
    }
}

/// The thank-you certificate (捐赠证书), laid out for A4 paper.
pub async fn certificate(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let d = load_donation(&state, &user, id.into_inner()).await?;
    let ctx = PageCtx::build(&req, Some(&user));
    render(&ctx, &CertificatePage { ctx: &ctx, d })
}
