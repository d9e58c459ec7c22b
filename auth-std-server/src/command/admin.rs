//! The `user …` commands: accounts in the store, changed while servers run (each sees a change
//! within a second, through the store's change feed).

use std::fmt;
use std::io::{IsTerminal as _, Read as _};

use auth_core::StoredHashError;
use auth_core::password::{Policy, StoredHash};

use super::startup::FIRST_RUN_PASSWORD_FILE;
use crate::cli::{ScopeArgs, SessionCommand, StoreArgs, UserCommand};
use crate::password::{NewHashError, new_account_hash};
use crate::store::{Store, StoreError, StoreUrl};
use crate::users::{User, UsernameError, UsersError, validate_username};

/// Why a `user …` command failed. `Display` is the one line the CLI prints.
#[derive(Debug)]
#[non_exhaustive]
pub enum AdminError {
    /// The store failed, or the command names an unknown or existing account.
    Store(StoreError),
    /// The file to import is bad.
    Users(UsersError),
    /// The username is not valid.
    Username(UsernameError),
    /// `--hash` is not a usable stored hash.
    ImportedHash(StoredHashError),
    /// A new hash could not be made.
    NewHash(NewHashError),
    /// Standard input or the terminal could not be read, or standard output written.
    Input(std::io::Error),
    /// No terminal to prompt on, and no `--password-stdin` or `--hash`.
    NoTerminal,
    /// The two prompted passwords differ.
    Mismatch,
    /// The new password is empty.
    EmptyPassword,
    /// `session revoke` of an id the account has no live session with.
    NoSuchSession(String),
    /// A scope the server does not define (`--scope`, `AUTH_SCOPES`).
    UndefinedScope(String),
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::Store(e) => e.fmt(f),
            AdminError::Users(e) => e.fmt(f),
            AdminError::Username(e) => e.fmt(f),
            AdminError::ImportedHash(e) => write!(f, "--hash: {e}"),
            AdminError::NewHash(e) => e.fmt(f),
            AdminError::Input(e) => write!(f, "cannot read the password: {e}"),
            AdminError::NoTerminal => {
                f.write_str("no terminal to prompt on; pass --password-stdin or --hash")
            }
            AdminError::Mismatch => f.write_str("passwords do not match"),
            AdminError::EmptyPassword => f.write_str("the password is empty"),
            AdminError::UndefinedScope(s) => write!(
                f,
                "scope {s:?} is not defined: define it with --scope {s}=DESCRIPTION (or AUTH_SCOPES), as serve has it"
            ),
            AdminError::NoSuchSession(id) => {
                write!(
                    f,
                    "no live session {id:?} for this user (see `session list`)"
                )
            }
        }
    }
}

impl std::error::Error for AdminError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AdminError::Store(e) => Some(e),
            AdminError::Users(e) => Some(e),
            AdminError::Username(e) => Some(e),
            AdminError::ImportedHash(e) => Some(e),
            AdminError::NewHash(e) => Some(e),
            AdminError::Input(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError::Store(e)
    }
}

impl From<NewHashError> for AdminError {
    fn from(e: NewHashError) -> Self {
        AdminError::NewHash(e)
    }
}

impl From<UsersError> for AdminError {
    fn from(e: UsersError) -> Self {
        AdminError::Users(e)
    }
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

/// The first-run password file is for the first `admin` password only: once that password is
/// changed, or the account removed, it is deleted.
fn forget_first_run_password(url: &StoreUrl, name: &str) {
    if name != "admin" {
        return;
    }
    let path = url.data_dir().join(FIRST_RUN_PASSWORD_FILE);
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

/// Accounts per page for `list` and `export`: memory stays flat with any number of accounts.
const PAGE: u32 = 1000;

pub(crate) fn run(cmd: UserCommand) -> Result<(), AdminError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(AdminError::Input)?;
    rt.block_on(run_async(cmd))
}

pub(crate) fn run_session(cmd: SessionCommand) -> Result<(), AdminError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(AdminError::Input)?;
    rt.block_on(session_async(cmd))
}

/// A Unix time as an HTTP date (`Tue, 01 Dec 2026 08:07:07 GMT`).
fn date(secs: u64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

async fn session_async(cmd: SessionCommand) -> Result<(), AdminError> {
    let now = crate::clock::now();
    match cmd {
        SessionCommand::List { name, store: args } => {
            let (store, _) = open(&args).await?;
            if store.account(&name).await?.is_none() {
                return Err(StoreError::NoSuchUser(name).into());
            }
            for s in store.sessions_of(&name).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{:?}",
                    s.id,
                    date(s.created),
                    date(s.last_used),
                    s.address,
                    s.user_agent
                );
            }
        }
        SessionCommand::Revoke {
            name,
            id,
            all: _,
            store: args,
        } => {
            let (store, _) = open(&args).await?;
            if store.account(&name).await?.is_none() {
                return Err(StoreError::NoSuchUser(name).into());
            }
            match id {
                Some(id) => {
                    if store.revoke_session(&id, Some(&name), now).await? {
                        println!("revoked session {id} of {name}");
                    } else {
                        return Err(AdminError::NoSuchSession(id));
                    }
                }
                None => {
                    let n = store.revoke_sessions_of(&name, now).await?.len();
                    println!("revoked {n} sessions of {name}");
                }
            }
        }
    }
    Ok(())
}

/// `user add --hash`: the hash, parsed; a note when it costs more than the policy.
fn imported_hash(hash: &str, name: &str, rounds: u32) -> Result<User, AdminError> {
    let user = User::new(hash, true).map_err(AdminError::ImportedHash)?;
    let policy = Policy::new().with_rounds(rounds);
    if user.stored_hash().work() > policy.work() {
        eprintln!(
            "note: this hash costs more to verify than the policy ({} rounds); until its first \
             successful login rewrites it at the policy, a login for {name} takes longer than \
             others, which tells a timing observer it exists",
            policy.rounds()
        );
    }
    Ok(user)
}

/// One line of `user list`: name, status, hash format, rounds.
fn list_line(name: &str, u: &User) -> String {
    let h: &StoredHash = u.stored_hash();
    let format = format!("{:?}", h.format()).to_lowercase();
    let status = if u.active() { "active" } else { "disabled" };
    match u.scopes() {
        "" => format!("{name}\t{status}\t{format}\t{}\n", h.rounds()),
        scopes => format!("{name}\t{status}\t{format}\t{}\t{scopes}\n", h.rounds()),
    }
}

/// `scopes`, each checked against the server's definitions: a scope `--scope` does not define
/// is refused, naming it.
fn defined_scopes(scopes: &[String], defined: &ScopeArgs) -> Result<String, AdminError> {
    for s in scopes.iter().filter(|s| !s.is_empty()) {
        if !defined.scopes.iter().any(|d| d.name == *s) {
            return Err(AdminError::UndefinedScope(s.clone()));
        }
    }
    Ok(scopes
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" "))
}

/// `user add`: a new hash from the password, or an imported one.
async fn add(
    name: &str,
    (password_stdin, hash, disabled): (bool, Option<String>, bool),
    (rounds, scopes): (u32, String),
    args: &StoreArgs,
    now: u64,
) -> Result<(), AdminError> {
    validate_username(name).map_err(AdminError::Username)?;
    let mut user = match hash {
        Some(h) => imported_hash(&h, name, rounds)?,
        None => new_account_hash(&new_password(password_stdin)?, rounds)?,
    };
    user.set_active(!disabled);
    let (store, _) = open(args).await?;
    store.add(name, &user.with_scopes(&scopes), now).await?;
    println!("added {name}");
    Ok(())
}

/// `user scopes NAME --set … | --add … --remove …`.
async fn set_scopes(
    name: &str,
    (set, add, remove): (Option<Vec<String>>, Vec<String>, Vec<String>),
    defined: &ScopeArgs,
    args: &StoreArgs,
    now: u64,
) -> Result<(), AdminError> {
    let (store, _) = open(args).await?;
    let current = match store.account(name).await? {
        Some(row) => row.scopes,
        None => return Err(StoreError::NoSuchUser(name.to_owned()).into()),
    };
    let mut scopes: Vec<String> = match set {
        Some(set) => set,
        None => auth_core::scope::names(&current)
            .map(str::to_owned)
            .collect(),
    };
    for a in add {
        if !scopes.contains(&a) {
            scopes.push(a);
        }
    }
    scopes.retain(|s| !remove.contains(s));
    let scopes = defined_scopes(&scopes, defined)?;
    store.set_scopes(name, &scopes, now).await?;
    println!("scopes of {name}: {scopes}");
    Ok(())
}

async fn open(args: &StoreArgs) -> Result<(Store, StoreUrl), AdminError> {
    let url = args.url()?;
    let store = Store::open(&url, args.limits()).await?;
    Ok((store, url))
}

async fn run_async(cmd: UserCommand) -> Result<(), AdminError> {
    let now = crate::clock::now();
    match cmd {
        UserCommand::Add {
            name,
            password_stdin,
            hash,
            disabled,
            account_scopes,
            pbkdf2_rounds,
            defined,
            store: args,
        } => {
            let scopes = defined_scopes(&account_scopes, &defined)?;
            let how = (password_stdin, hash, disabled);
            add(&name, how, (pbkdf2_rounds, scopes), &args, now).await?;
        }
        UserCommand::Scopes {
            name,
            set,
            add,
            remove,
            defined,
            store: args,
        } => set_scopes(&name, (set, add, remove), &defined, &args, now).await?,
        UserCommand::Disable { name, store: args } => set_active(&args, &name, false).await?,
        UserCommand::Enable { name, store: args } => set_active(&args, &name, true).await?,
        UserCommand::Passwd {
            name,
            password_stdin,
            pbkdf2_rounds,
            store: args,
        } => passwd(&name, password_stdin, pbkdf2_rounds, &args, now).await?,
        UserCommand::Remove { name, store: args } => remove(&name, &args, now).await?,
        UserCommand::List { store: args } => pages(&open(&args).await?.0, list_line).await?,
        UserCommand::Import {
            file,
            defined,
            store: args,
        } => import(&file, &defined, &args, now).await?,
        UserCommand::Export { store: args } => {
            let store = open(&args).await?.0;
            print!("{}", crate::users::HEADER);
            pages(&store, crate::users::render_line).await?;
        }
    }
    Ok(())
}

/// `user remove NAME`: its sessions are revoked first (round 3 item 6).
async fn remove(name: &str, args: &StoreArgs, now: u64) -> Result<(), AdminError> {
    let (store, url) = open(args).await?;
    store.remove(name, now).await?;
    println!("removed {name}");
    forget_first_run_password(&url, name);
    Ok(())
}

/// `user passwd NAME`: a new hash at `rounds`; the account's sessions are revoked with it.
async fn passwd(
    name: &str,
    password_stdin: bool,
    rounds: u32,
    args: &StoreArgs,
    now: u64,
) -> Result<(), AdminError> {
    let user = new_account_hash(&new_password(password_stdin)?, rounds)?;
    let (store, url) = open(args).await?;
    store.set_password(name, &user, now).await?;
    println!("password changed for {name}; its sessions were revoked");
    forget_first_run_password(&url, name);
    Ok(())
}

/// `user import FILE`: the accounts of a users file; names already there are kept.
async fn import(
    file: &std::path::Path,
    defined: &ScopeArgs,
    args: &StoreArgs,
    now: u64,
) -> Result<(), AdminError> {
    let parsed = crate::users::read_file(file)?;
    let list: Vec<_> = parsed.into_iter().collect();
    for (_, user) in &list {
        let named: Vec<String> = auth_core::scope::names(user.scopes())
            .map(str::to_owned)
            .collect();
        defined_scopes(&named, defined)?;
    }
    let (store, url) = open(args).await?;
    let added = store.import(&list, now).await?;
    println!(
        "imported {added} of {} accounts from {} into {url} (names already there were kept)",
        list.len(),
        file.display()
    );
    Ok(())
}

/// Writes every account through `line`, a page at a time, to standard output.
async fn pages(store: &Store, line: impl Fn(&str, &User) -> String) -> Result<(), AdminError> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let mut after = String::new();
    loop {
        let page = store.page(&after, PAGE).await?;
        for (name, u) in &page {
            out.write_all(line(name, u).as_bytes())
                .map_err(AdminError::Input)?;
        }
        match page.last() {
            Some((name, _)) if page.len() == PAGE as usize => after.clone_from(name),
            _ => break,
        }
    }
    out.flush().map_err(AdminError::Input)
}

async fn set_active(args: &StoreArgs, name: &str, active: bool) -> Result<(), AdminError> {
    let (store, _) = open(args).await?;
    store.set_active(name, active, crate::clock::now()).await?;
    println!("{} {name}", if active { "enabled" } else { "disabled" });
    Ok(())
}
