//! HS256 keys and the key ring.

use core::fmt;

use hmac::KeyInit;
use hmac::block_api::HmacCore;
use sha2::Sha256;
use sha2::digest::block_api::{Buffer, CoreProxy};

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

/// `{"alg":"HS256","kid":"<64 bytes>","typ":"JWT"}` is 103 bytes; 140 base64 characters hold it.
#[cfg(feature = "sign")]
pub(crate) const MAX_SIGN_HEADER_B64: usize = 140;

use crate::mac::HmacSha256;

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
/// verifying clone that state instead of re-hashing the key. Only the two hash states are kept
/// (80 bytes on a 32-bit device; the HMAC's block buffer is made fresh for each use), so a key
/// ring is small on a device's stack. `Debug` never shows the secret and there is no `Display`.
#[derive(Clone)]
pub struct Hs256Key {
    core: HmacCore<Sha256>,
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
        let core = HmacCore::<Sha256>::new_from_slice(secret).map_err(|_| KeyError::TooShort)?;
        Ok(Hs256Key { core, kid })
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// A fresh HMAC from the precomputed state.
    pub(crate) fn mac(&self) -> HmacSha256 {
        HmacSha256::compose(self.core.clone(), Buffer::<HmacCore<Sha256>>::default())
    }

    /// Writes the base64url header this key signs with at the front of `out` (the constant one
    /// without a `kid`) and returns its length; `None` when `out` is too small.
    #[cfg(feature = "sign")]
    pub(crate) fn write_header_b64(&self, out: &mut [u8]) -> Option<usize> {
        let Some(kid) = self.kid.as_deref() else {
            let canonical = super::CANONICAL_HEADER_B64.as_bytes();
            out.get_mut(..canonical.len())?.copy_from_slice(canonical);
            return Some(canonical.len());
        };
        let mut json = heapless::Vec::<u8, 112>::new();
        json.extend_from_slice(br#"{"alg":"HS256","kid":""#).ok()?;
        json.extend_from_slice(kid.as_bytes()).ok()?;
        json.extend_from_slice(br#"","typ":"JWT"}"#).ok()?;
        b64::encode(&json, out)
    }
}

impl fmt::Debug for Hs256Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hs256Key")
            .field("kid", &self.kid())
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Up to `N` keys, one of which signs. Verification picks the key by the token's `kid`.
///
/// * A token with a `kid` is checked against the key with that id only; an unknown id fails.
/// * A token without a `kid` is checked against the signing key only.
///
/// Rotation: [`KeyRing::rotate`] in a new key (it becomes the signing key); tokens signed by the
/// old key keep verifying until it is [`KeyRing::remove`]d. A ring of several keys needs a `kid`
/// on every key.
#[derive(Clone, Debug)]
pub struct KeyRing<const N: usize> {
    signing: Hs256Key,
    /// Verify-only keys; at most `N - 1` of them.
    others: heapless::Vec<Hs256Key, N>,
}

impl<const N: usize> KeyRing<N> {
    /// A ring holding one key, which signs.
    ///
    /// # Errors
    /// [`KeyError::RingFull`] when `N == 0`.
    pub fn new(signing: Hs256Key) -> Result<Self, KeyError> {
        if N == 0 {
            return Err(KeyError::RingFull);
        }
        Ok(KeyRing {
            signing,
            others: heapless::Vec::new(),
        })
    }

    /// Adds a verify-only key.
    ///
    /// # Errors
    /// [`KeyError::RingFull`], [`KeyError::DuplicateKid`], or [`KeyError::MissingKid`] when the
    /// new key or a key already in the ring has no id.
    pub fn add(&mut self, key: Hs256Key) -> Result<(), KeyError> {
        let kid = key.kid().ok_or(KeyError::MissingKid)?;
        if self.keys().any(|k| k.kid().is_none()) {
            return Err(KeyError::MissingKid);
        }
        if self.get(kid).is_some() {
            return Err(KeyError::DuplicateKid);
        }
        if self.len() >= N {
            return Err(KeyError::RingFull);
        }
        self.others.push(key).map_err(|_| KeyError::RingFull)
    }

    /// Adds `key` and makes it the signing key. The previous key stays, verify-only.
    ///
    /// # Errors
    /// As [`KeyRing::add`].
    pub fn rotate(&mut self, key: Hs256Key) -> Result<(), KeyError> {
        self.add(key)?;
        let last = self.others.len().saturating_sub(1);
        self.swap_signing(last);
        Ok(())
    }

    /// Makes the key with id `kid` the signing key.
    ///
    /// # Errors
    /// [`KeyError::NotFound`].
    pub fn set_signing(&mut self, kid: &str) -> Result<(), KeyError> {
        if self.signing.kid() == Some(kid) {
            return Ok(());
        }
        let at = self.position(kid).ok_or(KeyError::NotFound)?;
        self.swap_signing(at);
        Ok(())
    }

    fn swap_signing(&mut self, at: usize) {
        if let Some(k) = self.others.get_mut(at) {
            core::mem::swap(k, &mut self.signing);
        }
    }

    /// Removes the key with id `kid`; tokens it signed stop verifying.
    ///
    /// # Errors
    /// [`KeyError::NotFound`], or [`KeyError::SigningKeyInUse`] for the signing key.
    pub fn remove(&mut self, kid: &str) -> Result<Hs256Key, KeyError> {
        if self.signing.kid() == Some(kid) {
            return Err(KeyError::SigningKeyInUse);
        }
        let at = self.position(kid).ok_or(KeyError::NotFound)?;
        // `at < len`, checked by `position`.
        Ok(self.others.remove(at))
    }

    /// The key that signs.
    pub fn signing_key(&self) -> &Hs256Key {
        &self.signing
    }

    /// The key with id `kid`.
    pub fn get(&self, kid: &str) -> Option<&Hs256Key> {
        self.keys().find(|k| k.kid() == Some(kid))
    }

    fn position(&self, kid: &str) -> Option<usize> {
        self.others.iter().position(|k| k.kid() == Some(kid))
    }

    /// Number of keys, the signing key included.
    pub fn len(&self) -> usize {
        self.others.len().saturating_add(1)
    }

    /// Always `false`: a ring holds at least its signing key.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// All keys, the signing key first.
    pub fn keys(&self) -> impl Iterator<Item = &Hs256Key> {
        core::iter::once(&self.signing).chain(self.others.iter())
    }

    /// The key that checks a token: by `kid`, or the signing key when the token has none.
    pub(crate) fn select(&self, kid: Option<&str>) -> Option<&Hs256Key> {
        match kid {
            Some(kid) => self.get(kid),
            None => Some(&self.signing),
        }
    }
}

#[cfg(test)]
mod tests {
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
