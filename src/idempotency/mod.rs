//! Exactly once, for page forms and API writes alike: one table, one
//! pattern. A form that moves goods or points carries a key the server
//! issued when it drew the form; an API write carries the caller's
//! `Idempotency-Key` header (stored as [`IdemKey::api`], per user). The
//! first use stores the key with its result under a UNIQUE constraint, in
//! the same transaction as the work. A replay gets the first result back
//! and changes nothing; the same key with different content is refused.
//! What "the same content" means is a fingerprint: of the form's parsed
//! fields ([`fingerprint`]), or of the API body's meaning
//! ([`canonical_json`]).
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

    /// The stored key of an API write: the caller's `Idempotency-Key`
    /// (already checked as 1 to 64 of `A-Za-z0-9_-`) for one user, so two
    /// users' keys never meet. It cannot be mistaken for a form's key.
    pub fn api(user_id: &str, client_key: &str) -> IdemKey {
        IdemKey(format!("{API_SCOPE}:{user_id}:{client_key}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The scope of every API write's key.
pub const API_SCOPE: &str = "api";

/// How long an API write's stored answer is replayed. After that a replay
/// is answered afresh, and the work still happens once: what a write
/// creates carries the key in its own table, and a review or a void
/// changes only what is still pending or completed, so a late replay gets
/// the record made the first time, or is refused. (A form's key is kept:
/// a form is drawn with a fresh one.)
pub const API_KEEP_DAYS: i64 = 30;

/// Forget API writes' answers stored before `cut` (housekeeping). Returns
/// how many were forgotten.
pub fn purge_api_older_than(conn: &mut DbConn, cut: chrono::NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::scope.eq(API_SCOPE))
            .filter(idempotency_keys::created_at.lt(cut)),
    )
    .execute(conn)
}

/// A JSON request body as its meaning, for an API write's fingerprint:
/// every object's keys sorted, a member whose value is `null` dropped (it
/// means the same as an absent one), every string made plain as the
/// operations make it before parsing ([`normalize`]: full-width forms to
/// ASCII, invisible characters and surrounding spaces gone), no white space
/// between tokens. A body that is not JSON is taken as its bytes.
///
/// [`normalize`]: crate::domain::input::normalize
pub fn canonical_json(body: &[u8]) -> Vec<u8> {
    fn write(v: &serde_json::Value, out: &mut String) {
        use serde_json::Value;
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map
                    .iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, _)| k)
                    .collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(&map[k], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            Value::String(s) => {
                out.push_str(&Value::String(crate::domain::input::normalize(s)).to_string())
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => {
            let mut out = String::with_capacity(body.len());
            write(&v, &mut out);
            out.into_bytes()
        }
        Err(_) => body.to_vec(),
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
        Some(_) => Err(Error::Reused(FieldError::conflict(
            "field.form",
            "error.form_key_reused",
            crate::domain::Conflict::KeyReused,
        ))),
    }
}

/// The one rule for a form whose operation keeps its key on the record it
/// makes (a redemption, an award, a batch of awards, an adjustment) and
/// finds its replay there: the first use of `key` records what the form
/// meant (`fingerprint`, in `scope`, for `user_id`); a later use with the
/// same meaning passes, so the operation replays its first result; a later
/// use with another meaning (another basket, another household, another
/// amount), scope or user is refused with `Error::Reused` (a conflict on
/// `field.form`, `error.form_key_reused`), as an API write's reused
/// `Idempotency-Key` is. Call it first inside the operation's write
/// transaction: a refused operation rolls the record of its key back.
///
/// A key first used before its meaning was recorded is taken as it comes
/// (the record made then is replayed).
pub fn hold_meaning(
    conn: &mut DbConn,
    key: &str,
    scope: &str,
    user_id: &str,
    fingerprint: &str,
) -> Result<(), Error> {
    let key = IdemKey(key.to_string());
    if lookup(conn, &key, scope, user_id, fingerprint)?.is_none() {
        store(conn, &key, scope, user_id, fingerprint, "")?;
    }
    Ok(())
}

/// `Error::Raced` as a database error that the write retry loop retries,
/// for areas whose error has no variant of its own for it.
pub fn raced_as_db() -> diesel::result::Error {
    diesel::result::Error::DatabaseError(
        diesel::result::DatabaseErrorKind::SerializationFailure,
        Box::new("idempotency key stored concurrently".to_string()),
    )
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
        // An API key is per user and never looks like a form's key.
        let api = IdemKey::api("u1", "scan-42");
        assert_ne!(api, IdemKey::api("u2", "scan-42"));
        assert!(IdemKey::parse(api.as_str()).is_err());
    }

    #[test]
    fn the_same_meaning_is_the_same_body() {
        let a = br#"{"household_id":"h1","lines":[{"item_id":"i","quantity":2}],"store_id":"s"}"#;
        let b = br#"{ "store_id" : "s",
            "lines": [ { "quantity": 2, "item_id": "i" } ], "household_id": "h1" }"#;
        assert_eq!(canonical_json(a), canonical_json(b));
        let c = br#"{"household_id":"h1","lines":[{"item_id":"i","quantity":3}],"store_id":"s"}"#;
        assert_ne!(canonical_json(a), canonical_json(c));
        // Order inside an array is meaning, and so is a string's content.
        assert_ne!(canonical_json(br#"[1,2]"#), canonical_json(br#"[2,1]"#));
        assert_ne!(
            canonical_json(br#"{"a":"x"}"#),
            canonical_json(br#"{"a":"y"}"#)
        );
        assert_eq!(canonical_json(b"not json"), b"not json".to_vec());
        // null is absent; a full-width card number is its ASCII form.
        assert_eq!(
            canonical_json(br#"{"card_no":"AX0001","household_id":null}"#),
            canonical_json("{\"card_no\": \"ＡＸ０００１\"}".as_bytes())
        );
        assert_ne!(
            canonical_json(br#"{"household_id":null}"#),
            canonical_json(br#"{"household_id":"h1"}"#)
        );
    }
}
