//! JSON Web Tokens (RFC 7519) without allocation: HS256, and EdDSA (Ed25519, RFC 8037) with the
//! `eddsa` feature.
//!
//! The flow is a typestate:
//! [`UntrustedToken::parse`] (length cap, three segments, strict base64url header, `alg`,
//! `typ`, `crit`, `kid`) → [`crate::KeyRing::verify`] (constant-time MAC over the raw
//! `header.payload` bytes) → [`VerifiedToken::registered`] (the claims scanner) or
//! [`VerifiedToken::claims`] (serde; only now is the payload JSON read) →
//! [`crate::Validation::validate`] (the caller passes `now`). [`crate::KeyRing::decode_registered`]
//! does all four in one call, with one pass over the payload's base64url.

mod claims;
#[cfg(feature = "eddsa")]
pub mod eddsa;
mod header;
mod key;
mod ring;
pub(crate) mod scan;
#[cfg(feature = "sign")]
mod sign;
mod validate;
mod verify;
#[cfg(feature = "sign")]
pub(crate) mod write;

#[cfg(feature = "flow")]
pub(crate) use claims::registered_claims_from_fields;
pub use claims::{
    Audience, Claims, MAX_AUDIENCES, MAX_DECODED_AUDIENCE_LEN, NumericDate, RegisteredClaims,
};
#[cfg(all(feature = "eddsa", feature = "sign"))]
pub use eddsa::Ed25519Key;
#[cfg(feature = "eddsa")]
pub use eddsa::Ed25519PublicKey;
pub use header::{MAX_HEADER_DEPTH, MAX_TOKEN_LEN, UntrustedToken};
#[cfg(feature = "fuzzing")]
pub(crate) use header::{judge as judge_header, parse_decoded_header};
#[cfg(feature = "fuzzing")]
pub(crate) use key::Kid;
pub use key::{Algorithm, Hs256Key, MAX_KID_LEN, MIN_KEY_LEN};
pub use ring::{Key, KeyRing};
pub use scan::MAX_CLAIMS_DEPTH;
pub use scan::Value;
pub use validate::Validation;
pub use verify::VerifiedToken;
#[cfg(feature = "fuzzing")]
pub(crate) use verify::serde_claims;
#[cfg(feature = "sign")]
pub use write::{ClaimsWriter, WriteClaims};

/// base64url of `{"alg":"HS256","typ":"JWT"}`: the header this crate (and PyJWT) writes for a
/// key without a `kid`. A token with exactly this header skips header decoding.
pub(crate) const CANONICAL_HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// Length of an HS256 signature segment: 32 bytes as unpadded base64url.
pub(crate) const SIGNATURE_B64_LEN: usize = 43;

/// base64url of `{"alg":"EdDSA","typ":"JWT"}`: the header an Ed25519 key without a `kid` signs
/// with. A token with exactly this header skips header decoding.
#[cfg(feature = "eddsa")]
pub(crate) const EDDSA_CANONICAL_HEADER_B64: &str = "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9";

/// Length of an EdDSA signature segment: 64 bytes as unpadded base64url.
#[cfg(feature = "eddsa")]
pub(crate) const EDDSA_SIGNATURE_B64_LEN: usize = 86;
