//! What any operation's refusal comes to, whoever asked: the one vocabulary
//! the pages (`web::AppError`) and the API (`api::ApiError`) both translate
//! from. Each area keeps its own error type; each maps here once.

use crate::domain::FieldError;

/// A refusal or failure as the layers above see it.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// A field that does not parse, or a conflict with the state of things
    /// (its key says which): 422 or 409, a message beside the field.
    #[error("invalid field {}", .0.field)]
    Invalid(FieldError),
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

impl From<FieldError> for Problem {
    fn from(e: FieldError) -> Self {
        Problem::Invalid(e)
    }
}

impl From<crate::auth::Forbidden> for Problem {
    fn from(_: crate::auth::Forbidden) -> Self {
        Problem::Forbidden
    }
}

/// Map an area's error enum, whose variants are a subset of `Invalid`,
/// `NotFound`, `Forbidden`, `Raced` and `Db`, onto `Problem`.
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

to_problem!(crate::users::UserError { Invalid(f) => Invalid(f), NotFound => NotFound, Db(d) => Db(d) });
to_problem!(crate::areas::AreaError { Invalid(f) => Invalid(f), NotFound => NotFound, Db(d) => Db(d) });
to_problem!(crate::goods::GoodsError { Invalid(f) => Invalid(f), NotFound => NotFound, Db(d) => Db(d) });
to_problem!(crate::auth::tokens::TokenError { Invalid(f) => Invalid(f), NotFound => NotFound, Db(d) => Db(d) });
to_problem!(crate::reports::close::CloseError { Invalid(f) => Invalid(f), Db(d) => Db(d) });
to_problem!(crate::reports::scoped::ReportError { Invalid(f) => Invalid(f), Forbidden => Forbidden, Db(d) => Db(d) });
to_problem!(crate::signals::SignalsError {
    Invalid(f) => Invalid(f), NotFound => NotFound, Forbidden => Forbidden, Db(d) => Db(d)
});
to_problem!(crate::stores::StoreError {
    Invalid(f) => Invalid(f), NotFound => NotFound, Forbidden => Forbidden, Db(d) => Db(d)
});
to_problem!(crate::households::HouseholdError {
    Invalid(f) => Invalid(f), NotFound => NotFound, Forbidden => Forbidden, Db(d) => Db(d)
});
to_problem!(crate::points::PointsError {
    Invalid(f) => Invalid(f), NotFound => NotFound, Forbidden => Forbidden, Db(d) => Db(d)
});
to_problem!(crate::redemptions::RedeemError {
    Invalid(f) => Invalid(f), NotFound => NotFound, Forbidden => Forbidden,
    Raced => Raced("raced"), Db(d) => Db(d)
});
to_problem!(crate::stock::StockError {
    Invalid(f) => Invalid(f), NotFound => NotFound,
    Raced => Raced("the same form was sent twice at once"), Db(d) => Db(d)
});

/// Give a layer's error type `From` every area error, through `Problem`.
#[macro_export]
macro_rules! from_problem {
    ($target:ty) => {
        $crate::from_problem!($target:
            $crate::users::UserError,
            $crate::areas::AreaError,
            $crate::goods::GoodsError,
            $crate::auth::tokens::TokenError,
            $crate::reports::close::CloseError,
            $crate::reports::scoped::ReportError,
            $crate::stores::StoreError,
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
