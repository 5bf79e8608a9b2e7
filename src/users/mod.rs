//! Staff accounts: who they are, their role and where they work.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::areas;
use crate::audit;
use crate::auth::{self, Scope, password};
use crate::auth::{Action, Actor};
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
    /// When the user last logged in (UTC); `None`: never.
    pub last_login_at: Option<NaiveDateTime>,
    /// Bumped by every save of the user's edit form; a save names the
    /// version it was made on.
    pub version: i64,
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

/// This area's refusals: the one vocabulary every operation shares.
pub type UserError = crate::error::Problem;

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
            Some(id) => Scope::Store {
                id: crate::domain::StoreId::from_stored(id.clone()),
            },
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
        // No role is chosen for anyone: an empty choice is refused, never
        // taken as the first role in the list.
        if role.trim().is_empty() {
            return Err(FieldError::new("field.role", "error.choose_one").into());
        }
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

    /// `d` with this assignment in the audit log's words (`post_said`).
    fn said(&self, c: &mut DbConn, d: audit::Detail, prefix: &str) -> QueryResult<audit::Detail> {
        post_said(
            c,
            d,
            prefix,
            self.role.as_str(),
            self.area_id.as_deref(),
            self.store_id.as_deref(),
        )
    }
}

/// `d` with a role and where it works, as the audit log says them: the
/// role's name (`<prefix>role`) and the area's or store's name
/// (`<prefix>place`, " · 凤山街道", empty for neither).
fn post_said(
    c: &mut DbConn,
    d: audit::Detail,
    prefix: &str,
    role: &str,
    area_id: Option<&str>,
    store_id: Option<&str>,
) -> QueryResult<audit::Detail> {
    let place = match (area_id, store_id) {
        (Some(a), _) => match areas::find(c, a)? {
            // An audit row is stored once for every reader: in the
            // scheme's first language.
            Some(area) => areas::full_name(c, &area, crate::i18n::Lang::Zh)?,
            None => String::new(),
        },
        (None, Some(s)) => stores::table
            .find(s)
            .select(stores::name)
            .first::<String>(c)
            .optional()?
            .unwrap_or_default(),
        (None, None) => String::new(),
    };
    let place = if place.is_empty() {
        place
    } else {
        format!(" · {place}")
    };
    Ok(d.word(&format!("{prefix}role"), &format!("role.{role}"))
        .arg(&format!("{prefix}place"), place))
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
/// is refused (`Invalid` on `field.password`); `Forbidden` for a role
/// that may not manage users.
pub fn create(
    conn: &mut DbConn,
    ctx: &Actor,
    cost: PasswordCost,
    username: &Username,
    display_name: &str,
    assignment: &Assignment,
    initial: InitialPassword,
) -> Result<(User, Option<String>), UserError> {
    ctx.require(Action::ManageUsers)?;
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
        let said = assignment
            .said(
                c,
                audit::Detail::new("user_create").arg("username", username.as_str()),
                "",
            )?
            .to_string();
        audit::record(c, ctx, "user.create", "user", &id, &said)?;
        users::table.find(&id).select(User::as_select()).first(c)
    });
    match result {
        Ok(user) => Ok((user, must_change.then_some(plain))),
        Err(e) if db::is_unique_violation(&e) => Err(FieldError::conflict(
            "field.username",
            "error.username_taken",
            crate::domain::Conflict::Taken,
        )
        .arg("username", username.as_str())
        .into()),
        Err(e) => Err(e.into()),
    }
}

/// Change a user's role and scope; their sessions end. Errors: `Forbidden`
/// for a role that may not manage users; `NotFound`.
pub fn assign(
    conn: &mut DbConn,
    ctx: &Actor,
    user_id: &str,
    assignment: &Assignment,
) -> Result<User, UserError> {
    ctx.require(Action::ManageUsers)?;
    db::write_tx(conn, |c| {
        let before = find(c, user_id)?.ok_or(UserError::NotFound)?;
        diesel::update(users::table.find(user_id))
            .set((
                users::role.eq(assignment.role.as_str()),
                users::area_id.eq(&assignment.area_id),
                users::store_id.eq(&assignment.store_id),
                users::updated_at.eq(db::now()),
                users::version.eq(users::version + 1),
            ))
            .execute(c)?;
        auth::end_sessions_of(c, user_id)?;
        let before_said = post_said(
            c,
            audit::Detail::new("user_assign").arg("username", &before.username),
            "from_",
            &before.role,
            before.area_id.as_deref(),
            before.store_id.as_deref(),
        )?;
        let said = assignment.said(c, before_said, "to_")?.to_string();
        audit::record(c, ctx, "user.assign", "user", user_id, &said)?;
        find(c, user_id)?.ok_or(UserError::NotFound)
    })
}

/// Save a user's edit form as seen at version `seen` (when given): the
/// display name and the assignment, in one transaction. Errors: `Forbidden`
/// for a role that may not manage users; `NotFound`; a conflict (409) when
/// the user was changed after `seen` (one conditional update on the version
/// read).
pub fn save_edit(
    conn: &mut DbConn,
    ctx: &Actor,
    user_id: &str,
    display_name: &str,
    assignment: &Assignment,
    seen: Option<i64>,
) -> Result<User, UserError> {
    ctx.require(Action::ManageUsers)?;
    db::write_tx(conn, |c| {
        let before = find(c, user_id)?.ok_or(UserError::NotFound)?;
        if seen.is_some_and(|v| v != before.version) {
            return Err(user_changed_meanwhile(&before));
        }
        let n = diesel::update(
            users::table
                .find(user_id)
                .filter(users::version.eq(before.version)),
        )
        .set(users::version.eq(users::version + 1))
        .execute(c)?;
        if n == 0 {
            let now = find(c, user_id)?.ok_or(UserError::NotFound)?;
            return Err(user_changed_meanwhile(&now));
        }
        if display_name != before.display_name {
            set_display_name(c, ctx, user_id, display_name)?;
        }
        let moved = before.role != assignment.role.as_str()
            || before.area_id != assignment.area_id
            || before.store_id != assignment.store_id;
        if moved {
            assign(c, ctx, user_id, assignment)?;
        }
        find(c, user_id)?.ok_or(UserError::NotFound)
    })
}

/// "This user was changed after you opened the form": their login.
fn user_changed_meanwhile(user: &User) -> UserError {
    FieldError::conflict(
        "field.username",
        "error.record_changed",
        crate::domain::Conflict::Changed,
    )
    .arg("name", &user.username)
    .into()
}

/// Disable or enable an account; disabling ends its sessions and deletes its
/// API tokens. Errors: `Forbidden` for a role that may not manage users;
/// `NotFound`.
pub fn set_disabled(
    conn: &mut DbConn,
    ctx: &Actor,
    user_id: &str,
    disabled: bool,
) -> Result<User, UserError> {
    ctx.require(Action::ManageUsers)?;
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
/// on `field.password`). Errors: `Forbidden` unless the actor is the user
/// or may manage users; `NotFound`.
pub fn set_password(
    conn: &mut DbConn,
    ctx: &Actor,
    cost: PasswordCost,
    user_id: &str,
    new: InitialPassword,
    keep_session: Option<&str>,
) -> Result<Option<String>, UserError> {
    require_self_or_admin(ctx, user_id)?;
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
        let own = !ctx.is_system() && ctx.user_id == user_id;
        // API tokens end with the password, like the other sessions: all of
        // them, named ones too, whoever changed it (ASVS 7.4.3).
        crate::auth::tokens::revoke_all_of(c, user_id)?;
        let action = if own {
            "user.password_change"
        } else {
            "user.password_reset"
        };
        let how = if must_change {
            "audit_detail.password_generated"
        } else {
            "audit_detail.password_set"
        };
        audit::record(
            c,
            ctx,
            action,
            "user",
            user_id,
            &audit::Detail::new("user_password")
                .arg("username", &user.username)
                .word("how", how)
                .to_string(),
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
        &Actor::console(),
        cost,
        &username,
        "",
        &assignment,
        initial,
    ) {
        Ok((_, generated)) => Ok(Some(FirstAdmin { generated })),
        Err(UserError::Conflict(_, e)) if e.key == "error.username_taken" => Ok(None),
        Err(e) => Err(e),
    }
}

pub struct FirstAdmin {
    /// The generated password, or None when AIXIN_ADMIN_PASSWORD was used.
    pub generated: Option<String>,
}

/// Refuse unless the actor is the user `user_id` or may manage users.
fn require_self_or_admin(actor: &Actor, user_id: &str) -> Result<(), UserError> {
    if (!actor.is_system() && actor.user_id == user_id)
        || actor.require(Action::ManageUsers).is_ok()
    {
        Ok(())
    } else {
        Err(UserError::Forbidden)
    }
}

/// Update the display name (shown in lists and on printouts). Errors:
/// `Forbidden` unless the actor is the user or may manage users; `NotFound`.
pub fn set_display_name(
    conn: &mut DbConn,
    ctx: &Actor,
    user_id: &str,
    name: &str,
) -> Result<(), UserError> {
    require_self_or_admin(ctx, user_id)?;
    db::write_tx(conn, |c| {
        let n = diesel::update(users::table.find(user_id))
            .set((
                users::display_name.eq(name),
                users::updated_at.eq(db::now()),
                users::version.eq(users::version + 1),
            ))
            .execute(c)?;
        if n == 0 {
            return Err(UserError::NotFound);
        }
        audit::record(c, ctx, "user.rename", "user", user_id, name)?;
        Ok(())
    })
}

/// A staff member's own phone, ID number and home (a village and the
/// address in it), as typed on their page. Empty phone and ID fields keep
/// what is stored; `clear_phone` / `clear_id_number` ("1") remove it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct PersonalForm {
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub id_number: String,
    #[serde(default)]
    pub clear_phone: String,
    #[serde(default)]
    pub clear_id_number: String,
    #[serde(default)]
    pub home_area_id: String,
    #[serde(default)]
    pub home_address: String,
    /// The user's version when the form was shown (empty: not checked).
    #[serde(default)]
    pub version: String,
}

/// What to change of a staff member's own data, parsed.
#[derive(Debug, Clone, Default)]
pub struct Personal {
    /// None: keep; Some(None): remove; Some(Some(p)): set.
    pub phone: Option<Option<crate::domain::Phone>>,
    pub id_number: Option<Option<crate::domain::IdNumber>>,
    /// A village, or none.
    pub home_area_id: Option<String>,
    /// The address within the village (as a household's `address`).
    pub home_address: String,
}

impl Personal {
    /// Parse the form, naming every refused field at once: `field.phone`
    /// (`error.phone_format`), `field.id_number` (its format or check
    /// digit), `field.home_area` (`error.area_unknown`,
    /// `error.not_a_village`), `field.home_address` (too long, control
    /// characters, or given without a village: `error.required` on the
    /// village).
    pub fn parse(c: &mut DbConn, f: &PersonalForm) -> Result<Personal, UserError> {
        use crate::domain::{FieldChecks, IdNumber, Phone, parse_optional_text};
        let mut checks = FieldChecks::new();
        let phone = if f.clear_phone == "1" {
            Some(None)
        } else if f.phone.trim().is_empty() {
            None
        } else {
            checks.take(Phone::parse("field.phone", &f.phone)).map(Some)
        };
        let id_number = if f.clear_id_number == "1" {
            Some(None)
        } else if f.id_number.trim().is_empty() {
            None
        } else {
            checks
                .take(IdNumber::parse("field.id_number", &f.id_number))
                .map(Some)
        };
        let home_address = checks
            .take(parse_optional_text(
                "field.home_address",
                &f.home_address,
                200,
            ))
            .unwrap_or_default();
        let wanted = f.home_area_id.trim();
        let home_area_id = if wanted.is_empty() {
            if !home_address.is_empty() {
                checks.push(FieldError::new("field.home_area", "error.required"));
            }
            None
        } else {
            match areas::find(c, wanted)? {
                None => {
                    checks.push(FieldError::new("field.home_area", "error.area_unknown"));
                    None
                }
                Some(a) if a.level() != crate::domain::AreaLevel::Village => {
                    checks.push(
                        FieldError::new("field.home_area", "error.not_a_village")
                            .arg("name", a.name.clone()),
                    );
                    None
                }
                Some(a) => Some(a.id),
            }
        };
        checks.finish()?;
        Ok(Personal {
            phone,
            id_number,
            home_area_id,
            home_address,
        })
    }
}

/// A staff member's own data as shown (masked) on their page.
#[derive(Debug, Clone, Default)]
pub struct PersonalShown {
    pub phone_masked: String,
    pub id_masked: String,
    pub home_area_id: Option<String>,
    pub home_address: String,
}

/// The masked phone and ID number and the home of a user.
pub fn personal(conn: &mut DbConn, user_id: &str) -> Result<PersonalShown, UserError> {
    let (phone_masked, id_masked, home_area_id, home_address) = users::table
        .find(user_id)
        .select((
            users::phone_masked,
            users::id_masked,
            users::home_area_id,
            users::home_address,
        ))
        .first::<(String, String, Option<String>, String)>(conn)
        .optional()?
        .ok_or(UserError::NotFound)?;
    Ok(PersonalShown {
        phone_masked,
        id_masked,
        home_area_id,
        home_address,
    })
}

/// Store a staff member's own phone and ID number (encrypted with the data
/// key, masked for showing, the ID number also as the keyed hash households
/// use for look-up) and home, in one transaction with its audit row
/// (`user.personal`, naming what changed, masked), as seen at the user's
/// version `seen` (when given): one conditional update on the version
/// read. `NotFound` for an unknown user, `Forbidden` for an actor who may
/// not manage users, a conflict (409) when the user changed after `seen`.
pub fn set_personal(
    conn: &mut DbConn,
    ctx: &Actor,
    key: &crate::crypto::DataKey,
    user_id: &str,
    p: &Personal,
    seen: Option<i64>,
) -> Result<(), UserError> {
    ctx.require(Action::ManageUsers)?;
    db::write_tx(conn, |c| {
        let before = find(c, user_id)?.ok_or(UserError::NotFound)?;
        if seen.is_some_and(|v| v != before.version) {
            return Err(user_changed_meanwhile(&before));
        }
        // What changed, masked: the home, and the phone and ID number
        // (unchanged unless given; "removed" when cleared).
        let unchanged = |d: audit::Detail, name: &str| d.word(name, "audit_detail.unchanged");
        let masked_or_removed = |d: audit::Detail, name: &str, masked: &str| {
            if masked.is_empty() {
                d.word(name, "audit_detail.removed")
            } else {
                d.arg(name, masked)
            }
        };
        // The one guard: the row as read; the phone and ID number below
        // are written in the same transaction, behind it.
        let found = diesel::update(
            users::table
                .find(user_id)
                .filter(users::version.eq(before.version)),
        )
        .set((
            users::home_area_id.eq(&p.home_area_id),
            users::home_address.eq(&p.home_address),
            users::updated_at.eq(db::now()),
            users::version.eq(users::version + 1),
        ))
        .execute(c)?;
        if found == 0 {
            let now = find(c, user_id)?.ok_or(UserError::NotFound)?;
            return Err(user_changed_meanwhile(&now));
        }
        let home = match p.home_area_id.as_deref() {
            Some(a) => match areas::find(c, a)? {
                Some(area) => format!(
                    "{} {}",
                    areas::full_name(c, &area, crate::i18n::Lang::Zh)?,
                    p.home_address
                ),
                None => p.home_address.clone(),
            },
            None => p.home_address.clone(),
        };
        let mut said = audit::Detail::new("user_personal").arg("home", home.trim());
        match &p.phone {
            None => said = unchanged(said, "phone"),
            Some(phone) => {
                let (cipher, masked) = match phone {
                    Some(ph) => (key.encrypt(ph.expose()), ph.masked()),
                    None => (String::new(), String::new()),
                };
                diesel::update(users::table.find(user_id))
                    .set((
                        users::phone_cipher.eq(cipher),
                        users::phone_masked.eq(&masked),
                    ))
                    .execute(c)?;
                said = masked_or_removed(said, "phone", &masked);
            }
        }
        match &p.id_number {
            None => said = unchanged(said, "id"),
            Some(id) => {
                let (cipher, lookup, masked) = match id {
                    Some(n) => (
                        key.encrypt(n.expose()),
                        key.lookup("id", n.expose()),
                        n.masked(),
                    ),
                    None => (String::new(), String::new(), String::new()),
                };
                diesel::update(users::table.find(user_id))
                    .set((
                        users::id_cipher.eq(cipher),
                        users::id_lookup.eq(lookup),
                        users::id_masked.eq(&masked),
                    ))
                    .execute(c)?;
                said = masked_or_removed(said, "id", &masked);
            }
        }
        audit::record(c, ctx, "user.personal", "user", user_id, &said.to_string())?;
        Ok(())
    })
}

/// Staff whose own phone, ID number or home are due for erasure under the
/// retention period, as households archived that long ago are: disabled,
/// unchanged since `before` (UTC; a disabled record's last change is its
/// disabling or later), with any of them on file. Their ids, in order.
pub fn personal_due(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<Vec<String>> {
    users::table
        .filter(users::disabled.eq(true))
        .filter(users::updated_at.lt(before))
        .filter(
            users::id_cipher
                .ne("")
                .or(users::phone_cipher.ne(""))
                .or(users::home_area_id.is_not_null())
                .or(users::home_address.ne("")),
        )
        .order(users::id.asc())
        .select(users::id)
        .load(conn)
}

/// Erase the own phone, ID number and home of the staff due
/// (`personal_due`), each in its own transaction with an audit row
/// (`user.erase`) naming no personal data; the account itself (its name,
/// role and what it did) stays. Checked again inside the transaction, so a
/// record enabled or changed meanwhile is left alone. Returns the users
/// erased.
pub fn erase_personal_due(
    conn: &mut DbConn,
    who: &impl audit::Who,
    before: NaiveDateTime,
    years: i64,
) -> QueryResult<Vec<String>> {
    let mut erased = Vec::new();
    for id in personal_due(conn, before)? {
        let done = db::write_tx(conn, |c| {
            let n = diesel::update(
                users::table
                    .find(&id)
                    .filter(users::disabled.eq(true))
                    .filter(users::updated_at.lt(before)),
            )
            .set((
                users::id_cipher.eq(""),
                users::id_lookup.eq(""),
                users::id_masked.eq(""),
                users::phone_cipher.eq(""),
                users::phone_masked.eq(""),
                users::home_area_id.eq(None::<String>),
                users::home_address.eq(""),
            ))
            .execute(c)?;
            if n == 1 {
                audit::record(
                    c,
                    who,
                    "user.erase",
                    "user",
                    &id,
                    &audit::Detail::new("erased_disabled")
                        .arg("years", years)
                        .to_string(),
                )?;
            }
            Ok::<_, diesel::result::Error>(n == 1)
        })?;
        if done {
            erased.push(id);
        }
    }
    Ok(erased)
}
