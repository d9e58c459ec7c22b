//! The in-memory set of revoked session ids that
//! every protected request is checked against, and the sweeper.
//!
//! A revocation is a row in the store's revocation feed, which every instance follows (with
//! the account feed, in [`crate::account_cache::follow`]: a `NOTIFY` on PostgreSQL, a 250 ms poll
//! otherwise). The set keeps an id only while that session's access tokens can still be
//! unexpired: the token lifetime plus the clock leeway after the revocation.
//!
//! **Memory is bounded, and overflow fails closed for one account, not for everyone** (round
//! 3 item 4: one account logging in past its session cap filled the set, and the global floor
//! that overflow raised logged every user out on every instance). Ids are 16 bytes, ordered by
//! revocation time for pruning. When the set is full, the account holding the most ids gives
//! them up for a per-account *not-before*: that account's session tokens issued at or before
//! its latest dropped revocation are refused; other accounts are untouched. Only if no account
//! holds more than one id (or the not-before table is full too) is the oldest id dropped for a
//! global floor, and tokens issued before that floor are then checked against the store, one
//! query each, instead of being refused.

use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasher as _;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::settings::SessionSettings;
use crate::store::Store;

/// A session id as the set keeps it: its 16 bytes (a SHA-256 prefix for text that is not one
/// of this server's ids).
type Sid = [u8; 16];

fn sid_key(sid: &str) -> Sid {
    use base64::Engine as _;
    let mut out = [0u8; 16];
    if sid.len() == 22
        && let Ok(16) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode_slice(sid, &mut out)
    {
        return out;
    }
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(sid.as_bytes());
    out.copy_from_slice(&d[..16]);
    out
}

#[derive(Debug, Default)]
struct Held {
    /// Id → (revocation time, account key).
    ids: HashMap<Sid, (u64, u64)>,
    /// (revocation time, id), oldest first: pruning pops from the front.
    by_time: BTreeSet<(u64, Sid)>,
    /// Account key → ids held.
    per_account: HashMap<u64, u32>,
    /// (ids held, account key): the account holding the most is the last.
    by_count: BTreeSet<(u32, u64)>,
    /// (account key, id): an account's ids, for giving them up at once.
    by_account: BTreeSet<(u64, Sid)>,
    /// Account key → not-before: its session tokens issued at or before are refused.
    floors: HashMap<u64, u64>,
}

impl Held {
    fn count(&mut self, account: u64, delta: i64) {
        let old = self.per_account.get(&account).copied().unwrap_or(0);
        self.by_count.remove(&(old, account));
        let new = u32::try_from(i64::from(old) + delta).unwrap_or(0);
        if new == 0 {
            self.per_account.remove(&account);
        } else {
            self.per_account.insert(account, new);
            self.by_count.insert((new, account));
        }
    }

    fn remove(&mut self, sid: &Sid) -> Option<(u64, u64)> {
        let (at, account) = self.ids.remove(sid)?;
        self.by_time.remove(&(at, *sid));
        self.by_account.remove(&(account, *sid));
        self.count(account, -1);
        Some((at, account))
    }

    fn add(&mut self, sid: Sid, at: u64, account: u64) {
        self.ids.insert(sid, (at, account));
        self.by_time.insert((at, sid));
        self.by_account.insert((account, sid));
        self.count(account, 1);
    }

    /// Drops every id of `account`; returns the latest revocation time among them.
    fn drop_account(&mut self, account: u64) -> u64 {
        let sids: Vec<Sid> = self
            .by_account
            .range((account, [0u8; 16])..=(account, [0xff; 16]))
            .map(|(_, sid)| *sid)
            .collect();
        let mut latest = 0;
        for sid in sids {
            if let Some((at, _)) = self.remove(&sid) {
                latest = latest.max(at);
            }
        }
        latest
    }
}

/// What the set says of a session token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not revoked, as far as the set can tell.
    Live,
    /// Refused.
    Revoked,
    /// Issued before the global floor: only the store can tell.
    AskStore,
}

/// The revoked session ids whose access tokens may still be unexpired. See the module docs.
#[derive(Debug)]
pub struct RevokedSessions {
    held: RwLock<Held>,
    /// How long after its revocation an id is kept: the access-token lifetime plus leeway.
    keep: u64,
    capacity: usize,
    /// Most accounts with a not-before at once.
    floor_capacity: usize,
    /// Session tokens issued at or before this are checked against the store (0: none).
    floor: AtomicU64,
    /// Keys accounts by name without keeping names.
    hasher: std::collections::hash_map::RandomState,
    /// When overflow was last logged (Unix seconds): once a minute at most.
    warned: AtomicU64,
    /// For tokens issued before the global floor.
    store: Option<Store>,
}

impl RevokedSessions {
    /// A set that keeps each id `keep` seconds after its revocation, and at most `capacity`.
    pub fn new(keep: u64, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        RevokedSessions {
            held: RwLock::new(Held::default()),
            keep,
            capacity,
            floor_capacity: (capacity / 4).max(1),
            floor: AtomicU64::new(0),
            hasher: std::collections::hash_map::RandomState::new(),
            warned: AtomicU64::new(0),
            store: None,
        }
    }

    /// Checks tokens issued before the global floor against `store` instead of refusing them.
    #[must_use]
    pub fn with_store(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
    }

    fn account_key(&self, account: &str) -> u64 {
        self.hasher.hash_one(account)
    }

    fn warn(&self, now: u64, what: &str) {
        let last = self.warned.load(Ordering::Relaxed);
        if now >= last.saturating_add(60)
            && self
                .warned
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(capacity = self.capacity, "revoked-session set full: {what}");
        }
    }

    /// Records that `sid`, a session of `account`, was revoked at `at`.
    pub fn insert(&self, sid: &str, account: &str, at: u64, now: u64) {
        if at.saturating_add(self.keep) < now {
            return; // every token of it has expired
        }
        let key = sid_key(sid);
        let account = self.account_key(account);
        let Ok(mut h) = self.held.write() else {
            return;
        };
        if let Some((old, _)) = h.remove(&key) {
            h.add(key, old.max(at), account);
            return;
        }
        if h.ids.len() >= self.capacity {
            self.prune_held(&mut h, now);
        }
        if h.ids.len() >= self.capacity {
            self.make_room(&mut h, now);
        }
        // An account whose ids were given up for a not-before: this one is covered by it if
        // it is no later.
        if h.floors.get(&account).is_some_and(|f| *f >= at) {
            return;
        }
        h.add(key, at, account);
    }

    fn make_room(&self, h: &mut Held, now: u64) {
        let biggest = h.by_count.last().copied();
        match biggest {
            Some((n, account))
                if n > 1
                    && (h.floors.len() < self.floor_capacity
                        || h.floors.contains_key(&account)) =>
            {
                let latest = h.drop_account(account);
                let f = h.floors.entry(account).or_insert(0);
                *f = (*f).max(latest);
                self.warn(
                    now,
                    "the account holding the most revoked ids gave them up for a not-before: \
                     its session tokens issued before its latest revocation are refused",
                );
            }
            _ => {
                if let Some(&(at, sid)) = h.by_time.first() {
                    h.remove(&sid);
                    self.floor.fetch_max(at, Ordering::AcqRel);
                    self.warn(
                        now,
                        "tokens issued before the oldest dropped revocation are checked against \
                         the store",
                    );
                }
            }
        }
    }

    /// What the set says of a token of session `sid` of `account`, issued at `issued_at`.
    pub fn verdict(&self, sid: &str, account: &str, issued_at: Option<u64>) -> Verdict {
        let Ok(h) = self.held.read() else {
            return Verdict::Revoked;
        };
        if h.ids.contains_key(&sid_key(sid)) {
            return Verdict::Revoked;
        }
        if !h.floors.is_empty()
            && let Some(f) = h.floors.get(&self.account_key(account))
            && issued_at.is_none_or(|i| i <= *f)
        {
            return Verdict::Revoked;
        }
        let floor = self.floor.load(Ordering::Acquire);
        if floor > 0 && issued_at.is_none_or(|i| i <= floor) {
            return Verdict::AskStore;
        }
        Verdict::Live
    }

    /// Whether a token of session `sid` of `account`, issued at `issued_at`, must be refused:
    /// [`RevokedSessions::verdict`], with the store asked when the set cannot tell.
    pub async fn is_revoked(&self, sid: &str, account: &str, issued_at: Option<u64>) -> bool {
        match self.verdict(sid, account, issued_at) {
            Verdict::Live => false,
            Verdict::Revoked => true,
            Verdict::AskStore => self.ask_store(sid).await,
        }
    }

    /// For a [`Verdict::AskStore`]: whether the store says session `sid` is not live (refused
    /// too when there is no store or it cannot answer).
    pub async fn ask_store(&self, sid: &str) -> bool {
        match &self.store {
            Some(store) => !matches!(store.session_live(sid).await, Ok(Some(true))),
            None => true,
        }
    }

    fn prune_held(&self, h: &mut Held, now: u64) {
        while let Some(&(at, sid)) = h.by_time.first() {
            if at.saturating_add(self.keep) >= now {
                break;
            }
            h.remove(&sid);
        }
        let keep = self.keep;
        h.floors.retain(|_, f| f.saturating_add(keep) >= now);
    }

    /// Forgets ids whose tokens have all expired.
    pub fn prune(&self, now: u64) {
        if let Ok(mut h) = self.held.write() {
            self.prune_held(&mut h, now);
        }
        if self.floor.load(Ordering::Acquire).saturating_add(self.keep) < now {
            self.floor.store(0, Ordering::Release);
        }
    }

    /// How many ids are held.
    pub fn len(&self) -> usize {
        self.held.read().map_or(0, |h| h.ids.len())
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Accounts with a not-before now.
    pub fn accounts_with_floor(&self) -> usize {
        self.held.read().map_or(0, |h| h.floors.len())
    }

    /// How long ids are kept, in seconds.
    pub fn keep(&self) -> u64 {
        self.keep
    }
}

/// Deletes expired, idle and long-revoked sessions, and forgets revoked ids whose tokens have
/// expired. The account follower calls it every minute ([`crate::account_cache::follow`]); every
/// instance sweeps, and the deletes are idempotent.
pub(crate) async fn sweep(store: &Store, settings: &SessionSettings, revoked: &RevokedSessions) {
    let now = crate::clock::now();
    revoked.prune(now);
    let l = settings.limits;
    if let Ok(n) = store
        .sweep_sessions(
            now.saturating_sub(l.lifetime),
            now.saturating_sub(l.idle),
            now.saturating_sub(revoked.keep()),
        )
        .await
        && n > 0
    {
        tracing::info!(sessions = n, "expired sessions swept");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "AAAAAAAAAAAAAAAAAAAAAA";

    fn sid(n: u32) -> String {
        use base64::Engine as _;
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&n.to_be_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    }

    #[test]
    fn ids_are_kept_one_token_lifetime_then_forgotten() {
        let set = RevokedSessions::new(100, 10);
        set.insert(A, "alice", 1_000, 1_000);
        assert_eq!(set.verdict(A, "alice", Some(990)), Verdict::Revoked);
        assert_eq!(set.verdict(&sid(2), "alice", Some(990)), Verdict::Live);
        // Already past its keep time when it arrives: nothing of it can still be valid.
        set.insert(&sid(3), "alice", 800, 1_000);
        assert_eq!(set.verdict(&sid(3), "alice", Some(700)), Verdict::Live);
        set.prune(1_100);
        assert_eq!(
            set.verdict(A, "alice", Some(990)),
            Verdict::Revoked,
            "kept up to revocation + keep"
        );
        set.prune(1_101);
        assert!(set.is_empty());
        // Text that is not one of this server's ids still works (hashed).
        set.insert("not-an-id", "bob", 1_200, 1_200);
        assert_eq!(
            set.verdict("not-an-id", "bob", Some(1_100)),
            Verdict::Revoked
        );
    }

    #[test]
    fn overflow_fails_closed_for_the_account_holding_the_most_only() {
        let set = RevokedSessions::new(1_000, 4);
        // mallory's logins past the session cap revoke her own sessions, one after another.
        set.insert(&sid(1), "mallory", 1_000, 1_000);
        set.insert(&sid(2), "mallory", 1_001, 1_001);
        set.insert(&sid(3), "mallory", 1_002, 1_002);
        set.insert(&sid(10), "victim", 1_002, 1_002);
        // Full: mallory (three ids) gives hers up for a not-before at 1,002.
        set.insert(&sid(4), "mallory", 1_003, 1_003);
        assert_eq!(set.accounts_with_floor(), 1);
        assert_eq!(
            set.verdict(&sid(1), "mallory", Some(999)),
            Verdict::Revoked,
            "still refused"
        );
        assert_eq!(
            set.verdict(&sid(77), "mallory", Some(1_002)),
            Verdict::Revoked,
            "her older tokens"
        );
        assert_eq!(
            set.verdict(&sid(77), "mallory", Some(1_003)),
            Verdict::Live,
            "newer are not"
        );
        assert_eq!(
            set.verdict(&sid(4), "mallory", Some(1_003)),
            Verdict::Revoked
        );
        // The victim's never-revoked session is untouched (it went 200 -> 401 before).
        assert_eq!(set.verdict(&sid(11), "victim", Some(900)), Verdict::Live);
        assert_eq!(set.verdict(&sid(10), "victim", Some(900)), Verdict::Revoked);
        set.prune(2_100);
        assert_eq!(
            set.accounts_with_floor(),
            0,
            "the not-before expires with its tokens"
        );
    }

    #[test]
    fn overflow_across_distinct_accounts_asks_the_store_instead_of_refusing() {
        let set = RevokedSessions::new(1_000, 2);
        set.insert(&sid(1), "a", 1_000, 1_000);
        set.insert(&sid(2), "b", 1_010, 1_010);
        // No account holds more than one: the oldest goes, and its time is a floor that sends
        // older tokens to the store.
        set.insert(&sid(3), "c", 1_020, 1_020);
        assert_eq!(set.len(), 2);
        assert_eq!(set.verdict(&sid(9), "z", Some(1_000)), Verdict::AskStore);
        assert_eq!(set.verdict(&sid(9), "z", Some(1_001)), Verdict::Live);
        assert_eq!(set.verdict(&sid(3), "c", Some(1_015)), Verdict::Revoked);
        set.prune(2_001);
        assert_eq!(set.verdict(&sid(9), "z", Some(1_000)), Verdict::Live);
    }

    #[test]
    fn a_million_inserts_stay_fast_and_bounded() {
        // The scans are gone: each insert at capacity is O(log n).
        let set = RevokedSessions::new(10_000_000, 1_000);
        for i in 0..200_000u32 {
            set.insert(
                &sid(i),
                if i % 2 == 0 { "mallory" } else { "eve" },
                1_000 + u64::from(i),
                1_000 + u64::from(i),
            );
        }
        assert!(set.len() <= 1_000);
        assert!(set.accounts_with_floor() <= 2);
    }
}
