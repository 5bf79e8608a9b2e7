//! Love supermarkets (爱心超市): the stores where households spend points.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::areas;
use crate::audit;
use crate::auth::{Action, Actor};
use crate::db::schema::{areas as areas_t, stores};
use crate::db::{self, DbConn};
use crate::domain::{FieldError, StoreId, parse_name, parse_optional_text};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = stores)]
pub struct Store {
    pub id: StoreId,
    pub name: String,
    pub area_id: String,
    pub address: String,
    pub opening_hours: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
    /// The store's telephone, printed on its receipts ("" when not given).
    pub phone: String,
    /// The paper its receipts print on.
    pub receipt_paper: Paper,
    /// Whether a receipt prints by itself once a redemption is confirmed.
    pub print_after_confirm: bool,
    /// Bumped by every save of the store's details; an edit names the
    /// version it was made on.
    pub version: i64,
}

crate::text_enum! {
    /// The paper a store's receipts print on: a 58 mm or 80 mm thermal roll
    /// (the receipt as long as its content) or an A4 sheet.
    pub enum Paper { Roll58 = "58", Roll80 = "80", A4 = "a4" }
}

impl Paper {
    /// The paper a form or link names ("58", "80", "a4"; "A4" too).
    ///
    /// Errors: `field.receipt_paper` / `error.choose_one` for anything else.
    pub fn from_form(s: &str) -> Result<Paper, FieldError> {
        Paper::parse(&s.trim().to_ascii_lowercase())
            .map_err(|_| FieldError::new("field.receipt_paper", "error.choose_one"))
    }

    /// The receipt's CSS class for this paper.
    pub fn css_class(self) -> &'static str {
        match self {
            Paper::Roll58 => "paper-58",
            Paper::Roll80 => "paper-80",
            Paper::A4 => "paper-a4",
        }
    }

    /// How the paper is named on the page (58 mm, 80 mm, A4).
    pub fn label(self) -> &'static str {
        match self {
            Paper::Roll58 => "58 mm",
            Paper::Roll80 => "80 mm",
            Paper::A4 => "A4",
        }
    }
}

#[derive(Debug, Clone)]
pub struct StoreRow {
    pub store: Store,
    pub area_name: String,
    pub area_path: String,
}

/// This area's refusals: the one vocabulary every operation shares.
pub type StoreError = crate::error::Problem;

pub fn find(conn: &mut DbConn, id: &StoreId) -> QueryResult<Option<StoreRow>> {
    stores::table
        .inner_join(areas_t::table)
        .filter(stores::id.eq(id))
        .select((Store::as_select(), areas_t::name, areas_t::path))
        .first::<(Store, String, String)>(conn)
        .optional()
        .map(|o| {
            o.map(|(store, area_name, area_path)| StoreRow {
                store,
                area_name,
                area_path,
            })
        })
}

/// A store by id for someone who wants to do `action` there: the role may
/// act, and the store lies in the scope (a clerk: only their own store).
/// The one check for every store id that arrives in a URL, a form or JSON.
///
/// Errors: `Forbidden` before anything is read when the role may not act,
/// and for a store outside the scope; `NotFound` for an unknown id.
pub fn for_actor(
    conn: &mut DbConn,
    actor: &Actor,
    action: Action,
    id: &StoreId,
) -> Result<StoreRow, StoreError> {
    if actor.require(action).is_err() {
        return Err(StoreError::Forbidden);
    }
    let store = find(conn, id)?.ok_or(StoreError::NotFound)?;
    if actor.require_store(action, &store).is_err() {
        return Err(StoreError::Forbidden);
    }
    Ok(store)
}

pub fn list(conn: &mut DbConn) -> QueryResult<Vec<StoreRow>> {
    Ok(stores::table
        .inner_join(areas_t::table)
        .order(stores::name.asc())
        .select((Store::as_select(), areas_t::name, areas_t::path))
        .load::<(Store, String, String)>(conn)?
        .into_iter()
        .map(|(store, area_name, area_path)| StoreRow {
            store,
            area_name,
            area_path,
        })
        .collect())
}

/// What an admin types for a store.
pub struct StoreForm<'a> {
    pub name: &'a str,
    pub area_id: &'a str,
    pub address: &'a str,
    pub opening_hours: &'a str,
    pub phone: &'a str,
}

/// How a store prints its receipts.
pub struct ReceiptSettings {
    pub paper: Paper,
    pub print_after_confirm: bool,
}

impl StoreForm<'_> {
    /// Name, address, opening hours, phone and area id, every wrong field
    /// named at once.
    fn parse(&self) -> Result<(String, String, String, String, &str), FieldError> {
        let mut checks = crate::domain::FieldChecks::new();
        let name = checks.take(parse_name("field.store_name", self.name, 60));
        let address = checks.take(parse_optional_text("field.address", self.address, 200));
        let hours = checks.take(parse_optional_text(
            "field.opening_hours",
            self.opening_hours,
            100,
        ));
        let phone = checks.take(crate::domain::stock::parse_phone(
            "field.store_phone",
            self.phone,
        ));
        let area_id = self.area_id.trim();
        if area_id.is_empty() {
            checks.push(FieldError::new("field.area", "error.area_required"));
        }
        checks.finish()?;
        Ok((
            name.unwrap_or_default(),
            address.unwrap_or_default(),
            hours.unwrap_or_default(),
            phone.unwrap_or_default(),
            area_id,
        ))
    }
}

pub fn create(conn: &mut DbConn, actor: &Actor, form: &StoreForm) -> Result<Store, StoreError> {
    actor.require(Action::ManageStores)?;
    let ctx = &actor.audit();
    let (name, address, hours, phone, area_id) = form.parse()?;
    let result = db::write_tx(conn, |c| {
        if areas::find(c, area_id)?.is_none() {
            return Err(FieldError::new("field.area", "error.area_unknown").into());
        }
        let id = StoreId::new();
        diesel::insert_into(stores::table)
            .values((
                stores::id.eq(&id),
                stores::name.eq(&name),
                stores::area_id.eq(area_id),
                stores::address.eq(&address),
                stores::opening_hours.eq(&hours),
                stores::phone.eq(&phone),
                stores::active.eq(true),
                stores::created_at.eq(db::now()),
            ))
            .execute(c)?;
        audit::record(c, ctx, "store.create", "store", &id, &name)?;
        Ok(stores::table
            .find(&id)
            .select(Store::as_select())
            .first(c)?)
    });
    match result {
        Err(StoreError::Db(e)) if db::is_unique_violation(&e) => Err(FieldError::conflict(
            "field.store_name",
            "error.store_name_taken",
            crate::domain::Conflict::Taken,
        )
        .arg("name", &name)
        .into()),
        other => other,
    }
}

/// Change a store's name, area, address, hours or phone, as seen at
/// version `seen` (when given): one conditional update on the version read,
/// so a change saved meanwhile is refused (409), never overwritten.
pub fn update(
    conn: &mut DbConn,
    actor: &Actor,
    id: &StoreId,
    form: &StoreForm,
    seen: Option<i64>,
) -> Result<Store, StoreError> {
    actor.require(Action::ManageStores)?;
    let ctx = &actor.audit();
    let (name, address, hours, phone, area_id) = form.parse()?;
    let result = db::write_tx(conn, |c| {
        let before = find(c, id)?.ok_or(StoreError::NotFound)?;
        if seen.is_some_and(|v| v != before.store.version) {
            return Err(changed_meanwhile(&before.store));
        }
        if areas::find(c, area_id)?.is_none() {
            return Err(FieldError::new("field.area", "error.area_unknown").into());
        }
        let n = diesel::update(
            stores::table
                .find(id)
                .filter(stores::version.eq(before.store.version)),
        )
        .set((
            stores::name.eq(&name),
            stores::area_id.eq(area_id),
            stores::address.eq(&address),
            stores::opening_hours.eq(&hours),
            stores::phone.eq(&phone),
            stores::version.eq(stores::version + 1),
        ))
        .execute(c)?;
        if n == 0 {
            let now = find(c, id)?.ok_or(StoreError::NotFound)?;
            return Err(changed_meanwhile(&now.store));
        }
        audit::record(
            c,
            ctx,
            "store.update",
            "store",
            id,
            &audit::Detail::new("renamed")
                .arg("from", &before.store.name)
                .arg("to", &name)
                .to_string(),
        )?;
        Ok(stores::table.find(id).select(Store::as_select()).first(c)?)
    });
    match result {
        Err(StoreError::Db(e)) if db::is_unique_violation(&e) => Err(FieldError::conflict(
            "field.store_name",
            "error.store_name_taken",
            crate::domain::Conflict::Taken,
        )
        .arg("name", &name)
        .into()),
        other => other,
    }
}

/// "This store was changed after you opened the form": what it is called now.
fn changed_meanwhile(store: &Store) -> StoreError {
    FieldError::conflict(
        "field.store",
        "error.record_changed",
        crate::domain::Conflict::Changed,
    )
    .arg("name", &store.name)
    .into()
}

/// Open or close a store. A closed store keeps its shelf and history but
/// receives nothing new.
pub fn set_active(
    conn: &mut DbConn,
    actor: &Actor,
    id: &StoreId,
    active: bool,
) -> Result<Store, StoreError> {
    actor.require(Action::ManageStores)?;
    let ctx = &actor.audit();
    db::write_tx(conn, |c| {
        let before = find(c, id)?.ok_or(StoreError::NotFound)?;
        diesel::update(stores::table.find(id))
            .set(stores::active.eq(active))
            .execute(c)?;
        let action = if active {
            "store.activate"
        } else {
            "store.deactivate"
        };
        audit::record(c, ctx, action, "store", id, &before.store.name)?;
        Ok(stores::table.find(id).select(Store::as_select()).first(c)?)
    })
}

/// Set how a store prints its receipts: its paper, and whether the receipt
/// prints by itself after a confirmed redemption. An administrator, or a
/// clerk at their own store (the paper is in front of them).
///
/// Saved as seen at the store's version `seen` (when given): one
/// conditional update on the version read, so a change saved meanwhile
/// (another till's printing, the store's edit form) is refused, never
/// overwritten.
///
/// Errors: `Forbidden` outside the actor's stores; `NotFound` for an
/// unknown store; a conflict (409) on `field.receipt_paper` when the store
/// changed after `seen`.
pub fn set_receipt_settings(
    conn: &mut DbConn,
    actor: &Actor,
    id: &StoreId,
    settings: &ReceiptSettings,
    seen: Option<i64>,
) -> Result<Store, StoreError> {
    let ctx = &actor.audit();
    db::write_tx(conn, |c| {
        let store = for_actor(c, actor, Action::Redeem, id)?;
        let printing_changed = |now: &Store| -> StoreError {
            FieldError::conflict(
                "field.receipt_paper",
                "error.record_changed",
                crate::domain::Conflict::Changed,
            )
            .arg("name", &now.name)
            .into()
        };
        if seen.is_some_and(|v| v != store.store.version) {
            return Err(printing_changed(&store.store));
        }
        let n = diesel::update(
            stores::table
                .find(id)
                .filter(stores::version.eq(store.store.version)),
        )
        .set((
            stores::receipt_paper.eq(settings.paper),
            stores::print_after_confirm.eq(settings.print_after_confirm),
            stores::version.eq(stores::version + 1),
        ))
        .execute(c)?;
        if n == 0 {
            let now = find(c, id)?.ok_or(StoreError::NotFound)?;
            return Err(printing_changed(&now.store));
        }
        audit::record(
            c,
            ctx,
            "store.receipt_settings",
            "store",
            id,
            &audit::Detail::new("store_printing")
                .arg("store", &store.store.name)
                .arg("paper", settings.paper.as_str())
                .word("auto", audit::yes_no(settings.print_after_confirm))
                .to_string(),
        )?;
        Ok(stores::table.find(id).select(Store::as_select()).first(c)?)
    })
}
