//! The `user …` commands: accounts in the users file, changed under its writers' lock while a
//! server may be running (it picks changes up on its next request).

use std::io::{IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};

use auth_core::password::{Policy, StoredHash};

use crate::cli::UserCommand;
use crate::users::{self, User, UserStore, UsersError, validate_username};

/// A new PHC hash of `password` at `rounds`, as a one-line error for the CLI.
pub(crate) fn new_hash(password: &str, rounds: u32) -> Result<String, String> {
    crate::password::hash_new(password.as_bytes(), &Policy::new().with_rounds(rounds))
        .map_err(|e| e.to_string())
}

/// A new password from stdin or the terminal prompt; never empty.
fn new_password(from_stdin: bool) -> Result<String, String> {
    let password = if from_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| e.to_string())?;
        let s = s
            .strip_suffix('\n')
            .map(|s| s.strip_suffix('\r').unwrap_or(s))
            .unwrap_or(&s);
        s.to_owned()
    } else {
        read_password()?
    };
    if password.is_empty() {
        return Err("the password is empty".into());
    }
    Ok(password)
}

/// Where the first run leaves the `admin` password: beside the users file, mode 0600.
pub(crate) fn first_run_password_path(users: &Path) -> PathBuf {
    users
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(FIRST_RUN_PASSWORD_FILE)
}

/// The file name of the first-run `admin` password.
pub const FIRST_RUN_PASSWORD_FILE: &str = "admin.password";

/// The first-run password file is for the first `admin` password only: once that password is
/// changed, or the account removed, it is deleted.
fn forget_first_run_password(users: &Path, name: &str) {
    if name != "admin" {
        return;
    }
    let path = first_run_password_path(users);
    match std::fs::remove_file(&path) {
        Ok(()) => println!(
            "removed {} (it held the first-run password)",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => eprintln!("warning: cannot remove {}: {e}", path.display()),
    }
}

fn read_password() -> Result<String, String> {
    if !std::io::stdin().is_terminal() {
        return Err("no terminal to prompt on; pass --password-stdin or --hash".into());
    }
    let a = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
    let b = rpassword::prompt_password("Repeat password: ").map_err(|e| e.to_string())?;
    if a != b {
        return Err("passwords do not match".into());
    }
    Ok(a)
}

pub(crate) fn run(cmd: UserCommand) -> Result<(), String> {
    let e = |e: UsersError| e.0;
    match cmd {
        UserCommand::Add {
            name,
            password_stdin,
            hash,
            disabled,
            pbkdf2_rounds,
            users,
        } => {
            validate_username(&name).map_err(e)?;
            let hash = match hash {
                Some(h) => {
                    let parsed = StoredHash::parse(&h).map_err(|err| format!("--hash: {err}"))?;
                    let policy = Policy::new().with_rounds(pbkdf2_rounds);
                    if parsed.work() > policy.work() {
                        eprintln!(
                            "note: this hash costs more to verify than the policy ({} rounds); until \
                             its first successful login rewrites it at the policy, a login for {name} \
                             takes longer than others, which tells a timing observer it exists",
                            policy.rounds()
                        );
                    }
                    h
                }
                None => new_hash(&new_password(password_stdin)?, pbkdf2_rounds)?,
            };
            users::modify_file(&users.users, |all| {
                if all.contains_key(&name) {
                    return Err(UsersError(format!("user {name:?} already exists")));
                }
                all.insert(
                    name.clone(),
                    User {
                        hash,
                        active: !disabled,
                    },
                );
                Ok(())
            })
            .map_err(e)?;
            println!("added {name}");
        }
        UserCommand::Disable { name, users } => set_active(&users.users, &name, false)?,
        UserCommand::Enable { name, users } => set_active(&users.users, &name, true)?,
        UserCommand::Passwd {
            name,
            password_stdin,
            pbkdf2_rounds,
            users,
        } => {
            let hash = new_hash(&new_password(password_stdin)?, pbkdf2_rounds)?;
            users::modify_file(&users.users, |all| {
                let u = all
                    .get_mut(&name)
                    .ok_or_else(|| UsersError(format!("no user {name:?}")))?;
                u.hash = hash;
                Ok(())
            })
            .map_err(e)?;
            println!("password changed for {name}");
            forget_first_run_password(&users.users, &name);
        }
        UserCommand::Remove { name, users } => {
            users::modify_file(&users.users, |all| {
                all.remove(&name)
                    .map(|_| ())
                    .ok_or_else(|| UsersError(format!("no user {name:?}")))
            })
            .map_err(e)?;
            println!("removed {name}");
            forget_first_run_password(&users.users, &name);
        }
        UserCommand::List { users } => {
            let store = UserStore::open(&users.users).map_err(e)?;
            for (name, u) in store.snapshot().iter() {
                let (format, rounds) = StoredHash::parse(&u.hash)
                    .map(|h| (format!("{:?}", h.format()).to_lowercase(), h.rounds()))
                    .unwrap_or_default();
                let status = if u.active { "active" } else { "disabled" };
                println!("{name}\t{status}\t{format}\t{rounds}");
            }
        }
    }
    Ok(())
}

fn set_active(path: &Path, name: &str, active: bool) -> Result<(), String> {
    users::modify_file(path, |all| {
        let u = all
            .get_mut(name)
            .ok_or_else(|| UsersError(format!("no user {name:?}")))?;
        u.active = active;
        Ok(())
    })
    .map_err(|e| e.0)?;
    println!("{} {name}", if active { "enabled" } else { "disabled" });
    Ok(())
}
