//! The record ids of `domain::ids` in diesel queries, on both backends: each
//! is read and written as `Text`. The types themselves stay free of the
//! database (`domain/` knows neither diesel nor actix); their diesel impls
//! live here, beside the connection.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use diesel::{AsExpression, FromSqlRow};

use crate::domain::ids::{AwardId, HouseholdId, ItemId, StoreId};

macro_rules! text_id {
    ($name:ident, $proxy:ident) => {
        // Derives `AsExpression` and `FromSqlRow` for the id type itself
        // (diesel's `foreign_derive`): the proxy is never built.
        #[derive(AsExpression, FromSqlRow)]
        #[diesel(foreign_derive)]
        #[diesel(sql_type = Text)]
        #[allow(dead_code)]
        struct $proxy($name);

        impl<DB> ToSql<Text, DB> for $name
        where
            DB: Backend,
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                <str as ToSql<Text, DB>>::to_sql(self.as_str(), out)
            }
        }

        impl<DB> FromSql<Text, DB> for $name
        where
            DB: Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                Ok($name::from_stored(<String as FromSql<Text, DB>>::from_sql(
                    bytes,
                )?))
            }
        }
    };
}

text_id!(HouseholdId, HouseholdIdProxy);
text_id!(StoreId, StoreIdProxy);
text_id!(ItemId, ItemIdProxy);
text_id!(AwardId, AwardIdProxy);
