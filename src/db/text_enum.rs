//! Statuses and kinds: Rust enums stored as text. The stored words never
//! change (they are in every database already); a word the enum does not
//! know is an error when the row is read, never a guess.

/// A stored word that names no value of the enum it was read as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what}: {text:?}")]
pub struct UnknownText {
    /// The enum's name, e.g. `AwardStatus`.
    pub what: &'static str,
    pub text: String,
}

/// An enum stored as text in both databases: `as_str()` gives the stored
/// word, `parse()` reads one back (an [`UnknownText`] for any other word),
/// and diesel reads and writes it directly in a `Text` column.
///
/// ```text
/// text_enum! {
///     /// Where an award stands.
///     pub enum AwardStatus { Pending = "pending", Approved = "approved" }
/// }
/// ```
#[macro_export]
macro_rules! text_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident {
        $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)?
    }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, diesel::AsExpression, diesel::FromSqlRow)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        $vis enum $name {
            $($(#[$vm])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word stored in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value a stored word names.
            ///
            /// Errors: [`UnknownText`]($crate::db::text_enum::UnknownText)
            /// for any other word.
            pub fn parse(s: &str) -> Result<$name, $crate::db::text_enum::UnknownText> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::db::text_enum::UnknownText {
                        what: stringify!($name),
                        text: other.to_string(),
                    }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// A value equals its stored word (for reading rows in tests and
        /// checks against raw SQL results).
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(self.as_str(), out)
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let s = <String as diesel::deserialize::FromSql<diesel::sql_types::Text, DB>>::from_sql(bytes)?;
                Ok($name::parse(&s)?)
            }
        }
    };
}
