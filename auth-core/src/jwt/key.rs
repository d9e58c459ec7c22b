//! HS256 keys, key ids and the algorithms. A key's algorithm is its type: an [`Hs256Key`]
//! checks only `HS256` tokens, an Ed25519 key (`eddsa.rs`) only `EdDSA` ones.

use core::fmt;

#[cfg(feature = "sign")]
use crate::b64;
use crate::error::KeyError;

/// Minimum HS256 secret length in bytes: RFC 7518 §3.2 requires a key at least as long as the
/// hash output.
pub const MIN_KEY_LEN: usize = 32;

/// Maximum key id length in bytes.
pub const MAX_KID_LEN: usize = 64;

/// A key id: 1 to [`MAX_KID_LEN`] bytes of printable ASCII, without `"` or `\`.
pub(crate) type Kid = heapless::String<MAX_KID_LEN>;

/// A token's signature algorithm, its header's `alg`. Each key type checks exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// `HS256`: HMAC with SHA-256 (RFC 7518 §3.2), the default.
    Hs256,
    /// `EdDSA` with the `Ed25519` curve (RFC 8037).
    #[cfg(feature = "eddsa")]
    EdDsa,
}

impl Algorithm {
    /// The header's `alg` value: `HS256` or `EdDSA`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::Hs256 => "HS256",
            #[cfg(feature = "eddsa")]
            Algorithm::EdDsa => "EdDSA",
        }
    }

    /// The algorithm an `alg` value names, compared exactly.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "HS256" => Some(Algorithm::Hs256),
            #[cfg(feature = "eddsa")]
            "EdDSA" => Some(Algorithm::EdDsa),
            _ => None,
        }
    }

    /// Length of the signature segment, unpadded base64url: 43 (32 bytes) or 86 (64 bytes).
    pub(crate) const fn signature_b64_len(self) -> usize {
        match self {
            Algorithm::Hs256 => super::SIGNATURE_B64_LEN,
            #[cfg(feature = "eddsa")]
            Algorithm::EdDsa => super::EDDSA_SIGNATURE_B64_LEN,
        }
    }
}

/// `{"alg":"HS256","kid":"<64 bytes>","typ":"JWT"}` is 103 bytes; 140 base64 characters hold it.
#[cfg(feature = "sign")]
pub(crate) const MAX_SIGN_HEADER_B64: usize = 140;

#[cfg(feature = "sign")]
use crate::mac::Mac;
use crate::mac::Pads;

/// Checks a key id and copies it into a [`Kid`].
pub(crate) fn make_kid(kid: &str) -> Option<Kid> {
    kid_from_chars(kid.chars())
}

/// Checks a key id given as its characters (decoded from JSON, say) and copies it into a
/// [`Kid`] as it goes: 1 to [`MAX_KID_LEN`] printable ASCII characters, without `"` or `\`.
pub(crate) fn kid_from_chars(chars: impl Iterator<Item = char>) -> Option<Kid> {
    let mut out = Kid::new();
    for c in chars {
        if !('\x21'..='\x7e').contains(&c) || c == '"' || c == '\\' {
            return None;
        }
        out.push_str(c.encode_utf8(&mut [0; 4])).ok()?;
    }
    (!out.is_empty()).then_some(out)
}

/// An HS256 secret with its HMAC state precomputed.
///
/// The inner and outer padded key blocks are hashed once, when the key is built; signing and
/// verifying start from those states instead of re-hashing the key. Only the two hash states
/// are kept (64 bytes), so a key ring is small on a device's stack. `Debug` never shows the
/// secret and there is no `Display`.
#[derive(Clone)]
pub struct Hs256Key {
    pads: Pads,
    kid: Option<Kid>,
}

impl Hs256Key {
    /// Builds a key from raw secret bytes.
    ///
    /// # Errors
    /// [`KeyError::TooShort`] when `secret` has fewer than [`MIN_KEY_LEN`] bytes.
    pub fn new(secret: &[u8]) -> Result<Self, KeyError> {
        Self::build(secret, None)
    }

    /// Builds a key that carries a key id (`kid`), written into every token it signs.
    ///
    /// # Errors
    /// [`KeyError::TooShort`] for a short secret, [`KeyError::InvalidKid`] for a bad id.
    pub fn with_kid(secret: &[u8], kid: &str) -> Result<Self, KeyError> {
        let kid = make_kid(kid).ok_or(KeyError::InvalidKid)?;
        Self::build(secret, Some(kid))
    }

    fn build(secret: &[u8], kid: Option<Kid>) -> Result<Self, KeyError> {
        if secret.len() < MIN_KEY_LEN {
            return Err(KeyError::TooShort);
        }
        Ok(Hs256Key {
            pads: Pads::new(secret),
            kid,
        })
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// A fresh HMAC from the precomputed state, to feed piece by piece.
    #[cfg(feature = "sign")]
    pub(crate) fn mac(&self) -> Mac<'_> {
        self.pads.begin()
    }

    /// The precomputed HMAC states.
    pub(crate) fn pads(&self) -> &Pads {
        &self.pads
    }

    /// Writes the base64url header this key signs with at the front of `out` (the constant one
    /// without a `kid`) and returns its length; `None` when `out` is too small.
    #[cfg(feature = "sign")]
    pub(crate) fn write_header_b64(&self, out: &mut [u8]) -> Option<usize> {
        write_header_b64(Algorithm::Hs256, self.kid(), out)
    }
}

/// Writes the base64url header a key of `alg` signs with at the front of `out` (the constant
/// one without a `kid`, else `{"alg":"<alg>","kid":"<kid>","typ":"JWT"}`, the bytes the fixed-
/// header fast path compares) and returns its length; `None` when `out` is too small.
#[cfg(feature = "sign")]
pub(crate) fn write_header_b64(alg: Algorithm, kid: Option<&str>, out: &mut [u8]) -> Option<usize> {
    let Some(kid) = kid else {
        let canonical = match alg {
            Algorithm::Hs256 => super::CANONICAL_HEADER_B64,
            #[cfg(feature = "eddsa")]
            Algorithm::EdDsa => super::EDDSA_CANONICAL_HEADER_B64,
        }
        .as_bytes();
        out.get_mut(..canonical.len())?.copy_from_slice(canonical);
        return Some(canonical.len());
    };
    let mut json = heapless::Vec::<u8, 112>::new();
    json.extend_from_slice(br#"{"alg":""#).ok()?;
    json.extend_from_slice(alg.as_str().as_bytes()).ok()?;
    json.extend_from_slice(br#"","kid":""#).ok()?;
    json.extend_from_slice(kid.as_bytes()).ok()?;
    json.extend_from_slice(br#"","typ":"JWT"}"#).ok()?;
    b64::encode(&json, out)
}

impl fmt::Debug for Hs256Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hs256Key")
            .field("kid", &self.kid())
            .field("secret", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::ring::KeyRing;
    use super::*;

    const S1: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
    const S2: &[u8; 32] = b"fedcba9876543210fedcba9876543210";

    #[test]
    fn short_keys_are_refused() {
        assert_eq!(
            Hs256Key::new(b"your-256-bit-secret").unwrap_err(),
            KeyError::TooShort
        );
        assert_eq!(Hs256Key::new(&S1[..31]).unwrap_err(), KeyError::TooShort);
        assert!(Hs256Key::new(S1).is_ok());
    }

    #[test]
    fn debug_redacts() {
        let k = Hs256Key::with_kid(S1, "k1").unwrap();
        let mut s = heapless::String::<128>::new();
        core::fmt::write(&mut s, format_args!("{k:?}")).unwrap();
        assert_eq!(s, r#"Hs256Key { kid: Some("k1"), secret: "<redacted>" }"#);
    }

    #[test]
    fn kids_are_validated() {
        for bad in ["", "a b", "a\"b", "a\\b", "é", &"x".repeat(65)] {
            assert_eq!(
                Hs256Key::with_kid(S1, bad).unwrap_err(),
                KeyError::InvalidKid,
                "{bad:?}"
            );
        }
        assert!(Hs256Key::with_kid(S1, &"x".repeat(64)).is_ok());
    }

    #[test]
    fn ring_rules() {
        let mut ring = KeyRing::<2>::new(Hs256Key::with_kid(S1, "a").unwrap()).unwrap();
        assert_eq!(
            ring.add(Hs256Key::new(S2).unwrap()),
            Err(KeyError::MissingKid)
        );
        assert_eq!(
            ring.add(Hs256Key::with_kid(S2, "a").unwrap()),
            Err(KeyError::DuplicateKid)
        );
        ring.rotate(Hs256Key::with_kid(S2, "b").unwrap()).unwrap();
        assert_eq!(ring.signing_key().kid(), Some("b"));
        assert_eq!(
            ring.add(Hs256Key::with_kid(S2, "c").unwrap()),
            Err(KeyError::RingFull)
        );
        assert_eq!(ring.remove("b").unwrap_err(), KeyError::SigningKeyInUse);
        assert_eq!(ring.remove("zz").unwrap_err(), KeyError::NotFound);
        assert_eq!(ring.remove("a").unwrap().kid(), Some("a"));
        assert_eq!(ring.signing_key().kid(), Some("b"));
        assert_eq!(ring.len(), 1);

        let mut plain = KeyRing::<2>::new(Hs256Key::new(S1).unwrap()).unwrap();
        assert_eq!(
            plain.add(Hs256Key::with_kid(S2, "b").unwrap()),
            Err(KeyError::MissingKid)
        );
        assert!(KeyRing::<0>::new(Hs256Key::new(S1).unwrap()).is_err());
    }
}
