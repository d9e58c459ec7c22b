//! The `user …` commands: accounts in the users file, changed under its writers' lock while a
//! server may be running (it picks changes up on its next request).

use std::fmt;
use std::io::{IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};

use auth_core::password::{Policy, StoredHash};
use auth_core::{HashError, StoredHashError};

use crate::cli::UserCommand;
use crate::users::{self, User, UserStore, UsersError, validate_username};

/// Why a `user …` command failed. `Display` is the one line the CLI prints.
#[derive(Debug)]
#[non_exhaustive]
pub enum AdminError {
    /// The users file could not be read or changed, or the command names a bad or unknown
    /// account.
    Users(UsersError),
    /// `--hash` is not a usable stored hash.
    ImportedHash(StoredHashError),
    /// A new hash could not be made.
    Hash(HashError),
    /// A hash just made does not parse back: a bug, reported rather than stored.
    NewHash(StoredHashError),
    /// Standard input or the terminal could not be read.
    Input(std::io::Error),
    /// No terminal to prompt on, and no `--password-stdin` or `--hash`.
    NoTerminal,
    /// The two prompted passwords differ.
    Mismatch,
    /// The new password is empty.
    EmptyPassword,
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::Users(e) => e.fmt(f),
            AdminError::ImportedHash(e) => write!(f, "--hash: {e}"),
            AdminError::Hash(e) => write!(f, "cannot hash the password: {e}"),
            AdminError::NewHash(e) => write!(f, "the new hash does not parse back: {e}"),
            AdminError::Input(e) => write!(f, "cannot read the password: {e}"),
            AdminError::NoTerminal => {
                f.write_str("no terminal to prompt on; pass --password-stdin or --hash")
            }
            AdminError::Mismatch => f.write_str("passwords do not match"),
            AdminError::EmptyPassword => f.write_str("the password is empty"),
        }
    }
}

impl std::error::Error for AdminError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AdminError::Users(e) => Some(e),
            AdminError::ImportedHash(e) => Some(e),
            AdminError::Hash(e) => Some(e),
            AdminError::NewHash(e) => Some(e),
            AdminError::Input(e) => Some(e),
            _ => None,
        }
    }
}

impl From<UsersError> for AdminError {
    fn from(e: UsersError) -> Self {
        AdminError::Users(e)
    }
}

/// A new PHC hash of `password` at `rounds`, parsed for the account it goes into.
pub(crate) fn new_hash(password: &str, rounds: u32) -> Result<User, AdminError> {
    let hash = crate::password::hash_new(password.as_bytes(), &Policy::new().with_rounds(rounds))
        .map_err(AdminError::Hash)?;
    User::new(&hash, true).map_err(AdminError::NewHash)
}

/// A new password from stdin or the terminal prompt; never empty.
fn new_password(from_stdin: bool) -> Result<String, AdminError> {
    let password = if from_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(AdminError::Input)?;
        let s = s
            .strip_suffix('\n')
            .map(|s| s.strip_suffix('\r').unwrap_or(s))
            .unwrap_or(&s);
        s.to_owned()
    } else {
        read_password()?
    };
    if password.is_empty() {
        return Err(AdminError::EmptyPassword);
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

fn read_password() -> Result<String, AdminError> {
    if !std::io::stdin().is_terminal() {
        return Err(AdminError::NoTerminal);
    }
    let a = rpassword::prompt_password("Password: ").map_err(AdminError::Input)?;
    let b = rpassword::prompt_password("Repeat password: ").map_err(AdminError::Input)?;
    if a != b {
        return Err(AdminError::Mismatch);
    }
    Ok(a)
}

pub(crate) fn run(cmd: UserCommand) -> Result<(), AdminError> {
    match cmd {
        UserCommand::Add {
            name,
            password_stdin,
            hash,
            disabled,
            pbkdf2_rounds,
            users,
        } => {
            validate_username(&name).map_err(|e| AdminError::Users(UsersError::Username(e)))?;
            let mut user = match hash {
                Some(h) => {
                    let user = User::new(&h, true).map_err(AdminError::ImportedHash)?;
                    let policy = Policy::new().with_rounds(pbkdf2_rounds);
                    if user.stored_hash().work() > policy.work() {
                        eprintln!(
                            "note: this hash costs more to verify than the policy ({} rounds); until \
                             its first successful login rewrites it at the policy, a login for {name} \
                             takes longer than others, which tells a timing observer it exists",
                            policy.rounds()
                        );
                    }
                    user
                }
                None => new_hash(&new_password(password_stdin)?, pbkdf2_rounds)?,
            };
            user.set_active(!disabled);
            users::modify_file(&users.users, |all| {
                if all.contains_key(&name) {
                    return Err(UsersError::Exists(name.clone()));
                }
                all.insert(name.clone(), user);
                Ok(())
            })?;
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
            let mut user = new_hash(&new_password(password_stdin)?, pbkdf2_rounds)?;
            users::modify_file(&users.users, |all| {
                let u = all
                    .get_mut(&name)
                    .ok_or_else(|| UsersError::NoSuchUser(name.clone()))?;
                user.set_active(u.active());
                *u = user;
                Ok(())
            })?;
            println!("password changed for {name}");
            forget_first_run_password(&users.users, &name);
        }
        UserCommand::Remove { name, users } => {
            users::modify_file(&users.users, |all| {
                all.remove(&name)
                    .map(|_| ())
                    .ok_or_else(|| UsersError::NoSuchUser(name.clone()))
            })?;
            println!("removed {name}");
            forget_first_run_password(&users.users, &name);
        }
        UserCommand::List { users } => {
            let store = UserStore::open(&users.users)?;
            for (name, u) in store.snapshot().iter() {
                let h: &StoredHash = u.stored_hash();
                let (format, rounds) = (format!("{:?}", h.format()).to_lowercase(), h.rounds());
                let status = if u.active() { "active" } else { "disabled" };
                println!("{name}\t{status}\t{format}\t{rounds}");
            }
        }
    }
    Ok(())
}

fn set_active(path: &Path, name: &str, active: bool) -> Result<(), AdminError> {
    users::modify_file(path, |all| {
        let u = all
            .get_mut(name)
            .ok_or_else(|| UsersError::NoSuchUser(name.to_owned()))?;
        u.set_active(active);
        Ok(())
    })?;
    println!("{} {name}", if active { "enabled" } else { "disabled" });
    Ok(())
}
