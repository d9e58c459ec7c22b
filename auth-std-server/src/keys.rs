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
    /// A key file.
    File(String),
    /// Generated on this start into a key file.
    Generated(String),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Env => f.write_str("AUTH_SECRET"),
            KeySource::File(p) => write!(f, "key file {p}"),
            KeySource::Generated(p) => write!(f, "new key file {p}"),
        }
    }
}

/// A ring with one kid-less key from a secret string's bytes (what PyJWT uses for a `str` key).
///
/// # Errors
/// A clear message for a secret shorter than 32 bytes.
pub fn from_secret(secret: &str) -> Result<Keys, String> {
    let key = Hs256Key::new(secret.as_bytes()).map_err(|_| {
        format!(
            "AUTH_SECRET is {} bytes; HS256 needs at least {MIN_KEY_LEN} (RFC 7518 §3.2)",
            secret.len()
        )
    })?;
    KeyRing::new(key).map_err(|e| e.to_string())
}

/// Parses a key file.
///
/// # Errors
/// The bad line and why.
pub fn parse_key_file(text: &str) -> Result<Keys, String> {
    let mut ring: Option<Keys> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (kid, secret) = line
            .split_once(' ')
            .ok_or_else(|| format!("line {n}: expected '<kid> <base64url secret>'"))?;
        let secret = URL_SAFE_NO_PAD
            .decode(secret.trim())
            .map_err(|_| format!("line {n}: secret is not unpadded base64url"))?;
        let key = Hs256Key::with_kid(&secret, kid).map_err(|e| format!("line {n}: {e}"))?;
        match ring.as_mut() {
            None => ring = Some(KeyRing::new(key).map_err(|e| e.to_string())?),
            Some(r) => r.rotate(key).map_err(|e| format!("line {n}: {e}"))?,
        }
    }
    ring.ok_or_else(|| "key file holds no key".to_owned())
}

/// Loads a key file.
///
/// # Errors
/// Unreadable or invalid file.
pub fn load_key_file(path: &Path) -> Result<Keys, String> {
    let text = fs::read_to_string(path)
        .map_err(|e| format!("cannot read key file {}: {e}", path.display()))?;
    parse_key_file(&text).map_err(|e| format!("key file {}: {e}", path.display()))
}

/// Writes a new key file with one random 32-byte key (mode 0600) and loads it.
///
/// # Errors
/// RNG or I/O failure.
pub fn generate_key_file(path: &Path, now: u64) -> Result<Keys, String> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| format!("random generator failed: {e}"))?;
    let text = format!(
        "# HS256 keys: '<kid> <base64url secret>'. The last line signs; all verify.\nk{now} {}\n",
        URL_SAFE_NO_PAD.encode(secret)
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    crate::fs::write_atomic(path, text.as_bytes())
        .map_err(|e| format!("cannot write key file {}: {e}", path.display()))?;
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
                .contains("shorter than 32")
        );
        assert!(
            parse_key_file("k not*base64\n")
                .unwrap_err()
                .contains("line 1")
        );
        assert!(parse_key_file("justone\n").unwrap_err().contains("line 1"));
        assert!(parse_key_file("# nothing\n").is_err());
        assert!(
            parse_key_file(&format!("a {a}\na {b}\n"))
                .unwrap_err()
                .contains("line 2")
        );
        assert!(from_secret("short").unwrap_err().contains("at least 32"));
        assert!(from_secret("0123456789abcdef0123456789abcdef").is_ok());
    }
}
