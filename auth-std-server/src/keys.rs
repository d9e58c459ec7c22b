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
use std::path::{Path, PathBuf};

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
    SecretFile(PathBuf),
    /// A key file.
    File(PathBuf),
    /// Generated on this start into a key file.
    Generated(PathBuf),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Env => f.write_str("AUTH_SECRET"),
            KeySource::SecretFile(p) => write!(f, "secret file {}", p.display()),
            KeySource::File(p) => write!(f, "key file {}", p.display()),
            KeySource::Generated(p) => write!(f, "new key file {}", p.display()),
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
    /// `keys promote` or `keys retire` names a kid the key file does not hold.
    UnknownKid(String),
    /// `keys add --kid` names a kid the key file already holds.
    KidTaken(String),
    /// `keys add` on a key file that holds [`MAX_KEYS`] keys already.
    Full,
    /// `keys add --kid` names a kid that cannot be a key file word.
    BadKid(String),
    /// `keys retire` names the key that signs.
    RetireSigning(String),
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
            KeysError::Line { line, problem } => write!(f, "line {line}: {problem}"),
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
            KeysError::UnknownKid(kid) => write!(f, "no key with kid '{kid}'"),
            KeysError::KidTaken(kid) => write!(f, "a key with kid '{kid}' is there already"),
            KeysError::Full => write!(
                f,
                "the key file holds {MAX_KEYS} keys, the most it may; retire one first"
            ),
            KeysError::BadKid(kid) => write!(
                f,
                "kid {kid:?}: a kid is one word without spaces, not starting with '#'"
            ),
            KeysError::RetireSigning(kid) => write!(
                f,
                "'{kid}' is the key that signs; promote another key (and reload every \
                 instance) before retiring it"
            ),
            KeysError::InFile { path, inner } => write!(f, "key file {path}: {inner}"),
        }
    }
}

impl std::fmt::Display for KeyLineProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyLineProblem::Shape => f.write_str(
                "expected '<kid> <alg> <base64url key>' (alg HS256 or EdDSA), optionally followed by 'next'",
            ),
            KeyLineProblem::UnknownAlgorithm => {
                f.write_str("unknown algorithm; a key is HS256 or EdDSA")
            }
            KeyLineProblem::Encoding => f.write_str("key is not unpadded base64url"),
            KeyLineProblem::SeedLength(n) => {
                write!(f, "an EdDSA key is the 32-byte Ed25519 seed, not {n} bytes")
            }
            KeyLineProblem::Key(e) => write!(f, "{e}"),
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

/// A key file line's words without its `next` mark, and whether it had one (`next` after at
/// least two words: `<kid> next` is an HS256 line whose secret reads "next").
fn line_words(line: &str) -> (Vec<&str>, bool) {
    let mut words: Vec<&str> = line.split_whitespace().collect();
    let next = words.len() > 2 && words.last() == Some(&"next");
    if next {
        words.pop();
    }
    (words, next)
}

/// One key file line: its key, and whether it is marked `next` (verifies, does not sign).
fn parse_line(line: &str) -> Result<(Key, bool), KeyLineProblem> {
    let (words, next) = line_words(line);
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
    in_key_file(path, parse_key_file)
}

/// The keys of the key file at `path`, as [`list_keys`] reads them.
///
/// # Errors
/// Unreadable or invalid file.
pub fn list_key_file(path: &Path) -> Result<Vec<KeyEntry>, KeysError> {
    in_key_file(path, list_keys)
}

/// Reads the key file at `path` and hands its text to `read`; its error names the file.
fn in_key_file<T>(
    path: &Path,
    read: impl FnOnce(&str) -> Result<T, KeysError>,
) -> Result<T, KeysError> {
    let text = fs::read_to_string(path).map_err(|source| KeysError::Io {
        action: "read key file",
        path: path.display().to_string(),
        source,
    })?;
    read(&text).map_err(|e| KeysError::InFile {
        path: path.display().to_string(),
        inner: Box::new(e),
    })
}

/// The comment a new key file starts with.
const KEY_FILE_HEADER: &str = "# Keys: '<kid> <alg> <base64url key>', alg HS256 (the secret) or \
EdDSA (the Ed25519 seed).\n# The last line signs; all verify; a line ending in 'next' verifies \
but does not sign.\n# Edit with `auth-std-server keys add|promote|retire`; see `keys list`.\n";

/// Writes a new key file with one random key of `alg` (mode 0600) and loads it: a 32-byte
/// HS256 secret, or a 32-byte Ed25519 seed.
///
/// # Errors
/// RNG or I/O failure.
pub fn generate_key_file(path: &Path, now: u64, alg: Algorithm) -> Result<Keys, KeysError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(KeysError::Rng)?;
    let text = format!(
        "{KEY_FILE_HEADER}k{now} {} {}\n",
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

/// What one key of a key file does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// The last line without `next`: it signs, and verifies.
    Signs,
    /// It verifies only: an older key, kept until its tokens have expired.
    Verifies,
    /// Marked `next`: it verifies (an Ed25519 key is published) and does not sign yet.
    Next,
}

impl KeyRole {
    /// The word `keys list` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Signs => "signs",
            KeyRole::Verifies => "verifies",
            KeyRole::Next => "next",
        }
    }
}

/// One key of a key file, as `keys list` shows it: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// Its kid.
    pub kid: String,
    /// Its algorithm.
    pub alg: Algorithm,
    /// What it does.
    pub role: KeyRole,
}

/// The key lines of a key file: (index among all lines, kid, marked `next`).
fn key_lines(text: &str) -> Vec<(usize, &str, bool)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let (words, next) = line_words(line);
            let first = *words.first()?;
            (!first.starts_with('#')).then_some((i, first, next))
        })
        .collect()
}

/// The keys of a valid key file, in file order.
///
/// # Errors
/// As [`parse_key_file`].
pub fn list_keys(text: &str) -> Result<Vec<KeyEntry>, KeysError> {
    let ring = parse_key_file(text)?;
    let signing = ring.signing_key().kid();
    let entries = key_lines(text)
        .into_iter()
        .filter_map(|(_, kid, next)| {
            let role = match (Some(kid) == signing, next) {
                (true, _) => KeyRole::Signs,
                (false, true) => KeyRole::Next,
                (false, false) => KeyRole::Verifies,
            };
            let alg = ring.get(kid)?.algorithm();
            let kid = kid.to_owned();
            Some(KeyEntry { kid, alg, role })
        })
        .collect();
    Ok(entries)
}

/// What `keys add` appends: the key's algorithm (default: the signing key's, HS256 in a new
/// file), its kid (default `k<now>`, or `k<now>-<n>` when that is taken) and whether it is
/// staged as `next`.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    /// The algorithm.
    pub alg: Option<Algorithm>,
    /// The kid.
    pub kid: Option<String>,
    /// Staged: verifies, does not sign.
    pub next: bool,
}

/// `text` with one more line holding `secret` (an HS256 secret or an Ed25519 seed) as `new`
/// asks, and the new key's kid. The result is checked as the server loads it. An empty or
/// comment-only `text` is a new key file.
///
/// # Errors
/// [`KeysError::KidTaken`], [`KeysError::Full`], or the new file's error (a bad kid).
pub fn add_key(
    text: &str,
    new: &NewKey,
    now: u64,
    secret: &[u8; 32],
) -> Result<(String, String), KeysError> {
    let ring = match key_lines(text).is_empty() {
        true => None,
        false => Some(parse_key_file(text)?),
    };
    let held = |kid: &str| ring.as_ref().is_some_and(|r| r.get(kid).is_some());
    if ring.as_ref().is_some_and(|r| r.len() >= MAX_KEYS) {
        return Err(KeysError::Full);
    }
    let kid = match &new.kid {
        Some(kid)
            if kid.is_empty() || kid.starts_with('#') || kid.contains(char::is_whitespace) =>
        {
            return Err(KeysError::BadKid(kid.clone()));
        }
        Some(kid) if held(kid) => return Err(KeysError::KidTaken(kid.clone())),
        Some(kid) => kid.clone(),
        None => (1..)
            .map(|n| match n {
                1 => format!("k{now}"),
                n => format!("k{now}-{n}"),
            })
            .find(|kid| !held(kid))
            .unwrap_or_default(),
    };
    let alg = new
        .alg
        .or(ring.as_ref().map(|r| r.signing_key().algorithm()))
        .unwrap_or(Algorithm::Hs256);
    let mut out = match text.trim().is_empty() {
        true => KEY_FILE_HEADER.to_owned(),
        false => text.to_owned(),
    };
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    let key = URL_SAFE_NO_PAD.encode(secret);
    let next = if new.next { " next" } else { "" };
    out.push_str(&format!("{kid} {} {key}{next}\n", alg.as_str()));
    parse_key_file(&out)?;
    Ok((out, kid))
}

/// `text` with `kid`'s line moved to the end and its `next` dropped, so that it signs; the
/// other lines, comments included, stay as they are.
///
/// # Errors
/// [`KeysError::UnknownKid`], or the file's own error.
pub fn promote_key(text: &str, kid: &str) -> Result<String, KeysError> {
    parse_key_file(text)?;
    let (at, _, _) = find_line(text, kid)?;
    let mut lines: Vec<&str> = text.lines().collect();
    let (words, _) = line_words(lines.remove(at));
    let mut out: String = lines.iter().map(|l| format!("{l}\n")).collect();
    out.push_str(&words.join(" "));
    out.push('\n');
    parse_key_file(&out)?;
    Ok(out)
}

/// `text` without `kid`'s line. The key that signs cannot be retired: promote another first.
///
/// # Errors
/// [`KeysError::UnknownKid`], [`KeysError::RetireSigning`], or the file's own error.
pub fn retire_key(text: &str, kid: &str) -> Result<String, KeysError> {
    let ring = parse_key_file(text)?;
    let (at, _, _) = find_line(text, kid)?;
    if ring.signing_key().kid() == Some(kid) {
        return Err(KeysError::RetireSigning(kid.to_owned()));
    }
    let out: String = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != at)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    parse_key_file(&out)?;
    Ok(out)
}

fn find_line<'t>(text: &'t str, kid: &str) -> Result<(usize, &'t str, bool), KeysError> {
    key_lines(text)
        .into_iter()
        .find(|(_, k, _)| *k == kid)
        .ok_or_else(|| KeysError::UnknownKid(kid.to_owned()))
}

/// Reads the key file at `path` (a missing one is empty), hands its text to `edit`, and writes
/// what `edit` returns in its place ([`crate::fs::write_atomic`]: mode 0600, durable). The
/// read, the edit and the write hold an exclusive lock on the key file's directory, so two
/// edits at once (two operators, a script) never lose a key: the second reads the first's
/// result. A running server reads the file at start only.
///
/// # Errors
/// I/O, or what `edit` returns; the file is then untouched.
pub fn edit_key_file<T>(
    path: &Path,
    edit: impl FnOnce(&str) -> Result<(String, T), KeysError>,
) -> Result<T, KeysError> {
    let io = |action: &'static str, p: &Path| {
        let path = p.display().to_string();
        move |source| KeysError::Io {
            action,
            path,
            source,
        }
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io("create", dir))?;
    let lock = fs::File::open(dir).map_err(io("open", dir))?;
    lock.lock().map_err(io("lock", dir))?;
    let text = match fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        read => read.map_err(io("read key file", path))?,
    };
    let in_file = |inner| KeysError::InFile {
        path: path.display().to_string(),
        inner: Box::new(inner),
    };
    let (out, result) = edit(&text).map_err(in_file)?;
    crate::fs::write_atomic(path, out.as_bytes()).map_err(io("write key file", path))?;
    Ok(result)
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

    #[test]
    fn add_promote_retire_edit_lines_and_keep_the_rest() {
        let hs = URL_SAFE_NO_PAD.encode([1u8; 32]);
        let start = format!("# mine\nold {hs}\n# keep me\n");
        let new = |kid: &str, next: bool| NewKey {
            alg: Some(Algorithm::EdDsa),
            kid: Some(kid.into()),
            next,
        };
        let (text, kid) = add_key(&start, &new("ed", true), 5, &[3u8; 32]).unwrap();
        assert_eq!(kid, "ed");
        assert!(text.starts_with(&start), "{text}");
        let roles = |text: &str| -> Vec<(String, KeyRole)> {
            list_keys(text)
                .unwrap()
                .into_iter()
                .map(|e| (e.kid, e.role))
                .collect()
        };
        let r = |k: &str, role| (k.to_owned(), role);
        assert_eq!(
            roles(&text),
            [r("old", KeyRole::Signs), r("ed", KeyRole::Next)]
        );
        let promoted = promote_key(&text, "ed").unwrap();
        assert_eq!(
            roles(&promoted),
            [r("old", KeyRole::Verifies), r("ed", KeyRole::Signs)]
        );
        assert!(promoted.contains("# mine\n") && promoted.contains("# keep me\n"));
        assert!(!promoted.contains("next"));
        // Promoting an older key moves it last, so it signs again.
        let back = promote_key(&promoted, "old").unwrap();
        assert_eq!(
            parse_key_file(&back).unwrap().signing_key().kid(),
            Some("old")
        );

        let retired = retire_key(&promoted, "old").unwrap();
        assert_eq!(roles(&retired), [r("ed", KeyRole::Signs)]);
        assert!(retired.contains("# keep me"));
        let err = |e: KeysError| e.to_string();
        assert!(err(retire_key(&promoted, "ed").unwrap_err()).contains("is the key that signs"));
        assert!(err(retire_key(&promoted, "zz").unwrap_err()).contains("no key with kid 'zz'"));
        assert!(err(promote_key(&promoted, "zz").unwrap_err()).contains("'zz'"));
        let taken = add_key(&text, &new("ed", false), 5, &[3u8; 32]).unwrap_err();
        assert!(err(taken).contains("is there already"));
        for bad in ["a b", "#x", ""] {
            let e = add_key(&text, &new(bad, false), 5, &[3u8; 32]).unwrap_err();
            assert!(matches!(e, KeysError::BadKid(_)), "{bad:?}: {e}");
        }
        // A kid the ring refuses is named by its line, and nothing is returned to write.
        let long = "x".repeat(300);
        assert!(add_key(&text, &new(&long, false), 5, &[3u8; 32]).is_err());
    }

    #[test]
    fn add_picks_kid_and_algorithm_and_stops_at_the_bound() {
        // A new file: the header comment, HS256, `k<now>`, and it signs.
        let (text, kid) = add_key("", &NewKey::default(), 9, &[4u8; 32]).unwrap();
        assert_eq!(kid, "k9");
        assert!(text.starts_with("# Keys:"));
        let ring = parse_key_file(&text).unwrap();
        assert_eq!(ring.signing_key().algorithm(), Algorithm::Hs256);
        // Same second: `k9-2`; the default algorithm is the signing key's.
        let seed = URL_SAFE_NO_PAD.encode([2u8; 32]);
        let ed = format!("k9 EdDSA {seed}");
        let (text, kid) = add_key(&ed, &NewKey::default(), 9, &[4u8; 32]).unwrap();
        assert_eq!(kid, "k9-2");
        assert_eq!(
            parse_key_file(&text)
                .unwrap()
                .get("k9-2")
                .unwrap()
                .algorithm(),
            Algorithm::EdDsa
        );
        // `--next` on a new file leaves nothing to sign: refused.
        let staged = NewKey {
            next: true,
            ..NewKey::default()
        };
        assert!(matches!(
            add_key("", &staged, 9, &[4u8; 32]),
            Err(KeysError::NoSigningKey)
        ));
        // MAX_KEYS keys, and the next add is refused by name.
        let mut text = String::new();
        for n in 0..MAX_KEYS {
            text = add_key(&text, &NewKey::default(), n as u64, &[4u8; 32])
                .unwrap()
                .0;
        }
        assert_eq!(parse_key_file(&text).unwrap().len(), MAX_KEYS);
        assert!(matches!(
            add_key(&text, &NewKey::default(), 99, &[4u8; 32]),
            Err(KeysError::Full)
        ));
    }

    #[test]
    fn concurrent_edits_lose_no_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.key");
        std::thread::scope(|s| {
            for n in 0..6u8 {
                let path = &path;
                s.spawn(move || {
                    let new = NewKey {
                        kid: Some(format!("t{n}")),
                        ..NewKey::default()
                    };
                    edit_key_file(path, |text| {
                        // Widen the read-modify-write window: without the lock, edits that
                        // read the same text would drop each other's key.
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        add_key(text, &new, 1, &[n; 32])
                    })
                    .unwrap();
                });
            }
        });
        let ring = load_key_file(&path).unwrap();
        assert_eq!(ring.len(), 6);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A failed edit leaves the file as it was.
        let before = fs::read(&path).unwrap();
        assert!(edit_key_file(&path, |text| retire_key(text, "nope").map(|t| (t, ()))).is_err());
        assert_eq!(fs::read(&path).unwrap(), before);
    }
}
