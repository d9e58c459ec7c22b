//! What the handlers share, built once at start: [`State`], behind [`AppState`].

use std::sync::Arc;
use std::time::Duration;

use crate::account_cache::{AccountCache, Revocations};
use crate::auth::{self, BearerAuth};
use crate::hash_pool::HashPool;
use crate::keys::Keys;
use crate::metrics::Metrics;
use crate::revoked::RevokedSessions;
use crate::settings::Settings;
use crate::store::Store;
use crate::throttle;

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
        // Ids are kept while their access tokens may be unexpired: the lifetime, plus a
        // minute's margin for clocks that differ between instances, or the leeway if longer.
        let revoked = Arc::new(
            RevokedSessions::new(
                settings
                    .ttl
                    .saturating_add(settings.leeway.max(Settings::MAX_LEEWAY)),
                settings.sessions.revoked_capacity,
            )
            .with_store(store.clone()),
        );
        crate::account_cache::follow(
            Arc::clone(&cache),
            Some(Revocations {
                set: Arc::clone(&revoked),
                settings: settings.sessions,
            }),
        );
        let metrics = Arc::new(Metrics::new(store.error_counter()));
        let auth = bearer_auth(keys, &settings, Arc::clone(&cache) as _, &revoked, &metrics);
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

/// The bearer checks for the protected routes: the settings' token rules, the account cache,
/// the revoked set and the metrics.
fn bearer_auth(
    keys: Keys,
    settings: &Settings,
    accounts: Arc<dyn auth::Accounts>,
    revoked: &Arc<RevokedSessions>,
    metrics: &Arc<Metrics>,
) -> BearerAuth {
    let mut auth = BearerAuth::with_accounts(keys, accounts)
        .with_subject_claim(settings.subject_claim)
        .with_ttl(settings.ttl)
        .with_leeway(settings.leeway)
        .with_revocations(Arc::clone(revoked))
        .with_metrics(Arc::clone(metrics));
    if let Some(iss) = &settings.issuer {
        auth = auth.with_issuer(iss.clone());
    }
    if let Some(aud) = &settings.audience {
        auth = auth.with_audience(aud.clone());
    }
    auth
}

/// Shared handle to [`State`].
pub type AppState = Arc<State>;
