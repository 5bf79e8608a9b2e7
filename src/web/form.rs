//! A form shown again after a refusal: every field error beside its field,
//! with what was typed kept by the page (each page renders its posted
//! values back).

use crate::domain::FieldError;
use crate::i18n::{self, Lang};

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
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// All of them, in the form's order (the summary at the top).
    pub fn all(&self) -> &[ShownError] {
        &self.items
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
