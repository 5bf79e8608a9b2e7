//! Record ids, parsed once at the edge. A household, a store, an item of
//! goods and an award each have their own id type, so one cannot be passed
//! where another is meant.
//!
//! An id is the text of a UUID in its canonical form (lowercase hex,
//! hyphenated), as new ids are made; any other text names no record, so a
//! path answers 404 and a form names its field, and no query ever runs with
//! it. What the database already holds is taken as it is
//! ([`HouseholdId::from_stored`] and its twins): the database reads and
//! writes these types as text (`db::ids`). They serialize as plain strings
//! and render as their text.

use std::fmt;

use super::FieldError;

/// True when `s` is a UUID's canonical text: 36 characters, lowercase hex
/// with hyphens after the 8th, 12th, 16th and 20th digit.
fn well_formed(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

/// Whether `s` is the text of a record id (a UUID's canonical form), of
/// any kind: what a page filter's id field must hold.
pub fn is_id(s: &str) -> bool {
    well_formed(s)
}

/// What every record id can do: be parsed from text (see [`HouseholdId::parse`]).
pub trait RecordId: Sized {
    /// The id `s` names, if it is a well-formed id.
    fn parse_id(s: &str) -> Option<Self>;
}

/// The id a form's field names: its text trimmed, required, and text that
/// is not an id refused as an unknown record is (`unknown`, the message
/// key for one), so nothing tells a malformed id from a missing record.
///
/// Errors: `field` / `error.required` when empty; `field` / `unknown`
/// for text that is not an id.
pub fn form_id<T: RecordId>(
    field: &'static str,
    text: &str,
    unknown: &'static str,
) -> Result<T, FieldError> {
    match text.trim() {
        "" => Err(FieldError::new(field, "error.required")),
        t => T::parse_id(t).ok_or_else(|| FieldError::new(field, unknown)),
    }
}

macro_rules! record_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The id `s` names, if it is a well-formed id; `None` for any
            /// other text (no record has it).
            pub fn parse(s: &str) -> Option<$name> {
                well_formed(s).then(|| $name(s.to_owned()))
            }

            /// A new, time-ordered id.
            #[allow(clippy::new_without_default)]
            pub fn new() -> $name {
                $name(uuid::Uuid::now_v7().to_string())
            }

            /// An id as the database holds it, read back without checking
            /// its form (it was checked, or made, when it was written).
            pub fn from_stored(s: String) -> $name {
                $name(s)
            }

            /// The id's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id's text, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl RecordId for $name {
            fn parse_id(s: &str) -> Option<$name> {
                $name::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        /// Reads as its text wherever text is wanted (an audit row's
        /// target, a URL, a ledger account's name).
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        /// Reads only a well-formed id: anything else is an error of the
        /// value, never a record looked up.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                $name::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(concat!("not a well-formed ", stringify!($name)))
                })
            }
        }
    };
}

record_id! {
    /// A household's id (农户).
    HouseholdId
}

record_id! {
    /// A store's id (爱心超市).
    StoreId
}

record_id! {
    /// An item of goods' id (物资), the `items` table.
    ItemId
}

record_id! {
    /// An award's id (积分申报).
    AwardId
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_uuid_text_is_an_id() {
        let made = HouseholdId::new();
        assert_eq!(HouseholdId::parse(made.as_str()), Some(made.clone()));
        assert!(HouseholdId::parse("0192f7a0-1b2c-7d3e-8f40-5a6b7c8d9e0f").is_some());
        for bad in [
            "",
            "nope",
            "0192F7A0-1B2C-7D3E-8F40-5A6B7C8D9E0F",
            " 0192f7a0-1b2c-7d3e-8f40-5a6b7c8d9e0f",
            "0192f7a0-1b2c-7d3e-8f40-5a6b7c8d9e0",
            "0192f7a01b2c7d3e8f405a6b7c8d9e0f0000",
            "0192f7a0-1b2c-7d3e-8f40-5a6b7c8d9e0g",
            "０192f7a0-1b2c-7d3e-8f40-5a6b7c8d9e",
            "' OR 1=1 --",
        ] {
            assert_eq!(HouseholdId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn an_id_is_a_plain_string_in_json() {
        let id = StoreId::parse("0192f7a0-1b2c-7d3e-8f40-5a6b7c8d9e0f").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"0192f7a0-1b2c-7d3e-8f40-5a6b7c8d9e0f\"");
        assert_eq!(serde_json::from_str::<StoreId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<StoreId>("\"nope\"").is_err());
    }
}
