//! The key ring: keys of any algorithm this build supports, selected by `kid` *and* `alg`.

#[cfg(all(feature = "eddsa", feature = "sign"))]
use super::eddsa::Ed25519Key;
#[cfg(feature = "eddsa")]
use super::eddsa::Ed25519PublicKey;
use super::key::{Algorithm, Hs256Key};
use crate::error::{KeyError, VerifyError};

/// A key of any algorithm this build supports: what a [`KeyRing`] holds.
///
/// The variant is the algorithm. Build one with `.into()` from the key type.
#[derive(Clone, Debug)]
#[non_exhaustive]
#[cfg_attr(
    all(feature = "eddsa-fast", feature = "sign"),
    expect(
        clippy::large_enum_variant,
        reason = "no Box without alloc: with `eddsa-fast` (hosts only) a signing key holds dalek's \
                  key and decoded point, 528 B; a server's ring of 8 is about 4 KiB"
    )
)]
pub enum Key {
    /// An HS256 secret: verifies and signs.
    Hs256(Hs256Key),
    /// An Ed25519 public key: verifies only.
    #[cfg(feature = "eddsa")]
    Ed25519(Ed25519PublicKey),
    /// An Ed25519 private key: signs, and verifies with its public half.
    #[cfg(all(feature = "eddsa", feature = "sign"))]
    Ed25519Signing(Ed25519Key),
}

impl Key {
    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        match self {
            Key::Hs256(k) => k.kid(),
            #[cfg(feature = "eddsa")]
            Key::Ed25519(k) => k.kid(),
            #[cfg(all(feature = "eddsa", feature = "sign"))]
            Key::Ed25519Signing(k) => k.kid(),
        }
    }

    /// The one algorithm this key checks and signs.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Key::Hs256(_) => Algorithm::Hs256,
            #[cfg(feature = "eddsa")]
            Key::Ed25519(_) => Algorithm::EdDsa,
            #[cfg(all(feature = "eddsa", feature = "sign"))]
            Key::Ed25519Signing(_) => Algorithm::EdDsa,
        }
    }

    /// Whether this key can sign: an HS256 secret or an Ed25519 private key. A public key
    /// cannot.
    pub fn can_sign(&self) -> bool {
        match self {
            Key::Hs256(_) => true,
            #[cfg(feature = "eddsa")]
            Key::Ed25519(_) => false,
            #[cfg(all(feature = "eddsa", feature = "sign"))]
            Key::Ed25519Signing(_) => true,
        }
    }

    /// The public key that verifies this key's tokens, for a key set (JWKS): `None` for an HS256
    /// secret, which is never published.
    #[cfg(feature = "eddsa")]
    pub fn public_key(&self) -> Option<&Ed25519PublicKey> {
        match self {
            Key::Hs256(_) => None,
            Key::Ed25519(k) => Some(k),
            #[cfg(feature = "sign")]
            Key::Ed25519Signing(k) => Some(k.public_key()),
        }
    }
}

impl From<Hs256Key> for Key {
    fn from(k: Hs256Key) -> Self {
        Key::Hs256(k)
    }
}

#[cfg(feature = "eddsa")]
impl From<Ed25519PublicKey> for Key {
    fn from(k: Ed25519PublicKey) -> Self {
        Key::Ed25519(k)
    }
}

#[cfg(all(feature = "eddsa", feature = "sign"))]
impl From<Ed25519Key> for Key {
    fn from(k: Ed25519Key) -> Self {
        Key::Ed25519Signing(k)
    }
}

/// Up to `N` keys, one of which signs. Verification picks the key by the token's `kid` and
/// `alg`:
///
/// * A token with a `kid` is checked against the key with that id only; an unknown id fails,
///   and so does a key of another algorithm than the token's `alg`.
/// * A token without a `kid` is checked against the signing key only, which must be of the
///   token's algorithm.
///
/// Rotation: [`KeyRing::rotate`] in a new key (it becomes the signing key); tokens signed by the
/// old key keep verifying until it is [`KeyRing::remove`]d. A ring of several keys needs a `kid`
/// on every key. A ring of public keys only verifies; its `sign` calls fail.
#[derive(Clone, Debug)]
pub struct KeyRing<const N: usize> {
    signing: Key,
    /// Verify-only keys; at most `N - 1` of them.
    others: heapless::Vec<Key, N>,
}

impl<const N: usize> KeyRing<N> {
    /// A ring holding one key, which signs.
    ///
    /// # Errors
    /// [`KeyError::RingFull`] when `N == 0`.
    pub fn new(signing: impl Into<Key>) -> Result<Self, KeyError> {
        if N == 0 {
            return Err(KeyError::RingFull);
        }
        Ok(KeyRing {
            signing: signing.into(),
            others: heapless::Vec::new(),
        })
    }

    /// Adds a verify-only key.
    ///
    /// # Errors
    /// [`KeyError::RingFull`], [`KeyError::DuplicateKid`], or [`KeyError::MissingKid`] when the
    /// new key or a key already in the ring has no id.
    pub fn add(&mut self, key: impl Into<Key>) -> Result<(), KeyError> {
        let key = key.into();
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
    pub fn rotate(&mut self, key: impl Into<Key>) -> Result<(), KeyError> {
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
    pub fn remove(&mut self, kid: &str) -> Result<Key, KeyError> {
        if self.signing.kid() == Some(kid) {
            return Err(KeyError::SigningKeyInUse);
        }
        let at = self.position(kid).ok_or(KeyError::NotFound)?;
        // `at < len`, checked by `position`.
        Ok(self.others.remove(at))
    }

    /// The key that signs.
    pub fn signing_key(&self) -> &Key {
        &self.signing
    }

    /// The key with id `kid`.
    pub fn get(&self, kid: &str) -> Option<&Key> {
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
    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        core::iter::once(&self.signing).chain(self.others.iter())
    }

    /// The key that checks a token: by `kid`, or the signing key when the token has none.
    /// [`VerifyError::UnknownKid`] when no key has the id; [`VerifyError::WrongAlgorithm`] when
    /// the key's algorithm is not the token's `alg`.
    pub(crate) fn select(&self, kid: Option<&str>, alg: Algorithm) -> Result<&Key, VerifyError> {
        let key = match kid {
            Some(kid) => self.get(kid).ok_or(VerifyError::UnknownKid)?,
            None => &self.signing,
        };
        if key.algorithm() == alg {
            Ok(key)
        } else {
            Err(VerifyError::WrongAlgorithm)
        }
    }
}
