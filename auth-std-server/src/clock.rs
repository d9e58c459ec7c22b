//! The clock. A request's work reads it once, as a [`Now`], and passes that down: the throttle
//! takes its monotonic half, tokens and sessions its seconds, a session's login order its
//! milliseconds. Background tasks (the account follower, the sweeper) and the admin commands
//! read [`now`]. The store's shared failure counters go by the database's clock instead.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    since_epoch().as_secs()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    millis(since_epoch())
}

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// One reading of both clocks.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    /// Monotonic: the throttle's windows and the rate buckets.
    pub instant: Instant,
    /// Wall clock since the Unix epoch.
    pub since_epoch: Duration,
}

impl Now {
    /// Reads both clocks.
    pub fn read() -> Self {
        Now {
            instant: Instant::now(),
            since_epoch: since_epoch(),
        }
    }

    /// Unix seconds: tokens, sessions, account times.
    pub fn secs(&self) -> u64 {
        self.since_epoch.as_secs()
    }

    /// Unix milliseconds: the order of an account's sessions.
    pub fn millis(&self) -> i64 {
        millis(self.since_epoch)
    }
}
