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
use crate::clock::now;
use crate::revoked::RevokedSessions;
use crate::settings::SessionSettings;
use crate::store::{Store, StoreError};

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
    /// Name → (active, created at).
    entries: RwLock<HashMap<String, (bool, u64)>>,
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

    fn insert(&self, name: &str, entry: (bool, u64), epoch: u64) {
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
        e.insert(name.to_owned(), entry);
    }

    async fn lookup(&self, subject: &str) -> (AccountStatus, u64) {
        let epoch = self.epoch.load(Ordering::Acquire);
        match self.store.status(subject).await {
            Ok(Some(entry)) => {
                self.insert(subject, entry, epoch);
                (status_of(entry.0), entry.1)
            }
            // Unknown names are not cached: anyone can send tokens for any name only if they
            // hold the key, but the cache must not be filled with names that do not exist.
            Ok(None) => (AccountStatus::Unknown, 0),
            Err(_) => (AccountStatus::Unavailable, 0),
        }
    }
}

fn status_of(active: bool) -> AccountStatus {
    if active {
        AccountStatus::Active
    } else {
        AccountStatus::Disabled
    }
}

impl Accounts for AccountCache {
    fn cached(&self, subject: &str) -> Option<AccountStatus> {
        self.cached_since(subject).map(|(s, _)| s)
    }

    fn load<'a>(
        &'a self,
        subject: &'a str,
    ) -> Pin<Box<dyn Future<Output = AccountStatus> + Send + 'a>> {
        Box::pin(async move { self.lookup(subject).await.0 })
    }

    fn cached_since(&self, subject: &str) -> Option<(AccountStatus, u64)> {
        if self.is_stale() {
            return Some((AccountStatus::Unavailable, 0));
        }
        let (active, created) = *self.entries.read().ok()?.get(subject)?;
        Some((status_of(active), created))
    }

    fn load_since<'a>(
        &'a self,
        subject: &'a str,
    ) -> Pin<Box<dyn Future<Output = (AccountStatus, u64)> + Send + 'a>> {
        Box::pin(self.lookup(subject))
    }
}

/// A position in one of the store's feeds, and the gaps below it not seen yet: on
/// PostgreSQL an entry can commit after one with a higher position, so a gap may fill in later.
/// Each gap is looked for again on every poll until it shows up or [`HOLE_WAIT`] passes (a
/// rolled-back change never shows up).
#[derive(Debug, Default)]
struct Cursor {
    last: i64,
    holes: BTreeMap<i64, Instant>,
}

impl Cursor {
    fn at(last: i64) -> Self {
        Cursor {
            last,
            holes: BTreeMap::new(),
        }
    }

    /// The range of positions still missing, if any.
    fn hole_range(&self) -> Option<(i64, i64)> {
        Some((*self.holes.keys().next()?, *self.holes.keys().next_back()?))
    }

    /// Keeps the entries that fill gaps; forgets gaps older than [`HOLE_WAIT`].
    fn fill<T>(&mut self, found: Vec<(i64, T)>, now: Instant) -> Vec<T> {
        let kept = found
            .into_iter()
            .filter(|(seq, _)| self.holes.remove(seq).is_some())
            .map(|(_, t)| t)
            .collect();
        self.holes
            .retain(|_, since| now.duration_since(*since) < HOLE_WAIT);
        kept
    }

    /// Takes entries after the position, oldest first, noting the gaps they skip.
    fn advance<T>(&mut self, fresh: Vec<(i64, T)>, now: Instant) -> Vec<T> {
        let mut out = Vec::with_capacity(fresh.len());
        for (seq, t) in fresh {
            for missing in self.last.saturating_add(1)..seq {
                if self.holes.len() < MAX_HOLES {
                    self.holes.insert(missing, now);
                }
            }
            self.last = self.last.max(seq);
            out.push(t);
        }
        out
    }
}

/// What the follower keeps current besides the account cache: the revoked sessions.
#[derive(Debug, Clone)]
pub struct Revocations {
    /// The set protected requests are checked against.
    pub set: Arc<RevokedSessions>,
    /// Session limits, for the sweep.
    pub settings: SessionSettings,
}

/// Follows the store's feeds until the task is dropped: the account changes for `cache`, and
/// the session revocations for `revocations`. Polls every [`POLL`], or at once when woken. The
/// revocations of the last access-token lifetime are loaded first. Call inside a tokio runtime.
pub fn follow(
    cache: Arc<AccountCache>,
    revocations: Option<Revocations>,
) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(&cache);
    cache
        .store
        .on_change(move || weak.upgrade().map(|c| c.wake()).is_some());
    tokio::spawn(async move {
        let mut accounts = start_accounts(&cache).await;
        let mut revoked = match &revocations {
            Some(r) => start_revocations(&cache.store, &r.set).await,
            None => Cursor::at(0),
        };
        let mut failing = false;
        let mut last_prune = Instant::now();
        loop {
            let _ = tokio::time::timeout(POLL, cache.wake.notified()).await;
            let polled = poll_both(&cache, revocations.as_ref(), &mut accounts, &mut revoked).await;
            match polled {
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
            if last_prune.elapsed() >= PRUNE_EVERY {
                last_prune = Instant::now();
                prune(&cache.store, revocations.as_ref()).await;
            }
            if Arc::strong_count(&cache) == 1 {
                return; // nobody else holds the cache: the server is gone
            }
        }
    })
}

/// How often the follower prunes the feed and the failure counters, and sweeps sessions.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The account feed's starting position: its newest entry, with an empty cache.
async fn start_accounts(cache: &AccountCache) -> Cursor {
    match cache.store.last_change().await {
        Ok(seq) => {
            // Anything cached before this read may predate a change at or below `seq`, which
            // the polls will not see again: start from an empty cache.
            cache.clear();
            cache.mark_synced();
            Cursor::at(seq)
        }
        // Unknown: the first poll then reads the whole feed.
        Err(_) => Cursor::at(0),
    }
}

/// The revocation feed's starting position, with the revocations of the last access-token
/// lifetime loaded into `set`.
async fn start_revocations(store: &Store, set: &RevokedSessions) -> Cursor {
    let now = now();
    // The newest position first, then the recent entries: a revocation committed between the
    // two reads is above the position, so the polls see it (read the other way round, one
    // landing between them was skipped: a test that revoked right after start saw it missed
    // under load).
    let newest = store.last_revocation().await.unwrap_or(0);
    let Ok(recent) = store
        .revocations_since(now.saturating_sub(set.keep()))
        .await
    else {
        return Cursor::at(0);
    };
    // Gaps among them are followed like any other: start below the first.
    let mut cursor = Cursor::at(
        recent
            .first()
            .map_or(newest, |x| x.seq.saturating_sub(1))
            .min(newest),
    );
    let fresh = recent.into_iter().map(|x| (x.seq, x)).collect();
    for x in cursor.advance(fresh, Instant::now()) {
        set.insert(&x.sid, &x.account, x.at, now);
    }
    cursor
}

/// One poll of both feeds: `Ok(true)` when either may have more.
async fn poll_both(
    cache: &AccountCache,
    revocations: Option<&Revocations>,
    accounts: &mut Cursor,
    revoked: &mut Cursor,
) -> Result<bool, StoreError> {
    let more = poll(cache, accounts).await?;
    match revocations {
        Some(r) => Ok(poll_revocations(&cache.store, &r.set, revoked).await? || more),
        None => Ok(more),
    }
}

/// Drops old feed rows and failure counters, and sweeps expired sessions.
async fn prune(store: &Store, revocations: Option<&Revocations>) {
    let window = crate::throttle::ThrottleLimits::IP.window.as_millis();
    let _ = store.prune_changes(now().saturating_sub(3600)).await;
    let _ = store
        .prune_failures(i64::try_from(window).unwrap_or(i64::MAX))
        .await;
    if let Some(r) = revocations {
        crate::revoked::sweep(store, &r.settings, &r.set).await;
    }
}

/// Reads the changes after the cursor and any gaps below it; drops the accounts they name from
/// the cache. `Ok(true)` when a full batch came back (there may be more).
async fn poll(cache: &AccountCache, cursor: &mut Cursor) -> Result<bool, StoreError> {
    let now = Instant::now();
    let mut names: Vec<String> = Vec::new();
    if let Some((lo, hi)) = cursor.hole_range() {
        let found = cache.store.changes_between(lo, hi).await?;
        names.extend(cursor.fill(found.into_iter().map(|c| (c.seq, c.name)).collect(), now));
    }
    let fresh = cache.store.changes(cursor.last, BATCH).await?;
    let full = fresh.len() == BATCH as usize;
    names.extend(cursor.advance(fresh.into_iter().map(|c| (c.seq, c.name)).collect(), now));
    if !names.is_empty() {
        cache.invalidate(names.iter().map(String::as_str));
    }
    Ok(full)
}

/// Reads the revocations after the cursor and any gaps below it into `set`.
async fn poll_revocations(
    store: &Store,
    set: &RevokedSessions,
    cursor: &mut Cursor,
) -> Result<bool, StoreError> {
    let now = Instant::now();
    let secs = crate::clock::now();
    let mut got = Vec::new();
    if let Some((lo, hi)) = cursor.hole_range() {
        let found = store.revocations_between(lo, hi).await?;
        got.extend(cursor.fill(found.into_iter().map(|r| (r.seq, r)).collect(), now));
    }
    let fresh = store.revocations(cursor.last, BATCH).await?;
    let full = fresh.len() == BATCH as usize;
    got.extend(cursor.advance(fresh.into_iter().map(|r| (r.seq, r)).collect(), now));
    for r in got {
        set.insert(&r.sid, &r.account, r.at, secs);
    }
    Ok(full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{PoolLimits, StoreUrl};

    async fn empty_cache(capacity: usize) -> (tempfile::TempDir, AccountCache) {
        let dir = tempfile::tempdir().unwrap();
        let url = StoreUrl::Sqlite(dir.path().join("store.db"));
        let store = Store::open(&url, PoolLimits::default()).await.unwrap();
        let cache = AccountCache::new(store, capacity, Duration::from_secs(30));
        cache.mark_synced();
        (dir, cache)
    }

    fn cached_names(cache: &AccountCache) -> Vec<String> {
        let mut names: Vec<_> = cache.entries.read().unwrap().keys().cloned().collect();
        names.sort();
        names
    }

    /// The cache's bound: at `capacity` entries, a new name evicts one; a name already cached
    /// is updated in place and evicts nothing.
    #[tokio::test]
    async fn holds_at_most_capacity_accounts() {
        let (_dir, cache) = empty_cache(2).await;
        let epoch = cache.epoch.load(Ordering::Acquire);
        cache.insert("alice", (true, 1), epoch);
        cache.insert("bob", (true, 2), epoch);
        cache.insert("bob", (false, 2), epoch);
        assert_eq!(cached_names(&cache), ["alice", "bob"]);
        assert_eq!(cache.cached("bob"), Some(AccountStatus::Disabled));
        for (i, name) in ["carol", "dave", "erin", "frank"].into_iter().enumerate() {
            cache.insert(name, (true, 3), epoch);
            let names = cached_names(&cache);
            assert_eq!(names.len(), 2, "after {i}: {names:?}");
            assert!(names.iter().any(|n| n == name), "{name} was not kept");
        }
    }

    /// A read that began before an invalidation is not cached: the change it raced would be
    /// cached over. A name the store does not know is never cached.
    #[tokio::test]
    async fn a_read_older_than_an_invalidation_is_not_cached() {
        let (_dir, cache) = empty_cache(8).await;
        let before = cache.epoch.load(Ordering::Acquire);
        cache.invalidate(["alice"]);
        cache.insert("alice", (true, 1), before);
        assert_eq!(cache.cached("alice"), None);
        let before = cache.epoch.load(Ordering::Acquire);
        cache.clear();
        cache.insert("alice", (true, 1), before);
        assert_eq!(cache.cached("alice"), None);
        let now = cache.epoch.load(Ordering::Acquire);
        cache.insert("alice", (true, 1), now);
        assert_eq!(cache.cached("alice"), Some(AccountStatus::Active));

        assert_eq!(cache.load("mallory").await, AccountStatus::Unknown);
        assert_eq!(cache.cached("mallory"), None);
        assert_eq!(cached_names(&cache), ["alice"]);
    }
}
