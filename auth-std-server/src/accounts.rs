//! The account cache: protected requests are answered from memory, not the database.
//!
//! [`AccountCache`] keeps the status of recently seen accounts, at most `capacity` of them, so
//! memory does not grow with the store. A miss reads the one account from the store. Entries
//! are dropped when the store's change feed names them ([`follow`]): PostgreSQL's `NOTIFY
//! auth_accounts` wakes the follower at once, and a poll every [`POLL`] is the fallback in case
//! a notification is lost (and SQLite's only mechanism, which costs one indexed query).
//!
//! When the feed cannot be read, the cache keeps answering from what it knows for `staleness`
//! (default 30 s); after that, protected requests get 503 until the store is back. When it is
//! back, the whole cache is dropped, since changes made meanwhile may be missing.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::auth::{AccountStatus, Accounts};
use crate::store::Store;

/// How often the change feed is polled when no notification arrives.
pub const POLL: Duration = Duration::from_millis(250);

/// How far below the newest position the follower looks again: on PostgreSQL a change can
/// commit after one with a higher position.
const LOOKBACK: i64 = 1024;

/// Most changes read per poll.
const BATCH: u32 = 1000;

/// Account statuses from the store, bounded and kept current by the change feed.
#[derive(Debug)]
pub struct AccountCache {
    store: Store,
    entries: RwLock<HashMap<String, bool>>,
    capacity: usize,
    staleness: Duration,
    started: Instant,
    /// Milliseconds since `started` of the last good read of the feed.
    synced_ms: AtomicU64,
    /// Bumped on every invalidation: a miss's read is kept only if nothing was invalidated
    /// while it ran, so a change that lands during the read is never cached over.
    epoch: AtomicU64,
    wake: Notify,
}

impl AccountCache {
    /// A cache over `store` holding at most `capacity` accounts, answering for at most
    /// `staleness` after the store stops answering.
    pub fn new(store: Store, capacity: usize, staleness: Duration) -> Self {
        AccountCache {
            store,
            entries: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
            staleness,
            started: Instant::now(),
            synced_ms: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            wake: Notify::new(),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn mark_synced(&self) {
        self.synced_ms.store(self.elapsed_ms(), Ordering::Relaxed);
    }

    /// Whether the last good read of the feed is older than the staleness bound.
    pub fn is_stale(&self) -> bool {
        let age = self
            .elapsed_ms()
            .saturating_sub(self.synced_ms.load(Ordering::Relaxed));
        Duration::from_millis(age) > self.staleness
    }

    /// Drops `names`.
    pub fn invalidate<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut e) = self.entries.write() {
            for n in names {
                e.remove(n);
            }
        }
    }

    /// Drops everything.
    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut e) = self.entries.write() {
            e.clear();
        }
    }

    /// How many accounts are cached.
    pub fn len(&self) -> usize {
        self.entries.read().map_or(0, |e| e.len())
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Wakes the follower now (a notification arrived, or this process changed an account).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    fn insert(&self, name: &str, active: bool, epoch: u64) {
        let Ok(mut e) = self.entries.write() else {
            return;
        };
        if self.epoch.load(Ordering::Acquire) != epoch {
            return;
        }
        if e.len() >= self.capacity
            && !e.contains_key(name)
            && let Some(victim) = e.keys().next().cloned()
        {
            e.remove(&victim);
        }
        e.insert(name.to_owned(), active);
    }

    async fn lookup(&self, subject: &str) -> AccountStatus {
        let epoch = self.epoch.load(Ordering::Acquire);
        match self.store.status(subject).await {
            Ok(Some(active)) => {
                self.insert(subject, active, epoch);
                if active {
                    AccountStatus::Active
                } else {
                    AccountStatus::Disabled
                }
            }
            // Unknown names are not cached: anyone can send tokens for any name only if they
            // hold the key, but the cache must not be filled with names that do not exist.
            Ok(None) => AccountStatus::Unknown,
            Err(_) => AccountStatus::Unavailable,
        }
    }
}

impl Accounts for AccountCache {
    fn cached(&self, subject: &str) -> Option<AccountStatus> {
        if self.is_stale() {
            return Some(AccountStatus::Unavailable);
        }
        let active = *self.entries.read().ok()?.get(subject)?;
        Some(if active {
            AccountStatus::Active
        } else {
            AccountStatus::Disabled
        })
    }

    fn load<'a>(
        &'a self,
        subject: &'a str,
    ) -> Pin<Box<dyn Future<Output = AccountStatus> + Send + 'a>> {
        Box::pin(self.lookup(subject))
    }
}

/// Follows the store's change feed for `cache` until the task is dropped: polls every
/// [`POLL`], or at once when woken. Call inside a tokio runtime.
pub fn follow(cache: Arc<AccountCache>) -> tokio::task::JoinHandle<()> {
    if let Some(pool) = cache.store.postgres().cloned() {
        tokio::spawn(listen(Arc::downgrade(&cache), pool));
    }
    tokio::spawn(async move {
        let mut last = match cache.store.last_change().await {
            Ok(seq) => {
                cache.mark_synced();
                seq
            }
            Err(_) => 0,
        };
        let mut seen: BTreeSet<i64> = BTreeSet::new();
        let mut failing = false;
        let mut last_prune = Instant::now();
        let prune_every = Duration::from_secs(60);
        loop {
            let _ = tokio::time::timeout(POLL, cache.wake.notified()).await;
            let from = last.saturating_sub(LOOKBACK);
            match cache.store.changes(from, BATCH).await {
                Ok(changes) => {
                    if failing {
                        // Changes made while the feed was unreadable may be missing.
                        cache.clear();
                        failing = false;
                    }
                    let fresh: Vec<&str> = changes
                        .iter()
                        .filter(|c| !seen.contains(&c.seq))
                        .map(|c| c.name.as_str())
                        .collect();
                    if !fresh.is_empty() {
                        cache.invalidate(fresh);
                    }
                    for c in &changes {
                        seen.insert(c.seq);
                        last = last.max(c.seq);
                    }
                    let floor = last.saturating_sub(LOOKBACK);
                    seen = seen.split_off(&floor);
                    cache.mark_synced();
                    if changes.len() == BATCH as usize {
                        cache.wake();
                    }
                }
                Err(_) => failing = true,
            }
            if last_prune.elapsed() >= prune_every {
                last_prune = Instant::now();
                let now = crate::now();
                let window = crate::throttle::ThrottleLimits::IP.window.as_millis();
                let now_ms = i64::try_from(u128::from(now) * 1000).unwrap_or(i64::MAX);
                let _ = cache
                    .store
                    .prune(
                        now.saturating_sub(3600),
                        now_ms.saturating_sub(i64::try_from(window).unwrap_or(0)),
                    )
                    .await;
            }
            if Arc::strong_count(&cache) == 1 {
                return; // nobody else holds the cache: the server is gone
            }
        }
    })
}

/// PostgreSQL: LISTEN on `auth_accounts` and wake the follower on every notification.
/// Reconnects after a second when the connection drops; the poll covers the gap.
async fn listen(cache: std::sync::Weak<AccountCache>, pool: sqlx::PgPool) {
    let logged = Mutex::new(false);
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                if let Ok(mut l) = logged.lock()
                    && !*l
                {
                    *l = true;
                    tracing::warn!(error = %e, "cannot LISTEN for account changes; polling only");
                }
                if cache.strong_count() == 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if listener.listen("auth_accounts").await.is_err() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(_)) => match cache.upgrade() {
                    Some(c) => c.wake(),
                    None => return,
                },
                // The connection was lost; notifications in the gap are covered by the poll.
                Ok(None) => {
                    if let Some(c) = cache.upgrade() {
                        c.wake();
                    } else {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
