//! The API's one error shape: `{"error":{"code","message","field"?}}` with
//! the status the issue names. The message is drawn in Chinese here and
//! redrawn in the caller's language (Accept-Language) by `localise`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Conflict, FieldError};
use crate::i18n::{self, Lang};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request could not be read (JSON, query, path, header).
    #[error("malformed request: {0}")]
    Malformed(String),
    /// Readable JSON with a field of the wrong type, missing, or a value the
    /// API does not know: 422 naming the field, the reason a catalogue key
    /// (`api.*`) with its arguments, never serde's own English.
    #[error("bad field {field}: {key}")]
    BadField {
        field: String,
        key: &'static str,
        args: Vec<(&'static str, String)>,
    },
    /// Several elements of a body's list that could not be read, each a
    /// [`ApiError::BadField`] in the body's order: 422 naming the first,
    /// the others in `others`.
    #[error("bad fields: {}", .0.len())]
    BadFields(Vec<ApiError>),
    #[error("missing or invalid token")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    /// A field the domain refused: 422.
    #[error("invalid field {}", .0.field)]
    Field(FieldError),
    /// A conflict with the state of things (points, stock, caps, closed
    /// months, keys, a record changed, a name taken): 409 with its code.
    #[error("conflict on {}", .1.field)]
    Conflict(Conflict, FieldError),
    /// A fixed message (by translation key) with its own status and code.
    #[error("{code}")]
    Plain {
        status: u16,
        code: &'static str,
        key: &'static str,
    },
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal: {0}")]
    Internal(String),
}

/// The error body.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable code: malformed, unauthorized, forbidden, not_found,
    /// invalid, insufficient_points, insufficient_stock, cap_reached,
    /// month_closed, idempotency_key_reused, conflict, too_many_attempts, ...
    pub code: String,
    /// For a person, in the language of Accept-Language (zh-CN by default).
    pub message: String,
    /// The JSON path of the value at fault, when there is one
    /// (`item_id`, `lines[1].quantity`, `household_ids[2]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// When the request had more than one fault: the others, after the
    /// first (above), in the order of the body.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<OtherError>,
}

/// A further fault of the same request (see [`ErrorDetail::others`]).
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct OtherError {
    /// The JSON path of the value at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For a person, in the language of Accept-Language.
    pub message: String,
    /// `invalid`, or a conflict's own code (`cap_reached`, ...).
    pub code: String,
}

/// The error code of a field error: a conflict's own code, else "invalid".
pub fn field_code(e: &FieldError) -> &'static str {
    e.conflict.map(Conflict::code).unwrap_or("invalid")
}

/// How one endpoint names its body's fields: a form field's translation
/// key ("field.item") and the JSON name of that endpoint's schema
/// ("item_id", or "lines[{n}]" for a line, `{n}` the error's 1-based
/// argument `n` made a 0-based index); an empty name when the fault is no
/// field of the body (a closed month of today's date). Each route of
/// `routes::table` has its own; a key not listed is its name without
/// "field.".
pub type FieldNames = &'static [(&'static str, &'static str)];

/// The JSON field an endpoint's error names, from the form field's key and
/// the error's arguments (see [`FieldNames`]).
pub fn json_field(
    names: FieldNames,
    field: &str,
    args: &[(&'static str, String)],
) -> Option<String> {
    let Some(&(_, name)) = names.iter().find(|(k, _)| *k == field) else {
        return Some(field.strip_prefix("field.").unwrap_or(field).to_string());
    };
    if name.is_empty() {
        return None;
    }
    if !name.contains("{n}") {
        return Some(name.to_string());
    }
    Some(
        match args
            .iter()
            .find(|(k, _)| *k == "n")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
        {
            Some(n) => name.replace("{n}", &(n - 1).to_string()),
            // No line named: the array itself.
            None => name.split('[').next().unwrap_or(name).to_string(),
        },
    )
}

/// The line (1-based) a body's path names (`lines[0].quantity` is line 1),
/// if it names one.
fn line_of(path: &str) -> Option<String> {
    let (_, rest) = path.split_once('[')?;
    let (index, _) = rest.split_once(']')?;
    index.parse::<usize>().ok().map(|i| (i + 1).to_string())
}

impl ApiError {
    pub fn plain(status: u16, code: &'static str, key: &'static str) -> ApiError {
        ApiError::Plain { status, code, key }
    }

    pub fn invalid(field: &'static str, key: &'static str) -> ApiError {
        ApiError::Field(FieldError::new(field, key))
    }

    /// The body, the fields named as `names` says (the endpoint's own); a
    /// refusal of several fields carries the rest in `others`.
    pub fn body(&self, lang: Lang, names: FieldNames) -> ErrorBody {
        if let ApiError::BadFields(all) = self
            && let Some((first, rest)) = all.split_first()
        {
            let mut body = first.body(lang, names);
            body.error.others = rest
                .iter()
                .map(|e| {
                    let ErrorDetail {
                        code,
                        message,
                        field,
                        ..
                    } = e.body(lang, names).error;
                    OtherError {
                        field,
                        message,
                        code,
                    }
                })
                .collect();
            return body;
        }
        let others = match self {
            ApiError::Field(e) | ApiError::Conflict(_, e) => e
                .others
                .iter()
                .map(|o| OtherError {
                    field: json_field(names, o.field, &o.args),
                    message: i18n::field_error(lang, o),
                    code: field_code(o).to_string(),
                })
                .collect(),
            _ => Vec::new(),
        };
        let (code, message, field) = match self {
            // What could not be read is not said back (serde's English).
            ApiError::Malformed(_) => ("malformed", i18n::t(lang, "api.malformed").into(), None),
            ApiError::BadField { field, key, args } => {
                let mut args = args.clone();
                args.push(("field", field.clone()));
                let message = i18n::tf(lang, key, &args);
                // A list's element (`lines[0].quantity`) is also said as
                // people count lines: "line 1".
                let message = match line_of(field) {
                    Some(n) => format!("{} {message}", i18n::tf(lang, "api.on_line", &[("n", n)])),
                    None => message,
                };
                ("invalid", message, Some(field.clone()))
            }
            ApiError::Unauthorized => (
                "unauthorized",
                i18n::t(lang, "api.unauthorized").into(),
                None,
            ),
            ApiError::Forbidden => ("forbidden", i18n::t(lang, "api.forbidden").into(), None),
            ApiError::NotFound => ("not_found", i18n::t(lang, "api.not_found").into(), None),
            ApiError::Field(e) => (
                "invalid",
                i18n::field_error(lang, e),
                json_field(names, e.field, &e.args),
            ),
            ApiError::Conflict(c, e) => (
                c.code(),
                i18n::field_error(lang, e),
                json_field(names, e.field, &e.args),
            ),
            ApiError::Plain { code, key, .. } => (*code, i18n::t(lang, key).into(), None),
            // None to say (an empty list): the body as unreadable.
            ApiError::BadFields(_) => ("malformed", i18n::t(lang, "api.malformed").into(), None),
            ApiError::Unavailable(_) => {
                ("unavailable", i18n::t(lang, "api.unavailable").into(), None)
            }
            ApiError::Internal(_) => ("internal", i18n::t(lang, "api.internal").into(), None),
        };
        ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message,
                field,
                others,
            },
        }
    }

    /// The response, its fields named as `names` says.
    pub fn response(&self, lang: Lang, names: FieldNames) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(self.body(lang, names))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        let code = match self {
            ApiError::Malformed(_) => 400,
            ApiError::BadField { .. } | ApiError::BadFields(_) => 422,
            ApiError::Unauthorized => 401,
            ApiError::Forbidden => 403,
            ApiError::NotFound => 404,
            ApiError::Conflict(..) => 409,
            ApiError::Field(_) => 422,
            ApiError::Plain { status, .. } => *status,
            ApiError::Unavailable(_) => 503,
            ApiError::Internal(_) => 500,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        self.response(Lang::default(), &[])
    }
}

impl From<FieldError> for ApiError {
    /// A conflict when the refusal was made as one (`FieldError::conflict`).
    fn from(e: FieldError) -> Self {
        match e.conflict {
            Some(c) => ApiError::Conflict(c, e),
            None => ApiError::Field(e),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError::Internal(e.to_string())
    }
}

/// Area errors reach the API through the one vocabulary the pages use too.
impl From<crate::error::Problem> for ApiError {
    fn from(p: crate::error::Problem) -> Self {
        use crate::error::Problem;
        match p {
            Problem::Invalid(f) => f.into(),
            Problem::Conflict(c, f) => ApiError::Conflict(c, f),
            Problem::NotFound => ApiError::NotFound,
            Problem::Forbidden => ApiError::Forbidden,
            Problem::Raced(why) => ApiError::Unavailable(why.into()),
            Problem::Db(d) => d.into(),
        }
    }
}

crate::from_problem!(ApiError);

impl crate::db::RetryableError for ApiError {
    fn is_retryable(&self) -> bool {
        // Domain errors reach here as text: a lost race is still a lost race.
        match self {
            ApiError::Unavailable(m) => m == RETRY || m == "raced",
            ApiError::Internal(m) => {
                m.contains("database is locked")
                    || m.contains("database table is locked")
                    || m.contains("deadlock detected")
                    || m.contains("could not serialize")
                    // Two first uses of one key: the loser retries and
                    // finds the winner's stored answer.
                    || m.contains("duplicate key value")
                    || m.contains("UNIQUE constraint failed")
            }
            _ => false,
        }
    }
}

/// The marker of a transaction that lost a race and should be retried.
pub const RETRY: &str = "retry";
