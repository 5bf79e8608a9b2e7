//! Who is acting: the one type the pages' session extractor and the API's
//! token extractor both make (`Authed`), and the owned `Actor` every
//! operation takes and checks itself: user, role, scope, client address and
//! request id, so the audit row comes from the same value the check used.

use super::permissions::{Action, Scope};
use crate::audit::AuditCtx;
use crate::domain::Role;
use crate::stores::StoreRow;
use crate::users::User;

/// Refused: the role may not do this, or the object lies outside the
/// actor's scope. Pages answer 403 with their error page, the API 403 JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("forbidden")]
pub struct Forbidden;

/// Who is acting and from where, owned so it can be carried onto a blocking
/// thread: what every write operation and every scoped read takes. Made from
/// `Authed` for a request, or `Actor::console` for the command line and
/// scheduled jobs.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The acting user's id; empty for the system (console, scheduled jobs).
    pub user_id: String,
    /// The name written in audit rows.
    pub username: String,
    pub role: Role,
    pub scope: Scope,
    /// The client's address (empty outside a request).
    pub ip: String,
    /// The request's id (empty outside a request).
    pub request_id: String,
    /// The language the actor reads: what an operation words for them
    /// (an area's name with its town, a refusal's arguments) is in it.
    pub lang: crate::i18n::Lang,
}

impl Actor {
    /// The system acting from the server's console or a scheduled job: the
    /// whole scheme, an administrator's rights, no user id.
    pub fn console() -> Actor {
        Actor {
            user_id: String::new(),
            username: "(console)".into(),
            role: Role::Admin,
            scope: Scope::All,
            ip: String::new(),
            request_id: String::new(),
            lang: crate::i18n::Lang::default(),
        }
    }

    /// A user acting outside any request (tools and tests): no address, no
    /// request id, audit rows filed under "(console)".
    pub fn user(user_id: impl Into<String>, role: Role, scope: Scope) -> Actor {
        Actor {
            user_id: user_id.into(),
            role,
            scope,
            ..Actor::console()
        }
    }

    /// Whether this is the system rather than a person.
    pub fn is_system(&self) -> bool {
        self.user_id.is_empty()
    }

    /// Who and from where, for the audit row.
    pub fn audit(&self) -> AuditCtx {
        AuditCtx {
            user_id: (!self.is_system()).then(|| self.user_id.clone()),
            username: self.username.clone(),
            ip: self.ip.clone(),
            request_id: self.request_id.clone(),
        }
    }

    /// Refuse unless the role may do `action` at all, in this scope
    /// (`permissions::allowed`).
    pub fn require(&self, action: Action) -> Result<(), Forbidden> {
        if super::permissions::allowed(self.role, &self.scope, action) {
            Ok(())
        } else {
            Err(Forbidden)
        }
    }

    /// Refuse unless the role may do `action` and the store lies in the
    /// scope (a clerk: only their own store).
    pub fn require_store(&self, action: Action, store: &StoreRow) -> Result<(), Forbidden> {
        self.require(action)?;
        if self.scope.covers_store(&store.store.id, &store.area_path) {
            Ok(())
        } else {
            Err(Forbidden)
        }
    }
}

impl crate::audit::Who for Actor {
    fn who(&self) -> AuditCtx {
        self.audit()
    }
}

impl From<&Actor> for AuditCtx {
    fn from(actor: &Actor) -> AuditCtx {
        actor.audit()
    }
}

/// A logged-in user with a live session (or a live API token), and the
/// request they act in.
#[derive(Debug)]
pub struct Authed {
    pub user: User,
    /// The session's id (empty for an API token).
    pub session_id: String,
    /// The session's CSRF token (empty for an API token).
    pub csrf: String,
    pub scope: Scope,
    /// The client's address.
    pub ip: String,
    /// The request's id.
    pub request_id: String,
    /// The language of the request's reader.
    pub lang: crate::i18n::Lang,
}

impl Authed {
    pub fn role(&self) -> crate::domain::Role {
        self.user.role()
    }

    /// The one permission check: refuse with 403 unless the role may act.
    pub fn require(&self, action: Action) -> Result<(), Forbidden> {
        if super::permissions::allowed(self.role(), &self.scope, action) {
            Ok(())
        } else {
            Err(Forbidden)
        }
    }

    pub fn can(&self, action: Action) -> bool {
        super::permissions::allowed(self.role(), &self.scope, action)
    }

    /// Who is acting, to carry into a database operation.
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: self.user.id.clone(),
            username: self.user.username.clone(),
            role: self.role(),
            scope: self.scope.clone(),
            ip: self.ip.clone(),
            request_id: self.request_id.clone(),
            lang: self.lang,
        }
    }

    /// Who and from where, for the audit row.
    pub fn audit(&self) -> AuditCtx {
        AuditCtx {
            user_id: Some(self.user.id.clone()),
            username: self.user.username.clone(),
            ip: self.ip.clone(),
            request_id: self.request_id.clone(),
        }
    }

    /// The one check for anything done at a store: the role may act, and the
    /// store lies in the user's scope (a clerk: only their own store). Every
    /// store id that arrives in a URL or a form goes through here.
    pub fn require_store(&self, action: Action, store: &StoreRow) -> Result<(), Forbidden> {
        self.require(action)?;
        if self.scope.covers_store(&store.store.id, &store.area_path) {
            Ok(())
        } else {
            Err(Forbidden)
        }
    }

    pub fn can_at_store(&self, action: Action, store: &StoreRow) -> bool {
        self.require_store(action, store).is_ok()
    }
}
