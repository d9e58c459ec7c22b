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
pub mod bearer;
pub mod contract;
pub mod error;
pub mod flow;
pub mod form;
#[doc(hidden)]
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod json;
mod json_check;
pub mod jwt;
mod mac;
pub mod password;
pub mod response;

pub use error::{
    Claim, ClaimsError, DecodeError, EncodeError, HashError, KeyError, ParseError, PasswordError,
    StoredHashError, ValidationError, VerifyError,
};
pub use json::JsonStr;
pub use jwt::{Claims, UntrustedToken, VerifiedToken};
pub use jwt::{Hs256Key, KeyRing, MAX_KID_LEN, MIN_KEY_LEN, Validation};

/// The workspace README's examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct WorkspaceReadme;
