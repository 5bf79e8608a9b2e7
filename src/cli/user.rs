//! `aixin user` and the first administrator: accounts made and changed from
//! the console.

use super::*;

pub(super) fn first_admin(config: &Config, pool: &DbPool) -> Result<(), String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let created = users::ensure_first_admin(
        &mut conn,
        config.password_cost,
        config.admin_password.as_deref(),
    )
    .map_err(|e| describe_user_error(&e))?;
    if let Some(first) = created {
        match first.generated {
            Some(pw) => println!(
                "aixin: created the first administrator.\n  username: admin\n  password: {pw}\n  (shown only this once; you will be asked to choose a new one at first login)"
            ),
            None => println!(
                "aixin: created the first administrator \"admin\" with the password from AIXIN_ADMIN_PASSWORD"
            ),
        }
    }
    Ok(())
}

fn describe_user_error(e: &UserError) -> String {
    match e {
        UserError::Invalid(f) | UserError::Conflict(_, f) => i18n::field_error(Lang::En, f),
        UserError::NotFound => "no such user".into(),
        other => other.to_string(),
    }
}

fn read_password_stdin() -> Result<NewPassword, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("password (then Enter):");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let pw = line.trim_end_matches(['\r', '\n']);
    NewPassword::parse("field.password", pw).map_err(|e| i18n::field_error(Lang::En, &e))
}

pub(super) fn user_command(
    config: &Config,
    pool: &DbPool,
    command: UserCommand,
) -> Result<(), String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let ctx = crate::auth::Actor::console();
    match command {
        UserCommand::Add {
            username,
            role,
            area,
            store,
            password_stdin,
        } => {
            let username =
                Username::parse(&username).map_err(|e| i18n::field_error(Lang::En, &e))?;
            let assignment = Assignment::parse(
                &mut conn,
                &role,
                area.as_deref().unwrap_or(""),
                store.as_deref().unwrap_or(""),
            )
            .map_err(|e| describe_user_error(&e))?;
            let initial = if password_stdin {
                InitialPassword::Given(read_password_stdin()?)
            } else {
                InitialPassword::Generate
            };
            let (user, generated) = users::create(
                &mut conn,
                &ctx,
                config.password_cost,
                &username,
                "",
                &assignment,
                initial,
            )
            .map_err(|e| describe_user_error(&e))?;
            println!("created user {} ({})", user.username, user.role);
            if let Some(pw) = generated {
                println!("password: {pw}\n(shown only this once; to be changed at first login)");
            }
            Ok(())
        }
        UserCommand::Passwd {
            username,
            password_stdin,
        } => {
            let user = users::find_by_username(&mut conn, &username.trim().to_lowercase())
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no user named \"{username}\""))?;
            let new = if password_stdin {
                InitialPassword::Given(read_password_stdin()?)
            } else {
                InitialPassword::Generate
            };
            let generated =
                users::set_password(&mut conn, &ctx, config.password_cost, &user.id, new, None)
                    .map_err(|e| describe_user_error(&e))?;
            println!(
                "password of {} changed; their sessions have ended",
                user.username
            );
            if let Some(pw) = generated {
                println!("password: {pw}\n(shown only this once; to be changed at next login)");
            }
            Ok(())
        }
        UserCommand::Disable { username } => {
            let user = users::find_by_username(&mut conn, &username.trim().to_lowercase())
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no user named \"{username}\""))?;
            users::set_disabled(&mut conn, &ctx, &user.id, true)
                .map_err(|e| describe_user_error(&e))?;
            println!("user {} disabled; their sessions have ended", user.username);
            Ok(())
        }
    }
}
