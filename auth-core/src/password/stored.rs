//! Stored hash strings: PHC (parsed by the `phc` crate), passlib and Django.

use base64ct::{Base64, Base64Unpadded, Encoding};

use crate::error::StoredHashError;

use super::{MAX_OUTPUT_LEN, MAX_ROUNDS, MAX_SALT_LEN, MIN_OUTPUT_LEN, MIN_ROUNDS, MIN_SALT_LEN};

/// Which text format a stored hash is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// `$pbkdf2-sha256$i=<rounds>,l=<len>$<b64 salt>$<b64 hash>` (standard alphabet, no padding).
    Phc,
    /// passlib `$pbkdf2-sha256$<rounds>$<ab64 salt>$<ab64 hash>` (`.` for `+`, no padding).
    Passlib,
    /// Django `pbkdf2_sha256$<rounds>$<ascii salt>$<padded base64 hash>`.
    Django,
    /// bcrypt `$2a$`, `$2b$` or `$2y$` (passlib's and FastAPI's default), verified only;
    /// [`StoredHash::rounds`] is its cost. See [`super::bcrypt`].
    Bcrypt,
}

/// A parsed stored hash, with its parameters checked against the safety caps.
///
/// `Debug` shows the format and parameters, never the salt or hash bytes.
#[derive(Clone)]
pub struct StoredHash {
    format: Format,
    rounds: u32,
    salt: heapless::Vec<u8, MAX_SALT_LEN>,
    hash: heapless::Vec<u8, MAX_OUTPUT_LEN>,
}

impl core::fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StoredHash")
            .field("format", &self.format)
            .field("rounds", &self.rounds)
            .field("salt_len", &self.salt.len())
            .field("hash_len", &self.hash.len())
            .finish()
    }
}

impl StoredHash {
    /// Parses any of the formats and checks rounds, salt and output lengths.
    ///
    /// # Errors
    /// The [`StoredHashError`] naming the first bad field.
    pub fn parse(s: &str) -> Result<Self, StoredHashError> {
        #[cfg(feature = "bcrypt")]
        if s.starts_with("$2") {
            let p = super::bcrypt::parse(s)?;
            return Self::build(Format::Bcrypt, p.cost, &p.salt, &p.hash);
        }
        if let Some(rest) = s.strip_prefix("pbkdf2_sha256$") {
            return Self::django(rest);
        }
        let Some(rest) = s.strip_prefix("$pbkdf2-sha256$") else {
            return Err(StoredHashError::UnknownFormat);
        };
        // passlib's second field is a bare decimal; PHC's is `i=...`.
        let first = rest.split('$').next().unwrap_or_default();
        if !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()) {
            Self::passlib(rest)
        } else {
            Self::phc(s)
        }
    }

    // Not inlined: the `phc` crate's `PasswordHash` (several hundred bytes, with its copies) then
    // lives in this frame only, not in every caller's (the PBKDF2 step's stack on a device).
    #[inline(never)]
    fn phc(s: &str) -> Result<Self, StoredHashError> {
        // The `phc` crate reports an over-long output as a base64 error; name it properly.
        if s.rsplit('$').next().is_some_and(|hash| hash.len() > 86) {
            return Err(StoredHashError::OutputLength);
        }
        let h = phc::PasswordHash::new(s).map_err(map_phc)?;
        if h.version.is_some() {
            return Err(StoredHashError::InvalidParams);
        }
        let mut rounds = None;
        let mut len = None;
        for (name, value) in h.params.iter() {
            let v = value
                .decimal()
                .map_err(|_| StoredHashError::InvalidParams)?;
            match name.as_str() {
                "i" if rounds.is_none() => rounds = Some(v),
                "l" if len.is_none() => len = Some(v),
                _ => return Err(StoredHashError::InvalidParams),
            }
        }
        let rounds = check_rounds(rounds.ok_or(StoredHashError::InvalidRounds)?)?;
        let salt = h.salt.ok_or(StoredHashError::InvalidSalt)?;
        let hash = h.hash.ok_or(StoredHashError::InvalidHash)?;
        let hash = hash.as_bytes();
        if let Some(l) = len
            && usize::try_from(l).ok() != Some(hash.len())
        {
            return Err(StoredHashError::OutputLength);
        }
        Self::build(Format::Phc, rounds, &salt, hash)
    }

    fn passlib(rest: &str) -> Result<Self, StoredHashError> {
        let (rounds, salt, hash) = three_fields(rest)?;
        let rounds = parse_rounds(rounds)?;
        let mut salt_buf = [0u8; MAX_SALT_LEN];
        let salt = ab64_decode(salt, &mut salt_buf).ok_or(StoredHashError::InvalidSalt)?;
        // 86 characters encode 64 bytes; anything longer is an oversized output.
        if hash.len() > 86 {
            return Err(StoredHashError::OutputLength);
        }
        let mut hash_buf = [0u8; MAX_OUTPUT_LEN + 1];
        let hash = ab64_decode(hash, &mut hash_buf).ok_or(StoredHashError::InvalidHash)?;
        Self::build(Format::Passlib, rounds, salt, hash)
    }

    fn django(rest: &str) -> Result<Self, StoredHashError> {
        let (rounds, salt, hash) = three_fields(rest)?;
        let rounds = parse_rounds(rounds)?;
        // Django salts are used as their ASCII bytes; `$` cannot appear (it is the separator).
        if !salt.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(StoredHashError::InvalidSalt);
        }
        if hash.len() > 88 {
            return Err(StoredHashError::OutputLength);
        }
        let mut hash_buf = [0u8; MAX_OUTPUT_LEN + 2];
        let hash = Base64::decode(hash, &mut hash_buf).map_err(|_| StoredHashError::InvalidHash)?;
        Self::build(Format::Django, rounds, salt.as_bytes(), hash)
    }

    fn build(
        format: Format,
        rounds: u32,
        salt: &[u8],
        hash: &[u8],
    ) -> Result<Self, StoredHashError> {
        if salt.len() < MIN_SALT_LEN {
            return Err(StoredHashError::SaltTooShort);
        }
        if !(MIN_OUTPUT_LEN..=MAX_OUTPUT_LEN).contains(&hash.len()) {
            return Err(StoredHashError::OutputLength);
        }
        Ok(StoredHash {
            format,
            rounds,
            salt: heapless::Vec::from_slice(salt).map_err(|_| StoredHashError::InvalidSalt)?,
            hash: heapless::Vec::from_slice(hash).map_err(|_| StoredHashError::OutputLength)?,
        })
    }

    /// The format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The iteration count; for [`Format::Bcrypt`], the cost (log2 of its rounds).
    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// The derived key length in bytes.
    pub fn output_len(&self) -> usize {
        self.hash.len()
    }

    /// The PBKDF2 work one verification of this hash costs, in the unit of
    /// [`super::Policy::work`].
    pub fn work(&self) -> u64 {
        match self.format {
            #[cfg(feature = "bcrypt")]
            Format::Bcrypt => super::bcrypt::work(self.rounds),
            _ => super::work(self.rounds),
        }
    }

    pub(crate) fn salt(&self) -> &[u8] {
        &self.salt
    }

    pub(crate) fn hash(&self) -> &[u8] {
        &self.hash
    }
}

fn three_fields(rest: &str) -> Result<(&str, &str, &str), StoredHashError> {
    let mut it = rest.split('$');
    let rounds = it.next().ok_or(StoredHashError::InvalidRounds)?;
    let salt = it.next().ok_or(StoredHashError::InvalidSalt)?;
    let hash = it.next().ok_or(StoredHashError::InvalidHash)?;
    if it.next().is_some() {
        return Err(StoredHashError::TrailingData);
    }
    Ok((rounds, salt, hash))
}

fn parse_rounds(s: &str) -> Result<u32, StoredHashError> {
    // Plain decimal only: no sign, no leading zero, no whitespace.
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0')
    {
        return Err(StoredHashError::InvalidRounds);
    }
    check_rounds(s.parse().map_err(|_| StoredHashError::InvalidRounds)?)
}

fn check_rounds(r: u32) -> Result<u32, StoredHashError> {
    if r < MIN_ROUNDS {
        Err(StoredHashError::RoundsTooLow)
    } else if r > MAX_ROUNDS {
        Err(StoredHashError::RoundsTooHigh)
    } else {
        Ok(r)
    }
}

/// passlib's "adapted base64": the standard alphabet with `.` for `+`, no padding.
fn ab64_decode<'o>(s: &str, out: &'o mut [u8]) -> Option<&'o [u8]> {
    let mut tmp = [0u8; 88];
    let src = tmp.get_mut(..s.len())?;
    for (t, b) in src.iter_mut().zip(s.bytes()) {
        *t = match b {
            b'.' => b'+',
            b'+' => return None,
            other => other,
        };
    }
    Base64Unpadded::decode(&*src, out).ok()
}

fn map_phc(e: phc::Error) -> StoredHashError {
    match e {
        phc::Error::SaltTooShort => StoredHashError::SaltTooShort,
        phc::Error::SaltTooLong => StoredHashError::InvalidSalt,
        phc::Error::OutputSize { .. } => StoredHashError::OutputLength,
        phc::Error::TrailingData => StoredHashError::TrailingData,
        phc::Error::Base64(_) => StoredHashError::InvalidEncoding,
        phc::Error::MissingField => StoredHashError::InvalidHash,
        _ => StoredHashError::InvalidParams,
    }
}
