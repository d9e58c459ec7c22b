//! Prometheus metrics (#14 item 6), served in the text format on `--admin-listen` only (off by
//! default), never on the public listener.
//!
//! Everything is counted with atomics as it happens; the gauges that mirror other structures
//! (the PBKDF2 queue, the revoked-session set, the account cache) are read when scraped.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// One label: what happened.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    /// The outcome.
    pub outcome: &'static str,
}

/// One label set: the route template (`/auth/session`), `unmatched` or `other`, and the
/// method. Both from closed sets of `'static` strings: recording allocates nothing.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Route {
    /// The route.
    pub route: &'static str,
    /// The method.
    pub method: &'static str,
}

type HistogramFamily = Family<Route, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.1 ms to about 3.3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Logins ([`crate::service::login::LOGIN_LABELS`]): `success`, `wrong_password`,
    /// `unknown_user`, `disabled`, `throttled`, `internal` (500: the OS random generator),
    /// `unavailable` (503: the store or the hashing pool), `bad_form` (422).
    pub logins: Family<Outcome, Counter>,
    /// Bearer-token checks: `ok`, `not_authenticated`, `invalid_token`, `revoked`,
    /// `access_restricted`, `unavailable`.
    pub token_checks: Family<Outcome, Counter>,
    /// Refreshes ([`crate::service::refresh::REFRESH_LABELS`]): `rotated`, `invalid_grant`,
    /// `reuse`, `invalid_scope`, `invalid_request`, `internal`,
    /// `throttled`, `unavailable`.
    pub refreshes: Family<Outcome, Counter>,
    /// Key reloads on SIGHUP: `ok`, `refused` (the file did not load; the keys in use stay),
    /// `unchanged` (the keys come from `AUTH_SECRET`).
    pub key_reloads: Family<Outcome, Counter>,
    /// TLS certificate reloads on SIGHUP (with `--tls-cert`): `ok`, `refused` (the pair did not
    /// load; the one in use stays).
    pub certificate_reloads: Family<Outcome, Counter>,
    /// Sessions started by a login.
    pub sessions_started: Counter,
    /// Sessions revoked by this instance (revocation, reuse, the per-user limit, an account
    /// change seen at refresh).
    pub sessions_revoked: Counter,
    /// Logins the PBKDF2 pool refused at once (queue full).
    pub pool_rejections: Counter,
    /// Store calls that failed.
    pub store_errors: Counter,
    /// Request latency per route, seconds.
    pub latency: HistogramFamily,
    pool_queue: Gauge,
    revoked_ids: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(Counter::default())
    }
}

impl Metrics {
    /// Every metric, registered; `store_errors` is the store's own counter.
    pub fn new(store_errors: Counter) -> Self {
        let mut m = Metrics {
            registry: Registry::with_prefix("auth"),
            logins: Family::default(),
            token_checks: Family::default(),
            refreshes: Family::default(),
            key_reloads: Family::default(),
            certificate_reloads: Family::default(),
            sessions_started: Counter::default(),
            sessions_revoked: Counter::default(),
            pool_rejections: Counter::default(),
            store_errors,
            latency: Family::new_with_constructor(latency_histogram),
            pool_queue: Gauge::default(),
            revoked_ids: Gauge::default(),
        };
        m.register();
        m
    }

    fn register(&mut self) {
        let r = &mut self.registry;
        let by_outcome = [
            ("logins", "Logins by outcome", &self.logins),
            (
                "token_checks",
                "Bearer-token checks by outcome",
                &self.token_checks,
            ),
            ("refreshes", "Refresh grants by outcome", &self.refreshes),
            (
                "key_reloads",
                "Key reloads on SIGHUP by outcome",
                &self.key_reloads,
            ),
            (
                "tls_certificate_reloads",
                "TLS certificate reloads on SIGHUP by outcome",
                &self.certificate_reloads,
            ),
        ];
        for (name, help, family) in by_outcome {
            r.register(name, help, family.clone());
        }
        self.register_counts();
    }

    fn register_counts(&mut self) {
        let r = &mut self.registry;
        let counters = [
            (
                "sessions_started",
                "Sessions started by a login",
                &self.sessions_started,
            ),
            (
                "sessions_revoked",
                "Sessions revoked by this instance",
                &self.sessions_revoked,
            ),
            (
                "pbkdf2_rejections",
                "Logins refused at once because every PBKDF2 worker and queue place was taken",
                &self.pool_rejections,
            ),
            (
                "store_errors",
                "Store calls that failed",
                &self.store_errors,
            ),
        ];
        for (name, help, counter) in counters {
            r.register(name, help, counter.clone());
        }
        let latency = self.latency.clone();
        r.register(
            "request_duration_seconds",
            "Request latency by route",
            latency,
        );
        let gauges = [
            (
                "pbkdf2_queue_depth",
                "Logins hashing or waiting to hash now",
                &self.pool_queue,
            ),
            (
                "revoked_sessions_held",
                "Revoked session ids held in memory",
                &self.revoked_ids,
            ),
        ];
        for (name, help, gauge) in gauges {
            r.register(name, help, gauge.clone());
        }
    }

    /// Counts one `outcome` in `family`.
    pub fn count(family: &Family<Outcome, Counter>, outcome: &'static str) {
        family.get_or_create(&Outcome { outcome }).inc();
    }

    /// The text exposition, with the mirrored gauges read now.
    pub fn render(&self, pool_queue: usize, revoked_ids: usize) -> String {
        self.pool_queue
            .set(i64::try_from(pool_queue).unwrap_or(i64::MAX));
        self.revoked_ids
            .set(i64::try_from(revoked_ids).unwrap_or(i64::MAX));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Shared handle.
pub type SharedMetrics = Arc<Metrics>;
