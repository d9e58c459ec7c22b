//! The users file: one account per line, `<name>\t<active|disabled>\t<stored hash>`.
//!
//! Writers (the CLI and the server's rehash task) take an exclusive lock on `<file>.lock`
//! (mode 0600), re-read the file, change it, and replace it atomically ([`crate::fs`]). So
//! concurrent writers never lose each other's updates, and a crash at any point leaves the old
//! or the new file, never a partial one. Readers never lock: the server re-reads the file when
//! its identity (inode, size, mtime) changes, and keeps the last good copy if the new one does
//! not parse. Content and identity are always read together: a writer takes the identity of
//! what it wrote while it still holds the lock, and a reader re-reads when the identity moved
//! while it read.
//!
//! The CLI waits for the lock. The server never does on a request's behalf: its rehash tries
//! the lock for a bounded time and otherwise skips the upgrade until the next login, so a
//! process holding the lock (another user's, since `flock` works on any descriptor a user can
//! open) cannot park the server's threads.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;
use std::time::{Duration, Instant};

use auth_core::StoredHashError;
use auth_core::password::StoredHash;

/// Longest username, in bytes.
pub const MAX_USERNAME_LEN: usize = 64;

const HEADER: &str = "# auth-std-server users: <name>\\t<active|disabled>\\t<stored hash>\n";

/// Why a username is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsernameError {
    /// Empty, or longer than [`MAX_USERNAME_LEN`].
    Length,
    /// Starts with `-` or `.`.
    Leading,
    /// Has a character outside the allowed set.
    Character(char),
}

impl fmt::Display for UsernameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsernameError::Length => {
                write!(f, "username must be 1 to {MAX_USERNAME_LEN} characters")
            }
            UsernameError::Leading => f.write_str("username must not start with '-' or '.'"),
            UsernameError::Character(c) => write!(
                f,
                "username has the character {c:?}; allowed are ASCII letters, digits, '.', '_', '-' and '@'"
            ),
        }
    }
}

impl std::error::Error for UsernameError {}

/// What is wrong with one line of a users file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineError {
    /// Not three tab-separated fields; how many there were.
    Fields(usize),
    /// The status is neither `active` nor `disabled`.
    Status(String),
    /// The name is not a valid username.
    Username(UsernameError),
    /// The stored hash does not parse or is below the safety caps.
    Hash(StoredHashError),
    /// The name appeared on an earlier line.
    Duplicate(String),
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::Fields(n) => write!(f, "expected 3 tab-separated fields, found {n}"),
            LineError::Status(s) => {
                write!(f, "status must be 'active' or 'disabled', not {s:?}")
            }
            LineError::Username(e) => e.fmt(f),
            LineError::Hash(e) => e.fmt(f),
            LineError::Duplicate(name) => write!(f, "user {name:?} appears twice"),
        }
    }
}

/// A users-file problem: which file or line, and what.
#[derive(Debug)]
#[non_exhaustive]
pub enum UsersError {
    /// A line of the file is bad.
    Line {
        /// The file, when known.
        path: Option<PathBuf>,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        error: LineError,
    },
    /// Reading, writing or locking the file failed.
    Io {
        /// What was being done: "read", "write", "open lock file", "lock".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file kept being replaced while it was read.
    Unstable(PathBuf),
    /// `user add` of a name that exists.
    Exists(String),
    /// A command named an account that does not exist.
    NoSuchUser(String),
    /// A username given on the command line is not valid.
    Username(UsernameError),
    /// A stored hash given on the command line does not parse.
    Hash(StoredHashError),
}

impl fmt::Display for UsersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsersError::Line {
                path: Some(path),
                line,
                error,
            } => write!(f, "users file {}: line {line}: {error}", path.display()),
            UsersError::Line {
                path: None,
                line,
                error,
            } => write!(f, "line {line}: {error}"),
            UsersError::Io {
                action,
                path,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
            UsersError::Unstable(path) => write!(
                f,
                "users file {} kept changing while it was read",
                path.display()
            ),
            UsersError::Exists(name) => write!(f, "user {name:?} already exists"),
            UsersError::NoSuchUser(name) => write!(f, "no user {name:?}"),
            UsersError::Username(e) => e.fmt(f),
            UsersError::Hash(e) => write!(f, "stored hash: {e}"),
        }
    }
}

impl std::error::Error for UsersError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UsersError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl UsersError {
    fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        UsersError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

/// Usernames are 1 to 64 characters of ASCII letters, digits, `.`, `_`, `-` and `@`, not
/// starting with `-` or `.`.
///
/// # Errors
/// What is wrong with the name.
pub fn validate_username(name: &str) -> Result<(), UsernameError> {
    if name.is_empty() || name.len() > MAX_USERNAME_LEN {
        return Err(UsernameError::Length);
    }
    if name.starts_with(['-', '.']) {
        return Err(UsernameError::Leading);
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._-@".contains(*c)))
    {
        return Err(UsernameError::Character(c));
    }
    Ok(())
}

/// One account: its stored hash, parsed once when loaded, and its status.
#[derive(Clone)]
pub struct User {
    text: String,
    parsed: StoredHash,
    active: bool,
}

impl User {
    /// An account with the stored PHC, passlib or Django hash `hash`.
    ///
    /// # Errors
    /// The hash does not parse or is below the safety caps.
    pub fn new(hash: &str, active: bool) -> Result<Self, StoredHashError> {
        Ok(User {
            parsed: StoredHash::parse(hash)?,
            text: hash.to_owned(),
            active,
        })
    }

    /// The stored hash as written in the file.
    pub fn hash(&self) -> &str {
        &self.text
    }

    /// The stored hash, parsed.
    pub fn stored_hash(&self) -> &StoredHash {
        &self.parsed
    }

    /// `false` when disabled.
    pub fn active(&self) -> bool {
        self.active
    }

    /// Enables or disables the account.
    pub fn set_active(&mut self, active: bool) {
        self.active = active;
    }

    /// The core's view of this account, for [`auth_core::flow::login`].
    pub fn account(&self) -> auth_core::flow::Account<'_> {
        auth_core::flow::Account {
            stored_hash: &self.parsed,
            active: self.active,
        }
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// All accounts, by name.
pub type Users = BTreeMap<String, User>;

/// Parses a users file.
///
/// # Errors
/// The first bad line, by number, and what is wrong with it.
pub fn parse(text: &str) -> Result<Users, UsersError> {
    let mut users = Users::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, user) = parse_line(line).map_err(|error| UsersError::Line {
            path: None,
            line: n,
            error,
        })?;
        if users.contains_key(name) {
            return Err(UsersError::Line {
                path: None,
                line: n,
                error: LineError::Duplicate(name.to_owned()),
            });
        }
        users.insert(name.to_owned(), user);
    }
    Ok(users)
}

/// One `<name>\t<status>\t<hash>` line.
fn parse_line(line: &str) -> Result<(&str, User), LineError> {
    let fields: Vec<&str> = line.split('\t').collect();
    let [name, status, hash] = fields[..] else {
        return Err(LineError::Fields(fields.len()));
    };
    validate_username(name).map_err(LineError::Username)?;
    let active = match status {
        "active" => true,
        "disabled" => false,
        other => return Err(LineError::Status(other.to_owned())),
    };
    let user = User::new(hash, active).map_err(LineError::Hash)?;
    Ok((name, user))
}

/// Names the file in a parse error.
fn in_file(path: &Path) -> impl FnOnce(UsersError) -> UsersError + '_ {
    move |e| match e {
        UsersError::Line {
            path: None,
            line,
            error,
        } => UsersError::Line {
            path: Some(path.to_owned()),
            line,
            error,
        },
        other => other,
    }
}

/// Renders a users file.
pub fn render(users: &Users) -> String {
    let mut s = String::from(HEADER);
    for (name, u) in users {
        let status = if u.active { "active" } else { "disabled" };
        s.push_str(&format!("{name}\t{status}\t{}\n", u.text));
    }
    s
}

/// Identity of the file on disk, to notice replacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    len: u64,
    modified: Option<SystemTime>,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = fs::metadata(path).ok()?;
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let ino = 0;
    Some(Stamp {
        ino,
        len: m.len(),
        modified: m.modified().ok(),
    })
}

/// The users file, cached in memory and refreshed when it changes on disk.
#[derive(Debug)]
pub struct UserStore {
    path: PathBuf,
    current: RwLock<Arc<Users>>,
    /// The stamp of the file last read (good or bad), so a bad file is reported once. Read
    /// under a shared lock on every request; written only when the file changed.
    seen: RwLock<Option<Stamp>>,
}

impl UserStore {
    /// Loads the file.
    ///
    /// # Errors
    /// A missing, unreadable or corrupt file, naming the path and the bad line.
    pub fn open(path: &Path) -> Result<Self, UsersError> {
        let seen = stamp(path);
        let text = fs::read_to_string(path).map_err(|e| UsersError::io("read", path, e))?;
        let users = parse(&text).map_err(in_file(path))?;
        Ok(UserStore {
            path: path.to_owned(),
            current: RwLock::new(Arc::new(users)),
            seen: RwLock::new(seen),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current accounts, after picking up any change on disk.
    pub fn snapshot(&self) -> Arc<Users> {
        self.refresh();
        self.current
            .read()
            .map(|g| Arc::clone(&g))
            .unwrap_or_default()
    }

    /// One account, after picking up any change on disk.
    pub fn get(&self, name: &str) -> Option<User> {
        self.snapshot().get(name).cloned()
    }

    /// Re-reads the file if it was replaced or changed. A file that does not parse is logged
    /// and ignored: the last good copy stays in use.
    pub fn refresh(&self) {
        let now = stamp(&self.path);
        // The common case, the file unchanged, takes only a shared lock.
        if self.seen.read().is_ok_and(|seen| *seen == now) {
            return;
        }
        let Ok(mut seen) = self.seen.write() else {
            return;
        };
        if *seen == now {
            return; // another request reloaded it meanwhile
        }
        // Read the content and check that the identity did not move meanwhile, so the stamp
        // recorded always belongs to the content kept.
        let (text, now) = match read_with_stamp(&self.path) {
            Ok(r) => r,
            Err(e) => {
                *seen = now;
                tracing::error!(path = %self.path.display(), error = %e, "users file unreadable; keeping the last good copy");
                return;
            }
        };
        *seen = now;
        match parse(&text) {
            Ok(users) => {
                if let Ok(mut cur) = self.current.write() {
                    *cur = Arc::new(users);
                }
                tracing::info!(path = %self.path.display(), "users file reloaded");
            }
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "users file changed but is invalid; keeping the last good copy");
            }
        }
    }

    /// Changes the file under the writers' lock: re-reads it, applies `f`, writes it atomically
    /// and updates the cache. Blocking: call it off the async executor.
    ///
    /// # Errors
    /// Lock or I/O failures, a corrupt file on disk, or `f`'s own error.
    pub fn modify<R>(
        &self,
        f: impl FnOnce(&mut Users) -> Result<R, UsersError>,
    ) -> Result<R, UsersError> {
        self.modify_locked(LockWait::Block, f)
    }

    /// [`UserStore::modify`], but waits at most `wait` for the writers' lock.
    ///
    /// # Errors
    /// [`UsersError`] `"lock busy"` when the lock was not free in time; else as `modify`.
    pub fn try_modify<R>(
        &self,
        wait: Duration,
        f: impl FnOnce(&mut Users) -> Result<R, UsersError>,
    ) -> Result<R, UsersError> {
        self.modify_locked(LockWait::AtMost(wait), f)
    }

    fn modify_locked<R>(
        &self,
        wait: LockWait,
        f: impl FnOnce(&mut Users) -> Result<R, UsersError>,
    ) -> Result<R, UsersError> {
        let (users, r, written) = modify_file_with(&self.path, wait, f)?;
        self.record(users, written);
        Ok(r)
    }

    /// Caches what a writer wrote with the stamp taken when it wrote it (under the file lock),
    /// never a stamp read later: another writer may have replaced the file since, and its
    /// content must then still be picked up by [`UserStore::refresh`].
    fn record(&self, users: Users, written: Option<Stamp>) {
        // Both under the cache's own locks, in refresh's order: a concurrent refresh sees the
        // old stamp and content or the new ones.
        let Ok(mut seen) = self.seen.write() else {
            return;
        };
        if let Ok(mut cur) = self.current.write() {
            *cur = Arc::new(users);
        }
        *seen = written;
    }
}

/// How long a writer waits for the lock.
#[derive(Debug, Clone, Copy)]
enum LockWait {
    Block,
    AtMost(Duration),
}

/// The file's text and the stamp that belongs to it: retried while the file moves under us.
fn read_with_stamp(path: &Path) -> Result<(String, Option<Stamp>), UsersError> {
    let mut before = stamp(path);
    for _ in 0..8 {
        let text = fs::read_to_string(path).map_err(|e| UsersError::io("read", path, e))?;
        let after = stamp(path);
        if after == before {
            return Ok((text, after));
        }
        before = after;
    }
    Err(UsersError::Unstable(path.to_owned()))
}

impl crate::auth::Accounts for UserStore {
    fn status(&self, subject: &str) -> crate::auth::AccountStatus {
        use crate::auth::AccountStatus;
        match self.snapshot().get(subject) {
            Some(u) if u.active => AccountStatus::Active,
            Some(_) => AccountStatus::Disabled,
            None => AccountStatus::Unknown,
        }
    }
}

/// Read-modify-write of a users file under `<file>.lock`; creates the file when missing.
///
/// # Errors
/// As [`UserStore::modify`].
pub fn modify_file<R>(
    path: &Path,
    f: impl FnOnce(&mut Users) -> Result<R, UsersError>,
) -> Result<(Users, R), UsersError> {
    modify_file_with(path, LockWait::Block, f).map(|(users, r, _)| (users, r))
}

fn modify_file_with<R>(
    path: &Path,
    wait: LockWait,
    f: impl FnOnce(&mut Users) -> Result<R, UsersError>,
) -> Result<(Users, R, Option<Stamp>), UsersError> {
    let lock_path = lock_path(path);
    let lock = crate::fs::open_lock_file(&lock_path)
        .map_err(|e| UsersError::io("open lock file", &lock_path, e))?;
    lock_with(&lock, wait).map_err(|e| UsersError::io("lock", &lock_path, e))?;
    let mut users = match fs::read_to_string(path) {
        Ok(text) => parse(&text).map_err(in_file(path))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Users::new(),
        Err(e) => return Err(UsersError::io("read", path, e)),
    };
    let r = f(&mut users)?;
    crate::fs::write_atomic(path, render(&users).as_bytes())
        .map_err(|e| UsersError::io("write", path, e))?;
    // Still under the lock: no other writer can have replaced the file since.
    let written = stamp(path);
    drop(lock);
    Ok((users, r, written))
}

fn lock_with(lock: &File, wait: LockWait) -> std::io::Result<()> {
    let LockWait::AtMost(wait) = wait else {
        return lock.lock();
    };
    let deadline = Instant::now() + wait;
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(()),
            Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    "lock busy",
                ));
            }
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "$pbkdf2-sha256$i=600000,l=32$obLD1OX2BxgpOktcbX6PkA$tiuDoyFplz7RtbK706Kl0d9DxyZt8xqNe0y6uzZoj58";

    #[test]
    fn usernames() {
        for ok in ["a", "alice", "a.b_c-d@e", "A9", &"x".repeat(64)] {
            assert!(validate_username(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-a",
            ".a",
            "a b",
            "a\tb",
            "é",
            "a:b",
            "a/b",
            &"x".repeat(65),
        ] {
            assert!(validate_username(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parse_render_round_trip_and_line_errors() {
        let text = format!("{HEADER}alice\tactive\t{H}\nbob\tdisabled\t{H}\n");
        let users = parse(&text).unwrap();
        assert_eq!(render(&users), text);
        assert!(!users["bob"].active);
        let cases = [
            ("alice\tactive\n".to_owned(), "line 1: expected 3"),
            (format!("\n# c\nalice\tmaybe\t{H}\n"), "line 3: status"),
            (
                "alice\tactive\tnot-a-hash\n".to_owned(),
                "line 1: stored hash is not",
            ),
            (format!("al ice\tactive\t{H}\n"), "line 1: username"),
            (
                format!("a\tactive\t{H}\na\tactive\t{H}\n"),
                "line 2: user \"a\" appears twice",
            ),
        ];
        for (text, msg) in cases {
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.starts_with(msg), "{e}");
        }
    }

    /// #10 item 13: the stamp used to be taken after the lock was released, so a CLI write in
    /// that window left the server with the new stamp and the old content, for good. The three
    /// steps in the losing order: the server writes, the CLI writes, the server records.
    #[test]
    fn a_write_between_the_servers_write_and_its_record_is_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        std::fs::write(&path, format!("a\tactive\t{H}\nb\tactive\t{H}\n")).unwrap();
        let store = UserStore::open(&path).unwrap();
        let (users, (), written) = modify_file_with(&path, LockWait::Block, |u| {
            u.get_mut("a").unwrap().active = false;
            Ok(())
        })
        .unwrap();
        modify_file(&path, |u| {
            u.get_mut("b").unwrap().active = false;
            Ok(())
        })
        .unwrap();
        store.record(users, written);
        let seen = store.snapshot();
        assert!(!seen["a"].active, "the server's own write");
        assert!(!seen["b"].active, "the CLI's write was lost");
    }
}
