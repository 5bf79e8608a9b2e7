//! Registering a household, changing its record and archiving it: each
//! audited, with its status history and its points card.

use super::*;

/// The refusal of an ID number already registered. Inside the caller's
/// scope it names the household; outside, it says nothing about it (not
/// even that it is "elsewhere"): an administrator must look, and
/// [`audit_conflict`] tells them where.
pub(super) fn duplicate_error(scope: &Scope, name: &str, path: &str) -> FieldError {
    if scope.covers_area_path(path) {
        FieldError::conflict(
            "field.id_number",
            "error.id_taken",
            crate::domain::Conflict::Taken,
        )
        .arg("name", name)
    } else {
        // The form's own words (never the import's row wording): that a
        // household has it elsewhere, never which area or who.
        FieldError::conflict(
            "field.id_number",
            "error.id_registered_elsewhere",
            crate::domain::Conflict::Taken,
        )
    }
}

/// Record, for the administrators (in the audit log), that someone entered
/// an ID number registered to household `other_id` outside their scope.
pub(super) fn audit_conflict(
    conn: &mut DbConn,
    ctx: &AuditCtx,
    other_id: &HouseholdId,
    what: audit::Detail,
) -> QueryResult<()> {
    audit::record(
        conn,
        ctx,
        "household.id_conflict",
        "household",
        other_id.as_str(),
        &what.to_string(),
    )
}

/// Issue a new card number that is not in use.
/// Each card gets a 6-digit PIN, printed on it; the household types it with
/// the card number to read its balance. Kept encrypted (a hash of six digits
/// would be undone by trying them all), so the card can be printed again.
pub(super) fn new_card(
    conn: &mut DbConn,
    key: &DataKey,
    household_id: &HouseholdId,
    by: &str,
    now: NaiveDateTime,
) -> QueryResult<CardNo> {
    loop {
        let card = CardNo::generate();
        let taken: i64 = points_cards::table
            .find(card.as_str())
            .count()
            .get_result(conn)?;
        if taken > 0 {
            continue;
        }
        diesel::insert_into(points_cards::table)
            .values((
                points_cards::card_no.eq(card.as_str()),
                points_cards::household_id.eq(household_id),
                points_cards::issued_at.eq(now),
                points_cards::issued_by.eq(by),
                points_cards::pin_cipher.eq(key.encrypt(&new_pin())),
            ))
            .execute(conn)?;
        return Ok(card);
    }
}

pub(super) fn record_status(
    conn: &mut DbConn,
    ctx: &AuditCtx,
    household_id: &HouseholdId,
    from: Option<&str>,
    to: &str,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(hist::table)
        .values((
            hist::id.eq(db::new_id()),
            hist::household_id.eq(household_id),
            hist::at.eq(now),
            hist::user_id.eq(&ctx.user_id),
            hist::username.eq(&ctx.username),
            hist::from_status.eq(from),
            hist::to_status.eq(to),
            hist::reason.eq(reason),
        ))
        .execute(conn)?;
    Ok(())
}

/// Register a household and issue its card, in one transaction.
pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    input: &HouseholdInput,
) -> Result<(HouseholdId, CardNo), HouseholdError> {
    actor.require(Action::EditHouseholds)?;
    let ctx = &actor.audit();
    let scope = &actor.scope;
    let id_number = input
        .id_number
        .as_ref()
        .ok_or(FieldError::new("field.id_number", "error.required"))?;
    let lookup = key.lookup("id", id_number.expose());
    let id_cipher = key.encrypt(id_number.expose());
    let (phone_cipher, phone_masked) = match &input.phone {
        Some(p) => (key.encrypt(p.expose()), p.masked()),
        None => (String::new(), String::new()),
    };
    let mut conflict: Option<HouseholdId> = None;
    let result = db::write_tx(conn, |c| {
        if let Some((other, name, path)) = active_with_lookup(c, &lookup, None)? {
            if !scope.covers_area_path(&path) {
                conflict = Some(other);
            }
            return Err(duplicate_error(scope, &name, &path).into());
        }
        let id = HouseholdId::new();
        let now = db::now();
        insert_household(
            c,
            ctx,
            &id,
            input,
            &id_cipher,
            &lookup,
            id_number,
            &phone_cipher,
            &phone_masked,
            now,
        )?;
        let card = new_card(c, key, &id, &ctx.username, now)?;
        record_status(
            c,
            ctx,
            &id,
            None,
            input.status.as_str(),
            &input.status_reason,
            now,
        )?;
        audit::record(
            c,
            ctx,
            "household.create",
            "household",
            id.as_str(),
            &audit::Detail::new("household")
                .arg("name", &input.head_name)
                .arg("id", id_number.masked())
                .to_string(),
        )?;
        Ok((id, card))
    });
    if let Some(other) = conflict {
        audit_conflict(
            conn,
            ctx,
            &other,
            audit::Detail::new("id_conflict_register")
                .arg("name", &input.head_name)
                .arg("id", id_number.masked()),
        )?;
    }
    result
}

#[allow(clippy::too_many_arguments)]
pub(super) fn insert_household(
    c: &mut DbConn,
    ctx: &AuditCtx,
    id: &HouseholdId,
    input: &HouseholdInput,
    id_cipher: &str,
    lookup: &str,
    id_number: &IdNumber,
    phone_cipher: &str,
    phone_masked: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let k = crate::domain::pinyin::person_keys(&input.head_name);
    diesel::insert_into(households::table)
        .values((
            households::id.eq(id),
            households::head_name.eq(&input.head_name),
            households::head_pinyin.eq(&k.full),
            households::head_initials.eq(&k.initials),
            households::id_cipher.eq(id_cipher),
            households::id_lookup.eq(lookup),
            households::id_masked.eq(id_number.masked()),
            households::id_last4.eq(id_number.last4()),
            households::phone_cipher.eq(phone_cipher),
            households::phone_masked.eq(phone_masked),
            households::area_id.eq(&input.area_id),
            households::address.eq(&input.address),
            households::members.eq(input.members),
            households::status.eq(input.status.as_str()),
            households::helper_id.eq(&input.helper_id),
            households::notes.eq(&input.notes),
            households::archived.eq(false),
            households::created_at.eq(now),
            households::created_by.eq(&ctx.username),
            households::updated_at.eq(now),
            households::updated_by.eq(&ctx.username),
        ))
        .execute(c)?;
    crate::ledger::quiet::registered(c, id.as_str())
}

/// What changed between the stored household and the input (names of
/// fields only: values of personal data never go to the audit log).
fn changes(
    h: &Household,
    input: &HouseholdInput,
    new_lookup: Option<&str>,
    new_phone_masked: Option<&str>,
) -> Vec<&'static str> {
    let mut out = Vec::new();
    if h.head_name != input.head_name {
        out.push("head_name");
    }
    if new_lookup.is_some_and(|l| l != h.id_lookup) {
        out.push("id_number");
    }
    if new_phone_masked.is_some_and(|p| p != h.phone_masked) {
        out.push("phone");
    }
    if h.area_id != input.area_id {
        out.push("village");
    }
    if h.address != input.address {
        out.push("address");
    }
    if h.members != input.members {
        out.push("members");
    }
    if h.status != input.status.as_str() {
        out.push("status");
    }
    if h.helper_id != input.helper_id {
        out.push("helper");
    }
    if h.notes != input.notes {
        out.push("notes");
    }
    out
}

/// "This household was changed after you opened it": by whom and when.
fn changed_meanwhile(h: &Household) -> FieldError {
    FieldError::conflict(
        "field.household",
        "error.household_changed",
        crate::domain::Conflict::Changed,
    )
    .arg("by", &h.updated_by)
}

/// Update a household as seen at `input.seen_version` (when given): one
/// conditional update on the version read. A change of status needs a reason and is kept in the
/// status history. Returns the names of the fields that changed.
pub fn update(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    id: &HouseholdId,
    input: &HouseholdInput,
    today: chrono::NaiveDate,
) -> Result<Vec<&'static str>, HouseholdError> {
    actor.require(Action::EditHouseholds)?;
    let ctx = &actor.audit();
    let scope = &actor.scope;
    let new_id = input.id_number.as_ref().map(|n| {
        (
            key.lookup("id", n.expose()),
            key.encrypt(n.expose()),
            n.masked(),
            n.last4().to_string(),
        )
    });
    let new_phone = input
        .phone
        .as_ref()
        .map(|p| (key.encrypt(p.expose()), p.masked()));
    let mut conflict: Option<HouseholdId> = None;
    let result = db::write_tx(conn, |c| {
        let row = find(c, actor, id)?;
        let h = &row.household;
        if h.archived {
            return Err(FieldError::new("field.household", "error.household_archived").into());
        }
        if input.seen_version.is_some_and(|v| v != h.version) {
            return Err(changed_meanwhile(h).into());
        }
        let helper_id =
            super::settle_helper(c, actor, h.helper_id.as_deref(), input.helper_id.clone())?;
        let input = &HouseholdInput {
            helper_id,
            ..input.clone()
        };
        let changed = changes(
            h,
            input,
            new_id.as_ref().map(|x| x.0.as_str()),
            new_phone.as_ref().map(|x| x.1.as_str()),
        );
        if changed.is_empty() {
            return Ok(changed);
        }
        if changed.contains(&"status") && input.status_reason.is_empty() {
            return Err(
                FieldError::new("field.status_reason", "error.status_reason_required").into(),
            );
        }
        if let Some((lookup, ..)) = &new_id
            && let Some((other, name, path)) = active_with_lookup(c, lookup, Some(id))?
        {
            if !scope.covers_area_path(&path) {
                conflict = Some(other);
            }
            return Err(duplicate_error(scope, &name, &path).into());
        }
        let now = db::now();
        if h.area_id != input.area_id {
            crate::ledger::totals::record_move(c, id, &h.area_id, &input.area_id, today)?;
        }
        let k = crate::domain::pinyin::person_keys(&input.head_name);
        // One conditional update on the version read: an edit saved by
        // someone else meanwhile is never overwritten silently.
        let updated = diesel::update(
            households::table
                .find(id)
                .filter(households::version.eq(h.version)),
        )
        .set((
            households::head_name.eq(&input.head_name),
            households::head_pinyin.eq(&k.full),
            households::head_initials.eq(&k.initials),
            households::area_id.eq(&input.area_id),
            households::address.eq(&input.address),
            households::members.eq(input.members),
            households::status.eq(input.status.as_str()),
            households::helper_id.eq(&input.helper_id),
            households::notes.eq(&input.notes),
            households::updated_at.eq(now),
            households::updated_by.eq(&ctx.username),
            households::version.eq(households::version + 1),
        ))
        .execute(c)?;
        if updated == 0 {
            let now_row = find(c, actor, id)?;
            return Err(changed_meanwhile(&now_row.household).into());
        }
        if let Some((lookup, cipher, masked, last4)) = &new_id {
            diesel::update(households::table.find(id))
                .set((
                    households::id_lookup.eq(lookup),
                    households::id_cipher.eq(cipher),
                    households::id_masked.eq(masked),
                    households::id_last4.eq(last4),
                ))
                .execute(c)?;
        }
        if let Some((cipher, masked)) = &new_phone {
            diesel::update(households::table.find(id))
                .set((
                    households::phone_cipher.eq(cipher),
                    households::phone_masked.eq(masked),
                ))
                .execute(c)?;
        }
        if changed.contains(&"status") {
            record_status(
                c,
                ctx,
                id,
                Some(&h.status),
                input.status.as_str(),
                &input.status_reason,
                now,
            )?;
        }
        // The fields by name, each said in the reader's language.
        let fields: Vec<String> = changed.iter().map(|f| format!("field.{f}")).collect();
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        audit::record(
            c,
            ctx,
            "household.update",
            "household",
            id.as_str(),
            &audit::Detail::new("household_update")
                .arg("name", &input.head_name)
                .words("fields", &fields)
                .to_string(),
        )?;
        Ok(changed)
    });
    if let Some(other) = conflict {
        audit_conflict(
            conn,
            ctx,
            &other,
            audit::Detail::new("id_conflict_change").arg("name", &input.head_name),
        )?;
    }
    result
}

/// Archive (or restore) a household. Archived households earn and spend
/// nothing; they are never deleted once anything refers to them. One
/// already so (or made so meanwhile) is refused as a conflict
/// (`error.household_already_archived`, `error.household_not_archived`).
pub fn set_archived(
    conn: &mut DbConn,
    actor: &Actor,
    id: &HouseholdId,
    archived: bool,
    reason: &str,
) -> Result<HouseholdRow, HouseholdError> {
    actor.require(Action::EditHouseholds)?;
    let ctx = &actor.audit();
    let scope = &actor.scope;
    let reason = parse_optional_text("field.reason", reason, 200)?;
    if archived && reason.is_empty() {
        return Err(FieldError::new("field.reason", "error.required").into());
    }
    db::write_tx(conn, |c| {
        let row = find(c, actor, id)?;
        let already = || {
            FieldError::conflict(
                "field.household",
                if archived {
                    "error.household_already_archived"
                } else {
                    "error.household_not_archived"
                },
                crate::domain::Conflict::Changed,
            )
            .arg("name", &row.household.head_name)
        };
        if row.household.archived == archived {
            return Err(already().into());
        }
        if !archived && retention::is_erased(&row.household.id_lookup) {
            return Err(FieldError::new("field.household", "error.household_erased").into());
        }
        if !archived
            && let Some((_, name, path)) =
                active_with_lookup(c, &row.household.id_lookup, Some(id))?
        {
            return Err(duplicate_error(scope, &name, &path).into());
        }
        let now = db::now();
        // Guarded on the state read: of two people archiving (or restoring)
        // at once, one does it and the other is told.
        let n = diesel::update(
            households::table
                .find(id)
                .filter(households::archived.eq(!archived)),
        )
        .set((
            households::archived.eq(archived),
            households::archived_at.eq(archived.then_some(now)),
            households::updated_at.eq(now),
            households::updated_by.eq(&ctx.username),
            households::version.eq(households::version + 1),
        ))
        .execute(c)?;
        if n == 0 {
            return Err(already().into());
        }
        let action = if archived {
            "household.archive"
        } else {
            "household.restore"
        };
        audit::record(
            c,
            ctx,
            action,
            "household",
            id.as_str(),
            &audit::Detail::new("name_reason")
                .arg("name", &row.household.head_name)
                .arg("reason", &reason)
                .to_string(),
        )?;
        find(c, actor, id)
    })
}
