//! One small error enum per phase.
//!
//! Every enum is `Copy`, `#[non_exhaustive]`, has a static lowercase
//! `Display` and never carries secret material.
//!
//! **Where errors live.** A phase's error lives here when more than one module returns it or
//! the crate root re-exports it (keys, parsing, verifying, claims, validation, encoding,
//! passwords, the bearer header, the login and authorize decisions). An error that only one
//! module's functions return lives beside them: [`crate::form::FormError`],
//! [`crate::session::RefreshError`] and [`crate::session::RefreshTokenError`]. An outward
//! answer is not an error type: [`crate::response::Reply`] and
//! [`crate::response::OAuthError`] live in `response.rs` beside the functions that write
//! them, and each error names its answer with a `reply()` or `oauth()` method.

use core::fmt;

/// Builds an error enum: `Copy`, `#[non_exhaustive]`, a static lowercase `Display`, and
/// `core::error::Error` whose `source()` returns the inner error of each variant marked
/// `; source` (its `Display` does not repeat it).
macro_rules! error_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident $(($inner:ty))? => $msg:literal $(; $src:ident)?, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant $(($inner))?, )+
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                #[allow(unused_variables)]
                let msg = match self {
                    $( error_enum!(@pat $name $variant $(($inner))?) => $msg, )+
                };
                f.write_str(msg)
            }
        }

        impl core::error::Error for $name {
            fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
                $( error_enum!(@source self $name $variant $(($inner))? $($src)?); )+
                None
            }
        }
    };
    (@pat $name:ident $variant:ident ($inner:ty)) => { $name::$variant(_) };
    (@pat $name:ident $variant:ident) => { $name::$variant };
    (@source $self:ident $name:ident $variant:ident ($inner:ty) source) => {
        if let $name::$variant(inner) = $self {
            return Some(inner);
        }
    };
    (@source $($rest:tt)*) => {};
}

error_enum! {
    /// Building a key or a key ring failed.
    pub enum KeyError {
        /// The secret is shorter than [`crate::MIN_KEY_LEN`] bytes (RFC 7518 §3.2).
        TooShort => "hs256 key is shorter than 32 bytes",
        /// The key id is empty, longer than [`crate::MAX_KID_LEN`] or has a character outside
        /// printable ASCII (or `"` / `\`).
        InvalidKid => "key id is empty, too long or has a forbidden character",
        /// The key ring is full.
        RingFull => "key ring is full",
        /// A key with the same id is already in the ring.
        DuplicateKid => "a key with this id is already in the ring",
        /// A ring with more than one key needs an id on every key.
        MissingKid => "every key in a ring of several keys needs a key id",
        /// No key with that id.
        NotFound => "no key with this id",
        /// The signing key cannot be removed; make another key the signing key first.
        SigningKeyInUse => "the signing key cannot be removed",
        /// The Ed25519 public key is not 32 bytes, not the canonical encoding of a curve point,
        /// or a point of small order (RFC 8032 §5.1.3; strict verification refuses these).
        InvalidPublicKey => "ed25519 public key is not a canonical point of large order",
    }
}

error_enum! {
    /// The token's structure or header is not acceptable (steps 1–4 of verification).
    pub enum ParseError {
        /// The token is longer than the configured cap.
        TooLong => "token is longer than the configured limit",
        /// Not exactly three dot-separated segments, or an empty header or payload.
        Malformed => "token is not three non-empty base64url segments",
        /// The header segment is not strict base64url (padding, whitespace, bad alphabet,
        /// non-canonical trailing bits).
        HeaderEncoding => "token header is not strict base64url",
        /// The decoded header is longer than 256 bytes (it is decoded on the stack).
        HeaderTooLong => "token header is too long",
        /// The header is not valid JSON (anywhere, ignored members included), not an object,
        /// or names a member it reads twice (names compared decoded).
        HeaderJson => "token header is not valid json",
        /// The header's arrays and objects nest deeper than [`crate::jwt::MAX_HEADER_DEPTH`].
        HeaderNesting => "token header nests too deep",
        /// `alg` is anything but exactly `"HS256"` (or `"EdDSA"` with the `eddsa` feature).
        UnsupportedAlgorithm => "token algorithm is not supported",
        /// `typ` is present and is not `JWT`.
        UnsupportedType => "token type is not JWT",
        /// The header has a `crit` member; no extensions are understood.
        CriticalHeader => "token header has crit extensions",
        /// The `kid` is longer than [`crate::MAX_KID_LEN`] or not printable ASCII.
        InvalidKid => "token key id is invalid",
        /// The signature segment is not strict base64url of exactly the algorithm's length (32
        /// bytes for HS256, 64 for EdDSA).
        SignatureEncoding => "token signature is not strict base64url of the algorithm's length",
        /// The payload segment is not strict base64url (checked before the MAC, decoded after).
        PayloadEncoding => "token payload is not strict base64url",
    }
}

error_enum! {
    /// Checking the MAC failed (step 5 of verification).
    pub enum VerifyError {
        /// The header names a `kid` the key ring does not hold.
        UnknownKid => "token key id is unknown",
        /// The MAC does not match.
        InvalidSignature => "token signature is invalid",
        /// The key the token names (or the signing key) is of another algorithm than the
        /// token's `alg`: an `HS256` token naming an Ed25519 key, say.
        WrongAlgorithm => "token algorithm does not match its key",
    }
}

error_enum! {
    /// Decoding a verified payload into claims failed (step 6).
    pub enum ClaimsError {
        /// The payload segment is not strict base64url.
        Encoding => "token payload is not strict base64url",
        /// The caller's buffer cannot hold the decoded payload.
        BufferTooSmall => "buffer too small for the token payload",
        /// The payload is not valid JSON, not a JSON object, or a NumericDate is not written as a
        /// plain integer (`1764333900.5`, `1e12`).
        Json => "token payload is not a json object, or a date is not an integer",
        /// A claim has the wrong JSON type, e.g. `"exp":"123"` or a negative NumericDate.
        WrongType => "a claim has the wrong json type",
        /// The claims do not match the expected shape: a duplicate key, or a required field of the
        /// caller's type is missing.
        Shape => "claims have a duplicate or missing member",
        /// A string has an invalid escape, or an escaped string is longer than the scratch space.
        Escape => "a claim string has an invalid or oversized escape",
        /// The payload's arrays and objects nest deeper than [`crate::jwt::MAX_CLAIMS_DEPTH`].
        Nesting => "token payload nests too deep",
    }
}

/// A registered claim, named in [`ValidationError::Missing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// `exp`
    Exp,
    /// `iat`
    Iat,
    /// `iss`
    Iss,
    /// `aud`
    Aud,
}

impl Claim {
    /// The claim's JSON member name.
    pub const fn name(self) -> &'static str {
        match self {
            Claim::Exp => "exp",
            Claim::Iat => "iat",
            Claim::Iss => "iss",
            Claim::Aud => "aud",
        }
    }
}

error_enum! {
    /// The claims are well-formed but not acceptable now.
    pub enum ValidationError {
        /// `now >= exp + leeway`.
        Expired => "token has expired",
        /// `now + leeway < nbf`.
        NotYetValid => "token is not valid yet",
        /// `iat > now + leeway`.
        IssuedInFuture => "token was issued in the future",
        /// `now > iat + max_age + leeway`.
        TooOld => "token is older than the maximum age",
        /// A claim the policy requires is absent.
        Missing(Claim) => "token lacks a required claim",
        /// `iss` is not the expected issuer.
        Issuer => "token issuer is not accepted",
        /// `aud` does not contain the expected audience.
        Audience => "token audience is not accepted",
    }
}

#[cfg(feature = "sign")]
error_enum! {
    /// Producing a token, hash or response failed.
    pub enum EncodeError {
        /// The output buffer is too small; nothing usable was written.
        BufferTooSmall => "output buffer too small",
        /// The value could not be serialized as JSON.
        Serialize => "value cannot be serialized as json",
        /// The `embedded_io::Write` sink failed.
        Write(embedded_io::ErrorKind) => "output sink failed",
        /// The signing key is a public key: it verifies but cannot sign.
        CannotSign => "this key verifies only and cannot sign",
    }
}

#[cfg(feature = "password")]
error_enum! {
    /// A stored hash string is not usable: not PHC, passlib or Django PBKDF2-SHA256, or outside
    /// the safety caps. Found when the hash is parsed ([`crate::password::StoredHash::parse`]).
    pub enum StoredHashError {
        /// The stored string is not PHC, passlib or Django PBKDF2-SHA256.
        UnknownFormat => "stored hash is not a pbkdf2-sha256 (phc, passlib, django) or bcrypt string",
        /// A `$2x$` bcrypt hash: crypt_blowfish marked with it the hashes its sign-extension
        /// bug (CVE-2011-2483) made, which no correct bcrypt reproduces.
        BcryptBuggyVariant => "stored hash is $2x$ bcrypt, made by crypt_blowfish's sign-extension bug (cve-2011-2483): reset this password",
        /// A bcrypt cost that is not two digits from 04 to 31.
        BcryptCost => "bcrypt cost is not two digits from 04 to 31",
        /// The rounds field is missing or not a plain decimal.
        InvalidRounds => "stored hash rounds are missing or not a decimal",
        /// Fewer rounds than [`crate::password::MIN_ROUNDS`].
        RoundsTooLow => "stored hash has too few rounds",
        /// More rounds than [`crate::password::MAX_ROUNDS`] (for bcrypt: a cost whose work is
        /// more than theirs).
        RoundsTooHigh => "stored hash has too many rounds",
        /// PHC parameters other than one `i` and at most one `l`, or a version field.
        InvalidParams => "stored hash has invalid parameters",
        /// The salt field is missing, badly encoded or too long.
        InvalidSalt => "stored hash salt is missing or invalid",
        /// The salt is shorter than [`crate::password::MIN_SALT_LEN`] bytes.
        SaltTooShort => "stored hash salt is too short",
        /// The hash field is missing or badly encoded.
        InvalidHash => "stored hash output is missing or invalid",
        /// A PHC field is not valid unpadded standard base64.
        InvalidEncoding => "stored hash field is not valid base64",
        /// The output is outside 16..=64 bytes, or disagrees with `l`.
        OutputLength => "stored hash output length is out of range",
        /// Fields after the hash.
        TrailingData => "stored hash has trailing data",
    }
}

#[cfg(feature = "password")]
error_enum! {
    /// Hashing a new password failed ([`crate::password::hash_password`]).
    pub enum HashError {
        /// The password is longer than [`crate::password::MAX_PASSWORD_LEN`].
        PasswordTooLong => "password is too long",
        /// The salt is shorter than [`crate::password::MIN_SALT_LEN`] bytes.
        SaltTooShort => "salt is too short",
        /// The salt is longer than [`crate::password::MAX_SALT_LEN`] bytes.
        InvalidSalt => "salt is too long",
        /// The output buffer is too small.
        BufferTooSmall => "output buffer too small",
        /// The random generator failed.
        Rng => "random generator failed",
    }
}

#[cfg(feature = "password")]
error_enum! {
    /// Verifying a password failed ([`crate::password::verify_password`]).
    pub enum PasswordError {
        /// The password does not match: the one answer to give a user.
        Mismatch => "password does not match",
        /// The password is longer than [`crate::password::MAX_PASSWORD_LEN`].
        PasswordTooLong => "password is too long",
        /// The stored hash is not usable.
        StoredHash(StoredHashError) => "stored hash is not usable"; source,
    }
}

#[cfg(feature = "password")]
impl From<StoredHashError> for PasswordError {
    fn from(e: StoredHashError) -> Self {
        PasswordError::StoredHash(e)
    }
}

error_enum! {
    /// Any failure of the one-call [`crate::KeyRing::decode`]: each phase keeps its own error,
    /// which `source()` returns.
    pub enum DecodeError {
        /// Structure or header.
        Parse(ParseError) => "token structure or header is not acceptable"; source,
        /// Key lookup or MAC.
        Verify(VerifyError) => "token signature check failed"; source,
        /// Payload decoding.
        Claims(ClaimsError) => "token claims cannot be decoded"; source,
        /// Time, issuer, audience.
        Validation(ValidationError) => "token claims are not acceptable"; source,
    }
}

macro_rules! from_phase {
    ($($t:ident => $v:ident),+) => {$(
        impl From<$t> for DecodeError {
            fn from(e: $t) -> Self { DecodeError::$v(e) }
        }
    )+};
}
from_phase!(ParseError => Parse, VerifyError => Verify, ClaimsError => Claims, ValidationError => Validation);

#[cfg(feature = "flow")]
error_enum! {
    /// Why a request carries no usable bearer token.
    pub enum BearerError {
        /// No `Authorization` header, or another scheme (`Basic …`): 401 "Not authenticated".
        NotAuthenticated => "no bearer credentials",
        /// `Bearer` with an empty, malformed or over-long token: 401 `error="invalid_token"`.
        InvalidToken => "bearer token is empty or malformed",
    }
}

#[cfg(feature = "flow")]
error_enum! {
    /// Why a login failed. Every variant maps to one outward answer
    /// ([`LoginError::reply`](crate::flow::LoginError::reply)).
    pub enum LoginError {
        /// Unknown user or wrong password: 401 "Authentication failed".
        InvalidCredentials => "invalid username or password",
        /// Right password, disabled account: 403 "Access restricted".
        AccessRestricted => "account is disabled",
        /// The token did not fit the output buffer, or could not be written.
        Encode(EncodeError) => "token could not be written"; source,
    }
}

#[cfg(feature = "flow")]
error_enum! {
    /// Why a protected request is refused. Every variant maps to one outward answer
    /// ([`AuthError::reply`](crate::flow::AuthError::reply)).
    pub enum AuthError {
        /// No bearer credentials: 401 "Not authenticated".
        NotAuthenticated => "no bearer credentials",
        /// Bad, tampered, expired or subject-less token: 401 "Invalid or malformed signature".
        InvalidToken => "token is invalid",
        /// Valid token, but the account is unknown, removed or disabled: 403 "Access restricted".
        AccessRestricted => "account is unknown or disabled",
    }
}

#[cfg(feature = "flow")]
impl From<BearerError> for AuthError {
    fn from(e: BearerError) -> Self {
        match e {
            BearerError::NotAuthenticated => AuthError::NotAuthenticated,
            _ => AuthError::InvalidToken,
        }
    }
}
