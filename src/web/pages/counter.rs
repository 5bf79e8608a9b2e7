//! The redemption counter: card, goods, Enter, receipt. Works by keyboard
//! alone and without JavaScript: the basket travels in the form.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::stock::{form_key, load_store};
use crate::auth::{Action, Scope};
use crate::goods::Item;
use crate::households::HouseholdRow;
use crate::households::find::{self, FoundBy, Query};
use crate::i18n;
use crate::redemptions::{self, DaySummary, Line, PricedLine, RedeemRequest, Redemption, WantLine};
use crate::stores::{Paper, ReceiptSettings, StoreRow};
use crate::web::extract::{Filter, SentTwice, lang_of};
use crate::web::form::{Refused, or_again};
use crate::web::middleware::see_other;
use crate::web::page::{PageCtx, flash_field_error, flash_ok, render_with_status};
use crate::web::{AppError, AppState, CsrfForm, CurrentUser, run};

/// The store the counter works for: a clerk's own, or the one an admin picks.
async fn counter_store(
    state: &AppState,
    user: &CurrentUser,
    action: Action,
    store_id: &str,
) -> Result<StoreRow, AppError> {
    let id = match (&user.scope, store_id.trim()) {
        (Scope::Store { id }, _) => id.to_string(),
        (_, "") => return Err(AppError::BadRequest("store_id".into())),
        (_, s) => s.to_string(),
    };
    load_store(state, user, action, id).await
}

#[derive(Template)]
#[template(path = "counter/counter.html")]
struct CounterPage<'a> {
    ctx: &'a PageCtx,
    store: StoreRow,
    card: String,
    household: Option<(HouseholdRow, i64)>,
    key: String,
    lines: Vec<PricedLine>,
    choices: Vec<Item>,
    error: Option<String>,
    /// What was typed in the goods box when the look-up refused it, kept
    /// and selected so that the next scan replaces it (empty otherwise).
    entry_again: String,
    /// Households found by name, ID number or old card, to choose from.
    found: Option<Found>,
    /// The store's goods with their prices and stock (F4 opens the list).
    shelf: Vec<crate::stock::ShelfLine>,
    /// The basket's quantity boxes when one could not be read: each
    /// box's item id, what was typed in it (kept in the box) and, for a
    /// box that could not be read, its message (beside it, the box marked).
    qty_typed: Vec<TypedQuantity>,
}

impl CounterPage<'_> {
    fn serve_link(&self, card: &str) -> String {
        serve_link(&self.store, card)
    }
    fn total(&self) -> i64 {
        self.lines.iter().map(|l| l.points).sum()
    }
    fn balance(&self) -> i64 {
        self.household.as_ref().map(|(_, b)| *b).unwrap_or(0)
    }
    fn after(&self) -> i64 {
        self.balance() - self.total()
    }
    /// Whether the look-up found a replaced card: its number is selected
    /// so that the next scan replaces it.
    fn old_card_found(&self) -> bool {
        self.found.as_ref().is_some_and(|f| f.old_card())
    }
    /// What a line's quantity box shows: what was typed when it could not
    /// be read, else the line's quantity.
    fn qty_shown(&self, l: &PricedLine) -> String {
        match self.qty_typed.iter().find(|t| t.item == l.item.id.as_str()) {
            Some(t) if !t.typed.is_empty() => t.typed.clone(),
            _ => l.quantity.to_string(),
        }
    }
    /// Whether a line's quantity box could not be read.
    fn qty_bad(&self, l: &PricedLine) -> bool {
        self.qty_error(l).is_some()
    }
    /// Why a line's quantity box could not be read, beside the box.
    fn qty_error(&self, l: &PricedLine) -> Option<&str> {
        self.qty_typed
            .iter()
            .find(|t| t.item == l.item.id.as_str())
            .and_then(|t| t.error.as_deref())
    }
    fn line_value(&self, l: &PricedLine) -> String {
        format!("{}*{}", l.item.id, l.quantity)
    }
    fn next_link(&self) -> String {
        format!("/counter?store_id={}", self.store.store.id)
    }
    fn masked_id(&self) -> String {
        self.household
            .as_ref()
            .map(|(h, _)| h.household.id_masked.clone())
            .unwrap_or_default()
    }
}

/// The counter's address, or its posted look-up: the store (an admin's
/// choice; a clerk's own store otherwise) and the card or text typed.
#[derive(Deserialize, Default)]
pub struct CounterQuery {
    #[serde(default)]
    store_id: String,
    #[serde(default)]
    card: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for CounterQuery {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "store_id" => "field.store",
            "card" => "field.card_no",
            _ => return None,
        })
    }

    fn holds_id(name: &str) -> bool {
        name == "store_id"
    }
}

pub async fn counter(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: Filter<CounterQuery>,
) -> Result<HttpResponse, AppError> {
    let Filter(mut q, twice) = q;
    // A card or store sent twice in the address is refused on the look-up
    // box (422), its first value kept; an ID number never stays there.
    match twice.check() {
        Ok(()) => show(req, user, state, q, Look::Address).await,
        Err(e) => {
            if crate::domain::people::looks_like_id_number(q.card.trim()) {
                q.card.clear();
            }
            show(req, user, state, q, Look::Refused(e)).await
        }
    }
}

/// The longest look-up text (and store id) a counter address may carry,
/// in characters: a card, a name or an ID number is far shorter.
const MAX_LOOK_UP_CHARS: usize = 64;

/// Where the counter's look-up came from.
enum Look {
    /// The counter's address (a scan, a link): an ID number there is
    /// refused, never used.
    Address,
    /// The look-up box, posted.
    Posted,
    /// The look-up box, posted and refused on its field (422).
    Refused(crate::domain::FieldError),
}

/// The look-up box, posted: what was typed reaches the server in the body,
/// so an ID number never stands in an address, a browser's history or a
/// proxy's log (docs/domain.md). An ID number, or 18 characters refused as
/// a mistyped one, is looked up and shown here; a card number or a name
/// goes on to the counter's address, as a scan always has. A card text or
/// store id over [`MAX_LOOK_UP_CHARS`] is refused on the page (422) naming
/// its field, never put in an address, as is a field sent twice or text
/// that reads as no card, ID number or name (control characters).
///
/// Errors: as the counter's (`Forbidden` for a role that does not redeem,
/// the store's scope).
pub async fn find(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<CounterQuery>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::Redeem)?;
    let mut q = form.0;
    // A field sent twice is refused like every form's (422), the look-up
    // box holding the first value typed and the message beside it; nothing
    // is looked up. What was typed stays in the body, never an address.
    if let Err(e) = form.1.check() {
        if q.store_id.chars().count() > MAX_LOOK_UP_CHARS {
            q.store_id.clear();
        }
        if q.card.chars().count() > MAX_LOOK_UP_CHARS {
            q.card = q.card.chars().take(MAX_LOOK_UP_CHARS).collect();
        }
        return show(req, user, state, q, Look::Refused(e)).await;
    }
    // No address carries typed text beyond a sane length.
    if q.store_id.chars().count() > MAX_LOOK_UP_CHARS {
        if !matches!(user.scope, Scope::Store { .. }) {
            let e = crate::domain::FieldError::new("field.store", "error.too_long")
                .arg("max", MAX_LOOK_UP_CHARS);
            return pick_store(&req, &user, &state, Some(e)).await;
        }
        // A clerk's counter is their own store's, whatever was sent.
        q.store_id.clear();
    }
    if q.card.chars().count() > MAX_LOOK_UP_CHARS {
        let e = crate::domain::FieldError::new("field.card_no", "error.too_long")
            .arg("max", MAX_LOOK_UP_CHARS);
        return show(req, user, state, q, Look::Refused(e)).await;
    }
    match Query::parse(q.card.trim()) {
        Ok(Some(Query::IdNumber(_))) => show(req, user, state, q, Look::Posted).await,
        // Text that reads as nothing (a mistyped ID number or card, control
        // characters) is refused on the look-up box (422), never an address.
        Err(e) => show(req, user, state, q, Look::Refused(e)).await,
        Ok(_) => Ok(see_other(&format!(
            "/counter?{}",
            serde_urlencoded::to_string([("store_id", q.store_id.trim()), ("card", q.card.trim())])
                .unwrap_or_default()
        ))),
    }
}

/// The page where an admin picks the store first; with `refused`, the
/// store field that could not be read, beside it (422).
async fn pick_store(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    refused: Option<crate::domain::FieldError>,
) -> Result<HttpResponse, AppError> {
    let stores = run(state, |c| Ok(crate::stores::list(c)?)).await?;
    let ctx = PageCtx::build(req, Some(user));
    let status = if refused.is_some() {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        actix_web::http::StatusCode::OK
    };
    let error = refused.map(|e| i18n::field_error(lang_of(req), &e));
    render_with_status(
        &ctx,
        &PickStore {
            ctx: &ctx,
            stores,
            error,
        },
        status,
    )
}

/// The counter for a store (an admin picks the store first), with the
/// household of the card or what was found for the text typed.
async fn show(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: CounterQuery,
    look: Look,
) -> Result<HttpResponse, AppError> {
    user.require(Action::Redeem)?;
    let store_refused =
        |e: &crate::domain::FieldError| e.all().iter().any(|e| e.field == "field.store");
    if !matches!(user.scope, Scope::Store { .. }) {
        // An admin picks the store first; a store refused (not an id, sent
        // twice) is said beside the picker.
        if q.store_id.trim().is_empty() {
            let refused = match &look {
                Look::Refused(e) => Some(e.clone()),
                _ => None,
            };
            return pick_store(&req, &user, &state, refused).await;
        }
        if let Look::Refused(e) = &look
            && store_refused(e)
        {
            return pick_store(&req, &user, &state, Some(e.clone())).await;
        }
    }
    let mut look = look;
    if let Scope::Store { id } = &user.scope
        && !matches!(look, Look::Refused(_))
        && !q.store_id.trim().is_empty()
        && q.store_id.trim() != id.as_str()
    {
        // A clerk's counter is their own store's: another store asked for
        // is said, never shown silently as their own.
        look = Look::Refused(crate::domain::FieldError::new(
            "field.store",
            "error.store_unknown",
        ));
    }
    let store = match counter_store(&state, &user, Action::Redeem, &q.store_id).await {
        // A store no one has (or out of reach): said beside the picker.
        Err(AppError::NotFound) if !matches!(user.scope, Scope::Store { .. }) => {
            let e = crate::domain::FieldError::new("field.store", "error.store_unknown");
            return pick_store(&req, &user, &state, Some(e)).await;
        }
        other => other?,
    };
    let lang = lang_of(&req);
    let mut card = q.card.trim().to_string();
    let mut found = None;
    let mut address_refused = false;
    let parsed = match &look {
        Look::Refused(e) => Err(e.clone()),
        // An ID number in an address (a history, a log) is never used:
        // the clerk is told to type it in the look-up box instead.
        Look::Address
            if matches!(Query::parse(&card), Ok(Some(Query::IdNumber(_))))
                || crate::domain::people::looks_like_id_number(&card) =>
        {
            card.clear();
            address_refused = true;
            Err(crate::domain::FieldError::new(
                "field.id_number",
                "error.id_number_in_address",
            ))
        }
        _ => Query::parse(&card),
    };
    let status = if matches!(look, Look::Refused(_)) {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        actix_web::http::StatusCode::OK
    };
    let (household, error) = match parsed {
        Ok(None) => (None, None),
        Err(e) => (None, Some(i18n::field_error(lang, &e))),
        // A card in use opens its household; anything else is looked for.
        Ok(Some(query)) => {
            let card2 = card.clone();
            let actor = user.actor();
            let at = store.clone();
            let opened = run(&state, move |c| {
                let (mut h, _) = redemptions::household_at_store(c, &actor, &at, &card2)?;
                crate::households::name_villages(c, &actor, std::slice::from_mut(&mut h))?;
                let balance =
                    crate::ledger::balance(c, &crate::ledger::household_account(&h.household.id))?;
                Ok((h, balance))
            })
            .await;
            match opened {
                Ok(h) => (Some(h), None),
                Err(AppError::Invalid(e))
                    if !matches!(query, Query::Card(_)) || e.key == "error.card_replaced" =>
                {
                    let actor = user.actor();
                    let key = state.key.clone();
                    let store_id = store.store.id.clone();
                    let (by, rows) = run(&state, move |c| {
                        let (by, mut rows) =
                            find::find_at_counter(c, &actor, &key, &store_id, &query)?;
                        // Namesakes told apart by village and town.
                        crate::households::name_villages(c, &actor, &mut rows)?;
                        Ok((by, rows))
                    })
                    .await?;
                    // One household for an ID number is that household.
                    if let ([one], FoundBy::IdNumber) = (rows.as_slice(), by)
                        && let Some(current) = &one.card_no
                    {
                        return Ok(see_other(&serve_link(&store, current)));
                    }
                    let error = rows
                        .is_empty()
                        .then(|| i18n::tf(lang, "counter.found_none", &[("text", card.clone())]));
                    found = Some(Found { by, rows });
                    (None, error)
                }
                Err(AppError::Invalid(e)) => (None, Some(i18n::field_error(lang, &e))),
                Err(e) => return Err(e),
            }
        }
    };
    // The basket, when a link carries it (the language switch does).
    // Nothing is redeemed from a GET; a line that cannot be read, or names
    // no item, is left out of the basket shown and named in the message.
    let mut wanted = Basket::read(
        &serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
            .unwrap_or_default(),
    );
    let (lines, shelf) = if household.is_some() {
        let store_id = store.store.id.clone();
        let want = wanted.lines.clone();
        let (lines, unknown, shelf) = run(&state, move |c| {
            let (lines, unknown) = redemptions::price_basket(c, &store_id, &want)?;
            Ok((lines, unknown, counter_shelf(c, &store_id)?))
        })
        .await?;
        wanted.refuse_unknown(&unknown);
        (lines, shelf)
    } else {
        (Vec::new(), Vec::new())
    };
    let error = error.or_else(|| wanted.refusal(lang));
    let mut ctx = PageCtx::build(&req, Some(&user));
    if req.method() != actix_web::http::Method::GET || address_refused {
        // Shown for a posted look-up: the language switch comes back to
        // the counter itself, never with what was typed in its address.
        ctx.back = format!("/counter?store_id={}", store.store.id);
    }
    render_with_status(
        &ctx,
        &CounterPage {
            ctx: &ctx,
            store,
            card,
            household,
            key: form_key(),
            lines,
            choices: Vec::new(),
            error,
            entry_again: String::new(),
            found,
            shelf,
            qty_typed: Vec::new(),
        },
        status,
    )
}

/// The goods a clerk can hand out here: active items on the shelf, with
/// their price at this store and how many are there.
fn counter_shelf(
    c: &mut crate::db::DbConn,
    store_id: &crate::domain::StoreId,
) -> diesel::QueryResult<Vec<crate::stock::ShelfLine>> {
    Ok(crate::stock::shelf(c, store_id)?
        .into_iter()
        .filter(|l| l.item.active)
        .collect())
}

/// The counter on a household's card with a basket (`line` = `item*qty`).
fn counter_link(store: &StoreRow, card: &str, lines: &[WantLine]) -> String {
    let mut q = vec![
        ("store_id".to_string(), store.store.id.to_string()),
        ("card".to_string(), card.to_string()),
    ];
    q.extend(
        lines
            .iter()
            .map(|l| ("line".to_string(), format!("{}*{}", l.item_id, l.quantity))),
    );
    format!(
        "/counter?{}",
        serde_urlencoded::to_string(q).unwrap_or_default()
    )
}

/// The counter opened on a household's card in use.
fn serve_link(store: &StoreRow, card: &str) -> String {
    format!(
        "/counter?{}",
        serde_urlencoded::to_string([("store_id", store.store.id.as_str()), ("card", card)])
            .unwrap_or_default()
    )
}

/// Households found without their card, for the clerk to choose from.
pub struct Found {
    by: FoundBy,
    rows: Vec<HouseholdRow>,
}

impl Found {
    fn old_card(&self) -> bool {
        self.by == FoundBy::OldCard
    }
}

#[derive(Template)]
#[template(path = "counter/pick_store.html")]
struct PickStore<'a> {
    ctx: &'a PageCtx,
    stores: Vec<StoreRow>,
    /// Why the store sent could not be used, beside the picker.
    error: Option<String>,
}

fn field(form: &[(String, String)], name: &str) -> String {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

/// The basket as the form carries it, from its `line` fields
/// ("item*quantity", the quantity read by the one quantity parser,
/// full-width digits included; the same item twice is added up).
struct Basket {
    /// The lines that could be read.
    lines: Vec<WantLine>,
    /// Each line's place among the form's lines, from 1.
    places: Vec<usize>,
    /// A refusal for each line that could not be read or names no item,
    /// by its place: such a line is refused, never dropped unsaid.
    refused: Vec<crate::domain::FieldError>,
}

impl Basket {
    fn read(form: &[(String, String)]) -> Basket {
        use crate::domain::FieldError;
        use crate::domain::stock::MAX_QUANTITY;
        let mut b = Basket {
            lines: Vec::new(),
            places: Vec::new(),
            refused: Vec::new(),
        };
        let quantity_error = |n: usize| {
            FieldError::new("field.basket_line", "error.basket_line_quantity")
                .arg("n", n)
                .arg("max", MAX_QUANTITY)
        };
        for (i, (_, v)) in form.iter().filter(|(k, _)| k == "line").enumerate() {
            let n = i + 1;
            let (item, q) = match v.split_once(['*', '＊']) {
                Some((item, q)) if !item.trim().is_empty() => (item.trim(), q),
                _ => {
                    b.refused.push(
                        FieldError::new("field.basket_line", "error.basket_line_unreadable")
                            .arg("n", n),
                    );
                    continue;
                }
            };
            let Ok(q) = crate::domain::stock::Quantity::parse("field.quantity", q) else {
                b.refused.push(quantity_error(n));
                continue;
            };
            // Text that is not an item id names no item.
            let Some(item) = crate::domain::ItemId::parse(item) else {
                b.refused.push(redemptions::unknown_line(n));
                continue;
            };
            if !b.lines.iter().any(|l| l.item_id == item) {
                b.places.push(n);
            }
            redemptions::add_line(&mut b.lines, &item, q.get());
        }
        // The same item on several lines, added up past what one line holds.
        for (l, n) in b.lines.iter().zip(&b.places) {
            if l.quantity > MAX_QUANTITY {
                b.refused.push(quantity_error(*n));
            }
        }
        let over: Vec<usize> = (0..b.lines.len())
            .filter(|i| b.lines[*i].quantity > MAX_QUANTITY)
            .collect();
        b.remove(&over);
        b
    }

    /// Take out the lines at `at` (places in `lines`, from 0).
    fn remove(&mut self, at: &[usize]) {
        let mut i = 0;
        self.lines.retain(|_| {
            i += 1;
            !at.contains(&(i - 1))
        });
        let mut i = 0;
        self.places.retain(|_| {
            i += 1;
            !at.contains(&(i - 1))
        });
    }

    /// Refuse the lines at `at` (places in `lines`, from 0) as naming no
    /// item, and take them out.
    fn refuse_unknown(&mut self, at: &[usize]) {
        for i in at {
            let n = self.places.get(*i).copied().unwrap_or(*i + 1);
            self.refused.push(redemptions::unknown_line(n));
        }
        self.remove(at);
    }

    /// Every refused line in one message, in the reader's language.
    fn refusal(&self, lang: i18n::Lang) -> Option<String> {
        if self.refused.is_empty() {
            return None;
        }
        let sep = match lang {
            i18n::Lang::Zh => "；",
            i18n::Lang::En => "; ",
        };
        Some(
            self.refused
                .iter()
                .map(|e| i18n::field_error(lang, e))
                .collect::<Vec<_>>()
                .join(sep),
        )
    }
}

/// The item a basket line or a pick names: text that is not an item id is
/// refused as an unknown item is (`field.item`, `error.item_unknown`).
fn item_named(text: &str) -> Result<crate::domain::ItemId, crate::domain::FieldError> {
    crate::domain::ItemId::parse(text.trim())
        .ok_or_else(|| crate::domain::FieldError::new("field.item", "error.item_unknown"))
}

/// A basket quantity box as posted: its item's id, what was typed in it,
/// and, when it could not be read, the message shown beside it.
struct TypedQuantity {
    item: String,
    typed: String,
    error: Option<String>,
}

/// Apply the quantities typed into the basket's own boxes (`qty_<item>`):
/// a new number replaces the line's; 0 is refused beside its box (a line
/// is taken out by its remove button). Returns whether
/// anything changed, or, when a box cannot be read, each box as typed,
/// every such box with its refusal naming its line (its place, from 1);
/// nothing is changed then.
fn change_quantities(
    lines: &mut [WantLine],
    form: &[(String, String)],
    lang: i18n::Lang,
) -> (bool, Option<Vec<TypedQuantity>>) {
    let mut wanted = Vec::with_capacity(lines.len());
    let mut boxes = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let typed = field(form, &format!("qty_{}", l.item_id));
        let mut error = None;
        let q = if typed.is_empty() {
            l.quantity
        } else {
            match crate::domain::stock::Quantity::parse("field.quantity", &typed) {
                Ok(q) => q.get(),
                Err(_) => {
                    // A 0 is refused like any quantity that is none: a line
                    // is taken out by its remove button only, never by a
                    // box that may have been mistyped.
                    let zero = crate::domain::input::whole_number(
                        &crate::domain::input::normalize(&typed),
                    ) == Some(0);
                    let refusal = crate::domain::FieldError::new(
                        "field.basket_line",
                        if zero {
                            "error.basket_line_zero"
                        } else {
                            "error.basket_line_quantity"
                        },
                    )
                    .arg("n", i + 1)
                    .arg("max", crate::domain::stock::MAX_QUANTITY);
                    error = Some(i18n::field_error(lang, &refusal));
                    l.quantity
                }
            }
        };
        boxes.push(TypedQuantity {
            item: l.item_id.to_string(),
            typed,
            error,
        });
        wanted.push(q);
    }
    if boxes.iter().any(|b| b.error.is_some()) {
        return (false, Some(boxes));
    }
    let changed = lines.iter().zip(&wanted).any(|(l, q)| l.quantity != *q);
    if changed {
        for (l, q) in lines.iter_mut().zip(wanted) {
            l.quantity = q;
        }
    }
    (changed, None)
}

/// Every action at the counter: add a scanned or typed item, pick one of
/// several matches, remove a line, or (Enter on an empty entry, or the
/// confirm button) redeem.
/// The basket form's fields and the labels their messages name.
fn basket_label(name: &str) -> Option<&'static str> {
    if name.starts_with("qty_") {
        return Some("field.quantity");
    }
    Some(match name {
        "store_id" => "field.store",
        "card" => "field.card_no",
        "household_id" => "field.household",
        "total" => "field.expected_total",
        "entry" | "pick" => "field.item",
        "qty" => "field.quantity",
        "remove" => "field.basket_line",
        _ => return None,
    })
}

pub async fn basket_action(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::Redeem)?;
    let (form, read) = (form.0, form.1);
    // The basket's lines repeat; any other field sent twice leaves the
    // basket as it was, said beside it.
    let twice = SentTwice::among(&form, &["line"], basket_label).with_spoiled(read);
    // The store the form names is the store, checked like any store: a
    // clerk's form naming another (a page left open when the clerk was
    // moved, or a forged form) is refused by `stores::for_actor`.
    let posted_store = field(&form, "store_id");
    let store = if posted_store.is_empty() {
        counter_store(&state, &user, Action::Redeem, "").await?
    } else {
        load_store(&state, &user, Action::Redeem, posted_store).await?
    };
    let lang = lang_of(&req);
    let card = field(&form, "card");
    let mut key = field(&form, "key");
    if key.is_empty() {
        key = form_key();
    }
    // Every line read, those naming no item refused with the rest.
    let mut basket = Basket::read(&form);
    if !basket.lines.is_empty() {
        let want = basket.lines.clone();
        let unknown = run(&state, move |c| Ok(redemptions::unknown_lines(c, &want)?)).await?;
        basket.refuse_unknown(&unknown);
    }
    // The lines naming no item and the fields sent twice, said together.
    let sep = match lang {
        i18n::Lang::Zh => "；",
        i18n::Lang::En => "; ",
    };
    let said: Vec<String> = basket
        .refusal(lang)
        .into_iter()
        .chain(twice.check().err().into_iter().flat_map(|e| {
            e.all()
                .into_iter()
                .map(|f| i18n::field_error(lang, f))
                .collect::<Vec<_>>()
        }))
        .collect();
    let unreadable = (!said.is_empty()).then(|| said.join(sep));
    let mut lines = basket.lines;
    let entry = field(&form, "entry");
    let qty_text = field(&form, "qty");
    let mut error: Option<String> = None;
    // Whether the refusal is a conflict with the state of things (a price
    // changed, points or stock short): 409 rather than 422.
    let mut conflict = false;
    if let Some(e) = &unreadable {
        error = Some(e.clone());
    }
    let mut choices = Vec::new();
    let quantity = if qty_text.is_empty() {
        Ok(1)
    } else {
        crate::domain::stock::Quantity::parse("field.quantity", &qty_text).map(|q| q.get())
    };
    // A line's remove button: the line's place in the basket. A place that
    // does not read, or names no line, removes nothing and never confirms.
    let remove = form
        .iter()
        .find(|(k, _)| k == "remove")
        .map(|(_, v)| v.trim().parse::<usize>().ok().filter(|i| *i < lines.len()));
    let pick = field(&form, "pick");
    // Quantities changed in the basket's own boxes (0 takes the line out).
    let (changed, unreadable_qty) = if unreadable.is_none() {
        change_quantities(&mut lines, &form, lang)
    } else {
        (false, None)
    };
    if let Some(boxes) = &unreadable_qty {
        // Each box's message stands beside it; the summary says them all.
        let sep = match lang {
            i18n::Lang::Zh => "；",
            i18n::Lang::En => "; ",
        };
        let all: Vec<&str> = boxes.iter().filter_map(|b| b.error.as_deref()).collect();
        error = Some(all.join(sep));
    }
    // Enter in a quantity box applies the change; it never confirms.
    let confirm = !changed
        && unreadable_qty.is_none()
        && (form.iter().any(|(k, _)| k == "confirm")
            || (entry.is_empty() && pick.is_empty() && remove.is_none() && !lines.is_empty()));
    if unreadable.is_some() || unreadable_qty.is_some() {
        // Nothing is added, removed or redeemed from a basket not read whole.
    } else if let Some(place) = remove.filter(|_| !changed) {
        match place {
            Some(i) => {
                lines.remove(i);
            }
            None => error = Some(i18n::t(lang, "counter.remove_unknown").to_string()),
        }
    } else if !pick.is_empty() {
        match quantity.and_then(|q| Ok((item_named(&pick)?, q))) {
            Ok((item, q)) => {
                if let Err(e) = redemptions::add_within(&mut lines, &item, q) {
                    error = Some(i18n::field_error(lang, &e));
                }
            }
            Err(e) => error = Some(i18n::field_error(lang, &e)),
        }
    } else if !entry.is_empty() {
        let e2 = entry.clone();
        let found = run(&state, move |c| Ok(redemptions::find_items(c, &e2)?)).await?;
        match (found.len(), quantity) {
            (_, Err(e)) => error = Some(i18n::field_error(lang, &e)),
            (0, _) => match crate::domain::CardNo::parse("field.card_no", &entry) {
                // A points card scanned into the goods box: the next
                // household's, once this basket is empty.
                Ok(next) if lines.is_empty() => {
                    return Ok(see_other(&serve_link(&store, next.as_str())));
                }
                Ok(_) => error = Some(i18n::t(lang, "counter.card_in_goods_box").to_string()),
                Err(_) => {
                    error = Some(i18n::tf(
                        lang,
                        "counter.no_item",
                        &[("entry", entry.clone())],
                    ))
                }
            },
            (1, Ok(q)) if !found[0].active => {
                error = Some(i18n::field_error(
                    lang,
                    &crate::domain::FieldError::new("field.item", "error.item_inactive")
                        .arg("item", &found[0].name),
                ));
                let _ = q;
            }
            (1, Ok(q)) => {
                if let Err(e) = redemptions::add_within(&mut lines, &found[0].id, q) {
                    error = Some(i18n::field_error(lang, &e));
                }
            }
            (_, Ok(_)) => choices = found,
        }
    } else if confirm && field(&form, "total").parse::<i64>().is_err() {
        // A confirmation carries the total the clerk saw; without one there
        // is nothing to hold the charge to: show the basket priced now.
        error = Some(i18n::t(lang, "counter.total_missing").to_string());
    } else if confirm {
        let actor = user.actor();
        // The household the page showed, and the total it showed: the
        // redemption must be for that household and cost exactly that.
        let named = field(&form, "household_id");
        let shown = field(&form, "total").parse::<i64>().ok();
        let day = crate::time::today(state.config.time_zone);
        let (store_id, card2, key2, lines2) = (
            store.store.id.clone(),
            card.clone(),
            key.clone(),
            lines.clone(),
        );
        let result = run(&state, move |c| {
            Ok(redemptions::redeem(
                c,
                &actor,
                &RedeemRequest {
                    store_id: &store_id,
                    card: &card2,
                    lines: &lines2,
                    key: &key2,
                    household_id: Some(named.as_str()),
                    expected_total: shown,
                },
                day,
            )?)
        })
        .await;
        match result {
            Ok((r, _replayed)) => {
                // A store that prints by itself prints this receipt once.
                let print = if store.store.print_after_confirm {
                    "?print=1"
                } else {
                    ""
                };
                return Ok(see_other(&format!("/redemptions/{}{print}", r.id)));
            }
            Err(AppError::Invalid(e)) => {
                conflict = e.all().iter().any(|f| f.conflict.is_some());
                if e.all()
                    .iter()
                    .any(|f| f.conflict == Some(crate::domain::Conflict::KeyReused))
                {
                    // This confirm form already redeemed another basket:
                    // the basket posted is shown again, with a fresh form,
                    // for the clerk to check and confirm as a new one.
                    error = Some(i18n::t(lang, "counter.key_reused").to_string());
                    key = form_key();
                } else {
                    error = Some(i18n::field_error(lang, &e));
                }
            }
            Err(e) => return Err(e),
        }
    }
    // Show the counter again, the basket as it was (or as changed).
    let store_id = store.store.id.clone();
    let card2 = card.clone();
    let lines2 = lines.clone();
    let actor = user.actor();
    let at = store.clone();
    let loaded = run(&state, move |c| {
        let h = match redemptions::household_at_store(c, &actor, &at, &card2) {
            Ok((mut h, _)) => {
                crate::households::name_villages(c, &actor, std::slice::from_mut(&mut h))?;
                let b =
                    crate::ledger::balance(c, &crate::ledger::household_account(&h.household.id))?;
                Some((h, b))
            }
            Err(_) => None,
        };
        let (priced, unknown) = redemptions::price_basket(c, &store_id, &lines2)?;
        let shelf = counter_shelf(c, &store_id)?;
        Ok((h, priced, unknown, shelf))
    })
    .await;
    let (household, priced, unknown, shelf) = match loaded {
        Ok(x) => x,
        Err(AppError::Invalid(e)) => return Ok(flash_field_error(&req, "/counter", &e)),
        Err(e) => return Err(e),
    };
    // An item picked that names none is refused by its line, and left out.
    if let Some(first) = unknown.first() {
        error.get_or_insert_with(|| i18n::field_error(lang, &redemptions::unknown_line(first + 1)));
        let mut i = 0;
        lines.retain(|_| {
            i += 1;
            !unknown.contains(&(i - 1))
        });
    }
    let mut ctx = PageCtx::build(&req, Some(&user));
    ctx.back = counter_link(&store, &card, &lines);
    let status = match (&error, conflict) {
        (None, _) => actix_web::http::StatusCode::OK,
        (Some(_), true) => actix_web::http::StatusCode::CONFLICT,
        (Some(_), false) => actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
    };
    crate::web::page::render_with_status(
        &ctx,
        &CounterPage {
            ctx: &ctx,
            store,
            card,
            household,
            key,
            lines: priced,
            choices,
            entry_again: if error.is_some() {
                entry.clone()
            } else {
                String::new()
            },
            error,
            found: None,
            shelf,
            qty_typed: unreadable_qty.unwrap_or_default(),
        },
        status,
    )
}

#[derive(Template)]
#[template(path = "counter/receipt.html")]
struct ReceiptPage<'a> {
    ctx: &'a PageCtx,
    r: Redemption,
    lines: Vec<Line>,
    store: StoreRow,
    household: HouseholdRow,
    clerk_name: String,
    paper: Paper,
    papers: &'static [Paper],
    can_void: bool,
    /// The clerk may set how this store prints (its paper, printing by itself).
    can_set_printing: bool,
    /// Print once as the page opens (a store that prints after confirming).
    auto_print: bool,
    /// Whether this reader serves households at this store ("next household").
    can_serve: bool,
    /// A refused void (`"void"`), with the reason typed.
    refused: Refused,
}

#[derive(Deserialize, Default)]
pub struct ReceiptQuery {
    /// A paper to show this once ("58", "80", "a4"); the store's otherwise.
    #[serde(default)]
    paper: String,
    /// "1" right after a confirmed redemption at a store that prints by itself.
    #[serde(default)]
    print: String,
}

/// The filter's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for ReceiptQuery {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "paper" => "field.receipt_paper",
            _ => return None,
        })
    }
}

pub async fn receipt(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: Filter<ReceiptQuery>,
) -> Result<HttpResponse, AppError> {
    // The receipt has no filter form: a paper or print sent twice is a
    // page (422) naming the field, in the reader's language.
    let Filter(q, twice) = q;
    twice.check()?;
    receipt_page(req, user, state, id.into_inner(), q, Refused::default()).await
}

/// The receipt; `refused` shows a refused void again (422, or 409 when the
/// receipt changed), the reason typed kept beside its message.
async fn receipt_page(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: String,
    q: ReceiptQuery,
    refused: Refused,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ViewRedemptions)?;
    let actor = user.actor();
    let receipt = run(&state, move |c| Ok(redemptions::receipt(c, &actor, &id)?)).await?;
    let r = receipt.redemption;
    let store = load_store(
        &state,
        &user,
        Action::ViewRedemptions,
        r.store_id.to_string(),
    )
    .await?;
    let paper = Paper::from_form(&q.paper).unwrap_or(store.store.receipt_paper);
    let at_counter = user.can(Action::Redeem) && user.require_store(Action::Redeem, &store).is_ok();
    // A refused void stays on the page, even when the receipt was voided
    // meanwhile, so its message and reason are seen.
    let can_void = (!r.is_void() || refused.is("void")) && at_counter;
    let auto_print = q.print == "1" && at_counter && store.store.print_after_confirm;
    let can_serve = user.can_at_store(Action::Redeem, &store) && store.store.active;
    let ctx = PageCtx::build(&req, Some(&user));
    let status = refused.status();
    render_with_status(
        &ctx,
        &ReceiptPage {
            ctx: &ctx,
            r,
            lines: receipt.lines,
            store,
            household: receipt.household,
            clerk_name: receipt.clerk_name,
            paper,
            papers: Paper::ALL,
            can_void,
            can_set_printing: at_counter,
            auto_print,
            can_serve,
            refused,
        },
        status,
    )
}

#[derive(Deserialize, serde::Serialize)]
pub struct PrintingForm {
    #[serde(default)]
    paper: String,
    /// "1" when the receipt prints by itself after confirming.
    #[serde(default)]
    print_after_confirm: String,
    /// The receipt to go back to.
    #[serde(default)]
    redemption_id: String,
    /// The store's version when the form was shown (empty: not checked).
    #[serde(default)]
    version: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for PrintingForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "paper" => "field.receipt_paper",
            "print_after_confirm" => "field.receipt_paper",
            _ => return None,
        })
    }
}

/// Remember how a store prints its receipts (its paper, and whether a
/// receipt prints by itself after confirming): a clerk there or an admin.
pub async fn printing(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<PrintingForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let store = load_store(&state, &user, Action::Redeem, id.into_inner()).await?;
    let f = form.0;
    let rid = f.redemption_id.trim().to_string();
    let on_receipt = !rid.is_empty() && rid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let back = if on_receipt {
        format!("/redemptions/{rid}")
    } else {
        format!("/counter?store_id={}", store.store.id)
    };
    let result = async {
        let settings = ReceiptSettings {
            paper: Paper::from_form(&f.paper)?,
            print_after_confirm: f.print_after_confirm == "1",
        };
        let seen = Some(crate::web::form::seen_version(&f.version)?);
        let actor = user.actor();
        let sid = store.store.id.clone();
        form.1
            .run(&state, move |c| {
                Ok(crate::stores::set_receipt_settings(
                    c, &actor, &sid, &settings, seen,
                )?)
            })
            .await?;
        Ok(flash_ok(&req, &back, "flash.printing_saved", &[]))
    }
    .await;
    if !on_receipt {
        // No receipt holds the form: the refusal's own page (422 or 409).
        return result;
    }
    // A refusal comes back on the receipt, beside the printing form.
    or_again(lang_of(&req), "printing", &f, result, |r| {
        receipt_page(req, user, state, rid, ReceiptQuery::default(), r)
    })
    .await
}

#[derive(Deserialize, serde::Serialize)]
pub struct VoidForm {
    #[serde(default)]
    reason: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for VoidForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "reason" => "field.reason",
            _ => return None,
        })
    }
}

pub async fn void(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CsrfForm<VoidForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    user.require(Action::Redeem)?;
    let id = id.into_inner();
    let back = format!("/redemptions/{id}");
    let actor = user.actor();
    let tz = state.config.time_zone;
    let typed = form.0;
    let (rid, reason) = (id.clone(), typed.reason.clone());
    let result = form
        .1
        .run(&state, move |c| {
            Ok(redemptions::void(c, &actor, &rid, &reason, tz)?)
        })
        .await
        .map(|_| flash_ok(&req, &back, "flash.redemption_voided", &[]));
    or_again(lang_of(&req), "void", &typed, result, |r| {
        receipt_page(req, user, state, id, ReceiptQuery::default(), r)
    })
    .await
}

#[derive(Deserialize, Default)]
pub struct DayQuery {
    #[serde(default)]
    store_id: String,
    #[serde(default)]
    date: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for DayQuery {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "store_id" => "field.report_store",
            "date" => "field.date",
            _ => return None,
        })
    }
}

#[derive(Template)]
#[template(path = "counter/day.html")]
struct DayPage<'a> {
    ctx: &'a PageCtx,
    store: StoreRow,
    day: String,
    s: DaySummary,
    /// A date asked for that does not read (`"filter"`): what was typed,
    /// beside its message; no day's summary is shown then.
    refused: Refused,
}

/// End of day (日结): the clerk's printable summary.
pub async fn day(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    q: Filter<DayQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::ViewRedemptions)?;
    let Filter(q, twice) = q;
    if q.store_id.trim().is_empty() && !matches!(user.scope, Scope::Store { .. }) {
        // Which store's day? The list of stores, each with its own.
        return Ok(see_other("/stores"));
    }
    let store = counter_store(&state, &user, Action::ViewRedemptions, &q.store_id).await?;
    let tz = state.config.time_zone;
    let lang = lang_of(&req);
    // A field sent twice is refused like a date that does not read.
    let asked = twice
        .check()
        .and_then(|()| crate::points::parse_date("field.date", &q.date));
    let (day, refused) = match asked {
        Ok(d) => (
            d.unwrap_or_else(|| crate::time::today(tz)),
            Refused::default(),
        ),
        // A day that does not read is a 422 naming the date, the filter
        // holding what was typed; the summary shown is today's, said so.
        Err(e) => (
            crate::time::today(tz),
            Refused::of_pairs(lang, "filter", vec![("date".into(), q.date.clone())], &e),
        ),
    };
    let sid = store.store.id.clone();
    let s = run(&state, move |c| {
        Ok(redemptions::day_summary(c, &sid, day, tz)?)
    })
    .await?;
    let ctx = PageCtx::build(&req, Some(&user));
    let status = refused.status();
    render_with_status(
        &ctx,
        &DayPage {
            ctx: &ctx,
            store,
            day: day.to_string(),
            s,
            refused,
        },
        status,
    )
}
