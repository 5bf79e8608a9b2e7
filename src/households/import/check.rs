//! Checking a table against the database: each row parsed, matched by ID
//! number, and planned as a household to create, update or refuse.

use super::*;

/// Villages in the scope, found by name, by the name as the app shows it
/// (东庄村（凤山街道）), or by "town/village" when two villages share a name.
struct Villages {
    /// (names from the top down, the village)
    all: Vec<(Vec<String>, Area)>,
    /// The importer looks from above town level: villages are shown with
    /// their towns (`areas::looks_from_above_town`).
    above_town: bool,
}

/// The two halves of a village's shown name, 东庄村（凤山街道） (or with
/// ASCII brackets): the village's name and its town's.
pub(super) fn split_shown(text: &str) -> Option<(&str, &str)> {
    let inner = text.strip_suffix('）').or_else(|| text.strip_suffix(')'))?;
    let open = inner.rfind(['（', '('])?;
    let bracket = inner[open..].chars().next()?.len_utf8();
    let (village, town) = (inner[..open].trim(), inner[open + bracket..].trim());
    (!village.is_empty() && !town.is_empty()).then_some((village, town))
}

impl Villages {
    pub(super) fn load(conn: &mut DbConn, scope: &Scope) -> QueryResult<Villages> {
        let tree = match scope {
            Scope::All => areas::tree(conn)?,
            Scope::Area { path, .. } => {
                // Names of the areas above the scope are needed for paths too.
                let _ = path;
                areas::tree(conn)?
            }
            _ => Vec::new(),
        };
        let by_id: HashMap<&str, &Area> = tree.iter().map(|a| (a.id.as_str(), a)).collect();
        let mut all = Vec::new();
        for a in &tree {
            if a.level() != AreaLevel::Village || !scope.covers_area_path(&a.path) {
                continue;
            }
            let names = a
                .path
                .split('/')
                .filter(|s| !s.is_empty())
                .filter_map(|id| by_id.get(id).map(|x| x.name.clone()))
                .collect();
            all.push((names, a.clone()));
        }
        Ok(Villages {
            all,
            above_town: areas::looks_from_above_town(scope),
        })
    }

    /// A village's name and its town's (empty at the top).
    fn with_town(names: &[String]) -> (String, String) {
        let n = names.len();
        let town = if n >= 2 {
            names[n - 2].clone()
        } else {
            String::new()
        };
        (names.last().cloned().unwrap_or_default(), town)
    }

    /// The village `id` as the importer reads it: its name, and its town's
    /// from above town level (empty inside a town). The report stores the
    /// two apart, language-neutral, each reader seeing them in their own
    /// brackets (`import::village_in`).
    pub(super) fn shown(&self, id: &str) -> Option<(String, String)> {
        self.all.iter().find(|(_, a)| a.id == id).map(|(names, a)| {
            if self.above_town {
                Villages::with_town(names)
            } else {
                (a.name.clone(), String::new())
            }
        })
    }

    /// The villages whose names end with `parts` (from the top down).
    fn matching(&self, parts: &[&str]) -> Vec<&(Vec<String>, Area)> {
        self.all
            .iter()
            .filter(|(names, _)| {
                names.len() >= parts.len()
                    && names[names.len() - parts.len()..]
                        .iter()
                        .zip(parts)
                        .all(|(a, b)| a == b)
            })
            .collect()
    }

    pub(super) fn find(&self, text: &str) -> Result<&Area, FieldError> {
        let text = text.trim();
        let parts: Vec<&str> = text
            .split(['/', '>', '＞', '／'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if parts.is_empty() {
            return Err(FieldError::new("field.village", "error.required"));
        }
        let mut matches = self.matching(&parts);
        // Not a name as written: the shown form, 东庄村（凤山街道）, names
        // the town after the village.
        if matches.is_empty()
            && let Some((village, town)) = parts.last().and_then(|last| split_shown(last))
        {
            let mut named = parts[..parts.len() - 1].to_vec();
            named.extend([town, village]);
            matches = self.matching(&named);
        }
        match matches.len() {
            1 => Ok(&matches[0].1),
            0 => Err(FieldError::new("field.village", "error.village_not_found").arg("name", text)),
            _ => {
                // Each choice as it may be written back: the town and the
                // village, and the district too where that is still not
                // enough; stored language-neutral ("town/village"), shown
                // in the reader's brackets (`RowError::message`).
                let shown: Vec<(String, String)> = matches
                    .iter()
                    .map(|(n, _)| Villages::with_town(n))
                    .collect();
                let choices: Vec<String> = matches
                    .iter()
                    .zip(&shown)
                    .map(|((names, _), s)| {
                        let n = names.len();
                        let pair = format!("{}/{}", s.1, s.0);
                        if shown.iter().filter(|x| *x == s).count() > 1 && n >= 3 {
                            format!("{}/{pair}", names[n - 3])
                        } else {
                            pair
                        }
                    })
                    .collect();
                Err(FieldError::new("field.village", "error.village_ambiguous")
                    .arg("name", text)
                    .arg("choices", choices.join(" · ")))
            }
        }
    }
}

/// Officials' shown names by id.
fn helper_names(conn: &mut DbConn) -> QueryResult<HashMap<String, String>> {
    let rows: Vec<(String, String, String)> = users::table
        .filter(users::role.eq("official"))
        .select((users::id, users::username, users::display_name))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, u, d)| (id, if d.is_empty() { u } else { d }))
        .collect())
}

/// Officials the importer may assign (working in their scope or above it,
/// `helper_in_scope`), by username or display name.
fn helper_ids(conn: &mut DbConn, scope: &Scope) -> QueryResult<HashMap<String, String>> {
    let rows: Vec<(String, String, String, Option<String>)> = users::table
        .left_join(crate::db::schema::areas::table)
        .filter(users::role.eq("official"))
        .select((
            users::id,
            users::username,
            users::display_name,
            crate::db::schema::areas::path.nullable(),
        ))
        .load(conn)?;
    let mut map = HashMap::new();
    for (id, u, d, path) in rows {
        if !crate::households::helper_in_scope(scope, path.as_deref()) {
            continue;
        }
        map.insert(u, id.clone());
        if !d.is_empty() {
            map.insert(d, id);
        }
    }
    Ok(map)
}

pub(super) fn text(row: &HashMap<Column, Cell>, c: Column) -> &str {
    row.get(&c).map(|x| x.text.as_str()).unwrap_or("")
}

/// Parse one row; every problem of the row is reported.
fn check_row(
    row_no: usize,
    row: &HashMap<Column, Cell>,
    villages: &Villages,
    helpers: &HashMap<String, String>,
) -> Result<Checked, Vec<RowError>> {
    let mut errors = Vec::new();
    macro_rules! keep {
        ($e:expr) => {
            match $e {
                Ok(v) => Some(v),
                Err(e) => {
                    errors.push(RowError::new(row_no, e));
                    None
                }
            }
        };
    }
    let head_name = keep!(parse_name(
        "field.head_name",
        text(row, Column::HeadName),
        40
    ));
    let id_cell = row.get(&Column::IdNumber);
    // An ID number Excel stored as a number has lost its last digits even
    // when the check digit happens to fit: refused whatever it says.
    let id_number = keep!(if id_cell.is_some_and(|c| c.numeric) {
        Err(FieldError::new("field.id_number", "error.id_numeric_cell"))
    } else {
        IdNumber::parse("field.id_number", text(row, Column::IdNumber))
    });
    let phone_text = text(row, Column::Phone);
    let phone = if phone_text.trim().is_empty() {
        Some(None)
    } else {
        keep!(Phone::parse("field.phone", phone_text).map(Some))
    };
    let village = keep!(villages.find(text(row, Column::Village)).cloned());
    let address = keep!(parse_optional_text(
        "field.address",
        text(row, Column::Address),
        200
    ));
    let members = keep!(parse_members(text(row, Column::Members)));
    let status_text = text(row, Column::Status);
    let status = if status_text.trim().is_empty() {
        Some(Status::Registered)
    } else {
        keep!(
            Status::parse(status_text).ok_or(
                FieldError::new("field.status", "error.status_unknown_value")
                    .arg("value", status_text.trim())
            )
        )
    };
    let helper_text = text(row, Column::Helper).trim();
    let helper_id = if helper_text.is_empty() {
        Some(None)
    } else {
        keep!(helpers.get(helper_text).cloned().map(Some).ok_or(
            FieldError::new("field.helper", "error.helper_not_found").arg("name", helper_text)
        ))
    };
    let notes = keep!(parse_optional_text(
        "field.notes",
        text(row, Column::Notes),
        500
    ));
    match (
        head_name, id_number, phone, village, address, members, status, helper_id, notes,
    ) {
        (
            Some(head_name),
            Some(id),
            Some(phone),
            Some(village),
            Some(address),
            Some(members),
            Some(status),
            Some(helper_id),
            Some(notes),
        ) if errors.is_empty() => {
            let shown = villages
                .shown(&village.id)
                .unwrap_or((village.name.clone(), String::new()));
            Ok(Checked {
                row: row_no,
                input: HouseholdInput {
                    head_name,
                    id_number: Some(id),
                    phone,
                    area_id: village.id.clone(),
                    address,
                    members,
                    status,
                    helper_id,
                    notes,
                    status_reason: String::new(),
                    seen_version: None,
                },
                village: shown.0,
                town: shown.1,
            })
        }
        _ => Err(errors),
    }
}

pub(super) enum Plan {
    Create(Checked),
    Update { id: HouseholdId, checked: Checked },
}

/// Check every row against the file and the database; returns the report
/// and what committing would do. `progress(done, total)` is called now and then.
pub(super) fn plan(
    conn: &mut DbConn,
    key: &DataKey,
    scope: &Scope,
    table: &Table,
    options: ImportOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Report, Vec<Plan>), HouseholdError> {
    let villages = Villages::load(conn, scope)?;
    let helpers = helper_ids(conn, scope)?;
    let total = table.rows.len();
    let mut report = Report {
        total,
        ..Report::default()
    };
    let mut checked = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, (row_no, row)) in table.rows.iter().enumerate() {
        match check_row(*row_no, row, &villages, &helpers) {
            Ok(c) => {
                let lookup = key.lookup("id", c.input.id_number.as_ref().expect("parsed").expose());
                if let Some(first) = seen.get(&lookup) {
                    report.refused.push(RowError::new(
                        *row_no,
                        FieldError::new("field.id_number", "error.id_duplicate_in_file")
                            .arg("row", first),
                    ));
                } else {
                    seen.insert(lookup.clone(), *row_no);
                    checked.push((lookup, c));
                }
            }
            Err(errs) => report.refused.extend(errs),
        }
        if i % 500 == 0 {
            progress(i, total);
        }
    }
    // Which of the ID numbers are already registered, in chunks.
    let mut existing: HashMap<String, (crate::households::Household, String, String)> =
        HashMap::new();
    let lookups: Vec<String> = checked.iter().map(|(l, _)| l.clone()).collect();
    for chunk in lookups.chunks(500) {
        let found: Vec<(crate::households::Household, String, String)> = households::table
            .inner_join(crate::db::schema::areas::table)
            .filter(households::id_lookup.eq_any(chunk))
            .filter(households::archived.eq(false))
            .select((
                crate::households::Household::as_select(),
                crate::db::schema::areas::path,
                crate::db::schema::areas::name,
            ))
            .load(conn)?;
        for (h, path, name) in found {
            existing.insert(h.id_lookup.clone(), (h, path, name));
        }
    }
    let helper_names = helper_names(conn)?;
    // What the digest covers besides the report: each planned row with the
    // ids it resolved to, and the version of each household it matched.
    let mut digest = Sha256::new();
    let mut plans = Vec::new();
    for (lookup, c) in checked {
        let inp = &c.input;
        digest.update(format!(
            "row {} {lookup} {} {:?} {} {} {} {}\n",
            c.row, inp.area_id, inp.helper_id, inp.head_name, inp.members, inp.address, inp.notes
        ));
        if let Some((h, _, _)) = existing.get(&lookup) {
            digest.update(format!("household {} {}\n", h.id, h.updated_at));
        }
        if options.skip_registered
            && let Some((h, path, _)) = existing.get(&lookup)
        {
            // Registered already: skipped, neither refused nor changed. One
            // outside the checker's scope is still told to the
            // administrators (nothing of it is shown to the checker).
            if !scope.covers_area_path(path) {
                report.conflicts.push((c.row, h.id.to_string()));
            }
            report.skipped += 1;
            continue;
        }
        match existing.get(&lookup) {
            None => {
                report.create += 1;
                if report.sample_create.len() < 50 {
                    report.sample_create.push(SampleRow {
                        row: c.row,
                        head_name: c.input.head_name.clone(),
                        village: c.village.clone(),
                        town: c.town.clone(),
                    });
                }
                plans.push(Plan::Create(c));
            }
            Some((h, path, old_village)) => {
                if !scope.covers_area_path(path) {
                    // Nothing about a household the checker may not see.
                    report.refused.push(RowError::new(
                        c.row,
                        FieldError::conflict(
                            "field.id_number",
                            "error.id_needs_admin",
                            crate::domain::Conflict::Taken,
                        ),
                    ));
                    report.conflicts.push((c.row, h.id.to_string()));
                    continue;
                }
                let phone_now = if h.phone_cipher.is_empty() {
                    None
                } else {
                    key.decrypt(&h.phone_cipher)
                };
                let same = h.head_name == c.input.head_name
                    && phone_now.as_deref() == c.input.phone.as_ref().map(|p| p.expose())
                    && h.area_id == c.input.area_id
                    && h.address == c.input.address
                    && h.members == c.input.members
                    && h.status == c.input.status.as_str()
                    && h.helper_id == c.input.helper_id
                    && h.notes == c.input.notes;
                if same {
                    report.unchanged += 1;
                } else {
                    let old_village = villages
                        .shown(&h.area_id)
                        .unwrap_or((old_village.clone(), String::new()));
                    report.changes.extend(field_changes(
                        &c,
                        h,
                        &old_village,
                        phone_now.as_deref(),
                        &helper_names,
                    ));
                    report.update += 1;
                    if report.sample_update.len() < 50 {
                        report.sample_update.push(SampleRow {
                            row: c.row,
                            head_name: c.input.head_name.clone(),
                            village: c.village.clone(),
                            town: c.town.clone(),
                        });
                    }
                    plans.push(Plan::Update {
                        id: h.id.clone(),
                        checked: c,
                    });
                }
            }
        }
    }
    report.refused.sort_by_key(|e| e.row);
    digest.update(serde_json::to_vec(&report).unwrap_or_default());
    report.fingerprint = hex::encode(digest.finalize());
    progress(total, total);
    Ok((report, plans))
}

/// The fields a row would change in household `h`, old and new values.
fn field_changes(
    c: &Checked,
    h: &crate::households::Household,
    old_village: &(String, String),
    phone_now: Option<&str>,
    helper_names: &HashMap<String, String>,
) -> Vec<FieldChange> {
    let inp = &c.input;
    let mut out = Vec::new();
    // Phones are compared in full but shown masked (two numbers may share
    // a mask: the change is listed all the same).
    if phone_now != inp.phone.as_ref().map(|p| p.expose()) {
        out.push(FieldChange {
            row: c.row,
            head_name: h.head_name.clone(),
            field: "field.phone".into(),
            old: phone_now
                .map(|_| h.phone_masked.clone())
                .unwrap_or_default(),
            new: inp.phone.as_ref().map(|p| p.masked()).unwrap_or_default(),
            translate: false,
            ..Default::default()
        });
    }
    // Villages are compared by id (two villages may share a name).
    if h.area_id != inp.area_id {
        out.push(FieldChange {
            row: c.row,
            head_name: h.head_name.clone(),
            field: "field.village".into(),
            old: old_village.0.clone(),
            new: c.village.clone(),
            translate: false,
            old_town: old_village.1.clone(),
            new_town: c.town.clone(),
        });
    }
    let mut push = |field: &str, old: String, new: String, translate: bool| {
        if old != new {
            out.push(FieldChange {
                row: c.row,
                head_name: h.head_name.clone(),
                field: field.to_string(),
                old,
                new,
                translate,
                ..Default::default()
            });
        }
    };
    push(
        "field.head_name",
        h.head_name.clone(),
        inp.head_name.clone(),
        false,
    );
    push(
        "field.address",
        h.address.clone(),
        inp.address.clone(),
        false,
    );
    push(
        "field.members",
        h.members.to_string(),
        inp.members.to_string(),
        false,
    );
    push(
        "field.status",
        Status::label_key_of(&h.status).to_string(),
        inp.status.label_key().to_string(),
        true,
    );
    let helper = |id: &Option<String>| {
        id.as_ref()
            .map(|i| helper_names.get(i).cloned().unwrap_or_default())
            .unwrap_or_default()
    };
    push(
        "field.helper",
        helper(&h.helper_id),
        helper(&inp.helper_id),
        false,
    );
    push("field.notes", h.notes.clone(), inp.notes.clone(), false);
    out
}

/// Check a file without changing any household, its rows treated as
/// `options` says.
pub fn check(
    conn: &mut DbConn,
    key: &DataKey,
    actor: &Actor,
    table: &Table,
    options: ImportOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Report, HouseholdError> {
    actor.require(Action::ImportHouseholds)?;
    let scope = &actor.scope;
    plan(conn, key, scope, table, options, progress).map(|(r, _)| r)
}

/// The most rows whose ID number is registered outside the checker's scope
/// that one check records one by one in the audit log (the rest are counted).
const MAX_CONFLICTS_AUDITED: usize = 100;

/// Record a check in the audit log with its counts, and each row whose ID
/// number is registered outside the checker's scope with that household,
/// for the administrators to look at.
pub fn audit_check(
    conn: &mut DbConn,
    actor: &Actor,
    file_name: &str,
    report: &Report,
) -> QueryResult<()> {
    let ctx = &actor.audit();
    db::write_tx(conn, |c| {
        audit::record(
            c,
            ctx,
            "household.import_check",
            "file",
            "",
            &audit::Detail::new("import_check")
                .arg("file", file_name)
                .arg("rows", report.total)
                .arg("create", report.create)
                .arg("update", report.update)
                .arg("unchanged", report.unchanged)
                .arg("refused", report.refused_rows())
                .arg("for_admin", report.conflicts.len())
                .to_string(),
        )?;
        for (row, other) in report.conflicts.iter().take(MAX_CONFLICTS_AUDITED) {
            audit::record(
                c,
                ctx,
                "household.id_conflict",
                "household",
                other,
                &audit::Detail::new("id_conflict_row")
                    .arg("file", file_name)
                    .arg("row", row)
                    .to_string(),
            )?;
        }
        Ok(())
    })
}

/// How many files one user may have checked in an hour (counted in the
/// database, so across app servers).
pub const MAX_CHECKS_PER_HOUR: i64 = 20;

/// Whether `user_id` may have another file checked now; `Err` is the
/// message to show (too many checks in the last hour). Call it inside the
/// transaction that records the job: it takes the user's row lock first, so
/// that parallel uploads by one user are counted one after the other and
/// never pass the limit together (SQLite's write transactions are serial
/// already).
pub fn may_check(conn: &mut DbConn, user_id: &str) -> Result<(), HouseholdError> {
    diesel::update(users::table.find(user_id))
        .set(users::disabled.eq(users::disabled))
        .execute(conn)?;
    let since = db::now() - chrono::Duration::hours(1);
    let n: i64 = import_jobs::table
        .filter(import_jobs::user_id.eq(user_id))
        .filter(import_jobs::created_at.ge(since))
        .count()
        .get_result(conn)?;
    if n >= MAX_CHECKS_PER_HOUR {
        return Err(FieldError::new("field.file", "error.import_rate_limited")
            .arg("n", MAX_CHECKS_PER_HOUR)
            .into());
    }
    Ok(())
}
