//! Sessions: refresh tokens (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14),
//! decided with no I/O and no allocation.
//!
//! A login starts a session: a random [`SessionId`] that access tokens carry as `sid`, and a
//! [`RefreshToken`], 256 bits from the caller's RNG, handed to the client once. The store keeps
//! only its SHA-256 ([`TokenHash`]). A refresh presents the token; the caller looks its hash up
//! (as the session's current token, or as one the session rotated out earlier), reads the
//! account, and asks [`refresh`] what to do:
//!
//! - **rotate**: issue a new access token and a new refresh token, and make the presented one
//!   stale in the same write that stores the new hash, conditional on the presented one still
//!   being current (two racing refreshes cannot both win);
//! - **refuse** with `invalid_grant` (unknown, expired, idle, revoked, or the account cannot
//!   log in any more or has new credentials since the session started, which also revokes
//!   the session), or `invalid_scope`;
//! - **reuse**: the token was already rotated out, so two parties hold the session's tokens.
//!   The whole session is revoked: its newest refresh token and its access tokens stop working.
//!
//! The RFC 6749 §5.2 error bodies are [`crate::response::write_oauth_error`].

use core::fmt;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use ctutils::CtEq;
use sha2::{Digest as _, Sha256};

/// Random bytes in a refresh token: 256 bits.
pub const REFRESH_TOKEN_BYTES: usize = 32;
/// Length of a refresh token as written: unpadded base64url of [`REFRESH_TOKEN_BYTES`].
pub const REFRESH_TOKEN_LEN: usize = 43;
/// Random bytes in a session id: 128 bits.
pub const SESSION_ID_BYTES: usize = 16;
/// Length of a session id as written: unpadded base64url of [`SESSION_ID_BYTES`].
pub const SESSION_ID_LEN: usize = 22;

/// Default absolute session lifetime: 30 days.
pub const DEFAULT_LIFETIME: u64 = 30 * 24 * 3600;
/// Default idle timeout: 7 days.
pub const DEFAULT_IDLE: u64 = 7 * 24 * 3600;

/// Why a refresh token or session id could not be made or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshTokenError {
    /// Not exactly [`REFRESH_TOKEN_LEN`] characters of canonical unpadded base64url.
    Malformed,
    /// The caller's random generator failed.
    Rng,
    /// The output buffer is too small.
    BufferTooSmall,
}

impl fmt::Display for RefreshTokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefreshTokenError::Malformed => "malformed refresh token",
            RefreshTokenError::Rng => "random generator failed",
            RefreshTokenError::BufferTooSmall => "output buffer too small",
        })
    }
}

impl core::error::Error for RefreshTokenError {}

/// A refresh token: 256 random bits. `Debug` never shows them; only [`RefreshToken::hash`] is
/// stored.
#[derive(Clone)]
pub struct RefreshToken([u8; REFRESH_TOKEN_BYTES]);

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

impl RefreshToken {
    /// A new token from `rng`.
    ///
    /// # Errors
    /// [`RefreshTokenError::Rng`].
    pub fn generate<R: rand_core::TryCryptoRng + ?Sized>(
        rng: &mut R,
    ) -> Result<Self, RefreshTokenError> {
        let mut bytes = [0u8; REFRESH_TOKEN_BYTES];
        rng.try_fill_bytes(&mut bytes)
            .map_err(|_| RefreshTokenError::Rng)?;
        Ok(RefreshToken(bytes))
    }

    /// A token from bytes the caller drew.
    pub const fn from_bytes(bytes: [u8; REFRESH_TOKEN_BYTES]) -> Self {
        RefreshToken(bytes)
    }

    /// Reads a token as a client sent it. Anything but [`REFRESH_TOKEN_LEN`] characters of
    /// canonical unpadded base64url is refused before any lookup, in time independent of the
    /// characters (base64ct).
    ///
    /// # Errors
    /// [`RefreshTokenError::Malformed`].
    pub fn parse(text: &[u8]) -> Result<Self, RefreshTokenError> {
        if text.len() != REFRESH_TOKEN_LEN {
            return Err(RefreshTokenError::Malformed);
        }
        let mut bytes = [0u8; REFRESH_TOKEN_BYTES];
        match Base64UrlUnpadded::decode(text, &mut bytes) {
            Ok(b) if b.len() == REFRESH_TOKEN_BYTES => Ok(RefreshToken(bytes)),
            _ => Err(RefreshTokenError::Malformed),
        }
    }

    /// Writes the token as unpadded base64url ([`REFRESH_TOKEN_LEN`] bytes of `out`).
    ///
    /// # Errors
    /// [`RefreshTokenError::BufferTooSmall`].
    pub fn encode<'o>(&self, out: &'o mut [u8]) -> Result<&'o str, RefreshTokenError> {
        Base64UrlUnpadded::encode(&self.0, out).map_err(|_| RefreshTokenError::BufferTooSmall)
    }

    /// The SHA-256 the store keeps and looks the token up by.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0).into())
    }
}

/// The SHA-256 of a refresh token: what the store keeps. Compared in constant time.
#[derive(Clone, Copy)]
pub struct TokenHash([u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(<redacted>)")
    }
}

impl TokenHash {
    /// A hash as the store returns it.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        TokenHash(bytes)
    }

    /// A hash from a stored column; `None` unless exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(TokenHash)
    }

    /// The 32 bytes, for the store.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        bool::from(self.0.as_slice().ct_eq(other.0.as_slice()))
    }
}

/// A session id: 128 random bits as unpadded base64url. It is not a secret (access tokens
/// carry it, readable), but it is unguessable, so it names one session only to whoever holds
/// one of its tokens.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId([u8; SESSION_ID_LEN]);

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SessionId").field(&self.as_str()).finish()
    }
}

impl SessionId {
    /// A new id from `rng`.
    ///
    /// # Errors
    /// [`RefreshTokenError::Rng`].
    pub fn generate<R: rand_core::TryCryptoRng + ?Sized>(
        rng: &mut R,
    ) -> Result<Self, RefreshTokenError> {
        let mut bytes = [0u8; SESSION_ID_BYTES];
        rng.try_fill_bytes(&mut bytes)
            .map_err(|_| RefreshTokenError::Rng)?;
        let mut text = [0u8; SESSION_ID_LEN];
        Base64UrlUnpadded::encode(&bytes, &mut text).map_err(|_| RefreshTokenError::Rng)?;
        Ok(SessionId(text))
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        // Always base64url, so always UTF-8.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// The session limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Seconds from the login after which no refresh succeeds ([`DEFAULT_LIFETIME`]).
    pub lifetime: u64,
    /// Seconds without a refresh after which none succeeds ([`DEFAULT_IDLE`]).
    pub idle: u64,
    /// Seconds after a rotation during which the rotated-out token is refused without being
    /// taken for reuse (0 by default: see SECURITY.md).
    pub reuse_grace: u64,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionLimits {
    /// 30 days, 7 days idle, no grace.
    pub const fn new() -> Self {
        SessionLimits {
            lifetime: DEFAULT_LIFETIME,
            idle: DEFAULT_IDLE,
            reuse_grace: 0,
        }
    }
}

/// A session as the store found it for a presented refresh token.
#[derive(Debug, Clone, Copy)]
pub struct Session<'a> {
    /// The hash of the session's current refresh token.
    pub current: TokenHash,
    /// When the session started (the login), Unix seconds.
    pub created: u64,
    /// The last login or refresh, Unix seconds.
    pub last_used: u64,
    /// Whether the session was revoked.
    pub revoked: bool,
    /// The scope granted at login (space-separated; empty for none).
    pub scope: &'a str,
    /// When the presented token was rotated out, if the store found it among the session's
    /// earlier tokens rather than as its current one.
    pub presented_rotated_at: Option<u64>,
    /// The account's [`SessionAccount::credential_epoch`] when the session started.
    pub credential_epoch: u64,
}

/// The account behind a session, as the store has it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionAccount {
    /// `false` for a disabled account.
    pub active: bool,
    /// When its password was last set, Unix seconds.
    pub password_changed: u64,
    /// A counter the store bumps whenever the account's credentials change (a new password, a
    /// disable). Seconds cannot tell a password set in the session's own second from one set
    /// before the login; the counter can. A store that keeps none passes 0 here and in
    /// [`Session::credential_epoch`], and only `password_changed` decides.
    pub credential_epoch: u64,
}

/// A refresh that may go ahead: rotate the token, and sign an access token with this scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotate<'a> {
    /// The access token's scope: the one asked for, or the session's.
    pub scope: &'a str,
}

/// Why a refresh is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshError {
    /// No session has this token.
    Unknown,
    /// The session was revoked.
    Revoked,
    /// The session is older than its lifetime.
    Expired,
    /// The session was not used for longer than the idle timeout.
    Idle,
    /// The account is gone or disabled: revoke the session.
    AccountInactive,
    /// The password changed after the session started (a later `password_changed`, or another
    /// credential epoch): revoke the session.
    PasswordChanged,
    /// The token was rotated out: someone else holds the session's tokens. Revoke the session.
    Reuse,
    /// The token was rotated out within the grace period: refused, but not taken for reuse.
    RecentlyRotated,
    /// The asked-for scope is wider than the session's.
    ScopeWider,
}

impl RefreshError {
    /// Whether the caller must revoke the whole session.
    pub const fn revokes_session(&self) -> bool {
        matches!(
            self,
            RefreshError::Reuse | RefreshError::AccountInactive | RefreshError::PasswordChanged
        )
    }

    /// The RFC 6749 §5.2 error. Every refused token gets the one description, so the answer
    /// says nothing about why (which would tell a thief whether a session exists).
    pub const fn oauth(&self) -> OAuthError {
        match self {
            RefreshError::ScopeWider => OAuthError::INVALID_SCOPE,
            _ => OAuthError::INVALID_GRANT,
        }
    }
}

impl fmt::Display for RefreshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefreshError::Unknown => "unknown refresh token",
            RefreshError::Revoked => "session revoked",
            RefreshError::Expired => "session expired",
            RefreshError::Idle => "session idle too long",
            RefreshError::AccountInactive => "account disabled or removed",
            RefreshError::PasswordChanged => "password changed since login",
            RefreshError::Reuse => "rotated refresh token reused",
            RefreshError::RecentlyRotated => "refresh token rotated moments ago",
            RefreshError::ScopeWider => "scope wider than granted",
        })
    }
}

impl core::error::Error for RefreshError {}

pub use crate::response::OAuthError;

/// Decides a refresh. `presented` is the token sent; `session` is what the store found for its
/// hash (`None` if nothing), `account` the session's account now (`None` if removed).
///
/// The order matters: a rotated-out token is reuse even on an expired session (revoking costs
/// nothing and tells the operator), and the account is checked before the scope.
///
/// # Errors
/// [`RefreshError`]; when [`RefreshError::revokes_session`], revoke the session.
pub fn refresh<'s>(
    presented: &RefreshToken,
    requested_scope: Option<&'s str>,
    session: Option<&Session<'s>>,
    account: Option<&SessionAccount>,
    limits: &SessionLimits,
    now: u64,
) -> Result<Rotate<'s>, RefreshError> {
    let Some(session) = session else {
        return Err(RefreshError::Unknown);
    };
    if session.revoked {
        return Err(RefreshError::Revoked);
    }
    if !presented.hash().ct_eq(&session.current) {
        return match session.presented_rotated_at {
            Some(at) if now.saturating_sub(at) < limits.reuse_grace => {
                Err(RefreshError::RecentlyRotated)
            }
            Some(_) => Err(RefreshError::Reuse),
            // The store named a session whose tokens this is not: nothing to act on.
            None => Err(RefreshError::Unknown),
        };
    }
    if now >= session.created.saturating_add(limits.lifetime) {
        return Err(RefreshError::Expired);
    }
    if now >= session.last_used.saturating_add(limits.idle) {
        return Err(RefreshError::Idle);
    }
    match account {
        Some(a) if a.active => {
            if a.credential_epoch != session.credential_epoch
                || a.password_changed > session.created
            {
                return Err(RefreshError::PasswordChanged);
            }
        }
        _ => return Err(RefreshError::AccountInactive),
    }
    match requested_scope {
        None => Ok(Rotate {
            scope: session.scope,
        }),
        Some(asked) => {
            let granted = |s: &str| crate::scope::contains(session.scope, s);
            if crate::scope::names(asked).all(granted) {
                Ok(Rotate { scope: asked })
            } else {
                Err(RefreshError::ScopeWider)
            }
        }
    }
}
