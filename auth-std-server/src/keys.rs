//! Signing keys: `AUTH_SECRET`, a key file, or one generated on first start.
//!
//! Key file format: one key per line, `<kid> <secret as unpadded base64url>`; `#` starts a
//! comment. The **last** key signs; every key verifies. Rotate by appending a new line, and
//! delete old lines once their tokens have expired.

use std::fs;
use std::path::Path;

use auth_core::{Hs256Key, KeyRing, MIN_KEY_LEN};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Most keys a key file may hold.
pub const MAX_KEYS: usize = 8;

/// The server's key ring.
pub type Keys = KeyRing<MAX_KEYS>;

/// Where the keys came from, for the startup log (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The `AUTH_SECRET` environment variable.
    Env,
    /// A secret file (`--secret-file`, `AUTH_SECRET_FILE`).
    SecretFile(String),
    /// A key file.
    File(String),
    /// Generated on this start into a key file.
    Generated(String),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Env => f.write_str("AUTH_SECRET"),
            KeySource::SecretFile(p) => write!(f, "secret file {p}"),
            KeySource::File(p) => write!(f, "key file {p}"),
            KeySource::Generated(p) => write!(f, "new key file {p}"),
        }
    }
}

/// Why keys could not be had. `Display` is the one-line message the server exits with.
#[derive(Debug)]
#[non_exhaustive]
pub enum KeysError {
    /// `AUTH_SECRET` (or the secret file) is shorter than [`MIN_KEY_LEN`] bytes.
    SecretTooShort {
        /// Its length in bytes.
        len: usize,
    },
    /// Both `AUTH_SECRET` and a secret file are set: which one signs would be a guess.
    TwoSecrets,
    /// A key file line is not `<kid> <base64url secret>`, or its key is refused.
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        problem: KeyLineProblem,
    },
    /// The key file holds no key.
    Empty,
    /// The key ring refused a key (full, or a ring rule).
    Ring(auth_core::KeyError),
    /// Reading or writing a key file failed.
    Io {
        /// What was being done ("read key file", "write key file", "create").
        action: &'static str,
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The system random generator failed.
    Rng(getrandom::Error),
    /// A key file context wrapped around another error.
    InFile {
        /// The key file.
        path: String,
        /// The error inside it.
        inner: Box<KeysError>,
    },
}

/// What is wrong with one key file line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyLineProblem {
    /// Not `<kid> <secret>`.
    Shape,
    /// The secret is not unpadded base64url.
    Encoding,
    /// The key or its id is refused (too short, bad id, duplicate id).
    Key(auth_core::KeyError),
}

impl std::fmt::Display for KeysError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeysError::SecretTooShort { len } => write!(
                f,
                "AUTH_SECRET is {len} bytes; HS256 needs at least {MIN_KEY_LEN} (RFC 7518 §3.2)"
            ),
            KeysError::Line { line, problem } => match problem {
                KeyLineProblem::Shape => {
                    write!(f, "line {line}: expected '<kid> <base64url secret>'")
                }
                KeyLineProblem::Encoding => {
                    write!(f, "line {line}: secret is not unpadded base64url")
                }
                KeyLineProblem::Key(e) => write!(f, "line {line}: {e}"),
            },
            KeysError::Empty => f.write_str("key file holds no key"),
            KeysError::TwoSecrets => f.write_str(
                "AUTH_SECRET and --secret-file (AUTH_SECRET_FILE) are both set; keep one",
            ),
            KeysError::Ring(e) => write!(f, "{e}"),
            KeysError::Io {
                action,
                path,
                source,
            } => write!(f, "cannot {action} {path}: {source}"),
            KeysError::Rng(e) => write!(f, "random generator failed: {e}"),
            KeysError::InFile { path, inner } => write!(f, "key file {path}: {inner}"),
        }
    }
}

impl std::error::Error for KeysError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeysError::Io { source, .. } => Some(source),
            KeysError::InFile { inner, .. } => Some(inner.as_ref()),
            _ => None,
        }
    }
}

/// A ring with one kid-less key from a secret string's bytes (what PyJWT uses for a `str` key).
///
/// # Errors
/// [`KeysError::SecretTooShort`] for a secret shorter than 32 bytes.
pub fn from_secret(secret: &str) -> Result<Keys, KeysError> {
    let key = Hs256Key::new(secret.as_bytes())
        .map_err(|_| KeysError::SecretTooShort { len: secret.len() })?;
    KeyRing::new(key).map_err(KeysError::Ring)
}

/// Parses a key file.
///
/// # Errors
/// The bad line and why.
pub fn parse_key_file(text: &str) -> Result<Keys, KeysError> {
    let mut ring: Option<Keys> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let bad = |problem| KeysError::Line { line: n, problem };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (kid, secret) = line
            .split_once(' ')
            .ok_or_else(|| bad(KeyLineProblem::Shape))?;
        let secret = URL_SAFE_NO_PAD
            .decode(secret.trim())
            .map_err(|_| bad(KeyLineProblem::Encoding))?;
        let key = Hs256Key::with_kid(&secret, kid).map_err(|e| bad(KeyLineProblem::Key(e)))?;
        match ring.as_mut() {
            None => ring = Some(KeyRing::new(key).map_err(KeysError::Ring)?),
            Some(r) => r.rotate(key).map_err(|e| bad(KeyLineProblem::Key(e)))?,
        }
    }
    ring.ok_or(KeysError::Empty)
}

/// Loads a key file.
///
/// # Errors
/// Unreadable or invalid file.
pub fn load_key_file(path: &Path) -> Result<Keys, KeysError> {
    let text = fs::read_to_string(path).map_err(|source| KeysError::Io {
        action: "read key file",
        path: path.display().to_string(),
        source,
    })?;
    parse_key_file(&text).map_err(|e| KeysError::InFile {
        path: path.display().to_string(),
        inner: Box::new(e),
    })
}

/// Writes a new key file with one random 32-byte key (mode 0600) and loads it.
///
/// # Errors
/// RNG or I/O failure.
pub fn generate_key_file(path: &Path, now: u64) -> Result<Keys, KeysError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(KeysError::Rng)?;
    let text = format!(
        "# HS256 keys: '<kid> <base64url secret>'. The last line signs; all verify.\nk{now} {}\n",
        URL_SAFE_NO_PAD.encode(secret)
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|source| KeysError::Io {
            action: "create",
            path: dir.display().to_string(),
            source,
        })?;
    }
    crate::fs::write_atomic(path, text.as_bytes()).map_err(|source| KeysError::Io {
        action: "write key file",
        path: path.display().to_string(),
        source,
    })?;
    parse_key_file(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_rules() {
        let a = URL_SAFE_NO_PAD.encode([1u8; 32]);
        let b = URL_SAFE_NO_PAD.encode([2u8; 40]);
        let ring = parse_key_file(&format!("# c\nold {a}\n\nnew {b}\n")).unwrap();
        assert_eq!(ring.signing_key().kid(), Some("new"));
        assert_eq!(ring.len(), 2);
        let short = URL_SAFE_NO_PAD.encode([1u8; 31]);
        assert!(
            parse_key_file(&format!("k {short}\n"))
                .unwrap_err()
                .to_string()
                .contains("shorter than 32")
        );
        assert!(
            parse_key_file("k not*base64\n")
                .unwrap_err()
                .to_string()
                .contains("line 1")
        );
        assert!(
            parse_key_file("justone\n")
                .unwrap_err()
                .to_string()
                .contains("line 1")
        );
        assert!(parse_key_file("# nothing\n").is_err());
        assert!(
            parse_key_file(&format!("a {a}\na {b}\n"))
                .unwrap_err()
                .to_string()
                .contains("line 2")
        );
        assert!(
            from_secret("short")
                .unwrap_err()
                .to_string()
                .contains("at least 32")
        );
        assert!(from_secret("0123456789abcdef0123456789abcdef").is_ok());
    }
}
