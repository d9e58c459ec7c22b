//! PBKDF2-HMAC-SHA256 password hashes.
//!
//! * [`hash_password`] writes a PHC string, `$pbkdf2-sha256$i=<rounds>,l=<len>$<salt>$<hash>`
//!   (standard base64 alphabet without padding: the RustCrypto `pbkdf2`/`password-hash`
//!   convention), into a caller buffer. The salt comes from the caller, as bytes or from a
//!   [`rand_core::CryptoRng`]: the core has no OS RNG.
//! * [`verify_password`] accepts PHC, passlib and Django strings, compares in constant time, and
//!   reports `needs_rehash` (passlib `verify_and_update` style) so callers can upgrade old
//!   hashes on the next successful login.
//! * [`verify_dummy`] does the same work for unknown users, so login time does not reveal
//!   which accounts exist.

#[cfg(feature = "bcrypt")]
pub mod bcrypt;
mod pbkdf2;
mod stored;

use core::fmt::Write as _;

use base64ct::{Base64Unpadded, Encoding};
use ctutils::CtEq;

use crate::error::{HashError, PasswordError, StoredHashError};

pub use pbkdf2::pbkdf2_hmac_sha256;
pub use stored::{Format, StoredHash};

/// Default iteration count: OWASP Password Storage Cheat Sheet (2023) for PBKDF2-HMAC-SHA256.
pub const RECOMMENDED_ROUNDS: u32 = 600_000;
/// Default salt length in bytes (NIST SP 800-132 asks for at least 128 bits).
pub const SALT_LEN: usize = 16;
/// Default derived key length in bytes: the SHA-256 output size.
pub const OUTPUT_LEN: usize = 32;
/// Stored hashes with fewer rounds are refused outright, not verified.
pub const MIN_ROUNDS: u32 = 1_000;
/// Stored hashes with more rounds are refused, so a tampered users file cannot hang a server.
pub const MAX_ROUNDS: u32 = 10_000_000;
/// Shortest salt accepted in a stored hash, in bytes.
pub const MIN_SALT_LEN: usize = 8;
/// Longest salt accepted (and written), in bytes: the PHC string format's limit of 64 base64
/// characters.
pub const MAX_SALT_LEN: usize = 48;
/// Shortest derived key accepted in a stored hash, in bytes.
pub const MIN_OUTPUT_LEN: usize = 16;
/// Longest derived key accepted (and written), in bytes.
pub const MAX_OUTPUT_LEN: usize = 64;
/// Longest password accepted, in bytes: a guard against long-password denial of service.
pub const MAX_PASSWORD_LEN: usize = 4096;
/// Longest PHC string [`hash_password`] can write.
pub const MAX_PHC_LEN: usize = 15 + 22 + 88 + 88;

/// How new hashes are made, and when a stored hash should be upgraded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    rounds: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self::new()
    }
}

impl Policy {
    /// [`RECOMMENDED_ROUNDS`], [`OUTPUT_LEN`]-byte output.
    pub const fn new() -> Self {
        Policy {
            rounds: RECOMMENDED_ROUNDS,
        }
    }

    /// Uses `rounds` iterations, clamped to [`MIN_ROUNDS`]..=[`MAX_ROUNDS`] so that every hash
    /// this policy writes is one it accepts. Microcontrollers choose per device: see the README.
    pub const fn with_rounds(mut self, rounds: u32) -> Self {
        self.rounds = if rounds < MIN_ROUNDS {
            MIN_ROUNDS
        } else if rounds > MAX_ROUNDS {
            MAX_ROUNDS
        } else {
            rounds
        };
        self
    }

    /// The iteration count new hashes use.
    pub const fn rounds(&self) -> u32 {
        self.rounds
    }

    /// The PBKDF2 work one verification at this policy costs: [`Policy::rounds`] HMAC
    /// iterations over one 32-byte block (the [`OUTPUT_LEN`]-byte output).
    pub const fn work(&self) -> u64 {
        work(self.rounds)
    }

    /// A stored hash needs rehashing when it is anything but what this policy writes: not PHC,
    /// other rounds, or another output length. Hashes *above* the policy are rewritten too, down
    /// to it: their longer verification would tell a timing observer that the account exists.
    pub fn needs_rehash(&self, stored: &StoredHash) -> bool {
        stored.format() != Format::Phc
            || stored.rounds() != self.rounds
            || stored.output_len() != OUTPUT_LEN
    }
}

/// One PBKDF2-HMAC-SHA256 output block: the SHA-256 length.
const BLOCK_LEN: usize = 32;

/// PBKDF2 work of a verification: `rounds` HMAC iterations over the one block
/// [`verify_parsed`] derives, whatever the output length (longer outputs are checked on their
/// first block).
const fn work(rounds: u32) -> u64 {
    rounds as u64
}

/// A successful verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Store a fresh [`hash_password`] of the same password: the stored one is below policy.
    pub needs_rehash: bool,
}

/// Hashes `password` with `salt` into a PHC string in `out`.
///
/// # Errors
/// [`HashError::PasswordTooLong`], [`HashError::SaltTooShort`] /
/// [`HashError::InvalidSalt`] for a salt outside [`MIN_SALT_LEN`]..=[`MAX_SALT_LEN`],
/// [`HashError::BufferTooSmall`].
pub fn hash_password<'o>(
    password: &[u8],
    salt: &[u8],
    policy: &Policy,
    out: &'o mut [u8],
) -> Result<&'o str, HashError> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(HashError::PasswordTooLong);
    }
    if salt.len() < MIN_SALT_LEN {
        return Err(HashError::SaltTooShort);
    }
    if salt.len() > MAX_SALT_LEN {
        return Err(HashError::InvalidSalt);
    }
    let mut dk = [0u8; OUTPUT_LEN];
    pbkdf2_hmac_sha256(password, salt, policy.rounds, &mut dk);
    let mut salt_b64 = [0u8; 88];
    let salt_b64 =
        Base64Unpadded::encode(salt, &mut salt_b64).map_err(|_| HashError::InvalidSalt)?;
    let mut dk_b64 = [0u8; 44];
    let dk_b64 = Base64Unpadded::encode(&dk, &mut dk_b64).map_err(|_| HashError::BufferTooSmall)?;
    let mut w = SliceWriter { buf: out, len: 0 };
    write!(
        w,
        "$pbkdf2-sha256$i={},l={}${}${}",
        policy.rounds, OUTPUT_LEN, salt_b64, dk_b64
    )
    .map_err(|_| HashError::BufferTooSmall)?;
    let len = w.len;
    let written = out.get(..len).ok_or(HashError::BufferTooSmall)?;
    core::str::from_utf8(written).map_err(|_| HashError::BufferTooSmall)
}

/// Hashes `password` with a fresh [`SALT_LEN`]-byte salt drawn from `rng`.
///
/// # Errors
/// As [`hash_password`], plus [`HashError::Rng`] when the generator fails.
pub fn hash_password_with_rng<'o, R: rand_core::TryCryptoRng + ?Sized>(
    password: &[u8],
    rng: &mut R,
    policy: &Policy,
    out: &'o mut [u8],
) -> Result<&'o str, HashError> {
    let mut salt = [0u8; SALT_LEN];
    rng.try_fill_bytes(&mut salt).map_err(|_| HashError::Rng)?;
    hash_password(password, &salt, policy, out)
}

/// Verifies `password` against a stored PHC, passlib or Django string, in constant time.
///
/// # Errors
/// [`PasswordError::Mismatch`] for a wrong password (the one answer to show a user);
/// [`PasswordError::PasswordTooLong`]; [`PasswordError::StoredHash`] naming the stored
/// string's bad field.
pub fn verify_password(
    password: &[u8],
    stored: &str,
    policy: &Policy,
) -> Result<Verified, PasswordError> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(PasswordError::PasswordTooLong);
    }
    let stored = StoredHash::parse(stored)?;
    verify_parsed(password, &stored, policy)
}

/// [`verify_password`] against an already parsed hash.
///
/// Derives only the first 32-byte PBKDF2 block and compares it with the stored output's first
/// 32 bytes: output blocks are independent, so that is a full 256-bit check, and a stored
/// 64-byte output costs no more than a 32-byte one.
///
/// Costs at least `policy`'s work, right password or wrong: a stored hash cheaper than the
/// policy (an imported passlib hash at 29,000 rounds, a PHC hash from an older policy) is
/// padded with discarded PBKDF2 iterations up to [`Policy::work`], so a login for it takes as
/// long as one for a hash at the policy, or for an unknown user ([`verify_dummy`]).
///
/// # Errors
/// As [`verify_password`].
pub fn verify_parsed(
    password: &[u8],
    stored: &StoredHash,
    policy: &Policy,
) -> Result<Verified, PasswordError> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(PasswordError::PasswordTooLong);
    }
    let matches = match stored.format() {
        #[cfg(feature = "bcrypt")]
        Format::Bcrypt => bcrypt::verify(password, stored.rounds(), stored.salt(), stored.hash()),
        _ => pbkdf2_matches(password, stored)?,
    };
    let short = policy.work().saturating_sub(stored.work());
    if short > 0 {
        // At most MAX_ROUNDS: the policy's own work is.
        pad(password, u32::try_from(short).unwrap_or(MAX_ROUNDS));
    }
    if !matches {
        return Err(PasswordError::Mismatch);
    }
    Ok(Verified {
        needs_rehash: policy.needs_rehash(stored),
    })
}

/// Whether `password` matches a PBKDF2 hash. Only the first PBKDF2 block is derived and
/// compared: the blocks of a longer output are independent (RFC 8018 §5.2, T_i = F(P, S, c, i)),
/// so its first 32 bytes are a 256-bit check on their own, and a 64-byte hash costs what any
/// hash at its rounds costs.
fn pbkdf2_matches(password: &[u8], stored: &StoredHash) -> Result<bool, PasswordError> {
    let checked = stored.output_len().min(BLOCK_LEN);
    let mut dk = [0u8; BLOCK_LEN];
    let dk = dk
        .get_mut(..checked)
        .ok_or(PasswordError::StoredHash(StoredHashError::OutputLength))?;
    let expected = stored
        .hash()
        .get(..checked)
        .ok_or(PasswordError::StoredHash(StoredHashError::OutputLength))?;
    pbkdf2_hmac_sha256(password, stored.salt(), stored.rounds(), dk);
    Ok(bool::from(dk.ct_eq(expected)))
}

/// Runs `rounds` PBKDF2 iterations over one block and discards the result.
fn pad(password: &[u8], rounds: u32) {
    const PAD_SALT: [u8; SALT_LEN] = *b"auth-core-pad!!!";
    let mut dk = [0u8; 32];
    pbkdf2_hmac_sha256(password, &PAD_SALT, rounds, &mut dk);
    core::hint::black_box(&dk);
}

/// Does the work of a real verification at `policy` ([`Policy::work`]: same rounds, same
/// output length) and discards the result. Call it for unknown usernames, and for accounts
/// whose stored hash does not parse, so response time does not tell whether an account exists.
pub fn verify_dummy(password: &[u8], policy: &Policy) {
    if password.len() > MAX_PASSWORD_LEN {
        // A real verify refuses these before hashing, too.
        return;
    }
    const DUMMY_SALT: [u8; SALT_LEN] = *b"auth-core-dummy!";
    const NEVER: [u8; OUTPUT_LEN] = [0; OUTPUT_LEN];
    let mut dk = [0u8; OUTPUT_LEN];
    pbkdf2_hmac_sha256(password, &DUMMY_SALT, policy.rounds, &mut dk);
    core::hint::black_box(bool::from(dk.as_slice().ct_eq(NEVER.as_slice())));
}

struct SliceWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl core::fmt::Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(core::fmt::Error)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(core::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
