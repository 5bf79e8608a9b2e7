//! Who is acting: the one type the pages' session extractor and the API's
//! token extractor both make, with the one permission check every handler
//! and operation asks.

use super::permissions::{Action, Scope};
use crate::stores::StoreRow;
use crate::users::User;

/// Refused: the role may not do this, or the object lies outside the
/// actor's scope. Pages answer 403 with their error page, the API 403 JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("forbidden")]
pub struct Forbidden;

/// A logged-in user with a live session.
#[derive(Debug)]
pub struct Authed {
    pub user: User,
    pub session_id: String,
    pub csrf: String,
    pub scope: Scope,
}

impl Authed {
    pub fn role(&self) -> crate::domain::Role {
        self.user.role()
    }

    /// The one permission check: refuse with 403 unless the role may act.
    pub fn require(&self, action: Action) -> Result<(), Forbidden> {
        if super::permissions::can(self.role(), action) {
            Ok(())
        } else {
            Err(Forbidden)
        }
    }

    pub fn can(&self, action: Action) -> bool {
        super::permissions::can(self.role(), action)
    }

    /// Who is acting, to carry into a database operation.
    pub fn who(&self) -> crate::points::awards::Who {
        crate::points::awards::Who {
            user_id: self.user.id.clone(),
            role: self.role(),
            scope: self.scope.clone(),
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
