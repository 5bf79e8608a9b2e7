//! Server-side sessions. The browser holds a random token; the table holds its
//! SHA-256, so a copy of the database does not hand out live sessions.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::db::DbConn;
use crate::db::schema::{sessions, users};
use crate::users::User;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub csrf_token: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
}

/// 32 random bytes, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Open a session; returns the token for the cookie.
pub fn create(
    conn: &mut DbConn,
    user_id: &str,
    ip: &str,
    user_agent: &str,
    now: NaiveDateTime,
) -> QueryResult<String> {
    let token = random_token();
    let ua: String = user_agent.chars().take(200).collect();
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(token_hash(&token)),
            sessions::user_id.eq(user_id),
            sessions::csrf_token.eq(random_token()),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
            sessions::ip.eq(ip),
            sessions::user_agent.eq(ua),
        ))
        .execute(conn)?;
    Ok(token)
}

/// The live session for a cookie token and its user, touching `last_seen_at`
/// at most once a minute. Expired sessions are deleted on sight.
pub fn load(
    conn: &mut DbConn,
    config: &Config,
    token: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<(Session, User)>> {
    let id = token_hash(token);
    let found = sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(&id))
        .select((Session::as_select(), User::as_select()))
        .first::<(Session, User)>(conn)
        .optional()?;
    let Some((session, user)) = found else {
        return Ok(None);
    };
    let idle = Duration::minutes(config.session_idle_minutes);
    let absolute = Duration::hours(config.session_absolute_hours);
    if user.disabled || now - session.last_seen_at > idle || now - session.created_at > absolute {
        diesel::delete(sessions::table.find(&id)).execute(conn)?;
        return Ok(None);
    }
    if now - session.last_seen_at > Duration::seconds(60) {
        diesel::update(sessions::table.find(&id))
            .set(sessions::last_seen_at.eq(now))
            .execute(conn)?;
    }
    Ok(Some((session, user)))
}

pub fn delete(conn: &mut DbConn, session_id: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.find(session_id)).execute(conn)
}

/// Remove sessions past either limit (housekeeping).
pub fn purge_expired(conn: &mut DbConn, config: &Config, now: NaiveDateTime) -> QueryResult<usize> {
    let idle_cut = now - Duration::minutes(config.session_idle_minutes);
    let abs_cut = now - Duration::hours(config.session_absolute_hours);
    diesel::delete(
        sessions::table.filter(
            sessions::last_seen_at
                .lt(idle_cut)
                .or(sessions::created_at.lt(abs_cut)),
        ),
    )
    .execute(conn)
}
