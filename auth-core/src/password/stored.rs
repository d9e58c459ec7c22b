//! Stored hash strings: PHC (parsed by the `phc` crate), passlib and Django.

use base64ct::{Base64, Base64Unpadded, Encoding};

use crate::error::StoredHashError;
use crate::split::{last, split};

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
        let first = split(rest, b'$').next().unwrap_or_default();
        if !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()) {
            Self::passlib(rest)
        } else {
            Self::phc(s)
        }
    }

    // The fields are read the way `phc::PasswordHash::new` reads them (the same order, the
    // same `phc` types and errors), but each in its own frame, one after another, straight into
    // the result: no whole `PasswordHash` (about 300 bytes, several copies of it inlined) is
    // ever on the stack, which kept the PBKDF2 step above 2 KiB on a device. Equivalence with
    // `PasswordHash::new` is tested against [`StoredHash::phc_reference`] (unit tests and the
    // `password_hash` fuzz target).
    #[inline(never)]
    fn phc(s: &str) -> Result<Self, StoredHashError> {
        // The `phc` crate reports an over-long output as a base64 error; name it properly.
        if last(s, b'$').len() > 86 {
            return Err(StoredHashError::OutputLength);
        }
        // `s` starts with `$pbkdf2-sha256$` (see `parse`): an empty first field and a valid
        // identifier, so both are skipped.
        let mut fields = split(s, b'$').skip(2);
        let mut next = fields.next();
        let mut version = false;
        if let Some(f) = next
            && f.starts_with("v=")
            && !f.bytes().any(|b| b == b',')
        {
            phc_version(f)?;
            version = true;
            next = None;
        }
        if next.is_none() {
            next = fields.next();
        }
        // The parameters' syntax is checked now; what they say is judged after every field
        // parsed, as before.
        let mut params = Ok((None, None));
        if let Some(f) = next
            && f.bytes().any(|b| b == b'=')
        {
            params = phc_params(f)?;
            next = None;
        }
        if next.is_none() {
            next = fields.next();
        }
        let mut out = StoredHash {
            format: Format::Phc,
            rounds: 0,
            salt: heapless::Vec::new(),
            hash: heapless::Vec::new(),
        };
        let salt = match next {
            Some(f) => phc_salt(f, &mut out.salt)?,
            None => false,
        };
        let hash = match fields.next() {
            Some(f) => phc_hash(f, &mut out.hash)?,
            None => false,
        };
        if fields.next().is_some() {
            return Err(StoredHashError::TrailingData);
        }
        if version {
            return Err(StoredHashError::InvalidParams);
        }
        let (rounds, len) = params?;
        out.rounds = check_rounds(rounds.ok_or(StoredHashError::InvalidRounds)?)?;
        if !salt {
            return Err(StoredHashError::InvalidSalt);
        }
        if !hash {
            return Err(StoredHashError::InvalidHash);
        }
        if let Some(l) = len
            && usize::try_from(l).ok() != Some(out.hash.len())
        {
            return Err(StoredHashError::OutputLength);
        }
        out.check_lengths()?;
        Ok(out)
    }

    /// The PHC parse through a whole `phc::PasswordHash`: the reference `StoredHash::phc` is
    /// checked against.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn phc_reference(s: &str) -> Result<Self, StoredHashError> {
        if last(s, b'$').len() > 86 {
            return Err(StoredHashError::OutputLength);
        }
        let h = phc::PasswordHash::new(s).map_err(map_phc)?;
        if h.version.is_some() {
            return Err(StoredHashError::InvalidParams);
        }
        let (rounds, len) = read_params(&h.params)?;
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
        let h = StoredHash {
            format,
            rounds,
            salt: heapless::Vec::from_slice(salt).map_err(|_| StoredHashError::InvalidSalt)?,
            hash: heapless::Vec::from_slice(hash).map_err(|_| StoredHashError::OutputLength)?,
        };
        h.check_lengths()?;
        Ok(h)
    }

    /// The salt and output length caps every format shares.
    fn check_lengths(&self) -> Result<(), StoredHashError> {
        if self.salt.len() < MIN_SALT_LEN {
            return Err(StoredHashError::SaltTooShort);
        }
        if !(MIN_OUTPUT_LEN..=MAX_OUTPUT_LEN).contains(&self.hash.len()) {
            return Err(StoredHashError::OutputLength);
        }
        Ok(())
    }

    /// Whether [`StoredHash::phc`] and [`StoredHash::phc_reference`] agree on `s`: the same
    /// error, or the same format, rounds, salt and output. For the unit tests and the
    /// `password_hash` fuzz target.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn phc_agrees(s: &str) -> bool {
        let view =
            |r: Result<Self, StoredHashError>| r.map(|h| (h.format, h.rounds, h.salt, h.hash));
        view(Self::phc(s)) == view(Self::phc_reference(s))
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
    let mut it = split(rest, b'$');
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

/// `v=<version>`: its syntax checked by the `phc` crate (a version is refused afterwards).
#[inline(never)]
fn phc_version(field: &str) -> Result<(), StoredHashError> {
    phc::Value::new(field.get(2..).unwrap_or_default())
        .and_then(|v| v.decimal())
        .map(|_| ())
        .map_err(map_phc)
}

/// The parameters: the outer `Err` is their syntax (`phc::ParamsString`), the inner result what
/// they say, judged later.
#[inline(never)]
#[allow(clippy::type_complexity)]
fn phc_params(
    field: &str,
) -> Result<Result<(Option<u32>, Option<u32>), StoredHashError>, StoredHashError> {
    let params: phc::ParamsString = field.parse().map_err(map_phc)?;
    Ok(read_params(&params))
}

/// `i` (rounds) and `l` (output length), each at most once, and nothing else.
fn read_params(params: &phc::ParamsString) -> Result<(Option<u32>, Option<u32>), StoredHashError> {
    let mut rounds = None;
    let mut len = None;
    for (name, value) in params.iter() {
        let v = value
            .decimal()
            .map_err(|_| StoredHashError::InvalidParams)?;
        match name.as_str() {
            "i" if rounds.is_none() => rounds = Some(v),
            "l" if len.is_none() => len = Some(v),
            _ => return Err(StoredHashError::InvalidParams),
        }
    }
    Ok((rounds, len))
}

/// The salt, decoded by `phc::Salt` into `out`; `Ok(true)` when read.
#[inline(never)]
fn phc_salt(
    field: &str,
    out: &mut heapless::Vec<u8, MAX_SALT_LEN>,
) -> Result<bool, StoredHashError> {
    let salt: phc::Salt = field.parse().map_err(map_phc)?;
    out.extend_from_slice(&salt)
        .map_err(|_| StoredHashError::InvalidSalt)?;
    Ok(true)
}

/// The output, decoded by `phc::Output` into `out`; `Ok(true)` when read.
#[inline(never)]
fn phc_hash(
    field: &str,
    out: &mut heapless::Vec<u8, MAX_OUTPUT_LEN>,
) -> Result<bool, StoredHashError> {
    let hash = phc::Output::decode(field).map_err(map_phc)?;
    out.extend_from_slice(hash.as_bytes())
        .map_err(|_| StoredHashError::OutputLength)?;
    Ok(true)
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
