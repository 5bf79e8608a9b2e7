//! What any operation's refusal comes to, whoever asked: the one vocabulary
//! the pages (`web::AppError`) and the API (`api::ApiError`) both translate
//! from. Areas whose refusals are only these use `Problem` itself (users,
//! areas, stores, goods, tokens, month close); an area with more to say
//! keeps its own enum, which maps here once.

use crate::domain::ids::RecordId;
use crate::domain::{Conflict, FieldError};

/// A refusal or failure as the layers above see it.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// A field that does not parse: 422, a message beside the field.
    #[error("invalid field {}", .0.field)]
    Invalid(FieldError),
    /// A conflict with the state of things (points, stock, a cap, a closed
    /// month, a key used for something else, a record changed or a name
    /// taken): 409 in the API with the conflict's code, the message beside
    /// its field on a page.
    #[error("conflict on {}", .1.field)]
    Conflict(Conflict, FieldError),
    #[error("not found")]
    NotFound,
    /// The role may not act, or the object lies outside the actor's scope.
    #[error("forbidden")]
    Forbidden,
    /// The transaction lost a race and may be tried again (the text says
    /// which race, for the log).
    #[error("raced: {0}")]
    Raced(&'static str),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// The record id in a path: text that is not a well-formed id names no
/// record, so the answer is 404 and no query runs with it.
///
/// Errors: `Problem::NotFound` for text that is not an id of this kind.
pub fn path_id<T: RecordId>(text: &str) -> Result<T, Problem> {
    T::parse_id(text).ok_or(Problem::NotFound)
}

impl From<FieldError> for Problem {
    /// A conflict when the refusal was made as one (`FieldError::conflict`).
    fn from(e: FieldError) -> Self {
        match e.conflict {
            Some(c) => Problem::Conflict(c, e),
            None => Problem::Invalid(e),
        }
    }
}

impl From<crate::auth::Forbidden> for Problem {
    fn from(_: crate::auth::Forbidden) -> Self {
        Problem::Forbidden
    }
}

impl crate::db::RetryableError for Problem {
    fn is_retryable(&self) -> bool {
        match self {
            Problem::Raced(_) => true,
            Problem::Db(e) => e.is_retryable(),
            _ => false,
        }
    }
}

/// Map an area's error enum, whose variants are a subset of `Invalid`,
/// `NotFound`, `Forbidden`, `Raced` and `Db`, onto `Problem` (a field
/// error made as a conflict becomes `Problem::Conflict`).
macro_rules! to_problem {
    ($t:ty { $($variant:ident $(($bind:ident))? => $out:expr),* $(,)? }) => {
        impl From<$t> for Problem {
            fn from(e: $t) -> Self {
                #[allow(unused_imports)]
                use Problem::*;
                type E = $t;
                match e {
                    $(E::$variant $(($bind))? => $out,)*
                }
            }
        }
    };
}

to_problem!(crate::reports::scoped::ReportError { Invalid(f) => f.into(), Forbidden => Forbidden, Db(d) => Db(d) });
to_problem!(crate::signals::SignalsError {
    Invalid(f) => f.into(), NotFound => NotFound, Forbidden => Forbidden, Db(d) => Db(d)
});
to_problem!(crate::households::HouseholdError {
    Invalid(f) => f.into(), NotFound => NotFound, Forbidden => Forbidden, Db(d) => Db(d)
});
to_problem!(crate::points::PointsError {
    Invalid(f) => f.into(), NotFound => NotFound, Forbidden => Forbidden, Db(d) => Db(d)
});
to_problem!(crate::redemptions::RedeemError {
    Invalid(f) => f.into(), NotFound => NotFound, Forbidden => Forbidden,
    Raced => Raced("raced"), Db(d) => Db(d)
});
to_problem!(crate::stock::StockError {
    Invalid(f) => f.into(), NotFound => NotFound, Forbidden => Forbidden,
    Raced => Raced("the same form was sent twice at once"), Db(d) => Db(d)
});

/// Give a layer's error type `From` every area error, through `Problem`.
#[macro_export]
macro_rules! from_problem {
    ($target:ty) => {
        $crate::from_problem!($target:
            $crate::reports::scoped::ReportError,
            $crate::households::HouseholdError,
            $crate::points::PointsError,
            $crate::redemptions::RedeemError,
            $crate::stock::StockError,
            $crate::signals::SignalsError,
            $crate::auth::Forbidden
        );
    };
    ($target:ty: $($t:ty),*) => {$(
        impl From<$t> for $target {
            fn from(e: $t) -> Self {
                <$target>::from($crate::error::Problem::from(e))
            }
        }
    )*};
}
