//! Verify-only keys from a JSON Web Key Set (RFC 7517, OKP keys per RFC 8037): the document
//! this server publishes at `/.well-known/jwks.json`, read by an app that verifies tokens but
//! cannot mint them. [`parse_jwks`] reads a document, [`load_jwks_file`] a file holding one
//! (`curl …/.well-known/jwks.json > keys.json`), and [`RemoteJwks`] follows an issuer's URL.
//!
//! The reading is strict, and all or nothing: one key that is not an Ed25519 public key (a
//! wrong `kty` or `crv`, an `x` that is not 32 bytes or not a valid point, an `alg` other than
//! `EdDSA`, a `use` other than `sig`, or a private key: `d` present) refuses the whole set, with
//! an error naming the key. An HS256 secret cannot be in a key set (RFC 7518's `oct` keys are
//! refused by `kty`), so a ring read here only verifies.

mod remote;

pub use remote::{RemoteJwks, RemoteJwksError, RemoteJwksOptions};

use std::fmt;
use std::path::Path;

use auth_core::Ed25519PublicKey;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::keys::{Keys, MAX_KEYS};

/// Longest key set document read, in bytes. A set of [`MAX_KEYS`] Ed25519 keys is under 1 KiB.
pub const MAX_JWKS_LEN: usize = 64 * 1024;

/// Why a key set was refused. `Display` names the key (by position and `kid`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksError {
    /// The document is longer than [`MAX_JWKS_LEN`].
    TooLong(usize),
    /// Not JSON, or not an object with a `keys` array of objects.
    Document(String),
    /// More keys than a ring holds ([`MAX_KEYS`]).
    TooManyKeys(usize),
    /// The set holds no key.
    Empty,
    /// One key is refused; nothing of the set is loaded.
    Key {
        /// 1-based position in `keys`.
        index: usize,
        /// Its `kid`, when it has one.
        kid: Option<String>,
        /// What is wrong with it.
        problem: JwkProblem,
    },
}

/// What is wrong with one key of a set.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwkProblem {
    /// `d` is present: a private key does not belong in a verifier's set.
    PrivateKey,
    /// `kty` is not `OKP`.
    Kty(String),
    /// `crv` is not `Ed25519`.
    Crv(String),
    /// `alg` is present and not `EdDSA`.
    Alg(String),
    /// `use` is present and not `sig`.
    Use(String),
    /// `key_ops` is present and lacks `verify`.
    KeyOps,
    /// `x` is missing or not unpadded base64url.
    X,
    /// `x` is not 32 bytes.
    XLength(usize),
    /// The key or its id is refused (not a valid point, a bad or duplicate id, a missing id
    /// in a set of several keys).
    Key(auth_core::KeyError),
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwksError::TooLong(n) => write!(f, "key set is {n} bytes; at most {MAX_JWKS_LEN}"),
            JwksError::Document(e) => write!(f, "not a key set (RFC 7517 §5): {e}"),
            JwksError::TooManyKeys(n) => write!(f, "key set holds {n} keys; at most {MAX_KEYS}"),
            JwksError::Empty => f.write_str("key set holds no key"),
            JwksError::Key {
                index,
                kid,
                problem,
            } => {
                write!(f, "key {index}")?;
                if let Some(kid) = kid {
                    write!(f, " (kid {kid:?})")?;
                }
                write!(f, ": {problem}")
            }
        }
    }
}

impl fmt::Display for JwkProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwkProblem::PrivateKey => {
                f.write_str("a private key (\"d\" is present); give a verifier the public key only")
            }
            JwkProblem::Kty(k) => write!(f, "kty is {k:?}; only OKP (Ed25519) keys verify"),
            JwkProblem::Crv(c) => write!(f, "crv is {c:?}; only Ed25519 verifies"),
            JwkProblem::Alg(a) => write!(f, "alg is {a:?}; an Ed25519 key is EdDSA"),
            JwkProblem::Use(u) => write!(f, "use is {u:?}; a verifying key is \"sig\""),
            JwkProblem::KeyOps => f.write_str("key_ops does not include \"verify\""),
            JwkProblem::X => f.write_str("x is missing or not unpadded base64url"),
            JwkProblem::XLength(n) => write!(f, "x is {n} bytes; an Ed25519 public key is 32"),
            JwkProblem::Key(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for JwksError {}

/// One JWK as read: every member a verifier checks, and `d` to refuse.
#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    d: Option<serde::de::IgnoredAny>,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<RawJwk>,
}

/// Reads a key set into a verify-only ring. Every key is checked before the ring is built.
///
/// # Errors
/// [`JwksError`], naming the key.
pub fn parse_jwks(json: &[u8]) -> Result<Keys, JwksError> {
    if json.len() > MAX_JWKS_LEN {
        return Err(JwksError::TooLong(json.len()));
    }
    let set: RawJwks =
        serde_json::from_slice(json).map_err(|e| JwksError::Document(e.to_string()))?;
    if set.keys.len() > MAX_KEYS {
        return Err(JwksError::TooManyKeys(set.keys.len()));
    }
    let mut ring: Option<Keys> = None;
    for (i, raw) in set.keys.iter().enumerate() {
        let bad = |problem| JwksError::Key {
            index: i + 1,
            kid: raw.kid.clone(),
            problem,
        };
        let key = public_key(raw).map_err(bad)?;
        match ring.as_mut() {
            None => ring = Some(Keys::new(key).map_err(|e| bad(JwkProblem::Key(e)))?),
            Some(r) => r.add(key).map_err(|e| bad(JwkProblem::Key(e)))?,
        }
    }
    ring.ok_or(JwksError::Empty)
}

fn public_key(raw: &RawJwk) -> Result<Ed25519PublicKey, JwkProblem> {
    if raw.d.is_some() {
        return Err(JwkProblem::PrivateKey);
    }
    let member = |v: &Option<String>| v.clone().unwrap_or_default();
    if raw.kty.as_deref() != Some("OKP") {
        return Err(JwkProblem::Kty(member(&raw.kty)));
    }
    if raw.crv.as_deref() != Some("Ed25519") {
        return Err(JwkProblem::Crv(member(&raw.crv)));
    }
    if let Some(alg) = raw.alg.as_deref().filter(|a| *a != "EdDSA") {
        return Err(JwkProblem::Alg(alg.to_owned()));
    }
    if let Some(u) = raw.use_.as_deref().filter(|u| *u != "sig") {
        return Err(JwkProblem::Use(u.to_owned()));
    }
    if raw
        .key_ops
        .as_ref()
        .is_some_and(|ops| !ops.iter().any(|o| o == "verify"))
    {
        return Err(JwkProblem::KeyOps);
    }
    let x = raw
        .x
        .as_deref()
        .and_then(|x| URL_SAFE_NO_PAD.decode(x).ok())
        .ok_or(JwkProblem::X)?;
    if x.len() != auth_core::jwt::eddsa::PUBLIC_KEY_LEN {
        return Err(JwkProblem::XLength(x.len()));
    }
    Ed25519PublicKey::from_slice(&x, raw.kid.as_deref()).map_err(JwkProblem::Key)
}

/// Why a key set file could not be loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum JwksFileError {
    /// The file cannot be read.
    Io(String, std::io::Error),
    /// Its key set is refused.
    Jwks(String, JwksError),
}

impl fmt::Display for JwksFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwksFileError::Io(p, e) => write!(f, "cannot read key set {p}: {e}"),
            JwksFileError::Jwks(p, e) => write!(f, "key set {p}: {e}"),
        }
    }
}

impl std::error::Error for JwksFileError {}

/// Reads a file holding a key set, as `/.well-known/jwks.json` serves it.
///
/// # Errors
/// [`JwksFileError`], naming the file (and the key).
pub fn load_jwks_file(path: &Path) -> Result<Keys, JwksFileError> {
    use std::io::Read as _;
    let shown = path.display().to_string();
    let io = |e| JwksFileError::Io(path.display().to_string(), e);
    // One read, of at most one byte past the bound: `parse_jwks` then refuses a longer file.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_JWKS_LEN as u64 + 1).read_to_end(&mut bytes))
        .map_err(io)?;
    parse_jwks(&bytes).map_err(|e| JwksFileError::Jwks(shown, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::{Algorithm, Ed25519Key};

    fn x(seed: u8) -> String {
        let key = Ed25519Key::from_seed(&[seed; 32]).unwrap();
        URL_SAFE_NO_PAD.encode(key.public_key().as_bytes())
    }

    fn jwk(kid: &str, seed: u8) -> String {
        format!(
            r#"{{"kty":"OKP","crv":"Ed25519","x":"{}","kid":"{kid}","alg":"EdDSA","use":"sig"}}"#,
            x(seed)
        )
    }

    fn err(json: &str) -> String {
        parse_jwks(json.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn reads_what_the_server_publishes() {
        let ring =
            parse_jwks(format!(r#"{{"keys":[{},{}]}}"#, jwk("a", 1), jwk("b", 2)).as_bytes())
                .unwrap();
        assert_eq!(ring.len(), 2);
        for k in ring.keys() {
            assert_eq!(k.algorithm(), Algorithm::EdDsa);
            assert!(!k.can_sign());
        }
        // Only `kty`, `crv` and `x` are required; one key may go without a kid.
        let bare = format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{}"}}]}}"#,
            x(3)
        );
        assert_eq!(parse_jwks(bare.as_bytes()).unwrap().len(), 1);
    }

    #[test]
    fn refuses_each_wrong_key_by_name_and_loads_nothing() {
        let good = jwk("a", 1);
        let with = |member: &str| {
            format!(
                r#"{{"keys":[{good},{{"kty":"OKP","crv":"Ed25519","x":"{}","kid":"k2",{member}}}]}}"#,
                x(2)
            )
        };
        let cases = [
            (with(r#""d":"AAAA""#), "key 2 (kid \"k2\"): a private key"),
            (with(r#""alg":"HS256""#), "alg is \"HS256\""),
            (with(r#""use":"enc""#), "use is \"enc\""),
            (with(r#""key_ops":["sign"]"#), "key_ops"),
            (
                format!(r#"{{"keys":[{good},{{"kty":"oct","k":"c2VjcmV0","kid":"h"}}]}}"#),
                "key 2 (kid \"h\"): kty is \"oct\"",
            ),
            (
                format!(
                    r#"{{"keys":[{{"kty":"OKP","crv":"X25519","x":"{}"}}]}}"#,
                    x(1)
                ),
                "key 1: crv is \"X25519\"",
            ),
            (
                r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}"#.to_owned(),
                "x is 3 bytes",
            ),
            (
                r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"no*pe"}]}"#.to_owned(),
                "x is missing",
            ),
            (
                format!(r#"{{"keys":[{good},{good}]}}"#),
                "key 2 (kid \"a\")",
            ),
            (
                format!(
                    r#"{{"keys":[{good},{{"kty":"OKP","crv":"Ed25519","x":"{}"}}]}}"#,
                    x(2)
                ),
                "key 2",
            ),
            (r#"{"keys":[]}"#.to_owned(), "holds no key"),
            (r#"{"kty":"OKP"}"#.to_owned(), "not a key set"),
            ("[]".to_owned(), "not a key set"),
        ];
        for (json, want) in cases {
            let e = err(&json);
            assert!(e.contains(want), "{json}: {e}");
        }
        // A small-order point (the identity) is not a public key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let small = format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{}"}}]}}"#,
            URL_SAFE_NO_PAD.encode(identity)
        );
        assert!(err(&small).contains("key 1"), "{}", err(&small));
    }

    /// A set of one key, padded to exactly [`MAX_JWKS_LEN`] bytes.
    fn longest() -> String {
        let one = format!(r#"{{"keys":[{}],"pad":""#, jwk("a", 1));
        let doc = format!("{one}{}\"}}", "a".repeat(MAX_JWKS_LEN - one.len() - 2));
        assert_eq!(doc.len(), MAX_JWKS_LEN);
        doc
    }

    #[test]
    fn bounds_the_document() {
        let many: Vec<String> = (0..=MAX_KEYS as u8)
            .map(|i| jwk(&format!("k{i}"), i + 1))
            .collect();
        let e = err(&format!(r#"{{"keys":[{}]}}"#, many.join(",")));
        assert!(e.contains(&format!("holds {} keys", MAX_KEYS + 1)), "{e}");
        let long = format!(r#"{{"keys":[],"pad":"{}"}}"#, "a".repeat(MAX_JWKS_LEN));
        assert!(err(&long).contains("at most 65536"));
        // Both bounds are inclusive: a full ring, and a document of exactly the longest size.
        let full = format!(r#"{{"keys":[{}]}}"#, many[..MAX_KEYS].join(","));
        assert_eq!(parse_jwks(full.as_bytes()).unwrap().len(), MAX_KEYS);
        assert_eq!(parse_jwks(longest().as_bytes()).unwrap().len(), 1);
    }

    #[test]
    fn files_name_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        std::fs::write(&path, format!(r#"{{"keys":[{}]}}"#, jwk("a", 1))).unwrap();
        assert_eq!(load_jwks_file(&path).unwrap().len(), 1);
        // The read's bound: a file of exactly the longest size loads, one byte more is refused
        // as too long (not cut short into a JSON error).
        std::fs::write(&path, longest()).unwrap();
        assert_eq!(load_jwks_file(&path).unwrap().len(), 1);
        std::fs::write(&path, format!("{} ", longest())).unwrap();
        let e = load_jwks_file(&path).unwrap_err().to_string();
        assert!(e.contains("at most 65536"), "{e}");
        std::fs::write(&path, r#"{"keys":[{"kty":"RSA","kid":"r"}]}"#).unwrap();
        let e = load_jwks_file(&path).unwrap_err().to_string();
        assert!(e.contains("keys.json") && e.contains("kid \"r\""), "{e}");
        let e = load_jwks_file(&dir.path().join("none"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read key set"), "{e}");
    }
}
