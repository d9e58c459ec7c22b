//! The account cache: protected requests are answered from memory, not the database.
//!
//! [`AccountCache`] keeps the status of recently seen accounts, at most `capacity` of them, so
//! memory does not grow with the store. A miss reads the one account from the store. Entries
//! are dropped when the store's change feed names them ([`follow`]): PostgreSQL's `NOTIFY
//! auth_accounts` wakes the follower at once, and a poll every [`POLL`] is the fallback in case
//! a notification is lost (and SQLite's only mechanism, which costs one indexed query). The
//! follower reads the positions after the last one it saw, and looks again for any gap below
//! it: on PostgreSQL a change can commit after one with a higher position.
//!
//! When the feed cannot be read, the cache keeps answering from what it knows for `staleness`
//! (default 30 s); after that, protected requests get 503 until the store is back. When it is
//! back, the whole cache is dropped, since changes made meanwhile may be missing.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::auth::{AccountStatus, Accounts};
use crate::store::Store;

/// How often the change feed is polled when no notification arrives.
pub const POLL: Duration = Duration::from_millis(250);

/// How long a gap in the feed's positions is looked for again before it is taken for a
/// rolled-back change.
const HOLE_WAIT: Duration = Duration::from_secs(30);

/// Most gaps remembered at once.
const MAX_HOLES: usize = 4096;

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
                // Anything cached before this read may predate a change at or below `seq`,
                // which the polls will not see again: start from an empty cache.
                cache.clear();
                cache.mark_synced();
                seq
            }
            // Unknown: the first poll then reads the whole feed.
            Err(_) => 0,
        };
        // Positions below `last` not seen yet: on PostgreSQL a change can commit after one
        // with a higher position, so a gap may fill in later. Each is looked for again on
        // every poll until it shows up or `HOLE_WAIT` passes (a rolled-back change never
        // shows up).
        let mut holes: BTreeMap<i64, Instant> = BTreeMap::new();
        let mut failing = false;
        let mut last_prune = Instant::now();
        let prune_every = Duration::from_secs(60);
        loop {
            let _ = tokio::time::timeout(POLL, cache.wake.notified()).await;
            match poll(&cache, &mut last, &mut holes).await {
                Ok(more) => {
                    if failing {
                        // Changes made while the feed was unreadable may be missing.
                        cache.clear();
                        failing = false;
                    }
                    cache.mark_synced();
                    if more {
                        cache.wake();
                    }
                }
                Err(_) => failing = true,
            }
            if last_prune.elapsed() >= prune_every {
                last_prune = Instant::now();
                let window = crate::throttle::ThrottleLimits::IP.window.as_millis();
                let _ = cache
                    .store
                    .prune(
                        crate::now().saturating_sub(3600),
                        crate::state::now_ms().saturating_sub(i64::try_from(window).unwrap_or(0)),
                    )
                    .await;
            }
            if Arc::strong_count(&cache) == 1 {
                return; // nobody else holds the cache: the server is gone
            }
        }
    })
}

/// Reads the changes after `last` and any holes below it; drops the accounts they name from
/// the cache. `Ok(true)` when a full batch came back (there may be more).
async fn poll(
    cache: &AccountCache,
    last: &mut i64,
    holes: &mut BTreeMap<i64, Instant>,
) -> Result<bool, crate::store::StoreError> {
    let now = Instant::now();
    let mut names: Vec<String> = Vec::new();
    if let (Some(&lo), Some(&hi)) = (holes.keys().next(), holes.keys().next_back()) {
        for c in cache.store.changes_between(lo, hi).await? {
            if holes.remove(&c.seq).is_some() {
                names.push(c.name);
            }
        }
        holes.retain(|_, since| now.duration_since(*since) < HOLE_WAIT);
    }
    let fresh = cache.store.changes(*last, BATCH).await?;
    let full = fresh.len() == BATCH as usize;
    for c in fresh {
        for missing in last.saturating_add(1)..c.seq {
            if holes.len() < MAX_HOLES {
                holes.insert(missing, now);
            }
        }
        *last = (*last).max(c.seq);
        names.push(c.name);
    }
    if !names.is_empty() {
        cache.invalidate(names.iter().map(String::as_str));
    }
    Ok(full)
}

/// PostgreSQL: LISTEN on `auth_accounts` and wake the follower on every notification.
/// Reconnects after a second when the connection drops; the poll covers the gap.
async fn listen(cache: std::sync::Weak<AccountCache>, pool: sqlx::PgPool) {
    let mut logged = false;
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                if !logged {
                    logged = true;
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
