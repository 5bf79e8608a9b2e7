//! One error type for pages, mapped to a status and an error page. The page
//! itself is drawn by the middleware, which knows the language and request id.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};

use crate::areas::AreaError;
use crate::domain::FieldError;
use crate::goods::GoodsError;
use crate::stock::StockError;
use crate::stores::StoreError;
use crate::users::UserError;

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
    #[error("bad request: {0}")]
    BadRequest(String),
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
            AppError::BadRequest(_) | AppError::Invalid(_) => {
                ("error.bad_request_title", "error.bad_request_text")
            }
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
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
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
                    .insert_header((header::LOCATION, location))
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

macro_rules! from_area_error {
    ($t:ident) => {
        impl From<$t> for AppError {
            fn from(e: $t) -> Self {
                match e {
                    $t::Invalid(f) => AppError::Invalid(f),
                    $t::NotFound => AppError::NotFound,
                    $t::Db(d) => d.into(),
                }
            }
        }
    };
}

from_area_error!(UserError);

impl From<crate::redemptions::RedeemError> for AppError {
    fn from(e: crate::redemptions::RedeemError) -> Self {
        use crate::redemptions::RedeemError as R;
        match e {
            R::Invalid(f) => AppError::Invalid(f),
            R::NotFound => AppError::NotFound,
            R::Forbidden => AppError::Forbidden,
            R::Raced => AppError::Unavailable("raced".into()),
            R::Db(d) => d.into(),
        }
    }
}

impl From<crate::points::PointsError> for AppError {
    fn from(e: crate::points::PointsError) -> Self {
        use crate::points::PointsError as P;
        match e {
            P::Invalid(f) => AppError::Invalid(f),
            P::NotFound => AppError::NotFound,
            P::Forbidden => AppError::Forbidden,
            P::Db(d) => d.into(),
        }
    }
}

impl From<crate::households::HouseholdError> for AppError {
    fn from(e: crate::households::HouseholdError) -> Self {
        use crate::households::HouseholdError as H;
        match e {
            H::Invalid(f) => AppError::Invalid(f),
            H::NotFound => AppError::NotFound,
            H::Forbidden => AppError::Forbidden,
            H::Db(d) => d.into(),
        }
    }
}
from_area_error!(AreaError);

impl From<crate::reports::close::CloseError> for AppError {
    fn from(e: crate::reports::close::CloseError) -> Self {
        use crate::reports::close::CloseError;
        match e {
            CloseError::Invalid(f) => AppError::Invalid(f),
            CloseError::Db(d) => d.into(),
        }
    }
}
from_area_error!(StoreError);
from_area_error!(GoodsError);

impl From<StockError> for AppError {
    fn from(e: StockError) -> Self {
        match e {
            StockError::Invalid(f) => AppError::Invalid(f),
            StockError::NotFound => AppError::NotFound,
            StockError::Raced => {
                AppError::Unavailable("the same form was sent twice at once".into())
            }
            StockError::Db(d) => d.into(),
        }
    }
}

impl From<crate::auth::tokens::TokenError> for AppError {
    fn from(e: crate::auth::tokens::TokenError) -> Self {
        use crate::auth::tokens::TokenError as T;
        match e {
            T::Invalid(f) => AppError::Invalid(f),
            T::NotFound => AppError::NotFound,
            T::Db(d) => d.into(),
        }
    }
}
