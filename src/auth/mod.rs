//! Logging in, sessions, throttling and who may do what.

pub mod actor;
pub mod password;
pub mod permissions;
pub mod session;
pub mod throttle;
pub mod tokens;

use diesel::prelude::*;

use crate::audit::{self, AuditCtx};
use crate::config::Config;
use crate::db::{self, DbConn};
use crate::users::{self, User};

pub use actor::{Actor, Authed, Forbidden};
pub use permissions::{Action, Scope};

/// The outcome of a login attempt.
pub enum LoginOutcome {
    Success {
        user: Box<User>,
        token: String,
    },
    /// Wrong name or password, or too many attempts: the person is told the
    /// same thing in every case.
    Refused,
}

/// Check a username and password and open a session. Runs the argon2 hash
/// even for unknown users, so that the time taken does not tell them apart.
pub fn login(
    conn: &mut DbConn,
    config: &Config,
    dummy_hash: &str,
    username: &str,
    password: &str,
    ctx: &AuditCtx,
    user_agent: &str,
) -> Result<LoginOutcome, diesel::result::Error> {
    login_with(
        conn,
        config,
        dummy_hash,
        username,
        password,
        ctx,
        |c, user, now| session::create(c, &user.id, &ctx.ip, user_agent, now),
    )
}

/// The name a login attempt is counted and filed under: trimmed,
/// lower-case, at most 64 characters.
pub fn attempt_name(username: &str) -> String {
    username.trim().to_lowercase().chars().take(64).collect()
}

/// The login check with its throttling and audit, opening whatever `open`
/// makes for the user on success (a session, or an API token). The attempt
/// takes its place in the throttle counters before the password is checked
/// (one transaction: parallel attempts cannot pass the limit); a success
/// gives it back. The caller holds back its answer by `throttle::account_delay`.
pub fn login_with(
    conn: &mut DbConn,
    config: &Config,
    dummy_hash: &str,
    username: &str,
    password: &str,
    ctx: &AuditCtx,
    mut open: impl FnMut(&mut DbConn, &User, chrono::NaiveDateTime) -> QueryResult<String>,
) -> Result<LoginOutcome, diesel::result::Error> {
    let username = attempt_name(username);
    let now = db::now();
    // Attempts are filed under the name that was typed.
    let attempt = AuditCtx {
        username: username.clone(),
        ..ctx.clone()
    };
    let ctx = &attempt;
    let limits = throttle::login_limits(config, &username, &ctx.ip);
    if !throttle::take(conn, config, &limits, now)? {
        db::write_tx(conn, |c| {
            audit::record(c, ctx, "auth.login_throttled", "user", &username, "")
        })?;
        return Ok(LoginOutcome::Refused);
    }
    let user = users::find_by_username(conn, &username)?;
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.as_str())
        .unwrap_or(dummy_hash);
    let password_ok = password::verify(password, hash);
    match user {
        Some(user) if password_ok && !user.disabled => {
            let token = db::write_tx(conn, |c| {
                throttle::clear_account(c, config, &user.username, &ctx.ip)?;
                let token = open(c, &user, now)?;
                let who = AuditCtx {
                    user_id: Some(user.id.clone()),
                    username: user.username.clone(),
                    ..ctx.clone()
                };
                audit::record(c, &who, "auth.login", "user", &user.id, "")?;
                diesel::update(crate::db::schema::users::table.find(&user.id))
                    .set(crate::db::schema::users::last_login_at.eq(now))
                    .execute(c)?;
                Ok::<_, diesel::result::Error>(token)
            })?;
            Ok(LoginOutcome::Success {
                user: Box::new(user),
                token,
            })
        }
        other => {
            let reason = audit::Detail::new(match &other {
                None => "unknown_user",
                Some(u) if u.disabled => "user_disabled",
                Some(_) => "wrong_password",
            })
            .to_string();
            db::write_tx(conn, |c| {
                throttle::record_failure(c, config, &username, &ctx.ip, now)?;
                audit::record(c, ctx, "auth.login_failed", "user", &username, &reason)
            })?;
            Ok(LoginOutcome::Refused)
        }
    }
}

/// End every session of a user (logout everywhere, password or role change,
/// disabling).
pub fn end_sessions_of(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
    use crate::db::schema::sessions;
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)
}
