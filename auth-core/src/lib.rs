#![no_std]
#![forbid(unsafe_code)]
#![doc = include_str!("../README.md")]
//!
//! # Module map
//!
//! Arrows run one way: the flow modules use the token and password modules, never the reverse
//! (`scripts/shape_check.py` checks in CI that every file named here exists).
//!
//! | concern | files | what it owns |
//! |---|---|---|
//! | tokens | `src/jwt/mod.rs`, `src/jwt/header.rs`, `src/jwt/verify.rs`, `src/jwt/scan.rs`, `src/jwt/claims.rs`, `src/jwt/validate.rs`, `src/jwt/sign.rs`, `src/jwt/write.rs`, `src/jwt/key.rs`, `src/jwt/ring.rs`, `src/jwt/eddsa.rs` | the typestate `UntrustedToken` → `VerifiedToken` → claims; the claims scanner and writer (no serde); keys and the key ring; signing |
//! | passwords | `src/password/mod.rs`, `src/password/stored.rs`, `src/password/pbkdf2.rs` | stored-hash formats (PHC, passlib, Django), verifying, hashing, the rehash policy |
//! | the flow | `src/bearer.rs`, `src/form.rs`, `src/flow.rs`, `src/session.rs`, `src/scope.rs` | the `Authorization` header, form bodies, the login and authorize decisions, refresh sessions, scope grants |
//! | answers | `src/response.rs`, `src/contract.rs` | replies and their bodies through `embedded-io`; the seed's wording |
//! | errors | `src/error.rs` | one enum per phase (its top says where the others live) |
//! | internals | `src/json.rs`, `src/json_check.rs`, `src/b64.rs`, `src/mac.rs`, `src/fuzzing.rs` | JSON strings and writing, the iterative JSON check and value skipper, base64url (our own codec, per profile), the MAC, the fuzz hooks and the references the differential targets compare with |
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::panic,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::arithmetic_side_effects
    )
)]

mod b64;
#[cfg(feature = "flow")]
pub mod bearer;
#[cfg(feature = "flow")]
pub mod contract;
#[cfg(feature = "sign")]
mod divide;
pub mod error;
#[cfg(feature = "flow")]
pub mod flow;
#[cfg(feature = "flow")]
pub mod form;
#[doc(hidden)]
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod json;
mod json_check;
pub mod jwt;
mod mac;
#[cfg(feature = "password")]
pub mod password;
#[cfg(feature = "flow")]
pub mod response;
#[cfg(feature = "flow")]
pub mod scope;
#[cfg(feature = "flow")]
pub mod session;
#[cfg(any(feature = "password", feature = "flow"))]
mod split;

#[cfg(feature = "sign")]
pub use error::EncodeError;
pub use error::{
    Claim, ClaimsError, DecodeError, KeyError, ParseError, ValidationError, VerifyError,
};
#[cfg(feature = "password")]
pub use error::{HashError, PasswordError, StoredHashError};
pub use json::JsonStr;
#[cfg(all(feature = "eddsa", feature = "sign"))]
pub use jwt::Ed25519Key;
#[cfg(feature = "eddsa")]
pub use jwt::Ed25519PublicKey;
pub use jwt::{Algorithm, Hs256Key, Key, KeyRing, MAX_KID_LEN, MIN_KEY_LEN, Validation};
pub use jwt::{Claims, UntrustedToken, VerifiedToken};
#[cfg(feature = "sign")]
pub use jwt::{ClaimsWriter, WriteClaims};

/// The workspace README's examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct WorkspaceReadme;

/// `docs/firmware.md`'s device-side check runs as a doctest too.
#[cfg(doctest)]
#[doc = include_str!("../../docs/firmware.md")]
struct FirmwareDoc;
