//! The server's settings: tokens, passwords, sessions and rates, as `serve`'s options set them.

use std::time::Duration;

use auth_core::flow::SubjectClaim;
use auth_core::password::Policy;
use auth_core::session::SessionLimits;

use crate::throttle;

/// Token and password settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `sub` or `uid`.
    pub subject_claim: SubjectClaim,
    /// Token lifetime in seconds.
    pub ttl: u64,
    /// `iss` to write and require.
    pub issuer: Option<String>,
    /// `aud` to write and require.
    pub audience: Option<String>,
    /// PBKDF2 policy for new hashes and rehash decisions.
    pub policy: Policy,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// How long protected requests are answered from the cached account state after the
    /// store stops answering; 503 after that.
    pub staleness: Duration,
    /// Most accounts the cache holds.
    pub cache_capacity: usize,
    /// Session lifetime, idle timeout, reuse grace and per-account limit.
    pub sessions: SessionSettings,
    /// One log line per request (method, path, status, milliseconds). Off by default: at
    /// load it was the largest cost on the hot path, and lets any client fill a disk.
    pub access_log: bool,
    /// Serve `/docs` and `/openapi.json` (`--no-docs` turns them off).
    pub docs: bool,
    /// Send `Strict-Transport-Security` (when serving HTTPS).
    pub hsts: bool,
    /// Per-account and per-address rates (round 3).
    pub rates: throttle::Rates,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            subject_claim: SubjectClaim::Sub,
            ttl: auth_core::flow::DEFAULT_TTL,
            issuer: None,
            audience: None,
            policy: Policy::new(),
            request_timeout: Duration::from_secs(30),
            staleness: Duration::from_secs(30),
            cache_capacity: 65_536,
            sessions: SessionSettings::default(),
            access_log: false,
            docs: true,
            hsts: false,
            rates: throttle::Rates::default(),
        }
    }
}

/// Session settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    /// Lifetime, idle timeout and reuse grace.
    pub limits: SessionLimits,
    /// Most live sessions per account; a new login revokes the oldest beyond it.
    pub max_per_user: u32,
    /// Most revoked session ids held in memory.
    pub revoked_capacity: usize,
    /// Seconds after a rotation during which a refresh with the current token is answered
    /// with the same refresh token and a new access token, and writes nothing (round 3 item
    /// 5). 0: every refresh rotates.
    pub min_rotation_interval: u64,
}

impl SessionSettings {
    /// The default [`SessionSettings::min_rotation_interval`].
    pub const DEFAULT_MIN_ROTATION_INTERVAL: u64 = 2;
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            limits: SessionLimits::new(),
            max_per_user: 10,
            revoked_capacity: 262_144,
            min_rotation_interval: Self::DEFAULT_MIN_ROTATION_INTERVAL,
        }
    }
}
