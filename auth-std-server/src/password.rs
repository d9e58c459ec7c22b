//! New password hashes, made one way everywhere (the CLI, the first run, the rehash): the
//! policy's PHC string with a fresh salt from the operating system's generator.

use std::ops::RangeInclusive;

use auth_core::HashError;
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
