//! Ed25519 keys for `alg: EdDSA` tokens (RFC 8037): a public key verifies; a private key
//! (with `sign`) signs too. The curve arithmetic is `ed25519-compact`'s, or with the
//! `eddsa-fast` feature (for hosts) `ed25519-dalek`'s, for verifying and signing.
//!
//! Verification is strict, as `ed25519-compact` makes it: `S` must be canonical (below the group
//! order), `A` and `R` must be canonical encodings of points (`y` below the field prime) and
//! neither may have small order. A public key is checked when it is built, so a key that could
//! never verify is refused up front with [`KeyError::InvalidPublicKey`].
//!
//! With `eddsa-fast`, `A` is decoded once, when the key is built, and the equation is dalek's
//! cofactorless one, `R == [S]B - [k]A` byte for byte (so `R` is canonical), after refusing the
//! eight small-order `R` encodings. The one signature the two backends answer differently is
//! one whose `R` is off by a small-order point from `[S]B - [k]A`: compact accepts it, dalek
//! refuses it. Only the private key's holder can make one (`k` hashes `R`); the differential
//! test builds one to pin the difference down, and agrees on everything else.

use core::fmt;

use ed25519_compact::PublicKey;

use super::key::{Algorithm, Kid, make_kid};
use super::{UntrustedToken, VerifiedToken};
use crate::error::{KeyError, VerifyError};

/// Length of an Ed25519 public key in bytes.
pub const PUBLIC_KEY_LEN: usize = 32;

/// Length of an Ed25519 seed (the private key of RFC 8032 §5.1.5) in bytes.
pub const SEED_LEN: usize = 32;

/// Length of an Ed25519 signature in bytes.
pub(crate) const SIGNATURE_LEN: usize = 64;

/// An Ed25519 public key: it verifies `EdDSA` tokens and nothing else. Only its 32 bytes (and
/// its `kid`) are kept; nothing in it is secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Ed25519PublicKey {
    key: [u8; PUBLIC_KEY_LEN],
    kid: Option<Kid>,
    /// The decoded point, for dalek's verify.
    #[cfg(feature = "eddsa-fast")]
    fast: ed25519_dalek::VerifyingKey,
}

/// The canonical encodings of the eight points of small order (`curve25519_dalek`'s
/// `EIGHT_TORSION`, compressed; a unit test recomputes them). With `R == [S]B - [k]A` checked
/// byte for byte, an `R` of small order is one of these.
#[cfg(feature = "eddsa-fast")]
const SMALL_ORDER_R: [[u8; 32]; 8] = {
    let mut t = [[0u8; 32]; 8];
    t[0][0] = 0x01;
    t[1] = ORDER_8;
    t[2][31] = 0x80;
    t[3] = ORDER_8_NEG;
    t[4] = [0xff; 32];
    t[4][0] = 0xec;
    t[4][31] = 0x7f;
    t[5] = ORDER_8_NEG;
    t[5][31] = 0x85;
    // t[6]: all zero.
    t[7] = ORDER_8;
    t[7][31] = 0xfa;
    t
};

#[cfg(feature = "eddsa-fast")]
const ORDER_8: [u8; 32] = [
    0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
    0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
];

#[cfg(feature = "eddsa-fast")]
const ORDER_8_NEG: [u8; 32] = [
    0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
    0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05,
];

impl Ed25519PublicKey {
    /// A public key from its 32 bytes (a JWK's decoded `x`).
    ///
    /// # Errors
    /// [`KeyError::InvalidPublicKey`] when the bytes are not a canonical point of large order.
    pub fn new(bytes: &[u8; PUBLIC_KEY_LEN]) -> Result<Self, KeyError> {
        Self::build(bytes, None)
    }

    /// A public key that carries a key id (`kid`).
    ///
    /// # Errors
    /// [`KeyError::InvalidPublicKey`] or [`KeyError::InvalidKid`].
    pub fn with_kid(bytes: &[u8; PUBLIC_KEY_LEN], kid: &str) -> Result<Self, KeyError> {
        let kid = make_kid(kid).ok_or(KeyError::InvalidKid)?;
        Self::build(bytes, Some(kid))
    }

    /// [`Ed25519PublicKey::with_kid`] (or [`Ed25519PublicKey::new`] for `None`) from a slice,
    /// which must be exactly 32 bytes.
    ///
    /// # Errors
    /// [`KeyError::InvalidPublicKey`] for another length or a bad point, [`KeyError::InvalidKid`].
    pub fn from_slice(bytes: &[u8], kid: Option<&str>) -> Result<Self, KeyError> {
        let bytes: &[u8; PUBLIC_KEY_LEN] =
            bytes.try_into().map_err(|_| KeyError::InvalidPublicKey)?;
        match kid {
            Some(kid) => Self::with_kid(bytes, kid),
            None => Self::new(bytes),
        }
    }

    fn build(bytes: &[u8; PUBLIC_KEY_LEN], kid: Option<Kid>) -> Result<Self, KeyError> {
        PublicKey::new(*bytes)
            .validate()
            .map_err(|_| KeyError::InvalidPublicKey)?;
        Ok(Ed25519PublicKey {
            key: *bytes,
            kid,
            #[cfg(feature = "eddsa-fast")]
            fast: ed25519_dalek::VerifyingKey::from_bytes(bytes)
                .map_err(|_| KeyError::InvalidPublicKey)?,
        })
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key's 32 bytes: a JWK's `x`, before base64url.
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.key
    }

    /// Checks the token's Ed25519 signature with this key. A token whose header names a
    /// different `kid`, or another `alg` than `EdDSA`, is refused before the signature check.
    ///
    /// # Errors
    /// [`VerifyError::UnknownKid`], [`VerifyError::WrongAlgorithm`] or
    /// [`VerifyError::InvalidSignature`].
    pub fn verify<'t>(&self, token: &UntrustedToken<'t>) -> Result<VerifiedToken<'t>, VerifyError> {
        token.check_key(self.kid(), Algorithm::EdDsa)?;
        self.check_signature(token)
    }

    /// Checks a raw Ed25519 signature over `message` (RFC 8032 §5.1.7, strict): no token, no
    /// header. A signature of any other length than 64 bytes is refused.
    ///
    /// # Errors
    /// [`VerifyError::InvalidSignature`].
    pub fn verify_signature(&self, message: &[u8], signature: &[u8]) -> Result<(), VerifyError> {
        #[cfg(feature = "eddsa-fast")]
        return self.verify_dalek(message, signature);
        #[cfg(not(feature = "eddsa-fast"))]
        self.verify_compact(message, signature)
    }

    /// [`Ed25519PublicKey::verify_signature`] through ed25519-dalek (see the module docs).
    #[cfg(feature = "eddsa-fast")]
    pub(crate) fn verify_dalek(&self, message: &[u8], signature: &[u8]) -> Result<(), VerifyError> {
        use ed25519_dalek::Verifier as _;
        let sig: &[u8; SIGNATURE_LEN] = signature
            .try_into()
            .map_err(|_| VerifyError::InvalidSignature)?;
        if SMALL_ORDER_R.iter().any(|t| sig[..32] == t[..]) {
            return Err(VerifyError::InvalidSignature);
        }
        self.fast
            .verify(message, &ed25519_dalek::Signature::from_bytes(sig))
            .map_err(|_| VerifyError::InvalidSignature)
    }

    /// [`Ed25519PublicKey::verify_signature`] through ed25519-compact (with `eddsa-fast`, kept
    /// for the differential test's `fuzzing` accessor only).
    #[cfg(any(not(feature = "eddsa-fast"), feature = "fuzzing"))]
    pub(crate) fn verify_compact(
        &self,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), VerifyError> {
        let sig = ed25519_compact::Signature::from_slice(signature)
            .map_err(|_| VerifyError::InvalidSignature)?;
        PublicKey::new(self.key)
            .verify(message, &sig)
            .map_err(|_| VerifyError::InvalidSignature)
    }

    /// The signature check; refuses any token whose `alg` is not `EdDSA` on its own.
    pub(crate) fn check_signature<'t>(
        &self,
        token: &UntrustedToken<'t>,
    ) -> Result<VerifiedToken<'t>, VerifyError> {
        if token.alg != Algorithm::EdDsa {
            return Err(VerifyError::WrongAlgorithm);
        }
        let sig = token
            .signature
            .get(..SIGNATURE_LEN)
            .ok_or(VerifyError::InvalidSignature)?;
        self.verify_signature(token.signing_input.as_bytes(), sig)?;
        Ok(VerifiedToken::checked(token))
    }
}

impl fmt::Debug for Ed25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ed25519PublicKey")
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

/// An Ed25519 private key: it signs `EdDSA` tokens, and verifies them with its public half.
///
/// Built from a 32-byte seed (RFC 8032 §5.1.5). Signatures are deterministic (RFC 8032): the
/// same claims always give the same token. `Debug` never shows the secret, there is no
/// `Display`, and the secret is wiped when the key is dropped.
#[cfg(feature = "sign")]
#[derive(Clone)]
pub struct Ed25519Key {
    #[cfg(not(feature = "eddsa-fast"))]
    secret: ed25519_compact::SecretKey,
    /// With `eddsa-fast`, dalek signs (its basepoint tables); the same RFC 8032 bytes.
    #[cfg(feature = "eddsa-fast")]
    secret: ed25519_dalek::SigningKey,
    public: Ed25519PublicKey,
}

#[cfg(feature = "sign")]
impl Ed25519Key {
    /// A private key from its seed.
    ///
    /// # Errors
    /// None today; the `Result` matches the other constructors.
    pub fn from_seed(seed: &[u8; SEED_LEN]) -> Result<Self, KeyError> {
        Self::build(seed, None)
    }

    /// A private key that carries a key id (`kid`), written into every token it signs.
    ///
    /// # Errors
    /// [`KeyError::InvalidKid`].
    pub fn from_seed_with_kid(seed: &[u8; SEED_LEN], kid: &str) -> Result<Self, KeyError> {
        let kid = make_kid(kid).ok_or(KeyError::InvalidKid)?;
        Self::build(seed, Some(kid))
    }

    fn build(seed: &[u8; SEED_LEN], kid: Option<Kid>) -> Result<Self, KeyError> {
        #[cfg(not(feature = "eddsa-fast"))]
        let (secret, public) = {
            let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(*seed));
            (pair.sk, *pair.pk)
        };
        #[cfg(feature = "eddsa-fast")]
        let (secret, public) = {
            let secret = ed25519_dalek::SigningKey::from_bytes(seed);
            let public = secret.verifying_key().to_bytes();
            (secret, public)
        };
        // A derived public key is always a valid one; built the one way, checks and all.
        let public = Ed25519PublicKey::build(&public, kid)?;
        Ok(Ed25519Key { secret, public })
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.public.kid()
    }

    /// The public key that verifies this key's tokens (with the same `kid`).
    pub fn public_key(&self) -> &Ed25519PublicKey {
        &self.public
    }

    /// Checks a token as [`Ed25519PublicKey::verify`] does.
    ///
    /// # Errors
    /// As [`Ed25519PublicKey::verify`].
    pub fn verify<'t>(&self, token: &UntrustedToken<'t>) -> Result<VerifiedToken<'t>, VerifyError> {
        self.public.verify(token)
    }

    /// The RFC 8032 signature of `message`.
    pub(crate) fn signature(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        #[cfg(not(feature = "eddsa-fast"))]
        return *self.secret.sign(message, None);
        #[cfg(feature = "eddsa-fast")]
        {
            use ed25519_dalek::Signer as _;
            self.secret.sign(message).to_bytes()
        }
    }
}

#[cfg(feature = "sign")]
impl fmt::Debug for Ed25519Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ed25519Key")
            .field("kid", &self.kid())
            .field("secret", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            _ => c - b'a' + 10,
        }
    }

    fn hex<const N: usize>(s: &str) -> [u8; N] {
        let b = s.as_bytes();
        assert_eq!(b.len(), 2 * N);
        core::array::from_fn(|i| nibble(b[2 * i]) << 4 | nibble(b[2 * i + 1]))
    }

    /// The table is all eight small-order points: eight distinct encodings, each of which
    /// compact decodes (canonical) and calls weak (small order). There are exactly eight such
    /// points, each with one canonical encoding.
    #[cfg(feature = "eddsa-fast")]
    #[test]
    fn small_order_table_is_every_small_order_point() {
        for (i, t) in SMALL_ORDER_R.iter().enumerate() {
            assert!(SMALL_ORDER_R[..i].iter().all(|u| u != t), "{i} repeats");
            assert_eq!(
                PublicKey::new(*t).validate(),
                Err(ed25519_compact::Error::WeakPublicKey),
                "{i}"
            );
        }
    }

    /// RFC 8032 §7.1, TEST 1 to TEST 3: secret key, public key, message, signature.
    const RFC8032: [(&str, &str, &str, &str); 3] = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
        (
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        ),
    ];

    #[test]
    fn rfc8032_section_7_1() {
        for (secret, public, message, signature) in RFC8032 {
            let mut msg = [0u8; 2];
            let msg = &mut msg[..message.len() / 2];
            for (i, m) in msg.iter_mut().enumerate() {
                *m = nibble(message.as_bytes()[2 * i]) << 4 | nibble(message.as_bytes()[2 * i + 1]);
            }
            let sig: [u8; 64] = hex(signature);
            let pk = Ed25519PublicKey::new(&hex(public)).unwrap();
            assert_eq!(pk.verify_signature(msg, &sig), Ok(()));
            let mut bad = sig;
            bad[63] ^= 0x01;
            assert_eq!(
                pk.verify_signature(msg, &bad),
                Err(VerifyError::InvalidSignature)
            );
            assert_eq!(
                pk.verify_signature(msg, &sig[..63]),
                Err(VerifyError::InvalidSignature)
            );
            #[cfg(feature = "sign")]
            {
                let key = Ed25519Key::from_seed(&hex(secret)).unwrap();
                assert_eq!(key.public_key().as_bytes(), pk.as_bytes());
                assert_eq!(key.signature(msg), sig);
            }
            let _ = secret;
        }
    }

    /// RFC 8037 Appendix A.4: the JWS signing input, signed deterministically with A.1's key.
    #[cfg(feature = "sign")]
    #[test]
    fn rfc8037_a4_signature() {
        let mut d = [0u8; 33];
        assert_eq!(
            crate::b64::decode(b"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A", &mut d),
            Some(32)
        );
        let seed: [u8; 32] = d[..32].try_into().unwrap();
        let key = Ed25519Key::from_seed(&seed).unwrap();
        let sig = key.signature(b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc");
        let mut enc = [0u8; 88];
        let n = crate::b64::encode(&sig, &mut enc).unwrap();
        assert_eq!(
            &enc[..n],
            b"hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
        let n = crate::b64::encode(key.public_key().as_bytes(), &mut enc).unwrap();
        assert_eq!(&enc[..n], b"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
    }

    #[test]
    fn weak_and_non_canonical_public_keys_are_refused() {
        // The identity (small order), a point of order 8 and a non-canonical `y` (>= p).
        let identity: [u8; 32] =
            hex("0100000000000000000000000000000000000000000000000000000000000000");
        let order8: [u8; 32] =
            hex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a");
        let non_canonical: [u8; 32] =
            hex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
        for bad in [identity, order8, non_canonical] {
            assert_eq!(
                Ed25519PublicKey::new(&bad).unwrap_err(),
                KeyError::InvalidPublicKey
            );
        }
        assert_eq!(
            Ed25519PublicKey::from_slice(&[9; 31], None).unwrap_err(),
            KeyError::InvalidPublicKey
        );
        assert_eq!(
            Ed25519PublicKey::with_kid(&hex(RFC8032[0].1), "a b").unwrap_err(),
            KeyError::InvalidKid
        );
    }

    #[cfg(feature = "sign")]
    #[test]
    fn debug_redacts_the_secret() {
        let key = Ed25519Key::from_seed_with_kid(&[7; 32], "ed1").unwrap();
        let mut s = heapless::String::<128>::new();
        core::fmt::write(&mut s, format_args!("{key:?}")).unwrap();
        assert_eq!(
            s,
            r#"Ed25519Key { kid: Some("ed1"), secret: "<redacted>" }"#
        );
    }
}
