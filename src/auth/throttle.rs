//! Failed-login throttling, per account and per client address. The counts
//! live in the database so that every app server sees the same ones.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::config::Config;
use crate::db::schema::login_failures;
use crate::db::{self, DbConn};

pub fn is_throttled(
    conn: &mut DbConn,
    config: &Config,
    username: &str,
    ip: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let since = now - Duration::minutes(config.login_window_minutes);
    let by_account: i64 = login_failures::table
        .filter(login_failures::username.eq(username))
        .filter(login_failures::at.gt(since))
        .count()
        .get_result(conn)?;
    if by_account >= config.login_max_failures_account {
        return Ok(true);
    }
    let by_ip: i64 = login_failures::table
        .filter(login_failures::ip.eq(ip))
        .filter(login_failures::at.gt(since))
        .count()
        .get_result(conn)?;
    Ok(by_ip >= config.login_max_failures_ip)
}

pub fn record_failure(
    conn: &mut DbConn,
    username: &str,
    ip: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
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

/// A successful login forgives the account's earlier failures (not the address's).
pub fn clear_account(conn: &mut DbConn, username: &str) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::username.eq(username)))
        .execute(conn)
}

/// Failed logins in the last hour (operations page and housekeeping).
pub fn purge_older_than(conn: &mut DbConn, cut: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::at.lt(cut))).execute(conn)
}
