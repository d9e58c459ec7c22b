#![no_std]
#![forbid(unsafe_code)]
#![doc = include_str!("../README.md")]
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
pub mod session;

#[cfg(feature = "sign")]
pub use error::EncodeError;
pub use error::{
    Claim, ClaimsError, DecodeError, KeyError, ParseError, ValidationError, VerifyError,
};
#[cfg(feature = "password")]
pub use error::{HashError, PasswordError, StoredHashError};
pub use json::JsonStr;
pub use jwt::{Claims, UntrustedToken, VerifiedToken};
pub use jwt::{Hs256Key, KeyRing, MAX_KID_LEN, MIN_KEY_LEN, Validation};

/// The workspace README's examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct WorkspaceReadme;
