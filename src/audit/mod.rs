//! The audit log: append-only, written by every operation inside its own
//! transaction. Who, what, when (UTC), from where, and the request's id.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::audit_log;
use crate::db::{self, DbConn};

/// Who is acting, and from where, as the audit row records it: made from
/// the operation's `auth::Actor` (`Actor::audit`).
#[derive(Debug, Clone, Default)]
pub struct AuditCtx {
    pub user_id: Option<String>,
    pub username: String,
    pub ip: String,
    pub request_id: String,
}

/// Who an audit row names: an operation's `auth::Actor`, or a bare
/// `AuditCtx`.
pub trait Who {
    fn who(&self) -> AuditCtx;
}

impl Who for AuditCtx {
    fn who(&self) -> AuditCtx {
        self.clone()
    }
}

impl From<&AuditCtx> for AuditCtx {
    fn from(ctx: &AuditCtx) -> AuditCtx {
        ctx.clone()
    }
}

impl AuditCtx {
    /// For commands run on the server's console.
    pub fn console() -> AuditCtx {
        AuditCtx {
            user_id: None,
            username: "(console)".into(),
            ip: String::new(),
            request_id: String::new(),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: String,
    pub at: NaiveDateTime,
    pub user_id: Option<String>,
    pub username: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub summary: String,
    pub ip: String,
    pub request_id: String,
}

/// Append one row. `who` is the acting `auth::Actor` (or, for a request
/// with nobody logged in such as a login attempt, its bare `AuditCtx`).
/// `summary` is a short before/after description; it must never hold
/// passwords, tokens, full ID numbers or phones.
pub fn record(
    conn: &mut DbConn,
    who: &impl Who,
    action: &str,
    target_kind: &str,
    target_id: &str,
    summary: &str,
) -> QueryResult<()> {
    let ctx = who.who();
    let summary: String = summary.chars().take(500).collect();
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::id.eq(db::new_id()),
            audit_log::at.eq(db::now()),
            audit_log::user_id.eq(&ctx.user_id),
            audit_log::username.eq(&ctx.username),
            audit_log::action.eq(action),
            audit_log::target_kind.eq(target_kind),
            audit_log::target_id.eq(target_id),
            audit_log::summary.eq(summary),
            audit_log::ip.eq(&ctx.ip),
            audit_log::request_id.eq(&ctx.request_id),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub username: Option<String>,
    pub action_prefix: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

pub const PAGE_SIZE: i64 = 100;

/// One page of the log, newest first, and whether there is a next page.
pub fn list(
    conn: &mut DbConn,
    filter: &AuditFilter,
    page: i64,
) -> QueryResult<(Vec<AuditEntry>, bool)> {
    let mut q = audit_log::table.into_boxed();
    if let Some(u) = &filter.username {
        q = q.filter(audit_log::username.eq(u.clone()));
    }
    if let Some(a) = &filter.action_prefix {
        q = q.filter(db::starts_with(audit_log::action, a));
    }
    if let Some(from) = filter.from {
        q = q.filter(audit_log::at.ge(from));
    }
    if let Some(to) = filter.to {
        q = q.filter(audit_log::at.lt(to));
    }
    let mut rows = q
        .order((audit_log::at.desc(), audit_log::id.desc()))
        .limit(PAGE_SIZE + 1)
        .offset(page.max(0) * PAGE_SIZE)
        .select(AuditEntry::as_select())
        .load(conn)?;
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    Ok((rows, more))
}
