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
pub mod error;
mod json;
pub mod jwt;
mod key;
mod time;

pub use error::{
    Claim, ClaimsError, EncodeError, Error, KeyError, ParseError, ValidationError, VerifyError,
};
pub use json::JsonStr;
pub use jwt::{Claims, UntrustedToken, VerifiedToken};
pub use key::{Hs256Key, KeyRing, Kid, MAX_KID_LEN, MIN_KEY_LEN};
pub use time::Validation;

/// The workspace README's examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct WorkspaceReadme;
