//! "Looked into": an admin's or auditor's mark on a finding, with a note.
//! One mark per month, signal and subject, kept by a unique key: two people
//! marking at once get one mark and one refusal. A marked finding stays on
//! the page, shown as handled.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Kind, SignalsError};
use crate::audit;
use crate::auth::{Action, Actor, Scope};
use crate::db::schema::{signal_marks, users};
use crate::db::{self, DbConn};
use crate::domain::{FieldError, parse_name};
use crate::time::Month;

/// A mark as shown beside its finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub kind: String,
    pub subject: String,
    pub note: String,
    /// Username of who marked it.
    pub marked_by: String,
    /// UTC.
    pub marked_at: NaiveDateTime,
}

/// The marks of a month.
pub fn for_month(c: &mut DbConn, month: Month, _area_id: &str) -> QueryResult<Vec<Mark>> {
    Ok(signal_marks::table
        .inner_join(users::table)
        .filter(signal_marks::month.eq(month.to_string()))
        .select((
            signal_marks::kind,
            signal_marks::subject,
            signal_marks::note,
            users::username,
            signal_marks::marked_at,
        ))
        .load::<(String, String, String, String, NaiveDateTime)>(c)?
        .into_iter()
        .map(|(kind, subject, note, marked_by, marked_at)| Mark {
            kind,
            subject,
            note,
            marked_by,
            marked_at,
        })
        .collect())
}

/// A mark as typed: month, signal, subject and a note.
#[derive(Debug, Clone, serde::Deserialize, Default)]
pub struct MarkForm {
    #[serde(default)]
    pub month: String,
    #[serde(default)]
    pub area: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub note: String,
}

/// Mark a finding as looked into, with a note (1-500 characters), as the
/// acting admin or auditor.
///
/// Errors: `Forbidden` for anyone but admins and auditors (checked first);
/// `Invalid` naming `field.report_area` (`error.area_unknown`: an area that
/// is unknown or outside the actor's scope), `field.month`, `field.signal`
/// (an unknown signal or subject, or a finding about the actor themselves,
/// which they never see) or `field.signal_note` (empty, too long), or
/// `error.signal_marked` when someone has marked it already. Nothing
/// changes on any error.
pub fn mark(c: &mut DbConn, actor: &Actor, form: &MarkForm) -> Result<(), SignalsError> {
    actor.require(Action::MarkSignals)?;
    in_scope(c, &actor.scope, form.area.trim())?;
    let month = Month::parse(&form.month)?;
    let kind = Kind::parse(form.kind.trim())
        .ok_or_else(|| FieldError::new("field.signal", "error.signal_unknown"))?;
    let subject = form.subject.trim();
    if subject.is_empty()
        || subject.chars().count() > 200
        || crate::domain::has_control_chars(subject)
        || about(subject, &actor.user_id)
    {
        return Err(FieldError::new("field.signal", "error.signal_unknown").into());
    }
    let note = parse_name("field.signal_note", &form.note, 500)?;
    db::write_tx(c, |c| {
        let id = db::new_id();
        let inserted = diesel::insert_into(signal_marks::table)
            .values((
                signal_marks::id.eq(&id),
                signal_marks::month.eq(month.to_string()),
                signal_marks::kind.eq(kind.as_str()),
                signal_marks::subject.eq(subject),
                signal_marks::note.eq(&note),
                signal_marks::marked_by.eq(&actor.user_id),
                signal_marks::marked_at.eq(db::now()),
            ))
            .execute(c);
        match inserted {
            Ok(_) => {}
            Err(e) if db::is_unique_violation(&e) => {
                return Err(FieldError::new("field.signal", "error.signal_marked").into());
            }
            Err(e) => return Err(e.into()),
        }
        audit::record(
            c,
            actor,
            "signal.mark",
            "signal",
            &id,
            &audit::Detail::new("signal_mark")
                .arg("month", month)
                .word("kind", &kind.label_key())
                .arg("subject", subject)
                .arg("note", &note)
                .to_string(),
        )?;
        Ok(())
    })
}

/// The area the mark is made from lies in the scope (an empty one is the
/// scope's own); one outside it reads as unknown.
fn in_scope(c: &mut DbConn, scope: &Scope, area_id: &str) -> Result<(), SignalsError> {
    if area_id.is_empty() {
        return Ok(());
    }
    match crate::areas::find(c, area_id)? {
        Some(a) if scope.covers_area_path(&a.path) => Ok(()),
        _ => Err(FieldError::new("field.report_area", "error.area_unknown").into()),
    }
}

/// Whether a subject (a user id, or a pair or note keyed `user|...`) is
/// about this user: nobody sees, so nobody marks, a finding about
/// themselves.
fn about(subject: &str, user_id: &str) -> bool {
    !user_id.is_empty() && subject.split('|').any(|part| part == user_id)
}

#[cfg(test)]
mod tests {
    use super::about;

    #[test]
    fn a_finding_about_oneself_is_told_apart() {
        assert!(about("u1", "u1"));
        assert!(about("u2|u1", "u1"));
        assert!(about("u1|2026-10-03|note", "u1"));
        assert!(!about("u10", "u1"));
        assert!(!about("h1", ""));
    }
}
