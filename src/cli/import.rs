//! `aixin import`: a household list checked and imported from the console,
//! acting as the first active administrator.

use super::*;

/// The administrator a console import acts as: an enabled admin, by
/// username. Errors are the message to print.
fn console_admin(
    conn: &mut crate::db::DbConn,
    username: &str,
) -> Result<crate::auth::Actor, String> {
    let user = users::find_by_username(conn, &username.trim().to_lowercase())
        .map_err(|e| e.to_string())?
        .filter(|u| !u.disabled && u.role() == crate::domain::Role::Admin)
        .ok_or_else(|| format!("--as: \"{username}\" is not an enabled administrator"))?;
    Ok(crate::auth::Actor {
        user_id: user.id,
        username: user.username,
        role: crate::domain::Role::Admin,
        scope: crate::auth::Scope::All,
        ip: String::new(),
        request_id: "console".into(),
        lang: crate::cli::console_lang(),
    })
}

/// Check a file and (unless `--dry-run`) import it through the same
/// operations as the pages: the check is audited as the administrator, and
/// the write happens only while checking again gives the same digest.
/// Returns whether every row could be imported.
pub(super) fn import_households(
    pool: &DbPool,
    key: &DataKey,
    run: &ImportRun,
    today: chrono::NaiveDate,
) -> Result<bool, String> {
    use crate::households::import;
    let lang = console_lang();
    let file = run.file;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let actor = console_admin(&mut conn, run.as_user)?;
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let table = import::read_table(&name, &bytes).map_err(|e| i18n::field_error(lang, &e))?;
    let bar = indicatif::ProgressBar::new(table.rows.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(i18n::t(lang, "households.checking").to_string());
    let report = import::check(
        &mut conn,
        key,
        &actor,
        &table,
        run.options,
        &mut |done, _| bar.set_position(done as u64),
    )
    .map_err(|e| format!("{e:?}"))?;
    bar.finish_and_clear();
    import::audit_check(&mut conn, &actor, &name, &report).map_err(|e| e.to_string())?;
    for e in &report.refused {
        println!(
            "{} {}: {}: {}",
            i18n::t(lang, "households.row"),
            e.row,
            i18n::t(lang, &e.field),
            e.message(&lang)
        );
    }
    for ch in &report.changes {
        println!(
            "{} {}: {}: {}: {} -> {}",
            i18n::t(lang, "households.row"),
            ch.row,
            ch.head_name,
            i18n::t(lang, &ch.field),
            ch.old_in(&lang),
            ch.new_in(&lang)
        );
    }
    let skipping = run.options.skip_registered;
    let summary = |r: &import::Report| {
        let skipped = if skipping {
            format!(
                ", {}: {}",
                i18n::t(lang, "households.rows_skipped"),
                r.skipped
            )
        } else {
            String::new()
        };
        format!(
            "{}: {}, {}: {}, {}: {}, {}: {}{skipped}, {}: {}",
            i18n::t(lang, "households.rows_total"),
            r.total,
            i18n::t(lang, "households.rows_create"),
            r.create,
            i18n::t(lang, "households.rows_update"),
            r.update,
            i18n::t(lang, "households.rows_unchanged"),
            r.unchanged,
            i18n::t(lang, "households.rows_refused"),
            r.refused_rows()
        )
    };
    println!("{}", summary(&report));
    if run.dry_run {
        println!("(--dry-run: nothing was changed)");
        return Ok(report.refused.is_empty());
    }
    if report.create + report.update == 0 {
        return Ok(report.refused.is_empty());
    }
    if report.update > 0 && !run.apply_updates {
        return Err(format!(
            "{} (--apply-updates)",
            i18n::t(lang, "error.import_updates_unticked")
        ));
    }
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message(i18n::t(lang, "households.importing").to_string());
    spinner.enable_steady_tick(Duration::from_millis(120));
    let outcome = import::commit_checked(
        &mut conn,
        &actor,
        key,
        &table,
        &name,
        today,
        run.options,
        &report.fingerprint,
        &actor.username,
    )
    .map_err(|e| format!("{e:?}"))?;
    spinner.finish_and_clear();
    match outcome {
        import::Confirmed::Done(done) => {
            println!(
                "{} {}",
                i18n::t(lang, "households.import_done"),
                summary(&done)
            );
            Ok(done.refused.is_empty())
        }
        // Someone changed the register between the check and the write:
        // nothing was written; the operator runs the command again.
        import::Confirmed::Changed(_) => Err(i18n::t(lang, "error.import_changed").to_string()),
    }
}
