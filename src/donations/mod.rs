//! Donors (捐赠方) and donations (捐赠): booking a donation in puts its goods
//! on the receiving store's shelf through the stock ledger, in one
//! transaction with the donation, its lines and the audit row.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::audit;
use crate::auth::{Action, Actor};
use crate::db::schema::{donation_lines, donations, donors, items, stores};
use crate::db::{self, DbConn};
use crate::domain::stock::{DonorKind, Quantity, mask_phone, parse_date, parse_phone, parse_yuan};
use crate::domain::{FieldChecks, FieldError, ItemId, StoreId, parse_name, parse_optional_text};
use crate::goods;
use crate::idempotency::{self, IdemKey};
use crate::stock::{self, Account, FormKey, MovementKind, Outcome, StockError, Transfer};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = donors)]
pub struct Donor {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub contact_person: String,
    pub phone: String,
    pub address: String,
    pub note: String,
    pub created_at: NaiveDateTime,
}

impl Donor {
    pub fn kind(&self) -> Option<DonorKind> {
        DonorKind::parse(&self.kind)
    }

    pub fn kind_label_key(&self) -> &'static str {
        self.kind()
            .map(DonorKind::label_key)
            .unwrap_or("donors.kind_anonymous")
    }

    /// The phone as lists show it (138****5678).
    pub fn phone_masked(&self) -> String {
        mask_phone(&self.phone)
    }
}

/// What someone types for a new donor.
pub struct DonorForm<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub contact_person: &'a str,
    pub phone: &'a str,
    pub address: &'a str,
    pub note: &'a str,
}

pub fn find_donor(c: &mut DbConn, id: &str) -> QueryResult<Option<Donor>> {
    donors::table
        .find(id)
        .select(Donor::as_select())
        .first(c)
        .optional()
}

pub fn list_donors(c: &mut DbConn) -> QueryResult<Vec<Donor>> {
    find_donors(c, "")
}

/// Donors whose name contains `q`, or (letters) whose name's pinyin or
/// initials start with it; every donor for an empty `q`. By name.
pub fn find_donors(c: &mut DbConn, q: &str) -> QueryResult<Vec<Donor>> {
    let q = q.trim();
    let mut query = donors::table.into_boxed();
    if !q.is_empty() {
        query = match crate::domain::pinyin::query(q) {
            Some(py) => query.filter(
                db::contains(donors::name, q)
                    .or(db::key_prefix(donors::name_pinyin, &py))
                    .or(db::key_prefix(donors::name_initials, &py)),
            ),
            None => query.filter(db::contains(donors::name, q)),
        };
    }
    query
        .order(donors::name.asc())
        .select(Donor::as_select())
        .load(c)
}

/// Add a donor. Errors: `Forbidden` for a role that may not add donors;
/// `Invalid` naming the field.
pub fn create_donor(conn: &mut DbConn, actor: &Actor, f: &DonorForm) -> Result<Donor, StockError> {
    actor.require(Action::ManageDonors)?;
    // Every field is checked, so the person sees all that is wrong at once;
    // a value left at its default below is never used (`finish` refuses).
    let mut checks = FieldChecks::new();
    let kind = checks.take(
        DonorKind::parse(f.kind).ok_or(FieldError::new("field.donor_kind", "error.choose_one")),
    );
    let name = if kind == Some(DonorKind::Anonymous) && f.name.trim().is_empty() {
        "匿名 / Anonymous".to_string()
    } else {
        checks
            .take(parse_name("field.donor_name", f.name, 80))
            .unwrap_or_default()
    };
    let mut text = |field, s, max| {
        checks
            .take(parse_optional_text(field, s, max))
            .unwrap_or_default()
    };
    let contact_person = text("field.contact_person", f.contact_person, 40);
    let address = text("field.address", f.address, 200);
    let note = text("field.note", f.note, 500);
    let phone = checks
        .take(parse_phone("field.phone", f.phone))
        .unwrap_or_default();
    checks.finish()?;
    let kind = kind.unwrap_or(DonorKind::Anonymous);
    db::write_tx(conn, |c| {
        let id = db::new_id();
        let k = crate::domain::pinyin::keys(&name);
        diesel::insert_into(donors::table)
            .values((
                donors::id.eq(&id),
                donors::name.eq(&name),
                donors::name_pinyin.eq(&k.full),
                donors::name_initials.eq(&k.initials),
                donors::kind.eq(kind.as_str()),
                donors::contact_person.eq(&contact_person),
                donors::phone.eq(&phone),
                donors::address.eq(&address),
                donors::note.eq(&note),
                donors::created_at.eq(db::now()),
            ))
            .execute(c)?;
        // The phone stays out of the audit log.
        audit::record(
            c,
            actor,
            "donor.create",
            "donor",
            &id,
            &audit::Detail::new("donor_create")
                .arg("name", &name)
                .word("kind", kind.label_key())
                .to_string(),
        )?;
        find_donor(c, &id)?.ok_or(StockError::NotFound)
    })
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = donations)]
pub struct Donation {
    pub id: String,
    pub number: String,
    pub donor_id: String,
    pub store_id: StoreId,
    pub donated_on: NaiveDate,
    pub money_fen: i64,
    pub note: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    /// When the donation was reversed as a whole (booked in by mistake).
    pub reversed_at: Option<NaiveDateTime>,
    pub reversed_by: String,
    pub reverse_reason: String,
}

impl Donation {
    pub fn is_reversed(&self) -> bool {
        self.reversed_at.is_some()
    }
}

#[derive(Debug, Clone)]
pub struct DonationLine {
    pub line_no: i32,
    pub item_id: String,
    pub item_name: String,
    pub unit: String,
    pub quantity: i64,
    pub value_fen: i64,
}

/// A donation with everything its page and certificate show.
#[derive(Debug, Clone)]
pub struct DonationView {
    pub donation: Donation,
    pub donor: Donor,
    pub store_name: String,
    pub lines: Vec<DonationLine>,
}

impl DonationView {
    pub fn goods_value_fen(&self) -> i64 {
        self.lines.iter().map(|l| l.value_fen).sum()
    }

    pub fn total_value_fen(&self) -> i64 {
        self.goods_value_fen() + self.donation.money_fen
    }

    pub fn units(&self) -> i64 {
        self.lines.iter().map(|l| l.quantity).sum()
    }

    /// The quantities added up unit by unit (`20 袋 · 10 件`): bags are
    /// never added to pieces.
    pub fn units_by_kind(&self) -> String {
        let mut sums: Vec<(&str, i64)> = Vec::new();
        for l in &self.lines {
            match sums.iter_mut().find(|(u, _)| *u == l.unit) {
                Some((_, n)) => *n += l.quantity,
                None => sums.push((&l.unit, l.quantity)),
            }
        }
        sums.iter()
            .map(|(u, n)| format!("{n} {u}"))
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

pub fn find_donation(c: &mut DbConn, id: &str) -> QueryResult<Option<DonationView>> {
    let Some((donation, donor, store_name)) = donations::table
        .inner_join(donors::table)
        .inner_join(stores::table)
        .filter(donations::id.eq(id))
        .select((Donation::as_select(), Donor::as_select(), stores::name))
        .first::<(Donation, Donor, String)>(c)
        .optional()?
    else {
        return Ok(None);
    };
    let lines = donation_lines::table
        .inner_join(items::table)
        .filter(donation_lines::donation_id.eq(id))
        .order(donation_lines::line_no.asc())
        .select((
            donation_lines::line_no,
            donation_lines::item_id,
            items::name,
            items::unit,
            donation_lines::quantity,
            donation_lines::value_fen,
        ))
        .load::<(i32, String, String, String, i64, i64)>(c)?
        .into_iter()
        .map(
            |(line_no, item_id, item_name, unit, quantity, value_fen)| DonationLine {
                line_no,
                item_id,
                item_name,
                unit,
                quantity,
                value_fen,
            },
        )
        .collect();
    Ok(Some(DonationView {
        donation,
        donor,
        store_name,
        lines,
    }))
}

/// One line as typed: item id, quantity, estimated value in yuan.
#[derive(Debug, Clone, Default)]
pub struct LineInput {
    pub item_id: String,
    pub quantity: String,
    pub value: String,
}

/// What the clerk types to book a donation in.
pub struct DonationForm<'a> {
    pub donor_id: &'a str,
    pub donated_on: &'a str,
    pub money: &'a str,
    pub note: &'a str,
    pub lines: &'a [LineInput],
}

struct ParsedLine {
    /// The line's number on the form (blank lines count).
    line_no: usize,
    item_id: ItemId,
    quantity: Quantity,
    value_fen: i64,
}

/// Book a donation in at `store_id`: the donation, its lines, one ledger
/// movement per line (donor -> shelf) and the audit row, all or nothing.
/// Returns the donation's id (the same one again for a replayed form).
/// `today` is the scheme's day: a donation dated after it is refused.
/// Errors: `Forbidden` unless the actor may book donations in at the store
/// (checked before any field); `NotFound` for an unknown store.
pub fn book(
    conn: &mut DbConn,
    actor: &Actor,
    key: &IdemKey,
    store_id: &StoreId,
    f: &DonationForm,
    today: NaiveDate,
) -> Result<Outcome, StockError> {
    book_read(conn, actor, key, store_id, f, today, None)
}

/// [`book`] for a form whose reading refused something already
/// (`refused`: a field sent twice ...): said with every field's and
/// line's own refusal in the same answer, and nothing is booked.
pub fn book_read(
    conn: &mut DbConn,
    actor: &Actor,
    key: &IdemKey,
    store_id: &StoreId,
    f: &DonationForm,
    today: NaiveDate,
    refused: Option<FieldError>,
) -> Result<Outcome, StockError> {
    actor.require(Action::BookDonation)?;
    // Every field and every line is checked, so the clerk sees all that is
    // wrong at once; a value left at its default is never used (`finish`).
    let mut checks = FieldChecks::new();
    if let Some(e) = refused {
        checks.push(e);
    }
    let donor_id = f.donor_id.trim();
    if donor_id.is_empty() {
        checks.push(FieldError::new("field.donor", "error.required"));
    } else if find_donor(conn, donor_id)?.is_none() {
        // An unknown donor is said with the lines' errors, in one answer.
        checks.push(FieldError::new("field.donor", "error.donor_unknown"));
    }
    let donated_on = checks.take(parse_date("field.donated_on", f.donated_on));
    // Goods arrive on a day that has come: a later date would post stock,
    // and next year's numbers, now.
    if donated_on.is_some_and(|d| d > today) {
        checks.push(FieldError::new("field.donated_on", "error.date_in_future"));
    }
    let money_fen = checks
        .take(parse_yuan("field.money", f.money))
        .unwrap_or_default();
    let note = checks
        .take(parse_optional_text("field.note", f.note, 500))
        .unwrap_or_default();
    let mut lines = Vec::new();
    let mut any_line = false;
    for (i, l) in f.lines.iter().enumerate() {
        let blank = l.item_id.trim().is_empty()
            && l.quantity.trim().is_empty()
            && l.value.trim().is_empty();
        if blank {
            continue;
        }
        any_line = true;
        let item_id = l.item_id.trim();
        let parsed = ItemId::parse(item_id);
        if item_id.is_empty() {
            checks.push(FieldError::new("field.donation_line", "error.line_item").arg("n", i + 1));
        } else {
            // An item that is no item (text that is not an item id, or an id
            // no item has, or one no longer taken in) is refused naming its
            // line, with the form's other errors.
            let found = match &parsed {
                Some(id) => goods::find(conn, id)?,
                None => None,
            };
            match found {
                None => checks.push(
                    FieldError::new("field.donation_line", "error.line_item_unknown")
                        .arg("n", i + 1),
                ),
                Some(item) if !item.active => checks.push(
                    FieldError::new("field.donation_line", "error.line_item_inactive")
                        .arg("n", i + 1)
                        .arg("item", &item.name),
                ),
                Some(_) => {}
            }
        }
        let quantity = checks.take(Quantity::parse("field.quantity", &l.quantity).map_err(|_| {
            FieldError::new("field.donation_line", "error.line_quantity")
                .arg("n", i + 1)
                .arg("max", crate::domain::stock::MAX_QUANTITY)
        }));
        let value_fen = checks.take(parse_yuan("field.value", &l.value).map_err(|_| {
            FieldError::new("field.donation_line", "error.line_value").arg("n", i + 1)
        }));
        if let (Some(item_id), Some(quantity), Some(value_fen)) = (parsed, quantity, value_fen) {
            lines.push(ParsedLine {
                line_no: i + 1,
                item_id,
                quantity,
                value_fen,
            });
        }
    }
    if !any_line && money_fen == 0 {
        checks.push(FieldError::new(
            "field.donation_line",
            "error.donation_empty",
        ));
    }
    checks.finish()?;
    let Some(donated_on) = donated_on else {
        return Err(FieldError::new("field.donated_on", "error.required").into());
    };
    let mut fp: Vec<String> = vec![
        store_id.to_string(),
        donor_id.into(),
        donated_on.to_string(),
        money_fen.to_string(),
        note.clone(),
    ];
    for l in &lines {
        fp.extend([
            l.item_id.to_string(),
            l.quantity.to_string(),
            l.value_fen.to_string(),
        ]);
    }
    let fp_refs: Vec<&str> = fp.iter().map(String::as_str).collect();
    let form = FormKey {
        key,
        scope: "donation.book",
        fingerprint: idempotency::fingerprint(&fp_refs),
    };
    db::write_tx(conn, |c| {
        stock::store_for(c, actor, Action::BookDonation, store_id)?;
        stock::once(c, actor, &form, |c| {
            // Goods and money alike are dated the day received.
            if let Some(m) = crate::reports::close::closed_month_of(c, donated_on)? {
                return Err(crate::reports::close::closed_error("field.donated_on", m).into());
            }
            let donor = find_donor(c, donor_id)?
                .ok_or(FieldError::new("field.donor", "error.donor_unknown"))?;
            let n = stock::next_number(c, "donation")?;
            let id = db::new_id();
            let number = format!("JZ{}-{n:05}", donated_on.format("%Y"));
            diesel::insert_into(donations::table)
                .values((
                    donations::id.eq(&id),
                    donations::number.eq(&number),
                    donations::donor_id.eq(&donor.id),
                    donations::store_id.eq(store_id),
                    donations::donated_on.eq(donated_on),
                    donations::money_fen.eq(money_fen),
                    donations::note.eq(&note),
                    donations::created_by.eq(&actor.username),
                    donations::created_at.eq(db::now()),
                ))
                .execute(c)?;
            for (i, l) in lines.iter().enumerate() {
                let item = goods::find(c, &l.item_id)?.ok_or(
                    FieldError::new("field.donation_line", "error.line_item_unknown")
                        .arg("n", l.line_no),
                )?;
                if !item.active {
                    return Err(
                        FieldError::new("field.donation_line", "error.line_item_inactive")
                            .arg("n", l.line_no)
                            .arg("item", &item.name)
                            .into(),
                    );
                }
                diesel::insert_into(donation_lines::table)
                    .values((
                        donation_lines::id.eq(db::new_id()),
                        donation_lines::donation_id.eq(&id),
                        donation_lines::line_no.eq(i as i32 + 1),
                        donation_lines::item_id.eq(&item.id),
                        donation_lines::quantity.eq(l.quantity.get()),
                        donation_lines::value_fen.eq(l.value_fen),
                    ))
                    .execute(c)?;
                stock::post(
                    c,
                    actor,
                    &Transfer {
                        kind: MovementKind::Donation,
                        item: &item,
                        quantity: l.quantity,
                        from: Account::Donor(donor.id.clone()),
                        to: Account::Shelf(store_id.clone()),
                        donation_id: Some(&id),
                        stocktake_id: None,
                        reverses_id: None,
                        reason: "",
                        on: donated_on,
                    },
                )?;
            }
            audit::record(
                c,
                actor,
                "donation.book",
                "donation",
                &id,
                &audit::Detail::new("donation_book")
                    .arg("number", &number)
                    .arg("donor", &donor.name)
                    .arg("lines", lines.len())
                    .arg("yuan", crate::domain::stock::yuan(money_fen))
                    .to_string(),
            )?;
            Ok(id)
        })
    })
}

/// Reverse a donation booked in by mistake, as a whole: one conditional
/// update marks it reversed (a second reversal is refused as a conflict,
/// `error.donation_already_reversed`), and every goods line goes back from
/// the shelf to the donor by a reversing movement dated `today`, refused when
/// the shelf no longer holds the goods. All or nothing, exactly once per key.
/// Errors: `Forbidden` unless the actor may book donations at the
/// donation's store; `NotFound` for an unknown donation.
pub fn reverse(
    conn: &mut DbConn,
    actor: &Actor,
    key: &IdemKey,
    id: &str,
    reason: &str,
    today: NaiveDate,
) -> Result<Outcome, StockError> {
    actor.require(Action::BookDonation)?;
    use crate::db::schema::stock_movements;
    let reason = parse_name("field.reason", reason, 200)?;
    let form = FormKey {
        key,
        scope: "donation.reverse",
        fingerprint: idempotency::fingerprint(&[id, &reason]),
    };
    db::write_tx(conn, |c| {
        let (number, store_id): (String, StoreId) = donations::table
            .find(id)
            .select((donations::number, donations::store_id))
            .first(c)
            .optional()?
            .ok_or(StockError::NotFound)?;
        stock::store_for(c, actor, Action::BookDonation, &store_id)?;
        stock::once(c, actor, &form, |c| {
            let n = diesel::update(
                donations::table
                    .find(id)
                    .filter(donations::reversed_at.is_null()),
            )
            .set((
                donations::reversed_at.eq(Some(db::now())),
                donations::reversed_by.eq(&actor.username),
                donations::reverse_reason.eq(&reason),
            ))
            .execute(c)?;
            if n == 0 {
                return Err(FieldError::conflict(
                    "field.donation",
                    "error.donation_already_reversed",
                    crate::domain::Conflict::Changed,
                )
                .arg("number", &number)
                .into());
            }
            let moves = stock_movements::table
                .filter(stock_movements::donation_id.eq(id))
                .filter(stock_movements::kind.eq(MovementKind::Donation.as_str()))
                .order(stock_movements::seq.asc())
                .select(stock::Movement::as_select())
                .load(c)?;
            let text = format!("{number}: {reason}");
            for m in &moves {
                stock::reverse_one(c, actor, m, &text, today)?;
            }
            audit::record(
                c,
                actor,
                "donation.reverse",
                "donation",
                id,
                &audit::Detail::new("donation_reverse")
                    .arg("number", &number)
                    .arg("lines", moves.len())
                    .arg("reason", &reason)
                    .to_string(),
            )?;
            Ok(id.to_string())
        })
    })
}

/// A donor's donations with their goods value and units.
#[derive(Debug, Clone)]
pub struct DonationSummary {
    pub donation: Donation,
    pub store_name: String,
    pub units: i64,
    pub goods_value_fen: i64,
}

impl DonationSummary {
    pub fn total_value_fen(&self) -> i64 {
        self.goods_value_fen + self.donation.money_fen
    }
}

/// Donations matching a filter: a donor's, a store's, or (both None) all.
pub fn list_donations(
    c: &mut DbConn,
    donor_id: Option<&str>,
    store_id: Option<&StoreId>,
) -> QueryResult<Vec<DonationSummary>> {
    let mut q = donations::table
        .inner_join(stores::table)
        .select((Donation::as_select(), stores::name))
        .order((donations::donated_on.desc(), donations::number.desc()))
        .into_boxed();
    if let Some(d) = donor_id {
        q = q.filter(donations::donor_id.eq(d.to_string()));
    }
    if let Some(s) = store_id {
        q = q.filter(donations::store_id.eq(s.to_string()));
    }
    let rows = q.limit(500).load::<(Donation, String)>(c)?;
    let ids: Vec<String> = rows.iter().map(|(d, _)| d.id.clone()).collect();
    let mut sums: HashMap<String, (i64, i64)> = HashMap::new();
    for (did, q, v) in donation_lines::table
        .filter(donation_lines::donation_id.eq_any(&ids))
        .select((
            donation_lines::donation_id,
            donation_lines::quantity,
            donation_lines::value_fen,
        ))
        .load::<(String, i64, i64)>(c)?
    {
        let e = sums.entry(did).or_default();
        e.0 += q;
        e.1 += v;
    }
    Ok(rows
        .into_iter()
        .map(|(donation, store_name)| {
            let (units, goods_value_fen) = sums.get(&donation.id).copied().unwrap_or_default();
            DonationSummary {
                donation,
                store_name,
                units,
                goods_value_fen,
            }
        })
        .collect())
}

/// Per item, what a donor gave: units net on the stock ledger (donations
/// less any reversals) and the estimated value booked on donation lines.
pub fn donor_item_totals(
    c: &mut DbConn,
    donor_id: &str,
    store_id: Option<&StoreId>,
) -> QueryResult<Vec<ItemTotal>> {
    use crate::db::schema::stock_movements as sm;
    let account = Account::Donor(donor_id.to_string()).code();
    let mut totals: std::collections::BTreeMap<(String, String), ItemTotal> = Default::default();
    let mut q = sm::table
        .inner_join(items::table)
        .filter(
            sm::from_account
                .eq(&account)
                .or(sm::to_account.eq(&account)),
        )
        .select((
            items::name,
            items::unit,
            sm::from_account,
            sm::quantity,
            sm::from_store_id,
            sm::to_store_id,
        ))
        .into_boxed();
    if let Some(s) = store_id {
        q = q.filter(
            sm::from_store_id
                .eq(s.to_string())
                .or(sm::to_store_id.eq(s.to_string())),
        );
    }
    for (name, unit, from, qty, _, _) in
        q.load::<(String, String, String, i64, Option<String>, Option<String>)>(c)?
    {
        let e = totals
            .entry((name.clone(), unit.clone()))
            .or_insert(ItemTotal {
                item_name: name,
                unit,
                units: 0,
                value_fen: 0,
            });
        e.units += if from == account { qty } else { -qty };
    }
    let mut v = donation_lines::table
        .inner_join(donations::table)
        .inner_join(items::table)
        .filter(donations::donor_id.eq(donor_id))
        .select((items::name, items::unit, donation_lines::value_fen))
        .into_boxed();
    if let Some(s) = store_id {
        v = v.filter(donations::store_id.eq(s.to_string()));
    }
    for (name, unit, value) in v.load::<(String, String, i64)>(c)? {
        let e = totals
            .entry((name.clone(), unit.clone()))
            .or_insert(ItemTotal {
                item_name: name,
                unit,
                units: 0,
                value_fen: 0,
            });
        e.value_fen += value;
    }
    Ok(totals.into_values().collect())
}

#[derive(Debug, Clone)]
pub struct ItemTotal {
    pub item_name: String,
    pub unit: String,
    pub units: i64,
    pub value_fen: i64,
}
