//! API tokens. The caller holds a random secret; the table holds its SHA-256,
//! so a copy of the database does not hand out live tokens. A token acts as
//! its user, looked up on every request: disabling the user, or changing
//! their role or scope, applies at once.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use rand::RngCore;

use super::session::token_hash;
use crate::audit;
use crate::auth::Actor;
use crate::config::Config;
use crate::db::schema::{api_tokens, users};
use crate::db::{self, DbConn};
use crate::domain::{FieldError, parse_name};
use crate::users::User;

/// Login tokens last this long.
pub const LOGIN_TOKEN_HOURS: i64 = 12;

/// A named token lasts this many days unless another choice is made.
pub const NAMED_TOKEN_DEFAULT_DAYS: i64 = 90;

/// The longest a named token may last, in days.
pub const NAMED_TOKEN_MAX_DAYS: i64 = 365;

/// The lifetimes offered on the profile page, in days.
pub const NAMED_TOKEN_DAY_CHOICES: [i64; 4] = [30, 90, 180, 365];

/// "ax_" and 32 random bytes, hex.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("ax_{}", hex::encode(bytes))
}

fn looks_like_secret(s: &str) -> bool {
    s.len() == 67 && s.starts_with("ax_") && s[3..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: String,
    pub user_id: String,
    pub name: Option<String>,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

/// A login token (`name` None, lasting 12 hours) or a named one lasting
/// `days` days (clamped to 1..=365). Returns the secret (shown once) and the
/// stored row. Every token gets an expiry.
pub fn create(
    conn: &mut DbConn,
    user_id: &str,
    name: Option<&str>,
    days: i64,
    now: NaiveDateTime,
) -> QueryResult<(String, ApiToken)> {
    let secret = new_secret();
    let lasts = match name {
        None => Duration::hours(LOGIN_TOKEN_HOURS),
        Some(_) => Duration::days(days.clamp(1, NAMED_TOKEN_MAX_DAYS)),
    };
    let token = ApiToken {
        id: db::new_id(),
        user_id: user_id.to_string(),
        name: name.map(str::to_string),
        token_hash: token_hash(&secret),
        created_at: now,
        expires_at: Some(now + lasts),
        last_used_at: None,
        revoked_at: None,
    };
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::id.eq(&token.id),
            api_tokens::user_id.eq(&token.user_id),
            api_tokens::name.eq(&token.name),
            api_tokens::token_hash.eq(&token.token_hash),
            api_tokens::created_at.eq(token.created_at),
            api_tokens::expires_at.eq(token.expires_at),
        ))
        .execute(conn)?;
    Ok((secret, token))
}

/// The live user behind a secret, touching `last_used_at` at most once a
/// minute. Revoked, expired (or expiry-less) and disabled users' tokens give None.
pub fn authenticate(
    conn: &mut DbConn,
    secret: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<User>> {
    if !looks_like_secret(secret) {
        return Ok(None);
    }
    let found = api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(token_hash(secret)))
        .select((ApiToken::as_select(), User::as_select()))
        .first::<(ApiToken, User)>(conn)
        .optional()?;
    let Some((token, user)) = found else {
        return Ok(None);
    };
    if user.disabled || token.revoked_at.is_some() || token.expires_at.is_none_or(|e| e <= now) {
        return Ok(None);
    }
    if token
        .last_used_at
        .is_none_or(|t| now - t > Duration::seconds(60))
    {
        diesel::update(api_tokens::table.find(&token.id))
            .set(api_tokens::last_used_at.eq(now))
            .execute(conn)?;
    }
    Ok(Some(user))
}

/// Forget login tokens that expired before `cut` (housekeeping; named
/// tokens stay listed, revoked or not).
pub fn purge_expired(conn: &mut DbConn, cut: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        api_tokens::table
            .filter(api_tokens::name.is_null())
            .filter(api_tokens::expires_at.lt(cut)),
    )
    .execute(conn)
}

/// A user's named tokens, newest first (login tokens are not listed).
pub fn named_of(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<ApiToken>> {
    api_tokens::table
        .filter(api_tokens::user_id.eq(user_id))
        .filter(api_tokens::name.is_not_null())
        .order(api_tokens::created_at.desc())
        .select(ApiToken::as_select())
        .load(conn)
}

/// Parse the lifetime chosen for a named token (full-width digits read as
/// digits): empty means 90 days; else whole days from 1 to 365. Errors name the field `profile.token_days`.
pub fn parse_days(s: &str) -> Result<i64, FieldError> {
    if crate::domain::input::normalize(s).is_empty() {
        return Ok(NAMED_TOKEN_DEFAULT_DAYS);
    }
    match crate::domain::input::whole_number(s) {
        Some(d) if (1..=NAMED_TOKEN_MAX_DAYS).contains(&d) => Ok(d),
        _ => Err(FieldError::new("auth.token_days", "auth.token_days_range")
            .arg("max", NAMED_TOKEN_MAX_DAYS)),
    }
}

/// Create a named token lasting `days` days for `user`, who must type their
/// password again (`password`, checked against the stored hash: a wrong one
/// is `Invalid` on `field.current_password`; wrong ones are throttled like
/// logins, per user). Returns the secret. Errors: `Forbidden` unless the
/// actor is `user` (a token is made only by its owner).
pub fn create_named(
    conn: &mut DbConn,
    config: &Config,
    ctx: &Actor,
    user: &User,
    name: &str,
    days: &str,
    password: &str,
) -> Result<String, TokenError> {
    if ctx.is_system() || ctx.user_id != user.id {
        return Err(TokenError::Forbidden);
    }
    let name = parse_name("field.token_name", name, 60)?;
    let days = parse_days(days)?;
    let limits = [super::throttle::Limit {
        key: format!("reauth:{}", user.id),
        max: config.login_max_failures_account,
    }];
    if !super::throttle::take(conn, config, &limits, db::now())? {
        return Err(FieldError::new("field.current_password", "api.too_many_attempts").into());
    }
    if super::password::verify(password, &user.password_hash) {
        db::write_tx(conn, |c| super::throttle::give_back(c, &limits))?;
    } else {
        db::write_tx(conn, |c| {
            audit::record(
                c,
                ctx,
                "token.create_refused",
                "user",
                &user.id,
                &audit::Detail::new("wrong_password").to_string(),
            )
        })?;
        return Err(FieldError::new("field.current_password", "error.password_wrong").into());
    }
    db::write_tx(conn, |c| {
        let (secret, token) = create(c, &user.id, Some(&name), days, db::now())?;
        audit::record(
            c,
            ctx,
            "token.create",
            "api_token",
            &token.id,
            &audit::Detail::new("token_create")
                .arg("name", &name)
                .arg("days", days)
                .to_string(),
        )?;
        Ok(secret)
    })
}

/// Revoke every live token of a user, login and named alike, because their
/// password changed (by themselves or by an admin). Inside the caller's
/// transaction; returns how many were revoked.
pub fn revoke_all_of(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
    diesel::update(api_tokens::table)
        .filter(api_tokens::user_id.eq(user_id))
        .filter(api_tokens::revoked_at.is_null())
        .set(api_tokens::revoked_at.eq(db::now()))
        .execute(conn)
}

/// Delete every token of a user (they are being disabled): enabling them
/// again brings none back. Inside the caller's transaction; returns how many.
pub fn delete_all_of(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
    diesel::delete(api_tokens::table.filter(api_tokens::user_id.eq(user_id))).execute(conn)
}

/// Revoke one of the actor's own tokens. Errors: `NotFound` for a token
/// that is not theirs, or is already revoked.
pub fn revoke(conn: &mut DbConn, ctx: &Actor, token_id: &str) -> Result<(), TokenError> {
    let user_id = ctx.user_id.as_str();
    db::write_tx(conn, |c| {
        let n = diesel::update(
            api_tokens::table
                .find(token_id)
                .filter(api_tokens::user_id.eq(user_id))
                .filter(api_tokens::revoked_at.is_null()),
        )
        .set(api_tokens::revoked_at.eq(db::now()))
        .execute(c)?;
        if n == 0 {
            return Err(TokenError::NotFound);
        }
        audit::record(c, ctx, "token.revoke", "api_token", token_id, "")?;
        Ok(())
    })
}

/// This area's refusals: the one vocabulary every operation shares.
pub type TokenError = crate::error::Problem;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_one_shape() {
        let s = new_secret();
        assert!(looks_like_secret(&s));
        assert!(!looks_like_secret("ax_short"));
        assert!(!looks_like_secret(&s.replace("ax_", "bx_")));
    }
}
