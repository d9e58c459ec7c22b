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
    /// Clock difference tolerated in `exp`, `nbf` and `iat`, in seconds (at most
    /// [`Settings::MAX_LEEWAY`]).
    pub leeway: u64,
    /// `iss` to write and require.
    pub issuer: Option<String>,
    /// `aud` to write and require.
    pub audience: Option<String>,
    /// The URL clients reach this server at (`--public-url`), for the discovery document.
    pub public_url: Option<String>,
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
    /// The scopes this server grants, with their descriptions (#24; `--scope`): the OpenAPI
    /// password flow lists them, and a login is granted the requested ones its account may
    /// have among them.
    pub scopes: Vec<ScopeDef>,
}

/// One scope the server defines: `--scope NAME=DESCRIPTION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeDef {
    /// The name, an RFC 6749 §3.3 scope token.
    pub name: String,
    /// What it allows, shown in Swagger UI's Authorize dialog.
    pub description: String,
}

impl std::str::FromStr for ScopeDef {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (name, description) = s.split_once('=').unwrap_or((s, s));
        let valid =
            !name.is_empty() && !name.contains([' ', '=']) && auth_core::scope::is_syntax(name);
        if !valid {
            return Err(format!(
                "{name:?} is not a scope name (printable ASCII without spaces, quotes, \\ or =)"
            ));
        }
        Ok(ScopeDef {
            name: name.to_owned(),
            description: description.to_owned(),
        })
    }
}

impl Settings {
    /// The largest [`Settings::leeway`] (`--clock-leeway` refuses more): revoked session ids
    /// are kept a minute past the token lifetime, so a token accepted past its `exp` is still
    /// checked against them.
    pub const MAX_LEEWAY: u64 = 60;

    /// The scopes `account_scopes` (space-separated) allows that this server defines.
    pub fn allowed_scopes(&self, account_scopes: &str) -> String {
        auth_core::scope::names(account_scopes)
            .filter(|n| self.scopes.iter().any(|d| d.name == *n))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            subject_claim: SubjectClaim::Sub,
            ttl: auth_core::flow::DEFAULT_TTL,
            leeway: 0,
            issuer: None,
            audience: None,
            public_url: None,
            policy: Policy::new(),
            request_timeout: Duration::from_secs(30),
            staleness: Duration::from_secs(30),
            cache_capacity: 65_536,
            sessions: SessionSettings::default(),
            access_log: false,
            docs: true,
            hsts: false,
            rates: throttle::Rates::default(),
            scopes: Vec::new(),
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
