//! Committing a checked file: the valid rows in one transaction, all or
//! none, and what is kept of the refused rows for a while.

use super::*;

/// Check again and write every valid row, in one transaction: all or none.
/// (For the console, which checks and writes in one go; a confirmed web
/// import goes through [`commit_checked`].)
pub fn commit(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    table: &Table,
    file_name: &str,
    today: chrono::NaiveDate,
) -> Result<Report, HouseholdError> {
    actor.require(Action::ImportHouseholds)?;
    let options = ImportOptions::default();
    match commit_inner(conn, actor, key, table, file_name, today, options, None, "")? {
        Confirmed::Done(r) | Confirmed::Changed(r) => Ok(r),
    }
}

/// What confirming a check came to.
#[derive(Debug)]
pub enum Confirmed {
    /// Written, exactly as checked.
    Done(Report),
    /// Nothing written: checking again (in the same transaction) found
    /// something different; this is the new check, to review.
    Changed(Report),
}

/// Write a checked file, as its uploader (`ctx`, `scope`), only if checking
/// it again now gives the check that was shown (`fingerprint`); all rows in
/// one transaction, its rows treated as `options` says (as they were
/// checked). `confirmed_by` (when someone else confirmed) goes into the
/// audit row.
#[allow(clippy::too_many_arguments)]
pub fn commit_checked(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    table: &Table,
    file_name: &str,
    today: chrono::NaiveDate,
    options: ImportOptions,
    fingerprint: &str,
    confirmed_by: &str,
) -> Result<Confirmed, HouseholdError> {
    actor.require(Action::ImportHouseholds)?;
    commit_inner(
        conn,
        actor,
        key,
        table,
        file_name,
        today,
        options,
        Some(fingerprint),
        confirmed_by,
    )
}

#[allow(clippy::too_many_arguments)]
fn commit_inner(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    table: &Table,
    file_name: &str,
    today: chrono::NaiveDate,
    options: ImportOptions,
    fingerprint: Option<&str>,
    confirmed_by: &str,
) -> Result<Confirmed, HouseholdError> {
    let ctx = &actor.audit();
    let scope = &actor.scope;
    db::write_tx(conn, |c| {
        let (mut report, plans) = plan(c, key, scope, table, options, &mut |_, _| {})?;
        if fingerprint.is_some_and(|f| f != report.fingerprint) {
            report.changed_since_check = true;
            return Ok(Confirmed::Changed(report));
        }
        for p in &plans {
            match p {
                Plan::Create(checked) => {
                    let (household_id, card) = create_in_tx(c, ctx, key, &checked.input)?;
                    report.created.push(CreatedHousehold {
                        row: checked.row,
                        household_id: household_id.into_string(),
                        head_name: checked.input.head_name.clone(),
                        village: checked.village.clone(),
                        card_no: card.as_str().to_string(),
                        town: checked.town.clone(),
                    });
                }
                Plan::Update { id, checked } => {
                    let mut input = checked.input.clone();
                    input.status_reason = "import".into();
                    crate::households::update(c, actor, key, id, &input, today)?;
                }
            }
        }
        report.committed = true;
        let by = if confirmed_by.is_empty() || confirmed_by == ctx.username {
            String::new()
        } else {
            confirmed_by.to_string()
        };
        audit::record(
            c,
            ctx,
            "household.import",
            "file",
            "",
            // With the rows skipped as already registered (the import's
            // `skip_registered` option): `import` rows written before had
            // none to say.
            &audit::Detail::new(if by.is_empty() {
                "import_skipping"
            } else {
                "import_skipping_confirmed_by"
            })
            .arg("file", file_name)
            .arg("created", report.create)
            .arg("updated", report.update)
            .arg("unchanged", report.unchanged)
            .arg("skipped", report.skipped)
            .arg("refused", report.refused_rows())
            .arg("by", &by)
            .to_string(),
        )?;
        Ok(Confirmed::Done(report))
    })
}

/// Insert one household with its card inside the import's transaction
/// (no audit row per household: the import's own row covers them).
/// Returns the household's id and its card.
fn create_in_tx(
    c: &mut DbConn,
    ctx: &AuditCtx,
    key: &DataKey,
    input: &HouseholdInput,
) -> Result<(HouseholdId, crate::domain::CardNo), HouseholdError> {
    let id_number = input.id_number.as_ref().expect("parsed");
    let lookup = key.lookup("id", id_number.expose());
    let (phone_cipher, phone_masked) = match &input.phone {
        Some(p) => (key.encrypt(p.expose()), p.masked()),
        None => (String::new(), String::new()),
    };
    let id = HouseholdId::new();
    let now = db::now();
    crate::households::insert_household(
        c,
        ctx,
        &id,
        input,
        &key.encrypt(id_number.expose()),
        &lookup,
        id_number,
        &phone_cipher,
        &phone_masked,
        now,
    )?;
    let card = crate::households::new_card(c, key, &id, &ctx.username, now)?;
    crate::households::record_status(c, ctx, &id, None, input.status.as_str(), "import", now)?;
    Ok((id, card))
}

/// The refused rows of a file as they were typed: each with its row
/// number and its cells in the order of [`Column::ALL`].
pub type RefusedRows = Vec<(usize, Vec<String>)>;

/// Days an import's refused rows are kept for download.
pub const REFUSED_KEEP_DAYS: i64 = 7;

/// Keep the rows a check or an import refused, encrypted with the data key
/// (they hold full ID numbers and phones), for the person to fix and load
/// again; earlier ones of the job are replaced.
pub(super) fn keep_refused(
    conn: &mut DbConn,
    key: &DataKey,
    job_id: &str,
    table: &Table,
    report: &Report,
) -> QueryResult<()> {
    let refused: std::collections::BTreeSet<usize> = report
        .refused
        .iter()
        .map(|e| e.row)
        .filter(|r| *r > 0)
        .collect();
    let rows: RefusedRows = table
        .rows
        .iter()
        .filter(|(n, _)| refused.contains(n))
        .map(|(n, cells)| {
            (
                *n,
                Column::ALL
                    .iter()
                    .map(|c| cells.get(c).map(|x| x.text.clone()).unwrap_or_default())
                    .collect(),
            )
        })
        .collect();
    let stored = if rows.is_empty() {
        Vec::new()
    } else {
        key.encrypt_bytes(&serde_json::to_vec(&rows).unwrap_or_default())
    };
    diesel::update(import_jobs::table.find(job_id))
        .set(import_jobs::refused_rows.eq(stored))
        .execute(conn)?;
    Ok(())
}

/// A job's refused rows, for the person who may see the job (see
/// [`job_for`]); empty when none were refused or they were purged.
///
/// Errors: as [`job_for`].
pub fn refused_rows(
    conn: &mut DbConn,
    actor: &Actor,
    key: &DataKey,
    id: &str,
) -> Result<(Job, RefusedRows), HouseholdError> {
    let job = job_for(conn, actor, id)?;
    let stored: Vec<u8> = import_jobs::table
        .find(id)
        .select(import_jobs::refused_rows)
        .first(conn)?;
    let rows = key
        .decrypt_bytes(&stored)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    Ok((job, rows))
}

/// The households a finished import registered, read again for the actor
/// (each within their scope), to print their cards.
///
/// Errors: as [`job_for`].
pub fn created_households(
    conn: &mut DbConn,
    actor: &Actor,
    id: &str,
) -> Result<Vec<crate::households::HouseholdRow>, HouseholdError> {
    let job = job_for(conn, actor, id)?;
    let created = job.report().map(|r| r.created).unwrap_or_default();
    let mut rows = Vec::with_capacity(created.len());
    for h in created {
        // Written by the import itself: an id as stored.
        let id = HouseholdId::from_stored(h.household_id);
        match crate::households::find(conn, actor, &id) {
            Ok(row) => rows.push(row),
            // Since moved out of the actor's scope or archived away.
            Err(HouseholdError::NotFound | HouseholdError::Forbidden) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(rows)
}
