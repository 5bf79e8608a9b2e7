//! Staff accounts: who they are, their role and where they work.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::areas;
use crate::audit::{self, AuditCtx};
use crate::auth::{self, Scope, password};
use crate::config::PasswordCost;
use crate::db::schema::{areas as areas_t, stores, users};
use crate::db::{self, DbConn};
use crate::domain::{FieldError, NewPassword, Role, Username};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub area_id: Option<String>,
    pub store_id: Option<String>,
    pub disabled: bool,
    pub must_change_password: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl User {
    /// The name to show for the user: the display name, or else the login.
    pub fn shown_name(&self) -> &str {
        if self.display_name.trim().is_empty() {
            &self.username
        } else {
            &self.display_name
        }
    }

    pub fn role(&self) -> Role {
        // The CHECK constraint keeps the column to known roles; an unknown one
        // gets the least power.
        Role::parse(&self.role).unwrap_or(Role::Auditor)
    }
}

/// A user row with the names of their area and store, for lists.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub user: User,
    pub area_name: Option<String>,
    pub store_name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("invalid field")]
    Invalid(FieldError),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

impl db::RetryableError for UserError {
    fn is_retryable(&self) -> bool {
        matches!(self, UserError::Db(e) if e.is_retryable())
    }
}

impl From<FieldError> for UserError {
    fn from(e: FieldError) -> Self {
        UserError::Invalid(e)
    }
}

pub fn find_by_username(conn: &mut DbConn, username: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::username.eq(username))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

pub fn list(conn: &mut DbConn) -> QueryResult<Vec<UserRow>> {
    let rows = users::table
        .left_join(areas_t::table)
        .left_join(stores::table)
        .order(users::username.asc())
        .select((
            User::as_select(),
            areas_t::name.nullable(),
            stores::name.nullable(),
        ))
        .load::<(User, Option<String>, Option<String>)>(conn)?;
    Ok(rows
        .into_iter()
        .map(|(user, area_name, store_name)| UserRow {
            user,
            area_name,
            store_name,
        })
        .collect())
}

/// The scope a user works in, from their role and their area or store.
pub fn scope_of(conn: &mut DbConn, user: &User) -> QueryResult<Scope> {
    Ok(match user.role() {
        Role::Admin | Role::Auditor if user.area_id.is_none() => Scope::All,
        Role::Admin | Role::Auditor | Role::Official | Role::Reviewer => match &user.area_id {
            Some(area_id) => match areas::find(conn, area_id)? {
                Some(a) => Scope::Area {
                    id: a.id,
                    path: a.path,
                },
                None => Scope::Nothing,
            },
            None => Scope::Nothing,
        },
        Role::Clerk => match &user.store_id {
            Some(id) => Scope::Store { id: id.clone() },
            None => Scope::Nothing,
        },
    })
}

/// What an admin types to create a user or change their role and scope.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub role: Role,
    pub area_id: Option<String>,
    pub store_id: Option<String>,
}

impl Assignment {
    /// Parse role, area and store from form strings; the area or store the
    /// role needs must exist.
    pub fn parse(
        conn: &mut DbConn,
        role: &str,
        area_id: &str,
        store_id: &str,
    ) -> Result<Assignment, UserError> {
        let role = Role::parse(role).ok_or(FieldError::new("field.role", "error.role_unknown"))?;
        let area_id = Some(area_id.trim()).filter(|s| !s.is_empty());
        let store_id = Some(store_id.trim()).filter(|s| !s.is_empty());
        let mut out = Assignment {
            role,
            area_id: None,
            store_id: None,
        };
        if role.needs_area() {
            let id = area_id.ok_or(FieldError::new("field.area", "error.area_required"))?;
            if areas::find(conn, id)?.is_none() {
                return Err(FieldError::new("field.area", "error.area_unknown").into());
            }
            out.area_id = Some(id.to_string());
        }
        if role.may_have_area()
            && let Some(id) = area_id
        {
            // An administrator or auditor limited to a province or a city.
            match areas::find(conn, id)? {
                Some(a) if a.level().scopes_supervisors() => out.area_id = Some(id.to_string()),
                Some(_) => {
                    return Err(FieldError::new("field.area", "error.area_too_low").into());
                }
                None => return Err(FieldError::new("field.area", "error.area_unknown").into()),
            }
        }
        if role.needs_store() {
            let id = store_id.ok_or(FieldError::new("field.store", "error.store_required"))?;
            let exists: i64 = stores::table
                .filter(stores::id.eq(id))
                .count()
                .get_result(conn)?;
            if exists == 0 {
                return Err(FieldError::new("field.store", "error.store_unknown").into());
            }
            out.store_id = Some(id.to_string());
        }
        Ok(out)
    }

    fn describe(&self) -> String {
        let mut s = format!("role={}", self.role);
        if let Some(a) = &self.area_id {
            s.push_str(&format!(" area={a}"));
        }
        if let Some(st) = &self.store_id {
            s.push_str(&format!(" store={st}"));
        }
        s
    }
}

/// The password a new account starts with.
pub enum InitialPassword {
    /// Generated here and shown once; the user must change it at first login.
    Generate,
    /// Chosen by whoever creates the account.
    Given(NewPassword),
}

/// Create a user. Returns the user and, when it was generated, the password
/// to hand over. A given password that is common or like the user's names
/// is refused (`Invalid` on `field.password`).
pub fn create(
    conn: &mut DbConn,
    ctx: &AuditCtx,
    cost: PasswordCost,
    username: &Username,
    display_name: &str,
    assignment: &Assignment,
    initial: InitialPassword,
) -> Result<(User, Option<String>), UserError> {
    let (plain, must_change) = match initial {
        InitialPassword::Generate => (password::generate(), true),
        InitialPassword::Given(p) => {
            password::refuse_weak(
                "field.password",
                p.expose(),
                &[username.as_str(), display_name],
            )?;
            (p.expose().to_string(), false)
        }
    };
    let hash = password::hash(&plain, cost);
    let now = db::now();
    let id = db::new_id();
    let result = db::write_tx(conn, |c| {
        diesel::insert_into(users::table)
            .values((
                users::id.eq(&id),
                users::username.eq(username.as_str()),
                users::display_name.eq(display_name),
                users::password_hash.eq(&hash),
                users::role.eq(assignment.role.as_str()),
                users::area_id.eq(&assignment.area_id),
                users::store_id.eq(&assignment.store_id),
                users::disabled.eq(false),
                users::must_change_password.eq(must_change),
                users::created_at.eq(now),
                users::updated_at.eq(now),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            "user.create",
            "user",
            &id,
            &format!("{} {}", username.as_str(), assignment.describe()),
        )?;
        users::table.find(&id).select(User::as_select()).first(c)
    });
    match result {
        Ok(user) => Ok((user, must_change.then_some(plain))),
        Err(e) if db::is_unique_violation(&e) => {
            Err(FieldError::new("field.username", "error.username_taken")
                .arg("username", username.as_str())
                .into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Change a user's role and scope; their sessions end.
pub fn assign(
    conn: &mut DbConn,
    ctx: &AuditCtx,
    user_id: &str,
    assignment: &Assignment,
) -> Result<User, UserError> {
    db::write_tx(conn, |c| {
        let before = find(c, user_id)?.ok_or(UserError::NotFound)?;
        diesel::update(users::table.find(user_id))
            .set((
                users::role.eq(assignment.role.as_str()),
                users::area_id.eq(&assignment.area_id),
                users::store_id.eq(&assignment.store_id),
                users::updated_at.eq(db::now()),
            ))
            .execute(c)?;
        auth::end_sessions_of(c, user_id)?;
        let before_desc = format!(
            "role={}{}{}",
            before.role,
            before
                .area_id
                .as_deref()
                .map(|a| format!(" area={a}"))
                .unwrap_or_default(),
            before
                .store_id
                .as_deref()
                .map(|s| format!(" store={s}"))
                .unwrap_or_default()
        );
        audit::record(
            c,
            ctx,
            "user.assign",
            "user",
            user_id,
            &format!(
                "{}: {} -> {}",
                before.username,
                before_desc,
                assignment.describe()
            ),
        )?;
        find(c, user_id)?.ok_or(UserError::NotFound)
    })
}

/// Disable or enable an account; disabling ends its sessions and deletes its
/// API tokens.
pub fn set_disabled(
    conn: &mut DbConn,
    ctx: &AuditCtx,
    user_id: &str,
    disabled: bool,
) -> Result<User, UserError> {
    db::write_tx(conn, |c| {
        let before = find(c, user_id)?.ok_or(UserError::NotFound)?;
        diesel::update(users::table.find(user_id))
            .set((
                users::disabled.eq(disabled),
                users::updated_at.eq(db::now()),
            ))
            .execute(c)?;
        if disabled {
            // Sessions end and tokens go: enabling the user again revives none.
            auth::end_sessions_of(c, user_id)?;
            auth::tokens::delete_all_of(c, user_id)?;
        }
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        audit::record(c, ctx, action, "user", user_id, &before.username)?;
        find(c, user_id)?.ok_or(UserError::NotFound)
    })
}

/// Set a user's password. A generated one must be changed at next login; one
/// chosen by a person need not. Every session of the user ends, except
/// `keep_session` (the one changing its own password stays logged in), and
/// every API token of the user is revoked, named ones included. A given
/// password that is common or like the user's names is refused (`Invalid`
/// on `field.password`).
pub fn set_password(
    conn: &mut DbConn,
    ctx: &AuditCtx,
    cost: PasswordCost,
    user_id: &str,
    new: InitialPassword,
    keep_session: Option<&str>,
) -> Result<Option<String>, UserError> {
    let (plain, must_change) = match new {
        InitialPassword::Generate => (password::generate(), true),
        InitialPassword::Given(p) => {
            let user = find(conn, user_id)?.ok_or(UserError::NotFound)?;
            password::refuse_weak(
                "field.password",
                p.expose(),
                &[&user.username, &user.display_name],
            )?;
            (p.expose().to_string(), false)
        }
    };
    let hash = password::hash(&plain, cost);
    db::write_tx(conn, |c| {
        let user = find(c, user_id)?.ok_or(UserError::NotFound)?;
        diesel::update(users::table.find(user_id))
            .set((
                users::password_hash.eq(&hash),
                users::must_change_password.eq(must_change),
                users::updated_at.eq(db::now()),
            ))
            .execute(c)?;
        {
            use crate::db::schema::sessions;
            let mut q = diesel::delete(sessions::table)
                .filter(sessions::user_id.eq(user_id))
                .into_boxed();
            if let Some(keep) = keep_session {
                q = q.filter(sessions::id.ne(keep.to_string()));
            }
            q.execute(c)?;
        }
        let own = ctx.user_id.as_deref() == Some(user_id);
        // API tokens end with the password, like the other sessions: all of
        // them, named ones too, whoever changed it (ASVS 7.4.3).
        crate::auth::tokens::revoke_all_of(c, user_id)?;
        let action = if own {
            "user.password_change"
        } else {
            "user.password_reset"
        };
        let how = if must_change { "generated" } else { "set" };
        audit::record(
            c,
            ctx,
            action,
            "user",
            user_id,
            &format!("{} ({how})", user.username),
        )?;
        Ok::<(), UserError>(())
    })?;
    Ok(must_change.then_some(plain))
}

/// On the very first start: create `admin` when there are no users at all.
/// Returns the password when one was generated. Two servers starting at once
/// race on the unique username; the loser creates nothing.
pub fn ensure_first_admin(
    conn: &mut DbConn,
    cost: PasswordCost,
    given: Option<&str>,
) -> Result<Option<FirstAdmin>, UserError> {
    if count(conn)? > 0 {
        return Ok(None);
    }
    let username = Username::parse("admin").expect("valid username");
    let initial = match given {
        Some(p) => InitialPassword::Given(NewPassword::parse("field.password", p)?),
        None => InitialPassword::Generate,
    };
    let assignment = Assignment {
        role: Role::Admin,
        area_id: None,
        store_id: None,
    };
    match create(
        conn,
        &AuditCtx::console(),
        cost,
        &username,
        "",
        &assignment,
        initial,
    ) {
        Ok((_, generated)) => Ok(Some(FirstAdmin { generated })),
        Err(UserError::Invalid(e)) if e.key == "error.username_taken" => Ok(None),
        Err(e) => Err(e),
    }
}

pub struct FirstAdmin {
    /// The generated password, or None when AIXIN_ADMIN_PASSWORD was used.
    pub generated: Option<String>,
}

/// Update the display name (shown in lists and on printouts).
pub fn set_display_name(
    conn: &mut DbConn,
    ctx: &AuditCtx,
    user_id: &str,
    name: &str,
) -> Result<(), UserError> {
    db::write_tx(conn, |c| {
        let n = diesel::update(users::table.find(user_id))
            .set((
                users::display_name.eq(name),
                users::updated_at.eq(db::now()),
            ))
            .execute(c)?;
        if n == 0 {
            return Err(UserError::NotFound);
        }
        audit::record(c, ctx, "user.rename", "user", user_id, name)?;
        Ok(())
    })
}
