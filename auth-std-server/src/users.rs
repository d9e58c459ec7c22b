//! Accounts, and the users-file format: one account per line,
//! `<name>\t<active|disabled>\t<stored hash>`.
//!
//! The accounts live in the store ([`crate::store`]). The file format of version 0.1 is what
//! `user import` reads and `user export` writes, and an old `auth-data/users` is imported from
//! once, at first start.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use auth_core::StoredHashError;
use auth_core::password::StoredHash;

/// Longest username, in bytes.
pub const MAX_USERNAME_LEN: usize = auth_core::form::MAX_USERNAME_LEN;

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
    /// Not three (or four) tab-separated fields; how many there were.
    Fields(usize),
    /// The status is neither `active` nor `disabled`.
    Status(String),
    /// The name is not a valid username.
    Username(UsernameError),
    /// The stored hash does not parse or is below the safety caps.
    Hash(StoredHashError),
    /// The name appeared on an earlier line.
    Duplicate(String),
    /// The fourth field is not a scope list.
    Scopes,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::Fields(n) => {
                write!(f, "expected 3 or 4 tab-separated fields, found {n}")
            }
            LineError::Scopes => f.write_str(
                "scopes must be at most 32 space-separated RFC 6749 scope names (1024 bytes)",
            ),
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
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
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
            UsersError::Io { path, source } => {
                write!(f, "cannot read users file {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for UsersError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UsersError::Io { source, .. } => Some(source),
            UsersError::Line { .. } => None,
        }
    }
}

/// Reads and parses a users file.
///
/// # Errors
/// The file cannot be read, or its first bad line.
pub fn read_file(path: &Path) -> Result<Users, UsersError> {
    let text = std::fs::read_to_string(path).map_err(|source| UsersError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse(&text).map_err(in_file(path))
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
    scopes: String,
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
            scopes: String::new(),
        })
    }

    /// The same account with the scopes it may be granted (space-separated; #24).
    #[must_use]
    pub fn with_scopes(mut self, scopes: &str) -> Self {
        self.scopes = auth_core::scope::names(scopes)
            .collect::<Vec<_>>()
            .join(" ");
        self
    }

    /// The scopes the account may be granted, space-separated (empty: none).
    pub fn scopes(&self) -> &str {
        &self.scopes
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

/// One `<name>\t<status>\t<hash>` line, with an optional fourth field: the account's scopes.
fn parse_line(line: &str) -> Result<(&str, User), LineError> {
    let fields: Vec<&str> = line.split('\t').collect();
    let (name, status, hash, scopes) = match fields[..] {
        [name, status, hash] => (name, status, hash, ""),
        [name, status, hash, scopes] => (name, status, hash, scopes),
        _ => return Err(LineError::Fields(fields.len())),
    };
    if !auth_core::scope::is_valid(scopes) {
        return Err(LineError::Scopes);
    }
    validate_username(name).map_err(LineError::Username)?;
    let active = match status {
        "active" => true,
        "disabled" => false,
        other => return Err(LineError::Status(other.to_owned())),
    };
    let user = User::new(hash, active).map_err(LineError::Hash)?;
    Ok((name, user.with_scopes(scopes)))
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

/// The file's first line, a comment naming the format.
pub const HEADER: &str =
    "# auth-std-server users: <name>\\t<active|disabled>\\t<stored hash>[\\t<scopes>]\n";

/// One account's line, newline included.
pub fn render_line(name: &str, user: &User) -> String {
    let status = if user.active { "active" } else { "disabled" };
    match user.scopes.as_str() {
        "" => format!("{name}\t{status}\t{}\n", user.text),
        scopes => format!("{name}\t{status}\t{}\t{scopes}\n", user.text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole file, as `user export` writes it.
    fn render(users: &Users) -> String {
        let mut s = String::from(HEADER);
        for (name, u) in users {
            s.push_str(&render_line(name, u));
        }
        s
    }

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
}
