//! Signing keys: `AUTH_SECRET`, a key file, or one generated on first start.
//!
//! Key file format: one key per line, `<kid> <alg> <key>`, the key as unpadded base64url: for
//! `HS256` the secret (at least 32 bytes), for `EdDSA` the Ed25519 private key's 32-byte seed.
//! A line `<kid> <secret>` without an algorithm is HS256, as every key file before EdDSA was.
//! `#` starts a comment. The **last** line signs; every line verifies. A line ending in `next`
//! verifies (and its public key is in the JWKS) but does not sign: stage a key that way on
//! every instance, then drop `next` once clients have fetched the new JWKS. Rotate by
//! appending a line, and delete old lines once their tokens have expired.

use std::fs;
use std::path::Path;

use auth_core::{Algorithm, Ed25519Key, Hs256Key, Key, KeyRing, MIN_KEY_LEN};
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
    /// `--signing-alg` names another algorithm than the key that signs.
    AlgorithmMismatch {
        /// What `--signing-alg` asks for.
        wanted: Algorithm,
        /// The algorithm of the key that would sign.
        signing: Algorithm,
        /// Where that key came from.
        source: String,
    },
    /// Every line of the key file is marked `next`: no key signs.
    NoSigningKey,
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
    /// Not `<kid> [<alg>] <key> [next]`.
    Shape,
    /// The algorithm is neither `HS256` nor `EdDSA`.
    UnknownAlgorithm,
    /// The secret is not unpadded base64url.
    Encoding,
    /// An Ed25519 seed that is not 32 bytes.
    SeedLength(usize),
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
                KeyLineProblem::Shape => write!(
                    f,
                    "line {line}: expected '<kid> <alg> <base64url key>' (alg HS256 or EdDSA), optionally followed by 'next'"
                ),
                KeyLineProblem::UnknownAlgorithm => {
                    write!(f, "line {line}: unknown algorithm; a key is HS256 or EdDSA")
                }
                KeyLineProblem::Encoding => {
                    write!(f, "line {line}: key is not unpadded base64url")
                }
                KeyLineProblem::SeedLength(n) => write!(
                    f,
                    "line {line}: an EdDSA key is the 32-byte Ed25519 seed, not {n} bytes"
                ),
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
            KeysError::AlgorithmMismatch {
                wanted,
                signing,
                source,
            } => mismatch(f, *wanted, *signing, source),
            KeysError::NoSigningKey => {
                f.write_str("every key is marked 'next': the last line without it signs")
            }
            KeysError::InFile { path, inner } => write!(f, "key file {path}: {inner}"),
        }
    }
}

fn mismatch(
    f: &mut std::fmt::Formatter<'_>,
    wanted: Algorithm,
    signing: Algorithm,
    source: &str,
) -> std::fmt::Result {
    let (w, s) = (wanted.as_str(), signing.as_str());
    write!(
        f,
        "--signing-alg is {w} but the signing key ({source}) is {s}; append a '<kid> {w} <key>' \
         line to the key file, or drop --signing-alg"
    )
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

/// One key file line: its key, and whether it is marked `next` (verifies, does not sign).
fn parse_line(line: &str) -> Result<(Key, bool), KeyLineProblem> {
    let mut words: Vec<&str> = line.split_whitespace().collect();
    let next = words.len() > 2 && words.last() == Some(&"next");
    if next {
        words.pop();
    }
    let (kid, alg, key) = match words[..] {
        [kid, key] => (kid, Algorithm::Hs256, key),
        [kid, alg, key] => (
            kid,
            Algorithm::from_name(alg).ok_or(KeyLineProblem::UnknownAlgorithm)?,
            key,
        ),
        _ => return Err(KeyLineProblem::Shape),
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(key)
        .map_err(|_| KeyLineProblem::Encoding)?;
    let key: Key = match alg {
        Algorithm::EdDsa => {
            let seed: &[u8; 32] = bytes[..]
                .try_into()
                .map_err(|_| KeyLineProblem::SeedLength(bytes.len()))?;
            Ed25519Key::from_seed_with_kid(seed, kid)
                .map_err(KeyLineProblem::Key)?
                .into()
        }
        _ => Hs256Key::with_kid(&bytes, kid)
            .map_err(KeyLineProblem::Key)?
            .into(),
    };
    Ok((key, next))
}

/// Parses a key file. Every line is checked before the ring is built: one bad line and no key
/// is loaded.
///
/// # Errors
/// The bad line and why.
pub fn parse_key_file(text: &str) -> Result<Keys, KeysError> {
    let mut ring: Option<Keys> = None;
    let mut signing: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let bad = |problem| KeysError::Line { line: n, problem };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, next) = parse_line(line).map_err(bad)?;
        if !next {
            signing = key.kid().map(str::to_owned);
        }
        match ring.as_mut() {
            None => ring = Some(KeyRing::new(key).map_err(KeysError::Ring)?),
            Some(r) => r.add(key).map_err(|e| bad(KeyLineProblem::Key(e)))?,
        }
    }
    let mut ring = ring.ok_or(KeysError::Empty)?;
    let signing = signing.ok_or(KeysError::NoSigningKey)?;
    ring.set_signing(&signing).map_err(KeysError::Ring)?;
    Ok(ring)
}

/// Refuses to start when `--signing-alg` asks for another algorithm than the key that signs.
///
/// # Errors
/// [`KeysError::AlgorithmMismatch`].
pub fn check_signing_alg(
    keys: &Keys,
    wanted: Option<Algorithm>,
    source: &KeySource,
) -> Result<(), KeysError> {
    let signing = keys.signing_key().algorithm();
    match wanted {
        Some(wanted) if wanted != signing => Err(KeysError::AlgorithmMismatch {
            wanted,
            signing,
            source: source.to_string(),
        }),
        _ => Ok(()),
    }
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

/// Writes a new key file with one random key of `alg` (mode 0600) and loads it: a 32-byte
/// HS256 secret, or a 32-byte Ed25519 seed.
///
/// # Errors
/// RNG or I/O failure.
pub fn generate_key_file(path: &Path, now: u64, alg: Algorithm) -> Result<Keys, KeysError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(KeysError::Rng)?;
    let text = format!(
        "# Keys: '<kid> <alg> <base64url key>', alg HS256 (the secret) or EdDSA (the Ed25519 seed).\n\
         # The last line signs; all verify; a line ending in 'next' verifies but does not sign.\n\
         k{now} {} {}\n",
        alg.as_str(),
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

    #[test]
    fn key_file_algorithms_and_next() {
        let hs = URL_SAFE_NO_PAD.encode([1u8; 32]);
        let seed = URL_SAFE_NO_PAD.encode([2u8; 32]);
        // Old lines are HS256; `<kid> <alg> <key>`; the last line without `next` signs.
        let ring =
            parse_key_file(&format!("old {hs}\nh2 HS256 {hs}\ned EdDSA {seed} next\n")).unwrap();
        assert_eq!(ring.len(), 3);
        assert_eq!(ring.signing_key().kid(), Some("h2"));
        assert_eq!(ring.get("ed").unwrap().algorithm(), Algorithm::EdDsa);
        assert!(ring.get("ed").unwrap().can_sign());
        assert_eq!(ring.get("old").unwrap().algorithm(), Algorithm::Hs256);
        let ring = parse_key_file(&format!("old {hs}\ned EdDSA {seed}\n")).unwrap();
        assert_eq!(ring.signing_key().kid(), Some("ed"));
        // `next` on an old-style line too.
        let ring = parse_key_file(&format!("a {hs}\nb {hs} next\n")).unwrap();
        assert_eq!(ring.signing_key().kid(), Some("a"));

        let err = |text: String| parse_key_file(&text).unwrap_err().to_string();
        assert!(err(format!("k RS256 {hs}\n")).contains("line 1: unknown algorithm"));
        assert!(err(format!("a {hs}\nk EdDSA {hs}x\n")).contains("line 2"));
        let short_seed = URL_SAFE_NO_PAD.encode([2u8; 31]);
        assert!(err(format!("k EdDSA {short_seed}\n")).contains("32-byte Ed25519 seed, not 31"));
        assert!(err(format!("k HS256 {hs} extra\n")).contains("line 1: expected"));
        assert!(err(format!("a {hs} next\n")).contains("marked 'next'"));
        assert!(err(format!("bad kid EdDSA {seed}\n")).contains("line 1"));
        // One bad line anywhere and nothing loads.
        assert!(parse_key_file(&format!("a {hs}\nb EdDSA {seed}\nc EdDSA nope!\n")).is_err());
    }

    #[test]
    fn signing_alg_must_match_the_signing_key() {
        let hs = URL_SAFE_NO_PAD.encode([1u8; 32]);
        let ring = parse_key_file(&format!("k1 {hs}\n")).unwrap();
        let source = KeySource::File("jwt.key".into());
        assert!(check_signing_alg(&ring, None, &source).is_ok());
        assert!(check_signing_alg(&ring, Some(Algorithm::Hs256), &source).is_ok());
        let e = check_signing_alg(&ring, Some(Algorithm::EdDsa), &source)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--signing-alg is EdDSA but the signing key (key file jwt.key) is HS256"),
            "{e}"
        );
    }

    #[test]
    fn generated_key_files_load_with_their_algorithm() {
        let dir = tempfile::tempdir().unwrap();
        for alg in [Algorithm::Hs256, Algorithm::EdDsa] {
            let path = dir.path().join(alg.as_str());
            let ring = generate_key_file(&path, 7, alg).unwrap();
            assert_eq!(ring.signing_key().algorithm(), alg);
            assert_eq!(ring.signing_key().kid(), Some("k7"));
            let again = load_key_file(&path).unwrap();
            assert_eq!(again.signing_key().algorithm(), alg);
            if let (Some(a), Some(b)) = (
                ring.signing_key().public_key(),
                again.signing_key().public_key(),
            ) {
                assert_eq!(a.as_bytes(), b.as_bytes());
            }
        }
    }
}
