//! Exactly-once API writes. A POST that moves points or goods carries an
//! `Idempotency-Key` header; the first response is stored with the key, the
//! caller and a fingerprint of the request (method, path, and the body's
//! meaning: its JSON in canonical form) under a UNIQUE constraint, in the
//! same transaction as the work. A replay gets the first response back and
//! changes nothing, whatever the order of its keys or its white space; the
//! same key with another request is refused with 409
//! `idempotency_key_reused`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::error::{ApiError, RETRY};
use crate::db::schema::api_idempotency as idem;
use crate::db::{self, DbConn};
use crate::domain::FieldError;

pub const HEADER: &str = "Idempotency-Key";

/// The key as sent: 1 to 64 letters, digits, '-' or '_'.
#[derive(Debug, Clone)]
pub struct Key {
    key: String,
    fingerprint: String,
}

impl Key {
    /// The request's key and fingerprint; a missing or malformed key is a 400.
    pub fn of(req: &HttpRequest, body: &[u8]) -> Result<Key, ApiError> {
        let key = req
            .headers()
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .unwrap_or("");
        let ok = !key.is_empty()
            && key.len() <= 64
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(ApiError::plain(
                400,
                "idempotency_key_required",
                "api.idempotency_key_required",
            ));
        }
        let mut h = Sha256::new();
        h.update(req.method().as_str().as_bytes());
        h.update(b" ");
        h.update(req.path().as_bytes());
        h.update(b"\n");
        h.update(canonical_body(body));
        Ok(Key {
            key: key.to_string(),
            fingerprint: hex::encode(h.finalize()),
        })
    }

    /// A key for the domain's own exactly-once columns (at most 64 chars),
    /// distinct per user and per key.
    pub fn domain_key(&self, user_id: &str) -> String {
        let mut h = Sha256::new();
        h.update(user_id.as_bytes());
        h.update(b"\n");
        h.update(self.key.as_bytes());
        hex::encode(&h.finalize()[..16])
    }
}

/// A request body as its meaning: JSON with every object's keys sorted and
/// no white space between tokens; a body that is not JSON is taken as its
/// bytes.
pub fn canonical_body(body: &[u8]) -> Vec<u8> {
    fn write(v: &serde_json::Value, out: &mut String) {
        use serde_json::Value;
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
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

/// A stored or fresh response: status and JSON body.
pub struct Stored {
    pub status: u16,
    pub body: String,
}

impl Stored {
    pub fn json(status: u16, value: &impl serde::Serialize) -> Result<Stored, ApiError> {
        Ok(Stored {
            status,
            body: serde_json::to_string(value).map_err(|e| ApiError::Internal(e.to_string()))?,
        })
    }

    pub fn response(self, replayed: bool) -> HttpResponse {
        let mut r =
            HttpResponse::build(StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK));
        r.content_type("application/json");
        if replayed {
            r.insert_header(("Idempotent-Replayed", "true"));
        }
        r.body(self.body)
    }
}

/// Run `work` once per key, in one write transaction with the stored
/// response. Returns the response and whether it was a replay.
pub fn once(
    conn: &mut DbConn,
    user_id: &str,
    key: &Key,
    mut work: impl FnMut(&mut DbConn) -> Result<Stored, ApiError>,
) -> Result<(Stored, bool), ApiError> {
    db::write_tx(conn, |c| {
        let found: Option<(String, i64, String)> = idem::table
            .find((user_id, key.key.as_str()))
            .select((idem::fingerprint, idem::status, idem::body))
            .first(c)
            .optional()?;
        if let Some((fingerprint, status, body)) = found {
            if fingerprint != key.fingerprint {
                return Err(FieldError::new("field.form", "error.form_key_reused").into());
            }
            return Ok((
                Stored {
                    status: status as u16,
                    body,
                },
                true,
            ));
        }
        let done = work(c)?;
        diesel::insert_into(idem::table)
            .values((
                idem::user_id.eq(user_id),
                idem::key.eq(&key.key),
                idem::fingerprint.eq(&key.fingerprint),
                idem::status.eq(done.status as i64),
                idem::body.eq(&done.body),
                idem::created_at.eq(db::now()),
            ))
            .execute(c)
            .map_err(|e| {
                if db::is_unique_violation(&e) {
                    // Another request with this key committed first: retrying
                    // finds its response.
                    ApiError::Unavailable(RETRY.into())
                } else {
                    e.into()
                }
            })?;
        Ok((done, false))
    })
}

/// How long a stored answer is replayed. After that a replay is answered
/// afresh, and the work still happens once: what a write creates carries
/// the key in its own table (`Key::domain_key`), and a review or a void
/// changes only what is still pending or completed, so a late replay gets
/// the record made the first time, or is refused.
pub const KEEP_DAYS: i64 = 30;

/// Forget stored answers older than `cut` (housekeeping).
pub fn purge_older_than(c: &mut DbConn, cut: chrono::NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(idem::table.filter(idem::created_at.lt(cut))).execute(c)
}

#[cfg(test)]
mod tests {
    use super::canonical_body;

    #[test]
    fn the_same_meaning_is_the_same_body() {
        let a = br#"{"household_id":"h1","lines":[{"item_id":"i","quantity":2}],"store_id":"s"}"#;
        let b = br#"{ "store_id" : "s",
            "lines": [ { "quantity": 2, "item_id": "i" } ], "household_id": "h1" }"#;
        assert_eq!(canonical_body(a), canonical_body(b));
        let c = br#"{"household_id":"h1","lines":[{"item_id":"i","quantity":3}],"store_id":"s"}"#;
        assert_ne!(canonical_body(a), canonical_body(c));
        // Order inside an array is meaning, and so is a string's content.
        assert_ne!(canonical_body(br#"[1,2]"#), canonical_body(br#"[2,1]"#));
        assert_eq!(canonical_body(b"not json"), b"not json".to_vec());
    }
}
