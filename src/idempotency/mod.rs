//! Exactly-once forms. A form that moves goods or points carries a key the
//! server issued when it drew the form; the first use stores the key with its
//! result under a UNIQUE constraint, in the same transaction as the work. A
//! replay gets the first result back and changes nothing; the same key with
//! different content is refused.
//!
//! Use inside one write transaction:
//! ```text
//! if let Some(done) = idempotency::lookup(c, &key, SCOPE, user, &fingerprint)? { return Ok(replay(done)) }
//! ... the work ...
//! idempotency::store(c, &key, SCOPE, user, &fingerprint, &result)?;
//! ```
//! Two first uses racing on PostgreSQL: the second's `store` waits for the
//! first to commit and then fails as a unique violation; `Error::Raced` is
//! retryable, and the retry finds the stored result.

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::schema::idempotency_keys;
use crate::db::{self, DbConn};
use crate::domain::FieldError;

/// A key as issued: 32 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdemKey(String);

impl IdemKey {
    /// A fresh key for a form being drawn.
    pub fn issue() -> IdemKey {
        IdemKey(uuid::Uuid::new_v4().simple().to_string())
    }

    /// The key a form sent back. A missing or malformed key means the form
    /// did not come from us (or is very old): ask for a fresh one.
    pub fn parse(s: &str) -> Result<IdemKey, FieldError> {
        let s = s.trim();
        if s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(IdemKey(s.to_string()))
        } else {
            Err(FieldError::new("field.form", "error.form_key"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for IdemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A short fingerprint of what a form asked for, to tell a true replay from a
/// key reused for something else.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.len().to_string().as_bytes());
        h.update(b":");
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key was used for a different request (another form, user or content).
    #[error("idempotency key reused for a different request")]
    Reused(FieldError),
    /// Another transaction stored the same key first; retry to read its result.
    #[error("idempotency key stored concurrently")]
    Raced,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// The stored result of an earlier use of `key`, if any.
pub fn lookup(
    conn: &mut DbConn,
    key: &IdemKey,
    scope: &str,
    user_id: &str,
    request_hash: &str,
) -> Result<Option<String>, Error> {
    let found: Option<(String, String, String, String)> = idempotency_keys::table
        .find(key.as_str())
        .select((
            idempotency_keys::scope,
            idempotency_keys::user_id,
            idempotency_keys::request_hash,
            idempotency_keys::result,
        ))
        .first(conn)
        .optional()?;
    match found {
        None => Ok(None),
        Some((s, u, h, result)) if s == scope && u == user_id && h == request_hash => {
            Ok(Some(result))
        }
        Some(_) => Err(Error::Reused(FieldError::new(
            "field.form",
            "error.form_key_reused",
        ))),
    }
}

/// Record the first use of `key` with its result (e.g. the id of what it made).
pub fn store(
    conn: &mut DbConn,
    key: &IdemKey,
    scope: &str,
    user_id: &str,
    request_hash: &str,
    result: &str,
) -> Result<(), Error> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::key.eq(key.as_str()),
            idempotency_keys::scope.eq(scope),
            idempotency_keys::user_id.eq(user_id),
            idempotency_keys::request_hash.eq(request_hash),
            idempotency_keys::result.eq(result),
            idempotency_keys::created_at.eq(db::now()),
        ))
        .execute(conn)
        .map_err(|e| {
            if db::is_unique_violation(&e) {
                Error::Raced
            } else {
                Error::Db(e)
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_issued_and_parsed() {
        let k = IdemKey::issue();
        assert_eq!(IdemKey::parse(k.as_str()).unwrap(), k);
        assert!(IdemKey::parse("").is_err());
        assert!(IdemKey::parse("'; drop table x; --").is_err());
        assert_ne!(fingerprint(&["a", "bc"]), fingerprint(&["ab", "c"]));
    }
}
