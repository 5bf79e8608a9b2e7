//! Pure types and rules of the scheme: no actix, no diesel.

pub mod ids;
pub mod input;
pub mod people;
pub mod pinyin;
pub mod stock;

use std::fmt;

pub use ids::{AwardId, HouseholdId, ItemId, StoreId, form_id};
pub use people::{CardNo, IdNumber, Phone};

/// Why a refusal is a conflict with the state of things rather than input
/// to correct: the API answers 409 with the conflict's code. Set where the
/// refusal is made (`FieldError::conflict`), never told from the message's
/// key, so renaming a message cannot change what the refusal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// The household's balance does not cover it.
    InsufficientPoints,
    /// The shelf does not hold enough.
    InsufficientStock,
    /// A rule's cap for the period is reached.
    CapReached,
    /// The day falls in a closed month.
    MonthClosed,
    /// A form or idempotency key already used for something else.
    KeyReused,
    /// A price changed since the total was shown.
    PriceChanged,
    /// The record was decided or changed since it was read.
    Changed,
    /// A name, number or code is already taken.
    Taken,
}

impl Conflict {
    /// The API's error code.
    pub fn code(self) -> &'static str {
        match self {
            Conflict::InsufficientPoints => "insufficient_points",
            Conflict::InsufficientStock => "insufficient_stock",
            Conflict::CapReached => "cap_reached",
            Conflict::MonthClosed => "month_closed",
            Conflict::KeyReused => "idempotency_key_reused",
            Conflict::PriceChanged => "price_changed",
            Conflict::Changed | Conflict::Taken => "conflict",
        }
    }
}

/// A form field that did not parse, with a message a person can act on.
/// `field` and `key` are translation keys (`field.*`, `error.*`).
/// `others` holds the same form's further field errors, found in the same
/// pass (see [`FieldChecks`]), so a page can show every one beside its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
    pub others: Vec<FieldError>,
    /// Set when this refusal is a conflict with the state of things.
    pub conflict: Option<Conflict>,
}

impl FieldError {
    pub fn new(field: &'static str, key: &'static str) -> Self {
        FieldError {
            field,
            key,
            args: Vec::new(),
            others: Vec::new(),
            conflict: None,
        }
    }

    /// A refusal that is a conflict with the state of things (see
    /// [`Conflict`]), shown beside `field` with message `key`.
    pub fn conflict(field: &'static str, key: &'static str, kind: Conflict) -> Self {
        FieldError {
            conflict: Some(kind),
            ..FieldError::new(field, key)
        }
    }

    pub fn arg(mut self, name: &'static str, value: impl fmt::Display) -> Self {
        self.args.push((name, value.to_string()));
        self
    }

    /// The value of argument `name`, if given (a line's `n`, say).
    pub fn arg_value(&self, name: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// This error and the form's others, in the form's order; each without
    /// its own `others`.
    pub fn all(&self) -> Vec<&FieldError> {
        let mut out = vec![self];
        out.extend(self.others.iter().flat_map(FieldError::all));
        out
    }
}

/// Collects a form's field errors so one pass reports all of them, not
/// only the first: `take` each parse's result, then `finish`.
#[derive(Debug, Default)]
pub struct FieldChecks {
    errors: Vec<FieldError>,
}

impl FieldChecks {
    pub fn new() -> Self {
        Self::default()
    }

    /// The parsed value, or `None` after noting the error.
    pub fn take<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(e);
                None
            }
        }
    }

    pub fn push(&mut self, e: FieldError) {
        let FieldError {
            field,
            key,
            args,
            others,
            conflict,
        } = e;
        self.errors.push(FieldError {
            field,
            key,
            args,
            others: Vec::new(),
            conflict,
        });
        for o in others {
            self.push(o);
        }
    }

    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    /// Whether an error already names `field` (so a later check on the
    /// same field does not say a second, dependent thing).
    pub fn has(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == field)
    }

    /// `Ok` when nothing was wrong; otherwise the first error carrying the
    /// others.
    pub fn finish(self) -> Result<(), FieldError> {
        let mut it = self.errors.into_iter();
        match it.next() {
            None => Ok(()),
            Some(mut first) => {
                first.others = it.collect();
                Err(first)
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Official,
    Reviewer,
    Clerk,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Official,
        Role::Reviewer,
        Role::Clerk,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Official => "official",
            Role::Reviewer => "reviewer",
            Role::Clerk => "clerk",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }

    /// Translation key of the role's name.
    pub fn label_key(self) -> &'static str {
        match self {
            Role::Admin => "role.admin",
            Role::Official => "role.official",
            Role::Reviewer => "role.reviewer",
            Role::Clerk => "role.clerk",
            Role::Auditor => "role.auditor",
        }
    }

    /// Officials and reviewers work inside an area; clerks at one store.
    pub fn needs_area(self) -> bool {
        matches!(self, Role::Official | Role::Reviewer)
    }

    /// Administrators and auditors see the whole scheme, or may be limited
    /// to a province or a city.
    pub fn may_have_area(self) -> bool {
        matches!(self, Role::Admin | Role::Auditor)
    }

    pub fn needs_store(self) -> bool {
        matches!(self, Role::Clerk)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AreaLevel {
    /// A province (省): above cities; added over cities that were roots.
    Province,
    City,
    District,
    Town,
    Village,
}

impl AreaLevel {
    pub const ALL: [AreaLevel; 5] = [
        AreaLevel::Province,
        AreaLevel::City,
        AreaLevel::District,
        AreaLevel::Town,
        AreaLevel::Village,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AreaLevel::Province => "province",
            AreaLevel::City => "city",
            AreaLevel::District => "district",
            AreaLevel::Town => "town",
            AreaLevel::Village => "village",
        }
    }

    pub fn parse(s: &str) -> Option<AreaLevel> {
        AreaLevel::ALL.into_iter().find(|l| l.as_str() == s)
    }

    pub fn label_key(self) -> &'static str {
        match self {
            AreaLevel::Province => "level.province",
            AreaLevel::City => "level.city",
            AreaLevel::District => "level.district",
            AreaLevel::Town => "level.town",
            AreaLevel::Village => "level.village",
        }
    }

    /// The level an area directly below this one has.
    pub fn child(self) -> Option<AreaLevel> {
        match self {
            AreaLevel::Province => Some(AreaLevel::City),
            AreaLevel::City => Some(AreaLevel::District),
            AreaLevel::District => Some(AreaLevel::Town),
            AreaLevel::Town => Some(AreaLevel::Village),
            AreaLevel::Village => None,
        }
    }

    /// Whether an area of this level may stand at the top of the tree (a
    /// province, or a city no province has been added above yet).
    pub fn may_be_root(self) -> bool {
        matches!(self, AreaLevel::Province | AreaLevel::City)
    }

    /// Whether an administrator or auditor may be scoped to an area of this
    /// level (a province or a city; below that officials and reviewers work).
    pub fn scopes_supervisors(self) -> bool {
        self.may_be_root()
    }
}

/// A login name: 3 to 32 letters, digits, '.', '_' or '-', kept lower-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Username, FieldError> {
        let s = input::normalize(s).to_lowercase();
        if s.is_empty() {
            return Err(FieldError::new("field.username", "error.required"));
        }
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !(2..=32).contains(&s.chars().count()) || !ok_chars {
            return Err(FieldError::new("field.username", "error.username_format"));
        }
        Ok(Username(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 256;

/// A new password: at least 8 characters, long passphrases welcome, no
/// composition rules.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(..)")
    }
}

impl NewPassword {
    pub fn parse(field: &'static str, s: &str) -> Result<NewPassword, FieldError> {
        let n = s.chars().count();
        if n < PASSWORD_MIN_CHARS {
            return Err(
                FieldError::new(field, "error.password_short").arg("min", PASSWORD_MIN_CHARS)
            );
        }
        if n > PASSWORD_MAX_CHARS {
            return Err(
                FieldError::new(field, "error.password_long").arg("max", PASSWORD_MAX_CHARS)
            );
        }
        Ok(NewPassword(s.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A name typed by a person (an area, a store, a display name, a head of
/// household): trimmed, without invisible characters anywhere in it, not
/// empty, not too long, without control characters.
pub fn parse_name(field: &'static str, s: &str, max: usize) -> Result<String, FieldError> {
    // A name is one line a person reads and searches: an invisible
    // character inside it (李\u{200B}四) would make a second 李四 that
    // looks the same and is found by nothing, so it goes, as around it.
    let s: String = input::trim_text(s)
        .chars()
        .filter(|c| !input::is_invisible(*c))
        .collect();
    let s = s.as_str();
    if s.is_empty() {
        return Err(FieldError::new(field, "error.required"));
    }
    if s.chars().count() > max {
        return Err(FieldError::new(field, "error.too_long").arg("max", max));
    }
    if s.contains(char::REPLACEMENT_CHARACTER) {
        return Err(FieldError::new(field, "error.not_utf8"));
    }
    if s.chars().any(char::is_control) || has_control_chars(s) {
        return Err(FieldError::new(field, "error.control_chars"));
    }
    Ok(s.to_string())
}

/// Whether text holds a character no person types into a field: a control
/// character other than line breaks and tabs (which multi-line fields
/// keep), a bidirectional override that makes text read otherwise than
/// it is stored, or U+FFFD, which stands for bytes that were not text (a
/// form's fields are decoded so, and refused by the field's parser).
pub fn has_control_chars(s: &str) -> bool {
    s.chars().any(|c| {
        (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            || matches!(
                c,
                '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | char::REPLACEMENT_CHARACTER
            )
    })
}

/// Optional free text: trimmed, possibly empty, bounded, without control
/// characters (line breaks and tabs aside).
pub fn parse_optional_text(field: &'static str, s: &str, max: usize) -> Result<String, FieldError> {
    let s = input::trim_text(s);
    if s.chars().count() > max {
        return Err(FieldError::new(field, "error.too_long").arg("max", max));
    }
    if s.contains(char::REPLACEMENT_CHARACTER) {
        return Err(FieldError::new(field, "error.not_utf8"));
    }
    if has_control_chars(s) {
        return Err(FieldError::new(field, "error.control_chars"));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_loses_invisible_characters_inside_it() {
        assert_eq!(parse_name("f", "李\u{200B}四", 10).unwrap(), "李四");
        assert_eq!(
            parse_name("f", "\u{FEFF}王\u{200D}五 ", 10).unwrap(),
            "王五"
        );
        assert!(parse_name("f", "\u{200B}", 10).is_err());
    }

    #[test]
    fn usernames() {
        assert_eq!(Username::parse("  Wang.Li ").unwrap().as_str(), "wang.li");
        assert_eq!(Username::parse("").unwrap_err().key, "error.required");
        assert_eq!(
            Username::parse("a").unwrap_err().key,
            "error.username_format"
        );
        assert_eq!(
            Username::parse("王丽").unwrap_err().key,
            "error.username_format"
        );
        assert_eq!(
            Username::parse("a b c").unwrap_err().key,
            "error.username_format"
        );
    }

    #[test]
    fn passwords() {
        assert!(NewPassword::parse("field.password", "1234567").is_err());
        assert!(NewPassword::parse("field.password", "12345678").is_ok());
        assert!(NewPassword::parse("field.password", "长长的中文密码短语也可以").is_ok());
        assert!(NewPassword::parse("field.password", &"x".repeat(257)).is_err());
        assert!(
            !format!("{:?}", NewPassword::parse("f", "secret-secret").unwrap()).contains("secret")
        );
    }

    #[test]
    fn roles_and_levels_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        for l in AreaLevel::ALL {
            assert_eq!(AreaLevel::parse(l.as_str()), Some(l));
        }
        assert_eq!(AreaLevel::Town.child(), Some(AreaLevel::Village));
        assert_eq!(AreaLevel::Province.child(), Some(AreaLevel::City));
        assert_eq!(AreaLevel::Village.child(), None);
    }
}
