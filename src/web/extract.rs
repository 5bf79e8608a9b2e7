//! Extractors: who is asking (CurrentUser), in what language, from where, and
//! forms that carry a valid CSRF token.

use std::rc::Rc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::{AppError, run};
pub use crate::auth::Authed;
use crate::auth::session;
use crate::db;
use crate::i18n::Lang;
pub use crate::request::{audit_ctx, request_info, state, url_decode};
use crate::users;

/// Cookie names; with secure cookies on, they carry the `__Host-` prefix
/// (Secure, Path=/, no Domain: the browser refuses them from anywhere else).
pub struct CookieNames;

impl CookieNames {
    pub fn session(secure: bool) -> &'static str {
        if secure {
            "__Host-aixin_session"
        } else {
            "aixin_session"
        }
    }
    pub fn pre_csrf(secure: bool) -> &'static str {
        if secure {
            "__Host-aixin_csrf"
        } else {
            "aixin_csrf"
        }
    }
    pub fn flash(secure: bool) -> &'static str {
        if secure {
            "__Host-aixin_flash"
        } else {
            "aixin_flash"
        }
    }
    pub const LANG: &'static str = "aixin_lang";
}

/// The language chosen with the switch (a cookie), Chinese by default.
pub fn lang_of(req: &HttpRequest) -> Lang {
    req.cookie(CookieNames::LANG)
        .and_then(|c| Lang::parse(c.value()))
        .unwrap_or_default()
}

/// The logged-in user of this request, having changed any generated password.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub Rc<Authed>);

/// The logged-in user, even one who still has to change a generated password
/// (for the password page and logout only).
#[derive(Debug, Clone)]
pub struct SessionUser(pub Rc<Authed>);

impl std::ops::Deref for CurrentUser {
    type Target = Authed;
    fn deref(&self) -> &Authed {
        &self.0
    }
}

impl std::ops::Deref for SessionUser {
    type Target = Authed;
    fn deref(&self) -> &Authed {
        &self.0
    }
}

/// The session of this request, loaded once and kept in the request.
#[derive(Clone)]
struct CachedSession(Option<Rc<Authed>>);

async fn load_session(req: &HttpRequest) -> Result<Option<Rc<Authed>>, AppError> {
    if let Some(cached) = req.extensions().get::<CachedSession>() {
        return Ok(cached.0.clone());
    }
    let state = state(req);
    let token = req
        .cookie(CookieNames::session(state.config.secure_cookies))
        .map(|c| c.value().to_string())
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()));
    let info = request_info(req);
    let lang = lang_of(req);
    let loaded = match token {
        None => None,
        Some(token) => {
            let config = state.config.clone();
            run(&state, move |c| {
                let found = session::load(c, &config, &token, db::now())?;
                match found {
                    None => Ok(None),
                    Some((s, user)) => {
                        let scope = users::scope_of(c, &user)?;
                        Ok(Some(Authed {
                            user,
                            session_id: s.id,
                            csrf: s.csrf_token,
                            scope,
                            ip: info.ip,
                            request_id: info.id,
                            lang,
                        }))
                    }
                }
            })
            .await?
        }
    };
    let loaded = loaded.map(Rc::new);
    req.extensions_mut().insert(CachedSession(loaded.clone()));
    Ok(loaded)
}

fn login_required(req: &HttpRequest) -> AppError {
    let next = if matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    ) {
        match req.query_string() {
            "" => req.path().to_string(),
            q => format!("{}?{}", req.path(), q),
        }
    } else {
        "/".to_string()
    };
    AppError::LoginRequired { next }
}

impl FromRequest for SessionUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match load_session(&req).await? {
                Some(a) => Ok(SessionUser(a)),
                None => Err(login_required(&req)),
            }
        })
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match load_session(&req).await? {
                Some(a) if a.user.must_change_password => Err(AppError::PasswordChangeRequired),
                Some(a) => Ok(CurrentUser(a)),
                None => Err(login_required(&req)),
            }
        })
    }
}

/// The logged-in user if there is one (for pages anyone may see).
pub async fn maybe_user(req: &HttpRequest) -> Result<Option<Rc<Authed>>, AppError> {
    load_session(req).await
}

/// The CSRF token a form on this request must carry: the session's when
/// logged in, otherwise the pre-login cookie's.
pub async fn expected_csrf(req: &HttpRequest) -> Result<Option<String>, AppError> {
    if let Some(a) = load_session(req).await? {
        return Ok(Some(a.csrf.clone()));
    }
    let secure = state(req).config.secure_cookies;
    Ok(req
        .cookie(CookieNames::pre_csrf(secure))
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty()))
}

/// Check a CSRF token taken from a form the extractor cannot read (a file
/// upload), in constant time.
pub async fn verify_csrf(req: &HttpRequest, given: &str) -> Result<(), AppError> {
    match expected_csrf(req).await? {
        Some(exp) if !given.is_empty() && bool::from(exp.as_bytes().ct_eq(given.as_bytes())) => {
            Ok(())
        }
        _ => Err(AppError::Csrf),
    }
}

/// A form read by [`CsrfForm`] (or [`Filter`]): the label each field's
/// message stands beside. Every form type says it, so a new form cannot
/// be read without naming its fields' labels; a field sent twice or
/// holding control characters is then said beside that label, never by
/// its raw name.
pub trait FormFields {
    /// The label key (`field.*`, or the page's own key) of the error span
    /// that stands beside field `name` on the form's page; `None` for a
    /// hidden field the page fills in itself (`version`, `key`) or a name
    /// the form does not show. Names made on the page (`count_<id>`) map
    /// by their prefix.
    fn label(name: &str) -> Option<&'static str>;

    /// Whether field `name` holds a record's id (a village, a proposer, a
    /// household, an item): a page filter ([`Filter`]) refuses text there
    /// that is not an id beside the field's label (`error.not_an_id`),
    /// and the form never sees it. None, unless the form says so.
    fn holds_id(_name: &str) -> bool {
        false
    }

    /// For a field that takes one of a few values (a status, a sort, a
    /// kind, a tick box): whether `value` (made plain and trimmed, never
    /// empty) is one of them. A page filter ([`Filter`]) refuses any other
    /// beside the field's label (`error.choose_one`) and leaves the field
    /// out, as it does an id that is not one. `None` for a field that
    /// takes any text (the default).
    fn is_choice(_name: &str, _value: &str) -> Option<bool> {
        None
    }
}

/// A form read as name-value pairs gives its labels where it is read
/// ([`SentTwice::among`]): its extractor never finds a field twice.
impl FormFields for Vec<(String, String)> {
    fn label(_: &str) -> Option<&'static str> {
        None
    }
}

/// A form's labels: field name to the label key its error span uses
/// ([`FormFields::label`]).
pub type LabelOf = fn(&str) -> Option<&'static str>;

/// The line (1-based) a field's name stands on among a page's lines (their
/// ids, in the page's order).
pub type LineOf = fn(&str, &[String]) -> Option<usize>;

/// A url-encoded form whose `csrf` field matches the session's token,
/// compared in constant time. Anything else is refused with 403 before the
/// handler runs. A field holding control characters that the form ignores
/// is refused (422, naming the field by its label) before the handler runs
/// too.
///
/// A field the form reads once, sent twice (`a=1&a=2`), keeps its first
/// value, and [`SentTwice`] names it beside its label ([`FormFields`]).
/// The handler gets the form only with that check: [`CsrfForm::checked`]
/// gives the form and its [`SentTwice`], through which the operation runs
/// ([`SentTwice::run`], or [`SentTwice::check`] first), so the form comes
/// back on its page with what was typed and the message beside the field,
/// like any field error, and nothing is done.
pub struct CsrfForm<T>(T, SentTwice);

impl<T> CsrfForm<T> {
    /// The form as typed and the fields it had twice: the operation runs
    /// through the second ([`SentTwice::run`]) or after its
    /// [`SentTwice::check`], never through `web::run` alone.
    pub fn checked(self) -> (T, SentTwice) {
        (self.0, self.1)
    }
}

/// Field `name`'s label: the one its form gives (`label`), else
/// `field.<name>` (or `field.<name>` without its `_id`) where the
/// catalogue has such a label. The one way a refused field finds its label.
fn label_of(label: LabelOf, name: &str) -> Option<&'static str> {
    label(name).or_else(|| {
        crate::i18n::catalogue_key(&format!("field.{name}")).or_else(|| {
            name.strip_suffix("_id")
                .and_then(|n| crate::i18n::catalogue_key(&format!("field.{n}")))
        })
    })
}

fn no_labels(_: &str) -> Option<&'static str> {
    None
}

/// The fields of one form sent more than once that take one value each
/// (none, usually): a field error naming each (the first carries the
/// others), beside its field under its label ([`FormFields`]); a hidden
/// field the page fills in itself (`version`, `key`) is said in the form's
/// summary as a page to reload; any other is named as sent.
#[derive(Debug, Clone)]
#[must_use = "a form's fields sent twice are refused through `run` or `check`"]
pub struct SentTwice {
    names: Vec<String>,
    /// The fields of a page filter holding a value it cannot take: an id
    /// whose text is not one ([`FormFields::holds_id`]), a value outside a
    /// field's choices ([`FormFields::is_choice`]), a page number that is
    /// no page; each with its message key, refused beside its label too.
    not_ids: Vec<(String, &'static str)>,
    /// The value typed into each field of `not_ids` outside its choices
    /// (name, value made plain and trimmed): a select shows it back,
    /// selected and flagged, beside its message.
    refused_choices: Vec<(String, String)>,
    /// Fields of a page's filter holding control characters or bytes that
    /// are not text: refused beside their label as a parser refuses them.
    spoiled: Vec<(String, &'static str)>,
    /// Fields of a form holding control characters, which its own parsers
    /// refuse; said through [`SentTwice::with_spoiled`] for a form read as
    /// pairs, which has none.
    control: Vec<(String, &'static str)>,
    label: LabelOf,
    line: Option<LineOf>,
    lines: Vec<String>,
}

impl Default for SentTwice {
    fn default() -> Self {
        SentTwice::of(Vec::<&str>::new(), no_labels)
    }
}

impl SentTwice {
    /// The fields of a form read as name-value pairs (`pairs`) sent more
    /// than once, but for those that repeat by design (`repeating`, a
    /// donation's lines ...), each beside its label (`label`, the form's
    /// [`FormFields::label`]).
    pub fn among(pairs: &[(String, String)], repeating: &[&str], label: LabelOf) -> SentTwice {
        let mut twice: Vec<&str> = Vec::new();
        for (i, (name, _)) in pairs.iter().enumerate() {
            if name != "csrf"
                && !repeating.contains(&name.as_str())
                && !twice.contains(&name.as_str())
                && pairs[..i].iter().any(|(k, _)| k == name)
            {
                twice.push(name);
            }
        }
        SentTwice::of(twice, label)
    }

    fn of<'a>(names: impl IntoIterator<Item = &'a str>, label: LabelOf) -> SentTwice {
        SentTwice {
            names: names.into_iter().map(str::to_string).collect(),
            not_ids: Vec::new(),
            refused_choices: Vec::new(),
            spoiled: Vec::new(),
            control: Vec::new(),
            label,
            line: None,
            lines: Vec::new(),
        }
    }

    /// The same, keeping the fields the form's extractor found spoiled
    /// (control characters, bytes that are not text) in `read`, the
    /// [`SentTwice`] of [`CsrfForm::checked`]: a form read as pairs says
    /// them beside their labels as a form of named fields does.
    pub fn with_spoiled(mut self, read: SentTwice) -> SentTwice {
        self.spoiled = read.spoiled;
        self.spoiled.extend(read.control);
        self
    }

    /// The same for a form of lines (a count sheet): `line` gives the line
    /// (1-based) a field's name stands on among the page's `lines` (their
    /// ids, in the page's order), so the message stands beside that line.
    pub fn on_lines(mut self, lines: Vec<String>, line: LineOf) -> SentTwice {
        self.lines = lines;
        self.line = Some(line);
        self
    }

    /// The value typed into select `name` of a page filter that is not
    /// one of its choices ([`FormFields::is_choice`]), refused and left out
    /// of the filter: the page shows it selected and flagged beside its
    /// message, so the choice is not silently reset.
    pub fn refused_choice(&self, name: &str) -> Option<String> {
        self.refused_choices
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    /// `Err` naming every field holding control characters (a filter's)
    /// and every field sent twice; `Ok` when each came once, as text.
    pub fn check(&self) -> Result<(), crate::domain::FieldError> {
        let mut checks = crate::domain::FieldChecks::new();
        for (name, key) in self.spoiled.iter().map(|(n, k)| (n, *k)) {
            checks.push(match label_of(self.label, name) {
                Some(field) => crate::domain::FieldError::new(field, key),
                None => crate::domain::FieldError::new(
                    "auth.form_field",
                    if key == "error.not_utf8" {
                        "auth.not_utf8_in"
                    } else {
                        "auth.control_chars_in"
                    },
                )
                .arg("field", name.chars().take(40).collect::<String>()),
            });
        }
        for name in &self.names {
            let mut e = sent_twice_error(name, label_of(self.label, name));
            if let Some(n) = self.line.and_then(|line| line(name, &self.lines)) {
                e = e.arg("n", n);
            }
            checks.push(e);
        }
        for (name, key) in &self.not_ids {
            checks.push(match label_of(self.label, name) {
                Some(field) => crate::domain::FieldError::new(field, key),
                None => crate::domain::FieldError::new("auth.form_field", key),
            });
        }
        checks.finish()
    }

    /// [`web::run`](super::run) for a form whose fields each came once;
    /// otherwise the refusal naming them (`AppError::Invalid`), `f` unrun.
    pub async fn run<T, F>(&self, state: &crate::state::AppState, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut db::DbConn) -> Result<T, AppError> + Send + 'static,
    {
        self.check()?;
        run(state, f).await
    }
}

/// "Sent twice", beside the field's label when it has one; a hidden field
/// is a page to reload.
fn sent_twice_error(name: &str, label: Option<&'static str>) -> crate::domain::FieldError {
    match label {
        Some(field) => crate::domain::FieldError::new(field, "error.sent_twice"),
        None if matches!(name, "version" | "key") => {
            crate::domain::FieldError::new("auth.form_field", "error.reload_page")
        }
        None => crate::domain::FieldError::new("auth.form_field", "auth.sent_twice_in")
            .arg("field", name.chars().take(40).collect::<String>()),
    }
}

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

pub const FORM_LIMIT: usize = 256 * 1024;

impl<T: DeserializeOwned + FormFields + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let expected = expected_csrf(&req).await?;
            let body =
                body.await
                    .map_err(|e| match e.as_error::<actix_web::error::PayloadError>() {
                        Some(actix_web::error::PayloadError::Overflow) => {
                            AppError::TooLarge { limit: FORM_LIMIT }
                        }
                        _ => AppError::BadRequest(e.to_string()),
                    })?;
            if body.len() > FORM_LIMIT {
                return Err(AppError::TooLarge { limit: FORM_LIMIT });
            }
            let given = serde_urlencoded::from_bytes::<CsrfField>(&body)
                .map(|f| f.csrf)
                .unwrap_or_default();
            match expected {
                Some(exp)
                    if !given.is_empty() && bool::from(exp.as_bytes().ct_eq(given.as_bytes())) => {}
                _ => return Err(AppError::Csrf),
            }
            // A field the form reads goes on to its parser, which refuses
            // control characters and bytes that were not text (decoded as
            // U+FFFD) naming the field, on the form with what was typed; any
            // other field so spoiled is refused here.
            //
            // A field the form reads whose bytes are not text is refused
            // through the form's [`SentTwice`] beside its label, its value
            // read as empty: the page never echoes what it could not read.
            // So is one holding control characters, said as such.
            // A form of named fields leaves control characters to its
            // parsers (each said beside its field with the form's other
            // errors); a form read as pairs has them said through
            // [`SentTwice::with_spoiled`]. A NUL in a field's name is
            // never read as sent.
            if let Err(refusal) = refuse_control_chars(&body, T::label)
                && !reads_every_refused_field::<T>(&body)
            {
                return Err(refusal);
            }
            let spoiled = spoiled_fields(&body);
            let body = if spoiled.is_empty() {
                body
            } else {
                without_nul(&blank_not_utf8(&body))
            };
            read_once::<T>(&body).map(|(form, mut twice)| {
                let (not_text, control) = spoiled
                    .into_iter()
                    .partition(|(_, key)| *key == "error.not_utf8");
                twice.spoiled = not_text;
                twice.control = control;
                CsrfForm(form, twice)
            })
        })
    }
}

/// Form `T` read from `body`, each field it reads once taking its first
/// value, with the fields that came more than once. A body that cannot be
/// read otherwise is a malformed request.
fn read_once<T: DeserializeOwned + FormFields>(body: &[u8]) -> Result<(T, SentTwice), AppError> {
    let mut twice: Vec<String> = Vec::new();
    let mut body = web::Bytes::copy_from_slice(body);
    loop {
        match serde_urlencoded::from_bytes::<T>(&body) {
            Ok(form) => {
                return Ok((
                    form,
                    SentTwice::of(twice.iter().map(String::as_str), T::label),
                ));
            }
            Err(e) => match duplicate_of(&e.to_string()) {
                Some(name) if !twice.contains(&name) => {
                    body = first_only(&body, &name);
                    twice.push(name);
                }
                _ => return Err(AppError::BadRequest(e.to_string())),
            },
        }
    }
}

/// The field a form's reader found twice (`a=1&a=2` for a field that
/// takes one value), from its error.
fn duplicate_of(serde_error: &str) -> Option<String> {
    serde_error
        .strip_prefix("duplicate field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_string())
}

/// The form with field `name` kept at its first value only.
fn first_only(body: &[u8], name: &str) -> web::Bytes {
    let mut seen = false;
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .filter(|(k, _)| {
            if k != name {
                return true;
            }
            let first = !seen;
            seen = true;
            first
        })
        .collect();
    web::Bytes::from(serde_urlencoded::to_string(&pairs).unwrap_or_default())
}

/// The one check of every form: every field's name and value must be
/// UTF-8 once percent-decoded (bytes that are not are refused, never
/// mended into U+FFFD), and no field may hold control characters (line
/// breaks and tabs aside) or bidirectional overrides. The error (422)
/// names the field by its label when it has one (`label`, the form's
/// [`FormFields::label`], else `field.<name>`), else by its name.
pub fn refuse_control_chars(body: &[u8], label: LabelOf) -> Result<(), AppError> {
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let mut halves = pair.splitn(2, |b| *b == b'=');
        let name = url_decode(halves.next().unwrap_or_default());
        let value = url_decode(halves.next().unwrap_or_default());
        let name_text = String::from_utf8_lossy(&name);
        if std::str::from_utf8(&name).is_err() || std::str::from_utf8(&value).is_err() {
            return Err(field_refusal(label, &name_text, "auth.not_utf8_in"));
        }
    }
    let Ok(fields) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) else {
        return Ok(());
    };
    let Some((name, _)) = fields
        .iter()
        .find(|(_, v)| crate::domain::has_control_chars(v))
    else {
        return Ok(());
    };
    Err(field_refusal(label, name, "auth.control_chars_in"))
}

/// Whether form `T` reads (does not ignore) every field of `body` that
/// [`refuse_control_chars`] would refuse: those fields then reach the
/// form's own parsers. Read as text, which a form of strings takes; a form
/// that cannot be read so answers `false`, and the extractor refuses.
fn reads_every_refused_field<T: DeserializeOwned>(body: &[u8]) -> bool {
    use std::cell::Cell;
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let refused = |k: &str, v: &str| {
        k.contains(char::REPLACEMENT_CHARACTER) || crate::domain::has_control_chars(v)
    };
    let ignored: Vec<Cell<bool>> = pairs.iter().map(|_| Cell::new(false)).collect();
    let probe = serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(
        pairs.iter().zip(&ignored).map(|((k, v), flag)| {
            (
                k.as_str(),
                Probe {
                    value: v,
                    ignored: flag,
                },
            )
        }),
    );
    if T::deserialize(probe).is_err() {
        return false;
    }
    pairs
        .iter()
        .zip(&ignored)
        .all(|((k, v), flag)| !refused(k, v) || !flag.get())
}

/// The form with every NUL read as U+FFFD: a field's parser refuses either
/// by name, and a NUL never reaches a query (PostgreSQL refuses it in text).
fn without_nul(body: &[u8]) -> web::Bytes {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body)
        .map(|(k, v)| (k.replace('\0', "\u{FFFD}"), v.replace('\0', "\u{FFFD}")))
        .collect();
    web::Bytes::from(serde_urlencoded::to_string(&pairs).unwrap_or_default())
}

/// The form with the value of every field whose name or value is not
/// UTF-8 (percent-decoded) made empty, and such a name read as lossy text.
fn blank_not_utf8(body: &[u8]) -> web::Bytes {
    let pairs: Vec<(String, String)> = body
        .split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let mut halves = pair.splitn(2, |b| *b == b'=');
            let name = url_decode(halves.next().unwrap_or_default());
            let value = url_decode(halves.next().unwrap_or_default());
            let name_text = String::from_utf8_lossy(&name).into_owned();
            match (std::str::from_utf8(&name), String::from_utf8(value)) {
                (Ok(_), Ok(v)) => (name_text, v),
                _ => (name_text, String::new()),
            }
        })
        .collect();
    web::Bytes::from(serde_urlencoded::to_string(&pairs).unwrap_or_default())
}

/// A form value that notes whether the form ignored it.
struct Probe<'a> {
    value: &'a str,
    ignored: &'a std::cell::Cell<bool>,
}

impl<'de> serde::de::IntoDeserializer<'de, serde::de::value::Error> for Probe<'_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> serde::Deserializer<'de> for Probe<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        v.visit_str(self.value)
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        v.visit_some(self)
    }

    fn deserialize_ignored_any<V: serde::de::Visitor<'de>>(
        self,
        v: V,
    ) -> Result<V::Value, Self::Error> {
        self.ignored.set(true);
        v.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier
    }
}

/// A page's filter read from its query string, each field it reads once
/// taking its first value, with the fields that came more than once
/// ([`SentTwice`]): the page refuses those like a filter value that does
/// not read, its filter form holding what was typed and the message beside
/// the field (422). A field holding control characters (a NUL: PostgreSQL
/// refuses it in text) or bytes that are not text is refused the same
/// way, beside its label (`error.control_chars`, `error.not_utf8`), its
/// NULs read as U+FFFD so that none reaches a query. A query that cannot
/// be read otherwise is a malformed request (400).
pub struct Filter<T>(pub T, pub SentTwice);

impl<T: DeserializeOwned + FormFields + 'static> FromRequest for Filter<T> {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(read_filter::<T>(req.query_string().as_bytes()))
    }
}

/// Filter `T` read from `query`: a field holding an id
/// ([`FormFields::holds_id`]) whose first value is not one is left out of
/// the filter (so no query runs with it, and the page answers as if it
/// were not set) and refused through the filter's [`SentTwice`], beside
/// its label, like a field sent twice.
///
/// A field holding control characters (a NUL among them) or bytes that are
/// not text is refused the same way, and the filter is read with its NULs
/// as U+FFFD, so none reaches a query.
fn read_filter<T: DeserializeOwned + FormFields>(query: &[u8]) -> Result<Filter<T>, AppError> {
    let spoiled = spoiled_fields(query);
    let plain;
    let query = if spoiled.is_empty() {
        query
    } else {
        plain = without_nul(query);
        &plain[..]
    };
    let not_ids = not_ids::<T>(query);
    let (q, mut twice) = if not_ids.is_empty() {
        read_once::<T>(query)?
    } else {
        let kept: Vec<(String, String)> = form_urlencoded::parse(query)
            .filter(|(k, _)| !not_ids.iter().any(|(n, _)| n == k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        read_once::<T>(
            serde_urlencoded::to_string(&kept)
                .unwrap_or_default()
                .as_bytes(),
        )?
    };
    // A field already named for its characters is not named again; one
    // sent twice is said to be so, whatever its first value.
    let sent = |name: &str| {
        form_urlencoded::parse(query)
            .filter(|(k, _)| k == name)
            .count()
    };
    for (name, _) in &not_ids {
        if sent(name) > 1 && !twice.names.contains(name) {
            twice.names.push(name.clone());
        }
    }
    twice.not_ids = not_ids
        .into_iter()
        .filter(|(n, _)| !spoiled.iter().any(|(s, _)| s == n) && !twice.names.contains(n))
        .collect();
    twice.refused_choices = twice
        .not_ids
        .iter()
        .filter(|(_, key)| *key == "error.choose_one")
        .filter_map(|(name, _)| {
            form_urlencoded::parse(query)
                .find(|(k, _)| k == name)
                .map(|(_, v)| {
                    let v = crate::domain::input::normalize(&v);
                    (name.clone(), v.trim().chars().take(100).collect())
                })
        })
        .collect();
    twice.spoiled = spoiled;
    Ok(Filter(q, twice))
}

/// The fields of `query` whose first value, made plain, the filter `T`
/// cannot take (an empty one filters nothing), each with its message key:
/// text that is not an id in a field holding one (`error.not_an_id`), a
/// value outside a field's choices (`error.choose_one`), a `page` that is
/// no page number from 1 (`error.page_number`).
fn not_ids<T: FormFields>(query: &[u8]) -> Vec<(String, &'static str)> {
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for (k, v) in form_urlencoded::parse(query) {
        if seen.iter().any(|s| *s == k) {
            continue;
        }
        seen.push(k.clone().into_owned());
        let v = crate::domain::input::normalize(&v);
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        let key = if T::holds_id(&k) {
            (!crate::domain::ids::is_id(v)).then_some("error.not_an_id")
        } else if k == "page" {
            page_index(v).is_none().then_some("error.page_number")
        } else {
            T::is_choice(&k, v)
                .is_some_and(|ok| !ok)
                .then_some("error.choose_one")
        };
        if let Some(key) = key {
            out.push((k.into_owned(), key));
        }
    }
    out
}

/// The fields of a url-encoded query or form whose name or value holds
/// control characters (`error.control_chars`) or bytes that are not
/// UTF-8 (`error.not_utf8`), each named once, in order.
fn spoiled_fields(body: &[u8]) -> Vec<(String, &'static str)> {
    use crate::request::Spoiled;
    let mut out: Vec<(String, &'static str)> = Vec::new();
    for (name, spoiled) in crate::request::spoiled_pairs(body) {
        let key = match spoiled {
            Spoiled::Control => "error.control_chars",
            Spoiled::NotUtf8 => "error.not_utf8",
        };
        if !out.iter().any(|(n, _)| *n == name) {
            out.push((name, key));
        }
    }
    out
}

/// A list's page from its query, as its 0-based index: addresses count
/// pages from 1 as people do (`page=1` is the first, `page=N` index N-1).
/// A number that is not a page (`page=0`, negative) or text that is not a
/// number (`page=abc`, too many digits) is no page: a page's filter
/// ([`Filter`]) refuses it beside `field.page` (`error.page_number`)
/// before it is read, and here it reads as none.
pub fn page_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let s: Option<String> = serde::Deserialize::deserialize(d)?;
    Ok(s.and_then(|s| page_index(&s)))
}

/// The 0-based index of page `s` (1-based), `None` when it names none.
fn page_index(s: &str) -> Option<i64> {
    let n: i64 = crate::domain::input::normalize(s).trim().parse().ok()?;
    (n >= 1).then_some(n - 1)
}

/// A list page's index (0-based) as its address says it (1-based).
pub fn page_param(index: i64) -> String {
    (index.max(0) + 1).to_string()
}

/// A form field refused by the form extractor, named by its label
/// ([`label_of`], as a field sent twice is).
fn field_refusal(label: LabelOf, name: &str, key: &'static str) -> AppError {
    let label = match label_of(label, name) {
        Some(label_key) => format!("@{label_key}"),
        None => name.trim_start_matches('@').chars().take(40).collect(),
    };
    AppError::Invalid(crate::domain::FieldError::new("auth.form_field", key).arg("field", label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_numbers_count_from_one_and_anything_else_is_the_first() {
        assert_eq!(page_index("1"), Some(0));
        assert_eq!(page_index("3"), Some(2));
        assert_eq!(page_index("３"), Some(2));
        for none in ["0", "-1", "abc", "", "99999999999999999999", "1.5"] {
            assert_eq!(page_index(none), None, "{none}");
        }
        assert_eq!(page_param(0), "1");
        assert_eq!(page_param(4), "5");
    }

    #[test]
    fn a_field_sent_twice_keeps_its_first_value_and_is_named() {
        #[derive(serde::Deserialize, Debug)]
        struct F {
            head_name: String,
            #[serde(default)]
            oddly_named: String,
            #[serde(default)]
            members: String,
        }
        impl FormFields for F {
            fn label(name: &str) -> Option<&'static str> {
                (name == "members").then_some("field.members")
            }
        }
        let (f, twice) =
            read_once::<F>(b"head_name=a&members=2&head_name=b&oddly_named=x&oddly_named=y")
                .unwrap();
        assert_eq!((f.head_name.as_str(), f.members.as_str()), ("a", "2"));
        assert_eq!(f.oddly_named, "x");
        let e = twice.check().unwrap_err();
        let all = e.all();
        assert_eq!(all.len(), 2);
        assert_eq!(
            (all[0].field, all[0].key),
            ("field.head_name", "error.sent_twice")
        );
        assert_eq!(all[1].key, "auth.sent_twice_in");
        assert_eq!(all[1].arg_value("field"), Some("oddly_named"));
        let (_, once) = read_once::<F>(b"head_name=a&members=2").unwrap();
        assert!(once.check().is_ok());
        assert!(matches!(
            read_once::<F>(b"members=2"),
            Err(AppError::BadRequest(_))
        ));
        let pairs: Vec<(String, String)> = [
            ("donor_id", "1"),
            ("item", "a"),
            ("item", "b"),
            ("donor_id", "2"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let e = SentTwice::among(&pairs, &["item"], no_labels)
            .check()
            .unwrap_err();
        assert_eq!((e.field, e.all().len()), ("field.donor", 1));
    }

    #[test]
    fn forms_that_are_not_utf8_are_refused_naming_the_field() {
        assert_eq!(url_decode(b"a+b%E5%BC%A0%2"), "a b张%2".as_bytes());
        assert!(
            refuse_control_chars("note=%E5%BC%A0%E4%B8%89&csrf=x".as_bytes(), no_labels).is_ok()
        );
        for bad in [
            &b"note=%FF%FE"[..],
            b"note=ok&reason=%C3%28",
            b"%FF=1",
            b"note=\xff",
        ] {
            match refuse_control_chars(bad, no_labels) {
                Err(AppError::Invalid(e)) => assert_eq!(e.key, "auth.not_utf8_in"),
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bad)),
            }
        }
        // Named by the form's label, as a field sent twice is.
        let store_name = |n: &str| (n == "name").then_some("field.store_name");
        for (body, key) in [
            (&b"name=a%01b"[..], "auth.control_chars_in"),
            (b"name=%FF", "auth.not_utf8_in"),
        ] {
            match refuse_control_chars(body, store_name) {
                Err(AppError::Invalid(e)) => {
                    assert_eq!(
                        (e.key, e.arg_value("field")),
                        (key, Some("@field.store_name"))
                    )
                }
                other => panic!("{other:?}"),
            }
        }
        let e = SentTwice::of(["name"], store_name).check().unwrap_err();
        assert_eq!((e.field, e.key), ("field.store_name", "error.sent_twice"));
    }
}
