//! What the handlers share, built once at start: the settings, the [`State`] around them, and
//! the clock.

use std::sync::Arc;
use std::time::Duration;

use auth_core::flow::SubjectClaim;
use auth_core::password::Policy;

use crate::accounts::{AccountCache, Revocations};
use crate::auth::{self, BearerAuth};
use crate::keys::Keys;
use crate::metrics::Metrics;
use crate::pool::HashPool;
use crate::sessions::{RevokedSessions, SessionSettings};
use crate::store::Store;
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

/// Everything the handlers share.
#[derive(Debug)]
pub struct State {
    /// Keys, token rules and the account check: what [`auth::Authenticated`] uses, built once.
    pub auth: Arc<BearerAuth>,
    /// Token and password settings.
    pub settings: Settings,
    /// The accounts and the shared counters.
    pub store: Store,
    /// Account statuses for protected requests, kept current by the store's change feed.
    pub accounts: Arc<AccountCache>,
    /// Bounded PBKDF2 work.
    pub hashing: HashPool,
    /// Failed-login counters.
    pub throttle: throttle::Throttle,
    /// Revoked session ids, kept current by the store's revocation feed.
    pub revoked: Arc<RevokedSessions>,
    /// Counters and histograms for `--admin-listen`.
    pub metrics: Arc<Metrics>,
    /// Successful logins per account, refreshes per account, revocations per address.
    pub buckets: RateBuckets,
    /// Lock-outs are logged once per key and minute.
    pub lockout_log: throttle::LogOnce,
    /// The last readiness answer, reused for a second (`READY_CACHE`).
    pub ready: std::sync::Mutex<Option<(std::time::Instant, Option<&'static str>)>>,
}

/// How long a `/readyz` answer is reused: a flood of probes costs one query a second (round 3
/// item 13: 3.2k probes/s raised SQLite refresh latency from 11 to 148 ms).
pub const READY_CACHE: Duration = Duration::from_secs(1);

/// The token buckets of [`throttle::Rates`].
#[derive(Debug)]
pub struct RateBuckets {
    /// Successful logins, by account.
    pub logins: throttle::Buckets,
    /// Refreshes, by account.
    pub refreshes: throttle::Buckets,
    /// Revocation requests, by client address group.
    pub revokes: throttle::Buckets,
}

impl RateBuckets {
    /// Buckets of `rates`.
    pub fn new(rates: throttle::Rates) -> Self {
        RateBuckets {
            logins: throttle::Buckets::new(rates.user_logins),
            refreshes: throttle::Buckets::new(rates.user_refreshes),
            revokes: throttle::Buckets::new(rates.client_revokes),
        }
    }
}

impl State {
    /// Builds the shared state; the [`BearerAuth`] is made here, once, from `keys`, the
    /// settings' token rules and an account cache over `store`, whose follower task starts
    /// here: call it inside a tokio runtime.
    pub fn new(
        keys: Keys,
        settings: Settings,
        store: Store,
        hashing: HashPool,
        throttle: throttle::Throttle,
    ) -> Self {
        let cache = Arc::new(AccountCache::new(
            store.clone(),
            settings.cache_capacity,
            settings.staleness,
        ));
        // Ids are kept while their access tokens may be unexpired, with a minute's margin for
        // clocks that differ between instances.
        let revoked = Arc::new(
            RevokedSessions::new(
                settings.ttl.saturating_add(60),
                settings.sessions.revoked_capacity,
            )
            .with_store(store.clone()),
        );
        crate::accounts::follow(
            Arc::clone(&cache),
            Some(Revocations {
                set: Arc::clone(&revoked),
                settings: settings.sessions,
            }),
        );
        let metrics = Arc::new(Metrics::new(store.error_counter()));
        let accounts: Arc<dyn auth::Accounts> = Arc::clone(&cache) as _;
        let mut auth = BearerAuth::with_accounts(keys, accounts)
            .with_subject_claim(settings.subject_claim)
            .with_ttl(settings.ttl)
            .with_revocations(Arc::clone(&revoked))
            .with_metrics(Arc::clone(&metrics));
        if let Some(iss) = &settings.issuer {
            auth = auth.with_issuer(iss.clone());
        }
        if let Some(aud) = &settings.audience {
            auth = auth.with_audience(aud.clone());
        }
        State {
            auth: Arc::new(auth),
            buckets: RateBuckets::new(settings.rates),
            lockout_log: throttle::LogOnce::new(Duration::from_secs(60)),
            ready: std::sync::Mutex::new(None),
            settings,
            store,
            accounts: cache,
            hashing,
            throttle,
            revoked,
            metrics,
        }
    }
}

/// Shared handle to [`State`].
pub type AppState = Arc<State>;

/// The router's state: a local type, so that the [`Authenticated`] extractor can find the
/// [`BearerAuth`] in it (`FromRef`).
#[derive(Debug, Clone)]
pub(crate) struct RouterState(pub(crate) AppState);

impl std::ops::Deref for RouterState {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

impl axum::extract::FromRef<RouterState> for Arc<BearerAuth> {
    fn from_ref(state: &RouterState) -> Self {
        Arc::clone(&state.0.auth)
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    since_epoch().as_secs()
}

/// Milliseconds since the Unix epoch, as the store's failure counters keep them.
pub(crate) fn now_ms() -> i64 {
    i64::try_from(since_epoch().as_millis()).unwrap_or(i64::MAX)
}

fn since_epoch() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}
