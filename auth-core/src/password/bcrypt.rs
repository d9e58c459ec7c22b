//! bcrypt stored hashes, verified only (#24): what passlib's `CryptContext(schemes=["bcrypt"])`
//! wrote for the FastAPI app this project replaces.
//!
//! `$2a$`, `$2b$` and `$2y$` with a two-digit cost from 04 to 31, a 22-character salt and a
//! 31-character hash in bcrypt's own base64 alphabet (`./A-Za-z0-9`), exactly 60 characters,
//! parsed strictly: unused low bits of the last salt and hash characters must be zero, as every
//! current implementation writes them (passlib's `bcrypt.normhash` fixes old ones). `$2x$`
//! is refused: crypt_blowfish marked with it the hashes its sign-extension bug made.
//!
//! The password rule is the seed's (passlib 1.7.4 over bcrypt 4.0.1): the key is the password's
//! bytes and a NUL, cut at 72 bytes, so **only the first 72 bytes count**: a 73-byte password
//! whose first 72 bytes are right is accepted, as the seed accepted it. A password holding a
//! NUL byte is a mismatch (passlib refuses to hash one, so no stored hash can match it), after
//! the same work as any other. The 23-byte output is compared in constant time.
//!
//! The EksBlowfish core is the `bcrypt` crate's raw `bcrypt()`. Its state, four S-boxes and the
//! P-array, is 4,168 bytes, on the stack: over 4 KiB, which is why firmware profiles leave the
//! `bcrypt` feature out.

use base64ct::{Base64Bcrypt, Encoding};
use ctutils::CtEq;

use crate::error::StoredHashError;

/// Salt bytes (22 characters).
pub(super) const SALT_LEN: usize = 16;
/// Hash bytes compared (31 characters; the 24th output byte is not stored).
pub(super) const HASH_LEN: usize = 23;
/// The lowest cost the format allows.
pub const MIN_COST: u32 = 4;
/// The highest cost the format allows; [`super::MAX_ROUNDS`]' work caps it lower in practice.
pub const MAX_COST: u32 = 31;
/// The bytes of the key bcrypt takes: the password and its NUL, cut here.
const MAX_KEY_LEN: usize = 72;
/// The whole stored string: `$2b$` `12$` 22 salt and 31 hash characters.
const HASH_STRING_LEN: usize = 60;

/// What one bcrypt round (one of its `2^cost` EksBlowfish key expansions) costs, in PBKDF2
/// iterations of [`super::Policy::work`], measured on the reference machine (AMD EPYC with
/// SHA-NI; BENCHMARKS.md, `benches/password.rs`): a cost-12 verify took 231.8 ms and a
/// 600,000-round PBKDF2 verify 57.0 ms, so a round is 56.6 µs = 596 iterations of 95 ns (cost
/// 10: 592). So [`super::StoredHash::work`] compares a bcrypt hash with the policy in one unit:
/// cost 10 is about the default policy, a cheaper hash is padded up to the policy like a cheap
/// PBKDF2 one, and costs above 14 exceed [`super::MAX_ROUNDS`]' work and are refused. Without
/// SHA-NI a PBKDF2 iteration is slower and bcrypt's share smaller; the unit errs towards
/// padding less, never towards answering faster than the policy by more than that drift.
pub const ROUND_WORK: u64 = 595;

/// The work of a bcrypt verify at `cost`.
pub(super) const fn work(cost: u32) -> u64 {
    match 1u64.checked_shl(cost) {
        Some(rounds) => rounds.saturating_mul(ROUND_WORK),
        None => u64::MAX,
    }
}

/// A parsed bcrypt hash: the cost, the salt and the stored output.
pub(super) struct Parsed {
    pub(super) cost: u32,
    pub(super) salt: [u8; SALT_LEN],
    pub(super) hash: [u8; HASH_LEN],
}

/// Parses `$2a$`/`$2b$`/`$2y$` strings; `s` starts with `$2`.
pub(super) fn parse(s: &str) -> Result<Parsed, StoredHashError> {
    let b = s.as_bytes();
    match b.get(2) {
        Some(b'a' | b'b' | b'y') if b.get(3) == Some(&b'$') => {}
        Some(b'x') if b.get(3) == Some(&b'$') => return Err(StoredHashError::BcryptBuggyVariant),
        _ => return Err(StoredHashError::UnknownFormat),
    }
    let cost = match (b.get(4), b.get(5), b.get(6)) {
        (Some(t @ b'0'..=b'3'), Some(u @ b'0'..=b'9'), Some(b'$')) => {
            let tens = u32::from(t.saturating_sub(b'0')).saturating_mul(10);
            tens.saturating_add(u32::from(u.saturating_sub(b'0')))
        }
        _ => return Err(StoredHashError::BcryptCost),
    };
    if !(MIN_COST..=MAX_COST).contains(&cost) {
        return Err(StoredHashError::BcryptCost);
    }
    if work(cost) > super::work(super::MAX_ROUNDS) {
        return Err(StoredHashError::RoundsTooHigh);
    }
    if s.len() > HASH_STRING_LEN {
        return Err(StoredHashError::TrailingData);
    }
    let salt_text = s.get(7..29).ok_or(StoredHashError::InvalidSalt)?;
    let hash_text = s
        .get(29..)
        .filter(|h| h.len() == 31)
        .ok_or(StoredHashError::InvalidHash)?;
    let mut salt = [0u8; SALT_LEN];
    let decoded =
        Base64Bcrypt::decode(salt_text, &mut salt).map_err(|_| StoredHashError::InvalidSalt)?;
    if decoded.len() != SALT_LEN {
        return Err(StoredHashError::InvalidSalt);
    }
    let mut hash = [0u8; HASH_LEN];
    let decoded =
        Base64Bcrypt::decode(hash_text, &mut hash).map_err(|_| StoredHashError::InvalidHash)?;
    if decoded.len() != HASH_LEN {
        return Err(StoredHashError::InvalidHash);
    }
    Ok(Parsed { cost, salt, hash })
}

/// Whether `password` matches: the full work whatever the password (a NUL byte makes it a
/// mismatch after the work, not before). Never inlined: the 4 KiB EksBlowfish state then lives
/// in this frame only, not in every password verify's (inlined into `verify_parsed`, it took a
/// PBKDF2 verify from 2,264 to 7,180 bytes of stack in the `bcrypt` firmware).
#[inline(never)]
pub(super) fn verify(password: &[u8], cost: u32, salt: &[u8], expected: &[u8]) -> bool {
    let mut key = [0u8; MAX_KEY_LEN];
    let kept = password
        .get(..password.len().min(MAX_KEY_LEN))
        .unwrap_or_default();
    if let Some(dst) = key.get_mut(..kept.len()) {
        dst.copy_from_slice(kept);
    }
    // The password and its NUL terminator, cut at 72 bytes: never empty.
    let len = password.len().saturating_add(1).min(MAX_KEY_LEN);
    let mut salt16 = [0u8; SALT_LEN];
    if let Some(src) = salt.get(..SALT_LEN) {
        salt16.copy_from_slice(src);
    }
    let out = bcrypt::bcrypt(cost, salt16, key.get(..len).unwrap_or(&key));
    key.fill(0);
    let matches = out
        .get(..HASH_LEN)
        .is_some_and(|o| expected.len() == HASH_LEN && bool::from(o.ct_eq(expected)));
    matches && !password.contains(&0)
}
