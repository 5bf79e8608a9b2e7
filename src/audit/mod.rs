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

/// What an audit row says beyond its action, in words either language can
/// show: the message `audit_detail.<key>` and its arguments, stored in the
/// row's summary as JSON so the log reads as a sentence in the reader's
/// language. An argument that is itself a message (a level, a kind, yes or
/// no) is given with [`Detail::word`] and translated when shown.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Detail {
    #[serde(rename = "d")]
    key: String,
    /// (name, value, whether the value is a message key)
    #[serde(rename = "a")]
    args: Vec<(String, String, bool)>,
}

/// Longest argument kept (a summary holds at most 500 characters).
const ARG_CHARS: usize = 100;

impl Detail {
    /// The words `audit_detail.<key>`.
    pub fn new(key: &str) -> Detail {
        Detail {
            key: key.to_string(),
            args: Vec::new(),
        }
    }

    /// An argument as written (a name, a number, a reason).
    pub fn arg(mut self, name: &str, value: impl std::fmt::Display) -> Detail {
        let value: String = value.to_string().chars().take(ARG_CHARS).collect();
        self.args.push((name.to_string(), value, false));
        self
    }

    /// An argument that is a message key, translated when shown.
    pub fn word(mut self, name: &str, key: &str) -> Detail {
        self.args.push((name.to_string(), key.to_string(), true));
        self
    }

    /// An argument that is a list of message keys (the fields a change
    /// touched), each translated when shown.
    pub fn words(mut self, name: &str, keys: &[&str]) -> Detail {
        self.args.push((name.to_string(), keys.join(","), true));
        self
    }

    /// The detail of a stored summary, when it holds one (older rows hold
    /// plain text).
    pub fn read(summary: &str) -> Option<Detail> {
        if !summary.starts_with('{') {
            return None;
        }
        serde_json::from_str(summary).ok()
    }

    /// The value of the argument `name`, as stored.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, v, _)| v.as_str())
    }

    /// The sentence in `lang`.
    pub fn say(&self, lang: crate::i18n::Lang) -> String {
        use crate::i18n::t;
        let value = |(_, v, word): &(String, String, bool)| {
            if *word {
                let said: Vec<&str> = v.split(',').map(|k| t(lang, k)).collect();
                said.join(t(lang, "p.list"))
            } else {
                v.clone()
            }
        };
        let key = format!("audit_detail.{}", self.key);
        let words = t(lang, &key);
        if words == key {
            // Words not in the catalogue: the values alone, never the key.
            let values: Vec<String> = self.args.iter().map(value).collect();
            return values.join(t(lang, "p.list"));
        }
        // One pass over the words, so a value holding "{x}" stays as typed.
        let mut out = String::new();
        let mut rest = words;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}').and_then(|close| {
                // `{name}`, or a count with its word, `{name|one|many}`.
                let (name, forms) = match after[..close].split_once('|') {
                    Some((name, forms)) => (name, Some(forms)),
                    None => (&after[..close], None),
                };
                self.args
                    .iter()
                    .find(|(n, _, _)| n == name)
                    .map(|a| match forms {
                        Some(forms) => (crate::i18n::with_word(&value(a), forms), close),
                        None => (value(a), close),
                    })
            }) {
                Some((v, close)) => {
                    out.push_str(&v);
                    rest = &after[close + 1..];
                }
                None => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

impl std::fmt::Display for Detail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&serde_json::to_string(self).unwrap_or_default())
    }
}

/// The word for yes or no, for [`Detail::word`].
pub fn yes_no(yes: bool) -> &'static str {
    if yes {
        "audit_detail.yes"
    } else {
        "audit_detail.no"
    }
}

/// The word for a check's outcome, for [`Detail::word`].
pub fn ok_word(ok: bool) -> &'static str {
    if ok {
        "audit_detail.consistent"
    } else {
        "audit_detail.inconsistent"
    }
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub username: Option<String>,
    pub action_prefix: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

pub const PAGE_SIZE: i64 = 100;

/// The log's rows that `filter` lets through: the one place its filter is
/// made, for a page and for the count alike.
fn filtered(filter: &AuditFilter) -> audit_log::BoxedQuery<'static, db::MultiBackend> {
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
    q
}

/// How many pages of [`PAGE_SIZE`] rows the log filtered by `filter` has
/// (none when it is empty).
pub fn pages(conn: &mut DbConn, filter: &AuditFilter) -> QueryResult<i64> {
    let n: i64 = filtered(filter).count().get_result(conn)?;
    Ok((n + PAGE_SIZE - 1) / PAGE_SIZE)
}

/// One page (0-based) of the log, newest first, and whether there is a
/// next page.
pub fn list(
    conn: &mut DbConn,
    filter: &AuditFilter,
    page: i64,
) -> QueryResult<(Vec<AuditEntry>, bool)> {
    let mut rows = filtered(filter)
        .order((audit_log::at.desc(), audit_log::id.desc()))
        .limit(PAGE_SIZE + 1)
        .offset(page.max(0) * PAGE_SIZE)
        .select(AuditEntry::as_select())
        .load(conn)?;
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    Ok((rows, more))
}
