//! A form shown again after a refusal: every field error beside its field,
//! with what was typed kept by the page (each page renders its posted
//! values back).

use std::future::Future;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

use crate::domain::FieldError;
use crate::i18n::{self, Lang};
use crate::web::AppError;

/// Whether refusal `e` says the record was changed by someone else since
/// the form was opened (a conflict of kind `Changed`): only then does a
/// form shown again take the record's version as it is now.
pub fn changed_meanwhile(e: &FieldError) -> bool {
    e.all()
        .iter()
        .any(|f| f.conflict == Some(crate::domain::Conflict::Changed))
}

/// A value sent from a picker that is none of its `choices` (None when it
/// is one of them, or empty): shown back selected and marked
/// (`form::kept_choice` in the templates), never another choice in its
/// place, so that saving again sets nothing nobody chose.
pub fn unoffered<'a, 'c>(
    typed: &'a str,
    mut choices: impl Iterator<Item = &'c str>,
) -> Option<&'a str> {
    let typed = typed.trim();
    (!typed.is_empty() && !choices.any(|c| c == typed)).then_some(typed)
}

/// One refused field, ready to show.
#[derive(Debug, Clone)]
pub struct ShownError {
    /// The field's translation key (`field.*`), which the template asks for.
    pub field: &'static str,
    /// The line (1-based) for a form with repeated lines, when given.
    pub line: Option<usize>,
    /// The whole message in the page's language, naming the field.
    pub text: String,
}

/// Every field error of one submitted form; empty for a fresh form.
#[derive(Debug, Clone, Default)]
pub struct FormErrors {
    items: Vec<ShownError>,
    /// Whether the refusal is a conflict with the state of things (a
    /// record changed or decided since it was read, a name taken ...).
    conflict: bool,
    /// Whether it says the record was changed since the form was opened
    /// ([`changed_meanwhile`]).
    changed: bool,
}

impl FormErrors {
    /// The form's errors (`e` and the others it carries) in `lang`.
    pub fn new(lang: Lang, e: &FieldError) -> Self {
        FormErrors {
            items: e
                .all()
                .into_iter()
                .map(|f| ShownError {
                    field: f.field,
                    line: f.arg_value("n").and_then(|n| n.parse().ok()),
                    text: i18n::field_error(lang, f),
                })
                .collect(),
            conflict: e.all().iter().any(|f| f.conflict.is_some()),
            changed: changed_meanwhile(e),
        }
    }

    /// Whether the refusal says the record was changed since the form
    /// was opened: the form shown again then carries the record's version
    /// as it is now.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// The errors of a refused form (`Some`), or none for a fresh one.
    pub fn maybe(lang: Lang, e: Option<&FieldError>) -> Self {
        e.map(|e| FormErrors::new(lang, e)).unwrap_or_default()
    }

    /// What the page answers with: 200 for a fresh form; for a refusal
    /// 409 when it is a conflict with the state of things, else 422.
    pub fn status(&self) -> StatusCode {
        if self.is_empty() {
            StatusCode::OK
        } else if self.conflict {
            StatusCode::CONFLICT
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The same with `e` (and the others it carries) said too, in `lang`:
    /// a refusal found after the form was read (a filter's value the
    /// database does not know).
    pub fn push(&mut self, lang: Lang, e: &FieldError) {
        let more = FormErrors::new(lang, e);
        self.conflict |= more.conflict;
        self.changed |= more.changed;
        self.items.extend(more.items);
    }

    /// All of them, in the form's order (the summary at the top).
    pub fn all(&self) -> &[ShownError] {
        &self.items
    }

    /// The errors of fields the page shows no place for (not among
    /// `placed`, the fields with a message beside them), for a summary, so
    /// no refusal goes unsaid.
    pub fn not_beside(&self, placed: &[&str]) -> Vec<&ShownError> {
        self.items
            .iter()
            .filter(|e| !placed.contains(&e.field))
            .collect()
    }

    /// The messages for one field, joined (usually one).
    pub fn of(&self, field: &str) -> Option<String> {
        self.join(self.items.iter().filter(|e| e.field == field))
    }

    /// The messages for one field on line `n` (1-based) of a repeated form.
    pub fn on_line(&self, field: &str, n: &usize) -> Option<String> {
        self.join(
            self.items
                .iter()
                .filter(|e| e.field == field && e.line == Some(*n)),
        )
    }

    /// Whether any error names `field` (to mark the input invalid).
    pub fn has(&self, field: &str) -> bool {
        self.items.iter().any(|e| e.field == field)
    }

    fn join<'a>(&self, it: impl Iterator<Item = &'a ShownError>) -> Option<String> {
        let v: Vec<&str> = it.map(|e| e.text.as_str()).collect();
        (!v.is_empty()).then(|| v.join(" "))
    }
}

/// A refused form shown again on a page that holds it (often beside other
/// forms): which form, what was typed into it, and its errors. A fresh
/// page has `Refused::default()`, and every field shows its stored value.
#[derive(Debug, Clone, Default)]
pub struct Refused {
    /// The form's name on its page (`"store"`, `"user"`, `"move"`, or
    /// `"item-<id>"` for one of a list's rows ...).
    form: String,
    values: Vec<(String, String)>,
    /// The form's errors (empty on a fresh page).
    pub errors: FormErrors,
}

impl Refused {
    /// The form `form` refused with `e`, keeping `typed` (a form struct:
    /// its string fields are what was typed).
    pub fn of<T: serde::Serialize>(
        lang: Lang,
        form: impl Into<String>,
        typed: &T,
        e: &FieldError,
    ) -> Self {
        let pairs = match serde_json::to_value(typed) {
            Ok(serde_json::Value::Object(m)) => m
                .into_iter()
                .filter_map(|(k, v)| match v {
                    serde_json::Value::String(s) => Some((k, s)),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Refused::of_pairs(lang, form, pairs, e)
    }

    /// The same for a form read as name-value pairs.
    pub fn of_pairs(
        lang: Lang,
        form: impl Into<String>,
        values: Vec<(String, String)>,
        e: &FieldError,
    ) -> Self {
        Refused {
            form: form.into(),
            values,
            errors: FormErrors::new(lang, e),
        }
    }

    /// Whether no form is refused (a fresh page).
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Whether the page shows form `form` refused.
    pub fn is(&self, form: &str) -> bool {
        !self.errors.is_empty() && self.form == form
    }

    /// What was typed into `field` of form `form` when that form was
    /// refused; otherwise `stored` (the value the record has now).
    pub fn value<'a>(&'a self, form: &str, field: &str, stored: &'a str) -> &'a str {
        if !self.is(form) {
            return stored;
        }
        self.values
            .iter()
            .find(|(k, _)| k == field)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// The version (hidden `version` field) form `form` carries when shown:
    /// after a refusal, the one it was opened with (so that a change saved
    /// meanwhile is still caught at the next save), unless the refusal
    /// said the record changed since (then `now`, the record's as it is
    /// now, whose values the page shows beside the fields); else `now`.
    pub fn version(&self, form: &str, now: &i64) -> String {
        let now = now.to_string();
        if self.errors.changed() {
            return now;
        }
        self.value(form, "version", &now).to_string()
    }

    /// Whether `option` is the chosen one of select `field` in form `form`:
    /// what was typed after a refusal, else whether it is `stored`.
    pub fn chosen(&self, form: &str, field: &str, option: &str, stored: &str) -> bool {
        self.value(form, field, stored) == option
    }

    /// The message for `field` of form `form`, when that form was refused.
    pub fn error(&self, form: &str, field: &str) -> Option<String> {
        if self.is(form) {
            self.errors.of(field)
        } else {
            None
        }
    }

    /// The page's answer: 200 fresh, 422 refused, 409 for a conflict.
    pub fn status(&self) -> StatusCode {
        self.errors.status()
    }
}

/// A form's answer, with a refusal brought back to the page that holds the
/// form: a field error (`AppError::Invalid`) becomes `page` drawn with a
/// [`Refused`] for form `form` keeping `typed` (the posted form struct), so
/// the person sees what they typed and the message beside its field (422,
/// or 409 for a conflict). A success or any other error passes unchanged.
pub async fn or_again<T, P, F>(
    lang: Lang,
    form: impl Into<String>,
    typed: &T,
    result: Result<HttpResponse, AppError>,
    page: P,
) -> Result<HttpResponse, AppError>
where
    T: serde::Serialize,
    P: FnOnce(Refused) -> F,
    F: Future<Output = Result<HttpResponse, AppError>>,
{
    match result {
        Err(AppError::Invalid(e)) => page(Refused::of(lang, form, typed, &e)).await,
        other => other,
    }
}

/// The version a form says its person saw. Required: every page decision
/// and every page edit form (a household, a store and its printing
/// settings, an item, a rule, a user) is checked against what was on the
/// screen, so a form without it, or with one that is not a number (an old
/// page, a hand-made request), is refused naming `field.seen_version`
/// (`error.seen_version_missing`) and changes nothing.
pub fn seen_version(s: &str) -> Result<i64, FieldError> {
    s.trim()
        .parse()
        .map_err(|_| FieldError::new("field.seen_version", "error.seen_version_missing"))
}
