//! Failed-attempt throttling for logins and card PINs. The counts live in
//! the database (`auth_throttles`, one row per key) so that every app server
//! sees the same ones, and counting and deciding is one conditional upsert:
//! parallel attempts cannot get past a limit, on any number of servers.
//!
//! Logins are limited per account *at an address* and per address, so a
//! stranger cannot lock a user out of their usual address; across all
//! addresses an account under attack is only slowed down (ASVS 6.3.1).
//! An attempt takes its slot before the password is checked; a success gives
//! it back, so what stays counted are the failures.

use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::config::Config;
use crate::db::schema::{auth_throttles, login_failures};
use crate::db::{self, Bind, DbConn};

/// The most PIN failures one card takes from all addresses together in a
/// window: the backstop against guessing its 6 digits from many addresses.
pub const CARD_CEILING: i64 = 100;

/// The slowdown added per failure past the per-account limit, and its cap.
pub const SLOWDOWN_STEP_MS: u64 = 500;
pub const SLOWDOWN_MAX_MS: u64 = 5_000;

/// One counter and its limit (failures within the window).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub key: String,
    pub max: i64,
}

/// The login counters of a (normalised) username typed from `ip`: the
/// account at that address, and the address across accounts.
pub fn login_limits(config: &Config, username: &str, ip: &str) -> Vec<Limit> {
    vec![
        Limit {
            key: format!("login:{username}|{ip}"),
            max: config.login_max_failures_account,
        },
        Limit {
            key: format!("login-ip:{ip}"),
            max: config.login_max_failures_ip,
        },
    ]
}

/// The account's failures from every address: slows down, never locks.
fn account_key(username: &str) -> String {
    format!("login-acct:{username}")
}

/// The PIN counters of a card typed from `ip` on a phone without the card's
/// device mark: the card at that address, the address across cards, and the
/// card from everywhere (a high ceiling against guessing from many
/// addresses; a phone with the mark is not held by it).
pub fn card_limits(config: &Config, card: &str, ip: &str) -> Vec<Limit> {
    let card: String = card.chars().take(32).collect();
    vec![
        Limit {
            key: format!("card:{card}|{ip}"),
            max: config.login_max_failures_account,
        },
        Limit {
            key: format!("card-ip:{ip}"),
            max: config.login_max_failures_ip,
        },
        Limit {
            key: format!("card-all:{card}"),
            max: CARD_CEILING,
        },
    ]
}

/// The PIN counter of a phone that carries the card's device mark
/// (`window::device_mark`), by the mark's nonce: its failures count for that
/// phone alone, never for the card at an address, the address or the card
/// everywhere, so strangers' wrong PINs cannot lock it out.
pub fn device_limits(config: &Config, nonce: &str) -> Vec<Limit> {
    vec![Limit {
        key: format!("card-device:{nonce}"),
        max: config.login_max_failures_account,
    }]
}

/// Take one attempt's slot on one counter, in one statement: a new window
/// starts when the old one is over; otherwise the count goes up only while
/// it is under the limit. Returns whether the slot was taken.
fn take_one(
    conn: &mut DbConn,
    limit: &Limit,
    window: Duration,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let key: String = limit.key.chars().take(200).collect();
    let n = db::execute(
        conn,
        "INSERT INTO auth_throttles (key, failures, window_start) VALUES ($1, 1, $2) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN auth_throttles.window_start <= $3 THEN 1 \
                      ELSE auth_throttles.failures + 1 END, \
           window_start = CASE WHEN auth_throttles.window_start <= $3 THEN $2 \
                          ELSE auth_throttles.window_start END \
         WHERE auth_throttles.window_start <= $3 OR auth_throttles.failures < $4",
        &[
            Bind::Text(key),
            Bind::Ts(now),
            Bind::Ts(now - window),
            Bind::Int(limit.max),
        ],
    )?;
    Ok(n > 0)
}

#[derive(Debug)]
enum TakeError {
    Full,
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for TakeError {
    fn from(e: diesel::result::Error) -> Self {
        TakeError::Db(e)
    }
}

impl db::RetryableError for TakeError {
    fn is_retryable(&self) -> bool {
        matches!(self, TakeError::Db(e) if e.is_retryable())
    }
}

/// Take one attempt's slot on every counter, all or none, in one
/// transaction. False (nothing counted) when any counter is at its limit:
/// the attempt must be refused without checking anything.
pub fn take(
    conn: &mut DbConn,
    config: &Config,
    limits: &[Limit],
    now: NaiveDateTime,
) -> QueryResult<bool> {
    take_within(
        conn,
        limits,
        Duration::minutes(config.login_window_minutes),
        now,
    )
}

/// Take one slot on every counter for a window of the caller's choosing
/// (e.g. requests to the public pages per address and minute), all or none.
/// False (nothing counted) when any counter is full.
pub fn take_within(
    conn: &mut DbConn,
    limits: &[Limit],
    window: Duration,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let taken = db::write_tx(conn, |c| {
        for l in limits {
            if !take_one(c, l, window, now)? {
                return Err(TakeError::Full);
            }
        }
        Ok(())
    });
    match taken {
        Ok(()) => Ok(true),
        Err(TakeError::Full) => Ok(false),
        Err(TakeError::Db(e)) => Err(e),
    }
}

/// Give back the slots an attempt took when it turned out well: the first
/// counter (the subject at this address) is forgiven whole, the others lose
/// this one attempt. Inside the caller's transaction.
pub fn give_back(conn: &mut DbConn, limits: &[Limit]) -> QueryResult<()> {
    let Some((first, rest)) = limits.split_first() else {
        return Ok(());
    };
    diesel::delete(auth_throttles::table.find(&first.key)).execute(conn)?;
    for l in rest {
        diesel::update(
            auth_throttles::table
                .find(&l.key)
                .filter(auth_throttles::failures.gt(0)),
        )
        .set(auth_throttles::failures.eq(auth_throttles::failures - 1))
        .execute(conn)?;
    }
    Ok(())
}

/// The failures recorded on one counter within the window.
pub fn failures(
    conn: &mut DbConn,
    config: &Config,
    key: &str,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    let since = now - Duration::minutes(config.login_window_minutes);
    Ok(auth_throttles::table
        .find(key)
        .filter(auth_throttles::window_start.gt(since))
        .select(auth_throttles::failures)
        .first::<i64>(conn)
        .optional()?
        .unwrap_or(0))
}

/// How long to hold back the answer to a login for `username`: nothing
/// until the account has failed `login_max_failures_account` times (from
/// any addresses) in the window, then 0.5 s more per failure, at most 5 s.
pub fn account_delay(
    conn: &mut DbConn,
    config: &Config,
    username: &str,
    now: NaiveDateTime,
) -> QueryResult<StdDuration> {
    let n = failures(conn, config, &account_key(username), now)?;
    let over = n - config.login_max_failures_account + 1;
    if over <= 0 {
        return Ok(StdDuration::ZERO);
    }
    Ok(StdDuration::from_millis(
        (over as u64 * SLOWDOWN_STEP_MS).min(SLOWDOWN_MAX_MS),
    ))
}

/// Note a failed login: the account's slowdown counter (never a lock) and a
/// row for the operations page. The attempt's slots stay taken. Inside the
/// caller's transaction.
pub fn record_failure(
    conn: &mut DbConn,
    config: &Config,
    username: &str,
    ip: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let everywhere = Limit {
        key: account_key(username),
        max: i64::MAX,
    };
    take_one(
        conn,
        &everywhere,
        Duration::minutes(config.login_window_minutes),
        now,
    )?;
    let name: String = username.chars().take(64).collect();
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::id.eq(db::new_id()),
            login_failures::username.eq(name),
            login_failures::ip.eq(ip),
            login_failures::at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// A successful login forgives the account's failures at this address and
/// its slowdown (not the address's failures on other accounts).
pub fn clear_account(
    conn: &mut DbConn,
    config: &Config,
    username: &str,
    ip: &str,
) -> QueryResult<()> {
    give_back(conn, &login_limits(config, username, ip))?;
    diesel::delete(auth_throttles::table.find(account_key(username))).execute(conn)?;
    Ok(())
}

/// Forget failed logins and counters older than `cut` (housekeeping).
pub fn purge_older_than(conn: &mut DbConn, cut: NaiveDateTime) -> QueryResult<usize> {
    let rows =
        diesel::delete(login_failures::table.filter(login_failures::at.lt(cut))).execute(conn)?;
    let counters =
        diesel::delete(auth_throttles::table.filter(auth_throttles::window_start.lt(cut)))
            .execute(conn)?;
    Ok(rows + counters)
}
