//! Exactly-once API writes, the API's edge of the one exactly-once
//! mechanism (`crate::idempotency`). A POST that moves points or goods
//! carries an `Idempotency-Key` header; the first response is stored with
//! the key (per caller), and a fingerprint of the request (method, path,
//! and the body's meaning: `idempotency::canonical_json`), in the same
//! table and the same transaction as the work. A replay gets the first
//! response back and changes nothing, whatever the order of its keys, its
//! white space, a `null` for an absent member or full-width digits in a
//! card number; the same key with another request is refused with 409
//! `idempotency_key_reused`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use super::error::{ApiError, RETRY};
use crate::db::{self, DbConn};
use crate::idempotency::{self as once_only, API_SCOPE, IdemKey};

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
        h.update(once_only::canonical_json(body));
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

    /// As kept in the one table: `<status> <body>`.
    fn encode(&self) -> String {
        format!("{} {}", self.status, self.body)
    }

    fn decode(stored: &str) -> Result<Stored, ApiError> {
        let (status, body) = stored
            .split_once(' ')
            .and_then(|(s, b)| Some((s.parse().ok()?, b)))
            .ok_or_else(|| ApiError::Internal(format!("stored answer unreadable: {stored:.40}")))?;
        Ok(Stored {
            status,
            body: body.to_string(),
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
    let stored_key = IdemKey::api(user_id, &key.key);
    let refused = |e: once_only::Error| match e {
        once_only::Error::Reused(f) => f.into(),
        // Another request with this key committed first: retrying finds
        // its response.
        once_only::Error::Raced => ApiError::Unavailable(RETRY.into()),
        once_only::Error::Db(e) => e.into(),
    };
    db::write_tx(conn, |c| {
        let found = once_only::lookup(c, &stored_key, API_SCOPE, user_id, &key.fingerprint)
            .map_err(refused)?;
        if let Some(stored) = found {
            return Ok((Stored::decode(&stored)?, true));
        }
        let done = work(c)?;
        once_only::store(
            c,
            &stored_key,
            API_SCOPE,
            user_id,
            &key.fingerprint,
            &done.encode(),
        )
        .map_err(refused)?;
        Ok((done, false))
    })
}

/// How long a stored answer is replayed (see `idempotency::API_KEEP_DAYS`).
pub const KEEP_DAYS: i64 = once_only::API_KEEP_DAYS;

/// Forget stored answers older than `cut` (housekeeping).
pub fn purge_older_than(c: &mut DbConn, cut: chrono::NaiveDateTime) -> diesel::QueryResult<usize> {
    once_only::purge_api_older_than(c, cut)
}
