//! One implementation of each operation per crate, on the same inputs, so the criterion bench
//! and the allocation counter measure exactly the same code.
#![allow(missing_docs)]

use serde::{Deserialize, Serialize};

/// Fixed "now" for every validation that accepts one; `exp` lies far in the future so peers
/// that read the system clock (jsonwebtoken, jwt-simple) accept the same tokens.
pub const NOW: u64 = 1_764_331_200;
pub const EXP: u64 = 4_102_444_800; // 2100-01-01
pub const SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
pub const ISS: &str = "https://auth.example.com";
pub const AUD: &str = "dashboard";
pub const SUB: &str = "alice@example.com";

/// The typical claims (`sub`, `iss`, `aud`, `iat`, `exp`) plus, for the large payload, `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Owned {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

pub fn owned(large: bool) -> Owned {
    Owned {
        sub: SUB.into(),
        iss: ISS.into(),
        aud: AUD.into(),
        iat: NOW,
        exp: EXP,
        data: large.then(|| "x".repeat(700)),
    }
}

pub mod ours {
    use auth_core::jwt::{Audience, ClaimsWriter, NumericDate, RegisteredClaims, WriteClaims};
    use auth_core::{
        ClaimsError, EncodeError, Hs256Key, JsonStr, KeyRing, UntrustedToken, Validation,
    };
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize)]
    pub struct C<'a> {
        #[serde(borrow)]
        pub sub: JsonStr<'a>,
        #[serde(borrow)]
        pub iss: JsonStr<'a>,
        #[serde(borrow)]
        pub aud: Audience<'a>,
        pub iat: NumericDate,
        pub exp: NumericDate,
        #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
        pub data: Option<JsonStr<'a>>,
    }

    impl RegisteredClaims for C<'_> {
        fn exp(&self) -> Option<NumericDate> {
            Some(self.exp)
        }
        fn iat(&self) -> Option<NumericDate> {
            Some(self.iat)
        }
        fn iss(&self) -> Option<JsonStr<'_>> {
            Some(self.iss)
        }
        fn aud(&self) -> Option<&Audience<'_>> {
            Some(&self.aud)
        }
    }

    pub fn claims(c: &super::Owned) -> C<'_> {
        C {
            sub: JsonStr::new(&c.sub),
            iss: JsonStr::new(&c.iss),
            aud: Audience::one(JsonStr::new(&c.aud)),
            iat: c.iat,
            exp: c.exp,
            data: c.data.as_deref().map(JsonStr::new),
        }
    }

    pub fn ring() -> KeyRing<1> {
        KeyRing::new(Hs256Key::new(super::SECRET).unwrap()).unwrap()
    }

    pub const VALIDATION: Validation<'static> = Validation::new()
        .with_issuer(super::ISS)
        .with_audience(super::AUD);

    impl WriteClaims for C<'_> {
        fn write_claims(&self, w: &mut ClaimsWriter<'_>) -> Result<(), EncodeError> {
            w.json_str("sub", self.sub)?;
            w.json_str("iss", self.iss)?;
            w.audience("aud", &self.aud)?;
            w.number("iat", self.iat)?;
            w.number("exp", self.exp)?;
            if let Some(data) = self.data {
                w.json_str("data", data)?;
            }
            Ok(())
        }
    }

    /// The fast path (#26): the purpose-written claims writer, no serde.
    pub fn sign(ring: &KeyRing<1>, c: &C<'_>, out: &mut [u8]) -> usize {
        ring.sign_claims(c, out).unwrap().len()
    }

    /// The serde path: serde-json-core over the derived `Serialize`.
    pub fn sign_serde(ring: &KeyRing<1>, c: &C<'_>, out: &mut [u8]) -> usize {
        ring.sign(c, out).unwrap().len()
    }

    /// The fast path (#26): the fused decode (fixed-header check, MAC, one strict base64url pass,
    /// the claims scanner), `data` taken through the scanner's callback (borrowed, as every
    /// string here is), and validation. The same checks as the serde path: `sub`, `iss`, `aud`,
    /// `iat` and `exp` must be present.
    pub fn verify(ring: &KeyRing<1>, token: &str, buf: &mut [u8]) -> u64 {
        let mut data = None;
        let c = ring
            .decode_registered_with(token, buf, &VALIDATION, super::NOW, |name, value| {
                if name == "data" {
                    data = Some(value.as_str().ok_or(ClaimsError::WrongType)?);
                }
                Ok(())
            })
            .unwrap();
        assert!(c.sub.is_some() && c.iat.is_some());
        std::hint::black_box(data);
        c.exp.unwrap()
    }

    /// The serde path: serde-json-core into the derived `Deserialize`.
    pub fn verify_serde(ring: &KeyRing<1>, token: &str, buf: &mut [u8]) -> u64 {
        let u = UntrustedToken::parse(token).unwrap();
        let v = ring.verify(&u).unwrap();
        let c: C<'_> = v.claims(buf).unwrap();
        VALIDATION.validate(&c, super::NOW).unwrap();
        c.exp
    }
}

pub mod jsonwebtoken_impl {
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};

    pub struct Keys {
        pub enc: EncodingKey,
        pub dec: DecodingKey,
        pub validation: Validation,
    }

    pub fn keys() -> Keys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_issuer(&[super::ISS]);
        validation.set_audience(&[super::AUD]);
        Keys {
            enc: EncodingKey::from_secret(super::SECRET).unwrap(),
            dec: DecodingKey::from_secret(super::SECRET).unwrap(),
            validation,
        }
    }

    pub fn sign(k: &Keys, c: &super::Owned) -> String {
        encode(&Header::new(Algorithm::HS256), c, &k.enc).unwrap()
    }

    pub fn verify(k: &Keys, token: &str) -> u64 {
        decode::<super::Owned>(token, &k.dec, &k.validation)
            .unwrap()
            .claims
            .exp
    }
}

pub mod jwt_simple_impl {
    use std::collections::HashSet;

    use jwt_simple::prelude::*;

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Extra {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub data: Option<String>,
    }

    pub fn key() -> HS256Key {
        HS256Key::from_bytes(super::SECRET)
    }

    pub fn options() -> VerificationOptions {
        VerificationOptions {
            allowed_issuers: Some(HashSet::from_strings(&[super::ISS])),
            allowed_audiences: Some(HashSet::from_strings(&[super::AUD])),
            time_tolerance: Some(Duration::from_secs(0)),
            ..Default::default()
        }
    }

    pub fn sign(key: &HS256Key, c: &super::Owned) -> String {
        let mut claims = JWTClaims {
            issued_at: Some(UnixTimeStamp::from_secs(c.iat)),
            expires_at: Some(UnixTimeStamp::from_secs(c.exp)),
            invalid_before: None,
            issuer: Some(c.iss.clone()),
            subject: Some(c.sub.clone()),
            audiences: Some(Audiences::AsString(c.aud.clone())),
            jwt_id: None,
            nonce: None,
            custom: Extra {
                data: c.data.clone(),
            },
        };
        claims.invalid_before = None;
        key.authenticate(claims).unwrap()
    }

    pub fn verify(key: &HS256Key, token: &str, options: &VerificationOptions) -> u64 {
        let c = key
            .verify_token::<Extra>(token, Some(options.clone()))
            .unwrap();
        c.expires_at.unwrap().as_secs()
    }
}

pub mod jwt_compact_impl {
    use chrono::{DateTime, Utc};
    use jwt_compact::alg::{Hs256, Hs256Key};
    use jwt_compact::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Custom {
        pub sub: String,
        pub iss: String,
        pub aud: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub data: Option<String>,
    }

    pub fn key() -> Hs256Key {
        Hs256Key::new(super::SECRET)
    }

    pub fn time_options() -> TimeOptions<impl Fn() -> DateTime<Utc>> {
        TimeOptions::new(chrono::Duration::zero(), || {
            DateTime::from_timestamp(super::NOW as i64, 0).unwrap()
        })
    }

    pub fn sign(key: &Hs256Key, c: &super::Owned) -> String {
        let mut claims = Claims::new(Custom {
            sub: c.sub.clone(),
            iss: c.iss.clone(),
            aud: c.aud.clone(),
            data: c.data.clone(),
        });
        claims.expiration = DateTime::from_timestamp(c.exp as i64, 0);
        claims.issued_at = DateTime::from_timestamp(c.iat as i64, 0);
        Hs256.token(&Header::empty(), &claims, key).unwrap()
    }

    pub fn verify<F: Fn() -> DateTime<Utc>>(
        key: &Hs256Key,
        token: &str,
        time: &TimeOptions<F>,
    ) -> u64 {
        let untrusted = UntrustedToken::new(token).unwrap();
        let token: Token<Custom> = Hs256.validator(key).validate(&untrusted).unwrap();
        let claims = token.claims();
        claims.validate_expiration(time).unwrap();
        assert!(claims.custom.iss == super::ISS && claims.custom.aud == super::AUD);
        claims.expiration.unwrap().timestamp() as u64
    }
}

/// EdDSA (#27): the same claims under Ed25519, in each crate, and the raw verify floors.
pub mod eddsa {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    /// RFC 8032 §7.1 TEST 1's secret key: every crate signs with it.
    pub const SEED: [u8; 32] = [
        0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c,
        0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae,
        0x7f, 0x60,
    ];

    pub fn public() -> [u8; 32] {
        ed25519_dalek::SigningKey::from_bytes(&SEED)
            .verifying_key()
            .to_bytes()
    }

    /// The JWK our server publishes for this key (`/.well-known/jwks.json`'s entry).
    pub fn jwk_json() -> String {
        format!(
            r#"{{"kty":"OKP","crv":"Ed25519","x":"{}","alg":"EdDSA","use":"sig"}}"#,
            URL_SAFE_NO_PAD.encode(public())
        )
    }

    /// The four crates' tokens for `owned`, auth-core's first: each verifier must accept all.
    pub fn tokens(owned: &crate::Owned) -> [String; 4] {
        let claims = crate::ours::claims(owned);
        let mut out = vec![0u8; 4096];
        let n = ours::sign(&ours::signer(), &claims, &mut out);
        [
            std::str::from_utf8(&out[..n]).unwrap().to_owned(),
            jsonwebtoken_impl::sign(&jsonwebtoken_impl::keys(), owned),
            jwt_simple_impl::sign(&jwt_simple_impl::keys().0, owned),
            jwt_compact_impl::sign(&jwt_compact_impl::keys().0, owned),
        ]
    }

    /// Asserts that every crate's verifier accepts `token`.
    pub fn all_accept(token: &str) {
        let mut buf = vec![0u8; 4096];
        assert_eq!(
            crate::ours::verify(&ours::ring(), token, &mut buf),
            crate::EXP,
            "{token}"
        );
        let jk = jsonwebtoken_impl::keys();
        assert_eq!(jsonwebtoken_impl::verify(&jk, token), crate::EXP, "{token}");
        let sv = jwt_simple_impl::keys().1;
        let so = crate::jwt_simple_impl::options();
        assert_eq!(jwt_simple_impl::verify(&sv, token, &so), crate::EXP);
        let cv = jwt_compact_impl::keys().1;
        let ct = crate::jwt_compact_impl::time_options();
        assert_eq!(jwt_compact_impl::verify(&cv, token, &ct), crate::EXP);
    }

    pub mod ours {
        use auth_core::{Ed25519Key, Ed25519PublicKey, KeyRing};

        pub fn signer() -> Ed25519Key {
            Ed25519Key::from_seed(&super::SEED).unwrap()
        }
        /// A verifier holding only the public key.
        pub fn ring() -> KeyRing<1> {
            KeyRing::new(Ed25519PublicKey::new(&super::public()).unwrap()).unwrap()
        }
        pub fn sign(k: &Ed25519Key, c: &crate::ours::C<'_>, out: &mut [u8]) -> usize {
            k.sign_claims(c, out).unwrap().len()
        }
    }

    pub mod jsonwebtoken_impl {
        use jsonwebtoken::{
            Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode,
        };

        pub struct Keys {
            pub enc: EncodingKey,
            pub dec: DecodingKey,
            pub validation: Validation,
        }

        pub fn keys() -> Keys {
            // PKCS #8 (RFC 8410 §7): the fixed Ed25519 prefix, then the seed.
            let mut der = vec![
                0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
                0x04, 0x20,
            ];
            der.extend_from_slice(&super::SEED);
            let mut validation = Validation::new(Algorithm::EdDSA);
            validation.leeway = 0;
            validation.set_issuer(&[crate::ISS]);
            validation.set_audience(&[crate::AUD]);
            // The decoding key is built from our JWK, as a resource server would.
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_str(&super::jwk_json()).unwrap();
            Keys {
                enc: EncodingKey::from_ed_der(&der),
                dec: DecodingKey::from_jwk(&jwk).unwrap(),
                validation,
            }
        }

        pub fn sign(k: &Keys, c: &crate::Owned) -> String {
            encode(&Header::new(Algorithm::EdDSA), c, &k.enc).unwrap()
        }

        pub fn verify(k: &Keys, token: &str) -> u64 {
            decode::<crate::Owned>(token, &k.dec, &k.validation)
                .unwrap()
                .claims
                .exp
        }
    }

    pub mod jwt_simple_impl {
        use jwt_simple::prelude::*;

        pub fn keys() -> (Ed25519KeyPair, Ed25519PublicKey) {
            let mut raw = super::SEED.to_vec();
            raw.extend_from_slice(&super::public());
            let pair = Ed25519KeyPair::from_bytes(&raw).unwrap();
            let public = pair.public_key();
            (pair, public)
        }

        pub fn sign(key: &Ed25519KeyPair, c: &crate::Owned) -> String {
            let claims = JWTClaims {
                issued_at: Some(UnixTimeStamp::from_secs(c.iat)),
                expires_at: Some(UnixTimeStamp::from_secs(c.exp)),
                invalid_before: None,
                issuer: Some(c.iss.clone()),
                subject: Some(c.sub.clone()),
                audiences: Some(Audiences::AsString(c.aud.clone())),
                jwt_id: None,
                nonce: None,
                custom: crate::jwt_simple_impl::Extra {
                    data: c.data.clone(),
                },
            };
            key.sign(claims).unwrap()
        }

        pub fn verify(key: &Ed25519PublicKey, token: &str, options: &VerificationOptions) -> u64 {
            let c = key
                .verify_token::<crate::jwt_simple_impl::Extra>(token, Some(options.clone()))
                .unwrap();
            c.expires_at.unwrap().as_secs()
        }
    }

    pub mod jwt_compact_impl {
        use chrono::{DateTime, Utc};
        use jwt_compact::alg::Ed25519;
        use jwt_compact::prelude::*;

        pub fn keys() -> (ed25519_dalek::SigningKey, ed25519_dalek::VerifyingKey) {
            let k = ed25519_dalek::SigningKey::from_bytes(&super::SEED);
            let v = k.verifying_key();
            (k, v)
        }

        pub fn sign(key: &ed25519_dalek::SigningKey, c: &crate::Owned) -> String {
            let mut claims = Claims::new(crate::jwt_compact_impl::Custom {
                sub: c.sub.clone(),
                iss: c.iss.clone(),
                aud: c.aud.clone(),
                data: c.data.clone(),
            });
            claims.expiration = DateTime::from_timestamp(c.exp as i64, 0);
            claims.issued_at = DateTime::from_timestamp(c.iat as i64, 0);
            Ed25519.token(&Header::empty(), &claims, key).unwrap()
        }

        pub fn verify<F: Fn() -> DateTime<Utc>>(
            key: &ed25519_dalek::VerifyingKey,
            token: &str,
            time: &TimeOptions<F>,
        ) -> u64 {
            let untrusted = UntrustedToken::new(token).unwrap();
            let token: Token<crate::jwt_compact_impl::Custom> =
                Ed25519.validator(key).validate(&untrusted).unwrap();
            let claims = token.claims();
            claims.validate_expiration(time).unwrap();
            assert!(claims.custom.iss == crate::ISS && claims.custom.aud == crate::AUD);
            claims.expiration.unwrap().timestamp() as u64
        }
    }

    /// The raw Ed25519 verify of a signing input: the chosen crate's (strict), and dalek's
    /// `verify_strict`, for scale.
    pub mod floor {
        pub fn split(token: &str) -> (&[u8], [u8; 64]) {
            use base64::Engine as _;
            let (input, sig) = token.rsplit_once('.').unwrap();
            let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(sig)
                .unwrap();
            (input.as_bytes(), sig.try_into().unwrap())
        }
        pub fn compact(pk: &ed25519_compact::PublicKey, input: &[u8], sig: &[u8; 64]) -> bool {
            pk.verify(input, &ed25519_compact::Signature::new(*sig))
                .is_ok()
        }
        pub fn dalek(pk: &ed25519_dalek::VerifyingKey, input: &[u8], sig: &[u8; 64]) -> bool {
            pk.verify_strict(input, &ed25519_dalek::Signature::from_bytes(sig))
                .is_ok()
        }
    }
}

/// The floor: HMAC-SHA256 with a precomputed key over the signing input.
pub mod floor {
    use hmac::{Hmac, KeyInit, Mac};
    pub type H = Hmac<sha2::Sha256>;
    pub fn key() -> H {
        H::new_from_slice(super::SECRET).unwrap()
    }
    pub fn mac(key: &H, input: &[u8]) -> [u8; 32] {
        let mut m = key.clone();
        m.update(input);
        m.finalize().into_bytes().into()
    }
}

/// PBKDF2-HMAC-SHA256 at 600,000 rounds, 16-byte salt, 32-byte output.
pub mod kdf {
    pub const ROUNDS: u32 = 600_000;
    pub const SALT: &[u8; 16] = b"0123456789abcdef";
    pub const PASSWORD: &[u8] = b"correct horse battery staple";

    pub fn ours() -> [u8; 32] {
        let mut out = [0u8; 32];
        auth_core::password::pbkdf2_hmac_sha256(PASSWORD, SALT, ROUNDS, &mut out);
        out
    }
    pub fn rustcrypto() -> [u8; 32] {
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(PASSWORD, SALT, ROUNDS, &mut out);
        out
    }
    pub fn ring() -> [u8; 32] {
        let mut out = [0u8; 32];
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            std::num::NonZeroU32::new(ROUNDS).unwrap(),
            SALT,
            PASSWORD,
            &mut out,
        );
        out
    }
    /// Exactly two SHA-256 compressions per iteration, with a data dependency, nothing else.
    pub fn floor() -> [u32; 8] {
        use sha2::block_api::compress256;
        let mut block = [0u8; 64];
        block[32] = 0x80;
        block[62] = 0x03;
        let mut s = [0x6a09e667u32; 8];
        for _ in 0..ROUNDS {
            let mut a = s;
            compress256(&mut a, core::slice::from_ref(&block));
            block[..4].copy_from_slice(&a[0].to_be_bytes());
            s = a;
            compress256(&mut s, core::slice::from_ref(&block));
            block[..4].copy_from_slice(&s[0].to_be_bytes());
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// #27 interop: every crate accepts every other's EdDSA token for the same claims, and
    /// jsonwebtoken does so with a decoding key built from the JWK our server publishes.
    #[test]
    fn every_crate_accepts_every_eddsa_token() {
        for large in [false, true] {
            let tokens = eddsa::tokens(&owned(large));
            tokens.iter().for_each(|t| eddsa::all_accept(t));
            // auth-core's signature segment: 64 bytes, 86 characters.
            assert_eq!(tokens[0].rsplit('.').next().map(str::len), Some(86));
        }
    }
}
