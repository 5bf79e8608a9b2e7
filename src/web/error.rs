//! One error type for pages, mapped to a status and an error page. The page
//! itself is drawn by the middleware, which knows the language and request id.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};

use crate::domain::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Not logged in: go to the login page, then come back.
    #[error("login required")]
    LoginRequired { next: String },
    /// Logged in with a generated password that must be changed first.
    #[error("password change required")]
    PasswordChangeRequired,
    #[error("forbidden")]
    Forbidden,
    #[error("CSRF token missing or wrong")]
    Csrf,
    #[error("not found")]
    NotFound,
    /// A known address asked with a method it does not take; `allow` lists
    /// the ones it does (the `Allow` header).
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A form larger than the server takes (`limit` bytes): answered with
    /// a page naming the limit and a way back, never the generic refusal.
    #[error("form too large (limit {limit} bytes)")]
    TooLarge { limit: usize },
    #[error("invalid field {}", .0.field)]
    Invalid(FieldError),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn internal(e: impl std::fmt::Display) -> AppError {
        AppError::Internal(e.to_string())
    }

    /// Translation key of the error page's heading and text.
    pub fn page_keys(&self) -> (&'static str, &'static str) {
        match self {
            AppError::Forbidden => ("error.forbidden_title", "error.forbidden_text"),
            AppError::Csrf => ("error.forbidden_title", "error.csrf_text"),
            AppError::NotFound => ("error.not_found_title", "error.not_found_text"),
            AppError::MethodNotAllowed { .. } => ("error.method_title", "error.method_text"),
            AppError::BadRequest(_) | AppError::Invalid(_) => {
                ("error.bad_request_title", "error.bad_request_text")
            }
            AppError::TooLarge { .. } => ("error.too_large_title", "error.too_large_text"),
            AppError::Unavailable(_) => ("error.unavailable_title", "error.unavailable_text"),
            _ => ("error.internal_title", "error.internal_text"),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::LoginRequired { .. } | AppError::PasswordChangeRequired => {
                StatusCode::SEE_OTHER
            }
            AppError::Forbidden | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::LoginRequired { next } => {
                let location = if next == "/" || next.is_empty() {
                    "/login".to_string()
                } else {
                    format!("/login?next={}", urlencode(next))
                };
                HttpResponse::SeeOther()
                    .insert_header((
                        header::LOCATION,
                        super::middleware::sane_location(&location),
                    ))
                    .finish()
            }
            AppError::PasswordChangeRequired => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/password"))
                .finish(),
            // The middleware replaces this body with the error page.
            other => HttpResponse::build(other.status_code()).finish(),
        }
    }
}

pub fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|x| x.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<FieldError> for AppError {
    fn from(e: FieldError) -> Self {
        AppError::Invalid(e)
    }
}

impl From<crate::error::Problem> for AppError {
    fn from(p: crate::error::Problem) -> Self {
        use crate::error::Problem;
        match p {
            Problem::Invalid(f) | Problem::Conflict(_, f) => AppError::Invalid(f),
            Problem::NotFound => AppError::NotFound,
            Problem::Forbidden => AppError::Forbidden,
            Problem::Raced(why) => AppError::Unavailable(why.into()),
            Problem::Db(d) => d.into(),
        }
    }
}

crate::from_problem!(AppError);
