//! New password hashes, made one way everywhere (the CLI, the first run, the rehash): the
//! policy's PHC string with a fresh salt from the operating system's generator.

use std::ops::RangeInclusive;

use std::fmt;

use auth_core::{HashError, StoredHashError};

use crate::users::User;
use auth_core::password::{MAX_PHC_LEN, MAX_ROUNDS, MIN_ROUNDS, Policy, hash_password_with_rng};

/// The PBKDF2 rounds an option may set: what auth-core accepts in a stored hash.
pub const ROUNDS: RangeInclusive<i64> = MIN_ROUNDS as i64..=MAX_ROUNDS as i64;

/// Hashes `password` at `policy` with a fresh [`auth_core::password::SALT_LEN`]-byte salt.
///
/// # Errors
/// [`HashError::PasswordTooLong`], or [`HashError::Rng`] when the system generator
/// fails.
pub fn hash_new(password: &[u8], policy: &Policy) -> Result<String, HashError> {
    let mut out = [0u8; MAX_PHC_LEN];
    hash_password_with_rng(password, &mut getrandom::SysRng, policy, &mut out).map(str::to_owned)
}

/// Why a new hash could not be made into an account.
#[derive(Debug)]
pub enum NewHashError {
    /// The hash could not be made.
    Hash(HashError),
    /// A hash just made does not parse back: a bug, reported rather than stored.
    ParseBack(StoredHashError),
}

impl fmt::Display for NewHashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NewHashError::Hash(e) => write!(f, "cannot hash the password: {e}"),
            NewHashError::ParseBack(e) => write!(f, "the new hash does not parse back: {e}"),
        }
    }
}

impl std::error::Error for NewHashError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NewHashError::Hash(e) => Some(e),
            NewHashError::ParseBack(e) => Some(e),
        }
    }
}

/// A new PHC hash of `password` at `rounds`, parsed for the account it goes into (the CLI and
/// the first run).
///
/// # Errors
/// [`NewHashError`].
pub fn new_account_hash(password: &str, rounds: u32) -> Result<User, NewHashError> {
    let hash = hash_new(password.as_bytes(), &Policy::new().with_rounds(rounds))
        .map_err(NewHashError::Hash)?;
    User::new(&hash, true).map_err(NewHashError::ParseBack)
}
